package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

func readShard(t *testing.T, d drivers.Driver, name string) []byte {
	t.Helper()
	r, err := d.Open(context.Background(), name, 0, -1)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shardPath is a shard's name as node/put.go writes it.
func shardPath(b metastore.Blob, i int) string {
	return fmt.Sprintf("blobs/%s/%s/%d", b.ID[:2], b.ID, i)
}

func firstShardOn(t *testing.T, b metastore.Blob, n string) int {
	t.Helper()
	for i, s := range b.Shards {
		if s.Node == n {
			return i
		}
	}
	t.Fatalf("blob %s has no shard on %s", b.ID, n)
	return -1
}

func readArtifact(t *testing.T, n *nodetest.Node, key string) []byte {
	t.Helper()
	return read(t, n.Engine, "c", key, 0, -1)
}

// TestMoveShard: a shard moves by copy (checksums verified) or, when its
// copy is bad, by rebuild; the placement follows through Raft, the old
// copy goes, the new one is byte-identical; a move whose shard moved
// meanwhile changes nothing and leaves no copy behind.
func TestMoveShard(t *testing.T) {
	ctx := context.Background()
	n, p, _, bodies := relocationCluster(t, 3)
	e := n.Engine
	p.add("node-d")
	driveD := func(i int) node.Drive {
		id := fmt.Sprintf("node-d-d%d", i)
		d, ok := p.Driver("node-d", id)
		if !ok {
			t.Fatalf("no drive %s", id)
		}
		return node.Drive{ID: id, Node: "node-d", Driver: d}
	}
	size := func(key string) int64 { return int64(len(bodies[key])) }

	t.Run("copy", func(t *testing.T) {
		b := placement(t, n, "k0")
		i := firstShardOn(t, b, "node-c")
		src, _ := p.Driver(b.Shards[i].Node, b.Shards[i].Drive)
		want := readShard(t, src, shardPath(b, i))
		nb, rebuilt, err := e.MoveShard(ctx, b, size("k0"), i, driveD(0), 1<<30)
		if err != nil || rebuilt || nb != int64(len(want)) {
			t.Fatalf("move: %d bytes, rebuilt %v, %v", nb, rebuilt, err)
		}
		if got := placement(t, n, "k0").Shards[i]; got != (metastore.ShardLoc{Node: "node-d", Drive: "node-d-d0"}) {
			t.Fatalf("placement after the move: %+v", got)
		}
		if _, err := src.Stat(ctx, shardPath(b, i)); !errors.Is(err, drivers.ErrNotFound) {
			t.Fatalf("old copy still there: %v", err)
		}
		if got := readShard(t, driveD(0).Driver, shardPath(b, i)); !bytes.Equal(got, want) {
			t.Fatal("moved shard differs from the original")
		}
		if !bytes.Equal(readArtifact(t, n, "k0"), bodies["k0"]) {
			t.Fatal("artifact differs after the move")
		}
		// The same move again, from the placement read before it: the
		// shard is no longer on its source; nothing changes and the
		// copy written on the new target is dropped.
		_, _, err = e.MoveShard(ctx, b, size("k0"), i, driveD(1), 0)
		if !errors.Is(err, node.ErrMoveMoot) {
			t.Fatalf("stale move: %v, want ErrMoveMoot", err)
		}
		if _, err := driveD(1).Driver.Stat(ctx, shardPath(b, i)); !errors.Is(err, drivers.ErrNotFound) {
			t.Fatalf("a moot move left its copy: %v", err)
		}
		if got := placement(t, n, "k0").Shards[i]; got.Node != "node-d" || got.Drive != "node-d-d0" {
			t.Fatalf("a moot move changed the placement: %+v", got)
		}
	})

	t.Run("corrupt source is rebuilt", func(t *testing.T) {
		b := placement(t, n, "k1")
		i := firstShardOn(t, b, "node-b")
		src, _ := p.Driver(b.Shards[i].Node, b.Shards[i].Drive)
		want := readShard(t, src, shardPath(b, i))
		bad := bytes.Clone(want)
		bad[len(bad)/2] ^= 0xff
		if _, err := src.Put(ctx, shardPath(b, i), bytes.NewReader(bad)); err != nil {
			t.Fatal(err)
		}
		_, rebuilt, err := e.MoveShard(ctx, b, size("k1"), i, driveD(2), 0)
		if err != nil || !rebuilt {
			t.Fatalf("move of a corrupt shard: rebuilt %v, %v", rebuilt, err)
		}
		if got := readShard(t, driveD(2).Driver, shardPath(b, i)); !bytes.Equal(got, want) {
			t.Fatal("rebuilt shard differs from the original")
		}
		if !bytes.Equal(readArtifact(t, n, "k1"), bodies["k1"]) {
			t.Fatal("artifact differs after the move")
		}
	})

	t.Run("unreachable source is rebuilt", func(t *testing.T) {
		b := placement(t, n, "k2")
		i := firstShardOn(t, b, "node-c")
		src, _ := p.Driver(b.Shards[i].Node, b.Shards[i].Drive)
		want := readShard(t, src, shardPath(b, i))
		if err := src.Delete(ctx, shardPath(b, i)); err != nil {
			t.Fatal(err)
		}
		_, rebuilt, err := e.MoveShard(ctx, b, size("k2"), i, driveD(3), 0)
		if err != nil || !rebuilt {
			t.Fatalf("move of a missing shard: rebuilt %v, %v", rebuilt, err)
		}
		if got := readShard(t, driveD(3).Driver, shardPath(b, i)); !bytes.Equal(got, want) {
			t.Fatal("rebuilt shard differs from the original")
		}
	})
}

// TestSweepRemovesMisplacedShards: a shard file of a live blob that no
// placement names (a move that crashed between its copy and its commit)
// is removed by the orphan sweep; the placed shards stay.
func TestSweepRemovesMisplacedShards(t *testing.T) {
	ctx := context.Background()
	n, _, _, bodies := relocationCluster(t, 1)
	e := n.Engine
	b := placement(t, n, "k0")
	// A local shard index i, and a local drive that holds another
	// index of the blob but not i: the crashed move's target.
	var i = -1
	var target drivers.Driver
	for j, s := range b.Shards {
		if i >= 0 {
			break
		}
		for _, d := range n.Drives {
			if s.Drive != d.ID() && d.ID() != "" && onLocal(b, d.ID()) {
				if _, err := d.Stat(ctx, shardPath(b, j)); errors.Is(err, drivers.ErrNotFound) {
					i, target = j, d
					break
				}
			}
		}
	}
	if i < 0 {
		t.Fatal("no local drive without some shard of the blob")
	}
	name := shardPath(b, i)
	if _, err := target.Put(ctx, name, bytes.NewReader([]byte("a copy waiting for a commit that never came"))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Sweep(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := target.Stat(ctx, name); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("misplaced shard survived the sweep: %v", err)
	}
	if e.MisplacedSwept() != 1 {
		t.Fatalf("misplaced shards swept: %d, want 1", e.MisplacedSwept())
	}
	if !bytes.Equal(readArtifact(t, n, "k0"), bodies["k0"]) {
		t.Fatal("artifact differs after the sweep")
	}
	for j, s := range placement(t, n, "k0").Shards {
		for _, d := range n.Drives {
			if d.ID() == s.Drive {
				if _, err := d.Stat(ctx, shardPath(b, j)); err != nil {
					t.Fatalf("placed shard %d gone: %v", j, err)
				}
			}
		}
	}
}

func onLocal(b metastore.Blob, drive string) bool {
	for _, s := range b.Shards {
		if s.Drive == drive {
			return true
		}
	}
	return false
}
