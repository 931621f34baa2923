package local

import (
	"context"
	"io/fs"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIOErrorsCount pins down which errors count as I/O errors of the
// drive: failures that take it offline and a full file system, not absent
// objects, bad names or the process's own limits.
func TestIOErrorsCount(t *testing.T) {
	pe := func(errno unix.Errno) error { return &fs.PathError{Op: "write", Path: "/x", Err: errno} }
	cases := []struct {
		err   error
		count int64
	}{
		{pe(unix.ENOENT), 0},
		{pe(unix.ENAMETOOLONG), 0},
		{pe(unix.EMFILE), 0},
		{context.Canceled, 0},
		{pe(unix.ENOSPC), 1},
		{pe(unix.EIO), 1},
	}
	for _, c := range cases {
		d := newTestDrive(t, nil)
		d.fail("op", "name", c.err)
		if got := d.IOErrors(); got != c.count {
			t.Errorf("fail(%v): IOErrors %d, want %d", c.err, got, c.count)
		}
	}
}
