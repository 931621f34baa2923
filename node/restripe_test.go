package node_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// revive brings a node killed by kill back with its drives intact.
func (p *peers) revive(n string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.down, n)
	for _, d := range p.drives[n] {
		d.SetOnline()
	}
}

// TestRestripeWidensDegradedBlobs: artifacts written while one node of
// three was down are 4+4; nothing is re-striped while it stays down (the
// current shape is itself degraded, and 8+4 blobs are never narrowed);
// once it is back, one pass rewrites each at 8+4 with the same bytes, the
// next finds nothing to do, and they survive losing another node.
func TestRestripeWidensDegradedBlobs(t *testing.T) {
	ctx := context.Background()
	p := newPeers("node-b", "node-c")
	n := nodetest.StartNode(t, nodetest.Options{Peers: p, InlineThreshold: -1, GCDelay: 1, NodeRemoved: func(string) bool { return false }})
	e := n.Engine
	if err := e.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	put := func(key string) {
		b := make([]byte, 64<<10+rand.IntN(1<<20))
		for j := range b {
			b[j] = byte(rand.Uint32())
		}
		if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: key, Body: bytes.NewReader(b), Size: int64(len(b))}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		bodies[key] = b
	}
	put("full")
	p.kill("node-c")
	for i := range 5 {
		put(fmt.Sprintf("degraded%d", i))
	}
	for key := range bodies {
		b := placement(t, n, key)
		want := 8
		if key != "full" {
			want = 4
		}
		if b.K != want || b.M != 4 {
			t.Fatalf("%s written %d+%d, want %d+4", key, b.K, b.M, want)
		}
	}

	// Down: the write shape is 4+4; nothing is narrower, nothing moves.
	st, err := e.Restripe(ctx)
	if err != nil || st.Restriped != 0 || st.Pending != 0 || st.Scanned != int64(len(bodies)) || st.Target != "4+4" {
		t.Fatalf("pass with node-c down: %+v, %v", st, err)
	}
	old := map[string]string{}
	for key := range bodies {
		old[key] = placement(t, n, key).ID
	}

	p.revive("node-c")
	st, err = e.Restripe(ctx)
	if err != nil || st.Restriped != 5 || st.Failed != 0 || st.Target != "8+4" || st.LastPending != 5 || st.Passes != 2 {
		t.Fatalf("pass with every node up: %+v, %v", st, err)
	}
	if s := e.Stats(); s.Restriped != 5 || s.RestripeBytes != st.Bytes || st.Bytes == 0 {
		t.Fatalf("stats: %d versions, %d bytes; pass %+v", s.Restriped, s.RestripeBytes, st)
	}
	for key, body := range bodies {
		b := placement(t, n, key)
		if b.K != 8 || b.M != 4 || shardsOnNode(b, "node-c") != 4 {
			t.Fatalf("%s after re-striping: %d+%d, %d shards on node-c", key, b.K, b.M, shardsOnNode(b, "node-c"))
		}
		if (b.ID == old[key]) != (key == "full") {
			t.Fatalf("%s: blob %s, before %s: only degraded blobs are rewritten", key, b.ID, old[key])
		}
		if got := read(t, e, "c", key, 0, -1); !bytes.Equal(got, body) {
			t.Fatalf("%s: wrong bytes after re-striping", key)
		}
	}
	st, err = e.Restripe(ctx)
	if err != nil || st.Restriped != 0 || st.LastPending != 0 {
		t.Fatalf("second pass: %+v, %v", st, err)
	}
	// The re-striped versions read with one node lost, as 8+4 must.
	p.kill("node-b")
	for key, body := range bodies {
		if got := read(t, e, "c", key, 0, -1); !bytes.Equal(got, body) {
			t.Fatalf("%s: wrong bytes with node-b down", key)
		}
	}
}

// TestRestripeSkipsFixedShape: with a configured shape there is no
// degraded shape to come back from.
func TestRestripeSkipsFixedShape(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1})
	st, err := n.Engine.Restripe(context.Background())
	if err != nil || st.Waiting != "fixed erasure shape" || st.Passes != 0 {
		t.Fatalf("fixed shape: %+v, %v", st, err)
	}
}
