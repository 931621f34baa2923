package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// restripeMetrics sums the re-striper's metrics over the live nodes, and
// reports whether one of them (the leader that ran it) finished a pass
// that found every version at the cluster's shape.
func restripeMetrics(t *testing.T, c *testCluster) (restriped, failed float64, clean bool, why string) {
	t.Helper()
	var parts []string
	for i, p := range c.nodes {
		if !p.alive() {
			continue
		}
		_, m := adminGet(t, p.admin, "/metrics", "")
		r, f := sample(m, "vaultaire_restripe_versions_total"), sample(m, "vaultaire_restripe_failures_total")
		passes, pending := sample(m, "vaultaire_restripe_passes_total"), sample(m, "vaultaire_restripe_last_pass_pending_versions")
		restriped += r
		failed += f
		if passes > 0 && pending == 0 {
			clean = true
		}
		parts = append(parts, fmt.Sprintf("node %d: restriped %v failed %v passes %v last pending %v", i, r, f, passes, pending))
	}
	return restriped, failed, clean, strings.Join(parts, "; ")
}

// TestClusterRestripesAfterNodeReturns: with one node of three stopped,
// artifacts are written 4+4 over the two left; nothing is re-striped while
// it is away. Once it is back, the leader rewrites every one of them at
// 8+4 under a mixed load through every node, and every acknowledged
// artifact reads back byte for byte through every node.
func TestClusterRestripesAfterNodeReturns(t *testing.T) {
	c := startCluster(t, 3, "--restripe-interval", "1s", "--gc-delay", "2s")
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("load")}); err != nil {
		t.Fatal(err)
	}
	victim := 2
	if c.leader() == victim {
		victim = 1
	}
	survivors := []int{}
	for i := range c.nodes {
		if i != victim {
			survivors = append(survivors, i)
		}
	}
	c.nodes[victim].stop(t)

	// Written while the victim is away: sharded sizes, so 4+4 blobs.
	const degraded = 12
	l := newLoad(c, "load", survivors...)
	for i := 0; i < degraded; i++ {
		key, seed := fmt.Sprintf("degraded-%d", i), byte(4*i+1) // loadSize: 200 KiB
		err := putObject(ctx, c.client(survivors[i%2]), "load", key, payload(loadSize(seed), seed))
		for try := 0; err != nil && retryable(err) && try < 20; try++ {
			time.Sleep(250 * time.Millisecond)
			err = putObject(ctx, c.client(survivors[i%2]), "load", key, payload(loadSize(seed), seed))
		}
		if err != nil {
			t.Fatalf("put %s with node %d down: %v", key, victim, err)
		}
		l.acked[key] = seed
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	const workers = 3
	for w := 0; w < workers; w++ {
		go func(w int) { defer func() { done <- struct{}{} }(); l.run(ctx, w, stop) }(w)
	}
	time.Sleep(3 * time.Second)
	if r, _, _, why := restripeMetrics(t, c); r != 0 {
		t.Fatalf("re-striped with a node down: %s", why)
	}

	shardsOn := func(i int) int {
		n := 0
		for d := 0; d < 4; d++ {
			n += len(shardFilesOf(t, filepath.Join(c.nodes[i].dir, "drives", fmt.Sprintf("d%d", d))))
		}
		return n
	}
	before := shardsOn(victim)
	c.restart(victim)
	c.waitMembers(3)
	l.lock()
	l.nodes = []int{0, 1, 2} // the load now goes through every node
	l.unlock()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r, f, clean, why := restripeMetrics(t, c)
		if f > 0 {
			t.Fatalf("re-stripes failed: %s", why)
		}
		if r >= degraded && clean {
			t.Logf("re-striped: %s", why)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not re-striped within 3 minutes: %s", why)
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	for w := 0; w < workers; w++ {
		<-done
	}
	if len(l.errs) > 0 {
		t.Fatalf("non-retryable errors under load: %v", l.errs)
	}
	t.Logf("load: %d ops acknowledged, %d retryable errors, %d artifacts live", l.okOps, l.retries, len(l.acked))
	// The returned node's drives now hold shards of what was written
	// without it.
	// (4 shards of each of the 12 8+4 blobs, less any collected since.)
	if after := shardsOn(victim); after < before+degraded*4 {
		t.Fatalf("node %d holds %d shard files after re-striping, %d before: want %d more", victim, after, before, degraded*4)
	}
	for i := range c.nodes {
		l.verify(t, i)
	}
}
