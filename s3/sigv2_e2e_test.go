package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// minioClient is a minio-go client of the harness's plain endpoint.
func (h *harness) minioClient(t *testing.T, v2 bool, trailing bool) *minio.Client {
	t.Helper()
	creds := credentials.NewStaticV4(h.cred.AccessKeyID, h.cred.Secret, "")
	if v2 {
		creds = credentials.NewStaticV2(h.cred.AccessKeyID, h.cred.Secret, "")
	}
	c, err := minio.New(strings.TrimPrefix(h.plain.URL, "http://"), &minio.Options{
		Creds: creds, Region: "us-east-1", TrailingHeaders: trailing,
		Transport: h.plain.sdk,
	})
	must(t, err)
	return c
}

// TestSigV2EndToEnd drives the server with minio-go's Signature Version 2
// mode (header-signed and presigned), and checks the refusals of malformed
// or tampered V2 requests.
func TestSigV2EndToEnd(t *testing.T) {
	h := newHarness(t, nil)
	c := h.minioClient(t, true, false)
	ctx := context.Background()
	must(t, c.MakeBucket(ctx, "sigv2", minio.MakeBucketOptions{}))
	data := make([]byte, 12<<20)
	rand.Read(data)
	// Multipart (parts of 5 MiB), then a small object with metadata.
	_, err := c.PutObject(ctx, "sigv2", "dir/big ünï+key", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{PartSize: 5 << 20})
	must(t, err)
	_, err = c.PutObject(ctx, "sigv2", "small", strings.NewReader("hello"), 5, minio.PutObjectOptions{
		ContentType: "text/plain", UserMetadata: map[string]string{"color": "blue"}, SendContentMd5: true})
	must(t, err)
	o, err := c.GetObject(ctx, "sigv2", "dir/big ünï+key", minio.GetObjectOptions{})
	must(t, err)
	got, err := io.ReadAll(o)
	must(t, err)
	o.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("multipart object differs")
	}
	st, err := c.StatObject(ctx, "sigv2", "small", minio.StatObjectOptions{})
	must(t, err)
	if st.UserMetadata["Color"] != "blue" || st.ContentType != "text/plain" {
		t.Fatalf("stat %+v", st)
	}
	_, err = c.CopyObject(ctx, minio.CopyDestOptions{Bucket: "sigv2", Object: "copy"}, minio.CopySrcOptions{Bucket: "sigv2", Object: "small"})
	must(t, err)
	n := 0
	for obj := range c.ListObjects(ctx, "sigv2", minio.ListObjectsOptions{Recursive: true}) {
		must(t, obj.Err)
		n++
	}
	if n != 3 {
		t.Fatalf("listed %d", n)
	}
	// Presigned GET and PUT (V2 query: AWSAccessKeyId, Expires, Signature).
	u, err := c.PresignedGetObject(ctx, "sigv2", "small", time.Minute, url.Values{"response-content-type": {"application/x-test"}})
	must(t, err)
	if !u.Query().Has("AWSAccessKeyId") || !u.Query().Has("Signature") {
		t.Fatalf("not a V2 URL: %s", u)
	}
	resp, err := http.Get(u.String())
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello" || resp.Header.Get("Content-Type") != "application/x-test" {
		t.Fatalf("presigned GET %d %q %v", resp.StatusCode, body, resp.Header)
	}
	pu, err := c.PresignedPutObject(ctx, "sigv2", "presigned-put", time.Minute)
	must(t, err)
	req, _ := http.NewRequest("PUT", pu.String(), strings.NewReader("via presigned V2"))
	resp, b := h.doVia(t, req)
	expectOK(t, resp, b)
	if string(h.content(t, "sigv2", "presigned-put")) != "via presigned V2" {
		t.Fatal("presigned PUT content")
	}
	must(t, c.RemoveObject(ctx, "sigv2", "copy", minio.RemoveObjectOptions{}))
	h.absent(t, "sigv2", "copy")

	// Bad input.
	v := &sigv4.Verifier{}
	signed := func(method, target string, hdr http.Header) *http.Request {
		req, _ := http.NewRequest(method, h.plain.URL+target, nil)
		for k, vs := range hdr {
			req.Header[k] = vs
		}
		req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		req.RequestURI = req.URL.RequestURI()
		sts := v.StringToSignV2(req, req.Header.Get("Date"), false)
		req.RequestURI = ""
		req.Header.Set("Authorization", "AWS "+h.cred.AccessKeyID+":"+sigv4.SignV2(h.cred.Secret, sts))
		return req
	}
	resp, b = h.doVia(t, signed("GET", "/sigv2/small", nil))
	expectOK(t, resp, b)

	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"malformed header", func() *http.Request {
			r := signed("GET", "/sigv2/small", nil)
			r.Header.Set("Authorization", "AWS "+h.cred.AccessKeyID)
			return r
		}, 400, "InvalidArgument"},
		{"tampered sub-resource", func() *http.Request {
			r := signed("GET", "/sigv2/small?uploadId=abc", nil)
			r.URL.RawQuery = "uploadId=abd"
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"sub-resource added", func() *http.Request {
			r := signed("GET", "/sigv2/small", nil)
			r.URL.RawQuery = "acl"
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"x-amz header added", func() *http.Request {
			r := signed("PUT", "/sigv2/dst", nil)
			r.Header.Set("X-Amz-Copy-Source", "/sigv2/small")
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"changed date", func() *http.Request {
			r := signed("GET", "/sigv2/small", nil)
			d, _ := http.ParseTime(r.Header.Get("Date"))
			r.Header.Set("Date", d.Add(-time.Second).UTC().Format(http.TimeFormat))
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"stale date", func() *http.Request {
			r := signed("GET", "/sigv2/small", nil)
			r.Header.Set("Date", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
			return r
		}, 403, "RequestTimeTooSkewed"},
		{"expired presign", func() *http.Request {
			u, _ := c.PresignedGetObject(ctx, "sigv2", "small", time.Minute, nil)
			q := u.Query()
			q.Set("Expires", strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10))
			u.RawQuery = q.Encode()
			r, _ := http.NewRequest("GET", u.String(), nil)
			return r
		}, 403, "AccessDenied"},
		{"incomplete presign", func() *http.Request {
			u, _ := c.PresignedGetObject(ctx, "sigv2", "small", time.Minute, nil)
			q := u.Query()
			q.Del("Expires")
			u.RawQuery = q.Encode()
			r, _ := http.NewRequest("GET", u.String(), nil)
			return r
		}, 403, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := h.doVia(t, tc.req())
			expectError(t, resp, b, tc.status, tc.code)
			h.absent(t, "sigv2", "dst")
		})
	}
	resp, b = h.doVia(t, func() *http.Request {
		u, _ := c.PresignedGetObject(ctx, "sigv2", "small", time.Minute, nil)
		q := u.Query()
		q.Set("Expires", strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10))
		u.RawQuery = q.Encode()
		r, _ := http.NewRequest("GET", u.String(), nil)
		return r
	}())
	if !strings.Contains(string(b), "<Message>Request has expired</Message>") {
		t.Fatalf("expired presign: %s", b)
	}
}

// TestSigV2VirtualHost: V2 signs "/bucket/key" for a virtual-hosted
// request.
func TestSigV2VirtualHost(t *testing.T) {
	h := newHarness(t, func(c *s3.Config) { c.Domain = "s3.test" })
	h.bucket(t, "vh2")
	_, err := h.minioClient(t, false, false).PutObject(context.Background(), "vh2", "k", strings.NewReader("v"), 1, minio.PutObjectOptions{})
	must(t, err)
	v := &sigv4.Verifier{VirtualHost: func(host string) (string, bool) { return strings.CutSuffix(host, ".s3.test") }}
	req, _ := http.NewRequest("GET", h.plain.URL+"/k", nil)
	req.Host = "vh2.s3.test"
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	sts := v.StringToSignV2(req, req.Header.Get("Date"), false)
	if !strings.HasSuffix(sts, "\n/vh2/k") {
		t.Fatalf("resource in %q", sts)
	}
	req.Header.Set("Authorization", "AWS "+h.cred.AccessKeyID+":"+sigv4.SignV2(h.cred.Secret, sts))
	resp, b := h.doVia(t, req)
	expectOK(t, resp, b)
	if string(b) != "v" {
		t.Fatalf("got %q", b)
	}
}

// TestSigV2QualifiedVirtualHost: a tenant-qualified virtual host
// (bucket.tenant.<domain>) takes a V2 signature over "/bucket/key" (a
// client whose endpoint is tenant.<domain>) or over "/bucket.tenant/key"
// (one whose endpoint is <domain>); the policy still decides, and a last
// label naming no tenant gets no alias.
func TestSigV2QualifiedVirtualHost(t *testing.T) {
	h := newHarness(t, func(c *s3.Config) { c.Domain = "s3.test" })
	h.bucket(t, "vqb")
	owner := h.client(false)
	_, err := owner.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("vqb"), Key: aws.String("k"), Body: strings.NewReader("v")})
	must(t, err)
	must(t, putPolicy(t, owner, "vqb", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::acme:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::vqb/*"}]}`))
	alice, err := h.tenantKey(t, "acme", "alice").Retrieve(ctx)
	must(t, err)
	mallory, err := h.tenantKey(t, "acme", "mallory").Retrieve(ctx)
	must(t, err)

	send := func(method, host, path, resource, ak, secret string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, h.plain.URL+path, nil)
		req.Host = host
		date := time.Now().UTC().Format(http.TimeFormat)
		req.Header.Set("Date", date)
		sts := method + "\n\n\n" + date + "\n" + resource
		req.Header.Set("Authorization", "AWS "+ak+":"+sigv4.SignV2(secret, sts))
		return h.doVia(t, req)
	}
	for _, resource := range []string{"/vqb/k", "/vqb.root/k"} {
		resp, b := send("GET", "vqb.root.s3.test", "/k", resource, alice.AccessKeyID, alice.SecretAccessKey)
		expectOK(t, resp, b)
		if string(b) != "v" {
			t.Fatalf("signed %s: got %q", resource, b)
		}
	}
	for _, tc := range []struct {
		name, method, host, resource, ak, secret string
		status                                   int
		code                                     string
	}{
		{"write the policy does not grant", "PUT", "vqb.root.s3.test", "/vqb/x", alice.AccessKeyID, alice.SecretAccessKey, 403, "AccessDenied"},
		{"user the policy does not name", "GET", "vqb.root.s3.test", "/vqb/k", mallory.AccessKeyID, mallory.SecretAccessKey, 403, "AccessDenied"},
		{"wrong secret", "GET", "vqb.root.s3.test", "/vqb/k", alice.AccessKeyID, "wrong", 403, "SignatureDoesNotMatch"},
		{"another bucket in the resource", "GET", "vqb.root.s3.test", "/other/k", alice.AccessKeyID, alice.SecretAccessKey, 403, "SignatureDoesNotMatch"},
		{"no such tenant: no alias", "GET", "vqb.nosuchtenant.s3.test", "/vqb/k", alice.AccessKeyID, alice.SecretAccessKey, 403, "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/k"
			if tc.method == "PUT" {
				path = "/x"
			}
			resp, b := send(tc.method, tc.host, path, tc.resource, tc.ak, tc.secret)
			expectError(t, resp, b, tc.status, tc.code)
		})
	}
	if _, err := owner.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("vqb"), Key: aws.String("x")}); err == nil {
		t.Fatal("the refused PUT stored an object")
	}
}
