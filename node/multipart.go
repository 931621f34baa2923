package node

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"strings"

	"github.com/vaultaire/vaultaire/checksum"
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
	alg, typ, err := uploadChecksum(in.ChecksumAlgorithm, in.ChecksumType)
	if err != nil {
		return UploadInfo{}, err
	}
	u := metastore.Upload{
		Tenant: tenant, Container: in.Container, Key: in.Key, UploadID: newID(), Created: now(),
		ContentType: in.ContentType, Headers: in.Headers, Meta: in.Meta,
		StorageClass: in.StorageClass, Tags: in.Tags,
		Retention: metastore.Retention(in.Retention), LegalHold: in.LegalHold,
		ChecksumAlgorithm: alg, ChecksumType: typ,
		Owner: in.Owner, ACL: in.ACL, Initiator: in.Initiator,
	}
	c, err := e.bucketConfig(ctx, tenant, in.Container)
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

// uploadChecksum checks and normalises the whole-object checksum an
// upload asks for: the algorithm's name as checksum.Algorithms spells it,
// and the type (the algorithm's default when none is given).
func uploadChecksum(algName, typ string) (string, string, error) {
	if algName == "" {
		if typ != "" {
			return "", "", msgErr(ErrChecksumRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		return "", "", nil
	}
	alg, ok := checksum.ByName(algName)
	if !ok {
		return "", "", msgErr(ErrChecksumRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	switch typ = strings.ToUpper(typ); typ {
	case "":
		typ = alg.DefaultType()
	case checksum.Composite:
		if alg.Name == "CRC64NVME" {
			// S3 computes CRC64NVME over the whole object only.
			return "", "", msgErr(ErrChecksumRequest, "The %s checksum type cannot be used with the %s checksum algorithm.", typ, strings.ToLower(alg.Name))
		}
	case checksum.FullObject:
		if !alg.CanFullObject() {
			return "", "", msgErr(ErrChecksumRequest, "The %s checksum type cannot be used with the %s checksum algorithm.", typ, strings.ToLower(alg.Name))
		}
	default:
		return "", "", msgErr(ErrChecksumRequest, "Value for x-amz-checksum-type header is invalid.")
	}
	return alg.Name, typ, nil
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
	// The upload's algorithm is computed here unless the caller verifies
	// it already: a header value is known before the body, a trailer's
	// (TrailerChecksum) after it.
	var alg checksum.Algorithm
	var h hash.Hash
	src := in.Body
	var dflt hash.Hash
	if u.ChecksumAlgorithm != "" {
		alg, _ = checksum.ByName(u.ChecksumAlgorithm)
		if _, ok := in.Checksums[alg.Name]; !ok && in.TrailerChecksum != alg.Name {
			h = alg.New()
			src = io.TeeReader(src, h)
		}
	} else if _, ok := in.Checksums[defaultChecksum.Name]; !ok && in.TrailerChecksum != defaultChecksum.Name {
		// An upload without an algorithm gets S3's default FULL_OBJECT
		// CRC64NVME at completion, combined from its parts' values.
		dflt = defaultChecksum.New()
		src = io.TeeReader(src, dflt)
	}
	b := newBody(src, in.Size, DefaultMaxPartSize)
	defer b.close()
	p, missing, err := e.writePart(ctx, seal, b, b)
	if err != nil {
		return PartInfo{}, err
	}
	blob := p.Blob
	var sums map[string]string
	if _, ok := in.Checksums[in.TrailerChecksum]; in.TrailerChecksum != "" && !ok {
		err = fmt.Errorf("node: the %s checksum of part %d was not in Checksums after the body", in.TrailerChecksum, in.Number)
	} else {
		sums, err = partChecksums(alg, h, in.Checksums, in.FromClient && u.ChecksumType == checksum.Composite)
	}
	if err == nil && dflt != nil {
		if sums == nil {
			sums = map[string]string{}
		}
		sums[defaultChecksum.Name] = base64.StdEncoding.EncodeToString(dflt.Sum(nil))
	}
	if err == nil {
		err = b.checkMD5(in.ContentMD5)
	}
	var etag string
	if err == nil {
		etag, err = seal.etag(b.sum())
	}
	if err != nil {
		e.deleteBlobNow(context.WithoutCancel(ctx), blob)
		return PartInfo{}, err
	}
	p.Number, p.ETag, p.Created, p.Checksums = in.Number, etag, now(), sums
	prev, err := e.meta.PutPart(ctx, tenant, in.Container, in.Key, in.UploadID, p)
	if err != nil {
		e.uncommitted(ctx, []metastore.Part{p}, err)
		return PartInfo{}, e.uploadErr(ctx, tenant, in.Container, err)
	}
	if prev != nil {
		e.gc.later(prev.Blob)
	}
	e.healLater(p, missing)
	return PartInfo{Number: p.Number, Size: p.Size, ETag: p.ETag, Modified: p.Created, Checksums: p.Checksums}, nil
}

// partChecksums is what a part stores: the checksums the caller verified,
// and the upload's algorithm (alg; Name "" for none) computed by h when
// the caller did not send it. A part of an upload with an algorithm may
// carry no other, and must carry it when required (COMPOSITE).
func partChecksums(alg checksum.Algorithm, h hash.Hash, sent map[string]string, required bool) (map[string]string, error) {
	sums := maps.Clone(sent)
	if alg.Name == "" {
		return sums, nil
	}
	if _, ok := sent[alg.Name]; !ok && len(sent) == 0 && required {
		return nil, msgErr(ErrChecksumRequest, "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: null", strings.ToLower(alg.Name))
	}
	for name := range sent {
		if name != alg.Name {
			return nil, msgErr(ErrChecksumRequest, "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s",
				strings.ToLower(alg.Name), strings.ToLower(name))
		}
	}
	if h != nil {
		if sums == nil {
			sums = map[string]string{}
		}
		sums[alg.Name] = base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	return sums, nil
}

// CompleteUpload assembles the listed parts into the artifact, atomically
// with the upload's removal; parts uploaded but not listed are collected.
//
// An upload created with a checksum algorithm gets its whole-object
// checksum here, computed from the stored part checksums (never from the
// bytes); part checksums listed by the client and the whole-object values
// in cond.Checksums must match it.
func (e *Engine) CompleteUpload(ctx context.Context, tenant, container, key, uploadID string, parts []PartRef, cond Conditions) (ArtifactInfo, error) {
	refs := make([]metastore.PartRef, len(parts))
	for i, p := range parts {
		refs[i] = metastore.PartRef{Number: p.Number, ETag: p.ETag}
	}
	in := metastore.CompleteInput{
		Tenant: tenant, Container: container, Key: key, UploadID: uploadID,
		Created: now(), Parts: refs, MinPartSize: e.cfg.MinPartSize,
		Cond: metastore.Cond{IfNoneMatch: cond.IfNoneMatch == "*", IfMatchETag: cond.IfMatch},
	}
	if err := e.wholeChecksum(ctx, &in, parts, cond.Checksums, cond.ChecksumType); err != nil {
		return ArtifactInfo{}, e.uploadErr(ctx, tenant, container, err)
	}
	res, err := e.meta.CompleteUploadVersion(ctx, in)
	if err != nil {
		return ArtifactInfo{}, e.uploadErr(ctx, tenant, container, err)
	}
	e.gc.laterParts(res.Freed)
	return toInfo(*res.Version, res.Version.Seq != 0), nil
}

// noPartChecksum is a part checksum no part has (not base64).
const noPartChecksum = "-"

// wholeChecksum fills in the whole-object checksum of a completion and
// checks the client's part and whole-object values against the stored
// parts. A missing upload is left to the completion itself (a repeated
// Complete answers with the artifact it made). The reads are
// linearizable; the part values used go along, so the completion fails if
// a part is replaced meanwhile.
func (e *Engine) wholeChecksum(ctx context.Context, in *metastore.CompleteInput, parts []PartRef, want map[string]string, wantType string) error {
	u, err := e.meta.GetUpload(ctx, in.Tenant, in.Container, in.Key, in.UploadID)
	if errors.Is(err, metastore.ErrUploadNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.ChecksumAlgorithm == "" {
		for name := range want {
			return msgErr(ErrChecksumRequest, "The upload was created without a checksum algorithm; x-amz-checksum-%s cannot be checked.", strings.ToLower(name))
		}
		return e.defaultWholeChecksum(ctx, in, parts)
	}
	alg, ok := checksum.ByName(u.ChecksumAlgorithm)
	if !ok {
		return fmt.Errorf("node: upload %s has unknown checksum algorithm %q", in.UploadID, u.ChecksumAlgorithm)
	}
	if wantType != "" && !strings.EqualFold(wantType, u.ChecksumType) {
		return msgErr(ErrChecksumRequest, "The upload was created using the %s checksum mode. The complete request must use the same checksum mode.", u.ChecksumType)
	}
	stored, err := e.storedParts(ctx, in)
	if err != nil || stored == nil {
		return err
	}
	wp := make([]checksum.Part, len(parts))
	in.PartChecksums = make([]string, len(parts))
	complete := true
	for i, ref := range parts {
		p, ok := stored[ref.Number]
		if !ok || !strings.EqualFold(strings.Trim(ref.ETag, `"`), strings.Trim(p.ETag, `"`)) {
			// The completion reports it, in its own order of checks
			// (EntityTooSmall of an earlier part first). The value no
			// stored part has keeps it from completing without a
			// checksum should the part appear meanwhile.
			in.PartChecksums[i] = noPartChecksum
			complete = false
			continue
		}
		if _, ok := ref.Checksums[alg.Name]; !ok && len(ref.Checksums) == 0 && u.ChecksumType == checksum.Composite {
			return msgErr(ErrChecksumRequest, "The upload was created using a %s checksum. The complete request must include the checksum for each part. It was missing for part %d in the request.",
				strings.ToLower(alg.Name), ref.Number)
		}
		for name, v := range ref.Checksums {
			if name != alg.Name {
				return msgErr(ErrChecksumRequest, "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s",
					strings.ToLower(alg.Name), strings.ToLower(name))
			}
			if p.Checksums[name] != v {
				return fmt.Errorf("%w: the %s checksum of part %d differs from the uploaded part's", ErrInvalidPart, name, ref.Number)
			}
		}
		sum, ok := p.Checksums[alg.Name]
		if !ok {
			// A part stored before the upload's algorithm was honoured.
			return msgErr(ErrInvalidPart, "Part %d has no %s checksum; upload it again.", ref.Number, alg.Name)
		}
		wp[i] = checksum.Part{Sum: sum, Size: p.Size}
		in.PartChecksums[i] = sum
	}
	if !complete {
		return nil
	}
	whole, err := checksum.Whole(alg, u.ChecksumType, wp)
	if err != nil {
		return fmt.Errorf("node: upload %s: %w", in.UploadID, err)
	}
	for name, v := range want {
		if name != alg.Name {
			return msgErr(ErrChecksumRequest, "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s",
				strings.ToLower(alg.Name), strings.ToLower(name))
		}
		if !checksum.SameWhole(v, whole) {
			return msgErr(ErrBadDigest, "The %s you specified did not match the calculated checksum.", strings.ToLower(alg.Name))
		}
	}
	in.Checksums = map[string]string{alg.Name: whole}
	in.ChecksumType = u.ChecksumType
	return nil
}

// defaultChecksum is the whole-object checksum S3 gives an upload created
// without an algorithm (FULL_OBJECT). Its parts are hashed with it as they
// are written: about 2 % of the MD5 every part pays (checksum's
// BenchmarkHashVsMD5, docs/design.md).
var defaultChecksum, _ = checksum.ByName("CRC64NVME")

// defaultWholeChecksum gives a completion of an upload without an
// algorithm the FULL_OBJECT CRC64NVME of its parts, when every listed
// part has one (parts written before the default have none; the object
// then gets no checksum, as before). The part values do not go along
// (the state machine checks them under the upload's algorithm, which
// this upload lacks): the completion's own check of each part's ETag, the
// MD5 of its bytes, is what keeps a part replaced meanwhile from giving
// the object a stale value.
func (e *Engine) defaultWholeChecksum(ctx context.Context, in *metastore.CompleteInput, parts []PartRef) error {
	stored, err := e.storedParts(ctx, in)
	if err != nil || stored == nil {
		return err
	}
	wp := make([]checksum.Part, len(parts))
	for i, ref := range parts {
		p, ok := stored[ref.Number]
		if !ok || !strings.EqualFold(strings.Trim(ref.ETag, `"`), strings.Trim(p.ETag, `"`)) {
			return nil // the completion reports it
		}
		sum, ok := p.Checksums[defaultChecksum.Name]
		if !ok {
			return nil
		}
		wp[i] = checksum.Part{Sum: sum, Size: p.Size}
	}
	whole, err := checksum.Whole(defaultChecksum, checksum.FullObject, wp)
	if err != nil {
		return fmt.Errorf("node: upload %s: %w", in.UploadID, err)
	}
	in.Checksums = map[string]string{defaultChecksum.Name: whole}
	in.ChecksumType = checksum.FullObject
	return nil
}

// storedParts reads all the parts of the completion's upload (linearizable),
// by number; nil when the upload is gone (completed meanwhile).
func (e *Engine) storedParts(ctx context.Context, in *metastore.CompleteInput) (map[int]metastore.Part, error) {
	stored := map[int]metastore.Part{}
	marker := 0
	for {
		ps, truncated, err := e.meta.ListParts(ctx, in.Tenant, in.Container, in.Key, in.UploadID, marker, 1000)
		if errors.Is(err, metastore.ErrUploadNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			stored[p.Number] = p
		}
		if !truncated || len(ps) == 0 {
			return stored, nil
		}
		marker = ps[len(ps)-1].Number
	}
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
		out.Parts = append(out.Parts, PartInfo{Number: p.Number, Size: p.Size, ETag: p.ETag, Modified: p.Created, Checksums: p.Checksums})
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
		ChecksumAlgorithm: u.ChecksumAlgorithm, ChecksumType: u.ChecksumType,
		Encryption: u.Encryption.Mode, Owner: u.Owner, Initiator: u.Initiator}
}
