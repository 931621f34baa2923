package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/vaultaire/vaultaire/metastore"
)

// uploadErr maps a metastore error of an operation on an upload: an
// upload that is not found in a container that does not exist (in the
// caller's tenant) is reported as the missing container, as S3 does.
func (e *Engine) uploadErr(ctx context.Context, tenant, container string, err error) error {
	if errors.Is(err, metastore.ErrUploadNotFound) {
		if _, cerr := e.meta.GetContainer(ctx, tenant, container); errors.Is(cerr, metastore.ErrContainerNotFound) {
			return metaErr(cerr)
		}
	}
	return metaErr(err)
}

// MaxParts is S3's ceiling on part numbers.
const MaxParts = 10000

// CreateUpload starts a multipart upload.
func (e *Engine) CreateUpload(ctx context.Context, tenant string, in UploadInput) (UploadInfo, error) {
	u := metastore.Upload{
		Tenant: tenant, Container: in.Container, Key: in.Key, UploadID: newID(), Created: now(),
		ContentType: in.ContentType, Headers: in.Headers, Meta: in.Meta,
		StorageClass: in.StorageClass, Tags: in.Tags,
		Retention: metastore.Retention(in.Retention), LegalHold: in.LegalHold,
	}
	c, err := e.meta.GetContainer(ctx, tenant, in.Container, metastore.Stale)
	if err != nil {
		return UploadInfo{}, metaErr(err)
	}
	seal, err := e.newSealer(tenant, in.Container, in.Key, defaultEncryption(c, in.Encryption))
	if err != nil {
		return UploadInfo{}, err
	}
	if seal != nil {
		u.Encryption = seal.rec
	}
	if err := e.meta.CreateUpload(ctx, u); err != nil {
		return UploadInfo{}, metaErr(err)
	}
	return uploadInfo(u), nil
}

// UploadPart stores one part as its own blob and records it; a part
// uploaded again under the same number replaces the earlier one.
func (e *Engine) UploadPart(ctx context.Context, tenant string, in PartInput) (PartInfo, error) {
	if in.Number < 1 || in.Number > MaxParts {
		return PartInfo{}, fmt.Errorf("%w: part number %d outside 1..%d", ErrInvalidPart, in.Number, MaxParts)
	}
	if in.Size > DefaultMaxPartSize {
		return PartInfo{}, ErrEntityTooLarge
	}
	u, err := e.meta.GetUpload(ctx, tenant, in.Container, in.Key, in.UploadID, metastore.Stale)
	if err != nil {
		return PartInfo{}, e.uploadErr(ctx, tenant, in.Container, err)
	}
	if err := e.checkCustomerKey(u.Encryption, in.CustomerKey); err != nil {
		return PartInfo{}, err
	}
	seal, err := e.newSealer(tenant, in.Container, in.Key, Encryption{Mode: u.Encryption.Mode, CustomerKey: in.CustomerKey})
	if err != nil {
		return PartInfo{}, err
	}
	b := newBody(in.Body, in.Size, DefaultMaxPartSize)
	p, missing, err := e.writePart(ctx, seal, b, b)
	if err != nil {
		return PartInfo{}, err
	}
	blob := p.Blob
	if err := b.checkMD5(in.ContentMD5); err != nil {
		e.deleteBlobNow(context.WithoutCancel(ctx), blob)
		return PartInfo{}, err
	}
	p.Number, p.ETag, p.Created = in.Number, b.etag(), now()
	prev, err := e.meta.PutPart(ctx, tenant, in.Container, in.Key, in.UploadID, p)
	if err != nil {
		e.deleteBlobNow(context.WithoutCancel(ctx), blob)
		return PartInfo{}, e.uploadErr(ctx, tenant, in.Container, err)
	}
	if prev != nil {
		e.gc.later(prev.Blob)
	}
	e.healLater(p, missing)
	return PartInfo{Number: p.Number, Size: p.Size, ETag: p.ETag, Modified: p.Created}, nil
}

// CompleteUpload assembles the listed parts into the artifact, atomically
// with the upload's removal; parts uploaded but not listed are collected.
func (e *Engine) CompleteUpload(ctx context.Context, tenant, container, key, uploadID string, parts []PartRef, cond Conditions) (ArtifactInfo, error) {
	refs := make([]metastore.PartRef, len(parts))
	for i, p := range parts {
		refs[i] = metastore.PartRef{Number: p.Number, ETag: p.ETag}
	}
	res, err := e.meta.CompleteUploadVersion(ctx, metastore.CompleteInput{
		Tenant: tenant, Container: container, Key: key, UploadID: uploadID,
		Created: now(), Parts: refs, MinPartSize: e.cfg.MinPartSize,
		Cond: metastore.Cond{IfNoneMatch: cond.IfNoneMatch == "*", IfMatchETag: cond.IfMatch},
	})
	if err != nil {
		return ArtifactInfo{}, e.uploadErr(ctx, tenant, container, err)
	}
	e.gc.laterParts(res.Freed)
	return toInfo(*res.Version, res.Version.Seq != 0), nil
}

// AbortUpload drops an upload and collects its parts.
func (e *Engine) AbortUpload(ctx context.Context, tenant, container, key, uploadID string) error {
	parts, err := e.meta.AbortUpload(ctx, tenant, container, key, uploadID)
	if err != nil {
		return e.uploadErr(ctx, tenant, container, err)
	}
	e.gc.laterParts(parts)
	return nil
}

// ListParts lists the parts of an upload after part number marker.
func (e *Engine) ListParts(ctx context.Context, tenant, container, key, uploadID string, marker, max int) (PartList, error) {
	u, err := e.meta.GetUpload(ctx, tenant, container, key, uploadID)
	if err != nil {
		return PartList{}, e.uploadErr(ctx, tenant, container, err)
	}
	parts, truncated, err := e.meta.ListParts(ctx, tenant, container, key, uploadID, marker, max)
	if err != nil {
		return PartList{}, metaErr(err)
	}
	out := PartList{Upload: uploadInfo(u), Truncated: truncated}
	for _, p := range parts {
		out.Parts = append(out.Parts, PartInfo{Number: p.Number, Size: p.Size, ETag: p.ETag, Modified: p.Created})
	}
	if truncated && len(parts) > 0 {
		out.Next = parts[len(parts)-1].Number
	}
	return out, nil
}

// ListUploads lists a container's in-progress uploads.
func (e *Engine) ListUploads(ctx context.Context, tenant, container string, o UploadListOptions) (UploadList, error) {
	ups, prefixes, truncated, err := e.meta.ListUploads(ctx, tenant, container, metastore.UploadListOptions{
		Prefix: o.Prefix, Delimiter: o.Delimiter, KeyMarker: o.KeyMarker, UploadIDMarker: o.UploadIDMarker, MaxUploads: o.MaxUploads,
	})
	if err != nil {
		return UploadList{}, metaErr(err)
	}
	out := UploadList{CommonPrefixes: prefixes, Truncated: truncated}
	for _, u := range ups {
		out.Uploads = append(out.Uploads, uploadInfo(u))
	}
	if truncated && len(ups) > 0 {
		last := ups[len(ups)-1]
		out.NextKey, out.NextUploadID = last.Key, last.UploadID
	}
	return out, nil
}

func uploadInfo(u metastore.Upload) UploadInfo {
	return UploadInfo{Container: u.Container, Key: u.Key, UploadID: u.UploadID, Initiated: u.Created,
		ContentType: u.ContentType, Headers: u.Headers, Meta: u.Meta, StorageClass: u.StorageClass,
		Encryption: u.Encryption.Mode}
}
