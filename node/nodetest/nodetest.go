// Package nodetest starts real single-node Engines for tests: local drives
// in a temporary directory, a one-voter Raft metastore on Pebble, and a root
// tenant with an access key. Nothing in it is a fake; it only saves tests
// the wiring that cmd/vaultaire does for the server.
package nodetest

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vaultaire/vaultaire/drivers/local"
	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// Options shape a test node. Zero values pick the embedded default: 4
// drives, erasure 2+2, a fresh t.TempDir().
type Options struct {
	// Dir holds the node's data; reuse it to restart a node.
	Dir    string
	Drives int
	Shape  erasure.Shape
	// InlineThreshold, GCDelay as node.Config (0: defaults; use -1 for
	// InlineThreshold to store everything in shards).
	InlineThreshold int
	GCDelay         time.Duration
	MinPartSize     int64
	// Wrap lets a test interpose on each drive (for example a fault driver).
	Wrap func(i int, d *local.Drive) node.Drive
	// Peers are the other nodes' drives; with Peers and a zero Shape the
	// engine chooses each blob's shape (node.AutoShape).
	Peers node.Peers
	// NodeRemoved and RelocateInterval as node.Config: which peers left
	// the cluster for good, and how often the relocator moves their
	// shards (0: only when a test calls Engine.Relocate).
	NodeRemoved      func(node string) bool
	RelocateInterval time.Duration
	// MetaNow is the metastore's proposer clock (object lock decisions,
	// usage hours); nil is time.Now.
	MetaNow func() time.Time
	// PasswordCost is the bcrypt cost of password hashes; 0 means
	// MinPasswordCost, which keeps tests fast (benchmarks of logins set
	// node.PasswordCost).
	PasswordCost int
	// UploadExpiry and Now as node.Config (the multipart upload expiry
	// and its clock).
	UploadExpiry time.Duration
	Now          func() time.Time
	// Tune, when set, adjusts the engine's configuration last.
	Tune func(*node.Config)
}

// MinPasswordCost is bcrypt's lowest cost, what test nodes hash with
// unless Options.PasswordCost says otherwise.
const MinPasswordCost = 4

// Node is a running test node.
type Node struct {
	Engine *node.Engine
	Meta   *metastore.Store
	Drives []*local.Drive
	Dir    string
	Cred   node.Credential
	closed bool
}

// Root credentials of every test node.
const (
	AccessKey = "VATESTROOTKEY"
	SecretKey = "vaultaire-test-secret-key"
)

// Start runs a default node and returns its engine and root credential; the
// node is closed when the test ends.
func Start(t testing.TB) (*node.Engine, node.Credential) {
	n := StartNode(t, Options{})
	return n.Engine, n.Cred
}

// StartNode runs a node with opts; it is closed when the test ends.
func StartNode(t testing.TB, opts Options) *Node {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Drives == 0 {
		opts.Drives = 4
	}
	if opts.Shape.Data == 0 && opts.Peers == nil {
		opts.Shape = erasure.Shape{Data: 2, Parity: 2}
	}
	if opts.Shape.BlockSize == 0 {
		opts.Shape.BlockSize = erasure.DefaultBlockSize
	}
	n := &Node{Dir: opts.Dir}
	var drives []node.Drive
	for i := 0; i < opts.Drives; i++ {
		d, err := local.New(local.Config{Dir: filepath.Join(opts.Dir, "drives", fmt.Sprint(i)), ID: fmt.Sprintf("d%d", i)})
		if err != nil {
			n.closeDrives()
			t.Fatalf("nodetest: drive %d: %v", i, err)
		}
		n.Drives = append(n.Drives, d)
		nd := node.Drive{ID: fmt.Sprintf("d%d", i), Node: "test-node", Driver: d}
		if opts.Wrap != nil {
			nd = opts.Wrap(i, d)
		}
		drives = append(drives, nd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, trans := raft.NewInmemTransport(raft.ServerAddress("test-node"))
	meta, err := metastore.Open(ctx, metastore.Config{
		NodeID:    "test-node",
		Dir:       filepath.Join(opts.Dir, "meta"),
		Transport: trans,
		Bootstrap: true,
		MasterKey: []byte("0123456789abcdef0123456789abcdef"),
		Logger:    slog.New(slog.DiscardHandler),
		// One voter: no reason to wait long before electing itself.
		HeartbeatTimeout:   100 * time.Millisecond,
		ElectionTimeout:    100 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
		Now:                opts.MetaNow,
	})
	if err != nil {
		n.closeDrives()
		t.Fatalf("nodetest: metastore: %v", err)
	}
	n.Meta = meta
	inline := opts.InlineThreshold
	if inline < 0 {
		inline = 0
	}
	cfg := node.Config{
		NodeID: "test-node", Drives: drives, Shape: opts.Shape, Meta: meta, Peers: opts.Peers,
		InlineThreshold: inline, GCDelay: opts.GCDelay, MinPartSize: opts.MinPartSize,
		NodeRemoved: opts.NodeRemoved, RelocateInterval: opts.RelocateInterval,
		PasswordCost: cmp.Or(opts.PasswordCost, MinPasswordCost),
		UploadExpiry: opts.UploadExpiry, Now: opts.Now,
		SSERootKey: []byte("nodetest-sse-root-key-32-bytes!!"),
	}
	if opts.Tune != nil {
		opts.Tune(&cfg)
	}
	eng, err := node.New(cfg)
	if err != nil {
		meta.Close()
		n.closeDrives()
		t.Fatalf("nodetest: engine: %v", err)
	}
	if opts.InlineThreshold < 0 {
		eng.DisableInline()
	}
	if err := eng.Start(ctx); err != nil {
		meta.Close()
		n.closeDrives()
		t.Fatalf("nodetest: start: %v", err)
	}
	if err := eng.EnsureRoot(ctx, AccessKey, SecretKey); err != nil {
		eng.Close()
		meta.Close()
		n.closeDrives()
		t.Fatalf("nodetest: root: %v", err)
	}
	n.Engine = eng
	n.Cred = node.Credential{AccessKeyID: AccessKey, Secret: SecretKey, Tenant: node.RootTenant, User: node.RootTenant}
	t.Cleanup(n.Close)
	return n
}

// Close stops the node (idempotent), keeping its data for a restart.
func (n *Node) Close() {
	if n.closed {
		return
	}
	n.closed = true
	n.Engine.Close()
	n.Meta.Close()
	n.closeDrives()
}

func (n *Node) closeDrives() {
	for _, d := range n.Drives {
		d.Close()
	}
}
