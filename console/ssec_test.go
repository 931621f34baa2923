package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/vaultaire/vaultaire/node"
)

// tlsBrowser is a browser of the console served over TLS by ts.
func (e *env) tlsBrowser(ts *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	c := ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{e: e, c: c, base: ts.URL}
}

// syncBuffer is a log sink written by concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSSECDownload: an SSE-C object's page offers a download form that
// takes the customer key; over HTTPS it streams the object, and a wrong,
// malformed or missing key, a forged form, an oversized or malformed
// body, another tenant's bucket or no session are refused with a clear
// status. Over plain HTTP the key is refused unless the test setting
// allows it. The key appears in no log line and no audit event.
func TestSSECDownload(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ts := httptest.NewTLSServer(e.con)
	t.Cleanup(ts.Close)
	ctx := context.Background()
	if err := e.eng.CreateContainer(ctx, "acme", node.CreateContainerInput{Name: "vault"}); err != nil {
		t.Fatal(err)
	}
	ck, wrong := make([]byte, 32), make([]byte, 32)
	rand.Read(ck)
	rand.Read(wrong)
	data := make([]byte, 200<<10+17)
	rand.Read(data)
	for key, enc := range map[string]node.Encryption{
		"dir/secret.bin": {Mode: node.EncryptionCustomer, CustomerKey: ck},
		"plain.txt":      {},
	} {
		if _, err := e.eng.PutArtifact(ctx, "acme", node.PutInput{Container: "vault", Key: key, Body: bytes.NewReader(data), Size: int64(len(data)), Encryption: enc}); err != nil {
			t.Fatal(err)
		}
	}
	b64 := base64.StdEncoding.EncodeToString(ck)

	b := e.tlsBrowser(ts)
	if r := b.login("acme", "alice", "alice password"); r.status != http.StatusSeeOther {
		t.Fatalf("login over TLS: %d", r.status)
	}
	page := b.get("/buckets/vault/object?key=dir/secret.bin")
	if page.status != 200 || !strings.Contains(page.body, `name="sse_key"`) || !strings.Contains(page.body, "SSE-C") ||
		strings.Contains(page.body, "/download?key=") {
		t.Fatalf("object page of an SSE-C object:\n%s", page.body)
	}
	if p := b.get("/buckets/vault/object?key=plain.txt"); strings.Contains(p.body, `name="sse_key"`) || !strings.Contains(p.body, "/download?key=plain.txt") {
		t.Fatalf("object page of a plaintext object:\n%s", p.body)
	}
	form := func(key, sseKey string) url.Values {
		return url.Values{"csrf": {b.csrf}, "key": {key}, "sse_key": {sseKey}}
	}
	dl := b.post("/buckets/vault/download", form("dir/secret.bin", b64))
	if dl.status != 200 || dl.body != string(data) || !strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment") ||
		dl.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("SSE-C download: %d, %d bytes, equal %v, %v", dl.status, len(dl.body), dl.body == string(data), dl.header)
	}
	if _, ok := e.meter.Load("acme/GetObject"); !ok {
		t.Error("the download was not metered")
	}

	for name, c := range map[string]struct {
		form   url.Values
		status int
		says   string
	}{
		"wrong key":      {form("dir/secret.bin", base64.StdEncoding.EncodeToString(wrong)), http.StatusForbidden, "not the one"},
		"short key":      {form("dir/secret.bin", base64.StdEncoding.EncodeToString(ck[:31])), http.StatusBadRequest, "32 bytes"},
		"not base64":     {form("dir/secret.bin", "%%%not base64%%%"), http.StatusBadRequest, "32 bytes"},
		"no key":         {form("dir/secret.bin", ""), http.StatusBadRequest, "32 bytes"},
		"not SSE-C":      {form("plain.txt", b64), http.StatusBadRequest, "not encrypted with a customer key"},
		"missing object": {form("nothing", b64), http.StatusNotFound, "No such object"},
		"no object key":  {form("", b64), http.StatusBadRequest, "Invalid object key"},
		"no csrf":        {url.Values{"key": {"dir/secret.bin"}, "sse_key": {b64}}, http.StatusForbidden, "anti-forgery"},
		"oversized":      {form("dir/secret.bin", strings.Repeat("A", 70<<10)), http.StatusBadRequest, "oversized"},
	} {
		r := b.post("/buckets/vault/download", c.form)
		if r.status != c.status || !strings.Contains(r.body, c.says) || strings.Contains(r.body, string(data[:64])) {
			t.Errorf("%s: %d, want %d saying %q:\n%.400s", name, r.status, c.status, c.says, r.body)
		}
	}
	if r := b.do("POST", "/buckets/vault/download", strings.NewReader("csrf="+url.QueryEscape(b.csrf)+"&key=dir/secret.bin&%zz"),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != http.StatusBadRequest {
		t.Errorf("malformed form: %d", r.status)
	}
	if r := b.post("/buckets/nobody/download", form("dir/secret.bin", b64)); r.status != http.StatusNotFound {
		t.Errorf("a bucket the tenant does not have: %d", r.status)
	}
	// The plain link of an SSE-C object says what to do instead.
	if r := b.get("/buckets/vault/download?key=dir/secret.bin"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "customer key") {
		t.Errorf("GET of an SSE-C object: %d %.300s", r.status, r.body)
	}
	// Without a session.
	anon := e.tlsBrowser(ts)
	if r := anon.post("/buckets/vault/download", url.Values{"key": {"dir/secret.bin"}, "sse_key": {b64}}); r.status != http.StatusUnauthorized {
		t.Errorf("no session: %d", r.status)
	}

	// Plain HTTP: the page says HTTPS is needed and the key is refused.
	pb := e.browser()
	pb.login("acme", "alice", "alice password")
	if p := pb.get("/buckets/vault/object?key=dir/secret.bin"); strings.Contains(p.body, `name="sse_key"`) || !strings.Contains(p.body, "HTTPS") {
		t.Fatalf("object page over HTTP:\n%s", p.body)
	}
	if r := pb.post("/buckets/vault/download", url.Values{"csrf": {pb.csrf}, "key": {"dir/secret.bin"}, "sse_key": {b64}}); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, "need HTTPS") || r.body == string(data) {
		t.Fatalf("SSE-C over HTTP: %d %.300s", r.status, r.body)
	}

	// The key never reaches a log line or an audit event.
	e.sink.mu.Lock()
	events := fmt.Sprint(e.sink.evs)
	e.sink.mu.Unlock()
	if strings.Contains(logs.String(), b64) || strings.Contains(events, b64) {
		t.Fatal("the customer key was logged")
	}
}

// TestSSECDownloadInsecureSetting: Config.SSECInsecure (tests only)
// accepts the key over plain HTTP.
func TestSSECDownloadInsecureSetting(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SSECInsecure = true })
	ctx := context.Background()
	if err := e.eng.CreateContainer(ctx, "acme", node.CreateContainerInput{Name: "vault"}); err != nil {
		t.Fatal(err)
	}
	ck := bytes.Repeat([]byte{3}, 32)
	if _, err := e.eng.PutArtifact(ctx, "acme", node.PutInput{Container: "vault", Key: "s", Body: strings.NewReader("sealed"), Size: 6,
		Encryption: node.Encryption{Mode: node.EncryptionCustomer, CustomerKey: ck}}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("acme", "alice", "alice password")
	if p := b.get("/buckets/vault/object?key=s"); !strings.Contains(p.body, `name="sse_key"`) {
		t.Fatalf("object page:\n%s", p.body)
	}
	r := b.post("/buckets/vault/download", url.Values{"csrf": {b.csrf}, "key": {"s"}, "sse_key": {base64.StdEncoding.EncodeToString(ck)}})
	if r.status != 200 || r.body != "sealed" {
		t.Fatalf("download: %d %q", r.status, r.body)
	}
}
