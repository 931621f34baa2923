// Package s3 speaks the Amazon S3 REST API on the wire and translates it to
// the Vaultaire vocabulary at its boundary: buckets are Containers, objects
// are Artifacts, and every call goes to the Engine interface declared in
// engine.go (implemented by *node.Engine).
//
// # Request pipeline
//
//	http.Server -> Server.ServeHTTP (httprouter, one catch-all route per method)
//	  -> Resolve: method + Host + escaped path + query (+ x-amz-copy-source)
//	     -> Endpoint{Op, Container, Key}        (endpoint.go, a pure function)
//	  -> sigv4.Verifier.Verify: Authorization header or presigned query,
//	     clock skew, secret from Engine.Credential, constant-time compare;
//	     the tenant of the request is the tenant of its access key
//	  -> tenant rate limit (Config.Limiter.Allow: X-RateLimit-* headers,
//	     SlowDown when refused)
//	  -> bucket-name and key validation
//	  -> tenant quotas and bandwidth (tenancy.go): for PutObject and
//	     UploadPart the Engine's QuotaChecker pre-checks the declared size
//	     (403 QuotaExceeded before any byte is read), for GetObject the
//	     month's egress; a Limiter that is also a ByteLimiter shapes the
//	     request body (ingress) or response (egress) to the tenant's
//	     bytes/s. The metastore decides stored-byte quotas again, exactly,
//	     when the write commits.
//	  -> handler (bucket.go, object.go, multipart.go, list.go)
//	     request bodies go through openBody (body.go): size limits,
//	     aws-chunked decoding (sigv4.ChunkedReader: chained chunk
//	     signatures, trailers, x-amz-decoded-content-length),
//	     x-amz-content-sha256 and x-amz-checksum-* verification. Each check
//	     runs in a reader that reports a mismatch instead of io.EOF, so the
//	     Engine, which commits only after reading io.EOF, never commits a
//	     body that did not verify.
//	  -> Engine call; result as S3 XML (xml.go) or headers
//	  -> any error through the one error table (errors.go, errorTable),
//	     which maps node.Err*, sigv4.Err* and this package's errors to an S3
//	     code, HTTP status and message; anything unknown is InternalError
//	     and its details only reach the log.
//
//	  -> Config.OnRequest(RequestEvent): time, request id, tenant, operation,
//	     container, key, status, error code, bytes in and out, duration —
//	     what the audit log and the metrics need (invariant 7); the caller
//	     (cmd) wires it to both.
//
// Every response carries x-amz-request-id and x-amz-id-2. Error bodies are
// <Error><Code/><Message/><Resource/><RequestId/><HostId/></Error>; HEAD
// errors and 304 have no body.
//
// # Addressing
//
// Path style ("/bucket/key") always works. With Config.Domain set,
// "bucket.<Domain>" in the Host header addresses the bucket and the whole
// path is the key. Keys are taken from the escaped path and unescaped once,
// so "//", "%2F", "+" and any UTF-8 reach the Engine as sent.
//
// # Checksums
//
// Content-MD5 goes to the Engine (PutInput.ContentMD5, PartInput.ContentMD5)
// which answers node.ErrBadDigest; for XML bodies it is checked here.
// x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}, sent as a header or
// as an aws-chunked trailer, is verified here and stored through
// PutInput.Checksums; a trailer value is added to that map when the body
// has been read to its end (before io.EOF), so the Engine must copy the map
// only after the body is consumed. Checksums are returned on GET and HEAD of
// a whole artifact when the request says x-amz-checksum-mode: ENABLED.
// UploadPart verifies and echoes part checksums, but the Engine has no place
// to keep them, so completed multipart artifacts carry no checksum.
//
// # Versions, object lock and tags
//
// versioning.go serves ?versioning, ?versions, ?object-lock, ?tagging,
// ?retention, ?legal-hold and ?attributes, and reads x-amz-tagging,
// x-amz-storage-class and x-amz-object-lock-* on PUT, copy and
// CreateMultipartUpload. x-amz-version-id appears only for versions of
// buckets with a versioning state ("null" for the null version), as S3
// does. A read whose latest version is a delete marker answers 404 with
// x-amz-delete-marker; a delete marker addressed by version id answers
// 405. The rules of versioning and lock are decided by the metastore's
// state machine; a retention in GOVERNANCE mode is bypassed only with
// x-amz-bypass-governance-retention from the tenant's root user
// (node.TenantRootUser). Lock settings need Content-MD5 or a checksum.
//
// # Not implemented
//
// Answered NotImplemented (501): canned ACLs other than private (and
// bucket-owner-full-control on objects), grants, server-side encryption
// (SSE-S3, SSE-KMS, SSE-C), bucket policies, lifecycle, CORS, website,
// logging, notifications, replication, encryption configuration, website
// redirects, restore, select, torrent, browser POST uploads, directory
// buckets, MFA delete. Every storage class S3 has for general purpose
// buckets is stored and reported as requested (docs/design.md, "Storage
// classes"); others are InvalidStorageClass. Signature Version 2 is
// refused (InvalidRequest), and so is anonymous access (AccessDenied). A
// Range header naming several ranges is served as the whole artifact, as
// S3 does. STS session tokens are not supported.
//
// # Early rejections and large bodies
//
// A request refused before its body is read (authentication, a missing
// bucket, EntityTooLarge from Content-Length) is answered at once; net/http
// then drains at most 256 KiB of the unread body and otherwise closes the
// connection, so a client that sends a large body without waiting for
// "100 Continue" may see a reset instead of the error, as it may with S3.
package s3
