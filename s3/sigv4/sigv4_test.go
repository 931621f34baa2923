package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testAK     = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func secretOf(_ context.Context, ak string) (string, error) {
	if ak == testAK {
		return testSecret, nil
	}
	return "", errUnknown
}

var errUnknown = errors.New("unknown key")

func newVerifier(now time.Time) *Verifier {
	return &Verifier{Region: "us-east-1", Service: "s3", Skew: 15 * time.Minute, Now: func() time.Time { return now }}
}

// sdkSign signs an outgoing request with the AWS SDK and returns the request
// as a server would receive it.
func sdkSign(t testing.TB, method, rawURL string, hdr http.Header, payload string, at time.Time) *http.Request {
	t.Helper()
	out, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		out.Header[k] = vs
	}
	out.Header.Set("X-Amz-Content-Sha256", payload)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}
	if err := signer.SignHTTP(context.Background(), creds, out, payload, "s3", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return toServer(out)
}

func toServer(out *http.Request) *http.Request {
	in := httptest.NewRequest(out.Method, out.URL.RequestURI(), nil)
	in.Host = out.URL.Host
	in.Header = out.Header.Clone()
	return in
}

func TestVerifyMatchesSDKSigner(t *testing.T) {
	v := newVerifier(testNow)
	cases := []struct {
		name, method, url string
		hdr               http.Header
		payload           string
	}{
		{"list buckets", "GET", "http://127.0.0.1:9000/", nil, EmptySHA256},
		{"simple key", "PUT", "http://127.0.0.1:9000/bucket/key.txt", http.Header{"Content-Type": {"text/plain"}}, UnsignedPayload},
		{"space and unicode", "GET", "http://127.0.0.1:9000/bucket/" + (&url.URL{Path: "a b/ünï/c"}).EscapedPath(), nil, EmptySHA256},
		{"plus percent", "GET", "http://localhost/bucket/a%2Bb%25c%20d", nil, EmptySHA256},
		{"double slash", "GET", "http://localhost/bucket//x//y", nil, EmptySHA256},
		{"encoded slash", "GET", "http://localhost/bucket/a%2Fb", nil, EmptySHA256},
		{"query", "GET", "http://localhost/bucket?list-type=2&prefix=a%20b%2Fc&delimiter=%2F&max-keys=3", nil, EmptySHA256},
		{"empty query value", "POST", "http://localhost/bucket/k?uploads", nil, EmptySHA256},
		{"vhost", "GET", "http://bucket.s3.local:8080/k", nil, EmptySHA256},
		{"meta headers", "PUT", "http://localhost/b/k", http.Header{"X-Amz-Meta-A": {"  x   y  "}, "X-Amz-Meta-B": {"1", "2"}}, sha256Hex("body")},
		{"streaming", "PUT", "http://localhost/b/k", http.Header{"Content-Encoding": {"aws-chunked"}, "X-Amz-Decoded-Content-Length": {"10"}}, StreamingUnsignedTrailer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sdkSign(t, tc.method, tc.url, tc.hdr, tc.payload, testNow)
			res, err := v.Verify(context.Background(), r, secretOf)
			if err != nil {
				t.Fatalf("verify: %v\nauthorization: %s", err, r.Header.Get("Authorization"))
			}
			if res.AccessKeyID != testAK || res.PayloadHash != tc.payload || res.Presigned {
				t.Fatalf("result %+v", res)
			}
			// Any change to a signed element must break the signature.
			r2 := sdkSign(t, tc.method, tc.url, tc.hdr, tc.payload, testNow)
			r2.Header.Set("X-Amz-Date", testNow.Add(time.Second).Format(timeFormat))
			if _, err := v.Verify(context.Background(), r2, secretOf); !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("tampered date: %v", err)
			}
			r3 := sdkSign(t, tc.method, tc.url, tc.hdr, tc.payload, testNow)
			r3.Method = "DELETE"
			if _, err := v.Verify(context.Background(), r3, secretOf); !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("tampered method: %v", err)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	v := newVerifier(testNow)
	good := func() *http.Request {
		return sdkSign(t, "GET", "http://localhost/b/k", nil, EmptySHA256, testNow)
	}
	cases := []struct {
		name   string
		mutate func(r *http.Request) *http.Request
		want   error
	}{
		{"anonymous", func(r *http.Request) *http.Request { r.Header.Del("Authorization"); return r }, ErrAnonymous},
		{"other scheme", func(r *http.Request) *http.Request { r.Header.Set("Authorization", "Bearer xyz"); return r }, ErrUnsupportedAuth},
		{"sigv2 malformed", func(r *http.Request) *http.Request { r.Header.Set("Authorization", "AWS "+testAK+":abc="); return r }, ErrV2MalformedHeader},
		{"sigv2 query expired", func(r *http.Request) *http.Request {
			r.Header.Del("Authorization")
			r.URL.RawQuery = "AWSAccessKeyId=x&Signature=" + url.QueryEscape(SignV2("s", "x")) + "&Expires=1"
			return r
		}, ErrExpired},
		{"sigv2 query and header", func(r *http.Request) *http.Request {
			r.URL.RawQuery = "AWSAccessKeyId=x&Signature=y&Expires=1"
			return r
		}, ErrMultipleAuth},
		{"garbage", func(r *http.Request) *http.Request {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 nonsense")
			return r
		}, ErrMalformedHeader},
		{"unknown key", func(r *http.Request) *http.Request {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAK, "AKNOBODY", 1))
			return r
		}, errUnknown},
		{"wrong region", func(r *http.Request) *http.Request {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "us-east-1", "eu-west-1", 1))
			return r
		}, ErrMalformedHeader},
		{"bad signature", func(r *http.Request) *http.Request {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			repl := byte('0')
			if last == '0' {
				repl = '1'
			}
			r.Header.Set("Authorization", a[:len(a)-1]+string(repl))
			return r
		}, ErrSignatureMismatch},
		{"no date", func(r *http.Request) *http.Request { r.Header.Del("X-Amz-Date"); return r }, ErrMissingDate},
		{"bad date", func(r *http.Request) *http.Request { r.Header.Set("X-Amz-Date", "yesterday"); return r }, ErrMissingDate},
		{"no content sha", func(r *http.Request) *http.Request { r.Header.Del("X-Amz-Content-Sha256"); return r }, ErrMissingContentSHA256},
		{"bad content sha", func(r *http.Request) *http.Request { r.Header.Set("X-Amz-Content-Sha256", "xyz"); return r }, ErrInvalidContentSHA256},
		{"both mechanisms", func(r *http.Request) *http.Request { r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256"; return r }, ErrMultipleAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.mutate(good()), secretOf)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// Clock skew both ways, and the edge inside the window.
	for _, d := range []time.Duration{16 * time.Minute, -16 * time.Minute} {
		r := sdkSign(t, "GET", "http://localhost/b/k", nil, EmptySHA256, testNow.Add(d))
		if _, err := v.Verify(context.Background(), r, secretOf); !errors.Is(err, ErrTimeSkewed) {
			t.Fatalf("skew %v: %v", d, err)
		}
	}
	r := sdkSign(t, "GET", "http://localhost/b/k", nil, EmptySHA256, testNow.Add(14*time.Minute))
	if _, err := v.Verify(context.Background(), r, secretOf); err != nil {
		t.Fatalf("inside window: %v", err)
	}
}

func presign(t *testing.T, method, rawURL string, expires time.Duration, at time.Time) *http.Request {
	t.Helper()
	u, _ := url.Parse(rawURL)
	q := u.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	u.RawQuery = q.Encode()
	out, _ := http.NewRequest(method, u.String(), nil)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}
	signed, _, err := signer.PresignHTTP(context.Background(), creds, out, UnsignedPayload, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := http.NewRequest(method, signed, nil)
	return toServer(in)
}

func TestPresign(t *testing.T) {
	v := newVerifier(testNow)
	r := presign(t, "GET", "http://localhost:9000/b/a%20key?response-content-type=text%2Fplain", time.Hour, testNow.Add(-30*time.Minute))
	res, err := v.Verify(context.Background(), r, secretOf)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Presigned || res.PayloadHash != UnsignedPayload {
		t.Fatalf("%+v", res)
	}
	// Expired.
	r = presign(t, "GET", "http://localhost:9000/b/k", time.Hour, testNow.Add(-61*time.Minute))
	if _, err := v.Verify(context.Background(), r, secretOf); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	// Too long.
	r = presign(t, "GET", "http://localhost:9000/b/k", MaxExpires+time.Second, testNow)
	if _, err := v.Verify(context.Background(), r, secretOf); !errors.Is(err, ErrMalformedQuery) {
		t.Fatalf("too long: %v", err)
	}
	// Exactly seven days is allowed.
	r = presign(t, "GET", "http://localhost:9000/b/k", MaxExpires, testNow.Add(-MaxExpires+time.Minute))
	if _, err := v.Verify(context.Background(), r, secretOf); err != nil {
		t.Fatalf("7 days: %v", err)
	}
	// Future beyond the skew.
	r = presign(t, "GET", "http://localhost:9000/b/k", time.Hour, testNow.Add(time.Hour))
	if _, err := v.Verify(context.Background(), r, secretOf); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("future: %v", err)
	}
	// Tampered query.
	r = presign(t, "GET", "http://localhost:9000/b/k", time.Hour, testNow)
	r.URL.RawQuery += "&response-content-type=evil"
	if _, err := v.Verify(context.Background(), r, secretOf); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("tampered: %v", err)
	}
	// Tampered path.
	r = presign(t, "GET", "http://localhost:9000/b/k", time.Hour, testNow)
	r.URL.Path, r.URL.RawPath = "/b/other", ""
	if _, err := v.Verify(context.Background(), r, secretOf); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("tampered path: %v", err)
	}
}

func TestParsePresignErrors(t *testing.T) {
	base := url.Values{
		"X-Amz-Algorithm":     {"AWS4-HMAC-SHA256"},
		"X-Amz-Credential":    {testAK + "/20260102/us-east-1/s3/aws4_request"},
		"X-Amz-Date":          {"20260102T030405Z"},
		"X-Amz-Expires":       {"60"},
		"X-Amz-SignedHeaders": {"host"},
		"X-Amz-Signature":     {strings.Repeat("ab", 32)},
	}
	if _, err := ParsePresign(base); err != nil {
		t.Fatal(err)
	}
	mut := []struct {
		k, v string
		want error
	}{
		{"X-Amz-Algorithm", "AWS4-HMAC-SHA1", ErrUnsupportedAuth},
		{"X-Amz-Credential", "x/y", ErrMalformedQuery},
		{"X-Amz-Credential", testAK + "/2026010/us-east-1/s3/aws4_request", ErrMalformedQuery},
		{"X-Amz-Credential", testAK + "/20260102/us-east-1/s3/aws5_request", ErrMalformedQuery},
		{"X-Amz-Date", "2026-01-02", ErrMalformedQuery},
		{"X-Amz-Expires", "-1", ErrMalformedQuery},
		{"X-Amz-Expires", "0", ErrMalformedQuery},
		{"X-Amz-Expires", "604801", ErrMalformedQuery},
		{"X-Amz-Expires", "1e3", ErrMalformedQuery},
		{"X-Amz-SignedHeaders", "Host", ErrMalformedQuery},
		{"X-Amz-SignedHeaders", "x;host", ErrMalformedQuery},
		{"X-Amz-Signature", "short", ErrMalformedQuery},
	}
	for _, m := range mut {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		q.Set(m.k, m.v)
		if _, err := ParsePresign(q); !errors.Is(err, m.want) {
			t.Errorf("%s=%s: got %v want %v", m.k, m.v, err, m.want)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := strings.Repeat("0f", 32)
	good := "AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig
	a, err := ParseAuthorization(good)
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessKeyID != "AK" || a.Date != "20260102" || a.Region != "us-east-1" || a.Service != "s3" ||
		strings.Join(a.SignedHeaders, ";") != "host;x-amz-date" || a.Signature != sig {
		t.Fatalf("%+v", a)
	}
	if a.Scope() != "20260102/us-east-1/s3/aws4_request" {
		t.Fatal(a.Scope())
	}
	bad := map[string]error{
		"":                         ErrUnsupportedAuth,
		"AWS AK:sig":               ErrUnsupportedAuth,
		"AWS4-HMAC-SHA256":         ErrUnsupportedAuth,
		"AWS4-HMAC-SHA256X a=b":    ErrUnsupportedAuth,
		"AWS4-HMAC-SHA256 a=b":     ErrMalformedHeader,
		"AWS4-HMAC-SHA256 nothing": ErrMalformedHeader,
		strings.Replace(good, "Signature="+sig, "Signature=zz", 1):           ErrMalformedHeader,
		strings.Replace(good, "host;x-amz-date", "x-amz-date;host", 1):       ErrMalformedHeader,
		strings.Replace(good, "aws4_request", "aws4", 1):                     ErrMalformedHeader,
		strings.Replace(good, ", Signature="+sig, "", 1):                     ErrMalformedHeader,
		good + ", Signature=" + sig:                                          ErrMalformedHeader,
		strings.Replace(good, "Credential=AK", "Credential=", 1):             ErrMalformedHeader,
		"AWS4-HMAC-SHA256 " + strings.Repeat("Credential=a,", maxAuthLength): ErrMalformedHeader,
	}
	for h, want := range bad {
		if _, err := ParseAuthorization(h); !errors.Is(err, want) {
			t.Errorf("%.60q: got %v want %v", h, err, want)
		}
	}
}

func TestCanonicalURI(t *testing.T) {
	cases := map[string]string{
		"":               "/",
		"/":              "/",
		"/b/a%20b":       "/b/a%20b",
		"/b/a%2fb":       "/b/a%2Fb",
		"/b/%41%7e":      "/b/A~",
		"/b/a+b":         "/b/a%2Bb",
		"/b/ü":           "/b/%C3%BC",
		"/b//x/./../y":   "/b//x/./../y",
		"/b/100%":        "/b/100%25",
		"/b/%zz":         "/b/%25zz",
		"/b/a!*'()":      "/b/a%21%2A%27%28%29",
		"/b/~user_x-1.0": "/b/~user_x-1.0",
	}
	for in, want := range cases {
		if got := CanonicalURI(in); got != want {
			t.Errorf("CanonicalURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	cases := []struct {
		raw       string
		presigned bool
		want      string
	}{
		{"", false, ""},
		{"uploads", false, "uploads="},
		{"b=2&a=1&a=0", false, "a=0&a=1&b=2"},
		{"prefix=a+b&delimiter=%2f", false, "delimiter=%2F&prefix=a%20b"},
		{"X-Amz-Signature=abc&X-Amz-Date=1", true, "X-Amz-Date=1"},
		{"X-Amz-Signature=abc", false, "X-Amz-Signature=abc"},
		{"k=%zz", false, "k=%25zz"},
	}
	for _, tc := range cases {
		if got := CanonicalQuery(tc.raw, tc.presigned); got != tc.want {
			t.Errorf("CanonicalQuery(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

// TestAWSStreamingExample checks the worked example of the S3 documentation
// ("Signature Calculations for the Authorization Header: Transferring Payload
// in Multiple Chunks"): 66560 bytes of 'a' in chunks of 64 KiB.
func TestAWSStreamingExample(t *testing.T) {
	at := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	r := httptest.NewRequest("PUT", "/examplebucket/chunkObject.txt", nil)
	r.Host = "s3.amazonaws.com"
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("Content-Length", "66824")
	r.Header.Set("X-Amz-Content-Sha256", StreamingSigned)
	seed := "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"+
		"Signature="+seed)
	res, err := newVerifier(at).Verify(context.Background(), r, secretOf)
	if err != nil {
		t.Fatalf("seed signature: %v", err)
	}
	if res.Seed != seed || !res.Streaming() {
		t.Fatalf("%+v", res)
	}
	cfg := res.ChunkedConfig(nil, 66560)
	enc := NewChunkedEncoder(cfg)
	c1 := enc.Chunk(bytes.Repeat([]byte{'a'}, 65536))
	c2 := enc.Chunk(bytes.Repeat([]byte{'a'}, 1024))
	c3 := enc.Chunk(nil)
	wantSigs := []string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	for i, c := range [][]byte{c1, c2, c3} {
		if !bytes.Contains(c, []byte("chunk-signature="+wantSigs[i])) {
			t.Fatalf("chunk %d: %.120q", i, c)
		}
	}
	body := bytes.Join([][]byte{c1, c2, c3, enc.End()}, nil)
	if len(body) != 66824 {
		t.Fatalf("encoded length %d", len(body))
	}
	got, err := io.ReadAll(NewChunkedReader(bytes.NewReader(body), cfg))
	if err != nil || len(got) != 66560 {
		t.Fatalf("decode: %d %v", len(got), err)
	}
}

func testChunkCfg(signed, trailer bool, trailers []string, decoded int64) ChunkedConfig {
	key := SigningKey(testSecret, "20260102", "us-east-1", "s3")
	return ChunkedConfig{
		Signed: signed, SigningKey: key, AmzDate: "20260102T030405Z",
		Scope: "20260102/us-east-1/s3/aws4_request", Seed: strings.Repeat("5e", 32),
		Trailer: trailer, Trailers: trailers, DecodedLength: decoded,
	}
}

// encodeBody builds a valid body of the given chunks.
func encodeBody(cfg ChunkedConfig, chunks [][]byte, trailers ...string) []byte {
	enc := NewChunkedEncoder(cfg)
	var b bytes.Buffer
	for _, c := range chunks {
		b.Write(enc.Chunk(c))
	}
	b.Write(enc.Chunk(nil))
	if cfg.Trailer {
		b.Write(enc.Trailers(trailers...))
	} else {
		b.Write(enc.End())
	}
	return b.Bytes()
}

func TestChunkedReaderValid(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000)
	chunks := [][]byte{data[:65536], data[65536:70000], data[70000:]}
	for _, mode := range []struct {
		name            string
		signed, trailer bool
	}{{"signed", true, false}, {"signed-trailer", true, true}, {"unsigned-trailer", false, true}} {
		t.Run(mode.name, func(t *testing.T) {
			var names []string
			var kv []string
			if mode.trailer {
				names = []string{"x-amz-checksum-crc32"}
				kv = []string{"x-amz-checksum-crc32", "AAAAAA=="}
			}
			cfg := testChunkCfg(mode.signed, mode.trailer, names, int64(len(data)))
			body := encodeBody(cfg, chunks, kv...)
			cr := NewChunkedReader(iotestOneByte(bytes.NewReader(body)), cfg)
			got, err := io.ReadAll(cr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("data differs")
			}
			if mode.trailer {
				if v, ok := cr.Trailer("x-amz-checksum-crc32"); !ok || v != "AAAAAA==" {
					t.Fatalf("trailer %q %v", v, ok)
				}
			}
			// Empty body.
			cfg.DecodedLength = 0
			body = encodeBody(cfg, nil, kv...)
			got, err = io.ReadAll(NewChunkedReader(bytes.NewReader(body), cfg))
			if err != nil || len(got) != 0 {
				t.Fatalf("empty: %v %d", err, len(got))
			}
		})
	}
	// Unknown decoded length and the SDK's LF-only trailer tolerance.
	cfg := testChunkCfg(false, true, []string{"x-amz-checksum-sha256"}, -1)
	body := []byte("3\r\nabc\r\n0\r\nx-amz-checksum-sha256:  abc \n\r\n")
	cr := NewChunkedReader(bytes.NewReader(body), cfg)
	if got, err := io.ReadAll(cr); err != nil || string(got) != "abc" {
		t.Fatalf("%q %v", got, err)
	}
	if v, _ := cr.Trailer("X-Amz-Checksum-Sha256"); v != "abc" {
		t.Fatalf("trailer %q", v)
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func iotestOneByte(r io.Reader) io.Reader { return oneByteReader{r} }

func TestChunkedReaderMalformed(t *testing.T) {
	signed := testChunkCfg(true, false, nil, 6)
	good := encodeBody(signed, [][]byte{[]byte("abc"), []byte("def")})
	sigTrailer := testChunkCfg(true, true, []string{"x-amz-checksum-crc32"}, 3)
	goodT := encodeBody(sigTrailer, [][]byte{[]byte("abc")}, "x-amz-checksum-crc32", "AAAAAA==")
	unsigned := testChunkCfg(false, true, []string{"x-amz-checksum-crc32"}, 3)
	goodU := []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		if c[i] == 'a' {
			c[i] = 'b'
		} else {
			c[i] = 'a'
		}
		return c
	}
	sigAt := bytes.Index(good, []byte("chunk-signature=")) + len("chunk-signature=")
	cases := []struct {
		name string
		cfg  ChunkedConfig
		body []byte
		want error
	}{
		{"signed ok", signed, good, nil},
		{"signed trailer ok", sigTrailer, goodT, nil},
		{"unsigned ok", unsigned, goodU, nil},
		{"empty", signed, nil, ErrChunkTruncated},
		{"truncated everywhere", signed, good[:len(good)-1], ErrChunkTruncated},
		{"truncated in data", signed, good[:sigAt+64+4], ErrChunkTruncated},
		{"truncated in header", signed, good[:5], ErrChunkTruncated},
		{"bad chunk sig", signed, flip(good, sigAt), ErrSignatureMismatch},
		{"bad data", signed, flip(good, sigAt+64+2), ErrSignatureMismatch},
		{"no sig", signed, []byte("3\r\nabc\r\n0\r\n\r\n"), ErrChunkMalformed},
		{"bad size", signed, []byte("zz;chunk-signature=" + strings.Repeat("a", 64) + "\r\n"), ErrChunkMalformed},
		{"negative size", unsigned, []byte("-3\r\nabc\r\n"), ErrChunkMalformed},
		{"huge size", unsigned, []byte("fffffffffffffffff\r\n"), ErrChunkMalformed},
		{"size > decoded", unsigned, []byte("4\r\nabcd\r\n0\r\n\r\n"), ErrDecodedLength},
		{"size < decoded", testChunkCfg(false, true, nil, 5), []byte("3\r\nabc\r\n0\r\n\r\n"), ErrDecodedLength},
		{"LF only header", unsigned, []byte("3\nabc\r\n0\r\n\r\n"), ErrChunkMalformed},
		{"no CRLF after data", unsigned, []byte("3\r\nabcX0\r\n\r\n"), ErrChunkMalformed},
		{"extension on unsigned", unsigned, []byte("3;x=y\r\nabc\r\n0\r\n\r\n"), ErrChunkMalformed},
		{"long line", unsigned, append(bytes.Repeat([]byte("0"), maxChunkLine+10), '\r', '\n'), ErrChunkMalformed},
		{"missing trailer", unsigned, []byte("3\r\nabc\r\n0\r\n\r\n"), ErrTrailerMalformed},
		{"undeclared trailer", unsigned, []byte("3\r\nabc\r\n0\r\nx-evil:1\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), ErrTrailerMalformed},
		{"duplicate trailer", unsigned, []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:A\r\nx-amz-checksum-crc32:B\r\n\r\n"), ErrTrailerMalformed},
		{"trailer no colon", unsigned, []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32\r\n\r\n"), ErrTrailerMalformed},
		{"trailer without final CRLF", unsigned, goodU[:len(goodU)-2], nil},
		{"trailer line without any CRLF", unsigned, goodU[:len(goodU)-4], nil},
		{"trailer cut in its name", unsigned, goodU[:len(goodU)-20], ErrTrailerMalformed},
		{"minio-go unsigned framing", unsigned, []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\n\r\n\r\n"), nil},
		{"minio-go signed framing", sigTrailer, minioSigned(sigTrailer), nil},
		{"trailers that never end", unsigned, append([]byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n"), bytes.Repeat([]byte("\r\n"), maxTrailerBytes)...), ErrTrailerMalformed},
		{"trailer line that never ends", unsigned, append([]byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:"), bytes.Repeat([]byte("A"), 100<<10)...), ErrTrailerMalformed},
		{"too many trailers", unsigned, append([]byte("3\r\nabc\r\n0\r\n"), bytes.Repeat([]byte("x-amz-checksum-crc32:A\r\n"), maxTrailers+2)...), ErrTrailerMalformed},
		{"trailer after signature", sigTrailer, append(bytes.Clone(bytes.TrimRight(goodT, "\r\n")), []byte("\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")...), ErrTrailerMalformed},
		{"other algorithm than declared", unsigned, []byte("3\r\nabc\r\n0\r\nx-amz-checksum-sha256:AAAAAA==\r\n\r\n"), ErrTrailerMalformed},
		{"sig trailer in unsigned", unsigned, []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:A\r\nx-amz-trailer-signature:" + strings.Repeat("a", 64) + "\r\n\r\n"), ErrTrailerMalformed},
		{"signed trailer missing sig", sigTrailer, bytes.Replace(goodT, []byte("x-amz-trailer-signature:"), []byte("x-amz-checksum-crc32:"), 1), ErrTrailerMalformed},
		{"signed trailer bad sig", sigTrailer, bytes.Replace(goodT, []byte("AAAAAA=="), []byte("AAAAAB=="), 1), ErrSignatureMismatch},
		{"data after end", signed, append(bytes.Clone(good), 'x'), ErrChunkMalformed},
		{"without final CRLF", signed, good[:len(good)-2], nil},
		{"LF as final line end", signed, append(bytes.Clone(good[:len(good)-2]), '\n'), nil},
		{"junk instead of final CRLF", signed, append(bytes.Clone(good[:len(good)-2]), 'x', '\r', '\n'), ErrChunkMalformed},
		{"reordered chunks", signed, reorder(signed), ErrSignatureMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := io.ReadAll(NewChunkedReader(bytes.NewReader(tc.body), tc.cfg))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// minioSigned frames a signed body with a signed trailer as minio-go v7
// does: the trailer line ends in LF alone and is followed by an empty
// line before the signature.
func minioSigned(cfg ChunkedConfig) []byte {
	enc := NewChunkedEncoder(cfg)
	var b bytes.Buffer
	b.Write(enc.Chunk([]byte("abc")))
	b.Write(enc.Chunk(nil))
	t := enc.Trailers("x-amz-checksum-crc32", "AAAAAA==")
	// "name:value\r\nx-amz-trailer-signature:sig\r\n\r\n" -> minio-go's form.
	b.Write(bytes.Replace(t, []byte("==\r\n"), []byte("==\n\r\n"), 1))
	return b.Bytes()
}

// reorder swaps two validly signed chunks: each chunk's signature is still
// right for its own bytes but not for its place in the chain.
func reorder(cfg ChunkedConfig) []byte {
	enc := NewChunkedEncoder(cfg)
	a := enc.Chunk([]byte("abc"))
	b := enc.Chunk([]byte("def"))
	end := enc.Chunk(nil)
	return bytes.Join([][]byte{b, a, end, enc.End()}, nil)
}

func TestChunkedReaderStickyError(t *testing.T) {
	cfg := testChunkCfg(false, true, nil, -1)
	cr := NewChunkedReader(strings.NewReader("zz\r\n"), cfg)
	buf := make([]byte, 10)
	_, err1 := cr.Read(buf)
	_, err2 := cr.Read(buf)
	if !errors.Is(err1, ErrChunkMalformed) || err1 != err2 {
		t.Fatalf("%v %v", err1, err2)
	}
	if _, ok := cr.Trailer("x"); ok {
		t.Fatal("trailer after error")
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0f", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=")
	f.Add("AWS ak:sig")
	f.Add("AWS4-HMAC-SHA256 ,,,,===")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedAuth) && !errors.Is(err, ErrMalformedHeader) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if !isHexSignature(a.Signature) || a.AccessKeyID == "" || len(a.SignedHeaders) == 0 {
			t.Fatalf("accepted invalid %+v", a)
		}
		for _, s := range a.SignedHeaders {
			if strings.Contains(a.Scope(), "\n") || s == "" {
				t.Fatalf("bad parse %+v", a)
			}
		}
	})
}

func FuzzParsePresign(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("ab", 32))
	f.Add("X-Amz-Algorithm=x")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := ParsePresign(q)
		if err == nil && (p.Expires <= 0 || p.Expires > MaxExpires) {
			t.Fatalf("accepted expires %v", p.Expires)
		}
	})
}

func FuzzChunkedReader(f *testing.F) {
	for _, signed := range []bool{false, true} {
		for _, trailer := range []bool{false, true} {
			if !signed && !trailer {
				continue
			}
			var names, kv []string
			if trailer {
				names, kv = []string{"x-amz-checksum-crc32"}, []string{"x-amz-checksum-crc32", "AAAAAA=="}
			}
			cfg := testChunkCfg(signed, trailer, names, -1)
			f.Add(signed, trailer, encodeBody(cfg, [][]byte{[]byte("hello"), []byte(" world")}, kv...))
		}
	}
	f.Add(false, true, []byte("3\r\nabc\r\n0\r\n\r\n"))
	f.Add(false, true, []byte("0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, signed, trailer bool, body []byte) {
		if !signed {
			trailer = true
		}
		var names []string
		if trailer {
			names = []string{"x-amz-checksum-crc32"}
		}
		cfg := testChunkCfg(signed, trailer, names, -1)
		cr := NewChunkedReader(bytes.NewReader(body), cfg)
		out, err := io.ReadAll(cr)
		if int64(len(out)) != cr.Decoded() {
			t.Fatalf("decoded count %d != %d", cr.Decoded(), len(out))
		}
		if len(out) > len(body) {
			t.Fatal("decoded more than the input")
		}
		if err != nil {
			return
		}
		if trailer {
			if _, ok := cr.Trailer("x-amz-checksum-crc32"); !ok {
				t.Fatal("accepted without the declared trailer")
			}
		}
	})
}

func BenchmarkVerifyHeader(b *testing.B) {
	r := sdkSign(b, "PUT", "http://localhost/bucket/some/key.bin", http.Header{"Content-Type": {"application/octet-stream"}}, UnsignedPayload, testNow)
	v := newVerifier(testNow)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(context.Background(), r, secretOf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedReaderSigned(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 64<<10)
	cfg := testChunkCfg(true, false, nil, -1)
	chunks := make([][]byte, 16)
	for i := range chunks {
		chunks[i] = data
	}
	body := encodeBody(cfg, chunks)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(data) * len(chunks)))
	for i := 0; i < b.N; i++ {
		cr := NewChunkedReader(bytes.NewReader(body), cfg)
		for {
			_, err := cr.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// s3cmd signs for region "US" by default: S3 takes it as us-east-1, and so
// do we; any other foreign region stays refused.
func TestLegacyUSRegion(t *testing.T) {
	for _, tc := range []struct {
		region string
		ok     bool
	}{{"US", true}, {"EU", false}, {"us", false}} {
		out, _ := http.NewRequest("GET", "http://127.0.0.1:9000/bucket/key", nil)
		out.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
		creds := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, out, EmptySHA256, "s3", tc.region, testNow); err != nil {
			t.Fatal(err)
		}
		_, err := newVerifier(testNow).Verify(context.Background(), toServer(out), secretOf)
		if (err == nil) != tc.ok {
			t.Fatalf("region %q: err = %v, want ok=%v", tc.region, err, tc.ok)
		}
	}
}

func TestWrongRegionNamesTheExpectedOne(t *testing.T) {
	v := newVerifier(testNow)
	v.Region = "eu-west-1"
	r := sdkSign(t, "GET", "http://localhost/b/k", nil, EmptySHA256, testNow)
	_, err := v.Verify(context.Background(), r, secretOf)
	var e *Error
	if !errors.Is(err, ErrMalformedHeader) || !errors.As(err, &e) || e.Region != "eu-west-1" {
		t.Fatalf("header form: %v", err)
	}
	if want := "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"; e.Msg != want {
		t.Fatalf("message %q", e.Msg)
	}
	p := presign(t, "GET", "http://localhost/b/k", time.Hour, testNow)
	_, err = v.Verify(context.Background(), p, secretOf)
	if !errors.Is(err, ErrMalformedQuery) || !errors.As(err, &e) || e.Region != "eu-west-1" {
		t.Fatalf("presigned form: %v", err)
	}
}

func TestUnsignedAmzHeaders(t *testing.T) {
	v := newVerifier(testNow)
	hdr := http.Header{"X-Amz-Meta-A": {"1"}, "Content-Type": {"text/plain"}}
	for _, tc := range []struct {
		name   string
		add    http.Header
		want   error
		listed string
	}{
		{"none", nil, nil, ""},
		{"non-amz headers are not required", http.Header{"Cache-Control": {"no"}, "X-Amzn-Trace-Id": {"t"}, "User-Agent": {"u"}}, nil, ""},
		{"copy source", http.Header{"X-Amz-Copy-Source": {"/b/other"}}, ErrHeadersNotSigned, "x-amz-copy-source"},
		{"two, sorted", http.Header{"X-Amz-Meta-Z": {"1"}, "X-Amz-Acl": {"private"}}, ErrHeadersNotSigned, "x-amz-acl, x-amz-meta-z"},
		{"odd case", http.Header{"x-AMZ-tagging": {"a=b"}}, ErrHeadersNotSigned, "x-amz-tagging"},
		// Bound as the payload line of the canonical request.
		{"content sha changed", http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}, ErrSignatureMismatch, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sdkSign(t, "PUT", "http://localhost/b/k", hdr, EmptySHA256, testNow)
			for k, vs := range tc.add {
				r.Header[k] = vs
			}
			_, err := v.Verify(context.Background(), r, secretOf)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var e *Error
			if tc.listed != "" && (!errors.As(err, &e) || e.HeadersNotSigned != tc.listed) {
				t.Fatalf("listed %+v, want %q", e, tc.listed)
			}
		})
	}
	// Presigned: the same rule.
	p := presign(t, "PUT", "http://localhost/b/k", time.Hour, testNow)
	p.Header.Set("X-Amz-Meta-Evil", "1")
	if _, err := v.Verify(context.Background(), p, secretOf); !errors.Is(err, ErrHeadersNotSigned) {
		t.Fatalf("presigned: %v", err)
	}
}

func TestClaimedAccessKey(t *testing.T) {
	const sig = "0000000000000000000000000000000000000000000000000000000000000000"
	cases := []struct {
		name, authz, query, want string
	}{
		{"none", "", "", ""},
		{"v4 header", "AWS4-HMAC-SHA256 Credential=AKV4/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, "", "AKV4"},
		{"v4 header malformed", "AWS4-HMAC-SHA256 Credential=AKV4", "", ""},
		{"v2 header", "AWS AKV2:" + "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "", "AKV2"},
		{"v2 header malformed", "AWS AKV2", "", ""},
		{"other scheme", "Bearer x", "", ""},
		{"v4 query", "", "X-Amz-Credential=AKQ%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=" + sig, "AKQ"},
		{"v4 query malformed", "", "X-Amz-Credential=AKQ", ""},
		{"v4 query twice", "", "X-Amz-Credential=A%2F20260101%2Fr%2Fs3%2Faws4_request&X-Amz-Credential=B%2F20260101%2Fr%2Fs3%2Faws4_request", ""},
		{"v2 query", "", "AWSAccessKeyId=AKQ2&Signature=x&Expires=1", "AKQ2"},
		{"header wins", "AWS AKH:AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AWSAccessKeyId=AKQ2", "AKH"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("OPTIONS", "/b/k?"+tc.query, nil)
		if tc.authz != "" {
			r.Header.Set("Authorization", tc.authz)
		}
		if got := ClaimedAccessKey(r); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
