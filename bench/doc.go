// Package bench is the S3 load generator and report behind `vaultaire
// bench`. It drives any S3 endpoint (Vaultaire, AWS S3, Lyve Cloud, ...)
// through the AWS SDK for Go v2 and imports nothing else of ours.
//
// # What it measures
//
// A run (Run with a Config) creates a fresh container (bucket)
// vaultaire-bench-<random> unless Config.Bucket names one, writes the
// artifacts its workload reads (Config.Keys of them for get, mixed and
// list, not measured), then runs Config.Concurrency workers, each with one
// request in flight, until Config.Duration has passed or Config.Ops
// operations were started, and finally deletes what it wrote (and the
// bucket it created) unless Config.Keep. With Config.ExtraEndpoints (the
// other nodes of a cluster) requests go to each endpoint in turn, so a GET
// usually reads what a PUT wrote through another node. The workloads:
//
//   - put: PutObject of new keys, sizes from Config.Size.
//   - get: GetObject of random prepared keys, every body verified.
//   - mixed: GET/PUT/DELETE/STAT (HeadObject) over the prepared key space
//     in the weights of Config.Mix (default 45/15/10/30). Each key sees one
//     operation at a time, so every GET and HEAD is checked against the
//     last acknowledged PUT or DELETE: read-after-write, overwrite and
//     delete consistency are verified, not assumed.
//   - list: ListObjectsV2 pages (one op = one page of Config.ListPageSize)
//     walking a prefix of prepared keys; every complete walk must return
//     exactly the prepared keys in order.
//   - multipart: whole multipart uploads (feature/s3/manager) of
//     Config.Size in parts of Config.PartSize, PartConcurrency at a time.
//   - refused: PutObject of Config.Size into a bucket that does not exist;
//     an op succeeds when the answer is NoSuchBucket (error kind
//     NotRefused otherwise). It measures what a refusal costs, with the
//     SDK's "Expect: 100-continue" for bodies above 2 MB.
//
// # Content and verification
//
// Content is a pure function of (seed, key, size), where the seed is
// derived from the run's seed and a per-PUT generation number: the
// little-endian words of splitmix64 over a counter starting at
// xxh3(key, seed) ⊕ splitmix64(size). It is incompressible, costs no
// crypto/rand, can be produced at any offset (so the SDK can seek and split
// it into parts without buffering) and is regenerated chunk by chunk on
// GET and compared with the bytes as they stream in. A wrong byte, a short
// or long body, a HEAD with the wrong length or a listing with a missing,
// extra or misordered key is a verification error (kinds VerifyMismatch,
// VerifySize, VerifyList) — a fast wrong answer never passes as a fast
// answer. The content seed travels as user metadata x-amz-meta-bench-seed.
//
// # How the numbers are computed
//
//   - Latency of an operation: from just before the SDK call to the end of
//     the response (for GET, the last body byte, read and verified). Time
//     to first byte (GET): until the first body byte arrived.
//   - Percentiles: nearest-rank (the value of rank ⌈q·n⌉ of the sorted
//     latencies of successful operations), taken from a log-linear
//     HDR-style Histogram: 128 linear sub-buckets per power of two, exact
//     below 256 ns, so a percentile is within 0.4% of the exact one; min,
//     max and mean are exact. Memory is fixed (≈60 KB per histogram)
//     whatever the run length.
//   - Throughput: successful operations (ops/s) and their artifact bytes
//     (MiB/s, MiB = 2^20 bytes) divided by the elapsed time from the start
//     of measurement to the end of the last operation. Operations in flight
//     when the duration ends are completed and counted.
//   - Time series: per op, operations, bytes and errors per one-second
//     interval, by the time each operation ended; each op's counts sum to
//     its totals.
//   - Errors: by kind — the S3 error code (NoSuchKey, SlowDown, ...),
//     HTTP<status> without a code, a network class (net:refused,
//     net:reset, net:timeout, net:eof, net:tls, net:dns), Timeout (the
//     per-operation limit) or a verification kind. The SDK's retries are
//     off by default so errors are counted, not hidden.
//   - Requests are sent with UNSIGNED-PAYLOAD and without SDK checksums
//     unless asked for (Config.SignPayload, Config.Checksums), so the
//     client's SHA-256 and CRC work is not charged to the server.
//
// # Output
//
// A Report is printed as a table (WriteTable) and written by WriteFiles as
// result.json (ReportVersion 1; durations in nanoseconds), result.csv (one
// row per op, columns CSVColumns), series.csv (SeriesCSVColumns) and
// result.svg (WriteSVG: throughput over time and latency percentiles per
// op, drawn by this package). Compare lines up two reports with ratios
// B/A.
//
// # The sink
//
// Sink is an in-process S3 endpoint that keeps only each artifact's size
// and seed and regenerates content on GET; `vaultaire bench --sink`
// measures against it on 127.0.0.1 to show the client side's ceiling.
package bench
