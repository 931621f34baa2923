package node

import (
	"context"

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
