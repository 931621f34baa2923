package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// moveBench is a node of 8 local drives holding 2+2 blobs of 4 MiB: each
// blob uses 4 drives, so every shard has 4 drives it may move to.
type moveBench struct {
	n     *nodetest.Node
	keys  []string
	size  int64
	next  int
	local []node.Drive
}

func newMoveBench(b *testing.B, blobs int) *moveBench {
	b.Helper()
	n := nodetest.StartNode(b, nodetest.Options{Drives: 8, InlineThreshold: -1})
	ctx := context.Background()
	if err := n.Engine.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "c"}); err != nil {
		b.Fatal(err)
	}
	mb := &moveBench{n: n, size: 4 << 20}
	for _, d := range n.Drives {
		mb.local = append(mb.local, node.Drive{ID: d.ID(), Node: "test-node", Driver: d})
	}
	data := randBytes(7, int(mb.size))
	for i := 0; i < blobs; i++ {
		k := fmt.Sprintf("k%d", i)
		if _, err := n.Engine.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: k, Body: bytes.NewReader(data), Size: mb.size}); err != nil {
			b.Fatal(err)
		}
		mb.keys = append(mb.keys, k)
	}
	return mb
}

// move moves shard 0 of the next blob to a drive that holds none of it.
func (mb *moveBench) move(b *testing.B, lim *rate.Limiter) {
	ctx := context.Background()
	key := mb.keys[mb.next%len(mb.keys)]
	mb.next++
	a, err := mb.n.Meta.GetArtifact(ctx, tenant, "c", key)
	if err != nil {
		b.Fatal(err)
	}
	blob := a.Parts[0].Blob
	for _, d := range mb.local {
		if !slices.Contains(blob.Shards, metastore.ShardLoc{Node: d.Node, Drive: d.ID}) {
			if err := mb.n.Engine.MoveShardWith(ctx, blob, mb.size, 0, d, lim); err != nil {
				b.Fatal(err)
			}
			return
		}
	}
	b.Fatal("no free drive")
}

// benchShardBytes is the size of one moved shard file (2+2 of 4 MiB).
const benchShardBytes = 2<<20 + 2<<10

// rawDiskWrites is the disk's own figure that the background-work
// benchmarks (shard moves, re-striping, drive heal) are measured next to:
// data written with write+fsync to the file at path(i), then removed, b.N
// times.
func rawDiskWrites(b *testing.B, data []byte, path func(i int) string) {
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		p := path(i)
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		_, werr := f.Write(data)
		serr := f.Sync()
		if err := errors.Join(werr, serr, f.Close(), os.Remove(p)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShardMove measures the shard mover (what decommission and
// rebalance run) at the default throttle and unthrottled, next to raw
// write+fsync of the same bytes to the same drive folders, in the same
// run. Run: go test -run '^$' -bench ShardMove -benchtime 40x ./node
func BenchmarkShardMove(b *testing.B) {
	mb := newMoveBench(b, 16)
	b.Run("raw-disk-write", func(b *testing.B) {
		rawDiskWrites(b, randBytes(3, benchShardBytes), func(i int) string {
			return filepath.Join(mb.n.Dir, "drives", fmt.Sprint(i%8), "raw-bench")
		})
	})
	for _, c := range []struct {
		name string
		bps  int64
	}{{"default-throttle", node.DefaultMoveRate}, {"unthrottled", -1}} {
		b.Run(c.name, func(b *testing.B) {
			lim := node.NewMoveLimiter(c.bps)
			b.SetBytes(benchShardBytes)
			for i := 0; i < b.N; i++ {
				mb.move(b, lim)
			}
		})
	}
}

// BenchmarkForegroundDuringRebalance measures foreground PUT and GET
// latency (256 KiB artifacts) while the node is idle and while shard
// moves run continuously at the default throttle, as a rebalance does,
// and at 16 MiB/s; the p99 ratio to idle is the figure (goal <= 1.5x). Run: go test -run '^$'
// -bench ForegroundDuringRebalance -benchtime 200x ./node
func BenchmarkForegroundDuringRebalance(b *testing.B) {
	mb := newMoveBench(b, 16)
	ctx := context.Background()
	data := randBytes(5, 256<<10)
	if _, err := mb.n.Engine.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "fg-get", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		bps  int64 // 0: idle
	}{{"idle", 0}, {"rebalancing-default-throttle", node.DefaultMoveRate}, {"rebalancing-32MiB", 32 << 20}, {"rebalancing-16MiB", 16 << 20}} {
		b.Run(mode.name, func(b *testing.B) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if mode.bps > 0 {
				lim := node.NewMoveLimiter(mode.bps)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						mb.move(b, lim)
					}
				}()
				time.Sleep(200 * time.Millisecond)
			}
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if i%2 == 0 {
					if _, err := mb.n.Engine.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: fmt.Sprintf("fg%d", i%32), Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
						b.Fatal(err)
					}
				} else {
					r, err := mb.n.Engine.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "fg-get"})
					if err == nil {
						err = r.WriteRange(ctx, io.Discard, 0, int64(len(data)))
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
