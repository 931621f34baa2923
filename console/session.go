package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vaultaire/vaultaire/node"
)

// Sessions are JWTs (HS256) signed with a key derived from the cluster
// secret, so every node accepts them; they live in an HttpOnly,
// SameSite=Lax cookie (Secure under TLS). A token is short-lived (TTL) and
// refreshed on use once half of it has passed, never past the session's
// absolute end (MaxAge after sign-in). The cluster can end a session
// before its token expires: logout revokes its id, a password change or
// reset raises the account's session generation, and a suspended tenant or
// a deleted account fails the check every request makes
// (node.Engine.CheckSession).

const (
	sessionCookie = "vaultaire_session"
	// loginCookie carries the random value the sign-in form's anti-forgery
	// token is bound to (there is no session yet).
	loginCookie = "vaultaire_login"
	tokenIssuer = "vaultaire"
	tokenAud    = "vaultaire-console"
	csrfField   = "csrf"
	csrfHeader  = "X-CSRF-Token"
)

// claims are a session token's claims.
type claims struct {
	jwt.RegisteredClaims
	Tenant   string           `json:"ten,omitempty"`
	User     string           `json:"usr"`
	Operator bool             `json:"op,omitempty"`
	Gen      uint64           `json:"gen"`
	End      *jwt.NumericDate `json:"end"` // the session's absolute end
}

// session is an authenticated console session.
type session struct {
	acct node.Account
	sid  string
	gen  uint64
	iat  time.Time
	end  time.Time
	csrf string
}

func (s *session) operator() bool { return s.acct.IsOperator() }

// Account is the session's account (for templates).
func (s *session) Account() node.Account { return s.acct }

// keys sign and check tokens.
type keys struct {
	session []byte
	csrf    []byte
}

func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("console: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// issue returns a signed token for s valid until min(now+ttl, s.end).
func (k keys) issue(s *session, now time.Time, ttl time.Duration) (string, time.Time, error) {
	exp := now.Add(ttl)
	if exp.After(s.end) {
		exp = s.end
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: tokenIssuer, Audience: jwt.ClaimStrings{tokenAud}, ID: s.sid,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Tenant: s.acct.Tenant, User: s.acct.Name, Operator: s.acct.IsOperator(), Gen: s.gen,
		End: jwt.NewNumericDate(s.end),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.session)
	return tok, exp, err
}

// errBadToken: a session token that does not verify (forged, expired,
// malformed).
var errBadToken = errors.New("console: invalid session token")

// parse verifies a token's signature, algorithm, issuer, audience and
// expiry and returns its session (not yet checked against the cluster).
func (k keys) parse(tok string, now time.Time) (*session, error) {
	s, _, err := k.parseExp(tok, now)
	return s, err
}

// parseExp is parse, with the token's expiry.
func (k keys) parseExp(tok string, now time.Time) (*session, time.Time, error) {
	var c claims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return k.session, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer), jwt.WithAudience(tokenAud),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", errBadToken, err)
	}
	if c.ID == "" || c.User == "" || c.End == nil || c.IssuedAt == nil || c.Operator != (c.Tenant == "") {
		return nil, time.Time{}, fmt.Errorf("%w: incomplete claims", errBadToken)
	}
	if now.After(c.End.Time) {
		return nil, time.Time{}, fmt.Errorf("%w: session ended", errBadToken)
	}
	s := &session{acct: node.Account{Tenant: c.Tenant, Name: c.User}, sid: c.ID, gen: c.Gen, iat: c.IssuedAt.Time, end: c.End.Time}
	s.csrf = k.mac("session:" + s.sid)
	return s, c.ExpiresAt.Time, nil
}

// verifiedMax bounds the tokens a verifiedTokens keeps; past it the map
// starts over (a miss only costs one verification).
const verifiedMax = 4096

// verifiedTokens remembers the sessions of tokens whose signature and
// claims were verified: a token's bytes and the key never change, so a
// browser's next request with the same cookie skips the HMAC and the
// decoding of the claims (half of a session check's CPU in
// BenchmarkRefresh). Only verified tokens enter, so forged ones cannot
// fill it; expiry and the session's end are checked on every use, and the
// cluster check (CheckSession) still runs on every request.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	sess session
	exp  time.Time
}

// parse is k.parse, answered from the verified tokens when tok is one.
func (v *verifiedTokens) parse(k keys, tok string, now time.Time) (*session, error) {
	v.mu.Lock()
	e, ok := v.m[tok]
	v.mu.Unlock()
	if ok {
		if !now.Before(e.exp) || now.After(e.sess.end) {
			return nil, fmt.Errorf("%w: expired", errBadToken)
		}
		s := e.sess
		return &s, nil
	}
	s, exp, err := k.parseExp(tok, now)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if v.m == nil || len(v.m) >= verifiedMax {
		v.m = make(map[string]verifiedToken)
	}
	v.m[tok] = verifiedToken{sess: *s, exp: exp}
	v.mu.Unlock()
	return s, nil
}

// mac is the base64url HMAC-SHA256 of msg under the CSRF key.
func (k keys) mac(msg string) string {
	h := hmac.New(sha256.New, k.csrf)
	h.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// tokenEqual compares two anti-forgery tokens in constant time.
func tokenEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// setSessionCookie writes the session cookie, expiring with the token.
func (s *Server) setSessionCookie(w http.ResponseWriter, tok string, exp time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: tok, Path: "/", Expires: exp, MaxAge: max(int(time.Until(exp).Seconds()), 1),
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
}

// startSession issues the first token of a new session for g.
func (s *Server) startSession(w http.ResponseWriter, g node.Grant, now time.Time) (*session, error) {
	sess := &session{acct: g.Account, sid: newSessionID(), gen: g.Gen, iat: now, end: now.Add(s.cfg.SessionMaxAge)}
	tok, exp, err := s.keys.issue(sess, now, s.cfg.SessionTTL)
	if err != nil {
		return nil, err
	}
	sess.csrf = s.keys.mac("session:" + sess.sid)
	s.setSessionCookie(w, tok, exp)
	return sess, nil
}

// authenticate returns the request's session, checked against the cluster
// (not revoked, same generation, account and tenant in good standing), and
// refreshes its token once half of its life has passed.
func (s *Server) authenticate(ctx context.Context, w http.ResponseWriter, r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errBadToken
	}
	now := time.Now()
	sess, err := s.verified.parse(s.keys, c.Value, now)
	if err != nil {
		return nil, err
	}
	if err := s.eng.CheckSession(ctx, sess.acct, sess.gen, sess.sid, sess.end); err != nil {
		return nil, err
	}
	if now.Sub(sess.iat) > s.cfg.SessionTTL/2 && now.Before(sess.end) {
		if tok, exp, err := s.keys.issue(sess, now, s.cfg.SessionTTL); err == nil {
			s.setSessionCookie(w, tok, exp)
		}
	}
	return sess, nil
}

// loginToken returns the anti-forgery token of the sign-in form, setting
// the cookie it is bound to when the browser has none yet.
func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 32 {
		v = c.Value
	} else {
		v = newSessionID()
		http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v, Path: "/", HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode})
	}
	return s.keys.mac("login:" + v)
}

// checkLoginToken verifies the sign-in form's anti-forgery token.
func (s *Server) checkLoginToken(r *http.Request, token string) bool {
	c, err := r.Cookie(loginCookie)
	return err == nil && len(c.Value) == 32 && tokenEqual(token, s.keys.mac("login:"+c.Value))
}

// sameOrigin refuses a request that says it comes from another site (the
// browser's Sec-Fetch-Site, or an Origin that is not this host): a
// state-changing request from another site is never ours. Requests that
// say nothing (older browsers, scripts) still need the anti-forgery token.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	i := strings.Index(o, "://")
	return i >= 0 && o[i+3:] == r.Host
}
