package mem_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
	"github.com/vaultaire/vaultaire/drivers/mem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	driverstest.Run(t, func(t *testing.T) drivers.Driver { return mem.New() })
}

func TestUsageCountsBytes(t *testing.T) {
	ctx := context.Background()
	d := mem.New()
	if _, err := d.Put(ctx, "a", strings.NewReader("12345")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, "b", strings.NewReader("123")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, "a", strings.NewReader("1")); err != nil { // overwrite shrinks
		t.Fatal(err)
	}
	u, _ := d.Usage(ctx)
	if u.Used != 4 || !u.Online {
		t.Fatalf("Usage = %+v, want Used 4", u)
	}
	if err := d.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if u, _ := d.Usage(ctx); u.Used != 1 {
		t.Fatalf("Usage after delete = %+v, want Used 1", u)
	}
}
