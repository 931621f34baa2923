package node_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
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
}

func startTierNode(t *testing.T) *tierNode {
	tn := &tierNode{remote: mem.New()}
	tn.faults = fault.New(tn.remote)
	tn.Node = nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1, GCDelay: time.Millisecond, Tune: func(c *node.Config) {
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
