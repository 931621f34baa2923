//go:build !amd64 || purego

package md5lanes

// haveLanes: no vector kernel on this platform; Digests are crypto/md5's.
var haveLanes = false

func blocks(s *state16, p *[lanes][]byte, mask uint16, n int) { blocksGeneric(s, p, mask, n) }
