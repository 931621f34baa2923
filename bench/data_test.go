package bench

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func readAllContent(t *testing.T, seed uint64, key string, size int64) []byte {
	t.Helper()
	b, err := io.ReadAll(newContentReader(seed, key, size))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Fatalf("read %d of %d bytes", len(b), size)
	}
	return b
}

func TestContentIsDeterministicAndDistinct(t *testing.T) {
	a := readAllContent(t, 1, "k", 4096)
	if !bytes.Equal(a, readAllContent(t, 1, "k", 4096)) {
		t.Fatal("same (seed, key, size) gave different content")
	}
	for name, other := range map[string][]byte{
		"seed": readAllContent(t, 2, "k", 4096),
		"key":  readAllContent(t, 1, "k2", 4096),
		"size": readAllContent(t, 1, "k", 4097)[:4096],
	} {
		if bytes.Equal(a[:64], other[:64]) {
			t.Errorf("changing the %s did not change the content", name)
		}
	}
	if artifactSeed(5, 1) == artifactSeed(5, 2) || artifactSeed(5, 1) == artifactSeed(6, 1) {
		t.Error("artifact seeds collide")
	}
}

func TestContentReadAtMatchesSequential(t *testing.T) {
	const size = 100003
	c := newContentReader(42, "obj/1", size)
	all := readAllContent(t, 42, "obj/1", size)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		off := rng.Int64N(size + 10)
		n := rng.IntN(70)
		p := make([]byte, n)
		got, err := c.ReadAt(p, off)
		wantN := int(max(0, min(int64(n), size-off)))
		if got != wantN {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, want %d", n, off, got, wantN)
		}
		if (got < n) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d at %d): n=%d err=%v", n, off, got, err)
		}
		if !bytes.Equal(p[:got], all[min(off, size):min(off, size)+int64(got)]) {
			t.Fatalf("ReadAt(%d at %d) differs from sequential read", n, off)
		}
	}
	// Seek + Read.
	if pos, err := c.Seek(-10, io.SeekEnd); err != nil || pos != size-10 {
		t.Fatalf("Seek: %d, %v", pos, err)
	}
	tail, _ := io.ReadAll(c)
	if !bytes.Equal(tail, all[size-10:]) {
		t.Fatal("tail after Seek differs")
	}
	if _, err := c.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("negative seek accepted")
	}
	if _, err := c.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("negative ReadAt accepted")
	}
}

func TestContentIsIncompressible(t *testing.T) {
	data := readAllContent(t, 9, "x", 1<<20)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(data)
	_ = w.Close()
	if buf.Len() < len(data) {
		t.Fatalf("1 MiB of content deflates to %d bytes", buf.Len())
	}
}

func TestVerifier(t *testing.T) {
	const size = 200000
	data := readAllContent(t, 3, "v", size)
	feed := func(v *verifier, b []byte, chunk int) error {
		for len(b) > 0 {
			n := min(chunk, len(b))
			if _, err := v.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return v.finish()
	}
	for _, chunk := range []int{1, 7, 4096, verifyChunk + 3, size} {
		if err := feed(newVerifier(3, "v", size, nil), data, chunk); err != nil {
			t.Fatalf("chunk %d: correct content rejected: %v", chunk, err)
		}
	}
	bad := bytes.Clone(data)
	bad[123457] ^= 0x01
	err := feed(newVerifier(3, "v", size, nil), bad, 5000)
	if !errors.Is(err, ErrVerifyMismatch) {
		t.Fatalf("flipped bit: %v", err)
	}
	if want := "at byte 123457 "; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not name the offset", err)
	}
	if err := feed(newVerifier(3, "v", size, nil), data[:size-1], 4096); !errors.Is(err, ErrVerifySize) {
		t.Fatalf("short body: %v", err)
	}
	long := append(bytes.Clone(data), 0)
	if err := feed(newVerifier(3, "v", size, nil), long, 4096); !errors.Is(err, ErrVerifySize) {
		t.Fatalf("long body: %v", err)
	}
	if err := feed(newVerifier(4, "v", size, nil), data, 4096); !errors.Is(err, ErrVerifyMismatch) {
		t.Fatalf("wrong seed: %v", err)
	}
	if err := feed(newVerifier(0, "empty", 0, nil), nil, 1); err != nil {
		t.Fatalf("empty artifact: %v", err)
	}
}

func BenchmarkContentFill(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for i := range b.N {
		fillContent(uint64(i), 0, buf)
	}
}

func BenchmarkVerify(b *testing.B) {
	const size = 1 << 20
	data, _ := io.ReadAll(newContentReader(1, "k", size))
	scratch := make([]byte, verifyChunk)
	b.SetBytes(size)
	for range b.N {
		v := newVerifier(1, "k", size, scratch)
		for off := 0; off < size; off += 256 << 10 {
			if _, err := v.Write(data[off : off+256<<10]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
