// Package driverstest is the conformance suite of the drivers contract.
// Every drivers.Driver implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		driverstest.Run(t, func(t *testing.T) drivers.Driver { return mem.New() })
//	}
//
// newDriver is called once per subtest and must return an empty, online
// driver that the subtest owns (use t.TempDir and t.Cleanup for resources).
// The suite checks round trips, empty and large (streamed) objects, ranges,
// overwrite, failed and cancelled Puts, name validation, ErrNotFound, List
// prefixes and order, fn errors, concurrent use (run it under -race) and
// Usage. It asserts behaviour only, never timing.
package driverstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/vaultaire/vaultaire/drivers"
)

// LargeSize is the size of the large object the suite streams through Put
// and Open. It is larger than any sane copy buffer, so a driver that buffers
// whole objects shows up in memory profiles of the suite.
const LargeSize = 8 << 20

// Run runs the conformance suite against drivers made by newDriver.
func Run(t *testing.T, newDriver func(t *testing.T) drivers.Driver) {
	tests := []struct {
		name string
		fn   func(*testing.T, drivers.Driver)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyObject", testEmpty},
		{"LargeObject", testLarge},
		{"ShortReads", testShortReads},
		{"Ranges", testRanges},
		{"Overwrite", testOverwrite},
		{"FailingReader", testFailingReader},
		{"CancelledPut", testCancelledPut},
		{"CancelledCalls", testCancelledCalls},
		{"InvalidNames", testInvalidNames},
		{"OddValidNames", testOddValidNames},
		{"NotFound", testNotFound},
		{"NameConflict", testNameConflict},
		{"List", testList},
		{"ListStop", testListStop},
		{"ListDeleteInCallback", testListDelete},
		{"ConcurrentDistinct", testConcurrentDistinct},
		{"ConcurrentSameName", testConcurrentSame},
		{"Usage", testUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newDriver(t))
		})
	}
}

// Pattern returns n deterministic pseudo-random bytes derived from seed.
func Pattern(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(NewPatternReader(seed, int64(n)), b)
	return b
}

// PatternReader streams n deterministic pseudo-random bytes without holding
// them in memory. Equal seeds give equal streams.
type PatternReader struct {
	state uint64
	left  int64
}

// NewPatternReader returns a reader of n bytes of the pattern of seed.
func NewPatternReader(seed uint64, n int64) *PatternReader {
	return &PatternReader{state: seed*0x9E3779B97F4A7C15 + 1, left: n}
}

func (p *PatternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		// xorshift64: cheap, deterministic, no byte patterns that align
		// with power-of-two buffer sizes.
		p.state ^= p.state << 13
		p.state ^= p.state >> 7
		p.state ^= p.state << 17
		b[i] = byte(p.state >> 32)
	}
	p.left -= int64(len(b))
	return len(b), nil
}

func put(t *testing.T, d drivers.Driver, name string, data []byte) {
	t.Helper()
	n, err := d.Put(context.Background(), name, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put(%q) = %d bytes, want %d", name, n, len(data))
	}
}

func read(t *testing.T, d drivers.Driver, name string, off, length int64) []byte {
	t.Helper()
	rc, err := d.Open(context.Background(), name, off, length)
	if err != nil {
		t.Fatalf("Open(%q, %d, %d): %v", name, off, length, err)
	}
	got, err := io.ReadAll(rc)
	if cerr := rc.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("reading %q [%d,%d): %v", name, off, length, err)
	}
	return got
}

func checkContent(t *testing.T, d drivers.Driver, name string, want []byte) {
	t.Helper()
	got := read(t, d, name, 0, -1)
	if !bytes.Equal(got, want) {
		t.Fatalf("content of %q: got %d bytes %s, want %d bytes %s", name,
			len(got), short(got), len(want), short(want))
	}
	info, err := d.Stat(context.Background(), name)
	if err != nil {
		t.Fatalf("Stat(%q): %v", name, err)
	}
	if info.Name != name || info.Size != int64(len(want)) {
		t.Fatalf("Stat(%q) = %+v, want name %q size %d", name, info, name, len(want))
	}
	if info.ModTime.IsZero() {
		t.Fatalf("Stat(%q): zero ModTime", name)
	}
}

func short(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%x…", b[:16])
	}
	return fmt.Sprintf("%x", b)
}

func listNames(t *testing.T, d drivers.Driver, prefix string) []string {
	t.Helper()
	names := []string{}
	err := d.List(context.Background(), prefix, func(info drivers.Info) error {
		names = append(names, info.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return names
}

func mustNotExist(t *testing.T, d drivers.Driver, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := d.Stat(ctx, name); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Stat(%q) = %v, want ErrNotFound", name, err)
	}
	if rc, err := d.Open(ctx, name, 0, -1); !errors.Is(err, drivers.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Open(%q) = %v, want ErrNotFound", name, err)
	}
	for _, n := range listNames(t, d, "") {
		if n == name {
			t.Fatalf("List shows %q, which must not exist", name)
		}
	}
}

func testRoundTrip(t *testing.T, d drivers.Driver) {
	ctx := context.Background()
	data := Pattern(1, 100_000)
	put(t, d, "ab/cd/blob.3", data)
	checkContent(t, d, "ab/cd/blob.3", data)
	put(t, d, "top", []byte("x"))
	checkContent(t, d, "top", []byte("x"))

	var infos []drivers.Info
	if err := d.List(ctx, "", func(i drivers.Info) error { infos = append(infos, i); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(infos) != 2 || infos[0].Name != "ab/cd/blob.3" || infos[0].Size != int64(len(data)) ||
		infos[1].Name != "top" || infos[1].Size != 1 || infos[0].ModTime.IsZero() {
		t.Fatalf("List = %+v", infos)
	}

	if err := d.Delete(ctx, "ab/cd/blob.3"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotExist(t, d, "ab/cd/blob.3")
	if err := d.Delete(ctx, "ab/cd/blob.3"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	checkContent(t, d, "top", []byte("x"))
	// The name can be used again after delete, and its old directory
	// (if the driver has directories) can hold a sibling.
	put(t, d, "ab/cd/blob.3", []byte("again"))
	put(t, d, "ab/cd/blob.4", []byte("sibling"))
	checkContent(t, d, "ab/cd/blob.3", []byte("again"))
	if got := listNames(t, d, ""); !slices.Equal(got, []string{"ab/cd/blob.3", "ab/cd/blob.4", "top"}) {
		t.Fatalf("List = %q", got)
	}
}

func testEmpty(t *testing.T, d drivers.Driver) {
	put(t, d, "empty", nil)
	checkContent(t, d, "empty", []byte{})
	for _, r := range [][2]int64{{0, -1}, {0, 0}, {0, 10}, {5, -1}, {5, 3}} {
		if got := read(t, d, "empty", r[0], r[1]); len(got) != 0 {
			t.Fatalf("Open(empty, %d, %d) read %d bytes", r[0], r[1], len(got))
		}
	}
	if got := listNames(t, d, "emp"); !slices.Equal(got, []string{"empty"}) {
		t.Fatalf("List = %q", got)
	}
	// A reader that returns its data together with io.EOF, and one that
	// returns nothing at all but EOF.
	n, err := d.Put(context.Background(), "dataeof", iotest.DataErrReader(strings.NewReader("abc")))
	if err != nil || n != 3 {
		t.Fatalf("Put(DataErrReader) = %d, %v", n, err)
	}
	checkContent(t, d, "dataeof", []byte("abc"))
	n, err = d.Put(context.Background(), "eof", iotest.DataErrReader(strings.NewReader("")))
	if err != nil || n != 0 {
		t.Fatalf("Put(empty DataErrReader) = %d, %v", n, err)
	}
	checkContent(t, d, "eof", []byte{})
}

func hashOf(r io.Reader) ([]byte, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return h.Sum(nil), n, err
}

func testLarge(t *testing.T, d drivers.Driver) {
	ctx := context.Background()
	// Odd-sized reads so the driver has to assemble its buffers.
	src := iotest.HalfReader(NewPatternReader(7, LargeSize))
	n, err := d.Put(ctx, "large/obj", src)
	if err != nil || n != LargeSize {
		t.Fatalf("Put(large) = %d, %v", n, err)
	}
	want, _, _ := hashOf(NewPatternReader(7, LargeSize))
	rc, err := d.Open(ctx, "large/obj", 0, -1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, m, err := hashOf(rc)
	rc.Close()
	if err != nil || m != LargeSize || !bytes.Equal(got, want) {
		t.Fatalf("large read back: %d bytes, err %v, hash match %v", m, err, bytes.Equal(got, want))
	}
	info, err := d.Stat(ctx, "large/obj")
	if err != nil || info.Size != LargeSize {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	// A range across typical buffer boundaries in the middle.
	full := Pattern(7, LargeSize)
	off, length := int64(1<<20-3), int64(3<<20+7)
	if r := read(t, d, "large/obj", off, length); !bytes.Equal(r, full[off:off+length]) {
		t.Fatalf("range [%d,+%d) of the large object differs", off, length)
	}
	if r := read(t, d, "large/obj", LargeSize-5, -1); !bytes.Equal(r, full[LargeSize-5:]) {
		t.Fatalf("tail of the large object differs")
	}
}

func testShortReads(t *testing.T, d drivers.Driver) {
	data := Pattern(3, 10_000)
	n, err := d.Put(context.Background(), "onebyte", iotest.OneByteReader(bytes.NewReader(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Put(OneByteReader) = %d, %v", n, err)
	}
	checkContent(t, d, "onebyte", data)
	// The returned reader follows io.Reader rules when read a byte at a time.
	rc, err := d.Open(context.Background(), "onebyte", 100, 1000)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	if err := iotest.TestReader(rc, data[100:1100]); err != nil {
		t.Fatalf("reader of [100,1100): %v", err)
	}
}

func testRanges(t *testing.T, d drivers.Driver) {
	const size = 1000
	data := Pattern(2, size)
	put(t, d, "r", data)
	cases := []struct {
		off, length int64
		want        []byte
	}{
		{0, -1, data},
		{0, 0, []byte{}},
		{0, 10, data[:10]},
		{0, size, data},
		{0, size + 1, data},
		{1, -1, data[1:]},
		{500, 100, data[500:600]},
		{500, -1, data[500:]},
		{990, 10, data[990:]},
		{990, 100, data[990:]},
		{999, 1, data[999:]},
		{999, -1, data[999:]},
		{size, -1, []byte{}},
		{size, 5, []byte{}},
		{size + 500, 10, []byte{}},
		{size + 500, -1, []byte{}},
		{10, -7, data[10:]},
	}
	for _, c := range cases {
		got := read(t, d, "r", c.off, c.length)
		if !bytes.Equal(got, c.want) {
			t.Errorf("Open(r, %d, %d) = %d bytes %s, want %d bytes %s",
				c.off, c.length, len(got), short(got), len(c.want), short(c.want))
		}
	}
	if rc, err := d.Open(context.Background(), "r", -1, 10); err == nil {
		rc.Close()
		t.Errorf("Open(r, -1, 10) succeeded; a negative offset must fail")
	}
}

func testOverwrite(t *testing.T, d drivers.Driver) {
	long := Pattern(4, 50_000)
	put(t, d, "o/x", long)
	shortData := []byte("short")
	put(t, d, "o/x", shortData)
	checkContent(t, d, "o/x", shortData)
	if got := read(t, d, "o/x", 3, -1); string(got) != "rt" {
		t.Fatalf("range after overwrite = %q", got)
	}
	put(t, d, "o/x", nil)
	checkContent(t, d, "o/x", []byte{})
	put(t, d, "o/x", long)
	checkContent(t, d, "o/x", long)
	if got := listNames(t, d, "o/"); !slices.Equal(got, []string{"o/x"}) {
		t.Fatalf("List after overwrites = %q", got)
	}
}

var errBoom = errors.New("driverstest: reader failed")

func testFailingReader(t *testing.T, d drivers.Driver) {
	ctx := context.Background()
	failing := func() io.Reader {
		return io.MultiReader(NewPatternReader(5, 300_000), iotest.ErrReader(errBoom))
	}
	_, err := d.Put(ctx, "f/new", failing())
	if !errors.Is(err, errBoom) {
		t.Fatalf("Put(failing reader) = %v, want an error wrapping the reader's", err)
	}
	mustNotExist(t, d, "f/new")
	if got := listNames(t, d, ""); len(got) != 0 {
		t.Fatalf("List after a failed Put = %q, want nothing", got)
	}

	old := Pattern(6, 1000)
	put(t, d, "f/old", old)
	if _, err := d.Put(ctx, "f/old", failing()); !errors.Is(err, errBoom) {
		t.Fatalf("overwriting Put(failing reader) = %v", err)
	}
	checkContent(t, d, "f/old", old)
	// A body cut short is an error, not an end: io.ErrUnexpectedEOF from
	// the reader must not be mistaken for a clean io.EOF.
	truncated := io.MultiReader(NewPatternReader(5, 100_000), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, err := d.Put(ctx, "f/old", truncated); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Put(reader failing with ErrUnexpectedEOF) = %v", err)
	}
	checkContent(t, d, "f/old", old)
	// A failure before any byte was read.
	if _, err := d.Put(ctx, "f/old", iotest.ErrReader(errBoom)); !errors.Is(err, errBoom) {
		t.Fatalf("Put(ErrReader) = %v", err)
	}
	checkContent(t, d, "f/old", old)
	if got := listNames(t, d, ""); !slices.Equal(got, []string{"f/old"}) {
		t.Fatalf("List = %q", got)
	}
}

// cancelReader cancels its context once it has returned after bytes, then
// keeps producing data, so only the driver's context checks can stop Put.
type cancelReader struct {
	r      io.Reader
	after  int64
	read   int64
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func testCancelledPut(t *testing.T, d drivers.Driver) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.Put(ctx, "c/pre", bytes.NewReader(Pattern(8, 1000)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put(cancelled ctx) = %v, want context.Canceled", err)
	}
	mustNotExist(t, d, "c/pre")

	// Cancelled in the middle of the stream.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r := &cancelReader{r: NewPatternReader(9, 4<<20), after: 64 << 10, cancel: cancel}
	if _, err := d.Put(ctx, "c/mid", r); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put cancelled mid-stream = %v, want context.Canceled", err)
	}
	mustNotExist(t, d, "c/mid")

	// An existing object survives a cancelled overwrite.
	old := []byte("old contents")
	put(t, d, "c/old", old)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r = &cancelReader{r: NewPatternReader(10, 4<<20), after: 64 << 10, cancel: cancel}
	if _, err := d.Put(ctx, "c/old", r); !errors.Is(err, context.Canceled) {
		t.Fatalf("overwrite cancelled mid-stream = %v", err)
	}
	checkContent(t, d, "c/old", old)
	if got := listNames(t, d, ""); !slices.Equal(got, []string{"c/old"}) {
		t.Fatalf("List = %q", got)
	}
}

func testCancelledCalls(t *testing.T, d drivers.Driver) {
	put(t, d, "k", []byte("keep"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rc, err := d.Open(ctx, "k", 0, -1); !errors.Is(err, context.Canceled) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Open(cancelled) = %v, want context.Canceled", err)
	}
	if _, err := d.Stat(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat(cancelled) = %v, want context.Canceled", err)
	}
	if err := d.Delete(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete(cancelled) = %v, want context.Canceled", err)
	}
	called := false
	if err := d.List(ctx, "", func(drivers.Info) error { called = true; return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List(cancelled) = %v, want context.Canceled", err)
	}
	if called {
		t.Errorf("List(cancelled) called fn")
	}
	checkContent(t, d, "k", []byte("keep"))
}

// InvalidNames are names every driver must reject with ErrInvalidName.
var InvalidNames = []string{
	"", "/abs", "/", "a/../b", "..", "../a", "a/..", ".", "./a", "a/.", "a/./b",
	"a//b", "a/", "a\x00b", "a\\b", "\\", strings.Repeat("n", 4097),
}

// InvalidPrefixes are List prefixes every driver must reject.
var InvalidPrefixes = []string{
	"/abs", "/", "a/../b", "../a", "./a", "a//b", "a//", "a\x00b", "a\\b", "..//",
}

func testInvalidNames(t *testing.T, d drivers.Driver) {
	ctx := context.Background()
	for _, name := range InvalidNames {
		if _, err := d.Put(ctx, name, strings.NewReader("x")); !errors.Is(err, drivers.ErrInvalidName) {
			t.Errorf("Put(%q) = %v, want ErrInvalidName", name, err)
		}
		if rc, err := d.Open(ctx, name, 0, -1); !errors.Is(err, drivers.ErrInvalidName) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Open(%q) = %v, want ErrInvalidName", name, err)
		}
		if _, err := d.Stat(ctx, name); !errors.Is(err, drivers.ErrInvalidName) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidName", name, err)
		}
		if err := d.Delete(ctx, name); !errors.Is(err, drivers.ErrInvalidName) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	for _, p := range InvalidPrefixes {
		called := false
		err := d.List(ctx, p, func(drivers.Info) error { called = true; return nil })
		if !errors.Is(err, drivers.ErrInvalidName) || called {
			t.Errorf("List(%q) = %v (fn called: %v), want ErrInvalidName", p, err, called)
		}
	}
	if got := listNames(t, d, ""); len(got) != 0 {
		t.Fatalf("invalid Puts left %q", got)
	}
}

func testOddValidNames(t *testing.T, d drivers.Driver) {
	names := []string{
		"a b", "a.", ".a", "..a", "a..", "...", "-", "~", "ü/é", "x/.hidden",
		"x/..dots", "tmp", "data", "LOCK", "format.json",
		strings.Repeat("d/", 20) + "deep",
		strings.Repeat("s", 200),
	}
	for i, name := range names {
		put(t, d, name, []byte(name))
		if i%2 == 0 {
			checkContent(t, d, name, []byte(name))
		}
	}
	for _, name := range names {
		checkContent(t, d, name, []byte(name))
	}
	want := slices.Clone(names)
	sort.Strings(want)
	if got := listNames(t, d, ""); !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	if got := listNames(t, d, "."); !slices.Equal(got, []string{"...", "..a", ".a"}) {
		t.Fatalf("List(\".\") = %q", got)
	}
	if got := listNames(t, d, ".."); !slices.Equal(got, []string{"...", "..a"}) {
		t.Fatalf("List(\"..\") = %q", got)
	}
	for _, name := range names {
		if err := d.Delete(context.Background(), name); err != nil {
			t.Fatalf("Delete(%q): %v", name, err)
		}
	}
	if got := listNames(t, d, ""); len(got) != 0 {
		t.Fatalf("List after deleting everything = %q", got)
	}
}

func testNotFound(t *testing.T, d drivers.Driver) {
	ctx := context.Background()
	put(t, d, "nf/present/x", []byte("x"))
	for _, name := range []string{"missing", "nf/missing", "nf/present", "nf/present/y", "nf/present/x/below", "nf/pres"} {
		mustNotExist(t, d, name)
		if err := d.Delete(ctx, name); !errors.Is(err, drivers.ErrNotFound) {
			t.Errorf("Delete(%q) = %v, want ErrNotFound", name, err)
		}
	}
	checkContent(t, d, "nf/present/x", []byte("x"))
	if got := listNames(t, d, "nf/missing/"); len(got) != 0 {
		t.Fatalf("List of a missing prefix = %q", got)
	}
	if got := listNames(t, d, "nf/present/x/"); len(got) != 0 {
		t.Fatalf("List below an object = %q", got)
	}
}

// testNameConflict: a name that is a directory prefix of another (or the
// reverse) is either stored as a separate object, or rejected with
// ErrInvalidName leaving everything else intact.
func testNameConflict(t *testing.T, d drivers.Driver) {
	ctx := context.Background()
	put(t, d, "p/q", []byte("q"))
	n, err := d.Put(ctx, "p/q/r", strings.NewReader("r"))
	switch {
	case err == nil:
		if n != 1 {
			t.Fatalf("Put(p/q/r) = %d", n)
		}
		checkContent(t, d, "p/q/r", []byte("r"))
	case errors.Is(err, drivers.ErrInvalidName):
		mustNotExist(t, d, "p/q/r")
	default:
		t.Fatalf("Put(p/q/r) below an object = %v, want success or ErrInvalidName", err)
	}
	checkContent(t, d, "p/q", []byte("q"))

	put(t, d, "s/t/u", []byte("u"))
	n, err = d.Put(ctx, "s/t", strings.NewReader("t"))
	switch {
	case err == nil:
		if n != 1 {
			t.Fatalf("Put(s/t) = %d", n)
		}
		checkContent(t, d, "s/t", []byte("t"))
	case errors.Is(err, drivers.ErrInvalidName):
		mustNotExist(t, d, "s/t")
	default:
		t.Fatalf("Put(s/t) above an object = %v, want success or ErrInvalidName", err)
	}
	checkContent(t, d, "s/t/u", []byte("u"))
}

// ListNames is the set of names the List test stores. They are chosen so
// that per-directory order differs from full-name order: '-' and '.' sort
// before '/', '0' after it.
var ListNames = []string{
	"ab/x", "ab/y/z", "ab/y-", "ab/y.z", "abc/x", "ab-c", "ab.d", "ab0",
	"b", "0", "~z", "a!", "a/b/c/d", "a/b-c",
}

func testList(t *testing.T, d drivers.Driver) {
	for i, name := range ListNames {
		put(t, d, name, Pattern(uint64(i), i*10))
	}
	prefixes := []string{
		"", "a", "ab", "ab/", "ab/y", "ab/y/", "ab/y/z", "ab/y/z/", "abc", "abc/",
		"a/", "a/b", "a/b/", "a/b/c", "zz", "b", "b/", "~", "0", "ab-", "ab.",
	}
	for _, prefix := range prefixes {
		want := []string{}
		for _, n := range ListNames {
			if strings.HasPrefix(n, prefix) {
				want = append(want, n)
			}
		}
		sort.Strings(want)
		if got := listNames(t, d, prefix); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
	// Sizes and times reported by List.
	err := d.List(context.Background(), "", func(info drivers.Info) error {
		i := slices.Index(ListNames, info.Name)
		if i < 0 || info.Size != int64(i*10) || info.ModTime.IsZero() {
			return fmt.Errorf("List gave %+v", info)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testListStop(t *testing.T, d drivers.Driver) {
	for _, name := range []string{"l/1", "l/2", "l/3", "l/4"} {
		put(t, d, name, []byte(name))
	}
	errStop := errors.New("stop here")
	var seen []string
	err := d.List(context.Background(), "l/", func(info drivers.Info) error {
		seen = append(seen, info.Name)
		if len(seen) == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("List = %v, want fn's error", err)
	}
	if !slices.Equal(seen, []string{"l/1", "l/2"}) {
		t.Fatalf("List visited %q after fn failed, want [l/1 l/2]", seen)
	}
}

func testListDelete(t *testing.T, d drivers.Driver) {
	for _, name := range ListNames {
		put(t, d, name, []byte(name))
	}
	var seen []string
	err := d.List(context.Background(), "", func(info drivers.Info) error {
		seen = append(seen, info.Name)
		return d.Delete(context.Background(), info.Name)
	})
	if err != nil {
		t.Fatalf("List deleting in fn: %v", err)
	}
	want := slices.Clone(ListNames)
	sort.Strings(want)
	if !slices.Equal(seen, want) {
		t.Fatalf("List deleting in fn saw %q, want %q", seen, want)
	}
	if got := listNames(t, d, ""); len(got) != 0 {
		t.Fatalf("left after deleting in List: %q", got)
	}
}

func testConcurrentDistinct(t *testing.T, d drivers.Driver) {
	const workers, perWorker = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range perWorker {
				// Workers share directories so directory creation races too.
				name := fmt.Sprintf("cd/%d/w%d", i%3, w*perWorker+i)
				data := Pattern(uint64(w*perWorker+i), 1000+i*977)
				if _, err := d.Put(ctx, name, bytes.NewReader(data)); err != nil {
					errs <- fmt.Errorf("Put(%q): %w", name, err)
					return
				}
				rc, err := d.Open(ctx, name, 0, -1)
				if err != nil {
					errs <- fmt.Errorf("Open(%q): %w", name, err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("read back %q: %d bytes, %v", name, len(got), err)
					return
				}
				if i%2 == 1 {
					if err := d.Delete(ctx, name); err != nil {
						errs <- fmt.Errorf("Delete(%q): %w", name, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := listNames(t, d, "cd/"); len(got) != workers*perWorker/2 {
		t.Fatalf("List after concurrent puts = %d names, want %d", len(got), workers*perWorker/2)
	}
}

// version returns the content of version v of the shared object: its
// length and every byte derive from v, so a reader can tell a whole
// version from a mix.
func version(v int) []byte {
	b := bytes.Repeat([]byte{byte(v)}, 4096+v*1531)
	return b
}

func checkVersion(b []byte) error {
	if len(b) == 0 {
		return errors.New("read an empty object")
	}
	v := int(b[0])
	if len(b) != 4096+v*1531 {
		return fmt.Errorf("read %d bytes of version %d, want %d", len(b), v, 4096+v*1531)
	}
	for i, c := range b {
		if int(c) != v {
			return fmt.Errorf("byte %d of version %d is %d: versions mixed", i, v, c)
		}
	}
	return nil
}

func testConcurrentSame(t *testing.T, d drivers.Driver) {
	const writers, puts, readers, reads = 3, 10, 3, 20
	put(t, d, "same/obj", version(0))
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range puts {
				v := 1 + w*puts + i
				if _, err := d.Put(context.Background(), "same/obj", bytes.NewReader(version(v))); err != nil {
					errs <- fmt.Errorf("Put version %d: %w", v, err)
					return
				}
			}
		}()
	}
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for range reads {
				rc, err := d.Open(ctx, "same/obj", 0, -1)
				if err != nil {
					errs <- fmt.Errorf("Open: %w", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err == nil {
					err = checkVersion(b)
				}
				if err != nil {
					errs <- err
					return
				}
				if info, err := d.Stat(ctx, "same/obj"); err != nil || info.Size < 4096 {
					errs <- fmt.Errorf("Stat = %+v, %v", info, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := checkVersion(read(t, d, "same/obj", 0, -1)); err != nil {
		t.Fatalf("final version: %v", err)
	}
}

func testUsage(t *testing.T, d drivers.Driver) {
	u, err := d.Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if !u.Online || u.Err != nil {
		t.Fatalf("Usage of a new driver = %+v, want online", u)
	}
	if u.Total < 0 || u.Free < 0 || u.Used < 0 || (u.Total > 0 && u.Free > u.Total) {
		t.Fatalf("Usage figures inconsistent: %+v", u)
	}
	put(t, d, "u", Pattern(11, 10_000))
	u2, err := d.Usage(context.Background())
	if err != nil || !u2.Online {
		t.Fatalf("Usage after Put = %+v, %v", u2, err)
	}
}
