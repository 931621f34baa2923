package md5lanes

import (
	"encoding/binary"
	"math/bits"
)

// lanes is how many streams one pass hashes.
const lanes = 16

// state16 is the MD5 state of 16 lanes, one row per state word, as the
// kernel loads it (row r, lane i at s[r][i]).
type state16 [4][lanes]uint32

// initial is MD5's initial state (RFC 1321, 3.3).
var initial = [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}

// sine is K[i] = floor(|sin(i+1)| * 2^32).
var sine = [64]uint32{
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
}

var shifts = [4][4]int{{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}}

// blocksGeneric hashes n 64-byte blocks from the front of p[i] into lane i
// of s, for each lane i whose bit is set in mask; every such p[i] holds at
// least 64*n bytes. It is the kernel's contract in plain Go: the reference
// the tests check the kernel against, and the kernel where there is none.
func blocksGeneric(s *state16, p *[lanes][]byte, mask uint16, n int) {
	for i := 0; i < lanes; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		a0, b0, c0, d0 := s[0][i], s[1][i], s[2][i], s[3][i]
		for blk := 0; blk < n; blk++ {
			var m [16]uint32
			q := p[i][64*blk : 64*blk+64]
			for j := range m {
				m[j] = binary.LittleEndian.Uint32(q[4*j:])
			}
			a, b, c, d := a0, b0, c0, d0
			for k := 0; k < 64; k++ {
				var f uint32
				var g int
				switch k / 16 {
				case 0:
					f, g = (b&c)|(^b&d), k
				case 1:
					f, g = (b&d)|(c&^d), (5*k+1)%16
				case 2:
					f, g = b^c^d, (3*k+5)%16
				default:
					f, g = c^(b|^d), (7*k)%16
				}
				a, b, c, d = d, b+bits.RotateLeft32(a+f+sine[k]+m[g], shifts[k/16][k%4]), b, c
			}
			a0, b0, c0, d0 = a0+a, b0+b, c0+c, d0+d
		}
		s[0][i], s[1][i], s[2][i], s[3][i] = a0, b0, c0, d0
	}
}
