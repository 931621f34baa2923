package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/metastore"
)

// Drive operations: the drive heal job, operator holds and the
// background recheck of offline drives.
//
// A drive replaced by a blank one keeps its slot's ID (drivers/local,
// slot.go), so every shard record that named the old drive names the
// new one. The heal job of a drive walks every blob the metadata
// references (metastore.WalkBlobsFrom, like the scrubber), and for
// each shard placed on that drive of this node that is absent there,
// rebuilds it from the others. It is throttled (Config.HealRate bytes
// per second of rebuilt shards), keeps its position and counts in
// Config.HealStateDir (heal-<drive>.json, saved every few seconds), so a
// restart resumes it, and pauses while its drive is offline. A job ends
// when its walk does; shards that failed are counted, and heal runs
// again on demand (HealDrive).
//
// Offline drives that can probe themselves (drivers/local's Recheck) are
// rechecked every Config.DriveRecheckInterval, so a drive that comes back
// returns to service by itself; a drive the operator holds (HoldDrive)
// stays out until ReleaseDrive, which also adopts a blank replacement
// and starts its heal job.

// Drive operation defaults.
const (
	// DefaultHealRate is the heal job's throttle: 64 MiB/s of rebuilt
	// shards leaves most of a disk's bandwidth (and the network's, which
	// carries k shards per rebuilt one) to clients.
	DefaultHealRate = 64 << 20
	// DefaultDriveRecheckInterval: how often offline drives are probed.
	DefaultDriveRecheckInterval = 10 * time.Second
	// healSaveEvery: how often a heal job's position is saved.
	healSaveEvery = 5 * time.Second
	// healRetry: how long a heal job waits after its walk failed (its
	// drive offline, the metadata unreachable) before it resumes.
	healRetry = 5 * time.Second
	// healDeferMax bounds the wait between the passes of a job whose
	// shards wait for other nodes (doubling from healRetry).
	healDeferMax = 5 * time.Minute
	// healStateVersion is the format of heal-<drive>.json.
	healStateVersion = 1
)

// Errors of the drive operations.
var (
	// ErrNoSuchDrive: no drive of this node has the ID.
	ErrNoSuchDrive = errors.New("node: no such drive on this node")
	// ErrDriveOp: the drive cannot do this (not a local drive).
	ErrDriveOp = errors.New("node: the drive does not support this operation")
)

// HealJob is a drive heal job's state and progress (the admin API's
// answer, and what heal-<drive>.json keeps).
type HealJob struct {
	Version   int       `json:"version"`
	Drive     string    `json:"drive"`
	Started   time.Time `json:"started"`
	Completed time.Time `json:"completed,omitzero"`
	// Cursor is the walk's position (metastore.WalkBlobsFrom): after the
	// last blob healed, inside a record of several blobs too.
	Cursor []byte `json:"cursor,omitempty"`
	// Blobs visited; Present shards of the drive found in place; Rebuilt
	// shards rebuilt (Bytes their size); Failed shards that could not be.
	// A job whose shards wait for other nodes walks again, and its counts
	// add up over its passes.
	Blobs   int64 `json:"blobs"`
	Present int64 `json:"present"`
	Rebuilt int64 `json:"rebuilt"`
	Failed  int64 `json:"failed"`
	Bytes   int64 `json:"bytes"`
	// Deferred counts the shards of the last pass that could not be
	// rebuilt while a drive holding other shards of their blob was away
	// (its node down, cut off, or not yet seen alive after a restart):
	// not failures, since the shards may come back. The job then walks
	// again, after 5 s and then longer waits up to 5 minutes, until a
	// pass defers nothing.
	Deferred int64 `json:"deferred,omitempty"`
	// Unreadable counts metadata records that did not decode, so the
	// job could not tell which shards they place on the drive; each is
	// logged and skipped (the walk goes on, metastore.WalkBlobsFrom).
	Unreadable int64 `json:"unreadable_records,omitempty"`
	// Running is true while the job's walk is under way (false when done
	// or paused: Waiting says why it waits).
	Running bool   `json:"running"`
	Waiting string `json:"waiting,omitempty"`
}

// DriveStatus describes one drive of this node.
type DriveStatus struct {
	ID     string `json:"id"`
	Dir    string `json:"dir,omitempty"`
	Online bool   `json:"online"`
	Held   bool   `json:"held"`
	Cause  string `json:"cause,omitempty"`
	Total  int64  `json:"total"`
	Used   int64  `json:"used"`
	Free   int64  `json:"free"`
	// Heal is the drive's last or running heal job (nil: none).
	Heal *HealJob `json:"heal,omitempty"`
}

// holder is a drive the operator can take offline and bring back
// (drivers/local).
type holder interface {
	Hold()
	Held() bool
	Release(ctx context.Context) error
	Formatted() bool
}

type rechecker interface {
	Recheck(ctx context.Context) error
}

// driveHealer runs the heal jobs of one Engine.
type driveHealer struct {
	e  *Engine
	mu struct {
		sync.Mutex
		jobs    map[string]*HealJob // by drive; a copy is handed out
		running map[string]bool     // a goroutine runs the job
		bg      context.Context     // set by start; nil before
		saved   map[string]time.Time
	}
}

func newDriveHealer(e *Engine) *driveHealer {
	h := &driveHealer{e: e}
	h.mu.jobs = map[string]*HealJob{}
	h.mu.running = map[string]bool{}
	h.mu.saved = map[string]time.Time{}
	return h
}

func (h *driveHealer) statePath(drive string) string {
	if h.e.cfg.HealStateDir == "" {
		return ""
	}
	return filepath.Join(h.e.cfg.HealStateDir, "heal-"+drive+".json")
}

// start loads the jobs kept on disk and runs the unfinished ones.
func (h *driveHealer) start(bg context.Context) {
	for _, d := range h.e.order {
		path := h.statePath(d.ID)
		if path == "" {
			break
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		var j HealJob
		if err == nil {
			err = json.Unmarshal(b, &j)
		}
		if err == nil && (j.Version != healStateVersion || j.Drive != d.ID) {
			err = fmt.Errorf("heal state version %d of drive %q", j.Version, j.Drive)
		}
		if err != nil {
			h.e.log.Warn("heal state unreadable; healing the drive from the start", "path", path, "err", err)
			j = HealJob{Version: healStateVersion, Drive: d.ID, Started: time.Now()}
		}
		h.mu.Lock()
		if _, ok := h.mu.jobs[d.ID]; !ok {
			h.mu.jobs[d.ID] = &j
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	h.mu.bg = bg
	var todo []string
	for id, j := range h.mu.jobs {
		if j.Completed.IsZero() {
			todo = append(todo, id)
		}
	}
	h.mu.Unlock()
	for _, id := range todo {
		h.launch(id)
	}
}

// launch runs the job of drive id unless it runs already or the engine
// has not started (start launches it then).
func (h *driveHealer) launch(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.bg == nil || h.mu.running[id] || h.mu.bg.Err() != nil {
		return
	}
	h.mu.running[id] = true
	h.e.wg.Add(1)
	go func() {
		defer h.e.wg.Done()
		h.run(h.mu.bg, id)
	}()
}

// heal starts (or restarts from the beginning) the heal job of drive id.
// A job under way goes on.
func (h *driveHealer) heal(id string) error {
	if _, ok := h.e.drives[id]; !ok {
		return fmt.Errorf("%w: %q", ErrNoSuchDrive, id)
	}
	h.mu.Lock()
	if j := h.mu.jobs[id]; j == nil || !j.Completed.IsZero() {
		h.mu.jobs[id] = &HealJob{Version: healStateVersion, Drive: id, Started: time.Now()}
	}
	h.mu.Unlock()
	h.save(id)
	h.e.log.Info("drive heal job started", "drive", id)
	h.launch(id)
	return nil
}

// save writes the job of drive id to its state file.
func (h *driveHealer) save(id string) {
	path := h.statePath(id)
	h.mu.Lock()
	j := h.mu.jobs[id]
	var b []byte
	var err error
	if j != nil {
		b, err = json.Marshal(j)
	}
	h.mu.saved[id] = time.Now()
	h.mu.Unlock()
	if path == "" || j == nil {
		return
	}
	if err == nil {
		err = writeFileAtomic(path, b)
	}
	if err != nil {
		h.e.log.Warn("heal state not saved", "path", path, "err", err)
	}
}

// status returns a copy of the job of drive id (nil: none).
func (h *driveHealer) status(id string) *HealJob {
	h.mu.Lock()
	defer h.mu.Unlock()
	j := h.mu.jobs[id]
	if j == nil {
		return nil
	}
	c := *j
	c.Cursor = nil
	return &c
}

// runningCount counts the jobs whose walk is under way.
func (h *driveHealer) runningCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, j := range h.mu.jobs {
		if j.Running {
			n++
		}
	}
	return n
}

// update changes the job of drive id under the lock.
func (h *driveHealer) update(id string, f func(j *HealJob)) {
	h.mu.Lock()
	f(h.mu.jobs[id])
	h.mu.Unlock()
}

// run walks until the job is done or ctx ends, resuming after failures.
func (h *driveHealer) run(ctx context.Context, id string) {
	defer func() {
		h.mu.Lock()
		delete(h.mu.running, id)
		h.mu.Unlock()
		h.save(id)
	}()
	wait := healRetry
	for {
		err := h.pass(ctx, id)
		if err == nil || ctx.Err() != nil {
			return
		}
		var def *healDeferred
		if errors.As(err, &def) {
			h.e.log.Info("drive heal: shards wait for other nodes; walking again", "drive", id, "deferred", def.n, "away", def.away, "after", wait)
		} else {
			wait = healRetry
			h.e.log.Warn("drive heal job paused; it resumes", "drive", id, "err", err, "after", wait)
		}
		h.update(id, func(j *HealJob) { j.Running, j.Waiting = false, err.Error() })
		h.save(id)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if def != nil {
			wait = min(2*wait, healDeferMax)
		}
	}
}

// healDeferred ends a pass that deferred shards: n of them could not be
// rebuilt while drives of the nodes in away held other shards of their
// blobs.
type healDeferred struct {
	n    int64
	away []string
}

func (d *healDeferred) Error() string {
	return fmt.Sprintf("%d shards wait for node(s) %s to be back; the job walks again", d.n, strings.Join(d.away, ", "))
}

// pass walks from the job's cursor to the end.
func (h *driveHealer) pass(ctx context.Context, id string) error {
	d := h.e.drives[id]
	var cursor []byte
	h.update(id, func(j *HealJob) { j.Running, j.Waiting, j.Deferred, cursor = true, "", 0, j.Cursor })
	rate := h.e.cfg.HealRate
	away := map[string]bool{}
	var deferredAll int64
	var removed *removedCheck // made at the first failed rebuild
	err := h.e.meta.WalkBlobsFrom(ctx, cursor, func(b metastore.Blob, size int64, next []byte) error {
		var present, rebuilt, failed, deferred, bytes int64
		for i, loc := range b.Shards {
			if loc.Node != h.e.cfg.NodeID || loc.Drive != id {
				continue
			}
			if u, err := d.Driver.Usage(ctx); err != nil || !u.Online {
				return fmt.Errorf("drive %s offline", id)
			}
			name := shardName(b.ID, i)
			_, err := d.Driver.Stat(ctx, name)
			if err == nil {
				present++
				continue
			}
			if !errors.Is(err, drivers.ErrNotFound) {
				return err
			}
			live, err := h.e.meta.BlobLive(ctx, b.ID)
			if err != nil {
				return err
			}
			if !live {
				continue
			}
			if err := h.e.rebuildShard(ctx, b, size, i, d.Driver); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if removed == nil {
					rc, rerr := h.e.newRemovedCheck()
					if rerr != nil {
						return rerr
					}
					removed = rc
				}
				if nodes := h.e.shardsAway(ctx, b, i, removed); len(nodes) > 0 {
					deferred++
					for _, n := range nodes {
						away[n] = true
					}
					continue
				}
				failed++
				h.e.stats.healFailed.Add(1)
				h.e.log.Warn("drive heal: rebuilding shard failed", "drive", id, "blob", b.ID, "shard", i, "err", err)
				continue
			}
			rebuilt++
			h.e.stats.driveHealed.Add(1)
			if fi, err := d.Driver.Stat(ctx, name); err == nil {
				bytes += fi.Size
				h.e.stats.driveHealBytes.Add(fi.Size)
			}
		}
		h.update(id, func(j *HealJob) {
			j.Cursor = next
			j.Blobs++
			j.Present += present
			j.Rebuilt += rebuilt
			j.Failed += failed
			j.Deferred += deferred
			j.Bytes += bytes
		})
		deferredAll += deferred
		h.mu.Lock()
		due := time.Since(h.mu.saved[id]) > healSaveEvery
		h.mu.Unlock()
		if due {
			h.save(id)
		}
		if rate > 0 && bytes > 0 {
			t := time.NewTimer(time.Duration(float64(bytes) / float64(rate) * float64(time.Second)))
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
		}
		return nil
	}, func(bad metastore.BadRecord) error {
		h.e.log.Warn("drive heal: metadata record unreadable; skipped", "drive", id, "record", bad.Record, "err", bad.Err)
		h.update(id, func(j *HealJob) { j.Cursor = bad.Next; j.Unreadable++ })
		return nil
	}) // the first page behind a read barrier: a restarted node catches up first
	if err != nil {
		return err
	}
	if deferredAll > 0 {
		h.update(id, func(j *HealJob) { j.Cursor = nil }) // the next pass walks from the start
		return &healDeferred{n: deferredAll, away: slices.Sorted(maps.Keys(away))}
	}
	var j HealJob
	h.update(id, func(p *HealJob) {
		p.Running, p.Waiting, p.Cursor, p.Completed = false, "", nil, time.Now()
		j = *p
	})
	h.e.log.Info("drive heal job done", "drive", id, "blobs", j.Blobs, "present", j.Present, "rebuilt", j.Rebuilt,
		"failed", j.Failed, "unreadable_records", j.Unreadable, "bytes", j.Bytes, "took", j.Completed.Sub(j.Started).Round(time.Second))
	return nil
}

// HealDrive starts the heal job of this node's drive id: every shard the
// metadata places on it that is absent there is rebuilt. A job under way
// goes on; a finished one starts over.
func (e *Engine) HealDrive(id string) error { return e.driveHeal.heal(id) }

// BlobOwners names the metadata records that reference blob id (a shard
// file's directory on a drive is blobs/<2>/<id>/), read linearizably; an
// empty list means the blob is garbage that the collector or the orphan
// sweep removes.
func (e *Engine) BlobOwners(ctx context.Context, id string) ([]string, error) {
	owners, err := e.meta.BlobOwners(ctx, id)
	return owners, metaErr(err)
}

// Drives describes this node's drives, in configuration order.
func (e *Engine) Drives(ctx context.Context) []DriveStatus {
	out := make([]DriveStatus, 0, len(e.order))
	for _, d := range e.order {
		out = append(out, e.driveStatus(ctx, d))
	}
	return out
}

// DriveStatus describes this node's drive id.
func (e *Engine) DriveStatus(ctx context.Context, id string) (DriveStatus, error) {
	d, ok := e.drives[id]
	if !ok {
		return DriveStatus{}, fmt.Errorf("%w: %q", ErrNoSuchDrive, id)
	}
	return e.driveStatus(ctx, d), nil
}

func (e *Engine) driveStatus(ctx context.Context, d Drive) DriveStatus {
	st := DriveStatus{ID: d.ID, Heal: e.driveHeal.status(d.ID)}
	if dd, ok := d.Driver.(interface{ Dir() string }); ok {
		st.Dir = dd.Dir()
	}
	if h, ok := d.Driver.(holder); ok {
		st.Held = h.Held()
	}
	u, err := d.Driver.Usage(ctx)
	if err != nil {
		st.Cause = err.Error()
		return st
	}
	st.Online, st.Total, st.Used, st.Free = u.Online, u.Total, u.Used, u.Free
	if u.Err != nil {
		st.Cause = u.Err.Error()
	}
	return st
}

// HoldDrive takes this node's drive id offline on the operator's word
// (to pull the disk): reads and writes go to other drives, and the
// background recheck leaves it out until ReleaseDrive.
func (e *Engine) HoldDrive(id string) error {
	d, ok := e.drives[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoSuchDrive, id)
	}
	h, ok := d.Driver.(holder)
	if !ok {
		return fmt.Errorf("%w: hold %q", ErrDriveOp, id)
	}
	h.Hold()
	e.log.Warn("drive taken offline by the operator", "drive", id)
	return nil
}

// ReleaseDrive brings this node's drive id back: a blank directory (a
// replaced disk) is adopted under the drive's ID and its heal job starts;
// else the drive is rechecked.
func (e *Engine) ReleaseDrive(ctx context.Context, id string) error {
	d, ok := e.drives[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoSuchDrive, id)
	}
	h, ok := d.Driver.(holder)
	if !ok {
		return fmt.Errorf("%w: release %q", ErrDriveOp, id)
	}
	wasFormatted := h.Formatted()
	if err := h.Release(ctx); err != nil {
		return err
	}
	e.log.Info("drive back in service", "drive", id)
	if h.Formatted() && !wasFormatted || e.driveHeal.status(id) == nil && h.Formatted() {
		return e.HealDrive(id)
	}
	return nil
}

// recheckLoop probes this node's offline drives every
// DriveRecheckInterval; a drive that passes returns to service.
func (e *Engine) recheckLoop(ctx context.Context) {
	iv := e.cfg.DriveRecheckInterval
	if iv <= 0 {
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, d := range e.order {
			rc, ok := d.Driver.(rechecker)
			if !ok {
				continue
			}
			if h, ok := d.Driver.(holder); ok && h.Held() {
				continue
			}
			if u, err := d.Driver.Usage(ctx); err != nil || u.Online {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, iv)
			if err := rc.Recheck(rctx); err == nil {
				e.log.Info("offline drive passed its recheck: back in service", "drive", d.ID)
			}
			cancel()
		}
	}
}
