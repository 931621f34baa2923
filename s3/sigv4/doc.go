// Package sigv4 verifies AWS Signature Version 4 requests as Amazon S3 does:
// the Authorization header form, presigned URLs (query parameters), and the
// aws-chunked streaming payloads (signed chunks, unsigned chunks with
// trailers, signed chunks with signed trailers). It verifies the legacy
// Signature Version 2 too (header and presigned forms), so that one
// Verifier decides which mechanism a request uses, and both share the
// sentinel errors, the Result and the secret lookup.
//
// The package knows nothing of tenants or storage. The s3 package asks it to
// verify a request, giving a function that returns the secret of an access
// key, and maps the sentinel errors below to S3 error codes in its one error
// table.
//
// # Header form
//
//	Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260102/us-east-1/s3/aws4_request,
//	    SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=<64 hex>
//	X-Amz-Date: 20260102T030405Z
//	X-Amz-Content-Sha256: <hex sha256> | UNSIGNED-PAYLOAD | STREAMING-...
//
// The signature is HMAC-SHA256(signing key, string to sign) where
//
//	string to sign  = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex(sha256(canonical request))
//	canonical request = method \n canonical URI \n canonical query \n canonical headers \n
//	                    signed headers \n payload hash
//	signing key     = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), "s3"), "aws4_request")
//
// The canonical URI is the request path as sent, with every byte that is not
// unreserved (A-Z a-z 0-9 - _ . ~) or '/' percent-encoded once (S3 does not
// double-encode and does not normalise "." or "//" segments).
//
// # Unsigned x-amz-* headers
//
// Every x-amz-* header of a request must be listed in SignedHeaders (or
// X-Amz-SignedHeaders); a request with one that is not gets
// ErrHeadersNotSigned (S3: 403 AccessDenied, <HeadersNotSigned>), whatever
// its signature. Otherwise a header added in transit would be honoured:
// x-amz-copy-source turns a PUT into a copy. The exemption is
// x-amz-content-sha256, which is the payload line of the canonical request
// whether listed or not (a presigned request that adds it gets
// SignatureDoesNotMatch, as from S3).
//
// # Presigned form
//
// X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires (1..604800
// seconds), X-Amz-SignedHeaders and X-Amz-Signature in the query; the
// canonical query omits X-Amz-Signature and the payload hash is
// UNSIGNED-PAYLOAD unless an x-amz-content-sha256 header says otherwise.
//
// # Signature Version 2
//
//	Authorization: AWS AccessKeyId:base64(HMAC-SHA1(secret, string to sign))
//	?AWSAccessKeyId=AK&Expires=<unix seconds>&Signature=<base64>   (presigned)
//
//	string to sign = method \n Content-MD5 \n Content-Type \n date \n
//	                 canonical x-amz headers  canonical resource
//
// date is the Date header, "" when x-amz-date is sent (which then signs as
// an x-amz header), or Expires when presigned. The canonical x-amz headers
// are every x-amz-* header, lower case, sorted, "name:v1,v2\n". The
// canonical resource is "/bucket" for a virtual-hosted request, then the
// path as sent, then the sub-resources in V2Subresources that the query
// carries, sorted, with decoded values ("?partNumber=1&uploadId=x"). A
// presigned URL may carry Content-MD5, Content-Type and x-amz-* as query
// parameters (botocore moves them there). The signature is compared in
// constant time; a path that the client signed re-encoded the SDK way is
// tried second. V2 has no payload hash: bodies are unsigned unless an
// x-amz-content-sha256 hex digest (which is signed) says otherwise.
//
// # aws-chunked bodies
//
// Signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]):
//
//	hex(size) ";chunk-signature=" sig CRLF data CRLF ... "0;chunk-signature=" sig CRLF
//	[trailer lines "name:value" CRLF ... "x-amz-trailer-signature:" sig CRLF] CRLF
//
// The trailer section is read to the end of the body: lines may end in LF
// alone, empty lines are skipped (minio-go writes "name:value" LF CRLF
// before the signature) and the final CRLF may be missing; it is bounded
// to 16 KiB and 16 lines.
//
// Each chunk signature signs "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" +
// scope + "\n" + previous signature + "\n" + hex(sha256("")) + "\n" +
// hex(sha256(data)), chained from the seed signature of the Authorization
// header. The trailer signature signs "AWS4-HMAC-SHA256-TRAILER\n" + amzDate +
// "\n" + scope + "\n" + last chunk signature + "\n" + hex(sha256(trailers))
// where trailers are the trailer lines each ended by "\n".
//
// Unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER):
//
//	hex(size) CRLF data CRLF ... "0" CRLF "name:value" CRLF ... CRLF
//
// Decoded bytes are handed to the reader's caller as they arrive; a chunk's
// signature is checked when the chunk ends, and a bad signature, a malformed
// or truncated body, or a decoded length different from
// x-amz-decoded-content-length is reported as a read error instead of io.EOF,
// so a consumer that commits only on io.EOF never commits unverified bytes.
package sigv4
