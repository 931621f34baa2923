package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/local"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// revive brings a node killed by kill back with its drives intact.
func (p *peers) revive(n string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.down, n)
	for _, d := range p.drives[n] {
		d.SetOnline()
	}
}

// startRestripeNode starts a node with two peers of its own (node-b,
// node-c: 3 nodes of 4 drives), no inlining, a 1 ns GC delay and a
// container "c".
func startRestripeNode(t *testing.T) (*nodetest.Node, *peers) {
	t.Helper()
	p := newPeers("node-b", "node-c")
	n := nodetest.StartNode(t, nodetest.Options{Peers: p, InlineThreshold: -1, GCDelay: 1, NodeRemoved: func(string) bool { return false }})
	if err := n.Engine.CreateContainer(context.Background(), tenant, node.CreateContainerInput{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	return n, p
}

// TestRestripeWidensDegradedBlobs: artifacts written while one node of
// three was down are 4+4; nothing is re-striped while it stays down (the
// current shape is itself degraded, and 8+4 blobs are never narrowed);
// once it is back, one pass rewrites each at 8+4 with the same bytes, the
// next finds nothing to do, and they survive losing another node.
func TestRestripeWidensDegradedBlobs(t *testing.T) {
	ctx := context.Background()
	n, p := startRestripeNode(t)
	e := n.Engine
	bodies := map[string][]byte{}
	put := func(key string) {
		b := make([]byte, 64<<10+rand.IntN(1<<20))
		for j := range b {
			b[j] = byte(rand.Uint32())
		}
		if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: key, Body: bytes.NewReader(b), Size: int64(len(b))}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		bodies[key] = b
	}
	put("full")
	p.kill("node-c")
	for i := range 5 {
		put(fmt.Sprintf("degraded%d", i))
	}
	for key := range bodies {
		b := placement(t, n, key)
		want := 8
		if key != "full" {
			want = 4
		}
		if b.K != want || b.M != 4 {
			t.Fatalf("%s written %d+%d, want %d+4", key, b.K, b.M, want)
		}
	}

	// Down: the write shape is 4+4; nothing is narrower, nothing moves.
	st, err := e.Restripe(ctx)
	if err != nil || st.Restriped != 0 || st.Pending != 0 || st.Scanned != int64(len(bodies)) || st.Target != "4+4" {
		t.Fatalf("pass with node-c down: %+v, %v", st, err)
	}
	old := map[string]string{}
	for key := range bodies {
		old[key] = placement(t, n, key).ID
	}

	p.revive("node-c")
	st, err = e.Restripe(ctx)
	if err != nil || st.Restriped != 5 || st.Failed != 0 || st.Target != "8+4" || st.LastPending != 5 || st.Passes != 2 {
		t.Fatalf("pass with every node up: %+v, %v", st, err)
	}
	if s := e.Stats(); s.Restriped != 5 || s.RestripeBytes != st.Bytes || st.Bytes == 0 {
		t.Fatalf("stats: %d versions, %d bytes; pass %+v", s.Restriped, s.RestripeBytes, st)
	}
	for key, body := range bodies {
		b := placement(t, n, key)
		if b.K != 8 || b.M != 4 || shardsOnNode(b, "node-c") != 4 {
			t.Fatalf("%s after re-striping: %d+%d, %d shards on node-c", key, b.K, b.M, shardsOnNode(b, "node-c"))
		}
		if (b.ID == old[key]) != (key == "full") {
			t.Fatalf("%s: blob %s, before %s: only degraded blobs are rewritten", key, b.ID, old[key])
		}
		if got := read(t, e, "c", key, 0, -1); !bytes.Equal(got, body) {
			t.Fatalf("%s: wrong bytes after re-striping", key)
		}
	}
	// The old blobs go like a replaced version's, after the GC delay (1 ns
	// here) at the collector's next tick: not left for an orphan sweep
	// that may not come for an hour.
	deadline := time.Now().Add(10 * time.Second)
	for key := range bodies {
		if key == "full" {
			continue
		}
		for {
			left := oldShardsLeft(t, n, p, old[key])
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d shards of its blob before re-striping are still on the drives", key, left)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	st, err = e.Restripe(ctx)
	if err != nil || st.Restriped != 0 || st.LastPending != 0 {
		t.Fatalf("second pass: %+v, %v", st, err)
	}
	// The re-striped versions read with one node lost, as 8+4 must.
	p.kill("node-b")
	for key, body := range bodies {
		if got := read(t, e, "c", key, 0, -1); !bytes.Equal(got, body) {
			t.Fatalf("%s: wrong bytes with node-b down", key)
		}
	}
}

// TestRestripeSkipsFixedShape: with a configured shape there is no
// degraded shape to come back from.
func TestRestripeSkipsFixedShape(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1})
	st, err := n.Engine.Restripe(context.Background())
	if err != nil || st.Waiting != "fixed erasure shape" || st.Passes != 0 {
		t.Fatalf("fixed shape: %+v, %v", st, err)
	}
}

// oldShardsLeft counts the shard files of blob id on n's drives and its
// peers'.
func oldShardsLeft(t *testing.T, n *nodetest.Node, p *peers, id string) int {
	return len(shardFilesIn(t, n, p, "blobs/"+id[:2]+"/"+id+"/"))
}

// blobShard is one shard file, on the drive that holds it.
type blobShard struct {
	d    drivers.Driver
	name string
}

// shardFilesIn lists the files under prefix on n's drives and its peers'.
func shardFilesIn(t *testing.T, n *nodetest.Node, p *peers, prefix string) []blobShard {
	t.Helper()
	var ds []drivers.Driver
	for _, d := range n.Drives {
		ds = append(ds, d)
	}
	p.mu.Lock()
	for _, nd := range p.drives {
		for _, d := range nd {
			ds = append(ds, d)
		}
	}
	p.mu.Unlock()
	var files []blobShard
	for _, d := range ds {
		err := d.List(context.Background(), prefix, func(i drivers.Info) error {
			files = append(files, blobShard{d, i.Name})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestRestripeOfAChangedVersionIsMoot: a pass works from versions it read
// earlier. One overwritten or deleted since (or re-striped by an earlier
// leader) may have lost its old blobs to the collector, so its copy's read
// fails: that version is moot, not a failed re-stripe, and the blobs the
// copy wrote go. A version whose record still names blobs that cannot be
// read is a real failure.
func TestRestripeOfAChangedVersionIsMoot(t *testing.T) {
	ctx := context.Background()
	n, p := startRestripeNode(t)
	e := n.Engine
	put := func(key string) {
		t.Helper()
		b := randBytes(rand.Uint64(), 64<<10+rand.IntN(256<<10))
		if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: key, Body: bytes.NewReader(b), Size: int64(len(b))}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	p.kill("node-c")
	read := map[string]metastore.Artifact{}
	for _, key := range []string{"overwritten", "deleted", "unreadable"} {
		put(key)
		a, err := n.Meta.GetArtifact(ctx, tenant, "c", key)
		if err != nil {
			t.Fatal(err)
		}
		read[key] = a
	}
	p.revive("node-c")

	put("overwritten")
	if _, err := e.DeleteArtifact(ctx, tenant, node.DeleteInput{Container: "c", Key: "deleted"}); err != nil {
		t.Fatal(err)
	}
	// The collector takes the old blobs after the (1 ns) GC delay.
	deadline := time.Now().Add(10 * time.Second)
	for _, key := range []string{"overwritten", "deleted"} {
		for oldShardsLeft(t, n, p, read[key].Parts[0].Blob.ID) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: old blob not collected", key)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Past parity: the record still names this blob, but it cannot be read.
	un := read["unreadable"].Parts[0].Blob
	for _, f := range shardFilesIn(t, n, p, "blobs/"+un.ID[:2]+"/"+un.ID+"/")[:un.M+1] {
		if err := f.d.Delete(ctx, f.name); err != nil {
			t.Fatal(err)
		}
	}

	before := map[blobShard]bool{}
	for _, f := range shardFilesIn(t, n, p, "blobs/") {
		before[f] = true
	}
	for key, a := range read {
		_, err := e.RestripeVersion(ctx, a)
		if moot := errors.Is(err, node.ErrRestripeMoot); moot != (key != "unreadable") || err == nil {
			t.Fatalf("%s: re-striping as read before the change: %v", key, err)
		}
	}
	// Nothing the failed copies wrote stays (dropped at once).
	for _, f := range shardFilesIn(t, n, p, "blobs/") {
		if !before[f] {
			t.Fatalf("shard file %s left by a re-stripe that did not commit", f.name)
		}
	}
	if s := e.Stats(); s.Restriped != 0 {
		t.Fatalf("stats: %d versions re-striped", s.Restriped)
	}
}

// childCounter is a parent context that counts the cancelable contexts
// derived from it that are still registered for its cancellation: the
// context package registers a child through AfterFunc when the parent
// has one, and calls the returned stop when the child is cancelled.
// (Its own Done channel keeps the context package from seeing the
// cancelCtx inside and registering children there directly.)
type childCounter struct {
	context.Context
	done chan struct{}
	live atomic.Int64
}

func newChildCounter(parent context.Context) *childCounter {
	c := &childCounter{Context: parent, done: make(chan struct{})}
	context.AfterFunc(parent, func() { close(c.done) })
	return c
}

func (c *childCounter) Done() <-chan struct{} { return c.done }

func (c *childCounter) AfterFunc(f func()) func() bool {
	c.live.Add(1)
	stop := context.AfterFunc(c.Context, f)
	var once sync.Once
	return func() bool {
		once.Do(func() { c.live.Add(-1) })
		return stop()
	}
}

// TestWritesReleaseTheirContexts: a background writer (re-striping,
// recalls, restores) writes with a context that lives as long as the
// process. Every context a write derives from it must be released when
// the write returns: each shard write's stayed registered for good (with
// its HTTP transport's bookkeeping on remote drives), and the chaos suite
// saw the heap of a re-striping leader grow by megabytes in minutes.
func TestWritesReleaseTheirContexts(t *testing.T) {
	n, p := startRestripeNode(t)
	e := n.Engine
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx := newChildCounter(base)
	p.kill("node-c")
	read := map[string]metastore.Artifact{}
	for i := range 3 {
		key := fmt.Sprint("k", i)
		b := randBytes(uint64(i), 300<<10)
		if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: key, Body: bytes.NewReader(b), Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		a, err := n.Meta.GetArtifact(ctx, tenant, "c", key)
		if err != nil {
			t.Fatal(err)
		}
		read[key] = a
	}
	if live := ctx.live.Load(); live != 0 {
		t.Fatalf("%d contexts derived by 3 PUTs still registered with their caller's", live)
	}
	p.revive("node-c")
	for key, a := range read {
		if _, err := e.RestripeVersion(ctx, a); err != nil {
			t.Fatalf("re-striping %s: %v", key, err)
		}
	}
	if live := ctx.live.Load(); live != 0 {
		t.Fatalf("%d contexts derived by 3 re-stripes still registered with their caller's", live)
	}
}

// TestClusterStartDoesNotWaitForTheSweep: a cluster node's startup sweep
// lists every shard file of its drives (10-22 s at 30,000 keys in the
// chaos suite, and over 2 minutes under load, all of it before the node
// served). It now runs in the background: Start returns while the
// listing is stuck, and Close cancels it.
func TestClusterStartDoesNotWaitForTheSweep(t *testing.T) {
	p := newPeers("node-b", "node-c")
	var lists atomic.Int64
	started := make(chan *nodetest.Node, 1)
	go func() {
		started <- nodetest.StartNode(t, nodetest.Options{Peers: p, NodeRemoved: func(string) bool { return false },
			Wrap: func(i int, d *local.Drive) node.Drive {
				fd := fault.New(d)
				fd.Inject(fault.Rule{Op: fault.OpList, Prefix: "blobs/", Latency: time.Hour})
				return node.Drive{ID: d.ID(), Driver: countingLister{fd, &lists}}
			}})
	}()
	var n *nodetest.Node
	select {
	case n = <-started:
	case <-time.After(time.Minute):
		t.Fatal("Start waited for a startup sweep whose listing does not end")
	}
	waitFor(t, "the background sweep to list", 10*time.Second, func() bool { return lists.Load() > 0 })
	closed := make(chan struct{})
	go func() { n.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close waited for the startup sweep")
	}
}

// countingLister counts the List calls that reach a driver.
type countingLister struct {
	*fault.Driver
	lists *atomic.Int64
}

func (c countingLister) List(ctx context.Context, prefix string, fn func(drivers.Info) error) error {
	c.lists.Add(1)
	return c.Driver.List(ctx, prefix, fn)
}
