package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

func vhostOf(domain string) func(string) (string, bool) {
	return func(host string) (string, bool) {
		b, ok := strings.CutSuffix(host, "."+domain)
		return b, ok && b != ""
	}
}

// TestSigV2AWSExamples checks the canonical string against the examples of
// the S3 documentation (virtual-hosted bucket "johnsmith").
func TestSigV2AWSExamples(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, date, ctype, sig string
	}{
		{"object GET", "GET", "/photos/puppy.jpg", "Tue, 27 Mar 2007 19:36:42 +0000", "", "bWq2s1WEIj+Ydj0vQ697zp+IXMU="},
		{"object PUT", "PUT", "/photos/puppy.jpg", "Tue, 27 Mar 2007 21:15:45 +0000", "image/jpeg", "MyyxeRY7whkBe+bq8fHCL/2kKUg="},
		{"acl sub-resource, list parameters left out", "GET", "/?acl&prefix=photos&max-keys=50", "Tue, 27 Mar 2007 19:44:46 +0000", "", "c2WLPFtWHVgbEmeEG93a4cG37dM="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, _ := time.Parse(time.RFC1123Z, tc.date)
			v := newVerifier(at)
			v.VirtualHost = vhostOf("s3.amazonaws.com")
			r := httptest.NewRequest(tc.method, tc.target, nil)
			r.Host = "johnsmith.s3.amazonaws.com"
			r.Header.Set("Date", tc.date)
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			r.Header.Set("Authorization", "AWS "+testAK+":"+tc.sig)
			res, err := v.Verify(context.Background(), r, secretOf)
			if err != nil {
				t.Fatalf("%v; string to sign %q", err, v.StringToSignV2(r, tc.date, false))
			}
			if !res.V2 || res.AccessKeyID != testAK || res.PayloadHash != UnsignedPayload {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

// v2Request signs a request with minio-go's V2 signer (an independent
// implementation) and returns it as the server receives it.
func v2Request(t *testing.T, method, rawURL string, hdr http.Header, presign bool, vhost bool, at time.Time) *http.Request {
	t.Helper()
	out, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		out.Header[k] = vs
	}
	if !presign {
		out.Header.Set("Date", at.UTC().Format(http.TimeFormat))
		out = signer.SignV2(*out, testAK, testSecret, vhost)
	} else {
		out = signer.PreSignV2(*out, testAK, testSecret, 3600, vhost)
	}
	in := httptest.NewRequest(method, out.URL.RequestURI(), nil)
	in.Host = out.URL.Host
	in.Header = out.Header.Clone()
	if presign {
		in.Header.Del("Expires")
	}
	return in
}

func TestSigV2MatchesMinioSigner(t *testing.T) {
	now := time.Now()
	v := newVerifier(now)
	v.VirtualHost = vhostOf("s3.local")
	cases := []struct {
		name, method, url string
		hdr               http.Header
		vhost             bool
	}{
		{"list buckets", "GET", "http://127.0.0.1:9000/", nil, false},
		{"key with space and unicode", "GET", "http://127.0.0.1:9000/bucket/" + (&url.URL{Path: "a b/ünï/c+d"}).EscapedPath(), nil, false},
		{"meta and content type", "PUT", "http://localhost/b/k", http.Header{"Content-Type": {"text/plain"}, "X-Amz-Meta-A": {"1"}, "X-Amz-Meta-B": {"2"}, "Content-Md5": {"1B2M2Y8AsgTpgAmYPbiJfA=="}}, false},
		{"multipart part", "PUT", "http://localhost/b/k?partNumber=2&uploadId=abc%2Bdef", nil, false},
		{"initiate", "POST", "http://localhost/b/k?uploads=", nil, false},
		{"list with params", "GET", "http://localhost/b?prefix=a%20b&delimiter=%2F&max-keys=3&list-type=2", nil, false},
		{"response overrides", "GET", "http://localhost/b/k?response-content-type=text%2Fplain&response-cache-control=no-cache", nil, false},
		{"virtual host", "GET", "http://bucket.s3.local/k/x", nil, true},
		{"virtual host root", "GET", "http://bucket.s3.local/?location=", nil, true},
	}
	for _, tc := range cases {
		for _, presign := range []bool{false, true} {
			t.Run(tc.name+"/presign="+strconv.FormatBool(presign), func(t *testing.T) {
				r := v2Request(t, tc.method, tc.url, tc.hdr, presign, tc.vhost, now)
				res, err := v.Verify(context.Background(), r, secretOf)
				if err != nil {
					t.Fatalf("verify: %v (authorization %q, query %q)", err, r.Header.Get("Authorization"), r.URL.RawQuery)
				}
				if !res.V2 || res.Presigned != presign {
					t.Fatalf("result %+v", res)
				}
				// Tampering: method, a sub-resource, an x-amz header.
				for _, tamper := range []func(*http.Request){
					func(r *http.Request) { r.Method = "DELETE" },
					func(r *http.Request) {
						if r.URL.RawQuery != "" {
							r.URL.RawQuery += "&"
						}
						r.URL.RawQuery += "uploadId=other"
					},
					func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/b/other") },
					func(r *http.Request) { r.Header.Set("Content-Type", "evil/type") },
				} {
					r2 := v2Request(t, tc.method, tc.url, tc.hdr, presign, tc.vhost, now)
					tamper(r2)
					r2.RequestURI = r2.URL.RequestURI()
					if _, err := v.Verify(context.Background(), r2, secretOf); !errors.Is(err, ErrSignatureMismatch) {
						t.Fatalf("tampered request: %v", err)
					}
				}
			})
		}
	}
}

func TestSigV2Errors(t *testing.T) {
	now := time.Now()
	v := newVerifier(now)
	good := func() *http.Request { return v2Request(t, "GET", "http://localhost/b/k", nil, false, false, now) }
	goodQ := func() *http.Request { return v2Request(t, "GET", "http://localhost/b/k", nil, true, false, now) }
	setQ := func(r *http.Request, k, val string) *http.Request {
		q := r.URL.Query()
		if val == "" {
			q.Del(k)
		} else {
			q.Set(k, val)
		}
		r.URL.RawQuery = q.Encode()
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want error
	}{
		{"no colon", func() *http.Request { r := good(); r.Header.Set("Authorization", "AWS "+testAK); return r }(), ErrV2MalformedHeader},
		{"empty key", func() *http.Request { r := good(); r.Header.Set("Authorization", "AWS :"+SignV2("a", "b")); return r }(), ErrV2MalformedHeader},
		{"not base64", func() *http.Request { r := good(); r.Header.Set("Authorization", "AWS "+testAK+":!!!!"); return r }(), ErrV2MalformedHeader},
		{"short signature", func() *http.Request { r := good(); r.Header.Set("Authorization", "AWS "+testAK+":AAAA"); return r }(), ErrV2MalformedHeader},
		{"unknown key", func() *http.Request {
			r := good()
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAK, "NOBODY", 1))
			return r
		}(), errUnknown},
		{"wrong secret", func() *http.Request {
			r := good()
			r.Header.Set("Authorization", "AWS "+testAK+":"+SignV2("wrong", "x"))
			return r
		}(), ErrSignatureMismatch},
		{"no date", func() *http.Request { r := good(); r.Header.Del("Date"); return r }(), ErrMissingDate},
		{"bad date", func() *http.Request { r := good(); r.Header.Set("Date", "soon"); return r }(), ErrMissingDate},
		{"skewed", v2Request(t, "GET", "http://localhost/b/k", nil, false, false, now.Add(-time.Hour)), ErrTimeSkewed},
		{"streaming payload", func() *http.Request { r := good(); r.Header.Set("X-Amz-Content-Sha256", StreamingSigned); return r }(), ErrInvalidContentSHA256},
		{"query missing signature", setQ(goodQ(), "Signature", ""), ErrV2MissingQuery},
		{"query missing expires", setQ(goodQ(), "Expires", ""), ErrV2MissingQuery},
		{"query bad expires", setQ(goodQ(), "Expires", "tomorrow"), ErrV2BadExpires},
		{"query expired", setQ(goodQ(), "Expires", strconv.FormatInt(now.Add(-time.Second).Unix(), 10)), ErrExpired},
		{"query expires extended", setQ(goodQ(), "Expires", strconv.FormatInt(now.Add(2*time.Hour).Unix(), 10)), ErrSignatureMismatch},
		{"query garbage signature", setQ(goodQ(), "Signature", "zz"), ErrSignatureMismatch},
		{"query and V4 query", setQ(goodQ(), "X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ErrMultipleAuth},
		// Every x-amz-* header is part of the V2 string to sign.
		{"added x-amz header", func() *http.Request { r := good(); r.Header.Set("X-Amz-Meta-Evil", "1"); return r }(), ErrSignatureMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.r, secretOf)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSigV2XAmzDate: with x-amz-date the Date line is empty and the date
// is an x-amz header (s3cmd signs this way).
func TestSigV2XAmzDate(t *testing.T) {
	now := time.Now().UTC()
	v := newVerifier(now)
	r := httptest.NewRequest("GET", "/b/k?uploadId=u&partNumber=1", nil)
	r.Host = "localhost"
	d := now.Format("Mon, 02 Jan 2006 15:04:05 +0000")
	r.Header.Set("X-Amz-Date", d)
	r.Header.Set("Date", "Thu, 01 Jan 1970 00:00:00 GMT") // ignored
	sts := "GET\n\n\n\nx-amz-date:" + d + "\n/b/k?partNumber=1&uploadId=u"
	if got := v.StringToSignV2(r, "", false); got != sts {
		t.Fatalf("string to sign %q", got)
	}
	r.Header.Set("Authorization", "AWS "+testAK+":"+SignV2(testSecret, sts))
	if _, err := v.Verify(context.Background(), r, secretOf); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseAuthorizationV2(f *testing.F) {
	f.Add("AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=")
	f.Add("AWS :")
	f.Add("AWS a:b:c")
	f.Add("AWS  x:" + strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, h string) {
		ak, sig, err := ParseAuthorizationV2(h)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedAuth) && !errors.Is(err, ErrV2MalformedHeader) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if ak == "" || len(sig) != 20 {
			t.Fatalf("accepted %q %x", ak, sig)
		}
	})
}

func FuzzParsePresignV2(f *testing.F) {
	f.Add("AWSAccessKeyId=AK&Expires=1700000000&Signature=bWq2s1WEIj%2BYdj0vQ697zp%2BIXMU%3D")
	f.Add("AWSAccessKeyId=&Expires=&Signature=")
	f.Add("Expires=99999999999999999999")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := ParsePresignV2(q)
		if err != nil {
			if !errors.Is(err, ErrV2MissingQuery) && !errors.Is(err, ErrV2BadExpires) && !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if p.AccessKeyID == "" || len(p.Signature) != 20 {
			t.Fatalf("accepted %+v", p)
		}
	})
}

// FuzzVerifyV2 feeds arbitrary headers and queries through the whole V2
// verification: it must never panic, and never accept a request it did
// not see signed.
func FuzzVerifyV2(f *testing.F) {
	f.Add("GET", "/b/k?acl&uploadId=1", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=", "Tue, 27 Mar 2007 19:36:42 +0000", "x")
	f.Add("PUT", "/?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=9999999999&Signature=AAAA", "", "", "")
	f.Fuzz(func(t *testing.T, method, target, authz, date, amz string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n#") || strings.ContainsAny(method, " \r\n/") || method == "" {
			return
		}
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panic on %q %q: %v", method, target, p)
			}
		}()
		r, err := http.NewRequest(method, "http://localhost"+target, nil)
		if err != nil {
			return
		}
		r.RequestURI = target
		r.Header.Set("Authorization", authz)
		r.Header.Set("Date", date)
		r.Header.Set("X-Amz-Meta-F", amz)
		v := newVerifier(time.Date(2007, 3, 27, 19, 36, 42, 0, time.UTC))
		if _, err := v.Verify(context.Background(), r, secretOf); err == nil {
			t.Fatalf("accepted a request no one signed: %q %q %q", method, target, authz)
		}
	})
}

// TestSigV2BucketSlash: botocore sends GET /bucket?prefix=... but signs
// the resource "/bucket/".
func TestSigV2BucketSlash(t *testing.T) {
	now := time.Now().UTC()
	v := newVerifier(now)
	r := httptest.NewRequest("GET", "/dbg?prefix=v2%2F&encoding-type=url", nil)
	d := now.Format(http.TimeFormat)
	r.Header.Set("Date", d)
	r.Header.Set("Authorization", "AWS "+testAK+":"+SignV2(testSecret, "GET\n\n\n"+d+"\n/dbg/"))
	if _, err := v.Verify(context.Background(), r, secretOf); err != nil {
		t.Fatal(err)
	}
	// Only a lone bucket segment gets the slash.
	r = httptest.NewRequest("GET", "/dbg/key", nil)
	r.Header.Set("Date", d)
	r.Header.Set("Authorization", "AWS "+testAK+":"+SignV2(testSecret, "GET\n\n\n"+d+"\n/dbg/key/"))
	if _, err := v.Verify(context.Background(), r, secretOf); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatal(err)
	}
}

// BenchmarkVerifyV2 is the V2 counterpart of BenchmarkVerifyHeader (same
// request shape); compare the two in one run.
func BenchmarkVerifyV2(b *testing.B) {
	v := newVerifier(testNow)
	r := httptest.NewRequest("PUT", "/bucket/some/key.bin", nil)
	r.Host = "localhost"
	r.Header.Set("Content-Type", "application/octet-stream")
	r.Header.Set("Date", testNow.Format(http.TimeFormat))
	r.Header.Set("X-Amz-Meta-A", "1")
	r.Header.Set("Authorization", "AWS "+testAK+":"+SignV2(testSecret, v.StringToSignV2(r, r.Header.Get("Date"), false)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(context.Background(), r, secretOf); err != nil {
			b.Fatal(err)
		}
	}
}
