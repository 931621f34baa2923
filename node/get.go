package node

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/sse"
)

// HeadArtifact describes a version of an artifact (linearizable): the
// latest when ref.VersionID is "". A latest version that is a delete
// marker, or a delete marker addressed by id, is a *DeleteMarkerError
// (ErrArtifactNotFound or ErrDeleteMarker).
func (e *Engine) HeadArtifact(ctx context.Context, tenant string, ref VersionRef) (ArtifactInfo, error) {
	a, versioned, c, err := e.version(ctx, tenant, ref)
	if err != nil {
		return ArtifactInfo{}, err
	}
	info := toInfo(a, versioned)
	if err := e.expiration(ctx, tenant, ref, c, &info); err != nil {
		return ArtifactInfo{}, err
	}
	return info, nil
}

// OpenArtifact opens a version of an artifact (the latest when
// ref.VersionID is ""). For an SSE-C version ref.CustomerKey must be its
// key (ErrSSECustomerKeyMissing, ErrSSECustomerKeyMismatch); a key given
// for another version is ErrSSENotApplicable. HeadArtifact asks for no
// key: it serves the sub-resources (tags, retention) S3 serves without. The reader keeps the version's record, so an
// overwrite during the read does not mix versions: the replaced shards are
// collected only after the GC delay, and not while a WriteRange streams
// them (a read lease, up to Config.MaxReadLease past the delay).
func (e *Engine) OpenArtifact(ctx context.Context, tenant string, ref VersionRef) (ArtifactReader, error) {
	a, versioned, c, err := e.version(ctx, tenant, ref)
	if err != nil {
		return nil, err
	}
	if a.Tier != "" && !ref.MetadataOnly {
		_, rec, err := e.tierDriver(ctx, a.Tier)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		switch restored := len(a.Restore.Parts) > 0 && a.Restore.Expiry.After(e.cfg.Now()); {
		case restored:
			// Read the restored local copy (same sizes, local blobs).
			a.Parts = a.Restore.Parts
		case rec.Archive:
			return nil, fmt.Errorf("%w: %q is on archive tier %q", ErrInvalidObjectState, a.Key, a.Tier)
		}
	}
	if err := e.checkCustomerKey(a.Encryption, ref.CustomerKey); err != nil {
		return nil, err
	}
	info := toInfo(a, versioned)
	if err := e.expiration(ctx, tenant, ref, c, &info); err != nil {
		return nil, err
	}
	return &reader{e: e, rec: a, info: info, customerKey: ref.CustomerKey}, nil
}

// expiration sets info.Expiration when a lifecycle rule of its container
// will expire the version read: the current-version rules for the latest
// version, the noncurrent-version rules (counted from when the next newer
// version was written) for an older one named by its id. c is the
// container record when version already read it (nil: read it here), so a
// GET reads it at most once.
func (e *Engine) expiration(ctx context.Context, tenant string, ref VersionRef, c *metastore.Container, info *ArtifactInfo) error {
	if c == nil {
		rec, err := e.meta.GetContainer(ctx, tenant, ref.Container)
		if err != nil {
			return metaErr(err)
		}
		c = &rec
	}
	if ref.VersionID == "" {
		e.withExpiration(info, *c)
		return nil
	}
	cfg := e.lc.cache.get(c.Config[LifecycleConfigName])
	if cfg == nil || info.DeleteMarker {
		return nil
	}
	// Where the version stands among the key's versions (newest first):
	// the latest, or noncurrent since its successor was written, with
	// how many newer noncurrent versions (as the lifecycle engine counts).
	var prev *metastore.ListedVersion
	newer := 0
	keyMarker, vidMarker := "", ""
	for {
		page, err := e.meta.ListVersions(ctx, tenant, ref.Container, metastore.VersionListOptions{Prefix: ref.Key, KeyMarker: keyMarker, VersionIDMarker: vidMarker})
		if err != nil {
			return metaErr(err)
		}
		for i := range page.Versions {
			v := &page.Versions[i]
			if v.Key != ref.Key {
				return nil // past the key's versions without finding it
			}
			if v.VersionID == info.VersionID {
				if v.IsLatest {
					e.withExpiration(info, *c)
				} else if prev != nil {
					if due, rule, ok := cfg.noncurrentExpiry(v.Key, v.Size, v.Tags, prev.Created, newer); ok {
						info.Expiration = &Expiration{Date: due, RuleID: rule}
					}
				}
				return nil
			}
			if !v.IsLatest && !v.DeleteMarker {
				newer++
			}
			cp := *v
			prev = &cp
		}
		if !page.Truncated {
			return nil
		}
		keyMarker, vidMarker = page.NextKeyMarker, page.NextVersionIDMarker
	}
}

// version reads the version ref names, and whether its container has a
// versioning state, with the container record when it had to read it
// (nil otherwise). Delete markers come back as *DeleteMarkerError.
func (e *Engine) version(ctx context.Context, tenant string, ref VersionRef) (metastore.Artifact, bool, *metastore.Container, error) {
	var cont *metastore.Container
	var a metastore.Artifact
	var err error
	if ref.VersionID == "" {
		a, err = e.meta.GetLatest(ctx, tenant, ref.Container, ref.Key)
	} else {
		a, err = e.meta.GetVersion(ctx, tenant, ref.Container, ref.Key, ref.VersionID)
	}
	if err != nil {
		return a, false, nil, metaErr(err)
	}
	versioned := a.Seq != 0
	if !versioned {
		// A null version written before versioning was turned on: its
		// container says whether S3 reports "null" as its id.
		c, err := e.meta.GetContainer(ctx, tenant, ref.Container)
		if err != nil {
			return a, false, nil, metaErr(err)
		}
		versioned = c.VersioningState != ""
		cont = &c
	}
	if a.DeleteMarker {
		sentinel := ErrArtifactNotFound
		if ref.VersionID != "" {
			sentinel = ErrDeleteMarker
		}
		return a, versioned, cont, &DeleteMarkerError{Sentinel: sentinel, VersionID: a.VersionID, Modified: a.Created}
	}
	return a, versioned, cont, nil
}

type reader struct {
	e           *Engine
	rec         metastore.Artifact
	info        ArtifactInfo
	customerKey []byte // of an SSE-C version
}

func (r *reader) Info() ArtifactInfo { return r.info }

// WriteRange streams [off, off+length) of the artifact to w, part by part,
// reading only the stripes that hold the range.
func (r *reader) WriteRange(ctx context.Context, w io.Writer, off, length int64) error {
	if off < 0 || length < 0 || off+length > r.rec.Size {
		return fmt.Errorf("node: range [%d,%d) outside artifact of %d bytes", off, off+length, r.rec.Size)
	}
	if length == 0 {
		return nil
	}
	if r.rec.Parts == nil {
		inline := r.rec.Inline
		if r.rec.InlineKey != nil {
			dk, err := r.e.openKey(&r.rec, r.rec.InlineKey, r.customerKey)
			if err != nil {
				return err
			}
			if inline, err = sse.Decrypt(dk, inline, r.rec.Size); err != nil {
				return fmt.Errorf("%w: inline bytes of %s/%s: %w", metastore.ErrCorrupt, r.rec.Container, r.rec.Key, err)
			}
		}
		_, err := w.Write(inline[off : off+length])
		return err
	}
	// The version's blobs stay while this stream reads them, even when
	// an overwrite or delete queued them for collection (gc.go, leases).
	defer r.e.leases.hold(r.rec.Parts)()
	var start int64 // offset of the current part within the artifact
	for _, p := range r.rec.Parts {
		end := start + p.Size
		if end > off && start < off+length {
			from := max(off, start) - start
			to := min(off+length, end) - start
			if err := r.readPart(ctx, w, &p, from, to-from); err != nil {
				return err
			}
		}
		start = end
		if start >= off+length {
			break
		}
	}
	return nil
}

// readPart writes [off, off+length) of part p's plaintext to w: for an
// encrypted part, it reads only the packages holding the range and opens
// them after the erasure decode verified their blocks.
func (r *reader) readPart(ctx context.Context, w io.Writer, p *metastore.Part, off, length int64) error {
	if p.SealedKey == nil {
		return r.e.readBlob(ctx, w, p.Blob, p.Size, off, length)
	}
	dk, err := r.e.openKey(&r.rec, p.SealedKey, r.customerKey)
	if err != nil {
		return err
	}
	cOff, cLen, _ := sse.CiphertextRange(p.Size, off, length)
	dw := sse.NewDecryptWriter(w, dk, p.Size, off, length)
	err = r.e.readBlob(ctx, dw, p.Blob, p.StoredSize, cOff, cLen)
	// Close always: it waits for the packages being opened in the
	// background to reach w (or fail), so nothing writes to w afterwards.
	if cerr := dw.Close(); err == nil {
		err = cerr
	}
	r.e.stats.ssePackages.Add(dw.Opened)
	if errors.Is(err, sse.ErrAuth) {
		// The erasure layer verified every block: ciphertext that still
		// fails authentication was written wrong or the record is.
		return fmt.Errorf("%w: part %d of %s/%s: %w", metastore.ErrCorrupt, p.Number, r.rec.Container, r.rec.Key, err)
	}
	return err
}

// readBlob decodes [off, off+length) of a blob of size bytes into w.
// Shards found missing or corrupt are queued for healing.
func (e *Engine) readBlob(ctx context.Context, w io.Writer, b metastore.Blob, size, off, length int64) error {
	coder, err := e.coderFor(b)
	if err != nil {
		return err
	}
	e.stats.decodes.Add(1)
	rep, err := coder.Decode(ctx, w, e.opener(b), size, off, length, e.preferLocal(b), erasure.HedgeAfter(e.cfg.ReadHedge))
	e.stats.shardsBad.Add(int64(len(rep.Bad)))
	e.stats.shardsSlow.Add(int64(len(rep.Slow)))
	for _, f := range rep.Bad {
		e.log.Warn("bad shard", "blob", b.ID, "shard", f.Index, "err", f.Err)
		e.heal.missing(b, size, f.Index)
	}
	if tier := metastore.BlobTier(b); tier != "" && err != nil {
		// A remote blob has one shard and no healing: tell a tier that
		// is down (503) from bytes that fail their checksums (never
		// served).
		for _, f := range rep.Bad {
			if errors.Is(f.Err, ErrTierUnavailable) || errors.Is(f.Err, ErrTierNotFound) {
				return fmt.Errorf("%w: %w", ErrUnavailable, f.Err)
			}
		}
		e.log.Error("corrupt bytes on a cold tier: not served", "tier", tier, "blob", b.ID, "err", err)
		return fmt.Errorf("node: blob %s on tier %q failed verification: %w", b.ID, tier, err)
	}
	if errors.Is(err, erasure.ErrReadQuorum) {
		return fmt.Errorf("%w: blob %s: %w", ErrUnavailable, b.ID, err)
	}
	if err != nil {
		return fmt.Errorf("node: reading blob %s: %w", b.ID, err)
	}
	return nil
}

// coderFor returns a coder for a blob's own shape (blobs written under an
// older shape stay readable after the operator changes it).
func (e *Engine) coderFor(b metastore.Blob) (*erasure.Coder, error) {
	return e.coders.get(erasure.Shape{Data: b.K, Parity: b.M, BlockSize: b.BlockSize})
}

// preferLocal makes a reconstructing read (or a rebuild) open the shards
// on this node's drives before remote ones.
func (e *Engine) preferLocal(b metastore.Blob) erasure.ReadOption {
	return erasure.PreferShards(func(i int) bool {
		return i < len(b.Shards) && e.isLocal(b.Shards[i])
	})
}

// opener opens shard i of b on the drive its placement names.
func (e *Engine) opener(b metastore.Blob) erasure.ShardOpener {
	if tier := metastore.BlobTier(b); tier != "" {
		// A blob on a cold tier: one shard file on the tier's driver.
		return func(ctx context.Context, i int, off, length int64) (io.ReadCloser, error) {
			if i != 0 {
				return nil, fmt.Errorf("node: blob %s on tier %q has no shard %d", b.ID, tier, i)
			}
			d, _, err := e.tierDriver(ctx, tier)
			if err != nil {
				return nil, err
			}
			return e.openTier(ctx, tier, d, shardName(b.ID, 0), off, length)
		}
	}
	return func(ctx context.Context, i int, off, length int64) (io.ReadCloser, error) {
		if i < 0 || i >= len(b.Shards) {
			return nil, fmt.Errorf("node: blob %s has no shard %d", b.ID, i)
		}
		d, ok := e.shardDriver(b.Shards[i])
		if !ok {
			return nil, fmt.Errorf("node: drive %s (node %s) of blob %s shard %d is unknown", b.Shards[i].Drive, b.Shards[i].Node, b.ID, i)
		}
		return d.Open(ctx, shardName(b.ID, i), off, length)
	}
}

// ListArtifacts lists a container in S3 order.
func (e *Engine) ListArtifacts(ctx context.Context, tenant, container string, o ListOptions) (ListResult, error) {
	res, err := e.meta.ListArtifacts(ctx, tenant, container, metastore.ListOptions{
		Prefix: o.Prefix, Delimiter: o.Delimiter, StartAfter: o.StartAfter, MaxKeys: o.MaxKeys,
	})
	if err != nil {
		return ListResult{}, metaErr(err)
	}
	out := ListResult{CommonPrefixes: res.CommonPrefixes, Truncated: res.Truncated, Next: res.Next}
	out.Artifacts = make([]ArtifactInfo, len(res.Artifacts))
	for i, a := range res.Artifacts {
		out.Artifacts[i] = toInfo(a, false)
	}
	return out, nil
}

// ListVersions lists the versions of a container's artifacts, delete
// markers included (S3 ListObjectVersions).
func (e *Engine) ListVersions(ctx context.Context, tenant, container string, o VersionListOptions) (VersionList, error) {
	res, err := e.meta.ListVersions(ctx, tenant, container, metastore.VersionListOptions{
		Prefix: o.Prefix, Delimiter: o.Delimiter, KeyMarker: o.KeyMarker, VersionIDMarker: o.VersionIDMarker, MaxKeys: o.MaxKeys,
	})
	if err != nil {
		return VersionList{}, metaErr(err)
	}
	out := VersionList{CommonPrefixes: res.CommonPrefixes, Truncated: res.Truncated,
		NextKeyMarker: res.NextKeyMarker, NextVersionIDMarker: res.NextVersionIDMarker}
	out.Versions = make([]ArtifactInfo, len(res.Versions))
	for i, v := range res.Versions {
		out.Versions[i] = toInfo(v.Artifact, true)
		out.Versions[i].IsLatest = v.IsLatest
	}
	return out, nil
}
