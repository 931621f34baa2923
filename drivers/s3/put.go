package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// unsignedPayload sends upload bodies as UNSIGNED-PAYLOAD: their integrity
// rests on Content-MD5, which the remote checks and which is itself a
// signed header, so the SHA-256 of the body that SigV4 would otherwise
// compute (over plain http; the SDK already skips it over https) would be
// a second pass over every byte for no added protection.
var unsignedPayload = awss3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// Put implements drivers.Driver. It cuts the stream into PartSize buffers
// (at most PartConcurrency held at once, which is the memory bound of one
// Put). A stream of at most MultipartThreshold bytes becomes one PutObject;
// a longer one a multipart upload whose parts go up PartConcurrency at a
// time while the next ones are read. Every request carries the Content-MD5
// of its body, which the remote checks, and is retried from its buffer
// (never from the caller's stream). The ETags the remote answers are
// checked against the driver's own MD5s unless Config.OpaqueETags.
//
// Nothing is visible under name until PutObject or CompleteMultipartUpload
// succeeds; a failed multipart Put (reader error, cancelled context, a part
// that kept failing) aborts its upload.
func (d *Driver) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	if err := d.beginName(ctx, "put", name); err != nil {
		return 0, err
	}
	p := &putter{d: d, ctx: ctx, name: name, key: d.key(name), src: &chunker{ctx: ctx, r: r}}
	p.tokens = make(chan struct{}, d.cfg.PartConcurrency)
	n, err := p.run()
	p.done()
	if err != nil {
		return 0, err
	}
	return n, nil
}

// part is one buffered piece of the stream.
type part struct {
	buf *[]byte // from Driver.parts; nil once released
	n   int     // bytes of *buf in use
}

func (p *part) bytes() []byte { return (*p.buf)[:p.n] }

// putter is the state of one Put.
type putter struct {
	d      *Driver
	ctx    context.Context
	name   string
	key    string
	src    *chunker
	tokens chan struct{} // one per part buffer held: the memory bound

	// free holds this Put's released buffers for its next parts, so a Put
	// allocates at most PartConcurrency buffers even when the shared pool
	// is emptied by a GC; they go back to the pool when the Put ends.
	mu   sync.Mutex
	free []*[]byte
}

// acquire takes a part buffer, waiting while PartConcurrency are held.
func (p *putter) acquire(ctx context.Context) (*part, error) {
	select {
	case p.tokens <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return &part{buf: b}, nil
	}
	return &part{buf: p.d.parts.Get().(*[]byte)}, nil
}

func (p *putter) release(pt *part) {
	if pt.buf == nil {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, pt.buf)
	p.mu.Unlock()
	pt.buf = nil
	<-p.tokens
}

// done returns the Put's buffers to the shared pool; every part must have
// been released.
func (p *putter) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.free {
		p.d.parts.Put(b)
	}
	p.free = nil
}

// fail wraps err for the caller: the context's error when the context is
// done, a reader error as the reader's, anything else mapped.
func (p *putter) fail(err error) error {
	if cerr := p.ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("s3: put %s: %w (%v)", p.d.where(p.name), cerr, err)
	}
	var re readError
	if errors.As(err, &re) {
		return fmt.Errorf("s3: put %s: read: %w", p.d.where(p.name), re.err)
	}
	if errors.Is(err, ErrTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("s3: put %s: %w", p.d.where(p.name), err)
	}
	if errors.Is(err, errETag) {
		return err
	}
	return p.d.mapErr(p.ctx, "put", p.name, err)
}

func (p *putter) run() (int64, error) {
	// Phase 1: buffer up to MultipartThreshold bytes. Parts are full
	// (PartSize) until the last, and the threshold is at most
	// PartConcurrency parts, so this never waits for a buffer.
	var held []*part
	defer func() {
		for _, pt := range held {
			p.release(pt)
		}
	}()
	threshold := p.d.cfg.MultipartThreshold
	last := false
	for !last {
		pt, err := p.acquire(p.ctx)
		if err != nil {
			return 0, p.fail(err)
		}
		held = append(held, pt)
		pt.n, last, err = p.src.fill(*pt.buf)
		if err != nil {
			return 0, p.fail(err)
		}
		if p.src.total >= threshold {
			break
		}
	}
	if last && p.src.total <= threshold {
		return p.src.total, p.putSingle(held)
	}
	parts := held
	held = nil
	return p.multipart(parts, last)
}

// putSingle stores the buffered stream with one PutObject.
func (p *putter) putSingle(held []*part) error {
	h := md5.New()
	bufs := make([][]byte, len(held))
	for i, pt := range held {
		bufs[i] = pt.bytes()
		h.Write(bufs[i])
	}
	sum := h.Sum(nil)
	out, err := p.d.client.PutObject(p.ctx, &awss3.PutObjectInput{
		Bucket:        aws.String(p.d.cfg.Bucket),
		Key:           aws.String(p.key),
		Body:          newMultiBuf(bufs),
		ContentLength: aws.Int64(p.src.total),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum)),
		ContentType:   aws.String("application/octet-stream"),
	}, unsignedPayload)
	if err != nil {
		return p.fail(err)
	}
	if err := p.checkETag("the object", aws.ToString(out.ETag), hex.EncodeToString(sum)); err != nil {
		p.discard()
		return err
	}
	return nil
}

// errETag marks a Put that failed because the remote's ETag is not the MD5
// the driver computed.
var errETag = errors.New("unexpected ETag")

// checkETag compares an ETag the remote answered for what (the object, a
// part) with the one the driver expects (unless the remote's ETags are
// opaque).
func (p *putter) checkETag(what, got, want string) error {
	if p.d.cfg.OpaqueETags || strings.EqualFold(strings.Trim(got, `"`), want) {
		return nil
	}
	return fmt.Errorf("s3: put %s: %w: the remote answered ETag %s for %s, not the MD5 of what was sent (%s); its ETags are not content MD5s (server-side encryption?): set OpaqueETags",
		p.d.where(p.name), errETag, got, what, want)
}

// discard deletes an object whose ETag the driver cannot use (best effort:
// a full read of it would fail verification anyway).
func (p *putter) discard() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), abortTimeout)
	defer cancel()
	if _, err := p.d.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(p.d.cfg.Bucket), Key: aws.String(p.key),
	}); err != nil {
		p.d.cfg.Logger.Warn("s3: could not delete an object with an unexpected ETag", "object", p.d.where(p.name), "err", err)
	}
}

// doneParts collects the completed parts of an upload.
type doneParts struct {
	mu    sync.Mutex
	parts []types.CompletedPart
	sums  map[int32][]byte
	err   error // the first failure
}

func (dp *doneParts) fail(err error) {
	dp.mu.Lock()
	if dp.err == nil {
		dp.err = err
	}
	dp.mu.Unlock()
}

func (dp *doneParts) failed() error {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	return dp.err
}

// multipart uploads parts (the buffered start of the stream) and the rest
// of the stream as a multipart upload.
func (p *putter) multipart(parts []*part, last bool) (int64, error) {
	pending := parts
	defer func() {
		for _, pt := range pending {
			p.release(pt)
		}
	}()
	size := strconv.FormatInt(p.d.cfg.PartSize, 10)
	created, err := p.d.client.CreateMultipartUpload(p.ctx, &awss3.CreateMultipartUploadInput{
		Bucket:      aws.String(p.d.cfg.Bucket),
		Key:         aws.String(p.key),
		ContentType: aws.String("application/octet-stream"),
		Metadata:    map[string]string{partSizeMeta: size},
	})
	if err != nil {
		return 0, p.fail(err)
	}
	id := created.UploadId

	// A part that fails does not cancel the others in flight: they finish
	// (or fail) on their own, so that when the upload is aborted no part
	// request is still running on the remote, where it could outlive the
	// abort. Only the caller's context cancels requests in flight.
	dp := &doneParts{sums: make(map[int32][]byte)}
	var wg sync.WaitGroup
	launch := func(num int32, pt *part) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.release(pt)
			etag, sum, err := p.uploadPart(p.ctx, id, num, pt.bytes())
			if err != nil {
				dp.fail(err)
				return
			}
			dp.mu.Lock()
			dp.parts = append(dp.parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(num)})
			dp.sums[num] = sum
			dp.mu.Unlock()
		}()
	}
	num := int32(0)
	for _, pt := range pending {
		num++
		launch(num, pt)
	}
	pending = nil
	for !last && dp.failed() == nil {
		pt, err := p.acquire(p.ctx)
		if err != nil {
			dp.fail(err)
			break
		}
		if dp.failed() != nil {
			p.release(pt)
			break
		}
		pt.n, last, err = p.src.fill(*pt.buf)
		if err == nil && num >= MaxParts {
			err = fmt.Errorf("%w: more than %d parts of %d bytes", ErrTooLarge, MaxParts, p.d.cfg.PartSize)
		}
		if err != nil {
			p.release(pt)
			dp.fail(err)
			break
		}
		num++
		launch(num, pt)
	}
	wg.Wait()
	if err := dp.failed(); err != nil {
		p.abort(id)
		return 0, p.fail(err)
	}

	slices.SortFunc(dp.parts, func(a, b types.CompletedPart) int {
		return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber))
	})
	out, err := p.d.client.CompleteMultipartUpload(p.ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(p.d.cfg.Bucket),
		Key:             aws.String(p.key),
		UploadId:        id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: dp.parts},
	})
	if err != nil {
		p.abort(id)
		return 0, p.fail(err)
	}
	h := md5.New()
	for i := int32(1); i <= num; i++ {
		h.Write(dp.sums[i])
	}
	want := hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(int(num))
	if err := p.checkETag("the object", aws.ToString(out.ETag), want); err != nil {
		p.discard()
		return 0, err
	}
	return p.src.total, nil
}

// uploadPart sends one part with its Content-MD5. The SDK's retryer
// resends it from the buffer (a bytes.Reader, rewound per attempt).
func (p *putter) uploadPart(ctx context.Context, id *string, num int32, b []byte) (string, []byte, error) {
	s := md5.Sum(b)
	out, err := p.d.client.UploadPart(ctx, &awss3.UploadPartInput{
		Bucket:        aws.String(p.d.cfg.Bucket),
		Key:           aws.String(p.key),
		UploadId:      id,
		PartNumber:    aws.Int32(num),
		Body:          bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(s[:])),
	}, unsignedPayload)
	if err != nil {
		return "", nil, err
	}
	etag := aws.ToString(out.ETag)
	if err := p.checkETag("part "+strconv.Itoa(int(num)), etag, hex.EncodeToString(s[:])); err != nil {
		return "", nil, err
	}
	return etag, s[:], nil
}

// abort aborts a failed upload, even when the caller's context is done.
// A part request the driver gave up on (the caller's context cancelled
// it, or an attempt timed out and was retried) may still be finishing on
// the remote after the abort, and leave the upload there again (S3 says
// an abort may have to be repeated). So abort watches for a while
// (abortChecks, 1.5 s in all: the price of a failed multipart Put) and
// aborts again whenever the upload shows up. An upload it cannot abort is
// counted and logged (AbortIncomplete, or a lifecycle rule on the bucket,
// removes it later).
func (p *putter) abort(id *string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), abortTimeout)
	defer cancel()
	abort := func() bool {
		_, err := p.d.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
			Bucket: aws.String(p.d.cfg.Bucket), Key: aws.String(p.key), UploadId: id,
		})
		if err != nil && codeOf(err) != "NoSuchUpload" {
			p.d.stats.abandoned.Add(1)
			p.d.cfg.Logger.Warn("s3: could not abort a failed multipart upload", "object", p.d.where(p.name),
				"upload", aws.ToString(id), "err", err)
			return false
		}
		return true
	}
	if !abort() {
		return
	}
	for _, pause := range abortChecks {
		if sleep(ctx, pause) != nil {
			return
		}
		_, err := p.d.client.ListParts(ctx, &awss3.ListPartsInput{
			Bucket: aws.String(p.d.cfg.Bucket), Key: aws.String(p.key), UploadId: id, MaxParts: aws.Int32(1),
		})
		switch {
		case err == nil: // back: a late part recreated it
			if !abort() {
				return
			}
		case codeOf(err) != "NoSuchUpload" && statusOf(err) != http.StatusNotFound:
			return // cannot tell; the abort stands
		}
	}
}

// abortChecks are the pauses between the looks abort takes for an upload
// that a late part brought back.
var abortChecks = []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, time.Second}

// readError marks an error of the caller's reader.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// maxZeroReads: a reader that returns (0, nil) this often in a row is
// broken (io.ErrNoProgress), as bufio decides.
const maxZeroReads = 100

// chunker cuts the caller's stream into buffers and knows, when a buffer
// is full, whether the stream ends there: it reads one byte ahead.
type chunker struct {
	ctx     context.Context
	r       io.Reader
	peek    [1]byte
	hasPeek bool  // peek holds the next byte of the stream
	eof     bool  // r returned io.EOF
	total   int64 // bytes handed out so far
}

// fill fills buf from the stream. last is true when the stream ended
// within (or exactly at the end of) buf. err is a readError (the reader
// failed: io.ErrUnexpectedEOF from it is a failure, not an end) or the
// context's error; the context is checked before every Read.
func (c *chunker) fill(buf []byte) (n int, last bool, err error) {
	if c.hasPeek && len(buf) > 0 {
		buf[0] = c.peek[0]
		n, c.hasPeek = 1, false
	}
	zero := 0
	read := func(b []byte) (int, error) {
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
		m, err := c.r.Read(b)
		if err == io.EOF {
			c.eof = true
			err = nil
		} else if err != nil {
			return m, readError{err}
		}
		if m == 0 && !c.eof {
			if zero++; zero >= maxZeroReads {
				return 0, readError{io.ErrNoProgress}
			}
		} else {
			zero = 0
		}
		return m, nil
	}
	for n < len(buf) && !c.eof {
		m, err := read(buf[n:])
		n += m
		if err != nil {
			return n, false, err
		}
	}
	for !c.eof && !c.hasPeek {
		m, err := read(c.peek[:])
		c.hasPeek = m == 1
		if err != nil {
			return n, false, err
		}
	}
	c.total += int64(n)
	return n, !c.hasPeek, nil
}

// multiBuf is an io.ReadSeeker over a sequence of buffers, so a single
// PutObject can be sent (and resent on retry) from several part buffers.
type multiBuf struct {
	bufs      [][]byte
	size, off int64
}

func newMultiBuf(bufs [][]byte) io.ReadSeeker {
	if len(bufs) == 1 {
		return bytes.NewReader(bufs[0])
	}
	m := &multiBuf{bufs: bufs}
	for _, b := range bufs {
		m.size += int64(len(b))
	}
	return m
}

func (m *multiBuf) Read(p []byte) (int, error) {
	if m.off >= m.size {
		return 0, io.EOF
	}
	n := 0
	pos := m.off
	for _, b := range m.bufs {
		if n == len(p) {
			break
		}
		if pos >= int64(len(b)) {
			pos -= int64(len(b))
			continue
		}
		c := copy(p[n:], b[pos:])
		n += c
		pos = 0
	}
	m.off += int64(n)
	return n, nil
}

func (m *multiBuf) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += m.off
	case io.SeekEnd:
		offset += m.size
	default:
		return 0, errors.New("s3: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("s3: negative seek")
	}
	m.off = offset
	return offset, nil
}
