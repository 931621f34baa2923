package local

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vaultaire/vaultaire/drivers"
)

func newTestDrive(t *testing.T, onOffline func(string, error)) *Drive {
	t.Helper()
	d, err := New(Config{Dir: t.TempDir(), ID: "t1", OnOffline: onOffline})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestFailClassification pins down which errors take a drive offline.
func TestFailClassification(t *testing.T) {
	pe := func(errno unix.Errno) error { return &fs.PathError{Op: "write", Path: "/x", Err: errno} }
	cases := []struct {
		err     error
		want    error // errors.Is the result
		offline bool
	}{
		{pe(unix.ENOENT), drivers.ErrNotFound, false},
		{pe(unix.ENOTDIR), drivers.ErrNotFound, false},
		{pe(unix.ELOOP), drivers.ErrNotFound, false},
		{pe(unix.ENOSPC), drivers.ErrFull, false},
		{pe(unix.EDQUOT), drivers.ErrFull, false},
		{pe(unix.ENAMETOOLONG), drivers.ErrInvalidName, false},
		{pe(unix.EISDIR), drivers.ErrInvalidName, false},
		{pe(unix.EMFILE), unix.EMFILE, false},
		{pe(unix.ENFILE), unix.ENFILE, false},
		{pe(unix.ENOMEM), unix.ENOMEM, false},
		{pe(unix.EINTR), unix.EINTR, false},
		{context.Canceled, context.Canceled, false},
		{pe(unix.EIO), drivers.ErrOffline, true},
		{pe(unix.EROFS), drivers.ErrOffline, true},
		{pe(unix.EACCES), drivers.ErrOffline, true},
		{pe(unix.ENXIO), drivers.ErrOffline, true},
		{pe(unix.EUCLEAN), drivers.ErrOffline, true},
		{errors.New("something unknown"), drivers.ErrOffline, true},
	}
	for _, c := range cases {
		var calls atomic.Int32
		d := newTestDrive(t, func(id string, err error) {
			if id != "t1" || err == nil {
				t.Errorf("OnOffline(%q, %v)", id, err)
			}
			calls.Add(1)
		})
		got := d.fail("op", "name", c.err)
		if !errors.Is(got, c.want) {
			t.Errorf("fail(%v) = %v, want %v", c.err, got, c.want)
		}
		online, _, _ := d.Online()
		if online == c.offline {
			t.Errorf("fail(%v): online %v, want offline %v", c.err, online, c.offline)
		}
		if c.offline && !errors.Is(got, c.err) && !strings.Contains(got.Error(), c.err.Error()) {
			t.Errorf("fail(%v) = %v lost the cause", c.err, got)
		}
		// A second failure neither calls OnOffline again nor changes
		// the recorded cause.
		d.fail("op", "name", pe(unix.EIO))
		want := int32(1)
		if online, _, cause := d.Online(); online || (c.offline && !strings.Contains(cause.Error(), c.err.Error())) {
			t.Errorf("after a second failure: online %v, cause %v", online, cause)
		}
		if calls.Load() != want {
			t.Errorf("fail(%v) then EIO: OnOffline called %d times, want %d", c.err, calls.Load(), want)
		}
		if err := d.Recheck(context.Background()); err != nil {
			t.Errorf("Recheck of a healthy directory: %v", err)
		}
		if online, _, _ := d.Online(); !online {
			t.Errorf("still offline after Recheck")
		}
	}
}

// FuzzPath: whatever the name, a path the drive accepts lies strictly
// below data/, and exactly the valid names are accepted.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "..", "../x", "a/../../x", "/etc/passwd", "a//b", "a\\..\\b", ".", "x/.", "\x00", "..a/b..", "data/../../tmp"} {
		f.Add(s)
	}
	d := &Drive{data: filepath.Join("/srv", "drive", dataDir)}
	f.Fuzz(func(t *testing.T, name string) {
		p, ok := d.path(name)
		if ok != drivers.ValidName(name) {
			t.Fatalf("path(%q) ok = %v, ValidName = %v", name, ok, !ok)
		}
		if !ok {
			return
		}
		rel, err := filepath.Rel(d.data, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			t.Fatalf("path(%q) = %q, outside %s (rel %q, %v)", name, p, d.data, rel, err)
		}
		if filepath.ToSlash(rel) != name {
			t.Fatalf("path(%q) = %q maps to another name %q", name, p, rel)
		}
	})
}

// FuzzDecodeFormat: the format parser never panics, accepts only what it
// can round-trip, and what encodeFormat writes it reads back.
func FuzzDecodeFormat(f *testing.F) {
	f.Add(encodeFormat("d1"))
	f.Add([]byte(`{"format":"vaultaire-drive","version":2,"id":"x"}`))
	f.Add([]byte(`{"format":"vaultaire-drive","version":1,"id":""}`))
	f.Add([]byte(`{"format":"vaultaire-drive","version":1,"id":"a","extra":[1,2]}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := decodeFormat(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("decodeFormat error %v is not ErrFormat", err)
			}
			return
		}
		if id == "" {
			t.Fatal("decodeFormat accepted an empty id")
		}
		id2, err := decodeFormat(encodeFormat(id))
		if err != nil || id2 != id {
			t.Fatalf("round trip of id %q = %q, %v", id, id2, err)
		}
	})
}
