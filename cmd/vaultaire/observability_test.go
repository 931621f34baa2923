package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Every test server picks free ports for its admin, RPC and gossip
	// listeners, so tests run in parallel and beside a developer's node.
	for _, name := range []string{"VAULTAIRE_ADMIN_ADDRESS", "VAULTAIRE_RPC_ADDRESS", "VAULTAIRE_GOSSIP_ADDRESS", "VAULTAIRE_CONSOLE_ADDRESS"} {
		if os.Getenv(name) == "" {
			os.Setenv(name, "127.0.0.1:0")
		}
	}
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the HTTP clients the tests use.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// adminGet fetches path from the admin listener at addr.
func adminGet(t *testing.T, addr, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitAdmin waits until the admin listener answers.
func waitAdmin(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin listener %s did not come up", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sample returns the value of series (name{labels} as exposed, labels
// sorted) in the exposition text, or 0 when absent.
func sample(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return 0
}

func TestMetricsEndpointCountsRequests(t *testing.T) { overBoth(t, testMetricsEndpointCountsRequests) }

func testMetricsEndpointCountsRequests(t *testing.T, tlsArgs []string) {
	admin := freeAddr(t)
	const token = "scrape-token-123"
	s := startServer(t, t.TempDir(), nil, append([]string{"--admin-address", admin, "--metrics-token", token}, tlsArgs...)...)
	waitAdmin(t, admin)
	scrape := func() string {
		t.Helper()
		code, body := adminGet(t, admin, "/metrics", token)
		if code != 200 {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		return body
	}
	if code, _ := adminGet(t, admin, "/metrics", ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", code)
	}
	if code, _ := adminGet(t, admin, "/metrics", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("/metrics with a wrong token: %d, want 401", code)
	}

	ctx := context.Background()
	c := s.client(testKey, testSecret)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("metrics")}); err != nil {
		t.Fatal(err)
	}
	const (
		puts      = `vaultaire_s3_requests_total{operation="PutObject",status_class="2xx",tenant="root"}`
		bytesIn   = `vaultaire_s3_bytes_in_total{tenant="root"}`
		bytesOut  = `vaultaire_s3_bytes_out_total{tenant="root"}`
		notFound  = `vaultaire_s3_requests_total{operation="GetObject",status_class="4xx",tenant="root"}`
		noSuchKey = `vaultaire_s3_errors_total{code="NoSuchKey",operation="GetObject"}`
		encodes   = `vaultaire_erasure_encodes_total`
		anonymous = `vaultaire_s3_requests_total{operation="ListBuckets",status_class="4xx",tenant="anonymous"}`
		logSyncs  = `vaultaire_raft_log_syncs_total`
		logEnts   = `vaultaire_raft_log_entries_total`
	)
	before := scrape()
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: stored as shards
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("metrics"), Key: aws.String("k"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if got, err := getObject(ctx, c, "metrics", "k"); err != nil || len(got) != len(body) {
		t.Fatalf("get: %v", err)
	}
	if _, err := getObject(ctx, c, "metrics", "missing"); err == nil {
		t.Fatal("GET of a missing key succeeded")
	}
	if _, err := s.client(testKey, "not-the-secret").ListBuckets(ctx, &awss3.ListBucketsInput{}); err == nil {
		t.Fatal("bad signature accepted")
	}
	after := scrape()

	if d := sample(after, puts) - sample(before, puts); d != 1 {
		t.Errorf("PutObject 2xx for root grew by %v, want 1", d)
	}
	// The SDK may send the body aws-chunked (signatures and a trailing
	// checksum around it): bytes in counts the wire body, at least the payload.
	if d := sample(after, bytesIn) - sample(before, bytesIn); d < float64(len(body)) || d > float64(len(body))+64<<10 {
		t.Errorf("bytes in grew by %v, want about %d", d, len(body))
	}
	if d := sample(after, bytesOut) - sample(before, bytesOut); d < float64(len(body)) {
		t.Errorf("bytes out grew by %v, want >= %d", d, len(body))
	}
	if d := sample(after, notFound) - sample(before, notFound); d != 1 {
		t.Errorf("GetObject 4xx grew by %v, want 1", d)
	}
	if d := sample(after, noSuchKey) - sample(before, noSuchKey); d != 1 {
		t.Errorf("NoSuchKey errors grew by %v, want 1", d)
	}
	if d := sample(after, encodes) - sample(before, encodes); d < 1 {
		t.Errorf("erasure encodes grew by %v, want >= 1", d)
	}
	if d := sample(after, anonymous) - sample(before, anonymous); d < 1 {
		t.Errorf("a request failing authentication is not counted as anonymous (grew by %v)", d)
	}
	// The PUT committed at least one metadata write: a synced log append.
	if ds, de := sample(after, logSyncs)-sample(before, logSyncs), sample(after, logEnts)-sample(before, logEnts); ds < 1 || de < ds {
		t.Errorf("raft log syncs grew by %v and entries by %v, want >= 1 and >= syncs", ds, de)
	}
	for _, want := range []string{
		`vaultaire_s3_request_duration_seconds_bucket{operation="PutObject",le="60"}`,
		`vaultaire_drive_online{drive=`,
		`vaultaire_drive_free_bytes{drive=`,
		`vaultaire_drive_io_errors_total{drive=`,
		`vaultaire_raft_state{state="Leader"} 1`,
		`vaultaire_raft_commit_index `,
		`vaultaire_raft_apply_duration_seconds_count `,
		`vaultaire_metastore_disk_usage_bytes `,
		`vaultaire_raft_log_sync_seconds_total `,
		`vaultaire_s3_requests_in_flight 0`,
		`go_goroutines `,
		`vaultaire_process_resident_memory_bytes `,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(after, `key=`) || strings.Contains(after, `"missing"`) {
		t.Error("an object key appears in the metrics")
	}
}

type readyBody struct {
	Ready   bool     `json:"ready"`
	Reasons []string `json:"reasons"`
	Drives  struct {
		Online int `json:"online"`
	} `json:"drives"`
}

func TestReadinessFollowsDrives(t *testing.T) {
	dir := t.TempDir()
	admin := freeAddr(t)
	var args []string
	var drives []string
	for i := 1; i <= 4; i++ {
		d := filepath.Join(dir, "disk"+strconv.Itoa(i))
		drives = append(drives, d)
		args = append(args, "--drive", d)
	}
	startServer(t, filepath.Join(dir, "data"), nil, append(args, "--admin-address", admin)...)
	waitAdmin(t, admin)

	ready := func() (int, readyBody) {
		t.Helper()
		code, body := adminGet(t, admin, "/health/ready", "")
		var rb readyBody
		if err := json.Unmarshal([]byte(body), &rb); err != nil {
			t.Fatalf("/health/ready is not JSON: %v\n%s", err, body)
		}
		return code, rb
	}
	if code, body := adminGet(t, admin, "/health/live", ""); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("/health/live: %d %s", code, body)
	}
	if code, rb := ready(); code != 200 || !rb.Ready || rb.Drives.Online != 4 {
		t.Fatalf("/health/ready at start: %d %+v", code, rb)
	}

	// 3 of 4 drives gone: below the write quorum of 2+2 (3).
	for _, d := range drives[1:] {
		if err := os.Rename(d, d+".gone"); err != nil {
			t.Fatal(err)
		}
	}
	code, rb := ready()
	if code != http.StatusServiceUnavailable || rb.Ready || rb.Drives.Online != 1 {
		t.Fatalf("/health/ready with 3 drives gone: %d %+v", code, rb)
	}
	if len(rb.Reasons) == 0 || !strings.Contains(strings.Join(rb.Reasons, ";"), "write quorum") {
		t.Errorf("503 without the reason: %+v", rb)
	}
	_, m := adminGet(t, admin, "/metrics", "")
	if got := regexp.MustCompile(`(?m)^vaultaire_drive_online\{drive="[^"]+"\} 0$`).FindAllString(m, -1); len(got) != 3 {
		t.Errorf("drives reported offline in /metrics: %d, want 3\n%v", len(got), got)
	}

	// The drives come back: readiness rechecks them.
	for _, d := range drives[1:] {
		if err := os.Rename(d+".gone", d); err != nil {
			t.Fatal(err)
		}
	}
	if code, rb := ready(); code != 200 || !rb.Ready || rb.Drives.Online != 4 {
		t.Fatalf("/health/ready after the drives came back: %d %+v", code, rb)
	}
}

// recordingTransport remembers every Authorization header and presigned
// signature the client sends.
type recordingTransport struct {
	mu      sync.Mutex
	secrets []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	if a := req.Header.Get("Authorization"); a != "" {
		r.secrets = append(r.secrets, a)
		if _, sig, ok := strings.Cut(a, "Signature="); ok {
			r.secrets = append(r.secrets, sig)
		}
	}
	if sig := req.URL.Query().Get("X-Amz-Signature"); sig != "" {
		r.secrets = append(r.secrets, sig)
	}
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recordingTransport) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.secrets...)
}

// startLogged runs the server like startServer and returns its stderr.
func startLogged(t *testing.T, args ...string) (*server, *lockedBuffer) {
	t.Helper()
	s := startServer(t, t.TempDir(), nil, args...)
	return s, s.stderr
}

func TestLogsCarryRequestIDsAndNoSecrets(t *testing.T) {
	s, stderr := startLogged(t, "--log-level", "debug", "--log-format", "json")
	rec := &recordingTransport{}
	client := func(secret string) *awss3.Client {
		return awss3.New(awss3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(s.endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(testKey, secret, ""),
			HTTPClient:  &http.Client{Transport: rec},
		})
	}
	ctx := context.Background()
	c := client(testSecret)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String("k"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	if _, err := getObject(ctx, c, "logs", "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := getObject(ctx, c, "logs", "absent"); err == nil {
		t.Fatal("absent key found")
	}
	if _, err := client("a-wrong-secret-key").ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("logs")}); err == nil {
		t.Fatal("bad signature accepted")
	}
	// A presigned GET, and one with a tampered signature.
	pre, err := awss3.NewPresignClient(c).PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{pre.URL, strings.Replace(pre.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1)} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		resp, err := (&http.Client{Transport: rec}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// A malformed Authorization header with a secret-looking value.
	req, _ := http.NewRequest(http.MethodGet, s.endpoint+"/logs", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/garbage, Signature=deadbeefcafe0123456789")
	resp, err := (&http.Client{Transport: rec}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.stop(t)

	logs := stderr.String()
	if !strings.Contains(logs, `"msg":"s3: request"`) {
		t.Fatalf("no debug request logs:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"s3: request"`) && !regexp.MustCompile(`"request_id":"[^"]+"`).MatchString(line) {
			t.Errorf("request log without a request id: %s", line)
		}
	}
	secrets := append(rec.all(), testSecret)
	if len(secrets) < 8 {
		t.Fatalf("recorded only %d signatures", len(secrets))
	}
	for _, sec := range secrets {
		if strings.Contains(logs, sec) {
			t.Errorf("stderr contains a secret or signature %q", sec)
		}
	}
}

// TestAdminInProcess runs the server in this process (so the race detector
// sees the collectors, the request hook and the handlers together) and
// scrapes while requests run.
func TestAdminInProcess(t *testing.T) {
	t.Setenv("VAULTAIRE_ROOT_ACCESS_KEY", testKey)
	t.Setenv("VAULTAIRE_ROOT_SECRET_KEY", testSecret)
	addr, admin := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	dir := t.TempDir()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"server", "--address", addr, "--admin-address", admin, "--data", dir,
			"--sweep-interval", "0", "--scrub-interval", "0", "--console-address", "",
			"--rpc-address", "127.0.0.1:0", "--gossip-address", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	stopped := false
	t.Cleanup(func() { // before dir is removed, also when the test fails
		cancel()
		if !stopped {
			<-exited
		}
	})
	waitAdmin(t, addr)
	waitAdmin(t, admin)
	s := &server{endpoint: "http://" + addr}
	c := s.client(testKey, testSecret)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("race")}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				key := "k" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String(key),
					Body: bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 40<<10))}); err != nil {
					t.Error(err)
				}
				getObject(ctx, c, "race", key)
			}
		}(w)
	}
	for i := 0; i < 10; i++ {
		if code, body := adminGet(t, admin, "/metrics", ""); code != 200 {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		if code, body := adminGet(t, admin, "/health/ready", ""); code != 200 {
			t.Fatalf("/health/ready: %d %s", code, body)
		}
	}
	wg.Wait()
	_, text := adminGet(t, admin, "/metrics", "")
	if got := sample(text, `vaultaire_s3_requests_total{operation="PutObject",status_class="2xx",tenant="root"}`); got != 20 {
		t.Errorf("PutObject count %v, want 20", got)
	}
	cancel()
	select {
	case code := <-exited:
		stopped = true
		if code != 0 {
			t.Fatalf("server exit %d\n%s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop")
	}
	http.DefaultClient.CloseIdleConnections()
}
