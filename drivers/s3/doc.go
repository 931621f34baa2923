// Package s3 is the drivers.Driver of a remote S3-compatible service: one
// bucket (and key prefix) of Seagate Lyve Cloud, AWS S3, Wasabi, MinIO,
// versitygw, another Vaultaire, or any endpoint that speaks S3 with SigV4.
// It is what cold tiers are built on; it knows nothing about tiers,
// artifacts or lifecycle rules. It is built on aws-sdk-go-v2
// (docs/design.md says why) with its own HTTP client, and reads no AWS_*
// environment variable or shared config file: Config is everything.
//
//	d, err := s3.New(s3.Config{
//		Endpoint: "https://s3.us-east-1.lyvecloud.seagate.com",
//		Region:   "us-east-1", Bucket: "cold", Prefix: "vaultaire",
//		AccessKey: ak, SecretKey: sk,
//	})
//	err = d.Check(ctx) // endpoint, credentials and bucket, in one request
//
// # Objects on the remote
//
// Name "ab/x" is stored under key Prefix + "/" + "ab/x" (just "ab/x" with
// no prefix), holding exactly the bytes that were Put: no header, no
// framing, Content-Type application/octet-stream. Objects uploaded in
// parts carry the user metadata x-amz-meta-vaultaire-part-size (the part
// size), which full reads need to recompute the multipart ETag. Several
// drivers (tiers, clusters) may share a bucket with different prefixes;
// List sees only its prefix and skips keys below it that are not valid
// names (a "dir/" marker). A key is at most MaxKeyLength (1024) bytes:
// longer names fail with drivers.ErrInvalidName. The bucket must exist,
// should not be versioned (a delete would only hide the bytes), and may
// well have a lifecycle rule that aborts incomplete multipart uploads.
//
// # Writes, memory and checksums
//
// Put cuts the stream into PartSize buffers; at most PartConcurrency of
// them are held at once, so the memory of one Put is bounded by
// PartSize * PartConcurrency (32 MiB with the defaults), whatever the
// object's size. A stream of at most MultipartThreshold bytes (16 MiB) is
// one PutObject; a longer one is a multipart upload whose parts are sent
// PartConcurrency at a time while the next are read. Every PutObject and
// UploadPart carries the Content-MD5 of its body, which every S3
// implementation checks (refusing a damaged body with BadDigest); the body
// itself goes as UNSIGNED-PAYLOAD, Content-MD5 being a signed header. The
// ETags the remote answers are compared with the driver's own MD5s (for a
// multipart upload, the MD5 of the parts' MD5s, "-N"), so an upload is
// acknowledged only when the remote holds what was sent. Remotes whose
// ETags are not content MD5s (AWS SSE-KMS/SSE-C) need Config.OpaqueETags,
// which turns the ETag comparisons off; Content-MD5 still protects uploads.
//
// Nothing is visible under a name until PutObject or
// CompleteMultipartUpload succeeds. A failed multipart Put aborts its
// upload, and watches 1.5 s for a part request it gave up on that the
// remote finishes late and that brings the upload back (S3 warns an abort
// may have to be repeated); an upload it cannot abort (the remote gone)
// is counted in Stats.Abandoned and logged, and AbortIncomplete removes
// such leftovers.
// The largest object is MaxParts * PartSize (78 GiB with 8 MiB parts);
// longer streams fail with ErrTooLarge.
//
// As with any remote store, a Put that fails after its last request
// reached the remote (PutObject or CompleteMultipartUpload timing out)
// may still have stored the object: callers treat such a name as possibly
// written and delete it if they do not want it (the lifecycle journal
// cleans remote garbage that way).
//
// # Reads
//
// Open streams; it buffers nothing beyond the HTTP client's buffers. A
// ranged Open sends a Range header and moves only the range. A full read,
// Open(name, 0, -1), recomputes the object's ETag from the bytes and, on a
// mismatch, returns an error wrapping drivers.ErrCorrupt from Read in
// place of io.EOF (after the bytes were delivered: a caller must not
// commit before io.EOF). Ranged reads, Open(name, off, n) with n >= 0
// included, are not verified here: an ETag covers whole objects only.
// Callers that verify with their own stored checksums (the Engine) may read
// with an explicit length and skip the driver's MD5 pass. A read whose
// connection fails mid-body resumes with a ranged GetObject If-Match the
// ETag it started with, so it never mixes two versions of an object.
//
// The remote must serve a GET atomically (the ETag of the bytes it sends).
// versitygw's posix backend does not when a GET races an overwrite of the
// same key: its full reads may then fail with drivers.ErrCorrupt. Tiers
// store each version under its own name and never overwrite a key that
// may be read.
//
// # Retries and timeouts
//
// Each request is tried at most MaxAttempts times (default 5), waiting
// between d/2 and d before retry n, d = min(RetryMaxDelay,
// RetryBaseDelay * 2^(n-1)). Retried: HTTP 500, 502, 503, 504; throttling
// codes (SlowDown, Throttling...); RequestTimeout; BadDigest and
// XAmzContentSHA256Mismatch (the body was damaged on the way); refused,
// reset or timed-out connections. Never retried: the caller's stream. A
// request body is always a buffer (a part, or the whole object below the
// threshold) that is rewound for each attempt; a Put never re-reads its
// reader. A read that loses its connection resumes at most MaxAttempts-1
// times. Errors left after the retries wrap drivers.ErrUnavailable.
//
// Every call honours its context, and the reader Open returns is tied to
// Open's context. Beyond that, DialTimeout bounds connecting and the TLS
// handshake, and IdleTimeout fails any request whose connection moves no
// byte, in either direction, for that long (a hung remote, a stalled
// body); the failure is then retried or resumed like any timeout.
//
// # Errors
//
//	remote answer                               error (errors.Is)
//	NoSuchKey, 404 on HEAD (bucket exists)      drivers.ErrNotFound
//	NoSuchBucket, 404 on HEAD of a missing one  ErrNoSuchBucket + drivers.ErrUnavailable
//	InvalidAccessKeyId, SignatureDoesNotMatch,  ErrAccessDenied + drivers.ErrUnavailable
//	AccessDenied, any 403
//	wrong region or endpoint (301, PermanentRedirect, AuthorizationHeaderMalformed)
//	                                            drivers.ErrUnavailable
//	transient errors after the retries          drivers.ErrUnavailable
//	QuotaExceeded                               drivers.ErrFull
//	KeyTooLongError, ObjectParentIsFile,        drivers.ErrInvalidName
//	ExistingObjectIsDirectory
//	full read not matching the ETag             drivers.ErrCorrupt
//	the caller's context ended                  its ctx.Err()
//
// The SDK's error stays wrapped too (errors.As reaches smithy.APIError).
//
// # Where it differs from a local drive
//
// Delete is a HeadObject then a DeleteObject, because S3 deletes missing
// keys silently and the contract wants drivers.ErrNotFound. Usage has no
// capacity figures (0) and is a health probe: Online is the result of
// Check, with the failure in Err. ModTime is the remote's Last-Modified,
// to the second. An object may exist both as "a" and "a/b" (unless the
// remote is a file-system gateway, which answers drivers.ErrInvalidName).
package s3
