package node_test

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

func TestAdminErrors(t *testing.T) {
	eng, _ := nodetest.Start(t)
	ctx := context.Background()
	if _, err := eng.CreateTenant(ctx, "acme", "Acme", "pro"); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CreateUser(ctx, "acme", "alice", ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"duplicate tenant", func() error { _, err := eng.CreateTenant(ctx, "acme", "", ""); return err }, node.ErrTenantExists},
		{"get missing tenant", func() error { _, err := eng.GetTenant(ctx, "nope"); return err }, node.ErrTenantNotFound},
		{"suspend missing tenant", func() error { _, err := eng.SetTenantState(ctx, "nope", node.TenantSuspended); return err }, node.ErrTenantNotFound},
		{"bad state", func() error { _, err := eng.SetTenantState(ctx, "acme", "frozen"); return err }, node.ErrInvalidArgument},
		{"suspend root", func() error { _, err := eng.SetTenantState(ctx, node.RootTenant, node.TenantSuspended); return err }, node.ErrInvalidArgument},
		{"user in missing tenant", func() error { _, err := eng.CreateUser(ctx, "nope", "bob", ""); return err }, node.ErrTenantNotFound},
		{"duplicate user", func() error { _, err := eng.CreateUser(ctx, "acme", "alice", ""); return err }, node.ErrUserExists},
		{"empty user", func() error { _, err := eng.CreateUser(ctx, "acme", "", ""); return err }, node.ErrInvalidArgument},
		{"list users of missing tenant", func() error { _, err := eng.ListUsers(ctx, "nope"); return err }, node.ErrTenantNotFound},
		{"key for missing user", func() error { _, err := eng.CreateAccessKey(ctx, "acme", "bob"); return err }, node.ErrUserNotFound},
		{"key for missing tenant", func() error { _, err := eng.CreateAccessKey(ctx, "nope", "alice"); return err }, node.ErrTenantNotFound},
		{"list keys of missing tenant", func() error { _, err := eng.ListAccessKeys(ctx, "nope"); return err }, node.ErrTenantNotFound},
		{"disable missing key", func() error { _, err := eng.SetAccessKeyEnabled(ctx, "VANOPE", false); return err }, node.ErrAccessKeyNotFound},
		{"delete missing key", func() error { _, err := eng.DeleteAccessKey(ctx, "VANOPE"); return err }, node.ErrAccessKeyNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestAdminKeyLifecycle(t *testing.T) {
	eng, _ := nodetest.Start(t)
	ctx := context.Background()
	if _, err := eng.CreateTenant(ctx, "acme", "Acme", "pro"); err != nil {
		t.Fatal(err)
	}
	u, err := eng.CreateUser(ctx, "acme", "alice", "s3cret")
	if err != nil || !u.HasPassword {
		t.Fatalf("user %+v, %v", u, err)
	}
	cred, err := eng.CreateAccessKey(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^VA[0-9A-F]{20}$`).MatchString(cred.AccessKeyID) {
		t.Errorf("access key id %q", cred.AccessKeyID)
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(cred.Secret) {
		t.Errorf("secret has the wrong form (len %d)", len(cred.Secret))
	}
	usable := func(want bool) {
		t.Helper()
		got, err := eng.Credential(ctx, cred.AccessKeyID)
		switch {
		case want && err != nil:
			t.Fatalf("credential refused: %v", err)
		case want && (got.Secret != cred.Secret || got.Tenant != "acme" || got.User != "alice"):
			t.Fatalf("credential %+v", got)
		case !want && !errors.Is(err, node.ErrAccessKeyUnknown):
			t.Fatalf("got %v, want ErrAccessKeyUnknown", err)
		}
	}
	usable(true)

	keys, err := eng.ListAccessKeys(ctx, "acme")
	if err != nil || len(keys) != 1 || keys[0].ID != cred.AccessKeyID || !keys[0].Enabled {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	steps := []struct {
		name string
		do   func() error
		ok   bool
	}{
		{"disable", func() error { _, err := eng.SetAccessKeyEnabled(ctx, cred.AccessKeyID, false); return err }, false},
		{"enable", func() error { _, err := eng.SetAccessKeyEnabled(ctx, cred.AccessKeyID, true); return err }, true},
		{"suspend tenant", func() error { _, err := eng.SetTenantState(ctx, "acme", node.TenantSuspended); return err }, false},
		{"resume tenant", func() error { _, err := eng.SetTenantState(ctx, "acme", node.TenantActive); return err }, true},
		{"delete key", func() error { _, err := eng.DeleteAccessKey(ctx, cred.AccessKeyID); return err }, false},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		t.Run(s.name, func(t *testing.T) { usable(s.ok) })
	}
	ts, err := eng.ListTenants(ctx)
	if err != nil || len(ts) != 2 || ts[0].ID != "acme" || ts[1].ID != node.RootTenant || ts[0].State != node.TenantActive {
		t.Fatalf("tenants %+v, %v", ts, err)
	}
	us, err := eng.ListUsers(ctx, "acme")
	if err != nil || len(us) != 1 || us[0].Name != "alice" {
		t.Fatalf("users %+v, %v", us, err)
	}
}

func TestAdminConcurrentCreateTenant(t *testing.T) {
	eng, _ := nodetest.Start(t)
	ctx := context.Background()
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := eng.CreateTenant(ctx, "race", "Race", "p"+string(rune('0'+i)))
			errs <- err
		}()
	}
	created := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			created++
		case !errors.Is(err, node.ErrTenantExists):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if created != 1 {
		t.Fatalf("%d creations succeeded, want exactly 1", created)
	}
}
