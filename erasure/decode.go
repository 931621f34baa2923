package erasure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ShardOpener opens bytes [off, off+length) of shard file i (length < 0: to
// its end). Reading past the end of the file yields what exists. Decode and
// Rebuild call it concurrently from several goroutines and cancel ctx when
// they no longer need the stream; the ReadCloser is always closed. A reader
// that ignores ctx and blocks forever blocks the call: Decode and Rebuild
// return only after every shard reader goroutine has ended.
type ShardOpener func(ctx context.Context, i int, off, length int64) (io.ReadCloser, error)

// ReadOption adjusts how Decode and Rebuild choose shards.
type ReadOption func(*readOptions)

type readOptions struct {
	prefer func(i int) bool
	hedge  time.Duration
}

// HedgeAfter makes Decode and Rebuild give up on a shard whose next block
// has not arrived d after they started waiting for it, when another
// shard could stand in: the slow shard's stream is cancelled, it is not
// used again in this call, and the stripe is reconstructed from the
// others (parity included). A slow shard is not a bad one: it is listed
// in DecodeReport.Slow, not Bad, and is not healed. This bounds a read's
// wait on a peer that stopped answering (a stalled or partitioned node)
// to about d, instead of the connection's timeout. d <= 0 never hedges.
func HedgeAfter(d time.Duration) ReadOption {
	return func(o *readOptions) { o.hedge = d }
}

// errSlow marks a shard given up on for slowness (HedgeAfter).
var errSlow = errors.New("erasure: shard too slow; read around it")

// PreferShards makes reads that must open further shards (to reconstruct
// around bad ones) open those for which prefer(i) is true first, data
// shards before parity within each group. A node passes "shard i is on one
// of my drives", so reconstruction reads local shards before remote ones.
// Healthy reads always read the data shards: a systematic code needs no
// decode math for them.
func PreferShards(prefer func(i int) bool) ReadOption {
	return func(o *readOptions) { o.prefer = prefer }
}

// DecodeReport describes the shards a Decode or Rebuild found bad.
type DecodeReport struct {
	// Bad lists every shard found missing, unreadable, truncated or
	// corrupt, in the order found, at most once per shard. Healing should
	// rebuild them. Shards that were not read are not judged.
	Bad []ShardFault
	// Slow lists the shards given up on because they were slow
	// (HedgeAfter), in the order found. They are not bad.
	Slow []int
}

// Decode writes bytes [off, off+length) of the artifact whose total size is
// size to w (length < 0: to the end of the artifact).
//
// It reads only the stripes that hold the range and, within them, only the
// blocks it needs: all healthy data shards covering the range are read
// concurrently and copied out without decode math. Every block's checksum,
// every opened shard's header (shape and index) and, when the last stripe is
// read, the trailer (artifact size) are verified. A shard that fails to
// open, errors, is truncated or corrupt is lost for the rest of the read: the
// stripe is reconstructed from any Data verified blocks, opening further
// shards (data first, then parity) as needed. Fewer than Data usable shards
// for a stripe fails with an error wrapping ErrReadQuorum; the report lists
// every shard found bad either way.
//
// Bytes are written to w stripe by stripe as they are verified, so a failure
// in a later stripe can follow bytes already written.
func (c *Coder) Decode(ctx context.Context, w io.Writer, open ShardOpener, size, off, length int64, opts ...ReadOption) (DecodeReport, error) {
	if size < 0 || off < 0 || off > size {
		return DecodeReport{}, fmt.Errorf("%w: offset %d of an artifact of %d bytes", ErrInvalid, off, size)
	}
	if length < 0 {
		length = size - off
	}
	if length > size-off {
		return DecodeReport{}, fmt.Errorf("%w: range [%d, +%d) beyond artifact of %d bytes", ErrInvalid, off, length, size)
	}
	if w == nil || open == nil {
		return DecodeReport{}, fmt.Errorf("%w: nil writer or opener", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return DecodeReport{}, fmt.Errorf("erasure: decode: %w", err)
	}
	if length == 0 {
		return DecodeReport{}, nil
	}
	g := newGeometry(c.shape, size)
	stripe := c.shape.StripeSize()
	first, last := off/stripe, (off+length-1)/stripe
	a := newAssembly(ctx, c, g, open, last, -1, opts)
	defer a.cleanup()

	// need(s) marks the data shards holding bytes of the range in stripe s,
	// and returns the range's bounds within the stripe.
	need := make([]bool, c.shape.Shards())
	needed := func(s int64) (lo, hi int64) {
		start := g.stripeStart(s)
		lo = max(off, start) - start
		hi = min(off+length, start+g.dataLen(s)) - start
		blen := int64(g.blockLen(s))
		clear(need)
		for j := lo / blen; j <= (hi-1)/blen; j++ {
			need[j] = true
		}
		return lo, hi
	}
	// Start every data shard's reader at once, each over exactly the
	// stripes it holds range bytes in, so that they all read ahead
	// concurrently. Only the first and last stripes can need fewer than
	// all data shards.
	needed(first)
	from := make([]int64, c.shape.Data)
	for j := range from {
		from[j] = first
		if !need[j] {
			from[j] = first + 1
		}
	}
	needed(last)
	for j := range from {
		to := last
		if !need[j] {
			to = last - 1
		}
		if from[j] <= to {
			a.start(j, from[j], to)
		}
	}

	for s := first; s <= last; s++ {
		if err := ctx.Err(); err != nil {
			return a.report(), fmt.Errorf("erasure: decode: %w", err)
		}
		lo, hi := needed(s)
		if err := a.assemble(s, need); err != nil {
			return a.report(), err
		}
		blen := int64(g.blockLen(s))
		for p := lo; p < hi; {
			j, o := p/blen, p%blen
			n := min(hi-p, blen-o)
			if _, err := w.Write(a.shards[j][o : o+n]); err != nil {
				a.release()
				return a.report(), fmt.Errorf("erasure: decode: write: %w", err)
			}
			p += n
		}
		a.release()
	}
	return a.report(), nil
}

// Rebuild regenerates shard file index of an artifact of size bytes from
// the other shards and writes it to w, byte-identical to what Encode wrote.
// Shard index itself is never opened. It reads Data verified shards per
// stripe (data shards first), reconstructing around bad ones as Decode does,
// and fails with ErrReadQuorum when fewer than Data other shards are usable.
func (c *Coder) Rebuild(ctx context.Context, open ShardOpener, size int64, index int, w io.Writer, opts ...ReadOption) (DecodeReport, error) {
	if index < 0 || index >= c.shape.Shards() {
		return DecodeReport{}, fmt.Errorf("%w: shard index %d of %d", ErrInvalid, index, c.shape.Shards())
	}
	if size < 0 || w == nil || open == nil {
		return DecodeReport{}, fmt.Errorf("%w: size %d, nil writer or opener", ErrInvalid, size)
	}
	if err := ctx.Err(); err != nil {
		return DecodeReport{}, fmt.Errorf("erasure: rebuild: %w", err)
	}
	g := newGeometry(c.shape, size)
	a := newAssembly(ctx, c, g, open, g.stripes-1, index, opts)
	defer a.cleanup()

	hdr := marshalHeader(c.shape, index)
	if err := writeAll(w, hdr[:]); err != nil {
		return a.report(), fmt.Errorf("erasure: rebuild: write: %w", err)
	}
	need := make([]bool, c.shape.Shards())
	need[index] = true
	for s := int64(0); s < g.stripes; s++ {
		if err := ctx.Err(); err != nil {
			return a.report(), fmt.Errorf("erasure: rebuild: %w", err)
		}
		if err := a.assemble(s, need); err != nil {
			return a.report(), err
		}
		blen := g.blockLen(s)
		blk := a.shards[index]
		var out []byte
		if cap(blk) >= blen+checksumSize {
			out = blk[:blen+checksumSize]
		} else {
			out = append(make([]byte, 0, blen+checksumSize), blk...)[:blen+checksumSize]
		}
		putChecksum(out[blen:], out[:blen], checksumSeed(domainBlock, index, uint64(s)))
		err := writeAll(w, out)
		a.release()
		if err != nil {
			return a.report(), fmt.Errorf("erasure: rebuild: write: %w", err)
		}
	}
	tr := marshalTrailer(index, Trailer{Size: size, Stripes: g.stripes})
	if err := writeAll(w, tr[:]); err != nil {
		return a.report(), fmt.Errorf("erasure: rebuild: write: %w", err)
	}
	return a.report(), nil
}

// VerifyShard reads a whole shard file from r and verifies it as shard
// index of an artifact of size bytes: header (shape and index), every
// block's checksum, the trailer, and that nothing follows it. It is the
// scrubber's primitive; it holds one block in memory. Errors wrap
// ErrCorrupt, or are r's own error wrapped.
func (c *Coder) VerifyShard(ctx context.Context, r io.Reader, size int64, index int) error {
	if index < 0 || index >= c.shape.Shards() || size < 0 {
		return fmt.Errorf("%w: shard index %d, size %d", ErrInvalid, index, size)
	}
	g := newGeometry(c.shape, size)
	if err := c.checkHeader(r, index); err != nil {
		return err
	}
	buf := c.blocks.Get().(*[]byte)
	defer c.blocks.Put(buf)
	for s := int64(0); s < g.stripes; s++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("erasure: verify shard %d: %w", index, err)
		}
		if err := readBlock(r, g, index, s, (*buf)[:g.blockLen(s)+checksumSize]); err != nil {
			return err
		}
	}
	if err := checkTrailer(r, g, index); err != nil {
		return err
	}
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		return fmt.Errorf("%w: shard %d: bytes after the trailer", ErrCorrupt, index)
	case err != io.EOF:
		return fmt.Errorf("erasure: shard %d: read: %w", index, err)
	}
	return nil
}

// checkHeader reads the header from r and checks it names this coder's
// shape and shard index.
func (c *Coder) checkHeader(r io.Reader, index int) error {
	h, err := ReadHeader(r)
	if err != nil {
		return fmt.Errorf("erasure: shard %d: %w", index, err)
	}
	if h.Shape != c.shape || h.Index != index {
		return fmt.Errorf("%w: shard %d: header names shard %d of shape %v, want shard %d of %v",
			ErrCorrupt, index, h.Index, h.Shape, index, c.shape)
	}
	return nil
}

// readBlock reads stripe s's block of shard index and its checksum into b
// (len blockLen(s)+checksumSize) and verifies it.
func readBlock(r io.Reader, g geometry, index int, s int64, b []byte) error {
	if err := readFull(r, b, "block"); err != nil {
		return fmt.Errorf("erasure: shard %d stripe %d: %w", index, s, err)
	}
	blen := len(b) - checksumSize
	if !checksumOK(b[blen:], b[:blen], checksumSeed(domainBlock, index, uint64(s))) {
		return fmt.Errorf("%w: shard %d stripe %d: block checksum mismatch", ErrCorrupt, index, s)
	}
	return nil
}

// checkTrailer reads the trailer of shard index and checks it describes
// the artifact of geometry g.
func checkTrailer(r io.Reader, g geometry, index int) error {
	t, err := ReadTrailer(r, index)
	if err != nil {
		return fmt.Errorf("erasure: shard %d: %w", index, err)
	}
	if t.Size != g.size || t.Stripes != g.stripes {
		return fmt.Errorf("%w: shard %d: trailer says %d bytes in %d stripes, want %d in %d",
			ErrCorrupt, index, t.Size, t.Stripes, g.size, g.stripes)
	}
	return nil
}

// item is one verified block (or the error that ended a shard reader).
type item struct {
	s   int64
	buf *[]byte
	err error
}

// shardReader streams the verified blocks of stripes [from, to] of one
// shard from its own goroutine, up to readAhead blocks ahead.
type shardReader struct {
	index    int
	from, to int64
	items    chan item    // to the assembly, in stripe order; an error ends it
	free     chan *[]byte // buffers handed back by the assembly
	stop     chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc
	stopped  bool // assembly-only
	buffers  int  // reader-goroutine-only: buffers taken from the pool
}

// run is the reader goroutine.
func (r *shardReader) run(ctx context.Context, c *Coder, g geometry, open ShardOpener) {
	defer close(r.done)
	if err := r.read(ctx, c, g, open); err != nil {
		select {
		case r.items <- item{err: err}:
		case <-r.stop:
		}
	}
}

func (r *shardReader) read(ctx context.Context, c *Coder, g geometry, open ShardOpener) error {
	end := g.blockEnd(r.to)
	if r.to == g.stripes-1 {
		end += TrailerSize
	}
	var body io.Reader
	if r.from == 0 {
		rc, err := openShard(ctx, open, r.index, 0, end)
		if err != nil {
			return err
		}
		defer rc.Close()
		if err := c.checkHeader(rc, r.index); err != nil {
			return err
		}
		body = rc
	} else {
		// A range that starts past the first stripe still proves the
		// file is this shard: the header is read on its own.
		hrc, err := openShard(ctx, open, r.index, 0, HeaderSize)
		if err != nil {
			return err
		}
		err = c.checkHeader(hrc, r.index)
		hrc.Close()
		if err != nil {
			return err
		}
		start := g.blockOffset(r.from)
		rc, err := openShard(ctx, open, r.index, start, end-start)
		if err != nil {
			return err
		}
		defer rc.Close()
		body = rc
	}
	for s := r.from; s <= r.to; s++ {
		buf := r.buffer(c)
		if buf == nil {
			return nil // stopped
		}
		if err := readBlock(body, g, r.index, s, (*buf)[:g.blockLen(s)+checksumSize]); err != nil {
			r.free <- buf
			return err
		}
		if s == g.stripes-1 {
			if err := checkTrailer(body, g, r.index); err != nil {
				r.free <- buf
				return err
			}
		}
		select {
		case r.items <- item{s: s, buf: buf}:
		case <-r.stop:
			r.free <- buf
			return nil
		}
	}
	return nil
}

// buffer returns a block buffer, or nil once the reader is stopped.
func (r *shardReader) buffer(c *Coder) *[]byte {
	select {
	case b := <-r.free:
		return b
	default:
	}
	if r.buffers < readAhead {
		r.buffers++
		return c.blocks.Get().(*[]byte)
	}
	select {
	case b := <-r.free:
		return b
	case <-r.stop:
		return nil
	}
}

func openShard(ctx context.Context, open ShardOpener, i int, off, length int64) (io.ReadCloser, error) {
	rc, err := open(ctx, i, off, length)
	if err != nil {
		return nil, fmt.Errorf("erasure: open shard %d: %w", i, err)
	}
	if rc == nil {
		return nil, fmt.Errorf("erasure: open shard %d: opener returned no reader", i)
	}
	return rc, nil
}

// assembly gathers verified blocks stripe by stripe for Decode and Rebuild:
// it keeps at most one reader per shard, marks shards bad for the rest of
// the call, and reconstructs what a stripe needs from any Data good blocks.
// Only the calling goroutine uses it.
type assembly struct {
	ctx     context.Context
	c       *Coder
	g       geometry
	open    ShardOpener
	last    int64 // last stripe of the call
	exclude int   // shard never opened (Rebuild's target), or -1
	opts    readOptions

	readers []*shardReader // current reader per shard
	all     []*shardReader // every reader started, for cleanup
	faults  []error        // per shard, set once found bad (or slow)
	bad     []ShardFault   // faults in the order found, slow ones excepted
	slow    []int          // shards given up on for slowness
	hedgeAt time.Time      // when the blocks of the current round are late

	// Per stripe: blocks by shard, and the reader buffer behind each.
	shards   [][]byte
	held     []*[]byte
	owner    []*shardReader
	scratch  []*[]byte // per shard, for reconstructed blocks
	required []bool
}

func newAssembly(ctx context.Context, c *Coder, g geometry, open ShardOpener, last int64, exclude int, opts []ReadOption) *assembly {
	n := c.shape.Shards()
	var o readOptions
	for _, f := range opts {
		f(&o)
	}
	return &assembly{
		opts: o,
		ctx:  ctx, c: c, g: g, open: open, last: last, exclude: exclude,
		readers: make([]*shardReader, n), faults: make([]error, n),
		shards: make([][]byte, n), held: make([]*[]byte, n), owner: make([]*shardReader, n),
		scratch: make([]*[]byte, n), required: make([]bool, n),
	}
}

// start starts a reader of shard i over stripes [from, to], replacing the
// shard's current reader if any.
func (a *assembly) start(i int, from, to int64) {
	if old := a.readers[i]; old != nil {
		a.stop(old)
	}
	ctx, cancel := context.WithCancel(a.ctx)
	r := &shardReader{
		index: i, from: from, to: to,
		items:  make(chan item, readAhead),
		free:   make(chan *[]byte, readAhead),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	a.readers[i] = r
	a.all = append(a.all, r)
	go r.run(ctx, a.c, a.g, a.open)
}

func (a *assembly) stop(r *shardReader) {
	if !r.stopped {
		r.stopped = true
		close(r.stop)
		r.cancel()
	}
	if a.readers[r.index] == r {
		a.readers[r.index] = nil
	}
}

// receive takes stripe s's block from shard i's reader, or marks the shard
// bad, or slow (HedgeAfter) when another shard could stand in. Only a
// cancelled context is returned as an error.
func (a *assembly) receive(i int, s int64) error {
	r := a.readers[i]
	var it item
	select {
	case it = <-r.items:
	default:
		var hedge <-chan time.Time
		if a.opts.hedge > 0 && a.spare() {
			// One deadline for every shard of the round: several slow
			// shards cost one delay, not one each.
			t := time.NewTimer(time.Until(a.hedgeAt))
			defer t.Stop()
			hedge = t.C
		}
		select {
		case it = <-r.items:
		case <-a.ctx.Done():
			return fmt.Errorf("erasure: %w", a.ctx.Err())
		case <-hedge:
			a.faults[i] = errSlow
			a.slow = append(a.slow, i)
			a.stop(r)
			return nil
		}
	}
	if it.err != nil {
		if a.ctx.Err() != nil {
			return fmt.Errorf("erasure: %w", a.ctx.Err())
		}
		a.markBad(i, it.err)
		a.stop(r)
		return nil
	}
	if it.s != s {
		panic(fmt.Sprintf("erasure: shard %d reader delivered stripe %d for %d", i, it.s, s))
	}
	a.shards[i] = (*it.buf)[:a.g.blockLen(s)]
	a.held[i], a.owner[i] = it.buf, r
	return nil
}

// spare reports whether some shard is neither in use, nor lost, nor
// excluded: one that could stand in for a slow one.
func (a *assembly) spare() bool {
	for i := range a.faults {
		if i != a.exclude && a.faults[i] == nil && a.readers[i] == nil {
			return true
		}
	}
	return false
}

func (a *assembly) markBad(i int, err error) {
	if a.faults[i] == nil {
		a.faults[i] = err
		a.bad = append(a.bad, ShardFault{Index: i, Err: err})
	}
}

// assemble fills a.shards for stripe s so that every shard marked in need
// holds its verified or reconstructed block.
func (a *assembly) assemble(s int64, need []bool) error {
	k := a.c.shape.Data
	clear(a.shards)
	for i, n := range need {
		if n && a.faults[i] == nil && i != a.exclude {
			if r := a.readers[i]; r == nil || r.from > s || r.to < s {
				a.start(i, s, a.last)
			}
		}
	}
	// Take this stripe's block from every reader covering it, including
	// replacements opened for earlier stripes: they are read anyway.
	a.hedgeAt = time.Now().Add(a.opts.hedge)
	for i, r := range a.readers {
		if r != nil && r.from <= s && s <= r.to {
			if err := a.receive(i, s); err != nil {
				return err
			}
		}
	}
	missing := false
	for i, n := range need {
		if n && a.shards[i] == nil {
			missing = true
		}
	}
	if !missing {
		return nil // all needed blocks verified: no decode math
	}
	for {
		have := 0
		for _, b := range a.shards {
			if b != nil {
				have++
			}
		}
		if have >= k {
			break
		}
		// Open more shards from this stripe on: preferred (local) ones
		// first, and within each group data shards first (they are
		// needed again on the fast path), then parity.
		var cands []int
		for pass := 0; pass < 2; pass++ {
			for i := range a.shards {
				if len(cands) == k-have {
					break
				}
				preferred := a.opts.prefer == nil || a.opts.prefer(i)
				if preferred == (pass == 0) && i != a.exclude && a.faults[i] == nil && a.shards[i] == nil {
					cands = append(cands, i)
				}
			}
		}
		// Too few: wait for shards given up on as slow rather than fail.
		for i := range a.shards {
			if len(cands) < k-have && a.faults[i] == errSlow && a.shards[i] == nil {
				a.faults[i] = nil
				cands = append(cands, i)
			}
		}
		if len(cands) < k-have {
			err := fmt.Errorf("%w: stripe %d: %d of %d shards usable, %d needed",
				ErrReadQuorum, s, have+len(cands), a.c.shape.Shards(), k)
			return errors.Join(append([]error{err}, a.faultErrs()...)...)
		}
		for _, i := range cands {
			a.start(i, s, a.last)
		}
		a.hedgeAt = time.Now().Add(a.opts.hedge)
		for _, i := range cands {
			if err := a.receive(i, s); err != nil {
				return err
			}
		}
	}
	for i, n := range need {
		a.required[i] = n && a.shards[i] == nil
		if a.required[i] {
			if a.scratch[i] == nil {
				a.scratch[i] = a.c.blocks.Get().(*[]byte)
			}
			a.shards[i] = (*a.scratch[i])[:0]
		}
	}
	if err := a.c.enc.ReconstructSome(a.shards, a.required); err != nil {
		return fmt.Errorf("erasure: stripe %d: reconstruct: %w", s, err)
	}
	return nil
}

// release hands the stripe's reader buffers back to their readers.
func (a *assembly) release() {
	for i, b := range a.held {
		if b != nil {
			select {
			case a.owner[i].free <- b:
			default: // cannot happen: free holds every buffer of its reader
				a.c.blocks.Put(b)
			}
			a.held[i], a.owner[i] = nil, nil
		}
	}
}

// cleanup stops every reader, waits for its goroutine, and pools buffers.
func (a *assembly) cleanup() {
	a.release()
	for _, r := range a.all {
		a.stop(r)
	}
	for _, r := range a.all {
		<-r.done
		for drained := false; !drained; {
			select {
			case it := <-r.items:
				if it.buf != nil {
					a.c.blocks.Put(it.buf)
				}
			case b := <-r.free:
				a.c.blocks.Put(b)
			default:
				drained = true
			}
		}
	}
	for i, b := range a.scratch {
		if b != nil {
			a.c.blocks.Put(b)
			a.scratch[i] = nil
		}
	}
}

func (a *assembly) report() DecodeReport {
	return DecodeReport{Bad: append([]ShardFault(nil), a.bad...), Slow: append([]int(nil), a.slow...)}
}

func (a *assembly) faultErrs() []error {
	errs := make([]error, len(a.bad))
	for i, f := range a.bad {
		errs[i] = f.Err
	}
	return errs
}
