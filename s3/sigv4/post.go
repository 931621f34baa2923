package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"time"
)

// ErrMalformedPost: the signature fields of a browser-form POST cannot be
// parsed (algorithm, credential, date, signature).
var ErrMalformedPost = errors.New("sigv4: malformed POST form authentication")

// VerifyPost authenticates a browser-form POST (S3 POST Object): the
// signature is over the base64 policy field itself. fields holds the form
// fields by lower-case name. Version 4 uses x-amz-algorithm,
// x-amz-credential, x-amz-date and x-amz-signature (hex HMAC-SHA256 with
// the signing key of the credential's scope); Version 2 uses
// AWSAccessKeyId and signature (base64 HMAC-SHA1 with the secret). The
// caller evaluates the policy document.
func (v *Verifier) VerifyPost(ctx context.Context, fields map[string]string, secret SecretFunc) (*Result, error) {
	policy := fields["policy"]
	_, v4 := fields["x-amz-signature"]
	_, v2 := fields["signature"]
	switch {
	case v4 && v2:
		return nil, ErrMultipleAuth
	case !v4 && !v2:
		return nil, ErrAnonymous
	case policy == "":
		return nil, errorf(ErrMalformedPost, "Bucket POST must contain a field named 'policy' when it is signed.")
	case v2:
		ak := fields["awsaccesskeyid"]
		if ak == "" {
			return nil, errorf(ErrMalformedPost, "Bucket POST must contain a field named 'AWSAccessKeyId'.")
		}
		sig, err := base64.StdEncoding.DecodeString(fields["signature"])
		if err != nil || len(sig) != sha1.Size {
			return nil, ErrSignatureMismatch
		}
		sec, err := secret(ctx, ak)
		if err != nil {
			return nil, err
		}
		m := hmac.New(sha1.New, []byte(sec))
		m.Write([]byte(policy))
		if !hmac.Equal(m.Sum(nil), sig) {
			return nil, ErrSignatureMismatch
		}
		return &Result{AccessKeyID: ak, Presigned: true, PayloadHash: UnsignedPayload, V2: true}, nil
	}
	if fields["x-amz-algorithm"] != algorithm {
		return nil, errorf(ErrMalformedPost, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	var a Authorization
	if err := a.parseCredential(fields["x-amz-credential"], ErrMalformedPost); err != nil {
		return nil, err
	}
	if err := v.checkScope(a, ErrMalformedPost); err != nil {
		return nil, err
	}
	amzDate := fields["x-amz-date"]
	t, err := time.Parse(timeFormat, amzDate)
	if err != nil {
		return nil, errorf(ErrMalformedPost, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if t.Format(dateFormat) != a.Date {
		return nil, errorf(ErrMalformedPost, "the credential date '%s' does not match X-Amz-Date '%s'", a.Date, amzDate)
	}
	sig := fields["x-amz-signature"]
	if !isHexSignature(sig) {
		return nil, ErrSignatureMismatch
	}
	sec, err := secret(ctx, a.AccessKeyID)
	if err != nil {
		return nil, err
	}
	if !equalSig(Sign(SigningKey(sec, a.Date, a.Region, a.Service), policy), sig) {
		return nil, ErrSignatureMismatch
	}
	return &Result{AccessKeyID: a.AccessKeyID, Presigned: true, PayloadHash: UnsignedPayload}, nil
}
