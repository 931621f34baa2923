package erasure

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// boundaryOffsets lists every block and stripe boundary of an artifact and
// its neighbours.
func boundaryOffsets(g geometry) []int64 {
	var offs []int64
	for s := range g.stripes {
		start := g.stripeStart(s)
		blen := int64(g.blockLen(s))
		for j := int64(0); j <= int64(g.k); j++ {
			b := start + j*blen
			offs = append(offs, b-1, b, b+1)
		}
	}
	offs = append(offs, g.size-1, g.size)
	var out []int64
	for _, o := range offs {
		if o >= 0 && o <= g.size {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestRangeBoundaries reads ranges starting and ending at every block and
// stripe boundary (and one byte either side), healthy and with m shards lost.
func TestRangeBoundaries(t *testing.T) {
	for _, s := range []Shape{{1, 1, 64}, {2, 1, 64}, {4, 2, 100}, {3, 3, 64}} {
		c := mustCoder(t, s)
		size := int64(3*s.StripeSize() + s.StripeSize()/3 + 1)
		data := randBytes(uint64(s.Data), int(size))
		files := encode(t, c, data)
		g := newGeometry(s, size)
		offs := boundaryOffsets(g)
		for _, lost := range [][]int{nil, lastN(s.Data, s.Parity), firstN(s.Parity)} {
			t.Run(fmt.Sprintf("%v/lost%v", s, lost), func(t *testing.T) {
				for _, off := range offs {
					for _, end := range offs {
						if end < off {
							continue
						}
						st := newStore(files)
						for _, i := range lost {
							st.lost[i] = true
						}
						got, _, err := decodeRange(t, c, st, size, off, end-off)
						if err != nil {
							t.Fatalf("[%d, %d): %v", off, end, err)
						}
						if !bytes.Equal(got, data[off:end]) {
							t.Fatalf("[%d, %d): wrong bytes", off, end)
						}
					}
				}
			})
		}
	}
}

func firstN(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func lastN(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

// TestRangeRandom reads random ranges with random losses and corruption of
// up to m shards, on every shape.
func TestRangeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 43))
	for _, sh := range testShapes {
		s := Shape{sh.k, sh.m, 64 + rng.IntN(64)}
		c := mustCoder(t, s)
		size := int64(rng.IntN(6*int(s.StripeSize())) + 1)
		data := randBytes(uint64(size), int(size))
		files := encode(t, c, data)
		for trial := range 200 {
			off := rng.Int64N(size + 1)
			length := rng.Int64N(size - off + 1)
			bad := files
			victims := rng.Perm(s.Shards())[:rng.IntN(s.Parity+1)]
			st := newStore(nil)
			if len(victims) > 0 {
				bad = cloneFiles(files)
				for _, v := range victims {
					switch rng.IntN(3) {
					case 0:
						st.lost[v] = true
					case 1:
						bad[v][rng.IntN(len(bad[v]))] ^= 0x80
					case 2:
						bad[v] = bad[v][:rng.IntN(len(bad[v]))]
					}
				}
			}
			st.files = bad
			got, rep, err := decodeRange(t, c, st, size, off, length)
			if err != nil {
				t.Fatalf("%v trial %d [%d,+%d) victims %v: %v", s, trial, off, length, victims, err)
			}
			if !bytes.Equal(got, data[off:off+length]) {
				t.Fatalf("%v trial %d [%d,+%d) victims %v: wrong bytes", s, trial, off, length, victims)
			}
			for _, f := range rep.Bad {
				if !slices.Contains(victims, f.Index) {
					t.Fatalf("%v trial %d: healthy shard %d reported: %v", s, trial, f.Index, f.Err)
				}
			}
		}
	}
}

// TestRangeTouchesOnlyNeededBlocks checks, for healthy shards, that a range
// read opens only the data shards holding range bytes, and of each only the
// header and the blocks of the stripes where it holds range bytes.
func TestRangeTouchesOnlyNeededBlocks(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	size := int64(5*s.StripeSize() + 70)
	data := randBytes(9, int(size))
	files := encode(t, c, data)
	g := newGeometry(s, size)
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(off, length int64) {
		t.Helper()
		if length == 0 {
			return
		}
		st := newStore(files)
		got, _, err := decodeRange(t, c, st, size, off, length)
		if err != nil || !bytes.Equal(got, data[off:off+length]) {
			t.Fatalf("[%d,+%d): %v", off, length, err)
		}
		// Which stripes of each data shard hold range bytes.
		want := map[int][2]int64{}
		for p := off; p < off+length; p++ {
			st := p / s.StripeSize()
			j := int((p - g.stripeStart(st)) / int64(g.blockLen(st)))
			r, ok := want[j]
			if !ok {
				r = [2]int64{st, st}
			}
			r[1] = st
			want[j] = r
		}
		bytesOpened := map[int]int64{}
		for _, call := range st.calls() {
			r, ok := want[call.index]
			if !ok {
				t.Fatalf("[%d,+%d): opened shard %d holding no range bytes", off, length, call.index)
			}
			end := g.blockEnd(r[1])
			if r[1] == g.stripes-1 {
				end += TrailerSize // the trailer is checked with the last stripe
			}
			switch {
			case call.off == 0 && call.length == HeaderSize && r[0] > 0:
				// the header, read on its own
			case call.off == 0 && r[0] == 0 && call.length == end:
				// header and blocks in one stream
			case call.off == g.blockOffset(r[0]) && call.length == end-call.off:
			default:
				t.Fatalf("[%d,+%d): shard %d opened at [%d,+%d), want stripes %v", off, length, call.index, call.off, call.length, r)
			}
			bytesOpened[call.index] += call.length
		}
		if len(bytesOpened) != len(want) {
			t.Fatalf("[%d,+%d): opened %v, want %v", off, length, bytesOpened, want)
		}
	}
	for _, off := range boundaryOffsets(g) {
		for _, length := range []int64{1, 2, 63, 64, 65, 255, 256, 257, 1000} {
			check(off, min(length, size-off))
		}
	}
	for range 300 {
		off := rng.Int64N(size)
		check(off, 1+rng.Int64N(size-off))
	}
	// A one-byte read of the middle of the artifact touches one block.
	st := newStore(files)
	if _, _, err := decodeRange(t, c, st, size, 2*s.StripeSize()+70, 1); err != nil {
		t.Fatal(err)
	}
	calls := st.calls()
	var blockBytes int64
	for _, call := range calls {
		if call.index != 1 {
			t.Fatalf("one-byte read opened shard %d", call.index)
		}
		if call.off != 0 {
			blockBytes += call.length
		}
	}
	if len(calls) != 2 || blockBytes != int64(s.BlockSize+checksumSize) {
		t.Fatalf("one-byte read: opens %v, want header + one block", calls)
	}
}
