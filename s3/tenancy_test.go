package s3_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/tenancy"
)

// countingLimiter admits every request and counts the bytes each tenant
// moves in each direction.
type countingLimiter struct {
	mu    sync.Mutex
	bytes map[string]int
	fail  error
}

func (l *countingLimiter) Allow(string) tenancy.Decision { return tenancy.Decision{Allowed: true} }
func (l *countingLimiter) WaitBytes(_ context.Context, tenant string, dir tenancy.Direction, n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes[tenant+"/"+dir.String()] += n
	return l.fail
}

func (l *countingLimiter) get(k string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes[k]
}

var _ s3.ByteLimiter = (*countingLimiter)(nil)

// TestE2EBandwidthShaping: artifact bodies of PutObject, UploadPart and
// GetObject go through the tenant's byte buckets, other requests do not.
func TestE2EBandwidthShaping(t *testing.T) { overBoth(t, testE2EBandwidthShaping) }

func testE2EBandwidthShaping(t *testing.T, secure bool) {
	lim := &countingLimiter{bytes: map[string]int{}}
	h := newHarness(t, func(c *s3.Config) { c.Limiter = lim }).over(secure)
	resp, b := h.do(t, rawReq{method: "PUT", path: "/shaped"})
	expectOK(t, resp, b)
	data := []byte(strings.Repeat("0123456789", 10000))
	resp, b = h.do(t, rawReq{method: "PUT", path: "/shaped/k", body: data})
	expectOK(t, resp, b)
	if got := lim.get("root/ingress"); got != len(data) {
		t.Fatalf("ingress %d bytes, want %d", got, len(data))
	}
	resp, b = h.do(t, rawReq{method: "GET", path: "/shaped/k"})
	expectOK(t, resp, b)
	if got := lim.get("root/egress"); got != len(data) {
		t.Fatalf("egress %d bytes, want %d", got, len(data))
	}
	resp, b = h.do(t, rawReq{method: "GET", path: "/shaped"})
	expectOK(t, resp, b)
	if got := lim.get("root/egress"); got != len(data) {
		t.Fatalf("a listing counted as egress: %d", got)
	}
	// A tenant over its byte rate who cannot wait gets SlowDown.
	lim.mu.Lock()
	lim.fail = tenancy.ErrRateLimited
	lim.mu.Unlock()
	resp, b = h.do(t, rawReq{method: "PUT", path: "/shaped/k2", body: data})
	expectError(t, resp, b, 503, "SlowDown")
}
