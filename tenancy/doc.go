// Package tenancy holds the per-tenant rules of Vaultaire: request and
// bandwidth limits, quotas, and usage metering for billing. It is pure
// logic: it keeps no durable state and does no I/O; package s3 consults it
// on every request and node persists the usage it meters through Raft.
// It imports nothing of ours (Usage has the fields of metastore.Usage, so
// callers convert with tenancy.Usage(u)).
//
// # Limits
//
// A Limit is a tenant's cluster-wide rate: RequestsPerSec sustained with
// Burst requests at once, and optional BytesInPerSec / BytesOutPerSec for
// artifact bytes (0 = unlimited; RequestsPerSec 0 = unlimited too). A
// Limiter keeps one token bucket per tenant and per kind
// (golang.org/x/time/rate): a request takes one token from the request
// bucket; a body chunk of n bytes takes n tokens from the ingress or
// egress bucket (WaitBytes), whose size is one second's worth of bytes.
// A new bucket starts full. Allow never blocks: it admits or refuses and
// returns the values of the X-RateLimit-Limit (the bucket size),
// X-RateLimit-Remaining (whole tokens left) and Retry-After (time until one
// token, rounded up to seconds by the s3 edge) headers; a refusal becomes
// 503 SlowDown. WaitBytes blocks (shaping), or fails at once with
// ErrRateLimited when the context's deadline is too near.
//
// Tenants without an override get LimiterConfig.Default (DefaultLimit:
// 100 requests/s, burst 200). SetLimit overrides one tenant at once: time
// from then on refills at the new rate, and an existing bucket keeps its
// tokens, capped at the new size. A Limit with invalid fields is refused
// by NewLimiter (Validate); SetLimit, which cannot fail, reads them as 0.
//
// Memory is bounded: at most MaxTenants buckets (default 10,000) are kept,
// in least-recently-used order; the tenant unused the longest is
// forgotten, and if it returns it starts with a full bucket again. That
// forgiveness is the price of the bound and only matters for a tenant idle
// while MaxTenants others were active. Overrides are kept separately, one
// small entry per overridden tenant (bounded by the number of tenants).
//
// # Cluster share
//
// Any node answers any request, so each node enforces only its share of a
// tenant's cluster-wide limit: on a node, the effective rate is
//
//	rate × Share()      and the bucket size   ceil(Burst × Share()), at least 1
//
// (the same for byte rates). Share is supplied by the caller; the server
// feeds it 1/live-nodes, so the node rates add up to the tenant's limit
// when its traffic is spread evenly (docs/design.md, "Cluster-wide rate
// limits"). It is clamped into [MinShare, 1]: a node that has seen
// none of a tenant's traffic must still admit some, or the traffic could
// never move to it. Share is read on every call and a change applies at
// once. Limits are therefore approximate cluster-wide: exact under steady
// traffic, generous by up to one node's burst when traffic shifts.
//
// # Quotas
//
// A Quota bounds stored bytes, stored artifacts and egress bytes per
// calendar month (UTC); 0 is unlimited. CheckWrite takes the current usage
// and the change a write makes: a new artifact (size, 1), an overwrite
// (newSize−oldSize, 0), a delete negative deltas. Per resource, a change
// <= 0 is always allowed (shrinking never fails, even over a lowered
// quota); otherwise usage+delta <= limit is allowed (== limit passes,
// limit+1 is refused). Refusals are *QuotaError values naming the
// resource and wrapping ErrQuotaExceeded. CheckEgress applies the same
// rule to the bytes a GET is about to serve. The check runs before the
// write with usage that may be a moment old, so concurrent writes can
// overshoot a quota by what is in flight; the state machine's usage is the
// truth and the next write sees it.
//
// # Metering and billing classes
//
// A Meter counts, per tenant and UTC clock hour, requests by billing class,
// artifact bytes in (ingress) and out (egress). Classes follow AWS S3:
// class A is PUT, COPY, POST and LIST requests (PutObject, CopyObject,
// CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, DeleteObjects, CreateBucket, ListBuckets,
// ListObjects(V2), ListMultipartUploads, ListParts); class B is GET, HEAD
// and everything else (GetObject, HeadObject, HeadBucket,
// GetBucketLocation, GetBucketVersioning, and — counted, though AWS does
// not charge them — DeleteObject, DeleteBucket, AbortMultipartUpload).
// See ClassOf. Flush returns the completed hours as Hour records for the
// caller to persist; each node meters its own requests and records of the
// same tenant and hour add up. Storage is sampled once per hour by one node
// only (the caller passes stored on the Raft leader and nil elsewhere), so
// it is billed once. Drain is the alternative for callers that persist
// every few seconds: it returns the counters of every hour, the current
// one included, and resets them (node.Metering uses it, and the metastore
// stamps stored figures into the hourly records itself).
//
// # GB-months
//
// Storage is billed in GB-months, GB decimal (10^9 bytes) as AWS bills:
//
//	GB-months = Σ over hourly records h of StoredBytes(h)/10^9 × 1/hoursInMonth(h.Start)
//
// where hoursInMonth is 24 × the days of h's calendar month in UTC (672,
// 696, 720 or 744). One GB kept for a whole month is 1.0 GB-month in every
// month. Usage exports as CSV (WriteCSV/ReadCSV) or JSON
// (WriteJSON/ReadJSON) with the columns tenant, start (RFC 3339 UTC),
// stored_bytes, artifacts, ingress_bytes, egress_bytes, class_a, class_b.
package tenancy
