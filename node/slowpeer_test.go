package node_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/local"
	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// How a stallDriver treats shard names ending in its suffix.
const (
	healthy     = iota
	stallPut    // Put takes no byte: a peer whose connection stopped moving
	neverCommit // Put reads everything, then never answers
	stallOpen   // Open never answers
)

// stallDriver is a drive of a peer that stopped answering for some
// shards: its calls wait until their context ends, as a stalled or
// partitioned peer's do until the connection gives up.
type stallDriver struct {
	drivers.Driver
	mode   *atomic.Int32
	suffix *atomic.Value // string
}

// hungMode and anySuffix make a stallDriver whose every Put reads the
// shard and never answers.
var (
	hungMode  = func() *atomic.Int32 { var m atomic.Int32; m.Store(neverCommit); return &m }()
	anySuffix = func() *atomic.Value { var v atomic.Value; v.Store("*"); return &v }()
)

func (d stallDriver) hit(name string) int32 {
	s, _ := d.suffix.Load().(string)
	if s == "" || (s != "*" && !strings.HasSuffix(name, s)) {
		return healthy
	}
	return d.mode.Load()
}

func (d stallDriver) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	switch d.hit(name) {
	case stallPut:
		<-ctx.Done()
		return 0, ctx.Err()
	case neverCommit:
		io.Copy(io.Discard, r)
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return d.Driver.Put(ctx, name, r)
}

func (d stallDriver) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if d.hit(name) == stallOpen {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return d.Driver.Open(ctx, name, off, length)
}

// TestWritesAndReadsDoNotWaitForAStalledDrive: a PUT whose shard stream
// stops moving, or whose shard is never acknowledged, is acknowledged at
// the write quorum after the stall timeout or the straggler window (and
// the shard is healed later), and a GET whose data shard does not answer
// reads around it through parity after the hedge delay. Each used to wait
// for the drive (for a stalled peer: its connection's 10 s timeout).
func TestWritesAndReadsDoNotWaitForAStalledDrive(t *testing.T) {
	var mode atomic.Int32
	var suffix atomic.Value
	n := nodetest.StartNode(t, nodetest.Options{
		InlineThreshold: -1,
		Shape:           erasure.Shape{Data: 2, Parity: 2, BlockSize: 64 << 10},
		Wrap: func(i int, d *local.Drive) node.Drive {
			return node.Drive{ID: d.ID(), Driver: stallDriver{Driver: d, mode: &mode, suffix: &suffix}}
		},
		Tune: func(c *node.Config) {
			c.StallTimeout, c.StragglerWindow, c.ReadHedge = 200*time.Millisecond, 100*time.Millisecond, 200*time.Millisecond
		},
	})
	e := n.Engine
	mustContainer(t, e, "c")
	data := randBytes(21, 1<<20+77) // 9 stripes
	for _, tc := range []struct {
		name  string
		mode  int32
		shard string
	}{
		{"shard stream stalls", stallPut, "/3"},
		{"shard never acknowledged", neverCommit, "/2"},
	} {
		mode.Store(tc.mode)
		suffix.Store(tc.shard)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		_, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: tc.name, Body: bytes.NewReader(data), Size: int64(len(data))})
		cancel()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s: PUT failed after %v: %v", tc.name, took, err)
		}
		// A bound on a hang, not a performance figure: the drive never
		// answers, and the PUT's own deadline is 20 s.
		if took > 5*time.Second {
			t.Fatalf("%s: PUT took %v", tc.name, took)
		}
		t.Logf("%s: PUT acknowledged in %v", tc.name, took.Round(time.Millisecond))
	}
	if s := e.Stats(); s.ShardsStraggled < 2 {
		t.Fatalf("ShardsStraggled = %d, want 2", s.ShardsStraggled)
	}

	// Data shard 0 of every blob stops answering reads.
	mode.Store(stallOpen)
	suffix.Store("/0")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	rd, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "shard stream stalls"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := rd.WriteRange(ctx, &out, 0, int64(len(data))); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("GET around a stalled data shard: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("GET took %v", took)
	}
	t.Logf("GET around a stalled data shard in %v", time.Since(start).Round(time.Millisecond))
	if s := e.Stats(); s.ShardsSlow < 1 || s.ShardsBad != 0 {
		t.Fatalf("ShardsSlow = %d, ShardsBad = %d; want a slow shard, no bad one", s.ShardsSlow, s.ShardsBad)
	}
	mode.Store(healthy)
}

// TestPutGivesUpOnAPeerTheQuorumNeeds: 3 nodes of 4 drives write 8+4 with
// a write quorum of 9, so a peer that stops answering (its 4 shards
// neither taking bytes nor acknowledged) leaves a PUT short of its quorum.
// The PUT fails as unavailable after the stall timeout, not when the
// peer's connection would give up (here: never), and the next PUT is
// written over the two nodes that answer. Both ways a peer stops are
// covered: a Put that takes no byte (the encoder's writes block) and a
// Put that took the shard and never answers. Before, each PUT waited for
// the peer (chaos round 14: about 11 s on the healthy nodes).
func TestPutGivesUpOnAPeerTheQuorumNeeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(p *peers)
	}{
		{"peer takes no bytes", func(p *peers) {
			for _, d := range p.drives["node-c"] {
				d.Inject(fault.Rule{Op: fault.OpPut, Latency: time.Hour})
			}
		}},
		{"peer never answers", func(p *peers) {
			p.mu.Lock()
			p.hung = map[string]bool{"node-c": true}
			p.mu.Unlock()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeers("node-b", "node-c")
			n := nodetest.StartNode(t, nodetest.Options{Peers: p, InlineThreshold: -1, Tune: func(c *node.Config) {
				c.StallTimeout, c.StragglerWindow = 300*time.Millisecond, 100*time.Millisecond
			}})
			e := n.Engine
			mustContainer(t, e, "c")
			data := randBytes(44, 300<<10)
			put := func(key string) (time.Duration, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				start := time.Now()
				_, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: key, Body: bytes.NewReader(data), Size: int64(len(data))})
				return time.Since(start), err
			}
			if _, err := put("before"); err != nil {
				t.Fatal(err)
			}
			tc.stop(p)
			took, err := put("during")
			if !errors.Is(err, node.ErrUnavailable) {
				t.Fatalf("PUT placed on a peer that stopped answering: %v after %v, want ErrUnavailable", err, took)
			}
			// A bound on a hang, not a performance figure: the peer
			// never answers, and the PUT's own deadline is 30 s.
			if took > 10*time.Second {
				t.Fatalf("PUT failed only after %v", took)
			}
			t.Logf("PUT gave up on the peer after %v", took.Round(time.Millisecond))
			took, err = put("after")
			if err != nil {
				t.Fatalf("the next PUT: %v after %v", err, took)
			}
			a, err := n.Meta.GetArtifact(context.Background(), tenant, "c", "after")
			if err != nil {
				t.Fatal(err)
			}
			b := a.Parts[0].Blob
			for _, loc := range b.Shards {
				if loc.Node == "node-c" {
					t.Fatalf("the next PUT placed a shard on the peer that stopped answering: %+v", b.Shards)
				}
			}
			if got := read(t, e, "c", "after", 0, -1); !bytes.Equal(got, data) {
				t.Fatal("wrong bytes")
			}
			t.Logf("the next PUT: %d+%d in %v", b.K, b.M, took.Round(time.Millisecond))
		})
	}
}
