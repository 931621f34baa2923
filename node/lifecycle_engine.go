package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
)

// The lifecycle engine carries out containers' lifecycle rules.
//
// Coordination: like the upload expiry and the relocator, it runs on the
// metadata leader only; its position is replicated (metastore
// LifecycleState), so a new leader resumes the walk where the old one
// persisted it, and every action is a conditional command the state
// machine decides (metastore LifecycleDelete: the version must be the one
// chosen, object lock is enforced by the user's delete code), so an
// action a deposed leader still had in flight cannot apply twice.
//
// Passes: a pass walks every version of every container that has a
// lifecycle configuration (containers without one are not listed), key by
// key in listing order, in steps of lifecycleBatch versions; after each
// step the position is committed. Then it walks the container's
// unfinished uploads when a rule aborts them. Actions are due by whole
// days (S3 rounds "N days after" up to the next midnight UTC), so a pass
// starts only when something can have become due since the last one:
//   - the set of configurations changed (a new rule applies to existing
//     artifacts in the next pass, started at the next tick);
//   - the earliest not-yet-due action seen by the last pass came due;
//   - the rules' horizon passed: the earliest an action can come due for
//     what the last pass did not see (a 30-day expiration: 30 days after
//     it started; a lone-marker cleanup or a past Date: the next day), at
//     most maxLifecycleGap after it started.
//
// An idle cluster thus costs, per tick, a listing of tenants and
// containers and one read of the state; and a pass over the artifacts of
// containers with rules as often as the rules' horizon asks, at most
// weekly (docs/design.md, "Lifecycle").

// Defaults of the lifecycle engine.
const (
	// DefaultLifecycleInterval: how often the leader checks whether a
	// pass is due (a running pass continues without waiting).
	DefaultLifecycleInterval = time.Minute
	// DefaultLifecycleConcurrency: actions carried out at once.
	DefaultLifecycleConcurrency = 4
	// lifecycleBatch: versions looked at per step; the position is
	// committed after each step.
	lifecycleBatch = 1000
	// maxLifecycleGap: passes are at most this far apart while rules
	// exist, so a version that starts matching a rule without being
	// written (its tags changed) waits at most this long.
	maxLifecycleGap = 7 * 24 * time.Hour
)

// horizon is the earliest time an action of these rules can come due for
// a version the pass that started at started did not see: written, made
// noncurrent, left a lone delete marker or an upload begun after it.
func (cfg *LifecycleConfig) horizon(started time.Time) time.Time {
	h := time.Time{}
	at := func(t time.Time) {
		if h.IsZero() || t.Before(h) {
			h = t
		}
	}
	days := func(n int) { at(afterDays(started, n)) }
	date := func(d time.Time) {
		if d.After(started) {
			at(d)
		} else {
			days(1) // every new version under it is due at once: daily
		}
	}
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if !r.Enabled {
			continue
		}
		if x := r.Expiration; x != nil {
			switch {
			case x.ExpiredObjectDeleteMarker:
				days(1)
			case x.Days > 0:
				days(x.Days)
			default:
				date(x.Date)
			}
		}
		for _, t := range r.Transitions {
			if t.Days > 0 {
				days(t.Days)
			} else {
				date(t.Date)
			}
		}
		if x := r.NoncurrentExpiration; x != nil {
			days(x.NoncurrentDays)
		}
		for _, t := range r.NoncurrentTransitions {
			days(t.NoncurrentDays)
		}
		if r.AbortUploadDays > 0 {
			days(r.AbortUploadDays)
		}
	}
	if h.IsZero() {
		return started.Add(maxLifecycleGap)
	}
	return h
}

// Transitioner moves versions to a tier. By default (none set) the engine
// moves them itself with the tiers' transition protocol
// (Engine.TransitionVersion: copy, then a conditional commit naming the
// blobs copied); SetTransitioner replaces that. It is called for every
// due Transition and NoncurrentVersionTransition of a version not on a
// tier yet (not for artifacts stored inline in their record), and again
// by the next pass for a version it did not move.
type Transitioner interface {
	Transition(ctx context.Context, t Transition) error
}

// Transition is one due transition.
type Transition struct {
	Tenant, Container, Key string
	// VersionID is the version's id ("" for the null version).
	VersionID    string
	Created      time.Time
	Size         int64
	StorageClass string
	Tier         string
	Rule         string
	Noncurrent   bool
}

// LifecycleAction is what the engine did to one artifact, for the audit
// log (Config.LifecycleAudit).
type LifecycleAction struct {
	// Action is "expire" (a current version: deleted, or a delete marker
	// added), "expire-marker", "expire-noncurrent", "abort-upload" or
	// "transition".
	Action                 string
	Tenant, Container, Key string
	VersionID              string // or the upload id of "abort-upload"
	Rule                   string
	Bytes                  int64
	// Err is the failure, nil when done.
	Err error
}

// lifecycleState is the engine's replicated position (JSON).
type lifecycleState struct {
	Pass      int64     `json:"pass"`
	Running   bool      `json:"running,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	ConfigSum string    `json:"configSum,omitempty"`
	// Position of a running pass: the next container is the first at or
	// after (Tenant, Container); within it, keys after Key, then (Uploads)
	// uploads after (UploadKey, UploadID).
	Tenant    string `json:"tenant,omitempty"`
	Container string `json:"container,omitempty"`
	Key       string `json:"key,omitempty"`
	Uploads   bool   `json:"uploads,omitempty"`
	UploadKey string `json:"uploadKey,omitempty"`
	UploadID  string `json:"uploadId,omitempty"`
	// NextDue: the earliest action the last pass saw not yet due;
	// PassNextDue accumulates it in the running pass.
	NextDue     time.Time `json:"nextDue,omitzero"`
	PassNextDue time.Time `json:"passNextDue,omitzero"`
}

// lcContainer is a container with a lifecycle configuration.
type lcContainer struct {
	tenant, name string
	versioned    bool
	cfg          *LifecycleConfig
}

// SetTransitioner installs the hook due transitions go to (nil: the
// tiers' own protocol, Engine.TransitionVersion).
func (e *Engine) SetTransitioner(t Transitioner) {
	e.lc.mu.Lock()
	e.lc.mu.transitioner = t
	e.lc.mu.Unlock()
}

// transitionNow moves one version with the tiers' protocol: the move
// commits only if the version's blobs are still those copied, so a version
// overwritten or deleted meanwhile is not moved.
func (e *Engine) transitionNow(ctx context.Context, t Transition) error {
	v := t.VersionID
	if v == "" {
		v = NullVersion
	}
	_, err := e.TransitionVersion(ctx, t.Tenant, t.Container, t.Key, v, t.Tier)
	if errors.Is(err, ErrNoSuchVersion) || errors.Is(err, ErrArtifactNotFound) || errors.Is(err, ErrContainerNotFound) {
		return nil // gone meanwhile
	}
	return err
}

func (e *Engine) transitioner() Transitioner {
	e.lc.mu.Lock()
	defer e.lc.mu.Unlock()
	return e.lc.mu.transitioner
}

// lifecycleLoop runs passes on the leader.
func (e *Engine) lifecycleLoop(ctx context.Context) {
	if e.cfg.LifecycleInterval < 0 {
		return
	}
	t := time.NewTicker(e.cfg.LifecycleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for e.meta.IsLeader() && ctx.Err() == nil {
			more, err := e.LifecycleStep(ctx)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Warn("lifecycle step failed", "err", err)
				}
				break
			}
			if !more {
				break
			}
			if p := e.cfg.LifecycleStepPause; p > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(p):
				}
			}
		}
	}
}

// RunLifecycle runs lifecycle steps until no pass is running: a whole pass
// when one is due. Tests and operators call it; the loop does the same on
// the leader every LifecycleInterval.
func (e *Engine) RunLifecycle(ctx context.Context) error {
	for {
		more, err := e.LifecycleStep(ctx)
		if err != nil || !more {
			return err
		}
	}
}

// LifecycleStep does one step of the lifecycle engine: starts a pass when
// one is due, or walks the next batch of the running pass, and commits
// the position. more reports that the pass is still running. Call it on
// the metadata leader (the loop does); steps of two nodes at once are
// safe (every action is conditional) but wasteful.
func (e *Engine) LifecycleStep(ctx context.Context) (more bool, err error) {
	e.lc.step.Lock()
	defer e.lc.step.Unlock()
	st, err := e.loadLifecycleState(ctx)
	if err != nil {
		return false, err
	}
	conts, sum, err := e.lifecycleContainers(ctx)
	if err != nil {
		return false, err
	}
	now := e.cfg.LifecycleNow()
	if !st.Running {
		// Something unseen by the last pass (written, made noncurrent or
		// left a lone delete marker since it started) comes due no
		// earlier than the rules' horizon; maxLifecycleGap bounds how
		// long a change that makes an old artifact match (new tags) waits.
		horizon := st.Started.Add(maxLifecycleGap)
		for _, c := range conts {
			if h := c.cfg.horizon(st.Started); h.Before(horizon) {
				horizon = h
			}
		}
		due := st.Pass == 0 || sum != st.ConfigSum ||
			!st.NextDue.IsZero() && !now.Before(st.NextDue) ||
			!now.Before(horizon)
		if !due || len(conts) == 0 {
			// No rules anywhere: nothing to walk and nothing to commit
			// (so an idle cluster, or one not yet at cluster version 2,
			// writes nothing).
			return false, nil
		}
		st = lifecycleState{Pass: st.Pass + 1, Running: true, Started: now, ConfigSum: sum, Finished: st.Finished, NextDue: st.NextDue}
		e.lc.pass.begin()
	}
	seen := 0
	for _, c := range conts {
		if c.tenant < st.Tenant || c.tenant == st.Tenant && c.name < st.Container {
			continue
		}
		if c.tenant != st.Tenant || c.name != st.Container {
			st.Tenant, st.Container, st.Key, st.Uploads, st.UploadKey, st.UploadID = c.tenant, c.name, "", false, "", ""
		}
		done, err := e.lifecycleContainer(ctx, c, &st, now, &seen)
		if err != nil {
			return false, err
		}
		if !done {
			return true, e.saveLifecycleState(ctx, st)
		}
		// Past this container: the next one starts from its beginning.
		st.Container += "\x00"
		st.Key, st.Uploads, st.UploadKey, st.UploadID = "", false, "", ""
	}
	st = lifecycleState{Pass: st.Pass, Started: st.Started, Finished: now, ConfigSum: st.ConfigSum, NextDue: st.PassNextDue}
	e.lc.pass.end(now)
	return false, e.saveLifecycleState(ctx, st)
}

func (e *Engine) loadLifecycleState(ctx context.Context) (lifecycleState, error) {
	var st lifecycleState
	b, err := e.meta.LifecycleState(ctx)
	if err != nil || len(b) == 0 {
		return st, metaErr(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		// An unreadable position only costs a pass from the start.
		e.log.Warn("lifecycle state unreadable; starting over", "err", err)
		return lifecycleState{}, nil
	}
	return st, nil
}

func (e *Engine) saveLifecycleState(ctx context.Context, st lifecycleState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return metaErr(e.meta.SetLifecycleState(ctx, b))
}

// lifecycleContainers lists the containers with a lifecycle configuration
// in (tenant, name) order, and a digest of all their configurations.
func (e *Engine) lifecycleContainers(ctx context.Context) ([]lcContainer, string, error) {
	tenants, err := e.meta.ListTenants(ctx, metastore.Stale)
	if err != nil {
		return nil, "", metaErr(err)
	}
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].ID < tenants[j].ID })
	h := sha256.New()
	var out []lcContainer
	for _, t := range tenants {
		cs, err := e.meta.ListContainers(ctx, t.ID, metastore.Stale)
		if err != nil {
			return nil, "", metaErr(err)
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
		for _, c := range cs {
			raw := c.Config[LifecycleConfigName]
			cfg := e.lc.cache.get(raw)
			if cfg == nil {
				continue
			}
			for _, s := range []string{t.ID, c.Name, raw} {
				h.Write([]byte(s))
				h.Write([]byte{0})
			}
			out = append(out, lcContainer{tenant: t.ID, name: c.Name, versioned: c.VersioningState != "", cfg: cfg})
		}
	}
	return out, hex.EncodeToString(h.Sum(nil)), nil
}

// lcTask is one action chosen by the walk.
type lcTask struct {
	action string
	del    metastore.LifecycleDeleteInput
	upload string // abort-upload: the upload id
	trans  *Transition
	rule   string
	bytes  int64
	due    time.Time
}

// lifecycleContainer walks one container from st's position, counting the
// versions looked at in *seen; done is false when it stopped at the batch
// limit (st holds where to go on).
func (e *Engine) lifecycleContainer(ctx context.Context, c lcContainer, st *lifecycleState, now time.Time, seen *int) (done bool, err error) {
	var tasks []lcTask
	due := func(at time.Time) bool {
		if !at.After(now) {
			return true
		}
		if st.PassNextDue.IsZero() || at.Before(st.PassNextDue) {
			st.PassNextDue = at
		}
		return false
	}
	if !st.Uploads {
		keyMarker, vidMarker := st.Key, ""
		var group []metastore.ListedVersion
		for {
			page, err := e.meta.ListVersions(ctx, c.tenant, c.name, metastore.VersionListOptions{KeyMarker: keyMarker, VersionIDMarker: vidMarker}, metastore.Stale)
			if errors.Is(err, metastore.ErrContainerNotFound) {
				return true, nil // deleted meanwhile
			}
			if err != nil {
				return false, metaErr(err)
			}
			stop := false
			for _, v := range page.Versions {
				if len(group) > 0 && group[0].Key != v.Key {
					tasks = e.lifecycleKey(c, group, due, tasks)
					st.Key = group[0].Key
					group = group[:0]
					if *seen >= e.lc.batch {
						stop = true
						break
					}
				}
				group = append(group, v)
				*seen++
			}
			if stop {
				e.runLifecycleTasks(ctx, c, tasks)
				return false, nil
			}
			if !page.Truncated {
				break
			}
			keyMarker, vidMarker = page.NextKeyMarker, page.NextVersionIDMarker
		}
		if len(group) > 0 {
			tasks = e.lifecycleKey(c, group, due, tasks)
			st.Key = group[0].Key
		}
		e.runLifecycleTasks(ctx, c, tasks)
		tasks = tasks[:0]
		if !c.cfg.hasUploadRules() {
			return true, nil
		}
		st.Uploads = true
		if *seen >= e.lc.batch {
			return false, nil
		}
	}
	for {
		ups, _, truncated, err := e.meta.ListUploads(ctx, c.tenant, c.name, metastore.UploadListOptions{
			KeyMarker: st.UploadKey, UploadIDMarker: st.UploadID, MaxUploads: min(max(e.lc.batch-*seen, 1), metastore.MaxListKeys),
		}, metastore.Stale)
		if errors.Is(err, metastore.ErrContainerNotFound) {
			return true, nil
		}
		if err != nil {
			return false, metaErr(err)
		}
		for _, u := range ups {
			*seen++
			st.UploadKey, st.UploadID = u.Key, u.UploadID
			if at, rule, ok := c.cfg.abortAfter(u.Key, u.Created); ok && due(at) {
				tasks = append(tasks, lcTask{action: "abort-upload", del: metastore.LifecycleDeleteInput{Tenant: c.tenant, Container: c.name, Key: u.Key}, upload: u.UploadID, rule: rule, due: at})
			}
		}
		e.runLifecycleTasks(ctx, c, tasks)
		tasks = tasks[:0]
		if !truncated || len(ups) == 0 {
			return true, nil
		}
		if *seen >= e.lc.batch {
			return false, nil
		}
	}
}

// lifecycleKey chooses the due actions of one key's versions (newest
// first, as listed).
func (e *Engine) lifecycleKey(c lcContainer, vs []metastore.ListedVersion, due func(time.Time) bool, tasks []lcTask) []lcTask {
	cfg := c.cfg
	versionOf := func(a *metastore.Artifact) string {
		if a.VersionID == "" {
			return NullVersion
		}
		return a.VersionID
	}
	first := &vs[0]
	rest := vs
	if first.IsLatest {
		rest = vs[1:]
		a := &first.Artifact
		switch {
		case a.DeleteMarker:
			if len(vs) == 1 {
				if rule, ok := cfg.cleansMarkers(a.Key); ok {
					tasks = append(tasks, lcTask{action: "expire-marker", rule: rule, due: a.Created, del: metastore.LifecycleDeleteInput{
						Tenant: c.tenant, Container: c.name, Key: a.Key, HasVersion: true, VersionID: versionOf(a), Created: a.Created, SoleMarker: true}})
				}
			}
		default:
			if at, rule, ok := cfg.expiry(a.Key, a.Size, a.Tags, a.Created); ok && due(at) {
				tasks = append(tasks, lcTask{action: "expire", rule: rule, due: at, bytes: a.Size, del: metastore.LifecycleDeleteInput{
					Tenant: c.tenant, Container: c.name, Key: a.Key, Created: a.Created}})
				break
			}
			if a.Tier == "" && len(a.Parts) > 0 {
				if tr, at, ok := cfg.transition(a, time.Time{}, 0, false); ok && due(at) {
					tasks = append(tasks, lcTask{action: "transition", rule: tr.Rule, due: at, bytes: a.Size, trans: tr,
						del: metastore.LifecycleDeleteInput{Tenant: c.tenant, Container: c.name, Key: a.Key}})
				}
			}
		}
	}
	// Noncurrent versions: each became noncurrent when the next newer
	// version was written.
	newer := 0
	for i := range rest {
		a := &rest[i].Artifact
		var since time.Time
		if i == 0 {
			if !first.IsLatest {
				break // cannot happen: listings start with the latest
			}
			since = first.Created
		} else {
			since = rest[i-1].Created
		}
		if at, rule, ok := cfg.noncurrentExpiry(a.Key, a.Size, a.Tags, since, newer); ok && due(at) {
			tasks = append(tasks, lcTask{action: "expire-noncurrent", rule: rule, due: at, bytes: a.Size, del: metastore.LifecycleDeleteInput{
				Tenant: c.tenant, Container: c.name, Key: a.Key, HasVersion: true, VersionID: versionOf(a), Created: a.Created}})
		} else if !a.DeleteMarker && a.Tier == "" && len(a.Parts) > 0 {
			if tr, at, ok := cfg.transition(a, since, newer, true); ok && due(at) {
				tasks = append(tasks, lcTask{action: "transition", rule: tr.Rule, due: at, bytes: a.Size, trans: tr,
					del: metastore.LifecycleDeleteInput{Tenant: c.tenant, Container: c.name, Key: a.Key}})
			}
		}
		if !a.DeleteMarker {
			newer++
		}
	}
	return tasks
}

// transition returns the earliest transition of a version (noncurrent
// since since, with newer noncurrent versions newer than it).
func (cfg *LifecycleConfig) transition(a *metastore.Artifact, since time.Time, newer int, noncurrent bool) (*Transition, time.Time, bool) {
	var best *Transition
	var at time.Time
	consider := func(rule, class string, when time.Time) {
		if best == nil || when.Before(at) {
			best = &Transition{Tenant: a.Tenant, Container: a.Container, Key: a.Key, VersionID: a.VersionID, Created: a.Created,
				Size: a.Size, StorageClass: class, Rule: rule, Noncurrent: noncurrent}
			at = when
		}
	}
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if !r.Enabled || !r.Filter.matches(a.Key, a.Size, a.Tags) {
			continue
		}
		if noncurrent {
			for _, t := range r.NoncurrentTransitions {
				if newer >= t.NewerNoncurrentVersions {
					consider(r.ID, t.StorageClass, afterDays(since, t.NoncurrentDays))
				}
			}
			continue
		}
		for _, t := range r.Transitions {
			when := t.Date
			if t.Days > 0 {
				when = afterDays(a.Created, t.Days)
			}
			consider(r.ID, t.StorageClass, when)
		}
	}
	return best, at, best != nil
}

// runLifecycleTasks carries out the chosen actions, LifecycleConcurrency
// at a time.
func (e *Engine) runLifecycleTasks(ctx context.Context, c lcContainer, tasks []lcTask) {
	if len(tasks) == 0 {
		return
	}
	sem := make(chan struct{}, e.cfg.LifecycleConcurrency)
	var wg sync.WaitGroup
	for i := range tasks {
		t := &tasks[i]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			e.runLifecycleTask(ctx, t)
		}()
	}
	wg.Wait()
}

func (e *Engine) runLifecycleTask(ctx context.Context, t *lcTask) {
	act := LifecycleAction{Action: t.action, Tenant: t.del.Tenant, Container: t.del.Container, Key: t.del.Key, VersionID: t.del.VersionID, Rule: t.rule, Bytes: t.bytes}
	var err error
	switch t.action {
	case "abort-upload":
		act.VersionID = t.upload
		err = e.AbortUpload(ctx, t.del.Tenant, t.del.Container, t.del.Key, t.upload)
		if errors.Is(err, ErrUploadNotFound) || errors.Is(err, ErrContainerNotFound) {
			return // completed or aborted meanwhile
		}
		if err == nil {
			e.stats.lcAborted.Add(1)
		}
	case "transition":
		act.VersionID = t.trans.VersionID
		var tier string
		if tier, err = e.tierFor(ctx, t.trans.StorageClass); err != nil {
			break
		}
		t.trans.Tier = tier
		if tr := e.transitioner(); tr != nil {
			err = tr.Transition(ctx, *t.trans)
		} else {
			err = e.transitionNow(ctx, *t.trans)
		}
		if err == nil {
			e.stats.lcTransitioned.Add(1)
			e.stats.lcTransitionedBytes.Add(t.bytes)
		}
	default:
		var res metastore.WriteResult
		res, err = e.meta.LifecycleDelete(ctx, t.del)
		if errors.Is(err, metastore.ErrPreconditionFailed) || errors.Is(err, metastore.ErrContainerNotFound) {
			return // changed since it was chosen: the next pass decides again
		}
		if errors.Is(err, metastore.ErrObjectLocked) {
			e.stats.lcLocked.Add(1)
			return // never expired while locked; looked at again next pass
		}
		if err == nil {
			e.gc.laterParts(res.Freed)
			if res.Version != nil {
				act.VersionID = res.Version.VersionID // the delete marker added
			}
			e.stats.lcExpired.Add(1)
			e.stats.lcExpiredBytes.Add(t.bytes)
		} else {
			err = metaErr(err)
		}
	}
	if err != nil {
		act.Err = err
		e.stats.lcFailures.Add(1)
		e.lc.pass.failed(t.due)
		e.log.Warn("lifecycle action failed", "action", t.action, "tenant", t.del.Tenant, "container", t.del.Container, "key", t.del.Key, "err", err)
	}
	if f := e.cfg.LifecycleAudit; f != nil {
		f(act)
	}
}

// lcPass tracks the oldest action that failed, for the overdue gauge.
type lcPass struct {
	mu sync.Mutex
	// oldest is the due time of the oldest action that failed in the
	// running pass; published is that of the last complete pass.
	oldest, published time.Time
}

func (p *lcPass) begin() {
	p.mu.Lock()
	p.oldest = time.Time{}
	p.mu.Unlock()
}

func (p *lcPass) failed(due time.Time) {
	p.mu.Lock()
	if p.oldest.IsZero() || due.Before(p.oldest) {
		p.oldest = due
	}
	if p.published.IsZero() || due.Before(p.published) {
		p.published = due
	}
	p.mu.Unlock()
}

func (p *lcPass) end(time.Time) {
	p.mu.Lock()
	p.published = p.oldest
	p.mu.Unlock()
}

// oldestOverdue is how long the oldest action that failed in the last
// pass has been due (0 when none failed).
func (p *lcPass) oldestOverdue(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.published.IsZero() {
		return 0
	}
	return now.Sub(p.published)
}
