package local_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaultaire/vaultaire/drivers/driverstest"
	"github.com/vaultaire/vaultaire/drivers/local"
)

// BenchmarkPut measures Put throughput of 1 MiB and 16 MiB objects on a temp
// directory (the disk under $TMPDIR) and on /dev/shm (tmpfs: no device, so
// it shows the drive's own overhead), each beside a baseline in the same
// run: a raw os.File create + write + fsync + close of the same size, the
// least any durable write costs. Compare drive with raw, not across runs.
//
//	go test -run '^$' -bench BenchmarkPut -benchtime 20x ./drivers/local
func BenchmarkPut(b *testing.B) {
	places := []struct{ name, dir string }{
		{"tmpdir", ""},
		{"shm", "/dev/shm"},
	}
	for _, pl := range places {
		for _, size := range []int{1 << 20, 16 << 20} {
			data := driverstest.Pattern(1, size)
			name := fmt.Sprintf("%s/%dMiB", pl.name, size>>20)
			b.Run(name+"/drive", func(b *testing.B) { benchDrive(b, benchDir(b, pl.dir), data) })
			b.Run(name+"/raw", func(b *testing.B) { benchRaw(b, benchDir(b, pl.dir), data) })
		}
	}
}

// benchDir returns a fresh directory under base ("" for the test temp dir),
// removed when the benchmark ends.
func benchDir(b *testing.B, base string) string {
	b.Helper()
	if base == "" {
		return b.TempDir()
	}
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		b.Skipf("%s is not available here: %v", base, err)
	}
	dir, err := os.MkdirTemp(base, "vaultaire-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func benchDrive(b *testing.B, dir string, data []byte) {
	d, err := local.New(local.Config{Dir: dir, ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	r := bytes.NewReader(data)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		r.Reset(data)
		// A few names in rotation: overwrites, like a steady state, and
		// a bounded footprint on tmpfs.
		if _, err := d.Put(ctx, fmt.Sprintf("bench/%d", i%4), r); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRaw(b *testing.B, dir string, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		p := filepath.Join(dir, fmt.Sprintf("raw-%d", i%4))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
