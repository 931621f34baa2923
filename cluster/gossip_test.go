package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testGossipNode is a Membership with metadata the test can change.
type testGossipNode struct {
	m       *Membership
	changes atomic.Int64
	mu      sync.Mutex
	meta    NodeMeta
}

func (n *testGossipNode) setMeta(f func(*NodeMeta)) {
	n.mu.Lock()
	f(&n.meta)
	n.mu.Unlock()
}

// startTestMembership starts a Membership on 127.0.0.1 (port 0 unless
// bind says otherwise), closed at cleanup.
func startTestMembership(t *testing.T, id string, secret Secret, bind string, mod ...func(*MembershipConfig)) *testGossipNode {
	t.Helper()
	if bind == "" {
		bind = "127.0.0.1:0"
	}
	n := &testGossipNode{meta: NodeMeta{
		Version: "v1.2.3", S3Addr: "127.0.0.1:9000", RPCAddr: "127.0.0.1:9001", AdminAddr: "127.0.0.1:9002",
		State:  NodeActive,
		Drives: []DriveMeta{{ID: id + "-d1", Total: 1 << 40, Free: 1 << 39, Online: true}},
	}}
	cfg := MembershipConfig{
		NodeID:   id,
		BindAddr: bind,
		Secret:   secret,
		Logger:   quietLogger(),
		Meta: func() NodeMeta {
			n.mu.Lock()
			defer n.mu.Unlock()
			m := n.meta
			m.Drives = append([]DriveMeta(nil), n.meta.Drives...)
			return m
		},
		OnChange: func() { n.changes.Add(1) },
	}
	for _, f := range mod {
		f(&cfg)
	}
	m, err := NewMembership(cfg)
	if err != nil {
		t.Fatalf("NewMembership %s: %v", id, err)
	}
	n.m = m
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close %s: %v", id, err)
		}
	})
	return n
}

func joinCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stateOf returns id's state as m sees it ("" if unknown).
func stateOf(m *Membership, id string) string {
	mem, ok := m.Member(id)
	if !ok {
		return ""
	}
	return mem.State.String()
}

func TestGossipThreeMembers(t *testing.T) {
	s := mustSecret(t)
	// A dead node may come back at a new address right away (the default
	// waits DefaultDeadNodeReclaimTime).
	reclaim := func(cfg *MembershipConfig) { cfg.DeadNodeReclaimTime = time.Millisecond }
	a := startTestMembership(t, "a", s, "", reclaim)
	b := startTestMembership(t, "b", s, "", reclaim)
	c := startTestMembership(t, "c", s, "", reclaim)
	if err := b.m.Join(joinCtx(t), []string{a.m.Addr()}); err != nil {
		t.Fatal(err)
	}
	if err := c.m.Join(joinCtx(t), []string{b.m.Addr(), a.m.Addr()}); err != nil {
		t.Fatal(err)
	}
	all := []*testGossipNode{a, b, c}
	for _, n := range all {
		eventually(t, "3 alive members", func() bool {
			return n.m.Counts()[MemberAlive] == 3
		})
	}
	for _, n := range all {
		mems := n.m.Members()
		if len(mems) != 3 {
			t.Fatalf("%d members", len(mems))
		}
		for i, want := range all {
			got := mems[i]
			id := []string{"a", "b", "c"}[i]
			if got.ID != id || got.State != MemberAlive || got.Self != (n == want) || got.GossipAddr != want.m.Addr() {
				t.Fatalf("member %d as seen by %s: %+v", i, n.m.cfg.NodeID, got)
			}
			wantMeta := want.meta
			wantMeta.ID = id
			if !reflect.DeepEqual(got.Meta, wantMeta) {
				t.Fatalf("meta of %s as seen by %s:\n got %+v\nwant %+v", id, n.m.cfg.NodeID, got.Meta, wantMeta)
			}
		}
		if n.changes.Load() == 0 {
			eventually(t, "OnChange", func() bool { return n.changes.Load() > 0 })
		}
	}

	// Metadata updates propagate.
	b.setMeta(func(m *NodeMeta) {
		m.State = NodeDraining
		m.Drives = append(m.Drives, DriveMeta{ID: "b-d2", Total: 100, Free: 7})
	})
	if err := b.m.Refresh(); err != nil {
		t.Fatal(err)
	}
	for _, n := range all {
		eventually(t, "b's new meta on "+n.m.cfg.NodeID, func() bool {
			mem, ok := n.m.Member("b")
			return ok && mem.Meta.State == NodeDraining && len(mem.Meta.Drives) == 2 && mem.Meta.Drives[1].Free == 7
		})
	}

	// Closed without Leave: Dead on the others, and still listed.
	if err := c.m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testGossipNode{a, b} {
		eventually(t, "c dead on "+n.m.cfg.NodeID, func() bool { return stateOf(n.m, "c") == "dead" })
		if got := n.m.Counts(); got[MemberAlive] != 2 || got[MemberDead] != 1 {
			t.Fatalf("counts %v", got)
		}
		if len(n.m.Members()) != 3 {
			t.Fatal("dead member not listed")
		}
	}

	// Graceful leave: Left on the others.
	if err := b.m.Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b left on a", func() bool { return stateOf(a.m, "b") == "left" })
	if err := b.m.Close(); err != nil {
		t.Fatal(err)
	}

	// c comes back under its id (a new process on a new port).
	c2 := startTestMembership(t, "c", s, "", reclaim)
	if err := c2.m.Join(joinCtx(t), []string{a.m.Addr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c alive again on a", func() bool { return stateOf(a.m, "c") == "alive" })
}

func TestGossipWrongSecretCannotJoin(t *testing.T) {
	s := mustSecret(t)
	a := startTestMembership(t, "a", s, "")
	b := startTestMembership(t, "b", s, "")
	if err := b.m.Join(joinCtx(t), []string{a.m.Addr()}); err != nil {
		t.Fatal(err)
	}
	evil := startTestMembership(t, "evil", mustSecret(t), "")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err := evil.m.Join(ctx, []string{a.m.Addr(), b.m.Addr()})
	if !errors.Is(err, ErrJoin) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join with a wrong secret: %v", err)
	}
	// The good members exchange gossip meanwhile; evil never shows up.
	eventually(t, "a and b see each other", func() bool {
		return a.m.Counts()[MemberAlive] == 2 && b.m.Counts()[MemberAlive] == 2
	})
	for _, n := range []*testGossipNode{a, b} {
		if _, ok := n.m.Member("evil"); ok || len(n.m.Members()) != 2 {
			t.Fatalf("evil appeared: %+v", n.m.Members())
		}
	}
	if len(evil.m.Members()) != 1 {
		t.Fatalf("evil sees %+v", evil.m.Members())
	}
}

// signalHandler is a slog.Handler that closes a channel on the first
// record whose message contains a substring.
type signalHandler struct {
	slog.Handler
	sub  string
	once *sync.Once
	ch   chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.sub) {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

func TestGossipJoinRetriesUntilSeedStarts(t *testing.T) {
	s := mustSecret(t)
	// A free port for the seed (released again: the seed binds it later).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seedAddr := l.Addr().String()
	l.Close()

	failed := make(chan struct{})
	joiner := startTestMembership(t, "joiner", s, "", func(cfg *MembershipConfig) {
		cfg.Logger = slog.New(signalHandler{sub: "cannot join cluster yet", once: new(sync.Once), ch: failed})
	})
	joined := make(chan error, 1)
	go func() { joined <- joiner.m.Join(joinCtx(t), []string{seedAddr}) }()
	select {
	case <-failed: // the first attempt failed: the seed is not there yet
	case err := <-joined:
		t.Fatalf("Join returned before the seed started: %v", err)
	}
	seed := startTestMembership(t, "seed", s, seedAddr)
	if err := <-joined; err != nil {
		t.Fatalf("Join: %v", err)
	}
	eventually(t, "seed sees joiner", func() bool { return stateOf(seed.m, "joiner") == "alive" })
	eventually(t, "joiner sees seed", func() bool { return stateOf(joiner.m, "seed") == "alive" })
}

func TestGossipJoinSelfOnly(t *testing.T) {
	a := startTestMembership(t, "a", mustSecret(t), "")
	if err := a.m.Join(joinCtx(t), []string{a.m.Addr()}); err != nil {
		t.Fatalf("joining only ourselves: %v", err)
	}
	if err := a.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.m.Refresh(); !errors.Is(err, ErrMembershipClosed) {
		t.Fatalf("Refresh after Close: %v", err)
	}
	if err := a.m.Join(joinCtx(t), []string{"127.0.0.1:1"}); !errors.Is(err, ErrMembershipClosed) {
		t.Fatalf("Join after Close: %v", err)
	}
}

func TestMembershipConfigValidate(t *testing.T) {
	s := mustSecret(t)
	tests := []struct {
		name string
		cfg  MembershipConfig
		want []string
	}{
		{"ok", MembershipConfig{NodeID: "n1", BindAddr: "127.0.0.1:0", Secret: s}, nil},
		{"ok advertise", MembershipConfig{NodeID: "n1", BindAddr: "0.0.0.0:7946", AdvertiseAddr: "10.1.2.3:7946", Secret: s}, nil},
		{"all wrong", MembershipConfig{BindAddr: "x", ProbeInterval: -1, SuspicionMult: -1},
			[]string{"NodeID", "BindAddr", "no cluster secret", "ProbeInterval", "suspicion"}},
		{"hostname advertise", MembershipConfig{NodeID: "n1", BindAddr: ":1", AdvertiseAddr: "node1:7946", Secret: s}, []string{"IP address"}},
		{"bad port", MembershipConfig{NodeID: "n1", BindAddr: "127.0.0.1:99999", Secret: s}, []string{"bad port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNodeMetaRoundTrip(t *testing.T) {
	tests := []NodeMeta{
		{ID: "n1"},
		{ID: "n1", Version: "v0.1.0", S3Addr: "10.0.0.1:9000", RPCAddr: "10.0.0.1:9001", AdminAddr: "10.0.0.1:9002", State: NodeDraining,
			Drives: []DriveMeta{{ID: "d1", Total: 1 << 42, Free: 0, Online: true}, {ID: "d2", Total: -1, Free: 5}}, ClusterVersion: 2},
		{ID: "n", State: NodeLeaving, Drives: []DriveMeta{}},
	}
	for i, want := range tests {
		b, err := encodeNodeMeta(want, 512)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeNodeMeta(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Drives) == 0 {
			want.Drives = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d: got %+v, want %+v", i, got, want)
		}
	}
	// Trailing bytes from a later release are ignored.
	b, _ := encodeNodeMeta(tests[1], 512)
	if got, err := decodeNodeMeta(append(b, 9, 9, 9)); err != nil || got.S3Addr != tests[1].S3Addr || got.ClusterVersion != 2 {
		t.Fatalf("with trailing bytes: %+v, %v", got, err)
	}
	// The first release sent no cluster version: it reads as 0.
	if got, err := decodeNodeMeta(b[:len(b)-1]); err != nil || got.ClusterVersion != 0 || len(got.Drives) != 2 {
		t.Fatalf("without the cluster version: %+v, %v", got, err)
	}
	// Another layout version is refused, not misread.
	b[0] = 2
	if _, err := decodeNodeMeta(b); !errors.Is(err, errMetaFormat) {
		t.Fatalf("version 2: %v", err)
	}
}

func TestNodeMetaManyDrivesTruncated(t *testing.T) {
	meta := NodeMeta{
		ID: "node-with-a-rather-long-identifier-0001", Version: "v1.0.0-rc.1+build.20261122",
		S3Addr: "[fd00:1234:5678:9abc::1]:9000", RPCAddr: "[fd00:1234:5678:9abc::1]:9001", AdminAddr: "[fd00:1234:5678:9abc::1]:9002",
		State: NodeActive,
	}
	for i := 0; i < 16; i++ {
		meta.Drives = append(meta.Drives, DriveMeta{
			ID:    fmt.Sprintf("node-with-a-rather-long-identifier-0001/mnt/disk%02d", i),
			Total: 18 << 40, Free: int64(i) << 38, Online: i%3 != 0,
		})
	}
	b, err := encodeNodeMeta(meta, 512)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 512 {
		t.Fatalf("encoded %d bytes", len(b))
	}
	got, err := decodeNodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DrivesTruncated || len(got.Drives) == 0 || len(got.Drives) >= 16 {
		t.Fatalf("truncated=%v with %d drives", got.DrivesTruncated, len(got.Drives))
	}
	if !reflect.DeepEqual(got.Drives, meta.Drives[:len(got.Drives)]) {
		t.Fatal("kept drives are not a prefix of the drives")
	}
	if got.ID != meta.ID || got.AdminAddr != meta.AdminAddr {
		t.Fatalf("fields lost: %+v", got)
	}
	// It fits no more: one more drive would pass the limit.
	one := meta
	one.Drives = meta.Drives[:len(got.Drives)+1]
	one.DrivesTruncated = false
	if full, _ := encodeNodeMeta(NodeMeta{ID: one.ID, Version: one.Version, S3Addr: one.S3Addr, RPCAddr: one.RPCAddr, AdminAddr: one.AdminAddr, Drives: one.Drives}, 1<<20); len(full) <= 512 {
		t.Fatalf("%d drives would have fit (%d bytes)", len(one.Drives), len(full))
	}

	// Fields that cannot fit at all: the ID and state still go out.
	huge := NodeMeta{ID: "n1", State: NodeDraining, S3Addr: strings.Repeat("x", 600)}
	b, err = encodeNodeMeta(huge, 512)
	if err == nil || len(b) > 512 {
		t.Fatalf("huge: %d bytes, %v", len(b), err)
	}
	if got, err := decodeNodeMeta(b); err != nil || got.ID != "n1" || got.State != NodeDraining || got.S3Addr != "" {
		t.Fatalf("huge decoded: %+v, %v", got, err)
	}
}

func TestStateStrings(t *testing.T) {
	for s, want := range map[fmt.Stringer]string{
		NodeJoining: "joining", NodeActive: "active", NodeDraining: "draining", NodeLeaving: "leaving",
		MemberAlive: "alive", MemberSuspect: "suspect", MemberDead: "dead", MemberLeft: "left",
		NodeState(9): "nodestate(9)", MemberState(9): "memberstate(9)",
	} {
		if s.String() != want {
			t.Errorf("%v != %s", s, want)
		}
	}
}

func FuzzDecodeNodeMeta(f *testing.F) {
	b, _ := encodeNodeMeta(NodeMeta{ID: "n1", S3Addr: "a:1", Drives: []DriveMeta{{ID: "d", Total: 5, Free: 3, Online: true}}}, 512)
	f.Add(b)
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		meta, err := decodeNodeMeta(in)
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes the same.
		out, err := encodeNodeMeta(meta, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeNodeMeta(out)
		if err != nil {
			t.Fatal(err)
		}
		again.DrivesTruncated = meta.DrivesTruncated
		if !reflect.DeepEqual(again, meta) {
			t.Fatalf("%+v != %+v", again, meta)
		}
	})
}

// TestGossipReconnectsToDeadMembers: when a member held Dead answers again
// at its address without joining anyone (a healed partition looks the
// same to gossip), the reconnect loop merges the two views.
func TestGossipReconnectsToDeadMembers(t *testing.T) {
	s := mustSecret(t)
	fast := func(cfg *MembershipConfig) { cfg.ReconnectInterval = 200 * time.Millisecond }
	a := startTestMembership(t, "a", s, "", fast)
	b := startTestMembership(t, "b", s, "", fast)
	if err := b.m.Join(joinCtx(t), []string{a.m.Addr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b alive on a", func() bool { return stateOf(a.m, "b") == "alive" })
	addr := b.m.Addr()
	if err := b.m.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b dead on a", func() bool { return stateOf(a.m, "b") == "dead" })
	if mem, _ := a.m.Member("b"); mem.DeadSince.IsZero() {
		t.Fatalf("dead member without DeadSince: %+v", mem)
	}
	// b comes back at the same address and joins no one: only a's
	// reconnect loop can bring the two together.
	b2 := startTestMembership(t, "b", s, addr, fast)
	eventually(t, "b alive again on a", func() bool { return stateOf(a.m, "b") == "alive" })
	eventually(t, "a alive on b", func() bool { return stateOf(b2.m, "a") == "alive" })
	if mem, _ := a.m.Member("b"); !mem.DeadSince.IsZero() {
		t.Fatalf("alive member with DeadSince: %+v", mem)
	}
}
