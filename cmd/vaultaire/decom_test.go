package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/node"
)

// decomStatus reads a node's decommission through node i's admin API.
func (c *testCluster) decomStatus(i int, id string) (node.DecomStatus, int) {
	c.t.Helper()
	code, body := adminGet(c.t, c.nodes[i].admin, "/admin/v1/cluster/nodes/"+id+"/decommission", clusterAdminToken)
	var st node.DecomStatus
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			c.t.Fatal(err)
		}
	}
	return st, code
}

// shardFilesUnder counts the shard files under a node's drives.
func shardFilesUnder(t *testing.T, dir string) int {
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "drives"), func(path string, d fs.DirEntry, err error) error {
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
	return n
}

// TestDecommissionUnderLoad: 4 real nodes under a mixed load through
// every node; the metadata leader is decommissioned (so leadership must
// move off it) with `vaultaire cluster decommission`, which follows the
// job to its end. The node gets no new shards, every shard it held moves
// to the others, it stops by itself and leaves the Raft group; clients
// of the nodes that stay see no error beyond retried ones, and every
// acknowledged artifact reads back byte-identical through each of them.
func TestDecommissionUnderLoad(t *testing.T) {
	c := startCluster(t, 4)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("load")}); err != nil {
		t.Fatal(err)
	}
	victim := c.leader()
	id := c.nodes[victim].id
	var stay []int
	for i := range c.nodes {
		if i != victim {
			stay = append(stay, i)
		}
	}
	via := stay[0]
	// Two loads: one through the nodes that stay, for the whole test;
	// one through the leaving node, stopped once it is told to stop (a
	// client then talks to the others).
	l := newLoad(c, "load", stay...)
	lv := newLoad(c, "load", victim)
	stop, stopV := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	const workers = 3
	for w := 0; w < workers; w++ {
		go func(w int) { defer func() { done <- struct{}{} }(); l.run(ctx, w, stop) }(w)
	}
	go func() { defer func() { done <- struct{}{} }(); lv.run(ctx, 10, stopV) }()
	time.Sleep(4 * time.Second) // data on every node
	before := shardFilesUnder(t, c.nodes[victim].dir)
	if before == 0 {
		t.Fatal("the node to decommission holds no shard")
	}

	// Refusals first: an unknown node, a bad throttle, no token.
	if out, code := c.clusterCLI(via, "decommission", "node-nobody"); code == 0 || !strings.Contains(out, "NoSuchNode") {
		t.Fatalf("decommission of an unknown node: exit %d, %s", code, out)
	}
	if out, code := c.clusterCLI(via, "decommission", id, "--throttle", "fast"); code != 2 {
		t.Fatalf("bad --throttle: exit %d, %s", code, out)
	}
	for _, path := range []string{"/decommission?throttle=-5", "/decommission?throttle=x"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+c.nodes[via].admin+"/admin/v1/cluster/nodes/"+id+path, nil)
		req.Header.Set("Authorization", "Bearer "+clusterAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("POST %s: %d, want 400", path, resp.StatusCode)
		}
	}
	if code, _ := adminGet(t, c.nodes[via].admin, "/admin/v1/cluster/decommissions", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("decommissions with a wrong token: %d", code)
	}

	cliOut := make(chan string, 1)
	go func() {
		out, code := c.clusterCLI(via, "decommission", id)
		if code != 0 {
			out += "\nexit code " + string(rune('0'+code))
		}
		cliOut <- out
	}()
	// Wait for the node to be told to stop, then stop its clients.
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, code := c.decomStatus(via, id)
		if code == http.StatusOK && st.Progress != nil && (st.Progress.Phase == node.DecomDone || st.Progress.Phase == node.DecomRemoved) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("decommission not done after 90 s: %+v\n%s", st, c.nodes[victim].output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stopV)
	var out string
	select {
	case out = <-cliOut:
	case <-time.After(90 * time.Second):
		t.Fatal("the CLI did not return after the node was removed")
	}
	t.Logf("vaultaire cluster decommission %s:\n%s", id, out)
	if !strings.Contains(out, "removed") || !strings.Contains(out, "shards") || strings.Contains(out, "exit code") {
		t.Fatalf("CLI output lacks the progress or the end:\n%s", out)
	}
	// The node stopped by itself.
	select {
	case <-c.nodes[victim].done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the decommissioned node still runs:\n%s", c.nodes[victim].output())
	}
	time.Sleep(2 * time.Second) // load on the three that stay, after the removal
	close(stop)
	for w := 0; w < workers+1; w++ {
		<-done
	}
	st, _ := c.decomStatus(via, id)
	t.Logf("job: %+v", *st.Progress)
	if st.Progress.Moved == 0 || st.Progress.Failed != 0 {
		t.Fatalf("job progress: %+v", *st.Progress)
	}
	t.Logf("load through the nodes that stay: %d ops, %d retried errors; through the leaving node: %d ops, %d retried errors",
		l.okOps, l.retries, lv.okOps, lv.retries)
	if len(l.errs) > 0 || len(lv.errs) > 0 {
		t.Fatalf("failed client requests: %v %v", l.errs, lv.errs)
	}
	// It left the metadata group (a follower learns the new
	// configuration from the log: wait for it); the others lead.
	for _, i := range stay {
		deadline := time.Now().Add(20 * time.Second)
		for {
			s, err := c.status(i)
			if err != nil {
				t.Fatal(err)
			}
			role := "none"
			for _, m := range s.Nodes {
				if m.ID == id {
					role = m.RaftRole
				}
			}
			if s.Leader != id && s.Leader != "" && role == "none" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: leader %q, the decommissioned node's Raft role %q", i, s.Leader, role)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if after := shardFilesUnder(t, c.nodes[victim].dir); after != 0 {
		t.Logf("%d of %d shard files left on the decommissioned node's drives (blobs deleted meanwhile, collected by their writer)", after, before)
	}
	for k, seed := range lv.acked {
		l.acked[k] = seed
	}
	for k := range lv.deleted {
		delete(l.acked, k)
		l.deleted[k] = true
	}
	for _, i := range stay {
		l.verify(t, i)
	}
}
