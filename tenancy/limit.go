package tenancy

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Direction is which way artifact bytes flow, for bandwidth shaping.
type Direction int

const (
	// Ingress is bytes received from the client (PutObject, UploadPart).
	Ingress Direction = iota
	// Egress is bytes sent to the client (GetObject).
	Egress
)

func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Limit is a tenant's cluster-wide rate limit. Each node enforces
// Limit × Share() of it (see doc.go).
type Limit struct {
	// RequestsPerSec is the sustained request rate; 0 means unlimited.
	RequestsPerSec float64
	// Burst is how many requests may arrive at once (the bucket size).
	// 0 means ceil(RequestsPerSec), at least 1.
	Burst int
	// BytesInPerSec and BytesOutPerSec shape artifact bytes received from
	// and sent to the tenant; 0 means unlimited.
	BytesInPerSec, BytesOutPerSec int64
}

// DefaultLimit applies to tenants without an override when
// LimiterConfig.Default is the zero Limit.
var DefaultLimit = Limit{RequestsPerSec: 100, Burst: 200}

// Validate reports every impossible value at once.
func (l Limit) Validate() error {
	var errs []error
	if math.IsNaN(l.RequestsPerSec) || math.IsInf(l.RequestsPerSec, 0) || l.RequestsPerSec < 0 {
		errs = append(errs, fmt.Errorf("%w: RequestsPerSec %v must be finite and >= 0", ErrInvalidConfig, l.RequestsPerSec))
	}
	if l.Burst < 0 {
		errs = append(errs, fmt.Errorf("%w: Burst %d must be >= 0", ErrInvalidConfig, l.Burst))
	}
	if l.BytesInPerSec < 0 {
		errs = append(errs, fmt.Errorf("%w: BytesInPerSec %d must be >= 0", ErrInvalidConfig, l.BytesInPerSec))
	}
	if l.BytesOutPerSec < 0 {
		errs = append(errs, fmt.Errorf("%w: BytesOutPerSec %d must be >= 0", ErrInvalidConfig, l.BytesOutPerSec))
	}
	return errors.Join(errs...)
}

const (
	// DefaultMaxTenants bounds the limiter's memory: about 10,000 live
	// token buckets of a few hundred bytes each, a few MiB at most.
	DefaultMaxTenants = 10000

	// MinShare is the smallest node share the limiter applies. A node that
	// has seen none of a tenant's recent traffic gets share ≈ 0 from the
	// cluster; it must still admit some requests, or the tenant's traffic
	// could never move to it (for example after a load balancer change).
	MinShare = 0.001
)

// LimiterConfig configures a Limiter. The zero value is usable.
type LimiterConfig struct {
	// MaxTenants is how many tenants' buckets are kept; the least recently
	// used is forgotten beyond it. Default DefaultMaxTenants.
	MaxTenants int
	// Default is the limit of tenants without an override. The zero Limit
	// selects DefaultLimit.
	Default Limit
	// Share returns this node's share (0, 1] of the cluster-wide limit.
	// Values outside are clamped into [MinShare, 1]. Default: always 1.
	Share func() float64
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate reports every problem at once.
func (c LimiterConfig) Validate() error {
	var errs []error
	if c.MaxTenants < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxTenants %d must be >= 0", ErrInvalidConfig, c.MaxTenants))
	}
	if err := c.Default.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("default limit: %w", err))
	}
	return errors.Join(errs...)
}

// Decision is the outcome of Limiter.Allow, with the values of the
// X-RateLimit-Limit, X-RateLimit-Remaining and Retry-After headers.
type Decision struct {
	Allowed bool
	// Limit is the bucket size on this node (the effective burst); 0 when
	// the tenant is unlimited, in which case the headers are omitted.
	Limit int
	// Remaining is how many more requests would be admitted right now.
	Remaining int
	// RetryAfter is, for a refused request, how long until one request
	// would be admitted; the s3 edge rounds it up to whole seconds.
	RetryAfter time.Duration
}

// Limiter admits requests and shapes bandwidth per tenant with token
// buckets. It is safe for concurrent use.
type Limiter struct {
	maxTenants int
	share      func() float64
	now        func() time.Time
	// wait blocks for d or until ctx is done; replaced in tests.
	wait func(ctx context.Context, d time.Duration) error

	mu struct {
		sync.Mutex
		def       Limit
		overrides map[string]Limit
		lru       *list.List // of *bucket, most recently used first
		buckets   map[string]*list.Element
	}
}

// bucket holds one tenant's token buckets on this node.
type bucket struct {
	tenant  string
	lim     Limit   // the configured (cluster-wide) limit last applied
	share   float64 // the share last applied
	req     *rate.Limiter
	in, out *rate.Limiter // nil when unlimited
}

// NewLimiter returns a Limiter, or an error wrapping ErrInvalidConfig.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{maxTenants: cfg.MaxTenants, share: cfg.Share, now: cfg.Now, wait: sleepCtx}
	if l.maxTenants == 0 {
		l.maxTenants = DefaultMaxTenants
	}
	if l.share == nil {
		l.share = func() float64 { return 1 }
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.mu.def = cfg.Default
	if l.mu.def == (Limit{}) {
		l.mu.def = DefaultLimit
	}
	l.mu.overrides = make(map[string]Limit)
	l.mu.lru = list.New()
	l.mu.buckets = make(map[string]*list.Element)
	return l, nil
}

// SetLimit overrides the limit of one tenant. It applies at once: time
// from now on refills at the new rate, and the tokens already in the
// bucket are kept (capped at the new burst). An invalid limit's bad
// fields are treated as 0 (unlimited) for rates and derived for Burst;
// validate with Limit.Validate before calling.
func (l *Limiter) SetLimit(tenant string, lim Limit) {
	lim = sanitize(lim)
	share := l.currentShare()
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.overrides[tenant] = lim
	l.reconfigureLocked(tenant, share, now)
}

// RemoveLimit drops a tenant's override; the default applies again, at
// once.
func (l *Limiter) RemoveLimit(tenant string) {
	share := l.currentShare()
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.mu.overrides, tenant)
	l.reconfigureLocked(tenant, share, now)
}

// reconfigureLocked applies tenant's current limit to its bucket, if it
// has one, without changing the LRU order. REQUIRES: l.mu.
func (l *Limiter) reconfigureLocked(tenant string, share float64, now time.Time) {
	el, ok := l.mu.buckets[tenant]
	if !ok {
		return
	}
	b := el.Value.(*bucket)
	if lim := l.limitLocked(tenant); b.lim != lim || b.share != share {
		b.configure(lim, share, now)
	}
}

// limitLocked is tenant's configured limit. REQUIRES: l.mu.
func (l *Limiter) limitLocked(tenant string) Limit {
	if lim, ok := l.mu.overrides[tenant]; ok {
		return lim
	}
	return l.mu.def
}

// Allow decides whether one request of tenant is admitted now.
func (l *Limiter) Allow(tenant string) Decision {
	share := l.currentShare()
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(tenant, share, now)
	if b.req.Limit() == rate.Inf {
		return Decision{Allowed: true}
	}
	d := Decision{Allowed: b.req.AllowN(now, 1), Limit: b.req.Burst()}
	tokens := b.req.TokensAt(now)
	if tokens > 0 {
		d.Remaining = int(math.Floor(tokens))
	}
	if !d.Allowed {
		need := (1 - tokens) / float64(b.req.Limit())
		d.RetryAfter = max(time.Duration(math.Ceil(need*float64(time.Second))), time.Nanosecond)
	}
	return d
}

// WaitBytes blocks until tenant may move n more bytes in direction dir,
// or until ctx is done. It returns an error wrapping ErrRateLimited at
// once when ctx's deadline comes before the bytes could be allowed, and
// ctx's error when ctx ends while waiting. Callers shape a stream by
// calling it per chunk read or written (bounded by the stripe size).
func (l *Limiter) WaitBytes(ctx context.Context, tenant string, dir Direction, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	share := l.currentShare()
	now := l.now()
	l.mu.Lock()
	b := l.bucketLocked(tenant, share, now)
	rl := b.in
	if dir == Egress {
		rl = b.out
	}
	l.mu.Unlock()
	if rl == nil {
		return nil
	}
	for n > 0 {
		// A reservation may not exceed the burst; take it in pieces. The
		// burst is read again each time because SetLimit may change it.
		chunk := min(n, rl.Burst())
		if chunk <= 0 || rl.Limit() == rate.Inf {
			return nil
		}
		now := l.now()
		r := rl.ReserveN(now, chunk)
		if !r.OK() {
			continue
		}
		delay := r.DelayFrom(now)
		if delay > 0 {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
				r.CancelAt(now)
				return fmt.Errorf("%w: tenant %q %s needs %v, beyond the deadline", ErrRateLimited, tenant, dir, delay)
			}
			if err := l.wait(ctx, delay); err != nil {
				r.CancelAt(l.now())
				return err
			}
		}
		n -= chunk
	}
	return nil
}

// currentShare returns Share() clamped into [MinShare, 1]. It is called
// outside l.mu: Share is the caller's code.
func (l *Limiter) currentShare() float64 {
	s := l.share()
	switch {
	case math.IsNaN(s) || s < MinShare:
		return MinShare
	case s > 1:
		return 1
	}
	return s
}

// bucketLocked returns tenant's bucket, creating it and evicting the
// least recently used beyond maxTenants, reconfigured if its limit or
// the share changed. REQUIRES: l.mu.
func (l *Limiter) bucketLocked(tenant string, share float64, now time.Time) *bucket {
	lim := l.limitLocked(tenant)
	if el, ok := l.mu.buckets[tenant]; ok {
		l.mu.lru.MoveToFront(el)
		b := el.Value.(*bucket)
		if b.lim != lim || b.share != share {
			b.configure(lim, share, now)
		}
		return b
	}
	b := &bucket{tenant: tenant}
	b.configure(lim, share, now)
	l.mu.buckets[tenant] = l.mu.lru.PushFront(b)
	for l.mu.lru.Len() > l.maxTenants {
		old := l.mu.lru.Back()
		l.mu.lru.Remove(old)
		delete(l.mu.buckets, old.Value.(*bucket).tenant)
	}
	return b
}

// configure applies lim × share to b's token buckets. New buckets start
// full; existing ones keep their tokens (capped at the new burst).
func (b *bucket) configure(lim Limit, share float64, now time.Time) {
	b.lim, b.share = lim, share
	r, burst := requestRate(lim, share)
	if b.req == nil {
		b.req = rate.NewLimiter(r, burst)
	} else {
		b.req.SetLimitAt(now, r)
		b.req.SetBurstAt(now, burst)
	}
	b.in = byteLimiter(b.in, lim.BytesInPerSec, share, now)
	b.out = byteLimiter(b.out, lim.BytesOutPerSec, share, now)
}

// requestRate is the effective request rate and burst on this node.
func requestRate(lim Limit, share float64) (rate.Limit, int) {
	if lim.RequestsPerSec <= 0 {
		return rate.Inf, 0
	}
	burst := lim.Burst
	if burst <= 0 {
		burst = int(math.Ceil(lim.RequestsPerSec))
	}
	return rate.Limit(lim.RequestsPerSec * share), max(1, int(math.Ceil(float64(burst)*share)))
}

// byteLimiter returns a bucket of perSec×share bytes per second holding one
// second's worth, or nil for unlimited.
func byteLimiter(rl *rate.Limiter, perSec int64, share float64, now time.Time) *rate.Limiter {
	if perSec <= 0 {
		return nil
	}
	r := float64(perSec) * share
	burst := max(1, int(min(math.Ceil(r), math.MaxInt32)))
	if rl == nil {
		return rate.NewLimiter(rate.Limit(r), burst)
	}
	rl.SetLimitAt(now, rate.Limit(r))
	rl.SetBurstAt(now, burst)
	return rl
}

// sanitize turns impossible values into their "unset" meaning.
func sanitize(l Limit) Limit {
	if math.IsNaN(l.RequestsPerSec) || math.IsInf(l.RequestsPerSec, 0) || l.RequestsPerSec < 0 {
		l.RequestsPerSec = 0
	}
	l.Burst = max(l.Burst, 0)
	l.BytesInPerSec = max(l.BytesInPerSec, 0)
	l.BytesOutPerSec = max(l.BytesOutPerSec, 0)
	return l
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
