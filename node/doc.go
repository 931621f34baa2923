// Package node is the Engine of one Vaultaire node: the orchestrator every
// request goes through (never a "storage service"), and the lifecycle of
// the node's background work.
//
// The Engine puts, gets, lists and deletes artifacts and runs multipart
// uploads for the s3 package (which declares the small interface it
// needs), and manages tenants, users, access keys, limits, quotas, plans
// and usage for the admin API and the console, with the console's accounts
// (accounts.go): bcrypt password login whose lockout the state machine
// decides, session checks, operators, and the deletion of users and
// tenants through the ordinary delete paths. It adapts the siblings to each
// other in a few lines: the metastore holds every record, erasure encodes
// and decodes the bytes, drivers hold the shards, cluster reaches the other
// nodes' drives, and tenancy owns the arithmetic of limits and metering.
//
// # Writes and reads
//
// A PUT streams the body through the erasure encoder into one Driver.Put
// per shard (local drives directly, peers' drives over the cluster RPC)
// and is acknowledged once the write quorum (k+1) of shards is fsynced and
// the record is committed through Raft. A shard write that stalls while
// the quorum of the others keeps up is given up after StallTimeout, and
// once the quorum is durable the others get StragglerWindow; shards given
// up are healed after the commit (put.go). A peer that stops answering
// the shards the quorum needs fails the write after StallTimeout and gets
// no new shards from this node for a while (unresponsive.go). A GET reads the data shards,
// gives up on a shard whose block is ReadHedge late and reconstructs
// around it from parity (get.go, erasure.HedgeAfter).
//
// # Background workers
//
// Each runs on its own goroutine from Start until Close:
//   - the collector deletes the blobs of replaced and deleted artifacts
//     after GCDelay, unless an open reader on this node or an alive peer
//     still streams them (a read lease, at most MaxReadLease past the
//     delay), and sweeps orphaned shards (gc.go). The blobs of a write
//     whose metadata command failed go at once only if the state machine
//     refused the command (metastore.Refused); any other failure may hide
//     a commit, so they wait GCDelay and go only if still unreferenced;
//   - the healer rebuilds shards reads, writes and the scrub found
//     missing or bad (gc.go);
//   - the scrub verifies every local shard at least once in any span of
//     ScrubPeriod (paced passes every half period), and
//     keeps its position in ScrubStateFile across restarts (scrub.go);
//   - on the metadata leader: the relocator moves the shards of removed
//     nodes (relocate.go), the upload expiry aborts multipart uploads
//     older than UploadExpiry (expiry.go), and metering prunes usage
//     records past their retention (usage.go).
package node
