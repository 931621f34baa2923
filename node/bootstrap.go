package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/vaultaire/vaultaire/metastore"
)

// RootTenant is the tenant created at first start for the operator.
const RootTenant = "root"

// EnsureRoot makes sure the root tenant, its user and the given access key
// exist. It is idempotent; it refuses to change the secret of an existing
// key (rotate keys through the admin API instead).
func (e *Engine) EnsureRoot(ctx context.Context, accessKeyID, secret string) error {
	if _, err := e.meta.GetTenant(ctx, RootTenant); errors.Is(err, metastore.ErrNotFound) {
		if err := e.meta.PutTenant(ctx, metastore.Tenant{ID: RootTenant, Name: "Root", Plan: "root", State: metastore.TenantActive, Created: now()}); err != nil {
			return fmt.Errorf("node: creating root tenant: %w", err)
		}
	} else if err != nil {
		return err
	}
	if _, err := e.meta.GetUser(ctx, RootTenant, RootTenant); errors.Is(err, metastore.ErrNotFound) {
		if err := e.meta.PutUser(ctx, metastore.User{Tenant: RootTenant, Name: RootTenant, Created: now()}); err != nil {
			return fmt.Errorf("node: creating root user: %w", err)
		}
	} else if err != nil {
		return err
	}
	k, got, err := e.meta.GetAccessKey(ctx, accessKeyID)
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		err := e.meta.CreateAccessKey(ctx, metastore.AccessKey{ID: accessKeyID, Tenant: RootTenant, User: RootTenant, Enabled: true, Created: now()}, secret)
		if errors.Is(err, metastore.ErrExists) {
			// Another node of the cluster created it at the same moment.
			return e.EnsureRoot(ctx, accessKeyID, secret)
		}
		if err != nil {
			return fmt.Errorf("node: creating root access key: %w", err)
		}
		return nil
	case err != nil:
		return err
	case k.Tenant != RootTenant:
		return fmt.Errorf("node: access key %s belongs to tenant %s, not root", accessKeyID, k.Tenant)
	case got != secret:
		return fmt.Errorf("node: access key %s exists with a different secret", accessKeyID)
	}
	return nil
}
