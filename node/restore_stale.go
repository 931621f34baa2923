package node

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
)

// Restores whose copying node died.
//
// A restore is copied by the node that accepted the request
// (RestoreVersion, makeRestore), which gives up within TierIntentTimeout
// and then clears it. A node that dies mid-copy (a crash, a SIGKILL)
// clears nothing: the version would stay "ongoing" until the copy's
// expiry, days later, refusing every new request with
// RestoreAlreadyInProgress. The metadata leader therefore notes when it
// first sees each restore ongoing; one still ongoing TierIntentTimeout
// plus TierJournalInterval later has no live copier (it would have given
// up), so the leader clears it as a failed copier does
// (metastore.ClearRestore at the restore's own expiry: the ongoing state
// and its index entry go, the version stays on its tier) and a new request
// starts it again. What the dead copier wrote locally is unreferenced and
// left to the orphan sweep.
//
// The leader looks at every restore in the index (restores are few and
// temporary) each TierJournalInterval; the times it noted are in memory,
// so a new leader starts counting afresh (later, never earlier).

// staleRestores is what the leader noted: when it first saw each restore
// ongoing.
type staleRestores struct {
	mu    sync.Mutex
	since map[string]time.Time
}

func restoreRefKey(r metastore.RestoreRef) string {
	return fmt.Sprintf("%q %q %q %q %d", r.Tenant, r.Container, r.Key, r.VersionID, r.Expiry.UnixNano())
}

// AbandonStaleRestores clears the restores that have been ongoing, as
// far as this node saw, longer than a live copier can take (see above),
// and returns how many it cleared. The metadata leader calls it every
// TierJournalInterval.
func (e *Engine) AbandonStaleRestores(ctx context.Context) (int, error) {
	refs, err := e.meta.ExpiredRestores(ctx, time.Unix(0, math.MaxInt64), 0)
	if err != nil {
		return 0, metaErr(err)
	}
	now := e.cfg.Now()
	grace := e.cfg.TierIntentTimeout + e.cfg.TierJournalInterval
	s := &e.staleRestores
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.since == nil {
		s.since = map[string]time.Time{}
	}
	ongoing := map[string]bool{}
	cleared := 0
	for _, r := range refs {
		if ctx.Err() != nil {
			return cleared, ctx.Err()
		}
		v := r.VersionID
		if v == "" {
			v = NullVersion
		}
		a, err := e.meta.GetVersion(ctx, r.Tenant, r.Container, r.Key, v)
		if err != nil || !a.Restore.Ongoing || !a.Restore.Expiry.Equal(r.Expiry) {
			continue // gone, done, or restarted with another expiry
		}
		k := restoreRefKey(r)
		ongoing[k] = true
		first, ok := s.since[k]
		if !ok {
			s.since[k] = now
			continue
		}
		if now.Sub(first) < grace {
			continue
		}
		parts, err := e.meta.ClearRestore(ctx, r, r.Expiry)
		if err != nil {
			e.log.Warn("clearing an abandoned restore", "container", r.Container, "key", r.Key, "err", err)
			continue
		}
		// None, unless a copier committed between the read and the
		// clear: then its copy is freed like an expired one.
		e.gc.laterParts(parts)
		e.log.Warn("restore abandoned: no node has been copying it for longer than a copy can take (its node died?); a new restore request starts it again",
			"tenant", r.Tenant, "container", r.Container, "key", r.Key, "version", r.VersionID, "ongoing_for", now.Sub(first).Round(time.Second))
		delete(ongoing, k)
		cleared++
	}
	for k := range s.since {
		if !ongoing[k] {
			delete(s.since, k)
		}
	}
	return cleared, nil
}
