package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/vaultaire/vaultaire/admin"
)

// The cluster tests start real `vaultaire server` processes, each on its
// own loopback address 127.0.0.(10+i) with its own data dir, join them
// through gossip, and drive them with the AWS SDK.

const clusterAdminToken = "cluster-test-admin-token"

type testCluster struct {
	t      *testing.T
	nodes  []*clusterProc
	secret string
	seed   string // gossip address of node 0
	// bin is the binary new nodes run ("": this tree's).
	bin string
	// extraEnv is added to every node's environment (the test knobs of
	// testknobs.go).
	extraEnv []string
}

// clusterProc is one node of a testCluster: its process (replaced on
// restart) and what its banner said.
type clusterProc struct {
	*server                      // written under mu; load goroutines read it through current
	host, id, gossip, rpc, admin string
	args                         []string
	bin                          string // "": this tree's binary
	mu                           sync.Mutex
}

// setServer replaces the node's process (a restart) while load
// goroutines may be reading it.
func (p *clusterProc) setServer(s *server) {
	p.mu.Lock()
	p.server = s
	p.mu.Unlock()
}

// current returns the node's process of the moment.
func (p *clusterProc) current() *server {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.server
}

var (
	bannerCluster = regexp.MustCompile(`Cluster: node (\S+), RPC at (\S+), gossip at (\S+)`)
	bannerAdmin   = regexp.MustCompile(`Admin API on (\S+) `)
)

// startCluster starts n nodes: node 0 bootstraps, the others join it.
func startCluster(t *testing.T, n int, args ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	for i := 0; i < n; i++ {
		c.addNode(args...)
	}
	c.waitMembers(n)
	return c
}

func (c *testCluster) env() []string {
	env := []string{"VAULTAIRE_ADMIN_TOKEN=" + clusterAdminToken}
	if c.secret != "" {
		env = append(env, "VAULTAIRE_CLUSTER_SECRET="+c.secret)
	}
	return append(env, c.extraEnv...)
}

// addNode starts one more node (joining node 0 unless it is node 0).
func (c *testCluster) addNode(args ...string) *clusterProc {
	t := c.t
	t.Helper()
	i := len(c.nodes)
	p := &clusterProc{host: fmt.Sprintf("127.0.0.%d", 10+i), args: args, bin: c.bin}
	if i > 0 {
		p.args = append([]string{"--join", c.seed}, args...)
	}
	p.server = startServerBin(t, p.binary(t), p.host, filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i)), c.env(), p.args...)
	p.parseBanner(t)
	if i == 0 {
		// Stdout is not a terminal: the secret is only in its file.
		b, err := os.ReadFile(filepath.Join(p.dir, "cluster.secret"))
		if err != nil {
			t.Fatalf("bootstrap node kept no cluster secret: %v", err)
		}
		c.secret, c.seed = strings.TrimSpace(string(b)), p.gossip
	}
	c.nodes = append(c.nodes, p)
	return p
}

// binary is the binary the node runs.
func (p *clusterProc) binary(t *testing.T) string {
	if p.bin != "" {
		return p.bin
	}
	return binary(t)
}

func (p *clusterProc) parseBanner(t *testing.T) {
	t.Helper()
	// The banner is written line by line after the S3 line the start
	// waited for: its cluster part ends with the join command, and the
	// admin line comes after that.
	deadline := time.Now().Add(30 * time.Second)
	for (!strings.Contains(p.output(), "vaultaire server --join") || bannerAdmin.FindString(p.output()) == "") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := p.output()
	m := bannerCluster.FindStringSubmatch(out)
	a := bannerAdmin.FindStringSubmatch(out)
	if m == nil || a == nil {
		t.Fatalf("banner lacks the cluster or admin lines:\n%s", out)
	}
	p.id, p.rpc, p.gossip, p.admin = m[1], m[2], m[3], a[1]
}

// restart starts a killed or stopped node again on its data dir; it
// rejoins with its identity.
func (c *testCluster) restart(i int) {
	c.t.Helper()
	p := c.nodes[i]
	args := p.args
	if i == 0 {
		// Node 0 bootstrapped; now it rejoins through a live peer.
		for j, q := range c.nodes {
			if j != 0 && q.alive() {
				args = append([]string{"--join", q.gossip}, args...)
				break
			}
		}
	}
	p.setServer(startServerBin(c.t, p.binary(c.t), p.host, p.dir, c.env(), args...))
	p.parseBanner(c.t)
}

func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// clusterStatus is the admin API's answer, with the tests' helpers.
type clusterStatus admin.ClusterStatus

// status asks node i's admin API for the cluster status.
func (c *testCluster) status(i int) (clusterStatus, error) {
	var st clusterStatus
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.nodes[i].admin+"/admin/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+clusterAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("cluster status: %d %s", resp.StatusCode, b)
	}
	return st, json.Unmarshal(b, &st)
}

// waitMembers waits until every live node sees n alive, active members
// that are all in the metadata group, and is ready.
func (c *testCluster) waitMembers(n int) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		why := ""
		for i, p := range c.nodes {
			if !p.alive() {
				continue
			}
			st, err := c.status(i)
			if err != nil {
				why = err.Error()
				break
			}
			if w := st.notConverged(n); w != "" {
				why = fmt.Sprintf("node %d %s", i, w)
				break
			}
		}
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster did not converge to %d members: %s", n, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// notConverged says why a node's cluster status does not show n alive,
// active members that are all in the metadata group under a leader ("" if
// it does).
func (st clusterStatus) notConverged(n int) string {
	alive, inRaft := 0, 0
	for _, m := range st.Nodes {
		if m.State == "alive" && m.NodeState == "active" {
			alive++
		}
		if m.State == "alive" && m.RaftRole != "none" && m.RaftRole != "" {
			inRaft++
		}
	}
	if alive == n && inRaft == n && st.Leader != "" {
		return ""
	}
	return fmt.Sprintf("sees %d alive active, %d in raft; %s", alive, inRaft, st.summary())
}

// summary is a status in one line, for failure messages.
func (st clusterStatus) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "leader %q:", st.Leader)
	for _, n := range st.Nodes {
		fmt.Fprintf(&b, " %s=%s/%s/%s", n.ID, n.State, n.NodeState, n.RaftRole)
	}
	return b.String()
}

// leader returns the index of the node that leads the metadata group.
func (c *testCluster) leader() int {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for i, p := range c.nodes {
			if !p.alive() {
				continue
			}
			if st, err := c.status(i); err == nil && st.Leader != "" {
				for j, q := range c.nodes {
					if q.id == st.Leader && q.alive() {
						return j
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatal("no leader")
	return -1
}

func (c *testCluster) client(i int) *awss3.Client {
	return c.nodes[i].current().client(testKey, testSecret)
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func putObject(ctx context.Context, c *awss3.Client, bucket, key string, body []byte) error {
	_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	return err
}

// retryable reports whether err is what a node may answer while the
// cluster recovers: S3 SlowDown/ServiceUnavailable/InternalError or a
// connection failure. Never NoSuchKey, never wrong data.
func retryable(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err != nil // a transport error: the node we talked to went away
	}
	switch ae.ErrorCode() {
	case "SlowDown", "ServiceUnavailable", "RequestTimeout":
		return true
	}
	return false
}

// TestClusterAnyNodeServesConsistently runs 3 nodes over HTTP and over
// HTTPS (every node serving its S3 port with TLS, internode traffic on
// mutual TLS as always), and 5 nodes over HTTPS.
func TestClusterAnyNodeServesConsistently(t *testing.T) {
	for _, tc := range []struct {
		n      int
		scheme string
	}{{3, "http"}, {3, "https"}, {5, "https"}} {
		n := tc.n
		t.Run(fmt.Sprintf("%dnodes/%s", n, tc.scheme), func(t *testing.T) {
			var tlsArgs []string
			if tc.scheme == "https" {
				tlsArgs = httpsArgs(t)
			}
			c := startCluster(t, n, tlsArgs...)
			ctx := context.Background()
			// 4 drives per node: 3 nodes write 8+4, 5 nodes 12+4.
			c.waitMembers(n)
			if st, err := c.status(n - 1); err != nil || st.Shape != map[int]string{3: "8+4", 5: "12+4"}[n] {
				t.Fatalf("erasure shape of %d nodes: %q, %v", n, st.Shape, err)
			}
			a, b, last := c.client(0), c.client(1), c.client(n-1)
			if _, err := b.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
				t.Fatal(err)
			}
			objects := map[string][]byte{
				"small":   payload(100, 1),     // inline in metadata
				"medium":  payload(300<<10, 2), // shards across nodes
				"large":   payload(9<<20, 3),   // many stripes
				"a/b/c/d": payload(20<<10, 4),
			}
			for k, v := range objects {
				if err := putObject(ctx, a, "shared", k, v); err != nil {
					t.Fatalf("put %s via node 0: %v", k, err)
				}
				// Read-after-write on every other node, at once.
				for i := 1; i < n; i++ {
					got, err := getObject(ctx, c.client(i), "shared", k)
					if err != nil || !bytes.Equal(got, v) {
						t.Fatalf("get %s via node %d right after the put: err %v, %d bytes (want %d)", k, i, err, len(got), len(v))
					}
				}
			}
			list, err := last.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("shared")})
			if err != nil || len(list.Contents) != len(objects) {
				t.Fatalf("list via node %d: %v, %d keys", n-1, err, len(list.Contents))
			}
			// Overwrite on one node, read the new bytes on another.
			if err := putObject(ctx, last, "shared", "medium", payload(70<<10, 9)); err != nil {
				t.Fatal(err)
			}
			if got, err := getObject(ctx, a, "shared", "medium"); err != nil || !bytes.Equal(got, payload(70<<10, 9)) {
				t.Fatalf("overwrite not seen on node 0: %v", err)
			}
			// Delete on one node: gone on every node at once.
			if _, err := last.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("shared"), Key: aws.String("large")}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				if _, err := getObject(ctx, c.client(i), "shared", "large"); s3Code(err) != "NoSuchKey" {
					t.Fatalf("deleted key on node %d: %v", i, err)
				}
			}
			// The cluster CLI shows every node.
			var out, errOut bytes.Buffer
			code := run(ctx, []string{"cluster", "--endpoint", "http://" + c.nodes[n-1].admin, "--token", clusterAdminToken, "status"}, &out, &errOut)
			if code != 0 {
				t.Fatalf("vaultaire cluster status: %d %s", code, errOut.String())
			}
			for _, p := range c.nodes {
				if !strings.Contains(out.String(), p.id) {
					t.Fatalf("cluster status lacks %s:\n%s", p.id, out.String())
				}
			}
			if n > 3 {
				return
			}
			t.Logf("vaultaire cluster status:\n%s", out.String())
		})
	}
}

// load runs PUT/GET/DELETE against the given nodes until stop is closed,
// recording what was acknowledged. Errors must be retryable; a wrong byte
// or a lost acknowledged write fails the test.
type load struct {
	c       *testCluster
	nodes   []int
	bucket  string
	mu      chan struct{} // 1-slot lock
	acked   map[string]byte
	deleted map[string]bool
	okOps   int
	retries int
	errs    []error
	lastOK  time.Time
}

func newLoad(c *testCluster, bucket string, nodes ...int) *load {
	l := &load{c: c, nodes: nodes, bucket: bucket, mu: make(chan struct{}, 1), acked: map[string]byte{}, deleted: map[string]bool{}}
	return l
}

func (l *load) lock()   { l.mu <- struct{}{} }
func (l *load) unlock() { <-l.mu }

// size of the artifact of seed: a mix of inline and sharded sizes.
func loadSize(seed byte) int {
	switch seed % 4 {
	case 0:
		return 2 << 10
	case 1:
		return 200 << 10
	case 2:
		return 1 << 20
	}
	return 70 << 10
}

func (l *load) run(ctx context.Context, worker int, stop <-chan struct{}) {
	for op := 0; ; op++ {
		select {
		case <-stop:
			return
		default:
		}
		l.lock() // a test may change l.nodes while the load runs
		nodes := l.nodes
		l.unlock()
		n := nodes[(worker+op)%len(nodes)]
		cl := l.c.client(n)
		key := fmt.Sprintf("w%d-%d", worker, op)
		seed := byte(worker*31 + op)
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		var err error
		switch {
		case op%5 == 4: // delete an earlier key of this worker
			victim := fmt.Sprintf("w%d-%d", worker, op-4)
			_, err = cl.DeleteObject(rctx, &awss3.DeleteObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(victim)})
			if err == nil {
				l.lock()
				delete(l.acked, victim)
				l.deleted[victim] = true
				l.unlock()
			}
		case op%5 == 3: // read back an earlier acknowledged key
			victim := fmt.Sprintf("w%d-%d", worker, op-2)
			l.lock()
			want, ok := l.acked[victim]
			l.unlock()
			if ok {
				var got []byte
				got, err = getObject(rctx, cl, l.bucket, victim)
				if err == nil && !bytes.Equal(got, payload(loadSize(want), want)) {
					err = fmt.Errorf("WRONG DATA for %s via node %d", victim, n)
				}
			}
		default:
			err = putObject(rctx, cl, l.bucket, key, payload(loadSize(seed), seed))
			if err == nil {
				l.lock()
				l.acked[key] = seed
				l.unlock()
			}
		}
		cancel()
		l.lock()
		if err == nil {
			l.okOps++
			l.lastOK = time.Now()
		} else if retryable(err) && !strings.Contains(err.Error(), "WRONG DATA") {
			l.retries++
		} else {
			l.errs = append(l.errs, err)
		}
		l.unlock()
		if err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// verify reads every acknowledged artifact through node i, and checks that
// deleted ones stay deleted.
func (l *load) verify(t *testing.T, i int) {
	t.Helper()
	ctx := context.Background()
	for key, seed := range l.acked {
		got, err := getObject(ctx, l.c.client(i), l.bucket, key)
		if err != nil || !bytes.Equal(got, payload(loadSize(seed), seed)) {
			t.Fatalf("acknowledged %s via node %d: err %v, %d bytes (want %d)", key, i, err, len(got), loadSize(seed))
		}
	}
	for key := range l.deleted {
		if _, err := getObject(ctx, l.c.client(i), l.bucket, key); s3Code(err) != "NoSuchKey" {
			t.Fatalf("deleted %s via node %d: %v", key, i, err)
		}
	}
}

func TestClusterSurvivesKilledNode(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("load")}); err != nil {
		t.Fatal(err)
	}
	victim := 2
	if c.leader() == victim {
		victim = 1 // the leader's death is TestClusterLeaderKilled's
	}
	var survivors []int
	for i := range c.nodes {
		if i != victim {
			survivors = append(survivors, i)
		}
	}
	l := newLoad(c, "load", survivors...)
	stop := make(chan struct{})
	done := make(chan struct{})
	const workers = 4
	for w := 0; w < workers; w++ {
		go func(w int) { defer func() { done <- struct{}{} }(); l.run(ctx, w, stop) }(w)
	}
	time.Sleep(1500 * time.Millisecond)
	c.nodes[victim].kill()
	killedAt := time.Now()
	l.lock()
	before := l.okOps
	l.unlock()
	time.Sleep(6 * time.Second)
	close(stop)
	for w := 0; w < workers; w++ {
		<-done
	}
	if len(l.errs) > 0 {
		t.Fatalf("non-retryable errors under load with a node killed: %v", l.errs)
	}
	if l.okOps <= before || !l.lastOK.After(killedAt.Add(3*time.Second)) {
		t.Fatalf("writes stopped after the kill: %d ops before, %d after, last success %v after the kill", before, l.okOps, l.lastOK.Sub(killedAt))
	}
	t.Logf("load: %d ops acknowledged (%d before the kill), %d retryable errors, %d artifacts live", l.okOps, before, l.retries, len(l.acked))
	for _, i := range survivors {
		l.verify(t, i)
	}
	// Every survivor's /metrics counts the members by gossip state.
	for _, i := range survivors {
		_, m := adminGet(t, c.nodes[i].admin, "/metrics", "")
		alive, dead := sample(m, `vaultaire_gossip_members{state="alive"}`), sample(m, `vaultaire_gossip_members{state="dead"}`)
		if alive != 2 || dead != 1 {
			t.Errorf("node %d /metrics: gossip members alive %v dead %v, want 2 and 1", i, alive, dead)
		}
	}
	// The killed node rejoins with its identity and data and serves
	// everything, including what was written while it was down.
	c.restart(victim)
	c.waitMembers(3)
	l.verify(t, victim)
}

// TestClusterLeaderKilled runs over HTTPS (the production mode; the
// failover does not depend on the scheme).
func TestClusterLeaderKilled(t *testing.T) {
	c := startCluster(t, 3, httpsArgs(t)...)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("lead")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		if err := putObject(ctx, c.client(i%3), "lead", fmt.Sprint(i), payload(loadSize(byte(i)), byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	old := c.leader()
	oldID := c.nodes[old].id
	c.nodes[old].kill()
	killed := time.Now()
	other := (old + 1) % 3
	// Writes through a survivor: at most brief retryable errors.
	var failures int
	for {
		err := putObject(ctx, c.client(other), "lead", "after", payload(300<<10, 42))
		if err == nil {
			break
		}
		if !retryable(err) {
			t.Fatalf("non-retryable error while the leader was down: %v", err)
		}
		failures++
		if time.Since(killed) > 60*time.Second {
			t.Fatalf("no write succeeded within 60s of the leader's death: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("first write acknowledged %v after the leader was killed (%d retryable errors before)", time.Since(killed).Round(time.Millisecond), failures)
	st, err := c.status(other)
	if err != nil || st.Leader == "" || st.Leader == oldID {
		t.Fatalf("new leader: %q (old %s), %v", st.Leader, oldID, err)
	}
	for _, i := range []int{other, (old + 2) % 3} {
		for j := 0; j < 6; j++ {
			got, err := getObject(ctx, c.client(i), "lead", fmt.Sprint(j))
			if err != nil || !bytes.Equal(got, payload(loadSize(byte(j)), byte(j))) {
				t.Fatalf("node %d, artifact %d after the leader's death: %v", i, j, err)
			}
		}
		if got, err := getObject(ctx, c.client(i), "lead", "after"); err != nil || !bytes.Equal(got, payload(300<<10, 42)) {
			t.Fatalf("node %d, artifact written after the leader's death: %v", i, err)
		}
	}
}

// TestClusterRefusesWrongSecret starts a node with another cluster's
// secret: it can neither join gossip nor reach the RPC, and the cluster
// never lists it.
func TestClusterRefusesWrongSecret(t *testing.T) {
	c := startCluster(t, 2)
	other := filepath.Join(t.TempDir(), "intruder")
	intruder := exec.Command(binary(t), "server", "--data", other, "--address", freeAddrOn(t, "127.0.0.30"), "--join", c.seed,
		"--admin-address", "127.0.0.30:0", "--rpc-address", "127.0.0.30:0", "--gossip-address", "127.0.0.30:0")
	intruder.Env = append(os.Environ(), "VAULTAIRE_CLUSTER_SECRET=vcs1_"+strings.Repeat("ab", 32))
	var out lockedBuffer
	intruder.Stdout, intruder.Stderr = &out, &out
	if err := intruder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { intruder.Process.Kill(); intruder.Wait() }()
	time.Sleep(5 * time.Second)
	if strings.Contains(out.String(), "is serving S3") {
		t.Fatalf("a node with a wrong secret joined:\n%s", out.String())
	}
	st, err := c.status(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 2 {
		t.Fatalf("cluster lists %d nodes, want 2: %+v", len(st.Nodes), st.Nodes)
	}
}

// TestClusterRemoveNode: `vaultaire cluster remove` refuses an alive node,
// takes a stopped one out of the Raft group through any node (a follower
// forwards to the leader), and the cluster keeps serving; a removed node
// started again on its data dir joins again.
func TestClusterRemoveNode(t *testing.T) {
	c := startCluster(t, 3)
	c.waitMembers(3)
	ctx := context.Background()
	lead := c.leader()
	victim, via := (lead+1)%3, (lead+2)%3 // ask a follower: it forwards
	cli := func(args ...string) (string, int) { t.Helper(); return c.clusterCLI(via, args...) }
	id := c.nodes[victim].id
	if out, code := cli("remove", id); code == 0 || !strings.Contains(out, "alive") {
		t.Fatalf("remove of an alive node: exit %d, %s", code, out)
	}
	c.nodes[victim].kill()
	role := func(i int) string {
		st, err := c.status(i)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st.Nodes {
			if m.ID == id {
				return m.RaftRole
			}
		}
		return "unlisted"
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, code := cli("remove", id)
		if code == 0 {
			break
		}
		// Gossip may not have declared the node dead yet.
		if time.Now().After(deadline) {
			t.Fatalf("remove of a stopped node: exit %d, %s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, i := range []int{lead, via} {
		if r := role(i); r != "none" && r != "unlisted" {
			t.Fatalf("node %d still lists the removed node with Raft role %q", i, r)
		}
	}
	if out, code := cli("status"); code != 0 || !strings.Contains(out, c.nodes[lead].id) {
		t.Fatalf("cluster status: exit %d\n%s", code, out)
	}
	// Two voters left: writes still commit.
	if _, err := c.client(via).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("after-remove")}); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, c.client(lead), "after-remove", "k", payload(2<<20, 9)); err != nil {
		t.Fatal(err)
	}
	// Started again, it joins again and sees what was written meanwhile.
	c.restart(victim)
	c.waitMembers(3)
	got, err := getObject(ctx, c.client(victim), "after-remove", "k")
	if err != nil || !bytes.Equal(got, payload(2<<20, 9)) {
		t.Fatalf("GET through the re-joined node: %v, %d bytes", err, len(got))
	}
}

// clusterCLI runs `vaultaire cluster ARGS` against node via's admin API
// and returns its output and exit code.
func (c *testCluster) clusterCLI(via int, args ...string) (string, int) {
	c.t.Helper()
	stdout, stderr, code := runCLI(c.t, nil, append([]string{"cluster", "--endpoint", "http://" + c.nodes[via].admin, "--token", clusterAdminToken}, args...)...)
	return stdout + stderr, code
}

// TestClusterRelocatesRemovedNodeShards: the shards of a node that is
// only dead stay where they are; once an operator removes it, the
// metadata leader rebuilds every one of them on the two nodes left, and
// every artifact written before reads back intact from both.
func TestClusterRelocatesRemovedNodeShards(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	lead := c.leader()
	victim, other := (lead+1)%3, (lead+2)%3
	if _, err := c.client(other).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("reloc")}); err != nil {
		t.Fatal(err)
	}
	// 3 nodes of 4 drives: 8+4 with exactly 4 shards on every node.
	const objects = 4
	for i := 0; i < objects; i++ {
		if err := putObject(ctx, c.client(lead), "reloc", fmt.Sprint("k", i), payload(3<<20, byte(40+i))); err != nil {
			t.Fatal(err)
		}
	}
	relocated := func() float64 {
		_, m := adminGet(t, c.nodes[lead].admin, "/metrics", "")
		return sample(m, "vaultaire_shards_relocated_total")
	}
	// shardFiles counts the shard files on the drives of the nodes left.
	shardFiles := func() int {
		n := 0
		for _, i := range []int{lead, other} {
			root := filepath.Join(c.nodes[i].dir, "drives")
			err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/data/blobs/") {
					n++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	if n := shardFiles(); n != objects*8 {
		t.Fatalf("the two nodes that stay hold %d shard files, want %d", n, objects*8)
	}
	c.nodes[victim].kill()
	id := c.nodes[victim].id
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Dead (or about to be declared so) but not removed: nothing moves.
		if n := relocated(); n != 0 {
			t.Fatalf("%v shards relocated off a node that was not removed", n)
		}
		out, code := c.clusterCLI(other, "remove", id)
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("remove of a stopped node: exit %d, %s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	removedAt := time.Now()
	for relocated() < objects*4 {
		if time.Since(removedAt) > 30*time.Second {
			t.Fatalf("%v of %d shards relocated 30 s after the removal\n%s", relocated(), objects*4, c.nodes[lead].output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d shards relocated %v after the removal", objects*4, time.Since(removedAt).Round(time.Millisecond))
	if n := relocated(); n != objects*4 {
		t.Fatalf("%v shards relocated, want exactly %d", n, objects*4)
	}
	// All 12 shards of every artifact live on the two nodes left.
	if n := shardFiles(); n != objects*12 {
		t.Fatalf("the two nodes left hold %d shard files, want %d", n, objects*12)
	}
	for _, i := range []int{lead, other} {
		for k := 0; k < objects; k++ {
			got, err := getObject(ctx, c.client(i), "reloc", fmt.Sprint("k", k))
			if err != nil || !bytes.Equal(got, payload(3<<20, byte(40+k))) {
				t.Fatalf("GET k%d through node %d after relocation: %v, %d bytes", k, i, err, len(got))
			}
		}
	}
}

// TestClusterRollingRestart restarts every node in turn with SIGTERM, as a
// rolling upgrade does, under a mixed load on all nodes: no acknowledged
// write is lost, clients see only retryable errors, and each node comes
// back with its identity. The bootstrap node is started again without
// --join: it finds the cluster through the peers it saved.
func TestClusterRollingRestart(t *testing.T) {
	// Over HTTPS, the production mode: restarted nodes serve TLS again.
	c := startCluster(t, 3, httpsArgs(t)...)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("rolling")}); err != nil {
		t.Fatal(err)
	}
	l := newLoad(c, "rolling", 0, 1, 2)
	stop := make(chan struct{})
	done := make(chan struct{})
	const workers = 3
	for w := 0; w < workers; w++ {
		go func(w int) { defer func() { done <- struct{}{} }(); l.run(ctx, w, stop) }(w)
	}
	for i, p := range c.nodes {
		time.Sleep(time.Second)
		wasLeader := c.leader() == i
		p.stop(t)
		if i == 0 {
			p.setServer(startServerOn(t, p.host, p.dir, c.env(), p.args...))
			p.parseBanner(t)
		} else {
			c.restart(i)
		}
		c.waitMembers(3)
		t.Logf("node %d restarted (was leader: %v)", i, wasLeader)
	}
	time.Sleep(time.Second)
	close(stop)
	for w := 0; w < workers; w++ {
		<-done
	}
	if len(l.errs) > 0 {
		t.Fatalf("non-retryable errors during the rolling restart: %v", l.errs)
	}
	t.Logf("load: %d ops acknowledged, %d retryable errors, %d artifacts live", l.okOps, l.retries, len(l.acked))
	for i := range c.nodes {
		l.verify(t, i)
	}
}
