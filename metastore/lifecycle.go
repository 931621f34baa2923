package metastore

import (
	"context"
	"fmt"
	"time"
)

// This file holds what the lifecycle engine (node) keeps in the state
// machine (range: tables 0x38-0x3b, commands 80-84, cluster version 2):
//
//   - table 0x38, lifecycle-state: one opaque value, the engine's position
//     in its walk over the containers (encoded by node), so that a new
//     leader resumes where the old one stopped;
//   - command 80, set-lifecycle-state, replaces it;
//   - command 81, lifecycle-delete: a delete decided by the state machine
//     exactly as a user's (object lock is enforced by the same code), but
//     only if the version the engine chose is still what it saw.

// Lifecycle commands.
const (
	cmdSetLifecycleState cmdType = 80
	cmdLifecycleDelete   cmdType = 81
)

var keyLifecycleState = []byte{prefixFSM, tblLifecycleState}

// maxLifecycleState bounds the engine's state value.
const maxLifecycleState = 64 << 10

type setLifecycleStateCmd struct{ state []byte }

func (c *setLifecycleStateCmd) write(e *encoder) { e.bytes(c.state) }

func decodeSetLifecycleState(d *decoder) commandBody {
	return &setLifecycleStateCmd{state: d.bytes()}
}

func (c *setLifecycleStateCmd) apply(t *txn) result {
	if len(c.state) > maxLifecycleState {
		return errResult(fmt.Errorf("%w: lifecycle state of %d bytes", ErrInvalidArgument, len(c.state)))
	}
	if len(c.state) == 0 {
		t.del(keyLifecycleState)
	} else {
		t.set(keyLifecycleState, append([]byte(nil), c.state...))
	}
	return okResult(nil)
}

// LifecycleDeleteInput is a lifecycle action's delete: the DeleteInput of
// the version (or, without HasVersion, of the key: a delete marker where
// the container has a versioning state), applied only when the version
// is unchanged.
type LifecycleDeleteInput struct {
	Tenant, Container, Key string
	// VersionID and HasVersion as DeleteInput.
	VersionID  string
	HasVersion bool
	// Created is the creation time of the version the engine chose; the
	// delete fails with ErrPreconditionFailed when the version (the
	// current artifact without HasVersion) does not exist or was created
	// at another time (overwritten, or replaced as the null version).
	Created time.Time
	// SoleMarker: the version is a delete marker that must be the only
	// version of its key (S3's expired object delete marker), checked in
	// the state machine.
	SoleMarker bool
}

type lifecycleDeleteCmd struct{ in LifecycleDeleteInput }

func (c *lifecycleDeleteCmd) write(e *encoder) {
	e.str(c.in.Tenant)
	e.str(c.in.Container)
	e.str(c.in.Key)
	e.bool(c.in.HasVersion)
	e.str(c.in.VersionID)
	e.varint(c.in.Created.UnixNano())
	e.bool(c.in.SoleMarker)
}

func decodeLifecycleDelete(d *decoder) commandBody {
	var in LifecycleDeleteInput
	in.Tenant, in.Container, in.Key = d.str(), d.str(), d.str()
	in.HasVersion, in.VersionID = d.bool(), d.str()
	in.Created = time.Unix(0, d.varint()).UTC()
	in.SoleMarker = d.bool()
	return &lifecycleDeleteCmd{in}
}

func (c *lifecycleDeleteCmd) apply(t *txn) result {
	in := &c.in
	if err := checkKey(in.Key); err != nil {
		return errResult(err)
	}
	cont, err := t.container(in.Tenant, in.Container)
	if err != nil {
		return errResult(err)
	}
	if cont == nil {
		return errResult(fmt.Errorf("%w: %q", ErrContainerNotFound, in.Container))
	}
	cur, err := t.artifact(in.Tenant, in.Container, in.Key)
	if err != nil {
		return errResult(err)
	}
	var target *Artifact
	if in.HasVersion {
		e, _, err := t.findVersion(in.Tenant, in.Container, in.Key, in.VersionID, cur)
		if err != nil {
			return errResult(err)
		}
		target = e.rec()
	} else {
		target = cur
	}
	if target == nil || target.Created.UnixNano() != in.Created.UnixNano() {
		return errResult(fmt.Errorf("%w: %q changed since the lifecycle engine chose it", ErrPreconditionFailed, in.Key))
	}
	if in.SoleMarker {
		vs, err := t.versionsOf(in.Tenant, in.Container, in.Key, 2)
		if err != nil {
			return errResult(err)
		}
		if !target.DeleteMarker || cur != nil || len(vs) != 1 {
			return errResult(fmt.Errorf("%w: %q is not a sole delete marker", ErrPreconditionFailed, in.Key))
		}
	}
	// The user's delete path: object lock, usage and blob release alike.
	res, err := t.deleteVersion(&DeleteInput{Tenant: in.Tenant, Container: in.Container, Key: in.Key, VersionID: in.VersionID, HasVersion: in.HasVersion})
	if err != nil {
		return errResult(err)
	}
	return okResult(encodeWriteResult(res))
}

// LifecycleState returns the lifecycle engine's stored state (nil when
// none).
func (s *Store) LifecycleState(ctx context.Context, opts ...ReadOption) ([]byte, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	return getCopy(s.db, keyLifecycleState)
}

// SetLifecycleState replaces the lifecycle engine's state (nil removes
// it). Cluster version 2.
func (s *Store) SetLifecycleState(ctx context.Context, state []byte) error {
	if len(state) > maxLifecycleState {
		return fmt.Errorf("%w: lifecycle state of %d bytes", ErrInvalidArgument, len(state))
	}
	_, err := s.write(ctx, cmdSetLifecycleState, &setLifecycleStateCmd{state: state})
	return err
}

// LifecycleDelete deletes as DeleteVersion does (object lock enforced:
// ErrObjectLocked), provided the chosen version is unchanged
// (ErrPreconditionFailed otherwise; see LifecycleDeleteInput). Cluster
// version 2.
func (s *Store) LifecycleDelete(ctx context.Context, in LifecycleDeleteInput) (WriteResult, error) {
	body, err := s.write(ctx, cmdLifecycleDelete, &lifecycleDeleteCmd{in})
	if err != nil {
		return WriteResult{}, err
	}
	return decodeBody(body, readWriteResult)
}
