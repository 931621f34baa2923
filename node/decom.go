package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"golang.org/x/time/rate"

	"github.com/vaultaire/vaultaire/metastore"
)

// Decommission: retiring a live node.
//
// The operator's request is replicated state (metastore op job
// "decom/<node>": DecomRequest), so every node sees at once that the node
// drains: placement gives it no new shards (candidates leaves its drives
// out). The metadata leader runs the job (decomLoop), one node at a time:
//
//  1. moving: it walks every blob the metadata references and moves each
//     shard on the node to a drive of another node, chosen by the
//     relocation rules (relocationTarget: at most m shards of a blob per
//     node while the others can hold it that way, a drive that holds none
//     of the blob first), with the shard mover (move.go): a verified copy,
//     a conditional commit, the old copy deleted; throttled. Its progress
//     (DecomProgress, op job "decom-progress/<node>") is committed every
//     few seconds, so a new leader resumes it: the walk is idempotent,
//     every moved shard is no longer on the node. The phase ends with a
//     pass that finds no shard left on the node.
//  2. leaving: the job commits phase done; the node, which applies the
//     entry like every member, stops serving (Config.OnDecommissioned:
//     the server drains its requests and leaves gossip).
//  3. once its drives are gone from the peers (it left or died) or
//     decomLeaveWait passed, the leader removes it from the Raft group,
//     deletes the request (placement forgets it) and keeps the progress
//     with phase removed for `status`.
//
// A draining node that leads the metadata group transfers leadership
// before the job starts. Pause keeps the node out of placement and stops
// the moves; cancel deletes the request and the progress: the node takes
// new shards again, and the shards already moved stay where they went.

// Decommission defaults.
const (
	// DefaultMoveRate is the throttle of decommission and rebalance
	// moves, in bytes per second written: half the heal job's, because
	// these moves are never urgent (every shard still has its copies) and
	// at 64 MiB/s foreground p99 on a shared disk rose 1.45-1.56x idle
	// against the 1.5x goal, at 32 MiB/s not at all (docs/design.md).
	DefaultMoveRate = 32 << 20
	// decomCheck: how often the job loop looks at the requests, and how
	// often a running pass rereads its request (pause, cancel, throttle).
	decomCheck = time.Second
	// decomSaveEvery: how often a running pass commits its progress.
	decomSaveEvery = 2 * time.Second
	// decomLeaveWait bounds how long the leader waits for a node told to
	// stop before it removes it from the Raft group anyway.
	decomLeaveWait = time.Minute
	// decomRetry: the pause after a pass that could not move every shard.
	decomRetry = 5 * time.Second
)

// Decommission request states and progress phases.
const (
	DecomDraining = "draining"
	DecomPaused   = "paused"

	DecomMoving  = "moving"
	DecomLeaving = "leaving"
	DecomDone    = "done"
	DecomRemoved = "removed"
)

const (
	decomReqPrefix  = "decom/"
	decomProgPrefix = "decom-progress/"
)

// Errors of decommission.
var (
	// ErrNotMember: the node is not a member of the metadata group.
	ErrNotMember = errors.New("node: not a member of the cluster")
	// ErrNoDecommission: the node is not being decommissioned.
	ErrNoDecommission = errors.New("node: no decommission of this node")
	// ErrLastNode: decommissioning the node would leave no node to hold
	// the shards.
	ErrLastNode = errors.New("node: no other node would remain to hold the shards")
)

// DecomRequest is the operator's request to decommission a node.
type DecomRequest struct {
	Node  string `json:"node"`
	State string `json:"state"` // DecomDraining or DecomPaused
	// Throttle is the bytes per second the moves may write (0: the
	// default, DefaultMoveRate; < 0: unthrottled).
	Throttle  int64     `json:"throttle"`
	Requested time.Time `json:"requested"`
}

// DecomProgress is a decommission job's progress, committed by the
// leader that runs it.
type DecomProgress struct {
	Node  string `json:"node"`
	Phase string `json:"phase"`
	// Moved shards (Rebuilt of them rebuilt from the others rather than
	// copied), Bytes written; Failed moves (retried); Remaining shards on
	// the node when last counted (at the start of a pass, then counted
	// down).
	Moved     int64 `json:"moved"`
	Rebuilt   int64 `json:"rebuilt"`
	Failed    int64 `json:"failed"`
	Bytes     int64 `json:"bytes"`
	Remaining int64 `json:"remaining"`
	Passes    int64 `json:"passes"`
	// Rate is the bytes per second of the running pass.
	Rate    float64   `json:"rate"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Leader is the node that runs the job; Error its last failure.
	Leader string `json:"leader,omitempty"`
	Error  string `json:"error,omitempty"`
}

// DecomStatus is one node's decommission: the request (nil once the node
// was removed) and the progress (nil before the job starts).
type DecomStatus struct {
	Node     string         `json:"node"`
	Request  *DecomRequest  `json:"request,omitempty"`
	Progress *DecomProgress `json:"progress,omitempty"`
}

// StartDecommission asks for node to be decommissioned, moving its
// shards at throttle bytes per second (0: DefaultMoveRate; < 0: no
// limit). Asking again for a node that is already draining changes the
// throttle and resumes it.
func (e *Engine) StartDecommission(ctx context.Context, node string, throttle int64) (DecomStatus, error) {
	members, err := e.raftServers()
	if err != nil {
		return DecomStatus{}, err
	}
	if !slices.Contains(members, node) {
		return DecomStatus{}, fmt.Errorf("%w: %q", ErrNotMember, node)
	}
	reqs, err := e.decomRequests(ctx, metastore.Linearizable)
	if err != nil {
		return DecomStatus{}, metaErr(err)
	}
	others := 0
	for _, m := range members {
		if _, draining := reqs[m]; m != node && !draining {
			others++
		}
	}
	if others == 0 {
		return DecomStatus{}, fmt.Errorf("%w: decommissioning %s", ErrLastNode, node)
	}
	req := DecomRequest{Node: node, State: DecomDraining, Throttle: throttle, Requested: now()}
	if old, ok := reqs[node]; ok {
		req.Requested = old.Requested
	}
	if err := e.putDecomRequest(ctx, req); err != nil {
		return DecomStatus{}, err
	}
	return e.DecommissionStatus(ctx, node)
}

// PauseDecommission stops the moves of node's decommission (it still
// receives no new shards); ResumeDecommission restarts them.
func (e *Engine) PauseDecommission(ctx context.Context, node string) (DecomStatus, error) {
	return e.setDecomState(ctx, node, DecomPaused)
}

// ResumeDecommission restarts a paused decommission.
func (e *Engine) ResumeDecommission(ctx context.Context, node string) (DecomStatus, error) {
	return e.setDecomState(ctx, node, DecomDraining)
}

func (e *Engine) setDecomState(ctx context.Context, node, state string) (DecomStatus, error) {
	reqs, err := e.decomRequests(ctx, metastore.Linearizable)
	if err != nil {
		return DecomStatus{}, metaErr(err)
	}
	req, ok := reqs[node]
	if !ok {
		return DecomStatus{}, fmt.Errorf("%w: %q", ErrNoDecommission, node)
	}
	req.State = state
	if err := e.putDecomRequest(ctx, req); err != nil {
		return DecomStatus{}, err
	}
	return e.DecommissionStatus(ctx, node)
}

// CancelDecommission ends node's decommission: it takes new shards
// again; shards already moved stay where they went. A node already told
// to stop (phase done) cannot be cancelled; once removed, cancelling
// forgets the job, so its ID may join the cluster again.
func (e *Engine) CancelDecommission(ctx context.Context, node string) error {
	st, err := e.DecommissionStatus(ctx, node)
	if err != nil {
		return err
	}
	if st.Progress != nil && st.Progress.Phase == DecomDone {
		return fmt.Errorf("%w: node %s was already told to stop; wait until it is removed", ErrInvalidArgument, node)
	}
	if err := e.meta.SetOpJob(ctx, decomReqPrefix+node, nil); err != nil {
		return metaErr(err)
	}
	return metaErr(e.meta.SetOpJob(ctx, decomProgPrefix+node, nil))
}

// DecommissionStatus returns one node's decommission (ErrNoDecommission
// when there is none).
func (e *Engine) DecommissionStatus(ctx context.Context, node string) (DecomStatus, error) {
	all, err := e.Decommissions(ctx)
	if err != nil {
		return DecomStatus{}, err
	}
	for _, s := range all {
		if s.Node == node {
			return s, nil
		}
	}
	return DecomStatus{}, fmt.Errorf("%w: %q", ErrNoDecommission, node)
}

// Decommissions returns every decommission the cluster knows, by node.
func (e *Engine) Decommissions(ctx context.Context) ([]DecomStatus, error) {
	ctx = metastore.WithReadScope(ctx) // one read barrier: what was acknowledged
	reqs, err := e.decomRequests(ctx, metastore.Linearizable)
	if err != nil {
		return nil, metaErr(err)
	}
	progs, err := e.decomProgresses(ctx)
	if err != nil {
		return nil, metaErr(err)
	}
	by := map[string]*DecomStatus{}
	for n, r := range reqs {
		r := r
		by[n] = &DecomStatus{Node: n, Request: &r}
	}
	for n, p := range progs {
		p := p
		if by[n] == nil {
			by[n] = &DecomStatus{Node: n}
		}
		by[n].Progress = &p
	}
	out := make([]DecomStatus, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

func (e *Engine) putDecomRequest(ctx context.Context, r DecomRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return metaErr(e.meta.SetOpJob(ctx, decomReqPrefix+r.Node, b))
}

func (e *Engine) putDecomProgress(ctx context.Context, p DecomProgress) error {
	p.Updated = now()
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return e.meta.SetOpJob(ctx, decomProgPrefix+p.Node, b)
}

// decomRequests reads the requests from this node's state: stale reads
// unless opts say otherwise (the job loop asks every second).
func (e *Engine) decomRequests(ctx context.Context, opts ...metastore.ReadOption) (map[string]DecomRequest, error) {
	if opts == nil {
		opts = []metastore.ReadOption{metastore.Stale}
	}
	raw, err := e.meta.OpJobs(ctx, decomReqPrefix, opts...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]DecomRequest, len(raw))
	for name, v := range raw {
		var r DecomRequest
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("node: decommission request %s: %w", name, err)
		}
		out[r.Node] = r
	}
	return out, nil
}

func (e *Engine) decomProgresses(ctx context.Context, opts ...metastore.ReadOption) (map[string]DecomProgress, error) {
	raw, err := e.meta.OpJobs(ctx, decomProgPrefix, opts...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]DecomProgress, len(raw))
	for name, v := range raw {
		var p DecomProgress
		if err := json.Unmarshal(v, &p); err != nil {
			return nil, fmt.Errorf("node: decommission progress %s: %w", name, err)
		}
		out[p.Node] = p
	}
	return out, nil
}

// drainingNodes returns the nodes placement must give no new shards
// (nil when none, or when the state cannot be read: placement then
// proceeds as before rather than fail PUTs).
func (e *Engine) drainingNodes(ctx context.Context) map[string]bool {
	raw, err := e.meta.OpJobs(ctx, decomReqPrefix, metastore.Stale)
	if err != nil || len(raw) == 0 {
		return nil
	}
	out := make(map[string]bool, len(raw))
	for name := range raw {
		out[name[len(decomReqPrefix):]] = true
	}
	return out
}

// decomLoop runs decommission jobs on the metadata leader (then, when no
// node drains, the rebalance job) and, on every node, watches for its own
// end.
func (e *Engine) decomLoop(ctx context.Context) {
	t := time.NewTicker(decomCheck)
	defer t.Stop()
	var lastTransfer time.Time
	stopped := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !stopped {
			if p, err := e.decomProgresses(ctx, metastore.Stale); err == nil {
				if mine, ok := p[e.cfg.NodeID]; ok && (mine.Phase == DecomDone || mine.Phase == DecomRemoved) {
					stopped = true
					e.log.Warn("this node was decommissioned: it stops serving")
					if e.cfg.OnDecommissioned != nil {
						go e.cfg.OnDecommissioned()
					}
				}
			}
		}
		if !e.meta.IsLeader() {
			continue
		}
		reqs, err := e.decomRequests(ctx)
		if err != nil {
			continue
		}
		if len(reqs) == 0 {
			// No node drains: a rebalance may run (rebalance.go).
			if err := e.rebalanceStep(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, errNotLeader) {
				e.log.Warn("rebalance round failed", "err", err)
				e.sleep(ctx, decomRetry)
			}
			continue
		}
		if _, self := reqs[e.cfg.NodeID]; self {
			// The job runs elsewhere: hand leadership to another voter.
			if time.Since(lastTransfer) > 10*time.Second {
				lastTransfer = time.Now()
				e.log.Info("this node drains: transferring metadata leadership")
				if err := e.meta.Raft().LeadershipTransfer().Error(); err != nil {
					e.log.Warn("leadership transfer failed", "err", err)
				}
			}
			continue
		}
		nodes := make([]string, 0, len(reqs))
		for n := range reqs {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		for _, n := range nodes {
			if reqs[n].State != DecomDraining {
				continue
			}
			if err := e.decomStep(ctx, reqs[n]); err != nil && ctx.Err() == nil && !errors.Is(err, errNotLeader) {
				e.log.Warn("decommission step failed", "node", n, "err", err)
			}
			break // one node at a time
		}
	}
}

// decomStep advances node r.Node's decommission by one phase.
func (e *Engine) decomStep(ctx context.Context, r DecomRequest) error {
	progs, err := e.decomProgresses(ctx)
	if err != nil {
		return err
	}
	p, ok := progs[r.Node]
	if !ok {
		p = DecomProgress{Node: r.Node, Phase: DecomMoving, Started: now()}
	}
	p.Leader = e.cfg.NodeID
	switch p.Phase {
	case DecomMoving, "":
		p.Phase = DecomMoving
		done, err := e.decomPass(ctx, r, &p)
		if err != nil {
			p.Error = err.Error()
		} else {
			p.Error = ""
		}
		if done {
			p.Phase = DecomLeaving
		}
		if serr := e.putDecomProgress(ctx, p); serr != nil {
			return errors.Join(err, serr)
		}
		if err != nil && !done {
			e.sleep(ctx, decomRetry)
		}
		return err
	case DecomLeaving:
		// Told to stop through the state machine: the node applies
		// this entry and stops serving.
		p.Phase = DecomDone
		return e.putDecomProgress(ctx, p)
	case DecomDone:
		if e.nodeInPeers(r.Node) && time.Since(p.Updated) < decomLeaveWait {
			return nil // still serving its last requests
		}
		if err := RemoveNode(e.meta, r.Node); err != nil {
			if !errors.Is(err, ErrNotRaftLeader) {
				if members, merr := e.raftServers(); merr != nil || slices.Contains(members, r.Node) {
					return fmt.Errorf("removing %s from the metadata group: %w", r.Node, err)
				}
			} else {
				return err
			}
		}
		p.Phase = DecomRemoved
		if err := e.putDecomProgress(ctx, p); err != nil {
			return err
		}
		e.log.Info("node decommissioned and removed", "node", r.Node, "moved", p.Moved, "bytes", p.Bytes)
		return metaErr(e.meta.SetOpJob(ctx, decomReqPrefix+r.Node, nil))
	}
	return nil
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// nodeInPeers reports whether node still advertises drives (it is alive
// and not leaving).
func (e *Engine) nodeInPeers(node string) bool {
	if e.cfg.Peers == nil {
		return false
	}
	for _, d := range e.cfg.Peers.Drives() {
		if d.Node == node {
			return true
		}
	}
	return false
}

// errDecomInterrupted: the request was paused, cancelled or leadership
// moved during a pass.
var errDecomInterrupted = errors.New("node: decommission pass interrupted")

// decomPass counts the shards left on the node, then moves them; done
// is true when it found none left.
func (e *Engine) decomPass(ctx context.Context, r DecomRequest, p *DecomProgress) (done bool, err error) {
	node := r.Node
	var remaining int64
	err = e.meta.ForEachBlob(ctx, func(b metastore.Blob, _ int64) error {
		if metastore.BlobTier(b) != "" {
			return nil
		}
		for _, s := range b.Shards {
			if s.Node == node {
				remaining++
			}
		}
		return nil
	}, metastore.Stale)
	if err != nil {
		return false, err
	}
	p.Remaining = remaining
	if remaining == 0 {
		return true, nil
	}
	p.Passes++
	if err := e.putDecomProgress(ctx, *p); err != nil {
		return false, err
	}
	throttle := r.Throttle
	lim := newMoveLimiter(decomRate(throttle))
	start, base := time.Now(), *p
	lastCheck, lastSave := time.Now(), time.Now()
	pool := newMovePool(moveParallel)
	update := func() {
		st := pool.stats()
		p.Moved, p.Rebuilt, p.Failed = base.Moved+st.Moved, base.Rebuilt+st.Rebuilt, base.Failed+st.Failed
		p.Bytes = base.Bytes + st.Bytes
		p.Remaining = max(base.Remaining-st.Attempted, 0)
		if el := time.Since(start).Seconds(); el > 0 {
			p.Rate = float64(st.Bytes) / el
		}
	}
	seen := map[string]bool{}
	err = e.meta.ForEachBlob(ctx, func(b metastore.Blob, size int64) error {
		if seen[b.ID] || metastore.BlobTier(b) != "" {
			return nil
		}
		var todo []int
		for i, s := range b.Shards {
			if s.Node == node {
				todo = append(todo, i)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		seen[b.ID] = true
		if time.Since(lastCheck) >= decomCheck {
			lastCheck = time.Now()
			if !e.meta.IsLeader() {
				return errNotLeader
			}
			reqs, err := e.decomRequests(ctx)
			if err != nil {
				return err
			}
			cur, ok := reqs[node]
			if !ok || cur.State != DecomDraining {
				return errDecomInterrupted
			}
			if cur.Throttle != throttle {
				throttle = cur.Throttle
				setMoveLimit(lim, decomRate(throttle))
			}
		}
		if time.Since(lastSave) >= decomSaveEvery {
			lastSave = time.Now()
			update()
			if err := e.putDecomProgress(ctx, *p); err != nil {
				return err
			}
		}
		b.Shards = slices.Clone(b.Shards)
		// The moves of one blob run in order (each target depends on
		// where the others went); blobs move side by side.
		return pool.do(ctx, func() {
			for _, i := range todo {
				res, err := e.decomMoveShard(ctx, &b, size, i, lim)
				if err != nil && !errors.Is(err, errMoveMoot) && ctx.Err() == nil {
					e.log.Warn("decommission: moving shard failed", "blob", b.ID, "shard", i, "err", err)
				}
				pool.record(res, err)
			}
		})
	}, metastore.Stale)
	pool.wait()
	update()
	if errors.Is(err, errDecomInterrupted) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := pool.err(); err != nil {
		return false, err
	}
	// The next step counts again and ends the phase when nothing is
	// left (writes during the pass went elsewhere).
	return false, nil
}

// decomMoveShard moves shard i of b (on a draining node) to the drive the
// relocation rules choose among the nodes that stay.
func (e *Engine) decomMoveShard(ctx context.Context, b *metastore.Blob, size int64, i int, lim *rate.Limiter) (moveResult, error) {
	draining := e.drainingNodes(ctx)
	leaving := func(n string) bool { return draining[n] }
	cands := e.candidates(ctx) // draining nodes left out
	pd := make([]placeDrive, 0, len(cands))
	drives := make([]Drive, 0, len(cands))
	for _, c := range cands {
		if !c.online || draining[c.Node] {
			continue
		}
		pd = append(pd, placeDrive{ID: c.ID, Node: c.Node, Online: true})
		drives = append(drives, c.Drive)
	}
	j := relocationTarget(*b, i, pd, leaving)
	if j < 0 {
		return moveResult{}, fmt.Errorf("node: no live drive to move shard %d of blob %s to", i, b.ID)
	}
	return e.moveShard(ctx, b, size, i, drives[j], lim)
}

// decomRate is the move rate of a throttle setting (bytes/s; <= 0 none).
func decomRate(throttle int64) int64 {
	switch {
	case throttle == 0:
		return DefaultMoveRate
	case throttle < 0:
		return 0
	}
	return throttle
}

// setMoveLimit changes a move limiter's rate (<= 0: unthrottled).
func setMoveLimit(lim *rate.Limiter, bytesPerSec int64) {
	if bytesPerSec <= 0 {
		lim.SetLimit(rate.Inf)
		return
	}
	lim.SetBurst(moveBurst(bytesPerSec))
	lim.SetLimit(rate.Limit(bytesPerSec))
}

// retiredNodes returns the nodes whose decommission told them to stop
// (phase done or removed): the Raft membership reconciler never adds
// them back. Cancelling the job (which deletes its progress) lets the ID
// join again.
func retiredNodes(meta *metastore.Store) map[string]bool {
	raw, err := meta.OpJobs(context.Background(), decomProgPrefix, metastore.Stale)
	if err != nil || len(raw) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, v := range raw {
		var p DecomProgress
		if json.Unmarshal(v, &p) == nil && (p.Phase == DecomDone || p.Phase == DecomRemoved) {
			out[p.Node] = true
		}
	}
	return out
}
