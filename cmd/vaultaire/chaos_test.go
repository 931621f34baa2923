package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/chaos"
)

// TestChaos is the fault-injection suite (`make chaos`, issue 19). It runs
// only when VAULTAIRE_CHAOS_ROUNDS is set (the number of rounds): a round
// takes about a minute, too long for every `go test`.
//
// It starts 3 real `vaultaire server` processes, each in its own network
// namespace when the test runs as root (the topology of
// TestClusterPartition), else each on its own loopback address, and plays
// rounds. In each round a mixed load (PUT, GET of its own writes, DELETE,
// objects from 1 KiB to 1 MiB) runs through every node, clients on every
// node race PUT/GET/DELETE on three shared keys, and one nemesis strikes:
// kill -9 of a follower or the leader then a restart, SIGSTOP/SIGCONT for
// 5-15 s, a partition of one node (root only), flipped bytes in data and
// parity shard files, a drive folder removed then replaced by an empty one
// (the node is restarted on it), a drive that fills up (a tmpfs; root
// only), and a rolling SIGTERM restart of every node. After the round every
// write the load made is read back through every node (chaos.Ledger), and
// the shared keys' history is checked for linearizability
// (chaos.CheckLinearizable). A lost write, wrong bytes or a history that is
// not linearizable fails the test; the per-round figures are printed as a
// table (and written to VAULTAIRE_CHAOS_OUT when set).
func TestChaos(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("VAULTAIRE_CHAOS_ROUNDS"))
	if rounds <= 0 {
		t.Skip("the fault-injection suite runs with VAULTAIRE_CHAOS_ROUNDS=N (make chaos ROUNDS=N)")
	}
	cycle, err := chaosCycle(os.Getenv("VAULTAIRE_CHAOS_NEMESES"))
	if err != nil {
		t.Fatal(err)
	}
	cc := newChaosCluster(t)
	cc.stallAfter, cc.dumps = chaosStallAfter, os.Getenv("VAULTAIRE_CHAOS_DUMPS")
	cc.ledgerEvery = int(chaosEnvCount(t, "VAULTAIRE_CHAOS_LEDGER_EVERY", chaosLedgerEvery, "rounds"))
	cc.liveBudget = chaosEnvCount(t, "VAULTAIRE_CHAOS_LIVE_MIB", chaosLiveMiB, "MiB") << 20
	cc.bucket("chaos")
	var table []chaos.Round
	for r := 1; r <= rounds; r++ {
		nem := cycle[(r-1)%len(cycle)]
		res := cc.round(r, nem, r == rounds)
		table = append(table, res)
		var b strings.Builder
		chaos.WriteTable(&b, table)
		t.Logf("after round %d:\n%s", r, b.String())
		if out := os.Getenv("VAULTAIRE_CHAOS_OUT"); out != "" {
			if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
				t.Errorf("write %s: %v", out, err)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// chaosEnvCount reads a whole number of at least 1 from the environment
// variable name (def when it is unset); unit names it in the error.
func chaosEnvCount(t *testing.T, name string, def int64, unit string) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a whole number of %s, at least 1", name, v, unit)
	}
	return n
}

const (
	chaosBucket = "chaos"
	// chaosRequestTimeout bounds one request of the load: an answer later
	// than this is a "timeout" error of the round.
	chaosRequestTimeout = 30 * time.Second
	// chaosConverge bounds the wait for the cluster to heal after a fault.
	chaosConverge = 120 * time.Second
	// chaosStallAfter: a request on a node the fault did not touch that
	// runs longer than this is a stall; the round logs it and, with
	// VAULTAIRE_CHAOS_DUMPS set, saves every node's goroutines then.
	chaosStallAfter = 3 * time.Second
	// chaosLedgerEvery: every key is read back through every node at
	// least once in any chaosLedgerEvery rounds, and in the last round
	// (VAULTAIRE_CHAOS_LEDGER_EVERY; chaos.Ledger.Plan).
	chaosLedgerEvery = 10
	// chaosLiveMiB bounds the load's live data (VAULTAIRE_CHAOS_LIVE_MIB):
	// past it, new writes give way to deletes of older rounds' keys, so a
	// long run's disk use, scrub passes and checks stay the same size from
	// round to round. Without it a run grows by about 300 MiB a round: the
	// sixth 100-round run held 23 GiB by round 72 and filled the disk.
	// 2 GiB takes about 7 rounds to turn over, longer than a scrub period
	// (chaos.CorruptBound), so most corrupted shards are still live when
	// the scrub reaches them (at 64 MiB, most were deleted first).
	chaosLiveMiB = 2048
	// chaosTmpfsSize caps the tmpfs drive that fills up. It takes its
	// share of the load's data like any drive (RAM, only as data lands),
	// so it is large enough for a long run: the nemesis fills it by
	// shrinking the mount to what it holds (fillTmpfs), not by writing a
	// filler of its size.
	chaosTmpfsSize = "4g"
)

// chaosNode is one node: addresses that survive its restarts, its data
// directory, and its process of the moment.
type chaosNode struct {
	i             int
	pn            *partNode // its namespace (root), else nil
	s3Addr, admin string
	rpc, gossip   string
	dir, tmpfs    string
	client        *awss3.Client
	mu            sync.Mutex
	srv           *server
	id            string
}

func (n *chaosNode) proc() *server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

type chaosCluster struct {
	t      *testing.T
	pn     *partNet // nil when not root: no partitions
	nodes  []*chaosNode
	secret string
	ledger *chaos.Ledger
	// flips are the shard bytes the suite corrupted.
	flips []chaosFlip
	// runs counts how often each nemesis ran, to alternate its target.
	runs map[string]int

	// stallAfter and dumps: see chaosStallAfter (dumps "": no dumps).
	stallAfter time.Duration
	dumps      string
	// ledgerEvery: each round's ledger check reads the round's writes
	// and 1/ledgerEvery of the older ones (chaos.Ledger.Plan); the last
	// round reads them all.
	ledgerEvery int
	// liveBudget: past this many bytes that may exist (chaos.Ledger.Live),
	// the load's new writes give way to deletes of older rounds' keys.
	liveBudget int64

	mu  sync.Mutex
	ops []chaosOp // the round's requests (load and shared keys)
	// slowestStart is the longest join-to-serving time of the nodes
	// started since the last round's figures were taken.
	slowestStart time.Duration
	lin          []chaos.Op
	bad          []string // wrong bytes served during the round
	// older are the keys the load wrote in earlier rounds and had not
	// deleted by the round's end, oldest round first: the keys deleted
	// when the data is over liveBudget.
	older []string
	// inflight are the requests under way, by id (stall watcher).
	inflight map[int]chaosInflight
	nextOp   int
}

// chaosInflight is a request under way.
type chaosInflight struct {
	node  int
	what  string
	start time.Time
}

// begin notes a request under way through node; end(id) when it returns.
func (cc *chaosCluster) begin(node int, what string) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.inflight == nil {
		cc.inflight = map[int]chaosInflight{}
	}
	cc.nextOp++
	cc.inflight[cc.nextOp] = chaosInflight{node, what, time.Now()}
	return cc.nextOp
}

func (cc *chaosCluster) end(id int) {
	cc.mu.Lock()
	delete(cc.inflight, id)
	cc.mu.Unlock()
}

// watchStalls runs during a round until stop: the first time a request
// on a node the fault did not touch has run longer than cc.stallAfter, it
// logs every such request and, when cc.dumps is set, saves the goroutines
// of every node (the admin API's /debug/pprof/goroutine?debug=2) to
// <dumps>/round<r>-n<i>.txt, to show what the stalled requests wait on.
func (cc *chaosCluster) watchStalls(r int, f *fault, stop <-chan struct{}) {
	if cc.stallAfter <= 0 {
		return
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(250 * time.Millisecond):
		}
		start, affected := f.snapshot()
		if start.IsZero() {
			continue
		}
		var stalled []string
		cc.mu.Lock()
		for _, op := range cc.inflight {
			if !affected[op.node] && time.Since(op.start) > cc.stallAfter {
				stalled = append(stalled, fmt.Sprintf("node %d: %s, started %v after the fault, running for %v", op.node, op.what,
					op.start.Sub(start).Round(time.Millisecond), time.Since(op.start).Round(time.Millisecond)))
			}
		}
		cc.mu.Unlock()
		if len(stalled) == 0 {
			continue
		}
		sort.Strings(stalled)
		cc.t.Logf("round %d: stalled requests on unaffected nodes:\n  %s", r, strings.Join(stalled, "\n  "))
		if cc.dumps == "" {
			return
		}
		if err := os.MkdirAll(cc.dumps, 0o755); err != nil {
			cc.t.Logf("round %d: goroutine dumps: %v", r, err)
			return
		}
		for _, n := range cc.nodes {
			code, body := partHTTPGet(n.admin, "/debug/pprof/goroutine?debug=2", partAdminToken)
			path := filepath.Join(cc.dumps, fmt.Sprintf("round%d-n%d.txt", r, n.i))
			head := fmt.Sprintf("node %d, fault %v ago; HTTP %d\nstalled:\n  %s\n\n", n.i, time.Since(start).Round(time.Millisecond), code, strings.Join(stalled, "\n  "))
			if err := os.WriteFile(path, []byte(head+body), 0o644); err != nil {
				cc.t.Logf("round %d: %v", r, err)
			}
		}
		cc.t.Logf("round %d: goroutines of every node saved in %s", r, cc.dumps)
		return
	}
}

// chaosOp is one request, for the round's figures.
type chaosOp struct {
	node       int
	put        bool
	start, end time.Time
	err        error
}

type chaosFlip struct {
	path string
	off  int64
	orig byte
	at   time.Time // when the byte was flipped
	// done: the byte is back (repaired) or its file is gone (collected,
	// or its drive replaced); the round's check skips it from then on.
	done bool
}

func newChaosCluster(t *testing.T) *chaosCluster {
	cc := &chaosCluster{t: t, ledger: chaos.NewLedger(), runs: map[string]int{}}
	root := os.Geteuid() == 0
	if root {
		cc.pn = newPartNet(t, 3)
	} else {
		t.Logf("chaos: not root (uid %d): nodes on loopback addresses; the partition and full-drive nemeses are skipped", os.Geteuid())
	}
	base := t.TempDir()
	for i := 0; i < 3; i++ {
		n := &chaosNode{i: i, dir: filepath.Join(base, fmt.Sprintf("n%d", i))}
		if cc.pn != nil {
			p := cc.pn.nodes[i]
			n.pn = p
			n.s3Addr = net.JoinHostPort(p.clientIP, partS3Port)
			n.admin = p.admin
			n.rpc = net.JoinHostPort(p.clusterIP, partRPCPort)
			n.gossip = p.gossip
		} else {
			host := fmt.Sprintf("127.0.0.%d", 60+i)
			n.s3Addr, n.admin = net.JoinHostPort(host, "9000"), net.JoinHostPort(host, "9001")
			n.rpc, n.gossip = net.JoinHostPort(host, "7000"), net.JoinHostPort(host, "7946")
		}
		n.client = awss3.New(awss3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String("http://" + n.s3Addr),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
			Retryer:      aws.NopRetryer{},
		})
		cc.nodes = append(cc.nodes, n)
	}
	// The last drive of node 2 is a small tmpfs, the drive that fills up.
	if root {
		n := cc.nodes[2]
		n.tmpfs = filepath.Join(n.dir, "drives", "d4")
		if err := os.MkdirAll(n.tmpfs, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+chaosTmpfsSize, "tmpfs", n.tmpfs).CombinedOutput(); err != nil {
			t.Logf("chaos: cannot mount a tmpfs (%v: %s): the full-drive nemesis is skipped", err, bytes.TrimSpace(out))
			n.tmpfs = ""
		} else {
			t.Cleanup(func() { exec.Command("umount", "-l", n.tmpfs).Run() })
		}
	}
	cc.start(cc.nodes[0], "")
	b, err := os.ReadFile(filepath.Join(cc.nodes[0].dir, "cluster.secret"))
	if err != nil {
		t.Fatalf("bootstrap node kept no cluster secret: %v", err)
	}
	cc.secret = strings.TrimSpace(string(b))
	for _, n := range cc.nodes[1:] {
		cc.start(n, cc.nodes[0].gossip)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range cc.nodes {
			if s := n.proc(); s != nil {
				log, _, _ := strings.Cut(s.stderr.String(), "SIGQUIT: quit")
				t.Logf("node %d (%s) stderr, last lines:\n%s", n.i, n.id, partTail(log, 30))
			}
		}
	})
	cc.waitConverged()
	return cc
}

// start runs `vaultaire server` for n (in its namespace when there is
// one), joining through join unless it is empty, and waits for its banner.
func (cc *chaosCluster) start(n *chaosNode, join string) {
	t := cc.t
	t.Helper()
	s := &server{t: t, dir: n.dir, addr: n.s3Addr, done: make(chan struct{})}
	s.endpoint = "http://" + s.addr
	host, _, _ := net.SplitHostPort(n.s3Addr)
	argv := []string{"server",
		"--address", n.s3Addr, "--admin-address", n.admin, "--admin-insecure", "--drive-allow-root-fs",
		"--rpc-address", n.rpc, "--gossip-address", n.gossip,
		"--data", n.dir, "--sweep-interval", "0",
		// A short scrub period, so that corrupted parity is found
		// and repaired within the run.
		"--scrub-period", chaos.CorruptBound.String(),
	}
	if join != "" {
		argv = append(argv, "--join", join)
	}
	if n.pn != nil {
		s.cmd = exec.Command("ip", append([]string{"netns", "exec", n.pn.ns, binary(t)}, argv...)...)
	} else {
		s.cmd = exec.Command(binary(t), argv...)
	}
	s.cmd.Env = append(os.Environ(), "VAULTAIRE_ROOT_ACCESS_KEY="+testKey, "VAULTAIRE_ROOT_SECRET_KEY="+testSecret,
		"VAULTAIRE_ADMIN_TOKEN="+partAdminToken, "VAULTAIRE_CONSOLE_ADDRESS="+net.JoinHostPort(host, "0"))
	if cc.secret != "" {
		s.cmd.Env = append(s.cmd.Env, "VAULTAIRE_CLUSTER_SECRET="+cc.secret)
	}
	if cc.dumps != "" {
		// Every run of the node appends its log to <dumps>/n<i>.log,
		// so a failure's story survives the restarts of later rounds.
		if err := os.MkdirAll(cc.dumps, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(cc.dumps, fmt.Sprintf("n%d.log", n.i)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		s.stderrCopy = f
	}
	s.launch(t)
	announced := "is serving S3 at " + s.endpoint + " "
	deadline := time.Now().Add(chaosConverge)
	for out := s.output(); !strings.Contains(out, announced) || !strings.Contains(out, "vaultaire server --join"); out = s.output() {
		select {
		case <-s.done:
			t.Fatalf("node %d exited early: %v\nstderr:\n%s", n.i, s.exitErr, partTail(s.stderr.String(), 40))
		default:
		}
		if time.Now().After(deadline) {
			// The admin listener serves before the engine starts: its
			// goroutines say what the start waits on.
			if cc.dumps != "" {
				code, body := partHTTPGet(n.admin, "/debug/pprof/goroutine?debug=2", partAdminToken)
				path := filepath.Join(cc.dumps, fmt.Sprintf("start-n%d.txt", n.i))
				if err := os.WriteFile(path, []byte(fmt.Sprintf("node %d, not serving after %v; HTTP %d\n\n%s", n.i, chaosConverge, code, body)), 0o644); err == nil {
					t.Logf("node %d: goroutines saved in %s", n.i, path)
				}
			}
			t.Fatalf("node %d did not announce %s\nstderr:\n%s", n.i, s.endpoint, partTail(s.stderr.String(), 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := partBannerCluster.FindStringSubmatch(s.output())
	if m == nil {
		t.Fatalf("node %d's banner lacks the cluster line:\n%s", n.i, s.output())
	}
	// A restart joins the cluster (a first start may bootstrap instead,
	// with no "joined" line). The log says "serving S3" just after the
	// banner.
	if joined, ok := logTime(s.stderr.String(), 0, "joined the cluster"); ok {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if serving, ok := logTime(s.stderr.String(), 0, "serving S3"); ok {
				cc.mu.Lock()
				cc.slowestStart = max(cc.slowestStart, serving.Sub(joined))
				cc.mu.Unlock()
				break
			}
			if time.Now().After(deadline) {
				t.Logf("node %d announced S3 but its log lacks \"serving S3\" 5 s later: no start figure", n.i)
				break
			}
		}
	}
	n.mu.Lock()
	n.srv, n.id = s, m[1]
	n.mu.Unlock()
}

// restart starts n again on its data, joining through a live peer.
func (cc *chaosCluster) restart(n *chaosNode) {
	cc.t.Helper()
	for _, q := range cc.nodes {
		if q != n && q.proc().alive() {
			cc.start(n, q.gossip)
			return
		}
	}
	cc.t.Fatalf("no live peer for node %d to rejoin through", n.i)
}

func (cc *chaosCluster) status(n *chaosNode) (clusterStatus, error) {
	var st clusterStatus
	code, body := partHTTPGet(n.admin, "/admin/v1/cluster", partAdminToken)
	if code != http.StatusOK {
		return st, fmt.Errorf("node %d cluster status: %d %s", n.i, code, partTail(body, 1))
	}
	return st, json.Unmarshal([]byte(body), &st)
}

// waitConverged waits until every node sees 3 alive, active members in
// the Raft group under a leader, and answers ready.
func (cc *chaosCluster) waitConverged() {
	t := cc.t
	t.Helper()
	deadline := time.Now().Add(chaosConverge)
	for {
		why := ""
		for _, n := range cc.nodes {
			st, err := cc.status(n)
			if err != nil {
				why = err.Error()
				break
			}
			if w := st.notConverged(len(cc.nodes)); w != "" {
				why = fmt.Sprintf("node %d %s", n.i, w)
				break
			}
			if code, body := partHTTPGet(n.admin, "/health/ready", ""); code != http.StatusOK {
				why = fmt.Sprintf("node %d not ready: %d %s", n.i, code, body)
				break
			}
		}
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster did not converge within %v: %s", chaosConverge, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leader returns the node that leads the metadata group, as the first
// node that answers says.
func (cc *chaosCluster) leader() *chaosNode {
	cc.t.Helper()
	deadline := time.Now().Add(chaosConverge)
	for time.Now().Before(deadline) {
		for _, n := range cc.nodes {
			if st, err := cc.status(n); err == nil && st.Leader != "" {
				for _, q := range cc.nodes {
					if q.id == st.Leader {
						return q
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	cc.t.Fatal("no leader")
	return nil
}

func (cc *chaosCluster) follower() *chaosNode {
	l := cc.leader()
	return cc.nodes[(l.i+1+mrand.IntN(2))%len(cc.nodes)]
}

func (cc *chaosCluster) bucket(name string) {
	cc.t.Helper()
	deadline := time.Now().Add(chaosConverge)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), chaosRequestTimeout)
		_, err := cc.nodes[0].client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			cc.t.Fatalf("create bucket: %v", err)
		}
		time.Sleep(time.Second)
	}
}

// chaosSizes are the load's object sizes: inline, one stripe, several,
// and more than a block.
var chaosSizes = []int{1 << 10, 48 << 10, 200 << 10, 1<<20 + 7}

// load runs one worker of the mixed load through n until stop.
func (cc *chaosCluster) load(round, worker int, n *chaosNode, stop <-chan struct{}) {
	var mine []string // this worker's acknowledged keys
	defer func() {
		cc.mu.Lock()
		cc.older = append(cc.older, mine...)
		cc.mu.Unlock()
	}()
	for op := 0; ; op++ {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), chaosRequestTimeout)
		o := chaosOp{node: n.i, start: time.Now()}
		del := func(k string) {
			id := cc.begin(n.i, "DELETE "+k)
			_, o.err = n.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(k)})
			o.end = time.Now()
			cc.end(id)
			cc.ledger.Delete(k, o.err)
		}
		old, retire := "", false
		if op%7 != 6 && op%3 != 2 && cc.ledger.Live() > cc.liveBudget {
			old, retire = cc.retire()
		}
		switch {
		case op%7 == 6 && len(mine) > 0: // DELETE one of this worker's keys
			k := mine[0]
			mine = mine[1:]
			del(k)
		case retire: // over the live budget: an older round's key gives way
			del(old)
		case op%3 == 2 && len(mine) > 0: // GET one of this worker's keys
			k := mine[mrand.IntN(len(mine))]
			if size, ok := cc.ledger.Acked(k); ok {
				var got []byte
				id := cc.begin(n.i, fmt.Sprintf("GET %s (%d bytes)", k, size))
				got, o.err = getObject(ctx, n.client, chaosBucket, k)
				o.end = time.Now()
				cc.end(id)
				if o.err == nil && !bytes.Equal(got, chaos.Payload(k, size)) {
					cc.wrong(fmt.Sprintf("GET %s via node %d: %d bytes, not the %d acknowledged", k, n.i, len(got), size))
				}
			}
		default: // PUT a new key
			k := fmt.Sprintf("r%d/w%d/%d", round, worker, op)
			size := chaosSizes[mrand.IntN(len(chaosSizes))]
			o.put = true
			id := cc.begin(n.i, fmt.Sprintf("PUT %s (%d bytes)", k, size))
			o.err = putObject(ctx, n.client, chaosBucket, k, chaos.Payload(k, size))
			o.end = time.Now()
			cc.end(id)
			cc.ledger.Put(k, size, o.err)
			if o.err == nil {
				mine = append(mine, k)
			}
		}
		cancel()
		if !o.end.IsZero() {
			cc.mu.Lock()
			cc.ops = append(cc.ops, o)
			cc.mu.Unlock()
		}
		pause := 20 * time.Millisecond
		if o.err != nil {
			pause = 200 * time.Millisecond
		}
		time.Sleep(pause)
	}
}

// retire takes the oldest key of an earlier round that is still
// acknowledged, for the load to delete; ok is false when there is none.
func (cc *chaosCluster) retire() (key string, ok bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for len(cc.older) > 0 {
		k := cc.older[0]
		cc.older = cc.older[1:]
		if _, acked := cc.ledger.Acked(k); acked {
			return k, true
		}
	}
	return "", false
}

func (cc *chaosCluster) wrong(what string) {
	cc.mu.Lock()
	cc.bad = append(cc.bad, what)
	cc.mu.Unlock()
}

// linBody is the body of a shared key's value: the value, a separator,
// and bytes derived from the value.
func linBody(value string, size int) []byte {
	head := value + "|"
	return append([]byte(head), chaos.Payload(value, max(size-len(head), 0))...)
}

// shared runs PUT/GET/DELETE on the round's shared keys through n until
// stop, recording the history.
func (cc *chaosCluster) shared(round int, n *chaosNode, stop <-chan struct{}) {
	client := n.i * 1000
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		key := fmt.Sprintf("lin/r%d/k%d", round, mrand.IntN(3))
		ctx, cancel := context.WithTimeout(context.Background(), chaosRequestTimeout)
		op := chaos.Op{Client: client, Key: key, Call: time.Now()}
		id := cc.begin(n.i, "shared "+key)
		var err error
		switch x := mrand.IntN(20); {
		case x < 8:
			op.Kind, op.Value = chaos.Put, chaos.Value(fmt.Sprintf("n%d", n.i), seq)
			size := 100
			if seq%4 == 0 {
				size = 80 << 10 // sharded, not inline
			}
			err = putObject(ctx, n.client, chaosBucket, key, linBody(op.Value, size))
		case x < 17:
			op.Kind = chaos.Get
			var got []byte
			got, err = getObject(ctx, n.client, chaosBucket, key)
			if s3Code(err) == "NoSuchKey" {
				err = nil
			} else if err == nil {
				v, _, _ := bytes.Cut(got, []byte("|"))
				op.Value = string(v)
				if !bytes.Equal(got, linBody(op.Value, len(got))) {
					cc.wrong(fmt.Sprintf("GET %s via node %d: %d bytes that no PUT wrote", key, n.i, len(got)))
				}
			}
		default:
			op.Kind = chaos.Delete
			_, err = n.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(key)})
		}
		cancel()
		op.Return = time.Now()
		cc.end(id)
		if err != nil {
			op.Ambiguous = true
			client++ // a pending operation: the client goes on as a new one
		}
		cc.mu.Lock()
		cc.ops = append(cc.ops, chaosOp{node: n.i, put: op.Kind == chaos.Put, start: op.Call, end: op.Return, err: err})
		if !(op.Ambiguous && op.Kind == chaos.Get) {
			cc.lin = append(cc.lin, op)
		}
		cc.mu.Unlock()
		if err != nil {
			time.Sleep(200 * time.Millisecond)
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// fault is what a nemesis did: the nodes it touched, when it struck, and
// the leader before it.
type fault struct {
	oldLeader string
	mu        sync.Mutex // the round's leader watcher reads what strike wrote
	what      string
	skipped   string
	affected  map[int]bool
	start     time.Time
}

// strike notes the fault as it happens: what, on which nodes, and now.
func (f *fault) strike(what string, affected ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.what, f.start, f.affected = what, time.Now(), map[int]bool{}
	for _, i := range affected {
		f.affected[i] = true
	}
}

// skip notes a fault that this run cannot play.
func (f *fault) skip(what, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.what, f.skipped = what, why
}

func (f *fault) snapshot() (start time.Time, affected map[int]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.start, f.affected
}

type nemesis struct {
	name string
	run  func(cc *chaosCluster, f *fault)
}

// chaosNemeses are played in this order, round after round; the short run
// of CI (6 rounds) plays the first six.
var chaosNemeses = []nemesis{
	{"kill", (*chaosCluster).killNode},
	{"stop", (*chaosCluster).stopNode},
	{"corrupt", (*chaosCluster).corruptShards},
	{"partition", (*chaosCluster).partitionNode},
	{"drive", (*chaosCluster).replaceDrive},
	{"rolling", (*chaosCluster).rollingRestart},
	{"kill", (*chaosCluster).killNode},
	{"full", (*chaosCluster).fillDrive},
	{"stop", (*chaosCluster).stopNode},
	{"partition", (*chaosCluster).partitionNode},
}

// chaosCycle is the nemeses a run plays in turn: chaosNemeses, or those
// named in list (VAULTAIRE_CHAOS_NEMESES, comma-separated names of
// chaosNemeses, e.g. "partition" to play only partitions, alternately of
// a follower and of the leader).
func chaosCycle(list string) ([]nemesis, error) {
	if strings.TrimSpace(list) == "" {
		return chaosNemeses, nil
	}
	var out []nemesis
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(chaosNemeses, func(n nemesis) bool { return n.name == name })
		if i < 0 {
			return nil, fmt.Errorf("VAULTAIRE_CHAOS_NEMESES: unknown nemesis %q (kill, stop, corrupt, partition, drive, rolling, full)", name)
		}
		out = append(out, chaosNemeses[i])
	}
	return out, nil
}

// target picks the leader on every other run of a nemesis, else a
// follower.
func (cc *chaosCluster) target(name string) (*chaosNode, string) {
	cc.runs[name]++
	if cc.runs[name]%2 == 0 {
		l := cc.leader()
		return l, fmt.Sprintf("leader n%d", l.i)
	}
	f := cc.follower()
	return f, fmt.Sprintf("follower n%d", f.i)
}

func (cc *chaosCluster) killNode(f *fault) {
	n, who := cc.target("kill")
	f.strike("kill -9 "+who+", restart after 3 s", n.i)
	n.proc().kill()
	time.Sleep(3 * time.Second)
	cc.restart(n)
}

func (cc *chaosCluster) stopNode(f *fault) {
	n, who := cc.target("stop")
	d := time.Duration(5+mrand.IntN(11)) * time.Second
	p := n.proc()
	f.strike(fmt.Sprintf("SIGSTOP %s for %v", who, d), n.i)
	p.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(d)
	p.cmd.Process.Signal(syscall.SIGCONT)
}

func (cc *chaosCluster) partitionNode(f *fault) {
	n, who := cc.target("partition")
	what := "partition " + who + " for 12 s"
	if cc.pn == nil {
		f.skip(what, "not root: no network namespaces")
		return
	}
	f.strike(what, n.i)
	cc.pn.cut(cc.t, n.pn)
	time.Sleep(12 * time.Second)
	cc.pn.heal(cc.t, n.pn)
}

func (cc *chaosCluster) rollingRestart(f *fault) {
	f.strike("rolling SIGTERM restart n0 n1 n2", 0, 1, 2)
	for _, n := range cc.nodes {
		n.proc().stop(cc.t)
		cc.restart(n)
		cc.waitConverged()
	}
}

// replaceDrive removes the second drive folder of node 1 while it runs,
// puts an empty folder in its place after 8 s and restarts the node on it
// (what an operator does with a replaced disk). It is always the same
// drive, so no stripe ever loses more than that one shard to this nemesis.
func (cc *chaosCluster) replaceDrive(f *fault) {
	n := cc.nodes[1]
	dir := filepath.Join(n.dir, "drives", "d2")
	f.strike("drive n1/d2 removed, empty after 8 s, node restarted", n.i)
	// The node keeps writing shards into the folder's tmp/ while it is
	// removed, so a pass can find a directory that filled again after
	// it was emptied: remove until it is gone.
	for try := 0; ; try++ {
		err := os.RemoveAll(dir)
		if err == nil {
			break
		}
		if try == 50 {
			cc.t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(8 * time.Second)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		cc.t.Fatal(err)
	}
	n.proc().stop(cc.t)
	cc.restart(n)
}

// fillDrive makes node 2's tmpfs drive full for 15 s, then gives its room
// back.
func (cc *chaosCluster) fillDrive(f *fault) {
	n := cc.nodes[2]
	what := "drive n2/d4 (tmpfs) full for 15 s"
	if n.tmpfs == "" {
		f.skip(what, "not root: no tmpfs")
		return
	}
	f.strike(what)
	restore, err := fillTmpfs(n.tmpfs)
	if err != nil {
		cc.t.Fatal(err)
	}
	time.Sleep(15 * time.Second)
	if err := restore(); err != nil {
		cc.t.Fatal(err)
	}
}

// fillTmpfs makes the tmpfs mounted at dir full: it shrinks the mount to
// what it holds plus a slack of at most 1 MiB, and fills the slack with a
// file. restore removes the file and gives the mount its chaosTmpfsSize
// again. Over a long run the drive fills with real data, so a filler of
// the mount's size would need ever less room until heals onto the drive
// fail for good; shrinking to the data keeps the fault the same each time
// and costs no RAM.
func fillTmpfs(dir string) (restore func() error, err error) {
	remount := func(size string) error {
		if out, err := exec.Command("mount", "-o", "remount,size="+size, dir).CombinedOutput(); err != nil {
			return fmt.Errorf("remount %s size=%s: %v: %s", dir, size, err, bytes.TrimSpace(out))
		}
		return nil
	}
	// The drive is written to meanwhile: a size below what it holds is
	// refused, so measure again and retry.
	for try := 0; ; try++ {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			return nil, err
		}
		used := (st.Blocks - st.Bfree) * uint64(st.Bsize)
		err = remount(strconv.FormatUint(used+1<<20, 10))
		if err == nil {
			break
		}
		if try == 10 {
			return nil, err
		}
	}
	filler := filepath.Join(dir, "filler")
	restore = func() error {
		os.Remove(filler)
		return remount(chaosTmpfsSize)
	}
	fh, err := os.Create(filler)
	if err != nil {
		restore()
		return nil, err
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := fh.Write(buf); err != nil {
			break // ENOSPC: full
		}
	}
	fh.Close()
	return restore, nil
}

// corruptShards flips one byte in 3 data and 3 parity shard files of
// distinct live artifacts, on every node in turn.
func (cc *chaosCluster) corruptShards(f *fault) {
	f.strike("flipping bytes in shards")
	corrupted := map[string]bool{}
	for _, fl := range cc.flips {
		corrupted[shardBlob(fl.path)] = true
	}
	var data, parity int
	var files []string
	for _, n := range cc.nodes {
		filepath.WalkDir(filepath.Join(n.dir, "drives"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && strings.Contains(path, string(filepath.Separator)+"data"+string(filepath.Separator)) {
				files = append(files, path)
			}
			return nil
		})
	}
	mrand.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	for _, path := range files {
		if data >= 3 && parity >= 3 {
			break
		}
		blob := shardBlob(path)
		if corrupted[blob] {
			continue
		}
		isData, off, ok := shardBlock(path)
		if !ok || (isData && data >= 3) || (!isData && parity >= 3) {
			continue
		}
		// A shard of a blob no record references (deleted, awaiting
		// the collector) tests no repair: with the live data bounded,
		// a good part of the files are such.
		if cc.blobGarbage(blob) {
			continue
		}
		fh, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		var b [1]byte
		if _, err := fh.ReadAt(b[:], off); err == nil {
			if _, err := fh.WriteAt([]byte{b[0] ^ 0xff}, off); err == nil {
				cc.flips = append(cc.flips, chaosFlip{path: path, off: off, orig: b[0], at: time.Now()})
				corrupted[blob] = true
				if isData {
					data++
				} else {
					parity++
				}
			}
		}
		fh.Close()
	}
	f.mu.Lock()
	f.what = fmt.Sprintf("flipped a byte in %d data and %d parity shards", data, parity)
	f.mu.Unlock()
}

// shardBlob is the blob id of a shard file, which drives keep at
// data/blobs/<id[:2]>/<id>/<index> (node's shardName).
func shardBlob(path string) string { return filepath.Base(filepath.Dir(path)) }

// shardBlock reads a shard file's header (erasure's format) and returns
// whether it is a data shard and the offset of a byte inside its first
// block.
func shardBlock(path string) (isData bool, off int64, ok bool) {
	fh, err := os.Open(path)
	if err != nil {
		return false, 0, false
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return false, 0, false
	}
	var h [48]byte
	if _, err := io.ReadFull(fh, h[:]); err != nil || string(h[:8]) != "VLTSHARD" {
		return false, 0, false
	}
	k := int(h[14])<<8 | int(h[15])
	idx := int(h[18])<<8 | int(h[19])
	block := int64(h[20])<<24 | int64(h[21])<<16 | int64(h[22])<<8 | int64(h[23])
	room := min(block, fi.Size()-48-48-16) // the first block, before its checksum
	if room <= 0 {
		return false, 0, false
	}
	return idx < k, 48 + mrand.Int64N(room), true
}

// badLeft lists the shards this suite corrupted that still hold the
// flipped byte: in live, those of blobs a record references (the scrub
// and reads must repair them); in garbage, those of blobs no record
// references any more, which nothing repairs: the collector or the orphan
// sweep removes them (a node that restarts loses its queue of blobs to
// delete, and the suite runs no periodic sweep).
//
// longest is how long a corrupted shard of a live blob stayed corrupt, the
// longest of those found repaired now and those still corrupt (their age
// so far). Repair is seen only here, at a round's end, so it is an upper
// bound by up to a round.
func (cc *chaosCluster) badLeft() (live, garbage []string, longest time.Duration) {
	now := time.Now()
	for i := range cc.flips {
		fl := &cc.flips[i]
		if fl.done {
			continue
		}
		fh, err := os.Open(fl.path)
		if err != nil {
			fl.done = true // removed (collected, or its drive replaced)
			continue
		}
		var b [1]byte
		_, err = fh.ReadAt(b[:], fl.off)
		fh.Close()
		switch {
		case err != nil: // unreadable now: looked at again next round
		case b[0] == fl.orig:
			fl.done = true
			longest = max(longest, now.Sub(fl.at))
		default:
			what := fmt.Sprintf("%s (byte %d, flipped %s ago)", fl.path, fl.off, now.Sub(fl.at).Round(time.Second))
			if cc.blobGarbage(shardBlob(fl.path)) {
				garbage = append(garbage, what)
			} else {
				live = append(live, what)
				longest = max(longest, now.Sub(fl.at))
			}
		}
	}
	return live, garbage, longest
}

// blobGarbage asks the nodes in turn (`admin blob show`) whether any
// record references blob id; a blob no node could answer for counts as
// live.
func (cc *chaosCluster) blobGarbage(id string) bool {
	for _, n := range cc.nodes {
		code, body := partHTTPGet(n.admin, "/admin/v1/blobs/"+id, partAdminToken)
		var b admin.BlobOwners
		if code == http.StatusOK && json.Unmarshal([]byte(body), &b) == nil {
			return len(b.Owners) == 0
		}
	}
	return false
}

// round plays one round: load for 4 s, the nemesis, load until the
// cluster has converged and 6 s more, then the checks.
func (cc *chaosCluster) round(r int, nem nemesis, last bool) chaos.Round {
	t := cc.t
	began := time.Now()
	cc.mu.Lock()
	cc.ops, cc.lin, cc.bad = nil, nil, nil
	cc.mu.Unlock()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range cc.nodes {
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() { defer wg.Done(); cc.load(r, n.i*2+w, n, stop) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); cc.shared(r, n, stop) }()
	}
	// A watcher notes when a node the fault did not touch first names a
	// new leader.
	f := &fault{oldLeader: cc.leader().id}
	var elected time.Time
	var electedMu sync.Mutex
	watchStop := make(chan struct{})
	var watchWG sync.WaitGroup
	watchWG.Add(1)
	go func() {
		defer watchWG.Done()
		for {
			select {
			case <-watchStop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			electedMu.Lock()
			done := !elected.IsZero()
			electedMu.Unlock()
			start, affected := f.snapshot()
			if done || start.IsZero() {
				continue
			}
			for _, n := range cc.nodes {
				if affected[n.i] {
					continue
				}
				if st, err := cc.status(n); err == nil && st.Leader != "" && st.Leader != f.oldLeader {
					electedMu.Lock()
					elected = time.Now()
					electedMu.Unlock()
					break
				}
			}
		}
	}()
	watchWG.Add(1)
	go func() { defer watchWG.Done(); cc.watchStalls(r, f, watchStop) }()
	time.Sleep(4 * time.Second)
	nem.run(cc, f)
	faultEnd := time.Now()
	cc.waitConverged()
	time.Sleep(6 * time.Second)
	close(stop)
	wg.Wait()
	close(watchStop)
	watchWG.Wait()
	loadEnd := time.Now()

	f.mu.Lock()
	res := chaos.Round{N: r, Nemesis: f.what, Skipped: f.skipped, Errors: map[string]int{}}
	cc.mu.Lock()
	res.Start, cc.slowestStart = cc.slowestStart, 0
	cc.mu.Unlock()
	if f.start.IsZero() {
		f.start = faultEnd // skipped
	}
	f.mu.Unlock()
	electedMu.Lock()
	from := f.start
	if !elected.IsZero() {
		from = elected
	}
	electedMu.Unlock()
	cc.mu.Lock()
	ops, lin, bad := cc.ops, cc.lin, cc.bad
	cc.mu.Unlock()
	res.Ops = len(ops)
	var puts []time.Time
	for _, o := range ops {
		if o.err != nil {
			res.Errors[chaosErrKind(o.err)]++
		}
		if f.skipped == "" && len(f.affected) < len(cc.nodes) && !f.affected[o.node] && o.start.After(from.Add(time.Second)) && o.start.Before(faultEnd) {
			res.Longest = max(res.Longest, o.end.Sub(o.start))
		}
		if f.skipped == "" && len(f.affected) < len(cc.nodes) && !f.affected[o.node] && o.end.After(f.start) && o.start.Before(faultEnd) {
			res.LongestAny = max(res.LongestAny, o.end.Sub(o.start))
		}
		if o.put && o.err == nil && o.end.After(f.start) {
			puts = append(puts, o.end)
		}
	}
	res.WriteGap = chaosMaxGap(f.start, loadEnd, puts)
	for _, w := range bad {
		t.Errorf("round %d: wrong bytes served: %s", r, w)
		res.Lost++
	}

	// The writes of the load through every node: those of this round and
	// a rotating slice of the older ones, or all of them in the last
	// round (Ledger.Plan).
	every := cc.ledgerEvery
	if last {
		every = 1
	}
	keys := cc.ledger.Plan(r, every)
	res.Read = len(keys)
	for _, n := range cc.nodes {
		problems := cc.ledger.CheckKeys(keys, cc.reader(n), 4)
		for i, p := range problems {
			if i < 20 {
				t.Errorf("round %d: ledger through node %d: %v", r, n.i, p)
			}
		}
		res.Lost += len(problems)
	}
	res.Acked, res.Deleted, _ = cc.ledger.Counts()
	res.LinOps = len(lin)
	switch err, unknown := chaos.CheckLinearizable(lin, 2*time.Minute); {
	case unknown:
		res.Linear = "unknown"
		t.Logf("round %d: %v", r, err)
	case err != nil:
		res.Linear = "VIOLATION"
		t.Errorf("round %d: %v", r, err)
	default:
		res.Linear = "ok"
	}
	for _, n := range cc.nodes {
		m := chaosMetrics(n.admin)
		res.Healed += m["vaultaire_heal_shards_healed_total"]
		res.ScrubOK += m["vaultaire_scrub_shards_verified_total"]
		res.ScrubBad += m["vaultaire_scrub_shards_bad_total"]
		res.RSS = append(res.RSS, chaosRSS(n.proc()))
	}
	left, garbage, longest := cc.badLeft()
	res.BadLeft, res.BadGarbage, res.Corrupt = len(left), len(garbage), longest
	if len(left) > 0 {
		t.Logf("round %d: corrupted shards not repaired yet:\n  %s", r, strings.Join(left, "\n  "))
	}
	if len(garbage) > 0 {
		t.Logf("round %d: corrupted shards of blobs no record references (not collected yet):\n  %s", r, strings.Join(garbage, "\n  "))
	}
	res.Took = time.Since(began)
	return res
}

// reader reads a key through n for the ledger, retrying errors that a
// recovering cluster may answer for a while.
func (cc *chaosCluster) reader(n *chaosNode) chaos.Reader {
	return func(key string) ([]byte, bool, error) {
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if attempt > 0 {
				time.Sleep(time.Second)
			}
			ctx, cancel := context.WithTimeout(context.Background(), chaosRequestTimeout)
			var b []byte
			b, err = getObject(ctx, n.client, chaosBucket, key)
			cancel()
			if err == nil {
				return b, true, nil
			}
			if s3Code(err) == "NoSuchKey" {
				return nil, false, nil
			}
		}
		return nil, false, err
	}
}

// chaosMaxGap is the longest stretch of [from, to] without a time in ts.
func chaosMaxGap(from, to time.Time, ts []time.Time) time.Duration {
	sortTimes(ts)
	gap, last := time.Duration(0), from
	for _, x := range ts {
		gap = max(gap, x.Sub(last))
		last = x
	}
	return max(gap, to.Sub(last))
}

func sortTimes(ts []time.Time) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
}

// chaosErrKind names the kind of a failed request: its HTTP status and
// S3 code, "timeout", or "connection".
func chaosErrKind(err error) string {
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode() // 0: no answer (a transport error)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case status != 0 && errors.As(err, &ae):
		return fmt.Sprintf("%d %s", status, ae.ErrorCode())
	case status != 0:
		return fmt.Sprint(status)
	}
	msg := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "EOF", "broken pipe", "no route to host", "i/o timeout"} {
		if strings.Contains(msg, k) {
			return "connection (" + k + ")"
		}
	}
	return "other"
}

// chaosMetrics scrapes n's /metrics and sums each metric over its labels.
func chaosMetrics(admin string) map[string]float64 {
	out := map[string]float64{}
	code, body := partHTTPGet(admin, "/metrics", "")
	if code != http.StatusOK {
		return out
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, _ = strings.Cut(line, "} ")
		}
		if v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64); err == nil {
			out[name] += v
		}
	}
	return out
}

// chaosRSS is the resident set of s's process in MiB (0 if gone).
func chaosRSS(s *server) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// TestChaosFillTmpfs checks the full-drive nemesis on a tmpfs that already
// holds data: it is full (a write fails with ENOSPC, the data stays), and
// after restore it takes more than it held (root only, as the nemesis).
func TestChaosFillTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (the full-drive nemesis is skipped likewise)")
	}
	dir := filepath.Join(t.TempDir(), "d4")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v: %s", err, out)
	}
	defer exec.Command("umount", "-l", dir).Run()
	// More data than the old 48 MiB drive could ever hold again after a
	// filler: the drive is 32 MiB and holds 24 MiB.
	data := bytes.Repeat([]byte("d"), 24<<20)
	if err := os.WriteFile(filepath.Join(dir, "shard"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ { // the nemesis strikes again and again
		restore, err := fillTmpfs(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = os.WriteFile(filepath.Join(dir, "heal"), make([]byte, 64<<10), 0o644)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("round %d: a write to the full drive: %v", round, err)
		}
		os.Remove(filepath.Join(dir, "heal"))
		if got, err := os.ReadFile(filepath.Join(dir, "shard")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round %d: the drive's data changed: %v", round, err)
		}
		if err := restore(); err != nil {
			t.Fatal(err)
		}
		// Restored to chaosTmpfsSize: room for more than the drive held.
		if err := os.WriteFile(filepath.Join(dir, "heal"), make([]byte, 40<<20), 0o644); err != nil {
			t.Errorf("round %d: after restore: %v", round, err)
		}
		os.Remove(filepath.Join(dir, "heal"))
		if _, err := os.Stat(filepath.Join(dir, "filler")); !os.IsNotExist(err) {
			t.Errorf("round %d: the filler stayed: %v", round, err)
		}
	}
}
