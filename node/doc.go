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
// # Write path
//
// PutArtifact streams the body once through an MD5 and size check into the
// erasure encoder, whose k+m shard streams go to the drives placement
// chose (rendezvous hashing, at most m shards per node when the cluster
// allows; placement.go), local drives directly and remote ones over the
// cluster RPC, in parallel. Small artifacts (InlineThreshold) live inside
// their metadata record instead. Data first, metadata last: the write is
// acknowledged only after at least the write quorum (k+1 with parity)
// of shards is fsynced on distinct drives and the record naming them is
// committed through Raft. A failure before the commit deletes what was
// written; a crash leaves only unreferenced shards for the sweep.
//
// # Read path
//
// OpenArtifact reads the record (linearizable; ReadScope lets the reads of
// one request share one barrier) and keeps it, so an overwrite during a
// read does not mix versions. WriteRange reads only the stripes a range
// needs, verifies every block's checksum, reconstructs around missing or
// corrupt shards (local ones first) and reports bad shards to the healer.
//
// # Background work
//
// Each runs as a goroutine of the Engine with a throttle, started by Start
// and stopped by Close:
//   - the collector removes shards of replaced or deleted artifacts after
//     GCDelay, and the sweep removes blobs no record references; the healer
//     rebuilds the shards that reads and the scrubber (scrub.go) found
//     missing or corrupt (gc.go);
//   - on the metadata leader, relocation moves the shards of nodes an
//     operator removed onto live drives (relocate.go);
//   - RaftMembership keeps the Raft configuration in step with gossip
//     (membership.go), and Metering reports this node's usage hourly
//     records through Raft (usage.go).
//
// Errors are the sentinels of types.go; the s3 edge maps each to one S3
// error code, the admin API to one HTTP status.
package node
