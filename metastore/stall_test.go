package metastore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// stallForwarder is testForwarder, except that a call to a stalled address
// never answers until its context ends: a leader that was SIGSTOPped or
// cut off after accepting the connection.
type stallForwarder struct {
	mu      sync.Mutex
	c       *testCluster
	stalled map[string]bool
}

func (f *stallForwarder) stall(addr raft.ServerAddress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stalled[string(addr)] = true
}

func (f *stallForwarder) get(ctx context.Context, addr string) (testForwarder, error) {
	f.mu.Lock()
	c, stalled := f.c, f.stalled[addr]
	f.mu.Unlock()
	if c == nil {
		return testForwarder{}, errors.New("stall forwarder: no cluster yet")
	}
	if stalled {
		<-ctx.Done()
		return testForwarder{}, ctx.Err()
	}
	return testForwarder{c}, nil
}

func (f *stallForwarder) Apply(ctx context.Context, addr string, cmd []byte) ([]byte, error) {
	tf, err := f.get(ctx, addr)
	if err != nil {
		return nil, err
	}
	return tf.Apply(ctx, addr, cmd)
}

func (f *stallForwarder) ReadIndex(ctx context.Context, addr string) (uint64, error) {
	tf, err := f.get(ctx, addr)
	if err != nil {
		return 0, err
	}
	return tf.ReadIndex(ctx, addr)
}

// TestForwardsMoveToNewLeader: writes and linearizable reads forwarded to
// a leader that stopped answering (and reads waiting on their batched
// read index) move to the new leader as soon as it is elected, instead of
// waiting for the old one until their timeout.
func TestForwardsMoveToNewLeader(t *testing.T) {
	sf := &stallForwarder{stalled: map[string]bool{}}
	c := newTestCluster(t, 3, true, func(cfg *Config) { cfg.Forwarder = sf })
	sf.mu.Lock()
	sf.c = c
	sf.mu.Unlock()
	ctx := ctxT(t)
	old := c.waitLeader()
	mustNoErr(t, old.store().PutTenant(ctx, Tenant{ID: "t1", Created: t0}))
	mustNoErr(t, old.store().CreateContainer(ctx, Container{Tenant: "t1", Name: "c1", Created: t0}))
	f := c.followers()[0]
	c.waitCaughtUp(f)

	// The leader stalls: forwards to it hang, and it is cut off from the
	// others, who elect a new leader.
	sf.stall(old.addr)
	for _, o := range c.nodes {
		if o != old {
			o.trans.Disconnect(old.addr)
		}
	}
	old.trans.DisconnectAll()
	start := time.Now()
	type res struct {
		what string
		err  error
		at   time.Duration
	}
	out := make(chan res, 2)
	go func() {
		err := put1(ctx, f.store(), "during-stall")
		out <- res{"write", err, time.Since(start)}
	}()
	go func() {
		_, err := f.store().GetContainer(ctx, "t1", "c1")
		out <- res{"read", err, time.Since(start)}
	}()
	// A new leader is elected among the two others.
	var elected time.Duration
	for {
		if a, _ := f.store().Leader(); a != "" && a != old.addr {
			elected = time.Since(start)
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("no new leader within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 2 {
		r := <-out
		if r.err != nil {
			t.Fatalf("%s through a follower while the leader stalls: %v", r.what, r.err)
		}
		// The stores' own bound is 20 s; a few seconds past the
		// election is a move, not a timeout.
		if r.at > elected+5*time.Second {
			t.Fatalf("%s took %v, the new leader was known after %v", r.what, r.at, elected)
		}
		t.Logf("%s done %v after the stall, new leader known after %v", r.what, r.at.Round(time.Millisecond), elected.Round(time.Millisecond))
	}
}
