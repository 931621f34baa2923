package main

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/node"
)

// lifecycleAuditor turns the lifecycle engine's actions into audit events
// ("lifecycle": true). The engine is built before the audit log is open,
// so the log is set later (set); actions before that are not audited.
type lifecycleAuditor struct {
	node string
	log  atomic.Pointer[audit.Logger]
}

func (a *lifecycleAuditor) set(l *audit.Logger) { a.log.Store(l) }

func (a *lifecycleAuditor) emit(act node.LifecycleAction) {
	l := a.log.Load()
	if l == nil {
		return
	}
	ev := audit.Event{
		Time: time.Now(), RequestID: "lifecycle:" + act.Rule, Node: a.node, Tenant: act.Tenant,
		Operation: "Lifecycle:" + act.Action, Container: act.Container, Key: act.Key, VersionID: act.VersionID,
		Status: http.StatusOK, Lifecycle: true,
	}
	if act.Err != nil {
		ev.Status, ev.ErrorCode = http.StatusInternalServerError, "LifecycleActionFailed"
	}
	l.Emit(ev)
}
