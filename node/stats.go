package node

import (
	"sync/atomic"
	"time"
)

// Stats are the Engine's cumulative counters since New, for metrics. Every
// field only grows, but the gauge LifecycleOverdue.
type Stats struct {
	// Encodes counts blobs erasure-encoded onto drives (PUTs and parts
	// stored as shards, not inline).
	Encodes int64
	// Decodes counts erasure decodes: reads of a byte range of a blob.
	Decodes int64
	// ShardsBad counts shards reads found missing or corrupt (each is
	// queued for healing).
	ShardsBad int64
	// Healed, HealFailed and HealDropped count shards rebuilt, rebuilds
	// that failed, and heal reports dropped because the queue was full.
	Healed, HealFailed, HealDropped int64
	// ScrubVerified and ScrubBad count shards the scrubber read in full and
	// found intact, and found missing or corrupt.
	ScrubVerified, ScrubBad int64
	// BlobsCollected counts blobs whose shards the garbage collector
	// removed: replaced or deleted artifacts, abandoned writes, and
	// orphans found by the sweep.
	BlobsCollected int64
	// ShardsRelocated and RelocateFailed count shards of removed nodes
	// rebuilt on a live drive and committed there, and attempts that
	// failed (retried by the next pass).
	ShardsRelocated, RelocateFailed int64
	// ShardsMoved and ShardMoveBytes count shard moves committed by the
	// shard mover (decommission, rebalance, relocation) and the bytes
	// they wrote; ShardsMisplacedSwept the shard files of live blobs the
	// orphan sweep removed because no placement named them.
	ShardsMoved, ShardMoveBytes, ShardsMisplacedSwept int64
	// Restriped counts versions the re-striper rewrote at the current
	// shape, RestripeBytes their bytes, RestripeFailed the rewrites that
	// failed (retried by the next pass; node/restripe.go).
	Restriped, RestripeBytes, RestripeFailed int64
	// UploadsExpired counts unfinished multipart uploads aborted for
	// their age (expiry.go).
	UploadsExpired int64
	// ShardsSlow counts shards reads gave up on as slow and read around
	// (hedged to parity); ShardsStraggled counts shard writes given up
	// as stalled or late once the write quorum was durable (healed).
	ShardsSlow, ShardsStraggled int64
	// ScrubPasses counts complete scrub passes; ScrubErrors the blobs and
	// metadata records a pass could not verify and skipped (scrub.go).
	ScrubPasses, ScrubErrors int64
	// DriveHealed counts shards drive heal jobs rebuilt, DriveHealBytes
	// their bytes (node/drives.go).
	DriveHealed, DriveHealBytes int64
	// DriveHealsRunning counts the heal jobs whose walk is under way.
	DriveHealsRunning int
	// SSEPackages counts encrypted packages reads authenticated and
	// decrypted (package sse): a range read opens only those it touches.
	SSEPackages int64
	// Lifecycle engine (lifecycle_engine.go): versions expired (deleted,
	// or given a delete marker) and their bytes, uploads aborted,
	// versions transitioned and their bytes, actions that failed, and
	// expirations refused by object lock (retried by later passes).
	LifecycleExpired, LifecycleExpiredBytes           int64
	LifecycleAborted, LifecycleFailures               int64
	LifecycleTransitioned, LifecycleTransitionedBytes int64
	LifecycleLocked                                   int64
	// Capacity fallback (capacity.go): versions moved to the default
	// tier, their bytes, and moves that failed.
	CapacityMoved, CapacityMovedBytes, CapacityFailures int64
	// LifecycleOverdue is how long the oldest lifecycle action that
	// failed has been due (0: none).
	LifecycleOverdue time.Duration
}

// counters are the Engine's live Stats; atomics, so no request path takes
// a lock to count.
type counters struct {
	encodes, decodes, shardsBad     atomic.Int64
	scrubVerified, scrubBad         atomic.Int64
	blobsCollected                  atomic.Int64
	healed, healFailed, healDropped atomic.Int64
	shardsRelocated, relocateFailed atomic.Int64
	restriped, restripeBytes        atomic.Int64
	restripeFailed                  atomic.Int64
	// shardsMisplacedSwept: shard files of live blobs no placement named.
	shardsMisplacedSwept        atomic.Int64
	shardsMoved, shardMoveBytes atomic.Int64
	uploadsExpired              atomic.Int64
	shardsSlow, shardsStraggled atomic.Int64
	scrubPasses, scrubErrors    atomic.Int64
	driveHealed, driveHealBytes atomic.Int64
	remoteDeletes               atomic.Int64
	ssePackages                 atomic.Int64
	// Lifecycle engine (lifecycle_engine.go).
	lcExpired, lcExpiredBytes           atomic.Int64
	lcAborted, lcFailures, lcLocked     atomic.Int64
	lcTransitioned, lcTransitionedBytes atomic.Int64
	// Capacity fallback (capacity.go).
	capMoved, capMovedBytes, capFailures atomic.Int64
}

// Stats returns the Engine's counters. It is cheap and safe for
// concurrent use.
func (e *Engine) Stats() Stats {
	c := &e.stats
	return Stats{
		Encodes:        c.encodes.Load(),
		Decodes:        c.decodes.Load(),
		ShardsBad:      c.shardsBad.Load(),
		Healed:         c.healed.Load(),
		HealFailed:     c.healFailed.Load(),
		HealDropped:    c.healDropped.Load(),
		ScrubVerified:  c.scrubVerified.Load(),
		ScrubBad:       c.scrubBad.Load(),
		BlobsCollected: c.blobsCollected.Load(),

		ShardsRelocated: c.shardsRelocated.Load(),
		RelocateFailed:  c.relocateFailed.Load(),
		ShardsMoved:     c.shardsMoved.Load(),
		ShardMoveBytes:  c.shardMoveBytes.Load(),
		Restriped:       c.restriped.Load(),
		RestripeBytes:   c.restripeBytes.Load(),
		RestripeFailed:  c.restripeFailed.Load(),
		UploadsExpired:  c.uploadsExpired.Load(),
		ShardsSlow:      c.shardsSlow.Load(),
		ShardsStraggled: c.shardsStraggled.Load(),
		ScrubPasses:     c.scrubPasses.Load(),
		ScrubErrors:     c.scrubErrors.Load(),
		DriveHealed:     c.driveHealed.Load(),
		DriveHealBytes:  c.driveHealBytes.Load(),

		ShardsMisplacedSwept: c.shardsMisplacedSwept.Load(),

		DriveHealsRunning: e.driveHeal.runningCount(),
		SSEPackages:       c.ssePackages.Load(),

		LifecycleExpired:           c.lcExpired.Load(),
		LifecycleExpiredBytes:      c.lcExpiredBytes.Load(),
		LifecycleAborted:           c.lcAborted.Load(),
		LifecycleFailures:          c.lcFailures.Load(),
		LifecycleTransitioned:      c.lcTransitioned.Load(),
		LifecycleTransitionedBytes: c.lcTransitionedBytes.Load(),
		LifecycleLocked:            c.lcLocked.Load(),
		LifecycleOverdue:           e.lc.pass.oldestOverdue(e.cfg.LifecycleNow()),
		CapacityMoved:              c.capMoved.Load(),
		CapacityMovedBytes:         c.capMovedBytes.Load(),
		CapacityFailures:           c.capFailures.Load(),
	}
}

// HealStats reports the healer's counters: shards rebuilt, rebuilds that
// failed, and reports dropped because the queue was full. It is a subset
// of Stats.
func (e *Engine) HealStats() (healed, failed, dropped int64) {
	s := e.Stats()
	return s.Healed, s.HealFailed, s.HealDropped
}
