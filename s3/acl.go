package s3

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/policy"
)

// This file is the ACL model of buckets whose Object Ownership enables
// ACLs (ObjectWriter, BucketOwnerPreferred; docs/design.md, "ACLs"): the
// grants, their parsers (canned ACL, x-amz-grant-* headers, the
// AccessControlPolicy document) and what each permission allows. The
// ownership setting and the bucket's ACL live in the container
// configuration map next to the policy (cfgOwnership, cfgACL).

// Container configuration names of ownership and the bucket ACL.
const (
	cfgOwnership = "ownership"
	cfgACL       = "acl"
)

// Object Ownership settings.
const (
	ownershipObjectWriter   = "ObjectWriter"
	ownershipOwnerPreferred = "BucketOwnerPreferred"
)

// validOwnership reports whether o is an Object Ownership setting.
func validOwnership(o string) bool {
	return o == ownershipEnforced || o == ownershipObjectWriter || o == ownershipOwnerPreferred
}

// Errors of ACLs; each is in errorTable.
var (
	errMalformedACL          = errors.New("s3: malformed ACL")
	errUnresolvableGrant     = errors.New("s3: grant by email address")
	errInvalidACLOwnership   = errors.New("s3: ACL with BucketOwnerEnforced")
	errPublicACLBlocked      = withMessage(errAccessDenied, "Access Denied: the ACL is public and the PublicAccessBlock of the bucket or its tenant blocks public ACLs")
	errInvalidGranteeID      = withMessage(errInvalidArgument, "Invalid id")
	errInvalidGranteeURI     = withMessage(errInvalidArgument, "Invalid group uri")
	errCannedAndGrantHeaders = withMessage(errInvalidRequest, "Specifying both Canned ACLs and Header Grants is not allowed")
)

// ACL permissions.
const (
	permRead        = "READ"
	permWrite       = "WRITE"
	permReadACP     = "READ_ACP"
	permWriteACP    = "WRITE_ACP"
	permFullControl = "FULL_CONTROL"
)

// Group grantee URIs.
const (
	groupAllUsers      = "http://acs.amazonaws.com/groups/global/AllUsers"
	groupAuthenticated = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

// maxGrants is S3's limit on the grants of one ACL.
const maxGrants = 100

// aclGrant is one stored grant. Grantee is "id:TENANT" (every user of the
// tenant), "id:TENANT/USER" (one user), "uri:AllUsers" (everyone,
// anonymous included) or "uri:AuthenticatedUsers" (any signed request).
type aclGrant struct {
	Grantee string `json:"g"`
	Perm    string `json:"p"`
}

// storedACL is the stored form of an ACL: its grants, the owner's
// included.
type storedACL struct {
	Grants []aclGrant `json:"grants"`
}

// public reports whether the ACL grants anything to a group.
func (a storedACL) public() bool {
	for _, g := range a.Grants {
		if strings.HasPrefix(g.Grantee, "uri:") {
			return true
		}
	}
	return false
}

// ownerOnly reports whether the ACL grants nothing to anyone but owner.
func (a storedACL) ownerOnly(owner string) bool {
	for _, g := range a.Grants {
		if g.Grantee != "id:"+owner {
			return false
		}
	}
	return true
}

func (a storedACL) encode() string {
	b, _ := json.Marshal(a)
	return string(b)
}

func decodeStoredACL(doc, owner string) (storedACL, error) {
	if doc == "" {
		return privateACL(owner), nil
	}
	var a storedACL
	err := json.Unmarshal([]byte(doc), &a)
	return a, err
}

func privateACL(owner string) storedACL {
	return storedACL{Grants: []aclGrant{{"id:" + owner, permFullControl}}}
}

// cannedACL expands a canned ACL for a bucket or an object of owner's;
// bucketOwner is the owner of the bucket an object is written to.
func cannedACL(name, owner, bucketOwner string) (storedACL, bool) {
	a := privateACL(owner)
	switch name {
	case "private":
	case "public-read":
		a.Grants = append(a.Grants, aclGrant{"uri:AllUsers", permRead})
	case "public-read-write":
		a.Grants = append(a.Grants, aclGrant{"uri:AllUsers", permRead}, aclGrant{"uri:AllUsers", permWrite})
	case "authenticated-read":
		a.Grants = append(a.Grants, aclGrant{"uri:AuthenticatedUsers", permRead})
	case "bucket-owner-read":
		if bucketOwner != owner {
			a.Grants = append(a.Grants, aclGrant{"id:" + bucketOwner, permRead})
		}
	case "bucket-owner-full-control":
		if bucketOwner != owner {
			a.Grants = append(a.Grants, aclGrant{"id:" + bucketOwner, permFullControl})
		}
	default:
		return storedACL{}, false
	}
	return a, true
}

// grantHeaders maps the x-amz-grant-* headers to their permission.
var grantHeaders = []struct{ header, perm string }{
	{"X-Amz-Grant-Read", permRead},
	{"X-Amz-Grant-Write", permWrite},
	{"X-Amz-Grant-Read-Acp", permReadACP},
	{"X-Amz-Grant-Write-Acp", permWriteACP},
	{"X-Amz-Grant-Full-Control", permFullControl},
}

// hasGrantHeaders reports whether h carries any x-amz-grant-* header.
func hasGrantHeaders(h http.Header) bool {
	for _, g := range grantHeaders {
		if h.Get(g.header) != "" {
			return true
		}
	}
	return false
}

// parseGrantHeaders reads the x-amz-grant-* headers: each a comma
// separated list of id="...", uri="..." or emailAddress="..." grantees.
// The grantees are checked by checkGrantees.
func parseGrantHeaders(h http.Header) (storedACL, error) {
	var a storedACL
	for _, gh := range grantHeaders {
		for _, v := range h.Values(gh.header) {
			for _, item := range strings.Split(v, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					continue
				}
				k, val, ok := strings.Cut(item, "=")
				if !ok {
					return a, withMessage(errInvalidArgument, "Invalid grant %q in %s", item, gh.header)
				}
				val = strings.TrimSpace(val)
				if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
					val = val[1 : len(val)-1]
				}
				g, err := granteeOf(strings.TrimSpace(k), val)
				if err != nil {
					return a, err
				}
				a.Grants = append(a.Grants, aclGrant{g, gh.perm})
			}
		}
	}
	if len(a.Grants) > maxGrants {
		return a, withMessage(errMalformedACL, "An ACL may have at most %d grants", maxGrants)
	}
	return a, nil
}

// granteeOf turns a grantee kind ("id", "uri", "emailAddress", case as
// S3 accepts it) and value into the stored grantee.
func granteeOf(kind, val string) (string, error) {
	switch strings.ToLower(kind) {
	case "id", "canonicaluser":
		t, u, hasUser := strings.Cut(val, "/")
		if !validTenantID(t) || hasUser && u == "" {
			return "", errInvalidGranteeID
		}
		return "id:" + val, nil
	case "uri", "group":
		switch val {
		case groupAllUsers:
			return "uri:AllUsers", nil
		case groupAuthenticated:
			return "uri:AuthenticatedUsers", nil
		}
		return "", errInvalidGranteeURI
	case "emailaddress", "amazoncustomerbyemail":
		return "", errUnresolvableGrant
	}
	return "", withMessage(errInvalidArgument, "Invalid grantee type %q", kind)
}

// aclGranteeIn is a Grantee as clients send it; the xsi:type attribute is
// read whatever prefix declaration it comes with.
type aclGranteeIn struct {
	Attrs        []xml.Attr `xml:",any,attr"`
	ID           string     `xml:"ID"`
	URI          string     `xml:"URI"`
	EmailAddress string     `xml:"EmailAddress"`
}

type aclXMLIn struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   *owner   `xml:"Owner"`
	Grants  []struct {
		Grantee    *aclGranteeIn `xml:"Grantee"`
		Permission string        `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// parseACLDocument reads an AccessControlPolicy document of owner's
// resource. Grantee tenants are checked by checkGrantees.
func parseACLDocument(data []byte, owner string) (storedACL, error) {
	var x aclXMLIn
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&x); err != nil {
		return storedACL{}, withMessage(errMalformedACL, "The XML you provided was not well-formed or did not validate against our published schema")
	}
	if x.Owner != nil && x.Owner.ID != "" && x.Owner.ID != owner {
		return storedACL{}, withMessage(errAccessDenied, "The owner of an ACL cannot be changed")
	}
	if len(x.Grants) > maxGrants {
		return storedACL{}, withMessage(errMalformedACL, "An ACL may have at most %d grants", maxGrants)
	}
	var a storedACL
	for _, g := range x.Grants {
		if g.Grantee == nil {
			return storedACL{}, withMessage(errMalformedACL, "A Grant needs a Grantee")
		}
		switch g.Permission {
		case permRead, permWrite, permReadACP, permWriteACP, permFullControl:
		default:
			return storedACL{}, withMessage(errMalformedACL, "Invalid permission %q", g.Permission)
		}
		typ := ""
		for _, at := range g.Grantee.Attrs {
			if at.Name.Local == "type" {
				typ = at.Value
			}
		}
		var kind, val string
		switch {
		case typ == "CanonicalUser" || typ == "" && g.Grantee.ID != "":
			kind, val = "id", g.Grantee.ID
		case typ == "Group" || typ == "" && g.Grantee.URI != "":
			kind, val = "uri", g.Grantee.URI
		case typ == "AmazonCustomerByEmail" || typ == "" && g.Grantee.EmailAddress != "":
			kind, val = "emailAddress", g.Grantee.EmailAddress
		default:
			return storedACL{}, withMessage(errMalformedACL, "Invalid grantee type %q", typ)
		}
		ge, err := granteeOf(kind, strings.TrimSpace(val))
		if err != nil {
			return storedACL{}, err
		}
		a.Grants = append(a.Grants, aclGrant{ge, g.Permission})
	}
	return a, nil
}

// readACLRequest reads the ACL a request sets: its x-amz-acl, its
// x-amz-grant-* headers or its AccessControlPolicy document (data), for
// a resource of owner's in a bucket of bucketOwner's. ok is false when
// the request sets none.
func readACLRequest(h http.Header, data []byte, owner, bucketOwner string) (a storedACL, ok bool, err error) {
	canned := h.Get("X-Amz-Acl")
	grants := hasGrantHeaders(h)
	hasDoc := len(bytes.TrimSpace(data)) > 0
	switch {
	case canned != "" && grants:
		return a, false, errCannedAndGrantHeaders
	case hasDoc && (canned != "" || grants):
		return a, false, withMessage(errInvalidRequest, "Specify either ACL headers or an ACL document, not both.")
	case canned != "":
		a, ok := cannedACL(canned, owner, bucketOwner)
		if !ok {
			return a, false, withMessage(errInvalidArgument, "Invalid canned ACL %q", canned)
		}
		return a, true, nil
	case grants:
		a, err := parseGrantHeaders(h)
		return a, err == nil, err
	case hasDoc:
		a, err := parseACLDocument(data, owner)
		return a, err == nil, err
	}
	return a, false, nil
}

// checkGrantees checks that every tenant an ACL names exists.
func (s *Server) checkGrantees(r *http.Request, a storedACL) error {
	for _, g := range a.Grants {
		id, ok := strings.CutPrefix(g.Grantee, "id:")
		if !ok {
			continue
		}
		t, _, _ := strings.Cut(id, "/")
		exists, err := s.eng.TenantExists(r.Context(), t)
		if err != nil {
			return err
		}
		if !exists {
			return errInvalidGranteeID
		}
	}
	return nil
}

// permActions is what each bucket permission allows besides
// FULL_CONTROL, which allows all of them.
var permActions = map[string]map[string]bool{
	permRead:     {"s3:ListBucket": true, "s3:ListBucketVersions": true, "s3:ListBucketMultipartUploads": true},
	permWrite:    {"s3:PutObject": true, "s3:DeleteObject": true, "s3:DeleteObjectVersion": true, "s3:AbortMultipartUpload": true},
	permReadACP:  {"s3:GetBucketAcl": true},
	permWriteACP: {"s3:PutBucketAcl": true},
}

// objPermActions is what each object permission allows besides
// FULL_CONTROL (all of them), as S3 documents: READ reads the object
// (GET and HEAD), READ_ACP its ACL, WRITE_ACP writes its ACL; each also
// by version id. WRITE means nothing on an object.
var objPermActions = map[string]map[string]bool{
	permRead:     {"s3:GetObject": true, "s3:GetObjectVersion": true},
	permReadACP:  {"s3:GetObjectAcl": true, "s3:GetObjectVersionAcl": true},
	permWriteACP: {"s3:PutObjectAcl": true, "s3:PutObjectVersionAcl": true},
}

// objectACLAction reports whether an object ACL decides action.
func objectACLAction(action string) bool {
	for _, acts := range objPermActions {
		if acts[action] {
			return true
		}
	}
	return false
}

// grants reports whether permission perm allows action on a bucket.
func grants(perm, action string) bool { return permAllows(permActions, perm, action) }

// permAllows reports whether permission perm allows action, by table (of
// buckets or objects).
func permAllows(table map[string]map[string]bool, perm, action string) bool {
	if perm == permFullControl {
		for _, acts := range table {
			if acts[action] {
				return true
			}
		}
		return false
	}
	return table[perm][action]
}

// matches reports whether grantee g names principal pr.
func granteeMatches(g string, pr policy.Principal) bool {
	switch g {
	case "uri:AllUsers":
		return true
	case "uri:AuthenticatedUsers":
		return !pr.Anonymous()
	}
	id, ok := strings.CutPrefix(g, "id:")
	if !ok || pr.Anonymous() {
		return false
	}
	t, u, hasUser := strings.Cut(id, "/")
	return t == pr.Tenant && (!hasUser || u == pr.User)
}

// bucketOwnership is the Object Ownership of a bucket (BucketOwnerEnforced
// unless another was put).
func (s *Server) bucketOwnership(r *http.Request, tenant, bucket string) (string, error) {
	o, err := s.eng.ContainerConfig(r.Context(), tenant, bucket, cfgOwnership)
	if err != nil || o == "" {
		return ownershipEnforced, err
	}
	return o, nil
}

// bucketACLAllows decides what the bucket ACL grants a request of another
// tenant or an anonymous one that no policy allowed: nothing while the
// bucket's ownership is BucketOwnerEnforced; group grants are ignored
// under IgnorePublicAcls.
func (s *Server) bucketACLAllows(r *http.Request, pr policy.Principal, t accessTarget) (bool, error) {
	if t.bucket == "" {
		return false, nil
	}
	o, err := s.bucketOwnership(r, t.owner, t.bucket)
	if errors.Is(err, node.ErrContainerNotFound) {
		return false, nil // CreateBucket of another tenant's name
	}
	if err != nil || o == ownershipEnforced {
		return false, err
	}
	doc, err := s.eng.ContainerConfig(r.Context(), t.owner, t.bucket, cfgACL)
	if err != nil {
		return false, err
	}
	a, err := decodeStoredACL(doc, t.owner)
	if err != nil {
		s.log.Error("s3: stored bucket ACL does not decode", "tenant", t.owner, "bucket", t.bucket, "err", err)
		return false, nil
	}
	return s.aclAllows(r, a, permActions, pr, t)
}

// aclAllows is the one evaluator of ACLs, of buckets and of objects
// (table says which): whether a grant of a, to a grantee naming pr,
// allows t.action. Group grants are ignored under the IgnorePublicAcls of
// the bucket or its tenant.
func (s *Server) aclAllows(r *http.Request, a storedACL, table map[string]map[string]bool, pr policy.Principal, t accessTarget) (bool, error) {
	var pab *policy.PublicAccessBlock
	for _, g := range a.Grants {
		if !permAllows(table, g.Perm, t.action) || !granteeMatches(g.Grantee, pr) {
			continue
		}
		if strings.HasPrefix(g.Grantee, "uri:") {
			if pab == nil {
				p, err := s.publicAccessBlock(r.Context(), t.owner, t.bucket)
				if err != nil {
					return false, err
				}
				pab = &p
			}
			if pab.IgnorePublicAcls {
				continue
			}
		}
		return true, nil
	}
	return false, nil
}

// aclToXML renders a stored ACL of owner's.
func aclToXML(a storedACL, ownerID string) aclXML {
	x := aclXML{NS: s3NS, Owner: owner{ID: ownerID, DisplayName: ownerID}}
	for _, g := range a.Grants {
		ge := aclGrantee{XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance"}
		if id, ok := strings.CutPrefix(g.Grantee, "id:"); ok {
			ge.Type, ge.ID, ge.DisplayName = "CanonicalUser", id, id
		} else {
			ge.Type = "Group"
			switch g.Grantee {
			case "uri:AllUsers":
				ge.URI = groupAllUsers
			case "uri:AuthenticatedUsers":
				ge.URI = groupAuthenticated
			}
		}
		x.Grants = append(x.Grants, aclGrantXML{ge, g.Perm})
	}
	return x
}
