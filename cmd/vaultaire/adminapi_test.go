package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// adminServer is a server with the admin API on a known address.
type adminServer struct {
	*server
	admin string // host:port
	token string
	audit string // audit file path
}

func startAdminServer(t testing.TB, extra ...string) *adminServer {
	t.Helper()
	dir := t.TempDir()
	a := &adminServer{admin: freeAddrOn(t, "127.0.0.1"), audit: filepath.Join(t.TempDir(), "audit.log")}
	a.server = startServer(t, dir, nil, append([]string{"--admin-address", a.admin, "--audit-file", a.audit}, extra...)...)
	waitAdmin(t, a.admin)
	a.waitOutput(t, "Admin API on ")
	fi, err := os.Stat(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatalf("admin token not generated: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	a.token = strings.TrimSpace(string(b))
	if a.token == "" {
		t.Fatal("empty admin token")
	}
	if out := a.output(); strings.Contains(out, a.token) || !strings.Contains(out, "admin.token") {
		t.Errorf("banner must name the token file, not the token:\n%s", out)
	}
	return a
}

func (a *adminServer) stderr() string { return a.cmd.Stderr.(*lockedBuffer).String() }

// call sends one admin request and returns the status and decoded body.
func (a *adminServer) call(t testing.TB, method, path, token string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.admin+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

func TestAdminAPIAuthAndValidation(t *testing.T) {
	a := startAdminServer(t)
	routes := []struct{ method, path string }{
		{"POST", "/admin/v1/tenants"},
		{"GET", "/admin/v1/tenants"},
		{"GET", "/admin/v1/tenants/root"},
		{"POST", "/admin/v1/tenants/root/suspend"},
		{"POST", "/admin/v1/tenants/root/resume"},
		{"POST", "/admin/v1/tenants/root/users"},
		{"GET", "/admin/v1/tenants/root/users"},
		{"POST", "/admin/v1/tenants/root/users/root/keys"},
		{"GET", "/admin/v1/tenants/root/keys"},
		{"POST", "/admin/v1/keys/" + testKey + "/disable"},
		{"POST", "/admin/v1/keys/" + testKey + "/enable"},
		{"DELETE", "/admin/v1/keys/" + testKey},
		{"GET", "/admin/v1/tenants/root/limits"},
		{"PUT", "/admin/v1/tenants/root/limits"},
		{"PUT", "/admin/v1/tenants/root/quota"},
		{"GET", "/admin/v1/tenants/root/containers/b/quota"},
		{"PUT", "/admin/v1/tenants/root/containers/b/quota"},
		{"GET", "/admin/v1/tenants/root/usage"},
		{"GET", "/admin/v1/no-such-route"},
		{"GET", "/debug/pprof/"},
		{"GET", "/debug/pprof/heap"},
		{"GET", "/debug/pprof/profile"},
		{"GET", "/debug/pprof/trace"},
	}
	for _, r := range routes {
		for _, tok := range []string{"", "wrong-token", testSecret, a.token + "x"} {
			if st, m := a.call(t, r.method, r.path, tok, strings.NewReader(`{"id":"abc"}`)); st != http.StatusUnauthorized || m["code"] != "Unauthorized" {
				t.Errorf("%s %s with token %q: %d %v, want 401", r.method, r.path, tok, st, m)
			}
		}
	}
	// Nothing changed: the root key still works.
	if _, err := a.client(testKey, testSecret).ListBuckets(context.Background(), &awss3.ListBucketsInput{}); err != nil {
		t.Fatalf("root key after unauthorized calls: %v", err)
	}

	if st, _ := a.call(t, "POST", "/admin/v1/tenants", a.token, strings.NewReader(`{"id":"acme","name":"Acme","plan":"pro"}`)); st != http.StatusCreated {
		t.Fatalf("create acme: %d", st)
	}
	big := `{"id":"big","name":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/admin/v1/tenants", `{"id":`, 400, "MalformedJSON"},
		{"not an object", "POST", "/admin/v1/tenants", `[1,2]`, 400, "MalformedJSON"},
		{"two objects", "POST", "/admin/v1/tenants", `{"id":"abc"}{"id":"abd"}`, 400, "MalformedJSON"},
		{"empty body", "POST", "/admin/v1/tenants", ``, 400, "MalformedJSON"},
		{"oversized body", "POST", "/admin/v1/tenants", big, 400, "BodyTooLarge"},
		{"unknown field", "POST", "/admin/v1/tenants", `{"id":"abc","admin":true}`, 400, "UnknownField"},
		{"short tenant id", "POST", "/admin/v1/tenants", `{"id":"ab"}`, 400, "InvalidTenantID"},
		{"upper-case tenant id", "POST", "/admin/v1/tenants", `{"id":"Acme"}`, 400, "InvalidTenantID"},
		{"long tenant id", "POST", "/admin/v1/tenants", `{"id":"` + strings.Repeat("a", 64) + `"}`, 400, "InvalidTenantID"},
		{"tenant id with punctuation", "GET", "/admin/v1/tenants/ab%21c", "", 400, "InvalidTenantID"},
		{"tenant id in path", "GET", "/admin/v1/tenants/A_B", "", 400, "InvalidTenantID"},
		{"bad user name", "POST", "/admin/v1/tenants/acme/users", `{"name":"a b"}`, 400, "InvalidUserName"},
		{"password too long", "POST", "/admin/v1/tenants/acme/users", `{"name":"bob","password":"` + strings.Repeat("p", 73) + `"}`, 400, "InvalidPassword"},
		{"user unknown field", "POST", "/admin/v1/tenants/acme/users", `{"name":"bob","role":"admin"}`, 400, "UnknownField"},
		{"bad key id", "POST", "/admin/v1/keys/a.b/disable", "", 400, "InvalidAccessKeyID"},
		{"missing tenant", "GET", "/admin/v1/tenants/nope", "", 404, "TenantNotFound"},
		{"suspend missing tenant", "POST", "/admin/v1/tenants/nope/suspend", "", 404, "TenantNotFound"},
		{"users of missing tenant", "GET", "/admin/v1/tenants/nope/users", "", 404, "TenantNotFound"},
		{"user in missing tenant", "POST", "/admin/v1/tenants/nope/users", `{"name":"bob"}`, 404, "TenantNotFound"},
		{"keys of missing tenant", "GET", "/admin/v1/tenants/nope/keys", "", 404, "TenantNotFound"},
		{"key of missing user", "POST", "/admin/v1/tenants/acme/users/bob/keys", "", 404, "UserNotFound"},
		{"disable missing key", "POST", "/admin/v1/keys/VANOPE/disable", "", 404, "AccessKeyNotFound"},
		{"delete missing key", "DELETE", "/admin/v1/keys/VANOPE", "", 404, "AccessKeyNotFound"},
		{"duplicate tenant", "POST", "/admin/v1/tenants", `{"id":"acme"}`, 409, "TenantExists"},
		{"duplicate root", "POST", "/admin/v1/tenants", `{"id":"root"}`, 409, "TenantExists"},
		{"suspend root", "POST", "/admin/v1/tenants/root/suspend", "", 400, "InvalidArgument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, m := a.call(t, c.method, c.path, a.token, strings.NewReader(c.body))
			if st != c.status || m["code"] != c.code {
				t.Fatalf("%d %v, want %d %s", st, m, c.status, c.code)
			}
			if msg, _ := m["error"].(string); msg == "" || strings.Contains(msg, "metastore") {
				t.Errorf("error message %q", msg)
			}
		})
	}
	if st, _ := a.call(t, "POST", "/admin/v1/tenants/acme/users", a.token, strings.NewReader(`{"name":"bob"}`)); st != http.StatusCreated {
		t.Fatalf("create bob: %d", st)
	}
	if st, m := a.call(t, "POST", "/admin/v1/tenants/acme/users", a.token, strings.NewReader(`{"name":"bob"}`)); st != http.StatusConflict || m["code"] != "UserExists" {
		t.Fatalf("duplicate user: %d %v", st, m)
	}
	if st, m := a.call(t, "GET", "/admin/v1/tenants", a.token, nil); st != 200 || len(m["tenants"].([]any)) != 2 {
		t.Fatalf("list tenants: %d %v", st, m)
	}
}

// runCLI runs the vaultaire binary with args (env added to the test's
// environment) and returns its stdout, stderr and exit status.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// adminCLI runs `vaultaire admin` against a and returns stdout; it fails
// the test unless the exit code is want.
func (a *adminServer) cli(t *testing.T, want int, args ...string) string {
	t.Helper()
	stdout, stderr, code := runCLI(t, []string{"VAULTAIRE_ADMIN_TOKEN="}, append([]string{"admin", "--endpoint", "http://" + a.admin, "--data", a.dir}, args...)...)
	if code != want {
		t.Fatalf("vaultaire admin %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, stdout, stderr)
	}
	return stdout
}

func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func TestAdminCLIKeysAndTenantIsolation(t *testing.T) {
	a := startAdminServer(t)
	ctx := context.Background()

	newKey := func(tenant, user string) (string, string) {
		t.Helper()
		a.cli(t, 0, "tenant", "create", tenant, "--name", strings.ToUpper(tenant), "--plan", "pro")
		a.cli(t, 0, "user", "create", tenant, user, "--password", "correct horse")
		var k struct {
			AccessKeyID string `json:"access_key_id"`
			SecretKey   string `json:"secret_key"`
		}
		out := a.cli(t, 0, "--json", "key", "create", tenant, user)
		if err := json.Unmarshal([]byte(out), &k); err != nil || k.AccessKeyID == "" || len(k.SecretKey) != 40 {
			t.Fatalf("key create output %q: %v", out, err)
		}
		return k.AccessKeyID, k.SecretKey
	}
	keyA, secretA := newKey("acme", "alice")
	keyB, secretB := newKey("bravo", "bob")
	secrets := []string{secretA, secretB, a.token}

	// Table output and usage errors.
	if out := a.cli(t, 0, "tenant", "list"); !strings.Contains(out, "acme") || !strings.Contains(out, "bravo") || !strings.Contains(out, "STATE") {
		t.Errorf("tenant list:\n%s", out)
	}
	if out := a.cli(t, 0, "key", "list", "acme"); !strings.Contains(out, keyA) || strings.Contains(out, secretA) || strings.Contains(out, keyB) {
		t.Errorf("key list acme:\n%s", out)
	}
	if out := a.cli(t, 0, "user", "list", "acme"); !strings.Contains(out, "alice") {
		t.Errorf("user list:\n%s", out)
	}
	// --password - reads the password from standard input.
	cmd := exec.Command(binary(t), "admin", "--endpoint", a.admin, "--data", a.dir, "user", "create", "acme", "carol", "--password", "-")
	cmd.Env = append(os.Environ(), "VAULTAIRE_ADMIN_TOKEN=")
	cmd.Stdin = strings.NewReader("from stdin\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user create --password -: %v\n%s", err, out)
	}
	if out := a.cli(t, 0, "user", "list", "acme"); !regexp.MustCompile(`carol\s+true`).MatchString(out) {
		t.Errorf("carol should have a password:\n%s", out)
	}
	a.cli(t, 1, "tenant", "show", "nope")
	a.cli(t, 1, "tenant", "create", "acme")
	a.cli(t, 2, "tenant", "create")
	a.cli(t, 2, "frobnicate", "now")

	ca, cb := a.client(keyA, secretA), a.client(keyB, secretB)
	for _, c := range []*awss3.Client{ca, cb} {
		if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
			t.Fatalf("create bucket photos: %v", err)
		}
	}
	put := func(c *awss3.Client, key, body string) error {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(key), Body: strings.NewReader(body)})
		return err
	}
	if err := put(ca, "cat.jpg", "acme's cat"); err != nil {
		t.Fatal(err)
	}
	if err := put(cb, "dog.jpg", "bravo's dog"); err != nil {
		t.Fatal(err)
	}
	if b, err := getObject(ctx, ca, "photos", "cat.jpg"); err != nil || string(b) != "acme's cat" {
		t.Fatalf("acme get: %q %v", b, err)
	}
	if _, err := getObject(ctx, cb, "photos", "cat.jpg"); s3Code(err) != "NoSuchKey" {
		t.Fatalf("bravo reading acme's artifact: %v, want NoSuchKey", err)
	}
	listing := func(c *awss3.Client) []string {
		t.Helper()
		out, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("photos")})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, *o.Key)
		}
		return keys
	}
	if got := listing(cb); !slices.Equal(got, []string{"dog.jpg"}) {
		t.Errorf("bravo's listing %v", got)
	}
	if got := listing(ca); !slices.Equal(got, []string{"cat.jpg"}) {
		t.Errorf("acme's listing %v", got)
	}
	buckets := func(c *awss3.Client) []string {
		t.Helper()
		out, err := c.ListBuckets(ctx, &awss3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range out.Buckets {
			names = append(names, *b.Name)
		}
		return names
	}
	if _, err := a.client(testKey, testSecret).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("rootonly")}); err != nil {
		t.Fatal(err)
	}
	if got := buckets(cb); !slices.Equal(got, []string{"photos"}) {
		t.Errorf("bravo's buckets %v", got)
	}

	// works reports whether acme's key is accepted, else the S3 code.
	works := func(want string) {
		t.Helper()
		_, err := getObject(ctx, ca, "photos", "cat.jpg")
		if got := s3Code(err); got != want {
			t.Fatalf("acme's key: %q, want %q", got, want)
		}
	}
	a.cli(t, 0, "key", "disable", keyA)
	works("InvalidAccessKeyId")
	if _, err := getObject(ctx, cb, "photos", "dog.jpg"); err != nil {
		t.Fatalf("bravo after acme's key was disabled: %v", err)
	}
	a.cli(t, 0, "key", "enable", keyA)
	works("")
	a.cli(t, 0, "tenant", "suspend", "acme")
	works("InvalidAccessKeyId")
	if out := a.cli(t, 0, "tenant", "show", "acme"); !strings.Contains(out, "suspended") {
		t.Errorf("tenant show after suspend:\n%s", out)
	}
	a.cli(t, 0, "tenant", "resume", "acme")
	works("")
	a.cli(t, 0, "key", "delete", keyA)
	works("InvalidAccessKeyId")
	a.cli(t, 1, "key", "delete", keyA)

	// The audit log has the admin operations, and no secret anywhere.
	a.stop(t)
	raw, err := os.ReadFile(a.audit)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ev struct {
			Operation string `json:"operation"`
			Admin     bool   `json:"admin"`
			Tenant    string `json:"tenant"`
			Status    int    `json:"status"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Admin {
			if ev.RequestID == "" {
				t.Errorf("admin event without request id: %s", line)
			}
			seen[ev.Operation+"/"+ev.Tenant+"/"+http.StatusText(ev.Status)] = true
		}
	}
	for _, want := range []string{
		"CreateTenant/acme/Created", "CreateTenant/acme/Conflict", "CreateUser/acme/Created", "CreateAccessKey/acme/Created",
		"ListTenants//OK", "ListAccessKeys/acme/OK", "DisableAccessKey/acme/OK", "EnableAccessKey/acme/OK",
		"SuspendTenant/acme/OK", "ResumeTenant/acme/OK", "DeleteAccessKey/acme/OK", "GetTenant/nope/Not Found",
	} {
		if !seen[want] {
			t.Errorf("audit log lacks admin event %s; have %v", want, seen)
		}
	}
	for _, s := range secrets {
		if strings.Contains(string(raw), s) {
			t.Errorf("a secret appears in the audit log")
		}
		if strings.Contains(a.stderr(), s) {
			t.Errorf("a secret appears in the server's stderr")
		}
	}
}

// TestAdminProfiling: the runtime profiles answer only with the admin
// token, and every request is audited.
func TestAdminProfiling(t *testing.T) {
	a := startAdminServer(t)
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+a.admin+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get("/debug/pprof/heap?debug=1", a.token); st != 200 || !strings.Contains(body, "heap profile") {
		t.Fatalf("heap profile: %d %.200q", st, body)
	}
	if st, body := get("/debug/pprof/goroutine?debug=1", a.token); st != 200 || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("goroutine profile: %d %.200q", st, body)
	}
	if st, body := get("/debug/pprof/profile?seconds=1", a.token); st != 200 || len(body) == 0 {
		t.Fatalf("CPU profile: %d, %d bytes", st, len(body))
	}
	if st, _ := get("/debug/pprof/no-such-profile", a.token); st != 404 {
		t.Fatalf("unknown profile: %d, want 404", st)
	}
	if st, body := get("/debug/pprof/heap?debug=1", ""); st != 401 || strings.Contains(body, "heap profile") {
		t.Fatalf("heap profile without the token: %d %.200q", st, body)
	}
	// The audit file gets one line per request, the refused one included.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(a.audit)
		if n := strings.Count(string(b), `"Profile"`); n >= 5 {
			if !strings.Contains(string(b), `"/debug/pprof/heap"`) {
				t.Fatalf("audit lacks the profile path:\n%s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit has not 5 Profile events:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
