package metastore

import (
	"encoding/binary"
	"fmt"
)

// Key schema (see doc.go for the full table). One Pebble keyspace holds
// the Raft log, the Raft stable store and the state machine, told apart by
// the first byte. Everything under prefixFSM is replicated state and is
// what a snapshot carries; the rest is local to the node.
const (
	prefixApplied = 'a' // "a": applied index of the state machine (local)
	prefixLog     = 'l' // "l" + index (8 bytes big-endian): Raft log entry
	prefixRestore = 'r' // "r": marker present while a snapshot restore runs
	prefixStable  = 's' // "s" + key: Raft stable store
	prefixFresh   = 'v' // "v": this node bootstrapped a cluster whose version is not set yet (local)
	prefixFSM     = 'f' // "f" + table byte + ...: replicated state
)

// Tables inside prefixFSM. Never renumber: they are the on-disk and
// snapshot format.
const (
	tblTenant      = 0x01 // id
	tblUser        = 0x02 // lp(tenant) name
	tblAccessKey   = 0x03 // id
	tblKeyByTenant = 0x04 // lp(tenant) id -> empty
	tblContainer   = 0x05 // lp(tenant) name
	tblArtifact    = 0x06 // lp(tenant) lp(container) key
	tblUpload      = 0x07 // lp(tenant) lp(container) esc(key) uploadID
	tblPart        = 0x08 // lp(tenant) lp(container) lp(key) lp(uploadID) be32(number)
	tblTenantUsage = 0x09 // tenant
	tblContUsage   = 0x0a // lp(tenant) container
	tblBlobRef     = 0x0b // lp(blobID) referencing record key -> empty
	tblDedupe      = 0x0c // request id (16 bytes) -> dedupe entry
	tblClock       = 0x0d // (no suffix) -> max proposer time seen
	tblTenantCfg   = 0x0e // tenant -> TenantSettings (limits, quotas)
	tblUsageHour   = 0x0f // lp(tenant) be64(hour start, Unix seconds) -> UsageHour
	tblMonthEgress = 0x10 // lp(tenant) be32(year*100+month) -> egress bytes (varint)
	tblClusterVer  = 0x11 // (no suffix) -> cluster version (uvarint)
	tblVersion     = 0x12 // lp(tenant) lp(container) esc(key) be64(^seq) -> Artifact (noncurrent version or delete marker)
	tblNullVersion = 0x13 // lp(tenant) lp(container) key -> seq (uvarint) of the null version in tblVersion
	tblVersionSeq  = 0x14 // (no suffix) -> last version sequence number assigned (uvarint)

	// Operations (range 0x28-0x2f).
	tblOpJob = 0x28 // job name -> opaque job value (opjobs.go)
	// Console, sessions and billing (range 0x30-0x37).
	tblOperator   = 0x30 // name -> Operator
	tblRevoked    = 0x31 // be64(session expiry, Unix s) session id -> empty
	tblLoginState = 0x32 // lp(tenant) name -> LoginState (tenant "": an operator)
	tblBilling    = 0x33 // tenant -> BillingAccount
	tblEventSeen  = 0x34 // be64(event created, Unix s) event id -> empty

	// Lifecycle (range 0x38-0x3b).
	tblLifecycleState = 0x38 // (no suffix) -> lifecycle engine state (opaque, node)
	// Tiers (range 0x3c-0x3f).
	tblTier        = 0x3c // name -> Tier + sealed secret
	tblTierUsage   = 0x3d // name -> TierUsage
	tblTierJournal = 0x3e // blob id -> JournalEntry (remote blob that may be garbage)
	tblRestoreIdx  = 0x3f // be64(expiry, Unix ns) lp(tenant) lp(container) lp(key) versionID -> empty
	// Access control (range 0x40-0x43).
	tblAccess = 0x40 // lp(tenant) name -> opaque access setting (access.go)
	// Encryption (range 0x44-0x47).
	tblSSEKEK = 0x44 // (no suffix) -> current key-encryption key id (uvarint)
)

// Table bytes and command types added after the first release are taken
// from ranges reserved per feature area, so that work developed in
// parallel never collides (doc.go, "Cluster version"):
//
//	tables 0x12-0x1f, commands 27-49:  object versions, lock, tags, object surface
//	tables 0x20-0x27, commands 50-59:  reliability (scrub, expiry, pruning)
//	tables 0x28-0x2f, commands 60-69:  operations (drives, decommission, rebalance)
//	tables 0x30-0x37, commands 70-79:  console, sessions, billing
//	tables 0x38-0x3f, commands 80-89:  lifecycle, tiers
//	tables 0x40-0x47, commands 90-99:  access control, encryption

var (
	keyApplied    = []byte{prefixApplied}
	keyRestoring  = []byte{prefixRestore}
	fsmLowerBound = []byte{prefixFSM}
	fsmUpperBound = []byte{prefixFSM + 1}
	keyClock      = []byte{prefixFSM, tblClock}
	// keyClusterVersion holds the cluster version; absent means 1.
	keyClusterVersion = []byte{prefixFSM, tblClusterVer}
	keyFreshCluster   = []byte{prefixFresh}
	keyVersionSeq     = []byte{prefixFSM, tblVersionSeq}
)

// appendLP appends s length-prefixed (uvarint length), which makes a
// component unambiguous whatever bytes it holds.
func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendEscaped appends s with every 0x00 byte written as 0x00 0xFF and a
// 0x00 0x01 terminator. The escaping preserves byte order (so keys sort as
// S3 sorts them) and lets another component follow the key unambiguously.
func appendEscaped(b []byte, s string) []byte {
	b = appendEscapedPrefix(b, s)
	return append(b, 0x00, 0x01)
}

// appendEscapedPrefix is appendEscaped without the terminator: a byte
// prefix of the escaped form of every string that has s as prefix.
func appendEscapedPrefix(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, 0x00, 0xFF)
		} else {
			b = append(b, s[i])
		}
	}
	return b
}

// unescape decodes one escaped component from b, returning it and the rest.
func unescape(b []byte) (string, []byte, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", nil, fmt.Errorf("%w: truncated escape", ErrCorrupt)
		}
		switch b[i+1] {
		case 0xFF:
			out = append(out, 0)
			i++
		case 0x01:
			return string(out), b[i+2:], nil
		default:
			return "", nil, fmt.Errorf("%w: bad escape", ErrCorrupt)
		}
	}
	return "", nil, fmt.Errorf("%w: unterminated key", ErrCorrupt)
}

// prefixEnd returns the smallest key greater than every key that has p as a
// prefix, or nil when there is none (p is empty or all 0xFF).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func logKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

func stableKey(key []byte) []byte {
	return append([]byte{prefixStable}, key...)
}

func tableKey(tbl byte, extra int) []byte {
	return append(make([]byte, 0, 2+extra), prefixFSM, tbl)
}

func tenantKey(id string) []byte {
	return append(tableKey(tblTenant, len(id)), id...)
}

func userKey(tenant, name string) []byte {
	return append(appendLP(tableKey(tblUser, len(tenant)+len(name)+2), tenant), name...)
}

func userPrefix(tenant string) []byte {
	return appendLP(tableKey(tblUser, len(tenant)+1), tenant)
}

func accessKeyKey(id string) []byte {
	return append(tableKey(tblAccessKey, len(id)), id...)
}

func keyByTenantKey(tenant, id string) []byte {
	return append(appendLP(tableKey(tblKeyByTenant, len(tenant)+len(id)+2), tenant), id...)
}

func keyByTenantPrefix(tenant string) []byte {
	return appendLP(tableKey(tblKeyByTenant, len(tenant)+1), tenant)
}

func containerKey(tenant, name string) []byte {
	return append(containerPrefix(tenant), name...)
}

func containerPrefix(tenant string) []byte {
	return appendLP(tableKey(tblContainer, len(tenant)+32), tenant)
}

// artifactPrefix is the prefix of all artifact keys of one container; the
// artifact key follows it verbatim, so keys iterate in S3 (byte) order.
func artifactPrefix(tenant, container string) []byte {
	b := appendLP(tableKey(tblArtifact, len(tenant)+len(container)+64), tenant)
	return appendLP(b, container)
}

func artifactKey(tenant, container, key string) []byte {
	return append(artifactPrefix(tenant, container), key...)
}

func uploadPrefix(tenant, container string) []byte {
	b := appendLP(tableKey(tblUpload, len(tenant)+len(container)+64), tenant)
	return appendLP(b, container)
}

func uploadKey(tenant, container, key, uploadID string) []byte {
	return append(appendEscaped(uploadPrefix(tenant, container), key), uploadID...)
}

func partContainerPrefix(tenant, container string) []byte {
	b := appendLP(tableKey(tblPart, len(tenant)+len(container)+64), tenant)
	return appendLP(b, container)
}

func partPrefix(tenant, container, key, uploadID string) []byte {
	return appendLP(appendLP(partContainerPrefix(tenant, container), key), uploadID)
}

func partKey(tenant, container, key, uploadID string, number int) []byte {
	return binary.BigEndian.AppendUint32(partPrefix(tenant, container, key, uploadID), uint32(number))
}

func tenantUsageKey(tenant string) []byte {
	return append(tableKey(tblTenantUsage, len(tenant)), tenant...)
}

func containerUsageKey(tenant, container string) []byte {
	return append(appendLP(tableKey(tblContUsage, len(tenant)+len(container)+1), tenant), container...)
}

func blobRefPrefix(blobID string) []byte {
	return appendLP(tableKey(tblBlobRef, len(blobID)+1), blobID)
}

// blobRefKey records that the record stored under owner references blobID.
func blobRefKey(blobID string, owner []byte) []byte {
	return append(blobRefPrefix(blobID), owner...)
}

func dedupeKey(reqID [16]byte) []byte {
	return append(tableKey(tblDedupe, 16), reqID[:]...)
}

// versionPrefix is the prefix of the version table of one container.
func versionPrefix(tenant, container string) []byte {
	b := appendLP(tableKey(tblVersion, len(tenant)+len(container)+64), tenant)
	return appendLP(b, container)
}

// versionKeyPrefix is the prefix of the versions of one key: they follow
// it newest first (be64 of the inverted sequence number).
func versionKeyPrefix(tenant, container, key string) []byte {
	return appendEscaped(versionPrefix(tenant, container), key)
}

func versionKey(tenant, container, key string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(versionKeyPrefix(tenant, container, key), ^seq)
}

// seqOfVersionKey returns the sequence number at the end of a version key.
func seqOfVersionKey(k []byte) uint64 {
	if len(k) < 8 {
		return 0
	}
	return ^binary.BigEndian.Uint64(k[len(k)-8:])
}

func nullVersionKey(tenant, container, key string) []byte {
	b := appendLP(tableKey(tblNullVersion, len(tenant)+len(container)+len(key)+2), tenant)
	return append(appendLP(b, container), key...)
}

func nullVersionPrefix(tenant, container string) []byte {
	return appendLP(appendLP(tableKey(tblNullVersion, len(tenant)+len(container)+2), tenant), container)
}
