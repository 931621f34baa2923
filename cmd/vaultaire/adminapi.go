package main

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
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/node"
)

// The admin API manages tenants, users and access keys over JSON on the
// admin listener. Every route needs "Authorization: Bearer <admin token>"
// (--admin-token, else generated once into --data/admin.token); the token
// is not an S3 key and S3 keys do not open it.
//
//	POST   /admin/v1/tenants                       {id, name, plan}
//	GET    /admin/v1/tenants
//	GET    /admin/v1/tenants/:tenant
//	POST   /admin/v1/tenants/:tenant/suspend
//	POST   /admin/v1/tenants/:tenant/resume
//	POST   /admin/v1/tenants/:tenant/users         {name, password?}
//	GET    /admin/v1/tenants/:tenant/users
//	POST   /admin/v1/tenants/:tenant/users/:user/keys  -> {access_key_id, secret_key, ...}
//	GET    /admin/v1/tenants/:tenant/keys
//	POST   /admin/v1/keys/:key/disable
//	POST   /admin/v1/keys/:key/enable
//	DELETE /admin/v1/keys/:key
//
// Errors are {"error": message, "code": code} with 400 (bad request),
// 401 (no or wrong token), 404 (no such tenant, user or key), 409 (exists),
// 503 (no metadata leader) or 500. Every request, refused ones included,
// becomes an audit event with admin=true. Secrets appear only in the body
// of the key-creation answer, never in logs or audit events.

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

// adminAPI serves /admin/v1.
type adminAPI struct {
	eng    *node.Engine
	token  string
	audit  *audit.Logger
	nodeID string
	log    *slog.Logger
}

// apiError is an error the API answers with as it is.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *apiError) Error() string { return e.Message }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// adminCall is the context of one admin request: its audit event is filled
// in by the handler (tenant, user, key) and emitted by serve.
type adminCall struct {
	req *http.Request
	p   httprouter.Params
	ev  *audit.Event
}

type adminHandler func(ctx context.Context, c *adminCall) (status int, body any, err error)

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
			err = &apiError{Status: http.StatusUnauthorized, Code: "Unauthorized", Message: "missing or wrong admin token"}
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
		writeJSON(w, status, body)
	}
}

// translate maps an error to its API answer; unknown errors become
// InternalError and are logged, never shown.
func (a *adminAPI) translate(err error, ev *audit.Event) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	table := []struct {
		err    error
		status int
		code   string
	}{
		{node.ErrTenantNotFound, http.StatusNotFound, "TenantNotFound"},
		{node.ErrUserNotFound, http.StatusNotFound, "UserNotFound"},
		{node.ErrAccessKeyNotFound, http.StatusNotFound, "AccessKeyNotFound"},
		{node.ErrTenantExists, http.StatusConflict, "TenantExists"},
		{node.ErrUserExists, http.StatusConflict, "UserExists"},
		{node.ErrInvalidArgument, http.StatusBadRequest, "InvalidArgument"},
		{node.ErrUnavailable, http.StatusServiceUnavailable, "ServiceUnavailable"},
	}
	for _, t := range table {
		if errors.Is(err, t.err) {
			msg := err.Error()
			if t.status == http.StatusNotFound || strings.Contains(msg, "metastore:") {
				msg = t.err.Error() // no internals in answers
			}
			return &apiError{Status: t.status, Code: t.code, Message: strings.TrimPrefix(msg, "node: ")}
		}
	}
	a.log.Error("admin request failed", "request_id", ev.RequestID, "op", ev.Operation, "err", err)
	return &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: "internal error (request " + ev.RequestID + ")"}
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

// JSON forms of the answers.
type (
	tenantJSON struct {
		ID      string    `json:"id"`
		Name    string    `json:"name"`
		Plan    string    `json:"plan"`
		State   string    `json:"state"`
		Created time.Time `json:"created"`
	}
	userJSON struct {
		Tenant      string    `json:"tenant"`
		Name        string    `json:"name"`
		HasPassword bool      `json:"has_password"`
		Created     time.Time `json:"created"`
	}
	keyJSON struct {
		AccessKeyID string    `json:"access_key_id"`
		Tenant      string    `json:"tenant"`
		User        string    `json:"user"`
		Enabled     bool      `json:"enabled"`
		Created     time.Time `json:"created,omitzero"`
	}
	newKeyJSON struct {
		AccessKeyID string `json:"access_key_id"`
		SecretKey   string `json:"secret_key"`
		Tenant      string `json:"tenant"`
		User        string `json:"user"`
	}
)

func toTenantJSON(t node.TenantInfo) tenantJSON {
	return tenantJSON{ID: t.ID, Name: t.Name, Plan: t.Plan, State: t.State, Created: t.Created.UTC()}
}

func toKeyJSON(k node.AccessKeyInfo) keyJSON {
	return keyJSON{AccessKeyID: k.ID, Tenant: k.Tenant, User: k.User, Enabled: k.Enabled, Created: k.Created.UTC()}
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
		in.Plan = "standard"
	}
	t, err := a.eng.CreateTenant(ctx, in.ID, in.Name, in.Plan)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toTenantJSON(t), nil
}

func (a *adminAPI) listTenants(ctx context.Context, _ *adminCall) (int, any, error) {
	ts, err := a.eng.ListTenants(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := make([]tenantJSON, len(ts))
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
	return http.StatusCreated, userJSON{Tenant: u.Tenant, Name: u.Name, HasPassword: u.HasPassword, Created: u.Created.UTC()}, nil
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
	out := make([]userJSON, len(us))
	for i, u := range us {
		out[i] = userJSON{Tenant: u.Tenant, Name: u.Name, HasPassword: u.HasPassword, Created: u.Created.UTC()}
	}
	return http.StatusOK, map[string]any{"users": out}, nil
}

func (a *adminAPI) createKey(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	user := c.p.ByName("user")
	if err := checkUserName(user); err != nil {
		return 0, nil, err
	}
	c.ev.User = user
	cred, err := a.eng.CreateAccessKey(ctx, tenant, user)
	if err != nil {
		return 0, nil, err
	}
	c.ev.AccessKeyID = cred.AccessKeyID
	return http.StatusCreated, newKeyJSON{AccessKeyID: cred.AccessKeyID, SecretKey: cred.Secret, Tenant: cred.Tenant, User: cred.User}, nil
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
	out := make([]keyJSON, len(ks))
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
		writeJSON(w, http.StatusUnauthorized, &apiError{Code: "Unauthorized", Message: "missing or wrong admin token"})
		return
	}
	if w.Header().Get("Allow") != "" {
		writeJSON(w, http.StatusMethodNotAllowed, &apiError{Code: "MethodNotAllowed", Message: r.Method + " not allowed on " + r.URL.Path})
		return
	}
	writeJSON(w, http.StatusNotFound, &apiError{Code: "NoSuchRoute", Message: "no such route"})
}
