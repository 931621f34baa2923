package metastore

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// --- tenancy ---

// CreateTenant creates a tenant whose id is free, or fails with ErrExists
// (decided by the state machine, so two racing creators cannot both win).
func (s *Store) CreateTenant(ctx context.Context, t Tenant) error {
	if err := checkName("tenant id", t.ID); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdCreateTenant, &createTenantCmd{t})
	return err
}

// SetTenantState changes the state of an existing tenant (ErrNotFound).
func (s *Store) SetTenantState(ctx context.Context, id string, state TenantState) error {
	if err := checkName("tenant id", id); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdSetTenantState, &setTenantStateCmd{id: id, state: string(state)})
	return err
}

// CreateUser creates a user of an existing tenant (ErrNotFound) whose name
// is free in it (ErrExists).
func (s *Store) CreateUser(ctx context.Context, u User) error {
	if err := checkName("tenant", u.Tenant); err != nil {
		return err
	}
	if err := checkName("user name", u.Name); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdCreateUser, &createUserCmd{u})
	return err
}

// PutTenant creates or replaces a tenant.
func (s *Store) PutTenant(ctx context.Context, t Tenant) error {
	if err := checkName("tenant id", t.ID); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdPutTenant, &putTenantCmd{t})
	return err
}

// GetTenant returns a tenant, or ErrNotFound.
func (s *Store) GetTenant(ctx context.Context, id string, opts ...ReadOption) (Tenant, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Tenant{}, err
	}
	defer end()
	v, err := s.fsm.hot.get(s.db, tenantKey(id))
	if err != nil {
		return Tenant{}, err
	}
	if v == nil {
		return Tenant{}, fmt.Errorf("%w: tenant %q", ErrNotFound, id)
	}
	return decodeTenant(v)
}

// ListTenants returns all tenants ordered by id.
func (s *Store) ListTenants(ctx context.Context, opts ...ReadOption) ([]Tenant, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	p := []byte{prefixFSM, tblTenant}
	return scan(s.db, p, decodeTenant)
}

// PutUser creates or replaces a user of a tenant. The metastore does not
// check that the tenant exists (package tenancy does).
func (s *Store) PutUser(ctx context.Context, u User) error {
	if err := checkName("tenant", u.Tenant); err != nil {
		return err
	}
	if err := checkName("user name", u.Name); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdPutUser, &putUserCmd{u})
	return err
}

// GetUser returns a user, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, tenant, name string, opts ...ReadOption) (User, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return User{}, err
	}
	defer end()
	v, err := getCopy(s.db, userKey(tenant, name))
	if err != nil {
		return User{}, err
	}
	if v == nil {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	return decodeUser(v)
}

// ListUsers returns the users of a tenant ordered by name.
func (s *Store) ListUsers(ctx context.Context, tenant string, opts ...ReadOption) ([]User, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	return scan(s.db, userPrefix(tenant), decodeUser)
}

// DeleteUser deletes a user (ErrNotFound if absent). Its access keys are
// not touched.
func (s *Store) DeleteUser(ctx context.Context, tenant, name string) error {
	_, err := s.write(ctx, cmdDeleteUser, &deleteUserCmd{tenant: tenant, name: name})
	return err
}

// CreateAccessKey stores a new access key (ErrExists if the id is taken).
// The secret is sealed with the master key on this node, before it enters
// the Raft log; only GetAccessKey opens it.
func (s *Store) CreateAccessKey(ctx context.Context, k AccessKey, secret string) error {
	if err := checkName("access key id", k.ID); err != nil {
		return err
	}
	if err := checkName("tenant", k.Tenant); err != nil {
		return err
	}
	sealed, err := seal(s.aead, k.ID, secret)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, cmdCreateAccessKey, &createAccessKeyCmd{accessKeyRecord{AccessKey: k, Sealed: sealed}})
	return err
}

// GetAccessKey returns an access key and its secret, or ErrNotFound.
func (s *Store) GetAccessKey(ctx context.Context, id string, opts ...ReadOption) (AccessKey, string, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return AccessKey{}, "", err
	}
	defer end()
	v, err := s.fsm.hot.get(s.db, accessKeyKey(id))
	if err != nil {
		return AccessKey{}, "", err
	}
	if v == nil {
		return AccessKey{}, "", fmt.Errorf("%w: access key %q", ErrNotFound, id)
	}
	rec, err := decodeAccessKey(v)
	if err != nil {
		return AccessKey{}, "", err
	}
	secret, err := unseal(s.aead, rec.ID, rec.Sealed)
	if err != nil {
		return AccessKey{}, "", err
	}
	return rec.AccessKey, secret, nil
}

// SetAccessKeyEnabled enables or disables an access key (ErrNotFound).
func (s *Store) SetAccessKeyEnabled(ctx context.Context, id string, enabled bool) error {
	_, err := s.write(ctx, cmdSetAccessKeyEnabled, &setAccessKeyEnabledCmd{id: id, enabled: enabled})
	return err
}

// DeleteAccessKey deletes an access key (ErrNotFound).
func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	_, err := s.write(ctx, cmdDeleteAccessKey, &deleteAccessKeyCmd{id: id})
	return err
}

// ListAccessKeys returns a tenant's access keys ordered by id, without
// secrets.
func (s *Store) ListAccessKeys(ctx context.Context, tenant string, opts ...ReadOption) ([]AccessKey, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	// One snapshot for the index and the records: a key deleted
	// concurrently vanishes from both or neither.
	snap := s.db.NewSnapshot()
	defer snap.Close()
	p := keyByTenantPrefix(tenant)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []AccessKey
	for ok := it.First(); ok; ok = it.Next() {
		id := string(it.Key()[len(p):])
		v, err := getCopy(snap, accessKeyKey(id))
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("%w: access key index names missing key %q", ErrCorrupt, id)
		}
		rec, err := decodeAccessKey(v)
		if err != nil {
			return nil, err
		}
		out = append(out, rec.AccessKey)
	}
	return out, it.Error()
}

// --- containers ---

// CreateContainer creates a container if absent (ErrExists otherwise).
func (s *Store) CreateContainer(ctx context.Context, c Container) error {
	if err := checkName("tenant", c.Tenant); err != nil {
		return err
	}
	if err := checkName("container", c.Name); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdCreateContainer, &createContainerCmd{c})
	return err
}

// UpdateContainer replaces the settings of an existing container
// (Versioning, quotas, Lifecycle); Created is kept. ErrContainerNotFound if
// it does not exist.
func (s *Store) UpdateContainer(ctx context.Context, c Container) error {
	if err := checkName("tenant", c.Tenant); err != nil {
		return err
	}
	if err := checkName("container", c.Name); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdUpdateContainer, &updateContainerCmd{c})
	return err
}

// GetContainer returns a container, or ErrContainerNotFound.
func (s *Store) GetContainer(ctx context.Context, tenant, name string, opts ...ReadOption) (Container, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Container{}, err
	}
	defer end()
	v, err := s.fsm.hot.get(s.db, containerKey(tenant, name))
	if err != nil {
		return Container{}, err
	}
	if v == nil {
		return Container{}, fmt.Errorf("%w: %q", ErrContainerNotFound, name)
	}
	return decodeContainer(v)
}

// ListContainers returns a tenant's containers ordered by name.
func (s *Store) ListContainers(ctx context.Context, tenant string, opts ...ReadOption) ([]Container, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	return scan(s.db, containerPrefix(tenant), decodeContainer)
}

// DeleteContainer deletes an empty container: ErrContainerNotEmpty while
// it holds artifacts, ErrContainerNotFound if absent. Its multipart uploads
// are dropped with it; their parts are returned so the caller can delete
// their blobs.
func (s *Store) DeleteContainer(ctx context.Context, tenant, name string) ([]Part, error) {
	body, err := s.write(ctx, cmdDeleteContainer, &deleteContainerCmd{tenant: tenant, name: name})
	if err != nil {
		return nil, err
	}
	return decodeBody(body, readParts)
}

// --- artifacts ---

// PutArtifact stores an artifact record as PutVersion does and returns
// the version it removed (nil if none: nothing was there, or the previous
// version was kept as a noncurrent one). Blobs of the removed record that
// nothing references any more are in PutVersion's WriteResult.Freed.
func (s *Store) PutArtifact(ctx context.Context, a Artifact, cond Cond) (*Artifact, error) {
	r, err := s.PutVersion(ctx, a, cond)
	return r.Removed, err
}

// DeleteArtifact deletes a key as DeleteVersion does (without a version
// id) and returns the version it removed; a missing key returns (nil, nil).
// ErrContainerNotFound if the container does not exist.
func (s *Store) DeleteArtifact(ctx context.Context, tenant, container, key string) (*Artifact, error) {
	r, err := s.DeleteVersion(ctx, DeleteInput{Tenant: tenant, Container: container, Key: key})
	return r.Removed, err
}

// GetArtifact returns an artifact record: ErrArtifactNotFound, or
// ErrContainerNotFound when the container does not exist.
func (s *Store) GetArtifact(ctx context.Context, tenant, container, key string, opts ...ReadOption) (Artifact, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Artifact{}, err
	}
	defer end()
	v, err := getCopy(s.db, artifactKey(tenant, container, key))
	if err != nil {
		return Artifact{}, err
	}
	if v == nil {
		if err := s.containerExists(tenant, container); err != nil {
			return Artifact{}, err
		}
		return Artifact{}, fmt.Errorf("%w: %q", ErrArtifactNotFound, key)
	}
	return decodeArtifact(v)
}

// containerExists returns nil, ErrContainerNotFound or a storage error.
func (s *Store) containerExists(tenant, name string) error {
	v, err := s.fsm.hot.get(s.db, containerKey(tenant, name))
	if err != nil {
		return err
	}
	if v == nil {
		return fmt.Errorf("%w: %q", ErrContainerNotFound, name)
	}
	return nil
}

// BlobLive reports whether any artifact or uploaded part references the
// blob. The orphan collector deletes a blob's shards only when it is not
// live (and was written long enough ago that its record cannot still be on
// its way through Raft).
func (s *Store) BlobLive(ctx context.Context, blobID string, opts ...ReadOption) (bool, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return false, err
	}
	defer end()
	p := blobRefPrefix(blobID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return false, err
	}
	live := it.First()
	return live, it.Close()
}

// BlobOwners names the records that reference the blob, for a person (an
// operator asking what a shard file on a drive belongs to): each record's
// table and the readable parts of its key, as the scrub names them. None:
// the blob is garbage, which the collector or the orphan sweep removes.
func (s *Store) BlobOwners(ctx context.Context, blobID string, opts ...ReadOption) ([]string, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	keys, err := s.blobOwnerKeys(blobID)
	if err != nil {
		return nil, err
	}
	owners := make([]string, len(keys))
	for i, k := range keys {
		owners[i] = recordName(k)
	}
	return owners, nil
}

// --- multipart ---

// CreateUpload registers a multipart upload (ErrContainerNotFound;
// ErrExists if the upload id is taken for that key). The initiator is
// only shown in listings, so below cluster version 2, whose nodes cannot
// read it, it is left out rather than the upload refused.
func (s *Store) CreateUpload(ctx context.Context, u Upload) error {
	if err := checkUploadRef(uploadRef{u.Tenant, u.Container, u.Key, u.UploadID}); err != nil {
		return err
	}
	if u.Initiator != "" && s.ClusterVersion() < ClusterVersion2 {
		u.Initiator = ""
	}
	_, err := s.write(ctx, cmdCreateUpload, &createUploadCmd{u})
	return err
}

// GetUpload returns a multipart upload, or ErrUploadNotFound.
func (s *Store) GetUpload(ctx context.Context, tenant, container, key, uploadID string, opts ...ReadOption) (Upload, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Upload{}, err
	}
	defer end()
	v, err := getCopy(s.db, uploadKey(tenant, container, key, uploadID))
	if err != nil {
		return Upload{}, err
	}
	if v == nil {
		return Upload{}, fmt.Errorf("%w: %q", ErrUploadNotFound, uploadID)
	}
	return decodeUpload(v)
}

// PutPart records an uploaded part, replacing a part of the same number,
// which it returns (nil if none) so the caller can delete its blob.
// ErrUploadNotFound if the upload does not exist.
func (s *Store) PutPart(ctx context.Context, tenant, container, key, uploadID string, p Part) (*Part, error) {
	ref := uploadRef{tenant, container, key, uploadID}
	if err := checkUploadRef(ref); err != nil {
		return nil, err
	}
	if err := checkPartNumber(p.Number); err != nil {
		return nil, err
	}
	body, err := s.write(ctx, cmdPutPart, &putPartCmd{ref: ref, p: p})
	if err != nil {
		return nil, err
	}
	return decodeBody(body, func(d *decoder) *Part {
		if !d.bool() {
			return nil
		}
		p := readPart(d)
		return &p
	})
}

// ListParts returns up to max parts (0 or above 1000 means 1000) with
// numbers above marker, in order, and whether more follow.
// ErrUploadNotFound if the upload does not exist.
func (s *Store) ListParts(ctx context.Context, tenant, container, key, uploadID string, marker, max int, opts ...ReadOption) ([]Part, bool, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, false, err
	}
	defer end()
	v, err := getCopy(s.db, uploadKey(tenant, container, key, uploadID))
	if err != nil {
		return nil, false, err
	}
	if v == nil {
		return nil, false, fmt.Errorf("%w: %q", ErrUploadNotFound, uploadID)
	}
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	if marker >= maxPartNumber {
		return nil, false, nil
	}
	p := partPrefix(tenant, container, key, uploadID)
	start := p
	if marker > 0 {
		start = partKey(tenant, container, key, uploadID, marker+1)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	var parts []Part
	ok := it.First()
	for ; ok && len(parts) < max; ok = it.Next() {
		part, err := decodePart(it.Value())
		if err != nil {
			return nil, false, err
		}
		parts = append(parts, part)
	}
	return parts, ok, it.Error()
}

// CompleteUpload completes a multipart upload in one command: see
// CompleteInput and the errors ErrUploadNotFound, ErrInvalidPart,
// ErrInvalidPartOrder, ErrEntityTooSmall, ErrPreconditionFailed,
// ErrContainerNotFound. It returns the new artifact, the version it
// removed (or nil) and the parts it freed (the uploaded parts the
// completion did not use, and those of the removed version); see
// CompleteUploadVersion.
func (s *Store) CompleteUpload(ctx context.Context, in CompleteInput) (Artifact, *Artifact, []Part, error) {
	if err := checkUploadRef(uploadRef{in.Tenant, in.Container, in.Key, in.UploadID}); err != nil {
		return Artifact{}, nil, nil, err
	}
	r, err := s.CompleteUploadVersion(ctx, in)
	if err != nil {
		return Artifact{}, nil, nil, err
	}
	return *r.Version, r.Removed, r.Freed, nil
}

// completeUploadV1 proposes the first release's completion payload.
func (s *Store) completeUploadV1(ctx context.Context, in CompleteInput) (Artifact, *Artifact, []Part, error) {
	body, err := s.write(ctx, cmdCompleteUpload, &completeUploadCmd{in: in})
	if err != nil {
		return Artifact{}, nil, nil, err
	}
	type out struct {
		a      Artifact
		prev   *Artifact
		unused []Part
	}
	o, err := decodeBody(body, func(d *decoder) out {
		a := readArtifact(d)
		prev := readOptArtifact(d)
		return out{a, prev, readParts(d)}
	})
	return o.a, o.prev, o.unused, err
}

// AbortUpload deletes a multipart upload and returns its parts so the
// caller can delete their blobs. ErrUploadNotFound if it does not exist.
func (s *Store) AbortUpload(ctx context.Context, tenant, container, key, uploadID string) ([]Part, error) {
	ref := uploadRef{tenant, container, key, uploadID}
	if err := checkUploadRef(ref); err != nil {
		return nil, err
	}
	body, err := s.write(ctx, cmdAbortUpload, &abortUploadCmd{ref})
	if err != nil {
		return nil, err
	}
	return decodeBody(body, readParts)
}

// --- usage ---

// TenantUsage returns a tenant's stored bytes and artifact count.
func (s *Store) TenantUsage(ctx context.Context, tenant string, opts ...ReadOption) (Usage, error) {
	return s.readUsage(ctx, tenantUsageKey(tenant), opts)
}

// ContainerUsage returns a container's stored bytes and artifact count.
func (s *Store) ContainerUsage(ctx context.Context, tenant, container string, opts ...ReadOption) (Usage, error) {
	return s.readUsage(ctx, containerUsageKey(tenant, container), opts)
}

func (s *Store) readUsage(ctx context.Context, key []byte, opts []ReadOption) (Usage, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Usage{}, err
	}
	defer end()
	v, err := getCopy(s.db, key)
	if err != nil || v == nil {
		return Usage{}, err
	}
	return decodeUsage(v)
}

// --- helpers ---

// scan decodes every value under prefix p.
func scan[T any](db *pebble.DB, p []byte, decode func([]byte) (T, error)) ([]T, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []T
	for ok := it.First(); ok; ok = it.Next() {
		v, err := decode(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, it.Error()
}

// decodeBody decodes a result body with read, which must consume it.
func decodeBody[T any](body []byte, read func(*decoder) T) (T, error) {
	d := decoder{b: body}
	v := read(&d)
	if err := d.done(); err != nil {
		var zero T
		return zero, fmt.Errorf("%w: apply result body", ErrCorrupt)
	}
	return v, nil
}
