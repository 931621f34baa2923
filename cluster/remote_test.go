package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
	"github.com/vaultaire/vaultaire/drivers/mem"
)

// shardServer starts a TLS server (HTTP/2 when h2) serving drives.
func startShardServer(t testing.TB, h2 bool, drives map[string]drivers.Driver) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	RegisterShards(mux, func(id string) (drivers.Driver, bool) {
		d, ok := drives[id]
		return d, ok
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func remoteFor(srv *httptest.Server, drive string) *RemoteDriver {
	addr := srv.Listener.Addr().String()
	return NewRemoteDriver(RemoteConfig{
		Client: srv.Client(),
		Addr:   func() (string, error) { return addr, nil },
		Drive:  drive,
	})
}

var protocols = []struct {
	name string
	h2   bool
}{{"http1", false}, {"http2", true}}

// TestRemoteConformance is the main correctness proof: the drivers
// contract holds for RemoteDriver -> TLS -> RegisterShards -> mem.
func TestRemoteConformance(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			driverstest.Run(t, func(t *testing.T) drivers.Driver {
				// A drive id that needs path escaping.
				const id = "drive 1/ü"
				srv := startShardServer(t, p.h2, map[string]drivers.Driver{id: mem.New()})
				return remoteFor(srv, id)
			})
		})
	}
}

func TestRemoteUnknownDrive(t *testing.T) {
	srv := startShardServer(t, false, map[string]drivers.Driver{"d1": mem.New()})
	d := remoteFor(srv, "nope")
	ctx := context.Background()
	_, err := d.Stat(ctx, "a")
	if !errors.Is(err, drivers.ErrOffline) || !errors.Is(err, ErrNoDrive) {
		t.Fatalf("Stat on unknown drive = %v, want ErrOffline and ErrNoDrive", err)
	}
	if _, err := d.Put(ctx, "a", strings.NewReader("x")); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Put on unknown drive = %v, want ErrOffline", err)
	}
	if err := d.List(ctx, "", func(drivers.Info) error { return nil }); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("List on unknown drive = %v, want ErrOffline", err)
	}
	u, err := d.Usage(ctx)
	if err != nil || u.Online || !errors.Is(u.Err, drivers.ErrOffline) {
		t.Fatalf("Usage on unknown drive = %+v, %v; want offline usage, nil", u, err)
	}
}

func TestRemoteServerDown(t *testing.T) {
	srv := startShardServer(t, false, map[string]drivers.Driver{"d": mem.New()})
	d := remoteFor(srv, "d")
	srv.Close()
	ctx := context.Background()
	if _, err := d.Stat(ctx, "a"); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Stat with server down = %v, want ErrOffline", err)
	}
	if _, err := d.Put(ctx, "a", strings.NewReader("x")); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Put with server down = %v, want ErrOffline", err)
	}
	if _, err := d.Open(ctx, "a", 0, -1); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Open with server down = %v, want ErrOffline", err)
	}

	errDead := errors.New("node n2 is dead")
	dead := NewRemoteDriver(RemoteConfig{
		Client: srv.Client(),
		Addr:   func() (string, error) { return "", errDead },
		Drive:  "d",
	})
	if _, err := dead.Stat(ctx, "a"); !errors.Is(err, drivers.ErrOffline) || !strings.Contains(err.Error(), errDead.Error()) {
		t.Fatalf("Stat with Addr error = %v, want ErrOffline naming the cause", err)
	}
	if u, err := dead.Usage(ctx); err != nil || u.Online {
		t.Fatalf("Usage with Addr error = %+v, %v", u, err)
	}
}

// recordDriver wraps a driver and reports the result of every Put.
type recordDriver struct {
	drivers.Driver
	puts chan error
	open func(ctx context.Context) (io.ReadCloser, error)
	stat func(ctx context.Context) (drivers.Info, error)
}

func (r *recordDriver) Put(ctx context.Context, name string, rd io.Reader) (int64, error) {
	n, err := r.Driver.Put(ctx, name, rd)
	if r.puts != nil {
		r.puts <- err
	}
	return n, err
}

func (r *recordDriver) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if r.open != nil {
		return r.open(ctx)
	}
	return r.Driver.Open(ctx, name, off, length)
}

func (r *recordDriver) Stat(ctx context.Context, name string) (drivers.Info, error) {
	if r.stat != nil {
		return r.stat(ctx)
	}
	return r.Driver.Stat(ctx, name)
}

// rpcWait bounds a wait so that a bug fails the test instead of hanging it.
func rpcWait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("gave up waiting for %s", what)
		panic("unreachable")
	}
}

func TestRemoteTruncatedPutLeavesNothing(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			backend := mem.New()
			rec := &recordDriver{Driver: backend, puts: make(chan error, 1)}
			srv := startShardServer(t, p.h2, map[string]drivers.Driver{"d": rec})
			d := remoteFor(srv, "d")
			errBoom := errors.New("source disk died")
			src := io.MultiReader(driverstest.NewPatternReader(1, 3<<20), iotest.ErrReader(errBoom))
			if _, err := d.Put(context.Background(), "x/shard", src); !errors.Is(err, errBoom) {
				t.Fatalf("Put = %v, want the reader's error", err)
			}
			if err := rpcWait(t, rec.puts, "the server's Put"); err == nil {
				t.Fatal("the server's driver.Put succeeded on a truncated body")
			} else {
				t.Logf("server-side Put error: %v", err)
			}
			if _, err := backend.Stat(context.Background(), "x/shard"); !errors.Is(err, drivers.ErrNotFound) {
				t.Fatalf("backend Stat after truncated Put = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestRemoteRangedOpen(t *testing.T) {
	backend := mem.New()
	srv := startShardServer(t, false, map[string]drivers.Driver{"d": backend})
	d := remoteFor(srv, "d")
	ctx := context.Background()
	data := driverstest.Pattern(3, 100_000)
	if n, err := d.Put(ctx, "r", bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("Put = %d, %v", n, err)
	}
	for _, tc := range []struct{ off, length, wantStart, wantEnd int64 }{
		{0, -1, 0, 100_000},
		{0, 10, 0, 10},
		{99_990, -1, 99_990, 100_000},
		{99_990, 50, 99_990, 100_000},
		{50_000, 1, 50_000, 50_001},
		{100_000, 10, 100_000, 100_000},
		{200_000, -1, 100_000, 100_000},
		{7, 0, 7, 7},
	} {
		rc, err := d.Open(ctx, "r", tc.off, tc.length)
		if err != nil {
			t.Fatalf("Open(%d, %d): %v", tc.off, tc.length, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("Open(%d, %d) read: %v", tc.off, tc.length, err)
		}
		if !bytes.Equal(got, data[tc.wantStart:tc.wantEnd]) {
			t.Fatalf("Open(%d, %d) = %d bytes, want [%d, %d)", tc.off, tc.length, len(got), tc.wantStart, tc.wantEnd)
		}
	}
	if _, err := d.Open(ctx, "r", -1, 5); err == nil {
		t.Fatal("Open with a negative offset succeeded")
	}
}

// endlessReader streams zeros until its context is done.
type endlessReader struct {
	ctx context.Context
}

func (e *endlessReader) Read(p []byte) (int, error) {
	if err := e.ctx.Err(); err != nil {
		return 0, err
	}
	clear(p)
	return len(p), nil
}

func (e *endlessReader) Close() error { return nil }

func TestRemoteOpenCancelReachesDriver(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			done := make(chan error, 1)
			rec := &recordDriver{Driver: mem.New(), open: func(ctx context.Context) (io.ReadCloser, error) {
				// Report when the driver's context ends.
				go func() {
					<-ctx.Done()
					done <- ctx.Err()
				}()
				return &endlessReader{ctx: ctx}, nil
			}}
			srv := startShardServer(t, p.h2, map[string]drivers.Driver{"d": rec})
			d := remoteFor(srv, "d")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rc, err := d.Open(ctx, "endless", 0, -1)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rc.Close()
			if _, err := io.CopyN(io.Discard, rc, 1<<20); err != nil {
				t.Fatalf("reading the stream: %v", err)
			}
			cancel()
			_, err = io.Copy(io.Discard, rc)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("read after cancel = %v, want context.Canceled", err)
			}
			if err := rpcWait(t, done, "the server-side reader to see the cancellation"); !errors.Is(err, context.Canceled) {
				t.Fatalf("server-side ctx error = %v", err)
			}
		})
	}
}

// failAfter returns n bytes then err.
type failAfter struct {
	io.Reader
}

func (failAfter) Close() error { return nil }

func TestRemoteOpenMidStreamError(t *testing.T) {
	errMedium := errors.New("medium error at sector 7")
	rec := &recordDriver{Driver: mem.New(), open: func(ctx context.Context) (io.ReadCloser, error) {
		return failAfter{io.MultiReader(driverstest.NewPatternReader(4, 200_000),
			iotest.ErrReader(errMedium))}, nil
	}}
	srv := startShardServer(t, false, map[string]drivers.Driver{"d": rec})
	rc, err := remoteFor(srv, "d").Open(context.Background(), "x", 0, -1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err == nil || !strings.Contains(err.Error(), errMedium.Error()) {
		t.Fatalf("read = %d, %v; want the remote reader's error", n, err)
	}
}

func TestRemoteErrorMapping(t *testing.T) {
	for _, sentinel := range []error{drivers.ErrNotFound, drivers.ErrInvalidName, drivers.ErrOffline, drivers.ErrFull} {
		t.Run(sentinel.Error(), func(t *testing.T) {
			raised := errors.Join(errors.New("drive sdb3"), sentinel)
			rec := &recordDriver{Driver: mem.New(), stat: func(context.Context) (drivers.Info, error) {
				return drivers.Info{}, raised
			}}
			srv := startShardServer(t, false, map[string]drivers.Driver{"d": rec})
			_, err := remoteFor(srv, "d").Stat(context.Background(), "x")
			if !errors.Is(err, sentinel) {
				t.Fatalf("Stat = %v, want %v", err, sentinel)
			}
			if !strings.Contains(err.Error(), "drive sdb3") {
				t.Fatalf("Stat = %v: remote message lost", err)
			}
		})
	}
}

// A timeout or cancellation on the serving node while the caller's own
// context is live makes the shard unreachable, not "your context ended".
func TestRemoteServerSideTimeoutIsOffline(t *testing.T) {
	rec := &recordDriver{Driver: mem.New(), stat: func(context.Context) (drivers.Info, error) {
		return drivers.Info{}, fmt.Errorf("slow disk: %w", context.DeadlineExceeded)
	}}
	srv := startShardServer(t, false, map[string]drivers.Driver{"d": rec})
	_, err := remoteFor(srv, "d").Stat(context.Background(), "x")
	if !errors.Is(err, drivers.ErrOffline) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stat = %v, want ErrOffline and no context error", err)
	}
}

func TestRemoteConfigValidate(t *testing.T) {
	addr := func() (string, error) { return "127.0.0.1:1", nil }
	for _, tc := range []struct {
		name  string
		cfg   RemoteConfig
		wants []string
	}{
		{"ok", RemoteConfig{Client: http.DefaultClient, Addr: addr, Drive: "d"}, nil},
		{"empty", RemoteConfig{Scheme: "ftp"}, []string{"Client", "Addr", "Drive", "Scheme"}},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (len(tc.wants) == 0) {
			t.Fatalf("%s: Validate = %v", tc.name, err)
		}
		for _, w := range tc.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Validate = %v, want it to name %s", tc.name, err, w)
			}
		}
	}
}

func TestRemoteDeadlinePropagates(t *testing.T) {
	got := make(chan time.Time, 1)
	rec := &recordDriver{Driver: mem.New(), stat: func(ctx context.Context) (drivers.Info, error) {
		d, _ := ctx.Deadline()
		got <- d
		return drivers.Info{Name: "x"}, nil
	}}
	srv := startShardServer(t, false, map[string]drivers.Driver{"d": rec})
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := remoteFor(srv, "d").Stat(ctx, "x"); err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if d := <-got; !d.Equal(deadline) {
		t.Fatalf("server deadline = %v, want %v", d, deadline)
	}
}

func TestRemoteUsageFromConfig(t *testing.T) {
	want := drivers.Usage{Total: 10, Free: 4, Used: 6, Online: true}
	d := NewRemoteDriver(RemoteConfig{
		Addr:  func() (string, error) { return "", errors.New("must not be called") },
		Drive: "d",
		Usage: func(context.Context) (drivers.Usage, error) { return want, nil },
	})
	if u, err := d.Usage(context.Background()); err != nil || u != want {
		t.Fatalf("Usage = %+v, %v", u, err)
	}
}

func TestProtoVersion(t *testing.T) {
	srv := startShardServer(t, false, map[string]drivers.Driver{"d": mem.New()})
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"", http.StatusBadRequest},
		{"0", http.StatusBadRequest},
		{"2", http.StatusBadRequest},
		{"x", http.StatusBadRequest},
		{"1", http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/rpc/drive/d/usage", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.header != "" {
			req.Header.Set(ProtoHeader, tc.header)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("%s %q: status %d (%s), want %d", ProtoHeader, tc.header, resp.StatusCode, body, tc.want)
		}
		if tc.want != http.StatusBadRequest {
			continue
		}
		var w wireError
		if err := json.Unmarshal(body, &w); err != nil || w.Code != codeBadProto || !strings.Contains(w.Message, "versions 1 to 1") {
			t.Fatalf("%s %q: body %s, want a bad_proto error naming the versions", ProtoHeader, tc.header, body)
		}
		if err := fromWire(w); !errors.Is(err, ErrProtoVersion) || !errors.Is(err, drivers.ErrOffline) {
			t.Fatalf("fromWire(bad_proto) = %v", err)
		}
	}
}

// benchTransportDriver starts two cluster Transports (mutual TLS, the
// production client settings) and returns a RemoteDriver on the first for
// drive "d" (backend) served by the second.
func benchTransportDriver(b testing.TB, backend drivers.Driver, unbatched bool) *RemoteDriver {
	s := mustSecret(b)
	newT := func(id string) *Transport {
		tr, err := NewTransport(TransportConfig{NodeID: id, BindAddr: "127.0.0.1:0", Secret: s, Logger: quietLogger(), unbatched: unbatched})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		return tr
	}
	srv, cli := newT("srv"), newT("cli")
	mux := http.NewServeMux()
	RegisterShards(mux, func(id string) (drivers.Driver, bool) { return backend, id == "d" })
	srv.Serve(mux)
	return NewRemoteDriver(RemoteConfig{
		Client: cli.Client(),
		Addr:   func() (string, error) { return srv.Addr(), nil },
		Drive:  "d",
	})
}

// writeSyscalls is how many write system calls this process has made
// (/proc/self/io's syscw).
func writeSyscalls(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatalf("counting write syscalls: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no syscw in /proc/self/io: %s", b)
	return 0
}

// TestTransportBatchesTLSRecords: a shard stream through two cluster
// Transports, written and read back in the stream's 256 KiB slices, sends
// the 16 TLS records of each slice in one write syscall, both ways (the
// Put's request body and the Open's response), and the bytes arrive
// intact. Unbatched, as before, every record cost a write of its own.
func TestTransportBatchesTLSRecords(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts write syscalls in /proc/self/io, which only Linux has")
	}
	const size = 8 << 20
	data := driverstest.Pattern(9, size)
	writes := map[bool][2]int64{} // unbatched -> Put, Open
	for _, unbatched := range []bool{false, true} {
		d := benchTransportDriver(t, mem.New(), unbatched)
		ctx := context.Background()
		if _, err := d.Put(ctx, "warm", bytes.NewReader(data[:1000])); err != nil { // the handshake
			t.Fatal(err)
		}
		before := writeSyscalls(t)
		if _, err := d.Put(ctx, "s", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		put := writeSyscalls(t) - before
		before = writeSyscalls(t)
		rc, err := d.Open(ctx, "s", 0, size)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		open := writeSyscalls(t) - before
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("unbatched %v: read back %d bytes, %v", unbatched, len(got), err)
		}
		writes[unbatched] = [2]int64{put, open}
	}
	t.Logf("write syscalls for 8 MiB, Put and Open: batched %v, unbatched %v", writes[false], writes[true])
	// 8 MiB is 32 slices of 256 KiB, 512 records of 16 KiB. Batched, a
	// slice costs 2-3 writes: its records, and the first 4 KiB that
	// net/http's buffer flushes ahead of them behind the chunk header.
	for i, what := range []string{"Put", "Open"} {
		if b, u := writes[false][i], writes[true][i]; b > 4*32 || u < 512 {
			t.Errorf("%s: %d write syscalls batched (want at most %d), %d unbatched (want at least 512)", what, b, 4*32, u)
		}
	}
}

// stalledPut is a drive whose Put never reads its body: a peer that
// stopped answering in the middle of a shard stream. ended is closed when
// the server gives the request up (its connection closed).
type stalledPut struct {
	drivers.Driver
	ended chan struct{}
}

func (s stalledPut) Put(ctx context.Context, _ string, _ io.Reader) (int64, error) {
	<-ctx.Done()
	close(s.ended)
	return 0, ctx.Err()
}

// TestTransportPutGivesUpOnAStalledPeer: a shard stream to a peer that
// stopped reading, given up on by its context (as a PUT gives up on a
// stalled peer), ends at the deadline, and its connection is closed at
// once, wherever the writer is stuck: inside a tls.Conn.Write, or writing
// out held records after it, where the close's close_notify could queue
// behind them (rpcConn.Close aborts the batcher; tlsbatch's
// TestCloseDoesNotWaitForAStuckWrite pins that case).
func TestTransportPutGivesUpOnAStalledPeer(t *testing.T) {
	peer := stalledPut{mem.New(), make(chan struct{})}
	d := benchTransportDriver(t, peer, false)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Put(ctx, "s", driverstest.NewPatternReader(3, 256<<20))
	if err == nil {
		t.Fatal("a Put to a stalled peer succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the Put ended %v after it started, with a 500 ms deadline (%v)", took, err)
	}
	select {
	case <-peer.ended:
	case <-time.After(3 * time.Second):
		t.Fatalf("the peer still had the connection %v after the Put gave up", time.Since(start))
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process CPU time per op since start (client and
// server run in this process): on a shared machine, where wall time
// swings with the other tenants' load, the steadier figure.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkRemotePut compares a 16 MiB Put through the RPC (TLS, HTTP/1.1
// and HTTP/2 on httptest's client; "transport": two cluster Transports,
// as nodes use them) with the same Put straight into the mem driver. The
// source is a pipe fed one erasure block (256 KiB + 16) per write, as the
// encoder feeds a shard.
func BenchmarkRemotePut(b *testing.B) {
	const size = 16 << 20
	data := driverstest.Pattern(1, size)
	run := func(b *testing.B, d drivers.Driver) {
		b.SetBytes(size)
		start := cpuTime(b)
		for b.Loop() {
			pr, pw := io.Pipe()
			go func() {
				for off := 0; off < size; off += 256<<10 + 16 {
					if _, err := pw.Write(data[off:min(off+256<<10+16, size)]); err != nil {
						return
					}
				}
				pw.Close()
			}()
			if _, err := d.Put(context.Background(), "bench", pr); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start)
	}
	b.Run("direct", func(b *testing.B) { run(b, mem.New()) })
	for _, p := range protocols {
		b.Run("remote-"+p.name, func(b *testing.B) {
			srv := startShardServer(b, p.h2, map[string]drivers.Driver{"d": mem.New()})
			run(b, remoteFor(srv, "d"))
		})
	}
	b.Run("remote-transport", func(b *testing.B) { run(b, benchTransportDriver(b, mem.New(), false)) })
	b.Run("remote-transport-unbatched", func(b *testing.B) { run(b, benchTransportDriver(b, mem.New(), true)) })
}

// BenchmarkRemoteOpen reads a whole shard of each size through Open,
// exactly its length as erasure.Decode does, straight from the mem driver
// and through two cluster Transports.
func BenchmarkRemoteOpen(b *testing.B) {
	for _, size := range []int{256 << 10, 2 << 20} {
		data := driverstest.Pattern(2, size)
		buf := make([]byte, size)
		run := func(b *testing.B, d drivers.Driver) {
			ctx := context.Background()
			if _, err := d.Put(ctx, "bench", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			start := cpuTime(b)
			for b.Loop() {
				rc, err := d.Open(ctx, "bench", 0, int64(size))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(rc, buf); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
			reportCPU(b, start)
		}
		b.Run(fmt.Sprintf("direct-%dKiB", size>>10), func(b *testing.B) { run(b, mem.New()) })
		b.Run(fmt.Sprintf("transport-%dKiB", size>>10), func(b *testing.B) { run(b, benchTransportDriver(b, mem.New(), false)) })
		b.Run(fmt.Sprintf("transport-unbatched-%dKiB", size>>10), func(b *testing.B) { run(b, benchTransportDriver(b, mem.New(), true)) })
	}
}

// TestRemoteReusesConnections: shard streams read to exactly the length
// they asked for, their context then cancelled (as erasure.Decode reads
// them), stats, puts and listings
// all go over one pooled connection when they run one after another. A
// body closed before its end makes net/http close the connection, and each
// Open then paid a TCP connection and a TLS handshake.
func TestRemoteReusesConnections(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			mux := http.NewServeMux()
			backend := mem.New()
			RegisterShards(mux, func(id string) (drivers.Driver, bool) { return backend, id == "d" })
			srv := httptest.NewUnstartedServer(mux)
			srv.EnableHTTP2 = p.h2
			var conns atomic.Int64
			srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			d := remoteFor(srv, "d")
			ctx := context.Background()
			data := driverstest.Pattern(5, 300_000)
			if _, err := d.Put(ctx, "x/s", bytes.NewReader(data)); err != nil {
				t.Fatalf("Put: %v", err)
			}
			for i, r := range []struct{ off, length int64 }{
				{0, 300_000}, {0, 48}, {1000, 70_000}, {299_000, 1000}, {0, 300_000},
			} {
				// Decode cancels a reader's context once it has its
				// blocks, before the stream is closed.
				octx, cancel := context.WithCancel(ctx)
				rc, err := d.Open(octx, "x/s", r.off, r.length)
				if err != nil {
					t.Fatalf("Open %d: %v", i, err)
				}
				got := make([]byte, r.length)
				_, err = io.ReadFull(rc, got)
				cancel()
				if err != nil {
					t.Fatalf("Open %d: read: %v", i, err)
				}
				if err := rc.Close(); err != nil {
					t.Fatalf("Open %d: close: %v", i, err)
				}
				if !bytes.Equal(got, data[r.off:r.off+r.length]) {
					t.Fatalf("Open %d: wrong bytes", i)
				}
				if _, err := d.Stat(ctx, "x/s"); err != nil {
					t.Fatalf("Stat: %v", err)
				}
				if err := d.List(ctx, "x/", func(drivers.Info) error { return nil }); err != nil {
					t.Fatalf("List: %v", err)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Fatalf("%d connections for sequential calls, want 1", n)
			}
			// A stream abandoned half-way is not drained: Close must not
			// wait for the rest (the test would hang).
			rc, err := d.Open(ctx, "x/s", 0, -1)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
				t.Fatalf("read: %v", err)
			}
			if err := rc.Close(); err != nil {
				t.Fatalf("Close of an abandoned stream: %v", err)
			}
		})
	}
}
