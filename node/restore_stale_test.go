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

// TestAbandonedRestoreIsCleared: a restore whose copying node died (started
// in the metastore, never copied) refuses new requests only until the
// leader has seen it ongoing longer than a copy can take; then it is
// cleared, a new request restores the version, and a finished restore is
// never cleared.
func TestAbandonedRestoreIsCleared(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "deep", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK", Archive: true}, "good"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	data := randBytes(11, 300<<10+5)
	put(t, e, "c", "k", data)
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "deep"); err != nil {
		t.Fatal(err)
	}
	a, err := tn.Meta.GetLatest(ctx, tenant, "c", "k")
	if err != nil {
		t.Fatal(err)
	}
	// The copier dies right after starting: nothing copies.
	if _, err := tn.Meta.StartRestore(ctx, tenant, "c", "k", a.VersionID, time.Now().Add(48*time.Hour).Truncate(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RestoreVersion(ctx, tenant, "c", "k", "", 1); !errors.Is(err, node.ErrRestoreInProgress) {
		t.Fatalf("restore while one is recorded as running: %v", err)
	}
	for i := 0; i < 2; i++ {
		if n, err := e.AbandonStaleRestores(ctx); n != 0 || err != nil {
			t.Fatalf("cleared %d restores as soon as they were seen (%v)", n, err)
		}
	}
	ref := node.VersionRef{Container: "c", Key: "k"}
	if h, err := e.HeadArtifact(ctx, tenant, ref); err != nil || !h.RestoreOngoing {
		t.Fatalf("HEAD before the grace: %+v %v", h, err)
	}
	// Longer than TierIntentTimeout (1 h) plus the journal interval.
	tn.skew.Store(int64(2 * time.Hour))
	if n, err := e.AbandonStaleRestores(ctx); n != 1 || err != nil {
		t.Fatalf("cleared %d abandoned restores, want 1 (%v)", n, err)
	}
	if h, err := e.HeadArtifact(ctx, tenant, ref); err != nil || h.RestoreOngoing || !h.RestoreExpiry.IsZero() {
		t.Fatalf("HEAD after the clear: %+v %v", h, err)
	}
	if _, err := e.OpenArtifact(ctx, tenant, ref); !errors.Is(err, node.ErrInvalidObjectState) {
		t.Fatalf("GET of an archived version whose restore was abandoned: %v", err)
	}
	// A new request restores it.
	if res, err := e.RestoreVersion(ctx, tenant, "c", "k", "", 1); err != nil || res.Already {
		t.Fatalf("restore after the clear: %+v %v", res, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for h, _ := e.HeadArtifact(ctx, tenant, ref); h.RestoreOngoing; h, _ = e.HeadArtifact(ctx, tenant, ref) {
		if time.Now().After(deadline) {
			t.Fatal("the new restore did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("the restored copy reads back other bytes")
	}
	// A finished restore stays, however long it is looked at.
	for _, skew := range []time.Duration{3 * time.Hour, 6 * time.Hour} {
		tn.skew.Store(int64(skew))
		if n, err := e.AbandonStaleRestores(ctx); n != 0 || err != nil {
			t.Fatalf("cleared %d finished restores (%v)", n, err)
		}
	}
	if h, err := e.HeadArtifact(ctx, tenant, ref); err != nil || h.RestoreOngoing || h.RestoreExpiry.IsZero() {
		t.Fatalf("HEAD of the finished restore: %+v %v", h, err)
	}
}
