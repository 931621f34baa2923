package node_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/mem"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

func TestAutoShape(t *testing.T) {
	tests := []struct {
		perNode []int
		k, m    int
	}{
		{[]int{4}, 2, 2},       // the embedded default
		{[]int{1}, 1, 0},       // one drive: nothing to spread over
		{[]int{2}, 1, 1},       // mirrored
		{[]int{8}, 4, 4},       // one node, 8 drives
		{[]int{20}, 8, 8},      // one node, width capped at 16
		{[]int{4, 4}, 4, 4},    // two nodes
		{[]int{4, 4, 4}, 8, 4}, // three nodes of four drives
		{[]int{4, 4, 4, 4}, 12, 4},
		{[]int{4, 4, 4, 4, 4}, 12, 4},
		{[]int{1, 1, 1}, 2, 1},  // one drive per node
		{[]int{1, 4}, 1, 2},     // lopsided: at most m on the big node
		{[]int{4, 0, 4}, 4, 4},  // a node with no online drive counts as gone
		{[]int{8, 8, 8}, 10, 6}, // 16 wide over 3 nodes: 6 per node at most
		{[]int{}, 1, 0},
	}
	for _, tc := range tests {
		k, m := node.AutoShape(tc.perNode)
		if k != tc.k || m != tc.m {
			t.Errorf("AutoShape(%v) = %d+%d, want %d+%d", tc.perNode, k, m, tc.k, tc.m)
		}
		// With several nodes, the drives must hold k+m shards at most m per
		// node, so losing any one node loses at most m.
		nodes, capacity := 0, 0
		for _, d := range tc.perNode {
			if d > 0 {
				nodes++
			}
			capacity += min(d, m)
		}
		if nodes > 1 && capacity < k+m {
			t.Errorf("AutoShape(%v) = %d+%d cannot be placed with at most %d shards per node", tc.perNode, k, m, m)
		}
	}
}

// peers are two more "nodes" of four in-memory drives each, reached
// directly (the cluster package's remote drives stand in for them in a
// real cluster).
type peers struct {
	mu     sync.Mutex
	drives map[string][]*fault.Driver // node -> drives
	down   map[string]bool
	total  int64 // the capacity every drive advertises (0: unknown)
	// hung: nodes whose drives take a Put's bytes and never answer (a
	// peer cut off after the request went out).
	hung map[string]bool
}

// driver is drive d of node n as the engine reaches it.
func (p *peers) driver(n string, d *fault.Driver) drivers.Driver {
	if p.hung[n] {
		return stallDriver{Driver: d, mode: hungMode, suffix: anySuffix}
	}
	return d
}

func newPeers(nodes ...string) *peers {
	p := &peers{drives: map[string][]*fault.Driver{}, down: map[string]bool{}}
	for _, n := range nodes {
		for i := 0; i < 4; i++ {
			p.drives[n] = append(p.drives[n], fault.New(mem.New()))
		}
	}
	return p
}

func (p *peers) Drives() []node.PeerDrive {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []node.PeerDrive
	for n, ds := range p.drives {
		if p.down[n] {
			continue
		}
		for i, d := range ds {
			out = append(out, node.PeerDrive{Drive: node.Drive{ID: fmt.Sprintf("%s-d%d", n, i), Node: n, Driver: p.driver(n, d)}, Online: true, Total: p.total})
		}
	}
	return out
}

func (p *peers) Driver(n, drive string) (drivers.Driver, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, d := range p.drives[n] {
		if drive == fmt.Sprintf("%s-d%d", n, i) {
			return p.driver(n, d), true
		}
	}
	return nil, false
}

// kill takes a node down: it leaves the membership and its drives stop
// answering.
func (p *peers) kill(n string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down[n] = true
	for _, d := range p.drives[n] {
		d.SetOffline(drivers.ErrOffline)
	}
}

func (p *peers) shardsOn(t *testing.T, n string) int {
	count := 0
	for _, d := range p.drives[n] {
		if err := d.List(context.Background(), "", func(drivers.Info) error { count++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return count
}

func TestClusterPlacementSurvivesLosingANode(t *testing.T) {
	ctx := context.Background()
	p := newPeers("node-b", "node-c")
	n := nodetest.StartNode(t, nodetest.Options{Peers: p, InlineThreshold: -1})
	e := n.Engine
	if err := e.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for i := 0; i < 12; i++ {
		b := make([]byte, 1+rand.IntN(3<<20))
		for j := range b {
			b[j] = byte(rand.Uint32())
		}
		key := fmt.Sprintf("k%d", i)
		if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: key, Body: bytes.NewReader(b), Size: int64(len(b))}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		bodies[key] = b
	}
	// 3 nodes of 4 drives: 8+4, so every node holds shards of every blob.
	for _, peer := range []string{"node-b", "node-c"} {
		if got := p.shardsOn(t, peer); got < 12*2 {
			t.Fatalf("%s holds %d shards of 12 blobs: placement did not spread", peer, got)
		}
	}
	p.kill("node-c")
	for key, want := range bodies {
		if got := read(t, e, "c", key, 0, -1); !bytes.Equal(got, want) {
			t.Fatalf("%s: wrong bytes after losing a node", key)
		}
	}
	// Writes go on over the two remaining nodes, 4+4, and survive losing
	// one more node's drives... of the peer (this node must stay).
	b := bytes.Repeat([]byte("after the loss "), 100000)
	if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "after", Body: bytes.NewReader(b), Size: int64(len(b))}); err != nil {
		t.Fatalf("put with a node down: %v", err)
	}
	p.kill("node-b")
	if got := read(t, e, "c", "after", 0, -1); !bytes.Equal(got, b) {
		t.Fatal("wrong bytes of a blob written 4+4 after losing its second node")
	}
}
