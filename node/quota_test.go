package node_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/tenancy"
)

// TestQuotaRefusalLeavesNothing: a PUT the state machine refuses for quota
// leaves no shard behind, and the pre-check refuses on the declared size.
func TestQuotaRefusalLeavesNothing(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1})
	e := n.Engine
	ctx := context.Background()
	mustContainer(t, e, "c")
	if _, err := e.SetTenantQuota(ctx, tenant, tenancy.Quota{MaxBytes: 100 << 10}); err != nil {
		t.Fatal(err)
	}
	put(t, e, "c", "a", randBytes(1, 60<<10))
	// The pre-check: the declared size alone does not fit, an exact fit does.
	if err := e.CheckWriteQuota(ctx, tenant, "c", "b", 40<<10+1); !errors.Is(err, node.ErrQuotaExceeded) {
		t.Fatalf("pre-check one byte over: %v", err)
	}
	if err := e.CheckWriteQuota(ctx, tenant, "c", "b", 40<<10); err != nil {
		t.Fatalf("pre-check exact fit: %v", err)
	}
	if err := e.CheckWriteQuota(ctx, tenant, "c", "a", 100<<10); err != nil {
		t.Fatalf("pre-check of an overwrite counts the difference: %v", err)
	}
	var qe *node.QuotaError
	// The state machine decides a PUT whose size was not declared.
	_, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "b", Body: bytes.NewReader(randBytes(2, 41<<10)), Size: -1})
	if !errors.Is(err, node.ErrQuotaExceeded) || !errors.As(err, &qe) {
		t.Fatalf("over-quota put: %v", err)
	}
	e.Close() // let no background sweep hide a leftover
	if c := shardFiles(t, n); c != 4 {
		t.Fatalf("%d shard files, want the 4 of artifact a", c)
	}
}

func TestTenantLimitsAndEgress(t *testing.T) {
	e, _ := nodetest.Start(t)
	ctx := context.Background()
	if _, err := e.CreateTenant(ctx, "acme", "Acme", "pro"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.TenantLimits(ctx, "nope"); !errors.Is(err, node.ErrTenantNotFound) {
		t.Fatalf("limits of unknown tenant: %v", err)
	}
	if _, err := e.SetTenantLimits(ctx, "acme", true, tenancy.Limit{RequestsPerSec: -1}); !errors.Is(err, node.ErrInvalidArgument) {
		t.Fatalf("negative rate: %v", err)
	}
	tl, err := e.SetTenantLimits(ctx, "acme", true, tenancy.Limit{RequestsPerSec: 5, Burst: 9, BytesOutPerSec: 1000})
	if err != nil {
		t.Fatal(err)
	}
	def := tenancy.Limit{RequestsPerSec: 100, Burst: 200}
	if lim, ok := tl.Tenancy(def); !ok || lim != (tenancy.Limit{RequestsPerSec: 5, Burst: 9, BytesOutPerSec: 1000}) {
		t.Fatalf("effective limit %+v %v", lim, ok)
	}
	tl, err = e.SetTenantLimits(ctx, "acme", false, tenancy.Limit{RequestsPerSec: 5, BytesOutPerSec: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if lim, ok := tl.Tenancy(def); !ok || lim != (tenancy.Limit{RequestsPerSec: 100, Burst: 200, BytesOutPerSec: 1000}) {
		t.Fatalf("bandwidth-only limit %+v %v", lim, ok)
	}
	all, err := e.AllTenantLimits(ctx)
	if err != nil || len(all) != 1 || all[0].Tenant != "acme" {
		t.Fatalf("AllTenantLimits = %+v, %v", all, err)
	}

	// Egress: refused once the month's recorded egress reaches the quota.
	if _, err := e.SetTenantQuota(ctx, "acme", tenancy.Quota{MaxEgressBytesPerMonth: 100}); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckEgressQuota(ctx, "acme"); err != nil {
		t.Fatalf("egress before any: %v", err)
	}
	meter := tenancy.NewMeter(nil)
	m, err := e.NewMetering(node.MeteringConfig{Meter: meter})
	if err != nil {
		t.Fatal(err)
	}
	meter.Record("acme", "GetObject", 0, 99)
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckEgressQuota(ctx, "acme"); err != nil {
		t.Fatalf("egress 99 of 100: %v", err)
	}
	meter.Record("acme", "GetObject", 0, 1)
	meter.Record("acme", "PutObject", 10, 0)
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckEgressQuota(ctx, "acme"); !errors.Is(err, node.ErrQuotaExceeded) {
		t.Fatalf("egress 100 of 100: %v", err)
	}
	u, err := e.TenantUsage(ctx, "acme")
	if err != nil || u.MonthEgressBytes != 100 {
		t.Fatalf("usage %+v, %v", u, err)
	}
	now := time.Now().UTC()
	hours, err := e.UsageHours(ctx, "acme", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil || len(hours) != 1 || hours[0].ClassA != 1 || hours[0].ClassB != 2 || hours[0].IngressBytes != 10 {
		t.Fatalf("usage hours %+v, %v", hours, err)
	}
	if _, err := e.SetContainerQuota(ctx, "acme", "nope", tenancy.Quota{MaxBytes: 1}); !errors.Is(err, node.ErrContainerNotFound) {
		t.Fatalf("quota of missing container: %v", err)
	}
}

// TestMeteringPrunesOldUsageHours: the leader's metering deletes hourly
// usage records past the retention when it samples storage, and keeps
// the others.
func TestMeteringPrunesOldUsageHours(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{})
	e, ctx := n.Engine, context.Background()
	if _, err := e.CreateTenant(ctx, "acme", "Acme", ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var deltas []metastore.UsageDelta
	for _, age := range []time.Duration{0, 47 * time.Hour, 49 * time.Hour, 24 * 400 * time.Hour} {
		deltas = append(deltas, metastore.UsageDelta{Tenant: "acme", Start: now.Add(-age), ClassB: 1})
	}
	if err := n.Meta.RecordUsage(ctx, [16]byte{}, now, deltas); err != nil {
		t.Fatal(err)
	}
	m, err := e.NewMetering(node.MeteringConfig{Meter: tenancy.NewMeter(nil), Retention: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hours, err := e.UsageHours(ctx, "acme", now.Add(-500*24*time.Hour), now.Add(time.Hour))
	if err != nil || len(hours) != 2 {
		t.Fatalf("after the prune: %d hours (%+v), %v; want the 2 within 48 h", len(hours), hours, err)
	}
	if _, err := e.NewMetering(node.MeteringConfig{Meter: tenancy.NewMeter(nil), Retention: time.Minute}); err == nil {
		t.Fatal("a retention of a minute was accepted")
	}
}
