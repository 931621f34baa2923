package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
)

// TestDirectPutSizes: streams at and around the buffer and block sizes
// round-trip byte for byte, the large ones through O_DIRECT (this test's
// file system, ext4 or xfs in CI, takes it; if it refused, the flag says
// so and the bytes must still be right).
func TestDirectPutSizes(t *testing.T) {
	d, err := New(Config{Dir: t.TempDir(), ID: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	sizes := []int{0, 1, directAlign - 1, putBufferSize - 1, putBufferSize, putBufferSize + 1,
		putBufferSize + directAlign, 2*putBufferSize + directAlign + 7, 3*putBufferSize - 1, 5 << 20}
	large := 0
	for i, n := range sizes {
		want := driverstest.Pattern(uint64(i), n)
		name := fmt.Sprintf("s/%d", n)
		// A reader that hands out odd-sized pieces, as a network body does.
		r := io.MultiReader(bytes.NewReader(want[:n/3]), bytes.NewReader(want[n/3:]))
		if got, err := d.Put(ctx, name, r); err != nil || got != int64(n) {
			t.Fatalf("Put(%d bytes) = %d, %v", n, got, err)
		}
		if n >= putBufferSize {
			large++
		}
		rc, err := d.Open(ctx, name, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read back %d bytes: %d bytes, equal=%v, err=%v", n, len(got), bytes.Equal(got, want), err)
		}
	}
	if !d.direct.refused.Load() && d.direct.puts.Load() != int64(large) {
		t.Fatalf("O_DIRECT puts = %d, want %d (every stream that fills a buffer)", d.direct.puts.Load(), large)
	}
	if d.direct.refused.Load() {
		t.Logf("this file system refused O_DIRECT; buffered writes were checked")
	}
}

// DirectPutChild is the child process of TestDirectPutKilledMidStream,
// run from TestMain when VAULTAIRE_DIRECT_CHILD_DIR is set: it Puts a
// large stream into that drive and blocks mid-stream until killed. It
// reports whether it ran (it never returns when it does).
func DirectPutChild() bool {
	dir := os.Getenv("VAULTAIRE_DIRECT_CHILD_DIR")
	if dir == "" {
		return false
	}
	d, err := New(Config{Dir: dir, ID: "d1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write(driverstest.Pattern(9, 3*putBufferSize+5))
		select {} // mid-stream for ever: the parent kills us
	}()
	_, err = d.Put(context.Background(), "victim", pr)
	fmt.Fprintln(os.Stderr, "Put returned:", err)
	os.Exit(2)
	return true
}

// TestDirectPutKilledMidStream: kill -9 while a Put is writing with
// O_DIRECT leaves nothing visible; the next New removes the partial temp
// file, and the drive still works.
func TestDirectPutKilledMidStream(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VAULTAIRE_DIRECT_CHILD_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	// Wait until the child has written at least two buffers of the stream.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var size int64
		ents, _ := os.ReadDir(filepath.Join(dir, tmpDir))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
				size = max(size, fi.Size())
			}
		}
		if size >= 2*putBufferSize {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child never wrote 2 MiB (largest temp file %d bytes)", size)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	d, err := New(Config{Dir: dir, ID: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if _, err := d.Stat(ctx, "victim"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Stat of the interrupted object = %v, want ErrNotFound", err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("tmp after New holds %d entries, want none", len(ents))
	}
	want := driverstest.Pattern(3, 2*putBufferSize+1)
	if _, err := d.Put(ctx, "victim", bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	rc, err := d.Open(ctx, "victim", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, want) {
		t.Fatal("the rewritten object differs")
	}
}
