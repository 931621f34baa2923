package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

func loginReason(err error) string {
	var le *node.LoginError
	if errors.As(err, &le) {
		return le.Reason
	}
	return fmt.Sprint(err)
}

func TestLoginLockoutAndSessions(t *testing.T) {
	eng, _ := nodetest.Start(t)
	ctx := context.Background()
	if _, err := eng.CreateTenant(ctx, "acme", "Acme", "standard"); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CreateUser(ctx, "acme", "alice", "right password"); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CreateUser(ctx, "acme", "nopass", ""); err != nil {
		t.Fatal(err)
	}
	p := node.LoginPolicy{MaxFailures: 3, Window: time.Minute, Lockout: time.Hour}
	alice := node.Account{Tenant: "acme", Name: "alice"}

	// Every refusal is ErrLoginFailed; the reason is for the audit log.
	for _, c := range []struct {
		acct node.Account
		pw   string
		want string
	}{
		{node.Account{Tenant: "acme", Name: "mallory"}, "x", "unknown account"},
		{node.Account{Tenant: "nope", Name: "alice"}, "right password", "unknown account"},
		{node.Account{Tenant: "acme", Name: "nopass"}, "", "unknown account"},
		{node.Account{Name: "alice"}, "right password", "unknown account"}, // no such operator
		{alice, "wrong", "wrong password"},
	} {
		_, err := eng.Login(ctx, c.acct, c.pw, p)
		if !errors.Is(err, node.ErrLoginFailed) || loginReason(err) != c.want {
			t.Errorf("login %+v: %v, want %s", c.acct, err, c.want)
		}
	}
	g, err := eng.Login(ctx, alice, "right password", p)
	if err != nil || g.Account != alice {
		t.Fatalf("right password: %+v %v", g, err)
	}
	exp := time.Now().Add(time.Hour)
	if err := eng.CheckSession(ctx, alice, g.Gen, "sid-1", exp); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	// Logout revokes.
	if err := eng.RevokeSession(ctx, "sid-1", exp); err != nil {
		t.Fatal(err)
	}
	if err := eng.CheckSession(ctx, alice, g.Gen, "sid-1", exp); !errors.Is(err, node.ErrSessionInvalid) {
		t.Fatalf("revoked session: %v", err)
	}
	// Three wrong passwords lock; then even the right one is refused.
	for i := 0; i < 3; i++ {
		_, err = eng.Login(ctx, alice, "wrong", p)
	}
	if loginReason(err) != "locked now" {
		t.Fatalf("third failure: %v", err)
	}
	if _, err := eng.Login(ctx, alice, "right password", p); loginReason(err) != "locked" {
		t.Fatalf("right password while locked: %v", err)
	}
	// An operator's reset unlocks and ends older sessions.
	if err := eng.SetPassword(ctx, alice, "new password"); err != nil {
		t.Fatal(err)
	}
	if err := eng.CheckSession(ctx, alice, g.Gen, "sid-2", exp); !errors.Is(err, node.ErrSessionInvalid) {
		t.Fatalf("session from before the reset: %v", err)
	}
	g2, err := eng.Login(ctx, alice, "new password", p)
	if err != nil || g2.Gen == g.Gen {
		t.Fatalf("login after reset: %+v %v", g2, err)
	}
	// The user's own change checks the current password.
	if _, err := eng.ChangePassword(ctx, alice, "not it", "third password", p); !errors.Is(err, node.ErrLoginFailed) {
		t.Fatalf("change with a wrong current password: %v", err)
	}
	g3, err := eng.ChangePassword(ctx, alice, "new password", "third password", p)
	if err != nil || g3.Gen == g2.Gen {
		t.Fatalf("change: %+v %v", g3, err)
	}
	// Suspending the tenant ends its sessions and refuses logins.
	if _, err := eng.SetTenantState(ctx, "acme", node.TenantSuspended); err != nil {
		t.Fatal(err)
	}
	if err := eng.CheckSession(ctx, alice, g3.Gen, "sid-3", exp); !errors.Is(err, node.ErrSessionInvalid) {
		t.Fatalf("session of a suspended tenant: %v", err)
	}
	if _, err := eng.Login(ctx, alice, "third password", p); loginReason(err) != "tenant suspended" {
		t.Fatalf("login to a suspended tenant: %v", err)
	}
	if _, err := eng.SetTenantState(ctx, "acme", node.TenantActive); err != nil {
		t.Fatal(err)
	}
	// Deleting the user ends its sessions and its keys.
	cred, err := eng.CreateAccessKey(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.DeleteUser(ctx, "acme", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := eng.CheckSession(ctx, alice, g3.Gen, "sid-3", exp); !errors.Is(err, node.ErrSessionInvalid) {
		t.Fatalf("session of a deleted user: %v", err)
	}
	if _, err := eng.Credential(ctx, cred.AccessKeyID); !errors.Is(err, node.ErrAccessKeyUnknown) {
		t.Fatalf("key of a deleted user: %v", err)
	}
	if err := eng.DeleteUser(ctx, "acme", "alice"); !errors.Is(err, node.ErrUserNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := eng.DeleteUser(ctx, node.RootTenant, node.RootTenant); !errors.Is(err, node.ErrInvalidArgument) {
		t.Fatalf("delete root: %v", err)
	}
}

func TestOperatorAccounts(t *testing.T) {
	eng, _ := nodetest.Start(t)
	ctx := context.Background()
	if _, err := eng.CreateOperator(ctx, "ops", "operator password"); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CreateOperator(ctx, "ops", "x"); !errors.Is(err, node.ErrOperatorExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := eng.CreateOperator(ctx, "long", string(bytes.Repeat([]byte("x"), 73))); !errors.Is(err, node.ErrInvalidArgument) {
		t.Fatalf("73-byte password: %v", err)
	}
	ops := node.Account{Name: "ops"}
	g, err := eng.Login(ctx, ops, "operator password", node.DefaultLoginPolicy)
	if err != nil || !g.Account.IsOperator() {
		t.Fatalf("operator login: %+v %v", g, err)
	}
	// An operator is no tenant user, and a tenant user no operator.
	if _, err := eng.Login(ctx, node.Account{Tenant: node.RootTenant, Name: "ops"}, "operator password", node.DefaultLoginPolicy); !errors.Is(err, node.ErrLoginFailed) {
		t.Fatalf("operator as a tenant user: %v", err)
	}
	list, err := eng.ListOperators(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "ops" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := eng.DeleteOperator(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := eng.CheckSession(ctx, ops, g.Gen, "sid", time.Now().Add(time.Hour)); !errors.Is(err, node.ErrSessionInvalid) {
		t.Fatalf("session of a deleted operator: %v", err)
	}
	if err := eng.DeleteOperator(ctx, "ops"); !errors.Is(err, node.ErrOperatorNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestDeleteTenant(t *testing.T) {
	eng, _ := nodetest.Start(t)
	ctx := context.Background()
	if _, err := eng.CreateTenant(ctx, "acme", "Acme", "standard"); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CreateUser(ctx, "acme", "alice", ""); err != nil {
		t.Fatal(err)
	}
	cred, err := eng.CreateAccessKey(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.CreateContainer(ctx, "acme", node.CreateContainerInput{Name: "photos"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		body := bytes.Repeat([]byte{byte(i)}, 100<<10) // shards, not inline
		if _, err := eng.PutArtifact(ctx, "acme", node.PutInput{Container: "photos", Key: fmt.Sprintf("k%d", i), Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := eng.CreateUpload(ctx, "acme", node.UploadInput{Container: "photos", Key: "big"}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.DeleteTenant(ctx, "acme", false); !errors.Is(err, node.ErrTenantNotEmpty) {
		t.Fatalf("delete without force: %v", err)
	}
	if _, err := eng.GetTenant(ctx, "acme"); err != nil {
		t.Fatalf("a refused delete changed something: %v", err)
	}
	rep, err := eng.DeleteTenant(ctx, "acme", true)
	if err != nil || rep != (node.DeleteReport{Containers: 1, Artifacts: 3, Uploads: 1}) {
		t.Fatalf("forced delete: %+v %v", rep, err)
	}
	if _, err := eng.GetTenant(ctx, "acme"); !errors.Is(err, node.ErrTenantNotFound) {
		t.Fatalf("tenant after delete: %v", err)
	}
	if _, err := eng.Credential(ctx, cred.AccessKeyID); !errors.Is(err, node.ErrAccessKeyUnknown) {
		t.Fatalf("key after delete: %v", err)
	}
	// A new tenant of the same id starts empty.
	if _, err := eng.CreateTenant(ctx, "acme", "Acme again", "standard"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := eng.ListContainers(ctx, "acme"); len(cs) != 0 {
		t.Fatalf("containers of the new tenant: %+v", cs)
	}
	if _, err := eng.DeleteTenant(ctx, node.RootTenant, true); !errors.Is(err, node.ErrInvalidArgument) {
		t.Fatalf("delete root: %v", err)
	}
	if _, err := eng.DeleteTenant(ctx, "nope", true); !errors.Is(err, node.ErrTenantNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
}

// BenchmarkLogin measures one password verification (bcrypt at
// node.PasswordCost) through Engine.Login, for a right password, a wrong
// one and an unknown account: the three must cost the same, so that timing
// does not tell whether an account exists.
func BenchmarkLogin(b *testing.B) {
	eng := nodetest.StartNode(b, nodetest.Options{PasswordCost: node.PasswordCost}).Engine
	ctx := context.Background()
	if _, err := eng.CreateTenant(ctx, "acme", "Acme", "standard"); err != nil {
		b.Fatal(err)
	}
	if _, err := eng.CreateUser(ctx, "acme", "alice", "right password"); err != nil {
		b.Fatal(err)
	}
	// A policy that never locks, so the wrong-password case keeps checking.
	p := node.LoginPolicy{MaxFailures: 1 << 40, Window: time.Hour, Lockout: time.Hour}
	for _, c := range []struct {
		name string
		acct node.Account
		pw   string
	}{
		{"right", node.Account{Tenant: "acme", Name: "alice"}, "right password"},
		{"wrong", node.Account{Tenant: "acme", Name: "alice"}, "wrong password"},
		{"unknown", node.Account{Tenant: "acme", Name: "mallory"}, "right password"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, _ = eng.Login(ctx, c.acct, c.pw, p)
			}
		})
	}
}
