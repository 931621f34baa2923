package metastore

import (
	"context"
	"fmt"
)

// updateVersionCmd (27) changes a setting of one version: tags, retention
// or legal hold (VersionUpdate). Payload: tenant, container, key,
// has-version, version id, op (1 tags, 2 retention, 3 legal hold), then
// the op's fields (tags: strMap; retention: mode, until, bypass; legal
// hold: bool). Result: the updated record.
type updateVersionCmd struct{ u VersionUpdate }

const (
	verOpTags      = 1
	verOpRetention = 2
	verOpLegalHold = 3
)

func (c *updateVersionCmd) write(e *encoder) {
	u := &c.u
	e.str(u.Tenant)
	e.str(u.Container)
	e.str(u.Key)
	e.bool(u.HasVersion)
	e.str(u.VersionID)
	switch {
	case u.SetTags:
		e.u8(verOpTags)
		e.strMap(u.Tags)
	case u.SetRetention:
		e.u8(verOpRetention)
		e.str(u.Retention.Mode)
		e.time(u.Retention.Until)
		e.bool(u.BypassGovernance)
	case u.SetLegalHold:
		e.u8(verOpLegalHold)
		e.bool(u.LegalHold)
	default:
		e.u8(0)
	}
}

func decodeUpdateVersion(d *decoder) commandBody {
	var u VersionUpdate
	u.Tenant, u.Container, u.Key = d.str(), d.str(), d.str()
	u.HasVersion = d.bool()
	u.VersionID = d.str()
	switch d.u8() {
	case verOpTags:
		u.SetTags, u.Tags = true, d.strMap()
	case verOpRetention:
		u.SetRetention = true
		u.Retention = Retention{Mode: d.str(), Until: d.time()}
		u.BypassGovernance = d.bool()
	case verOpLegalHold:
		u.SetLegalHold, u.LegalHold = true, d.bool()
	default:
		d.fail()
		return nil
	}
	return &updateVersionCmd{u}
}

func (c *updateVersionCmd) apply(t *txn) result {
	return applyVersionUpdate(t, &c.u)
}

func applyVersionUpdate(t *txn, u *VersionUpdate) result {
	a, err := t.updateVersion(u)
	if err != nil {
		return errResult(err)
	}
	e := encoder{}
	writeOptRecord(&e, a)
	return okResult(e.b)
}

// setVersionACLCmd (91, cluster version 2) replaces the ACL of one version
// (VersionUpdate.SetACL). Payload: tenant, container, key, has-version,
// version id, acl (str). Result: the updated record. (update-version's
// payload has no room for a new setting an older node could skip, hence
// a command of its own.)
type setVersionACLCmd struct{ u VersionUpdate }

func (c *setVersionACLCmd) write(e *encoder) {
	u := &c.u
	e.str(u.Tenant)
	e.str(u.Container)
	e.str(u.Key)
	e.bool(u.HasVersion)
	e.str(u.VersionID)
	e.str(u.ACL)
}

func decodeSetVersionACL(d *decoder) commandBody {
	u := VersionUpdate{SetACL: true}
	u.Tenant, u.Container, u.Key = d.str(), d.str(), d.str()
	u.HasVersion = d.bool()
	u.VersionID = d.str()
	u.ACL = d.str()
	return &setVersionACLCmd{u}
}

func (c *setVersionACLCmd) apply(t *txn) result {
	u := c.u
	u.SetACL = true
	return applyVersionUpdate(t, &u)
}

// ContainerChange changes one setting of a container (exactly one of the
// Set fields).
type ContainerChange struct {
	Tenant, Name string
	// SetVersioning: Versioning is VersioningEnabled or
	// VersioningSuspended (a container never returns to no versioning).
	SetVersioning bool
	Versioning    string
	// SetObjectLock: ObjectLock replaces the lock configuration; lock can
	// be turned on (on a container with versioning enabled), never off.
	SetObjectLock bool
	ObjectLock    ObjectLockConfig
	// SetTags: Tags replaces the container's tags (nil removes them).
	SetTags bool
	Tags    map[string]string
	// SetConfig names an opaque sub-resource; ConfigValue "" removes it.
	SetConfig   string
	ConfigValue string
}

func (c *ContainerChange) ops() int {
	n := 0
	for _, b := range []bool{c.SetVersioning, c.SetObjectLock, c.SetTags, c.SetConfig != ""} {
		if b {
			n++
		}
	}
	return n
}

// setContainerConfigCmd (28) applies a ContainerChange. Payload: tenant,
// name, op (1 versioning, 2 object lock, 3 tags, 4 config), the op's
// fields. Result: the updated container record.
type setContainerConfigCmd struct{ c ContainerChange }

const (
	contOpVersioning = 1
	contOpObjectLock = 2
	contOpTags       = 3
	contOpConfig     = 4
)

func (c *setContainerConfigCmd) write(e *encoder) {
	ch := &c.c
	e.str(ch.Tenant)
	e.str(ch.Name)
	switch {
	case ch.SetVersioning:
		e.u8(contOpVersioning)
		e.str(ch.Versioning)
	case ch.SetObjectLock:
		e.u8(contOpObjectLock)
		ol := ch.ObjectLock
		e.bool(ol.Enabled)
		e.str(ol.Mode)
		e.int(ol.Days)
		e.int(ol.Years)
	case ch.SetTags:
		e.u8(contOpTags)
		e.strMap(ch.Tags)
	case ch.SetConfig != "":
		e.u8(contOpConfig)
		e.str(ch.SetConfig)
		e.str(ch.ConfigValue)
	default:
		e.u8(0)
	}
}

func decodeSetContainerConfig(d *decoder) commandBody {
	var ch ContainerChange
	ch.Tenant, ch.Name = d.str(), d.str()
	switch d.u8() {
	case contOpVersioning:
		ch.SetVersioning, ch.Versioning = true, d.str()
	case contOpObjectLock:
		ch.SetObjectLock = true
		ch.ObjectLock = ObjectLockConfig{Enabled: d.bool(), Mode: d.str(), Days: d.int(), Years: d.int()}
	case contOpTags:
		ch.SetTags, ch.Tags = true, d.strMap()
	case contOpConfig:
		ch.SetConfig, ch.ConfigValue = d.str(), d.str()
		if ch.SetConfig == "" {
			d.fail()
			return nil
		}
	default:
		d.fail()
		return nil
	}
	return &setContainerConfigCmd{ch}
}

// CheckObjectLockConfig validates a lock configuration: enabled, and a
// default retention that is either absent or a mode with exactly one of
// Days and Years, positive.
func CheckObjectLockConfig(ol ObjectLockConfig) error {
	if !ol.Enabled {
		return fmt.Errorf("%w: object lock cannot be turned off", ErrInvalidArgument)
	}
	if ol.Mode == "" {
		if ol.Days != 0 || ol.Years != 0 {
			return fmt.Errorf("%w: a default retention period needs a mode", ErrInvalidArgument)
		}
		return nil
	}
	if !validLockMode(ol.Mode) {
		return fmt.Errorf("%w: unknown retention mode %q", ErrInvalidArgument, ol.Mode)
	}
	if (ol.Days > 0) == (ol.Years > 0) || ol.Days < 0 || ol.Years < 0 {
		return fmt.Errorf("%w: a default retention needs exactly one of Days and Years, positive", ErrInvalidArgument)
	}
	// Bounds keep the retain-until date representable (S3 allows up to
	// 100 years).
	if ol.Days > 36500 || ol.Years > 100 {
		return fmt.Errorf("%w: default retention longer than 100 years", ErrInvalidArgument)
	}
	return nil
}

func (c *setContainerConfigCmd) apply(t *txn) result {
	ch := &c.c
	if ch.ops() != 1 {
		return errResult(fmt.Errorf("%w: one container setting per change", ErrInvalidArgument))
	}
	cont, err := t.container(ch.Tenant, ch.Name)
	if err != nil {
		return errResult(err)
	}
	if cont == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, ch.Name))
	}
	next := *cont
	switch {
	case ch.SetVersioning:
		switch ch.Versioning {
		case VersioningEnabled:
		case VersioningSuspended:
			if cont.ObjectLock.Enabled {
				return errResult(fmt.Errorf("%w: versioning cannot be suspended on a container with object lock", ErrInvalidContainerState))
			}
		default:
			return errResult(fmt.Errorf("%w: versioning status %q", ErrInvalidArgument, ch.Versioning))
		}
		next.VersioningState = ch.Versioning
	case ch.SetObjectLock:
		if err := CheckObjectLockConfig(ch.ObjectLock); err != nil {
			return errResult(err)
		}
		if !cont.ObjectLock.Enabled && cont.VersioningState != VersioningEnabled {
			return errResult(fmt.Errorf("%w: versioning must be enabled to turn object lock on", ErrInvalidContainerState))
		}
		next.ObjectLock = ch.ObjectLock
	case ch.SetTags:
		next.Tags = ch.Tags
	case ch.SetConfig != "":
		next.Config = make(map[string]string, len(cont.Config)+1)
		for k, v := range cont.Config {
			next.Config[k] = v
		}
		if ch.ConfigValue == "" {
			delete(next.Config, ch.SetConfig)
		} else {
			next.Config[ch.SetConfig] = ch.ConfigValue
		}
		if len(next.Config) == 0 {
			next.Config = nil
		}
	}
	enc := encodeContainer(next)
	t.set(containerKey(ch.Tenant, ch.Name), enc)
	return okResult(enc)
}

// --- Store API ---

// v2 reports whether this node may propose the versioned payloads: the
// cluster version allows them. (Before that, the first release's payloads
// keep a mixed-version cluster applying the same log alike.)
func (s *Store) v2() bool { return s.ClusterVersion() >= ClusterVersion2 }

// PutVersion stores a as the new current version of its key, following
// the container's versioning state, if cond holds against the current
// artifact (ErrPreconditionFailed); ErrContainerNotFound, ErrQuotaExceeded,
// ErrLockNotEnabled. The state machine assigns the version id (none for a
// null version) and applies the container's default retention: the
// result's Version is the record as stored.
func (s *Store) PutVersion(ctx context.Context, a Artifact, cond Cond) (WriteResult, error) {
	if err := checkArtifact(&a); err != nil {
		return WriteResult{}, err
	}
	if !s.v2() {
		if artifactNeedsV2(&a) {
			return WriteResult{}, fmt.Errorf("%w: the artifact uses fields of cluster version %d", ErrUpgradeRequired, ClusterVersion2)
		}
		body, err := s.write(ctx, cmdPutArtifact, &putArtifactCmd{a: a, cond: cond})
		if err != nil {
			return WriteResult{}, err
		}
		prev, err := decodeBody(body, readOptArtifact)
		if err != nil {
			return WriteResult{}, err
		}
		return WriteResult{Version: &a, Removed: prev, Freed: partsNotIn(prev, a.Parts)}, nil
	}
	body, err := s.write(ctx, cmdPutArtifact, &putArtifactCmd{v: commandV2, a: a, cond: cond})
	if err != nil {
		return WriteResult{}, err
	}
	res, err := decodeBody(body, readWriteResult)
	if err == nil && res.Version != nil && res.Version.Inline == nil {
		// The state machine leaves the inline bytes out of the result
		// (withoutInline); the record holds a's, unchanged.
		res.Version.Inline = a.Inline
	}
	return res, err
}

// partsNotIn returns the parts of prev whose blobs keep is not using
// (what a first-release overwrite frees).
func partsNotIn(prev *Artifact, keep []Part) []Part {
	if prev == nil {
		return nil
	}
	ids := map[string]bool{}
	for _, p := range keep {
		ids[p.Blob.ID] = true
	}
	var out []Part
	for _, p := range prev.Parts {
		if p.Blob.ID != "" && !ids[p.Blob.ID] {
			out = append(out, p)
		}
	}
	return out
}

// DeleteVersion deletes a key (a delete marker where the container has a
// versioning state) or, with in.HasVersion, one version of it, unless
// object lock forbids (ErrObjectLocked). A version that does not exist is
// not an error (nothing is removed). ErrContainerNotFound, and for
// in.IfMatch ErrArtifactNotFound or ErrPreconditionFailed.
func (s *Store) DeleteVersion(ctx context.Context, in DeleteInput) (WriteResult, error) {
	if !s.v2() {
		if in.HasVersion && in.VersionID != NullVersion || in.IfMatch != "" || in.BypassGovernance {
			return WriteResult{}, fmt.Errorf("%w: deleting by version or condition needs cluster version %d", ErrUpgradeRequired, ClusterVersion2)
		}
		body, err := s.write(ctx, cmdDeleteArtifact, &deleteArtifactCmd{in: DeleteInput{Tenant: in.Tenant, Container: in.Container, Key: in.Key}})
		if err != nil {
			return WriteResult{}, err
		}
		prev, err := decodeBody(body, readOptArtifact)
		if err != nil {
			return WriteResult{}, err
		}
		return WriteResult{Removed: prev, Freed: partsNotIn(prev, nil)}, nil
	}
	body, err := s.write(ctx, cmdDeleteArtifact, &deleteArtifactCmd{v: commandV2, in: in})
	if err != nil {
		return WriteResult{}, err
	}
	return decodeBody(body, readWriteResult)
}

// CompleteUploadVersion completes a multipart upload into a new version of
// its key (see CompleteInput; errors as CompleteUpload). A completion of
// an upload that already completed answers with the version it became,
// while that version is current.
func (s *Store) CompleteUploadVersion(ctx context.Context, in CompleteInput) (WriteResult, error) {
	if !s.v2() {
		a, prev, unused, err := s.completeUploadV1(ctx, in)
		if err != nil {
			return WriteResult{}, err
		}
		return WriteResult{Version: &a, Removed: prev, Freed: append(unused, partsNotIn(prev, a.Parts)...)}, nil
	}
	body, err := s.write(ctx, cmdCompleteUpload, &completeUploadCmd{v: commandV2, in: in})
	if err != nil {
		return WriteResult{}, err
	}
	return decodeBody(body, readWriteResult)
}

// UpdateVersion changes the tags, retention, legal hold or ACL of one version
// (see VersionUpdate) and returns the updated record. ErrNoSuchVersion,
// ErrArtifactNotFound (no current artifact), ErrDeleteMarker,
// ErrLockNotEnabled, ErrObjectLocked (a retention change the lock
// forbids), ErrInvalidArgument.
func (s *Store) UpdateVersion(ctx context.Context, u VersionUpdate) (Artifact, error) {
	if u.ops() != 1 {
		return Artifact{}, fmt.Errorf("%w: one version setting per update", ErrInvalidArgument)
	}
	var body []byte
	var err error
	if u.SetACL {
		body, err = s.write(ctx, cmdSetVersionACL, &setVersionACLCmd{u})
	} else {
		body, err = s.write(ctx, cmdUpdateVersion, &updateVersionCmd{u})
	}
	if err != nil {
		return Artifact{}, err
	}
	a, err := decodeBody(body, readOptRecord)
	if err != nil {
		return Artifact{}, err
	}
	if a == nil {
		return Artifact{}, fmt.Errorf("%w: empty update result", ErrCorrupt)
	}
	return *a, nil
}

// ChangeContainer applies one ContainerChange and returns the container
// as it is after it. ErrContainerNotFound, ErrInvalidArgument,
// ErrInvalidContainerState (suspending versioning under object lock, lock
// without versioning).
func (s *Store) ChangeContainer(ctx context.Context, ch ContainerChange) (Container, error) {
	if ch.ops() != 1 {
		return Container{}, fmt.Errorf("%w: one container setting per change", ErrInvalidArgument)
	}
	body, err := s.write(ctx, cmdSetContainerConfig, &setContainerConfigCmd{ch})
	if err != nil {
		return Container{}, err
	}
	return decodeContainer(body)
}
