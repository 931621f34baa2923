package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkS3 measures the whole server over loopback HTTP with the AWS SDK
// at concurrency 16: 16 MiB PUT and GET (MiB/s) and 4 KiB PUT and GET
// (ops/s), next to the raw disk (16 MiB files written with write+fsync on
// the same filesystem, same concurrency) measured in the same run. Compare
// ratios, not absolute figures: the machines are shared.
//
//	go test -run '^$' -bench S3 -benchtime 64x ./cmd/vaultaire
func BenchmarkS3(b *testing.B) {
	const conc = 16
	dir := b.TempDir()
	addr := freeAddrB(b)
	ctx, cancel := context.WithCancel(context.Background())
	os.Setenv("VAULTAIRE_ROOT_ACCESS_KEY", testKey)
	os.Setenv("VAULTAIRE_ROOT_SECRET_KEY", testSecret)
	f := serverFlags{address: addr, data: dir, erasure: "2+2", region: "us-east-1", shutdown: 10 * time.Second, inlineLimit: 16 << 10}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, f, io.Discard, slog.New(slog.DiscardHandler)) }()
	b.Cleanup(func() { cancel(); <-done })
	waitListening(b, addr)

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	c := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(testKey, testSecret, ""), HTTPClient: hc,
	})
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	big := make([]byte, 16<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	small := big[:4<<10]

	parallel := func(b *testing.B, size int, op func(i int64) error) {
		var seq atomic.Int64
		var wg sync.WaitGroup
		b.SetBytes(int64(size))
		b.ResetTimer()
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := seq.Add(1)
					if i > int64(b.N) {
						return
					}
					if err := op(i); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	}
	putOp := func(body []byte, keys int64) func(int64) error {
		return func(i int64) error {
			_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("%d/%d", len(body), i%keys)), Body: bytes.NewReader(body)})
			return err
		}
	}
	getOp := func(body []byte, keys int64) func(int64) error {
		return func(i int64) error {
			out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("%d/%d", len(body), i%keys))})
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, out.Body)
			out.Body.Close()
			if err == nil && n != int64(len(body)) {
				err = fmt.Errorf("short GET: %d bytes", n)
			}
			return err
		}
	}
	b.Run("raw-disk-write-16MiB", func(b *testing.B) {
		rawDir := filepath.Join(dir, "raw")
		os.MkdirAll(rawDir, 0o755)
		parallel(b, len(big), func(i int64) error {
			p := filepath.Join(rawDir, fmt.Sprint(i))
			fh, err := os.Create(p)
			if err != nil {
				return err
			}
			if _, err := fh.Write(big); err != nil {
				return err
			}
			if err := fh.Sync(); err != nil {
				return err
			}
			fh.Close()
			return os.Remove(p)
		})
	})
	b.Run("put-16MiB", func(b *testing.B) { parallel(b, len(big), putOp(big, 32)) })
	b.Run("get-16MiB", func(b *testing.B) {
		for i := int64(0); i < 32; i++ {
			putOp(big, 32)(i)
		}
		parallel(b, len(big), getOp(big, 32))
	})
	b.Run("put-4KiB", func(b *testing.B) { parallel(b, len(small), putOp(small, 1000)) })
	b.Run("get-4KiB", func(b *testing.B) {
		for i := int64(0); i < 1000; i++ {
			putOp(small, 1000)(i)
		}
		parallel(b, len(small), getOp(small, 1000))
	})
}

func freeAddrB(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(b *testing.B, addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("server not listening on %s", addr)
}
