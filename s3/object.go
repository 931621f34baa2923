package s3

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vaultaire/vaultaire/checksum"
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
	for _, a := range checksum.Algorithms {
		if v, ok := sums[a.Name]; ok && v != "" {
			h.Set(a.Header, v)
		}
	}
}

func (s *Server) putObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	aclOwner, acl, err := s.writeACL(r, rc)
	if err != nil {
		return err
	}
	opts, err := s.checkWriteHeaders(r)
	if err != nil {
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
	if opts.lockHeaders && !b.hasChecksum {
		return withMessage(errInvalidRequest, "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters")
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = defaultContentType
	}
	info, err := s.eng.PutArtifact(ctx, rc.tenant, node.PutInput{
		Container:    rc.ep.Container,
		Key:          rc.ep.Key,
		Body:         b,
		Size:         b.size,
		ContentType:  ct,
		Headers:      headers,
		Meta:         meta,
		Checksums:    b.checksums,
		ContentMD5:   b.contentMD5,
		Cond:         cond,
		StorageClass: opts.storageClass,
		Tags:         opts.tags,
		Retention:    opts.retention,
		LegalHold:    opts.legalHold,
		Encryption:   opts.encryption,
		Owner:        aclOwner,
		ACL:          acl,
	})
	if err != nil {
		return err
	}
	h := w.Header()
	setEncryptionHeaders(h, info.Encryption, opts.customer)
	h.Set("ETag", quoteETag(info.ETag))
	setVersionHeaders(h, info.Versioned, info.VersionID, false)
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
	setVersionHeaders(h, info.Versioned, info.VersionID, false)
	if info.StorageClass != "" {
		h.Set("X-Amz-Storage-Class", info.StorageClass)
	}
	if n := len(info.Tags); n > 0 {
		h.Set("X-Amz-Tagging-Count", strconv.Itoa(n))
	}
	if r := info.Retention; r.Mode != "" {
		h.Set("X-Amz-Object-Lock-Mode", r.Mode)
		h.Set("X-Amz-Object-Lock-Retain-Until-Date", r.Until.UTC().Format(timeISO))
	}
	if info.LegalHold {
		h.Set("X-Amz-Object-Lock-Legal-Hold", "ON")
	}
	switch {
	case info.RestoreOngoing:
		h.Set("X-Amz-Restore", `ongoing-request="true"`)
	case !info.RestoreExpiry.IsZero():
		h.Set("X-Amz-Restore", `ongoing-request="false", expiry-date="`+info.RestoreExpiry.UTC().Format(http.TimeFormat)+`"`)
	}
	if info.Expiration != nil {
		h.Set("X-Amz-Expiration", expirationHeader(info.Expiration))
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
	ref, err := versionRef(r, rc)
	if err != nil {
		return err
	}
	ck, err := s.customerKey(r, hdrSSECPrefix)
	if err != nil {
		return err
	}
	ref.CustomerKey = ck.keyOrNil()
	ref.MetadataOnly = head
	h := w.Header()
	var info node.ArtifactInfo
	// HEAD opens the version too (no bytes are read): an SSE-C version
	// answers HEAD only with its key, as in S3, and an archived version
	// answers HEAD without a restore.
	rd, err := s.eng.OpenArtifact(ctx, rc.tenant, ref)
	if err == nil {
		info = rd.Info()
	}
	if err != nil {
		if errors.Is(err, node.ErrInvalidArgument) {
			return withMessage(errInvalidArgument, "Invalid version id specified")
		}
		return deleteMarkerHeaders(h, err)
	}
	if err := evalConditions(r.Header, readConds, info.ETag, info.Modified, false); err != nil {
		if errors.Is(err, errNotModified) {
			setArtifactHeaders(h, info)
		}
		return err
	}
	// The bytes to send: the whole artifact, one part of it, or a range.
	whole := byteRange{start: 0, length: info.Size}
	if partNumber > 0 {
		if r.Header.Get("Range") != "" {
			return withMessage(errInvalidRequest, "Cannot specify both Range header and partNumber query parameter")
		}
		p, ok := partRange(info, partNumber)
		if !ok {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			return errInvalidPartNumber
		}
		whole = p
	}
	rng, partial, err := parseRange(r.Header.Get("Range"), info.Size)
	if err != nil {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
		return err
	}
	if !partial {
		rng = whole
		partial = partNumber > 0 && info.Parts > 0
	}
	setArtifactHeaders(h, info)
	setEncryptionHeaders(h, info.Encryption, ck)
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
		h.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(max(info.Parts, 1)))
	}
	if strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") && len(info.Checksums) > 0 {
		switch {
		case !partial:
			setChecksumHeaders(h, info.Checksums)
			h.Set("X-Amz-Checksum-Type", checksumTypeOf(info))
		case partNumber > 0:
			if sums, typ := partChecksums(info, partNumber); sums != nil {
				setChecksumHeaders(h, sums)
				h.Set("X-Amz-Checksum-Type", typ)
			}
		}
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

// partRange is the byte range of part number n of an artifact: its part
// of a multipart artifact, or the whole of a single-part one (n == 1).
// partChecksums is the checksum that GET and HEAD with partNumber n of a
// multipart artifact report, as S3 does: a COMPOSITE artifact's part n
// has its own checksum of the upload's algorithm (the one the composite
// is made of); a FULL_OBJECT artifact reports one only when it is that
// single part, whose checksum is then the object's. nil for none.
func partChecksums(info node.ArtifactInfo, n int) (map[string]string, string) {
	typ := checksumTypeOf(info)
	if typ != "COMPOSITE" && len(info.PartList) != 1 {
		return nil, ""
	}
	for _, p := range info.PartList {
		if p.Number != n {
			continue
		}
		sums := map[string]string{}
		for name := range info.Checksums {
			if v := p.Checksums[name]; v != "" {
				sums[name] = v
			}
		}
		if len(sums) == 0 {
			return nil, ""
		}
		return sums, typ
	}
	return nil, ""
}

func partRange(info node.ArtifactInfo, n int) (byteRange, bool) {
	if info.Parts == 0 {
		return byteRange{start: 0, length: info.Size}, n == 1
	}
	var off int64
	for _, p := range info.PartList {
		if p.Number == n {
			return byteRange{start: off, length: p.Size}, true
		}
		off += p.Size
	}
	return byteRange{}, false
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
	ref, err := versionRef(r, rc)
	if err != nil {
		return err
	}
	in := node.DeleteInput{Container: ref.Container, Key: ref.Key, VersionID: ref.VersionID, BypassGovernance: bypassGovernance(r, rc)}
	if v := strings.TrimSpace(r.Header.Get("If-Match")); v != "" {
		if strings.Contains(v, ",") {
			return withMessage(errNotImplemented, "If-Match on deletes supports a single ETag.")
		}
		in.IfMatch = strings.Trim(strings.TrimPrefix(v, "W/"), `"`)
	}
	res, err := s.eng.DeleteArtifact(ctx, rc.tenant, in)
	if err != nil {
		if errors.Is(err, node.ErrInvalidArgument) {
			return withMessage(errInvalidArgument, "Invalid version id specified")
		}
		return err
	}
	setVersionHeaders(w.Header(), res.Versioned, res.VersionID, res.DeleteMarker)
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
	bypass := bypassGovernance(r, rc)
	res := deleteResult{NS: s3NS}
	for _, o := range req.Objects {
		var dr node.DeleteResult
		err := checkKey(o.Key)
		if err == nil && o.VersionID == "" && o.VersionIDSet {
			err = withMessage(errInvalidArgument, "Version id cannot be the empty string")
		}
		if err == nil {
			err = s.authorizeKey(ctx, r, rc, "s3:DeleteObject", o.Key, o.VersionID != "")
		}
		if err == nil {
			dr, err = s.eng.DeleteArtifact(ctx, rc.tenant, node.DeleteInput{
				Container: rc.ep.Container, Key: o.Key, VersionID: o.VersionID,
				IfMatch: strings.Trim(strings.TrimSpace(o.ETag), `"`), BypassGovernance: bypass,
			})
			if errors.Is(err, node.ErrInvalidArgument) {
				err = withMessage(errInvalidArgument, "Invalid version id specified")
			}
		}
		if err != nil {
			if isCanceled(err) {
				return err
			}
			row, known := lookupError(err)
			if !known {
				s.log.Error("s3: delete in DeleteObjects failed", "request_id", rc.id, "key", o.Key, "err", err)
			}
			res.Errors = append(res.Errors, deleteErrorEntry{Key: o.Key, VersionID: o.VersionID, Code: row.code, Message: row.message})
			continue
		}
		if req.Quiet {
			continue
		}
		e := deletedEntry{Key: o.Key, VersionID: o.VersionID}
		if dr.DeleteMarker {
			e.DeleteMarker = true
			if o.VersionID == "" {
				// A marker was created: its id.
				e.DeleteMarkerVersionID = versionOrNull(dr.VersionID)
			} else {
				e.DeleteMarkerVersionID = o.VersionID
			}
		}
		res.Deleted = append(res.Deleted, e)
	}
	return writeXML(w, res)
}

func versionOrNull(id string) string {
	if id == "" {
		return node.NullVersion
	}
	return id
}

// copySource is a parsed x-amz-copy-source. tenant is the tenant of a
// qualified bucket ("tenant:bucket/key"), "" for a plain name; owner is
// the tenant the bucket was resolved to (copySourceOf).
type copySource struct {
	tenant, owner, container, key, versionID string
}

// parseCopySource parses "[/][tenant:]bucket/key[?versionId=id]" with the
// key URL-encoded, as S3 accepts it.
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
	if t, b, qualified := SplitQualified(c); qualified {
		if !validTenantID(t) {
			return cs, errInvalidBucketName
		}
		cs.tenant, c = t, b
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

// copySourceOf parses the request's x-amz-copy-source and resolves its
// bucket as a request's own bucket name is resolved (ResolveBucket): a
// plain name is the requester's bucket, "tenant:bucket" another tenant's
// (which must exist). Whether the requester may read it is authorize's.
func (s *Server) copySourceOf(ctx context.Context, r *http.Request, rc *reqCtx) (copySource, error) {
	cs, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return cs, err
	}
	name := cs.container
	if cs.tenant != "" {
		name = cs.tenant + ":" + cs.container
	}
	cs.owner, _, err = s.ResolveBucket(ctx, rc.principal.Tenant, name)
	return cs, err
}

// openCopySource opens the source of a copy (the version it names, or
// the latest) and applies its x-amz-copy-source-if-* conditions.
func (s *Server) openCopySource(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) (copySource, node.ArtifactReader, error) {
	cs, err := s.copySourceOf(ctx, r, rc)
	if err != nil {
		return cs, nil, err
	}
	ck, err := s.customerKey(r, hdrCopySSEPrefix)
	if err != nil {
		return cs, nil, err
	}
	src, err := s.eng.OpenArtifact(ctx, cs.owner, node.VersionRef{Container: cs.container, Key: cs.key, VersionID: cs.versionID, CustomerKey: ck.keyOrNil()})
	if err != nil {
		switch {
		case errors.Is(err, node.ErrInvalidArgument):
			return cs, nil, withMessage(errInvalidArgument, "Invalid version id specified")
		case errors.Is(err, node.ErrDeleteMarker):
			// S3 refuses a delete marker as a copy source.
			return cs, nil, withMessage(errInvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
		}
		return cs, nil, err
	}
	info := src.Info()
	if err := evalConditions(r.Header, copyConds, info.ETag, info.Modified, true); err != nil {
		return cs, nil, err
	}
	if info.Versioned {
		w.Header().Set("X-Amz-Copy-Source-Version-Id", versionOrNull(info.VersionID))
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
	// The copy gets the request's ACL (or private), never its source's.
	aclOwner, acl, err := s.writeACL(r, rc)
	if err != nil {
		return err
	}
	opts, err := s.checkWriteHeaders(r)
	if err != nil {
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
	tagDirective := strings.ToUpper(r.Header.Get("X-Amz-Tagging-Directive"))
	switch tagDirective {
	case "":
		tagDirective = "COPY"
	case "COPY", "REPLACE":
	default:
		return withMessage(errInvalidArgument, "Unknown tagging directive.")
	}
	cond, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	cs, src, err := s.openCopySource(ctx, w, r, rc)
	if err != nil {
		return err
	}
	info := src.Info()
	if cs.owner == rc.tenant && cs.container == rc.ep.Container && cs.key == rc.ep.Key && cs.versionID == "" && directive != "REPLACE" &&
		tagDirective != "REPLACE" && opts.storageClass == info.StorageClass && !opts.lockHeaders &&
		opts.encryption.Mode == node.EncryptionNone {
		return withMessage(errInvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if info.Size > s.cfg.MaxPutSize {
		return withMessage(errInvalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: %d", s.cfg.MaxPutSize)
	}
	in := node.PutInput{
		Container: rc.ep.Container, Key: rc.ep.Key, Size: info.Size, Cond: cond,
		ContentType: info.ContentType, Headers: info.Headers, Meta: info.Meta,
		Checksums: info.Checksums, StorageClass: opts.storageClass,
		Tags: info.Tags, Retention: opts.retention, LegalHold: opts.legalHold,
		Encryption: opts.encryption, Owner: aclOwner, ACL: acl,
	}
	if tagDirective == "REPLACE" {
		in.Tags = opts.tags
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
	setVersionHeaders(w.Header(), out.Versioned, out.VersionID, false)
	setEncryptionHeaders(w.Header(), out.Encryption, opts.customer)
	res := copyObjectResult{NS: s3NS, LastModified: isoTime(out.Modified), ETag: quoteETag(out.ETag)}
	sums := info.Checksums
	res.ChecksumCRC32, res.ChecksumCRC32C, res.ChecksumCRC64 = sums["CRC32"], sums["CRC32C"], sums["CRC64NVME"]
	res.ChecksumSHA1, res.ChecksumSHA256 = sums["SHA1"], sums["SHA256"]
	return writeXML(w, res)
}
