package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
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

// assetLink finds the static assets a page links.
var assetLink = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// consoleUsers is how many console users refresh pages in the "with"
// phases of BenchmarkS3WithConsoleUsers.
const consoleUsers = 10

// BenchmarkS3WithConsoleUsers measures the p99 latency of 4 KiB S3 GETs
// sent at a steady s3Rate to one node, without and with consoleUsers
// console users of the same node (each signed in with a session of its
// own) reloading a page every second, as a browser does (the page, and its
// assets revalidated). The two kinds of phase alternate
// in the same run, in ABBA order (without-with, then with-without), so a
// drift of the machine's load weighs on both alike; a discarded warm-up
// pair comes first. It reports the ratio of the p99s of all GETs of each
// kind (p99-ratio), and the median and spread of the per-pair ratios.
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
	// Each console user signs in as a user of its own.
	cookies := make([]*http.Cookie, consoleUsers)
	for u := range cookies {
		name := fmt.Sprintf("user%d", u)
		if _, err := n.Engine.CreateUser(ctx, "acme", name, "a password"); err != nil {
			b.Fatal(err)
		}
		g, err := n.Engine.Login(ctx, node.Account{Tenant: "acme", Name: name}, "a password", node.DefaultLoginPolicy)
		if err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		if _, err := con.startSession(w, g, time.Now()); err != nil {
			b.Fatal(err)
		}
		cookies[u] = w.Result().Cookies()[0]
	}
	var pagesServed, pagesFailed atomic.Int64
	// Each user's browser cache: assets held as immutable, and ETags.
	type browserCache struct {
		immutable map[string]bool
		tags      map[string]string
	}
	browsers := make([]browserCache, consoleUsers)
	for u := range browsers {
		browsers[u] = browserCache{map[string]bool{}, map[string]string{}}
	}

	// phase sends GETs for d, with users console users refreshing, and
	// returns the GETs' latencies.
	phase := func(users int, d time.Duration) []time.Duration {
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
				// A reload, as a browser does it: the page, then the
				// assets it links, each fetched unless the browser's
				// cache holds it as immutable, else revalidated with the
				// ETag kept. The same users come back every phase, with
				// their browser caches (filled in the warm-up).
				immutable, tags := browsers[u].immutable, browsers[u].tags
				get := func(path string) []byte {
					req, _ := http.NewRequest(http.MethodGet, consrv.URL+path, nil)
					req.AddCookie(cookies[u])
					if tags[path] != "" {
						req.Header.Set("If-None-Match", tags[path])
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						pagesFailed.Add(1)
						return nil
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					switch {
					case resp.StatusCode == http.StatusNotModified:
					case resp.StatusCode != http.StatusOK:
						pagesFailed.Add(1)
					case strings.HasPrefix(path, "/static/"):
						tags[path] = resp.Header.Get("ETag")
						immutable[path] = strings.Contains(resp.Header.Get("Cache-Control"), "immutable")
					default:
						pagesServed.Add(1)
					}
					return body
				}
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for i := u; ; i++ {
					page := get(pages[i%len(pages)])
					for _, m := range assetLink.FindAllSubmatch(page, -1) {
						if a := string(m[1]); !immutable[a] {
							get(a)
						}
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
		return lat
	}
	p99 := func(lat []time.Duration) time.Duration {
		lat = append([]time.Duration(nil), lat...)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)*99/100]
	}
	const pairs, phaseLen = 8, 3 * time.Second
	for i := 0; i < b.N; i++ {
		phase(0, phaseLen) // warm-up, discarded
		phase(consoleUsers, phaseLen)
		pagesServed.Store(0)
		pagesFailed.Store(0)
		var without, with []time.Duration
		var ratios []float64
		var perPair []string
		for r := 0; r < pairs; r++ {
			var a, c []time.Duration
			if r%2 == 0 {
				a = phase(0, phaseLen)
				c = phase(consoleUsers, phaseLen)
			} else {
				c = phase(consoleUsers, phaseLen)
				a = phase(0, phaseLen)
			}
			without = append(without, a...)
			with = append(with, c...)
			ratios = append(ratios, float64(p99(c))/float64(p99(a)))
			perPair = append(perPair, fmt.Sprintf("%v/%v", p99(a).Round(10*time.Microsecond), p99(c).Round(10*time.Microsecond)))
		}
		if pagesFailed.Load() > 0 {
			b.Errorf("%d console pages failed (%d served)", pagesFailed.Load(), pagesServed.Load())
		}
		sort.Float64s(ratios)
		ratio := float64(p99(with)) / float64(p99(without))
		b.ReportMetric(ratio, "p99-ratio")
		b.ReportMetric((ratios[pairs/2-1]+ratios[pairs/2])/2, "pair-ratio-median")
		b.ReportMetric(float64(p99(without).Microseconds())/1000, "p99-ms-alone")
		b.ReportMetric(float64(p99(with).Microseconds())/1000, "p99-ms-with-console")
		b.Logf("S3 GET p99 without console users %v, with %d refreshing %v: %.3fx over %d GETs each; %d pages served; "+
			"per-pair ratios %.2f..%.2f (median %.2f); per-pair p99 without/with: %v",
			p99(without), consoleUsers, p99(with), ratio, min(len(with), len(without)), pagesServed.Load(),
			ratios[0], ratios[pairs-1], (ratios[pairs/2-1]+ratios[pairs/2])/2, perPair)
	}
}

// BenchmarkRefresh measures what one refresh of each page the users of
// BenchmarkS3WithConsoleUsers load costs the server (time and
// allocations), served in-process; the object browser's page both as a
// page-cache miss and as a hit.
func BenchmarkRefresh(b *testing.B) {
	n := nodetest.StartNode(b, nodetest.Options{})
	ctx := context.Background()
	con, err := New(Config{Engine: n.Engine, SessionKey: testKey, CSRFKey: testKey, ValidBucketName: func(string) bool { return true }})
	if err != nil {
		b.Fatal(err)
	}
	defer con.Close()
	if _, err := n.Engine.CreateTenant(ctx, "acme", "Acme", "standard"); err != nil {
		b.Fatal(err)
	}
	if _, err := n.Engine.CreateUser(ctx, "acme", "alice", "alice password"); err != nil {
		b.Fatal(err)
	}
	if err := n.Engine.CreateContainer(ctx, "acme", node.CreateContainerInput{Name: "photos"}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := n.Engine.PutArtifact(ctx, "acme", node.PutInput{Container: "photos", Key: fmt.Sprintf("k%03d", i), Body: strings.NewReader(strings.Repeat("x", 4096)), Size: 4096}); err != nil {
			b.Fatal(err)
		}
	}
	g, err := n.Engine.Login(ctx, node.Account{Tenant: "acme", Name: "alice"}, "alice password", node.DefaultLoginPolicy)
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	if _, err := con.startSession(w, g, time.Now()); err != nil {
		b.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	for _, c := range []struct {
		name, path string
		fresh      bool // every refresh misses the page cache
	}{
		{"bucket-uncached", "/buckets/photos", true}, {"bucket-cached", "/buckets/photos", false},
		{"usage", "/usage", false}, {"keys", "/keys", false}, {"buckets", "/buckets", false},
	} {
		path := c.path
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if c.fresh {
					con.cache.writing("acme")()
				}
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.AddCookie(cookie)
				rw := httptest.NewRecorder()
				con.ServeHTTP(rw, req)
				if rw.Code != 200 {
					b.Fatalf("%s: %d", path, rw.Code)
				}
			}
		})
	}
}
