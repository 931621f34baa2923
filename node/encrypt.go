package node

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/sse"
)

// Server-side encryption sits here, between the request body and the
// erasure coder: a part's bytes are sealed (package sse) before they are
// erasure-coded, so every shard, parity included, holds ciphertext, and a
// read decrypts after the erasure decode has verified the blocks. The
// sizes in records, listings and quotas are of the plaintext, and so is
// the ETag but for SSE-C (sealer.etag). See docs/design.md, "Encryption at
// rest".

// Encryption modes as S3 names them in x-amz-server-side-encryption (and
// SSE-C, which S3 reports through the customer-algorithm header).
const (
	EncryptionNone     = metastore.EncryptionNone
	EncryptionSSES3    = metastore.EncryptionSSES3
	EncryptionCustomer = metastore.EncryptionCustomer
)

// Encryption asks for the encryption of a write.
type Encryption struct {
	// Mode is EncryptionNone, EncryptionSSES3 or EncryptionCustomer.
	Mode string
	// CustomerKey is the 32-byte SSE-C key (EncryptionCustomer only).
	CustomerKey []byte
}

// Errors of server-side encryption.
var (
	// ErrSSEUnavailable: the engine has no SSE root key configured.
	ErrSSEUnavailable = errors.New("node: server-side encryption is not configured")
	// ErrSSECustomerKeyMismatch: the SSE-C key given is not the one the
	// version (or upload) was written with (S3: 403 AccessDenied).
	ErrSSECustomerKeyMismatch = errors.New("node: SSE-C key does not match the stored object")
	// ErrSSECustomerKeyMissing: the version is SSE-C encrypted and no key
	// was given (S3: 400 InvalidRequest).
	ErrSSECustomerKeyMissing = errors.New("node: the object is SSE-C encrypted; its key is required")
	// ErrSSENotApplicable: an SSE-C key was given for a version that is
	// not SSE-C encrypted (S3: 400 InvalidRequest).
	ErrSSENotApplicable = errors.New("node: SSE-C parameters given for an object that is not SSE-C encrypted")
)

// ContainerConfigEncryption is the container sub-resource holding the
// default encryption of new versions (S3's bucket encryption): the mode,
// EncryptionSSES3, or "" for none. The s3 layer sets it with
// SetContainerConfig; the engine applies it to every write that asks for
// no encryption itself (PUT, copy, multipart, console uploads).
const ContainerConfigEncryption = "encryption"

// bucketConfig reads the container a write applies the configuration of
// (its default encryption) with a read barrier, never from this node's
// local state alone: a follower applies a commit only when the leader's
// next message says it is committed, so its state may trail a
// configuration change acknowledged through another node. Inside a
// request's read scope (Engine.ReadScope: every S3 and console request)
// the barrier has already run for the request's first read, the key
// lookup, so this costs nothing more; a caller outside one pays one
// read-index round. The other bucket settings a write depends on,
// versioning and the object lock default retention, are decided by the
// state machine when the write commits, and bucket policies and lifecycle
// rules are read with the request's barrier too (docs/design.md, "Bucket
// configuration across nodes").
func (e *Engine) bucketConfig(ctx context.Context, tenant, container string) (metastore.Container, error) {
	return e.meta.GetContainer(ctx, tenant, container)
}

// defaultEncryption is the encryption of a write to container c (read by
// bucketConfig) that asked for enc.
func defaultEncryption(c metastore.Container, enc Encryption) Encryption {
	if enc.Mode == EncryptionNone && c.Config[ContainerConfigEncryption] == EncryptionSSES3 {
		enc.Mode = EncryptionSSES3
	}
	return enc
}

// currentKEK is the KEK new data keys are sealed under: the id the
// metastore holds (this node's applied state; a write racing a rotation
// may seal under the previous KEK, which the rotation's walk or the next
// one re-wraps).
func (e *Engine) currentKEK() (sse.KEK, error) {
	if e.keyring == nil {
		return sse.KEK{}, ErrSSEUnavailable
	}
	return e.keyring.KEK(uint32(e.meta.KEKID()))
}

// RotateReport is what a KEK rotation did.
type RotateReport struct {
	// From and To are the KEK ids before and after.
	From, To uint32
	// Records and Rewrapped count the records changed and the data keys
	// re-wrapped; Skipped counts keys left alone because their record
	// changed while the rotation ran (a newer write seals its own).
	Records, Rewrapped, Skipped int
}

// RotateKEK makes a new key-encryption key current and re-wraps every
// SSE-S3 data key sealed under an older one, without touching artifact
// bytes: only the 65-byte sealed keys in the records change, one Raft
// command per record. SSE-C keys are sealed by their customer's key and
// are not re-wrapped. Rotating again resumes an interrupted rotation
// (keys already under the new KEK are skipped).
func (e *Engine) RotateKEK(ctx context.Context) (RotateReport, error) {
	if e.keyring == nil {
		return RotateReport{}, ErrSSEUnavailable
	}
	from := e.meta.KEKID()
	to, err := e.meta.SetKEK(ctx, from+1)
	if err != nil {
		return RotateReport{}, metaErr(err)
	}
	rep := RotateReport{From: uint32(from), To: uint32(to)}
	newKEK, err := e.keyring.KEK(uint32(to))
	if err != nil {
		return rep, err
	}
	err = e.meta.ForEachSealedKey(ctx, func(sk metastore.SealedKeys) error {
		var keys []metastore.Rewrap
		ctxBytes := sealContext(sk.Tenant, sk.Container, sk.Key)
		for _, sealed := range sk.Sealed {
			id, err := sse.SealedKEKID(sealed)
			if err != nil || id == sse.CustomerKEKID || id == uint32(to) {
				continue
			}
			old, err := e.keyring.KEK(id)
			if err != nil {
				return err
			}
			nw, err := sse.Rewrap(old, newKEK, sealed, ctxBytes)
			if err != nil {
				return fmt.Errorf("node: re-wrapping a data key of %s/%s: %w", sk.Container, sk.Key, err)
			}
			keys = append(keys, metastore.Rewrap{Old: sealed, New: nw})
		}
		if len(keys) == 0 {
			return nil
		}
		n, err := e.meta.RewrapKeys(ctx, sk.Owner, keys)
		if err != nil {
			return metaErr(err)
		}
		if n > 0 {
			rep.Records++
		}
		rep.Rewrapped += n
		rep.Skipped += len(keys) - n
		return nil
	})
	return rep, err
}

// sealContext binds a sealed data key to its artifact.
func sealContext(tenant, container, key string) []byte {
	return []byte(tenant + "\x00" + container + "\x00" + key)
}

// sealer seals the data keys of one write's streams.
type sealer struct {
	kek     sse.KEK
	context []byte
	rec     metastore.Encryption
	// customerKey is the SSE-C key (EncryptionCustomer only), which
	// keys the ETag.
	customerKey []byte
}

// etag is the ETag of a stream whose plaintext has MD5 sum: its hex for
// plaintext and SSE-S3 (as S3 gives), and for SSE-C a keyed hash of it
// under the customer's key (sse.CustomerETag), since S3 does not expose
// the plaintext's MD5 of SSE-C objects. s may be nil (no encryption).
func (s *sealer) etag(sum []byte) (string, error) {
	if s == nil || s.rec.Mode != EncryptionCustomer {
		return hex.EncodeToString(sum), nil
	}
	return sse.CustomerETag(s.customerKey, sum)
}

// newSealer prepares the encryption of a write; nil for a plaintext one.
func (e *Engine) newSealer(tenant, container, key string, enc Encryption) (*sealer, error) {
	s := &sealer{context: sealContext(tenant, container, key), rec: metastore.Encryption{Mode: enc.Mode}}
	var err error
	switch enc.Mode {
	case EncryptionNone:
		return nil, nil
	case EncryptionSSES3:
		s.kek, err = e.currentKEK()
	case EncryptionCustomer:
		if e.keyring == nil {
			return nil, ErrSSEUnavailable
		}
		s.kek, err = sse.CustomerKEK(enc.CustomerKey)
		s.customerKey = enc.CustomerKey
		s.rec.CustomerKeyMAC = sse.CustomerKeyMAC(e.keyring.MACKey(), enc.CustomerKey)
	default:
		return nil, fmt.Errorf("%w: encryption mode %q", ErrInvalidArgument, enc.Mode)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newKey returns a fresh data key and its sealed form.
func (s *sealer) newKey() (sse.DataKey, []byte, error) {
	dk, err := sse.NewDataKey()
	if err != nil {
		return dk, nil, err
	}
	sealed, err := sse.SealKey(s.kek, dk, s.context)
	return dk, sealed, err
}

// checkCustomerKey compares the SSE-C key of a request with what a
// version or upload was written with.
func (e *Engine) checkCustomerKey(rec metastore.Encryption, key []byte) error {
	if rec.Mode != EncryptionCustomer {
		if key != nil {
			return ErrSSENotApplicable
		}
		return nil
	}
	if key == nil {
		return ErrSSECustomerKeyMissing
	}
	if e.keyring == nil {
		return ErrSSEUnavailable
	}
	if !hmac.Equal(sse.CustomerKeyMAC(e.keyring.MACKey(), key), rec.CustomerKeyMAC) {
		return ErrSSECustomerKeyMismatch
	}
	return nil
}

// openKey opens the sealed data key of a stream of artifact a.
func (e *Engine) openKey(a *metastore.Artifact, sealed, customerKey []byte) (sse.DataKey, error) {
	id, err := sse.SealedKEKID(sealed)
	if err != nil {
		return sse.DataKey{}, fmt.Errorf("%w: %w", metastore.ErrCorrupt, err)
	}
	var kek sse.KEK
	switch {
	case id == sse.CustomerKEKID:
		kek, err = sse.CustomerKEK(customerKey)
	case e.keyring == nil:
		err = ErrSSEUnavailable
	default:
		kek, err = e.keyring.KEK(id)
	}
	if err != nil {
		return sse.DataKey{}, err
	}
	return sse.OpenKey(kek, sealed, sealContext(a.Tenant, a.Container, a.Key))
}
