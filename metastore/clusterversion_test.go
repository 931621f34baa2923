package metastore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"
)

// openAtV1 opens a bootstrapped single node whose cluster version was never
// set, as a cluster upgraded from the first release is.
func openAtV1(t *testing.T) *Store {
	t.Helper()
	cfg := testConfig("n1", t.TempDir())
	cfg.Bootstrap = true
	_, trans := raft.NewInmemTransport("n1-addr")
	cfg.Transport = trans
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(); trans.Close() })
	mustNoErr(t, s.db.Delete(keyFreshCluster, pebble.Sync))
	mustNoErr(t, s.WaitLeader(ctxT(t)))
	return s
}

// withSince pretends, for one test, that put-tenant was introduced at
// cluster version 2.
func withSince(t *testing.T, typ cmdType, since ...int) {
	old, had := cmdSince[typ]
	cmdSince[typ] = since
	t.Cleanup(func() {
		if had {
			cmdSince[typ] = old
		} else {
			delete(cmdSince, typ)
		}
	})
}

func TestFreshClusterStartsAtSupportedVersion(t *testing.T) {
	s := openSingle(t, t.TempDir())
	if got := s.ClusterVersion(); got != SupportedClusterVersion {
		t.Fatalf("fresh cluster version %d, want %d", got, SupportedClusterVersion)
	}
	if v, _ := getCopy(s.db, keyFreshCluster); v != nil {
		t.Fatal("fresh-cluster marker left behind")
	}
}

func TestFreshClusterVersionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig("n1", dir)
	cfg.Bootstrap = true
	_, trans := raft.NewInmemTransport("n1-addr")
	cfg.Transport = trans
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Stopped before it ever led: the marker must finish the job later.
	mustNoErr(t, s.Close())
	trans.Close()
	s = openSingle(t, dir)
	if got := s.ClusterVersion(); got != SupportedClusterVersion {
		t.Fatalf("version after restart %d, want %d", got, SupportedClusterVersion)
	}
}

func TestGateRefusesNewCommandsUntilVersionRaised(t *testing.T) {
	withSince(t, cmdPutTenant, ClusterVersion2)
	s := openAtV1(t)
	if got := s.ClusterVersion(); got != ClusterVersion1 {
		t.Fatalf("version %d, want 1", got)
	}
	before := s.fsm.applied.Load()
	err := s.PutTenant(ctxT(t), Tenant{ID: "acme", State: TenantActive})
	wantErr(t, err, ErrUpgradeRequired)
	if s.fsm.applied.Load() != before {
		t.Fatal("a gated command reached the log")
	}
	if _, err := s.GetTenant(ctxT(t), "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("gated write changed state: %v", err)
	}
	// A command of the first release still passes.
	mustNoErr(t, s.CreateTenant(ctxT(t), Tenant{ID: "old", State: TenantActive}))

	mustNoErr(t, s.SetClusterVersion(ctxT(t), ClusterVersion2))
	if got := s.ClusterVersion(); got != ClusterVersion2 {
		t.Fatalf("version %d after raise, want 2", got)
	}
	mustNoErr(t, s.PutTenant(ctxT(t), Tenant{ID: "acme", State: TenantActive}))
	// Never lowered.
	mustNoErr(t, s.SetClusterVersion(ctxT(t), ClusterVersion1))
	if got := s.ClusterVersion(); got != ClusterVersion2 {
		t.Fatalf("version lowered to %d", got)
	}
	wantErr(t, s.SetClusterVersion(ctxT(t), SupportedClusterVersion+1), ErrInvalidArgument)
}

// The state machine refuses, alike on every node, a gated command that got
// into the log anyway (a leader that skipped the check).
func TestStateMachineRefusesGatedCommand(t *testing.T) {
	withSince(t, cmdPutTenant, ClusterVersion2)
	f := newFSMHarness(t, t.TempDir()).f
	cmd := encodeCommand(cmdPutTenant, newRequestID(), time.Now(), &putTenantCmd{Tenant{ID: "acme"}})
	res := f.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogCommand, Data: cmd}})
	if _, err := decodeResult(res[0].([]byte)); !errors.Is(err, ErrUpgradeRequired) {
		t.Fatalf("apply: %v, want ErrUpgradeRequired", err)
	}
	if v, _ := getCopy(f.db, tenantKey("acme")); v != nil {
		t.Fatal("refused command wrote state")
	}
	raise := encodeCommand(cmdSetClusterVersion, newRequestID(), time.Now(), &setClusterVersionCmd{v: ClusterVersion2})
	cmd2 := encodeCommand(cmdPutTenant, newRequestID(), time.Now(), &putTenantCmd{Tenant{ID: "acme"}})
	res = f.ApplyBatch([]*raft.Log{
		{Index: 2, Type: raft.LogCommand, Data: raise},
		{Index: 3, Type: raft.LogCommand, Data: cmd2},
	})
	if _, err := decodeResult(res[1].([]byte)); err != nil {
		t.Fatalf("after raise in the same batch: %v", err)
	}
}

func TestStateMachineStopsOnVersionItCannotApply(t *testing.T) {
	f := newFSMHarness(t, t.TempDir()).f
	cmd := encodeCommand(cmdSetClusterVersion, newRequestID(), time.Now(), &setClusterVersionCmd{v: SupportedClusterVersion + 1})
	defer func() {
		if recover() == nil {
			t.Fatal("applying a version above the supported one did not stop the node")
		}
	}()
	f.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogCommand, Data: cmd}})
}

// A node whose metadata was raised past what its binary supports (an old
// binary put back after finalisation) refuses to open, naming the
// version it needs, and leaves the state as it was.
func TestOpenRefusesNewerClusterVersion(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	mustNoErr(t, s.Close())
	db, err := pebble.Open(dir+"/pebble", &pebble.Options{})
	mustNoErr(t, err)
	e := encoder{}
	e.uvarint(SupportedClusterVersion + 1)
	mustNoErr(t, db.Set(keyClusterVersion, e.b, pebble.Sync))
	mustNoErr(t, db.Close())
	cfg := testConfig("n1", dir)
	_, trans := raft.NewInmemTransport("n1-addr")
	defer trans.Close()
	cfg.Transport = trans
	_, err = Open(context.Background(), cfg)
	wantErr(t, err, ErrBinaryTooOld)
	want := fmt.Sprintf("supports cluster version %d", SupportedClusterVersion+1)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}
