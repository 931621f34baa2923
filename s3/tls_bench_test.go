package s3_test

import (
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
// the server's writes into the connection.
func BenchmarkLoopback16MiB(b *testing.B) {
	const size = 16 << 20
	ca := s3test.NewCA(b, "loopback CA")
	certFile, keyFile := ca.ServerFiles(b, b.TempDir())
	certs, err := s3.NewCerts(s3.TLSFiles{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		tls   bool
		write int
	}{
		{"tcp/write=32KiB", false, 32 << 10},
		{"tls/write=32KiB", true, 32 << 10},
		{"tls/write=256KiB", true, 256 << 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			if bc.tls {
				ln = tls.NewListener(ln, certs.TLSConfig())
			}
			go serveLoopback(ln, size, bc.write)
			var suite atomic.Value
			b.SetBytes(size)
			b.SetParallelism(8) // x GOMAXPROCS 2 = bench-s3's 16 connections
			b.RunParallel(func(pb *testing.PB) {
				var c net.Conn
				var err error
				if bc.tls {
					tc, terr := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool()})
					if terr == nil {
						suite.Store(tls.CipherSuiteName(tc.ConnectionState().CipherSuite))
					}
					c, err = tc, terr
				} else {
					c, err = net.Dial("tcp", ln.Addr().String())
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
// write bytes at a time.
func serveLoopback(ln net.Listener, size, write int) {
	data := make([]byte, write)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			one := make([]byte, 1)
			for {
				if _, err := c.Read(one); err != nil {
					return
				}
				for left := size; left > 0; left -= write {
					if _, err := c.Write(data[:min(left, write)]); err != nil {
						return
					}
				}
			}
		}()
	}
}
