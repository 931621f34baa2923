package metastore

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble"
)

// ListArtifacts lists a container's artifacts in key order with S3
// prefix/delimiter/start-after/max-keys semantics. It reads only what it
// returns: keys that roll up into a common prefix are skipped with one seek
// past the prefix, never iterated. ErrContainerNotFound if the container
// does not exist.
func (s *Store) ListArtifacts(ctx context.Context, tenant, container string, o ListOptions, opts ...ReadOption) (ListResult, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return ListResult{}, err
	}
	defer end()
	if err := s.containerExists(tenant, container); err != nil {
		return ListResult{}, err
	}
	res, _, err := listArtifacts(s.db, tenant, container, o)
	return res, err
}

// listArtifacts is ListArtifacts on a reader; steps counts iterator
// positionings (for tests that check a listing touches only what it
// returns).
func listArtifacts(src iterSource, tenant, container string, o ListOptions) (res ListResult, steps int, err error) {
	max := o.MaxKeys
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	base := artifactPrefix(tenant, container)
	lower := append(append([]byte(nil), base...), o.Prefix...)
	upper := prefixEnd(lower)
	if upper == nil {
		upper = prefixEnd(base)
	}
	it, err := src.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return res, 0, err
	}
	defer it.Close()

	seek := lower
	if o.StartAfter != "" && o.StartAfter >= o.Prefix {
		if o.Delimiter != "" && isCommonPrefix(o.StartAfter, o.Prefix, o.Delimiter) {
			// A common prefix from an earlier page: skip all under it.
			seek = prefixEnd(append(append([]byte(nil), base...), o.StartAfter...))
		} else {
			seek = append(append(append([]byte(nil), base...), o.StartAfter...), 0)
		}
	}
	if seek == nil {
		return res, 0, nil
	}
	ok := it.SeekGE(seek)
	steps++
	for ok {
		if len(res.Artifacts)+len(res.CommonPrefixes) >= max {
			res.Truncated = true
			break
		}
		key := it.Key()[len(base):]
		if o.Delimiter != "" {
			rest := key[len(o.Prefix):]
			if i := bytes.Index(rest, []byte(o.Delimiter)); i >= 0 {
				cp := string(key[:len(o.Prefix)+i+len(o.Delimiter)])
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				res.Next = cp
				next := prefixEnd(append(append([]byte(nil), base...), cp...))
				if next == nil {
					break
				}
				ok = it.SeekGE(next)
				steps++
				continue
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return ListResult{}, steps, err
		}
		a, err := decodeArtifact(v)
		if err != nil {
			return ListResult{}, steps, fmt.Errorf("key %q: %w", key, err)
		}
		res.Artifacts = append(res.Artifacts, a)
		res.Next = a.Key
		ok = it.Next()
		steps++
	}
	if err := it.Error(); err != nil {
		return ListResult{}, steps, err
	}
	if !res.Truncated {
		res.Next = ""
	}
	return res, steps, nil
}

// isCommonPrefix reports whether marker has the shape of a common prefix
// of a listing with prefix and delimiter: prefix, then text without the
// delimiter, then the delimiter at its very end.
func isCommonPrefix(marker, prefix, delim string) bool {
	if !strings.HasPrefix(marker, prefix) || !strings.HasSuffix(marker, delim) {
		return false
	}
	rest := marker[len(prefix):]
	return strings.Index(rest, delim) == len(rest)-len(delim)
}

// ListUploads lists a container's multipart uploads ordered by key, then
// upload id, with S3 ListMultipartUploads semantics (see
// UploadListOptions). It returns the uploads, the common prefixes, and
// whether the listing was truncated. ErrContainerNotFound if the container
// does not exist.
func (s *Store) ListUploads(ctx context.Context, tenant, container string, o UploadListOptions, opts ...ReadOption) ([]Upload, []string, bool, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, nil, false, err
	}
	defer end()
	if err := s.containerExists(tenant, container); err != nil {
		return nil, nil, false, err
	}
	return listUploads(s.db, tenant, container, o)
}

func listUploads(src iterSource, tenant, container string, o UploadListOptions) ([]Upload, []string, bool, error) {
	max := o.MaxUploads
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	base := uploadPrefix(tenant, container)
	lower := appendEscapedPrefix(append([]byte(nil), base...), o.Prefix)
	upper := prefixEnd(lower)
	it, err := src.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, nil, false, err
	}
	defer it.Close()

	seek := lower
	switch {
	case o.KeyMarker == "" || o.KeyMarker < o.Prefix:
	case o.Delimiter != "" && isCommonPrefix(o.KeyMarker, o.Prefix, o.Delimiter):
		seek = prefixEnd(appendEscapedPrefix(append([]byte(nil), base...), o.KeyMarker))
	case o.UploadIDMarker != "":
		seek = append(append(appendEscaped(append([]byte(nil), base...), o.KeyMarker), o.UploadIDMarker...), 0)
	default:
		seek = prefixEnd(appendEscaped(append([]byte(nil), base...), o.KeyMarker))
	}
	var (
		uploads   []Upload
		prefixes  []string
		truncated bool
	)
	ok := seek != nil && it.SeekGE(seek)
	for ok {
		if len(uploads)+len(prefixes) >= max {
			truncated = true
			break
		}
		key, _, err := unescape(it.Key()[len(base):])
		if err != nil {
			return nil, nil, false, err
		}
		if o.Delimiter != "" {
			rest := key[len(o.Prefix):]
			if i := strings.Index(rest, o.Delimiter); i >= 0 {
				cp := key[:len(o.Prefix)+i+len(o.Delimiter)]
				prefixes = append(prefixes, cp)
				next := prefixEnd(appendEscapedPrefix(append([]byte(nil), base...), cp))
				if next == nil {
					break
				}
				ok = it.SeekGE(next)
				continue
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, nil, false, err
		}
		u, err := decodeUpload(v)
		if err != nil {
			return nil, nil, false, err
		}
		uploads = append(uploads, u)
		ok = it.Next()
	}
	if err := it.Error(); err != nil {
		return nil, nil, false, err
	}
	return uploads, prefixes, truncated, nil
}
