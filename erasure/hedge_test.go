package erasure

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// stallReader passes n bytes, then blocks until its context ends: a
// shard on a peer that stopped answering mid-stream (or before the first
// byte, n = 0).
type stallReader struct {
	ctx context.Context
	r   io.Reader
	n   int
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.n <= 0 {
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	if len(p) > s.n {
		p = p[:s.n]
	}
	n, err := s.r.Read(p)
	s.n -= n
	return n, err
}

// TestHedgeAroundStalledShards: with HedgeAfter, a data shard that stops
// delivering (before its first byte, or midway) is given up on after the
// hedge delay and the read finishes from parity, the shard reported slow,
// not bad; Rebuild does the same. Without a spare shard there is nothing
// to hedge to, and the read waits.
func TestHedgeAroundStalledShards(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	data := randBytes(9, int(6*s.StripeSize()+17))
	size := int64(len(data))
	files := encode(t, c, data)
	const hedge = 50 * time.Millisecond
	for _, tc := range []struct {
		name  string
		stall map[int]int // shard -> bytes passed before it stalls
	}{
		{"before the first byte", map[int]int{1: 0}},
		{"mid-stream", map[int]int{2: HeaderSize + 3*(s.BlockSize+checksumSize)}},
		{"two shards", map[int]int{0: 0, 3: HeaderSize + 100}},
		{"two at once", map[int]int{1: 0, 2: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(files)
			open := func(ctx context.Context, i int, off, length int64) (io.ReadCloser, error) {
				rc, err := st.open(ctx, i, off, length)
				if n, ok := tc.stall[i]; ok && err == nil {
					return io.NopCloser(&stallReader{ctx: ctx, r: rc, n: n - int(off)}), nil
				}
				return rc, err
			}
			var out bytes.Buffer
			start := time.Now()
			rep, err := c.Decode(context.Background(), &out, open, size, 0, -1, HedgeAfter(hedge))
			if err != nil || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("decode with stalled shards %v: %v", tc.stall, err)
			}
			if len(rep.Bad) != 0 || len(rep.Slow) != len(tc.stall) {
				t.Fatalf("report: bad %v, slow %v; want slow %v", rep.Bad, rep.Slow, tc.stall)
			}
			// Several slow shards of one stripe cost one delay.
			if took := time.Since(start); took > 40*hedge {
				t.Fatalf("decode took %v with a hedge delay of %v", took, hedge)
			}
			if len(tc.stall) > 1 {
				return // rebuilding 5 needs all of the other 5 shards
			}
			var rb bytes.Buffer
			rep, err = c.Rebuild(context.Background(), open, size, 5, &rb, HedgeAfter(hedge))
			if err != nil || !bytes.Equal(rb.Bytes(), files[5]) || len(rep.Bad) != 0 {
				t.Fatalf("rebuild with stalled shards: %v, report %+v", err, rep)
			}
		})
	}

	// 4+2 with both parity shards lost: the parity shards it hedged to
	// turn out lost, so the slow data shard is taken back and waited for
	// (here it resumes) rather than failing the read; the same with one.
	st := newStore(files)
	st.lost[4], st.lost[5] = true, true
	gate := make(chan struct{})
	st.hook = func(i int, r io.Reader) io.Reader {
		if i == 0 {
			return &gatedReader{r: r, open: gate}
		}
		return r
	}
	go func() { time.Sleep(4 * hedge); close(gate) }()
	var out bytes.Buffer
	rep, err := c.Decode(context.Background(), &out, st.open, size, 0, -1, HedgeAfter(hedge))
	if err != nil || !bytes.Equal(out.Bytes(), data) || len(rep.Bad) != 2 {
		t.Fatalf("no spare: %v, report %+v", err, rep)
	}
	st = newStore(files)
	st.lost[5] = true
	gate = make(chan struct{})
	st.hook = func(i int, r io.Reader) io.Reader {
		if i == 0 {
			return &gatedReader{r: r, open: gate}
		}
		return r
	}
	go func() { time.Sleep(4 * hedge); close(gate) }()
	out.Reset()
	rep, err = c.Decode(context.Background(), &out, st.open, size, 0, -1, HedgeAfter(hedge))
	if err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("spare lost: %v, report %+v", err, rep)
	}
}
