package s3_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/tenancy"
)

// fakeClock is a settable clock for the limiter (the limiter's own time
// source; the requests are still signed with the real time).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestE2ERateLimit(t *testing.T) { overBoth(t, testE2ERateLimit) }

func testE2ERateLimit(t *testing.T, secure bool) {
	for _, status := range []int{0, http.StatusTooManyRequests} {
		want := http.StatusServiceUnavailable
		if status != 0 {
			want = status
		}
		t.Run(http.StatusText(want), func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
			lim, err := tenancy.NewLimiter(tenancy.LimiterConfig{Default: tenancy.Limit{RequestsPerSec: 1, Burst: 3}, Now: clock.now})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var limited int
			h := newHarness(t, func(c *s3.Config) {
				c.Limiter, c.RateLimitStatus = lim, status
				c.OnRequest = func(ev s3.RequestEvent) {
					if ev.RateLimited {
						mu.Lock()
						limited++
						mu.Unlock()
					}
				}
			}).over(secure)
			// The burst: three requests pass, each telling what is left.
			for i := 0; i < 3; i++ {
				resp, b := h.do(t, rawReq{method: "GET", path: "/"})
				expectOK(t, resp, b)
				if resp.Header.Get("X-RateLimit-Limit") != "3" || resp.Header.Get("X-RateLimit-Remaining") != []string{"2", "1", "0"}[i] {
					t.Fatalf("request %d: limit headers %q/%q", i, resp.Header.Get("X-RateLimit-Limit"), resp.Header.Get("X-RateLimit-Remaining"))
				}
			}
			// Over the limit: SlowDown, with Retry-After.
			resp, b := h.do(t, rawReq{method: "GET", path: "/"})
			expectError(t, resp, b, want, "SlowDown")
			if resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-RateLimit-Remaining") != "0" {
				t.Fatalf("refused: Retry-After %q Remaining %q", resp.Header.Get("Retry-After"), resp.Header.Get("X-RateLimit-Remaining"))
			}
			// Unauthenticated requests fail before the limiter: they spend
			// no tenant's tokens and carry no limit headers.
			resp, b = h.do(t, rawReq{method: "GET", path: "/", unsigned: true})
			expectError(t, resp, b, 403, "AccessDenied")
			if resp.Header.Get("X-RateLimit-Limit") != "" {
				t.Fatal("limit headers on an unauthenticated request")
			}
			// After the refill, requests pass again.
			clock.add(time.Second)
			resp, b = h.do(t, rawReq{method: "GET", path: "/"})
			expectOK(t, resp, b)
			mu.Lock()
			defer mu.Unlock()
			if limited != 1 {
				t.Fatalf("%d request events marked RateLimited, want 1", limited)
			}
		})
	}
}

func TestConfigRejectsOddRateLimitStatus(t *testing.T) {
	if err := (s3.Config{RateLimitStatus: 500}).Validate(); err == nil {
		t.Fatal("RateLimitStatus 500 accepted")
	}
}
