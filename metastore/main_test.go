package metastore

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		// The crash test's child: killed by its parent, never leak-checked.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

var testMasterKey = []byte("0123456789abcdef0123456789abcdef")

// testLogger discards logs unless METASTORE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("METASTORE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig returns a configuration with short Raft timings for tests.
func testConfig(id, dir string) Config {
	return Config{
		NodeID:             id,
		Dir:                dir,
		MasterKey:          testMasterKey,
		Logger:             testLogger(),
		HeartbeatTimeout:   200 * time.Millisecond,
		ElectionTimeout:    200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		ApplyTimeout:       20 * time.Second,
		CloseTimeout:       20 * time.Second,
		CacheSize:          8 << 20,
	}
}

// openSingle opens a bootstrapped single-node store over an in-memory
// transport and waits for it to lead.
func openSingle(t testing.TB, dir string, mod ...func(*Config)) *Store {
	t.Helper()
	cfg := testConfig("n1", dir)
	cfg.Bootstrap = true
	_, trans := raft.NewInmemTransport("n1-addr")
	cfg.Transport = trans
	for _, m := range mod {
		m(&cfg)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		trans.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitLeader(ctx); err != nil {
		t.Fatalf("WaitLeader: %v", err)
	}
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
