package metastore

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestStatsAndOnApply(t *testing.T) {
	var applies atomic.Int64
	s := openSingle(t, t.TempDir(), func(c *Config) {
		c.OnApply = func(d time.Duration) {
			if d <= 0 {
				t.Errorf("apply latency %v", d)
			}
			applies.Add(1)
		}
	})
	ctx := ctxT(t)
	if err := s.CreateContainer(ctx, Container{Tenant: "t1", Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	if applies.Load() < 1 {
		t.Fatal("OnApply not called for a write")
	}
	st := s.Stats()
	if st.State != "Leader" || !st.HasLeader || st.Term == 0 || st.LastContact != 0 {
		t.Fatalf("leader stats: %+v", st)
	}
	if st.CommitIndex == 0 || st.AppliedIndex == 0 || !st.CaughtUp {
		t.Fatalf("indexes: %+v", st)
	}
	if st.DiskSpaceUsage == 0 {
		t.Fatalf("pebble disk usage 0: %+v", st)
	}
	// The write sits in a memtable (the block cache may be empty yet).
	if st.MemTableBytes <= 0 || st.BlockCacheBytes < 0 {
		t.Fatalf("pebble memory: %+v", st)
	}
	// Every committed entry went through a synced append (bootstrap
	// configuration, election no-op, the write).
	if st.LogSyncs == 0 || st.LogEntries < st.LogSyncs || st.LogEntries < st.CommitIndex || st.LogSyncTime <= 0 {
		t.Fatalf("log sync counters: %+v", st)
	}
	if err := s.WaitCaughtUp(ctx); err != nil {
		t.Fatalf("WaitCaughtUp: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.State != "Shutdown" || st.HasLeader {
		t.Fatalf("stats after Close: %+v", st)
	}
	if err := s.WaitCaughtUp(ctx); err == nil {
		t.Fatal("WaitCaughtUp after Close succeeded")
	}
}
