package s3_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/vaultaire/vaultaire/sse"
)

// minioTLS is a minio-go client of the harness's TLS endpoint (minio-go
// refuses SSE-C over plain HTTP).
func (h *harness) minioTLS(t *testing.T) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(h.tls.URL, "https://"), &minio.Options{
		Creds: credentials.NewStaticV4(h.cred.AccessKeyID, h.cred.Secret, ""), Secure: true, Region: "us-east-1",
		Transport: h.tls.sdk,
	})
	must(t, err)
	return c
}

// keyedETag is the ETag an SSE-C object of data gets under key.
func keyedETag(t *testing.T, key, data []byte) string {
	t.Helper()
	sum := md5.Sum(data)
	s, err := sse.CustomerETag(key, sum[:])
	must(t, err)
	return s
}

func md5Hex(data []byte) string { s := md5.Sum(data); return hex.EncodeToString(s[:]) }

// TestSSECETagWithClients: an SSE-C object's ETag is not the MD5 of its
// bytes (as in S3) but the keyed sse.CustomerETag, single-part and
// multipart, and neither aws-sdk-go-v2 nor minio-go trips over it on PUT,
// GET, HEAD or their multipart uploaders (they skip their MD5 checks for
// SSE-C). SSE-S3 single-part ETags stay the MD5 of the bytes.
func TestSSECETagWithClients(t *testing.T) {
	h := newHarness(t, nil).over(true)
	c := h.client(true)
	mc := h.minioTLS(t)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("etags")})
	must(t, err)
	k := newSSECKey(t)
	raw, _ := base64.StdEncoding.DecodeString(*k.key)
	small, big := randData(t, 3*sse.PackageSize+9), randData(t, 11<<20+5)

	t.Run("aws-sdk-go-v2", func(t *testing.T) {
		put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("etags"), Key: aws.String("aws-small"), Body: bytes.NewReader(small),
			SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
		must(t, err)
		if got, want := strings.Trim(aws.ToString(put.ETag), `"`), keyedETag(t, raw, small); got != want || got == md5Hex(small) {
			t.Fatalf("PUT etag %s, want %s (md5 %s)", got, want, md5Hex(small))
		}
		got, out := getBytes(t, c, &awss3.GetObjectInput{Bucket: aws.String("etags"), Key: aws.String("aws-small"),
			SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
		if !bytes.Equal(got, small) || strings.Trim(aws.ToString(out.ETag), `"`) != keyedETag(t, raw, small) {
			t.Fatalf("GET: equal %v, etag %s", bytes.Equal(got, small), aws.ToString(out.ETag))
		}
		// The multipart uploader and the ranged downloader.
		up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20; u.Concurrency = 2 })
		res, err := up.Upload(ctx, &awss3.PutObjectInput{Bucket: aws.String("etags"), Key: aws.String("aws-big"), Body: bytes.NewReader(big),
			SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
		must(t, err)
		if !strings.HasSuffix(aws.ToString(res.ETag), `-3"`) && !strings.HasSuffix(aws.ToString(res.ETag), "-3") {
			t.Fatalf("multipart etag %s", aws.ToString(res.ETag))
		}
		dl := manager.NewDownloader(c, func(d *manager.Downloader) { d.PartSize = 4 << 20; d.Concurrency = 2 })
		buf := manager.NewWriteAtBuffer(nil)
		_, err = dl.Download(ctx, buf, &awss3.GetObjectInput{Bucket: aws.String("etags"), Key: aws.String("aws-big"),
			SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
		must(t, err)
		if !bytes.Equal(buf.Bytes(), big) {
			t.Fatal("multipart download differs")
		}
		// SSE-S3 keeps the MD5.
		put, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("etags"), Key: aws.String("aws-s3"), Body: bytes.NewReader(small),
			ServerSideEncryption: types.ServerSideEncryptionAes256})
		must(t, err)
		if got := strings.Trim(aws.ToString(put.ETag), `"`); got != md5Hex(small) {
			t.Fatalf("SSE-S3 etag %s, want the MD5 %s", got, md5Hex(small))
		}
	})

	t.Run("minio-go", func(t *testing.T) {
		ssec, err := encrypt.NewSSEC(raw)
		must(t, err)
		for _, tc := range []struct {
			key  string
			data []byte
			opts minio.PutObjectOptions
		}{
			{"minio-small", small, minio.PutObjectOptions{ServerSideEncryption: ssec, SendContentMd5: true}},
			{"minio-big", big, minio.PutObjectOptions{ServerSideEncryption: ssec, PartSize: 5 << 20}},
		} {
			info, err := mc.PutObject(ctx, "etags", tc.key, bytes.NewReader(tc.data), int64(len(tc.data)), tc.opts)
			must(t, err)
			if info.ETag == md5Hex(tc.data) || (tc.key == "minio-small" && info.ETag != keyedETag(t, raw, tc.data)) {
				t.Fatalf("%s: etag %s", tc.key, info.ETag)
			}
			st, err := mc.StatObject(ctx, "etags", tc.key, minio.StatObjectOptions{ServerSideEncryption: ssec})
			must(t, err)
			if st.ETag != info.ETag {
				t.Fatalf("%s: stat etag %s, put %s", tc.key, st.ETag, info.ETag)
			}
			o, err := mc.GetObject(ctx, "etags", tc.key, minio.GetObjectOptions{ServerSideEncryption: ssec})
			must(t, err)
			got, err := io.ReadAll(o)
			o.Close()
			must(t, err)
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("%s: GET differs", tc.key)
			}
		}
		info, err := mc.PutObject(ctx, "etags", "minio-s3", bytes.NewReader(small), int64(len(small)),
			minio.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE(), SendContentMd5: true})
		must(t, err)
		if info.ETag != md5Hex(small) {
			t.Fatalf("SSE-S3 etag %s, want the MD5 %s", info.ETag, md5Hex(small))
		}
	})
}
