package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

// DecryptWriter takes the stored bytes of a range of whole packages (as
// CiphertextRange names them) and writes the plaintext range asked for to
// w. Close reports a range that ended early.
type DecryptWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	size   int64 // plaintext size of the whole stream
	seq    uint64
	skip   int64 // plaintext bytes to drop before the range
	remain int64 // plaintext bytes of the range still to write
	buf    []byte
	plain  []byte
	// Opened counts the packages authenticated and decrypted.
	Opened int64
}

// NewDecryptWriter returns a writer that decrypts the packages holding
// plaintext [off, off+length) of a stream of size bytes, fed from the
// first of them, and writes exactly that range to w.
func NewDecryptWriter(w io.Writer, key DataKey, size, off, length int64) *DecryptWriter {
	first := off / PackageSize
	return &DecryptWriter{
		w: w, aead: key.aead(), size: size, seq: uint64(first),
		skip: off - first*PackageSize, remain: length,
		buf: make([]byte, 0, sealedPackageSize), plain: make([]byte, 0, PackageSize),
	}
}

// packageLen is the stored length of package seq.
func (d *DecryptWriter) packageLen() int {
	start := int64(d.seq) * PackageSize
	return int(min(d.size-start, PackageSize)) + TagSize
}

func (d *DecryptWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if d.remain <= 0 {
			// Stored bytes past the range (a whole last package was
			// already written): ignore them.
			return total, nil
		}
		want := d.packageLen()
		if len(d.buf) == 0 && len(p) >= want {
			// A whole package in p: open it in place, without a copy.
			if err := d.open(p[:want]); err != nil {
				return total - len(p), err
			}
			p = p[want:]
			continue
		}
		n := min(want-len(d.buf), len(p))
		d.buf = append(d.buf, p[:n]...)
		p = p[n:]
		if len(d.buf) < want {
			continue
		}
		if err := d.open(d.buf); err != nil {
			return total - len(p), err
		}
		d.buf = d.buf[:0]
	}
	return total, nil
}

func (d *DecryptWriter) open(sealed []byte) error {
	final := int64(d.seq+1)*PackageSize >= d.size
	plain, err := d.aead.Open(d.plain[:0], nonce(d.seq, final), sealed, nil)
	if err != nil {
		return fmt.Errorf("%w: package %d", ErrAuth, d.seq)
	}
	d.Opened++
	d.seq++
	plain = plain[min(d.skip, int64(len(plain))):]
	d.skip = 0
	if int64(len(plain)) > d.remain {
		plain = plain[:d.remain]
	}
	d.remain -= int64(len(plain))
	_, err = d.w.Write(plain)
	return err
}

// Close reports a stream that ended before the range was complete.
func (d *DecryptWriter) Close() error {
	if d.remain > 0 {
		return fmt.Errorf("%w: stream ended %d bytes before the range", ErrAuth, d.remain)
	}
	return nil
}
