package s3

import (
	"context"

	"github.com/vaultaire/vaultaire/node"
)

// Engine is what the S3 API needs from a node. *node.Engine implements it;
// the interface lives here, where it is consumed.
type Engine interface {
	// ReadScope returns ctx for the engine calls of one request: their
	// metadata reads share one consistency barrier, as of the first.
	ReadScope(ctx context.Context) context.Context

	// Credential returns the secret and tenant of an access key, or
	// node.ErrAccessKeyUnknown when it does not exist or is disabled.
	Credential(ctx context.Context, accessKeyID string) (node.Credential, error)

	ListContainers(ctx context.Context, tenant string) ([]node.ContainerInfo, error)
	CreateContainer(ctx context.Context, tenant string, in node.CreateContainerInput) error
	HeadContainer(ctx context.Context, tenant, name string) (node.ContainerInfo, error)
	DeleteContainer(ctx context.Context, tenant, name string) error

	// Container settings: versioning, object lock, tags, and sub-resources
	// this package stores opaquely by name.
	SetVersioning(ctx context.Context, tenant, container, state string) error
	SetObjectLock(ctx context.Context, tenant, container string, cfg node.ObjectLockConfig) error
	SetContainerTags(ctx context.Context, tenant, container string, tags map[string]string) error
	ContainerConfig(ctx context.Context, tenant, container, name string) (string, error)
	SetContainerConfig(ctx context.Context, tenant, container, name, value string) error
	// Lifecycle configuration: ErrNoSuchLifecycle when there is none;
	// a transition to a storage class no tier serves is a *node.TierError.
	LifecycleConfiguration(ctx context.Context, tenant, container string) (node.LifecycleConfig, error)
	SetLifecycleConfiguration(ctx context.Context, tenant, container string, cfg node.LifecycleConfig) error
	DeleteLifecycleConfiguration(ctx context.Context, tenant, container string) error

	PutArtifact(ctx context.Context, tenant string, in node.PutInput) (node.ArtifactInfo, error)
	// HeadArtifact and OpenArtifact address the latest version when
	// ref.VersionID is "". A delete marker comes back as a
	// *node.DeleteMarkerError.
	HeadArtifact(ctx context.Context, tenant string, ref node.VersionRef) (node.ArtifactInfo, error)
	OpenArtifact(ctx context.Context, tenant string, ref node.VersionRef) (node.ArtifactReader, error)
	// DeleteArtifact deletes a key or one version; deleting a missing key
	// or version is not an error.
	DeleteArtifact(ctx context.Context, tenant string, in node.DeleteInput) (node.DeleteResult, error)
	ListArtifacts(ctx context.Context, tenant, container string, opts node.ListOptions) (node.ListResult, error)
	ListVersions(ctx context.Context, tenant, container string, opts node.VersionListOptions) (node.VersionList, error)

	// Settings of one version.
	SetArtifactTags(ctx context.Context, tenant string, ref node.VersionRef, tags map[string]string) (node.ArtifactInfo, error)
	SetRetention(ctx context.Context, tenant string, ref node.VersionRef, r node.Retention, bypass bool) (node.ArtifactInfo, error)
	SetLegalHold(ctx context.Context, tenant string, ref node.VersionRef, on bool) (node.ArtifactInfo, error)
	// SetArtifactACL replaces a version's ACL (acl.go's encoding; ""
	// private).
	SetArtifactACL(ctx context.Context, tenant string, ref node.VersionRef, acl string) (node.ArtifactInfo, error)
	// RestoreVersion makes a temporary local copy of a version on a cold
	// tier for days (RestoreObject).
	RestoreVersion(ctx context.Context, tenant, container, key, versionID string, days int) (node.RestoreResult, error)

	// Access control: a user's identity policy and a tenant's
	// PublicAccessBlock ("" when none), and whether a tenant exists
	// (tenant-qualified bucket names).
	UserPolicy(ctx context.Context, tenant, user string) (string, error)
	TenantPublicAccessBlock(ctx context.Context, tenant string) (string, error)
	TenantExists(ctx context.Context, tenant string) (bool, error)

	CreateUpload(ctx context.Context, tenant string, in node.UploadInput) (node.UploadInfo, error)
	UploadPart(ctx context.Context, tenant string, in node.PartInput) (node.PartInfo, error)
	CompleteUpload(ctx context.Context, tenant, container, key, uploadID string, parts []node.PartRef, cond node.Conditions) (node.ArtifactInfo, error)
	AbortUpload(ctx context.Context, tenant, container, key, uploadID string) error
	ListParts(ctx context.Context, tenant, container, key, uploadID string, marker, max int) (node.PartList, error)
	ListUploads(ctx context.Context, tenant, container string, opts node.UploadListOptions) (node.UploadList, error)
}
