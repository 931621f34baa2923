package erasure

import (
	"errors"
	"fmt"
)

// Shape limits. They keep the memory of one stream, a small multiple of one
// stripe ((Data+Parity)*BlockSize), within a few hundred MiB whatever the
// caller passes.
const (
	// MaxShards is the largest Data+Parity: Reed-Solomon over GF(2^8) has
	// 256 distinct evaluation points, and the header stores counts in 16 bits.
	MaxShards = 256
	// MaxBlockSize bounds BlockSize (16 MiB). Larger blocks buy no coding
	// speed (see DefaultBlockSize) and only grow the per-stream memory.
	MaxBlockSize = 16 << 20
	// MaxStripeSize bounds (Data+Parity)*BlockSize (256 MiB), so that the
	// encode pipeline (pipelineDepth stripes) stays under 1 GiB even for
	// pathological shapes.
	MaxStripeSize = 256 << 20
)

// DefaultBlockSize is the bytes per shard per stripe used when a caller has
// no reason to pick another: 256 KiB.
//
// Chosen with BenchmarkBlockSize (bench_test.go) on the project machine
// (2-core AMD EPYC Zen 3, AVX2, no GFNI, shared with other jobs), through
// the full Encode pipeline into discarding writers, 64 MiB artifacts, GB/s
// of artifact, best of two runs in a quiet period:
//
//	shape  64 KiB  128 KiB  256 KiB  512 KiB  1 MiB
//	4+2    11.7    14.2     14.9     13.7      8.6
//	8+4     8.8    10.0     10.0      7.7      6.2
//	12+4    7.7     8.7      9.3      6.1      4.0
//
// Throughput rises up to 256 KiB (fewer channel hand-offs, Write calls and
// checksum finalisations per byte) and falls beyond it: a stripe of
// 1 MiB blocks (6-16 MiB) no longer stays in the caches between the read,
// code and checksum stages, and per-stream memory grows for nothing. Under
// heavy load from other jobs the runs are noisier but 256 KiB stays at or
// near the top. At 256 KiB a 12+4 Encode holds pipelineDepth*16*256 KiB =
// 12 MiB, and a 4 KiB-ish range read touches one 256 KiB block per shard.
const DefaultBlockSize = 256 << 10

// Shape is an erasure shape: Data data shards + Parity parity shards, each
// stripe holding Data*BlockSize bytes of the artifact, i.e. BlockSize bytes
// per shard per stripe.
type Shape struct{ Data, Parity, BlockSize int }

// Shards is Data+Parity.
func (s Shape) Shards() int { return s.Data + s.Parity }

// StripeSize is the number of artifact bytes one full stripe holds.
func (s Shape) StripeSize() int64 { return int64(s.Data) * int64(s.BlockSize) }

// String formats the shape as "4+2/256KiB".
func (s Shape) String() string {
	if s.BlockSize%1024 == 0 {
		return fmt.Sprintf("%d+%d/%dKiB", s.Data, s.Parity, s.BlockSize/1024)
	}
	return fmt.Sprintf("%d+%d/%dB", s.Data, s.Parity, s.BlockSize)
}

// Validate reports every problem of the shape at once (errors.Join); each
// wraps ErrShape.
func (s Shape) Validate() error {
	var errs []error
	if s.Data < 1 {
		errs = append(errs, fmt.Errorf("%w: data shards %d < 1", ErrShape, s.Data))
	}
	if s.Parity < 0 {
		errs = append(errs, fmt.Errorf("%w: parity shards %d < 0", ErrShape, s.Parity))
	}
	if s.Data+s.Parity > MaxShards || s.Data > MaxShards || s.Parity > MaxShards {
		errs = append(errs, fmt.Errorf("%w: %d+%d shards > %d", ErrShape, s.Data, s.Parity, MaxShards))
	}
	if s.BlockSize < 1 {
		errs = append(errs, fmt.Errorf("%w: block size %d < 1", ErrShape, s.BlockSize))
	}
	if s.BlockSize > MaxBlockSize {
		errs = append(errs, fmt.Errorf("%w: block size %d > %d", ErrShape, s.BlockSize, MaxBlockSize))
	}
	if s.Data > 0 && s.Parity >= 0 && s.BlockSize > 0 && s.BlockSize <= MaxBlockSize &&
		int64(s.Data+s.Parity)*int64(s.BlockSize) > MaxStripeSize {
		errs = append(errs, fmt.Errorf("%w: stripe of %d shards x %d bytes > %d", ErrShape,
			s.Data+s.Parity, s.BlockSize, MaxStripeSize))
	}
	return errors.Join(errs...)
}

// geometry is the layout of the shard files of one artifact of a known size.
type geometry struct {
	k, m, bs int
	size     int64
	stripes  int64 // number of stripes, 0 for an empty artifact
	lastData int64 // artifact bytes in the last stripe
	lastLen  int   // bytes per shard block in the last stripe
}

func newGeometry(s Shape, size int64) geometry {
	g := geometry{k: s.Data, m: s.Parity, bs: s.BlockSize, size: size}
	if size <= 0 {
		return g
	}
	stripe := s.StripeSize()
	g.stripes = (size + stripe - 1) / stripe
	g.lastData = size - (g.stripes-1)*stripe
	g.lastLen = int((g.lastData + int64(g.k) - 1) / int64(g.k))
	return g
}

// blockLen is the length of every shard's block in stripe s.
func (g geometry) blockLen(s int64) int {
	if s == g.stripes-1 {
		return g.lastLen
	}
	return g.bs
}

// dataLen is the number of artifact bytes stripe s holds.
func (g geometry) dataLen(s int64) int64 {
	if s == g.stripes-1 {
		return g.lastData
	}
	return int64(g.k) * int64(g.bs)
}

// stripeStart is the artifact offset of stripe s.
func (g geometry) stripeStart(s int64) int64 { return s * int64(g.k) * int64(g.bs) }

// blockOffset is the shard file offset of the block of stripe s.
func (g geometry) blockOffset(s int64) int64 {
	return HeaderSize + s*int64(g.bs+checksumSize)
}

// blockEnd is the shard file offset just past the checksum of stripe s's block.
func (g geometry) blockEnd(s int64) int64 {
	return g.blockOffset(s) + int64(g.blockLen(s)+checksumSize)
}

// trailerOffset is the shard file offset of the trailer.
func (g geometry) trailerOffset() int64 {
	if g.stripes == 0 {
		return HeaderSize
	}
	return g.blockEnd(g.stripes - 1)
}

// fileSize is the exact size of every shard file.
func (g geometry) fileSize() int64 { return g.trailerOffset() + TrailerSize }

// ShardFileSize is the exact size of each shard file (every shard file of an
// artifact has the same size) for an artifact of size bytes. It is 0 for an
// invalid shape or a negative size.
func ShardFileSize(s Shape, size int64) int64 {
	if s.Validate() != nil || size < 0 {
		return 0
	}
	return newGeometry(s, size).fileSize()
}
