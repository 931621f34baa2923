package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/admin"
)

// The previous release, the one a rolling upgrade starts from. The commit
// is what the test builds (a CI checkout may have no tags); the tag is
// only its name.
const (
	previousRelease       = "v0.1.0"
	previousReleaseCommit = "b5755f364fe0a40b11523a1eaa7db4ea757739ee"
)

// buildPreviousRelease builds previousRelease from a git worktree of its
// commit, fetching the commit when the clone lacks it (a shallow CI
// checkout). It fails, never skips: the upgrade path is what it tests.
func buildPreviousRelease(t *testing.T) string {
	t.Helper()
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if _, err := git("cat-file", "-e", previousReleaseCommit+"^{commit}"); err != nil {
		if out, err := git("fetch", "--no-tags", "origin", previousReleaseCommit); err != nil {
			t.Fatalf("commit %s of %s is not in this clone and cannot be fetched (fetch it, or unshallow the clone): %v\n%s",
				previousReleaseCommit, previousRelease, err, out)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if out, err := git("worktree", "add", "--detach", src, previousReleaseCommit); err != nil {
		t.Fatalf("git worktree add %s: %v\n%s", previousReleaseCommit, err, out)
	}
	t.Cleanup(func() {
		git("worktree", "remove", "--force", src)
		git("worktree", "prune")
	})
	bin := filepath.Join(dir, "vaultaire-"+previousRelease)
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+previousRelease, "-o", bin, "./cmd/vaultaire")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", previousRelease, err, out)
	}
	return bin
}

func upgradeStatus(t *testing.T, p *clusterProc) admin.UpgradeStatus {
	t.Helper()
	code, body := adminGet(t, p.admin, "/admin/v1/cluster/upgrade", clusterAdminToken)
	var st admin.UpgradeStatus
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("upgrade status from %s: %d %s", p.id, code, body)
	}
	return st
}

// TestRollingUpgradeFromPreviousRelease: three nodes of the previous
// release under a mixed load through every node have their binaries
// replaced one at a time by this tree's. No acknowledged write is lost,
// clients see nothing worse than retried errors, old nodes keep running
// next to new ones (a new leader never makes an old follower fail), the
// new release's features are refused until the upgrade is finalized,
// the cluster finalizes by itself once every node runs the new binary,
// and versioning works afterwards.
func TestRollingUpgradeFromPreviousRelease(t *testing.T) {
	old := buildPreviousRelease(t)
	c := &testCluster{t: t, bin: old}
	for i := 0; i < 3; i++ {
		c.addNode()
	}
	c.waitMembers(3)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("upgrade")}); err != nil {
		t.Fatal(err)
	}
	l := newLoad(c, "upgrade", 0, 1, 2)
	stop, done := make(chan struct{}), make(chan struct{})
	const workers = 3
	for w := 0; w < workers; w++ {
		go func(w int) { defer func() { done <- struct{}{} }(); l.run(ctx, w, stop) }(w)
	}
	stopLoad := func() {
		if stop != nil {
			close(stop)
			for w := 0; w < workers; w++ {
				<-done
			}
			stop = nil
		}
	}
	defer stopLoad()
	time.Sleep(2 * time.Second)

	// A follower first, then the leader (its leadership goes to a node,
	// the new one when it is the most up to date), then the last one; if
	// the last old node leads after the second step, it is restarted on
	// its old binary, so a new node leads it: the mixed cluster always has
	// a new leader over an old follower for a while.
	lead := c.leader()
	var order []int
	for i := range c.nodes {
		if i != lead {
			order = append(order, i)
		}
	}
	order = []int{order[0], lead, order[1]}
	newLeaderOverOld := false
	for step, i := range order {
		p := c.nodes[i]
		p.current().stop(t)
		p.bin = "" // this tree's binary
		c.restart(i)
		c.waitMembers(3)
		time.Sleep(2 * time.Second) // the load runs through the mixed cluster
		for j, q := range c.nodes {
			if !q.current().alive() {
				t.Fatalf("after upgrading node %d, node %d (binary %q) exited:\n%s", i, j, q.bin, q.current().stderr.String())
			}
		}
		if step == len(order)-1 {
			break
		}
		// Mixed: not finalized, the old node named, new features refused.
		st := upgradeStatus(t, p)
		if st.Finalized || st.ClusterVersion != 1 || !strings.Contains(strings.Join(st.Blockers, ";"), "supports cluster version 1") {
			t.Fatalf("mixed cluster, upgrade status: %+v", st)
		}
		var out, errb bytes.Buffer
		rc := run(ctx, []string{"cluster", "--endpoint", p.admin, "--token", clusterAdminToken, "upgrade", "finalize"}, &out, &errb)
		if rc != 1 || !strings.Contains(errb.String(), "UpgradeBlocked") {
			t.Fatalf("finalize in a mixed cluster: rc %d %s%s", rc, out.String(), errb.String())
		}
		_, err := c.client(i).PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("upgrade"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		if err == nil {
			t.Fatal("versioning enabled before the upgrade was finalized")
		}
		if step == 1 {
			if li := c.leader(); li >= 0 && c.nodes[li].bin != "" {
				c.nodes[li].current().stop(t)
				c.restart(li) // the old binary again
				c.waitMembers(3)
			}
			li := c.leader()
			if li < 0 || c.nodes[li].bin != "" {
				t.Fatalf("no new leader over the old node: leader %d", li)
			}
			newLeaderOverOld = true
			time.Sleep(2 * time.Second) // load through a new leader and an old follower
			if last := order[2]; !c.nodes[last].current().alive() {
				t.Fatalf("the old follower under a new leader exited:\n%s", c.nodes[last].current().stderr.String())
			}
		}
	}
	// Every node runs this tree: the leader finalizes by itself.
	var st admin.UpgradeStatus
	deadline := time.Now().Add(60 * time.Second)
	for {
		st = upgradeStatus(t, c.nodes[0])
		if st.Finalized && st.ClusterVersion == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not finalized automatically: %+v", st)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, n := range st.Nodes {
		if n.Supports != 2 || n.Version != version || n.State != "alive" {
			t.Fatalf("after the upgrade: %+v", st.Nodes)
		}
	}
	var out, errb bytes.Buffer
	if rc := run(ctx, []string{"cluster", "--endpoint", c.nodes[1].admin, "--token", clusterAdminToken, "upgrade", "status"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "cluster version: 2   upgrade: finalized") {
		t.Fatalf("upgrade status CLI: rc %d\n%s%s", rc, out.String(), errb.String())
	}
	stopLoad()
	if len(l.errs) > 0 {
		t.Fatalf("non-retryable errors during the upgrade: %v", l.errs)
	}
	for i := range c.nodes {
		l.verify(t, i)
	}
	// A feature of the new cluster version.
	if _, err := c.client(2).PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("upgrade"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatalf("versioning after the upgrade: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := putObject(ctx, c.client(i), "upgrade", "versioned", payload(3000, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	lv, err := c.client(0).ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String("upgrade"), Prefix: aws.String("versioned")})
	if err != nil || len(lv.Versions) != 2 {
		t.Fatalf("versions after the upgrade: %v, %d", err, len(lv.Versions))
	}
	t.Logf("load: %d ops, %d retried errors, %d artifacts; a new leader led an old follower: %v", l.okOps, l.retries, len(l.acked), newLeaderOverOld)
}
