package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// timedOp is one request of a timedLoad.
type timedOp struct {
	node       int
	what       string
	start, end time.Time
	err        error
}

// timedLoad runs PUTs and GETs (read-backs of its own acknowledged keys)
// against nodes until stop, recording when each request started and
// ended.
type timedLoad struct {
	c      *testCluster
	bucket string
	mu     sync.Mutex
	ops    []timedOp
	acked  map[string]byte
}

func (l *timedLoad) run(worker int, nodes []int, stop <-chan struct{}) {
	for op := 0; ; op++ {
		select {
		case <-stop:
			return
		default:
		}
		n := nodes[(worker+op)%len(nodes)]
		cl := l.c.nodes[n].current().client(testKey, testSecret)
		seed := byte(worker*37 + op)
		key := fmt.Sprintf("s%d-%d", worker, op)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		o := timedOp{node: n, start: time.Now()}
		if op%2 == 1 {
			prev := fmt.Sprintf("s%d-%d", worker, op-1)
			l.mu.Lock()
			want, ok := l.acked[prev]
			l.mu.Unlock()
			if ok {
				o.what = "GET " + prev
				var got []byte
				got, o.err = getObject(ctx, cl, l.bucket, prev)
				if o.err == nil && !bytes.Equal(got, payload(loadSize(want), want)) {
					o.err = fmt.Errorf("WRONG DATA for %s", prev)
				}
			}
		} else {
			o.what = "PUT " + key
			o.err = putObject(ctx, cl, l.bucket, key, payload(loadSize(seed), seed))
			if o.err == nil {
				l.mu.Lock()
				l.acked[key] = seed
				l.mu.Unlock()
			}
		}
		cancel()
		o.end = time.Now()
		if o.what != "" {
			l.mu.Lock()
			l.ops = append(l.ops, o)
			l.mu.Unlock()
		}
		if o.err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestClusterStalledLeader freezes the metadata leader (SIGSTOP) for 12 s
// while PUTs and GETs run through the two other nodes: once they have
// elected a new leader, no request that starts more than 1 s later takes
// longer than 2 s (they used to wait 10-12 s, on forwards to the old
// leader and on shard streams to it, until its connections timed out or
// it woke up). Every acknowledged write reads back afterwards.
func TestClusterStalledLeader(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("stall")}); err != nil {
		t.Fatal(err)
	}
	lead := c.leader()
	leadID := c.nodes[lead].id
	var others []int
	for i := range c.nodes {
		if i != lead {
			others = append(others, i)
		}
	}
	l := &timedLoad{c: c, bucket: "stall", acked: map[string]byte{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); l.run(w, others, stop) }()
	}
	time.Sleep(2 * time.Second)
	p := c.nodes[lead].current()
	p.cmd.Process.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			p.cmd.Process.Signal(syscall.SIGCONT)
			resumed = true
		}
	}
	defer resume()
	// The others elect a new leader.
	var elected time.Time
	for elected.IsZero() {
		for _, i := range others {
			if st, err := c.status(i); err == nil && st.Leader != "" && st.Leader != leadID {
				elected = time.Now()
				break
			}
		}
		if time.Since(stopped) > 30*time.Second {
			t.Fatal("no new leader within 30 s of the stop")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(stopped.Add(12 * time.Second)))
	resume()
	cont := time.Now()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	t.Logf("leader node %d stopped; new leader known %v later; resumed after %v", lead, elected.Sub(stopped).Round(time.Millisecond), cont.Sub(stopped).Round(time.Millisecond))
	l.mu.Lock()
	ops := append([]timedOp(nil), l.ops...)
	l.mu.Unlock()
	sort.Slice(ops, func(i, j int) bool { return ops[i].start.Before(ops[j].start) })
	var longest, longestAny time.Duration
	var during, failed int
	bound := elected.Add(time.Second)
	for _, o := range ops {
		d := o.end.Sub(o.start)
		if o.end.After(stopped) {
			longestAny = max(longestAny, d)
		}
		if o.err != nil && !retryable(o.err) {
			t.Errorf("%s via node %d: %v", o.what, o.node, o.err)
		}
		if o.start.Before(bound) || !o.start.Before(cont) {
			continue
		}
		during++
		if o.err != nil {
			failed++
		}
		longest = max(longest, d)
		// A bound on a hang: the frozen leader holds nothing once the
		// others elected a successor.
		if d > 2*time.Second {
			t.Errorf("%s via node %d started %v after the new leader was elected and took %v (err %v)",
				o.what, o.node, o.start.Sub(elected).Round(time.Millisecond), d.Round(time.Millisecond), o.err)
		}
	}
	t.Logf("%d requests started between 1 s after the election and the resume (%d failed, retryable); the longest took %v; %d requests in all, the longest of those running at or after the stop %v",
		during, failed, longest.Round(time.Millisecond), len(ops), longestAny.Round(time.Millisecond))
	if during == 0 {
		t.Fatal("no request started while the leader was stopped")
	}
	slowest := append([]timedOp(nil), ops...)
	sort.Slice(slowest, func(i, j int) bool {
		return slowest[i].end.Sub(slowest[i].start) > slowest[j].end.Sub(slowest[j].start)
	})
	for _, o := range slowest[:min(5, len(slowest))] {
		t.Logf("slow: %s via node %d, %v from the stop, took %v (err %v)", o.what, o.node, o.start.Sub(stopped).Round(time.Millisecond), o.end.Sub(o.start).Round(time.Millisecond), o.err)
	}
	c.waitMembers(3)
	for key, seed := range l.acked {
		for _, i := range []int{lead, others[0]} {
			got, err := getObject(ctx, c.client(i), "stall", key)
			if err != nil || !bytes.Equal(got, payload(loadSize(seed), seed)) {
				t.Fatalf("acknowledged %s via node %d: %v", key, i, err)
			}
		}
	}
}
