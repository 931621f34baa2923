package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/drivers/s3/s3test"
)

// The lifecycle fault tests run real 3-node clusters whose lifecycle
// clock runs days ahead (the guarded test knobs of testknobs.go), and
// SIGKILL the metadata leader while the engine works.

// lifecycleEnv is the environment of a cluster whose lifecycle engine
// runs offset ahead of the real time, checks for due passes every 300ms
// and commits its position every batch versions.
func lifecycleEnv(offset time.Duration, batch int) []string {
	return []string{testModeEnv + "=" + testModeValue, "VAULTAIRE_TEST_CLOCK_OFFSET=" + offset.String(),
		"VAULTAIRE_TEST_LIFECYCLE_INTERVAL=300ms", "VAULTAIRE_TEST_LIFECYCLE_BATCH=" + strconv.Itoa(batch)}
}

// startClusterEnv is startCluster with env added to every node's.
func startClusterEnv(t *testing.T, n int, env []string, args ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, extraEnv: env}
	for i := 0; i < n; i++ {
		c.addNode(args...)
	}
	c.waitMembers(n)
	return c
}

// lcObject is one version a test writes.
type lcObject struct {
	bucket, key string
	body        []byte
	lock        bool   // compliance retention for an hour of real time
	version     string // its version id, set by putVersions
}

// putVersions writes objs (at most one version of a key) in parallel
// through every live node, retrying what a recovering cluster answers.
func (c *testCluster) putVersions(ctx context.Context, objs []*lcObject) {
	c.t.Helper()
	work := make(chan *lcObject)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for o := range work {
				in := &awss3.PutObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key), Body: bytes.NewReader(o.body)}
				if o.lock {
					in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockModeCompliance, aws.Time(time.Now().Add(time.Hour))
					in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32 // S3 asks for one with lock parameters
				}
				var err error
				for attempt := 0; attempt < 20; attempt++ {
					var out *awss3.PutObjectOutput
					in.Body = bytes.NewReader(o.body)
					if out, err = c.client((w+attempt)%len(c.nodes)).PutObject(ctx, in); err == nil {
						o.version = aws.ToString(out.VersionId)
						break
					}
					if !retryable(err) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s/%s: %v", o.bucket, o.key, err))
					mu.Unlock()
				}
			}
		}(w)
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	if len(failed) > 0 {
		c.t.Fatalf("%d PUTs failed: %v", len(failed), failed[0])
	}
}

// scrape reads node i's /metrics (an error when the node is gone).
func (c *testCluster) scrape(i int) (string, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + c.nodes[i].admin + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// containerUsage is what node i's admin API reports a root container
// holds.
func (c *testCluster) containerUsage(i int, bucket string) admin.UsageNow {
	c.t.Helper()
	code, body := adminGet(c.t, c.nodes[i].admin, "/admin/v1/tenants/root/containers/"+bucket+"/quota", clusterAdminToken)
	var q admin.ContainerQuota
	if code != http.StatusOK || json.Unmarshal([]byte(body), &q) != nil {
		c.t.Fatalf("container quota of %s through node %d: %d %s", bucket, i, code, body)
	}
	return q.Usage
}

// lcListed is one entry of a version listing.
type lcListed struct {
	key, id        string
	marker, latest bool
}

// listVersions lists every version and delete marker of a bucket through
// node i, by key.
func (c *testCluster) listVersions(ctx context.Context, i int, bucket string) (map[string][]lcListed, error) {
	vs, err := versionsOf(ctx, c.client(i), bucket)
	if err != nil {
		return nil, err
	}
	out := map[string][]lcListed{}
	for _, s := range vs {
		f := strings.Fields(s)
		key, id, _ := strings.Cut(f[0], "@")
		l := lcListed{key: key, id: id}
		for _, x := range f[1:] {
			l.marker = l.marker || x == "marker"
			l.latest = l.latest || x == "latest"
		}
		out[key] = append(out[key], l)
	}
	return out, nil
}

// lcAudit is the part of an audit event the tests read.
type lcAudit struct {
	Node      string `json:"node"`
	Operation string `json:"operation"`
	Container string `json:"container"`
	Key       string `json:"key"`
	VersionID string `json:"version_id"`
	Status    int    `json:"status"`
	Lifecycle bool   `json:"lifecycle"`
}

// lifecycleAudits reads the lifecycle events of every node's audit log
// (a killed node's too: its file stays).
func (c *testCluster) lifecycleAudits() []lcAudit {
	c.t.Helper()
	var out []lcAudit
	for _, p := range c.nodes {
		files, _ := filepath.Glob(filepath.Join(p.dir, "audit*.log*"))
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				c.t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var ev lcAudit
				// A SIGKILL may cut the last line short.
				if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Lifecycle {
					out = append(out, ev)
				}
			}
			f.Close()
		}
	}
	return out
}

// lifecycleCounter sums a lifecycle counter over the live nodes.
func (c *testCluster) lifecycleCounter(series string) float64 {
	sum := 0.0
	for i, p := range c.nodes {
		if !p.alive() {
			continue
		}
		if m, err := c.scrape(i); err == nil {
			sum += sample(m, series)
		}
	}
	return sum
}

// killLeaderWhen SIGKILLs the metadata leader once its series reaches at
// least from (polled every 10ms) and also (when set) agrees; it returns
// the leader's index and the value seen last. It fails when the value
// passes total first (the work ended before the kill) or nothing happens
// within a minute.
func (c *testCluster) killLeaderWhen(series string, from, total float64, also func(float64) bool) (int, float64) {
	c.t.Helper()
	lead := c.leader()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := c.scrape(lead)
		if err != nil {
			c.t.Fatalf("metrics of the leader: %v", err)
		}
		v := sample(m, series)
		if v >= total {
			c.t.Fatalf("%s reached %v of %v before the kill: the work ended too soon to kill the leader mid-way", series, v, total)
		}
		if v >= from && (also == nil || also(v)) {
			c.nodes[lead].kill()
			return lead, v
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s on the leader is %v after a minute, waiting for %v\n%s", series, v, from, c.nodes[lead].stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLifecycleLeaderKillExpiration: three buckets with expiration rules
// (plain, versioned, and object-locked with a noncurrent-version rule)
// on a 3-node cluster whose lifecycle clock runs three days ahead; the
// metadata leader is SIGKILLed partway through the pass. The new leader
// finishes it: every matching version expires, versions under other
// prefixes and locked versions survive, nothing is done twice (one delete
// marker per key, each action audited and counted at most once), and the
// containers' usage matches what is left, through every node.
func TestLifecycleLeaderKillExpiration(t *testing.T) {
	c := startClusterEnv(t, 3, lifecycleEnv(72*time.Hour, 25))
	ctx := context.Background()
	cl := c.client(0)
	for _, b := range []string{"plain", "vexp"} {
		if _, err := cl.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("vexp"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("vnc"), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}

	// Sizes: mostly inline in the metadata, every 10th erasure-coded.
	size := func(i int) int {
		if i%10 == 0 {
			return 40<<10 + i
		}
		return 900 + i*7
	}
	const plainTmp, plainKeep, vexpTmp, vexpKeep, vncTmp, vncKeep = 200, 20, 80, 10, 60, 10
	var first, second []*lcObject
	add := func(list *[]*lcObject, bucket, prefix string, n, seed int, lock func(int) bool) []*lcObject {
		var objs []*lcObject
		for i := 0; i < n; i++ {
			o := &lcObject{bucket: bucket, key: fmt.Sprintf("%s%03d", prefix, i), body: payload(size(i), byte(seed+i))}
			o.lock = lock != nil && lock(i)
			objs = append(objs, o)
		}
		*list = append(*list, objs...)
		return objs
	}
	locked := func(i int) bool { return i%6 == 0 }
	pTmp := add(&first, "plain", "tmp/", plainTmp, 1, nil)
	pKeep := add(&first, "plain", "keep/", plainKeep, 2, nil)
	eTmp := add(&first, "vexp", "tmp/", vexpTmp, 3, nil)
	eKeep := add(&first, "vexp", "keep/", vexpKeep, 4, nil)
	nTmp1 := add(&first, "vnc", "tmp/", vncTmp, 5, locked)
	nKeep1 := add(&first, "vnc", "keep/", vncKeep, 6, nil)
	nTmp2 := add(&second, "vnc", "tmp/", vncTmp, 7, nil)
	nKeep2 := add(&second, "vnc", "keep/", vncKeep, 8, nil)
	start := time.Now()
	c.putVersions(ctx, first)
	c.putVersions(ctx, second)
	t.Logf("%d versions written in %v", len(first)+len(second), time.Since(start).Round(time.Millisecond))

	sum := func(objs ...[]*lcObject) (n int64) {
		for _, l := range objs {
			for _, o := range l {
				n += int64(len(o.body))
			}
		}
		return n
	}
	before := map[string]admin.UsageNow{}
	wantBefore := map[string]int64{"plain": sum(pTmp, pKeep), "vexp": sum(eTmp, eKeep), "vnc": sum(nTmp1, nKeep1, nTmp2, nKeep2)}
	for b, want := range wantBefore {
		before[b] = c.containerUsage(0, b)
		if before[b].Bytes != want {
			t.Fatalf("usage of %s before the pass: %+v, want %d bytes", b, before[b], want)
		}
	}

	rules := map[string]types.LifecycleRule{
		"plain": {ID: aws.String("tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
		"vexp": {ID: aws.String("tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(2)}},
		"vnc": {ID: aws.String("old"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1)}},
	}
	// The last bucket's rules first: the pass walks plain, vexp, vnc and
	// finds them all in place.
	for i, b := range []string{"vnc", "vexp", "plain"} {
		if _, err := c.client(i).PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(b),
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{rules[b]}}}); err != nil {
			t.Fatal(err)
		}
	}
	nLocked := 0
	for _, o := range nTmp1 {
		if o.lock {
			nLocked++
		}
	}
	total := float64(plainTmp + vexpTmp + vncTmp - nLocked)
	victim, atKill := c.killLeaderWhen("vaultaire_lifecycle_expired_total", 60, total, nil)
	killedAt := time.Now()
	t.Logf("killed the leader (node %d) after %v of %v expirations", victim, atKill, total)

	// check says how the state seen through node i differs from the end
	// state ("" when it is the end state).
	check := func(i int) string {
		plain, err := c.listVersions(ctx, i, "plain")
		if err != nil {
			return err.Error()
		}
		for _, o := range pTmp {
			if len(plain[o.key]) != 0 {
				return fmt.Sprintf("plain/%s not expired: %+v", o.key, plain[o.key])
			}
		}
		for _, o := range pKeep {
			if l := plain[o.key]; len(l) != 1 || !l[0].latest || l[0].marker {
				return fmt.Sprintf("plain/%s: %+v", o.key, l)
			}
		}
		if len(plain) != len(pKeep) {
			return fmt.Sprintf("plain holds %d keys, want %d", len(plain), len(pKeep))
		}
		vexp, err := c.listVersions(ctx, i, "vexp")
		if err != nil {
			return err.Error()
		}
		for _, o := range eTmp {
			l := vexp[o.key]
			var markers, latestMarkers, versions int
			for _, v := range l {
				if v.marker {
					markers++
					if v.latest {
						latestMarkers++
					}
				} else if v.id == o.version && !v.latest {
					versions++
				}
			}
			if len(l) != 2 || markers != 1 || latestMarkers != 1 || versions != 1 {
				return fmt.Sprintf("vexp/%s: %+v, want its version under one delete marker", o.key, l)
			}
		}
		for _, o := range eKeep {
			if l := vexp[o.key]; len(l) != 1 || l[0].id != o.version || !l[0].latest {
				return fmt.Sprintf("vexp/%s: %+v", o.key, l)
			}
		}
		vnc, err := c.listVersions(ctx, i, "vnc")
		if err != nil {
			return err.Error()
		}
		for j, o := range nTmp1 {
			l := vnc[o.key]
			want := 1
			if o.lock {
				want = 2
			}
			if len(l) != want || l[0].id != nTmp2[j].version || !l[0].latest || want == 2 && l[1].id != o.version {
				return fmt.Sprintf("vnc/%s (locked: %v): %+v", o.key, o.lock, l)
			}
		}
		for j, o := range nKeep1 {
			if l := vnc[o.key]; len(l) != 2 || l[0].id != nKeep2[j].version || l[1].id != o.version {
				return fmt.Sprintf("vnc/%s: %+v", o.key, l)
			}
		}
		return ""
	}
	live := (victim + 1) % 3
	deadline := time.Now().Add(90 * time.Second)
	for {
		why := check(live)
		if why == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("90 s after the leader's death the pass has not finished: %s", why)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the new leader finished the pass %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	newLeader := c.leader()
	newCount := c.lifecycleCounter("vaultaire_lifecycle_expired_total")
	if newCount == 0 {
		t.Fatal("the nodes left counted no expiration: the new leader did not resume")
	}
	if newCount+atKill > total {
		t.Fatalf("%v expirations counted after the kill plus %v before exceed the %v due: an action ran twice", newCount, atKill, total)
	}
	if n := c.lifecycleCounter("vaultaire_lifecycle_locked_total"); n < float64(nLocked) {
		t.Errorf("lifecycle_locked_total %v, want at least the %d locked versions", n, nLocked)
	}

	// The killed node comes back and sees the same end state.
	c.restart(victim)
	c.waitMembers(3)
	for i := range c.nodes {
		if why := check(i); why != "" {
			t.Fatalf("through node %d: %s", i, why)
		}
	}
	// What survives reads back intact through every node.
	var survivors []*lcObject
	survivors = append(survivors, pKeep...)
	survivors = append(survivors, eTmp...)
	survivors = append(survivors, eKeep...)
	survivors = append(survivors, nTmp2...)
	survivors = append(survivors, nKeep1...)
	survivors = append(survivors, nKeep2...)
	for _, o := range nTmp1 {
		if o.lock {
			survivors = append(survivors, o)
		}
	}
	for i := range c.nodes {
		for j, o := range survivors {
			if i != newLeader && j%3 != i {
				continue // every version through the leader, a third through each other node
			}
			in := &awss3.GetObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key)}
			if o.version != "" {
				in.VersionId = aws.String(o.version)
			}
			out, err := c.client(i).GetObject(ctx, in)
			if err != nil {
				t.Fatalf("GET %s/%s@%s through node %d: %v", o.bucket, o.key, o.version, i, err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, o.body) {
				t.Fatalf("GET %s/%s@%s through node %d: %d bytes, %v", o.bucket, o.key, o.version, i, len(got), err)
			}
		}
	}

	// Usage: exactly what is left.
	nTmp1Locked := []*lcObject{}
	for _, o := range nTmp1 {
		if o.lock {
			nTmp1Locked = append(nTmp1Locked, o)
		}
	}
	wantAfter := map[string]int64{"plain": sum(pKeep), "vexp": sum(eTmp, eKeep), "vnc": sum(nTmp1Locked, nKeep1, nTmp2, nKeep2)}
	// Versions left (delete markers are not counted).
	wantArtifacts := map[string]int64{"plain": plainKeep, "vexp": vexpTmp + vexpKeep, "vnc": vncTmp + int64(nLocked) + 2*vncKeep}
	for i := range c.nodes {
		for b, want := range wantAfter {
			if u := c.containerUsage(i, b); u.Bytes != want || u.Artifacts != wantArtifacts[b] {
				t.Errorf("usage of %s through node %d after the pass: %+v, want %d bytes in %d versions (before: %+v)", b, i, u, want, wantArtifacts[b], before[b])
			} else if i == 0 {
				t.Logf("usage of %s: %+v (before: %+v)", b, u, before[b])
			}
		}
	}

	// The audit logs name each action at most once.
	seen := map[string]int{}
	audited, byVictim := 0, 0
	for _, ev := range c.lifecycleAudits() {
		if ev.Status != http.StatusOK {
			continue
		}
		if ev.Node == c.nodes[victim].id {
			byVictim++
		}
		id := ev.Operation + " " + ev.Container + "/" + ev.Key
		if ev.Operation == "Lifecycle:expire-noncurrent" {
			id += "@" + ev.VersionID
		}
		seen[id]++
		audited++
	}
	var twice []string
	for id, n := range seen {
		if n > 1 {
			twice = append(twice, id)
		}
	}
	sort.Strings(twice)
	if len(twice) > 0 {
		t.Fatalf("lifecycle actions audited more than once: %v", twice)
	}
	if audited > int(total) || audited < int(newCount) {
		t.Fatalf("%d lifecycle actions audited; %v due, %v counted after the kill", audited, total, newCount)
	}
	// The killed leader's actions and the new leader's add up to at most
	// what was due: none was repeated by the new leader.
	if float64(byVictim)+newCount > total {
		t.Fatalf("the killed leader audited %d actions and the nodes left counted %v: more than the %v due", byVictim, newCount, total)
	}
	t.Logf("%d lifecycle actions audited once each (%d by the killed leader), %v counted by the nodes left after the kill", audited, byVictim, newCount)
}

// adminCLI runs `vaultaire admin ARGS` against node via and returns its
// stdout; it fails the test unless the exit code is want.
func (c *testCluster) adminCLI(via, want int, args ...string) string {
	c.t.Helper()
	stdout, stderr, code := runCLI(c.t, nil, append([]string{"admin", "--endpoint", "http://" + c.nodes[via].admin, "--token", clusterAdminToken}, args...)...)
	if code != want {
		c.t.Fatalf("vaultaire admin %v via node %d: exit %d, want %d\n%s%s", args, via, code, want, stdout, stderr)
	}
	return stdout
}

// tierState is one tier's line of `tier list --json`.
type tierState struct {
	Name      string `json:"name"`
	Artifacts int64  `json:"artifacts"`
	Bytes     int64  `json:"bytes"`
	Pending   int    `json:"pending_deletes"`
}

func (c *testCluster) tierState(via int, name string) tierState {
	c.t.Helper()
	var out struct {
		Tiers []tierState `json:"tiers"`
	}
	raw := c.adminCLI(via, 0, "--json", "tier", "list")
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		c.t.Fatalf("tier list: %v\n%s", err, raw)
	}
	for _, ts := range out.Tiers {
		if ts.Name == name {
			return ts
		}
	}
	c.t.Fatalf("tier list lacks %s:\n%s", name, raw)
	return tierState{}
}

// shardFiles counts the shard files on the drives of the nodes (all when
// none are named).
func (c *testCluster) shardFiles(nodes ...int) int {
	c.t.Helper()
	if len(nodes) == 0 {
		for i := range c.nodes {
			nodes = append(nodes, i)
		}
	}
	n := 0
	for _, i := range nodes {
		p := c.nodes[i]
		err := filepath.WalkDir(filepath.Join(p.dir, "drives"), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil // removed while walking
				}
				return err
			}
			if !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/data/blobs/") {
				n++
			}
			return nil
		})
		if err != nil {
			c.t.Fatal(err)
		}
	}
	return n
}

// TestTransitionLeaderKillTransition: a versioned bucket on a 3-node
// cluster whose lifecycle clock runs three days ahead transitions its
// current and noncurrent versions to a tier served by a second Vaultaire
// process; the metadata leader, which also does the copies, is SIGKILLed
// while transitions run. Afterwards every version is listed and reads
// back byte-identical through every node, every due version is on the
// tier exactly once, the remote holds exactly the objects the records
// name once the abandoned uploads time out, and local shards are gone
// only for versions whose move committed.
func TestTransitionLeaderKillTransition(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	rbucket := remote.NewBucket(t)
	c := startClusterEnv(t, 3, lifecycleEnv(72*time.Hour, 10),
		"--tier-journal-interval", "200ms", "--tier-intent-timeout", "4s", "--gc-delay", "1s")
	ctx := context.Background()
	c.adminCLI(0, 0, "tier", "add", "cold", "--endpoint", remote.Endpoint, "--path-style", "--bucket", rbucket, "--prefix", "cold",
		"--access-key", remote.AccessKey, "--secret-key", remote.SecretKey, "--storage-class", "STANDARD_IA")
	cl := c.client(1)
	if _, err := cl.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("data"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	// Erasure-coded sizes (above the inline threshold): 40 keys under
	// cold/, 12 of them with a second version (the first then moves as
	// noncurrent), and 6 under local/ that no rule matches.
	const coldKeys, twice, localKeys = 40, 12, 6
	var first, second, local []*lcObject
	for i := 0; i < coldKeys; i++ {
		first = append(first, &lcObject{bucket: "data", key: fmt.Sprintf("cold/%03d", i), body: payload(384<<10+i*1111, byte(i))})
		if i < twice {
			second = append(second, &lcObject{bucket: "data", key: fmt.Sprintf("cold/%03d", i), body: payload(256<<10+i*777, byte(100+i))})
		}
	}
	for i := 0; i < localKeys; i++ {
		local = append(local, &lcObject{bucket: "data", key: fmt.Sprintf("local/%d", i), body: payload(70<<10+i, byte(200+i))})
	}
	c.putVersions(ctx, append(first, local...))
	c.putVersions(ctx, second)
	all := append(append(append([]*lcObject{}, first...), second...), local...)
	moving := len(first) + len(second)
	shardsBefore := c.shardFiles()
	if shardsBefore != 12*len(all) {
		t.Fatalf("%d shard files for %d erasure-coded versions, want 12 each", shardsBefore, len(all))
	}

	rule := types.LifecycleRule{ID: aws.String("cold"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("cold/")},
		Transitions:                  []types.Transition{{Days: aws.Int32(1), StorageClass: types.TransitionStorageClassStandardIa}},
		NoncurrentVersionTransitions: []types.NoncurrentVersionTransition{{NoncurrentDays: aws.Int32(1), StorageClass: types.TransitionStorageClassStandardIa}}}
	if _, err := c.client(2).PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("data"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{rule}}}); err != nil {
		t.Fatal(err)
	}
	// Kill once 8 moves are done, at best while the remote holds an
	// upload whose move the leader has not counted yet (an orphan if it
	// did not commit): not later than 20 moves.
	victim, atKill := c.killLeaderWhen("vaultaire_lifecycle_transitioned_total", 8, float64(moving), func(v float64) bool {
		return v >= 20 || len(remoteKeys(t, remote, rbucket)) > int(v)
	})
	killedAt := time.Now()
	atKillRemote := len(remoteKeys(t, remote, rbucket))
	atKillTier := c.tierState((victim+1)%3, "cold")
	t.Logf("killed the leader (node %d) after %v of %d transitions; the remote holds %d objects, %d versions are on the tier",
		victim, atKill, moving, atKillRemote, atKillTier.Artifacts)

	// The new leader moves the rest; the journal drops what the killed
	// leader uploaded without committing.
	live := (victim + 1) % 3
	deadline := time.Now().Add(90 * time.Second)
	var ts tierState
	for {
		ts = c.tierState(live, "cold")
		objs := len(remoteKeys(t, remote, rbucket))
		if ts.Artifacts == int64(moving) && ts.Pending == 0 && objs == moving {
			break
		}
		if ts.Artifacts > int64(moving) {
			t.Fatalf("%d versions on the tier, only %d were due", ts.Artifacts, moving)
		}
		if time.Now().After(deadline) {
			t.Fatalf("90 s after the kill: tier %+v, %d remote objects, want %d versions and as many objects", ts, objs, moving)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("all %d versions on the tier, no orphan on the remote, %v after the kill", moving, time.Since(killedAt).Round(time.Millisecond))
	newCount := c.lifecycleCounter("vaultaire_lifecycle_transitioned_total")
	if newCount == 0 || newCount+atKill > float64(moving) {
		t.Fatalf("%v transitions counted by the nodes left, %v before the kill, %d due", newCount, atKill, moving)
	}
	var wantBytes int64
	for _, o := range append(append([]*lcObject{}, first...), second...) {
		wantBytes += int64(len(o.body))
	}
	if ts.Bytes != wantBytes {
		t.Errorf("tier holds %d bytes, want %d", ts.Bytes, wantBytes)
	}

	// The killed node comes back; every version is listed and reads back
	// byte-identical, with its storage class, through every node.
	c.restart(victim)
	c.waitMembers(3)
	for i := range c.nodes {
		listed, err := c.listVersions(ctx, i, "data")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range listed {
			n += len(l)
		}
		if n != len(all) {
			t.Fatalf("node %d lists %d versions, want %d: %v", i, n, len(all), listed)
		}
		for j, o := range all {
			if i != live && j%3 != i {
				continue // every version through one node, a third through each other
			}
			out, err := c.client(i).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String(o.key), VersionId: aws.String(o.version)})
			if err != nil {
				t.Fatalf("GET %s@%s through node %d: %v", o.key, o.version, i, err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, o.body) {
				t.Fatalf("GET %s@%s through node %d: %d bytes, %v", o.key, o.version, i, len(got), err)
			}
			want := types.StorageClassStandardIa
			if strings.HasPrefix(o.key, "local/") {
				want = types.StorageClassStandard
			}
			if out.StorageClass != want && !(want == types.StorageClassStandard && out.StorageClass == "") {
				t.Fatalf("GET %s@%s through node %d: storage class %q, want %q", o.key, o.version, i, out.StorageClass, want)
			}
		}
	}
	// Local shards (3 nodes of 4 drives: 8+4, 4 shards of each version on
	// every node): the versions that stay keep all of theirs. On the nodes
	// that lived, those of moved versions go, except the ones whose move
	// the killed leader committed without living to collect them; the
	// killed node keeps those of every move made while it was down (left
	// to its orphan sweep).
	survivors := []int{(victim + 1) % 3, (victim + 2) % 3}
	maxLeft := 8*localKeys + 8*(moving-int(newCount))
	deadline = time.Now().Add(30 * time.Second)
	for {
		if n := c.shardFiles(victim); n < 4*localKeys {
			t.Fatalf("the killed node holds %d shard files, fewer than the %d of the versions still local", n, 4*localKeys)
		}
		n := c.shardFiles(survivors...)
		if n < 8*localKeys {
			t.Fatalf("the nodes that lived hold %d shard files, fewer than the %d of the versions still local", n, 8*localKeys)
		}
		if n <= maxLeft {
			t.Logf("the nodes that lived hold %d shard files: %d of local versions; the killed node %d", n, 8*localKeys, c.shardFiles(victim))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes that lived hold %d shard files 30 s after the moves; want at most %d", n, maxLeft)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLifecycleLeaderKillTieredExpiry: artifacts on a tier (a second
// Vaultaire), some restored to local copies, expire while the metadata
// leader is SIGKILLed mid-pass, and restores race the new leader's
// expirations. Afterwards every one is gone through every node, the
// remote holds no object once the tier journal drains (each remote delete
// happened after its record went), the restored copies' local shards are
// freed, and usage counts only what is left.
func TestLifecycleLeaderKillTieredExpiry(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	rbucket := remote.NewBucket(t)
	// A pause between steps of 10 lets the kill land before the leader
	// reaches the restored keys however slowly its metrics are scraped:
	// the blobs a killed proposer freed are the orphan sweep's, an hour on.
	env := append(lifecycleEnv(72*time.Hour, 10), "VAULTAIRE_TEST_LIFECYCLE_PAUSE=1s")
	c := startClusterEnv(t, 3, env,
		"--tier-journal-interval", "200ms", "--tier-intent-timeout", "4s", "--gc-delay", "1s")
	ctx := context.Background()
	c.adminCLI(0, 0, "tier", "add", "cold", "--endpoint", remote.Endpoint, "--path-style", "--bucket", rbucket, "--prefix", "cold",
		"--access-key", remote.AccessKey, "--secret-key", remote.SecretKey, "--storage-class", "STANDARD_IA")
	if _, err := c.client(1).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	const tiered, localKeys = 30, 4
	var objs, local []*lcObject
	for i := 0; i < tiered; i++ {
		objs = append(objs, &lcObject{bucket: "data", key: fmt.Sprintf("t/%03d", i), body: payload(150<<10+i*333, byte(i))})
	}
	for i := 0; i < localKeys; i++ {
		local = append(local, &lcObject{bucket: "data", key: fmt.Sprintf("local/%d", i), body: payload(60<<10+i, byte(90+i))})
	}
	c.putVersions(ctx, append(append([]*lcObject{}, objs...), local...))
	setRule := func(r types.LifecycleRule) {
		t.Helper()
		if _, err := c.client(2).PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("data"),
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{r}}}); err != nil {
			t.Fatal(err)
		}
	}
	prefix := &types.LifecycleRuleFilter{Prefix: aws.String("t/")}
	setRule(types.LifecycleRule{ID: aws.String("cold"), Status: types.ExpirationStatusEnabled, Filter: prefix,
		Transitions: []types.Transition{{Days: aws.Int32(1), StorageClass: types.TransitionStorageClassStandardIa}}})
	// wait polls cond every 200ms for a minute.
	wait := func(what string, cond func() string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			why := cond()
			if why == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s", what, why)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait("transitions", func() string {
		ts, objs := c.tierState(0, "cold"), len(remoteKeys(t, remote, rbucket))
		if ts.Artifacts != tiered || objs != tiered || c.shardFiles() != 12*localKeys {
			return fmt.Sprintf("tier %+v, %d remote objects, %d shard files", ts, objs, c.shardFiles())
		}
		return ""
	})

	// Keys 20-24 are restored before the pass; 25-29 are asked to restore
	// while the new leader expires them. The killed leader expires keys
	// 0-9 at most (it dies within its first step of 10 or in the pause
	// after it); the check at the end allows a slow scrape one more step.
	restore := func(via int, o *lcObject) error {
		_, err := c.client(via).RestoreObject(ctx, &awss3.RestoreObjectInput{Bucket: aws.String("data"), Key: aws.String(o.key),
			RestoreRequest: &types.RestoreRequest{Days: aws.Int32(1)}})
		return err
	}
	for _, o := range objs[20:25] {
		if err := restore(1, o); err != nil {
			t.Fatal(err)
		}
	}
	wait("restores", func() string {
		for _, o := range objs[20:25] {
			h, err := c.client(2).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String(o.key)})
			if err != nil || !strings.Contains(aws.ToString(h.Restore), `ongoing-request="false"`) {
				return fmt.Sprintf("%s: %v %v", o.key, h, err)
			}
		}
		return ""
	})
	if n := c.shardFiles(); n != 12*(localKeys+5) {
		t.Fatalf("%d shard files with 5 restored copies, want %d", n, 12*(localKeys+5))
	}

	setRule(types.LifecycleRule{ID: aws.String("gone"), Status: types.ExpirationStatusEnabled, Filter: prefix,
		Expiration: &types.LifecycleExpiration{Days: aws.Int32(2)}})
	victim, atKill := c.killLeaderWhen("vaultaire_lifecycle_expired_total", 4, tiered, nil)
	live := (victim + 1) % 3
	t.Logf("killed the leader (node %d) after %v of %d expirations", victim, atKill, tiered)
	// Restores race the new leader's expirations: each is accepted or
	// finds the artifact gone, never anything else.
	accepted := 0
	for _, o := range objs[25:] {
		for deadline := time.Now().Add(30 * time.Second); ; {
			err := restore(live, o)
			if err == nil {
				accepted++
			}
			if err == nil || s3Code(err) == "NoSuchKey" {
				break
			}
			if !retryable(err) || time.Now().After(deadline) {
				t.Fatalf("restore of %s racing the expiry: %v", o.key, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d of 5 restores racing the expiry were accepted, the others found the artifact gone", accepted)
	wait("expirations after the kill", func() string {
		out, err := c.client(live).ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("data")})
		if err != nil {
			return err.Error()
		}
		if len(out.Contents) != localKeys {
			return fmt.Sprintf("%d objects listed, want the %d local ones", len(out.Contents), localKeys)
		}
		ts, objs := c.tierState(live, "cold"), len(remoteKeys(t, remote, rbucket))
		if ts.Artifacts != 0 || ts.Pending != 0 || objs != 0 {
			return fmt.Sprintf("tier %+v, %d remote objects", ts, objs)
		}
		// The restored copies' shards: gone from the nodes that lived (the
		// killed one keeps its share of those freed while it was down).
		if n := c.shardFiles(live, (victim+2)%3); n != 8*localKeys {
			return fmt.Sprintf("the nodes that lived hold %d shard files, want the %d of the local artifacts", n, 8*localKeys)
		}
		return ""
	})
	for _, ev := range c.lifecycleAudits() {
		if ev.Node == c.nodes[victim].id && ev.Operation == "Lifecycle:expire" && ev.Key >= objs[20].key {
			t.Fatalf("the killed leader expired %s: it was to die before reaching the restored keys", ev.Key)
		}
	}
	newCount := c.lifecycleCounter("vaultaire_lifecycle_expired_total")
	if newCount == 0 || newCount+atKill > tiered {
		t.Fatalf("%v expirations counted by the nodes left, %v before the kill, %d due", newCount, atKill, tiered)
	}
	c.restart(victim)
	c.waitMembers(3)
	var wantBytes int64
	for _, o := range local {
		wantBytes += int64(len(o.body))
	}
	for i := range c.nodes {
		if n := c.shardFiles(i); n < 4*localKeys {
			t.Fatalf("node %d holds %d shard files, fewer than its %d of the local artifacts", i, n, 4*localKeys)
		}
		for _, o := range objs {
			if _, err := c.client(i).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String(o.key)}); httpStatus(err) != http.StatusNotFound {
				t.Fatalf("HEAD %s through node %d after its expiry: %v", o.key, i, err)
			}
		}
		for _, o := range local {
			if got, err := getObject(ctx, c.client(i), "data", o.key); err != nil || !bytes.Equal(got, o.body) {
				t.Fatalf("GET %s through node %d: %d bytes, %v", o.key, i, len(got), err)
			}
		}
		if u := c.containerUsage(i, "data"); u.Bytes != wantBytes || u.Artifacts != localKeys {
			t.Fatalf("usage through node %d: %+v, want %d bytes in %d artifacts", i, u, wantBytes, localKeys)
		}
	}
}

// TestTransitionLeaderKillRestoreCopier: a restore from an archive tier
// (a second Vaultaire) is accepted by the metadata leader, which then
// copies it, and the leader is SIGKILLed mid-copy. The restore stays
// "ongoing" only until the new leader has seen it so longer than a copy
// can take (--tier-intent-timeout): then it is cleared, a new request
// through another node restores the version, and it reads back
// byte-identical through every node.
func TestTransitionLeaderKillRestoreCopier(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	rbucket := remote.NewBucket(t)
	c := startClusterEnv(t, 3, nil, "--tier-journal-interval", "200ms", "--tier-intent-timeout", "4s")
	ctx := context.Background()
	c.adminCLI(0, 0, "tier", "add", "deep", "--endpoint", remote.Endpoint, "--path-style", "--bucket", rbucket, "--prefix", "deep",
		"--access-key", remote.AccessKey, "--secret-key", remote.SecretKey, "--archive")
	if _, err := c.client(1).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	body := payload(24<<20+3, 77)
	if err := putObject(ctx, c.client(1), "data", "big", body); err != nil {
		t.Fatal(err)
	}
	c.adminCLI(1, 0, "tier", "move", "deep", "root", "data", "big")
	restore := func(via int) error {
		_, err := c.client(via).RestoreObject(ctx, &awss3.RestoreObjectInput{Bucket: aws.String("data"), Key: aws.String("big"),
			RestoreRequest: &types.RestoreRequest{Days: aws.Int32(1)}})
		return err
	}
	head := func(via int) (string, error) {
		h, err := c.client(via).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("big")})
		if err != nil {
			return "", err
		}
		return aws.ToString(h.Restore), nil
	}
	lead := c.leader()
	if err := restore(lead); err != nil {
		t.Fatal(err)
	}
	c.nodes[lead].kill()
	killedAt := time.Now()
	live := (lead + 1) % 3
	// The copy died with its node: still recorded as running.
	for {
		r, err := head(live)
		if err == nil {
			if r != `ongoing-request="true"` {
				t.Fatalf("x-amz-restore %q after the copier's death: the copy ended before the kill", r)
			}
			break
		}
		if !retryable(err) || time.Since(killedAt) > 30*time.Second {
			t.Fatalf("HEAD after the kill: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// New requests are refused while it may still run, then accepted.
	refused := 0
	for {
		err := restore(live)
		if err == nil {
			break
		}
		if s3Code(err) == "RestoreAlreadyInProgress" {
			refused++
		} else if !retryable(err) {
			t.Fatalf("restore after the copier's death: %v", err)
		}
		if time.Since(killedAt) > 60*time.Second {
			t.Fatalf("a minute after the copier's death the restore is still refused: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the abandoned restore was cleared %v after the kill (%d requests refused meanwhile)", time.Since(killedAt).Round(time.Millisecond), refused)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := head(live)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(r, `ongoing-request="false", expiry-date="`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("x-amz-restore %q a minute after the new request", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.restart(lead)
	c.waitMembers(3)
	for i := range c.nodes {
		if got, err := getObject(ctx, c.client(i), "data", "big"); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("GET of the restored artifact through node %d: %d bytes, %v", i, len(got), err)
		}
	}
}
