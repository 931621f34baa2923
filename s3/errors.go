package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3/sigv4"
	"github.com/vaultaire/vaultaire/tenancy"
)

// Errors raised by the S3 layer itself. Each appears in errorTable.
var (
	errInvalidURI                = errors.New("s3: invalid URI")
	errNotImplemented            = errors.New("s3: not implemented")
	errMethodNotAllowed          = errors.New("s3: method not allowed")
	errInvalidRequest            = errors.New("s3: invalid request")
	errInvalidArgument           = errors.New("s3: invalid argument")
	errInvalidListType           = errors.New("s3: invalid list-type")
	errInvalidBucketName         = errors.New("s3: invalid bucket name")
	errKeyTooLong                = errors.New("s3: key too long")
	errMissingContentLength      = errors.New("s3: missing Content-Length")
	errInvalidDigest             = errors.New("s3: invalid Content-MD5")
	errChecksumMismatch          = errors.New("s3: checksum mismatch")
	errMalformedXML              = errors.New("s3: malformed XML")
	errInvalidRange              = errors.New("s3: range not satisfiable")
	errNotModified               = errors.New("s3: not modified")
	errInvalidLocationConstraint = errors.New("s3: invalid location constraint")
	errMetadataTooLarge          = errors.New("s3: metadata too large")
	errNoSuchVersion             = errors.New("s3: no such version")
	errMaxMessageLength          = errors.New("s3: request body too large")
	errAccessDenied              = errors.New("s3: access denied")
	errInvalidStorageClass       = errors.New("s3: invalid storage class")
	errIncompleteBody            = errors.New("s3: incomplete body")
	errEntityTooLarge            = errors.New("s3: entity too large")
	errSlowDown                  = errors.New("s3: tenant request rate exceeded")
	errSlowDown429               = errors.New("s3: tenant request rate exceeded (429)")
	errInvalidBucketState        = errors.New("s3: invalid bucket state")
	errIllegalLocationConstraint = errors.New("s3: illegal location constraint")
	errInvalidPartNumber         = errors.New("s3: invalid part number")
	errMalformedPOST             = errors.New("s3: malformed POST form")
	errPostPreData               = errors.New("s3: POST form fields before the file too large")
	errInvalidPolicyDocument     = errors.New("s3: invalid POST policy document")
	errPostNotForm               = errors.New("s3: bucket POST that is not a form")
)

// apiError is one row of the error table: the S3 code, HTTP status and the
// default client-facing message.
type apiError struct {
	err     error
	code    string
	status  int
	message string
}

// errorTable is THE mapping from internal errors to S3 errors: the first
// entry whose err matches (errors.Is) wins. Anything else is InternalError.
var errorTable = []apiError{
	// Engine errors.
	{node.ErrContainerNotFound, "NoSuchBucket", 404, "The specified bucket does not exist"},
	{node.ErrContainerExists, "BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it."},
	{node.ErrContainerNotEmpty, "BucketNotEmpty", 409, "The bucket you tried to delete is not empty"},
	{node.ErrArtifactNotFound, "NoSuchKey", 404, "The specified key does not exist."},
	{node.ErrUploadNotFound, "NoSuchUpload", 404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."},
	{node.ErrPreconditionFailed, "PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"},
	{node.ErrBadDigest, "BadDigest", 400, "The Content-MD5 you specified did not match what we received."},
	{node.ErrIncompleteBody, "IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	{node.ErrEntityTooLarge, "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."},
	{node.ErrEntityTooSmall, "EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size."},
	{node.ErrInvalidPart, "InvalidPart", 400, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."},
	{node.ErrInvalidPartOrder, "InvalidPartOrder", 400, "The list of parts was not in ascending order. The parts list must be specified in order by part number."},
	{node.ErrAccessKeyUnknown, "InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."},
	{node.ErrRestoreInProgress, "RestoreAlreadyInProgress", 409, "Object restore is already in progress."},
	{node.ErrTierUnavailable, "ServiceUnavailable", 503, "The cold storage tier holding this object is unavailable. Please retry later."},
	{node.ErrInvalidObjectState, "InvalidObjectState", 403, "The operation is not valid for the object's storage class: restore the object first."},
	{node.ErrUnavailable, "ServiceUnavailable", 503, "The service is temporarily unavailable. Please retry."},
	// A bound of the server's own ran out (a frozen or cut-off node
	// waiting on its peers): the outcome may be unknown, the request is
	// worth retrying, and no bug is implied. The client's own departure is
	// context.Canceled, recorded as 499 (isCanceled).
	{context.DeadlineExceeded, "ServiceUnavailable", 503, "The service did not answer in time. Please retry."},
	{node.ErrNoSuchVersion, "NoSuchVersion", 404, "The specified version does not exist."},
	{node.ErrObjectLocked, "AccessDenied", 403, "Access Denied because object protected by object lock."},
	{node.ErrLockNotEnabled, "InvalidRequest", 400, "Bucket is missing Object Lock Configuration"},
	{node.ErrDeleteMarker, "MethodNotAllowed", 405, "The specified method is not allowed against this resource."},
	{node.ErrInvalidContainerState, "InvalidBucketState", 409, "The request is not valid with the current state of the bucket."},
	{node.ErrInvalidArgument, "InvalidArgument", 400, "Invalid Argument"},
	{node.ErrChecksumRequest, "InvalidRequest", 400, "The checksum does not fit the multipart upload."},
	{node.ErrUpgradeRequired, "NotImplemented", 501, "This feature is not available until the cluster's rolling upgrade is finalized (vaultaire cluster upgrade finalize)."},

	// Tenant limits. QuotaExceeded's message names the quota (ClientMessage).
	{node.ErrQuotaExceeded, "QuotaExceeded", 403, "The request would exceed a quota of your account."},
	{errSlowDown, "SlowDown", 503, "Please reduce your request rate."},
	{errSlowDown429, "SlowDown", 429, "Please reduce your request rate."},
	{tenancy.ErrRateLimited, "SlowDown", 503, "Please reduce your request rate."},

	// Authentication.
	{sigv4.ErrAnonymous, "AccessDenied", 403, "Access Denied"},
	{sigv4.ErrUnsupportedAuth, "InvalidRequest", 400, "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."},
	{sigv4.ErrMultipleAuth, "InvalidArgument", 400, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"},
	{sigv4.ErrMalformedHeader, "AuthorizationHeaderMalformed", 400, "The authorization header you provided is invalid."},
	{sigv4.ErrMalformedQuery, "AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter."},
	{sigv4.ErrMissingDate, "AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header"},
	{sigv4.ErrTimeSkewed, "RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."},
	{sigv4.ErrExpired, "AccessDenied", 403, "Request has expired"},
	{sigv4.ErrNotYetValid, "AccessDenied", 403, "Request is not valid yet"},
	{sigv4.ErrSignatureMismatch, "SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	{sigv4.ErrMissingContentSHA256, "InvalidRequest", 400, "Missing required header for this request: x-amz-content-sha256"},
	{sigv4.ErrInvalidContentSHA256, "InvalidArgument", 400, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."},
	{sigv4.ErrContentSHA256Mismatch, "XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	{sigv4.ErrChunkMalformed, "InvalidRequest", 400, "The aws-chunked request body is malformed."},
	{sigv4.ErrChunkTruncated, "IncompleteBody", 400, "The request body terminated unexpectedly."},
	{sigv4.ErrTrailerMalformed, "MalformedTrailerError", 400, "The request contained trailing data that was not well-formed or did not conform to our published schema."},
	{sigv4.ErrDecodedLength, "IncompleteBody", 400, "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header."},
	{sigv4.ErrHeadersNotSigned, "AccessDenied", 403, "There were headers present in the request which were not signed"},
	{sigv4.ErrV2MalformedHeader, "InvalidArgument", 400, "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"},
	{sigv4.ErrV2MissingQuery, "AccessDenied", 403, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"},
	{sigv4.ErrV2BadExpires, "AccessDenied", 403, "Invalid date (should be seconds since epoch)"},

	// The S3 layer.
	{errInvalidURI, "InvalidURI", 400, "Couldn't parse the specified URI."},
	{errNotImplemented, "NotImplemented", 501, "A header or query you provided implies functionality that is not implemented."},
	{errMethodNotAllowed, "MethodNotAllowed", 405, "The specified method is not allowed against this resource."},
	{errInvalidRequest, "InvalidRequest", 400, "Invalid Request"},
	{errInvalidArgument, "InvalidArgument", 400, "Invalid Argument"},
	{errInvalidListType, "InvalidArgument", 400, "Invalid List Type specified in Request"},
	{errInvalidBucketName, "InvalidBucketName", 400, "The specified bucket is not valid."},
	{errKeyTooLong, "KeyTooLongError", 400, "Your key is too long."},
	{errMissingContentLength, "MissingContentLength", 411, "You must provide the Content-Length HTTP header."},
	{errInvalidDigest, "InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
	{errChecksumMismatch, "BadDigest", 400, "The checksum you specified did not match the calculated checksum."},
	{errMalformedXML, "MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema."},
	{errInvalidRange, "InvalidRange", 416, "The requested range is not satisfiable"},
	{errNotModified, "NotModified", 304, "Not Modified"},
	{errInvalidLocationConstraint, "InvalidLocationConstraint", 400, "The specified location-constraint is not valid"},
	{errMetadataTooLarge, "MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size."},
	{errNoSuchVersion, "NoSuchVersion", 404, "The specified version does not exist."},
	{errMaxMessageLength, "MaxMessageLengthExceeded", 400, "Your request was too big."},
	{errAccessDenied, "AccessDenied", 403, "Access Denied"},
	{errInvalidStorageClass, "InvalidStorageClass", 400, "The storage class you specified is not valid"},
	{errIncompleteBody, "IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	{errEntityTooLarge, "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."},
	{errInvalidPartNumber, "InvalidPartNumber", 416, "The requested partnumber is not satisfiable"},
	{errIllegalLocationConstraint, "IllegalLocationConstraintException", 400, "The location constraint is incompatible for the region specific endpoint this request was sent to."},
	{errInvalidBucketState, "InvalidBucketState", 409, "The request is not valid with the current state of the bucket."},
	{errNoSuchTagSet, "NoSuchTagSet", 404, "The TagSet does not exist"},
	{errInvalidTag, "InvalidTag", 400, "The tag provided was not a valid tag."},
	{errLockConfigNotFound, "ObjectLockConfigurationNotFoundError", 404, "Object Lock configuration does not exist for this bucket"},
	{errNoSuchObjectLockConfig, "NoSuchObjectLockConfiguration", 404, "The specified object does not have a ObjectLock configuration"},
	{errInvalidVersionID, "InvalidArgument", 400, "Invalid version id specified"},
	{errNoSuchLifecycle, "NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist"},
	{errObjectLockInvalidHeaders, "InvalidArgument", 400, "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"},
	// Encryption (crypt, issue 16).
	{errInvalidEncryptionAlgorithm, "InvalidEncryptionAlgorithmError", 400, "The encryption request you specified is not valid. The valid value is AES256."},
	{errNoEncryptionConfig, "ServerSideEncryptionConfigurationNotFoundError", 404, "The server side encryption configuration was not found"},
	{node.ErrSSECustomerKeyMismatch, "AccessDenied", 403, "Access Denied"},
	{node.ErrSSECustomerKeyMissing, "InvalidRequest", 400, "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."},
	{node.ErrSSENotApplicable, "InvalidRequest", 400, "The encryption parameters are not applicable to this object."},
	{node.ErrSSEUnavailable, "NotImplemented", 501, "Server-side encryption is not configured on this server."},

	// CORS (cors.go).
	{errNoSuchCORSConfiguration, "NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"},
	{errCORSForbidden, "AccessForbidden", 403, corsMsgNotAllowed},
	{errCORSBadRequest, "BadRequest", 400, "Insufficient information. Origin request header needed."},
	// Access control (access.go, accessapi.go).
	{errMalformedPolicy, "MalformedPolicy", 400, "Policies must be valid JSON and the first byte must be '{'"},
	{errNoSuchBucketPolicy, "NoSuchBucketPolicy", 404, "The bucket policy does not exist"},
	{errNoSuchPublicAccessBlock, "NoSuchPublicAccessBlockConfiguration", 404, "The public access block configuration was not found"},
	{errACLNotSupported, "AccessControlListNotSupported", 400, "The bucket does not allow ACLs"},
	{errMalformedACL, "MalformedACLError", 400, "The XML you provided was not well-formed or did not validate against our published schema"},
	{errUnresolvableGrant, "UnresolvableGrantByEmailAddress", 400, "The email address you provided does not match any account on record."},
	{errInvalidACLOwnership, "InvalidBucketAclWithObjectOwnership", 400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"},

	// Browser-form POST uploads.
	{errMalformedPOST, "MalformedPOSTRequest", 400, "The body of your POST request is not well-formed multipart/form-data."},
	{errPostPreData, "MaxPostPreDataLengthExceeded", 400, "Your POST request fields preceding the upload file were too large."},
	{errInvalidPolicyDocument, "InvalidPolicyDocument", 400, "The content of the form does not meet the conditions specified in the policy document."},
	{errPostNotForm, "PreconditionFailed", 412, "Bucket POST must be of the enclosure-type multipart/form-data"},
	{sigv4.ErrMalformedPost, "InvalidArgument", 400, "The POST form's authentication fields are malformed."},

	// The transport: a body cut short by the client.
	{io.ErrUnexpectedEOF, "IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
}

var internalError = apiError{code: "InternalError", status: 500, message: "We encountered an internal error. Please try again."}

// detailError gives an error a client-safe message that replaces the
// table's default message.
type detailError struct {
	err error
	msg string
}

func (e *detailError) Error() string { return e.err.Error() + ": " + e.msg }
func (e *detailError) Unwrap() error { return e.err }

// withMessage wraps a sentinel with a message safe to show to the client.
func withMessage(err error, format string, args ...any) error {
	return &detailError{err: err, msg: fmt.Sprintf(format, args...)}
}

// clientMessager is an error of a lower layer that carries a message safe
// to show to the client (node.QuotaError).
type clientMessager interface {
	error
	ClientMessage() string
}

// lookupError finds the table row of err and the message to send.
func lookupError(err error) (apiError, bool) {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			row := e
			var d *detailError
			var s *sigv4.Error
			var c clientMessager
			switch {
			case errors.As(err, &d) && errors.Is(d.err, e.err):
				row.message = d.msg
			case errors.As(err, &s) && errors.Is(s.Kind, e.err):
				row.message = s.Msg
			case errors.As(err, &c):
				row.message = c.ClientMessage()
			}
			return row, true
		}
	}
	return internalError, false
}

// errorBody is the XML body of an error response. S3 error bodies carry no
// namespace.
type errorBody struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
	// Method, ResourceType and BucketName: CORS errors (corsErrorFields).
	Method       string `xml:"Method,omitempty"`
	ResourceType string `xml:"ResourceType,omitempty"`
	BucketName   string `xml:"BucketName,omitempty"`
	// Extra elements some errors carry: <Region> of a request signed for
	// another region, <HeadersNotSigned>.
	Region           string `xml:"Region,omitempty"`
	HeadersNotSigned string `xml:"HeadersNotSigned,omitempty"`
	Resource         string `xml:"Resource,omitempty"`
	RequestID        string `xml:"RequestId"`
	HostID           string `xml:"HostId,omitempty"`
}

// isCanceled reports a request whose client went away.
func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled)
}

// writeError sends err as an S3 error. HEAD responses and 304 carry no body.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, rc *reqCtx, err error) {
	row, known := lookupError(err)
	if !known && !isCanceled(err) {
		s.log.Error("s3: internal error", "request_id", rc.id, "op", rc.ep.Op.String(),
			"container", rc.ep.Container, "key", rc.ep.Key, "err", err)
	}
	rc.status = row.status
	rc.errCode = row.code
	h := w.Header()
	if (row.status == http.StatusServiceUnavailable || row.status == http.StatusTooManyRequests) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1")
	}
	if row.status == http.StatusNotModified || r.Method == http.MethodHead {
		w.WriteHeader(row.status)
		return
	}
	eb := errorBody{
		Code:      row.code,
		Message:   row.message,
		Resource:  r.URL.EscapedPath(),
		RequestID: rc.id,
		HostID:    rc.hostID,
	}
	corsErrorFields(&eb, err, rc)
	var se *sigv4.Error
	if errors.As(err, &se) {
		eb.Region, eb.HeadersNotSigned = se.Region, se.HeadersNotSigned
		if se.Region != "" {
			// S3 names the bucket's region in a header as well; SDKs
			// redirect on either.
			h.Set("X-Amz-Bucket-Region", se.Region)
		}
	}
	body, _ := xml.Marshal(eb)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", fmt.Sprint(len(xml.Header)+len(body)))
	w.WriteHeader(row.status)
	io.WriteString(w, xml.Header)
	w.Write(body)
}
