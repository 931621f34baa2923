package node

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
)

// The capacity fallback: when the cluster's drives fill past a high
// watermark, the metadata leader moves the least recently written versions
// to a default tier until the drives are below a low watermark, so a full
// cluster spills to the cold tier instead of refusing writes
// (docs/design.md, "Capacity fallback").
//
// Usage is the raw bytes used over the raw capacity of every online drive
// of the cluster: this node's asked now (a statfs), the peers' as they last
// advertised them. Once usage reaches the high watermark the fallback is
// "spilling" until usage falls below the low watermark (hysteresis: it
// does not start and stop at every write near one line).
//
// A round chooses the oldest versions (by creation time) that are local,
// stored in shards (not inline) and not delete markers, just enough of
// them that the raw bytes they free bring usage to the low watermark, and
// moves each with the tiers' transition protocol (TransitionVersion: copy,
// then a commit conditional on the blobs copied, so a version overwritten
// meanwhile is not moved and nothing is lost at a crash). The local shards
// go after the GC delay, so the bytes a round frees are counted as pending
// until then: the next rounds do not move them a second time over.
// Locked versions move too: a transition keeps the record, its lock and
// its retention (only the bytes change place).

// Defaults of the capacity fallback.
const (
	// DefaultCapacityHigh: the fallback starts when this fraction of the
	// raw capacity is used.
	DefaultCapacityHigh = 0.90
	// DefaultCapacityLow: a round moves versions until usage is below
	// this fraction, and the fallback stops there.
	DefaultCapacityLow = 0.80
	// DefaultCapacityInterval: how often usage is measured (and, on the
	// leader, a round runs when spilling).
	DefaultCapacityInterval = time.Minute
	// capacityBatch bounds the versions one round moves, and so the
	// memory of the candidate heap; the next round goes on.
	capacityBatch = 1000
	// capacityPendingSlack is added to the GC delay (and at least two
	// intervals) before the bytes a round moved are assumed to be gone
	// from the drives (the collector runs its queue on a timer; readers
	// may hold leases).
	capacityPendingSlack = 10 * time.Second
	// capacityMarginDiv: a round aims 1/200 (0.5%) of the capacity below
	// the low watermark, so that what the estimate of freed bytes misses
	// (directories, metadata of the file system) does not leave usage a
	// hair above it and the fallback spilling for another round.
	capacityMarginDiv = 200
)

// CapacityStatus is the capacity fallback as this node sees it.
type CapacityStatus struct {
	// Tier is the default tier versions spill to ("": no fallback).
	Tier string `json:"tier"`
	// High and Low are the watermarks, fractions of the raw capacity.
	High float64 `json:"high_watermark"`
	Low  float64 `json:"low_watermark"`
	// Used and Total are raw bytes of the cluster's online drives (this
	// node's now, the peers' as last advertised); Drives counts them
	// (this node's drives on one file system count once).
	Used   int64 `json:"used_bytes"`
	Total  int64 `json:"total_bytes"`
	Drives int   `json:"drives"`
	// Spilling: usage reached the high watermark and has not yet fallen
	// below the low one (on the leader, rounds are moving versions).
	Spilling bool `json:"spilling"`
	// Pending is the raw bytes moved recently whose local shards the
	// collector may not have removed yet (leader only).
	Pending int64 `json:"pending_bytes"`
	// Moved, MovedBytes and Failures count this node's moves since start.
	Moved      int64 `json:"moved"`
	MovedBytes int64 `json:"moved_bytes"`
	Failures   int64 `json:"failures"`
}

// UsedRatio is Used/Total (0 when the capacity is unknown).
func (s CapacityStatus) UsedRatio() float64 {
	if s.Total <= 0 {
		return 0
	}
	return float64(s.Used) / float64(s.Total)
}

// capacityState is the fallback's state on this node.
type capacityState struct {
	mu struct {
		sync.Mutex
		spilling bool
		// pending: raw bytes moved, with the time they count until.
		pending []pendingFree
	}
	round sync.Mutex // one round at a time
}

type pendingFree struct {
	bytes int64
	until time.Time
}

// validCapacity checks the fallback's settings.
func (c Config) validCapacity() []error {
	if c.CapacityTier == "" {
		return nil
	}
	var errs []error
	if !(c.CapacityLow > 0 && c.CapacityLow < c.CapacityHigh && c.CapacityHigh <= 1) {
		errs = append(errs, fmt.Errorf("node: capacity watermarks need 0 < low (%g) < high (%g) <= 1", c.CapacityLow, c.CapacityHigh))
	}
	return errs
}

// capacityUsage sums the raw usage of the cluster's online drives.
// Drives of this node on one file system (Usage.Device) count once: test
// and small setups keep several drive folders on one disk, and a version
// moved away frees its bytes on that disk once, however many of its
// shards were there. (Peers' drives, as gossiped, carry no device and
// count each.)
func (e *Engine) capacityUsage(ctx context.Context) (used, total int64, drives int) {
	add := func(u drivers.Usage) {
		used += u.Total - u.Free
		total += u.Total
		drives++
	}
	devices := map[string]bool{}
	for _, d := range e.order {
		u, err := d.Driver.Usage(ctx)
		if err != nil || !u.Online || u.Total <= 0 {
			continue
		}
		if u.Device != "" {
			if devices[u.Device] {
				continue
			}
			devices[u.Device] = true
		}
		add(u)
	}
	if e.cfg.Peers != nil {
		for _, pd := range e.cfg.Peers.Drives() {
			if pd.Node == e.cfg.NodeID || !pd.Online || pd.Driver == nil {
				continue
			}
			u, err := pd.Driver.Usage(ctx)
			if err == nil && u.Online && u.Total > 0 {
				add(u)
			}
		}
	}
	return used, total, drives
}

// CapacityStatus measures usage now and reports the fallback's state.
func (e *Engine) CapacityStatus(ctx context.Context) CapacityStatus {
	st := CapacityStatus{Tier: e.cfg.CapacityTier, High: e.cfg.CapacityHigh, Low: e.cfg.CapacityLow}
	st.Used, st.Total, st.Drives = e.capacityUsage(ctx)
	st.Spilling, st.Pending = e.capacityUpdate(st.Used, st.Total)
	st.Moved, st.MovedBytes, st.Failures = e.stats.capMoved.Load(), e.stats.capMovedBytes.Load(), e.stats.capFailures.Load()
	return st
}

// capacityUpdate moves the spilling state by the watermarks and returns
// it with the pending bytes (expired entries dropped).
func (e *Engine) capacityUpdate(used, total int64) (spilling bool, pending int64) {
	now := time.Now()
	c := &e.capacity
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.cfg.CapacityTier != "" && total > 0 {
		r := float64(used) / float64(total)
		switch {
		case r >= e.cfg.CapacityHigh:
			c.mu.spilling = true
		case r < e.cfg.CapacityLow:
			c.mu.spilling = false
		}
	} else {
		c.mu.spilling = false
	}
	live := c.mu.pending[:0]
	for _, p := range c.mu.pending {
		if now.Before(p.until) {
			live = append(live, p)
			pending += p.bytes
		}
	}
	c.mu.pending = live
	return c.mu.spilling, pending
}

// CapacityResult says what a capacity round did.
type CapacityResult struct {
	// Moved and Bytes count the versions moved and their bytes; Failed
	// counts the moves that failed (retried by the next round).
	Moved, Failed int
	Bytes         int64
	// Status is the state the round started from.
	Status CapacityStatus
}

// CapacityRound runs one round of the fallback: when spilling, it moves
// the least recently written local versions to the default tier until the
// bytes they free bring usage to the low watermark. The leader's loop
// calls it every CapacityInterval; tests and operators may call it.
func (e *Engine) CapacityRound(ctx context.Context) (CapacityResult, error) {
	e.capacity.round.Lock()
	defer e.capacity.round.Unlock()
	st := e.CapacityStatus(ctx)
	res := CapacityResult{Status: st}
	if st.Tier == "" || !st.Spilling {
		return res, nil
	}
	need := st.Used - st.Pending - int64(st.Low*float64(st.Total)) + st.Total/capacityMarginDiv
	if need <= 0 {
		return res, nil // what earlier rounds moved is still being collected
	}
	// A tier that does not exist (a typo in the setting) or is down fails
	// the round once, not each version.
	if _, _, err := e.tierDriver(ctx, st.Tier); err != nil {
		return res, fmt.Errorf("capacity fallback to tier %q: %w", st.Tier, err)
	}
	cands, err := e.coldestVersions(ctx, need)
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	sem := make(chan struct{}, e.cfg.LifecycleConcurrency)
	var wg sync.WaitGroup
	for _, c := range cands {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := e.capacityMove(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed++
				return
			}
			res.Moved++
			res.Bytes += c.size
		}()
	}
	wg.Wait()
	if res.Moved > 0 || res.Failed > 0 {
		e.log.Info("capacity fallback round", "tier", st.Tier, "used", st.Used, "total", st.Total,
			"moved", res.Moved, "bytes", res.Bytes, "failed", res.Failed)
	}
	return res, ctx.Err()
}

// capacityMove moves one chosen version to the default tier, audited and
// counted.
func (e *Engine) capacityMove(ctx context.Context, c capCandidate) error {
	err := e.transitionNow(ctx, Transition{
		Tenant: c.tenant, Container: c.container, Key: c.key, VersionID: c.versionID,
		Created: c.created, Size: c.size, Tier: e.cfg.CapacityTier, Rule: "capacity",
	})
	act := LifecycleAction{Action: "capacity-transition", Tenant: c.tenant, Container: c.container, Key: c.key,
		VersionID: c.versionID, Rule: "capacity", Bytes: c.size, Err: err}
	if err != nil {
		e.stats.capFailures.Add(1)
		e.log.Warn("capacity fallback: moving a version failed; the next round retries", "tier", e.cfg.CapacityTier,
			"tenant", c.tenant, "container", c.container, "key", c.key, "err", err)
	} else {
		e.stats.capMoved.Add(1)
		e.stats.capMovedBytes.Add(c.size)
		e.capacity.mu.Lock()
		e.capacity.mu.pending = append(e.capacity.mu.pending, pendingFree{bytes: c.raw, until: time.Now().Add(e.cfg.GCDelay + max(capacityPendingSlack, 2*e.cfg.CapacityInterval))})
		e.capacity.mu.Unlock()
	}
	if f := e.cfg.LifecycleAudit; f != nil {
		f(act)
	}
	return err
}

// capCandidate is a version the fallback may move.
type capCandidate struct {
	tenant, container, key, versionID string
	created                           time.Time
	size                              int64 // the version's bytes
	raw                               int64 // the raw bytes its shards take
}

// capHeap is a max-heap by creation time: its top is the newest of the
// versions chosen so far, the first to give back when older ones suffice.
type capHeap []capCandidate

func (h capHeap) Len() int           { return len(h) }
func (h capHeap) Less(i, j int) bool { return h[i].created.After(h[j].created) }
func (h capHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *capHeap) Push(x any)        { *h = append(*h, x.(capCandidate)) }
func (h *capHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// fsBlock is the allocation unit shard files are rounded up to.
const fsBlock = 4096

// rawBytes estimates the raw bytes a version's shards take on the drives:
// each shard file's exact size (erasure.ShardFileSize: header, blocks with
// their checksums, trailer) rounded up to a file-system block.
func rawBytes(a *metastore.Artifact) int64 {
	var n int64
	for i := range a.Parts {
		p := &a.Parts[i]
		bs := p.Blob.BlockSize
		if bs == 0 {
			bs = erasure.DefaultBlockSize
		}
		f := erasure.ShardFileSize(erasure.Shape{Data: max(p.Blob.K, 1), Parity: p.Blob.M, BlockSize: bs}, p.BlobSize())
		n += (f + fsBlock - 1) / fsBlock * fsBlock * int64(len(p.Blob.Shards))
	}
	return n
}

// coldestVersions walks every container and returns the oldest local
// versions whose raw bytes add up to need (at most capacityBatch of them),
// oldest first.
func (e *Engine) coldestVersions(ctx context.Context, need int64) ([]capCandidate, error) {
	tenants, err := e.meta.ListTenants(ctx, metastore.Stale)
	if err != nil {
		return nil, metaErr(err)
	}
	h := &capHeap{}
	var sum int64
	for _, t := range tenants {
		cs, err := e.meta.ListContainers(ctx, t.ID, metastore.Stale)
		if err != nil {
			return nil, metaErr(err)
		}
		for _, c := range cs {
			keyMarker, vidMarker := "", ""
			for {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				page, err := e.meta.ListVersions(ctx, t.ID, c.Name, metastore.VersionListOptions{KeyMarker: keyMarker, VersionIDMarker: vidMarker}, metastore.Stale)
				if errors.Is(err, metastore.ErrContainerNotFound) {
					break // deleted meanwhile
				}
				if err != nil {
					return nil, metaErr(err)
				}
				for i := range page.Versions {
					a := &page.Versions[i].Artifact
					if a.DeleteMarker || a.Tier != "" || len(a.Parts) == 0 {
						continue
					}
					raw := rawBytes(a)
					if raw <= 0 {
						continue
					}
					heap.Push(h, capCandidate{tenant: t.ID, container: c.Name, key: a.Key, versionID: a.VersionID, created: a.Created, size: a.Size, raw: raw})
					sum += raw
					// Give back the newest while the older ones suffice.
					for h.Len() > 0 && (sum-(*h)[0].raw >= need || h.Len() > capacityBatch) {
						sum -= heap.Pop(h).(capCandidate).raw
					}
				}
				if !page.Truncated {
					break
				}
				keyMarker, vidMarker = page.NextKeyMarker, page.NextVersionIDMarker
			}
		}
	}
	out := []capCandidate(*h)
	sort.Slice(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out, nil
}

// capacityLoop measures usage every CapacityInterval and, on the metadata
// leader, runs a round when spilling.
func (e *Engine) capacityLoop(ctx context.Context) {
	if e.cfg.CapacityTier == "" || e.cfg.CapacityInterval < 0 {
		return
	}
	t := time.NewTicker(e.cfg.CapacityInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !e.meta.IsLeader() {
			e.CapacityStatus(ctx)
			continue
		}
		if _, err := e.CapacityRound(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("capacity fallback round", "err", err)
		}
	}
}
