package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
)

// Re-striping brings blobs written at a degraded shape back to the
// cluster's shape.
//
// With an automatic shape (Config.Shape.Data == 0) a blob's shape follows
// the drives online when it is written (AutoShape): with one node of three
// down, new blobs are written 4+4 over the two that remain instead of 8+4
// over all three. They stay readable and survive the loss of a node, but
// cost 2× their size instead of 1.5×, and once the node is back they hold
// no shard on it. The metadata leader walks every version record and
// rewrites those whose blobs are at another shape than the one a PUT would
// use now: it reads the version's bytes (as stored: ciphertext stays
// ciphertext), writes them as new blobs at the current shape, and swaps
// the record's blobs with metastore.Transition (tier ""), which applies
// only if the version still names the blobs the copy read. The old blobs
// lose their reference in the same commit and go as a replaced version's
// do, after the GC delay (the orphan sweep takes them if the leader stops
// first). A commit that finds the version changed (overwritten, deleted)
// drops the new blobs instead; so does a copy whose read failed because
// the version changed under it (its old blobs may be collected already):
// such a version is moot, not a failure.
//
// A pass runs only while every member of the metadata Raft group has
// online drives: with a node down the current shape is itself degraded,
// and re-striping to it would be a step backwards. Only blobs narrower
// than the current shape (fewer shards) are rewritten, so a pass never
// narrows a blob either. A join widens the automatic shape (4 nodes of 4
// drives: 12+4), so after one the existing blobs are rewritten wider,
// which also spreads them onto the new node. A pass stops when the
// shape a PUT would use changes under it (a node went down). Versions on a
// cold tier, with a restored copy, or stored inline are left alone; so are
// multipart uploads in progress (their parts are re-striped with the
// completed artifact). A fixed --erasure shape is never re-striped.
//
// Re-striping reads and rewrites whole versions, throttled by
// Config.RestripeRate bytes per second of rewritten data.

// DefaultRestripeInterval is how often the metadata leader looks for
// blobs at a degraded shape.
const DefaultRestripeInterval = time.Minute

// DefaultRestripeRate is the re-striper's throttle, in bytes of versions
// rewritten per second: half the heal rate, since a re-stripe is not
// urgent (the blobs it rewrites are not at risk).
const DefaultRestripeRate = 32 << 20

// errRestripeTargetMoved stops a pass whose target shape changed.
var errRestripeTargetMoved = errors.New("node: the write shape changed during re-striping")

// errRestripeMoot: the version changed while it was being rewritten.
var errRestripeMoot = errors.New("node: version changed during re-striping")

// RestripeStatus is the re-striper's state on this node.
type RestripeStatus struct {
	// Running: a pass is under way.
	Running bool
	// Target is the shape the last pass re-striped to ("" before any).
	Target string
	// Waiting says why the last attempt did not run (a node down, a fixed
	// shape, not the metadata leader).
	Waiting string
	// Counts of the pass under way, else of the last pass: versions
	// visited, found at another shape, rewritten, failed, and bytes
	// rewritten.
	Scanned, Pending, Restriped, Failed, Bytes int64
	// Passes counts complete passes; LastPass is when the last one
	// ended, LastPending how many versions it found at another shape (0:
	// every blob was at the target shape).
	Passes      int64
	LastPass    time.Time
	LastPending int64
}

// restriper holds the re-striper's state.
type restriper struct {
	mu struct {
		sync.Mutex
		st RestripeStatus
	}
}

func (r *restriper) update(f func(*RestripeStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.mu.st)
}

// RestripeStatus reports the re-striper's state on this node (meaningful
// on the metadata leader, which runs it).
func (e *Engine) RestripeStatus() RestripeStatus {
	e.restripe.mu.Lock()
	defer e.restripe.mu.Unlock()
	return e.restripe.mu.st
}

// restripeLoop runs a pass every RestripeInterval on the metadata leader.
func (e *Engine) restripeLoop(ctx context.Context) {
	iv := e.cfg.RestripeInterval
	if iv <= 0 || e.cfg.Shape.Data > 0 {
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !e.meta.IsLeader() {
			e.restripe.update(func(s *RestripeStatus) { s.Waiting = "not the metadata leader" })
			continue
		}
		if _, err := e.Restripe(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, errNotLeader) && !errors.Is(err, errRestripeTargetMoved) {
			e.log.Warn("re-striping pass incomplete", "err", err)
		}
	}
}

// restripeTarget returns the shape new blobs get now, and whether every
// member of the metadata group has online drives (else why not).
func (e *Engine) restripeTarget(ctx context.Context) (erasure.Shape, string) {
	if e.cfg.Shape.Data > 0 {
		return erasure.Shape{}, "fixed erasure shape"
	}
	cands := e.candidates(ctx)
	online := map[string]bool{}
	for _, c := range cands {
		if c.online {
			online[c.Node] = true
		}
	}
	if e.cfg.NodeRemoved == nil {
		servers, err := e.raftServers()
		if err != nil {
			return erasure.Shape{}, err.Error()
		}
		for _, id := range servers {
			if !online[id] {
				return erasure.Shape{}, fmt.Sprintf("node %s has no online drive", id)
			}
		}
	}
	return e.shapeFor(cands), ""
}

// needsRestripe reports whether version a is stored in local blobs
// narrower than target, and can be rewritten.
func needsRestripe(a metastore.Artifact, target erasure.Shape) bool {
	if a.DeleteMarker || a.Tier != "" || a.Restore.Ongoing || !a.Restore.Expiry.IsZero() || len(a.Restore.Parts) > 0 || len(a.Parts) == 0 {
		return false
	}
	differs := false
	for _, p := range a.Parts {
		if p.Blob.ID == "" || len(p.Blob.Shards) == 0 || metastore.BlobTier(p.Blob) != "" {
			return false // inline or remote: not ours to rewrite
		}
		// Narrower than the target: written while drives were missing.
		// (A blob as wide at another split, or wider, stays: re-striping
		// it would not make it safer.)
		if p.Blob.K+p.Blob.M < target.Data+target.Parity {
			differs = true
		}
	}
	return differs
}

// Restripe runs one re-striping pass (on the metadata leader): every
// version at another shape than the current one is rewritten at it. It
// returns the pass's counts.
func (e *Engine) Restripe(ctx context.Context) (RestripeStatus, error) {
	target, why := e.restripeTarget(ctx)
	if why != "" {
		e.restripe.update(func(s *RestripeStatus) { s.Waiting = why })
		return e.RestripeStatus(), nil
	}
	label := fmt.Sprintf("%d+%d", target.Data, target.Parity)
	e.restripe.update(func(s *RestripeStatus) {
		s.Running, s.Target, s.Waiting = true, label, ""
		s.Scanned, s.Pending, s.Restriped, s.Failed, s.Bytes = 0, 0, 0, 0, 0
	})
	rate := e.cfg.RestripeRate
	start := time.Now()
	var written int64
	var errs []error
	err := e.meta.ForEachVersionFrom(ctx, nil, func(a metastore.Artifact, _ []byte) error {
		e.restripe.update(func(s *RestripeStatus) { s.Scanned++ })
		if !needsRestripe(a, target) {
			return nil
		}
		if !e.meta.IsLeader() {
			return errNotLeader
		}
		if now, why := e.restripeTarget(ctx); why != "" || now != target {
			return errRestripeTargetMoved
		}
		e.restripe.update(func(s *RestripeStatus) { s.Pending++ })
		n, err := e.restripeVersion(ctx, a)
		switch {
		case errors.Is(err, errRestripeMoot):
		case err == nil:
			written += n
			e.stats.restriped.Add(1)
			e.stats.restripeBytes.Add(n)
			e.restripe.update(func(s *RestripeStatus) { s.Restriped++; s.Bytes += n })
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			e.stats.restripeFailed.Add(1)
			e.restripe.update(func(s *RestripeStatus) { s.Failed++ })
			if len(errs) < 10 {
				errs = append(errs, err)
			}
			e.log.Warn("re-striping a version failed", "tenant", a.Tenant, "container", a.Container, "key", a.Key, "version", a.VersionID, "err", err)
		}
		return pace(ctx, rate, written, start)
	}, metastore.Stale)
	e.restripe.update(func(s *RestripeStatus) {
		s.Running = false
		if err == nil {
			s.Passes++
			s.LastPass, s.LastPending = time.Now(), s.Pending
		}
	})
	st := e.RestripeStatus()
	if st.Restriped > 0 || st.Failed > 0 {
		e.log.Info("re-striping pass", "target", label, "versions", st.Scanned, "restriped", st.Restriped, "failed", st.Failed, "bytes", st.Bytes, "err", err)
	}
	if err != nil {
		return st, err
	}
	return st, errors.Join(errs...)
}

// pace sleeps until done bytes since start are within rate bytes per
// second (rate <= 0: no limit).
func pace(ctx context.Context, rate, done int64, start time.Time) error {
	if rate <= 0 {
		return nil
	}
	due := start.Add(time.Duration(float64(done) / float64(rate) * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// restripeVersion rewrites version a's blobs at the current shape and
// commits the swap; it returns the bytes rewritten. A version changed
// meanwhile is left as it is now (its new blobs dropped):
// errRestripeMoot.
func (e *Engine) restripeVersion(ctx context.Context, a metastore.Artifact) (int64, error) {
	var to []metastore.Part
	fail := func(err error) (int64, error) {
		e.dropParts(context.WithoutCancel(ctx), to)
		return 0, err
	}
	var n int64
	for _, p := range a.Parts {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(e.readPart(ctx, pw, p)) }()
		b, missing, err := e.writeBlob(ctx, pr)
		pr.CloseWithError(errors.New("write stopped"))
		if err != nil {
			if ctx.Err() == nil && e.versionMoved(ctx, a) {
				// Overwritten, deleted or re-striped since the pass
				// read it: its old blobs may be collected already.
				return fail(errRestripeMoot)
			}
			return fail(err)
		}
		np := p
		np.Blob = b
		to = append(to, np)
		e.healLater(np, missing)
		n += p.BlobSize()
	}
	from := make([]string, len(a.Parts))
	for i, p := range a.Parts {
		from[i] = p.Blob.ID
	}
	_, err := e.meta.Transition(ctx, metastore.Transition{
		Tenant: a.Tenant, Container: a.Container, Key: a.Key, VersionID: a.VersionID,
		From: from, To: to, Tier: "", StorageClass: a.StorageClass,
	})
	if errors.Is(err, metastore.ErrPreconditionFailed) || errors.Is(err, metastore.ErrNoSuchVersion) {
		// Overwritten or deleted meanwhile: the new blobs are garbage.
		return fail(errRestripeMoot)
	}
	if err != nil {
		e.uncommitted(ctx, to, err)
		return 0, metaErr(err)
	}
	// The old blobs go as a replaced version's do: after the GC delay,
	// once no reader streams them.
	e.gc.laterParts(a.Parts)
	return n, nil
}

// versionMoved reports whether version a's record, read linearizably, no
// longer names a's blobs: it was overwritten, deleted or re-striped since
// a was read. A failed read of such a version is moot, not a fault.
func (e *Engine) versionMoved(ctx context.Context, a metastore.Artifact) bool {
	id := a.VersionID
	if id == "" { // written unversioned
		id = metastore.NullVersion
	}
	cur, err := e.meta.GetVersion(ctx, a.Tenant, a.Container, a.Key, id)
	switch {
	case errors.Is(err, metastore.ErrNoSuchVersion), errors.Is(err, metastore.ErrArtifactNotFound), errors.Is(err, metastore.ErrContainerNotFound):
		return true
	case err != nil:
		return false // unknown: the read failure stands
	}
	return !slices.EqualFunc(cur.Parts, a.Parts, func(x, y metastore.Part) bool { return x.Blob.ID == y.Blob.ID })
}
