package s3

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of Config.UnauthRate and Config.UnauthBurst: generous for a
// browser or curl reading public objects, tight enough that a flood of
// unsigned or forged requests from one address cannot reach the Raft
// leader with the reads that authentication and resolution cost.
const (
	DefaultUnauthRate  = 100  // requests per second per address
	DefaultUnauthBurst = 1000 // requests at once per address

	// addrLimiterMax bounds the addresses remembered; beyond it the idle
	// ones are dropped first, then all (a refill: new addresses start
	// with a full burst, which bounds memory, not fairness).
	addrLimiterMax = 100_000
	// addrIdle is when an address's bucket is surely full again.
	addrIdle = time.Minute
)

// addrLimiter is a token bucket per client address (IPv6 by its /64, what
// one client can rotate through), consulted before anything is read.
type addrLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time
	mu    struct {
		sync.Mutex
		m map[netip.Addr]*addrBucket
	}
}

type addrBucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newAddrLimiter(perSec float64, burst int, now func() time.Time) *addrLimiter {
	l := &addrLimiter{limit: rate.Limit(perSec), burst: burst, now: now}
	l.mu.m = map[netip.Addr]*addrBucket{}
	return l
}

// take spends one token of addr; false (with the wait until the next
// token) when there is none.
func (l *addrLimiter) take(addr netip.Addr) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(addr, now)
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// exhausted reports, without spending, whether addr has no token left.
func (l *addrLimiter) exhausted(addr netip.Addr) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.mu.m[addr]
	if !ok {
		return false, 0
	}
	if t := b.lim.TokensAt(now); t < 1 {
		return true, time.Duration((1 - t) / float64(l.limit) * float64(time.Second))
	}
	return false, 0
}

// bucketLocked returns addr's bucket. REQUIRES: l.mu.
func (l *addrLimiter) bucketLocked(addr netip.Addr, now time.Time) *addrBucket {
	b, ok := l.mu.m[addr]
	if !ok {
		if len(l.mu.m) >= addrLimiterMax {
			for a, x := range l.mu.m {
				if now.Sub(x.last) > addrIdle {
					delete(l.mu.m, a)
				}
			}
			if len(l.mu.m) >= addrLimiterMax {
				clear(l.mu.m)
			}
		}
		b = &addrBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.mu.m[addr] = b
	}
	b.last = now
	return b
}

// clientAddr is the address a request's limits are kept under: the peer
// of the connection (never a header a client chooses), IPv6 masked to
// its /64.
func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// looksSigned reports whether a request carries a signature of any kind
// (header, presigned V4 or V2 query), without verifying it.
func looksSigned(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	q := r.URL.RawQuery
	return strings.Contains(q, "X-Amz-Signature=") || strings.Contains(q, "Signature=") || strings.Contains(q, "X-Amz-Credential=")
}
