package metastore

import (
	"errors"
	"testing"
	"time"
)

func TestOperatorsAndPasswords(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mustNoErr(t, s.CreateOperator(ctx, Operator{Name: "ops", PasswordHash: []byte("h1"), Created: t0}))
	if err := s.CreateOperator(ctx, Operator{Name: "ops", PasswordHash: []byte("h2")}); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	o, err := s.GetOperator(ctx, "ops")
	if err != nil || string(o.PasswordHash) != "h1" {
		t.Fatalf("get: %+v %v", o, err)
	}
	// A password change ends the sessions: the generation rises.
	mustNoErr(t, s.SetPassword(ctx, "", "ops", []byte("h3")))
	o, _ = s.GetOperator(ctx, "ops")
	st, _ := s.GetLoginState(ctx, "", "ops")
	if string(o.PasswordHash) != "h3" || st.SessionGen != 1 {
		t.Fatalf("after set password: %q gen %d", o.PasswordHash, st.SessionGen)
	}
	if err := s.SetPassword(ctx, "", "nobody", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("set password of a missing operator: %v", err)
	}
	if err := s.SetPassword(ctx, "acme", "nobody", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("set password of a missing user: %v", err)
	}
	ops, err := s.ListOperators(ctx)
	if err != nil || len(ops) != 1 {
		t.Fatalf("list: %+v %v", ops, err)
	}
	mustNoErr(t, s.DeleteOperator(ctx, "ops"))
	if _, err := s.GetOperator(ctx, "ops"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteOperator(ctx, "ops"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestRecordLoginLocksAfterFailures(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mustNoErr(t, s.CreateTenant(ctx, Tenant{ID: "acme", State: TenantActive}))
	mustNoErr(t, s.CreateUser(ctx, User{Tenant: "acme", Name: "alice", PasswordHash: []byte("h")}))
	p := LoginPolicy{MaxFailures: 3, Window: time.Minute, Lockout: 10 * time.Minute}
	now := t0
	step := func(ok bool, at time.Time) LoginState {
		t.Helper()
		st, err := s.RecordLogin(ctx, "acme", "alice", ok, at, p)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := step(false, now); st.Failures != 1 || st.Locked(now) {
		t.Fatalf("first failure: %+v", st)
	}
	// A success clears the count.
	if st := step(true, now.Add(time.Second)); st.Failures != 0 {
		t.Fatalf("success: %+v", st)
	}
	// Failures outside the window start a new count.
	step(false, now.Add(2*time.Second))
	step(false, now.Add(3*time.Second))
	if st := step(false, now.Add(2*time.Minute)); st.Failures != 1 || st.Locked(now.Add(2*time.Minute)) {
		t.Fatalf("failure after the window: %+v", st)
	}
	at := now.Add(2*time.Minute + 10*time.Second)
	step(false, at)
	st := step(false, at.Add(time.Second))
	if !st.Locked(at.Add(time.Second)) || !st.LockedUntil.Equal(at.Add(time.Second+10*time.Minute)) {
		t.Fatalf("third failure in the window must lock: %+v", st)
	}
	// Locked: a success is answered with the lock, and changes nothing.
	if st2 := step(true, at.Add(time.Minute)); !st2.Locked(at.Add(time.Minute)) || st2 != st {
		t.Fatalf("success while locked: %+v", st2)
	}
	// After the lockout the account opens again.
	if st3 := step(true, at.Add(12*time.Minute)); st3.Locked(at.Add(12*time.Minute)) || st3.Failures != 0 {
		t.Fatalf("after the lockout: %+v", st3)
	}
	// A password reset clears a lock at once.
	step(false, at.Add(13*time.Minute))
	step(false, at.Add(13*time.Minute))
	step(false, at.Add(13*time.Minute))
	mustNoErr(t, s.SetPassword(ctx, "acme", "alice", []byte("h2")))
	if st, _ := s.GetLoginState(ctx, "acme", "alice"); st.Locked(at.Add(13*time.Minute)) || st.SessionGen != 1 {
		t.Fatalf("after reset: %+v", st)
	}
	if _, err := s.RecordLogin(ctx, "acme", "mallory", false, now, p); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := s.RecordLogin(ctx, "acme", "alice", false, now, LoginPolicy{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty policy: %v", err)
	}
}

func TestRevocationsExpire(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	exp := t0.Add(time.Hour)
	mustNoErr(t, s.RevokeSession(ctx, "s1", exp, t0))
	if r, err := s.IsRevoked(ctx, "s1", exp); err != nil || !r {
		t.Fatalf("s1 revoked: %v %v", r, err)
	}
	if r, _ := s.IsRevoked(ctx, "s2", exp); r {
		t.Fatal("s2 not revoked")
	}
	// A later revocation, after s1 expired, prunes it.
	mustNoErr(t, s.RevokeSession(ctx, "s2", t0.Add(3*time.Hour), t0.Add(2*time.Hour)))
	if r, _ := s.IsRevoked(ctx, "s1", exp); r {
		t.Fatal("expired revocation kept")
	}
	if n, _ := s.CountRevocations(ctx); n != 1 {
		t.Fatalf("%d revocations kept, want 1", n)
	}
}

func TestDeleteAccountTakesItsKeys(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mustNoErr(t, s.CreateTenant(ctx, Tenant{ID: "acme", State: TenantActive}))
	mustNoErr(t, s.CreateUser(ctx, User{Tenant: "acme", Name: "alice"}))
	mustNoErr(t, s.CreateUser(ctx, User{Tenant: "acme", Name: "bob"}))
	mustNoErr(t, s.CreateAccessKey(ctx, AccessKey{ID: "KA", Tenant: "acme", User: "alice", Enabled: true}, "secret-a"))
	mustNoErr(t, s.CreateAccessKey(ctx, AccessKey{ID: "KB", Tenant: "acme", User: "bob", Enabled: true}, "secret-b"))
	mustNoErr(t, s.DeleteAccount(ctx, "acme", "alice"))
	if _, _, err := s.GetAccessKey(ctx, "KA"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("alice's key survived: %v", err)
	}
	if _, _, err := s.GetAccessKey(ctx, "KB"); err != nil {
		t.Fatalf("bob's key: %v", err)
	}
	keys, _ := s.ListAccessKeys(ctx, "acme")
	if len(keys) != 1 || keys[0].ID != "KB" {
		t.Fatalf("keys after delete: %+v", keys)
	}
	if err := s.DeleteAccount(ctx, "acme", "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestDeleteTenantRefusesData(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mustNoErr(t, s.CreateTenant(ctx, Tenant{ID: "acme", State: TenantActive}))
	mustNoErr(t, s.CreateUser(ctx, User{Tenant: "acme", Name: "alice"}))
	mustNoErr(t, s.CreateAccessKey(ctx, AccessKey{ID: "KA", Tenant: "acme", User: "alice", Enabled: true}, "secret-a"))
	mustNoErr(t, s.SetTenantQuota(ctx, "acme", TenantQuota{MaxBytes: 10}))
	mustNoErr(t, s.UpdateBilling(ctx, BillingChange{Tenant: "acme", SetCustomer: true, CustomerID: "cus_1"}, t0))
	mustNoErr(t, s.CreateContainer(ctx, Container{Tenant: "acme", Name: "photos"}))
	if err := s.DeleteTenant(ctx, "acme"); !errors.Is(err, ErrTenantNotEmpty) {
		t.Fatalf("delete with a container: %v", err)
	}
	if _, err := s.GetTenant(ctx, "acme"); err != nil {
		t.Fatalf("refused delete changed something: %v", err)
	}
	if _, err := s.DeleteContainer(ctx, "acme", "photos"); err != nil {
		t.Fatal(err)
	}
	mustNoErr(t, s.DeleteTenant(ctx, "acme"))
	if _, err := s.GetTenant(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tenant after delete: %v", err)
	}
	if _, _, err := s.GetAccessKey(ctx, "KA"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key after delete: %v", err)
	}
	if us, _ := s.ListUsers(ctx, "acme"); len(us) != 0 {
		t.Fatalf("users after delete: %+v", us)
	}
	if a, _ := s.GetBillingAccount(ctx, "acme"); a.CustomerID != "" {
		t.Fatalf("billing after delete: %+v", a)
	}
	if st, _ := s.GetTenantSettings(ctx, "acme"); st.Quota.MaxBytes != 0 {
		t.Fatalf("settings after delete: %+v", st)
	}
	if err := s.DeleteTenant(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestAssignPlanAndBilling(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mustNoErr(t, s.CreateTenant(ctx, Tenant{ID: "acme", Plan: "standard", State: TenantActive}))
	mustNoErr(t, s.AssignPlan(ctx, "acme", "free", TenantLimits{Override: true, RequestsPerSec: 5, Burst: 10}, TenantQuota{MaxBytes: 100}))
	ten, _ := s.GetTenant(ctx, "acme")
	st, _ := s.GetTenantSettings(ctx, "acme")
	if ten.Plan != "free" || st.Limits.RequestsPerSec != 5 || st.Quota.MaxBytes != 100 {
		t.Fatalf("after assign: %+v %+v", ten, st)
	}
	if err := s.AssignPlan(ctx, "nobody", "free", TenantLimits{}, TenantQuota{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("assign to a missing tenant: %v", err)
	}
	// An event applies once; its replay changes nothing.
	ch := BillingChange{Tenant: "acme", SetStatus: true, Status: "past_due", PastDueSince: t0, EventID: "evt_1", EventCreated: t0}
	mustNoErr(t, s.UpdateBilling(ctx, ch, t0))
	ch.Status = "active"
	if err := s.UpdateBilling(ctx, ch, t0.Add(time.Minute)); !errors.Is(err, ErrExists) {
		t.Fatalf("replayed event: %v", err)
	}
	a, _ := s.GetBillingAccount(ctx, "acme")
	if a.Status != "past_due" || !a.PastDueSince.Equal(t0) {
		t.Fatalf("account: %+v", a)
	}
	// Fields not selected are kept.
	mustNoErr(t, s.UpdateBilling(ctx, BillingChange{Tenant: "acme", SetCustomer: true, CustomerID: "cus_1", SubscriptionID: "sub_1"}, t0))
	a, _ = s.GetBillingAccount(ctx, "acme")
	if a.Status != "past_due" || a.CustomerID != "cus_1" {
		t.Fatalf("account after customer: %+v", a)
	}
	// Pushed-through only moves forward.
	hour := t0.Truncate(time.Hour)
	mustNoErr(t, s.SetUsagePushed(ctx, "acme", hour.Add(2*time.Hour), t0))
	mustNoErr(t, s.SetUsagePushed(ctx, "acme", hour.Add(time.Hour), t0))
	a, _ = s.GetBillingAccount(ctx, "acme")
	if !a.PushedThrough.Equal(hour.Add(2 * time.Hour)) {
		t.Fatalf("pushed through %v", a.PushedThrough)
	}
	// Remembered events are forgotten after the retention.
	later := t0.Add(webhookEventRetention + time.Hour)
	mustNoErr(t, s.UpdateBilling(ctx, BillingChange{Tenant: "acme", EventID: "evt_2", EventCreated: later}, later))
	if err := s.UpdateBilling(ctx, BillingChange{Tenant: "acme", EventID: "evt_1", EventCreated: t0}, later); err != nil {
		t.Fatalf("an event past the retention is forgotten: %v", err)
	}
	as, _ := s.ListBillingAccounts(ctx)
	if len(as) != 1 || as[0].Tenant != "acme" {
		t.Fatalf("list: %+v", as)
	}
}

func TestConsoleCommandsNeedClusterVersion2(t *testing.T) {
	s := openAtV1(t)
	ctx := ctxT(t)
	if err := s.CreateOperator(ctx, Operator{Name: "ops"}); !errors.Is(err, ErrUpgradeRequired) {
		t.Fatalf("operator at version 1: %v", err)
	}
	if err := s.RevokeSession(ctx, "s", t0, t0); !errors.Is(err, ErrUpgradeRequired) {
		t.Fatalf("revoke at version 1: %v", err)
	}
	mustNoErr(t, s.SetClusterVersion(ctx, ClusterVersion2))
	mustNoErr(t, s.CreateOperator(ctx, Operator{Name: "ops"}))
}
