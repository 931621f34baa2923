package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
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

// BenchmarkRefresh measures what one refresh of each page the users of
// BenchmarkS3WithConsoleUsers (cmd/vaultaire, against a server process)
// load costs the server (time and allocations), served in-process; the
// object browser's page both as a page-cache miss and as a hit.
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
