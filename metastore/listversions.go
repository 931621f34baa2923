package metastore

import (
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble"
)

// GetLatest returns the latest version of a key: the current artifact, or
// the delete marker that makes the key read as deleted (DeleteMarker set).
// ErrArtifactNotFound when the key has neither, ErrContainerNotFound.
func (s *Store) GetLatest(ctx context.Context, tenant, container, key string, opts ...ReadOption) (Artifact, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Artifact{}, err
	}
	defer end()
	v, err := getCopy(s.db, artifactKey(tenant, container, key))
	if err != nil {
		return Artifact{}, err
	}
	if v != nil {
		return decodeArtifact(v)
	}
	if err := s.containerExists(tenant, container); err != nil {
		return Artifact{}, err
	}
	// Invariant 2 (versions.go): the newest version-table record is a
	// delete marker, or there is none.
	p := versionKeyPrefix(tenant, container, key)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return Artifact{}, err
	}
	defer it.Close()
	if it.First() {
		a, err := decodeArtifact(it.Value())
		if err != nil {
			return Artifact{}, err
		}
		if a.DeleteMarker {
			return a, nil
		}
	}
	if err := it.Error(); err != nil {
		return Artifact{}, err
	}
	return Artifact{}, fmt.Errorf("%w: %q", ErrArtifactNotFound, key)
}

// GetVersion returns one version of a key by id ("null" for the null
// version), delete markers included. ErrNoSuchVersion when the key has no
// such version, ErrInvalidArgument for an id this store never gives out,
// ErrContainerNotFound.
func (s *Store) GetVersion(ctx context.Context, tenant, container, key, versionID string, opts ...ReadOption) (Artifact, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Artifact{}, err
	}
	defer end()
	if err := s.containerExists(tenant, container); err != nil {
		return Artifact{}, err
	}
	var seq uint64
	if versionID != NullVersion {
		var ok bool
		if seq, ok = parseVersionID(versionID); !ok {
			return Artifact{}, fmt.Errorf("%w: invalid version id %q", ErrInvalidArgument, versionID)
		}
	}
	cur, err := getCopy(s.db, artifactKey(tenant, container, key))
	if err != nil {
		return Artifact{}, err
	}
	if cur != nil {
		a, err := decodeArtifact(cur)
		if err != nil {
			return Artifact{}, err
		}
		if a.VersionID == versionID || versionID == NullVersion && a.VersionID == "" {
			return a, nil
		}
	}
	if versionID == NullVersion {
		nv, err := getCopy(s.db, nullVersionKey(tenant, container, key))
		if err != nil {
			return Artifact{}, err
		}
		if nv == nil {
			return Artifact{}, fmt.Errorf("%w: %q has no null version", ErrNoSuchVersion, key)
		}
		d := decoder{b: nv}
		seq = d.uvarint()
		if err := d.done(); err != nil {
			return Artifact{}, corrupt("null version index", err)
		}
	}
	v, err := getCopy(s.db, versionKey(tenant, container, key, seq))
	if err != nil {
		return Artifact{}, err
	}
	if v == nil {
		return Artifact{}, fmt.Errorf("%w: %q version %s", ErrNoSuchVersion, key, versionID)
	}
	a, err := decodeArtifact(v)
	if err != nil {
		return Artifact{}, err
	}
	if versionID != NullVersion && a.VersionID != versionID || versionID == NullVersion && a.VersionID != "" {
		return Artifact{}, fmt.Errorf("%w: %q version %s", ErrNoSuchVersion, key, versionID)
	}
	return a, nil
}

// VersionListOptions select versions for ListObjectVersions: keys in S3
// byte order, the versions of each key newest first.
type VersionListOptions struct {
	Prefix    string
	Delimiter string
	// KeyMarker and VersionIDMarker: with a VersionIDMarker, the versions
	// of KeyMarker older than that version come first, then the keys after
	// KeyMarker; without one, listing starts after KeyMarker. A KeyMarker
	// that is a common prefix skips every key under it.
	KeyMarker       string
	VersionIDMarker string
	// MaxKeys is the page size (versions plus common prefixes); 0 or above
	// MaxListKeys means MaxListKeys.
	MaxKeys int
}

// VersionListResult is one page of versions. Each Version has IsLatest
// set when it is the latest version of its key. When Truncated, pass
// NextKeyMarker and NextVersionIDMarker back (the null version's marker is
// "null").
type VersionListResult struct {
	Versions            []ListedVersion
	CommonPrefixes      []string
	Truncated           bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ListedVersion is a version in a listing.
type ListedVersion struct {
	Artifact
	IsLatest bool
}

// ListVersions lists the versions of a container's artifacts, delete
// markers included (S3 ListObjectVersions). A page costs about as many
// iterator steps as it returns, however many versions a key has or
// however many keys the container holds: the current versions and the
// version table are two sorted streams merged by key, markers and common
// prefixes are reached by seeking. ErrContainerNotFound,
// ErrInvalidArgument for a malformed VersionIDMarker.
func (s *Store) ListVersions(ctx context.Context, tenant, container string, o VersionListOptions, opts ...ReadOption) (VersionListResult, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return VersionListResult{}, err
	}
	defer end()
	if err := s.containerExists(tenant, container); err != nil {
		return VersionListResult{}, err
	}
	res, _, err := listVersions(s.db, tenant, container, o)
	return res, err
}

// versionStream iterates one of the two tables as (key, record) pairs in
// key order.
type versionStream struct {
	it    *pebble.Iterator
	base  []byte
	table byte
	ok    bool
	key   string // decoded artifact key of the current entry
	steps *int
}

func (v *versionStream) load() error {
	if !v.ok {
		return v.it.Error()
	}
	rest := v.it.Key()[len(v.base):]
	if v.table == tblArtifact {
		v.key = string(rest)
		return nil
	}
	k, tail, err := unescape(rest)
	if err != nil {
		return err
	}
	if len(tail) != 8 {
		return fmt.Errorf("%w: version key", ErrCorrupt)
	}
	v.key = k
	return nil
}

func (v *versionStream) seek(k []byte) error {
	*v.steps++
	v.ok = v.it.SeekGE(k)
	return v.load()
}

func (v *versionStream) next() error {
	*v.steps++
	v.ok = v.it.Next()
	return v.load()
}

func (v *versionStream) record() (Artifact, error) {
	val, err := v.it.ValueAndErr()
	if err != nil {
		return Artifact{}, err
	}
	return decodeArtifact(val)
}

func listVersions(src iterSource, tenant, container string, o VersionListOptions) (res VersionListResult, steps int, err error) {
	max := o.MaxKeys
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	var markerSeq uint64
	markerNull := o.VersionIDMarker == NullVersion
	if o.VersionIDMarker != "" && !markerNull {
		var ok bool
		if markerSeq, ok = parseVersionID(o.VersionIDMarker); !ok {
			return res, 0, fmt.Errorf("%w: invalid version id marker %q", ErrInvalidArgument, o.VersionIDMarker)
		}
	}
	aBase := artifactPrefix(tenant, container)
	vBase := versionPrefix(tenant, container)
	open := func(base []byte, table byte, lower []byte) (*versionStream, error) {
		upper := prefixEnd(lower)
		if upper == nil {
			upper = prefixEnd(base)
		}
		it, err := src.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, err
		}
		return &versionStream{it: it, base: base, table: table, steps: &steps}, nil
	}
	art, err := open(aBase, tblArtifact, append(append([]byte(nil), aBase...), o.Prefix...))
	if err != nil {
		return res, 0, err
	}
	defer art.it.Close()
	ver, err := open(vBase, tblVersion, appendEscapedPrefix(append([]byte(nil), vBase...), o.Prefix))
	if err != nil {
		return res, 0, err
	}
	defer ver.it.Close()

	// seekKeys positions both streams at the first key >= k (after all of
	// k's versions when past is set, or past every key under k when k is a
	// common prefix).
	seekKeys := func(k string, past, isPrefix bool) error {
		var ak, vk []byte
		switch {
		case isPrefix:
			ak = prefixEnd(append(append([]byte(nil), aBase...), k...))
			vk = prefixEnd(appendEscapedPrefix(append([]byte(nil), vBase...), k))
		case past:
			ak = append(append(append([]byte(nil), aBase...), k...), 0)
			vk = prefixEnd(appendEscaped(append([]byte(nil), vBase...), k))
		default:
			ak = append(append([]byte(nil), aBase...), k...)
			vk = appendEscaped(append([]byte(nil), vBase...), k)
		}
		if ak == nil || vk == nil {
			art.ok, ver.ok = false, false
			return nil
		}
		if err := art.seek(ak); err != nil {
			return err
		}
		return ver.seek(vk)
	}

	// Where to start. Resuming inside the marker key's versions: its
	// current version, listed first, is behind us in any case; the
	// version-table stream continues after the marker (at the key's first
	// record when the marker was the current version).
	resume := false
	switch {
	case o.KeyMarker == "" || o.KeyMarker < o.Prefix:
		err = seekKeys(o.Prefix, false, false)
	case o.Delimiter != "" && isCommonPrefix(o.KeyMarker, o.Prefix, o.Delimiter):
		err = seekKeys(o.KeyMarker, false, true)
	case o.VersionIDMarker == "":
		err = seekKeys(o.KeyMarker, true, false)
	default:
		resume = true
		err = seekKeys(o.KeyMarker, false, false)
	}
	if err != nil {
		return res, steps, err
	}
	if resume {
		markerIsCurrent := false
		if art.ok && art.key == o.KeyMarker {
			a, err := art.record()
			if err != nil {
				return res, steps, err
			}
			markerIsCurrent = a.VersionID == o.VersionIDMarker || markerNull && a.VersionID == ""
		}
		if !markerIsCurrent {
			seq, found := markerSeq, true
			if markerNull {
				if seq, found, err = nullSeq(src, tenant, container, o.KeyMarker); err != nil {
					return res, steps, err
				}
			}
			if found {
				err = ver.seek(append(versionKey(tenant, container, o.KeyMarker, seq), 0))
			} else {
				// The null version went away since the last page: go on
				// with the next key.
				err = seekKeys(o.KeyMarker, true, false)
				resume = false
			}
			if err != nil {
				return res, steps, err
			}
		}
	}

	emit := func(a Artifact, latest bool) {
		res.Versions = append(res.Versions, ListedVersion{Artifact: a, IsLatest: latest})
		res.NextKeyMarker = a.Key
		if a.VersionID == "" {
			res.NextVersionIDMarker = NullVersion
		} else {
			res.NextVersionIDMarker = a.VersionID
		}
	}
	for art.ok || ver.ok {
		// The next key: the smaller of the two streams' keys.
		key := ver.key
		if !ver.ok || art.ok && art.key <= ver.key {
			key = art.key
		}
		if o.Delimiter != "" {
			rest := key[len(o.Prefix):]
			if i := strings.Index(rest, o.Delimiter); i >= 0 {
				if len(res.Versions)+len(res.CommonPrefixes) >= max {
					res.Truncated = true
					break
				}
				cp := key[:len(o.Prefix)+i+len(o.Delimiter)]
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
				if err := seekKeys(cp, false, true); err != nil {
					return res, steps, err
				}
				continue
			}
		}
		inMarker := resume && key == o.KeyMarker
		latest := !inMarker
		if art.ok && art.key == key {
			if !inMarker {
				if len(res.Versions)+len(res.CommonPrefixes) >= max {
					res.Truncated = true
					break
				}
				a, err := art.record()
				if err != nil {
					return res, steps, err
				}
				emit(a, true)
			}
			latest = false
			if err := art.next(); err != nil {
				return res, steps, err
			}
		}
		for ver.ok && ver.key == key {
			if len(res.Versions)+len(res.CommonPrefixes) >= max {
				res.Truncated = true
				break
			}
			a, err := ver.record()
			if err != nil {
				return res, steps, err
			}
			emit(a, latest)
			latest = false
			if err := ver.next(); err != nil {
				return res, steps, err
			}
		}
		if res.Truncated {
			break
		}
	}
	if err := art.it.Error(); err != nil {
		return res, steps, err
	}
	if err := ver.it.Error(); err != nil {
		return res, steps, err
	}
	if !res.Truncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, steps, nil
}

// nullSeq returns the sequence number of the null version of key in the
// version table.
func nullSeq(src iterSource, tenant, container, key string) (uint64, bool, error) {
	r, ok := src.(reader)
	if !ok {
		return 0, false, fmt.Errorf("metastore: listing source cannot read keys")
	}
	v, err := getCopy(r, nullVersionKey(tenant, container, key))
	if err != nil || v == nil {
		return 0, false, err
	}
	d := decoder{b: v}
	seq := d.uvarint()
	if err := d.done(); err != nil {
		return 0, false, corrupt("null version index", err)
	}
	return seq, true, nil
}
