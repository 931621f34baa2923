// Package audit records one structured event per operation (docs/architecture.md
// invariant 7) and hands it to sinks that never block the request that
// emitted it.
//
// It owns the event schema, the Logger that fans events out, and two sinks:
// a rotating JSON-lines file and a batching webhook. It imports nothing of
// Vaultaire's; cmd/vaultaire builds the sinks from configuration and calls
// Logger.Emit from the s3 request hook and admin handlers.
//
// # Event schema
//
// An Event encodes as one JSON object with these fields, always present
// (empty string, 0 or false when unknown), in this order:
//
//	schema_version    int     SchemaVersion (1); bumped on any incompatible change
//	time              string  RFC 3339 with nanoseconds, UTC ("2026-11-22T04:31:00.123456789Z")
//	request_id        string
//	node              string  node that served the request
//	tenant            string  the tenant acted in (a bucket's owner); empty when authentication failed
//	user              string
//	access_key_id     string
//	operation         string  e.g. "PutObject", or an admin operation name
//	container         string  bucket
//	key               string
//	version_id        string
//	status            int     HTTP status sent
//	error_code        string  S3 error code; empty on success
//	bytes_in          int     request body bytes read
//	bytes_out         int     response body bytes written
//	duration_seconds  float   wall time of the operation, in seconds
//	remote_addr       string
//	user_agent        string
//	admin             bool    an admin (non-S3) operation
//	requester         string  the signer's tenant when not tenant (a bucket shared by a policy)
//	lifecycle         bool    an action of the lifecycle engine (present only then;
//	                          operation "Lifecycle:<action>", request_id "lifecycle:<rule id>")
//
// Readers should ignore fields they do not know, so fields can be added
// without a version bump.
//
// # Sinks
//
// FileSink appends one event per line ("\n"-terminated JSON) to
// FileConfig.Path. Before a line would take the file past MaxBytes it is
// fsynced and rotated: Path.N-1 → Path.N … Path → Path.1, and the oldest
// beyond Keep is deleted, so at most Keep+1 files exist. A line is never
// split across files; a line longer than MaxBytes gets a file to itself.
// Each batch the writer takes from the queue (up to 1024 events) is flushed
// to the OS when written; the file is fsynced on rotation and on Close, so
// a machine crash can lose the events since the last rotation or Close
// that the OS had not yet written back, but a process crash loses only
// what was still queued.
//
// WebhookSink POSTs batches as a JSON array of events (Content-Type
// application/json; an array keeps one HTTP body one valid JSON document),
// with "Authorization: Bearer <Token>" when a token is set. A batch is sent
// when it holds BatchSize events or FlushInterval after its first event,
// whichever is first. Each POST has its own Timeout. Network errors, 408,
// 429 and 5xx are retried with exponential backoff (BackoffBase doubling up
// to BackoffMax, ±25% jitter) up to MaxRetries times; then, or at once on
// any other non-2xx, the batch is counted as Failed and logged. A retried
// batch may reach the receiver twice if an earlier attempt was processed
// but its answer lost: receivers should de-duplicate on request_id.
//
// # Guarantees
//
//   - Emit and Sink.Write never block on I/O and never return an error or
//     panic to the caller. Each sink has a bounded queue drained by one
//     goroutine; when the queue is full the event is dropped for that sink
//     (at-most-once delivery on overflow), Dropped() counts it, OnDrop is
//     called, and a warning is logged at most once a second. The only
//     wait is a read lock held across a non-blocking channel send; Close
//     takes the write lock just to mark the queue closed. OnDrop runs on
//     the emitting goroutine, so it must be fast (a counter increment).
//   - Order is preserved per sink: events reach a sink's file or receiver
//     in the order that sink accepted them. There is no order across sinks,
//     and concurrent Emits are ordered by whoever enqueues first.
//   - Counting is exact. Once Close has returned, for each sink
//     Stats().Accepted + Dropped + AfterClose equals the calls to Write, and
//     Delivered + Failed + Discarded equals Accepted.
//   - Close delivers everything queued, bounded by its context; when the
//     context ends first, the write or request in progress is abandoned and
//     the rest is counted as Discarded. Emit after Close is a no-op. Close
//     is idempotent and leaves no goroutine behind.
//
// Log output of the sinks' own problems goes to the injected *slog.Logger,
// rate-limited to one message a second per sink for drops and again for
// write or delivery errors.
package audit
