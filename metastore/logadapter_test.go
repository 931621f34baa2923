package metastore

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHCLogAdapter(t *testing.T) {
	var buf syncBuffer
	l := newHCLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), "raft")
	if l.IsDebug() || l.IsTrace() || !l.IsInfo() || !l.IsWarn() || !l.IsError() || l.GetLevel() != hclog.Info {
		t.Fatalf("levels: debug %v trace %v info %v level %v", l.IsDebug(), l.IsTrace(), l.IsInfo(), l.GetLevel())
	}
	l.Debug("hidden")
	l.Trace("hidden")
	n := l.Named("net").With("peer", "p1")
	n.Warn("slow", "took", hclog.Fmt("%dms", 12))
	l.ResetNamed("other").Error("bad", "error", "boom")
	n.StandardLogger(nil).Print("from std")
	out := buf.String()
	for _, want := range []string{`level=WARN msg=slow module=raft.net peer=p1 took=12ms`, `level=ERROR msg=bad module=other error=boom`, `msg="from std" module=raft.net`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("debug lines leaked:\n%s", out)
	}
	if n.Name() != "raft.net" || len(n.ImpliedArgs()) != 2 {
		t.Errorf("name %q args %v", n.Name(), n.ImpliedArgs())
	}
}

// TestStoreLogsThroughInjectedLogger: Raft's and the Store's lines reach
// the slog.Logger of the Config.
func TestStoreLogsThroughInjectedLogger(t *testing.T) {
	var buf syncBuffer
	s := openSingle(t, t.TempDir(), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	mkContainer(t, s, "t1", "c1")
	out := buf.String()
	for _, want := range []string{"entering leader state", "module=raft", "metastore: opened"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
