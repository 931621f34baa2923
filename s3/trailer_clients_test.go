package s3_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// recorder remembers the x-amz-content-sha256 and x-amz-trailer of the
// last PUT a client sent.
type recorder struct {
	rt            http.RoundTripper
	mu            sync.Mutex
	mode, trailer string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == "PUT" {
		r.mu.Lock()
		r.mode, r.trailer = req.Header.Get("X-Amz-Content-Sha256"), strings.Join(req.Header.Values("X-Amz-Trailer"), ",")
		r.mu.Unlock()
	}
	return r.rt.RoundTrip(req)
}

func (r *recorder) last() (string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mode, r.trailer
}

// TestTrailerVariantsByClient uploads with each streaming-trailer variant
// as the clients themselves frame it, for each checksum algorithm, and
// checks the variant on the wire, the bytes, and the stored checksum:
// aws-sdk-go-v2 over TLS (STREAMING-UNSIGNED-PAYLOAD-TRAILER), minio-go
// over HTTP (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, signed trailer)
// and minio-go without payload signing (STREAMING-UNSIGNED-PAYLOAD-TRAILER,
// its own framing).
func TestTrailerVariantsByClient(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "trailers")
	data := bytes.Repeat([]byte("trailing checksum "), 100000)
	head := func(key string) map[string]string {
		t.Helper()
		o, err := h.client(false).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("trailers"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		must(t, err)
		return map[string]string{"CRC32": aws.ToString(o.ChecksumCRC32), "CRC32C": aws.ToString(o.ChecksumCRC32C),
			"CRC64NVME": aws.ToString(o.ChecksumCRC64NVME), "SHA1": aws.ToString(o.ChecksumSHA1), "SHA256": aws.ToString(o.ChecksumSHA256)}
	}
	algs := []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256}

	sdkRec := &recorder{rt: h.tls.sdk}
	sdk := h.client(true, func(o *awss3.Options) { o.HTTPClient = &http.Client{Transport: sdkRec} })
	for _, alg := range algs {
		key := "sdk/" + string(alg)
		_, err := sdk.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("trailers"), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: alg})
		must(t, err)
		mode, tr := sdkRec.last()
		if mode != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || tr != "x-amz-checksum-"+strings.ToLower(string(alg)) {
			t.Fatalf("%s: sent %q with trailer %q", alg, mode, tr)
		}
		if !bytes.Equal(h.content(t, "trailers", key), data) || head(key)[string(alg)] == "" {
			t.Fatalf("%s: bytes or checksum not stored: %v", alg, head(key))
		}
	}

	for _, unsigned := range []bool{false, true} {
		rec := &recorder{rt: h.plain.sdk}
		mc, err := minio.New(strings.TrimPrefix(h.plain.URL, "http://"), &minio.Options{
			Creds: credentials.NewStaticV4(h.cred.AccessKeyID, h.cred.Secret, ""), Region: "us-east-1", TrailingHeaders: true, Transport: rec})
		must(t, err)
		want := "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
		if unsigned {
			want = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
		}
		for _, ck := range []minio.ChecksumType{minio.ChecksumCRC32, minio.ChecksumCRC32C, minio.ChecksumCRC64NVME, minio.ChecksumSHA1, minio.ChecksumSHA256} {
			key := "minio/" + want + "/" + ck.String()
			_, err := mc.PutObject(context.Background(), "trailers", key, bytes.NewReader(data), int64(len(data)),
				minio.PutObjectOptions{Checksum: ck, DisableContentSha256: unsigned, DisableMultipart: true})
			must(t, err)
			mode, tr := rec.last()
			if mode != want || tr != strings.ToLower(ck.Key()) {
				t.Fatalf("%s: sent %q with trailer %q", ck, mode, tr)
			}
			if !bytes.Equal(h.content(t, "trailers", key), data) || head(key)[ck.String()] == "" {
				t.Fatalf("%s: bytes or checksum not stored: %v", ck, head(key))
			}
		}
	}
}
