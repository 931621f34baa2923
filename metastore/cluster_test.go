package metastore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testCluster runs several Stores in one process, over raft's in-memory
// transport or over real TCP on 127.0.0.1.
type testCluster struct {
	t     testing.TB
	inmem bool
	mod   func(*Config)
	base  string

	mu    sync.Mutex
	nodes []*testNode
}

type testNode struct {
	id    string
	dir   string
	addr  raft.ServerAddress
	trans *raft.InmemTransport // inmem only

	mu sync.Mutex
	s  *Store
}

func (n *testNode) store() *Store {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s
}

// testForwarder reaches the leader by calling its Store directly, with the
// errors passed through MarshalError/UnmarshalError as a real RPC would.
type testForwarder struct{ c *testCluster }

func (f testForwarder) Apply(ctx context.Context, addr string, cmd []byte) ([]byte, error) {
	s := f.c.storeAt(raft.ServerAddress(addr))
	if s == nil {
		return nil, fmt.Errorf("test forwarder: no node at %s", addr)
	}
	resp, err := s.ApplyEncoded(ctx, cmd)
	return resp, UnmarshalError(MarshalError(err))
}

func (f testForwarder) ReadIndex(ctx context.Context, addr string) (uint64, error) {
	s := f.c.storeAt(raft.ServerAddress(addr))
	if s == nil {
		return 0, fmt.Errorf("test forwarder: no node at %s", addr)
	}
	idx, err := s.ReadIndex(ctx)
	return idx, UnmarshalError(MarshalError(err))
}

func (c *testCluster) storeAt(addr raft.ServerAddress) *Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.addr == addr {
			return n.store()
		}
	}
	return nil
}

// newTestCluster starts n nodes: the first bootstraps, the others join as
// voters (through AddVoter on the leader, as package node will do).
func newTestCluster(t testing.TB, n int, inmem bool, mod func(*Config)) *testCluster {
	// Node directories live under one base directory created before the
	// cleanup below is registered, so they are removed after the nodes
	// are closed.
	c := &testCluster{t: t, inmem: inmem, mod: mod, base: t.TempDir()}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if s := n.store(); s != nil {
				if err := s.Close(); err != nil {
					t.Errorf("close %s: %v", n.id, err)
				}
			}
			if n.trans != nil {
				n.trans.Close()
			}
		}
	})
	for i := 1; i <= n; i++ {
		c.addNode(i == 1)
		if i == 1 {
			c.waitLeader()
		} else {
			c.join(c.nodes[i-1])
		}
	}
	return c
}

// addNode creates and starts a new node.
func (c *testCluster) addNode(bootstrap bool) *testNode {
	c.mu.Lock()
	id := fmt.Sprintf("n%d", len(c.nodes)+1)
	n := &testNode{id: id, dir: filepath.Join(c.base, id)}
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	c.start(n, bootstrap)
	return n
}

// start opens the node's Store on its data directory (again, for a
// restart).
func (c *testCluster) start(n *testNode, bootstrap bool) {
	c.t.Helper()
	cfg := testConfig(n.id, n.dir)
	// Slower than a single node's timings: a leader whose goroutines are
	// starved (race detector, packages tested in parallel on two cores)
	// must not lose its lease and flap.
	cfg.HeartbeatTimeout = 500 * time.Millisecond
	cfg.ElectionTimeout = 500 * time.Millisecond
	cfg.LeaderLeaseTimeout = 250 * time.Millisecond
	cfg.Bootstrap = bootstrap
	cfg.Forwarder = testForwarder{c}
	if c.inmem {
		if n.addr == "" {
			n.addr = raft.ServerAddress(n.id + "-addr")
		}
		_, n.trans = raft.NewInmemTransport(n.addr)
		cfg.Transport = n.trans
		c.mu.Lock()
		for _, o := range c.nodes {
			if o != n && o.trans != nil {
				o.trans.Connect(n.addr, n.trans)
				n.trans.Connect(o.addr, o.trans)
			}
		}
		c.mu.Unlock()
	} else {
		cfg.BindAddr = "127.0.0.1:0"
		if n.addr != "" {
			cfg.BindAddr = string(n.addr) // a restart keeps its address
		}
	}
	if c.mod != nil {
		c.mod(&cfg)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		c.t.Fatalf("open %s: %v", n.id, err)
	}
	n.mu.Lock()
	n.s = s
	n.addr = s.Addr()
	n.mu.Unlock()
}

// stop closes a node's Store (its data stays).
func (c *testCluster) stop(n *testNode) {
	c.t.Helper()
	n.mu.Lock()
	s := n.s
	n.s = nil
	n.mu.Unlock()
	if c.inmem {
		// Cut it off first, as a crash would.
		c.mu.Lock()
		for _, o := range c.nodes {
			if o != n && o.trans != nil {
				o.trans.Disconnect(n.addr)
			}
		}
		c.mu.Unlock()
		n.trans.DisconnectAll()
	}
	if err := s.Close(); err != nil {
		c.t.Errorf("close %s: %v", n.id, err)
	}
	if n.trans != nil {
		n.trans.Close()
		n.trans = nil
	}
}

// join adds n as a voter through the leader and waits until it has
// applied everything the leader had.
func (c *testCluster) join(n *testNode) {
	c.t.Helper()
	ctx := ctxT(c.t)
	for {
		l := c.currentLeader()
		err := l.store().Raft().AddVoter(raft.ServerID(n.id), n.addr, 0, 10*time.Second).Error()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			c.t.Fatalf("AddVoter %s: %v", n.id, err)
		}
	}
	c.waitCaughtUp(n)
}

// currentLeader waits until one running node leads and is ready, whatever
// the others know.
func (c *testCluster) currentLeader() *testNode {
	c.t.Helper()
	ctx := ctxT(c.t)
	for {
		c.mu.Lock()
		nodes := append([]*testNode(nil), c.nodes...)
		c.mu.Unlock()
		for _, n := range nodes {
			if s := n.store(); s != nil && s.IsLeader() {
				if err := s.WaitLeader(ctx); err == nil && s.IsLeader() {
					return n
				}
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatal("no leader")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitLeader waits until every running node knows the same leader, that
// leader leads, and it is ready for reads and writes.
func (c *testCluster) waitLeader() *testNode {
	c.t.Helper()
	ctx := ctxT(c.t)
	for {
		var leader *testNode
		agreed := true
		c.mu.Lock()
		nodes := append([]*testNode(nil), c.nodes...)
		c.mu.Unlock()
		for _, n := range nodes {
			s := n.store()
			if s == nil {
				continue
			}
			addr, _ := s.Leader()
			if addr == "" {
				agreed = false
				break
			}
			for _, o := range nodes {
				if o.addr == addr && o.store() != nil && o.store().IsLeader() {
					if leader != nil && leader != o {
						agreed = false
					}
					leader = o
				}
			}
			if leader == nil || leader.addr != addr {
				agreed = false
			}
		}
		if agreed && leader != nil {
			if err := leader.store().WaitLeader(ctx); err == nil && leader.store().IsLeader() {
				return leader
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatal("no agreed leader")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitCaughtUp waits until n's state machine has applied the leader's
// commit index.
func (c *testCluster) waitCaughtUp(n *testNode) {
	c.t.Helper()
	ctx := ctxT(c.t)
	for {
		l := c.currentLeader()
		idx, err := l.store().ReadIndex(ctx)
		if err == nil {
			if err := n.store().waitApplied(ctx, idx); err != nil {
				c.t.Fatalf("%s catching up: %v", n.id, err)
			}
			return
		}
		if ctx.Err() != nil {
			c.t.Fatalf("read index: %v", err)
		}
	}
}

// transferLeadership moves leadership off the current leader and returns
// the old and the new leader.
func (c *testCluster) transferLeadership() (from, to *testNode) {
	c.t.Helper()
	for attempt := 0; ; attempt++ {
		from = c.waitLeader()
		err := from.store().Raft().LeadershipTransfer().Error()
		to = c.waitLeader()
		if err == nil && to != from {
			return from, to
		}
		if attempt == 20 {
			c.t.Fatalf("leadership transfer: %v", err)
		}
	}
}

func (c *testCluster) followers() []*testNode {
	l := c.waitLeader()
	var out []*testNode
	for _, n := range c.nodes {
		if n != l && n.store() != nil {
			out = append(out, n)
		}
	}
	return out
}

func TestClusterInmem(t *testing.T) {
	runClusterScenario(t, newTestCluster(t, 3, true, nil))
}

func TestClusterTCP(t *testing.T) {
	c := newTestCluster(t, 3, false, nil)
	for _, n := range c.nodes {
		if host := string(n.addr); len(host) < 10 || host[:10] != "127.0.0.1:" {
			t.Fatalf("node %s is at %s, not on loopback", n.id, n.addr)
		}
	}
	runClusterScenario(t, c)
}

// writeLoad runs writers that each put fresh keys with If-None-Match
// through the given nodes, until each has done perWriter writes. An acked
// key is recorded; an attempt that fails is retried under a new key. Any
// ErrPreconditionFailed means some command was applied twice.
type writeLoad struct {
	mu      sync.Mutex
	acked   []string
	errs    []error
	dupes   atomic.Int64
	started atomic.Int64
}

func (w *writeLoad) run(ctx context.Context, c *testCluster, nodes []*testNode, writers, perWriter int, tag string) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 9))
			for j := 0; j < perWriter; j++ {
				key := fmt.Sprintf("%s/w%d/%04d", tag, i, j)
				n := nodes[r.IntN(len(nodes))]
				s := n.store()
				if s == nil {
					j--
					continue
				}
				w.started.Add(1)
				_, err := s.PutArtifact(ctx, Artifact{Tenant: "t1", Container: "c1", Key: key, Size: 1, Created: t0}, Cond{IfNoneMatch: true})
				w.mu.Lock()
				switch {
				case err == nil:
					w.acked = append(w.acked, key)
				case errors.Is(err, ErrPreconditionFailed):
					w.dupes.Add(1)
					w.errs = append(w.errs, fmt.Errorf("%s: %w", key, err))
				default:
					w.errs = append(w.errs, fmt.Errorf("%s: %w", key, err))
				}
				w.mu.Unlock()
				if ctx.Err() != nil {
					return
				}
			}
		}(i)
	}
	return &wg
}

func (w *writeLoad) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// checkAcked verifies on every running node that every acked key is there
// (linearizable read) and that usage agrees with the artifacts listed.
func checkAcked(t *testing.T, c *testCluster, w *writeLoad) {
	t.Helper()
	ctx := ctxT(t)
	if d := w.dupes.Load(); d > 0 {
		t.Fatalf("%d writes failed their If-None-Match: a command was applied twice (%v)", d, w.errs)
	}
	for _, n := range c.nodes {
		s := n.store()
		if s == nil {
			continue
		}
		for _, k := range w.acked {
			if _, err := s.GetArtifact(ctx, "t1", "c1", k); err != nil {
				t.Fatalf("%s: acked write %s: %v", n.id, k, err)
			}
		}
		var listed int64
		opts := ListOptions{}
		for {
			res, err := s.ListArtifacts(ctx, "t1", "c1", opts)
			mustNoErr(t, err)
			listed += int64(len(res.Artifacts))
			if !res.Truncated {
				break
			}
			opts.StartAfter = res.Next
		}
		u, err := s.ContainerUsage(ctx, "t1", "c1")
		mustNoErr(t, err)
		if u.Artifacts != listed || u.Bytes != listed {
			t.Fatalf("%s: usage %+v but %d artifacts listed", n.id, u, listed)
		}
	}
}

func runClusterScenario(t *testing.T, c *testCluster) {
	ctx := ctxT(t)
	leader := c.waitLeader()
	fs := c.followers()
	if len(fs) != 2 {
		t.Fatalf("%d followers", len(fs))
	}
	// Replication: a write on the leader and one forwarded by a follower
	// are visible to linearizable reads on every node at once.
	mustNoErr(t, leader.store().PutTenant(ctx, Tenant{ID: "t1", Created: t0}))
	mustNoErr(t, fs[0].store().CreateContainer(ctx, Container{Tenant: "t1", Name: "c1", Created: t0}))
	for _, n := range c.nodes {
		if _, err := n.store().GetTenant(ctx, "t1"); err != nil {
			t.Fatalf("%s: %v", n.id, err)
		}
		if _, err := n.store().GetContainer(ctx, "t1", "c1"); err != nil {
			t.Fatalf("%s: %v", n.id, err)
		}
	}
	// Errors decided by the state machine come back through forwarding as
	// the same sentinels.
	wantErr(t, fs[1].store().CreateContainer(ctx, Container{Tenant: "t1", Name: "c1"}), ErrExists)
	_, err := fs[1].store().PutArtifact(ctx, Artifact{Tenant: "t1", Container: "nope", Key: "k"}, Cond{})
	wantErr(t, err, ErrContainerNotFound)
	_, err = fs[0].store().PutArtifact(ctx, Artifact{Tenant: "t1", Container: "c1", Key: "k", Size: 1}, Cond{IfMatchETag: "x"})
	wantErr(t, err, ErrPreconditionFailed)
	// A stale read on a follower sees the write once it has applied it.
	c.waitCaughtUp(fs[1])
	if _, err := fs[1].store().GetContainer(ctx, "t1", "c1", Stale); err != nil {
		t.Fatal(err)
	}

	// The same encoded command proposed twice (what a retry after a lost
	// leadership does), through two different leaders: applied once, and
	// both answers are the first one's.
	cmd := encodeCommand(cmdPutArtifact, newRequestID(), time.Now(), &putArtifactCmd{
		a: Artifact{Tenant: "t1", Container: "c1", Key: "retried", Size: 1}, cond: Cond{IfNoneMatch: true}})
	r1, err := c.waitLeader().store().ApplyEncoded(ctx, cmd)
	mustNoErr(t, err)
	_, leader2 := c.transferLeadership()
	r2, err := leader2.store().ApplyEncoded(ctx, cmd)
	mustNoErr(t, err)
	if _, err := decodeResult(r2); err != nil || string(r1) != string(r2) {
		t.Fatalf("retried command answered %v (%x vs %x)", err, r2, r1)
	}
	// A follower refuses to apply for others; an unknown command type is
	// refused before it reaches the log.
	for attempt := 0; ; attempt++ {
		f := c.followers()[0]
		_, err = f.store().ApplyEncoded(ctx, cmd)
		if errors.Is(err, ErrNotLeader) {
			break
		}
		if attempt == 10 || c.waitLeader() != f { // it did not just become leader
			t.Fatalf("ApplyEncoded on a follower: %v", err)
		}
	}
	_, err = c.waitLeader().store().ApplyEncoded(ctx, encodeCommand(cmdType(120), newRequestID(), time.Now(), noopCmd{}))
	wantErr(t, err, ErrUnsupportedCommand)

	// Writes in flight through every node while leadership is handed over.
	w := &writeLoad{}
	wg := w.run(ctx, c, c.nodes, 4, 40, "transfer")
	waitForAcks(t, w, 20)
	c.transferLeadership()
	wg.Wait()
	checkAcked(t, c, w)

	// Leader failure with writes in flight through the followers: no acked
	// write is lost, none is applied twice, a new leader takes over.
	leader = c.waitLeader()
	fs = c.followers()
	w2 := &writeLoad{}
	wg = w2.run(ctx, c, fs, 4, 40, "failover")
	waitForAcks(t, w2, 20)
	c.stop(leader)
	wg.Wait()
	newLeader := c.waitLeader()
	if newLeader == leader {
		t.Fatal("stopped node still leads")
	}
	if len(w2.errs) > 0 {
		t.Logf("writes failed during failover (allowed, not acked): %v", w2.errs)
	}
	var retries uint64
	for _, n := range fs {
		retries += n.store().retries.Load()
	}
	t.Logf("failover: %d writes acked, %d attempts retried", len(w2.acked), retries)
	checkAcked(t, c, w2)

	// The old leader restarts from its data directory as a follower and
	// catches up with what it missed.
	mustNoErr(t, put1(ctx, newLeader.store(), "after-restart"))
	c.start(leader, false)
	c.waitCaughtUp(leader)
	if _, err := leader.store().GetArtifact(ctx, "t1", "c1", "after-restart", Stale); err != nil {
		t.Fatalf("restarted node missed a write: %v", err)
	}
	all := &writeLoad{acked: append(append([]string(nil), w.acked...), w2.acked...)}
	checkAcked(t, c, all)
	if leader.store().IsLeader() {
		c.waitLeader()
	}
}

// put1 puts a one-byte artifact in t1/c1.
func put1(ctx context.Context, s *Store, key string) error {
	_, err := s.PutArtifact(ctx, Artifact{Tenant: "t1", Container: "c1", Key: key, Size: 1}, Cond{})
	return err
}

func waitForAcks(t *testing.T, w *writeLoad, n int) {
	t.Helper()
	ctx := ctxT(t)
	for w.ackedCount() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d writes acked (%v)", w.ackedCount(), w.errs)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestClusterSnapshotCatchUp makes the log compact often, so a node that
// joins late, and one that was down while the log moved on, can only catch
// up by installing a snapshot.
func TestClusterSnapshotCatchUp(t *testing.T) {
	c := newTestCluster(t, 2, true, func(cfg *Config) {
		cfg.SnapshotThreshold = 64
		cfg.TrailingLogs = 16
		cfg.SnapshotInterval = 20 * time.Millisecond
	})
	ctx := ctxT(t)
	l := c.waitLeader().store()
	mkContainer(t, l, "t1", "c1")
	put := func(from, to int) {
		for i := from; i < to; i++ {
			mustNoErr(t, put1(ctx, c.waitLeader().store(), fmt.Sprintf("k%04d", i)))
		}
	}
	put(0, 300)
	waitSnapshotCompaction(t, c, 100)

	n3 := c.addNode(false)
	c.join(n3)
	if n3.store().fsm.restores.Load() == 0 {
		t.Fatal("late joiner caught up without a snapshot: the log was not compacted")
	}
	checkKeys := func(n *testNode, count int) {
		t.Helper()
		c.waitCaughtUp(n)
		res, err := n.store().ListArtifacts(ctx, "t1", "c1", ListOptions{}, Stale)
		mustNoErr(t, err)
		if len(res.Artifacts) != count {
			t.Fatalf("%s holds %d artifacts, want %d", n.id, len(res.Artifacts), count)
		}
		u, err := n.store().ContainerUsage(ctx, "t1", "c1", Stale)
		mustNoErr(t, err)
		if u.Artifacts != int64(count) {
			t.Fatalf("%s usage %+v", n.id, u)
		}
	}
	checkKeys(n3, 300)

	// n3 goes down; the log moves on and is compacted past its position.
	for c.waitLeader() == n3 {
		c.transferLeadership()
	}
	c.stop(n3)
	put(300, 600)
	waitSnapshotCompaction(t, c, 400)
	c.start(n3, false)
	checkKeys(n3, 600)
	if n3.store().fsm.restores.Load() == 0 {
		t.Fatal("restarted node caught up without a snapshot")
	}
	// Every node ends with the same 600 artifacts.
	for _, n := range c.nodes {
		checkKeys(n, 600)
	}
}

// waitSnapshotCompaction waits until every running node's log starts
// beyond index min (a snapshot was taken and the log compacted).
func waitSnapshotCompaction(t *testing.T, c *testCluster, min uint64) {
	t.Helper()
	ctx := ctxT(t)
	for {
		ok := true
		for _, n := range c.nodes {
			if s := n.store(); s != nil {
				if first, _ := s.logs.FirstIndex(); first <= min {
					ok = false
				}
			}
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("logs were not compacted")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestCloseHandsLeadershipOver: a leader that is closed on purpose hands
// leadership to another voter before it stops, and the cluster keeps
// accepting writes.
func TestCloseHandsLeadershipOver(t *testing.T) {
	c := newTestCluster(t, 3, false, nil)
	l := c.waitLeader()
	term := l.store().Raft().Stats()["term"]
	l.store().handOver()
	if l.store().IsLeader() {
		t.Fatalf("%s still leads after handOver", l.id)
	}
	next := c.currentLeader()
	if next == l {
		t.Fatalf("leadership did not move")
	}
	mkContainer(t, next.store(), "t1", "after-handover")
	t.Logf("leadership moved from %s to %s (term %s -> %s)", l.id, next.id, term, next.store().Raft().Stats()["term"])
}
