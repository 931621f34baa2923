package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/bench"
)

// Memory benchmarks of a real server process (issue 20): its resident set
// while one very large artifact streams in and out, and what idle
// keep-alive connections cost. Both read the server's /proc status, so
// they measure the server alone, not the client in this process.
//
//	go test ./cmd/vaultaire -run '^$' -bench 'Memory' -benchtime 1x -timeout 60m
//
// VAULTAIRE_BENCH_LARGE sets the artifact size (default 10GiB; the drives
// take (k+m)/k times it) and VAULTAIRE_BENCH_CONNS the connection count
// (default 10000).

// procStatus reads a "kB" field (VmRSS, VmHWM) of a process's status.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// rssSampler records the highest VmRSS of pid seen every 50 ms (VmHWM
// alone would include the start-up).
type rssSampler struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := procStatus(pid, "VmRSS"); err == nil && v > s.peak.Load() {
				s.peak.Store(v)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) Stop() int64 { close(s.stop); <-s.done; return s.peak.Load() }

func envSize(b *testing.B, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := bench.ParseSize(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

// patternReader yields n deterministic pseudo-random bytes without holding
// them: a 10 GiB artifact is generated as it streams.
type patternReader struct {
	rng  *rand.ChaCha8
	left int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	r.rng.Read(p)
	r.left -= int64(len(p))
	return len(p), nil
}

// BenchmarkMemoryLargeObject: the server's peak RSS while one artifact of
// VAULTAIRE_BENCH_LARGE bytes is uploaded (multipart, 64 MiB parts, 4 at
// a time, as SDK uploaders do) and downloaded in one GET, verified by
// SHA-256. Goal (issue 20): below 256 MiB for 10 GiB.
func BenchmarkMemoryLargeObject(b *testing.B) {
	size := envSize(b, "VAULTAIRE_BENCH_LARGE", 10<<30)
	const partSize = 64 << 20
	srv := startServer(b, b.TempDir(), nil, "--erasure", "2+2")
	c := srv.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("mem")}); err != nil {
		b.Fatal(err)
	}
	idle, err := procStatus(srv.cmd.Process.Pid, "VmRSS")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("large-%d", i)
		sampler := sampleRSS(srv.cmd.Process.Pid)
		start := time.Now()
		up, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("mem"), Key: aws.String(key)})
		if err != nil {
			b.Fatal(err)
		}
		parts := int((size + partSize - 1) / partSize)
		done := make([]types.CompletedPart, parts)
		want := sha256.New()
		src := &patternReader{rng: rand.NewChaCha8([32]byte{byte(i)}), left: size}
		// Parts are generated in order (the hash needs it) and uploaded
		// by 4 workers.
		type job struct {
			n   int
			buf []byte
		}
		jobs := make(chan job)
		var wg sync.WaitGroup
		var upErr atomic.Value
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					out, err := c.UploadPart(ctx, &awss3.UploadPartInput{
						Bucket: aws.String("mem"), Key: aws.String(key), UploadId: up.UploadId,
						PartNumber: aws.Int32(int32(j.n + 1)), Body: bytes.NewReader(j.buf),
					})
					if err != nil {
						upErr.Store(err)
						continue
					}
					done[j.n] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(j.n + 1))}
				}
			}()
		}
		for n := 0; n < parts; n++ {
			buf := make([]byte, min(partSize, src.left))
			io.ReadFull(src, buf)
			want.Write(buf)
			jobs <- job{n, buf}
		}
		close(jobs)
		wg.Wait()
		if err, _ := upErr.Load().(error); err != nil {
			b.Fatal(err)
		}
		if _, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
			Bucket: aws.String("mem"), Key: aws.String(key), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
		}); err != nil {
			b.Fatal(err)
		}
		putTime := time.Since(start)
		start = time.Now()
		out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("mem"), Key: aws.String(key)})
		if err != nil {
			b.Fatal(err)
		}
		got := sha256.New()
		n, err := io.CopyBuffer(got, out.Body, make([]byte, 1<<20))
		out.Body.Close()
		if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			b.Fatalf("GET: %d of %d bytes, err %v, sha256 equal %v", n, size, err, bytes.Equal(got.Sum(nil), want.Sum(nil)))
		}
		peak := sampler.Stop()
		b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
		b.ReportMetric(float64(idle)/(1<<20), "idle-rss-MiB")
		b.ReportMetric(float64(size)/(1<<20)/putTime.Seconds(), "put-MiB/s")
		b.ReportMetric(float64(size)/(1<<20)/time.Since(start).Seconds(), "get-MiB/s")
		if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("mem"), Key: aws.String(key)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryIdleConnections: what VAULTAIRE_BENCH_CONNS keep-alive
// connections cost the server once each has made one request (an
// authenticated ListBuckets, the common first call) and sits idle. Goal
// (issue 20): 10,000 cost below 1 GiB.
func BenchmarkMemoryIdleConnections(b *testing.B) {
	conns := int(envSize(b, "VAULTAIRE_BENCH_CONNS", 10000))
	// This process holds one end of every connection.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if lim.Cur < uint64(conns)+1000 {
		b.Fatalf("RLIMIT_NOFILE %d is too low for %d connections (raise the hard limit)", lim.Cur, conns)
	}
	srv := startServer(b, b.TempDir(), nil, "--erasure", "2+2")
	pid := srv.cmd.Process.Pid
	// One signed request, replayed on every connection: the signature is
	// valid for 15 minutes and a GET has no replay protection to trip.
	req, err := http.NewRequest(http.MethodGet, srv.endpoint+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
		req, emptySHA256, "s3", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	var raw bytes.Buffer
	if err := req.Write(&raw); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		// Let the start-up settle, then take the baseline.
		time.Sleep(2 * time.Second)
		base, err := procStatus(pid, "VmRSS")
		if err != nil {
			b.Fatal(err)
		}
		open := make([]net.Conn, 0, conns)
		for len(open) < conns {
			conn, err := net.Dial("tcp", srv.addr)
			if err != nil {
				b.Fatalf("connection %d: %v", len(open), err)
			}
			open = append(open, conn)
			if _, err := conn.Write(raw.Bytes()); err != nil {
				b.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), req)
			if err != nil {
				b.Fatalf("connection %d: %v", len(open), err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("connection %d: status %d", len(open), resp.StatusCode)
			}
		}
		time.Sleep(2 * time.Second) // idle
		held, err := procStatus(pid, "VmRSS")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(held-base)/(1<<20), "MiB-for-all")
		b.ReportMetric(float64(held-base)/float64(conns)/1024, "KiB/conn")
		b.ReportMetric(float64(held)/(1<<20), "rss-MiB")
		for _, c := range open {
			c.Close()
		}
	}
}
