package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Errors returned by the Engine. The s3 package maps each to one S3 error
// code in its single error table; test with errors.Is.
var (
	ErrContainerNotFound  = errors.New("node: container not found")
	ErrContainerExists    = errors.New("node: container already exists")
	ErrContainerNotEmpty  = errors.New("node: container not empty")
	ErrArtifactNotFound   = errors.New("node: artifact not found")
	ErrUploadNotFound     = errors.New("node: multipart upload not found")
	ErrPreconditionFailed = errors.New("node: precondition failed")
	// ErrBadDigest: the body did not match the Content-MD5 the client sent.
	ErrBadDigest = errors.New("node: content digest mismatch")
	// ErrIncompleteBody: the body ended before the declared size.
	ErrIncompleteBody   = errors.New("node: body shorter than declared size")
	ErrEntityTooLarge   = errors.New("node: entity too large")
	ErrEntityTooSmall   = errors.New("node: part too small")
	ErrInvalidPart      = errors.New("node: invalid part")
	ErrInvalidPartOrder = errors.New("node: parts not in ascending order")
	ErrAccessKeyUnknown = errors.New("node: unknown access key")
	// ErrUnavailable: the cluster cannot serve the request now (no metadata
	// leader, too few drives for a write or read quorum); clients retry.
	ErrUnavailable = errors.New("node: service unavailable")
	// ErrUpgradeRequired: the feature needs a newer cluster version than
	// the cluster runs (a rolling upgrade is not finalized yet).
	ErrUpgradeRequired = errors.New("node: cluster upgrade not finalized")

	// Administration (tenants, users, access keys).
	ErrTenantNotFound    = errors.New("node: tenant not found")
	ErrTenantExists      = errors.New("node: tenant already exists")
	ErrUserNotFound      = errors.New("node: user not found")
	ErrUserExists        = errors.New("node: user already exists")
	ErrAccessKeyNotFound = errors.New("node: access key not found")
	// ErrInvalidArgument: an administrative request named something
	// malformed (an empty name, an unknown tenant state), or an S3
	// request a version id this store never gave out.
	ErrInvalidArgument = errors.New("node: invalid argument")

	// Versions, object lock and tags.
	ErrNoSuchVersion = errors.New("node: no such version")
	// ErrObjectLocked: object lock forbids removing the version or
	// weakening its retention.
	ErrObjectLocked = errors.New("node: version protected by object lock")
	// ErrLockNotEnabled: a lock setting on a container without object lock.
	ErrLockNotEnabled = errors.New("node: object lock not enabled on the container")
	// ErrDeleteMarker: the version addressed is a delete marker (S3
	// answers 405 for reads of it by version id).
	ErrDeleteMarker = errors.New("node: version is a delete marker")
	// ErrInvalidContainerState: the container's configuration forbids the
	// change (suspending versioning under object lock, lock without
	// versioning).
	ErrInvalidContainerState = errors.New("node: invalid container state")

	// Checksums. Both come wrapped in a MessageError that says what
	// differed.
	// ErrChecksumRequest: a checksum of a multipart upload names another
	// algorithm or type than the upload was created with, or one the
	// upload cannot have.
	ErrChecksumRequest = errors.New("node: checksum does not fit the upload")
)

// MessageError wraps one of the sentinel errors above with a message safe
// to show to the client (the s3 edge sends ClientMessage instead of its
// default message for the code).
type MessageError struct {
	Err error
	Msg string
}

func (e *MessageError) Error() string         { return e.Err.Error() + ": " + e.Msg }
func (e *MessageError) Unwrap() error         { return e.Err }
func (e *MessageError) ClientMessage() string { return e.Msg }

func msgErr(err error, format string, args ...any) error {
	return &MessageError{Err: err, Msg: fmt.Sprintf(format, args...)}
}

// DeleteMarkerError is returned (wrapping ErrArtifactNotFound, or
// ErrDeleteMarker when the marker was addressed by version id) when the
// version a read found is a delete marker: S3 reports it in headers.
type DeleteMarkerError struct {
	Sentinel  error
	VersionID string // "" for the null version
	Modified  time.Time
}

func (e *DeleteMarkerError) Error() string {
	return e.Sentinel.Error() + ": delete marker"
}

func (e *DeleteMarkerError) Unwrap() error { return e.Sentinel }

// TenantRootUser is the user name of a tenant's root user: the principal
// that may do everything in its tenant, such as bypassing a GOVERNANCE
// retention (x-amz-bypass-governance-retention), until bucket policies
// say otherwise. The root tenant's operator user has this name too.
const TenantRootUser = "root"

// Versioning states of a container, as S3 names them.
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// Object lock retention modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// Retention is the object lock of one version: it may not be removed
// before Until (Mode "" means none).
type Retention struct {
	Mode  string
	Until time.Time
}

// ObjectLockConfig is a container's object lock configuration: enabled,
// and the default retention of new versions (Mode "" for none; then
// exactly one of Days and Years is set).
type ObjectLockConfig struct {
	Enabled bool
	Mode    string
	Days    int
	Years   int
}

// ContainerInfo describes a container (S3 bucket).
type ContainerInfo struct {
	Name    string
	Created time.Time
	// Versioning is "", VersioningEnabled or VersioningSuspended.
	Versioning string
	ObjectLock ObjectLockConfig
	Tags       map[string]string
	// Location is the region the container was created in ("" for the
	// server's default region).
	Location string
}

// CreateContainerInput creates a container.
type CreateContainerInput struct {
	Name string
	// ObjectLock creates it with object lock enabled (and versioning
	// enabled for good), as x-amz-bucket-object-lock-enabled asks.
	ObjectLock bool
	Location   string
	// Config holds container sub-resources (as SetContainerConfig sets
	// them) written by the same Raft command that creates the container,
	// so it never exists without them: CreateBucket's object ownership
	// and ACL.
	Config map[string]string
}

// ArtifactInfo describes an artifact (S3 object) as clients see it.
type ArtifactInfo struct {
	Container   string
	Key         string
	Size        int64
	ETag        string // without quotes
	ContentType string
	// Headers: Content-Encoding, Content-Disposition, Content-Language,
	// Cache-Control, Expires, by canonical name.
	Headers map[string]string
	// Meta is user metadata, keys lower-case without "x-amz-meta-".
	Meta map[string]string
	// Checksums by algorithm name ("CRC32", "CRC32C", "SHA1", "SHA256",
	// "CRC64NVME"), base64 as S3 returns them.
	Checksums map[string]string
	Modified  time.Time
	// Parts is the number of multipart parts, 0 for a single PUT.
	Parts int
	// PartList describes the parts of a multipart artifact, in order.
	PartList []PartInfo

	// VersionID is the version's id, "" for the null version.
	VersionID string
	// Versioned: the version lives in a container with a versioning state,
	// so S3 reports its id ("null" for the null version).
	Versioned bool
	// IsLatest is set by version listings.
	IsLatest     bool
	DeleteMarker bool
	// StorageClass as the client asked ("" is STANDARD).
	StorageClass string
	// Tier names the cold tier holding the bytes ("" when local); its
	// storage class is then StorageClass. RestoreOngoing and
	// RestoreExpiry describe a restore (RestoreObject) of it.
	Tier           string
	RestoreOngoing bool
	RestoreExpiry  time.Time
	Tags           map[string]string
	Retention      Retention
	LegalHold      bool
	// ChecksumType is "COMPOSITE" or "FULL_OBJECT" for the whole-object
	// checksum of a multipart artifact.
	ChecksumType string
	// Expiration is set on reads of the latest version when a lifecycle
	// rule will expire it (S3's x-amz-expiration).
	Expiration *Expiration
	// Encryption is the version's server-side encryption mode
	// (EncryptionNone, EncryptionSSES3, EncryptionCustomer).
	Encryption string
	// Owner is the tenant owning the version when not the container's
	// ("" for the container's); ACL its access control list ("" private).
	Owner string
	ACL   string
}

// Conditions are the preconditions of a write, decided atomically with it.
type Conditions struct {
	// IfMatch: the current artifact must exist with this ETag.
	IfMatch string
	// IfNoneMatch: "*" means the artifact must not exist.
	IfNoneMatch string
	// Checksums (CompleteUpload only): whole-object checksums by algorithm
	// the client expects the completed artifact to have (x-amz-checksum-*
	// on CompleteMultipartUpload). A COMPOSITE value may omit its "-N".
	Checksums map[string]string
	// ChecksumType (CompleteUpload only): the x-amz-checksum-type of the
	// completion; when set it must be the upload's.
	ChecksumType string
}

// PutInput is one single-request artifact write.
type PutInput struct {
	Container string
	Key       string
	// Body is read to EOF. A read error (for example a checksum mismatch
	// detected by the caller's verifying reader) aborts the write and
	// nothing becomes visible; the error is returned wrapped.
	Body io.Reader
	// Size is the declared length, or -1 when unknown.
	Size        int64
	ContentType string
	Headers     map[string]string
	Meta        map[string]string
	// Checksums is stored by reference and read only after Body has
	// returned EOF: checksums sent in an aws-chunked trailer are added to
	// it by the caller's body reader at the very end of the body.
	Checksums map[string]string
	// ContentMD5, when set, must equal the MD5 of the body (ErrBadDigest).
	ContentMD5 []byte
	Cond       Conditions
	// StorageClass, Tags and the object lock of the new version.
	StorageClass string
	Tags         map[string]string
	Retention    Retention
	LegalHold    bool
	// Encryption of the new version (Mode "" for none).
	Encryption Encryption
	// Owner and ACL of the new version (metastore.Artifact's): the owning
	// tenant when not the container's, and the ACL ("" private).
	Owner string
	ACL   string
}

// VersionRef names one version of an artifact: VersionID "" means the
// latest; NullVersion the null version.
type VersionRef struct {
	Container, Key, VersionID string
	// CustomerKey is the SSE-C key a read of an SSE-C version must give
	// (HeadArtifact and OpenArtifact check it); nil otherwise.
	CustomerKey []byte
	// MetadataOnly opens the version for its metadata only (a HEAD): no
	// byte is read, so a version on an archive tier, or on a tier that is
	// down, opens, as S3 answers HEAD of an archived object.
	MetadataOnly bool
}

// NullVersion is S3's id of the null version.
const NullVersion = "null"

// DeleteInput is a DeleteObject request.
type DeleteInput struct {
	Container, Key string
	// VersionID, when set, removes that version ("null" for the null
	// version); otherwise the key is deleted (a delete marker in a
	// container with a versioning state).
	VersionID string
	// IfMatch: the version deleted must have this ETag ("*": must exist).
	IfMatch string
	// BypassGovernance: the caller may bypass a GOVERNANCE retention.
	BypassGovernance bool
}

// DeleteResult is what S3 reports of a delete.
type DeleteResult struct {
	// VersionID is the version the delete created (a delete marker) or
	// removed; "" for the null version.
	VersionID string
	// DeleteMarker: the version created or removed is a delete marker.
	DeleteMarker bool
	// Versioned: the container has a versioning state (S3 reports the
	// version id).
	Versioned bool
}

// VersionListOptions select versions for ListObjectVersions.
type VersionListOptions struct {
	Prefix, Delimiter          string
	KeyMarker, VersionIDMarker string
	MaxKeys                    int
}

// VersionList is one page of ListObjectVersions: versions (IsLatest and
// DeleteMarker set) in key order, each key's newest first.
type VersionList struct {
	Versions            []ArtifactInfo
	CommonPrefixes      []string
	Truncated           bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ArtifactReader is an opened artifact: a consistent snapshot of one version
// whose bytes stay readable while the reader is in use.
type ArtifactReader interface {
	Info() ArtifactInfo
	// WriteRange streams bytes [off, off+length) to w, verifying every
	// block read and reconstructing around missing or corrupt shards.
	WriteRange(ctx context.Context, w io.Writer, off, length int64) error
}

// ListOptions select artifacts in S3 ListObjects order (bytewise by key).
type ListOptions struct {
	Prefix     string
	Delimiter  string
	StartAfter string // exclusive
	MaxKeys    int
}

// ListResult is one page of a listing. Next is the last key or common
// prefix returned, to pass as StartAfter for the next page when Truncated.
type ListResult struct {
	Artifacts      []ArtifactInfo
	CommonPrefixes []string
	Truncated      bool
	Next           string
}

// UploadInput starts a multipart upload.
type UploadInput struct {
	Container   string
	Key         string
	ContentType string
	Headers     map[string]string
	Meta        map[string]string
	// What the completed artifact gets.
	StorageClass string
	Tags         map[string]string
	Retention    Retention
	LegalHold    bool
	// ChecksumAlgorithm ("CRC32", ... as checksum.Algorithms names them)
	// and ChecksumType ("COMPOSITE" or "FULL_OBJECT"; "" takes the
	// algorithm's default) ask for a whole-object checksum: every part
	// gets the algorithm's checksum, and the completed artifact the
	// whole-object value computed from them.
	ChecksumAlgorithm string
	ChecksumType      string
	// Encryption of the parts and of the completed artifact.
	Encryption Encryption
	// Owner and ACL of the completed artifact (as PutInput's).
	Owner string
	ACL   string
	// Initiator is who creates the upload, "TENANT/USER" ("" when
	// anonymous); listings show it.
	Initiator string
}

// UploadInfo describes an in-progress multipart upload.
type UploadInfo struct {
	Container    string
	Key          string
	UploadID     string
	Initiated    time.Time
	ContentType  string
	Headers      map[string]string
	Meta         map[string]string
	StorageClass string
	// The whole-object checksum asked for ("" for none).
	ChecksumAlgorithm string
	ChecksumType      string
	// Encryption is the upload's server-side encryption mode.
	Encryption string
	// Owner is the tenant the completed artifact will belong to ("" for
	// the container's); Initiator who created the upload, "TENANT/USER"
	// ("" when not recorded).
	Owner     string
	Initiator string
}

// PartInput is one UploadPart request.
type PartInput struct {
	Container  string
	Key        string
	UploadID   string
	Number     int
	Body       io.Reader
	Size       int64
	ContentMD5 []byte
	// Checksums the caller verified over Body, by algorithm, read only
	// after Body returned EOF (a trailer's value arrives at the end). The
	// upload's own algorithm is computed when it is not among them.
	Checksums map[string]string
	// TrailerChecksum names the algorithm (as checksum.Algorithms name
	// them) of a checksum that the caller verifies over Body itself and
	// puts into Checksums before Body returns io.EOF: a trailer's. The
	// upload's algorithm is then not computed a second time here; a
	// value missing after the body is an error.
	TrailerChecksum string
	// FromClient: the body comes from the client (UploadPart, not
	// UploadPartCopy), so a part of a COMPOSITE upload must carry the
	// upload's checksum, as S3 requires.
	FromClient bool
	// CustomerKey is the SSE-C key of an SSE-C upload (it must be the
	// key the upload was created with).
	CustomerKey []byte
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	Number   int
	Size     int64
	ETag     string
	Modified time.Time
	// Checksums of the part by algorithm, base64.
	Checksums map[string]string
}

// PartRef names a part in CompleteMultipartUpload.
type PartRef struct {
	Number int
	ETag   string
	// Checksums the client lists for the part; each must equal the
	// stored part's.
	Checksums map[string]string
}

// PartList is one page of ListParts.
type PartList struct {
	Upload    UploadInfo
	Parts     []PartInfo
	Truncated bool
	Next      int
}

// UploadListOptions select uploads for ListMultipartUploads.
type UploadListOptions struct {
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int
}

// UploadList is one page of ListMultipartUploads.
type UploadList struct {
	Uploads        []UploadInfo
	CommonPrefixes []string
	Truncated      bool
	NextKey        string
	NextUploadID   string
}

// Credential is what request authentication needs to know of an access key.
type Credential struct {
	AccessKeyID string
	Secret      string
	Tenant      string
	User        string
}
