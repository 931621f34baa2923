package tenancy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)

func newTestLimiter(t *testing.T, cfg LimiterConfig) (*Limiter, *clock) {
	t.Helper()
	c := newClock(t0)
	cfg.Now = c.Now
	l, err := NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

func TestAllowBurstThenRefill(t *testing.T) {
	l, c := newTestLimiter(t, LimiterConfig{Default: Limit{RequestsPerSec: 10, Burst: 5}})
	for i := range 5 {
		if d := l.Allow("t"); !d.Allowed {
			t.Fatalf("request %d of the burst refused: %+v", i, d)
		}
	}
	if d := l.Allow("t"); d.Allowed {
		t.Fatalf("request past the burst admitted: %+v", d)
	}
	c.Advance(99 * time.Millisecond)
	if d := l.Allow("t"); d.Allowed {
		t.Fatalf("admitted before a token refilled: %+v", d)
	}
	c.Advance(time.Millisecond) // 100ms at 10/s = one token
	if d := l.Allow("t"); !d.Allowed {
		t.Fatalf("refilled token refused: %+v", d)
	}
	if d := l.Allow("t"); d.Allowed {
		t.Fatalf("second request after one refill admitted: %+v", d)
	}
	// A long idle period refills only up to the burst.
	c.Advance(time.Hour)
	n := 0
	for l.Allow("t").Allowed {
		n++
	}
	if n != 5 {
		t.Fatalf("after idling, admitted %d, want the burst 5", n)
	}
}

func TestAllowHeaders(t *testing.T) {
	l, c := newTestLimiter(t, LimiterConfig{Default: Limit{RequestsPerSec: 10, Burst: 3}})
	want := []Decision{
		{Allowed: true, Limit: 3, Remaining: 2},
		{Allowed: true, Limit: 3, Remaining: 1},
		{Allowed: true, Limit: 3, Remaining: 0},
		{Allowed: false, Limit: 3, Remaining: 0, RetryAfter: 100 * time.Millisecond},
	}
	for i, w := range want {
		if got := l.Allow("t"); got != w {
			t.Errorf("request %d: got %+v, want %+v", i, got, w)
		}
	}
	c.Advance(40 * time.Millisecond)
	got := l.Allow("t")
	if got.Allowed || got.Remaining != 0 || got.RetryAfter != 60*time.Millisecond {
		t.Errorf("after 40ms: got %+v, want refused with RetryAfter 60ms", got)
	}
	c.Advance(time.Second) // full again
	if got := l.Allow("t"); got != (Decision{Allowed: true, Limit: 3, Remaining: 2}) {
		t.Errorf("after refill: got %+v", got)
	}
}

func TestDefaults(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{})
	if l.maxTenants != DefaultMaxTenants {
		t.Errorf("maxTenants %d, want %d", l.maxTenants, DefaultMaxTenants)
	}
	d := l.Allow("t")
	if !d.Allowed || d.Limit != DefaultLimit.Burst || d.Remaining != DefaultLimit.Burst-1 {
		t.Errorf("default limit: got %+v", d)
	}
	// Burst 0 means ceil(rate).
	l.SetLimit("u", Limit{RequestsPerSec: 2.5})
	if d := l.Allow("u"); d.Limit != 3 {
		t.Errorf("Burst 0 with 2.5/s: Limit %d, want 3", d.Limit)
	}
}

func TestUnlimited(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{Default: Limit{RequestsPerSec: 1, Burst: 1}})
	l.SetLimit("free", Limit{})
	for range 1000 {
		if d := l.Allow("free"); d != (Decision{Allowed: true}) {
			t.Fatalf("unlimited tenant: %+v", d)
		}
	}
	if err := l.WaitBytes(context.Background(), "free", Ingress, 1<<30); err != nil {
		t.Fatal(err)
	}
}

func TestSetLimitOverride(t *testing.T) {
	l, c := newTestLimiter(t, LimiterConfig{Default: Limit{RequestsPerSec: 10, Burst: 10}})
	l.SetLimit("small", Limit{RequestsPerSec: 1, Burst: 1})
	if !l.Allow("small").Allowed || l.Allow("small").Allowed {
		t.Fatal("override of burst 1 not applied to a new tenant")
	}
	for i := range 10 {
		if !l.Allow("other").Allowed {
			t.Fatalf("default tenant refused at %d", i)
		}
	}
	// An override applies at once to a tenant already in use.
	c.Advance(50 * time.Millisecond) // half a token at the old rate
	l.SetLimit("other", Limit{RequestsPerSec: 100, Burst: 100})
	c.Advance(45 * time.Millisecond) // 4.5 more at the new rate
	if d := l.Allow("other"); !d.Allowed || d.Limit != 100 || d.Remaining != 4 {
		t.Fatalf("raised override: %+v, want allowed, Limit 100, Remaining 4", d)
	}
	// Lowering caps the tokens at the new burst.
	c.Advance(time.Second)
	l.SetLimit("other", Limit{RequestsPerSec: 1, Burst: 2})
	if d := l.Allow("other"); !d.Allowed || d.Limit != 2 || d.Remaining != 1 {
		t.Fatalf("lowered override: %+v, want allowed, Limit 2, Remaining 1", d)
	}
	l.RemoveLimit("small")
	c.Advance(time.Second)
	if d := l.Allow("small"); d.Limit != 10 {
		t.Fatalf("after RemoveLimit: Limit %d, want the default 10", d.Limit)
	}
}

func lruOrder(l *Limiter) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for e := l.mu.lru.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*bucket).tenant)
	}
	return out
}

func TestLRUEviction(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{MaxTenants: 3, Default: Limit{RequestsPerSec: 1, Burst: 1}})
	for _, tn := range []string{"a", "b", "c"} {
		l.Allow(tn)
	}
	if got := fmt.Sprint(lruOrder(l)); got != "[c b a]" {
		t.Fatalf("order %s", got)
	}
	l.Allow("a") // a becomes most recent; b is now the oldest
	l.Allow("d") // evicts b
	if got := fmt.Sprint(lruOrder(l)); got != "[d a c]" {
		t.Fatalf("after evicting: order %s, want [d a c]", got)
	}
	_ = l.WaitBytes(context.Background(), "c", Egress, 1) // touches c
	l.Allow("e")                                          // evicts a
	if got := fmt.Sprint(lruOrder(l)); got != "[e c d]" {
		t.Fatalf("after WaitBytes touch: order %s, want [e c d]", got)
	}
	// a was drained, then forgotten: it comes back with a full bucket.
	if !l.Allow("a").Allowed {
		t.Fatal("evicted tenant should start with a full bucket")
	}
	// c still remembers being drained.
	if l.Allow("c").Allowed {
		t.Fatal("resident tenant's bucket was reset")
	}
	l.mu.Lock()
	n, m := l.mu.lru.Len(), len(l.mu.buckets)
	l.mu.Unlock()
	if n != 3 || m != 3 {
		t.Fatalf("list %d, map %d, want 3", n, m)
	}
}

func TestBoundedMemory(t *testing.T) {
	const maxTenants = 1000
	const tenants = 100_000
	l, _ := newTestLimiter(t, LimiterConfig{MaxTenants: maxTenants,
		Default: Limit{RequestsPerSec: 10, Burst: 10, BytesInPerSec: 1 << 20, BytesOutPerSec: 1 << 20}})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range tenants {
		l.Allow(fmt.Sprintf("tenant-%06d", i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	l.mu.Lock()
	n, m := l.mu.lru.Len(), len(l.mu.buckets)
	l.mu.Unlock()
	if n > maxTenants || m > maxTenants {
		t.Fatalf("kept %d list entries, %d map entries; want <= %d", n, m, maxTenants)
	}
	// A bucket with its three rate.Limiters, list element, map slot and
	// key is well under 1 KiB; allow 4 KiB each plus 1 MiB of slack. Were
	// all 100,000 tenants kept, growth would be tens of MiB.
	const bound = maxTenants*4<<10 + 1<<20
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap growth %d bytes for %d tenants (bound %d)", growth, tenants, bound)
	if growth > bound {
		t.Fatalf("heap grew %d bytes, bound %d", growth, bound)
	}
	runtime.KeepAlive(l)
}

func TestShareThird(t *testing.T) {
	count := func(share float64) int {
		l, c := newTestLimiter(t, LimiterConfig{
			Default: Limit{RequestsPerSec: 300, Burst: 300},
			Share:   func() float64 { return share },
		})
		n := 0
		for range 10_000 { // 10s in 1ms steps, offered far above any rate
			for l.Allow("t").Allowed {
				n++
			}
			c.Advance(time.Millisecond)
		}
		return n
	}
	full, third := count(1), count(1.0/3)
	// Burst then 10s of refill: 300 + 3000 on one node; 100 + 1000 at 1/3.
	if math.Abs(float64(full)-3300) > 2 {
		t.Errorf("share 1: admitted %d, want about 3300", full)
	}
	if math.Abs(float64(third)-1100) > 2 {
		t.Errorf("share 1/3: admitted %d, want about 1100", third)
	}
	if math.Abs(float64(third)*3-float64(full)) > 6 {
		t.Errorf("share 1/3 admitted %d, not a third of %d", third, full)
	}
}

func TestShareChangesAndClamps(t *testing.T) {
	var mu sync.Mutex
	share := 1.0
	l, _ := newTestLimiter(t, LimiterConfig{
		Default: Limit{RequestsPerSec: 1000, Burst: 1000},
		Share:   func() float64 { mu.Lock(); defer mu.Unlock(); return share },
	})
	set := func(s float64) { mu.Lock(); share = s; mu.Unlock() }
	for _, tc := range []struct {
		share float64
		limit int
	}{{1, 1000}, {0.5, 500}, {0.25, 250}, {2, 1000}, {0, 1}, {-1, 1}, {math.NaN(), 1}, {0.0015, 2}} {
		set(tc.share)
		if d := l.Allow("t"); d.Limit != tc.limit {
			t.Errorf("share %v: Limit %d, want %d", tc.share, d.Limit, tc.limit)
		}
	}
}

func TestWaitBytes(t *testing.T) {
	l, c := newTestLimiter(t, LimiterConfig{Default: Limit{RequestsPerSec: 1, BytesInPerSec: 1000}})
	var waits []time.Duration
	l.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		c.Advance(d) // the fake sleep moves the fake clock
		return nil
	}
	ctx := context.Background()
	if err := l.WaitBytes(ctx, "t", Ingress, 1000); err != nil || len(waits) != 0 {
		t.Fatalf("first second's bytes: err %v, waits %v", err, waits)
	}
	if err := l.WaitBytes(ctx, "t", Ingress, 500); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(waits) != "[500ms]" {
		t.Fatalf("waits %v, want [500ms]", waits)
	}
	// More than the bucket holds is taken in bucket-sized pieces.
	waits = nil
	if err := l.WaitBytes(ctx, "t", Ingress, 2500); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(waits) != "[1s 1s 500ms]" {
		t.Fatalf("waits %v, want [1s 1s 500ms]", waits)
	}
	// Egress is unlimited for this tenant; n <= 0 is a no-op.
	waits = nil
	if err := l.WaitBytes(ctx, "t", Egress, 1<<30); err != nil || len(waits) != 0 {
		t.Fatalf("unlimited egress: err %v, waits %v", err, waits)
	}
	if err := l.WaitBytes(ctx, "t", Ingress, 0); err != nil || len(waits) != 0 {
		t.Fatalf("n=0: err %v, waits %v", err, waits)
	}
}

func TestWaitBytesShare(t *testing.T) {
	l, c := newTestLimiter(t, LimiterConfig{
		Default: Limit{BytesOutPerSec: 3000},
		Share:   func() float64 { return 1.0 / 3 },
	})
	var total time.Duration
	l.wait = func(ctx context.Context, d time.Duration) error { total += d; c.Advance(d); return nil }
	if err := l.WaitBytes(context.Background(), "t", Egress, 1000+2000); err != nil {
		t.Fatal(err)
	}
	if total != 2*time.Second {
		t.Fatalf("waited %v for 2000 bytes past the burst at 1000 B/s, want 2s", total)
	}
}

func TestWaitBytesDeadlineAndCancel(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{Default: Limit{BytesInPerSec: 1000}})
	ctx := context.Background()
	if err := l.WaitBytes(ctx, "t", Ingress, 1000); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	err := l.WaitBytes(short, "t", Ingress, 1000) // needs 1s
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("deadline too near: got %v, want ErrRateLimited", err)
	}
	// The refused reservation was given back: the bucket is empty, not in
	// debt, so 10 bytes need 10ms.
	var waits []time.Duration
	l.wait = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if err := l.WaitBytes(ctx, "t", Ingress, 10); err != nil || fmt.Sprint(waits) != "[10ms]" {
		t.Fatalf("after cancelled reservation: err %v, waits %v, want [10ms]", err, waits)
	}
	done, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := l.WaitBytes(done, "t", Ingress, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestWaitBytesRealSleep(t *testing.T) {
	// The real sleep: 10ms, and a context cancelled during a long one.
	l, err := NewLimiter(LimiterConfig{Default: Limit{BytesOutPerSec: 100_000}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	if err := l.WaitBytes(ctx, "t", Egress, 101_000); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 5*time.Millisecond {
		t.Fatalf("shaping did not wait: %v", el)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := l.WaitBytes(cctx, "t", Egress, 100_000); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel while waiting: %v", err)
	}
}

func TestLimiterConfigValidate(t *testing.T) {
	_, err := NewLimiter(LimiterConfig{MaxTenants: -1, Default: Limit{RequestsPerSec: math.NaN(), Burst: -1, BytesInPerSec: -1, BytesOutPerSec: -1}})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v, want ErrInvalidConfig", err)
	}
	for _, field := range []string{"MaxTenants", "RequestsPerSec", "Burst", "BytesInPerSec", "BytesOutPerSec"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not report %s: %v", field, err)
		}
	}
	if err := (Limit{RequestsPerSec: math.Inf(1)}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("infinite rate: %v", err)
	}
	if err := DefaultLimit.Validate(); err != nil {
		t.Errorf("DefaultLimit: %v", err)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l, c := newTestLimiter(t, LimiterConfig{MaxTenants: 50, Default: Limit{RequestsPerSec: 1000, Burst: 100, BytesInPerSec: 1 << 30}})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 2000 {
				tn := fmt.Sprintf("t%d", (g*7+i)%80)
				l.Allow(tn)
				_ = l.WaitBytes(context.Background(), tn, Ingress, 100)
				if i%100 == 0 {
					l.SetLimit(tn, Limit{RequestsPerSec: float64(i + 1)})
					c.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.lru.Len() > 50 || len(l.mu.buckets) != l.mu.lru.Len() {
		t.Fatalf("list %d, map %d", l.mu.lru.Len(), len(l.mu.buckets))
	}
}
