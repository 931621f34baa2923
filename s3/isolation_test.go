package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// The isolation matrix: every operation the router dispatches, sent by
// tenant B against what tenant A owns (by bucket name, by key in a bucket
// name both own, by upload id, by copy source, signed in the header and
// presigned), must answer exactly what the same request answers for a
// thing that exists nowhere, and must leave A's data untouched.

// isoTarget is what one request addresses. etag, version and partETag are
// A's values, which B is assumed to have learnt somehow; a request against
// the control target sends the same guesses.
type isoTarget struct {
	bucket, key string
	upload      string // upload id of multipart operations
	src         string // x-amz-copy-source
	etag        string // for If-Match and friends
	version     string // for versionId
	partETag    string // part 1 of CompleteMultipartUpload
}

func (tg isoTarget) obj() string { return "/" + tg.bucket + "/" + escapeKey(tg.key) }

// isoReq is one request before signing.
type isoReq struct {
	method, path string // escaped path and query
	body         []byte
	hdr          http.Header
}

// isoResp is one response.
type isoResp struct {
	method string
	status int
	hdr    http.Header
	body   []byte
}

// isoOp is one operation of the router.
type isoOp struct {
	name  string
	build func(isoTarget) isoReq
	// undo reverts, as the requester, what a successful request did in the
	// requester's own namespace (nil: nothing to revert).
	undo func(t *testing.T, tg isoTarget, r isoResp)
}

// isoExpect is an operation and what both responses must be.
type isoExpect struct {
	op     isoOp
	status int
	code   string // "" for HEAD and successes
	// presigned, when set, is what the presigned form answers instead.
	presigned *isoExpect
}

// isoX is an expectation with the same answer signed and presigned.
func isoX(op isoOp, status int, code string) isoExpect {
	return isoExpect{op: op, status: status, code: code}
}

// isoGroup is a pair of targets: A's thing as B addresses it, and a thing
// that never existed, differing only in the names B chose.
type isoGroup struct {
	name            string
	secret, control isoTarget
	ops             []isoExpect
}

func isoRand(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func isoMD5Header(body []byte) http.Header {
	sum := md5.Sum(body)
	return http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}}
}

// isoAddTenant creates an active tenant with one user and access key.
func isoAddTenant(t *testing.T, h *harness, id, keyID, secret string) aws.Credentials {
	t.Helper()
	meta, now := h.node.Meta, time.Now()
	user := id + "-user"
	must(t, meta.PutTenant(ctx, metastore.Tenant{ID: id, Name: id, Plan: "test", State: metastore.TenantActive, Created: now}))
	must(t, meta.PutUser(ctx, metastore.User{Tenant: id, Name: user, Created: now}))
	must(t, meta.CreateAccessKey(ctx, metastore.AccessKey{ID: keyID, Tenant: id, User: user, Enabled: true, Created: now}, secret))
	return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
}

// isoSend sends r signed with cred: in the Authorization header, or as a
// presigned URL sent with no credentials of its own.
func (h *harness) isoSend(t *testing.T, cred aws.Credentials, r isoReq, presign bool) isoResp {
	t.Helper()
	var resp *http.Response
	var body []byte
	if !presign {
		resp, body = h.do(t, rawReq{method: r.method, path: r.path, body: r.body, hdr: r.hdr, creds: &cred})
	} else {
		req := h.presignReq(t, cred, r)
		var err error
		resp, err = h.ep().Client().Do(req)
		must(t, err)
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		must(t, err)
	}
	return isoResp{method: r.method, status: resp.StatusCode, hdr: resp.Header, body: body}
}

// presignReq presigns r with cred (headers stay headers, signed) and
// returns the request a holder of the URL sends.
func (h *harness) presignReq(t *testing.T, cred aws.Credentials, r isoReq) *http.Request {
	t.Helper()
	u := h.ep().URL + r.path
	if strings.Contains(r.path, "?") {
		u += "&X-Amz-Expires=300"
	} else {
		u += "?X-Amz-Expires=300"
	}
	req, err := http.NewRequest(r.method, u, bytes.NewReader(r.body))
	must(t, err)
	for k, vs := range r.hdr {
		req.Header[k] = vs
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true
		o.DisableHeaderHoisting = true
	})
	signed, hdr, err := signer.PresignHTTP(context.Background(), cred, req, sigv4.UnsignedPayload, "s3", "us-east-1", time.Now())
	must(t, err)
	out, err := http.NewRequest(r.method, signed, bytes.NewReader(r.body))
	must(t, err)
	if r.body == nil {
		out.Body, out.ContentLength = http.NoBody, 0
	}
	for k, vs := range hdr {
		if !strings.EqualFold(k, "Host") {
			out.Header[k] = vs
		}
	}
	return out
}

// isoVolatile are the XML elements that differ between any two requests
// (request and host ids) or between any two writes (upload ids and times
// of fresh objects).
var isoVolatile = []string{"RequestId", "HostId", "UploadId", "LastModified"}

// isoIgnoredHeaders differ between any two responses.
var isoIgnoredHeaders = []string{"Date", "X-Amz-Request-Id", "Content-Length", "X-Amz-Version-Id", "Last-Modified"}

func isoNormalize(body []byte) string {
	s := string(body)
	for _, tag := range isoVolatile {
		open, end := "<"+tag+">", "</"+tag+">"
		var b strings.Builder
		for {
			i := strings.Index(s, open)
			if i < 0 {
				break
			}
			j := strings.Index(s[i:], end)
			if j < 0 {
				break
			}
			b.WriteString(s[:i] + open + "*" + end)
			s = s[i+j+len(end):]
		}
		s = b.String() + s
	}
	return s
}

// isoSame fails unless got (to A's thing) and want (to the never-existing
// thing) are the same response once the names the client itself sent are
// swapped (subs: old, new pairs, applied to got).
func isoSame(t *testing.T, got, want isoResp, subs *strings.Replacer) {
	t.Helper()
	if got.status != want.status {
		t.Fatalf("status %d for A's, %d for nonexistent\nA's: %s\nnonexistent: %s", got.status, want.status, got.body, want.body)
	}
	gb, wb := subs.Replace(isoNormalize(got.body)), isoNormalize(want.body)
	if gb != wb {
		t.Fatalf("bodies differ beyond the names sent:\nA's:         %s\nnonexistent: %s", gb, wb)
	}
	gh, wh := got.hdr.Clone(), want.hdr.Clone()
	for _, k := range isoIgnoredHeaders {
		gh.Del(k)
		wh.Del(k)
	}
	for k, vs := range gh {
		for i := range vs {
			vs[i] = subs.Replace(vs[i])
		}
		gh[k] = vs
	}
	if !maps.EqualFunc(gh, wh, slices.Equal) {
		t.Fatalf("headers differ:\nA's:         %v\nnonexistent: %v", gh, wh)
	}
	if got.method != "HEAD" && got.hdr.Get("Content-Length") != "" && got.hdr.Get("Content-Length") != strconv.Itoa(len(got.body)) {
		t.Fatalf("Content-Length %s for a body of %d", got.hdr.Get("Content-Length"), len(got.body))
	}
}

// isoNoLeak fails if a response to B carries any of A's secrets, except
// one that B itself put in the request's path or query (S3 echoes markers
// such as upload-id-marker): what B sent it already knows.
func isoNoLeak(t *testing.T, r isoResp, secrets map[string]string, sent isoReq) {
	t.Helper()
	for what, s := range secrets {
		if strings.Contains(sent.path, s) {
			continue
		}
		if bytes.Contains(r.body, []byte(s)) {
			t.Errorf("response body carries A's %s %q: %s", what, s, r.body)
		}
		for k, vs := range r.hdr {
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("response header %s carries A's %s %q", k, what, s)
				}
			}
		}
	}
}

// isoCheck verifies a response against an expectation.
func isoCheck(t *testing.T, r isoResp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (%s): %s", r.status, status, code, r.body)
	}
	if code == "" {
		return
	}
	var e errorDoc
	if err := xml.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Code != code {
		t.Fatalf("code %q, want %q: %s", e.Code, code, r.body)
	}
}

func isoXML[T any](t *testing.T, r isoResp) T {
	t.Helper()
	var v T
	if r.status/100 != 2 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := xml.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return v
}

type isoUploadResult struct {
	UploadID string `xml:"UploadId"`
}

type isoListBucket struct {
	Contents []struct {
		Key   string `xml:"Key"`
		ETag  string `xml:"ETag"`
		Size  int64  `xml:"Size"`
		Owner struct {
			ID string `xml:"ID"`
		} `xml:"Owner"`
	} `xml:"Contents"`
}

type isoListUploads struct {
	Uploads []struct {
		Key      string `xml:"Key"`
		UploadID string `xml:"UploadId"`
	} `xml:"Upload"`
}

type isoListParts struct {
	Parts []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
		Size       int64  `xml:"Size"`
	} `xml:"Part"`
}

type isoListBuckets struct {
	Owner struct {
		ID string `xml:"ID"`
	} `xml:"Owner"`
	Buckets []string `xml:"Buckets>Bucket>Name"`
}

func TestTenantIsolationMatrix(t *testing.T) { overBoth(t, testTenantIsolationMatrix) }

func testTenantIsolationMatrix(t *testing.T, secure bool) {
	start := time.Now()
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 1}, nil).over(secure)
	salt := isoRand(4)
	aID, bID := "alpha-tenant-"+salt, "bravo-tenant-"+salt
	aKeyID, aSecret := "ALPHAKEY"+strings.ToUpper(salt), "alpha-secret-"+isoRand(8)
	A := isoAddTenant(t, h, aID, aKeyID, aSecret)
	B := isoAddTenant(t, h, bID, "BRAVOKEY"+strings.ToUpper(salt), "bravo-secret-"+isoRand(8))
	as := func(c aws.Credentials, r isoReq) isoResp { t.Helper(); return h.isoSend(t, c, r, false) }
	ok := func(r isoResp) isoResp {
		t.Helper()
		if r.status/100 != 2 {
			t.Fatalf("%s: status %d: %s", r.method, r.status, r.body)
		}
		return r
	}

	// A's world: a private bucket, a bucket whose name B also has, objects
	// and in-progress multipart uploads in both.
	const (
		priv, shared = "a-private", "shared-name"
		aObj, aNest  = "alpha-obj", "alpha-dir/nested obj"
		aSecretKey   = "secret-key"
	)
	aData := map[string][]byte{
		priv + "/" + aObj:         []byte("alpha private payload " + isoRand(8)),
		priv + "/" + aNest:        []byte("alpha nested payload " + isoRand(8)),
		shared + "/" + aSecretKey: []byte("alpha secret payload " + isoRand(8)),
	}
	aParts := map[string][][]byte{
		priv:   {[]byte("alpha private part one " + isoRand(8)), []byte("alpha private part two " + isoRand(8))},
		shared: {[]byte("alpha shared part one " + isoRand(8)), []byte("alpha shared part two " + isoRand(8))},
	}
	ok(as(A, isoReq{method: "PUT", path: "/" + priv}))
	ok(as(A, isoReq{method: "PUT", path: "/" + shared}))
	// Versioned, so A's objects have version ids B could try.
	versioning := []byte("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")
	ok(as(A, isoReq{method: "PUT", path: "/" + priv + "?versioning", body: versioning}))
	ok(as(A, isoReq{method: "PUT", path: "/" + shared + "?versioning", body: versioning}))
	aETag, aVersion := map[string]string{}, map[string]string{}
	for bk, data := range aData {
		bucket, key, _ := strings.Cut(bk, "/")
		r := ok(as(A, isoReq{method: "PUT", path: "/" + bucket + "/" + escapeKey(key), body: data}))
		aETag[bk] = strings.Trim(r.hdr.Get("ETag"), `"`)
		aVersion[bk] = r.hdr.Get("X-Amz-Version-Id")
	}
	aUpload := map[string]string{}     // bucket -> upload id (on aObj in priv, aSecretKey in shared)
	aPartETag := map[string][]string{} // bucket -> part ETags
	aUploadKey := map[string]string{priv: aObj, shared: aSecretKey}
	for _, bucket := range []string{priv, shared} {
		p := "/" + bucket + "/" + aUploadKey[bucket]
		u := isoXML[isoUploadResult](t, as(A, isoReq{method: "POST", path: p + "?uploads"})).UploadID
		aUpload[bucket] = u
		for i, part := range aParts[bucket] {
			r := ok(as(A, isoReq{method: "PUT", path: p + "?partNumber=" + strconv.Itoa(i+1) + "&uploadId=" + u, body: part}))
			aPartETag[bucket] = append(aPartETag[bucket], strings.Trim(r.hdr.Get("ETag"), `"`))
		}
	}
	// Everything of A that must never reach B.
	secrets := map[string]string{"tenant id": aID, "access key": aKeyID, "secret key": aSecret}
	for bk, data := range aData {
		secrets["data "+bk] = string(data)
		secrets["etag "+bk] = aETag[bk]
		if aVersion[bk] != "" {
			secrets["version "+bk] = aVersion[bk]
		}
	}
	for bucket, u := range aUpload {
		secrets["upload id in "+bucket] = u
		for i, p := range aParts[bucket] {
			secrets["part "+strconv.Itoa(i+1)+" in "+bucket] = string(p)
			secrets["part etag "+strconv.Itoa(i+1)+" in "+bucket] = aPartETag[bucket][i]
		}
	}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("setup: empty %s", what)
		}
	}

	// B's world: its own "shared-name" with different keys, and an upload
	// of its own to copy parts into.
	const bOwn, bDst = "b-own", "b-copy-dst"
	bData := []byte("bravo own payload " + isoRand(8))
	ok(as(B, isoReq{method: "PUT", path: "/" + shared}))
	ok(as(B, isoReq{method: "PUT", path: "/" + shared + "/" + bOwn, body: bData}))
	bUpload := isoXML[isoUploadResult](t, as(B, isoReq{method: "POST", path: "/" + shared + "/" + bDst + "?uploads"})).UploadID

	never := "never-existed-" + isoRand(8)
	neverKey := "never-key-" + isoRand(8)

	// bSend sends as B and checks that nothing of A came back.
	bSend := func(t *testing.T, r isoReq, presign bool) isoResp {
		t.Helper()
		resp := h.isoSend(t, B, r, presign)
		isoNoLeak(t, resp, secrets, r)
		return resp
	}

	// The operations of the router (s3.Op*), each as B would send it.
	undoDelete := func(t *testing.T, tg isoTarget, r isoResp) {
		ok(as(B, isoReq{method: "DELETE", path: tg.obj()}))
	}
	var (
		opHeadBucket    = isoOp{name: "HeadBucket", build: func(tg isoTarget) isoReq { return isoReq{method: "HEAD", path: "/" + tg.bucket} }}
		opGetLocation   = isoOp{name: "GetBucketLocation", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: "/" + tg.bucket + "?location"} }}
		opGetVersioning = isoOp{name: "GetBucketVersioning", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: "/" + tg.bucket + "?versioning"} }}
		opListObjects   = isoOp{name: "ListObjects", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: "/" + tg.bucket + "?prefix=alpha"} }}
		opListObjectsV2 = isoOp{name: "ListObjectsV2", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: "/" + tg.bucket + "?list-type=2&fetch-owner=true"}
		}}
		opListObjectsMax0 = isoOp{name: "ListObjectsV2MaxKeys0", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: "/" + tg.bucket + "?list-type=2&max-keys=0"}
		}}
		opListUploads     = isoOp{name: "ListMultipartUploads", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: "/" + tg.bucket + "?uploads"} }}
		opListUploadsMax0 = isoOp{name: "ListMultipartUploadsMaxUploads0", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: "/" + tg.bucket + "?uploads&max-uploads=0"}
		}}
		opDeleteBucket  = isoOp{name: "DeleteBucket", build: func(tg isoTarget) isoReq { return isoReq{method: "DELETE", path: "/" + tg.bucket} }}
		opDeleteObjects = isoOp{name: "DeleteObjects", build: func(tg isoTarget) isoReq {
			body := []byte("<Delete><Object><Key>" + tg.key + "</Key></Object></Delete>")
			return isoReq{method: "POST", path: "/" + tg.bucket + "?delete", body: body, hdr: isoMD5Header(body)}
		}}
		opPutObject = isoOp{name: "PutObject", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: tg.obj(), body: []byte("bravo writes this")}
		}, undo: undoDelete}
		opCopyObject = isoOp{name: "CopyObject", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: tg.obj(), hdr: http.Header{"X-Amz-Copy-Source": {tg.src}}}
		}, undo: undoDelete}
		opCopyObjectVersion = isoOp{name: "CopyObjectVersionId", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: tg.obj(), hdr: http.Header{"X-Amz-Copy-Source": {tg.src + "?versionId=" + tg.version}}}
		}, undo: undoDelete}
		opCopyObjectIfMatch = isoOp{name: "CopyObjectIfMatch", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: tg.obj(), hdr: http.Header{"X-Amz-Copy-Source": {tg.src}, "X-Amz-Copy-Source-If-Match": {`"` + tg.etag + `"`}}}
		}, undo: undoDelete}
		opGetObject      = isoOp{name: "GetObject", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: tg.obj()} }}
		opGetObjectRange = isoOp{name: "GetObjectRange", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj(), hdr: http.Header{"Range": {"bytes=0-4"}}}
		}}
		opGetObjectIfMatch = isoOp{name: "GetObjectIfMatch", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj(), hdr: http.Header{"If-Match": {`"` + tg.etag + `"`}}}
		}}
		opGetObjectIfNoneMatch = isoOp{name: "GetObjectIfNoneMatch", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj(), hdr: http.Header{"If-None-Match": {`"` + tg.etag + `"`}}}
		}}
		opGetObjectVersion = isoOp{name: "GetObjectVersionId", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj() + "?versionId=" + tg.version}
		}}
		opGetObjectPart = isoOp{name: "GetObjectPartNumber", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj() + "?partNumber=1"}
		}}
		opHeadObject        = isoOp{name: "HeadObject", build: func(tg isoTarget) isoReq { return isoReq{method: "HEAD", path: tg.obj()} }}
		opHeadObjectIfMatch = isoOp{name: "HeadObjectIfMatch", build: func(tg isoTarget) isoReq {
			return isoReq{method: "HEAD", path: tg.obj(), hdr: http.Header{"If-Match": {`"` + tg.etag + `"`}}}
		}}
		opDeleteObject = isoOp{name: "DeleteObject", build: func(tg isoTarget) isoReq { return isoReq{method: "DELETE", path: tg.obj()} }}
		opCreateUpload = isoOp{name: "CreateMultipartUpload", build: func(tg isoTarget) isoReq {
			return isoReq{method: "POST", path: tg.obj() + "?uploads"}
		}, undo: func(t *testing.T, tg isoTarget, r isoResp) {
			u := isoXML[isoUploadResult](t, r).UploadID
			ok(as(B, isoReq{method: "DELETE", path: tg.obj() + "?uploadId=" + u}))
		}}
		opUploadPart = isoOp{name: "UploadPart", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: tg.obj() + "?partNumber=1&uploadId=" + tg.upload, body: []byte("bravo part")}
		}}
		opUploadPartCopy = isoOp{name: "UploadPartCopy", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: tg.obj() + "?partNumber=1&uploadId=" + tg.upload, hdr: http.Header{"X-Amz-Copy-Source": {tg.src}}}
		}}
		opUploadPartCopyRange = isoOp{name: "UploadPartCopyRange", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: tg.obj() + "?partNumber=1&uploadId=" + tg.upload,
				hdr: http.Header{"X-Amz-Copy-Source": {tg.src}, "X-Amz-Copy-Source-Range": {"bytes=0-3"}}}
		}}
		opListParts = isoOp{name: "ListParts", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj() + "?uploadId=" + tg.upload}
		}}
		opListPartsMax0 = isoOp{name: "ListPartsMaxParts0", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj() + "?max-parts=0&uploadId=" + tg.upload}
		}}
		opComplete = isoOp{name: "CompleteMultipartUpload", build: func(tg isoTarget) isoReq {
			return isoReq{method: "POST", path: tg.obj() + "?uploadId=" + tg.upload,
				body: []byte("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"" + tg.partETag + "\"</ETag></Part></CompleteMultipartUpload>")}
		}}
		opAbort = isoOp{name: "AbortMultipartUpload", build: func(tg isoTarget) isoReq {
			return isoReq{method: "DELETE", path: tg.obj() + "?uploadId=" + tg.upload}
		}}
		// Sub-resources the router answers NotImplemented before any lookup.
		opGetBucketACL = isoOp{name: "GetBucketAcl", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: "/" + tg.bucket + "?acl"} }}
		// Versions, lock and tags.
		opPutVersioning = isoOp{name: "PutBucketVersioning", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: "/" + tg.bucket + "?versioning", body: []byte("<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>")}
		}}
		opListObjectVersions = isoOp{name: "ListObjectVersions", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: "/" + tg.bucket + "?versions"} }}
		opGetLockConfig      = isoOp{name: "GetObjectLockConfiguration", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: "/" + tg.bucket + "?object-lock"} }}
		opPutLockConfig      = isoOp{name: "PutObjectLockConfiguration", build: func(tg isoTarget) isoReq {
			body := []byte("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>")
			return isoReq{method: "PUT", path: "/" + tg.bucket + "?object-lock", body: body, hdr: isoMD5Header(body)}
		}}
		opGetBucketTagging = isoOp{name: "GetBucketTagging", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: "/" + tg.bucket + "?tagging"} }}
		opPutBucketTagging = isoOp{name: "PutBucketTagging", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: "/" + tg.bucket + "?tagging", body: []byte("<Tagging><TagSet><Tag><Key>b</Key><Value>1</Value></Tag></TagSet></Tagging>")}
		}}
		opDeleteBucketTagging = isoOp{name: "DeleteBucketTagging", build: func(tg isoTarget) isoReq { return isoReq{method: "DELETE", path: "/" + tg.bucket + "?tagging"} }}
		opGetObjectTagging    = isoOp{name: "GetObjectTagging", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: tg.obj() + "?tagging"} }}
		opPutObjectTagging    = isoOp{name: "PutObjectTagging", build: func(tg isoTarget) isoReq {
			return isoReq{method: "PUT", path: tg.obj() + "?tagging", body: []byte("<Tagging><TagSet><Tag><Key>b</Key><Value>1</Value></Tag></TagSet></Tagging>")}
		}}
		opDeleteObjectTagging = isoOp{name: "DeleteObjectTagging", build: func(tg isoTarget) isoReq { return isoReq{method: "DELETE", path: tg.obj() + "?tagging"} }}
		opGetVersionTagging   = isoOp{name: "GetObjectTaggingVersionId", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj() + "?tagging&versionId=" + tg.version}
		}}
		opGetRetention = isoOp{name: "GetObjectRetention", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: tg.obj() + "?retention"} }}
		opPutRetention = isoOp{name: "PutObjectRetention", build: func(tg isoTarget) isoReq {
			body := []byte("<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>")
			return isoReq{method: "PUT", path: tg.obj() + "?retention", body: body, hdr: isoMD5Header(body)}
		}}
		opGetLegalHold = isoOp{name: "GetObjectLegalHold", build: func(tg isoTarget) isoReq { return isoReq{method: "GET", path: tg.obj() + "?legal-hold"} }}
		opPutLegalHold = isoOp{name: "PutObjectLegalHold", build: func(tg isoTarget) isoReq {
			body := []byte("<LegalHold><Status>ON</Status></LegalHold>")
			return isoReq{method: "PUT", path: tg.obj() + "?legal-hold", body: body, hdr: isoMD5Header(body)}
		}}
		opGetAttributes = isoOp{name: "GetObjectAttributes", build: func(tg isoTarget) isoReq {
			return isoReq{method: "GET", path: tg.obj() + "?attributes", hdr: http.Header{"X-Amz-Object-Attributes": {"ETag,ObjectSize"}}}
		}}
		opDeleteVersion = isoOp{name: "DeleteObjectVersionId", build: func(tg isoTarget) isoReq {
			return isoReq{method: "DELETE", path: tg.obj() + "?versionId=" + tg.version}
		}}
	)
	uploadOps := func(code string) []isoExpect {
		return []isoExpect{
			isoX(opUploadPart, 404, code), isoX(opUploadPartCopy, 404, code), isoX(opListParts, 404, code),
			isoX(opListPartsMax0, 404, code), isoX(opComplete, 404, code), isoX(opAbort, 404, code),
		}
	}
	copyOps := func(code string) []isoExpect {
		versionCode := code
		if code == "NoSuchKey" {
			versionCode = "NoSuchVersion"
		}
		return []isoExpect{
			isoX(opCopyObject, 404, code), isoX(opCopyObjectVersion, 404, versionCode), isoX(opCopyObjectIfMatch, 404, code),
			isoX(opUploadPartCopy, 404, code), isoX(opUploadPartCopyRange, 404, code),
		}
	}

	privTarget := isoTarget{bucket: priv, key: aObj, upload: aUpload[priv], src: shared + "/" + bOwn,
		etag: aETag[priv+"/"+aObj], version: aVersion[priv+"/"+aObj], partETag: aPartETag[priv][0]}
	withT := func(tg isoTarget, f func(*isoTarget)) isoTarget { f(&tg); return tg }
	sharedSecret := withT(privTarget, func(tg *isoTarget) {
		tg.bucket, tg.key, tg.upload = shared, aSecretKey, aUpload[shared]
		tg.etag, tg.version, tg.partETag = aETag[shared+"/"+aSecretKey], aVersion[shared+"/"+aSecretKey], aPartETag[shared][0]
	})
	copyTarget := isoTarget{bucket: shared, key: bDst, upload: bUpload, etag: privTarget.etag, version: privTarget.version}

	groups := []isoGroup{{
		// B addresses A's bucket by name: as if it did not exist.
		name:    "ForeignBucket",
		secret:  privTarget,
		control: withT(privTarget, func(tg *isoTarget) { tg.bucket, tg.upload = never, isoRand(16) }),
		ops: append([]isoExpect{
			isoX(opHeadBucket, 404, ""), isoX(opGetLocation, 404, "NoSuchBucket"), isoX(opGetVersioning, 404, "NoSuchBucket"),
			isoX(opListObjects, 404, "NoSuchBucket"), isoX(opListObjectsV2, 404, "NoSuchBucket"), isoX(opListObjectsMax0, 404, "NoSuchBucket"),
			isoX(opListUploads, 404, "NoSuchBucket"), isoX(opListUploadsMax0, 404, "NoSuchBucket"),
			isoX(opDeleteBucket, 404, "NoSuchBucket"),
			isoX(opDeleteObjects, 404, "NoSuchBucket"),
			isoX(opPutObject, 404, "NoSuchBucket"), isoX(opCopyObject, 404, "NoSuchBucket"),
			isoX(opGetObject, 404, "NoSuchBucket"), isoX(opGetObjectRange, 404, "NoSuchBucket"), isoX(opGetObjectIfMatch, 404, "NoSuchBucket"),
			isoX(opGetObjectIfNoneMatch, 404, "NoSuchBucket"), isoX(opGetObjectVersion, 404, "NoSuchBucket"), isoX(opGetObjectPart, 404, "NoSuchBucket"),
			isoX(opHeadObject, 404, ""), isoX(opHeadObjectIfMatch, 404, ""),
			isoX(opDeleteObject, 404, "NoSuchBucket"), isoX(opCreateUpload, 404, "NoSuchBucket"),
			isoX(opGetBucketACL, 404, "NoSuchBucket"),
			isoX(opPutVersioning, 404, "NoSuchBucket"), isoX(opListObjectVersions, 404, "NoSuchBucket"),
			isoX(opGetLockConfig, 404, "NoSuchBucket"), isoX(opPutLockConfig, 404, "NoSuchBucket"),
			isoX(opGetBucketTagging, 404, "NoSuchBucket"), isoX(opPutBucketTagging, 404, "NoSuchBucket"),
			isoX(opDeleteBucketTagging, 404, "NoSuchBucket"),
			isoX(opGetObjectTagging, 404, "NoSuchBucket"), isoX(opPutObjectTagging, 404, "NoSuchBucket"),
			isoX(opDeleteObjectTagging, 404, "NoSuchBucket"), isoX(opGetVersionTagging, 404, "NoSuchBucket"),
			isoX(opGetRetention, 404, "NoSuchBucket"), isoX(opPutRetention, 404, "NoSuchBucket"),
			isoX(opGetLegalHold, 404, "NoSuchBucket"), isoX(opPutLegalHold, 404, "NoSuchBucket"),
			isoX(opGetAttributes, 404, "NoSuchBucket"), isoX(opDeleteVersion, 404, "NoSuchBucket"),
		}, uploadOps("NoSuchBucket")...),
	}, {
		// B addresses A's key in a bucket name both tenants own: as if the
		// key did not exist (reads fail, writes and deletes act on B's own).
		name:    "ForeignKey",
		secret:  sharedSecret,
		control: withT(sharedSecret, func(tg *isoTarget) { tg.key = neverKey }),
		ops: []isoExpect{
			isoX(opGetObject, 404, "NoSuchKey"), isoX(opGetObjectRange, 404, "NoSuchKey"), isoX(opGetObjectIfMatch, 404, "NoSuchKey"),
			isoX(opGetObjectIfNoneMatch, 404, "NoSuchKey"), isoX(opGetObjectVersion, 404, "NoSuchVersion"), isoX(opGetObjectPart, 404, "NoSuchKey"),
			isoX(opHeadObject, 404, ""), isoX(opHeadObjectIfMatch, 404, ""),
			isoX(opDeleteObject, 204, ""), isoX(opDeleteObjects, 200, ""),
			isoX(opPutObject, 200, ""), isoX(opCopyObject, 200, ""), isoX(opCreateUpload, 200, ""),
			isoX(opGetObjectTagging, 404, "NoSuchKey"), isoX(opPutObjectTagging, 404, "NoSuchKey"),
			isoX(opDeleteObjectTagging, 404, "NoSuchKey"), isoX(opGetVersionTagging, 404, "NoSuchVersion"),
			isoX(opGetRetention, 404, "NoSuchKey"), isoX(opPutRetention, 404, "NoSuchKey"),
			isoX(opGetLegalHold, 404, "NoSuchKey"), isoX(opPutLegalHold, 404, "NoSuchKey"),
			isoX(opGetAttributes, 404, "NoSuchKey"), isoX(opDeleteVersion, 204, ""),
		},
	}, {
		// B uses A's upload id, on the same key in a bucket name both own.
		name:    "ForeignUploadID",
		secret:  sharedSecret,
		control: withT(sharedSecret, func(tg *isoTarget) { tg.upload = isoRand(16) }),
		ops:     uploadOps("NoSuchUpload"),
	}, {
		// B uses the upload id of A's private bucket in its own bucket.
		name:    "ForeignUploadIDOtherBucket",
		secret:  withT(privTarget, func(tg *isoTarget) { tg.bucket = shared }),
		control: withT(privTarget, func(tg *isoTarget) { tg.bucket, tg.upload = shared, isoRand(16) }),
		ops:     uploadOps("NoSuchUpload"),
	}, {
		// B copies from A's private bucket into its own.
		name:    "ForeignCopySourceBucket",
		secret:  withT(copyTarget, func(tg *isoTarget) { tg.src = priv + "/" + aObj }),
		control: withT(copyTarget, func(tg *isoTarget) { tg.src = never + "/" + aObj }),
		ops:     copyOps("NoSuchBucket"),
	}, {
		// B copies A's key from a bucket name both own.
		name: "ForeignCopySourceKey",
		secret: withT(copyTarget, func(tg *isoTarget) {
			tg.src, tg.etag, tg.version = "/"+shared+"/"+aSecretKey, sharedSecret.etag, sharedSecret.version
		}),
		control: withT(copyTarget, func(tg *isoTarget) {
			tg.src, tg.etag, tg.version = "/"+shared+"/"+neverKey, sharedSecret.etag, sharedSecret.version
		}),
		ops: copyOps("NoSuchKey"),
	}}

	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			var pairs []string
			for _, p := range [][2]string{
				{g.secret.bucket, g.control.bucket}, {g.secret.key, g.control.key},
				{g.secret.upload, g.control.upload}, {g.secret.src, g.control.src},
			} {
				if p[0] != p[1] {
					pairs = append(pairs, p[0], p[1])
				}
			}
			subs := strings.NewReplacer(pairs...)
			for _, e := range g.ops {
				t.Run(e.op.name, func(t *testing.T) {
					for _, mode := range []string{"signed", "presigned"} {
						t.Run(mode, func(t *testing.T) {
							presign := mode == "presigned"
							got := bSend(t, e.op.build(g.secret), presign)
							want := bSend(t, e.op.build(g.control), presign)
							for _, r := range []struct {
								tg   isoTarget
								resp isoResp
							}{{g.secret, got}, {g.control, want}} {
								if e.op.undo != nil && r.resp.status/100 == 2 {
									e.op.undo(t, r.tg, r.resp)
								}
							}
							if x := e.presigned; presign && x != nil {
								isoCheck(t, want, x.status, x.code)
							} else {
								isoCheck(t, want, e.status, e.code)
							}
							isoSame(t, got, want, subs)
						})
					}
				})
			}
		})
	}

	t.Run("CreateBucket", func(t *testing.T) {
		// B may create a bucket named like A's: it gets its own, empty.
		got := bSend(t, isoReq{method: "PUT", path: "/" + priv}, false)
		want := as(B, isoReq{method: "PUT", path: "/" + never})
		isoCheck(t, want, 200, "")
		isoSame(t, got, want, strings.NewReplacer(priv, never))
		l := isoXML[isoListBucket](t, as(B, isoReq{method: "GET", path: "/" + priv + "?list-type=2"}))
		if len(l.Contents) != 0 {
			t.Fatalf("B's new %s lists %+v", priv, l.Contents)
		}
		r := bSend(t, isoReq{method: "GET", path: "/" + priv + "/" + aObj}, false)
		isoCheck(t, r, 404, "NoSuchKey")
		r = bSend(t, isoReq{method: "GET", path: "/" + priv + "/" + aObj + "?uploadId=" + aUpload[priv]}, false)
		isoCheck(t, r, 404, "NoSuchUpload")
		ok(as(B, isoReq{method: "DELETE", path: "/" + priv}))
		ok(as(B, isoReq{method: "DELETE", path: "/" + never}))
	})

	t.Run("PresignedByA", func(t *testing.T) {
		// A's presigned URL serves A's object to anyone: the signer's tenant
		// decides, not whoever holds the URL.
		for bk, data := range map[string][]byte{priv + "/" + aObj: aData[priv+"/"+aObj], shared + "/" + aSecretKey: aData[shared+"/"+aSecretKey]} {
			bucket, key, _ := strings.Cut(bk, "/")
			r := h.isoSend(t, A, isoReq{method: "GET", path: "/" + bucket + "/" + key}, true)
			if r.status != 200 || !bytes.Equal(r.body, data) {
				t.Fatalf("A's presigned GET %s: %d %q", bk, r.status, r.body)
			}
		}
		// The same URL path presigned by B reads B's namespace.
		r := bSend(t, isoReq{method: "GET", path: "/" + shared + "/" + aSecretKey}, true)
		isoCheck(t, r, 404, "NoSuchKey")
		r = h.isoSend(t, B, isoReq{method: "GET", path: "/" + shared + "/" + bOwn}, true)
		if r.status != 200 || !bytes.Equal(r.body, bData) {
			t.Fatalf("B's presigned GET of its own: %d %q", r.status, r.body)
		}
		r = h.isoSend(t, A, isoReq{method: "GET", path: "/" + shared + "/" + bOwn}, true)
		isoCheck(t, r, 404, "NoSuchKey")
		// B cannot add its own signature to A's URL to act as B on it.
		req := h.presignReq(t, A, isoReq{method: "GET", path: "/" + shared + "/" + bOwn})
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		req.Header.Set("X-Amz-Content-Sha256", sigv4.UnsignedPayload)
		must(t, signer.SignHTTP(ctx, B, req, sigv4.UnsignedPayload, "s3", "us-east-1", time.Now()))
		resp, err := h.ep().Client().Do(req)
		must(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r = isoResp{method: "GET", status: resp.StatusCode, hdr: resp.Header, body: b}
		isoCheck(t, r, 400, "InvalidArgument")
		if bytes.Contains(b, bData) {
			t.Fatal("doubly signed request served B's data")
		}
		// A presigned PUT by A writes into A's bucket whoever sends it.
		r = h.isoSend(t, A, isoReq{method: "PUT", path: "/" + shared + "/presigned-by-a", body: []byte("put via A's URL")}, true)
		isoCheck(t, r, 200, "")
		r = bSend(t, isoReq{method: "GET", path: "/" + shared + "/presigned-by-a"}, false)
		isoCheck(t, r, 404, "NoSuchKey")
		r = ok(as(A, isoReq{method: "GET", path: "/" + shared + "/presigned-by-a"}))
		if string(r.body) != "put via A's URL" {
			t.Fatalf("A reads %q", r.body)
		}
		ok(as(A, isoReq{method: "DELETE", path: "/" + shared + "/presigned-by-a"}))
	})

	t.Run("Listings", func(t *testing.T) {
		for _, presign := range []bool{false, true} {
			r := bSend(t, isoReq{method: "GET", path: "/"}, presign)
			lb := isoXML[isoListBuckets](t, r)
			if !slices.Equal(lb.Buckets, []string{shared}) || lb.Owner.ID != bID || bytes.Contains(r.body, []byte(priv)) {
				t.Fatalf("B's ListBuckets: %s", r.body)
			}
			for _, q := range []string{"?list-type=2&fetch-owner=true", "", "?list-type=2&prefix=secret", "?list-type=2&start-after=a"} {
				r = bSend(t, isoReq{method: "GET", path: "/" + shared + q}, presign)
				l := isoXML[isoListBucket](t, r)
				var keys []string
				for _, c := range l.Contents {
					keys = append(keys, c.Key)
					if c.Owner.ID != "" && c.Owner.ID != bID {
						t.Errorf("owner %q in B's listing", c.Owner.ID)
					}
				}
				want := []string{bOwn}
				if strings.Contains(q, "prefix=secret") {
					want = nil
				}
				if !slices.Equal(keys, want) || bytes.Contains(r.body, []byte(aSecretKey)) {
					t.Fatalf("B's listing %q: %s", q, r.body)
				}
			}
			for _, q := range []string{"?uploads", "?uploads&prefix=secret", "?uploads&key-marker=" + aSecretKey + "&upload-id-marker=" + aUpload[shared]} {
				r = bSend(t, isoReq{method: "GET", path: "/" + shared + q}, presign)
				ul := isoXML[isoListUploads](t, r)
				var got []string
				for _, u := range ul.Uploads {
					got = append(got, u.Key+" "+u.UploadID)
				}
				var want []string
				if q == "?uploads" {
					want = []string{bDst + " " + bUpload}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("B's uploads %q: %s", q, r.body)
				}
			}
		}
	})

	t.Run("AIntact", func(t *testing.T) {
		// A's buckets, listings, objects and uploads are what A made.
		lb := isoXML[isoListBuckets](t, as(A, isoReq{method: "GET", path: "/"}))
		if !slices.Equal(lb.Buckets, []string{priv, shared}) || lb.Owner.ID != aID {
			t.Fatalf("A's buckets %+v", lb)
		}
		for _, bucket := range []string{priv, shared} {
			l := isoXML[isoListBucket](t, as(A, isoReq{method: "GET", path: "/" + bucket + "?list-type=2"}))
			var got []string
			for _, c := range l.Contents {
				got = append(got, c.Key+" "+strings.Trim(c.ETag, `"`))
			}
			var want []string
			for bk := range aData {
				if b, k, _ := strings.Cut(bk, "/"); b == bucket {
					want = append(want, k+" "+aETag[bk])
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("A's %s lists %v, want %v", bucket, got, want)
			}
		}
		for bk, data := range aData {
			bucket, key, _ := strings.Cut(bk, "/")
			r := ok(as(A, isoReq{method: "GET", path: "/" + bucket + "/" + escapeKey(key)}))
			if !bytes.Equal(r.body, data) || strings.Trim(r.hdr.Get("ETag"), `"`) != aETag[bk] || r.hdr.Get("X-Amz-Version-Id") != aVersion[bk] {
				t.Fatalf("A's %s: %q etag %s version %s", bk, r.body, r.hdr.Get("ETag"), r.hdr.Get("X-Amz-Version-Id"))
			}
		}
		for _, bucket := range []string{priv, shared} {
			ul := isoXML[isoListUploads](t, as(A, isoReq{method: "GET", path: "/" + bucket + "?uploads"}))
			if len(ul.Uploads) != 1 || ul.Uploads[0].UploadID != aUpload[bucket] || ul.Uploads[0].Key != aUploadKey[bucket] {
				t.Fatalf("A's uploads in %s: %+v", bucket, ul.Uploads)
			}
			p := "/" + bucket + "/" + aUploadKey[bucket] + "?uploadId=" + aUpload[bucket]
			lp := isoXML[isoListParts](t, as(A, isoReq{method: "GET", path: p}))
			if len(lp.Parts) != len(aParts[bucket]) {
				t.Fatalf("A's parts in %s: %+v", bucket, lp.Parts)
			}
			var complete strings.Builder
			complete.WriteString("<CompleteMultipartUpload>")
			var whole []byte
			for i, part := range lp.Parts {
				if part.PartNumber != i+1 || strings.Trim(part.ETag, `"`) != aPartETag[bucket][i] || part.Size != int64(len(aParts[bucket][i])) {
					t.Fatalf("A's part %d in %s: %+v", i+1, bucket, part)
				}
				complete.WriteString("<Part><PartNumber>" + strconv.Itoa(i+1) + "</PartNumber><ETag>" + part.ETag + "</ETag></Part>")
				whole = append(whole, aParts[bucket][i]...)
			}
			complete.WriteString("</CompleteMultipartUpload>")
			// A can still complete its upload and reads exactly its parts.
			ok(as(A, isoReq{method: "POST", path: p, body: []byte(complete.String())}))
			r := ok(as(A, isoReq{method: "GET", path: "/" + bucket + "/" + aUploadKey[bucket]}))
			if !bytes.Equal(r.body, whole) {
				t.Fatalf("A's completed upload in %s reads %q, want %q", bucket, r.body, whole)
			}
		}
		// B's own things are B's alone, and still there.
		r := ok(as(B, isoReq{method: "GET", path: "/" + shared + "/" + bOwn}))
		if !bytes.Equal(r.body, bData) {
			t.Fatalf("B's object reads %q", r.body)
		}
		ok(as(B, isoReq{method: "GET", path: "/" + shared + "/" + bDst + "?uploadId=" + bUpload}))
	})
	t.Logf("matrix ran in %v", time.Since(start))
}
