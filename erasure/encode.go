package erasure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// EncodeResult describes a finished Encode.
type EncodeResult struct {
	// Size is the number of artifact bytes read and encoded.
	Size int64
	// Failed lists the shards that were lost (nil writer, or a writer that
	// returned an error), by increasing index. Their files are incomplete
	// and must not be committed; healing rebuilds them later.
	Failed []ShardFault
}

// stripeBuf holds one stripe in flight: Data+Parity regions of
// BlockSize+checksumSize bytes, each a shard's block followed by room for
// its checksum, so that a writer hands block and checksum to one Write.
type stripeBuf struct {
	regions [][]byte
	blocks  [][]byte // regions cut to blen, for Reed-Solomon
	seq     int64
	blen    int
	refs    atomic.Int32
}

func newStripeBuf(s Shape) *stripeBuf {
	n, size := s.Shards(), s.BlockSize+checksumSize
	buf := make([]byte, n*size)
	st := &stripeBuf{regions: make([][]byte, n), blocks: make([][]byte, n)}
	for i := range st.regions {
		st.regions[i] = buf[i*size : (i+1)*size : (i+1)*size]
	}
	return st
}

// Encode reads r to EOF and writes Data+Parity shard files, shards[i]
// receiving shard i's file: header, checksummed blocks, trailer (doc.go).
//
// A nil writer, or a writer that returns an error, is a lost shard: encoding
// goes on while at least quorum writers are healthy (quorum must be between
// Data and Data+Parity), otherwise it stops with an error wrapping
// ErrWriteQuorum. The result lists every lost shard either way.
//
// An error reading r, including a non-EOF error after the last byte, aborts
// Encode and is returned wrapped, so the caller can refuse to commit; so
// does ctx's cancellation. After an error the shard files are incomplete.
//
// Each writer is used by its own goroutine, so writers proceed concurrently;
// at most pipelineDepth stripes are in memory. Encode returns only after
// every writer goroutine has finished, so no Write is in progress or follows
// once it has returned; a writer that blocks forever blocks Encode (writers
// should honour ctx, as drivers do).
func (c *Coder) Encode(ctx context.Context, r io.Reader, shards []io.Writer, quorum int) (EncodeResult, error) {
	s := c.shape
	var res EncodeResult
	if len(shards) != s.Shards() {
		return res, fmt.Errorf("%w: %d shard writers for shape %v", ErrInvalid, len(shards), s)
	}
	if quorum < s.Data || quorum > s.Shards() {
		return res, fmt.Errorf("%w: write quorum %d outside [%d, %d]", ErrInvalid, quorum, s.Data, s.Shards())
	}
	if r == nil {
		return res, fmt.Errorf("%w: nil artifact reader", ErrInvalid)
	}
	e := &encodeRun{c: c, faults: make([]error, s.Shards()), free: make(chan *stripeBuf, pipelineDepth)}
	live := 0
	for i, w := range shards {
		if w == nil {
			e.faults[i] = fmt.Errorf("%w %d", ErrNoWriter, i)
			continue
		}
		live++
	}
	e.healthy.Store(int32(live))
	if live < quorum {
		res.Failed = e.failed()
		return res, fmt.Errorf("%w: %d of %d shard writers present, quorum %d", ErrWriteQuorum, live, s.Shards(), quorum)
	}
	if err := ctx.Err(); err != nil {
		res.Failed = e.failed()
		return res, fmt.Errorf("erasure: encode: %w", err)
	}

	// Three stages, each on its own goroutine(s), linked by channels that
	// never block (only pipelineDepth stripes exist): this goroutine reads
	// the artifact into stripe buffers, the coder computes parity, and one
	// writer per shard checksums and writes its block. Reading stripe n+1,
	// coding stripe n and writing stripe n-1 overlap.
	chans := make([]chan *stripeBuf, s.Shards())
	var wg sync.WaitGroup
	for i, w := range shards {
		if w == nil {
			continue
		}
		chans[i] = make(chan *stripeBuf, pipelineDepth)
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.write(i, w, chans[i])
		}()
	}
	e.writers = int32(live)
	coded := make(chan *stripeBuf, pipelineDepth)
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.code(coded, chans)
	}()

	err := e.produce(ctx, r, coded, quorum)
	if err != nil {
		e.aborted.Store(true)
	} else {
		e.complete = true // published to the writers through the channel closes
	}
	close(coded)
	wg.Wait()
	e.recycle()
	if err == nil && e.codeErr != nil {
		err = e.codeErr
	}

	res.Size = e.size
	res.Failed = e.failed()
	if err != nil && err != errQuorumLost {
		return res, err
	}
	if h := int(e.healthy.Load()); h < quorum || err != nil {
		return res, fmt.Errorf("%w: %d of %d shard writers healthy, quorum %d: %w",
			ErrWriteQuorum, h, s.Shards(), quorum, e.faultErr())
	}
	return res, nil
}

// encodeRun is the state of one Encode call.
type encodeRun struct {
	c       *Coder
	free    chan *stripeBuf
	all     []*stripeBuf // every stripe buffer taken from the pool
	writers int32        // writer goroutines: every stripe is handed to each
	healthy atomic.Int32 // writers that have not failed
	aborted atomic.Bool  // writers skip all further writes

	// Set by the producer before it closes the coder's channel.
	size     int64
	stripes  int64
	complete bool
	// Set by the coder; read after it has finished.
	codeErr error

	// faults[i] is written only by shard i's writer goroutine (or before
	// they start) and read after they have all finished.
	faults []error
}

// produce reads the artifact stripe by stripe into free stripe buffers and
// hands them to the coder. It returns nil when r is exhausted.
func (e *encodeRun) produce(ctx context.Context, r io.Reader, coded chan<- *stripeBuf, quorum int) error {
	s := e.c.shape
	stripeSize := s.StripeSize()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("erasure: encode: %w", err)
		}
		if h := int(e.healthy.Load()); h < quorum {
			return errQuorumLost
		}
		if e.aborted.Load() {
			return nil // the coder failed; Encode returns its error
		}
		st, err := e.stripe(ctx)
		if err != nil {
			return err
		}
		n, eof, err := fill(r, st, s)
		e.size += n
		if err != nil {
			e.free <- st
			return fmt.Errorf("erasure: read artifact: %w", err)
		}
		if n == 0 {
			e.free <- st
			break
		}
		st.blen = s.BlockSize
		if n < stripeSize {
			st.blen = relayout(st, s, n)
		}
		st.seq = e.stripes
		e.stripes++
		coded <- st
		if eof {
			break
		}
	}
	return nil
}

// code is the coder goroutine: it computes each stripe's parity and hands
// the stripe to every writer; when coded is closed it closes the writers'
// channels, publishing what the producer set before closing coded.
func (e *encodeRun) code(coded <-chan *stripeBuf, chans []chan *stripeBuf) {
	defer func() {
		for _, ch := range chans {
			if ch != nil {
				close(ch)
			}
		}
	}()
	parity := e.c.shape.Parity > 0
	for st := range coded {
		for i := range st.blocks {
			st.blocks[i] = st.regions[i][:st.blen]
		}
		if parity && !e.aborted.Load() {
			if err := e.c.enc.Encode(st.blocks); err != nil {
				e.codeErr = fmt.Errorf("erasure: reed-solomon encode: %w", err)
				e.aborted.Store(true)
			}
		}
		st.refs.Store(e.writers)
		for _, ch := range chans {
			if ch != nil {
				ch <- st
			}
		}
	}
}

// stripe returns a free stripe buffer, taking a new one from the pool while
// fewer than pipelineDepth are in use.
func (e *encodeRun) stripe(ctx context.Context) (*stripeBuf, error) {
	select {
	case st := <-e.free:
		return st, nil
	default:
	}
	if len(e.all) < pipelineDepth {
		st := e.c.stripes.Get().(*stripeBuf)
		e.all = append(e.all, st)
		return st, nil
	}
	select {
	case st := <-e.free:
		return st, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("erasure: encode: %w", ctx.Err())
	}
}

// recycle returns the stripe buffers to the pool; every writer has finished.
func (e *encodeRun) recycle() {
	for _, st := range e.all {
		e.c.stripes.Put(st)
	}
	e.all = nil
}

// release drops one writer's reference to st.
func (e *encodeRun) release(st *stripeBuf) {
	if st.refs.Add(-1) == 0 {
		e.free <- st // cannot block: free holds every buffer
	}
}

// write is shard i's writer goroutine: header, one block per stripe
// received, and the trailer once the producer has finished successfully.
func (e *encodeRun) write(i int, w io.Writer, ch <-chan *stripeBuf) {
	var err error
	fail := func(what string, werr error) {
		err = fmt.Errorf("erasure: write shard %d %s: %w", i, what, werr)
		e.healthy.Add(-1)
	}
	hdr := marshalHeader(e.c.shape, i)
	if werr := writeAll(w, hdr[:]); werr != nil {
		fail("header", werr)
	}
	for st := range ch {
		if err == nil && !e.aborted.Load() {
			region := st.regions[i][:st.blen+checksumSize]
			putChecksum(region[st.blen:], region[:st.blen], checksumSeed(domainBlock, i, uint64(st.seq)))
			if werr := writeAll(w, region); werr != nil {
				fail(fmt.Sprintf("block %d", st.seq), werr)
			}
		}
		e.release(st)
	}
	if err == nil && e.complete && !e.aborted.Load() {
		tr := marshalTrailer(i, Trailer{Size: e.size, Stripes: e.stripes})
		if werr := writeAll(w, tr[:]); werr != nil {
			fail("trailer", werr)
		}
	}
	e.faults[i] = err
}

func (e *encodeRun) failed() []ShardFault {
	var out []ShardFault
	for i, err := range e.faults {
		if err != nil {
			out = append(out, ShardFault{Index: i, Err: err})
		}
	}
	return out
}

// faultErr joins the writers' errors; only once they have all finished.
func (e *encodeRun) faultErr() error { return errors.Join(e.faults...) }

// errQuorumLost tells Encode that produce stopped because too few writers
// stayed healthy; Encode words the error once the writers have finished.
var errQuorumLost = errors.New("erasure: internal: write quorum lost")

func writeAll(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// fill reads up to one stripe of artifact bytes into the data regions of st,
// BlockSize bytes per region. eof reports that r ended (io.EOF) within or
// right after these bytes; any other error of r, io.ErrUnexpectedEOF
// included, is returned as it is.
func fill(r io.Reader, st *stripeBuf, s Shape) (n int64, eof bool, err error) {
	for j := 0; j < s.Data; j++ {
		b := st.regions[j][:s.BlockSize]
		got, zero := 0, 0
		for got < len(b) {
			m, err := r.Read(b[got:])
			got += m
			n += int64(m)
			if err == io.EOF {
				return n, true, nil
			}
			if err != nil {
				return n, false, err
			}
			if m == 0 {
				if zero++; zero >= 100 {
					return n, false, io.ErrNoProgress
				}
			}
		}
	}
	return n, false, nil
}

// relayout rearranges the n (< Data*BlockSize) bytes of a last, short stripe
// — read BlockSize per region — so that each data shard holds
// ceil(n/Data) bytes, zero-padding the end, and returns that block length.
//
// Byte p moves from region p/BlockSize to region p/blen; its target never
// precedes its source (blen <= BlockSize), so moving runs from the end
// backwards never overwrites a byte not yet moved.
func relayout(st *stripeBuf, s Shape, n int64) int {
	bs := int64(s.BlockSize)
	blen := (n + int64(s.Data) - 1) / int64(s.Data)
	for p := n; p > 0; {
		start := max(((p-1)/bs)*bs, ((p-1)/blen)*blen)
		src := st.regions[start/bs][start%bs : start%bs+(p-start)]
		dst := st.regions[start/blen][start%blen : start%blen+(p-start)]
		copy(dst, src)
		p = start
	}
	for j := 0; j < s.Data; j++ {
		used := min(max(n-int64(j)*blen, 0), blen)
		clear(st.regions[j][used:blen])
	}
	return int(blen)
}
