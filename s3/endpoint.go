package s3

import (
	"net"
	"net/url"
	"strings"
)

// Operation is one S3 API operation.
type Operation int

// The operations the S3 API serves.
const (
	OpUnknown Operation = iota
	OpListBuckets
	OpCreateBucket
	OpHeadBucket
	OpDeleteBucket
	OpGetBucketLocation
	OpListObjectsV1
	OpListObjectsV2
	OpListMultipartUploads
	OpDeleteObjects
	OpPutObject
	OpCopyObject
	OpGetObject
	OpHeadObject
	OpDeleteObject
	OpCreateMultipartUpload
	OpUploadPart
	OpUploadPartCopy
	OpCompleteMultipartUpload
	OpAbortMultipartUpload
	OpListParts
	OpGetBucketVersioning
	OpPutBucketVersioning
	OpListObjectVersions
	OpGetObjectLockConfiguration
	OpPutObjectLockConfiguration
	OpGetBucketTagging
	OpPutBucketTagging
	OpDeleteBucketTagging
	OpGetObjectTagging
	OpPutObjectTagging
	OpDeleteObjectTagging
	OpGetObjectRetention
	OpPutObjectRetention
	OpGetObjectLegalHold
	OpPutObjectLegalHold
	OpGetObjectAttributes
	// OpPostObject is the browser-form upload (POST /bucket,
	// multipart/form-data), authenticated by its policy's signature.
	OpPostObject
	// CORS (cors.go). OpPreflight is an OPTIONS request, answered from the
	// bucket's rules without a signature.
	OpGetBucketCors
	OpPutBucketCors
	OpDeleteBucketCors
	OpPreflight
	// Lifecycle (issue 15).
	OpGetBucketLifecycle
	OpPutBucketLifecycle
	OpDeleteBucketLifecycle
	// Access control (access.go, accessapi.go).
	OpGetBucketPolicy
	OpPutBucketPolicy
	OpDeleteBucketPolicy
	OpGetBucketPolicyStatus
	OpGetPublicAccessBlock
	OpPutPublicAccessBlock
	OpDeletePublicAccessBlock
	OpGetBucketOwnership
	OpPutBucketOwnership
	OpDeleteBucketOwnership
	OpGetBucketACL
	OpPutBucketACL
	OpGetObjectACL
	OpPutObjectACL
	// Encryption (crypt, issue 16).
	OpGetBucketEncryption
	OpPutBucketEncryption
	OpDeleteBucketEncryption
)

var opNames = [...]string{
	OpUnknown:                    "Unknown",
	OpListBuckets:                "ListBuckets",
	OpCreateBucket:               "CreateBucket",
	OpHeadBucket:                 "HeadBucket",
	OpDeleteBucket:               "DeleteBucket",
	OpGetBucketLocation:          "GetBucketLocation",
	OpListObjectsV1:              "ListObjects",
	OpListObjectsV2:              "ListObjectsV2",
	OpListMultipartUploads:       "ListMultipartUploads",
	OpDeleteObjects:              "DeleteObjects",
	OpPutObject:                  "PutObject",
	OpCopyObject:                 "CopyObject",
	OpGetObject:                  "GetObject",
	OpHeadObject:                 "HeadObject",
	OpDeleteObject:               "DeleteObject",
	OpCreateMultipartUpload:      "CreateMultipartUpload",
	OpUploadPart:                 "UploadPart",
	OpUploadPartCopy:             "UploadPartCopy",
	OpCompleteMultipartUpload:    "CompleteMultipartUpload",
	OpAbortMultipartUpload:       "AbortMultipartUpload",
	OpListParts:                  "ListParts",
	OpGetBucketVersioning:        "GetBucketVersioning",
	OpPutBucketVersioning:        "PutBucketVersioning",
	OpListObjectVersions:         "ListObjectVersions",
	OpGetObjectLockConfiguration: "GetObjectLockConfiguration",
	OpPutObjectLockConfiguration: "PutObjectLockConfiguration",
	OpGetBucketTagging:           "GetBucketTagging",
	OpPutBucketTagging:           "PutBucketTagging",
	OpDeleteBucketTagging:        "DeleteBucketTagging",
	OpGetObjectTagging:           "GetObjectTagging",
	OpPutObjectTagging:           "PutObjectTagging",
	OpDeleteObjectTagging:        "DeleteObjectTagging",
	OpGetObjectRetention:         "GetObjectRetention",
	OpPutObjectRetention:         "PutObjectRetention",
	OpGetObjectLegalHold:         "GetObjectLegalHold",
	OpPutObjectLegalHold:         "PutObjectLegalHold",
	OpGetObjectAttributes:        "GetObjectAttributes",
	OpPostObject:                 "PostObject",
	OpGetBucketCors:              "GetBucketCors",
	OpPutBucketCors:              "PutBucketCors",
	OpDeleteBucketCors:           "DeleteBucketCors",
	OpPreflight:                  "PreflightRequest",
	OpGetBucketLifecycle:         "GetBucketLifecycleConfiguration",
	OpPutBucketLifecycle:         "PutBucketLifecycleConfiguration",
	OpDeleteBucketLifecycle:      "DeleteBucketLifecycle",
	OpGetBucketPolicy:            "GetBucketPolicy",
	OpPutBucketPolicy:            "PutBucketPolicy",
	OpDeleteBucketPolicy:         "DeleteBucketPolicy",
	OpGetBucketPolicyStatus:      "GetBucketPolicyStatus",
	OpGetPublicAccessBlock:       "GetPublicAccessBlock",
	OpPutPublicAccessBlock:       "PutPublicAccessBlock",
	OpDeletePublicAccessBlock:    "DeletePublicAccessBlock",
	OpGetBucketOwnership:         "GetBucketOwnershipControls",
	OpPutBucketOwnership:         "PutBucketOwnershipControls",
	OpDeleteBucketOwnership:      "DeleteBucketOwnershipControls",
	OpGetBucketACL:               "GetBucketAcl",
	OpPutBucketACL:               "PutBucketAcl",
	OpGetObjectACL:               "GetObjectAcl",
	OpPutObjectACL:               "PutObjectAcl",
	OpGetBucketEncryption:        "GetBucketEncryption",
	OpPutBucketEncryption:        "PutBucketEncryption",
	OpDeleteBucketEncryption:     "DeleteBucketEncryption",
}

func (o Operation) String() string {
	if o < 0 || int(o) >= len(opNames) {
		return "Unknown"
	}
	return opNames[o]
}

// Endpoint is a routed request: what to do, and on which container and key.
type Endpoint struct {
	Op        Operation
	Container string
	Key       string
}

// RouteInput is everything routing looks at: the method, the Host header,
// the escaped request path as sent, the raw query, whether an
// x-amz-copy-source header is present, and whether the body is a
// multipart/form-data form.
type RouteInput struct {
	Method     string
	Host       string
	Path       string // escaped, e.g. "/bucket/a%20b"
	RawQuery   string
	CopySource bool
	Form       bool
}

// unsupportedSubresources are S3 sub-resources this server does not
// implement; a request naming one is answered NotImplemented, never with a
// wrong success.
var unsupportedSubresources = []string{
	"accelerate", "analytics",
	"intelligent-tiering", "inventory", "logging",
	"metadataConfiguration", "metadataTable", "metrics", "notification",
	"replication", "requestPayment", "restore",
	"select", "session", "torrent", "website", "renameObject", "abac",
}

// Resolve maps a request to an Endpoint. domain is the virtual-hosted-style
// base domain ("" disables virtual hosting). It only parses: bucket and key
// names are validated by the handlers' caller.
func Resolve(in RouteInput, domain string) (Endpoint, error) {
	q, err := url.ParseQuery(in.RawQuery)
	if err != nil {
		return Endpoint{}, errInvalidURI
	}
	// The AWS SDKs add x-id=<Operation> to some requests; it selects
	// nothing.
	q.Del("x-id")
	if !strings.HasPrefix(in.Path, "/") {
		return Endpoint{}, errInvalidURI
	}
	container, rawKey, vhost := "", "", false
	if domain != "" {
		if b, ok := vhostContainer(in.Host, domain); ok {
			container, rawKey, vhost = b, in.Path[1:], true
		}
	}
	if !vhost {
		rest := in.Path[1:]
		c, k, _ := strings.Cut(rest, "/")
		dc, err := url.PathUnescape(c)
		if err != nil {
			return Endpoint{}, errInvalidURI
		}
		container, rawKey = dc, k
	}
	key, err := url.PathUnescape(rawKey)
	if err != nil {
		return Endpoint{}, errInvalidURI
	}
	for _, sub := range unsupportedSubresources {
		if q.Has(sub) {
			return Endpoint{}, errNotImplemented
		}
	}
	ep := Endpoint{Container: container, Key: key}
	switch {
	case container == "":
		if in.Method == "GET" {
			ep.Op = OpListBuckets
			return ep, nil
		}
		return Endpoint{}, errMethodNotAllowed
	case key == "":
		ep.Op, err = bucketOp(in.Method, q, in.Form)
	default:
		ep.Op, err = objectOp(in.Method, q, in.CopySource)
	}
	if err != nil {
		return Endpoint{}, err
	}
	return ep, nil
}

// vhostContainer extracts the container of a virtual-hosted-style Host.
func vhostContainer(host, domain string) (string, bool) {
	host = strings.ToLower(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	b, ok := strings.CutSuffix(host, "."+domain)
	if !ok || b == "" {
		return "", false
	}
	return b, true
}

// hasSubresource reports whether q names a bucket subresource (?acl,
// ?policy, ?cors, ...): anything but presigned-URL authentication
// (X-Amz-*) and the SDKs' x-id operation hint, which every presigned
// CreateBucket or DeleteBucket carries.
func hasSubresource(q url.Values) bool {
	for k := range q {
		if len(k) >= 6 && strings.EqualFold(k[:6], "x-amz-") || strings.EqualFold(k, "x-id") {
			continue
		}
		return true
	}
	return false
}

// bucketSubresources maps the bucket sub-resources served here to their
// operation by method.
var bucketSubresources = map[string]map[string]Operation{
	"versioning":  {"GET": OpGetBucketVersioning, "PUT": OpPutBucketVersioning},
	"versions":    {"GET": OpListObjectVersions},
	"object-lock": {"GET": OpGetObjectLockConfiguration, "PUT": OpPutObjectLockConfiguration},
	"tagging":     {"GET": OpGetBucketTagging, "PUT": OpPutBucketTagging, "DELETE": OpDeleteBucketTagging},
	"cors":        {"GET": OpGetBucketCors, "PUT": OpPutBucketCors, "DELETE": OpDeleteBucketCors},
	"lifecycle":   {"GET": OpGetBucketLifecycle, "PUT": OpPutBucketLifecycle, "DELETE": OpDeleteBucketLifecycle},
	// Access control.
	"policy":            {"GET": OpGetBucketPolicy, "PUT": OpPutBucketPolicy, "DELETE": OpDeleteBucketPolicy},
	"policyStatus":      {"GET": OpGetBucketPolicyStatus},
	"publicAccessBlock": {"GET": OpGetPublicAccessBlock, "PUT": OpPutPublicAccessBlock, "DELETE": OpDeletePublicAccessBlock},
	"ownershipControls": {"GET": OpGetBucketOwnership, "PUT": OpPutBucketOwnership, "DELETE": OpDeleteBucketOwnership},
	"acl":               {"GET": OpGetBucketACL, "PUT": OpPutBucketACL},
	"encryption":        {"GET": OpGetBucketEncryption, "PUT": OpPutBucketEncryption, "DELETE": OpDeleteBucketEncryption},
}

// objectSubresources is bucketSubresources for objects.
var objectSubresources = map[string]map[string]Operation{
	"tagging":    {"GET": OpGetObjectTagging, "PUT": OpPutObjectTagging, "DELETE": OpDeleteObjectTagging},
	"retention":  {"GET": OpGetObjectRetention, "PUT": OpPutObjectRetention},
	"legal-hold": {"GET": OpGetObjectLegalHold, "PUT": OpPutObjectLegalHold},
	"attributes": {"GET": OpGetObjectAttributes},
	"acl":        {"GET": OpGetObjectACL, "PUT": OpPutObjectACL},
}

// subresourceOp routes a request naming one of subs; ok is false when it
// names none.
func subresourceOp(method string, q url.Values, subs map[string]map[string]Operation) (Operation, bool, error) {
	for name, byMethod := range subs {
		if !q.Has(name) {
			continue
		}
		if op, ok := byMethod[method]; ok {
			return op, true, nil
		}
		return 0, true, errMethodNotAllowed
	}
	return 0, false, nil
}

func bucketOp(method string, q url.Values, form bool) (Operation, error) {
	if op, ok, err := subresourceOp(method, q, bucketSubresources); ok {
		return op, err
	}
	for name := range objectSubresources {
		if name != "tagging" && name != "acl" && q.Has(name) {
			return 0, errNotImplemented // an object's sub-resource on a bucket
		}
	}
	switch method {
	case "GET":
		switch {
		case q.Has("location"):
			return OpGetBucketLocation, nil
		case q.Has("uploads"):
			return OpListMultipartUploads, nil
		case q.Has("uploadId"), q.Has("partNumber"):
			return 0, errInvalidRequest
		case q.Get("list-type") == "2":
			return OpListObjectsV2, nil
		case q.Has("list-type"):
			return 0, errInvalidListType
		}
		return OpListObjectsV1, nil
	case "HEAD":
		return OpHeadBucket, nil
	case "PUT":
		if hasSubresource(q) {
			return 0, errNotImplemented
		}
		return OpCreateBucket, nil
	case "DELETE":
		if hasSubresource(q) {
			return 0, errNotImplemented
		}
		return OpDeleteBucket, nil
	case "POST":
		switch {
		case q.Has("delete"):
			return OpDeleteObjects, nil
		case hasSubresource(q):
			return 0, errNotImplemented
		case form:
			return OpPostObject, nil
		}
		return 0, errPostNotForm
	}
	return 0, errMethodNotAllowed
}

func objectOp(method string, q url.Values, copySource bool) (Operation, error) {
	if op, ok, err := subresourceOp(method, q, objectSubresources); ok {
		return op, err
	}
	for name := range bucketSubresources {
		if name != "tagging" && name != "acl" && q.Has(name) {
			return 0, errNotImplemented // a bucket's sub-resource on an object
		}
	}
	upload := q.Has("uploadId")
	switch method {
	case "GET":
		if upload {
			return OpListParts, nil
		}
		if q.Has("uploads") {
			return 0, errInvalidRequest
		}
		return OpGetObject, nil
	case "HEAD":
		return OpHeadObject, nil
	case "PUT":
		switch {
		case upload && copySource:
			return OpUploadPartCopy, nil
		case upload:
			return OpUploadPart, nil
		case q.Has("partNumber"):
			return 0, errInvalidRequest
		case copySource:
			return OpCopyObject, nil
		}
		return OpPutObject, nil
	case "DELETE":
		if upload {
			return OpAbortMultipartUpload, nil
		}
		return OpDeleteObject, nil
	case "POST":
		switch {
		case q.Has("uploads"):
			return OpCreateMultipartUpload, nil
		case upload:
			return OpCompleteMultipartUpload, nil
		}
		return 0, errMethodNotAllowed
	}
	return 0, errMethodNotAllowed
}
