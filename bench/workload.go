package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// keyState is what the tool knows of one key of the get/mixed key space.
type keyState uint8

const (
	keyMissing keyState = iota
	keyPresent
	// keyUnknown: a PUT or DELETE failed, so the key may hold either
	// version; it is not read until a PUT succeeds on it again.
	keyUnknown
)

// keySlot is one key of the key space. In the mixed workload a worker
// holds mu for the whole operation, so each key sees one operation at a
// time and every read can be verified exactly (read-after-write,
// overwrite and delete consistency are checked, not assumed).
type keySlot struct {
	mu    sync.Mutex
	state keyState
	size  int64
	gen   uint64
}

func (r *runner) keyName(i int) string  { return fmt.Sprintf("%sobj/%08d", r.prefix, i) }
func (r *runner) listPrefix() string    { return r.prefix + "list/" }
func (r *runner) listName(i int) string { return fmt.Sprintf("%s%08d", r.listPrefix(), i) }

// prepareAll writes n artifacts (name(i), generation gens[i], size
// sizes[i]) with cfg.Concurrency workers. It stops at the first failure.
func (r *runner) prepareAll(ctx context.Context, n int, name func(int) string, gens []uint64, sizes []int64) error {
	r.prepTotal = int64(n)
	r.phase.Store("prepare") // publishes prepTotal
	r.cfg.Logger.Info("preparing artifacts", "count", n, "size", r.cfg.Size.String())
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.cfg.Concurrency, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				octx, ocancel := r.opCtx(ctx)
				err := r.put(octx, name(i), gens[i], sizes[i])
				ocancel()
				if err != nil {
					cancel(fmt.Errorf("%w: PUT %s: %w", ErrPrepare, name(i), err))
					return
				}
				r.prepared.Add(1)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// drawSizes returns n sizes and fresh generations, deterministic in the
// run's seed.
func (r *runner) drawSizes(n int) ([]uint64, []int64) {
	rng := rand.New(rand.NewPCG(r.seed, 0))
	gens := make([]uint64, n)
	sizes := make([]int64, n)
	for i := range n {
		gens[i] = r.gen.Add(1)
		sizes[i] = r.cfg.Size.Draw(rng)
	}
	return gens, sizes
}

func (r *runner) prepareKeys(ctx context.Context) error {
	n := r.cfg.Keys
	gens, sizes := r.drawSizes(n)
	if err := r.prepareAll(ctx, n, r.keyName, gens, sizes); err != nil {
		return err
	}
	r.keys = make([]keySlot, n)
	for i := range r.keys {
		r.keys[i].state = keyPresent
		r.keys[i].gen = gens[i]
		r.keys[i].size = sizes[i]
	}
	return nil
}

func (r *runner) prepareList(ctx context.Context) error {
	n := r.cfg.Keys
	gens, sizes := r.drawSizes(n)
	if err := r.prepareAll(ctx, n, r.listName, gens, sizes); err != nil {
		return err
	}
	r.listKeys = make([]string, n)
	for i := range r.listKeys {
		r.listKeys[i] = r.listName(i)
	}
	return nil
}

// opGetStatic reads a random prepared key (get workload: the key space
// never changes, so no locking).
func (r *runner) opGetStatic(ctx context.Context, w *workerState) {
	i := w.rng.IntN(len(r.keys))
	s := &r.keys[i]
	octx, cancel := r.opCtx(ctx)
	start := time.Now()
	ttfb, err := r.get(octx, w, r.keyName(i), s.gen, s.size, start)
	end := time.Now()
	cancel()
	r.record(w, OpGet, start, end, s.size, ttfb, err)
}

// pickProbes is how many random keys a worker tries before drawing
// another op; pickPreferMissing of them insist on a key that is not
// present when the op is a PUT (so PUTs refill deleted keys and the key
// space stays near full).
const (
	pickProbes        = 32
	pickPreferMissing = 8
)

// pickSlot locks a random key fit for op, or returns -1.
func (r *runner) pickSlot(w *workerState, op Op) int {
	for probe := range pickProbes {
		i := w.rng.IntN(len(r.keys))
		s := &r.keys[i]
		if !s.mu.TryLock() {
			continue
		}
		ok := false
		switch op {
		case OpPut:
			ok = s.state != keyPresent || probe >= pickPreferMissing
		default:
			ok = s.state == keyPresent
		}
		if ok {
			return i
		}
		s.mu.Unlock()
	}
	return -1
}

// opMixed draws an op from the mix and runs it on a fitting key. When no
// key fits (all busy, or none present for a read), it draws again.
func (r *runner) opMixed(ctx context.Context, w *workerState) {
	var op Op
	i := -1
	for i < 0 {
		if ctx.Err() != nil || r.stopped.Load() || (!r.deadline.IsZero() && !time.Now().Before(r.deadline)) {
			return
		}
		op = w.chooser.choose(w.rng)
		if i = r.pickSlot(w, op); i < 0 {
			yield()
		}
	}
	s := &r.keys[i]
	defer s.mu.Unlock()
	key := r.keyName(i)
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	start := time.Now()
	switch op {
	case OpGet:
		ttfb, err := r.get(octx, w, key, s.gen, s.size, start)
		r.record(w, OpGet, start, time.Now(), s.size, ttfb, err)
	case OpStat:
		out, err := r.client.HeadObject(octx, &s3.HeadObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
		end := time.Now()
		if err == nil && aws.ToInt64(out.ContentLength) != s.size {
			err = fmt.Errorf("HEAD %s: %w: length %d, wrote %d", key, ErrVerifySize, aws.ToInt64(out.ContentLength), s.size)
		}
		r.record(w, OpStat, start, end, 0, 0, err)
	case OpPut:
		gen := r.gen.Add(1)
		size := r.cfg.Size.Draw(w.rng)
		err := r.put(octx, key, gen, size)
		r.record(w, OpPut, start, time.Now(), size, 0, err)
		if err != nil {
			s.state = keyUnknown
		} else {
			s.state, s.gen, s.size = keyPresent, gen, size
		}
	case OpDelete:
		_, err := r.client.DeleteObject(octx, &s3.DeleteObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
		r.record(w, OpDelete, start, time.Now(), 0, 0, err)
		if err != nil {
			s.state = keyUnknown
		} else {
			s.state = keyMissing
		}
	}
}

// opList fetches the next page of the worker's walk over the list prefix
// and checks that the walk returns exactly the prepared keys, in order.
func (r *runner) opList(ctx context.Context, w *workerState) {
	octx, cancel := r.opCtx(ctx)
	start := time.Now()
	out, err := r.client.ListObjectsV2(octx, &s3.ListObjectsV2Input{
		Bucket:            aws.String(r.bucket),
		Prefix:            aws.String(r.listPrefix()),
		MaxKeys:           aws.Int32(int32(r.cfg.ListPageSize)),
		ContinuationToken: w.listToken,
	})
	end := time.Now()
	cancel()
	if err == nil {
		err = r.checkListPage(w, out)
	}
	if err != nil || !aws.ToBool(out.IsTruncated) {
		w.listToken, w.listPos = nil, 0
	}
	r.record(w, OpList, start, end, 0, 0, err)
}

func (r *runner) checkListPage(w *workerState, out *s3.ListObjectsV2Output) error {
	for _, o := range out.Contents {
		k := aws.ToString(o.Key)
		if w.listPos >= len(r.listKeys) {
			return fmt.Errorf("%w: unexpected key %q after all %d keys", ErrVerifyList, k, len(r.listKeys))
		}
		if want := r.listKeys[w.listPos]; k != want {
			return fmt.Errorf("%w: key %d is %q, want %q", ErrVerifyList, w.listPos, k, want)
		}
		w.listPos++
	}
	if !aws.ToBool(out.IsTruncated) {
		if w.listPos != len(r.listKeys) {
			return fmt.Errorf("%w: listing ended after %d of %d keys", ErrVerifyList, w.listPos, len(r.listKeys))
		}
		return nil
	}
	if aws.ToString(out.NextContinuationToken) == "" {
		return fmt.Errorf("%w: truncated page without a continuation token", ErrVerifyList)
	}
	w.listToken = out.NextContinuationToken
	return nil
}
