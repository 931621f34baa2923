package node

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
)

// Peers is what the Engine needs to know about the other nodes of its
// cluster. A nil Peers is a single node: every shard lives on Config.Drives.
//
// Placement asks Drives for each new blob; reads, healing and deletion of
// existing blobs ask Driver for the drive their placement record names.
type Peers interface {
	// Drives lists the drives of the other nodes that new shards may be
	// placed on, with the health their node last advertised. Drives of
	// nodes known to be down are left out.
	Drives() []PeerDrive
	// Driver reaches a drive of another node. It returns false when the
	// node is unknown; a Driver of a node that is down fails fast with
	// drivers.ErrOffline.
	Driver(node, drive string) (drivers.Driver, bool)
}

// PeerDrive is a drive of another node, as placement sees it.
type PeerDrive struct {
	Drive
	Online bool
	// Total is the drive's capacity in bytes as last advertised (0:
	// unknown); rebalance plans by it.
	Total int64
}

// maxAutoWidth caps k+m of an automatic shape: beyond 16 shards a stripe
// touches too many drives per request for too little extra efficiency.
const maxAutoWidth = 16

// AutoShape chooses the erasure shape for drives spread over nodes
// (perNode[i] is the number of online drives of node i):
//
//   - one node: half the drives are parity (4 drives: 2+2), so any half
//     of the drives can fail;
//   - several nodes: width w = min(drives, 16), parity m = ceil(w/nodes),
//     narrowed until the drives can hold w shards with at most m per
//     node. Losing any one node then loses at most m shards, and every
//     blob stays readable. 3 nodes × 4 drives: 8+4; 2 × 4: 4+4;
//     5 × 4: 12+4.
//
// The shape follows the live topology at write time: with one node of
// three down, new blobs are written 4+4 over the two that remain, so writes
// keep their write quorum and their one-node fault tolerance. Every blob
// records its own shape, so blobs of different shapes coexist.
func AutoShape(perNode []int) (k, m int) {
	var total, nodes int
	for _, d := range perNode {
		if d > 0 {
			total += d
			nodes++
		}
	}
	w := min(total, maxAutoWidth)
	if w <= 1 {
		return 1, 0
	}
	if nodes <= 1 {
		m = w / 2
		return w - m, m
	}
	for ; w > 1; w-- {
		m = (w + nodes - 1) / nodes
		capacity := 0
		for _, d := range perNode {
			capacity += min(d, m)
		}
		if capacity >= w && w-m >= 1 {
			return w - m, m
		}
	}
	return 1, 0
}

// candidate is a drive placement may choose, with its health now.
type candidate struct {
	Drive
	online bool
}

// reachableDrives lists this node's drives and those of the peers it can
// reach, each with whether it is online now.
func (e *Engine) reachableDrives(ctx context.Context) []candidate {
	out := make([]candidate, 0, len(e.order))
	for _, d := range e.order {
		out = append(out, candidate{Drive: d, online: e.driveOnline(ctx, d)})
	}
	if e.cfg.Peers != nil {
		for _, pd := range e.cfg.Peers.Drives() {
			if pd.Node == e.cfg.NodeID || e.unresponsive.is(pd.Node) {
				continue
			}
			out = append(out, candidate{Drive: pd.Drive, online: pd.Online})
		}
	}
	return out
}

// candidates lists every drive a new blob may go to: this node's, with
// their health asked now (a statfs), and the peers' as last advertised.
func (e *Engine) candidates(ctx context.Context) []candidate {
	out := e.reachableDrives(ctx)
	// Nodes being decommissioned take no new shards (decom.go), unless
	// no other node is left to take them.
	if draining := e.drainingNodes(ctx); len(draining) > 0 {
		kept := make([]candidate, 0, len(out))
		for _, c := range out {
			if !draining[c.Node] {
				kept = append(kept, c)
			}
		}
		if len(kept) > 0 {
			out = kept
		}
	}
	return out
}

// shardsAway names the nodes, still members of the cluster, whose drives
// hold shards of b other than shard skip and are not online to this node
// now: down, cut off, or not yet seen alive since this node started. A
// rebuild that failed while some are away may succeed once they are back.
func (e *Engine) shardsAway(ctx context.Context, b metastore.Blob, skip int, removed *removedCheck) []string {
	online := map[string]bool{}
	for _, c := range e.reachableDrives(ctx) {
		online[c.ID] = c.online
	}
	var away []string
	for i, loc := range b.Shards {
		if i == skip || online[loc.Drive] || slices.Contains(away, loc.Node) || removed.removed(loc.Node) {
			continue
		}
		away = append(away, loc.Node)
	}
	return away
}

// shapeFor returns the erasure shape of a new blob over the candidates:
// the configured one, or AutoShape of the online drives.
func (e *Engine) shapeFor(cands []candidate) erasure.Shape {
	if e.cfg.Shape.Data > 0 {
		return e.cfg.Shape
	}
	perNode := map[string]int{}
	var order []string
	for _, c := range cands {
		if !c.online {
			continue
		}
		if _, ok := perNode[c.Node]; !ok {
			order = append(order, c.Node)
		}
		perNode[c.Node]++
	}
	counts := make([]int, len(order))
	for i, n := range order {
		counts[i] = perNode[n]
	}
	k, m := AutoShape(counts)
	return erasure.Shape{Data: k, Parity: m, BlockSize: e.cfg.Shape.BlockSize}
}

// shardDriver reaches the drive a shard's placement names: one of this
// node's, or a peer's through the cluster.
func (e *Engine) shardDriver(loc metastore.ShardLoc) (drivers.Driver, bool) {
	if d, ok := e.drives[loc.Drive]; ok && (loc.Node == "" || loc.Node == d.Node) {
		return d.Driver, true
	}
	if e.cfg.Peers == nil || loc.Node == e.cfg.NodeID {
		return nil, false
	}
	return e.cfg.Peers.Driver(loc.Node, loc.Drive)
}

// isLocal reports whether a shard lives on one of this node's drives.
func (e *Engine) isLocal(loc metastore.ShardLoc) bool {
	d, ok := e.drives[loc.Drive]
	return ok && (loc.Node == "" || loc.Node == d.Node)
}

// coders caches one erasure coder per shape: building one allocates the
// Reed-Solomon matrices, too costly per request.
type coders struct {
	mu sync.Mutex
	m  map[erasure.Shape]*erasure.Coder
}

func (c *coders) get(s erasure.Shape) (*erasure.Coder, error) {
	if s.BlockSize == 0 {
		s.BlockSize = erasure.DefaultBlockSize
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cd, ok := c.m[s]; ok {
		return cd, nil
	}
	cd, err := erasure.NewCoder(s)
	if err != nil {
		return nil, fmt.Errorf("node: erasure shape %d+%d: %w", s.Data, s.Parity, err)
	}
	if c.m == nil {
		c.m = map[erasure.Shape]*erasure.Coder{}
	}
	c.m[s] = cd
	return cd, nil
}

// WriteShape is the erasure shape a PUT would use now, from the drives
// online at this moment (the configured shape when it is fixed).
func (e *Engine) WriteShape(ctx context.Context) erasure.Shape {
	return e.shapeFor(e.candidates(ctx))
}
