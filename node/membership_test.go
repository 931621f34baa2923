package node

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/vaultaire/vaultaire/cluster"
)

func TestPlanRaftMembership(t *testing.T) {
	voter := func(id, addr string) raft.Server {
		return raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)}
	}
	nonvoter := func(id, addr string) raft.Server {
		return raft.Server{Suffrage: raft.Nonvoter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)}
	}
	member := func(id, addr string, st cluster.MemberState, ns cluster.NodeState) cluster.Member {
		return cluster.Member{ID: id, State: st, Meta: cluster.NodeMeta{ID: id, RPCAddr: addr, State: ns}}
	}
	alive := func(id, addr string) cluster.Member {
		return member(id, addr, cluster.MemberAlive, cluster.NodeActive)
	}
	change := func(what, id, addr string, v bool) raftChange {
		return raftChange{what, raft.ServerID(id), raft.ServerAddress(addr), v}
	}
	self := []raft.Server{voter("a", "a:1")}
	var many []cluster.Member
	for i := 1; i <= 7; i++ {
		many = append(many, alive(fmt.Sprint("n", i), fmt.Sprint("n", i, ":1")))
	}

	for _, tc := range []struct {
		name    string
		config  []raft.Server
		members []cluster.Member
		want    []raftChange
	}{
		{"alone", self, []cluster.Member{alive("a", "a:1")}, nil},
		{"joiners become voters", self, []cluster.Member{alive("a", "a:1"), alive("b", "b:1"), alive("c", "c:1")},
			[]raftChange{change("added voter", "b", "b:1", true), change("added voter", "c", "c:1", true)}},
		{"five voters, then non-voters", self, many, []raftChange{
			change("added voter", "n1", "n1:1", true), change("added voter", "n2", "n2:1", true),
			change("added voter", "n3", "n3:1", true), change("added voter", "n4", "n4:1", true),
			change("added non-voter", "n5", "n5:1", false), change("added non-voter", "n6", "n6:1", false),
			change("added non-voter", "n7", "n7:1", false),
		}},
		{"non-voter promoted when a voter seat is free",
			[]raft.Server{voter("a", "a:1"), voter("b", "b:1"), nonvoter("c", "c:1")},
			[]cluster.Member{alive("b", "b:1"), alive("c", "c:1")},
			[]raftChange{change("promoted to voter", "c", "c:1", true)}},
		{"dead, left, leaving and address-less members are not added", self, []cluster.Member{
			member("d", "d:1", cluster.MemberDead, cluster.NodeActive),
			member("l", "l:1", cluster.MemberLeft, cluster.NodeActive),
			member("g", "g:1", cluster.MemberAlive, cluster.NodeLeaving),
			alive("x", ""),
		}, nil},
		{"dead members stay", []raft.Server{voter("a", "a:1"), voter("d", "d:1")},
			[]cluster.Member{member("d", "d:1", cluster.MemberDead, cluster.NodeActive)}, nil},
		{"restarts on new addresses",
			[]raft.Server{voter("a", "a:1"), voter("b", "b:1"), nonvoter("c", "c:1"), voter("d", "d:1"), voter("e", "e:1"), voter("f", "f:1")},
			[]cluster.Member{alive("b", "b:2"), alive("c", "c:2")},
			[]raftChange{change("updated voter address", "b", "b:2", true), change("updated non-voter address", "c", "c:2", false)}},
		{"own address changed", []raft.Server{voter("a", "a:0")}, nil,
			[]raftChange{change("updated own address", "a", "a:1", true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planRaftMembership(tc.config, tc.members, "a", "a:1")
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("plan:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
