package node

import (
	"context"
	"errors"
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
	// malformed (an empty name, an unknown tenant state).
	ErrInvalidArgument = errors.New("node: invalid argument")
)

// ContainerInfo describes a container (S3 bucket).
type ContainerInfo struct {
	Name    string
	Created time.Time
}

// ArtifactInfo describes an artifact (S3 object) as clients see it.
type ArtifactInfo struct {
	Container   string
	Key         string
	VersionID   string
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
}

// Conditions are the preconditions of a write, decided atomically with it.
type Conditions struct {
	// IfMatch: the current artifact must exist with this ETag.
	IfMatch string
	// IfNoneMatch: "*" means the artifact must not exist.
	IfNoneMatch string
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
}

// UploadInfo describes an in-progress multipart upload.
type UploadInfo struct {
	Container   string
	Key         string
	UploadID    string
	Initiated   time.Time
	ContentType string
	Headers     map[string]string
	Meta        map[string]string
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
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	Number   int
	Size     int64
	ETag     string
	Modified time.Time
}

// PartRef names a part in CompleteMultipartUpload.
type PartRef struct {
	Number int
	ETag   string
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
