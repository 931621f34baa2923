package node_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

func TestStatsCount(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1, GCDelay: time.Millisecond})
	e := n.Engine
	mustContainer(t, e, "c")
	const blobs = 3
	for i := 0; i < blobs; i++ {
		put(t, e, "c", fmt.Sprintf("k%d", i), randBytes(uint64(i), 100<<10))
	}
	if s := e.Stats(); s.Encodes != blobs || s.Decodes != 0 {
		t.Fatalf("after %d puts: %+v", blobs, s)
	}
	// Remove shard 0 (a data shard) of every blob: reads find them bad.
	filepath.WalkDir(filepath.Join(n.Dir, "drives"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/blobs/") && filepath.Base(path) == "0" {
			os.Remove(path)
		}
		return nil
	})
	for i := 0; i < blobs; i++ {
		read(t, e, "c", fmt.Sprintf("k%d", i), 0, -1)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.Stats().Healed < blobs {
		if time.Now().After(deadline) {
			t.Fatalf("not healed: %+v", e.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := e.Stats()
	if s.Decodes != blobs || s.ShardsBad != blobs || s.HealFailed != 0 {
		t.Fatalf("after reads and healing: %+v", s)
	}
	if h, f, d := e.HealStats(); h != s.Healed || f != s.HealFailed || d != s.HealDropped {
		t.Fatalf("HealStats %d %d %d disagrees with Stats %+v", h, f, d, s)
	}
	rep, err := e.Scrub(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.ScrubVerified != int64(rep.Verified) || s.ScrubBad != int64(rep.Bad) || rep.Verified == 0 {
		t.Fatalf("scrub %+v, stats %+v", rep, s)
	}
	if _, err := e.DeleteArtifact(context.Background(), tenant, node.DeleteInput{Container: "c", Key: "k0"}); err != nil {
		t.Fatal(err)
	}
	for e.Stats().BlobsCollected < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("deleted blob not collected: %+v", e.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
