package s3_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Benchmarks of the whole path: SDK -> HTTP -> SigV4 -> s3 -> real engine
// (4 local drives, erasure 2+2, Raft metastore). Figures, never assertions.

func BenchmarkPutObject1MiB(b *testing.B)    { benchObject(b, false, 1<<20, true) }
func BenchmarkPutObject1MiBTLS(b *testing.B) { benchObject(b, true, 1<<20, true) }
func BenchmarkGetObject1MiB(b *testing.B)    { benchObject(b, false, 1<<20, false) }
func BenchmarkPutObject4KiB(b *testing.B)    { benchObject(b, false, 4<<10, true) }

func benchObject(b *testing.B, tlsOn bool, size int, put bool) {
	h := newHarnessTB(b)
	c := h.client(tlsOn)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("benchmark data. "), size/16)
	if !put {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if put {
			if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
			continue
		}
		g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("k")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, g.Body); err != nil {
			b.Fatal(err)
		}
		g.Body.Close()
	}
}
