package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// startSinkT serves h on loopback for the test.
func startSinkT(t *testing.T, h http.Handler) string {
	t.Helper()
	srv, err := StartSink(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close sink: %v", err)
		}
	})
	return srv.URL
}

// testClient returns an SDK client for url configured as Run configures it.
func testClient(t *testing.T, url string) *s3.Client {
	t.Helper()
	cfg := Config{Endpoint: url, AccessKey: "k", SecretKey: "s", PathStyle: true}.withDefaults()
	tr, err := newHTTPTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return newS3Client(cfg, &http.Client{Transport: tr})
}

func seedMeta(seed uint64) map[string]string {
	return map[string]string{seedMetaKey: fmt.Sprintf("%016x", seed)}
}

func (s *Sink) bucketCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.buckets)
}

func TestSinkBucketLifecycle(t *testing.T) {
	ctx := context.Background()
	c := testClient(t, startSinkT(t, NewSink()))
	b := aws.String("b1")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); ErrorKind(err) != "BucketAlreadyOwnedByYou" {
		t.Fatalf("second create: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); ErrorKind(err) != "BucketNotEmpty" {
		t.Fatalf("delete non-empty bucket: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b}); err == nil {
		t.Fatal("deleted bucket still answers HEAD")
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nope"), Key: aws.String("k"), Body: strings.NewReader("x")}); ErrorKind(err) != "NoSuchBucket" {
		t.Fatalf("put into missing bucket: %v", err)
	}
	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 0 {
		t.Fatalf("ListBuckets: %v, %v", out, err)
	}
}

func TestSinkObjectsRegenerateContent(t *testing.T) {
	ctx := context.Background()
	c := testClient(t, startSinkT(t, NewSink(WithUploadVerification())))
	b := aws.String("b")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	const size = 300001
	key := "dir/obj"
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: newContentReader(77, key, size),
		ContentLength: aws.Int64(size), Metadata: seedMeta(77)}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(newContentReader(77, key, size))
	if !bytes.Equal(body, want) {
		t.Fatal("GET does not return the content that was written")
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
	if err != nil || aws.ToInt64(head.ContentLength) != size || head.Metadata[seedMetaKey] != fmt.Sprintf("%016x", 77) {
		t.Fatalf("HEAD: %+v, %v", head, err)
	}
	// With verification on, a body that is not the promised content is refused.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("bad"), Body: bytes.NewReader(make([]byte, 1000)),
		ContentLength: aws.Int64(1000), Metadata: seedMeta(77)})
	if ErrorKind(err) != "BadDigest" {
		t.Fatalf("wrong body: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)}); ErrorKind(err) != "NoSuchKey" {
		t.Fatalf("GET after delete: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)}); ErrorKind(err) != "NotFound" {
		t.Fatalf("HEAD after delete: %v (%s)", err, ErrorKind(err))
	}
	// Deleting a missing key is not an error.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
}

func TestSinkListPages(t *testing.T) {
	ctx := context.Background()
	c := testClient(t, startSinkT(t, NewSink()))
	b := aws.String("b")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 24; i >= 0; i-- { // out of order on purpose
		k := fmt.Sprintf("p/%03d", i)
		want = append([]string{k}, want...)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader("")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"o", "p", "q/1", "p0"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader("")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("p/013")}); err != nil {
		t.Fatal(err)
	}
	want = append(want[:13], want[14:]...)
	var got []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("p/"), MaxKeys: aws.Int32(10)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if int(aws.ToInt32(page.KeyCount)) != len(page.Contents) {
			t.Fatalf("KeyCount %d for %d entries", aws.ToInt32(page.KeyCount), len(page.Contents))
		}
		for _, o := range page.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") || pages != 3 {
		t.Fatalf("listed %d pages: %v\nwant %v", pages, got, want)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, StartAfter: aws.String("p/020")})
	if err != nil {
		t.Fatal(err)
	}
	var after []string
	for _, o := range out.Contents {
		after = append(after, aws.ToString(o.Key))
	}
	if strings.Join(after, " ") != "p/021 p/022 p/023 p/024 p0 q/1" {
		t.Fatalf("start-after: %v", after)
	}
}

func TestSinkMultipart(t *testing.T) {
	ctx := context.Background()
	c := testClient(t, startSinkT(t, NewSink(WithUploadVerification())))
	b := aws.String("b")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	up := manager.NewUploader(c, func(u *manager.Uploader) {
		u.PartSize = minPartSize
		u.Concurrency = 3
		u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	const size = 3*minPartSize + 12345
	key := "mp/1"
	out, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: newContentReader(5, key, size), Metadata: seedMeta(5)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(aws.ToString(out.ETag), `-4"`) {
		t.Errorf("multipart ETag %s", aws.ToString(out.ETag))
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(5, key, size, nil)
	_, err = io.Copy(v, got.Body)
	got.Body.Close()
	if err != nil || v.finish() != nil {
		t.Fatalf("multipart artifact does not read back: %v %v", err, v.finish())
	}

	// Parts whose bytes are not the promised content fail at completion.
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp/2"), Metadata: seedMeta(5)})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for n := int32(1); n <= 2; n++ {
		pr, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp/2"), UploadId: cr.UploadId, PartNumber: aws.Int32(n),
			Body: bytes.NewReader(make([]byte, minPartSize)), ContentLength: aws.Int64(minPartSize)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: pr.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp/2"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if ErrorKind(err) != "BadDigest" {
		t.Fatalf("complete with wrong content: %v", err)
	}
	// Unknown part, then abort.
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp/2"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(3), ETag: aws.String(`"x"`)}}}})
	if ErrorKind(err) != "InvalidPart" {
		t.Fatalf("complete with unknown part: %v", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("mp/2"), UploadId: cr.UploadId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("mp/2"), UploadId: cr.UploadId}); ErrorKind(err) != "NoSuchUpload" {
		t.Fatalf("second abort: %v", err)
	}
}

// sinkDo sends a raw request to a sink with bucket "b" and returns the
// status and body.
func sinkDo(t *testing.T, s *Sink, method, target string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestSinkRefusesWhatItDoesNotImplement(t *testing.T) {
	s := NewSink()
	if code, _ := sinkDo(t, s, "PUT", "/b", nil, ""); code != 200 {
		t.Fatalf("create bucket: %d", code)
	}
	sinkDo(t, s, "PUT", "/b/k", nil, "hello")
	cases := []struct {
		method, target string
		hdr            map[string]string
		body           string
		status         int
		code           string
	}{
		{"GET", "/b/k", map[string]string{"Range": "bytes=0-1"}, "", 501, "NotImplemented"},
		{"GET", "/b?list-type=2&delimiter=/", nil, "", 501, "NotImplemented"},
		{"GET", "/b", nil, "", 501, "NotImplemented"},
		{"GET", "/b?list-type=2&max-keys=-1", nil, "", 400, "InvalidArgument"},
		{"GET", "/b?list-type=2&continuation-token=***", nil, "", 400, "InvalidArgument"},
		{"PUT", "/b/k2", map[string]string{"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}, "5\r\nhello\r\n0\r\n\r\n", 501, "NotImplemented"},
		{"PUT", "/b/k2", map[string]string{"x-amz-copy-source": "/b/k"}, "", 501, "NotImplemented"},
		{"PUT", "/b/k?uploadId=1&partNumber=0", nil, "x", 400, "InvalidArgument"},
		{"PUT", "/b/k?uploadId=1&partNumber=1", nil, "x", 404, "NoSuchUpload"},
		{"POST", "/b/k?uploadId=1", nil, "<bad", 400, "MalformedXML"},
		{"POST", "/b/k?uploadId=1", nil, "<CompleteMultipartUpload></CompleteMultipartUpload>", 400, "MalformedXML"},
		{"POST", "/b/k?uploadId=1", nil, "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber></Part><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>", 400, "InvalidPartOrder"},
		{"POST", "/b/k?uploadId=1", nil, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>", 404, "NoSuchUpload"},
		{"PATCH", "/b/k", nil, "", 501, "NotImplemented"},
		{"POST", "/", nil, "", 405, "MethodNotAllowed"},
		{"GET", "/b/" + strings.Repeat("k", 1025), nil, "", 400, "KeyTooLongError"},
		{"GET", "/nope/k", nil, "", 404, "NoSuchBucket"},
		{"DELETE", "/nope", nil, "", 404, "NoSuchBucket"},
	}
	for _, c := range cases {
		code, body := sinkDo(t, s, c.method, c.target, c.hdr, c.body)
		if code != c.status || !strings.Contains(body, "<Code>"+c.code+"</Code>") {
			t.Errorf("%s %.40s: %d %s; want %d %s", c.method, c.target, code, body, c.status, c.code)
		}
	}
}

func TestSinkEntityTooSmall(t *testing.T) {
	s := NewSink()
	sinkDo(t, s, "PUT", "/b", nil, "")
	_, body := sinkDo(t, s, "POST", "/b/k?uploads", nil, "")
	id := body[strings.Index(body, "<UploadId>")+10 : strings.Index(body, "</UploadId>")]
	for n := 1; n <= 2; n++ {
		if code, b := sinkDo(t, s, "PUT", fmt.Sprintf("/b/k?uploadId=%s&partNumber=%d", id, n), nil, "tiny"); code != 200 {
			t.Fatalf("part %d: %d %s", n, code, b)
		}
	}
	etag := fmt.Sprintf(`"%08x%016x"`, 1, 4)
	etag2 := fmt.Sprintf(`"%08x%016x"`, 2, 4)
	complete := fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", etag, etag2)
	if code, body := sinkDo(t, s, "POST", "/b/k?uploadId="+id, nil, complete); code != 400 || !strings.Contains(body, "EntityTooSmall") {
		t.Fatalf("small first part: %d %s", code, body)
	}
	one := fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", etag2)
	if code, body := sinkDo(t, s, "POST", "/b/k?uploadId="+id, nil, one); code != 200 || !strings.Contains(body, "-1&#34;</ETag>") {
		t.Fatalf("single small last part: %d %s", code, body)
	}
	if code, _ := sinkDo(t, s, "HEAD", "/b/k", nil, ""); code != 200 {
		t.Fatalf("completed artifact: %d", code)
	}
}

func FuzzSinkRequest(f *testing.F) {
	f.Add("PUT", "/b", "", "")
	f.Add("PUT", "/b/k", "", "hello")
	f.Add("GET", "/b", "list-type=2&prefix=k&max-keys=1", "")
	f.Add("GET", "/b", "list-type=2&continuation-token=aw", "")
	f.Add("POST", "/b/k", "uploads", "")
	f.Add("PUT", "/b/k", "uploadId=0000000000000001&partNumber=1", "abc")
	f.Add("POST", "/b/k", "uploadId=0000000000000001", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>")
	f.Add("DELETE", "/b/k", "uploadId=0000000000000001", "")
	f.Add("DELETE", "/b", "", "")
	f.Add("HEAD", "/b/k", "", "")
	f.Add("GET", "/", "", "")
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		switch method {
		case "GET", "PUT", "POST", "DELETE", "HEAD":
		default:
			method = "GET"
		}
		s := NewSink(WithUploadVerification())
		// A fixed preamble so the fuzzed request meets some state.
		sinkDo(t, s, "PUT", "/b", nil, "")
		sinkDo(t, s, "PUT", "/b/k", nil, "x")
		sinkDo(t, s, "POST", "/b/k?uploads", nil, "")
		req, err := http.NewRequest(method, "http://sink/", strings.NewReader(body))
		if err != nil {
			return
		}
		req.URL.Path = "/" + strings.TrimPrefix(path, "/")
		req.URL.RawQuery = query
		req.ContentLength = int64(len(body))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		// Whatever happened, listing still works and is sorted.
		code, out := sinkDo(t, s, "GET", "/b?list-type=2", nil, "")
		if code != 200 && code != 404 {
			t.Fatalf("list after fuzzed request: %d %s", code, out)
		}
	})
}

func FuzzParseComplete(f *testing.F) {
	f.Add("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part></CompleteMultipartUpload>")
	f.Add("<CompleteMultipartUpload></CompleteMultipartUpload>")
	f.Add("<x/>")
	f.Fuzz(func(t *testing.T, body string) {
		req, err := parseComplete(strings.NewReader(body))
		if err != nil {
			if !strings.Contains(err.Error(), ": ") {
				t.Fatalf("error %q lacks a code prefix", err)
			}
			return
		}
		if len(req.Parts) == 0 {
			t.Fatal("accepted no parts")
		}
		for i := 1; i < len(req.Parts); i++ {
			if req.Parts[i].PartNumber <= req.Parts[i-1].PartNumber {
				t.Fatal("accepted unordered parts")
			}
		}
	})
}
