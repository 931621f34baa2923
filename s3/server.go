package s3

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/policy"
	"github.com/vaultaire/vaultaire/s3/sigv4"
	"github.com/vaultaire/vaultaire/tenancy"
	"github.com/vaultaire/vaultaire/tlsbatch"
)

// Defaults of Config.
const (
	DefaultRegion         = "us-east-1"
	DefaultMaxPutSize     = 5 << 30 // S3's single PUT limit
	DefaultMaxObjectSize  = 5 << 40 // S3's object size limit
	DefaultClockSkew      = 15 * time.Minute
	DefaultMaxHeaderBytes = 64 << 10 // S3 allows 8 KiB of user metadata headers; leave room for the rest
	// maxXMLBody caps request XML (CompleteMultipartUpload, DeleteObjects,
	// CreateBucketConfiguration): 10000 parts or 1000 keys fit well within.
	maxXMLBody = 2 << 20
)

// Config of the S3 API.
type Config struct {
	// Region clients sign for; default "us-east-1".
	Region string
	// ExtraRegions are further regions CreateBucket accepts as a
	// LocationConstraint (the bucket remembers it); any other is
	// IllegalLocationConstraintException.
	ExtraRegions []string
	// Domain is the base domain of virtual-hosted-style requests, e.g.
	// "s3.local" makes "bucket.s3.local" address bucket; "" disables them.
	Domain string
	// MaxHeaderBytes of a request, for HTTPServer; default 64 KiB.
	MaxHeaderBytes int
	// MaxPutSize bounds a single PUT or part; default 5 GiB.
	MaxPutSize int64
	// MaxObjectSize bounds an artifact; default 5 TiB.
	MaxObjectSize int64
	// ClockSkew tolerated between a request's date and the server; default 15m.
	ClockSkew time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
	// OnRequest, when set, is called once at the end of every request,
	// with what an audit log and request metrics need. It runs on the
	// request's goroutine: keep it fast and non-blocking.
	OnRequest func(RequestEvent)
	// Limiter, when set, admits each authenticated request against its
	// tenant's token bucket (*tenancy.Limiter implements it). Refused
	// requests get SlowDown with RateLimitStatus (503 by default, what
	// every S3 client retries with back-off; 429 as an alternative).
	Limiter         RateLimiter
	RateLimitStatus int
	// SSECInsecure accepts SSE-C keys over plain HTTP. S3 refuses them
	// (the key would cross the network in clear); only tests set it.
	SSECInsecure bool
	// UnauthRate and UnauthBurst bound, per client address (IPv6 per
	// /64), unsigned requests and failed authentications (forged or
	// unknown keys), checked before any metadata read: an address over
	// its unsigned budget gets SlowDown, and one over its failure budget
	// gets SlowDown for every signed request until it refills. Defaults
	// DefaultUnauthRate and DefaultUnauthBurst; a negative UnauthRate
	// turns the limit off.
	UnauthRate  float64
	UnauthBurst int
}

// RateLimiter decides whether a tenant may make one more request now.
type RateLimiter interface {
	Allow(tenant string) tenancy.Decision
}

// RequestEvent describes one finished request.
type RequestEvent struct {
	Time      time.Time // when the request arrived
	RequestID string
	// Tenant is the tenant the request acted in: the owner of the
	// addressed bucket (another tenant's, through a tenant-qualified
	// name), else the signer's; empty when authentication failed.
	Tenant string
	// Requester is the tenant of the signing key when it differs from
	// Tenant ("" otherwise, and for anonymous requests).
	Requester string
	// User and AccessKeyID identify the authenticated key (empty when
	// authentication failed); the secret and signature are never here.
	User        string
	AccessKeyID string
	Operation   Operation
	Container   string
	Key         string
	Status      int    // HTTP status sent
	ErrorCode   string // S3 error code, empty on success
	BytesIn     int64  // request body bytes read
	BytesOut    int64  // response body bytes written
	Duration    time.Duration
	// RateLimited is set when the tenant's rate limit refused the request.
	RateLimited bool
	// RemoteAddr and UserAgent describe the client.
	RemoteAddr string
	UserAgent  string
}

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxPutSize == 0 {
		c.MaxPutSize = DefaultMaxPutSize
	}
	if c.MaxObjectSize == 0 {
		c.MaxObjectSize = DefaultMaxObjectSize
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.UnauthRate == 0 {
		c.UnauthRate = DefaultUnauthRate
	}
	if c.UnauthBurst == 0 {
		c.UnauthBurst = DefaultUnauthBurst
	}
	return c
}

// Validate reports every problem of the configuration at once (zero values
// take their defaults and are valid).
func (c Config) Validate() error {
	var errs []error
	for _, r := range c.Region {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			errs = append(errs, fmt.Errorf("s3: region %q: only lower-case letters, digits and '-'", c.Region))
			break
		}
	}
	if c.Domain != "" && (c.Domain[0] == '.' || len(c.Domain) > 253) {
		errs = append(errs, fmt.Errorf("s3: domain %q is not a host name", c.Domain))
	}
	if c.MaxHeaderBytes < 0 {
		errs = append(errs, errors.New("s3: MaxHeaderBytes must not be negative"))
	}
	if c.MaxPutSize < 0 {
		errs = append(errs, errors.New("s3: MaxPutSize must not be negative"))
	}
	if c.MaxObjectSize < 0 {
		errs = append(errs, errors.New("s3: MaxObjectSize must not be negative"))
	}
	if c.MaxPutSize > 0 && c.MaxObjectSize > 0 && c.MaxPutSize > c.MaxObjectSize {
		errs = append(errs, errors.New("s3: MaxPutSize exceeds MaxObjectSize"))
	}
	if c.UnauthBurst < 0 {
		errs = append(errs, errors.New("s3: UnauthBurst must not be negative"))
	}
	if c.ClockSkew < 0 {
		errs = append(errs, errors.New("s3: ClockSkew must not be negative"))
	}
	if c.RateLimitStatus != 0 && c.RateLimitStatus != http.StatusServiceUnavailable && c.RateLimitStatus != http.StatusTooManyRequests {
		errs = append(errs, fmt.Errorf("s3: RateLimitStatus %d: want 503 or 429", c.RateLimitStatus))
	}
	return errors.Join(errs...)
}

// Server serves the S3 API over an Engine. It is an http.Handler.
type Server struct {
	cfg      Config
	eng      Engine
	log      *slog.Logger
	router   *httprouter.Router
	verifier *sigv4.Verifier
	policies policyCache
	// anonLim and failLim limit unsigned requests and failed
	// authentications per client address (addrlimit.go); nil when off.
	anonLim, failLim *addrLimiter
	hostID           string
	reqSeq           atomic.Uint64
	idPrefix         string
}

// New returns a Server.
func New(cfg Config, eng Engine) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if eng == nil {
		return nil, errors.New("s3: nil Engine")
	}
	cfg = cfg.withDefaults()
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg,
		eng: eng,
		log: cfg.Logger,
		verifier: &sigv4.Verifier{
			Region: cfg.Region, ExtraRegions: cfg.ExtraRegions, Service: "s3", Skew: cfg.ClockSkew, Now: cfg.Now,
		},
		idPrefix: fmt.Sprintf("%X", rnd[:4]),
		hostID:   hex.EncodeToString(rnd[4:]),
	}
	if cfg.UnauthRate > 0 {
		s.anonLim = newAddrLimiter(cfg.UnauthRate, cfg.UnauthBurst, cfg.Now)
		s.failLim = newAddrLimiter(cfg.UnauthRate, cfg.UnauthBurst, cfg.Now)
	}
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = false
	r.HandleOPTIONS = false
	// S3's bucket/key space is not a route tree: one catch-all per method,
	// and Resolve makes the typed Endpoint.
	h := func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) { s.handle(w, req) }
	for _, m := range []string{"GET", "HEAD", "PUT", "POST", "DELETE"} {
		r.Handle(m, "/*path", h)
	}
	r.NotFound = http.HandlerFunc(s.handle)
	s.router = r
	if cfg.Domain != "" {
		// Signature Version 2 signs "/bucket/key" for bucket.domain/key.
		s.verifier.VirtualHost = func(host string) (string, bool) { return vhostContainer(host, cfg.Domain) }
		// A tenant-qualified bucket.tenant.<domain> is signed "/bucket/key"
		// by clients whose endpoint is tenant.<domain> (s3cmd's
		// host_bucket, boto's V2 calling format).
		s.verifier.VirtualHostAlias = s.qualifiedVirtualHostBucket
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.router.ServeHTTP(w, r)
}

// HTTPServer returns an http.Server for s on addr with timeouts that keep
// slow or idle clients from holding connections, and the configured header
// limit. Bodies are not given a deadline: uploads of gigabytes take time.
// For HTTPS call Serve(certs.Listener(ln)): Certs.Listener batches the TLS
// records of a large response write into one syscall (tlsbatch.go);
// ServeTLS with TLSConfig (Certs.TLSConfig) serves the same, a record per
// syscall.
//
// It speaks HTTP/1.1 only, over TLS too: S3 clients (the SDKs, the aws
// CLI, boto3, rclone, s3cmd) speak HTTP/1.1 and open several connections
// to move data in parallel, which is what S3 itself serves. HTTP/2 would
// add a second request path with its own flow-control windows (a cap on
// one upload's throughput), its own 100-continue and body handling, and
// its own denial-of-service history, for no client that needs it.
func (s *Server) HTTPServer(addr string) *http.Server {
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		Protocols:         protos,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext:       withBatcher,
	}
}

// reqCtx is the state of one request through the pipeline.
type reqCtx struct {
	id     string
	hostID string
	ep     Endpoint
	// tenant is the tenant whose namespace the request acts in: the
	// owner of the addressed bucket (access.go, ResolveBucket), else the
	// requester's.
	tenant string
	user   string
	// principal is who signed the request (zero when unsigned).
	principal policy.Principal
	limited   bool
	auth      *sigv4.Result
	status    int
	errCode   string
	start     time.Time
	aborted   bool
	closed    bool // the client went away first (StatusClientClosedRequest)
	// body is what handlers read the request body from (counted, and
	// shaped to the tenant's bandwidth); r.Body itself stays as net/http
	// made it (see handle).
	body io.Reader
}

// StatusClientClosedRequest is the status recorded (in RequestEvent, so in
// metrics and the audit log) for a request whose client went away before
// its response was complete: nginx's 499. It is never sent (nobody is
// there to read it), and it is not a server error: it must not count
// toward 5xx alerts. The event keeps the bytes moved until then.
const StatusClientClosedRequest = 499

// CodeClientClosedRequest is the error code recorded with it.
const CodeClientClosedRequest = "ClientClosedRequest"

// clientClosed reports whether err ended a request because its client went
// away: the request's context is done (net/http cancels it when a read or
// a write on the connection fails) and err is not an S3 error the request
// earned on its own (a truncated body is still IncompleteBody).
func clientClosed(r *http.Request, err error) bool {
	if r.Context().Err() == nil {
		return false
	}
	_, known := lookupError(err)
	return !known || errors.Is(err, context.Canceled)
}

// handle is the request pipeline: endpoint, authentication, handler.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	rc := &reqCtx{
		id:     s.idPrefix + strconv.FormatUint(s.reqSeq.Add(1), 16),
		hostID: s.hostID,
		status: http.StatusOK,
		start:  s.cfg.Now(),
	}
	h := w.Header()
	h.Set("X-Amz-Request-Id", rc.id)
	h.Set("X-Amz-Id-2", rc.hostID)
	h.Set("Server", "Vaultaire")
	sw := &statusWriter{ResponseWriter: w, batch: batcherOf(r.Context())}
	// r.Body is never replaced: net/http recognises its own body reader
	// after the handler to answer a request refused before its body was
	// read. With "Expect: 100-continue" it then sends the answer at once,
	// without "100 Continue", and closes the connection; a wrapper in
	// r.Body hides that: net/http then reads the body before answering,
	// while the client holds it back until "100 Continue", so the client
	// waits out its own timeout, or for ever if it has none (botocore
	// over TLS 1.3 takes the session tickets for the answer and waits).
	body := &countingBody{ReadCloser: r.Body}
	rc.body = body
	defer s.finish(rc, sw, body, r)
	err := s.serve(sw, r, rc)
	if err != nil {
		if clientClosed(r, err) {
			// Nobody is listening: record it as what it is, not as a
			// server error, and write nothing more.
			rc.status, rc.errCode, rc.closed = StatusClientClosedRequest, CodeClientClosedRequest, true
			s.log.Debug("s3: client closed the request", "request_id", rc.id, "op", rc.ep.Op.String(), "err", err)
			if sw.wrote {
				panic(http.ErrAbortHandler)
			}
			return
		}
		if sw.wrote {
			// Headers went out: the only honest signal left is to cut
			// the connection so the client sees a truncated body.
			level := slog.LevelWarn
			if r.Context().Err() != nil {
				level = slog.LevelDebug // the client went away
			}
			s.log.Log(r.Context(), level, "s3: error after response started", "request_id", rc.id, "op", rc.ep.Op.String(), "err", err)
			rc.aborted = true
			panic(http.ErrAbortHandler)
		}
		s.writeError(sw, r, rc, err)
	}
	if !body.touched && r.ContentLength != 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		lingerUnsent(w, r)
	}
}

// A client told "no" to its "Expect: 100-continue" may still be sending
// the body (lingerUnsent): it is read and dropped while it flows, until
// lingerIdle passes without a byte (what net/http waits before closing a
// connection it refused a large body on), or lingerMax or lingerBytes in
// all, bounds that keep a refused client from holding the connection.
const (
	lingerIdle  = 500 * time.Millisecond
	lingerMax   = 5 * time.Second
	lingerBytes = 64 << 20
)

// lingerUnsent ends a request answered without "100 Continue": net/http
// closes the connection after the answer (Connection: close), and the
// client should not send the body. Most do not, and close the connection
// on reading the answer. Some send it anyway: the RFC allows it, and
// aws-sdk-go-v2 sends the Expect header on requests that Go's transport
// then does not hold back. Closing a connection with their bytes unread
// makes the kernel reset it, and the reset can destroy the answer before
// the client reads it (or fail the client's write before it looks). So
// the answer is sent now, and the body read and dropped while it comes:
// a lingering close (RFC 9112, 9.6).
//
// The connection is taken over (hijacked) for that, once the answer is
// complete (framed by its Content-Length): the answer is
// flushed, the write side closed (a TLS close_notify, or a TCP FIN), and
// what still arrives is read from the socket itself and dropped. Over TLS
// those bytes are never decrypted, so a refusal costs the server the same
// over HTTPS as over HTTP (the aws-sdk-go-v2 sends megabytes of a refused
// 16 MiB body before it reads the answer). Where the connection cannot be
// taken over, the body is read through net/http, and then an expired read
// deadline stops the drain net/http would attempt when closing the body
// (golang/go#63152), which would hold the connection until the client
// gives up.
func lingerUnsent(w http.ResponseWriter, r *http.Request) {
	ctl := http.NewResponseController(w)
	if ctl.Flush() != nil {
		_ = ctl.SetReadDeadline(time.Unix(1, 0))
		return
	}
	// Only an answer framed by its Content-Length (every S3 error) is
	// complete once flushed: a chunked one ends when net/http ends it.
	if w.Header().Get("Content-Length") != "" {
		if conn, _, err := ctl.Hijack(); err == nil {
			lingerRaw(conn)
			return
		}
	}
	drainFor(r.Body, ctl.SetReadDeadline)
	_ = ctl.SetReadDeadline(time.Unix(1, 0))
}

// lingerRaw closes the write side of a taken-over connection whose answer
// is sent, drops what the client still sends (below TLS when there is
// TLS), and closes it.
func lingerRaw(conn net.Conn) {
	defer conn.Close()
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		_ = tc.SetWriteDeadline(time.Now().Add(lingerIdle))
		_ = tc.CloseWrite() // close_notify: no more records from us
		raw = tc.NetConn()
	}
	if cw, ok := raw.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	drainFor(raw, raw.SetReadDeadline)
}

// drainFor reads and drops src until it ends or fails, lingerIdle passes
// without a byte, or lingerMax or lingerBytes in all.
func drainFor(src io.Reader, setReadDeadline func(time.Time) error) {
	end := time.Now().Add(lingerMax)
	buf := make([]byte, 32<<10)
	for n := 0; n < lingerBytes; {
		d := time.Now().Add(lingerIdle)
		if d.After(end) {
			d = end
		}
		if setReadDeadline(d) != nil {
			return
		}
		k, err := src.Read(buf)
		n += k
		if err != nil {
			return
		}
	}
}

// finish reports the request; it also runs when a handler aborts the
// response (http.ErrAbortHandler).
func (s *Server) finish(rc *reqCtx, sw *statusWriter, body *countingBody, r *http.Request) {
	if sw.status != 0 && !rc.closed {
		rc.status = sw.status
	}
	ev := RequestEvent{
		Time: rc.start, RequestID: rc.id, Tenant: rc.tenant, Operation: rc.ep.Op,
		Container: rc.ep.Container, Key: rc.ep.Key, Status: rc.status, ErrorCode: rc.errCode,
		BytesIn: body.n, BytesOut: sw.n, Duration: s.cfg.Now().Sub(rc.start),
		User: rc.user, RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent(), RateLimited: rc.limited,
	}
	if rc.principal.Tenant != rc.tenant {
		ev.Requester = rc.principal.Tenant
	}
	if rc.auth != nil {
		ev.AccessKeyID = rc.auth.AccessKeyID
	}
	if rc.aborted {
		ev.ErrorCode = "ResponseAborted"
	}
	s.log.Debug("s3: request", "request_id", ev.RequestID, "op", ev.Operation.String(), "tenant", ev.Tenant,
		"container", ev.Container, "key", ev.Key, "status", ev.Status, "code", ev.ErrorCode,
		"bytes_in", ev.BytesIn, "bytes_out", ev.BytesOut, "duration", ev.Duration)
	if s.cfg.OnRequest != nil {
		s.cfg.OnRequest(ev)
	}
}

// countingBody counts the request body bytes read.
type countingBody struct {
	io.ReadCloser
	n       int64
	touched bool // Read was called (with 100-continue: "100 Continue" was sent)
}

func (c *countingBody) Read(p []byte) (int, error) {
	if c.ReadCloser == nil {
		return 0, io.EOF
	}
	c.touched = true
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error {
	if c.ReadCloser == nil {
		return nil
	}
	return c.ReadCloser.Close()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	addr := clientAddr(r)
	if err := s.admitAddr(w, rc, addr, looksSigned(r)); err != nil {
		return err
	}
	if r.Method == http.MethodOptions {
		// A CORS preflight: answered from the bucket's rules, unsigned
		// (and limited as unsigned traffic by admitAddr).
		return s.preflight(s.eng.ReadScope(r.Context()), w, r, rc)
	}
	ep, err := Resolve(RouteInput{
		Method:     r.Method,
		Host:       r.Host,
		Path:       r.URL.EscapedPath(),
		RawQuery:   r.URL.RawQuery,
		CopySource: r.Header.Get("X-Amz-Copy-Source") != "",
		Form:       isForm(r.Header.Get("Content-Type")),
	}, s.cfg.Domain)
	if err != nil {
		// Authenticate anyway so an unsigned probe learns nothing about
		// what is implemented; a signed one gets the routing error.
		if _, _, aerr := s.authenticate(r.Context(), r); aerr != nil {
			s.authFailed(addr, aerr)
			return aerr
		}
		return err
	}
	rc.ep = ep
	ctx := s.eng.ReadScope(r.Context())
	if ep.Op == OpPostObject {
		// Authenticated by the signature of the form's policy, which
		// comes in the body (postobject.go).
		s.setCORSUnverified(ctx, w.Header(), r, ep.Container)
		return s.postObject(ctx, w, r, rc)
	}
	// bucket.tenant.<Domain> is tenant:bucket (after admitAddr: it may
	// read whether the tenant exists).
	ep.Container = s.qualifyVirtualHost(ctx, r, ep.Container)
	auth, cred, err := s.authenticate(ctx, r)
	_, _, qualified := SplitQualified(ep.Container)
	switch {
	case err == nil:
		rc.auth, rc.tenant, rc.user = auth, cred.Tenant, cred.User
		rc.principal = policy.Principal{Tenant: cred.Tenant, User: cred.User}
		if err := s.admit(w, rc); err != nil {
			return err
		}
	case errors.Is(err, sigv4.ErrAnonymous) && qualified:
		// Anonymous: allowed only where a bucket policy grants "*"
		// (authorize), addressed by a tenant-qualified name.
		rc.auth = &sigv4.Result{PayloadHash: sigv4.UnsignedPayload}
	default:
		s.authFailed(addr, err)
		s.setCORSUnverified(ctx, w.Header(), r, ep.Container) // S3 lets a browser read the refusal
		return err
	}
	if ep.Container != "" {
		owner, bucket, err := s.ResolveBucket(ctx, rc.principal.Tenant, ep.Container)
		if err != nil {
			return err
		}
		rc.tenant, rc.ep.Container = owner, bucket
		// The bucket owner's rules, whoever signed (cors.go).
		s.setCORS(ctx, w.Header(), r, bucket, []string{owner})
	}
	if rc.ep.Container != "" && !ValidBucketName(rc.ep.Container) {
		// CreateBucket reports the name; elsewhere an invalid name cannot
		// exist, and S3 answers the same.
		return errInvalidBucketName
	}
	if ep.Key != "" {
		if err := checkKey(ep.Key); err != nil {
			return err
		}
	}
	if err := s.authorize(ctx, r, rc); err != nil {
		return err
	}
	if w, err = s.tenantLimits(ctx, w, r, rc); err != nil { // quotas, bandwidth (tenancy.go)
		return err
	}
	return s.dispatch(ctx, w, r, rc)
}

// admitAddr applies the per-address limits of unauthenticated traffic
// (addrlimit.go) before anything is read: an unsigned request spends a
// token of its address, a signed one is refused while its address has
// spent its failures.
func (s *Server) admitAddr(w http.ResponseWriter, rc *reqCtx, addr netip.Addr, signed bool) error {
	if s.anonLim == nil {
		return nil
	}
	var refused bool
	var wait time.Duration
	if signed {
		refused, wait = s.failLim.exhausted(addr)
	} else {
		ok, d := s.anonLim.take(addr)
		refused, wait = !ok, d
	}
	if !refused {
		return nil
	}
	rc.limited = true
	secs := int64((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	return withMessage(errSlowDown, "Too many unsigned or unauthenticated requests from your address; retry later.")
}

// authFailed spends a failure token of addr for a signature that did not
// verify (an unsigned request already paid in admitAddr).
func (s *Server) authFailed(addr netip.Addr, err error) {
	if s.failLim != nil && !errors.Is(err, sigv4.ErrAnonymous) && !errors.Is(err, node.ErrUnavailable) && !errors.Is(err, context.Canceled) {
		s.failLim.take(addr)
	}
}

// admit applies the tenant's rate limit: the X-RateLimit-Limit and
// -Remaining headers go on every response of a limited tenant, and a
// refused request gets SlowDown with Retry-After in whole seconds.
func (s *Server) admit(w http.ResponseWriter, rc *reqCtx) error {
	if s.cfg.Limiter == nil {
		return nil
	}
	d := s.cfg.Limiter.Allow(rc.tenant)
	if d.Limit <= 0 { // unlimited tenant
		return nil
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	if d.Allowed {
		return nil
	}
	rc.limited = true
	secs := int64((d.RetryAfter + time.Second - 1) / time.Second)
	h.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	if s.cfg.RateLimitStatus == http.StatusTooManyRequests {
		return errSlowDown429
	}
	return errSlowDown
}

// authenticate verifies the request's signature; the tenant of the request
// is the tenant of its access key.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (*sigv4.Result, node.Credential, error) {
	var cred node.Credential
	res, err := s.verifier.Verify(ctx, r, func(ctx context.Context, ak string) (string, error) {
		c, err := s.eng.Credential(ctx, ak)
		if err != nil {
			return "", err
		}
		cred = c
		return c.Secret, nil
	})
	if err != nil {
		return nil, node.Credential{}, err
	}
	return res, cred, nil
}

func (s *Server) dispatch(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	switch rc.ep.Op {
	case OpListBuckets:
		return s.listBuckets(ctx, w, r, rc)
	case OpCreateBucket:
		return s.createBucket(ctx, w, r, rc)
	case OpHeadBucket:
		return s.headBucket(ctx, w, r, rc)
	case OpDeleteBucket:
		return s.deleteBucket(ctx, w, r, rc)
	case OpGetBucketLocation:
		return s.getBucketLocation(ctx, w, r, rc)
	case OpGetBucketVersioning:
		return s.getBucketVersioning(ctx, w, r, rc)
	case OpListObjectsV1:
		return s.listObjects(ctx, w, r, rc, false)
	case OpListObjectsV2:
		return s.listObjects(ctx, w, r, rc, true)
	case OpListMultipartUploads:
		return s.listUploads(ctx, w, r, rc)
	case OpDeleteObjects:
		return s.deleteObjects(ctx, w, r, rc)
	case OpPutObject:
		return s.putObject(ctx, w, r, rc)
	case OpCopyObject:
		return s.copyObject(ctx, w, r, rc)
	case OpGetObject, OpHeadObject:
		return s.getObject(ctx, w, r, rc)
	case OpDeleteObject:
		return s.deleteObject(ctx, w, r, rc)
	case OpCreateMultipartUpload:
		return s.createUpload(ctx, w, r, rc)
	case OpUploadPart:
		return s.uploadPart(ctx, w, r, rc)
	case OpUploadPartCopy:
		return s.uploadPartCopy(ctx, w, r, rc)
	case OpCompleteMultipartUpload:
		return s.completeUpload(ctx, w, r, rc)
	case OpAbortMultipartUpload:
		return s.abortUpload(ctx, w, r, rc)
	case OpListParts:
		return s.listParts(ctx, w, r, rc)
	case OpPutBucketVersioning:
		return s.putBucketVersioning(ctx, w, r, rc)
	case OpListObjectVersions:
		return s.listObjectVersions(ctx, w, r, rc)
	case OpGetObjectLockConfiguration:
		return s.getObjectLockConfiguration(ctx, w, r, rc)
	case OpPutObjectLockConfiguration:
		return s.putObjectLockConfiguration(ctx, w, r, rc)
	case OpGetBucketTagging:
		return s.getBucketTagging(ctx, w, r, rc)
	case OpPutBucketTagging:
		return s.putBucketTagging(ctx, w, r, rc)
	case OpDeleteBucketTagging:
		return s.deleteBucketTagging(ctx, w, r, rc)
	case OpGetObjectTagging:
		return s.getObjectTagging(ctx, w, r, rc)
	case OpPutObjectTagging:
		return s.putObjectTagging(ctx, w, r, rc)
	case OpDeleteObjectTagging:
		return s.deleteObjectTagging(ctx, w, r, rc)
	case OpGetObjectRetention:
		return s.getObjectRetention(ctx, w, r, rc)
	case OpPutObjectRetention:
		return s.putObjectRetention(ctx, w, r, rc)
	case OpGetObjectLegalHold:
		return s.getObjectLegalHold(ctx, w, r, rc)
	case OpPutObjectLegalHold:
		return s.putObjectLegalHold(ctx, w, r, rc)
	case OpGetObjectAttributes:
		return s.getObjectAttributes(ctx, w, r, rc)
	case OpRestoreObject:
		return s.restoreObject(ctx, w, r, rc)
	case OpGetBucketCors:
		return s.getBucketCors(ctx, w, r, rc)
	case OpPutBucketCors:
		return s.putBucketCors(ctx, w, r, rc)
	case OpDeleteBucketCors:
		return s.deleteBucketCors(ctx, w, r, rc)
	case OpGetBucketLifecycle:
		return s.getBucketLifecycle(ctx, w, r, rc)
	case OpPutBucketLifecycle:
		return s.putBucketLifecycle(ctx, w, r, rc)
	case OpDeleteBucketLifecycle:
		return s.deleteBucketLifecycle(ctx, w, r, rc)
	case OpGetBucketPolicy:
		return s.getBucketPolicy(ctx, w, r, rc)
	case OpPutBucketPolicy:
		return s.putBucketPolicy(ctx, w, r, rc)
	case OpDeleteBucketPolicy:
		return s.deleteBucketPolicy(ctx, w, r, rc)
	case OpGetBucketPolicyStatus:
		return s.getBucketPolicyStatus(ctx, w, r, rc)
	case OpGetPublicAccessBlock:
		return s.getPublicAccessBlock(ctx, w, r, rc)
	case OpPutPublicAccessBlock:
		return s.putPublicAccessBlock(ctx, w, r, rc)
	case OpDeletePublicAccessBlock:
		return s.deletePublicAccessBlock(ctx, w, r, rc)
	case OpGetBucketOwnership:
		return s.getBucketOwnership(ctx, w, r, rc)
	case OpPutBucketOwnership:
		return s.putBucketOwnership(ctx, w, r, rc)
	case OpDeleteBucketOwnership:
		return s.deleteBucketOwnership(ctx, w, r, rc)
	case OpGetBucketACL, OpGetObjectACL:
		return s.getACL(ctx, w, r, rc)
	case OpPutBucketACL, OpPutObjectACL:
		return s.putACL(ctx, w, r, rc)
	case OpGetBucketEncryption:
		return s.getBucketEncryption(ctx, w, r, rc)
	case OpPutBucketEncryption:
		return s.putBucketEncryption(ctx, w, r, rc)
	case OpDeleteBucketEncryption:
		return s.deleteBucketEncryption(ctx, w, r, rc)
	}
	return errNotImplemented
}

// statusWriter records the status and bytes of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	n      int64
	// batch is the tlsbatch.Conn under a TLS connection (Certs.Listener):
	// held around a large write, so its records leave in one syscall.
	batch *tlsbatch.Conn
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := tlsbatch.Write(w.batch, w.ResponseWriter, p)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
