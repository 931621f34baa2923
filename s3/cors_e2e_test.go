package s3_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3"
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
	acme := h.addTenant(t, "acme", "ACMEKEY", "acme-secret")
	_, err := acme.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("rej")})
	wantCode(t, err, "NoSuchBucket")
	_, err = acme.DeleteBucketCors(ctx, &awss3.DeleteBucketCorsInput{Bucket: aws.String("rej")})
	wantCode(t, err, "NoSuchBucket")
	// Its tenant-qualified name is no way in, signed by another tenant or
	// unsigned: no bucket policy grants s3:*BucketCORS.
	qualified := node.RootTenant + ":rej"
	_, err = acme.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String(qualified)})
	wantCode(t, err, "AccessDenied")
	_, err = acme.DeleteBucketCors(ctx, &awss3.DeleteBucketCorsInput{Bucket: aws.String(qualified)})
	wantCode(t, err, "AccessDenied")
	_, err = acme.PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String(qualified), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}}},
	}})
	wantCode(t, err, "AccessDenied")
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		var body []byte
		var hdr http.Header
		if m == "PUT" {
			body, hdr = other, md5Header(other)
		}
		resp, b := h.do(t, rawReq{method: m, path: "/" + qualified + "?cors", body: body, hdr: hdr, unsigned: true})
		expectError(t, resp, b, 403, "AccessDenied")
	}
	unchanged(t)
}

// options sends an unsigned OPTIONS request with the given headers;
// host, when set, replaces the Host header.
func (h *harness) options(t *testing.T, path, host string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("OPTIONS", h.ep().URL+path, nil)
	must(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := h.ep().Client().Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, b
}

// corsErrorDoc is S3's CORS refusal document.
type corsErrorDoc struct {
	Code, Message, Method, ResourceType string
}

func expectCORSError(t *testing.T, resp *http.Response, b []byte, status int, code, msg, method, resource string) {
	t.Helper()
	expectError(t, resp, b, status, code)
	var d corsErrorDoc
	must(t, xml.Unmarshal(b, &d))
	if !strings.Contains(d.Message, msg) || d.Method != method || d.ResourceType != resource {
		t.Fatalf("got %+v, want message %q, method %q, resource %q", d, msg, method, resource)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("refusal with CORS headers: %v", resp.Header)
	}
}

// addTenant makes a tenant with one access key.
func (h *harness) addTenant(t *testing.T, id, key, secret string) *awss3.Client {
	t.Helper()
	now := time.Now()
	meta := h.node.Meta
	must(t, meta.PutTenant(ctx, metastore.Tenant{ID: id, Name: id, Plan: "test", State: metastore.TenantActive, Created: now}))
	must(t, meta.PutUser(ctx, metastore.User{Tenant: id, Name: "u", Created: now}))
	must(t, meta.CreateAccessKey(ctx, metastore.AccessKey{ID: key, Tenant: id, User: "u", Enabled: true, Created: now}, secret))
	return h.client(h.secure, func(o *awss3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, "")
	})
}

func TestE2ECorsPreflight(t *testing.T) { overBoth(t, testE2ECorsPreflight) }

func testE2ECorsPreflight(t *testing.T, secure bool) {
	h := newHarness(t, func(c *s3.Config) { c.Domain = "s3.local" }).over(secure)
	h.bucket(t, "pfl")
	h.bucket(t, "nocors")
	h.putCORS(t, "pfl", corsRuleDoc)
	const app = "https://app.example"

	// Refusals, in S3's order: Origin first, then the bucket and its
	// rules, then the method asked for, then the rules' verdict.
	resp, b := h.options(t, "/pfl/k", "", nil)
	expectError(t, resp, b, 400, "BadRequest")
	if !strings.Contains(string(b), "Insufficient information. Origin request header needed.") {
		t.Fatalf("%s", b)
	}
	resp, b = h.options(t, "/nobucket/k", "", map[string]string{"Origin": app, "Access-Control-Request-Method": "PUT"})
	expectCORSError(t, resp, b, 403, "AccessForbidden", "CORSResponse: Bucket not found", "PUT", "BUCKET")
	resp, b = h.options(t, "/nocors/k", "", map[string]string{"Origin": app})
	expectCORSError(t, resp, b, 403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", "OPTIONS", "BUCKET")
	resp, b = h.options(t, "/pfl/k", "", map[string]string{"Origin": app})
	expectError(t, resp, b, 400, "BadRequest")
	if !strings.Contains(string(b), "Invalid Access-Control-Request-Method: null") {
		t.Fatalf("%s", b)
	}
	resp, b = h.options(t, "/pfl/k", "", map[string]string{"Origin": app, "Access-Control-Request-Method": "PATCH"})
	expectError(t, resp, b, 400, "BadRequest")
	for _, tc := range []struct {
		path   string
		hdr    map[string]string
		method string
		res    string
	}{
		{"/pfl/k", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"}, "PUT", "OBJECT"},
		{"/pfl/k", map[string]string{"Origin": "http://app.example", "Access-Control-Request-Method": "GET"}, "GET", "OBJECT"},
		{"/pfl/k", map[string]string{"Origin": app + "/", "Access-Control-Request-Method": "GET"}, "GET", "OBJECT"},
		{"/pfl/k", map[string]string{"Origin": app, "Access-Control-Request-Method": "DELETE"}, "DELETE", "OBJECT"},
		{"/pfl", map[string]string{"Origin": app, "Access-Control-Request-Method": "HEAD"}, "HEAD", "BUCKET"},
	} {
		resp, b = h.options(t, tc.path, "", tc.hdr)
		expectCORSError(t, resp, b, 403, "AccessForbidden", "CORSResponse: This CORS request is not allowed.", tc.method, tc.res)
	}

	// Allowed: path style and virtual-hosted style, unsigned.
	for _, tc := range []struct{ path, host string }{{"/pfl/dir/k", ""}, {"/dir/k", "pfl.s3.local"}, {"/pfl", ""}} {
		resp, b = h.options(t, tc.path, tc.host, map[string]string{
			"Origin": app, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "Content-Type,X-Amz-Date",
		})
		if resp.StatusCode != 200 || len(b) != 0 {
			t.Fatalf("%s %s: %d %s", tc.host, tc.path, resp.StatusCode, b)
		}
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin":      app,
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "PUT, GET",
			"Access-Control-Allow-Headers":     "content-type, x-amz-date",
			"Access-Control-Expose-Headers":    "ETag",
			"Access-Control-Max-Age":           "600",
			"Vary":                             "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.host, tc.path, k, got, v)
			}
		}
	}
	// Rules removed: refused again.
	resp, b = h.do(t, rawReq{method: "DELETE", path: "/pfl?cors"})
	if resp.StatusCode != 204 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	resp, b = h.options(t, "/pfl/k", "", map[string]string{"Origin": app, "Access-Control-Request-Method": "PUT"})
	expectCORSError(t, resp, b, 403, "AccessForbidden", "CORS is not enabled", "PUT", "BUCKET")
}

// TestE2ECorsTenants: a bucket name two tenants share. A preflight with a
// presigned URL's access key is answered from that key's tenant's rules
// only; one without a key from the first tenant whose rules match.
func TestE2ECorsTenants(t *testing.T) {
	h := newHarness(t, nil)
	acme := h.addTenant(t, "acme", "ACMEKEY", "acme-secret")
	h.bucket(t, "shared")
	h.putCORS(t, "shared", strings.ReplaceAll(corsRuleDoc, "https://app.example", "https://root.example"))
	_, err := acme.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("shared")})
	must(t, err)
	_, err = acme.PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String("shared"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{"https://acme.example"}, AllowedMethods: []string{"PUT"}}},
	}})
	must(t, err)
	presign := func(c *awss3.Client) string {
		p, err := awss3.NewPresignClient(c).PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("k")})
		must(t, err)
		return p.URL[strings.Index(p.URL, "/shared/"):]
	}
	acmeURL, rootURL := presign(acme), presign(h.client(false))
	for _, tc := range []struct {
		path, origin string
		status       int
	}{
		{acmeURL, "https://acme.example", 200},
		{acmeURL, "https://root.example", 403},
		{rootURL, "https://root.example", 200},
		{rootURL, "https://acme.example", 403},
		{"/shared/k", "https://root.example", 200},
		{"/shared/k", "https://acme.example", 200},
		{"/shared/k", "https://other.example", 403},
		// A tenant-qualified name selects its tenant's bucket.
		{"/root:shared/k", "https://root.example", 200},
		{"/root:shared/k", "https://acme.example", 403},
		{"/acme:shared/k", "https://acme.example", 200},
		{"/nosuchtenant:shared/k", "https://acme.example", 403},
		// An unknown key selects no bucket.
		{"/shared/k?X-Amz-Credential=NOSUCHKEY%2F20260101%2Fus-east-1%2Fs3%2Faws4_request", "https://root.example", 403},
	} {
		resp, b := h.options(t, tc.path, "", map[string]string{"Origin": tc.origin, "Access-Control-Request-Method": "PUT"})
		if resp.StatusCode != tc.status {
			t.Errorf("%.60s from %s: %d, want %d: %s", tc.path, tc.origin, resp.StatusCode, tc.status, b)
		}
	}
	// A suspended tenant's buckets answer no preflight.
	must(t, h.node.Meta.SetTenantState(ctx, "acme", metastore.TenantSuspended))
	resp, b := h.options(t, "/shared/k", "", map[string]string{"Origin": "https://acme.example", "Access-Control-Request-Method": "PUT"})
	if resp.StatusCode != 403 {
		t.Fatalf("suspended tenant: %d %s", resp.StatusCode, b)
	}
}

// TestE2ECorsActual: signed and presigned responses carry the matching
// rule's headers when the request has an Origin, error responses too.
func TestE2ECorsActual(t *testing.T) { overBoth(t, testE2ECorsActual) }

func testE2ECorsActual(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	h.bucket(t, "act")
	h.bucket(t, "plain")
	h.putCORS(t, "act", corsRuleDoc)
	resp, b := h.do(t, rawReq{method: "PUT", path: "/act/k", body: []byte("v")})
	expectOK(t, resp, b)
	resp, b = h.do(t, rawReq{method: "PUT", path: "/plain/k", body: []byte("v")})
	expectOK(t, resp, b)
	const app = "https://app.example"
	allowed := func(t *testing.T, resp *http.Response, want bool) {
		t.Helper()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if !want {
			if got != "" || resp.Header.Get("Vary") != "" {
				t.Fatalf("unexpected CORS headers: %v", resp.Header)
			}
			return
		}
		if got != app || resp.Header.Get("Access-Control-Allow-Methods") != "PUT, GET" ||
			resp.Header.Get("Access-Control-Expose-Headers") != "ETag" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
			resp.Header.Get("Access-Control-Max-Age") != "600" || resp.Header.Get("Vary") == "" || resp.Header.Get("Access-Control-Allow-Headers") != "" {
			t.Fatalf("CORS headers: %v", resp.Header)
		}
	}
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }
	cases := []struct {
		name   string
		rr     rawReq
		status int
		want   bool
	}{
		{"GET", rawReq{method: "GET", path: "/act/k", hdr: origin(app)}, 200, true},
		{"PUT", rawReq{method: "PUT", path: "/act/k2", body: []byte("w"), hdr: origin(app)}, 200, true},
		{"no Origin", rawReq{method: "GET", path: "/act/k"}, 200, false},
		{"other origin", rawReq{method: "GET", path: "/act/k", hdr: origin("https://evil.example")}, 200, false},
		{"method not allowed", rawReq{method: "DELETE", path: "/act/k2", hdr: origin(app)}, 204, false},
		{"request-method header decides", rawReq{method: "GET", path: "/act/k", hdr: http.Header{"Origin": {app}, "Access-Control-Request-Method": {"DELETE"}}}, 200, false},
		{"bucket without rules", rawReq{method: "GET", path: "/plain/k", hdr: origin(app)}, 200, false},
		{"missing bucket", rawReq{method: "GET", path: "/nobucket/k", hdr: origin(app)}, 404, false},
		// Errors of a bucket with rules carry them.
		{"NoSuchKey", rawReq{method: "GET", path: "/act/missing", hdr: origin(app)}, 404, true},
		{"SignatureDoesNotMatch", rawReq{method: "GET", path: "/act/k", hdr: origin(app),
			creds: &aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: "not-the-secret"}}, 403, true},
		{"anonymous", rawReq{method: "GET", path: "/act/k", hdr: origin(app), unsigned: true}, 403, true},
		{"unknown key", rawReq{method: "GET", path: "/act/k", hdr: origin(app),
			creds: &aws.Credentials{AccessKeyID: "NOSUCHKEY", SecretAccessKey: "x"}}, 403, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := h.do(t, tc.rr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			allowed(t, resp, tc.want)
		})
	}
	// A presigned GET, as a browser sends it.
	p, err := awss3.NewPresignClient(h.client(h.secure)).PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("act"), Key: aws.String("k")})
	must(t, err)
	req, err := http.NewRequest("GET", p.URL, nil)
	must(t, err)
	req.Header.Set("Origin", app)
	resp, err = h.ep().Client().Do(req)
	must(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "v" {
		t.Fatalf("presigned: %d %s", resp.StatusCode, b)
	}
	allowed(t, resp, true)
}

// TestE2ECorsPostObject: a browser-form upload (its key and signature in
// the body) gets the bucket's CORS headers, a refused one too.
func TestE2ECorsPostObject(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "forms")
	h.putCORS(t, "forms", strings.ReplaceAll(corsRuleDoc, "<AllowedMethod>PUT</AllowedMethod>", "<AllowedMethod>POST</AllowedMethod>"))
	conds := []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", "up/"}}
	post := func(secret string) *http.Response {
		t.Helper()
		f := postForm{fields: append([]formField{{"key", "up/${filename}"}}, h.v4Policy(t, time.Now().Add(time.Hour), conds, secret)...),
			fileName: "a.txt", file: []byte("from a form")}
		ct, body := f.encode(t)
		req, err := http.NewRequest("POST", h.plain.URL+"/forms", bytes.NewReader(body))
		must(t, err)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Origin", "https://app.example")
		resp, err := h.plain.Client().Do(req)
		must(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		secret string
		status int
	}{{"", 204}, {"not-the-secret", 403}} {
		resp := post(tc.secret)
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			resp.Header.Get("Access-Control-Allow-Methods") != "POST, GET" {
			t.Fatalf("status %d (want %d), headers %v", resp.StatusCode, tc.status, resp.Header)
		}
	}
}
