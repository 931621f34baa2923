package node_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/mem"
	s3driver "github.com/vaultaire/vaultaire/drivers/s3"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// silentListener accepts connections and never answers on them (a remote
// that hangs after the TCP handshake). The connections close with the test.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + ln.Addr().String()
}

// stallingServer answers every request 200 with a few body bytes of a
// long object, then sends nothing more until the test ends.
func stallingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1048576")
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("some bytes"))
		w.(http.Flusher).Flush()
		select {
		case <-done:
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { close(done); srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestTierReadDeadlines: a GET of a version on a tier whose remote accepts
// the connection and never answers fails after the first-byte deadline,
// not after the driver's idle timeout times its attempts; one whose remote
// sends a few bytes and stalls fails at the total deadline. Both answer
// ErrUnavailable as a TierUnavailableError naming the tier, and the tier
// is reported down; a client that gives up itself marks nothing.
// readSwitch is a tier driver whose reads go to another driver when one
// is set (the remote of the test's choice); everything else goes to the
// in-memory remote the bytes were moved to.
type readSwitch struct {
	drivers.Driver
	reads atomic.Pointer[drivers.Driver]
}

func (s *readSwitch) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if d := s.reads.Load(); d != nil {
		return (*d).Open(ctx, name, off, length)
	}
	return s.Driver.Open(ctx, name, off, length)
}

func (s *readSwitch) readFrom(t *testing.T, endpoint string) {
	t.Helper()
	if endpoint == "" {
		s.reads.Store(nil)
		return
	}
	d, err := s3driver.New(s3driver.Config{Endpoint: endpoint, Bucket: "cold-tier", AccessKey: "AK", SecretKey: "s", Style: s3driver.StylePath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	var dd drivers.Driver = d
	s.reads.Store(&dd)
}

// TestTierReadDeadlines: a GET of a version on a tier whose remote accepts
// the connection and never answers fails after the first-byte deadline,
// not after the driver's idle timeout times its attempts; one whose remote
// sends a few bytes and stalls fails at the total deadline. Both answer
// ErrUnavailable as a TierUnavailableError naming the tier, and the tier
// is reported down until a read succeeds; a caller that gives up itself
// is not reported as the tier's failure.
func TestTierReadDeadlines(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	sw := &readSwitch{Driver: mem.New()}
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1, GCDelay: time.Millisecond, Tune: func(c *node.Config) {
		c.TierReadFirstByte = 300 * time.Millisecond
		c.TierReadTimeout = 2 * time.Second
		c.TierOpener = func(metastore.Tier, string) (drivers.Driver, error) { return sw, nil }
	}})
	e := n.Engine
	ctx := context.Background()
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}, "s"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	data := randBytes(11, 300<<10)
	put(t, e, "c", "k", data)
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "cold"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, endpoint, why string
	}{
		{"silent", silentListener(t), "no answer within 300ms"},
		{"stalling", stallingServer(t), "the read took longer than 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sw.readFrom(t, "")
			if got := read(t, e, "c", "k", 0, -1); string(got) != string(data) || len(e.TierDown()) != 0 {
				t.Fatalf("read from the healthy remote: %d bytes, down %v", len(got), e.TierDown())
			}
			sw.readFrom(t, tc.endpoint)
			r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "k"})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = r.WriteRange(ctx, io.Discard, 0, int64(len(data)))
			// Far below the driver's 30 s idle timeout times 5 attempts.
			if took := time.Since(start); took > 20*time.Second {
				t.Fatalf("the read took %v", took)
			}
			var tu *node.TierUnavailableError
			if !errors.Is(err, node.ErrUnavailable) || !errors.Is(err, node.ErrTierUnavailable) || !errors.As(err, &tu) || tu.Tier != "cold" {
				t.Fatalf("read: %v", err)
			}
			if msg := tu.ClientMessage(); !strings.Contains(msg, `"cold"`) || !strings.Contains(msg, tc.why) {
				t.Fatalf("client message %q", msg)
			}
			if down := e.TierDown(); len(down) != 1 || down[0] != "cold" {
				t.Fatalf("TierDown = %v", down)
			}
		})
	}

	// A caller that gives up first is not the tier's fault.
	sw.readFrom(t, "")
	read(t, e, "c", "k", 0, -1)
	sw.readFrom(t, silentListener(t))
	r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = r.WriteRange(cctx, io.Discard, 0, int64(len(data)))
	var tu *node.TierUnavailableError
	if err == nil || errors.As(err, &tu) {
		t.Fatalf("read cancelled by its caller: %v", err)
	}
	if down := e.TierDown(); len(down) != 0 {
		t.Fatalf("TierDown = %v after the caller gave up", down)
	}
}
