package node_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/mem"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// TestTierRate: with TierRate set, a transition and a recall of a 2 MiB
// version take at least the time the token bucket allows (2 MiB less one
// burst of 256 KiB, at 1 MiB/s: 1.75 s each; unthrottled, both take
// milliseconds here), and move the bytes intact.
func TestTierRate(t *testing.T) {
	remote := mem.New()
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1, GCDelay: time.Millisecond, Tune: func(c *node.Config) {
		c.TierRate = 1 << 20
		c.TierOpener = func(metastore.Tier, string) (drivers.Driver, error) { return remote, nil }
	}})
	e := n.Engine
	ctx := context.Background()
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}, "s"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	data := randBytes(31, 2<<20)
	put(t, e, "c", "k", data)
	const least = 1750 * time.Millisecond
	start := time.Now()
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "cold"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < least {
		t.Fatalf("a throttled transition of 2 MiB at 1 MiB/s took %v", took)
	}
	start = time.Now()
	if rp, err := e.RecallTier(ctx, "cold", 0, nil); err != nil || rp.Done != 1 {
		t.Fatalf("recall: %+v %v", rp, err)
	}
	if took := time.Since(start); took < least {
		t.Fatalf("a throttled recall of 2 MiB at 1 MiB/s took %v", took)
	}
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("the recalled version differs")
	}
	// A cancelled move stops waiting for tokens.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := e.TransitionVersion(cctx, tenant, "c", "k", "", "cold"); err == nil {
		t.Fatal("a transition cancelled while throttled succeeded")
	}
	if info, err := e.HeadArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "k"}); err != nil || info.Tier != "" {
		t.Fatalf("after the cancelled transition: %+v %v", info.Tier, err)
	}
}
