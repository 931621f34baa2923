package s3

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
)

// Defaults of Config. Each is the value a zero field gets.
const (
	// DefaultRegion signs requests when Config.Region is empty. Most
	// S3-compatible services accept any region; AWS and Lyve Cloud want
	// the bucket's own.
	DefaultRegion = "us-east-1"
	// DefaultPartSize: 8 MiB parts (the aws CLI's default). With
	// DefaultPartConcurrency it bounds a Put's memory to 32 MiB.
	DefaultPartSize = 8 << 20
	// DefaultMultipartThreshold: streams up to 16 MiB (plus 64 KiB) are
	// one PutObject, longer ones a multipart upload. A multipart upload
	// costs two more round trips (create, complete); below 16 MiB they
	// weigh more than the parallel parts win. The 64 KiB allowance is for
	// the tier blobs this driver mostly carries: a part of 16 MiB becomes
	// a blob of 16 MiB plus 32 bytes of block checksums per MiB, which a
	// round threshold would turn into three parts, the last of 512 bytes
	// (0.79x of the remote's own PUT of the same data, against 0.8x).
	DefaultMultipartThreshold = 16<<20 + 64<<10
	// DefaultPartConcurrency: parts of one Put in flight at once. Four
	// fill a fast link from a slow-to-answer remote without holding more
	// than 4 parts of memory per stream.
	DefaultPartConcurrency = 4
	// DefaultMaxAttempts: a request is tried at most 5 times (4 retries).
	DefaultMaxAttempts = 5
	// DefaultRetryBaseDelay and DefaultRetryMaxDelay shape the backoff:
	// before retry n the driver waits between d/2 and d, where
	// d = min(RetryMaxDelay, RetryBaseDelay * 2^(n-1)). With the defaults
	// and 5 attempts a request gives up after 1.5 to 3 seconds of waiting.
	DefaultRetryBaseDelay = 200 * time.Millisecond
	DefaultRetryMaxDelay  = 10 * time.Second
	// DefaultDialTimeout bounds connecting (TCP and TLS handshake).
	DefaultDialTimeout = 10 * time.Second
	// DefaultIdleTimeout: a connection that moves no byte in either
	// direction for 30 s (a hung remote, a stalled body) fails the request,
	// which is then retried. It must exceed the longest time the remote
	// thinks before answering (writing a part to disk).
	DefaultIdleTimeout = 30 * time.Second
)

// Limits of the S3 protocol the configuration must respect.
const (
	// MinPartSize is S3's minimum size of every part but the last.
	MinPartSize = 5 << 20
	// MaxPartSize is S3's maximum part size.
	MaxPartSize = 5 << 30
	// MaxParts is S3's maximum number of parts of one upload, so the
	// largest object a Put can store is MaxParts * PartSize (78 GiB with
	// the default part size). A longer stream fails with ErrTooLarge.
	MaxParts = 10000
	// MaxKeyLength is S3's limit on a key: Prefix plus the name.
	MaxKeyLength = 1024
	// maxPartConcurrency caps PartConcurrency (a typo of 1000 would pin
	// 1000 parts of memory per stream).
	maxPartConcurrency = 64
)

// Style says how requests address the bucket.
type Style string

const (
	// StyleAuto (the zero value): virtual-hosted style for AWS endpoints
	// (*.amazonaws.com), path style for every other endpoint. Path style
	// works with every S3-compatible service (Lyve Cloud, Wasabi, MinIO,
	// versitygw, Vaultaire) without wildcard DNS; AWS prefers virtual-hosted.
	StyleAuto Style = ""
	// StylePath: https://endpoint/bucket/key.
	StylePath Style = "path"
	// StyleVirtualHosted: https://bucket.endpoint/key (the bucket name must
	// be a DNS label sequence, and the endpoint must not be an IP address).
	StyleVirtualHosted Style = "virtual"
)

// Config configures a Driver. Endpoint, Bucket, AccessKey and SecretKey are
// required; every other field has a documented default. The driver reads
// no AWS_* environment variable and no shared AWS config file: everything
// comes from here.
//
// The credentials need, on the bucket: s3:ListBucket (List, Check, and
// telling a missing bucket from a missing object), s3:GetObject,
// s3:PutObject (which covers multipart uploads), s3:DeleteObject,
// s3:AbortMultipartUpload and s3:ListMultipartUploadParts, and for
// AbortIncomplete s3:ListBucketMultipartUploads.
type Config struct {
	// Endpoint is the service URL: scheme, host, optional port, for example
	// "https://s3.us-east-1.lyvecloud.seagate.com",
	// "https://s3.eu-west-1.amazonaws.com", "https://s3.wasabisys.com" or
	// "http://10.0.0.5:9000".
	Endpoint string
	// Region signs requests. Default DefaultRegion.
	Region string
	// Bucket holds the objects. It must exist; the driver never creates
	// or deletes buckets. Give the bucket no versioning (a delete would
	// only hide the bytes) and, as a safety net, a lifecycle rule that
	// aborts incomplete multipart uploads after a day or two.
	Bucket string
	// Prefix is prepended to every name, with a "/" between, so several
	// users share a bucket: Prefix "tier1" stores name "ab/x" under key
	// "tier1/ab/x". It follows drivers.ValidName (slashes inside are
	// fine; a trailing slash is dropped). Empty: names are the keys.
	Prefix string
	// AccessKey and SecretKey sign every request (SigV4).
	AccessKey, SecretKey string
	// Style addresses the bucket; default StyleAuto.
	Style Style
	// CAFile names a PEM file of CA certificates trusted, in addition to
	// the system's, for an https endpoint with a private CA.
	CAFile string

	// PartSize is the size of every multipart part but the last; also
	// the unit of buffering. Between MinPartSize and MaxPartSize; default
	// DefaultPartSize.
	PartSize int64
	// MultipartThreshold: a stream of at most this many bytes is stored
	// with one PutObject, a longer one as a multipart upload. At most
	// PartSize * PartConcurrency (the single PUT is buffered in part
	// buffers); default DefaultMultipartThreshold, cut to that maximum.
	MultipartThreshold int64
	// PartConcurrency is how many parts of one Put are uploaded at once,
	// and so how many part buffers one Put may hold. 1 to 64; default
	// DefaultPartConcurrency.
	PartConcurrency int

	// MaxAttempts is how often one request is tried (1 = no retry).
	// Default DefaultMaxAttempts.
	MaxAttempts int
	// RetryBaseDelay and RetryMaxDelay shape the backoff between attempts
	// (see DefaultRetryBaseDelay). Defaults DefaultRetryBaseDelay,
	// DefaultRetryMaxDelay.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// DialTimeout bounds a TCP connect and a TLS handshake. Default
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// IdleTimeout fails a request whose connection moves no byte for this
	// long (see DefaultIdleTimeout). Overall deadlines come from the
	// caller's context. Default DefaultIdleTimeout.
	IdleTimeout time.Duration

	// OpaqueETags says the remote's ETags are not MD5 digests of the
	// content (AWS with SSE-KMS or SSE-C, gateways configured for other
	// ETags). By default (false) the driver checks every ETag the remote
	// returns against the MD5 it computed itself, and verifies full reads
	// against the stored ETag; with OpaqueETags it does neither and relies
	// on Content-MD5, which the remote still checks on upload.
	OpaqueETags bool

	// Logger receives the driver's events (abandoned uploads it could not
	// abort, retries at debug level); nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.PartConcurrency == 0 {
		c.PartConcurrency = DefaultPartConcurrency
	}
	if c.MultipartThreshold == 0 {
		c.MultipartThreshold = min(DefaultMultipartThreshold, c.PartSize*int64(c.PartConcurrency))
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RetryBaseDelay == 0 {
		c.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if c.RetryMaxDelay == 0 {
		c.RetryMaxDelay = DefaultRetryMaxDelay
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	c.Prefix = strings.TrimSuffix(c.Prefix, "/")
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of the configuration at once (after
// defaults are applied, so zero fields are fine). It reads CAFile.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("s3: Config."+format, args...))
	}

	u, uerr := url.Parse(c.Endpoint)
	switch {
	case c.Endpoint == "":
		bad("Endpoint is empty")
	case uerr != nil:
		bad("Endpoint %q: %v", c.Endpoint, uerr)
	case u.Scheme != "http" && u.Scheme != "https":
		bad("Endpoint %q: scheme must be http or https", c.Endpoint)
	case u.Host == "" || u.Hostname() == "":
		bad("Endpoint %q has no host", c.Endpoint)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		bad("Endpoint %q: only scheme, host, port and path are allowed", c.Endpoint)
	}
	if strings.ContainsAny(c.Region, " /\x00\n") {
		bad("Region %q is not a region name", c.Region)
	}
	switch {
	case c.Bucket == "":
		bad("Bucket is empty")
	case len(c.Bucket) < 3 || len(c.Bucket) > 255 || strings.ContainsAny(c.Bucket, "/\\ ?#%\x00\n\r\t"):
		bad("Bucket %q is not a bucket name", c.Bucket)
	}
	if c.Prefix != "" && !drivers.ValidName(c.Prefix) {
		bad("Prefix %q: must be a clean relative name (no leading slash, no empty, . or .. segments)", c.Prefix)
	}
	if len(c.Prefix) >= MaxKeyLength/2 {
		bad("Prefix is %d bytes; keep it well under the %d-byte key limit", len(c.Prefix), MaxKeyLength)
	}
	if c.AccessKey == "" {
		bad("AccessKey is empty")
	}
	if c.SecretKey == "" {
		bad("SecretKey is empty")
	}
	switch c.Style {
	case StyleAuto, StylePath:
	case StyleVirtualHosted:
		if uerr == nil && u != nil && net.ParseIP(u.Hostname()) != nil {
			bad("Style virtual needs a DNS endpoint, not the IP address %q", u.Hostname())
		}
		if !dnsBucket(c.Bucket) {
			bad("Style virtual needs a bucket name that is a DNS name (lowercase letters, digits, '-' and '.'), not %q", c.Bucket)
		}
	default:
		bad("Style %q: want %q, %q or empty (auto)", c.Style, StylePath, StyleVirtualHosted)
	}
	if c.CAFile != "" {
		if _, err := loadCAs(c.CAFile); err != nil {
			bad("CAFile: %v", err)
		}
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		bad("PartSize %d is outside [%d, %d] (S3's part limits)", c.PartSize, MinPartSize, MaxPartSize)
	}
	if c.PartConcurrency < 1 || c.PartConcurrency > maxPartConcurrency {
		bad("PartConcurrency %d is outside [1, %d]", c.PartConcurrency, maxPartConcurrency)
	}
	if c.MultipartThreshold < 0 || (c.PartSize > 0 && c.PartConcurrency > 0 &&
		c.MultipartThreshold > c.PartSize*int64(c.PartConcurrency)) {
		bad("MultipartThreshold %d is outside [1, PartSize*PartConcurrency = %d] (0 means the default)",
			c.MultipartThreshold, c.PartSize*int64(max(c.PartConcurrency, 0)))
	}
	if c.MaxAttempts < 1 {
		bad("MaxAttempts %d: must be at least 1", c.MaxAttempts)
	}
	if c.RetryBaseDelay < 0 || c.RetryMaxDelay < 0 || c.RetryMaxDelay < c.RetryBaseDelay {
		bad("RetryBaseDelay %v and RetryMaxDelay %v: want 0 <= base <= max", c.RetryBaseDelay, c.RetryMaxDelay)
	}
	if c.DialTimeout < 0 {
		bad("DialTimeout %v is negative", c.DialTimeout)
	}
	if c.IdleTimeout < 0 {
		bad("IdleTimeout %v is negative", c.IdleTimeout)
	}
	return errors.Join(errs...)
}

// loadCAs returns the system roots plus the certificates of the PEM file.
func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// dnsBucket reports whether bucket can be the first labels of a host name
// (S3's rules for virtual-hosted buckets).
func dnsBucket(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 || net.ParseIP(bucket) != nil {
		return false
	}
	for _, label := range strings.Split(bucket, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// pathStyle resolves Style for the endpoint.
func (c Config) pathStyle() bool {
	switch c.Style {
	case StylePath:
		return true
	case StyleVirtualHosted:
		return false
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return true
	}
	host := strings.ToLower(u.Hostname())
	return !(strings.HasSuffix(host, ".amazonaws.com") && dnsBucket(c.Bucket))
}
