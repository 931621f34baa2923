package node_test

import (
	"context"
	"slices"
	"testing"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

func TestContainerTenants(t *testing.T) {
	eng, _ := nodetest.Start(t)
	ctx := context.Background()
	for _, id := range []string{"zeta", "acme", "idle"} {
		if _, err := eng.CreateTenant(ctx, id, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ tenant, name string }{
		{node.RootTenant, "shared"}, {"zeta", "shared"}, {"acme", "shared"}, {"acme", "own"}, {"idle", "shared"},
	} {
		if err := eng.CreateContainer(ctx, c.tenant, node.CreateContainerInput{Name: c.name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := eng.SetTenantState(ctx, "idle", node.TenantSuspended); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"shared": {"acme", node.RootTenant, "zeta"}, // by id; the suspended tenant left out
		"own":    {"acme"},
		"none":   nil,
	} {
		got, err := eng.ContainerTenants(ctx, name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v %v, want %v", name, got, err, want)
		}
	}
}
