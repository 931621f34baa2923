package node_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// slowWriter collects what it is given, but holds its first Write until
// release is closed: a client that reads slowly.
type slowWriter struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	buf     bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started); <-w.release })
	return w.buf.Write(p)
}

// TestSlowReaderOutlivesGCDelay: a GET that streams an artifact for
// longer than the GC delay while the artifact is overwritten gets every
// byte of the version it opened: the blobs it reads are leased and the
// collector waits for the lease. (A multipart artifact's second part used
// to be deleted before the stream reached it.) Once the stream ends, the
// old blobs go.
func TestSlowReaderOutlivesGCDelay(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1, GCDelay: 50 * time.Millisecond, MinPartSize: 1})
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "c")
	parts := [][]byte{randBytes(11, 300<<10), randBytes(12, 200<<10)}
	up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: "c", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var refs []node.PartRef
	for i, p := range parts {
		pi, err := e.UploadPart(ctx, tenant, node.PartInput{Container: "c", Key: "k", UploadID: up.UploadID, Number: i + 1, Body: bytes.NewReader(p), Size: int64(len(p))})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, node.PartRef{Number: i + 1, ETag: pi.ETag})
	}
	if _, err := e.CompleteUpload(ctx, tenant, "c", "k", up.UploadID, refs, node.Conditions{}); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(parts[0]), parts[1]...)
	filesBefore := shardFiles(t, n)

	rd, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	w := &slowWriter{started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- rd.WriteRange(ctx, w, 0, int64(len(want))) }()
	<-w.started
	// Overwritten while the reader is in its first part.
	if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "k", Body: bytes.NewReader([]byte("new")), Size: 3}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // 50 times the GC delay, two collector ticks
	if got := shardFiles(t, n); got < filesBefore {
		t.Fatalf("%d shard files of %d left while a reader streams them", got, filesBefore)
	}
	close(w.release)
	if err := <-done; err != nil {
		t.Fatalf("slow reader cut: %v", err)
	}
	if !bytes.Equal(w.buf.Bytes(), want) {
		t.Fatalf("slow reader got %d bytes, not the version it opened", w.buf.Len())
	}
	// Released: the old blobs go (the new artifact has 4 shards).
	deadline := time.Now().Add(10 * time.Second)
	for shardFiles(t, n) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d shard files left after the reader finished, want 4", shardFiles(t, n))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
