package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/mem"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// add brings one more "node" of four empty drives.
func (p *peers) add(n string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < 4; i++ {
		p.drives[n] = append(p.drives[n], fault.New(mem.New()))
	}
}

// removedSet is the test's Raft configuration: nodes put in it were removed.
type removedSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (r *removedSet) set(n string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]bool{}
	}
	r.m[n] = true
}

func (r *removedSet) has(n string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[n]
}

// relocationCluster is this node plus node-b and node-c, with 8+4 blobs
// written over all three.
func relocationCluster(t *testing.T, blobs int) (*nodetest.Node, *peers, *removedSet, map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	p := newPeers("node-b", "node-c")
	rm := &removedSet{}
	n := nodetest.StartNode(t, nodetest.Options{Peers: p, InlineThreshold: -1, NodeRemoved: rm.has})
	if err := n.Engine.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for i := 0; i < blobs; i++ {
		b := make([]byte, 100<<10+rand.IntN(2<<20))
		for j := range b {
			b[j] = byte(rand.Uint32())
		}
		key := fmt.Sprintf("k%d", i)
		if _, err := n.Engine.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: key, Body: bytes.NewReader(b), Size: int64(len(b))}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		bodies[key] = b
	}
	return n, p, rm, bodies
}

// placement returns the blob of an artifact as the metadata records it.
func placement(t *testing.T, n *nodetest.Node, key string) metastore.Blob {
	t.Helper()
	a, err := n.Meta.GetArtifact(context.Background(), tenant, "c", key)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Parts) != 1 {
		t.Fatalf("%s has %d parts", key, len(a.Parts))
	}
	return a.Parts[0].Blob
}

func shardsOnNode(b metastore.Blob, n string) int {
	c := 0
	for _, s := range b.Shards {
		if s.Node == n {
			c++
		}
	}
	return c
}

// TestRelocateMovesShardsOfRemovedNode: a dead node keeps its shards; once
// removed, the relocator rebuilds every one of them on a new node, keeping
// at most m shards per node, so the cluster survives losing another node.
func TestRelocateMovesShardsOfRemovedNode(t *testing.T) {
	ctx := context.Background()
	n, p, rm, bodies := relocationCluster(t, 6)
	e := n.Engine
	want := 0
	for key := range bodies {
		b := placement(t, n, key)
		if b.K != 8 || b.M != 4 {
			t.Fatalf("%s: shape %d+%d, want 8+4", key, b.K, b.M)
		}
		want += shardsOnNode(b, "node-c")
	}
	p.kill("node-c")
	// Dead but not removed: it may come back, nothing moves.
	rep, err := e.Relocate(ctx)
	if err != nil || rep.Relocated != 0 || rep.Blobs != len(bodies) {
		t.Fatalf("relocation with a dead node: %+v, %v", rep, err)
	}
	p.add("node-d")
	rm.set("node-c")
	rep, err = e.Relocate(ctx)
	if err != nil || rep.Relocated != want || rep.Failed != 0 {
		t.Fatalf("relocation: %+v, %v; want %d relocated", rep, err, want)
	}
	if got := e.Stats().ShardsRelocated; got != int64(want) {
		t.Fatalf("ShardsRelocated = %d, want %d", got, want)
	}
	for key := range bodies {
		b := placement(t, n, key)
		if c := shardsOnNode(b, "node-c"); c != 0 {
			t.Fatalf("%s still has %d shards on the removed node", key, c)
		}
		drives := map[metastore.ShardLoc]bool{}
		for _, nd := range []string{"test-node", "node-b", "node-d"} {
			if c := shardsOnNode(b, nd); c > b.M {
				t.Fatalf("%s: %d shards on %s, more than m=%d", key, c, nd, b.M)
			}
		}
		for _, s := range b.Shards {
			if drives[s] {
				t.Fatalf("%s: two shards on drive %v with spare drives around", key, s)
			}
			drives[s] = true
		}
	}
	// Nothing left to do.
	if rep, err := e.Relocate(ctx); err != nil || rep.Relocated != 0 {
		t.Fatalf("second pass: %+v, %v", rep, err)
	}
	// Losing another whole node is survivable again.
	p.kill("node-b")
	for key, b := range bodies {
		if got := read(t, e, "c", key, 0, -1); !bytes.Equal(got, b) {
			t.Fatalf("%s: wrong bytes after relocation and losing node-b", key)
		}
	}
}

// TestRelocateWithoutSpareDrives: 3 nodes of 4 drives at 8+4, one removed:
// the 8 remaining drives take all 12 shards (some two to a drive), so the
// blobs survive losing one more drive, which they would not with 4 shards
// gone for good.
func TestRelocateWithoutSpareDrives(t *testing.T) {
	ctx := context.Background()
	n, p, rm, bodies := relocationCluster(t, 3)
	e := n.Engine
	p.kill("node-c")
	rm.set("node-c")
	rep, err := e.Relocate(ctx)
	if err != nil || rep.Relocated != 3*4 {
		t.Fatalf("relocation: %+v, %v", rep, err)
	}
	for key := range bodies {
		b := placement(t, n, key)
		if shardsOnNode(b, "node-c") != 0 || shardsOnNode(b, "test-node") != 6 || shardsOnNode(b, "node-b") != 6 {
			t.Fatalf("%s: shards not spread evenly over the two nodes left: %v", key, b.Shards)
		}
	}
	p.drives["node-b"][0].SetOffline(drivers.ErrOffline)
	for key, b := range bodies {
		if got := read(t, e, "c", key, 0, -1); !bytes.Equal(got, b) {
			t.Fatalf("%s: wrong bytes with a drive of node-b down", key)
		}
	}
}

// TestRelocateLosesToOverwrite: a relocation whose blob was overwritten
// between the walk and the commit changes nothing and deletes its copy.
func TestRelocateLosesToOverwrite(t *testing.T) {
	ctx := context.Background()
	n, p, rm, bodies := relocationCluster(t, 1)
	e := n.Engine
	old := placement(t, n, "k0")
	i := -1
	for j, s := range old.Shards {
		if s.Node == "node-c" {
			i = j
			break
		}
	}
	p.kill("node-c")
	p.add("node-d")
	rm.set("node-c")
	nb := []byte("a newer version, long enough to be sharded: " + strings.Repeat("x", 64<<10))
	if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "k0", Body: bytes.NewReader(nb), Size: int64(len(nb))}); err != nil {
		t.Fatal(err)
	}
	err := e.RelocateShard(ctx, old, int64(len(bodies["k0"])), i, rm.has)
	if !errors.Is(err, node.ErrRelocationMoot) {
		t.Fatalf("relocating a shard of an overwritten blob: %v", err)
	}
	suffix := fmt.Sprintf("/%s/%d", old.ID, i)
	count := func(d drivers.Driver) int {
		c := 0
		if err := d.List(ctx, "blobs/", func(fi drivers.Info) error {
			if strings.HasSuffix(fi.Name, suffix) {
				c++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	left := 0
	for _, d := range n.Drives {
		left += count(d)
	}
	for _, nd := range []string{"node-b", "node-d"} {
		for _, d := range p.drives[nd] {
			left += count(d)
		}
	}
	if left != 0 {
		t.Fatalf("the rebuilt copy of shard %d stayed on %d drives", i, left)
	}
	if got := read(t, e, "c", "k0", 0, -1); !bytes.Equal(got, nb) {
		t.Fatal("the overwrite was undone")
	}
}
