package erasure

import (
	"fmt"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// Pipeline depths. They are the "small constant" in the memory bound of a
// stream: Encode holds at most pipelineDepth stripes of
// (Data+Parity)*(BlockSize+16) bytes; Decode holds at most readAhead blocks
// per open shard plus one block per reconstructed shard.
const (
	// pipelineDepth is the number of stripes in flight during Encode: one
	// being read and coded while the shard writers drain the others, so
	// one slow writer stalls the pipeline only after it is two stripes
	// behind the fastest.
	pipelineDepth = 3
	// readAhead is the number of verified blocks each shard reader of
	// Decode and Rebuild may hold ahead of the stripe being assembled.
	readAhead = 2
)

// Coder erasure-codes artifacts of one Shape. It is safe for concurrent use
// by any number of Encode, Decode and Rebuild calls.
type Coder struct {
	shape Shape
	enc   reedsolomon.Encoder
	// stripes pools *stripeBuf for Encode, blocks pools *[]byte of
	// BlockSize+checksumSize for Decode and Rebuild, so that small
	// artifacts do not pay a stripe allocation per call.
	stripes sync.Pool
	blocks  sync.Pool
}

// NewCoder returns a Coder for shape s.
func NewCoder(s Shape) (*Coder, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	enc, err := newEncoder(s)
	if err != nil {
		return nil, fmt.Errorf("erasure: %v: %w", s, err)
	}
	c := &Coder{shape: s, enc: enc}
	c.stripes.New = func() any { return newStripeBuf(s) }
	c.blocks.New = func() any {
		b := make([]byte, s.BlockSize+checksumSize)
		return &b
	}
	return c, nil
}

// newEncoder builds the Reed-Solomon encoder of shape s; the benchmarks use
// it too, so that "raw" and pipeline figures compare the same coder.
func newEncoder(s Shape) (reedsolomon.Encoder, error) {
	return reedsolomon.New(s.Data, s.Parity, reedsolomon.WithAutoGoroutines(s.BlockSize))
}

// Shape returns the coder's shape.
func (c *Coder) Shape() Shape { return c.shape }

// ShardFault names a shard found lost or bad, for healing.
type ShardFault struct {
	// Index is the shard's index.
	Index int
	// Err wraps ErrCorrupt (bitrot, truncation, a misplaced file), or is
	// the error of the shard's writer, opener or reader.
	Err error
}

func (f ShardFault) String() string { return fmt.Sprintf("shard %d: %v", f.Index, f.Err) }
