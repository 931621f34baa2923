package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"

	"github.com/vaultaire/vaultaire/node"
)

// Server-side encryption on the wire: x-amz-server-side-encryption
// (AES256 is SSE-S3; aws:kms is not implemented), the SSE-C customer key
// headers of writes, reads and copy sources, and the bucket's default
// encryption (?encryption). The engine encrypts (node/encrypt.go).

// Errors of server-side encryption raised here.
var (
	errInvalidEncryptionAlgorithm = errors.New("s3: invalid encryption algorithm")
	errNoEncryptionConfig         = errors.New("s3: no server-side encryption configuration")
)

// SSE header names.
const (
	hdrSSE           = "X-Amz-Server-Side-Encryption"
	hdrSSEKMSKeyID   = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	hdrSSECPrefix    = "X-Amz-Server-Side-Encryption-Customer-"
	hdrCopySSEPrefix = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-"
)

// sseCustomer is a validated SSE-C key of a request.
type sseCustomer struct {
	key []byte
	md5 string // base64, as the client sent it
}

// customerKey reads and validates the SSE-C headers starting with prefix
// (the request's own, or the copy source's). No header: nil.
func (s *Server) customerKey(r *http.Request, prefix string) (*sseCustomer, error) {
	h := r.Header
	alg, k, m := h.Get(prefix+"Algorithm"), h.Get(prefix+"Key"), h.Get(prefix+"Key-Md5")
	if alg == "" && k == "" && m == "" {
		return nil, nil
	}
	switch {
	case alg == "":
		return nil, withMessage(errInvalidArgument, "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
	case alg != "AES256":
		return nil, errInvalidEncryptionAlgorithm
	case k == "":
		return nil, withMessage(errInvalidArgument, "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
	case m == "":
		return nil, withMessage(errInvalidArgument, "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
	}
	key, err := base64.StdEncoding.DecodeString(k)
	if err != nil || len(key) != 32 {
		return nil, withMessage(errInvalidArgument, "The secret key was invalid for the specified algorithm.")
	}
	sum := md5.Sum(key)
	if base64.StdEncoding.EncodeToString(sum[:]) != m {
		return nil, withMessage(errInvalidArgument, "The calculated MD5 hash of the key did not match the hash that was provided.")
	}
	if r.TLS == nil && !s.cfg.SSECInsecure {
		return nil, withMessage(errInvalidRequest, "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.")
	}
	return &sseCustomer{key: key, md5: m}, nil
}

func (c *sseCustomer) keyOrNil() []byte {
	if c == nil {
		return nil
	}
	return c.key
}

// writeEncryption reads the encryption a write asks for.
func (s *Server) writeEncryption(r *http.Request) (node.Encryption, *sseCustomer, error) {
	mode := r.Header.Get(hdrSSE)
	c, err := s.customerKey(r, hdrSSECPrefix)
	if err != nil {
		return node.Encryption{}, nil, err
	}
	if c != nil {
		if mode != "" {
			return node.Encryption{}, nil, withMessage(errInvalidArgument, "Server Side Encryption with Customer provided key is incompatible with the encryption method specified")
		}
		return node.Encryption{Mode: node.EncryptionCustomer, CustomerKey: c.key}, c, nil
	}
	switch mode {
	case "":
		if r.Header.Get(hdrSSEKMSKeyID) != "" {
			return node.Encryption{}, nil, withMessage(errInvalidArgument, "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
		return node.Encryption{}, nil, nil
	case node.EncryptionSSES3:
		if r.Header.Get(hdrSSEKMSKeyID) != "" {
			return node.Encryption{}, nil, withMessage(errInvalidArgument, "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
		return node.Encryption{Mode: node.EncryptionSSES3}, nil, nil
	case "aws:kms", "aws:kms:dsse":
		return node.Encryption{}, nil, withMessage(errNotImplemented, "SSE-KMS is not implemented by this server: use x-amz-server-side-encryption: AES256 (SSE-S3) or SSE-C.")
	}
	return node.Encryption{}, nil, withMessage(errInvalidArgument, "The encryption method specified is not supported")
}

// setEncryptionHeaders reports the encryption of a version (or upload) in
// a response, as S3 does: the mode for SSE-S3, the algorithm and the key's
// MD5 (echoed from the request) for SSE-C.
func setEncryptionHeaders(h http.Header, mode string, c *sseCustomer) {
	switch mode {
	case node.EncryptionSSES3:
		h.Set(hdrSSE, node.EncryptionSSES3)
	case node.EncryptionCustomer:
		h.Set(hdrSSECPrefix+"Algorithm", "AES256")
		if c != nil {
			h.Set(hdrSSECPrefix+"Key-Md5", c.md5)
		}
	}
}

// The bucket encryption configuration (PutBucketEncryption).
type sseConfiguration struct {
	XMLName xml.Name  `xml:"ServerSideEncryptionConfiguration"`
	NS      string    `xml:"xmlns,attr,omitempty"`
	Rules   []sseRule `xml:"Rule"`
}

type sseRule struct {
	Default struct {
		SSEAlgorithm   string `xml:"SSEAlgorithm"`
		KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
	} `xml:"ApplyServerSideEncryptionByDefault"`
	BucketKeyEnabled bool `xml:"BucketKeyEnabled"`
}

// parseEncryptionConfig returns the default mode a configuration sets.
func parseEncryptionConfig(data []byte) (string, error) {
	var c sseConfiguration
	if err := xml.Unmarshal(data, &c); err != nil {
		return "", errMalformedXML
	}
	if len(c.Rules) != 1 {
		return "", withMessage(errMalformedXML, "The configuration must have exactly one Rule.")
	}
	d := c.Rules[0].Default
	switch d.SSEAlgorithm {
	case node.EncryptionSSES3:
		if d.KMSMasterKeyID != "" {
			return "", withMessage(errInvalidArgument, "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
		}
		return node.EncryptionSSES3, nil
	case "aws:kms", "aws:kms:dsse":
		return "", withMessage(errNotImplemented, "SSE-KMS is not implemented by this server: use AES256 as the default encryption.")
	}
	return "", withMessage(errMalformedXML, "SSEAlgorithm must be AES256.")
}

func (s *Server) putBucketEncryption(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	data, _, err := s.readConfigBody(r, rc, false)
	if err != nil {
		return err
	}
	mode, err := parseEncryptionConfig(data)
	if err != nil {
		return err
	}
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, node.ContainerConfigEncryption, mode); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketEncryption(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	mode, err := s.eng.ContainerConfig(ctx, rc.tenant, rc.ep.Container, node.ContainerConfigEncryption)
	if err != nil {
		return err
	}
	if mode == "" {
		return errNoEncryptionConfig
	}
	c := sseConfiguration{NS: s3NS, Rules: make([]sseRule, 1)}
	c.Rules[0].Default.SSEAlgorithm = mode
	return writeXML(w, c)
}

func (s *Server) deleteBucketEncryption(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, node.ContainerConfigEncryption, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
