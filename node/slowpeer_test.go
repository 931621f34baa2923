package node_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
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

func (d stallDriver) hit(name string) int32 {
	s, _ := d.suffix.Load().(string)
	if s == "" || !strings.HasSuffix(name, s) {
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
