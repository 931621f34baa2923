package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// These tests drive Debian's Chromium (installed by .ci/run) with chromedp
// against a real server process, as a tenant and an operator would. On a
// failure each browser's screen is saved (the path is logged). With
// VAULTAIRE_DOCS_SCREENSHOTS=DIR they also save the README's screenshots.

// browserTab is one browser (its own profile) on the console.
type browserTab struct {
	t    *testing.T
	name string
	ctx  context.Context
	base string
	// acceptDialogs is set while the test expects confirm() dialogs;
	// any other dialog (an alert from injected markup) fails the test.
	acceptDialogs atomic.Bool
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: apt-get install chromium (.ci/run does)")
	return ""
}

func newBrowserTab(t *testing.T, name, base string) *browserTab {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	b := &browserTab{t: t, name: name, ctx: ctx, base: base}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot(filepath.Join(os.TempDir(), fmt.Sprintf("vaultaire-%s-%s-%d.png", t.Name(), name, time.Now().Unix())), true)
		}
		cancelC()
		cancelA()
	})
	// Any JavaScript dialog fails the test unless expected (accept sets it).
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			if !b.acceptDialogs.Load() {
				t.Errorf("%s: unexpected dialog %q", name, ev.Message)
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

func (b *browserTab) screenshot(path string, log bool) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("%s: no screenshot: %v", b.name, err)
		return
	}
	if err := os.WriteFile(path, buf, 0o644); err == nil && log {
		b.t.Logf("%s: screenshot of the failure in %s", b.name, path)
	}
}

// docShot saves a README screenshot when VAULTAIRE_DOCS_SCREENSHOTS names
// a directory.
func (b *browserTab) docShot(name string) {
	if dir := os.Getenv("VAULTAIRE_DOCS_SCREENSHOTS"); dir != "" {
		b.screenshot(filepath.Join(dir, name), false)
	}
}

func (b *browserTab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", b.name, err)
	}
}

func evalIn[T any](b *browserTab, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, js, err)
	}
	return v
}

func (b *browserTab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("%s: text of %s: %v", b.name, sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browserTab) bodyText() string {
	return evalIn[string](b, `location.href + " :: " + (document.body ? document.body.innerText : "(no body)")`)
}

func (b *browserTab) login(path, tenant, user, password string) {
	b.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(b.base + path), chromedp.WaitVisible(chromedp.CSS(`input[name=user]`))}
	if tenant != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(`input[name=tenant]`), tenant))
	}
	steps = append(steps, chromedp.SendKeys(chromedp.CSS(`input[name=user]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitReady(chromedp.CSS(`main`)))
	b.do(steps...)
}

// waitFor polls a JavaScript condition, across navigations.
func (b *browserTab) waitFor(js string) {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s: waiting for %s: %v (page: %q)", b.name, js, last, b.bodyText())
}

var consoleRe = regexp.MustCompile(`Web console at (http://[^ ]+)/ `)

func TestConsoleInBrowser(t *testing.T) {
	a := startAdminServer(t)
	m := consoleRe.FindStringSubmatch(a.output())
	if m == nil {
		t.Fatalf("no console address in the banner:\n%s", a.output())
	}
	base := m[1]
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/admin/v1/tenants", `{"id":"acme","name":"Acme Inc"}`},
		{"POST", "/admin/v1/tenants/acme/users", `{"name":"alice","password":"alice password 1"}`},
		{"POST", "/admin/v1/tenants/acme/users", `{"name":"bob","password":"bob password 1"}`},
		{"POST", "/admin/v1/operators", `{"name":"ops","password":"operator password 1"}`},
	} {
		if st, body := a.call(t, c.method, c.path, a.token, strings.NewReader(c.body)); st != http.StatusCreated {
			t.Fatalf("%s %s: %d %v", c.method, c.path, st, body)
		}
	}
	ctx := context.Background()

	// --- A tenant signs in and creates a bucket.
	tb := newBrowserTab(t, "tenant", base)
	tb.login("/login", "acme", "alice", "alice password 1")
	tb.waitFor(`location.pathname === "/buckets"`)
	tb.do(chromedp.SendKeys(chromedp.CSS(`form[action="/buckets"] input[name=name]`), "photos"),
		chromedp.Submit(chromedp.CSS(`form[action="/buckets"] input[name=name]`)))
	tb.waitFor(`location.pathname === "/buckets/photos" && !!document.querySelector("#upload")`)

	// --- Uploads 20 MiB with the progress bar.
	data := make([]byte, 20<<20)
	rand.Read(data)
	file := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Remember every value the progress bar shows (across the navigation
	// that follows the upload).
	evalIn[bool](tb, `(() => { sessionStorage.setItem("seen", "[]"); const p = document.querySelector("#upload progress");
		new MutationObserver(() => { const a = JSON.parse(sessionStorage.getItem("seen")); a.push([p.value, p.max, p.hidden]);
		sessionStorage.setItem("seen", JSON.stringify(a)); }).observe(p, {attributes: true}); return true; })()`)
	tb.do(chromedp.SetUploadFiles(chromedp.CSS(`#upload input[type=file]`), []string{file}),
		chromedp.Click(chromedp.CSS(`#upload button[type=submit]`)))
	tb.waitFor(`location.search.includes("flash=uploaded") && document.body.innerText.includes("big.bin")`)
	seen := evalIn[[][]any](tb, `JSON.parse(sessionStorage.getItem("seen") || "[]")`)
	partial := 0
	for _, s := range seen {
		v, max := s[0].(float64), s[1].(float64)
		if v > 0 && v < max && max == float64(len(data)) {
			partial++
		}
	}
	if partial == 0 {
		t.Fatalf("the progress bar never showed a partial upload: %v", seen)
	}
	tb.docShot("console-bucket.png")

	// --- Downloads it, bytes compared.
	sum := sha256.Sum256(data)
	got := evalIn[string](tb, `(async () => { const a = [...document.querySelectorAll("a[download]")].find(x => x.href.includes("big.bin"));
		const r = await fetch(a.href); const b = await r.arrayBuffer(); const d = await crypto.subtle.digest("SHA-256", b);
		return r.status + " " + b.byteLength + " " + [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, "0")).join(""); })()`)
	if want := fmt.Sprintf("200 %d %s", len(data), hex.EncodeToString(sum[:])); got != want {
		t.Fatalf("download: %s, want %s", got, want)
	}

	// --- Creates an access key and uses it from the AWS SDK.
	tb.do(chromedp.Navigate(base+"/keys"), chromedp.Click(chromedp.CSS(`form[action="/keys"] button`)))
	tb.waitFor(`!!document.querySelector("#new-key-secret")`)
	keyID, secret := tb.text("#new-key-id"), tb.text("#new-key-secret")
	s3c := a.client(keyID, secret)
	obj, err := s3c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("big.bin")})
	if err != nil {
		t.Fatalf("GetObject with the console's key: %v", err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(body, data) {
		t.Fatal("the SDK read other bytes")
	}
	evil := `<img src=x onerror=alert(1)>`
	if _, err := s3c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(evil), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}

	// --- Sees usage move (nodes report their metering every 10 s).
	deadline := time.Now().Add(60 * time.Second)
	for {
		tb.do(chromedp.Navigate(base + "/usage"))
		q := evalIn[string](tb, `document.querySelectorAll("table.invoice tbody tr")[1].children[1].textContent`)
		n, _ := strconv.ParseFloat(strings.Fields(q)[0], 64)
		egress := evalIn[string](tb, `document.querySelectorAll("table.invoice tbody tr")[3].children[1].textContent`)
		e, _ := strconv.ParseFloat(strings.Fields(egress)[0], 64)
		if n > 0 && e > 0.02 { // class A requests, and the 20 MiB downloaded twice
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage did not move: class A %q, egress %q", q, egress)
		}
		time.Sleep(2 * time.Second)
	}
	tb.docShot("console-usage.png")

	// --- A key named like markup is shown as text.
	tb.do(chromedp.Navigate(base + "/buckets/photos"))
	tb.waitFor(`document.body.innerText.includes("big.bin")`)
	if !strings.Contains(tb.bodyText(), evil) || evalIn[int](tb, `document.querySelectorAll("img").length`) != 0 {
		t.Fatalf("the key is not shown as inert text: %q", tb.bodyText())
	}

	// --- A form posted without its anti-forgery token is refused, and so
	// is one from another origin.
	tb.do(chromedp.Navigate(base + "/buckets"))
	evalIn[bool](tb, `(() => { const f = document.createElement("form"); f.method = "post"; f.action = "/buckets"; f.setAttribute("hx-boost", "false");
		const i = document.createElement("input"); i.name = "name"; i.value = "forged"; f.appendChild(i); document.body.appendChild(f);
		HTMLFormElement.prototype.submit.call(f); return true; })()`)
	tb.waitFor(`document.body.innerText.includes("anti-forgery")`)
	evilSite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form id=f method=post action="%s/buckets"><input name=name value=forged2><input name=csrf value=guess></form>`, base)
	}))
	defer evilSite.Close()
	tb.do(chromedp.Navigate(evilSite.URL), chromedp.Submit(chromedp.CSS(`#f input`)))
	tb.waitFor(`location.href.startsWith("` + base + `") && document.body.innerText.includes("anti-forgery")`)
	out, err := s3c.ListBuckets(ctx, &awss3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 1 {
		t.Fatalf("buckets after forged forms: %v %v", out, err)
	}

	// --- An operator suspends the tenant: its session and keys stop at once.
	ob := newBrowserTab(t, "operator", base)
	ob.login("/operator/login", "", "ops", "operator password 1")
	ob.waitFor(`location.pathname === "/operator" && document.body.innerText.includes("Metadata leader")`)
	ob.docShot("console-cluster.png")
	ob.do(chromedp.Navigate(base + "/operator/tenants/acme"))
	ob.acceptDialogs.Store(true)
	ob.do(chromedp.Click(chromedp.CSS(`#suspend`)))
	ob.waitFor(`document.body.innerText.includes("Tenant suspended")`)
	ob.acceptDialogs.Store(false)
	tb.do(chromedp.Navigate(base + "/buckets"))
	tb.waitFor(`location.pathname === "/login"`)
	if _, err := s3c.ListBuckets(ctx, &awss3.ListBucketsInput{}); s3Code(err) != "InvalidAccessKeyId" {
		t.Fatalf("the suspended tenant's key: %v", err)
	}
	if st, _ := a.call(t, "POST", "/admin/v1/tenants/acme/resume", a.token, nil); st != 200 {
		t.Fatalf("resume: %d", st)
	}

	// --- N wrong passwords lock the account, even for the right one.
	for i := 0; i < 5; i++ {
		tb.login("/login", "acme", "bob", "wrong password")
		tb.waitFor(`document.body.innerText.includes("Sign-in failed")`)
	}
	tb.login("/login", "acme", "bob", "bob password 1")
	tb.waitFor(`document.body.innerText.includes("Sign-in failed")`)
	if p := evalIn[string](tb, `location.pathname`); p != "/login" {
		t.Fatalf("a locked account signed in: %s", p)
	}
	auditText, _ := os.ReadFile(a.audit)
	if !strings.Contains(string(auditText), `"AccountLocked"`) || !strings.Contains(string(auditText), `"ConsoleForgeryRefused"`) {
		t.Fatal("the lockout or the forgeries are not in the audit log")
	}
	// An operator's reset unlocks it.
	if st, _ := a.call(t, "PUT", "/admin/v1/tenants/acme/users/bob/password", a.token, strings.NewReader(`{"password":"bob password 2"}`)); st != 200 {
		t.Fatalf("reset: %d", st)
	}
	tb.login("/login", "acme", "bob", "bob password 2")
	tb.waitFor(`location.pathname === "/buckets"`)
}
