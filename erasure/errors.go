package erasure

import "errors"

// Errors returned by the erasure package. Wrap with %w; test with errors.Is.
var (
	// ErrShape: a Shape is invalid (see Shape.Validate), or a Coder was
	// asked to work on shards of another shape.
	ErrShape = errors.New("erasure: invalid shape")
	// ErrInvalid: an argument other than the shape is out of range: the
	// number of shard writers, the write quorum, a shard index, or a byte
	// range outside the artifact.
	ErrInvalid = errors.New("erasure: invalid argument")
	// ErrCorrupt marks bitrot: a shard whose header, block, checksum or
	// trailer does not verify, whose header names another shape or index,
	// or which is shorter than its artifact says (truncated). Test with
	// IsCorruption to tell it apart from a shard that is absent or whose
	// driver failed.
	ErrCorrupt = errors.New("erasure: shard corrupt")
	// ErrVersion: a shard file has an intact header of a format version this
	// release cannot read (written by a newer release during a rolling
	// upgrade). The shard is not corrupt; it is unusable here.
	ErrVersion = errors.New("erasure: unsupported shard format version")
	// ErrNoWriter: Encode was handed a nil writer for a shard; the shard is
	// lost from the start and is listed in EncodeResult.Failed.
	ErrNoWriter = errors.New("erasure: no writer for shard")
	// ErrWriteQuorum: fewer shard writers than the write quorum stayed
	// healthy; the artifact must not be committed.
	ErrWriteQuorum = errors.New("erasure: write quorum lost")
	// ErrReadQuorum: fewer than Data shards of some stripe could be read and
	// verified; the artifact's bytes cannot be produced.
	ErrReadQuorum = errors.New("erasure: read quorum lost")
)

// IsCorruption reports whether err is (or wraps) a corruption marker: the
// shard exists but its bytes are wrong (bitrot, a torn or truncated write,
// a misplaced file), as opposed to a shard that is absent or unreachable.
func IsCorruption(err error) bool { return errors.Is(err, ErrCorrupt) }
