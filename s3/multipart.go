package s3

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vaultaire/vaultaire/checksum"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/policy"
)

// maxListParts is the default and ceiling of max-parts and max-uploads.
const maxListParts = 1000

func (s *Server) createUpload(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	// The ACL applies to the version the upload completes.
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
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = defaultContentType
	}
	u, err := s.eng.CreateUpload(ctx, rc.tenant, node.UploadInput{
		Container: rc.ep.Container, Key: rc.ep.Key, ContentType: ct, Headers: headers, Meta: meta,
		StorageClass: opts.storageClass, Tags: opts.tags, Retention: opts.retention, LegalHold: opts.legalHold,
		ChecksumAlgorithm: r.Header.Get("X-Amz-Checksum-Algorithm"), ChecksumType: r.Header.Get("X-Amz-Checksum-Type"),
		Encryption: opts.encryption, Owner: aclOwner, ACL: acl, Initiator: initiatorOf(rc.principal),
	})
	if err != nil {
		return err
	}
	setEncryptionHeaders(w.Header(), u.Encryption, opts.customer)
	if u.ChecksumAlgorithm != "" {
		w.Header().Set("X-Amz-Checksum-Algorithm", u.ChecksumAlgorithm)
		w.Header().Set("X-Amz-Checksum-Type", u.ChecksumType)
	}
	return writeXML(w, initiateMultipartUploadResult{NS: s3NS, Bucket: rc.ep.Container, Key: rc.ep.Key, UploadID: u.UploadID})
}

// partParams reads uploadId and partNumber of UploadPart(Copy).
func partParams(q url.Values) (string, int, error) {
	id := q.Get("uploadId")
	if id == "" {
		return "", 0, withMessage(errInvalidArgument, "The uploadId must not be empty.")
	}
	v := q.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPartNumber {
		return "", 0, withMessage(errInvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
	}
	return id, n, nil
}

func (s *Server) uploadPart(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, n, err := partParams(r.URL.Query())
	if err != nil {
		return err
	}
	ck, err := s.customerKey(r, hdrSSECPrefix)
	if err != nil {
		return err
	}
	b, err := s.openBody(r, rc, s.cfg.MaxPutSize)
	if err != nil {
		return err
	}
	p, err := s.eng.UploadPart(ctx, rc.tenant, node.PartInput{
		Container: rc.ep.Container, Key: rc.ep.Key, UploadID: id, Number: n,
		Body: b, Size: b.size, ContentMD5: b.contentMD5, Checksums: b.checksums, TrailerChecksum: b.trailer,
		FromClient: true, CustomerKey: ck.keyOrNil(),
	})
	if err != nil {
		return err
	}
	h := w.Header()
	if ck != nil {
		setEncryptionHeaders(h, node.EncryptionCustomer, ck)
	}
	h.Set("ETag", quoteETag(p.ETag))
	setChecksumHeaders(h, p.Checksums)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopySourceRange parses x-amz-copy-source-range "bytes=first-last"
// against a source of size bytes.
func parseCopySourceRange(v string, size int64) (byteRange, error) {
	bad := withMessage(errInvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return byteRange{}, bad
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return byteRange{}, bad
	}
	first, e1 := parseRangeNum(a)
	last, e2 := parseRangeNum(b)
	if e1 || e2 || last < first {
		return byteRange{}, bad
	}
	if last >= size {
		return byteRange{}, withMessage(errInvalidArgument, "Range specified is not valid for source object of size: %d", size)
	}
	return byteRange{start: first, length: last - first + 1}, nil
}

func (s *Server) uploadPartCopy(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, n, err := partParams(r.URL.Query())
	if err != nil {
		return err
	}
	ck, err := s.customerKey(r, hdrSSECPrefix)
	if err != nil {
		return err
	}
	_, src, err := s.openCopySource(ctx, w, r, rc)
	if err != nil {
		return err
	}
	info := src.Info()
	rng := byteRange{start: 0, length: info.Size}
	if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		if rng, err = parseCopySourceRange(v, info.Size); err != nil {
			return err
		}
	}
	if rng.length > s.cfg.MaxPutSize {
		return withMessage(errInvalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: %d", s.cfg.MaxPutSize)
	}
	var p node.PartInfo
	err = pipeCopy(ctx, src, rng.start, rng.length, func(body io.Reader) error {
		var err error
		p, err = s.eng.UploadPart(ctx, rc.tenant, node.PartInput{
			Container: rc.ep.Container, Key: rc.ep.Key, UploadID: id, Number: n,
			Body: body, Size: rng.length, CustomerKey: ck.keyOrNil(),
		})
		return err
	})
	if err != nil {
		return err
	}
	res := copyPartResult{NS: s3NS, LastModified: isoTime(p.Modified), ETag: quoteETag(p.ETag)}
	if c := checksumsXML(p.Checksums, ""); c != nil {
		res.checksumXML = *c
	}
	return writeXML(w, res)
}

// validWhole reports whether v is a whole-object value of a: base64 of a
// digest, optionally followed by "-N" (a COMPOSITE value of N parts).
func validWhole(a checksum.Algorithm, v string) bool {
	base, n, ok := strings.Cut(v, "-")
	if ok {
		if k, err := strconv.Atoi(n); err != nil || k < 1 || k > maxPartNumber {
			return false
		}
	}
	return a.Valid(base)
}

func (s *Server) completeUpload(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.URL.Query().Get("uploadId")
	if id == "" {
		return withMessage(errInvalidArgument, "The uploadId must not be empty.")
	}
	cond, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	// x-amz-checksum-* on a completion is the whole object's value, not
	// the XML body's: taken out before the body is opened.
	for _, a := range checksum.Algorithms {
		v := r.Header.Get(a.Header)
		if v == "" {
			continue
		}
		r.Header.Del(a.Header)
		if !validWhole(a, v) {
			return withMessage(errInvalidRequest, "Value for %s header is invalid.", a.Header)
		}
		if cond.Checksums == nil {
			cond.Checksums = map[string]string{}
		}
		cond.Checksums[a.Name] = v
	}
	r.Header.Del("X-Amz-Sdk-Checksum-Algorithm")
	cond.ChecksumType = r.Header.Get("X-Amz-Checksum-Type")
	b, err := s.openBody(r, rc, s.cfg.MaxPutSize)
	if err != nil {
		return err
	}
	data, err := readAllVerified(b, maxXMLBody)
	if err != nil {
		return err
	}
	parts, err := parseCompleteXML(data)
	if err != nil {
		return err
	}
	refs := make([]node.PartRef, len(parts))
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return node.ErrInvalidPartOrder
		}
		refs[i] = node.PartRef{Number: p.Number, ETag: p.ETag, Checksums: p.Checksums}
	}
	if err := s.checkObjectSize(ctx, rc, id, refs); err != nil {
		return err
	}
	info, err := s.eng.CompleteUpload(ctx, rc.tenant, rc.ep.Container, rc.ep.Key, id, refs, cond)
	if err != nil {
		return err
	}
	setVersionHeaders(w.Header(), info.Versioned, info.VersionID, false)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	loc := scheme + "://" + r.Host + "/" + rc.ep.Container + "/" + (&url.URL{Path: rc.ep.Key}).EscapedPath()
	res := completeMultipartUploadResult{
		NS: s3NS, Location: loc, Bucket: rc.ep.Container, Key: rc.ep.Key, ETag: quoteETag(info.ETag),
	}
	if c := checksumsXML(info.Checksums, info.ChecksumType); c != nil {
		res.checksumXML = *c
	}
	return writeXML(w, res)
}

// checkObjectSize enforces MaxObjectSize on a completion. Only when the
// listed parts could exceed it (count x MaxPutSize > MaxObjectSize; never
// below 1025 parts with the defaults) are the part sizes read.
func (s *Server) checkObjectSize(ctx context.Context, rc *reqCtx, id string, refs []node.PartRef) error {
	if int64(len(refs)) <= s.cfg.MaxObjectSize/s.cfg.MaxPutSize {
		return nil
	}
	sizes := make(map[int]int64, len(refs))
	marker := 0
	for {
		pl, err := s.eng.ListParts(ctx, rc.tenant, rc.ep.Container, rc.ep.Key, id, marker, maxListParts)
		if err != nil {
			return err
		}
		for _, p := range pl.Parts {
			sizes[p.Number] = p.Size
		}
		if !pl.Truncated || pl.Next <= marker {
			break
		}
		marker = pl.Next
	}
	var total int64
	for _, r := range refs {
		total += sizes[r.Number]
	}
	if total > s.cfg.MaxObjectSize {
		return errEntityTooLarge
	}
	return nil
}

func (s *Server) abortUpload(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.URL.Query().Get("uploadId")
	if id == "" {
		return withMessage(errInvalidArgument, "The uploadId must not be empty.")
	}
	if err := s.eng.AbortUpload(ctx, rc.tenant, rc.ep.Container, rc.ep.Key, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// intParam parses an optional non-negative integer query parameter.
func intParam(q url.Values, name string, def, ceiling int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, withMessage(errInvalidArgument, "Provided %s not an integer or within integer range", name)
	}
	if n > ceiling {
		n = ceiling
	}
	return n, nil
}

func (s *Server) listParts(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	id := q.Get("uploadId")
	if id == "" {
		return withMessage(errInvalidArgument, "The uploadId must not be empty.")
	}
	max, err := intParam(q, "max-parts", maxListParts, maxListParts)
	if err != nil {
		return err
	}
	marker, err := intParam(q, "part-number-marker", 0, maxPartNumber)
	if err != nil {
		return err
	}
	res := listPartsResult{
		NS: s3NS, Bucket: rc.ep.Container, Key: rc.ep.Key, UploadID: id,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: max,
	}
	// max-parts=0 still reads the upload: a missing one is reported.
	pl, err := s.eng.ListParts(ctx, rc.tenant, rc.ep.Container, rc.ep.Key, id, marker, cmp.Or(max, 1))
	if err != nil {
		return err
	}
	var ownerACLs int
	res.Owner = s.ownerOf(r, rc, pl.Upload.Owner, &ownerACLs)
	res.Initiator = initiatorOr(pl.Upload.Initiator, res.Owner)
	if max == 0 {
		return writeXML(w, res)
	}
	res.StorageClass = storageClassOf(pl.Upload.StorageClass)
	res.ChecksumAlgorithm, res.ChecksumType = pl.Upload.ChecksumAlgorithm, pl.Upload.ChecksumType
	for _, p := range pl.Parts {
		e := partEntry{PartNumber: p.Number, LastModified: isoTime(p.Modified), ETag: quoteETag(p.ETag), Size: p.Size}
		if c := checksumsXML(p.Checksums, ""); c != nil {
			e.checksumXML = *c
		}
		res.Parts = append(res.Parts, e)
	}
	res.IsTruncated = pl.Truncated
	if pl.Truncated {
		res.NextPartNumberMarker = pl.Next
	} else if n := len(pl.Parts); n > 0 {
		res.NextPartNumberMarker = pl.Parts[n-1].Number
	}
	return writeXML(w, res)
}

func (s *Server) listUploads(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	enc, err := encodingType(q)
	if err != nil {
		return err
	}
	max, err := intParam(q, "max-uploads", maxListParts, maxListParts)
	if err != nil {
		return err
	}
	opts := node.UploadListOptions{
		Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"),
		KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"), MaxUploads: max,
	}
	if opts.KeyMarker == "" {
		// S3 ignores upload-id-marker without key-marker.
		opts.UploadIDMarker = ""
	}
	res := listMultipartUploadsResult{
		NS: s3NS, Bucket: rc.ep.Container, KeyMarker: enc(opts.KeyMarker), UploadIDMarker: opts.UploadIDMarker,
		Delimiter: enc(opts.Delimiter), Prefix: enc(opts.Prefix), MaxUploads: max, EncodingType: q.Get("encoding-type"),
	}
	if max == 0 {
		if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
			return err
		}
		return writeXML(w, res)
	}
	ul, err := s.eng.ListUploads(ctx, rc.tenant, rc.ep.Container, opts)
	if err != nil {
		return err
	}
	var ownerACLs int
	for _, u := range ul.Uploads {
		o := s.ownerOf(r, rc, u.Owner, &ownerACLs)
		res.Uploads = append(res.Uploads, uploadEntry{
			Key: enc(u.Key), UploadID: u.UploadID, Initiator: initiatorOr(u.Initiator, o), Owner: o,
			StorageClass: storageClassOf(u.StorageClass), Initiated: isoTime(u.Initiated),
		})
	}
	for _, p := range ul.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	res.IsTruncated = ul.Truncated
	if ul.Truncated {
		res.NextKeyMarker, res.NextUploadIDMarker = enc(ul.NextKey), ul.NextUploadID
	}
	return writeXML(w, res)
}

// initiatorOf is how an upload records who created it: "TENANT/USER", or
// "" for an anonymous request.
func initiatorOf(pr policy.Principal) string {
	if pr.Anonymous() {
		return ""
	}
	return pr.Tenant + "/" + pr.User
}

// initiatorOr is the Initiator ListParts and ListMultipartUploads show for
// an upload's recorded initiator: a tenant's root user as the tenant (its
// canonical ID, as an Owner), another user as S3 shows an IAM user (its
// ARN, and its name), and the owner when none was recorded.
func initiatorOr(recorded string, o owner) owner {
	t, u, ok := strings.Cut(recorded, "/")
	switch {
	case !ok || t == "":
		return o
	case u == node.TenantRootUser:
		return owner{ID: t, DisplayName: t}
	default:
		return owner{ID: policy.Principal{Tenant: t, User: u}.ARN(node.TenantRootUser), DisplayName: u}
	}
}
