package metastore

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
)

// Stats is a point-in-time view of the replica for metrics and health
// checks.
type Stats struct {
	// State is the Raft role: "Leader", "Follower", "Candidate" or
	// "Shutdown".
	State string
	// HasLeader reports whether a leader is known (possibly this node).
	HasLeader bool
	Term      uint64
	// CommitIndex is the highest log index known committed; AppliedIndex
	// the highest index the state machine applied (AppliedIndex).
	CommitIndex, AppliedIndex uint64
	// CaughtUp reports whether the state machine has applied every
	// committed entry that reaches it (an election's no-op never does).
	CaughtUp bool
	// LastContact is the time since this follower last heard from the
	// leader: 0 on the leader, -1 when it never has.
	LastContact time.Duration
	// Retries counts operations repeated after a retryable failure.
	Retries uint64

	// Pebble: bytes on disk (sstables, WAL, ...), compactions since open,
	// and the read amplification of the LSM.
	DiskSpaceUsage uint64
	Compactions    int64
	ReadAmp        int
	// Pebble's memory: the block cache (bounded by Config.CacheSize) and
	// the memtables, live and waiting to flush. With cgo both are
	// allocated outside the Go heap, so they show in the process's RSS
	// but not in Go's memory statistics.
	BlockCacheBytes, MemTableBytes int64

	// The Raft log's synced appends since the store opened (one per group
	// of entries written together: a leader's batch of concurrent
	// proposals, or one AppendEntries RPC), the entries they wrote, and
	// the time spent committing them (the write and its fsync).
	// LogEntries/LogSyncs is the group size a load reaches and
	// LogSyncTime/LogSyncs the mean fsync latency: together the most
	// writes per second the disk lets the log commit.
	LogSyncs, LogEntries uint64
	LogSyncTime          time.Duration
}

// Stats reports the replica's Raft and Pebble figures. It is cheap enough
// to call on every metrics scrape or health probe.
func (s *Store) Stats() Stats {
	if s.isClosed() {
		return Stats{State: raft.Shutdown.String(), LastContact: -1}
	}
	_, end, err := s.begin(s.baseCtx)
	if err != nil {
		return Stats{State: raft.Shutdown.String(), LastContact: -1}
	}
	defer end()
	st := Stats{
		State:        s.raft.State().String(),
		Term:         s.raft.CurrentTerm(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.fsm.applied.Load(),
		Retries:      s.retries.Load(),
	}
	addr, _ := s.raft.LeaderWithID()
	st.HasLeader = addr != ""
	st.CaughtUp = st.AppliedIndex >= s.lastStateIndex(st.CommitIndex)
	switch lc := s.raft.LastContact(); {
	case s.raft.State() == raft.Leader:
		st.LastContact = 0
	case lc.IsZero():
		st.LastContact = -1
	default:
		st.LastContact = time.Since(lc)
	}
	m := s.db.Metrics()
	st.DiskSpaceUsage = m.DiskSpaceUsage()
	st.Compactions = m.Compact.Count
	st.ReadAmp = m.ReadAmp()
	st.BlockCacheBytes, st.MemTableBytes = m.BlockCache.Size, int64(m.MemTable.Size)
	st.LogSyncs = s.logs.syncs.Load()
	st.LogEntries = s.logs.entries.Load()
	st.LogSyncTime = time.Duration(s.logs.syncNanos.Load())
	return st
}

// WaitCaughtUp waits until the state machine has applied every entry
// committed when the call began that reaches it: a replica that keeps up
// returns at once or within an apply, one that lags returns the context's
// error. Health checks use it, since under load the commit index always
// runs a few entries ahead of the applied index for an instant.
func (s *Store) WaitCaughtUp(ctx context.Context) error {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	return s.waitApplied(ctx, s.lastStateIndex(s.raft.CommitIndex()))
}
