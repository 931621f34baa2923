package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Drive slots, replacement and operator holds.
//
// A node's drives are slots: a configured directory with the drive ID it
// held (cmd/vaultaire keeps the table). When a dead disk is swapped for a
// blank one, the slot's ID is written into the blank directory
// (Config.ID at New, or Adopt while running), so the shard records that
// name the old drive resolve to the new one and the node's heal job can
// rebuild what the slot held. Formatted reports that this happened.
//
// Formatting a blank directory is refused (ErrRootFS) when it sits on the
// root file system while a sibling drive is a separate mount: that is
// what an unmounted disk looks like, and formatting it would fill the
// root disk with shards.

// CheckRootFS returns ErrRootFS when dir (or, if it does not exist yet,
// its nearest existing parent) is on the same file system as "/" while at
// least one of siblings is on another one.
func CheckRootFS(dir string, siblings []string) error {
	root, err := deviceOf("/")
	if err != nil {
		return nil // cannot tell: do not stand in the way
	}
	dev, err := deviceOf(dir)
	if err != nil || dev != root {
		return nil
	}
	for _, s := range siblings {
		if filepath.Clean(s) == filepath.Clean(dir) {
			continue
		}
		if sd, err := deviceOf(s); err == nil && sd != root {
			return fmt.Errorf("%w: %s is on the root file system while sibling %s is a separate mount; mount the drive, or pass --drive-allow-root-fs", ErrRootFS, dir, s)
		}
	}
	return nil
}

// deviceOf returns the device number of the file system holding path, or
// of its nearest existing parent.
func deviceOf(path string) (uint64, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	for {
		var st unix.Stat_t
		err := unix.Stat(p, &st)
		if err == nil {
			return uint64(st.Dev), nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return 0, err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return 0, err
		}
		p = parent
	}
}

// Blank reports whether dir holds no drive: it is missing, or it has no
// format file.
func Blank(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, formatFile))
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	}
	return false, err
}

// Formatted reports whether this Drive wrote the format file of a blank
// directory (at New, or by Adopt): a new drive, or a replacement whose
// slot's shards are to be rebuilt.
func (d *Drive) Formatted() bool { return d.formatted.Load() }

// Dir returns the drive's directory.
func (d *Drive) Dir() string { return d.root }

// Hold takes the drive offline on the operator's word: every call fails
// with drivers.ErrOffline until Release, and Recheck does not bring it
// back (the disk can be pulled safely).
func (d *Drive) Hold() {
	d.held.Store(true)
	d.markOffline(ErrHeld)
}

// Held reports whether the operator holds the drive offline.
func (d *Drive) Held() bool { return d.held.Load() }

// Release ends a Hold and brings the drive back: a blank directory (a
// replaced disk) is adopted under the drive's ID (Adopt), else the drive
// is rechecked.
func (d *Drive) Release(ctx context.Context) error {
	d.held.Store(false)
	if blank, err := Blank(d.root); err == nil && blank {
		return d.Adopt(ctx)
	}
	return d.Recheck(ctx)
}

// Adopt formats the blank directory at the drive's path (a replaced disk,
// mounted where the old one was) with this drive's ID, locks it and
// brings the drive online. It refuses a directory that is not blank
// (ErrNotBlank), and a blank one on the root file system while siblings
// are separate mounts (ErrRootFS, unless Config.AllowRootFS).
func (d *Drive) Adopt(ctx context.Context) error {
	if d.closed.Load() {
		return fmt.Errorf("local %s: %w", d.id, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	blank, err := Blank(d.root)
	if err != nil {
		return fmt.Errorf("local %s: adopt: %w", d.id, err)
	}
	if !blank {
		return fmt.Errorf("local %s: adopt %s: %w", d.id, d.root, ErrNotBlank)
	}
	if err := os.MkdirAll(d.root, dirPerm); err != nil {
		return fmt.Errorf("local %s: adopt: %w", d.id, err)
	}
	d.lockMu.Lock()
	old := d.lock
	d.lockMu.Unlock()
	lock := old
	if !sameFile(old, filepath.Join(d.root, lockFile)) {
		// A new directory (or its LOCK went with the old contents).
		if lock, err = d.lockRoot(); err != nil {
			return err
		}
	}
	if err := d.initLayout(); err != nil {
		if lock != old {
			lock.Close()
		}
		return fmt.Errorf("local %s: adopt: %w", d.id, err)
	}
	if lock != old {
		d.lockMu.Lock()
		d.lock = lock
		d.lockMu.Unlock()
		old.Close() // the lock of the replaced directory
	}
	d.held.Store(false)
	if prev := d.offline.Swap(nil); prev != nil {
		d.log.Info("local: replacement drive adopted", "was_offline_for", time.Since(prev.at).Round(time.Millisecond))
	} else {
		d.log.Info("local: replacement drive adopted")
	}
	return nil
}

// sameFile reports whether f is the file at path.
func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}
