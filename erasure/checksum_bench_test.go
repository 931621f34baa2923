package erasure

import (
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/minio/highwayhash"
	"github.com/zeebo/blake3"
	"github.com/zeebo/xxh3"
)

// BenchmarkChecksum compares the block checksum candidates (ChecksumXXH3
// documents the choice). Each op checksums 16 MiB as blocks of the given
// size, so that even -benchtime 20x measures something.
func BenchmarkChecksum(b *testing.B) {
	key := make([]byte, 32) // HighwayHash needs a key; bitrot needs no secret
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	const total = 16 << 20
	buf := randBytes(1, total)
	algos := []struct {
		name string
		sum  func([]byte)
	}{
		{"xxh3-128", func(p []byte) { xxh3.Hash128Seed(p, 42) }},
		{"xxh3-64", func(p []byte) { xxh3.HashSeed(p, 42) }},
		{"crc32c", func(p []byte) { crc32.Update(0, castagnoli, p) }},
		{"highwayhash-256", func(p []byte) { highwayhash.Sum(p, key) }},
		{"blake3-256", func(p []byte) { blake3.Sum256(p) }},
	}
	for _, size := range []int{4 << 10, 64 << 10, 256 << 10, 1 << 20} {
		for _, a := range algos {
			b.Run(fmt.Sprintf("%s/%dKiB", a.name, size>>10), func(b *testing.B) {
				b.SetBytes(total)
				for b.Loop() {
					for off := 0; off < total; off += size {
						a.sum(buf[off : off+size])
					}
				}
			})
		}
	}
}
