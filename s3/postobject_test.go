package s3_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// formField is one field of a POST form, in order.
type formField struct{ name, value string }

// postForm is a browser-form upload: fields, then the file (or the file
// first when fileFirst).
type postForm struct {
	fields    []formField
	fileName  string
	file      []byte
	noFile    bool
	fileFirst bool
}

func (f postForm) encode(t testing.TB) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	writeFile := func() {
		if f.noFile {
			return
		}
		fw, err := mw.CreateFormFile("file", f.fileName)
		must(t, err)
		fw.Write(f.file)
	}
	if f.fileFirst {
		writeFile()
	}
	for _, fl := range f.fields {
		must(t, mw.WriteField(fl.name, fl.value))
	}
	if !f.fileFirst {
		writeFile()
	}
	must(t, mw.Close())
	return mw.FormDataContentType(), b.Bytes()
}

// v4Policy signs a policy document for the harness's key and returns the
// authentication fields (the policy's conditions must cover them).
func (h *harness) v4Policy(t testing.TB, expires time.Time, conds []any, secret string) []formField {
	t.Helper()
	now := time.Now().UTC()
	cred := h.cred.AccessKeyID + "/" + now.Format("20060102") + "/us-east-1/s3/aws4_request"
	amzDate := now.Format("20060102T150405Z")
	conds = append(conds, map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": cred}, map[string]string{"x-amz-date": amzDate})
	doc, err := json.Marshal(map[string]any{"expiration": expires.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
	must(t, err)
	policy := base64.StdEncoding.EncodeToString(doc)
	if secret == "" {
		secret = h.cred.Secret
	}
	sig := sigv4.Sign(sigv4.SigningKey(secret, now.Format("20060102"), "us-east-1", "s3"), policy)
	return []formField{{"policy", policy}, {"x-amz-algorithm", "AWS4-HMAC-SHA256"},
		{"x-amz-credential", cred}, {"x-amz-date", amzDate}, {"x-amz-signature", sig}}
}

func (h *harness) post(t testing.TB, bucket string, f postForm) (*http.Response, []byte) {
	t.Helper()
	ct, body := f.encode(t)
	req, err := http.NewRequest("POST", h.plain.URL+"/"+bucket, bytes.NewReader(body))
	must(t, err)
	req.Header.Set("Content-Type", ct)
	resp, err := (&http.Client{Transport: h.plain.sdk, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, b
}

func TestPostObject(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "forms")
	hour := time.Now().Add(time.Hour)
	base := []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", "up/"},
		[]any{"starts-with", "$Content-Type", "text/"}, []any{"content-length-range", 1, 1 << 20},
		[]any{"eq", "$x-amz-meta-color", "blue"}, map[string]string{"success_action_status": "201"}}
	auth := h.v4Policy(t, hour, base, "")
	fields := func(extra ...formField) []formField {
		fs := []formField{{"key", "up/${filename}"}, {"Content-Type", "text/plain"}, {"x-amz-meta-color", "blue"}, {"success_action_status", "201"}}
		return append(append(fs, auth...), extra...)
	}

	// Success: ${filename}, 201 with a PostResponse, type and metadata kept.
	resp, body := h.post(t, "forms", postForm{fields: fields(), fileName: "hello.txt", file: []byte("hello, form")})
	if resp.StatusCode != 201 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var pr struct {
		Bucket, Key, ETag, Location string
	}
	must(t, xml.Unmarshal(body, &pr))
	if pr.Bucket != "forms" || pr.Key != "up/hello.txt" || pr.ETag == "" || !strings.HasSuffix(pr.Location, "/forms/up/hello.txt") {
		t.Fatalf("PostResponse %+v", pr)
	}
	if got := h.content(t, "forms", "up/hello.txt"); string(got) != "hello, form" {
		t.Fatalf("content %q", got)
	}
	hd, err := h.client(false).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String("up/hello.txt")})
	must(t, err)
	if aws.ToString(hd.ContentType) != "text/plain" || hd.Metadata["color"] != "blue" {
		t.Fatalf("head %v %v", aws.ToString(hd.ContentType), hd.Metadata)
	}

	// Status 200, 204 (default) and the redirect.
	for _, c := range []struct {
		status, redirect string
		want             int
	}{{"200", "", 200}, {"", "", 204}, {"", "https://app.example/done?x=1", 303}} {
		conds := []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", ""}}
		var fs []formField
		if c.status != "" {
			conds = append(conds, map[string]string{"success_action_status": c.status})
			fs = append(fs, formField{"success_action_status", c.status})
		}
		if c.redirect != "" {
			conds = append(conds, []any{"starts-with", "$success_action_redirect", "https://app.example/"})
			fs = append(fs, formField{"success_action_redirect", c.redirect})
		}
		fs = append(append([]formField{{"key", "s" + c.status}}, fs...), h.v4Policy(t, hour, conds, "")...)
		resp, body := h.post(t, "forms", postForm{fields: fs, fileName: "f", file: []byte("x")})
		if resp.StatusCode != c.want {
			t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.want, body)
		}
		if c.want == 303 {
			u, err := url.Parse(resp.Header.Get("Location"))
			must(t, err)
			if u.Host != "app.example" || u.Query().Get("key") != "s" || u.Query().Get("bucket") != "forms" || u.Query().Get("x") != "1" || u.Query().Get("etag") == "" {
				t.Fatalf("redirect %s", u)
			}
		}
	}

	// Bad input: each gets S3's error and stores nothing.
	before := h.snapshot(t, "forms")
	big := bytes.Repeat([]byte("z"), 1<<20+1)
	for _, c := range []struct {
		name   string
		form   postForm
		status int
		code   string
		msg    string
	}{
		{"missing file", postForm{fields: fields(), noFile: true}, 400, "InvalidArgument", "POST requires exactly one file upload per request."},
		{"file before the policy", postForm{fields: fields(), fileName: "f.txt", file: []byte("x"), fileFirst: true}, 400, "InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."},
		{"oversized field", postForm{fields: fields(formField{"x-ignore-pad", strings.Repeat("p", 30<<10)}), fileName: "f.txt", file: []byte("x")}, 400, "MaxPostPreDataLengthExceeded", ""},
		{"key condition", postForm{fields: append([]formField{{"key", "elsewhere/f"}}, fields()[1:]...), fileName: "f.txt", file: []byte("x")}, 403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "up/"]`},
		{"content type condition", postForm{fields: append([]formField{{"key", "up/f"}, {"Content-Type", "text/plain,image/png"}}, fields()[2:]...), fileName: "f", file: []byte("x")}, 403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["starts-with", "$content-type", "text/"]`},
		{"meta condition", postForm{fields: append([]formField{{"key", "up/f"}, {"Content-Type", "text/plain"}, {"x-amz-meta-color", "red"}}, fields()[3:]...), fileName: "f", file: []byte("x")}, 403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["eq", "$x-amz-meta-color", "blue"]`},
		{"status condition", postForm{fields: append(fields()[:3], append([]formField{{"success_action_status", "200"}}, auth...)...), fileName: "f", file: []byte("x")}, 403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["eq", "$success_action_status", "201"]`},
		{"extra field", postForm{fields: fields(formField{"x-amz-meta-evil", "1"}), fileName: "f", file: []byte("x")}, 403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-evil"},
		{"too large for the range", postForm{fields: fields(), fileName: "f", file: big}, 400, "EntityTooLarge", ""},
		{"too small for the range", postForm{fields: fields(), fileName: "f", file: nil}, 400, "EntityTooSmall", ""},
		{"bad base64 policy", postForm{fields: append(fields()[:4], h.badPolicy(t, "%%%not base64%%%")...), fileName: "f", file: []byte("x")}, 400, "InvalidPolicyDocument", ""},
		{"policy not JSON", postForm{fields: append(fields()[:4], h.badPolicy(t, base64.StdEncoding.EncodeToString([]byte("{nope")))...), fileName: "f", file: []byte("x")}, 400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."},
		{"expired policy", postForm{fields: append(fields()[:4], h.v4Policy(t, time.Now().Add(-time.Minute), base, "")...), fileName: "f", file: []byte("x")}, 403, "AccessDenied", "Invalid according to Policy: Policy expired."},
		{"wrong secret", postForm{fields: append(fields()[:4], h.v4Policy(t, hour, base, "wrong")...), fileName: "f", file: []byte("x")}, 403, "SignatureDoesNotMatch", ""},
		{"unsigned", postForm{fields: fields()[:4], fileName: "f", file: []byte("x")}, 403, "AccessDenied", ""},
		{"other bucket in the policy", postForm{fields: append(fields()[:4], h.v4Policy(t, hour, append([]any{map[string]string{"bucket": "elsewhere"}}, base[1:]...), "")...), fileName: "f", file: []byte("x")}, 403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "elsewhere"]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := h.post(t, "forms", c.form)
			expectError(t, resp, body, c.status, c.code)
			if c.msg != "" && !strings.Contains(string(body), "<Message>"+xmlEscape(c.msg)+"</Message>") {
				t.Fatalf("message in %s, want %q", body, c.msg)
			}
			if after := h.snapshot(t, "forms"); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}

	// Not a form, a truncated form, a missing bucket.
	resp, body = h.do(t, rawReq{method: "POST", path: "/forms", body: []byte("key=x"), hdr: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	expectError(t, resp, body, 412, "PreconditionFailed")
	ct, full := postForm{fields: fields(), fileName: "f.txt", file: bytes.Repeat([]byte("t"), 1000)}.encode(t)
	req, _ := http.NewRequest("POST", h.plain.URL+"/forms", bytes.NewReader(full[:len(full)-200]))
	req.Header.Set("Content-Type", ct)
	resp, body = h.doVia(t, req)
	expectError(t, resp, body, 400, "MalformedPOSTRequest")
	// A body cut short of its Content-Length inside the file.
	req, _ = http.NewRequest("POST", h.plain.URL+"/forms", bytes.NewReader(full))
	req.Header.Set("Content-Type", ct)
	if out := h.rawHTTP(t, dump(t, req, full[:len(full)-200])); !strings.Contains(out, "400 Bad Request") || !strings.Contains(out, "<Code>IncompleteBody</Code>") {
		t.Fatalf("body cut short answered %q", out)
	}
	h.bucket(t, "other")
	resp, body = h.post(t, "nosuchbucket", postForm{fields: append(fields()[:4], h.v4Policy(t, hour, append([]any{map[string]string{"bucket": "nosuchbucket"}}, base[1:]...), "")...), fileName: "f", file: []byte("x")})
	expectError(t, resp, body, 404, "NoSuchBucket")
	if after := h.snapshot(t, "forms"); after != before {
		t.Fatalf("state changed:\n%s\n%s", before, after)
	}
}

// badPolicy returns signed authentication fields for an arbitrary policy
// string (the signature is over the string, valid or not).
func (h *harness) badPolicy(t testing.TB, policy string) []formField {
	now := time.Now().UTC()
	cred := h.cred.AccessKeyID + "/" + now.Format("20060102") + "/us-east-1/s3/aws4_request"
	sig := sigv4.Sign(sigv4.SigningKey(h.cred.Secret, now.Format("20060102"), "us-east-1", "s3"), policy)
	return []formField{{"policy", policy}, {"x-amz-algorithm", "AWS4-HMAC-SHA256"},
		{"x-amz-credential", cred}, {"x-amz-date", now.Format("20060102T150405Z")}, {"x-amz-signature", sig}}
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// TestPostObjectMinio uploads with minio-go's PresignedPostPolicy, in V4
// and V2 modes, as a browser would post the form.
func TestPostObjectMinio(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "mforms")
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			c := h.minioClient(t, v2, false)
			p := minio.NewPostPolicy()
			must(t, p.SetBucket("mforms"))
			must(t, p.SetKeyStartsWith("in/"))
			must(t, p.SetExpires(time.Now().Add(time.Hour)))
			must(t, p.SetContentType("image/png"))
			must(t, p.SetContentLengthRange(1, 10<<20))
			must(t, p.SetUserMetadata("owner", "ana"))
			must(t, p.SetSuccessStatusAction("201"))
			u, formData, err := c.PresignedPostPolicy(context.Background(), p)
			must(t, err)
			key := fmt.Sprintf("in/v2-%v.png", v2)
			formData["key"] = key
			var fs []formField
			for k, v := range formData {
				fs = append(fs, formField{k, v})
			}
			data := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 300<<10)
			ct, body := postForm{fields: fs, fileName: "x.png", file: data}.encode(t)
			req, _ := http.NewRequest("POST", u.String(), bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			resp, b := h.doVia(t, req)
			if resp.StatusCode != 201 {
				t.Fatalf("status %d: %s (fields %v)", resp.StatusCode, b, formData)
			}
			if got := h.content(t, "mforms", key); !bytes.Equal(got, data) {
				t.Fatal("content differs")
			}
		})
	}
}

// TestPostObjectFraming posts hand-framed forms: a preamble, transport
// padding after the delimiters, an epilogue, fields after the file
// (ignored), and a 3 MiB file holding near-delimiters across the reader's
// window; the file is stored byte for byte.
func TestPostObjectFraming(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "framed")
	auth := h.v4Policy(t, time.Now().Add(time.Hour), []any{map[string]string{"bucket": "framed"}, []any{"starts-with", "$key", ""}}, "")
	file := bytes.Repeat([]byte("0123456789abcdef"), 3<<16)
	for _, at := range []int{256<<10 - 5, 512<<10 - 1, 1 << 20} {
		copy(file[at:], "\r\n--xYz-")
	}
	var b bytes.Buffer
	b.WriteString("preamble, ignored\r\n")
	for _, f := range append([]formField{{"key", "framed-key"}}, auth...) {
		fmt.Fprintf(&b, "--xYz \t\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", f.name, f.value)
	}
	b.WriteString("--xYz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
	b.Write(file)
	b.WriteString("\r\n--xYz\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--xYz-- \r\nepilogue")
	req, _ := http.NewRequest("POST", h.plain.URL+"/framed", bytes.NewReader(b.Bytes()))
	req.Header.Set("Content-Type", `multipart/form-data; boundary="xYz"`)
	resp, body := h.doVia(t, req)
	if resp.StatusCode != 204 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got := h.content(t, "framed", "framed-key"); !bytes.Equal(got, file) {
		t.Fatalf("content differs (%d bytes, want %d)", len(got), len(file))
	}
}

// TestPostObjectSSE uploads through a form asking for SSE-S3 and SSE-C
// (as a PUT's headers would), checks a bucket policy that denies
// unencrypted uploads sees the form's field, and the bad input table.
func TestPostObjectSSE(t *testing.T) {
	h := newHarness(t, func(c *s3.Config) { c.SSECInsecure = true })
	h.bucket(t, "forms")
	c := h.client(false)
	hour := time.Now().Add(time.Hour)
	// The policy names the encryption fields (any value), as S3 asks.
	sseConds := []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", ""},
		[]any{"starts-with", "$x-amz-server-side-encryption", ""}}
	k := newSSECKey(t)
	ssecConds := []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", ""},
		[]any{"starts-with", "$x-amz-server-side-encryption-customer-algorithm", ""},
		[]any{"starts-with", "$x-amz-server-side-encryption-customer-key", ""},
		[]any{"starts-with", "$x-amz-server-side-encryption-customer-key-MD5", ""}}
	form := func(key string, conds []any, extra ...formField) postForm {
		fs := append([]formField{{"key", key}}, extra...)
		return postForm{fields: append(fs, h.v4Policy(t, hour, conds, "")...), fileName: "f", file: []byte("secret form bytes " + key)}
	}

	// SSE-S3: stored encrypted, reported by the answer and by HEAD.
	resp, body := h.post(t, "forms", form("s3", sseConds, formField{"x-amz-server-side-encryption", "AES256"}))
	if resp.StatusCode != 204 || resp.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
		t.Fatalf("SSE-S3 post: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String("s3")})
	must(t, err)
	if hd.ServerSideEncryption != "AES256" {
		t.Fatalf("head: %q", hd.ServerSideEncryption)
	}
	if got := h.content(t, "forms", "s3"); string(got) != "secret form bytes s3" {
		t.Fatalf("content %q", got)
	}

	// SSE-C: readable only with the key.
	resp, body = h.post(t, "forms", form("c", ssecConds, formField{"x-amz-server-side-encryption-customer-algorithm", "AES256"},
		formField{"x-amz-server-side-encryption-customer-key", *k.key}, formField{"x-amz-server-side-encryption-customer-key-MD5", *k.md5}))
	if resp.StatusCode != 204 || resp.Header.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "AES256" || resp.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key-Md5") != *k.md5 {
		t.Fatalf("SSE-C post: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	got, _ := getBytes(t, c, &awss3.GetObjectInput{Bucket: aws.String("forms"), Key: aws.String("c"),
		SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
	if string(got) != "secret form bytes c" {
		t.Fatalf("SSE-C content %q", got)
	}
	if _, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("forms"), Key: aws.String("c")}); err == nil {
		t.Fatal("SSE-C object read without its key")
	}

	// A bucket policy denying unencrypted uploads sees the form's field.
	must(t, putPolicy(t, c, "forms", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject",
		"Resource":"arn:aws:s3:::forms/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}}]}`))
	resp, body = h.post(t, "forms", form("plain", []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", ""}}))
	expectError(t, resp, body, 403, "AccessDenied")
	resp, body = h.post(t, "forms", form("enc", sseConds, formField{"x-amz-server-side-encryption", "AES256"}))
	if resp.StatusCode != 204 {
		t.Fatalf("encrypted post under the deny policy: %d %s", resp.StatusCode, body)
	}
	_, err = c.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("forms")})
	must(t, err)

	// Bad input: S3's code, nothing stored (the snapshot heads every
	// object, so the SSE-C one goes first).
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("forms"), Key: aws.String("c")})
	must(t, err)
	before := h.snapshot(t, "forms")
	badMD5 := base64.StdEncoding.EncodeToString(make([]byte, 16))
	for _, tc := range []struct {
		name   string
		form   postForm
		status int
		code   string
	}{
		{"unknown algorithm", form("x", sseConds, formField{"x-amz-server-side-encryption", "AES257"}), 400, "InvalidArgument"},
		{"kms", form("x", sseConds, formField{"x-amz-server-side-encryption", "aws:kms"}), 501, "NotImplemented"},
		{"field outside the policy", form("x", []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", ""}},
			formField{"x-amz-server-side-encryption", "AES256"}), 403, "AccessDenied"},
		{"SSE-C with a wrong MD5", form("x", ssecConds, formField{"x-amz-server-side-encryption-customer-algorithm", "AES256"},
			formField{"x-amz-server-side-encryption-customer-key", *k.key}, formField{"x-amz-server-side-encryption-customer-key-MD5", badMD5}), 400, "InvalidArgument"},
		{"SSE-C with a short key", form("x", ssecConds, formField{"x-amz-server-side-encryption-customer-algorithm", "AES256"},
			formField{"x-amz-server-side-encryption-customer-key", base64.StdEncoding.EncodeToString(make([]byte, 31))}, formField{"x-amz-server-side-encryption-customer-key-MD5", *k.md5}), 400, "InvalidArgument"},
		{"SSE-S3 and SSE-C together", form("x", append(ssecConds, sseConds[2]), formField{"x-amz-server-side-encryption", "AES256"}, formField{"x-amz-server-side-encryption-customer-algorithm", "AES256"},
			formField{"x-amz-server-side-encryption-customer-key", *k.key}, formField{"x-amz-server-side-encryption-customer-key-MD5", *k.md5}), 400, "InvalidArgument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.post(t, "forms", tc.form)
			expectError(t, resp, body, tc.status, tc.code)
			if after := h.snapshot(t, "forms"); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}

	// SSE-C needs TLS unless the insecure test setting is on.
	strict := newHarness(t, nil)
	strict.bucket(t, "forms")
	resp, body = strict.post(t, "forms", postForm{fields: append([]formField{{"key", "c"},
		{"x-amz-server-side-encryption-customer-algorithm", "AES256"}, {"x-amz-server-side-encryption-customer-key", *k.key},
		{"x-amz-server-side-encryption-customer-key-MD5", *k.md5}}, strict.v4Policy(t, hour, ssecConds, "")...), fileName: "f", file: []byte("x")})
	expectError(t, resp, body, 400, "InvalidRequest")
}
