package s3_test

import (
	"bufio"
	"crypto/tls"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/s3test"
)

// BenchmarkLoopback16MiB is the floor under the HTTPS/HTTP ratio of a large
// GET (bench-s3's "16 MiB GET" row): a server writes 16 MiB per request to
// a client that reads and drops it, over loopback TCP and over TLS with the
// S3 port's own configuration (s3.Certs.TLSConfig, the cipher suite Go
// negotiates with a default client), 16 connections at once as bench-s3
// runs them, in the same run. Nothing but the transport is measured: the
// tls/tcp ratio is what any server can reach on this machine, with the
// encryption and the decryption sharing its cores. write= is the size of
// the server's writes into the connection; bufread has the client read the
// socket through a 256 KiB buffer below TLS (one read syscall for many
// records), bufwrite sends the records of one server write in one syscall:
// the levers on the syscalls TLS adds (one per 16 KiB record each way).
// On the 2 shared cores of 2026-12-07 neither moved the ratio (0.3-0.4):
// the bound is AES-GCM and the copies, not the record count.
func BenchmarkLoopback16MiB(b *testing.B) {
	const size = 16 << 20
	ca := s3test.NewCA(b, "loopback CA")
	certFile, keyFile := ca.ServerFiles(b, b.TempDir())
	certs, err := s3.NewCerts(s3.TLSFiles{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name     string
		tls      bool
		write    int
		bufRead  bool // the client reads the socket through a 256 KiB buffer, below TLS
		bufWrite bool // the server's records of one write go out in one syscall
	}{
		{"tcp/write=32KiB", false, 32 << 10, false, false},
		{"tls/write=32KiB", true, 32 << 10, false, false},
		{"tls/write=256KiB", true, 256 << 10, false, false},
		{"tls/write=256KiB/bufread", true, 256 << 10, true, false},
		{"tls/write=256KiB/bufread/bufwrite", true, 256 << 10, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go serveLoopback(ln, certs, bc.tls, bc.bufWrite, size, bc.write)
			var suite atomic.Value
			b.SetBytes(size)
			b.SetParallelism(8) // x GOMAXPROCS 2 = bench-s3's 16 connections
			b.RunParallel(func(pb *testing.PB) {
				var c net.Conn
				var err error
				c, err = net.Dial("tcp", ln.Addr().String())
				if err == nil && bc.bufRead {
					c = &bufReadConn{Conn: c, r: bufio.NewReaderSize(c, 256<<10)}
				}
				if err == nil && bc.tls {
					tc := tls.Client(c, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
					if err = tc.Handshake(); err == nil {
						suite.Store(tls.CipherSuiteName(tc.ConnectionState().CipherSuite))
					}
					c = tc
				}
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				buf := make([]byte, 256<<10) // bench's read buffer
				for pb.Next() {
					if _, err := c.Write([]byte{1}); err != nil {
						b.Error(err)
						return
					}
					for left := size; left > 0; {
						n, err := c.Read(buf[:min(left, len(buf))])
						left -= n
						if err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
			if s, ok := suite.Load().(string); ok {
				b.Logf("negotiated %s", s)
			}
		})
	}
}

// serveLoopback answers every byte a client sends with size bytes, written
// write bytes at a time; with bufWrite, the TLS records of one write leave
// in one write to the socket.
func serveLoopback(ln net.Listener, certs *s3.Certs, secure, bufWrite bool, size, write int) {
	data := make([]byte, write)
	for {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer raw.Close()
			var c net.Conn = raw
			var bw *bufWriteConn
			if bufWrite {
				bw = &bufWriteConn{Conn: raw, w: bufio.NewWriterSize(raw, write+write/16+1024)}
				c = bw
			}
			if secure {
				tc := tls.Server(c, certs.TLSConfig())
				if tc.Handshake() != nil {
					return
				}
				c = tc
			}
			one := make([]byte, 1)
			for {
				if _, err := c.Read(one); err != nil {
					return
				}
				for left := size; left > 0; left -= write {
					if bw != nil {
						bw.hold = true
					}
					if _, err := c.Write(data[:min(left, write)]); err != nil {
						return
					}
					if bw != nil {
						bw.hold = false
						if bw.w.Flush() != nil {
							return
						}
					}
				}
			}
		}()
	}
}

type bufReadConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufReadConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// bufWriteConn holds what is written while hold is set (the records of
// one TLS write) until the writer flushes w.
type bufWriteConn struct {
	net.Conn
	w    *bufio.Writer
	hold bool
}

func (c *bufWriteConn) Write(p []byte) (int, error) {
	if c.hold {
		return c.w.Write(p)
	}
	return c.Conn.Write(p)
}
