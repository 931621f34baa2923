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

// getBucketOwnership answers BucketOwnerEnforced: the only setting there
// is (S3's default for new buckets), whether or not it was put.
func (s *Server) getBucketOwnership(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	x := ownershipControlsXML{NS: s3NS}
	x.Rules = append(x.Rules, struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	}{ownershipEnforced})
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
	if len(x.Rules) != 1 {
		return errMalformedXML
	}
	switch o := x.Rules[0].ObjectOwnership; o {
	case ownershipEnforced:
	case "ObjectWriter", "BucketOwnerPreferred":
		return withMessage(errNotImplemented, "Object Ownership %s (ACLs enabled) is not supported; only BucketOwnerEnforced.", o)
	default:
		return errMalformedXML
	}
	if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// deleteBucketOwnership leaves BucketOwnerEnforced in force, as S3 does
// for a bucket created with it.
func (s *Server) deleteBucketOwnership(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type aclGrantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type aclXML struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	NS      string   `xml:"xmlns,attr"`
	Owner   owner    `xml:"Owner"`
	Grants  []struct {
		Grantee    aclGrantee `xml:"Grantee"`
		Permission string     `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// ownerACL is the ACL of everything under BucketOwnerEnforced: the owner
// has FULL_CONTROL.
func (s *Server) ownerACL(rc *reqCtx) aclXML {
	o := s.owner(rc)
	x := aclXML{NS: s3NS, Owner: o}
	x.Grants = append(x.Grants, struct {
		Grantee    aclGrantee `xml:"Grantee"`
		Permission string     `xml:"Permission"`
	}{aclGrantee{XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName}, "FULL_CONTROL"})
	return x
}

func (s *Server) getACL(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if rc.ep.Key == "" {
		if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
			return err
		}
	} else if _, err := s.headVersion(ctx, w, r, rc); err != nil {
		return err
	}
	return writeXML(w, s.ownerACL(rc))
}

// putACL accepts what leaves the owner's FULL_CONTROL alone: the canned
// ACLs private and bucket-owner-full-control, or a document granting only
// that. Anything else is AccessControlListNotSupported, as S3 answers
// when ACLs are disabled.
func (s *Server) putACL(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if err := checkACLHeaders(r.Header); err != nil {
		return err
	}
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		if r.Header.Get("X-Amz-Acl") != "" {
			return withMessage(errInvalidRequest, "Specify either the x-amz-acl header or an ACL document, not both.")
		}
		var x aclXML
		if err := decodeXML(data, &x); err != nil {
			return err
		}
		for _, g := range x.Grants {
			if g.Grantee.ID != rc.tenant || g.Permission != "FULL_CONTROL" {
				return errACLNotSupported
			}
		}
	} else if r.Header.Get("X-Amz-Acl") == "" {
		return withMessage(errMalformedXML, "Specify an ACL: the x-amz-acl header or an AccessControlPolicy document.")
	}
	if rc.ep.Key == "" {
		if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
			return err
		}
	} else if _, err := s.headVersion(ctx, w, r, rc); err != nil {
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
func checkObjectOwnershipHeader(h http.Header) error {
	switch o := h.Get("X-Amz-Object-Ownership"); o {
	case "", ownershipEnforced:
		return nil
	case "ObjectWriter", "BucketOwnerPreferred":
		return withMessage(errNotImplemented, "Object Ownership %s (ACLs enabled) is not supported; only BucketOwnerEnforced.", o)
	default:
		return withMessage(errInvalidArgument, "Invalid x-amz-object-ownership header: %s", o)
	}
}
