package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vaultaire/vaultaire/metastore"
)

// startTestTransport starts a Transport on 127.0.0.1:0, closed at cleanup.
func startTestTransport(t *testing.T, id string, secret Secret) *Transport {
	t.Helper()
	tr, err := NewTransport(TransportConfig{
		NodeID:           id,
		BindAddr:         "127.0.0.1:0",
		Secret:           secret,
		Logger:           quietLogger(),
		HandshakeTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewTransport %s: %v", id, err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Close %s: %v", id, err)
		}
	})
	return tr
}

// deadlineCtx returns a context canceled at the end of the test, with a
// generous deadline so a hung test fails instead of hanging.
func deadlineCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// whoAmI answers "<server id> <- <caller id>".
func whoAmI(id string, calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		fmt.Fprintf(w, "%s <- %s %s", id, PeerNodeID(r), r.URL.Path)
	})
}

func fetchBody(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

// eventually polls cond until it holds or the test's deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTransportConfigValidate(t *testing.T) {
	s := mustSecret(t)
	tests := []struct {
		name string
		cfg  TransportConfig
		want []string // substrings of the error; nil means valid
	}{
		{"ok", TransportConfig{NodeID: "n1", BindAddr: "127.0.0.1:0", Secret: s}, nil},
		{"ok advertise", TransportConfig{NodeID: "n1", BindAddr: ":7000", AdvertiseAddr: "10.0.0.1:7000", Secret: s}, nil},
		{"all wrong", TransportConfig{BindAddr: "nope", HandshakeTimeout: -1},
			[]string{"NodeID is required", "BindAddr", "no cluster secret", "HandshakeTimeout"}},
		{"unspecified bind", TransportConfig{NodeID: "n1", BindAddr: "0.0.0.0:7000", Secret: s}, []string{"AdvertiseAddr is required"}},
		{"unspecified advertise", TransportConfig{NodeID: "n1", BindAddr: ":7000", AdvertiseAddr: "[::]:7000", Secret: s}, []string{"unspecified host"}},
		{"long id", TransportConfig{NodeID: strings.Repeat("x", 65), BindAddr: "127.0.0.1:0", Secret: s}, []string{"at most 64"}},
		{"id with space", TransportConfig{NodeID: "a b", BindAddr: "127.0.0.1:0", Secret: s}, []string{"space"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestTransportRPCBothWays(t *testing.T) {
	ctx := deadlineCtx(t)
	s := mustSecret(t)
	a := startTestTransport(t, "node-a", s)
	b := startTestTransport(t, "node-b", s)
	a.Serve(whoAmI("node-a", nil))
	b.Serve(whoAmI("node-b", nil))
	if !strings.HasPrefix(a.Addr(), "127.0.0.1:") || strings.HasSuffix(a.Addr(), ":0") {
		t.Fatalf("Addr = %q", a.Addr())
	}
	for i := 0; i < 3; i++ { // reuses pooled connections after the first
		got, err := fetchBody(ctx, a.Client(), "https://"+b.Addr()+"/ping")
		if err != nil || got != "node-b <- node-a /ping" {
			t.Fatalf("a->b: %q, %v", got, err)
		}
		got, err = fetchBody(ctx, b.Client(), "https://"+a.Addr()+"/pong")
		if err != nil || got != "node-a <- node-b /pong" {
			t.Fatalf("b->a: %q, %v", got, err)
		}
	}
	if a.Rejected() != 0 || b.Rejected() != 0 {
		t.Fatalf("rejected %d, %d", a.Rejected(), b.Rejected())
	}
}

func TestTransportWrongSecret(t *testing.T) {
	ctx := deadlineCtx(t)
	good := startTestTransport(t, "good", mustSecret(t))
	evil := startTestTransport(t, "evil", mustSecret(t))
	var goodCalls, evilCalls atomic.Int64
	good.Serve(whoAmI("good", &goodCalls))
	evil.Serve(whoAmI("evil", &evilCalls))

	if got, err := fetchBody(ctx, evil.Client(), "https://"+good.Addr()+"/"); err == nil {
		t.Fatalf("evil reached good: %q", got)
	}
	eventually(t, "good to count the rejection", func() bool { return good.Rejected() >= 1 })
	if got, err := fetchBody(ctx, good.Client(), "https://"+evil.Addr()+"/"); err == nil {
		t.Fatalf("good accepted evil's server: %q", got)
	}
	eventually(t, "evil to count the rejection", func() bool { return evil.Rejected() >= 1 })
	// Nor can a Raft stream be opened.
	if c, err := evil.RaftLayer().Dial(raft.ServerAddress(good.Addr()), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("evil opened a raft stream to good")
	}
	if goodCalls.Load() != 0 || evilCalls.Load() != 0 {
		t.Fatalf("handlers ran: good %d, evil %d", goodCalls.Load(), evilCalls.Load())
	}
}

func TestTransportRefusesNonClusterClients(t *testing.T) {
	ctx := deadlineCtx(t)
	tr := startTestTransport(t, "n1", mustSecret(t))
	var calls atomic.Int64
	tr.Serve(whoAmI("n1", &calls))

	// Plain HTTP over TCP.
	c, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	c.Close()
	if strings.Contains(string(b), "HTTP/1.1 200") {
		t.Fatalf("plain HTTP got an answer: %q", b)
	}
	eventually(t, "plain TCP rejection", func() bool { return tr.Rejected() >= 1 })

	// Plain HTTP client to an https URL (TLS, but no client certificate).
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer hc.CloseIdleConnections()
	if _, err := fetchBody(ctx, hc, "https://"+tr.Addr()+"/"); err == nil {
		t.Fatal("TLS client without certificate was served")
	}
	eventually(t, "no-certificate rejection", func() bool { return tr.Rejected() >= 2 })

	// A cluster member that offers no ALPN protocol.
	peer := startTestTransport(t, "n2", tr.cfg.Secret)
	tc, err := tls.Dial("tcp", tr.Addr(), peer.tls.clientConfig(nil))
	if err == nil {
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = tc.Read(make([]byte, 1))
		tc.Close()
	}
	if err == nil {
		t.Fatal("connection without ALPN stayed open")
	}
	eventually(t, "no-ALPN rejection", func() bool { return tr.Rejected() >= 3 })

	// A cluster member limited to TLS 1.2.
	old := peer.tls.clientConfig(alpnRPC)
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if tc, err := tls.Dial("tcp", tr.Addr(), old); err == nil {
		tc.Close()
		t.Fatal("TLS 1.2 handshake succeeded")
	}
	eventually(t, "TLS 1.2 rejection", func() bool { return tr.Rejected() >= 4 })

	// A silent connection does not block others: while it hangs in its
	// handshake, a real peer still gets through.
	silent, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if got, err := fetchBody(ctx, peer.Client(), "https://"+tr.Addr()+"/"); err != nil || got != "n1 <- n2 /" {
		t.Fatalf("peer behind a silent connection: %q, %v", got, err)
	}
	if calls.Load() != 1 {
		t.Fatalf("handler ran %d times, want 1 (the real peer)", calls.Load())
	}
}

func TestTransportClose(t *testing.T) {
	s := mustSecret(t)
	a := startTestTransport(t, "a", s)
	b := startTestTransport(t, "b", s)
	a.Serve(whoAmI("a", nil))
	if _, err := fetchBody(deadlineCtx(t), b.Client(), "https://"+a.Addr()+"/"); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := a.RaftLayer().Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if _, err := a.RaftLayer().Dial(raft.ServerAddress(b.Addr()), time.Second); !errors.Is(err, ErrTransportClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Client().CloseIdleConnections()
	if _, err := fetchBody(ctx, b.Client(), "https://"+a.Addr()+"/"); err == nil {
		t.Fatal("closed transport still serves")
	}
}

// TestTransportRaftCluster forms a 3-node metastore cluster whose Raft
// runs over the transports' stream layers.
func TestTransportRaftCluster(t *testing.T) {
	ctx := deadlineCtx(t)
	secret := mustSecret(t)
	base := t.TempDir()
	type node struct {
		id    string
		tr    *Transport
		rt    *raft.NetworkTransport
		store *metastore.Store
	}
	var nodes []*node
	t.Cleanup(func() {
		for _, n := range nodes {
			if n.store != nil {
				if err := n.store.Close(); err != nil {
					t.Errorf("close store %s: %v", n.id, err)
				}
			}
			n.rt.Close()
		}
	})
	for i := 1; i <= 3; i++ {
		n := &node{id: fmt.Sprintf("n%d", i)}
		n.tr = startTestTransport(t, n.id, secret)
		n.rt = raft.NewNetworkTransport(n.tr.RaftLayer(), 3, 10*time.Second, io.Discard)
		nodes = append(nodes, n)
		st, err := metastore.Open(ctx, metastore.Config{
			NodeID:             n.id,
			Dir:                filepath.Join(base, n.id),
			Transport:          n.rt,
			Bootstrap:          i == 1,
			MasterKey:          secret.MasterKey(),
			Logger:             quietLogger(),
			HeartbeatTimeout:   500 * time.Millisecond,
			ElectionTimeout:    500 * time.Millisecond,
			LeaderLeaseTimeout: 250 * time.Millisecond,
			CacheSize:          8 << 20,
			CloseTimeout:       20 * time.Second,
		})
		if err != nil {
			t.Fatalf("open %s: %v", n.id, err)
		}
		n.store = st
		if string(st.Addr()) != n.tr.Addr() {
			t.Fatalf("raft address %q, transport %q", st.Addr(), n.tr.Addr())
		}
	}
	leader := nodes[0].store
	if err := leader.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		if err := leader.Raft().AddVoter(raft.ServerID(n.id), raft.ServerAddress(n.tr.Addr()), 0, 10*time.Second).Error(); err != nil {
			t.Fatalf("AddVoter %s: %v", n.id, err)
		}
	}
	want := metastore.Tenant{ID: "t1", Name: "tenant one", Created: time.Unix(1700000000, 0).UTC()}
	if err := leader.CreateTenant(ctx, want); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		eventually(t, n.id+" to replicate the tenant", func() bool {
			got, err := n.store.GetTenant(ctx, "t1", metastore.Stale)
			return err == nil && got.Name == want.Name
		})
	}
	// Every node agrees on the leader.
	for _, n := range nodes {
		eventually(t, n.id+" to know the leader", func() bool {
			addr, _ := n.store.Leader()
			return string(addr) == nodes[0].tr.Addr()
		})
	}
	for _, n := range nodes {
		if r := n.tr.Rejected(); r != 0 {
			t.Errorf("%s rejected %d handshakes", n.id, r)
		}
	}
}

// BenchmarkTransportRPC measures one small RPC round trip over a pooled
// mutual-TLS connection.
func BenchmarkTransportRPC(b *testing.B) {
	s, err := GenerateSecret()
	if err != nil {
		b.Fatal(err)
	}
	newT := func(id string) *Transport {
		tr, err := NewTransport(TransportConfig{NodeID: id, BindAddr: "127.0.0.1:0", Secret: s, Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		return tr
	}
	srv, cli := newT("srv"), newT("cli")
	srv.Serve(whoAmI("srv", nil))
	url := "https://" + srv.Addr() + "/bench"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fetchBody(ctx, cli.Client(), url); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTransportDropPeer: a request hanging on a peer fails at once when
// the peer is dropped, and the next request dials afresh.
func TestTransportDropPeer(t *testing.T) {
	ctx := deadlineCtx(t)
	s := mustSecret(t)
	a := startTestTransport(t, "node-a", s)
	b := startTestTransport(t, "node-b", s)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.Handle("/ping", whoAmI("node-b", nil))
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select { // a peer that stopped answering
		case <-release:
		case <-r.Context().Done():
		}
	})
	b.Serve(mux)
	if n := a.DropPeer(b.Addr()); n != 0 {
		t.Fatalf("DropPeer before any connection: %d", n)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := fetchBody(ctx, a.Client(), "https://"+b.Addr()+"/hang")
		errc <- err
	}()
	<-entered
	if n := a.DropPeer(b.Addr()); n < 1 {
		t.Fatalf("DropPeer with a request in flight dropped %d connections", n)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the hanging request succeeded after DropPeer")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hanging request still hangs after DropPeer")
	}
	if got, err := fetchBody(ctx, a.Client(), "https://"+b.Addr()+"/ping"); err != nil || got != "node-b <- node-a /ping" {
		t.Fatalf("after DropPeer: %q, %v", got, err)
	}
}

// TestTransportDropPeerAbortsDials: a dial stuck in its handshake (a peer
// that accepts TCP but never answers) ends when the peer is dropped, long
// before the handshake timeout.
func TestTransportDropPeerAbortsDials(t *testing.T) {
	tr, err := NewTransport(TransportConfig{
		NodeID: "node-a", BindAddr: "127.0.0.1:0", Secret: mustSecret(t), Logger: quietLogger(),
		HandshakeTimeout: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // the kernel completes TCP; nobody speaks TLS
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	addr := silent.Addr().String()
	errc := make(chan error, 1)
	go func() {
		_, err := fetchBody(context.Background(), tr.Client(), "https://"+addr+"/x")
		errc <- err
	}()
	for dials := 0; dials == 0; {
		time.Sleep(5 * time.Millisecond)
		tr.mu.Lock()
		dials = len(tr.mu.dialing[addr])
		tr.mu.Unlock()
	}
	if n := tr.DropPeer(addr); n < 1 {
		t.Fatalf("DropPeer ended %d dials", n)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("request to a silent peer succeeded")
		}
	case <-time.After(time.Minute):
		t.Fatal("the dial still hangs after DropPeer")
	}
}

// TestTransportCloseClosesDialedConnections: closing a transport closes
// the connections it dialed, raft streams included (raft keeps idle ones
// pooled after its own Close), so the peer's reader of each sees the end
// instead of waiting forever.
func TestTransportCloseClosesDialedConnections(t *testing.T) {
	s := mustSecret(t)
	a, err := NewTransport(TransportConfig{NodeID: "node-a", BindAddr: "127.0.0.1:0", Secret: s, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	b := startTestTransport(t, "node-b", s)
	out, err := a.RaftLayer().Dial(raft.ServerAddress(b.Addr()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Write([]byte("x")); err != nil { // the stream exists once written
		t.Fatal(err)
	}
	in, err := b.RaftLayer().Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	_ = in.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8)
	n, err := in.Read(buf) // the byte written before the close
	if err == nil && n == 1 {
		n, err = in.Read(buf)
	}
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the peer's read after Close: %d bytes, %v; want the end of the stream", n, err)
	}
}
