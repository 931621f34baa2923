package cluster

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines after the package's tests. It is
// the package's only TestMain.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quietLogger discards logs unless CLUSTER_TEST_LOG is set.
func quietLogger() *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// mustSecret returns a fresh random cluster secret.
func mustSecret(t testing.TB) Secret {
	t.Helper()
	s, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
