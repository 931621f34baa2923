package s3_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

const corsRuleDoc = `<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>`

// md5Header is a Content-MD5 header for body.
func md5Header(body []byte) http.Header {
	s := md5.Sum(body)
	return http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(s[:])}}
}

// putCORS sets a bucket's rules with a raw signed request.
func (h *harness) putCORS(t *testing.T, bucket, doc string) {
	t.Helper()
	resp, b := h.do(t, rawReq{method: "PUT", path: "/" + bucket + "?cors", body: []byte(doc), hdr: md5Header([]byte(doc))})
	expectOK(t, resp, b)
}

// corsStored returns GetBucketCors's body, "" for NoSuchCORSConfiguration.
func (h *harness) corsStored(t *testing.T, bucket string) string {
	t.Helper()
	resp, b := h.do(t, rawReq{method: "GET", path: "/" + bucket + "?cors"})
	if resp.StatusCode == 404 {
		expectError(t, resp, b, 404, "NoSuchCORSConfiguration")
		return ""
	}
	expectOK(t, resp, b)
	return string(b)
}

func TestE2EBucketCors(t *testing.T) { overBoth(t, testE2EBucketCors) }

func testE2EBucketCors(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	h.bucket(t, "cfg")
	// None yet: 404 with the bucket named, as S3 answers.
	resp, b := h.do(t, rawReq{method: "GET", path: "/cfg?cors"})
	expectError(t, resp, b, 404, "NoSuchCORSConfiguration")
	var doc struct {
		BucketName string `xml:"BucketName"`
		Message    string `xml:"Message"`
	}
	must(t, xml.Unmarshal(b, &doc))
	if doc.BucketName != "cfg" || doc.Message != "The CORS configuration does not exist" {
		t.Fatalf("%s", b)
	}
	// Delete without rules is 204.
	resp, b = h.do(t, rawReq{method: "DELETE", path: "/cfg?cors"})
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}

	// The SDK (x-amz-checksum-crc32, no Content-MD5) sets and reads rules.
	c := h.client(h.secure)
	_, err := c.PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String("cfg"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{
			ID: aws.String("browser"), AllowedOrigins: []string{"https://app.example", "http://*.dev.example"},
			AllowedMethods: []string{"GET", "PUT"}, AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(3000),
		}, {AllowedOrigins: []string{"*"}, AllowedMethods: []string{"HEAD"}}},
	}})
	must(t, err)
	got, err := c.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("cfg")})
	must(t, err)
	if len(got.CORSRules) != 2 {
		t.Fatalf("%+v", got.CORSRules)
	}
	r := got.CORSRules[0]
	if aws.ToString(r.ID) != "browser" || strings.Join(r.AllowedOrigins, ",") != "https://app.example,http://*.dev.example" ||
		strings.Join(r.AllowedMethods, ",") != "GET,PUT" || strings.Join(r.AllowedHeaders, ",") != "*" ||
		strings.Join(r.ExposeHeaders, ",") != "ETag" || aws.ToInt32(r.MaxAgeSeconds) != 3000 || got.CORSRules[1].MaxAgeSeconds != nil {
		t.Fatalf("%+v", r)
	}
	// A raw PUT replaces the rules; GET answers them canonical.
	h.putCORS(t, "cfg", corsRuleDoc)
	want := xml.Header + `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><AllowedHeader>*</AllowedHeader><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedOrigin>https://app.example</AllowedOrigin><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>`
	if s := h.corsStored(t, "cfg"); s != want {
		t.Fatalf("stored %s", s)
	}
	_, err = c.DeleteBucketCors(ctx, &awss3.DeleteBucketCorsInput{Bucket: aws.String("cfg")})
	must(t, err)
	if s := h.corsStored(t, "cfg"); s != "" {
		t.Fatalf("after delete: %s", s)
	}
	// A missing bucket.
	for _, m := range []string{"GET", "DELETE"} {
		resp, b = h.do(t, rawReq{method: m, path: "/nobucket?cors"})
		expectError(t, resp, b, 404, "NoSuchBucket")
	}
	resp, b = h.do(t, rawReq{method: "PUT", path: "/nobucket?cors", body: []byte(corsRuleDoc), hdr: md5Header([]byte(corsRuleDoc))})
	expectError(t, resp, b, 404, "NoSuchBucket")
}

// TestE2EBucketCorsRejects: malformed, oversized, truncated, unverified
// and unauthorized requests of the three operations change nothing.
func TestE2EBucketCorsRejects(t *testing.T) { overBoth(t, testE2EBucketCorsRejects) }

func testE2EBucketCorsRejects(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	h.bucket(t, "rej")
	h.putCORS(t, "rej", corsRuleDoc)
	before := h.corsStored(t, "rej")
	unchanged := func(t *testing.T) {
		t.Helper()
		if s := h.corsStored(t, "rej"); s != before {
			t.Fatalf("rules changed to %s", s)
		}
	}
	other := []byte(strings.Replace(corsRuleDoc, "https://app.example", "https://evil.example", 1))
	huge := []byte(strings.Replace(corsRuleDoc, "<CORSRule>", "<CORSRule>"+strings.Repeat(" ", 64<<10), 1))
	badMethod := []byte(strings.Replace(corsRuleDoc, "<AllowedMethod>GET", "<AllowedMethod>PATCH", 1))
	cases := []struct {
		name   string
		body   []byte
		hdr    http.Header
		status int
		code   string
	}{
		{"no Content-MD5", other, nil, 400, "InvalidRequest"},
		{"wrong Content-MD5", other, md5Header([]byte("something else")), 400, "BadDigest"},
		{"bad Content-MD5", other, http.Header{"Content-Md5": {"not base64"}}, 400, "InvalidDigest"},
		{"wrong checksum", other, http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}, 400, "BadDigest"},
		{"malformed", other[:len(other)-5], md5Header(other[:len(other)-5]), 400, "MalformedXML"},
		{"empty", []byte{}, md5Header(nil), 400, "MalformedXML"},
		{"unsupported method", badMethod, md5Header(badMethod), 400, "InvalidRequest"},
		{"oversized", huge, md5Header(huge), 400, "MaxMessageLengthExceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := h.do(t, rawReq{method: "PUT", path: "/rej?cors", body: tc.body, hdr: tc.hdr})
			expectError(t, resp, b, tc.status, tc.code)
			unchanged(t)
		})
	}
	t.Run("truncated", func(t *testing.T) {
		full := append(bytes.Clone(other), bytes.Repeat([]byte(" "), 1000)...)
		req := h.signReq(t, rawReq{method: "PUT", path: "/rej?cors", body: full, hdr: md5Header(full), payload: sigv4.UnsignedPayload})
		out := h.rawHTTP(t, dump(t, req, full[:len(full)/2]))
		if !strings.HasPrefix(out, "HTTP/1.1 400") || !strings.Contains(out, "<Code>IncompleteBody</Code>") {
			t.Fatalf("truncated: %.400s", out)
		}
		unchanged(t)
	})
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		t.Run("unauthorized "+m, func(t *testing.T) {
			var body []byte
			var hdr http.Header
			if m == "PUT" {
				body, hdr = other, md5Header(other)
			}
			resp, b := h.do(t, rawReq{method: m, path: "/rej?cors", body: body, hdr: hdr, unsigned: true})
			expectError(t, resp, b, 403, "AccessDenied")
			resp, b = h.do(t, rawReq{method: m, path: "/rej?cors", body: body, hdr: hdr,
				creds: &aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: "not-the-secret"}})
			expectError(t, resp, b, 403, "SignatureDoesNotMatch")
			resp, b = h.do(t, rawReq{method: m, path: "/rej?cors", body: body, hdr: hdr, at: time.Now().Add(-time.Hour)})
			expectError(t, resp, b, 403, "RequestTimeTooSkewed")
			unchanged(t)
		})
	}
	resp, b := h.do(t, rawReq{method: "POST", path: "/rej?cors"})
	expectError(t, resp, b, 405, "MethodNotAllowed")

	// Another tenant's bucket of the same name is another bucket.
	now := time.Now()
	meta := h.node.Meta
	must(t, meta.PutTenant(ctx, metastore.Tenant{ID: "acme", Name: "Acme", Plan: "test", State: metastore.TenantActive, Created: now}))
	must(t, meta.PutUser(ctx, metastore.User{Tenant: "acme", Name: "alice", Created: now}))
	must(t, meta.CreateAccessKey(ctx, metastore.AccessKey{ID: "ACMEKEY", Tenant: "acme", User: "alice", Enabled: true, Created: now}, "acme-secret"))
	acme := h.client(h.secure, func(o *awss3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("ACMEKEY", "acme-secret", "")
	})
	_, err := acme.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("rej")})
	wantCode(t, err, "NoSuchBucket")
	_, err = acme.DeleteBucketCors(ctx, &awss3.DeleteBucketCorsInput{Bucket: aws.String("rej")})
	wantCode(t, err, "NoSuchBucket")
	unchanged(t)
}
