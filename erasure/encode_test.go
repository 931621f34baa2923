package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
)

var errWrite = errors.New("test: drive failed")

// failingWriter accepts after bytes and then fails every write.
type failingWriter struct {
	buf   bytes.Buffer
	after int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.after {
		n := w.after - w.buf.Len()
		w.buf.Write(p[:n])
		return n, errWrite
	}
	return w.buf.Write(p)
}

// shortWriter reports a short write without an error.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

// TestEncodeWriteQuorum loses writers in every way (nil, failing at the
// header, in a block, at the trailer, short writes) while the quorum holds
// and when it breaks.
func TestEncodeWriteQuorum(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	data := randBytes(1, int(3*s.StripeSize()+5))
	size := int64(len(data))
	fsize := int(ShardFileSize(s, size))
	failAt := []int{0, 10, HeaderSize, HeaderSize + 30, fsize / 2, fsize - 1}
	for _, quorum := range []int{4, 5, 6} {
		for lose := 0; lose <= s.Shards(); lose++ {
			for variant := range 7 {
				t.Run(fmt.Sprintf("q%d/lose%d/v%d", quorum, lose, variant), func(t *testing.T) {
					ws := make([]io.Writer, s.Shards())
					bufs := make([]*bytes.Buffer, s.Shards())
					var lost []int
					for i := range ws {
						if i >= variant%s.Shards() && len(lost) < lose {
							lost = append(lost, i)
							switch variant % 3 {
							case 0:
								ws[i] = nil
							case 1:
								fw := &failingWriter{after: failAt[(i+variant)%len(failAt)]}
								ws[i], bufs[i] = fw, &fw.buf
							case 2:
								ws[i] = shortWriter{}
							}
							continue
						}
						bufs[i] = new(bytes.Buffer)
						ws[i] = bufs[i]
					}
					for i := 0; len(lost) < lose; i++ { // wrap around
						if !slices.Contains(lost, i) {
							lost = append(lost, i)
							ws[i] = nil
						}
					}
					res, err := c.Encode(context.Background(), bytes.NewReader(data), ws, quorum)
					var failed []int
					for _, f := range res.Failed {
						failed = append(failed, f.Index)
						if ws[f.Index] == nil && !errors.Is(f.Err, ErrNoWriter) {
							t.Fatalf("nil writer %d fault %v", f.Index, f.Err)
						}
						if fw, ok := ws[f.Index].(*failingWriter); ok && !errors.Is(f.Err, errWrite) {
							t.Fatalf("failing writer %d fault %v (after %d)", f.Index, f.Err, fw.after)
						}
						if _, ok := ws[f.Index].(shortWriter); ok && !errors.Is(f.Err, io.ErrShortWrite) {
							t.Fatalf("short writer %d fault %v", f.Index, f.Err)
						}
					}
					slices.Sort(lost)
					if s.Shards()-lose < quorum {
						if !errors.Is(err, ErrWriteQuorum) {
							t.Fatalf("lost %v of quorum %d: err %v, want ErrWriteQuorum", lost, quorum, err)
						}
						// Every writer lost so far is listed.
						for _, i := range failed {
							if !slices.Contains(lost, i) {
								t.Fatalf("healthy writer %d listed as failed", i)
							}
						}
						return
					}
					if err != nil {
						t.Fatalf("lost %v of quorum %d: %v", lost, quorum, err)
					}
					if !slices.Equal(failed, lost) || res.Size != size {
						t.Fatalf("result %+v, want failed %v size %d", res, lost, size)
					}
					// What was written decodes, the lost shards being bad.
					files := make([][]byte, s.Shards())
					for i, b := range bufs {
						if b != nil {
							files[i] = b.Bytes()
						}
					}
					got, rep, err := decodeRange(t, c, newStore(files), size, 0, -1)
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("decode after losing %v: %v", lost, err)
					}
					for _, f := range rep.Bad {
						if !slices.Contains(lost, f.Index) {
							t.Fatalf("healthy shard %d reported: %v", f.Index, f.Err)
						}
					}
				})
			}
		}
	}
}

func TestEncodeArguments(t *testing.T) {
	s := Shape{2, 1, 64}
	c := mustCoder(t, s)
	ws := []io.Writer{io.Discard, io.Discard, io.Discard}
	for _, q := range []int{-1, 0, 1, 4} {
		if _, err := c.Encode(context.Background(), bytes.NewReader(nil), ws, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("quorum %d: %v, want ErrInvalid", q, err)
		}
	}
	if _, err := c.Encode(context.Background(), bytes.NewReader(nil), ws[:2], 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("2 writers: %v, want ErrInvalid", err)
	}
	if _, err := c.Encode(context.Background(), nil, ws, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil reader: %v, want ErrInvalid", err)
	}
}

var errSource = errors.New("test: client went away")

// errAtEnd yields data and then, instead of io.EOF, err — in the same Read
// as the last bytes when together is set.
type errAtEnd struct {
	data     []byte
	err      error
	together bool
}

func (r *errAtEnd) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 && (r.together || n == 0) {
		return n, r.err
	}
	return n, nil
}

// TestEncodeReaderError aborts on any non-EOF error of the artifact reader,
// wherever it comes, io.ErrUnexpectedEOF (a truncated HTTP body) included.
func TestEncodeReaderError(t *testing.T) {
	s := Shape{3, 2, 64}
	c := mustCoder(t, s)
	for _, size := range []int{0, 1, 64, 191, 192, 193, 1000} {
		for _, together := range []bool{false, true} {
			for _, srcErr := range []error{errSource, io.ErrUnexpectedEOF} {
				data := randBytes(uint64(size), size)
				ws := make([]io.Writer, s.Shards())
				for i := range ws {
					ws[i] = io.Discard
				}
				_, err := c.Encode(context.Background(), &errAtEnd{data: data, err: srcErr, together: together}, ws, s.Shards())
				if !errors.Is(err, srcErr) {
					t.Errorf("size %d together %v: Encode = %v, want %v", size, together, err, srcErr)
				}
			}
		}
	}
	// Mid-stream too: the error arrives after 100 of 1000 bytes.
	ws := []io.Writer{io.Discard, io.Discard, io.Discard, io.Discard, io.Discard}
	r := io.MultiReader(bytes.NewReader(randBytes(1, 100)), &errAtEnd{err: errSource})
	if _, err := c.Encode(context.Background(), r, ws, 5); !errors.Is(err, errSource) {
		t.Errorf("mid-stream: Encode = %v", err)
	}
}

// cancelAfter cancels a context once n bytes have been read through it.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestEncodeContext(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	ws := make([]io.Writer, 6)
	for i := range ws {
		ws[i] = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Encode(ctx, bytes.NewReader(randBytes(1, 10)), ws, 6); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r := &cancelAfter{r: bytes.NewReader(randBytes(1, 100000)), n: 3000, cancel: cancel}
	res, err := c.Encode(ctx, r, ws, 6)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mid-stream: %v", err)
	}
	if res.Size >= 100000 {
		t.Fatalf("cancelled mid-stream read everything: %d", res.Size)
	}
}

// gatedWriter blocks its first block write until open is closed.
type gatedWriter struct {
	open   <-chan struct{}
	writes int
	buf    bytes.Buffer
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	if w.writes++; w.writes == 2 { // 1 is the header
		<-w.open
	}
	return w.buf.Write(p)
}

// countingWriter closes reached once it has taken n writes.
type countingWriter struct {
	mu      sync.Mutex
	writes  int
	n       int
	reached chan struct{}
	buf     bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.writes++; w.writes == w.n {
		close(w.reached)
	}
	return w.buf.Write(p)
}

// TestEncodeWritersConcurrent proves the writers are not serialised: shard
// 0's writer blocks inside its first block write until every other writer
// has written header and pipelineDepth blocks, which can only happen while
// it is blocked. A serialised pipeline would deadlock here.
func TestEncodeWritersConcurrent(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	data := randBytes(2, int(10*s.StripeSize()))
	open := make(chan struct{})
	gated := &gatedWriter{open: open}
	ws := []io.Writer{gated}
	var others []*countingWriter
	for range s.Shards() - 1 {
		w := &countingWriter{n: 1 + pipelineDepth, reached: make(chan struct{})}
		others = append(others, w)
		ws = append(ws, w)
	}
	go func() {
		for _, w := range others {
			<-w.reached
		}
		close(open)
	}()
	if _, err := c.Encode(context.Background(), bytes.NewReader(data), ws, s.Shards()); err != nil {
		t.Fatal(err)
	}
	files := [][]byte{gated.buf.Bytes()}
	for _, w := range others {
		files = append(files, w.buf.Bytes())
	}
	if want := encode(t, c, data); !slices.EqualFunc(files, want, bytes.Equal) {
		t.Fatal("shard files differ from a plain encode")
	}
}

// TestPaddingZeroed: the padding of a short last stripe is zero, never
// bytes of an earlier artifact left in a pooled stripe buffer (which would
// leak one tenant's data into another's shard files and make encoding
// depend on history).
func TestPaddingZeroed(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	encode(t, c, randBytes(1, int(10*s.StripeSize()))) // dirty the pool
	for _, size := range []int{1, 65, 200, int(s.StripeSize()) + 3} {
		data := randBytes(uint64(size), size)
		files := encode(t, c, data)
		g := newGeometry(s, int64(size))
		last := g.stripes - 1
		for j := range s.Data {
			used := min(max(g.lastData-int64(j)*int64(g.lastLen), 0), int64(g.lastLen))
			blk := files[j][g.blockOffset(last) : g.blockOffset(last)+int64(g.lastLen)]
			for p, v := range blk[used:] {
				if v != 0 {
					t.Fatalf("size %d: shard %d padding byte %d = %#x", size, j, p, v)
				}
			}
		}
		if !slices.EqualFunc(files, encode(t, mustCoder(t, s), data), bytes.Equal) {
			t.Fatalf("size %d: encoding depends on the coder's history", size)
		}
	}
}
