package md5lanes

import (
	"crypto/md5"
	"encoding/binary"
	"hash"
	"sync"
)

// Size and BlockSize are MD5's, in bytes.
const (
	Size      = md5.Size
	BlockSize = md5.BlockSize
)

// chunkSize is the size of a Digest's two buffers and of most submissions:
// large enough that a pass's fixed costs (a lock, a wake-up, loading the
// lanes) are small against hashing 16 such chunks (about 1 µs against
// hundreds), small enough that 16 streams hold only 8 MiB of buffers.
const chunkSize = 256 << 10

var bufPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// Digest computes the MD5 of one stream (a hash.Hash), sharing vector
// passes with the other Digests of the process. It is not safe for
// concurrent use by several goroutines; Close it when done.
type Digest struct {
	fb hash.Hash // crypto/md5's digest when the kernel cannot run here

	s   [4]uint32 // state after the bytes hashed so far; the combiner's while pend != nil
	len uint64    // bytes written since Reset

	// cur holds the bytes written but not yet hashed or submitted,
	// cur[:nc]; spare is the buffer submitted (pend), if any. Both are nil
	// while the Digest holds no buffers (new or closed); then the unhashed
	// tail (< 64 bytes) is x[:nx].
	cur, spare *[chunkSize]byte
	nc         int
	x          [BlockSize]byte
	nx         int

	// Guarded by the combiner's mutex (srv.mu).
	pend   []byte // submitted bytes not yet hashed, nil for none
	urgent bool   // the owner waits for pend (blocked in wait)
	// sig wakes the owner while it waits: true when pend is hashed, false
	// when it is to run the next pass.
	sig chan bool
}

var _ hash.Hash = (*Digest)(nil)

// New returns a Digest in its initial state. It holds no buffer until the
// first Write.
func New() *Digest {
	if !haveLanes {
		return &Digest{fb: md5.New()}
	}
	return newLanes()
}

// newLanes returns a Digest that uses the combiner (and the Go kernel
// where the vector one cannot run: tests use it on any machine).
func newLanes() *Digest {
	return &Digest{s: initial, sig: make(chan bool, 1)}
}

// Size returns MD5's size, 16.
func (d *Digest) Size() int { return Size }

// BlockSize returns MD5's block size, 64.
func (d *Digest) BlockSize() int { return BlockSize }

// Reset returns the Digest to its initial state, keeping its buffers.
func (d *Digest) Reset() {
	if d.fb != nil {
		d.fb.Reset()
		return
	}
	srv.wait(d) // the combiner writes d.s while a submission is in flight
	d.s, d.len, d.nc, d.nx = initial, 0, 0, 0
}

// Write adds p to the stream. It never returns an error.
func (d *Digest) Write(p []byte) (int, error) {
	if d.fb != nil {
		return d.fb.Write(p)
	}
	n := len(p)
	d.len += uint64(n)
	if d.cur == nil {
		d.acquire()
	}
	for len(p) > 0 {
		if srv.lone() {
			// A lone stream hashes in place: complete the buffered
			// block, then hash p's whole blocks without copying them.
			if r := d.nc % BlockSize; r != 0 {
				c := copy(d.cur[d.nc:d.nc+BlockSize-r], p)
				d.nc += c
				p = p[c:]
				if d.nc%BlockSize != 0 {
					return n, nil
				}
			}
			if d.nc > 0 {
				d.hashNow(d.cur[:d.nc])
				d.nc = 0
			}
			if m := len(p) &^ (BlockSize - 1); m > 0 {
				d.hashNow(p[:m])
				p = p[m:]
			}
			d.nc = copy(d.cur[:], p)
			return n, nil
		}
		c := copy(d.cur[d.nc:], p)
		d.nc += c
		p = p[c:]
		if d.nc == chunkSize {
			srv.wait(d) // spare is free once its submission is hashed
			if d.spare == nil {
				d.spare = bufPool.Get().(*[chunkSize]byte)
			}
			srv.submit(d, d.cur[:])
			d.cur, d.spare = d.spare, d.cur
			d.nc = 0
		}
	}
	return n, nil
}

// hashNow hashes p (whole blocks) into d.s before it returns: in place for
// a lone stream, else in a pass shared with whatever else is submitted.
func (d *Digest) hashNow(p []byte) {
	srv.wait(d)
	if srv.lone() {
		hashOne(&d.s, p)
		return
	}
	srv.submit(d, p)
	srv.wait(d)
}

// Sum appends the MD5 of the bytes written so far to b. It does not change
// the stream: more Writes may follow.
func (d *Digest) Sum(b []byte) []byte {
	if d.fb != nil {
		return d.fb.Sum(b)
	}
	var tail []byte
	if d.cur != nil {
		if full := d.nc &^ (BlockSize - 1); full > 0 {
			d.hashNow(d.cur[:full])
			d.nc = copy(d.cur[:], d.cur[full:d.nc])
		} else {
			srv.wait(d)
		}
		tail = d.cur[:d.nc]
	} else {
		tail = d.x[:d.nx]
	}
	// Padding: 0x80, zeros to 56 mod 64, the length in bits (little endian).
	var last [2 * BlockSize]byte
	k := copy(last[:], tail)
	last[k] = 0x80
	end := BlockSize
	if k >= BlockSize-8 {
		end = 2 * BlockSize
	}
	binary.LittleEndian.PutUint64(last[end-8:], d.len<<3)
	s := d.s
	hashOne(&s, last[:end])
	for _, w := range s {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// Close waits for the Digest's submitted bytes, hashes what it buffered and
// returns its buffers. The Digest keeps its state: it may be used again
// (and must then be closed again). Close always returns nil.
func (d *Digest) Close() error {
	if d.fb != nil || d.cur == nil {
		return nil
	}
	if full := d.nc &^ (BlockSize - 1); full > 0 {
		d.hashNow(d.cur[:full])
	} else {
		srv.wait(d)
	}
	full := d.nc &^ (BlockSize - 1)
	d.nx = copy(d.x[:], d.cur[full:d.nc])
	d.nc = 0
	bufPool.Put(d.cur)
	if d.spare != nil {
		bufPool.Put(d.spare)
	}
	d.cur, d.spare = nil, nil
	srv.active.Add(-1)
	return nil
}

// acquire takes d's first buffer (the second is taken when first needed).
func (d *Digest) acquire() {
	d.cur = bufPool.Get().(*[chunkSize]byte)
	d.nc = copy(d.cur[:], d.x[:d.nx])
	d.nx = 0
	srv.active.Add(1)
}
