package node_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// TestRestoreTakeover: a restore committed as ongoing by a node that then
// died (no copy runs) is taken over by the leader once it has been
// ongoing longer than a copier can live, and completes: GET reads the
// restored copy. Until then, it stays ongoing and a new request is 409.
func TestRestoreTakeover(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "deep", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK", Archive: true}, "good"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	data := randBytes(41, 700<<10)
	put(t, e, "c", "k", data)
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "deep"); err != nil {
		t.Fatal(err)
	}
	// What a node that died right after committing the restore leaves.
	expiry := time.Now().Add(72 * time.Hour).UTC().Truncate(24 * time.Hour)
	if _, err := tn.Meta.StartRestore(ctx, tenant, "c", "k", "", expiry); err != nil {
		t.Fatal(err)
	}
	ref := node.VersionRef{Container: "c", Key: "k"}
	if n, err := e.ResumeRestores(ctx); n != 0 || err != nil {
		t.Fatalf("a young ongoing restore was taken over: %d %v", n, err)
	}
	if _, err := e.RestoreVersion(ctx, tenant, "c", "k", "", 1); !errors.Is(err, node.ErrRestoreInProgress) {
		t.Fatalf("restore while one is ongoing: %v", err)
	}
	tn.skew.Store(int64(node.DefaultTierIntentTimeout + 2*time.Minute))
	if n, err := e.ResumeRestores(ctx); n != 1 || err != nil {
		t.Fatalf("takeover: %d %v", n, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := e.HeadArtifact(ctx, tenant, ref)
		if err != nil {
			t.Fatal(err)
		}
		if !info.RestoreOngoing && !info.RestoreExpiry.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restore still ongoing after the takeover: %+v", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("the restored copy reads back other bytes")
	}
	if n, err := e.ResumeRestores(ctx); n != 0 || err != nil {
		t.Fatalf("a completed restore was taken over again: %d %v", n, err)
	}
}
