package metastore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// Access-key secrets are sealed with AES-256-GCM under Config.MasterKey on
// the proposing node, before they enter the Raft log, and opened only by
// Store.GetAccessKey. Sealed form:
//
//	version (1 byte, sealV1) | nonce (12 bytes, random) | ciphertext+tag
//
// The access key id is the additional data, so a sealed secret cannot be
// moved to another key's record.

const sealV1 = 1

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: master key must be 32 bytes, got %d", ErrInvalidArgument, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(aead cipher.AEAD, keyID, secret string) ([]byte, error) {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(secret)+aead.Overhead())
	out[0] = sealV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:], []byte(secret), []byte(keyID)), nil
}

func unseal(aead cipher.AEAD, keyID string, sealed []byte) (string, error) {
	ns := aead.NonceSize()
	if len(sealed) < 1+ns || sealed[0] != sealV1 {
		return "", fmt.Errorf("%w: sealed secret of access key %q", ErrCorrupt, keyID)
	}
	plain, err := aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(keyID))
	if err != nil {
		return "", fmt.Errorf("%w: cannot open secret of access key %q (wrong master key?)", ErrCorrupt, keyID)
	}
	return string(plain), nil
}
