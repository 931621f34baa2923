package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// PackageSize is the plaintext size of a package. 64 KiB keeps the
// per-package overhead (16 bytes, 0.024%) negligible and a range read's
// waste under one package at each end; DARE uses the same size.
const PackageSize = 64 << 10

// TagSize is the authentication tag appended to every package.
const TagSize = 16

// sealedPackageSize is the stored size of a full package.
const sealedPackageSize = PackageSize + TagSize

// KeySize is the size of data keys and KEKs (AES-256).
const KeySize = 32

// Errors of package sse.
var (
	// ErrAuth: a package or sealed key failed authentication: the bytes
	// were changed, truncated or reordered, or the key is wrong.
	ErrAuth = errors.New("sse: authentication failed")
	// ErrFormat: a sealed key record is malformed.
	ErrFormat = errors.New("sse: malformed sealed key")
	// ErrUnknownKEK: a sealed key names a KEK the keyring does not have.
	ErrUnknownKEK = errors.New("sse: unknown key-encryption key")
)

// DataKey is the key of one encrypted stream.
type DataKey [KeySize]byte

// NewDataKey returns a random data key.
func NewDataKey() (DataKey, error) {
	var k DataKey
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("sse: data key: %w", err)
	}
	return k, nil
}

func (k DataKey) aead() cipher.AEAD {
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

func nonce(seq uint64, final bool) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[:8], seq)
	if final {
		n[8] = 1
	}
	return n[:]
}

// EncryptedSize is the stored size of a plaintext stream of n bytes.
func EncryptedSize(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return n + packages(n)*TagSize
}

// packages is the number of packages of n plaintext bytes.
func packages(n int64) int64 { return (n + PackageSize - 1) / PackageSize }

// CiphertextRange maps the plaintext range [off, off+length) of a stream of
// size plaintext bytes (length > 0) to the stored range [cOff, cOff+cLen)
// of the whole packages holding it; first is the first package's number.
func CiphertextRange(size, off, length int64) (cOff, cLen int64, first int64) {
	first = off / PackageSize
	last := (off + length - 1) / PackageSize
	cOff = first * sealedPackageSize
	cEnd := min((last+1)*sealedPackageSize, EncryptedSize(size))
	return cOff, cEnd - cOff, first
}

// Encrypt seals p, a whole stream, in memory (for inline artifacts).
func Encrypt(key DataKey, p []byte) []byte {
	a := key.aead()
	out := make([]byte, 0, EncryptedSize(int64(len(p))))
	for seq := uint64(0); len(p) > 0; seq++ {
		n := min(len(p), PackageSize)
		out = a.Seal(out, nonce(seq, n == len(p)), p[:n], nil)
		p = p[n:]
	}
	return out
}

// Decrypt opens a whole stream sealed by Encrypt that held size bytes.
func Decrypt(key DataKey, c []byte, size int64) ([]byte, error) {
	if int64(len(c)) != EncryptedSize(size) {
		return nil, fmt.Errorf("%w: stream of %d bytes, want %d", ErrAuth, len(c), EncryptedSize(size))
	}
	a := key.aead()
	out := make([]byte, 0, size)
	for seq := uint64(0); len(c) > 0; seq++ {
		n := min(len(c), sealedPackageSize)
		var err error
		out, err = a.Open(out, nonce(seq, n == len(c)), c[:n], nil)
		if err != nil {
			return nil, fmt.Errorf("%w: package %d", ErrAuth, seq)
		}
		c = c[n:]
	}
	return out, nil
}

// EncryptReader reads a plaintext stream and returns its ciphertext.
// Memory: two packages.
type EncryptReader struct {
	r    io.Reader
	aead cipher.AEAD
	seq  uint64
	// cur is the next package's plaintext (read ahead of sealing, so the
	// final one is known), out the sealed bytes not yet returned.
	cur, next []byte
	out       []byte
	outBuf    []byte
	started   bool
	done      bool
	err       error
}

// NewEncryptReader returns a reader of r's bytes sealed under key.
func NewEncryptReader(r io.Reader, key DataKey) *EncryptReader {
	return &EncryptReader{
		r: r, aead: key.aead(),
		cur: make([]byte, 0, PackageSize), next: make([]byte, 0, PackageSize),
		outBuf: make([]byte, 0, sealedPackageSize),
	}
}

func (e *EncryptReader) fill(buf []byte) ([]byte, error) {
	n, err := io.ReadFull(e.r, buf[:PackageSize])
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return buf[:n], err
}

func (e *EncryptReader) Read(p []byte) (int, error) {
	for len(e.out) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			return 0, io.EOF
		}
		if !e.started {
			e.started = true
			if e.cur, e.err = e.fill(e.cur); e.err != nil {
				continue
			}
		}
		if len(e.cur) == 0 {
			e.done = true
			continue
		}
		final := len(e.cur) < PackageSize
		if !final {
			if e.next, e.err = e.fill(e.next); e.err != nil {
				continue
			}
			final = len(e.next) == 0
		}
		e.out = e.aead.Seal(e.outBuf[:0], nonce(e.seq, final), e.cur, nil)
		e.seq++
		if final {
			e.cur = e.cur[:0]
		} else {
			e.cur, e.next = e.next, e.cur[:0]
		}
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

// Decryption pipeline. A DecryptWriter opens the whole packages of each
// Write straight from the caller's buffer (the erasure decoder's shards)
// into a plaintext batch, split across up to maxWorkers goroutines (the
// caller's among them); only a package cut by a Write boundary is copied
// first. A full batch goes to the destination from a writer goroutine
// while the caller decodes the next one. Memory per stream: two batches
// and one package.
const (
	batchPackages = 8
	batchSize     = batchPackages * PackageSize
	batchBuffers  = 2
	maxWorkers    = 4
)

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, batchSize); return &b }}

// DecryptWriter takes the stored bytes of a range of whole packages (as
// CiphertextRange names them) and writes the plaintext range asked for to
// w. A failure to authenticate is returned by the Write that fed the
// package; a failure of w by a later Write or by Close. Close must be
// called: it waits until everything opened is written, and reports a range
// that ended early.
type DecryptWriter struct {
	w      io.Writer
	key    DataKey
	aeads  []cipher.AEAD // one per worker: an AEAD is not shared across goroutines
	size   int64         // plaintext size of the whole stream
	seq    uint64        // number of the next package to open
	last   int64         // number of the range's last package (-1: none)
	skip   int64         // plaintext bytes to drop before the range
	remain int64         // plaintext bytes of the range not yet handed to w
	stage  []byte        // a package split across writes
	out    []byte        // the plaintext batch being filled

	// The writer goroutine, started with the second batch: full carries
	// batches to it, free brings their buffers back.
	full    chan batch
	free    chan []byte
	done    chan struct{}
	buffers int
	mu      sync.Mutex
	err     error // of w
	closed  bool

	// Opened counts the packages authenticated and decrypted.
	Opened int64
}

// openJob is one open call's packages, claimed by index.
type openJob struct {
	next    atomic.Int64
	pending atomic.Int64
	done    chan struct{}
	errs    []error
}

type batch struct {
	buf    []byte
	lo, hi int
}

// NewDecryptWriter returns a writer that decrypts the packages holding
// plaintext [off, off+length) of a stream of size bytes, fed from the
// first of them, and writes exactly that range to w.
func NewDecryptWriter(w io.Writer, key DataKey, size, off, length int64) *DecryptWriter {
	first := off / PackageSize
	d := &DecryptWriter{
		w: w, key: key, size: size, seq: uint64(first), last: -1,
		skip: off - first*PackageSize, remain: length,
	}
	if length > 0 {
		d.last = (off + length - 1) / PackageSize
	}
	return d
}

func (d *DecryptWriter) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// packageLen is the stored length of package seq (<= TagSize: past the
// stream's end).
func (d *DecryptWriter) packageLen(seq uint64) int {
	return int(max(min(d.size-int64(seq)*PackageSize, PackageSize), 0)) + TagSize
}

func (d *DecryptWriter) Write(p []byte) (int, error) {
	if err := d.failed(); err != nil {
		return 0, err
	}
	total := len(p)
	for len(p) > 0 && int64(d.seq) <= d.last {
		want := d.packageLen(d.seq)
		if want <= TagSize {
			return total - len(p), fmt.Errorf("%w: package %d is past the stream's end", ErrAuth, d.seq)
		}
		if d.out == nil {
			d.out = d.buffer()
		}
		if len(d.stage) > 0 || len(p) < want {
			if d.stage == nil {
				d.stage = make([]byte, 0, sealedPackageSize)
			}
			n := min(want-len(d.stage), len(p))
			d.stage = append(d.stage, p[:n]...)
			p = p[n:]
			if len(d.stage) == want {
				if err := d.open(d.stage, []int{want}); err != nil {
					return total - len(p), err
				}
				d.stage = d.stage[:0]
			}
			continue
		}
		// The whole packages at the head of p, as many as the batch
		// has room for.
		var lens [batchPackages]int
		k, n := 0, 0
		room := (cap(d.out) - len(d.out)) / PackageSize
		for k < max(room, 1) && int64(d.seq)+int64(k) <= d.last {
			l := d.packageLen(d.seq + uint64(k))
			if l <= TagSize || n+l > len(p) {
				break
			}
			lens[k] = l
			k, n = k+1, n+l
		}
		if err := d.open(p[:n], lens[:k]); err != nil {
			return total - len(p), err
		}
		p = p[n:]
	}
	// Stored bytes past the range (a whole last package was already
	// opened) are ignored.
	return total, nil
}

// buffer returns an empty plaintext batch: a new one while fewer than
// batchBuffers are in use, else one the writer gave back.
func (d *DecryptWriter) buffer() []byte {
	if d.buffers >= batchBuffers {
		return <-d.free
	}
	d.buffers++
	if need := (d.last - int64(d.seq) + 1) * PackageSize; need < batchSize && d.full == nil {
		// A range of less than one batch: a buffer of its size (a
		// 1-byte range read holds one package).
		return make([]byte, 0, need)
	}
	return (*batchPool.Get().(*[]byte))[:0]
}

// open opens the packages sealed in src (lengths lens, from d.seq on) into
// the batch, in parallel when there are several, and hands the batch over
// when it is full or holds the range's last package.
func (d *DecryptWriter) open(src []byte, lens []int) error {
	k := len(lens)
	workers := min(k, maxWorkers, runtime.GOMAXPROCS(0))
	for len(d.aeads) < workers {
		d.aeads = append(d.aeads, d.key.aead())
	}
	base := len(d.out)
	dst := d.out[:cap(d.out)]
	// Packages are claimed one at a time: a helper the scheduler does
	// not run soon (a loaded machine) claims nothing, and the caller,
	// having opened the rest itself, waits only for packages a helper is
	// opening. A helper started late finds its job's counter exhausted
	// and touches nothing else.
	j := &openJob{errs: make([]error, k)}
	j.pending.Add(int64(k))
	offs := make([]int, k)
	for i, lo := 0, 0; i < k; i++ {
		offs[i] = lo
		lo += lens[i]
	}
	work := func(wk int) {
		for {
			i := int(j.next.Add(1) - 1)
			if i >= k {
				return
			}
			seq := d.seq + uint64(i)
			final := int64(seq+1)*PackageSize >= d.size
			at := base + i*PackageSize
			if _, err := d.aeads[wk].Open(dst[at:at], nonce(seq, final), src[offs[i]:offs[i]+lens[i]], nil); err != nil {
				j.errs[i] = fmt.Errorf("%w: package %d", ErrAuth, seq)
			}
			if j.pending.Add(-1) == 0 {
				close(j.done)
			}
		}
	}
	j.done = make(chan struct{})
	for wk := 1; wk < workers; wk++ {
		go work(wk)
	}
	work(0)
	<-j.done
	for _, err := range j.errs {
		if err != nil {
			return err
		}
	}
	plain := 0
	for _, l := range lens {
		plain += l - TagSize
	}
	d.out = d.out[:base+plain]
	d.seq += uint64(k)
	d.Opened += int64(k)
	if len(d.out) == cap(d.out) || int64(d.seq) > d.last {
		return d.flush()
	}
	return nil
}

// flush hands the batch's part of the range to w: inline when it is the
// whole range, else through the writer goroutine.
func (d *DecryptWriter) flush() error {
	b := batch{buf: d.out, lo: int(min(d.skip, int64(len(d.out))))}
	b.hi = int(min(int64(len(d.out)), int64(b.lo)+d.remain))
	d.out, d.skip = nil, 0
	d.remain -= int64(b.hi - b.lo)
	if d.full == nil && int64(d.seq) > d.last {
		_, err := d.w.Write(b.buf[b.lo:b.hi])
		d.release(b.buf)
		return err
	}
	if d.full == nil {
		d.full = make(chan batch, 1)
		d.free = make(chan []byte, batchBuffers)
		d.done = make(chan struct{})
		go d.run()
	}
	d.full <- b
	return d.failed()
}

func (d *DecryptWriter) release(b []byte) {
	if cap(b) == batchSize {
		b = b[:0]
		batchPool.Put(&b)
	}
}

// run writes the batches in order; after a failure it only gives the
// buffers back.
func (d *DecryptWriter) run() {
	defer close(d.done)
	for b := range d.full {
		if d.failed() == nil {
			if _, err := d.w.Write(b.buf[b.lo:b.hi]); err != nil {
				d.mu.Lock()
				d.err = err
				d.mu.Unlock()
			}
		}
		d.free <- b.buf[:0]
	}
}

// Close waits until every batch is written, gives the buffers back and
// reports a failure of w, or a stream that ended before the range was
// complete.
func (d *DecryptWriter) Close() error {
	if !d.closed {
		d.closed = true
		if d.full != nil {
			close(d.full)
			<-d.done
			for range len(d.free) {
				d.release(<-d.free)
			}
		}
	}
	if err := d.failed(); err != nil {
		return err
	}
	if d.remain > 0 {
		return fmt.Errorf("%w: stream ended %d bytes before the range", ErrAuth, d.remain)
	}
	return nil
}
