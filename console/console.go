package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/metrics"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/tenancy"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Defaults of Config.
const (
	DefaultSessionTTL    = 15 * time.Minute
	DefaultSessionMaxAge = 12 * time.Hour
	// DefaultLoginRate and DefaultLoginBurst throttle sign-in attempts per
	// source address: a burst of 10, then one every 6 seconds.
	DefaultLoginRate  = 1.0 / 6
	DefaultLoginBurst = 10
	// formLimit bounds the body of every form but uploads.
	formLimit = 64 << 10
	// requestTimeout bounds the session check of a request.
	requestTimeout = 30 * time.Second
	// pageSize is the object browser's page.
	pageSize = 100
)

// Engine is what the console needs of a node; *node.Engine implements it.
type Engine interface {
	ReadScope(ctx context.Context) context.Context

	Login(ctx context.Context, acct node.Account, password string, p node.LoginPolicy) (node.Grant, error)
	CheckSession(ctx context.Context, acct node.Account, gen uint64, sid string, expiry time.Time) error
	RevokeSession(ctx context.Context, sid string, expiry time.Time) error
	ChangePassword(ctx context.Context, acct node.Account, current, next string, p node.LoginPolicy) (node.Grant, error)
	SetPassword(ctx context.Context, acct node.Account, password string) error
	LoginStatus(ctx context.Context, acct node.Account) (node.LoginState, error)

	ListContainers(ctx context.Context, tenant string) ([]node.ContainerInfo, error)
	CreateContainer(ctx context.Context, tenant string, in node.CreateContainerInput) error
	HeadContainer(ctx context.Context, tenant, name string) (node.ContainerInfo, error)
	DeleteContainer(ctx context.Context, tenant, name string) error
	ContainerQuota(ctx context.Context, tenant, container string) (node.ContainerQuota, error)
	// Bucket settings (settings.go).
	SetVersioning(ctx context.Context, tenant, container, state string) error
	ContainerConfig(ctx context.Context, tenant, container, name string) (string, error)
	SetContainerConfig(ctx context.Context, tenant, container, name, value string) error
	LifecycleConfiguration(ctx context.Context, tenant, container string) (node.LifecycleConfig, error)
	DeleteLifecycleConfiguration(ctx context.Context, tenant, container string) error
	SetLifecycleConfiguration(ctx context.Context, tenant, container string, cfg node.LifecycleConfig) error
	TenantPublicAccessBlock(ctx context.Context, tenant string) (string, error)

	PutArtifact(ctx context.Context, tenant string, in node.PutInput) (node.ArtifactInfo, error)
	HeadArtifact(ctx context.Context, tenant string, ref node.VersionRef) (node.ArtifactInfo, error)
	OpenArtifact(ctx context.Context, tenant string, ref node.VersionRef) (node.ArtifactReader, error)
	DeleteArtifact(ctx context.Context, tenant string, in node.DeleteInput) (node.DeleteResult, error)
	ListArtifacts(ctx context.Context, tenant, container string, opts node.ListOptions) (node.ListResult, error)
	CheckWriteQuota(ctx context.Context, tenant, container, key string, size int64) error
	CheckEgressQuota(ctx context.Context, tenant string) error

	CreateUpload(ctx context.Context, tenant string, in node.UploadInput) (node.UploadInfo, error)
	UploadPart(ctx context.Context, tenant string, in node.PartInput) (node.PartInfo, error)
	CompleteUpload(ctx context.Context, tenant, container, key, uploadID string, parts []node.PartRef, cond node.Conditions) (node.ArtifactInfo, error)
	AbortUpload(ctx context.Context, tenant, container, key, uploadID string) error

	ListAccessKeys(ctx context.Context, tenant string) ([]node.AccessKeyInfo, error)
	CreateAccessKey(ctx context.Context, tenant, user string) (node.Credential, error)
	GetAccessKey(ctx context.Context, id string) (node.AccessKeyInfo, error)
	SetAccessKeyEnabled(ctx context.Context, id string, enabled bool) (node.AccessKeyInfo, error)
	DeleteAccessKey(ctx context.Context, id string) (node.AccessKeyInfo, error)

	GetTenant(ctx context.Context, id string) (node.TenantInfo, error)
	ListTenants(ctx context.Context) ([]node.TenantInfo, error)
	CreateTenant(ctx context.Context, id, name, plan string) (node.TenantInfo, error)
	SetTenantState(ctx context.Context, id, state string) (node.TenantInfo, error)
	DeleteTenant(ctx context.Context, id string, force bool) (node.DeleteReport, error)
	AssignPlan(ctx context.Context, tenant, plan string, override bool, lim tenancy.Limit, q tenancy.Quota) (node.TenantInfo, error)
	TenantLimits(ctx context.Context, tenant string) (node.TenantLimits, error)
	SetTenantLimits(ctx context.Context, tenant string, override bool, lim tenancy.Limit) (node.TenantLimits, error)
	SetTenantQuota(ctx context.Context, tenant string, q tenancy.Quota) (node.TenantLimits, error)
	TenantUsage(ctx context.Context, tenant string) (node.TenantUsageInfo, error)
	UsageHours(ctx context.Context, tenant string, from, to time.Time) ([]tenancy.Hour, error)
	ListUsers(ctx context.Context, tenant string) ([]node.UserInfo, error)
	CreateUser(ctx context.Context, tenant, name, password string) (node.UserInfo, error)
	DeleteUser(ctx context.Context, tenant, name string) error
	BillingAccount(ctx context.Context, tenant string) (node.BillingAccount, error)

	Stats() node.Stats
}

// ClusterView is the cluster as the operator pages show it (the admin
// API's cluster status, adapted by the caller).
type ClusterView struct {
	Node, Leader, Shape string
	Nodes               []ClusterNode
}

// ClusterNode is one node of a ClusterView.
type ClusterNode struct {
	ID, State, NodeState, Version, RaftRole, S3 string
	Drives                                      []ClusterDrive
}

// OnlineDrives counts the node's online drives.
func (n ClusterNode) OnlineDrives() int {
	k := 0
	for _, d := range n.Drives {
		if d.Online {
			k++
		}
	}
	return k
}

// Capacity and Used sum the node's drives.
func (n ClusterNode) Capacity() (t int64) {
	for _, d := range n.Drives {
		t += d.Total
	}
	return t
}

func (n ClusterNode) Used() (u int64) {
	for _, d := range n.Drives {
		u += d.Total - d.Free
	}
	return u
}

// ClusterDrive is one drive of a ClusterNode.
type ClusterDrive struct {
	ID          string
	Online      bool
	Total, Free int64
}

// UsedPercent is the share of the drive in use.
func (d ClusterDrive) UsedPercent() int { return pct(d.Total-d.Free, d.Total) }

// Progress is one piece of background work shown on the cluster page
// (healing, scrubbing, relocation; rebalancing and decommissioning when
// they exist): what it has done, of how much when that is known.
type Progress struct {
	Name   string
	Detail string
	Done   int64
	Total  int64 // 0: open-ended (counters since the node started)
}

// Config configures a console Server.
type Config struct {
	Engine Engine
	NodeID string
	// SessionKey signs session tokens and CSRFKey the anti-forgery tokens
	// (cluster.Secret.SessionKey and CSRFKey: the same on every node).
	SessionKey, CSRFKey []byte
	// Secure marks cookies Secure: set it when the console is served over
	// TLS (or behind a TLS-terminating proxy).
	Secure bool
	// SSECInsecure accepts SSE-C customer keys (the download form of
	// SSE-C objects) over plain HTTP. Like s3.Config.SSECInsecure it is
	// for tests only: no server flag sets it.
	SSECInsecure bool
	// SessionTTL is a token's life (refreshed on use); SessionMaxAge the
	// longest a session lasts from sign-in.
	SessionTTL, SessionMaxAge time.Duration
	// Policy is the account lockout rule.
	Policy node.LoginPolicy
	// LoginRate (attempts per second) and LoginBurst throttle sign-ins per
	// source address.
	LoginRate  float64
	LoginBurst int
	// Plans is the plan catalog.
	Plans billing.Catalog
	// ValidBucketName is S3's bucket naming rule (s3.ValidBucketName).
	ValidBucketName func(string) bool
	// ParseLifecycle and ParseCORS validate lifecycle and CORS documents
	// with the S3 edge's own parsers (s3.ParseLifecycleConfiguration,
	// s3.ParseCORSConfiguration; refusals as *s3.ConfigError, read
	// through its S3Error method). ParseCORS returns the stored form.
	// Nil: those rules can only be deleted here.
	ParseLifecycle func(doc []byte) (node.LifecycleConfig, error)
	ParseCORS      func(doc []byte) (string, error)
	// OnRequest meters the console's data operations for a tenant, named
	// as the S3 operations they stand for (tenancy.Meter.Record).
	OnRequest func(tenant, operation string, bytesIn, bytesOut int64)
	// Allow spends one request of a tenant's rate limit (the S3 limiter's
	// Allow): a tenant's console requests count like its S3 requests.
	// Nil: not limited.
	Allow func(tenant string) (ok bool, retryAfter time.Duration)
	// WaitBytes shapes uploads and downloads to the tenant's bandwidth
	// limits (the S3 limiter's). Nil: not shaped.
	WaitBytes func(ctx context.Context, tenant string, dir tenancy.Direction, n int) error
	// LimitsChanged tells this node's limiter that a tenant's limits
	// changed (other nodes take it within their refresh).
	LimitsChanged func(ctx context.Context)
	// Cluster and Progress feed the operator's cluster page; Metrics the
	// live request view (all optional).
	Cluster  func(ctx context.Context) (ClusterView, error)
	Progress func(ctx context.Context) []Progress
	Metrics  *metrics.Metrics
	// Webhook, when set, is served at POST /billing/webhook (the payment
	// provider's events; it authenticates them itself).
	Webhook http.Handler
	Audit   *audit.Logger
	Logger  *slog.Logger
}

// Server is the web console of one node.
type Server struct {
	cfg      Config
	eng      Engine
	keys     keys
	log      *slog.Logger
	pages    map[string]*template.Template
	static   http.Handler
	throttle *throttle
	live     *liveStats
	handler  http.Handler
	cache    *pageCache     // rendered listings (cache.go)
	verified verifiedTokens // session tokens already verified
	renders  chan struct{}  // render slots (gated)

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New builds a console. Close stops its background sampler.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil {
		return nil, errors.New("console: no Engine")
	}
	if len(cfg.SessionKey) < 32 || len(cfg.CSRFKey) < 32 {
		return nil, errors.New("console: SessionKey and CSRFKey need 32 bytes each")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = DefaultSessionMaxAge
	}
	if cfg.Policy.MaxFailures == 0 {
		cfg.Policy = node.DefaultLoginPolicy
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = DefaultLoginRate
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = DefaultLoginBurst
	}
	if len(cfg.Plans.Plans) == 0 {
		cfg.Plans = billing.DefaultCatalog()
	}
	if cfg.ValidBucketName == nil {
		cfg.ValidBucketName = func(n string) bool { return n != "" && len(n) <= 63 }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, eng: cfg.Engine, keys: keys{session: cfg.SessionKey, csrf: cfg.CSRFKey},
		log: cfg.Logger, pages: pages, throttle: newThrottle(cfg.LoginRate, cfg.LoginBurst, 10000),
		static: http.StripPrefix("/static/", http.FileServerFS(sub)),
		cache:  newPageCache(), renders: make(chan struct{}, renderSlots),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	if cfg.Metrics != nil {
		s.live = newLiveStats(cfg.Metrics.Totals)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.live.run(ctx, liveInterval) }()
	}
	s.handler = s.routes()
	return s, nil
}

// Close stops the background sampler (idempotent).
func (s *Server) Close() {
	s.stop()
	s.wg.Wait()
}

// ServeHTTP serves the console.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if s.cfg.Secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.handler.ServeHTTP(w, r)
}

// handle is a console handler: it writes its answer, or returns an error
// that becomes the error page.
type handle func(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error

// page is what every page template gets.
type page struct {
	Title   string
	Session *session
	CSRF    string
	Nav     string // the active navigation entry
	Flash   string // a one-line confirmation
	Error   string
	Data    any
	// Content, when set, is the page's content already rendered (from
	// the cache: renderCached), shown in place of its "content" block.
	Content template.HTML
}

// Operator reports whether the page is an operator's.
func (p *page) Operator() bool { return p.Session != nil && p.Session.operator() }

// render writes a page (a full page, or only its "content" block for htmx
// requests that target #main).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, pg *page) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("console: no page %q", name)
	}
	if pg.Session != nil {
		pg.CSRF = pg.Session.csrf
	}
	var buf bytes.Buffer
	buf.Grow(len(pg.Content) + 8<<10)
	block := "layout"
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") != "" && t.Lookup("fragment") != nil {
		block = "fragment"
	}
	if err := s.execute(t, &buf, block, pg); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// renderCached renders a tenant page whose content depends only on its
// Data and the anti-forgery token, through the page cache: data (the
// costly read) runs only when the tenant's rendering of the page under
// key is not current. The content is rendered with the cache's token
// placeholder and given the viewer's token on the way out.
func (s *Server) renderCached(w http.ResponseWriter, r *http.Request, name, key string, pg *page, data func() (any, error)) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("console: no page %q", name)
	}
	tenant, key := pg.Session.acct.Tenant, name+"\x00"+key
	now := time.Now()
	content, gen, hit := s.cache.get(tenant, key, now)
	if !hit {
		d, err := data()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := s.execute(t, &buf, "content", &page{Session: pg.Session, CSRF: s.cache.mark, Data: d}); err != nil {
			return err
		}
		content = buf.String()
		s.cache.put(tenant, key, content, gen, now)
	}
	pg.Content = template.HTML(s.cache.personal(content, pg.Session.csrf))
	return s.render(w, r, http.StatusOK, name, pg)
}

// httpError is an error shown to the user as it is, with a status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func userError(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// fail renders err as the error page: httpErrors as they are, node errors
// through the one table, anything else as an internal error (logged, never
// shown).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	status, msg := s.translate(err)
	if status == http.StatusInternalServerError {
		s.log.Error("console request failed", "path", r.URL.Path, "err", err)
	}
	if r.Header.Get("Accept") == "application/json" {
		_ = writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	pg := &page{Title: "Error", Session: sess, Error: msg}
	if rerr := s.render(w, r, status, "error", pg); rerr != nil {
		http.Error(w, msg, status)
	}
}

func (s *Server) translate(err error) (int, string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.msg
	}
	var qe *node.QuotaError
	if errors.As(err, &qe) {
		return http.StatusForbidden, qe.ClientMessage()
	}
	table := []struct {
		err    error
		status int
		msg    string
	}{
		{node.ErrContainerNotFound, http.StatusNotFound, "No such bucket."},
		{node.ErrContainerExists, http.StatusConflict, "You already have a bucket of that name."},
		{node.ErrContainerNotEmpty, http.StatusConflict, "The bucket is not empty: delete its objects first."},
		{node.ErrArtifactNotFound, http.StatusNotFound, "No such object."},
		{node.ErrUploadNotFound, http.StatusNotFound, "No such upload."},
		{node.ErrInvalidPart, http.StatusBadRequest, "A part of the upload is missing or changed."},
		{node.ErrInvalidPartOrder, http.StatusBadRequest, "The parts of the upload are not in order."},
		{node.ErrEntityTooSmall, http.StatusBadRequest, "A part other than the last is smaller than 5 MiB."},
		{node.ErrEntityTooLarge, http.StatusRequestEntityTooLarge, "The upload is too large."},
		{node.ErrIncompleteBody, http.StatusBadRequest, "The upload ended early."},
		{node.ErrAccessKeyNotFound, http.StatusNotFound, "No such access key."},
		{node.ErrTenantNotFound, http.StatusNotFound, "No such tenant."},
		{node.ErrTenantExists, http.StatusConflict, "A tenant of that id exists."},
		{node.ErrTenantNotEmpty, http.StatusConflict, "The tenant still holds data: tick \"delete its data too\" to delete it anyway."},
		{node.ErrUserNotFound, http.StatusNotFound, "No such user."},
		{node.ErrUserExists, http.StatusConflict, "A user of that name exists."},
		{node.ErrInvalidArgument, http.StatusBadRequest, "Invalid request."},
		{node.ErrUnavailable, http.StatusServiceUnavailable, "The cluster cannot serve this now; try again in a moment."},
		{node.ErrUpgradeRequired, http.StatusConflict, "This needs a newer cluster version: finish the cluster upgrade first."},
		{node.ErrSSECustomerKeyMissing, http.StatusBadRequest, "This object is encrypted with a customer key (SSE-C): download it with its key from the object's page."},
		{node.ErrSSECustomerKeyMismatch, http.StatusForbidden, "That customer key is not the one this object was encrypted with."},
		{node.ErrSSENotApplicable, http.StatusBadRequest, "This object is not encrypted with a customer key: download it without one."},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "The cluster took too long to answer; try again."},
	}
	for _, t := range table {
		if errors.Is(err, t.err) {
			msg := t.msg
			if t.err == node.ErrInvalidArgument {
				msg = "Invalid request: " + strings.TrimPrefix(strings.TrimPrefix(err.Error(), "node: invalid argument: "), "node: ")
			}
			return t.status, msg
		}
	}
	return http.StatusInternalServerError, "Something went wrong on our side; it was logged."
}

// loginPath is the sign-in page of a kind of account.
func loginPath(operator bool) string {
	if operator {
		return "/operator/login"
	}
	return "/login"
}

// authed wraps h for an authenticated session of the given kind
// (operator or tenant user), with anti-forgery checks on every method but
// GET and HEAD.
func (s *Server) authed(operator bool, h handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		// The session check's reads share one barrier and are bounded in
		// time; the handler's context has no deadline (uploads and
		// downloads take as long as their bytes). A GET's reads share the
		// session check's scope, so a page costs one read barrier: they
		// are linearizable as of the check, which came first. Other
		// methods get no scope (a handler that writes may read its own
		// write).
		scope := s.eng.ReadScope(r.Context())
		cctx, cancel := context.WithTimeout(scope, requestTimeout)
		sess, err := s.authenticate(cctx, w, r)
		cancel()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			r = r.WithContext(scope)
		}
		if err != nil {
			if !errors.Is(err, errBadToken) && !errors.Is(err, node.ErrSessionInvalid) {
				s.fail(w, r, nil, err)
				return
			}
			s.clearCookie(w, sessionCookie)
			s.toLogin(w, r, operator)
			return
		}
		if sess.operator() != operator {
			// The other kind of account's pages: sign in as that kind
			// (this session stays).
			s.toLogin(w, r, operator)
			return
		}
		if !operator && s.cfg.Allow != nil {
			if ok, retry := s.cfg.Allow(sess.acct.Tenant); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int((retry+time.Second-1)/time.Second))))
				s.fail(w, r, sess, userError(http.StatusTooManyRequests, "Too many requests for your account's plan; slow down a moment."))
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok, err := csrfToken(r)
			if err != nil {
				s.fail(w, r, sess, userError(http.StatusBadRequest, "Malformed or oversized form (at most 64 KiB)."))
				return
			}
			if !sameOrigin(r) || !tokenEqual(tok, sess.csrf) {
				s.audit(r, sess, "ConsoleForgeryRefused", http.StatusForbidden, "CSRF", "", "")
				s.fail(w, r, sess, userError(http.StatusForbidden, "This form has expired or did not come from this console (anti-forgery token missing or wrong). Reload the page and try again."))
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// A write: no page rendered before it ends is served from
			// the cache after it (an operator's may touch any tenant).
			tenant := sess.acct.Tenant
			if operator {
				tenant = ""
			}
			defer s.cache.writing(tenant)()
		}
		if err := h(w, r, p, sess); err != nil {
			s.fail(w, r, sess, err)
		}
	}
}

// csrfToken is the request's anti-forgery token: the X-CSRF-Token header
// (htmx and the upload script), else the form field. A URL-encoded form
// (at most formLimit bytes) is parsed here, so handlers read r.PostForm;
// the streamed multipart upload form carries its token in its action URL.
func csrfToken(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(nil, r.Body, formLimit)
		if err := r.ParseForm(); err != nil {
			return "", err
		}
	}
	if v := r.Header.Get(csrfHeader); v != "" {
		return v, nil
	}
	if strings.HasPrefix(ct, "multipart/form-data") {
		return r.URL.Query().Get(csrfField), nil
	}
	return r.PostForm.Get(csrfField), nil
}

// toLogin sends a visitor without a valid session to the sign-in page.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, operator bool) {
	target := loginPath(operator)
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// audit records one console operation.
func (s *Server) audit(r *http.Request, sess *session, op string, status int, code, container, key string) {
	s.auditTenant(r, sess, "", op, status, code, container, key)
}

// auditTenant records an operation on a tenant (an operator's: the event
// names the tenant acted on, and the operator as its user).
func (s *Server) auditTenant(r *http.Request, sess *session, tenant, op string, status int, code, container, key string) {
	if s.cfg.Audit == nil {
		return
	}
	ev := audit.Event{
		RequestID: "con-" + newSessionID()[:16], Node: s.cfg.NodeID, Operation: op, Status: status, ErrorCode: code,
		Container: container, Key: key, RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent(), Admin: true,
	}
	if sess != nil {
		ev.Tenant, ev.User = sess.acct.Tenant, sess.acct.Name
		if sess.operator() {
			ev.User = "operator:" + sess.acct.Name
		}
	}
	if tenant != "" {
		ev.Tenant = tenant
	}
	s.cfg.Audit.Emit(ev)
}

// meter counts a console data operation against the tenant's usage.
func (s *Server) meter(sess *session, op string, in, out int64) {
	if s.cfg.OnRequest != nil && sess != nil && !sess.operator() {
		s.cfg.OnRequest(sess.acct.Tenant, op, in, out)
	}
}

// redirect answers a form post with a redirect (htmx follows HX-Location
// without a full reload).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Location", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// flashes are the confirmations a redirect can carry, by code: a fixed
// text, so a crafted link cannot put words in the console's mouth.
var flashes = map[string]string{
	"bucket-created":   "Bucket created.",
	"bucket-deleted":   "Bucket deleted.",
	"object-deleted":   "Object deleted.",
	"uploaded":         "Upload complete.",
	"setting-saved":    "Setting saved.",
	"key-disabled":     "Access key disabled: requests signed with it are refused from now on.",
	"key-enabled":      "Access key enabled.",
	"key-deleted":      "Access key deleted.",
	"password-changed": "Password changed. Your other sessions have ended.",
	"tenant-created":   "Tenant created.",
	"tenant-suspended": "Tenant suspended: its sessions and access keys stopped working.",
	"tenant-resumed":   "Tenant resumed.",
	"tenant-deleted":   "Tenant deleted.",
	"plan-assigned":    "Plan assigned; its limits apply now.",
	"limits-saved":     "Limits saved.",
	"quota-saved":      "Quota saved.",
	"user-created":     "User created.",
	"user-deleted":     "User deleted, with its access keys.",
	"password-reset":   "Password reset: the account is unlocked and its sessions ended.",
}

// withFlash adds a confirmation (a code of flashes) to a path.
func withFlash(path, code string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "flash=" + url.QueryEscape(code)
}

// flash is the confirmation a redirect carried.
func flash(r *http.Request) string {
	return flashes[r.URL.Query().Get("flash")]
}
