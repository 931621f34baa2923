package s3

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/vaultaire/vaultaire/checksum"
	"github.com/vaultaire/vaultaire/node"
)

// maxListKeys is the default and ceiling of max-keys.
const maxListKeys = 1000

// encodingType returns the key encoder of encoding-type: identity, or
// "url" (form-style percent-encoding that keeps '/' readable, decoded by
// the SDKs with unquote_plus).
func encodingType(q url.Values) (func(string) string, error) {
	switch q.Get("encoding-type") {
	case "":
		return func(s string) string { return s }, nil
	case "url":
		return func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/") }, nil
	}
	return nil, withMessage(errInvalidArgument, "Invalid Encoding Method specified in Request")
}

// Continuation tokens are opaque to clients: the base64url of the last key
// or common prefix returned (node.ListResult.Next).
func encodeToken(next string) string { return base64.RawURLEncoding.EncodeToString([]byte(next)) }

func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || len(b) > maxKeyLength {
		return "", withMessage(errInvalidArgument, "The continuation token provided is incorrect")
	}
	return string(b), nil
}

func (s *Server) listObjects(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx, v2 bool) error {
	q := r.URL.Query()
	enc, err := encodingType(q)
	if err != nil {
		return err
	}
	max, err := intParam(q, "max-keys", maxListKeys, maxListKeys)
	if err != nil {
		return err
	}
	opts := node.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: max}
	res := listBucketResult{
		NS: s3NS, Name: rc.ep.Container, Prefix: enc(opts.Prefix), Delimiter: enc(opts.Delimiter),
		MaxKeys: max, EncodingType: q.Get("encoding-type"),
	}
	withOwner := !v2 || q.Get("fetch-owner") == "true"
	if v2 {
		res.StartAfter = enc(q.Get("start-after"))
		opts.StartAfter = q.Get("start-after")
		if q.Has("continuation-token") {
			tok := q.Get("continuation-token")
			res.ContinuationToken = tok
			if opts.StartAfter, err = decodeToken(tok); err != nil {
				return err
			}
		}
	} else {
		marker := q.Get("marker")
		opts.StartAfter = marker
		m := enc(marker)
		res.Marker = &m
	}
	var lr node.ListResult
	if max == 0 {
		if _, err := s.eng.HeadContainer(ctx, rc.tenant, rc.ep.Container); err != nil {
			return err
		}
	} else if lr, err = s.eng.ListArtifacts(ctx, rc.tenant, rc.ep.Container, opts); err != nil {
		return err
	}
	ownerACLs := 0 // the bucket's ownership, read at need (ownerOf)
	for _, a := range lr.Artifacts {
		e := objectEntry{
			Key: enc(a.Key), LastModified: isoTime(a.Modified), ETag: quoteETag(a.ETag),
			Size: a.Size, StorageClass: storageClassOf(a.StorageClass),
		}
		for _, alg := range checksum.Algorithms {
			if _, ok := a.Checksums[alg.Name]; ok {
				e.ChecksumAlgorithm = append(e.ChecksumAlgorithm, alg.Name)
				e.ChecksumType = checksumTypeOf(a)
			}
		}
		if withOwner {
			o := s.ownerOf(r, rc, a.Owner, &ownerACLs)
			e.Owner = &o
		}
		res.Contents = append(res.Contents, e)
	}
	for _, p := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	res.IsTruncated = lr.Truncated
	if v2 {
		n := len(res.Contents) + len(res.CommonPrefixes)
		res.KeyCount = &n
		if lr.Truncated {
			res.NextContinuationToken = encodeToken(lr.Next)
		}
	} else if lr.Truncated {
		res.NextMarker = enc(lr.Next)
	}
	return writeXML(w, res)
}
