//go:build amd64 && !purego

package md5lanes

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run asm_gen.go > block_amd64.s"

// haveLanes reports whether the kernel can run here. The kernel needs
// AVX-512 Foundation only; cpu also checks that the OS saves ZMM state.
var haveLanes = cpu.X86.HasAVX512F

// block16 is the AVX-512 kernel (block_amd64.s): blocks's contract with
// the lanes' start addresses in ptrs; a lane outside mask must still point
// at 64*n readable bytes (its results are discarded).
//
//go:noescape
func block16(s *state16, ptrs *[lanes]unsafe.Pointer, mask uint64, n int)

// blocks hashes n 64-byte blocks from the front of p[i] into lane i of s,
// for each lane i in mask (non-zero); every such p[i] holds at least 64*n
// bytes.
func blocks(s *state16, p *[lanes][]byte, mask uint16, n int) {
	if !haveLanes {
		blocksGeneric(s, p, mask, n)
		return
	}
	var ptrs [lanes]unsafe.Pointer
	var first unsafe.Pointer
	for i := 0; i < lanes; i++ {
		if mask&(1<<i) != 0 {
			ptrs[i] = unsafe.Pointer(unsafe.SliceData(p[i]))
			if first == nil {
				first = ptrs[i]
			}
		}
	}
	for i := 0; i < lanes; i++ {
		if ptrs[i] == nil {
			ptrs[i] = first // read, and discarded under the mask
		}
	}
	block16(s, &ptrs, uint64(mask), n)
}
