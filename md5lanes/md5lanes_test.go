package md5lanes

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

// TestKernel checks the vector kernel (blocks) against the Go reference
// (blocksGeneric) for random states, masks and block counts, and that lanes
// outside the mask keep their state.
func TestKernel(t *testing.T) {
	if !haveLanes {
		t.Log("no AVX-512 here: blocks is blocksGeneric, checked against crypto/md5 by the other tests")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		n := 1 + r.IntN(5)
		mask := uint16(r.Uint32())
		if iter < 16 {
			mask = 1 << iter // each lane alone
		}
		if iter == 16 {
			mask = 0xffff
		}
		if mask == 0 {
			mask = 1
		}
		var s1, s2 state16
		for i := range s1 {
			for j := range s1[i] {
				s1[i][j] = r.Uint32()
			}
		}
		s2 = s1
		var in [lanes][]byte
		for i := range in {
			if mask&(1<<i) != 0 {
				// Extra bytes past 64*n must not be read into the state.
				in[i] = randBytes(r, 64*n+r.IntN(64))
			}
		}
		blocks(&s1, &in, mask, n)
		blocksGeneric(&s2, &in, mask, n)
		if s1 != s2 {
			t.Fatalf("iter %d mask %#04x n %d: kernel %x, reference %x", iter, mask, n, s1, s2)
		}
	}
}

// TestGenericIsMD5 checks the reference block function against crypto/md5
// on one-block messages (padding done by hand).
func TestGenericIsMD5(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 56; n++ {
		msg := randBytes(r, n)
		var blk [64]byte
		copy(blk[:], msg)
		blk[n] = 0x80
		blk[56] = byte(n << 3)
		blk[57] = byte(n >> 5)
		var s state16
		for i := range s {
			s[i][3] = initial[i]
		}
		var in [lanes][]byte
		in[3] = blk[:]
		blocksGeneric(&s, &in, 1<<3, 1)
		var got []byte
		for i := range s {
			got = append(got, byte(s[i][3]), byte(s[i][3]>>8), byte(s[i][3]>>16), byte(s[i][3]>>24))
		}
		if want := md5.Sum(msg); !bytes.Equal(got, want[:]) {
			t.Fatalf("len %d: %x, want %x", n, got, want)
		}
	}
}

// TestScalar checks that crypto/md5 takes our state (the lone-stream path
// depends on it) and that the state comes back as the kernel's would.
func TestScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for _, n := range []int{1, 2, 17} {
		var s1 [4]uint32
		for i := range s1 {
			s1[i] = r.Uint32()
		}
		data := randBytes(r, 64*n)
		var st state16
		var in [lanes][]byte
		for i := range s1 {
			st[i][5] = s1[i]
		}
		in[5] = data
		blocksGeneric(&st, &in, 1<<5, n)
		if !hashScalar(&s1, data) {
			t.Fatal("crypto/md5 refused the marshaled state")
		}
		for i := range s1 {
			if s1[i] != st[i][5] {
				t.Fatalf("%d blocks: scalar %x, reference %x", n, s1, st)
			}
		}
	}
}

// lengths: 0..200, around multiples of the block, and around the buffer.
func lengths() []int {
	var ls []int
	for n := 0; n <= 200; n++ {
		ls = append(ls, n)
	}
	for _, base := range []int{256, 1024, 4096, chunkSize, 2 * chunkSize, 3*chunkSize + 64*7} {
		for d := -65; d <= 65; d += 1 {
			if base+d > 200 && (d >= -2 && d <= 2 || d%63 == 0 || d%64 == 0 || d%65 == 0) {
				ls = append(ls, base+d)
			}
		}
	}
	return ls
}

// write feeds data to h in pieces of the sizes split gives (cycling).
func write(h io.Writer, data []byte, split []int) {
	for i := 0; len(data) > 0; i++ {
		n := min(split[i%len(split)], len(data))
		h.Write(data[:n])
		data = data[n:]
	}
}

func TestMatchesCryptoMD5(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	splits := map[string][]int{
		"one write": {1 << 30},
		"bytes":     {1},
		"odd":       {7, 61, 64, 65, 1000},
		"network":   {32 << 10, 16 << 10, 1 << 20},
		"chunks":    {chunkSize, chunkSize - 1, 1},
	}
	for name, split := range splits {
		for _, mk := range []struct {
			name string
			new  func() *Digest
		}{{"New", New}, {"lanes", newLanes}} {
			t.Run(name+"/"+mk.name, func(t *testing.T) {
				// A second open Digest makes this one share passes
				// (not lone); without it, it hashes in place.
				for _, crowd := range []bool{false, true} {
					var other *Digest
					if crowd {
						other = mk.new()
						other.Write([]byte{1})
					}
					for _, n := range lengths() {
						if split[0] == 1 && n > 5000 {
							continue
						}
						data := randBytes(r, n)
						h := mk.new()
						write(h, data, split)
						want := md5.Sum(data)
						got := h.Sum(nil)
						if !bytes.Equal(got, want[:]) {
							t.Fatalf("crowd %v len %d: %x, want %x", crowd, n, got, want)
						}
						// Sum does not change the stream; Close keeps it.
						h.Write([]byte("more"))
						h.Close()
						want = md5.Sum(append(data, "more"...))
						if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
							t.Fatalf("crowd %v len %d after Sum and Close: %x, want %x", crowd, n, got, want)
						}
						h.Write(data)
						h.Reset()
						h.Write(data)
						want = md5.Sum(data)
						if got := h.Sum([]byte("x")); !bytes.Equal(got, append([]byte("x"), want[:]...)) {
							t.Fatalf("crowd %v len %d after Reset: %x, want x+%x", crowd, n, got, want)
						}
						h.Close()
						h.Close()
					}
					if other != nil {
						other.Close()
					}
				}
			})
		}
	}
}

func TestSizes(t *testing.T) {
	h := New()
	if h.Size() != 16 || h.BlockSize() != 64 {
		t.Fatalf("Size %d BlockSize %d", h.Size(), h.BlockSize())
	}
}

// TestConcurrentStreams hashes many streams at once, of random lengths and
// write sizes, with crypto/md5 as the oracle (run with -race).
func TestConcurrentStreams(t *testing.T) {
	for _, streams := range []int{2, 16, 40} {
		t.Run(fmt.Sprint(streams), func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, streams)
			for g := 0; g < streams; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 7))
					for round := 0; round < 4; round++ {
						n := r.IntN(3 * chunkSize)
						if round == 0 {
							n = r.IntN(300)
						}
						data := randBytes(r, n)
						h := newLanes()
						split := []int{1 + r.IntN(70000), 1 + r.IntN(100), chunkSize}
						write(h, data, split)
						want := md5.Sum(data)
						got := h.Sum(nil)
						h.Close()
						if !bytes.Equal(got, want[:]) {
							errs <- fmt.Errorf("stream %d round %d len %d: %x, want %x", g, round, n, got, want)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			checkIdle(t)
		})
	}
}

// checkIdle fails unless the combiner holds nothing: no queued submission,
// no pass running, no Digest holding buffers.
func checkIdle(t *testing.T) {
	t.Helper()
	if q, running, active := srv.stats(); q != 0 || running || active != 0 {
		t.Fatalf("combiner not idle: %d queued, running %v, %d Digests with buffers", q, running, active)
	}
}

// TestOpenCloseLeavesNothing: 100k Digests opened, written and closed, from
// one and from several goroutines, leave no goroutine, queue entry or
// buffer count behind.
func TestOpenCloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	data := make([]byte, 3000)
	const cycles = 100_000
	// One goroutine (lone: hashes in place).
	for i := 0; i < cycles/2; i++ {
		h := newLanes()
		h.Write(data[:i%len(data)])
		h.Sum(nil)
		h.Close()
	}
	checkIdle(t)
	// Eight goroutines at once (shared passes), some Digests closed without Sum.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < cycles/2/8; i++ {
				h := newLanes()
				h.Write(data[:(i*g)%len(data)])
				if i%3 != 0 {
					h.Sum(nil)
				}
				h.Close()
			}
		}()
	}
	wg.Wait()
	checkIdle(t)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the test's own goroutines exiting
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

func FuzzMD5Lanes(f *testing.F) {
	f.Add([]byte("hello"), uint64(1), uint8(2))
	f.Add(make([]byte, 200), uint64(64), uint8(1))
	f.Add(bytes.Repeat([]byte{0xa5}, 4097), uint64(0x3f3f), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, splits uint64, crowd uint8) {
		// Other open Digests with submissions of their own, so the
		// fuzzed one shares passes with them.
		others := make([]*Digest, int(crowd%4))
		for i := range others {
			others[i] = newLanes()
			others[i].Write(bytes.Repeat([]byte{byte(i)}, chunkSize+i))
		}
		h := newLanes()
		rest := data
		for s := splits; len(rest) > 0; s = s>>7 | s<<57 {
			n := min(int(s%131)+1, len(rest))
			if s&(1<<20) != 0 {
				n = len(rest)
			}
			h.Write(rest[:n])
			rest = rest[n:]
		}
		want := md5.Sum(data)
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("len %d: %x, want %x", len(data), got, want)
		}
		h.Close()
		for i, o := range others {
			want := md5.Sum(bytes.Repeat([]byte{byte(i)}, chunkSize+i))
			if got := o.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Fatalf("other %d: %x, want %x", i, got, want)
			}
			o.Close()
		}
	})
}
