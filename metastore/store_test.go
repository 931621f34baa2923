package metastore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestReadIndexSkipsEntriesOutsideTheStateMachine: barriers and no-ops at
// the end of the log never reach the state machine; a read index must not
// make readers wait for them, also when the log below them was compacted.
func TestReadIndexSkipsEntriesOutsideTheStateMachine(t *testing.T) {
	s := openSingle(t, t.TempDir(), func(c *Config) {
		c.TrailingLogs = 16
		c.SnapshotThreshold = 1 << 20 // snapshots only when asked
	})
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	for i := 0; i < 30; i++ {
		mustNoErr(t, put1(ctx, s, fmt.Sprint("k", i)))
	}
	check := func(what string) {
		t.Helper()
		idx, err := s.ReadIndex(ctx)
		mustNoErr(t, err)
		if idx > s.AppliedIndex() {
			t.Fatalf("%s: read index %d above everything the state machine will apply (%d)", what, idx, s.AppliedIndex())
		}
		if _, err := s.GetArtifact(ctx, "t1", "c1", "k29"); err != nil {
			t.Fatalf("%s: linearizable read: %v", what, err)
		}
	}
	for i := 0; i < 3; i++ {
		mustNoErr(t, s.Raft().Barrier(time.Second).Error())
	}
	if last := s.Raft().LastIndex(); last <= s.AppliedIndex() {
		t.Fatalf("barriers did not extend the log (last %d, applied %d)", last, s.AppliedIndex())
	}
	check("after barriers")

	// More barriers than TrailingLogs, then a snapshot: the log is compacted
	// above the last state machine entry.
	for i := 0; i < 40; i++ {
		mustNoErr(t, s.Raft().Barrier(time.Second).Error())
	}
	mustNoErr(t, s.Raft().Snapshot().Error())
	first, _ := s.logs.FirstIndex()
	if first <= s.AppliedIndex()+1 {
		t.Fatalf("log not compacted above the applied index (first %d, applied %d)", first, s.AppliedIndex())
	}
	check("after compaction")
}

// TestSingleNodeRestart reopens a single node on its directory: the state
// is all there, raft's restore of its own (older) snapshot is skipped, and
// writes go on.
func TestSingleNodeRestart(t *testing.T) {
	dir := t.TempDir()
	var trans *raft.InmemTransport
	open := func() *Store {
		cfg := testConfig("n1", dir)
		cfg.Bootstrap = true
		_, trans = raft.NewInmemTransport("n1-addr")
		cfg.Transport = trans
		s, err := Open(ctxT(t), cfg)
		mustNoErr(t, err)
		mustNoErr(t, s.WaitLeader(ctxT(t)))
		return s
	}
	s := open()
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	for i := 0; i < 20; i++ {
		mustNoErr(t, put1(ctx, s, fmt.Sprint("a", i)))
	}
	mustNoErr(t, s.Raft().Snapshot().Error())
	for i := 0; i < 20; i++ {
		mustNoErr(t, put1(ctx, s, fmt.Sprint("b", i)))
	}
	applied := s.AppliedIndex()
	mustNoErr(t, s.Close())
	trans.Close()

	s = open()
	defer func() { mustNoErr(t, s.Close()); trans.Close() }()
	if s.fsm.restores.Load() != 0 {
		t.Fatal("restart restored its older snapshot over newer local state")
	}
	if s.AppliedIndex() < applied {
		t.Fatalf("applied index went back from %d to %d", applied, s.AppliedIndex())
	}
	u, err := s.ContainerUsage(ctx, "t1", "c1")
	mustNoErr(t, err)
	if u.Artifacts != 40 {
		t.Fatalf("usage after restart %+v (an entry was lost or applied twice)", u)
	}
	mustNoErr(t, put1(ctx, s, "c"))
	wantErr(t, s.CreateContainer(ctx, Container{Tenant: "t1", Name: "c1"}), ErrExists)
}

// TestFollowerWithoutForwarder: a node that does not lead and cannot
// forward says so, for writes and linearizable reads, but serves stale
// reads.
func TestFollowerWithoutForwarder(t *testing.T) {
	c := newTestCluster(t, 2, true, func(cfg *Config) { cfg.Forwarder = nil })
	ctx := ctxT(t)
	l := c.currentLeader()
	mkContainer(t, l.store(), "t1", "c1")
	f := c.followers()[0]
	err := f.store().CreateContainer(ctx, Container{Tenant: "t1", Name: "c2"})
	if !errors.Is(err, ErrNotLeader) && c.waitLeader() != f {
		t.Fatalf("write on follower: %v", err)
	}
	f = c.followers()[0]
	_, err = f.store().GetContainer(ctx, "t1", "c1")
	wantErr(t, err, ErrNotLeader)
	_, err = f.store().ReadIndex(ctx)
	wantErr(t, err, ErrNotLeader)
	c.waitCaughtUp(f)
	if _, err := f.store().GetContainer(ctx, "t1", "c1", Stale); err != nil {
		t.Fatalf("stale read on follower: %v", err)
	}
}

// TestNoQuorumReportsNotLeader: a node cut off from any quorum gives up
// after ApplyTimeout with an error that says no leader answered (which the
// S3 layer reports as 503, retry), not as the caller's own timeout.
func TestNoQuorumReportsNotLeader(t *testing.T) {
	c := newTestCluster(t, 2, true, func(cfg *Config) { cfg.ApplyTimeout = 700 * time.Millisecond })
	l := c.currentLeader()
	f := c.followers()[0]
	c.stop(l)                   // the survivor alone is no quorum: no leader can be elected
	ctx := context.Background() // no deadline: the Store's bound applies
	err := f.store().CreateContainer(ctx, Container{Tenant: "t1", Name: "c9"})
	if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrLeadershipLost) {
		t.Fatalf("write without quorum: %v, want ErrNotLeader or ErrLeadershipLost", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write without quorum reported as a timeout: %v", err)
	}
	if _, err := f.store().GetContainer(ctx, "t1", "c9"); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("linearizable read without quorum: %v, want ErrNotLeader", err)
	}
	// The caller's own deadline is still reported as such.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := f.store().CreateContainer(short, Container{Tenant: "t1", Name: "c9"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write with the caller's deadline: %v, want context.DeadlineExceeded", err)
	}
}

// TestCloseDoesNotWaitForAFrozenPeer: a voter that accepts connections but
// never reads (a frozen or partitioned host) must not hold Close: raft's
// shutdown waits for its replication goroutines, one of which is stuck
// on that peer, so the Store closes the transport under it after
// raftShutdownGrace.
func TestCloseDoesNotWaitForAFrozenPeer(t *testing.T) {
	frozen, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := frozen.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never read
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	cfg := testConfig("n1", t.TempDir())
	cfg.Bootstrap, cfg.BindAddr = true, "127.0.0.1:0"
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustNoErr(t, s.WaitLeader(ctxT(t)))
	// Not waited for: the new configuration needs the frozen voter.
	s.Raft().AddVoter("frozen", raft.ServerAddress(frozen.Addr().String()), 0, 0)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	// A hang bound, not a performance figure: without closing the
	// transport, raft waits out its 10 s network timeout at best.
	if took := time.Since(start); took > raftShutdownGrace+5*time.Second {
		t.Fatalf("Close took %v with a frozen peer", took)
	}
}
