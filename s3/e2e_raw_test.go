package s3_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/local"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// absent asserts that a failed write left nothing visible.
func (h *harness) absent(t *testing.T, bucket, key string) {
	t.Helper()
	_, err := h.client(h.secure).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("%s/%s should not exist: %v", bucket, key, err)
	}
}

func (h *harness) content(t *testing.T, bucket, key string) []byte {
	t.Helper()
	g, err := h.client(h.secure).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	must(t, err)
	defer g.Body.Close()
	b, err := io.ReadAll(g.Body)
	must(t, err)
	return b
}

func (h *harness) bucket(t *testing.T, name string) {
	t.Helper()
	_, err := h.client(h.secure).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)})
	must(t, err)
}

func TestE2EAuth(t *testing.T) { overBoth(t, testE2EAuth) }

func testE2EAuth(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	h.bucket(t, "auth")
	_, err := h.client(h.secure).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("auth"), Key: aws.String("k"), Body: strings.NewReader("secret")})
	must(t, err)

	resp, body := h.do(t, rawReq{method: "GET", path: "/auth/k", unsigned: true})
	expectError(t, resp, body, 403, "AccessDenied")
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth?acl", unsigned: true})
	expectError(t, resp, body, 403, "AccessDenied") // unsigned probes learn nothing
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", creds: &aws.Credentials{AccessKeyID: "NOSUCHKEY", SecretAccessKey: "x"}})
	expectError(t, resp, body, 403, "InvalidAccessKeyId")
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", creds: &aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: "wrong"}})
	expectError(t, resp, body, 403, "SignatureDoesNotMatch")
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", at: time.Now().Add(-20 * time.Minute)})
	expectError(t, resp, body, 403, "RequestTimeTooSkewed")
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", at: time.Now().Add(20 * time.Minute)})
	expectError(t, resp, body, 403, "RequestTimeTooSkewed")
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", mutate: func(r *http.Request) {
		r.Header.Set("Authorization", "AWS "+h.cred.AccessKeyID+":c2lnbmF0dXJl")
	}})
	expectError(t, resp, body, 400, "InvalidArgument") // a malformed SigV2 header
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", mutate: func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer c2lnbmF0dXJl")
	}})
	expectError(t, resp, body, 400, "InvalidRequest")
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", mutate: func(r *http.Request) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/eu-west-1/", 1))
	}})
	expectError(t, resp, body, 400, "AuthorizationHeaderMalformed")
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", mutate: func(r *http.Request) {
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=garbage")
	}})
	expectError(t, resp, body, 400, "AuthorizationHeaderMalformed")
	// A signed header changed after signing.
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", hdr: http.Header{"X-Amz-Meta-A": {"1"}}, mutate: func(r *http.Request) {
		r.Header.Set("X-Amz-Meta-A", "2")
	}})
	expectError(t, resp, body, 403, "SignatureDoesNotMatch")
	// Another path than the one signed.
	resp, body = h.do(t, rawReq{method: "GET", path: "/auth/k", mutate: func(r *http.Request) { r.URL.Path = "/auth/other" }})
	expectError(t, resp, body, 403, "SignatureDoesNotMatch")

	// Presigned GET and PUT with plain net/http.
	pc := awss3.NewPresignClient(h.client(h.secure))
	pg, err := pc.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("auth"), Key: aws.String("k")}, awss3.WithPresignExpires(5*time.Minute))
	must(t, err)
	r, err := h.ep().Client().Get(pg.URL)
	must(t, err)
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || string(b) != "secret" {
		t.Fatalf("presigned GET: %d %q", r.StatusCode, b)
	}
	pp, err := pc.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("auth"), Key: aws.String("up load")}, awss3.WithPresignExpires(5*time.Minute))
	must(t, err)
	req, _ := http.NewRequest("PUT", pp.URL, strings.NewReader("via presign"))
	for k, vs := range pp.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = vs
		}
	}
	r, err = h.ep().Client().Do(req)
	must(t, err)
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d %s", r.StatusCode, b)
	}
	if got := h.content(t, "auth", "up load"); string(got) != "via presign" {
		t.Fatalf("presigned content %q", got)
	}
	// Presigned bucket deletion: the X-Amz-* query is authentication, not
	// a bucket sub-resource.
	h.bucket(t, "presigned-bucket")
	pdb, err := pc.PresignDeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("presigned-bucket")}, awss3.WithPresignExpires(5*time.Minute))
	must(t, err)
	req, _ = http.NewRequest("DELETE", pdb.URL, nil)
	r, err = h.ep().Client().Do(req)
	must(t, err)
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 204 {
		t.Fatalf("presigned DeleteBucket: %d %s", r.StatusCode, b)
	}
	// A real sub-resource is still refused as not implemented.
	resp, body = h.do(t, rawReq{method: "PUT", path: "/auth?logging"})
	expectError(t, resp, body, 501, "NotImplemented")
	// Tampered, expired and too-long presigned URLs.
	r, err = h.ep().Client().Get(strings.Replace(pg.URL, "/auth/k", "/auth/up%20load", 1))
	must(t, err)
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	expectError(t, r, b, 403, "SignatureDoesNotMatch")
	presign := func(expires time.Duration, at time.Time) string {
		req, _ := http.NewRequest("GET", h.ep().URL+"/auth/k?X-Amz-Expires="+strconv.Itoa(int(expires/time.Second)), nil)
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		u, _, err := signer.PresignHTTP(ctx, aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: h.cred.Secret}, req, sigv4.UnsignedPayload, "s3", "us-east-1", at)
		must(t, err)
		return u
	}
	for _, tc := range []struct {
		expires time.Duration
		at      time.Time
		status  int
		code    string
	}{
		{time.Hour, time.Now().Add(-2 * time.Hour), 403, "AccessDenied"},
		{8 * 24 * time.Hour, time.Now(), 400, "AuthorizationQueryParametersError"},
		{time.Hour, time.Now().Add(time.Hour), 403, "AccessDenied"},
	} {
		r, err := h.ep().Client().Get(presign(tc.expires, tc.at))
		must(t, err)
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		expectError(t, r, b, tc.status, tc.code)
	}
	r, err = h.ep().Client().Get(presign(7*24*time.Hour, time.Now().Add(-time.Minute)))
	must(t, err)
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("7-day presign: %d", r.StatusCode)
	}
}

func TestE2EBodyIntegrity(t *testing.T) { overBoth(t, testE2EBodyIntegrity) }

func testE2EBodyIntegrity(t *testing.T, secure bool) {
	h := newHarness(t, func(c *s3.Config) { c.MaxPutSize = 1 << 20 }).over(secure)
	h.bucket(t, "body")
	data := []byte("the quick brown fox jumps over the lazy dog")

	// x-amz-content-sha256 that does not match the body.
	resp, b := h.do(t, rawReq{method: "PUT", path: "/body/sha", body: data, payload: strings.Repeat("ab", 32)})
	expectError(t, resp, b, 400, "XAmzContentSHA256Mismatch")
	h.absent(t, "body", "sha")
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/sha", body: data, payload: "not-a-hash"})
	expectError(t, resp, b, 400, "InvalidArgument")
	h.absent(t, "body", "sha")
	// Content-MD5.
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/md5", body: data, hdr: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(make([]byte, 16))}}})
	expectError(t, resp, b, 400, "BadDigest")
	h.absent(t, "body", "md5")
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/md5", body: data, hdr: http.Header{"Content-Md5": {"!!notbase64"}}})
	expectError(t, resp, b, 400, "InvalidDigest")
	h.absent(t, "body", "md5")
	sum := md5.Sum(data)
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/md5", body: data, hdr: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}}})
	expectOK(t, resp, b)
	// x-amz-checksum-* in a header.
	crc := func(d []byte) string {
		var s [4]byte
		v := crc32.ChecksumIEEE(d)
		s[0], s[1], s[2], s[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		return base64.StdEncoding.EncodeToString(s[:])
	}
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/crc", body: data, hdr: http.Header{"X-Amz-Checksum-Crc32": {crc([]byte("other"))}}})
	expectError(t, resp, b, 400, "BadDigest")
	h.absent(t, "body", "crc")
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/crc", body: data, hdr: http.Header{"X-Amz-Checksum-Crc32": {"AAAA"}}})
	expectError(t, resp, b, 400, "InvalidRequest")
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/crc", body: data, hdr: http.Header{"X-Amz-Checksum-Crc32": {crc(data)}}})
	expectOK(t, resp, b)
	g, err := h.client(h.secure).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("body"), Key: aws.String("crc"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err)
	g.Body.Close()
	if aws.ToString(g.ChecksumCRC32) != crc(data) {
		t.Fatalf("stored checksum %v", aws.ToString(g.ChecksumCRC32))
	}
	// Default content type.
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/ct", body: data})
	expectOK(t, resp, b)
	resp, _ = h.do(t, rawReq{method: "GET", path: "/body/ct"})
	if resp.Header.Get("Content-Type") != "binary/octet-stream" {
		t.Fatalf("default content type %q", resp.Header.Get("Content-Type"))
	}
	// No Content-Length and not aws-chunked.
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/nolen", payload: sigv4.UnsignedPayload, body: data, before: func(r *http.Request) {
		r.ContentLength = -1
		r.Body = io.NopCloser(bytes.NewReader(data))
	}})
	expectError(t, resp, b, 411, "MissingContentLength")
	h.absent(t, "body", "nolen")
	// Too large for a single PUT (1 MiB in this harness).
	big := bytes.Repeat([]byte("x"), 1<<20+1)
	resp, b = h.do(t, rawReq{method: "PUT", path: "/body/big", body: big, payload: sigv4.UnsignedPayload})
	expectError(t, resp, b, 400, "EntityTooLarge")
	h.absent(t, "body", "big")
	// A body cut short by the client.
	req := h.signReq(t, rawReq{method: "PUT", path: "/body/cut", body: bytes.Repeat([]byte("y"), 100000), payload: sigv4.UnsignedPayload})
	out := h.rawHTTP(t, dump(t, req, bytes.Repeat([]byte("y"), 50000)))
	if !strings.HasPrefix(out, "HTTP/1.1 400") || !strings.Contains(out, "<Code>IncompleteBody</Code>") {
		t.Fatalf("truncated body: %.300s", out)
	}
	h.absent(t, "body", "cut")
}

// streamingPut builds a signed aws-chunked PUT.
func (h *harness) streamingPut(t *testing.T, key string, mode string, data []byte, chunk int, trailer []string, corrupt func([]byte) []byte) (*http.Response, []byte) {
	t.Helper()
	cfg := sigv4.ChunkedConfig{Signed: mode != sigv4.StreamingUnsignedTrailer, Trailer: mode != sigv4.StreamingSigned}
	// Encode once with a placeholder signature to learn the length; chunk
	// signatures have a fixed size.
	encode := func(cfg sigv4.ChunkedConfig) []byte {
		enc := sigv4.NewChunkedEncoder(cfg)
		var out bytes.Buffer
		for off := 0; off < len(data); off += chunk {
			end := min(off+chunk, len(data))
			out.Write(enc.Chunk(data[off:end]))
		}
		out.Write(enc.Chunk(nil))
		if cfg.Trailer {
			out.Write(enc.Trailers(trailer...))
		} else {
			out.Write(enc.End())
		}
		return out.Bytes()
	}
	cfg.SigningKey, cfg.Seed = []byte("k"), strings.Repeat("0", 64)
	length := len(encode(cfg))
	hdr := http.Header{
		"Content-Encoding":             {"aws-chunked"},
		"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(data))},
	}
	if len(trailer) > 0 {
		hdr.Set("X-Amz-Trailer", trailer[0])
	}
	at := time.Now().UTC()
	rr := rawReq{method: "PUT", path: "/stream/" + escapeKey(key), hdr: hdr, payload: mode, at: at}
	req := h.signReq(t, rr)
	req.ContentLength = int64(length)
	auth, err := sigv4.ParseAuthorization(req.Header.Get("Authorization"))
	must(t, err)
	cfg.SigningKey = sigv4.SigningKey(h.cred.Secret, auth.Date, auth.Region, auth.Service)
	cfg.AmzDate, cfg.Scope, cfg.Seed = req.Header.Get("X-Amz-Date"), auth.Scope(), auth.Signature
	body := encode(cfg)
	if corrupt != nil {
		body = corrupt(body)
	}
	req.ContentLength = int64(len(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	// The signature covers the Content-Length the client announced.
	if len(body) != length {
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	resp, err := h.ep().Client().Do(req)
	must(t, err)
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp, rb
}

func TestE2EStreamingPayloads(t *testing.T) { overBoth(t, testE2EStreamingPayloads) }

func testE2EStreamingPayloads(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	h.bucket(t, "stream")
	data := bytes.Repeat([]byte("streaming payload "), 12000) // ~216 kB
	crcOf := func(d []byte) string {
		v := crc32.Checksum(d, crc32.MakeTable(crc32.Castagnoli))
		return base64.StdEncoding.EncodeToString([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	good := []string{"x-amz-checksum-crc32c", crcOf(data)}
	bad := []string{"x-amz-checksum-crc32c", crcOf([]byte("nope"))}

	for _, mode := range []string{sigv4.StreamingSigned, sigv4.StreamingSignedTrailer, sigv4.StreamingUnsignedTrailer} {
		t.Run(mode, func(t *testing.T) {
			var tr, badTr []string
			if mode != sigv4.StreamingSigned {
				tr, badTr = good, bad
			}
			key := "ok " + mode
			resp, b := h.streamingPut(t, key, mode, data, 64<<10, tr, nil)
			expectOK(t, resp, b)
			if !bytes.Equal(h.content(t, "stream", key), data) {
				t.Fatal("content differs")
			}
			if tr != nil {
				g, err := h.client(h.secure).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("stream"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
				must(t, err)
				g.Body.Close()
				if aws.ToString(g.ChecksumCRC32C) != good[1] {
					t.Fatalf("trailer checksum not stored: %v", aws.ToString(g.ChecksumCRC32C))
				}
			}
			// Every kind of damage fails the write and leaves nothing.
			type damage struct {
				name   string
				tr     []string
				mutate func([]byte) []byte
				status int
				code   string
			}
			flipData := func(body []byte) []byte {
				c := bytes.Clone(body)
				i := bytes.Index(c, []byte("\r\nstreaming")) + 5
				c[i] ^= 1
				return c
			}
			cases := []damage{
				{"truncated", tr, func(b []byte) []byte { return b[:len(b)/2] }, 400, "IncompleteBody"},
				{"garbage header", tr, func(b []byte) []byte { return append([]byte("zz"), b[2:]...) }, 400, "InvalidRequest"},
			}
			if mode != sigv4.StreamingUnsignedTrailer {
				cases = append(cases, damage{"flipped data byte", tr, flipData, 403, "SignatureDoesNotMatch"})
				cases = append(cases, damage{"bad chunk signature", tr, func(b []byte) []byte {
					c := bytes.Clone(b)
					i := bytes.Index(c, []byte("chunk-signature=")) + len("chunk-signature=")
					if c[i] == '0' {
						c[i] = '1'
					} else {
						c[i] = '0'
					}
					return c
				}, 403, "SignatureDoesNotMatch"})
			}
			if tr != nil {
				cases = append(cases, damage{"wrong trailer checksum", badTr, nil, 400, "BadDigest"})
				cases = append(cases, damage{"missing trailer", tr, func(b []byte) []byte {
					i := bytes.Index(b, []byte("x-amz-checksum-crc32c:"))
					return append(bytes.Clone(b[:i]), []byte("\r\n")...)
				}, 400, "MalformedTrailerError"})
			}
			if mode == sigv4.StreamingUnsignedTrailer {
				cases = append(cases, damage{"flipped data byte", tr, flipData, 400, "BadDigest"})
			}
			for _, d := range cases {
				dk := "bad " + d.name + " " + mode
				resp, b := h.streamingPut(t, dk, mode, data, 64<<10, d.tr, d.mutate)
				if resp.StatusCode != d.status || !bytes.Contains(b, []byte("<Code>"+d.code+"</Code>")) {
					t.Fatalf("%s: %d %s", d.name, resp.StatusCode, b)
				}
				h.absent(t, "stream", dk)
			}
		})
	}
	// x-amz-decoded-content-length that does not match.
	req := h.signReq(t, rawReq{method: "PUT", path: "/stream/declen", payload: sigv4.StreamingUnsignedTrailer,
		hdr: http.Header{"X-Amz-Decoded-Content-Length": {"10"}, "Content-Encoding": {"aws-chunked"}}})
	body := []byte("5\r\nhello\r\n0\r\n\r\n")
	req.ContentLength = int64(len(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := h.ep().Client().Do(req)
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	expectError(t, resp, b, 400, "IncompleteBody")
	h.absent(t, "stream", "declen")
}

func TestE2ERouting(t *testing.T) { overBoth(t, testE2ERouting) }

func testE2ERouting(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	h.bucket(t, "route")
	resp, b := h.do(t, rawReq{method: "PUT", path: "/route/k", body: []byte("v")})
	expectOK(t, resp, b)
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"PATCH", "/route/k", 405, "MethodNotAllowed"},
		{"PUT", "/", 405, "MethodNotAllowed"},
		{"POST", "/route/k", 405, "MethodNotAllowed"},
		{"GET", "/route?logging", 501, "NotImplemented"},
		{"PUT", "/route?website", 501, "NotImplemented"},
		{"PUT", "/route?policy", 400, "MalformedPolicy"},
		{"GET", "/route?policy", 404, "NoSuchBucketPolicy"},
		{"PUT", "/route?acl", 400, "MalformedXML"},
		{"PUT", "/route?versioning", 400, "MalformedXML"},
		{"GET", "/route/k?versions", 501, "NotImplemented"},
		{"GET", "/route?tagging", 404, "NoSuchTagSet"},
		{"PUT", "/route/k?legal-hold", 400, "InvalidRequest"},
		{"PUT", "/route?retention", 501, "NotImplemented"},
		{"PUT", "/route?cors", 400, "InvalidRequest"}, // PutBucketCors needs Content-MD5
		{"GET", "/route?cors", 404, "NoSuchCORSConfiguration"},
		{"PUT", "/route?lifecycle", 400, "MalformedXML"},
		{"GET", "/route?lifecycle", 404, "NoSuchLifecycleConfiguration"},
		{"POST", "/route", 412, "PreconditionFailed"}, // a bucket POST must be a form (POST Object)
		{"DELETE", "/route/k?versionId=x", 400, "InvalidArgument"},
		{"DELETE", "/route/k?versionId=", 400, "InvalidArgument"},
		{"GET", "/route/k?partNumber=2", 416, "InvalidPartNumber"},
		{"GET", "/route/k?partNumber=0", 400, "InvalidArgument"},
		{"GET", "/route/k?versionId=nope", 400, "InvalidArgument"},
		{"GET", "/route/k?versionId=00000000000000ff", 404, "NoSuchVersion"},
		{"GET", "/route?list-type=1", 400, "InvalidArgument"},
		{"GET", "/route/missing", 404, "NoSuchKey"},
		{"GET", "/nobucket/missing", 404, "NoSuchBucket"},
		{"HEAD", "/route/missing", 404, ""},
		{"HEAD", "/nobucket", 404, ""},
		{"GET", "/route/" + strings.Repeat("k", 1025), 400, "KeyTooLongError"},
		{"GET", "/route/a%FFb", 400, "InvalidArgument"},
	}
	for _, tc := range cases {
		resp, b := h.do(t, rawReq{method: tc.method, path: tc.path})
		if tc.method == "HEAD" {
			if resp.StatusCode != tc.status || len(b) != 0 || resp.Header.Get("X-Amz-Request-Id") == "" {
				t.Fatalf("%s %s: %d %q", tc.method, tc.path, resp.StatusCode, b)
			}
			continue
		}
		t.Run(tc.method+" "+tc.path[:min(len(tc.path), 30)], func(t *testing.T) { expectError(t, resp, b, tc.status, tc.code) })
	}
	// Features a client would wrongly believe it got.
	for _, hd := range []http.Header{{"X-Amz-Server-Side-Encryption": {"aws:kms"}}} {
		resp, b := h.do(t, rawReq{method: "PUT", path: "/route/sse", body: []byte("v"), hdr: hd})
		expectError(t, resp, b, 501, "NotImplemented")
		resp, b = h.do(t, rawReq{method: "POST", path: "/route/sse?uploads", hdr: hd})
		expectError(t, resp, b, 501, "NotImplemented")
		h.absent(t, "route", "sse")
	}
	// Object lock on a bucket without it, and lock headers that do not
	// go together, change nothing.
	for _, tc := range []struct {
		hd     http.Header
		status int
		code   string
	}{
		{http.Header{"X-Amz-Object-Lock-Mode": {"COMPLIANCE"}}, 400, "InvalidArgument"},
		{http.Header{"X-Amz-Object-Lock-Mode": {"COMPLIANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {"2099-01-01T00:00:00Z"}}, 400, "InvalidRequest"},
		{http.Header{"X-Amz-Tagging": {"a=b&a=c"}}, 400, "InvalidTag"},
		{http.Header{"X-Amz-Storage-Class": {"EXPRESS_ONEZONE"}}, 400, "InvalidStorageClass"},
	} {
		resp, b := h.do(t, rawReq{method: "PUT", path: "/route/lk", body: []byte("v"), hdr: tc.hd})
		expectError(t, resp, b, tc.status, tc.code)
		h.absent(t, "route", "lk")
	}
	// A path with a bad escape never reaches a handler: net/http answers 400.
	req := h.signReq(t, rawReq{method: "GET", path: "/route/zz"})
	raw := dump(t, req, nil)
	raw = bytes.Replace(raw, []byte("/route/zz"), []byte("/route/%zz"), 1)
	if out := h.rawHTTP(t, raw); !strings.HasPrefix(out, "HTTP/1.1 400") {
		t.Fatalf("bad escape: %.300s", out)
	}
	resp, b = h.do(t, rawReq{method: "GET", path: "/route/k?partNumber=1"})
	expectOK(t, resp, b)
	if string(b) != "v" || resp.Header.Get("X-Amz-Mp-Parts-Count") != "1" || resp.Header.Get("X-Amz-Request-Id") == "" || resp.Header.Get("X-Amz-Id-2") == "" {
		t.Fatalf("partNumber=1 of a single PUT: %q", b)
	}
}

// TestE2EEveryHandlerRejects sends each handler unsigned, wrongly signed,
// truncated, oversized and malformed requests.
func TestE2EEveryHandlerRejects(t *testing.T) { overBoth(t, testE2EEveryHandlerRejects) }

func testE2EEveryHandlerRejects(t *testing.T, secure bool) {
	h := newHarness(t, func(c *s3.Config) { c.MaxPutSize = 1 << 20 }).over(secure)
	h.bucket(t, "every")
	resp, b := h.do(t, rawReq{method: "PUT", path: "/every/k", body: []byte("v")})
	expectOK(t, resp, b)
	cu, err := h.client(h.secure).CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("every"), Key: aws.String("mp")})
	must(t, err)
	up := *cu.UploadId
	type op struct {
		name, method, path string
		body               []byte
		hdr                http.Header
		kind               string // "", "data", "xml"
	}
	complete := []byte("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>")
	del := []byte("<Delete><Object><Key>k</Key></Object></Delete>")
	dsum := md5.Sum(del)
	delHdr := http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(dsum[:])}}
	ops := []op{
		{"ListBuckets", "GET", "/", nil, nil, ""},
		{"CreateBucket", "PUT", "/newbucket", []byte("<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>"), nil, "xml"},
		{"HeadBucket", "HEAD", "/every", nil, nil, ""},
		{"DeleteBucket", "DELETE", "/every", nil, nil, ""},
		{"GetBucketLocation", "GET", "/every?location", nil, nil, ""},
		{"GetBucketVersioning", "GET", "/every?versioning", nil, nil, ""},
		{"ListObjects", "GET", "/every", nil, nil, ""},
		{"ListObjectsV2", "GET", "/every?list-type=2", nil, nil, ""},
		{"ListMultipartUploads", "GET", "/every?uploads", nil, nil, ""},
		{"DeleteObjects", "POST", "/every?delete", del, delHdr, "xml"},
		{"PutObject", "PUT", "/every/k2", []byte("data"), nil, "data"},
		{"CopyObject", "PUT", "/every/k3", nil, http.Header{"X-Amz-Copy-Source": {"every/k"}}, ""},
		{"GetObject", "GET", "/every/k", nil, nil, ""},
		{"HeadObject", "HEAD", "/every/k", nil, nil, ""},
		{"DeleteObject", "DELETE", "/every/k", nil, nil, ""},
		{"CreateMultipartUpload", "POST", "/every/mp2?uploads", nil, nil, ""},
		{"UploadPart", "PUT", "/every/mp?partNumber=1&uploadId=" + up, []byte("part"), nil, "data"},
		{"UploadPartCopy", "PUT", "/every/mp?partNumber=2&uploadId=" + up, nil, http.Header{"X-Amz-Copy-Source": {"every/k"}}, ""},
		{"CompleteMultipartUpload", "POST", "/every/mp?uploadId=" + up, complete, nil, "xml"},
		{"AbortMultipartUpload", "DELETE", "/every/mp?uploadId=" + up, nil, nil, ""},
		{"ListParts", "GET", "/every/mp?uploadId=" + up, nil, nil, ""},
		{"GetBucketPolicy", "GET", "/every?policy", nil, nil, ""},
		{"PutBucketPolicy", "PUT", "/every?policy", []byte(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::every/*"}]}`), nil, "policy"},
		{"DeleteBucketPolicy", "DELETE", "/every?policy", nil, nil, ""},
		{"GetBucketPolicyStatus", "GET", "/every?policyStatus", nil, nil, ""},
		{"GetPublicAccessBlock", "GET", "/every?publicAccessBlock", nil, nil, ""},
		{"PutPublicAccessBlock", "PUT", "/every?publicAccessBlock", []byte("<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>"), nil, "xml"},
		{"DeletePublicAccessBlock", "DELETE", "/every?publicAccessBlock", nil, nil, ""},
		{"GetBucketOwnershipControls", "GET", "/every?ownershipControls", nil, nil, ""},
		{"PutBucketOwnershipControls", "PUT", "/every?ownershipControls", []byte("<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>"), nil, "xml"},
		{"DeleteBucketOwnershipControls", "DELETE", "/every?ownershipControls", nil, nil, ""},
		{"GetBucketAcl", "GET", "/every?acl", nil, nil, ""},
		{"PutBucketAcl", "PUT", "/every?acl", nil, http.Header{"X-Amz-Acl": {"private"}}, ""},
		{"GetObjectAcl", "GET", "/every/k?acl", nil, nil, ""},
		{"PutObjectAcl", "PUT", "/every/k?acl", nil, http.Header{"X-Amz-Acl": {"private"}}, ""},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			check := func(resp *http.Response, b []byte, status int, code string) {
				t.Helper()
				if o.method == "HEAD" {
					if resp.StatusCode != status || len(b) != 0 {
						t.Fatalf("HEAD: %d %q", resp.StatusCode, b)
					}
					return
				}
				expectError(t, resp, b, status, code)
			}
			resp, b := h.do(t, rawReq{method: o.method, path: o.path, body: o.body, hdr: o.hdr, unsigned: true})
			check(resp, b, 403, "AccessDenied")
			resp, b = h.do(t, rawReq{method: o.method, path: o.path, body: o.body, hdr: o.hdr,
				creds: &aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: "not-the-secret"}})
			check(resp, b, 403, "SignatureDoesNotMatch")
			resp, b = h.do(t, rawReq{method: o.method, path: o.path, body: o.body, hdr: o.hdr, at: time.Now().Add(-time.Hour)})
			check(resp, b, 403, "RequestTimeTooSkewed")
			if o.kind == "" {
				return
			}
			// Truncated: the client announces more than it sends.
			full := append(bytes.Clone(o.body), bytes.Repeat([]byte(" "), 1000)...)
			req := h.signReq(t, rawReq{method: o.method, path: o.path, body: full, hdr: o.hdr, payload: sigv4.UnsignedPayload})
			out := h.rawHTTP(t, dump(t, req, full[:len(full)/2]))
			if !strings.HasPrefix(out, "HTTP/1.1 400") || !strings.Contains(out, "<Code>IncompleteBody</Code>") {
				t.Fatalf("truncated: %.400s", out)
			}
			// Oversized.
			switch o.kind {
			case "data":
				resp, b = h.do(t, rawReq{method: o.method, path: o.path, body: bytes.Repeat([]byte("z"), 1<<20+1), hdr: o.hdr, payload: sigv4.UnsignedPayload})
				check(resp, b, 400, "EntityTooLarge")
			case "xml":
				huge := append(bytes.Clone(o.body), bytes.Repeat([]byte(" "), 3<<20)...)
				hdr := o.hdr
				if hdr != nil {
					s := md5.Sum(huge)
					hdr = http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(s[:])}}
				}
				h2 := newHarness(t, nil) // a default MaxPutSize, so the XML cap is what bites
				h2.bucket(t, "every")
				resp, b = h2.do(t, rawReq{method: o.method, path: o.path, body: huge, hdr: hdr})
				check(resp, b, 400, "MaxMessageLengthExceeded")
				// Malformed.
				mal := o.body[:len(o.body)-3]
				hdr = o.hdr
				if hdr != nil {
					s := md5.Sum(mal)
					hdr = http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(s[:])}}
				}
				resp, b = h.do(t, rawReq{method: o.method, path: o.path, body: mal, hdr: hdr})
				check(resp, b, 400, "MalformedXML")
			case "policy":
				huge := append(bytes.Clone(o.body), bytes.Repeat([]byte(" "), 20<<10)...)
				resp, b = h.do(t, rawReq{method: o.method, path: o.path, body: huge})
				check(resp, b, 400, "MalformedPolicy")
				resp, b = h.do(t, rawReq{method: o.method, path: o.path, body: o.body[:len(o.body)-3]})
				check(resp, b, 400, "MalformedPolicy")
			}
		})
	}
	// The upload and the artifacts survived every rejected request.
	if _, err := h.client(h.secure).ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("every"), Key: aws.String("mp"), UploadId: aws.String(up)}); err != nil {
		t.Fatal(err)
	}
	if got := h.content(t, "every", "k"); string(got) != "v" {
		t.Fatalf("%q", got)
	}
	for _, k := range []string{"k2", "k3"} {
		h.absent(t, "every", k)
	}
}

func TestE2ETenantIsolation(t *testing.T) { overBoth(t, testE2ETenantIsolation) }

func testE2ETenantIsolation(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	meta := h.node.Meta
	now := time.Now()
	must(t, meta.PutTenant(ctx, metastore.Tenant{ID: "acme", Name: "Acme", Plan: "test", State: metastore.TenantActive, Created: now}))
	must(t, meta.PutUser(ctx, metastore.User{Tenant: "acme", Name: "alice", Created: now}))
	must(t, meta.CreateAccessKey(ctx, metastore.AccessKey{ID: "ACMEKEY", Tenant: "acme", User: "alice", Enabled: true, Created: now}, "acme-secret"))
	root := h.client(h.secure)
	acme := h.client(false, func(o *awss3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("ACMEKEY", "acme-secret", "")
	})

	h.bucket(t, "root-only")
	h.bucket(t, "shared-name")
	_, err := root.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared-name"), Key: aws.String("k"), Body: strings.NewReader("root data")})
	must(t, err)

	lb, err := acme.ListBuckets(ctx, &awss3.ListBucketsInput{})
	must(t, err)
	if len(lb.Buckets) != 0 {
		t.Fatalf("acme sees %d buckets", len(lb.Buckets))
	}
	_, err = acme.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("shared-name"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")
	_, err = acme.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("root-only")})
	wantCode(t, err, "NoSuchBucket")
	_, err = acme.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("root-only")})
	wantCode(t, err, "NoSuchBucket")
	_, err = acme.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("root-only"), Key: aws.String("x"), CopySource: aws.String("shared-name/k")})
	wantCode(t, err, "NoSuchBucket")
	// Its own namespace: the same bucket name is a different container.
	_, err = acme.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("shared-name")})
	must(t, err)
	_, err = acme.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared-name"), Key: aws.String("k"), Body: strings.NewReader("acme data")})
	must(t, err)
	if got := h.content(t, "shared-name", "k"); string(got) != "root data" {
		t.Fatalf("root reads %q", got)
	}
	g, err := acme.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("shared-name"), Key: aws.String("k")})
	must(t, err)
	b, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(b) != "acme data" {
		t.Fatalf("acme reads %q", b)
	}
	// A disabled key stops working at once.
	must(t, meta.SetAccessKeyEnabled(ctx, "ACMEKEY", false))
	_, err = acme.ListBuckets(ctx, &awss3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId")
}

func TestE2ERequestEvents(t *testing.T) { overBoth(t, testE2ERequestEvents) }

func testE2ERequestEvents(t *testing.T, secure bool) {
	var mu sync.Mutex
	var events []s3.RequestEvent
	h := newHarness(t, func(c *s3.Config) {
		c.OnRequest = func(ev s3.RequestEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	}).over(secure)
	h.bucket(t, "events")
	resp, b := h.do(t, rawReq{method: "PUT", path: "/events/a%20b", body: []byte("12345")})
	expectOK(t, resp, b)
	resp, b = h.do(t, rawReq{method: "GET", path: "/events/a%20b"})
	expectOK(t, resp, b)
	resp, b = h.do(t, rawReq{method: "GET", path: "/events/missing"})
	expectError(t, resp, b, 404, "NoSuchKey")
	resp, b = h.do(t, rawReq{method: "GET", path: "/events/a%20b", unsigned: true})
	expectError(t, resp, b, 403, "AccessDenied")
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 5 {
		t.Fatalf("%d events", len(events))
	}
	want := []struct {
		op             s3.Operation
		key            string
		status         int
		code, tenant   string
		bytesIn, bytes int64
	}{
		{s3.OpCreateBucket, "", 200, "", h.cred.Tenant, 0, 0},
		{s3.OpPutObject, "a b", 200, "", h.cred.Tenant, 5, 0},
		{s3.OpGetObject, "a b", 200, "", h.cred.Tenant, 0, 5},
		{s3.OpGetObject, "missing", 404, "NoSuchKey", h.cred.Tenant, 0, -1},
		{s3.OpGetObject, "a b", 403, "AccessDenied", "", 0, -1},
	}
	for i, w := range want {
		ev := events[i]
		if ev.Operation != w.op || ev.Key != w.key || ev.Status != w.status || ev.ErrorCode != w.code || ev.Tenant != w.tenant ||
			ev.BytesIn != w.bytesIn || (w.bytes >= 0 && ev.BytesOut != w.bytes) || ev.RequestID == "" || ev.Time.IsZero() || ev.Container != "events" {
			t.Errorf("event %d: %+v, want %+v", i, ev, w)
		}
		authed := w.tenant != ""
		if authed && (ev.AccessKeyID != h.cred.AccessKeyID || ev.User != h.cred.User) {
			t.Errorf("event %d: key %q user %q, want %q %q", i, ev.AccessKeyID, ev.User, h.cred.AccessKeyID, h.cred.User)
		}
		if !authed && (ev.AccessKeyID != "" || ev.User != "") {
			t.Errorf("event %d: unauthenticated request carries key %q user %q", i, ev.AccessKeyID, ev.User)
		}
		if ev.RemoteAddr == "" || ev.UserAgent == "" {
			t.Errorf("event %d: remote %q agent %q", i, ev.RemoteAddr, ev.UserAgent)
		}
	}
}

func TestE2EReadFailures(t *testing.T) { overBoth(t, testE2EReadFailures) }

func testE2EReadFailures(t *testing.T, secure bool) {
	var faults []*fault.Driver
	h := newHarnessNode(t, nodetest.Options{InlineThreshold: -1, Wrap: func(i int, d *local.Drive) node.Drive {
		f := fault.New(d)
		faults = append(faults, f)
		return node.Drive{ID: fmt.Sprintf("d%d", i), Node: "test-node", Driver: f}
	}}, nil).over(secure)
	h.bucket(t, "faulty")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	c := h.client(h.secure)
	_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("faulty"), Key: aws.String("k"), Body: bytes.NewReader(data)})
	must(t, err)

	// Every shard unreadable: the GET fails before any byte, so the client
	// gets a real S3 error, not a 200 with a cut body.
	for _, f := range faults {
		f.Inject(fault.Rule{Op: fault.OpOpen, Err: syscall.EIO})
	}
	resp, b := h.do(t, rawReq{method: "GET", path: "/faulty/k"})
	if resp.StatusCode < 500 || resp.Header.Get("ETag") != "" || resp.Header.Get("Content-Range") != "" {
		t.Fatalf("all shards failing: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	expectError(t, resp, b, resp.StatusCode, map[int]string{500: "InternalError", 503: "ServiceUnavailable"}[resp.StatusCode])
	for _, f := range faults {
		f.Clear()
	}

	// Every shard corrupt late in the artifact: the first stripes stream,
	// then no stripe can be rebuilt. The status went out already, and the
	// client must see a broken body, never a short "success".
	for _, f := range faults {
		f.Inject(fault.Rule{Op: fault.OpOpen, Corrupt: &fault.Corruption{Offset: 400 << 10, Mask: 0xff}})
	}
	g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("faulty"), Key: aws.String("k")})
	must(t, err)
	got, rerr := io.ReadAll(g.Body)
	g.Body.Close()
	if rerr == nil {
		t.Fatalf("a body of %d bytes (complete: %v) without an error", len(got), bytes.Equal(got, data))
	}
	if len(got) == 0 || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("the %d bytes before the failure are not the artifact's", len(got))
	}
	for _, f := range faults {
		f.Clear()
	}
	if got := h.content(t, "faulty", "k"); !bytes.Equal(got, data) {
		t.Fatal("content after faults cleared")
	}
}
