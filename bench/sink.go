package bench

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeebo/xxh3"
)

// Sink is a minimal in-process S3 endpoint that stores nothing but, for
// each artifact, its size and content seed (from x-amz-meta-bench-seed),
// and serves GET by regenerating the content. Benchmarking against it
// measures the client side's ceiling: the SDK, HTTP, content generation and
// verification, with a server that costs next to nothing.
//
// It answers, path-style only and without checking signatures:
// CreateBucket, HeadBucket, DeleteBucket, ListObjectsV2 (prefix, max-keys,
// continuation-token, start-after; no delimiter), PutObject, GetObject
// (no Range), HeadObject, DeleteObject, CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload and AbortMultipartUpload, with the XML the AWS
// SDK expects and S3 error codes (NoSuchBucket, NoSuchKey, NoSuchUpload,
// BucketNotEmpty, InvalidPart, InvalidPartOrder, EntityTooSmall,
// MalformedXML, BadDigest, NotImplemented). Artifacts with no seed header
// are served as seed 0. aws-chunked (streaming-signed) bodies are refused
// with NotImplemented.
type Sink struct {
	verify bool
	reqID  atomic.Uint64
	mu     struct {
		sync.Mutex
		buckets  map[string]*sinkBucket
		uploadID uint64
	}
}

// SinkOption configures a Sink.
type SinkOption func(*Sink)

// WithUploadVerification makes the sink check every uploaded body (PUT
// and multipart parts) against the content its seed header promises and
// answer BadDigest on a mismatch: a check of the client's generator, at
// the cost of the sink no longer being free.
func WithUploadVerification() SinkOption { return func(s *Sink) { s.verify = true } }

// NewSink returns an empty sink.
func NewSink(opts ...SinkOption) *Sink {
	s := &Sink{}
	s.mu.buckets = map[string]*sinkBucket{}
	for _, o := range opts {
		o(s)
	}
	return s
}

var _ http.Handler = (*Sink)(nil)

type sinkBucket struct {
	objects map[string]sinkObject
	// sorted holds every key of objects (and possibly deleted ones, which
	// listing skips) in order; dirty means a new key was added since.
	sorted  []string
	dirty   bool
	uploads map[string]*sinkUpload
}

type sinkObject struct {
	size    int64
	seed    uint64
	etag    string
	modTime time.Time
}

type sinkUpload struct {
	key   string
	seed  uint64
	parts map[int]sinkPart
}

type sinkPart struct {
	size   int64
	digest uint64 // xxh3 of the part, when verifying
	etag   string
}

// sinkMaxCompleteBody bounds a CompleteMultipartUpload body: 10000 parts
// of well under 200 bytes each.
const sinkMaxCompleteBody = 4 << 20

// sinkMaxKeyLen is S3's key length limit.
const sinkMaxKeyLen = 1024

var sinkBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

type sinkError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

func (s *Sink) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	body, _ := xml.Marshal(sinkError{Code: code, Message: msg, Resource: r.URL.Path, RequestID: w.Header().Get("x-amz-request-id")})
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

func writeXML(w http.ResponseWriter, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

// ServeHTTP answers one S3 request.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amz-request-id", strconv.FormatUint(s.reqID.Add(1), 16))
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	switch {
	case bucket == "":
		if r.Method != http.MethodGet {
			s.fail(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "")
			return
		}
		s.listBuckets(w)
	case len(key) > sinkMaxKeyLen:
		s.fail(w, r, http.StatusBadRequest, "KeyTooLongError", "key longer than 1024 bytes")
	case key == "":
		s.serveBucket(w, r, bucket, q)
	default:
		s.serveObject(w, r, bucket, key, q)
	}
}

func (s *Sink) listBuckets(w http.ResponseWriter) {
	type bucketXML struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	}
	type result struct {
		XMLName xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
		Owner   string      `xml:"Owner>ID"`
		Buckets []bucketXML `xml:"Buckets>Bucket"`
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.mu.buckets))
	for n := range s.mu.buckets {
		names = append(names, n)
	}
	s.mu.Unlock()
	slices.Sort(names)
	res := result{Owner: "bench"}
	for _, n := range names {
		res.Buckets = append(res.Buckets, bucketXML{Name: n, CreationDate: time.Unix(0, 0).UTC().Format(time.RFC3339)})
	}
	writeXML(w, res)
}

func (s *Sink) serveBucket(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) {
	switch r.Method {
	case http.MethodPut:
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		_, exists := s.mu.buckets[bucket]
		if !exists {
			s.mu.buckets[bucket] = &sinkBucket{objects: map[string]sinkObject{}, uploads: map[string]*sinkUpload{}}
		}
		s.mu.Unlock()
		if exists {
			s.fail(w, r, http.StatusConflict, "BucketAlreadyOwnedByYou", "bucket exists")
			return
		}
		w.Header().Set("Location", "/"+bucket)
		w.WriteHeader(http.StatusOK)
	case http.MethodHead:
		s.mu.Lock()
		_, exists := s.mu.buckets[bucket]
		s.mu.Unlock()
		if !exists {
			s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "")
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		s.mu.Lock()
		b, exists := s.mu.buckets[bucket]
		empty := exists && len(b.objects) == 0
		if empty {
			delete(s.mu.buckets, bucket)
		}
		s.mu.Unlock()
		switch {
		case !exists:
			s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "")
		case !empty:
			s.fail(w, r, http.StatusConflict, "BucketNotEmpty", "the bucket holds artifacts")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	case http.MethodGet:
		if q.Get("list-type") != "2" {
			s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "only ListObjectsV2 is implemented")
			return
		}
		s.listObjects(w, r, bucket, q)
	default:
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "")
	}
}

type listContents struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type listResult struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	KeyCount              int            `xml:"KeyCount"`
	MaxKeys               int            `xml:"MaxKeys"`
	IsTruncated           bool           `xml:"IsTruncated"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	Contents              []listContents `xml:"Contents"`
}

func (s *Sink) listObjects(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) {
	if q.Get("delimiter") != "" {
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "delimiter is not implemented")
		return
	}
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, r, http.StatusBadRequest, "InvalidArgument", "max-keys")
			return
		}
		maxKeys = min(n, 1000)
	}
	prefix := q.Get("prefix")
	after := q.Get("start-after")
	token := q.Get("continuation-token")
	if token != "" {
		k, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			s.fail(w, r, http.StatusBadRequest, "InvalidArgument", "continuation-token")
			return
		}
		after = max(after, string(k))
	}
	res := listResult{Name: bucket, Prefix: prefix, MaxKeys: maxKeys, ContinuationToken: token, StartAfter: q.Get("start-after")}
	s.mu.Lock()
	b, ok := s.mu.buckets[bucket]
	if !ok {
		s.mu.Unlock()
		s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "")
		return
	}
	if b.dirty {
		b.sorted = b.sorted[:0]
		for k := range b.objects {
			b.sorted = append(b.sorted, k)
		}
		slices.Sort(b.sorted)
		b.dirty = false
	}
	start := max(after, prefix)
	i, found := slices.BinarySearch(b.sorted, start)
	if found && start == after {
		i++
	}
	last := ""
	for ; i < len(b.sorted); i++ {
		k := b.sorted[i]
		if !strings.HasPrefix(k, prefix) {
			break
		}
		o, live := b.objects[k]
		if !live {
			continue
		}
		if len(res.Contents) == maxKeys {
			res.IsTruncated = maxKeys > 0
			break
		}
		res.Contents = append(res.Contents, listContents{
			Key: k, LastModified: o.modTime.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag: o.etag, Size: o.size, StorageClass: "STANDARD",
		})
		last = k
	}
	s.mu.Unlock()
	res.KeyCount = len(res.Contents)
	if res.IsTruncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	writeXML(w, res)
}

// bucketLocked returns the bucket or nil. REQUIRES: s.mu.
func (s *Sink) bucketLocked(name string) *sinkBucket { return s.mu.buckets[name] }

func (s *Sink) serveObject(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) {
	_, isUploads := q["uploads"]
	uploadID := q.Get("uploadId")
	switch {
	case r.Method == http.MethodPost && isUploads:
		s.createUpload(w, r, bucket, key)
	case r.Method == http.MethodPut && uploadID != "":
		s.uploadPart(w, r, bucket, key, uploadID, q.Get("partNumber"))
	case r.Method == http.MethodPost && uploadID != "":
		s.completeUpload(w, r, bucket, key, uploadID)
	case r.Method == http.MethodDelete && uploadID != "":
		s.mu.Lock()
		b := s.bucketLocked(bucket)
		var ok bool
		if b != nil {
			if u := b.uploads[uploadID]; u != nil && u.key == key {
				ok = true
				delete(b.uploads, uploadID)
			}
		}
		s.mu.Unlock()
		if !ok {
			s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut:
		s.putObject(w, r, bucket, key)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.getObject(w, r, bucket, key)
	case r.Method == http.MethodDelete:
		s.mu.Lock()
		b := s.bucketLocked(bucket)
		if b != nil {
			delete(b.objects, key)
		}
		s.mu.Unlock()
		if b == nil {
			s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "")
	}
}

// seedOf reads the content seed header (16 hex digits) or 0.
func seedOf(r *http.Request) uint64 {
	v, err := strconv.ParseUint(r.Header.Get("x-amz-meta-"+seedMetaKey), 16, 64)
	if err != nil {
		return 0
	}
	return v
}

func (s *Sink) checkBody(w http.ResponseWriter, r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("x-amz-content-sha256"), "STREAMING-") ||
		strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "aws-chunked bodies are not implemented by the sink")
		return false
	}
	if r.ContentLength < 0 {
		s.fail(w, r, http.StatusLengthRequired, "MissingContentLength", "")
		return false
	}
	if r.ContentLength > MaxArtifactSize {
		s.fail(w, r, http.StatusBadRequest, "EntityTooLarge", "")
		return false
	}
	return true
}

// drain reads the body, feeding it to sink when not nil, and returns the
// number of bytes read.
func drain(body io.Reader, sink io.Writer) (int64, error) {
	bp := sinkBufPool.Get().(*[]byte)
	defer sinkBufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := body.Read(buf)
		if m > 0 {
			n += int64(m)
			if sink != nil {
				if _, werr := sink.Write(buf[:m]); werr != nil {
					return n, werr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (s *Sink) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if r.Header.Get("x-amz-copy-source") != "" {
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "CopyObject is not implemented")
		return
	}
	if !s.checkBody(w, r) {
		return
	}
	s.mu.Lock()
	exists := s.bucketLocked(bucket) != nil
	s.mu.Unlock()
	if !exists {
		s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "")
		return
	}
	seed := seedOf(r)
	var v *verifier
	var sink io.Writer
	if s.verify {
		v = newVerifier(seed, key, r.ContentLength, nil)
		sink = v
	}
	n, err := drain(r.Body, sink)
	if err == nil && v != nil {
		err = v.finish()
	}
	if err != nil {
		if errors.Is(err, ErrVerifyMismatch) || errors.Is(err, ErrVerifySize) {
			s.fail(w, r, http.StatusBadRequest, "BadDigest", err.Error())
		} else {
			s.fail(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
		}
		return
	}
	etag := fmt.Sprintf(`"%016x%016x"`, seed, uint64(n))
	s.mu.Lock()
	b := s.bucketLocked(bucket)
	if b != nil {
		if _, had := b.objects[key]; !had {
			b.dirty = true
		}
		b.objects[key] = sinkObject{size: n, seed: seed, etag: etag, modTime: time.Now()}
	}
	s.mu.Unlock()
	if b == nil {
		s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "")
		return
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
}

func (s *Sink) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if r.Header.Get("Range") != "" {
		s.fail(w, r, http.StatusNotImplemented, "NotImplemented", "Range is not implemented by the sink")
		return
	}
	s.mu.Lock()
	b := s.bucketLocked(bucket)
	var o sinkObject
	var ok bool
	if b != nil {
		o, ok = b.objects[key]
	}
	s.mu.Unlock()
	switch {
	case b == nil:
		s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "")
		return
	case !ok:
		s.fail(w, r, http.StatusNotFound, "NoSuchKey", "")
		return
	}
	h := w.Header()
	h.Set("Content-Length", strconv.FormatInt(o.size, 10))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.modTime.UTC().Format(http.TimeFormat))
	h.Set("x-amz-meta-"+seedMetaKey, fmt.Sprintf("%016x", o.seed))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	bp := sinkBufPool.Get().(*[]byte)
	defer sinkBufPool.Put(bp)
	c := newContentReader(o.seed, key, o.size)
	buf := *bp
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *Sink) createUpload(w http.ResponseWriter, r *http.Request, bucket, key string) {
	s.mu.Lock()
	b := s.bucketLocked(bucket)
	var id string
	if b != nil {
		s.mu.uploadID++
		id = fmt.Sprintf("%016x", s.mu.uploadID)
		b.uploads[id] = &sinkUpload{key: key, seed: seedOf(r), parts: map[int]sinkPart{}}
	}
	s.mu.Unlock()
	if b == nil {
		s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "")
		return
	}
	type result struct {
		XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}
	writeXML(w, result{Bucket: bucket, Key: key, UploadID: id})
}

// upload returns the upload, or nil. REQUIRES: s.mu.
func (s *Sink) uploadLocked(bucket, key, id string) *sinkUpload {
	b := s.bucketLocked(bucket)
	if b == nil {
		return nil
	}
	u := b.uploads[id]
	if u == nil || u.key != key {
		return nil
	}
	return u
}

func (s *Sink) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key, id, partNumber string) {
	pn, err := strconv.Atoi(partNumber)
	if err != nil || pn < 1 || pn > maxParts {
		s.fail(w, r, http.StatusBadRequest, "InvalidArgument", "partNumber must be 1..10000")
		return
	}
	if !s.checkBody(w, r) {
		return
	}
	s.mu.Lock()
	exists := s.uploadLocked(bucket, key, id) != nil
	s.mu.Unlock()
	if !exists {
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "")
		return
	}
	var hasher *xxh3.Hasher
	var sink io.Writer
	if s.verify {
		hasher = xxh3.New()
		sink = hasher
	}
	n, err := drain(r.Body, sink)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	p := sinkPart{size: n, etag: fmt.Sprintf(`"%08x%016x"`, pn, uint64(n))}
	if hasher != nil {
		p.digest = hasher.Sum64()
	}
	s.mu.Lock()
	u := s.uploadLocked(bucket, key, id)
	if u != nil {
		u.parts[pn] = p
	}
	s.mu.Unlock()
	if u == nil {
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "")
		return
	}
	w.Header().Set("ETag", p.etag)
	w.WriteHeader(http.StatusOK)
}

// completeRequest is the CompleteMultipartUpload body.
type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

// parseComplete reads a CompleteMultipartUpload body: at least one part,
// part numbers strictly ascending within 1..10000.
func parseComplete(body io.Reader) (completeRequest, error) {
	var req completeRequest
	if err := xml.NewDecoder(io.LimitReader(body, sinkMaxCompleteBody)).Decode(&req); err != nil {
		return req, fmt.Errorf("MalformedXML: %v", err)
	}
	if len(req.Parts) == 0 || len(req.Parts) > maxParts {
		return req, errors.New("MalformedXML: no parts")
	}
	prev := 0
	for _, p := range req.Parts {
		if p.PartNumber <= prev || p.PartNumber > maxParts {
			return req, errors.New("InvalidPartOrder: part numbers must ascend")
		}
		prev = p.PartNumber
	}
	return req, nil
}

func (s *Sink) completeUpload(w http.ResponseWriter, r *http.Request, bucket, key, id string) {
	req, err := parseComplete(r.Body)
	if err != nil {
		code, msg, _ := strings.Cut(err.Error(), ": ")
		s.fail(w, r, http.StatusBadRequest, code, msg)
		return
	}
	s.mu.Lock()
	u := s.uploadLocked(bucket, key, id)
	var parts []sinkPart
	var seed uint64
	if u != nil {
		seed = u.seed
		for _, rp := range req.Parts {
			p, ok := u.parts[rp.PartNumber]
			if !ok || p.etag != rp.ETag {
				parts = nil
				break
			}
			parts = append(parts, p)
		}
	}
	s.mu.Unlock()
	if u == nil {
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "")
		return
	}
	if len(parts) != len(req.Parts) {
		s.fail(w, r, http.StatusBadRequest, "InvalidPart", "a listed part was not uploaded or its ETag differs")
		return
	}
	var total int64
	for i, p := range parts {
		if i < len(parts)-1 && p.size < minPartSize {
			s.fail(w, r, http.StatusBadRequest, "EntityTooSmall", fmt.Sprintf("part %d is %d bytes", req.Parts[i].PartNumber, p.size))
			return
		}
		total += p.size
	}
	if s.verify {
		if err := verifyParts(seed, key, total, parts); err != nil {
			s.fail(w, r, http.StatusBadRequest, "BadDigest", err.Error())
			return
		}
	}
	etag := fmt.Sprintf(`"%016x%016x-%d"`, seed, uint64(total), len(parts))
	s.mu.Lock()
	b := s.bucketLocked(bucket)
	if b != nil && b.uploads[id] == u {
		delete(b.uploads, id)
		if _, had := b.objects[key]; !had {
			b.dirty = true
		}
		b.objects[key] = sinkObject{size: total, seed: seed, etag: etag, modTime: time.Now()}
	} else {
		b = nil
	}
	s.mu.Unlock()
	if b == nil {
		s.fail(w, r, http.StatusNotFound, "NoSuchUpload", "")
		return
	}
	type result struct {
		XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
	}
	writeXML(w, result{Location: "/" + bucket + "/" + key, Bucket: bucket, Key: key, ETag: etag})
}

// verifyParts regenerates each part's range of the artifact's content and
// compares its digest with the one recorded on upload.
func verifyParts(seed uint64, key string, total int64, parts []sinkPart) error {
	base := contentBase(seed, key, total)
	bp := sinkBufPool.Get().(*[]byte)
	defer sinkBufPool.Put(bp)
	buf := *bp
	var off int64
	for i, p := range parts {
		h := xxh3.New()
		for done := int64(0); done < p.size; {
			n := int(min(int64(len(buf)), p.size-done))
			fillContent(base, off+done, buf[:n])
			_, _ = h.Write(buf[:n])
			done += int64(n)
		}
		if h.Sum64() != p.digest {
			return fmt.Errorf("%w: part %d (bytes %d..%d)", ErrVerifyMismatch, i+1, off, off+p.size)
		}
		off += p.size
	}
	return nil
}

// SinkServer serves a handler (usually a Sink) on a loopback port.
type SinkServer struct {
	// URL is the endpoint, "http://127.0.0.1:port".
	URL  string
	srv  *http.Server
	done chan error
}

// StartSink serves h on 127.0.0.1 at a free port until Close.
func StartSink(h http.Handler) (*SinkServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &SinkServer{
		URL:  "http://" + ln.Addr().String(),
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server, waiting for requests in flight until ctx ends.
func (s *SinkServer) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
