package node_test

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// lifecycleBenchArtifacts is how many artifacts the idle-engine benchmarks
// hold under a rule that is never due.
const lifecycleBenchArtifacts = 2000

func startIdleLifecycle(b *testing.B) (*node.Engine, *lcClock) {
	b.Helper()
	clock := &lcClock{}
	n := nodetest.StartNode(b, nodetest.Options{Now: clock.now, MetaNow: clock.now, Tune: func(c *node.Config) { c.LifecycleInterval = -1 }})
	e, ctx := n.Engine, context.Background()
	if err := e.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "idle"}); err != nil {
		b.Fatal(err)
	}
	for i := range lifecycleBenchArtifacts {
		if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "idle", Key: fmt.Sprintf("k%06d", i), Body: bytes.NewReader([]byte("x")), Size: 1}); err != nil {
			b.Fatal(err)
		}
	}
	rule := node.LifecycleRule{ID: "never", Enabled: true, Expiration: &node.LifecycleExpiration{Days: 36500}}
	if err := e.SetLifecycleConfiguration(ctx, tenant, "idle", node.LifecycleConfig{Rules: []node.LifecycleRule{rule}}); err != nil {
		b.Fatal(err)
	}
	if err := e.RunLifecycle(ctx); err != nil {
		b.Fatal(err)
	}
	return e, clock
}

// BenchmarkLifecycleIdleTick is the leader's check every
// LifecycleInterval when no pass is due: what an idle cluster pays per
// tick, whatever its number of artifacts.
func BenchmarkLifecycleIdleTick(b *testing.B) {
	e, _ := startIdleLifecycle(b)
	ctx := context.Background()
	passes := e.LifecyclePasses()
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if more, err := e.LifecycleStep(ctx); err != nil || more {
			b.Fatalf("idle step: %v %v", more, err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if e.LifecyclePasses() != passes {
		b.Fatal("an idle tick started a pass")
	}
}

// cpuTime is the CPU time (user and system) this process used so far, all
// goroutines included (Raft and Pebble too).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLifecycleIdlePass is one whole pass over the artifacts with
// nothing due (the daily pass of an idle cluster); it reports the cost per
// artifact.
func BenchmarkLifecycleIdlePass(b *testing.B) {
	e, clock := startIdleLifecycle(b)
	ctx := context.Background()
	before := e.Stats().LifecycleExpired
	passes := e.LifecyclePasses()
	start, cpu := time.Now(), cpuTime()
	b.ResetTimer()
	for b.Loop() {
		clock.days(8) // past the longest gap between passes: one is due
		if err := e.RunLifecycle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/lifecycleBenchArtifacts, "ns/artifact")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N)/lifecycleBenchArtifacts, "cpu-ns/artifact")
	if got := e.LifecyclePasses() - passes; got != int64(b.N) {
		b.Fatalf("%d passes for %d iterations", got, b.N)
	}
	if e.Stats().LifecycleExpired != before {
		b.Fatal("an idle pass expired something")
	}
}
