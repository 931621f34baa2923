package node_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/local"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// BenchmarkRestripe measures re-striping throughput (bytes of versions
// rewritten per second) at the default throttle and unthrottled, next to
// the raw disk in the same run: the same bytes written with write+fsync to
// a plain file on the same file system. Three "nodes" of four local
// drives each share this machine's disk; each iteration re-stripes one
// 4 MiB version written 4+4 while node-c was down to 8+4.
//
//	go test -run '^$' -bench Restripe -benchtime 20x ./node
func BenchmarkRestripe(b *testing.B) {
	const size = 4 << 20
	data := randBytes(11, size)
	b.Run("raw-disk-write", func(b *testing.B) {
		dir := b.TempDir()
		rawDiskWrites(b, data, func(i int) string { return filepath.Join(dir, fmt.Sprint(i)) })
	})
	for _, tc := range []struct {
		name string
		rate int64
	}{{"default-throttle", node.DefaultRestripeRate}, {"unthrottled", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			p := &peers{drives: map[string][]*fault.Driver{}, down: map[string]bool{}}
			for _, nd := range []string{"node-b", "node-c"} {
				for i := 0; i < 4; i++ {
					d, err := local.New(local.Config{Dir: filepath.Join(b.TempDir(), nd, fmt.Sprint(i)), ID: fmt.Sprintf("%s-d%d", nd, i)})
					if err != nil {
						b.Fatal(err)
					}
					p.drives[nd] = append(p.drives[nd], fault.New(d))
				}
			}
			n := nodetest.StartNode(b, nodetest.Options{Peers: p, InlineThreshold: -1, GCDelay: 1, NodeRemoved: func(string) bool { return false },
				Tune: func(c *node.Config) { c.RestripeRate = tc.rate }})
			e := n.Engine
			if err := e.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "c"}); err != nil {
				b.Fatal(err)
			}
			p.kill("node-c")
			for i := 0; i < b.N; i++ {
				if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: fmt.Sprint(i), Body: bytes.NewReader(data), Size: size}); err != nil {
					b.Fatal(err)
				}
			}
			p.revive("node-c")
			b.SetBytes(size)
			b.ResetTimer()
			st, err := e.Restripe(ctx)
			b.StopTimer()
			if err != nil || st.Restriped != int64(b.N) {
				b.Fatalf("pass: %+v, %v; want %d re-striped", st, err, b.N)
			}
		})
	}
}

// BenchmarkDriveHeal measures a drive heal job's throughput (bytes of
// shards rebuilt onto a replaced drive per second) at the default
// throttle and unthrottled, next to the raw disk in the same run. One node
// of four local drives (2+2); each iteration is one 4 MiB artifact whose
// 2 MiB shard on the wiped drive is rebuilt from the other three.
//
//	go test -run '^$' -bench DriveHeal -benchtime 16x ./node
func BenchmarkDriveHeal(b *testing.B) {
	const size = 4 << 20
	data := randBytes(12, size)
	b.Run("raw-disk-write", func(b *testing.B) {
		dir := b.TempDir()
		rawDiskWrites(b, data[:size/2], func(i int) string { return filepath.Join(dir, fmt.Sprint(i)) })
	})
	for _, tc := range []struct {
		name string
		rate int64
	}{{"default-throttle", node.DefaultHealRate}, {"unthrottled", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			start := func() *nodetest.Node {
				return nodetest.StartNode(b, nodetest.Options{Dir: dir, InlineThreshold: -1, Tune: func(c *node.Config) {
					c.HealRate, c.HealStateDir = tc.rate, dir
				}})
			}
			n := start()
			if err := n.Engine.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "c"}); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				if _, err := n.Engine.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: fmt.Sprint(i), Body: bytes.NewReader(data), Size: size}); err != nil {
					b.Fatal(err)
				}
			}
			n.Close()
			if err := os.RemoveAll(filepath.Join(dir, "drives", "1")); err != nil {
				b.Fatal(err)
			}
			n = start()
			b.ResetTimer()
			if err := n.Engine.HealDrive("d1"); err != nil {
				b.Fatal(err)
			}
			var j *node.HealJob
			for j == nil || j.Completed.IsZero() {
				time.Sleep(5 * time.Millisecond)
				st, err := n.Engine.DriveStatus(ctx, "d1")
				if err != nil {
					b.Fatal(err)
				}
				j = st.Heal
			}
			b.StopTimer()
			if j.Rebuilt != int64(b.N) || j.Failed != 0 {
				b.Fatalf("heal job %+v, want %d shards rebuilt", j, b.N)
			}
			b.SetBytes(j.Bytes / int64(b.N))
		})
	}
}
