package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collectTimeout bounds one scrape's calls into the node (drive statfs):
// a hung drive must not hang the scrape.
const collectTimeout = 5 * time.Second

// EngineStats are the Engine's cumulative counters (node.Stats).
type EngineStats struct {
	Encodes, Decodes                int64
	ShardsBad                       int64
	Healed, HealFailed, HealDropped int64
	ScrubVerified, ScrubBad         int64
	BlobsCollected                  int64
	ShardsRelocated                 int64
	// The shard mover (decommission, rebalance, relocation).
	ShardsMoved, ShardMoveBytes, ShardsMisplacedSwept int64
	UploadsExpired                                    int64
	ShardsSlow, ShardsStraggled                       int64
	// The continuous scrub: passes completed, the fraction of the pass
	// in progress done (0 when none runs), and when the last pass
	// completed (zero: none yet).
	ScrubPasses       int64
	ScrubErrors       int64 // blobs and records a pass could not verify and skipped
	ScrubProgress     float64
	ScrubLastComplete time.Time
	// Drive heal jobs (node/drives.go): shards and bytes rebuilt, and
	// the jobs whose walk is under way.
	DriveHealed, DriveHealBytes int64
	DriveHealsRunning           int
	// The re-striper (node/restripe.go, on the metadata leader): versions
	// rewritten at the current shape, their bytes, rewrites that failed,
	// complete passes, and the versions the last complete pass found at
	// another shape (0: every blob is at the cluster's shape).
	Restriped, RestripeBytes, RestripeFailed int64
	RestripePasses, RestripeLastPending      int64
}

// DriveStats describe one drive at scrape time.
type DriveStats struct {
	ID             string
	Online         bool
	Capacity, Free int64 // bytes; 0 when unknown
	IOErrors       int64 // cumulative; -1 when the driver does not count them
}

// MetastoreStats describe the metadata replica (metastore.Stats).
type MetastoreStats struct {
	State                     string // Leader, Follower, Candidate, Shutdown
	HasLeader                 bool
	Term                      uint64
	CommitIndex, AppliedIndex uint64
	LastContact               time.Duration // 0 on the leader, < 0 never
	DiskSpaceUsage            uint64
	Compactions               int64
	ReadAmp                   int
	// Pebble's block cache and memtables, bytes (outside the Go heap).
	BlockCacheBytes, MemTableBytes int64
	// The Raft log's synced appends, the entries they wrote and the time
	// they took (cumulative): the group size and fsync latency of a load.
	LogSyncs, LogEntries uint64
	LogSyncTime          time.Duration
}

// RaftStates are the values of the state label of vaultaire_raft_state.
var RaftStates = []string{"Leader", "Follower", "Candidate", "Shutdown"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}

// RegisterEngine exports the Engine's counters, read from stats on every
// scrape.
func (m *Metrics) RegisterEngine(stats func() EngineStats) {
	m.register(&engineCollector{stats: stats})
}

type engineCollector struct{ stats func() EngineStats }

var engineDescs = struct {
	encodes, decodes, bad, healed, healFailed, healDropped, scrubOK, scrubBad, gc, relocated, expired, slow, straggled, scrubPasses, scrubErrors, scrubProgress, scrubLast, driveHealed, driveHealBytes, driveHeals *prometheus.Desc
	moved, moveBytes, misplaced                                                                                                                                                                                     *prometheus.Desc
	restriped, restripeBytes, restripeFailed, restripePasses, restripePending                                                                                                                                       *prometheus.Desc
}{
	encodes:         desc("erasure_encodes_total", "Blobs erasure-encoded onto drives."),
	decodes:         desc("erasure_decodes_total", "Erasure decodes (reads of a blob range)."),
	bad:             desc("shards_bad_total", "Shards reads found missing or corrupt (queued for healing)."),
	healed:          desc("heal_shards_healed_total", "Shards rebuilt by the healer."),
	healFailed:      desc("heal_failures_total", "Shard rebuilds that failed."),
	healDropped:     desc("heal_reports_dropped_total", "Heal reports dropped because the heal queue was full."),
	scrubOK:         desc("scrub_shards_verified_total", "Shards the scrubber verified intact."),
	scrubBad:        desc("scrub_shards_bad_total", "Shards the scrubber found missing or corrupt."),
	gc:              desc("gc_blobs_collected_total", "Blobs whose shards the garbage collector removed."),
	relocated:       desc("shards_relocated_total", "Shards of removed nodes rebuilt on a live drive and committed there (counted on the metadata leader)."),
	expired:         desc("uploads_expired_total", "Unfinished multipart uploads aborted for their age (counted on the metadata leader)."),
	slow:            desc("shards_slow_total", "Shards reads gave up on as slow and read around (hedged to parity)."),
	straggled:       desc("shards_straggled_total", "Shard writes given up as stalled or late once the write quorum was durable (healed after the commit)."),
	scrubPasses:     desc("scrub_passes_total", "Complete passes of the continuous scrub over this node's shards."),
	scrubErrors:     desc("scrub_errors_total", "Blobs and metadata records the scrubber could not verify (an undecodable record, an invalid shape) and skipped; admin scrub status lists the latest."),
	scrubProgress:   desc("scrub_pass_progress_ratio", "Estimated fraction done of the scrub pass in progress (0 when none runs)."),
	scrubLast:       desc("scrub_last_pass_completed_timestamp_seconds", "When the last complete scrub pass ended (Unix seconds; 0: none yet)."),
	driveHealed:     desc("drive_heal_shards_rebuilt_total", "Shards drive heal jobs rebuilt on a replaced drive."),
	driveHealBytes:  desc("drive_heal_bytes_total", "Bytes of the shards drive heal jobs rebuilt."),
	driveHeals:      desc("drive_heal_jobs_running", "Drive heal jobs whose walk is under way on this node."),
	moved:           desc("shards_moved_total", "Shard moves committed by decommission, rebalance and relocation (counted on the metadata leader)."),
	moveBytes:       desc("shard_move_bytes_total", "Bytes the committed shard moves wrote."),
	misplaced:       desc("shards_misplaced_swept_total", "Shard files of live artifacts the orphan sweep removed because no placement names them (a move interrupted before its commit, an old copy left behind)."),
	restriped:       desc("restripe_versions_total", "Versions written at a degraded shape that the re-striper rewrote at the cluster's shape (counted on the metadata leader)."),
	restripeBytes:   desc("restripe_bytes_total", "Bytes of the versions the re-striper rewrote."),
	restripeFailed:  desc("restripe_failures_total", "Re-stripes that failed (retried by the next pass)."),
	restripePasses:  desc("restripe_passes_total", "Complete re-striping passes on this node (it runs on the metadata leader while every node is up)."),
	restripePending: desc("restripe_last_pass_pending_versions", "Versions the last complete re-striping pass found at another shape than the cluster's (0: all at the cluster's shape)."),
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	d := engineDescs
	for _, x := range []*prometheus.Desc{d.encodes, d.decodes, d.bad, d.healed, d.healFailed, d.healDropped, d.scrubOK, d.scrubBad, d.gc, d.relocated, d.expired, d.slow, d.straggled, d.scrubPasses, d.scrubErrors, d.scrubProgress, d.scrubLast, d.driveHealed, d.driveHealBytes, d.driveHeals, d.moved, d.moveBytes, d.misplaced, d.restriped, d.restripeBytes, d.restripeFailed, d.restripePasses, d.restripePending} {
		ch <- x
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	s, d := c.stats(), engineDescs
	counter := func(dd *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(dd, prometheus.CounterValue, float64(v))
	}
	counter(d.encodes, s.Encodes)
	counter(d.decodes, s.Decodes)
	counter(d.bad, s.ShardsBad)
	counter(d.healed, s.Healed)
	counter(d.healFailed, s.HealFailed)
	counter(d.healDropped, s.HealDropped)
	counter(d.scrubOK, s.ScrubVerified)
	counter(d.scrubBad, s.ScrubBad)
	counter(d.gc, s.BlobsCollected)
	counter(d.relocated, s.ShardsRelocated)
	counter(d.moved, s.ShardsMoved)
	counter(d.moveBytes, s.ShardMoveBytes)
	counter(d.misplaced, s.ShardsMisplacedSwept)
	counter(d.expired, s.UploadsExpired)
	counter(d.slow, s.ShardsSlow)
	counter(d.straggled, s.ShardsStraggled)
	counter(d.scrubPasses, s.ScrubPasses)
	counter(d.scrubErrors, s.ScrubErrors)
	ch <- prometheus.MustNewConstMetric(d.scrubProgress, prometheus.GaugeValue, s.ScrubProgress)
	last := 0.0
	if !s.ScrubLastComplete.IsZero() {
		last = float64(s.ScrubLastComplete.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(d.scrubLast, prometheus.GaugeValue, last)
	counter(d.driveHealed, s.DriveHealed)
	counter(d.driveHealBytes, s.DriveHealBytes)
	ch <- prometheus.MustNewConstMetric(d.driveHeals, prometheus.GaugeValue, float64(s.DriveHealsRunning))
	counter(d.restriped, s.Restriped)
	counter(d.restripeBytes, s.RestripeBytes)
	counter(d.restripeFailed, s.RestripeFailed)
	counter(d.restripePasses, s.RestripePasses)
	ch <- prometheus.MustNewConstMetric(d.restripePending, prometheus.GaugeValue, float64(s.RestripeLastPending))
}

// RegisterDrives exports per-drive health and capacity, read from drives
// on every scrape (with a bounded context).
func (m *Metrics) RegisterDrives(drives func(ctx context.Context) []DriveStats) {
	m.register(&driveCollector{drives: drives})
}

type driveCollector struct {
	drives func(ctx context.Context) []DriveStats
}

var driveDescs = struct{ online, capacity, free, ioErrors *prometheus.Desc }{
	online:   desc("drive_online", "1 if the drive is online, 0 if it is offline.", "drive"),
	capacity: desc("drive_capacity_bytes", "Size of the drive's file system.", "drive"),
	free:     desc("drive_free_bytes", "Bytes available to Vaultaire on the drive's file system.", "drive"),
	ioErrors: desc("drive_io_errors_total", "I/O errors about the drive itself (failures, full file system).", "drive"),
}

func (c *driveCollector) Describe(ch chan<- *prometheus.Desc) {
	d := driveDescs
	ch <- d.online
	ch <- d.capacity
	ch <- d.free
	ch <- d.ioErrors
}

func (c *driveCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	d := driveDescs
	for _, s := range c.drives(ctx) {
		online := 0.0
		if s.Online {
			online = 1
		}
		ch <- prometheus.MustNewConstMetric(d.online, prometheus.GaugeValue, online, s.ID)
		ch <- prometheus.MustNewConstMetric(d.capacity, prometheus.GaugeValue, float64(s.Capacity), s.ID)
		ch <- prometheus.MustNewConstMetric(d.free, prometheus.GaugeValue, float64(s.Free), s.ID)
		if s.IOErrors >= 0 {
			ch <- prometheus.MustNewConstMetric(d.ioErrors, prometheus.CounterValue, float64(s.IOErrors), s.ID)
		}
	}
}

// RegisterMetastore exports Raft and Pebble figures, read from stats on
// every scrape. The apply latency histogram is fed by ObserveApply.
func (m *Metrics) RegisterMetastore(stats func() MetastoreStats) {
	m.register(&metastoreCollector{stats: stats})
}

type metastoreCollector struct{ stats func() MetastoreStats }

var metaDescs = struct {
	state, hasLeader, term, commit, applied, contact, disk, compactions, readAmp *prometheus.Desc
	blockCache, memTable                                                         *prometheus.Desc
	logSyncs, logEntries, logSyncSeconds                                         *prometheus.Desc
}{
	state:          desc("raft_state", "1 for the Raft role this node is in, 0 for the others.", "state"),
	hasLeader:      desc("raft_has_leader", "1 if a Raft leader is known (possibly this node)."),
	term:           desc("raft_term", "Current Raft term."),
	commit:         desc("raft_commit_index", "Highest Raft log index known committed."),
	applied:        desc("raft_applied_index", "Highest Raft log index applied to the metadata state machine."),
	contact:        desc("raft_last_contact_seconds", "Seconds since this follower last heard from the leader (0 on the leader; absent if never)."),
	disk:           desc("metastore_disk_usage_bytes", "Bytes the metadata Pebble store uses on disk."),
	compactions:    desc("metastore_compactions_total", "Pebble compactions since the store opened."),
	readAmp:        desc("metastore_read_amplification", "Pebble read amplification (sublevels and files to consult per read)."),
	blockCache:     desc("metastore_block_cache_bytes", "Bytes in Pebble's block cache (bounded by its size; allocated outside the Go heap)."),
	memTable:       desc("metastore_memtable_bytes", "Bytes of Pebble's memtables, live and waiting to flush (outside the Go heap)."),
	logSyncs:       desc("raft_log_syncs_total", "Synced Raft log appends (one per group of entries written together)."),
	logEntries:     desc("raft_log_entries_total", "Raft log entries written by the synced appends (entries/syncs is the group size)."),
	logSyncSeconds: desc("raft_log_sync_seconds_total", "Time spent in synced Raft log appends, write and fsync (seconds/syncs is the sync latency)."),
}

func (c *metastoreCollector) Describe(ch chan<- *prometheus.Desc) {
	d := metaDescs
	for _, x := range []*prometheus.Desc{d.state, d.hasLeader, d.term, d.commit, d.applied, d.contact, d.disk, d.compactions, d.readAmp, d.blockCache, d.memTable, d.logSyncs, d.logEntries, d.logSyncSeconds} {
		ch <- x
	}
}

func (c *metastoreCollector) Collect(ch chan<- prometheus.Metric) {
	s, d := c.stats(), metaDescs
	gauge := func(dd *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(dd, prometheus.GaugeValue, v, labels...)
	}
	for _, st := range RaftStates {
		v := 0.0
		if st == s.State {
			v = 1
		}
		gauge(d.state, v, st)
	}
	hl := 0.0
	if s.HasLeader {
		hl = 1
	}
	gauge(d.hasLeader, hl)
	gauge(d.term, float64(s.Term))
	gauge(d.commit, float64(s.CommitIndex))
	gauge(d.applied, float64(s.AppliedIndex))
	if s.LastContact >= 0 {
		gauge(d.contact, s.LastContact.Seconds())
	}
	gauge(d.disk, float64(s.DiskSpaceUsage))
	ch <- prometheus.MustNewConstMetric(d.compactions, prometheus.CounterValue, float64(s.Compactions))
	gauge(d.readAmp, float64(s.ReadAmp))
	gauge(d.blockCache, float64(s.BlockCacheBytes))
	gauge(d.memTable, float64(s.MemTableBytes))
	ch <- prometheus.MustNewConstMetric(d.logSyncs, prometheus.CounterValue, float64(s.LogSyncs))
	ch <- prometheus.MustNewConstMetric(d.logEntries, prometheus.CounterValue, float64(s.LogEntries))
	ch <- prometheus.MustNewConstMetric(d.logSyncSeconds, prometheus.CounterValue, s.LogSyncTime.Seconds())
}

// MemberStates are the values of the state label of
// vaultaire_gossip_members: every state is exported, 0 when empty, so a
// dashboard can alert on dead members without absent series.
var MemberStates = []string{"alive", "suspect", "dead", "left"}

// RegisterGossip exports the gossip membership as members by state, read
// from counts on every scrape.
func (m *Metrics) RegisterGossip(counts func() map[string]int) {
	m.register(&gossipCollector{counts: counts})
}

type gossipCollector struct{ counts func() map[string]int }

var gossipDesc = desc("gossip_members", "Cluster members this node's gossip knows, by state (alive, suspect, dead, left), itself included.", "state")

func (c *gossipCollector) Describe(ch chan<- *prometheus.Desc) { ch <- gossipDesc }

func (c *gossipCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.counts()
	for _, st := range MemberStates {
		ch <- prometheus.MustNewConstMetric(gossipDesc, prometheus.GaugeValue, float64(counts[st]), st)
	}
}
