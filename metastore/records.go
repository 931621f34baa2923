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
	Tenant     string
	Name       string
	Created    time.Time
	Versioning bool
	// QuotaBytes and QuotaArtifacts are 0 for "unlimited".
	QuotaBytes     int64
	QuotaArtifacts int64
	// Lifecycle is the container's lifecycle configuration, opaque to the
	// metastore (encoded by node).
	Lifecycle []byte
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
}

// Part is one contiguous piece of an artifact held by one blob.
type Part struct {
	Number  int
	Size    int64
	ETag    string // hex MD5 of the part's bytes
	Created time.Time
	Blob    Blob
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
