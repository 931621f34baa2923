package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/metastore"
)

// MaxVoters is how many nodes vote in the metadata Raft group; later
// nodes join as non-voters (they replicate and serve reads, but do not
// slow commits). Five voters survive two failures.
const MaxVoters = 5

// RaftMembership keeps the metadata Raft group's configuration in step with
// the gossip membership. Every node runs it; only the leader acts:
//
//   - an alive member that gossips an RPC address and is not in the
//     configuration is added, as a voter while there are fewer than
//     MaxVoters, else as a non-voter;
//   - a member whose RPC address changed (a restart on a new address) is
//     re-added under the same ID with its new address, this node included;
//   - a non-voter is promoted while voters are fewer than MaxVoters.
//
// Dead members stay in the configuration: a killed node rejoins with its
// identity and data and catches up from the log. Only an operator removes
// a node (RemoveNode), and a member gossiping "leaving" is never re-added,
// nor is a decommissioned one (decom.go; until its job is cancelled).
type RaftMembership struct {
	Meta     *metastore.Store
	Members  *cluster.Membership
	Interval time.Duration // default 1s
	Logger   *slog.Logger
}

// Run reconciles every Interval and whenever kick fires, until ctx ends.
func (r *RaftMembership) Run(ctx context.Context, kick <-chan struct{}) {
	if r.Interval <= 0 {
		r.Interval = time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		if r.Meta.IsLeader() {
			if err := r.reconcile(); err != nil && ctx.Err() == nil {
				r.Logger.Warn("raft membership not reconciled", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
	}
}

func (r *RaftMembership) reconcile() error {
	rf := r.Meta.Raft()
	f := rf.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	// A decommissioned node is never added back: it is told to stop and
	// still gossips (draining) for a while after its removal.
	retired := retiredNodes(r.Meta)
	members := r.Members.Members()
	kept := members[:0:0]
	for _, m := range members {
		if !retired[m.ID] {
			kept = append(kept, m)
		}
	}
	var errs []error
	for _, c := range planRaftMembership(f.Configuration().Servers, kept, r.Meta.NodeID(), r.Meta.Addr()) {
		fut := rf.AddNonvoter(c.id, c.addr, 0, 5*time.Second)
		if c.voter {
			fut = rf.AddVoter(c.id, c.addr, 0, 5*time.Second)
		}
		if err := fut.Error(); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", c.what, c.id, err))
			continue
		}
		r.Logger.Info("raft membership: "+c.what, "node", c.id, "addr", c.addr)
	}
	return errors.Join(errs...)
}

// raftChange is one AddVoter (voter) or AddNonvoter call.
type raftChange struct {
	what  string
	id    raft.ServerID
	addr  raft.ServerAddress
	voter bool
}

// planRaftMembership is the reconciler's decision (see RaftMembership),
// from the current configuration, the gossip members and this node's own
// id and Raft address, in the order the changes should be made.
func planRaftMembership(config []raft.Server, members []cluster.Member, self string, selfAddr raft.ServerAddress) []raftChange {
	servers := map[string]raft.Server{}
	voters := 0
	for _, s := range config {
		servers[string(s.ID)] = s
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	var out []raftChange
	if s, ok := servers[self]; ok && s.Address != selfAddr {
		out = append(out, raftChange{"updated own address", s.ID, selfAddr, true})
	}
	for _, m := range members {
		if m.ID == self || m.State != cluster.MemberAlive || m.Meta.RPCAddr == "" || m.Meta.State == cluster.NodeLeaving {
			continue
		}
		id, addr := raft.ServerID(m.ID), raft.ServerAddress(m.Meta.RPCAddr)
		s, in := servers[m.ID]
		switch {
		case !in && voters < MaxVoters:
			out = append(out, raftChange{"added voter", id, addr, true})
			voters++
		case !in:
			out = append(out, raftChange{"added non-voter", id, addr, false})
		case s.Suffrage != raft.Voter && voters < MaxVoters:
			out = append(out, raftChange{"promoted to voter", id, addr, true})
			voters++
		case s.Address != addr && s.Suffrage == raft.Voter:
			out = append(out, raftChange{"updated voter address", id, addr, true})
		case s.Address != addr:
			out = append(out, raftChange{"updated non-voter address", id, addr, false})
		}
	}
	return out
}

// ErrNotRaftLeader: a membership change was asked of a node that does not
// lead the metadata group.
var ErrNotRaftLeader = errors.New("node: not the metadata leader")

// RemoveNode removes a node from the metadata Raft group (on the leader).
// The node must be stopped or leaving first, or gossip would add it back.
func RemoveNode(meta *metastore.Store, id string) error {
	rf := meta.Raft()
	if rf.State() != raft.Leader {
		return ErrNotRaftLeader
	}
	if id == meta.NodeID() {
		return fmt.Errorf("%w: the leader cannot remove itself; remove it from another node after it stops", ErrInvalidArgument)
	}
	return rf.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error()
}

// RaftRoles reports each server of the metadata group: "leader", "voter"
// or "nonvoter", by node ID.
func RaftRoles(meta *metastore.Store) map[string]string {
	out := map[string]string{}
	rf := meta.Raft()
	f := rf.GetConfiguration()
	if f.Error() != nil {
		return out
	}
	_, leader := rf.LeaderWithID()
	for _, s := range f.Configuration().Servers {
		switch {
		case s.ID == leader:
			out[string(s.ID)] = "leader"
		case s.Suffrage == raft.Voter:
			out[string(s.ID)] = "voter"
		default:
			out[string(s.ID)] = "nonvoter"
		}
	}
	return out
}
