package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// shardPaths lists the shard files under dir by shard index.
func shardPaths(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{} // shard index -> files
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/blobs/") {
			out[filepath.Base(path)] = append(out[filepath.Base(path)], path)
		}
		return nil
	})
	return out
}

func scrubNode(t *testing.T, dir string, period time.Duration) *nodetest.Node {
	return nodetest.StartNode(t, nodetest.Options{Dir: dir, InlineThreshold: -1, Tune: func(c *node.Config) {
		c.ScrubPeriod, c.ScrubStartDelay = period, 20*time.Millisecond
		c.ScrubStateFile = filepath.Join(dir, "scrub.state")
		c.MinPartSize = 64 << 10 // multipart artifacts of small parts
	}})
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScrubRepairsParity: a flipped byte in a parity shard, which no
// read looks at, is found by the continuous scrub's first pass soon after
// the start, and the shard is rebuilt byte for byte; so is a parity
// shard of an unfinished multipart upload's part.
func TestScrubRepairsParity(t *testing.T) {
	dir := t.TempDir()
	setup := scrubNode(t, dir, 0) // no scrub while the data is written
	e, ctx := setup.Engine, context.Background()
	mustContainer(t, e, "c")
	if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "k", Body: bytes.NewReader(randBytes(31, 300<<10)), Size: 300 << 10}); err != nil {
		t.Fatal(err)
	}
	up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: "c", Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.UploadPart(ctx, tenant, node.PartInput{Container: "c", Key: "mp", UploadID: up.UploadID, Number: 1, Body: bytes.NewReader(randBytes(32, 200<<10)), Size: 200 << 10}); err != nil {
		t.Fatal(err)
	}
	// 2+2: shards 2 and 3 are parity. Corrupt shard 3 of both blobs.
	paths := shardPaths(t, dir)["3"]
	if len(paths) != 2 {
		t.Fatalf("%d files of shard 3, want 2", len(paths))
	}
	orig := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		orig[p] = b
		bad := bytes.Clone(b)
		bad[len(bad)/2] ^= 0x40
		if err := os.WriteFile(p, bad, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()
	// Started with the scrub on and no state kept: the first pass starts
	// soon after the start.
	n := scrubNode(t, dir, time.Hour)
	e = n.Engine
	waitFor(t, "a scrub pass", 30*time.Second, func() bool { return e.ScrubStatus().Passes >= 1 })
	waitFor(t, "healing", 30*time.Second, func() bool {
		for p, want := range orig {
			if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, want) {
				return false
			}
		}
		return true
	})
	st := e.ScrubStatus()
	if st.LastPassBlobs != 2 || st.LastPassBad != 2 || st.LastPassCompleted.IsZero() || e.Stats().ScrubBad != 2 {
		t.Fatalf("scrub status %+v, ScrubBad %d", st, e.Stats().ScrubBad)
	}
	// The next pass is due half a period after this one started.
	if want := st.LastPassStarted.Add(time.Hour / 2); !st.NextPass.Equal(want) {
		t.Fatalf("next pass %v, want %v", st.NextPass, want)
	}
}

// TestScrubResumesAfterRestart: a node stopped in the middle of a paced
// pass resumes it, after the restart, from the position it kept in its
// state file, instead of starting over (a node restarted more often than
// the scrub period would otherwise never finish a pass).
//
// The blobs are 24 artifacts of one blob each, or the 24 parts of one
// multipart artifact, whose blobs share one metadata record: a pass
// stopped inside that record goes on with its next part.
func TestScrubResumesAfterRestart(t *testing.T) {
	for _, multipart := range []bool{false, true} {
		t.Run(map[bool]string{false: "artifacts", true: "parts of one artifact"}[multipart], func(t *testing.T) {
			testScrubResumesAfterRestart(t, multipart)
		})
	}
}

func testScrubResumesAfterRestart(t *testing.T, multipart bool) {
	dir := t.TempDir()
	// A period so long that the pace is the 1 MiB/s floor: each blob of
	// 4 x 64 KiB shards takes 0.25 s.
	const period = 100000 * time.Hour
	setup := scrubNode(t, dir, 0)
	e, ctx := setup.Engine, context.Background()
	mustContainer(t, e, "c")
	const blobs = 24
	if multipart {
		up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: "c", Key: "mp"})
		if err != nil {
			t.Fatal(err)
		}
		var parts []node.PartRef
		for i := range blobs {
			p, err := e.UploadPart(ctx, tenant, node.PartInput{Container: "c", Key: "mp", UploadID: up.UploadID, Number: i + 1, Body: bytes.NewReader(randBytes(uint64(40+i), 128<<10)), Size: 128 << 10})
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, node.PartRef{Number: i + 1, ETag: p.ETag})
		}
		if _, err := e.CompleteUpload(ctx, tenant, "c", "mp", up.UploadID, parts, node.Conditions{}); err != nil {
			t.Fatal(err)
		}
	} else {
		for i := range blobs {
			if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: fmt.Sprint("k", i), Body: bytes.NewReader(randBytes(uint64(40+i), 128<<10)), Size: 128 << 10}); err != nil {
				t.Fatal(err)
			}
		}
	}
	setup.Close()
	n := scrubNode(t, dir, period)
	e = n.Engine
	waitFor(t, "a pass under way", 30*time.Second, func() bool { return e.ScrubStatus().PassBlobs >= 4 })
	before := e.ScrubStatus()
	n.Close()
	b, err := os.ReadFile(filepath.Join(dir, "scrub.state"))
	if err != nil {
		t.Fatal(err)
	}
	var kept struct {
		PassStarted time.Time `json:"pass_started"`
		Cursor      []byte    `json:"cursor"`
		PassBlobs   int64     `json:"pass_blobs"`
	}
	if err := json.Unmarshal(b, &kept); err != nil || len(kept.Cursor) == 0 || kept.PassBlobs < 4 || kept.PassBlobs >= blobs {
		t.Fatalf("state kept at stop: %s (%v)", b, err)
	}

	n2 := scrubNode(t, dir, period)
	e2 := n2.Engine
	waitFor(t, "the resumed pass under way", 30*time.Second, func() bool { return e2.ScrubStatus().Running })
	if st := e2.ScrubStatus(); !st.PassStarted.Equal(before.PassStarted) || st.PassBlobs < kept.PassBlobs {
		t.Fatalf("after the restart: pass started %v with %d blobs done; before: %v with %d", st.PassStarted, st.PassBlobs, before.PassStarted, kept.PassBlobs)
	}
	if !e2.StartScrub() { // finish it unpaced
		t.Fatal("StartScrub refused")
	}
	waitFor(t, "the pass to end", 60*time.Second, func() bool { return e2.ScrubStatus().Passes >= 1 })
	st := e2.ScrubStatus()
	// This process verified only what was left: 4 local shards per blob.
	if got, left := e2.Stats().ScrubVerified, 4*(blobs-kept.PassBlobs); got != left || st.LastPassBlobs != blobs {
		t.Fatalf("resumed pass: this process verified %d shards (want %d), the pass counts %d blobs (want %d)", got, left, st.LastPassBlobs, blobs)
	}
}

// TestScrubRepairsWithinOnePeriod: a byte flipped in a shard just after
// the scrub verified it (the worst moment: at the end of a pass, and just
// after the next one began) is repaired within one scrub period, also
// when verification and the pauses between shards take a good part of a
// pass's time. The first design paced a pass over 80% of the period on top
// of the verification time and started passes a period apart, so the last
// shard of a pass waited over a period for the next look.
func TestScrubRepairsWithinOnePeriod(t *testing.T) {
	dir := t.TempDir()
	setup := scrubNode(t, dir, 0)
	e, ctx := setup.Engine, context.Background()
	mustContainer(t, e, "c")
	const blobs = 48 // 4 local shards of 64 KiB each: 12 MiB, 192 shards
	for i := range blobs {
		if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: fmt.Sprint("k", i), Body: bytes.NewReader(randBytes(uint64(60+i), 128<<10)), Size: 128 << 10}); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()
	paths := shardPaths(t, dir)["3"] // a parity shard of every blob: no read looks at it
	if len(paths) != blobs {
		t.Fatalf("%d files of shard 3, want %d", len(paths), blobs)
	}
	orig := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		orig[p] = b
	}
	const period = 10 * time.Second
	n := nodetest.StartNode(t, nodetest.Options{Dir: dir, InlineThreshold: -1, Tune: func(c *node.Config) {
		c.ScrubPeriod, c.ScrubStartDelay = period, 20*time.Millisecond
		c.ScrubStateFile = filepath.Join(dir, "scrub.state")
		c.ScrubPause = 15 * time.Millisecond // 2.9 s of a pass's time in pauses
	}})
	e = n.Engine
	flipAll := func() time.Time {
		for _, p := range paths {
			bad := bytes.Clone(orig[p])
			bad[len(bad)/3] ^= 0x08
			if err := os.WriteFile(p, bad, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return time.Now()
	}
	repaired := func(what string, at time.Time) {
		t.Helper()
		for {
			all := true
			for p, want := range orig {
				if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, want) {
					all = false
					break
				}
			}
			took := time.Since(at)
			if all && took <= period {
				t.Logf("%s: repaired %v after the flip (period %v)", what, took.Round(10*time.Millisecond), period)
				return
			}
			if took > period {
				t.Fatalf("%s: not every flipped shard is repaired within one scrub period (%v)", what, period)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Just after a pass ended: its last blob was verified a moment ago.
	waitFor(t, "a first pass", 60*time.Second, func() bool { return e.ScrubStatus().Passes >= 1 })
	repaired("flipped at the end of a pass", flipAll())
	// Just after a pass verified its first blob.
	passes := e.ScrubStatus().Passes
	waitFor(t, "the next pass under way", 60*time.Second, func() bool {
		st := e.ScrubStatus()
		return st.Passes > passes || (st.Running && st.PassBlobs >= 1)
	})
	repaired("flipped at the start of a pass", flipAll())
}

// TestScrubReportsEveryBadShard: when the scrub finds more bad shards
// than the healer's queue holds (a drive replaced empty), it waits for
// room rather than drop reports, so every shard it found is rebuilt in
// that pass, not one pass later (no read would find a parity shard).
func TestScrubReportsEveryBadShard(t *testing.T) {
	dir := t.TempDir()
	n := scrubNode(t, dir, 0)
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "c")
	const blobs = 1300 // more than the heal queue (1024)
	var wg sync.WaitGroup
	errs := make(chan error, blobs)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < blobs; i += 16 {
				if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: fmt.Sprint("k", i), Body: bytes.NewReader(randBytes(uint64(i), 4<<10)), Size: 4 << 10}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	paths := shardPaths(t, dir)["3"] // the last parity shard of every blob
	if len(paths) != blobs {
		t.Fatalf("%d files of shard 3, want %d", len(paths), blobs)
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := e.Scrub(ctx, 0)
	if err != nil || rep.Bad != blobs {
		t.Fatalf("scrub: %+v, %v", rep, err)
	}
	waitFor(t, "every shard the scrub found rebuilt", 120*time.Second, func() bool {
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				return false
			}
		}
		return true
	})
	if d := e.Stats().HealDropped; d != 0 {
		t.Errorf("%d heal reports dropped", d)
	}
}

// corruptArtifactRecord rewrites the metadata record of artifact
// tenant/container/key in the (closed) node's Pebble store under dir with
// mutate. The key is the metastore's artifact key ('f', table 0x06,
// length-prefixed tenant and container, then the key; metastore/keys.go).
func corruptArtifactRecord(t *testing.T, dir, container, key string, mutate func([]byte) []byte) {
	t.Helper()
	db, err := pebble.Open(filepath.Join(dir, "meta", "pebble"), &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := []byte{'f', 0x06}
	k = binary.AppendUvarint(k, uint64(len(tenant)))
	k = append(k, tenant...)
	k = binary.AppendUvarint(k, uint64(len(container)))
	k = append(k, container...)
	k = append(k, key...)
	v, closer, err := db.Get(k)
	if err != nil {
		t.Fatalf("artifact record of %s/%s: %v", container, key, err)
	}
	bad := mutate(bytes.Clone(v))
	closer.Close()
	if err := db.Set(k, bad, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// quietPebble drops Pebble's log lines (WAL replay) from test output.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// TestScrubSkipsBlobsItCannotVerify: a blob the scrub cannot verify at
// all (its artifact record does not decode; its shape is invalid) is
// counted, listed in the status and skipped: the pass completes and
// verifies, and repairs, every other blob. (Before, the pass stopped at
// the first such blob and retried from there every minute.)
func TestScrubSkipsBlobsItCannotVerify(t *testing.T) {
	dir := t.TempDir()
	setup := scrubNode(t, dir, 0)
	e, ctx := setup.Engine, context.Background()
	mustContainer(t, e, "c")
	const blobs = 12
	ids := map[string]string{} // key -> blob id
	for i := range blobs {
		key := fmt.Sprint("k", i)
		if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: key, Body: bytes.NewReader(randBytes(uint64(90+i), 128<<10)), Size: 128 << 10}); err != nil {
			t.Fatal(err)
		}
		a, err := setup.Meta.GetArtifact(ctx, tenant, "c", key)
		if err != nil || len(a.Parts) != 1 || a.Parts[0].Blob.ID == "" {
			t.Fatalf("artifact %s: %+v, %v", key, a, err)
		}
		ids[key] = a.Parts[0].Blob.ID
	}
	setup.Close()
	// k3's record is cut short (it no longer decodes); k7's blob says 0
	// data shards (the varint after its id; 2+2 is stored as 4).
	corruptArtifactRecord(t, dir, "c", "k3", func(v []byte) []byte { return v[:len(v)-5] })
	corruptArtifactRecord(t, dir, "c", "k7", func(v []byte) []byte {
		id := append(binary.AppendUvarint(nil, uint64(len(ids["k7"]))), ids["k7"]...)
		at := bytes.Index(v, id)
		if at < 0 || v[at+len(id)] != 4 {
			t.Fatalf("k7's record does not hold its blob id followed by 2 data shards")
		}
		v[at+len(id)] = 0
		return v
	})
	// Every blob loses a parity shard, which only the scrub finds.
	paths := shardPaths(t, dir)["3"]
	if len(paths) != blobs {
		t.Fatalf("%d files of shard 3, want %d", len(paths), blobs)
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}

	n := scrubNode(t, dir, time.Hour)
	e = n.Engine
	waitFor(t, "a complete scrub pass", 60*time.Second, func() bool { return e.ScrubStatus().Passes >= 1 })
	st := e.ScrubStatus()
	if st.LastPassErrors != 2 || st.LastPassBlobs != blobs-2 {
		t.Errorf("last pass: %d blobs, %d errors; want %d blobs, 2 errors", st.LastPassBlobs, st.LastPassErrors, blobs-2)
	}
	if st.LastPassBad != blobs-2 {
		t.Errorf("last pass found %d bad shards, want %d (the removed parity of every verifiable blob)", st.LastPassBad, blobs-2)
	}
	if got := e.Stats().ScrubErrors; got != 2 {
		t.Errorf("ScrubErrors = %d, want 2", got)
	}
	var sawRecord, sawBlob bool
	for _, se := range st.Errors {
		switch {
		case strings.Contains(se.Record, `key "k3"`) && se.Err != "":
			sawRecord = true
		case se.Blob == ids["k7"] && strings.Contains(se.Err, "data shards"):
			sawBlob = true
		default:
			t.Errorf("unexpected scrub error %+v", se)
		}
	}
	if !sawRecord || !sawBlob {
		t.Errorf("status errors %+v: want k3's record and k7's blob", st.Errors)
	}
	// The other blobs' parity is rebuilt.
	waitFor(t, "the verifiable blobs' parity rebuilt", 60*time.Second, func() bool {
		rebuilt := 0
		for _, p := range paths {
			if _, err := os.Stat(p); err == nil {
				rebuilt++
			}
		}
		return rebuilt == blobs-2 // not k3's (no record) nor k7's (no valid shape)
	})
	// A one-off pass goes past them too.
	rep, err := e.Scrub(ctx, 0)
	if err != nil || rep.Errors != 2 || rep.Blobs != blobs-2 || rep.Bad != 0 {
		t.Fatalf("one-off scrub: %+v, %v; want %d blobs, 2 errors, 0 bad", rep, err, blobs-2)
	}
	// The latest errors survive a restart, with the pass's figures.
	n.Close()
	n = scrubNode(t, dir, time.Hour)
	waitFor(t, "the errors listed after a restart", 10*time.Second, func() bool {
		st := n.Engine.ScrubStatus()
		return len(st.Errors) == 2 && st.LastPassErrors == 2
	})
}
