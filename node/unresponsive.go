package node

import (
	"errors"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
)

// Peers that stop answering shard writes.
//
// The automatic shape puts at most m shards of a blob on one node (3 nodes
// of 4 drives: 8+4), and the write quorum is k+1. A PUT whose placement
// includes a node that stops answering (cut off, frozen) therefore cannot
// reach its quorum: the other nodes hold exactly k shards. The stall
// watchdog and the straggler window give shards up only while the quorum
// can still be met, so such a PUT used to wait until gossip declared the
// node dead and its connections were dropped (a few seconds; at load 36,
// 10 s or more), or the connection's own 10 s timeout. Every PUT placed
// in that window waited alike (chaos round 14: the healthy nodes' clients
// sat about 11 s in one request).
//
// Now, when the only shards that are not keeping up are all on one peer
// and the quorum needs them, the write gives up on that peer after
// StallTimeout: its stuck shards, blocked in a write or waiting for the
// peer's answer while every other shard is done, fail with
// errPeerUnresponsive, the PUT fails as unavailable (503, which clients
// retry), and this node places no new shards on that peer for
// unresponsiveFor. The retry is then written over the nodes that answer
// (4+4 over two nodes of four drives), as it would be once gossip
// declares the peer gone. When shards on several nodes are slow together
// the drives are slow, not one peer, and nothing is given up.

// unresponsiveFor is how long a peer that stopped answering a write gets
// no new shards from this node: longer than gossip takes to suspect a
// node that is really gone (about 1 s), short enough that a peer that was
// only slow soon takes shards again.
const unresponsiveFor = 5 * time.Second

// errPeerUnresponsive fails the shard writes to a peer given up on.
var errPeerUnresponsive = errors.New("node: peer stopped answering shard writes, which the write quorum needs")

// unresponsivePeers are the peers this node gives no new shards for now.
type unresponsivePeers struct {
	mu    sync.Mutex
	until map[string]time.Time // REQUIRES: mu
}

// mark gives node no new shards for unresponsiveFor.
func (u *unresponsivePeers) mark(node string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.until == nil {
		u.until = map[string]time.Time{}
	}
	u.until[node] = time.Now().Add(unresponsiveFor)
}

// is reports whether node is marked now.
func (u *unresponsivePeers) is(node string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.until[node]
	if ok && !time.Now().Before(t) {
		delete(u.until, node)
		return false
	}
	return ok
}

// soleStuckPeer returns the peer that holds every shard in stuck, when
// they are all on one other node; "" otherwise (none stuck, or stuck
// shards on this node or on several nodes).
func (e *Engine) soleStuckPeer(stuck []int, locs []metastore.ShardLoc) string {
	peer := ""
	for _, i := range stuck {
		n := locs[i].Node
		if n == "" || n == e.cfg.NodeID || (peer != "" && n != peer) {
			return ""
		}
		peer = n
	}
	return peer
}

// giveUpPeer gives up the stuck shards of a write on peer and gives the
// peer no new shards for a while.
func (e *Engine) giveUpPeer(peer string, stuck []int, shards []*shardWrite) {
	for _, i := range stuck {
		e.stats.shardsStraggled.Add(1)
		shards[i].giveUp(errPeerUnresponsive)
	}
	e.unresponsive.mark(peer)
	e.log.Warn("a peer stopped answering shard writes that the write quorum needs; the write fails and the peer gets no new shards for a while",
		"node", peer, "shards", len(stuck), "for", unresponsiveFor)
}
