package node

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
)

// collector removes the shards of blobs no record points at any more.
//
// Two paths, one rule ("a blob the metastore does not reference is
// garbage"):
//   - later: blobs replaced or deleted by this node are queued and removed
//     after GCDelay, so reads that opened the old version can finish; the
//     blobs of a write whose commit failed without a refusal wait the same
//     delay and go only if no record references them then, since such a
//     commit may have happened after all (Engine.uncommitted);
//   - sweep: walks every drive and removes blobs the metastore does not
//     reference, older than a grace period (no grace at startup). This
//     catches what a crash left between data and metadata, and what the
//     in-memory queue lost on restart.
type collector struct {
	e *Engine
	// sweeping serializes sweeps (a cluster node's startup sweep runs in
	// the background and may meet a periodic one).
	sweeping sync.Mutex
	mu       struct {
		sync.Mutex
		pending []pendingDelete
		queued  map[string]bool // blob ids in pending
	}
}

type pendingDelete struct {
	blob metastore.Blob
	due  time.Time
	// unlessLive: the blob was written for a command whose outcome is
	// unknown (laterUnlessLive); it goes only if no record references it.
	unlessLive bool
	// until is when the blob goes even if a reader still holds it: the
	// lease ceiling (Config.MaxReadLease) past its first due time.
	until time.Time
}

// leases are the read leases of open readers: blob id -> readers
// streaming it. A blob the collector finds due while it is leased waits
// (up to Config.MaxReadLease past its due time), so a GET that outlives
// the GC delay (a slow client, a tenant's bandwidth limit) is not cut
// mid-stream.
type leases struct {
	mu struct {
		sync.Mutex
		n map[string]int
	}
}

// hold leases the blobs of parts until the returned func runs.
func (l *leases) hold(parts []metastore.Part) func() {
	if len(parts) == 0 {
		return func() {}
	}
	l.mu.Lock()
	if l.mu.n == nil {
		l.mu.n = map[string]int{}
	}
	for _, p := range parts {
		l.mu.n[p.Blob.ID]++
	}
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, p := range parts {
			if l.mu.n[p.Blob.ID]--; l.mu.n[p.Blob.ID] <= 0 {
				delete(l.mu.n, p.Blob.ID)
			}
		}
	}
}

// held reports whether an open reader holds blob id.
func (l *leases) held(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.n[id] > 0
}

func newCollector(e *Engine) *collector {
	c := &collector{e: e}
	c.mu.queued = map[string]bool{}
	return c
}

// later queues a blob for deletion after the GC delay.
func (c *collector) later(b metastore.Blob) { c.queue(b, false) }

// laterUnlessLive queues a blob written for a command that failed without
// a refusal (metastore.Refused): the command may have been committed after
// all, or may yet be. After the GC delay, by which time any such command
// has long been committed or dropped, the blob goes only if no record
// references it.
func (c *collector) laterUnlessLive(b metastore.Blob) { c.queue(b, true) }

func (c *collector) queue(b metastore.Blob, unlessLive bool) {
	if b.ID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.queued[b.ID] {
		return
	}
	c.mu.queued[b.ID] = true
	due := time.Now().Add(c.e.cfg.GCDelay)
	c.mu.pending = append(c.mu.pending, pendingDelete{blob: b, due: due, until: due.Add(c.e.cfg.MaxReadLease), unlessLive: unlessLive})
}

func (c *collector) laterParts(parts []metastore.Part) {
	for _, p := range parts {
		if metastore.BlobTier(p.Blob) != "" {
			continue // remote blobs go through the tier journal (tiers.go)
		}
		c.later(p.Blob)
	}
}

// due pops the queued blobs whose delay has passed.
func (c *collector) due(now time.Time) []pendingDelete {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []pendingDelete
	keep := c.mu.pending[:0]
	for _, p := range c.mu.pending {
		if now.After(p.due) {
			out = append(out, p)
			delete(c.mu.queued, p.blob.ID)
		} else {
			keep = append(keep, p)
		}
	}
	c.mu.pending = keep
	return out
}

// postpone queues p again for a second later (a reader holds it).
func (c *collector) postpone(p pendingDelete, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.queued[p.blob.ID] {
		return
	}
	c.mu.queued[p.blob.ID] = true
	p.due = now.Add(time.Second)
	c.mu.pending = append(c.mu.pending, p)
}

// leased reports whether a read on this node or, in a cluster, on another
// alive node streams the blob.
func (e *Engine) leased(ctx context.Context, id string) bool {
	if e.leases.held(id) {
		return true
	}
	lc, ok := e.cfg.Peers.(interface {
		BlobLeased(ctx context.Context, blobID string) bool
	})
	return ok && lc.BlobLeased(ctx, id)
}

// BlobLeasedHere reports whether a read on this node streams the blob:
// the answer this node gives its peers (cluster.RegisterLeases).
func (e *Engine) BlobLeasedHere(id string) bool { return e.leases.held(id) }

func (c *collector) isQueued(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.queued[id]
}

// run deletes due blobs every second and sweeps every SweepInterval.
func (c *collector) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			unanswered := false // a liveness check failed this tick
			for _, p := range c.due(now) {
				if p.unlessLive {
					if unanswered {
						c.postpone(p, now)
						continue
					}
					switch live, err := c.live(ctx, p.blob.ID); {
					case err != nil:
						// No answer now (no leader?): this one and the
						// rest of the tick's ask again in a second.
						unanswered = true
						c.postpone(p, now)
						continue
					case live:
						continue // committed after all: the blob is the record's
					}
				}
				if now.Before(p.until) && c.e.leased(ctx, p.blob.ID) {
					c.postpone(p, now)
					continue
				}
				c.e.deleteBlobNow(ctx, p.blob)
			}
			if iv := c.e.cfg.SweepInterval; iv > 0 && now.Sub(lastSweep) >= iv {
				lastSweep = now
				if n, err := c.sweep(ctx, c.e.cfg.SweepGrace); err != nil {
					c.e.log.Warn("orphan sweep incomplete", "err", err)
				} else if n > 0 {
					c.e.log.Info("orphan sweep removed blobs", "blobs", n)
				}
			}
		}
	}
}

// live asks, with a linearizable read bounded by a few seconds, whether a
// record references blob id.
func (c *collector) live(ctx context.Context, id string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.e.meta.BlobLive(ctx, id)
}

// sweep removes, on every drive, the shards of blobs older than grace that
// no record references. It returns how many blobs it removed.
func (c *collector) sweep(ctx context.Context, grace time.Duration) (int, error) {
	type found struct {
		names  []string
		times  []time.Time
		newest time.Time
	}
	c.sweeping.Lock()
	defer c.sweeping.Unlock()
	cutoff := time.Now().Add(-grace)
	// A misplaced shard may be a move's copy waiting for its commit
	// (move.go), perhaps written by another node: never younger than
	// misplacedGrace, even at startup.
	misplacedCutoff := time.Now().Add(-max(grace, misplacedGrace))
	removed := map[string]bool{}
	var errs []error
	for _, d := range c.e.order {
		// One read barrier per drive, not one or two per blob: every blob
		// the sweep weighs is older than the cutoff, so the state as of
		// the drive's first read says whether a record references it. (A
		// node holding tens of thousands of blobs older than the grace
		// spent minutes of startup in these barriers before it served.)
		ctx := metastore.WithReadScope(ctx)
		blobs := map[string]*found{}
		err := d.Driver.List(ctx, "blobs/", func(fi drivers.Info) error {
			if err := ctx.Err(); err != nil {
				return err // the node is closing
			}
			id := blobOfShard(fi.Name)
			if id == "" {
				return nil
			}
			f := blobs[id]
			if f == nil {
				f = &found{}
				blobs[id] = f
			}
			f.names = append(f.names, fi.Name)
			f.times = append(f.times, fi.ModTime)
			if fi.ModTime.After(f.newest) {
				f.newest = fi.ModTime
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for id, f := range blobs {
			if err := ctx.Err(); err != nil {
				return len(removed), err
			}
			if f.newest.After(cutoff) || c.isQueued(id) {
				continue
			}
			live, err := c.e.meta.BlobLive(ctx, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if live {
				if err := c.sweepMisplaced(ctx, d, id, f.names, f.times, misplacedCutoff); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			if c.e.leased(ctx, id) {
				continue
			}
			for _, name := range f.names {
				if err := d.Driver.Delete(ctx, name); err != nil && !errors.Is(err, drivers.ErrNotFound) {
					errs = append(errs, err)
				}
			}
			removed[id] = true
		}
	}
	c.e.stats.blobsCollected.Add(int64(len(removed)))
	return len(removed), errors.Join(errs...)
}

// misplacedGrace is the least age of a shard file of a live blob that no
// placement names before the sweep removes it: a shard move writes its
// copy, then commits (move.go), and a commit waits at most a few Raft
// round trips; ten minutes leaves room for a stalled leader election.
var misplacedGrace = 10 * time.Minute

// sweepMisplaced removes the shard files of live blob id on drive d that
// no record places there (a move that crashed before its commit, or the
// old copy a move could not delete), when older than cutoff.
func (c *collector) sweepMisplaced(ctx context.Context, d Drive, id string, names []string, times []time.Time, cutoff time.Time) error {
	var old []int
	for j := range names {
		if times[j].Before(cutoff) {
			old = append(old, j)
		}
	}
	if len(old) == 0 {
		return nil
	}
	placements, err := c.e.meta.BlobPlacements(ctx, id)
	if err != nil || len(placements) == 0 {
		return err // none: the blob went away meanwhile; the next sweep takes it
	}
	var errs []error
	for _, j := range old {
		idx, ok := shardIndex(names[j])
		if !ok {
			continue
		}
		placed := false
		for _, b := range placements {
			if idx < len(b.Shards) && b.Shards[idx].Drive == d.ID && (b.Shards[idx].Node == "" || b.Shards[idx].Node == d.Node) {
				placed = true
			}
		}
		if placed {
			continue
		}
		if err := d.Driver.Delete(ctx, names[j]); err != nil && !errors.Is(err, drivers.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		c.e.stats.shardsMisplacedSwept.Add(1)
		c.e.log.Info("orphan sweep removed a shard no placement names", "shard", names[j], "drive", d.ID)
	}
	return errors.Join(errs...)
}

// shardIndex parses the shard index out of a shard name (blobs/ab/<id>/<i>).
func shardIndex(name string) (int, bool) {
	k := strings.LastIndexByte(name, '/')
	if k < 0 {
		return 0, false
	}
	i, err := strconv.Atoi(name[k+1:])
	return i, err == nil && i >= 0
}

// deleteBlobNow removes every shard of b (missing shards are fine),
// except those on a peer this node marked unresponsive (unresponsive.go):
// a delete there would wait as long as the write did, and the orphan sweep
// removes those shards later.
func (e *Engine) deleteBlobNow(ctx context.Context, b metastore.Blob) {
	e.deleteShardsNow(ctx, b, nil)
}

// deleteShardsNow is deleteBlobNow for the shards written(i) selects (nil:
// every shard).
func (e *Engine) deleteShardsNow(ctx context.Context, b metastore.Blob, written func(int) bool) {
	e.stats.blobsCollected.Add(1)
	if left, ok := e.stragglers.Load(b.ID); ok {
		e.settle(left.([]*shardWrite)) // see unsettled
	}
	for i, s := range b.Shards {
		if (written != nil && !written(i)) || e.unresponsive.is(s.Node) {
			continue
		}
		d, ok := e.shardDriver(s)
		if !ok {
			continue
		}
		if err := d.Delete(ctx, shardName(b.ID, i)); err != nil && !errors.Is(err, drivers.ErrNotFound) {
			e.log.Warn("deleting shard failed; the sweep will retry", "blob", b.ID, "shard", i, "err", err)
		}
	}
}

// healer rebuilds shards found missing or corrupt, one at a time, from the
// surviving shards of their blob.
type healer struct {
	e     *Engine
	queue chan healItem
	mu    struct {
		sync.Mutex
		inflight map[healKey]bool
	}
}

type healKey struct {
	blob  string
	index int
}

type healItem struct {
	blob  metastore.Blob
	size  int64
	index int
}

// healQueueLen bounds the healer's memory; reports of reads beyond it are
// dropped (and counted) because the same shard is found again by the next
// read; the scrub's wait for room (missingWait).
const healQueueLen = 1024

func newHealer(e *Engine) *healer {
	h := &healer{e: e, queue: make(chan healItem, healQueueLen)}
	h.mu.inflight = map[healKey]bool{}
	return h
}

// missing reports shard index of blob b (of size bytes) as lost.
func (h *healer) missing(b metastore.Blob, size int64, index int) {
	if metastore.BlobTier(b) != "" {
		return // one shard on a remote store: nothing to rebuild it from
	}
	k := healKey{b.ID, index}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.inflight[k] {
		return
	}
	select {
	case h.queue <- healItem{blob: b, size: size, index: index}:
		h.mu.inflight[k] = true
	default:
		h.e.stats.healDropped.Add(1)
	}
}

// missingWait is missing for the scrub: when the queue is full it waits
// for room instead of dropping the report, because nothing but the next
// pass would find the shard again (no read looks at a parity shard). The
// scrub then goes at the healer's speed while there is much to heal (a
// drive replaced empty).
func (h *healer) missingWait(ctx context.Context, b metastore.Blob, size int64, index int) error {
	if metastore.BlobTier(b) != "" {
		return nil
	}
	k := healKey{b.ID, index}
	for {
		h.mu.Lock()
		if h.mu.inflight[k] {
			h.mu.Unlock()
			return nil
		}
		select {
		case h.queue <- healItem{blob: b, size: size, index: index}:
			h.mu.inflight[k] = true
			h.mu.Unlock()
			return nil
		default:
		}
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (h *healer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-h.queue:
			err := h.e.healShard(ctx, it)
			h.mu.Lock()
			delete(h.mu.inflight, healKey{it.blob.ID, it.index})
			h.mu.Unlock()
			if err != nil {
				h.e.stats.healFailed.Add(1)
			} else {
				h.e.stats.healed.Add(1)
			}
			if err != nil && ctx.Err() == nil {
				h.e.log.Warn("healing shard failed", "blob", it.blob.ID, "shard", it.index, "err", err)
			}
		}
	}
}

// healShard rebuilds one shard onto the drive its placement names, unless
// the blob is no longer referenced.
func (e *Engine) healShard(ctx context.Context, it healItem) error {
	live, err := e.meta.BlobLive(ctx, it.blob.ID)
	if err != nil || !live {
		return err
	}
	d, ok := e.shardDriver(it.blob.Shards[it.index])
	if !ok {
		return errors.New("node: drive of shard unknown")
	}
	if u, err := d.Usage(ctx); err != nil || !u.Online {
		return errors.New("node: drive of shard unavailable")
	}
	return e.rebuildShard(ctx, it.blob, it.size, it.index, d)
}

// rebuildShard regenerates shard index of blob b (of size bytes) from the
// others, local ones first, and streams it into d. A failed rebuild fails
// the Put, so d keeps nothing of it (drivers commit on success only).
func (e *Engine) rebuildShard(ctx context.Context, b metastore.Blob, size int64, index int, d drivers.Driver) error {
	return e.rebuildShardWith(ctx, b, size, index, d, nil)
}

// rebuildShardWith is rebuildShard with the bytes written passing through
// wrap (nil: none), which may pace or count them.
func (e *Engine) rebuildShardWith(ctx context.Context, b metastore.Blob, size int64, index int, d drivers.Driver, wrap func(io.Reader) io.Reader) error {
	coder, err := e.coderFor(b)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	var in io.Reader = pr
	if wrap != nil {
		in = wrap(pr)
	}
	done := make(chan error, 1)
	go func() {
		_, err := d.Put(ctx, shardName(b.ID, index), in)
		pr.CloseWithError(err)
		done <- err
	}()
	_, err = coder.Rebuild(ctx, e.opener(b), size, index, pw, e.preferLocal(b), erasure.HedgeAfter(e.cfg.ReadHedge))
	pw.CloseWithError(err)
	if perr := <-done; err == nil {
		err = perr
	}
	return err
}
