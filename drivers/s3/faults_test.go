package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
	s3 "github.com/vaultaire/vaultaire/drivers/s3"
	"github.com/vaultaire/vaultaire/drivers/s3/s3test"
)

var ctx = context.Background()

// remotes starts the remotes a test runs against: a second Vaultaire
// always, versitygw unless -short.
func remotes(t *testing.T) []*s3test.Remote {
	t.Helper()
	rs := []*s3test.Remote{s3test.StartVaultaire(t)}
	if !testing.Short() {
		rs = append(rs, s3test.StartVersity(t))
	}
	return rs
}

// proxied returns a driver that reaches remote through a fault proxy, with
// a short idle timeout so hangs are found quickly.
func proxied(t *testing.T, remote *s3test.Remote) (*s3.Driver, *s3test.FaultProxy, string) {
	t.Helper()
	proxy := s3test.NewFaultProxy(t, remote.Endpoint)
	bucket := remote.NewBucket(t)
	cfg := testConfig(remote, proxy.URL, bucket, "p")
	cfg.IdleTimeout = 500 * time.Millisecond
	cfg.MaxAttempts = 4
	return newDriver(t, cfg), proxy, bucket
}

func mustPut(t *testing.T, d drivers.Driver, name string, data []byte) {
	t.Helper()
	if n, err := d.Put(ctx, name, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("Put(%q) = %d, %v", name, n, err)
	}
}

func readAll(d drivers.Driver, name string, off, length int64) ([]byte, error) {
	rc, err := d.Open(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustRead(t *testing.T, d drivers.Driver, name string, off, length int64, want []byte) {
	t.Helper()
	got, err := readAll(d, name, off, length)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %q [%d,+%d): %d bytes, %v; want %d bytes", name, off, length, len(got), err, len(want))
	}
}

// uploads lists the multipart uploads in progress in bucket.
func uploads(t *testing.T, remote *s3test.Remote, bucket string) []string {
	t.Helper()
	out, err := remote.Client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// TestCorruptionDetected: bytes flipped on the way from the remote fail a
// full read with drivers.ErrCorrupt (single PUT and multipart objects);
// bytes flipped on the way to the remote are refused by the remote's
// checksum check, and the driver sends the part again from its buffer.
func TestCorruptionDetected(t *testing.T) {
	for _, remote := range remotes(t) {
		t.Run(remote.Kind, func(t *testing.T) {
			d, proxy, bucket := proxied(t, remote)
			small := driverstest.Pattern(1, 100_000)
			large := driverstest.Pattern(2, 12<<20) // 3 parts of 5 MiB
			mustPut(t, d, "small", small)
			mustPut(t, d, "large", large)

			for _, c := range []struct {
				name string
				data []byte
				at   int64
			}{{"small", small, 4321}, {"large", large, 7 << 20}} {
				proxy.Set(s3test.Fault{Effect: s3test.CorruptResponse, Method: "GET", Offset: c.at, Times: 1})
				got, err := readAll(d, c.name, 0, -1)
				if !errors.Is(err, drivers.ErrCorrupt) {
					t.Fatalf("full read of %s with a flipped byte: %d bytes, err %v; want ErrCorrupt", c.name, len(got), err)
				}
				// Read again without the fault: the object itself is fine.
				mustRead(t, d, c.name, 0, -1, c.data)
			}
			if got := d.Stats().Corrupt; got != 2 {
				t.Fatalf("Stats.Corrupt = %d, want 2", got)
			}

			// Upload corruption, once: refused by the remote, resent.
			before := d.Stats().Retries
			proxy.Set(s3test.Fault{Effect: s3test.CorruptRequest, Method: "PUT", Offset: 999, Times: 1})
			mustPut(t, d, "small", small)
			proxy.Set(s3test.Fault{Effect: s3test.CorruptRequest, Method: "PUT", Query: "partNumber=2", Offset: 12345, Times: 1})
			mustPut(t, d, "large", large)
			proxy.Clear()
			if got := d.Stats().Retries - before; got < 2 {
				t.Fatalf("%d retries after two corrupted uploads, want >= 2", got)
			}
			mustRead(t, d, "small", 0, -1, small)
			mustRead(t, d, "large", 0, -1, large)

			// Corruption on every attempt: the Put fails, the old object
			// stays, no upload is left behind.
			proxy.Set(s3test.Fault{Effect: s3test.CorruptRequest, Method: "PUT", Offset: 10})
			if _, err := d.Put(ctx, "small", bytes.NewReader(driverstest.Pattern(3, 1000))); err == nil {
				t.Fatal("Put with every attempt corrupted succeeded")
			}
			if _, err := d.Put(ctx, "large", bytes.NewReader(driverstest.Pattern(4, 11<<20))); err == nil {
				t.Fatal("multipart Put with every part corrupted succeeded")
			}
			proxy.Clear()
			mustRead(t, d, "small", 0, -1, small)
			mustRead(t, d, "large", 0, -1, large)
			if u := uploads(t, remote, bucket); len(u) != 0 {
				t.Fatalf("uploads left after failed Puts: %q", u)
			}
		})
	}
}

// TestRemoteChecksContentMD5 backs the driver's claim that uploads are
// verified by a checksum the remote checks: each remote refuses a body
// whose Content-MD5 does not match, for PutObject and UploadPart.
func TestRemoteChecksContentMD5(t *testing.T) {
	for _, remote := range remotes(t) {
		t.Run(remote.Kind, func(t *testing.T) {
			c := remote.Client()
			bucket := remote.NewBucket(t)
			body := []byte("the body")
			wrong := md5.Sum([]byte("another body"))
			_, err := c.PutObject(ctx, &awss3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader(body),
				ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:])),
			})
			if err == nil || !strings.Contains(err.Error(), "BadDigest") {
				t.Fatalf("PutObject with a wrong Content-MD5 = %v, want BadDigest", err)
			}
			up, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("m")})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.UploadPart(ctx, &awss3.UploadPartInput{
				Bucket: aws.String(bucket), Key: aws.String("m"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
				Body: bytes.NewReader(body), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:])),
			})
			if err == nil || !strings.Contains(err.Error(), "BadDigest") {
				t.Fatalf("UploadPart with a wrong Content-MD5 = %v, want BadDigest", err)
			}
			if _, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err == nil {
				t.Fatal("the refused PutObject is visible")
			}
		})
	}
}

// TestRetries: transient errors (SlowDown, 500) are retried with backoff up
// to MaxAttempts; when they persist the call fails with ErrUnavailable
// after exactly MaxAttempts requests.
func TestRetries(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	d, proxy, _ := proxied(t, remote)
	data := driverstest.Pattern(5, 50_000)

	proxy.Set(s3test.Fault{Effect: s3test.Fail, Method: "PUT", Times: 2}) // 503 SlowDown
	mustPut(t, d, "x", data)
	proxy.Set(s3test.Fault{Effect: s3test.Fail, Method: "GET", Status: 500, Code: "InternalError", Times: 2})
	mustRead(t, d, "x", 0, -1, data)
	proxy.Set(s3test.Fault{Effect: s3test.Fail, Method: "HEAD", Status: 502, Code: "BadGateway", Times: 1})
	if info, err := d.Stat(ctx, "x"); err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat after one 502 = %+v, %v", info, err)
	}
	if got := d.Stats().Retries; got != 5 {
		t.Fatalf("Stats.Retries = %d, want 5", got)
	}
	// A single PutObject sent from several part buffers is rewound
	// whole for its retry.
	cfg := testConfig(remote, proxy.URL, remote.NewBucket(t), "")
	cfg.MultipartThreshold = 2 * s3.MinPartSize
	two := newDriver(t, cfg)
	seven := driverstest.Pattern(6, 7<<20)
	proxy.Set(s3test.Fault{Effect: s3test.CorruptRequest, Method: "PUT", Offset: 6 << 20, Times: 1})
	mustPut(t, two, "seven", seven)
	if two.Stats().Retries != 1 || proxy.Hits() == 0 {
		t.Fatalf("retries of the two-buffer PutObject = %d", two.Stats().Retries)
	}
	mustRead(t, two, "seven", 0, -1, seven)

	for _, op := range []struct {
		method string
		call   func() error
	}{
		{"PUT", func() error { _, err := d.Put(ctx, "y", bytes.NewReader(data)); return err }},
		{"GET", func() error { _, err := readAll(d, "x", 0, -1); return err }},
		{"GET", func() error { return d.List(ctx, "", func(drivers.Info) error { return nil }) }},
		{"HEAD", func() error { _, err := d.Stat(ctx, "x"); return err }},
	} {
		proxy.Set(s3test.Fault{Effect: s3test.Fail, Method: op.method})
		before := proxy.Requests()
		err := op.call()
		if !errors.Is(err, drivers.ErrUnavailable) {
			t.Fatalf("%s failing every time = %v, want ErrUnavailable", op.method, err)
		}
		if n := proxy.Requests() - before; n != 4 {
			t.Fatalf("%s failing every time: %d requests, want MaxAttempts = 4", op.method, n)
		}
	}
	proxy.Clear()
	if _, err := d.Stat(ctx, "y"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("failed Put left y: %v", err)
	}
}

// TestHangs: a remote that accepts requests and never answers, or stops
// in the middle of a body, is given up on: by the caller's deadline, or by
// IdleTimeout (then retried, and reads resume where they were).
func TestHangs(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	d, proxy, bucket := proxied(t, remote)
	data := driverstest.Pattern(6, 3<<20)
	mustPut(t, d, "obj", data)

	// The caller's deadline ends a hung call, whatever IdleTimeout says.
	slow := newDriver(t, func() s3.Config {
		c := testConfig(remote, proxy.URL, bucket, "p")
		c.IdleTimeout = time.Hour
		return c
	}())
	proxy.Set(s3test.Fault{Effect: s3test.Hang})
	for name, call := range map[string]func(context.Context) error{
		"open": func(ctx context.Context) error { _, err := slow.Open(ctx, "obj", 0, -1); return err },
		"stat": func(ctx context.Context) error { _, err := slow.Stat(ctx, "obj"); return err },
		"put":  func(ctx context.Context) error { _, err := slow.Put(ctx, "new", bytes.NewReader(data)); return err },
		"list": func(ctx context.Context) error { return slow.List(ctx, "", func(drivers.Info) error { return nil }) },
	} {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := call(cctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s on a hung remote with a deadline = %v, want DeadlineExceeded", name, err)
		}
	}

	// Without a deadline, IdleTimeout gives up on each attempt.
	before := proxy.Requests()
	if _, err := d.Stat(ctx, "obj"); !errors.Is(err, drivers.ErrUnavailable) {
		t.Fatalf("Stat on a hung remote = %v, want ErrUnavailable", err)
	}
	if n := proxy.Requests() - before; n != 4 {
		t.Fatalf("%d attempts on a hung remote, want 4", n)
	}

	// A body that stalls or is cut once: the read resumes and verifies.
	for _, e := range []s3test.Effect{s3test.StallResponse, s3test.CutResponse} {
		resumes := d.Stats().Resumes
		proxy.Set(s3test.Fault{Effect: e, Method: "GET", Offset: 1 << 20, Times: 1})
		mustRead(t, d, "obj", 0, -1, data)
		proxy.Set(s3test.Fault{Effect: e, Method: "GET", Offset: 1000, Times: 1})
		mustRead(t, d, "obj", 100, 2<<20, data[100:100+2<<20])
		if got := d.Stats().Resumes - resumes; got != 2 {
			t.Fatalf("effect %d: %d resumes, want 2", e, got)
		}
	}
	// A body cut every time: bounded resumes, then ErrUnavailable.
	proxy.Set(s3test.Fault{Effect: s3test.CutResponse, Method: "GET", Offset: 1000})
	if _, err := readAll(d, "obj", 0, -1); !errors.Is(err, drivers.ErrUnavailable) {
		t.Fatalf("read cut every time = %v, want ErrUnavailable", err)
	}
	proxy.Clear()
	// A resume never mixes versions: the object replaced between the cut
	// and the resume fails the read (If-Match) instead.
	proxy.Set(s3test.Fault{Effect: s3test.StallResponse, Method: "GET", Offset: 1000, Times: 1})
	rc, err := d.Open(ctx, "obj", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	proxy.Clear()
	mustPut(t, d, "obj", driverstest.Pattern(7, 3<<20))
	_, err = io.ReadAll(rc)
	rc.Close()
	if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("read across an overwrite = %v, want a changed-object error", err)
	}
}

// TestBadCredentials: a wrong secret or an unknown key fail every call with
// ErrAccessDenied (also ErrUnavailable), never ErrNotFound, and Check says
// which it is.
func TestBadCredentials(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	bucket := remote.NewBucket(t)
	good := newDriver(t, testConfig(remote, remote.Endpoint, bucket, ""))
	mustPut(t, good, "x", []byte("x"))
	for _, tc := range []struct{ name, key, secret, hint string }{
		{"wrong secret", remote.AccessKey, "not-the-secret", "secret key does not match"},
		{"unknown key", "NOSUCHKEY", remote.SecretKey, "access key is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(remote, remote.Endpoint, bucket, "")
			cfg.AccessKey, cfg.SecretKey = tc.key, tc.secret
			d := newDriver(t, cfg)
			err := d.Check(ctx)
			if !errors.Is(err, s3.ErrAccessDenied) || !errors.Is(err, drivers.ErrUnavailable) || !strings.Contains(err.Error(), tc.hint) {
				t.Fatalf("Check = %v, want ErrAccessDenied saying %q", err, tc.hint)
			}
			checkAll(t, d, "x", s3.ErrAccessDenied)
			if u, err := d.Usage(ctx); err != nil || u.Online || !errors.Is(u.Err, s3.ErrAccessDenied) {
				t.Fatalf("Usage = %+v, %v; want offline with ErrAccessDenied", u, err)
			}
			// Nothing was retried: a refusal is not transient.
			if r := d.Stats().Retries; r != 0 {
				t.Fatalf("%d retries of refused requests", r)
			}
		})
	}
	mustRead(t, good, "x", 0, -1, []byte("x"))
}

// checkAll calls every method on name and wants errors matching want.
func checkAll(t *testing.T, d drivers.Driver, name string, want error) {
	t.Helper()
	if _, err := d.Put(ctx, name, strings.NewReader("new")); !errors.Is(err, want) {
		t.Errorf("Put = %v, want %v", err, want)
	}
	if _, err := d.Put(ctx, name+"-large", driverstest.NewPatternReader(1, 6<<20)); !errors.Is(err, want) {
		t.Errorf("multipart Put = %v, want %v", err, want)
	}
	if _, err := d.Open(ctx, name, 0, -1); !errors.Is(err, want) || errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Open = %v, want %v", err, want)
	}
	if _, err := d.Open(ctx, name, 0, 0); !errors.Is(err, want) || errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Open(length 0) = %v, want %v", err, want)
	}
	if _, err := d.Stat(ctx, name); !errors.Is(err, want) || errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Stat = %v, want %v", err, want)
	}
	if err := d.Delete(ctx, name); !errors.Is(err, want) || errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Delete = %v, want %v", err, want)
	}
	if err := d.List(ctx, "", func(drivers.Info) error { return nil }); !errors.Is(err, want) {
		t.Errorf("List = %v, want %v", err, want)
	}
}

// TestMissingBucket: a bucket that does not exist is ErrNoSuchBucket from
// every call, HEAD-based ones included (whose 404 has no body to tell a
// missing bucket from a missing key), never ErrNotFound.
func TestMissingBucket(t *testing.T) {
	for _, remote := range remotes(t) {
		t.Run(remote.Kind, func(t *testing.T) {
			d := newDriver(t, testConfig(remote, remote.Endpoint, "no-such-bucket-here", "p"))
			if err := d.Check(ctx); !errors.Is(err, s3.ErrNoSuchBucket) || !errors.Is(err, drivers.ErrUnavailable) ||
				!strings.Contains(err.Error(), "does not exist") {
				t.Fatalf("Check = %v, want ErrNoSuchBucket", err)
			}
			checkAll(t, d, "x", s3.ErrNoSuchBucket)
			if u, err := d.Usage(ctx); err != nil || u.Online || !errors.Is(u.Err, s3.ErrNoSuchBucket) {
				t.Fatalf("Usage = %+v, %v", u, err)
			}
		})
	}
}

// TestUnreachable: nothing listening at the endpoint is ErrUnavailable
// after the retries.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := newDriver(t, s3.Config{Endpoint: "http://" + addr, Bucket: "bkt", AccessKey: "a", SecretKey: "b",
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 2 * time.Millisecond})
	if err := d.Check(ctx); !errors.Is(err, drivers.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Check = %v, want ErrUnavailable naming the endpoint", err)
	}
	if _, err := d.Stat(ctx, "x"); !errors.Is(err, drivers.ErrUnavailable) {
		t.Fatalf("Stat = %v", err)
	}
	if d.Stats().Retries == 0 {
		t.Fatal("connection refused was not retried")
	}
}

// TestRangesFetchOnlyTheRange counts the body bytes the remote sends: a
// ranged Open moves the range, not the object.
func TestRangesFetchOnlyTheRange(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	d, proxy, _ := proxied(t, remote)
	data := driverstest.Pattern(8, 8<<20)
	mustPut(t, d, "big", data)
	for _, r := range [][2]int64{{0, 100}, {3 << 20, 4096}, {8<<20 - 10, -1}, {8<<20 - 10, 1 << 20}, {5, 1}} {
		before := proxy.ResponseBytes()
		want := data[r[0]:]
		if r[1] >= 0 && r[1] < int64(len(want)) {
			want = want[:r[1]]
		}
		mustRead(t, d, "big", r[0], r[1], want)
		if moved := proxy.ResponseBytes() - before; moved != int64(len(want)) {
			t.Fatalf("range %v moved %d body bytes, want %d", r, moved, len(want))
		}
	}
	// Past the end: nothing moves, the object is known to exist.
	before := proxy.ResponseBytes()
	mustRead(t, d, "big", 9<<20, 10, []byte{})
	if _, err := d.Open(ctx, "missing", 9<<20, 10); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("range past the end of a missing object = %v", err)
	}
	if moved := proxy.ResponseBytes() - before; moved > 1024 {
		t.Fatalf("a range past the end moved %d bytes", moved)
	}
}

// TestUploadShape: streams up to MultipartThreshold are one PutObject (an
// ETag without a part count), longer ones multipart with the part size
// recorded; the boundary is exact, whatever the reader's chunking.
func TestUploadShape(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	bucket := remote.NewBucket(t)
	cfg := testConfig(remote, remote.Endpoint, bucket, "shape")
	cfg.PartSize = s3.MinPartSize
	cfg.PartConcurrency = 3
	cfg.MultipartThreshold = 2*s3.MinPartSize + 1 // needs a third buffer
	d := newDriver(t, cfg)
	for _, tc := range []struct {
		size  int
		parts int // 0: single PUT
	}{
		{0, 0}, {1, 0}, {s3.MinPartSize, 0}, {2*s3.MinPartSize + 1, 0},
		{2*s3.MinPartSize + 2, 3}, {3 * s3.MinPartSize, 3}, {3*s3.MinPartSize + 1, 4},
	} {
		data := driverstest.Pattern(uint64(tc.size), tc.size)
		if _, err := d.Put(ctx, "obj", iotest.HalfReader(bytes.NewReader(data))); err != nil {
			t.Fatalf("Put(%d bytes): %v", tc.size, err)
		}
		head, err := remote.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("shape/obj")})
		if err != nil {
			t.Fatal(err)
		}
		etag := strings.Trim(aws.ToString(head.ETag), `"`)
		_, count, multi := strings.Cut(etag, "-")
		switch {
		case tc.parts == 0 && multi:
			t.Errorf("%d bytes: ETag %s, want a single PUT", tc.size, etag)
		case tc.parts > 0 && (count != strconv.Itoa(tc.parts) || head.Metadata["vaultaire-part-size"] != strconv.Itoa(s3.MinPartSize)):
			t.Errorf("%d bytes: ETag %s metadata %v, want %d parts of %d", tc.size, etag, head.Metadata, tc.parts, s3.MinPartSize)
		}
		mustRead(t, d, "obj", 0, -1, data)
	}
}

// TestFailedPutsLeaveNothing: a reader that fails, or a context cancelled,
// in the middle of a multipart Put leaves no object and no upload.
func TestFailedPutsLeaveNothing(t *testing.T) {
	for _, remote := range remotes(t) {
		t.Run(remote.Kind, func(t *testing.T) {
			bucket := remote.NewBucket(t)
			d := newDriver(t, testConfig(remote, remote.Endpoint, bucket, "f"))
			boom := errors.New("boom")
			src := io.MultiReader(driverstest.NewPatternReader(1, 17<<20), iotest.ErrReader(boom))
			if _, err := d.Put(ctx, "a", src); !errors.Is(err, boom) {
				t.Fatalf("Put(failing reader) = %v", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			src = io.MultiReader(driverstest.NewPatternReader(2, 12<<20), readerFunc(func([]byte) (int, error) {
				cancel()
				return 0, nil
			}), driverstest.NewPatternReader(3, 12<<20))
			if _, err := d.Put(cctx, "b", src); !errors.Is(err, context.Canceled) {
				t.Fatalf("Put cancelled mid-stream = %v", err)
			}
			for _, name := range []string{"a", "b"} {
				if _, err := d.Stat(ctx, name); !errors.Is(err, drivers.ErrNotFound) {
					t.Fatalf("Stat(%s) after a failed Put = %v", name, err)
				}
			}
			if u := uploads(t, remote, bucket); len(u) != 0 {
				t.Fatalf("uploads left: %q", u)
			}
			if got := d.Stats().Abandoned; got != 0 {
				t.Fatalf("Stats.Abandoned = %d", got)
			}
		})
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestAbortIncomplete removes uploads older than the cut-off under the
// driver's prefix, and only those.
func TestAbortIncomplete(t *testing.T) {
	for _, remote := range remotes(t) {
		t.Run(remote.Kind, func(t *testing.T) {
			bucket := remote.NewBucket(t)
			d := newDriver(t, testConfig(remote, remote.Endpoint, bucket, "mine"))
			for _, key := range []string{"mine/a", "mine/b/c", "other/x"} {
				if _, err := remote.Client().CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
					Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := d.AbortIncomplete(ctx, time.Hour); err != nil || n != 0 {
				t.Fatalf("AbortIncomplete(1h) = %d, %v; want 0 (all are young)", n, err)
			}
			time.Sleep(1100 * time.Millisecond) // S3 times have second precision
			if n, err := d.AbortIncomplete(ctx, time.Second); err != nil || n != 2 {
				t.Fatalf("AbortIncomplete = %d, %v; want 2", n, err)
			}
			if u := uploads(t, remote, bucket); len(u) != 1 || u[0] != "other/x" {
				t.Fatalf("uploads left = %q, want [other/x]", u)
			}
		})
	}
}

// TestETagMismatchOnPut: a remote whose ETags are not content MD5s makes
// Put fail (saying to set OpaqueETags) and leaves nothing; with
// OpaqueETags the same remote is accepted.
func TestETagMismatchOnPut(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	d, proxy, bucket := proxied(t, remote)
	proxy.Set(s3test.Fault{Effect: s3test.MangleETag, Method: "PUT"})
	_, err := d.Put(ctx, "x", strings.NewReader("data"))
	if err == nil || !strings.Contains(err.Error(), "OpaqueETags") {
		t.Fatalf("Put with a foreign ETag = %v", err)
	}
	if _, err := d.Put(ctx, "big", driverstest.NewPatternReader(1, 6<<20)); err == nil || !strings.Contains(err.Error(), "OpaqueETags") {
		t.Fatalf("multipart Put with foreign part ETags = %v", err)
	}
	proxy.Clear()
	for _, name := range []string{"x", "big"} {
		if _, err := d.Stat(ctx, name); !errors.Is(err, drivers.ErrNotFound) {
			t.Fatalf("Stat(%s) = %v", name, err)
		}
	}
	if u := uploads(t, remote, bucket); len(u) != 0 {
		t.Fatalf("uploads left: %q", u)
	}
	cfg := testConfig(remote, proxy.URL, bucket, "p")
	cfg.OpaqueETags = true
	opaque := newDriver(t, cfg)
	proxy.Set(s3test.Fault{Effect: s3test.MangleETag, Method: "PUT"})
	mustPut(t, opaque, "x", []byte("data"))
	mustRead(t, opaque, "x", 0, -1, []byte("data"))
}

// TestPutMemoryBounded streams 40 MiB through a multipart Put and checks
// that neither the heap in use nor the bytes allocated grow by more than
// PartConcurrency part buffers (plus slack for the SDK and the test).
func TestPutMemoryBounded(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	cfg := testConfig(remote, remote.Endpoint, remote.NewBucket(t), "")
	cfg.PartConcurrency = 2
	d := newDriver(t, cfg)
	const size = 40 << 20 // 8 parts: four times the bound
	const slack = 4 << 20
	bound := uint64(cfg.PartConcurrency)*uint64(cfg.PartSize) + slack
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, alloc0 := ms.HeapInuse, ms.TotalAlloc
	var peak uint64
	samples := 0
	pr := driverstest.NewPatternReader(1, size)
	src := readerFunc(func(p []byte) (int, error) {
		// Small reads, each sampling the heap: parts are in flight
		// while the next one fills.
		if len(p) > 256<<10 {
			p = p[:256<<10]
		}
		if samples++; samples%4 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		return pr.Read(p)
	})
	if n, err := d.Put(ctx, "big", src); err != nil || n != size {
		t.Fatalf("Put = %d, %v", n, err)
	}
	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc - alloc0
	grew := peak - min(peak, base)
	t.Logf("40 MiB multipart Put: heap in use grew %.1f MiB at most, %.1f MiB allocated; bound %.1f MiB (%d parts of %d MiB + slack)",
		float64(grew)/(1<<20), float64(allocated)/(1<<20), float64(bound)/(1<<20), cfg.PartConcurrency, cfg.PartSize>>20)
	if grew > bound {
		t.Errorf("heap in use grew by %d bytes, bound %d", grew, bound)
	}
	if allocated > bound {
		t.Errorf("Put allocated %d bytes, bound %d", allocated, bound)
	}
}

// TestClosed: calls after Close fail with ErrClosed.
func TestClosed(t *testing.T) {
	d, err := s3.New(s3.Config{Endpoint: "http://127.0.0.1:1", Bucket: "bkt", AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	d.Close()
	if _, err := d.Put(ctx, "x", strings.NewReader("x")); !errors.Is(err, s3.ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	if _, err := d.Stat(ctx, "x"); !errors.Is(err, s3.ErrClosed) {
		t.Fatalf("Stat after Close = %v", err)
	}
}
