package erasure

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
)

func TestReadHeader(t *testing.T) {
	s := Shape{12, 4, 1 << 20}
	good := marshalHeader(s, 13)
	h, err := ReadHeader(bytes.NewReader(good[:]))
	if err != nil || h != (Header{Version: 1, Shape: s, Index: 13, Checksum: ChecksumXXH3}) {
		t.Fatalf("%+v %v", h, err)
	}
	// Every single-byte change of a header is corruption, never a valid
	// header and never a version error.
	for i := range good {
		for _, x := range []byte{1, 0x80, 0xff} {
			b := good
			b[i] ^= x
			_, err := ReadHeader(bytes.NewReader(b[:]))
			if !IsCorruption(err) {
				t.Fatalf("byte %d ^ %#x: %v, want corruption", i, x, err)
			}
		}
	}
	// Every truncation is corruption.
	for n := range HeaderSize {
		if _, err := ReadHeader(bytes.NewReader(good[:n])); !IsCorruption(err) {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	// A reader error is passed through, not called corruption.
	_, err = ReadHeader(&failingReader{r: bytes.NewReader(good[:]), n: 20})
	if !errors.Is(err, errDrive) || IsCorruption(err) {
		t.Fatalf("drive error: %v", err)
	}
	// An intact header of a newer version (longer, different fields) is a
	// version error, not corruption.
	v2 := make([]byte, 80)
	copy(v2, headerMagic)
	binary.BigEndian.PutUint16(v2[8:10], 2)
	binary.BigEndian.PutUint16(v2[10:12], 80)
	putChecksum(v2[64:], v2[:64], headerSeed)
	_, err = ReadHeader(bytes.NewReader(v2))
	if !errors.Is(err, ErrVersion) || IsCorruption(err) {
		t.Fatalf("version 2: %v, want ErrVersion", err)
	}
	// Checksummed but impossible version 1 fields are corruption.
	bad := func(edit func(b []byte)) error {
		b := good
		edit(b[:])
		putChecksum(b[32:], b[:32], headerSeed)
		_, err := ReadHeader(bytes.NewReader(b[:]))
		return err
	}
	for name, edit := range map[string]func(b []byte){
		"algorithm":  func(b []byte) { b[12] = 9 },
		"sum length": func(b []byte) { b[13] = 8 },
		"no data":    func(b []byte) { binary.BigEndian.PutUint16(b[14:16], 0) },
		"too many":   func(b []byte) { binary.BigEndian.PutUint16(b[16:18], 300) },
		"index":      func(b []byte) { binary.BigEndian.PutUint16(b[18:20], 16) },
		"block":      func(b []byte) { binary.BigEndian.PutUint32(b[20:24], 0) },
		"reserved":   func(b []byte) { b[30] = 1 },
		"length":     func(b []byte) { binary.BigEndian.PutUint16(b[10:12], 40) },
	} {
		if err := bad(edit); !IsCorruption(err) {
			t.Errorf("%s: %v, want corruption", name, err)
		}
	}
}

func TestReadTrailer(t *testing.T) {
	good := marshalTrailer(3, Trailer{Size: 12345, Stripes: 7})
	tr, err := ReadTrailer(bytes.NewReader(good[:]), 3)
	if err != nil || tr != (Trailer{12345, 7}) {
		t.Fatalf("%+v %v", tr, err)
	}
	if _, err := ReadTrailer(bytes.NewReader(good[:]), 4); !IsCorruption(err) {
		t.Fatalf("other index: %v", err)
	}
	for i := range good {
		b := good
		b[i] ^= 4
		if _, err := ReadTrailer(bytes.NewReader(b[:]), 3); !IsCorruption(err) {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if _, err := ReadTrailer(bytes.NewReader(good[:47]), 3); !IsCorruption(err) {
		t.Fatalf("short: %v", err)
	}
}

// TestChecksumPositions: the same bytes get different checksums at
// different positions, so a misplaced block is caught.
func TestChecksumPositions(t *testing.T) {
	data := randBytes(1, 100)
	seen := map[[16]byte]string{}
	for _, pos := range []struct {
		domain byte
		index  int
		seq    uint64
	}{{domainBlock, 0, 0}, {domainBlock, 1, 0}, {domainBlock, 0, 1}, {domainHeader, 0, 0}, {domainTrailer, 0, 0}, {domainBlock, 256, 1 << 40}} {
		var sum [16]byte
		putChecksum(sum[:], data, checksumSeed(pos.domain, pos.index, pos.seq))
		if prev, ok := seen[sum]; ok {
			t.Fatalf("%+v collides with %s", pos, prev)
		}
		seen[sum] = string(pos.domain)
		if !checksumOK(sum[:], data, checksumSeed(pos.domain, pos.index, pos.seq)) {
			t.Fatal("checksum does not verify")
		}
	}
}

func FuzzReadHeader(f *testing.F) {
	for _, s := range []Shape{{1, 0, 1}, {4, 2, DefaultBlockSize}, {12, 4, 1 << 20}, {255, 1, 64}} {
		h := marshalHeader(s, s.Shards()-1)
		f.Add(h[:])
		f.Add(h[:20])
		b := h
		b[8] = 2
		f.Add(b[:])
	}
	f.Add([]byte{})
	f.Add([]byte("VLTSHARD\x00\x01\xff\xff"))
	f.Add([]byte("VLTSHARD\x00\x02\x00\x1c0123456789abcdef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		h, err := ReadHeader(r)
		if err != nil {
			if !IsCorruption(err) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v is neither corruption nor version", err)
			}
			return
		}
		// Whatever parses is a valid header that re-encodes to the same
		// bytes, and exactly HeaderSize bytes were consumed.
		if err := h.Shape.Validate(); err != nil || h.Index >= h.Shape.Shards() || h.Version != FormatVersion {
			t.Fatalf("accepted invalid header %+v: %v", h, err)
		}
		if consumed := len(b) - r.Len(); consumed != HeaderSize {
			t.Fatalf("consumed %d bytes", consumed)
		}
		if again := marshalHeader(h.Shape, h.Index); !bytes.Equal(again[:], b[:HeaderSize]) {
			t.Fatalf("accepted header does not re-encode to its bytes")
		}
	})
}

func FuzzReadTrailer(f *testing.F) {
	for _, tr := range []Trailer{{0, 0}, {1, 1}, {5 << 40, 1 << 20}} {
		b := marshalTrailer(2, tr)
		f.Add(b[:], 2)
		f.Add(b[:], 3)
	}
	f.Add([]byte("VLTSTAIL"), 0)
	f.Fuzz(func(t *testing.T, b []byte, index int) {
		index &= 0xff
		tr, err := ReadTrailer(bytes.NewReader(b), index)
		if err != nil {
			if !IsCorruption(err) {
				t.Fatalf("error %v is not corruption", err)
			}
			return
		}
		if again := marshalTrailer(index, tr); !bytes.Equal(again[:], b[:TrailerSize]) {
			t.Fatalf("accepted trailer does not re-encode to its bytes")
		}
	})
}

// FuzzDecodeMutated encodes an artifact, mutates its shard files as the
// input says (byte changes, truncations, extensions, swaps) and decodes a
// range. Decode must never return wrong bytes; when at most Parity shards
// changed it must succeed; it must never blame an unchanged shard.
func FuzzDecodeMutated(f *testing.F) {
	f.Add(uint8(4), uint8(2), uint16(70), uint16(1000), uint16(0), uint16(1000), []byte{})
	f.Add(uint8(2), uint8(1), uint16(64), uint16(500), uint16(10), uint16(300), []byte{0, 0, 5, 0xff})
	f.Add(uint8(3), uint8(3), uint16(33), uint16(3000), uint16(100), uint16(2000), []byte{1, 2, 10, 1, 4, 90, 0, 2, 3, 200, 0, 0})
	f.Add(uint8(8), uint8(4), uint16(16), uint16(777), uint16(0), uint16(777), []byte{2, 3, 0, 0, 3, 9, 1, 0})
	f.Add(uint8(1), uint8(1), uint16(1), uint16(5), uint16(0), uint16(5), []byte{0, 1, 0, 49})
	f.Fuzz(func(t *testing.T, k, m uint8, bs, size, off, length uint16, muts []byte) {
		s := Shape{Data: 1 + int(k)%12, Parity: int(m) % 5, BlockSize: 1 + int(bs)%256}
		c := mustCoder(t, s)
		n := s.Shards()
		data := randBytes(uint64(size), int(size)%5000)
		sz := int64(len(data))
		o := min(int64(off), sz)
		l := min(int64(length), sz-o)
		files := encode(t, c, data)
		orig := cloneFiles(files)
		// Each mutation is 4 bytes: op, shard, position (2 bytes).
		for ; len(muts) >= 4 && len(muts) <= 64; muts = muts[4:] {
			i := int(muts[1]) % n
			p := int(binary.BigEndian.Uint16(muts[2:4]))
			switch muts[0] % 4 {
			case 0: // change a byte
				if len(files[i]) > 0 {
					files[i][p%len(files[i])] ^= 1 + muts[2]%255
				}
			case 1: // truncate
				files[i] = files[i][:p%(len(files[i])+1)]
			case 2: // extend
				files[i] = append(files[i], muts[2], muts[3])
			case 3: // swap with another shard
				j := (i + 1 + int(muts[2])) % n
				files[i], files[j] = files[j], files[i]
			}
		}
		changed := map[int]bool{}
		for i := range files {
			if !bytes.Equal(files[i], orig[i]) {
				changed[i] = true
			}
		}
		var out bytes.Buffer
		rep, err := c.Decode(context.Background(), &out, newStore(files).open, sz, o, l)
		if err == nil && !bytes.Equal(out.Bytes(), data[o:o+l]) {
			t.Fatalf("wrong bytes with shards %v changed", changed)
		}
		if err != nil {
			if !errors.Is(err, ErrReadQuorum) {
				t.Fatalf("unexpected error %v", err)
			}
			if len(changed) <= s.Parity {
				t.Fatalf("failed with %d <= %d shards changed: %v", len(changed), s.Parity, err)
			}
			// Bytes already written must be a prefix of the range.
			if !bytes.HasPrefix(data[o:o+l], out.Bytes()) {
				t.Fatalf("wrong bytes before the failure")
			}
		}
		for _, bad := range rep.Bad {
			if !changed[bad.Index] {
				t.Fatalf("unchanged shard %d blamed: %v", bad.Index, bad.Err)
			}
		}
		// Rebuilding a changed shard gives back the original.
		for i := range changed {
			if len(changed) > s.Parity {
				break
			}
			var rb bytes.Buffer
			if _, err := c.Rebuild(context.Background(), newStore(files).open, sz, i, &rb); err != nil {
				t.Fatalf("rebuild %d: %v", i, err)
			}
			if !bytes.Equal(rb.Bytes(), orig[i]) {
				t.Fatalf("rebuild %d differs", i)
			}
		}
	})
}
