package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestShapeValidate(t *testing.T) {
	valid := []Shape{
		{1, 0, 1}, {1, 1, 64}, {4, 2, DefaultBlockSize}, {12, 4, 1 << 20},
		{255, 1, 4096}, {128, 128, 1 << 10}, {1, 0, MaxBlockSize}, {16, 0, MaxBlockSize},
	}
	for _, s := range valid {
		if err := s.Validate(); err != nil {
			t.Errorf("%v: unexpected error %v", s, err)
		}
		if _, err := NewCoder(s); err != nil {
			t.Errorf("NewCoder(%v): %v", s, err)
		}
	}
	invalid := []struct {
		s        Shape
		problems int
	}{
		{Shape{0, 2, 1024}, 1},
		{Shape{-1, 2, 1024}, 1},
		{Shape{4, -1, 1024}, 1},
		{Shape{200, 57, 1024}, 1},
		{Shape{257, 0, 1024}, 1},
		{Shape{4, 2, 0}, 1},
		{Shape{4, 2, -5}, 1},
		{Shape{4, 2, MaxBlockSize + 1}, 1},
		{Shape{17, 0, MaxBlockSize}, 1}, // stripe too large
		{Shape{0, -1, 0}, 3},            // every problem at once
		{Shape{300, -3, MaxBlockSize * 2}, 3},
	}
	for _, tc := range invalid {
		err := tc.s.Validate()
		if err == nil {
			t.Errorf("%v: no error", tc.s)
			continue
		}
		if !errors.Is(err, ErrShape) {
			t.Errorf("%v: %v does not wrap ErrShape", tc.s, err)
		}
		var joined interface{ Unwrap() []error }
		n := 1
		if errors.As(err, &joined) {
			n = len(joined.Unwrap())
		}
		if n != tc.problems {
			t.Errorf("%v: %d problems reported, want %d: %v", tc.s, n, tc.problems, err)
		}
		if _, err := NewCoder(tc.s); !errors.Is(err, ErrShape) {
			t.Errorf("NewCoder(%v) = %v, want ErrShape", tc.s, err)
		}
		if ShardFileSize(tc.s, 100) != 0 {
			t.Errorf("ShardFileSize(%v) != 0", tc.s)
		}
	}
}

// testSizes are the artifact sizes every shape is checked with: empty,
// around one block, around one stripe, several stripes with a short last.
func testSizes(s Shape) []int {
	b, st := s.BlockSize, int(s.StripeSize())
	sizes := []int{0, 1, b - 1, b, b + 1, st - 1, st, st + 1, 3*st + 7, 4*st - 1}
	slices.Sort(sizes)
	return slices.Compact(sizes)
}

func TestRoundTrip(t *testing.T) {
	for _, sh := range testShapes {
		for _, bs := range []int{64, 100} {
			s := Shape{sh.k, sh.m, bs}
			c := mustCoder(t, s)
			for _, size := range testSizes(s) {
				t.Run(fmt.Sprintf("%v/%d", s, size), func(t *testing.T) {
					checkRoundTrip(t, c, randBytes(uint64(size), size))
				})
			}
		}
	}
}

// TestRoundTripLarge covers multi-MiB artifacts with real block sizes.
func TestRoundTripLarge(t *testing.T) {
	for _, s := range []Shape{{4, 2, 64 << 10}, {12, 4, 32 << 10}, {3, 3, DefaultBlockSize}} {
		size := 3<<20 + 12345
		t.Run(s.String(), func(t *testing.T) {
			checkRoundTrip(t, mustCoder(t, s), randBytes(7, size))
		})
	}
}

func checkRoundTrip(t *testing.T, c *Coder, data []byte) {
	t.Helper()
	s := c.Shape()
	size := int64(len(data))
	files := encode(t, c, data)
	for i, f := range files {
		h, err := ReadHeader(bytes.NewReader(f))
		if err != nil {
			t.Fatalf("ReadHeader shard %d: %v", i, err)
		}
		if want := (Header{Version: FormatVersion, Shape: s, Index: i, Checksum: ChecksumXXH3}); h != want {
			t.Fatalf("header of shard %d = %+v, want %+v", i, h, want)
		}
		tr, err := ReadTrailer(bytes.NewReader(f[len(f)-TrailerSize:]), i)
		if err != nil {
			t.Fatalf("ReadTrailer shard %d: %v", i, err)
		}
		if tr.Size != size || tr.Stripes != newGeometry(s, size).stripes {
			t.Fatalf("trailer of shard %d = %+v for size %d", i, tr, size)
		}
		if err := c.VerifyShard(context.Background(), bytes.NewReader(f), size, i); err != nil {
			t.Fatalf("VerifyShard %d: %v", i, err)
		}
	}
	st := newStore(files)
	got, rep, err := decodeRange(t, c, st, size, 0, -1)
	if err != nil || len(rep.Bad) != 0 {
		t.Fatalf("Decode: %v, report %v", err, rep.Bad)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("Decode returned %d bytes differing from the %d encoded", len(got), len(data))
	}
	for _, call := range st.calls() {
		if call.index >= s.Data {
			t.Fatalf("healthy Decode opened parity shard %d", call.index)
		}
	}
	for i := range files {
		got, rep, err := rebuild(t, c, st, size, i)
		if s.Parity == 0 && size > 0 {
			// Nothing to rebuild from: every shard is needed.
			if !errors.Is(err, ErrReadQuorum) {
				t.Fatalf("Rebuild %d of %v: %v, want ErrReadQuorum", i, s, err)
			}
			continue
		}
		if err != nil || len(rep.Bad) != 0 {
			t.Fatalf("Rebuild %d: %v, report %v", i, err, rep.Bad)
		}
		if !bytes.Equal(got, files[i]) {
			t.Fatalf("Rebuild %d is not byte-identical (%d vs %d bytes)", i, len(got), len(files[i]))
		}
	}
}

// TestLostShards decodes and rebuilds with every combination of up to m lost
// shards, and checks that m+1 lost shards fail with ErrReadQuorum.
func TestLostShards(t *testing.T) {
	for _, sh := range testShapes {
		s := Shape{sh.k, sh.m, 64}
		c := mustCoder(t, s)
		size := int(3*s.StripeSize() + s.StripeSize()/2 + 3)
		data := randBytes(uint64(sh.k*100+sh.m), size)
		files := encode(t, c, data)
		n := s.Shards()
		t.Run(s.String(), func(t *testing.T) {
			for lose := 0; lose <= s.Parity; lose++ {
				combinations(n, lose, func(lost []int) {
					st := newStore(files)
					for _, i := range lost {
						st.lost[i] = true
					}
					got, rep, err := decodeRange(t, c, st, int64(size), 0, -1)
					if err != nil {
						t.Fatalf("lost %v: Decode: %v", lost, err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("lost %v: wrong bytes", lost)
					}
					bad := badSet(rep)
					for i, err := range bad {
						if !slices.Contains(lost, i) {
							t.Fatalf("lost %v: healthy shard %d reported bad: %v", lost, i, err)
						}
						if !errors.Is(err, errLost) || IsCorruption(err) {
							t.Fatalf("lost %v: shard %d fault %v should wrap the opener error only", lost, i, err)
						}
					}
					for _, i := range lost {
						if _, ok := bad[i]; i < s.Data && !ok {
							t.Fatalf("lost %v: lost data shard %d not reported", lost, i)
						}
					}
				})
			}
			// One more than the parity count: the artifact is gone.
			tries := 0
			combinations(n, s.Parity+1, func(lost []int) {
				if tries++; n > 8 && tries%17 != 0 {
					return // sample the large shapes
				}
				st := newStore(files)
				for _, i := range lost {
					st.lost[i] = true
				}
				_, rep, err := decodeRange(t, c, st, int64(size), 0, -1)
				if !errors.Is(err, ErrReadQuorum) {
					t.Fatalf("lost %v: Decode err = %v, want ErrReadQuorum", lost, err)
				}
				if len(rep.Bad) == 0 {
					t.Fatalf("lost %v: ErrReadQuorum with an empty report", lost)
				}
				_, _, err = rebuild(t, c, st, int64(size), lost[0])
				if !errors.Is(err, ErrReadQuorum) {
					t.Fatalf("lost %v: Rebuild err = %v, want ErrReadQuorum", lost, err)
				}
			})
		})
	}
}

// TestRebuildWithLosses rebuilds each shard while up to m-1 others are lost
// too (all combinations for small shapes, a sample for large ones).
func TestRebuildWithLosses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sh := range testShapes {
		s := Shape{sh.k, sh.m, 100}
		c := mustCoder(t, s)
		size := int(2*s.StripeSize() + 5)
		data := randBytes(uint64(sh.k+sh.m), size)
		files := encode(t, c, data)
		n := s.Shards()
		for target := range n {
			for lose := 0; lose < s.Parity; lose++ {
				combinations(n-1, lose, func(others []int) {
					if n > 6 && rng.IntN(40) != 0 {
						return
					}
					st := newStore(files)
					st.lost[target] = true
					for _, o := range others {
						if o >= target {
							o++
						}
						st.lost[o] = true
					}
					got, _, err := rebuild(t, c, st, int64(size), target)
					if err != nil {
						t.Fatalf("%v: rebuild %d with %v lost: %v", s, target, st.lost, err)
					}
					if !bytes.Equal(got, files[target]) {
						t.Fatalf("%v: rebuild %d with %v lost: not byte-identical", s, target, st.lost)
					}
					for _, call := range st.calls() {
						if call.index == target {
							t.Fatalf("%v: rebuild %d opened the shard it rebuilds", s, target)
						}
					}
				})
			}
		}
	}
}

// region names a part of a shard file to damage.
type region struct {
	name     string
	off, len int64
}

func regions(s Shape, size int64) []region {
	g := newGeometry(s, size)
	rs := []region{
		{"magic", 0, 8}, {"version", 8, 2}, {"header length", 10, 2}, {"algorithm", 12, 1},
		{"checksum length", 13, 1}, {"data shards", 14, 2}, {"parity shards", 16, 2},
		{"index", 18, 2}, {"block size", 20, 4}, {"reserved", 24, 8}, {"header checksum", 32, 16},
		{"trailer", g.trailerOffset(), TrailerSize},
	}
	for st := range g.stripes {
		blen := int64(g.blockLen(st))
		rs = append(rs,
			region{fmt.Sprintf("block %d", st), g.blockOffset(st), blen},
			region{fmt.Sprintf("block %d checksum", st), g.blockOffset(st) + blen, checksumSize})
	}
	return rs
}

// TestCorruption flips bytes in every region of data shards and in random
// places of up to m shards: Decode still returns the artifact, and names
// every corrupted shard it read as corrupt.
func TestCorruption(t *testing.T) {
	for _, sh := range testShapes {
		if sh.m == 0 {
			continue
		}
		s := Shape{sh.k, sh.m, 64}
		c := mustCoder(t, s)
		size := int64(2*s.StripeSize() + 10)
		data := randBytes(uint64(sh.k*7+sh.m), int(size))
		files := encode(t, c, data)
		g := newGeometry(s, size)
		t.Run(s.String(), func(t *testing.T) {
			// Every region of every shard, one shard at a time.
			for victim := range s.Shards() {
				for _, rg := range regions(s, size) {
					for _, at := range []int64{rg.off, rg.off + rg.len - 1} {
						bad := cloneFiles(files)
						bad[victim][at] ^= 0x5a
						st := newStore(bad)
						got, rep, err := decodeRange(t, c, st, size, 0, -1)
						if err != nil || !bytes.Equal(got, data) {
							t.Fatalf("shard %d %s byte %d: Decode %v, equal=%v", victim, rg.name, at, err, bytes.Equal(got, data))
						}
						checkCorruptReport(t, rep, []int{victim})
						if _, ok := badSet(rep)[victim]; victim < s.Data && at < fullReadEnd(g, victim) && !ok {
							t.Fatalf("shard %d %s byte %d: corrupt data shard not reported", victim, rg.name, at)
						}
						if err := c.VerifyShard(context.Background(), bytes.NewReader(bad[victim]), size, victim); !IsCorruption(err) {
							t.Fatalf("shard %d %s: VerifyShard = %v, want corruption", victim, rg.name, err)
						}
						if s.Parity >= 2 {
							target := (victim + 1) % s.Shards()
							got, _, err := rebuild(t, c, st, size, target)
							if err != nil || !bytes.Equal(got, files[target]) {
								t.Fatalf("shard %d %s: rebuild %d: %v", victim, rg.name, target, err)
							}
						}
					}
				}
			}
			// Random damage to up to m shards at once.
			rng := rand.New(rand.NewPCG(uint64(sh.k), uint64(sh.m)))
			for trial := range 60 {
				bad := cloneFiles(files)
				victims := rng.Perm(s.Shards())[:1+rng.IntN(s.Parity)]
				for _, v := range victims {
					for range 1 + rng.IntN(3) {
						bad[v][rng.IntN(len(bad[v]))] ^= byte(1 + rng.IntN(255))
					}
				}
				got, rep, err := decodeRange(t, c, newStore(bad), size, 0, -1)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("trial %d victims %v: Decode %v", trial, victims, err)
				}
				checkCorruptReport(t, rep, victims)
			}
		})
	}
}

// checkCorruptReport checks that only victims are reported, each as
// corruption.
func checkCorruptReport(t *testing.T, rep DecodeReport, victims []int) {
	t.Helper()
	bad := badSet(rep)
	for i, err := range bad {
		if !slices.Contains(victims, i) {
			t.Fatalf("healthy shard %d reported bad: %v", i, err)
		}
		if !IsCorruption(err) {
			t.Fatalf("shard %d fault %v is not a corruption", i, err)
		}
	}
}

// TestTruncated cuts up to m shards at every interesting length.
func TestTruncated(t *testing.T) {
	for _, sh := range testShapes {
		if sh.m == 0 {
			continue
		}
		s := Shape{sh.k, sh.m, 64}
		c := mustCoder(t, s)
		size := int64(2*s.StripeSize() + 10)
		data := randBytes(uint64(sh.k*3+sh.m), int(size))
		files := encode(t, c, data)
		g := newGeometry(s, size)
		cuts := []int64{0, 1, 11, HeaderSize - 1, HeaderSize, HeaderSize + 1,
			g.blockEnd(0) - 1, g.blockEnd(0), g.trailerOffset() - 1, g.trailerOffset(),
			g.fileSize() - 1}
		for _, cut := range cuts {
			for v := 0; v+s.Parity <= s.Shards(); v += max(1, s.Shards()/3) {
				victims := make([]int, s.Parity)
				bad := cloneFiles(files)
				for j := range victims {
					victims[j] = v + j
					bad[v+j] = bad[v+j][:cut]
				}
				got, rep, err := decodeRange(t, c, newStore(bad), size, 0, -1)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%v: cut %v at %d: Decode %v", s, victims, cut, err)
				}
				checkCorruptReport(t, rep, victims)
				for _, vi := range victims {
					if vi < s.Data && cut < fullReadEnd(g, vi) {
						if _, ok := badSet(rep)[vi]; !ok {
							t.Fatalf("%v: truncated data shard %d at %d not reported", s, vi, cut)
						}
					}
				}
				if err := c.VerifyShard(context.Background(), bytes.NewReader(bad[victims[0]]), size, victims[0]); !IsCorruption(err) {
					t.Fatalf("%v: VerifyShard of shard cut at %d = %v", s, cut, err)
				}
			}
		}
	}
}

// TestMisplacedShards feeds Decode shard files that are intact but belong
// elsewhere: swapped indexes, another shape, another artifact size.
func TestMisplacedShards(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	size := int64(3*s.StripeSize() + 1)
	data := randBytes(3, int(size))
	files := encode(t, c, data)

	swapped := cloneFiles(files)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	got, rep, err := decodeRange(t, c, newStore(swapped), size, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("swapped: Decode %v", err)
	}
	if bad := badSet(rep); len(bad) != 2 || !IsCorruption(bad[0]) || !IsCorruption(bad[1]) {
		t.Fatalf("swapped: report %v, want shards 0 and 1 corrupt", rep.Bad)
	}

	other := encode(t, mustCoder(t, Shape{4, 2, 128}), data)
	mixed := cloneFiles(files)
	mixed[2] = other[2]
	got, rep, err = decodeRange(t, c, newStore(mixed), size, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("other shape: Decode %v", err)
	}
	if bad := badSet(rep); len(bad) != 1 || !IsCorruption(bad[2]) {
		t.Fatalf("other shape: report %v, want shard 2 corrupt", rep.Bad)
	}

	// Another parity count: the data shards' blocks are identical, only
	// the header tells the file belongs to another shape. Checked both when
	// the header and blocks come in one stream and when the header is
	// read on its own (a range starting past the first stripe).
	wide := encode(t, mustCoder(t, Shape{4, 3, 64}), data)
	mixed = cloneFiles(files)
	mixed[0] = wide[0]
	for _, off := range []int64{0, s.StripeSize() + 1} {
		got, rep, err = decodeRange(t, c, newStore(mixed), size, off, -1)
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Fatalf("4+3 shard at %d: Decode %v", off, err)
		}
		if bad := badSet(rep); len(bad) != 1 || !IsCorruption(bad[0]) {
			t.Fatalf("4+3 shard at %d: report %v, want shard 0 corrupt", off, rep.Bad)
		}
	}

	// Same shape and stripe count, one byte shorter: every last block and
	// trailer disagrees, so nothing verifies and nothing wrong is returned.
	_, _, err = decodeRange(t, c, newStore(files), size-1, 0, -1)
	if !errors.Is(err, ErrReadQuorum) {
		t.Fatalf("wrong size: Decode err = %v, want ErrReadQuorum", err)
	}
	// A shard of a longer artifact whose first stripes look the same
	// must be caught by its trailer when the last stripe is read.
	longer := encode(t, c, append(append([]byte(nil), data...), randBytes(4, int(s.StripeSize()))...))
	mixed = cloneFiles(files)
	mixed[0] = longer[0][:len(files[0])]
	got, rep, err = decodeRange(t, c, newStore(mixed), size, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("longer artifact's shard: Decode %v", err)
	}
	if bad := badSet(rep); len(bad) != 1 || !IsCorruption(bad[0]) {
		t.Fatalf("longer artifact's shard: report %v, want shard 0 corrupt", rep.Bad)
	}
}

func TestDecodeArguments(t *testing.T) {
	s := Shape{2, 1, 64}
	c := mustCoder(t, s)
	files := encode(t, c, randBytes(1, 300))
	st := newStore(files)
	for _, tc := range []struct{ size, off, length int64 }{
		{300, -1, 10}, {300, 301, 0}, {300, 290, 11}, {-1, 0, 0}, {300, 0, 301},
	} {
		if _, err := c.Decode(context.Background(), io.Discard, st.open, tc.size, tc.off, tc.length); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(size %d, off %d, len %d) = %v, want ErrInvalid", tc.size, tc.off, tc.length, err)
		}
	}
	if _, err := c.Rebuild(context.Background(), st.open, 300, 3, io.Discard); !errors.Is(err, ErrInvalid) {
		t.Errorf("Rebuild(index 3) = %v, want ErrInvalid", err)
	}
	if _, err := c.Rebuild(context.Background(), st.open, 300, -1, io.Discard); !errors.Is(err, ErrInvalid) {
		t.Errorf("Rebuild(index -1) = %v, want ErrInvalid", err)
	}
	// Empty ranges open nothing.
	got, _, err := decodeRange(t, c, st, 300, 300, 0)
	if err != nil || len(got) != 0 || len(st.calls()) != 0 {
		t.Errorf("empty range: %v, %d bytes, %d opens", err, len(got), len(st.calls()))
	}
}

// TestConcurrentUse shares one Coder between concurrent calls.
func TestConcurrentUse(t *testing.T) {
	s := Shape{4, 2, 128}
	c := mustCoder(t, s)
	data := randBytes(11, 10000)
	files := encode(t, c, data)
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			st := newStore(files)
			st.lost[w%s.Shards()] = true
			var out bytes.Buffer
			if _, err := c.Decode(context.Background(), &out, st.open, int64(len(data)), 0, -1); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(out.Bytes(), data) {
				errs <- fmt.Errorf("worker %d: wrong bytes", w)
				return
			}
			var shards [6]bytes.Buffer
			ws := make([]io.Writer, 6)
			for i := range ws {
				ws[i] = &shards[i]
			}
			if _, err := c.Encode(context.Background(), bytes.NewReader(data), ws, 6); err != nil {
				errs <- err
				return
			}
			for i := range shards {
				if !bytes.Equal(shards[i].Bytes(), files[i]) {
					errs <- fmt.Errorf("worker %d: shard %d differs", w, i)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
