package metastore

import (
	"errors"
	"testing"
)

func TestAccessSettings(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mustNoErr(t, s.CreateTenant(ctx, Tenant{ID: "acme", State: TenantActive}))
	mustNoErr(t, s.CreateUser(ctx, User{Tenant: "acme", Name: "alice", PasswordHash: []byte("h")}))
	const pol = `{"Statement":[]}`
	mustNoErr(t, s.SetAccess(ctx, "acme", "user/alice", pol))
	mustNoErr(t, s.SetAccess(ctx, "acme", AccessPublicAccessBlock, "1111"))
	if v, err := s.GetAccess(ctx, "acme", "user/alice"); err != nil || v != pol {
		t.Fatalf("get: %q %v", v, err)
	}
	for _, c := range []struct{ tenant, name, value string }{
		{"acme", "user/bob", pol},              // no such user
		{"nope", AccessPublicAccessBlock, "1"}, // no such tenant
	} {
		if err := s.SetAccess(ctx, c.tenant, c.name, c.value); !errors.Is(err, ErrNotFound) {
			t.Errorf("%+v: %v, want ErrNotFound", c, err)
		}
	}
	if err := s.SetAccess(ctx, "acme", "color", "x"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unknown setting: %v", err)
	}
	if err := s.SetAccess(ctx, "acme", "user/alice", string(make([]byte, maxAccessValue+1))); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("oversized: %v", err)
	}
	// Removing, and deleting the user, take the policy away.
	mustNoErr(t, s.SetAccess(ctx, "acme", AccessPublicAccessBlock, ""))
	if v, _ := s.GetAccess(ctx, "acme", AccessPublicAccessBlock); v != "" {
		t.Fatalf("after removal: %q", v)
	}
	mustNoErr(t, s.DeleteAccount(ctx, "acme", "alice"))
	if v, _ := s.GetAccess(ctx, "acme", "user/alice"); v != "" {
		t.Fatalf("policy of a deleted user: %q", v)
	}
	mustNoErr(t, s.SetAccess(ctx, "acme", AccessPublicAccessBlock, "1"))
	mustNoErr(t, s.DeleteTenant(ctx, "acme"))
	if v, _ := s.GetAccess(ctx, "acme", AccessPublicAccessBlock); v != "" {
		t.Fatalf("setting of a deleted tenant: %q", v)
	}
}
