package s3

import (
	"crypto/tls"
	"net"
)

// BatchedTLSServer is raw as Certs.Listener accepts it, with the hold that
// statusWriter takes around a large response write: the TLS records of the
// writes between hold and release leave in one write to raw.
func BatchedTLSServer(raw net.Conn, conf *tls.Config) (tc *tls.Conn, hold func(), release func() error) {
	b := &recordBatcher{Conn: raw}
	return tls.Server(b, conf), b.hold, b.release
}
