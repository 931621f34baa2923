package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// TestFailedCommitKeepsWhatItMayHaveCommitted: the blobs of a PUT whose
// metadata command failed go at once only when the state machine refused
// the command. A PUT through a follower whose forwarded command the leader
// applied, but whose reply was lost, fails (the follower cannot know
// better) while its version is committed: deleting its blob then left a
// key that no read could serve, which the chaos suite found after a
// rolling restart (round 6 of `make chaos ROUNDS=100`, on re-striping's
// copy of the same path). Such blobs now wait for the GC delay and go only
// if no record references them.
func TestFailedCommitKeepsWhatItMayHaveCommitted(t *testing.T) {
	const gcDelay = 300 * time.Millisecond
	c := startEngineClusterWith(t,
		func(mc *metastore.Config) { mc.ApplyTimeout = time.Second },
		func(ec *node.Config) { ec.GCDelay = gcDelay })
	ctx := context.Background()
	l := c.leader(t)
	if err := c.engs[l].CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * commitTimeout) // the followers know the container
	fi := (l + 1) % 3
	f := c.engs[fi]
	// Above the inline threshold: the bytes go to the follower's drives.
	body := randBytes(1, 64<<10)
	put := func(key string, cond node.Conditions) error {
		_, err := f.PutArtifact(ctx, tenant, node.PutInput{Container: "b", Key: key, Body: bytes.NewReader(body), Size: int64(len(body)), Cond: cond})
		return err
	}
	// blobFiles counts the shard files on the follower's drives.
	blobFiles := func() int { return shardFilesUnder(filepath.Join(c.base, fmt.Sprintf("n%d", fi), "drives")) }
	readBack := func(key string) error {
		r, err := f.OpenArtifact(ctx, tenant, node.VersionRef{Container: "b", Key: key})
		if err != nil {
			return err
		}
		var got bytes.Buffer
		if err := r.WriteRange(ctx, &got, 0, int64(len(body))); err != nil {
			return err
		}
		if !bytes.Equal(got.Bytes(), body) {
			return errors.New("wrong bytes")
		}
		return nil
	}
	// Past the GC delay and the collector's next tick (every second).
	settle := func() { time.Sleep(gcDelay + 2*time.Second) }

	// The reply is lost: the PUT fails, the version is committed, and its
	// bytes stay readable past the GC delay.
	c.setFault(forwardLoseReply)
	err := put("committed", node.Conditions{})
	c.setFault(forwardOK)
	if !errors.Is(err, node.ErrUnavailable) {
		t.Fatalf("PUT whose reply was lost: %v, want ErrUnavailable", err)
	}
	if _, err := c.engs[l].HeadArtifact(ctx, tenant, node.VersionRef{Container: "b", Key: "committed"}); err != nil {
		t.Fatalf("the leader applied the command, yet: %v", err)
	}
	settle()
	if err := readBack("committed"); err != nil {
		t.Fatalf("a committed version whose PUT reported failure lost its bytes: %v", err)
	}
	kept := blobFiles()
	if kept == 0 {
		t.Fatal("no shard files on the follower's drives")
	}

	// The request is lost: nothing was committed, and the blob goes after
	// the GC delay.
	c.setFault(forwardLoseRequest)
	err = put("never", node.Conditions{})
	c.setFault(forwardOK)
	if !errors.Is(err, node.ErrUnavailable) {
		t.Fatalf("PUT whose request was lost: %v, want ErrUnavailable", err)
	}
	if _, err := c.engs[l].HeadArtifact(ctx, tenant, node.VersionRef{Container: "b", Key: "never"}); !errors.Is(err, node.ErrArtifactNotFound) {
		t.Fatalf("a command that never reached the leader: HEAD says %v", err)
	}
	settle()
	if n := blobFiles(); n != kept {
		t.Fatalf("%d shard files after the uncommitted PUT's GC delay, want %d (its blob gone)", n, kept)
	}

	// A refusal (the key exists, If-None-Match: *) changed nothing: the
	// blob goes at once, before any GC delay.
	err = put("committed", node.Conditions{IfNoneMatch: "*"})
	if !errors.Is(err, node.ErrPreconditionFailed) {
		t.Fatalf("conditional PUT over an existing key: %v, want ErrPreconditionFailed", err)
	}
	if n := blobFiles(); n != kept {
		t.Fatalf("%d shard files right after a refused PUT, want %d (its blob gone at once)", n, kept)
	}
	if err := readBack("committed"); err != nil {
		t.Fatal(err)
	}
}

// TestSweepTakesOneBarrierPerDrive: the orphan sweep asks the leader for
// one read index per drive, not one per blob. A restarted node's startup
// sweep had to answer for every blob older than the grace with a
// linearizable read of its own; an hour into the 100-round chaos run that
// kept a node from serving for over two minutes.
func TestSweepTakesOneBarrierPerDrive(t *testing.T) {
	c := startEngineCluster(t)
	ctx := context.Background()
	l := c.leader(t)
	if err := c.engs[l].CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * commitTimeout)
	f := c.engs[(l+1)%3]
	body := make([]byte, 64<<10)
	const blobs = 20
	for i := range blobs {
		if _, err := f.PutArtifact(ctx, tenant, node.PutInput{Container: "b", Key: fmt.Sprint(i), Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
	}
	before := c.readIndexes.Load()
	n, err := f.Sweep(ctx, 0)
	if err != nil || n != 0 {
		t.Fatalf("sweep of live blobs: removed %d, %v", n, err)
	}
	// 4 drives; each of the 20 blobs has a shard on every one.
	if got := c.readIndexes.Load() - before; got > 4 {
		t.Fatalf("the sweep of %d live blobs on 4 drives took %d read-index rounds, want at most 4", blobs, got)
	}
}
