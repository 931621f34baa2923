package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTLSReloadInterval is how often Certs.Watch looks at the
// certificate files: three stat calls, cheap enough to notice a renewed
// certificate within seconds, rare enough to cost nothing.
const DefaultTLSReloadInterval = 10 * time.Second

// TLSFiles names the PEM files of the S3 port's TLS.
type TLSFiles struct {
	// CertFile is the server certificate chain, KeyFile its private key.
	CertFile, KeyFile string
	// ClientCAFile, when set, turns on mutual TLS: every client must
	// present a certificate signed by one of these CAs before any request
	// is read. Requests are still authenticated by their signature.
	ClientCAFile string
}

// Certs is the TLS identity of the S3 port, loaded from TLSFiles and
// replaceable while serving: Reload re-reads the files, and every
// handshake after it uses what it loaded, while connections already open
// finish on the certificate they began with. A reload that fails (a
// missing file, a key that does not match its certificate, a half-written
// file) changes nothing: the previous identity stays in use.
//
// The TLS settings (TLSConfig) are fixed: TLS 1.2 minimum, 1.3 whenever the
// client has it (Go's server prefers the highest version both sides
// speak), Go's default cipher suites and curves, and ALPN "http/1.1" only
// (HTTP/2 is off: see HTTPServer).
type Certs struct {
	files TLSFiles
	log   *slog.Logger
	cur   atomic.Pointer[certState]
	mu    struct {
		sync.Mutex
		failed []fileStamp // the files as they were at the last failed load
	}
}

// certState is one loaded identity with the tls.Config built from it.
type certState struct {
	conf   *tls.Config
	stamps []fileStamp
}

// fileStamp is what Watch compares to notice a changed file.
type fileStamp struct {
	mod  time.Time
	size int64
}

// NewCerts loads files; log receives reload events (default slog.Default()).
func NewCerts(files TLSFiles, log *slog.Logger) (*Certs, error) {
	if files.CertFile == "" || files.KeyFile == "" {
		return nil, errors.New("s3: TLS needs both a certificate and a key file")
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Certs{files: files, log: log}
	st, err := c.load(c.stamps())
	if err != nil {
		return nil, err
	}
	c.cur.Store(st)
	return c, nil
}

func (c *Certs) paths() []string {
	p := []string{c.files.CertFile, c.files.KeyFile}
	if c.files.ClientCAFile != "" {
		p = append(p, c.files.ClientCAFile)
	}
	return p
}

func (c *Certs) stamps() []fileStamp {
	var out []fileStamp
	for _, p := range c.paths() {
		var s fileStamp
		if fi, err := os.Stat(p); err == nil {
			s = fileStamp{mod: fi.ModTime(), size: fi.Size()}
		}
		out = append(out, s)
	}
	return out
}

// load reads the files, whose stamps the caller took before: a write
// during the load is then seen as a change next time.
func (c *Certs) load(stamps []fileStamp) (*certState, error) {
	cert, err := tls.LoadX509KeyPair(c.files.CertFile, c.files.KeyFile)
	if loadedHook != nil {
		loadedHook()
	}
	if err != nil {
		return nil, fmt.Errorf("s3: TLS certificate: %w", err)
	}
	conf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}
	if c.files.ClientCAFile != "" {
		pem, err := os.ReadFile(c.files.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("s3: TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("s3: TLS client CA %s holds no PEM certificate", c.files.ClientCAFile)
		}
		conf.ClientCAs, conf.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return &certState{conf: conf, stamps: stamps}, nil
}

// Reload re-reads the files. On error the identity in use stays.
func (c *Certs) Reload() error {
	// The stamps of what failed are those of the files as read: taken
	// after the load, they would be those of a write that completed
	// the pair meanwhile (a renewal writes the certificate, then the
	// key), which Watch would then never load.
	stamps := c.stamps()
	st, err := c.load(stamps)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.mu.failed = stamps
		return err
	}
	c.mu.failed = nil
	c.cur.Store(st)
	return nil
}

// Watch reloads whenever a file's modification time or size changes,
// looking every interval (DefaultTLSReloadInterval when 0), until ctx
// ends. A failed reload is logged once per change of the files.
func (c *Certs) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultTLSReloadInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := c.stamps()
		c.mu.Lock()
		unchanged := slices.Equal(now, c.cur.Load().stamps) || slices.Equal(now, c.mu.failed)
		c.mu.Unlock()
		if unchanged {
			continue
		}
		if err := c.Reload(); err != nil {
			c.log.Warn("s3: TLS files changed but do not load; still serving the previous certificate", "err", err)
			continue
		}
		c.log.Info("s3: TLS certificate reloaded", "cert", c.files.CertFile)
	}
}

// loadedHook, when set (tests), runs once a load has read the key pair.
var loadedHook func()

// Leaf returns the certificate new connections get (for logs and tests).
func (c *Certs) Leaf() *x509.Certificate {
	return c.cur.Load().conf.Certificates[0].Leaf
}

// TLSConfig returns the server configuration: each handshake takes the
// identity loaded last.
func (c *Certs) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return c.cur.Load().conf, nil
		},
	}
}
