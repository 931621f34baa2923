package metastore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Reads of the hot-cached records see every committed write: after each
// change returns, a read (linearizable, and a stale one on the leader,
// which applied the write before answering) sees the new value, while
// other goroutines read the same keys concurrently (run with -race).
func TestHotCacheSeesEveryWrite(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				_, _ = s.GetContainer(ctx, "t1", "c1", Stale)
				_, _ = s.GetContainer(ctx, "t1", fmt.Sprintf("n%d", i), Stale)
				_, _ = s.GetTenant(ctx, "t1", Stale)
				_ = s.ClusterVersion()
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	states := []string{VersioningEnabled, VersioningSuspended}
	for i := 0; i < 40; i++ {
		want := states[i%2]
		_, err := s.ChangeContainer(ctx, ContainerChange{Tenant: "t1", Name: "c1", SetVersioning: true, Versioning: want})
		mustNoErr(t, err)
		for _, o := range []ReadOption{Linearizable, Stale} {
			c, err := s.GetContainer(ctx, "t1", "c1", o)
			mustNoErr(t, err)
			if c.VersioningState != want {
				t.Fatalf("change %d: read %q after setting %q", i, c.VersioningState, want)
			}
		}
	}
	// An absent record, cached as absent, appears once created.
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("n%d", i)
		if _, err := s.GetContainer(ctx, "t1", name, Stale); err == nil {
			t.Fatalf("%s exists before it is created", name)
		}
		mkContainer(t, s, "t1", name)
		if _, err := s.GetContainer(ctx, "t1", name, Stale); err != nil {
			t.Fatalf("%s after it was created: %v", name, err)
		}
	}
}
