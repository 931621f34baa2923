package metastore

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits checked by the proposer and again by the state machine.
const (
	// maxNameLen bounds tenant ids, user names, access key ids, container
	// names, upload ids and blob ids.
	maxNameLen = 255
	// maxKeyLen is S3's limit on an object key.
	maxKeyLen = 1024
	// maxPartNumber is S3's largest part number.
	maxPartNumber = 10000
)

func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidArgument, what)
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidArgument, what, maxNameLen)
	}
	return nil
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidArgument)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: key longer than %d bytes", ErrInvalidArgument, maxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: key is not UTF-8", ErrInvalidArgument)
	}
	return nil
}

func checkPartNumber(n int) error {
	if n < 1 || n > maxPartNumber {
		return fmt.Errorf("%w: part number %d outside 1..%d", ErrInvalidArgument, n, maxPartNumber)
	}
	return nil
}

func checkParts(parts []Part) error {
	for _, p := range parts {
		if p.Size < 0 {
			return fmt.Errorf("%w: negative part size", ErrInvalidArgument)
		}
		if len(p.Blob.ID) > maxNameLen {
			return fmt.Errorf("%w: blob id too long", ErrInvalidArgument)
		}
	}
	return nil
}

func checkArtifact(a *Artifact) error {
	if err := checkName("tenant", a.Tenant); err != nil {
		return err
	}
	if err := checkName("container", a.Container); err != nil {
		return err
	}
	if err := checkKey(a.Key); err != nil {
		return err
	}
	if a.Size < 0 {
		return fmt.Errorf("%w: negative size", ErrInvalidArgument)
	}
	return checkParts(a.Parts)
}

func checkUploadRef(r uploadRef) error {
	if err := checkName("tenant", r.tenant); err != nil {
		return err
	}
	if err := checkName("container", r.container); err != nil {
		return err
	}
	if err := checkKey(r.key); err != nil {
		return err
	}
	return checkName("upload id", r.uploadID)
}

// --- typed reads inside a transaction ---

func (t *txn) container(tenant, name string) (*Container, error) {
	v := t.get(containerKey(tenant, name))
	if v == nil {
		return nil, nil
	}
	c, err := decodeContainer(v)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (t *txn) artifact(tenant, container, key string) (*Artifact, error) {
	v := t.get(artifactKey(tenant, container, key))
	if v == nil {
		return nil, nil
	}
	a, err := decodeArtifact(v)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// accessKey returns the access key record id, or ErrNotFound.
func (t *txn) accessKey(id string) (accessKeyRecord, error) {
	v := t.get(accessKeyKey(id))
	if v == nil {
		return accessKeyRecord{}, fmt.Errorf("%w: access key %q", ErrNotFound, id)
	}
	return decodeAccessKey(v)
}

// currentArtifact returns the artifact under key in an existing container
// (nil when there is none), or ErrContainerNotFound.
func (t *txn) currentArtifact(tenant, container, key string) (*Artifact, error) {
	cont, err := t.container(tenant, container)
	if err != nil {
		return nil, err
	}
	if cont == nil {
		return nil, fmt.Errorf("%w: %q", ErrContainerNotFound, container)
	}
	return t.artifact(tenant, container, key)
}

// storeArtifact makes a the current artifact under its key, replacing cur
// (nil when there was none): usage moves by the difference (and
// UploadBytes by dUpload, in the same update: staged writes are not read
// back within a command), and the blob references move from cur's parts
// to a's.
func (t *txn) storeArtifact(a, cur *Artifact, dUpload int64) error {
	k := artifactKey(a.Tenant, a.Container, a.Key)
	dBytes, dCount := a.Size, int64(1)
	if cur != nil {
		t.unrefBlobs(k, cur.AllParts())
		dBytes -= cur.Size
		dCount = 0
	}
	if err := t.adjustUsage(a.Tenant, a.Container, Usage{Bytes: dBytes, Artifacts: dCount, UploadBytes: dUpload}); err != nil {
		return err
	}
	t.refBlobs(k, a.Parts)
	t.set(k, encodeArtifact(a))
	return nil
}

func (t *txn) upload(r uploadRef) (*Upload, error) {
	v := t.get(uploadKey(r.tenant, r.container, r.key, r.uploadID))
	if v == nil {
		return nil, nil
	}
	u, err := decodeUpload(v)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// uploadParts returns the part records of an upload with their keys, in
// part number order.
func (t *txn) uploadParts(r uploadRef) ([]Part, [][]byte, error) {
	p := partPrefix(r.tenant, r.container, r.key, r.uploadID)
	it := t.iter(p, prefixEnd(p))
	defer it.Close()
	var parts []Part
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		part, err := decodePart(it.Value())
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, part)
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	mustOK(it.Error())
	return parts, keys, nil
}

func (t *txn) usage(key []byte) (Usage, error) {
	v := t.get(key)
	if v == nil {
		return Usage{}, nil
	}
	return decodeUsage(v)
}

// addUsage adjusts the tenant's and the container's counters.
func (t *txn) addUsage(tenant, container string, dBytes, dArtifacts int64) error {
	return t.adjustUsage(tenant, container, Usage{Bytes: dBytes, Artifacts: dArtifacts})
}

// adjustUsage adds d to the tenant's and the container's counters. An empty
// container adjusts only the tenant's. UploadBytes never goes below 0:
// parts uploaded by a release that did not count them free nothing.
func (t *txn) adjustUsage(tenant, container string, d Usage) error {
	if d == (Usage{}) {
		return nil
	}
	keys := [][]byte{tenantUsageKey(tenant)}
	if container != "" {
		keys = append(keys, containerUsageKey(tenant, container))
	}
	for _, k := range keys {
		u, err := t.usage(k)
		if err != nil {
			return err
		}
		u.Bytes += d.Bytes
		u.Artifacts += d.Artifacts
		u.UploadBytes = max(u.UploadBytes+d.UploadBytes, 0)
		t.set(k, encodeUsage(u))
	}
	return nil
}

// refBlobs records that the record under owner references the parts'
// blobs; unrefBlobs removes those references. Replacing a record is
// unref(old) then ref(new): the staged writes keep that order, so a blob
// both records share stays referenced.
func (t *txn) refBlobs(owner []byte, parts []Part) {
	for _, p := range parts {
		if p.Blob.ID != "" {
			t.set(blobRefKey(p.Blob.ID, owner), nil)
		}
	}
}

// Dropping a reference to a remote blob journals it (tiers.go,
// doomRemote), so that every committed change that may leave a remote
// object without a record is remembered in the same batch.
func (t *txn) unrefBlobs(owner []byte, parts []Part) {
	t.doomRemote(parts)
	for _, p := range parts {
		if p.Blob.ID != "" {
			t.del(blobRefKey(p.Blob.ID, owner))
		}
	}
}

func trimETag(s string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), `"`), `"`)
}

// checkCond decides a Cond against the current artifact (nil if none).
func checkCond(c Cond, cur *Artifact) error {
	if c.IfNoneMatch && cur != nil {
		return fmt.Errorf("%w: artifact exists", ErrPreconditionFailed)
	}
	if c.IfMatchETag != "" {
		if cur == nil {
			return fmt.Errorf("%w: artifact does not exist", ErrPreconditionFailed)
		}
		want := trimETag(c.IfMatchETag)
		if want != "*" && !strings.EqualFold(want, trimETag(cur.ETag)) {
			return fmt.Errorf("%w: etag mismatch", ErrPreconditionFailed)
		}
	}
	return nil
}

// --- command application ---

func (noopCmd) apply(*txn) result { return okResult(nil) }

func (c *putTenantCmd) apply(t *txn) result {
	if err := checkName("tenant id", c.t.ID); err != nil {
		return errResult(err)
	}
	t.set(tenantKey(c.t.ID), encodeTenant(c.t))
	return okResult(nil)
}

func (c *putUserCmd) apply(t *txn) result {
	if err := checkName("tenant", c.u.Tenant); err != nil {
		return errResult(err)
	}
	if err := checkName("user name", c.u.Name); err != nil {
		return errResult(err)
	}
	t.set(userKey(c.u.Tenant, c.u.Name), encodeUser(c.u))
	return okResult(nil)
}

func (c *createTenantCmd) apply(t *txn) result {
	if err := checkName("tenant id", c.t.ID); err != nil {
		return errResult(err)
	}
	k := tenantKey(c.t.ID)
	if t.has(k) {
		return errResult(fmt.Errorf("%w: tenant %q", ErrExists, c.t.ID))
	}
	t.set(k, encodeTenant(c.t))
	return okResult(nil)
}

func (c *createUserCmd) apply(t *txn) result {
	if err := checkName("tenant", c.u.Tenant); err != nil {
		return errResult(err)
	}
	if err := checkName("user name", c.u.Name); err != nil {
		return errResult(err)
	}
	if !t.has(tenantKey(c.u.Tenant)) {
		return errResult(fmt.Errorf("%w: tenant %q", ErrNotFound, c.u.Tenant))
	}
	k := userKey(c.u.Tenant, c.u.Name)
	if t.has(k) {
		return errResult(fmt.Errorf("%w: user %q", ErrExists, c.u.Name))
	}
	t.set(k, encodeUser(c.u))
	return okResult(nil)
}

func (c *setTenantStateCmd) apply(t *txn) result {
	k := tenantKey(c.id)
	v := t.get(k)
	if v == nil {
		return errResult(fmt.Errorf("%w: tenant %q", ErrNotFound, c.id))
	}
	ten, err := decodeTenant(v)
	if err != nil {
		return errResult(err)
	}
	ten.State = TenantState(c.state)
	t.set(k, encodeTenant(ten))
	return okResult(nil)
}

func (c *deleteUserCmd) apply(t *txn) result {
	k := userKey(c.tenant, c.name)
	if !t.has(k) {
		return errResult(fmt.Errorf("%w: user %q", ErrNotFound, c.name))
	}
	t.del(k)
	return okResult(nil)
}

func (c *createAccessKeyCmd) apply(t *txn) result {
	if err := checkName("access key id", c.k.ID); err != nil {
		return errResult(err)
	}
	if err := checkName("tenant", c.k.Tenant); err != nil {
		return errResult(err)
	}
	k := accessKeyKey(c.k.ID)
	if t.has(k) {
		return errResult(fmt.Errorf("%w: access key %q", ErrExists, c.k.ID))
	}
	t.set(k, encodeAccessKey(c.k))
	t.set(keyByTenantKey(c.k.Tenant, c.k.ID), nil)
	return okResult(nil)
}

func (c *setAccessKeyEnabledCmd) apply(t *txn) result {
	rec, err := t.accessKey(c.id)
	if err != nil {
		return errResult(err)
	}
	rec.Enabled = c.enabled
	t.set(accessKeyKey(c.id), encodeAccessKey(rec))
	return okResult(nil)
}

func (c *deleteAccessKeyCmd) apply(t *txn) result {
	rec, err := t.accessKey(c.id)
	if err != nil {
		return errResult(err)
	}
	t.del(accessKeyKey(c.id))
	t.del(keyByTenantKey(rec.Tenant, rec.ID))
	return okResult(nil)
}

func (c *createContainerCmd) apply(t *txn) result {
	if err := checkName("tenant", c.c.Tenant); err != nil {
		return errResult(err)
	}
	if err := checkName("container", c.c.Name); err != nil {
		return errResult(err)
	}
	k := containerKey(c.c.Tenant, c.c.Name)
	if t.has(k) {
		return errResult(fmt.Errorf("%w: container %q", ErrExists, c.c.Name))
	}
	t.set(k, encodeContainer(c.c))
	return okResult(nil)
}

func (c *updateContainerCmd) apply(t *txn) result {
	cur, err := t.container(c.c.Tenant, c.c.Name)
	if err != nil {
		return errResult(err)
	}
	if cur == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, c.c.Name))
	}
	next := c.c
	next.Created = cur.Created
	t.set(containerKey(c.c.Tenant, c.c.Name), encodeContainer(next))
	return okResult(nil)
}

func (c *deleteContainerCmd) apply(t *txn) result {
	cur, err := t.container(c.tenant, c.name)
	if err != nil {
		return errResult(err)
	}
	if cur == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, c.name))
	}
	nonEmpty := false
	// Noncurrent versions and delete markers keep a container non-empty,
	// as in S3.
	for _, p := range [][]byte{artifactPrefix(c.tenant, c.name), versionPrefix(c.tenant, c.name)} {
		it := t.iter(p, prefixEnd(p))
		nonEmpty = nonEmpty || it.First()
		mustOK(it.Close())
	}
	if nonEmpty {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotEmpty, c.name))
	}
	// Drop the container's multipart uploads and parts.
	up := uploadPrefix(c.tenant, c.name)
	it := t.iter(up, prefixEnd(up))
	for ok := it.First(); ok; ok = it.Next() {
		t.del(append([]byte(nil), it.Key()...))
	}
	mustOK(it.Close())
	var parts []Part
	pp := partContainerPrefix(c.tenant, c.name)
	it = t.iter(pp, prefixEnd(pp))
	for ok := it.First(); ok; ok = it.Next() {
		p, err := decodePart(it.Value())
		if err != nil {
			mustOK(it.Close())
			return errResult(err)
		}
		k := append([]byte(nil), it.Key()...)
		t.unrefBlobs(k, []Part{p})
		t.del(k)
		parts = append(parts, p)
	}
	mustOK(it.Close())
	var released int64
	for _, p := range parts {
		released += p.Size
	}
	if err := t.adjustUsage(c.tenant, "", Usage{UploadBytes: -released}); err != nil {
		return errResult(err)
	}
	t.del(containerKey(c.tenant, c.name))
	t.del(containerUsageKey(c.tenant, c.name))
	return okResult(encodeParts(parts))
}

// errVersionedNeedsV2 refuses a first-release payload on a container with
// a versioning state: its semantics (replace the one record) and its
// result (the replaced record, whose blobs the proposer frees) would lose
// versions. Only a proposer that lags behind the cluster version sends it.
func errVersionedNeedsV2(cont *Container) error {
	return fmt.Errorf("%w: container %q is versioned; the request needs cluster version %d", ErrUpgradeRequired, cont.Name, ClusterVersion2)
}

// withoutInline returns r with the written version's inline bytes left
// out: the proposer already holds them (PutVersion puts them back), and
// the result is kept as the command's dedupe entry, so carrying a small
// artifact's body there would write it to Pebble a third time (after the
// Raft log and the record) for every PUT.
func withoutInline(r WriteResult) WriteResult {
	if r.Version != nil && len(r.Version.Inline) > 0 {
		v := *r.Version
		v.Inline = nil
		r.Version = &v
	}
	return r
}

func (c *putArtifactCmd) apply(t *txn) result {
	a := c.a
	if c.v >= commandV2 {
		rel := newReleaser(t)
		res, err := t.putVersion(&a, c.cond, 0, rel)
		if err != nil {
			return errResult(err)
		}
		res.Freed = rel.freed()
		return okResult(encodeWriteResult(withoutInline(res)))
	}
	if err := checkArtifact(&a); err != nil {
		return errResult(err)
	}
	cont, err := t.container(a.Tenant, a.Container)
	if err != nil {
		return errResult(err)
	}
	if cont == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, a.Container))
	}
	if cont.VersioningState != "" {
		return errResult(errVersionedNeedsV2(cont))
	}
	cur, err := t.artifact(a.Tenant, a.Container, a.Key)
	if err != nil {
		return errResult(err)
	}
	if err := checkCond(c.cond, cur); err != nil {
		return errResult(err)
	}
	dBytes, dCount := a.Size, int64(1)
	if cur != nil {
		dBytes, dCount = a.Size-cur.Size, 0
	}
	if err := t.checkQuota(a.Tenant, cont, dBytes, dCount); err != nil {
		return errResult(err)
	}
	if err := t.storeArtifact(&a, cur, 0); err != nil {
		return errResult(err)
	}
	return okResult(encodeOptArtifact(cur))
}

func (c *deleteArtifactCmd) apply(t *txn) result {
	if c.v >= commandV2 {
		in := c.in
		res, err := t.deleteVersion(&in)
		if err != nil {
			return errResult(err)
		}
		return okResult(encodeWriteResult(res))
	}
	cont, err := t.container(c.in.Tenant, c.in.Container)
	if err != nil {
		return errResult(err)
	}
	if cont == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, c.in.Container))
	}
	if cont.VersioningState != "" {
		return errResult(errVersionedNeedsV2(cont))
	}
	cur, err := t.artifact(c.in.Tenant, c.in.Container, c.in.Key)
	if err != nil {
		return errResult(err)
	}
	if cur == nil {
		return okResult(encodeOptArtifact(nil))
	}
	k := artifactKey(c.in.Tenant, c.in.Container, c.in.Key)
	if err := t.addUsage(c.in.Tenant, c.in.Container, -cur.Size, -1); err != nil {
		return errResult(err)
	}
	t.unrefBlobs(k, cur.AllParts())
	t.del(k)
	return okResult(encodeOptArtifact(cur))
}

func (c *createUploadCmd) apply(t *txn) result {
	u := &c.u
	if err := checkUploadRef(uploadRef{u.Tenant, u.Container, u.Key, u.UploadID}); err != nil {
		return errResult(err)
	}
	cont, err := t.container(u.Tenant, u.Container)
	if err != nil {
		return errResult(err)
	}
	if cont == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, u.Container))
	}
	k := uploadKey(u.Tenant, u.Container, u.Key, u.UploadID)
	if t.has(k) {
		return errResult(fmt.Errorf("%w: upload %q", ErrExists, u.UploadID))
	}
	t.set(k, encodeUpload(u))
	return okResult(nil)
}

func (c *putPartCmd) apply(t *txn) result {
	if err := checkUploadRef(c.ref); err != nil {
		return errResult(err)
	}
	if err := checkPartNumber(c.p.Number); err != nil {
		return errResult(err)
	}
	if err := checkParts([]Part{c.p}); err != nil {
		return errResult(err)
	}
	u, err := t.upload(c.ref)
	if err != nil {
		return errResult(err)
	}
	if u == nil {
		return errResult(fmt.Errorf("%w: %q", ErrUploadNotFound, c.ref.uploadID))
	}
	k := partKey(c.ref.tenant, c.ref.container, c.ref.key, c.ref.uploadID, c.p.Number)
	var prev *Part
	if v := t.get(k); v != nil {
		p, err := decodePart(v)
		if err != nil {
			return errResult(err)
		}
		prev = &p
	}
	// Uploaded parts hold storage: they count against the bytes quotas.
	delta := c.p.Size
	if prev != nil {
		delta -= prev.Size
	}
	cont, err := t.container(c.ref.tenant, c.ref.container)
	if err != nil {
		return errResult(err)
	}
	if err := t.checkQuota(c.ref.tenant, cont, delta, 0); err != nil {
		return errResult(err)
	}
	if err := t.adjustUsage(c.ref.tenant, c.ref.container, Usage{UploadBytes: delta}); err != nil {
		return errResult(err)
	}
	if prev != nil {
		t.unrefBlobs(k, []Part{*prev})
	}
	t.refBlobs(k, []Part{c.p})
	t.set(k, encodePart(c.p))
	return okResult(encodeOptPart(prev))
}

func (c *completeUploadCmd) apply(t *txn) result {
	in := &c.in
	ref := uploadRef{in.Tenant, in.Container, in.Key, in.UploadID}
	if err := checkUploadRef(ref); err != nil {
		return errResult(err)
	}
	u, err := t.upload(ref)
	if err != nil {
		return errResult(err)
	}
	if u == nil {
		if c.v >= commandV2 {
			// A repeated completion (a retry whose answer was lost, or a
			// racing one) answers with the version the upload became,
			// while it is current.
			cur, err := t.artifact(in.Tenant, in.Container, in.Key)
			if err != nil {
				return errResult(err)
			}
			if cur != nil && cur.UploadID == in.UploadID {
				return okResult(encodeWriteResult(WriteResult{Version: cur}))
			}
		}
		return errResult(fmt.Errorf("%w: %q", ErrUploadNotFound, in.UploadID))
	}
	if len(in.Parts) == 0 {
		return errResult(fmt.Errorf("%w: no parts listed", ErrInvalidPart))
	}
	for i := 1; i < len(in.Parts); i++ {
		if in.Parts[i].Number <= in.Parts[i-1].Number {
			return errResult(fmt.Errorf("%w: part %d after part %d", ErrInvalidPartOrder, in.Parts[i].Number, in.Parts[i-1].Number))
		}
	}
	stored, keys, err := t.uploadParts(ref)
	if err != nil {
		return errResult(err)
	}
	byNumber := make(map[int]int, len(stored))
	for i, p := range stored {
		byNumber[p.Number] = i
	}
	used := make([]Part, 0, len(in.Parts))
	usedIdx := make(map[int]bool, len(in.Parts))
	sum := md5.New()
	var size int64
	for i, ref := range in.Parts {
		j, ok := byNumber[ref.Number]
		if !ok {
			return errResult(fmt.Errorf("%w: part %d was not uploaded", ErrInvalidPart, ref.Number))
		}
		p := stored[j]
		if !strings.EqualFold(trimETag(ref.ETag), trimETag(p.ETag)) {
			return errResult(fmt.Errorf("%w: part %d etag mismatch", ErrInvalidPart, ref.Number))
		}
		raw, err := hex.DecodeString(trimETag(p.ETag))
		if err != nil {
			return errResult(fmt.Errorf("%w: part %d etag is not hex", ErrInvalidPart, ref.Number))
		}
		if i < len(in.Parts)-1 && p.Size < in.MinPartSize {
			return errResult(fmt.Errorf("%w: part %d is %d bytes, below %d", ErrEntityTooSmall, p.Number, p.Size, in.MinPartSize))
		}
		sum.Write(raw)
		size += p.Size
		used = append(used, p)
		usedIdx[j] = true
	}
	cont, err := t.container(in.Tenant, in.Container)
	if err != nil {
		return errResult(err)
	}
	if cont == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, in.Container))
	}
	// The uploaded parts leave UploadBytes; the used ones become the
	// artifact's bytes, the unused ones are freed.
	var released int64
	for _, p := range stored {
		released += p.Size
	}
	a := Artifact{
		Tenant:      in.Tenant,
		Container:   in.Container,
		Key:         in.Key,
		VersionID:   in.VersionID,
		Size:        size,
		ETag:        hex.EncodeToString(sum.Sum(nil)) + "-" + strconv.Itoa(len(used)),
		ContentType: u.ContentType,
		Headers:     u.Headers,
		Meta:        u.Meta,
		Created:     in.Created,
		Parts:       used,
	}
	if c.v >= commandV2 {
		if n := len(in.PartChecksums); n > 0 {
			if n != len(used) {
				return errResult(fmt.Errorf("%w: %d part checksums for %d parts", ErrInvalidPart, n, len(used)))
			}
			for i, p := range used {
				if p.Checksums[u.ChecksumAlgorithm] != in.PartChecksums[i] {
					return errResult(fmt.Errorf("%w: part %d changed during the completion", ErrInvalidPart, p.Number))
				}
			}
		}
		if len(in.Checksums) > 0 {
			a.Checksums, a.ChecksumType = in.Checksums, in.ChecksumType
		}
		a.StorageClass, a.Tags = u.StorageClass, u.Tags
		a.Retention, a.LegalHold = u.Retention, u.LegalHold
		a.UploadID = in.UploadID
		a.Encryption = u.Encryption
		a.Owner, a.ACL = u.Owner, u.ACL
		rel := newReleaser(t)
		for i, p := range stored {
			rel.drop(keys[i], []Part{p})
			t.del(keys[i])
		}
		t.del(uploadKey(in.Tenant, in.Container, in.Key, in.UploadID))
		res, err := t.putVersion(&a, in.Cond, -released, rel)
		if err != nil {
			return errResult(err)
		}
		res.Freed = rel.freed()
		return okResult(encodeWriteResult(res))
	}
	if cont.VersioningState != "" {
		return errResult(errVersionedNeedsV2(cont))
	}
	cur, err := t.artifact(in.Tenant, in.Container, in.Key)
	if err != nil {
		return errResult(err)
	}
	if err := checkCond(in.Cond, cur); err != nil {
		return errResult(err)
	}
	dBytes, dCount := size-released, int64(1)
	if cur != nil {
		dBytes, dCount = dBytes-cur.Size, 0
	}
	if err := t.checkQuota(in.Tenant, cont, dBytes, dCount); err != nil {
		return errResult(err)
	}
	var unused []Part
	for i, p := range stored {
		t.unrefBlobs(keys[i], []Part{p})
		t.del(keys[i])
		if !usedIdx[i] {
			unused = append(unused, p)
		}
	}
	t.del(uploadKey(in.Tenant, in.Container, in.Key, in.UploadID))
	if err := t.storeArtifact(&a, cur, -released); err != nil {
		return errResult(err)
	}
	return okResult(encodeComplete(&a, cur, unused))
}

func (c *abortUploadCmd) apply(t *txn) result {
	if err := checkUploadRef(c.ref); err != nil {
		return errResult(err)
	}
	u, err := t.upload(c.ref)
	if err != nil {
		return errResult(err)
	}
	if u == nil {
		return errResult(fmt.Errorf("%w: %q", ErrUploadNotFound, c.ref.uploadID))
	}
	parts, keys, err := t.uploadParts(c.ref)
	if err != nil {
		return errResult(err)
	}
	var released int64
	for i, p := range parts {
		t.unrefBlobs(keys[i], []Part{p})
		t.del(keys[i])
		released += p.Size
	}
	if err := t.adjustUsage(c.ref.tenant, c.ref.container, Usage{UploadBytes: -released}); err != nil {
		return errResult(err)
	}
	t.del(uploadKey(c.ref.tenant, c.ref.container, c.ref.key, c.ref.uploadID))
	return okResult(encodeParts(parts))
}
