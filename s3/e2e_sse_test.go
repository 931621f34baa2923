package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/sigv4"
	"github.com/vaultaire/vaultaire/sse"
)

// ssecKey is an SSE-C key with the header values the SDK sends.
type ssecKey struct{ alg, key, md5 *string }

func newSSECKey(t *testing.T) ssecKey {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(k)
	return ssecKey{aws.String("AES256"), aws.String(base64.StdEncoding.EncodeToString(k)), aws.String(base64.StdEncoding.EncodeToString(sum[:]))}
}

func randData(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func getBytes(t *testing.T, c *awss3.Client, in *awss3.GetObjectInput) ([]byte, *awss3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("GetObject %s %v: %v", *in.Key, aws.ToString(in.Range), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

// Ranges at package boundaries of an object of n bytes.
func boundaryRanges(n int) [][2]int {
	P := sse.PackageSize
	rs := [][2]int{{0, 0}, {0, n - 1}, {n - 1, n - 1}}
	for _, b := range []int{P - 1, P, P + 1, 2*P - 1, 2 * P} {
		if b < n {
			rs = append(rs, [2]int{b, b}, [2]int{max(0, b-3), min(n-1, b+3)})
		}
	}
	return rs
}

func TestSSES3RoundTrip(t *testing.T) {
	overBoth(t, func(t *testing.T, secure bool) {
		h := newHarness(t, nil).over(secure)
		c := h.client(secure)
		ctx := context.Background()
		_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bkt")})
		must(t, err)
		P := sse.PackageSize
		// Inline, one package, and several packages with a short last one.
		for _, n := range []int{0, 10, P, 2*P + 1, 3*P + 12345} {
			data := randData(t, n)
			key := fmt.Sprintf("k%d", n)
			put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key),
				Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAes256})
			must(t, err)
			sum := md5.Sum(data)
			if put.ServerSideEncryption != types.ServerSideEncryptionAes256 || aws.ToString(put.ETag) != `"`+hex.EncodeToString(sum[:])+`"` {
				t.Fatalf("n=%d: put answered %q, etag %s", n, put.ServerSideEncryption, aws.ToString(put.ETag))
			}
			head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
			must(t, err)
			if head.ServerSideEncryption != types.ServerSideEncryptionAes256 || aws.ToInt64(head.ContentLength) != int64(n) {
				t.Fatalf("n=%d: head %q %d", n, head.ServerSideEncryption, aws.ToInt64(head.ContentLength))
			}
			got, out := getBytes(t, c, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
			if !bytes.Equal(got, data) || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
				t.Fatalf("n=%d: GET differs (%d bytes) or header %q", n, len(got), out.ServerSideEncryption)
			}
			if n == 0 {
				continue
			}
			for _, r := range boundaryRanges(n) {
				got, _ := getBytes(t, c, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key),
					Range: aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1]))})
				if !bytes.Equal(got, data[r[0]:r[1]+1]) {
					t.Fatalf("n=%d range %v: wrong bytes", n, r)
				}
			}
		}
		// The listing reports plaintext sizes.
		l, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String(fmt.Sprintf("k%d", 2*P+1))})
		must(t, err)
		if len(l.Contents) != 1 || aws.ToInt64(l.Contents[0].Size) != int64(2*P+1) {
			t.Fatalf("listing %+v", l.Contents)
		}
	})
}

func TestSSECRoundTripAndErrors(t *testing.T) {
	h := newHarness(t, nil).over(true)
	c := h.client(true)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bkt")})
	must(t, err)
	k, wrong := newSSECKey(t), newSSECKey(t)
	P := sse.PackageSize
	for _, n := range []int{100, 2*P + 7} {
		data := randData(t, n)
		key := fmt.Sprintf("c%d", n)
		put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(data),
			SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
		must(t, err)
		if aws.ToString(put.SSECustomerAlgorithm) != "AES256" || aws.ToString(put.SSECustomerKeyMD5) != *k.md5 {
			t.Fatalf("put answered %v %v", put.SSECustomerAlgorithm, put.SSECustomerKeyMD5)
		}
		got, out := getBytes(t, c, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key),
			SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
		if !bytes.Equal(got, data) || aws.ToString(out.SSECustomerKeyMD5) != *k.md5 {
			t.Fatalf("n=%d: GET differs", n)
		}
		for _, r := range boundaryRanges(n) {
			got, _ := getBytes(t, c, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key),
				Range:                aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1])),
				SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
			if !bytes.Equal(got, data[r[0]:r[1]+1]) {
				t.Fatalf("n=%d range %v: wrong bytes", n, r)
			}
		}
		// A wrong key: 403 on GET and HEAD. No key: 400.
		_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key),
			SSECustomerAlgorithm: wrong.alg, SSECustomerKey: wrong.key, SSECustomerKeyMD5: wrong.md5})
		wantCode(t, err, "AccessDenied")
		_, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key),
			SSECustomerAlgorithm: wrong.alg, SSECustomerKey: wrong.key, SSECustomerKeyMD5: wrong.md5})
		if apiCode(err) != "Forbidden" && apiCode(err) != "AccessDenied" {
			t.Fatalf("HEAD with a wrong key: %v", err)
		}
		_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
		wantCode(t, err, "InvalidRequest")
		head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key),
			SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
		must(t, err)
		if aws.ToString(head.SSECustomerAlgorithm) != "AES256" || head.ServerSideEncryption != "" {
			t.Fatalf("head %v %q", head.SSECustomerAlgorithm, head.ServerSideEncryption)
		}
	}
	// Tags are served without the key, as in S3.
	_, err = c.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("c100")})
	must(t, err)

	// Copies between modes: SSE-C -> SSE-S3 -> plaintext -> SSE-C (new key).
	data := randData(t, 2*P+7)
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("src"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
	must(t, err)
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("s3"), CopySource: aws.String("bkt/src")})
	wantCode(t, err, "InvalidRequest") // the source's key is required
	cp, err := c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("s3"), CopySource: aws.String("bkt/src"),
		CopySourceSSECustomerAlgorithm: k.alg, CopySourceSSECustomerKey: k.key, CopySourceSSECustomerKeyMD5: k.md5,
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	must(t, err)
	if cp.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("copy answered %q", cp.ServerSideEncryption)
	}
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("plain"), CopySource: aws.String("bkt/s3")})
	must(t, err)
	k2 := newSSECKey(t)
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("c2"), CopySource: aws.String("bkt/plain"),
		SSECustomerAlgorithm: k2.alg, SSECustomerKey: k2.key, SSECustomerKeyMD5: k2.md5})
	must(t, err)
	for _, tc := range []struct {
		key  string
		ssec *ssecKey
		mode types.ServerSideEncryption
	}{{"s3", nil, types.ServerSideEncryptionAes256}, {"plain", nil, ""}, {"c2", &k2, ""}} {
		in := &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(tc.key)}
		if tc.ssec != nil {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = tc.ssec.alg, tc.ssec.key, tc.ssec.md5
		}
		got, out := getBytes(t, c, in)
		if !bytes.Equal(got, data) || out.ServerSideEncryption != tc.mode {
			t.Fatalf("%s: copy differs or mode %q", tc.key, out.ServerSideEncryption)
		}
	}
	// A key given for an object that is not SSE-C.
	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("plain"),
		SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
	wantCode(t, err, "InvalidRequest")
}

// TestSSEBadInput: malformed SSE headers get S3's codes and store nothing.
func TestSSEBadInput(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	must(t, func() error {
		_, err := h.client(true).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bkt")})
		return err
	}())
	good := newSSECKey(t)
	short := make([]byte, 16)
	shortSum := md5.Sum(short)
	cases := []struct {
		name   string
		secure bool
		hdr    map[string]string
		status int
		code   string
	}{
		{"ssec over http", false, map[string]string{"Algorithm": "AES256", "Key": *good.key, "Key-Md5": *good.md5}, 400, "InvalidRequest"},
		{"short key", true, map[string]string{"Algorithm": "AES256", "Key": base64.StdEncoding.EncodeToString(short), "Key-Md5": base64.StdEncoding.EncodeToString(shortSum[:])}, 400, "InvalidArgument"},
		{"md5 mismatch", true, map[string]string{"Algorithm": "AES256", "Key": *good.key, "Key-Md5": base64.StdEncoding.EncodeToString(shortSum[:])}, 400, "InvalidArgument"},
		{"not base64", true, map[string]string{"Algorithm": "AES256", "Key": "!!!", "Key-Md5": *good.md5}, 400, "InvalidArgument"},
		{"no md5", true, map[string]string{"Algorithm": "AES256", "Key": *good.key}, 400, "InvalidArgument"},
		{"no algorithm", true, map[string]string{"Key": *good.key, "Key-Md5": *good.md5}, 400, "InvalidArgument"},
		{"bad algorithm", true, map[string]string{"Algorithm": "AES128", "Key": *good.key, "Key-Md5": *good.md5}, 400, "InvalidEncryptionAlgorithmError"},
		{"sse and ssec", true, map[string]string{"Algorithm": "AES256", "Key": *good.key, "Key-Md5": *good.md5, "SSE": "AES256"}, 400, "InvalidArgument"},
		{"unknown sse", true, map[string]string{"SSE": "DES"}, 400, "InvalidArgument"},
		{"kms", true, map[string]string{"SSE": "aws:kms"}, 501, "NotImplemented"},
		{"kms key without kms", true, map[string]string{"SSE": "AES256", "KMS": "k1"}, 400, "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.over(tc.secure)
			hdr := http.Header{}
			for k, v := range tc.hdr {
				switch k {
				case "SSE":
					hdr.Set("X-Amz-Server-Side-Encryption", v)
				case "KMS":
					hdr.Set("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", v)
				default:
					hdr.Set("X-Amz-Server-Side-Encryption-Customer-"+k, v)
				}
			}
			resp, body := h.do(t, rawReq{method: "PUT", path: "/bkt/bad", body: []byte("secret bytes"), hdr: hdr})
			expectError(t, resp, body, tc.status, tc.code)
			resp, body = h.do(t, rawReq{method: "HEAD", path: "/bkt/bad"})
			expectError(t, resp, body, 404, "NoSuchKey")
		})
	}
}

func TestSSECInsecureFlag(t *testing.T) {
	h := newHarness(t, func(c *s3.Config) { c.SSECInsecure = true })
	c := h.client(false)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bkt")})
	must(t, err)
	k := newSSECKey(t)
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("x"), Body: strings.NewReader("hello"),
		SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
	must(t, err)
	got, _ := getBytes(t, c, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("x"),
		SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
	if string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
}

func TestSSEMultipartAndPartCopy(t *testing.T) {
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 1}, nil).over(true)
	c := h.client(true)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bkt")})
	must(t, err)
	P := sse.PackageSize
	k := newSSECKey(t)
	src := randData(t, 2*P+50)
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("src"), Body: bytes.NewReader(src),
		SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
	must(t, err)
	for _, mode := range []string{"sse-s3", "sse-c"} {
		t.Run(mode, func(t *testing.T) {
			key := "mp-" + mode
			in := &awss3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key)}
			if mode == "sse-s3" {
				in.ServerSideEncryption = types.ServerSideEncryptionAes256
			} else {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.alg, k.key, k.md5
			}
			up, err := c.CreateMultipartUpload(ctx, in)
			must(t, err)
			if mode == "sse-s3" && up.ServerSideEncryption != types.ServerSideEncryptionAes256 {
				t.Fatalf("create answered %q", up.ServerSideEncryption)
			}
			part1 := randData(t, P+3)
			pin := &awss3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), Body: bytes.NewReader(part1)}
			if mode == "sse-c" {
				// A part without the upload's key is refused.
				_, err := c.UploadPart(ctx, pin)
				wantCode(t, err, "InvalidRequest")
				pin.Body = bytes.NewReader(part1)
				pin.SSECustomerAlgorithm, pin.SSECustomerKey, pin.SSECustomerKeyMD5 = k.alg, k.key, k.md5
			}
			p1, err := c.UploadPart(ctx, pin)
			must(t, err)
			// Part 2 copies a range of the SSE-C source.
			cin := &awss3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber: aws.Int32(2), CopySource: aws.String("bkt/src"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", P-10, 2*P+20)),
				CopySourceSSECustomerAlgorithm: k.alg, CopySourceSSECustomerKey: k.key, CopySourceSSECustomerKeyMD5: k.md5}
			if mode == "sse-c" {
				cin.SSECustomerAlgorithm, cin.SSECustomerKey, cin.SSECustomerKeyMD5 = k.alg, k.key, k.md5
			}
			p2, err := c.UploadPartCopy(ctx, cin)
			must(t, err)
			cin2 := &awss3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: up.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
					{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}}
			_, err = c.CompleteMultipartUpload(ctx, cin2)
			must(t, err)
			want := append(append([]byte(nil), part1...), src[P-10:2*P+21]...)
			gin := &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)}
			if mode == "sse-c" {
				gin.SSECustomerAlgorithm, gin.SSECustomerKey, gin.SSECustomerKeyMD5 = k.alg, k.key, k.md5
			}
			got, out := getBytes(t, c, gin)
			if !bytes.Equal(got, want) {
				t.Fatalf("multipart differs: %d bytes, want %d", len(got), len(want))
			}
			if mode == "sse-s3" && out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
				t.Fatalf("GET reports %q", out.ServerSideEncryption)
			}
			// Ranges across the part boundary and package boundaries.
			for _, r := range [][2]int{{P - 1, P + 4}, {P + 2, P + 3}, {len(part1) + P - 1, len(part1) + P}, {0, len(want) - 1}} {
				gin.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
				got, _ := getBytes(t, c, gin)
				if !bytes.Equal(got, want[r[0]:r[1]+1]) {
					t.Fatalf("range %v differs", r)
				}
			}
		})
	}
}

func TestBucketDefaultEncryption(t *testing.T) {
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 1}, nil).over(true)
	c := h.client(true)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bkt")})
	must(t, err)
	_, err = c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("bkt")})
	wantCode(t, err, "ServerSideEncryptionConfigurationNotFoundError")
	_, err = c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("nope")})
	wantCode(t, err, "NoSuchBucket")
	rule := func(alg types.ServerSideEncryption) *types.ServerSideEncryptionConfiguration {
		return &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: alg}}}}
	}
	_, err = c.PutBucketEncryption(ctx, &awss3.PutBucketEncryptionInput{Bucket: aws.String("bkt"), ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAwsKms)})
	wantCode(t, err, "NotImplemented")
	_, err = c.PutBucketEncryption(ctx, &awss3.PutBucketEncryptionInput{Bucket: aws.String("bkt"), ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAes256)})
	must(t, err)
	got, err := c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("bkt")})
	must(t, err)
	if r := got.ServerSideEncryptionConfiguration.Rules; len(r) != 1 || r[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatalf("configuration %+v", got.ServerSideEncryptionConfiguration)
	}
	// New objects follow it: PUT, multipart and copy.
	data := randData(t, 2*sse.PackageSize+1)
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("p"), Body: bytes.NewReader(data)})
	must(t, err)
	up, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("m")})
	must(t, err)
	p1, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("m"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(data)})
	must(t, err)
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("m"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p1.ETag}}}})
	must(t, err)
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("cp"), CopySource: aws.String("bkt/p")})
	must(t, err)
	for _, k := range []string{"p", "m", "cp"} {
		head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k)})
		must(t, err)
		if head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
			t.Fatalf("%s: HEAD reports %q", k, head.ServerSideEncryption)
		}
		b, _ := getBytes(t, c, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k)})
		if !bytes.Equal(b, data) {
			t.Fatalf("%s differs", k)
		}
	}
	// Malformed configurations change nothing.
	for _, body := range []string{"<ServerSideEncryptionConfiguration>", "<ServerSideEncryptionConfiguration/>",
		"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"} {
		resp, rb := h.do(t, rawReq{method: "PUT", path: "/bkt?encryption", body: []byte(body)})
		expectError(t, resp, rb, 400, "MalformedXML")
	}
	got, err = c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("bkt")})
	must(t, err)
	if got.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatal("configuration changed by a refused PUT")
	}
	resp, rb := h.do(t, rawReq{method: "PUT", path: "/bkt?encryption", body: []byte("<ServerSideEncryptionConfiguration><Rule>"), creds: &aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: "x"}})
	expectError(t, resp, rb, 403, "InvalidAccessKeyId")
	resp, rb = h.do(t, rawReq{method: "PUT", path: "/bkt?encryption", body: []byte("<ServerSideEncryptionConfiguration>"), unsigned: true})
	expectError(t, resp, rb, 403, "AccessDenied")
	// Oversized: a configuration beyond the XML body limit.
	huge := "<ServerSideEncryptionConfiguration>" + strings.Repeat("<!-- pad -->", 200_000) + "</ServerSideEncryptionConfiguration>"
	resp, rb = h.do(t, rawReq{method: "PUT", path: "/bkt?encryption", body: []byte(huge)})
	if resp.StatusCode != 400 {
		t.Fatalf("oversized configuration: %d %s", resp.StatusCode, rb)
	}
	// Truncated: Content-Length promises more than the body holds.
	full := []byte("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>")
	req := h.signReq(t, rawReq{method: "PUT", path: "/bkt?encryption", body: full, payload: sigv4.UnsignedPayload})
	if out := h.rawHTTP(t, dump(t, req, full[:len(full)/2])); !strings.HasPrefix(out, "HTTP/1.1 400") || !strings.Contains(out, "<Code>IncompleteBody</Code>") {
		t.Fatalf("truncated configuration answered %.300s", out)
	}
	got, err = c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("bkt")})
	must(t, err)
	if got.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatal("configuration changed by a refused request")
	}
	_, err = c.DeleteBucketEncryption(ctx, &awss3.DeleteBucketEncryptionInput{Bucket: aws.String("bkt")})
	must(t, err)
	_, err = c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("bkt")})
	wantCode(t, err, "ServerSideEncryptionConfigurationNotFoundError")
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("after"), Body: bytes.NewReader(data)})
	must(t, err)
	head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("after")})
	must(t, err)
	if head.ServerSideEncryption != "" {
		t.Fatalf("after delete: %q", head.ServerSideEncryption)
	}
}

// TestSSEMarkerAbsentOnDisk writes a plaintext marker through every SSE
// path and scans every file under the node's directory (drives and
// metastore): the marker must not be there. A plaintext object with a
// second marker shows the scan finds what is there.
func TestSSEMarkerAbsentOnDisk(t *testing.T) {
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 1}, nil).over(true)
	c := h.client(true)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bkt")})
	must(t, err)
	marker := []byte("VAULTAIRE-SECRET-MARKER-" + hex.EncodeToString(randData(t, 8)))
	control := []byte("VAULTAIRE-PLAIN-CONTROL-" + hex.EncodeToString(randData(t, 8)))
	big := bytes.Repeat(marker, 3*sse.PackageSize/len(marker))
	k := newSSECKey(t)
	put := func(key string, body []byte, ssec bool) {
		in := &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(body)}
		if ssec {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.alg, k.key, k.md5
		} else {
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
		}
		_, err := c.PutObject(ctx, in)
		must(t, err)
	}
	put("inline", marker, false)
	put("big", big, false)
	put("inline-c", marker, true)
	put("big-c", big, true)
	up, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), ServerSideEncryption: types.ServerSideEncryptionAes256})
	must(t, err)
	p1, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(big)})
	must(t, err)
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p1.ETag}}}})
	must(t, err)
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("control"), Body: bytes.NewReader(control)})
	must(t, err)
	// The Raft log and Pebble tables are on disk: sync by closing nothing,
	// only reading what is written (the writes above were acknowledged,
	// so their bytes were fsynced).
	var files, foundControl int
	err = filepath.WalkDir(h.node.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, marker) {
			t.Errorf("marker found in %s", path)
		}
		if bytes.Contains(b, control) {
			foundControl++
		}
		return nil
	})
	must(t, err)
	if foundControl == 0 {
		t.Fatalf("the plaintext control was not found in any of %d files: the scan cannot see stored bytes", files)
	}
	t.Logf("scanned %d files; control found in %d", files, foundControl)
}

// BenchmarkSSE16MiB compares SSE-S3 PUT and GET of 16 MiB with unencrypted
// ones through the whole server (SDK, HTTP, real engine), in one run. Each
// iteration does one of each, alternately, so a shared machine's load
// falls on both alike; the sse/plain metric is the goal (>= 0.8).
// Run: go test -run '^$' -bench SSE16MiB ./s3
func BenchmarkSSE16MiB(b *testing.B) {
	h := newHarnessTB(b)
	c := h.client(false)
	if _, err := c.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	data := randData(b, 16<<20)
	modes := []types.ServerSideEncryption{"", types.ServerSideEncryptionAes256}
	put := func(mode types.ServerSideEncryption) error {
		_, err := c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k-" + string(mode)),
			Body: bytes.NewReader(data), ServerSideEncryption: mode})
		return err
	}
	get := func(mode types.ServerSideEncryption) error {
		g, err := c.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("k-" + string(mode))})
		if err != nil {
			return err
		}
		defer g.Body.Close()
		n, err := io.Copy(io.Discard, g.Body)
		if err == nil && n != int64(len(data)) {
			err = fmt.Errorf("read %d bytes", n)
		}
		return err
	}
	for _, op := range []struct {
		name string
		do   func(types.ServerSideEncryption) error
	}{{"put", put}, {"get", get}} {
		b.Run(op.name, func(b *testing.B) {
			for _, m := range modes {
				if err := put(m); err != nil {
					b.Fatal(err)
				}
			}
			var took [2]time.Duration
			for b.Loop() {
				for i, m := range modes {
					t0 := time.Now()
					if err := op.do(m); err != nil {
						b.Fatal(err)
					}
					took[i] += time.Since(t0)
				}
			}
			mbs := func(d time.Duration) float64 { return float64(len(data)) * float64(b.N) / d.Seconds() / 1e6 }
			b.ReportMetric(mbs(took[0]), "plain-MB/s")
			b.ReportMetric(mbs(took[1]), "sse-MB/s")
			b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "sse/plain")
		})
	}
}
