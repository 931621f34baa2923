package s3_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/sigv4"
	"github.com/vaultaire/vaultaire/tenancy"
)

// answerBound is how long a refused request may take to be answered.
// This is a hang test, not a performance assertion: a refusal takes a
// millisecond or two, and the failure it guards against is a client left
// waiting for seconds (its 100-continue timeout) or for ever. The bound is
// generous so a loaded machine does not fail it.
const answerBound = time.Second

// countingReader counts what the client took from a request body, that
// is, what it sent.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// refusalRig is a server with one refusal of each kind ready to provoke.
type refusalRig struct {
	h, small *harness // small: MaxPutSize 1 KiB
	limited  aws.Credentials
}

func newRefusalRig(t *testing.T) *refusalRig {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)} // no refill during the test
	lim, err := tenancy.NewLimiter(tenancy.LimiterConfig{Now: clock.now})
	must(t, err)
	lim.SetLimit(node.RootTenant, tenancy.Limit{})
	r := &refusalRig{
		h:     newHarness(t, func(c *s3.Config) { c.Limiter = lim }),
		small: newHarness(t, func(c *s3.Config) { c.MaxPutSize = 1 << 10 }),
	}
	h := r.h
	h.bucket(t, "refuse")
	// A container at its artifact quota: any new key is refused.
	h.bucket(t, "full")
	resp, b := h.do(t, rawReq{method: "PUT", path: "/full/k0", body: []byte("x")})
	expectOK(t, resp, b)
	_, err = h.eng.SetContainerQuota(ctx, h.cred.Tenant, "full", tenancy.Quota{MaxArtifacts: 1})
	must(t, err)
	// A tenant with one request a long while: it spends it here.
	r.limited = isoAddTenant(t, h, "limited-tenant", "LIMITEDKEY", "limited-secret-key")
	lim.SetLimit("limited-tenant", tenancy.Limit{RequestsPerSec: 0.001, Burst: 1})
	resp, b = h.do(t, rawReq{method: "GET", path: "/", creds: &r.limited})
	expectOK(t, resp, b)
	return r
}

// refusal is one way to get a PUT refused on its headers.
type refusal struct {
	name   string
	status int
	code   string
	small  bool // on the MaxPutSize 1 KiB server
	// req builds the request over h's scheme, with body as its content.
	req func(t *testing.T, h *harness, body []byte, rd io.Reader) *http.Request
}

func (r *refusalRig) refusals() []refusal {
	signed := func(path string, creds *aws.Credentials, hdr http.Header) func(*testing.T, *harness, []byte, io.Reader) *http.Request {
		return func(t *testing.T, h *harness, body []byte, rd io.Reader) *http.Request {
			return h.signReq(t, rawReq{method: "PUT", path: path, body: body, bodyReader: rd, hdr: hdr, creds: creds, payload: sigv4.UnsignedPayload})
		}
	}
	wrong := aws.Credentials{AccessKeyID: r.h.cred.AccessKeyID, SecretAccessKey: "not-the-secret"}
	return []refusal{
		{name: "missing bucket", status: 404, code: "NoSuchBucket", req: signed("/nosuchbucket/k", nil, nil)},
		{name: "wrong signature", status: 403, code: "SignatureDoesNotMatch", req: signed("/refuse/k", &wrong, nil)},
		{name: "quota exceeded", status: 403, code: "QuotaExceeded", req: signed("/full/k1", nil, nil)},
		{name: "rate limited", status: 503, code: "SlowDown", req: signed("/refuse/k", &r.limited, nil)},
		{name: "unsupported header", status: 501, code: "NotImplemented", req: signed("/refuse/k", nil, http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}})},
		{name: "oversized body", status: 400, code: "EntityTooLarge", small: true, req: signed("/refuse/k", nil, nil)},
		{name: "expired presign", status: 403, code: "AccessDenied", req: func(t *testing.T, h *harness, body []byte, rd io.Reader) *http.Request {
			req, err := http.NewRequest("PUT", h.ep().URL+"/refuse/k?X-Amz-Expires=60", bytes.NewReader(body))
			must(t, err)
			signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			u, _, err := signer.PresignHTTP(ctx, aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: h.cred.Secret},
				req, sigv4.UnsignedPayload, "s3", "us-east-1", time.Now().Add(-time.Hour))
			must(t, err)
			req, err = http.NewRequest("PUT", u, bytes.NewReader(body))
			must(t, err)
			req.Body = io.NopCloser(rd)
			return req
		}},
	}
}

// TestRefusalsAnsweredAtOnce: a PUT refused on its headers is answered
// within answerBound over HTTP and HTTPS, whatever its body size, sent
// without "Expect: 100-continue", with it by a client that waits for the
// interim answer (which then never sends the body), and with it by a
// client that sends the body anyway (the RFC allows that, and
// aws-sdk-go-v2 does it: it must get the answer, not a reset). After a
// refusal with 100-continue the connection is closed. Nothing is stored.
func TestRefusalsAnsweredAtOnce(t *testing.T) {
	rig := newRefusalRig(t)
	huge := make([]byte, 64<<20)
	sizes := []int{0, 40_000, len(huge)}
	for _, secure := range []bool{false, true} {
		h, small := rig.h.over(secure), rig.small.over(secure)
		for _, rf := range rig.refusals() {
			for _, expect := range []string{"none", "wait", "no wait"} {
				for _, size := range sizes {
					if rf.small && size == 0 {
						continue // an empty body is never oversized
					}
					name := fmt.Sprintf("%s/%s/expect %s/%d", map[bool]string{false: "http", true: "https"}[secure], rf.name, expect, size)
					t.Run(name, func(t *testing.T) {
						on := h
						if rf.small {
							on = small
						}
						body := &countingReader{r: bytes.NewReader(huge[:size])}
						req := rf.req(t, on, huge[:size], body)
						req.ContentLength = int64(size)
						if size == 0 {
							req.Body = http.NoBody
						}
						if expect != "none" {
							req.Header.Set("Expect", "100-continue")
						}
						// A waiting client waits for 100 Continue longer
						// than answerBound, so a server that stays silent
						// fails; every client gives up after 30 s, so a
						// hang fails instead of blocking the suite.
						tr := on.ep().raw.Clone()
						if expect == "wait" {
							tr.ExpectContinueTimeout = 10 * time.Second
						}
						defer tr.CloseIdleConnections()
						cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
						defer cancel()
						start := time.Now()
						resp, err := (&http.Client{Transport: tr}).Do(req.WithContext(cctx))
						if err != nil {
							t.Fatalf("no answer after %v: %v", time.Since(start), err)
						}
						b, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						took := time.Since(start)
						if err != nil {
							t.Fatalf("answer cut after %v: %v", took, err)
						}
						expectError(t, resp, b, rf.status, rf.code)
						if took > answerBound {
							t.Fatalf("answered after %v (client sent %d of %d body bytes)", took, body.n.Load(), size)
						}
						if expect != "none" && size > 0 {
							if n := body.n.Load(); n != 0 && expect == "wait" {
								t.Fatalf("client sent %d body bytes before the refusal", n)
							}
							if !resp.Close {
								t.Fatal("refused before its body was read, but the connection stays open")
							}
						}
					})
				}
			}
		}
	}
	// Nothing was stored anywhere.
	for _, path := range []string{"/refuse", "/full"} {
		resp, b := rig.h.do(t, rawReq{method: "GET", path: path + "?list-type=2"})
		expectOK(t, resp, b)
		if n := strings.Count(string(b), "<Key>"); (path == "/refuse" && n != 0) || (path == "/full" && n != 1) {
			t.Fatalf("%s lists %d keys after refusals: %s", path, n, b)
		}
	}
}

// TestExpectContinue is the exchange as a raw client sees it: it sends
// the headers with "Expect: 100-continue" and waits, as long as it takes,
// for the interim answer. A request refused on its headers gets its final
// answer without "100 Continue" and without sending its body, and the
// connection then closes; an accepted one gets "100 Continue", sends its
// body and gets 200. Both with Content-Length and with the aws-chunked
// framing botocore sends (Transfer-Encoding: chunked).
func TestExpectContinue(t *testing.T) { overBoth(t, testExpectContinue) }

func testExpectContinue(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	h.bucket(t, "cont")
	data := bytes.Repeat([]byte("continue"), 5000) // 40 kB
	wrong := aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: "not-the-secret"}
	for _, tc := range []struct {
		name    string
		path    string
		creds   *aws.Credentials
		hdr     http.Header
		chunked bool
		status  int
		code    string
	}{
		{name: "accepted", path: "/cont/k", status: 200},
		{name: "accepted chunked", path: "/cont/kc", chunked: true, status: 200},
		{name: "missing bucket", path: "/nosuchbucket/k", status: 404, code: "NoSuchBucket"},
		{name: "missing bucket chunked", path: "/nosuchbucket/k", chunked: true, status: 404, code: "NoSuchBucket"},
		{name: "wrong signature", path: "/cont/k", creds: &wrong, status: 403, code: "SignatureDoesNotMatch"},
		{name: "unsigned", path: "/cont/k", status: 403, code: "AccessDenied"},
		{name: "unsupported header", path: "/cont/k", hdr: http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}}, status: 501, code: "NotImplemented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := rawReq{method: "PUT", path: tc.path, body: data, creds: tc.creds, hdr: tc.hdr, payload: sigv4.UnsignedPayload, unsigned: tc.name == "unsigned"}
			wire := data
			if tc.chunked {
				// aws-chunked, unsigned with a trailer, as botocore sends it.
				wire = []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", len(data), data, crc32Base64(data)))
				rr.payload, rr.body = sigv4.StreamingUnsignedTrailer, nil // no Content-Length
				rr.hdr = http.Header{"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(data))}, "X-Amz-Trailer": {"x-amz-checksum-crc32"}, "Content-Encoding": {"aws-chunked"}}
			}
			req := h.signReq(t, rr)
			var head bytes.Buffer
			head.WriteString("PUT " + req.URL.RequestURI() + " HTTP/1.1\r\nHost: " + req.URL.Host + "\r\n")
			for k, vs := range req.Header {
				for _, v := range vs {
					head.WriteString(k + ": " + v + "\r\n")
				}
			}
			if tc.chunked {
				head.WriteString("Transfer-Encoding: chunked\r\n")
			} else {
				head.WriteString("Content-Length: " + strconv.Itoa(len(wire)) + "\r\n")
			}
			head.WriteString("Expect: 100-continue\r\n\r\n")
			conn := h.dialRaw(t)
			defer conn.Close()
			if _, err := conn.Write(head.Bytes()); err != nil {
				t.Fatal(err)
			}
			// Wait for the interim or final answer: a client that waits
			// for it (the deadline only keeps a broken server from
			// blocking the suite).
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(conn)
			start := time.Now()
			resp, err := http.ReadResponse(br, req)
			if err != nil {
				t.Fatalf("no answer to the headers after %v: %v", time.Since(start), err)
			}
			if took := time.Since(start); took > answerBound {
				t.Fatalf("first answer after %v", took)
			}
			if tc.status != 200 {
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				expectError(t, resp, b, tc.status, tc.code)
				if !resp.Close {
					t.Fatal("no Connection: close on a refusal whose body was not sent")
				}
				// The server closes the connection: the body it did not
				// ask for is not expected. (It waits up to 500 ms for a
				// client that sends it anyway; 5 s is a functional bound.)
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := br.Read(make([]byte, 1))
				var ne net.Error
				if err == nil || errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("connection still open after the refusal (read %d bytes, %v)", n, err)
				}
				return
			}
			if resp.StatusCode != 100 {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("accepted request: first answer %d, want 100 Continue: %s", resp.StatusCode, b)
			}
			if tc.chunked {
				wire = []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(wire), wire))
			}
			if _, err := conn.Write(wire); err != nil {
				t.Fatal(err)
			}
			resp, err = http.ReadResponse(br, req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			expectOK(t, resp, b)
			if got := h.content(t, "cont", strings.TrimPrefix(tc.path, "/cont/")); !bytes.Equal(got, data) {
				t.Fatalf("stored %q..., want %q...", got[:min(len(got), 16)], data[:16])
			}
		})
	}
}

func crc32Base64(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestSDKRefusedLargePut: aws-sdk-go-v2 sends "Expect: 100-continue" with
// bodies over 2 MB but, as its requests carry no protocol version, Go's
// transport does not hold the body back. A refused 16 MiB PUT must still
// come back as the S3 error, not as a reset connection.
func TestSDKRefusedLargePut(t *testing.T) { overBoth(t, testSDKRefusedLargePut) }

func testSDKRefusedLargePut(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	h.bucket(t, "sdk")
	c := h.client(secure)
	data := make([]byte, 16<<20)
	for i := 0; i < 5; i++ {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k"), Body: bytes.NewReader(data)})
		wantCode(t, err, "NoSuchBucket")
		_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("sdk"), Key: aws.String("k"), Body: bytes.NewReader(data),
			ServerSideEncryption: types.ServerSideEncryptionAwsKms})
		wantCode(t, err, "NotImplemented")
	}
	h.absent(t, "sdk", "k")
}

// TestRefusalEndsWriteSideAtOnce: after refusing a request whose body it
// did not ask for ("Expect: 100-continue"), the server says at once that
// it will send nothing more (a TLS close_notify, or a TCP FIN) while it
// still drops what the client sends, so a client sending the body anyway
// sees the end of the answer without waiting out the drain; and the drain
// still ends (lingerMax) while the client keeps sending.
func TestRefusalEndsWriteSideAtOnce(t *testing.T) { overBoth(t, testRefusalEndsWriteSideAtOnce) }

func testRefusalEndsWriteSideAtOnce(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	req := h.signReq(t, rawReq{method: "PUT", path: "/nosuchbucket/k", payload: sigv4.UnsignedPayload})
	var head bytes.Buffer
	head.WriteString("PUT " + req.URL.RequestURI() + " HTTP/1.1\r\nHost: " + req.URL.Host + "\r\n")
	for k, vs := range req.Header {
		for _, v := range vs {
			head.WriteString(k + ": " + v + "\r\n")
		}
	}
	head.WriteString("Content-Length: " + strconv.Itoa(64<<20) + "\r\nExpect: 100-continue\r\n\r\n")
	conn := h.dialRaw(t)
	defer conn.Close()
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The body, sent without waiting and slowly enough that the drain's
	// idle bound never ends it: only its total bound does.
	stop := make(chan struct{})
	defer close(stop)
	wrote := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		chunk := make([]byte, 16<<10)
		for {
			select {
			case <-stop:
				wrote <- 0
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write(chunk); err != nil {
				wrote <- time.Since(start)
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	expectError(t, resp, b, 404, "NoSuchBucket")
	// The end of the answer comes at once, not after the drain (5 s).
	readStart := time.Now()
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the answer: read %d bytes, %v; want EOF", n, err)
	}
	if took := time.Since(readStart); took > answerBound {
		t.Fatalf("end of the answer after %v", took)
	}
	// The server still reads the body it is sent, then gives up on it:
	// the client's writes fail once the drain's total bound passes.
	select {
	case took := <-wrote:
		if took < time.Second {
			t.Fatalf("the server stopped reading the body after %v, before the answer could be read", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server still reads the body after 30 s")
	}
}
