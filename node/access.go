package node

import (
	"context"
	"errors"

	"github.com/vaultaire/vaultaire/metastore"
)

// This file holds the tenant-level access settings the s3 and admin
// layers parse and enforce: user identity policies and the tenant's
// PublicAccessBlock. The Engine stores them opaquely (replicated through
// Raft like every record); the edges check their syntax first.

// UserPolicy returns the identity policy document of a user, "" when it
// has none.
func (e *Engine) UserPolicy(ctx context.Context, tenant, user string) (string, error) {
	v, err := e.meta.GetAccess(ctx, tenant, metastore.AccessUserPolicyPrefix+user)
	return v, metaErr(err)
}

// SetUserPolicy attaches an identity policy document to an existing user
// (ErrTenantNotFound, ErrUserNotFound); "" removes it.
func (e *Engine) SetUserPolicy(ctx context.Context, tenant, user, doc string) error {
	err := e.meta.SetAccess(ctx, tenant, metastore.AccessUserPolicyPrefix+user, doc)
	return e.accessErr(ctx, tenant, err)
}

// TenantPublicAccessBlock returns the tenant's PublicAccessBlock setting,
// "" when it has none.
func (e *Engine) TenantPublicAccessBlock(ctx context.Context, tenant string) (string, error) {
	v, err := e.meta.GetAccess(ctx, tenant, metastore.AccessPublicAccessBlock)
	return v, metaErr(err)
}

// SetTenantPublicAccessBlock sets an existing tenant's PublicAccessBlock
// (ErrTenantNotFound); "" removes it.
func (e *Engine) SetTenantPublicAccessBlock(ctx context.Context, tenant, value string) error {
	err := e.meta.SetAccess(ctx, tenant, metastore.AccessPublicAccessBlock, value)
	return e.accessErr(ctx, tenant, err)
}

// TenantExists reports whether a tenant exists: what tenant-qualified
// bucket names ("tenant:bucket") resolve through.
func (e *Engine) TenantExists(ctx context.Context, tenant string) (bool, error) {
	_, err := e.meta.GetTenant(ctx, tenant)
	if errors.Is(err, metastore.ErrNotFound) {
		return false, nil
	}
	return err == nil, metaErr(err)
}

// accessErr names what was not found: the tenant or the user.
func (e *Engine) accessErr(ctx context.Context, tenant string, err error) error {
	if !errors.Is(err, metastore.ErrNotFound) {
		return adminErr(err, nil)
	}
	if ok, terr := e.TenantExists(ctx, tenant); terr == nil && !ok {
		return adminErr(err, ErrTenantNotFound)
	}
	return adminErr(err, ErrUserNotFound)
}
