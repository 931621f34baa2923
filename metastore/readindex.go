package metastore

import (
	"context"
	"sync"
)

// readIndexBatcher coalesces concurrent read-index requests into rounds:
// one round (one leader round trip, one VerifyLeader heartbeat round) serves
// every request that arrived before it started. A request that arrives
// while a round is in flight waits for the next round, which starts after
// it arrived, so the index it gets is at least the commit index at its
// arrival: reads stay linearizable. Under load this turns N read-indexes
// per round trip into about one.
type readIndexBatcher struct {
	fetch func(ctx context.Context) (uint64, error)
	kick  chan struct{}

	mu      sync.Mutex
	pending *readIndexRound // collecting requests; started by the loop
}

type readIndexRound struct {
	idx  uint64
	err  error
	done chan struct{}
}

func newReadIndexBatcher(fetch func(ctx context.Context) (uint64, error)) *readIndexBatcher {
	return &readIndexBatcher{fetch: fetch, kick: make(chan struct{}, 1)}
}

// get joins the next round and waits for its index.
func (b *readIndexBatcher) get(ctx context.Context) (uint64, error) {
	b.mu.Lock()
	if b.pending == nil {
		b.pending = &readIndexRound{done: make(chan struct{})}
	}
	r := b.pending
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
		return r.idx, r.err
	case <-ctx.Done():
		return 0, ctxErr(ctx)
	}
}

// run runs rounds until base ends; then it fails the round collecting.
func (b *readIndexBatcher) run(base context.Context) {
	for {
		select {
		case <-base.Done():
			b.mu.Lock()
			r := b.pending
			b.pending = nil
			b.mu.Unlock()
			if r != nil {
				r.err = ErrClosed
				close(r.done)
			}
			return
		case <-b.kick:
		}
		for {
			b.mu.Lock()
			r := b.pending
			b.pending = nil
			b.mu.Unlock()
			if r == nil {
				break
			}
			r.idx, r.err = b.fetch(base)
			close(r.done)
		}
	}
}

// readScope lets the linearizable reads of one request share one read
// barrier (see WithReadScope).
type readScope struct {
	mu   sync.Mutex
	done map[*Store]bool // stores whose barrier ran in this scope
}

type readScopeKey struct{}

// WithReadScope returns ctx carrying a read scope. The first linearizable
// read of a Store under it runs the read barrier as usual; later
// linearizable reads of that Store under the same scope skip it, because
// the local state already reflects every write acknowledged before that
// first read. The reads of a scope are thus linearizable as of the
// scope's first read: what an S3 request needs (its key, container and
// artifact as of the request's start) for one leader round trip instead of
// one per read. A write made through Raft within the scope is not
// guaranteed to be visible to a later read of the same scope; do not use a
// scope where a request reads its own writes.
func WithReadScope(ctx context.Context) context.Context {
	return context.WithValue(ctx, readScopeKey{}, &readScope{})
}

// scopedBarrier runs barrier unless ctx's read scope already did for s.
func (s *Store) scopedBarrier(ctx context.Context, barrier func() error) error {
	sc, _ := ctx.Value(readScopeKey{}).(*readScope)
	if sc == nil {
		return barrier()
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.done[s] {
		return nil
	}
	if err := barrier(); err != nil {
		return err
	}
	if sc.done == nil {
		sc.done = map[*Store]bool{}
	}
	sc.done[s] = true
	return nil
}
