// Package s3test starts real S3 servers for tests of code that talks to a
// remote S3 tier (drivers/s3, and the tier and lifecycle work built on it),
// and a misbehaving HTTP proxy to put in front of them:
//
//   - StartVaultaire: a second Vaultaire process (the binary built from
//     this module), on 127.0.0.1 with its own data directory;
//   - StartVersity: versitygw with its posix backend (installed by
//     `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`;
//     .ci/run does it). A missing binary fails the test, saying how to
//     install it;
//   - NewFaultProxy: a reverse proxy that passes requests through or, by
//     programmed Faults, answers errors, hangs, corrupts request or
//     response bodies, cuts or stalls responses — at the byte level, with
//     no mock of any client.
//
// Servers stop when the test that started them ends. Call RemoveBinaries
// from TestMain after m.Run to delete the Vaultaire binary built for the
// run. The remotes' clients are built from explicit options, so the
// environment's AWS_CA_BUNDLE (which breaks Go SDK clients) is not read.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersityVersion is the versitygw release the tests run against.
const VersityVersion = "v1.8.0"

// Remote is a running S3 server.
type Remote struct {
	// Kind is "vaultaire" or "versitygw".
	Kind string
	// Endpoint is the server's URL (http://127.0.0.1:port).
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	// Output returns what the server printed so far (for failure messages).
	Output func() string
	// Stop kills the server now (a crash); the test's cleanup does it too.
	Stop func()

	client  *awss3.Client
	buckets atomic.Int64
}

// Client returns an SDK client of the server with its root credentials.
func (r *Remote) Client() *awss3.Client { return r.client }

// NewBucket creates a fresh bucket on the server and returns its name.
func (r *Remote) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"), os.Getpid(), r.buckets.Add(1))
	name = regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(name, "-")
	if len(name) > 63 {
		name = fmt.Sprintf("b-%d-%d-%x", os.Getpid(), r.buckets.Load(), time.Now().UnixNano())
	}
	name = strings.Trim(name, "-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("%s: create bucket %q: %v\n%s", r.Kind, name, err, r.Output())
	}
	return name
}

func newClient(endpoint, region, key, secret string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
}

// process is a child server process.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct{ p *process }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// start runs cmd with stdout and stderr collected, killed at t's end.
func start(t testing.TB, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = lockedWriter{p}
	cmd.Stderr = lockedWriter{p}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL and waits for the process to go.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// vaultaireBinary builds cmd/vaultaire of this module once per test run.
func vaultaireBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "vaultaire-s3test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "vaultaire")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/vaultaire/vaultaire/cmd/vaultaire").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/vaultaire: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// RemoveBinaries deletes what the package built for this test run; call it
// from TestMain after m.Run.
func RemoveBinaries() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

var announce = regexp.MustCompile(`is serving S3 at (http://[0-9.:]+) `)

// StartVaultaire runs `vaultaire server` on free 127.0.0.1 ports with its
// own data directory under t.TempDir() and known root credentials, and
// waits until it serves S3.
func StartVaultaire(t testing.TB) *Remote {
	t.Helper()
	const key, secret = "S3TESTROOTKEY", "s3test-root-secret-key"
	cmd := exec.Command(vaultaireBinary(t), "server",
		"--address", "127.0.0.1:0",
		"--admin-address", "",
		"--console-address", "",
		"--rpc-address", "127.0.0.1:0",
		"--gossip-address", "127.0.0.1:0",
		"--data", t.TempDir(),
		"--sweep-interval", "0",
		"--log-level", "warn",
	)
	cmd.Env = append(os.Environ(), "VAULTAIRE_ROOT_ACCESS_KEY="+key, "VAULTAIRE_ROOT_SECRET_KEY="+secret)
	p := start(t, cmd)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if m := announce.FindStringSubmatch(p.output()); m != nil {
			r := &Remote{Kind: "vaultaire", Endpoint: m[1], Region: "us-east-1", AccessKey: key, SecretKey: secret,
				Output: p.output, Stop: p.kill}
			r.client = newClient(r.Endpoint, r.Region, key, secret)
			return r
		}
		select {
		case <-p.done:
			t.Fatalf("vaultaire server exited early: %v\n%s", p.err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("vaultaire server did not announce its endpoint\n%s", p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// VersityBinary finds versitygw on PATH, or where `go install` puts it:
// $(go env GOBIN), else $(go env GOPATH)/bin.
func VersityBinary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(lines[0]))
		}
		if len(lines) > 1 {
			for _, dir := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(dir, "bin"))
			}
		}
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw is not installed: go install github.com/versity/versitygw/cmd/versitygw@%s (.ci/run installs it)", VersityVersion)
}

// StartVersity runs versitygw's posix backend on a directory under
// t.TempDir() and a free 127.0.0.1 port, and waits until it answers.
func StartVersity(t testing.TB) *Remote {
	t.Helper()
	bin, err := VersityBinary()
	if err != nil {
		t.Fatal(err)
	}
	const key, secret = "VERSITYROOT", "versity-root-secret-key"
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "--access", key, "--secret", secret, "--port", addr, "--quiet", "posix", dir)
		p := start(t, cmd)
		r := &Remote{Kind: "versitygw", Endpoint: "http://" + addr, Region: "us-east-1", AccessKey: key, SecretKey: secret,
			Output: p.output, Stop: p.kill}
		r.client = newClient(r.Endpoint, r.Region, key, secret)
		deadline := time.Now().Add(60 * time.Second)
		for !isDone(p.done) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := r.client.ListBuckets(ctx, &awss3.ListBucketsInput{})
			cancel()
			if err == nil {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("versitygw did not answer on %s: %v\n%s", addr, err, p.output())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(p.output(), "address already in use") || attempt == 3 {
			t.Fatalf("versitygw exited early: %v\n%s", p.err, p.output())
		}
		t.Logf("versitygw lost a port race on %s; retrying", addr)
	}
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
