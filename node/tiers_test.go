package node_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/mem"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// tierNode is a test node whose tiers all live in one in-memory driver
// behind a fault driver; the secret "good" is the only one accepted.
type tierNode struct {
	*nodetest.Node
	remote *mem.Driver
	faults *fault.Driver
	skew   atomic.Int64 // added to the engine's clock
}

func startTierNode(t *testing.T) *tierNode {
	tn := &tierNode{remote: mem.New()}
	tn.faults = fault.New(tn.remote)
	tn.Node = nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1, GCDelay: time.Millisecond, Tune: func(c *node.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(tn.skew.Load())) }
		c.TierOpener = func(tr metastore.Tier, secret string) (drivers.Driver, error) {
			if tr.Bucket == "missing" {
				return fault.New(mem.New()), errors.New("no such bucket")
			}
			if secret != "good" {
				f := fault.New(mem.New())
				f.Inject(fault.Rule{Op: fault.OpAll, Err: drivers.ErrUnavailable})
				return f, nil
			}
			return tn.faults, nil
		}
	}})
	return tn
}

func remoteObjects(t *testing.T, d drivers.Driver) []string {
	t.Helper()
	var names []string
	if err := d.List(context.Background(), "", func(i drivers.Info) error { names = append(names, i.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestTierAddRefusesBadCredentials(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	spec := metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}
	if _, err := e.AddTier(ctx, spec, "wrong"); !errors.Is(err, node.ErrTierCheck) {
		t.Fatalf("wrong secret: %v", err)
	}
	missing := spec
	missing.Bucket = "missing"
	if _, err := e.AddTier(ctx, missing, "good"); !errors.Is(err, node.ErrTierCheck) {
		t.Fatalf("missing bucket: %v", err)
	}
	bad := spec
	bad.Name = "a/b"
	if _, err := e.AddTier(ctx, bad, "good"); !errors.Is(err, node.ErrInvalidArgument) {
		t.Fatalf("bad name: %v", err)
	}
	if ts, _ := e.ListTiers(ctx); len(ts) != 0 {
		t.Fatalf("a refused tier was saved: %+v", ts)
	}
	if _, err := e.AddTier(ctx, spec, "good"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddTier(ctx, spec, "good"); !errors.Is(err, node.ErrTierExists) {
		t.Fatalf("second add: %v", err)
	}
	if _, err := e.EditTier(ctx, "cold", node.TierEdit{SecretKey: "wrong"}); !errors.Is(err, node.ErrTierCheck) {
		t.Fatalf("edit with a wrong secret: %v", err)
	}
	if err := e.VerifyTier(ctx, "cold"); err != nil {
		t.Fatalf("verify after a refused edit: %v", err)
	}
	if len(remoteObjects(t, tn.remote)) != 0 {
		t.Fatalf("the round trip left objects: %v", remoteObjects(t, tn.remote))
	}
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "nope"); !errors.Is(err, node.ErrContainerNotFound) {
		t.Fatalf("transition in a missing container: %v", err)
	}
}

func TestTransitionReadDeleteRecall(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK", StorageClasses: []string{"STANDARD_IA"}}, "good"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	data := randBytes(7, 3<<20+123)
	put(t, e, "c", "k", data)
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "nope"); !errors.Is(err, node.ErrTierNotFound) {
		t.Fatalf("unknown tier: %v", err)
	}
	info, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "cold")
	if err != nil {
		t.Fatal(err)
	}
	if info.StorageClass != "STANDARD_IA" {
		t.Fatalf("storage class %q", info.StorageClass)
	}
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("transitioned artifact reads back other bytes")
	}
	if got := read(t, e, "c", "k", 1<<20+5, 1000); !bytes.Equal(got, data[1<<20+5:1<<20+1005]) {
		t.Fatal("ranged read of a transitioned artifact differs")
	}
	// The local shards go (GC delay 1ms).
	deadline := time.Now().Add(10 * time.Second)
	for shardFiles(t, tn.Node) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d local shard files left after the transition", shardFiles(t, tn.Node))
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts, _ := e.ListTiers(ctx)
	if ts[0].Artifacts != 1 || ts[0].Bytes != int64(len(data)) {
		t.Fatalf("tier usage %+v", ts[0])
	}

	// Corrupt remote bytes are detected, never served.
	names := remoteObjects(t, tn.remote)
	if len(names) != 1 {
		t.Fatalf("remote objects %v", names)
	}
	orig := readAll(t, tn.remote, names[0])
	bad := bytes.Clone(orig)
	bad[len(bad)/2] ^= 0xff
	if _, err := tn.remote.Put(ctx, names[0], bytes.NewReader(bad)); err != nil {
		t.Fatal(err)
	}
	r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var sink bytes.Buffer
	if err := r.WriteRange(ctx, &sink, 0, int64(len(data))); err == nil {
		t.Fatal("corrupt remote bytes were served")
	}
	if bytes.Contains(sink.Bytes(), data[len(data)/2-100:len(data)/2+100]) && sink.Len() > len(data)/2 {
		t.Fatal("the corrupt block reached the client")
	}
	if _, err := tn.remote.Put(ctx, names[0], bytes.NewReader(orig)); err != nil {
		t.Fatal(err)
	}

	// Tier down: 503, remembered once.
	f := tn.faults.Inject(fault.Rule{Op: fault.OpAll, Err: drivers.ErrUnavailable})
	r, _ = e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "k"})
	if err := r.WriteRange(ctx, io.Discard, 0, 10); !errors.Is(err, node.ErrUnavailable) {
		t.Fatalf("read with the tier down: %v", err)
	}
	if down := e.TierDown(); len(down) != 1 || down[0] != "cold" {
		t.Fatalf("TierDown = %v", down)
	}
	f.Remove()

	// A tier that holds a version cannot go; recall brings it back.
	if err := e.RemoveTier(ctx, "cold"); !errors.Is(err, node.ErrTierInUse) {
		t.Fatalf("remove a tier in use: %v", err)
	}
	var seen []node.RecallProgress
	rp, err := e.RecallTier(ctx, "cold", 0, func(p node.RecallProgress) { seen = append(seen, p) })
	if err != nil || rp.Done != 1 || rp.Bytes != int64(len(data)) || len(seen) != 1 {
		t.Fatalf("recall: %+v %v", rp, err)
	}
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("recalled artifact reads back other bytes")
	}
	if err := e.RemoveTier(ctx, "cold"); err != nil {
		t.Fatalf("remove after recall: %v", err)
	}
	if n := remoteObjects(t, tn.remote); len(n) != 0 {
		t.Fatalf("remote objects after recall and remove: %v", n)
	}
}

func TestRemoteDeletesAfterOverwriteAndDelete(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}, "good"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	for _, k := range []string{"a", "b"} {
		put(t, e, "c", k, randBytes(1, 100<<10))
		if _, err := e.TransitionVersion(ctx, tenant, "c", k, "", "cold"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(remoteObjects(t, tn.remote)); n != 2 {
		t.Fatalf("%d remote objects", n)
	}
	put(t, e, "c", "a", []byte("new bytes, local"))
	if _, err := e.DeleteArtifact(ctx, tenant, node.DeleteInput{Container: "c", Key: "b"}); err != nil {
		t.Fatal(err)
	}
	// While the remote is down the queue keeps its entries.
	f := tn.faults.Inject(fault.Rule{Op: fault.OpDelete, Err: drivers.ErrUnavailable})
	if n, _ := e.DrainTierJournal(ctx); n != 0 {
		t.Fatalf("drained %d entries with the remote down", n)
	}
	if n := len(remoteObjects(t, tn.remote)); n != 2 {
		t.Fatalf("%d remote objects", n)
	}
	f.Remove()
	if n, err := e.DrainTierJournal(ctx); n != 2 || err != nil {
		t.Fatalf("drain: %d %v", n, err)
	}
	if n := remoteObjects(t, tn.remote); len(n) != 0 {
		t.Fatalf("remote objects after the drain: %v", n)
	}
	ts, _ := e.ListTiers(ctx)
	if ts[0].Artifacts != 0 || ts[0].Bytes != 0 || ts[0].Pending != 0 {
		t.Fatalf("tier after the drain: %+v", ts[0])
	}
}

func TestTransitionFailureLeavesNoGarbage(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}, "good"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	data := randBytes(3, 200<<10)
	put(t, e, "c", "k", data)
	f := tn.faults.Inject(fault.Rule{Op: fault.OpPut, Err: drivers.ErrUnavailable})
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "cold"); !errors.Is(err, node.ErrTierUnavailable) {
		t.Fatalf("transition with the tier down: %v", err)
	}
	f.Remove()
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("a failed transition changed the artifact")
	}
	ts, _ := e.ListTiers(ctx)
	if ts[0].Pending != 0 || len(remoteObjects(t, tn.remote)) != 0 {
		t.Fatalf("garbage after a failed transition: %+v %v", ts[0], remoteObjects(t, tn.remote))
	}
}

func readAll(t *testing.T, d drivers.Driver, name string) []byte {
	t.Helper()
	r, err := d.Open(context.Background(), name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var _ = strings.Contains

func TestArchiveRestoreAndExpiry(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "deep", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK", Archive: true}, "good"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	data := randBytes(9, 1<<20+17)
	put(t, e, "c", "k", data)
	if _, err := e.RestoreVersion(ctx, tenant, "c", "k", "", 1); !errors.Is(err, node.ErrInvalidObjectState) {
		t.Fatalf("restore of a local version: %v", err)
	}
	info, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "deep")
	if err != nil || info.StorageClass != "GLACIER" {
		t.Fatalf("transition: %+v %v", info, err)
	}
	ref := node.VersionRef{Container: "c", Key: "k"}
	if _, err := e.OpenArtifact(ctx, tenant, ref); !errors.Is(err, node.ErrInvalidObjectState) {
		t.Fatalf("GET on an archive tier: %v", err)
	}
	if _, err := e.RestoreVersion(ctx, tenant, "c", "k", "", 0); !errors.Is(err, node.ErrInvalidArgument) {
		t.Fatalf("restore for 0 days: %v", err)
	}
	res, err := e.RestoreVersion(ctx, tenant, "c", "k", "", 2)
	if err != nil || res.Already {
		t.Fatalf("restore: %+v %v", res, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		h, err := e.HeadArtifact(ctx, tenant, ref)
		if err != nil {
			t.Fatal(err)
		}
		if !h.RestoreOngoing {
			if !h.RestoreExpiry.After(time.Now().Add(2 * 24 * time.Hour)) {
				t.Fatalf("restore expiry %v", h.RestoreExpiry)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the restore did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("the restored copy reads back other bytes")
	}
	if res, err := e.RestoreVersion(ctx, tenant, "c", "k", "", 5); err != nil || !res.Already {
		t.Fatalf("second restore: %+v %v", res, err)
	}
	if n, err := e.ExpireRestores(ctx); n != 0 || err != nil {
		t.Fatalf("expired %d restores too early (%v)", n, err)
	}
	tn.skew.Store(int64(7 * 24 * time.Hour))
	if n, err := e.ExpireRestores(ctx); n != 1 || err != nil {
		t.Fatalf("expired %d restores, want 1 (%v)", n, err)
	}
	if _, err := e.OpenArtifact(ctx, tenant, ref); !errors.Is(err, node.ErrInvalidObjectState) {
		t.Fatalf("GET after the restore expired: %v", err)
	}
	for shardFiles(t, tn.Node) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d local shard files left after the restore expired", shardFiles(t, tn.Node))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Deleting a restored version drops its copy and its index entry.
	if _, err := e.RestoreVersion(ctx, tenant, "c", "k", "", 1); err != nil {
		t.Fatal(err)
	}
	for h, _ := e.HeadArtifact(ctx, tenant, ref); h.RestoreOngoing; h, _ = e.HeadArtifact(ctx, tenant, ref) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := e.DeleteArtifact(ctx, tenant, node.DeleteInput{Container: "c", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	tn.skew.Store(int64(30 * 24 * time.Hour))
	if _, err := e.ExpireRestores(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.ExpireRestores(ctx); n != 0 {
		t.Fatalf("a deleted version's restore stayed in the index")
	}
}

// TestTransitionVersionedAndLocked moves a noncurrent version of a locked,
// versioned container: the version keeps its lock and id, the latest stays
// local, and a delete of the locked version is still refused.
func TestTransitionVersionedAndLocked(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}, "good"); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "v", ObjectLock: true}); err != nil {
		t.Fatal(err)
	}
	old := randBytes(11, 300<<10)
	v1 := put(t, e, "v", "k", old)
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	if _, err := e.SetRetention(ctx, tenant, node.VersionRef{Container: "v", Key: "k", VersionID: v1.VersionID}, node.Retention{Mode: "COMPLIANCE", Until: until}, false); err != nil {
		t.Fatal(err)
	}
	cur := randBytes(12, 200<<10)
	put(t, e, "v", "k", cur)
	info, err := e.TransitionVersion(ctx, tenant, "v", "k", v1.VersionID, "cold")
	if err != nil {
		t.Fatal(err)
	}
	if info.VersionID != v1.VersionID || info.Retention.Mode != "COMPLIANCE" || !info.Retention.Until.Equal(until) {
		t.Fatalf("transitioned version lost its id or lock: %+v", info)
	}
	r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "v", Key: "k", VersionID: v1.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteRange(ctx, &buf, 0, int64(len(old))); err != nil || !bytes.Equal(buf.Bytes(), old) {
		t.Fatalf("noncurrent version from the tier: %v", err)
	}
	if got := read(t, e, "v", "k", 0, -1); !bytes.Equal(got, cur) {
		t.Fatal("the latest version changed")
	}
	if _, err := e.DeleteArtifact(ctx, tenant, node.DeleteInput{Container: "v", Key: "k", VersionID: v1.VersionID}); !errors.Is(err, node.ErrObjectLocked) {
		t.Fatalf("delete of a locked transitioned version: %v", err)
	}
	if n := len(remoteObjects(t, tn.remote)); n != 1 {
		t.Fatalf("%d remote objects", n)
	}
}

// TestCrashLeftoversAndHangingRemote: what a transition that crashed
// after its upload leaves (an intent and a remote object) is deleted once
// the intent times out, never before; a remote that hangs fails
// transitions and reads by the caller's deadline, leaving nothing behind.
func TestCrashLeftoversAndHangingRemote(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}, "good"); err != nil {
		t.Fatal(err)
	}
	// The state a crash between upload and commit leaves.
	const orphan = "0123456789abcdef0123456789abcdef"
	if err := tn.Meta.AddTierIntent(ctx, "cold", orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.remote.Put(ctx, "blobs/01/"+orphan+"/0", strings.NewReader("uploaded bytes")); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.DrainTierJournal(ctx); n != 0 || len(remoteObjects(t, tn.remote)) != 1 {
		t.Fatal("a young intent was treated as garbage: its transition may still commit")
	}
	tn.skew.Store(int64(2 * node.DefaultTierIntentTimeout))
	if n, err := e.DrainTierJournal(ctx); n != 1 || err != nil {
		t.Fatalf("drained %d (%v), want the orphan", n, err)
	}
	if names := remoteObjects(t, tn.remote); len(names) != 0 {
		t.Fatalf("orphans left: %v", names)
	}
	tn.skew.Store(0)

	mustContainer(t, e, "c")
	data := randBytes(5, 400<<10)
	put(t, e, "c", "k", data)
	f := tn.faults.Inject(fault.Rule{Op: fault.OpPut, Latency: time.Hour})
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err := e.TransitionVersion(tctx, tenant, "c", "k", "", "cold")
	cancel()
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("transition to a hanging remote: %v after %v", err, time.Since(start))
	}
	f.Remove()
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("the artifact changed")
	}
	if ts, _ := e.ListTiers(ctx); ts[0].Pending != 0 || ts[0].Artifacts != 0 {
		t.Fatalf("tier after a timed-out transition: %+v", ts[0])
	}
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "cold"); err != nil {
		t.Fatal(err)
	}
	f = tn.faults.Inject(fault.Rule{Op: fault.OpOpen, Latency: time.Hour})
	defer f.Remove()
	r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer rcancel()
	start = time.Now()
	if err := r.WriteRange(rctx, io.Discard, 0, int64(len(data))); err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("read from a hanging remote: %v after %v", err, time.Since(start))
	}
}

// TestVersionMoveIsNotARemoteDelete: a transitioned latest version that
// becomes noncurrent (a new PUT on a versioned bucket) moves between
// tables; the journal entry that move leaves is cleared without deleting
// the remote object, which the version still names.
func TestVersionMoveIsNotARemoteDelete(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK"}, "good"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "v")
	if err := e.SetVersioning(ctx, tenant, "v", "Enabled"); err != nil {
		t.Fatal(err)
	}
	old := randBytes(13, 300<<10)
	v1 := put(t, e, "v", "k", old)
	if _, err := e.TransitionVersion(ctx, tenant, "v", "k", "", "cold"); err != nil {
		t.Fatal(err)
	}
	put(t, e, "v", "k", []byte(strings.Repeat("new", 10000)))
	if _, err := e.DrainTierJournal(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(remoteObjects(t, tn.remote)); n != 1 {
		t.Fatalf("%d remote objects after the version became noncurrent", n)
	}
	ts, _ := e.ListTiers(ctx)
	if ts[0].Pending != 0 || ts[0].Artifacts != 1 {
		t.Fatalf("tier: %+v", ts[0])
	}
	r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "v", Key: "k", VersionID: v1.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteRange(ctx, &buf, 0, int64(len(old))); err != nil || !bytes.Equal(buf.Bytes(), old) {
		t.Fatalf("noncurrent version: %v", err)
	}
	// Deleting it for good deletes the remote object.
	if _, err := e.DeleteArtifact(ctx, tenant, node.DeleteInput{Container: "v", Key: "k", VersionID: v1.VersionID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DrainTierJournal(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(remoteObjects(t, tn.remote)); n != 0 {
		t.Fatalf("%d remote objects after the version was deleted", n)
	}
}

// TestLifecycleTransitionNeedsATier: a lifecycle Transition rule is
// accepted only for a storage class a tier serves.
func TestLifecycleTransitionNeedsATier(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	mustContainer(t, e, "c")
	rule := func(class string) node.LifecycleConfig {
		return node.LifecycleConfig{Rules: []node.LifecycleRule{{ID: "r", Enabled: true,
			Transitions: []node.LifecycleTransition{{Days: 30, StorageClass: class}}}}}
	}
	var te *node.TierError
	if err := e.SetLifecycleConfiguration(ctx, tenant, "c", rule("GLACIER")); !errors.As(err, &te) {
		t.Fatalf("transition rule without a tier: %v", err)
	}
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "deep", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK",
		Archive: true, StorageClasses: []string{"GLACIER", "DEEP_ARCHIVE"}}, "good"); err != nil {
		t.Fatal(err)
	}
	if err := e.SetLifecycleConfiguration(ctx, tenant, "c", rule("DEEP_ARCHIVE")); err != nil {
		t.Fatalf("transition rule to a class a tier serves: %v", err)
	}
	if err := e.SetLifecycleConfiguration(ctx, tenant, "c", rule("STANDARD_IA")); !errors.As(err, &te) {
		t.Fatalf("transition rule to a class no tier serves: %v", err)
	}
	if tier, err := e.TierOf(ctx, "GLACIER"); err != nil || tier != "deep" {
		t.Fatalf("TierOf(GLACIER) = %q, %v", tier, err)
	}
}
