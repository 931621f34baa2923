package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/chromedp/chromedp"
)

// TestCORSInBrowser: a page served from one origin uses fetch() with
// presigned URLs against a server process on another origin (another
// port), in Debian's Chromium: PUT (preflighted) and GET succeed on a
// bucket whose CORS rules allow the page's origin, and fail, with nothing
// stored, on a bucket without rules.
func TestCORSInBrowser(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>CORS test page</title><p>uploads from another origin</p>")
	}))
	defer page.Close()
	if strings.HasPrefix(srv.endpoint, page.URL) {
		t.Fatalf("page %s and server %s share an origin", page.URL, srv.endpoint)
	}

	ctx := context.Background()
	c := srv.client(testKey, testSecret)
	for _, b := range []string{"with-cors", "without-cors"} {
		if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("hello.txt"), Body: strings.NewReader("hello " + b)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String("with-cors"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{
			AllowedOrigins: []string{page.URL}, AllowedMethods: []string{"GET", "PUT"},
			AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(60),
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	pc := awss3.NewPresignClient(c)
	presignPut := func(bucket, key string) string {
		p, err := pc.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return p.URL
	}
	presignGet := func(bucket, key string) string {
		p, err := pc.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return p.URL
	}

	b := newBrowserTab(t, "cors", page.URL)
	b.do(chromedp.Navigate(page.URL+"/"), chromedp.WaitReady(chromedp.CSS("p")))
	if origin := evalIn[string](b, `location.origin`); origin != page.URL {
		t.Fatalf("page origin %q, want %q", origin, page.URL)
	}
	// fetch answers "status etag body", or "error <name>" when the
	// browser refuses the response (or the preflight).
	fetchJS := func(method, url, body string) string {
		init := fmt.Sprintf(`{method: %q}`, method)
		if body != "" {
			init = fmt.Sprintf(`{method: %q, body: %q}`, method, body)
		}
		return fmt.Sprintf(`(async () => { try { const r = await fetch(%q, %s);
			return r.status + " " + (r.headers.get("ETag") || "-") + " " + await r.text(); }
			catch (e) { return "error " + e.name; } })()`, url, init)
	}

	// With a rule: the preflighted PUT goes through, its ETag is exposed,
	// and the GET reads back what it wrote.
	got := evalIn[string](b, fetchJS("PUT", presignPut("with-cors", "from-browser.txt"), "written by a page"))
	if !strings.HasPrefix(got, `200 "`) {
		t.Fatalf("PUT with a rule: %q", got)
	}
	if got := evalIn[string](b, fetchJS("GET", presignGet("with-cors", "from-browser.txt"), "")); !strings.HasPrefix(got, "200 ") || !strings.HasSuffix(got, " written by a page") {
		t.Fatalf("GET with a rule: %q", got)
	}
	if got := evalIn[string](b, fetchJS("GET", presignGet("with-cors", "hello.txt"), "")); !strings.HasSuffix(got, " hello with-cors") {
		t.Fatalf("GET with a rule: %q", got)
	}

	// Without one: the preflight is refused, so the PUT is never sent,
	// and the GET's response is withheld from the page.
	if got := evalIn[string](b, fetchJS("PUT", presignPut("without-cors", "from-browser.txt"), "written by a page")); got != "error TypeError" {
		t.Fatalf("PUT without a rule: %q", got)
	}
	if got := evalIn[string](b, fetchJS("GET", presignGet("without-cors", "hello.txt"), "")); got != "error TypeError" {
		t.Fatalf("GET without a rule: %q", got)
	}
	_, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("without-cors"), Key: aws.String("from-browser.txt")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFound" {
		t.Fatalf("the refused PUT stored something: %v", err)
	}
	// A rule for another origin is no rule for this page.
	_, err = c.PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String("without-cors"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{"https://elsewhere.example"}, AllowedMethods: []string{"GET", "PUT"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := evalIn[string](b, fetchJS("GET", presignGet("without-cors", "hello.txt"), "")); got != "error TypeError" {
		t.Fatalf("GET with another origin's rule: %q", got)
	}
}
