package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
)

const (
	sealV1 = 1
	// SealedKeySize is the size of a sealed data key record.
	SealedKeySize = 1 + 4 + 12 + KeySize + TagSize
	// CustomerKEKID is the KEK id of keys sealed under an SSE-C key.
	CustomerKEKID = 0
)

// KEK is a key-encryption key with its id (stored in every key it seals).
type KEK struct {
	ID  uint32
	Key [KeySize]byte
}

func (k KEK) aead() cipher.AEAD {
	block, err := aes.NewCipher(k.Key[:])
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

// Keyring derives the cluster's KEKs from its SSE root key: KEK n is
// HKDF-SHA256(root, info "vaultaire/sse-kek/n"). Every node derives the
// same KEK for the same id, so nothing but the current id is shared.
type Keyring struct {
	root []byte
	mac  []byte
}

// NewKeyring returns the keyring of a 32-byte root key.
func NewKeyring(root []byte) (*Keyring, error) {
	if len(root) != KeySize {
		return nil, fmt.Errorf("sse: root key must be %d bytes, got %d", KeySize, len(root))
	}
	mac, err := hkdf.Key(sha256.New, root, nil, "vaultaire/sse-c-mac", KeySize)
	if err != nil {
		return nil, err
	}
	return &Keyring{root: append([]byte(nil), root...), mac: mac}, nil
}

// MACKey is the key of CustomerKeyMAC.
func (r *Keyring) MACKey() []byte { return r.mac }

// KEK returns KEK id (id >= 1).
func (r *Keyring) KEK(id uint32) (KEK, error) {
	if id == CustomerKEKID {
		return KEK{}, fmt.Errorf("%w: id 0 is an SSE-C key", ErrUnknownKEK)
	}
	b, err := hkdf.Key(sha256.New, r.root, nil, "vaultaire/sse-kek/"+strconv.FormatUint(uint64(id), 10), KeySize)
	if err != nil {
		return KEK{}, err
	}
	k := KEK{ID: id}
	copy(k.Key[:], b)
	return k, nil
}

// CustomerKEK is the KEK of an SSE-C customer key (id CustomerKEKID).
func CustomerKEK(customerKey []byte) (KEK, error) {
	if len(customerKey) != KeySize {
		return KEK{}, fmt.Errorf("sse: customer key must be %d bytes, got %d", KeySize, len(customerKey))
	}
	b, err := hkdf.Key(sha256.New, customerKey, nil, "vaultaire/sse-c-kek", KeySize)
	if err != nil {
		return KEK{}, err
	}
	k := KEK{ID: CustomerKEKID}
	copy(k.Key[:], b)
	return k, nil
}

// CustomerKeyMAC is the keyed hash stored to recognise an SSE-C key
// without storing it: HMAC-SHA256 under the cluster's macKey.
func CustomerKeyMAC(macKey, customerKey []byte) []byte {
	m := hmac.New(sha256.New, macKey)
	m.Write(customerKey)
	return m.Sum(nil)
}

// CustomerETag is the ETag of SSE-C data (S3 gives SSE-C objects an ETag
// that is not the MD5 of their data): HMAC-SHA256 of the plaintext's MD5
// (plainMD5) under a key derived from the customer key (HKDF-SHA256, info
// "vaultaire/sse-c-etag"), cut to 16 bytes and hex-encoded, so it has an
// MD5's shape. Without the customer key it reveals nothing about the
// plaintext, not even whether two objects under different keys are equal;
// the same bytes under the same key always get the same ETag (copies,
// re-uploads, If-Match).
func CustomerETag(customerKey, plainMD5 []byte) (string, error) {
	if len(customerKey) != KeySize {
		return "", fmt.Errorf("sse: customer key must be %d bytes, got %d", KeySize, len(customerKey))
	}
	k, err := hkdf.Key(sha256.New, customerKey, nil, "vaultaire/sse-c-etag", KeySize)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write(plainMD5)
	return hex.EncodeToString(m.Sum(nil)[:md5.Size]), nil
}

func aad(version byte, id uint32, context []byte) []byte {
	b := make([]byte, 5, 5+len(context))
	b[0] = version
	binary.BigEndian.PutUint32(b[1:5], id)
	return append(b, context...)
}

// SealKey seals dk under kek, bound to context.
func SealKey(kek KEK, dk DataKey, context []byte) ([]byte, error) {
	out := make([]byte, 17, SealedKeySize)
	out[0] = sealV1
	binary.BigEndian.PutUint32(out[1:5], kek.ID)
	if _, err := rand.Read(out[5:17]); err != nil {
		return nil, fmt.Errorf("sse: nonce: %w", err)
	}
	return kek.aead().Seal(out, out[5:17], dk[:], aad(sealV1, kek.ID, context)), nil
}

// SealedKEKID returns the KEK id a sealed key names.
func SealedKEKID(sealed []byte) (uint32, error) {
	if len(sealed) != SealedKeySize || sealed[0] != sealV1 {
		return 0, ErrFormat
	}
	return binary.BigEndian.Uint32(sealed[1:5]), nil
}

// OpenKey opens a sealed key with kek (which must have the id it names).
func OpenKey(kek KEK, sealed, context []byte) (DataKey, error) {
	var dk DataKey
	id, err := SealedKEKID(sealed)
	if err != nil {
		return dk, err
	}
	if id != kek.ID {
		return dk, fmt.Errorf("%w: sealed under KEK %d, not %d", ErrUnknownKEK, id, kek.ID)
	}
	plain, err := kek.aead().Open(nil, sealed[5:17], sealed[17:], aad(sealV1, id, context))
	if err != nil {
		return dk, fmt.Errorf("%w: data key", ErrAuth)
	}
	copy(dk[:], plain)
	return dk, nil
}

// Rewrap opens sealed with from and seals the same data key under to.
func Rewrap(from, to KEK, sealed, context []byte) ([]byte, error) {
	dk, err := OpenKey(from, sealed, context)
	if err != nil {
		return nil, err
	}
	return SealKey(to, dk, context)
}
