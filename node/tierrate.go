package node

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// The tier throttle: the bytes that transitions, recalls and restores move
// between local drives and tiers (whoever asked: lifecycle rules, the
// capacity fallback, `tier move`, `tier recall`, RestoreObject) share one
// token bucket of Config.TierRate bytes per second on each node, so that
// moving data out or back does not take the bandwidth clients need.

// tierBurst is the token bucket's depth, and the largest write that takes
// its tokens at once (larger ones are split): small enough that a slow
// rate is smooth, large enough that a fast one costs few waits.
const tierBurst = 256 << 10

// newTierLimiter returns the limiter of bps bytes per second (nil: none).
func newTierLimiter(bps int64) *rate.Limiter {
	if bps <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bps), tierBurst)
}

// tierThrottle wraps w so that its writes wait for the tier throttle's
// tokens (w itself when there is no throttle).
func (e *Engine) tierThrottle(ctx context.Context, w io.Writer) io.Writer {
	if e.tierRate == nil {
		return w
	}
	return &throttledWriter{ctx: ctx, w: w, l: e.tierRate}
}

type throttledWriter struct {
	ctx context.Context
	w   io.Writer
	l   *rate.Limiter
}

func (t *throttledWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n := min(len(p)-done, tierBurst)
		if err := t.l.WaitN(t.ctx, n); err != nil {
			return done, err
		}
		m, err := t.w.Write(p[done : done+n])
		done += m
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
