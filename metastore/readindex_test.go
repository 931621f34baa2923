package metastore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// countingForwarder counts the read-index requests a follower forwards.
type countingForwarder struct {
	Forwarder
	readIndexes atomic.Int64
}

func (f *countingForwarder) ReadIndex(ctx context.Context, addr string) (uint64, error) {
	f.readIndexes.Add(1)
	return f.Forwarder.ReadIndex(ctx, addr)
}

// newCountingCluster starts a 3-node cluster whose forwarders count the
// read-indexes they forward, and returns it with a follower and that
// follower's counter (the leader holds container t1/c1).
func newCountingCluster(t *testing.T) (c *testCluster, l, f *testNode, counter *countingForwarder) {
	fwd := map[string]*countingForwarder{}
	var mu sync.Mutex
	c = newTestCluster(t, 3, true, func(cfg *Config) {
		cf := &countingForwarder{Forwarder: cfg.Forwarder}
		mu.Lock()
		fwd[cfg.NodeID] = cf
		mu.Unlock()
		cfg.Forwarder = cf
	})
	l = c.waitLeader()
	mkContainer(t, l.store(), "t1", "c1")
	f = c.followers()[0]
	mu.Lock()
	defer mu.Unlock()
	return c, l, f, fwd[f.id]
}

// TestReadIndexBatching: concurrent linearizable reads on a follower share
// read-index rounds, and each still sees every write acknowledged before
// it started.
func TestReadIndexBatching(t *testing.T) {
	_, l, f, counter := newCountingCluster(t)
	ctx := ctxT(t)
	before := counter.readIndexes.Load()

	// A writer on the leader publishes versions 1..n; readers on the
	// follower must see at least the version acknowledged before their
	// read began.
	const readers, reads, versions = 32, 20, 40
	var acked atomic.Int64
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		defer close(werr)
		for v := int64(1); v <= versions; v++ {
			if _, err := l.store().PutArtifact(ctx, Artifact{Tenant: "t1", Container: "c1", Key: "k", Size: v}, Cond{}); err != nil {
				werr <- err
				return
			}
			acked.Store(v)
		}
		<-stop
	}()
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < reads; i++ {
				floor := acked.Load()
				a, err := f.store().GetArtifact(ctx, "t1", "c1", "k")
				switch {
				case err != nil && floor > 0:
					errs <- err
					return
				case err == nil && a.Size < floor:
					errs <- fmt.Errorf("read version %d after version %d was acknowledged", a.Size, floor)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	forwarded := counter.readIndexes.Load() - before
	if forwarded <= 0 || forwarded >= readers*reads {
		t.Fatalf("%d linearizable reads forwarded %d read-index requests: want batching (fewer, and at least one)", readers*reads, forwarded)
	}
	t.Logf("%d linearizable reads on a follower: %d read-index round trips to the leader", readers*reads, forwarded)
}

// TestReadScopeSharesOneBarrier: the linearizable reads of one scope cost
// one read-index round trip from a follower, and the first sees every
// write acknowledged before it.
func TestReadScopeSharesOneBarrier(t *testing.T) {
	_, l, f, counter := newCountingCluster(t)
	ctx := ctxT(t)

	read3 := func(ctx context.Context, want int64) {
		t.Helper()
		if _, err := f.store().GetContainer(ctx, "t1", "c1"); err != nil {
			t.Fatal(err)
		}
		a, err := f.store().GetArtifact(ctx, "t1", "c1", "k")
		if err != nil || a.Size != want {
			t.Fatalf("artifact %+v, %v; want size %d", a, err, want)
		}
		if _, err := f.store().ContainerUsage(ctx, "t1", "c1"); err != nil {
			t.Fatal(err)
		}
	}
	for v := int64(1); v <= 3; v++ {
		if _, err := l.store().PutArtifact(ctx, Artifact{Tenant: "t1", Container: "c1", Key: "k", Size: v}, Cond{}); err != nil {
			t.Fatal(err)
		}
		before := counter.readIndexes.Load()
		read3(WithReadScope(ctx), v)
		if n := counter.readIndexes.Load() - before; n != 1 {
			t.Fatalf("3 reads in one scope forwarded %d read-indexes, want 1", n)
		}
	}
	before := counter.readIndexes.Load()
	read3(ctx, 3)
	if n := counter.readIndexes.Load() - before; n != 3 {
		t.Fatalf("3 reads without a scope forwarded %d read-indexes, want 3", n)
	}
}
