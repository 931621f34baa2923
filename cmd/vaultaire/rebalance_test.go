package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/node"
)

func (c *testCluster) rebalancePlan(i int) node.RebalancePlan {
	c.t.Helper()
	code, body := adminGet(c.t, c.nodes[i].admin, "/admin/v1/cluster/rebalance/plan", clusterAdminToken)
	if code != http.StatusOK {
		c.t.Fatalf("rebalance plan: %d %s", code, body)
	}
	var p node.RebalancePlan
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// TestRebalanceAfterJoin: 3 real nodes with data, a fourth joins; under a
// mixed load through every node, `vaultaire cluster rebalance --plan`
// shows the moves onto the new node's drives, `vaultaire cluster
// rebalance` applies them to the end, after which every drive holds its
// capacity share within the tolerance; no client request fails beyond
// retried ones and every acknowledged artifact reads back identical
// through every node.
func TestRebalanceAfterJoin(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("load")}); err != nil {
		t.Fatal(err)
	}
	pre := map[string][]byte{}
	for i := 0; i < 24; i++ {
		key, body := fmt.Sprintf("pre-%d", i), payload(1<<20, byte(100+i))
		if err := putObject(ctx, c.client(i%3), "load", key, body); err != nil {
			t.Fatal(err)
		}
		pre[key] = body
	}
	joined := c.addNode()
	c.waitMembers(4)
	all := []int{0, 1, 2, 3}
	l := newLoad(c, "load", all...)
	stop, done := make(chan struct{}), make(chan struct{})
	const workers = 3
	for w := 0; w < workers; w++ {
		go func(w int) { defer func() { done <- struct{}{} }(); l.run(ctx, w, stop) }(w)
	}

	// Refusals: a bad tolerance, a bad throttle, no job to pause.
	if out, code := c.clusterCLI(0, "rebalance", "--plan", "--tolerance", "2"); code != 2 {
		t.Fatalf("--tolerance 2: exit %d, %s", code, out)
	}
	if code, _ := adminGet(t, c.nodes[0].admin, "/admin/v1/cluster/rebalance/plan?tolerance=x", clusterAdminToken); code != http.StatusBadRequest {
		t.Fatalf("plan with a bad tolerance: %d", code)
	}
	if code, _ := adminGet(t, c.nodes[0].admin, "/admin/v1/cluster/rebalance/plan", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("plan with a wrong token: %d", code)
	}
	if out, code := c.clusterCLI(1, "rebalance", "pause"); code == 0 || !strings.Contains(out, "NoRebalance") {
		t.Fatalf("pause without a job: exit %d, %s", code, out)
	}

	plan := c.rebalancePlan(1)
	onNew := 0
	for _, d := range plan.Drives {
		if d.Node == joined.id {
			onNew++
		}
	}
	if plan.Moves == 0 || onNew == 0 {
		t.Fatalf("plan after the join: %d moves, %d drives of the new node: %+v", plan.Moves, onNew, plan)
	}
	out, code := c.clusterCLI(1, "rebalance", "--plan")
	if code != 0 || !strings.Contains(out, "shard moves") || !strings.Contains(out, joined.id) {
		t.Fatalf("rebalance --plan: exit %d\n%s", code, out)
	}
	t.Logf("vaultaire cluster rebalance --plan:\n%s", out)

	cliDone := make(chan string, 1)
	go func() {
		out, code := c.clusterCLI(2, "rebalance")
		cliDone <- fmt.Sprintf("%s\nexit %d", out, code)
	}()
	select {
	case out = <-cliDone:
	case <-time.After(100 * time.Second):
		t.Fatal("rebalance did not end in 100 s")
	}
	t.Logf("vaultaire cluster rebalance:\n%s", out)
	if !strings.HasSuffix(out, "exit 0") || !strings.Contains(out, "done") {
		t.Fatalf("rebalance CLI:\n%s", out)
	}
	close(stop)
	for w := 0; w < workers; w++ {
		<-done
	}
	t.Logf("load: %d ops, %d retried errors", l.okOps, l.retries)
	if len(l.errs) > 0 {
		t.Fatalf("failed client requests: %v", l.errs)
	}
	// Every drive within the tolerance of its share.
	after := c.rebalancePlan(0)
	for _, d := range after.Drives {
		if d.Target == 0 {
			continue
		}
		r := float64(d.Bytes) / float64(d.Target)
		if r > 1+after.Tolerance || r < 1-after.Tolerance {
			t.Errorf("drive %s/%s holds %d bytes, target %d (%.0f%%)", d.Node, d.Drive, d.Bytes, d.Target, 100*r)
		}
	}
	for _, i := range all {
		l.verify(t, i)
		for key, body := range pre {
			got, err := getObject(ctx, c.client(i), "load", key)
			if err != nil || string(got) != string(body) {
				t.Fatalf("%s via node %d after the rebalance: %v, %d bytes", key, i, err, len(got))
			}
		}
	}
}
