{{/* Names. */}}
{{- define "vaultaire.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vaultaire.headless" -}}
{{- printf "%s-headless" (include "vaultaire.fullname" .) -}}
{{- end -}}

{{- define "vaultaire.secretName" -}}
{{- default (include "vaultaire.fullname" .) .Values.secret.existingSecret -}}
{{- end -}}

{{- define "vaultaire.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vaultaire.labels" -}}
{{ include "vaultaire.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* pod 0's stable DNS name on the headless Service: the join address. */}}
{{- define "vaultaire.pod0" -}}
{{- printf "%s-0.%s.%s.svc.cluster.local" (include "vaultaire.fullname" .) (include "vaultaire.headless" .) .Release.Namespace -}}
{{- end -}}

{{- define "vaultaire.adminScheme" -}}
{{- if .Values.admin.tls.secretName }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}
