// Package s3 speaks the Amazon S3 REST API on the wire and translates it to
// the Vaultaire vocabulary at its boundary: buckets are Containers, objects
// are Artifacts, and every call goes to the Engine interface declared in
// engine.go (implemented by *node.Engine).
//
// # Request pipeline
//
//	http.Server -> Server.ServeHTTP (httprouter, one catch-all route per method)
//	  -> per-address limits of unauthenticated traffic (addrlimit.go):
//	     an unsigned request spends a token of its client address, a
//	     signed one is refused while its address has spent its failed
//	     authentications (SlowDown), before anything is read
//	  -> Resolve: method + Host + escaped path + query (+ x-amz-copy-source)
//	     -> Endpoint{Op, Container, Key}        (endpoint.go, a pure function)
//	  -> sigv4.Verifier.Verify: Signature Version 4 (Authorization header
//	     or presigned query) or Version 2 ("AWS AK:sig" header or the
//	     AWSAccessKeyId/Expires/Signature query), clock skew or expiry,
//	     secret from Engine.Credential, constant-time compare; every
//	     x-amz-* header must be signed (403 AccessDenied with
//	     <HeadersNotSigned> otherwise; x-amz-content-sha256 is bound as
//	     the payload line); a wrong region answers
//	     AuthorizationHeaderMalformed with <Region>. The tenant of the
//	     request is the tenant of its access key. A browser-form POST
//	     (OpPostObject) skips this step: postobject.go reads the fields
//	     before the file, verifies the policy's V4 or V2 signature with
//	     the same secret lookup (Verifier.VerifyPost), then the policy,
//	     then streams the file part to the Engine
//	  -> tenant rate limit (Config.Limiter.Allow: X-RateLimit-* headers,
//	     SlowDown when refused)
//	  -> bucket resolution (access.go, ResolveBucket): a plain name is
//	     the requester's; "tenant:bucket" (or virtual-hosted
//	     "bucket.tenant.<Domain>") another tenant's, the only names an
//	     unsigned request may use. From here rc.tenant is the bucket's
//	     owner and rc.principal the requester.
//	  -> bucket-name and key validation
//	  -> authorization (access.go, authorize): the operation's IAM
//	     action and resource against the bucket policy and the
//	     requester's identity policy (explicit deny, then allow, else
//	     deny; users without an identity policy may do everything in
//	     their tenant, the tenant's root user everything not denied),
//	     PublicAccessBlock for public grants, x-amz-expected-bucket-owner
//	     (the owner id is the tenant id)
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
//	     signatures, trailers in every client's framing, trailer
//	     signatures, x-amz-decoded-content-length),
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
// # Access control
//
// accessapi.go serves ?policy (Put/Get/DeleteBucketPolicy, MalformedPolicy
// with what is wrong, 20 KiB at most), ?policyStatus, ?publicAccessBlock,
// ?ownershipControls and ?acl of buckets and objects. Under
// BucketOwnerEnforced (the default) ACLs are the owner's FULL_CONTROL;
// under ObjectWriter and BucketOwnerPreferred bucket ACLs (acl.go) and
// per-version object ACLs and owners (objacl.go) are stored and
// evaluated. The policy language is package policy's; docs/design.md,
// "Access control" and "ACLs", has the rules.
//
// # Addressing
//
// Path style ("/bucket/key") always works; "/tenant:bucket/key" names
// another tenant's bucket (access.go). With Config.Domain set,
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
//
// Multipart uploads (package checksum has the arithmetic): CreateMultipart
// Upload's x-amz-checksum-algorithm and x-amz-checksum-type (COMPOSITE for
// every algorithm, FULL_OBJECT for the CRCs; CRC64NVME defaults to
// FULL_OBJECT, the others to COMPOSITE) go to UploadInput. UploadPart
// passes the verified values in PartInput.Checksums (and a trailer's
// algorithm in PartInput.TrailerChecksum, so it is hashed once); the Engine computes
// the upload's algorithm for a part that did not send it and refuses a
// part of another algorithm. At CompleteMultipartUpload the part checksums
// in the XML must equal the stored ones, and x-amz-checksum-* headers are
// the whole object's value (taken out before the XML body is opened and
// handed over in Conditions.Checksums; a COMPOSITE value may omit "-N"):
// the Engine computes the whole-object value from the stored part
// checksums (FULL_OBJECT by CRC combination, never re-reading the bytes)
// and answers BadDigest when they differ; an x-amz-checksum-type on the
// completion must be the upload's. The value is returned by
// Complete, HEAD and GET with x-amz-checksum-mode: ENABLED (with
// x-amz-checksum-type), GetObjectAttributes (Checksum and the parts'
// checksums) and ListParts. An upload created without an algorithm gets
// S3's default, a FULL_OBJECT CRC64NVME combined from its parts (which the
// Engine hashes with CRC64NVME unless they sent it). GET and HEAD of one part (?partNumber=N) with
// x-amz-checksum-mode: ENABLED return that part's own checksum of a
// COMPOSITE object (type COMPOSITE), and of a FULL_OBJECT one only when it
// has that single part (its checksum is the object's), as S3 does.
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
// # Server-side encryption
//
// x-amz-server-side-encryption: AES256 (SSE-S3) on PUT, copy and
// CreateMultipartUpload; SSE-C with x-amz-server-side-encryption-customer-
// algorithm/key/key-MD5 on those, on UploadPart, and on GET and HEAD (an
// SSE-C object answers only with its key: 403 AccessDenied for a wrong
// one, 400 InvalidRequest without); x-amz-copy-source-server-side-
// encryption-customer-* opens an SSE-C copy source. Copies may change the
// mode. SSE-C needs HTTPS (Config.SSECInsecure lifts that for tests).
// Responses report the mode (x-amz-server-side-encryption, or the
// customer algorithm and key MD5). An SSE-C object's ETag is not the MD5
// of its bytes but a keyed hash of it (sse.CustomerETag), as S3 does not
// expose that MD5 either. Put/Get/DeleteBucketEncryption
// (?encryption) set the default (AES256) new objects get;
// ServerSideEncryptionConfigurationNotFoundError when none. The engine
// encrypts (node/encrypt.go, package sse).
//
// # Lifecycle
//
// ?lifecycle serves Put/Get/DeleteBucketLifecycleConfiguration
// (lifecycle.go): rules with ID, Status, a Filter (Prefix, Tag, And,
// ObjectSizeGreaterThan/LessThan) or the legacy top-level Prefix,
// Expiration (Days, Date or ExpiredObjectDeleteMarker), Transition,
// NoncurrentVersionExpiration, NoncurrentVersionTransition and
// AbortIncompleteMultipartUpload, validated as S3 does (MalformedXML for
// the schema, Days with Date, or no Filter; InvalidArgument for a Date not
// at midnight UTC, non-positive days, duplicate IDs, more than 1000 rules;
// InvalidRequest for a rule without action). A Transition or
// NoncurrentVersionTransition is accepted only when a tier serves its
// StorageClass (InvalidArgument "no tier is configured for storage class
// X" otherwise). GET and HEAD of a latest version a rule will expire
// carry x-amz-expiration: expiry-date="...", rule-id="...". The rules
// are carried out by node's lifecycle engine.
//
// # Not implemented
//
// Answered NotImplemented (501): SSE-KMS (aws:kms, as a header
// or a bucket default), website, logging, notifications, replication,
// website redirects, select, torrent, directory buckets, MFA delete. Every
// storage class S3 has for general purpose
// buckets is stored and reported as requested (docs/design.md, "Storage
// classes"); others are InvalidStorageClass. Under BucketOwnerEnforced
// every ACL write other than private and bucket-owner-full-control
// answers AccessControlListNotSupported, as S3 does; the LogDelivery
// group is InvalidArgument. A Range header naming several ranges is served as the
// whole artifact, as S3 does. STS session tokens are not supported. In POST
// Object forms, the fields tagging, object lock, website redirects and
// x-amz-checksum-* are NotImplemented (the server-side encryption fields
// work as PUT's headers do, aws:kms aside).
//
// # CORS
//
// cors.go serves ?cors (Put/Get/DeleteBucketCors). PutBucketCors needs
// Content-MD5 or an x-amz-checksum-* (InvalidRequest "Missing required
// header for this request: Content-MD5" without), a body of at most 64 KiB
// (MaxMessageLengthExceeded), and a document S3's schema accepts
// (MalformedXML otherwise: an unknown or repeated element, no rule, a rule
// without AllowedOrigin or AllowedMethod); InvalidRequest, with S3's
// message, for more than 100 rules, a method other than GET, PUT, HEAD,
// POST and DELETE, more than one '*' in an AllowedOrigin or AllowedHeader,
// a '*' in an ExposeHeader, an ID over 255 characters or a negative
// MaxAgeSeconds. The rules are stored canonical (S3's element order, S3's
// namespace) in the container's configuration map under "cors", and
// GetBucketCors answers that form; without rules it is 404
// NoSuchCORSConfiguration naming the bucket.
//
// OPTIONS is a CORS preflight, answered from the rules without a
// signature: 400 BadRequest without Origin; 403 AccessForbidden
// ("CORSResponse: ...", with <Method> and <ResourceType>) when the bucket
// does not exist, has no rules, or no rule allows the origin, the
// Access-Control-Request-Method and every Access-Control-Request-Headers
// name; 400 for a missing or unknown Access-Control-Request-Method; else
// 200 with the first matching rule's Access-Control-* headers and Vary.
// A signed or presigned request with an Origin header gets the headers of
// its tenant's first rule matching its origin and method, error responses
// included; one whose signature fails or comes in its body (POST Object)
// gets those of the tenants corsTenants names. Which tenant's bucket an
// unsigned request means is decided in corsTenants alone (docs/design.md).
//
// # POST Object
//
// POST /bucket with Content-Type multipart/form-data. Fields before the
// "file" field are read (20 KiB in all, MaxPostPreDataLengthExceeded
// beyond; field names are case-insensitive); fields after it are ignored.
// Authentication: policy + x-amz-algorithm, x-amz-credential, x-amz-date,
// x-amz-signature (V4: hex HMAC-SHA256 of the base64 policy with the
// scope's signing key), or policy + AWSAccessKeyId + signature (V2: base64
// HMAC-SHA1). The policy must not be expired; each condition (exact
// {"field": "v"}, ["eq", "$f", "v"], ["starts-with", "$f", "p"],
// ["content-length-range", min, max]) must hold, "bucket" being the
// addressed bucket and "key" the key after ${filename} is replaced by the
// file's name; every field but the signature fields, policy, file and
// x-ignore-* must be named by a condition. Content-Type, Cache-Control,
// Content-Disposition, Content-Encoding, Content-Language, Expires and
// x-amz-meta-* fields are stored as for PUT. The fields
// x-amz-server-side-encryption and x-amz-server-side-encryption-customer-*
// (algorithm, key, key-MD5) replace the request's headers of those names
// before authorization, so they encrypt as PUT's headers do (SSE-C needs
// TLS) and a bucket policy's s3:x-amz-server-side-encryption sees them;
// the answer reports the encryption as PUT's does. The form is read by
// postform.go's formReader (RFC 7578/2046 framing; lines must end in
// CRLF), not mime/multipart. The file part is streamed to
// the Engine (size unknown up front); content-length-range and the PUT
// limit are enforced as it flows, so a violation commits nothing. Answer:
// 303 to success_action_redirect (with bucket, key and etag added to its
// query), else success_action_status 200, 201 (a PostResponse document) or
// 204 (the default).
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
//     lingerUnsent), so it reads the answer before the connection closes.
//     The server takes the connection over for that: it ends its side at
//     once (close_notify, FIN) and drops the bytes from the socket, below
//     TLS, so over HTTPS they are never decrypted. An accepted request
//     gets "100 Continue" on the handler's first read of the body.
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
// with. Certs.Listener serves it: each connection is a *tls.Conn over a
// tlsbatch.Conn, which the response writer holds around a
// large write so that its TLS records reach the socket in one write
// syscall rather than one per 16 KiB record.
package s3
