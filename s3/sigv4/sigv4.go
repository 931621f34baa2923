package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Errors of request authentication. The s3 package maps each to an S3 error
// code; test with errors.Is.
var (
	// ErrAnonymous: the request carries neither an Authorization header nor
	// presigned query parameters.
	ErrAnonymous = errors.New("sigv4: request is not signed")
	// ErrUnsupportedAuth: an authorization scheme other than AWS4-HMAC-SHA256
	// (for example Signature Version 2).
	ErrUnsupportedAuth = errors.New("sigv4: unsupported authorization mechanism")
	// ErrMultipleAuth: both an Authorization header and presign parameters.
	ErrMultipleAuth = errors.New("sigv4: more than one authorization mechanism")
	// ErrMalformedHeader: the Authorization header cannot be parsed or its
	// credential scope is wrong (region, service, date, terminator).
	ErrMalformedHeader = errors.New("sigv4: malformed authorization header")
	// ErrMalformedQuery: the presign query parameters cannot be parsed or
	// are out of range.
	ErrMalformedQuery = errors.New("sigv4: malformed presign query parameters")
	// ErrMissingDate: no valid X-Amz-Date or Date.
	ErrMissingDate = errors.New("sigv4: missing or invalid request date")
	// ErrTimeSkewed: the request date is too far from the server clock.
	ErrTimeSkewed = errors.New("sigv4: request time too skewed")
	// ErrExpired: a presigned URL used after its expiry.
	ErrExpired = errors.New("sigv4: presigned request expired")
	// ErrNotYetValid: a presigned URL dated in the future beyond the skew.
	ErrNotYetValid = errors.New("sigv4: presigned request not yet valid")
	// ErrSignatureMismatch: the signature (of the request, of a chunk or of
	// the trailer) is not the one computed with the key's secret.
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")
	// ErrMissingContentSHA256: header authentication without
	// x-amz-content-sha256.
	ErrMissingContentSHA256 = errors.New("sigv4: missing x-amz-content-sha256")
	// ErrInvalidContentSHA256: x-amz-content-sha256 is neither a known mode
	// nor 64 hex digits.
	ErrInvalidContentSHA256 = errors.New("sigv4: invalid x-amz-content-sha256")
	// ErrContentSHA256Mismatch: the body does not hash to the declared
	// x-amz-content-sha256.
	ErrContentSHA256Mismatch = errors.New("sigv4: body does not match x-amz-content-sha256")
	// ErrChunkMalformed: an aws-chunked body that does not follow the format.
	ErrChunkMalformed = errors.New("sigv4: malformed aws-chunked body")
	// ErrChunkTruncated: an aws-chunked body that ends early.
	ErrChunkTruncated = errors.New("sigv4: truncated aws-chunked body")
	// ErrTrailerMalformed: missing, undeclared or badly formed trailers.
	ErrTrailerMalformed = errors.New("sigv4: malformed trailer")
	// ErrDecodedLength: the decoded body length differs from
	// x-amz-decoded-content-length.
	ErrDecodedLength = errors.New("sigv4: decoded length differs from x-amz-decoded-content-length")
	// ErrHeadersNotSigned: an x-amz-* header is present but not covered by
	// the signature (Error.HeadersNotSigned names them).
	ErrHeadersNotSigned = errors.New("sigv4: x-amz-* headers present but not signed")
)

// Error carries a client-safe message alongside one of the sentinel errors,
// and the extra elements S3 puts in such an error's body.
type Error struct {
	Kind error
	Msg  string
	// Region is set when a request was signed for another region: the
	// region this server expects (S3's <Region>, which SDKs use to
	// redirect).
	Region string
	// HeadersNotSigned lists, comma-separated, the x-amz-* headers that
	// were present but not signed (S3's <HeadersNotSigned>).
	HeadersNotSigned string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Msg }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Payload modes: values of x-amz-content-sha256 other than a hex digest.
const (
	UnsignedPayload          = "UNSIGNED-PAYLOAD"
	StreamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// EmptySHA256 is hex(sha256("")).
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

const (
	algorithm     = "AWS4-HMAC-SHA256"
	timeFormat    = "20060102T150405Z"
	dateFormat    = "20060102"
	terminator    = "aws4_request"
	maxAuthLength = 8 << 10
	// MaxExpires is the longest a presigned URL may live (7 days), as in S3.
	MaxExpires = 7 * 24 * time.Hour
)

// Authorization is a parsed Authorization header or presign query.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string // 64 lower-case hex
}

// Scope is the credential scope "date/region/service/aws4_request".
func (a Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + terminator
}

// ParseAuthorization parses an "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." header value. Any other scheme is ErrUnsupportedAuth.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	if len(h) > maxAuthLength {
		return a, errorf(ErrMalformedHeader, "the authorization header is too long")
	}
	rest, ok := strings.CutPrefix(h, algorithm)
	if !ok {
		return a, ErrUnsupportedAuth
	}
	if rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return a, ErrUnsupportedAuth
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, errorf(ErrMalformedHeader, "the authorization header is malformed; %q is not a key=value pair", part)
		}
		switch k {
		case "Credential":
			cred, haveCred = v, !haveCred
			if !haveCred {
				return a, errorf(ErrMalformedHeader, "the authorization header has two Credential components")
			}
		case "SignedHeaders":
			signed, haveSigned = v, !haveSigned
			if !haveSigned {
				return a, errorf(ErrMalformedHeader, "the authorization header has two SignedHeaders components")
			}
		case "Signature":
			sig, haveSig = v, !haveSig
			if !haveSig {
				return a, errorf(ErrMalformedHeader, "the authorization header has two Signature components")
			}
		default:
			return a, errorf(ErrMalformedHeader, "the authorization header is malformed; unknown component %q", k)
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return a, errorf(ErrMalformedHeader, "the authorization header requires Credential, SignedHeaders and Signature")
	}
	if err := a.parseCredential(cred, ErrMalformedHeader); err != nil {
		return a, err
	}
	if err := a.parseSignedHeaders(signed, ErrMalformedHeader); err != nil {
		return a, err
	}
	if !isHexSignature(sig) {
		return a, errorf(ErrMalformedHeader, "the signature must be 64 lower-case hex digits")
	}
	a.Signature = sig
	return a, nil
}

func (a *Authorization) parseCredential(cred string, kind error) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return errorf(kind, "the credential %q is malformed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"", cred)
	}
	if parts[0] == "" {
		return errorf(kind, "the credential has an empty access key")
	}
	if _, err := time.Parse(dateFormat, parts[1]); err != nil || len(parts[1]) != 8 {
		return errorf(kind, "the credential date %q is not a valid YYYYMMDD date", parts[1])
	}
	if parts[2] == "" || parts[3] == "" {
		return errorf(kind, "the credential has an empty region or service")
	}
	if parts[4] != terminator {
		return errorf(kind, "the credential must end with %q", terminator)
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (a *Authorization) parseSignedHeaders(s string, kind error) error {
	if s == "" {
		return errorf(kind, "SignedHeaders is empty")
	}
	hs := strings.Split(s, ";")
	for i, h := range hs {
		if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " \t:") {
			return errorf(kind, "SignedHeaders has an invalid header name %q", h)
		}
		if i > 0 && hs[i-1] >= h {
			return errorf(kind, "SignedHeaders must be sorted and unique")
		}
	}
	a.SignedHeaders = hs
	return nil
}

func isHexSignature(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// IsHexSHA256 reports whether s is 64 lower- or upper-case hex digits.
func IsHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Presign is a parsed presigned-URL query.
type Presign struct {
	Authorization
	AmzDate string
	Expires time.Duration
}

// ParsePresign parses the X-Amz-* presign query parameters.
func ParsePresign(q url.Values) (Presign, error) {
	var p Presign
	if alg := q.Get("X-Amz-Algorithm"); alg != algorithm {
		if alg == "" {
			return p, ErrAnonymous
		}
		return p, ErrUnsupportedAuth
	}
	for _, name := range []string{"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		if len(q[name]) != 1 {
			return p, errorf(ErrMalformedQuery, "query-string authentication requires exactly one %s parameter", name)
		}
	}
	if err := p.parseCredential(q.Get("X-Amz-Credential"), ErrMalformedQuery); err != nil {
		return p, err
	}
	if err := p.parseSignedHeaders(q.Get("X-Amz-SignedHeaders"), ErrMalformedQuery); err != nil {
		return p, err
	}
	sig := q.Get("X-Amz-Signature")
	if !isHexSignature(sig) {
		return p, errorf(ErrMalformedQuery, "X-Amz-Signature must be 64 lower-case hex digits")
	}
	p.Signature = sig
	p.AmzDate = q.Get("X-Amz-Date")
	if _, err := time.Parse(timeFormat, p.AmzDate); err != nil {
		return p, errorf(ErrMalformedQuery, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	exp := q.Get("X-Amz-Expires")
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || n < 0 || len(exp) > 12 {
		return p, errorf(ErrMalformedQuery, "X-Amz-Expires should be a number")
	}
	if n == 0 {
		return p, errorf(ErrMalformedQuery, "X-Amz-Expires must be non-negative and at least 1")
	}
	if time.Duration(n)*time.Second > MaxExpires {
		return p, errorf(ErrMalformedQuery, "X-Amz-Expires must be less than a week (in seconds) that is; 604800")
	}
	p.Expires = time.Duration(n) * time.Second
	return p, nil
}

// Verifier checks signatures for one region and service.
type Verifier struct {
	Region string
	// ExtraRegions are further regions a signature may be scoped to (the
	// server serves buckets created in them); errors name Region.
	ExtraRegions []string
	Service      string        // "s3"
	Skew         time.Duration // allowed clock difference
	Now          func() time.Time
	// VirtualHost, when set, returns the bucket a virtual-hosted-style
	// Host names; Signature Version 2 puts it in the canonical resource.
	VirtualHost func(host string) (bucket string, ok bool)
	// VirtualHostAlias, when set, returns a second bucket name a V2
	// client may have signed for a virtual-hosted Host: one whose
	// endpoint included part of the host (Vaultaire's
	// bucket.tenant.<domain>, signed as "/bucket/key" by a client whose
	// endpoint is tenant.<domain>).
	VirtualHostAlias func(ctx context.Context, host string) (bucket string, ok bool)
}

// SecretFunc returns the secret of an access key. It returns an error that
// the caller maps (for an unknown key, the Engine's ErrAccessKeyUnknown).
type SecretFunc func(ctx context.Context, accessKeyID string) (string, error)

// Result is an authenticated request.
type Result struct {
	AccessKeyID string
	Presigned   bool
	// PayloadHash is the x-amz-content-sha256 in force: a lower-case hex
	// digest, UnsignedPayload, or one of the Streaming* modes.
	PayloadHash string
	// For chunk verification.
	SigningKey []byte
	AmzDate    string
	Scope      string
	Seed       string
	// V2: the request was signed with Signature Version 2.
	V2 bool
}

// Streaming reports whether the body is aws-chunked.
func (r *Result) Streaming() bool {
	switch r.PayloadHash {
	case StreamingSigned, StreamingSignedTrailer, StreamingUnsignedTrailer:
		return true
	}
	return false
}

// Verify authenticates r. The body is not read: a hex PayloadHash must be
// checked by the caller while streaming, and streaming bodies decoded with
// NewChunkedReader.
//
// Signature Version 2 (an "AWS AccessKeyId:Signature" header, or the
// AWSAccessKeyId, Signature and Expires query) is verified here too, so
// one place decides which mechanism a request uses and refuses a request
// that carries two.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, secret SecretFunc) (*Result, error) {
	authz := r.Header.Get("Authorization")
	q := r.URL.Query()
	hasPresign := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential")
	hasPresignV2 := q.Has("AWSAccessKeyId") || q.Has("Signature")
	switch {
	case authz != "" && (hasPresign || hasPresignV2), hasPresign && hasPresignV2:
		return nil, ErrMultipleAuth
	case strings.HasPrefix(authz, algorithmV2+" "):
		return v.verifyHeaderV2(ctx, r, authz, secret)
	case authz != "":
		return v.verifyHeader(ctx, r, authz, secret)
	case hasPresign:
		return v.verifyPresign(ctx, r, q, secret)
	case hasPresignV2:
		return v.verifyPresignV2(ctx, r, q, secret)
	}
	return nil, ErrAnonymous
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// legacyAlias reports whether region names the server's region under its
// legacy name: S3 accepts "US" (the old name of us-east-1, which s3cmd
// still signs with by default) as us-east-1.
func legacyAlias(region, server string) bool {
	return region == "US" && server == "us-east-1"
}

// servesRegion reports whether a signature scoped to region is for this
// server.
func (v *Verifier) servesRegion(region string) bool {
	if region == v.Region || legacyAlias(region, v.Region) {
		return true
	}
	for _, r := range v.ExtraRegions {
		if region == r {
			return true
		}
	}
	return false
}

func (v *Verifier) checkScope(a Authorization, kind error) error {
	if !v.servesRegion(a.Region) {
		prefix := "The authorization header is malformed"
		if kind != ErrMalformedHeader {
			prefix = "Error parsing the X-Amz-Credential parameter"
		}
		return &Error{Kind: kind, Region: v.Region,
			Msg: fmt.Sprintf("%s; the region '%s' is wrong; expecting '%s'", prefix, a.Region, v.Region)}
	}
	if a.Service != v.Service {
		return errorf(kind, "the service '%s' is wrong; expecting '%s'", a.Service, v.Service)
	}
	return nil
}

func (v *Verifier) verifyHeader(ctx context.Context, r *http.Request, authz string, secret SecretFunc) (*Result, error) {
	a, err := ParseAuthorization(authz)
	if err != nil {
		return nil, err
	}
	if err := v.checkScope(a, ErrMalformedHeader); err != nil {
		return nil, err
	}
	amzDate := r.Header.Get("X-Amz-Date")
	var t time.Time
	if amzDate != "" {
		if t, err = time.Parse(timeFormat, amzDate); err != nil {
			return nil, errorf(ErrMissingDate, "AWS authentication requires a valid Date or x-amz-date header")
		}
	} else if d := r.Header.Get("Date"); d != "" {
		if t, err = http.ParseTime(d); err != nil {
			return nil, errorf(ErrMissingDate, "AWS authentication requires a valid Date or x-amz-date header")
		}
		amzDate = t.UTC().Format(timeFormat)
	} else {
		return nil, errorf(ErrMissingDate, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if t.UTC().Format(dateFormat) != a.Date {
		return nil, errorf(ErrMalformedHeader, "the credential date '%s' does not match the request date '%s'", a.Date, amzDate)
	}
	if d := v.now().Sub(t); d > v.Skew || d < -v.Skew {
		return nil, ErrTimeSkewed
	}
	if !containsString(a.SignedHeaders, "host") {
		return nil, errorf(ErrMalformedHeader, "SignedHeaders must include host")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return nil, ErrMissingContentSHA256
	}
	if err := checkPayloadHash(payload); err != nil {
		return nil, err
	}
	return checkSignature(ctx, r, a, amzDate, payload, false, secret)
}

// checkSignature recomputes the signature of r (header-signed or
// presigned) with the key's secret and compares it in constant time; on a
// match it returns what the rest of the request needs (chunk verification
// chains from the signing key and the seed signature).
func checkSignature(ctx context.Context, r *http.Request, a Authorization, amzDate, payload string, presigned bool, secret SecretFunc) (*Result, error) {
	if unsigned := UnsignedAmzHeaders(r.Header, a.SignedHeaders); len(unsigned) > 0 {
		return nil, &Error{Kind: ErrHeadersNotSigned, HeadersNotSigned: strings.Join(unsigned, ", "),
			Msg: "There were headers present in the request which were not signed"}
	}
	sec, err := secret(ctx, a.AccessKeyID)
	if err != nil {
		return nil, err
	}
	key := SigningKey(sec, a.Date, a.Region, a.Service)
	creq := CanonicalRequest(r, a.SignedHeaders, payload, presigned)
	want := Sign(key, StringToSign(amzDate, a.Scope(), creq))
	if !equalSig(want, a.Signature) {
		return nil, ErrSignatureMismatch
	}
	if IsHexSHA256(payload) {
		payload = strings.ToLower(payload)
	}
	return &Result{
		AccessKeyID: a.AccessKeyID,
		Presigned:   presigned,
		PayloadHash: payload,
		SigningKey:  key,
		AmzDate:     amzDate,
		Scope:       a.Scope(),
		Seed:        a.Signature,
	}, nil
}

// UnsignedAmzHeaders returns, sorted and in lower case, the x-amz-*
// headers of h that signed (sorted lower-case names) does not list. S3
// refuses such a request: an unsigned x-amz-* header could otherwise be
// added in transit and change what the request does (x-amz-copy-source
// turns a PUT into a copy, x-amz-meta-* is stored). The one exemption is
// x-amz-content-sha256: its value is the last line of the canonical
// request whether or not it is listed, so it cannot be changed without
// breaking the signature (S3 answers SignatureDoesNotMatch, not
// HeadersNotSigned, when a presigned request carries it unsigned).
func UnsignedAmzHeaders(h http.Header, signed []string) []string {
	var out []string
	for name := range h {
		if len(name) < 6 || !strings.EqualFold(name[:6], "x-amz-") {
			continue
		}
		l := strings.ToLower(name)
		if l == "x-amz-content-sha256" {
			continue
		}
		if i := sort.SearchStrings(signed, l); i == len(signed) || signed[i] != l {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func checkPayloadHash(p string) error {
	switch p {
	case UnsignedPayload, StreamingSigned, StreamingSignedTrailer, StreamingUnsignedTrailer:
		return nil
	}
	if IsHexSHA256(p) {
		return nil
	}
	return ErrInvalidContentSHA256
}

func (v *Verifier) verifyPresign(ctx context.Context, r *http.Request, q url.Values, secret SecretFunc) (*Result, error) {
	p, err := ParsePresign(q)
	if err != nil {
		return nil, err
	}
	if err := v.checkScope(p.Authorization, ErrMalformedQuery); err != nil {
		return nil, err
	}
	t, _ := time.Parse(timeFormat, p.AmzDate)
	if t.Format(dateFormat) != p.Date {
		return nil, errorf(ErrMalformedQuery, "the credential date '%s' does not match X-Amz-Date '%s'", p.Date, p.AmzDate)
	}
	now := v.now()
	if t.Sub(now) > v.Skew {
		return nil, ErrNotYetValid
	}
	if now.After(t.Add(p.Expires)) {
		return nil, ErrExpired
	}
	if !containsString(p.SignedHeaders, "host") {
		return nil, errorf(ErrMalformedQuery, "X-Amz-SignedHeaders must include host")
	}
	payload := UnsignedPayload
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		payload = h
	} else if qv := q.Get("X-Amz-Content-Sha256"); qv != "" {
		payload = qv
	}
	if err := checkPayloadHash(payload); err != nil {
		return nil, err
	}
	if payload != UnsignedPayload && !IsHexSHA256(payload) {
		// Presigned URLs cannot carry chunk signatures (no seed to chain
		// from the client's point of view); S3 refuses them too.
		return nil, ErrInvalidContentSHA256
	}
	return checkSignature(ctx, r, p.Authorization, p.AmzDate, payload, true, secret)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func equalSig(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// SigningKey derives the SigV4 signing key.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminator)
}

// Sign returns hex(HMAC-SHA256(key, stringToSign)).
func Sign(key []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// StringToSign builds the SigV4 string to sign of a canonical request.
func StringToSign(amzDate, scope, canonicalRequest string) string {
	return algorithm + "\n" + amzDate + "\n" + scope + "\n" + sha256Hex(canonicalRequest)
}

// CanonicalRequest builds the SigV4 canonical request of r. presigned drops
// X-Amz-Signature from the canonical query.
func CanonicalRequest(r *http.Request, signedHeaders []string, payloadHash string, presigned bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(CanonicalURI(r.URL.EscapedPath()))
	b.WriteByte('\n')
	b.WriteString(CanonicalQuery(r.URL.RawQuery, presigned))
	b.WriteByte('\n')
	for _, h := range signedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return strings.TrimSpace(r.Host)
	case "content-length":
		if vs := r.Header.Values("Content-Length"); len(vs) > 0 {
			return joinValues(vs)
		}
		if r.ContentLength >= 0 && (r.ContentLength > 0 || r.Body != nil && r.Body != http.NoBody) {
			return strconv.FormatInt(r.ContentLength, 10)
		}
		return ""
	case "transfer-encoding":
		if vs := r.Header.Values("Transfer-Encoding"); len(vs) > 0 {
			return joinValues(vs)
		}
		return strings.Join(r.TransferEncoding, ",")
	}
	return joinValues(r.Header.Values(name))
}

func joinValues(vs []string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

func unreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

const upperHex = "0123456789ABCDEF"

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// CanonicalURI re-encodes an escaped request path the way SigV4 for S3
// expects: every byte other than unreserved characters and '/' is
// percent-encoded with upper-case hex, exactly once; existing escapes are
// decoded first so %2F stays %2F and %41 becomes A.
func CanonicalURI(escapedPath string) string {
	if escapedPath == "" {
		return "/"
	}
	var b strings.Builder
	b.Grow(len(escapedPath) + 8)
	for i := 0; i < len(escapedPath); i++ {
		c := escapedPath[i]
		if c == '%' && i+2 < len(escapedPath) {
			hi, ok1 := unhex(escapedPath[i+1])
			lo, ok2 := unhex(escapedPath[i+2])
			if ok1 && ok2 {
				d := hi<<4 | lo
				i += 2
				if unreserved(d) {
					b.WriteByte(d)
				} else {
					b.WriteByte('%')
					b.WriteByte(upperHex[d>>4])
					b.WriteByte(upperHex[d&15])
				}
				continue
			}
		}
		if unreserved(c) || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// URIEncode percent-encodes every byte of s except unreserved characters.
func URIEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// CanonicalQuery sorts and re-encodes a raw query string. Parameters that
// cannot be decoded are encoded as sent.
func CanonicalQuery(rawQuery string, presigned bool) string {
	if rawQuery == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		if presigned && dk == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, kv{URIEncode(dk), URIEncode(dv)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// ClaimedAccessKey returns the access key id r names in any of the forms
// Verify accepts (V4 or V2, header or presigned query), without checking
// the signature, or "" when r names none or its authentication fields
// do not parse. It is for what needs no proof of the key: an OPTIONS
// preflight carries a presigned URL's query but never a signature it
// could pass, and picks the key's tenant only to find the bucket whose
// CORS rules answer it.
func ClaimedAccessKey(r *http.Request) string {
	if authz := r.Header.Get("Authorization"); authz != "" {
		if strings.HasPrefix(authz, algorithmV2+" ") {
			ak, _, err := ParseAuthorizationV2(authz)
			if err != nil {
				return ""
			}
			return ak
		}
		a, err := ParseAuthorization(authz)
		if err != nil {
			return ""
		}
		return a.AccessKeyID
	}
	q := r.URL.Query()
	if q.Has("X-Amz-Credential") {
		var a Authorization
		if len(q["X-Amz-Credential"]) != 1 || a.parseCredential(q.Get("X-Amz-Credential"), ErrMalformedQuery) != nil {
			return ""
		}
		return a.AccessKeyID
	}
	if ak := q["AWSAccessKeyId"]; len(ak) == 1 {
		return ak[0]
	}
	return ""
}
