package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/drivers"
)

// Open implements drivers.Driver. A read of the whole object (off 0,
// length < 0) is one plain GetObject whose bytes are verified against the
// object's ETag (unless Config.OpaqueETags): a mismatch is returned by
// Read in place of io.EOF as an error wrapping drivers.ErrCorrupt. Any
// other read is a GetObject with a Range header, so only the range crosses
// the network; ranges cannot be checked against a whole-object ETag and
// are not verified here (the Engine verifies what it reads with the
// checksums it stored). Length 0 asks HeadObject whether the object exists.
//
// If the connection fails mid-body (reset, idle timeout, a body cut
// short) the reader continues where it was with a ranged GetObject that
// says If-Match the ETag it started with, so it never mixes two versions;
// at most MaxAttempts-1 such resumes per reader, with backoff. The reader
// is tied to ctx: cancelling ctx ends it.
func (d *Driver) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := d.beginName(ctx, "open", name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("s3: open %s: negative offset %d", d.where(name), off)
	}
	if length == 0 {
		if _, err := d.headObject(ctx, "open", name); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	r := &reader{d: d, ctx: ctx, name: name, pos: off, end: -1}
	if length > 0 && length <= math.MaxInt64-off {
		r.end = off + length
	}
	full := off == 0 && length < 0
	err := r.open(full)
	if err != nil && r.empty {
		// The range starts at or past the end (416): the object exists,
		// unless HEAD says otherwise.
		if _, herr := d.headObject(ctx, "open", name); herr != nil {
			return nil, herr
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// reader streams one Open, resuming after connection failures.
type reader struct {
	d    *Driver
	ctx  context.Context
	name string
	etag string // quoted, as the remote sent it; If-Match of resumes

	body    io.ReadCloser
	pos     int64 // absolute offset of the next byte to deliver
	end     int64 // absolute end (exclusive); -1 until the first response says
	skip    int64 // bytes of body to drop first (a remote that ignored Range)
	resumes int
	verify  *verifier // nil: not verified (ranges, opaque ETags)
	empty   bool      // the first request answered 416: nothing to read
	err     error     // sticky result once the reader is done or failed
	closed  bool
}

// open sends the GetObject for [pos, end), the whole object if full.
func (r *reader) open(full bool) error {
	in := &awss3.GetObjectInput{Bucket: aws.String(r.d.cfg.Bucket), Key: aws.String(r.d.key(r.name))}
	if !full {
		rng := "bytes=" + strconv.FormatInt(r.pos, 10) + "-"
		if r.end >= 0 {
			rng += strconv.FormatInt(r.end-1, 10)
		}
		in.Range = aws.String(rng)
	}
	if r.etag != "" {
		in.IfMatch = aws.String(r.etag)
	}
	out, err := r.d.client.GetObject(r.ctx, in)
	if err != nil {
		if r.etag == "" && (statusOf(err) == http.StatusRequestedRangeNotSatisfiable || codeOf(err) == "InvalidRange") {
			r.empty = true
		}
		if statusOf(err) == http.StatusPreconditionFailed {
			return fmt.Errorf("s3: open %s: the object changed while it was read (%w)", r.d.where(r.name), err)
		}
		return r.d.mapErr(r.ctx, "open", r.name, err)
	}
	length := aws.ToInt64(out.ContentLength)
	first := r.etag == ""
	if first {
		r.etag = aws.ToString(out.ETag)
	}
	r.skip = 0
	if cr := aws.ToString(out.ContentRange); cr != "" {
		start, last, _, ok := parseContentRange(cr)
		if !ok || start != r.pos || last-start+1 != length {
			out.Body.Close()
			return fmt.Errorf("s3: open %s: asked for bytes from %d, the remote answered Content-Range %q for %d bytes",
				r.d.where(r.name), r.pos, cr, length)
		}
		if r.end < 0 || last+1 < r.end {
			r.end = last + 1
		}
	} else {
		// The whole object (no Range sent, or the remote ignored it).
		if r.end < 0 || length < r.end {
			r.end = length
		}
		if r.end < r.pos {
			r.end = r.pos
		}
		if r.end > r.pos {
			r.skip = r.pos
		}
	}
	if first && full && !r.d.cfg.OpaqueETags {
		r.verify = newVerifier(r.etag, out.Metadata)
	}
	r.body = out.Body
	return nil
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.closed {
		return 0, fmt.Errorf("s3: read %s: reader closed", r.d.where(r.name))
	}
	for r.skip > 0 {
		n, err := io.CopyN(io.Discard, r.body, r.skip)
		r.skip -= n
		if err != nil {
			if err := r.resume(err); err != nil {
				return 0, err
			}
		}
	}
	if r.pos >= r.end {
		r.err = r.finish()
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > r.end-r.pos {
		p = p[:r.end-r.pos]
	}
	for {
		n, err := r.body.Read(p)
		if n > 0 {
			r.pos += int64(n)
			if r.verify != nil {
				r.verify.write(p[:n])
			}
			return n, nil // a pending error shows again on the next Read
		}
		if err == nil {
			continue
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // pos < end: the body ended early
		}
		if err := r.resume(err); err != nil {
			return 0, err
		}
	}
}

// resume replaces a failed body with a ranged request from pos, If-Match
// the ETag, or returns the final error of the reader.
func (r *reader) resume(cause error) error {
	r.body.Close()
	if cerr := r.ctx.Err(); cerr != nil {
		r.err = fmt.Errorf("s3: read %s: %w", r.d.where(r.name), cerr)
		return r.err
	}
	if !isTransient(r.d.retryer, cause) || r.resumes+1 >= r.d.cfg.MaxAttempts {
		r.err = fmt.Errorf("s3: read %s at byte %d (after %d resumes): %w", r.d.where(r.name), r.pos, r.resumes, cause)
		if isTransient(r.d.retryer, cause) {
			r.err = fmt.Errorf("%w: %w", r.err, drivers.ErrUnavailable)
		}
		return r.err
	}
	r.resumes++
	r.d.stats.resumes.Add(1)
	r.d.cfg.Logger.Debug("s3: resuming a read", "object", r.d.where(r.name), "at", r.pos, "err", cause)
	if err := sleep(r.ctx, backoff(r.d.cfg.RetryBaseDelay, r.d.cfg.RetryMaxDelay, r.resumes)); err != nil {
		r.err = fmt.Errorf("s3: read %s: %w", r.d.where(r.name), err)
		return r.err
	}
	if err := r.open(false); err != nil {
		r.err = err
		return err
	}
	return nil
}

// finish ends a read that delivered everything: the connection is drained
// for reuse, and a verified read compares its digest with the ETag.
func (r *reader) finish() error {
	_, _ = io.CopyN(io.Discard, r.body, 1)
	if r.verify != nil {
		if err := r.verify.check(); err != nil {
			r.d.stats.corrupt.Add(1)
			return fmt.Errorf("s3: read %s: %w: %w", r.d.where(r.name), drivers.ErrCorrupt, err)
		}
	}
	return io.EOF
}

func (r *reader) Close() error {
	if !r.closed {
		r.closed = true
		if r.body != nil {
			return r.body.Close()
		}
	}
	return nil
}

// verifier recomputes an object's ETag from its bytes: the hex MD5 of a
// single PutObject, or for a multipart upload made by this driver
// ("<hex>-<N>", with the part size in its metadata) the MD5 of the parts'
// MD5s followed by "-N".
type verifier struct {
	want     string // the ETag, unquoted, lower case
	partSize int64  // 0 for a plain MD5
	h        hash.Hash
	inPart   int64
	sums     []byte
	parts    int
}

// newVerifier returns a verifier for etag, or nil when the driver cannot
// recompute it (not an MD5 form, or a multipart object without the part
// size: not written by this driver).
func newVerifier(etag string, meta map[string]string) *verifier {
	e := strings.ToLower(strings.Trim(etag, `"`))
	hexPart, n, multi := strings.Cut(e, "-")
	if len(hexPart) != 32 {
		return nil
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return nil
	}
	v := &verifier{want: e, h: md5.New()}
	if !multi {
		return v
	}
	if parts, err := strconv.Atoi(n); err != nil || parts < 1 || parts > MaxParts {
		return nil
	}
	for k, val := range meta {
		if strings.EqualFold(k, partSizeMeta) {
			if size, err := strconv.ParseInt(val, 10, 64); err == nil && size > 0 {
				v.partSize = size
			}
		}
	}
	if v.partSize == 0 {
		return nil
	}
	return v
}

func (v *verifier) write(p []byte) {
	if v.partSize == 0 {
		v.h.Write(p)
		return
	}
	for len(p) > 0 {
		n := min(int64(len(p)), v.partSize-v.inPart)
		v.h.Write(p[:n])
		v.inPart += n
		p = p[n:]
		if v.inPart == v.partSize {
			v.closePart()
		}
	}
}

func (v *verifier) closePart() {
	v.sums = v.h.Sum(v.sums)
	v.parts++
	v.h.Reset()
	v.inPart = 0
}

func (v *verifier) check() error {
	var got string
	if v.partSize == 0 {
		got = hex.EncodeToString(v.h.Sum(nil))
	} else {
		if v.inPart > 0 || v.parts == 0 {
			v.closePart()
		}
		s := md5.Sum(v.sums)
		got = hex.EncodeToString(s[:]) + "-" + strconv.Itoa(v.parts)
	}
	if got != v.want {
		return fmt.Errorf("the bytes read hash to ETag %s, the remote holds %s", got, v.want)
	}
	return nil
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*").
// total is -1 when unknown.
func parseContentRange(s string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err error
	if start, err = strconv.ParseInt(a, 10, 64); err != nil || start < 0 || a[0] == '+' {
		return 0, 0, 0, false
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start || b[0] == '+' {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total <= end || tot[0] == '+' {
			return 0, 0, 0, false
		}
	}
	return start, end, total, true
}
