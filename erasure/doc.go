// Package erasure owns streaming Reed-Solomon erasure coding of artifacts
// (github.com/klauspost/reedsolomon) and the versioned shard file format
// that carries a checksum for every block, so that every byte read is
// verified and bitrot is told apart from a missing shard.
//
// # Coding
//
// A Shape is k data shards (Data), m parity shards (Parity) and a block size
// B (BlockSize). An artifact of S bytes is cut into stripes of k*B bytes;
// stripe s holds artifact bytes [s*k*B, (s+1)*k*B). Within a full stripe
// data shard j holds bytes [j*B, (j+1)*B) of the stripe, and the m parity
// blocks are the Reed-Solomon code of the k data blocks. The last stripe
// holds r = S - (N-1)*k*B bytes (N = ceil(S/(k*B)) stripes; N = 0 for an
// empty artifact) and uses a shorter block b = ceil(r/k) for every shard:
// data shard j holds bytes [j*b, (j+1)*b) of that stripe, zero-padded past
// r, so that a small artifact costs about S*(k+m)/k bytes, not (k+m)*B.
//
// Any k of the k+m blocks of a stripe give back the stripe. Encode writes
// all shard files in one pass over the artifact; Decode reads a byte range,
// preferring the data shards (no decode math when they are healthy) and
// reconstructing from parity only where a block is lost; Rebuild regenerates
// one shard file, byte-identical, from the others; VerifyShard scrubs one.
//
// # Shard file format, version 1
//
// Every shard file of an artifact has the same size, ShardFileSize(shape, S)
// = 48 + (N-1)*(B+16) + (b+16) + 48 (48 + 48 when N = 0). All integers are
// big-endian. The layout of shard file i is:
//
//	header (48 bytes)
//	  off len  field
//	    0   8  magic "VLTSHARD"
//	    8   2  format version = 1
//	   10   2  header length = 48 (every version states its own length here)
//	   12   1  checksum algorithm id = 1 (XXH3-128, see ChecksumXXH3)
//	   13   1  checksum length = 16
//	   14   2  data shards k   (1..256)
//	   16   2  parity shards m (0..255, k+m <= 256)
//	   18   2  shard index i   (0..k+m-1; i < k is a data shard)
//	   20   4  block size B    (1..16 MiB)
//	   24   8  reserved, zero
//	   32  16  checksum of bytes [0, 32)
//	blocks, stripe s = 0..N-1, at offset 48 + s*(B+16)
//	  off len  field
//	    0   B  block of stripe s (b bytes for the last stripe)
//	    B  16  checksum of the block (at offset b for the last stripe)
//	trailer (48 bytes), at offset ShardFileSize-48
//	  off len  field
//	    0   8  magic "VLTSTAIL"
//	    8   8  artifact size S
//	   16   8  stripe count N
//	   24   8  reserved, zero
//	   32  16  checksum of bytes [0, 32)
//
// Every checksum is XXH3-128 of the guarded bytes, seeded with the
// checksum's position — seed = XXH3-64 of the 16 bytes {domain, 0, 0, 0, 0,
// 0, index (2 bytes), seq (8 bytes)} with domain 'H' (header; index and seq
// 0), 'B' (block; seq = stripe number) or 'T' (trailer; seq 0) — stored as
// its high then low 64 bits. A block that is intact but sits at another
// stripe or in another shard's file therefore fails its check.
//
// Header versioning: bytes [0, 12) and the closing 16-byte checksum over
// the rest are common to all versions, so a reader verifies the checksum of
// a header of any version and tells an intact header of a newer version
// (ErrVersion: written by the next release during a rolling upgrade) from a
// corrupt one (ErrCorrupt).
//
// The artifact size is not known when the header is written (the artifact
// is a stream), so it is in the trailer. Decode and Rebuild take the size
// from the caller (the Engine's metadata record) to locate blocks without
// reading the trailer first, and check the trailer against it whenever
// they read the last stripe; a scrubber can read the trailer on its own
// (ReadTrailer) or verify a whole file (VerifyShard).
//
// # Invariants
//
//   - Streaming: memory per call is bounded by the stripe, never by the
//     artifact. Encode holds at most 3 stripes of (k+m)*(B+16) bytes; Decode
//     and Rebuild hold at most 2 blocks per open shard plus one block per
//     reconstructed shard.
//   - Every byte read is verified: a block is used only after its checksum,
//     its shard's header (shape and index) and, for the last stripe, the
//     trailer (artifact size) have been checked. A shard that fails once is
//     lost for the rest of the call and is listed in the report for healing.
//   - Errors: a shard that exists but whose bytes are wrong (bitrot,
//     truncation, a misplaced file) yields errors wrapping ErrCorrupt
//     (IsCorruption); absence and I/O failures keep the driver's error.
//   - Concurrency: each shard writer and reader runs on its own goroutine,
//     so one slow shard delays the others only once the pipeline is full;
//     every goroutine has ended when Encode, Decode, Rebuild return.
//   - Slow shards: with HedgeAfter(d), a read gives up on shards whose
//     block is d late when others could stand in (one deadline per
//     stripe, however many are late), and reconstructs from those; a
//     shard given up on is reported slow, not bad, and is taken back
//     rather than failing the read when the others turn out lost.
package erasure
