package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
)

// Limits of the aws-chunked decoder; a body that exceeds them is malformed.
const (
	// maxChunkLine bounds one chunk header line: 16 hex digits, the
	// signature extension and CRLF fit with room to spare.
	maxChunkLine = 4 << 10
	// maxTrailerBytes bounds the whole trailer section (a few checksum
	// headers and a signature).
	maxTrailerBytes = 16 << 10
	// maxTrailers bounds the number of trailer lines.
	maxTrailers = 16
)

// TrailerSignatureName is the trailer line that carries the trailer signature.
const TrailerSignatureName = "x-amz-trailer-signature"

// ChunkedConfig describes how to decode one aws-chunked body.
type ChunkedConfig struct {
	// Signed: every chunk carries a chunk-signature to verify, chained from
	// Seed with SigningKey, AmzDate and Scope.
	Signed     bool
	SigningKey []byte
	AmzDate    string
	Scope      string
	Seed       string
	// Trailer: the body ends with a trailer section (the *-TRAILER modes).
	// Trailers lists the names announced in x-amz-trailer (lower case);
	// each must appear exactly once and no other may.
	Trailer  bool
	Trailers []string
	// DecodedLength is x-amz-decoded-content-length, or -1 when unknown.
	DecodedLength int64
}

// ChunkedConfig returns the decoding configuration for an authenticated
// streaming request.
func (r *Result) ChunkedConfig(trailers []string, decodedLength int64) ChunkedConfig {
	return ChunkedConfig{
		Signed:        r.PayloadHash == StreamingSigned || r.PayloadHash == StreamingSignedTrailer,
		SigningKey:    r.SigningKey,
		AmzDate:       r.AmzDate,
		Scope:         r.Scope,
		Seed:          r.Seed,
		Trailer:       r.PayloadHash == StreamingSignedTrailer || r.PayloadHash == StreamingUnsignedTrailer,
		Trailers:      trailers,
		DecodedLength: decodedLength,
	}
}

type chunkState int

const (
	stateHeader chunkState = iota
	stateData
	stateDone
)

// ChunkedReader decodes an aws-chunked body. Read returns decoded payload
// bytes; it returns io.EOF only after the whole body, every signature and
// the trailers have been verified.
type ChunkedReader struct {
	r        *bufio.Reader
	cfg      ChunkedConfig
	state    chunkState
	remain   int64 // bytes left in the current chunk
	chunkSig string
	prevSig  string
	h        hash.Hash
	decoded  int64
	trailers map[string]string
	err      error
}

// NewChunkedReader decodes r according to cfg.
func NewChunkedReader(r io.Reader, cfg ChunkedConfig) *ChunkedReader {
	c := &ChunkedReader{r: bufio.NewReaderSize(r, 64<<10), cfg: cfg, prevSig: cfg.Seed}
	if cfg.Signed {
		c.h = sha256.New()
	}
	return c
}

// Trailer returns a verified trailer value; valid after Read returned io.EOF.
func (c *ChunkedReader) Trailer(name string) (string, bool) {
	if c.state != stateDone || c.err != io.EOF {
		return "", false
	}
	v, ok := c.trailers[strings.ToLower(name)]
	return v, ok
}

// Decoded is the number of payload bytes returned so far.
func (c *ChunkedReader) Decoded() int64 { return c.decoded }

func (c *ChunkedReader) fail(err error) (int, error) {
	c.err = err
	return 0, err
}

// Read implements io.Reader.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for {
		switch c.state {
		case stateHeader:
			if err := c.readHeader(); err != nil {
				return c.fail(err)
			}
			if c.state == stateDone {
				c.err = io.EOF
				return 0, io.EOF
			}
		case stateData:
			if len(p) == 0 {
				return 0, nil
			}
			n := len(p)
			if int64(n) > c.remain {
				n = int(c.remain)
			}
			n, err := c.r.Read(p[:n])
			if n > 0 {
				if c.h != nil {
					c.h.Write(p[:n])
				}
				c.remain -= int64(n)
				c.decoded += int64(n)
			}
			if err != nil {
				if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
					err = ErrChunkTruncated
				}
				c.err = err
				return n, err
			}
			if c.remain == 0 {
				if err := c.endChunk(); err != nil {
					c.err = err
					return n, err
				}
				c.state = stateHeader
			}
			return n, nil
		case stateDone:
			return 0, c.err
		}
	}
}

// readLine reads one line ending in LF (CR optional when lax) without the
// line ending.
func (c *ChunkedReader) readLine(limit int, lax bool) ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, errorf(ErrChunkMalformed, "line too long")
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrChunkTruncated
		}
		return nil, err
	}
	if len(line) > limit {
		return nil, errorf(ErrChunkMalformed, "line too long")
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1], nil
	}
	if !lax {
		return nil, errorf(ErrChunkMalformed, "line not terminated by CRLF")
	}
	return line, nil
}

func (c *ChunkedReader) readHeader() error {
	line, err := c.readLine(maxChunkLine, false)
	if err != nil {
		return err
	}
	sizeHex, ext, hasExt := bytes.Cut(line, []byte{';'})
	if len(sizeHex) == 0 || len(sizeHex) > 16 {
		return errorf(ErrChunkMalformed, "invalid chunk size")
	}
	size, err := strconv.ParseUint(string(sizeHex), 16, 63)
	if err != nil {
		return errorf(ErrChunkMalformed, "invalid chunk size")
	}
	if c.cfg.Signed {
		sig, ok := bytes.CutPrefix(ext, []byte("chunk-signature="))
		if !hasExt || !ok || !isHexSignature(string(sig)) {
			return errorf(ErrChunkMalformed, "missing or invalid chunk-signature")
		}
		c.chunkSig = string(sig)
	} else if hasExt {
		return errorf(ErrChunkMalformed, "unexpected chunk extension in an unsigned body")
	}
	if c.cfg.DecodedLength >= 0 && c.decoded+int64(size) > c.cfg.DecodedLength {
		return ErrDecodedLength
	}
	c.remain = int64(size)
	if size > 0 {
		c.state = stateData
		return nil
	}
	// Final chunk.
	if c.cfg.Signed {
		if err := c.verifyChunk(); err != nil {
			return err
		}
	}
	if c.cfg.Trailer {
		if err := c.readTrailers(); err != nil {
			return err
		}
	} else if err := c.readEnd(); err != nil {
		return err
	}
	if c.cfg.DecodedLength >= 0 && c.decoded != c.cfg.DecodedLength {
		return ErrDecodedLength
	}
	c.state = stateDone
	return nil
}

func (c *ChunkedReader) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.r, crlf[:]); err != nil {
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrChunkTruncated
		}
		return err
	}
	if crlf != [2]byte{'\r', '\n'} {
		return errorf(ErrChunkMalformed, "chunk data not followed by CRLF")
	}
	if c.cfg.Signed {
		return c.verifyChunk()
	}
	return nil
}

// verifyChunk checks the signature of the chunk just read and resets the
// running hash for the next one.
func (c *ChunkedReader) verifyChunk() error {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.cfg.AmzDate + "\n" + c.cfg.Scope + "\n" +
		c.prevSig + "\n" + EmptySHA256 + "\n" + hex.EncodeToString(c.h.Sum(nil))
	want := Sign(c.cfg.SigningKey, sts)
	c.h.Reset()
	if !equalSig(want, c.chunkSig) {
		return errorf(ErrSignatureMismatch, "chunk signature does not match")
	}
	c.prevSig = c.chunkSig
	return nil
}

// readEnd reads what follows the final chunk of a body without trailers:
// a CRLF (or a bare LF), or nothing at all, then the end of the body.
func (c *ChunkedReader) readEnd() error {
	var tail [3]byte
	n, err := io.ReadFull(c.r, tail[:])
	switch {
	case err == nil:
		return errorf(ErrChunkMalformed, "data after the end of the body")
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return err
	}
	switch string(tail[:n]) {
	case "", "\r\n", "\n":
		return nil
	case "\r":
		return ErrChunkTruncated
	}
	return errorf(ErrChunkMalformed, "data after the final chunk")
}

// readTrailers reads the trailer section to the end of the body. Clients
// frame it differently, and each form is accepted:
//
//	name:value CRLF [x-amz-trailer-signature:sig CRLF] CRLF   (AWS SDKs)
//	name:value CRLF ... with the final CRLF missing
//	name:value LF CRLF [x-amz-trailer-signature:sig CRLF] CRLF (minio-go)
//
// Lines end in LF or CRLF (the last one may end with the body); empty
// lines carry nothing and are skipped. Each declared trailer must appear
// exactly once, the signature (signed bodies) last; the whole section is
// bounded by maxTrailerBytes, so a section that never ends is refused.
func (c *ChunkedReader) readTrailers() error {
	c.trailers = make(map[string]string, len(c.cfg.Trailers))
	var signed strings.Builder
	var sig string
	total, lines := 0, 0
	for {
		line, err := c.r.ReadSlice('\n')
		total += len(line)
		if total > maxTrailerBytes || err == bufio.ErrBufferFull {
			return errorf(ErrTrailerMalformed, "trailers too large")
		}
		if err != nil && err != io.EOF {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return ErrChunkTruncated
			}
			return err
		}
		eof := err == io.EOF
		text := strings.TrimRight(string(line), "\r\n")
		if text != "" {
			if lines++; lines > maxTrailers+1 {
				return errorf(ErrTrailerMalformed, "too many trailers")
			}
			if sig != "" {
				return errorf(ErrTrailerMalformed, "trailer after %s", TrailerSignatureName)
			}
			name, value, ok := strings.Cut(text, ":")
			if !ok {
				return errorf(ErrTrailerMalformed, "trailer line without ':'")
			}
			name = strings.ToLower(strings.TrimSpace(name))
			value = strings.TrimSpace(value)
			switch {
			case name == TrailerSignatureName:
				if !c.cfg.Signed {
					return errorf(ErrTrailerMalformed, "trailer signature in an unsigned body")
				}
				if !isHexSignature(value) {
					return errorf(ErrTrailerMalformed, "invalid trailer signature")
				}
				sig = value
			case !containsString(c.cfg.Trailers, name):
				return errorf(ErrTrailerMalformed, "trailer %q was not declared in x-amz-trailer", name)
			default:
				if _, dup := c.trailers[name]; dup {
					return errorf(ErrTrailerMalformed, "trailer %q sent twice", name)
				}
				c.trailers[name] = value
				signed.WriteString(name)
				signed.WriteByte(':')
				signed.WriteString(value)
				signed.WriteByte('\n')
			}
		}
		if eof {
			break
		}
	}
	for _, name := range c.cfg.Trailers {
		if _, ok := c.trailers[name]; !ok {
			return errorf(ErrTrailerMalformed, "declared trailer %q is missing", name)
		}
	}
	if c.cfg.Signed {
		if sig == "" {
			return errorf(ErrTrailerMalformed, "missing %s", TrailerSignatureName)
		}
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.cfg.AmzDate + "\n" + c.cfg.Scope + "\n" +
			c.prevSig + "\n" + sha256Hex(signed.String())
		if !equalSig(Sign(c.cfg.SigningKey, sts), sig) {
			return errorf(ErrSignatureMismatch, "trailer signature does not match")
		}
	}
	return nil
}

// ChunkedEncoder produces aws-chunked bodies; clients and tests use it.
// It is the exact inverse of ChunkedReader.
type ChunkedEncoder struct {
	cfg     ChunkedConfig
	prevSig string
}

// NewChunkedEncoder starts an encoder; cfg.Seed is the request signature.
func NewChunkedEncoder(cfg ChunkedConfig) *ChunkedEncoder {
	return &ChunkedEncoder{cfg: cfg, prevSig: cfg.Seed}
}

// Chunk encodes one chunk (use an empty data for the final chunk, then
// Trailers when in trailer mode, or End otherwise).
func (e *ChunkedEncoder) Chunk(data []byte) []byte {
	var b bytes.Buffer
	b.WriteString(strconv.FormatInt(int64(len(data)), 16))
	if e.cfg.Signed {
		sum := sha256.Sum256(data)
		sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + e.cfg.AmzDate + "\n" + e.cfg.Scope + "\n" +
			e.prevSig + "\n" + EmptySHA256 + "\n" + hex.EncodeToString(sum[:])
		e.prevSig = Sign(e.cfg.SigningKey, sts)
		b.WriteString(";chunk-signature=")
		b.WriteString(e.prevSig)
	}
	b.WriteString("\r\n")
	if len(data) > 0 {
		b.Write(data)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// End terminates a body without trailers.
func (e *ChunkedEncoder) End() []byte { return []byte("\r\n") }

// Trailers encodes the trailer section (name/value pairs in order), with
// its signature in signed mode, and the closing CRLF.
func (e *ChunkedEncoder) Trailers(kv ...string) []byte {
	var b, signed bytes.Buffer
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + ":" + kv[i+1] + "\r\n")
		signed.WriteString(kv[i] + ":" + kv[i+1] + "\n")
	}
	if e.cfg.Signed {
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + e.cfg.AmzDate + "\n" + e.cfg.Scope + "\n" +
			e.prevSig + "\n" + sha256Hex(signed.String())
		b.WriteString(TrailerSignatureName + ":" + Sign(e.cfg.SigningKey, sts) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
