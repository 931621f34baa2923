package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vaultaire/vaultaire/checksum"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

func TestResolve(t *testing.T) {
	const dom = "s3.local"
	cases := []struct {
		method, host, path, query string
		copy                      bool
		want                      Endpoint
		err                       error
	}{
		{"GET", "localhost", "/", "", false, Endpoint{Op: OpListBuckets}, nil},
		{"PUT", "localhost", "/", "", false, Endpoint{}, errMethodNotAllowed},
		{"PUT", "localhost", "/b1", "", false, Endpoint{OpCreateBucket, "b1", ""}, nil},
		{"PUT", "localhost", "/b1/", "", false, Endpoint{OpCreateBucket, "b1", ""}, nil},
		{"HEAD", "localhost", "/b1", "", false, Endpoint{OpHeadBucket, "b1", ""}, nil},
		{"DELETE", "localhost", "/b1", "", false, Endpoint{OpDeleteBucket, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "location", false, Endpoint{OpGetBucketLocation, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "", false, Endpoint{OpListObjectsV1, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "list-type=2&prefix=x", false, Endpoint{OpListObjectsV2, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "list-type=3", false, Endpoint{}, errInvalidListType},
		{"GET", "localhost", "/b1", "uploads", false, Endpoint{OpListMultipartUploads, "b1", ""}, nil},
		{"POST", "localhost", "/b1", "delete", false, Endpoint{OpDeleteObjects, "b1", ""}, nil},
		{"POST", "localhost", "/b1", "", false, Endpoint{}, errPostNotForm},
		{"PATCH", "localhost", "/b1", "", false, Endpoint{}, errMethodNotAllowed},
		{"PUT", "localhost", "/b1/k", "", false, Endpoint{OpPutObject, "b1", "k"}, nil},
		{"PUT", "localhost", "/b1/k", "", true, Endpoint{OpCopyObject, "b1", "k"}, nil},
		{"PUT", "localhost", "/b1/k", "uploadId=u&partNumber=1", false, Endpoint{OpUploadPart, "b1", "k"}, nil},
		{"PUT", "localhost", "/b1/k", "partNumber=1&uploadId=u&x-id=UploadPart", false, Endpoint{OpUploadPart, "b1", "k"}, nil},
		{"PUT", "localhost", "/b1", "x-id=CreateBucket", false, Endpoint{OpCreateBucket, "b1", ""}, nil},
		{"PUT", "localhost", "/b1/k", "uploadId=u&partNumber=1", true, Endpoint{OpUploadPartCopy, "b1", "k"}, nil},
		{"PUT", "localhost", "/b1/k", "partNumber=1", false, Endpoint{}, errInvalidRequest},
		{"GET", "localhost", "/b1/k", "", false, Endpoint{OpGetObject, "b1", "k"}, nil},
		{"GET", "localhost", "/b1/k", "uploadId=u", false, Endpoint{OpListParts, "b1", "k"}, nil},
		{"HEAD", "localhost", "/b1/k", "", false, Endpoint{OpHeadObject, "b1", "k"}, nil},
		{"DELETE", "localhost", "/b1/k", "", false, Endpoint{OpDeleteObject, "b1", "k"}, nil},
		{"DELETE", "localhost", "/b1/k", "uploadId=u", false, Endpoint{OpAbortMultipartUpload, "b1", "k"}, nil},
		{"DELETE", "localhost", "/b1/k", "versionId=v", false, Endpoint{OpDeleteObject, "b1", "k"}, nil},
		{"POST", "localhost", "/b1/k", "uploads", false, Endpoint{OpCreateMultipartUpload, "b1", "k"}, nil},
		{"POST", "localhost", "/b1/k", "uploadId=u", false, Endpoint{OpCompleteMultipartUpload, "b1", "k"}, nil},
		{"POST", "localhost", "/b1/k", "", false, Endpoint{}, errMethodNotAllowed},
		{"OPTIONS", "localhost", "/b1/k", "", false, Endpoint{}, errMethodNotAllowed},
		// Awkward keys.
		{"GET", "localhost", "/b1/a%20b/c+d/%25/%E2%9C%93", "", false, Endpoint{OpGetObject, "b1", "a b/c+d/%/✓"}, nil},
		{"GET", "localhost", "/b1//x//", "", false, Endpoint{OpGetObject, "b1", "/x//"}, nil},
		{"GET", "localhost", "/b1/a%2Fb", "", false, Endpoint{OpGetObject, "b1", "a/b"}, nil},
		{"GET", "localhost", "/b1/%zz", "", false, Endpoint{}, errInvalidURI},
		{"GET", "localhost", "/b1/k", "%zz", false, Endpoint{}, errInvalidURI},
		{"GET", "localhost", "b1/k", "", false, Endpoint{}, errInvalidURI},
		// Unsupported sub-resources.
		{"GET", "localhost", "/b1", "logging", false, Endpoint{}, errNotImplemented},
		{"PUT", "localhost", "/b1", "website", false, Endpoint{}, errNotImplemented},
		// Access control.
		{"GET", "localhost", "/b1", "acl", false, Endpoint{OpGetBucketACL, "b1", ""}, nil},
		{"PUT", "localhost", "/b1/k", "acl", false, Endpoint{OpPutObjectACL, "b1", "k"}, nil},
		{"PUT", "localhost", "/b1", "policy", false, Endpoint{OpPutBucketPolicy, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "policyStatus", false, Endpoint{OpGetBucketPolicyStatus, "b1", ""}, nil},
		{"POST", "localhost", "/b1", "policy", false, Endpoint{}, errMethodNotAllowed},
		{"DELETE", "localhost", "/b1", "publicAccessBlock", false, Endpoint{OpDeletePublicAccessBlock, "b1", ""}, nil},
		{"PUT", "localhost", "/b1", "ownershipControls", false, Endpoint{OpPutBucketOwnership, "b1", ""}, nil},
		{"GET", "localhost", "/b1/k", "policy", false, Endpoint{}, errNotImplemented},
		{"GET", "localhost", "/acme:b1/k", "", false, Endpoint{OpGetObject, "acme:b1", "k"}, nil},
		{"GET", "localhost", "/b1/k", "tagging", false, Endpoint{OpGetObjectTagging, "b1", "k"}, nil},
		{"PUT", "localhost", "/b1/k", "tagging", false, Endpoint{OpPutObjectTagging, "b1", "k"}, nil},
		{"DELETE", "localhost", "/b1/k", "tagging", false, Endpoint{OpDeleteObjectTagging, "b1", "k"}, nil},
		{"POST", "localhost", "/b1/k", "tagging", false, Endpoint{}, errMethodNotAllowed},
		{"GET", "localhost", "/b1", "tagging", false, Endpoint{OpGetBucketTagging, "b1", ""}, nil},
		{"PUT", "localhost", "/b1", "versioning", false, Endpoint{OpPutBucketVersioning, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "versioning", false, Endpoint{OpGetBucketVersioning, "b1", ""}, nil},
		{"DELETE", "localhost", "/b1", "versioning", false, Endpoint{}, errMethodNotAllowed},
		{"GET", "localhost", "/b1/k", "versioning", false, Endpoint{}, errNotImplemented},
		{"GET", "localhost", "/b1", "versions", false, Endpoint{OpListObjectVersions, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "object-lock", false, Endpoint{OpGetObjectLockConfiguration, "b1", ""}, nil},
		{"PUT", "localhost", "/b1/k", "object-lock", false, Endpoint{}, errNotImplemented},
		{"PUT", "localhost", "/b1/k", "retention", false, Endpoint{OpPutObjectRetention, "b1", "k"}, nil},
		{"GET", "localhost", "/b1/k", "legal-hold", false, Endpoint{OpGetObjectLegalHold, "b1", "k"}, nil},
		{"GET", "localhost", "/b1", "retention", false, Endpoint{}, errNotImplemented},
		{"GET", "localhost", "/b1/k", "attributes", false, Endpoint{OpGetObjectAttributes, "b1", "k"}, nil},
		{"PUT", "localhost", "/b1", "cors", false, Endpoint{OpPutBucketCors, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "cors", false, Endpoint{OpGetBucketCors, "b1", ""}, nil},
		{"DELETE", "localhost", "/b1", "cors", false, Endpoint{OpDeleteBucketCors, "b1", ""}, nil},
		{"POST", "localhost", "/b1", "cors", false, Endpoint{}, errMethodNotAllowed},
		{"PUT", "localhost", "/b1/k", "cors", false, Endpoint{}, errNotImplemented},
		{"PUT", "localhost", "/b1", "lifecycle", false, Endpoint{OpPutBucketLifecycle, "b1", ""}, nil},
		{"GET", "localhost", "/b1", "lifecycle", false, Endpoint{OpGetBucketLifecycle, "b1", ""}, nil},
		{"DELETE", "localhost", "/b1", "lifecycle", false, Endpoint{OpDeleteBucketLifecycle, "b1", ""}, nil},
		{"POST", "localhost", "/b1", "lifecycle", false, Endpoint{}, errMethodNotAllowed},
		{"PUT", "localhost", "/b1/k", "lifecycle", false, Endpoint{}, errNotImplemented},
		{"PUT", "localhost", "/b1", "unknownsub", false, Endpoint{}, errNotImplemented},
		// Virtual-hosted style.
		{"GET", "b1.s3.local", "/", "", false, Endpoint{OpListObjectsV1, "b1", ""}, nil},
		{"GET", "B1.S3.LOCAL:9000", "/k/x", "", false, Endpoint{OpGetObject, "b1", "k/x"}, nil},
		{"GET", "my.dotted.b.s3.local", "//k", "", false, Endpoint{OpGetObject, "my.dotted.b", "/k"}, nil},
		{"GET", "s3.local:9000", "/b1/k", "", false, Endpoint{OpGetObject, "b1", "k"}, nil},
		{"GET", "s3.local", "/", "", false, Endpoint{Op: OpListBuckets}, nil},
		{"GET", "127.0.0.1:9000", "/b1/k", "", false, Endpoint{OpGetObject, "b1", "k"}, nil},
		{"GET", "evil-s3.local", "/b1/k", "", false, Endpoint{OpGetObject, "b1", "k"}, nil},
	}
	for _, tc := range cases {
		got, err := Resolve(RouteInput{Method: tc.method, Host: tc.host, Path: tc.path, RawQuery: tc.query, CopySource: tc.copy}, dom)
		if !errors.Is(err, tc.err) || err == nil && got != tc.want {
			t.Errorf("%s %s %s?%s: got %+v, %v; want %+v, %v", tc.method, tc.host, tc.path, tc.query, got, err, tc.want, tc.err)
		}
	}
	// Browser-form POST uploads go to a bucket, with no sub-resource.
	for _, f := range []struct {
		path, query string
		want        Endpoint
		err         error
	}{
		{"/b1", "", Endpoint{OpPostObject, "b1", ""}, nil},
		{"/b1/", "", Endpoint{OpPostObject, "b1", ""}, nil},
		{"/b1", "delete", Endpoint{OpDeleteObjects, "b1", ""}, nil},
		{"/b1", "logging", Endpoint{}, errNotImplemented},
		{"/b1/k", "", Endpoint{}, errMethodNotAllowed},
	} {
		got, err := Resolve(RouteInput{Method: "POST", Host: "localhost", Path: f.path, RawQuery: f.query, Form: true}, dom)
		if !errors.Is(err, f.err) || err == nil && got != f.want {
			t.Errorf("form POST %s?%s: got %+v, %v", f.path, f.query, got, err)
		}
	}
	// Without a domain, virtual hosting is off.
	got, err := Resolve(RouteInput{Method: "GET", Host: "b1.s3.local", Path: "/b2/k"}, "")
	if err != nil || got != (Endpoint{OpGetObject, "b2", "k"}) {
		t.Fatalf("%+v %v", got, err)
	}
}

func FuzzResolve(f *testing.F) {
	f.Add("GET", "b.s3.local", "/k%20x", "list-type=2")
	f.Add("PUT", "localhost", "/b/k", "uploadId=1&partNumber=2")
	f.Add("POST", "x", "/b", "delete")
	f.Add("DELETE", "", "//", "")
	f.Fuzz(func(t *testing.T, method, host, path, query string) {
		ep, err := Resolve(RouteInput{Method: method, Host: host, Path: path, RawQuery: query}, "s3.local")
		if err != nil {
			if _, known := lookupError(err); !known {
				t.Fatalf("resolver error outside the table: %v", err)
			}
			return
		}
		if ep.Op == OpUnknown {
			t.Fatal("success with unknown op")
		}
		if ep.Container == "" && ep.Op != OpListBuckets {
			t.Fatalf("op %v without container", ep.Op)
		}
		if ep.Key != "" && ep.Op < OpPutObject {
			t.Fatalf("bucket op %v with key %q", ep.Op, ep.Key)
		}
		if ep.Key == "" && ep.Op >= OpPutObject {
			t.Fatalf("object op %v without key", ep.Op)
		}
	})
}

func TestValidBucketName(t *testing.T) {
	good := []string{"abc", "a-b", "a.b.c", "my-bucket-1", "0bucket", "bucket0", strings.Repeat("a", 63), "a1.b2-c3", "192.168.5.4a", "999.1.1"}
	bad := []string{"", "ab", strings.Repeat("a", 64), "ABC", "a_b", "-ab", "ab-", ".ab", "ab.", "a..b",
		"a.-b", "a-.b", "192.168.5.4", "10.0.0.1", "xn--abc", "sthree-abc", "amzn-s3-demo-x", "abc-s3alias", "abc--ol-s3",
		"abc.mrap", "abc--x-s3", "abc--table-s3", "a b", "a/b", "ünï", "a\x00b"}
	for _, n := range good {
		if !ValidBucketName(n) {
			t.Errorf("%q should be valid", n)
		}
	}
	for _, n := range bad {
		if ValidBucketName(n) {
			t.Errorf("%q should be invalid", n)
		}
	}
}

func TestCheckKey(t *testing.T) {
	if err := checkKey(strings.Repeat("k", 1024)); err != nil {
		t.Fatal(err)
	}
	if err := checkKey(strings.Repeat("é", 512)); err != nil {
		t.Fatal(err)
	}
	if err := checkKey(strings.Repeat("k", 1025)); !errors.Is(err, errKeyTooLong) {
		t.Fatal(err)
	}
	if err := checkKey("a\xffb"); !errors.Is(err, errInvalidArgument) {
		t.Fatal(err)
	}
	if err := checkKey(""); !errors.Is(err, errInvalidArgument) {
		t.Fatal(err)
	}
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		h       string
		size    int64
		start   int64
		length  int64
		partial bool
		err     error
	}{
		{"", 10, 0, 0, false, nil},
		{"bytes=0-4", 10, 0, 5, true, nil},
		{"bytes=5-", 10, 5, 5, true, nil},
		{"bytes=-3", 10, 7, 3, true, nil},
		{"bytes=-30", 10, 0, 10, true, nil},
		{"bytes=0-100", 10, 0, 10, true, nil},
		{"bytes=9-9", 10, 9, 1, true, nil},
		{" bytes= 2 - 3 ", 10, 2, 2, true, nil},
		{"bytes=10-", 10, 0, 0, false, errInvalidRange},
		{"bytes=10-20", 10, 0, 0, false, errInvalidRange},
		{"bytes=-0", 10, 0, 0, false, errInvalidRange},
		{"bytes=0-", 0, 0, 0, false, errInvalidRange},
		{"bytes=-1", 0, 0, 0, false, errInvalidRange},
		// Ignored: not a single well-formed byte range.
		{"bytes=0-1,3-4", 10, 0, 0, false, nil},
		{"bytes=5-2", 10, 0, 0, false, nil},
		{"bytes=a-b", 10, 0, 0, false, nil},
		{"bytes=-", 10, 0, 0, false, nil},
		{"bytes=1", 10, 0, 0, false, nil},
		{"items=0-1", 10, 0, 0, false, nil},
		{"bytes=+1-2", 10, 0, 0, false, nil},
		{"bytes=99999999999999999999-", 10, 0, 0, false, nil},
	}
	for _, tc := range cases {
		r, partial, err := parseRange(tc.h, tc.size)
		if !errors.Is(err, tc.err) || partial != tc.partial || partial && (r.start != tc.start || r.length != tc.length) {
			t.Errorf("parseRange(%q, %d) = %+v %v %v", tc.h, tc.size, r, partial, err)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=-3", "bytes=5-", "bytes=0-1,2-3", "bytes=x"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
			if size < 0 {
				size = 0
			}
		}
		r, partial, err := parseRange(h, size)
		if err != nil {
			if !errors.Is(err, errInvalidRange) || partial {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if partial && (r.start < 0 || r.length <= 0 || r.start+r.length > size) {
			t.Fatalf("range %+v outside size %d", r, size)
		}
	})
}

func TestEvalConditions(t *testing.T) {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	before := mod.Add(-time.Hour).Format(http.TimeFormat)
	after := mod.Add(time.Hour).Format(http.TimeFormat)
	same := mod.Format(http.TimeFormat)
	const etag = "abc"
	cases := []struct {
		name string
		h    map[string]string
		want error
		copy error // result for the x-amz-copy-source-if-* variants
	}{
		{"none", nil, nil, nil},
		{"if-match ok", map[string]string{"If-Match": `"abc"`}, nil, nil},
		{"if-match list", map[string]string{"If-Match": `"x", "abc"`}, nil, nil},
		{"if-match star", map[string]string{"If-Match": `*`}, nil, nil},
		{"if-match unquoted", map[string]string{"If-Match": `abc`}, nil, nil},
		{"if-match fail", map[string]string{"If-Match": `"x"`}, node.ErrPreconditionFailed, node.ErrPreconditionFailed},
		{"if-none-match hit", map[string]string{"If-None-Match": `"abc"`}, errNotModified, node.ErrPreconditionFailed},
		{"if-none-match weak", map[string]string{"If-None-Match": `W/"abc"`}, errNotModified, node.ErrPreconditionFailed},
		{"if-none-match star", map[string]string{"If-None-Match": `*`}, errNotModified, node.ErrPreconditionFailed},
		{"if-none-match miss", map[string]string{"If-None-Match": `"x"`}, nil, nil},
		{"if-modified-since before", map[string]string{"If-Modified-Since": before}, nil, nil},
		{"if-modified-since same", map[string]string{"If-Modified-Since": same}, errNotModified, node.ErrPreconditionFailed},
		{"if-modified-since after", map[string]string{"If-Modified-Since": after}, errNotModified, node.ErrPreconditionFailed},
		{"if-modified-since garbage", map[string]string{"If-Modified-Since": "yesterday"}, nil, nil},
		{"if-unmodified-since before", map[string]string{"If-Unmodified-Since": before}, node.ErrPreconditionFailed, node.ErrPreconditionFailed},
		{"if-unmodified-since same", map[string]string{"If-Unmodified-Since": same}, nil, nil},
		// S3 precedence: If-Match true wins over If-Unmodified-Since false.
		{"match beats unmodified", map[string]string{"If-Match": `"abc"`, "If-Unmodified-Since": before}, nil, nil},
		// If-None-Match false wins over If-Modified-Since true... (returns 304).
		{"none-match miss beats modified-since", map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": after}, nil, nil},
		{"none-match hit + modified-since before", map[string]string{"If-None-Match": `"abc"`, "If-Modified-Since": before}, errNotModified, node.ErrPreconditionFailed},
		{"412 before 304", map[string]string{"If-Match": `"x"`, "If-None-Match": `"abc"`}, node.ErrPreconditionFailed, node.ErrPreconditionFailed},
	}
	for _, tc := range cases {
		h, ch := http.Header{}, http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
			ch.Set("X-Amz-Copy-Source-"+k, v)
		}
		if err := evalConditions(h, readConds, etag, mod, false); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: got %v want %v", tc.name, err, tc.want)
		}
		if err := evalConditions(ch, copyConds, etag, mod, true); !errors.Is(err, tc.copy) || (tc.copy == nil) != (err == nil) {
			t.Errorf("%s (copy): got %v want %v", tc.name, err, tc.copy)
		}
	}
}

func TestErrorTable(t *testing.T) {
	seen := map[error]bool{}
	for _, e := range errorTable {
		if e.err == nil || e.code == "" || e.message == "" || e.status < 300 || e.status > 599 {
			t.Errorf("incomplete row %+v", e)
		}
		if seen[e.err] {
			t.Errorf("duplicate row for %v", e.err)
		}
		seen[e.err] = true
	}
	nodeErrs := []error{node.ErrContainerNotFound, node.ErrContainerExists, node.ErrContainerNotEmpty,
		node.ErrArtifactNotFound, node.ErrUploadNotFound, node.ErrPreconditionFailed, node.ErrBadDigest,
		node.ErrIncompleteBody, node.ErrEntityTooLarge, node.ErrEntityTooSmall, node.ErrInvalidPart,
		node.ErrInvalidPartOrder, node.ErrAccessKeyUnknown, node.ErrUnavailable}
	sigErrs := []error{sigv4.ErrAnonymous, sigv4.ErrUnsupportedAuth, sigv4.ErrMultipleAuth, sigv4.ErrMalformedHeader,
		sigv4.ErrMalformedQuery, sigv4.ErrMissingDate, sigv4.ErrTimeSkewed, sigv4.ErrExpired, sigv4.ErrNotYetValid,
		sigv4.ErrSignatureMismatch, sigv4.ErrMissingContentSHA256, sigv4.ErrInvalidContentSHA256,
		sigv4.ErrContentSHA256Mismatch, sigv4.ErrChunkMalformed, sigv4.ErrChunkTruncated, sigv4.ErrTrailerMalformed,
		sigv4.ErrDecodedLength, sigv4.ErrHeadersNotSigned, sigv4.ErrV2MalformedHeader, sigv4.ErrV2MissingQuery, sigv4.ErrV2BadExpires}
	for _, e := range append(nodeErrs, sigErrs...) {
		if !seen[e] {
			t.Errorf("%v has no row", e)
		}
	}
	want := map[error]struct {
		code   string
		status int
	}{
		node.ErrContainerNotFound: {"NoSuchBucket", 404},
		node.ErrArtifactNotFound:  {"NoSuchKey", 404},
		node.ErrUnavailable:       {"ServiceUnavailable", 503},
		// A bound of the server's own ran out (the chaos suite's
		// round 49: a PUT on a leader frozen for 15 s): retry, not
		// an internal error. The client's own going away is
		// context.Canceled (499, clientclosed_test.go).
		context.DeadlineExceeded: {"ServiceUnavailable", 503},
		sigv4.ErrTimeSkewed:      {"RequestTimeTooSkewed", 403},
		errInvalidRange:          {"InvalidRange", 416},
		errMissingContentLength:  {"MissingContentLength", 411},
	}
	for err, w := range want {
		row, ok := lookupError(fmt.Errorf("wrapped: %w", err))
		if !ok || row.code != w.code || row.status != w.status {
			t.Errorf("%v -> %+v", err, row)
		}
	}
	// A tier that does not answer: 503 naming the tier, not the cause's text.
	tierErr := fmt.Errorf("%w: %w", node.ErrUnavailable, &node.TierUnavailableError{Tier: "lyve", Err: errors.New("dial tcp 10.1.2.3:443: i/o timeout")})
	if row, ok := lookupError(tierErr); !ok || row.status != 503 || row.code != "ServiceUnavailable" ||
		!strings.Contains(row.message, `"lyve"`) || strings.Contains(row.message, "10.1.2.3") {
		t.Errorf("tier unavailable -> %+v", row)
	}
	// Details replace the message, unknown errors never leak.
	row, _ := lookupError(withMessage(errInvalidArgument, "detail %d", 7))
	if row.code != "InvalidArgument" || row.message != "detail 7" {
		t.Fatalf("%+v", row)
	}
	row, known := lookupError(errors.New("disk /dev/sda3 on fire"))
	if known || row.code != "InternalError" || row.status != 500 || strings.Contains(row.message, "sda3") {
		t.Fatalf("%+v", row)
	}
}

func TestWriteError(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, method := range []string{"GET", "HEAD"} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(method, "/b/k%20x", nil)
		rc := &reqCtx{id: "RID", hostID: "HID"}
		s.writeError(rec, r, rc, errors.New("secret internals"))
		if rec.Code != 500 {
			t.Fatal(rec.Code)
		}
		if method == "HEAD" {
			if rec.Body.Len() != 0 {
				t.Fatal("HEAD error with a body")
			}
			continue
		}
		var e errorBody
		if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Code != "InternalError" || e.RequestID != "RID" || e.Resource != "/b/k%20x" || strings.Contains(rec.Body.String(), "secret") {
			t.Fatalf("%s", rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest("GET", "/b/k", nil), &reqCtx{}, errNotModified)
	if rec.Code != 304 || rec.Body.Len() != 0 {
		t.Fatalf("304: %d %q", rec.Code, rec.Body.String())
	}
}

func TestParseCopySource(t *testing.T) {
	cases := []struct {
		in   string
		want copySource
		err  error
	}{
		{"bkt/key", copySource{container: "bkt", key: "key"}, nil},
		{"/bkt/a%20b/c%2Bd", copySource{container: "bkt", key: "a b/c+d"}, nil},
		{"/bkt/k?versionId=v1", copySource{container: "bkt", key: "k", versionID: "v1"}, nil},
		{"/bkt//x", copySource{container: "bkt", key: "/x"}, nil},
		{"/bkt/%E2%9C%93", copySource{container: "bkt", key: "✓"}, nil},
		{"acme:bkt/k", copySource{tenant: "acme", container: "bkt", key: "k"}, nil},
		{"/acme%3Abkt/k?versionId=v2", copySource{tenant: "acme", container: "bkt", key: "k", versionID: "v2"}, nil},
		{":bkt/k", copySource{}, errInvalidBucketName},
		{"AC:bkt/k", copySource{}, errInvalidBucketName},
		{"acme:/k", copySource{}, errInvalidBucketName},
		{"acme:b:c/k", copySource{}, errInvalidBucketName},
		{"bkt", copySource{}, errInvalidArgument},
		{"/bkt/", copySource{}, errInvalidArgument},
		{"", copySource{}, errInvalidArgument},
		{"/bkt/k?versionId=", copySource{}, errInvalidArgument},
		{"/bkt/k?other=1", copySource{}, errInvalidArgument},
		{"/bkt/%zz", copySource{}, errInvalidArgument},
		{"/BKT/k", copySource{}, errInvalidBucketName},
		{"/bkt/" + strings.Repeat("k", 1025), copySource{}, errKeyTooLong},
	}
	for _, tc := range cases {
		got, err := parseCopySource(tc.in)
		if !errors.Is(err, tc.err) || err == nil && got != tc.want {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
	}
}

func TestParseCopySourceRange(t *testing.T) {
	r, err := parseCopySourceRange("bytes=2-5", 10)
	if err != nil || r != (byteRange{2, 4}) {
		t.Fatal(r, err)
	}
	for _, bad := range []string{"bytes=5-2", "bytes=-5", "bytes=2-", "2-5", "bytes=0-10", "bytes=a-b"} {
		if _, err := parseCopySourceRange(bad, 10); !errors.Is(err, errInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestCompleteXML(t *testing.T) {
	good := `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
	<Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part>
	<Part><ETag>b</ETag><PartNumber>2</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
	</CompleteMultipartUpload>`
	parts, err := parseCompleteXML([]byte(good))
	if err != nil || !reflect.DeepEqual(parts, []completePart{{1, "a", nil}, {2, "b", map[string]string{"CRC32": "AAAAAA=="}}}) {
		t.Fatal(parts, err)
	}
	// A part checksum that is not one of its algorithm.
	if _, err := parseCompleteXML([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag><ChecksumSHA1>AAAAAA==</ChecksumSHA1></Part></CompleteMultipartUpload>`)); !errors.Is(err, errInvalidRequest) {
		t.Fatalf("short SHA1 part checksum: %v", err)
	}
	bad := []string{"", "   ", "<CompleteMultipartUpload>", "<CompleteMultipartUpload></CompleteMultipartUpload>",
		"<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
		"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload><x/>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>trailing",
	}
	for _, b := range bad {
		if _, err := parseCompleteXML([]byte(b)); !errors.Is(err, errMalformedXML) {
			t.Errorf("%q: %v", b, err)
		}
	}
	if _, err := parseCompleteXML([]byte("<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>")); !errors.Is(err, errInvalidArgument) {
		t.Errorf("part 10001: %v", err)
	}
}

func FuzzCompleteXML(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag></ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<?xml version="1.0"?><CompleteMultipartUpload/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := parseCompleteXML(data)
		if err != nil {
			if !errors.Is(err, errMalformedXML) && !errors.Is(err, errInvalidArgument) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(parts) == 0 || len(parts) > maxPartNumber {
			t.Fatalf("%d parts", len(parts))
		}
		for _, p := range parts {
			if p.Number < 1 || p.Number > maxPartNumber || p.ETag == "" {
				t.Fatalf("bad part %+v", p)
			}
		}
	})
}

func TestDeleteXML(t *testing.T) {
	req, err := parseDeleteXML([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a b</Key></Object><Object><Key>c</Key><VersionId>v</VersionId></Object></Delete>`))
	if err != nil || !req.Quiet || len(req.Objects) != 2 || req.Objects[0].Key != "a b" || req.Objects[1].VersionID != "v" {
		t.Fatal(req, err)
	}
	var many strings.Builder
	many.WriteString("<Delete>")
	for i := 0; i <= maxDeleteKeys; i++ {
		fmt.Fprintf(&many, "<Object><Key>k%d</Key></Object>", i)
	}
	many.WriteString("</Delete>")
	for _, b := range []string{"", "<Delete></Delete>", "<Delete><Object><Key>a</Key></Object>", "<NotDelete><Object><Key>a</Key></Object></NotDelete>", many.String()} {
		if _, err := parseDeleteXML([]byte(b)); !errors.Is(err, errMalformedXML) {
			t.Errorf("%.40q: %v", b, err)
		}
	}
}

func FuzzDeleteXML(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>`))
	f.Add([]byte(`<Delete><Object><Key></Key><VersionId>1</VersionId></Object></Delete>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseDeleteXML(data)
		if err != nil {
			if !errors.Is(err, errMalformedXML) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(req.Objects) == 0 || len(req.Objects) > maxDeleteKeys {
			t.Fatalf("%d objects", len(req.Objects))
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{Region: "US EAST", Domain: ".x", MaxPutSize: -1, MaxObjectSize: -1, ClockSkew: -1, MaxHeaderBytes: -1}.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, s := range []string{"region", "domain", "MaxPutSize", "MaxObjectSize", "ClockSkew", "MaxHeaderBytes"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Validate did not report %s: %v", s, err)
		}
	}
	if err := (Config{MaxPutSize: 10, MaxObjectSize: 5}).Validate(); err == nil {
		t.Fatal("MaxPutSize > MaxObjectSize accepted")
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Fatal("nil engine accepted")
	}
}

// bodyRequest builds a request whose authentication result is given, to
// test openBody alone.
func openTestBody(t *testing.T, payloadHash string, hdr map[string]string, data []byte, contentLength int64) (*body, error) {
	t.Helper()
	s := &Server{cfg: Config{}.withDefaults()}
	r := httptest.NewRequest("PUT", "/b/k", bytes.NewReader(data))
	r.ContentLength = contentLength
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rc := &reqCtx{auth: &sigv4.Result{PayloadHash: payloadHash}, body: r.Body}
	return s.openBody(r, rc, 1<<20)
}

func TestOpenBody(t *testing.T) {
	data := []byte("hello, world")
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	md := md5.Sum(data)
	crc := checksumOf("CRC32", data)

	type tc struct {
		name       string
		payload    string
		hdr        map[string]string
		body       []byte
		cl         int64
		openErr    error
		readErr    error
		wantStored map[string]string
	}
	cases := []tc{
		{name: "unsigned", payload: sigv4.UnsignedPayload, body: data, cl: int64(len(data))},
		{name: "sha ok", payload: hexSum, body: data, cl: int64(len(data))},
		{name: "sha mismatch", payload: strings.Repeat("0", 64), body: data, cl: int64(len(data)), readErr: sigv4.ErrContentSHA256Mismatch},
		{name: "no length", payload: sigv4.UnsignedPayload, body: data, cl: -1, openErr: errMissingContentLength},
		{name: "too large", payload: sigv4.UnsignedPayload, body: data, cl: 2 << 20, openErr: errEntityTooLarge},
		{name: "short body", payload: sigv4.UnsignedPayload, body: data[:5], cl: int64(len(data)), readErr: errIncompleteBody},
		{name: "bad md5", payload: sigv4.UnsignedPayload, hdr: map[string]string{"Content-MD5": "nope"}, body: data, cl: int64(len(data)), openErr: errInvalidDigest},
		{name: "crc ok", payload: sigv4.UnsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Crc32": crc}, body: data, cl: int64(len(data)), wantStored: map[string]string{"CRC32": crc}},
		{name: "crc mismatch", payload: sigv4.UnsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Crc32": checksumOf("CRC32", []byte("x"))}, body: data, cl: int64(len(data)), readErr: errChecksumMismatch},
		{name: "crc malformed", payload: sigv4.UnsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Crc32": "!!"}, body: data, cl: int64(len(data)), openErr: errInvalidRequest},
		{name: "two checksums", payload: sigv4.UnsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Crc32": crc, "X-Amz-Checksum-Sha1": checksumOf("SHA1", data)}, body: data, cl: int64(len(data)), openErr: errInvalidRequest},
		{name: "sdk alg mismatch", payload: sigv4.UnsignedPayload, hdr: map[string]string{"X-Amz-Checksum-Crc32": crc, "X-Amz-Sdk-Checksum-Algorithm": "SHA256"}, body: data, cl: int64(len(data)), openErr: errInvalidRequest},
		{name: "trailer without streaming", payload: sigv4.UnsignedPayload, hdr: map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, body: data, cl: int64(len(data)), openErr: errInvalidRequest},
		{name: "md5 kept", payload: sigv4.UnsignedPayload, hdr: map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(md[:])}, body: data, cl: int64(len(data))},
	}
	// Streaming, unsigned with a trailer.
	trailerBody := func(value string) []byte {
		return []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", len(data), data, value))
	}
	sh := map[string]string{"X-Amz-Decoded-Content-Length": fmt.Sprint(len(data)), "X-Amz-Trailer": "x-amz-checksum-crc32", "Content-Encoding": "aws-chunked"}
	cases = append(cases,
		tc{name: "trailer ok", payload: sigv4.StreamingUnsignedTrailer, hdr: sh, body: trailerBody(crc), cl: -1, wantStored: map[string]string{"CRC32": crc}},
		tc{name: "trailer mismatch", payload: sigv4.StreamingUnsignedTrailer, hdr: sh, body: trailerBody(checksumOf("CRC32", []byte("x"))), cl: -1, readErr: errChecksumMismatch},
		tc{name: "trailer malformed value", payload: sigv4.StreamingUnsignedTrailer, hdr: sh, body: trailerBody("zz"), cl: -1, readErr: errInvalidRequest},
		tc{name: "trailer missing", payload: sigv4.StreamingUnsignedTrailer, hdr: sh, body: trailerBody(crc)[:20], cl: -1, readErr: sigv4.ErrTrailerMalformed},
		tc{name: "body truncated", payload: sigv4.StreamingUnsignedTrailer, hdr: sh, body: trailerBody(crc)[:10], cl: -1, readErr: sigv4.ErrChunkTruncated},
		tc{name: "trailer of another algorithm", payload: sigv4.StreamingUnsignedTrailer, hdr: sh, body: []byte(strings.Replace(string(trailerBody(crc)), "crc32:", "crc32c:", 1)), cl: -1, readErr: sigv4.ErrTrailerMalformed},
		tc{name: "trailer without final CRLF", payload: sigv4.StreamingUnsignedTrailer, hdr: sh, body: bytes.TrimSuffix(trailerBody(crc), []byte("\r\n")), cl: -1, wantStored: map[string]string{"CRC32": crc}},
		tc{name: "streaming without decoded length", payload: sigv4.StreamingUnsignedTrailer, hdr: map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, body: trailerBody(crc), cl: -1, openErr: errMissingContentLength},
		tc{name: "unknown trailer", payload: sigv4.StreamingUnsignedTrailer, hdr: map[string]string{"X-Amz-Decoded-Content-Length": "12", "X-Amz-Trailer": "x-amz-meta-evil"}, body: trailerBody(crc), cl: -1, openErr: errInvalidRequest},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := openTestBody(t, c.payload, c.hdr, c.body, c.cl)
			if !errors.Is(err, c.openErr) || (c.openErr == nil) != (err == nil) {
				t.Fatalf("open: %v, want %v", err, c.openErr)
			}
			if err != nil {
				return
			}
			got, err := io.ReadAll(b)
			if !errors.Is(err, c.readErr) || (c.readErr == nil) != (err == nil) {
				t.Fatalf("read: %v, want %v", err, c.readErr)
			}
			if err == nil && !bytes.Equal(got, data) {
				t.Fatalf("data %q", got)
			}
			for k, v := range c.wantStored {
				if b.checksums[k] != v {
					t.Fatalf("stored checksums %v", b.checksums)
				}
			}
		})
	}
}

func checksumOf(alg string, data []byte) string {
	a, _ := checksum.ByName(alg)
	return a.Sum(data)
}

func TestEncodingType(t *testing.T) {
	enc, err := encodingType(map[string][]string{"encoding-type": {"url"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := enc("a b/c+d%é"); got != "a+b/c%2Bd%25%C3%A9" {
		t.Fatal(got)
	}
	if _, err := encodingType(map[string][]string{"encoding-type": {"base64"}}); !errors.Is(err, errInvalidArgument) {
		t.Fatal(err)
	}
	tok := encodeToken("a/b ü")
	if back, err := decodeToken(tok); err != nil || back != "a/b ü" {
		t.Fatal(back, err)
	}
	for _, bad := range []string{"!!!", ""} {
		if _, err := decodeToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if !utf8.ValidString(enc("\xff")) {
		t.Fatal("encoded key not UTF-8")
	}
}

func TestHTTPServer(t *testing.T) {
	s, err := New(Config{MaxHeaderBytes: 12345}, nilEngine{})
	if err != nil {
		t.Fatal(err)
	}
	hs := s.HTTPServer("127.0.0.1:0")
	if hs.Handler != s || hs.MaxHeaderBytes != 12345 || hs.ReadHeaderTimeout <= 0 || hs.IdleTimeout <= 0 || hs.Addr != "127.0.0.1:0" {
		t.Fatalf("%+v", hs)
	}
}

// nilEngine satisfies Engine for tests that never reach it.
type nilEngine struct{ Engine }

// checkACLHeaders is what writeACL allows under BucketOwnerEnforced (and
// what needs no ownership read for the bucket owner's own writes).
func TestCheckACLHeaders(t *testing.T) {
	for _, c := range []struct {
		h  http.Header
		ok bool
	}{
		{http.Header{}, true},
		{http.Header{"X-Amz-Acl": {"private"}}, true},
		{http.Header{"X-Amz-Acl": {"bucket-owner-full-control"}}, true},
		{http.Header{"X-Amz-Acl": {"public-read"}}, false},
		{http.Header{"X-Amz-Acl": {"bucket-owner-read"}}, false},
		{http.Header{"X-Amz-Grant-Read": {"id=x"}}, false},
		{http.Header{"X-Amz-Grant-Full-Control": {`id="root"`}}, false},
	} {
		if err := checkACLHeaders(c.h); (err == nil) != c.ok || err != nil && !errors.Is(err, errACLNotSupported) {
			t.Errorf("%v: %v", c.h, err)
		}
	}
}

func TestCheckWriteHeaders(t *testing.T) {
	ok := []map[string]string{{}, {"X-Amz-Acl": "private"}, {"X-Amz-Storage-Class": "STANDARD"}, {"X-Amz-Tagging-Directive": "COPY"},
		{"X-Amz-Tagging": "a=b"}, {"X-Amz-Storage-Class": "GLACIER"}, {"X-Amz-Storage-Class": "REDUCED_REDUNDANCY"},
		{"X-Amz-Object-Lock-Legal-Hold": "ON"}, {"X-Amz-Server-Side-Encryption": "AES256"}}
	bad := []map[string]string{
		{"X-Amz-Server-Side-Encryption": "aws:kms"}, {"X-Amz-Server-Side-Encryption": "DES"},
		{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256"},
		{"X-Amz-Object-Lock-Mode": "GOVERNANCE"}, {"X-Amz-Website-Redirect-Location": "/x"},
		{"X-Amz-Storage-Class": "EXPRESS_ONEZONE"}, {"X-Amz-Storage-Class": "standard"},
		{"X-Amz-Tagging": "aws:x=1"}, {"X-Amz-Object-Lock-Legal-Hold": "MAYBE"},
	}
	s := &Server{cfg: Config{}.withDefaults()}
	for _, m := range ok {
		h := http.Header{}
		for k, v := range m {
			h.Set(k, v)
		}
		if _, err := s.checkWriteHeaders(&http.Request{Header: h}); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
	for _, m := range bad {
		h := http.Header{}
		for k, v := range m {
			h.Set(k, v)
		}
		if _, err := s.checkWriteHeaders(&http.Request{Header: h}); err == nil {
			t.Errorf("%v accepted", m)
		}
	}
}

// quotaErr is an error with a client message, as node.QuotaError.
type quotaErr struct{}

func (quotaErr) Error() string         { return "node: quota exceeded: internal detail" }
func (quotaErr) Unwrap() error         { return node.ErrQuotaExceeded }
func (quotaErr) ClientMessage() string { return "Quota exceeded: tenant bytes quota 100." }

func TestQuotaErrorRow(t *testing.T) {
	row, ok := lookupError(fmt.Errorf("wrapped: %w", node.ErrQuotaExceeded))
	if !ok || row.code != "QuotaExceeded" || row.status != 403 {
		t.Fatalf("%+v", row)
	}
	row, _ = lookupError(fmt.Errorf("wrapped: %w", quotaErr{}))
	if row.code != "QuotaExceeded" || row.message != "Quota exceeded: tenant bytes quota 100." {
		t.Fatalf("%+v", row)
	}
}

func TestPostPolicy(t *testing.T) {
	enc := func(doc string) string { return base64.StdEncoding.EncodeToString([]byte(doc)) }
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fields := map[string]string{"key": "up/a.png", "content-type": "image/png", "x-amz-meta-a": "1", "x-ignore-me": "x", "policy": "p", "file": ""}
	for _, c := range []struct {
		name, doc string
		parseErr  error
		checkErr  error
	}{
		{"ok", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","up/"],["eq","$Content-Type","image/png"],{"x-amz-meta-a":"1"},["content-length-range",0,"10"]]}`, nil, nil},
		{"no millis", `{"expiration":"2026-01-02T04:00:00Z","conditions":[["starts-with","$key",""],["starts-with","$content-type","image/"],["starts-with","$x-amz-meta-a",""]]}`, nil, nil},
		{"expired", `{"expiration":"2026-01-02T03:00:00.000Z","conditions":[]}`, nil, errAccessDenied},
		{"extra fields", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[["starts-with","$key",""]]}`, nil, errAccessDenied},
		{"eq fails", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[["eq","$key","up/b.png"],["starts-with","$content-type",""],["starts-with","$x-amz-meta-a",""]]}`, nil, errAccessDenied},
		{"bucket fails", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[{"bucket":"c"}]}`, nil, errAccessDenied},
		{"missing field", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[["starts-with","$key",""],["starts-with","$content-type",""],["starts-with","$x-amz-meta-a",""],["eq","$x-amz-meta-b",""]]}`, nil, errAccessDenied},
		{"no expiration", `{"conditions":[]}`, errInvalidPolicyDocument, nil},
		{"no conditions", `{"expiration":"2026-01-02T04:00:00.000Z"}`, errInvalidPolicyDocument, nil},
		{"bad expiration", `{"expiration":"tomorrow","conditions":[]}`, errInvalidPolicyDocument, nil},
		{"unknown op", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[["ends-with","$key","x"]]}`, errInvalidPolicyDocument, nil},
		{"field without $", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[["eq","key","x"]]}`, errInvalidPolicyDocument, nil},
		{"bad range", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[["content-length-range",10,1]]}`, errInvalidPolicyDocument, nil},
		{"two entries", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[{"a":"1","b":"2"}]}`, errInvalidPolicyDocument, nil},
		{"trailing data", `{"expiration":"2026-01-02T04:00:00.000Z","conditions":[]} {}`, errInvalidPolicyDocument, nil},
		{"not JSON", `{`, errInvalidPolicyDocument, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := parsePostPolicy(enc(c.doc))
			if !errors.Is(err, c.parseErr) || (err == nil) != (c.parseErr == nil) {
				t.Fatalf("parse: %v, want %v", err, c.parseErr)
			}
			if err != nil {
				return
			}
			err = p.check(now, "b", fields)
			if !errors.Is(err, c.checkErr) || (err == nil) != (c.checkErr == nil) {
				t.Fatalf("check: %v, want %v", err, c.checkErr)
			}
		})
	}
	if _, err := parsePostPolicy("%%%"); !errors.Is(err, errInvalidPolicyDocument) {
		t.Fatalf("bad base64: %v", err)
	}
}

func FuzzPostPolicy(f *testing.F) {
	f.Add(`{"expiration":"2026-01-02T04:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","up/"],["content-length-range",0,"10"]]}`)
	f.Add(`{"expiration":"x","conditions":[[],{},[1,2,3],["eq"],["content-length-range",-1,1e99]]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := parsePostPolicy(base64.StdEncoding.EncodeToString([]byte(doc)))
		if err != nil {
			if !errors.Is(err, errInvalidPolicyDocument) {
				t.Fatalf("error kind %v", err)
			}
			return
		}
		if p.minSize > p.maxSize {
			t.Fatalf("range %d..%d", p.minSize, p.maxSize)
		}
		p.check(time.Now(), "b", map[string]string{"key": "k"})
	})
}

func FuzzRestoreXML(f *testing.F) {
	f.Add([]byte(`<RestoreRequest><Days>7</Days></RestoreRequest>`))
	f.Add([]byte(`<RestoreRequest><Days>1</Days><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters></RestoreRequest>`))
	f.Add([]byte(`<RestoreRequest><Days>0</Days></RestoreRequest>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		days, err := parseRestoreXML(data)
		if err != nil {
			if !errors.Is(err, errMalformedXML) && !errors.Is(err, errInvalidArgument) && !errors.Is(err, errNotImplemented) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if days < 1 || days > maxRestoreDays {
			t.Fatalf("days %d accepted", days)
		}
	})
}
