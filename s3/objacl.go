package s3

import (
	"context"
	"errors"
	"net/http"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/policy"
)

// This file is the object side of ACLs (docs/design.md, "ACLs"): who owns
// a new version and which ACL it gets, and the owner and ACL a request on
// an existing version is decided by. Each version stores its owner (the
// tenant, when not the bucket's) and its ACL (acl.go's encoding, "" for
// private) in its metadata record; both count only while the bucket's
// Object Ownership enables ACLs: under BucketOwnerEnforced the bucket
// owner owns every object and ACLs are ignored, as S3 does.

// maxStoredACL bounds the encoding of one ACL (the metastore refuses
// larger: metastore.MaxACL). 100 grants of sensible ids fit many times.
const maxStoredACL = 16 << 10

// storedValue is the encoding of an ACL of owner's as a version stores
// it: "" for the owner's FULL_CONTROL alone (private).
func (a storedACL) storedValue(owner string) (string, error) {
	if len(a.Grants) == 1 && a.Grants[0] == (aclGrant{"id:" + owner, permFullControl}) {
		return "", nil
	}
	v := a.encode()
	if len(v) > maxStoredACL {
		return "", withMessage(errMalformedACL, "The ACL is too large")
	}
	return v, nil
}

// versionACL is what decides access to one version: its owner (a tenant)
// and its ACL.
type versionACL struct {
	owner string
	acl   storedACL
}

// versionACLOf reads the owner and ACL of a version of bucket owner's
// (info from HeadArtifact).
func (s *Server) versionACLOf(bucketOwner string, info node.ArtifactInfo) versionACL {
	v := versionACL{owner: info.Owner}
	if v.owner == "" {
		v.owner = bucketOwner
	}
	a, err := decodeStoredACL(info.ACL, v.owner)
	if err != nil {
		// Grants nothing; the owner keeps FULL_CONTROL (evaluation).
		s.log.Error("s3: stored object ACL does not decode", "tenant", bucketOwner, "bucket", info.Container, "key", info.Key, "err", err)
		a = storedACL{}
	}
	v.acl = a
	return v
}

// writeACL decides the owner and the ACL of a new version written by the
// request in rc (PutObject, CopyObject, CreateMultipartUpload, POST
// Object) from its x-amz-acl and x-amz-grant-* headers. owner is "" when
// the bucket owner owns it, acl "" when it is private.
//
// Under BucketOwnerEnforced only the ACLs that keep the bucket owner's
// FULL_CONTROL alone are accepted (AccessControlListNotSupported
// otherwise) and the bucket owner owns the version. Where ACLs are
// enabled the writer's tenant owns it (an anonymous writer's version is
// the bucket owner's), except under BucketOwnerPreferred when the writer
// sends x-amz-acl: bucket-owner-full-control: then the bucket owner does.
// A copy never takes its source's ACL.
func (s *Server) writeACL(r *http.Request, rc *reqCtx) (owner, acl string, err error) {
	h := r.Header
	writer := rc.principal.Tenant
	if writer == "" {
		writer = rc.tenant
	}
	if writer == rc.tenant && checkACLHeaders(h) == nil {
		return "", "", nil // the bucket owner's, private, whatever the ownership
	}
	o, err := s.bucketOwnership(r, rc.tenant, rc.ep.Container)
	if err != nil {
		return "", "", err
	}
	if o == ownershipEnforced {
		return "", "", checkACLHeaders(h)
	}
	owner = writer
	if o == ownershipOwnerPreferred && h.Get("X-Amz-Acl") == "bucket-owner-full-control" {
		owner = rc.tenant
	}
	a, ok, err := readACLRequest(h, nil, owner, rc.tenant)
	if err != nil {
		return "", "", err
	}
	if !ok {
		a = privateACL(owner)
	}
	if err := s.checkNewACL(r, rc, a); err != nil {
		return "", "", err
	}
	if acl, err = a.storedValue(owner); err != nil {
		return "", "", err
	}
	if owner == rc.tenant {
		owner = ""
	}
	return owner, acl, nil
}

// checkNewACL checks an ACL about to be stored in rc's bucket: every
// grantee tenant exists, and a public ACL is refused under the
// BlockPublicAcls of the bucket or its tenant.
func (s *Server) checkNewACL(r *http.Request, rc *reqCtx, a storedACL) error {
	if err := s.checkGrantees(r, a); err != nil {
		return err
	}
	if a.public() {
		pab, err := s.publicAccessBlock(r.Context(), rc.tenant, rc.ep.Container)
		if err != nil {
			return err
		}
		if pab.BlockPublicAcls {
			return errPublicACLBlocked
		}
	}
	return nil
}

// objectACLTarget reads the owner and ACL of the version t addresses, for
// an action an object ACL decides, in a bucket whose ownership enables
// ACLs. nil means the bucket owner's rules alone decide: ACLs are
// disabled, or there is no such version (the handler answers that).
func (s *Server) objectACLTarget(ctx context.Context, r *http.Request, t accessTarget) (*versionACL, error) {
	o, err := s.bucketOwnership(r, t.owner, t.bucket)
	if errors.Is(err, node.ErrContainerNotFound) {
		return nil, nil
	}
	if err != nil || o == ownershipEnforced {
		return nil, err
	}
	info, err := s.eng.HeadArtifact(ctx, t.owner, node.VersionRef{Container: t.bucket, Key: t.key, VersionID: t.versionID, MetadataOnly: true})
	var dm *node.DeleteMarkerError
	switch {
	case errors.Is(err, node.ErrArtifactNotFound), errors.Is(err, node.ErrNoSuchVersion),
		errors.Is(err, node.ErrInvalidArgument), errors.As(err, &dm):
		return nil, nil
	case err != nil:
		return nil, err
	}
	v := s.versionACLOf(t.owner, info)
	return &v, nil
}

// objectACLDecision decides a request no policy denied on a version whose
// owner or ACL matters: one of another tenant's (or anonymous), or a
// version the bucket owner does not own. The version's owner has
// FULL_CONTROL. The bucket policy speaks only for the bucket owner's
// versions; a version another tenant owns is readable, even by the bucket
// owner, only where its ACL grants it (S3's rule). A requester with an
// identity policy also needs it to allow.
func (s *Server) objectACLDecision(r *http.Request, pr policy.Principal, t accessTarget, v *versionACL,
	bucketPol *policy.Policy, bucketDec policy.Decision, idPol *policy.Policy, idDec policy.Decision) error {
	if idPol != nil && idDec != policy.Allowed {
		return errImplicitDeny
	}
	if !pr.Anonymous() && pr.Tenant == v.owner {
		return nil
	}
	if v.owner == t.owner && bucketDec == policy.Allowed {
		return s.restrictPublicBucket(r.Context(), bucketPol, t)
	}
	ok, err := s.aclAllows(r, v.acl, objPermActions, pr, t)
	if err != nil {
		return err
	}
	if !ok {
		return errImplicitDeny
	}
	return nil
}

// ownerOf is the Owner a listing shows for a version: its owner where the
// bucket's ownership enables ACLs, the bucket owner otherwise. enabled
// caches the bucket's ownership for the listing (read at the first
// version another tenant owns).
func (s *Server) ownerOf(r *http.Request, rc *reqCtx, infoOwner string, enabled *int) owner {
	if infoOwner == "" || infoOwner == rc.tenant {
		return s.owner(rc)
	}
	if *enabled == 0 {
		*enabled = -1
		if o, err := s.bucketOwnership(r, rc.tenant, rc.ep.Container); err == nil && o != ownershipEnforced {
			*enabled = 1
		}
	}
	if *enabled < 0 {
		return s.owner(rc)
	}
	return owner{ID: infoOwner, DisplayName: infoOwner}
}
