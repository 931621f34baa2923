package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vaultaire/vaultaire/metastore"
)

// fakeLeader is a MetaLeader whose answers the test chooses.
type fakeLeader struct {
	apply     func(ctx context.Context, cmd []byte) ([]byte, error)
	readIndex func(ctx context.Context) (uint64, error)
}

func (f *fakeLeader) ApplyEncoded(ctx context.Context, cmd []byte) ([]byte, error) {
	return f.apply(ctx, cmd)
}

func (f *fakeLeader) ReadIndex(ctx context.Context) (uint64, error) { return f.readIndex(ctx) }

// startMetaServer serves leader over TLS and returns a Forwarder and the
// leader's address.
func startMetaServer(t *testing.T, leader MetaLeader) (*Forwarder, string, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	RegisterMeta(mux, leader)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return NewForwarder(srv.Client(), "https"), srv.Listener.Addr().String(), srv
}

func TestForwardApply(t *testing.T) {
	quota := fmt.Errorf("%w: tenant t1 stored bytes 10 GiB", metastore.ErrQuotaExceeded)
	for _, tc := range []struct {
		name    string
		result  []byte
		err     error
		wantErr error
	}{
		{name: "result", result: []byte("\x00encoded result")},
		{name: "empty result", result: nil},
		{name: "not leader", err: metastore.ErrNotLeader, wantErr: metastore.ErrNotLeader},
		{name: "quota with detail", err: quota, wantErr: metastore.ErrQuotaExceeded},
		{name: "leadership lost", err: metastore.ErrLeadershipLost, wantErr: metastore.ErrLeadershipLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := []byte("command \x00\x01\x02")
			leader := &fakeLeader{apply: func(ctx context.Context, got []byte) ([]byte, error) {
				if !bytes.Equal(got, cmd) {
					return nil, fmt.Errorf("%w: leader got %q", metastore.ErrCorrupt, got)
				}
				return tc.result, tc.err
			}}
			f, addr, _ := startMetaServer(t, leader)
			res, err := f.Apply(context.Background(), addr, cmd)
			if tc.wantErr == nil {
				if err != nil || !bytes.Equal(res, tc.result) {
					t.Fatalf("Apply = %q, %v; want %q", res, err, tc.result)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Apply = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.err.Error()) {
				t.Fatalf("Apply = %v: leader's message %q lost", err, tc.err)
			}
		})
	}
}

func TestForwardApplyCancel(t *testing.T) {
	seen := make(chan error, 1)
	started := make(chan struct{})
	leader := &fakeLeader{apply: func(ctx context.Context, cmd []byte) ([]byte, error) {
		close(started)
		<-ctx.Done()
		seen <- ctx.Err()
		return nil, ctx.Err()
	}}
	f, addr, _ := startMetaServer(t, leader)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := f.Apply(ctx, addr, []byte("slow"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply = %v, want context.Canceled", err)
	}
	if err := rpcWait(t, seen, "the leader's context to end"); !errors.Is(err, context.Canceled) {
		t.Fatalf("leader's ctx = %v, want canceled", err)
	}
}

func TestForwardDeadlinePropagates(t *testing.T) {
	leader := &fakeLeader{readIndex: func(ctx context.Context) (uint64, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return 0, errors.New("no deadline")
		}
		return uint64(d.UnixNano()), nil
	}}
	f, addr, _ := startMetaServer(t, leader)
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	idx, err := f.ReadIndex(ctx, addr)
	if err != nil || idx != uint64(deadline.UnixNano()) {
		t.Fatalf("ReadIndex = %d, %v; want the deadline %d", idx, err, deadline.UnixNano())
	}
}

func TestForwardUnreachable(t *testing.T) {
	f, addr, srv := startMetaServer(t, &fakeLeader{})
	srv.Close()
	ctx := context.Background()
	if _, err := f.Apply(ctx, addr, []byte("x")); !errors.Is(err, metastore.ErrNotLeader) {
		t.Fatalf("Apply to a dead leader = %v, want ErrNotLeader (retried by the Store)", err)
	}
	if _, err := f.ReadIndex(ctx, addr); !errors.Is(err, metastore.ErrNotLeader) {
		t.Fatalf("ReadIndex on a dead leader = %v, want ErrNotLeader", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Apply(cctx, addr, []byte("x")); !errors.Is(err, context.Canceled) || errors.Is(err, metastore.ErrNotLeader) {
		t.Fatalf("Apply with a cancelled ctx = %v, want only context.Canceled", err)
	}
}

func TestForwardTooLarge(t *testing.T) {
	_, _, srv := startMetaServer(t, &fakeLeader{apply: func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("must not be called")
	}})
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/rpc/meta/apply", io.LimitReader(zeros{}, MaxApplyBytes+1))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = MaxApplyBytes + 1
	req.Header.Set(ProtoHeader, strconv.Itoa(ProtoVersion))
	resp, err := srv.Client().Do(req)
	if err != nil {
		// The server may close the connection before reading the body.
		t.Logf("Do: %v", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d (%s), want 413", resp.StatusCode, body)
	}
	err = readError(resp)
	if !strings.Contains(err.Error(), "too large") {
		t.Fatalf("error %v, want a clear too-large message", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestForwardRealStore puts a real single-node *metastore.Store behind the
// endpoints.
func TestForwardRealStore(t *testing.T) {
	cfg := metastore.Config{
		NodeID:             "n1",
		Dir:                t.TempDir(),
		Bootstrap:          true,
		MasterKey:          []byte("0123456789abcdef0123456789abcdef"),
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		HeartbeatTimeout:   200 * time.Millisecond,
		ElectionTimeout:    200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
	}
	_, trans := raft.NewInmemTransport("n1-addr")
	cfg.Transport = trans
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := metastore.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("metastore.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		trans.Close()
	})
	if err := store.WaitLeader(ctx); err != nil {
		t.Fatalf("WaitLeader: %v", err)
	}
	f, addr, _ := startMetaServer(t, store)
	idx, err := f.ReadIndex(ctx, addr)
	if err != nil || idx == 0 {
		t.Fatalf("ReadIndex = %d, %v; want a positive commit index", idx, err)
	}
	// An undecodable command is refused by the leader with a metastore
	// sentinel that survives the trip.
	_, err = f.Apply(ctx, addr, []byte{0xff, 0xfe})
	if err == nil {
		t.Fatal("Apply of garbage succeeded")
	}
	matched := false
	for _, s := range []error{metastore.ErrUnsupportedCommand, metastore.ErrCorrupt, metastore.ErrInvalidArgument} {
		matched = matched || errors.Is(err, s)
	}
	if !matched {
		t.Fatalf("Apply of garbage = %v, want a metastore sentinel", err)
	}
}
