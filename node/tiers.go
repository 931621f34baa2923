package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/metastore"
)

// Cold tiers: remote S3 places a version's bytes move to (docs/design.md,
// "Cold tiers"). A version on a tier keeps its parts; each part's blob is
// re-encoded with shape 1+0 (one shard file, the same per-block checksums
// as every shard) and stored on the tier under its shard name. Reads go
// through the same erasure decoder as local reads: a ranged GET fetches
// only the blocks of the range, and every block is verified, so corrupt
// remote bytes are never served.
//
// The transition protocol (TransitionVersion):
//  1. journal an intent for each new remote blob (metastore);
//  2. stream each part from the local shards to the tier (the driver sends
//     Content-MD5 per request, which the remote checks, and checks the
//     ETag it answers);
//  3. commit a Transition: only if the version still has the parts the
//     copy started from and the intents are live; it clears the intents;
//  4. queue the local blobs for the collector (after the GC delay).
//
// A crash between any two steps leaves remote objects with an intent: the
// journal worker dooms intents older than TierIntentTimeout and deletes
// their objects. Every reference dropped to a remote blob (delete,
// overwrite, expiry, recall) is journaled by the state machine in the same
// batch; the worker deletes the remote object only once no record
// references the blob.

// Defaults of tiering.
const (
	// DefaultTierIntentTimeout: a transition's intent older than this is
	// abandoned (its upload crashed or hangs); its remote objects are
	// deleted. Far above the time one version takes to upload (5 GiB at
	// 10 MiB/s is under 9 minutes).
	DefaultTierIntentTimeout = time.Hour
	// DefaultTierJournalInterval: how often the leader drains the tier
	// journal.
	DefaultTierJournalInterval = 30 * time.Second
	// tierJournalBatch bounds the entries one drain looks at.
	tierJournalBatch = 1000
	// tierVerifyPrefix is where tier verification writes its probe.
	tierVerifyPrefix = "vaultaire-verify"
)

// Errors of tiers.
var (
	// ErrTierNotFound: no tier by that name.
	ErrTierNotFound = errors.New("node: tier not found")
	// ErrTierExists: a tier by that name exists.
	ErrTierExists = errors.New("node: tier already exists")
	// ErrTierInUse: the tier still holds versions or remote garbage.
	ErrTierInUse = errors.New("node: tier in use")
	// ErrTierCheck: the tier failed its write, read and delete round trip
	// (wrong credentials, missing bucket, unreachable endpoint).
	ErrTierCheck = errors.New("node: tier check failed")
	// ErrTierUnavailable: the tier holding the version's bytes cannot be
	// reached now; retry later (S3 503).
	ErrTierUnavailable = errors.New("node: the cold tier holding the artifact is unavailable")
	// ErrInvalidObjectState: the version is on an archive tier and needs
	// a restore before it can be read (S3 403 InvalidObjectState).
	ErrInvalidObjectState = errors.New("node: the artifact is archived and must be restored first")
)

// TierOpener builds the driver of a tier from its record and secret key
// (cmd/vaultaire passes drivers/s3; node names no concrete driver).
type TierOpener func(t metastore.Tier, secret string) (drivers.Driver, error)

// TierSpec is what an operator gives to add or edit a tier.
type TierSpec = metastore.Tier

// TierInfo describes a tier (never its secret) and what it holds.
type TierInfo struct {
	metastore.Tier
	Artifacts, Bytes int64
	// Pending is the count of journal entries (remote objects that may
	// be garbage) of the tier.
	Pending int
}

// tiers is the Engine's cache of tier drivers and their health.
type tiers struct {
	mu struct {
		sync.Mutex
		drv  map[string]drivers.Driver
		rec  map[string]metastore.Tier
		down map[string]bool
	}
}

// tierDriver returns the driver of tier name.
func (e *Engine) tierDriver(ctx context.Context, name string) (drivers.Driver, metastore.Tier, error) {
	e.tiers.mu.Lock()
	d, ok := e.tiers.mu.drv[name]
	rec := e.tiers.mu.rec[name]
	e.tiers.mu.Unlock()
	if ok {
		return d, rec, nil
	}
	if e.cfg.TierOpener == nil {
		return nil, rec, fmt.Errorf("%w: this server has no tier driver", ErrTierUnavailable)
	}
	rec, secret, err := e.meta.GetTier(ctx, name)
	if errors.Is(err, metastore.ErrNotFound) {
		return nil, rec, fmt.Errorf("%w: %q", ErrTierNotFound, name)
	}
	if err != nil {
		return nil, rec, metaErr(err)
	}
	d, err = e.cfg.TierOpener(rec, secret)
	if err != nil {
		return nil, rec, fmt.Errorf("%w: tier %q: %v", ErrTierUnavailable, name, err)
	}
	e.tiers.mu.Lock()
	if e.tiers.mu.drv == nil {
		e.tiers.mu.drv = map[string]drivers.Driver{}
		e.tiers.mu.rec = map[string]metastore.Tier{}
	}
	e.tiers.mu.drv[name], e.tiers.mu.rec[name] = d, rec
	e.tiers.mu.Unlock()
	return d, rec, nil
}

// forgetTier drops the cached driver of a tier (after an edit or removal).
func (e *Engine) forgetTier(name string) {
	e.tiers.mu.Lock()
	delete(e.tiers.mu.drv, name)
	delete(e.tiers.mu.rec, name)
	e.tiers.mu.Unlock()
}

// tierHealth records the outcome of a call to a tier, logging a change of
// health once (not per request) and mapping unavailability.
func (e *Engine) tierHealth(name string, err error) error {
	down := err != nil && (errors.Is(err, drivers.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded))
	e.tiers.mu.Lock()
	if e.tiers.mu.down == nil {
		e.tiers.mu.down = map[string]bool{}
	}
	was := e.tiers.mu.down[name]
	if err == nil || down {
		e.tiers.mu.down[name] = down
	}
	e.tiers.mu.Unlock()
	switch {
	case down && !was:
		e.log.Warn("cold tier unavailable: reads of its artifacts answer 503 until it is back", "tier", name, "err", err)
	case err == nil && was:
		e.log.Info("cold tier available again", "tier", name)
	}
	if down {
		return &TierUnavailableError{Tier: name, Err: err}
	}
	return err
}

// TierDown reports the tiers this node last found unavailable.
func (e *Engine) TierDown() []string {
	e.tiers.mu.Lock()
	defer e.tiers.mu.Unlock()
	var out []string
	for n, d := range e.tiers.mu.down {
		if d {
			out = append(out, n)
		}
	}
	return out
}

// checkTier runs the write, read and delete round trip on a tier driver.
func checkTier(ctx context.Context, d drivers.Driver) error {
	name := tierVerifyPrefix + "/" + newID()
	probe := []byte("vaultaire tier check " + name)
	if _, err := d.Put(ctx, name, bytes.NewReader(probe)); err != nil {
		return fmt.Errorf("%w: write: %v", ErrTierCheck, err)
	}
	r, err := d.Open(ctx, name, 0, -1)
	if err != nil {
		_ = d.Delete(ctx, name)
		return fmt.Errorf("%w: read: %v", ErrTierCheck, err)
	}
	got, err := io.ReadAll(io.LimitReader(r, int64(len(probe))+1))
	r.Close()
	if err != nil || !bytes.Equal(got, probe) {
		_ = d.Delete(ctx, name)
		return fmt.Errorf("%w: read back other bytes than written (%v)", ErrTierCheck, err)
	}
	if err := d.Delete(ctx, name); err != nil {
		return fmt.Errorf("%w: delete: %v", ErrTierCheck, err)
	}
	return nil
}

func (e *Engine) openAndCheck(ctx context.Context, t metastore.Tier, secret string) error {
	if e.cfg.TierOpener == nil {
		return fmt.Errorf("%w: this server has no tier driver", ErrTierCheck)
	}
	d, err := e.cfg.TierOpener(t, secret)
	if err != nil {
		return fmt.Errorf("%w: %w: %v", ErrInvalidArgument, ErrTierCheck, err)
	}
	return checkTier(ctx, d)
}

func validTierSpec(t metastore.Tier) error {
	if t.Name == "" || len(t.Name) > 63 || strings.ContainsAny(t.Name, "/: \x00") {
		return fmt.Errorf("%w: tier name must be 1-63 characters without '/', ':' or spaces", ErrInvalidArgument)
	}
	if t.Type != "s3" {
		return fmt.Errorf("%w: tier type %q (only s3)", ErrInvalidArgument, t.Type)
	}
	for _, c := range t.StorageClasses {
		if c == "" || c == "STANDARD" || strings.ToUpper(c) != c {
			return fmt.Errorf("%w: storage class %q (upper case, not STANDARD)", ErrInvalidArgument, c)
		}
	}
	return nil
}

// AddTier verifies a tier with a write, read and delete round trip and
// saves it, its secret sealed (ErrTierExists, ErrTierCheck).
func (e *Engine) AddTier(ctx context.Context, t metastore.Tier, secret string) (TierInfo, error) {
	if err := validTierSpec(t); err != nil {
		return TierInfo{}, err
	}
	if _, _, err := e.meta.GetTier(ctx, t.Name); err == nil {
		return TierInfo{}, fmt.Errorf("%w: %q", ErrTierExists, t.Name)
	}
	if err := e.openAndCheck(ctx, t, secret); err != nil {
		return TierInfo{}, err
	}
	t.Created = now()
	err := e.meta.PutTier(ctx, t, secret, true)
	if errors.Is(err, metastore.ErrExists) {
		return TierInfo{}, fmt.Errorf("%w: %q", ErrTierExists, t.Name)
	}
	if err != nil {
		return TierInfo{}, metaErr(err)
	}
	return TierInfo{Tier: t}, nil
}

// TierEdit changes a tier: new credentials, endpoint settings or storage
// classes. Empty fields keep their value.
type TierEdit struct {
	AccessKey, SecretKey string
	Endpoint, Region     string
	CAFile               string
	StorageClasses       []string
}

// EditTier applies an edit, verified with the round trip before it is
// saved (the bucket and prefix never change: the tier's objects are there).
func (e *Engine) EditTier(ctx context.Context, name string, ed TierEdit) (TierInfo, error) {
	t, secret, err := e.meta.GetTier(ctx, name)
	if errors.Is(err, metastore.ErrNotFound) {
		return TierInfo{}, fmt.Errorf("%w: %q", ErrTierNotFound, name)
	}
	if err != nil {
		return TierInfo{}, metaErr(err)
	}
	if ed.AccessKey != "" {
		t.AccessKey = ed.AccessKey
	}
	if ed.SecretKey != "" {
		secret = ed.SecretKey
	}
	if ed.Endpoint != "" {
		t.Endpoint = ed.Endpoint
	}
	if ed.Region != "" {
		t.Region = ed.Region
	}
	if ed.CAFile != "" {
		t.CAFile = ed.CAFile
	}
	if ed.StorageClasses != nil {
		t.StorageClasses = ed.StorageClasses
	}
	if err := validTierSpec(t); err != nil {
		return TierInfo{}, err
	}
	if err := e.openAndCheck(ctx, t, secret); err != nil {
		return TierInfo{}, err
	}
	if err := e.meta.PutTier(ctx, t, secret, false); err != nil {
		return TierInfo{}, metaErr(err)
	}
	e.forgetTier(name)
	return TierInfo{Tier: t}, nil
}

// VerifyTier runs the round trip on a saved tier.
func (e *Engine) VerifyTier(ctx context.Context, name string) error {
	e.forgetTier(name)
	d, _, err := e.tierDriver(ctx, name)
	if err != nil {
		return err
	}
	err = checkTier(ctx, d)
	_ = e.tierHealth(name, err)
	return err
}

// ListTiers lists the tiers with their usage.
func (e *Engine) ListTiers(ctx context.Context) ([]TierInfo, error) {
	ts, us, err := e.meta.ListTiers(ctx)
	if err != nil {
		return nil, metaErr(err)
	}
	js, err := e.meta.TierJournal(ctx, 0)
	if err != nil {
		return nil, metaErr(err)
	}
	pending := map[string]int{}
	for _, j := range js {
		pending[j.Tier]++
	}
	out := make([]TierInfo, len(ts))
	for i := range ts {
		out[i] = TierInfo{Tier: ts[i], Artifacts: us[i].Artifacts, Bytes: us[i].Bytes, Pending: pending[ts[i].Name]}
	}
	return out, nil
}

// RemoveTier deletes a tier that holds nothing (ErrTierInUse otherwise:
// recall it first). It drains the tier's journal first.
func (e *Engine) RemoveTier(ctx context.Context, name string) error {
	if _, err := e.DrainTierJournal(ctx); err != nil {
		return err
	}
	err := e.meta.DeleteTier(ctx, name)
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		return fmt.Errorf("%w: %q", ErrTierNotFound, name)
	case errors.Is(err, metastore.ErrTierInUse):
		return fmt.Errorf("%w: %s", ErrTierInUse, strings.TrimPrefix(err.Error(), "metastore: tier in use: "))
	case err != nil:
		return metaErr(err)
	}
	e.forgetTier(name)
	return nil
}

// TierOf resolves a storage class to the tier that serves it ("" when no
// tier names it): the one documented mapping of storage classes to tiers.
func (e *Engine) TierOf(ctx context.Context, storageClass string) (string, error) {
	ts, _, err := e.meta.ListTiers(ctx)
	if err != nil {
		return "", metaErr(err)
	}
	for _, t := range ts {
		for _, c := range t.StorageClasses {
			if c == storageClass {
				return t.Name, nil
			}
		}
	}
	return "", nil
}

// --- moving bytes ---

// TransitionVersion moves a version's bytes to a tier (see the protocol at
// the top of this file). versionID "" is the latest version. A version
// already on the tier is left alone; one on another tier is refused.
func (e *Engine) TransitionVersion(ctx context.Context, tenant, container, key, versionID, tier string) (ArtifactInfo, error) {
	a, versioned, _, err := e.version(ctx, tenant, VersionRef{Container: container, Key: key, VersionID: versionID})
	if err != nil {
		return ArtifactInfo{}, err
	}
	if a.Tier == tier {
		return toInfo(a, versioned), nil
	}
	if a.Tier != "" {
		return ArtifactInfo{}, fmt.Errorf("%w: the version is on tier %q (recall it first)", ErrInvalidArgument, a.Tier)
	}
	if len(a.Parts) == 0 {
		return ArtifactInfo{}, fmt.Errorf("%w: an artifact stored inline in its record (%d bytes) stays local", ErrInvalidArgument, a.Size)
	}
	d, rec, err := e.tierDriver(ctx, tier)
	if err != nil {
		return ArtifactInfo{}, err
	}
	to, err := e.copyToTier(ctx, d, tier, a.Parts)
	if err != nil {
		return ArtifactInfo{}, err
	}
	from := make([]string, len(a.Parts))
	for i, p := range a.Parts {
		from[i] = p.Blob.ID
	}
	na, err := e.meta.Transition(ctx, metastore.Transition{
		Tenant: tenant, Container: container, Key: key, VersionID: a.VersionID,
		From: from, To: to, Tier: tier, StorageClass: rec.StorageClass(),
	})
	if err != nil {
		e.abandon(d, to)
		return ArtifactInfo{}, metaErr(err)
	}
	e.gc.laterParts(a.Parts)
	return toInfo(na, versioned), nil
}

// copyToTier uploads each part as a 1+0 blob with an intent journaled
// first. On failure it abandons what it wrote.
func (e *Engine) copyToTier(ctx context.Context, d drivers.Driver, tier string, parts []metastore.Part) ([]metastore.Part, error) {
	var to []metastore.Part
	for _, p := range parts {
		id := newID()
		if err := e.meta.AddTierIntent(ctx, tier, id); err != nil {
			e.abandon(d, to)
			return nil, metaErr(err)
		}
		b := metastore.Blob{ID: id, K: 1, M: 0, BlockSize: p.Blob.BlockSize, Shards: []metastore.ShardLoc{{Drive: metastore.TierDrive(tier)}}}
		np := p
		np.Blob = b
		to = append(to, np)
		if err := e.copyBlob(ctx, p, d, shardName(id, 0), b); err != nil {
			e.abandon(d, to)
			return nil, e.tierHealth(tier, err)
		}
	}
	return to, nil
}

// copyBlob streams the decoded bytes of part p into a 1+0 shard file on d.
func (e *Engine) copyBlob(ctx context.Context, p metastore.Part, d drivers.Driver, name string, b metastore.Blob) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	coder, err := e.coderFor(b)
	if err != nil {
		return err
	}
	src, srcW := io.Pipe()
	go func() {
		srcW.CloseWithError(e.readPart(ctx, e.tierThrottle(ctx, srcW), p))
	}()
	dst, dstW := io.Pipe()
	encErr := make(chan error, 1)
	go func() {
		_, err := coder.Encode(ctx, src, []io.Writer{dstW}, 1)
		src.CloseWithError(errors.New("encode stopped"))
		dstW.CloseWithError(err)
		encErr <- err
	}()
	_, err = d.Put(ctx, name, dst)
	dst.CloseWithError(errors.New("put stopped"))
	if eerr := <-encErr; err == nil && eerr != nil {
		err = eerr
	}
	return err
}

// readPart streams the whole blob of part p (a local or remote blob),
// as stored: an encrypted part's ciphertext (BlobSize), which moves
// between drives and tiers without its key.
func (e *Engine) readPart(ctx context.Context, w io.Writer, p metastore.Part) error {
	defer e.leases.hold([]metastore.Part{p})()
	return e.readBlob(ctx, w, p.Blob, p.BlobSize(), 0, p.BlobSize())
}

// abandon gives up remote blobs of a failed transition: their intents are
// doomed at once and the journal worker deletes them (now, best effort).
func (e *Engine) abandon(d drivers.Driver, parts []metastore.Part) {
	if len(parts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range parts {
		if err := e.meta.DoomTierIntent(ctx, p.Blob.ID, time.Now().Add(24*time.Hour)); err != nil {
			e.log.Warn("abandoned transition: the journal will retry", "blob", p.Blob.ID, "err", err)
			continue
		}
		e.dropRemote(ctx, d, metastore.JournalEntry{Blob: p.Blob.ID, Tier: metastore.BlobTier(p.Blob), State: metastore.JournalDoomed})
	}
}

// dropRemote deletes the remote object of a doomed journal entry once no
// record references its blob, then clears the entry. It reports whether
// the entry is done.
func (e *Engine) dropRemote(ctx context.Context, d drivers.Driver, j metastore.JournalEntry) bool {
	live, err := e.meta.BlobLive(ctx, j.Blob)
	if err != nil {
		return false
	}
	if !live {
		err := d.Delete(ctx, shardName(j.Blob, 0))
		if err != nil && !errors.Is(err, drivers.ErrNotFound) {
			e.log.Warn("remote delete failed; the tier journal retries", "tier", j.Tier, "blob", j.Blob, "err", e.tierHealth(j.Tier, err))
			return false
		}
		e.stats.remoteDeletes.Add(1)
	}
	if err := e.meta.ClearTierJournal(ctx, j.Blob, !live); err != nil {
		return false
	}
	return true
}

// DrainTierJournal works through the tier journal once: it dooms intents
// older than TierIntentTimeout and deletes the remote objects of doomed
// blobs no record references. It returns how many entries it finished.
func (e *Engine) DrainTierJournal(ctx context.Context) (int, error) {
	js, err := e.meta.TierJournal(ctx, tierJournalBatch)
	if err != nil {
		return 0, metaErr(err)
	}
	done := 0
	cutoff := e.cfg.Now().Add(-e.cfg.TierIntentTimeout)
	for _, j := range js {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		if j.State == metastore.JournalIntent {
			if !j.Since.Before(cutoff) {
				continue
			}
			if err := e.meta.DoomTierIntent(ctx, j.Blob, cutoff); err != nil {
				continue // committed meanwhile, or not old enough
			}
		}
		d, _, err := e.tierDriver(ctx, j.Tier)
		if err != nil {
			continue
		}
		if e.dropRemote(ctx, d, j) {
			done++
		}
	}
	return done, nil
}

// tierJournalLoop drains the journal on the metadata leader.
func (e *Engine) tierJournalLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.TierJournalInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !e.meta.IsLeader() {
			continue
		}
		if _, err := e.DrainTierJournal(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("tier journal drain", "err", err)
		}
		if _, err := e.ExpireRestores(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("restore expiry", "err", err)
		}
		if _, err := e.AbandonStaleRestores(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("abandoned restores", "err", err)
		}
	}
}

// RecallProgress reports a recall's progress.
type RecallProgress struct {
	Done  int64 // versions brought back by this call
	Bytes int64 // their bytes
	// Remaining is what the tier still holds afterwards (versions, bytes).
	Remaining, RemainingBytes int64
}

// RecallTier brings versions on a tier back to local drives, at most max
// of them (0: all). It is resumable: each version moves with its own
// conditional commit, and a rerun starts with what is still there.
// progress, if not nil, is called after each version.
func (e *Engine) RecallTier(ctx context.Context, name string, max int, progress func(RecallProgress)) (RecallProgress, error) {
	var rp RecallProgress
	if _, _, err := e.tierDriver(ctx, name); err != nil {
		return rp, err
	}
	targets, err := e.meta.TierVersions(ctx, name, max)
	if err != nil {
		return rp, metaErr(err)
	}
	for _, a := range targets {
		if err := e.recallVersion(ctx, a); err != nil {
			return rp, err
		}
		rp.Done++
		rp.Bytes += a.Size
		if progress != nil {
			progress(rp)
		}
	}
	// The recalled versions' remote objects go now (their usage with
	// them), so that Remaining counts only what is still on the tier.
	if _, err := e.DrainTierJournal(ctx); err != nil {
		return rp, err
	}
	ts, us, err := e.meta.ListTiers(ctx)
	if err != nil {
		return rp, metaErr(err)
	}
	for i, t := range ts {
		if t.Name == name {
			rp.Remaining, rp.RemainingBytes = us[i].Artifacts, us[i].Bytes
		}
	}
	return rp, nil
}

// recallVersion moves one version's bytes from its tier to local drives.
func (e *Engine) recallVersion(ctx context.Context, a metastore.Artifact) error {
	var to []metastore.Part
	fail := func(err error) error {
		e.dropParts(context.WithoutCancel(ctx), to)
		return err
	}
	for _, p := range a.Parts {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(e.readPart(ctx, e.tierThrottle(ctx, pw), p)) }()
		b, missing, err := e.writeBlob(ctx, pr)
		pr.CloseWithError(errors.New("write stopped"))
		if err != nil {
			return fail(err)
		}
		np := p
		np.Blob = b
		to = append(to, np)
		e.healLater(np, missing)
	}
	from := make([]string, len(a.Parts))
	for i, p := range a.Parts {
		from[i] = p.Blob.ID
	}
	_, err := e.meta.Transition(ctx, metastore.Transition{
		Tenant: a.Tenant, Container: a.Container, Key: a.Key, VersionID: a.VersionID,
		From: from, To: to, Tier: "", StorageClass: "",
	})
	if errors.Is(err, metastore.ErrPreconditionFailed) || errors.Is(err, metastore.ErrNoSuchVersion) {
		// Overwritten or deleted meanwhile: nothing left to recall.
		return fail(nil)
	}
	if err != nil {
		e.uncommitted(ctx, to, err)
		return metaErr(err)
	}
	return nil
}

// --- restore ---

// DefaultRestoreInterval: how often the leader drops expired restored
// copies (RestoreObject's Days are whole days; a minute is precise enough).
const DefaultRestoreInterval = time.Minute

// maxRestoreDays bounds RestoreObject's Days (S3 allows up to 30000).
const maxRestoreDays = 30000

// RestoreResult says what a restore request did.
type RestoreResult struct {
	// Already: the version was already restored; only its expiry moved.
	Already bool
	Expiry  time.Time
}

// RestoreVersion makes a temporary local erasure-coded copy of a version
// on a tier, kept for days (RestoreObject). The copy is made in the
// background; HEAD shows it ongoing until done. A version already
// restored only gets the new expiry. A version not on a tier is
// ErrInvalidObjectState; a restore running already, ErrRestoreInProgress.
func (e *Engine) RestoreVersion(ctx context.Context, tenant, container, key, versionID string, days int) (RestoreResult, error) {
	if days < 1 || days > maxRestoreDays {
		return RestoreResult{}, fmt.Errorf("%w: Days must be 1 to %d", ErrInvalidArgument, maxRestoreDays)
	}
	a, _, _, err := e.version(ctx, tenant, VersionRef{Container: container, Key: key, VersionID: versionID})
	if err != nil {
		return RestoreResult{}, err
	}
	if a.Tier == "" {
		return RestoreResult{}, fmt.Errorf("%w: %q is not in a cold tier", ErrInvalidObjectState, key)
	}
	// S3: the copy expires at midnight UTC after Days days.
	expiry := e.cfg.Now().UTC().Add(time.Duration(days) * 24 * time.Hour).Truncate(24 * time.Hour).Add(24 * time.Hour)
	na, err := e.meta.StartRestore(ctx, tenant, container, key, a.VersionID, expiry)
	if errors.Is(err, metastore.ErrRestoreInProgress) {
		return RestoreResult{}, fmt.Errorf("%w: %q", ErrRestoreInProgress, key)
	}
	if err != nil {
		if versionID == "" && errors.Is(err, metastore.ErrNoSuchVersion) {
			// The current version went (expired, deleted) between the
			// lookup and the restore: to a request that named no version,
			// the key is gone.
			return RestoreResult{}, fmt.Errorf("%w: %q: %v", ErrArtifactNotFound, key, err)
		}
		return RestoreResult{}, metaErr(err)
	}
	if !na.Restore.Ongoing {
		return RestoreResult{Already: true, Expiry: expiry}, nil
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.makeRestore(na)
	}()
	return RestoreResult{Expiry: expiry}, nil
}

// cmpVersion is the VersionRef id of a version id ("" is the null version).
func cmpVersion(v string) string {
	if v == "" {
		return NullVersion
	}
	return v
}

// ErrRestoreInProgress: a restore of the version is already running (S3
// 409 RestoreAlreadyInProgress).
var ErrRestoreInProgress = errors.New("node: restore already in progress")

// makeRestore copies a version's remote parts to local blobs and commits
// them as its restored copy. On failure the restore is dropped (a new
// request can start it again).
func (e *Engine) makeRestore(a metastore.Artifact) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.TierIntentTimeout)
	defer cancel()
	var parts []metastore.Part
	from := make([]string, len(a.Parts))
	committing := false
	err := func() error {
		for i, p := range a.Parts {
			from[i] = p.Blob.ID
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(e.readPart(ctx, e.tierThrottle(ctx, pw), p)) }()
			b, missing, err := e.writeBlob(ctx, pr)
			pr.CloseWithError(errors.New("write stopped"))
			if err != nil {
				return err
			}
			np := p
			np.Blob = b
			parts = append(parts, np)
			e.healLater(np, missing)
		}
		committing = true
		_, err := e.meta.CompleteRestore(ctx, a.Tenant, a.Container, a.Key, a.VersionID, from, parts)
		return err
	}()
	if err == nil {
		e.log.Info("restored from cold tier", "tier", a.Tier, "container", a.Container, "key", a.Key, "expiry", a.Restore.Expiry)
		return
	}
	e.log.Warn("restore failed; the request may be repeated", "tier", a.Tier, "container", a.Container, "key", a.Key, "err", err)
	if committing {
		e.uncommitted(ctx, parts, err)
	} else {
		e.dropParts(ctx, parts)
	}
	if errors.Is(err, metastore.ErrPreconditionFailed) {
		// The restore may have been cleared meanwhile (by the leader as
		// abandoned: AbandonStaleRestores) or restarted: then it is not
		// this copy's to clear.
		cur, _, _, rerr := e.version(context.WithoutCancel(ctx), a.Tenant, VersionRef{Container: a.Container, Key: a.Key, VersionID: cmpVersion(a.VersionID)})
		if rerr != nil || !cur.Restore.Ongoing {
			return
		}
	}
	ref := metastore.RestoreRef{Tenant: a.Tenant, Container: a.Container, Key: a.Key, VersionID: a.VersionID, Expiry: a.Restore.Expiry}
	if _, err := e.meta.ClearRestore(context.WithoutCancel(ctx), ref, a.Restore.Expiry); err != nil {
		e.log.Warn("clearing a failed restore; it ends at its expiry", "key", a.Key, "err", err)
	}
}

// ExpireRestores drops the restored copies whose expiry passed (by
// Config.Now) and returns how many it dropped.
func (e *Engine) ExpireRestores(ctx context.Context) (int, error) {
	now := e.cfg.Now()
	refs, err := e.meta.ExpiredRestores(ctx, now, tierJournalBatch)
	if err != nil {
		return 0, metaErr(err)
	}
	n := 0
	for _, r := range refs {
		parts, err := e.meta.ClearRestore(ctx, r, now)
		if err != nil {
			e.log.Warn("dropping an expired restore", "key", r.Key, "err", err)
			continue
		}
		e.gc.laterParts(parts)
		n++
	}
	return n, nil
}

// tierClasses is the TierResolver of lifecycle rules (lifecycle.go): a
// storage class is served by the tier whose record lists it (TierOf).
type tierClasses struct{ e *Engine }

func (r tierClasses) TierForClass(class string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tier, err := r.e.TierOf(ctx, class)
	return tier, err == nil && tier != ""
}
