package cluster

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Secret is the cluster secret: 32 random bytes every node of one cluster
// shares. Every key the cluster uses is derived from it (Derive): the
// memberlist gossip key, the metastore master key and the TLS CA key, so an
// operator distributes exactly one value.
//
// A Secret never prints itself: String, GoString, LogValue and MarshalText
// all give the redacted form. Encode gives the real text form.
type Secret [32]byte

// secretPrefix starts the text form of a Secret; the "1" is the format
// version, so a later format can be told apart.
const secretPrefix = "vcs1_"

// redactedSecret is what a Secret prints as.
const redactedSecret = secretPrefix + "<redacted>"

// hkdfSalt separates our derivations from any other use of the same bytes.
const hkdfSalt = "vaultaire cluster secret v1"

// Derivation purposes. Part of the cluster's compatibility contract: a
// changed string changes the key on upgraded nodes only, splitting the
// cluster.
const (
	purposeMemberlist = "memberlist-aes256"
	purposeMasterKey  = "metastore-master-key"
	purposeTLSCA      = "tls-ca"
	purposeSession    = "console-session-hs256"
	purposeCSRF       = "console-csrf-hmac"
	purposeSSERoot    = "sse-root-key"
)

// GenerateSecret returns a new random Secret from crypto/rand.
func GenerateSecret() (Secret, error) {
	var s Secret
	if _, err := rand.Read(s[:]); err != nil {
		return Secret{}, fmt.Errorf("cluster: generate secret: %w", err)
	}
	return s, nil
}

// ParseSecret parses the text form "vcs1_" followed by 64 lowercase hex
// digits. Surrounding white space (a trailing newline of a secret file) is
// ignored. Errors wrap ErrSecretFormat and never quote the input.
func ParseSecret(text string) (Secret, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Secret{}, fmt.Errorf("%w: empty", ErrSecretFormat)
	}
	if !strings.HasPrefix(text, secretPrefix) {
		return Secret{}, fmt.Errorf("%w: must start with %q", ErrSecretFormat, secretPrefix)
	}
	h := text[len(secretPrefix):]
	if len(h) != 2*len(Secret{}) {
		return Secret{}, fmt.Errorf("%w: want %d hex digits after %q, got %d characters",
			ErrSecretFormat, 2*len(Secret{}), secretPrefix, len(h))
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return Secret{}, fmt.Errorf("%w: character %d is not a lowercase hex digit", ErrSecretFormat, len(secretPrefix)+i+1)
		}
	}
	var s Secret
	if _, err := hex.Decode(s[:], []byte(h)); err != nil {
		return Secret{}, fmt.Errorf("%w: %v", ErrSecretFormat, err)
	}
	if s.IsZero() {
		return Secret{}, fmt.Errorf("%w: all zero", ErrSecretFormat)
	}
	return s, nil
}

// IsZero reports whether s is the zero value (no secret configured).
func (s Secret) IsZero() bool { return s == Secret{} }

// Encode returns the text form that ParseSecret reads. It is the only
// method that reveals the secret.
func (s Secret) Encode() string { return secretPrefix + hex.EncodeToString(s[:]) }

// String returns "vcs1_<redacted>".
func (s Secret) String() string { return redactedSecret }

// GoString returns the redacted form for %#v.
func (s Secret) GoString() string { return "cluster.Secret(" + redactedSecret + ")" }

// LogValue keeps the secret out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }

// MarshalText returns the redacted form, so a configuration dumped as JSON
// or YAML does not leak the secret. Persist a Secret with Encode.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redactedSecret), nil }

// UnmarshalText parses the text form (ParseSecret).
func (s *Secret) UnmarshalText(b []byte) error {
	p, err := ParseSecret(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// Derive returns n bytes derived from the secret for purpose with
// HKDF-SHA256. Different purposes give unrelated keys; the same purpose
// gives the same key on every node. n must be in [1, 8160] (HKDF's limit
// for SHA-256); outside it Derive panics, as that is a programming error.
func (s Secret) Derive(purpose string, n int) []byte {
	if n <= 0 {
		panic(fmt.Sprintf("cluster: Secret.Derive(%q, %d): length must be positive", purpose, n))
	}
	k, err := hkdf.Key(sha256.New, s[:], []byte(hkdfSalt), "vaultaire/"+purpose, n)
	if err != nil {
		panic(fmt.Sprintf("cluster: Secret.Derive(%q, %d): %v", purpose, n, err))
	}
	return k
}

// MemberlistKey is the AES-256 key that encrypts and authenticates gossip.
func (s Secret) MemberlistKey() []byte { return s.Derive(purposeMemberlist, 32) }

// MasterKey is the metastore's 32-byte master key (it seals S3 secret
// keys), identical on every node of the cluster.
func (s Secret) MasterKey() []byte { return s.Derive(purposeMasterKey, 32) }

// SessionKey is the HMAC-SHA256 key that signs the web console's session
// tokens, identical on every node, so any node accepts a session another
// node issued.
func (s Secret) SessionKey() []byte { return s.Derive(purposeSession, 32) }

// SSERootKey is the root of the server-side encryption keys (package
// sse): the key-encryption keys that seal artifact data keys and the key
// of SSE-C key hashes are derived from it.
func (s Secret) SSERootKey() []byte { return s.Derive(purposeSSERoot, 32) }

// CSRFKey is the HMAC key of the web console's anti-forgery tokens.
func (s Secret) CSRFKey() []byte { return s.Derive(purposeCSRF, 32) }

// Errors of package cluster (this file and its siblings add to them).
var (
	// ErrSecretFormat: a text secret is not "vcs1_" + 64 lowercase hex digits.
	ErrSecretFormat = errors.New("cluster: malformed cluster secret")
	// ErrNoSecret: a configuration has no (zero) cluster secret.
	ErrNoSecret = errors.New("cluster: no cluster secret configured")
	// ErrTransportClosed: the Transport was closed.
	ErrTransportClosed = errors.New("cluster: transport closed")
	// ErrMembershipClosed: the Membership was closed.
	ErrMembershipClosed = errors.New("cluster: membership closed")
	// ErrJoin: no seed address could be joined before the context ended.
	ErrJoin = errors.New("cluster: could not join any seed")
	// ErrInvalidConfig: a configuration failed Validate.
	ErrInvalidConfig = errors.New("cluster: invalid configuration")
)
