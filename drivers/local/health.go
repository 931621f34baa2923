package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vaultaire/vaultaire/drivers"
)

// fail translates err, a file-system error of op on name, into what the
// caller gets, and takes the drive offline when err says the drive itself
// failed. The table is in the package comment.
func (d *Drive) fail(op, name string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		// A symlink where an object should be (Open uses O_NOFOLLOW):
		// not something this drive stored.
		return fmt.Errorf("local %s: %s %q: %w", d.id, op, name, drivers.ErrNotFound)
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
		// Absent, or a path through a file: the object does not exist,
		// unless the drive's own directories are what went missing.
		if rerr := d.checkRoot(); rerr != nil {
			d.ioErrors.Add(1)
			return d.markOffline(rerr)
		}
		return fmt.Errorf("local %s: %s %q: %w", d.id, op, name, drivers.ErrNotFound)
	case errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT):
		d.ioErrors.Add(1)
		return fmt.Errorf("local %s: %s %q: %w: %w", d.id, op, name, drivers.ErrFull, err)
	case errors.Is(err, unix.ENAMETOOLONG) || errors.Is(err, unix.EILSEQ):
		return fmt.Errorf("local %s: %s %q: %w: %w", d.id, op, name, drivers.ErrInvalidName, err)
	case errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST):
		return fmt.Errorf("local %s: %s %q: %w: %w: %w", d.id, op, name, drivers.ErrInvalidName, errConflict, err)
	case harmless(err):
		return fmt.Errorf("local %s: %s %q: %w", d.id, op, name, err)
	default:
		d.ioErrors.Add(1)
		return d.markOffline(fmt.Errorf("%s %q: %w", op, name, err))
	}
}

// IOErrors reports how many I/O errors about the drive itself it has seen
// since it was opened: failures that took (or kept) it offline, and writes
// refused because the file system was full. Absent objects and invalid
// names are not counted.
func (d *Drive) IOErrors() int64 { return d.ioErrors.Load() }

// harmless reports errors that say nothing about the drive's health: the
// process's limits, interruptions, and programming errors.
func harmless(err error) bool {
	for _, e := range []error{
		context.Canceled, context.DeadlineExceeded, os.ErrClosed,
		unix.EMFILE, unix.ENFILE, unix.ENOMEM, unix.EINTR, unix.EAGAIN, unix.EINVAL, unix.EBADF,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// checkRoot reports whether the drive's directories are still in place.
func (d *Drive) checkRoot() error {
	for _, dir := range []string{d.data, d.tmp} {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("drive directory: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("drive directory: %s is not a directory", dir)
		}
	}
	return nil
}

func (d *Drive) offlineErr(cause error) error {
	return fmt.Errorf("local %s: %w: %w", d.id, drivers.ErrOffline, cause)
}

// markOffline takes the drive offline because of cause (unless it already
// is) and returns the error for the failing call.
func (d *Drive) markOffline(cause error) error {
	f := &failure{cause: cause, at: time.Now()}
	if d.offline.CompareAndSwap(nil, f) {
		d.log.Error("local: drive offline", "err", cause)
		if d.onOffline != nil {
			d.onOffline(d.id, cause)
		}
		return d.offlineErr(cause)
	}
	if cur := d.offline.Load(); cur != nil {
		return d.offlineErr(cur.cause)
	}
	return d.offlineErr(cause)
}

// Online reports whether the drive is online, and if not, since when and why.
func (d *Drive) Online() (online bool, since time.Time, cause error) {
	if f := d.offline.Load(); f != nil {
		return false, f.at, f.cause
	}
	return true, time.Time{}, nil
}

// Recheck probes the drive: its directories and format file are in place
// and name this drive, and a small file can be written, fsynced, read back
// and removed. On success an offline drive comes back online; on failure
// the drive is (or stays) offline and the error says why. A full drive
// passes: it answered, and it only cannot take writes. Callers (the
// Engine's health loop) call it periodically for offline drives.
func (d *Drive) Recheck(ctx context.Context) error {
	if d.closed.Load() {
		return fmt.Errorf("local %s: %w", d.id, ErrClosed)
	}
	if d.held.Load() {
		return d.offlineErr(ErrHeld)
	}
	if err := d.probe(ctx); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("local %s: recheck: %w", d.id, err)
		}
		d.ioErrors.Add(1)
		return d.markOffline(fmt.Errorf("recheck: %w", err))
	}
	// A failure recorded between the probe and here is forgotten; the
	// next call that hits it records it again.
	if prev := d.offline.Swap(nil); prev != nil {
		d.log.Info("local: drive back online", "was_offline_for", time.Since(prev.at).Round(time.Millisecond), "cause", prev.cause)
	}
	return nil
}

func (d *Drive) probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.checkRoot(); err != nil {
		return err
	}
	b, err := readLimited(filepath.Join(d.root, formatFile), maxFormatSize+1)
	if err != nil {
		return err
	}
	id, err := decodeFormat(b)
	if err != nil {
		return err
	}
	if id != d.id {
		return fmt.Errorf("%w: the directory now holds drive %q", ErrDriveMismatch, id)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var want [probeSize]byte
	_, _ = rand.Read(want[:])
	f, err := d.createTemp("probe-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(want[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		d.log.Warn("local: drive full", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	got, err := readLimited(f.Name(), probeSize+1)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want[:]) {
		return fmt.Errorf("probe file read back %d bytes that differ from what was written", len(got))
	}
	return os.Remove(f.Name())
}
