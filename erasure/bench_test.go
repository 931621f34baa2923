package erasure

// Benchmarks of the streaming pipeline against raw Reed-Solomon.
// Run: go test -run '^$' -bench . -benchtime 20x ./erasure
// Figures measured on the project machine are in the comment at the end
// of this file.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

var benchShapes = []Shape{
	{4, 2, DefaultBlockSize},
	{8, 4, DefaultBlockSize},
	{12, 4, DefaultBlockSize},
}

var benchSizes = []int{1 << 20, 16 << 20}

func sizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}

func discardWriters(n int) []io.Writer {
	ws := make([]io.Writer, n)
	for i := range ws {
		ws[i] = io.Discard
	}
	return ws
}

// BenchmarkEncode measures, per shape and artifact size:
//   - pipeline: Encode from a bytes.Reader into discarding shard writers
//     (copy in, Reed-Solomon, checksums, concurrent writers);
//   - raw: reedsolomon Encode alone, with the same coder options, over the
//     same stripes (the last one short) held in preallocated shards: no
//     copy, no checksum, no I/O.
//
// The ratio pipeline/raw is the cost of streaming.
func BenchmarkEncode(b *testing.B) {
	for _, s := range benchShapes {
		for _, size := range benchSizes {
			data := randBytes(uint64(size), size)
			b.Run(fmt.Sprintf("%d+%d/%s/pipeline", s.Data, s.Parity, sizeName(int64(size))), func(b *testing.B) {
				c := mustCoder(b, s)
				ws := discardWriters(s.Shards())
				r := bytes.NewReader(data)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					r.Reset(data)
					if _, err := c.Encode(context.Background(), r, ws, s.Shards()); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%d+%d/%s/raw", s.Data, s.Parity, sizeName(int64(size))), func(b *testing.B) {
				enc, err := newEncoder(s)
				if err != nil {
					b.Fatal(err)
				}
				g := newGeometry(s, int64(size))
				shards := make([][]byte, s.Shards())
				buf := make([]byte, s.Shards()*s.BlockSize)
				copy(buf, data)
				b.SetBytes(int64(size))
				for b.Loop() {
					for st := range g.stripes {
						blen := g.blockLen(st)
						for i := range shards {
							shards[i] = buf[i*s.BlockSize : i*s.BlockSize+blen]
						}
						if err := enc.Encode(shards); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// BenchmarkDecode measures Decode of whole artifacts from in-memory shard
// files into io.Discard: healthy (data shards only, no decode math) and
// degraded (data shard 0 lost: every stripe reconstructed from parity),
// and raw reedsolomon ReconstructData of the same loss over the same
// stripes for reference.
func BenchmarkDecode(b *testing.B) {
	for _, s := range benchShapes {
		for _, size := range benchSizes {
			data := randBytes(uint64(size), size)
			c := mustCoder(b, s)
			files := encode(b, c, data)
			for _, lost := range []int{-1, 0} {
				name := "healthy"
				if lost >= 0 {
					name = "degraded"
				}
				b.Run(fmt.Sprintf("%d+%d/%s/%s", s.Data, s.Parity, sizeName(int64(size)), name), func(b *testing.B) {
					st := newStore(files)
					if lost >= 0 {
						st.lost[lost] = true
					}
					b.SetBytes(int64(size))
					b.ReportAllocs()
					for b.Loop() {
						st.opens = st.opens[:0]
						if _, err := c.Decode(context.Background(), io.Discard, st.open, int64(size), 0, -1); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			b.Run(fmt.Sprintf("%d+%d/%s/raw-reconstruct", s.Data, s.Parity, sizeName(int64(size))), func(b *testing.B) {
				enc, err := newEncoder(s)
				if err != nil {
					b.Fatal(err)
				}
				g := newGeometry(s, int64(size))
				buf := make([]byte, s.Shards()*s.BlockSize)
				shards := make([][]byte, s.Shards())
				b.SetBytes(int64(size))
				for b.Loop() {
					for st := range g.stripes {
						blen := g.blockLen(st)
						for i := range shards {
							shards[i] = buf[i*s.BlockSize : i*s.BlockSize+blen]
						}
						shards[0] = shards[0][:0]
						if err := enc.ReconstructData(shards); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// benchDir is a directory on tmpfs when the machine has one, so that the
// file benchmark measures the pipeline and the kernel, not a disk.
func benchDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "erasure-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return b.TempDir()
}

// BenchmarkEncodeFiles is BenchmarkEncode/pipeline into real shard files
// (created and truncated each op, no fsync) under /dev/shm.
func BenchmarkEncodeFiles(b *testing.B) {
	for _, s := range benchShapes {
		for _, size := range benchSizes {
			data := randBytes(uint64(size), size)
			b.Run(fmt.Sprintf("%d+%d/%s", s.Data, s.Parity, sizeName(int64(size))), func(b *testing.B) {
				c := mustCoder(b, s)
				dir := benchDir(b)
				r := bytes.NewReader(data)
				files := make([]*os.File, s.Shards())
				ws := make([]io.Writer, s.Shards())
				b.SetBytes(int64(size))
				for b.Loop() {
					for i := range files {
						f, err := os.Create(filepath.Join(dir, fmt.Sprintf("shard.%d", i)))
						if err != nil {
							b.Fatal(err)
						}
						files[i], ws[i] = f, f
					}
					r.Reset(data)
					if _, err := c.Encode(context.Background(), r, ws, s.Shards()); err != nil {
						b.Fatal(err)
					}
					for _, f := range files {
						if err := f.Close(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if fi, err := os.Stat(filepath.Join(dir, "shard.0")); err != nil || fi.Size() != ShardFileSize(s, int64(size)) {
					b.Fatalf("shard file: %v %v", fi, err)
				}
			})
		}
	}
}

// BenchmarkEncodeConstantMemory streams a 10 GiB artifact per op through
// Encode (8+4, DefaultBlockSize) into discarding writers and reports the
// peak growth of the heap in use (peak-heap-MiB, sampled on every 64th
// write of one shard), the bytes allocated per op, and the stripe memory
// pipelineDepth*(k+m)*(BlockSize+16) (stripes-MiB). The heap peak includes
// garbage awaiting collection (reedsolomon allocates ~50 bytes per parallel
// Encode call), so with GOGC=100 it settles below twice the live stripes —
// about 17 MiB for 10 GiB, and the same for 256 MiB or 100 GiB.
func BenchmarkEncodeConstantMemory(b *testing.B) {
	const size = 10 << 30
	s := Shape{8, 4, DefaultBlockSize}
	c := mustCoder(b, s)
	probe := &heapProbe{every: 64}
	ws := discardWriters(s.Shards())
	ws[0] = probe
	base, alloc0 := memBaseline()
	b.SetBytes(size)
	for b.Loop() {
		if _, err := c.Encode(context.Background(), newPatternReader(size), ws, s.Shards()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	probe.sample()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(mib(probe.peak-min(probe.peak, base)), "peak-heap-MiB")
	b.ReportMetric(mib((ms.TotalAlloc-alloc0)/uint64(b.N)), "alloc-MiB/op")
	b.ReportMetric(mib(uint64(pipelineDepth*s.Shards()*(s.BlockSize+checksumSize))), "stripes-MiB")
}

// BenchmarkBlockSize is the evidence for DefaultBlockSize: the pipeline
// over 64 MiB artifacts at several block sizes.
func BenchmarkBlockSize(b *testing.B) {
	const size = 64 << 20
	data := randBytes(64, size)
	for _, sh := range []struct{ k, m int }{{4, 2}, {8, 4}, {12, 4}} {
		for _, bs := range []int{64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20} {
			s := Shape{sh.k, sh.m, bs}
			b.Run(fmt.Sprintf("%d+%d/%dKiB", s.Data, s.Parity, bs>>10), func(b *testing.B) {
				c := mustCoder(b, s)
				ws := discardWriters(s.Shards())
				r := bytes.NewReader(data)
				b.SetBytes(size)
				for b.Loop() {
					r.Reset(data)
					if _, err := c.Encode(context.Background(), r, ws, s.Shards()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// Measured on the project machine (2-core AMD EPYC Zen 3, AVX2, no GFNI),
// `go test -run '^$' -bench . -benchtime 20x ./erasure`, while other jobs
// kept the load average at 3-8 on its 2 cores: best of 5 runs, GB/s of
// artifact. Raw Reed-Solomon runs on both cores with hot caches.
//
//	encode          pipeline  raw RS  pipeline/raw  files on /dev/shm
//	4+2   1 MiB      6.3      19.5     32%           0.9
//	4+2  16 MiB      7.7      28.7     27%           1.0
//	8+4   1 MiB      5.2      12.2     43%           0.9
//	8+4  16 MiB      5.9      11.5     51%           0.8
//	12+4  1 MiB      4.3      10.7     40%           0.8
//	12+4 16 MiB      4.5      10.7     42%           0.6
//
//	decode          healthy  degraded (data shard 0 lost)  raw reconstruct
//	4+2   1 MiB     12.1      8.6                           14.7
//	4+2  16 MiB     14.4     10.4                           37.3
//	8+4   1 MiB     12.4      8.9                           25.6
//	8+4  16 MiB     13.6      9.6                           34.1
//	12+4  1 MiB     10.9      7.1                           23.7
//	12+4 16 MiB     14.0      7.9                           26.1
//
// In a quieter moment (load ~1.5) the 16 MiB encodes reached 15.9 / 10.9 /
// 10.1 GB/s against raw 35-38 / 20-21 / 15-20 GB/s (43% / 52% / 50-65%),
// and healthy decodes 17-20 GB/s.
//
// The 70% pipeline/raw target is not met, and on this machine cannot be:
// raw Reed-Solomon already uses both cores, while the pipeline must also
// copy every artifact byte out of the io.Reader (~16 GB/s, one core) and
// checksum (k+m)/k times the artifact (~30 GB/s per core). A CPU profile
// of 8+4/16MiB/pipeline: Reed-Solomon 45%, memmove (the copy) 24%, xxh3 17%
// of samples, scheduling and the benchmark's own setup the rest; so the
// pipeline can reach at most RS/(RS+copy+checksum) ≈ 52% of raw for 8+4,
// which it does, and less for 4+2, whose coding (35 GB/s) is cheap next to
// the copy. Only a reader that avoids the copy (none can, through
// io.Reader) or a cheaper checksum than xxh3 (none is) would move it. 1 MiB
// artifacts are a single stripe, so their read, code and write stages cannot
// overlap. Real shard files are bound by the kernel: 74% of CPU is in
// write(2) (dd reaches 2.2 GB/s into tmpfs with one writer; we write 1.33-1.5
// bytes per artifact byte to k+m files, created afresh each op).
//
// BenchmarkEncodeConstantMemory (10 GiB per op, 8+4, 256 KiB blocks):
// ~6-10 GB/s, 2.3-2.7 MiB allocated per op, heap peak 17.4 MiB against 9.0
// MiB of stripes (see its comment). BenchmarkBlockSize: see DefaultBlockSize.
