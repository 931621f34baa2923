package stripe

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// stripeMock starts Stripe's official mock server (github.com/stripe/
// stripe-mock, installed by .ci/run) on a free port and returns its URL.
func stripeMock(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "stripe-mock")
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("stripe-mock is not installed: go install github.com/stripe/stripe-mock@v0.203.0 (.ci/run does)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-http-port", fmt.Sprint(port), "-https-port", "0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not start:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// recorded is one request the proxy forwarded to stripe-mock.
type recorded struct {
	method, path, idem string
	form               url.Values
	status             int
}

// recorder sits between the Syncer and stripe-mock: it checks every
// request as Stripe documents them (form-encoded, bearer key, an
// idempotency key on every POST) and can fail requests on demand.
type recorder struct {
	t    *testing.T
	mu   sync.Mutex
	reqs []recorded
	fail func(r recorded) bool
}

func (rc *recorder) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rec := recorded{method: r.Method, path: r.URL.Path, idem: r.Header.Get("Idempotency-Key"), form: form}
		if r.Header.Get("Authorization") != "Bearer sk_test_vaultaire" {
			rc.t.Errorf("%s %s: Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			rc.t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		rc.mu.Lock()
		failIt := rc.fail != nil && rc.fail(rec)
		rc.mu.Unlock()
		if failIt {
			rec.status = http.StatusInternalServerError
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"type":"api_error","message":"injected"}}`)
		} else {
			rec.status = http.StatusOK
			r.Body = io.NopCloser(bytes.NewReader(body))
			proxy.ServeHTTP(w, r)
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, rec)
		rc.mu.Unlock()
	})
}

func (rc *recorder) take() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.reqs
	rc.reqs = nil
	return out
}

type memAudit struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (m *memAudit) Write(e audit.Event)         { m.mu.Lock(); m.evs = append(m.evs, e); m.mu.Unlock() }
func (m *memAudit) Close(context.Context) error { return nil }
func (m *memAudit) ops() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, e := range m.evs {
		out[e.Operation+"/"+e.ErrorCode]++
	}
	return out
}

// catalog has a paid plan with Stripe prices, and the free plan.
func catalog() billing.Catalog {
	c := billing.DefaultCatalog()
	c.Plans = append(c.Plans, billing.Plan{Name: "metered", Prices: c.Plans[1].Prices, StripePrices: map[string]string{
		billing.ItemStorage: "price_storage", billing.ItemClassA: "price_class_a", billing.ItemClassB: "price_class_b", billing.ItemEgress: "price_egress"}},
		billing.Plan{Name: "metered-pro", Prices: c.Plans[1].Prices, StripePrices: map[string]string{billing.ItemStorage: "price_pro_storage"}})
	return c
}

type fixture struct {
	n     *nodetest.Node
	rec   *recorder
	aud   *memAudit
	now   time.Time
	clock func() time.Time
	sync  func() *Syncer
}

func newFixture(t *testing.T) *fixture {
	mock := stripeMock(t)
	f := &fixture{n: nodetest.StartNode(t, nodetest.Options{}), rec: &recorder{t: t}, aud: &memAudit{}}
	proxy := httptest.NewServer(f.rec.handler(mock))
	t.Cleanup(proxy.Close)
	f.now = time.Now().UTC().Truncate(time.Hour).Add(20 * time.Minute)
	f.clock = func() time.Time { return f.now }
	logger := audit.New(f.aud)
	f.sync = func() *Syncer {
		s, err := New(Config{APIKey: "sk_test_vaultaire", WebhookSecret: "whsec_test", APIURL: proxy.URL, Plans: catalog(),
			Engine: f.n.Engine, Grace: time.Hour, Audit: logger, Now: f.clock})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	if _, err := f.n.Engine.CreateTenant(ctx, "acme", "Acme", "metered"); err != nil {
		t.Fatal(err)
	}
	return f
}

// usage records one hour of usage for acme, with stored bytes.
func (f *fixture) usage(t *testing.T, hour time.Time, classA, classB, egress int64) {
	t.Helper()
	ctx := context.Background()
	err := f.n.Meta.RecordUsage(ctx, [16]byte{}, hour.Add(time.Minute), []metastore.UsageDelta{{Tenant: "acme", Start: hour, ClassA: classA, ClassB: classB, EgressBytes: egress}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSyncerCustomersAndIdempotentUsage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.sync()
	start := f.now.Truncate(time.Hour)

	// First pass: a customer and a metered subscription, usage from now on.
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := f.rec.take()
	if len(reqs) != 2 || reqs[0].path != "/v1/customers" || reqs[0].idem != "vaultaire-customer-acme" || reqs[0].form.Get("metadata[vaultaire_tenant]") != "acme" {
		t.Fatalf("customer: %+v", reqs)
	}
	sub := reqs[1]
	if sub.path != "/v1/subscriptions" || sub.idem != "vaultaire-subscription-acme-metered-first" || sub.form.Get("items[0][price]") != "price_storage" ||
		sub.form.Get("items[3][price]") != "price_egress" || sub.form.Get("customer") == "" {
		t.Fatalf("subscription: %+v", sub)
	}
	a, _ := f.n.Engine.BillingAccount(ctx, "acme")
	if a.CustomerID == "" || a.SubscriptionID == "" || a.Status != "active" || !a.PushedThrough.Equal(start) {
		t.Fatalf("account: %+v", a)
	}

	// Two hours of usage; the second fails half-way, then is retried.
	f.usage(t, start, 10, 20, 5000)
	f.usage(t, start.Add(time.Hour), 1, 0, 0)
	f.now = start.Add(2*time.Hour + DefaultSettleDelay + time.Minute)
	failed := 0
	f.rec.mu.Lock()
	f.rec.fail = func(r recorded) bool {
		if strings.HasSuffix(r.idem, "-class_a") && strings.Contains(r.idem, fmt.Sprint(start.Add(time.Hour).Unix())) && failed == 0 {
			failed++
			return true
		}
		return false
	}
	f.rec.mu.Unlock()
	if err := s.Pass(ctx); err == nil {
		t.Fatal("a failed meter event must fail the pass")
	}
	first := f.rec.take()
	want := []string{EventKey("acme", start, "class_a"), EventKey("acme", start, "class_b"), EventKey("acme", start, "egress"),
		EventKey("acme", start.Add(time.Hour), "class_a")}
	if len(first) != len(want) {
		t.Fatalf("first push: %d requests %+v", len(first), first)
	}
	for i, r := range first {
		if r.path != "/v1/billing/meter_events" || r.idem != want[i] || r.form.Get("identifier") != want[i] ||
			r.form.Get("payload[stripe_customer_id]") != a.CustomerID {
			t.Fatalf("event %d: %+v, want key %s", i, r, want[i])
		}
	}
	if v := first[0].form.Get("payload[value]"); v != "10" || first[0].form.Get("event_name") != MeterEvents["class_a"] {
		t.Fatalf("class A value %q", v)
	}
	if v := first[2].form.Get("payload[value]"); v != "5000" {
		t.Fatalf("egress value %q", v)
	}
	if a, _ := f.n.Engine.BillingAccount(ctx, "acme"); !a.PushedThrough.Equal(start.Add(time.Hour)) {
		t.Fatalf("pushed through %v after a partial push, want the first hour only", a.PushedThrough)
	}
	// Another node takes over (a new Syncer): the failed hour is pushed
	// again with the same key, the first is not pushed again.
	if err := f.sync().Pass(ctx); err != nil {
		t.Fatal(err)
	}
	retry := f.rec.take()
	if len(retry) != 1 || retry[0].idem != EventKey("acme", start.Add(time.Hour), "class_a") || retry[0].form.Get("payload[value]") != "1" {
		t.Fatalf("retry: %+v", retry)
	}
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if again := f.rec.take(); len(again) != 0 {
		t.Fatalf("pushed twice: %+v", again)
	}
	if a, _ := f.n.Engine.BillingAccount(ctx, "acme"); !a.PushedThrough.Equal(start.Add(2 * time.Hour)) {
		t.Fatalf("pushed through %v", a.PushedThrough)
	}
	if ops := f.aud.ops(); ops["Billing:CreateCustomer/"] != 1 || ops["Billing:CreateSubscription/"] != 1 || ops["Billing:PushUsage/StripeUnreachable"]+ops["Billing:PushUsage/Stripe:api_error"] != 1 {
		t.Fatalf("audit: %v", ops)
	}
	// Another paid plan replaces the subscription with one of its prices.
	pro, _ := catalog().Plan("metered-pro")
	po, pl, pq := pro.Limits()
	if _, err := f.n.Engine.AssignPlan(ctx, "acme", "metered-pro", po, pl, pq); err != nil {
		t.Fatal(err)
	}
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	sw := f.rec.take()
	if len(sw) != 2 || sw[0].method != http.MethodDelete || sw[1].path != "/v1/subscriptions" || sw[1].form.Get("items[0][price]") != "price_pro_storage" ||
		!strings.HasPrefix(sw[1].idem, "vaultaire-subscription-acme-metered-pro-") {
		t.Fatalf("plan switch: %+v", sw)
	}
	if a, _ := f.n.Engine.BillingAccount(ctx, "acme"); a.SubscriptionPlan != "metered-pro" || a.Status != "active" || a.SubscriptionID == "" {
		t.Fatalf("after the switch: %+v", a)
	}
	// A plan without Stripe prices cancels the subscription.
	std, _ := catalog().Plan("standard")
	o, l, q := std.Limits()
	if _, err := f.n.Engine.AssignPlan(ctx, "acme", "standard", o, l, q); err != nil {
		t.Fatal(err)
	}
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if c := f.rec.take(); len(c) != 1 || c[0].method != http.MethodDelete || !strings.HasPrefix(c[0].path, "/v1/subscriptions/") {
		t.Fatalf("cancel: %+v", c)
	}
	if a, _ := f.n.Engine.BillingAccount(ctx, "acme"); a.Status != "ended" || a.SubscriptionID != "" {
		t.Fatalf("after cancel: %+v", a)
	}
}

// sign signs a payload with Stripe's scheme: v1 = hex HMAC-SHA256 of
// "<t>.<payload>" under the endpoint secret.
func sign(payload []byte, secret string, at time.Time) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.%s", at.Unix(), payload)
	return fmt.Sprintf("t=%d,v1=%s", at.Unix(), hex.EncodeToString(m.Sum(nil)))
}

func event(id, typ, customer string, created time.Time) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"created":%d,"api_version":"2020-08-27","data":{"object":{"id":"in_1","object":"invoice","customer":%q}}}`,
		id, typ, created.Unix(), customer))
}

func TestWebhooks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.sync()
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := f.n.Engine.BillingAccount(ctx, "acme")
	h := s.Webhook()
	post := func(payload []byte, sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/billing/webhook", bytes.NewReader(payload))
		if sig != "" {
			req.Header.Set("Stripe-Signature", sig)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	state := func() (node.TenantInfo, node.BillingAccount) {
		t.Helper()
		ten, err := f.n.Engine.GetTenant(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		acct, _ := f.n.Engine.BillingAccount(ctx, "acme")
		return ten, acct
	}
	now := time.Now()
	failed := event("evt_1", "invoice.payment_failed", a.CustomerID, now)
	// Forged, expired, unsigned, malformed: refused, nothing changes.
	for name, c := range map[string]struct {
		payload []byte
		sig     string
	}{
		"wrong secret":      {failed, sign(failed, "whsec_other", now)},
		"altered payload":   {bytes.Replace(failed, []byte("evt_1"), []byte("evt_9"), 1), sign(failed, "whsec_test", now)},
		"expired signature": {failed, sign(failed, "whsec_test", now.Add(-10*time.Minute))},
		"from the future":   {failed, sign(failed, "whsec_test", now.Add(10*time.Minute))},
		"no signature":      {failed, ""},
		"garbage header":    {failed, "t=abc,v1=zz"},
		"v0 scheme only":    {failed, strings.Replace(sign(failed, "whsec_test", now), "v1=", "v0=", 1)},
		"not json":          {[]byte("{"), sign([]byte("{"), "whsec_test", now)},
	} {
		if code := post(c.payload, c.sig); code < 400 || code >= 500 {
			t.Errorf("%s: %d", name, code)
		}
	}
	if big := bytes.Repeat([]byte("x"), 300<<10); post(big, sign(big, "whsec_test", now)) != http.StatusRequestEntityTooLarge {
		t.Error("oversized payload accepted")
	}
	if _, acct := state(); acct.Status != "active" {
		t.Fatalf("a refused webhook changed the account: %+v", acct)
	}
	// A payment failure: past due, suspended only after the grace.
	sig := sign(failed, "whsec_test", now)
	if code := post(failed, sig); code != http.StatusOK {
		t.Fatalf("payment_failed: %d", code)
	}
	if ten, acct := state(); acct.Status != "past_due" || ten.State != node.TenantActive {
		t.Fatalf("after payment_failed: %+v %+v", ten, acct)
	}
	// Replayed (the same signed request again): refused.
	if code := post(failed, sig); code != http.StatusConflict {
		t.Fatalf("replay: %d", code)
	}
	f.now = time.Now().Add(2 * time.Hour) // past the one-hour grace
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if ten, acct := state(); ten.State != node.TenantSuspended || !acct.SuspendedByBilling {
		t.Fatalf("after the grace: %+v %+v", ten, acct)
	}
	// Paid: active again at once.
	paid := event("evt_2", "invoice.paid", a.CustomerID, now)
	if code := post(paid, sign(paid, "whsec_test", now)); code != http.StatusOK {
		t.Fatalf("invoice.paid: %d", code)
	}
	if ten, acct := state(); ten.State != node.TenantActive || acct.SuspendedByBilling || acct.Status != "active" {
		t.Fatalf("after invoice.paid: %+v %+v", ten, acct)
	}
	// An operator's suspension is not lifted by a payment.
	f.n.Engine.SetTenantState(ctx, "acme", node.TenantSuspended)
	paid3 := event("evt_3", "invoice.paid", a.CustomerID, now)
	post(paid3, sign(paid3, "whsec_test", now))
	if ten, _ := state(); ten.State != node.TenantSuspended {
		t.Fatal("billing resumed a tenant an operator suspended")
	}
	f.n.Engine.SetTenantState(ctx, "acme", node.TenantActive)
	// The subscription ends: the free plan and its limits.
	del := event("evt_4", "customer.subscription.deleted", a.CustomerID, now)
	if code := post(del, sign(del, "whsec_test", now)); code != http.StatusOK {
		t.Fatalf("subscription.deleted: %d", code)
	}
	ten, acct := state()
	tl, _ := f.n.Engine.TenantLimits(ctx, "acme")
	if ten.Plan != "free" || acct.Status != "canceled" || tl.Quota.MaxBytes != 5e9 {
		t.Fatalf("after subscription.deleted: %+v %+v %+v", ten, acct, tl)
	}
	// Unknown customers and event types are acknowledged and ignored.
	other := event("evt_5", "invoice.paid", "cus_nobody", now)
	if code := post(other, sign(other, "whsec_test", now)); code != http.StatusOK {
		t.Fatalf("unknown customer: %d", code)
	}
	ops := f.aud.ops()
	for _, want := range []string{"Billing:Webhook/BadSignature", "Billing:Webhook/SignatureExpired", "Billing:Webhook:invoice.payment_failed/Replayed",
		"Billing:SuspendForNonPayment/", "Billing:ResumeAfterPayment/", "Billing:MoveToFreePlan/", "Billing:Webhook:invoice.paid/UnknownCustomer"} {
		if ops[want] == 0 {
			t.Errorf("not audited: %s (have %v)", want, ops)
		}
	}
}
