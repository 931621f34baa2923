package node

import (
	"context"

	"github.com/vaultaire/vaultaire/metastore"
)

// This file holds the container and version settings of S3 versioning,
// object lock and tags. The rules (which changes a state allows, what a
// retention may become) are the metastore state machine's, decided with
// the change, so they hold alike through every node of a cluster.

// SetVersioning turns a container's versioning on (VersioningEnabled) or
// suspends it (VersioningSuspended). ErrInvalidContainerState when object
// lock forbids suspending.
func (e *Engine) SetVersioning(ctx context.Context, tenant, container, state string) error {
	_, err := e.meta.ChangeContainer(ctx, metastore.ContainerChange{Tenant: tenant, Name: container, SetVersioning: true, Versioning: state})
	return metaErr(err)
}

// SetObjectLock sets a container's object lock configuration (lock on,
// with an optional default retention). ErrInvalidContainerState when
// versioning is not enabled, ErrInvalidArgument for a bad rule.
func (e *Engine) SetObjectLock(ctx context.Context, tenant, container string, cfg ObjectLockConfig) error {
	_, err := e.meta.ChangeContainer(ctx, metastore.ContainerChange{Tenant: tenant, Name: container, SetObjectLock: true, ObjectLock: metastore.ObjectLockConfig(cfg)})
	return metaErr(err)
}

// SetContainerTags replaces a container's tags (nil removes them).
func (e *Engine) SetContainerTags(ctx context.Context, tenant, container string, tags map[string]string) error {
	_, err := e.meta.ChangeContainer(ctx, metastore.ContainerChange{Tenant: tenant, Name: container, SetTags: true, Tags: tags})
	return metaErr(err)
}

// ContainerConfig returns a container sub-resource the s3 layer stores
// opaquely by name ("cors", ...), "" when unset.
func (e *Engine) ContainerConfig(ctx context.Context, tenant, container, name string) (string, error) {
	c, err := e.meta.GetContainer(ctx, tenant, container)
	if err != nil {
		return "", metaErr(err)
	}
	return c.Config[name], nil
}

// SetContainerConfig stores a container sub-resource by name; "" removes
// it.
func (e *Engine) SetContainerConfig(ctx context.Context, tenant, container, name, value string) error {
	_, err := e.meta.ChangeContainer(ctx, metastore.ContainerChange{Tenant: tenant, Name: container, SetConfig: name, ConfigValue: value})
	return metaErr(err)
}

func (e *Engine) updateVersion(ctx context.Context, tenant string, ref VersionRef, u metastore.VersionUpdate) (ArtifactInfo, error) {
	u.Tenant, u.Container, u.Key = tenant, ref.Container, ref.Key
	u.VersionID, u.HasVersion = ref.VersionID, ref.VersionID != ""
	a, err := e.meta.UpdateVersion(ctx, u)
	if err != nil {
		return ArtifactInfo{}, metaErr(err)
	}
	return toInfo(a, a.Seq != 0), nil
}

// SetArtifactTags replaces the tags of a version (the latest when
// ref.VersionID is ""); nil removes them.
func (e *Engine) SetArtifactTags(ctx context.Context, tenant string, ref VersionRef, tags map[string]string) (ArtifactInfo, error) {
	return e.updateVersion(ctx, tenant, ref, metastore.VersionUpdate{SetTags: true, Tags: tags})
}

// SetRetention sets the retention of a version. A COMPLIANCE retention
// can only be extended; a GOVERNANCE one shortened or removed only with
// bypass (ErrObjectLocked otherwise).
func (e *Engine) SetRetention(ctx context.Context, tenant string, ref VersionRef, r Retention, bypass bool) (ArtifactInfo, error) {
	return e.updateVersion(ctx, tenant, ref, metastore.VersionUpdate{SetRetention: true, Retention: metastore.Retention(r), BypassGovernance: bypass})
}

// SetLegalHold puts a legal hold on a version or lifts it.
func (e *Engine) SetLegalHold(ctx context.Context, tenant string, ref VersionRef, on bool) (ArtifactInfo, error) {
	return e.updateVersion(ctx, tenant, ref, metastore.VersionUpdate{SetLegalHold: true, LegalHold: on})
}

// SetArtifactACL replaces the ACL of a version (the latest when
// ref.VersionID is ""); "" makes it private to its owner. The owner does
// not change.
func (e *Engine) SetArtifactACL(ctx context.Context, tenant string, ref VersionRef, acl string) (ArtifactInfo, error) {
	return e.updateVersion(ctx, tenant, ref, metastore.VersionUpdate{SetACL: true, ACL: acl})
}
