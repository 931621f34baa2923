package metastore

import "time"

// This file holds the typed records the metastore replicates. They are the
// vocabulary shared with package node; the encoding of each record on disk
// carries a schema version (see doc.go).

// TenantState is whether a tenant may use the store.
type TenantState string

const (
	TenantActive    TenantState = "active"
	TenantSuspended TenantState = "suspended"
)

// Tenant is an isolated customer.
type Tenant struct {
	ID      string
	Name    string
	Plan    string
	State   TenantState
	Created time.Time
}

// User belongs to one tenant. PasswordHash is a bcrypt hash, or empty.
type User struct {
	Tenant       string
	Name         string
	PasswordHash []byte
	Created      time.Time
}

// AccessKey is an S3 access key of a user. Its secret is kept encrypted at
// rest with the node-held master key and is only returned decrypted by
// Store.GetAccessKey; it is never part of this record.
type AccessKey struct {
	ID      string
	Tenant  string
	User    string
	Enabled bool
	Created time.Time
}

// Container is a tenant's named set of artifacts (an S3 bucket).
type Container struct {
	Tenant  string
	Name    string
	Created time.Time
	// Versioning is unused (the first release never set it); the
	// versioning state is VersioningState.
	Versioning bool
	// QuotaBytes and QuotaArtifacts are 0 for "unlimited".
	QuotaBytes     int64
	QuotaArtifacts int64
	// Lifecycle is the container's lifecycle configuration, opaque to the
	// metastore (encoded by node).
	Lifecycle []byte

	// Fields of record version 2 (cluster version 2).

	// VersioningState is "" (never versioned), VersioningEnabled or
	// VersioningSuspended. Once set it never returns to "".
	VersioningState string
	// ObjectLock is the container's object lock configuration (its
	// Enabled never goes back to false).
	ObjectLock ObjectLockConfig
	// Tags are the container's tags (S3 bucket tagging).
	Tags map[string]string
	// Location is the region the container was created in (its S3
	// LocationConstraint; "" is the default region).
	Location string
	// Config holds sub-resources the metastore stores but does not
	// interpret, by name (for example "cors", "policy"); each package that
	// owns one validates and encodes it.
	Config map[string]string
}

// Versioning states of a container.
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// Object lock retention modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// ObjectLockConfig is a container's object lock configuration: whether
// lock is enabled, and the default retention new versions get (Mode empty
// for none; exactly one of Days and Years is set with it).
type ObjectLockConfig struct {
	Enabled bool
	Mode    string
	Days    int
	Years   int
}

// Retention is the lock of one version: no deletion or overwrite of the
// version before Until (Mode "" means none).
type Retention struct {
	Mode  string
	Until time.Time
}

// Artifact is the metadata record of an artifact (an S3 object). Its bytes
// are either Inline (small artifacts) or held by the erasure-coded blobs of
// Parts, in part order (one part for a single PUT).
type Artifact struct {
	Tenant    string
	Container string
	Key       string
	VersionID string
	Size      int64
	// ETag is S3's entity tag without quotes: hex MD5 for a single PUT,
	// hex MD5-of-MD5s plus "-N" for a multipart upload of N parts.
	ETag        string
	ContentType string
	// Headers holds stored standard headers by canonical name:
	// Content-Encoding, Content-Disposition, Content-Language, Cache-Control, Expires.
	Headers map[string]string
	// Meta is user metadata (x-amz-meta-*), keys lower-case without the prefix.
	Meta map[string]string
	// Checksums holds additional checksums by algorithm ("CRC32", "CRC32C",
	// "SHA1", "SHA256", "CRC64NVME") as base64, when the client sent them.
	Checksums map[string]string
	Created   time.Time
	Inline    []byte
	Parts     []Part
	// Tier names the remote tier holding the bytes, empty when local.
	Tier string

	// Fields of record version 2 (cluster version 2).

	// Seq orders the versions of a key (larger is newer). The state
	// machine assigns it to every version written to a container that has
	// a versioning state; 0 means older than every numbered version (an
	// artifact written while the container was never versioned).
	Seq uint64
	// DeleteMarker marks a delete marker: a version without bytes that
	// makes its key read as absent while it is the latest.
	DeleteMarker bool
	// StorageClass is the S3 storage class ("" is STANDARD).
	StorageClass string
	// Tags are the version's object tags.
	Tags map[string]string
	// Retention and LegalHold are the version's object lock.
	Retention Retention
	LegalHold bool
	// UploadID is the multipart upload this version completed, so that a
	// repeated completion of the same upload answers with this version.
	UploadID string
	// ChecksumType is "COMPOSITE" or "FULL_OBJECT" for a multipart
	// artifact's whole-object checksum in Checksums ("" otherwise).
	ChecksumType string
	// Encryption is how the version's bytes are encrypted at rest; its
	// Inline bytes, when encrypted, are sealed under InlineKey (a sealed
	// data key, package sse), its parts' under their own SealedKey.
	Encryption Encryption
	InlineKey  []byte
	// Restore is the temporary local copy of a version on a tier
	// (RestoreObject; tiers.go).
	Restore RestoreState
	// Owner is the tenant that owns the version when it is not the
	// container's (an object written by another tenant into a bucket whose
	// Object Ownership is ObjectWriter); "" means the container's tenant.
	// ACL is the version's access control list, opaque here (the s3
	// layer's encoding); "" means private to the owner. Both are read only
	// while the bucket's ownership setting enables ACLs.
	Owner string
	ACL   string
}

// AllParts returns the parts whose blobs the record references: its own
// and those of a restored copy.
func (a *Artifact) AllParts() []Part {
	if len(a.Restore.Parts) == 0 {
		return a.Parts
	}
	return append(append(make([]Part, 0, len(a.Parts)+len(a.Restore.Parts)), a.Parts...), a.Restore.Parts...)
}

// Encryption modes of a version's bytes.
const (
	EncryptionNone     = ""
	EncryptionSSES3    = "AES256"
	EncryptionCustomer = "SSE-C"
)

// Encryption describes the server-side encryption of a version (or of
// the parts of an upload).
type Encryption struct {
	// Mode is EncryptionNone, EncryptionSSES3 or EncryptionCustomer.
	Mode string
	// CustomerKeyMAC is a keyed hash (HMAC-SHA256) of the SSE-C key: it
	// recognises a wrong key; the key itself is never stored.
	CustomerKeyMAC []byte
}

// NullVersion is the version id S3 reports for the null version: the
// version of an artifact written while its container was never versioned
// or had versioning suspended. Such records store VersionID "".
const NullVersion = "null"

// Part is one contiguous piece of an artifact held by one blob.
type Part struct {
	Number  int
	Size    int64
	ETag    string // hex MD5 of the part's bytes
	Created time.Time
	Blob    Blob
	// Checksums of the part's bytes by algorithm, base64 (version 2).
	Checksums map[string]string
	// SealedKey is the sealed data key of an encrypted part (package
	// sse); its blob then holds StoredSize bytes of ciphertext for Size
	// bytes of plaintext.
	SealedKey  []byte
	StoredSize int64
}

// BlobSize is the number of bytes the part's blob holds.
func (p *Part) BlobSize() int64 {
	if p.SealedKey != nil {
		return p.StoredSize
	}
	return p.Size
}

// Blob is one erasure-coded byte stream: K data and M parity shards of
// BlockSize-byte blocks, shard i stored on Shards[i].
type Blob struct {
	ID        string
	K, M      int
	BlockSize int
	Shards    []ShardLoc
}

// ShardLoc is where one shard of a blob lives.
type ShardLoc struct {
	Node  string
	Drive string
}

// Upload is an in-progress multipart upload.
type Upload struct {
	Tenant      string
	Container   string
	Key         string
	UploadID    string
	Created     time.Time
	ContentType string
	Headers     map[string]string
	Meta        map[string]string

	// Fields of record version 2: what the completed artifact gets.
	StorageClass string
	Tags         map[string]string
	Retention    Retention
	LegalHold    bool
	// ChecksumAlgorithm and ChecksumType are the whole-object checksum
	// the client asked for at creation (x-amz-checksum-algorithm, -type).
	ChecksumAlgorithm string
	ChecksumType      string
	// Encryption of the parts, and of the artifact the upload completes.
	Encryption Encryption
	// Owner and ACL of the artifact the upload completes (as Artifact's).
	Owner string
	ACL   string
	// Initiator is who created the upload, "TENANT/USER" (ListParts and
	// ListMultipartUploads show it); "" when unknown: anonymous, or an
	// upload created before it was recorded.
	Initiator string
}

// Usage is a tenant's (or container's) current stored figures, maintained by
// the state machine on every put, overwrite, delete and completion.
//
// UploadBytes is the size of the uploaded parts of unfinished multipart
// uploads: they hold storage, so quotas count them (a completion moves
// them into Bytes, an abort frees them), but they are not artifacts.
type Usage struct {
	Bytes       int64
	Artifacts   int64
	UploadBytes int64
}
