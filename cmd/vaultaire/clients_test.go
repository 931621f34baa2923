package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// The client matrix: one real server process, driven by each S3 client
// people already have, comparing bytes. A client that fails fails the
// test; a client that is not installed fails it too (.ci/run installs
// them: apt-get install awscli s3cmd rclone python3-boto3 python3-requests).
//
// To add a case, add a row to clientCases: a name and a function that gets
// the endpoint and a fresh bucket name. Shell clients run a script from
// testdata/clients with runClientScript.

// clientEnv is what each case gets.
type clientEnv struct {
	endpoint string // http://127.0.0.1:port
	bucket   string // a fresh, unused bucket name
	work     string // a scratch directory
}

type clientCase struct {
	name string
	run  func(t *testing.T, e clientEnv)
}

var clientCases = []clientCase{
	{"awscli-v2", func(t *testing.T, e clientEnv) { runClientScript(t, e, "awscli2.sh", "/usr/bin/aws", nil) }},
	{"s3cmd-sigv4", func(t *testing.T, e clientEnv) { runClientScript(t, e, "s3cmd.sh", "s3cmd", []string{"SIGV2=False"}) }},
	{"s3cmd-sigv2", func(t *testing.T, e clientEnv) { runClientScript(t, e, "s3cmd.sh", "s3cmd", []string{"SIGV2=True"}) }},
	{"rclone", func(t *testing.T, e clientEnv) { runClientScript(t, e, "rclone.sh", "rclone", nil) }},
	{"boto3", testBoto3},
	{"minio-go", testMinioGo},
	{"minio-go-sigv2", testMinioGoV2},
	{"aws-sdk-go-v2-checksums-when-supported", func(t *testing.T, e clientEnv) { testSDK(t, e, aws.RequestChecksumCalculationWhenSupported) }},
	{"aws-sdk-go-v2-checksums-when-required", func(t *testing.T, e clientEnv) { testSDK(t, e, aws.RequestChecksumCalculationWhenRequired) }},
}

func TestClientMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the client matrix moves about 200 MiB through eight clients")
	}
	s := startServer(t, t.TempDir(), nil, "--extra-regions", "eu-central-1")
	for i, c := range clientCases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, clientEnv{endpoint: s.endpoint, bucket: fmt.Sprintf("matrix-%02d", i), work: t.TempDir()})
		})
	}
}

// runClientScript runs testdata/clients/<script>, which needs tool.
func runClientScript(t *testing.T, e clientEnv, script, tool string, env []string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is not installed; .ci/run installs it (apt-get install awscli s3cmd rclone python3-boto3 python3-requests)", tool)
	}
	cmd := exec.Command("bash", filepath.Join("testdata", "clients", script))
	cmd.Env = append(os.Environ(),
		"ENDPOINT="+e.endpoint, "BUCKET="+e.bucket, "WORK="+e.work,
		"AWS_ACCESS_KEY_ID="+testKey, "AWS_SECRET_ACCESS_KEY="+testSecret, "AWS="+tool)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", script, err, out)
	}
	t.Logf("%s", out)
}

func runPython(t *testing.T, e clientEnv, python string) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import boto3, requests").CombinedOutput(); err != nil {
		t.Fatalf("%s has no boto3/requests (apt-get install python3-boto3 python3-requests; .ci/run installs them): %v\n%s", python, err, out)
	}
	cmd := exec.Command(python, filepath.Join("testdata", "clients", "boto3_matrix.py"))
	cmd.Env = append(os.Environ(), "ENDPOINT="+e.endpoint, "BUCKET="+e.bucket, "WORK="+e.work,
		"AWS_ACCESS_KEY_ID="+testKey, "AWS_SECRET_ACCESS_KEY="+testSecret)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3 (%s) failed: %v\n%s", python, err, out)
	}
	t.Logf("%s", out)
}

// testBoto3 runs the boto3 script with Debian's python3 (python3-boto3),
// and again with the python3 first on PATH when that is another
// interpreter that has boto3 and requests (a newer boto3, with default
// checksums), each on its own bucket.
func testBoto3(t *testing.T, e clientEnv) {
	runPython(t, e, "/usr/bin/python3")
	p, err := exec.LookPath("python3")
	if err != nil {
		return
	}
	if r, _ := filepath.EvalSymlinks(p); strings.HasPrefix(r, "/usr/bin/python3") {
		return
	}
	if exec.Command(p, "-c", "import boto3, requests").Run() != nil {
		t.Logf("%s has no boto3 and requests; Debian's boto3 ran", p)
		return
	}
	e.bucket += "-path"
	e.work = t.TempDir()
	runPython(t, e, p)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes (sha256 %x), want %d bytes (sha256 %x)", what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func minioClient(t *testing.T, e clientEnv, v2 bool) *minio.Client {
	t.Helper()
	creds := mcreds.NewStaticV4(testKey, testSecret, "")
	if v2 {
		creds = mcreds.NewStaticV2(testKey, testSecret, "")
	}
	c, err := minio.New(strings.TrimPrefix(e.endpoint, "http://"), &minio.Options{
		Creds: creds, Region: "us-east-1", TrailingHeaders: !v2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func minioGet(t *testing.T, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	o, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

// testMinioGo: minio-go v7 with trailing checksums. Over plain HTTP it
// streams STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (signed chunks and a
// signed trailer); with DisableContentSha256 it sends
// STREAMING-UNSIGNED-PAYLOAD-TRAILER.
func testMinioGo(t *testing.T, e clientEnv) {
	ctx := context.Background()
	c := minioClient(t, e, false)
	if err := c.MakeBucket(ctx, e.bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(3<<20 + 17)
	for _, ck := range []minio.ChecksumType{minio.ChecksumCRC32, minio.ChecksumCRC32C, minio.ChecksumCRC64NVME, minio.ChecksumSHA1, minio.ChecksumSHA256} {
		for _, unsigned := range []bool{false, true} {
			key := fmt.Sprintf("put/%s-unsigned-%v", ck, unsigned)
			info, err := c.PutObject(ctx, e.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
				Checksum: ck, DisableContentSha256: unsigned, DisableMultipart: true})
			if err != nil {
				t.Fatalf("PutObject %s: %v", key, err)
			}
			if info.Size != int64(len(data)) {
				t.Fatalf("%s: size %d", key, info.Size)
			}
			sameBytes(t, key, minioGet(t, c, e.bucket, key), data)
		}
	}
	// FPutObject, multipart (5 MiB parts): through a client without
	// checksums, and checksum-enabled (x-amz-checksum-algorithm and -type
	// on CreateMultipartUpload, the whole-object value on Complete), read
	// back with checksum mode.
	big := randomBytes(12 << 20)
	path := filepath.Join(e.work, "big.bin")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	plain, err := minio.New(strings.TrimPrefix(e.endpoint, "http://"), &minio.Options{Creds: mcreds.NewStaticV4(testKey, testSecret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.FPutObject(ctx, e.bucket, "fput/big.bin", path, minio.PutObjectOptions{PartSize: 5 << 20}); err != nil {
		t.Fatalf("FPutObject: %v", err)
	}
	sameBytes(t, "FPutObject", minioGet(t, c, e.bucket, "fput/big.bin"), big)
	for _, ck := range []struct {
		t   minio.ChecksumType
		typ string
	}{{minio.ChecksumCRC32C, "COMPOSITE"}, {minio.ChecksumFullObjectCRC32, "FULL_OBJECT"}, {minio.ChecksumCRC64NVME, "FULL_OBJECT"}} {
		key := "fput/checksum-" + ck.t.String()
		if _, err := c.FPutObject(ctx, e.bucket, key, path, minio.PutObjectOptions{Checksum: ck.t, PartSize: 5 << 20}); err != nil {
			t.Fatalf("FPutObject with %s: %v", ck.t, err)
		}
		st, err := c.StatObject(ctx, e.bucket, key, minio.StatObjectOptions{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		if st.ChecksumMode != ck.typ || st.ChecksumCRC32C+st.ChecksumCRC32+st.ChecksumCRC64NVME == "" {
			t.Fatalf("%s: checksum type %q, values %+v", key, st.ChecksumMode, st)
		}
		sameBytes(t, key, minioGet(t, c, e.bucket, key), big)
	}
	// CopyObject and ComposeObject (server-side UploadPartCopy).
	if _, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: e.bucket, Object: "copy/small"},
		minio.CopySrcOptions{Bucket: e.bucket, Object: "put/CRC32C-unsigned-false"}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	sameBytes(t, "CopyObject", minioGet(t, c, e.bucket, "copy/small"), data)
	if _, err := c.ComposeObject(ctx, minio.CopyDestOptions{Bucket: e.bucket, Object: "compose/joined"},
		minio.CopySrcOptions{Bucket: e.bucket, Object: "fput/big.bin"},
		minio.CopySrcOptions{Bucket: e.bucket, Object: "put/SHA256-unsigned-true"}); err != nil {
		t.Fatalf("ComposeObject: %v", err)
	}
	sameBytes(t, "ComposeObject", minioGet(t, c, e.bucket, "compose/joined"), append(append([]byte{}, big...), data...))
	// PresignedPostPolicy, posted as a browser would.
	minioPostPolicy(t, c, e, "post/v4.bin")
	// Storage classes: stored and reported as sent.
	if _, err := c.PutObject(ctx, e.bucket, "class/ia", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{StorageClass: "STANDARD_IA"}); err != nil {
		t.Fatalf("PutObject STANDARD_IA: %v", err)
	}
	// minio-go reads the class from listings (StatObject leaves it empty).
	for oi := range c.ListObjects(ctx, e.bucket, minio.ListObjectsOptions{Prefix: "class/"}) {
		if oi.Err != nil || oi.Key != "class/ia" || oi.StorageClass != "STANDARD_IA" {
			t.Fatalf("listed %q class %q: %v", oi.Key, oi.StorageClass, oi.Err)
		}
	}
	cleanMinio(t, c, e.bucket)
	// MakeBucket in another region the server serves (--extra-regions),
	// and in one it does not.
	regional := e.bucket + "-eu"
	if err := c.MakeBucket(ctx, regional, minio.MakeBucketOptions{Region: "eu-central-1"}); err != nil {
		t.Fatalf("MakeBucket eu-central-1: %v", err)
	}
	// A client without a fixed region asks the server (with one, minio-go
	// answers its own region without asking).
	ask, err := minio.New(strings.TrimPrefix(e.endpoint, "http://"), &minio.Options{Creds: mcreds.NewStaticV4(testKey, testSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	if loc, err := ask.GetBucketLocation(ctx, regional); err != nil || loc != "eu-central-1" {
		t.Fatalf("GetBucketLocation = %q, %v", loc, err)
	}
	// It then signs for the bucket's region, which the server accepts.
	if _, err := ask.PutObject(ctx, regional, "k", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("PutObject signed for eu-central-1: %v", err)
	}
	if err := ask.RemoveObject(ctx, regional, "k", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveBucket(ctx, regional); err != nil {
		t.Fatal(err)
	}
	// minio-go signs a MakeBucket for the region it asks for, so a region
	// the server does not serve fails on the signature's scope (S3's
	// answer at the wrong regional endpoint; a client signing for the
	// server's region gets IllegalLocationConstraintException instead, see
	// s3's TestE2EBuckets). Either way no bucket is made.
	err = c.MakeBucket(ctx, e.bucket+"-ap", minio.MakeBucketOptions{Region: "ap-south-1"})
	if code := minio.ToErrorResponse(err).Code; code != "AuthorizationHeaderMalformed" {
		t.Fatalf("MakeBucket in a region not served: %v (%s)", err, code)
	}
	if ok, err := c.BucketExists(ctx, e.bucket+"-ap"); ok || err != nil {
		t.Fatalf("refused bucket exists: %v %v", ok, err)
	}
}

// testMinioGoV2: minio-go's Signature Version 2 mode (no streaming
// signatures: plain PUTs and multipart).
func testMinioGoV2(t *testing.T, e clientEnv) {
	ctx := context.Background()
	c := minioClient(t, e, true)
	if err := c.MakeBucket(ctx, e.bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	big := randomBytes(12 << 20)
	if _, err := c.PutObject(ctx, e.bucket, "v2/big ünï", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{PartSize: 5 << 20}); err != nil {
		t.Fatalf("PutObject multipart: %v", err)
	}
	sameBytes(t, "V2 multipart", minioGet(t, c, e.bucket, "v2/big ünï"), big)
	if _, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: e.bucket, Object: "v2/copy"},
		minio.CopySrcOptions{Bucket: e.bucket, Object: "v2/big ünï"}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	u, err := c.PresignedGetObject(ctx, e.bucket, "v2/copy", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Query().Has("AWSAccessKeyId") {
		t.Fatalf("not a V2 URL: %s", u)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sameBytes(t, "V2 presigned GET", got, big)
	minioPostPolicy(t, c, e, "post/v2.bin")
	cleanMinio(t, c, e.bucket)
}

func minioPostPolicy(t *testing.T, c *minio.Client, e clientEnv, key string) {
	t.Helper()
	p := minio.NewPostPolicy()
	for _, err := range []error{p.SetBucket(e.bucket), p.SetKey(key), p.SetExpires(time.Now().Add(time.Hour)),
		p.SetContentType("application/octet-stream"), p.SetContentLengthRange(1, 8<<20)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	u, form, err := c.PresignedPostPolicy(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(2<<20 + 3)
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range form {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "upload.bin")
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(u.String(), mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PresignedPostPolicy upload: %d %s", resp.StatusCode, body)
	}
	sameBytes(t, "POST policy upload", minioGet(t, c, e.bucket, key), data)
}

func cleanMinio(t *testing.T, c *minio.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if err := c.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
}

// testSDK: aws-sdk-go-v2 with its default checksum behaviour on
// (WhenSupported: CRC32 on every upload) or off (WhenRequired), single
// PUTs with each algorithm, and the upload manager (multipart).
func testSDK(t *testing.T, e clientEnv, calc aws.RequestChecksumCalculation) {
	ctx := context.Background()
	os.Unsetenv("AWS_CA_BUNDLE")
	c := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(e.endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		RequestChecksumCalculation: calc, Retryer: aws.NopRetryer{},
	})
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(e.bucket)}); err != nil {
		t.Fatal(err)
	}
	get := func(key string) []byte {
		t.Helper()
		g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer g.Body.Close()
		b, err := io.ReadAll(g.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	data := randomBytes(1<<20 + 5)
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("default"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	sameBytes(t, "default PutObject", get("default"), data)
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		key := "sum/" + string(alg)
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: alg}); err != nil {
			t.Fatalf("PutObject %s: %v", alg, err)
		}
		sameBytes(t, key, get(key), data)
	}
	big := randomBytes(12 << 20)
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20 })
	if _, err := up.Upload(ctx, &awss3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("managed/big"), Body: bytes.NewReader(big)}); err != nil {
		t.Fatalf("upload manager: %v", err)
	}
	sameBytes(t, "upload manager", get("managed/big"), big)
	// Presigned PUT and GET with plain net/http.
	pc := awss3.NewPresignClient(c)
	pp, err := pc.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("presigned")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", pp.URL, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %v %v", err, resp)
	}
	resp.Body.Close()
	sameBytes(t, "presigned PUT", get("presigned"), data)
	for _, key := range []string{"default", "sum/CRC32", "sum/CRC32C", "sum/CRC64NVME", "sum/SHA1", "sum/SHA256", "managed/big", "presigned"} {
		if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(e.bucket)}); err != nil {
		t.Fatal(err)
	}
}
