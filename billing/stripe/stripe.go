// Package stripe connects Vaultaire's billing to Stripe through the
// official client (github.com/stripe/stripe-go/v82). It is optional: it
// runs only when an API key is configured.
//
// Syncer runs on the metadata Raft leader. Every Interval it:
//
//   - gives every tenant on a plan with stripe_prices a customer and a
//     subscription with those metered prices (idempotency keys
//     "vaultaire-customer-<tenant>" and "vaultaire-subscription-<tenant>-<plan>"),
//     and cancels the subscription of a tenant moved to a plan without
//     them (or replaces it when the tenant moves to another paid plan);
//   - reports each complete hour of usage (billing.MeterValues) as meter
//     events, one per line item with a value, with identifier and
//     Idempotency-Key "vaultaire-<tenant>-<hour unix>-<item>": a retry, a
//     crash between the push and its record, or a leader change that
//     pushes the same hour again sends the same keys, and Stripe counts it
//     once. An hour is pushed once it ended SettleDelay ago (so every node
//     reported it), and recorded as pushed (metastore SetUsagePushed) only
//     when every event of it was accepted;
//   - enforces payment state: a tenant past due longer than Grace is
//     suspended (and marked suspended by billing), a paid-up one that
//     billing suspended is resumed, a canceled subscription moves the
//     tenant to the free plan.
//
// Webhook verifies Stripe's signature scheme (Stripe-Signature: t=<unix>,
// v1=<hex HMAC-SHA256 of "t.payload" under the endpoint's secret>) with a
// tolerance of 5 minutes, and records invoice.paid, invoice.payment_failed
// and customer.subscription.deleted in the tenant's billing account
// together with the event id, in one Raft command: an event applies at
// most once, and a replayed one is refused (409). The effects (suspend,
// resume, downgrade) then follow from the recorded state, at once and on
// every later pass of the Syncer. Every action is audited
// (Operation "Billing:...").
package stripe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	sg "github.com/stripe/stripe-go/v82"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/tenancy"
)

// Defaults of Config.
const (
	DefaultInterval    = time.Minute
	DefaultGrace       = 72 * time.Hour
	DefaultSettleDelay = 15 * time.Minute
	// maxHoursPerPass bounds the hours pushed per tenant per pass.
	maxHoursPerPass = 48
	// meterHorizon: Stripe accepts meter events of the past 35 days; older
	// hours are skipped (and logged) rather than retried for ever.
	meterHorizon = 34 * 24 * time.Hour
)

// MeterEvents names the Stripe meter (event_name) of each line item.
var MeterEvents = map[string]string{
	billing.ItemStorage: "vaultaire_storage_micro_gb_months",
	billing.ItemClassA:  "vaultaire_class_a_requests",
	billing.ItemClassB:  "vaultaire_class_b_requests",
	billing.ItemEgress:  "vaultaire_egress_bytes",
}

// Engine is what the Syncer and the webhook need of a node.
type Engine interface {
	IsMetaLeader() bool
	ListTenants(ctx context.Context) ([]node.TenantInfo, error)
	GetTenant(ctx context.Context, id string) (node.TenantInfo, error)
	SetTenantState(ctx context.Context, id, state string) (node.TenantInfo, error)
	AssignPlan(ctx context.Context, tenant, plan string, override bool, lim tenancy.Limit, q tenancy.Quota) (node.TenantInfo, error)
	UsageHours(ctx context.Context, tenant string, from, to time.Time) ([]tenancy.Hour, error)
	BillingAccount(ctx context.Context, tenant string) (node.BillingAccount, error)
	BillingAccounts(ctx context.Context) ([]node.BillingAccount, error)
	UpdateBilling(ctx context.Context, ch node.BillingChange) error
	SetUsagePushed(ctx context.Context, tenant string, through time.Time) error
}

// Config configures the Stripe connection.
type Config struct {
	APIKey        string
	WebhookSecret string
	// APIURL replaces Stripe's API address (stripe-mock, tests).
	APIURL     string
	HTTPClient *http.Client
	Plans      billing.Catalog
	Engine     Engine
	// Grace is how long a tenant may stay past due before suspension.
	Grace       time.Duration
	Interval    time.Duration
	SettleDelay time.Duration
	// LimitsChanged tells this node's limiter that a plan changed.
	LimitsChanged func(ctx context.Context)
	NodeID        string
	Audit         *audit.Logger
	Logger        *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Syncer keeps Stripe and the cluster's billing state in step.
type Syncer struct {
	cfg    Config
	client *sg.Client
	log    *slog.Logger
	mu     sync.Mutex // one pass at a time
}

// New returns a Syncer; the key is required.
func New(cfg Config) (*Syncer, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("stripe: no API key")
	}
	if cfg.Engine == nil {
		return nil, errors.New("stripe: no Engine")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.SettleDelay <= 0 {
		cfg.SettleDelay = DefaultSettleDelay
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Plans.Plans) == 0 {
		cfg.Plans = billing.DefaultCatalog()
	}
	retries := int64(0) // a failed call is retried by the next pass, with the same keys
	bc := &sg.BackendConfig{HTTPClient: cfg.HTTPClient, MaxNetworkRetries: &retries, LeveledLogger: &sg.LeveledLogger{Level: sg.LevelNull}}
	if cfg.APIURL != "" {
		bc.URL = sg.String(cfg.APIURL)
	}
	return &Syncer{cfg: cfg, client: sg.NewClient(cfg.APIKey, sg.WithBackends(sg.NewBackendsWithConfig(bc))), log: cfg.Logger}, nil
}

// Run runs passes every Interval while this node leads, until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !s.cfg.Engine.IsMetaLeader() {
				continue
			}
			if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("billing pass incomplete; the next one retries", "err", err)
			}
		}
	}
}

func (s *Syncer) audit(op, tenant string, status int, code string) {
	if s.cfg.Audit == nil {
		return
	}
	s.cfg.Audit.Emit(audit.Event{RequestID: "bil-" + strconv.FormatInt(s.cfg.Now().UnixNano(), 36), Node: s.cfg.NodeID,
		Tenant: tenant, Operation: "Billing:" + op, Status: status, ErrorCode: code, Admin: true})
}

// Pass runs one round: accounts, usage, payment state. It returns the
// first error but goes on with the other tenants.
func (s *Syncer) Pass(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, err := s.cfg.Engine.ListTenants(ctx)
	if err != nil {
		return err
	}
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, t := range ts {
		if t.ID == node.RootTenant {
			continue
		}
		// Payment state first: a subscription Stripe ended moves the
		// tenant to the free plan before anything would renew it.
		if err := s.Reconcile(ctx, t.ID); err != nil {
			keep(err)
			continue
		}
		if t, err = s.cfg.Engine.GetTenant(ctx, t.ID); err != nil {
			keep(err)
			continue
		}
		a, err := s.cfg.Engine.BillingAccount(ctx, t.ID)
		if err != nil {
			keep(err)
			continue
		}
		if plan, paid := s.paidPlan(t.Plan); paid {
			if a.SubscriptionID != "" && a.SubscriptionPlan != plan.Name {
				// Another paid plan: its prices need a subscription of their own.
				if err := s.cancel(ctx, t.ID, a); err != nil {
					keep(err)
					continue
				}
				if a, err = s.cfg.Engine.BillingAccount(ctx, t.ID); err != nil {
					keep(err)
					continue
				}
			}
			if a, err = s.ensureAccount(ctx, t, plan, a); err != nil {
				keep(fmt.Errorf("tenant %s: %w", t.ID, err))
				continue
			}
			keep(s.pushUsage(ctx, t.ID, plan, a))
		} else if a.SubscriptionID != "" {
			keep(s.cancel(ctx, t.ID, a))
		}
	}
	return first
}

// ensureAccount gives a tenant on a paid plan a customer and a
// subscription with the plan's metered prices.
func (s *Syncer) ensureAccount(ctx context.Context, t node.TenantInfo, plan billing.Plan, a node.BillingAccount) (node.BillingAccount, error) {
	changed := false
	if a.CustomerID == "" {
		p := &sg.CustomerCreateParams{Name: sg.String(t.Name), Metadata: map[string]string{"vaultaire_tenant": t.ID}}
		p.SetIdempotencyKey("vaultaire-customer-" + t.ID)
		c, err := s.client.V1Customers.Create(ctx, p)
		if err != nil {
			s.audit("CreateCustomer", t.ID, http.StatusBadGateway, stripeCode(err))
			return a, fmt.Errorf("create customer: %w", err)
		}
		s.audit("CreateCustomer", t.ID, http.StatusOK, "")
		a.CustomerID, changed = c.ID, true
	}
	if a.SubscriptionID == "" {
		p := &sg.SubscriptionCreateParams{Customer: sg.String(a.CustomerID), Metadata: map[string]string{"vaultaire_tenant": t.ID, "vaultaire_plan": plan.Name},
			PaymentBehavior: sg.String("allow_incomplete")}
		for _, item := range billing.Items {
			if price, ok := plan.StripePrices[item]; ok {
				p.Items = append(p.Items, &sg.SubscriptionCreateItemParams{Price: sg.String(price)})
			}
		}
		key := "vaultaire-subscription-" + t.ID + "-" + plan.Name + "-first"
		if a.Status != "" {
			// A new subscription after one ended: a key of its own.
			key = "vaultaire-subscription-" + t.ID + "-" + plan.Name + "-" + strconv.FormatInt(a.Updated.Unix(), 10)
		}
		p.SetIdempotencyKey(key)
		sub, err := s.client.V1Subscriptions.Create(ctx, p)
		if err != nil {
			s.audit("CreateSubscription", t.ID, http.StatusBadGateway, stripeCode(err))
			if changed { // keep the customer we have
				_ = s.cfg.Engine.UpdateBilling(ctx, node.BillingChange{Tenant: t.ID, SetCustomer: true, CustomerID: a.CustomerID})
			}
			return a, fmt.Errorf("create subscription: %w", err)
		}
		s.audit("CreateSubscription", t.ID, http.StatusOK, "")
		a.SubscriptionID, a.SubscriptionPlan, changed = sub.ID, plan.Name, true
		if err := s.cfg.Engine.UpdateBilling(ctx, node.BillingChange{Tenant: t.ID, SetStatus: true, Status: "active"}); err != nil {
			return a, err
		}
		a.Status = "active"
	}
	if changed {
		if err := s.cfg.Engine.UpdateBilling(ctx, node.BillingChange{Tenant: t.ID, SetCustomer: true, CustomerID: a.CustomerID,
			SubscriptionID: a.SubscriptionID, SubscriptionPlan: a.SubscriptionPlan}); err != nil {
			return a, err
		}
	}
	if a.PushedThrough.IsZero() {
		// Usage is billed from the hour the subscription started.
		start := s.cfg.Now().UTC().Truncate(time.Hour)
		if err := s.cfg.Engine.SetUsagePushed(ctx, t.ID, start); err != nil {
			return a, err
		}
		a.PushedThrough = start
	}
	return a, nil
}

func (s *Syncer) cancel(ctx context.Context, tenant string, a node.BillingAccount) error {
	_, err := s.client.V1Subscriptions.Cancel(ctx, a.SubscriptionID, &sg.SubscriptionCancelParams{})
	if err != nil {
		s.audit("CancelSubscription", tenant, http.StatusBadGateway, stripeCode(err))
		return fmt.Errorf("cancel subscription of %s: %w", tenant, err)
	}
	s.audit("CancelSubscription", tenant, http.StatusOK, "")
	return s.cfg.Engine.UpdateBilling(ctx, node.BillingChange{Tenant: tenant, SetCustomer: true, CustomerID: a.CustomerID,
		SetStatus: true, Status: "ended"})
}

// EventKey is the identifier and idempotency key of the meter event of
// one tenant, hour and line item: the same whoever pushes it, however
// often.
func EventKey(tenant string, hour time.Time, item string) string {
	return fmt.Sprintf("vaultaire-%s-%d-%s", tenant, hour.UTC().Unix(), item)
}

// pushUsage reports the complete hours after PushedThrough as meter
// events, hour by hour, and records each hour once all of it went through.
func (s *Syncer) pushUsage(ctx context.Context, tenant string, plan billing.Plan, a node.BillingAccount) error {
	now := s.cfg.Now().UTC()
	end := now.Add(-s.cfg.SettleDelay).Truncate(time.Hour) // hours before end are complete
	from := a.PushedThrough
	if horizon := now.Add(-meterHorizon).Truncate(time.Hour); from.Before(horizon) {
		s.log.Warn("usage older than Stripe accepts is not reported", "tenant", tenant, "from", from, "to", horizon)
		from = horizon
	}
	if !from.Before(end) {
		return nil
	}
	if lim := from.Add(maxHoursPerPass * time.Hour); end.After(lim) {
		end = lim
	}
	hours, err := s.cfg.Engine.UsageHours(ctx, tenant, from, end)
	if err != nil {
		return err
	}
	byStart := map[int64]tenancy.Hour{}
	for _, h := range hours {
		byStart[h.Start.Unix()] = h
	}
	for h := from; h.Before(end); h = h.Add(time.Hour) {
		rec, ok := byStart[h.Unix()]
		if ok {
			vals := billing.MeterValues(rec)
			for _, item := range billing.Items {
				v := vals[item]
				if _, priced := plan.StripePrices[item]; !priced || v <= 0 {
					continue
				}
				key := EventKey(tenant, h, item)
				p := &sg.BillingMeterEventCreateParams{
					EventName:  sg.String(MeterEvents[item]),
					Identifier: sg.String(key),
					Payload:    map[string]string{"stripe_customer_id": a.CustomerID, "value": strconv.FormatInt(v, 10)},
					Timestamp:  sg.Int64(h.Add(30 * time.Minute).Unix()),
				}
				p.SetIdempotencyKey(key)
				if _, err := s.client.V1BillingMeterEvents.Create(ctx, p); err != nil {
					s.audit("PushUsage", tenant, http.StatusBadGateway, stripeCode(err))
					return fmt.Errorf("meter event %s: %w", key, err)
				}
			}
			s.audit("PushUsage", tenant, http.StatusOK, "")
		}
		if err := s.cfg.Engine.SetUsagePushed(ctx, tenant, h.Add(time.Hour)); err != nil {
			return err
		}
	}
	return nil
}

// Reconcile applies a tenant's recorded payment state: suspension after
// the grace period, resumption once paid, the free plan once Stripe ended
// its subscription (status "canceled"; "ended" is a subscription Vaultaire
// canceled itself after a plan change). It is idempotent.
func (s *Syncer) Reconcile(ctx context.Context, tenant string) error {
	a, err := s.cfg.Engine.BillingAccount(ctx, tenant)
	if err != nil {
		return err
	}
	t, err := s.cfg.Engine.GetTenant(ctx, tenant)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	switch {
	case a.Status == "past_due" && !a.PastDueSince.IsZero() && now.Sub(a.PastDueSince) >= s.cfg.Grace &&
		t.State == node.TenantActive && !a.SuspendedByBilling:
		if err := s.cfg.Engine.UpdateBilling(ctx, node.BillingChange{Tenant: tenant, SetSuspended: true, Suspended: true}); err != nil {
			return err
		}
		if _, err := s.cfg.Engine.SetTenantState(ctx, tenant, node.TenantSuspended); err != nil {
			return err
		}
		s.audit("SuspendForNonPayment", tenant, http.StatusOK, "")
	case a.Status != "past_due" && a.SuspendedByBilling:
		if t.State == node.TenantSuspended {
			if _, err := s.cfg.Engine.SetTenantState(ctx, tenant, node.TenantActive); err != nil {
				return err
			}
		}
		if err := s.cfg.Engine.UpdateBilling(ctx, node.BillingChange{Tenant: tenant, SetSuspended: true, Suspended: false}); err != nil {
			return err
		}
		s.audit("ResumeAfterPayment", tenant, http.StatusOK, "")
	}
	if _, paid := s.paidPlan(t.Plan); a.Status == "canceled" && paid {
		free, err := s.cfg.Plans.Plan(s.cfg.Plans.FreePlan)
		if err != nil {
			return err
		}
		override, lim, q := free.Limits()
		if _, err := s.cfg.Engine.AssignPlan(ctx, tenant, free.Name, override, lim, q); err != nil {
			return err
		}
		if s.cfg.LimitsChanged != nil {
			s.cfg.LimitsChanged(ctx)
		}
		s.audit("MoveToFreePlan", tenant, http.StatusOK, "")
	}
	return nil
}

func (s *Syncer) paidPlan(name string) (billing.Plan, bool) {
	p, err := s.cfg.Plans.Plan(name)
	return p, err == nil && len(p.StripePrices) > 0
}

// stripeCode is the audit code of a Stripe error.
func stripeCode(err error) string {
	var se *sg.Error
	if errors.As(err, &se) {
		if se.Code != "" {
			return "Stripe:" + string(se.Code)
		}
		return "Stripe:" + string(se.Type)
	}
	return "StripeUnreachable"
}
