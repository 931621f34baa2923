package metastore

import (
	"errors"
	"fmt"
)

// Errors returned by the Store. Test with errors.Is. Errors decided inside
// the state machine (for example ErrPreconditionFailed) travel back to the
// proposer as an error code in the apply result, also through
// Forwarder.Apply, and come out as these same sentinels.
var (
	// ErrNotFound: the tenant, user or access key does not exist.
	ErrNotFound = errors.New("metastore: not found")
	// ErrExists: the record to create already exists (access key id,
	// container name in its tenant, upload id).
	ErrExists = errors.New("metastore: already exists")
	// ErrContainerNotFound: the container does not exist in the tenant.
	ErrContainerNotFound = errors.New("metastore: container not found")
	// ErrContainerNotEmpty: the container still holds artifacts.
	ErrContainerNotEmpty = errors.New("metastore: container not empty")
	// ErrArtifactNotFound: no artifact under that key.
	ErrArtifactNotFound = errors.New("metastore: artifact not found")
	// ErrUploadNotFound: no multipart upload with that id for that key.
	ErrUploadNotFound = errors.New("metastore: multipart upload not found")
	// ErrPreconditionFailed: a Cond (If-None-Match, If-Match) did not hold
	// against the current artifact when the command was applied.
	ErrPreconditionFailed = errors.New("metastore: precondition failed")
	// ErrInvalidPart: a part listed in a completion is missing, has another
	// ETag, or the list is empty.
	ErrInvalidPart = errors.New("metastore: invalid part")
	// ErrInvalidPartOrder: the parts of a completion are not strictly
	// ascending by number.
	ErrInvalidPartOrder = errors.New("metastore: parts not in ascending order")
	// ErrEntityTooSmall: a part other than the last is below MinPartSize.
	ErrEntityTooSmall = errors.New("metastore: part too small")
	// ErrInvalidArgument: a request field is empty, too long or out of range.
	ErrInvalidArgument = errors.New("metastore: invalid argument")
	// ErrNotLeader: this node is not the Raft leader and cannot forward
	// (no Forwarder configured, or the request was forwarded to it).
	ErrNotLeader = errors.New("metastore: not the raft leader")
	// ErrLeadershipLost: leadership was lost while a command was in flight;
	// the command may or may not have been committed. The Store retries
	// such commands itself (with the same request id, so the state machine
	// applies them at most once) while the context allows; the error only
	// reaches callers when no retry was possible.
	ErrLeadershipLost = errors.New("metastore: leadership lost while committing")
	// ErrClosed: the Store is closed or closing.
	ErrClosed = errors.New("metastore: closed")
	// ErrCorrupt marks data that fails to decode: a record, a command, a
	// snapshot or a log entry. It signals corruption (or a record written
	// by a newer schema), never absence.
	ErrCorrupt = errors.New("metastore: corrupt data")
	// ErrUnsupportedCommand: ApplyEncoded got a command type or version this
	// node cannot apply (a newer node forwarded it during an upgrade).
	ErrUnsupportedCommand = errors.New("metastore: unsupported command")
	// ErrRestoring: the local state is being replaced by a snapshot, or a
	// restore failed and the node waits for another; reads fail meanwhile.
	ErrRestoring = errors.New("metastore: state unavailable: snapshot restore incomplete")
	// ErrQuotaExceeded: a write would take a tenant or a container past a
	// quota (stored bytes or artifact count), decided by the state machine
	// atomically with the write. The message names the quota.
	ErrQuotaExceeded = errors.New("metastore: quota exceeded")
	// ErrNoSuchVersion: the version id names no version of the key.
	ErrNoSuchVersion = errors.New("metastore: no such version")
	// ErrObjectLocked: object lock (a retention or a legal hold) forbids
	// removing the version or weakening its retention.
	ErrObjectLocked = errors.New("metastore: version protected by object lock")
	// ErrLockNotEnabled: a lock setting on a container without object lock.
	ErrLockNotEnabled = errors.New("metastore: object lock not enabled on the container")
	// ErrDeleteMarker: the operation does not apply to a delete marker.
	ErrDeleteMarker = errors.New("metastore: version is a delete marker")
	// ErrInvalidContainerState: the container's configuration forbids the
	// change (suspending versioning under object lock, object lock without
	// versioning, turning object lock off).
	ErrInvalidContainerState = errors.New("metastore: invalid container state for the change")
	// ErrTenantNotEmpty: a tenant to delete still has containers or
	// stored bytes.
	ErrTenantNotEmpty = errors.New("metastore: tenant not empty")
)

// errCode is the one-byte error code carried in apply results and in
// MarshalError. Codes are part of the wire format: never renumber.
type errCode uint8

const (
	codeOK errCode = iota
	codeNotFound
	codeExists
	codeContainerNotFound
	codeContainerNotEmpty
	codeArtifactNotFound
	codeUploadNotFound
	codePreconditionFailed
	codeInvalidPart
	codeInvalidPartOrder
	codeEntityTooSmall
	codeInvalidArgument
	codeNotLeader
	codeLeadershipLost
	codeClosed
	codeCorrupt
	codeUnsupportedCommand
	codeRestoring
	codeQuotaExceeded
	codeUpgradeRequired
	// Codes added after the first release come from ranges reserved per
	// feature area (as table bytes and command types do, keys.go):
	// 20-39 object versions, lock, tags; 40-49 reliability; 50-59
	// operations; 60-69 console and billing; 70-79 lifecycle and tiers;
	// 80-89 access control and encryption.
)

const (
	codeNoSuchVersion errCode = 20 + iota
	codeObjectLocked
	codeLockNotEnabled
	codeDeleteMarker
	codeInvalidContainerState
)

// Codes of the console and billing range (60-69).
const (
	codeTenantNotEmpty errCode = 60
)

// codeOther is an error without a sentinel; only its message is carried.
const codeOther errCode = 255

var codeErrors = [...]error{
	codeNotFound:           ErrNotFound,
	codeExists:             ErrExists,
	codeContainerNotFound:  ErrContainerNotFound,
	codeContainerNotEmpty:  ErrContainerNotEmpty,
	codeArtifactNotFound:   ErrArtifactNotFound,
	codeUploadNotFound:     ErrUploadNotFound,
	codePreconditionFailed: ErrPreconditionFailed,
	codeInvalidPart:        ErrInvalidPart,
	codeInvalidPartOrder:   ErrInvalidPartOrder,
	codeEntityTooSmall:     ErrEntityTooSmall,
	codeInvalidArgument:    ErrInvalidArgument,
	codeNotLeader:          ErrNotLeader,
	codeLeadershipLost:     ErrLeadershipLost,
	codeClosed:             ErrClosed,
	codeCorrupt:            ErrCorrupt,
	codeUnsupportedCommand: ErrUnsupportedCommand,
	codeRestoring:          ErrRestoring,
	codeQuotaExceeded:      ErrQuotaExceeded,
	codeUpgradeRequired:    ErrUpgradeRequired,

	codeNoSuchVersion:         ErrNoSuchVersion,
	codeObjectLocked:          ErrObjectLocked,
	codeLockNotEnabled:        ErrLockNotEnabled,
	codeDeleteMarker:          ErrDeleteMarker,
	codeInvalidContainerState: ErrInvalidContainerState,
	codeTenantNotEmpty:        ErrTenantNotEmpty,
	codeTierInUse:             ErrTierInUse,
	codeRestoreInProgress:     ErrRestoreInProgress,
}

// codeOf returns the code of err's sentinel, or codeOther.
func codeOf(err error) errCode {
	if err == nil {
		return codeOK
	}
	for c, e := range codeErrors {
		if e != nil && errors.Is(err, e) {
			return errCode(c)
		}
	}
	return codeOther
}

// errorOf is the inverse of codeOf. msg is the original message, used to
// keep details (for codeOther it is the only information).
func errorOf(c errCode, msg string) error {
	if c == codeOK {
		return nil
	}
	if int(c) < len(codeErrors) && codeErrors[c] != nil {
		s := codeErrors[c]
		if msg == "" || msg == s.Error() {
			return s
		}
		return &remoteError{sentinel: s, msg: msg}
	}
	if msg == "" {
		msg = fmt.Sprintf("metastore: remote error code %d", c)
	}
	return errors.New(msg)
}

// refusedError is the state machine's answer to a command that it applied
// as a refusal (a failed precondition, a missing container, a quota): the
// command changed nothing.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// Refused reports whether err, the error of a write, is the state
// machine's refusal of the command: the command was applied, changed
// nothing, and can never commit later. Whatever the caller prepared for it
// (the blobs a PUT wrote) is garbage at once.
//
// Any other error of a write leaves open whether the command was, or will
// yet be, committed: a reply lost with a leader that crashed or was cut
// off (ErrLeadershipLost), a retry that ran out of time after such an
// attempt, a store closed or a context ended while the command was in the
// log. Such a caller must not discard what the command references until
// the state shows that nothing references it (BlobLive).
func Refused(err error) bool {
	_, ok := errors.AsType[*refusedError](err)
	return ok
}

// remoteError is a sentinel error with the original (more detailed) message
// it had where it was raised.
type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// MarshalError encodes err so that UnmarshalError on another node returns an
// error matching the same metastore sentinel (errors.Is) with the same
// message. The cluster RPC uses it to carry the errors of ApplyEncoded and
// ReadIndex (ErrNotLeader, ErrLeadershipLost, ...) back to the forwarding
// node. A nil error encodes to nil.
func MarshalError(err error) []byte {
	if err == nil {
		return nil
	}
	e := encoder{}
	e.u8(errorWireVersion)
	e.u8(uint8(codeOf(err)))
	e.str(err.Error())
	return e.b
}

// UnmarshalError decodes the output of MarshalError. Undecodable input
// yields an error wrapping ErrCorrupt.
func UnmarshalError(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	d := decoder{b: b}
	v := d.u8()
	c := errCode(d.u8())
	msg := d.str()
	if d.err != nil || v != errorWireVersion || c == codeOK {
		return fmt.Errorf("%w: undecodable error", ErrCorrupt)
	}
	return errorOf(c, msg)
}

const errorWireVersion = 1
