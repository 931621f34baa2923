package md5lanes

import (
	"crypto/md5"
	"encoding"
	"encoding/binary"
	"hash"
	"sync"
)

// One stream hashes faster with crypto/md5's scalar block function than in
// one lane of the vector kernel, which executes all 16 lanes' work whatever
// the mask (1.7x the CPU per byte, measured by BenchmarkStreams). crypto/md5
// takes an arbitrary state only through its binary marshaling: "md5\x01",
// the four state words big-endian, the partial block, the length
// big-endian. With a length of 0 there is no partial block, so whole
// blocks written go straight through its block function. If the format is
// ever refused (a Go release that changes it), the kernel does the work.

const marshaledSize = 4 + 4*4 + BlockSize + 8

type scalar struct {
	h   hash.Hash
	buf [marshaledSize]byte
}

var scalarPool = sync.Pool{New: func() any { return &scalar{h: md5.New()} }}

// hashOne hashes p (whole blocks) into s on the calling goroutine.
func hashOne(s *[4]uint32, p []byte) {
	if len(p) == 0 {
		return
	}
	if hashScalar(s, p) {
		return
	}
	var st state16
	var in [lanes][]byte
	for r := range s {
		st[r][0] = s[r]
	}
	in[0] = p
	blocks(&st, &in, 1, len(p)/BlockSize)
	for r := range s {
		s[r] = st[r][0]
	}
}

// hashScalar hashes p (whole blocks) into s with crypto/md5; false if
// crypto/md5 refused the state.
func hashScalar(s *[4]uint32, p []byte) bool {
	sc := scalarPool.Get().(*scalar)
	defer scalarPool.Put(sc)
	b := sc.buf[:]
	copy(b, "md5\x01")
	for r, w := range s {
		binary.BigEndian.PutUint32(b[4+4*r:], w)
	}
	clear(b[4+16:])
	if err := sc.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
		return false
	}
	sc.h.Write(p)
	out, err := sc.h.(encoding.BinaryAppender).AppendBinary(b[:0])
	if err != nil || len(out) != marshaledSize || string(out[:4]) != "md5\x01" {
		return false
	}
	for r := range s {
		s[r] = binary.BigEndian.Uint32(out[4+4*r:])
	}
	return true
}
