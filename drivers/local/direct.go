package local

import (
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Direct I/O for large writes.
//
// A shard file written through the page cache costs a copy of every byte
// into the cache and the kernel's writeback later, on the same cores the
// erasure coder and the HTTP stack need; on the machines we measured it
// was the largest single cost of a 16 MiB PUT (docs/design.md,
// "Performance"). Put therefore writes a stream that fills its first
// buffer with O_DIRECT: the drive DMAs straight from our (aligned) buffer.
// Small objects keep buffered I/O, where the cache wins: they are read
// back soon and one small write is cheap.
//
// O_DIRECT needs the buffer address, the length and the file offset
// aligned to the device's logical block. Buffers are aligned to
// directAlign and every write but the last is a whole buffer; the last
// writes its aligned prefix directly and its tail after O_DIRECT is
// cleared again with fcntl. A file system that refuses O_DIRECT (EINVAL,
// e.g. some FUSE or older tmpfs) is remembered per drive and written
// buffered from then on. Durability is unchanged: the file is still made
// durable with fdatasync before the rename that publishes it, and a crash
// mid-stream leaves only a temp file that New removes.
const directAlign = 4096

// alignedBuffer returns a zeroed n-byte slice whose first byte is
// directAlign-aligned (n is a multiple of directAlign).
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1)); r != 0 {
		off = directAlign - r
	}
	return b[off : off+n : off+n]
}

// setDirect turns O_DIRECT on or off for f.
func setDirect(f *os.File, on bool) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = conn.Control(func(fd uintptr) {
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			serr = err
			return
		}
		if on {
			flags |= unix.O_DIRECT
		} else {
			flags &^= unix.O_DIRECT
		}
		_, serr = unix.FcntlInt(fd, unix.F_SETFL, flags)
	})
	if err != nil {
		return err
	}
	return serr
}

// directState remembers whether the drive's file system takes O_DIRECT.
type directState struct {
	refused atomic.Bool
	puts    atomic.Int64 // Puts that wrote with O_DIRECT (tests)
}

// copyToFile copies r to the new temp file f through a pooled aligned
// buffer, checking ctx between chunks, and tells the reader's (or
// context's) error from the file's. A stream that fills the first buffer
// goes on with O_DIRECT unless direct is nil or the file system refused it.
func copyToFile(ctx context.Context, f *os.File, r io.Reader, direct *directState) (n int64, rerr, werr error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	isDirect := false
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return n, err, nil
		}
		m, err := fill(r, buf)
		if first && m == len(buf) && direct != nil && !direct.refused.Load() {
			switch e := setDirect(f, true); {
			case e == nil:
				isDirect = true
				direct.puts.Add(1)
			case errors.Is(e, unix.EINVAL), errors.Is(e, unix.EOPNOTSUPP):
				direct.refused.Store(true)
			default:
				return n, nil, e
			}
		}
		if m > 0 {
			w, e := writeChunk(f, buf[:m], &isDirect)
			n += int64(w)
			if e != nil {
				return n, nil, e
			}
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// writeChunk writes b at f's offset. While *isDirect, a length that is
// not block-aligned (the stream's last chunk) has its aligned prefix
// written directly and its tail after O_DIRECT is switched off.
func writeChunk(f *os.File, b []byte, isDirect *bool) (int, error) {
	if !*isDirect || len(b)%directAlign == 0 {
		return f.Write(b)
	}
	head := len(b) &^ (directAlign - 1)
	n := 0
	if head > 0 {
		w, err := f.Write(b[:head])
		n += w
		if err != nil {
			return n, err
		}
	}
	if err := setDirect(f, false); err != nil {
		return n, err
	}
	*isDirect = false
	w, err := f.Write(b[head:])
	return n + w, err
}

// datasync makes f's data, and the metadata needed to read it back (its
// size), durable: fdatasync, which skips the timestamps fsync would write.
func datasync(f *os.File) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := conn.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
