package sse

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sizes around package boundaries.
var sizes = []int{0, 1, PackageSize - 1, PackageSize, PackageSize + 1, 3*PackageSize - 7, 3 * PackageSize}

func TestStreamRoundTrip(t *testing.T) {
	for _, n := range sizes {
		key, _ := NewDataKey()
		plain := randBytes(t, n)
		// Small reads exercise the reader's buffering.
		c, err := io.ReadAll(io.LimitReader(struct{ io.Reader }{NewEncryptReader(bytes.NewReader(plain), key)}, 1<<30))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(c)) != EncryptedSize(int64(n)) {
			t.Fatalf("n=%d: ciphertext %d bytes, EncryptedSize %d", n, len(c), EncryptedSize(int64(n)))
		}
		if mem := Encrypt(key, plain); !bytes.Equal(mem, c) {
			t.Fatalf("n=%d: Encrypt and EncryptReader differ", n)
		}
		if n >= 16 && bytes.Contains(c, plain[:16]) {
			t.Fatalf("n=%d: plaintext visible in ciphertext", n)
		}
		got, err := Decrypt(key, c, int64(n))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("n=%d: Decrypt: %v", n, err)
		}
	}
}

func TestRanges(t *testing.T) {
	const n = 3*PackageSize + 100
	key, _ := NewDataKey()
	plain := randBytes(t, n)
	c := Encrypt(key, plain)
	cases := [][2]int64{
		{0, 1}, {0, n}, {PackageSize - 1, 2}, {PackageSize, 1}, {PackageSize - 1, 1},
		{2*PackageSize + 5, PackageSize + 95}, {n - 1, 1}, {10, 3 * PackageSize},
	}
	for _, tc := range cases {
		off, length := tc[0], tc[1]
		cOff, cLen, first := CiphertextRange(n, off, length)
		var out bytes.Buffer
		w := NewDecryptWriter(&out, key, n, off, length)
		// Feed in odd-sized chunks.
		src := c[cOff : cOff+cLen]
		for len(src) > 0 {
			k := min(len(src), 1000)
			if _, err := w.Write(src[:k]); err != nil {
				t.Fatalf("[%d,+%d): %v", off, length, err)
			}
			src = src[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), plain[off:off+length]) {
			t.Fatalf("[%d,+%d): wrong bytes", off, length)
		}
		wantPk := (off+length-1)/PackageSize - first + 1
		if w.Opened != wantPk {
			t.Fatalf("[%d,+%d): opened %d packages, want %d", off, length, w.Opened, wantPk)
		}
	}
}

func TestTamperTruncateReorder(t *testing.T) {
	const n = 2*PackageSize + 10
	key, _ := NewDataKey()
	plain := randBytes(t, n)
	c := Encrypt(key, plain)
	flip := append([]byte(nil), c...)
	flip[PackageSize+20] ^= 1
	if _, err := Decrypt(key, flip, n); !errors.Is(err, ErrAuth) {
		t.Fatalf("flipped byte: %v", err)
	}
	// Truncated to whole packages: the new last one was not sealed final.
	if _, err := Decrypt(key, c[:2*sealedPackageSize], 2*PackageSize); !errors.Is(err, ErrAuth) {
		t.Fatalf("truncated: %v", err)
	}
	swapped := append(append(append([]byte(nil), c[sealedPackageSize:2*sealedPackageSize]...), c[:sealedPackageSize]...), c[2*sealedPackageSize:]...)
	if _, err := Decrypt(key, swapped, n); !errors.Is(err, ErrAuth) {
		t.Fatalf("reordered: %v", err)
	}
	other, _ := NewDataKey()
	if _, err := Decrypt(other, c, n); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong key: %v", err)
	}
	w := NewDecryptWriter(io.Discard, key, n, 0, n)
	w.Write(c[:100])
	if err := w.Close(); !errors.Is(err, ErrAuth) {
		t.Fatalf("short stream Close: %v", err)
	}
}

func TestSealRewrap(t *testing.T) {
	ring, err := NewKeyring(randBytes(t, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := ring.KEK(1)
	k2, _ := ring.KEK(2)
	if k1.Key == k2.Key {
		t.Fatal("KEKs 1 and 2 equal")
	}
	dk, _ := NewDataKey()
	ctx := []byte("t/c/k")
	s1, err := SealKey(k1, dk, ctx)
	if err != nil || len(s1) != SealedKeySize {
		t.Fatalf("seal: %v %d", err, len(s1))
	}
	if id, _ := SealedKEKID(s1); id != 1 {
		t.Fatalf("id %d", id)
	}
	if got, err := OpenKey(k1, s1, ctx); err != nil || got != dk {
		t.Fatalf("open: %v", err)
	}
	if _, err := OpenKey(k1, s1, []byte("t/c/other")); !errors.Is(err, ErrAuth) {
		t.Fatalf("moved to another artifact: %v", err)
	}
	if _, err := OpenKey(k2, s1, ctx); !errors.Is(err, ErrUnknownKEK) {
		t.Fatalf("wrong KEK: %v", err)
	}
	s2, err := Rewrap(k1, k2, s1, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenKey(k2, s2, ctx); err != nil || got != dk {
		t.Fatalf("open rewrapped: %v", err)
	}
	// A forged KEK id is caught by the additional data.
	forged := append([]byte(nil), s2...)
	forged[4] = 1
	if _, err := OpenKey(k1, forged, ctx); !errors.Is(err, ErrAuth) {
		t.Fatalf("forged id: %v", err)
	}
	if _, err := OpenKey(k1, s1[:10], ctx); !errors.Is(err, ErrFormat) {
		t.Fatalf("short: %v", err)
	}
	ck, err := CustomerKEK(randBytes(t, 32))
	if err != nil || ck.ID != CustomerKEKID {
		t.Fatal(err)
	}
	if _, err := CustomerKEK(randBytes(t, 31)); err == nil {
		t.Fatal("31-byte customer key accepted")
	}
}

func FuzzDecryptWriter(f *testing.F) {
	var key DataKey
	f.Add(Encrypt(key, []byte("hello")), int64(5), int64(0), int64(5))
	f.Add(Encrypt(key, make([]byte, PackageSize+3)), int64(PackageSize+3), int64(PackageSize-1), int64(2))
	f.Fuzz(func(t *testing.T, c []byte, size, off, length int64) {
		if size < 0 || size > 1<<20 || off < 0 || length <= 0 || off+length > size {
			return
		}
		var out bytes.Buffer
		w := NewDecryptWriter(&out, key, size, off, length)
		_, err := w.Write(c)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return
		}
		// Accepted: the bytes must be what sealing their plaintext gives.
		if int64(out.Len()) != length {
			t.Fatalf("wrote %d bytes, want %d", out.Len(), length)
		}
		if off == 0 && length == size {
			if !bytes.Equal(Encrypt(key, out.Bytes()), c[:EncryptedSize(size)]) {
				t.Fatal("accepted bytes that are not the sealed plaintext")
			}
		}
	})
}

func BenchmarkEncryptReader(b *testing.B) {
	key, _ := NewDataKey()
	plain := randBytes(b, 16<<20)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		io.Copy(io.Discard, NewEncryptReader(bytes.NewReader(plain), key))
	}
}

func BenchmarkDecryptWriter(b *testing.B) {
	key, _ := NewDataKey()
	plain := randBytes(b, 16<<20)
	c := Encrypt(key, plain)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		w := NewDecryptWriter(io.Discard, key, int64(len(plain)), 0, int64(len(plain)))
		if _, err := w.Write(c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecryptPipeline feeds ranges spanning several batches (opened in the
// background, in parallel) in chunks of odd sizes, and checks the bytes,
// the packages opened, a tampered package in a later batch, a failing
// destination, and a stream that stops between batches.
func TestDecryptPipeline(t *testing.T) {
	const n = 2*batchPackages*PackageSize + 5*PackageSize + 123
	key, _ := NewDataKey()
	plain := randBytes(t, n)
	c := Encrypt(key, plain)
	feed := func(w *DecryptWriter, src []byte, chunk int) error {
		for len(src) > 0 {
			k := min(len(src), chunk)
			if _, err := w.Write(src[:k]); err != nil {
				return err
			}
			src = src[k:]
		}
		return nil
	}
	cases := [][2]int64{
		{0, n}, {1, n - 1}, {0, batchPackages * PackageSize}, {0, batchPackages*PackageSize + 1},
		{batchPackages*PackageSize - 1, 2}, {PackageSize + 7, 2 * batchPackages * PackageSize}, {n - 1, 1},
	}
	for _, chunk := range []int{1000, 256 << 10, sealedPackageSize, n + 1<<20} {
		for _, tc := range cases {
			off, length := tc[0], tc[1]
			cOff, cLen, first := CiphertextRange(n, off, length)
			var out bytes.Buffer
			w := NewDecryptWriter(&out, key, n, off, length)
			if err := feed(w, c[cOff:cOff+cLen], chunk); err != nil {
				t.Fatalf("chunk %d [%d,+%d): %v", chunk, off, length, err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("chunk %d [%d,+%d): close: %v", chunk, off, length, err)
			}
			if !bytes.Equal(out.Bytes(), plain[off:off+length]) {
				t.Fatalf("chunk %d [%d,+%d): wrong bytes (%d written)", chunk, off, length, out.Len())
			}
			if want := (off+length-1)/PackageSize - first + 1; w.Opened != want {
				t.Fatalf("chunk %d [%d,+%d): opened %d packages, want %d", chunk, off, length, w.Opened, want)
			}
		}
	}

	// A flipped byte in the third batch: refused by a Write or by Close,
	// and nothing of that batch or later is written.
	flip := append([]byte(nil), c...)
	flip[2*batchPackages*sealedPackageSize+100] ^= 1
	var out bytes.Buffer
	w := NewDecryptWriter(&out, key, n, 0, n)
	err := feed(w, flip, 64<<10)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("tampered third batch: %v", err)
	}
	if out.Len() > 2*batchPackages*PackageSize || !bytes.Equal(out.Bytes(), plain[:out.Len()]) {
		t.Fatalf("tampered: wrote %d bytes", out.Len())
	}

	// The destination fails: its error comes back.
	errDest := errors.New("client gone")
	w = NewDecryptWriter(failWriter{errDest}, key, n, 0, n)
	err = feed(w, c, 300<<10)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, errDest) {
		t.Fatalf("failing destination: %v", err)
	}

	// The stream stops after one whole batch.
	w = NewDecryptWriter(io.Discard, key, n, 0, n)
	if err := feed(w, c[:batchSize+10], 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, ErrAuth) {
		t.Fatalf("short stream: %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestCustomerETag: an SSE-C ETag has an MD5's shape, is stable for the
// same key and bytes, and reveals neither the MD5 nor equality across keys.
func TestCustomerETag(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	sum := md5.Sum([]byte("hello"))
	a, err := CustomerETag(k1, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	again, _ := CustomerETag(k1, sum[:])
	other, _ := CustomerETag(k2, sum[:])
	sum2 := md5.Sum([]byte("hellp"))
	otherData, _ := CustomerETag(k1, sum2[:])
	raw, herr := hex.DecodeString(a)
	switch {
	case herr != nil || len(raw) != md5.Size:
		t.Fatalf("etag %q is not 16 hex bytes", a)
	case a != again:
		t.Fatal("not stable")
	case a == hex.EncodeToString(sum[:]):
		t.Fatal("etag is the plaintext MD5")
	case a == other || a == otherData:
		t.Fatal("etag ignores the key or the data")
	}
	for _, bad := range [][]byte{nil, k1[:31], append(k1, 0)} {
		if _, err := CustomerETag(bad, sum[:]); err == nil {
			t.Fatalf("a %d-byte key was accepted", len(bad))
		}
	}
}
