package bench

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// sinkConfig is a short run against url.
func sinkConfig(url string, w Workload) Config {
	cfg := DefaultConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.PathStyle = url, "bench", "bench", true
	cfg.Workload = w
	cfg.Concurrency = 4
	cfg.Duration = time.Second
	cfg.Keys = 40
	cfg.Size = FixedSize(16 << 10)
	cfg.Seed = 12345
	cfg.ListPageSize = 15
	return cfg
}

// checkConsistent checks what every report must satisfy.
func checkConsistent(t *testing.T, rep *Report) {
	t.Helper()
	if rep.Version != ReportVersion || rep.ElapsedNs <= 0 {
		t.Fatalf("version %d, elapsed %d", rep.Version, rep.ElapsedNs)
	}
	if len(rep.Ops) != len(rep.Series.Ops) {
		t.Fatalf("%d ops but %d series", len(rep.Ops), len(rep.Series.Ops))
	}
	wantIntervals := int((rep.ElapsedNs + rep.Series.IntervalNs - 1) / rep.Series.IntervalNs)
	for _, o := range rep.Ops {
		s, ok := rep.SeriesOf(o.Op)
		if !ok {
			t.Fatalf("no series for %s", o.Op)
		}
		if len(s.Ops) != wantIntervals || len(s.Bytes) != wantIntervals || len(s.Errors) != wantIntervals {
			t.Fatalf("%s series has %d/%d/%d intervals, want %d", o.Op, len(s.Ops), len(s.Bytes), len(s.Errors), wantIntervals)
		}
		var ops, bytes, errs int64
		for i := range s.Ops {
			ops, bytes, errs = ops+s.Ops[i], bytes+s.Bytes[i], errs+s.Errors[i]
		}
		if ops != o.Count || bytes != o.Bytes || errs != o.Errors {
			t.Errorf("%s: table says %d ops/%d bytes/%d errors, series sum to %d/%d/%d", o.Op, o.Count, o.Bytes, o.Errors, ops, bytes, errs)
		}
		var kinds int64
		for _, n := range o.ErrorKinds {
			kinds += n
		}
		if kinds != o.Errors {
			t.Errorf("%s: %d errors but kinds add up to %d", o.Op, o.Errors, kinds)
		}
		if o.Count > 0 {
			l := o.Latency
			if !(l.MinNs <= l.P50Ns && l.P50Ns <= l.P90Ns && l.P90Ns <= l.P99Ns && l.P99Ns <= l.P999Ns && l.P999Ns <= l.MaxNs && l.MinNs > 0) {
				t.Errorf("%s: latencies out of order: %+v", o.Op, l)
			}
			if want := float64(o.Count) / rep.Elapsed().Seconds(); o.OpsPerSec != want {
				t.Errorf("%s: %v ops/s, want %v", o.Op, o.OpsPerSec, want)
			}
			if want := float64(o.Bytes) / MiB / rep.Elapsed().Seconds(); o.MiBPerSec != want {
				t.Errorf("%s: %v MiB/s, want %v", o.Op, o.MiBPerSec, want)
			}
		}
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, o := range rep.Ops {
		if !regexp.MustCompile(`(?m)^\s*` + o.Op + `\s+` + strconv.FormatInt(o.Count, 10) + `\s`).MatchString(table.String()) {
			t.Errorf("table lacks the %s row with %d ops:\n%s", o.Op, o.Count, table.String())
		}
	}
}

func TestRunWorkloadsAgainstSink(t *testing.T) {
	sink := NewSink(WithUploadVerification())
	url := startSinkT(t, sink)
	for _, w := range Workloads {
		t.Run(string(w), func(t *testing.T) {
			cfg := sinkConfig(url, w)
			want := []string{string(w)}
			switch w {
			case WorkloadMixed:
				want = []string{"put", "get", "delete", "stat"}
			case WorkloadList:
				cfg.Size = FixedSize(0)
			case WorkloadMultipart:
				cfg.Size = SizeSpec{Min: minPartSize + 1, Max: minPartSize + 100000}
				cfg.PartSize = minPartSize
				cfg.PartConcurrency = 2
				cfg.Concurrency = 2
			case WorkloadPut:
				cfg.Size = SizeSpec{Min: 1, Max: 64 << 10}
			}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, rep)
			if len(rep.Ops) != len(want) {
				t.Fatalf("ops %v, want %v", rep.Ops, want)
			}
			for i, o := range rep.Ops {
				if o.Op != want[i] {
					t.Errorf("op %d is %s, want %s", i, o.Op, want[i])
				}
				if o.Count == 0 {
					t.Errorf("%s: no operations completed", o.Op)
				}
				if o.Errors != 0 {
					t.Errorf("%s: %d errors: %v", o.Op, o.Errors, o.ErrorKinds)
				}
				switch o.Op {
				case "get":
					if o.TTFB == nil || o.TTFB.P50Ns <= 0 || o.TTFB.P50Ns > o.Latency.MaxNs {
						t.Errorf("get ttfb %+v", o.TTFB)
					}
					if o.Bytes != o.Count*(16<<10) {
						t.Errorf("get moved %d bytes in %d ops of 16KiB", o.Bytes, o.Count)
					}
				case "stat", "delete", "list":
					if o.Bytes != 0 {
						t.Errorf("%s moved %d bytes", o.Op, o.Bytes)
					}
				case "multipart":
					if o.Bytes < o.Count*(minPartSize+1) || o.Bytes > o.Count*(minPartSize+100000) {
						t.Errorf("multipart moved %d bytes in %d ops", o.Bytes, o.Count)
					}
				}
			}
			if rep.Interrupted || rep.VerifyErrors() != 0 || len(rep.Warnings) != 0 {
				t.Errorf("interrupted %v, verify errors %d, warnings %v", rep.Interrupted, rep.VerifyErrors(), rep.Warnings)
			}
			if !strings.HasPrefix(rep.Setup.Bucket, "vaultaire-bench-") || rep.Setup.Workload != string(w) || rep.Setup.Seed != 12345 {
				t.Errorf("setup %+v", rep.Setup)
			}
			if sink.bucketCount() != 0 {
				t.Errorf("%d buckets left behind", sink.bucketCount())
			}
		})
	}
}

// bodyRewriter wraps a handler and lets rewrite change the response of
// requests that match.
type bodyRewriter struct {
	h       http.Handler
	match   func(*http.Request) bool
	rewrite func(hdr http.Header, body []byte) []byte
}

func (b bodyRewriter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !b.match(r) {
		b.h.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		body = b.rewrite(rec.Header(), body)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	if r.Method != http.MethodHead {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func isObjectGet(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Count(strings.TrimPrefix(r.URL.Path, "/"), "/") >= 1
}

func TestRunDetectsWrongBytes(t *testing.T) {
	sink := NewSink()
	url := startSinkT(t, bodyRewriter{h: sink, match: isObjectGet, rewrite: func(_ http.Header, body []byte) []byte {
		if len(body) > 0 {
			body[len(body)/2] ^= 0x40 // one flipped bit, same length: fast and wrong
		}
		return body
	}})
	cfg := sinkConfig(url, WorkloadGet)
	cfg.Ops = 50
	cfg.Duration = 0
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, rep)
	get, _ := rep.Op("get")
	if get.Count != 0 || get.Errors != 50 || get.ErrorKinds[kindVerifyMismatch] != 50 || rep.VerifyErrors() != 50 {
		t.Fatalf("corrupt GETs not all caught: %+v", get)
	}
	var table bytes.Buffer
	_ = rep.WriteTable(&table)
	if !strings.Contains(table.String(), "VERIFICATION FAILED") {
		t.Errorf("table does not shout:\n%s", table.String())
	}
}

func TestRunDetectsStaleContent(t *testing.T) {
	// A server that answers GETs with the content of another key (same
	// size, a valid artifact of this run) must fail verification too.
	sink := NewSink()
	url := startSinkT(t, bodyRewriter{h: sink, match: isObjectGet, rewrite: func(_ http.Header, body []byte) []byte {
		out := make([]byte, len(body))
		fillContent(contentBase(7, "some/other/key", int64(len(body))), 0, out)
		return out
	}})
	cfg := sinkConfig(url, WorkloadGet)
	cfg.Ops, cfg.Duration = 20, 0
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if get, _ := rep.Op("get"); get.ErrorKinds[kindVerifyMismatch] != 20 {
		t.Fatalf("stale content not caught: %+v", get)
	}
}

func TestRunDetectsShortBodies(t *testing.T) {
	sink := NewSink()
	url := startSinkT(t, bodyRewriter{h: sink, match: isObjectGet, rewrite: func(_ http.Header, body []byte) []byte {
		return body[:len(body)-1]
	}})
	cfg := sinkConfig(url, WorkloadGet)
	cfg.Ops, cfg.Duration = 10, 0
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if get, _ := rep.Op("get"); get.ErrorKinds[kindVerifySize] != 10 {
		t.Fatalf("short bodies not caught: %+v", get)
	}
}

func TestRunDetectsBadListing(t *testing.T) {
	sink := NewSink()
	contents := regexp.MustCompile(`<Contents>.*?</Contents>`)
	url := startSinkT(t, bodyRewriter{h: sink,
		match: func(r *http.Request) bool {
			return r.URL.Query().Get("list-type") == "2" && strings.Contains(r.URL.Query().Get("prefix"), "list/")
		},
		rewrite: func(_ http.Header, body []byte) []byte {
			n := 0
			return contents.ReplaceAllFunc(body, func(m []byte) []byte {
				n++
				if n == 3 {
					return nil // drop one key from every page
				}
				return m
			})
		}})
	cfg := sinkConfig(url, WorkloadList)
	cfg.Size = FixedSize(0)
	cfg.Ops, cfg.Duration = 12, 0
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := rep.Op("list")
	if list.ErrorKinds[kindVerifyList] == 0 || list.Errors != list.ErrorKinds[kindVerifyList] {
		t.Fatalf("listing with a missing key not caught: %+v", list)
	}
}

func TestRunDetectsWrongHeadLength(t *testing.T) {
	sink := NewSink()
	url := startSinkT(t, bodyRewriter{h: sink,
		match: func(r *http.Request) bool {
			return r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/obj/")
		},
		rewrite: func(h http.Header, body []byte) []byte {
			n, _ := strconv.Atoi(h.Get("Content-Length"))
			h.Set("Content-Length", strconv.Itoa(n+1))
			return body
		}})
	cfg := sinkConfig(url, WorkloadMixed)
	cfg.Mix, _ = ParseMix("stat=1")
	cfg.Ops, cfg.Duration = 10, 0
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stat, _ := rep.Op("stat"); stat.ErrorKinds[kindVerifySize] != 10 {
		t.Fatalf("wrong HEAD length not caught: %+v", stat)
	}
}

func TestRunDetectsLostWrite(t *testing.T) {
	// A server that acknowledges PUTs of the mixed workload but keeps the
	// old version breaks read-after-write; the next GET of the key notices.
	sink := NewSink()
	var puts atomic.Int64
	const keys = 4
	url := startSinkT(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The first PUTs prepare the key space; later ones are lost.
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/obj/") && puts.Add(1) > keys {
			w.WriteHeader(http.StatusOK) // acknowledged, dropped
			return
		}
		sink.ServeHTTP(w, r)
	}))
	cfg := sinkConfig(url, WorkloadMixed)
	cfg.Keys = keys
	cfg.Concurrency = 2
	cfg.Mix, _ = ParseMix("get=1,put=1")
	cfg.Size = SizeSpec{Min: 100, Max: 200}
	cfg.Ops, cfg.Duration = 200, 0
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	get, _ := rep.Op("get")
	if get.ErrorKinds[kindVerifySize]+get.ErrorKinds[kindVerifyMismatch] == 0 {
		t.Fatalf("lost writes not noticed: %+v", get)
	}
}

func (s *Sink) objectCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.mu.buckets {
		n += len(b.objects)
	}
	return n
}

func TestRunOpsLimitIsExact(t *testing.T) {
	url := startSinkT(t, NewSink())
	cfg := sinkConfig(url, WorkloadPut)
	cfg.Ops, cfg.Duration = 37, 0
	cfg.Concurrency = 5
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, rep)
	if put, _ := rep.Op("put"); put.Count+put.Errors != 37 {
		t.Fatalf("%d ops + %d errors, want 37", put.Count, put.Errors)
	}
}

func TestRunInterrupted(t *testing.T) {
	sink := NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	url := startSinkT(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/put/") && n.Add(1) == 30 {
			cancel() // the user presses Ctrl-C while requests are in flight
		}
		sink.ServeHTTP(w, r)
	}))
	cfg := sinkConfig(url, WorkloadPut)
	cfg.Duration = time.Hour
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, rep)
	put, _ := rep.Op("put")
	// Requests in flight when the context ended are not counted, not even
	// as errors: at most Concurrency of them.
	if !rep.Interrupted || put.Count < 30-int64(cfg.Concurrency) || put.Count > n.Load() || put.Errors != 0 {
		t.Fatalf("interrupted %v, %d ops, %d errors %v", rep.Interrupted, put.Count, put.Errors, put.ErrorKinds)
	}
	if sink.bucketCount() != 0 {
		t.Fatal("an interrupted run did not clean up")
	}
}

func TestRunPrepareFailure(t *testing.T) {
	sink := NewSink()
	url := startSinkT(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/obj/00000007") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`<Error><Code>SlowDown</Code><Message>busy</Message></Error>`))
			return
		}
		sink.ServeHTTP(w, r)
	}))
	_, err := Run(context.Background(), sinkConfig(url, WorkloadGet))
	if !errors.Is(err, ErrPrepare) || !strings.Contains(err.Error(), "SlowDown") {
		t.Fatalf("Run: %v, want ErrPrepare naming SlowDown", err)
	}
	if sink.bucketCount() != 0 {
		t.Fatal("a failed run did not clean up")
	}
}

func TestRunExistingBucketAndKeep(t *testing.T) {
	sink := NewSink()
	url := startSinkT(t, sink)
	c := testClient(t, url)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mine")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mine"), Key: aws.String("precious"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	cfg := sinkConfig(url, WorkloadPut)
	cfg.Bucket = "mine"
	cfg.Ops, cfg.Duration = 10, 0
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Setup.Bucket != "mine" || sink.bucketCount() != 1 || sink.objectCount() != 1 {
		t.Fatalf("bucket %s; %d buckets, %d objects after the run", rep.Setup.Bucket, sink.bucketCount(), sink.objectCount())
	}
	cfg.Keep = true
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if sink.objectCount() != 11 {
		t.Fatalf("--keep left %d objects, want 11", sink.objectCount())
	}
	cfg.Bucket = "missing"
	if _, err := Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing bucket: %v", err)
	}
}

func TestRunProgressLine(t *testing.T) {
	url := startSinkT(t, NewSink())
	cfg := sinkConfig(url, WorkloadGet)
	var out syncBuffer
	cfg.Progress = &out
	cfg.ProgressInterval = 20 * time.Millisecond
	cfg.Duration = 300 * time.Millisecond
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "\r") || !strings.HasSuffix(s, "\r\x1b[K") {
		t.Fatalf("progress output %q", s)
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunRejectsBadConfig(t *testing.T) {
	cfg := Config{Workload: "nope", Concurrency: -1, Size: SizeSpec{Min: 5, Max: 1}}
	_, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("Run: %v", err)
	}
	for _, want := range []string{"no endpoint", "no credentials", "unknown workload", "size", "concurrency"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q: %v", want, err)
		}
	}
}

// One store behind three listeners stands for the nodes of a cluster:
// with several endpoints every listener gets its share of the requests,
// and reads verify writes made through another listener.
func TestRunSpreadsOverEndpoints(t *testing.T) {
	sink := NewSink()
	var hits [3]atomic.Int64
	var urls []string
	for i := range hits {
		urls = append(urls, startSinkT(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			sink.ServeHTTP(w, r)
		})))
	}
	cfg := sinkConfig(urls[0], WorkloadMixed)
	cfg.ExtraEndpoints = urls[1:]
	cfg.Duration, cfg.Ops = 0, 300
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, rep)
	var total int64
	for _, o := range rep.Ops {
		total += o.Count
		if o.Errors > 0 {
			t.Errorf("%s: %d errors %v", o.Op, o.Errors, o.ErrorKinds)
		}
	}
	if total != 300 {
		t.Fatalf("%d ops, want 300", total)
	}
	var sum int64
	for i := range hits {
		sum += hits[i].Load()
	}
	for i := range hits {
		// Round-robin per resolved request: about a third each.
		if n := hits[i].Load(); n < sum/4 || n > sum/2 {
			t.Errorf("endpoint %d got %d of %d requests", i, n, sum)
		}
	}
	if len(rep.Setup.Endpoints) != 3 || rep.Setup.Endpoints[2] != urls[2] || rep.Setup.Endpoint != urls[0] {
		t.Errorf("setup endpoints %q (endpoint %q)", rep.Setup.Endpoints, rep.Setup.Endpoint)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "endpoints "+strings.Join(urls, " ")+" (round-robin)") {
		t.Errorf("table does not name the endpoints:\n%s", table.String())
	}
}
