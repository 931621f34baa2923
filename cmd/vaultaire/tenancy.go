package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/tenancy"
)

// limitsRefreshInterval is how often a node reloads every tenant's limits
// from its local metastore state: a change made through another node's
// admin API reaches this node's limiter within about this long (changes
// made through this node apply at once).
const limitsRefreshInterval = 2 * time.Second

// usageFlushTimeout bounds the last usage report at shutdown.
const usageFlushTimeout = 10 * time.Second

var (
	_ s3.QuotaChecker = (*node.Engine)(nil)
	_ s3.ByteLimiter  = (*tenancy.Limiter)(nil)
	_ admin.Tenancy   = (*tenantRuntime)(nil)
)

// tenantRuntime is the per-node wiring of tenant limits and metering:
// it keeps the s3 limiter's per-tenant overrides in step with the
// replicated settings, and meters every S3 request into hourly usage
// records reported through Raft (node.Metering).
type tenantRuntime struct {
	eng      *node.Engine
	limiter  *tenancy.Limiter
	def      tenancy.Limit
	base     map[string]tenancy.Limit // built-in overrides (the root tenant)
	meter    *tenancy.Meter
	metering *node.Metering
	onQuota  func(tenant string) // counts QuotaExceeded answers (metrics)
	log      *slog.Logger

	mu struct {
		sync.Mutex
		applied map[string]tenancy.Limit // overrides set on the limiter
	}
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// startTenancy loads the tenants' limits into limiter (def is the default
// the limiter was built with; the root tenant stays unlimited unless it
// has settings of its own) and starts the refresh and metering loops.
// Call close after the S3 listener has stopped: it reports the last
// metered requests. onQuota (may be nil) is told of every request refused
// by a quota.
func startTenancy(ctx context.Context, eng *node.Engine, limiter *tenancy.Limiter, def tenancy.Limit, retention time.Duration, onQuota func(tenant string), log *slog.Logger) (*tenantRuntime, error) {
	meter := tenancy.NewMeter(nil)
	if retention == 0 {
		retention = -1 // --usage-retention 0: keep forever
	}
	metering, err := eng.NewMetering(node.MeteringConfig{Meter: meter, Retention: retention, Logger: log})
	if err != nil {
		return nil, err
	}
	t := &tenantRuntime{
		eng: eng, limiter: limiter, def: def, meter: meter, metering: metering, onQuota: onQuota, log: log,
		base: map[string]tenancy.Limit{node.RootTenant: {}},
	}
	t.mu.applied = make(map[string]tenancy.Limit)
	if err := t.Refresh(ctx); err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	t.stop = cancel
	t.wg.Add(2)
	go func() {
		defer t.wg.Done()
		metering.Run(bg)
	}()
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(limitsRefreshInterval)
		defer tick.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-tick.C:
				if err := t.Refresh(bg); err != nil && bg.Err() == nil {
					log.Warn("tenant limits not refreshed", "err", err)
				}
			}
		}
	}()
	return t, nil
}

// Refresh applies the replicated limits of every tenant to the limiter:
// overrides for tenants that have them, the default again for tenants
// whose override was removed.
func (t *tenantRuntime) Refresh(ctx context.Context) error {
	all, err := t.eng.AllTenantLimits(ctx)
	if err != nil {
		return err
	}
	want := make(map[string]tenancy.Limit, len(all)+len(t.base))
	for id, l := range t.base {
		want[id] = l
	}
	for _, tl := range all {
		if lim, ok := tl.Tenancy(t.DefaultFor(tl.Tenant)); ok {
			want[tl.Tenant] = lim
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, lim := range want {
		if cur, ok := t.mu.applied[id]; !ok || cur != lim {
			t.limiter.SetLimit(id, lim)
			t.mu.applied[id] = lim
		}
	}
	for id := range t.mu.applied {
		if _, ok := want[id]; !ok {
			t.limiter.RemoveLimit(id)
			delete(t.mu.applied, id)
		}
	}
	return nil
}

// DefaultFor is the limit a tenant without a rate override gets: its
// built-in one (the root tenant's), else the server's default.
func (t *tenantRuntime) DefaultFor(tenant string) tenancy.Limit {
	if b, ok := t.base[tenant]; ok {
		return b
	}
	return t.def
}

// onRequest meters one finished S3 request (the s3 OnRequest hook).
func (t *tenantRuntime) onRequest(ev s3.RequestEvent) {
	if ev.Tenant == "" {
		return // not authenticated: nobody to bill
	}
	t.meter.Record(ev.Tenant, ev.Operation.String(), ev.BytesIn, ev.BytesOut)
	if ev.ErrorCode == "QuotaExceeded" && t.onQuota != nil {
		t.onQuota(ev.Tenant)
	}
}

// DefaultLimit is the server's default rate (--rate-limit, --rate-burst).
func (t *tenantRuntime) DefaultLimit() tenancy.Limit { return t.def }

// Flush reports this node's metered usage now (the admin usage endpoint
// calls it so an export includes this node's latest requests).
func (t *tenantRuntime) Flush(ctx context.Context) error {
	return t.metering.Flush(ctx)
}

// close stops the loops and reports what is left.
func (t *tenantRuntime) close() {
	t.stop()
	t.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), usageFlushTimeout)
	defer cancel()
	if err := t.metering.Flush(ctx); err != nil {
		t.log.Warn("last usage report failed; its requests are not billed", "err", err)
	}
}
