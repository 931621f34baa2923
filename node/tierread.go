package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
)

// Reads from a cold tier are bounded by the Engine, whatever the tier's
// driver does underneath (drivers/s3 waits up to its idle timeout per
// attempt, with retries): a read that has no byte within
// TierReadFirstByte, or is not done within TierReadTimeout, fails with a
// TierUnavailableError (S3 503 naming the tier), and the tier is marked
// down (logged once). The caller's own cancellation (a client that went
// away) is not the tier's fault and marks nothing.

// Defaults of tier reads.
const (
	// DefaultTierReadFirstByte: a tier read that has produced no byte
	// this long after it was asked (connect, request, response headers,
	// first body bytes, driver retries included) fails. Far above a
	// healthy remote's time to first byte (tens of milliseconds for
	// S3-compatible services; Lyve Cloud and AWS answer in < 1 s at p99).
	DefaultTierReadFirstByte = 10 * time.Second
	// DefaultTierReadTimeout bounds one read of a tier blob from start to
	// end: a GET, or the copy a restore or recall makes of a part (5 GiB
	// at 5 MiB/s is 17 minutes).
	DefaultTierReadTimeout = 30 * time.Minute
)

// TierUnavailableError is a tier that could not be reached (or did not
// answer in time). It matches ErrTierUnavailable and the cause.
type TierUnavailableError struct {
	Tier string
	Err  error
}

func (e *TierUnavailableError) Error() string {
	return fmt.Sprintf("%v: tier %q: %v", ErrTierUnavailable, e.Tier, e.Err)
}

func (e *TierUnavailableError) Unwrap() []error { return []error{ErrTierUnavailable, e.Err} }

// ClientMessage is the message the s3 layer sends: it names the tier (an
// operator's name, not a secret) and the remote's failure kind only.
func (e *TierUnavailableError) ClientMessage() string {
	why := "it cannot be reached"
	var t *tierTimeout
	if errors.As(e.Err, &t) {
		why = t.what
	}
	return fmt.Sprintf("The cold storage tier %q holding this object is unavailable (%s). Please retry later.", e.Tier, why)
}

// tierTimeout is a tier read that ran out of time.
type tierTimeout struct{ what string }

func (t *tierTimeout) Error() string { return "tier read: " + t.what }
func (t *tierTimeout) Unwrap() error { return drivers.ErrUnavailable }

// openTier opens a blob's shard on a tier's driver with the Engine's
// first-byte and total deadlines.
func (e *Engine) openTier(ctx context.Context, tier string, d drivers.Driver, name string, off, length int64) (io.ReadCloser, error) {
	tctx, cancel := context.WithCancel(ctx)
	r := &tierReader{e: e, tier: tier, ctx: ctx, cancel: cancel}
	r.firstByte = time.AfterFunc(e.cfg.TierReadFirstByte, func() {
		r.expire(true, &tierTimeout{what: fmt.Sprintf("no answer within %v", e.cfg.TierReadFirstByte)})
	})
	r.total = time.AfterFunc(e.cfg.TierReadTimeout, func() {
		r.expire(false, &tierTimeout{what: fmt.Sprintf("the read took longer than %v", e.cfg.TierReadTimeout)})
	})
	body, err := d.Open(tctx, name, off, length)
	if err != nil {
		r.stop()
		if ctx.Err() != nil {
			return nil, err // the caller gave up: not the tier's failure
		}
		return nil, e.tierHealth(tier, r.cause(err))
	}
	r.body = body
	_ = e.tierHealth(tier, nil) // answered: up (logged when it was down)
	return r, nil
}

// tierReader is a tier blob's body under the read deadlines.
type tierReader struct {
	e      *Engine
	tier   string
	ctx    context.Context // the caller's
	cancel context.CancelFunc
	body   io.ReadCloser

	firstByte, total *time.Timer
	mu               sync.Mutex
	expired          error // the deadline that cancelled the read, if any
	gotByte          bool
}

// expire cancels the read for a deadline (a timer's goroutine); the
// first-byte deadline no longer applies once a byte came.
func (r *tierReader) expire(firstByte bool, why error) {
	r.mu.Lock()
	if firstByte && r.gotByte || r.expired != nil {
		r.mu.Unlock()
		return
	}
	r.expired = why
	r.mu.Unlock()
	r.cancel()
}

// cause replaces an error caused by an expired deadline with the deadline.
func (r *tierReader) cause(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expired != nil && r.ctx.Err() == nil {
		return r.expired
	}
	return err
}

func (r *tierReader) stop() {
	r.firstByte.Stop()
	r.total.Stop()
	r.cancel()
}

func (r *tierReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if n > 0 {
		r.mu.Lock()
		if !r.gotByte {
			r.gotByte = true
			r.firstByte.Stop()
		}
		r.mu.Unlock()
	}
	if err != nil && err != io.EOF {
		if c := r.cause(err); c != err {
			err = r.e.tierHealth(r.tier, c)
		}
	}
	return n, err
}

func (r *tierReader) Close() error {
	r.stop()
	return r.body.Close()
}
