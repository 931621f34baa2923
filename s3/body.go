package s3

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/vaultaire/vaultaire/checksum"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// verifyReader hashes everything read and, at the end of the stream,
// calls check with the digest; a failed check is returned instead of
// io.EOF, so a consumer that commits only on io.EOF never commits bytes
// that did not verify.
type verifyReader struct {
	r     io.Reader
	h     hash.Hash
	check func(sum []byte) error
	err   error
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if cerr := v.check(v.h.Sum(nil)); cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// lengthReader turns a body that ends before its declared length into
// IncompleteBody, and a transport's unexpected EOF likewise.
type lengthReader struct {
	r    io.Reader
	want int64 // -1: unknown
	n    int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	switch {
	case err == io.EOF && l.want >= 0 && l.n < l.want:
		err = errIncompleteBody
	case err != nil && errors.Is(err, io.ErrUnexpectedEOF):
		err = errIncompleteBody
	case l.want >= 0 && l.n > l.want:
		err = withMessage(errInvalidRequest, "The request body is longer than its declared length.")
	}
	return n, err
}

// body is a request body after decoding and verification set-up.
type body struct {
	io.Reader
	// size of the decoded body, known before reading.
	size int64
	// checksums to store with the artifact. Values sent in headers are
	// present at once; a value sent in a trailer is added when the body
	// has been read to its end, before Read returns io.EOF.
	checksums map[string]string
	// trailer is the algorithm of a checksum trailer (its value joins
	// checksums at the end, verified), "" for none.
	trailer string
	// contentMD5 is the decoded Content-MD5, nil when absent.
	contentMD5 []byte
	// hasChecksum: Content-MD5 or an x-amz-checksum value (header or
	// trailer) protects the body.
	hasChecksum bool
}

// openBody prepares r's body: size limits, aws-chunked decoding with chunk
// and trailer signatures, x-amz-content-sha256 and x-amz-checksum-*
// verification. limit bounds the decoded size (EntityTooLarge).
func (s *Server) openBody(r *http.Request, rc *reqCtx, limit int64) (*body, error) {
	auth := rc.auth
	b := &body{checksums: map[string]string{}}
	var err error
	if b.contentMD5, err = parseContentMD5(r.Header); err != nil {
		return nil, err
	}
	b.hasChecksum = b.contentMD5 != nil

	// Size.
	if auth.Streaming() {
		dl := r.Header.Get("X-Amz-Decoded-Content-Length")
		if dl == "" {
			return nil, withMessage(errMissingContentLength, "You must provide the x-amz-decoded-content-length header for aws-chunked uploads.")
		}
		b.size, err = strconv.ParseInt(dl, 10, 64)
		if err != nil || b.size < 0 {
			return nil, withMessage(errInvalidArgument, "x-amz-decoded-content-length must be a non-negative integer.")
		}
	} else {
		if r.ContentLength < 0 {
			return nil, errMissingContentLength
		}
		b.size = r.ContentLength
	}
	if b.size > limit {
		return nil, errEntityTooLarge
	}

	// Checksums: at most one of the header and trailer kinds.
	var headerAlg *checksum.Algorithm
	var headerVal string
	for _, a := range checksum.Algorithms {
		v := r.Header.Get(a.Header)
		if v == "" {
			continue
		}
		if headerAlg != nil {
			return nil, withMessage(errInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		if !a.Valid(v) {
			return nil, withMessage(errInvalidRequest, "Value for %s header is invalid.", a.Header)
		}
		headerAlg, headerVal = &a, v
	}
	if sdk := r.Header.Get("X-Amz-Sdk-Checksum-Algorithm"); sdk != "" {
		a, ok := checksum.ByName(sdk)
		if !ok {
			return nil, withMessage(errInvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		if headerAlg != nil && headerAlg.Name != a.Name {
			return nil, withMessage(errInvalidRequest, "Value for x-amz-sdk-checksum-algorithm header is invalid.")
		}
	}
	var trailers []string
	var trailerAlg *checksum.Algorithm
	// minio-go sends one X-Amz-Trailer line per trailer.
	if t := strings.Join(r.Header.Values("X-Amz-Trailer"), ","); t != "" {
		if !auth.Streaming() || auth.PayloadHash == sigv4.StreamingSigned {
			return nil, withMessage(errInvalidRequest, "x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256.")
		}
		for _, name := range strings.Split(t, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			a, ok := checksum.ByHeader(name)
			if !ok {
				return nil, withMessage(errInvalidRequest, "The value specified in the x-amz-trailer header is not supported")
			}
			if trailerAlg != nil || headerAlg != nil {
				return nil, withMessage(errInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			trailerAlg = &a
			trailers = append(trailers, name)
		}
	}

	raw := &lengthReader{r: rc.body, want: -1}
	if !auth.Streaming() {
		raw.want = b.size
	}
	var rd io.Reader = raw
	var chunked *sigv4.ChunkedReader
	switch {
	case auth.Streaming():
		chunked = sigv4.NewChunkedReader(raw, auth.ChunkedConfig(trailers, b.size))
		rd = chunked
	case auth.PayloadHash != sigv4.UnsignedPayload:
		want := auth.PayloadHash
		rd = &verifyReader{r: rd, h: sha256.New(), check: func(sum []byte) error {
			if hex.EncodeToString(sum) != want {
				return sigv4.ErrContentSHA256Mismatch
			}
			return nil
		}}
	}
	if headerAlg != nil {
		alg, want := *headerAlg, headerVal
		b.checksums[alg.Name] = want
		b.hasChecksum = true
		rd = &verifyReader{r: rd, h: alg.New(), check: func(sum []byte) error {
			if base64.StdEncoding.EncodeToString(sum) != want {
				return withMessage(errChecksumMismatch, "The %s you specified did not match the calculated checksum.", strings.ToLower(alg.Name))
			}
			return nil
		}}
	}
	if trailerAlg != nil {
		alg, checksums := *trailerAlg, b.checksums
		b.hasChecksum, b.trailer = true, alg.Name
		rd = &verifyReader{r: rd, h: alg.New(), check: func(sum []byte) error {
			want, ok := chunked.Trailer(alg.Header)
			if !ok {
				return sigv4.ErrTrailerMalformed
			}
			if !alg.Valid(want) {
				return withMessage(errInvalidRequest, "Value for %s trailing header is invalid.", alg.Header)
			}
			if base64.StdEncoding.EncodeToString(sum) != want {
				return withMessage(errChecksumMismatch, "The %s you specified did not match the calculated checksum.", strings.ToLower(alg.Name))
			}
			checksums[alg.Name] = want
			return nil
		}}
	}
	b.Reader = rd
	return b, nil
}

// parseContentMD5 decodes Content-MD5; a malformed value is InvalidDigest.
func parseContentMD5(h http.Header) ([]byte, error) {
	vs := h.Values("Content-Md5")
	if len(vs) == 0 {
		return nil, nil
	}
	if len(vs) > 1 {
		return nil, errInvalidDigest
	}
	d, err := base64.StdEncoding.DecodeString(vs[0])
	if err != nil || len(d) != md5.Size {
		return nil, errInvalidDigest
	}
	return d, nil
}

// readAllVerified reads a small request body (XML) completely, enforcing
// max and Content-MD5, and returns it only when every check passed.
func readAllVerified(b *body, max int64) ([]byte, error) {
	if b.size > max {
		return nil, errMaxMessageLength
	}
	rd := b.Reader
	if b.contentMD5 != nil {
		want := b.contentMD5
		rd = &verifyReader{r: rd, h: md5.New(), check: func(sum []byte) error {
			if string(sum) != string(want) {
				return node.ErrBadDigest
			}
			return nil
		}}
	}
	data, err := io.ReadAll(io.LimitReader(rd, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, errMaxMessageLength
	}
	return data, nil
}
