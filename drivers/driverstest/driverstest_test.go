package driverstest_test

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"go.uber.org/goleak"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
	"github.com/vaultaire/vaultaire/drivers/mem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The suite against the reference implementation: a failure here is a bug
// in the suite (or in mem), not in a driver under development.
func TestRunOnMem(t *testing.T) {
	driverstest.Run(t, func(t *testing.T) drivers.Driver { return mem.New() })
}

func TestPatternReader(t *testing.T) {
	a := driverstest.Pattern(42, 10_000)
	if len(a) != 10_000 {
		t.Fatalf("len = %d", len(a))
	}
	if !bytes.Equal(a, driverstest.Pattern(42, 10_000)) {
		t.Fatal("same seed gave different patterns")
	}
	if bytes.Equal(a, driverstest.Pattern(43, 10_000)) {
		t.Fatal("different seeds gave equal patterns")
	}
	if !bytes.Equal(a[:100], driverstest.Pattern(42, 100)) {
		t.Fatal("a shorter pattern is not a prefix of a longer one")
	}
	// Not constant and not trivially periodic.
	if bytes.Count(a, a[:1]) > 200 || bytes.Equal(a[:4096], a[4096:8192]) {
		t.Fatal("pattern looks degenerate")
	}
	if err := iotest.TestReader(driverstest.NewPatternReader(42, 10_000), a); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, driverstest.NewPatternReader(1, 0))
	if n != 0 || err != nil {
		t.Fatalf("empty pattern: %d, %v", n, err)
	}
}
