package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/vaultaire/vaultaire/drivers/driverstest"
)

// TestChunker cuts streams of sizes around the buffer size with readers of
// every shape and checks the pieces, the last flag and the total.
func TestChunker(t *testing.T) {
	const bufSize = 1000
	readers := map[string]func(io.Reader) io.Reader{
		"plain":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"dataerr": iotest.DataErrReader,
	}
	for _, size := range []int{0, 1, bufSize - 1, bufSize, bufSize + 1, 2 * bufSize, 3*bufSize + 7} {
		for rname, wrap := range readers {
			t.Run(fmt.Sprintf("%d/%s", size, rname), func(t *testing.T) {
				data := driverstest.Pattern(uint64(size), size)
				c := &chunker{ctx: context.Background(), r: wrap(bytes.NewReader(data))}
				var got []byte
				pieces := 0
				for {
					buf := make([]byte, bufSize)
					n, last, err := c.fill(buf)
					if err != nil {
						t.Fatalf("fill: %v", err)
					}
					pieces++
					got = append(got, buf[:n]...)
					if !last && n != bufSize {
						t.Fatalf("piece %d: %d bytes but not last", pieces, n)
					}
					if last {
						break
					}
					if pieces > size/bufSize+2 {
						t.Fatal("no last piece")
					}
				}
				if !bytes.Equal(got, data) || c.total != int64(size) {
					t.Fatalf("got %d bytes (total %d), want %d", len(got), c.total, size)
				}
				// Full pieces only: a stream of exactly k buffers ends
				// with the k-th, not with an empty piece.
				want := max(1, (size+bufSize-1)/bufSize)
				if pieces != want {
					t.Fatalf("%d pieces, want %d", pieces, want)
				}
			})
		}
	}
}

func TestChunkerErrors(t *testing.T) {
	boom := errors.New("boom")
	// The reader's errors, io.ErrUnexpectedEOF included, are failures.
	for _, rerr := range []error{boom, io.ErrUnexpectedEOF} {
		c := &chunker{ctx: context.Background(), r: io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(rerr))}
		_, _, err := c.fill(make([]byte, 10))
		var re readError
		if !errors.As(err, &re) || !errors.Is(err, rerr) {
			t.Errorf("fill with a reader failing %v = %v", rerr, err)
		}
	}
	// A failure in the look-ahead byte.
	c := &chunker{ctx: context.Background(), r: io.MultiReader(strings.NewReader("0123456789"), iotest.ErrReader(boom))}
	if _, _, err := c.fill(make([]byte, 10)); !errors.Is(err, boom) {
		t.Errorf("look-ahead failure = %v", err)
	}
	// A reader that never makes progress.
	c = &chunker{ctx: context.Background(), r: zeroReader{}}
	if _, _, err := c.fill(make([]byte, 10)); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("zero reader = %v", err)
	}
	// A cancelled context stops it before the next Read.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c = &chunker{ctx: ctx, r: strings.NewReader("abc")}
	if _, _, err := c.fill(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled = %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestMultiBuf(t *testing.T) {
	data := driverstest.Pattern(5, 2500)
	bufs := [][]byte{data[:1000], data[1000:2000], data[2000:]}
	m := newMultiBuf(bufs)
	if err := iotest.TestReader(m, data); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1, 999, 1000, 1001, 2499, 2500} {
		if _, err := m.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(m)
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Fatalf("from %d: %d bytes, %v", off, len(got), err)
		}
	}
	if n, _ := m.Seek(0, io.SeekEnd); n != 2500 {
		t.Fatalf("SeekEnd = %d", n)
	}
	if _, err := m.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("negative seek accepted")
	}
}

// etagOf computes the ETag S3 gives a multipart upload of data in parts of
// partSize bytes (or a single PUT when partSize is 0).
func etagOf(data []byte, partSize int) string {
	if partSize == 0 {
		s := md5.Sum(data)
		return `"` + hex.EncodeToString(s[:]) + `"`
	}
	var sums []byte
	n := 0
	for off := 0; off < len(data) || n == 0; off += partSize {
		s := md5.Sum(data[off:min(off+partSize, len(data))])
		sums = append(sums, s[:]...)
		n++
	}
	s := md5.Sum(sums)
	return `"` + hex.EncodeToString(s[:]) + "-" + strconv.Itoa(n) + `"`
}

func TestVerifier(t *testing.T) {
	data := driverstest.Pattern(9, 10_000)
	meta := func(size int) map[string]string {
		return map[string]string{"Vaultaire-Part-Size": strconv.Itoa(size)}
	}
	for _, tc := range []struct {
		name     string
		etag     string
		meta     map[string]string
		data     []byte
		verifies bool // a verifier is made
		ok       bool
	}{
		{"plain", etagOf(data, 0), nil, data, true, true},
		{"plain empty", etagOf(nil, 0), nil, nil, true, true},
		{"plain wrong", etagOf(data[1:], 0), nil, data, true, false},
		{"multipart", etagOf(data, 3000), meta(3000), data, true, true},
		{"multipart exact parts", etagOf(data[:9000], 3000), meta(3000), data[:9000], true, true},
		{"multipart one part", etagOf(data[:100], 3000), meta(3000), data[:100], true, true},
		{"multipart wrong size", etagOf(data, 3000), meta(4000), data, true, false},
		{"multipart flipped", etagOf(data, 3000), meta(3000), flip(data, 5000), true, false},
		{"multipart without part size", etagOf(data, 3000), nil, data, false, false},
		{"opaque", `"not-an-md5"`, nil, data, false, false},
		{"short hex", `"abcdef"`, nil, data, false, false},
		{"bad part count", `"` + strings.Repeat("a", 32) + `-0"`, meta(10), data, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(tc.etag, tc.meta)
			if (v != nil) != tc.verifies {
				t.Fatalf("verifier made: %v, want %v", v != nil, tc.verifies)
			}
			if v == nil {
				return
			}
			// Odd write sizes across part boundaries.
			for p := tc.data; len(p) > 0; {
				n := min(len(p), 777)
				v.write(p[:n])
				p = p[n:]
			}
			if err := v.check(); (err == nil) != tc.ok {
				t.Fatalf("check = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func flip(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 1
	return c
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                string
		start, end, total int64
		ok                bool
	}{
		{"bytes 0-99/1000", 0, 99, 1000, true},
		{"bytes 5-5/6", 5, 5, 6, true},
		{"bytes 5-9/*", 5, 9, -1, true},
		{"bytes 5-9/9", 0, 0, 0, false},
		{"bytes 9-5/100", 0, 0, 0, false},
		{"bytes */100", 0, 0, 0, false},
		{"bytes -5-9/100", 0, 0, 0, false},
		{"bytes +5-9/100", 0, 0, 0, false},
		{"bytes 5-+9/100", 0, 0, 0, false},
		{"bytes 5-9/+100", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes 0-1", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		s, e, tot, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (s != tc.start || e != tc.end || tot != tc.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, s, e, tot, ok)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/1000", "bytes 5-9/*", "bytes */0", "bytes 1-0/2", "bytes 007-8/9", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, total, ok := parseContentRange(s)
		if !ok {
			return
		}
		if start < 0 || end < start || (total != -1 && total <= end) {
			t.Fatalf("%q parsed to inconsistent %d-%d/%d", s, start, end, total)
		}
		// What was accepted prints back to something that parses the same.
		canon := fmt.Sprintf("bytes %d-%d/", start, end)
		if total == -1 {
			canon += "*"
		} else {
			canon += strconv.FormatInt(total, 10)
		}
		s2, e2, t2, ok2 := parseContentRange(canon)
		if !ok2 || s2 != start || e2 != end || t2 != total {
			t.Fatalf("%q -> %q does not round-trip", s, canon)
		}
	})
}

func TestBackoff(t *testing.T) {
	base, maxDelay := 100*time.Millisecond, time.Second
	for attempt := 1; attempt <= 40; attempt++ {
		d := min(maxDelay, base<<min(attempt-1, 20))
		for range 50 {
			got := backoff(base, maxDelay, attempt)
			if got < d/2 || got > d {
				t.Fatalf("backoff(attempt %d) = %v, want in [%v, %v]", attempt, got, d/2, d)
			}
		}
	}
	if got := backoff(0, time.Second, 3); got != 0 {
		t.Fatalf("zero base = %v", got)
	}
}

func TestValidate(t *testing.T) {
	good := Config{Endpoint: "https://s3.us-east-1.lyvecloud.seagate.com", Bucket: "cold-tier", AccessKey: "AK", SecretKey: "SK"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	d := good.withDefaults()
	if d.Region != DefaultRegion || d.PartSize != DefaultPartSize || d.PartConcurrency != DefaultPartConcurrency ||
		d.MultipartThreshold != DefaultMultipartThreshold || d.MaxAttempts != DefaultMaxAttempts ||
		d.IdleTimeout != DefaultIdleTimeout || d.DialTimeout != DefaultDialTimeout ||
		d.RetryBaseDelay != DefaultRetryBaseDelay || d.RetryMaxDelay != DefaultRetryMaxDelay {
		t.Fatalf("defaults: %+v", d)
	}
	with := func(f func(*Config)) Config { c := good; f(&c); return c }
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error, one per problem
	}{
		{"empty", Config{}, []string{"Endpoint is empty", "Bucket is empty", "AccessKey is empty", "SecretKey is empty"}},
		{"scheme", with(func(c *Config) { c.Endpoint = "ftp://x" }), []string{"scheme"}},
		{"no host", with(func(c *Config) { c.Endpoint = "https://" }), []string{"no host"}},
		{"query", with(func(c *Config) { c.Endpoint = "https://h/?a=b" }), []string{"only scheme"}},
		{"user", with(func(c *Config) { c.Endpoint = "https://u:p@h" }), []string{"only scheme"}},
		{"bucket", with(func(c *Config) { c.Bucket = "a/b" }), []string{"not a bucket name"}},
		{"short bucket", with(func(c *Config) { c.Bucket = "ab" }), []string{"not a bucket name"}},
		{"prefix", with(func(c *Config) { c.Prefix = "/abs" }), []string{"Prefix"}},
		{"prefix dots", with(func(c *Config) { c.Prefix = "a/../b" }), []string{"Prefix"}},
		{"long prefix", with(func(c *Config) { c.Prefix = strings.Repeat("p", 600) }), []string{"key limit"}},
		{"style", with(func(c *Config) { c.Style = "sideways" }), []string{"Style"}},
		{"virtual ip", with(func(c *Config) { c.Style = StyleVirtualHosted; c.Endpoint = "http://10.0.0.1:9000" }), []string{"IP address"}},
		{"virtual bucket", with(func(c *Config) { c.Style = StyleVirtualHosted; c.Bucket = "Upper_Case" }), []string{"DNS name"}},
		{"ca file", with(func(c *Config) { c.CAFile = "/nonexistent/ca.pem" }), []string{"CAFile"}},
		{"small part", with(func(c *Config) { c.PartSize = 1 << 20 }), []string{"PartSize"}},
		{"huge part", with(func(c *Config) { c.PartSize = 6 << 30 }), []string{"PartSize"}},
		{"concurrency", with(func(c *Config) { c.PartConcurrency = 1000 }), []string{"PartConcurrency"}},
		{"threshold", with(func(c *Config) { c.MultipartThreshold = 1 << 40 }), []string{"MultipartThreshold"}},
		{"negative threshold", with(func(c *Config) { c.MultipartThreshold = -1 }), []string{"MultipartThreshold"}},
		{"attempts", with(func(c *Config) { c.MaxAttempts = -1 }), []string{"MaxAttempts"}},
		{"delays", with(func(c *Config) { c.RetryBaseDelay = time.Minute; c.RetryMaxDelay = time.Second }), []string{"RetryBaseDelay"}},
		{"timeouts", with(func(c *Config) { c.DialTimeout = -1; c.IdleTimeout = -1 }), []string{"DialTimeout", "IdleTimeout"}},
		{"region", with(func(c *Config) { c.Region = "us east" }), []string{"Region"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tc.want) {
				t.Errorf("%d problems reported, want %d: %v", got, len(tc.want), err)
			}
			if _, nerr := New(tc.cfg); nerr == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestPathStyle(t *testing.T) {
	for _, tc := range []struct {
		endpoint, bucket string
		style            Style
		path             bool
	}{
		{"https://s3.us-east-1.amazonaws.com", "cold", StyleAuto, false},
		{"https://s3.us-east-1.amazonaws.com", "Legacy_Bucket", StyleAuto, true},
		{"https://s3.us-east-1.lyvecloud.seagate.com", "cold", StyleAuto, true},
		{"http://127.0.0.1:9000", "cold", StyleAuto, true},
		{"https://s3.us-east-1.lyvecloud.seagate.com", "cold", StyleVirtualHosted, false},
		{"https://s3.us-east-1.amazonaws.com", "cold", StylePath, true},
	} {
		c := Config{Endpoint: tc.endpoint, Bucket: tc.bucket, Style: tc.style}
		if got := c.pathStyle(); got != tc.path {
			t.Errorf("%s %s %q: path style %v, want %v", tc.endpoint, tc.bucket, tc.style, got, tc.path)
		}
	}
}
