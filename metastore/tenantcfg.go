package metastore

import (
	"context"
	"fmt"
	"math"
)

// This file holds per-tenant settings (rate and bandwidth limits, quotas),
// container quotas, and the quota rule the state machine applies to every
// write that adds stored bytes or artifacts (see doc.go, "Quotas").

// TenantLimits is a tenant's rate-limit override. Without an override
// (Override false) the serving node's default request rate applies; with
// one, RequestsPerSec and Burst replace it (RequestsPerSec 0: unlimited).
// BytesInPerSec and BytesOutPerSec shape artifact bytes (0: unlimited).
// The rates are cluster-wide; each node enforces its share.
type TenantLimits struct {
	Override       bool
	RequestsPerSec float64
	Burst          int64
	BytesInPerSec  int64
	BytesOutPerSec int64
}

// TenantQuota is a tenant's hard limits; 0 means unlimited.
type TenantQuota struct {
	// MaxBytes bounds stored bytes: artifacts plus the uploaded parts of
	// unfinished multipart uploads (Usage.Bytes + Usage.UploadBytes).
	MaxBytes int64
	// MaxArtifacts bounds the number of artifacts.
	MaxArtifacts int64
	// MaxEgressBytesPerMonth bounds bytes served in one calendar month
	// (UTC). The state machine does not decide it (reads are not
	// commands): the serving node checks it against MonthEgress.
	MaxEgressBytesPerMonth int64
}

// TenantSettings are a tenant's limits and quotas, replicated like every
// other record. A tenant that never had settings has the zero value.
type TenantSettings struct {
	Tenant string
	Limits TenantLimits
	Quota  TenantQuota
}

func encodeTenantSettings(s TenantSettings) []byte {
	e := encoder{b: make([]byte, 0, 64+len(s.Tenant))}
	e.u8(recordV1)
	e.str(s.Tenant)
	writeTenantLimits(&e, s.Limits)
	writeTenantQuota(&e, s.Quota)
	return e.b
}

func decodeTenantSettings(b []byte) (TenantSettings, error) {
	d := decoder{b: b}
	var s TenantSettings
	if v := d.u8(); v != recordV1 && d.err == nil {
		return s, corrupt("tenant settings", fmt.Errorf("unknown version %d", v))
	}
	s.Tenant = d.str()
	s.Limits = readTenantLimits(&d)
	s.Quota = readTenantQuota(&d)
	if err := d.done(); err != nil {
		return TenantSettings{}, corrupt("tenant settings", err)
	}
	return s, nil
}

func writeTenantLimits(e *encoder, l TenantLimits) {
	e.bool(l.Override)
	e.uvarint(math.Float64bits(l.RequestsPerSec))
	e.varint(l.Burst)
	e.varint(l.BytesInPerSec)
	e.varint(l.BytesOutPerSec)
}

func readTenantLimits(d *decoder) TenantLimits {
	return TenantLimits{
		Override:       d.bool(),
		RequestsPerSec: math.Float64frombits(d.uvarint()),
		Burst:          d.varint(),
		BytesInPerSec:  d.varint(),
		BytesOutPerSec: d.varint(),
	}
}

func writeTenantQuota(e *encoder, q TenantQuota) {
	e.varint(q.MaxBytes)
	e.varint(q.MaxArtifacts)
	e.varint(q.MaxEgressBytesPerMonth)
}

func readTenantQuota(d *decoder) TenantQuota {
	return TenantQuota{MaxBytes: d.varint(), MaxArtifacts: d.varint(), MaxEgressBytesPerMonth: d.varint()}
}

func checkTenantLimits(l TenantLimits) error {
	r := l.RequestsPerSec
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || l.Burst < 0 || l.BytesInPerSec < 0 || l.BytesOutPerSec < 0 {
		return fmt.Errorf("%w: limits must be finite and >= 0", ErrInvalidArgument)
	}
	return nil
}

func checkQuotaValues(vs ...int64) error {
	for _, v := range vs {
		if v < 0 {
			return fmt.Errorf("%w: quotas must be >= 0", ErrInvalidArgument)
		}
	}
	return nil
}

func tenantCfgKey(tenant string) []byte {
	return append(tableKey(tblTenantCfg, len(tenant)), tenant...)
}

// --- commands ---

// setTenantLimitsCmd replaces an existing tenant's limits (ErrNotFound),
// keeping its quota.
type setTenantLimitsCmd struct {
	tenant string
	l      TenantLimits
}

func (c *setTenantLimitsCmd) write(e *encoder) { e.str(c.tenant); writeTenantLimits(e, c.l) }
func decodeSetTenantLimits(d *decoder) commandBody {
	return &setTenantLimitsCmd{tenant: d.str(), l: readTenantLimits(d)}
}

// setTenantQuotaCmd replaces an existing tenant's quota (ErrNotFound),
// keeping its limits. Lowering a quota below current usage is allowed:
// later writes that add usage fail, shrinking ones pass.
type setTenantQuotaCmd struct {
	tenant string
	q      TenantQuota
}

func (c *setTenantQuotaCmd) write(e *encoder) { e.str(c.tenant); writeTenantQuota(e, c.q) }
func decodeSetTenantQuota(d *decoder) commandBody {
	return &setTenantQuotaCmd{tenant: d.str(), q: readTenantQuota(d)}
}

// setContainerQuotaCmd sets only the quota fields of an existing container
// (ErrContainerNotFound), so it cannot race with other settings changes.
type setContainerQuotaCmd struct {
	tenant, name     string
	bytes, artifacts int64
}

func (c *setContainerQuotaCmd) write(e *encoder) {
	e.str(c.tenant)
	e.str(c.name)
	e.varint(c.bytes)
	e.varint(c.artifacts)
}

func decodeSetContainerQuota(d *decoder) commandBody {
	return &setContainerQuotaCmd{tenant: d.str(), name: d.str(), bytes: d.varint(), artifacts: d.varint()}
}

func (t *txn) tenantSettings(tenant string) (TenantSettings, error) {
	v := t.get(tenantCfgKey(tenant))
	if v == nil {
		return TenantSettings{Tenant: tenant}, nil
	}
	return decodeTenantSettings(v)
}

func (t *txn) updateTenantSettings(tenant string, change func(*TenantSettings)) result {
	if err := checkName("tenant", tenant); err != nil {
		return errResult(err)
	}
	if !t.has(tenantKey(tenant)) {
		return errResult(fmt.Errorf("%w: tenant %q", ErrNotFound, tenant))
	}
	s, err := t.tenantSettings(tenant)
	if err != nil {
		return errResult(err)
	}
	change(&s)
	t.set(tenantCfgKey(tenant), encodeTenantSettings(s))
	return okResult(nil)
}

func (c *setTenantLimitsCmd) apply(t *txn) result {
	if err := checkTenantLimits(c.l); err != nil {
		return errResult(err)
	}
	return t.updateTenantSettings(c.tenant, func(s *TenantSettings) { s.Limits = c.l })
}

func (c *setTenantQuotaCmd) apply(t *txn) result {
	if err := checkQuotaValues(c.q.MaxBytes, c.q.MaxArtifacts, c.q.MaxEgressBytesPerMonth); err != nil {
		return errResult(err)
	}
	return t.updateTenantSettings(c.tenant, func(s *TenantSettings) { s.Quota = c.q })
}

func (c *setContainerQuotaCmd) apply(t *txn) result {
	if err := checkQuotaValues(c.bytes, c.artifacts); err != nil {
		return errResult(err)
	}
	cur, err := t.container(c.tenant, c.name)
	if err != nil {
		return errResult(err)
	}
	if cur == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, c.name))
	}
	next := *cur
	next.QuotaBytes, next.QuotaArtifacts = c.bytes, c.artifacts
	t.set(containerKey(c.tenant, c.name), encodeContainer(next))
	return okResult(nil)
}

// --- the quota rule ---

// checkQuota decides whether a write that changes the stored bytes (of
// artifacts and uploaded parts together) by dBytes and the artifact count
// by dArtifacts may apply, against the tenant's quota and the container's
// (cont; nil skips it). Per resource: a limit of 0 is unlimited, a change
// <= 0 always passes (shrinking never fails, even over a lowered quota),
// else usage+change must be <= limit: exactly at the limit passes, one
// byte over fails. The state machine applies commands one at a time, so
// concurrent writes on different nodes cannot both slip under a limit.
func (t *txn) checkQuota(tenant string, cont *Container, dBytes, dArtifacts int64) error {
	if dBytes <= 0 && dArtifacts <= 0 {
		return nil
	}
	s, err := t.tenantSettings(tenant)
	if err != nil {
		return err
	}
	if s.Quota.MaxBytes > 0 || s.Quota.MaxArtifacts > 0 {
		u, err := t.usage(tenantUsageKey(tenant))
		if err != nil {
			return err
		}
		if err := quotaRule("tenant", tenant, "bytes", s.Quota.MaxBytes, u.Bytes+u.UploadBytes, dBytes); err != nil {
			return err
		}
		if err := quotaRule("tenant", tenant, "artifacts", s.Quota.MaxArtifacts, u.Artifacts, dArtifacts); err != nil {
			return err
		}
	}
	if cont != nil && (cont.QuotaBytes > 0 || cont.QuotaArtifacts > 0) {
		u, err := t.usage(containerUsageKey(tenant, cont.Name))
		if err != nil {
			return err
		}
		if err := quotaRule("container", cont.Name, "bytes", cont.QuotaBytes, u.Bytes+u.UploadBytes, dBytes); err != nil {
			return err
		}
		if err := quotaRule("container", cont.Name, "artifacts", cont.QuotaArtifacts, u.Artifacts, dArtifacts); err != nil {
			return err
		}
	}
	return nil
}

func quotaRule(scope, name, resource string, limit, cur, delta int64) error {
	if limit <= 0 || delta <= 0 {
		return nil
	}
	if c := max(cur, 0); c <= limit && delta <= limit-c {
		return nil
	}
	return fmt.Errorf("%w: %s %q %s quota %d: %d in use + %d requested", ErrQuotaExceeded, scope, name, resource, limit, cur, delta)
}

// --- Store API ---

// SetTenantLimits replaces an existing tenant's rate and bandwidth limits
// (ErrNotFound).
func (s *Store) SetTenantLimits(ctx context.Context, tenant string, l TenantLimits) error {
	if err := checkName("tenant", tenant); err != nil {
		return err
	}
	if err := checkTenantLimits(l); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdSetTenantLimits, &setTenantLimitsCmd{tenant: tenant, l: l})
	return err
}

// SetTenantQuota replaces an existing tenant's quota (ErrNotFound).
func (s *Store) SetTenantQuota(ctx context.Context, tenant string, q TenantQuota) error {
	if err := checkName("tenant", tenant); err != nil {
		return err
	}
	if err := checkQuotaValues(q.MaxBytes, q.MaxArtifacts, q.MaxEgressBytesPerMonth); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdSetTenantQuota, &setTenantQuotaCmd{tenant: tenant, q: q})
	return err
}

// SetContainerQuota sets a container's QuotaBytes and QuotaArtifacts (0:
// unlimited) and nothing else (ErrContainerNotFound).
func (s *Store) SetContainerQuota(ctx context.Context, tenant, container string, maxBytes, maxArtifacts int64) error {
	if err := checkName("tenant", tenant); err != nil {
		return err
	}
	if err := checkName("container", container); err != nil {
		return err
	}
	if err := checkQuotaValues(maxBytes, maxArtifacts); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdSetContainerQuota, &setContainerQuotaCmd{tenant: tenant, name: container, bytes: maxBytes, artifacts: maxArtifacts})
	return err
}

// GetTenantSettings returns a tenant's settings; a tenant without any (or
// an unknown tenant) has the zero settings.
func (s *Store) GetTenantSettings(ctx context.Context, tenant string, opts ...ReadOption) (TenantSettings, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return TenantSettings{}, err
	}
	defer end()
	v, err := s.fsm.hot.get(s.db, tenantCfgKey(tenant))
	if err != nil {
		return TenantSettings{}, err
	}
	if v == nil {
		return TenantSettings{Tenant: tenant}, nil
	}
	return decodeTenantSettings(v)
}

// ListTenantSettings returns the settings of every tenant that has any,
// ordered by tenant id.
func (s *Store) ListTenantSettings(ctx context.Context, opts ...ReadOption) ([]TenantSettings, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	return scan(s.db, []byte{prefixFSM, tblTenantCfg}, decodeTenantSettings)
}
