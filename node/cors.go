package node

import (
	"context"
	"errors"

	"github.com/vaultaire/vaultaire/metastore"
)

// ContainerTenants returns the active tenants that have a container
// named name, ordered by tenant id. Container names are per tenant; this
// serves what arrives without a signature to say whose container it
// means: a CORS preflight (s3, cors.go, and docs/design.md "CORS
// preflight: which tenant's bucket"). It reads one record per tenant.
func (e *Engine) ContainerTenants(ctx context.Context, name string) ([]string, error) {
	ts, err := e.meta.ListTenants(ctx)
	if err != nil {
		return nil, metaErr(err)
	}
	var out []string
	for _, t := range ts {
		if t.State != metastore.TenantActive {
			continue
		}
		_, err := e.meta.GetContainer(ctx, t.ID, name)
		if errors.Is(err, metastore.ErrContainerNotFound) {
			continue
		}
		if err != nil {
			return nil, metaErr(err)
		}
		out = append(out, t.ID)
	}
	return out, nil
}
