package s3

import (
	"context"
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/vaultaire/vaultaire/node"
)

const maxListBuckets = 10000

func (s *Server) owner(rc *reqCtx) owner { return owner{ID: rc.tenant, DisplayName: rc.tenant} }

func (s *Server) listBuckets(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	max := maxListBuckets
	if v := q.Get("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListBuckets {
			return withMessage(errInvalidArgument, "max-buckets must be an integer between 1 and 10000")
		}
		max = n
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return withMessage(errInvalidArgument, "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	prefix := q.Get("prefix")
	cs, err := s.eng.ListContainers(ctx, rc.tenant)
	if err != nil {
		return err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	res := listAllMyBucketsResult{NS: s3NS, Owner: s.owner(rc), Buckets: []bucketInfo{}, Prefix: prefix}
	for _, c := range cs {
		if c.Name <= after && after != "" || !strings.HasPrefix(c.Name, prefix) {
			continue
		}
		if len(res.Buckets) == max {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets[max-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, bucketInfo{Name: c.Name, CreationDate: isoTime(c.Created), BucketRegion: s.regionOf(c)})
	}
	return writeXML(w, res)
}

func (s *Server) createBucket(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ownership, err := checkObjectOwnershipHeader(r.Header)
	if err != nil {
		return err
	}
	acl, hasACL, err := readACLRequest(r.Header, nil, rc.tenant, rc.tenant)
	if err != nil {
		return err
	}
	if hasACL && ownership == ownershipEnforced && !acl.ownerOnly(rc.tenant) {
		return errACLNotSupported
	}
	if hasACL && !acl.ownerOnly(rc.tenant) {
		if err := s.checkGrantees(r, acl); err != nil {
			return err
		}
		if acl.public() {
			pab, err := s.publicAccessBlock(ctx, rc.tenant, "")
			if err != nil {
				return err
			}
			if pab.BlockPublicAcls {
				return errPublicACLBlocked
			}
		}
	}
	in := node.CreateContainerInput{Name: rc.ep.Container}
	// Ownership and ACL other than the defaults are written by the
	// command that creates the bucket, so it never exists without them.
	if ownership != ownershipEnforced {
		in.Config = map[string]string{cfgOwnership: ownership}
		if hasACL && !acl.ownerOnly(rc.tenant) {
			in.Config[cfgACL] = acl.encode()
		}
	}
	switch v := strings.TrimSpace(r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled")); {
	case v == "" || strings.EqualFold(v, "false"):
	case strings.EqualFold(v, "true"):
		in.ObjectLock = true
	default:
		return withMessage(errInvalidArgument, "x-amz-bucket-object-lock-enabled must be true or false")
	}
	b, err := s.openBody(r, rc, s.cfg.MaxPutSize)
	if err != nil {
		return err
	}
	data, err := readAllVerified(b, maxXMLBody)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		var cfg createBucketConfiguration
		if err := decodeXML(data, &cfg); err != nil {
			return err
		}
		if cfg.Location != nil || cfg.Bucket != nil {
			return withMessage(errNotImplemented, "Directory buckets are not supported.")
		}
		lc := strings.TrimSpace(cfg.LocationConstraint)
		if !s.servesRegion(lc) {
			return withMessage(errIllegalLocationConstraint, "The %s location constraint is incompatible for the region specific endpoint this request was sent to.", lc)
		}
		if lc != s.cfg.Region {
			in.Location = lc
		}
	}
	if err := s.eng.CreateContainer(ctx, rc.tenant, in); err != nil {
		return err
	}
	w.Header().Set("Location", "/"+rc.ep.Container)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// servesRegion reports whether a bucket may be created in region lc here:
// the server's region (also as "", or "US" for us-east-1, as S3 accepts)
// and the operator's extra regions.
func (s *Server) servesRegion(lc string) bool {
	if lc == "" || lc == s.cfg.Region || lc == "US" && s.cfg.Region == "us-east-1" {
		return true
	}
	for _, r := range s.cfg.ExtraRegions {
		if lc == r {
			return true
		}
	}
	return false
}

// regionOf is the region a container lives in.
func (s *Server) regionOf(c node.ContainerInfo) string {
	if c.Location != "" {
		return c.Location
	}
	return s.cfg.Region
}

func (s *Server) headBucket(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	c, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container)
	if err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", s.regionOf(c))
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if err := s.eng.DeleteContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketLocation(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	c, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container)
	if err != nil {
		return err
	}
	loc := s.regionOf(c)
	if loc == "us-east-1" {
		// S3 reports the original region as an empty constraint.
		loc = ""
	}
	return writeXML(w, locationConstraint{NS: s3NS, Value: loc})
}
