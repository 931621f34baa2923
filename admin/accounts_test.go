package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/metrics"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

const testToken = "admin-test-token"

type apiTest struct {
	t   *testing.T
	url string
	eng *node.Engine
}

func startAPI(t *testing.T) *apiTest {
	t.Helper()
	n := nodetest.StartNode(t, nodetest.Options{})
	reg, err := metrics.New(metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{NodeID: "test-node", Engine: n.Engine, Meta: n.Meta, Metrics: reg, WriteQuorum: 3, Token: testToken}).Handler())
	t.Cleanup(srv.Close)
	return &apiTest{t: t, url: srv.URL, eng: n.Engine}
}

func (a *apiTest) do(method, path, token, body string) (int, http.Header, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func (a *apiTest) call(method, path, body string) (int, map[string]any) {
	a.t.Helper()
	st, _, raw := a.do(method, path, testToken, body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		a.t.Fatalf("%s %s: %d, not JSON: %q", method, path, st, raw)
	}
	return st, m
}

func TestAccountRoutesNeedTheToken(t *testing.T) {
	a := startAPI(t)
	for _, r := range []struct{ method, path string }{
		{"POST", "/admin/v1/operators"},
		{"GET", "/admin/v1/operators"},
		{"DELETE", "/admin/v1/operators/ops"},
		{"PUT", "/admin/v1/operators/ops/password"},
		{"PUT", "/admin/v1/tenants/root/users/root/password"},
		{"DELETE", "/admin/v1/tenants/root/users/root"},
		{"DELETE", "/admin/v1/tenants/root"},
		{"GET", "/admin/v1/plans"},
		{"PUT", "/admin/v1/tenants/root/plan"},
		{"GET", "/admin/v1/tenants/root/invoice"},
	} {
		for _, tok := range []string{"", "wrong", testToken + "x"} {
			st, _, raw := a.do(r.method, r.path, tok, `{"name":"x","password":"y","plan":"free"}`)
			if st != http.StatusUnauthorized || !strings.Contains(string(raw), "Unauthorized") {
				t.Errorf("%s %s with %q: %d %s", r.method, r.path, tok, st, raw)
			}
		}
	}
	if ops, _ := a.eng.ListOperators(context.Background()); len(ops) != 0 {
		t.Fatalf("an unauthorized call created %v", ops)
	}
}

func TestAccountRoutesRefuseBadInput(t *testing.T) {
	a := startAPI(t)
	if st, m := a.call("POST", "/admin/v1/tenants", `{"id":"acme"}`); st != 201 {
		t.Fatalf("create acme: %d %v", st, m)
	}
	big := `{"name":"ops","password":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed", "POST", "/admin/v1/operators", `{"name":`, 400, "MalformedJSON"},
		{"truncated", "POST", "/admin/v1/operators", `{"name":"ops","password":"abc`, 400, "MalformedJSON"},
		{"oversized", "POST", "/admin/v1/operators", big, 400, "BodyTooLarge"},
		{"unknown field", "POST", "/admin/v1/operators", `{"name":"ops","password":"p","role":"root"}`, 400, "UnknownField"},
		{"bad operator name", "POST", "/admin/v1/operators", `{"name":"a b","password":"p"}`, 400, "InvalidOperatorName"},
		{"empty password", "POST", "/admin/v1/operators", `{"name":"ops","password":""}`, 400, "InvalidPassword"},
		{"73-byte password", "POST", "/admin/v1/operators", `{"name":"ops","password":"` + strings.Repeat("p", 73) + `"}`, 400, "InvalidPassword"},
		{"reset missing operator", "PUT", "/admin/v1/operators/nobody/password", `{"password":"p"}`, 404, "OperatorNotFound"},
		{"delete missing operator", "DELETE", "/admin/v1/operators/nobody", "", 404, "OperatorNotFound"},
		{"reset missing user", "PUT", "/admin/v1/tenants/acme/users/nobody/password", `{"password":"p"}`, 404, "UserNotFound"},
		{"reset, no body", "PUT", "/admin/v1/tenants/acme/users/nobody/password", ``, 400, "MalformedJSON"},
		{"delete missing user", "DELETE", "/admin/v1/tenants/acme/users/nobody", "", 404, "UserNotFound"},
		{"delete root user", "DELETE", "/admin/v1/tenants/root/users/root", "", 400, "InvalidArgument"},
		{"delete root tenant", "DELETE", "/admin/v1/tenants/root?force=true", "", 400, "InvalidArgument"},
		{"delete missing tenant", "DELETE", "/admin/v1/tenants/nope", "", 404, "TenantNotFound"},
		{"bad force", "DELETE", "/admin/v1/tenants/acme?force=maybe", "", 400, "InvalidArgument"},
		{"bad tenant id", "DELETE", "/admin/v1/tenants/A_B", "", 400, "InvalidTenantID"},
		{"unknown plan", "PUT", "/admin/v1/tenants/acme/plan", `{"plan":"gold"}`, 400, "UnknownPlan"},
		{"plan of missing tenant", "PUT", "/admin/v1/tenants/nope/plan", `{"plan":"free"}`, 404, "TenantNotFound"},
		{"plan unknown field", "PUT", "/admin/v1/tenants/acme/plan", `{"plan":"free","price":0}`, 400, "UnknownField"},
		{"bad month", "GET", "/admin/v1/tenants/acme/invoice?month=2026-13", "", 400, "InvalidArgument"},
		{"bad format", "GET", "/admin/v1/tenants/acme/invoice?format=pdf", "", 400, "InvalidArgument"},
		{"invoice of missing tenant", "GET", "/admin/v1/tenants/nope/invoice", "", 404, "TenantNotFound"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, m := a.call(c.method, c.path, c.body)
			if st != c.status || m["code"] != c.code {
				t.Fatalf("%d %v, want %d %s", st, m, c.status, c.code)
			}
		})
	}
	// Nothing changed.
	if ops, _ := a.eng.ListOperators(context.Background()); len(ops) != 0 {
		t.Fatalf("operators after refused calls: %v", ops)
	}
	if ten, _ := a.eng.GetTenant(context.Background(), "acme"); ten.Plan != "standard" {
		t.Fatalf("plan after refused calls: %q", ten.Plan)
	}
}

func TestOperatorsUsersTenantsAndPlans(t *testing.T) {
	a := startAPI(t)
	ctx := context.Background()
	if st, m := a.call("POST", "/admin/v1/operators", `{"name":"ops","password":"first password"}`); st != 201 || m["name"] != "ops" {
		t.Fatalf("create operator: %d %v", st, m)
	}
	if st, m := a.call("POST", "/admin/v1/operators", `{"name":"ops","password":"x"}`); st != 409 || m["code"] != "OperatorExists" {
		t.Fatalf("duplicate: %d %v", st, m)
	}
	if st, m := a.call("GET", "/admin/v1/operators", ""); st != 200 || len(m["operators"].([]any)) != 1 {
		t.Fatalf("list: %d %v", st, m)
	}
	if _, err := a.eng.Login(ctx, node.Account{Name: "ops"}, "first password", node.DefaultLoginPolicy); err != nil {
		t.Fatalf("operator login: %v", err)
	}
	if st, _ := a.call("PUT", "/admin/v1/operators/ops/password", `{"password":"second password"}`); st != 200 {
		t.Fatalf("reset: %d", st)
	}
	if _, err := a.eng.Login(ctx, node.Account{Name: "ops"}, "second password", node.DefaultLoginPolicy); err != nil {
		t.Fatalf("login after reset: %v", err)
	}

	// A new tenant gets the catalog's default plan; the free plan brings
	// its quotas at once.
	if st, m := a.call("POST", "/admin/v1/tenants", `{"id":"acme"}`); st != 201 || m["plan"] != "standard" {
		t.Fatalf("create tenant: %d %v", st, m)
	}
	if st, m := a.call("PUT", "/admin/v1/tenants/acme/plan", `{"plan":"free"}`); st != 200 || m["plan"] != "free" {
		t.Fatalf("assign free: %d %v", st, m)
	}
	tl, err := a.eng.TenantLimits(ctx, "acme")
	if err != nil || tl.Quota.MaxBytes != 5e9 || !tl.Override || tl.Limit.RequestsPerSec != 20 {
		t.Fatalf("limits after the free plan: %+v %v", tl, err)
	}
	if st, m := a.call("GET", "/admin/v1/plans", ""); st != 200 || m["default"] != "standard" || len(m["plans"].([]any)) != 2 {
		t.Fatalf("plans: %d %v", st, m)
	}

	// Users: a reset unlocks; a delete takes the user's keys.
	if _, err := a.eng.CreateUser(ctx, "acme", "alice", "alice password"); err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < node.DefaultLoginPolicy.MaxFailures; i++ {
		a.eng.Login(ctx, node.Account{Tenant: "acme", Name: "alice"}, "wrong", node.DefaultLoginPolicy)
	}
	if _, err := a.eng.Login(ctx, node.Account{Tenant: "acme", Name: "alice"}, "alice password", node.DefaultLoginPolicy); !errors.Is(err, node.ErrLoginFailed) {
		t.Fatalf("locked login: %v", err)
	}
	if st, _ := a.call("PUT", "/admin/v1/tenants/acme/users/alice/password", `{"password":"reset password"}`); st != 200 {
		t.Fatalf("reset alice: %d", st)
	}
	if _, err := a.eng.Login(ctx, node.Account{Tenant: "acme", Name: "alice"}, "reset password", node.DefaultLoginPolicy); err != nil {
		t.Fatalf("login after reset: %v", err)
	}
	cred, _ := a.eng.CreateAccessKey(ctx, "acme", "alice")
	if st, _ := a.call("DELETE", "/admin/v1/tenants/acme/users/alice", ""); st != 200 {
		t.Fatalf("delete alice: %d", st)
	}
	if _, err := a.eng.Credential(ctx, cred.AccessKeyID); !errors.Is(err, node.ErrAccessKeyUnknown) {
		t.Fatalf("alice's key: %v", err)
	}

	// Invoices: JSON and CSV of the current month.
	st, m := a.call("GET", "/admin/v1/tenants/acme/invoice", "")
	if st != 200 || m["plan"] != "free" || len(m["lines"].([]any)) != 4 || m["total_cents"].(float64) != 0 {
		t.Fatalf("invoice: %d %v", st, m)
	}
	st, h, raw := a.do("GET", "/admin/v1/tenants/acme/invoice?month="+time.Now().UTC().Format("2006-01")+"&format=csv", testToken, "")
	if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !bytes.HasPrefix(raw, []byte("tenant,plan,period_start")) {
		t.Fatalf("csv invoice: %d %s %q", st, h.Get("Content-Type"), raw)
	}

	// A tenant with data is deleted only when forced.
	if err := a.eng.CreateContainer(ctx, "acme", node.CreateContainerInput{Name: "photos"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.PutArtifact(ctx, "acme", node.PutInput{Container: "photos", Key: "a", Body: strings.NewReader("hello"), Size: 5}); err != nil {
		t.Fatal(err)
	}
	if st, m := a.call("DELETE", "/admin/v1/tenants/acme", ""); st != 409 || m["code"] != "TenantNotEmpty" {
		t.Fatalf("delete without force: %d %v", st, m)
	}
	if st, m := a.call("DELETE", "/admin/v1/tenants/acme?force=true", ""); st != 200 || m["artifacts"].(float64) != 1 || m["containers"].(float64) != 1 {
		t.Fatalf("forced delete: %d %v", st, m)
	}
	if st, m := a.call("GET", "/admin/v1/tenants/acme", ""); st != 404 {
		t.Fatalf("tenant after delete: %d %v", st, m)
	}
	if st, _ := a.call("DELETE", "/admin/v1/operators/ops", ""); st != 200 {
		t.Fatalf("delete operator: %d", st)
	}
}
