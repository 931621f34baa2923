package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/mem"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// mountTmpfs mounts a tmpfs of size bytes at dir (created), unmounted when
// the test ends; the drives of a node under it have a real, small
// capacity that statfs reports. It needs root, as the fault-injection
// suite's full-drive nemesis does.
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for the drives (the capacity tests need root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// capNode is a node whose four drives share a small tmpfs, with the tier
// "cold" (an in-memory remote behind a fault driver) as the capacity
// fallback's default tier.
type capNode struct {
	*nodetest.Node
	remote *mem.Driver
	faults *fault.Driver
	mu     sync.Mutex
	audit  []node.LifecycleAction
}

func startCapNode(t *testing.T, size int64, high, low float64) *capNode {
	dir := t.TempDir()
	mountTmpfs(t, filepath.Join(dir, "drives"), size)
	cn := &capNode{remote: mem.New()}
	cn.faults = fault.New(cn.remote)
	cn.Node = nodetest.StartNode(t, nodetest.Options{Dir: dir, InlineThreshold: -1, GCDelay: time.Millisecond, Tune: func(c *node.Config) {
		c.TierOpener = func(metastore.Tier, string) (drivers.Driver, error) { return cn.faults, nil }
		c.CapacityTier, c.CapacityHigh, c.CapacityLow = "cold", high, low
		c.CapacityInterval = -1 // rounds run when the test says
		c.LifecycleAudit = func(a node.LifecycleAction) {
			cn.mu.Lock()
			cn.audit = append(cn.audit, a)
			cn.mu.Unlock()
		}
	}})
	if _, err := cn.Engine.AddTier(context.Background(), metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}, "s"); err != nil {
		t.Fatal(err)
	}
	return cn
}

// waitUsage waits until the drives' usage is below ratio (the collector
// removes moved versions' local shards after the GC delay).
func (cn *capNode) waitUsage(t *testing.T, below float64) node.CapacityStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := cn.Engine.CapacityStatus(context.Background())
		if st.UsedRatio() < below {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage %.3f (%d of %d) did not fall below %.2f", st.UsedRatio(), st.Used, st.Total, below)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type capWrite struct {
	container, key, version string
	data                    []byte
}

// fillTo writes 1 MiB artifacts, alternating a plain and a versioned
// container (two versions of some keys), until usage reaches ratio.
func (cn *capNode) fillTo(t *testing.T, ratio float64) []capWrite {
	t.Helper()
	ctx := context.Background()
	e := cn.Engine
	mustContainer(t, e, "plain")
	mustContainer(t, e, "ver")
	if err := e.SetVersioning(ctx, tenant, "ver", node.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	var ws []capWrite
	for i := 0; ; i++ {
		if st := e.CapacityStatus(ctx); st.UsedRatio() >= ratio {
			return ws
		} else if i > 200 {
			t.Fatalf("usage %.3f after %d writes", st.UsedRatio(), i)
		}
		w := capWrite{container: "plain", key: fmt.Sprintf("k%03d", i), data: randBytes(uint64(i+1), 1<<20)}
		if i%2 == 1 {
			w.container, w.key = "ver", fmt.Sprintf("k%03d", i%6) // keys get several versions
		}
		w.version = put(t, e, w.container, w.key, w.data).VersionID
		ws = append(ws, w)
	}
}

func (cn *capNode) head(t *testing.T, w capWrite) node.ArtifactInfo {
	t.Helper()
	v := w.version
	if v == "" {
		v = node.NullVersion
	}
	info, err := cn.Engine.HeadArtifact(context.Background(), tenant, node.VersionRef{Container: w.container, Key: w.key, VersionID: v})
	if err != nil {
		t.Fatalf("head %s/%s %s: %v", w.container, w.key, w.version, err)
	}
	return info
}

func (cn *capNode) readVersion(t *testing.T, w capWrite) []byte {
	t.Helper()
	v := w.version
	if v == "" {
		v = node.NullVersion
	}
	r, err := cn.Engine.OpenArtifact(context.Background(), tenant, node.VersionRef{Container: w.container, Key: w.key, VersionID: v})
	if err != nil {
		t.Fatalf("open %s/%s: %v", w.container, w.key, err)
	}
	var buf bytes.Buffer
	if err := r.WriteRange(context.Background(), &buf, 0, r.Info().Size); err != nil {
		t.Fatalf("read %s/%s: %v", w.container, w.key, err)
	}
	return buf.Bytes()
}

// TestCapacityFallbackSpillsOldest: drives on a real 48 MiB tmpfs filled
// past the high watermark spill the least recently written versions (of a
// plain and a versioned container) to the default tier, just enough to go
// below the low watermark; every version reads back byte-identical; a
// round below the low watermark moves nothing more.
func TestCapacityFallbackSpillsOldest(t *testing.T) {
	cn := startCapNode(t, 48<<20, 0.5, 0.3)
	ctx := context.Background()
	e := cn.Engine

	// Below the high watermark nothing moves.
	res, err := e.CapacityRound(ctx)
	if err != nil || res.Moved != 0 || res.Status.Spilling || res.Status.Total != 48<<20 || res.Status.Drives != 1 {
		t.Fatalf("empty drives: %+v %v", res, err)
	}
	ws := cn.fillTo(t, 0.5)
	st := e.CapacityStatus(ctx)
	if !st.Spilling || st.Tier != "cold" || st.High != 0.5 || st.Low != 0.3 {
		t.Fatalf("status at %.3f used: %+v", st.UsedRatio(), st)
	}
	res, err = e.CapacityRound(ctx)
	if err != nil || res.Moved == 0 || res.Failed != 0 || res.Bytes != int64(res.Moved)<<20 {
		t.Fatalf("round above the high watermark: %+v %v", res, err)
	}
	after := cn.waitUsage(t, 0.3)
	t.Logf("usage %.3f before the round, %.3f after moving %d versions (low watermark 0.30)", res.Status.UsedRatio(), after.UsedRatio(), res.Moved)
	// Just enough: the usage went below the low watermark, not far below
	// it (one version is 2 MiB of raw bytes in shape 2+2, ~4% of 48 MiB).
	if r := after.UsedRatio(); r < 0.3-0.06 {
		t.Fatalf("usage %.3f after the round: moved more than needed to reach 0.30: %+v, round %+v", r, after, res)
	}
	// The oldest versions moved, the newer stayed.
	for i, w := range ws {
		info := cn.head(t, w)
		if want := i < res.Moved; (info.Tier == "cold") != want {
			t.Fatalf("write %d (%s/%s): tier %q, want moved=%v (%d moved)", i, w.container, w.key, info.Tier, want, res.Moved)
		}
		if got := cn.readVersion(t, w); !bytes.Equal(got, w.data) {
			t.Fatalf("write %d (%s/%s) reads back other bytes", i, w.container, w.key)
		}
	}
	if n := len(remoteObjects(t, cn.remote)); n != res.Moved {
		t.Fatalf("%d remote objects for %d moved versions", n, res.Moved)
	}
	// Below the low watermark: no longer spilling, nothing more moves.
	res2, err := e.CapacityRound(ctx)
	if err != nil || res2.Moved != 0 || res2.Status.Spilling {
		t.Fatalf("round below the low watermark: %+v %v", res2, err)
	}
	s := e.Stats()
	if s.CapacityMoved != int64(res.Moved) || s.CapacityMovedBytes != res.Bytes || s.CapacityFailures != 0 {
		t.Fatalf("stats %+v", s)
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.audit) != res.Moved {
		t.Fatalf("%d audit events for %d moves", len(cn.audit), res.Moved)
	}
	for _, a := range cn.audit {
		if a.Action != "capacity-transition" || a.Rule != "capacity" || a.Err != nil || a.Bytes != 1<<20 {
			t.Fatalf("audit event %+v", a)
		}
	}
}

// TestCapacityFallbackTierDown: with the tier unreachable a round fails its
// moves (counted, audited, nothing lost), stays spilling, and the next
// round after the tier is back does the work.
func TestCapacityFallbackTierDown(t *testing.T) {
	cn := startCapNode(t, 32<<20, 0.4, 0.25)
	ctx := context.Background()
	e := cn.Engine
	ws := cn.fillTo(t, 0.4)
	f := cn.faults.Inject(fault.Rule{Op: fault.OpAll, Err: drivers.ErrUnavailable})
	res, err := e.CapacityRound(ctx)
	if err != nil || res.Moved != 0 || res.Failed == 0 {
		t.Fatalf("round with the tier down: %+v %v", res, err)
	}
	if s := e.Stats(); s.CapacityFailures != int64(res.Failed) {
		t.Fatalf("failures counted %d, want %d", s.CapacityFailures, res.Failed)
	}
	cn.mu.Lock()
	for _, a := range cn.audit {
		if a.Err == nil || !errors.Is(a.Err, node.ErrTierUnavailable) {
			t.Errorf("audit of a failed move: %+v", a)
		}
	}
	cn.mu.Unlock()
	for _, w := range ws {
		if info := cn.head(t, w); info.Tier != "" {
			t.Fatalf("%s/%s on tier %q after failed moves", w.container, w.key, info.Tier)
		}
		if !bytes.Equal(cn.readVersion(t, w), w.data) {
			t.Fatalf("%s/%s changed", w.container, w.key)
		}
	}
	if !e.CapacityStatus(ctx).Spilling {
		t.Fatal("not spilling any more with nothing moved")
	}
	f.Remove()
	res, err = e.CapacityRound(ctx)
	if err != nil || res.Moved == 0 || res.Failed != 0 {
		t.Fatalf("round after the tier came back: %+v %v", res, err)
	}
	cn.waitUsage(t, 0.25)
}

func TestCapacityConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		high, low float64
		ok        bool
	}{
		{0.9, 0.8, true},
		{1, 0.5, true},
		{0.8, 0.8, false},
		{0.7, 0.8, false},
		{1.1, 0.8, false},
		{0.9, -0.1, false},
	} {
		c := node.Config{NodeID: "n", Meta: &metastore.Store{}, Drives: []node.Drive{{ID: "d", Driver: mem.New()}},
			CapacityTier: "cold", CapacityHigh: tc.high, CapacityLow: tc.low}
		err := c.Validate()
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "capacity watermarks")) {
			t.Errorf("high %g low %g: %v", tc.high, tc.low, err)
		}
	}
	// Without a default tier the watermarks are not looked at.
	c := node.Config{NodeID: "n", Meta: &metastore.Store{}, Drives: []node.Drive{{ID: "d", Driver: mem.New()}}, CapacityHigh: 2}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
