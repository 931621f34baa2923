package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/sse"
)

// Safety constants, with the reason beside each.
const (
	// DefaultInlineThreshold: artifacts up to this size live inside their
	// metadata record instead of k+m shard files. Every record is replicated
	// to every metastore voter, so inline bytes cost N copies instead of
	// (k+m)/k; below a few KiB the k+m file creates and fsyncs dominate and
	// inlining wins by an order of magnitude (BenchmarkPutSmall measures it).
	DefaultInlineThreshold = 16 << 10
	// InlineOff as Config.InlineThreshold stores every artifact in shards,
	// however small.
	InlineOff = -1
	// MaxInlineThreshold is the largest InlineThreshold: 1 MiB. An inline
	// artifact travels in one Raft command, forwarded from a follower to
	// the leader in one RPC body (cluster.MaxApplyBytes, 64 MiB) and
	// copied to every voter's log; and a PUT holds up to the threshold in
	// memory before it knows whether the body fits. 1 MiB plus the
	// record's headers and metadata (at most 64 KiB) is always carried,
	// and keeps that buffer small.
	MaxInlineThreshold = 1 << 20
	// DefaultGCDelay: shards of a replaced or deleted artifact are removed
	// only after this delay, so a GET that opened the old version just before
	// an overwrite can finish streaming it.
	DefaultGCDelay = 2 * time.Minute
	// DefaultMaxReadLease: a replaced or deleted blob that a GET still
	// streams waits for it at most this long past the GC delay (then it
	// goes, and the stream fails): 5 GiB at 1 MiB/s is 85 minutes, and a
	// stream stuck for hours must not keep garbage for ever.
	DefaultMaxReadLease = 6 * time.Hour
	// DefaultSweepGrace: the periodic orphan sweep leaves unreferenced blobs
	// younger than this alone: they may belong to a PUT still in flight. At
	// startup no PUT is in flight, so the first sweep uses no grace.
	DefaultSweepGrace = time.Hour
	// DefaultReadHedge: a read gives up on shards whose next block is
	// this late and reconstructs from others (parity included), so a GET
	// does not wait for a peer that stopped answering until its
	// connection times out (10 s). Far above a healthy shard's first
	// block, even on a loaded machine; well within a client's patience.
	DefaultReadHedge = 750 * time.Millisecond
	// DefaultStallTimeout: a shard write blocked this long while the
	// write quorum of the others keeps up is given up (the shard is
	// healed after the commit).
	DefaultStallTimeout = time.Second
	// DefaultStragglerWindow: once the write quorum of shards is durable,
	// the others get this long to finish; those that do not are given up
	// and healed after the commit.
	DefaultStragglerWindow = 500 * time.Millisecond
	// DefaultMinPartSize is S3's minimum size of every part but the last.
	DefaultMinPartSize = 5 << 20
	// DefaultMaxPutSize is S3's single-PUT ceiling.
	DefaultMaxPutSize = 5 << 30
	// DefaultMaxPartSize is S3's part ceiling.
	DefaultMaxPartSize = 5 << 30
)

// Drive is one place shards can go: a Driver plus where it lives.
type Drive struct {
	ID     string
	Node   string
	Driver drivers.Driver
}

// Config configures an Engine.
type Config struct {
	// NodeID names this node in placement records.
	NodeID string
	// Drives are the drives shards are spread over.
	Drives []Drive
	// Shape is the erasure shape of new blobs. Data == 0 chooses it per
	// blob from the live drives (AutoShape); BlockSize applies either way.
	Shape erasure.Shape
	// Peers reaches the other nodes of the cluster; nil for a single node.
	Peers Peers
	// Meta is the metadata store (opened and owned by the caller).
	Meta *metastore.Store

	// InlineThreshold: artifacts up to this many bytes are kept inside
	// their metadata record (0: DefaultInlineThreshold; InlineOff: never;
	// at most MaxInlineThreshold).
	InlineThreshold int
	GCDelay         time.Duration
	// MaxReadLease bounds how long past GCDelay an open reader keeps a
	// replaced blob (default DefaultMaxReadLease).
	MaxReadLease time.Duration
	// ReadHedge, StallTimeout and StragglerWindow bound how long a read
	// or a write waits on a shard that stopped answering (defaults
	// DefaultReadHedge, DefaultStallTimeout, DefaultStragglerWindow; see
	// docs/design.md, "Slow peers").
	ReadHedge       time.Duration
	StallTimeout    time.Duration
	StragglerWindow time.Duration
	SweepGrace      time.Duration
	// SweepInterval is how often the orphan sweep runs; 0 disables the
	// periodic sweep (the startup sweep still runs).
	SweepInterval time.Duration
	// ScrubPeriod: the continuous scrub verifies every local shard in
	// full at least once in any span this long, with paced passes every
	// half period (0 disables it; DefaultScrubPeriod is what servers
	// use). The first pass starts ScrubStartDelay after Start (default
	// DefaultScrubStartDelay). ScrubStateFile keeps its position and
	// passes across restarts ("" keeps them in memory). ScrubPause is a
	// pause between shards, counted within the pace (a pause so long that
	// a pass cannot keep to it breaks the period). See node/scrub.go.
	ScrubPeriod     time.Duration
	ScrubStartDelay time.Duration
	ScrubStateFile  string
	ScrubPause      time.Duration
	// OnDecommissioned is called once when this node's decommission is
	// done (decom.go): the server stops serving. Nil: the node only logs.
	OnDecommissioned func()
	// RelocateInterval is how often the metadata leader moves the shards
	// of removed nodes onto live drives (node/relocate.go); it also does
	// when it becomes leader and when the Raft configuration changes. 0
	// disables relocation (DefaultRelocateInterval is what servers use).
	RelocateInterval time.Duration
	// RestripeInterval is how often the metadata leader rewrites blobs
	// written at a degraded automatic shape at the current one
	// (node/restripe.go); 0 disables it (DefaultRestripeInterval is what
	// servers use). RestripeRate throttles it, in bytes rewritten per
	// second (0: DefaultRestripeRate; < 0: unthrottled).
	RestripeInterval time.Duration
	RestripeRate     int64
	// HealRate throttles drive heal jobs, in bytes of rebuilt shards per
	// second (0: DefaultHealRate; < 0: unthrottled). HealStateDir keeps
	// their positions across restarts ("": in memory only).
	// DriveRecheckInterval is how often offline drives are probed (0:
	// DefaultDriveRecheckInterval; < 0: never). See node/drives.go.
	HealRate             int64
	HealStateDir         string
	DriveRecheckInterval time.Duration
	// NodeRemoved decides whether a node left the cluster for good; nil
	// means "not in the metadata Raft configuration". Tests whose peers
	// are not Raft members set it.
	NodeRemoved func(node string) bool
	MinPartSize int64
	MaxPutSize  int64
	// PasswordCost is the bcrypt cost of new password hashes (0:
	// PasswordCost). Tests lower it; servers keep the default.
	PasswordCost int
	// UploadExpiry: the metadata leader aborts unfinished multipart
	// uploads older than this (default DefaultUploadExpiry; < 0: never),
	// looking at a batch every ExpiryInterval (default
	// DefaultExpiryInterval). See node/expiry.go.
	UploadExpiry   time.Duration
	ExpiryInterval time.Duration
	// TierOpener builds the driver of a cold tier (cmd/vaultaire passes
	// drivers/s3); nil: this server cannot use tiers. TierIntentTimeout
	// (default DefaultTierIntentTimeout) abandons a transition's upload
	// that did not commit; TierJournalInterval (default
	// DefaultTierJournalInterval) is how often the leader deletes remote
	// garbage (node/tiers.go).
	TierOpener          TierOpener
	TierIntentTimeout   time.Duration
	TierJournalInterval time.Duration
	// TierReadFirstByte and TierReadTimeout bound every read of a blob on
	// a tier: no byte within the first, or not done within the second,
	// fails it as the tier being unavailable (defaults
	// DefaultTierReadFirstByte, DefaultTierReadTimeout; node/tierread.go).
	TierReadFirstByte time.Duration
	TierReadTimeout   time.Duration
	// TierRate throttles the bytes transitions, recalls and restores move
	// between the local drives and tiers, in bytes per second on this
	// node (0: unthrottled; node/tierrate.go).
	TierRate int64
	// LifecycleInterval: how often the metadata leader checks whether a
	// lifecycle pass is due (default DefaultLifecycleInterval; < 0:
	// never); LifecycleConcurrency: actions carried out at once (default
	// DefaultLifecycleConcurrency). LifecycleAudit, when set, is told of
	// every lifecycle action (node/lifecycle_engine.go).
	LifecycleInterval    time.Duration
	LifecycleConcurrency int
	LifecycleAudit       func(LifecycleAction)
	// CapacityTier is the default tier of the capacity fallback ("": no
	// fallback): when the cluster's drives are CapacityHigh used (a
	// fraction, default DefaultCapacityHigh), the metadata leader moves
	// the least recently written versions there until usage is below
	// CapacityLow (default DefaultCapacityLow), measuring every
	// CapacityInterval (default DefaultCapacityInterval; < 0: only when
	// CapacityRound is called). Moves are audited through LifecycleAudit
	// (node/capacity.go).
	CapacityTier     string
	CapacityHigh     float64
	CapacityLow      float64
	CapacityInterval time.Duration
	// Now is the clock of the upload expiry and the lifecycle engine
	// (default time.Now); tests move it forward instead of waiting days.
	Now func() time.Time
	// LifecycleNow, when set, is the clock the lifecycle engine alone
	// judges due actions by (default Now): process tests run it days
	// ahead (cmd/vaultaire's guarded test clock offset) while upload
	// expiry, tier intents, restores, Raft and TLS keep the real time.
	// LifecycleBatch: versions looked at per lifecycle step, the
	// position committed after each (default lifecycleBatch).
	// LifecycleStepPause: how long the leader waits between the steps
	// of a running pass (default 0: none); process tests use it to stop
	// a leader at a known step.
	LifecycleNow       func() time.Time
	LifecycleBatch     int
	LifecycleStepPause time.Duration
	// SSERootKey is the 32-byte root of the server-side encryption keys
	// (derived from the cluster secret, identical on every node); nil
	// leaves SSE unconfigured: writes asking for it fail with
	// ErrSSEUnavailable.
	SSERootKey []byte
	Logger     *slog.Logger
}

func (c *Config) setDefaults() {
	if c.InlineThreshold == 0 {
		c.InlineThreshold = DefaultInlineThreshold
	}
	if c.GCDelay == 0 {
		c.GCDelay = DefaultGCDelay
	}
	if c.MaxReadLease <= 0 {
		c.MaxReadLease = DefaultMaxReadLease
	}
	if c.ReadHedge <= 0 {
		c.ReadHedge = DefaultReadHedge
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.ScrubStartDelay <= 0 {
		c.ScrubStartDelay = DefaultScrubStartDelay
	}
	if c.StragglerWindow <= 0 {
		c.StragglerWindow = DefaultStragglerWindow
	}
	if c.SweepGrace == 0 {
		c.SweepGrace = DefaultSweepGrace
	}
	if c.MinPartSize == 0 {
		c.MinPartSize = DefaultMinPartSize
	}
	if c.MaxPutSize == 0 {
		c.MaxPutSize = DefaultMaxPutSize
	}
	if c.Shape.BlockSize == 0 {
		c.Shape.BlockSize = erasure.DefaultBlockSize
	}
	if c.PasswordCost == 0 {
		c.PasswordCost = PasswordCost
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.UploadExpiry == 0 {
		c.UploadExpiry = DefaultUploadExpiry
	}
	if c.LifecycleInterval == 0 {
		c.LifecycleInterval = DefaultLifecycleInterval
	}
	if c.LifecycleConcurrency <= 0 {
		c.LifecycleConcurrency = DefaultLifecycleConcurrency
	}
	if c.ExpiryInterval <= 0 {
		c.ExpiryInterval = DefaultExpiryInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RestripeRate == 0 {
		c.RestripeRate = DefaultRestripeRate
	}
	if c.LifecycleNow == nil {
		c.LifecycleNow = c.Now
	}
	if c.LifecycleBatch <= 0 {
		c.LifecycleBatch = lifecycleBatch
	}
	if c.HealRate == 0 {
		c.HealRate = DefaultHealRate
	}
	if c.DriveRecheckInterval == 0 {
		c.DriveRecheckInterval = DefaultDriveRecheckInterval
	}
	if c.TierIntentTimeout <= 0 {
		c.TierIntentTimeout = DefaultTierIntentTimeout
	}
	if c.TierJournalInterval <= 0 {
		c.TierJournalInterval = DefaultTierJournalInterval
	}
	if c.TierReadFirstByte <= 0 {
		c.TierReadFirstByte = DefaultTierReadFirstByte
	}
	if c.TierReadTimeout <= 0 {
		c.TierReadTimeout = DefaultTierReadTimeout
	}
	if c.CapacityHigh == 0 {
		c.CapacityHigh = DefaultCapacityHigh
	}
	if c.CapacityLow == 0 {
		c.CapacityLow = DefaultCapacityLow
	}
	if c.CapacityInterval == 0 {
		c.CapacityInterval = DefaultCapacityInterval
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("node: NodeID is empty"))
	}
	if c.Meta == nil {
		errs = append(errs, errors.New("node: Meta is nil"))
	}
	if c.Shape.Data > 0 {
		if err := c.Shape.Validate(); err != nil {
			errs = append(errs, err)
		}
		if n := c.Shape.Data + c.Shape.Parity; c.Peers == nil && len(c.Drives) < n {
			errs = append(errs, fmt.Errorf("node: erasure shape %d+%d needs at least %d drives, have %d", c.Shape.Data, c.Shape.Parity, n, len(c.Drives)))
		}
	}
	if len(c.Drives) == 0 && c.Peers == nil {
		errs = append(errs, errors.New("node: no drives"))
	}
	ids := map[string]bool{}
	for i, d := range c.Drives {
		if d.ID == "" || d.Driver == nil {
			errs = append(errs, fmt.Errorf("node: drive %d needs an ID and a Driver", i))
		}
		if ids[d.ID] {
			errs = append(errs, fmt.Errorf("node: drive ID %q used twice", d.ID))
		}
		ids[d.ID] = true
	}
	if c.InlineThreshold < InlineOff || c.InlineThreshold > MaxInlineThreshold {
		errs = append(errs, fmt.Errorf("node: InlineThreshold %d outside 0..%d (or InlineOff)", c.InlineThreshold, MaxInlineThreshold))
	}
	errs = append(errs, c.validCapacity()...)
	return errors.Join(errs...)
}

// Engine is the per-node orchestrator every request goes through: it
// places, encodes and commits artifacts, reads them back verified, and runs
// the background garbage collection and healing of this node.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	meta   *metastore.Store
	coders coders
	drives map[string]Drive // this node's drives by ID
	// stragglers holds, by blob ID, the shard writes of a just-written
	// blob that were given up on and have not ended yet (unsettled).
	stragglers sync.Map
	order      []Drive // this node's drives in Config order

	gc        *collector
	leases    leases // blobs open readers stream (gc.go)
	heal      *healer
	scrub     *scrubber
	driveHeal *driveHealer
	relocKick chan struct{}
	restripe  restriper
	stats     counters
	tiers     tiers         // cold tier drivers and health (tiers.go)
	capacity  capacityState // the capacity fallback (capacity.go)
	tierRate  *rate.Limiter // nil: tier moves unthrottled (tierrate.go)
	keyring   *sse.Keyring  // nil without Config.SSERootKey
	// expiry is where the multipart upload expiry stopped (expiry.go).
	expiry struct {
		sync.Mutex
		cursor expiryCursor
	}
	// lc is the lifecycle state: the tier resolver transition rules are
	// checked against, and decoded configurations (lifecycle.go).
	lc struct {
		mu struct {
			sync.Mutex
			tiers        TierResolver
			transitioner Transitioner
		}
		cache lifecycleCache
		step  sync.Mutex // one LifecycleStep at a time
		pass  lcPass
		batch int // versions per step (lifecycleBatch; tests lower it)
	}
	// staleRestores: restores the leader saw ongoing (restore_stale.go).
	staleRestores staleRestores
	// unresponsive: peers given no new shards for now (unresponsive.go).
	unresponsive unresponsivePeers

	dummyOnce sync.Once
	dummyHash []byte // compared against for unknown accounts (accounts.go)

	closeOnce sync.Once
	stop      context.CancelFunc
	wg        sync.WaitGroup
}

// New builds an Engine. Call Start to run its background workers and Close
// to stop them.
func New(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:    cfg,
		log:    cfg.Logger,
		meta:   cfg.Meta,
		drives: make(map[string]Drive, len(cfg.Drives)),

		relocKick: make(chan struct{}, 1),
		tierRate:  newTierLimiter(cfg.TierRate),
	}
	if cfg.Shape.Data > 0 {
		if _, err := e.coders.get(cfg.Shape); err != nil {
			return nil, err
		}
	}
	for _, d := range cfg.Drives {
		if d.Node == "" {
			d.Node = cfg.NodeID
		}
		e.drives[d.ID] = d
		e.order = append(e.order, d)
	}
	if cfg.SSERootKey != nil {
		kr, err := sse.NewKeyring(cfg.SSERootKey)
		if err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		e.keyring = kr
	}
	e.lc.batch = e.cfg.LifecycleBatch
	e.gc = newCollector(e)
	e.heal = newHealer(e)
	e.scrub = newScrubber(e)
	e.driveHeal = newDriveHealer(e)
	// Lifecycle Transition rules name storage classes; the tiers' records
	// say which tier serves each (tiers.go).
	e.SetTierResolver(tierClasses{e})
	return e, nil
}

// Start runs the startup sweep of orphaned shards (alone, before it
// returns: no PUT can be in flight yet, so every unreferenced blob is
// garbage; in a cluster, in the background, with the sweep's grace) and
// the background workers until Close. The metastore must have a leader.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.meta.WaitLeader(ctx); err != nil {
		return fmt.Errorf("node: waiting for metadata leader: %w", err)
	}
	// Alone, no PUT can be in flight at startup, so every unreferenced blob
	// is garbage: the sweep runs before the node serves, with no grace. In
	// a cluster, peers may be writing shards to this node's drives right
	// now, so the sweep leaves young blobs alone (SweepGrace) and need not
	// come first: it lists every shard file of the node's drives, which
	// took 10-22 s at 30,000 keys in the chaos suite and longer under
	// load, so it runs in the background while the node serves.
	bg, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	if e.cfg.Peers == nil {
		e.startupSweep(ctx, 0)
	} else {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.startupSweep(bg, e.cfg.SweepGrace) }()
	}
	e.wg.Add(11)
	go func() { defer e.wg.Done(); e.capacityLoop(bg) }()
	go func() { defer e.wg.Done(); e.tierJournalLoop(bg) }()
	go func() { defer e.wg.Done(); e.gc.run(bg) }()
	go func() { defer e.wg.Done(); e.heal.run(bg) }()
	go func() { defer e.wg.Done(); e.scrub.run(bg) }()
	go func() { defer e.wg.Done(); e.relocateLoop(bg) }()
	go func() { defer e.wg.Done(); e.restripeLoop(bg) }()
	go func() { defer e.wg.Done(); e.expiryLoop(bg) }()
	go func() { defer e.wg.Done(); e.lifecycleLoop(bg) }()
	go func() { defer e.wg.Done(); e.recheckLoop(bg) }()
	go func() { defer e.wg.Done(); e.decomLoop(bg) }()
	e.driveHeal.start(bg)
	return nil
}

// startupSweep runs the orphan sweep of Start and logs its outcome.
func (e *Engine) startupSweep(ctx context.Context, grace time.Duration) {
	began := time.Now()
	if n, err := e.gc.sweep(ctx, grace); err != nil {
		if ctx.Err() == nil {
			e.log.Warn("startup sweep incomplete", "err", err, "took", time.Since(began).Round(time.Millisecond))
		}
	} else {
		e.log.Info("startup sweep done", "removed_blobs", n, "took", time.Since(began).Round(time.Millisecond))
	}
}

// Close stops the background workers. Pending delayed deletions are
// dropped; the next startup sweep removes what they would have.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		if e.stop != nil {
			e.stop()
		}
		e.wg.Wait()
	})
	return nil
}

// ReadScope returns ctx with a metadata read scope: the reads of one
// request made under it (key, container, artifact...) share one read
// barrier and reflect everything acknowledged before the first of them
// (metastore.WithReadScope). Every engine call of a request reads its
// state through the metastore, and none reads its own writes.
func (e *Engine) ReadScope(ctx context.Context) context.Context {
	return metastore.WithReadScope(ctx)
}

// Credential looks up an access key for request authentication.
func (e *Engine) Credential(ctx context.Context, accessKeyID string) (Credential, error) {
	k, secret, err := e.meta.GetAccessKey(ctx, accessKeyID)
	if errors.Is(err, metastore.ErrNotFound) || (err == nil && !k.Enabled) {
		return Credential{}, ErrAccessKeyUnknown
	}
	if err != nil {
		return Credential{}, metaErr(err)
	}
	// A suspended (or vanished) tenant's keys are refused like unknown ones.
	t, err := e.meta.GetTenant(ctx, k.Tenant)
	if errors.Is(err, metastore.ErrNotFound) || (err == nil && t.State == metastore.TenantSuspended) {
		return Credential{}, ErrAccessKeyUnknown
	}
	if err != nil {
		return Credential{}, metaErr(err)
	}
	return Credential{AccessKeyID: k.ID, Secret: secret, Tenant: k.Tenant, User: k.User}, nil
}

// ListContainers lists a tenant's containers by name.
func (e *Engine) ListContainers(ctx context.Context, tenant string) ([]ContainerInfo, error) {
	cs, err := e.meta.ListContainers(ctx, tenant)
	if err != nil {
		return nil, metaErr(err)
	}
	out := make([]ContainerInfo, len(cs))
	for i, c := range cs {
		out[i] = containerInfo(c)
	}
	return out, nil
}

func containerInfo(c metastore.Container) ContainerInfo {
	return ContainerInfo{
		Name: c.Name, Created: c.Created, Versioning: c.VersioningState,
		ObjectLock: ObjectLockConfig(c.ObjectLock), Tags: c.Tags, Location: c.Location,
	}
}

// CreateContainer creates a container; ErrContainerExists when the tenant
// already has one by that name.
func (e *Engine) CreateContainer(ctx context.Context, tenant string, in CreateContainerInput) error {
	c := metastore.Container{Tenant: tenant, Name: in.Name, Created: now(), Location: in.Location}
	if len(in.Config) > 0 {
		c.Config = maps.Clone(in.Config)
	}
	if in.ObjectLock {
		c.VersioningState = metastore.VersioningEnabled
		c.ObjectLock = metastore.ObjectLockConfig{Enabled: true}
	}
	return metaErr(e.meta.CreateContainer(ctx, c))
}

// HeadContainer describes a container.
func (e *Engine) HeadContainer(ctx context.Context, tenant, name string) (ContainerInfo, error) {
	c, err := e.meta.GetContainer(ctx, tenant, name)
	if err != nil {
		return ContainerInfo{}, metaErr(err)
	}
	return containerInfo(c), nil
}

// DeleteContainer deletes an empty container, dropping its unfinished
// multipart uploads.
func (e *Engine) DeleteContainer(ctx context.Context, tenant, name string) error {
	parts, err := e.meta.DeleteContainer(ctx, tenant, name)
	if err != nil {
		return metaErr(err)
	}
	for _, p := range parts {
		e.gc.later(p.Blob)
	}
	return nil
}

// metaErr translates metastore errors into node errors; errors without a
// node meaning pass through (and become InternalError at the S3 edge).
func metaErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, metastore.ErrContainerNotFound):
		return fmt.Errorf("%w: %w", ErrContainerNotFound, err)
	case errors.Is(err, metastore.ErrExists):
		return fmt.Errorf("%w: %w", ErrContainerExists, err)
	case errors.Is(err, metastore.ErrContainerNotEmpty):
		return fmt.Errorf("%w: %w", ErrContainerNotEmpty, err)
	case errors.Is(err, metastore.ErrArtifactNotFound):
		return fmt.Errorf("%w: %w", ErrArtifactNotFound, err)
	case errors.Is(err, metastore.ErrUploadNotFound):
		return fmt.Errorf("%w: %w", ErrUploadNotFound, err)
	case errors.Is(err, metastore.ErrPreconditionFailed):
		return fmt.Errorf("%w: %w", ErrPreconditionFailed, err)
	case errors.Is(err, metastore.ErrInvalidPart):
		return fmt.Errorf("%w: %w", ErrInvalidPart, err)
	case errors.Is(err, metastore.ErrInvalidPartOrder):
		return fmt.Errorf("%w: %w", ErrInvalidPartOrder, err)
	case errors.Is(err, metastore.ErrEntityTooSmall):
		return fmt.Errorf("%w: %w", ErrEntityTooSmall, err)
	case errors.Is(err, metastore.ErrQuotaExceeded):
		return quotaFromMeta(err) // node/quota.go
	case errors.Is(err, metastore.ErrNoSuchVersion):
		return fmt.Errorf("%w: %w", ErrNoSuchVersion, err)
	case errors.Is(err, metastore.ErrObjectLocked):
		return fmt.Errorf("%w: %w", ErrObjectLocked, err)
	case errors.Is(err, metastore.ErrLockNotEnabled):
		return fmt.Errorf("%w: %w", ErrLockNotEnabled, err)
	case errors.Is(err, metastore.ErrDeleteMarker):
		return fmt.Errorf("%w: %w", ErrDeleteMarker, err)
	case errors.Is(err, metastore.ErrInvalidContainerState):
		return fmt.Errorf("%w: %w", ErrInvalidContainerState, err)
	case errors.Is(err, metastore.ErrInvalidArgument):
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	case errors.Is(err, metastore.ErrUpgradeRequired):
		return fmt.Errorf("%w: %w", ErrUpgradeRequired, err)
	case errors.Is(err, metastore.ErrNotLeader), errors.Is(err, metastore.ErrLeadershipLost):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// newID returns a random 128-bit identifier in hex: blob ids, version ids
// and upload ids.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("node: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// now is the proposer-side clock for records (truncated as S3 reports it).
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// toInfo describes a version as clients see it. versioned says whether
// its container has a versioning state (S3 then reports version ids).
func toInfo(a metastore.Artifact, versioned bool) ArtifactInfo {
	info := ArtifactInfo{
		Container:    a.Container,
		Key:          a.Key,
		VersionID:    a.VersionID,
		Versioned:    versioned || a.Seq != 0,
		Size:         a.Size,
		ETag:         a.ETag,
		ContentType:  a.ContentType,
		Headers:      a.Headers,
		Meta:         a.Meta,
		Checksums:    a.Checksums,
		Modified:     a.Created,
		DeleteMarker: a.DeleteMarker,
		StorageClass: a.StorageClass,
		Tags:         a.Tags,
		Retention:    Retention(a.Retention),
		LegalHold:    a.LegalHold,
		ChecksumType: a.ChecksumType,
		Encryption:   a.Encryption.Mode,
		Owner:        a.Owner,
		ACL:          a.ACL,

		Tier:           a.Tier,
		RestoreOngoing: a.Restore.Ongoing,
		RestoreExpiry:  a.Restore.Expiry,
	}
	if len(a.Parts) > 1 || (len(a.Parts) == 1 && a.Parts[0].Number > 0) {
		info.Parts = len(a.Parts)
		info.PartList = make([]PartInfo, len(a.Parts))
		for i, p := range a.Parts {
			info.PartList[i] = PartInfo{Number: p.Number, Size: p.Size, ETag: p.ETag, Modified: p.Created, Checksums: p.Checksums}
		}
	}
	return info
}

// DisableInline makes every artifact go to shards, however small (tests of
// the shard path use it). Call before serving requests.
func (e *Engine) DisableInline() { e.cfg.InlineThreshold = InlineOff }
