package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Errors of Signature Version 2. The other failures (signature mismatch,
// skew, expiry, missing date) share the Version 4 sentinels.
var (
	// ErrV2MalformedHeader: an "AWS ..." Authorization header that is not
	// "AWS AccessKeyId:Signature".
	ErrV2MalformedHeader = errors.New("sigv4: malformed signature version 2 authorization header")
	// ErrV2MissingQuery: a V2 presigned URL without all of AWSAccessKeyId,
	// Signature and Expires.
	ErrV2MissingQuery = errors.New("sigv4: incomplete signature version 2 query")
	// ErrV2BadExpires: Expires is not seconds since the epoch.
	ErrV2BadExpires = errors.New("sigv4: invalid signature version 2 Expires")
)

const (
	algorithmV2 = "AWS"
	// maxV2Signature bounds the base64 signature (SHA-1 HMAC: 28 chars).
	maxV2Signature = 64
)

// V2Subresources are the query parameters that take part in a Signature
// Version 2 canonical resource: the list of the S3 documentation (acl,
// lifecycle, location, logging, notification, partNumber, policy,
// requestPayment, torrent, uploadId, uploads, versionId, versioning,
// versions, website), the ones its later text and every client add
// (delete, cors, restore, tagging, the response-* overrides) and the rest
// of botocore's and minio-go's lists. A client signs only those of its own
// list that the request carries; the lists agree on every parameter an
// operation this server implements uses.
var V2Subresources = []string{
	"accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete",
	"encryption", "inventory", "legal-hold", "lifecycle", "location",
	"logging", "metrics", "notification", "object-lock", "partNumber",
	"policy", "replication", "requestPayment", "response-cache-control",
	"response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type",
	"response-expires", "restore", "retention", "select", "select-type",
	"storageClass", "tagging", "torrent", "uploadId", "uploads",
	"versionId", "versioning", "versions", "website",
}

var v2Subresource = func() map[string]bool {
	m := make(map[string]bool, len(V2Subresources))
	for _, s := range V2Subresources {
		m[s] = true
	}
	return m
}()

// ParseAuthorizationV2 parses "AWS AccessKeyId:Signature" and returns the
// key and the decoded signature.
func ParseAuthorizationV2(h string) (accessKeyID string, sig []byte, err error) {
	bad := func() (string, []byte, error) {
		return "", nil, errorf(ErrV2MalformedHeader, "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
	}
	if len(h) > maxAuthLength {
		return bad()
	}
	rest, ok := strings.CutPrefix(h, algorithmV2+" ")
	if !ok {
		return "", nil, ErrUnsupportedAuth
	}
	ak, s, ok := strings.Cut(strings.TrimSpace(rest), ":")
	if !ok || ak == "" || strings.ContainsAny(ak, " \t") || len(s) > maxV2Signature {
		return bad()
	}
	sig, err = base64.StdEncoding.DecodeString(s)
	if err != nil || len(sig) != sha1.Size {
		return bad()
	}
	return ak, sig, nil
}

// PresignV2 is a parsed Signature Version 2 presigned query.
type PresignV2 struct {
	AccessKeyID string
	Signature   []byte
	Expires     time.Time
	expiresRaw  string
}

// ParsePresignV2 parses AWSAccessKeyId, Signature and Expires.
func ParsePresignV2(q url.Values) (PresignV2, error) {
	var p PresignV2
	for _, name := range []string{"AWSAccessKeyId", "Signature", "Expires"} {
		if len(q[name]) != 1 || q.Get(name) == "" {
			return p, errorf(ErrV2MissingQuery, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
		}
	}
	p.AccessKeyID = q.Get("AWSAccessKeyId")
	s := q.Get("Signature")
	sig, err := base64.StdEncoding.DecodeString(s)
	if len(s) > maxV2Signature || err != nil || len(sig) != sha1.Size {
		// A signature that cannot be right does not match.
		return p, ErrSignatureMismatch
	}
	p.Signature = sig
	p.expiresRaw = q.Get("Expires")
	n, err := strconv.ParseInt(p.expiresRaw, 10, 64)
	if err != nil || n < 0 || len(p.expiresRaw) > 12 {
		return p, errorf(ErrV2BadExpires, "Invalid date (should be seconds since epoch): %s", p.expiresRaw)
	}
	p.Expires = time.Unix(n, 0)
	return p, nil
}

// v2Dates are the forms a V2 Date or x-amz-date takes: HTTP dates with a
// zone name or a numeric offset (s3cmd), and the ISO 8601 basic form.
var v2Dates = []string{time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC, timeFormat}

func parseV2Date(s string) (time.Time, bool) {
	for _, f := range v2Dates {
		if t, err := time.Parse(f, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (v *Verifier) verifyHeaderV2(ctx context.Context, r *http.Request, authz string, secret SecretFunc) (*Result, error) {
	ak, sig, err := ParseAuthorizationV2(authz)
	if err != nil {
		return nil, err
	}
	// x-amz-date, when present, is the request date and Date is signed as
	// the empty string.
	date := r.Header.Get("Date")
	stamp := date
	if xd := r.Header.Get("X-Amz-Date"); xd != "" {
		stamp, date = xd, ""
	}
	t, ok := parseV2Date(stamp)
	if !ok {
		return nil, errorf(ErrMissingDate, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if d := v.now().Sub(t); d > v.Skew || d < -v.Skew {
		return nil, ErrTimeSkewed
	}
	return v.checkV2(ctx, r, ak, sig, date, false, secret)
}

func (v *Verifier) verifyPresignV2(ctx context.Context, r *http.Request, q url.Values, secret SecretFunc) (*Result, error) {
	p, err := ParsePresignV2(q)
	if err != nil {
		return nil, err
	}
	if v.now().After(p.Expires) {
		return nil, ErrExpired
	}
	return v.checkV2(ctx, r, p.AccessKeyID, p.Signature, p.expiresRaw, true, secret)
}

// checkV2 computes the V2 signature of r with the key's secret and
// compares it in constant time. The canonical resource is tried with the
// path exactly as sent and, when different, with the path re-encoded the
// way the SDKs encode it, and with "/bucket/" for a path-style "/bucket"
// (botocore signs the bucket with its slash but sends it without):
// clients differ, and each form is one the client could have meant. A
// virtual-hosted request also matches over VirtualHostAlias's bucket.
func (v *Verifier) checkV2(ctx context.Context, r *http.Request, ak string, sig []byte, date string, presigned bool, secret SecretFunc) (*Result, error) {
	payload := UnsignedPayload
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		if !IsHexSHA256(h) && h != UnsignedPayload {
			// aws-chunked bodies chain their chunk signatures from a V4
			// seed signature.
			return nil, errorf(ErrInvalidContentSHA256, "x-amz-content-sha256 %s requires AWS4-HMAC-SHA256", h)
		}
		payload = strings.ToLower(h)
		if h == UnsignedPayload {
			payload = h
		}
	}
	sec, err := secret(ctx, ak)
	if err != nil {
		return nil, err
	}
	raw := rawPath(r)
	paths := []string{raw}
	if c := CanonicalURI(raw); c != raw {
		paths = append(paths, c)
	}
	if len(raw) > 1 && strings.LastIndexByte(raw, '/') == 0 {
		paths = append(paths, raw+"/")
	}
	m := hmac.New(sha1.New, []byte(sec))
	matches := func(bucket string) bool {
		for _, path := range paths {
			m.Reset()
			m.Write([]byte(stringToSignV2(r, date, resourceV2(r, bucket, path), presigned)))
			if hmac.Equal(m.Sum(nil), sig) {
				return true
			}
		}
		return false
	}
	// The bucket of a virtual-hosted request as the Host names it, then
	// (looked up only when that fails) the alias a client may have
	// signed instead.
	bucket, vh := "", false
	if v.VirtualHost != nil {
		if bucket, vh = v.VirtualHost(r.Host); !vh {
			bucket = ""
		}
	}
	ok := matches(bucket)
	if !ok && vh && v.VirtualHostAlias != nil {
		if alias, found := v.VirtualHostAlias(ctx, r.Host); found && alias != bucket {
			ok = matches(alias)
		}
	}
	if !ok {
		return nil, ErrSignatureMismatch
	}
	return &Result{AccessKeyID: ak, Presigned: presigned, PayloadHash: payload, V2: true}, nil
}

// rawPath is the request path exactly as the client sent it.
func rawPath(r *http.Request) string {
	if r.RequestURI != "" && r.RequestURI[0] == '/' {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// resourceV2 is the canonical resource: "/bucket" for a virtual-hosted
// request, the path, and the sub-resources that count, sorted, with their
// decoded values ("?acl", "?partNumber=2&uploadId=x").
func (v *Verifier) resourceV2(r *http.Request, path string) string {
	bucket := ""
	if v.VirtualHost != nil {
		if b, ok := v.VirtualHost(r.Host); ok {
			bucket = b
		}
	}
	return resourceV2(r, bucket, path)
}

// resourceV2 is the canonical resource of r for the virtual-hosted bucket
// ("" for a path-style request).
func resourceV2(r *http.Request, bucket, path string) string {
	var b strings.Builder
	if bucket != "" {
		b.WriteByte('/')
		b.WriteString(bucket)
	}
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	if r.URL.RawQuery == "" {
		return b.String()
	}
	// Every occurrence counts (clients send each once), so a sub-resource
	// repeated in transit breaks the signature.
	var subs []string
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		k, val, hasVal := strings.Cut(part, "=")
		if !v2Subresource[k] {
			continue
		}
		if dv, err := url.QueryUnescape(val); err == nil {
			val = dv
		}
		if hasVal && val != "" {
			k += "=" + val
		}
		subs = append(subs, k)
	}
	if len(subs) == 0 {
		return b.String()
	}
	sort.SliceStable(subs, func(i, j int) bool { return subName(subs[i]) < subName(subs[j]) })
	b.WriteByte('?')
	b.WriteString(strings.Join(subs, "&"))
	return b.String()
}

func subName(s string) string {
	n, _, _ := strings.Cut(s, "=")
	return n
}

// stringToSignV2 is
//
//	method \n Content-MD5 \n Content-Type \n date \n canonical x-amz headers canonical resource
//
// For a presigned URL, date is Expires, and Content-MD5,
// Content-Type and x-amz-* may come as query parameters (botocore's V2
// presigner moves them there).
func stringToSignV2(r *http.Request, date, resource string, presigned bool) string {
	var q url.Values
	if presigned {
		q = r.URL.Query()
	}
	std := func(name string) string {
		if v := r.Header.Get(name); v != "" || !presigned {
			return strings.TrimSpace(v)
		}
		return strings.TrimSpace(q.Get(strings.ToLower(name)))
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(std("Content-Md5"))
	b.WriteByte('\n')
	b.WriteString(std("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	amz := map[string][]string{}
	for name, vs := range r.Header {
		if len(name) > 6 && strings.EqualFold(name[:6], "x-amz-") {
			l := strings.ToLower(name)
			amz[l] = append(amz[l], vs...)
		}
	}
	for name, vs := range q {
		if len(name) > 6 && strings.EqualFold(name[:6], "x-amz-") {
			l := strings.ToLower(name)
			if _, inHeader := amz[l]; !inHeader {
				amz[l] = vs
			}
		}
	}
	names := make([]string, 0, len(amz))
	for n := range amz {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		for i, v := range amz[n] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	b.WriteString(resource)
	return b.String()
}

// StringToSignV2 returns the V2 string to sign of r (for tests and
// clients); date is the Date header's value, "" when x-amz-date is sent,
// or Expires for a presigned URL.
func (v *Verifier) StringToSignV2(r *http.Request, date string, presigned bool) string {
	return stringToSignV2(r, date, v.resourceV2(r, rawPath(r)), presigned)
}

// SignV2 returns base64(HMAC-SHA1(secret, stringToSign)).
func SignV2(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
