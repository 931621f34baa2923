package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Errors of the bench package. Wrap with %w; test with errors.Is.
var (
	// ErrBadSize: a size or size range does not parse or is out of range.
	ErrBadSize = errors.New("bench: bad size")
	// ErrBadMix: an operation mix does not parse.
	ErrBadMix = errors.New("bench: bad mix")
	// ErrBadConfig: a Config fails Validate.
	ErrBadConfig = errors.New("bench: bad config")
	// ErrVerifyMismatch: a GET returned bytes that differ from what was written.
	ErrVerifyMismatch = errors.New("bench: content mismatch")
	// ErrVerifySize: a GET returned more or fewer bytes than were written.
	ErrVerifySize = errors.New("bench: content size mismatch")
	// ErrVerifyList: a listing returned other keys than were written.
	ErrVerifyList = errors.New("bench: listing mismatch")
	// ErrNotRefused: the refused workload's PUT to a missing bucket got
	// another answer than NoSuchBucket.
	ErrNotRefused = errors.New("bench: not refused")
	// ErrBadReport: a result file does not parse or has an unknown version.
	ErrBadReport = errors.New("bench: bad report")
	// ErrPrepare: writing the artifacts a workload reads failed.
	ErrPrepare = errors.New("bench: prepare failed")
)

// Workload names what a run measures.
type Workload string

// The workloads.
const (
	// WorkloadPut writes new artifacts.
	WorkloadPut Workload = "put"
	// WorkloadGet reads (and verifies) artifacts written before measuring.
	WorkloadGet Workload = "get"
	// WorkloadMixed runs GET/PUT/DELETE/STAT on a prepared key space in
	// the proportions of Config.Mix.
	WorkloadMixed Workload = "mixed"
	// WorkloadList pages through a prefix of Config.Keys prepared keys.
	WorkloadList Workload = "list"
	// WorkloadMultipart uploads artifacts in parts.
	WorkloadMultipart Workload = "multipart"
	// WorkloadRefused PUTs artifacts into a bucket that does not exist:
	// what a refusal costs (NoSuchBucket is the expected answer).
	WorkloadRefused Workload = "refused"
)

// Workloads lists every workload.
var Workloads = []Workload{WorkloadPut, WorkloadGet, WorkloadMixed, WorkloadList, WorkloadMultipart, WorkloadRefused}

// ParseWorkload reads a workload name.
func ParseWorkload(s string) (Workload, error) {
	for _, w := range Workloads {
		if string(w) == strings.ToLower(strings.TrimSpace(s)) {
			return w, nil
		}
	}
	return "", fmt.Errorf("%w: unknown workload %q (want put, get, mixed, list, multipart or refused)", ErrBadConfig, s)
}

// Defaults. They are what `vaultaire bench` uses when a flag is not given.
const (
	DefaultRegion          = "us-east-1"
	DefaultConcurrency     = 16
	DefaultDuration        = 30 * time.Second
	DefaultKeys            = 1000
	DefaultPartSize        = 8 << 20 // S3's minimum part is 5 MiB
	DefaultPartConcurrency = 4
	DefaultListPageSize    = 1000 // S3's maximum page
	DefaultOpTimeout       = 5 * time.Minute
	// minPartSize is S3's smallest allowed part (but the last).
	minPartSize = 5 << 20
	// maxParts is S3's largest part count of one upload.
	maxParts = 10000
)

// DefaultSize is the artifact size of a workload when none is given: 1 MiB
// for put, get and mixed; empty artifacts for list (only keys matter);
// 64 MiB for multipart.
func DefaultSize(w Workload) SizeSpec {
	switch w {
	case WorkloadList:
		return FixedSize(0)
	case WorkloadMultipart:
		return FixedSize(64 << 20)
	default:
		return FixedSize(1 << 20)
	}
}

// Config describes one run. Use DefaultConfig and change what differs.
type Config struct {
	// Endpoint is the S3 endpoint URL, "http(s)://host:port". Required.
	Endpoint string
	// ExtraEndpoints are more URLs of the same store, such as the other
	// nodes of a cluster. With any, requests go to Endpoint and these in
	// turn (round-robin per request), so the load spreads over all of them
	// and reads are checked against writes made through another node.
	ExtraEndpoints []string
	// Region signs requests (default DefaultRegion).
	Region string
	// AccessKey and SecretKey are the static credentials; SessionToken is
	// optional.
	AccessKey, SecretKey, SessionToken string
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key.
	PathStyle bool
	// Insecure skips TLS certificate verification.
	Insecure bool
	// CAFile is a PEM file of extra root certificates for TLS.
	CAFile string
	// SignPayload signs the SHA-256 of each body (costly on the client)
	// instead of sending UNSIGNED-PAYLOAD.
	SignPayload bool
	// Checksums lets the SDK compute and send CRC32 request checksums and
	// validate response checksums (off: only when an operation requires
	// one). Content is verified by the tool either way.
	Checksums bool
	// Retries is how many times the SDK retries a failed request (default
	// 0: a benchmark counts errors rather than hiding them).
	Retries int

	// Workload is what to measure (default put).
	Workload Workload
	// Mix weighs the ops of the mixed workload (default DefaultMix).
	Mix Mix
	// Size is the artifact size (default DefaultSize(Workload)).
	Size SizeSpec
	// Concurrency is the number of workers, each with one request in
	// flight (default DefaultConcurrency).
	Concurrency int
	// Duration bounds the measurement; Ops bounds the number of
	// operations. Whichever is reached first ends the run; when both are
	// zero Duration is DefaultDuration.
	Duration time.Duration
	Ops      int64
	// Keys is the number of artifacts written before measuring for get,
	// mixed and list (default DefaultKeys).
	Keys int
	// PartSize and PartConcurrency shape multipart uploads.
	PartSize        int64
	PartConcurrency int
	// ListPageSize is the max-keys of each ListObjectsV2 request.
	ListPageSize int
	// OpTimeout bounds each operation (default DefaultOpTimeout).
	OpTimeout time.Duration

	// Bucket is an existing bucket to use; empty creates
	// vaultaire-bench-<random> for the run and deletes it afterwards.
	Bucket string
	// Prefix is prepended to every key (default "bench-<run id>/").
	Prefix string
	// Keep leaves the artifacts (and a created bucket) in place.
	Keep bool
	// Seed makes content and choices reproducible; 0 picks one at random.
	Seed uint64

	// Logger receives progress of the phases (default: discard).
	Logger *slog.Logger
	// Progress, when not nil, receives a live status line about once a
	// second, rewritten in place with \r (give it a terminal).
	Progress io.Writer
	// ProgressInterval is how often the status line is refreshed
	// (default one second).
	ProgressInterval time.Duration
}

// DefaultConfig returns a Config with every default filled in except the
// endpoint and credentials.
func DefaultConfig() Config {
	return Config{
		Region:          DefaultRegion,
		Workload:        WorkloadPut,
		Mix:             DefaultMix(),
		Concurrency:     DefaultConcurrency,
		Keys:            DefaultKeys,
		PartSize:        DefaultPartSize,
		PartConcurrency: DefaultPartConcurrency,
		ListPageSize:    DefaultListPageSize,
		OpTimeout:       DefaultOpTimeout,
	}
}

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Region == "" {
		c.Region = d.Region
	}
	if c.Workload == "" {
		c.Workload = d.Workload
	}
	if c.Mix.Total() == 0 {
		c.Mix = d.Mix
	}
	if c.Size == (SizeSpec{}) {
		c.Size = DefaultSize(c.Workload)
	}
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Duration == 0 && c.Ops == 0 {
		c.Duration = DefaultDuration
	}
	if c.Keys == 0 {
		c.Keys = d.Keys
	}
	if c.PartSize == 0 {
		c.PartSize = d.PartSize
	}
	if c.PartConcurrency == 0 {
		c.PartConcurrency = d.PartConcurrency
	}
	if c.ListPageSize == 0 {
		c.ListPageSize = d.ListPageSize
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = d.OpTimeout
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of the config (after defaults are
// applied to zero fields) at once, joined, each wrapping ErrBadConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...))
	}
	if c.Endpoint == "" {
		bad("no endpoint")
	}
	for _, e := range c.endpoints() {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("endpoint %q: want http(s)://host[:port]", e)
		}
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		bad("no credentials (access key and secret key)")
	}
	if _, err := ParseWorkload(string(c.Workload)); err != nil {
		bad("unknown workload %q", c.Workload)
	}
	if err := c.Size.validate(); err != nil {
		bad("size: %v", err)
	}
	if c.Concurrency < 0 || c.Concurrency > 100000 {
		bad("concurrency %d: want 1..100000", c.Concurrency)
	}
	if c.Duration < 0 {
		bad("negative duration")
	}
	if c.Ops < 0 {
		bad("negative op count")
	}
	if c.Keys < 0 || c.Keys > 100_000_000 {
		bad("keys %d: want 1..100000000", c.Keys)
	}
	if c.Retries < 0 {
		bad("negative retries")
	}
	if c.Workload == WorkloadMultipart {
		if c.PartSize < minPartSize {
			bad("part size %s is below S3's minimum of 5MiB", FormatSize(c.PartSize))
		}
		if c.Size.Min <= c.PartSize {
			bad("multipart: size %s must be larger than the part size %s", c.Size, FormatSize(c.PartSize))
		}
		if c.Size.Max > c.PartSize*maxParts {
			bad("size %s needs more than %d parts of %s", FormatSize(c.Size.Max), maxParts, FormatSize(c.PartSize))
		}
	}
	if c.Workload == WorkloadMixed && c.Mix.Weight(OpDelete) > 0 && c.Mix.Weight(OpPut) == 0 {
		bad("mix %s deletes but never puts: the key space would run dry", c.Mix)
	}
	if c.PartConcurrency < 0 {
		bad("negative part concurrency")
	}
	if c.ListPageSize < 0 || c.ListPageSize > 1000 {
		bad("list page size %d: want 1..1000", c.ListPageSize)
	}
	if c.OpTimeout < 0 {
		bad("negative op timeout")
	}
	if c.Bucket != "" && !validBucketName(c.Bucket) {
		bad("bucket %q is not a valid bucket name", c.Bucket)
	}
	return errors.Join(errs...)
}

// endpoints returns Endpoint (when set) followed by ExtraEndpoints.
func (c Config) endpoints() []string {
	var all []string
	if c.Endpoint != "" {
		all = append(all, c.Endpoint)
	}
	return append(all, c.ExtraEndpoints...)
}

// validBucketName applies S3's bucket naming rules (3-63 of a-z 0-9 . -,
// starting and ending with a letter or digit).
func validBucketName(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && c != '.' && c != '-' {
			return false
		}
		if (i == 0 || i == len(s)-1) && !alnum {
			return false
		}
	}
	return true
}
