package node

import (
	"context"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/vaultaire/vaultaire/metastore"
)

// RelocateShard exposes one relocation step to the external tests: it
// rebuilds shard i of b (as the caller last read it) and commits the move.
func (e *Engine) RelocateShard(ctx context.Context, b metastore.Blob, size int64, i int, removed func(string) bool) error {
	return e.relocateShard(ctx, &b, size, i, removed)
}

// ErrRelocationMoot is errRelocationMoot, for the external tests.
var ErrRelocationMoot = errRelocationMoot

// SetLifecycleBatch sets the versions a lifecycle step looks at.
func (e *Engine) SetLifecycleBatch(n int) { e.lc.batch = n }

// LifecyclePasses is the number of lifecycle passes started (from the
// replicated state).
func (e *Engine) LifecyclePasses() int64 {
	st, err := e.loadLifecycleState(context.Background())
	if err != nil {
		panic(err)
	}
	return st.Pass
}

// MoveShard exposes one shard move to the external tests.
func (e *Engine) MoveShard(ctx context.Context, b metastore.Blob, size int64, i int, to Drive, bytesPerSec int64) (bytes int64, rebuilt bool, err error) {
	b.Shards = slices.Clone(b.Shards) // the caller's placement stays as read
	res, err := e.moveShard(ctx, &b, size, i, to, newMoveLimiter(bytesPerSec))
	return res.Bytes, res.Rebuilt, err
}

// ErrMoveMoot is errMoveMoot, for the external tests.
var ErrMoveMoot = errMoveMoot

// Sweep runs one orphan sweep with the given grace, misplaced shards
// included with no grace of their own.
func (e *Engine) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	old := misplacedGrace
	misplacedGrace = 0
	defer func() { misplacedGrace = old }()
	return e.gc.sweep(ctx, grace)
}

// MisplacedSwept counts shard files the sweep removed because no
// placement named them.
func (e *Engine) MisplacedSwept() int64 { return e.stats.shardsMisplacedSwept.Load() }

// MoveShardWith moves as MoveShard through a caller's limiter (shared
// between moves, as a job's is).
func (e *Engine) MoveShardWith(ctx context.Context, b metastore.Blob, size int64, i int, to Drive, lim *rate.Limiter) error {
	b.Shards = slices.Clone(b.Shards)
	_, err := e.moveShard(ctx, &b, size, i, to, lim)
	return err
}

// NewMoveLimiter is a job's token bucket (bytes/s; <= 0: none).
func NewMoveLimiter(bytesPerSec int64) *rate.Limiter { return newMoveLimiter(bytesPerSec) }

// RestripeVersion exposes one version's re-striping to the external
// tests (a as the caller last read it).
func (e *Engine) RestripeVersion(ctx context.Context, a metastore.Artifact) (int64, error) {
	return e.restripeVersion(ctx, a)
}

// ErrRestripeMoot is errRestripeMoot, for the external tests.
var ErrRestripeMoot = errRestripeMoot
