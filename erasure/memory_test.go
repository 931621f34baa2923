package erasure

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"testing"
)

// patternReader yields size deterministic bytes without allocating: a
// 64 KiB random pattern, rotated by the chunk count so that stripes differ.
type patternReader struct {
	pattern []byte
	left    int64
	chunk   int
	pos     int
}

func newPatternReader(size int64) *patternReader {
	return &patternReader{pattern: randBytes(99, 64<<10), left: size}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && p.left > 0 {
		if p.pos == len(p.pattern) {
			p.pos = 0
			p.chunk++
			p.pattern[p.chunk%len(p.pattern)]++
		}
		c := copy(b[n:], p.pattern[p.pos:min(len(p.pattern), p.pos+int(min(int64(len(b)-n), p.left)))])
		n += c
		p.pos += c
		p.left -= int64(c)
	}
	return n, nil
}

// heapProbe samples the heap on every every-th write, then discards.
type heapProbe struct {
	every, writes int
	peak          uint64
}

func (h *heapProbe) Write(p []byte) (int, error) {
	if h.writes++; h.writes%h.every == 0 {
		h.sample()
	}
	return len(p), nil
}

func (h *heapProbe) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapInuse)
}

// memBaseline collects garbage and returns heap in use and bytes allocated.
func memBaseline() (inuse, total uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.TotalAlloc
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// memSlack covers what is not stripe buffers: goroutine stacks, the
// Reed-Solomon coder's tables, errors, test scaffolding.
const memSlack = 4 << 20

// TestEncodeMemoryBounded streams a large artifact (256 MiB, 64 MiB under
// the race detector) through Encode into discarding writers and checks that
// neither the heap in use nor the bytes allocated grow past a bound derived
// from the stripe: pipelineDepth stripes of (k+m)*(BlockSize+16) bytes.
func TestEncodeMemoryBounded(t *testing.T) {
	size := int64(256 << 20)
	if raceEnabled || testing.Short() {
		size = 64 << 20
	}
	s := Shape{8, 4, DefaultBlockSize}
	c := mustCoder(t, s)
	stripe := uint64(s.Shards() * (s.BlockSize + checksumSize))
	bound := pipelineDepth*stripe + memSlack

	probe := &heapProbe{every: 2}
	ws := make([]io.Writer, s.Shards())
	ws[0] = probe
	for i := 1; i < len(ws); i++ {
		ws[i] = io.Discard
	}
	base, alloc0 := memBaseline()
	res, err := c.Encode(context.Background(), newPatternReader(size), ws, s.Shards())
	allocated := totalAlloc() - alloc0
	if err != nil || res.Size != size {
		t.Fatalf("Encode: %v, %d bytes", err, res.Size)
	}
	if probe.writes/probe.every < 10 {
		t.Fatalf("only %d samples", probe.writes/probe.every)
	}
	grew := probe.peak - min(probe.peak, base)
	t.Logf("%v, %d MiB artifact: heap grew %.1f MiB, %.1f MiB allocated, bound %.1f MiB (stripe %.1f MiB)",
		s, size>>20, mib(grew), mib(allocated), mib(bound), mib(stripe))
	if grew > bound {
		t.Errorf("heap in use grew by %.1f MiB, bound %.1f MiB", mib(grew), mib(bound))
	}
	if allocated > bound {
		t.Errorf("Encode allocated %.1f MiB, bound %.1f MiB", mib(allocated), mib(bound))
	}
}

// TestDecodeMemoryBounded decodes (with a data shard lost, so every stripe
// is reconstructed) and rebuilds a 64 MiB artifact held in memory, and
// checks growth against the reader bound: readAhead blocks per shard plus
// one reconstructed block per data shard.
func TestDecodeMemoryBounded(t *testing.T) {
	size := int64(64 << 20)
	if raceEnabled || testing.Short() {
		size = 16 << 20
	}
	s := Shape{4, 2, DefaultBlockSize}
	block := uint64(s.BlockSize + checksumSize)
	bound := uint64(s.Shards()*readAhead)*block + uint64(s.Shards())*block + memSlack

	shards := make([]*bytes.Buffer, s.Shards())
	ws := make([]io.Writer, s.Shards())
	for i := range shards {
		shards[i] = bytes.NewBuffer(make([]byte, 0, ShardFileSize(s, size)))
		ws[i] = shards[i]
	}
	if _, err := mustCoder(t, s).Encode(context.Background(), newPatternReader(size), ws, s.Shards()); err != nil {
		t.Fatal(err)
	}
	files := make([][]byte, len(shards))
	for i, b := range shards {
		files[i] = b.Bytes()
	}
	st := newStore(files)
	st.lost[1] = true
	c := mustCoder(t, s) // fresh pools

	probe := &heapProbe{every: 4}
	base, alloc0 := memBaseline()
	rep, err := c.Decode(context.Background(), probe, st.open, size, 0, -1)
	allocated := totalAlloc() - alloc0
	if err != nil || len(rep.Bad) != 1 {
		t.Fatalf("Decode: %v %v", err, rep.Bad)
	}
	grew := probe.peak - min(probe.peak, base)
	t.Logf("decode %v, %d MiB: heap grew %.1f MiB, %.1f MiB allocated, bound %.1f MiB",
		s, size>>20, mib(grew), mib(allocated), mib(bound))
	if grew > bound || allocated > bound {
		t.Errorf("decode: heap grew %.1f MiB, allocated %.1f MiB, bound %.1f MiB", mib(grew), mib(allocated), mib(bound))
	}

	probe = &heapProbe{every: 2}
	base, alloc0 = memBaseline()
	if _, err := c.Rebuild(context.Background(), st.open, size, 1, probe); err != nil {
		t.Fatal(err)
	}
	allocated = totalAlloc() - alloc0
	grew = probe.peak - min(probe.peak, base)
	t.Logf("rebuild: heap grew %.1f MiB, %.1f MiB allocated", mib(grew), mib(allocated))
	if grew > bound || allocated > bound {
		t.Errorf("rebuild: heap grew %.1f MiB, allocated %.1f MiB, bound %.1f MiB", mib(grew), mib(allocated), mib(bound))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
