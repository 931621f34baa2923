package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// metaApplyTimeout bounds how long one metadata write or linearizable read
// waits for a Raft leader (retries through elections included) before the
// S3 request fails with 503: a few elections' worth, well under S3
// clients' own timeouts.
const metaApplyTimeout = 15 * time.Second

// leaveTimeout bounds each of the two broadcasts of a graceful gossip
// leave at shutdown (state "leaving", then memberlist's leave message).
const leaveTimeout = 750 * time.Millisecond

// clusterSecret returns the cluster secret: --cluster-secret (or
// VAULTAIRE_CLUSTER_SECRET), else the one kept in --data/cluster.secret,
// else, for a node that bootstraps a new cluster, a fresh one (kept, mode
// 0600, and reported as generated so the banner shows it once). A joining
// node keeps the secret it was given, so it restarts without it.
func clusterSecret(f serverFlags) (s cluster.Secret, generated bool, err error) {
	path := filepath.Join(f.data, "cluster.secret")
	kept, rerr := os.ReadFile(path)
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return s, false, rerr
	}
	keptText := strings.TrimSpace(string(kept))
	switch {
	case f.clusterSecret != "":
		if s, err = cluster.ParseSecret(f.clusterSecret); err != nil {
			return s, false, fmt.Errorf("--cluster-secret: %w", err)
		}
		if keptText != "" && keptText != s.Encode() {
			return s, false, fmt.Errorf("--cluster-secret differs from the one kept in %s: this data dir belongs to another cluster", path)
		}
		if keptText == "" {
			err = writeFileSync(path, s.Encode()+"\n")
		}
		return s, false, err
	case keptText != "":
		s, err = cluster.ParseSecret(keptText)
		if err != nil {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return s, false, err
	case len(f.join) > 0:
		return s, false, errors.New("joining a cluster needs its secret: pass --cluster-secret or set VAULTAIRE_CLUSTER_SECRET (printed by the first node, kept in its data dir as cluster.secret)")
	}
	if s, err = cluster.GenerateSecret(); err != nil {
		return s, false, err
	}
	return s, true, writeFileSync(path, s.Encode()+"\n")
}

// clusterNode is this node's part of the cluster: the authenticated RPC
// transport (which also carries Raft), the gossip membership, and the
// state this node advertises.
type clusterNode struct {
	id        string
	log       *slog.Logger
	trans     *cluster.Transport
	raftTrans *raft.NetworkTransport
	forwarder *cluster.Forwarder
	members   *cluster.Membership
	drives    []node.Drive
	s3Addr    string
	adminAddr string

	state  atomic.Uint32                     // cluster.NodeState
	leases atomic.Pointer[func(string) bool] // the engine's read leases (node/gc.go)
	meta   atomic.Pointer[cluster.NodeMeta]
	kick   chan struct{} // membership changed: reconcile Raft now

	stop context.CancelFunc
	wg   sync.WaitGroup

	peersPath  string // where the peers' gossip addresses are kept
	peersSaved string // what peersPath holds

	changeMu sync.Mutex      // serializes membersChanged
	wasAlive map[string]bool // membersChanged's last view
	alive    atomic.Int64    // alive members at the last change (0: not counted yet)
}

// startTransport opens the RPC listener and the Raft transport over it.
func startTransport(f serverFlags, id string, secret cluster.Secret, log *slog.Logger) (*clusterNode, error) {
	t, err := cluster.NewTransport(cluster.TransportConfig{
		NodeID: id, BindAddr: f.rpcAddr, AdvertiseAddr: f.rpcAdvertise, Secret: secret,
		Logger: log.With("component", "rpc"),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster RPC listener on %s: %w", f.rpcAddr, err)
	}
	c := &clusterNode{
		id: id, log: log, trans: t,
		raftTrans: raft.NewNetworkTransport(t.RaftLayer(), 5, 10*time.Second, io.Discard),
		forwarder: cluster.NewForwarder(t.Client(), "https"),
		kick:      make(chan struct{}, 1),
	}
	c.state.Store(uint32(cluster.NodeJoining))
	return c, nil
}

// serveRPC registers the RPC services: metadata forwarding to this node
// when it leads, its drives' shards, and node removal.
func (c *clusterNode) serveRPC(meta *metastore.Store, drives []node.Drive) {
	byID := make(map[string]drivers.Driver, len(drives))
	for _, d := range drives {
		byID[d.ID] = d.Driver
	}
	mux := http.NewServeMux()
	cluster.RegisterMeta(mux, meta)
	// Read leases: answered by the engine once it exists (none before).
	cluster.RegisterLeases(mux, func(id string) bool {
		held := c.leases.Load()
		return held != nil && (*held)(id)
	})
	cluster.RegisterShards(mux, func(id string) (drivers.Driver, bool) {
		d, ok := byID[id]
		return d, ok
	})
	mux.HandleFunc("POST /v1/cluster/remove/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := node.RemoveNode(meta, r.PathValue("id")); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, node.ErrNotRaftLeader) {
				status = http.StatusMisdirectedRequest
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	c.trans.Serve(mux)
}

// startMembership joins gossip (retrying the seeds until one answers) and
// keeps this node's advertised drives fresh.
func (c *clusterNode) startMembership(f serverFlags, secret cluster.Secret, drives []node.Drive, s3Addr, adminAddr string) error {
	c.drives, c.s3Addr, c.adminAddr = drives, s3Addr, adminAddr
	c.refreshMeta(context.Background())
	c.peersPath = filepath.Join(f.data, "cluster.peers")
	saved, _ := os.ReadFile(c.peersPath)
	c.peersSaved = string(saved)
	// created is the Membership once NewMembership returned: OnChange may
	// run before that.
	var created atomic.Pointer[cluster.Membership]
	m, err := cluster.NewMembership(cluster.MembershipConfig{
		NodeID: c.id, BindAddr: f.gossipAddr, AdvertiseAddr: f.gossipAdvertise, Secret: secret,
		Meta: func() cluster.NodeMeta { return *c.meta.Load() },
		OnChange: func() {
			select {
			case c.kick <- struct{}{}:
			default:
			}
			if m := created.Load(); m != nil {
				c.membersChanged(m)
			}
		},
		Logger: c.log.With("component", "gossip"),
	})
	if err != nil {
		return fmt.Errorf("gossip on %s: %w", f.gossipAddr, err)
	}
	c.members = m
	created.Store(m)
	c.membersChanged(m) // changes before the Store were not followed
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	// Seeds: --join, and the peers this node knew when it last ran, so a
	// restarted node finds its cluster even when started without --join
	// (the bootstrap node, typically).
	seeds := slices.Clone(f.join)
	for _, a := range strings.Fields(string(saved)) {
		if !slices.Contains(seeds, a) {
			seeds = append(seeds, a)
		}
	}
	if len(seeds) > 0 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := m.Join(ctx, seeds); err != nil {
				if ctx.Err() == nil {
					c.log.Error("joining the cluster failed", "seeds", seeds, "err", err)
				}
				return
			}
			c.log.Info("joined the cluster", "seeds", seeds)
		}()
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.refreshMeta(ctx)
				if err := m.Refresh(); err != nil {
					c.log.Debug("gossip refresh failed", "err", err)
				}
			}
		}
	}()
	return nil
}

// runRaftMembership runs the Raft configuration reconciler (it acts only
// while this node leads).
func (c *clusterNode) runRaftMembership(meta *metastore.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	prev := c.stop
	c.stop = func() { cancel(); prev() }
	rm := &node.RaftMembership{Meta: meta, Members: c.members, Logger: c.log.With("component", "raft-membership")}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); rm.Run(ctx, c.kick) }()
}

// membersChanged follows a gossip change: it counts the alive members
// (liveNodes, read on every request, is then a load), keeps the others'
// addresses for the next start (savePeers), and closes the connections to
// members just declared dead or gone, so requests streaming to them fail
// now rather than when TCP gives up (see cluster.Transport.DropPeer).
func (c *clusterNode) membersChanged(members *cluster.Membership) {
	c.changeMu.Lock()
	defer c.changeMu.Unlock()
	if c.wasAlive == nil {
		c.wasAlive = map[string]bool{}
	}
	n := int64(0)
	var peers []string
	for _, m := range members.Members() {
		alive := m.State == cluster.MemberAlive
		if alive {
			n++
			if !m.Self {
				peers = append(peers, m.GossipAddr)
			}
		}
		if c.wasAlive[m.ID] && !alive && m.Meta.RPCAddr != "" {
			k := c.trans.DropPeer(m.Meta.RPCAddr)
			c.log.Info("dropped the connections to a node gossip declared gone", "node", m.ID, "state", m.State.String(), "connections", k)
		}
		c.wasAlive[m.ID] = alive
	}
	c.alive.Store(n)
	c.savePeers(peers)
}

// savePeers keeps the gossip addresses of the other live members (sorted
// by id) in data/cluster.peers when they changed: the seeds of the next
// start.
func (c *clusterNode) savePeers(addrs []string) {
	if len(addrs) == 0 {
		return // alone now: keep the last peers we knew
	}
	text := strings.Join(addrs, "\n") + "\n"
	if text == c.peersSaved {
		return
	}
	if err := writeFileSync(c.peersPath, text); err != nil {
		c.log.Warn("cannot keep the peers' addresses", "path", c.peersPath, "err", err)
		return
	}
	c.peersSaved = text
}

// setState changes the state this node gossips.
func (c *clusterNode) setState(s cluster.NodeState) {
	c.state.Store(uint32(s))
	c.refreshMeta(context.Background())
	if c.members != nil {
		if err := c.members.Refresh(); err != nil {
			c.log.Debug("gossip refresh failed", "err", err)
		}
	}
}

// refreshMeta recomputes what this node advertises (drive usage is a
// statfs per drive, done here and never under memberlist's locks).
func (c *clusterNode) refreshMeta(ctx context.Context) {
	m := cluster.NodeMeta{
		ID: c.id, Version: version, S3Addr: c.s3Addr, RPCAddr: c.trans.Addr(), AdminAddr: c.adminAddr,
		State:          cluster.NodeState(c.state.Load()),
		ClusterVersion: metastore.SupportedClusterVersion,
	}
	for _, d := range c.drives {
		dm := cluster.DriveMeta{ID: d.ID}
		if u, err := d.Driver.Usage(ctx); err == nil {
			dm.Total, dm.Free, dm.Online = u.Total, u.Free, u.Online
		}
		m.Drives = append(m.Drives, dm)
	}
	c.meta.Store(&m)
}

// liveNodes counts the alive members (at least 1: this node), for the
// cluster-wide share of a tenant's rate limit.
func (c *clusterNode) liveNodes() int {
	return max(int(c.alive.Load()), 1)
}

// close leaves gossip (so peers see a graceful leave at once) and closes
// the transports. Raft must be closed before.
func (c *clusterNode) close() {
	if c.members != nil {
		// Leave gossips the new state itself: no separate refresh (each
		// waits for its broadcast), and a short wait: peers that miss the
		// leave see the node dead a few seconds later.
		c.state.Store(uint32(cluster.NodeLeaving))
		c.refreshMeta(context.Background())
		if err := c.members.Leave(leaveTimeout); err != nil {
			c.log.Debug("gossip leave", "err", err)
		}
	}
	if c.stop != nil {
		c.stop()
	}
	c.wg.Wait()
	if c.members != nil {
		c.members.Close()
	}
	c.raftTrans.Close()
	c.trans.Close()
}

// --- CLI: vaultaire cluster status|remove|decommission ---

const clusterUsage = `Usage: vaultaire cluster [flags] <command>

Commands:
  status          nodes, their state, version, Raft role, drives with usage and health
  remove NODE     take a stopped node out of the metadata Raft group
  decommission NODE [--throttle RATE|off] [--detach]
                  retire a live node: it gets no new shards, every shard it holds moves to the
                  others (throttled, default 32MiB/s), leadership moves off it, it stops and
                  leaves the Raft group; follows the progress (shards, bytes, rate, ETA)
  decommission status [NODE] | pause NODE | resume NODE | cancel NODE
  rebalance --plan [--tolerance F]
                  what moving shards to each drive's capacity share would move (per-drive shares)
  rebalance [--throttle RATE|off] [--tolerance F] [--detach]
                  apply it, throttled, following the progress; rebalance status|pause|resume|cancel
  upgrade status  the cluster version, each node's release and the cluster version it supports,
                  and what keeps the upgrade from being finalized
  upgrade finalize
                  raise the cluster version now (every node must run the new release);
                  enables the release's new features and ends the rollback window

Flags (as for vaultaire admin):
  --endpoint URL  admin endpoint of any node (default $VAULTAIRE_ADMIN_ENDPOINT or http://127.0.0.1:9001)
  --token TOKEN   admin token (default $VAULTAIRE_ADMIN_TOKEN or --data DIR/admin.token)
  --data DIR      data dir to read admin.token from (default $VAULTAIRE_DATA or data)
  --json          print JSON instead of a table
`

func clusterCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// The admin CLI's flags, client and errors serve the cluster commands:
	// "vaultaire cluster status" is "vaultaire admin cluster status".
	flagsEnd := 0
	for flagsEnd < len(args) && strings.HasPrefix(args[flagsEnd], "-") {
		if !strings.Contains(args[flagsEnd], "=") && args[flagsEnd] != "--json" && args[flagsEnd] != "-json" {
			flagsEnd++
		}
		flagsEnd++
	}
	if flagsEnd > len(args) || len(args) == flagsEnd {
		fmt.Fprint(stderr, clusterUsage)
		return 2
	}
	if a := args[flagsEnd]; a == "-h" || a == "--help" || a == "help" {
		fmt.Fprint(stdout, clusterUsage)
		return 0
	}
	rest := append([]string{}, args[:flagsEnd]...)
	rest = append(rest, "cluster")
	rest = append(rest, args[flagsEnd:]...)
	return adminCommand(ctx, rest, stdout, stderr)
}

// runCluster is the "cluster" noun of the admin CLI.
func (c *adminClient) runCluster(ctx context.Context, verb string, args []string, asJSON bool, out io.Writer) error {
	switch verb {
	case "status":
		raw, err := c.do(ctx, http.MethodGet, "/admin/v1/cluster", nil)
		if err != nil {
			return err
		}
		if asJSON {
			_, err = out.Write(raw)
			return err
		}
		var st admin.ClusterStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return err
		}
		var rows [][]string
		for _, n := range st.Nodes {
			online, total := 0, len(n.Drives)
			var cap, free int64
			for _, d := range n.Drives {
				if d.Online {
					online++
				}
				cap += d.Total
				free += d.Free
			}
			rows = append(rows, []string{n.ID, n.State, n.NodeState, n.RaftRole, n.Version, n.S3, n.RPC,
				fmt.Sprintf("%d/%d", online, total), fmt.Sprintf("%s/%s", humanBytes(cap-free), humanBytes(cap))})
		}
		fmt.Fprintf(out, "leader: %s   cluster version: %d   erasure shape of new artifacts (as node %s sees the cluster): %s\n", st.Leader, st.ClusterVersion, st.Node, st.Shape)
		if c := st.Capacity; c != nil {
			fmt.Fprintln(out, capacityLine(*c))
		}
		for _, w := range st.Warnings {
			fmt.Fprintf(out, "WARNING: %s\n", w)
		}
		return table(out, "NODE\tSTATE\tNODE STATE\tRAFT\tVERSION\tS3\tRPC\tDRIVES ONLINE\tUSED/CAPACITY", rows)
	case "upgrade":
		return c.runUpgrade(ctx, args, asJSON, out)
	case "decommission":
		return c.runDecommission(ctx, args, asJSON, out)
	case "rebalance":
		return c.runRebalance(ctx, args, asJSON, out)
	case "remove":
		if len(args) != 1 {
			return fmt.Errorf("%w: cluster remove NODE", errUsage)
		}
		if _, err := c.do(ctx, http.MethodPost, "/admin/v1/cluster/nodes/"+args[0]+"/remove", nil); err != nil {
			return err
		}
		fmt.Fprintf(out, "removed %s from the metadata group\n", args[0])
		return nil
	}
	return fmt.Errorf("%w: unknown cluster command %q", errUsage, verb)
}

// capacityLine is the capacity fallback's line of `cluster status`.
func capacityLine(c node.CapacityStatus) string {
	used := fmt.Sprintf("capacity: %s of %s used (%.1f%%)", humanBytes(c.Used), humanBytes(c.Total), 100*c.UsedRatio())
	switch {
	case c.Tier == "":
		return used + "   capacity fallback: off (no --capacity-tier; writes fail when the drives are full)"
	case c.Spilling:
		return fmt.Sprintf("%s   capacity fallback: SPILLING to tier %s until below %.0f%% (started at %.0f%%; moved %d versions, %s)",
			used, c.Tier, 100*c.Low, 100*c.High, c.Moved, humanBytes(c.MovedBytes))
	}
	return fmt.Sprintf("%s   capacity fallback: to tier %s above %.0f%%, down to %.0f%% (moved %d versions, %s)", used, c.Tier, 100*c.High, 100*c.Low, c.Moved, humanBytes(c.MovedBytes))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// runUpgrade is "cluster upgrade status|finalize".
func (c *adminClient) runUpgrade(ctx context.Context, args []string, asJSON bool, out io.Writer) error {
	if len(args) != 1 || args[0] != "status" && args[0] != "finalize" {
		return fmt.Errorf("%w: cluster upgrade status|finalize", errUsage)
	}
	method, path := http.MethodGet, "/admin/v1/cluster/upgrade"
	if args[0] == "finalize" {
		method, path = http.MethodPost, path+"/finalize"
	}
	raw, err := c.do(ctx, method, path, nil)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = out.Write(raw)
		return err
	}
	var st admin.UpgradeStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return err
	}
	state := "finalized"
	switch {
	case !st.Finalized && len(st.Blockers) > 0:
		state = "in progress (not finalized)"
	case !st.Finalized:
		state = fmt.Sprintf("ready to finalize to cluster version %d", st.Target)
	}
	fmt.Fprintf(out, "cluster version: %d   upgrade: %s\n", st.ClusterVersion, state)
	for _, b := range st.Blockers {
		fmt.Fprintf(out, "  - %s\n", b)
	}
	var rows [][]string
	for _, n := range st.Nodes {
		rows = append(rows, []string{n.ID, n.RaftRole, n.State, n.Version, fmt.Sprint(n.Supports)})
	}
	return table(out, "NODE\tRAFT\tSTATE\tVERSION\tSUPPORTS", rows)
}
