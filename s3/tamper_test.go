package s3_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// tamperProxy is a reverse proxy on 127.0.0.1:0 between a client and the
// server that can change each request in transit, as an attacker on the
// path could. It keeps the Host the client signed.
type tamperProxy struct {
	srv *httptest.Server
	mu  sync.Mutex
	// tamper changes the outgoing request; nil forwards it as signed.
	tamper func(*http.Request)
	// seen is the last request as the client sent it.
	seen *http.Request
}

func newTamperProxy(t *testing.T, target string) *tamperProxy {
	t.Helper()
	u, err := url.Parse(target)
	must(t, err)
	p := &tamperProxy{}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host
		p.mu.Lock()
		defer p.mu.Unlock()
		p.seen = pr.In.Clone(pr.In.Context())
		if p.tamper != nil {
			p.tamper(pr.Out)
		}
	}}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *tamperProxy) set(f func(*http.Request)) {
	p.mu.Lock()
	p.tamper = f
	p.mu.Unlock()
}

// signedHeaders returns the SignedHeaders of the last header-signed request.
func (p *tamperProxy) signedHeaders(t *testing.T) []string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.seen.Header.Get("Authorization")
	_, sh, ok := strings.Cut(a, "SignedHeaders=")
	if !ok {
		t.Fatalf("no SignedHeaders in %q", a)
	}
	sh, _, _ = strings.Cut(sh, ",")
	return strings.Split(sh, ";")
}

// snapshot describes everything a tampered request could have changed in
// a bucket: its keys, and each artifact's ETag, size, type and metadata.
func (h *harness) snapshot(t *testing.T, bucket string) string {
	t.Helper()
	c := h.client(false)
	l, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	must(t, err)
	var b strings.Builder
	for _, o := range l.Contents {
		hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		must(t, err)
		var meta []string
		for k, v := range hd.Metadata {
			meta = append(meta, k+"="+v)
		}
		sort.Strings(meta)
		fmt.Fprintf(&b, "%s etag=%s size=%d type=%s meta=%v\n", *o.Key, aws.ToString(hd.ETag), aws.ToInt64(hd.ContentLength), aws.ToString(hd.ContentType), meta)
	}
	return b.String()
}

type s3ErrorBody struct {
	Code             string `xml:"Code"`
	HeadersNotSigned string `xml:"HeadersNotSigned"`
}

// TestTamperedHeadersAreRefused is the security property of issue 14: a
// validly signed request changed in transit — an x-amz-* header added, or
// any signed header removed or changed — is refused with 403 and changes
// nothing. Before the fix an unsigned x-amz-copy-source turned an empty
// PUT into a CopyObject, and unsigned x-amz-meta-* were stored.
func TestTamperedHeadersAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "tamper")
	h.bucket(t, "other")
	direct := h.client(false)
	_, err := direct.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("tamper"), Key: aws.String("src"), Body: strings.NewReader("source bytes")})
	must(t, err)
	_, err = direct.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("other"), Key: aws.String("secret"), Body: strings.NewReader("other bytes")})
	must(t, err)

	p := newTamperProxy(t, h.plain.URL)
	via := h.client(false, func(o *awss3.Options) { o.BaseEndpoint = aws.String(p.srv.URL) })
	put := func() error {
		_, err := via.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String("tamper"), Key: aws.String("dst"), Body: bytes.NewReader(nil),
			ContentType: aws.String("text/plain"), Metadata: map[string]string{"color": "blue"},
		})
		return err
	}
	// The untampered request works; learn what the SDK signs. Then remove
	// the object again so every tampered attempt starts from one state.
	must(t, put())
	signed := p.signedHeaders(t)
	_, err = direct.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("tamper"), Key: aws.String("dst")})
	must(t, err)
	before := h.snapshot(t, "tamper")

	type tc struct {
		name   string
		tamper func(*http.Request)
		code   string // expected S3 error code
		notSig string // expected <HeadersNotSigned>, for added headers
	}
	var cases []tc
	added := map[string]string{
		"X-Amz-Copy-Source":            "/tamper/src",
		"X-Amz-Meta-Evil":              "yes",
		"X-Amz-Meta-Color":             "red", // a second value of a signed header's name is covered; a new name is not
		"X-Amz-Metadata-Directive":     "REPLACE",
		"X-Amz-Acl":                    "private",
		"X-Amz-Storage-Class":          "STANDARD",
		"X-Amz-Checksum-Crc32":         "AAAAAA==",
		"X-Amz-Decoded-Content-Length": "0",
		"X-Amz-Trailer":                "x-amz-checksum-crc32",
		"X-Amz-Expected-Bucket-Owner":  "someone",
		"X-Amz-Security-Token":         "token",
		"X-Amz-Server-Side-Encryption": "AES256",
		"X-Amz-Tagging":                "a=b",
	}
	for name, v := range added {
		lower := strings.ToLower(name)
		if contains(signed, lower) {
			// Adding a second value to a signed header changes its
			// canonical value.
			cases = append(cases, tc{"add value to " + lower, func(r *http.Request) { r.Header.Add(name, v) }, "SignatureDoesNotMatch", ""})
			continue
		}
		cases = append(cases, tc{"add " + lower, func(r *http.Request) { r.Header.Set(name, v) }, "AccessDenied", lower})
	}
	for _, name := range signed {
		switch name {
		case "content-length", "transfer-encoding":
			continue // framing: the transport owns them
		case "host":
			cases = append(cases, tc{"change host", func(r *http.Request) { r.Host = "evil.example:80" }, "SignatureDoesNotMatch", ""})
			continue
		}
		cases = append(cases,
			tc{"remove " + name, func(r *http.Request) { r.Header.Del(name) }, "", ""},
			tc{"change " + name, func(r *http.Request) { r.Header.Set(name, r.Header.Get(name)+"0") }, "", ""},
		)
	}
	cases = append(cases,
		tc{"change path", func(r *http.Request) { r.URL.Path = "/tamper/src" }, "SignatureDoesNotMatch", ""},
		tc{"add query", func(r *http.Request) { r.URL.RawQuery = "uploadId=x&partNumber=1" }, "SignatureDoesNotMatch", ""},
		tc{"change method", func(r *http.Request) { r.Method = "DELETE" }, "SignatureDoesNotMatch", ""},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.set(c.tamper)
			defer p.set(nil)
			err := put()
			if err == nil {
				t.Fatalf("tampered request accepted")
			}
			code := apiCode(err)
			if c.code != "" && code != c.code {
				t.Fatalf("code %q (%v), want %q", code, err, c.code)
			}
			if !strings.Contains(err.Error(), "StatusCode: 403") && !strings.Contains(err.Error(), "StatusCode: 400") {
				t.Fatalf("not a refusal: %v", err)
			}
			if after := h.snapshot(t, "tamper"); after != before {
				t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	// The HeadersNotSigned element names the headers, as S3's does.
	p.set(func(r *http.Request) {
		r.Header.Set("X-Amz-Meta-Evil", "1")
		r.Header.Set("X-Amz-Copy-Source", "/tamper/src")
	})
	req := h.signReq(t, rawReq{method: "GET", path: "/tamper/src"})
	req.URL.Host = strings.TrimPrefix(p.srv.URL, "http://") // Host stays the signed one
	resp, body := h.doVia(t, req)
	p.set(nil)
	expectError(t, resp, body, 403, "AccessDenied")
	var eb s3ErrorBody
	must(t, xml.Unmarshal(body, &eb))
	if eb.HeadersNotSigned != "x-amz-copy-source, x-amz-meta-evil" {
		t.Fatalf("HeadersNotSigned %q", eb.HeadersNotSigned)
	}

	t.Run("presigned", func(t *testing.T) {
		pc := awss3.NewPresignClient(via)
		pp, err := pc.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("tamper"), Key: aws.String("dst")}, awss3.WithPresignExpires(5*time.Minute))
		must(t, err)
		send := func(tamper func(*http.Request)) (*http.Response, []byte) {
			req, err := http.NewRequest("PUT", pp.URL, strings.NewReader(""))
			must(t, err)
			for k, vs := range pp.SignedHeader {
				req.Header[k] = vs
			}
			if tamper != nil {
				tamper(req)
			}
			return h.doVia(t, req)
		}
		for _, c := range []struct {
			name   string
			tamper func(*http.Request)
			code   string
		}{
			{"add x-amz-copy-source", func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/other/secret") }, "AccessDenied"},
			{"add x-amz-meta", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Evil", "1") }, "AccessDenied"},
			{"add x-amz-date", func(r *http.Request) { r.Header.Set("X-Amz-Date", "20200101T000000Z") }, "AccessDenied"},
			// Exempt from HeadersNotSigned, but it is the payload hash of
			// the canonical request: the signature no longer matches.
			{"add x-amz-content-sha256", func(r *http.Request) {
				r.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
			}, "SignatureDoesNotMatch"},
			{"change expiry", func(r *http.Request) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=300", "X-Amz-Expires=301", 1)
			}, "SignatureDoesNotMatch"},
			{"change key", func(r *http.Request) { r.URL.Path = "/tamper/src" }, "SignatureDoesNotMatch"},
		} {
			t.Run(c.name, func(t *testing.T) {
				resp, body := send(c.tamper)
				expectError(t, resp, body, 403, c.code)
				if after := h.snapshot(t, "tamper"); after != before {
					t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
		resp, body := send(nil)
		expectOK(t, resp, body)
	})
}

// doVia sends req as is (it is already signed, or is sent for its error).
func (h *harness) doVia(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
