// Package checksum owns S3's additional checksum algorithms (CRC32,
// CRC32C, CRC64NVME, SHA1, SHA256) and the whole-object checksums of a
// multipart upload, computed from the part checksums alone:
//
//   - COMPOSITE: the algorithm over the concatenated binary part
//     checksums, reported as base64 followed by "-N" (N parts). Every
//     algorithm has it.
//   - FULL_OBJECT: the CRC of the whole object, obtained by combining the
//     part CRCs mathematically (Combine), so the object's bytes are never
//     read again. Only the CRCs have it.
//
// Values travel and are stored as the standard base64 of the big-endian
// digest, as S3's x-amz-checksum-* headers carry them.
//
// The package imports nothing of ours; node (to compute whole-object
// values at CompleteMultipartUpload) and s3 (to verify bodies) use it.
package checksum

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strconv"
	"strings"

	"github.com/minio/crc64nvme"
)

// Checksum types of a multipart upload (x-amz-checksum-type).
const (
	Composite  = "COMPOSITE"
	FullObject = "FULL_OBJECT"
)

// Errors of Whole, tested with errors.Is.
var (
	// ErrType: the type is neither COMPOSITE nor FULL_OBJECT, or
	// FULL_OBJECT for an algorithm that is not a CRC.
	ErrType = errors.New("checksum: type not supported for the algorithm")
	// ErrPart: a part checksum is missing or not a digest of the algorithm.
	ErrPart = errors.New("checksum: bad part checksum")
)

// Algorithm is one of S3's additional checksum algorithms.
type Algorithm struct {
	Name   string // "CRC32", as x-amz-checksum-algorithm names it
	Header string // "x-amz-checksum-crc32"
	Size   int    // digest bytes
	New    func() hash.Hash
	crc    *crcPoly // nil for the hashes that cannot be combined
}

// CRC64NVMETable is the CRC-64/NVME table (reflected polynomial
// 0x9a6c9329ac4bc9b5), the CRC64NVME of S3, for hash/crc64 (the
// reference the faster implementation is tested against).
var CRC64NVMETable = crc64.MakeTable(crc64NVMEPoly)

const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Algorithms lists the algorithms in S3's order.
var Algorithms = []Algorithm{
	{"CRC32", "x-amz-checksum-crc32", 4, func() hash.Hash { return crc32.NewIEEE() }, newCRCPoly(32, crc32.IEEE)},
	{"CRC32C", "x-amz-checksum-crc32c", 4, func() hash.Hash { return crc32.New(castagnoli) }, newCRCPoly(32, crc32.Castagnoli)},
	// minio/crc64nvme folds with carry-less multiplication (PCLMULQDQ,
	// VPCLMULQDQ, PMULL) where the CPU has it, 25-30 times as fast as
	// hash/crc64's tables here (BenchmarkHashVsMD5), and falls back to
	// tables elsewhere; TestCRC64NVMEMatchesTable holds it to CRC64NVMETable.
	{"CRC64NVME", "x-amz-checksum-crc64nvme", 8, func() hash.Hash { return crc64nvme.New() }, newCRCPoly(64, crc64NVMEPoly)},
	{"SHA1", "x-amz-checksum-sha1", 20, sha1.New, nil},
	{"SHA256", "x-amz-checksum-sha256", 32, sha256.New, nil},
}

// ByName finds an algorithm by its name, in any case.
func ByName(name string) (Algorithm, bool) {
	for _, a := range Algorithms {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Algorithm{}, false
}

// ByHeader finds an algorithm by its x-amz-checksum-* header, in any case.
func ByHeader(h string) (Algorithm, bool) {
	for _, a := range Algorithms {
		if strings.EqualFold(a.Header, h) {
			return a, true
		}
	}
	return Algorithm{}, false
}

// CanFullObject reports whether the algorithm is a CRC, whose part values
// combine into the whole object's.
func (a Algorithm) CanFullObject() bool { return a.crc != nil }

// DefaultType is the type S3 gives an upload that names the algorithm
// but no type: FULL_OBJECT for CRC64NVME, COMPOSITE for the others.
func (a Algorithm) DefaultType() string {
	if a.Name == "CRC64NVME" {
		return FullObject
	}
	return Composite
}

// Valid reports whether v is the base64 of a digest of the algorithm.
func (a Algorithm) Valid(v string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(b) == a.Size
}

// Sum is the base64 checksum of data.
func (a Algorithm) Sum(data []byte) string {
	h := a.New()
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Part is one part of a multipart object: its checksum (base64) and size.
type Part struct {
	Sum  string
	Size int64
}

// Whole computes the whole-object checksum of the parts, in order, as S3
// reports it: base64, followed by "-N" for COMPOSITE.
func Whole(a Algorithm, typ string, parts []Part) (string, error) {
	if len(parts) == 0 {
		return "", fmt.Errorf("%w: no parts", ErrPart)
	}
	raw := make([][]byte, len(parts))
	for i, p := range parts {
		b, err := base64.StdEncoding.DecodeString(p.Sum)
		if err != nil || len(b) != a.Size {
			return "", fmt.Errorf("%w: part %d: %q is not a %s", ErrPart, i+1, p.Sum, a.Name)
		}
		raw[i] = b
	}
	switch {
	case typ == Composite:
		h := a.New()
		for _, b := range raw {
			h.Write(b)
		}
		return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
	case typ == FullObject && a.crc != nil:
		// Parts are mostly of one size: x^(8·size) is computed once per
		// distinct size, then each part costs one multiplication.
		shift := map[int64]uint64{}
		crc := a.crc.get(raw[0])
		for i, b := range raw[1:] {
			n := parts[i+1].Size
			if n <= 0 {
				crc ^= a.crc.get(b)
				continue
			}
			x, ok := shift[n]
			if !ok {
				x = a.crc.x2nmodp(uint64(n), 3)
				shift[n] = x
			}
			crc = a.crc.mult(x, crc) ^ a.crc.get(b)
		}
		out := make([]byte, a.Size)
		a.crc.put(out, crc)
		return base64.StdEncoding.EncodeToString(out), nil
	}
	return "", fmt.Errorf("%w: %s %s", ErrType, typ, a.Name)
}

// SameWhole reports whether a whole-object value sent by a client equals
// the stored one. A COMPOSITE value may come with or without its "-N"
// suffix (SDKs send it bare on CompleteMultipartUpload).
func SameWhole(sent, stored string) bool {
	if sent == stored {
		return true
	}
	base, _, ok := strings.Cut(stored, "-")
	return ok && sent == base
}

// Combine returns the CRC of A||B from crc(A), crc(B) and len(B), for a
// CRC algorithm (CanFullObject); values are big-endian digests.
func (a Algorithm) Combine(crcA, crcB []byte, lenB int64) []byte {
	out := make([]byte, a.Size)
	a.crc.put(out, a.crc.combine(a.crc.get(crcA), a.crc.get(crcB), lenB))
	return out
}

// crcPoly is the GF(2) arithmetic of one reflected CRC whose initial value
// and final xor are all ones (CRC-32, CRC-32C, CRC-64/NVME), after zlib's
// crc32_combine: crc(A||B) = crc(A)·x^(8·len(B)) mod P xor crc(B), with
// x^(2^k) mod P precomputed so a combine costs O(width·log len(B)).
type crcPoly struct {
	width int
	poly  uint64 // reflected
	x2n   [67]uint64
}

func newCRCPoly(width int, poly uint64) *crcPoly {
	c := &crcPoly{width: width, poly: poly}
	p := uint64(1) << (width - 2) // x^1
	c.x2n[0] = p
	for i := 1; i < len(c.x2n); i++ {
		p = c.mult(p, p)
		c.x2n[i] = p
	}
	return c
}

// mult is a·b mod P, reflected (the top bit is x^0). a must not be 0.
func (c *crcPoly) mult(a, b uint64) uint64 {
	m := uint64(1) << (c.width - 1)
	var p uint64
	for {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				return p
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ c.poly
		} else {
			b >>= 1
		}
	}
}

// x2nmodp is x^(n·2^k) mod P.
func (c *crcPoly) x2nmodp(n uint64, k int) uint64 {
	p := uint64(1) << (c.width - 1) // x^0
	for n != 0 {
		if n&1 != 0 {
			p = c.mult(c.x2n[k], p)
		}
		n >>= 1
		k++
	}
	return p
}

func (c *crcPoly) combine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA ^ crcB
	}
	return c.mult(c.x2nmodp(uint64(lenB), 3), crcA) ^ crcB
}

func (c *crcPoly) get(b []byte) uint64 {
	if c.width == 32 {
		return uint64(binary.BigEndian.Uint32(b))
	}
	return binary.BigEndian.Uint64(b)
}

func (c *crcPoly) put(b []byte, v uint64) {
	if c.width == 32 {
		binary.BigEndian.PutUint32(b, uint32(v))
		return
	}
	binary.BigEndian.PutUint64(b, v)
}
