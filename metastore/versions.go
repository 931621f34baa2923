package metastore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Versions (doc.go, "Versions"). The current version of a key, when it is
// an artifact, lives in the artifact table (0x06): listings, reads of the
// latest version and the first release's commands see exactly what they
// always saw. Every other version (noncurrent ones, and delete markers
// whether latest or not) lives in the version table (0x12), under the key
// and the inverted sequence number, so the versions of a key iterate
// newest first. Invariants, kept by every command below:
//
//  1. An artifact-table record is newer than every version-table record
//     of its key.
//  2. A key with no artifact-table record has no version-table record, or
//     its newest one is a delete marker (the key reads as deleted).
//  3. A key has at most one null version (VersionID ""), and when it is in
//     the version table, the null index (0x13) gives its sequence number.

// versionIDOf is the version id of a numbered version: 16 hex digits of
// its sequence number, so a version id names its record directly.
func versionIDOf(seq uint64) string { return fmt.Sprintf("%016x", seq) }

// parseVersionID returns the sequence number a version id names; ok is
// false for anything that is not a version id this store gave out (the
// null version is handled by callers).
func parseVersionID(id string) (uint64, bool) {
	if len(id) != 16 || strings.ToLower(id) != id {
		return 0, false
	}
	seq, err := strconv.ParseUint(id, 16, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	return seq, true
}

// ValidVersionID reports whether id could name a version of this store:
// "null" or an id it assigned.
func ValidVersionID(id string) bool {
	if id == NullVersion {
		return true
	}
	_, ok := parseVersionID(id)
	return ok
}

// WriteResult is the outcome of a write to a container's artifacts.
type WriteResult struct {
	// Version is the record the write created: the new version, or the
	// delete marker a delete created; nil when the write created none.
	Version *Artifact
	// Removed is the version the write removed: the record an overwrite
	// replaced in a container without versions, the null version a write
	// replaced while versioning is suspended, or the version a delete by
	// version id removed. Nil when nothing was removed.
	Removed *Artifact
	// Freed are the parts whose blobs no record references any more:
	// their shards are garbage.
	Freed []Part
}

func writeOptRecord(e *encoder, a *Artifact) {
	if a == nil {
		e.bool(false)
		return
	}
	e.bool(true)
	e.bytes(encodeArtifact(a))
}

func readOptRecord(d *decoder) *Artifact {
	if !d.bool() {
		return nil
	}
	a, err := decodeArtifact(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &a
}

func encodeWriteResult(r WriteResult) []byte {
	e := encoder{}
	writeOptRecord(&e, r.Version)
	writeOptRecord(&e, r.Removed)
	writePartsV2(&e, r.Freed)
	return e.b
}

func readWriteResult(d *decoder) WriteResult {
	var r WriteResult
	r.Version = readOptRecord(d)
	r.Removed = readOptRecord(d)
	r.Freed = readPartsV2(d)
	return r
}

// --- blob references with exact release ---

// releaser moves blob references for one command and tells, at the end,
// which blobs lost their last reference. Staged writes are not visible to
// reads within a command, so it remembers the owners it dropped and the
// blobs it referenced again.
type releaser struct {
	t       *txn
	dropped map[string]bool // owner keys whose references this command removed
	cands   []Part          // parts of dropped owners, in order
	kept    map[string]bool // blob ids referenced by records this command wrote
}

func newReleaser(t *txn) *releaser {
	return &releaser{t: t, dropped: map[string]bool{}, kept: map[string]bool{}}
}

// drop removes owner's references to parts.
func (r *releaser) drop(owner []byte, parts []Part) {
	r.t.unrefBlobs(owner, parts)
	r.dropped[string(owner)] = true
	r.cands = append(r.cands, parts...)
}

// keep records that owner references parts.
func (r *releaser) keep(owner []byte, parts []Part) {
	r.t.refBlobs(owner, parts)
	for _, p := range parts {
		if p.Blob.ID != "" {
			r.kept[p.Blob.ID] = true
		}
	}
}

// move re-homes parts from one owner key to another.
func (r *releaser) move(from, to []byte, parts []Part) {
	r.drop(from, parts)
	r.keep(to, parts)
}

// freed returns the dropped parts whose blobs no record references once
// the command's writes apply.
func (r *releaser) freed() []Part {
	var out []Part
	seen := map[string]bool{}
	for _, p := range r.cands {
		id := p.Blob.ID
		if id == "" || r.kept[id] || seen[id] {
			continue
		}
		seen[id] = true
		live := false
		pre := blobRefPrefix(id)
		it := r.t.iter(pre, prefixEnd(pre))
		for ok := it.First(); ok; ok = it.Next() {
			if !r.dropped[string(it.Key()[len(pre):])] {
				live = true
				break
			}
		}
		mustOK(it.Close())
		if !live {
			out = append(out, p)
		}
	}
	return out
}

// --- reads inside a transaction ---

// nextSeq assigns the next version sequence number. A command calls it at
// most once: staged writes are not read back within a command.
func (t *txn) nextSeq() uint64 {
	var seq uint64
	if v := t.get(keyVersionSeq); v != nil {
		d := decoder{b: v}
		seq = d.uvarint()
		mustOK(d.done())
	}
	seq++
	e := encoder{}
	e.uvarint(seq)
	t.set(keyVersionSeq, e.b)
	return seq
}

// versionEntry is a record of the version table with its key.
type versionEntry struct {
	key []byte
	a   *Artifact
}

func (v *versionEntry) rec() *Artifact {
	if v == nil {
		return nil
	}
	return v.a
}

// versionsOf returns up to n of the newest version-table records of key.
func (t *txn) versionsOf(tenant, container, key string, n int) ([]versionEntry, error) {
	p := versionKeyPrefix(tenant, container, key)
	it := t.iter(p, prefixEnd(p))
	defer it.Close()
	var out []versionEntry
	for ok := it.First(); ok && len(out) < n; ok = it.Next() {
		a, err := decodeArtifact(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, versionEntry{key: append([]byte(nil), it.Key()...), a: &a})
	}
	mustOK(it.Error())
	return out, nil
}

// nullNoncurrent returns the null version of key in the version table.
func (t *txn) nullNoncurrent(tenant, container, key string) (*versionEntry, error) {
	v := t.get(nullVersionKey(tenant, container, key))
	if v == nil {
		return nil, nil
	}
	d := decoder{b: v}
	seq := d.uvarint()
	if err := d.done(); err != nil {
		return nil, corrupt("null version index", err)
	}
	vk := versionKey(tenant, container, key, seq)
	rv := t.get(vk)
	if rv == nil {
		return nil, corrupt("null version index", fmt.Errorf("no version %d of %q", seq, key))
	}
	a, err := decodeArtifact(rv)
	if err != nil {
		return nil, err
	}
	return &versionEntry{key: vk, a: &a}, nil
}

// findVersion finds version id of key: the current artifact (cur, which
// may be nil) or a version-table record. It returns nil when there is no
// such version, and ErrInvalidArgument for an id this store never gives
// out.
func (t *txn) findVersion(tenant, container, key, id string, cur *Artifact) (*versionEntry, bool, error) {
	if id == NullVersion {
		if cur != nil && cur.VersionID == "" {
			return &versionEntry{key: artifactKey(tenant, container, key), a: cur}, true, nil
		}
		e, err := t.nullNoncurrent(tenant, container, key)
		return e, false, err
	}
	seq, ok := parseVersionID(id)
	if !ok {
		return nil, false, fmt.Errorf("%w: invalid version id %q", ErrInvalidArgument, id)
	}
	if cur != nil && cur.VersionID == id {
		return &versionEntry{key: artifactKey(tenant, container, key), a: cur}, true, nil
	}
	vk := versionKey(tenant, container, key, seq)
	v := t.get(vk)
	if v == nil {
		return nil, false, nil
	}
	a, err := decodeArtifact(v)
	if err != nil {
		return nil, false, err
	}
	if a.VersionID != id {
		return nil, false, nil
	}
	return &versionEntry{key: vk, a: &a}, false, nil
}

// demote moves the current artifact cur of its key into the version table.
// The caller overwrites or deletes its artifact-table record.
func (t *txn) demote(cur *Artifact, rel *releaser) {
	ak := artifactKey(cur.Tenant, cur.Container, cur.Key)
	vk := versionKey(cur.Tenant, cur.Container, cur.Key, cur.Seq)
	t.set(vk, encodeArtifact(cur))
	rel.move(ak, vk, cur.AllParts())
	if cur.VersionID == "" {
		t.setNullIndex(cur.Tenant, cur.Container, cur.Key, cur.Seq)
	}
}

func (t *txn) setNullIndex(tenant, container, key string, seq uint64) {
	e := encoder{}
	e.uvarint(seq)
	t.set(nullVersionKey(tenant, container, key), e.b)
}

// --- object lock ---

// lockedAt reports why a version may not be removed at now (nil if it
// may): a legal hold, a COMPLIANCE retention, or a GOVERNANCE retention
// without bypass.
func lockedAt(a *Artifact, now time.Time, bypass bool) error {
	if a.DeleteMarker {
		return nil
	}
	if a.LegalHold {
		return fmt.Errorf("%w: version %s of %q is under legal hold", ErrObjectLocked, displayVersion(a), a.Key)
	}
	r := a.Retention
	if r.Mode == "" || !r.Until.After(now) {
		return nil
	}
	if r.Mode == LockGovernance && bypass {
		return nil
	}
	return fmt.Errorf("%w: version %s of %q is retained in %s mode until %s", ErrObjectLocked, displayVersion(a), a.Key, r.Mode, r.Until.Format(time.RFC3339))
}

func displayVersion(a *Artifact) string {
	if a.VersionID == "" {
		return NullVersion
	}
	return a.VersionID
}

func validLockMode(m string) bool { return m == LockGovernance || m == LockCompliance }

// checkLockFields checks the lock a new version asks for against its
// container.
func checkLockFields(cont *Container, r Retention, legalHold bool) error {
	if r == (Retention{}) && !legalHold {
		return nil
	}
	if !cont.ObjectLock.Enabled {
		return fmt.Errorf("%w: bucket is missing object lock configuration", ErrLockNotEnabled)
	}
	if r != (Retention{}) && (!validLockMode(r.Mode) || r.Until.IsZero()) {
		return fmt.Errorf("%w: retention needs a mode (GOVERNANCE or COMPLIANCE) and a date", ErrInvalidArgument)
	}
	return nil
}

// defaultRetention is the retention a version created at created gets
// from its container's default rule (zero when none).
func defaultRetention(cont *Container, created time.Time) Retention {
	ol := cont.ObjectLock
	if !ol.Enabled || ol.Mode == "" {
		return Retention{}
	}
	return Retention{Mode: ol.Mode, Until: created.AddDate(ol.Years, 0, ol.Days)}
}

// cmdTime is the command's proposer time as a record time.
func (t *txn) cmdTime() time.Time {
	return time.Unix(0, t.now).UTC().Truncate(time.Millisecond)
}

// --- versioned writes ---

// putVersion stores a as the new current version of its key, following
// the container's versioning state, if cond holds against the current
// artifact. It fills in a's Seq and VersionID (and default retention).
// extraUpload moves the tenant's and container's UploadBytes along (a
// completion releases its parts); the quota sees it with the bytes. The
// caller owns rel and computes the freed parts once its own reference
// changes are staged too.
func (t *txn) putVersion(a *Artifact, cond Cond, extraUpload int64, rel *releaser) (WriteResult, error) {
	if err := checkArtifact(a); err != nil {
		return WriteResult{}, err
	}
	if a.DeleteMarker {
		return WriteResult{}, fmt.Errorf("%w: a delete marker is not written by put", ErrInvalidArgument)
	}
	cont, err := t.container(a.Tenant, a.Container)
	if err != nil {
		return WriteResult{}, err
	}
	if cont == nil {
		return WriteResult{}, fmt.Errorf("%w: %q", ErrContainerNotFound, a.Container)
	}
	cur, err := t.artifact(a.Tenant, a.Container, a.Key)
	if err != nil {
		return WriteResult{}, err
	}
	if err := checkCond(cond, cur); err != nil {
		return WriteResult{}, err
	}
	if err := checkLockFields(cont, a.Retention, a.LegalHold); err != nil {
		return WriteResult{}, err
	}
	if a.Retention == (Retention{}) {
		a.Retention = defaultRetention(cont, a.Created)
	}
	ak := artifactKey(a.Tenant, a.Container, a.Key)
	dBytes, dCount := a.Size, int64(1)
	// What the write removes, decided before anything is staged so that a
	// refused write (quota) stages nothing.
	var replace *Artifact      // the current record is replaced outright
	var dropNull *versionEntry // a noncurrent null version is removed
	switch cont.VersioningState {
	case "":
		replace = cur
	case VersioningEnabled:
	case VersioningSuspended:
		if cur != nil && cur.VersionID == "" {
			replace = cur
		} else if dropNull, err = t.nullNoncurrent(a.Tenant, a.Container, a.Key); err != nil {
			return WriteResult{}, err
		}
	default:
		return WriteResult{}, fmt.Errorf("%w: container versioning state %q", ErrCorrupt, cont.VersioningState)
	}
	for _, r := range []*Artifact{replace, dropNull.rec()} {
		if r != nil {
			// Object lock needs versioning enabled for good, so a removed
			// null version is never locked; checked all the same.
			if err := lockedAt(r, t.cmdTime(), false); err != nil {
				return WriteResult{}, err
			}
		}
	}
	if replace != nil {
		dBytes -= replace.Size
		dCount--
	}
	if dropNull != nil && !dropNull.a.DeleteMarker {
		dBytes -= dropNull.a.Size
		dCount--
	}
	if err := t.checkQuota(a.Tenant, cont, dBytes+extraUpload, dCount); err != nil {
		return WriteResult{}, err
	}
	var res WriteResult
	switch cont.VersioningState {
	case "":
		a.Seq, a.VersionID = 0, ""
	case VersioningEnabled:
		a.Seq = t.nextSeq()
		a.VersionID = versionIDOf(a.Seq)
	case VersioningSuspended:
		a.Seq, a.VersionID = t.nextSeq(), ""
	}
	if replace != nil {
		rel.drop(ak, replace.AllParts())
		res.Removed = replace
	} else if cur != nil {
		t.demote(cur, rel)
	}
	if dropNull != nil {
		t.del(dropNull.key)
		t.del(nullVersionKey(a.Tenant, a.Container, a.Key))
		rel.drop(dropNull.key, dropNull.a.AllParts())
		res.Removed = dropNull.a
	}
	if err := t.adjustUsage(a.Tenant, a.Container, Usage{Bytes: dBytes, Artifacts: dCount, UploadBytes: extraUpload}); err != nil {
		return WriteResult{}, err
	}
	t.set(ak, encodeArtifact(a))
	rel.keep(ak, a.Parts)
	res.Version = a
	return res, nil
}

// DeleteInput is a DeleteObject request.
type DeleteInput struct {
	Tenant, Container, Key string
	// VersionID, when HasVersion, names the version to remove ("null" for
	// the null version); otherwise the delete applies to the key (a delete
	// marker in a container with a versioning state).
	VersionID  string
	HasVersion bool
	// IfMatch: the version deleted (the current artifact when no version
	// is named) must have this ETag; "*" only requires it to exist. A key
	// without a current artifact fails with ErrArtifactNotFound.
	IfMatch string
	// BypassGovernance lets the delete remove a version retained in
	// GOVERNANCE mode (the caller checked the principal may).
	BypassGovernance bool
}

func (t *txn) deleteVersion(in *DeleteInput) (WriteResult, error) {
	if err := checkName("tenant", in.Tenant); err != nil {
		return WriteResult{}, err
	}
	if err := checkName("container", in.Container); err != nil {
		return WriteResult{}, err
	}
	if err := checkKey(in.Key); err != nil {
		return WriteResult{}, err
	}
	cont, err := t.container(in.Tenant, in.Container)
	if err != nil {
		return WriteResult{}, err
	}
	if cont == nil {
		return WriteResult{}, fmt.Errorf("%w: %q", ErrContainerNotFound, in.Container)
	}
	cur, err := t.artifact(in.Tenant, in.Container, in.Key)
	if err != nil {
		return WriteResult{}, err
	}
	if in.HasVersion {
		return t.deleteOneVersion(in, cont, cur)
	}
	if in.IfMatch != "" {
		if cur == nil {
			return WriteResult{}, fmt.Errorf("%w: %q", ErrArtifactNotFound, in.Key)
		}
		if err := checkCond(Cond{IfMatchETag: in.IfMatch}, cur); err != nil {
			return WriteResult{}, err
		}
	}
	ak := artifactKey(in.Tenant, in.Container, in.Key)
	rel := newReleaser(t)
	var res WriteResult
	if cont.VersioningState == "" {
		if cur == nil {
			return res, nil
		}
		if err := t.adjustUsage(in.Tenant, in.Container, Usage{Bytes: -cur.Size, Artifacts: -1}); err != nil {
			return WriteResult{}, err
		}
		t.del(ak)
		rel.drop(ak, cur.AllParts())
		res.Removed = cur
		res.Freed = rel.freed()
		return res, nil
	}
	// A delete marker becomes the latest version. While versioning is
	// suspended it is the null version, replacing the previous one.
	var d Usage
	var dropNull *versionEntry
	if cont.VersioningState == VersioningSuspended {
		switch {
		case cur != nil && cur.VersionID == "":
			d = Usage{Bytes: -cur.Size, Artifacts: -1}
		default:
			if dropNull, err = t.nullNoncurrent(in.Tenant, in.Container, in.Key); err != nil {
				return WriteResult{}, err
			}
			if dropNull != nil && !dropNull.a.DeleteMarker {
				d = Usage{Bytes: -dropNull.a.Size, Artifacts: -1}
			}
		}
	}
	if err := t.adjustUsage(in.Tenant, in.Container, d); err != nil {
		return WriteResult{}, err
	}
	seq := t.nextSeq()
	marker := &Artifact{Tenant: in.Tenant, Container: in.Container, Key: in.Key, Seq: seq, DeleteMarker: true, Created: t.cmdTime()}
	if cont.VersioningState == VersioningEnabled {
		marker.VersionID = versionIDOf(seq)
	}
	if cur != nil {
		t.del(ak)
		if cont.VersioningState == VersioningSuspended && cur.VersionID == "" {
			rel.drop(ak, cur.AllParts())
			res.Removed = cur
		} else {
			t.demote(cur, rel)
		}
	}
	if dropNull != nil {
		t.del(dropNull.key)
		rel.drop(dropNull.key, dropNull.a.AllParts())
		res.Removed = dropNull.a
	}
	t.set(versionKey(in.Tenant, in.Container, in.Key, seq), encodeArtifact(marker))
	if marker.VersionID == "" {
		t.setNullIndex(in.Tenant, in.Container, in.Key, seq)
	}
	res.Version = marker
	res.Freed = rel.freed()
	return res, nil
}

// deleteOneVersion removes one version of a key by id, unless object lock
// forbids it, and keeps the invariants: when the latest version goes, the
// newest remaining one becomes current if it is an artifact.
func (t *txn) deleteOneVersion(in *DeleteInput, cont *Container, cur *Artifact) (WriteResult, error) {
	target, isCur, err := t.findVersion(in.Tenant, in.Container, in.Key, in.VersionID, cur)
	if err != nil {
		return WriteResult{}, err
	}
	if target == nil {
		if in.IfMatch != "" {
			return WriteResult{}, fmt.Errorf("%w: %q version %s", ErrArtifactNotFound, in.Key, in.VersionID)
		}
		return WriteResult{}, nil // S3 answers a missing version like a deleted one
	}
	if in.IfMatch != "" {
		if target.a.DeleteMarker {
			return WriteResult{}, fmt.Errorf("%w: version %s is a delete marker", ErrPreconditionFailed, in.VersionID)
		}
		if err := checkCond(Cond{IfMatchETag: in.IfMatch}, target.a); err != nil {
			return WriteResult{}, err
		}
	}
	if err := lockedAt(target.a, t.cmdTime(), in.BypassGovernance); err != nil {
		return WriteResult{}, err
	}
	if !target.a.DeleteMarker {
		if err := t.adjustUsage(in.Tenant, in.Container, Usage{Bytes: -target.a.Size, Artifacts: -1}); err != nil {
			return WriteResult{}, err
		}
	}
	rel := newReleaser(t)
	ak := artifactKey(in.Tenant, in.Container, in.Key)
	t.del(target.key)
	rel.drop(target.key, target.a.AllParts())
	if !isCur && target.a.VersionID == "" {
		t.del(nullVersionKey(in.Tenant, in.Container, in.Key))
	}
	// Was the target the latest version? Then the newest remaining one
	// becomes the latest, and moves to the artifact table if it is one.
	latest := isCur
	var next *versionEntry
	if !isCur && cur == nil {
		vs, err := t.versionsOf(in.Tenant, in.Container, in.Key, 2)
		if err != nil {
			return WriteResult{}, err
		}
		if len(vs) > 0 && string(vs[0].key) == string(target.key) {
			latest = true
			if len(vs) > 1 {
				next = &vs[1]
			}
		}
	} else if isCur {
		vs, err := t.versionsOf(in.Tenant, in.Container, in.Key, 1)
		if err != nil {
			return WriteResult{}, err
		}
		if len(vs) > 0 {
			next = &vs[0]
		}
	}
	if latest && next != nil && !next.a.DeleteMarker {
		t.del(next.key)
		if next.a.VersionID == "" {
			t.del(nullVersionKey(in.Tenant, in.Container, in.Key))
		}
		t.set(ak, encodeArtifact(next.a))
		rel.move(next.key, ak, next.a.AllParts())
	}
	return WriteResult{Removed: target.a, Freed: rel.freed()}, nil
}

// --- per-version settings: tags, retention, legal hold ---

// VersionUpdate changes settings of one version of an artifact.
type VersionUpdate struct {
	Tenant, Container, Key string
	// VersionID, when HasVersion, names the version; otherwise the current
	// artifact.
	VersionID  string
	HasVersion bool
	// Exactly one of the following operations.
	SetTags      bool // Tags replaces the version's tags (nil removes them)
	Tags         map[string]string
	SetRetention bool // Retention replaces the version's retention
	Retention    Retention
	// BypassGovernance allows shortening or removing a GOVERNANCE
	// retention (the caller checked the principal may).
	BypassGovernance bool
	SetLegalHold     bool
	LegalHold        bool
	// SetACL replaces the version's ACL (Artifact.ACL; "" makes it
	// private to its owner). It travels as its own command (set-version-acl,
	// cluster version 2).
	SetACL bool
	ACL    string
}

// MaxACL bounds a version's encoded ACL (S3 allows 100 grants).
const MaxACL = 16 << 10

func (u *VersionUpdate) ops() int {
	n := 0
	for _, b := range []bool{u.SetTags, u.SetRetention, u.SetLegalHold, u.SetACL} {
		if b {
			n++
		}
	}
	return n
}

func (t *txn) updateVersion(u *VersionUpdate) (*Artifact, error) {
	if err := checkName("tenant", u.Tenant); err != nil {
		return nil, err
	}
	if err := checkKey(u.Key); err != nil {
		return nil, err
	}
	if u.ops() != 1 {
		return nil, fmt.Errorf("%w: one version setting per update", ErrInvalidArgument)
	}
	cont, err := t.container(u.Tenant, u.Container)
	if err != nil {
		return nil, err
	}
	if cont == nil {
		return nil, fmt.Errorf("%w: %q", ErrContainerNotFound, u.Container)
	}
	cur, err := t.artifact(u.Tenant, u.Container, u.Key)
	if err != nil {
		return nil, err
	}
	var target *versionEntry
	if u.HasVersion {
		if target, _, err = t.findVersion(u.Tenant, u.Container, u.Key, u.VersionID, cur); err != nil {
			return nil, err
		}
		if target == nil {
			return nil, fmt.Errorf("%w: %q version %s", ErrNoSuchVersion, u.Key, u.VersionID)
		}
	} else {
		if cur == nil {
			return nil, fmt.Errorf("%w: %q", ErrArtifactNotFound, u.Key)
		}
		target = &versionEntry{key: artifactKey(u.Tenant, u.Container, u.Key), a: cur}
	}
	a := target.a
	if a.DeleteMarker {
		return nil, fmt.Errorf("%w: version %s of %q is a delete marker", ErrDeleteMarker, u.VersionID, u.Key)
	}
	now := t.cmdTime()
	switch {
	case u.SetTags:
		a.Tags = u.Tags
	case u.SetLegalHold:
		if !cont.ObjectLock.Enabled {
			return nil, fmt.Errorf("%w: bucket is missing object lock configuration", ErrLockNotEnabled)
		}
		a.LegalHold = u.LegalHold
	case u.SetRetention:
		if !cont.ObjectLock.Enabled {
			return nil, fmt.Errorf("%w: bucket is missing object lock configuration", ErrLockNotEnabled)
		}
		if err := checkRetentionChange(a.Retention, u.Retention, now, u.BypassGovernance); err != nil {
			return nil, err
		}
		a.Retention = u.Retention
	case u.SetACL:
		if len(u.ACL) > MaxACL {
			return nil, fmt.Errorf("%w: an ACL of %d bytes (at most %d)", ErrInvalidArgument, len(u.ACL), MaxACL)
		}
		a.ACL = u.ACL
	}
	t.set(target.key, encodeArtifact(a))
	return a, nil
}

// checkRetentionChange decides whether a version's retention may go from
// old to new at now: an active COMPLIANCE retention may only be extended
// (same mode, same or later date); an active GOVERNANCE one may be
// extended or made COMPLIANCE, and shortened or removed only with bypass.
func checkRetentionChange(old, new Retention, now time.Time, bypass bool) error {
	if new != (Retention{}) {
		if !validLockMode(new.Mode) || new.Until.IsZero() {
			return fmt.Errorf("%w: retention needs a mode (GOVERNANCE or COMPLIANCE) and a date", ErrInvalidArgument)
		}
		if !new.Until.After(now) {
			return fmt.Errorf("%w: the retain until date must be in the future", ErrInvalidArgument)
		}
	}
	if old.Mode == "" || !old.Until.After(now) {
		return nil // no active retention
	}
	weaker := new == (Retention{}) || new.Until.Before(old.Until)
	switch old.Mode {
	case LockCompliance:
		if weaker || new.Mode != LockCompliance {
			return fmt.Errorf("%w: a COMPLIANCE retention can only be extended", ErrObjectLocked)
		}
	case LockGovernance:
		if weaker && !bypass {
			return fmt.Errorf("%w: shortening or removing a GOVERNANCE retention needs x-amz-bypass-governance-retention", ErrObjectLocked)
		}
	}
	return nil
}
