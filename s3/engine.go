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
	CreateContainer(ctx context.Context, tenant, name string) error
	HeadContainer(ctx context.Context, tenant, name string) (node.ContainerInfo, error)
	DeleteContainer(ctx context.Context, tenant, name string) error

	PutArtifact(ctx context.Context, tenant string, in node.PutInput) (node.ArtifactInfo, error)
	HeadArtifact(ctx context.Context, tenant, container, key string) (node.ArtifactInfo, error)
	OpenArtifact(ctx context.Context, tenant, container, key string) (node.ArtifactReader, error)
	// DeleteArtifact removes key; deleting a missing key is not an error.
	DeleteArtifact(ctx context.Context, tenant, container, key string) error
	ListArtifacts(ctx context.Context, tenant, container string, opts node.ListOptions) (node.ListResult, error)

	CreateUpload(ctx context.Context, tenant string, in node.UploadInput) (node.UploadInfo, error)
	UploadPart(ctx context.Context, tenant string, in node.PartInput) (node.PartInfo, error)
	CompleteUpload(ctx context.Context, tenant, container, key, uploadID string, parts []node.PartRef, cond node.Conditions) (node.ArtifactInfo, error)
	AbortUpload(ctx context.Context, tenant, container, key, uploadID string) error
	ListParts(ctx context.Context, tenant, container, key, uploadID string, marker, max int) (node.PartList, error)
	ListUploads(ctx context.Context, tenant, container string, opts node.UploadListOptions) (node.UploadList, error)
}
