package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/s3test"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// harness is one real engine behind one s3.Server, served as vaultaire
// serves it (Server.HTTPServer) both over HTTPS, with the production TLS
// settings (s3.Certs) and a certificate made in the test, and over plain
// HTTP. Every end-to-end test runs over both (overBoth); secure says which
// one the harness's raw requests (do, signReq, rawHTTP) and ep() use.
// The SDK over TLS sends aws-chunked trailer checksums, as it does
// against AWS; over HTTP it signs payload hashes.
type harness struct {
	node       *nodetest.Node
	eng        *node.Engine
	cred       node.Credential
	srv        *s3.Server
	tls, plain *endpoint
	secure     bool
	ca         *s3test.CA
}

// endpoint is one listener of the harness.
type endpoint struct {
	URL string
	// raw: plain net/http, as a hand-written client; sdk: like the SDK's
	// default client, it waits up to 5 s for "100 Continue" before
	// sending a large body.
	raw, sdk *http.Transport
	// writes counts the server's writes into its sockets below TLS (the
	// write syscalls); HTTPS endpoints only, so the plain one keeps its
	// *net.TCPConn.
	writes atomic.Int64
}

// countListener counts the writes into the connections it accepts.
type countListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &writeCountConn{Conn: c, writes: l.writes}, nil
}

type writeCountConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *writeCountConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// CloseWrite ends the socket's write side (the refusal's lingering close).
func (c *writeCountConn) CloseWrite() error {
	return c.Conn.(interface{ CloseWrite() error }).CloseWrite()
}

// Client is a client for raw requests.
func (e *endpoint) Client() *http.Client { return &http.Client{Transport: e.raw} }

// overBoth runs f as the subtests "http" and "https".
func overBoth(t *testing.T, f func(t *testing.T, secure bool)) {
	t.Helper()
	for _, secure := range []bool{false, true} {
		name := "http"
		if secure {
			name = "https"
		}
		t.Run(name, func(t *testing.T) { f(t, secure) })
	}
}

// over makes the harness's raw requests use HTTPS (secure) or HTTP.
func (h *harness) over(secure bool) *harness {
	h.secure = secure
	return h
}

// ep is the endpoint of the harness's scheme.
func (h *harness) ep() *endpoint {
	if h.secure {
		return h.tls
	}
	return h.plain
}

func newHarnessTB(t testing.TB) *harness { return newHarnessNode(t, nodetest.Options{}, nil) }

func newHarness(t *testing.T, mod func(*s3.Config)) *harness {
	t.Helper()
	return newHarnessNode(t, nodetest.Options{}, mod)
}

func newHarnessNode(t testing.TB, opts nodetest.Options, mod func(*s3.Config)) *harness {
	t.Helper()
	n := nodetest.StartNode(t, opts)
	eng, cred := n.Engine, n.Cred
	cfg := s3.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := s3.New(cfg, eng)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{node: n, eng: eng, cred: cred, srv: srv, ca: s3test.NewCA(t, "harness CA")}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	// *.s3.local: virtual-hosted-style requests over TLS; *.root.s3.local:
	// tenant-qualified ones (bucket.root.s3.local).
	h.ca.Server(t, "harness", "127.0.0.1", "localhost", "s3.local", "*.s3.local", "*.root.s3.local").Write(t, certFile, keyFile)
	certs, err := s3.NewCerts(s3.TLSFiles{CertFile: certFile, KeyFile: keyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.plain = serveHarness(t, srv, nil, nil)
	h.tls = serveHarness(t, srv, certs, h.ca.Pool())
	return h
}

// serveHarness serves srv on a fresh loopback port, over TLS with certs
// when given; roots are the client's trusted CAs.
func serveHarness(t testing.TB, srv *s3.Server, certs *s3.Certs, roots *x509.CertPool) *endpoint {
	t.Helper()
	return serveHarnessTLS(t, srv, certs, roots, true)
}

// serveHarnessTLS is serveHarness; over TLS without batch, with
// http.Server.ServeTLS instead of Certs.Listener: a socket write per TLS
// record (the comparison for BenchmarkGetObject16MiB).
func serveHarnessTLS(t testing.TB, srv *s3.Server, certs *s3.Certs, roots *x509.CertPool, batch bool) *endpoint {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer("")
	ep := &endpoint{URL: "http://" + ln.Addr().String()}
	if certs != nil {
		ln = countListener{Listener: ln, writes: &ep.writes}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		switch {
		case certs != nil && batch:
			hs.Serve(certs.Listener(ln))
		case certs != nil:
			hs.TLSConfig = certs.TLSConfig()
			hs.ServeTLS(ln, "", "")
		default:
			hs.Serve(ln)
		}
	}()
	if certs != nil {
		ep.URL = "https://" + ln.Addr().String()
	}
	ep.raw = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	ep.sdk = ep.raw.Clone()
	ep.sdk.ExpectContinueTimeout = 5 * time.Second
	t.Cleanup(func() {
		ep.raw.CloseIdleConnections()
		ep.sdk.CloseIdleConnections()
		hs.Close()
		<-done
	})
	return ep
}

func (h *harness) creds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(h.cred.AccessKeyID, h.cred.Secret, "")
}

// client returns an SDK client, path-style, over TLS or plain HTTP, with
// the root tenant's key unless mods say otherwise.
func (h *harness) client(tlsOn bool, mods ...func(*awss3.Options)) *awss3.Client {
	ep := h.plain
	if tlsOn {
		ep = h.tls
	}
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ep.URL),
		UsePathStyle: true,
		Credentials:  h.creds(),
		HTTPClient:   &http.Client{Transport: ep.sdk},
		Retryer:      aws.NopRetryer{},
		// The SDK logs a warning for multipart artifacts (no checksum).
		DisableLogOutputChecksumValidationSkipped: true,
	}, mods...)
}

// rawReq is a request signed with the SDK's signer, sent over the
// harness's scheme.
type rawReq struct {
	method  string
	path    string // escaped path and query, e.g. "/b/k?uploads"
	body    []byte
	hdr     http.Header
	payload string // x-amz-content-sha256; default hex sha256 of body
	at      time.Time
	creds   *aws.Credentials
	// before and after signing
	before func(*http.Request)
	mutate func(*http.Request)
	// bodyReader replaces body after signing (e.g. truncation is done raw).
	bodyReader io.Reader
	unsigned   bool
}

func (h *harness) signReq(t *testing.T, rr rawReq) *http.Request {
	t.Helper()
	req, err := http.NewRequest(rr.method, h.ep().URL+rr.path, bytes.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	if rr.body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	for k, vs := range rr.hdr {
		req.Header[k] = vs
	}
	if rr.before != nil {
		rr.before(req)
	}
	payload := rr.payload
	if payload == "" {
		sum := sha256.Sum256(rr.body)
		payload = hex.EncodeToString(sum[:])
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	at := rr.at
	if at.IsZero() {
		at = time.Now()
	}
	c := aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: h.cred.Secret}
	if rr.creds != nil {
		c = *rr.creds
	}
	if !rr.unsigned {
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err := signer.SignHTTP(context.Background(), c, req, payload, "s3", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
	}
	if rr.bodyReader != nil {
		req.Body = io.NopCloser(rr.bodyReader)
	}
	if rr.mutate != nil {
		rr.mutate(req)
	}
	return req
}

func (h *harness) do(t *testing.T, rr rawReq) (*http.Response, []byte) {
	t.Helper()
	req := h.signReq(t, rr)
	resp, err := h.ep().Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rr.method, rr.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", rr.method, rr.path, err)
	}
	return resp, b
}

type errorDoc struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

// expectError checks an S3 error response: status, code, request id.
func expectError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (%s); body %s", resp.StatusCode, status, code, body)
	}
	if resp.Header.Get("X-Amz-Request-Id") == "" || resp.Header.Get("X-Amz-Id-2") == "" {
		t.Fatalf("missing request id headers: %v", resp.Header)
	}
	if resp.Request != nil && resp.Request.Method == "HEAD" {
		return
	}
	var e errorDoc
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if e.Code != code {
		t.Fatalf("code %q (%s), want %q", e.Code, e.Message, code)
	}
	if e.RequestID != resp.Header.Get("X-Amz-Request-Id") || e.Message == "" {
		t.Fatalf("error body %+v", e)
	}
}

// expectOK checks a 2xx response.
func expectOK(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

// apiCode returns the S3 error code of an SDK error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err == nil {
		return ""
	}
	return "non-API error: " + err.Error()
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := apiCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rawHTTP sends bytes on a fresh connection to the harness's server and
// returns what the server answered; it half-closes after sending (a client
// that stops sending before Content-Length). Over TLS the half-close is a
// close_notify alert, which the server reads as the end of the stream.
func (h *harness) rawHTTP(t *testing.T, data []byte) string {
	t.Helper()
	conn := h.dialRaw(t)
	defer conn.Close()
	if _, err := conn.Write(data); err != nil {
		t.Fatal(err)
	}
	conn.(interface{ CloseWrite() error }).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, _ := io.ReadAll(conn)
	return string(resp)
}

// dialRaw opens a connection to the harness's server: TCP, or TLS
// (HTTP/1.1, the harness CA trusted) when h.secure.
func (h *harness) dialRaw(t testing.TB) net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(strings.TrimPrefix(h.ep().URL, "http://"), "https://")
	var conn net.Conn
	var err error
	if h.secure {
		conn, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: h.ca.Pool(), NextProtos: []string{"http/1.1"}})
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// dump serialises a signed request as HTTP/1.1 bytes.
func dump(t *testing.T, req *http.Request, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(req.Method + " " + req.URL.RequestURI() + " HTTP/1.1\r\n")
	b.WriteString("Host: " + req.URL.Host + "\r\n")
	if req.ContentLength >= 0 {
		b.WriteString("Content-Length: " + strconv.FormatInt(req.ContentLength, 10) + "\r\n")
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

// escapeKey percent-encodes a key for a raw request path the way the SDKs
// do: every byte but unreserved characters and '/'.
func escapeKey(k string) string {
	segs := strings.Split(k, "/")
	for i, s := range segs {
		segs[i] = sigv4.URIEncode(s)
	}
	return strings.Join(segs, "/")
}
