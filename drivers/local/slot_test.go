package local_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/local"
)

// A slot's ID written into a blank directory: the replacement answers to
// the old drive's ID and says it was formatted now; reopening it does not.
func TestReplacementTakesSlotID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d1")
	d, err := local.New(local.Config{Dir: dir, ID: "drive-slot"})
	if err != nil {
		t.Fatal(err)
	}
	put(t, d, "a/shard.0", "old")
	d.Close()
	if err := os.RemoveAll(dir); err != nil { // the disk died and was swapped
		t.Fatal(err)
	}
	if blank, err := local.Blank(dir); err != nil || !blank {
		t.Fatalf("Blank of a missing dir = %v, %v", blank, err)
	}
	d = newDrive(t, local.Config{Dir: dir, ID: "drive-slot"})
	if d.ID() != "drive-slot" || !d.Formatted() {
		t.Fatalf("replacement: id %q formatted %v", d.ID(), d.Formatted())
	}
	if _, err := d.Stat(ctx, "a/shard.0"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("blank replacement has the old shard: %v", err)
	}
	d.Close()
	d2, err := local.New(local.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if d2.ID() != "drive-slot" || d2.Formatted() {
		t.Fatalf("reopened: id %q formatted %v", d2.ID(), d2.Formatted())
	}
	if blank, err := local.Blank(dir); err != nil || blank {
		t.Fatalf("Blank of a formatted dir = %v, %v", blank, err)
	}
}

// A disk swapped while the process runs: Hold takes the drive out (and
// Recheck leaves it out), Release adopts the blank directory under the
// same ID; a directory that is not blank is not adopted.
func TestHoldReleaseAdoptsBlankDirectory(t *testing.T) {
	for _, keepLock := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "d1")
		d := newDrive(t, local.Config{Dir: dir, ID: "drive-x"})
		put(t, d, "a/shard.1", "old")
		d.Hold()
		if !d.Held() {
			t.Fatal("Held false after Hold")
		}
		if _, err := d.Stat(ctx, "a/shard.1"); !errors.Is(err, drivers.ErrOffline) {
			t.Fatalf("Stat on a held drive: %v", err)
		}
		if err := d.Recheck(ctx); !errors.Is(err, local.ErrHeld) {
			t.Fatalf("Recheck of a held drive: %v", err)
		}
		if err := d.Adopt(ctx); !errors.Is(err, local.ErrNotBlank) {
			t.Fatalf("Adopt of a formatted dir: %v", err)
		}
		// Swap: everything goes (or all but the LOCK file).
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if keepLock && e.Name() == "LOCK" {
				continue
			}
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
		if err := d.Release(ctx); err != nil {
			t.Fatalf("Release (keep LOCK %v): %v", keepLock, err)
		}
		if u, _ := d.Usage(ctx); !u.Online || d.Held() || !d.Formatted() {
			t.Fatalf("after Release: online %v held %v formatted %v", u.Online, d.Held(), d.Formatted())
		}
		put(t, d, "a/shard.1", "new")
		if got := get(t, d, "a/shard.1"); got != "new" {
			t.Fatalf("read back %q", got)
		}
		// The new directory is locked by this Drive.
		if _, err := local.New(local.Config{Dir: dir}); !errors.Is(err, local.ErrLocked) {
			t.Fatalf("second New on the adopted dir: %v", err)
		}
	}
}

// A blank directory on the root file system beside a drive that is a
// separate mount looks like an unmounted disk: it is not formatted unless
// allowed. Beside siblings on the same file system it is.
func TestBlankOnRootFSRefused(t *testing.T) {
	base := t.TempDir()
	var root, tmp, proc syscall.Stat_t
	if err := syscall.Stat("/", &root); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(base, &tmp); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat("/proc", &proc); err != nil {
		t.Fatal(err)
	}
	onRoot := tmp.Dev == root.Dev
	if proc.Dev == root.Dev {
		t.Fatal("/proc is on the root file system here: the test needs a separate mount as the sibling")
	}
	dir := filepath.Join(base, "d1", "sub") // missing: its parent decides
	if err := local.CheckRootFS(dir, []string{filepath.Join(base, "d2")}); err != nil {
		t.Fatalf("siblings on the same file system: %v", err)
	}
	err := local.CheckRootFS(dir, []string{"/proc"})
	if onRoot != errors.Is(err, local.ErrRootFS) {
		t.Fatalf("on root fs %v, sibling /proc: CheckRootFS = %v", onRoot, err)
	}
	_, err = local.New(local.Config{Dir: dir, Siblings: []string{"/proc"}})
	if onRoot != errors.Is(err, local.ErrRootFS) {
		t.Fatalf("on root fs %v: New = %v", onRoot, err)
	}
	if onRoot {
		if blank, _ := local.Blank(dir); !blank {
			t.Fatal("a refused New formatted the directory")
		}
	}
	d := newDrive(t, local.Config{Dir: dir, Siblings: []string{"/proc"}, AllowRootFS: true})
	if !d.Formatted() {
		t.Fatal("AllowRootFS did not format")
	}
	d.Close()
	// A formatted drive on the root file system opens without the flag.
	newDrive(t, local.Config{Dir: dir, Siblings: []string{"/proc"}})
}
