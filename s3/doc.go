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
// # Not implemented
//
// Answered NotImplemented (501): canned ACLs other than private (and
// bucket-owner-full-control on objects), grants, server-side encryption
// (SSE-S3, SSE-KMS, SSE-C), object tags (x-amz-tagging), bucket policies,
// tagging, versioning and ListObjectVersions, lifecycle, CORS, website,
// logging, notifications, replication, encryption configuration, object
// lock, retention and legal hold, website redirects, restore, select,
// torrent, browser POST uploads, directory buckets, GetObject by part number
// of a multipart artifact, DeleteObject of a specific version, conditional
// DeleteObject. Storage classes other than STANDARD are InvalidStorageClass.
// Signature Version 2 is refused (InvalidRequest), and so is anonymous
// access (AccessDenied). A Range header naming several ranges is served as
// the whole artifact, as S3 does. STS session tokens are not supported.
//
// # Early rejections and large bodies
//
// A request refused before its body is read (authentication, rate limit,
// quota, a missing bucket, an unsupported header, EntityTooLarge from
// Content-Length) is answered at once, the same over HTTP and HTTPS:
//
//   - With "Expect: 100-continue" the answer goes out instead of
//     "100 Continue", the client never sends the body, and the connection
//     is closed after the answer (Connection: close). A client that sends
//     the body anyway (aws-sdk-go-v2 does) has it read and dropped while
//     it flows (until 500 ms pass without a byte, at most 5 s or 64 MiB:
//     lingerUnsent), so it reads the answer before the connection closes. An accepted request gets "100 Continue" on
//     the handler's first read of the body.
//   - Without it, net/http reads and discards up to 256 KiB of the unread
//     body so the connection can be reused; past that it answers with
//     Connection: close and closes the connection, so a client that sends
//     a large body without reading the answer may see a reset instead of
//     the error, as it may with S3.
//
// This works only because r.Body is never replaced: net/http recognises
// its own 100-continue body reader after the handler. Handlers read the
// body through reqCtx.body (counted, and shaped to the tenant's
// bandwidth). After a refusal without "100 Continue", handle also ends
// the drain net/http would otherwise attempt of a body the client holds
// back (lingerUnsent in server.go).
//
// # TLS
//
// Server.HTTPServer speaks HTTP/1.1 only, over TLS too (HTTP/2 is off on
// purpose; see there). Certs (tls.go) is the TLS identity of the port:
// TLS 1.2 minimum, Go's default cipher suites, an optional client CA for
// mutual TLS, and certificate files reloaded without a restart (Reload,
// Watch) while open connections finish on the certificate they began
// with.
package s3
