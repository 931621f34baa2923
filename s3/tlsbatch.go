package s3

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/vaultaire/vaultaire/tlsbatch"
)

// Listener returns ln serving TLS with the identity of c: every
// connection it accepts is a *tls.Conn (TLSConfig) over a tlsbatch.Conn,
// so the records of one large response write leave in one syscall (the
// response writer, statusWriter, holds it around each large write; net/http
// must see the *tls.Conn itself, for r.TLS, its handshake and Hijack). Serve
// it with the http.Server of Server.HTTPServer (http.Server.Serve, not
// ServeTLS), whose ConnContext gives the response writer the batcher.
func (c *Certs) Listener(ln net.Listener) net.Listener {
	return &tlsListener{Listener: ln, conf: c.TLSConfig()}
}

type tlsListener struct {
	net.Listener
	conf *tls.Config
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(tlsbatch.New(c), l.conf), nil
}

// batchKey is the connection context's key for its tlsbatch.Conn.
type batchKey struct{}

// withBatcher is HTTPServer's ConnContext: a connection accepted by
// Certs.Listener carries its tlsbatch.Conn to the requests on it.
func withBatcher(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		if b, ok := tc.NetConn().(*tlsbatch.Conn); ok {
			return context.WithValue(ctx, batchKey{}, b)
		}
	}
	return ctx
}

// batcherOf returns the tlsbatch.Conn under r's connection, or nil.
func batcherOf(ctx context.Context) *tlsbatch.Conn {
	b, _ := ctx.Value(batchKey{}).(*tlsbatch.Conn)
	return b
}
