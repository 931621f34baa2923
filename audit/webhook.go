package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Webhook sink defaults.
const (
	DefaultWebhookBatchSize     = 100
	DefaultWebhookFlushInterval = time.Second
	DefaultWebhookTimeout       = 10 * time.Second
	DefaultWebhookMaxRetries    = 5
	DefaultWebhookBackoffBase   = 100 * time.Millisecond
	// DefaultWebhookBackoffMax caps the wait between retries, so a
	// recovered receiver is noticed within this long.
	DefaultWebhookBackoffMax = 30 * time.Second
)

// WebhookConfig configures a WebhookSink. Zero values take the defaults
// noted.
type WebhookConfig struct {
	// URL receives POSTs of Content-Type application/json whose body is a
	// JSON array of events; required, http or https.
	URL string
	// Token, if set, is sent as "Authorization: Bearer <Token>".
	Token string
	// QueueLen events may wait for delivery; default DefaultQueueLen.
	QueueLen int
	// BatchSize: a POST carries at most this many events; default 100.
	BatchSize int
	// FlushInterval: a partial batch is sent at most this long after its
	// first event was taken from the queue; default 1s.
	FlushInterval time.Duration
	// Timeout for each POST, including reading the response; default 10s.
	Timeout time.Duration
	// MaxRetries after the first attempt before a batch is given up and
	// counted as Failed; default 5. Network errors, 408, 429 and 5xx are
	// retried; other non-2xx answers fail the batch at once. Zero means
	// the default, so the least is 1 retry.
	MaxRetries int
	// BackoffBase is the wait before the first retry; it doubles for each
	// further retry, up to BackoffMax, with ±25% jitter. Defaults 100ms
	// and 30s.
	BackoffBase, BackoffMax time.Duration
	// OnDrop, if set, is called with the sink name "webhook" for every
	// event dropped on overflow. It runs on the emitting goroutine: keep
	// it fast and non-blocking.
	OnDrop func(sink string)
	// Logger for the sink's own problems; default slog.Default().
	Logger *slog.Logger
	// Client sends the requests; default a client of the sink's own, whose
	// idle connections Close releases.
	Client *http.Client
}

// Validate reports every problem with c at once.
func (c WebhookConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("audit: webhook: URL is required"))
	} else if u, err := url.Parse(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("audit: webhook: URL: %w", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("audit: webhook: URL %q is not an http(s) URL", c.URL))
	}
	neg := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("audit: webhook: %s %d is negative", name, v))
		}
	}
	neg("QueueLen", int64(c.QueueLen))
	neg("BatchSize", int64(c.BatchSize))
	neg("FlushInterval", int64(c.FlushInterval))
	neg("Timeout", int64(c.Timeout))
	neg("MaxRetries", int64(c.MaxRetries))
	neg("BackoffBase", int64(c.BackoffBase))
	neg("BackoffMax", int64(c.BackoffMax))
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("audit: webhook: BackoffMax %v is below BackoffBase %v", c.BackoffMax, c.BackoffBase))
	}
	return errors.Join(errs...)
}

func (c WebhookConfig) withDefaults() WebhookConfig {
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultWebhookBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultWebhookFlushInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultWebhookTimeout
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultWebhookMaxRetries
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = DefaultWebhookBackoffBase
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(DefaultWebhookBackoffMax, c.BackoffBase)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// WebhookSink POSTs batches of events to a URL. One goroutine owns
// delivery; Write only enqueues, so a dead or slow receiver costs queue
// space, never the caller's time.
type WebhookSink struct {
	cfg       WebhookConfig
	q         *queue
	client    *http.Client
	ownClient bool
	done      chan struct{}

	// ctx is cancelled when Close's context ends, aborting the request
	// or backoff in progress.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	errLogAt  int64 // owned by the worker
}

var _ Sink = (*WebhookSink)(nil)

// NewWebhook validates cfg and starts the delivery goroutine.
func NewWebhook(cfg WebhookConfig) (*WebhookSink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &WebhookSink{
		cfg:    cfg,
		q:      newQueue("webhook", cfg.QueueLen, cfg.OnDrop, cfg.Logger),
		client: cfg.Client,
		done:   make(chan struct{}),
	}
	if s.client == nil {
		s.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		s.ownClient = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Write enqueues e; it drops and counts e when the queue is full.
func (s *WebhookSink) Write(e Event) { s.q.put(e) }

// Dropped is how many events were refused because the queue was full.
func (s *WebhookSink) Dropped() int64 { return s.q.dropped.Load() }

// Stats reports the sink's counters; exact once Close has returned.
func (s *WebhookSink) Stats() Stats { return s.q.stats() }

// Close sends everything queued (with retries). If ctx ends first, the
// request or backoff in progress is aborted, what is left is counted as
// Discarded, and Close returns ctx's error.
func (s *WebhookSink) Close(ctx context.Context) error {
	s.q.close()
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done // prompt: every wait in the worker watches s.ctx
		err = ctx.Err()
	}
	s.closeOnce.Do(func() {
		s.cancel()
		if s.ownClient {
			s.client.CloseIdleConnections()
		}
	})
	return err
}

func (s *WebhookSink) run() {
	defer close(s.done)
	// Go 1.23+ timers: Stop and Reset never leave a stale tick behind.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]Event, 0, s.cfg.BatchSize)
	for e := range s.q.ch {
		batch = append(batch[:0], e)
		timer.Reset(s.cfg.FlushInterval)
		open := true
	fill:
		for len(batch) < s.cfg.BatchSize {
			select {
			case e, ok := <-s.q.ch:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, e)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		s.send(batch)
		if !open {
			return
		}
	}
}

// send delivers batch, retrying with backoff, and counts the outcome.
func (s *WebhookSink) send(batch []Event) {
	n := int64(len(batch))
	if s.ctx.Err() != nil {
		s.q.discarded.Add(n)
		return
	}
	body, err := json.Marshal(batch)
	if err != nil { // cannot happen: every field encodes
		s.q.failed.Add(n)
		return
	}
	for attempt := 0; ; attempt++ {
		retry, err := s.post(body)
		if err == nil {
			s.q.delivered.Add(n)
			return
		}
		if s.ctx.Err() != nil {
			s.q.discarded.Add(n)
			return
		}
		if !retry || attempt >= s.cfg.MaxRetries {
			s.q.failed.Add(n)
			s.logErr("giving up on batch", err, attempt+1, n)
			return
		}
		s.logErr("retrying batch", err, attempt+1, n)
		t := time.NewTimer(s.backoff(attempt))
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			s.q.discarded.Add(n)
			return
		}
	}
}

// post makes one attempt. retry reports whether a failure is worth
// another attempt.
func (s *WebhookSink) post(body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		return true, fmt.Errorf("audit: webhook: status %d", c)
	default:
		return false, fmt.Errorf("audit: webhook: status %d", c)
	}
}

// backoff is the wait before retry attempt+1: BackoffBase·2^attempt capped
// at BackoffMax, ±25% jitter.
func (s *WebhookSink) backoff(attempt int) time.Duration {
	d := s.cfg.BackoffBase
	for i := 0; i < attempt && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.BackoffMax)
	j := int64(d) / 4
	if j > 0 {
		d += time.Duration(rand.Int64N(2*j+1) - j)
	}
	return d
}

func (s *WebhookSink) logErr(msg string, err error, attempts int, events int64) {
	now := nanotime()
	if now-s.errLogAt < int64(dropLogInterval) {
		return
	}
	s.errLogAt = now
	s.cfg.Logger.Warn("audit: webhook: "+msg, "err", err, "attempts", attempts,
		"events", events, "failed_total", s.q.failed.Load())
}
