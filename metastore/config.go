package metastore

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// Config configures a Store. Zero values mean the documented default.
type Config struct {
	// NodeID is the Raft server ID of this node (required, stable across
	// restarts).
	NodeID string
	// Dir is the data directory: Pebble in Dir/pebble, Raft snapshots in
	// Dir/snapshots (required).
	Dir string
	// Transport carries Raft RPCs. If nil, a Raft TCP transport is created
	// listening on BindAddr and advertised as AdvertiseAddr (or BindAddr).
	// Tests may pass raft.NewInmemTransport. A Transport passed in stays
	// the caller's to close; one the Store created is closed by Close.
	Transport raft.Transport
	// BindAddr and AdvertiseAddr are host:port for the TCP transport; a
	// port of 0 picks a free port (see Store.Addr).
	BindAddr, AdvertiseAddr string
	// Bootstrap makes a node with no Raft state the single voter of a new
	// cluster. Other nodes join with Raft().AddVoter on the leader.
	Bootstrap bool
	// MasterKey is the 32-byte AES-256-GCM key sealing access-key secrets
	// (required; the same on every node).
	MasterKey []byte
	// Forwarder lets followers reach the leader; nil means writes and
	// linearizable reads on a follower fail with ErrNotLeader.
	Forwarder Forwarder
	// Logger receives the Store's, Raft's and Pebble's logs (default
	// slog.Default()).
	Logger *slog.Logger
	// OnApply, when set, is called after every local proposal this node
	// committed as leader, with the time from proposal to the state
	// machine's result (commit plus apply): the apply-latency metric. It
	// runs on the proposer's goroutine; keep it fast.
	OnApply func(time.Duration)
	// Now is the proposer clock stamped into every command: the state
	// machine's only notion of time (object lock retention, dedupe
	// window, usage hours). Default time.Now; tests inject one.
	Now func() time.Time

	// HeartbeatTimeout is how long a follower waits without contact
	// before starting an election (default 1s).
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes (default 1s).
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without
	// contact with a quorum (default 500ms; at most HeartbeatTimeout).
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is the longest a follower waits to learn a new commit
	// index when no new entries flow (default 10ms: it bounds the extra
	// latency of a linearizable read on a follower right after a write).
	CommitTimeout time.Duration
	// SnapshotThreshold is the number of log entries since the last
	// snapshot that triggers a new one (default 8192).
	SnapshotThreshold uint64
	// SnapshotInterval is how often Raft checks whether to snapshot
	// (default 120s).
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries stay in the log after a snapshot,
	// so slightly lagging followers catch up from the log rather than a
	// snapshot (default 10240, at least 16).
	TrailingLogs uint64
	// SnapshotRetain is how many snapshots are kept in Dir/snapshots
	// (default 2).
	SnapshotRetain int
	// MaxAppendEntries is the most entries in one AppendEntries RPC and in
	// one group commit of concurrent proposals (default 512, at most 1024).
	MaxAppendEntries int
	// ApplyTimeout bounds one write, retries included, when the caller's
	// context has no earlier deadline (default 30s).
	ApplyTimeout time.Duration
	// HandOverOnClose makes Close on a leader with other voters transfer
	// leadership first (a planned stop). Off, Close stops like a crash;
	// the transfer's RPC may outlive Close by up to a few seconds inside
	// hashicorp/raft.
	HandOverOnClose bool
	// CloseTimeout bounds Close (default 30s).
	CloseTimeout time.Duration
	// CacheSize is Pebble's block cache in bytes (default 64 MiB).
	CacheSize int64
}

// Defaults (see the Config fields).
const (
	DefaultHeartbeatTimeout   = time.Second
	DefaultElectionTimeout    = time.Second
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
	DefaultCommitTimeout      = 10 * time.Millisecond
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 120 * time.Second
	DefaultTrailingLogs       = 10240
	DefaultSnapshotRetain     = 2
	DefaultMaxAppendEntries   = 512
	DefaultApplyTimeout       = 30 * time.Second
	DefaultCloseTimeout       = 30 * time.Second
	DefaultCacheSize          = 64 << 20

	// minTrailingLogs keeps the tail of the log a leader scans when it
	// answers ReadIndex (see readIndexLocal).
	minTrailingLogs = 16
)

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDur(&c.ElectionTimeout, DefaultElectionTimeout)
	setDur(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	setDur(&c.CommitTimeout, DefaultCommitTimeout)
	setDur(&c.SnapshotInterval, DefaultSnapshotInterval)
	setDur(&c.ApplyTimeout, DefaultApplyTimeout)
	setDur(&c.CloseTimeout, DefaultCloseTimeout)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = DefaultSnapshotRetain
	}
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = DefaultMaxAppendEntries
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	return c
}

// Validate reports every problem of the configuration at once (after
// defaults are applied).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...interface{}) {
		errs = append(errs, fmt.Errorf("metastore: config: "+format, args...))
	}
	if c.NodeID == "" {
		bad("NodeID is required")
	}
	if c.Dir == "" {
		bad("Dir is required")
	}
	if c.Transport == nil {
		if c.BindAddr == "" {
			bad("BindAddr is required when no Transport is given")
		} else if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
			bad("BindAddr %q: %v", c.BindAddr, err)
		}
		if c.AdvertiseAddr != "" {
			if _, err := net.ResolveTCPAddr("tcp", c.AdvertiseAddr); err != nil {
				bad("AdvertiseAddr %q: %v", c.AdvertiseAddr, err)
			}
		}
	}
	if len(c.MasterKey) != 32 {
		bad("MasterKey must be 32 bytes (AES-256), got %d", len(c.MasterKey))
	}
	minDur := func(name string, d, min time.Duration) {
		if d < min {
			bad("%s %v is below %v", name, d, min)
		}
	}
	minDur("HeartbeatTimeout", c.HeartbeatTimeout, 5*time.Millisecond)
	minDur("ElectionTimeout", c.ElectionTimeout, 5*time.Millisecond)
	minDur("LeaderLeaseTimeout", c.LeaderLeaseTimeout, 5*time.Millisecond)
	minDur("CommitTimeout", c.CommitTimeout, time.Millisecond)
	minDur("SnapshotInterval", c.SnapshotInterval, 5*time.Millisecond)
	minDur("ApplyTimeout", c.ApplyTimeout, time.Millisecond)
	minDur("CloseTimeout", c.CloseTimeout, time.Millisecond)
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		bad("LeaderLeaseTimeout %v exceeds HeartbeatTimeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		bad("ElectionTimeout %v is below HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.TrailingLogs < minTrailingLogs {
		bad("TrailingLogs %d is below %d", c.TrailingLogs, minTrailingLogs)
	}
	if c.SnapshotRetain < 1 {
		bad("SnapshotRetain %d is below 1", c.SnapshotRetain)
	}
	if c.MaxAppendEntries < 1 || c.MaxAppendEntries > 1024 {
		bad("MaxAppendEntries %d outside 1..1024", c.MaxAppendEntries)
	}
	if c.CacheSize < 0 {
		bad("CacheSize %d is negative", c.CacheSize)
	}
	return errors.Join(errs...)
}

// raftConfig builds hashicorp/raft's configuration.
func (c Config) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.NodeID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	rc.MaxAppendEntries = c.MaxAppendEntries
	// A buffered apply channel lets concurrent proposals queue while the
	// leader fsyncs, and be written together by the next StoreLogs.
	rc.BatchApplyCh = true
	rc.Logger = newHCLog(c.Logger, "raft")
	rc.NoLegacyTelemetry = true
	return rc
}
