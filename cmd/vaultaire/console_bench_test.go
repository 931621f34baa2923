package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkS3WithConsoleUsers measures whether console users slow S3
// (issue 18: S3 GET p99 with 10 console users refreshing within 1.1x of
// without, in the same run). The server is a real `vaultaire server`
// process; this process is only the load: 4 KiB S3 GETs sent at a steady
// consoleS3Rate (open loop) and, in the "with" phases, consoleUsers
// console users, each signed in through the console's own form with a
// session of its own, from a loopback address of its own, reloading one
// of four pages a second as a browser does (the page, then the assets it
// links unless its browser cache holds them as immutable, revalidating
// the others with their ETags; the same users and caches come back every
// phase). A discarded warm-up pair comes first, then consolePairs pairs of
// consolePhase phases in ABBA order (without-with, then with-without), so
// a drift of the machine's load weighs on both kinds alike.
//
// It reports the p99 of all GETs of each kind (p99-ratio), the median and
// spread of the per-pair ratios, and the server process's CPU time
// (utime+stime from /proc/PID/stat) per second of each kind of phase: the
// difference, divided by the page loads of the "with" phases, is what a
// console refresh costs the server, a steadier figure than the p99.
//
//	go test ./cmd/vaultaire -run '^$' -bench S3WithConsoleUsers -benchtime 1x -timeout 20m
//
// The load runs at nice VAULTAIRE_BENCH_NICE (default 10; 0 leaves it):
// where the server and the load want the same core, the server (nice 0)
// gets about ten times the share, so its scheduling is what is measured
// rather than the load generator's. The load keeps GOMAXPROCS (both
// cores): capped at one, an S3 response would wait for a user's page
// parsing on the client, which only the "with" phases have.
// VAULTAIRE_BENCH_CPUPROFILE=file also saves a CPU profile of the server
// over a further 10 s "with" phase (go tool pprof file).
func BenchmarkS3WithConsoleUsers(b *testing.B) {
	os.Unsetenv("AWS_CA_BUNDLE")
	// No tenant rate limit (the default, 100/s, is below the load).
	a := startAdminServer(b, "--rate-limit", "0")
	m := consoleRe.FindStringSubmatch(a.output())
	if m == nil {
		b.Fatalf("no console address in the banner:\n%s", a.output())
	}
	base := m[1]
	pid := a.cmd.Process.Pid
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/admin/v1/tenants", `{"id":"acme","name":"Acme"}`},
		{"POST", "/admin/v1/tenants/acme/users", `{"name":"loader","password":"loader password"}`},
	} {
		if st, body := a.call(b, c.method, c.path, a.token, strings.NewReader(c.body)); st != http.StatusCreated {
			b.Fatalf("%s %s: %d %v", c.method, c.path, st, body)
		}
	}
	st, key := a.call(b, "POST", "/admin/v1/tenants/acme/users/loader/keys", a.token, nil)
	if st != http.StatusCreated {
		b.Fatalf("create key: %d %v", st, key)
	}
	client := a.client(key["access_key_id"].(string), key["secret_key"].(string))
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(fmt.Sprintf("k%03d", i)),
			Body: strings.NewReader(strings.Repeat("x", 4096))}); err != nil {
			b.Fatal(err)
		}
	}
	users := make([]*consoleUser, consoleUsers)
	for u := range users {
		name := fmt.Sprintf("user%d", u)
		body := fmt.Sprintf(`{"name":%q,"password":"a password %d"}`, name, u)
		if st, out := a.call(b, "POST", "/admin/v1/tenants/acme/users", a.token, strings.NewReader(body)); st != http.StatusCreated {
			b.Fatalf("create %s: %d %v", name, st, out)
		}
		users[u] = signIn(b, base, u, "acme", name, fmt.Sprintf("a password %d", u))
	}
	reniceLoad(b)
	loadBefore := loadAverage()

	var failed atomic.Int64
	var failure atomic.Value
	// phase sends GETs for d, with n console users refreshing.
	phase := func(n int, d time.Duration) consolePhaseResult {
		var res consolePhaseResult
		var refreshes atomic.Int64
		cpu0 := procCPU(b, pid)
		start := time.Now()
		stop := make(chan struct{})
		var uw sync.WaitGroup
		for u := 0; u < n; u++ {
			uw.Add(1)
			go func(u int) {
				defer uw.Done()
				// Users are not in step: each starts at its own moment.
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(u) * time.Second / time.Duration(n)):
				}
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for i := u; ; i++ {
					if err := users[u].reload(consolePages[i%len(consolePages)]); err != nil {
						failed.Add(1)
						failure.Store(err)
					} else {
						refreshes.Add(1)
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
		var cw sync.WaitGroup
		tick := time.NewTicker(time.Second / consoleS3Rate)
		defer tick.Stop()
		end := start.Add(d)
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
				res.lat = append(res.lat, time.Since(t0))
				mu.Unlock()
			}(i)
		}
		cw.Wait()
		close(stop)
		uw.Wait()
		res.wall = time.Since(start)
		res.cpu = procCPU(b, pid) - cpu0
		res.refreshes = refreshes.Load()
		return res
	}

	for i := 0; i < b.N; i++ {
		phase(0, consolePhase) // warm-up, discarded
		phase(consoleUsers, consolePhase)
		failed.Store(0)
		var without, with consolePhaseResult
		var ratios []float64
		var perPair []string
		var withLat, withoutLat []time.Duration
		for r := 0; r < consolePairs; r++ {
			var x, y consolePhaseResult
			if r%2 == 0 {
				x = phase(0, consolePhase)
				y = phase(consoleUsers, consolePhase)
			} else {
				y = phase(consoleUsers, consolePhase)
				x = phase(0, consolePhase)
			}
			without.add(x)
			with.add(y)
			withoutLat = append(withoutLat, x.lat...)
			withLat = append(withLat, y.lat...)
			ratios = append(ratios, float64(p99Of(y.lat))/float64(p99Of(x.lat)))
			perPair = append(perPair, fmt.Sprintf("%v/%v", p99Of(x.lat).Round(10*time.Microsecond), p99Of(y.lat).Round(10*time.Microsecond)))
		}
		if n := failed.Load(); n > 0 {
			b.Errorf("%d console reloads failed (%d done); last: %v", n, with.refreshes, failure.Load())
		}
		sort.Float64s(ratios)
		median := (ratios[consolePairs/2-1] + ratios[consolePairs/2]) / 2
		ratio := float64(p99Of(withLat)) / float64(p99Of(withoutLat))
		cpuAlone := float64(without.cpu.Microseconds()) / 1000 / without.wall.Seconds()
		cpuWith := float64(with.cpu.Microseconds()) / 1000 / with.wall.Seconds()
		// The console's share: the "with" phases' CPU beyond what the
		// same time of S3 alone took, per page load.
		perRefresh := (cpuWith - cpuAlone) * with.wall.Seconds() / float64(max(with.refreshes, 1))
		b.ReportMetric(ratio, "p99-ratio")
		b.ReportMetric(median, "pair-ratio-median")
		b.ReportMetric(float64(p99Of(withoutLat).Microseconds())/1000, "p99-ms-alone")
		b.ReportMetric(float64(p99Of(withLat).Microseconds())/1000, "p99-ms-with-console")
		b.ReportMetric(cpuAlone, "server-cpu-ms/s-alone")
		b.ReportMetric(cpuWith, "server-cpu-ms/s-with-console")
		b.ReportMetric(perRefresh, "server-cpu-ms/refresh")
		fmt.Printf("S3 GET p99 (%d/s, server in its own process): without console users %v, with %d refreshing %v: %.3fx over %d and %d GETs\n"+
			"  per-pair ratios %.2f..%.2f (median %.2f); per-pair p99 without/with: %s\n"+
			"  server CPU: %.1f ms/s without, %.1f ms/s with; %d page loads: %.2f ms of server CPU per refresh\n"+
			"  load average %s at the start, %s at the end (load at nice %d, GOMAXPROCS %d)\n",
			consoleS3Rate, p99Of(withoutLat).Round(10*time.Microsecond), consoleUsers, p99Of(withLat).Round(10*time.Microsecond), ratio, len(withoutLat), len(withLat),
			ratios[0], ratios[consolePairs-1], median, strings.Join(perPair, " "),
			cpuAlone, cpuWith, with.refreshes, perRefresh,
			loadBefore, loadAverage(), loadNice(), runtime.GOMAXPROCS(0))
	}
	// VAULTAIRE_BENCH_CPUPROFILE: after the measured pairs, a CPU profile
	// of the server over one more "with" phase of 10 s.
	if path := os.Getenv("VAULTAIRE_BENCH_CPUPROFILE"); path != "" {
		done := make(chan error, 1)
		go func() { done <- a.saveCPUProfile(path, 10) }()
		phase(consoleUsers, 10*time.Second)
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
}

// saveCPUProfile saves a CPU profile of the server over the next seconds
// (the admin listener's /debug/pprof/profile) to path.
func (a *adminServer) saveCPUProfile(path string, seconds int) error {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", a.admin, seconds), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("CPU profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

const (
	// consoleS3Rate is the S3 GETs per second of BenchmarkS3WithConsoleUsers.
	consoleS3Rate = 200
	// consoleUsers is how many console users refresh pages in its "with"
	// phases.
	consoleUsers = 10
	// consolePairs and consolePhase: ABBA pairs of phases this long.
	consolePairs = 8
	consolePhase = 3 * time.Second
)

// consolePages are the pages the users reload, in turn.
var consolePages = []string{"/buckets/photos", "/usage", "/keys", "/buckets"}

// consolePhaseResult is what one phase (or the sum of several) measured.
type consolePhaseResult struct {
	lat       []time.Duration
	cpu, wall time.Duration
	refreshes int64 // console page loads
}

func (r *consolePhaseResult) add(o consolePhaseResult) {
	r.cpu += o.cpu
	r.wall += o.wall
	r.refreshes += o.refreshes
}

func p99Of(lat []time.Duration) time.Duration {
	lat = append([]time.Duration(nil), lat...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*99/100]
}

// consoleUser is one browser on the console: its cookies, connections
// (from a loopback address of its own) and cache.
type consoleUser struct {
	base   string
	hc     *http.Client
	cached map[string]bool   // asset URLs held as immutable
	etags  map[string]string // asset URL -> ETag to revalidate with
}

// consoleAsset finds the static assets a page links (in its head).
var consoleAsset = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// signIn signs user in through the console's form (GET /login for the
// form's anti-forgery token and cookie, POST it) from 127.0.0.(10+n): the
// per-address sign-in throttle sees one attempt per user.
func signIn(b *testing.B, base string, n int, tenant, user, password string) *consoleUser {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+n))}
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}).DialContext, MaxIdleConnsPerHost: 4}
	c := &consoleUser{base: base, hc: &http.Client{Jar: jar, Transport: tr, Timeout: time.Minute}, cached: map[string]bool{}, etags: map[string]string{}}
	resp, err := c.hc.Get(base + "/login")
	if err != nil {
		b.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(form)
	if resp.StatusCode != http.StatusOK || tok == nil {
		b.Fatalf("GET /login: %d, no anti-forgery token:\n%s", resp.StatusCode, form)
	}
	resp, err = c.hc.PostForm(base+"/login", url.Values{"tenant": {tenant}, "user": {user}, "password": {password}, "csrf": {string(tok[1])}})
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	u, _ := url.Parse(base)
	signedIn := false
	for _, ck := range jar.Cookies(u) {
		signedIn = signedIn || ck.Name == "vaultaire_session"
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/buckets" || !signedIn {
		b.Fatalf("sign-in of %s: %d at %s, session cookie %v:\n%s", user, resp.StatusCode, resp.Request.URL, signedIn, page)
	}
	return c
}

// reload loads a page as a browser's reload does: the page, then each
// asset it links, unless held as immutable, revalidated with its ETag.
func (c *consoleUser) reload(path string) error {
	page, err := c.get(path)
	if err != nil {
		return err
	}
	// The assets are linked in the head; reading only it keeps the
	// load generator's work per page small.
	if i := bytes.Index(page, []byte("</head>")); i >= 0 {
		page = page[:i]
	}
	for _, m := range consoleAsset.FindAllSubmatch(page, -1) {
		if a := string(m[1]); !c.cached[a] {
			if _, err := c.get(a); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *consoleUser) get(path string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	asset := strings.HasPrefix(path, "/static/")
	if asset && c.etags[path] != "" {
		req.Header.Set("If-None-Match", c.etags[path])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return nil, err
	case resp.StatusCode == http.StatusNotModified && asset:
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	case resp.Request.URL.RequestURI() != path:
		return nil, fmt.Errorf("GET %s: redirected to %s", path, resp.Request.URL)
	case asset:
		c.etags[path] = resp.Header.Get("ETag")
		c.cached[path] = strings.Contains(resp.Header.Get("Cache-Control"), "immutable")
	}
	return body, nil
}

// procCPU is the CPU time (user and system, all threads) process pid has
// used: utime and stime of /proc/PID/stat, in clock ticks of 1/100 s
// (USER_HZ, 100 on every Linux the project runs on).
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start with
	// the state, field 3; utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:]))
	if i < 0 || len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// loadAverage is the 1-minute load average (/proc/loadavg).
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(raw))[0]
}

// loadNice is the niceness the load runs at (VAULTAIRE_BENCH_NICE,
// default 10).
func loadNice() int {
	if v, err := strconv.Atoi(os.Getenv("VAULTAIRE_BENCH_NICE")); err == nil {
		return v
	}
	return 10
}

// reniceLoad lowers this process's priority to loadNice once the server
// runs (Linux sets niceness per thread: every thread of /proc/self/task;
// threads started later inherit it). The server started before keeps
// nice 0. Cleanup restores the old niceness where permitted (raising
// priority needs CAP_SYS_NICE), so servers that later benchmarks of this
// process start do not inherit it.
func reniceLoad(b *testing.B) {
	n := loadNice()
	if n == 0 {
		return
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		b.Fatal(err)
	}
	old := map[int]int{}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// getpriority's raw syscall returns 20-nice.
		if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid); err == nil {
			old[tid] = 20 - p
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil && !os.IsNotExist(err) && err != syscall.ESRCH {
			b.Fatalf("renice thread %d to %d: %v", tid, n, err)
		}
	}
	b.Cleanup(func() {
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				prev, ok := old[tid]
				if !ok {
					prev = 0
				}
				syscall.Setpriority(syscall.PRIO_PROCESS, tid, prev)
			}
		}
	})
}
