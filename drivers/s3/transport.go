package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// retryableCodes are S3 error codes worth another attempt beyond the SDK's
// defaults (5xx statuses, throttling codes such as SlowDown, RequestTimeout,
// connection errors and timeouts). BadDigest and XAmzContentSHA256Mismatch
// mean the body was damaged on the way: the driver computed its checksums
// over its own buffer, so sending that buffer again is the cure.
var retryableCodes = map[string]struct{}{
	"BadDigest":                 {},
	"XAmzContentSHA256Mismatch": {},
	"InternalError":             {},
	"ServiceUnavailable":        {},
	"SlowDown":                  {},
}

// newHTTPClient builds the driver's own HTTP client: HTTP/1.1 with a pool
// sized for PartConcurrency parallel parts of many streams, dial and TLS
// handshake bounded by DialTimeout, and connections that fail after
// IdleTimeout without progress (idleConn).
func newHTTPClient(c Config) (*http.Client, *http.Transport, error) {
	dialer := &net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: nil, // a tier talks to its endpoint directly; no HTTP(S)_PROXY surprises
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil || c.IdleTimeout == 0 {
				return conn, err
			}
			return &idleConn{Conn: conn, idle: c.IdleTimeout}, nil
		},
		TLSHandshakeTimeout: c.DialTimeout,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		// Pooled connections are dropped before idleConn's deadline
		// would fail them.
		IdleConnTimeout: min(90*time.Second, c.IdleTimeout),
		// Expect: 100-continue is switched off in the SDK options; a
		// server that never answers it would cost a wait per part.
		ExpectContinueTimeout: 0,
		// Bodies are binary; no transparent gzip that would hide the
		// bytes the remote actually sent from the checksum.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	// A session cache makes a reconnect to an HTTPS endpoint (after the
	// remote closed a connection, as it does after refusing a body) an
	// abbreviated handshake instead of a full one.
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(tr.MaxIdleConns)}
	if c.CAFile != "" {
		pool, err := loadCAs(c.CAFile)
		if err != nil {
			return nil, nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr}, tr, nil
}

// idleConn fails reads and writes once the connection has moved no byte,
// in either direction, for idle: every Read or Write pushes the deadline of
// both directions forward (a deadline also applies to I/O already blocked,
// so the transport's pending response read is extended while a body is
// being sent). A hung remote, before or during a body, thus surfaces as a
// timeout error the retry logic knows.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}

// backoff is the delay before retry number attempt (1 for the first retry):
// "equal jitter", between d/2 and d for d = min(max, base*2^(attempt-1)),
// so retries of many streams spread out but never hammer at zero delay.
func backoff(base, maxDelay time.Duration, attempt int) time.Duration {
	if base <= 0 {
		return 0
	}
	d := maxDelay
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 30 {
		if e := base << (attempt - 1); e > 0 && e < maxDelay {
			d = e
		}
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// newRetryer is the SDK's standard retryer with the driver's attempts,
// backoff and extra retryable codes, and without the SDK's client-side
// retry quota (one failing stream must not use up the retries of the
// others; the caller's context and MaxAttempts bound the work). retries
// counts every retry taken.
func newRetryer(c Config, retries *atomic.Int64) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = c.MaxAttempts
		o.MaxBackoff = c.RetryMaxDelay
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
			retries.Add(1)
			d := backoff(c.RetryBaseDelay, c.RetryMaxDelay, attempt)
			c.Logger.Debug("s3: retrying", "attempt", attempt+1, "delay", d, "err", err)
			return d, nil
		})
		o.Retryables = append(o.Retryables, retry.RetryableErrorCode{Codes: retryableCodes})
	})
}

// isTransient reports whether err is worth another try: what the retryer
// retries, plus a body cut short (the remote closed or reset mid-stream).
func isTransient(r aws.Retryer, err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return r.IsErrorRetryable(err)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
