package node_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vaultaire/vaultaire/drivers/local"
	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// engineCluster is three real engines, each on its own drives and its own
// metastore replica, in one Raft group over in-memory transports; a
// follower forwards writes and read indexes to the leader's Store, as
// cluster.Forwarder does over RPC. Followers learn a commit only with the
// leader's next message (at most commitTimeout later), so a follower's
// local state trails every write by up to that much.
type engineCluster struct {
	mu     sync.Mutex
	stores map[raft.ServerAddress]*metastore.Store
	engs   []*node.Engine
	metas  []*metastore.Store
	base   string // node i's drives are base/n<i>/drives/<d>
	// fault, when set, is what the forwarded command meets on its way
	// (see forwardFault).
	fault forwardFault
	// readIndexes counts the read-index rounds followers asked the leader
	// for.
	readIndexes atomic.Int64
}

// forwardFault is a network fault on a follower's forwarded writes.
type forwardFault int

const (
	forwardOK forwardFault = iota
	// forwardLoseRequest: the command never reaches the leader; the
	// follower cannot tell, as on a connection cut mid-request.
	forwardLoseRequest
	// forwardLoseReply: the leader applies the command, its reply is
	// lost.
	forwardLoseReply
)

func (c *engineCluster) setFault(f forwardFault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault = f
}

// leader returns the index of the engine whose store leads.
func (c *engineCluster) leader(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		for i, m := range c.metas {
			if m.IsLeader() && m.WaitLeader(ctx) == nil && m.IsLeader() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader")
	return -1
}

const commitTimeout = 300 * time.Millisecond

type engineForwarder struct{ c *engineCluster }

func (f engineForwarder) store(addr string) (*metastore.Store, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if s := f.c.stores[raft.ServerAddress(addr)]; s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("no node at %s", addr)
}

func (f engineForwarder) Apply(ctx context.Context, addr string, cmd []byte) ([]byte, error) {
	s, err := f.store(addr)
	if err != nil {
		return nil, err
	}
	f.c.mu.Lock()
	fault := f.c.fault
	f.c.mu.Unlock()
	// What cluster.Forwarder reports when the connection fails after the
	// request may have been sent.
	lost := fmt.Errorf("forward to %s: %w: connection reset", addr, metastore.ErrLeadershipLost)
	if fault == forwardLoseRequest {
		return nil, lost
	}
	resp, err := s.ApplyEncoded(ctx, cmd)
	if fault == forwardLoseReply {
		return nil, lost
	}
	return resp, metastore.UnmarshalError(metastore.MarshalError(err))
}

func (f engineForwarder) ReadIndex(ctx context.Context, addr string) (uint64, error) {
	f.c.readIndexes.Add(1)
	s, err := f.store(addr)
	if err != nil {
		return 0, err
	}
	idx, err := s.ReadIndex(ctx)
	return idx, metastore.UnmarshalError(metastore.MarshalError(err))
}

// startEngineCluster starts the cluster (engine 0 leads at first).
func startEngineCluster(t *testing.T) *engineCluster {
	t.Helper()
	return startEngineClusterWith(t, nil, nil)
}

// startEngineClusterWith is startEngineCluster with the configurations of
// the stores and engines adjusted by metaCfg and engCfg (either nil).
func startEngineClusterWith(t *testing.T, metaCfg func(*metastore.Config), engCfg func(*node.Config)) *engineCluster {
	t.Helper()
	c := &engineCluster{stores: map[raft.ServerAddress]*metastore.Store{}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := t.TempDir()
	c.base = base
	var trans []*raft.InmemTransport
	for i := range 3 {
		id := fmt.Sprintf("n%d", i)
		addr, tr := raft.NewInmemTransport(raft.ServerAddress(id))
		for j, o := range trans {
			o.Connect(addr, tr)
			tr.Connect(raft.ServerAddress(fmt.Sprintf("n%d", j)), o)
		}
		trans = append(trans, tr)
		mc := metastore.Config{
			NodeID: id, Dir: filepath.Join(base, id, "meta"), Transport: tr, Bootstrap: i == 0,
			MasterKey: []byte("0123456789abcdef0123456789abcdef"), Logger: slog.New(slog.DiscardHandler),
			HeartbeatTimeout: time.Second, ElectionTimeout: time.Second,
			LeaderLeaseTimeout: 500 * time.Millisecond, CommitTimeout: commitTimeout,
			Forwarder: engineForwarder{c},
		}
		if metaCfg != nil {
			metaCfg(&mc)
		}
		meta, err := metastore.Open(ctx, mc)
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		c.stores[addr] = meta
		c.mu.Unlock()
		var drives []node.Drive
		for d := range 4 {
			ld, err := local.New(local.Config{Dir: filepath.Join(base, id, "drives", fmt.Sprint(d)), ID: fmt.Sprintf("%s-d%d", id, d)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ld.Close() })
			drives = append(drives, node.Drive{ID: fmt.Sprintf("%s-d%d", id, d), Node: id, Driver: ld})
		}
		t.Cleanup(func() { meta.Close(); tr.Close() })
		if i == 0 {
			if err := meta.WaitLeader(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			// Through whichever node leads now (a slow machine may move
			// the leadership while the group grows).
			for {
				err := c.metas[c.leader(t)].Raft().AddVoter(raft.ServerID(id), addr, 0, 10*time.Second).Error()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("adding %s: %v", id, err)
				}
			}
		}
		c.metas = append(c.metas, meta)
		ec := node.Config{NodeID: id, Drives: drives, Meta: meta, PasswordCost: 4,
			Shape: erasure.Shape{Data: 2, Parity: 2, BlockSize: erasure.DefaultBlockSize}, SSERootKey: []byte("nodetest-sse-root-key-32-bytes!!")}
		if engCfg != nil {
			engCfg(&ec)
		}
		eng, err := node.New(ec)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		if i == 0 {
			if err := eng.EnsureRoot(ctx, "VATESTROOTKEY", "vaultaire-test-secret-key"); err != nil {
				t.Fatal(err)
			}
		}
		c.engs = append(c.engs, eng)
	}
	return c
}

// TestBucketDefaultReadYourWritesAcrossNodes: a bucket's default
// encryption, switched on and off through the leader, decides the very
// next write through a follower, even one made outside a request's read
// scope (which S3 requests run in): the engine reads the container with a
// barrier, not from a follower's possibly trailing local state. Small
// artifacts are inline, so the engines need no shared drives.
func TestBucketDefaultReadYourWritesAcrossNodes(t *testing.T) {
	c := startEngineCluster(t)
	ctx := context.Background()
	l := c.leader(t)
	leader := c.engs[l]
	if err := leader.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	// Let the followers learn of the container, so what is checked below
	// is the default encryption alone.
	time.Sleep(3 * commitTimeout)
	for round := range 6 {
		on := round%2 == 0
		value := map[bool]string{true: node.EncryptionSSES3}[on]
		if err := leader.SetContainerConfig(ctx, tenant, "b", node.ContainerConfigEncryption, value); err != nil {
			t.Fatal(err)
		}
		f := c.engs[(l+1+round%2)%3] // a follower
		key := fmt.Sprintf("k%d", round)
		info, err := f.PutArtifact(ctx, tenant, node.PutInput{Container: "b", Key: key, Body: bytes.NewReader([]byte("small")), Size: 5})
		if err != nil {
			t.Fatal(err)
		}
		if info.Encryption != value {
			t.Fatalf("round %d: default %q set through the leader, the next PUT through a follower got %q", round, value, info.Encryption)
		}
		up, err := f.CreateUpload(ctx, tenant, node.UploadInput{Container: "b", Key: key + "-mp"})
		if err != nil {
			t.Fatal(err)
		}
		if up.Encryption != value {
			t.Fatalf("round %d: the next upload through a follower got %q, want %q", round, up.Encryption, value)
		}
	}
}
