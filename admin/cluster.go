package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// The cluster's part of the admin API: /admin/v1/cluster.

// ClusterStatus is the answer of GET /admin/v1/cluster.
type ClusterStatus struct {
	Node   string `json:"node"`   // the node that answered
	Leader string `json:"leader"` // metadata Raft leader
	// Shape is the erasure shape this node's PUTs use now ("8+4").
	Shape string          `json:"erasure_shape"`
	Nodes []ClusterMember `json:"nodes"`
	// ClusterVersion is the replicated cluster version (see
	// UpgradeStatus for a rolling upgrade's progress).
	ClusterVersion int `json:"cluster_version"`
	// Warnings name conditions under which new artifacts cannot survive
	// a loss (shapeWarnings).
	Warnings []string `json:"warnings,omitempty"`
	// Capacity is the capacity fallback as the answering node sees it:
	// raw drive usage, the watermarks, the default tier and whether
	// versions are spilling to it (node/capacity.go).
	Capacity *node.CapacityStatus `json:"capacity,omitempty"`
}

// ClusterMember is one node of ClusterStatus.
type ClusterMember struct {
	ID        string `json:"id"`
	State     string `json:"state"`      // gossip: alive, suspect, dead, left
	NodeState string `json:"node_state"` // joining, active, draining, leaving
	Version   string `json:"version"`
	// Supports is the newest cluster version the node's binary applies
	// (0: not advertised, a first-release node).
	Supports int            `json:"supports_cluster_version"`
	RaftRole string         `json:"raft_role"` // leader, voter, nonvoter, none
	S3       string         `json:"s3_address"`
	RPC      string         `json:"rpc_address"`
	Admin    string         `json:"admin_address"`
	Gossip   string         `json:"gossip_address"`
	Drives   []ClusterDrive `json:"drives"`
}

// ClusterDrive is one drive of a ClusterMember.
type ClusterDrive struct {
	ID     string `json:"id"`
	Online bool   `json:"online"`
	Total  int64  `json:"total_bytes"`
	Free   int64  `json:"free_bytes"`
}

type clusterAdmin struct {
	nodeID  string
	members *cluster.Membership
	client  *http.Client // cluster RPC: reaches the metadata leader
	meta    *metastore.Store
	engine  *node.Engine
}

func (ca *clusterAdmin) register(r *httprouter.Router, api *adminAPI) {
	r.GET("/admin/v1/cluster", api.serve("ClusterStatus", ca.status))
	r.POST("/admin/v1/cluster/nodes/:node/remove", api.serve("RemoveNode", ca.remove))
	ca.registerUpgrade(r, api)
	if ca.engine != nil {
		ca.registerDecom(r, api)
		ca.registerRebalance(r, api)
	}
}

func (ca *clusterAdmin) status(ctx context.Context, call *adminCall) (int, any, error) {
	return http.StatusOK, ca.clusterStatus(ctx), nil
}

// ClusterStatus returns the cluster as this node sees it (ok is false when
// the server has no cluster membership).
func (a *Server) ClusterStatus(ctx context.Context) (st ClusterStatus, ok bool) {
	if a.cluster == nil {
		return st, false
	}
	return a.cluster.clusterStatus(ctx), true
}

func (ca *clusterAdmin) clusterStatus(ctx context.Context) ClusterStatus {
	roles := node.RaftRoles(ca.meta)
	_, leader := ca.meta.Leader()
	st := ClusterStatus{Node: ca.nodeID, Leader: string(leader), ClusterVersion: ca.meta.ClusterVersion()}
	k, m := 0, 0
	if ca.engine != nil {
		sh := ca.engine.WriteShape(ctx)
		st.Shape = fmt.Sprintf("%d+%d", sh.Data, sh.Parity)
		k, m = sh.Data, sh.Parity
		c := ca.engine.CapacityStatus(ctx)
		st.Capacity = &c
	}
	seen := map[string]bool{}
	for _, m := range ca.members.Members() {
		cm := ClusterMember{
			ID: m.ID, State: m.State.String(), NodeState: m.Meta.State.String(), Version: m.Meta.Version, Supports: m.Meta.ClusterVersion,
			RaftRole: roles[m.ID], S3: m.Meta.S3Addr, RPC: m.Meta.RPCAddr, Admin: m.Meta.AdminAddr, Gossip: m.GossipAddr,
		}
		if cm.RaftRole == "" {
			cm.RaftRole = "none"
		}
		for _, d := range m.Meta.Drives {
			cm.Drives = append(cm.Drives, ClusterDrive{ID: d.ID, Online: d.Online, Total: d.Total, Free: d.Free})
		}
		seen[m.ID] = true
		st.Nodes = append(st.Nodes, cm)
	}
	// Raft members gossip has never heard of (since this node started).
	for id, role := range roles {
		if !seen[id] {
			st.Nodes = append(st.Nodes, ClusterMember{ID: id, State: "unknown", RaftRole: role})
		}
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].ID < st.Nodes[j].ID })
	if k > 0 {
		nodes, drives := 0, 0
		for _, n := range st.Nodes {
			online := 0
			for _, d := range n.Drives {
				if d.Online {
					online++
				}
			}
			if n.State == cluster.MemberAlive.String() && online > 0 {
				nodes++
				drives += online
			}
		}
		st.Warnings = shapeWarnings(k, m, nodes, drives)
	}
	return st
}

// shapeWarnings states the placement rule (docs/design.md, "Too few
// drives"): an artifact of shape k+m survives the loss of a node only if
// no node holds more than m of its shards, and the loss of a drive only
// if no drive holds two. With n nodes some node holds at least
// ceil((k+m)/n) shards; with fewer than k+m drives some drive holds two.
func shapeWarnings(k, m, nodes, drives int) []string {
	var w []string
	// One node cannot survive its own loss whatever the shape: no warning.
	if nodes > 1 && (k+m+nodes-1)/nodes > m {
		w = append(w, fmt.Sprintf("%d live nodes for shape %d+%d: some node holds more than %d shards of each new artifact, which cannot survive the loss of that node (add nodes, or use a shape with more parity)", nodes, k, m, m))
	}
	if drives > 0 && drives < k+m {
		w = append(w, fmt.Sprintf("%d live drives for %d shards per artifact (%d+%d): shards share drives, and the loss of one drive can cost an artifact two shards", drives, k+m, k, m))
	}
	return w
}

// remove takes a node out of the metadata Raft group, asking the leader
// over the cluster RPC when this node does not lead.
func (ca *clusterAdmin) remove(ctx context.Context, call *adminCall) (int, any, error) {
	id := call.p.ByName("node")
	if m, ok := ca.members.Member(id); ok && m.State == cluster.MemberAlive && m.Meta.State != cluster.NodeLeaving {
		return 0, nil, &Error{Status: http.StatusConflict, Code: "NodeAlive", Message: fmt.Sprintf("node %s is alive: stop it first (it would rejoin)", id)}
	}
	err := node.RemoveNode(ca.meta, id)
	if errors.Is(err, node.ErrNotRaftLeader) {
		addr, _ := ca.meta.Leader()
		if addr == "" {
			return 0, nil, &Error{Status: http.StatusServiceUnavailable, Code: "NoLeader", Message: "the cluster has no metadata leader"}
		}
		req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+string(addr)+"/v1/cluster/remove/"+id, nil)
		if rerr != nil {
			return 0, nil, rerr
		}
		req.Header.Set(cluster.ProtoHeader, fmt.Sprint(cluster.ProtoVersion))
		resp, rerr := ca.client.Do(req)
		if rerr != nil {
			return 0, nil, rerr
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return 0, nil, &Error{Status: http.StatusBadGateway, Code: "RemoveFailed", Message: strings.TrimSpace(string(body))}
		}
		err = nil
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"removed": id}, nil
}
