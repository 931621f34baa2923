package node_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// TestUploadExpiry: unfinished multipart uploads older than the expiry
// are aborted, incrementally, releasing their parts' quota and shards;
// young ones and completed artifacts are untouched. The clock is moved,
// not waited for.
func TestUploadExpiry(t *testing.T) {
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1, GCDelay: time.Millisecond, MinPartSize: 1, Now: clock})
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "c")
	mustContainer(t, e, "d")
	part := randBytes(7, 64<<10)
	upload := func(container, key string) string {
		up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: container, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.UploadPart(ctx, tenant, node.PartInput{Container: container, Key: key, UploadID: up.UploadID, Number: 1, Body: bytes.NewReader(part), Size: int64(len(part))}); err != nil {
			t.Fatal(err)
		}
		return up.UploadID
	}
	var old []string
	for _, k := range []string{"a", "b", "c"} {
		old = append(old, upload("c", k))
	}
	old = append(old, upload("d", "x"))
	if u, _ := e.TenantUsage(ctx, tenant); u.UploadBytes != 4*int64(len(part)) {
		t.Fatalf("upload bytes before: %d", u.UploadBytes)
	}
	before := shardFiles(t, n)

	// Six days later nothing is due.
	skew.Store(int64(6 * 24 * time.Hour))
	for range 3 {
		if k, err := e.ExpireUploads(ctx, 2); err != nil || k != 0 {
			t.Fatalf("after 6 days: aborted %d, %v", k, err)
		}
	}
	// Eight days later all four are past the 7-day default. Batches of 2:
	// the walk resumes where it stopped.
	skew.Store(int64(8 * 24 * time.Hour))
	total := 0
	for range 4 {
		k, err := e.ExpireUploads(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		total += k
	}
	if total != 4 {
		t.Fatalf("aborted %d uploads, want the 4 old ones", total)
	}
	for i, id := range old {
		key, container := []string{"a", "b", "c", "x"}[i], []string{"c", "c", "c", "d"}[i]
		if _, err := e.ListParts(ctx, tenant, container, key, id, 0, 10); !errors.Is(err, node.ErrUploadNotFound) {
			t.Fatalf("expired upload %s/%s: %v", container, key, err)
		}
	}
	if u, _ := e.TenantUsage(ctx, tenant); u.UploadBytes != 0 {
		t.Fatalf("upload bytes after: %d, want 0", u.UploadBytes)
	}
	// The expired parts' shards go after the GC delay.
	deadline := time.Now().Add(10 * time.Second)
	for shardFiles(t, n) != before-4*4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d shard files left, want %d", shardFiles(t, n), before-4*4)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e.Stats().UploadsExpired != 4 {
		t.Fatalf("UploadsExpired = %d", e.Stats().UploadsExpired)
	}
}
