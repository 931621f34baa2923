package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/time/rate"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/metastore"
)

// Shard moves: the one mechanism that changes where a shard lives
// (relocation off removed nodes, decommission, rebalance).
//
// moveShard moves shard i of a blob from the drive its placement names
// (from) to a drive chosen by the caller (to), in four steps, each one
// crash safe:
//
//  1. write the shard on to: copied from from, every block's checksum
//     verified on the way (erasure.VerifyShard on the stream being
//     written), or, when from is unreachable or its copy fails the check,
//     rebuilt from the other shards (byte-identical by construction). The
//     driver's Put is atomic and durable (fsync before rename for
//     drivers/local): a crash leaves no partial file. A crash after it
//     leaves a whole copy no placement names, which the orphan sweep
//     removes (gc.go, misplaced shards).
//  2. commit the move through Raft with metastore.RelocateShard, which
//     applies only if the shard is still on from in some record: an
//     overwrite, a delete or another move meanwhile makes it fail with
//     ErrPreconditionFailed, and the copy on to is deleted (errMoveMoot).
//     A commit whose outcome is unknown (leadership lost) keeps the copy:
//     it may be referenced; the caller's next pass finds the shard
//     wherever the record says.
//  3. delete the old copy on from (best effort: a copy left behind is a
//     misplaced shard for the sweep). Reads that opened it keep reading
//     (an open file survives its unlink); reads that planned on it and
//     find it gone reconstruct the block from parity.
//
// The bytes written on to pass through a token bucket (rate.Limiter, in
// bytes per second; nil: unthrottled), so a long job leaves the disks and
// the network to clients. A job is resumable because its unit, the
// shard, is: a job that restarts walks the blobs again and finds each
// shard where the last committed move left it.

// errMoveMoot: the move's commit found the shard no longer where it was
// (the blob was overwritten, deleted or moved meanwhile).
var errMoveMoot = errors.New("node: shard no longer where the move found it")

// moveResult says how a shard move went.
type moveResult struct {
	Bytes   int64 // bytes written on the target
	Rebuilt bool  // rebuilt from the other shards rather than copied
}

// moveShard moves shard i of b (of artifact-part size size) to the drive
// to; see above. On success b.Shards[i] is to.
func (e *Engine) moveShard(ctx context.Context, b *metastore.Blob, size int64, i int, to Drive, lim *rate.Limiter) (moveResult, error) {
	var res moveResult
	if i < 0 || i >= len(b.Shards) {
		return res, fmt.Errorf("node: blob %s has no shard %d", b.ID, i)
	}
	from, dest := b.Shards[i], metastore.ShardLoc{Node: to.Node, Drive: to.ID}
	if from == dest {
		return res, nil
	}
	name := shardName(b.ID, i)
	var n int64
	err := errors.New("source drive unknown")
	if src, ok := e.shardDriver(from); ok {
		n, err = e.copyShard(ctx, *b, size, i, src, to.Driver, lim)
		if err != nil && ctx.Err() == nil {
			e.log.Info("shard copy failed, rebuilding from the others", "blob", b.ID, "shard", i, "from", from.Node+"/"+from.Drive, "err", err)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.Rebuilt = true
		n, err = e.rebuildShardLimited(ctx, *b, size, i, to.Driver, lim)
		if err != nil {
			// A failed Put leaves nothing behind (drivers commit on
			// success only): no copy to delete, and none that might
			// be another mover's committed one.
			return res, fmt.Errorf("rebuilding shard %d of blob %s on %s/%s: %w", i, b.ID, dest.Node, dest.Drive, err)
		}
	}
	res.Bytes = n
	err = e.meta.RelocateShard(ctx, b.ID, i, from, dest)
	if errors.Is(err, metastore.ErrPreconditionFailed) {
		// Nothing references the shard on from any more: the copy is
		// garbage (a record that already had it on to answers success).
		e.dropShard(ctx, to.Driver, name)
		return res, errMoveMoot
	}
	if err != nil {
		return res, fmt.Errorf("committing the move of shard %d of blob %s: %w", i, b.ID, err)
	}
	b.Shards[i] = dest
	e.stats.shardsMoved.Add(1)
	e.stats.shardMoveBytes.Add(n)
	if src, ok := e.shardDriver(from); ok {
		e.dropShard(ctx, src, name)
	}
	return res, nil
}

// copyShard streams shard i of b from src (the drive its placement
// names) to d, verifying every checksum of the stream as it goes; a stream that
// fails the check fails the Put, so nothing is stored.
func (e *Engine) copyShard(ctx context.Context, b metastore.Blob, size int64, i int, src, d drivers.Driver, lim *rate.Limiter) (int64, error) {
	coder, err := e.coderFor(b)
	if err != nil {
		return 0, err
	}
	r, err := src.Open(ctx, shardName(b.ID, i), 0, -1)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = d.Put(ctx, shardName(b.ID, i), pr)
		pr.CloseWithError(err)
		done <- err
	}()
	tee := io.TeeReader(limitReader(ctx, r, lim), pw)
	err = coder.VerifyShard(ctx, tee, size, i)
	if err == nil {
		// The shard file ends with its trailer: a longer file is not
		// the shard the placement describes.
		var extra [1]byte
		if k, _ := io.ReadFull(r, extra[:]); k > 0 {
			err = fmt.Errorf("node: shard %d of blob %s is longer than its trailer says", i, b.ID)
		}
	}
	pw.CloseWithError(err)
	if perr := <-done; err == nil {
		err = perr
	}
	return n, err
}

// rebuildShardLimited regenerates shard index of b on d from the other
// shards, through the token bucket; it returns the bytes written.
func (e *Engine) rebuildShardLimited(ctx context.Context, b metastore.Blob, size int64, index int, d drivers.Driver, lim *rate.Limiter) (int64, error) {
	var n int64
	err := e.rebuildShardWith(ctx, b, size, index, d, func(r io.Reader) io.Reader {
		return &countingReader{r: limitReader(ctx, r, lim), n: &n}
	})
	return n, err
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	*c.n += int64(k)
	return k, err
}

// limitReader paces reads of r through lim (bytes per second); nil reads
// at full speed, and so does an infinite limit (the limit may change
// while the reader runs).
func limitReader(ctx context.Context, r io.Reader, lim *rate.Limiter) io.Reader {
	if lim == nil {
		return r
	}
	return &rateReader{ctx: ctx, r: r, lim: lim}
}

type rateReader struct {
	ctx context.Context
	r   io.Reader
	lim *rate.Limiter
}

func (t *rateReader) Read(p []byte) (int, error) {
	// Never ask the bucket for more than it can hold.
	if b := t.lim.Burst(); b > 0 && len(p) > b {
		p = p[:b]
	}
	n, err := t.r.Read(p)
	if n > 0 && t.lim.Limit() != rate.Inf {
		if werr := t.lim.WaitN(t.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// newMoveLimiter returns the token bucket of a job moving at most
// bytesPerSec (<= 0: unthrottled), with a burst of moveBurst.
func newMoveLimiter(bytesPerSec int64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(bytesPerSec), moveBurst(bytesPerSec))
}

// moveBurst is an eighth of a second's worth, between 1 MiB (a shard
// block) and 8 MiB: a job keeps to its rate over any second, not only
// on average.
func moveBurst(bytesPerSec int64) int {
	return int(min(max(bytesPerSec/8, 1<<20), 8<<20))
}

// moveParallel is how many blobs a job moves shards of at once: a move
// waits mostly on a Raft commit and on peers, so a few side by side keep
// the disks busy (the token bucket still bounds the bytes).
const moveParallel = 4

// movePool runs the moves of a job, a few blobs at a time, and counts
// their results.
type movePool struct {
	sem chan struct{}
	wg  sync.WaitGroup
	mu  struct {
		sync.Mutex
		st   moveStats
		errs []error
	}
}

// moveStats counts a pool's moves: Attempted every move, Moved those
// committed (Rebuilt of them rebuilt), Failed those that failed (moot
// moves are neither), Bytes written by the committed ones.
type moveStats struct {
	Attempted, Moved, Rebuilt, Failed, Bytes int64
}

func newMovePool(n int) *movePool {
	return &movePool{sem: make(chan struct{}, max(n, 1))}
}

// do runs f once a slot is free (blocking until then).
func (mp *movePool) do(ctx context.Context, f func()) error {
	select {
	case mp.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	mp.wg.Add(1)
	go func() {
		defer func() { <-mp.sem; mp.wg.Done() }()
		f()
	}()
	return nil
}

func (mp *movePool) wait() { mp.wg.Wait() }

// record counts one move's outcome.
func (mp *movePool) record(res moveResult, err error) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	mp.mu.st.Attempted++
	switch {
	case err == nil:
		mp.mu.st.Moved++
		mp.mu.st.Bytes += res.Bytes
		if res.Rebuilt {
			mp.mu.st.Rebuilt++
		}
	case errors.Is(err, errMoveMoot):
	default:
		mp.mu.st.Failed++
		if len(mp.mu.errs) < 5 {
			mp.mu.errs = append(mp.mu.errs, err)
		}
	}
}

func (mp *movePool) stats() moveStats {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	return mp.mu.st
}

// err summarises the failed moves (nil: none).
func (mp *movePool) err() error {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.mu.st.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%d shard moves failed: %w", mp.mu.st.Failed, errors.Join(mp.mu.errs...))
}
