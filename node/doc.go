// Package node is the Engine every request goes through: it places,
// erasure-codes and commits artifacts (data first, metadata last), reads
// them back verified, and runs the node's background workers. See
// docs/design.md for the decisions behind each.
//
// # Writes and reads
//
// A PUT streams the body through the erasure encoder into one Driver.Put
// per shard (local drives directly, peers' drives over the cluster RPC)
// and is acknowledged once the write quorum (k+1) of shards is fsynced and
// the record is committed through Raft. A shard write that stalls while
// the quorum of the others keeps up is given up after StallTimeout, and
// once the quorum is durable the others get StragglerWindow; shards given
// up are healed after the commit (put.go). A GET reads the data shards,
// gives up on a shard whose block is ReadHedge late and reconstructs
// around it from parity (get.go, erasure.HedgeAfter).
//
// # Background workers
//
// Each runs on its own goroutine from Start until Close:
//   - the collector deletes the blobs of replaced and deleted artifacts
//     after GCDelay, unless an open reader on this node or an alive peer
//     still streams them (a read lease, at most MaxReadLease past the
//     delay), and sweeps orphaned shards (gc.go);
//   - the healer rebuilds shards reads, writes and the scrub found
//     missing or bad (gc.go);
//   - the scrub verifies every local shard within ScrubPeriod, paced, and
//     keeps its position in ScrubStateFile across restarts (scrub.go);
//   - on the metadata leader: the relocator moves the shards of removed
//     nodes (relocate.go), the upload expiry aborts multipart uploads
//     older than UploadExpiry (expiry.go), and metering prunes usage
//     records past their retention (usage.go).
package node
