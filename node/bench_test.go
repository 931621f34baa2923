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
	"time"

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
				if err := n.Engine.CreateContainer(ctx, node.RootTenant, node.CreateContainerInput{Name: "b"}); err != nil {
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
	n.Engine.CreateContainer(ctx, node.RootTenant, node.CreateContainerInput{Name: "b"})
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
				r, err := n.Engine.OpenArtifact(ctx, node.RootTenant, node.VersionRef{Container: "b", Key: "g"})
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

// BenchmarkVersionedPut compares PUTs to a versioned bucket with PUTs to
// an unversioned one in the same run: each iteration overwrites a small
// key space in both buckets in alternation, and the ratio of their
// throughputs is the figure (the goal: >= 0.9x). Run: go test
// -run '^$' -bench VersionedPut ./node
func BenchmarkVersionedPut(b *testing.B) {
	for _, size := range []int{4 << 10, 16 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			n := nodetest.StartNode(b, nodetest.Options{})
			ctx := context.Background()
			for _, c := range []string{"plain", "versioned"} {
				if err := n.Engine.CreateContainer(ctx, node.RootTenant, node.CreateContainerInput{Name: c}); err != nil {
					b.Fatal(err)
				}
			}
			if err := n.Engine.SetVersioning(ctx, node.RootTenant, "versioned", node.VersioningEnabled); err != nil {
				b.Fatal(err)
			}
			data := randBytes(3, size)
			batch := 32
			if size > 1<<20 {
				batch = 2
			}
			var took [2]time.Duration
			put := func(c string, i int) {
				k := fmt.Sprintf("k%d", i%16)
				if _, err := n.Engine.PutArtifact(ctx, node.RootTenant, node.PutInput{Container: c, Key: k, Body: bytes.NewReader(data), Size: int64(size)}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(2 * batch * size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j, c := range []string{"plain", "versioned"} {
					if i%2 == 1 {
						j = 1 - j // alternate which goes first
						c = []string{"plain", "versioned"}[j]
					}
					start := time.Now()
					for k := 0; k < batch; k++ {
						put(c, i*batch+k)
					}
					took[j] += time.Since(start)
				}
			}
			b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "versioned/plain")
		})
	}
}
