package s3

import (
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/vaultaire/vaultaire/node"
)

// Naming limits, as S3 has them.
const (
	minBucketName = 3
	maxBucketName = 63
	// maxKeyLength is S3's limit on an object key, in bytes of UTF-8.
	maxKeyLength = 1024
	// maxUserMetadata is S3's limit on user metadata: the sum of the bytes
	// of every x-amz-meta-* name (without the prefix) and value.
	maxUserMetadata = 2 << 10
	// maxPartNumber bounds multipart part numbers (1..10000).
	maxPartNumber = 10000
)

var (
	reservedBucketPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	reservedBucketSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// ValidBucketName reports whether name follows the S3 naming rules for
// general purpose buckets: 3 to 63 lower-case letters, digits, dots and
// hyphens, beginning and ending with a letter or digit, no two adjacent
// dots, no dot next to a hyphen, not an IPv4 address, and none of the
// reserved prefixes and suffixes.
func ValidBucketName(name string) bool {
	if len(name) < minBucketName || len(name) > maxBucketName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
			if c == '.' && (name[i-1] == '.' || name[i-1] == '-' || name[i+1] == '-') {
				return false
			}
		default:
			return false
		}
	}
	if ip := net.ParseIP(name); ip != nil {
		return false
	}
	for _, p := range reservedBucketPrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range reservedBucketSuffixes {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// checkKey validates an object key: 1..1024 bytes of valid UTF-8.
func checkKey(key string) error {
	if len(key) > maxKeyLength {
		return errKeyTooLong
	}
	if key == "" {
		return withMessage(errInvalidArgument, "The object key must not be empty.")
	}
	if !utf8.ValidString(key) {
		return withMessage(errInvalidArgument, "The object key must be valid UTF-8.")
	}
	return nil
}

// standardHeaders are the artifact headers stored and returned as sent
// (besides Content-Type), by canonical name.
var standardHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// artifactHeaders collects the stored standard headers and user metadata of
// a write request.
func artifactHeaders(h http.Header) (headers, meta map[string]string, err error) {
	headers = map[string]string{}
	for _, name := range standardHeaders {
		v := h.Get(name)
		if name == "Content-Encoding" {
			v = stripAWSChunked(h.Values(name))
		}
		if v != "" {
			headers[name] = v
		}
	}
	meta = map[string]string{}
	size := 0
	for name, vs := range h {
		lower := strings.ToLower(name)
		mk, ok := strings.CutPrefix(lower, "x-amz-meta-")
		if !ok {
			continue
		}
		if mk == "" {
			return nil, nil, withMessage(errInvalidArgument, "User metadata names must not be empty.")
		}
		v := strings.Join(vs, ",")
		meta[mk] = v
		size += len(mk) + len(v)
	}
	if size > maxUserMetadata {
		return nil, nil, errMetadataTooLarge
	}
	return headers, meta, nil
}

// stripAWSChunked removes the aws-chunked transfer coding from a
// Content-Encoding list: it describes the request, not the artifact.
func stripAWSChunked(values []string) string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p != "" && !strings.EqualFold(p, "aws-chunked") {
				out = append(out, p)
			}
		}
	}
	return strings.Join(out, ",")
}

// storageClasses are the S3 storage classes a write may name. Every class
// is stored and reported as requested; what a class does is documented
// in docs/design.md ("Storage classes").
var storageClasses = []string{
	"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
	"GLACIER_IR", "GLACIER", "DEEP_ARCHIVE",
}

// storageClass reads x-amz-storage-class: "" for STANDARD (the default,
// stored as nothing), the class otherwise, InvalidStorageClass for a
// class S3 does not have (or one this store cannot honour, such as
// EXPRESS_ONEZONE's directory buckets or OUTPOSTS).
func storageClass(h http.Header) (string, error) {
	v := strings.TrimSpace(h.Get("X-Amz-Storage-Class"))
	if v == "" || v == "STANDARD" {
		return "", nil
	}
	for _, c := range storageClasses {
		if v == c {
			return v, nil
		}
	}
	return "", errInvalidStorageClass
}

// storageClassOf is the class S3 reports for a stored class.
func storageClassOf(c string) string {
	if c == "" {
		return "STANDARD"
	}
	return c
}

// unsupportedWriteHeaders name features whose silent omission would be a
// wrong success: a client that asks for a website redirect must not
// believe it got it. (Grants are writeACL's: stored where the bucket
// enables ACLs, AccessControlListNotSupported elsewhere.)
var unsupportedWriteHeaders = []string{
	"X-Amz-Website-Redirect-Location",
}

// writeOptions are what a write's headers ask for besides the bytes:
// storage class, tags and object lock.
type writeOptions struct {
	storageClass string
	tags         map[string]string
	retention    node.Retention
	legalHold    bool
	lockHeaders  bool // any x-amz-object-lock-* header was sent
	// encryption asked for, and the SSE-C key when given.
	encryption node.Encryption
	customer   *sseCustomer
}

// checkWriteHeaders refuses writes that ask for what is not implemented
// and reads the options of the new version. (Its ACL is writeACL's.)
func (s *Server) checkWriteHeaders(r *http.Request) (writeOptions, error) {
	h := r.Header
	var o writeOptions
	for _, name := range unsupportedWriteHeaders {
		if h.Get(name) != "" {
			return o, withMessage(errNotImplemented, "The %s header is not supported.", name)
		}
	}
	var err error
	if o.encryption, o.customer, err = s.writeEncryption(r); err != nil {
		return o, err
	}
	if o.storageClass, err = storageClass(h); err != nil {
		return o, err
	}
	if o.tags, err = parseTaggingHeader(h.Get("X-Amz-Tagging")); err != nil {
		return o, err
	}
	o.retention, o.legalHold, o.lockHeaders, err = lockHeaders(h, s.cfg.Now())
	return o, err
}
