package tlsbatch

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/s3/s3test"
)

// recordConn records the writes that reach the socket.
type recordConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	fail   error // every write fails with it when set
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *recordConn) sizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, w := range c.writes {
		out = append(out, len(w))
	}
	return out
}

func (c *recordConn) all() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.writes, nil)
}

func TestConn(t *testing.T) {
	const rec = 16<<10 + 22 // a full TLS 1.3 record: header, payload, type, tag
	type step struct {
		hold, release bool
		write         int // bytes written (when not holding or releasing)
	}
	h, r := step{hold: true}, step{release: true}
	w := func(n int) step { return step{write: n} }
	for _, tc := range []struct {
		name  string
		steps []step
		want  []int // sizes of the writes that reach the socket
	}{
		{"nothing held passes through", []step{w(5), w(rec), w(7)}, []int{5, rec, 7}},
		{"held records leave at release", []step{h, w(rec), w(rec), w(100), r}, []int{2*rec + 100}},
		{"release with nothing held writes nothing", []step{h, r, w(3)}, []int{3}},
		{"a full buffer is written before the record that overflows it",
			[]step{h, w(MaxBatch - 100), w(rec), w(rec), r}, []int{MaxBatch - 100, 2 * rec}},
		{"a 256 KiB write's records leave in one write", []step{h, w(16 * rec), r}, []int{16 * rec}},
		{"a write as large as the buffer passes through",
			[]step{h, w(10), w(MaxBatch), w(10), r}, []int{10, MaxBatch, 10}},
		{"nested holds flush at the last release",
			[]step{h, w(rec), h, w(rec), r, w(1), r, w(2)}, []int{2*rec + 1, 2}},
		{"writes after a release pass through", []step{h, w(rec), r, w(4), w(5)}, []int{rec, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := &recordConn{}
			b := New(sock)
			var sent []byte
			next := byte(0)
			for _, s := range tc.steps {
				switch {
				case s.hold:
					b.Hold()
				case s.release:
					if err := b.Release(); err != nil {
						t.Fatal(err)
					}
				default:
					p := make([]byte, s.write)
					for i := range p {
						p[i] = next
						next++
					}
					n, err := b.Write(p)
					if n != len(p) || err != nil {
						t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
					}
					sent = append(sent, p...)
				}
			}
			if got := sock.sizes(); !equalInts(got, tc.want) {
				t.Errorf("socket writes %v, want %v", got, tc.want)
			}
			if !bytes.Equal(sock.all(), sent) {
				t.Error("the socket got other bytes than were written, or in another order")
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A socket that fails fails the release that writes the held records, or
// the write that overflows the buffer, and every write after it, even
// once the socket works again: the held records are lost, so the record
// stream has a gap.
func TestConnErrors(t *testing.T) {
	broken := errors.New("broken pipe")
	for _, tc := range []struct {
		name string
		fail func(b *Conn) error // holds, writes, and fails the flush
	}{
		{"release", func(b *Conn) error {
			b.Hold()
			if _, err := b.Write(make([]byte, 100)); err != nil {
				return err
			}
			return b.Release()
		}},
		{"overflowing write", func(b *Conn) error {
			b.Hold()
			defer b.Release()
			if _, err := b.Write(make([]byte, MaxBatch-10)); err != nil {
				return err
			}
			_, err := b.Write(make([]byte, 100))
			return err
		}},
		{"deadline", func(b *Conn) error {
			b.Hold()
			defer b.Release()
			if _, err := b.Write(make([]byte, 100)); err != nil {
				return err
			}
			if err := b.SetWriteDeadline(time.Time{}); err != nil {
				return err
			}
			_, err := b.Write(make([]byte, 1))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := &recordConn{Conn: nopConn{}, fail: broken}
			b := New(sock)
			if err := tc.fail(b); !errors.Is(err, broken) {
				t.Fatalf("the write of held records over a broken socket: %v", err)
			}
			sock.mu.Lock()
			sock.fail = nil
			sock.mu.Unlock()
			if _, err := b.Write([]byte("next")); !errors.Is(err, broken) {
				t.Fatalf("a write after lost records: %v", err)
			}
			if b.mu.buf != nil || b.mu.holds != 0 || len(sock.sizes()) != 0 {
				t.Fatalf("records still held (%v) or written after the failure (%v)", b.mu.buf, sock.sizes())
			}
		})
	}
}

// nopConn is a net.Conn whose deadlines are accepted and ignored.
type nopConn struct{ net.Conn }

func (nopConn) SetWriteDeadline(time.Time) error { return nil }

// Over real TLS on a real socket: the handshake passes through, the
// records of one held write reach the socket in few writes, the client
// reads every byte, and an alert written while records are held (here the
// close_notify of CloseWrite from another goroutine) goes out behind them,
// not ahead: the client reads all the data before the end of the stream.
func TestConnTLS(t *testing.T) {
	ca := s3test.NewCA(t, "batch CA")
	issued := ca.Server(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(issued.CertPEM, issued.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 1 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	type result struct {
		writes []int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer raw.Close()
		sock := &countingConn{Conn: raw}
		b := New(sock)
		tc := tls.Server(b, conf)
		if err := tc.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		sock.reset()
		b.Hold()
		_, err = tc.Write(data)
		closed := make(chan error, 1)
		go func() { closed <- tc.CloseWrite() }()
		time.Sleep(20 * time.Millisecond) // most often the close_notify comes while held
		err = errors.Join(err, b.Release(), <-closed)
		done <- result{writes: sock.sizes(), err: err}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c) // to the close_notify
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("client read %d bytes, not the %d written", len(got), len(data))
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	// 64 records of 16 KiB in batches of at least 256 KiB of data, then
	// the close_notify.
	if len(res.writes) > size/(256<<10)+1 {
		t.Errorf("%d socket writes for %d bytes (%v), want at most %d", len(res.writes), size, res.writes, size/(256<<10)+1)
	}
}

// countingConn records the sizes of the writes to a real socket.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) reset() {
	c.mu.Lock()
	c.writes = nil
	c.mu.Unlock()
}

func (c *countingConn) sizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.writes...)
}

// stuckWriter starts a TLS server over a Conn whose client completes the
// handshake and then never reads, and writes 256 KiB held writes from a
// goroutine until the socket is full and a flush is stuck in the socket
// write. It returns the server's tls.Conn and Conn, and a channel that
// gets the writer's error once it gives up.
func stuckWriter(t *testing.T) (*tls.Conn, *Conn, <-chan error) {
	t.Helper()
	ca := s3test.NewCA(t, "stuck CA")
	issued := ca.Server(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(issued.CertPEM, issued.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	type accepted struct {
		tc *tls.Conn
		b  *Conn
	}
	acc := make(chan accepted, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			close(acc)
			return
		}
		b := New(raw)
		tc := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}})
		if tc.Handshake() != nil {
			close(acc)
			return
		}
		acc <- accepted{tc, b}
	}()
	client, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() }) // never read
	a, ok := <-acc
	if !ok {
		t.Fatal("server handshake failed")
	}
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		chunk := make([]byte, 256<<10)
		for {
			n, err := Write(a.b, a.tc, chunk)
			written.Add(int64(n))
			if err != nil {
				done <- err
				return
			}
		}
	}()
	// Stuck: nothing more written for 300 ms.
	last, since := written.Load(), time.Now()
	for time.Since(since) < 300*time.Millisecond {
		time.Sleep(20 * time.Millisecond)
		if n := written.Load(); n != last {
			last, since = n, time.Now()
		}
	}
	if last == 0 {
		t.Fatal("nothing written before the socket filled")
	}
	return a.tc, a.b, done
}

// A writer stuck on a peer that stopped reading holds the Conn while its
// held records go out. Closing the connection from another goroutine must
// not wait for it (the cluster's give-up on a stalled peer closes the
// connection to end such a write): after Abort, the close_notify that
// tls.Conn.Close sends gives up at once instead of queueing behind the
// stuck write, Close returns, and the writer fails.
func TestCloseDoesNotWaitForAStuckWrite(t *testing.T) {
	tc, b, done := stuckWriter(t)
	start := time.Now()
	b.Abort()
	_ = tc.Close() // the close_notify is not sent: that is the point
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v behind a stuck write", d)
	}
	wantWriteFails(t, done, "after Close")
}

// A write deadline reaches a write already stuck in the socket, without
// waiting for it to end first: a deadline in the past fails the stuck
// write at once.
func TestDeadlineReachesAStuckWrite(t *testing.T) {
	_, b, done := stuckWriter(t)
	set := make(chan error, 1)
	go func() { set <- b.SetWriteDeadline(time.Now().Add(-time.Second)) }()
	select {
	case err := <-set:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("SetWriteDeadline waited for the stuck write")
	}
	wantWriteFails(t, done, "at the deadline")
}

// wantWriteFails waits up to 5 s for stuckWriter's writer to fail.
func wantWriteFails(t *testing.T, done <-chan error, when string) {
	t.Helper()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the stuck write succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the stuck write did not fail %s", when)
	}
}
