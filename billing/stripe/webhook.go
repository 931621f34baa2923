package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/vaultaire/vaultaire/node"
)

// Webhook limits.
const (
	// WebhookTolerance is how old a signature may be: a signed request
	// replayed later is refused.
	WebhookTolerance = 5 * time.Minute
	// maxWebhookBody bounds an event's payload (Stripe's are a few KiB).
	maxWebhookBody = 256 << 10
)

var errFromFuture = errors.New("stripe: webhook signed in the future")

// signedAt is the t= time of a Stripe-Signature header (zero if absent).
func signedAt(header string) time.Time {
	for _, part := range strings.Split(header, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "t" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return time.Unix(n, 0)
			}
		}
	}
	return time.Time{}
}

// Webhook returns the handler of Stripe's events (POST, served by the
// console at /billing/webhook on every node).
func (s *Syncer) Webhook() http.Handler {
	return http.HandlerFunc(s.serveWebhook)
}

func answer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": msg})
}

func (s *Syncer) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if s.cfg.WebhookSecret == "" {
		answer(w, http.StatusNotFound, "no webhook configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		s.audit("Webhook", "", http.StatusRequestEntityTooLarge, "BodyTooLarge")
		answer(w, http.StatusRequestEntityTooLarge, "payload too large or unreadable")
		return
	}
	// The signature (HMAC-SHA256 over "t.payload" under the endpoint's
	// secret), its age (WebhookTolerance), and the payload's JSON.
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), s.cfg.WebhookSecret,
		webhook.ConstructEventOptions{Tolerance: WebhookTolerance, IgnoreAPIVersionMismatch: true})
	if err == nil && signedAt(r.Header.Get("Stripe-Signature")).After(time.Now().Add(WebhookTolerance)) {
		err = errFromFuture // stripe-go checks only the past side of the window
	}
	if err != nil {
		code := "BadSignature"
		if errors.Is(err, webhook.ErrTooOld) || errors.Is(err, errFromFuture) {
			code = "SignatureExpired"
		}
		s.audit("Webhook", "", http.StatusBadRequest, code)
		answer(w, http.StatusBadRequest, "refused: "+code)
		return
	}
	var obj struct {
		Customer string `json:"customer"`
	}
	if ev.Data == nil || json.Unmarshal(ev.Data.Raw, &obj) != nil || ev.ID == "" {
		s.audit("Webhook:"+string(ev.Type), "", http.StatusBadRequest, "MalformedEvent")
		answer(w, http.StatusBadRequest, "malformed event")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	op := "Webhook:" + string(ev.Type)
	created := time.Unix(ev.Created, 0).UTC()
	var ch node.BillingChange
	switch ev.Type {
	case "invoice.paid":
		ch = node.BillingChange{SetStatus: true, Status: "active"}
	case "invoice.payment_failed":
		ch = node.BillingChange{SetStatus: true, Status: "past_due", PastDueSince: created}
	case "customer.subscription.deleted":
		ch = node.BillingChange{SetCustomer: true, CustomerID: obj.Customer, SubscriptionID: "", SetStatus: true, Status: "canceled"}
	default:
		s.audit(op, "", http.StatusOK, "Ignored")
		answer(w, http.StatusOK, "ignored")
		return
	}
	tenant, a, err := s.tenantOf(ctx, obj.Customer)
	if err != nil {
		s.log.Warn("stripe webhook: looking up the customer failed", "event", ev.ID, "err", err)
		answer(w, http.StatusServiceUnavailable, "try again")
		return
	}
	if tenant == "" {
		s.audit(op, "", http.StatusOK, "UnknownCustomer")
		answer(w, http.StatusOK, "ignored: unknown customer")
		return
	}
	if ch.Status == "past_due" && a.Status == "past_due" && !a.PastDueSince.IsZero() {
		ch.PastDueSince = a.PastDueSince // the grace runs from the first failure
	}
	ch.Tenant, ch.EventID, ch.EventCreated = tenant, ev.ID, created
	err = s.cfg.Engine.UpdateBilling(ctx, ch)
	switch {
	case errors.Is(err, node.ErrEventApplied):
		s.audit(op, tenant, http.StatusConflict, "Replayed")
		answer(w, http.StatusConflict, "refused: event already applied")
		return
	case err != nil:
		s.log.Warn("stripe webhook not recorded; Stripe will retry", "event", ev.ID, "err", err)
		s.audit(op, tenant, http.StatusServiceUnavailable, "NotRecorded")
		answer(w, http.StatusServiceUnavailable, "try again")
		return
	}
	s.audit(op, tenant, http.StatusOK, "")
	// Apply the new state now (the Syncer's passes do too).
	if err := s.Reconcile(ctx, tenant); err != nil {
		s.log.Warn("billing state not applied at once; the next pass will", "tenant", tenant, "err", err)
	}
	answer(w, http.StatusOK, "applied")
}

// tenantOf finds the tenant whose billing account has the customer.
func (s *Syncer) tenantOf(ctx context.Context, customer string) (string, node.BillingAccount, error) {
	if customer == "" {
		return "", node.BillingAccount{}, nil
	}
	as, err := s.cfg.Engine.BillingAccounts(ctx)
	if err != nil {
		return "", node.BillingAccount{}, err
	}
	for _, a := range as {
		if a.CustomerID == customer {
			return a.Tenant, a, nil
		}
	}
	return "", node.BillingAccount{}, nil
}
