package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// Rolling upgrades: the cluster version (metastore, "Cluster version")
// is raised only when every member of the metadata Raft group (voters and
// non-voters: all of them apply the log) advertises in gossip a binary
// that supports the target. A node of the first release advertises
// nothing and supports cluster version 1.
//
//	GET  /admin/v1/cluster/upgrade           UpgradeStatus
//	POST /admin/v1/cluster/upgrade/finalize  raise the cluster version now (409 UpgradeBlocked: who blocks it)
//
// AutoFinalize does the same on the metadata leader every interval, so a
// cluster whose every node runs the new binary finalises by itself.

// UpgradeStatus is the answer of GET /admin/v1/cluster/upgrade.
type UpgradeStatus struct {
	// ClusterVersion is the replicated cluster version; Target the newest
	// every Raft member supports (the version finalisation raises it to).
	ClusterVersion int `json:"cluster_version"`
	Target         int `json:"target"`
	// Finalized: nothing to raise (ClusterVersion >= Target and every
	// member runs a binary that supports this binary's version).
	Finalized bool `json:"finalized"`
	// Blockers say why the cluster version cannot rise now.
	Blockers []string      `json:"blockers,omitempty"`
	Nodes    []UpgradeNode `json:"nodes"`
}

// UpgradeNode is one Raft member of UpgradeStatus.
type UpgradeNode struct {
	ID       string `json:"id"`
	RaftRole string `json:"raft_role"`
	State    string `json:"state"` // gossip: alive, dead, left, unknown
	Version  string `json:"version"`
	// Supports is the newest cluster version its binary applies.
	Supports int `json:"supports"`
}

func (ca *clusterAdmin) registerUpgrade(r *httprouter.Router, api *adminAPI) {
	r.GET("/admin/v1/cluster/upgrade", api.serve("UpgradeStatus", func(ctx context.Context, _ *adminCall) (int, any, error) {
		return http.StatusOK, ca.upgradeStatus(), nil
	}))
	r.POST("/admin/v1/cluster/upgrade/finalize", api.serve("FinalizeUpgrade", func(ctx context.Context, _ *adminCall) (int, any, error) {
		st, err := ca.finalize(ctx)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, st, nil
	}))
}

// upgradeStatus reads the Raft configuration and gossip.
func (ca *clusterAdmin) upgradeStatus() UpgradeStatus {
	st := UpgradeStatus{ClusterVersion: ca.meta.ClusterVersion(), Target: metastore.SupportedClusterVersion}
	roles := node.RaftRoles(ca.meta)
	if len(roles) == 0 {
		st.Blockers = append(st.Blockers, "the Raft configuration is not readable on this node")
	}
	ids := make([]string, 0, len(roles))
	for id := range roles {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := UpgradeNode{ID: id, RaftRole: roles[id], State: "unknown", Supports: metastore.ClusterVersion1}
		m, ok := ca.members.Member(id)
		if ok {
			n.State, n.Version = m.State.String(), m.Meta.Version
			if m.Meta.ClusterVersion > 0 {
				n.Supports = m.Meta.ClusterVersion
			}
		}
		if id == ca.nodeID {
			n.State, n.Supports = "alive", metastore.SupportedClusterVersion
		}
		switch {
		case n.State != cluster.MemberAlive.String():
			st.Blockers = append(st.Blockers, fmt.Sprintf("node %s is %s: every member must be up to agree on a version", id, n.State))
		case n.Supports < metastore.SupportedClusterVersion:
			st.Blockers = append(st.Blockers, fmt.Sprintf("node %s runs %s, which supports cluster version %d: upgrade it", id, orUnknown(n.Version), n.Supports))
		}
		st.Target = min(st.Target, n.Supports)
		st.Nodes = append(st.Nodes, n)
	}
	st.Finalized = len(st.Blockers) == 0 && st.ClusterVersion >= metastore.SupportedClusterVersion
	return st
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown version"
	}
	return s
}

// finalize raises the cluster version to this binary's when every Raft
// member supports it.
func (ca *clusterAdmin) finalize(ctx context.Context) (UpgradeStatus, error) {
	st := ca.upgradeStatus()
	if st.Finalized {
		return st, nil
	}
	if len(st.Blockers) > 0 {
		return st, &Error{Status: http.StatusConflict, Code: "UpgradeBlocked", Message: fmt.Sprintf("cannot finalize: %v", st.Blockers)}
	}
	if err := ca.meta.SetClusterVersion(ctx, metastore.SupportedClusterVersion); err != nil {
		return st, err
	}
	return ca.upgradeStatus(), nil
}

// AutoFinalize raises the cluster version, on the metadata leader, as
// soon as every Raft member supports this binary's version: every
// interval until ctx ends. It returns at once on a server without
// cluster membership.
func (a *Server) AutoFinalize(ctx context.Context, interval time.Duration, log *slog.Logger) {
	if a.cluster == nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !a.meta.IsLeader() || a.meta.ClusterVersion() >= metastore.SupportedClusterVersion {
			continue
		}
		st := a.cluster.upgradeStatus()
		if len(st.Blockers) > 0 {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		from := st.ClusterVersion
		st, err := a.cluster.finalize(fctx)
		cancel()
		if err != nil {
			log.Warn("automatic upgrade finalisation failed; retrying", "err", err)
			continue
		}
		log.Info("cluster upgrade finalized: every node runs a binary that supports the new cluster version",
			"from", from, "to", st.ClusterVersion)
	}
}
