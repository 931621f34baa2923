package erasure

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

var errDrive = errors.New("test: drive read error")

// failingReader fails with errDrive after n bytes.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDrive
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestDecodeReaderErrors: a shard whose stream fails mid-read is lost for
// the rest of the read, reported with the reader's error, not as bitrot.
func TestDecodeReaderErrors(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	data := randBytes(5, int(4*s.StripeSize()+9))
	size := int64(len(data))
	files := encode(t, c, data)
	for _, after := range []int{0, 5, HeaderSize, HeaderSize + 70, 200} {
		st := newStore(files)
		st.hook = func(i int, r io.Reader) io.Reader {
			if i == 1 || i == 2 {
				return &failingReader{r: r, n: after}
			}
			return r
		}
		got, rep, err := decodeRange(t, c, st, size, 0, -1)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("fail after %d: %v", after, err)
		}
		bad := badSet(rep)
		if len(bad) != 2 || !errors.Is(bad[1], errDrive) || !errors.Is(bad[2], errDrive) || IsCorruption(bad[1]) {
			t.Fatalf("fail after %d: report %v", after, rep.Bad)
		}
	}
	// Too many: ErrReadQuorum, naming each shard's error.
	st := newStore(files)
	st.hook = func(i int, r io.Reader) io.Reader {
		if i < 3 {
			return &failingReader{r: r, n: 100}
		}
		return r
	}
	_, rep, err := decodeRange(t, c, st, size, 0, -1)
	if !errors.Is(err, ErrReadQuorum) || !errors.Is(err, errDrive) || len(rep.Bad) != 3 {
		t.Fatalf("3 failing of 4+2: %v, report %v", err, rep.Bad)
	}
}

// TestDecodeWriterError stops at the first output write error.
func TestDecodeWriterError(t *testing.T) {
	s := Shape{2, 1, 64}
	c := mustCoder(t, s)
	data := randBytes(6, 1000)
	st := newStore(encode(t, c, data))
	w := &failingWriter{after: 300}
	_, err := c.Decode(context.Background(), w, st.open, 1000, 0, -1)
	if !errors.Is(err, errWrite) {
		t.Fatalf("Decode = %v, want the writer's error", err)
	}
	if !bytes.Equal(w.buf.Bytes(), data[:300]) {
		t.Fatal("bytes before the failure differ")
	}
}

func TestDecodeContext(t *testing.T) {
	s := Shape{4, 2, 64}
	c := mustCoder(t, s)
	data := randBytes(7, 20000)
	files := encode(t, c, data)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st := newStore(files)
	if _, err := c.Decode(ctx, io.Discard, st.open, 20000, 0, -1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	if _, err := c.Rebuild(ctx, st.open, 20000, 1, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("rebuild cancelled before: %v", err)
	}
	// Cancelled while reading: no shard is blamed for it.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	st.hook = func(i int, r io.Reader) io.Reader {
		if i == 3 {
			return &cancelAfter{r: r, n: 2000, cancel: cancel}
		}
		return r
	}
	rep, err := c.Decode(ctx, io.Discard, st.open, 20000, 0, -1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during: %v", err)
	}
	for _, f := range rep.Bad {
		if !errors.Is(f.Err, context.Canceled) {
			t.Fatalf("shard %d blamed: %v", f.Index, f.Err)
		}
	}
}

// gatedReader blocks its first Read until open is closed.
type gatedReader struct {
	r    io.Reader
	open <-chan struct{}
	once sync.Once
}

func (g *gatedReader) Read(p []byte) (int, error) {
	g.once.Do(func() { <-g.open })
	return g.r.Read(p)
}

// signalReader closes reached once n bytes were read through it.
type signalReader struct {
	r       io.Reader
	n       int
	reached chan struct{}
	once    sync.Once
}

func (s *signalReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if s.n -= n; s.n <= 0 {
		s.once.Do(func() { close(s.reached) })
	}
	return n, err
}

// TestDecodeReadersConcurrent proves shard reads are concurrent: shard 0's
// stream blocks until shard 1's reader has read readAhead blocks, which
// only happens if shard 1 is read while shard 0 is stalled.
func TestDecodeReadersConcurrent(t *testing.T) {
	s := Shape{2, 1, 64}
	c := mustCoder(t, s)
	data := randBytes(8, int(8*s.StripeSize()))
	files := encode(t, c, data)
	open := make(chan struct{})
	reached := make(chan struct{})
	st := newStore(files)
	st.hook = func(i int, r io.Reader) io.Reader {
		switch i {
		case 0:
			return &gatedReader{r: r, open: open}
		case 1:
			return &signalReader{r: r, n: HeaderSize + readAhead*(s.BlockSize+checksumSize), reached: reached}
		}
		return r
	}
	go func() {
		<-reached
		close(open)
	}()
	got, rep, err := decodeRange(t, c, st, int64(len(data)), 0, -1)
	if err != nil || len(rep.Bad) != 0 || !bytes.Equal(got, data) {
		t.Fatalf("%v %v", err, rep.Bad)
	}
}

// TestDecodeOpenerNil treats an opener returning no reader as a lost shard.
func TestDecodeOpenerNil(t *testing.T) {
	s := Shape{2, 1, 64}
	c := mustCoder(t, s)
	data := randBytes(9, 500)
	st := newStore(encode(t, c, data))
	open := func(ctx context.Context, i int, off, length int64) (io.ReadCloser, error) {
		if i == 0 {
			return nil, nil
		}
		return st.open(ctx, i, off, length)
	}
	var out bytes.Buffer
	rep, err := c.Decode(context.Background(), &out, open, 500, 0, -1)
	if err != nil || !bytes.Equal(out.Bytes(), data) || len(rep.Bad) != 1 || rep.Bad[0].Index != 0 {
		t.Fatalf("%v %v", err, rep.Bad)
	}
}

func TestVerifyShard(t *testing.T) {
	s := Shape{3, 2, 64}
	c := mustCoder(t, s)
	size := int64(700)
	files := encode(t, c, randBytes(10, int(size)))
	ctx := context.Background()
	for i, f := range files {
		if err := c.VerifyShard(ctx, bytes.NewReader(f), size, i); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	cases := map[string]func() error{
		"wrong index": func() error { return c.VerifyShard(ctx, bytes.NewReader(files[0]), size, 1) },
		"wrong size":  func() error { return c.VerifyShard(ctx, bytes.NewReader(files[0]), size+1, 0) },
		"trailing": func() error {
			return c.VerifyShard(ctx, bytes.NewReader(append(append([]byte(nil), files[0]...), 0)), size, 0)
		},
		"truncated": func() error { return c.VerifyShard(ctx, bytes.NewReader(files[0][:100]), size, 0) },
		"flipped": func() error {
			f := append([]byte(nil), files[4]...)
			f[HeaderSize+3] ^= 1
			return c.VerifyShard(ctx, bytes.NewReader(f), size, 4)
		},
	}
	for name, fn := range cases {
		if err := fn(); !IsCorruption(err) {
			t.Errorf("%s: %v, want corruption", name, err)
		}
	}
	err := c.VerifyShard(ctx, &failingReader{r: bytes.NewReader(files[0]), n: 200}, size, 0)
	if !errors.Is(err, errDrive) || IsCorruption(err) {
		t.Errorf("drive error: %v", err)
	}
	if err := c.VerifyShard(ctx, bytes.NewReader(files[0]), size, 5); !errors.Is(err, ErrInvalid) {
		t.Errorf("index 5: %v", err)
	}
}

// TestDecodePreferShards: when a read must reconstruct, it opens the
// preferred shards (a node's local ones) before the others; a healthy read
// opens only the data shards whatever the preference.
func TestDecodePreferShards(t *testing.T) {
	s := Shape{4, 4, 64}
	c := mustCoder(t, s)
	data := randBytes(7, int(2*s.StripeSize()+5))
	files := encode(t, c, data)
	local := func(i int) bool { return i == 6 || i == 7 } // two parity shards are local

	opened := func(st *store) map[int]bool {
		out := map[int]bool{}
		for _, call := range st.calls() {
			out[call.index] = true
		}
		return out
	}
	decode := func(st *store) {
		t.Helper()
		var out bytes.Buffer
		if _, err := c.Decode(context.Background(), &out, st.open, int64(len(data)), 0, -1, PreferShards(local)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("wrong bytes")
		}
	}

	st := newStore(files)
	decode(st)
	if got := opened(st); len(got) != 4 || got[6] || got[7] {
		t.Fatalf("healthy read opened %v, want the data shards 0-3 only", got)
	}

	st = newStore(files)
	st.lost[1], st.lost[2] = true, true
	decode(st)
	got := opened(st)
	if !got[6] || !got[7] || got[4] || got[5] {
		t.Fatalf("reconstructing read opened %v, want the local parity 6 and 7 before the remote 4 and 5", got)
	}

	// Without a preference: data first, then parity in index order.
	st = newStore(files)
	st.lost[1], st.lost[2] = true, true
	var out bytes.Buffer
	if _, err := c.Decode(context.Background(), &out, st.open, int64(len(data)), 0, -1); err != nil {
		t.Fatal(err)
	}
	if got := opened(st); !got[4] || !got[5] || got[6] || got[7] {
		t.Fatalf("read without preference opened %v, want parity 4 and 5", got)
	}
}
