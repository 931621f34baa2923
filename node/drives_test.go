package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

func healNode(t *testing.T, dir string, rate int64) *nodetest.Node {
	return nodetest.StartNode(t, nodetest.Options{Dir: dir, InlineThreshold: -1, Tune: func(c *node.Config) {
		c.HealRate, c.HealStateDir, c.DriveRecheckInterval = rate, dir, 30*time.Millisecond
	}})
}

// driveFiles reads every shard file of one drive directory.
func driveFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/blobs/") {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, path)
			out[rel] = b
		}
		return nil
	})
	return out
}

func sameFiles(t *testing.T, what string, want, got map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d shard files, want %d", what, len(got), len(want))
	}
	for p, b := range want {
		if !bytes.Equal(got[p], b) {
			t.Fatalf("%s: shard %s differs (%d bytes, want %d)", what, p, len(got[p]), len(b))
		}
	}
}

func waitHealed(t *testing.T, e *node.Engine, id string) node.HealJob {
	t.Helper()
	var j *node.HealJob
	waitFor(t, "heal job of "+id, 30*time.Second, func() bool {
		st, err := e.DriveStatus(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		j = st.Heal
		return j != nil && !j.Completed.IsZero()
	})
	return *j
}

// A drive wiped while the node was down comes back blank under its slot's
// ID; its heal job rebuilds every shard it held, byte for byte, and the
// artifacts read back. A throttled job stopped half-way resumes after a
// restart from where it stopped.
func TestDriveHealRebuildsReplacedDrive(t *testing.T) {
	dir := t.TempDir()
	n := healNode(t, dir, -1)
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "c")
	const count = 12
	for i := range count {
		put(t, e, "c", fmt.Sprint(i), randBytes(uint64(i), 100<<10+i))
	}
	drive := filepath.Join(dir, "drives", "1")
	orig := driveFiles(t, drive)
	if len(orig) != count {
		t.Fatalf("drive 1 holds %d shards, want one of each of %d blobs", len(orig), count)
	}
	n.Close()

	for round, rate := range []int64{-1, 200 << 10} {
		if err := os.RemoveAll(drive); err != nil {
			t.Fatal(err)
		}
		// A throttled round: stop the node half-way, restart, finish.
		n = healNode(t, dir, rate)
		if !n.Drives[1].Formatted() {
			t.Fatal("the blank drive was not formatted under its slot")
		}
		if err := n.Engine.HealDrive("d1"); err != nil {
			t.Fatal(err)
		}
		if err := n.Engine.HealDrive("nope"); !errors.Is(err, node.ErrNoSuchDrive) {
			t.Fatalf("HealDrive of an unknown drive: %v", err)
		}
		if rate > 0 {
			waitFor(t, "some progress", 20*time.Second, func() bool {
				st, _ := n.Engine.DriveStatus(ctx, "d1")
				return st.Heal != nil && st.Heal.Rebuilt >= 2
			})
			n.Close()
			b, err := os.ReadFile(filepath.Join(dir, "heal-d1.json"))
			if err != nil || !strings.Contains(string(b), `"cursor"`) {
				t.Fatalf("heal state after a stop mid-job: %s %v", b, err)
			}
			n = healNode(t, dir, -1) // resumes by itself
		}
		j := waitHealed(t, n.Engine, "d1")
		if j.Failed != 0 || j.Rebuilt+j.Present != count || (rate < 0 && j.Rebuilt != count) || j.Bytes == 0 {
			t.Fatalf("round %d: heal job %+v, want %d shards rebuilt", round, j, count)
		}
		sameFiles(t, fmt.Sprintf("round %d", round), orig, driveFiles(t, drive))
		for i := range count {
			if got := read(t, n.Engine, "c", fmt.Sprint(i), 0, -1); !bytes.Equal(got, randBytes(uint64(i), 100<<10+i)) {
				t.Fatalf("artifact %d differs after the heal", i)
			}
		}
		if n.Engine.Stats().DriveHealed == 0 {
			t.Fatal("DriveHealed counter not counted")
		}
		n.Close()
	}
}

// A drive heal job goes past a metadata record that does not decode: it
// counts and logs it and rebuilds every other shard of the drive (it used
// to stop there and retry from the same record, forever).
func TestDriveHealSkipsUnreadableRecords(t *testing.T) {
	dir := t.TempDir()
	n := healNode(t, dir, -1)
	e := n.Engine
	mustContainer(t, e, "c")
	const count = 6
	for i := range count {
		put(t, e, "c", fmt.Sprint(i), randBytes(uint64(i), 100<<10+i))
	}
	drive := filepath.Join(dir, "drives", "1")
	n.Close()
	corruptArtifactRecord(t, dir, "c", "2", func(v []byte) []byte { return v[:len(v)-5] })
	if err := os.RemoveAll(drive); err != nil {
		t.Fatal(err)
	}
	n = healNode(t, dir, -1)
	if err := n.Engine.HealDrive("d1"); err != nil {
		t.Fatal(err)
	}
	j := waitHealed(t, n.Engine, "d1")
	if j.Unreadable != 1 || j.Rebuilt != count-1 || j.Failed != 0 {
		t.Fatalf("heal job %+v, want %d rebuilt and 1 unreadable record", j, count-1)
	}
	if got := len(driveFiles(t, drive)); got != count-1 {
		t.Fatalf("drive 1 holds %d shards after the heal, want %d", got, count-1)
	}
}

// A disk swapped while the node runs: held offline, wiped, released:
// the blank directory is adopted and healed. An offline drive that is not
// held comes back through the background recheck.
func TestDriveHoldReleaseAndRecheck(t *testing.T) {
	dir := t.TempDir()
	n := healNode(t, dir, -1)
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "c")
	for i := range 6 {
		put(t, e, "c", fmt.Sprint(i), randBytes(uint64(i), 64<<10))
	}
	drive := filepath.Join(dir, "drives", "2")
	orig := driveFiles(t, drive)

	if err := e.HoldDrive("d2"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // several rechecks: it stays out
	st, _ := e.DriveStatus(ctx, "d2")
	if st.Online || !st.Held {
		t.Fatalf("held drive: %+v", st)
	}
	entries, _ := os.ReadDir(drive)
	for _, en := range entries {
		os.RemoveAll(filepath.Join(drive, en.Name()))
	}
	// Reads go on without it.
	if got := read(t, e, "c", "3", 0, -1); !bytes.Equal(got, randBytes(3, 64<<10)) {
		t.Fatal("read with a held drive differs")
	}
	if err := e.ReleaseDrive(ctx, "d2"); err != nil {
		t.Fatal(err)
	}
	j := waitHealed(t, e, "d2")
	if j.Rebuilt != int64(len(orig)) {
		t.Fatalf("heal after release: %+v, want %d rebuilt", j, len(orig))
	}
	sameFiles(t, "released drive", orig, driveFiles(t, drive))

	// Offline by a failure, back by the recheck loop.
	data := filepath.Join(dir, "drives", "3", "data")
	if err := os.Rename(data, data+".away"); err != nil {
		t.Fatal(err)
	}
	if err := n.Drives[3].Recheck(ctx); err == nil {
		t.Fatal("Recheck passed without the data directory")
	}
	if err := os.Rename(data+".away", data); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recheck loop brings drive 3 back", 10*time.Second, func() bool {
		st, _ := e.DriveStatus(ctx, "d3")
		return st.Online
	})
	all := e.Drives(ctx)
	if len(all) != 4 || all[0].ID != "d0" || all[0].Dir == "" || all[0].Total == 0 {
		t.Fatalf("Drives: %+v", all)
	}
	if err := e.HoldDrive("zz"); !errors.Is(err, node.ErrNoSuchDrive) {
		t.Fatalf("HoldDrive of an unknown drive: %v", err)
	}
}

// TestDriveHealWaitsForAwayNodes: a replaced drive's heal job that cannot
// rebuild a shard because a node holding other shards of its blob is away
// (down, cut off, or not yet seen alive after a restart, as in the chaos
// suite's drive rounds) defers the shard instead of failing it, walks
// again, and rebuilds everything once the node is back.
func TestDriveHealWaitsForAwayNodes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p := newPeers("node-b", "node-c")
	opts := nodetest.Options{Dir: dir, Peers: p, InlineThreshold: -1, NodeRemoved: func(string) bool { return false },
		Tune: func(c *node.Config) { c.HealRate, c.HealStateDir = -1, dir }}
	n := nodetest.StartNode(t, opts)
	mustContainer(t, n.Engine, "c")
	const count = 6
	for i := range count {
		put(t, n.Engine, "c", fmt.Sprint(i), randBytes(uint64(i), 100<<10+i))
	}
	// 3 nodes of 4 drives: 8+4, one shard of each blob per drive.
	drive := filepath.Join(dir, "drives", "1")
	orig := driveFiles(t, drive)
	if len(orig) != count {
		t.Fatalf("drive 1 holds %d shards, want %d", len(orig), count)
	}
	n.Close()
	if err := os.RemoveAll(drive); err != nil {
		t.Fatal(err)
	}
	// With node-b away, 7 shards of each blob are readable: 8 needed.
	p.kill("node-b")
	n = nodetest.StartNode(t, opts)
	if err := n.Engine.HealDrive("d1"); err != nil {
		t.Fatal(err)
	}
	var j *node.HealJob
	waitFor(t, "the heal job to wait for node-b", 20*time.Second, func() bool {
		st, err := n.Engine.DriveStatus(ctx, "d1")
		if err != nil {
			t.Fatal(err)
		}
		j = st.Heal
		return j != nil && j.Deferred == count && !j.Running
	})
	if j.Failed != 0 || !j.Completed.IsZero() || !strings.Contains(j.Waiting, "node-b") {
		t.Fatalf("heal job with node-b away: %+v", *j)
	}
	p.revive("node-b")
	done := waitHealed(t, n.Engine, "d1")
	if done.Failed != 0 || done.Deferred != 0 || done.Rebuilt != count {
		t.Fatalf("heal job after node-b came back: %+v", done)
	}
	sameFiles(t, "after the heal", orig, driveFiles(t, drive))
}
