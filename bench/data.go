package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/xxh3"
)

// Artifact content is a pure function of (seed, key, size): the bytes are
// the little-endian 64-bit words w(0), w(1), ... of a counter-based
// generator, w(i) = splitmix64(base + (i+1)·γ) with
// base = xxh3(key, seed) ⊕ splitmix64(size), truncated to size bytes.
// Being counter-based, any offset can be produced without producing what
// comes before it (ReadAt, Seek, per-part regeneration in the sink), and
// it runs at several GB/s per core with no shared state; splitmix64 output
// is statistically random, so compression or deduplication on the server
// cannot flatter the numbers.

const splitmixGamma = 0x9e3779b97f4a7c15

func splitmix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// contentBase is the generator state of the artifact (seed, key, size).
func contentBase(seed uint64, key string, size int64) uint64 {
	return xxh3.HashStringSeed(key, seed) ^ splitmix(uint64(size))
}

// artifactSeed derives the seed of one version of an artifact from the
// run's seed and the version's generation number, so that an overwrite
// with the same size still changes every byte.
func artifactSeed(runSeed, generation uint64) uint64 {
	return splitmix(runSeed + generation*splitmixGamma)
}

// fillContent writes the content bytes at stream offset off into p.
func fillContent(base uint64, off int64, p []byte) {
	w := uint64(off) >> 3
	if head := int(off & 7); head != 0 {
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], splitmix(base+(w+1)*splitmixGamma))
		n := copy(p, tmp[head:])
		p = p[n:]
		w++
	}
	ctr := base + (w+1)*splitmixGamma
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, splitmix(ctr))
		ctr += splitmixGamma
		p = p[8:]
	}
	if len(p) > 0 {
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], splitmix(ctr))
		copy(p, tmp[:])
	}
}

// contentReader streams an artifact's content. It implements io.Reader,
// io.ReaderAt and io.Seeker so the SDK can sign, retry and split it into
// multipart parts without buffering.
type contentReader struct {
	base uint64
	size int64
	off  int64
}

func newContentReader(seed uint64, key string, size int64) *contentReader {
	return &contentReader{base: contentBase(seed, key, size), size: size}
}

func (c *contentReader) Read(p []byte) (int, error) {
	n, err := c.ReadAt(p, c.off)
	c.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (c *contentReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("bench: negative offset")
	}
	if off >= c.size {
		return 0, io.EOF
	}
	var err error
	if rest := c.size - off; int64(len(p)) > rest {
		p = p[:rest]
		err = io.EOF
	}
	fillContent(c.base, off, p)
	return len(p), err
}

func (c *contentReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.off
	case io.SeekEnd:
		offset += c.size
	default:
		return 0, errors.New("bench: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("bench: negative position")
	}
	c.off = offset
	return offset, nil
}

// verifyChunk is how many expected bytes a verifier produces at a time.
const verifyChunk = 64 << 10

// verifier checks a stream of bytes against the expected content of an
// artifact as they arrive, without holding more than one chunk.
type verifier struct {
	base    uint64
	size    int64
	off     int64
	scratch []byte
}

func newVerifier(seed uint64, key string, size int64, scratch []byte) *verifier {
	if len(scratch) < verifyChunk {
		scratch = make([]byte, verifyChunk)
	}
	return &verifier{base: contentBase(seed, key, size), size: size, scratch: scratch[:verifyChunk]}
}

// Write compares p with the content at the current offset. It fails with
// ErrVerifyMismatch at the first differing byte and with ErrVerifySize when
// the stream runs past the artifact's size.
func (v *verifier) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		if v.off >= v.size {
			return done, fmt.Errorf("%w: more than the expected %d bytes", ErrVerifySize, v.size)
		}
		n := min(len(p), len(v.scratch))
		if rest := v.size - v.off; int64(n) > rest {
			n = int(rest)
		}
		exp := v.scratch[:n]
		fillContent(v.base, v.off, exp)
		if !bytes.Equal(exp, p[:n]) {
			i := 0
			for exp[i] == p[i] {
				i++
			}
			return done + i, fmt.Errorf("%w at byte %d of %d", ErrVerifyMismatch, v.off+int64(i), v.size)
		}
		v.off += int64(n)
		done += n
		p = p[n:]
	}
	return done, nil
}

// finish reports whether exactly size bytes arrived.
func (v *verifier) finish() error {
	if v.off != v.size {
		return fmt.Errorf("%w: got %d of %d bytes", ErrVerifySize, v.off, v.size)
	}
	return nil
}
