package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3"
)

// benchDir is where the 1,000,000-object fixture is kept between runs
// (VAULTAIRE_BENCH_DIR, else the system temp dir): generating it costs a
// million Raft commands once.
func benchDir() string {
	if d := os.Getenv("VAULTAIRE_BENCH_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "vaultaire-bench-console-1m-v1")
}

// fill writes n artifact records key-000000000... into tenant/bucket
// through the metastore's ordinary command path, many proposers at once
// (so Raft batches them), and returns how long it took.
func fill(b *testing.B, meta *metastore.Store, tenant, bucket string, n int) time.Duration {
	start := time.Now()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 256; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				a := metastore.Artifact{Tenant: tenant, Container: bucket, Key: fmt.Sprintf("dir%03d/key-%09d", i%1000, i),
					Size: 1, ETag: "c4ca4238a0b923820dcc509a6f75849b", Created: time.Unix(1_700_000_000, 0), Inline: []byte("1")}
				if _, err := meta.PutArtifact(ctx, a, metastore.Cond{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkBucketPage measures the server time of the object browser's
// first page (a plain listing and a folder view) of a bucket of 1,000,000
// objects, next to the same pages of a 1,000-object bucket in the same
// run: a page costs its own size, not the bucket's.
func BenchmarkBucketPage(b *testing.B) {
	dir := benchDir()
	fresh := false
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		os.RemoveAll(dir)
		fresh = true
	}
	n := nodetest.StartNode(b, nodetest.Options{Dir: dir})
	ctx := context.Background()
	if fresh {
		if _, err := n.Engine.CreateTenant(ctx, "acme", "Acme", "standard"); err != nil {
			b.Fatal(err)
		}
		if _, err := n.Engine.CreateUser(ctx, "acme", "alice", "alice password"); err != nil {
			b.Fatal(err)
		}
		for _, c := range []string{"big", "small"} {
			if err := n.Engine.CreateContainer(ctx, "acme", node.CreateContainerInput{Name: c}); err != nil {
				b.Fatal(err)
			}
		}
		took := fill(b, n.Meta, "acme", "big", 1_000_000)
		fill(b, n.Meta, "acme", "small", 1_000)
		b.Logf("generated 1,000,000 records in %v (kept in %s)", took.Round(time.Second), dir)
		os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644)
	}
	con, err := New(Config{Engine: n.Engine, SessionKey: testKey, CSRFKey: testKey, ValidBucketName: func(string) bool { return true }})
	if err != nil {
		b.Fatal(err)
	}
	defer con.Close()
	g, err := n.Engine.Login(ctx, node.Account{Tenant: "acme", Name: "alice"}, "alice password", node.DefaultLoginPolicy)
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	if _, err := con.startSession(w, g, time.Now()); err != nil {
		b.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	page := func(path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(cookie)
		rw := httptest.NewRecorder()
		con.ServeHTTP(rw, req)
		if rw.Code != 200 || !strings.Contains(rw.Body.String(), "dir") {
			b.Fatalf("%s: %d", path, rw.Code)
		}
	}
	times := map[string]time.Duration{}
	for _, c := range []struct{ name, path string }{
		{"1M/flat", "/buckets/big?search=1"}, {"1M/folders", "/buckets/big"}, {"1M/in-folder", "/buckets/big?prefix=dir500/"},
		{"1K/flat", "/buckets/small?search=1"}, {"1K/folders", "/buckets/small"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				page(c.path)
			}
			times[c.name] = b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
	if times["1K/flat"] > 0 {
		fmt.Printf("first page, 1M vs 1K objects: flat %v vs %v (%.2fx), folders %v vs %v (%.2fx)\n",
			times["1M/flat"], times["1K/flat"], float64(times["1M/flat"])/float64(times["1K/flat"]),
			times["1M/folders"], times["1K/folders"], float64(times["1M/folders"])/float64(max(times["1K/folders"], 1)))
	}
}

// s3Rate is the S3 GETs per second of BenchmarkS3WithConsoleUsers.
const s3Rate = 200

// BenchmarkS3WithConsoleUsers measures the p99 latency of 4 KiB S3 GETs
// sent at a steady s3Rate, without and with 10 console users each
// refreshing a page every second, alternating the two phases five times
// in the same run; it reports the ratio of the medians.
func BenchmarkS3WithConsoleUsers(b *testing.B) {
	os.Unsetenv("AWS_CA_BUNDLE")
	n := nodetest.StartNode(b, nodetest.Options{})
	ctx := context.Background()
	api, err := s3.New(s3.Config{Region: "us-east-1"}, n.Engine)
	if err != nil {
		b.Fatal(err)
	}
	s3srv := httptest.NewServer(api)
	defer s3srv.Close()
	con, err := New(Config{Engine: n.Engine, SessionKey: testKey, CSRFKey: testKey, ValidBucketName: func(string) bool { return true }})
	if err != nil {
		b.Fatal(err)
	}
	defer con.Close()
	consrv := httptest.NewServer(con)
	defer consrv.Close()
	if _, err := n.Engine.CreateTenant(ctx, "acme", "Acme", "standard"); err != nil {
		b.Fatal(err)
	}
	if _, err := n.Engine.CreateUser(ctx, "acme", "alice", "alice password"); err != nil {
		b.Fatal(err)
	}
	cred, err := n.Engine.CreateAccessKey(ctx, "acme", "alice")
	if err != nil {
		b.Fatal(err)
	}
	client := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.Secret, "")})
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(fmt.Sprintf("k%03d", i)),
			Body: strings.NewReader(strings.Repeat("x", 4096))}); err != nil {
			b.Fatal(err)
		}
	}
	g, err := n.Engine.Login(ctx, node.Account{Tenant: "acme", Name: "alice"}, "alice password", node.DefaultLoginPolicy)
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	con.startSession(w, g, time.Now())
	cookie := w.Result().Cookies()[0]

	phase := func(users int, d time.Duration) time.Duration {
		stop := make(chan struct{})
		var uw sync.WaitGroup
		for u := 0; u < users; u++ {
			uw.Add(1)
			go func(u int) { // a user refreshing pages once a second
				defer uw.Done()
				// Users are not in step: each starts at its own moment.
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(u) * time.Second / time.Duration(users)):
				}
				pages := []string{"/buckets/photos", "/usage", "/keys", "/buckets"}
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for i := u; ; i++ {
					req, _ := http.NewRequest(http.MethodGet, consrv.URL+pages[i%len(pages)], nil)
					req.AddCookie(cookie)
					if resp, err := http.DefaultClient.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					select {
					case <-stop:
						return
					case <-t.C:
					}
				}
			}(u)
		}
		var mu sync.Mutex
		var lat []time.Duration
		var cw sync.WaitGroup
		// Open loop: GETs at a steady s3Rate, as clients would send them,
		// so the figure is latency and not the queue of a saturated loop.
		tick := time.NewTicker(time.Second / s3Rate)
		defer tick.Stop()
		end := time.Now().Add(d)
		for i := 0; time.Now().Before(end); i++ {
			<-tick.C
			cw.Add(1)
			go func(i int) {
				defer cw.Done()
				t0 := time.Now()
				out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String(fmt.Sprintf("k%03d", i%200))})
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, out.Body)
				out.Body.Close()
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}(i)
		}
		cw.Wait()
		close(stop)
		uw.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)*99/100]
	}
	for i := 0; i < b.N; i++ {
		var without, with []time.Duration
		for r := 0; r < 5; r++ {
			without = append(without, phase(0, 4*time.Second))
			with = append(with, phase(10, 4*time.Second))
		}
		med := func(d []time.Duration) time.Duration {
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			return d[len(d)/2]
		}
		ratio := float64(med(with)) / float64(med(without))
		b.ReportMetric(ratio, "p99-ratio")
		b.ReportMetric(float64(med(without).Microseconds())/1000, "p99-ms-alone")
		b.ReportMetric(float64(med(with).Microseconds())/1000, "p99-ms-with-console")
		b.Logf("S3 GET p99 without console users %v, with 10 refreshing %v: %.2fx (runs: %v / %v)", med(without), med(with), ratio, without, with)
	}
}
