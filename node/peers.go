package node

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/drivers"
)

// ClusterPeers adapts the cluster's gossip membership and RPC into the
// Engine's Peers: the drives other nodes advertise become placement
// candidates, and every drive of a known node is reachable as a
// cluster.RemoteDriver over the authenticated RPC transport.
type ClusterPeers struct {
	self    string
	members *cluster.Membership
	client  *http.Client

	mu      sync.Mutex
	remotes map[[2]string]*cluster.RemoteDriver // REQUIRES: mu
}

var _ Peers = (*ClusterPeers)(nil)

// NewClusterPeers returns the Peers of node self.
func NewClusterPeers(self string, members *cluster.Membership, client *http.Client) *ClusterPeers {
	return &ClusterPeers{self: self, members: members, client: client, remotes: map[[2]string]*cluster.RemoteDriver{}}
}

// Drives lists the drives of the other alive, active nodes with the
// health they last gossiped. Suspect nodes are left out: a node that
// misses its probes gets no new shards until it answers again.
func (p *ClusterPeers) Drives() []PeerDrive {
	var out []PeerDrive
	for _, m := range p.members.Members() {
		if m.Self || m.ID == p.self || m.State != cluster.MemberAlive || m.Meta.State != cluster.NodeActive {
			continue
		}
		for _, d := range m.Meta.Drives {
			out = append(out, PeerDrive{
				Drive:  Drive{ID: d.ID, Node: m.ID, Driver: p.remote(m.ID, d.ID)},
				Online: d.Online,
				Total:  d.Total,
			})
		}
	}
	return out
}

// Driver reaches a drive of a node this node has heard of.
func (p *ClusterPeers) Driver(node, drive string) (drivers.Driver, bool) {
	if _, ok := p.members.Member(node); !ok {
		return nil, false
	}
	return p.remote(node, drive), true
}

func (p *ClusterPeers) remote(node, drive string) *cluster.RemoteDriver {
	k := [2]string{node, drive}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.remotes[k]; ok {
		return r
	}
	r := cluster.NewRemoteDriver(cluster.RemoteConfig{
		Client: p.client,
		Drive:  drive,
		Addr: func() (string, error) {
			m, ok := p.members.Member(node)
			switch {
			case !ok:
				return "", fmt.Errorf("node %s unknown: %w", node, drivers.ErrOffline)
			case m.State == cluster.MemberDead || m.State == cluster.MemberLeft:
				return "", fmt.Errorf("node %s is %s: %w", node, m.State, drivers.ErrOffline)
			case m.Meta.RPCAddr == "":
				return "", fmt.Errorf("node %s has no RPC address: %w", node, drivers.ErrOffline)
			}
			return m.Meta.RPCAddr, nil
		},
		// Health comes from gossip: asking the peer on every write would
		// add a round trip per drive per PUT.
		Usage: func(context.Context) (drivers.Usage, error) {
			m, ok := p.members.Member(node)
			if !ok || m.State != cluster.MemberAlive {
				return drivers.Usage{Err: drivers.ErrOffline}, nil
			}
			for _, d := range m.Meta.Drives {
				if d.ID == drive {
					return drivers.Usage{Total: d.Total, Free: d.Free, Used: d.Total - d.Free, Online: d.Online}, nil
				}
			}
			return drivers.Usage{Err: drivers.ErrOffline}, nil
		},
	})
	p.remotes[k] = r
	return r
}

// leaseTimeout bounds one peer's answer to a read-lease query: a peer too
// slow to answer is taken to hold nothing (the lease ceiling bounds the
// garbage either way).
const leaseTimeout = 2 * time.Second

// BlobLeased reports whether a read on another alive node streams the
// blob (a read lease; node/gc.go). Peers that do not answer count as not
// holding it.
func (p *ClusterPeers) BlobLeased(ctx context.Context, blobID string) bool {
	for _, m := range p.members.Members() {
		if m.Self || m.ID == p.self || m.State != cluster.MemberAlive || m.Meta.RPCAddr == "" {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, leaseTimeout)
		held, err := cluster.BlobLeased(lctx, p.client, m.Meta.RPCAddr, blobID)
		cancel()
		if err == nil && held {
			return true
		}
	}
	return false
}
