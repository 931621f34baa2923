// Package metastore is Vaultaire's replicated metadata store: tenants,
// users, access keys, containers, artifact records, multipart uploads and
// their parts, blob references and usage counters, agreed on by
// hashicorp/raft and kept in cockroachdb/pebble. A single node is a
// one-voter Raft cluster running the same code path as a cluster.
//
// It owns the Raft log store, stable store and state machine, the typed
// commands and their encoding, snapshots, read consistency, and listing.
// It imports nothing of ours; package node adapts it to the Engine.
//
// # Storage layout and why one Pebble instance
//
// One Pebble instance in Dir/pebble holds the Raft log, the Raft stable
// store and the state machine under different first bytes; Raft snapshots
// are files in Dir/snapshots (raft.FileSnapshotStore). One instance means
// one write-ahead log, totally ordered: a synced write makes every earlier
// write durable. That is what lets the state machine commit without fsync
// (below), and it halves the fsyncs a separate log store would cost. The
// price is that log entries, written once and deleted after the next
// snapshot, pass through the same memtable and compactions as the state; at
// metadata sizes that is cheap next to an extra fsync per write.
//
// # Key schema
//
//	"a"                                    applied index, 8 bytes BE (local)
//	"l" be64(index)                        Raft log entry (local)
//	"r"                                    restore-in-progress marker (local)
//	"s" key                                Raft stable store (term, vote) (local)
//	"f" 0x01 id                            Tenant
//	"f" 0x02 lp(tenant) name               User
//	"f" 0x03 id                            access key (AccessKey + sealed secret)
//	"f" 0x04 lp(tenant) id                 index: access keys of a tenant (empty value)
//	"f" 0x05 lp(tenant) name               Container
//	"f" 0x06 lp(tenant) lp(container) key  Artifact
//	"f" 0x07 lp(tenant) lp(container) esc(key) uploadID        Upload
//	"f" 0x08 lp(tenant) lp(container) lp(key) lp(uploadID) be32(part number)  Part
//	"f" 0x09 tenant                        Usage of a tenant
//	"f" 0x0a lp(tenant) container          Usage of a container
//	"f" 0x0b lp(blobID) ownerKey           blob reference: the record under ownerKey uses the blob
//	"f" 0x0c requestID(16)                 dedupe: log index, proposer time and result of an applied request
//	"f" 0x0d                               state machine clock (max proposer time)
//	"f" 0x0e tenant                        TenantSettings: rate/bandwidth limits, quotas
//	"f" 0x0f lp(tenant) be64(hour)         UsageHour (hour start in Unix seconds)
//	"f" 0x10 lp(tenant) be32(yyyymm)       egress bytes of a calendar month (varint)
//	"f" 0x11                               cluster version (uvarint; absent: 1)
//	"f" 0x12 lp(tenant) lp(container) esc(key) be64(^seq)    Artifact: a noncurrent version or a delete marker
//	"f" 0x13 lp(tenant) lp(container) key  seq (uvarint) of the key's null version in 0x12
//	"f" 0x14                               last version sequence number assigned (uvarint)
//	"f" 0x28 name                          operations job value (opaque, node: decommission and rebalance requests and progress; opjobs.go)
//	"f" 0x30 name                          Operator (console account of the cluster's operators)
//	"f" 0x31 be64(expiry) sessionID        revoked console session, kept until it would have expired (empty value)
//	"f" 0x32 lp(tenant) name               LoginState of an account (tenant "": an operator)
//	"f" 0x33 tenant                        BillingAccount (payment provider customer, status, usage reported)
//	"f" 0x34 be64(created) eventID         payment provider event already applied (empty value)
//	"f" 0x38                               lifecycle engine position (opaque, node; lifecycle.go)
//	"f" 0x3c name                          Tier (remote S3 place, secret sealed like access-key secrets)
//	"f" 0x3d name                          TierUsage (versions and bytes on the tier)
//	"f" 0x3e blobID                        JournalEntry: a remote blob that may be garbage (intent or doomed)
//	"f" 0x3f be64(expiry) lp(tenant) lp(container) lp(key) versionID   restored copy to drop at expiry (empty value)
//	"f" 0x40 lp(tenant) name               access setting: "user/NAME" identity policy, "public-access-block" (access.go)
//	"v"                                    this node bootstrapped a cluster whose version is not set yet (local)
//
// lp(s) is s prefixed with its length as a uvarint: tenant and container
// names are unambiguous whatever bytes they hold, and an artifact key comes
// last and verbatim, so the artifacts of one container iterate in S3 byte
// order of their keys. esc(key) writes 0x00 as 0x00 0xFF and ends with 0x00
// 0x01: order-preserving and self-delimiting, so uploads sort by key, then
// upload id. Everything under "f" is replicated state; the rest is local.
//
// Listing seeks to the prefix (or past StartAfter) and iterates within the
// prefix's bounds; when a key rolls up into a common prefix, the iterator
// seeks straight past every key that starts with it. A page of 1,000
// entries costs about 1,000 iterator steps, however large the container.
//
// # Records
//
// Every record value starts with a schema version byte (1 or 2), then its fields
// in declaration order: integers as varints, strings and byte slices
// length-prefixed, times as a presence byte plus Unix seconds and
// nanoseconds (UTC on decode), maps as sorted key/value pairs (so encodings
// are deterministic). A decoder accepts only the versions it knows and the
// exact length of their encoding; anything else is ErrCorrupt. Version 2
// of artifacts, parts, uploads and containers appends an extension
// section of (tag, value) fields (ext.go), and is written only when a
// version-2 field is set: what the first release wrote stays byte for
// byte the same. A new field means a new tag, written only once every
// node can read it (see "Cluster version").
// Hand-written binary rather than JSON or protobuf: it is several times
// faster and smaller than encoding/json (BenchmarkRecordCodec), needs no
// generated code, and makes the version explicit.
//
// Access-key secrets are sealed with AES-256-GCM under Config.MasterKey on
// the proposing node, so neither the Raft log, the snapshots nor Pebble
// ever hold them in clear: version byte, 12-byte random nonce, ciphertext
// and tag, with the key id as additional data.
//
// # Commands
//
// A Raft command is: command type (1 byte; bit 0x80 marks a type that
// nodes which do not know it may ignore), payload version (1 byte), request
// id (16 random bytes from the proposer), proposer time (varint Unix ns),
// then the payload. The state machine dispatches on the type through one
// table (cmdTable) and panics on an unknown type or a version above the
// one it knows, unless the type is ignorable: a node that cannot apply an
// entry must stop, never diverge. ApplyEncoded refuses such commands before
// they reach the log. A payload that fails to decode is answered with
// ErrCorrupt on every node alike.
//
// The state machine is deterministic: it reads no clock and draws no
// random numbers; times and ids come inside the command from the proposer.
// Each command's writes are staged and reach the batch only if it
// succeeds, so a failed precondition changes nothing. The result (an error
// code, a message, a typed body such as the replaced artifact) is encoded
// bytes, the same whether the proposer is local or forwarded through
// Forwarder.Apply, and decodes back to the same sentinel errors.
//
// Request ids make commands idempotent. After ErrLeadershipLost (or a
// failed forward) the Store proposes the same bytes again; the state
// machine keeps each request id with its result in a dedupe table and
// answers a repeated id with the first result. Entries leave the table, in
// log order, once the state machine clock is dedupeTTL (10 minutes) past
// their time, and beyond dedupeMaxEntries (100,000): both bounds are
// constants because every node must evict alike.
//
// # Cluster version
//
// The cluster version (table 0x11) is the newest state-machine format that
// every node of the cluster can apply; it only rises. Version 1 is the
// first release's format, and a state without the record is at 1. A
// command type, or a payload version of a type, added later is listed in
// cmdSince with the version that introduced it. The leader refuses to put
// such a command into the log while the cluster version is lower
// (ErrUpgradeRequired, before the log, so nothing changes), and the state
// machine refuses it the same way, deterministically, should one get in.
// So a node still running the previous release never meets an entry it
// cannot apply during a rolling upgrade; only the set-cluster-version
// command (26) raises the version, and it must be proposed only when every
// member runs a binary that supports the target (a node that applies a
// version above its own stops, as for any entry it cannot apply).
//
// A node that bootstraps a new cluster marks it (local key "v") and, the
// first time WaitLeader finds it leading, raises the version to
// SupportedClusterVersion: a fresh cluster starts with every feature of
// its binary. An upgraded cluster stays at its old version until raised.
//
// Payloads and records grow the same way: a new field means a new payload
// version (versionedBody) or a new record version, and the encoder writes
// the oldest version that can carry the value, so that records and
// commands that use no new field stay readable by the previous release.
//
// Numbers added after the first release (table bytes, command types,
// error codes) come from ranges reserved per feature area (keys.go,
// errors.go), so that work developed in parallel never collides.
//
// # Versions
//
// The current version of a key, when it is an artifact, stays in the
// artifact table (0x06): ListArtifacts, reads of the latest version and
// the first release's commands see what they always saw. Every other
// version (noncurrent ones, and delete markers, latest or not) lives in
// the version table (0x12) under its key and its inverted sequence
// number, so a key's versions iterate newest first. The state machine
// keeps three invariants (versions.go): an artifact-table record is newer
// than every version-table record of its key; a key without one has none
// in the version table, or its newest is a delete marker; a key has at
// most one null version, found through the null index (0x13) when it is
// not current.
//
// Sequence numbers come from a replicated counter (0x14), assigned to
// every version written to a container with a versioning state; a
// version id is the 16 hex digits of its number, so it names its record
// directly, and an id of another container names nothing here. A
// version-1 artifact record (the first release, or a container never
// versioned) is the null version with sequence 0, older than every
// numbered one. Put, delete and complete follow S3's rules per versioning
// state (never versioned: replace; enabled: a new version, deletes add
// markers; suspended: the null version is replaced) and answer a
// WriteResult with the blobs that lost their last reference, computed
// from the reference table, so the collector deletes exactly those.
// ListVersions merges the artifact table and the version table as two
// sorted streams, seeking to markers and past common prefixes: a page
// costs about as many steps as it returns, whatever the versions per key.
//
// Object lock is decided where versions are removed: a delete by version
// id (and every path that removes a version goes through one) fails with
// ErrObjectLocked while the version has a legal hold or a retention whose
// date is after the command's time; GOVERNANCE yields to a bypass the
// proposer vouches for, COMPLIANCE to nothing. A retention change may
// extend but never weaken a COMPLIANCE retention. Object lock needs
// versioning enabled, and then versioning cannot be suspended.
//
// Object ACLs: a version's Owner (the owning tenant, when not the
// container's) and ACL (opaque to this package, at most MaxACL bytes) are
// artifact extension fields (tags 32, 33), carried by an upload to the
// version it completes. set-version-acl (91, ClusterVersion2) replaces the
// ACL of one version, as update-version changes its tags. An upload also
// records its Initiator (tag 34, "TENANT/USER", for listings only), left
// out by CreateUpload below ClusterVersion2.
//
// # Quotas
//
// PutArtifact, PutPart and CompleteUpload are refused with
// ErrQuotaExceeded when they would take the tenant's (TenantQuota) or the
// container's (Container.QuotaBytes, QuotaArtifacts) stored bytes or
// artifact count past its limit, decided in the same apply step that
// would write the record, from the usage counters the state machine keeps
// (so concurrent writes through different nodes cannot both pass). Bytes
// are Usage.Bytes + Usage.UploadBytes: parts of unfinished uploads hold
// storage. A change <= 0 always passes; otherwise usage + change <= limit.
// An overwrite counts the size difference, a completion releases all the
// upload's parts and adds the artifact, an abort or a container deletion
// releases the parts. Monthly egress is not decided here (reads are not
// commands); RecordUsage keeps the per-month counter the serving node
// checks.
//
// # Usage hours
//
// RecordUsage adds one node's metered deltas (requests by class, bytes in
// and out) to per-tenant hourly records; the records of all nodes sum. Its
// caller chooses the request id, so a report retried after an unknown
// outcome applies once (within the dedupe window). The records of the
// proposer's current hour, and every tenant's record on SampleStorage, are
// stamped with the tenant's stored bytes and artifacts at apply time: the
// storage figure of an hour is its last sample. PruneUsageHours (command
// 50, cluster version 2) deletes the records whose hour started more than
// a retention before the hour of the time carried in the command, at most
// 10,000 per command, and reports whether more are due.
//
// # Console accounts and sessions
//
// Console users sign in with the bcrypt password of their User record;
// operators with an Operator record (table 0x30), apart from every tenant.
// Each account has a LoginState (0x32): RecordLogin (73) reports an attempt
// and the state machine applies the LoginPolicy carried in the command, so
// every node counts failures and locks alike (MaxFailures within Window lock
// the account for Lockout; a success clears the count; nothing changes while
// locked). SetPassword (79) replaces a hash, clears a lock and raises
// SessionGen: sessions carry the generation they were issued under, so a
// password change or reset ends them all. RevokeSession (72) records a
// logged-out session under its expiry; the key starts with the expiry, so
// each revocation also prunes (a bounded number of) expired ones in key
// order. DeleteAccount (74) deletes a user with its access keys in one step;
// DeleteTenant (75) refuses a tenant that still has containers or stored
// bytes (ErrTenantNotEmpty) and otherwise removes its users, keys,
// settings, login states and billing account, keeping its usage hours
// (invoice history). Callers empty a tenant through the Engine's ordinary
// delete paths first.
//
// # Billing
//
// AssignPlan (76) sets a tenant's plan and the limits and quota it brings in
// one step. UpdateBilling (77) changes selected fields of a tenant's
// BillingAccount (0x33); a change that applies a payment provider event
// names it, and an event already applied (0x34, remembered for 7 days
// after its own time and pruned in key order) is refused with ErrExists,
// so a replayed or retried webhook acts at most once. SetUsagePushed (78)
// raises the hour up to which usage was reported to the provider, never
// lowers it. All ten commands (70-79) are of cluster version 2.
//
// # Shard relocation
//
// RelocateShard moves shard i of a blob from one drive to another in every
// record that references the blob (found through the blob reference table
// 0x0b), only where the shard is still on the old drive, in one apply step.
// When nothing matches (the blob was overwritten or deleted, or the shard
// moved meanwhile) it changes nothing and answers ErrPreconditionFailed:
// the relocator then deletes the copy it wrote. ForEachBlob walks every
// referenced blob page by page, so a relocator can do I/O between pages
// without holding the state.
//
// # Durability (fsync rules)
//
//   - Raft log writes (StoreLogs, one Pebble batch for all entries the
//     leader groups, or one AppendEntries RPC) and stable store writes are
//     committed with pebble.Sync. Concurrent proposals queue in raft's
//     buffered apply channel while the leader fsyncs and share the next
//     fsync; followers likewise fsync once per AppendEntries batch.
//   - The state machine applies each raft batch (raft.BatchingFSM) in one
//     Pebble batch that also sets the applied index, committed without
//     sync. The entries are already durable in the log; a synced write
//     later in the single WAL (the next StoreLogs) makes it durable too. After
//     a crash, the applied index and the state agree (same batch), and raft
//     replays the log from its last snapshot: entries at or below the
//     applied index are skipped, later ones applied. Nothing is lost or
//     applied twice.
//     If the log was compacted past entries the state machine lost in the
//     crash, the snapshot that allowed the compaction is newer than the
//     state, and raft's restore at start replaces the state with it.
//   - Snapshots are written by raft.FileSnapshotStore (fsynced files).
//     Restore writes a synced marker first and a synced final batch; a crash
//     in between leaves the marker, and Open then wipes the partial state so
//     raft restores the snapshot again.
//
// TestFSMCrashLosesNothingCommitted checks these rules on a file system
// that drops unsynced writes; TestCrashRecovery kills a real process with
// SIGKILL under load.
//
// # Snapshots
//
// FSM.Snapshot takes a Pebble snapshot (on raft's FSM goroutine, so it is
// exactly the state at the applied index); Persist streams it: "VMSS",
// format version 1, applied index (8 bytes BE), then frames of about 1 MiB
// (kind, length, CRC-32C, payload of uvarint-length-prefixed key/value
// pairs under "f"), then an end frame with the record count. Restore
// verifies every frame and replaces the state; when the local state is
// already at or past the snapshot's applied index (raft restores the
// latest snapshot at every start), it skips the restore, as both describe
// the same committed prefix of the log. Snapshots are taken every
// SnapshotThreshold entries; the log then keeps TrailingLogs entries.
//
// # Read consistency
//
// Linearizable (default): the leader confirms it still leads (VerifyLeader,
// a heartbeat round to a quorum; concurrent reads share it), after an entry
// of its own term has committed (a barrier right after an election), and
// returns its commit index, lowered past trailing entries that never reach
// the state machine (no-ops, barriers); the reading node waits until its
// state machine has applied that index, then reads its local Pebble.
// Followers ask the leader through Forwarder.ReadIndex, so a read on any
// node observes every write acknowledged before it started. Stale: read the
// local state as it is, without any network round trip; it may lag the
// cluster. Reads never see a snapshot restore half done.
//
// # Writes and forwarding
//
// A write builds its command on the node that receives it (validation,
// sealing of secrets, request id, time), then proposes it: to the local
// Raft when this node leads, else through Config.Forwarder to the leader's
// ApplyEncoded, which refuses commands it cannot apply. Failures that leave
// the outcome open or that a new leader can fix (ErrNotLeader,
// ErrLeadershipLost, a failed forward) are retried with the same bytes
// until Config.ApplyTimeout or the context ends; the dedupe table makes
// the retries safe. A forwarded call (a command, or a read-index round
// that batched reads wait on) is cancelled as soon as another node is
// known to lead, and retried there: a leader that stalled or was cut off
// holds requests only until its successor is elected, not until its
// connection times out.
//
// # Transport
//
// Without Config.Transport the Store runs raft's NetworkTransport over its
// own TCP stream layer, which closes every connection on Close (raft's
// stock layer leaves inbound handlers running until the peer hangs up).
package metastore
