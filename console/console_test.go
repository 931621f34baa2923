package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/metrics"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/tenancy"
)

// recSink keeps audit events.
type recSink struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (r *recSink) Write(ev audit.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}
func (r *recSink) Close(context.Context) error { return nil }

type env struct {
	t     *testing.T
	srv   *httptest.Server
	con   *Server
	eng   *node.Engine
	audit *audit.Logger
	sink  *recSink
	meter *sync.Map // tenant/op -> count
}

var testKey = bytes.Repeat([]byte{7}, 32)

func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	n := nodetest.StartNode(t, nodetest.Options{})
	reg, err := metrics.New(metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, eng: n.Engine, sink: &recSink{}, meter: &sync.Map{}}
	e.audit = audit.New(e.sink)
	cfg := Config{
		Engine: n.Engine, NodeID: "test-node", SessionKey: testKey, CSRFKey: bytes.Repeat([]byte{9}, 32),
		Policy:  node.LoginPolicy{MaxFailures: 3, Window: time.Minute, Lockout: time.Hour},
		Metrics: reg, Audit: e.audit,
		ValidBucketName: func(s string) bool { return regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`).MatchString(s) },
		OnRequest: func(tenant, op string, in, out int64) {
			v, _ := e.meter.LoadOrStore(tenant+"/"+op, new(atomic.Int64))
			v.(*atomic.Int64).Add(1) // handlers run concurrently
		},
		Cluster: func(context.Context) (ClusterView, error) {
			return ClusterView{Node: "test-node", Leader: "test-node", Shape: "2+2", Nodes: []ClusterNode{{ID: "test-node", State: "alive",
				NodeState: "active", Version: "dev", RaftRole: "leader", Drives: []ClusterDrive{{ID: "d0", Online: true, Total: 100, Free: 40}}}}}, nil
		},
	}
	for _, m := range mod {
		m(&cfg)
	}
	con, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.con = con
	e.srv = httptest.NewServer(con)
	t.Cleanup(func() { e.srv.Close(); con.Close() })
	ctx := context.Background()
	if _, err := n.Engine.CreateTenant(ctx, "acme", "Acme <b>Inc</b>", "standard"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Engine.CreateUser(ctx, "acme", "alice", "alice password"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Engine.CreateOperator(ctx, "ops", "operator password"); err != nil {
		t.Fatal(err)
	}
	return e
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
	base string // the console's URL when not e.srv's (tlsBrowser)
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, body io.Reader, hdr map[string]string) resp {
	b.e.t.Helper()
	base := b.e.srv.URL
	if b.base != "" {
		base = b.base
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	r, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, r.Header, string(raw)}
}

func (b *browser) get(path string) resp { return b.do("GET", path, nil, nil) }

func (b *browser) post(path string, form url.Values) resp {
	return b.do("POST", path, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

var tokenRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func formToken(t *testing.T, body string) string {
	t.Helper()
	m := tokenRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in:\n%s", body)
	}
	return m[1]
}

// login signs in (tenant "" for an operator) and returns the status.
func (b *browser) login(tenant, user, password string) resp {
	b.e.t.Helper()
	path := "/login"
	if tenant == "" {
		path = "/operator/login"
	}
	p := b.get(path)
	f := url.Values{"csrf": {formToken(b.e.t, p.body)}, "tenant": {tenant}, "user": {user}, "password": {password}}
	r := b.post(path, f)
	if r.status == http.StatusSeeOther {
		// The anti-forgery token of the session, from any page.
		landing := b.get(r.header.Get("Location"))
		if m := tokenRe.FindStringSubmatch(landing.body); m != nil {
			b.csrf = m[1]
		}
	}
	return r
}

func (e *env) events(op string) []audit.Event {
	e.sink.mu.Lock()
	defer e.sink.mu.Unlock()
	var out []audit.Event
	for _, ev := range e.sink.evs {
		if ev.Operation == op {
			out = append(out, ev)
		}
	}
	return out
}

func TestLoginSessionAndLogout(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if r := b.get("/buckets"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Fatalf("unauthenticated: %d %v", r.status, r.header)
	}
	// Wrong password and unknown user: one message, 401.
	for _, c := range []struct{ tenant, user, pw string }{{"acme", "alice", "nope"}, {"acme", "mallory", "x"}, {"nope", "alice", "alice password"}} {
		r := b.login(c.tenant, c.user, c.pw)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Sign-in failed") {
			t.Fatalf("login %v: %d", c, r.status)
		}
	}
	r := b.login("acme", "alice", "alice password")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/buckets" {
		t.Fatalf("login: %d %v", r.status, r.header)
	}
	var cookie *http.Cookie
	for _, c := range b.c.Jar.Cookies(mustURL(e.srv.URL)) {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	setCookie := r.header.Values("Set-Cookie")
	joined := strings.Join(setCookie, "\n")
	if !strings.Contains(joined, "HttpOnly") || !strings.Contains(joined, "SameSite=Lax") || strings.Contains(joined, "Secure") {
		t.Fatalf("cookie attributes: %s", joined)
	}
	if r := b.get("/buckets"); r.status != 200 || !strings.Contains(r.body, "Buckets") {
		t.Fatalf("buckets: %d", r.status)
	}
	// A tenant session does not open operator pages.
	if r := b.get("/operator"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/operator/login") {
		t.Fatalf("operator page with a tenant session: %d %v", r.status, r.header)
	}
	// Another browser with the same cookie (another node, same key) is signed in.
	other := e.browser()
	other.c.Jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: sessionCookie, Value: cookie.Value}})
	if r := other.get("/buckets"); r.status != 200 {
		t.Fatalf("stolen-but-valid cookie: %d", r.status)
	}
	// Logout revokes the session: the copied cookie stops working too.
	if r := b.post("/logout", url.Values{"csrf": {b.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := other.get("/buckets"); r.status != http.StatusSeeOther {
		t.Fatalf("revoked session still works: %d", r.status)
	}
	if got := e.events("ConsoleLogin"); len(got) != 4 || got[3].Status != 200 || got[0].ErrorCode != "WrongPassword" || got[1].ErrorCode != "UnknownAccount" {
		t.Fatalf("login audit: %+v", got)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestForgedTokensRefused(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	good := claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: tokenIssuer, Audience: jwt.ClaimStrings{tokenAud}, ID: "sid",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
		Tenant: "acme", User: "alice", End: jwt.NewNumericDate(now.Add(time.Hour))}
	sign := func(c claims, m jwt.SigningMethod, key any) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if r := cookieGet(e, sign(good, jwt.SigningMethodHS256, testKey)); r != 200 {
		t.Fatalf("a well-signed token: %d", r)
	}
	expired := good
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
	wrongAud := good
	wrongAud.Audience = jwt.ClaimStrings{"other"}
	ended := good
	ended.End = jwt.NewNumericDate(now.Add(-time.Second))
	asOperator := good
	asOperator.Tenant, asOperator.Operator = "", true
	otherGen := good
	otherGen.Gen = 7
	for name, tok := range map[string]string{
		"wrong key":               sign(good, jwt.SigningMethodHS256, bytes.Repeat([]byte{1}, 32)),
		"alg none":                sign(good, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
		"HS512":                   sign(good, jwt.SigningMethodHS512, testKey),
		"expired":                 sign(expired, jwt.SigningMethodHS256, testKey),
		"wrong audience":          sign(wrongAud, jwt.SigningMethodHS256, testKey),
		"session ended":           sign(ended, jwt.SigningMethodHS256, testKey),
		"other gen":               sign(otherGen, jwt.SigningMethodHS256, testKey),
		"tenant user as operator": sign(asOperator, jwt.SigningMethodHS256, testKey),
		"garbage":                 "not.a.token",
		"truncated":               sign(good, jwt.SigningMethodHS256, testKey)[:40],
	} {
		if r := cookieGet(e, tok); r != http.StatusSeeOther {
			t.Errorf("%s: %d, want a redirect to sign in", name, r)
		}
	}
}

func cookieGet(e *env, tok string) int {
	b := e.browser()
	b.c.Jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: sessionCookie, Value: tok}})
	return b.get("/buckets").status
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if r := b.login("acme", "alice", "alice password"); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	ctx := context.Background()
	for name, c := range map[string]struct {
		form url.Values
		hdr  map[string]string
	}{
		"no token":       {url.Values{"name": {"forged"}}, nil},
		"wrong token":    {url.Values{"name": {"forged"}, "csrf": {"x" + b.csrf}}, nil},
		"other session":  {url.Values{"name": {"forged"}, "csrf": {e.con.keys.mac("session:other")}}, nil},
		"cross-site":     {url.Values{"name": {"forged"}, "csrf": {b.csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"foreign origin": {url.Values{"name": {"forged"}, "csrf": {b.csrf}}, map[string]string{"Origin": "http://evil.example"}},
	} {
		hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for k, v := range c.hdr {
			hdr[k] = v
		}
		r := b.do("POST", "/buckets", strings.NewReader(c.form.Encode()), hdr)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "anti-forgery") {
			t.Errorf("%s: %d", name, r.status)
		}
	}
	if cs, _ := e.eng.ListContainers(ctx, "acme"); len(cs) != 0 {
		t.Fatalf("a forged form created %v", cs)
	}
	// The sign-in form has its own token.
	r := b.post("/login", url.Values{"tenant": {"acme"}, "user": {"alice"}, "password": {"alice password"}})
	if r.status != http.StatusForbidden {
		t.Fatalf("login without its token: %d", r.status)
	}
	// With the token it works.
	if r := b.post("/buckets", url.Values{"name": {"photos"}, "csrf": {b.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("create with the token: %d %s", r.status, r.body)
	}
	if len(e.events("ConsoleForgeryRefused")) != 5 {
		t.Fatalf("forgeries not audited: %+v", e.events("ConsoleForgeryRefused"))
	}
}

func TestLockoutAndThrottle(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LoginBurst, c.LoginRate = 5, 1.0/3600 }) // no refill during the test
	b := e.browser()
	for i := 0; i < 3; i++ {
		b.login("acme", "alice", "wrong")
	}
	if r := b.login("acme", "alice", "alice password"); r.status != http.StatusUnauthorized {
		t.Fatalf("locked account signed in: %d", r.status)
	}
	codes := []string{}
	for _, ev := range e.events("ConsoleLogin") {
		codes = append(codes, ev.ErrorCode)
	}
	if want := "WrongPassword WrongPassword AccountLockedNow AccountLocked"; strings.Join(codes, " ") != want {
		t.Fatalf("audit codes %v, want %s", codes, want)
	}
	// The address is over its budget now (burst 5: 4 used, 1 left).
	b.login("acme", "bob", "x")
	if r := b.login("acme", "bob", "x"); r.status != http.StatusTooManyRequests {
		t.Fatalf("sixth attempt: %d", r.status)
	}
}

func TestUntrustedTextIsInert(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	evil := `<img src=x onerror=alert(1)>`
	if err := e.eng.CreateContainer(ctx, "acme", node.CreateContainerInput{Name: "photos"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.PutArtifact(ctx, "acme", node.PutInput{Container: "photos", Key: "dir/" + evil, Body: strings.NewReader("x"), Size: 1,
		ContentType: "text/html", Meta: map[string]string{"note": `"><script>alert(2)</script>`}}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("acme", "alice", "alice password")
	for _, path := range []string{"/buckets/photos?prefix=dir/", "/buckets/photos?prefix=dir/&search=1", "/buckets/photos/object?key=" + url.QueryEscape("dir/"+evil)} {
		r := b.get(path)
		if r.status != 200 {
			t.Fatalf("%s: %d", path, r.status)
		}
		if strings.Contains(r.body, "<img src=x") || strings.Contains(r.body, "<script>alert") {
			t.Fatalf("%s: markup from data reached the page:\n%s", path, r.body)
		}
		if !strings.Contains(r.body, html.EscapeString(evil)) && !strings.Contains(r.body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Fatalf("%s: the key is not shown as text", path)
		}
	}
	// The download is an attachment, never rendered.
	r := b.get("/buckets/photos/download?key=" + url.QueryEscape("dir/"+evil))
	if r.status != 200 || r.header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") ||
		r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("download headers: %d %v", r.status, r.header)
	}
	// Tenant names in operator pages.
	o := e.browser()
	if r := o.login("", "ops", "operator password"); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	for _, path := range []string{"/operator/tenants", "/operator/tenants/acme"} {
		r := o.get(path)
		if r.status != 200 || strings.Contains(r.body, "<b>Inc</b>") || !strings.Contains(r.body, "Acme &lt;b&gt;Inc&lt;/b&gt;") {
			t.Fatalf("%s: %d tenant name not escaped", path, r.status)
		}
	}
}

func TestBrowseUploadDownload(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("acme", "alice", "alice password")
	if r := b.post("/buckets", url.Values{"name": {"photos"}, "csrf": {b.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.status)
	}
	for name, body := range map[string]url.Values{"invalid name": {"name": {"A_B"}}, "empty": {"name": {""}}} {
		body.Set("csrf", b.csrf)
		if r := b.post("/buckets", body); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d", name, r.status)
		}
	}
	if r := b.post("/buckets", url.Values{"name": {"photos"}, "csrf": {b.csrf}}); r.status != http.StatusConflict {
		t.Errorf("duplicate: %d", r.status)
	}
	if r := b.post("/buckets", url.Values{"name": {strings.Repeat("a", 70<<10)}, "csrf": {b.csrf}}); r.status != http.StatusBadRequest {
		t.Errorf("oversized form: %d", r.status)
	}
	if r := b.do("POST", "/buckets", strings.NewReader("name=x&csrf="+b.csrf+"&%zz"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != http.StatusBadRequest {
		t.Errorf("malformed form: %d", r.status)
	}
	// Multipart upload through the console: 2 parts of 8 MiB and a tail.
	data := make([]byte, 17<<20+123)
	rand.Read(data)
	api := map[string]string{"X-CSRF-Token": b.csrf, "Accept": "application/json"}
	r := b.do("POST", "/buckets/photos/multipart", strings.NewReader(url.Values{"key": {"big/file.bin"}, "size": {fmt.Sprint(len(data))}}.Encode()),
		map[string]string{"X-CSRF-Token": b.csrf, "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
	var start struct {
		UploadID string `json:"upload_id"`
		PartSize int    `json:"part_size"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &start) != nil || start.PartSize != partSize {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	var parts []map[string]any
	for n, off := 1, 0; off < len(data); n, off = n+1, off+start.PartSize {
		end := min(off+start.PartSize, len(data))
		r := b.do("PUT", fmt.Sprintf("/buckets/photos/multipart/%s/parts/%d?key=%s", start.UploadID, n, url.QueryEscape("big/file.bin")), bytes.NewReader(data[off:end]), api)
		var pr map[string]any
		if r.status != 200 || json.Unmarshal([]byte(r.body), &pr) != nil {
			t.Fatalf("part %d: %d %s", n, r.status, r.body)
		}
		parts = append(parts, map[string]any{"number": n, "etag": pr["etag"]})
	}
	pj, _ := json.Marshal(parts)
	// Bad inputs change nothing.
	for name, c := range map[string]struct{ method, path, body string }{
		"part 0":          {"PUT", "/buckets/photos/multipart/" + start.UploadID + "/parts/0?key=big/file.bin", "x"},
		"part 10001":      {"PUT", "/buckets/photos/multipart/" + start.UploadID + "/parts/10001?key=big/file.bin", "x"},
		"no key":          {"PUT", "/buckets/photos/multipart/" + start.UploadID + "/parts/1", "x"},
		"long key":        {"PUT", "/buckets/photos/multipart/" + start.UploadID + "/parts/1?key=" + strings.Repeat("k", 1025), "x"},
		"bad part list":   {"POST", "/buckets/photos/multipart/" + start.UploadID + "/complete?key=big/file.bin", "parts=%5B%7B"},
		"unknown upload":  {"POST", "/buckets/photos/multipart/nope/complete?key=big/file.bin", "parts=" + url.QueryEscape(string(pj))},
		"other's bucket":  {"POST", "/buckets/nobody/multipart", "key=x"},
		"bad bucket name": {"POST", "/buckets/A_B/multipart", "key=x"},
	} {
		h := map[string]string{"X-CSRF-Token": b.csrf, "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
		if r := b.do(c.method, c.path, strings.NewReader(c.body), h); r.status < 400 || r.status > 499 || !strings.Contains(r.body, `"error"`) {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	r = b.do("POST", "/buckets/photos/multipart/"+start.UploadID+"/complete?key=big/file.bin", strings.NewReader("parts="+url.QueryEscape(string(pj))),
		map[string]string{"X-CSRF-Token": b.csrf, "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	// Listed under its folder, downloaded whole.
	if r := b.get("/buckets/photos"); !strings.Contains(r.body, `?prefix=big%2f`) {
		t.Fatalf("folder not listed:\n%s", r.body)
	}
	if r := b.get("/buckets/photos?prefix=big/"); !strings.Contains(r.body, ">file.bin<") {
		t.Fatalf("object not listed:\n%s", r.body)
	}
	dl := b.get("/buckets/photos/download?key=big/file.bin")
	if dl.status != 200 || dl.body != string(data) {
		t.Fatalf("download: %d, %d bytes, equal %v", dl.status, len(dl.body), dl.body == string(data))
	}
	// The form upload without JavaScript: a streamed multipart post.
	var mb bytes.Buffer
	mw := multipart.NewWriter(&mb)
	mw.WriteField("prefix", "docs/")
	fw, _ := mw.CreateFormFile("file", "note.txt")
	fw.Write([]byte("hello from a form"))
	mw.Close()
	r = b.do("POST", "/buckets/photos/upload?csrf="+url.QueryEscape(b.csrf), &mb, map[string]string{"Content-Type": mw.FormDataContentType()})
	if r.status != http.StatusSeeOther {
		t.Fatalf("form upload: %d %s", r.status, r.body)
	}
	if dl := b.get("/buckets/photos/download?key=docs/note.txt"); dl.body != "hello from a form" {
		t.Fatalf("form upload content %q", dl.body)
	}
	// Without the token in its action the form upload is refused.
	mb.Reset()
	mw = multipart.NewWriter(&mb)
	fw, _ = mw.CreateFormFile("file", "forged.txt")
	fw.Write([]byte("x"))
	mw.Close()
	if r := b.do("POST", "/buckets/photos/upload", &mb, map[string]string{"Content-Type": mw.FormDataContentType()}); r.status != http.StatusForbidden {
		t.Fatalf("form upload without token: %d", r.status)
	}
	// Search by prefix, delete, metering.
	if r := b.get("/buckets/photos?prefix=do&search=1"); !strings.Contains(r.body, "docs/note.txt") || strings.Contains(r.body, "file.bin") {
		t.Fatalf("search:\n%s", r.body)
	}
	if r := b.post("/buckets/photos/delete-object", url.Values{"key": {"docs/note.txt"}, "csrf": {b.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete object: %d", r.status)
	}
	if r := b.post("/buckets/photos/delete", url.Values{"csrf": {b.csrf}}); r.status != http.StatusConflict {
		t.Fatalf("delete non-empty bucket: %d", r.status)
	}
	for _, op := range []string{"acme/UploadPart", "acme/GetObject", "acme/CompleteMultipartUpload", "acme/PutObject", "acme/ListObjectsV2"} {
		if _, ok := e.meter.Load(op); !ok {
			t.Errorf("%s not metered", op)
		}
	}
}

func TestAccessKeysPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser()
	b.login("acme", "alice", "alice password")
	r := b.post("/keys", url.Values{"csrf": {b.csrf}})
	m := regexp.MustCompile(`id="new-key-id">([A-Z0-9]+)<.*id="new-key-secret">([a-f0-9]+)<`).FindStringSubmatch(strings.ReplaceAll(r.body, "\n", " "))
	if r.status != 200 || m == nil {
		t.Fatalf("create key: %d\n%s", r.status, r.body)
	}
	id, secret := m[1], m[2]
	if cred, err := e.eng.Credential(ctx, id); err != nil || cred.Secret != secret || cred.User != "alice" {
		t.Fatalf("key: %+v %v", cred, err)
	}
	// The secret is shown once.
	if r := b.get("/keys"); strings.Contains(r.body, secret) || !strings.Contains(r.body, id) {
		t.Fatal("the list shows the secret, or not the key")
	}
	if r := b.post("/keys/"+id+"/disable", url.Values{"csrf": {b.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.status)
	}
	if _, err := e.eng.Credential(ctx, id); err == nil {
		t.Fatal("a disabled key still authenticates")
	}
	// Another tenant's key is not found.
	e.eng.CreateTenant(ctx, "other", "Other", "standard")
	e.eng.CreateUser(ctx, "other", "bob", "")
	foreign, _ := e.eng.CreateAccessKey(ctx, "other", "bob")
	if r := b.post("/keys/"+foreign.AccessKeyID+"/delete", url.Values{"csrf": {b.csrf}}); r.status != http.StatusNotFound {
		t.Fatalf("deleting another tenant's key: %d", r.status)
	}
	if _, err := e.eng.Credential(ctx, foreign.AccessKeyID); err != nil {
		t.Fatalf("the foreign key was touched: %v", err)
	}
	if r := b.post("/keys/"+id+"/delete", url.Values{"csrf": {b.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
}

func TestOperatorSuspendEndsSessions(t *testing.T) {
	e := newEnv(t)
	tb := e.browser()
	tb.login("acme", "alice", "alice password")
	o := e.browser()
	o.login("", "ops", "operator password")
	for _, path := range []string{"/operator", "/operator/tenants", "/operator/tenants/acme", "/operator/live", "/operator/account"} {
		if r := o.get(path); r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
	}
	if r := o.get("/operator"); !strings.Contains(r.body, "leader") || !strings.Contains(r.body, "60%") {
		t.Fatalf("cluster page:\n%s", r.body)
	}
	if r := o.post("/operator/tenants/acme/suspend", url.Values{"csrf": {o.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("suspend: %d %s", r.status, r.body)
	}
	if r := tb.get("/buckets"); r.status != http.StatusSeeOther {
		t.Fatalf("the suspended tenant's session: %d", r.status)
	}
	if r := tb.login("acme", "alice", "alice password"); r.status != http.StatusUnauthorized {
		t.Fatalf("sign-in of a suspended tenant: %d", r.status)
	}
	o.post("/operator/tenants/acme/resume", url.Values{"csrf": {o.csrf}})
	// Plans apply their limits at once.
	if r := o.post("/operator/tenants/acme/plan", url.Values{"plan": {"free"}, "csrf": {o.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("plan: %d %s", r.status, r.body)
	}
	tl, _ := e.eng.TenantLimits(context.Background(), "acme")
	if tl.Quota.MaxBytes != 5e9 {
		t.Fatalf("free plan quota: %+v", tl)
	}
	// Create a tenant with a first user who can sign in.
	r := o.post("/operator/tenants", url.Values{"id": {"beta"}, "name": {"Beta"}, "plan": {"standard"}, "user": {"carol"}, "password": {"carol password"}, "csrf": {o.csrf}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	if r := e.browser().login("beta", "carol", "carol password"); r.status != http.StatusSeeOther {
		t.Fatalf("new tenant's user: %d", r.status)
	}
	// Bad input changes nothing.
	for name, f := range map[string]url.Values{
		"bad id":      {"id": {"B!"}, "plan": {"standard"}},
		"bad plan":    {"id": {"gamma"}, "plan": {"gold"}},
		"short pw":    {"id": {"gamma"}, "plan": {"standard"}, "user": {"u"}, "password": {"short"}},
		"control chr": {"id": {"gamma"}, "plan": {"standard"}, "name": {"a\x00b"}},
	} {
		f.Set("csrf", o.csrf)
		if r := o.post("/operator/tenants", f); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d", name, r.status)
		}
	}
	if _, err := e.eng.GetTenant(context.Background(), "gamma"); err == nil {
		t.Fatal("a refused create created gamma")
	}
	// Delete needs the id typed.
	if r := o.post("/operator/tenants/beta/delete", url.Values{"confirm": {"nope"}, "csrf": {o.csrf}}); r.status != http.StatusBadRequest {
		t.Fatalf("delete unconfirmed: %d", r.status)
	}
	if r := o.post("/operator/tenants/beta/delete", url.Values{"confirm": {"beta"}, "csrf": {o.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := newEnv(t)
	a, b := e.browser(), e.browser()
	a.login("acme", "alice", "alice password")
	b.login("acme", "alice", "alice password")
	r := a.post("/account/password", url.Values{"current": {"alice password"}, "new": {"new password!"}, "again": {"new password!"}, "csrf": {a.csrf}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	if r := a.get("/buckets"); r.status != 200 {
		t.Fatalf("the changing session goes on: %d", r.status)
	}
	if r := b.get("/buckets"); r.status != http.StatusSeeOther {
		t.Fatalf("the other session: %d", r.status)
	}
	// A wrong current password is refused.
	a.get("/account")
	tok := formToken(t, a.get("/account").body)
	if r := a.post("/account/password", url.Values{"current": {"wrong"}, "new": {"x password!"}, "again": {"x password!"}, "csrf": {tok}}); r.status != http.StatusBadRequest {
		t.Fatalf("wrong current: %d", r.status)
	}
}

func TestSessionRefresh(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SessionTTL = 10 * time.Second })
	b := e.browser()
	b.login("acme", "alice", "alice password")
	if r := b.get("/buckets"); r.header.Get("Set-Cookie") != "" {
		t.Fatal("refreshed a fresh token")
	}
	time.Sleep(5200 * time.Millisecond) // past half of the TTL, well before its end
	if r := b.get("/buckets"); r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), sessionCookie) {
		t.Fatalf("not refreshed past half its life: %d %v", r.status, r.header)
	}
}

func TestTenantRateLimit(t *testing.T) {
	var calls atomic.Int64
	e := newEnv(t, func(c *Config) {
		c.Allow = func(tenant string) (bool, time.Duration) {
			if tenant != "acme" {
				t.Errorf("rate limit of %q", tenant)
			}
			return calls.Add(1) <= 2, 1500 * time.Millisecond
		}
	})
	b := e.browser()
	b.login("acme", "alice", "alice password") // the landing page spends one
	if r := b.get("/buckets"); r.status != 200 {
		t.Fatalf("second request: %d", r.status)
	}
	if r := b.get("/buckets"); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Fatalf("third request: %d %v", r.status, r.header)
	}
	// Operators are not a tenant's traffic.
	o := e.browser()
	o.login("", "ops", "operator password")
	if r := o.get("/operator/tenants"); r.status != 200 {
		t.Fatalf("operator: %d", r.status)
	}
}

func TestTransfersAreShaped(t *testing.T) {
	var in, out atomic.Int64
	e := newEnv(t, func(c *Config) {
		c.WaitBytes = func(_ context.Context, tenant string, dir tenancy.Direction, n int) error {
			if dir == tenancy.Ingress {
				in.Add(int64(n))
			} else {
				out.Add(int64(n))
			}
			return nil
		}
	})
	b := e.browser()
	b.login("acme", "alice", "alice password")
	b.post("/buckets", url.Values{"name": {"photos"}, "csrf": {b.csrf}})
	var mb bytes.Buffer
	mw := multipart.NewWriter(&mb)
	fw, _ := mw.CreateFormFile("file", "a.bin")
	fw.Write(bytes.Repeat([]byte("a"), 100_000))
	mw.Close()
	if r := b.do("POST", "/buckets/photos/upload?csrf="+url.QueryEscape(b.csrf), &mb, map[string]string{"Content-Type": mw.FormDataContentType()}); r.status != http.StatusSeeOther {
		t.Fatalf("upload: %d", r.status)
	}
	if r := b.get("/buckets/photos/download?key=a.bin"); len(r.body) != 100_000 {
		t.Fatalf("download: %d bytes", len(r.body))
	}
	if in.Load() != 100_000 || out.Load() != 100_000 {
		t.Fatalf("shaped %d in, %d out; want 100000 each", in.Load(), out.Load())
	}
}

func TestSafeNext(t *testing.T) {
	for _, c := range []struct {
		next string
		op   bool
		want string
	}{
		{"/buckets/x", false, "/buckets/x"}, {"//evil.example/", false, "/buckets"}, {"https://evil.example", false, "/buckets"},
		{"/operator", false, "/buckets"}, {"/buckets", true, "/operator"}, {"/operator/tenants", true, "/operator/tenants"},
		{"/\\evil", false, "/buckets"}, {"", true, "/operator"},
	} {
		if got := safeNext(c.next, c.op); got != c.want {
			t.Errorf("safeNext(%q, %v) = %q, want %q", c.next, c.op, got, c.want)
		}
	}
}

// TestTruncatedPartChangesNothing sends a part whose body ends before its
// Content-Length: the upload keeps no part.
func TestTruncatedPartChangesNothing(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("acme", "alice", "alice password")
	b.post("/buckets", url.Values{"name": {"photos"}, "csrf": {b.csrf}})
	r := b.do("POST", "/buckets/photos/multipart", strings.NewReader("key=t.bin"),
		map[string]string{"X-CSRF-Token": b.csrf, "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
	var start struct {
		UploadID string `json:"upload_id"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &start) != nil {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	var cookie string
	for _, c := range b.c.Jar.Cookies(mustURL(e.srv.URL)) {
		if c.Name == sessionCookie {
			cookie = c.Value
		}
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /buckets/photos/multipart/%s/parts/1?key=t.bin HTTP/1.1\r\nHost: x\r\nCookie: %s=%s\r\nX-CSRF-Token: %s\r\nAccept: application/json\r\nContent-Length: 100000\r\n\r\n%s",
		start.UploadID, sessionCookie, cookie, b.csrf, strings.Repeat("x", 1000))
	conn.(*net.TCPConn).CloseWrite()
	io.ReadAll(conn)
	conn.Close()
	// Completing with that part fails: it was never recorded.
	r = b.do("POST", "/buckets/photos/multipart/"+start.UploadID+"/complete?key=t.bin", strings.NewReader(`parts=[{"number":1,"etag":"x"}]`),
		map[string]string{"X-CSRF-Token": b.csrf, "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusBadRequest {
		t.Fatalf("complete after a truncated part: %d %s", r.status, r.body)
	}
	if _, err := e.eng.HeadArtifact(context.Background(), "acme", node.VersionRef{Container: "photos", Key: "t.bin"}); err == nil {
		t.Fatal("a truncated upload became visible")
	}
}

// TestVerifiedTokens: a token verified once is answered from memory with
// the session a full verification gives, still expires on time, is never
// shared with a forged variant, and the memory stays bounded.
func TestVerifiedTokens(t *testing.T) {
	k := keys{session: testKey, csrf: testKey}
	now := time.Now()
	sess := &session{acct: node.Account{Tenant: "acme", Name: "alice"}, sid: "sid-1", gen: 3, iat: now, end: now.Add(time.Hour)}
	tok, exp, err := k.issue(sess, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	exp = exp.Truncate(jwt.TimePrecision) // as the token carries it
	want, err := k.parse(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	var v verifiedTokens
	for _, c := range []struct {
		name string
		tok  string
		at   time.Time
		ok   bool
	}{
		{"first use verifies", tok, now, true},
		{"again, from memory", tok, now.Add(30 * time.Second), true},
		{"just before expiry", tok, exp.Add(-time.Millisecond), true},
		{"at expiry", tok, exp, false},
		{"after expiry", tok, exp.Add(time.Hour), false},
		{"signature altered", tok[:len(tok)-2] + "AA", now, false},
		{"claims altered", strings.Replace(tok, ".", ".e", 1), now, false},
		{"truncated", tok[:len(tok)/2], now, false},
	} {
		got, err := v.parse(k, c.tok, c.at)
		if c.ok != (err == nil) {
			t.Fatalf("%s: err %v, want ok %v", c.name, err, c.ok)
		}
		if !c.ok {
			if !errors.Is(err, errBadToken) {
				t.Fatalf("%s: %v, want errBadToken", c.name, err)
			}
			continue
		}
		if *got != *want {
			t.Fatalf("%s: %+v, want %+v", c.name, *got, *want)
		}
		got.acct.Name = "mallory" // callers get copies
	}
	if len(v.m) != 1 {
		t.Fatalf("%d tokens kept, want only the verified one", len(v.m))
	}
	for i := 0; i < verifiedMax+10; i++ {
		s := *sess
		s.sid = fmt.Sprintf("sid-%d", i)
		tk, _, err := k.issue(&s, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.parse(k, tk, now); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.m) > verifiedMax {
		t.Fatalf("%d tokens kept, bound %d", len(v.m), verifiedMax)
	}
}
