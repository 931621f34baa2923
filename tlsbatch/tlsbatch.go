// Package tlsbatch writes the TLS records of one large write in one
// system call.
//
// Over TLS a large body costs a write syscall per TLS record: Go's
// tls.Conn seals a Write into records of at most 16 KiB and hands each to
// the connection below it as it is sealed, where plain TCP hands the
// kernel a whole 256 KiB slice at once. A Conn sits under a *tls.Conn
// and, while a writer holds it (Write, or Hold and Release around a
// write to the tls.Conn), collects the sealed records in a buffer and
// writes them in one syscall when the write returns. Everything else
// passes straight through: the handshake, alerts, close_notify, small
// writes and every write while nothing holds it, so nothing the peer must
// answer can be held back (no deadlock).
//
// The S3 listener (s3.Certs.Listener) holds its Conn from the response
// writer, because net/http must see the *tls.Conn itself; the cluster
// transport's RPC connections, which net/http sees through a wrapper
// anyway, hold it around every write of either end.
package tlsbatch

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// MaxBatch caps what a Conn holds before it writes it out: the records of
// one of the slices large bodies are written in (the erasure coder's
// 256 KiB shard slices, which plain HTTP hands the kernel in one write):
// 16 records of 16 KiB with at most 261 bytes of header and tag each, and
// room to spare.
const MaxBatch = 288 << 10

// MinWrite is the smallest write worth holding: one that TLS seals into
// more than one record.
const MinWrite = 16 << 10

var pool = sync.Pool{New: func() any { b := make([]byte, 0, MaxBatch); return &b }}

// Conn is the connection under a tls.Conn (see the package comment). Its
// zero value is not usable; New makes one.
type Conn struct {
	net.Conn
	// mu orders the writes into the socket, as tls.Conn's own output lock
	// does for records: a flush (from the response writer) and a record
	// written by the TLS reader (an alert, a key update) must not
	// interleave. Holding it across the write is the point.
	mu struct {
		sync.Mutex
		holds int     // held writes in progress; records are held while > 0
		buf   *[]byte // held records, from pool; nil when none
		// err is the failure of a write of held records: they are lost,
		// so the TLS stream is broken and every later write fails too
		// (a record stream with a gap must not go on).
		err error
	}
	// aborted (Abort): a write that would wait for the one in progress
	// fails instead.
	aborted atomic.Bool
}

var _ net.Conn = (*Conn)(nil)

func (b *Conn) Write(p []byte) (int, error) {
	if b.aborted.Load() {
		if !b.mu.TryLock() {
			return 0, net.ErrClosed
		}
	} else {
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	if b.mu.err != nil {
		return 0, b.mu.err
	}
	if b.mu.holds == 0 {
		return b.Conn.Write(p) // nothing is held: the buffer is empty
	}
	if b.mu.buf != nil && len(*b.mu.buf)+len(p) > MaxBatch {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= MaxBatch {
		return b.Conn.Write(p)
	}
	if b.mu.buf == nil {
		b.mu.buf = pool.Get().(*[]byte)
	}
	*b.mu.buf = append(*b.mu.buf, p...)
	return len(p), nil
}

// Hold starts holding records until the matching Release.
func (b *Conn) Hold() {
	b.mu.Lock()
	b.mu.holds++
	b.mu.Unlock()
}

// Release ends a hold; the last one writes out what was held.
func (b *Conn) Release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.holds--
	if b.mu.holds > 0 {
		return nil
	}
	return b.flushLocked()
}

// flushLocked writes the held records out. REQUIRES: b.mu.
func (b *Conn) flushLocked() error {
	if b.mu.buf == nil {
		return b.mu.err
	}
	buf := b.mu.buf
	b.mu.buf = nil
	if _, err := b.Conn.Write(*buf); err != nil {
		b.mu.err = err
	}
	*buf = (*buf)[:0]
	pool.Put(buf)
	return b.mu.err
}

// SetWriteDeadline writes out the held records first: they were written
// under the deadline they replace. (tls.Conn's close_notify sets a
// deadline of now once its alert is written, which would otherwise fail
// the records held before the alert.) But it never waits for a write in
// progress: a deadline is how a caller ends a write stuck on a peer that
// stopped reading, so it must reach that write. Records are only held
// inside a tls.Conn.Write, under the tls.Conn's output lock, which its own
// deadline changes (close_notify) also take, so a write in progress here
// is a socket write, which the new deadline then governs.
func (b *Conn) SetWriteDeadline(t time.Time) error {
	b.flushIfIdle()
	return b.Conn.SetWriteDeadline(t)
}

// SetDeadline is SetWriteDeadline and SetReadDeadline.
func (b *Conn) SetDeadline(t time.Time) error {
	b.flushIfIdle()
	return b.Conn.SetDeadline(t)
}

// flushIfIdle writes out the held records unless a write is in progress
// (see SetWriteDeadline). A failure stays in b.mu.err for the writer.
func (b *Conn) flushIfIdle() {
	if b.mu.TryLock() {
		_ = b.flushLocked()
		b.mu.Unlock()
	}
}

// Abort makes every later write that would wait for a write in progress
// fail at once with net.ErrClosed. Call it before closing the tls.Conn
// above from a goroutine other than the writer's: tls.Conn.Close sends a
// close_notify, which would otherwise queue behind a held write stuck on a
// peer that stopped reading (tls.Conn skips the alert only for a Write of
// its own in flight, and a held write is written out after that Write has
// returned). Close then closes the socket, which ends the stuck write.
func (b *Conn) Abort() { b.aborted.Store(true) }

// CloseWrite ends the write side of the socket (the S3 server sends a TCP
// FIN after the close_notify of a refused request's connection).
func (b *Conn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// New returns a Conn over c; put a tls.Conn over it.
func New(c net.Conn) *Conn { return &Conn{Conn: c} }

// Write writes p to w, a tls.Conn (or a writer over one) whose connection
// below is b, holding b for the write so that the records of p leave in
// as few syscalls as MaxBatch allows. A write under MinWrite, one record
// at most, goes straight through, and so does any write when b is nil.
func Write(b *Conn, w io.Writer, p []byte) (int, error) {
	if b == nil || len(p) <= MinWrite {
		return w.Write(p)
	}
	b.Hold()
	n, err := w.Write(p)
	if ferr := b.Release(); err == nil {
		err = ferr
	}
	return n, err
}
