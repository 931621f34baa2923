package s3_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

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
// the server's writes into the connection; batch puts the S3 port's
// tlsbatch.Conn under the server's TLS (Certs.Listener: the records of one
// write leave in one syscall), bufread has the client read the socket
// through a 256 KiB buffer below TLS (one read syscall for many records).
// writes/op and reads/op count the syscalls (socket writes on the server,
// socket reads on the client) per 16 MiB; cpu-ms/op is the CPU time of
// both ends per 16 MiB, the figure that a loaded machine disturbs least.
func BenchmarkLoopback16MiB(b *testing.B) {
	const size = 16 << 20
	ca := s3test.NewCA(b, "loopback CA")
	certFile, keyFile := ca.ServerFiles(b, b.TempDir())
	certs, err := s3.NewCerts(s3.TLSFiles{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		tls     bool
		write   int
		batch   bool // the server's records of one write go out in one syscall
		bufRead bool // the client reads the socket through a 256 KiB buffer, below TLS
	}{
		{"tcp/write=256KiB", false, 256 << 10, false, false},
		{"tls/write=256KiB", true, 256 << 10, false, false},
		{"tls/write=256KiB/batch", true, 256 << 10, true, false},
		{"tls/write=1MiB", true, 1 << 20, false, false},
		{"tls/write=256KiB/bufread", true, 256 << 10, false, true},
		{"tls/write=256KiB/batch/bufread", true, 256 << 10, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			var writes, reads atomic.Int64
			go serveLoopback(ln, certs, bc.tls, bc.batch, size, bc.write, &writes)
			var suite atomic.Value
			b.SetBytes(size)
			b.SetParallelism(8) // x GOMAXPROCS 2 = bench-s3's 16 connections
			cpu0 := processCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				var c net.Conn
				var err error
				c, err = net.Dial("tcp", ln.Addr().String())
				if err == nil {
					c = &countConn{Conn: c, reads: &reads}
					if bc.bufRead {
						c = &bufReadConn{Conn: c, r: bufio.NewReaderSize(c, 256<<10)}
					}
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
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/op")
			b.ReportMetric(float64(reads.Load())/float64(b.N), "reads/op")
			if s, ok := suite.Load().(string); ok {
				b.Logf("negotiated %s", s)
			}
		})
	}
}

// serveLoopback answers every byte a client sends with size bytes, written
// write bytes at a time; with batch, the TLS records of one write leave in
// one write to the socket, as on the S3 port. writes counts the socket
// writes.
func serveLoopback(ln net.Listener, certs *s3.Certs, secure, batch bool, size, write int, writes *atomic.Int64) {
	data := make([]byte, write)
	for {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer raw.Close()
			var c net.Conn = &countConn{Conn: raw, writes: writes}
			hold, release := func() {}, func() error { return nil }
			if secure {
				var tc *tls.Conn
				if batch {
					tc, hold, release = s3.BatchedTLSServer(c, certs.TLSConfig())
				} else {
					tc = tls.Server(c, certs.TLSConfig())
				}
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
					hold()
					_, err := c.Write(data[:min(left, write)])
					if err := errors.Join(err, release()); err != nil {
						return
					}
				}
			}
		}()
	}
}

// countConn counts the reads and writes on a connection (either may be nil).
type countConn struct {
	net.Conn
	reads, writes *atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	if c.reads != nil {
		c.reads.Add(1)
	}
	return c.Conn.Read(p)
}

func (c *countConn) Write(p []byte) (int, error) {
	if c.writes != nil {
		c.writes.Add(1)
	}
	return c.Conn.Write(p)
}

type bufReadConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufReadConn) Read(p []byte) (int, error) { return c.r.Read(p) }
