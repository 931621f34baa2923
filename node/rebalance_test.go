package node_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// TestRebalanceAfterJoin: three nodes hold every blob evenly; a fourth
// joins with empty drives of the same capacity. The plan (tolerance 25%:
// a dozen blobs of random sizes are coarse grains) moves shards
// onto it until every drive is within the tolerance of its share, never
// two shards of a blob on one drive nor more than m on one node; applied
// by the leader's job, a new plan is empty and every artifact reads back
// identical.
func TestRebalanceAfterJoin(t *testing.T) {
	ctx := context.Background()
	n, p, _, bodies := relocationCluster(t, 12)
	e := n.Engine
	u, err := n.Drives[0].Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.total = u.Total
	p.mu.Unlock()
	if plan, err := e.PlanRebalance(ctx, 0); err != nil || plan.Moves != 0 || !plan.Balanced {
		t.Fatalf("plan of a balanced cluster: %d moves, balanced %v, %v", plan.Moves, plan.Balanced, err)
	}
	p.add("node-d")
	plan, err := e.PlanRebalance(ctx, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Moves == 0 || !plan.Balanced || len(plan.Drives) != 16 {
		t.Fatalf("plan after the join: %d moves, balanced %v, %d drives", plan.Moves, plan.Balanced, len(plan.Drives))
	}
	for _, m := range plan.Sample {
		if m.To.Node != "node-d" {
			t.Fatalf("a planned move goes to %s, not to the new node", m.To.Node)
		}
	}
	if _, err := e.StartRebalance(ctx, -1, 0.25); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := e.RebalanceStatus(ctx)
		if err == nil && st.Request == nil && st.Progress != nil && st.Progress.Phase == node.RebalanceDone {
			if st.Progress.Moved < int64(plan.Moves)*9/10 || st.Progress.Failed != 0 {
				t.Fatalf("rebalance progress: %+v (plan %d moves)", *st.Progress, plan.Moves)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rebalance not done: %+v, %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	after, err := e.PlanRebalance(ctx, 0.25)
	if err != nil || after.Moves != 0 || !after.Balanced {
		t.Fatalf("plan after the rebalance: %d moves, balanced %v, %v", after.Moves, after.Balanced, err)
	}
	for key, body := range bodies {
		b := placement(t, n, key)
		perNode, perDrive := map[string]int{}, map[metastore.ShardLoc]int{}
		for _, s := range b.Shards {
			perNode[s.Node]++
			perDrive[s]++
		}
		for nd, c := range perNode {
			if c > b.M {
				t.Fatalf("%s: %d shards on %s", key, c, nd)
			}
		}
		for d, c := range perDrive {
			if c > 1 {
				t.Fatalf("%s: %d shards on drive %s", key, c, d.Drive)
			}
		}
		if !bytes.Equal(read(t, e, "c", key, 0, -1), body) {
			t.Fatalf("%s differs after the rebalance", key)
		}
	}
	// Nothing left to cancel.
	if err := e.CancelRebalance(ctx); err != node.ErrNoRebalance {
		t.Fatalf("cancel without a job: %v", err)
	}
}
