package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTest(t *testing.T, cfg Config) (*Metrics, *httptest.Server) {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.RegisterEngine(func() EngineStats {
		return EngineStats{Encodes: 3, Healed: 2, BlobsCollected: 7, ShardsRelocated: 5, ShardsMoved: 4, ShardMoveBytes: 4096, ShardsMisplacedSwept: 1}
	})
	m.RegisterDrives(func(ctx context.Context) []DriveStats {
		return []DriveStats{{ID: "d1", Online: true, Capacity: 100, Free: 40, IOErrors: 1}, {ID: "d2", IOErrors: -1}}
	})
	m.RegisterMetastore(func() MetastoreStats {
		return MetastoreStats{State: "Leader", HasLeader: true, Term: 2, CommitIndex: 10, AppliedIndex: 10, DiskSpaceUsage: 4096, Compactions: 1, ReadAmp: 1,
			BlockCacheBytes: 3 << 20, MemTableBytes: 1 << 20, LogSyncs: 4, LogEntries: 40, LogSyncTime: 1500 * time.Millisecond}
	})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return m, srv
}

// scrape returns the exposition text of srv's /metrics.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// value finds the sample `series` (name{labels} exactly as exposed, labels
// in alphabetical order) in text; -1 if absent.
func value(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func TestRequestMetrics(t *testing.T) {
	m, srv := newTest(t, Config{})
	m.ObserveRequest(Request{Tenant: "t1", Operation: "PutObject", Status: 200, BytesIn: 1000, Duration: 3 * time.Millisecond})
	m.ObserveRequest(Request{Tenant: "t1", Operation: "PutObject", Status: 200, BytesIn: 24, Duration: 2 * time.Second})
	m.ObserveRequest(Request{Tenant: "t1", Operation: "GetObject", Status: 404, ErrorCode: "NoSuchKey", BytesOut: 300})
	m.ObserveRequest(Request{Operation: "ListBuckets", Status: 403, ErrorCode: "SignatureDoesNotMatch"})
	m.ObserveApply(2 * time.Millisecond)
	text := scrape(t, srv.URL)
	for series, want := range map[string]float64{
		`vaultaire_s3_requests_total{operation="PutObject",status_class="2xx",tenant="t1"}`:          2,
		`vaultaire_s3_requests_total{operation="GetObject",status_class="4xx",tenant="t1"}`:          1,
		`vaultaire_s3_requests_total{operation="ListBuckets",status_class="4xx",tenant="anonymous"}`: 1,
		`vaultaire_s3_bytes_in_total{tenant="t1"}`:                                                   1024,
		`vaultaire_s3_bytes_out_total{tenant="t1"}`:                                                  300,
		`vaultaire_s3_errors_total{code="NoSuchKey",operation="GetObject"}`:                          1,
		`vaultaire_s3_errors_total{code="SignatureDoesNotMatch",operation="ListBuckets"}`:            1,
		`vaultaire_s3_request_duration_seconds_bucket{operation="PutObject",le="0.005"}`:             1,
		`vaultaire_s3_request_duration_seconds_bucket{operation="PutObject",le="2.5"}`:               2,
		`vaultaire_s3_request_duration_seconds_count{operation="PutObject"}`:                         2,
		`vaultaire_s3_requests_in_flight`:                                                            0,
		`vaultaire_raft_apply_duration_seconds_count`:                                                1,
		`vaultaire_erasure_encodes_total`:                                                            3,
		`vaultaire_heal_shards_healed_total`:                                                         2,
		`vaultaire_gc_blobs_collected_total`:                                                         7,
		`vaultaire_shards_relocated_total`:                                                           5,
		`vaultaire_shards_moved_total`:                                                               4,
		`vaultaire_shard_move_bytes_total`:                                                           4096,
		`vaultaire_shards_misplaced_swept_total`:                                                     1,
		`vaultaire_drive_online{drive="d1"}`:                                                         1,
		`vaultaire_drive_online{drive="d2"}`:                                                         0,
		`vaultaire_drive_free_bytes{drive="d1"}`:                                                     40,
		`vaultaire_drive_capacity_bytes{drive="d1"}`:                                                 100,
		`vaultaire_drive_io_errors_total{drive="d1"}`:                                                1,
		`vaultaire_raft_state{state="Leader"}`:                                                       1,
		`vaultaire_raft_state{state="Follower"}`:                                                     0,
		`vaultaire_raft_commit_index`:                                                                10,
		`vaultaire_metastore_disk_usage_bytes`:                                                       4096,
		`vaultaire_metastore_block_cache_bytes`:                                                      3 << 20,
		`vaultaire_metastore_memtable_bytes`:                                                         1 << 20,
		`vaultaire_raft_log_syncs_total`:                                                             4,
		`vaultaire_raft_log_entries_total`:                                                           40,
		`vaultaire_raft_log_sync_seconds_total`:                                                      1.5,
	} {
		if got := value(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if strings.Contains(text, `vaultaire_drive_io_errors_total{drive="d2"}`) {
		t.Error("a drive without an error counter reports one")
	}
	if !strings.Contains(text, "go_goroutines") || !strings.Contains(text, "vaultaire_process_cpu_seconds_total") {
		t.Error("runtime or process collector missing")
	}
	if strings.Contains(text, "vaultaire_raft_last_contact_seconds 0") == false {
		t.Error("leader should report last contact 0")
	}
}

func TestInFlight(t *testing.T) {
	m, srv := newTest(t, Config{})
	release := make(chan struct{})
	entered := make(chan struct{})
	h := httptest.NewServer(m.InFlight(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})))
	defer h.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.Get(h.URL); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	if got := value(scrape(t, srv.URL), "vaultaire_s3_requests_in_flight"); got != 1 {
		t.Errorf("in flight during a request = %v, want 1", got)
	}
	close(release)
	<-done
	if got := value(scrape(t, srv.URL), "vaultaire_s3_requests_in_flight"); got != 0 {
		t.Errorf("in flight after = %v, want 0", got)
	}
}

func TestTenantCardinalityCap(t *testing.T) {
	const n = 10
	m, srv := newTest(t, Config{MaxTenants: n})
	for i := 0; i < n+5; i++ {
		m.ObserveRequest(Request{Tenant: fmt.Sprintf("tenant-%02d", i), Operation: "PutObject", Status: 200, BytesIn: 1})
	}
	// A tenant seen before the cap keeps its label afterwards.
	m.ObserveRequest(Request{Tenant: "tenant-00", Operation: "PutObject", Status: 200, BytesIn: 1})
	text := scrape(t, srv.URL)
	tenants := map[string]bool{}
	re := regexp.MustCompile(`^vaultaire_s3_bytes_in_total\{tenant="([^"]+)"\}`)
	for _, line := range strings.Split(text, "\n") {
		if mm := re.FindStringSubmatch(line); mm != nil {
			tenants[mm[1]] = true
		}
	}
	if len(tenants) != n+1 {
		t.Errorf("%d tenant label values, want %d (+other): %v", len(tenants), n, tenants)
	}
	if got := value(text, `vaultaire_s3_bytes_in_total{tenant="other"}`); got != 5 {
		t.Errorf("other = %v, want 5", got)
	}
	if got := value(text, `vaultaire_s3_bytes_in_total{tenant="tenant-00"}`); got != 2 {
		t.Errorf("tenant-00 = %v, want 2", got)
	}
	if got := value(text, `vaultaire_s3_requests_total{operation="PutObject",status_class="2xx",tenant="other"}`); got != 5 {
		t.Errorf("requests of other = %v, want 5", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(Config{MaxTenants: -1}); err == nil {
		t.Fatal("negative MaxTenants accepted")
	}
	m, err := New(Config{})
	if err != nil || m.tenants.max != DefaultMaxTenants {
		t.Fatalf("default: %v %v", m, err)
	}
}

// names lists every metric family name the registry can expose, with the
// _bucket/_sum/_count series of histograms.
func names(t *testing.T, m *Metrics) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	ch := make(chan *prometheus.Desc, 1024)
	for _, c := range m.collectors {
		c.Describe(ch)
	}
	close(ch)
	mfs, err := m.Registry().Gather() // the runtime and process collectors
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		out[mf.GetName()] = true
	}
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		mm := re.FindStringSubmatch(d.String())
		if mm == nil {
			t.Fatalf("cannot parse %s", d)
		}
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			out[mm[1]+suffix] = true
		}
	}
	return out
}

// TestDashboard checks that the Grafana dashboard parses and references
// only metrics the registry has.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana/vaultaire.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	m, _ := newTest(t, Config{})
	m.RegisterGossip(func() map[string]int { return nil }) // as a clustered server does
	have := names(t, m)
	re := regexp.MustCompile(`vaultaire_[a-z0-9_]+`)
	used := map[string]bool{}
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs++
			for _, n := range re.FindAllString(tg.Expr, -1) {
				used[n] = true
				if !have[n] {
					t.Errorf("panel %q uses %s, which the registry does not have", p.Title, n)
				}
			}
		}
	}
	if exprs < 10 {
		t.Errorf("dashboard has only %d queries", exprs)
	}
	var list []string
	for n := range used {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("dashboard uses %d metrics: %v", len(list), list)
}

func TestGossipMembers(t *testing.T) {
	m, srv := newTest(t, Config{})
	m.RegisterGossip(func() map[string]int { return map[string]int{"alive": 2, "dead": 1} })
	text := scrape(t, srv.URL)
	for series, want := range map[string]float64{
		`vaultaire_gossip_members{state="alive"}`:   2,
		`vaultaire_gossip_members{state="dead"}`:    1,
		`vaultaire_gossip_members{state="suspect"}`: 0,
		`vaultaire_gossip_members{state="left"}`:    0,
	} {
		if got := value(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

func TestTotals(t *testing.T) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest(Request{Tenant: "a", Operation: "GetObject", Status: 200, Duration: 3 * time.Millisecond})
	m.ObserveRequest(Request{Tenant: "a", Operation: "PutObject", Status: 404, Duration: 30 * time.Millisecond})
	m.ObserveRequest(Request{Tenant: "b", Operation: "PutObject", Status: 503, Duration: 2 * time.Second})
	tot := m.Totals()
	if tot.Requests != 3 || tot.ClientErrors != 1 || tot.ServerErrors != 1 || tot.Count != 3 {
		t.Fatalf("totals %+v", tot)
	}
	// Cumulative: one request at or below 5ms, two at or below 50ms, all three at or below 2.5s.
	at := func(bound float64) uint64 {
		for i, b := range tot.Bounds {
			if b == bound {
				return tot.Counts[i]
			}
		}
		t.Fatalf("no bound %v", bound)
		return 0
	}
	if at(0.005) != 1 || at(0.05) != 2 || at(2.5) != 3 {
		t.Fatalf("buckets %v %v", tot.Bounds, tot.Counts)
	}
}
