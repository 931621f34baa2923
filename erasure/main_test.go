package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// errLost is what the test opener returns for a shard that is absent.
var errLost = errors.New("test: shard lost")

// testShapes is the (k, m) table every behaviour is checked on.
var testShapes = []struct{ k, m int }{
	{1, 0}, {1, 1}, {2, 1}, {2, 2}, {4, 2}, {3, 3}, {8, 4}, {12, 4},
}

func randBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func mustCoder(t testing.TB, s Shape) *Coder {
	t.Helper()
	c, err := NewCoder(s)
	if err != nil {
		t.Fatalf("NewCoder(%v): %v", s, err)
	}
	return c
}

// encode encodes data with every shard healthy and returns the shard files.
func encode(t testing.TB, c *Coder, data []byte) [][]byte {
	t.Helper()
	s := c.Shape()
	bufs := make([]*bytes.Buffer, s.Shards())
	ws := make([]io.Writer, s.Shards())
	for i := range bufs {
		bufs[i] = new(bytes.Buffer)
		ws[i] = bufs[i]
	}
	res, err := c.Encode(context.Background(), bytes.NewReader(data), ws, s.Shards())
	if err != nil {
		t.Fatalf("Encode %v size %d: %v", s, len(data), err)
	}
	if res.Size != int64(len(data)) || len(res.Failed) != 0 {
		t.Fatalf("Encode %v size %d: result %+v", s, len(data), res)
	}
	files := make([][]byte, len(bufs))
	want := ShardFileSize(s, int64(len(data)))
	for i, b := range bufs {
		files[i] = b.Bytes()
		if int64(len(files[i])) != want {
			t.Fatalf("Encode %v size %d: shard %d is %d bytes, ShardFileSize says %d", s, len(data), i, len(files[i]), want)
		}
	}
	return files
}

// store is an in-memory set of shard files behind a ShardOpener, with
// lost shards and a record of every open.
type store struct {
	mu    sync.Mutex
	files [][]byte
	lost  map[int]bool
	opens []openCall
	// hook, when set, wraps each opened reader.
	hook func(i int, r io.Reader) io.Reader
}

type openCall struct {
	index       int
	off, length int64
}

func newStore(files [][]byte) *store {
	return &store{files: files, lost: map[int]bool{}}
}

func (st *store) open(ctx context.Context, i int, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.opens = append(st.opens, openCall{i, off, length})
	if st.lost[i] || st.files[i] == nil {
		return nil, fmt.Errorf("shard %d: %w", i, errLost)
	}
	f := st.files[i]
	if off > int64(len(f)) {
		off = int64(len(f))
	}
	end := int64(len(f))
	if length >= 0 && off+length < end {
		end = off + length
	}
	var r io.Reader = bytes.NewReader(f[off:end])
	if st.hook != nil {
		r = st.hook(i, r)
	}
	return io.NopCloser(r), nil
}

func (st *store) calls() []openCall {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]openCall(nil), st.opens...)
}

func decodeRange(t testing.TB, c *Coder, st *store, size, off, length int64) ([]byte, DecodeReport, error) {
	t.Helper()
	var out bytes.Buffer
	rep, err := c.Decode(context.Background(), &out, st.open, size, off, length)
	return out.Bytes(), rep, err
}

func rebuild(t testing.TB, c *Coder, st *store, size int64, index int) ([]byte, DecodeReport, error) {
	t.Helper()
	var out bytes.Buffer
	rep, err := c.Rebuild(context.Background(), st.open, size, index, &out)
	return out.Bytes(), rep, err
}

func cloneFiles(files [][]byte) [][]byte {
	out := make([][]byte, len(files))
	for i, f := range files {
		out[i] = append([]byte(nil), f...)
	}
	return out
}

// combinations calls fn with every subset of {0..n-1} of size r.
func combinations(n, r int, fn func([]int)) {
	idx := make([]int, r)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if depth == r {
			fn(idx)
			return
		}
		for i := start; i <= n-(r-depth); i++ {
			idx[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
}

func badSet(rep DecodeReport) map[int]error {
	m := map[int]error{}
	for _, f := range rep.Bad {
		m[f.Index] = f.Err
	}
	return m
}

// fullReadEnd is where a healthy full Decode stops reading data shard j: at
// the end of its trailer if j holds bytes of the last stripe, else at the
// end of the stripe before (the last stripe's block of j is only padding).
func fullReadEnd(g geometry, j int) int64 {
	switch {
	case int64(j)*int64(g.lastLen) < g.lastData:
		return g.fileSize()
	case g.stripes >= 2:
		return g.blockEnd(g.stripes - 2)
	default:
		return 0 // not read at all
	}
}
