// Package sigv4 verifies AWS Signature Version 4 requests as Amazon S3 does:
// the Authorization header form, presigned URLs (query parameters), and the
// aws-chunked streaming payloads (signed chunks, unsigned chunks with
// trailers, signed chunks with signed trailers).
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
// # Presigned form
//
// X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires (1..604800
// seconds), X-Amz-SignedHeaders and X-Amz-Signature in the query; the
// canonical query omits X-Amz-Signature and the payload hash is
// UNSIGNED-PAYLOAD unless an x-amz-content-sha256 header says otherwise.
//
// # aws-chunked bodies
//
// Signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]):
//
//	hex(size) ";chunk-signature=" sig CRLF data CRLF ... "0;chunk-signature=" sig CRLF
//	[trailer lines "name:value" CRLF ... "x-amz-trailer-signature:" sig CRLF] CRLF
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
