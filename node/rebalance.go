package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
)

// Rebalance: after nodes or drives join, existing shards move until every
// drive holds its capacity share of the shard bytes, within a tolerance.
//
// The planner is Garage's layout planner reduced to what a per-blob
// placement needs: a drive's target is its capacity share of all shard
// bytes; a drive above target by more than the tolerance gives shards to
// the drive furthest below its target that may take them (it holds no
// shard of that blob, and its node stays within the blob's per-node cap,
// m shards, as placement's spread rule), and no shard moves once its
// source is within the tolerance: the plan is the few moves that bring
// every drive within tolerance, not a reshuffle to a fresh placement.
// Drives of draining nodes (decommission), offline drives and drives
// that report no capacity take no part.
//
// The plan is computed from this node's metadata and gossip (Plan), and
// applied by the metadata leader (rebalanceLoop) through the shard mover,
// throttled and side by side, with its progress committed (op jobs
// "rebalance/cluster", the request, and "rebalance-progress/cluster").
// A new leader recomputes the plan and so resumes: moved shards are where
// their target wants them. The job ends when a recomputed plan is empty.

// DefaultRebalanceTolerance is how far (a fraction of its target) a drive
// may stay from its capacity share.
const DefaultRebalanceTolerance = 0.10

// maxPlanMoves bounds one plan (a job plans again when it is done).
const maxPlanMoves = 100_000

const (
	rebalanceReq  = "rebalance/cluster"
	rebalanceProg = "rebalance-progress/cluster"
	// Rebalance request states and progress phases.
	RebalanceRunning = "running"
	RebalancePaused  = "paused"
	RebalanceMoving  = "moving"
	RebalanceDone    = "done"
)

// RebalanceRequest is the operator's request.
type RebalanceRequest struct {
	State     string    `json:"state"` // RebalanceRunning or RebalancePaused
	Throttle  int64     `json:"throttle"`
	Tolerance float64   `json:"tolerance"`
	Requested time.Time `json:"requested"`
}

// RebalanceProgress is the job's progress.
type RebalanceProgress struct {
	Phase     string    `json:"phase"`
	Planned   int64     `json:"planned"` // moves of the current plan
	Moved     int64     `json:"moved"`
	Failed    int64     `json:"failed"`
	Bytes     int64     `json:"bytes"`
	Remaining int64     `json:"remaining"`
	Rate      float64   `json:"rate"`
	Rounds    int64     `json:"rounds"`
	Started   time.Time `json:"started"`
	Updated   time.Time `json:"updated"`
	Error     string    `json:"error,omitempty"`
}

// RebalanceStatus is the request (nil when none) and the progress.
type RebalanceStatus struct {
	Request  *RebalanceRequest  `json:"request,omitempty"`
	Progress *RebalanceProgress `json:"progress,omitempty"`
}

// DriveShare is one drive of a plan: its capacity, its shard bytes now
// and after the plan, and its target.
type DriveShare struct {
	Node     string `json:"node"`
	Drive    string `json:"drive"`
	Capacity int64  `json:"capacity"`
	Bytes    int64  `json:"bytes"`
	After    int64  `json:"after"`
	Target   int64  `json:"target"`
}

// PlannedMove is one shard move of a plan.
type PlannedMove struct {
	Blob  string             `json:"blob"`
	Index int                `json:"index"`
	From  metastore.ShardLoc `json:"from"`
	To    metastore.ShardLoc `json:"to"`
	Bytes int64              `json:"bytes"`
}

// RebalancePlan is what a rebalance would move.
type RebalancePlan struct {
	Tolerance float64      `json:"tolerance"`
	Moves     int          `json:"moves"`
	Bytes     int64        `json:"bytes"`
	Drives    []DriveShare `json:"drives"`
	// Balanced: every drive within the tolerance after the plan.
	Balanced bool `json:"balanced"`
	// Sample lists the first moves (at most 20).
	Sample []PlannedMove `json:"sample,omitempty"`

	moves []planMove
}

type planMove struct {
	blob  metastore.Blob // placement as planned before this blob's moves
	size  int64
	index int
	to    Drive
	bytes int64
}

// PlanRebalance computes the plan with the given tolerance (<= 0:
// DefaultRebalanceTolerance).
func (e *Engine) PlanRebalance(ctx context.Context, tolerance float64) (RebalancePlan, error) {
	if tolerance <= 0 {
		tolerance = DefaultRebalanceTolerance
	}
	plan := RebalancePlan{Tolerance: tolerance}
	type drv struct {
		d             Drive
		cap           int64
		bytes, target int64
		start         int64
	}
	var drives []*drv
	byLoc := map[metastore.ShardLoc]*drv{}
	caps := e.driveCapacities(ctx)
	for _, c := range e.candidates(ctx) {
		total := caps[metastore.ShardLoc{Node: c.Node, Drive: c.ID}]
		if !c.online || total <= 0 {
			continue
		}
		d := &drv{d: c.Drive, cap: total}
		drives = append(drives, d)
		byLoc[metastore.ShardLoc{Node: c.Node, Drive: c.ID}] = d
	}
	if len(drives) < 2 {
		return plan, nil
	}
	type blobAt struct {
		b    metastore.Blob
		size int64
	}
	var blobs []blobAt
	seen := map[string]bool{}
	err := e.meta.ForEachBlob(ctx, func(b metastore.Blob, size int64) error {
		if seen[b.ID] || metastore.BlobTier(b) != "" || b.K <= 0 {
			return nil
		}
		seen[b.ID] = true
		sz := erasure.ShardFileSize(erasure.Shape{Data: b.K, Parity: b.M, BlockSize: b.BlockSize}, size)
		for _, s := range b.Shards {
			if d := byLoc[s]; d != nil {
				d.bytes += sz
			}
		}
		blobs = append(blobs, blobAt{b, size})
		return nil
	}, metastore.Stale)
	if err != nil {
		return plan, err
	}
	var sumBytes, sumCap int64
	for _, d := range drives {
		sumBytes += d.bytes
		sumCap += d.cap
		d.start = d.bytes
	}
	for _, d := range drives {
		d.target = int64(float64(sumBytes) * float64(d.cap) / float64(sumCap))
	}
	over := func(d *drv) bool { return float64(d.bytes) > float64(d.target)*(1+tolerance) }
	under := func(d *drv) bool { return float64(d.bytes) < float64(d.target)*(1-tolerance) }
	// needy: some drive is out of the tolerance band; only then do
	// shards move, from drives above their target to drives below it.
	needy := func() bool {
		for _, d := range drives {
			if over(d) || under(d) {
				return true
			}
		}
		return false
	}
	for _, ba := range blobs {
		b := ba.b
		sz := erasure.ShardFileSize(erasure.Shape{Data: b.K, Parity: b.M, BlockSize: b.BlockSize}, ba.size)
		if sz == 0 {
			continue
		}
		shards := slices.Clone(b.Shards)
		perNode := max(b.M, 1)
		nodes := map[string]bool{}
		for _, d := range drives {
			nodes[d.d.Node] = true
		}
		for perNode*len(nodes) < len(shards) {
			perNode++
		}
		for i, s := range shards {
			src := byLoc[s]
			if src == nil || src.bytes-sz/2 <= src.target || len(plan.moves) >= maxPlanMoves || !needy() {
				continue
			}
			nodeN, onDrive := map[string]int{}, map[metastore.ShardLoc]bool{}
			for j, o := range shards {
				if j != i {
					nodeN[o.Node]++
					onDrive[o] = true
				}
			}
			var best *drv
			for _, t := range drives {
				loc := metastore.ShardLoc{Node: t.d.Node, Drive: t.d.ID}
				if t == src || onDrive[loc] || nodeN[t.d.Node] >= perNode {
					continue
				}
				// Below its target, and not pushed out of the band.
				if t.bytes+sz/2 >= t.target || float64(t.bytes+sz) > float64(t.target)*(1+tolerance) {
					continue
				}
				if best == nil || t.target-t.bytes > best.target-best.bytes {
					best = t
				}
			}
			if best == nil {
				continue
			}
			plan.moves = append(plan.moves, planMove{blob: metastore.Blob{ID: b.ID, K: b.K, M: b.M, BlockSize: b.BlockSize, Shards: slices.Clone(b.Shards)}, size: ba.size, index: i, to: best.d, bytes: sz})
			src.bytes -= sz
			best.bytes += sz
			shards[i] = metastore.ShardLoc{Node: best.d.Node, Drive: best.d.ID}
		}
	}
	plan.Moves = len(plan.moves)
	plan.Balanced = true
	for _, m := range plan.moves {
		plan.Bytes += m.bytes
		if len(plan.Sample) < 20 {
			plan.Sample = append(plan.Sample, PlannedMove{Blob: m.blob.ID, Index: m.index, From: m.blob.Shards[m.index],
				To: metastore.ShardLoc{Node: m.to.Node, Drive: m.to.ID}, Bytes: m.bytes})
		}
	}
	for _, d := range drives {
		plan.Drives = append(plan.Drives, DriveShare{Node: d.d.Node, Drive: d.d.ID, Capacity: d.cap, Bytes: d.start, After: d.bytes, Target: d.target})
		if over(d) || float64(d.bytes) < float64(d.target)*(1-tolerance) {
			plan.Balanced = false
		}
	}
	sort.Slice(plan.Drives, func(i, j int) bool {
		a, b := plan.Drives[i], plan.Drives[j]
		return a.Node < b.Node || a.Node == b.Node && a.Drive < b.Drive
	})
	return plan, nil
}

// StartRebalance asks the metadata leader to apply rebalance plans until
// the drives are within tolerance (<= 0: the default), moving at most
// throttle bytes per second (0: DefaultMoveRate; < 0: no limit).
func (e *Engine) StartRebalance(ctx context.Context, throttle int64, tolerance float64) (RebalanceStatus, error) {
	if tolerance <= 0 {
		tolerance = DefaultRebalanceTolerance
	}
	if tolerance >= 1 {
		return RebalanceStatus{}, fmt.Errorf("%w: tolerance %v (want a fraction below 1)", ErrInvalidArgument, tolerance)
	}
	r := RebalanceRequest{State: RebalanceRunning, Throttle: throttle, Tolerance: tolerance, Requested: now()}
	b, _ := json.Marshal(r)
	// A new request starts a new progress.
	if err := e.meta.SetOpJob(ctx, rebalanceProg, nil); err != nil {
		return RebalanceStatus{}, metaErr(err)
	}
	if err := e.meta.SetOpJob(ctx, rebalanceReq, b); err != nil {
		return RebalanceStatus{}, metaErr(err)
	}
	return e.RebalanceStatus(ctx)
}

// PauseRebalance, ResumeRebalance and CancelRebalance act on the job
// (ErrNoRebalance when there is none).
func (e *Engine) PauseRebalance(ctx context.Context) (RebalanceStatus, error) {
	return e.setRebalanceState(ctx, RebalancePaused)
}

// ResumeRebalance restarts a paused rebalance.
func (e *Engine) ResumeRebalance(ctx context.Context) (RebalanceStatus, error) {
	return e.setRebalanceState(ctx, RebalanceRunning)
}

// CancelRebalance stops the job; the moves done stay.
func (e *Engine) CancelRebalance(ctx context.Context) error {
	st, err := e.RebalanceStatus(ctx)
	if err != nil {
		return err
	}
	if st.Request == nil {
		return ErrNoRebalance
	}
	return metaErr(e.meta.SetOpJob(ctx, rebalanceReq, nil))
}

// ErrNoRebalance: no rebalance is running.
var ErrNoRebalance = errors.New("node: no rebalance is running")

func (e *Engine) setRebalanceState(ctx context.Context, state string) (RebalanceStatus, error) {
	st, err := e.RebalanceStatus(ctx)
	if err != nil {
		return st, err
	}
	if st.Request == nil {
		return st, ErrNoRebalance
	}
	r := *st.Request
	r.State = state
	b, _ := json.Marshal(r)
	if err := e.meta.SetOpJob(ctx, rebalanceReq, b); err != nil {
		return st, metaErr(err)
	}
	return e.RebalanceStatus(ctx)
}

// RebalanceStatus returns the request and progress (linearizable).
func (e *Engine) RebalanceStatus(ctx context.Context) (RebalanceStatus, error) {
	raw, err := e.meta.OpJobs(ctx, "rebalance")
	if err != nil {
		return RebalanceStatus{}, metaErr(err)
	}
	var st RebalanceStatus
	if v := raw[rebalanceReq]; v != nil {
		st.Request = &RebalanceRequest{}
		if err := json.Unmarshal(v, st.Request); err != nil {
			return st, err
		}
	}
	if v := raw[rebalanceProg]; v != nil {
		st.Progress = &RebalanceProgress{}
		if err := json.Unmarshal(v, st.Progress); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (e *Engine) putRebalanceProgress(ctx context.Context, p RebalanceProgress) error {
	p.Updated = now()
	b, _ := json.Marshal(p)
	return e.meta.SetOpJob(ctx, rebalanceProg, b)
}

// rebalanceStep runs one round of the job on the leader: plan, move,
// commit progress; with an empty plan, the job is done and its request
// deleted.
func (e *Engine) rebalanceStep(ctx context.Context) error {
	raw, err := e.meta.OpJobs(ctx, "rebalance", metastore.Stale)
	if err != nil || raw[rebalanceReq] == nil {
		return err
	}
	var r RebalanceRequest
	if err := json.Unmarshal(raw[rebalanceReq], &r); err != nil {
		return err
	}
	if r.State != RebalanceRunning {
		return nil
	}
	var p RebalanceProgress
	if v := raw[rebalanceProg]; v != nil {
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
	}
	if p.Started.IsZero() {
		p.Started = now()
	}
	p.Phase = RebalanceMoving
	plan, err := e.PlanRebalance(ctx, r.Tolerance)
	if err != nil {
		return err
	}
	if plan.Moves == 0 {
		p.Phase, p.Remaining, p.Planned = RebalanceDone, 0, 0
		if err := e.putRebalanceProgress(ctx, p); err != nil {
			return err
		}
		e.log.Info("rebalance done", "moved", p.Moved, "bytes", p.Bytes, "balanced", plan.Balanced)
		return metaErr(e.meta.SetOpJob(ctx, rebalanceReq, nil))
	}
	p.Rounds++
	p.Planned, p.Remaining = int64(plan.Moves), int64(plan.Moves)
	if err := e.putRebalanceProgress(ctx, p); err != nil {
		return err
	}
	throttle := r.Throttle
	lim := newMoveLimiter(decomRate(throttle))
	pool := newMovePool(moveParallel)
	base, start := p, time.Now()
	update := func() {
		st := pool.stats()
		p.Moved, p.Failed, p.Bytes = base.Moved+st.Moved, base.Failed+st.Failed, base.Bytes+st.Bytes
		p.Remaining = max(base.Remaining-st.Attempted, 0)
		if el := time.Since(start).Seconds(); el > 0 {
			p.Rate = float64(st.Bytes) / el
		}
	}
	lastCheck, lastSave := time.Now(), time.Now()
	var stopErr error
	// The moves of one blob run in order, blobs side by side.
	for k := 0; k < len(plan.moves) && stopErr == nil; {
		j := k + 1
		for j < len(plan.moves) && plan.moves[j].blob.ID == plan.moves[k].blob.ID {
			j++
		}
		group := plan.moves[k:j]
		k = j
		if time.Since(lastCheck) >= decomCheck {
			lastCheck = time.Now()
			if !e.meta.IsLeader() {
				stopErr = errNotLeader
				break
			}
			cur, err := e.meta.OpJobs(ctx, rebalanceReq, metastore.Stale)
			if err != nil {
				stopErr = err
				break
			}
			var cr RebalanceRequest
			if v := cur[rebalanceReq]; v == nil || json.Unmarshal(v, &cr) != nil || cr.State != RebalanceRunning {
				stopErr = errDecomInterrupted
				break
			}
			if cr.Throttle != throttle {
				throttle = cr.Throttle
				setMoveLimit(lim, decomRate(throttle))
			}
		}
		if time.Since(lastSave) >= decomSaveEvery {
			lastSave = time.Now()
			update()
			if err := e.putRebalanceProgress(ctx, p); err != nil {
				stopErr = err
				break
			}
		}
		b := group[0].blob
		b.Shards = slices.Clone(b.Shards)
		if err := pool.do(ctx, func() {
			for _, m := range group {
				res, err := e.moveShard(ctx, &b, m.size, m.index, m.to, lim)
				if err != nil && !errors.Is(err, errMoveMoot) && ctx.Err() == nil {
					e.log.Warn("rebalance: moving shard failed", "blob", b.ID, "shard", m.index, "err", err)
				}
				pool.record(res, err)
			}
		}); err != nil {
			stopErr = err
		}
	}
	pool.wait()
	update()
	if err := pool.err(); err != nil {
		p.Error = err.Error()
	} else {
		p.Error = ""
	}
	if errors.Is(stopErr, errDecomInterrupted) {
		stopErr = nil
	}
	return errors.Join(stopErr, e.putRebalanceProgress(ctx, p))
}

// driveCapacities returns the capacity of every drive placement knows:
// this node's asked now, the peers' as they last advertised.
func (e *Engine) driveCapacities(ctx context.Context) map[metastore.ShardLoc]int64 {
	out := map[metastore.ShardLoc]int64{}
	for _, d := range e.order {
		if u, err := d.Driver.Usage(ctx); err == nil {
			out[metastore.ShardLoc{Node: d.Node, Drive: d.ID}] = u.Total
		}
	}
	if e.cfg.Peers != nil {
		for _, pd := range e.cfg.Peers.Drives() {
			out[metastore.ShardLoc{Node: pd.Node, Drive: pd.ID}] = pd.Total
		}
	}
	return out
}
