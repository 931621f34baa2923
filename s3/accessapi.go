package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/vaultaire/vaultaire/policy"
)

// This file serves the access-control sub-resources of a bucket: ?policy,
// ?policyStatus, ?publicAccessBlock, ?ownershipControls and ?acl (of
// buckets and objects). Who may call them is decided by authorize, like
// every request.

// Errors of access control; each is in errorTable.
var (
	errMalformedPolicy         = errors.New("s3: malformed policy")
	errNoSuchBucketPolicy      = errors.New("s3: no bucket policy")
	errNoSuchPublicAccessBlock = errors.New("s3: no public access block")
	errACLNotSupported         = errors.New("s3: ACLs not supported")
)

// ownershipEnforced is the one Object Ownership setting served: ACLs are
// disabled and the bucket owner owns every object (S3's default).
const ownershipEnforced = "BucketOwnerEnforced"

func (s *Server) getBucketPolicy(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	doc, err := s.eng.ContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgPolicy)
	if err != nil {
		return err
	}
	if doc == "" {
		return errNoSuchBucketPolicy
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(doc))
	return err
}

func (s *Server) putBucketPolicy(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	b, err := s.openBody(r, rc, s.cfg.MaxPutSize)
	if err != nil {
		return err
	}
	if b.size > policy.MaxSize {
		return withMessage(errMalformedPolicy, "Policies must be no larger than %d bytes", policy.MaxSize)
	}
	data, err := readAllVerified(b, policy.MaxSize)
	if err != nil {
		return err
	}
	p, err := policy.Parse(data, policy.Bucket)
	if err != nil {
		return withMessage(errMalformedPolicy, "%s", strings.TrimPrefix(err.Error(), "policy: malformed: "))
	}
	if res, ok := p.ResourcesWithin(rc.ep.Container); !ok {
		return withMessage(errMalformedPolicy, "Policy has invalid resource %q: it must be in bucket %q", res, rc.ep.Container)
	}
	if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	if p.Public {
		pab, err := s.publicAccessBlock(ctx, rc.tenant, rc.ep.Container)
		if err != nil {
			return err
		}
		if pab.BlockPublicPolicy {
			return withMessage(errAccessDenied, "The policy is public and the PublicAccessBlock of the bucket or its tenant blocks public policies")
		}
	}
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgPolicy, string(data)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteBucketPolicy(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgPolicy, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type policyStatusXML struct {
	XMLName  xml.Name `xml:"PolicyStatus"`
	NS       string   `xml:"xmlns,attr"`
	IsPublic bool     `xml:"IsPublic"`
}

func (s *Server) getBucketPolicyStatus(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	doc, err := s.eng.ContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgPolicy)
	if err != nil {
		return err
	}
	if doc == "" {
		return errNoSuchBucketPolicy
	}
	p, err := s.policies.get(doc, policy.Bucket)
	if err != nil {
		return err
	}
	return writeXML(w, policyStatusXML{NS: s3NS, IsPublic: p.Public})
}

type publicAccessBlockXML struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	NS                    string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       *bool    `xml:"BlockPublicAcls"`
	IgnorePublicAcls      *bool    `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     *bool    `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets *bool    `xml:"RestrictPublicBuckets"`
}

func (s *Server) getPublicAccessBlock(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	doc, err := s.eng.ContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgPublicAccessBlock)
	if err != nil {
		return err
	}
	if doc == "" {
		return errNoSuchPublicAccessBlock
	}
	p, err := policy.ParsePublicAccessBlock(doc)
	if err != nil {
		return err
	}
	return writeXML(w, publicAccessBlockXML{NS: s3NS, BlockPublicAcls: &p.BlockPublicAcls, IgnorePublicAcls: &p.IgnorePublicAcls,
		BlockPublicPolicy: &p.BlockPublicPolicy, RestrictPublicBuckets: &p.RestrictPublicBuckets})
}

func (s *Server) putPublicAccessBlock(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	var x publicAccessBlockXML
	if err := decodeXML(data, &x); err != nil {
		return err
	}
	val := func(b *bool) bool { return b != nil && *b }
	p := policy.PublicAccessBlock{BlockPublicAcls: val(x.BlockPublicAcls), IgnorePublicAcls: val(x.IgnorePublicAcls),
		BlockPublicPolicy: val(x.BlockPublicPolicy), RestrictPublicBuckets: val(x.RestrictPublicBuckets)}
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgPublicAccessBlock, p.String()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deletePublicAccessBlock(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgPublicAccessBlock, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type ownershipControlsXML struct {
	XMLName xml.Name `xml:"OwnershipControls"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Rules   []struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	} `xml:"Rule"`
}

// getBucketOwnership answers the bucket's Object Ownership:
// BucketOwnerEnforced (S3's default for new buckets) unless another was
// put.
func (s *Server) getBucketOwnership(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	o, err := s.bucketOwnership(r, rc.tenant, rc.ep.Container)
	if err != nil {
		return err
	}
	x := ownershipControlsXML{NS: s3NS}
	x.Rules = append(x.Rules, struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	}{o})
	return writeXML(w, x)
}

func (s *Server) putBucketOwnership(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	var x ownershipControlsXML
	if err := decodeXML(data, &x); err != nil {
		return err
	}
	if len(x.Rules) != 1 || !validOwnership(x.Rules[0].ObjectOwnership) {
		return errMalformedXML
	}
	return s.setOwnership(ctx, w, r, rc, x.Rules[0].ObjectOwnership, http.StatusOK)
}

// setOwnership stores Object Ownership o. Enforcing bucket ownership is
// refused while the bucket ACL grants anything to anyone but the owner,
// as S3 does.
func (s *Server) setOwnership(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx, o string, status int) error {
	if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	if o == ownershipEnforced {
		doc, err := s.eng.ContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgACL)
		if err != nil {
			return err
		}
		a, err := decodeStoredACL(doc, rc.tenant)
		if err != nil {
			return err
		}
		if !a.ownerOnly(rc.tenant) {
			return errInvalidACLOwnership
		}
		o = "" // the default
	}
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgOwnership, o); err != nil {
		return err
	}
	w.WriteHeader(status)
	return nil
}

// deleteBucketOwnership returns the bucket to BucketOwnerEnforced, the
// default of this server (refused, like a put of it, while the bucket
// ACL grants to others).
func (s *Server) deleteBucketOwnership(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return s.setOwnership(ctx, w, r, rc, ownershipEnforced, http.StatusNoContent)
}

type aclGrantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID,omitempty"`
	DisplayName string `xml:"DisplayName,omitempty"`
	URI         string `xml:"URI,omitempty"`
}

type aclGrantXML struct {
	Grantee    aclGrantee `xml:"Grantee"`
	Permission string     `xml:"Permission"`
}

type aclXML struct {
	XMLName xml.Name      `xml:"AccessControlPolicy"`
	NS      string        `xml:"xmlns,attr"`
	Owner   owner         `xml:"Owner"`
	Grants  []aclGrantXML `xml:"AccessControlList>Grant"`
}

// ownerACL is the ACL of everything under BucketOwnerEnforced: the owner
// has FULL_CONTROL.
func (s *Server) ownerACL(rc *reqCtx) aclXML {
	return aclToXML(privateACL(rc.tenant), rc.tenant)
}

func (s *Server) getACL(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if rc.ep.Key == "" {
		if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
			return err
		}
		o, err := s.bucketOwnership(r, rc.tenant, rc.ep.Container)
		if err != nil {
			return err
		}
		if o != ownershipEnforced {
			doc, err := s.eng.ContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgACL)
			if err != nil {
				return err
			}
			a, err := decodeStoredACL(doc, rc.tenant)
			if err != nil {
				return err
			}
			return writeXML(w, aclToXML(a, rc.tenant))
		}
	} else {
		info, err := s.headVersion(ctx, w, r, rc)
		if err != nil {
			return err
		}
		o, err := s.bucketOwnership(r, rc.tenant, rc.ep.Container)
		if err != nil {
			return err
		}
		if o != ownershipEnforced {
			v := s.versionACLOf(rc.tenant, info)
			return writeXML(w, aclToXML(v.acl, v.owner))
		}
	}
	return writeXML(w, s.ownerACL(rc))
}

// putACL sets a bucket's or a version's ACL where the bucket's ownership
// enables ACLs. Under BucketOwnerEnforced it accepts what leaves the
// owner's FULL_CONTROL alone: the canned ACLs private and
// bucket-owner-full-control, or a document granting only that. Anything
// else is AccessControlListNotSupported, as S3 answers when ACLs are
// disabled.
func (s *Server) putACL(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	if rc.ep.Key != "" {
		o, err := s.bucketOwnership(r, rc.tenant, rc.ep.Container)
		if err != nil {
			return err
		}
		if o != ownershipEnforced {
			return s.putObjectACL(ctx, w, r, rc, data)
		}
	}
	a, ok, err := readACLRequest(r.Header, data, rc.tenant, rc.tenant)
	if err != nil {
		return err
	}
	if !ok {
		return withMessage(errMalformedXML, "Specify an ACL: the x-amz-acl header, x-amz-grant-* headers or an AccessControlPolicy document.")
	}
	if rc.ep.Key == "" {
		if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
			return err
		}
		o, err := s.bucketOwnership(r, rc.tenant, rc.ep.Container)
		if err != nil {
			return err
		}
		if o != ownershipEnforced {
			if err := s.checkNewACL(r, rc, a); err != nil {
				return err
			}
			if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, cfgACL, a.encode()); err != nil {
				return err
			}
			w.WriteHeader(http.StatusOK)
			return nil
		}
	}
	if !a.ownerOnly(rc.tenant) {
		return errACLNotSupported
	}
	if rc.ep.Key != "" {
		if _, err := s.headVersion(ctx, w, r, rc); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// putObjectACL replaces the ACL of a version (the latest, or the one
// versionId names) in a bucket whose ownership enables ACLs. The
// version's owner stays; a document naming another owner is refused.
func (s *Server) putObjectACL(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx, data []byte) error {
	info, err := s.headVersion(ctx, w, r, rc)
	if err != nil {
		return err
	}
	owner := s.versionACLOf(rc.tenant, info).owner
	a, ok, err := readACLRequest(r.Header, data, owner, rc.tenant)
	if err != nil {
		return err
	}
	if !ok {
		return withMessage(errMalformedXML, "Specify an ACL: the x-amz-acl header, x-amz-grant-* headers or an AccessControlPolicy document.")
	}
	if err := s.checkNewACL(r, rc, a); err != nil {
		return err
	}
	v, err := a.storedValue(owner)
	if err != nil {
		return err
	}
	// The version read above, by id, so that a write in between does not
	// get this ACL (the latest null version is named by the key).
	ref, err := versionRef(r, rc)
	if err != nil {
		return err
	}
	if ref.VersionID == "" {
		ref.VersionID = info.VersionID
	}
	if _, err := s.eng.SetArtifactACL(ctx, rc.tenant, ref, v); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// aclGrantHeaders are the grant headers of the ACL API.
var aclGrantHeaders = []string{"X-Amz-Grant-Read", "X-Amz-Grant-Write", "X-Amz-Grant-Read-Acp", "X-Amz-Grant-Write-Acp", "X-Amz-Grant-Full-Control"}

// checkACLHeaders allows the canned ACLs that keep BucketOwnerEnforced
// true (private, bucket-owner-full-control) and refuses every other ACL
// or grant with AccessControlListNotSupported.
func checkACLHeaders(h http.Header) error {
	switch h.Get("X-Amz-Acl") {
	case "", "private", "bucket-owner-full-control":
	default:
		return errACLNotSupported
	}
	for _, g := range aclGrantHeaders {
		if h.Get(g) != "" {
			return errACLNotSupported
		}
	}
	return nil
}

// checkObjectOwnershipHeader reads CreateBucket's x-amz-object-ownership.
func checkObjectOwnershipHeader(h http.Header) (string, error) {
	o := h.Get("X-Amz-Object-Ownership")
	switch {
	case o == "":
		return ownershipEnforced, nil
	case validOwnership(o):
		return o, nil
	}
	return "", withMessage(errInvalidArgument, "Invalid x-amz-object-ownership header: %s", o)
}
