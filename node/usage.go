package node

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/tenancy"
)

// Defaults of MeteringConfig.
const (
	// DefaultUsageInterval: how often a node reports its metered deltas
	// through Raft. Short enough that a crash loses little and egress
	// quotas lag little; long enough that metering is a few log entries a
	// minute however busy the node.
	DefaultUsageInterval = 10 * time.Second
	// DefaultSampleInterval: how often the Raft leader samples every
	// tenant's stored figures into the current hour's record, so idle
	// tenants are billed for storage every hour.
	DefaultSampleInterval = 5 * time.Minute
	// DefaultUsageRetention: hourly usage records older than this are
	// deleted by the leader (13 months and a bit: a year of invoices and
	// their disputes, then gone).
	DefaultUsageRetention = 400 * 24 * time.Hour
	// maxPruneRounds bounds the prune commands of one Flush; what is left
	// goes at the next sample.
	maxPruneRounds = 10
	// maxReportDeltas splits a big report over several commands (the
	// metastore bounds one command).
	maxReportDeltas = 5000
)

// MeteringConfig configures Metering.
type MeteringConfig struct {
	// Meter counts this node's requests (the s3 edge's OnRequest feeds it).
	Meter *tenancy.Meter
	// Interval between reports; default DefaultUsageInterval.
	Interval time.Duration
	// SampleInterval between storage samples on the leader; default
	// DefaultSampleInterval.
	SampleInterval time.Duration
	// Retention of hourly usage records: the leader deletes older ones
	// whenever it samples storage (default DefaultUsageRetention; < 0:
	// kept forever).
	Retention time.Duration
	Logger    *slog.Logger
}

// Metering persists this node's usage meter as hourly records through
// Raft: every Interval it drains the meter and proposes the deltas as one
// RecordUsage command with a request id of its own. A report that fails is
// kept and proposed again, with the same id, before anything newer, so a
// report whose outcome was unknown (leader lost mid-commit) is applied at
// most once, however often it is retried within the metastore's dedupe
// window (10 minutes). Records of all nodes add up in the state machine;
// they survive restarts and leader changes like any other state.
type Metering struct {
	e   *Engine
	cfg MeteringConfig
	log *slog.Logger

	mu struct {
		sync.Mutex
		pending    []report // oldest first
		lastSample time.Time
	}
}

type report struct {
	id     [16]byte
	at     time.Time
	deltas []metastore.UsageDelta
}

// NewMetering returns the metering worker of e. Run it with Run; call
// Flush once more at shutdown, after the S3 listener has stopped.
func (e *Engine) NewMetering(cfg MeteringConfig) (*Metering, error) {
	if cfg.Meter == nil {
		return nil, errors.New("node: MeteringConfig.Meter is nil")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultUsageInterval
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = DefaultSampleInterval
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultUsageRetention
	}
	if cfg.Retention > 0 && cfg.Retention < time.Hour {
		return nil, errors.New("node: MeteringConfig.Retention is below an hour")
	}
	if cfg.Logger == nil {
		cfg.Logger = e.log
	}
	return &Metering{e: e, cfg: cfg, log: cfg.Logger}, nil
}

// Run reports every Interval until ctx ends.
func (m *Metering) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Flush(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("usage report deferred", "err", err)
			}
		}
	}
}

// Flush drains the meter and reports everything not yet reported; on the
// Raft leader it also samples storage when SampleInterval has passed or
// a new hour began. A failed report stays queued for the next Flush.
func (m *Metering) Flush(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if hours := m.cfg.Meter.Drain(); len(hours) > 0 {
		deltas := make([]metastore.UsageDelta, len(hours))
		for i, h := range hours {
			deltas[i] = metastore.UsageDelta{
				Tenant: h.Tenant, Start: h.Start, IngressBytes: h.IngressBytes,
				EgressBytes: h.EgressBytes, ClassA: h.ClassA, ClassB: h.ClassB,
			}
		}
		for len(deltas) > 0 {
			n := min(len(deltas), maxReportDeltas)
			m.mu.pending = append(m.mu.pending, report{id: newReportID(), at: now, deltas: deltas[:n]})
			deltas = deltas[n:]
		}
	}
	for len(m.mu.pending) > 0 {
		r := m.mu.pending[0]
		if err := m.e.meta.RecordUsage(ctx, r.id, r.at, r.deltas); err != nil {
			if errors.Is(err, metastore.ErrInvalidArgument) {
				// Never valid: drop it rather than block every later report.
				m.log.Error("usage report refused; dropped", "err", err, "deltas", len(r.deltas))
				m.mu.pending = m.mu.pending[1:]
				continue
			}
			return metaErr(err)
		}
		m.mu.pending = m.mu.pending[1:]
	}
	if m.e.meta.IsLeader() && (now.Sub(m.mu.lastSample) >= m.cfg.SampleInterval ||
		now.UTC().Truncate(time.Hour) != m.mu.lastSample.UTC().Truncate(time.Hour)) {
		if err := m.e.meta.SampleStorage(ctx, now); err != nil {
			return metaErr(err)
		}
		m.mu.lastSample = now
		if err := m.prune(ctx, now); err != nil {
			return err
		}
	}
	return nil
}

// prune deletes the usage records past the retention (on the leader, with
// each storage sample), a bounded number of commands at a time.
func (m *Metering) prune(ctx context.Context, now time.Time) error {
	if m.cfg.Retention < 0 {
		return nil
	}
	for range maxPruneRounds {
		n, more, err := m.e.meta.PruneUsageHours(ctx, now, m.cfg.Retention, 0)
		if errors.Is(err, metastore.ErrUpgradeRequired) {
			return nil // a cluster mid-upgrade keeps its records until raised
		}
		if err != nil {
			return metaErr(err)
		}
		if n > 0 {
			m.log.Info("pruned usage records past their retention", "records", n, "retention", m.cfg.Retention)
		}
		if !more {
			return nil
		}
	}
	return nil
}

func newReportID() [16]byte {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic("node: crypto/rand failed: " + err.Error())
	}
	return id
}

// TenantUsageInfo is a tenant's current usage.
type TenantUsageInfo struct {
	Tenant string
	// Bytes and Artifacts are stored artifacts; UploadBytes the parts of
	// unfinished multipart uploads (they count against the bytes quota).
	Bytes, Artifacts, UploadBytes int64
	// MonthEgressBytes is the egress recorded this calendar month (UTC).
	MonthEgressBytes int64
}

// TenantUsage returns a tenant's current usage (ErrTenantNotFound).
func (e *Engine) TenantUsage(ctx context.Context, tenant string) (TenantUsageInfo, error) {
	if _, err := e.meta.GetTenant(ctx, tenant); err != nil {
		return TenantUsageInfo{}, adminErr(err, ErrTenantNotFound)
	}
	u, err := e.meta.TenantUsage(ctx, tenant)
	if err != nil {
		return TenantUsageInfo{}, metaErr(err)
	}
	eg, err := e.meta.MonthEgress(ctx, tenant, time.Now())
	if err != nil {
		return TenantUsageInfo{}, metaErr(err)
	}
	return TenantUsageInfo{Tenant: tenant, Bytes: u.Bytes, Artifacts: u.Artifacts, UploadBytes: u.UploadBytes, MonthEgressBytes: eg}, nil
}

// UsageHours returns a tenant's hourly usage records with Start in
// [from, to), in time order (ErrTenantNotFound).
func (e *Engine) UsageHours(ctx context.Context, tenant string, from, to time.Time) ([]tenancy.Hour, error) {
	if _, err := e.meta.GetTenant(ctx, tenant); err != nil {
		return nil, adminErr(err, ErrTenantNotFound)
	}
	hs, err := e.meta.UsageHours(ctx, tenant, from, to)
	if err != nil {
		return nil, metaErr(err)
	}
	out := make([]tenancy.Hour, len(hs))
	for i, h := range hs {
		out[i] = tenancy.Hour{
			Tenant: h.Tenant, Start: h.Start, StoredBytes: h.StoredBytes, Artifacts: h.Artifacts,
			IngressBytes: h.IngressBytes, EgressBytes: h.EgressBytes, ClassA: h.ClassA, ClassB: h.ClassB,
		}
	}
	return out, nil
}
