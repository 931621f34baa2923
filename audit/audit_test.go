package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// event returns a distinct event whose JSON line has the same length for
// every i < 1e6.
func event(i int) Event {
	return Event{
		Time:        time.Date(2026, 11, 22, 4, 31, 0, 123456789, time.UTC),
		RequestID:   fmt.Sprintf("req-%06d", i),
		Node:        "node-a",
		Tenant:      "acme",
		User:        "alice",
		AccessKeyID: "AKIAEXAMPLE",
		Operation:   "PutObject",
		Container:   "photos",
		Key:         "a/b/c.jpg",
		VersionID:   "v1",
		Status:      200,
		BytesIn:     1024,
		BytesOut:    0,
		Duration:    1500 * time.Microsecond,
		RemoteAddr:  "127.0.0.1:5555",
		UserAgent:   "aws-sdk-go-v2",
	}
}

func TestEventJSONSchema(t *testing.T) {
	e := event(7)
	e.Time = time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	e.ErrorCode = "NoSuchKey"
	e.Status = 404
	e.Admin = true
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"schema_version", "time", "request_id", "node", "tenant", "user",
		"access_key_id", "operation", "container", "key", "version_id", "status",
		"error_code", "bytes_in", "bytes_out", "duration_seconds", "remote_addr",
		"user_agent", "admin", "requester"}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("fields:\n got %v\nwant %v", got, want)
	}
	if m["time"] != "2026-01-02T02:04:05.000000006Z" {
		t.Errorf("time = %v, want RFC3339Nano UTC", m["time"])
	}
	if m["duration_seconds"] != 0.0015 {
		t.Errorf("duration_seconds = %v, want 0.0015", m["duration_seconds"])
	}
	if m["schema_version"] != float64(SchemaVersion) || m["admin"] != true || m["error_code"] != "NoSuchKey" {
		t.Errorf("unexpected values: %s", b)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	e.Time = e.Time.UTC()
	if !reflect.DeepEqual(back, e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, e)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string // substrings, all must appear
	}{
		{"file ok", FileConfig{Path: "x"}.Validate(), nil},
		{"file all bad", FileConfig{MaxBytes: -1, Keep: -1, QueueLen: -1}.Validate(),
			[]string{"Path is required", "MaxBytes", "Keep", "QueueLen"}},
		{"webhook ok", WebhookConfig{URL: "http://127.0.0.1:1/x"}.Validate(), nil},
		{"webhook all bad", WebhookConfig{URL: "ftp://x", QueueLen: -1, BatchSize: -1,
			FlushInterval: -1, Timeout: -1, MaxRetries: -1, BackoffBase: -1, BackoffMax: -1}.Validate(),
			[]string{"not an http(s) URL", "QueueLen", "BatchSize", "FlushInterval", "Timeout",
				"MaxRetries", "BackoffBase", "BackoffMax"}},
		{"webhook no url", WebhookConfig{}.Validate(), []string{"URL is required"}},
		{"webhook backoff order", WebhookConfig{URL: "https://h", BackoffBase: time.Second,
			BackoffMax: time.Millisecond}.Validate(), []string{"below BackoffBase"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil {
				if tc.err != nil {
					t.Fatalf("unexpected error: %v", tc.err)
				}
				return
			}
			if tc.err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(tc.err.Error(), w) {
					t.Errorf("error %q lacks %q", tc.err, w)
				}
			}
		})
	}
	if _, err := NewFile(FileConfig{}); err == nil {
		t.Error("NewFile accepted an empty config")
	}
	if _, err := NewWebhook(WebhookConfig{}); err == nil {
		t.Error("NewWebhook accepted an empty config")
	}
}

func readLines(t *testing.T, path string) []Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end in a newline: a line was split", path)
	}
	var out []Event
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func closeCtx(t *testing.T, c interface{ Close(context.Context) error }) {
	t.Helper()
	if err := c.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	fs, err := NewFile(FileConfig{Path: path, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	l := New(fs)
	var want []Event
	for i := range 500 {
		e := event(i)
		e.Key = strings.Repeat("k", i%7) + "\n\"quoted\"\t✓" // newlines must not split lines
		want = append(want, e)
		l.Emit(e)
	}
	closeCtx(t, l)
	got := readLines(t, path)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d events, want %d; first mismatch shown:\n%s", len(got), len(want), firstDiff(got, want))
	}
	if st := fs.Stats(); st.Delivered != 500 || st.Accepted != 500 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func firstDiff(got, want []Event) string {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("[%d] got %+v\n want %+v", i, got[i], want[i])
		}
	}
	return "(length differs)"
}

func lineLen(t *testing.T) int64 {
	b, err := json.Marshal(event(0))
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(b)) + 1
}

func TestFileRotationAtBoundary(t *testing.T) {
	ll := lineLen(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	// Exactly three lines fit; the fourth must start a new file.
	const perFile, n = 3, 30
	fs, err := NewFile(FileConfig{Path: path, MaxBytes: perFile * ll, Keep: 100, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		fs.Write(event(i))
	}
	closeCtx(t, fs)

	files := n / perFile // 10: audit.log and audit.log.1 .. .9
	var all []Event
	for i := files - 1; i >= 0; i-- {
		p := path
		if i > 0 {
			p = fmt.Sprintf("%s.%d", path, i)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != perFile*ll {
			t.Errorf("%s: size %d, want %d", p, st.Size(), perFile*ll)
		}
		all = append(all, readLines(t, p)...)
	}
	if _, err := os.Stat(fmt.Sprintf("%s.%d", path, files)); !os.IsNotExist(err) {
		t.Errorf("unexpected extra file: %v", err)
	}
	if len(all) != n {
		t.Fatalf("read %d events, want %d", len(all), n)
	}
	for i, e := range all {
		if want := event(i).RequestID; e.RequestID != want {
			t.Fatalf("event %d is %s, want %s (order or loss)", i, e.RequestID, want)
		}
	}
}

func TestFileRotationKeep(t *testing.T) {
	ll := lineLen(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	const keep, n = 2, 1000
	fs, err := NewFile(FileConfig{Path: path, MaxBytes: 10*ll + ll/2, Keep: keep, QueueLen: n, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		fs.Write(event(i))
	}
	closeCtx(t, fs)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"audit.log", "audit.log.1", "audit.log.2"}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	// The kept files hold the newest events, contiguous and in order.
	var all []Event
	for _, p := range []string{path + ".2", path + ".1", path} {
		all = append(all, readLines(t, p)...)
	}
	if len(all) != 30 {
		t.Fatalf("kept %d events, want 30", len(all))
	}
	for i, e := range all {
		if want := event(n - 30 + i).RequestID; e.RequestID != want {
			t.Fatalf("kept event %d is %s, want %s", i, e.RequestID, want)
		}
	}
	if st := fs.Stats(); st.Delivered != n || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFileAppendsToExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	for round := range 2 {
		fs, err := NewFile(FileConfig{Path: path, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		fs.Write(event(round))
		closeCtx(t, fs)
	}
	if got := readLines(t, path); len(got) != 2 || got[1].RequestID != event(1).RequestID {
		t.Fatalf("got %+v", got)
	}
}

func TestFileCloseFlushesAndEmitAfterCloseIsNoop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	const n = 5000
	fs, err := NewFile(FileConfig{Path: path, QueueLen: n, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	l := New(fs)
	for i := range n {
		l.Emit(event(i))
	}
	closeCtx(t, l)
	if got := len(readLines(t, path)); got != n {
		t.Fatalf("%d lines after Close, want %d", got, n)
	}
	l.Emit(event(n))   // Logger closed: no-op
	fs.Write(event(n)) // sink closed: counted, no panic
	closeCtx(t, l)     // idempotent
	closeCtx(t, fs)
	if got := len(readLines(t, path)); got != n {
		t.Fatalf("%d lines after Emit after Close, want %d", got, n)
	}
	if st := fs.Stats(); st != (Stats{Accepted: n, Delivered: n, AfterClose: 1}) {
		t.Errorf("stats %+v", st)
	}
}

func TestFileOverflowAccounting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var onDrop atomic.Int64
	fs, err := NewFile(FileConfig{Path: path, QueueLen: 4, Logger: quietLogger(),
		OnDrop: func(sink string) {
			if sink == "file" {
				onDrop.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				fs.Write(event(w*each + i))
			}
		})
	}
	wg.Wait()
	closeCtx(t, fs)
	st := fs.Stats()
	lines := int64(len(readLines(t, path)))
	if st.Accepted+st.Dropped != writers*each || st.Delivered != st.Accepted || lines != st.Delivered ||
		fs.Dropped() != st.Dropped || onDrop.Load() != st.Dropped {
		t.Fatalf("stats %+v, lines %d, OnDrop %d", st, lines, onDrop.Load())
	}
}

func TestFileCloseContextEnded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	fs, err := NewFile(FileConfig{Path: path, QueueLen: 20000, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20000 {
		fs.Write(event(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = fs.Close(ctx)
	st := fs.Stats()
	// The worker may or may not have finished before Close looked at ctx;
	// either way the books balance.
	if st.Delivered+st.Discarded+st.Failed != st.Accepted || st.Accepted != 20000 {
		t.Fatalf("stats %+v (err %v)", st, err)
	}
	if st.Discarded > 0 && err == nil {
		t.Errorf("events discarded but Close returned nil")
	}
	if got := int64(len(readLines(t, path))); got != st.Delivered {
		t.Errorf("%d lines, Delivered %d", got, st.Delivered)
	}
}

type panicSink struct{}

func (panicSink) Write(Event)                 { panic("boom") }
func (panicSink) Close(context.Context) error { return nil }

type memSink struct {
	mu     sync.Mutex
	events []Event
}

func (m *memSink) Write(e Event) {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
}
func (m *memSink) Close(context.Context) error { return nil }

func TestLoggerFanOut(t *testing.T) {
	a, b := &memSink{}, &memSink{}
	l := New(a, panicSink{}, nil, b)
	l.Emit(Event{RequestID: "r1"})
	closeCtx(t, l)
	l.Emit(Event{RequestID: "r2"})
	for _, m := range []*memSink{a, b} {
		if len(m.events) != 1 || m.events[0].RequestID != "r1" || m.events[0].Time.IsZero() {
			t.Fatalf("sink got %+v", m.events)
		}
	}
	var nilLogger *Logger
	nilLogger.Emit(Event{}) // a nil Logger is a valid no-op
}

// capture records log messages.
type capture struct {
	mu   sync.Mutex
	msgs []string
}

func (c *capture) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		c.msgs = append(c.msgs, string(p))
		c.mu.Unlock()
		return len(p), nil
	}), nil))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestFileWriteFailuresAreCountedAndLogged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ll := lineLen(t)
	var c capture
	fs, err := NewFile(FileConfig{Path: filepath.Join(dir, "audit.log"), MaxBytes: 2 * ll, Logger: c.logger()})
	if err != nil {
		t.Fatal(err)
	}
	// The open file survives; rotation and reopening will not.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		fs.Write(event(i))
	}
	closeCtx(t, fs)
	if st := fs.Stats(); st != (Stats{Accepted: 10, Delivered: 2, Failed: 8}) {
		t.Fatalf("stats %+v", st)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) == 0 || !strings.Contains(c.msgs[0], "audit: file sink") {
		t.Fatalf("log %q", c.msgs)
	}
}
