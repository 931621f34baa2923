package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

// TestDecommissionMovesEveryShard: a draining node gets no new shards;
// the leader's job moves every shard it holds to the nodes that stay
// (at most m per node), deletes the old copies, then tells it to stop
// and, once it is gone, records it removed. Every artifact reads back
// identical. (The Raft membership and the process side are covered by
// cmd/vaultaire's TestDecommission.)
func TestDecommissionMovesEveryShard(t *testing.T) {
	ctx := context.Background()
	n, p, _, bodies := relocationCluster(t, 6)
	p.add("node-d")
	e := n.Engine
	// StartDecommission checks Raft membership, which this one-member
	// metadata group cannot show for node-c: write the request as it
	// would.
	req, _ := json.Marshal(node.DecomRequest{Node: "node-c", State: node.DecomDraining, Throttle: -1, Requested: time.Now()})
	if err := n.Meta.SetOpJob(ctx, "decom/node-c", req); err != nil {
		t.Fatal(err)
	}
	// New artifacts go elsewhere at once.
	fresh := randBytes(9, 700<<10)
	put(t, e, "c", "fresh", fresh)
	bodies["fresh"] = fresh
	if c := shardsOnNode(placement(t, n, "fresh"), "node-c"); c != 0 {
		t.Fatalf("a new artifact put %d shards on the draining node", c)
	}
	st := waitDecom(t, e, "node-c", node.DecomDone)
	if st.Progress.Moved == 0 || st.Progress.Failed != 0 || st.Progress.Remaining != 0 {
		t.Fatalf("progress at done: %+v", st.Progress)
	}
	for key, body := range bodies {
		b := placement(t, n, key)
		if c := shardsOnNode(b, "node-c"); c != 0 {
			t.Fatalf("%s still has %d shards on node-c", key, c)
		}
		per := map[string]int{}
		for _, s := range b.Shards {
			per[s.Node]++
		}
		for nd, c := range per {
			if c > b.M {
				t.Fatalf("%s: %d shards on %s, more than m=%d", key, c, nd, b.M)
			}
		}
		if !bytes.Equal(read(t, e, "c", key, 0, -1), body) {
			t.Fatalf("%s differs after the decommission", key)
		}
	}
	if c := p.shardsOn(t, "node-c"); c != 0 {
		t.Fatalf("%d shard files left on node-c", c)
	}
	// The node stops (here: leaves the peers); the job records it removed
	// and drops the request, so placement would take it again.
	p.kill("node-c")
	waitDecom(t, e, "node-c", node.DecomRemoved)
	// The request is dropped by the command after the one that records
	// "removed" (so a leader change between them still finishes the job).
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := e.DecommissionStatus(context.Background(), "node-c")
		if err == nil && st.Request == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request kept after removal: %+v, %v", st.Request, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDecommissionPauseResumeCancel: pause stops the moves and keeps the
// node out of placement, resume finishes, cancel forgets the job.
func TestDecommissionPauseResumeCancel(t *testing.T) {
	ctx := context.Background()
	n, p, _, _ := relocationCluster(t, 2)
	p.add("node-d")
	e := n.Engine
	if _, err := e.PauseDecommission(ctx, "node-c"); !errors.Is(err, node.ErrNoDecommission) {
		t.Fatalf("pause without a job: %v", err)
	}
	if _, err := e.StartDecommission(ctx, "node-x", 0); !errors.Is(err, node.ErrNotMember) {
		t.Fatalf("decommission of a stranger: %v", err)
	}
	req, _ := json.Marshal(node.DecomRequest{Node: "node-c", State: node.DecomPaused, Requested: time.Now()})
	if err := n.Meta.SetOpJob(ctx, "decom/node-c", req); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // two job-loop rounds: a paused job moves nothing
	st, err := e.DecommissionStatus(ctx, "node-c")
	if err != nil || st.Progress != nil {
		t.Fatalf("paused job: %+v, %v", st, err)
	}
	if _, err := e.ResumeDecommission(ctx, "node-c"); err != nil {
		t.Fatal(err)
	}
	waitDecom(t, e, "node-c", node.DecomDone)
	if err := e.CancelDecommission(ctx, "node-c"); err == nil {
		t.Fatal("cancel after the node was told to stop succeeded")
	}
	// A job cancelled before it ends is forgotten: placement takes the
	// node again.
	req, _ = json.Marshal(node.DecomRequest{Node: "node-b", State: node.DecomPaused, Requested: time.Now()})
	if err := n.Meta.SetOpJob(ctx, "decom/node-b", req); err != nil {
		t.Fatal(err)
	}
	if err := e.CancelDecommission(ctx, "node-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DecommissionStatus(ctx, "node-b"); !errors.Is(err, node.ErrNoDecommission) {
		t.Fatalf("status after cancel: %v", err)
	}
}

func waitDecom(t *testing.T, e *node.Engine, n, phase string) node.DecomStatus {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := e.DecommissionStatus(context.Background(), n)
		if err == nil && st.Progress != nil && st.Progress.Phase == phase {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("decommission of %s never reached %s: %+v, %v", n, phase, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
