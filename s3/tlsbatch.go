package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// Over TLS a large response costs a write syscall per TLS record: Go's
// tls.Conn seals a Write into records of at most 16 KiB and hands each to
// the connection below it as it is sealed, where plain HTTP hands the
// kernel a whole 256 KiB slice of a GET at once. A recordBatcher sits
// under the *tls.Conn of each S3 connection (Certs.Listener) and, while
// the response writer holds it (statusWriter.Write around a large write),
// collects the sealed records in a buffer and writes them in one syscall
// when the write returns. Everything else passes straight through: the
// handshake, alerts, close_notify, a flush of net/http's buffer and every
// write while nothing holds it, so nothing the peer must answer can be
// held back (no deadlock), and net/http still sees a *tls.Conn (r.TLS,
// its own handshake, Hijack).

// batchBytes caps what a recordBatcher holds before it writes it out: the
// records of one of the slices a large GET is written in (the erasure
// coder's 256 KiB shard slices, which plain HTTP hands the kernel in one
// write): 16 records of 16 KiB with at most 261 bytes of header and tag
// each, and room to spare.
const batchBytes = 288 << 10

// batchMin is the smallest response write worth holding: one that TLS
// seals into more than one record.
const batchMin = 16 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, batchBytes); return &b }}

// recordBatcher is the connection under a tls.Conn: see above.
type recordBatcher struct {
	net.Conn
	// mu orders the writes into the socket, as tls.Conn's own output lock
	// does for records: a flush (from the response writer) and a record
	// written by the TLS reader (an alert, a key update) must not
	// interleave. Holding it across the write is the point.
	mu struct {
		sync.Mutex
		holds int     // response writes in progress; records are held while > 0
		buf   *[]byte // held records, from batchPool; nil when none
		// err is the failure of a write of held records: they are lost,
		// so the TLS stream is broken and every later write fails too
		// (a record stream with a gap must not go on).
		err error
	}
}

var _ net.Conn = (*recordBatcher)(nil)

func (b *recordBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.err != nil {
		return 0, b.mu.err
	}
	if b.mu.holds == 0 {
		return b.Conn.Write(p) // nothing is held: the buffer is empty
	}
	if b.mu.buf != nil && len(*b.mu.buf)+len(p) > batchBytes {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= batchBytes {
		return b.Conn.Write(p)
	}
	if b.mu.buf == nil {
		b.mu.buf = batchPool.Get().(*[]byte)
	}
	*b.mu.buf = append(*b.mu.buf, p...)
	return len(p), nil
}

// hold starts holding records until the matching release.
func (b *recordBatcher) hold() {
	b.mu.Lock()
	b.mu.holds++
	b.mu.Unlock()
}

// release ends a hold; the last one writes out what was held.
func (b *recordBatcher) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.holds--
	if b.mu.holds > 0 {
		return nil
	}
	return b.flushLocked()
}

// flushLocked writes the held records out. REQUIRES: b.mu.
func (b *recordBatcher) flushLocked() error {
	if b.mu.buf == nil {
		return b.mu.err
	}
	buf := b.mu.buf
	b.mu.buf = nil
	if _, err := b.Conn.Write(*buf); err != nil {
		b.mu.err = err
	}
	*buf = (*buf)[:0]
	batchPool.Put(buf)
	return b.mu.err
}

// SetWriteDeadline writes out the held records first: they were written
// under the deadline they replace. (tls.Conn's close_notify sets a
// deadline of now once its alert is written, which would otherwise fail
// the records held before the alert.)
func (b *recordBatcher) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.flushLocked() // a failure stays in b.mu.err for the writer
	return b.Conn.SetWriteDeadline(t)
}

// SetDeadline is SetWriteDeadline and SetReadDeadline.
func (b *recordBatcher) SetDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.flushLocked()
	return b.Conn.SetDeadline(t)
}

// CloseWrite ends the write side of the socket (lingerRaw sends a TCP FIN
// after the close_notify).
func (b *recordBatcher) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Listener returns ln serving TLS with the identity of c: every
// connection it accepts is a *tls.Conn (TLSConfig) over a recordBatcher,
// so the records of one large response write leave in one syscall. Serve
// it with the http.Server of Server.HTTPServer (http.Server.Serve, not
// ServeTLS), whose ConnContext gives the response writer the batcher.
func (c *Certs) Listener(ln net.Listener) net.Listener {
	return &tlsListener{Listener: ln, conf: c.TLSConfig()}
}

type tlsListener struct {
	net.Listener
	conf *tls.Config
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&recordBatcher{Conn: c}, l.conf), nil
}

// batchKey is the connection context's key for its recordBatcher.
type batchKey struct{}

// withBatcher is HTTPServer's ConnContext: a connection accepted by
// Certs.Listener carries its recordBatcher to the requests on it.
func withBatcher(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		if b, ok := tc.NetConn().(*recordBatcher); ok {
			return context.WithValue(ctx, batchKey{}, b)
		}
	}
	return ctx
}

// batcherOf returns the recordBatcher under r's connection, or nil.
func batcherOf(ctx context.Context) *recordBatcher {
	b, _ := ctx.Value(batchKey{}).(*recordBatcher)
	return b
}
