package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/node"
)

// routes builds the console's router.
func (s *Server) routes() http.Handler {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.GET("/static/*file", func(w http.ResponseWriter, req *http.Request, p httprouter.Params) {
		s.serveAsset(w, req, strings.TrimPrefix(p.ByName("file"), "/"))
	})
	r.GET("/", s.home)
	r.GET("/login", s.loginPage(false))
	r.POST("/login", s.login(false))
	r.GET("/operator/login", s.loginPage(true))
	r.POST("/operator/login", s.login(true))
	r.POST("/logout", s.logout)

	// Tenant pages.
	t := func(h handle) httprouter.Handle { return s.authed(false, h) }
	r.GET("/buckets", t(s.buckets))
	r.POST("/buckets", t(s.createBucket))
	r.GET("/buckets/:bucket", t(s.bucket))
	r.POST("/buckets/:bucket/delete", t(s.deleteBucket))
	r.GET("/buckets/:bucket/settings", t(s.bucketSettings))
	r.POST("/buckets/:bucket/settings/:setting", t(s.changeSetting))
	r.GET("/buckets/:bucket/object", t(s.object))
	r.GET("/buckets/:bucket/download", t(s.download))
	r.POST("/buckets/:bucket/download", t(s.downloadSSEC))
	r.POST("/buckets/:bucket/delete-object", t(s.deleteObject))
	r.POST("/buckets/:bucket/upload", t(s.uploadForm))
	r.POST("/buckets/:bucket/multipart", t(s.startMultipart))
	r.PUT("/buckets/:bucket/multipart/:upload/parts/:part", t(s.uploadPart))
	r.POST("/buckets/:bucket/multipart/:upload/complete", t(s.completeMultipart))
	r.POST("/buckets/:bucket/multipart/:upload/abort", t(s.abortMultipart))
	r.GET("/keys", t(s.keysPage))
	r.POST("/keys", t(s.createKey))
	r.POST("/keys/:key/:action", t(s.keyAction))
	r.GET("/usage", t(s.usage))
	r.GET("/usage/invoice", t(s.invoice))
	r.GET("/account", t(s.account))
	r.POST("/account/password", t(s.changePassword))

	// Operator pages.
	o := func(h handle) httprouter.Handle { return s.authed(true, h) }
	r.GET("/operator", o(s.clusterPage))
	r.GET("/operator/live", o(s.livePage))
	r.GET("/operator/tenants", o(s.tenants))
	r.POST("/operator/tenants", o(s.createTenant))
	r.GET("/operator/tenants/:tenant", o(s.tenant))
	r.POST("/operator/tenants/:tenant/:action", o(s.tenantAction))
	r.GET("/operator/tenants/:tenant/invoice", o(s.operatorInvoice))
	r.GET("/operator/account", o(s.account))
	r.POST("/operator/account/password", o(s.changePassword))

	if s.cfg.Webhook != nil {
		r.Handler(http.MethodPost, "/billing/webhook", s.cfg.Webhook)
	}
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fail(w, req, nil, userError(http.StatusNotFound, "No such page."))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fail(w, req, nil, userError(http.StatusMethodNotAllowed, "Method not allowed."))
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		s.log.Error("console handler panicked", "path", req.URL.Path, "panic", v)
		s.fail(w, req, nil, errors.New("panic"))
	}
	return r
}

// home sends a signed-in visitor to their start page, others to sign in.
func (s *Server) home(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(s.eng.ReadScope(r.Context()), requestTimeout)
	defer cancel()
	sess, err := s.authenticate(ctx, w, r)
	switch {
	case err != nil:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case sess.operator():
		http.Redirect(w, r, "/operator", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/buckets", http.StatusSeeOther)
	}
}

type loginData struct {
	Operator     bool
	Tenant, User string
	Next         string
	LoginToken   string
}

func (s *Server) loginPage(operator bool) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		d := loginData{Operator: operator, Next: safeNext(r.URL.Query().Get("next"), operator), LoginToken: s.loginToken(w, r)}
		title := "Sign in"
		if operator {
			title = "Operator sign in"
		}
		if err := s.render(w, r, http.StatusOK, "login", &page{Title: title, Data: d}); err != nil {
			s.log.Error("login page", "err", err)
		}
	}
}

// safeNext keeps a post-login redirect on this console (a path of the
// right kind of account), never another site.
func safeNext(next string, operator bool) string {
	def := "/buckets"
	if operator {
		def = "/operator"
	}
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return def
	}
	if strings.HasPrefix(next, "/operator") != operator || strings.HasPrefix(next, "/login") || strings.HasPrefix(next, "/operator/login") {
		return def
	}
	return next
}

// loginFailed is the one message every refused sign-in gets: which of the
// reasons it was would tell a stranger which accounts exist.
const loginFailed = "Sign-in failed: wrong account or password, or the account is locked after too many attempts (ask your operator to reset it, or wait)."

func (s *Server) login(operator bool) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		r.Body = http.MaxBytesReader(w, r.Body, formLimit)
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, nil, userError(http.StatusBadRequest, "Malformed form."))
			return
		}
		d := loginData{Operator: operator, Tenant: strings.TrimSpace(r.PostForm.Get("tenant")), User: strings.TrimSpace(r.PostForm.Get("user")),
			Next: safeNext(r.PostForm.Get("next"), operator)}
		acct := node.Account{Name: d.User}
		if !operator {
			acct.Tenant = d.Tenant
		}
		ev := func(status int, code string) {
			s.audit(r, &session{acct: acct}, "ConsoleLogin", status, code, "", "")
		}
		title := "Sign in"
		if operator {
			title = "Operator sign in"
		}
		if !sameOrigin(r) || !s.checkLoginToken(r, r.PostForm.Get(csrfField)) {
			ev(http.StatusForbidden, "CSRF")
			d.LoginToken = s.loginToken(w, r)
			_ = s.render(w, r, http.StatusForbidden, "login", &page{Title: title, Data: d,
				Error: "This sign-in form has expired or did not come from this console. Please try again."})
			return
		}
		d.LoginToken = s.loginToken(w, r)
		if !s.throttle.allow(sourceAddr(r)) {
			ev(http.StatusTooManyRequests, "Throttled")
			w.Header().Set("Retry-After", "60")
			_ = s.render(w, r, http.StatusTooManyRequests, "login", &page{Title: title, Data: d,
				Error: "Too many sign-in attempts from your address. Wait a minute and try again."})
			return
		}
		password := r.PostForm.Get("password")
		if acct.Name == "" || len(acct.Name) > 255 || len(acct.Tenant) > 255 || len(password) > node.MaxPasswordLen || (!operator && acct.Tenant == "") {
			ev(http.StatusUnauthorized, "UnknownAccount")
			_ = s.render(w, r, http.StatusUnauthorized, "login", &page{Title: title, Data: d, Error: loginFailed})
			return
		}
		g, err := s.eng.Login(ctx, acct, password, s.cfg.Policy)
		if err != nil {
			var le *node.LoginError
			if !errors.As(err, &le) {
				s.fail(w, r, nil, err)
				return
			}
			ev(http.StatusUnauthorized, loginCode(le.Reason))
			s.log.Info("console sign-in refused", "tenant", acct.Tenant, "user", acct.Name, "reason", le.Reason,
				"remote", r.RemoteAddr, "took", time.Since(start).Round(time.Millisecond))
			_ = s.render(w, r, http.StatusUnauthorized, "login", &page{Title: title, Data: d, Error: loginFailed})
			return
		}
		if _, err := s.startSession(w, g, time.Now()); err != nil {
			s.fail(w, r, nil, err)
			return
		}
		s.clearCookie(w, loginCookie)
		ev(http.StatusOK, "")
		http.Redirect(w, r, d.Next, http.StatusSeeOther)
	}
}

// loginCode is the audit error code of a refusal reason.
func loginCode(reason string) string {
	switch reason {
	case "wrong password":
		return "WrongPassword"
	case "locked":
		return "AccountLocked"
	case "locked now":
		return "AccountLockedNow"
	case "tenant suspended":
		return "TenantSuspended"
	}
	return "UnknownAccount"
}

// logout revokes the session cluster-wide (until it would have ended) and
// clears the cookie. It needs the session's anti-forgery token, so another
// site cannot sign a user out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(s.eng.ReadScope(r.Context()), requestTimeout)
	defer cancel()
	sess, err := s.authenticate(ctx, w, r)
	if err != nil {
		s.clearCookie(w, sessionCookie)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if tok, err := csrfToken(r); err != nil || !sameOrigin(r) || !tokenEqual(tok, sess.csrf) {
		s.audit(r, sess, "ConsoleForgeryRefused", http.StatusForbidden, "CSRF", "", "")
		s.fail(w, r, sess, userError(http.StatusForbidden, "This form has expired or did not come from this console. Reload the page and try again."))
		return
	}
	if err := s.eng.RevokeSession(ctx, sess.sid, sess.end); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.clearCookie(w, sessionCookie)
	s.audit(r, sess, "ConsoleLogout", http.StatusOK, "", "", "")
	redirect(w, r, loginPath(sess.operator()))
}

func (s *Server) account(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	var st node.LoginState
	st, _ = s.eng.LoginStatus(r.Context(), sess.acct)
	return s.render(w, r, http.StatusOK, "account", &page{Title: "Account", Session: sess, Nav: "account", Flash: flash(r),
		Data: map[string]any{"Ends": sess.end, "Generation": st.SessionGen}})
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	cur, next, again := r.PostForm.Get("current"), r.PostForm.Get("new"), r.PostForm.Get("again")
	fail := func(msg string) error {
		return s.render(w, r, http.StatusBadRequest, "account", &page{Title: "Account", Session: sess, Nav: "account", Error: msg,
			Data: map[string]any{"Ends": sess.end}})
	}
	switch {
	case next != again:
		return fail("The new passwords differ.")
	case len(next) < 8 || len(next) > node.MaxPasswordLen:
		return fail("The new password must be 8 to 72 bytes.")
	}
	g, err := s.eng.ChangePassword(r.Context(), sess.acct, cur, next, s.cfg.Policy)
	if errors.Is(err, node.ErrLoginFailed) {
		s.audit(r, sess, "ConsoleChangePassword", http.StatusUnauthorized, "WrongPassword", "", "")
		return fail("The current password is wrong.")
	}
	if err != nil {
		return err
	}
	// Every session of the account ended (the generation rose): this one
	// goes on as a new session.
	if _, err := s.startSession(w, g, time.Now()); err != nil {
		return err
	}
	s.audit(r, sess, "ConsoleChangePassword", http.StatusOK, "", "", "")
	path := "/account"
	if sess.operator() {
		path = "/operator/account"
	}
	redirect(w, r, withFlash(path, "password-changed"))
	return nil
}
