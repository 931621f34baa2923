package audit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a real webhook endpoint on 127.0.0.1 that records the events
// of every batch it answers 2xx.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	events   []Event
	requests atomic.Int64
	// status, when it returns non-zero, answers the request without
	// recording it.
	status func() int
	first  chan struct{} // closed when the first request arrives
	once   sync.Once
	hang   chan struct{} // if non-nil, handlers block until it is closed
	auth   atomic.Value  // last Authorization header
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{first: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		if r.hang != nil {
			close(r.hang)
		}
		r.srv.Close()
	})
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	r.auth.Store(req.Header.Get("Authorization"))
	r.once.Do(func() { close(r.first) })
	if r.hang != nil {
		select {
		case <-r.hang:
		case <-req.Context().Done():
		}
		return
	}
	if r.status != nil {
		if c := r.status(); c != 0 {
			w.WriteHeader(c)
			return
		}
	}
	if req.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	var batch []Event
	if err := json.NewDecoder(req.Body).Decode(&batch); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.events = append(r.events, batch...)
	r.mu.Unlock()
}

func (r *receiver) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, e := range r.events {
		ids = append(ids, e.RequestID)
	}
	return ids
}

func TestWebhookDelivers(t *testing.T) {
	r := newReceiver(t)
	ws, err := NewWebhook(WebhookConfig{URL: r.srv.URL, Token: "s3cret", BatchSize: 7,
		FlushInterval: time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	l := New(ws)
	var want []string
	for i := range 100 {
		l.Emit(event(i))
		want = append(want, event(i).RequestID)
	}
	closeCtx(t, l)
	if got := r.ids(); !slices.Equal(got, want) {
		t.Fatalf("received %v\nwant %v", got, want)
	}
	if got := r.auth.Load(); got != "Bearer s3cret" {
		t.Errorf("Authorization %q", got)
	}
	if n := r.requests.Load(); n < 100/7+1 {
		t.Errorf("%d requests for 100 events in batches of 7", n)
	}
	if st := ws.Stats(); st != (Stats{Accepted: 100, Delivered: 100}) {
		t.Errorf("stats %+v", st)
	}
}

// fillWhileBlocked emits one event, waits until the receiver holds it
// (so the sink's worker is stuck on it), then emits n more from one
// goroutine: exactly QueueLen of them fit.
func fillWhileBlocked(t *testing.T, r *receiver, l *Logger, n int) {
	l.Emit(event(999999))
	<-r.first
	for i := range n {
		l.Emit(event(i))
	}
}

func TestWebhookHangingReceiverNeverBlocksEmit(t *testing.T) {
	r := newReceiver(t)
	r.hang = make(chan struct{})
	var onDrop atomic.Int64
	const queueLen, n = 1000, 100000
	ws, err := NewWebhook(WebhookConfig{URL: r.srv.URL, QueueLen: queueLen, BatchSize: 10,
		FlushInterval: time.Millisecond, Timeout: time.Hour, Logger: quietLogger(),
		OnDrop: func(string) { onDrop.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	l := New(ws)
	fillWhileBlocked(t, r, l, n) // completes although nothing is delivered
	if got := ws.Dropped(); got != n-queueLen || onDrop.Load() != got {
		t.Fatalf("Dropped %d, OnDrop %d, want %d", got, onDrop.Load(), n-queueLen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // give up on the hanging receiver at once
	if err := l.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	want := Stats{Accepted: queueLen + 1, Dropped: n - queueLen, Discarded: queueLen + 1}
	if st := ws.Stats(); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestWebhook500RetriesThenDelivers(t *testing.T) {
	r := newReceiver(t)
	var healthy atomic.Bool
	r.status = func() int {
		if healthy.Load() {
			return 0
		}
		return http.StatusInternalServerError
	}
	const queueLen, n = 1000, 100000
	ws, err := NewWebhook(WebhookConfig{URL: r.srv.URL, QueueLen: queueLen, BatchSize: 100,
		FlushInterval: time.Millisecond, MaxRetries: 1 << 30, // never give up in this test
		BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	l := New(ws)
	fillWhileBlocked(t, r, l, n)
	if got := ws.Dropped(); got != n-queueLen {
		t.Fatalf("Dropped %d, want %d", got, n-queueLen)
	}
	failedAttempts := r.requests.Load()
	healthy.Store(true)
	closeCtx(t, l) // delivers everything queued

	want := []string{event(999999).RequestID}
	for i := range queueLen {
		want = append(want, event(i).RequestID)
	}
	if got := r.ids(); !slices.Equal(got, want) {
		t.Fatalf("received %d events, want %d in order, each once", len(got), len(want))
	}
	if failedAttempts < 1 {
		t.Errorf("no failed attempt observed")
	}
	wantSt := Stats{Accepted: queueLen + 1, Dropped: n - queueLen, Delivered: queueLen + 1}
	if st := ws.Stats(); st != wantSt {
		t.Fatalf("stats %+v, want %+v", st, wantSt)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name         string
		status       int
		wantRequests int64
	}{
		{"retryable 503", http.StatusServiceUnavailable, 3}, // first try + MaxRetries
		{"permanent 400", http.StatusBadRequest, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t)
			r.status = func() int { return tc.status }
			ws, err := NewWebhook(WebhookConfig{URL: r.srv.URL, BatchSize: 5, MaxRetries: 2,
				FlushInterval: time.Millisecond, BackoffBase: time.Millisecond, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				ws.Write(event(i))
			}
			closeCtx(t, ws)
			if got := r.requests.Load(); got != tc.wantRequests {
				t.Errorf("%d requests, want %d", got, tc.wantRequests)
			}
			if st := ws.Stats(); st != (Stats{Accepted: 5, Failed: 5}) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestWebhookDeadReceiver(t *testing.T) {
	// A port nothing listens on: connection refused on every attempt.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	ws, err := NewWebhook(WebhookConfig{URL: url, QueueLen: 10, BatchSize: 1, MaxRetries: 1,
		FlushInterval: time.Millisecond, BackoffBase: time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		ws.Write(event(i))
	}
	closeCtx(t, ws)
	st := ws.Stats()
	if st.Accepted+st.Dropped != 1000 || st.Failed != st.Accepted || st.Delivered != 0 {
		t.Fatalf("stats %+v", st)
	}
	ws.Write(event(0)) // after Close: no panic
	if ws.Stats().AfterClose != 1 {
		t.Errorf("Write after Close not counted")
	}
}
