package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
)

// Restores whose copying node died. RestoreObject commits the restore as
// ongoing, then the node that took the request copies the version's bytes
// back (makeRestore) within TierIntentTimeout: its context ends there, and
// on failure it clears the restore. A node that dies meanwhile leaves the
// restore ongoing, which without help would last until its expiry (days),
// refusing new restores (409) and GETs (403).
//
// The metadata leader therefore watches ongoing restores: one it has seen
// ongoing for longer than TierIntentTimeout plus a margin, while no copy of
// its own runs, cannot have a live copier any more (that copier's context
// has ended), so the leader copies it itself. Completion is conditional
// (CompleteRestore needs the restore still ongoing and the version's blobs
// unchanged), so a copy finished twice commits once; the loser drops its
// blobs and leaves the restore alone.

// restoreResumeMargin is added to TierIntentTimeout before a restore seen
// ongoing is taken over (clocks of the copier and the leader differ).
const restoreResumeMargin = time.Minute

// restoreWatch is the Engine's view of ongoing restores.
type restoreWatch struct {
	mu struct {
		sync.Mutex
		inflight map[string]bool      // copies running on this node
		seen     map[string]time.Time // first time the leader saw one ongoing
	}
}

func restoreKey(tenant, container, key, versionID string) string {
	return tenant + "\x00" + container + "\x00" + key + "\x00" + versionID
}

// begin marks a copy of this node as running; false if one already is.
func (w *restoreWatch) begin(k string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.inflight[k] {
		return false
	}
	if w.mu.inflight == nil {
		w.mu.inflight = map[string]bool{}
	}
	w.mu.inflight[k] = true
	return true
}

func (w *restoreWatch) end(k string) {
	w.mu.Lock()
	delete(w.mu.inflight, k)
	delete(w.mu.seen, k)
	w.mu.Unlock()
}

// startCopy runs makeRestore for a in the background unless this node
// already copies it.
func (e *Engine) startCopy(a metastore.Artifact) bool {
	k := restoreKey(a.Tenant, a.Container, a.Key, a.VersionID)
	if !e.restores.begin(k) {
		return false
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer e.restores.end(k)
		e.makeRestore(a)
	}()
	return true
}

// ResumeRestores looks at the ongoing restores (up to a batch) and takes
// over those ongoing for longer than a copier can live; it returns how many
// copies it started. The leader's journal loop calls it.
func (e *Engine) ResumeRestores(ctx context.Context) (int, error) {
	refs, err := e.meta.ExpiredRestores(ctx, time.Unix(0, 1<<62), tierJournalBatch, metastore.Stale)
	if err != nil {
		return 0, metaErr(err)
	}
	now := e.cfg.Now()
	stale := e.cfg.TierIntentTimeout + restoreResumeMargin
	live := map[string]bool{}
	started := 0
	for _, r := range refs {
		a, _, _, err := e.version(ctx, r.Tenant, VersionRef{Container: r.Container, Key: r.Key, VersionID: cmpVersion(r.VersionID)})
		if errors.Is(err, ErrNoSuchVersion) || errors.Is(err, ErrArtifactNotFound) || errors.Is(err, ErrContainerNotFound) {
			continue
		}
		if err != nil {
			return started, err
		}
		if !a.Restore.Ongoing {
			continue
		}
		k := restoreKey(a.Tenant, a.Container, a.Key, a.VersionID)
		live[k] = true
		e.restores.mu.Lock()
		first, ok := e.restores.mu.seen[k]
		if !ok {
			if e.restores.mu.seen == nil {
				e.restores.mu.seen = map[string]time.Time{}
			}
			e.restores.mu.seen[k], first = now, now
		}
		running := e.restores.mu.inflight[k]
		e.restores.mu.Unlock()
		if running || now.Sub(first) < stale {
			continue
		}
		e.log.Warn("restore left ongoing by a node that stopped copying: copying it here", "tenant", a.Tenant,
			"container", a.Container, "key", a.Key, "version", a.VersionID, "ongoing_for", now.Sub(first))
		if e.startCopy(a) {
			started++
		}
	}
	// Forget restores no longer ongoing.
	e.restores.mu.Lock()
	for k := range e.restores.mu.seen {
		if !live[k] {
			delete(e.restores.mu.seen, k)
		}
	}
	e.restores.mu.Unlock()
	return started, nil
}
