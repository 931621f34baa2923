package vaultaire_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const helmChart = "deploy/helm/vaultaire"

// helmBin finds helm on PATH or in GOPATH/bin, where .ci/run installs it
// (go install helm.sh/helm/v3/cmd/helm@v3.21.4). Without it the test fails,
// as the remote-driver tests do without versitygw: the chart must not go
// unchecked.
func helmBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.Split(strings.TrimSpace(string(out)), string(os.PathListSeparator))[0], "bin", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("helm not found: install it with `go install helm.sh/helm/v3/cmd/helm@v3.21.4` (.ci/run does)")
	return ""
}

// k8sObject is one rendered manifest, decoded loosely.
type k8sObject = map[string]any

func kindOf(o k8sObject) string { s, _ := o["kind"].(string); return s }
func nameOf(o k8sObject) string { s, _ := dig(o, "metadata", "name").(string); return s }

// dig walks maps by key and lists by int index; nil when absent.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func digString(v any, path ...any) string {
	switch x := dig(v, path...).(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func digList(v any, path ...any) []any { l, _ := dig(v, path...).([]any); return l }

// helmTemplate renders the chart as release "rel" in namespace "storage".
func helmTemplate(t *testing.T, helm string, args ...string) []k8sObject {
	t.Helper()
	cmd := exec.Command(helm, append([]string{"template", "rel", helmChart, "--namespace", "storage"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr.String())
	}
	var objs []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, out)
		}
		if o == nil {
			continue
		}
		if o["apiVersion"] == nil || kindOf(o) == "" || nameOf(o) == "" {
			t.Errorf("rendered object without apiVersion, kind or name: %v", o)
		}
		objs = append(objs, o)
	}
	return objs
}

func findObject(t *testing.T, objs []k8sObject, kind, name string) k8sObject {
	t.Helper()
	for _, o := range objs {
		if kindOf(o) == kind && (name == "" || nameOf(o) == name) {
			return o
		}
	}
	t.Fatalf("no %s %q rendered", kind, name)
	return nil
}

// containerEnv returns a container's env: plain values, and the secret
// references (Secret/key) of valueFrom.secretKeyRef ones.
func containerEnv(c any) (values map[string]string, secretRefs map[string]string) {
	values, secretRefs = map[string]string{}, map[string]string{}
	for _, e := range digList(c, "env") {
		name := digString(e, "name")
		if ref := dig(e, "valueFrom", "secretKeyRef"); ref != nil {
			secretRefs[name] = digString(ref, "name") + "/" + digString(ref, "key")
		}
		if v := dig(e, "value"); v != nil {
			values[name] = digString(e, "value")
		}
	}
	return values, secretRefs
}

func portOf(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("address %q: %v %v", hostport, err, err2)
	}
	return n
}

// TestHelmChart lints the chart and checks the rendered manifests where
// they meet the server: every setting is a flag of the binary the image
// builds, probes hit the admin listener's health paths, one claim per
// drive feeds --drive, pod 0's DNS name is the join address, secrets are
// referenced, and the pod outlives its drain.
func TestHelmChart(t *testing.T) {
	helm := helmBin(t)
	if out, err := exec.Command(helm, "lint", "--strict", helmChart).CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	flags := serverFlags(t, dockerfileBuild(t))

	for _, tc := range []struct {
		name     string
		args     []string
		drives   []string
		replicas int
		tls      bool
		tiers    int
	}{
		{"defaults", nil, []string{"disk1", "disk2", "disk3", "disk4"}, 3, false, 0},
		{"two drives, five nodes, admin TLS, a tier", []string{
			"--set", "replicas=5", "--set", "drives[0].name=a,drives[0].size=1Ti,drives[1].name=b,drives[1].size=1Ti",
			"--set", "admin.tls.secretName=vaultaire-admin-tls", "--set", "erasure=6+4",
			"--set", "tiers[0].name=cold,tiers[0].endpoint=https://s3.example.com,tiers[0].bucket=cold,tiers[0].accessKey=AK,tiers[0].secretKeyRef.name=cold,tiers[0].secretKeyRef.key=sk",
			"--set", "secret.existingSecret=my-secrets",
		}, []string{"a", "b"}, 5, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := helmTemplate(t, helm, tc.args...)
			sts := findObject(t, objs, "StatefulSet", "")
			stsName := nameOf(sts)
			if n, _ := dig(sts, "spec", "replicas").(int); n != tc.replicas {
				t.Errorf("replicas %v, want %d", dig(sts, "spec", "replicas"), tc.replicas)
			}
			if digString(sts, "spec", "podManagementPolicy") != "Parallel" {
				t.Error("podManagementPolicy is not Parallel: after a full restart pod 0 waits for a quorum that an ordered start never brings up")
			}
			headless := findObject(t, objs, "Service", digString(sts, "spec", "serviceName"))
			if digString(headless, "spec", "clusterIP") != "None" || dig(headless, "spec", "publishNotReadyAddresses") != true {
				t.Errorf("headless Service %s: clusterIP %q, publishNotReadyAddresses %v", nameOf(headless), digString(headless, "spec", "clusterIP"), dig(headless, "spec", "publishNotReadyAddresses"))
			}
			podLabels, _ := dig(sts, "spec", "template", "metadata", "labels").(map[string]any)
			matches := func(sel any) bool {
				m, ok := sel.(map[string]any)
				if !ok || len(m) == 0 {
					return false
				}
				for k, v := range m {
					if podLabels[k] != v {
						return false
					}
				}
				return true
			}
			if !matches(dig(sts, "spec", "selector", "matchLabels")) || !matches(dig(headless, "spec", "selector")) {
				t.Error("StatefulSet or headless Service selector does not match the pod labels")
			}

			pod := dig(sts, "spec", "template", "spec")
			c := dig(pod, "containers", 0)
			env, refs := containerEnv(c)
			for name := range env {
				if strings.HasPrefix(name, "VAULTAIRE_") {
					checkEnvIsFlag(t, "StatefulSet env", name, flags)
				}
			}

			// Secrets: referenced from a Secret, never inlined.
			secretName := "my-secrets"
			if tc.name == "defaults" {
				secretName = stsName
				sec := findObject(t, objs, "Secret", secretName)
				for _, k := range []string{"cluster-secret", "root-access-key", "root-secret-key", "admin-token"} {
					if digString(sec, "data", k) == "" {
						t.Errorf("Secret lacks %s", k)
					}
				}
			}
			for name, key := range map[string]string{
				"VAULTAIRE_CLUSTER_SECRET": "cluster-secret", "VAULTAIRE_ROOT_ACCESS_KEY": "root-access-key",
				"VAULTAIRE_ROOT_SECRET_KEY": "root-secret-key", "VAULTAIRE_ADMIN_TOKEN": "admin-token",
			} {
				if _, inlined := env[name]; inlined || refs[name] != secretName+"/"+key {
					t.Errorf("%s: inlined %v, secret reference %q, want %s/%s", name, inlined, refs[name], secretName, key)
				}
			}

			// Drives: one claim template per drive, mounted where --drive
			// points; the data claim where --data points.
			var claims []string
			for _, v := range digList(sts, "spec", "volumeClaimTemplates") {
				claims = append(claims, digString(v, "metadata", "name"))
			}
			if want := append([]string{"data"}, tc.drives...); !slices.Equal(claims, want) {
				t.Errorf("volumeClaimTemplates %v, want %v", claims, want)
			}
			mounts := map[string]string{}
			for _, m := range digList(c, "volumeMounts") {
				mounts[digString(m, "name")] = digString(m, "mountPath")
			}
			var drivePaths []string
			for _, d := range tc.drives {
				drivePaths = append(drivePaths, mounts[d])
			}
			if got := strings.Split(env["VAULTAIRE_DRIVE"], ","); !slices.Equal(got, drivePaths) || slices.Contains(got, "") {
				t.Errorf("VAULTAIRE_DRIVE %q, want the drive claims' mounts %v", env["VAULTAIRE_DRIVE"], drivePaths)
			}
			if env["VAULTAIRE_DATA"] == "" || env["VAULTAIRE_DATA"] != mounts["data"] {
				t.Errorf("VAULTAIRE_DATA %q, data claim mounted at %q", env["VAULTAIRE_DATA"], mounts["data"])
			}

			// Ports: the container's named ports are the listeners'.
			ports := map[string]int{}
			for _, p := range digList(c, "ports") {
				n, _ := dig(p, "containerPort").(int)
				ports[digString(p, "name")] = n
			}
			for name, e := range map[string]string{"s3": "VAULTAIRE_ADDRESS", "admin": "VAULTAIRE_ADMIN_ADDRESS", "rpc": "VAULTAIRE_RPC_ADDRESS", "gossip": "VAULTAIRE_GOSSIP_ADDRESS", "gossip-udp": "VAULTAIRE_GOSSIP_ADDRESS", "console": "VAULTAIRE_CONSOLE_ADDRESS"} {
				if ports[name] == 0 || ports[name] != portOf(t, env[e]) {
					t.Errorf("container port %s = %d, %s = %s", name, ports[name], e, env[e])
				}
			}

			// Probes: the admin listener's health paths, over its scheme.
			scheme := "HTTP"
			if tc.tls {
				scheme = "HTTPS"
				if _, ok := env["VAULTAIRE_ADMIN_INSECURE"]; ok || env["VAULTAIRE_ADMIN_TLS_CERT"] == "" {
					t.Error("admin TLS: want VAULTAIRE_ADMIN_TLS_CERT and no VAULTAIRE_ADMIN_INSECURE")
				}
			} else if env["VAULTAIRE_ADMIN_INSECURE"] != "true" {
				t.Error("admin on 0.0.0.0 without TLS needs VAULTAIRE_ADMIN_INSECURE=true, or the server refuses to start")
			}
			for probe, path := range map[string]string{"readinessProbe": "/health/ready", "livenessProbe": "/health/live", "startupProbe": "/health/live"} {
				get := dig(c, probe, "httpGet")
				if digString(get, "path") != path || digString(get, "port") != "admin" || digString(get, "scheme") != scheme {
					t.Errorf("%s %v, want %s on the admin port over %s", probe, get, path, scheme)
				}
			}

			// Join: every pod but 0 joins pod 0's stable DNS name on the
			// gossip port; run the start script to see it.
			pod0 := fmt.Sprintf("%s-0.%s.storage.svc.cluster.local", stsName, nameOf(headless))
			if want := fmt.Sprintf("%s:%d", pod0, portOf(t, env["VAULTAIRE_GOSSIP_ADDRESS"])); env["JOIN_POD0"] != want {
				t.Errorf("JOIN_POD0 %q, want pod 0's DNS name %q", env["JOIN_POD0"], want)
			}
			if want := fmt.Sprintf("$(POD_NAME).%s.storage.svc.cluster.local:%d", nameOf(headless), portOf(t, env["VAULTAIRE_RPC_ADDRESS"])); env["VAULTAIRE_RPC_ADVERTISE"] != want {
				t.Errorf("VAULTAIRE_RPC_ADVERTISE %q, want %q", env["VAULTAIRE_RPC_ADVERTISE"], want)
			}
			cmdline := digList(c, "command")
			if len(cmdline) != 3 || cmdline[0] != "/bin/sh" || cmdline[1] != "-c" {
				t.Fatalf("command %v, want /bin/sh -c SCRIPT", cmdline)
			}
			script, _ := cmdline[2].(string)
			if !strings.Contains(script, "exec /usr/local/bin/vaultaire server") {
				t.Fatalf("start script does not exec the server:\n%s", script)
			}
			for ord, want := range map[int]string{0: "", 1: env["JOIN_POD0"], 4: env["JOIN_POD0"]} {
				sh := exec.Command("/bin/sh", "-c", strings.Replace(script, "exec /usr/local/bin/vaultaire server", `echo "join=${VAULTAIRE_JOIN:-}"`, 1))
				sh.Env = []string{fmt.Sprintf("POD_NAME=%s-%d", stsName, ord), "JOIN_POD0=" + env["JOIN_POD0"], "PATH=/usr/bin:/bin"}
				out, err := sh.CombinedOutput()
				if err != nil || strings.TrimSpace(string(out)) != "join="+want {
					t.Errorf("start script as pod %d: %v, %q, want join=%s", ord, err, out, want)
				}
			}

			// Non-root, no privilege escalation.
			if dig(pod, "securityContext", "runAsNonRoot") != true || dig(c, "securityContext", "runAsNonRoot") != true {
				t.Error("runAsNonRoot not set on the pod and container")
			}
			if uid, _ := dig(pod, "securityContext", "runAsUser").(int); uid == 0 {
				t.Error("runAsUser is 0 or unset")
			}
			if dig(c, "securityContext", "allowPrivilegeEscalation") != false || dig(c, "securityContext", "readOnlyRootFilesystem") != true {
				t.Error("container may escalate privileges or write its root file system")
			}

			// Stop: preStop sleep + drain, within the grace period.
			grace, _ := dig(pod, "terminationGracePeriodSeconds").(int)
			drain, err := time.ParseDuration(env["VAULTAIRE_SHUTDOWN_TIMEOUT"])
			if err != nil {
				t.Fatalf("VAULTAIRE_SHUTDOWN_TIMEOUT %q: %v", env["VAULTAIRE_SHUTDOWN_TIMEOUT"], err)
			}
			pre := digList(c, "lifecycle", "preStop", "exec", "command")
			var sleep int
			if len(pre) == 3 {
				fmt.Sscanf(fmt.Sprint(pre[2]), "sleep %d", &sleep)
			}
			if sleep <= 0 {
				t.Errorf("preStop %v, want a sleep while the pod leaves the Service", pre)
			}
			if time.Duration(grace)*time.Second <= time.Duration(sleep)*time.Second+drain {
				t.Errorf("terminationGracePeriodSeconds %d does not outlast preStop %ds + --shutdown-timeout %v", grace, sleep, drain)
			}

			// One node down at a time.
			pdb := findObject(t, objs, "PodDisruptionBudget", "")
			if digString(pdb, "spec", "maxUnavailable") != "1" || !matches(dig(pdb, "spec", "selector", "matchLabels")) {
				t.Errorf("PodDisruptionBudget spec %v", dig(pdb, "spec"))
			}
			// Clients reach S3 through the client Service.
			client := findObject(t, objs, "Service", stsName)
			if !matches(dig(client, "spec", "selector")) || digString(client, "spec", "ports", 0, "targetPort") != "s3" {
				t.Errorf("client Service spec %v", dig(client, "spec"))
			}

			var jobs []k8sObject
			for _, o := range objs {
				if kindOf(o) == "Job" {
					jobs = append(jobs, o)
				}
			}
			if len(jobs) != min(tc.tiers, 1) {
				t.Fatalf("%d Jobs rendered, want %d", len(jobs), min(tc.tiers, 1))
			}
			if tc.tiers > 0 {
				jc := dig(jobs[0], "spec", "template", "spec", "containers", 0)
				jenv, jrefs := containerEnv(jc)
				if jrefs["TIER_SECRET_0"] != "cold/sk" || jrefs["VAULTAIRE_ADMIN_TOKEN"] != secretName+"/admin-token" {
					t.Errorf("tier Job secrets %v", jrefs)
				}
				if jenv["VAULTAIRE_ADMIN_ENDPOINT"] != "https://"+pod0+":"+strconv.Itoa(ports["admin"]) {
					t.Errorf("tier Job admin endpoint %q", jenv["VAULTAIRE_ADMIN_ENDPOINT"])
				}
				js := fmt.Sprint(digList(jc, "command"))
				if !strings.Contains(js, `tier add "cold" --endpoint "https://s3.example.com" --bucket "cold" --access-key "AK" --secret-key -`) {
					t.Errorf("tier Job script: %s", js)
				}
			}
		})
	}

	// Values the chart refuses.
	for _, bad := range [][]string{{"--set", "replicas=0"}, {"--set", "drives=null"}} {
		if out, err := exec.Command(helm, append([]string{"template", "rel", helmChart}, bad...)...).CombinedOutput(); err == nil {
			t.Errorf("helm template %v succeeded:\n%.300s", bad, out)
		}
	}
}
