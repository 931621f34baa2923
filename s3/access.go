package s3

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/policy"
)

// This file decides who may do what (docs/design.md, "Access control"):
// tenant-qualified bucket names, and the evaluation of bucket and identity
// policies and PublicAccessBlock for every request, in authorize.

// Container sub-resources stored through Engine.SetContainerConfig.
const (
	cfgPolicy            = "policy"
	cfgPublicAccessBlock = "public-access-block"
)

// opActions is the IAM action each operation is authorized as.
var opActions = map[Operation]string{
	OpListBuckets:                "s3:ListAllMyBuckets",
	OpCreateBucket:               "s3:CreateBucket",
	OpHeadBucket:                 "s3:ListBucket",
	OpDeleteBucket:               "s3:DeleteBucket",
	OpGetBucketLocation:          "s3:GetBucketLocation",
	OpListObjectsV1:              "s3:ListBucket",
	OpListObjectsV2:              "s3:ListBucket",
	OpListMultipartUploads:       "s3:ListBucketMultipartUploads",
	OpDeleteObjects:              "s3:DeleteObject", // each key is checked (deleteObjects)
	OpPutObject:                  "s3:PutObject",
	OpCopyObject:                 "s3:PutObject",
	OpGetObject:                  "s3:GetObject",
	OpHeadObject:                 "s3:GetObject",
	OpDeleteObject:               "s3:DeleteObject",
	OpCreateMultipartUpload:      "s3:PutObject",
	OpUploadPart:                 "s3:PutObject",
	OpUploadPartCopy:             "s3:PutObject",
	OpCompleteMultipartUpload:    "s3:PutObject",
	OpAbortMultipartUpload:       "s3:AbortMultipartUpload",
	OpListParts:                  "s3:ListMultipartUploadParts",
	OpGetBucketVersioning:        "s3:GetBucketVersioning",
	OpPutBucketVersioning:        "s3:PutBucketVersioning",
	OpListObjectVersions:         "s3:ListBucketVersions",
	OpGetObjectLockConfiguration: "s3:GetBucketObjectLockConfiguration",
	OpPutObjectLockConfiguration: "s3:PutBucketObjectLockConfiguration",
	OpGetBucketTagging:           "s3:GetBucketTagging",
	OpPutBucketTagging:           "s3:PutBucketTagging",
	OpDeleteBucketTagging:        "s3:PutBucketTagging",
	OpGetObjectTagging:           "s3:GetObjectTagging",
	OpPutObjectTagging:           "s3:PutObjectTagging",
	OpDeleteObjectTagging:        "s3:DeleteObjectTagging",
	OpGetObjectRetention:         "s3:GetObjectRetention",
	OpPutObjectRetention:         "s3:PutObjectRetention",
	OpGetObjectLegalHold:         "s3:GetObjectLegalHold",
	OpPutObjectLegalHold:         "s3:PutObjectLegalHold",
	OpGetObjectAttributes:        "s3:GetObjectAttributes",
	OpPostObject:                 "s3:PutObject",
	OpRestoreObject:              "s3:RestoreObject",
	OpGetBucketPolicy:            "s3:GetBucketPolicy",
	OpPutBucketPolicy:            "s3:PutBucketPolicy",
	OpDeleteBucketPolicy:         "s3:DeleteBucketPolicy",
	OpGetBucketPolicyStatus:      "s3:GetBucketPolicyStatus",
	OpGetPublicAccessBlock:       "s3:GetBucketPublicAccessBlock",
	OpPutPublicAccessBlock:       "s3:PutBucketPublicAccessBlock",
	OpDeletePublicAccessBlock:    "s3:PutBucketPublicAccessBlock",
	OpGetBucketOwnership:         "s3:GetBucketOwnershipControls",
	OpPutBucketOwnership:         "s3:PutBucketOwnershipControls",
	OpDeleteBucketOwnership:      "s3:PutBucketOwnershipControls",
	OpGetBucketACL:               "s3:GetBucketAcl",
	OpPutBucketACL:               "s3:PutBucketAcl",
	OpGetObjectACL:               "s3:GetObjectAcl",
	OpPutObjectACL:               "s3:PutObjectAcl",
	OpGetBucketCors:              "s3:GetBucketCORS",
	OpPutBucketCors:              "s3:PutBucketCORS",
	OpDeleteBucketCors:           "s3:PutBucketCORS",
	OpGetBucketLifecycle:         "s3:GetLifecycleConfiguration",
	OpPutBucketLifecycle:         "s3:PutLifecycleConfiguration",
	OpDeleteBucketLifecycle:      "s3:PutLifecycleConfiguration",
	OpGetBucketEncryption:        "s3:GetEncryptionConfiguration",
	OpPutBucketEncryption:        "s3:PutEncryptionConfiguration",
	OpDeleteBucketEncryption:     "s3:PutEncryptionConfiguration",
}

// versionedActions are the actions S3 names differently when the request
// addresses a version by id.
var versionedActions = map[string]string{
	"s3:GetObject":           "s3:GetObjectVersion",
	"s3:DeleteObject":        "s3:DeleteObjectVersion",
	"s3:GetObjectTagging":    "s3:GetObjectVersionTagging",
	"s3:PutObjectTagging":    "s3:PutObjectVersionTagging",
	"s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
	"s3:GetObjectAcl":        "s3:GetObjectVersionAcl",
	"s3:PutObjectAcl":        "s3:PutObjectVersionAcl",
	"s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}

// ownerRecoveryActions are what the tenant's root user may always do on
// its own buckets, whatever the bucket policy says, so that a policy
// denying everyone cannot lock the owner out for good (AWS lets the
// account root do the same).
var ownerRecoveryActions = map[string]bool{
	"s3:GetBucketPolicy": true, "s3:PutBucketPolicy": true, "s3:DeleteBucketPolicy": true,
}

// SplitQualified splits a tenant-qualified bucket name "tenant:bucket"
// (the form of Ceph RGW); ok is false for a plain name. Tenant ids never
// contain ':' and bucket names cannot, so the split is unambiguous.
func SplitQualified(name string) (tenant, bucket string, ok bool) {
	return strings.Cut(name, ":")
}

// ResolveBucket resolves the bucket name of a request made by requester
// (the tenant of its access key; "" for an unsigned request) to the
// tenant that owns it and its plain name. Plain names belong to the
// requester; "tenant:bucket" names a bucket of tenant (which must exist:
// NoSuchBucket otherwise, as S3 answers for a bucket nobody has). An
// unsigned request must use a tenant-qualified name (AccessDenied). It
// reads only the tenant record; the bucket's existence is for the caller.
func (s *Server) ResolveBucket(ctx context.Context, requester, name string) (owner, bucket string, err error) {
	t, b, ok := SplitQualified(name)
	if !ok {
		if requester == "" {
			return "", "", errAccessDenied
		}
		return requester, name, nil
	}
	if t == "" || b == "" || !validTenantID(t) {
		return "", "", errInvalidBucketName
	}
	if t == requester {
		return t, b, nil
	}
	exists, err := s.eng.TenantExists(ctx, t)
	if err != nil {
		return "", "", err
	}
	if !exists {
		return "", "", node.ErrContainerNotFound
	}
	return t, b, nil
}

// qualifyVirtualHost turns a virtual-hosted "bucket.tenant.<Domain>"
// into "tenant:bucket" when its last label names an existing tenant;
// any other name is returned as it is. (A dotted bucket name whose last
// label is a tenant id is thus read as tenant-qualified: docs/design.md,
// "Access control".)
func (s *Server) qualifyVirtualHost(ctx context.Context, r *http.Request, container string) string {
	if s.cfg.Domain == "" || strings.Contains(container, ":") {
		return container
	}
	vb, ok := vhostContainer(r.Host, s.cfg.Domain)
	if !ok || vb != container {
		return container
	}
	b, ok := s.qualifiedVirtualHostBucket(ctx, r.Host)
	if !ok {
		return container
	}
	return vb[len(b)+1:] + ":" + b
}

// qualifiedVirtualHostBucket returns the bucket of a virtual-hosted
// "bucket.tenant.<Domain>" whose last label names an existing tenant, the
// same condition qualifyVirtualHost reads it as "tenant:bucket" under.
func (s *Server) qualifiedVirtualHostBucket(ctx context.Context, host string) (string, bool) {
	vb, ok := vhostContainer(host, s.cfg.Domain)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(vb, '.')
	if i <= 0 || !validTenantID(vb[i+1:]) {
		return "", false
	}
	if ok, err := s.eng.TenantExists(ctx, vb[i+1:]); err != nil || !ok {
		return "", false
	}
	return vb[:i], true
}

// validTenantID matches the admin API's tenant ids.
func validTenantID(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// policyCache keeps parsed policies by document, so that a request pays
// for a map lookup, not a parse. Bounded: it is emptied when full.
type policyCache struct {
	mu struct {
		sync.Mutex
		m map[string]*policy.Policy
	}
}

const policyCacheMax = 4096

func (c *policyCache) get(doc string, kind policy.Kind) (*policy.Policy, error) {
	if doc == "" {
		return nil, nil
	}
	k := string(rune('0'+kind)) + doc
	c.mu.Lock()
	p, ok := c.mu.m[k]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := policy.Parse([]byte(doc), kind)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.mu.m == nil || len(c.mu.m) >= policyCacheMax {
		c.mu.m = map[string]*policy.Policy{}
	}
	c.mu.m[k] = p
	c.mu.Unlock()
	return p, nil
}

// isOwnerRoot reports whether the request was signed by the root user of
// the tenant that owns the addressed bucket.
func isOwnerRoot(rc *reqCtx) bool {
	return rc.principal.Tenant == rc.tenant && rc.principal.User == node.TenantRootUser
}

// accessTarget is one thing a request acts on.
type accessTarget struct {
	action        string
	owner, bucket string // bucket "" for ListAllMyBuckets
	key           string // "" for the bucket itself
	versioned     bool
	versionID     string // the version addressed ("" the latest)
}

// authorize decides the request in rc (its endpoint resolved, rc.tenant
// the owner of the addressed bucket, rc.principal the requester): AWS's
// evaluation of the bucket policy and the requester's identity policy,
// the PublicAccessBlocks, and x-amz-expected-bucket-owner. A copy also
// needs s3:GetObject on its source.
func (s *Server) authorize(ctx context.Context, r *http.Request, rc *reqCtx) error {
	if exp := r.Header.Get("X-Amz-Expected-Bucket-Owner"); exp != "" && rc.ep.Container != "" && exp != rc.tenant {
		return withMessage(errAccessDenied, "The expected bucket owner does not own the bucket.")
	}
	op := rc.ep.Op
	action, ok := opActions[op]
	if !ok {
		// An operation without an action is only for the tenant's own
		// users, as before policies.
		if rc.principal.Tenant != rc.tenant {
			return errImplicitDeny
		}
		return nil
	}
	q := r.URL.Query()
	t := accessTarget{action: action, owner: rc.tenant, bucket: rc.ep.Container, key: rc.ep.Key, versioned: q.Get("versionId") != "", versionID: q.Get("versionId")}
	if op == OpDeleteObjects {
		t.key = "" // the keys are checked one by one (authorizeKey)
		t.action = "s3:ListBucket"
		if err := s.authorizeTarget(ctx, r, rc, t); err != nil {
			// Without ListBucket a grantee may still delete what it may
			// delete; the per-key check decides. Only an explicit deny
			// or a missing bucket stops here.
			if !errors.Is(err, errImplicitDeny) {
				return err
			}
		}
		return nil
	}
	if err := s.authorizeTarget(ctx, r, rc, t); err != nil {
		return err
	}
	if op == OpCopyObject || op == OpUploadPartCopy {
		// The source resolves like a bucket name of the requester's
		// (plain: its own; "tenant:bucket": another tenant's) and is
		// authorized for reading by its own bucket's policy.
		src, err := s.copySourceOf(ctx, r, rc)
		if err != nil {
			return err
		}
		if exp := r.Header.Get("X-Amz-Source-Expected-Bucket-Owner"); exp != "" && exp != src.owner {
			return withMessage(errAccessDenied, "The expected source bucket owner does not own the bucket.")
		}
		st := accessTarget{action: "s3:GetObject", owner: src.owner, bucket: src.container, key: src.key, versioned: src.versionID != "", versionID: src.versionID}
		return s.authorizeTarget(ctx, r, rc, st)
	}
	return nil
}

// errImplicitDeny is an AccessDenied that no policy decided explicitly.
var errImplicitDeny = withMessage(errAccessDenied, "Access Denied")

// authorizeKey checks one more key of a request already authorized for
// its bucket (the keys of DeleteObjects).
func (s *Server) authorizeKey(ctx context.Context, r *http.Request, rc *reqCtx, action, key string, versioned bool) error {
	return s.authorizeTarget(ctx, r, rc, accessTarget{action: action, owner: rc.tenant, bucket: rc.ep.Container, key: key, versioned: versioned})
}

func (s *Server) authorizeTarget(ctx context.Context, r *http.Request, rc *reqCtx, t accessTarget) error {
	if t.versioned {
		if v, ok := versionedActions[t.action]; ok {
			t.action = v
		}
	}
	pr := rc.principal
	sameTenant := pr.Tenant == t.owner
	ownerRoot := sameTenant && pr.User == node.TenantRootUser
	// The bucket's policy (none for ListBuckets and CreateBucket).
	var bucketPol *policy.Policy
	if t.bucket != "" && rc.ep.Op != OpCreateBucket {
		doc, err := s.eng.ContainerConfig(ctx, t.owner, t.bucket, cfgPolicy)
		if err != nil {
			if errors.Is(err, node.ErrContainerNotFound) && sameTenant {
				return nil // the handler answers NoSuchBucket
			}
			return err
		}
		if bucketPol, err = s.policies.get(doc, policy.Bucket); err != nil {
			s.log.Error("s3: stored bucket policy does not parse", "tenant", t.owner, "bucket", t.bucket, "err", err)
			return errImplicitDeny
		}
	}
	if ownerRoot && ownerRecoveryActions[t.action] {
		return nil
	}
	// Identity policy of a user other than root.
	var idPol *policy.Policy
	if !pr.Anonymous() && pr.User != node.TenantRootUser {
		doc, err := s.eng.UserPolicy(ctx, pr.Tenant, pr.User)
		if err != nil {
			return err
		}
		if idPol, err = s.policies.get(doc, policy.Identity); err != nil {
			s.log.Error("s3: stored identity policy does not parse", "tenant", pr.Tenant, "user", pr.User, "err", err)
			return errImplicitDeny
		}
	}
	// The owner and ACL of the version addressed, where the bucket
	// enables ACLs and one decides the action (objacl.go).
	var ver *versionACL
	if t.key != "" && objectACLAction(t.action) {
		var err error
		if ver, err = s.objectACLTarget(ctx, r, t); err != nil {
			return err
		}
	}
	foreign := ver != nil && ver.owner != t.owner // not the bucket owner's
	if bucketPol == nil && idPol == nil && sameTenant && !foreign {
		return nil // the default: a tenant's users may do everything in it
	}
	req := s.policyRequest(ctx, r, rc, t, bucketPol, idPol)
	bucketDec := bucketPol.Evaluate(req)
	if bucketDec == policy.Denied {
		return withMessage(errAccessDenied, "Access Denied by the bucket policy")
	}
	idDec := policy.NotApplicable
	if idPol != nil {
		// The identity policy names other tenants' buckets qualified.
		idReq := *req
		if !sameTenant {
			idReq.Resource = resourceARN(t.owner+":"+t.bucket, t.key)
		}
		if idDec = idPol.Evaluate(&idReq); idDec == policy.Denied {
			return withMessage(errAccessDenied, "Access Denied by the user's policy")
		}
	}
	if ver != nil && (foreign || !sameTenant) {
		return s.objectACLDecision(r, pr, t, ver, bucketPol, bucketDec, idPol, idDec)
	}
	if sameTenant {
		// One account: either policy may allow; a user without an
		// identity policy keeps the tenant-wide default, root always.
		if ownerRoot || idPol == nil || idDec == policy.Allowed || bucketDec == policy.Allowed {
			return nil
		}
		return errImplicitDeny
	}
	// Another tenant or anonymous: the bucket policy must allow, and
	// the requester's own identity policy too (if it has one).
	if idPol != nil && idDec != policy.Allowed {
		return errImplicitDeny
	}
	if bucketDec != policy.Allowed {
		// No policy allows: the bucket ACL may (acl.go), below any
		// explicit deny above.
		ok, err := s.bucketACLAllows(r, pr, t)
		if err != nil {
			return err
		}
		if !ok {
			return errImplicitDeny
		}
		return nil
	}
	return s.restrictPublicBucket(ctx, bucketPol, t)
}

// restrictPublicBucket refuses what a public bucket policy allowed when
// the RestrictPublicBuckets of the bucket or its tenant is on.
func (s *Server) restrictPublicBucket(ctx context.Context, bucketPol *policy.Policy, t accessTarget) error {
	if bucketPol != nil && bucketPol.Public {
		pab, err := s.publicAccessBlock(ctx, t.owner, t.bucket)
		if err != nil {
			return err
		}
		if pab.RestrictPublicBuckets {
			return withMessage(errAccessDenied, "Access Denied: the bucket's public access is restricted (PublicAccessBlock)")
		}
	}
	return nil
}

// publicAccessBlock is the union of the tenant's and the bucket's.
func (s *Server) publicAccessBlock(ctx context.Context, tenant, bucket string) (policy.PublicAccessBlock, error) {
	tdoc, err := s.eng.TenantPublicAccessBlock(ctx, tenant)
	if err != nil {
		return policy.PublicAccessBlock{}, err
	}
	tp, err := policy.ParsePublicAccessBlock(tdoc)
	if err != nil {
		return policy.PublicAccessBlock{}, err
	}
	if bucket == "" {
		return tp, nil
	}
	bdoc, err := s.eng.ContainerConfig(ctx, tenant, bucket, cfgPublicAccessBlock)
	if err != nil {
		return policy.PublicAccessBlock{}, err
	}
	bp, err := policy.ParsePublicAccessBlock(bdoc)
	if err != nil {
		return policy.PublicAccessBlock{}, err
	}
	return tp.Or(bp), nil
}

func resourceARN(bucket, key string) string {
	if bucket == "" {
		return "*"
	}
	if key == "" {
		return "arn:aws:s3:::" + bucket
	}
	return "arn:aws:s3:::" + bucket + "/" + key
}

// policyRequest builds the request context the condition keys read.
func (s *Server) policyRequest(ctx context.Context, r *http.Request, rc *reqCtx, t accessTarget, pols ...*policy.Policy) *policy.Request {
	pr := rc.principal
	now := s.cfg.Now().UTC()
	c := map[string]string{
		policy.KeySecureTransport: strconv.FormatBool(r.TLS != nil),
		policy.KeyCurrentTime:     now.Format(time.RFC3339),
		policy.KeyEpochTime:       strconv.FormatInt(now.Unix(), 10),
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		c[policy.KeySourceIP] = host
	}
	h := r.Header
	set := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	set(policy.KeyReferer, h.Get("Referer"))
	set(policy.KeyUserAgent, h.Get("User-Agent"))
	if pr.Anonymous() {
		c[policy.KeyPrincipalType] = "Anonymous"
		c[policy.KeyAuthType] = ""
	} else {
		c[policy.KeyUsername] = pr.User
		c[policy.KeyUserID] = pr.User
		c[policy.KeyPrincipalAccount] = pr.Tenant
		c[policy.KeyPrincipalArn] = pr.ARN(node.TenantRootUser)
		c[policy.KeyPrincipalType] = "User"
		if pr.User == node.TenantRootUser {
			c[policy.KeyPrincipalType] = "Account"
		}
		switch {
		case rc.auth != nil && rc.auth.V2:
			c[policy.KeySignatureVersion] = "AWS"
		default:
			c[policy.KeySignatureVersion] = "AWS4-HMAC-SHA256"
		}
		switch {
		case rc.ep.Op == OpPostObject:
			c[policy.KeyAuthType] = "POST"
		case rc.auth != nil && rc.auth.Presigned:
			c[policy.KeyAuthType] = "REST-QUERY-STRING"
		default:
			c[policy.KeyAuthType] = "REST-HEADER"
		}
		if rc.auth != nil && rc.auth.PayloadHash != "" {
			c[policy.KeyContentSHA256] = rc.auth.PayloadHash
		}
	}
	if r.TLS != nil {
		c[policy.KeyTLSVersion] = tlsVersionName(r.TLS.Version)
	}
	q := r.URL.Query()
	switch t.action {
	case "s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads":
		if t.key == "" {
			c[policy.KeyPrefix] = q.Get("prefix")
			set(policy.KeyDelimiter, q.Get("delimiter"))
			set(policy.KeyMaxKeys, q.Get("max-keys"))
		}
	}
	set(policy.KeyVersionID, q.Get("versionId"))
	set(policy.KeyACL, h.Get("X-Amz-Acl"))
	set(policy.KeySSE, h.Get("X-Amz-Server-Side-Encryption"))
	set(policy.KeySSEKMSKeyID, h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"))
	set(policy.KeyCopySource, h.Get("X-Amz-Copy-Source"))
	set(policy.KeyMetadataDir, h.Get("X-Amz-Metadata-Directive"))
	set(policy.KeyStorageClass, h.Get("X-Amz-Storage-Class"))
	if tg := h.Get("X-Amz-Tagging"); tg != "" {
		if vals, err := url.ParseQuery(tg); err == nil {
			keys := make([]string, 0, len(vals))
			for k, v := range vals {
				keys = append(keys, k)
				if len(v) > 0 {
					c[policy.TagKey(policy.KeyRequestTag, k)] = v[0]
				}
			}
			c[policy.KeyRequestTagKeys] = strings.Join(keys, ",")
		}
	}
	if t.key != "" && needsExistingTags(pols) {
		ref := node.VersionRef{Container: t.bucket, Key: t.key, VersionID: q.Get("versionId")}
		if info, err := s.eng.HeadArtifact(ctx, t.owner, ref); err == nil {
			for k, v := range info.Tags {
				c[policy.TagKey(policy.KeyExistingTag, k)] = v
			}
		}
	}
	return &policy.Request{Principal: pr, Action: t.action, Resource: resourceARN(t.bucket, t.key), Context: c}
}

func needsExistingTags(pols []*policy.Policy) bool {
	for _, p := range pols {
		if p != nil && p.UsesExistingTags {
			return true
		}
	}
	return false
}

func tlsVersionName(v uint16) string {
	switch v {
	case 0x0303:
		return "1.2"
	case 0x0304:
		return "1.3"
	}
	return ""
}
