package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vaultaire/vaultaire/drivers"
)

// List implements drivers.Driver.
//
// Order: object names are compared byte-wise as full names, but a directory
// walk that reads each directory in name order (filepath.WalkDir) yields
// "a/b" before "a-c" ('-' < '/'), so it is not full-name order. Here each
// directory's entries are sorted by name with "/" appended to
// subdirectories, which is exactly the order of the full names they lead
// to (every name below directory "a" starts with "a/"), and the walk
// descends in that order.
//
// Cost: one ReadDir of every directory under the prefix, and a sort of each
// directory's entries: O(e log e) time for e entries in a directory, and
// memory for the entries of the directories on the current path (never
// the whole listing). Every object also costs an lstat for its size and
// time. The prefix picks the directory to start in, so listing "ab/cd/"
// reads only that subtree.
func (d *Drive) List(ctx context.Context, prefix string, fn func(drivers.Info) error) error {
	if !drivers.ValidPrefix(prefix) {
		return fmt.Errorf("local %s: list %q: %w", d.id, prefix, drivers.ErrInvalidName)
	}
	if err := d.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local %s: list %q: %w", d.id, prefix, err)
	}
	dir, partial := d.data, prefix
	namePrefix := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = filepath.Join(d.data, filepath.FromSlash(prefix[:i]))
		namePrefix, partial = prefix[:i+1], prefix[i+1:]
	}
	return d.walk(ctx, prefix, dir, namePrefix, partial, fn)
}

// walk lists the objects below dir whose entry name in dir starts with
// filter; namePrefix is dir's object-name prefix ("" or ending in "/").
func (d *Drive) walk(ctx context.Context, prefix, dir, namePrefix, filter string, fn func(drivers.Info) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			// Nothing there (or a directory a Delete just pruned),
			// unless the drive itself is gone.
			if rerr := d.checkRoot(); rerr != nil {
				return d.markOffline(rerr)
			}
			return nil
		}
		return d.fail("list", prefix, err)
	}
	type entry struct {
		key string // name, with "/" appended for directories
		e   fs.DirEntry
	}
	sorted := make([]entry, 0, len(entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), filter) {
			continue
		}
		key := e.Name()
		if e.IsDir() {
			key += "/"
		}
		sorted = append(sorted, entry{key, e})
	}
	slices.SortFunc(sorted, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, s := range sorted {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("local %s: list %q: %w", d.id, prefix, err)
		}
		name := namePrefix + s.e.Name()
		if s.e.IsDir() {
			if err := d.walk(ctx, prefix, filepath.Join(dir, s.e.Name()), name+"/", "", fn); err != nil {
				return err
			}
			continue
		}
		if !s.e.Type().IsRegular() {
			continue // not ours (a symlink, a socket): never listed
		}
		fi, err := s.e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since ReadDir
			}
			return d.fail("list", prefix, err)
		}
		if err := fn(drivers.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}
