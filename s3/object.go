package s3

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vaultaire/vaultaire/node"
)

// defaultContentType is what S3 stores when a PUT names none.
const defaultContentType = "binary/octet-stream"

// writeConditions reads the conditional-write headers of a PUT or
// CompleteMultipartUpload. S3 supports only "*" for If-None-Match.
func writeConditions(h http.Header) (node.Conditions, error) {
	var c node.Conditions
	if v := strings.TrimSpace(h.Get("If-None-Match")); v != "" {
		if v != "*" {
			return c, withMessage(errNotImplemented, "If-None-Match on writes supports only \"*\".")
		}
		c.IfNoneMatch = "*"
	}
	if v := strings.TrimSpace(h.Get("If-Match")); v != "" {
		if v == "*" || strings.Contains(v, ",") {
			return c, withMessage(errNotImplemented, "If-Match on writes supports a single ETag.")
		}
		c.IfMatch = strings.Trim(strings.TrimPrefix(v, "W/"), `"`)
	}
	return c, nil
}

func setChecksumHeaders(h http.Header, sums map[string]string) {
	for _, a := range checksumAlgs {
		if v, ok := sums[a.name]; ok && v != "" {
			h.Set(a.header, v)
		}
	}
}

func (s *Server) putObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if err := checkWriteHeaders(r.Header); err != nil {
		return err
	}
	headers, meta, err := artifactHeaders(r.Header)
	if err != nil {
		return err
	}
	cond, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	b, err := s.openBody(r, rc, s.cfg.MaxPutSize)
	if err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = defaultContentType
	}
	info, err := s.eng.PutArtifact(ctx, rc.tenant, node.PutInput{
		Container:   rc.ep.Container,
		Key:         rc.ep.Key,
		Body:        b,
		Size:        b.size,
		ContentType: ct,
		Headers:     headers,
		Meta:        meta,
		Checksums:   b.checksums,
		ContentMD5:  b.contentMD5,
		Cond:        cond,
	})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", quoteETag(info.ETag))
	if info.VersionID != "" {
		h.Set("X-Amz-Version-Id", info.VersionID)
	}
	setChecksumHeaders(h, b.checksums)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// responseOverrides are the query parameters of GetObject that replace
// response headers.
var responseOverrides = []struct{ param, header string }{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

// setArtifactHeaders writes the stored headers of an artifact.
func setArtifactHeaders(h http.Header, info node.ArtifactInfo) {
	h.Set("ETag", quoteETag(info.ETag))
	h.Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	if info.VersionID != "" {
		h.Set("X-Amz-Version-Id", info.VersionID)
	}
}

func (s *Server) getObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	head := rc.ep.Op == OpHeadObject
	partNumber := 0
	if v := q.Get("partNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPartNumber {
			return withMessage(errInvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
		}
		partNumber = n
	}
	var info node.ArtifactInfo
	var rd node.ArtifactReader
	var err error
	if head {
		info, err = s.eng.HeadArtifact(ctx, rc.tenant, rc.ep.Container, rc.ep.Key)
	} else {
		rd, err = s.eng.OpenArtifact(ctx, rc.tenant, rc.ep.Container, rc.ep.Key)
		if err == nil {
			info = rd.Info()
		}
	}
	if err != nil {
		return err
	}
	if v := q.Get("versionId"); v != "" && v != info.VersionID {
		return errNoSuchVersion
	}
	if partNumber > 0 && (info.Parts > 0 || partNumber != 1) {
		return withMessage(errNotImplemented, "GetObject by part number is supported only for single-part objects.")
	}
	h := w.Header()
	if err := evalConditions(r.Header, readConds, info.ETag, info.Modified, false); err != nil {
		if errors.Is(err, errNotModified) {
			setArtifactHeaders(h, info)
		}
		return err
	}
	rng, partial, err := parseRange(r.Header.Get("Range"), info.Size)
	if err != nil {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
		return err
	}
	if !partial {
		rng = byteRange{start: 0, length: info.Size}
	}
	setArtifactHeaders(h, info)
	ct := info.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	h.Set("Content-Type", ct)
	for name, v := range info.Headers {
		h.Set(name, v)
	}
	for k, v := range info.Meta {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	for _, o := range responseOverrides {
		if v := q.Get(o.param); v != "" {
			h.Set(o.header, v)
		}
	}
	h.Set("Accept-Ranges", "bytes")
	if partNumber > 0 {
		h.Set("X-Amz-Mp-Parts-Count", "1")
	}
	if !partial && strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") && len(info.Checksums) > 0 {
		setChecksumHeaders(h, info.Checksums)
		h.Set("X-Amz-Checksum-Type", "FULL_OBJECT")
	}
	h.Set("Content-Length", strconv.FormatInt(rng.length, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(rng.start, 10)+"-"+
			strconv.FormatInt(rng.start+rng.length-1, 10)+"/"+strconv.FormatInt(info.Size, 10))
		status = http.StatusPartialContent
	}
	if head || rng.length == 0 {
		w.WriteHeader(status)
		return nil
	}
	// The status goes out with the first byte: a read that fails before
	// any byte (too few drives, say) still gets a proper S3 error; one
	// that fails later can only cut the connection.
	lw := &lazyWriter{w: w, status: status}
	if err := rd.WriteRange(ctx, lw, rng.start, rng.length); err != nil {
		if !lw.started {
			for name := range h {
				switch name {
				case "X-Amz-Request-Id", "X-Amz-Id-2", "Server":
				default:
					delete(h, name)
				}
			}
		}
		return err
	}
	if !lw.started {
		w.WriteHeader(status)
	}
	return nil
}

// lazyWriter sends the response status just before the first body byte.
type lazyWriter struct {
	w       http.ResponseWriter
	status  int
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		if len(p) == 0 {
			return 0, nil
		}
		l.started = true
		l.w.WriteHeader(l.status)
	}
	return l.w.Write(p)
}

func (s *Server) deleteObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if r.Header.Get("If-Match") != "" {
		return withMessage(errNotImplemented, "Conditional deletes are not supported.")
	}
	if err := s.eng.DeleteArtifact(ctx, rc.tenant, rc.ep.Container, rc.ep.Key); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteObjects(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	b, err := s.openBody(r, rc, s.cfg.MaxPutSize)
	if err != nil {
		return err
	}
	if !b.hasChecksum {
		return withMessage(errInvalidRequest, "Missing required header for this request: Content-MD5")
	}
	data, err := readAllVerified(b, maxXMLBody)
	if err != nil {
		return err
	}
	req, err := parseDeleteXML(data)
	if err != nil {
		return err
	}
	if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	res := deleteResult{NS: s3NS}
	for _, o := range req.Objects {
		err := checkKey(o.Key)
		switch {
		case err != nil:
		case o.VersionID != "":
			err = withMessage(errNotImplemented, "Deleting a specific version is not supported.")
		case o.ETag != "":
			err = withMessage(errNotImplemented, "Conditional deletes are not supported.")
		default:
			err = s.eng.DeleteArtifact(ctx, rc.tenant, rc.ep.Container, o.Key)
		}
		if err != nil {
			if isCanceled(err) {
				return err
			}
			row, known := lookupError(err)
			if !known {
				s.log.Error("s3: delete in DeleteObjects failed", "request_id", rc.id, "key", o.Key, "err", err)
			}
			res.Errors = append(res.Errors, deleteErrorEntry{Key: o.Key, Code: row.code, Message: row.message})
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedEntry{Key: o.Key})
		}
	}
	return writeXML(w, res)
}

// copySource is a parsed x-amz-copy-source.
type copySource struct {
	container, key, versionID string
}

// parseCopySource parses "[/]bucket/key[?versionId=id]" with the key
// URL-encoded, as S3 accepts it.
func parseCopySource(v string) (copySource, error) {
	bad := withMessage(errInvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	path, query, hasQuery := strings.Cut(v, "?")
	var cs copySource
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err != nil {
			return cs, bad
		}
		for k := range q {
			if k != "versionId" {
				return cs, bad
			}
		}
		cs.versionID = q.Get("versionId")
		if cs.versionID == "" {
			return cs, bad
		}
	}
	dec, err := url.PathUnescape(path)
	if err != nil {
		return cs, bad
	}
	dec = strings.TrimPrefix(dec, "/")
	c, k, ok := strings.Cut(dec, "/")
	if !ok || c == "" || k == "" {
		return cs, bad
	}
	if !ValidBucketName(c) {
		return cs, errInvalidBucketName
	}
	if err := checkKey(k); err != nil {
		return cs, err
	}
	cs.container, cs.key = c, k
	return cs, nil
}

// openCopySource opens the source of a copy and applies its version and
// x-amz-copy-source-if-* conditions.
func (s *Server) openCopySource(ctx context.Context, r *http.Request, rc *reqCtx) (copySource, node.ArtifactReader, error) {
	cs, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return cs, nil, err
	}
	src, err := s.eng.OpenArtifact(ctx, rc.tenant, cs.container, cs.key)
	if err != nil {
		return cs, nil, err
	}
	info := src.Info()
	if cs.versionID != "" && cs.versionID != info.VersionID {
		return cs, nil, errNoSuchVersion
	}
	if err := evalConditions(r.Header, copyConds, info.ETag, info.Modified, true); err != nil {
		return cs, nil, err
	}
	return cs, src, nil
}

// errCopyAborted stops a copy's source stream when the destination write
// ended early.
var errCopyAborted = errors.New("s3: copy destination ended early")

// pipeCopy streams src[off, off+length) into write through an io.Pipe: the
// bytes never rest in memory beyond the pipe's hand-off.
func pipeCopy(ctx context.Context, src node.ArtifactReader, off, length int64, write func(io.Reader) error) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(src.WriteRange(ctx, pw, off, length))
	}()
	err := write(pr)
	pr.CloseWithError(errCopyAborted)
	<-done
	return err
}

func (s *Server) copyObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if err := checkWriteHeaders(r.Header); err != nil {
		return err
	}
	directive := strings.ToUpper(r.Header.Get("X-Amz-Metadata-Directive"))
	switch directive {
	case "":
		directive = "COPY"
	case "COPY", "REPLACE":
	default:
		return withMessage(errInvalidArgument, "Unknown metadata directive.")
	}
	cond, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	cs, src, err := s.openCopySource(ctx, r, rc)
	if err != nil {
		return err
	}
	info := src.Info()
	if cs.container == rc.ep.Container && cs.key == rc.ep.Key && directive != "REPLACE" {
		return withMessage(errInvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if info.Size > s.cfg.MaxPutSize {
		return withMessage(errInvalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: %d", s.cfg.MaxPutSize)
	}
	in := node.PutInput{
		Container: rc.ep.Container, Key: rc.ep.Key, Size: info.Size, Cond: cond,
		ContentType: info.ContentType, Headers: info.Headers, Meta: info.Meta,
		Checksums: info.Checksums,
	}
	if directive == "REPLACE" {
		if in.Headers, in.Meta, err = artifactHeaders(r.Header); err != nil {
			return err
		}
		if in.ContentType = r.Header.Get("Content-Type"); in.ContentType == "" {
			in.ContentType = defaultContentType
		}
	}
	var out node.ArtifactInfo
	err = pipeCopy(ctx, src, 0, info.Size, func(body io.Reader) error {
		in.Body = body
		var err error
		out, err = s.eng.PutArtifact(ctx, rc.tenant, in)
		return err
	})
	if err != nil {
		return err
	}
	if out.VersionID != "" {
		w.Header().Set("X-Amz-Version-Id", out.VersionID)
	}
	res := copyObjectResult{NS: s3NS, LastModified: isoTime(out.Modified), ETag: quoteETag(out.ETag)}
	sums := info.Checksums
	res.ChecksumCRC32, res.ChecksumCRC32C, res.ChecksumCRC64 = sums["CRC32"], sums["CRC32C"], sums["CRC64NVME"]
	res.ChecksumSHA1, res.ChecksumSHA256 = sums["SHA1"], sums["SHA256"]
	return writeXML(w, res)
}
