package s3

import (
	"net"
	"net/http"
	"strings"
	"unicode/utf8"
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

// checkStorageClass accepts only what the store offers.
func checkStorageClass(h http.Header) error {
	switch h.Get("X-Amz-Storage-Class") {
	case "", "STANDARD":
		return nil
	}
	return errInvalidStorageClass
}

// unsupportedWriteHeaders name features whose silent omission would be a
// wrong success: a client that asks for encryption, tags, object lock,
// grants or a website redirect must not believe it got them.
var unsupportedWriteHeaders = []string{
	"X-Amz-Server-Side-Encryption",
	"X-Amz-Server-Side-Encryption-Customer-Algorithm",
	"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id",
	"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm",
	"X-Amz-Tagging",
	"X-Amz-Object-Lock-Mode",
	"X-Amz-Object-Lock-Retain-Until-Date",
	"X-Amz-Object-Lock-Legal-Hold",
	"X-Amz-Grant-Read",
	"X-Amz-Grant-Read-Acp",
	"X-Amz-Grant-Write-Acp",
	"X-Amz-Grant-Full-Control",
	"X-Amz-Website-Redirect-Location",
}

// checkWriteHeaders refuses writes that ask for what is not implemented.
func checkWriteHeaders(h http.Header) error {
	for _, name := range unsupportedWriteHeaders {
		if h.Get(name) != "" {
			return withMessage(errNotImplemented, "The %s header is not supported.", name)
		}
	}
	switch h.Get("X-Amz-Acl") {
	case "", "private", "bucket-owner-full-control":
	default:
		return withMessage(errNotImplemented, "Only the private canned ACL is supported.")
	}
	if d := h.Get("X-Amz-Tagging-Directive"); d != "" && !strings.EqualFold(d, "COPY") {
		return withMessage(errNotImplemented, "Object tagging is not supported.")
	}
	return checkStorageClass(h)
}
