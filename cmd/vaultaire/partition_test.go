package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// TestClusterPartition runs a real 3-node cluster in network namespaces and
// cuts one node (a Raft follower, M) off the cluster network:
//
//	root netns:  bridge vtbr<id>  ── vt<id>c<i> ══ ethc 10.X.1.<i+1>/24  (RPC, gossip)
//	             10.X.2.<4i+1>/30 ── vt<id>k<i> ══ ethk 10.X.2.<4i+2>/30  (S3, admin)
//
// The test talks to every node over its own client link, so it reaches M's
// S3 and admin APIs while M's cluster link is down; the namespaces have no
// default route, so a cut node cannot reach its peers by any path.
//
// The majority keeps serving PUT/GET/DELETE; M refuses writes with 503 and
// never serves the old bytes of an overwritten key as current; after the
// heal M serves the new bytes and everything the majority wrote.
func TestClusterPartition(t *testing.T) {
	pn := newPartNet(t, 3)
	nodes := pn.startCluster(t)
	pn.waitConverged(t, nodes)
	ctx := context.Background()

	// 1. Data written before the partition, through node 0.
	const bucket = "partition"
	setup, cancel := context.WithTimeout(ctx, partRequestTimeout)
	defer cancel()
	if _, err := nodes[0].s3().CreateBucket(setup, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket via node 0: %v", err)
	}
	oldK, newK := partPayload(200<<10, 1), partPayload(210<<10, 2)
	before := map[string][]byte{
		"small": partPayload(100, 3),     // inline in metadata
		"k":     oldK,                    // overwritten during the partition
		"big":   partPayload(3<<20, 4),   // erasure-coded across nodes
		"gone":  partPayload(40<<10, 5),  // deleted during the partition
		"mid":   partPayload(300<<10, 6), // read through M after the heal
	}
	for key, v := range before {
		if err := partPut(setup, nodes[0].s3(), bucket, key, v); err != nil {
			t.Fatalf("put %s via node 0: %v", key, err)
		}
	}
	for _, p := range nodes {
		for key, v := range before {
			if got, err := getObject(setup, p.s3(), bucket, key); err != nil || !bytes.Equal(got, v) {
				t.Fatalf("get %s via node %d before the partition: err %v, %d bytes (want %d)", key, p.i, err, len(got), len(v))
			}
		}
	}

	// 2. Cut a follower off.
	leader := pn.leader(t, nodes)
	m := nodes[2]
	if leader == m {
		m = nodes[1]
	}
	var majority []*partNode
	for _, p := range nodes {
		if p != m {
			majority = append(majority, p)
		}
	}
	t.Logf("leader is node %d (%s); partitioning node %d (%s)", leader.i, leader.id, m.i, m.id)
	pn.cut(t, m)
	cut := time.Now()

	// 3. The majority keeps working through both of its nodes.
	deadline := cut.Add(partDeadline)
	written := map[string][]byte{}
	var firstWrite time.Duration
	for _, p := range majority {
		key := fmt.Sprintf("during-%d", p.i)
		v := partPayload(1536<<10, byte(10+p.i)) // > 1 MiB: erasure-coded
		retries := partEventually(t, p, deadline, "PUT "+key, func(ctx context.Context) error {
			return partPut(ctx, p.s3(), bucket, key, v)
		})
		if firstWrite == 0 {
			firstWrite = time.Since(cut)
			t.Logf("majority: first write acknowledged %v after the cut (node %d, %d retryable errors before)", firstWrite.Round(time.Millisecond), p.i, retries)
			for _, line := range strings.Split(p.stderr.String(), "\n") {
				if strings.Contains(line, "dropped the connections") {
					t.Logf("node %d: %s", p.i, line)
				}
			}
		}
		written[key] = v
		for _, q := range majority {
			partEventually(t, q, deadline, "GET "+key, func(ctx context.Context) error {
				return partGetEqual(ctx, q.s3(), bucket, key, v)
			})
		}
		tmp := fmt.Sprintf("tmp-%d", p.i)
		partEventually(t, p, deadline, "PUT "+tmp, func(ctx context.Context) error {
			return partPut(ctx, p.s3(), bucket, tmp, partPayload(50<<10, 20))
		})
		partEventually(t, p, deadline, "DELETE "+tmp, func(ctx context.Context) error {
			return partDelete(ctx, p.s3(), bucket, tmp)
		})
		for _, q := range majority {
			partEventually(t, q, deadline, "GET deleted "+tmp, func(ctx context.Context) error {
				return partGone(ctx, q.s3(), bucket, tmp)
			})
		}
	}
	a, b := majority[0], majority[1]
	partEventually(t, a, deadline, "overwrite k", func(ctx context.Context) error {
		return partPut(ctx, a.s3(), bucket, "k", newK)
	})
	partEventually(t, b, deadline, "DELETE gone", func(ctx context.Context) error {
		return partDelete(ctx, b.s3(), bucket, "gone")
	})
	for _, p := range majority {
		partEventually(t, p, deadline, "GET k (new bytes)", func(ctx context.Context) error {
			return partGetEqual(ctx, p.s3(), bucket, "k", newK)
		})
	}
	t.Logf("majority: PUT/GET/DELETE and the overwrite of k done through nodes %d and %d, %v after the cut", a.i, b.i, time.Since(cut).Round(time.Millisecond))

	// 4. The minority refuses writes and never serves stale data as current.
	start := time.Now()
	err := partDo(t, m, "PUT minority", func(ctx context.Context) error {
		return partPut(ctx, m.s3(), bucket, "minority", partPayload(64<<10, 30))
	})
	switch {
	case err == nil:
		t.Errorf("PUT through the partitioned node %d succeeded: a minority must refuse writes with 503", m.i)
	case !partIs503(err):
		t.Errorf("PUT through the partitioned node %d: %v (code %q), want HTTP 503 ServiceUnavailable or SlowDown", m.i, err, s3Code(err))
	default:
		t.Logf("minority: PUT refused with %s after %v", s3Code(err), time.Since(start).Round(time.Millisecond))
	}
	start = time.Now()
	err = partDo(t, m, "GET k", func(ctx context.Context) error {
		return partGetEqual(ctx, m.s3(), bucket, "k", newK)
	})
	switch {
	case errors.Is(err, errPartWrongData):
		t.Fatalf("GET k through the partitioned node %d served stale data as current: %v", m.i, err)
	case err == nil:
		t.Logf("minority: GET k served the new bytes (acceptable: never the old ones)")
	case !partIs503(err):
		t.Errorf("GET k through the partitioned node %d: %v (code %q), want HTTP 503", m.i, err, s3Code(err))
	default:
		t.Logf("minority: GET k refused with %s after %v", s3Code(err), time.Since(start).Round(time.Millisecond))
	}
	// A key the majority wrote must not look absent either.
	err = partDo(t, m, "GET during", func(ctx context.Context) error {
		_, err := getObject(ctx, m.s3(), bucket, "during-"+fmt.Sprint(a.i))
		return err
	})
	if err != nil && !partIs503(err) {
		t.Errorf("GET of a key written by the majority through the partitioned node %d: %v (code %q), want HTTP 503 (never NoSuchKey)", m.i, err, s3Code(err))
	}
	if code, _ := partHTTPGet(m.admin, "/health/ready", ""); code == http.StatusOK {
		t.Logf("minority: /health/ready still answers 200 on the partitioned node")
	}
	if st, err := pn.status(leader); err == nil {
		t.Logf("leader's view during the partition: %s", st.summary())
	}

	// 5. Heal: M catches up and serves the new bytes, never the old ones.
	pn.heal(t, m)
	healed := time.Now()
	deadline = healed.Add(partDeadline)
	for {
		code, body := partHTTPGet(m.admin, "/health/ready", "")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d not ready within %v of the heal: %d %s", m.i, partDeadline, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Wrong data (the old bytes) is not retryable: partEventually fails.
	retries := partEventually(t, m, deadline, "GET k after the heal", func(ctx context.Context) error {
		return partGetEqual(ctx, m.s3(), bucket, "k", newK)
	})
	t.Logf("heal: node %d served the new bytes of k %v after the heal (%d retryable errors before)", m.i, time.Since(healed).Round(time.Millisecond), retries)
	want := map[string][]byte{"small": before["small"], "big": before["big"], "mid": before["mid"], "k": newK}
	for key, v := range written {
		want[key] = v
	}
	for key, v := range want {
		partEventually(t, m, deadline, "GET "+key+" after the heal", func(ctx context.Context) error {
			return partGetEqual(ctx, m.s3(), bucket, key, v)
		})
	}
	for _, key := range []string{"gone", "tmp-" + fmt.Sprint(a.i), "tmp-" + fmt.Sprint(b.i)} {
		partEventually(t, m, deadline, "GET deleted "+key+" after the heal", func(ctx context.Context) error {
			return partGone(ctx, m.s3(), bucket, key)
		})
	}
	after := partPayload(1100<<10, 40)
	partEventually(t, m, deadline, "PUT after the heal", func(ctx context.Context) error {
		return partPut(ctx, m.s3(), bucket, "after-heal", after)
	})
	for _, p := range majority {
		partEventually(t, p, deadline, "GET after-heal", func(ctx context.Context) error {
			return partGetEqual(ctx, p.s3(), bucket, "after-heal", after)
		})
	}
	pn.waitConverged(t, nodes)
}

const (
	// partRequestTimeout bounds one S3 request. A request that has not
	// answered by then is reported as a hang, with a goroutine dump of
	// the node it went to.
	partRequestTimeout = 45 * time.Second
	// partDeadline bounds each phase (the majority's recovery after the
	// cut, the minority's after the heal): generous, functional only.
	partDeadline = 60 * time.Second
	// partAdminToken is every node's VAULTAIRE_ADMIN_TOKEN.
	partAdminToken = "partition-test-admin-token"
	// Fixed ports: each namespace has its own network stack.
	partS3Port, partAdminPort, partRPCPort, partGossipPort = "9000", "9001", "7000", "7946"
)

var (
	errPartWrongData  = errors.New("wrong data")
	partBannerCluster = regexp.MustCompile(`Cluster: node (\S+), RPC at (\S+), gossip at (\S+)`)
)

// partNet is the namespaces, veths and bridge of one test; t.Cleanup
// removes them.
type partNet struct {
	t      *testing.T
	id     string // random; in every name
	x      int    // second octet of every address
	bridge string
	nodes  []*partNode
}

// partNode is one node's namespace, links and process.
type partNode struct {
	*server
	i                   int
	ns                  string
	clusterIP, clientIP string
	link                string // root side of the cluster veth: down = cut off
	client              string // root side of the client veth
	id, admin, gossip   string
}

// newPartNet builds the topology for n nodes, skipping the test only when
// it is not root or the kernel refuses network namespaces.
func newPartNet(t *testing.T, n int) *partNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("TestClusterPartition builds network namespaces with `ip netns`, which needs root (running as uid %d)", os.Geteuid())
	}
	pn := &partNet{t: t, id: partRandHex(3)}
	pn.bridge = "vtbr" + pn.id
	for i := 0; i < n; i++ {
		pn.nodes = append(pn.nodes, &partNode{
			i:      i,
			ns:     fmt.Sprintf("vt%sn%d", pn.id, i),
			link:   fmt.Sprintf("vt%sc%d", pn.id, i),
			client: fmt.Sprintf("vt%sk%d", pn.id, i),
		})
	}
	// The first namespace tells whether the kernel allows them at all.
	if err := partIP("netns", "add", pn.nodes[0].ns); err != nil {
		t.Skipf("the kernel refuses network namespaces: %v", err)
	}
	t.Cleanup(pn.teardown)
	pn.x = pn.pickOctet(t)
	// The kernel may allow namespaces but refuse a bridge or a veth (a
	// container without the modules): that is the kernel refusing too.
	must := func(args ...string) {
		t.Helper()
		if err := partIP(args...); err != nil {
			t.Skipf("the kernel refuses the test's network topology (ip %s): %v", strings.Join(args, " "), err)
		}
	}
	must("link", "add", pn.bridge, "type", "bridge")
	must("link", "set", pn.bridge, "up")
	for i, p := range pn.nodes {
		p.clusterIP = fmt.Sprintf("10.%d.1.%d", pn.x, i+1)
		p.clientIP = fmt.Sprintf("10.%d.2.%d", pn.x, 4*i+2)
		p.admin = net.JoinHostPort(p.clientIP, partAdminPort)
		p.gossip = net.JoinHostPort(p.clusterIP, partGossipPort)
		if i > 0 {
			must("netns", "add", p.ns)
		}
		must("-n", p.ns, "link", "set", "lo", "up")
		// Cluster link: bridged with the other nodes.
		must("link", "add", p.link, "type", "veth", "peer", "name", "ethc", "netns", p.ns)
		must("link", "set", p.link, "master", pn.bridge)
		must("link", "set", p.link, "up")
		must("-n", p.ns, "addr", "add", p.clusterIP+"/24", "dev", "ethc")
		must("-n", p.ns, "link", "set", "ethc", "up")
		// Client link: a /30 to the root namespace only.
		must("link", "add", p.client, "type", "veth", "peer", "name", "ethk", "netns", p.ns)
		must("addr", "add", fmt.Sprintf("10.%d.2.%d/30", pn.x, 4*i+1), "dev", p.client)
		must("link", "set", p.client, "up")
		must("-n", p.ns, "addr", "add", p.clientIP+"/30", "dev", "ethk")
		must("-n", p.ns, "link", "set", "ethk", "up")
	}
	return pn
}

// pickOctet returns an X for 10.X.0.0/16 that no address or route of the
// root namespace uses yet.
func (pn *partNet) pickOctet(t *testing.T) int {
	t.Helper()
	var used bytes.Buffer
	for _, args := range [][]string{{"-4", "addr"}, {"-4", "route"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		used.Write(out)
	}
	for range 100 {
		x := 64 + mrand.IntN(190)
		if !strings.Contains(used.String(), fmt.Sprintf(" 10.%d.", x)) {
			return x
		}
	}
	t.Fatal("no free 10.X.0.0/16 for the partition test")
	return 0
}

// teardown removes the namespaces, veths and bridge. The processes are
// gone by now: their cleanups were registered later, so they ran first.
func (pn *partNet) teardown() {
	for _, p := range pn.nodes {
		if p.server != nil {
			p.kill()
		}
		for _, args := range [][]string{{"link", "del", p.link}, {"link", "del", p.client}, {"netns", "del", p.ns}} {
			if err := partIP(args...); err != nil && !strings.Contains(err.Error(), "Cannot find") && !strings.Contains(err.Error(), "No such file") {
				pn.t.Logf("cleanup: %v", err)
			}
		}
	}
	if err := partIP("link", "del", pn.bridge); err != nil && !strings.Contains(err.Error(), "Cannot find") {
		pn.t.Logf("cleanup: %v", err)
	}
}

// startCluster starts node 0 (it bootstraps) and then the others, which
// join it with the secret it printed.
func (pn *partNet) startCluster(t *testing.T) []*partNode {
	t.Helper()
	env := []string{"VAULTAIRE_ADMIN_TOKEN=" + partAdminToken}
	pn.start(t, pn.nodes[0], env)
	// Stdout is not a terminal: the secret is only in its file.
	b, err := os.ReadFile(filepath.Join(pn.nodes[0].dir, "cluster.secret"))
	if err != nil {
		t.Fatalf("bootstrap node kept no cluster secret: %v", err)
	}
	env = append(env, "VAULTAIRE_CLUSTER_SECRET="+strings.TrimSpace(string(b)))
	for _, p := range pn.nodes[1:] {
		pn.start(t, p, env, "--join", pn.nodes[0].gossip)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range pn.nodes {
			if p.server != nil {
				// The log before any goroutine dump (that went to a file).
				log, _, _ := strings.Cut(p.stderr.String(), "SIGQUIT: quit")
				t.Logf("node %d (%s) stderr, last lines:\n%s", p.i, p.id, partTail(log, 40))
			}
		}
	})
	return pn.nodes
}

// start runs `vaultaire server` inside p's namespace and waits for its
// banner.
func (pn *partNet) start(t *testing.T, p *partNode, env []string, args ...string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("n%d", p.i))
	s := &server{t: t, dir: dir, addr: net.JoinHostPort(p.clientIP, partS3Port), done: make(chan struct{})}
	s.endpoint = "http://" + s.addr
	argv := append([]string{"netns", "exec", p.ns, binary(t), "server",
		"--address", s.addr,
		"--admin-address", p.admin, "--admin-insecure", // the namespace's own address, a private test network
		"--rpc-address", net.JoinHostPort(p.clusterIP, partRPCPort),
		"--gossip-address", p.gossip,
		"--data", dir,
		"--sweep-interval", "0",
	}, args...)
	// `ip netns exec` execs the binary: the process is the server itself,
	// so signals reach it directly.
	s.cmd = exec.Command("ip", argv...)
	s.cmd.Env = append(os.Environ(), "VAULTAIRE_ROOT_ACCESS_KEY="+testKey, "VAULTAIRE_ROOT_SECRET_KEY="+testSecret)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.launch(t)
	p.server = s
	announced := "is serving S3 at " + s.endpoint + " "
	deadline := time.Now().Add(partDeadline)
	// The cluster part of the banner ends with the join command.
	for out := s.output(); !strings.Contains(out, announced) || !strings.Contains(out, "vaultaire server --join"); out = s.output() {
		select {
		case <-s.done:
			t.Fatalf("node %d exited early: %v\nstdout:\n%s\nstderr:\n%s", p.i, s.exitErr, s.output(), s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d did not announce %s\nstdout:\n%s\nstderr:\n%s", p.i, s.endpoint, s.output(), s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := partBannerCluster.FindStringSubmatch(s.output())
	if m == nil {
		t.Fatalf("node %d's banner lacks the cluster line:\n%s", p.i, s.output())
	}
	p.id = m[1]
}

// cut takes p's cluster link down; heal brings it up again.
func (pn *partNet) cut(t *testing.T, p *partNode) {
	t.Helper()
	if err := partIP("link", "set", p.link, "down"); err != nil {
		t.Fatal(err)
	}
}

func (pn *partNet) heal(t *testing.T, p *partNode) {
	t.Helper()
	if err := partIP("link", "set", p.link, "up"); err != nil {
		t.Fatal(err)
	}
}

func (pn *partNet) status(p *partNode) (clusterStatus, error) {
	var st clusterStatus
	code, body := partHTTPGet(p.admin, "/admin/v1/cluster", partAdminToken)
	if code != http.StatusOK {
		return st, fmt.Errorf("node %d cluster status: %d %s", p.i, code, body)
	}
	return st, json.Unmarshal([]byte(body), &st)
}

// waitConverged waits until every node sees all nodes alive, active and in
// the Raft group with a leader, and answers ready.
func (pn *partNet) waitConverged(t *testing.T, nodes []*partNode) {
	t.Helper()
	deadline := time.Now().Add(partDeadline)
	for {
		why := ""
		for _, p := range nodes {
			st, err := pn.status(p)
			if err != nil {
				why = err.Error()
				break
			}
			if w := st.notConverged(len(nodes)); w != "" {
				why = fmt.Sprintf("node %d %s", p.i, w)
				break
			}
			if code, body := partHTTPGet(p.admin, "/health/ready", ""); code != http.StatusOK {
				why = fmt.Sprintf("node %d not ready: %d %s", p.i, code, body)
				break
			}
		}
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster did not converge to %d members within %v: %s", len(nodes), partDeadline, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leader returns the node that leads the metadata group.
func (pn *partNet) leader(t *testing.T, nodes []*partNode) *partNode {
	t.Helper()
	deadline := time.Now().Add(partDeadline)
	for time.Now().Before(deadline) {
		for _, p := range nodes {
			st, err := pn.status(p)
			if err != nil || st.Leader == "" {
				continue
			}
			for _, q := range nodes {
				if q.id == st.Leader {
					return q
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no leader")
	return nil
}

// s3 returns a client that does not retry: the test sees every answer.
func (p *partNode) s3() *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(p.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// partDo runs one request through p. If p has not answered within
// partRequestTimeout it is hung: the test takes a goroutine dump of p
// (SIGQUIT, which ends it) and fails.
func partDo(t *testing.T, p *partNode, what string, op func(context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- op(ctx) }()
	timer := time.NewTimer(partRequestTimeout)
	defer timer.Stop()
	select {
	case err := <-res:
		return err
	case <-timer.C:
	}
	path, stuck := p.dumpStacks()
	cancel()
	<-res
	t.Fatalf("%s through node %d got no answer within %v (want success or a fast 503): a request hangs. Goroutine dump of node %d in %s; request goroutines:\n%s",
		what, p.i, partRequestTimeout, p.i, path, stuck)
	return nil
}

// partEventually retries op through p until it succeeds; retryable errors
// (503s, transport errors) are allowed until deadline, anything else fails
// the test. It returns the number of retries.
func partEventually(t *testing.T, p *partNode, deadline time.Time, what string, op func(context.Context) error) int {
	t.Helper()
	for retries := 0; ; retries++ {
		err := partDo(t, p, what, op)
		if err == nil {
			return retries
		}
		if errors.Is(err, errPartWrongData) {
			t.Fatalf("%s through node %d served stale or wrong data as current: %v", what, p.i, err)
		}
		if !partRetryable(err) {
			t.Fatalf("%s through node %d: non-retryable error: %v", what, p.i, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s through node %d: still failing at the deadline (%d retries): %v", what, p.i, retries, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dumpStacks sends SIGQUIT to p, keeps its stderr (the Go runtime's
// goroutine dump) in a file, and returns the file and the goroutines that
// serve requests.
func (p *partNode) dumpStacks() (path, stuck string) {
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
	out := p.stderr.String()
	f, err := os.CreateTemp("", fmt.Sprintf("vaultaire-partition-node%d-*.stacks", p.i))
	if err == nil {
		f.WriteString(out)
		f.Close()
		path = f.Name()
	} else {
		path = "(not saved: " + err.Error() + ")"
	}
	var b strings.Builder
	for _, g := range strings.Split(out, "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && strings.Contains(g, "ServeHTTP") && b.Len() < 16<<10 {
			b.WriteString(g + "\n\n")
		}
	}
	return path, b.String()
}

// partRetryable reports whether err is what a node may answer while the
// cluster recovers: SlowDown, ServiceUnavailable, RequestTimeout or a
// transport error. Never NoSuchKey, never wrong data.
func partRetryable(err error) bool {
	if errors.Is(err, errPartWrongData) {
		return false
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err != nil
	}
	switch ae.ErrorCode() {
	case "SlowDown", "ServiceUnavailable", "RequestTimeout":
		return true
	}
	return false
}

// partIs503 reports whether err is an S3 answer with HTTP status 503.
func partIs503(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusServiceUnavailable
}

func partPut(ctx context.Context, c *awss3.Client, bucket, key string, body []byte) error {
	_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	return err
}

func partDelete(ctx context.Context, c *awss3.Client, bucket, key string) error {
	_, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err
}

// partGetEqual reads key and wraps errPartWrongData if its bytes differ
// from want.
func partGetEqual(ctx context.Context, c *awss3.Client, bucket, key string, want []byte) error {
	got, err := getObject(ctx, c, bucket, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: %s has %d bytes (%s), want %d", errPartWrongData, key, len(got), partWhich(got), len(want))
	}
	return nil
}

// partGone succeeds when key answers NoSuchKey; a successful read is wrong
// data (a deleted artifact served as current).
func partGone(ctx context.Context, c *awss3.Client, bucket, key string) error {
	got, err := getObject(ctx, c, bucket, key)
	if err == nil {
		return fmt.Errorf("%w: deleted %s still served (%d bytes)", errPartWrongData, key, len(got))
	}
	if s3Code(err) == "NoSuchKey" {
		return nil
	}
	return err
}

// partWhich names the known payload b is, for failure messages.
func partWhich(b []byte) string {
	switch {
	case bytes.Equal(b, partPayload(200<<10, 1)):
		return "the OLD bytes of k"
	case bytes.Equal(b, partPayload(210<<10, 2)):
		return "the new bytes of k"
	}
	return "unknown bytes"
}

func partHTTPGet(addr, path, token string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// partPayload is n deterministic bytes of seed.
func partPayload(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func partIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func partRandHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func partTail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
