package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/tenancy"
)

// ErrQuotaExceeded: a write would take the tenant or the container past a
// quota of stored bytes or artifacts, or the tenant has used up its
// monthly egress. The s3 edge answers 403 QuotaExceeded. The wrapped
// message names the quota and is safe to show the tenant (it only speaks
// of the tenant's own figures).
var ErrQuotaExceeded = errors.New("node: quota exceeded")

// QuotaError is an ErrQuotaExceeded with a message for the client.
type QuotaError struct{ msg string }

func (e *QuotaError) Error() string { return "node: quota exceeded: " + e.msg }

// Unwrap makes errors.Is(err, ErrQuotaExceeded) true.
func (e *QuotaError) Unwrap() error { return ErrQuotaExceeded }

// ClientMessage is the message the s3 edge sends: which quota of the
// tenant's own, and its figures.
func (e *QuotaError) ClientMessage() string { return "Quota exceeded: " + e.msg + "." }

// quotaError builds a QuotaError from a tenancy.QuotaError found in err
// (a pre-check) for scope ("tenant", `container "x"`).
func quotaError(scope string, err error) error {
	var qe *tenancy.QuotaError
	if !errors.As(err, &qe) {
		return &QuotaError{msg: scope + " quota"}
	}
	return &QuotaError{msg: fmt.Sprintf("%s %s quota %d: %d in use + %d requested", scope, qe.Resource, qe.Limit, qe.Current, qe.Delta)}
}

// quotaFromMeta turns the state machine's refusal into a QuotaError that
// keeps its message (it names the tenant's own quota and figures).
func quotaFromMeta(err error) error {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, metastore.ErrQuotaExceeded.Error()+": "); ok {
		msg = rest
	}
	return &QuotaError{msg: msg}
}

// TenantLimits are a tenant's limits and quotas as the admin API shows
// them. Without Override the node's default request rate applies; the
// byte rates and quotas apply either way (0: unlimited).
type TenantLimits struct {
	Tenant   string
	Override bool
	Limit    tenancy.Limit
	Quota    tenancy.Quota
}

// Tenancy returns the limit the s3 edge's limiter applies to the tenant:
// ok is false when the tenant has no override of the request rate and no
// bandwidth limit (the default applies).
func (l TenantLimits) Tenancy(def tenancy.Limit) (lim tenancy.Limit, ok bool) {
	lim = def
	if l.Override {
		lim.RequestsPerSec, lim.Burst = l.Limit.RequestsPerSec, l.Limit.Burst
	}
	lim.BytesInPerSec, lim.BytesOutPerSec = l.Limit.BytesInPerSec, l.Limit.BytesOutPerSec
	return lim, l.Override || l.Limit.BytesInPerSec > 0 || l.Limit.BytesOutPerSec > 0
}

// ContainerQuota is a container's quota and usage.
type ContainerQuota struct {
	Tenant    string
	Container string
	Quota     tenancy.Quota // MaxEgressBytesPerMonth is unused
	Usage     metastore.Usage
}

func tenantLimits(s metastore.TenantSettings) TenantLimits {
	return TenantLimits{
		Tenant:   s.Tenant,
		Override: s.Limits.Override,
		Limit: tenancy.Limit{
			RequestsPerSec: s.Limits.RequestsPerSec, Burst: int(s.Limits.Burst),
			BytesInPerSec: s.Limits.BytesInPerSec, BytesOutPerSec: s.Limits.BytesOutPerSec,
		},
		Quota: tenancy.Quota{
			MaxBytes: s.Quota.MaxBytes, MaxArtifacts: s.Quota.MaxArtifacts,
			MaxEgressBytesPerMonth: s.Quota.MaxEgressBytesPerMonth,
		},
	}
}

// TenantLimits returns a tenant's limits and quotas (ErrTenantNotFound).
func (e *Engine) TenantLimits(ctx context.Context, tenant string) (TenantLimits, error) {
	if _, err := e.meta.GetTenant(ctx, tenant); err != nil {
		return TenantLimits{}, adminErr(err, ErrTenantNotFound)
	}
	s, err := e.meta.GetTenantSettings(ctx, tenant)
	if err != nil {
		return TenantLimits{}, adminErr(err, ErrTenantNotFound)
	}
	return tenantLimits(s), nil
}

// AllTenantLimits returns the limits of every tenant that has settings,
// read from this node's state without a round trip to the leader (the
// limiter refresh polls it).
func (e *Engine) AllTenantLimits(ctx context.Context) ([]TenantLimits, error) {
	all, err := e.meta.ListTenantSettings(ctx, metastore.Stale)
	if err != nil {
		return nil, metaErr(err)
	}
	out := make([]TenantLimits, len(all))
	for i, s := range all {
		out[i] = tenantLimits(s)
	}
	return out, nil
}

// SetTenantLimits replaces a tenant's request-rate override (override
// false: back to the default) and bandwidth limits, keeping its quota.
func (e *Engine) SetTenantLimits(ctx context.Context, tenant string, override bool, lim tenancy.Limit) (TenantLimits, error) {
	if err := lim.Validate(); err != nil {
		return TenantLimits{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	l := metastore.TenantLimits{
		Override: override, RequestsPerSec: lim.RequestsPerSec, Burst: int64(lim.Burst),
		BytesInPerSec: lim.BytesInPerSec, BytesOutPerSec: lim.BytesOutPerSec,
	}
	if !override {
		l.RequestsPerSec, l.Burst = 0, 0
	}
	if err := e.meta.SetTenantLimits(ctx, tenant, l); err != nil {
		return TenantLimits{}, adminErr(err, ErrTenantNotFound)
	}
	return e.TenantLimits(ctx, tenant)
}

// SetTenantQuota replaces a tenant's quota, keeping its limits.
func (e *Engine) SetTenantQuota(ctx context.Context, tenant string, q tenancy.Quota) (TenantLimits, error) {
	if err := q.Validate(); err != nil {
		return TenantLimits{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	err := e.meta.SetTenantQuota(ctx, tenant, metastore.TenantQuota{
		MaxBytes: q.MaxBytes, MaxArtifacts: q.MaxArtifacts, MaxEgressBytesPerMonth: q.MaxEgressBytesPerMonth,
	})
	if err != nil {
		return TenantLimits{}, adminErr(err, ErrTenantNotFound)
	}
	return e.TenantLimits(ctx, tenant)
}

// ContainerQuota returns a container's quota and usage
// (ErrContainerNotFound).
func (e *Engine) ContainerQuota(ctx context.Context, tenant, container string) (ContainerQuota, error) {
	c, err := e.meta.GetContainer(ctx, tenant, container)
	if err != nil {
		return ContainerQuota{}, adminErr(err, nil)
	}
	u, err := e.meta.ContainerUsage(ctx, tenant, container)
	if err != nil {
		return ContainerQuota{}, adminErr(err, nil)
	}
	return ContainerQuota{
		Tenant: tenant, Container: container, Usage: u,
		Quota: tenancy.Quota{MaxBytes: c.QuotaBytes, MaxArtifacts: c.QuotaArtifacts},
	}, nil
}

// SetContainerQuota sets a container's bytes and artifact quotas (0:
// unlimited; MaxEgressBytesPerMonth must be 0).
func (e *Engine) SetContainerQuota(ctx context.Context, tenant, container string, q tenancy.Quota) (ContainerQuota, error) {
	if err := q.Validate(); err != nil {
		return ContainerQuota{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if q.MaxEgressBytesPerMonth != 0 {
		return ContainerQuota{}, fmt.Errorf("%w: egress quotas are per tenant", ErrInvalidArgument)
	}
	if err := e.meta.SetContainerQuota(ctx, tenant, container, q.MaxBytes, q.MaxArtifacts); err != nil {
		return ContainerQuota{}, adminErr(err, nil)
	}
	return e.ContainerQuota(ctx, tenant, container)
}

// CheckWriteQuota is the cheap check before a write moves any bytes: it
// refuses (ErrQuotaExceeded) when the write's declared size alone would
// take the tenant or the container past a bytes quota, or a new artifact
// past an artifact quota, given usage as this node sees it now. key names
// the artifact a single PUT replaces (its current size is subtracted);
// key "" is a multipart part (bytes only). A negative size (unknown
// length) checks that one more byte fits. It reads local state (no leader
// round trip) first, so usage may be a moment old: the state machine
// decides again, exactly, when the record commits. A refusal on local
// state is confirmed with linearizable reads before it is returned, so a
// delete or a raised quota committed through another node a moment ago
// never causes a false QuotaExceeded here; only the refusing path pays the
// leader round trip.
func (e *Engine) CheckWriteQuota(ctx context.Context, tenant, container, key string, size int64) error {
	err := e.checkWriteQuota(ctx, tenant, container, key, size, metastore.Stale)
	if errors.Is(err, ErrQuotaExceeded) {
		err = e.checkWriteQuota(ctx, tenant, container, key, size)
	}
	return err
}

var errNothingReplaced = errors.New("node: the write replaces nothing")

func (e *Engine) checkWriteQuota(ctx context.Context, tenant, container, key string, size int64, opts ...metastore.ReadOption) error {
	s, err := e.meta.GetTenantSettings(ctx, tenant, opts...)
	if err != nil {
		return metaErr(err)
	}
	c, err := e.meta.GetContainer(ctx, tenant, container, opts...)
	if err != nil {
		return nil // the write itself reports a missing container
	}
	tq := tenancy.Quota{MaxBytes: s.Quota.MaxBytes, MaxArtifacts: s.Quota.MaxArtifacts}
	cq := tenancy.Quota{MaxBytes: c.QuotaBytes, MaxArtifacts: c.QuotaArtifacts}
	if tq == (tenancy.Quota{}) && cq == (tenancy.Quota{}) {
		return nil
	}
	dBytes, dCount := size, int64(0)
	if size < 0 {
		dBytes = 1
	}
	if key != "" {
		// What the write would replace, as the state machine decides it:
		// the current artifact without versioning, the null version while
		// versioning is suspended, nothing while it is enabled.
		dCount = 1
		var cur metastore.Artifact
		err := errNothingReplaced
		switch c.VersioningState {
		case "":
			cur, err = e.meta.GetArtifact(ctx, tenant, container, key, opts...)
		case metastore.VersioningSuspended:
			cur, err = e.meta.GetVersion(ctx, tenant, container, key, metastore.NullVersion, opts...)
		}
		if err == nil && !cur.DeleteMarker {
			dCount = 0
			if size >= 0 {
				dBytes -= cur.Size
			}
		}
	}
	if tq != (tenancy.Quota{}) {
		u, err := e.meta.TenantUsage(ctx, tenant, opts...)
		if err != nil {
			return metaErr(err)
		}
		if err := tenancy.CheckWrite(tq, tenancy.Usage{Bytes: u.Bytes + u.UploadBytes, Artifacts: u.Artifacts}, dBytes, dCount); err != nil {
			return quotaError("tenant", err)
		}
	}
	if cq != (tenancy.Quota{}) {
		u, err := e.meta.ContainerUsage(ctx, tenant, container, opts...)
		if err != nil {
			return metaErr(err)
		}
		if err := tenancy.CheckWrite(cq, tenancy.Usage{Bytes: u.Bytes + u.UploadBytes, Artifacts: u.Artifacts}, dBytes, dCount); err != nil {
			return quotaError(fmt.Sprintf("container %q", container), err)
		}
	}
	return nil
}

// CheckEgressQuota refuses a read (ErrQuotaExceeded) once the tenant's
// recorded egress of the current calendar month (UTC) has reached its
// monthly egress quota. Egress is recorded when nodes report their meters
// (every few seconds), so it lags: the read that crosses the quota is
// served in full, and reads in flight or not yet reported may add a
// little more before the refusals start.
func (e *Engine) CheckEgressQuota(ctx context.Context, tenant string) error {
	s, err := e.meta.GetTenantSettings(ctx, tenant, metastore.Stale)
	if err != nil {
		return metaErr(err)
	}
	limit := s.Quota.MaxEgressBytesPerMonth
	if limit <= 0 {
		return nil
	}
	used, err := e.meta.MonthEgress(ctx, tenant, time.Now(), metastore.Stale)
	if err != nil {
		return metaErr(err)
	}
	if used >= limit {
		return &QuotaError{msg: fmt.Sprintf("tenant monthly egress quota %d bytes: %d bytes served this month", limit, used)}
	}
	return nil
}
