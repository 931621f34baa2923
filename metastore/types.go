package metastore

import (
	"context"
	"time"
)

// Cond is the precondition of an artifact write, decided by the state
// machine atomically with the write (so two racing conditional writes
// cannot both succeed).
type Cond struct {
	// IfNoneMatch: the artifact must not exist (S3 If-None-Match: *).
	IfNoneMatch bool
	// IfMatchETag: the artifact must exist with this ETag (surrounding
	// quotes are ignored); "*" matches any existing artifact.
	IfMatchETag string
}

// ListOptions select artifacts of a container in S3 ListObjects order
// (bytewise by key).
type ListOptions struct {
	Prefix    string
	Delimiter string
	// StartAfter is exclusive. When it is a common prefix returned by a
	// previous page (it ends with the delimiter), every key under it is
	// skipped too, so ListResult.Next can be passed back as is.
	StartAfter string
	// MaxKeys is the page size: artifacts plus common prefixes. 0 or
	// anything above MaxListKeys means MaxListKeys.
	MaxKeys int
}

// MaxListKeys caps a page of ListArtifacts and ListUploads, as S3 does:
// a page is built in memory.
const MaxListKeys = 1000

// ListResult is one page of artifacts. Next is the last key or common prefix
// returned; pass it as StartAfter for the next page when Truncated.
type ListResult struct {
	Artifacts      []Artifact
	CommonPrefixes []string
	Truncated      bool
	Next           string
}

// UploadListOptions select multipart uploads of a container in S3
// ListMultipartUploads order: by key, then by upload id.
type UploadListOptions struct {
	Prefix    string
	Delimiter string
	// KeyMarker and UploadIDMarker: with an UploadIDMarker, uploads of
	// KeyMarker with a greater upload id come first, then keys after
	// KeyMarker; without one, listing starts after KeyMarker. A KeyMarker
	// that is a common prefix (ends with the delimiter) skips every key
	// under it.
	KeyMarker      string
	UploadIDMarker string
	// MaxUploads is the page size (uploads plus common prefixes); 0 or
	// anything above MaxListKeys means MaxListKeys.
	MaxUploads int
}

// PartRef names one part of a CompleteUpload request.
type PartRef struct {
	Number int
	ETag   string
}

// CompleteInput is a CompleteMultipartUpload request. Created is the time
// the artifact is stamped with (chosen by the caller: the state machine has
// no clock). MinPartSize is the smallest size allowed for every part but
// the last (0 disables the check).
type CompleteInput struct {
	Tenant, Container, Key, UploadID, VersionID string
	Created                                     time.Time
	Parts                                       []PartRef
	Cond                                        Cond
	MinPartSize                                 int64
	// Checksums and ChecksumType are the whole-object checksum the
	// artifact gets (ClusterVersion2, payload version 2). PartChecksums,
	// when set, holds for each listed part the value of the upload's
	// checksum algorithm the caller computed them from; the completion
	// fails with ErrInvalidPart if a stored part no longer carries it (a
	// part replaced in between).
	Checksums     map[string]string
	ChecksumType  string
	PartChecksums []string
}

// Forwarder lets a follower reach the leader. The cluster package
// implements it over its internal RPC; it must call, on the node at
// leaderAddr (a Raft server address), Store.ApplyEncoded and
// Store.ReadIndex respectively, and return their errors so that errors.Is
// still matches the metastore sentinels (MarshalError and UnmarshalError
// carry them over the wire).
type Forwarder interface {
	// Apply runs ApplyEncoded on the leader and returns its result.
	Apply(ctx context.Context, leaderAddr string, cmd []byte) ([]byte, error)
	// ReadIndex runs ReadIndex on the leader: its commit index after
	// confirming leadership.
	ReadIndex(ctx context.Context, leaderAddr string) (uint64, error)
}

// ReadOption selects the consistency of a read.
type ReadOption interface{ applyRead(*readOptions) }

type readOptions struct{ stale bool }

type readOptionFunc func(*readOptions)

func (f readOptionFunc) applyRead(o *readOptions) { f(o) }

var (
	// Linearizable reads (the default) reflect every write acknowledged
	// before the read started, on any node: the leader confirms its
	// leadership and the read waits until the local state machine has
	// applied the leader's commit index (read-index).
	Linearizable ReadOption = readOptionFunc(func(o *readOptions) { o.stale = false })
	// Stale reads return the local state as is: fast, never blocked by the
	// network, possibly behind the cluster (a follower that lags, a node
	// cut off from the leader).
	Stale ReadOption = readOptionFunc(func(o *readOptions) { o.stale = true })
)

func readOpts(opts []ReadOption) readOptions {
	var o readOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyRead(&o)
		}
	}
	return o
}
