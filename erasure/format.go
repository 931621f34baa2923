package erasure

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Shard file format constants; doc.go describes the layout.
const (
	// FormatVersion is the shard file format this release writes. It reads
	// this version only; a header of another version yields ErrVersion.
	FormatVersion = 1
	// HeaderSize is the length of a version 1 header.
	HeaderSize = 48
	// TrailerSize is the length of a version 1 trailer.
	TrailerSize = 48

	headerMagic  = "VLTSHARD"
	trailerMagic = "VLTSTAIL"
	// headerPrefix is the version-independent start of every header:
	// magic, version, header length.
	headerPrefix = 12
	// maxHeaderLen bounds the header length field of any version, so a
	// corrupt length cannot make ReadHeader allocate or read much.
	maxHeaderLen = 4096
)

var headerSeed = checksumSeed(domainHeader, 0, 0)

// Header is the parsed header of a shard file.
type Header struct {
	// Version is the shard file format version (FormatVersion).
	Version int
	// Shape is the erasure shape the artifact was encoded with.
	Shape Shape
	// Index is this shard's index: 0..Data-1 for data, Data.. for parity.
	Index int
	// Checksum is the algorithm of every checksum in the file.
	Checksum ChecksumAlgorithm
}

// marshalHeader encodes a version 1 header of shard index for shape s.
func marshalHeader(s Shape, index int) [HeaderSize]byte {
	var b [HeaderSize]byte
	copy(b[0:8], headerMagic)
	binary.BigEndian.PutUint16(b[8:10], FormatVersion)
	binary.BigEndian.PutUint16(b[10:12], HeaderSize)
	b[12] = byte(ChecksumXXH3)
	b[13] = checksumSize
	binary.BigEndian.PutUint16(b[14:16], uint16(s.Data))
	binary.BigEndian.PutUint16(b[16:18], uint16(s.Parity))
	binary.BigEndian.PutUint16(b[18:20], uint16(index))
	binary.BigEndian.PutUint32(b[20:24], uint32(s.BlockSize))
	// b[24:32] reserved, zero.
	putChecksum(b[HeaderSize-checksumSize:], b[:HeaderSize-checksumSize], headerSeed)
	return b
}

// ReadHeader reads and verifies a shard file header from r, consuming
// exactly the header's bytes so that r is left at the first block.
//
// A header that is short, has a wrong magic, a bad checksum or impossible
// fields yields an error wrapping ErrCorrupt; an intact header of an unknown
// format version yields ErrVersion; an error of r itself is returned wrapped.
func ReadHeader(r io.Reader) (Header, error) {
	var prefix [headerPrefix]byte
	if err := readFull(r, prefix[:], "header"); err != nil {
		return Header{}, err
	}
	if string(prefix[0:8]) != headerMagic {
		return Header{}, fmt.Errorf("%w: bad header magic %q", ErrCorrupt, prefix[0:8])
	}
	version := int(binary.BigEndian.Uint16(prefix[8:10]))
	n := int(binary.BigEndian.Uint16(prefix[10:12]))
	if n < headerPrefix+checksumSize || n > maxHeaderLen {
		return Header{}, fmt.Errorf("%w: bad header length %d", ErrCorrupt, n)
	}
	buf := make([]byte, n)
	copy(buf, prefix[:])
	if err := readFull(r, buf[headerPrefix:], "header"); err != nil {
		return Header{}, err
	}
	// Every format version ends its header with this checksum, so an intact
	// header of an unknown version is told apart from a corrupt one.
	if !checksumOK(buf[n-checksumSize:n], buf[:n-checksumSize], headerSeed) {
		return Header{}, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	if version != FormatVersion {
		return Header{}, fmt.Errorf("%w: version %d (this release reads %d)", ErrVersion, version, FormatVersion)
	}
	if n != HeaderSize {
		return Header{}, fmt.Errorf("%w: version 1 header length %d, want %d", ErrCorrupt, n, HeaderSize)
	}
	h := Header{
		Version:  version,
		Checksum: ChecksumAlgorithm(buf[12]),
		Shape: Shape{
			Data:      int(binary.BigEndian.Uint16(buf[14:16])),
			Parity:    int(binary.BigEndian.Uint16(buf[16:18])),
			BlockSize: int(binary.BigEndian.Uint32(buf[20:24])),
		},
		Index: int(binary.BigEndian.Uint16(buf[18:20])),
	}
	var errs []error
	if h.Checksum != ChecksumXXH3 {
		errs = append(errs, fmt.Errorf("%w: unknown checksum algorithm %d", ErrCorrupt, h.Checksum))
	}
	if buf[13] != checksumSize {
		errs = append(errs, fmt.Errorf("%w: checksum length %d, want %d", ErrCorrupt, buf[13], checksumSize))
	}
	if err := h.Shape.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	if h.Index >= h.Shape.Shards() {
		errs = append(errs, fmt.Errorf("%w: shard index %d >= %d shards", ErrCorrupt, h.Index, h.Shape.Shards()))
	}
	if binary.BigEndian.Uint64(buf[24:32]) != 0 {
		errs = append(errs, fmt.Errorf("%w: reserved header bytes not zero", ErrCorrupt))
	}
	if err := errors.Join(errs...); err != nil {
		return Header{}, err
	}
	return h, nil
}

// Trailer is the parsed trailer of a shard file.
type Trailer struct {
	// Size is the artifact's length in bytes.
	Size int64
	// Stripes is the number of stripes (blocks in each shard file).
	Stripes int64
}

// marshalTrailer encodes the trailer of shard index of an artifact.
func marshalTrailer(index int, t Trailer) [TrailerSize]byte {
	var b [TrailerSize]byte
	copy(b[0:8], trailerMagic)
	binary.BigEndian.PutUint64(b[8:16], uint64(t.Size))
	binary.BigEndian.PutUint64(b[16:24], uint64(t.Stripes))
	// b[24:32] reserved, zero.
	putChecksum(b[32:48], b[:32], checksumSeed(domainTrailer, index, 0))
	return b
}

// ReadTrailer reads and verifies the trailer of shard file index from r
// (positioned at the trailer, ShardFileSize-TrailerSize bytes into the
// file). Errors wrap ErrCorrupt, or are r's own error wrapped.
func ReadTrailer(r io.Reader, index int) (Trailer, error) {
	var b [TrailerSize]byte
	if err := readFull(r, b[:], "trailer"); err != nil {
		return Trailer{}, err
	}
	return parseTrailer(b[:], index)
}

func parseTrailer(b []byte, index int) (Trailer, error) {
	if string(b[0:8]) != trailerMagic {
		return Trailer{}, fmt.Errorf("%w: bad trailer magic %q", ErrCorrupt, b[0:8])
	}
	if !checksumOK(b[32:48], b[:32], checksumSeed(domainTrailer, index, 0)) {
		return Trailer{}, fmt.Errorf("%w: trailer checksum mismatch", ErrCorrupt)
	}
	t := Trailer{
		Size:    int64(binary.BigEndian.Uint64(b[8:16])),
		Stripes: int64(binary.BigEndian.Uint64(b[16:24])),
	}
	if t.Size < 0 || t.Stripes < 0 || binary.BigEndian.Uint64(b[24:32]) != 0 {
		return Trailer{}, fmt.Errorf("%w: impossible trailer fields", ErrCorrupt)
	}
	return t, nil
}

// readFull reads len(b) bytes; a short read is corruption (a truncated
// shard), any other error of r is returned wrapped as it is.
func readFull(r io.Reader, b []byte, what string) error {
	_, err := io.ReadFull(r, b)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s truncated: %w", ErrCorrupt, what, io.ErrUnexpectedEOF)
	default:
		return fmt.Errorf("erasure: read %s: %w", what, err)
	}
}
