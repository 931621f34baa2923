package main

import (
	"log/slog"
	"path/filepath"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/metrics"
	"github.com/vaultaire/vaultaire/s3"
)

// openAudit builds the audit log: always a rotated JSON-lines file (by
// default in the data dir), plus a webhook when configured. Dropped events
// are counted in vaultaire_audit_events_dropped_total.
func openAudit(f serverFlags, reg *metrics.Metrics, log *slog.Logger) (*audit.Logger, error) {
	path := f.auditFile
	if path == "" {
		path = filepath.Join(f.data, "audit.log")
	}
	file, err := audit.NewFile(audit.FileConfig{Path: path, OnDrop: reg.AuditDropped, Logger: log})
	if err != nil {
		return nil, err
	}
	sinks := []audit.Sink{file}
	if f.auditHook != "" {
		hook, err := audit.NewWebhook(audit.WebhookConfig{URL: f.auditHook, Token: f.auditToken, OnDrop: reg.AuditDropped, Logger: log})
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, hook)
	}
	return audit.New(sinks...), nil
}

// auditSink turns every S3 request event into an audit event.
func auditSink(l *audit.Logger, nodeID string) func(s3.RequestEvent) {
	return func(ev s3.RequestEvent) {
		l.Emit(audit.Event{
			Time: ev.Time, RequestID: ev.RequestID, Node: nodeID,
			Tenant: ev.Tenant, User: ev.User, AccessKeyID: ev.AccessKeyID,
			Operation: ev.Operation.String(), Container: ev.Container, Key: ev.Key,
			Status: ev.Status, ErrorCode: ev.ErrorCode, BytesIn: ev.BytesIn, BytesOut: ev.BytesOut,
			Duration: ev.Duration, RemoteAddr: ev.RemoteAddr, UserAgent: ev.UserAgent,
			Requester: ev.Requester,
		})
	}
}
