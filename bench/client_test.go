package bench

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestErrorKind(t *testing.T) {
	// A closed loopback port: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	ctx := context.Background()
	_, err = testClient(t, closed).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("b")})
	if k := ErrorKind(err); k != "net:refused" {
		t.Errorf("refused: %q (%v)", k, err)
	}

	// Answers without an S3 error code, and a server that hangs up.
	url := startSinkT(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/teapot/k":
			w.WriteHeader(http.StatusTeapot)
		case "/hangup/k":
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
		case "/slow/k":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<Error><Code>SlowDown</Code><Message>m</Message></Error>`)
		}
	}))
	c := testClient(t, url)
	get := func(ctx context.Context, b string) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	if k := ErrorKind(get(ctx, "other")); k != "SlowDown" {
		t.Errorf("S3 code: %q", k)
	}
	// The SDK names a code-less error after its status text.
	if k := ErrorKind(get(ctx, "teapot")); k != "I'mateapot" && k != "HTTP418" {
		t.Errorf("code-less error kind %q", k)
	}
	if k := ErrorKind(get(ctx, "hangup")); k != "net:eof" && k != "net:reset" {
		t.Errorf("hang-up: %q", k)
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if k := ErrorKind(get(tctx, "slow")); k != kindTimeout {
		t.Errorf("deadline: %q", k)
	}

	for err, want := range map[error]string{
		nil:                                    "",
		fmt.Errorf("x: %w", ErrVerifyMismatch): kindVerifyMismatch,
		fmt.Errorf("x: %w", ErrVerifySize):     kindVerifySize,
		fmt.Errorf("x: %w", ErrVerifyList):     kindVerifyList,
		context.Canceled:                       kindCanceled,
		io.ErrUnexpectedEOF:                    "net:eof",
		&net.OpError{Op: "read", Err: syscall.ECONNRESET}:     "net:reset",
		&net.OpError{Op: "write", Err: syscall.EPIPE}:         "net:broken-pipe",
		&net.OpError{Op: "dial", Err: errors.New("no route")}: "net:dial",
		&net.DNSError{Err: "no such host", Name: "x"}:         "net:dns",
		errors.New("weird"): "other",
	} {
		if got := ErrorKind(err); got != want {
			t.Errorf("ErrorKind(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestConfigValidateCollectsEverything(t *testing.T) {
	c := Config{
		Endpoint: "ftp://x", Workload: WorkloadMultipart, Size: FixedSize(1 << 20), PartSize: 1 << 20,
		Concurrency: -2, Duration: -1, Ops: -1, Retries: -1, ListPageSize: 2000, OpTimeout: -1, Bucket: "Bad_Name",
		Keys: -1, PartConcurrency: -1,
	}
	err := c.Validate()
	if !errors.Is(err, ErrBadConfig) {
		t.Fatal(err)
	}
	for _, want := range []string{"endpoint", "credentials", "concurrency", "negative duration", "negative op count", "retries",
		"part size", "larger than the part size", "list page size", "op timeout", "bucket", "keys", "part concurrency"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %q: %v", want, err)
		}
	}
	ok := DefaultConfig()
	ok.Endpoint, ok.AccessKey, ok.SecretKey = "https://s3.example", "a", "b"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, valid := range map[string]bool{"abc": true, "a.b-c": true, "ab": false, "-ab": false, "abc.": false, "ABC": false, strings.Repeat("a", 64): false} {
		if validBucketName(name) != valid {
			t.Errorf("validBucketName(%q) != %v", name, valid)
		}
	}
}

func TestCAFile(t *testing.T) {
	cfg := Config{CAFile: "/nonexistent/ca.pem"}.withDefaults()
	if _, err := newHTTPTransport(cfg); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("missing CA file: %v", err)
	}
	dir := t.TempDir()
	path := dir + "/ca.pem"
	if err := writeFile(path, "not a certificate"); err != nil {
		t.Fatal(err)
	}
	cfg.CAFile = path
	if _, err := newHTTPTransport(cfg); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("CA file without PEM: %v", err)
	}
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

// TestTransportResumesTLSSessions: a reconnect (here every request: the
// server keeps no connection) resumes the TLS session instead of a full
// handshake, and stays on HTTP/1.1.
func TestTransportResumesTLSSessions(t *testing.T) {
	var resumed, full, h1 atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.DidResume {
			resumed.Add(1)
		} else {
			full.Add(1)
		}
		if r.ProtoMajor == 1 {
			h1.Add(1)
		}
	}))
	srv.EnableHTTP2 = true // offered by the server: the client must still speak HTTP/1.1
	srv.Config.SetKeepAlivesEnabled(false)
	srv.StartTLS()
	defer srv.Close()
	path := t.TempDir() + "/ca.pem"
	if err := writeFile(path, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))); err != nil {
		t.Fatal(err)
	}
	tr, err := newHTTPTransport(Config{CAFile: path}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for i := 0; i < 4; i++ {
		resp, err := hc.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if full.Load() != 1 || resumed.Load() != 3 || h1.Load() != 4 {
		t.Fatalf("%d full handshakes, %d resumed, %d HTTP/1 requests; want 1, 3, 4", full.Load(), resumed.Load(), h1.Load())
	}
}
