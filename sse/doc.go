// Package sse is Vaultaire's server-side encryption: the stream format
// artifact bytes are encrypted in, and the sealing of the per-stream data
// keys under key-encryption keys (KEKs).
//
// # Stream format (DARE-like)
//
// A plaintext stream is cut into packages of PackageSize bytes (the last
// may be shorter; an empty stream has no package). Package i is sealed
// with AES-256-GCM under the stream's 32-byte data key:
//
//	ciphertext(i) = plaintext(i) || tag (16 bytes)
//	nonce(i)      = uint64 big-endian i || final flag (1 byte: 1 on the last package, else 0) || 3 zero bytes
//
// Nothing else is stored: no header, no per-package nonce. The nonce is a
// counter, which is safe because every data key encrypts exactly one
// stream (one part of one version). The sequence number in the nonce
// makes reordered or repeated packages fail authentication; the final flag
// makes a truncated stream fail (its new last package was sealed as not
// final). The plaintext size is kept in the metadata record, so the
// ciphertext size is a function of it (EncryptedSize) and a range of
// plaintext maps to a range of whole packages (CiphertextRange): a range
// read opens only the packages it touches.
//
// # Sealed data keys
//
// A data key is stored only sealed (SealKey):
//
//	version (1 byte, 1) | KEK id (4 bytes big-endian) | nonce (12 bytes, random) | AES-256-GCM(data key) incl. tag (48 bytes)
//
// with the version byte, the KEK id and a caller-chosen context (the
// artifact's tenant, container and key) as additional data, so a sealed key
// cannot be moved to another artifact. KEK id 0 is reserved for SSE-C,
// where the KEK is derived from the customer's key (CustomerKEK) and never
// stored; ids from 1 name KEKs derived from the cluster's SSE root key
// (Keyring). Rewrapping a sealed key under another KEK (Rewrap) changes
// only the 65-byte record, never the data.
//
// # SSE-C ETags
//
// The ETag of SSE-C data is not the MD5 of its plaintext (which would let
// anyone who lists a bucket test a guess of its content) but
// CustomerETag: a keyed hash of that MD5 under a key derived from the
// customer's key, in an MD5's shape (32 hex digits; a multipart upload's
// ETag is built from its parts' ETags as usual).
package sse
