package s3_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// logLines keeps the text of every log record at or above a level.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// TestClientClosedRequests: a client that resets its connection in the
// middle of an upload or of a download is recorded with status 499
// ClientClosedRequest and the bytes moved so far, never as a 5xx, and is
// not logged as an error (it used to be 500 InternalError, logged at
// ERROR, and a cut download 200 "ResponseAborted").
func TestClientClosedRequests(t *testing.T) {
	var mu sync.Mutex
	var events []s3.RequestEvent
	logs := &logLines{}
	h := newHarnessNode(t, nodetest.Options{InlineThreshold: -1}, func(c *s3.Config) {
		c.Logger = slog.New(logs)
		c.OnRequest = func(ev s3.RequestEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	})
	h.bucket(t, "gone")
	// 32 MiB: more than loopback socket buffers can absorb, so the cut GET
	// is still writing when the client resets (with 4 MiB a loaded machine
	// let the whole body into the buffers, and the GET ended as a 200).
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<21)
	resp, b := h.do(t, rawReq{method: "PUT", path: "/gone/big", body: big, payload: sigv4.UnsignedPayload})
	expectOK(t, resp, b)

	reset := func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }
	dial := func() net.Conn {
		c, err := net.Dial("tcp", strings.TrimPrefix(h.plain.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// 1. An upload that stops after 1 MiB of 4 and resets the connection.
	req := h.signReq(t, rawReq{method: "PUT", path: "/gone/upload", body: big, payload: sigv4.UnsignedPayload})
	c := dial()
	if _, err := c.Write(dump(t, req, big[:1<<20])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the server read what was sent
	reset(c)
	// 2. A download read for 64 KiB, then reset.
	req = h.signReq(t, rawReq{method: "GET", path: "/gone/big"})
	c = dial()
	if _, err := c.Write(dump(t, req, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	reset(c)

	find := func(op s3.Operation, key string) (s3.RequestEvent, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range events {
			if ev.Operation == op && ev.Key == key {
				return ev, true
			}
		}
		return s3.RequestEvent{}, false
	}
	for _, w := range []struct {
		op  s3.Operation
		key string
	}{{s3.OpPutObject, "upload"}, {s3.OpGetObject, "big"}} {
		deadline := time.Now().Add(10 * time.Second)
		var ev s3.RequestEvent
		for {
			var ok bool
			if ev, ok = find(w.op, w.key); ok && (w.op != s3.OpGetObject || ev.BytesOut < int64(len(big))) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s: no event of the cut request", w.op, w.key)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ev.Status != s3.StatusClientClosedRequest || ev.ErrorCode != s3.CodeClientClosedRequest {
			t.Errorf("%s %s: status %d code %q, want 499 ClientClosedRequest", w.op, w.key, ev.Status, ev.ErrorCode)
		}
		if w.op == s3.OpPutObject && (ev.BytesIn < 1<<19 || ev.BytesIn > 1<<20) {
			t.Errorf("upload: bytes in %d, want what arrived (about 1 MiB)", ev.BytesIn)
		}
		if w.op == s3.OpGetObject && (ev.BytesOut < 64<<10 || ev.BytesOut >= int64(len(big))) {
			t.Errorf("download: bytes out %d, want what was sent before the reset", ev.BytesOut)
		}
	}
	h.absent(t, "gone", "upload")
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, l := range logs.lines {
		if strings.HasPrefix(l, "ERROR") || strings.HasPrefix(l, "WARN") {
			t.Errorf("a client going away was logged as %q", l)
		}
	}
}
