package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/s3/s3test"
)

// tlsConn is one client connection to a server's S3 port.
type tlsConn struct {
	c  *tls.Conn
	br *bufio.Reader
}

func dialS3(t *testing.T, s *server, conf *tls.Config) *tlsConn {
	t.Helper()
	if conf == nil {
		conf = &tls.Config{}
	}
	conf.RootCAs = s.roots
	c, err := tls.Dial("tcp", s.addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &tlsConn{c: c, br: bufio.NewReader(c)}
}

func (tc *tlsConn) cert() *x509.Certificate { return tc.c.ConnectionState().PeerCertificates[0] }

// get sends an anonymous GET / and returns the status (403: answered).
func (tc *tlsConn) get(t *testing.T) int {
	t.Helper()
	tc.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(tc.c, "GET / HTTP/1.1\r\nHost: s3\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(tc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitCert dials until a new connection is served want.
func waitCert(t *testing.T, s *server, want *x509.Certificate, why string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tc := dialS3(t, s, nil)
		got := tc.cert()
		tc.c.Close()
		if got.Equal(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: new connections still get %q", why, got.Subject.CommonName)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTLSReloadWithoutRestart: a renewed certificate is taken on SIGHUP,
// or by itself when the files change; new connections get it, and a
// connection opened before keeps working on the old one. A SIGHUP to a
// server without TLS changes nothing (and does not end it).
func TestTLSReloadWithoutRestart(t *testing.T) {
	for _, mode := range []string{"sighup", "files changed"} {
		t.Run(mode, func(t *testing.T) {
			args := httpsArgs(t)
			ca, certFile, keyFile := testCA(args), args[1], args[3]
			interval := "0" // SIGHUP only
			if mode == "files changed" {
				interval = "100ms"
			}
			s := startServer(t, t.TempDir(), nil, append(args, "--tls-reload-interval", interval)...)
			old := dialS3(t, s, nil)
			if old.get(t) != 403 {
				t.Fatal("no answer on the first connection")
			}
			oldCert := old.cert()
			renewed := ca.Server(t, "renewed", "127.0.0.1")
			renewed.Write(t, certFile, keyFile)
			if mode == "sighup" {
				// Without the signal (and without polling) nothing changes.
				time.Sleep(300 * time.Millisecond)
				if tc := dialS3(t, s, nil); !tc.cert().Equal(oldCert) {
					t.Fatal("the certificate changed before SIGHUP")
				}
				s.cmd.Process.Signal(syscall.SIGHUP)
			}
			waitCert(t, s, renewed.Cert, mode)
			if old.get(t) != 403 || !old.cert().Equal(oldCert) {
				t.Fatal("the connection opened before the reload broke")
			}
			// Files that do not load keep the current certificate.
			if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
				t.Fatal(err)
			}
			if mode == "sighup" {
				s.cmd.Process.Signal(syscall.SIGHUP)
			}
			time.Sleep(300 * time.Millisecond)
			if tc := dialS3(t, s, nil); !tc.cert().Equal(renewed.Cert) {
				t.Fatal("a broken key file replaced the certificate")
			}
			// The server is still the same process, serving.
			if !s.alive() || dialS3(t, s, nil).get(t) != 403 {
				t.Fatal("server not serving after the reloads")
			}
		})
	}
	t.Run("no tls", func(t *testing.T) {
		s := startServer(t, t.TempDir(), nil)
		s.cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(s.stderr.String(), "nothing to reload") {
			if time.Now().After(deadline) || !s.alive() {
				t.Fatalf("SIGHUP without TLS: alive %v, stderr:\n%s", s.alive(), s.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := s.client(testKey, testSecret).ListBuckets(context.Background(), &awss3.ListBucketsInput{}); err != nil {
			t.Fatalf("after SIGHUP: %v", err)
		}
	})
}

// TestMutualTLSOnS3Port: with --tls-client-ca only clients presenting a
// certificate that CA signed are served, and they still sign requests.
func TestMutualTLSOnS3Port(t *testing.T) {
	clients := s3test.NewCA(t, "client CA")
	dir := t.TempDir()
	caFile := clients.WriteCA(t, dir, "clients.pem")

	// The flag needs TLS.
	out, err := exec.Command(binary(t), "server", "--data", filepath.Join(dir, "x"), "--tls-client-ca", caFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--tls-client-ca needs --tls-cert") {
		t.Fatalf("--tls-client-ca without --tls-cert: %v\n%s", err, out)
	}

	s := startServer(t, filepath.Join(dir, "data"), nil, append(httpsArgs(t), "--tls-client-ca", caFile)...)
	ctx := context.Background()
	// Without a client certificate: no connection.
	if _, err := s.client(testKey, testSecret).ListBuckets(ctx, &awss3.ListBucketsInput{}); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	stranger := s3test.NewCA(t, "stranger").Client(t, "stranger").TLS(t)
	withCert := func(cert tls.Certificate) *awss3.Client {
		return awss3.New(s.client(testKey, testSecret).Options(), func(o *awss3.Options) {
			o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
				tr.TLSClientConfig = &tls.Config{RootCAs: s.roots, Certificates: []tls.Certificate{cert}}
			})
		})
	}
	if _, err := withCert(stranger).ListBuckets(ctx, &awss3.ListBucketsInput{}); err == nil {
		t.Fatal("a client with a certificate of another CA was served")
	}
	c := withCert(clients.Client(t, "backup job").TLS(t))
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("mtls")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("mutual"), 100_000)
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("mtls"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if got, err := getObject(ctx, c, "mtls", "k"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GET over mutual TLS: %v", err)
	}
	// A certificate is not a credential.
	if _, err := awss3.New(c.Options(), func(o *awss3.Options) {
		o.Credentials = aws.AnonymousCredentials{}
	}).ListBuckets(ctx, &awss3.ListBucketsInput{}); s3Code(err) != "AccessDenied" {
		t.Fatalf("anonymous request with a client certificate: %v", err)
	}
}
