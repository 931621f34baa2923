package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/tenancy"
)

// adminBodyLimit caps admin request bodies: they are a few short strings.
const adminBodyLimit = 64 << 10

// adminTimeout bounds one admin request's metadata work.
const adminTimeout = 30 * time.Second

// maxPasswordLen is bcrypt's input limit; longer passwords are refused
// rather than silently truncated.
const maxPasswordLen = 72

var (
	tenantIDRe  = regexp.MustCompile(`^[a-z0-9-]{3,63}$`)
	userNameRe  = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)
	accessKeyRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// Tenancy is this node's runtime of tenant limits and usage metering
// (cmd/vaultaire wires it): the admin API applies limit changes to it at
// once and flushes its meter before a usage read.
type Tenancy interface {
	// DefaultLimit is the server's default rate (--rate-limit, --rate-burst).
	DefaultLimit() tenancy.Limit
	// DefaultFor is the limit a tenant without a rate override gets.
	DefaultFor(tenant string) tenancy.Limit
	// Refresh applies the replicated limits to this node's limiter now.
	Refresh(ctx context.Context) error
	// Flush reports this node's metered usage now.
	Flush(ctx context.Context) error
}

// adminAPI serves /admin/v1.
type adminAPI struct {
	eng    *node.Engine
	token  string
	audit  *audit.Logger
	nodeID string
	log    *slog.Logger
	// plans is the catalog tenants' plans come from.
	plans billing.Catalog
	// tenancy applies limit changes to this node's limiter at once and
	// flushes its usage meter before a usage read (nil until started).
	tenancy atomic.Pointer[Tenancy]
}

// Error is an error the API answers with as it is, and the body of every
// refusal: {"error": message, "code": code}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *Error) Error() string { return e.Message }

func badRequest(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// adminCall is the context of one admin request: its audit event is filled
// in by the handler (tenant, user, key) and emitted by serve.
type adminCall struct {
	req *http.Request
	p   httprouter.Params
	ev  *audit.Event
}

type adminHandler func(ctx context.Context, c *adminCall) (status int, body any, err error)

// rawBody is an answer that is not JSON (an invoice as CSV).
type rawBody struct {
	contentType string
	data        []byte
}

func (a *adminAPI) register(r *httprouter.Router) {
	const v1 = "/admin/v1"
	r.POST(v1+"/tenants", a.serve("CreateTenant", a.createTenant))
	r.GET(v1+"/tenants", a.serve("ListTenants", a.listTenants))
	r.GET(v1+"/tenants/:tenant", a.serve("GetTenant", a.getTenant))
	r.POST(v1+"/tenants/:tenant/suspend", a.serve("SuspendTenant", a.setTenantState(node.TenantSuspended)))
	r.POST(v1+"/tenants/:tenant/resume", a.serve("ResumeTenant", a.setTenantState(node.TenantActive)))
	r.POST(v1+"/tenants/:tenant/users", a.serve("CreateUser", a.createUser))
	r.GET(v1+"/tenants/:tenant/users", a.serve("ListUsers", a.listUsers))
	r.POST(v1+"/tenants/:tenant/users/:user/keys", a.serve("CreateAccessKey", a.createKey))
	r.GET(v1+"/tenants/:tenant/keys", a.serve("ListAccessKeys", a.listKeys))
	r.POST(v1+"/keys/:key/disable", a.serve("DisableAccessKey", a.setKeyEnabled(false)))
	r.POST(v1+"/keys/:key/enable", a.serve("EnableAccessKey", a.setKeyEnabled(true)))
	r.DELETE(v1+"/keys/:key", a.serve("DeleteAccessKey", a.deleteKey))
	r.GET(v1+"/tenants/:tenant/limits", a.serve("GetTenantLimits", a.getLimits))
	r.PUT(v1+"/tenants/:tenant/limits", a.serve("SetTenantLimits", a.setLimits))
	r.PUT(v1+"/tenants/:tenant/quota", a.serve("SetTenantQuota", a.setQuota))
	r.GET(v1+"/tenants/:tenant/containers/:container/quota", a.serve("GetContainerQuota", a.getContainerQuota))
	r.PUT(v1+"/tenants/:tenant/containers/:container/quota", a.serve("SetContainerQuota", a.setContainerQuota))
	r.GET(v1+"/tenants/:tenant/usage", a.serve("GetUsage", a.getUsage))
	a.registerAccounts(r)
	a.registerTiers(r)
	a.registerAccess(r)
	a.registerProfiling(r)
}

// serve wraps h with authentication, error translation and auditing.
func (a *adminAPI) serve(op string, h adminHandler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		start := time.Now()
		ev := &audit.Event{
			Time: start, RequestID: newAdminRequestID(), Node: a.nodeID, Operation: op,
			RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent(), Admin: true,
		}
		w.Header().Set("X-Request-Id", ev.RequestID)
		status, body, err := http.StatusUnauthorized, any(nil), error(nil)
		if a.token == "" || !bearerOK(r, a.token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vaultaire-admin"`)
			err = &Error{Status: http.StatusUnauthorized, Code: "Unauthorized", Message: "missing or wrong admin token"}
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, adminBodyLimit)
			ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
			status, body, err = h(ctx, &adminCall{req: r, p: p, ev: ev})
			cancel()
		}
		if err != nil {
			ae := a.translate(err, ev)
			status, body = ae.Status, ae
			ev.ErrorCode = ae.Code
		}
		ev.Status, ev.Duration = status, time.Since(start)
		if a.audit != nil {
			a.audit.Emit(*ev)
		}
		if rb, ok := body.(rawBody); ok {
			w.Header().Set("Content-Type", rb.contentType)
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			_, _ = w.Write(rb.data)
			return
		}
		writeJSON(w, status, body)
	}
}

// translate maps an error to its API answer; unknown errors become
// InternalError and are logged, never shown.
func (a *adminAPI) translate(err error, ev *audit.Event) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	table := []struct {
		err    error
		status int
		code   string
	}{
		{node.ErrTenantNotFound, http.StatusNotFound, "TenantNotFound"},
		{node.ErrContainerNotFound, http.StatusNotFound, "ContainerNotFound"},
		{node.ErrUserNotFound, http.StatusNotFound, "UserNotFound"},
		{node.ErrAccessKeyNotFound, http.StatusNotFound, "AccessKeyNotFound"},
		{node.ErrTenantExists, http.StatusConflict, "TenantExists"},
		{node.ErrUserExists, http.StatusConflict, "UserExists"},
		{node.ErrInvalidArgument, http.StatusBadRequest, "InvalidArgument"},
		{node.ErrUnavailable, http.StatusServiceUnavailable, "ServiceUnavailable"},
		{node.ErrOperatorNotFound, http.StatusNotFound, "OperatorNotFound"},
		{node.ErrOperatorExists, http.StatusConflict, "OperatorExists"},
		{node.ErrTenantNotEmpty, http.StatusConflict, "TenantNotEmpty"},
		{node.ErrUpgradeRequired, http.StatusConflict, "UpgradeRequired"},
		{node.ErrTierNotFound, http.StatusNotFound, "TierNotFound"},
		{node.ErrTierExists, http.StatusConflict, "TierExists"},
		{node.ErrTierInUse, http.StatusConflict, "TierInUse"},
		{node.ErrTierCheck, http.StatusBadRequest, "TierCheckFailed"},
		{node.ErrTierUnavailable, http.StatusServiceUnavailable, "TierUnavailable"},
		{node.ErrArtifactNotFound, http.StatusNotFound, "ArtifactNotFound"},
		{node.ErrNoSuchVersion, http.StatusNotFound, "NoSuchVersion"},
		{node.ErrSSEUnavailable, http.StatusConflict, "SSEUnavailable"},
	}
	for _, t := range table {
		if errors.Is(err, t.err) {
			msg := err.Error()
			if t.status == http.StatusNotFound || strings.Contains(msg, "metastore:") {
				msg = t.err.Error() // no internals in answers
			}
			return &Error{Status: t.status, Code: t.code, Message: strings.TrimPrefix(msg, "node: ")}
		}
	}
	a.log.Error("admin request failed", "request_id", ev.RequestID, "op", ev.Operation, "err", err)
	return &Error{Status: http.StatusInternalServerError, Code: "InternalError", Message: "internal error (request " + ev.RequestID + ")"}
}

// decode reads exactly one JSON object into v, refusing unknown fields and
// bodies over adminBodyLimit.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			return badRequest("MalformedJSON", "request body must be a single JSON object")
		}
		return nil
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return badRequest("BodyTooLarge", "request body over %d bytes", adminBodyLimit)
	case errors.Is(err, io.EOF):
		return badRequest("MalformedJSON", "empty request body")
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return badRequest("UnknownField", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return badRequest("MalformedJSON", "malformed JSON body")
}

func tenantParam(c *adminCall) (string, error) {
	id := c.p.ByName("tenant")
	c.ev.Tenant = id
	if !tenantIDRe.MatchString(id) {
		c.ev.Tenant = ""
		return "", badRequest("InvalidTenantID", "tenant id must be 3-63 characters of a-z, 0-9 and -")
	}
	return id, nil
}

// userParams reads and checks the tenant and user of a user's route, and
// names them in the audit event.
func userParams(c *adminCall) (tenant, user string, err error) {
	if tenant, err = tenantParam(c); err != nil {
		return "", "", err
	}
	user = c.p.ByName("user")
	if err := checkUserName(user); err != nil {
		return "", "", err
	}
	c.ev.User = user
	return tenant, user, nil
}

func checkUserName(name string) error {
	if !userNameRe.MatchString(name) {
		return badRequest("InvalidUserName", "user name must be 1-64 characters of A-Z, a-z, 0-9 and ._@+-")
	}
	return nil
}

func keyParam(c *adminCall) (string, error) {
	id := c.p.ByName("key")
	if !accessKeyRe.MatchString(id) {
		return "", badRequest("InvalidAccessKeyID", "malformed access key id")
	}
	c.ev.AccessKeyID = id
	return id, nil
}

// checkLabel validates a free-text field (tenant name, plan).
func checkLabel(what, s string) error {
	if len(s) > 256 || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return badRequest("InvalidArgument", "%s must be at most 256 bytes of printable UTF-8", what)
	}
	return nil
}

// JSON forms of the answers (the admin CLI decodes them too).
type (
	Tenant struct {
		ID      string    `json:"id"`
		Name    string    `json:"name"`
		Plan    string    `json:"plan"`
		State   string    `json:"state"`
		Created time.Time `json:"created"`
	}
	User struct {
		Tenant      string    `json:"tenant"`
		Name        string    `json:"name"`
		HasPassword bool      `json:"has_password"`
		Created     time.Time `json:"created"`
	}
	Key struct {
		AccessKeyID string    `json:"access_key_id"`
		Tenant      string    `json:"tenant"`
		User        string    `json:"user"`
		Enabled     bool      `json:"enabled"`
		Created     time.Time `json:"created,omitzero"`
	}
	NewKey struct {
		AccessKeyID string `json:"access_key_id"`
		SecretKey   string `json:"secret_key"`
		Tenant      string `json:"tenant"`
		User        string `json:"user"`
	}
)

func toTenantJSON(t node.TenantInfo) Tenant {
	return Tenant{ID: t.ID, Name: t.Name, Plan: t.Plan, State: t.State, Created: t.Created.UTC()}
}

func toKeyJSON(k node.AccessKeyInfo) Key {
	return Key{AccessKeyID: k.ID, Tenant: k.Tenant, User: k.User, Enabled: k.Enabled, Created: k.Created.UTC()}
}

func (a *adminAPI) createTenant(ctx context.Context, c *adminCall) (int, any, error) {
	var in struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Plan string `json:"plan"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if !tenantIDRe.MatchString(in.ID) {
		return 0, nil, badRequest("InvalidTenantID", "tenant id must be 3-63 characters of a-z, 0-9 and -")
	}
	c.ev.Tenant = in.ID
	if err := checkLabel("name", in.Name); err != nil {
		return 0, nil, err
	}
	if err := checkLabel("plan", in.Plan); err != nil {
		return 0, nil, err
	}
	if in.Name == "" {
		in.Name = in.ID
	}
	if in.Plan == "" {
		in.Plan = a.plans.Default
	}
	t, err := a.eng.CreateTenant(ctx, in.ID, in.Name, in.Plan)
	if err != nil {
		return 0, nil, err
	}
	// A plan of the catalog brings its limits at once; another label
	// (from before plans existed) is kept as it is.
	if p, perr := a.plans.Plan(in.Plan); perr == nil {
		if t, err = AssignPlan(ctx, a.eng, in.ID, p); err != nil {
			return 0, nil, err
		}
		a.applyNow(ctx)
	}
	return http.StatusCreated, toTenantJSON(t), nil
}

func (a *adminAPI) listTenants(ctx context.Context, _ *adminCall) (int, any, error) {
	ts, err := a.eng.ListTenants(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := make([]Tenant, len(ts))
	for i, t := range ts {
		out[i] = toTenantJSON(t)
	}
	return http.StatusOK, map[string]any{"tenants": out}, nil
}

func (a *adminAPI) getTenant(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	t, err := a.eng.GetTenant(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toTenantJSON(t), nil
}

func (a *adminAPI) setTenantState(state string) adminHandler {
	return func(ctx context.Context, c *adminCall) (int, any, error) {
		id, err := tenantParam(c)
		if err != nil {
			return 0, nil, err
		}
		t, err := a.eng.SetTenantState(ctx, id, state)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, toTenantJSON(t), nil
	}
}

func (a *adminAPI) createUser(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if err := checkUserName(in.Name); err != nil {
		return 0, nil, err
	}
	c.ev.User = in.Name
	if len(in.Password) > maxPasswordLen {
		return 0, nil, badRequest("InvalidPassword", "password longer than %d bytes", maxPasswordLen)
	}
	u, err := a.eng.CreateUser(ctx, tenant, in.Name, in.Password)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, User{Tenant: u.Tenant, Name: u.Name, HasPassword: u.HasPassword, Created: u.Created.UTC()}, nil
}

func (a *adminAPI) listUsers(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	us, err := a.eng.ListUsers(ctx, tenant)
	if err != nil {
		return 0, nil, err
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = User{Tenant: u.Tenant, Name: u.Name, HasPassword: u.HasPassword, Created: u.Created.UTC()}
	}
	return http.StatusOK, map[string]any{"users": out}, nil
}

func (a *adminAPI) createKey(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, user, err := userParams(c)
	if err != nil {
		return 0, nil, err
	}
	cred, err := a.eng.CreateAccessKey(ctx, tenant, user)
	if err != nil {
		return 0, nil, err
	}
	c.ev.AccessKeyID = cred.AccessKeyID
	return http.StatusCreated, NewKey{AccessKeyID: cred.AccessKeyID, SecretKey: cred.Secret, Tenant: cred.Tenant, User: cred.User}, nil
}

func (a *adminAPI) listKeys(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	ks, err := a.eng.ListAccessKeys(ctx, tenant)
	if err != nil {
		return 0, nil, err
	}
	out := make([]Key, len(ks))
	for i, k := range ks {
		out[i] = toKeyJSON(k)
	}
	return http.StatusOK, map[string]any{"keys": out}, nil
}

func (a *adminAPI) setKeyEnabled(enabled bool) adminHandler {
	return func(ctx context.Context, c *adminCall) (int, any, error) {
		id, err := keyParam(c)
		if err != nil {
			return 0, nil, err
		}
		k, err := a.eng.SetAccessKeyEnabled(ctx, id, enabled)
		if err != nil {
			return 0, nil, err
		}
		c.ev.Tenant, c.ev.User = k.Tenant, k.User
		return http.StatusOK, toKeyJSON(k), nil
	}
}

func (a *adminAPI) deleteKey(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := keyParam(c)
	if err != nil {
		return 0, nil, err
	}
	k, err := a.eng.DeleteAccessKey(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	c.ev.Tenant, c.ev.User = k.Tenant, k.User
	return http.StatusOK, map[string]any{"deleted": k.ID}, nil
}

func newAdminRequestID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "admin"
	}
	return "adm-" + hex.EncodeToString(b)
}

// notFound answers paths and methods the router does not know: 401 under
// /admin/ without the token, else a JSON 404 or 405.
func (a *adminAPI) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/admin/") && (a.token == "" || !bearerOK(r, a.token)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vaultaire-admin"`)
		writeJSON(w, http.StatusUnauthorized, &Error{Code: "Unauthorized", Message: "missing or wrong admin token"})
		return
	}
	if w.Header().Get("Allow") != "" {
		writeJSON(w, http.StatusMethodNotAllowed, &Error{Code: "MethodNotAllowed", Message: r.Method + " not allowed on " + r.URL.Path})
		return
	}
	writeJSON(w, http.StatusNotFound, &Error{Code: "NoSuchRoute", Message: "no such route"})
}

// --- limits and quotas ---

type (
	Quota struct {
		MaxBytes               int64 `json:"max_bytes"`
		MaxArtifacts           int64 `json:"max_artifacts"`
		MaxEgressBytesPerMonth int64 `json:"max_egress_bytes_per_month,omitempty"`
	}
	UsageNow struct {
		Bytes            int64 `json:"bytes"`
		Artifacts        int64 `json:"artifacts"`
		UploadBytes      int64 `json:"upload_bytes"`
		MonthEgressBytes int64 `json:"month_egress_bytes,omitempty"`
	}
	Limits struct {
		Tenant string `json:"tenant"`
		// RateOverride false: RequestsPerSec and Burst are this node's
		// default (--rate-limit, --rate-burst).
		RateOverride   bool     `json:"rate_override"`
		RequestsPerSec float64  `json:"requests_per_sec"`
		Burst          int      `json:"burst"`
		BytesInPerSec  int64    `json:"bytes_in_per_sec"`
		BytesOutPerSec int64    `json:"bytes_out_per_sec"`
		Quota          Quota    `json:"quota"`
		Usage          UsageNow `json:"usage"`
	}
	ContainerQuota struct {
		Tenant    string   `json:"tenant"`
		Container string   `json:"container"`
		Quota     Quota    `json:"quota"`
		Usage     UsageNow `json:"usage"`
	}
)

func (a *adminAPI) limitsAnswer(ctx context.Context, tl node.TenantLimits) (Limits, error) {
	u, err := a.eng.TenantUsage(ctx, tl.Tenant)
	if err != nil {
		return Limits{}, err
	}
	out := Limits{
		Tenant: tl.Tenant, RateOverride: tl.Override,
		RequestsPerSec: tl.Limit.RequestsPerSec, Burst: tl.Limit.Burst,
		BytesInPerSec: tl.Limit.BytesInPerSec, BytesOutPerSec: tl.Limit.BytesOutPerSec,
		Quota: Quota{MaxBytes: tl.Quota.MaxBytes, MaxArtifacts: tl.Quota.MaxArtifacts, MaxEgressBytesPerMonth: tl.Quota.MaxEgressBytesPerMonth},
		Usage: UsageNow{Bytes: u.Bytes, Artifacts: u.Artifacts, UploadBytes: u.UploadBytes, MonthEgressBytes: u.MonthEgressBytes},
	}
	if !tl.Override {
		if tn := a.tenancy.Load(); tn != nil {
			def := (*tn).DefaultFor(tl.Tenant)
			out.RequestsPerSec, out.Burst = def.RequestsPerSec, def.Burst
		}
	}
	return out, nil
}

func (a *adminAPI) getLimits(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	tl, err := a.eng.TenantLimits(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	out, err := a.limitsAnswer(ctx, tl)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// nonNegative refuses negative numbers in a limits or quota body.
func nonNegative(fields map[string]*int64) error {
	for name, v := range fields {
		if v != nil && *v < 0 {
			return badRequest("InvalidArgument", "%s must be >= 0 (0: unlimited)", name)
		}
	}
	return nil
}

func (a *adminAPI) setLimits(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		RequestsPerSec *float64 `json:"requests_per_sec"`
		Burst          *int64   `json:"burst"`
		BytesInPerSec  *int64   `json:"bytes_in_per_sec"`
		BytesOutPerSec *int64   `json:"bytes_out_per_sec"`
		Default        bool     `json:"default"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if err := nonNegative(map[string]*int64{"burst": in.Burst, "bytes_in_per_sec": in.BytesInPerSec, "bytes_out_per_sec": in.BytesOutPerSec}); err != nil {
		return 0, nil, err
	}
	if r := in.RequestsPerSec; r != nil && !(*r >= 0 && *r <= 1e9) {
		return 0, nil, badRequest("InvalidArgument", "requests_per_sec must be between 0 (unlimited) and 1e9")
	}
	if in.Burst != nil && *in.Burst > 1<<30 {
		return 0, nil, badRequest("InvalidArgument", "burst must be at most %d", 1<<30)
	}
	if in.Default && (in.RequestsPerSec != nil || in.Burst != nil) {
		return 0, nil, badRequest("InvalidArgument", "default drops the rate override: it goes without requests_per_sec and burst")
	}
	cur, err := a.eng.TenantLimits(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	override, lim := cur.Override, cur.Limit
	if in.RequestsPerSec != nil || in.Burst != nil {
		if !override { // a new override starts from the default
			if tn := a.tenancy.Load(); tn != nil {
				def := (*tn).DefaultLimit()
				lim.RequestsPerSec, lim.Burst = def.RequestsPerSec, def.Burst
			}
		}
		override = true
	}
	if in.RequestsPerSec != nil {
		lim.RequestsPerSec = *in.RequestsPerSec
	}
	if in.Burst != nil {
		lim.Burst = int(*in.Burst)
	}
	if in.BytesInPerSec != nil {
		lim.BytesInPerSec = *in.BytesInPerSec
	}
	if in.BytesOutPerSec != nil {
		lim.BytesOutPerSec = *in.BytesOutPerSec
	}
	if in.Default {
		override = false
	}
	tl, err := a.eng.SetTenantLimits(ctx, id, override, lim)
	if err != nil {
		return 0, nil, err
	}
	a.applyNow(ctx)
	out, err := a.limitsAnswer(ctx, tl)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// applyNow makes this node's limiter take a change at once; other nodes
// take it at their next refresh (limitsRefreshInterval).
func (a *adminAPI) applyNow(ctx context.Context) {
	if tn := a.tenancy.Load(); tn != nil {
		if err := (*tn).Refresh(ctx); err != nil {
			a.log.Warn("limits not applied at once; the next refresh will", "err", err)
		}
	}
}

type quotaIn struct {
	MaxBytes               *int64 `json:"max_bytes"`
	MaxArtifacts           *int64 `json:"max_artifacts"`
	MaxEgressBytesPerMonth *int64 `json:"max_egress_bytes_per_month"`
}

func (q quotaIn) merge(cur tenancy.Quota) (tenancy.Quota, error) {
	if err := nonNegative(map[string]*int64{"max_bytes": q.MaxBytes, "max_artifacts": q.MaxArtifacts, "max_egress_bytes_per_month": q.MaxEgressBytesPerMonth}); err != nil {
		return cur, err
	}
	if q.MaxBytes != nil {
		cur.MaxBytes = *q.MaxBytes
	}
	if q.MaxArtifacts != nil {
		cur.MaxArtifacts = *q.MaxArtifacts
	}
	if q.MaxEgressBytesPerMonth != nil {
		cur.MaxEgressBytesPerMonth = *q.MaxEgressBytesPerMonth
	}
	return cur, nil
}

func (a *adminAPI) setQuota(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	var in quotaIn
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	cur, err := a.eng.TenantLimits(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	q, err := in.merge(cur.Quota)
	if err != nil {
		return 0, nil, err
	}
	tl, err := a.eng.SetTenantQuota(ctx, id, q)
	if err != nil {
		return 0, nil, err
	}
	out, err := a.limitsAnswer(ctx, tl)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

func containerParam(c *adminCall) (string, error) {
	name := c.p.ByName("container")
	if name == "" || len(name) > 255 || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", badRequest("InvalidContainerName", "malformed container name")
	}
	c.ev.Container = name
	return name, nil
}

func toContainerQuotaJSON(cq node.ContainerQuota) ContainerQuota {
	return ContainerQuota{
		Tenant: cq.Tenant, Container: cq.Container,
		Quota: Quota{MaxBytes: cq.Quota.MaxBytes, MaxArtifacts: cq.Quota.MaxArtifacts},
		Usage: UsageNow{Bytes: cq.Usage.Bytes, Artifacts: cq.Usage.Artifacts, UploadBytes: cq.Usage.UploadBytes},
	}
}

func (a *adminAPI) getContainerQuota(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	name, err := containerParam(c)
	if err != nil {
		return 0, nil, err
	}
	cq, err := a.eng.ContainerQuota(ctx, id, name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toContainerQuotaJSON(cq), nil
}

func (a *adminAPI) setContainerQuota(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	name, err := containerParam(c)
	if err != nil {
		return 0, nil, err
	}
	var in quotaIn
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if in.MaxEgressBytesPerMonth != nil {
		return 0, nil, badRequest("InvalidArgument", "egress quotas are per tenant, not per container")
	}
	cur, err := a.eng.ContainerQuota(ctx, id, name)
	if err != nil {
		return 0, nil, err
	}
	q, err := in.merge(cur.Quota)
	if err != nil {
		return 0, nil, err
	}
	cq, err := a.eng.SetContainerQuota(ctx, id, name, q)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toContainerQuotaJSON(cq), nil
}
