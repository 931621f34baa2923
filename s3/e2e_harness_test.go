package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// harness is one real engine behind one s3.Server, served over TLS (so the
// SDK sends aws-chunked trailer checksums, as it does against AWS) and over
// plain HTTP (so the SDK signs payload hashes, and raw requests are easy).
type harness struct {
	node  *nodetest.Node
	eng   *node.Engine
	cred  node.Credential
	srv   *s3.Server
	tls   *httptest.Server
	plain *httptest.Server
	// SDK transports: like the SDK's default client, they wait for
	// "100 Continue" before sending a large body, so an early error
	// response reaches the client instead of a reset connection.
	tlsTr, plainTr *http.Transport
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
	h := &harness{node: n, eng: eng, cred: cred, srv: srv}
	h.tls = httptest.NewTLSServer(srv)
	h.plain = httptest.NewServer(srv)
	h.tlsTr = h.tls.Client().Transport.(*http.Transport).Clone()
	h.plainTr = h.plain.Client().Transport.(*http.Transport).Clone()
	for _, tr := range []*http.Transport{h.tlsTr, h.plainTr} {
		tr.ExpectContinueTimeout = 5 * time.Second
	}
	t.Cleanup(func() {
		h.tlsTr.CloseIdleConnections()
		h.plainTr.CloseIdleConnections()
		h.tls.Close()
		h.plain.Close()
	})
	return h
}

func (h *harness) creds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(h.cred.AccessKeyID, h.cred.Secret, "")
}

// client returns an SDK client, path-style, over TLS or plain HTTP, with
// the root tenant's key unless mods say otherwise.
func (h *harness) client(tlsOn bool, mods ...func(*awss3.Options)) *awss3.Client {
	ts, tr := h.plain, h.plainTr
	if tlsOn {
		ts, tr = h.tls, h.tlsTr
	}
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.URL),
		UsePathStyle: true,
		Credentials:  h.creds(),
		HTTPClient:   &http.Client{Transport: tr},
		Retryer:      aws.NopRetryer{},
		// The SDK logs a warning for multipart artifacts (no checksum).
		DisableLogOutputChecksumValidationSkipped: true,
	}, mods...)
}

// rawReq is a request signed with the SDK's signer, sent over plain HTTP.
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
	req, err := http.NewRequest(rr.method, h.plain.URL+rr.path, bytes.NewReader(rr.body))
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
	resp, err := h.plain.Client().Do(req)
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

// rawHTTP sends bytes on a fresh TCP connection to the plain server and
// returns what the server answered; closeWrite half-closes after sending
// (a client that stops sending before Content-Length).
func (h *harness) rawHTTP(t *testing.T, data []byte) string {
	t.Helper()
	addr := strings.TrimPrefix(h.plain.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(data); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, _ := io.ReadAll(conn)
	return string(resp)
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
