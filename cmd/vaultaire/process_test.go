package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/s3/s3test"
)

// These tests run the real vaultaire binary as a child process: built once
// per test run from this tree, started on a free loopback port with its own
// data directory, and driven by the AWS SDK and the aws CLI.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vaultaire-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vaultaire")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// removeBinaryAfter runs the tests, then removes the binary they built
// (TestMain), so runs do not leave one behind in the temp dir each.
type removeBinaryAfter struct{ m *testing.M }

func (r removeBinaryAfter) Run() int {
	code := r.m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	return code
}

const (
	testKey    = "VAE2EROOTKEY"
	testSecret = "vaultaire-e2e-secret-key"
)

type server struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string
	dir    string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr *lockedBuffer
	// stderrCopy, when set before launch, gets a copy of stderr too.
	stderrCopy io.Writer
	done       chan struct{}
	exitErr    error
	endpoint   string
	// roots are the CAs a client trusts for an https endpoint.
	roots *x509.CertPool
}

// testCAs maps a certificate file made by httpsArgs to its CA.
var testCAs sync.Map // string -> *s3test.CA

// httpsArgs makes a CA and a server certificate for every loopback
// address the tests use (127.0.0.1, and 127.0.0.10-49 of the cluster
// tests) in a temp dir of t, and returns the server flags that serve
// HTTPS with them; startServer recognises them, announces https and
// trusts the CA in its clients.
func httpsArgs(t testing.TB) []string {
	t.Helper()
	ca := s3test.NewCA(t, "vaultaire test CA")
	hosts := []string{"127.0.0.1", "localhost"}
	for i := 10; i < 50; i++ {
		hosts = append(hosts, fmt.Sprintf("127.0.0.%d", i))
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Server(t, "vaultaire test server", hosts...).Write(t, certFile, keyFile)
	ca.WriteCA(t, dir, "ca.pem")
	testCAs.Store(certFile, ca)
	return []string{"--tls-cert", certFile, "--tls-key", keyFile}
}

// testCA is the CA of the certificate in args made by httpsArgs, or nil
// when args serve plain HTTP.
func testCA(args []string) *s3test.CA {
	for i, a := range args {
		if (a == "--tls-cert" || a == "-tls-cert") && i+1 < len(args) {
			if ca, ok := testCAs.Load(args[i+1]); ok {
				return ca.(*s3test.CA)
			}
		}
	}
	return nil
}

// overBoth runs f as the subtests "http" and "https"; tlsArgs are the
// server flags of the scheme (none for http), to pass to every server the
// test starts.
func overBoth(t *testing.T, f func(t *testing.T, tlsArgs []string)) {
	t.Helper()
	t.Run("http", func(t *testing.T) { f(t, nil) })
	t.Run("https", func(t *testing.T) { f(t, httpsArgs(t)) })
}

func freeAddr(t *testing.T) string { return freeAddrOn(t, "127.0.0.1") }

// freeAddrOn returns a free TCP host:port on a loopback address.
func freeAddrOn(t testing.TB, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer runs `vaultaire server` on dir; env adds variables (the test
// root credentials unless env sets VAULTAIRE_ROOT_ACCESS_KEY="").
func startServer(t testing.TB, dir string, env []string, args ...string) *server {
	t.Helper()
	return startServerOn(t, "127.0.0.1", dir, env, args...)
}

// startServerOn is startServer with every listener on host (a 127.0.0.x
// address, so cluster tests give each node its own).
func startServerOn(t testing.TB, host, dir string, env []string, args ...string) *server {
	t.Helper()
	return startServerBin(t, binary(t), host, dir, env, args...)
}

// startServerBin is startServerOn with another binary (an older release).
func startServerBin(t testing.TB, bin, host, dir string, env []string, args ...string) *server {
	t.Helper()
	// freeAddr's port is free only until someone else binds it (another
	// test, or this very server's admin listener on 127.0.0.1:0), so a
	// lost bind race is retried on a fresh port.
	for attempt := 1; ; attempt++ {
		s, lostRace := tryStartServer(t, bin, host, dir, env, args...)
		if s != nil {
			return s
		}
		if !lostRace || attempt == 3 {
			t.Fatalf("server did not start (attempt %d)", attempt)
		}
	}
}

// tryStartServer starts one server process and waits until it announces
// its S3 endpoint: a successful dial alone could reach whoever else holds
// the port. It reports a lost port race instead of failing on it.
func tryStartServer(t testing.TB, bin, host, dir string, env []string, args ...string) (srv *server, lostRace bool) {
	t.Helper()
	s := &server{t: t, dir: dir, addr: freeAddrOn(t, host), done: make(chan struct{})}
	s.endpoint = "http://" + s.addr
	if ca := testCA(args); ca != nil {
		s.endpoint, s.roots = "https://"+s.addr, ca.Pool()
	}
	s.cmd = exec.Command(bin, append([]string{"server", "--address", s.addr, "--data", dir, "--sweep-interval", "0"}, args...)...)
	s.cmd.Env = append(os.Environ(), "VAULTAIRE_ROOT_ACCESS_KEY="+testKey, "VAULTAIRE_ROOT_SECRET_KEY="+testSecret)
	// Every listener on a free port of the node's host: the defaults
	// (127.0.0.1:9001-9004) would collide with any other server on the
	// machine, another test's included. Flags in args still win.
	for _, name := range []string{"VAULTAIRE_ADMIN_ADDRESS", "VAULTAIRE_RPC_ADDRESS", "VAULTAIRE_GOSSIP_ADDRESS", "VAULTAIRE_CONSOLE_ADDRESS"} {
		s.cmd.Env = append(s.cmd.Env, name+"="+net.JoinHostPort(host, "0"))
	}
	s.cmd.Env = append(s.cmd.Env, env...)
	s.launch(t)
	stderr := s.stderr
	announced := "is serving S3 at " + s.endpoint + " "
	deadline := time.Now().Add(60 * time.Second)
	for {
		if strings.Contains(s.output(), announced) {
			return s, false
		}
		select {
		case <-s.done:
			if strings.Contains(stderr.String(), "address already in use") {
				t.Logf("port race lost on %s; retrying on another port", s.addr)
				return nil, true
			}
			t.Fatalf("server exited early: %v\nstderr:\n%s", s.exitErr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not announce %s\nstderr:\n%s", s.endpoint, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// launch starts s.cmd, collecting its stdout (output) and stderr, noting
// its exit in s.done and s.exitErr; the test's cleanup kills it.
func (s *server) launch(t testing.TB) {
	t.Helper()
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stderr = &lockedBuffer{}
	s.cmd.Stderr = s.stderr
	if s.stderrCopy != nil {
		s.cmd.Stderr = io.MultiWriter(s.stderr, s.stderrCopy)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.mu.Lock()
			s.stdout.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	go func() { s.exitErr = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.kill)
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stdout.String()
}

// waitOutput waits up to 10 s for the server's output to contain want:
// the banner is written line by line, after the listeners start, so a
// test that has seen a listener answer may still be ahead of it.
func (s *server) waitOutput(t testing.TB, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output lacks %q:\n%s", want, s.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill sends SIGKILL (a crash) and waits for the process to go.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t testing.TB) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.exitErr != nil {
			t.Fatalf("server exit after SIGTERM: %v", s.exitErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop within 60s of SIGTERM")
	}
}

func (s *server) client(key, secret string) *awss3.Client {
	opts := awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	}
	if s.roots != nil {
		// The SDK's own client, trusting the test CA.
		opts.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.RootCAs = s.roots
		})
	}
	return awss3.New(opts)
}

// httpClient is a client for raw requests to s (trusting its CA).
func (s *server) httpClient() *http.Client {
	if s.roots == nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func getObject(ctx context.Context, c *awss3.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func TestFirstStartGeneratesAndKeepsCredentials(t *testing.T) {
	overBoth(t, testFirstStartGeneratesAndKeepsCredentials)
}

func testFirstStartGeneratesAndKeepsCredentials(t *testing.T, tlsArgs []string) {
	dir := t.TempDir()
	s := startServer(t, dir, []string{"VAULTAIRE_ROOT_ACCESS_KEY=", "VAULTAIRE_ROOT_SECRET_KEY="}, tlsArgs...)
	var key string
	deadline := time.Now().Add(10 * time.Second)
	// The cluster banner, which says where the cluster secret is kept,
	// comes after the S3 one, each line a write of its own: wait for its
	// last line too (under load the test read between the two).
	for !strings.Contains(s.output(), " s3 ls s3://demo") || !strings.Contains(s.output(), "vaultaire server --join ") {
		if time.Now().After(deadline) {
			t.Fatalf("banner incomplete:\n%s", s.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, line := range strings.Split(s.output(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Access key: "); ok {
			key = v
		}
	}
	if !strings.Contains(s.output(), "aws --endpoint-url "+s.endpoint+" s3 mb") {
		t.Fatalf("banner lacks the aws example:\n%s", s.output())
	}
	// Stdout is a pipe, not a terminal: the generated secrets are not
	// printed, only where they are kept (0600 files).
	cred := filepath.Join(dir, "root.credentials")
	b, err := os.ReadFile(cred)
	if err != nil {
		t.Fatal(err)
	}
	k, secret, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
	cs, err := os.ReadFile(filepath.Join(dir, "cluster.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if k != key || strings.Contains(s.output(), secret) || strings.Contains(s.output(), strings.TrimSpace(string(cs))) {
		t.Fatalf("banner on a pipe shows a generated secret, or another key than %s:\n%s", cred, s.output())
	}
	if !strings.Contains(s.output(), "Secret key: kept in "+cred) || !strings.Contains(s.output(), "kept in "+filepath.Join(dir, "cluster.secret")) {
		t.Fatalf("banner does not say where the secrets are kept:\n%s", s.output())
	}
	for _, f := range []string{cred, filepath.Join(dir, "cluster.secret")} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
	}
	ctx := context.Background()
	if _, err := s.client(key, secret).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("first")}); err != nil {
		t.Fatalf("printed credentials do not work: %v", err)
	}
	if _, err := s.client(key, "wrong-secret").ListBuckets(ctx, &awss3.ListBucketsInput{}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	s.stop(t)

	// Second start: same key, secret not printed again, still valid.
	s2 := startServer(t, dir, []string{"VAULTAIRE_ROOT_ACCESS_KEY=", "VAULTAIRE_ROOT_SECRET_KEY="}, tlsArgs...)
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(s2.output(), secret) {
		t.Fatal("secret printed again on restart")
	}
	out, err := s2.client(key, secret).ListBuckets(ctx, &awss3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 1 || *out.Buckets[0].Name != "first" {
		t.Fatalf("after restart: %v %v", out, err)
	}
}

func TestGracefulShutdownKeepsData(t *testing.T) { overBoth(t, testGracefulShutdownKeepsData) }

func testGracefulShutdownKeepsData(t *testing.T, tlsArgs []string) {
	dir := t.TempDir()
	s := startServer(t, dir, nil, tlsArgs...)
	c := s.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bbb")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("vaultaire"), 300_000)
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bbb"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	s.stop(t)
	s2 := startServer(t, dir, nil, tlsArgs...)
	got, err := getObject(ctx, s2.client(testKey, testSecret), "bbb", "k")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after graceful restart: %v (len %d)", err, len(got))
	}
}

// stallingBody sends first, then waits for release before sending rest.
type stallingBody struct {
	first, rest []byte
	sentFirst   chan struct{}
	release     chan struct{}
	stage       int
}

func (b *stallingBody) Read(p []byte) (int, error) {
	switch b.stage {
	case 0:
		n := copy(p, b.first)
		b.first = b.first[n:]
		if len(b.first) == 0 {
			b.stage = 1
			close(b.sentFirst)
		}
		return n, nil
	case 1:
		<-b.release
		b.stage = 2
		fallthrough
	default:
		if len(b.rest) == 0 {
			return 0, io.EOF
		}
		n := copy(p, b.rest)
		b.rest = b.rest[n:]
		return n, nil
	}
}

// TestShutdownFinishesInFlightPut sends SIGTERM while a PUT is half
// uploaded: the server stops accepting, lets the PUT finish, acknowledges
// it, exits cleanly, and the artifact is there after a restart.
func TestShutdownFinishesInFlightPut(t *testing.T) { overBoth(t, testShutdownFinishesInFlightPut) }

func testShutdownFinishesInFlightPut(t *testing.T, tlsArgs []string) {
	dir := t.TempDir()
	s := startServer(t, dir, nil, tlsArgs...)
	c := s.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("drain")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	pre, err := awss3.NewPresignClient(c).PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("drain"), Key: aws.String("late")})
	if err != nil {
		t.Fatal(err)
	}
	body := &stallingBody{first: data[:len(data)/2], rest: data[len(data)/2:], sentFirst: make(chan struct{}), release: make(chan struct{})}
	req, _ := http.NewRequest(http.MethodPut, pre.URL, body)
	req.ContentLength = int64(len(data))
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := s.httpClient().Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	<-body.sentFirst
	time.Sleep(200 * time.Millisecond) // let the server read what was sent
	s.cmd.Process.Signal(syscall.SIGTERM)
	// The listener closes at once: new connections are refused while the
	// in-flight PUT is still open.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepting connections after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(body.release)
	r := <-done
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight PUT during shutdown: status %d, err %v", r.status, r.err)
	}
	select {
	case <-s.done:
		if s.exitErr != nil {
			t.Fatalf("exit after SIGTERM: %v", s.exitErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not exit after the in-flight PUT finished")
	}
	s2 := startServer(t, dir, nil, tlsArgs...)
	got, err := getObject(ctx, s2.client(testKey, testSecret), "drain", "late")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("acknowledged PUT lost across shutdown: %v", err)
	}
}
