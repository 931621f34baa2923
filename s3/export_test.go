package s3

import (
	"crypto/tls"
	"net"

	"github.com/vaultaire/vaultaire/tlsbatch"
)

// BatchedTLSServer is raw as Certs.Listener accepts it, with the hold that
// statusWriter takes around a large response write: the TLS records of the
// writes between hold and release leave in one write to raw.
func BatchedTLSServer(raw net.Conn, conf *tls.Config) (tc *tls.Conn, hold func(), release func() error) {
	b := tlsbatch.New(raw)
	return tls.Server(b, conf), b.Hold, b.Release
}

// SetTLSLoadedHook runs f each time Certs has read its key pair (nil:
// nothing), until the test ends.
func SetTLSLoadedHook(t interface{ Cleanup(func()) }, f func()) {
	loadedHook = f
	t.Cleanup(func() { loadedHook = nil })
}
