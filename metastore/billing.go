package metastore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// This file holds what billing replicates (see doc.go, "Billing"): the
// assignment of a plan to a tenant with the limits it brings, and each
// tenant's account with the payment provider (customer, subscription,
// payment status, the usage already reported), plus the provider events
// already applied, so a replayed or retried webhook applies at most once.

// BillingAccount is a tenant's account with the payment provider.
type BillingAccount struct {
	Tenant         string
	CustomerID     string
	SubscriptionID string
	// SubscriptionPlan is the plan whose prices the subscription has.
	SubscriptionPlan string
	// Status is the provider's view: "" (none yet), "active", "past_due"
	// or "canceled".
	Status string
	// PastDueSince is when a payment first failed (zero when paid up).
	PastDueSince time.Time
	// SuspendedByBilling: billing suspended the tenant for non-payment,
	// and resumes it when an invoice is paid (an operator's suspension is
	// never lifted by billing).
	SuspendedByBilling bool
	// PushedThrough: the usage of every hour before it has been reported
	// to the provider.
	PushedThrough time.Time
	Updated       time.Time
}

// BillingChange changes some fields of a tenant's BillingAccount: each
// Set flag selects its fields, so concurrent changes of different fields
// do not overwrite each other.
type BillingChange struct {
	Tenant string

	SetCustomer      bool
	CustomerID       string
	SubscriptionID   string
	SubscriptionPlan string

	SetStatus    bool
	Status       string
	PastDueSince time.Time

	SetSuspended bool
	Suspended    bool

	// EventID, when set, names the provider event this change applies:
	// a change whose event was applied before is refused with ErrExists
	// and changes nothing. EventCreated is the event's own time (from its
	// signed payload); the event is remembered for webhookEventRetention
	// after it.
	EventID      string
	EventCreated time.Time
}

// webhookEventRetention is how long applied provider events are
// remembered: past Stripe's retry period (3 days), with margin.
const webhookEventRetention = 7 * 24 * time.Hour

// maxEventPrune bounds the expired events one command removes.
const maxEventPrune = 256

func billingKey(tenant string) []byte {
	return append(tableKey(tblBilling, len(tenant)), tenant...)
}

func eventSeenKey(created int64, id string) []byte {
	return append(binary.BigEndian.AppendUint64(tableKey(tblEventSeen, 8+len(id)), uint64(max(created, 0))), id...)
}

func writeBillingAccount(e *encoder, a BillingAccount) {
	e.str(a.Tenant)
	e.str(a.CustomerID)
	e.str(a.SubscriptionID)
	e.str(a.SubscriptionPlan)
	e.str(a.Status)
	e.time(a.PastDueSince)
	e.bool(a.SuspendedByBilling)
	e.time(a.PushedThrough)
	e.time(a.Updated)
}

func readBillingAccount(d *decoder) BillingAccount {
	return BillingAccount{Tenant: d.str(), CustomerID: d.str(), SubscriptionID: d.str(), SubscriptionPlan: d.str(), Status: d.str(),
		PastDueSince: d.time(), SuspendedByBilling: d.bool(), PushedThrough: d.time(), Updated: d.time()}
}

func encodeBillingAccount(a BillingAccount) []byte {
	e := encoder{b: make([]byte, 0, 64+len(a.Tenant)+len(a.CustomerID)+len(a.SubscriptionID))}
	e.u8(recordV1)
	writeBillingAccount(&e, a)
	return e.b
}

func decodeBillingAccount(b []byte) (BillingAccount, error) {
	d := decoder{b: b}
	if v := d.u8(); v != recordV1 && d.err == nil {
		return BillingAccount{}, corrupt("billing account", fmt.Errorf("unknown version %d", v))
	}
	a := readBillingAccount(&d)
	if err := d.done(); err != nil {
		return BillingAccount{}, corrupt("billing account", err)
	}
	return a, nil
}

func (t *txn) billingAccount(tenant string) (BillingAccount, error) {
	v := t.get(billingKey(tenant))
	if v == nil {
		return BillingAccount{Tenant: tenant}, nil
	}
	return decodeBillingAccount(v)
}

// --- commands ---

// assignPlanCmd sets an existing tenant's plan (ErrNotFound) together with
// the limits and quota the plan brings, in one step.
type assignPlanCmd struct {
	tenant, plan string
	limits       TenantLimits
	quota        TenantQuota
}

func (c *assignPlanCmd) write(e *encoder) {
	e.str(c.tenant)
	e.str(c.plan)
	writeTenantLimits(e, c.limits)
	writeTenantQuota(e, c.quota)
}

func decodeAssignPlan(d *decoder) commandBody {
	return &assignPlanCmd{tenant: d.str(), plan: d.str(), limits: readTenantLimits(d), quota: readTenantQuota(d)}
}

func (c *assignPlanCmd) apply(t *txn) result {
	if err := checkName("plan", c.plan); err != nil {
		return errResult(err)
	}
	if err := checkTenantLimits(c.limits); err != nil {
		return errResult(err)
	}
	if err := checkQuotaValues(c.quota.MaxBytes, c.quota.MaxArtifacts, c.quota.MaxEgressBytesPerMonth); err != nil {
		return errResult(err)
	}
	v := t.get(tenantKey(c.tenant))
	if v == nil {
		return errResult(fmt.Errorf("%w: tenant %q", ErrNotFound, c.tenant))
	}
	ten, err := decodeTenant(v)
	if err != nil {
		return errResult(err)
	}
	ten.Plan = c.plan
	t.set(tenantKey(c.tenant), encodeTenant(ten))
	return t.updateTenantSettings(c.tenant, func(s *TenantSettings) { s.Limits, s.Quota = c.limits, c.quota })
}

// updateBillingCmd applies a BillingChange to an existing tenant's account
// (ErrNotFound); with an event id, at most once (ErrExists).
type updateBillingCmd struct {
	ch  BillingChange
	now int64 // Unix ns, the proposer's
}

func (c *updateBillingCmd) write(e *encoder) {
	ch := &c.ch
	e.str(ch.Tenant)
	e.bool(ch.SetCustomer)
	e.str(ch.CustomerID)
	e.str(ch.SubscriptionID)
	e.str(ch.SubscriptionPlan)
	e.bool(ch.SetStatus)
	e.str(ch.Status)
	e.time(ch.PastDueSince)
	e.bool(ch.SetSuspended)
	e.bool(ch.Suspended)
	e.str(ch.EventID)
	e.time(ch.EventCreated)
	e.varint(c.now)
}

func decodeUpdateBilling(d *decoder) commandBody {
	var ch BillingChange
	ch.Tenant = d.str()
	ch.SetCustomer = d.bool()
	ch.CustomerID = d.str()
	ch.SubscriptionID = d.str()
	ch.SubscriptionPlan = d.str()
	ch.SetStatus = d.bool()
	ch.Status = d.str()
	ch.PastDueSince = d.time()
	ch.SetSuspended = d.bool()
	ch.Suspended = d.bool()
	ch.EventID = d.str()
	ch.EventCreated = d.time()
	return &updateBillingCmd{ch: ch, now: d.varint()}
}

func (c *updateBillingCmd) apply(t *txn) result {
	ch := c.ch
	if err := checkName("tenant", ch.Tenant); err != nil {
		return errResult(err)
	}
	if len(ch.EventID) > maxNameLen || len(ch.CustomerID) > maxNameLen || len(ch.SubscriptionID) > maxNameLen ||
		len(ch.SubscriptionPlan) > maxNameLen || len(ch.Status) > 32 {
		return errResult(fmt.Errorf("%w: billing field too long", ErrInvalidArgument))
	}
	if !t.has(tenantKey(ch.Tenant)) {
		return errResult(fmt.Errorf("%w: tenant %q", ErrNotFound, ch.Tenant))
	}
	if ch.EventID != "" {
		k := eventSeenKey(ch.EventCreated.Unix(), ch.EventID)
		if t.has(k) {
			return errResult(fmt.Errorf("%w: event %q already applied", ErrExists, ch.EventID))
		}
		// Forget events past the retention (they sort by time).
		p := tableKey(tblEventSeen, 0)
		horizon := time.Unix(0, c.now).Add(-webhookEventRetention).Unix()
		it := t.iter(p, eventSeenKey(horizon, ""))
		n := 0
		for ok := it.First(); ok && n < maxEventPrune; ok = it.Next() {
			t.del(append([]byte(nil), it.Key()...))
			n++
		}
		mustOK(it.Close())
		t.set(k, nil)
	}
	a, err := t.billingAccount(ch.Tenant)
	if err != nil {
		return errResult(err)
	}
	if ch.SetCustomer {
		a.CustomerID, a.SubscriptionID, a.SubscriptionPlan = ch.CustomerID, ch.SubscriptionID, ch.SubscriptionPlan
	}
	if ch.SetStatus {
		a.Status, a.PastDueSince = ch.Status, ch.PastDueSince
	}
	if ch.SetSuspended {
		a.SuspendedByBilling = ch.Suspended
	}
	a.Updated = time.Unix(0, c.now).UTC()
	t.set(billingKey(ch.Tenant), encodeBillingAccount(a))
	return okResult(nil)
}

// setUsagePushedCmd raises an existing tenant's PushedThrough (never
// lowers it: a slower, older push cannot undo a newer one).
type setUsagePushedCmd struct {
	tenant  string
	through int64 // Unix s
	now     int64 // Unix ns
}

func (c *setUsagePushedCmd) write(e *encoder) { e.str(c.tenant); e.varint(c.through); e.varint(c.now) }
func decodeSetUsagePushed(d *decoder) commandBody {
	return &setUsagePushedCmd{tenant: d.str(), through: d.varint(), now: d.varint()}
}

func (c *setUsagePushedCmd) apply(t *txn) result {
	if err := checkName("tenant", c.tenant); err != nil {
		return errResult(err)
	}
	if !t.has(tenantKey(c.tenant)) {
		return errResult(fmt.Errorf("%w: tenant %q", ErrNotFound, c.tenant))
	}
	a, err := t.billingAccount(c.tenant)
	if err != nil {
		return errResult(err)
	}
	through := time.Unix(c.through, 0).UTC()
	if !through.After(a.PushedThrough) {
		return okResult(nil)
	}
	a.PushedThrough = through
	a.Updated = time.Unix(0, c.now).UTC()
	t.set(billingKey(c.tenant), encodeBillingAccount(a))
	return okResult(nil)
}

// --- Store API ---

// AssignPlan sets a tenant's plan and, in the same step, its limits and
// quota (ErrNotFound).
func (s *Store) AssignPlan(ctx context.Context, tenant, plan string, l TenantLimits, q TenantQuota) error {
	if err := checkName("tenant", tenant); err != nil {
		return err
	}
	if err := checkName("plan", plan); err != nil {
		return err
	}
	if err := checkTenantLimits(l); err != nil {
		return err
	}
	if err := checkQuotaValues(q.MaxBytes, q.MaxArtifacts, q.MaxEgressBytesPerMonth); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdAssignPlan, &assignPlanCmd{tenant: tenant, plan: plan, limits: l, quota: q})
	return err
}

// UpdateBilling applies ch to its tenant's billing account at now
// (ErrNotFound; ErrExists when ch names an event applied before).
func (s *Store) UpdateBilling(ctx context.Context, ch BillingChange, now time.Time) error {
	if err := checkName("tenant", ch.Tenant); err != nil {
		return err
	}
	_, err := s.writeWithID(ctx, cmdUpdateBilling, newRequestID(), now, &updateBillingCmd{ch: ch, now: now.UnixNano()})
	return err
}

// SetUsagePushed records that the tenant's usage before through has been
// reported to the payment provider (it only moves forward).
func (s *Store) SetUsagePushed(ctx context.Context, tenant string, through, now time.Time) error {
	if err := checkName("tenant", tenant); err != nil {
		return err
	}
	_, err := s.writeWithID(ctx, cmdSetUsagePushed, newRequestID(), now,
		&setUsagePushedCmd{tenant: tenant, through: through.Unix(), now: now.UnixNano()})
	return err
}

// GetBillingAccount returns a tenant's billing account (the zero account,
// named, when it has none).
func (s *Store) GetBillingAccount(ctx context.Context, tenant string, opts ...ReadOption) (BillingAccount, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return BillingAccount{}, err
	}
	defer end()
	v, err := getCopy(s.db, billingKey(tenant))
	if err != nil {
		return BillingAccount{}, err
	}
	if v == nil {
		return BillingAccount{Tenant: tenant}, nil
	}
	return decodeBillingAccount(v)
}

// ListBillingAccounts returns every billing account by tenant.
func (s *Store) ListBillingAccounts(ctx context.Context, opts ...ReadOption) ([]BillingAccount, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	return scan(s.db, tableKey(tblBilling, 0), decodeBillingAccount)
}
