package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/policy"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// maxPostPreData bounds the form fields that precede the file of a POST
// upload, all together (S3's limit: MaxPostPreDataLengthExceeded beyond).
const maxPostPreData = 20 << 10

// postFieldHeaders are the form fields stored as artifact headers.
var postFieldHeaders = map[string]string{
	"cache-control":       "Cache-Control",
	"content-disposition": "Content-Disposition",
	"content-encoding":    "Content-Encoding",
	"content-language":    "Content-Language",
	"expires":             "Expires",
}

// postUnsupported are fields that ask for what is not implemented (as
// unsupportedWriteHeaders for PUT).
var postUnsupported = []string{
	"tagging",
	"x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
	"x-amz-website-redirect-location",
	// Checksum fields would need the file hashed against them; refused
	// rather than silently unverified.
	"x-amz-checksum-algorithm", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
	"x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256",
}

// postSSEFields are the form fields that ask for encryption. They stand
// for the PUT headers of the same names (the request's own headers of
// those names are dropped): the encryption is read as a PUT's is, and a
// bucket policy's s3:x-amz-server-side-encryption condition sees it.
var postSSEFields = []string{
	"x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
	"x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-customer-key",
	"x-amz-server-side-encryption-customer-key-md5",
}

// isForm reports a multipart/form-data Content-Type.
func isForm(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "multipart/form-data"
}

// postObject is S3's POST Object: a browser-form upload to a bucket,
// multipart/form-data, authenticated by a signed policy document instead
// of a request signature. The fields before the file are read (bounded by
// maxPostPreData), the signature and the policy are checked, and then the
// file part is streamed to the Engine; fields after the file are ignored,
// as S3 does.
func (s *Server) postObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	boundary := params["boundary"]
	if err != nil || boundary == "" {
		return errMalformedPOST
	}
	if r.Body == nil {
		return errMalformedPOST
	}
	// The fields before the file, and the file part's header, are
	// parsed within the first maxPostPreData+8 KiB of the body (the 8 KiB
	// for delimiters and part headers).
	form, err := newFormReader(rc.body, boundary, maxPostPreData+8<<10)
	if err != nil {
		return err
	}
	fields := map[string]string{}
	var file *formPart
	preData := 0
	for {
		part, err := form.nextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return preDataErr(err)
		}
		name := strings.ToLower(part.name)
		if name == "" {
			continue
		}
		if name == "file" {
			file = &part
			break
		}
		v, err := form.value(part, maxPostPreData-preData)
		if err != nil {
			return preDataErr(err)
		}
		if preData += len(name) + len(v); preData > maxPostPreData {
			return errPostPreData
		}
		if _, dup := fields[name]; dup {
			return withMessage(errInvalidArgument, "Bucket POST must not contain the field '%s' twice.", name)
		}
		fields[name] = string(v)
	}
	key, ok := fields["key"]
	if !ok {
		return withMessage(errInvalidArgument, "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
	}
	if file == nil {
		return withMessage(errInvalidArgument, "POST requires exactly one file upload per request.")
	}
	if strings.Contains(key, "${filename}") {
		fields["key"] = strings.ReplaceAll(key, "${filename}", file.fileName)
	}
	rc.ep.Key = fields["key"]

	// Authentication: the policy's signature names the key and tenant.
	auth, cred, err := s.authenticatePost(ctx, fields)
	if err != nil {
		return err
	}
	rc.auth, rc.tenant, rc.user = auth, cred.Tenant, cred.User
	rc.principal = policy.Principal{Tenant: cred.Tenant, User: cred.User}
	if err := s.admit(w, rc); err != nil {
		return err
	}
	if !ValidBucketName(rc.ep.Container) {
		return errInvalidBucketName
	}
	if err := checkKey(rc.ep.Key); err != nil {
		return err
	}
	for _, f := range postSSEFields {
		name := http.CanonicalHeaderKey(f)
		r.Header.Del(name)
		if v := fields[f]; v != "" {
			r.Header.Set(name, v)
		}
	}
	// The acl field is the x-amz-acl of a POST (its policy condition
	// key included); grants come only that way.
	r.Header.Del("X-Amz-Acl")
	for _, g := range grantHeaders {
		r.Header.Del(g.header)
	}
	if v := fields["acl"]; v != "" {
		r.Header.Set("X-Amz-Acl", v)
	}
	if err := s.authorize(ctx, r, rc); err != nil {
		return err
	}
	pp, err := parsePostPolicy(fields["policy"])
	if err != nil {
		return err
	}
	if err := pp.check(s.cfg.Now(), rc.ep.Container, fields); err != nil {
		return err
	}
	in, err := postPutInput(rc, fields)
	if err != nil {
		return err
	}
	if in.Owner, in.ACL, err = s.writeACL(r, rc); err != nil {
		return err
	}
	var ck *sseCustomer
	if in.Encryption, ck, err = s.writeEncryption(r); err != nil {
		return err
	}
	if qc, ok := s.eng.(QuotaChecker); ok {
		if err := qc.CheckWriteQuota(ctx, rc.tenant, rc.ep.Container, rc.ep.Key, -1); err != nil {
			return err
		}
	}

	// The file: streamed, with the policy's size range and the server's
	// PUT limit enforced as it flows.
	form.setLimit(-1)
	maxSize := s.cfg.MaxPutSize
	if pp.maxSize >= 0 && pp.maxSize < maxSize {
		maxSize = pp.maxSize
	}
	var content io.Reader = form
	if file.qp {
		content = &qpContent{r: quotedprintable.NewReader(form), form: form}
	}
	var rd io.Reader = &sizeRangeReader{r: content, min: pp.minSize, max: maxSize, policyMax: pp.maxSize}
	if bl, ok := s.cfg.Limiter.(ByteLimiter); ok {
		rd = &shapedBody{Reader: rd, ctx: ctx, lim: bl, tenant: rc.tenant}
	}
	in.Body = rd
	info, err := s.eng.PutArtifact(ctx, rc.tenant, in)
	if err != nil {
		return err
	}
	setEncryptionHeaders(w.Header(), info.Encryption, ck)
	return s.postResponse(w, r, rc, fields, info)
}

// authenticatePost verifies the form's signature (V4 or V2) and resolves
// the tenant of its access key, as authenticate does for other requests.
func (s *Server) authenticatePost(ctx context.Context, fields map[string]string) (*sigv4.Result, node.Credential, error) {
	var cred node.Credential
	res, err := s.verifier.VerifyPost(ctx, fields, func(ctx context.Context, ak string) (string, error) {
		c, err := s.eng.Credential(ctx, ak)
		if err != nil {
			return "", err
		}
		cred = c
		return c.Secret, nil
	})
	if err != nil {
		return nil, node.Credential{}, err
	}
	return res, cred, nil
}

// postPutInput makes the PutInput of the form's fields: Content-Type, the
// stored standard headers, x-amz-meta-*, and the refusals of what is not
// implemented.
func postPutInput(rc *reqCtx, fields map[string]string) (node.PutInput, error) {
	in := node.PutInput{Container: rc.ep.Container, Key: rc.ep.Key, Size: -1,
		ContentType: fields["content-type"], Headers: map[string]string{}, Meta: map[string]string{}}
	if in.ContentType == "" {
		in.ContentType = defaultContentType
	}
	for _, f := range postUnsupported {
		if fields[f] != "" {
			return in, withMessage(errNotImplemented, "The %s field is not supported.", f)
		}
	}
	switch fields["x-amz-storage-class"] {
	case "", "STANDARD":
	default:
		return in, errInvalidStorageClass
	}
	size := 0
	for name, v := range fields {
		if h, ok := postFieldHeaders[name]; ok && v != "" {
			in.Headers[h] = v
		}
		if mk, ok := strings.CutPrefix(name, "x-amz-meta-"); ok {
			if mk == "" {
				return in, withMessage(errInvalidArgument, "User metadata names must not be empty.")
			}
			in.Meta[mk] = v
			size += len(mk) + len(v)
		}
	}
	if size > maxUserMetadata {
		return in, errMetadataTooLarge
	}
	return in, nil
}

// preDataErr is the answer to a form that failed before its file:
// errPostPreData, or MalformedPOSTRequest for whatever else (a truncated
// body included).
func preDataErr(err error) error {
	if errors.Is(err, errPostPreData) {
		return errPostPreData
	}
	return errMalformedPOST
}

// qpContent decodes a quoted-printable file part; a bad encoding is
// errMalformedPOST.
type qpContent struct {
	r    io.Reader
	form *formReader
}

func (q *qpContent) Read(p []byte) (int, error) {
	n, err := q.r.Read(p)
	if err != nil && err != io.EOF && q.form.err == nil {
		err = errMalformedPOST
	}
	return n, err
}

// sizeRangeReader enforces content-length-range on a stream: more than
// max is EntityTooLarge at once, less than min is EntityTooSmall at the
// end (instead of io.EOF, so nothing is committed).
type sizeRangeReader struct {
	r         io.Reader
	n         int64
	min, max  int64
	policyMax int64
}

func (s *sizeRangeReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.n > s.max {
		if s.policyMax >= 0 && s.n > s.policyMax {
			return n, withMessage(errEntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
		}
		return n, errEntityTooLarge
	}
	if err == io.EOF && s.min >= 0 && s.n < s.min {
		return n, withMessage(node.ErrEntityTooSmall, "Your proposed upload is smaller than the minimum allowed size")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return n, errIncompleteBody // shorter than its Content-Length
	}
	// errMalformedPOST when the body ended before the form did, or the
	// connection's own failure.
	return n, err
}

type postResponseXML struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// postResponse answers as the form asked: a 303 to success_action_redirect
// (with bucket, key and etag in its query), or success_action_status 200,
// 201 (a PostResponse document) or 204 (the default).
func (s *Server) postResponse(w http.ResponseWriter, r *http.Request, rc *reqCtx, fields map[string]string, info node.ArtifactInfo) error {
	h := w.Header()
	etag := quoteETag(info.ETag)
	h.Set("ETag", etag)
	if info.VersionID != "" {
		h.Set("X-Amz-Version-Id", info.VersionID)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	loc := scheme + "://" + r.Host + "/" + url.PathEscape(rc.ep.Container) + "/" + escapePath(rc.ep.Key)
	h.Set("Location", loc)
	redirect := fields["success_action_redirect"]
	if redirect == "" {
		redirect = fields["redirect"]
	}
	if u, err := url.Parse(redirect); redirect != "" && err == nil && u.Scheme != "" && u.Host != "" {
		q := u.Query()
		q.Set("bucket", rc.ep.Container)
		q.Set("key", rc.ep.Key)
		q.Set("etag", etag)
		u.RawQuery = q.Encode()
		h.Set("Location", u.String())
		w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	switch status, _ := strconv.Atoi(fields["success_action_status"]); status {
	case http.StatusOK:
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	case http.StatusCreated:
		body, err := xml.Marshal(postResponseXML{Location: loc, Bucket: rc.ep.Container, Key: rc.ep.Key, ETag: etag})
		if err != nil {
			return err
		}
		h.Set("Content-Type", "application/xml")
		h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, xml.Header)
		_, err = w.Write(body)
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// escapePath escapes each segment of a key for a URL path.
func escapePath(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
