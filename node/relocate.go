package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/metastore"
)

// Relocation moves the shards of nodes an operator removed from the
// cluster onto live drives.
//
// The healer rebuilds a shard onto the drive its placement names; a shard
// whose node was removed (`vaultaire cluster remove`, which takes it out
// of the metadata Raft group) has no such drive any more, so without
// relocation its blob would stay degraded for good. Only the metadata
// leader relocates, one shard at a time: it walks every blob the metadata
// references, and for each shard on a node that is not in the Raft
// configuration it picks a new drive (relocationTarget), rebuilds the
// shard there from the others (as the healer does), and commits the move
// with metastore.RelocateShard, which applies only if the shard is still
// where the walk saw it. A commit that finds nothing to move (the artifact
// was overwritten or deleted meanwhile) deletes the rebuilt copy.
//
// Dead nodes are left alone: gossip says a node is dead after a few missed
// probes, and it may come back with its drives intact; moving its shards
// would cost a full rebuild per blob for every network blip. Removal is
// the operator's statement that it will not.

// DefaultRelocateInterval is how often the metadata leader walks every
// blob for shards on removed nodes; it also walks at once when it becomes
// leader and when the Raft configuration changes (a removal).
const DefaultRelocateInterval = time.Minute

// relocateCheck is how often the relocator looks at leadership and the
// Raft configuration (both in memory) to decide whether to walk now.
const relocateCheck = time.Second

// RelocateReport counts what one relocation pass did.
type RelocateReport struct {
	Blobs     int // blobs visited
	Relocated int // shards rebuilt on a new drive and committed there
	Failed    int // shards that could not be relocated (retried next pass)
}

// errNotLeader stops a relocation pass on a node that lost leadership.
var errNotLeader = errors.New("node: no longer the metadata leader")

// relocateLoop runs a relocation pass on the metadata leader every
// RelocateInterval, when it becomes leader, when the Raft configuration
// changes, and when kicked.
func (e *Engine) relocateLoop(ctx context.Context) {
	iv := e.cfg.RelocateInterval
	if iv <= 0 {
		return
	}
	t := time.NewTicker(relocateCheck)
	defer t.Stop()
	var last time.Time
	lastConfig, leading := "", false
	for {
		kicked := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.relocKick:
			kicked = true
		}
		if !e.meta.IsLeader() {
			leading = false
			continue
		}
		servers, err := e.raftServers()
		if err != nil {
			continue
		}
		config := strings.Join(servers, ",")
		if leading && !kicked && config == lastConfig && time.Since(last) < iv {
			continue
		}
		leading, lastConfig, last = true, config, time.Now()
		rep, err := e.Relocate(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, errNotLeader) {
			e.log.Warn("relocation pass incomplete", "err", err)
		}
		if rep.Relocated > 0 || rep.Failed > 0 {
			e.log.Info("relocation pass done", "blobs", rep.Blobs, "relocated", rep.Relocated, "failed", rep.Failed)
		}
	}
}

// KickRelocation asks the relocator for a pass now (it runs only on the
// metadata leader, and only when Config.RelocateInterval is set).
func (e *Engine) KickRelocation() {
	select {
	case e.relocKick <- struct{}{}:
	default:
	}
}

// raftServers returns the ids of the servers of the metadata group's
// latest configuration, sorted.
func (e *Engine) raftServers() ([]string, error) {
	f := e.meta.Raft().GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range f.Configuration().Servers {
		ids = append(ids, string(s.ID))
	}
	if len(ids) == 0 {
		return nil, errors.New("node: empty raft configuration")
	}
	sort.Strings(ids)
	return ids, nil
}

// removedCheck decides whether a node was removed from the cluster:
// Config.NodeRemoved when set, else "not in the Raft configuration". A
// miss in the cached configuration is checked against a fresh one, once
// per node and pass, so a node that joined during a pass is never taken
// for removed, and a removed node's many shards cost one lookup.
type removedCheck struct {
	e       *Engine
	servers map[string]bool
	gone    map[string]bool // nodes confirmed absent by a fresh configuration
}

func (e *Engine) newRemovedCheck() (*removedCheck, error) {
	r := &removedCheck{e: e}
	if e.cfg.NodeRemoved == nil {
		if err := r.refresh(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *removedCheck) refresh() error {
	ids, err := r.e.raftServers()
	if err != nil {
		return err
	}
	r.servers = make(map[string]bool, len(ids))
	for _, id := range ids {
		r.servers[id] = true
	}
	return nil
}

func (r *removedCheck) removed(id string) bool {
	if id == "" || id == r.e.cfg.NodeID {
		return false
	}
	if r.e.cfg.NodeRemoved != nil {
		return r.e.cfg.NodeRemoved(id)
	}
	if r.servers[id] {
		return false
	}
	if r.gone[id] {
		return true
	}
	if r.refresh() != nil {
		return false // unsure: leave it
	}
	if r.servers[id] {
		return false
	}
	if r.gone == nil {
		r.gone = map[string]bool{}
	}
	r.gone[id] = true
	return true
}

// Relocate runs one relocation pass: every shard of every referenced blob
// that lives on a removed node is rebuilt on a live drive and committed
// there, one at a time. It must run on the metadata leader (it stops when
// leadership moves). Shards that fail are counted and left for the next
// pass.
func (e *Engine) Relocate(ctx context.Context) (RelocateReport, error) {
	var rep RelocateReport
	check, err := e.newRemovedCheck()
	if err != nil {
		return rep, err
	}
	done := map[string]bool{} // blobs relocated this pass (shared blobs are visited twice)
	var errs []error
	err = e.meta.ForEachBlob(ctx, func(b metastore.Blob, size int64) error {
		rep.Blobs++
		if done[b.ID] || metastore.BlobTier(b) != "" {
			return nil
		}
		var todo []int
		for i, s := range b.Shards {
			if check.removed(s.Node) {
				todo = append(todo, i)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		if !e.meta.IsLeader() {
			return errNotLeader
		}
		done[b.ID] = true
		b.Shards = slices.Clone(b.Shards)
		for _, i := range todo {
			err := e.relocateShard(ctx, &b, size, i, check.removed)
			switch {
			case err == nil:
				rep.Relocated++
				e.stats.shardsRelocated.Add(1)
			case errors.Is(err, errRelocationMoot):
				return nil // the blob went away or moved: nothing more to do
			case ctx.Err() != nil:
				return ctx.Err()
			default:
				rep.Failed++
				e.stats.relocateFailed.Add(1)
				if len(errs) < 10 {
					errs = append(errs, err)
				}
				e.log.Warn("relocating shard failed", "blob", b.ID, "shard", i, "from", b.Shards[i].Node, "err", err)
			}
		}
		return nil
	}, metastore.Stale)
	if err != nil {
		return rep, err
	}
	return rep, errors.Join(errs...)
}

// errRelocationMoot: the relocation's commit found the shard no longer
// where it was (the blob was overwritten, deleted or moved meanwhile).
var errRelocationMoot = errors.New("node: shard no longer where relocation found it")

// relocateShard rebuilds shard i of b on a new drive and commits the move;
// on success b.Shards[i] names the new drive. removed says which nodes are
// gone for good.
func (e *Engine) relocateShard(ctx context.Context, b *metastore.Blob, size int64, i int, removed func(string) bool) error {
	cands := e.candidates(ctx)
	pd := make([]placeDrive, 0, len(cands))
	drives := make([]Drive, 0, len(cands))
	for _, c := range cands {
		if !c.online || removed(c.Node) {
			continue
		}
		pd = append(pd, placeDrive{ID: c.ID, Node: c.Node, Online: true})
		drives = append(drives, c.Drive)
	}
	j := relocationTarget(*b, i, pd, removed)
	if j < 0 {
		return fmt.Errorf("node: no live drive to relocate shard %d of blob %s to", i, b.ID)
	}
	target := drives[j]
	from := b.Shards[i]
	// The removed node's drives are unknown: the mover rebuilds.
	if _, err := e.moveShard(ctx, b, size, i, target, nil); err != nil {
		if errors.Is(err, errMoveMoot) {
			return errRelocationMoot
		}
		return err
	}
	e.log.Info("shard relocated", "blob", b.ID, "shard", i, "from", from.Node+"/"+from.Drive, "to", target.Node+"/"+target.ID)
	return nil
}

func (e *Engine) dropShard(ctx context.Context, d drivers.Driver, name string) {
	if err := d.Delete(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, drivers.ErrNotFound) {
		e.log.Warn("deleting a shard copy no placement names failed (the orphan sweep retries)", "shard", name, "err", err)
	}
}

// relocationTarget chooses the drive (an index into drives, the online
// drives of the nodes that remain) for shard index of b, or -1 when there
// is none. The rules are placement's, applied to one shard with the
// others in place:
//
//   - at most m shards per node while the remaining nodes can hold the
//     blob that way (else the cap is relaxed evenly, as place does);
//   - a drive holding no shard of the blob before one that holds some:
//     with fewer drives than shards (3 nodes × 4 drives at 8+4, one node
//     removed), two shards share a drive rather than one stay lost;
//   - then the least loaded node, then the rendezvous score.
//
// Shards on removed nodes (other than index) count nowhere: they are
// moving too.
func relocationTarget(b metastore.Blob, index int, drives []placeDrive, removed func(string) bool) int {
	nodeLoad := map[string]int{}
	driveLoad := map[[2]string]int{}
	for j, s := range b.Shards {
		if j == index || removed(s.Node) {
			continue
		}
		nodeLoad[s.Node]++
		driveLoad[[2]string{s.Node, s.Drive}]++
	}
	nodes := map[string]bool{}
	for _, d := range drives {
		nodes[d.Node] = true
	}
	if len(nodes) == 0 {
		return -1
	}
	perNode := max(b.M, 1)
	for perNode*len(nodes) < len(b.Shards) {
		perNode++
	}
	type key struct {
		overCap       bool
		driveN, nodeN int
		score         uint64
		id            string
	}
	best, bestKey := -1, key{}
	less := func(a, b key) bool {
		if a.overCap != b.overCap {
			return !a.overCap
		}
		if c := cmp.Compare(a.driveN, b.driveN); c != 0 {
			return c < 0
		}
		if c := cmp.Compare(a.nodeN, b.nodeN); c != 0 {
			return c < 0
		}
		if a.score != b.score {
			return a.score > b.score
		}
		return a.id < b.id
	}
	for i, d := range drives {
		k := key{
			overCap: nodeLoad[d.Node] >= perNode,
			driveN:  driveLoad[[2]string{d.Node, d.ID}],
			nodeN:   nodeLoad[d.Node],
			score:   rendezvousScore(b.ID, d.ID),
			id:      d.ID,
		}
		if best < 0 || less(k, bestKey) {
			best, bestKey = i, k
		}
	}
	return best
}
