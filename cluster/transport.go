package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"golang.org/x/time/rate"

	"github.com/vaultaire/vaultaire/tlsbatch"
)

// ALPN protocol names. The suffix is the protocol's major version; see the
// package documentation for the upgrade rule.
const (
	alpnRaft1 = "vaultaire-raft/1"
	alpnRPC1  = "vaultaire-rpc/1"
)

// Offered protocols, highest version first (the server picks the first of
// its list that the client offers too).
var (
	alpnRaft = []string{alpnRaft1}
	alpnRPC  = []string{alpnRPC1}
)

// Transport defaults and limits.
const (
	// DefaultHandshakeTimeout bounds one TLS handshake.
	DefaultHandshakeTimeout = 10 * time.Second
	// maxNodeIDLen keeps node ids short enough for certificates, gossip
	// metadata (512 bytes in all) and logs.
	maxNodeIDLen = 64
	// acceptQueue is how many handshaken connections wait for Raft's or
	// the HTTP server's Accept before their handshake goroutines block.
	acceptQueue = 64
	// rpcMaxIdlePerHost: shard streams to one peer run in parallel, so
	// keep many idle connections to each peer.
	rpcMaxIdlePerHost = 64
	// rpcIdleConnTimeout closes client connections idle this long.
	rpcIdleConnTimeout = 90 * time.Second
	// rpcServerIdleTimeout closes server connections idle this long (a
	// bit longer than the client's, so the client closes first).
	rpcServerIdleTimeout = 2 * time.Minute
	// rpcReadHeaderTimeout bounds reading a request's headers; bodies
	// are streams bounded by the caller's context.
	rpcReadHeaderTimeout = 30 * time.Second
	// Rejected handshakes are logged at most this often (burst
	// rejectLogBurst), with the count of those not logged, so a port
	// scanner cannot flood the log.
	rejectLogEvery = 10 * time.Second
	rejectLogBurst = 3
)

// TransportConfig configures a Transport.
type TransportConfig struct {
	// NodeID names this node; it becomes the CommonName of its TLS
	// certificate (required, at most 64 bytes).
	NodeID string
	// BindAddr is the host:port to listen on; port 0 picks a free port
	// (required).
	BindAddr string
	// AdvertiseAddr is the host:port peers dial (default: the bound
	// address with its real port; required when BindAddr's host is
	// unspecified, such as 0.0.0.0 or empty). A port of 0 is replaced by
	// the bound port.
	AdvertiseAddr string
	// Secret is the cluster secret (required).
	Secret Secret
	// Logger receives the transport's logs (default slog.Default()).
	Logger *slog.Logger
	// HandshakeTimeout bounds one TLS handshake, in and out (default 10s).
	HandshakeTimeout time.Duration

	// unbatched (tests) writes every TLS record of an RPC connection in a
	// write of its own, as before tlsbatch: the benchmarks' baseline.
	unbatched bool
}

// Validate reports every problem of the configuration at once.
func (c TransportConfig) Validate() error {
	var errs []error
	if err := validNodeID(c.NodeID); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		errs = append(errs, fmt.Errorf("BindAddr %q: %v", c.BindAddr, err))
	}
	if c.AdvertiseAddr != "" {
		if host, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("AdvertiseAddr %q: %v", c.AdvertiseAddr, err))
		} else if unspecifiedHost(host) {
			errs = append(errs, fmt.Errorf("AdvertiseAddr %q: peers cannot dial an unspecified host", c.AdvertiseAddr))
		}
	} else if host, _, err := net.SplitHostPort(c.BindAddr); err == nil && unspecifiedHost(host) {
		errs = append(errs, fmt.Errorf("AdvertiseAddr is required when BindAddr %q has no specific host", c.BindAddr))
	}
	if c.Secret.IsZero() {
		errs = append(errs, ErrNoSecret)
	}
	if c.HandshakeTimeout < 0 {
		errs = append(errs, fmt.Errorf("HandshakeTimeout %v is negative", c.HandshakeTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

func validNodeID(id string) error {
	switch {
	case id == "":
		return errors.New("NodeID is required")
	case len(id) > maxNodeIDLen:
		return fmt.Errorf("NodeID is %d bytes, at most %d", len(id), maxNodeIDLen)
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r == 0x7f }):
		return fmt.Errorf("NodeID %q contains space or control characters", id)
	}
	return nil
}

func unspecifiedHost(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// Transport is a node's one cluster port: a TLS 1.3 listener with mutual
// authentication from the cluster secret that carries Raft streams and
// internal RPC (HTTP/1.1), told apart by ALPN.
type Transport struct {
	cfg      TransportConfig
	log      *slog.Logger
	tls      *clusterTLS
	ln       net.Listener
	addr     string
	raft     *raftLayer
	rpcLn    *connQueue
	srv      *http.Server
	client   *http.Client
	rejected atomic.Int64

	ctx    context.Context // canceled by Close; aborts handshakes
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		closed bool // Close began: Serve starts nothing
		// out holds the open outgoing connections by dialed address,
		// for DropPeer.
		out map[string]map[*outConn]struct{}
		// dialing holds the cancel funcs of dials and handshakes in
		// progress by address, for DropPeer.
		dialing map[string]map[*context.CancelFunc]struct{}
	}
	serveOnce sync.Once
	closeOnce sync.Once
	closeErr  error

	rejectLog  *rate.Limiter
	suppressed atomic.Int64 // rejections not logged since the last log
}

var _ raft.StreamLayer = (*raftLayer)(nil)

// NewTransport derives the TLS identity, listens on cfg.BindAddr and
// starts accepting connections. RPC connections wait until Serve.
func NewTransport(cfg TransportConfig) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	ct, err := newClusterTLS(cfg.Secret, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on %s: %w", cfg.BindAddr, err)
	}
	addr, err := advertised(cfg.AdvertiseAddr, ln.Addr())
	if err != nil {
		ln.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "cluster-transport"),
		tls:       ct,
		ln:        ln,
		addr:      addr,
		ctx:       ctx,
		cancel:    cancel,
		rejectLog: rate.NewLimiter(rate.Every(rejectLogEvery), rejectLogBurst),
	}
	t.raft = &raftLayer{t: t, q: newConnQueue(addrOf(addr))}
	t.rpcLn = newConnQueue(addrOf(addr))
	t.srv = &http.Server{
		ReadHeaderTimeout: rpcReadHeaderTimeout,
		IdleTimeout:       rpcServerIdleTimeout,
		ErrorLog:          log.New(slogWriter{l: t.log, level: slog.LevelWarn}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	t.client = &http.Client{Transport: &http.Transport{
		DialTLSContext:        t.dialRPC,
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          0, // no overall limit
		MaxIdleConnsPerHost:   rpcMaxIdlePerHost,
		IdleConnTimeout:       rpcIdleConnTimeout,
		ResponseHeaderTimeout: 0, // long shard streams; requests carry contexts
		ExpectContinueTimeout: time.Second,
	}}
	t.wg.Add(1)
	go t.acceptLoop()
	t.log.Info("cluster transport listening", "bind", ln.Addr().String(), "advertise", addr)
	return t, nil
}

// advertised resolves the advertised host:port from the configured one and
// the bound listener address.
func advertised(adv string, bound net.Addr) (string, error) {
	_, bport, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", fmt.Errorf("cluster: bound address %s: %w", bound, err)
	}
	if adv == "" {
		return bound.String(), nil
	}
	host, port, err := net.SplitHostPort(adv)
	if err != nil {
		return "", fmt.Errorf("cluster: AdvertiseAddr %q: %w", adv, err)
	}
	if port == "0" || port == "" {
		port = bport
	}
	return net.JoinHostPort(host, port), nil
}

// Addr returns the advertised host:port peers dial.
func (t *Transport) Addr() string { return t.addr }

// RaftLayer returns the Raft stream layer on this transport, for
// raft.NewNetworkTransport. Closing it stops Raft's Accept only.
func (t *Transport) RaftLayer() raft.StreamLayer { return t.raft }

// Serve starts serving RPC connections with h. Only the first call has an
// effect; after Close it does nothing. RPC connections that arrive before
// Serve wait (up to 64 of them) until it is called.
func (t *Transport) Serve(h http.Handler) {
	t.serveOnce.Do(func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.mu.closed {
			return
		}
		t.srv.Handler = h
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if err := t.srv.Serve(t.rpcLn); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				t.log.Error("cluster rpc server stopped", "err", err)
			}
		}()
	})
}

// Client returns the HTTP client for RPC to peers: use URLs
// "https://<peer Addr>/...". It has no overall timeout; bound each request
// with its context.
func (t *Transport) Client() *http.Client { return t.client }

// Rejected returns how many inbound handshakes failed (wrong or no
// secret, not TLS, timed out, unknown protocol).
func (t *Transport) Rejected() int64 { return t.rejected.Load() }

// Close stops listening, closes the RPC server and its connections, the
// Raft layer's queue and idle client connections, and waits for the
// transport's goroutines. Connections handed to Raft belong to Raft's
// transport (close it first). Close is idempotent.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.mu.closed = true
		t.mu.Unlock()
		t.cancel()
		err := t.ln.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		t.rpcLn.Close()
		if cerr := t.srv.Close(); cerr != nil && err == nil {
			err = cerr
		}
		t.raft.q.Close()
		t.client.CloseIdleConnections()
		// Every connection this transport dialed: raft keeps idle ones
		// pooled after its own Close, and each holds a reader goroutine on
		// the peer until it closes.
		t.mu.Lock()
		out := t.dialedLocked("")
		t.mu.Unlock()
		for _, c := range out {
			c.Close()
		}
		t.wg.Wait()
		t.closeErr = err
	})
	return t.closeErr
}

// PeerNodeID returns the node id (certificate CommonName) of the peer that
// sent r over the cluster transport, or "" when r did not come over it.
func PeerNodeID(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].Subject.CommonName
}

// acceptLoop accepts connections and hands each to its own handshake
// goroutine, so a slow or silent peer never blocks the others.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	var backoff time.Duration
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t.log.Warn("cluster transport accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		tuneTCP(c)
		t.wg.Add(1)
		go t.handshake(c)
	}
}

// handshake runs the server side of TLS on c and routes it by ALPN.
func (t *Transport) handshake(c net.Conn) {
	defer t.wg.Done()
	tc := tls.Server(tlsbatch.New(c), t.tls.serverConfig(slices.Concat(alpnRaft, alpnRPC)))
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		tc.Close()
		if t.ctx.Err() == nil {
			t.reject(c.RemoteAddr(), err)
		}
		return
	}
	proto := tc.ConnectionState().NegotiatedProtocol
	var q *connQueue
	switch {
	case slices.Contains(alpnRaft, proto):
		q = t.raft.q
	case slices.Contains(alpnRPC, proto):
		q = t.rpcLn
	default:
		// The client offered no ALPN at all (with one we share none the
		// handshake itself fails).
		tc.Close()
		t.reject(c.RemoteAddr(), fmt.Errorf("no application protocol negotiated (offered none of %v)", slices.Concat(alpnRaft, alpnRPC)))
		return
	}
	var c2 net.Conn = tc
	if q == t.rpcLn {
		c2 = t.newRPCConn(tc)
	}
	if !q.push(t.ctx, c2) {
		tc.Close()
	}
}

// rpcConn is an RPC connection, either end, as net/http sees it. It
// hides the *tls.Conn type from the server: http.Server closes a *tls.Conn
// whose ALPN protocol has no TLSNextProto entry, but serves HTTP/1.1 on
// any other conn, still filling Request.TLS from its ConnectionState
// method. And each large write (a shard stream's 256 KiB slices, a shard
// read's response) holds the tlsbatch.Conn below the TLS, so its 16
// records reach the socket in one syscall instead of 16.
type rpcConn struct {
	*tls.Conn
	batch *tlsbatch.Conn // nil: every record in a write of its own
}

func (c rpcConn) Write(p []byte) (int, error) { return tlsbatch.Write(c.batch, c.Conn, p) }

// Close never waits for a write in progress: net/http closes the
// connection to end a request given up on (a shard write to a peer that
// stopped answering), and a held write stuck on that peer must end, not
// delay the close_notify (tlsbatch.Conn.Abort).
func (c rpcConn) Close() error {
	if c.batch != nil {
		c.batch.Abort()
	}
	return c.Conn.Close()
}

// newRPCConn wraps tc, made by handshake or dialTLS over a tlsbatch.Conn.
func (t *Transport) newRPCConn(tc *tls.Conn) rpcConn {
	c := rpcConn{Conn: tc}
	if !t.cfg.unbatched {
		c.batch, _ = tc.NetConn().(*tlsbatch.Conn)
	}
	return c
}

// reject counts and (rate-limited) logs a refused connection.
func (t *Transport) reject(from net.Addr, err error) {
	t.rejected.Add(1)
	if !t.rejectLog.Allow() {
		t.suppressed.Add(1)
		return
	}
	t.log.Warn("cluster transport refused a connection (wrong or missing cluster secret?)",
		"remote", from.String(), "err", err, "suppressed_since_last", t.suppressed.Swap(0))
}

// dialTLS dials addr and runs the client side of TLS offering protos.
func (t *Transport) dialTLS(ctx context.Context, addr string, protos []string) (*tls.Conn, error) {
	if t.ctx.Err() != nil {
		return nil, ErrTransportClosed
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	defer t.dialing(addr, &cancel)()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: dial %s: %w", addr, err)
	}
	tuneTCP(c)
	c = t.track(addr, c)
	tc := tls.Client(tlsbatch.New(c), t.tls.clientConfig(protos))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("cluster: TLS handshake with %s: %w", addr, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; !slices.Contains(protos, p) {
		tc.Close()
		return nil, fmt.Errorf("cluster: %s negotiated protocol %q, want one of %v", addr, p, protos)
	}
	return tc, nil
}

// outConn is an outgoing connection DropPeer can find.
type outConn struct {
	net.Conn
	t    *Transport
	addr string
	once sync.Once
}

func (c *outConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.mu.out[c.addr], c)
		if len(c.t.mu.out[c.addr]) == 0 {
			delete(c.t.mu.out, c.addr)
		}
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}

// dialing registers a dial to addr in progress until the returned func
// runs.
func (t *Transport) dialing(addr string, cancel *context.CancelFunc) func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.dialing == nil {
		t.mu.dialing = map[string]map[*context.CancelFunc]struct{}{}
	}
	if t.mu.dialing[addr] == nil {
		t.mu.dialing[addr] = map[*context.CancelFunc]struct{}{}
	}
	t.mu.dialing[addr][cancel] = struct{}{}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.mu.dialing[addr], cancel)
		if len(t.mu.dialing[addr]) == 0 {
			delete(t.mu.dialing, addr)
		}
	}
}

func (t *Transport) track(addr string, c net.Conn) net.Conn {
	oc := &outConn{Conn: c, t: t, addr: addr}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.out == nil {
		t.mu.out = map[string]map[*outConn]struct{}{}
	}
	if t.mu.out[addr] == nil {
		t.mu.out[addr] = map[*outConn]struct{}{}
	}
	t.mu.out[addr][oc] = struct{}{}
	return oc
}

// DropPeer closes every connection this node opened to addr (an RPC
// host:port), idle or busy, aborts the dials to it in progress, and
// returns how many connections and dials it ended. Call it when gossip
// declares that peer dead: shard streams and forwarded requests to it
// fail at once (as unreachable) instead of waiting for TCP to give up,
// so a PUT that chose the peer's drives just before it vanished is
// decided by the write quorum within the failure detector's time. Raft
// redials on its own.
func (t *Transport) DropPeer(addr string) int {
	t.mu.Lock()
	conns := t.dialedLocked(addr)
	var dials []context.CancelFunc
	for cancel := range t.mu.dialing[addr] {
		dials = append(dials, *cancel)
	}
	t.mu.Unlock()
	for _, cancel := range dials {
		cancel()
	}
	for _, c := range conns {
		c.Close()
	}
	return len(conns) + len(dials)
}

// dialedLocked returns the open connections this transport dialed to
// addr, or to every peer when addr is "". REQUIRES: t.mu.
func (t *Transport) dialedLocked(addr string) []*outConn {
	var conns []*outConn
	for a, set := range t.mu.out {
		if addr == "" || a == addr {
			for c := range set {
				conns = append(conns, c)
			}
		}
	}
	return conns
}

// dialRPC is the RPC client's DialTLSContext.
func (t *Transport) dialRPC(ctx context.Context, _, addr string) (net.Conn, error) {
	tc, err := t.dialTLS(ctx, addr, alpnRPC)
	if err != nil {
		return nil, err
	}
	return t.newRPCConn(tc), nil
}

// raftLayer is the raft.StreamLayer over the transport.
type raftLayer struct {
	t *Transport
	q *connQueue
}

func (l *raftLayer) Accept() (net.Conn, error) { return l.q.Accept() }
func (l *raftLayer) Close() error              { return l.q.Close() }
func (l *raftLayer) Addr() net.Addr            { return l.q.Addr() }

// Dial opens a Raft stream to the transport at address.
func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return l.t.dialTLS(ctx, string(address), alpnRaft)
}

// connQueue is an in-memory net.Listener fed with handshaken connections
// by the accept loop.
type connQueue struct {
	addr      net.Addr
	ch        chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

var _ net.Listener = (*connQueue)(nil)

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn, acceptQueue), done: make(chan struct{})}
}

// push queues c, waiting while the queue is full; false when the queue or
// ctx closed first.
func (q *connQueue) push(ctx context.Context, c net.Conn) bool {
	select {
	case <-q.done:
		return false
	default:
	}
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	case <-ctx.Done():
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and closes the connections still queued.
func (q *connQueue) Close() error {
	q.closeOnce.Do(func() {
		close(q.done)
		for {
			select {
			case c := <-q.ch:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// addrOf returns a net.Addr for a host:port: a *net.TCPAddr when the host
// is an IP, else a name that prints as given.
func addrOf(hostport string) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", hostport); err == nil && a.IP != nil {
		if host, _, _ := net.SplitHostPort(hostport); net.ParseIP(host) != nil {
			return a
		}
	}
	return namedAddr(hostport)
}

type namedAddr string

func (a namedAddr) Network() string { return "tcp" }
func (a namedAddr) String() string  { return string(a) }

// slogWriter turns lines written to a *log.Logger into slog records. Lines
// starting with a [DEBUG], [INFO], [WARN] or [ERR]/[ERROR] tag (as
// memberlist writes them) get that level; others get level.
type slogWriter struct {
	l     *slog.Logger
	level slog.Level
}

var _ io.Writer = slogWriter{}

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\r\n")
	lv := w.level
	if strings.HasPrefix(msg, "[") {
		if tag, rest, ok := strings.Cut(msg[1:], "]"); ok {
			known := true
			switch tag {
			case "DEBUG", "TRACE":
				lv = slog.LevelDebug
			case "INFO":
				lv = slog.LevelInfo
			case "WARN":
				lv = slog.LevelWarn
			case "ERR", "ERROR":
				lv = slog.LevelError
			default:
				known = false
			}
			if known {
				msg = strings.TrimSpace(rest)
			}
		}
	}
	w.l.Log(context.Background(), lv, msg)
	return len(p), nil
}
