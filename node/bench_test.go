package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// BenchmarkPutSmall compares the inline path with the shard path for small
// artifacts (the inline threshold is chosen from these figures; see
// docs/design.md). Run: go test -run '^$' -bench PutSmall ./node
func BenchmarkPutSmall(b *testing.B) {
	for _, size := range []int{4 << 10, 16 << 10, 64 << 10} {
		for _, mode := range []string{"inline", "shards"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, mode), func(b *testing.B) {
				opts := nodetest.Options{InlineThreshold: 1 << 20}
				if mode == "shards" {
					opts.InlineThreshold = -1
				}
				n := nodetest.StartNode(b, opts)
				ctx := context.Background()
				if err := n.Engine.CreateContainer(ctx, node.RootTenant, "b"); err != nil {
					b.Fatal(err)
				}
				data := randBytes(1, size)
				var seq atomic.Int64
				b.SetBytes(int64(size))
				b.SetParallelism(8) // 8 x GOMAXPROCS concurrent writers
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						k := fmt.Sprintf("k%d", seq.Add(1))
						if _, err := n.Engine.PutArtifact(ctx, node.RootTenant, node.PutInput{Container: "b", Key: k, Body: bytes.NewReader(data), Size: int64(size)}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	}
}

// BenchmarkPutGetLarge measures the engine's 16 MiB PUT and GET at
// concurrency 4 next to the raw disk: the same bytes written with
// write+fsync to plain files on the same filesystem, in the same run.
func BenchmarkPutGetLarge(b *testing.B) {
	const size = 16 << 20
	data := randBytes(9, size)
	b.Run("raw-disk-write", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(size)
		var seq atomic.Int64
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p := filepath.Join(dir, fmt.Sprint(seq.Add(1)))
				f, err := os.Create(p)
				if err != nil {
					b.Error(err)
					return
				}
				f.Write(data)
				f.Sync()
				f.Close()
				os.Remove(p)
			}
		})
	})
	n := nodetest.StartNode(b, nodetest.Options{})
	ctx := context.Background()
	n.Engine.CreateContainer(ctx, node.RootTenant, "b")
	b.Run("put", func(b *testing.B) {
		b.SetBytes(size)
		var seq atomic.Int64
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := fmt.Sprintf("k%d", seq.Add(1)%8)
				if _, err := n.Engine.PutArtifact(ctx, node.RootTenant, node.PutInput{Container: "b", Key: k, Body: bytes.NewReader(data), Size: size}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("get", func(b *testing.B) {
		if _, err := n.Engine.PutArtifact(ctx, node.RootTenant, node.PutInput{Container: "b", Key: "g", Body: bytes.NewReader(data), Size: size}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, err := n.Engine.OpenArtifact(ctx, node.RootTenant, "b", "g")
				if err == nil {
					err = r.WriteRange(ctx, io.Discard, 0, size)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
