package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/vaultaire/vaultaire/drivers"
)

var _ drivers.Driver = (*Driver)(nil)

// Errors of the remote driver, beside the drivers sentinels it returns. An
// error that says the remote refuses us also matches drivers.ErrUnavailable
// (errors.Is is true for both), so code above drivers, which cannot name
// this package, still sees "the store is down".
var (
	// ErrAccessDenied: the remote refused the credentials or the
	// permission (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied,
	// any 403). Also matches drivers.ErrUnavailable.
	ErrAccessDenied = errors.New("s3: access denied")
	// ErrNoSuchBucket: the configured bucket does not exist. Also matches
	// drivers.ErrUnavailable.
	ErrNoSuchBucket = errors.New("s3: no such bucket")
	// ErrTooLarge: the stream is longer than MaxParts * PartSize.
	ErrTooLarge = errors.New("s3: object too large for the part size")
	// ErrClosed: the Driver was closed.
	ErrClosed = errors.New("s3: driver closed")
)

// partSizeMeta is the user metadata key (x-amz-meta-vaultaire-part-size)
// that records the part size of a multipart upload, so a full read can
// recompute the multipart ETag (see the package comment).
const partSizeMeta = "vaultaire-part-size"

// abortTimeout bounds the clean-up (AbortMultipartUpload) of a failed Put,
// which runs even when the caller's context is already done.
const abortTimeout = 30 * time.Second

// Driver is a drivers.Driver over one bucket (and key prefix) of an
// S3-compatible service. It is safe for concurrent use. Create it with New;
// Close releases its connections.
type Driver struct {
	cfg     Config
	prefix  string // cfg.Prefix + "/", or ""
	client  *awss3.Client
	tr      *http.Transport
	retryer aws.Retryer
	closed  atomic.Bool

	// parts holds PartSize buffers shared by all Puts; each Put takes at
	// most PartConcurrency of them at a time (see put.go).
	parts sync.Pool

	stats struct {
		retries, resumes, corrupt, abandoned atomic.Int64
	}
}

// Stats are counters of the driver's life, for metrics and tests.
type Stats struct {
	// Retries: request attempts repeated after a transient failure.
	Retries int64
	// Resumes: reads that lost their connection mid-body and continued
	// with a new ranged request (If-Match the same ETag).
	Resumes int64
	// Corrupt: full reads whose bytes did not match the ETag.
	Corrupt int64
	// Abandoned: multipart uploads of failed Puts that could not be
	// aborted (they are garbage on the remote until AbortIncomplete or a
	// bucket lifecycle rule removes them).
	Abandoned int64
}

// New returns a driver for cfg. It does no I/O: call Check to learn
// whether the endpoint, credentials and bucket work.
func New(cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	hc, tr, err := newHTTPClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	d := &Driver{cfg: cfg, tr: tr}
	if cfg.Prefix != "" {
		d.prefix = cfg.Prefix + "/"
	}
	d.retryer = newRetryer(cfg, &d.stats.retries)
	d.client = awss3.New(awss3.Options{
		BaseEndpoint: aws.String(strings.TrimSuffix(cfg.Endpoint, "/")),
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		UsePathStyle: cfg.pathStyle(),
		HTTPClient:   hc,
		Retryer:      d.retryer,
		// Checksums are the driver's business: Content-MD5 on every upload
		// (every S3 implementation checks it) and ETag checks on reads. The
		// SDK's optional CRC trailers need aws-chunked uploads that not
		// every S3-compatible service accepts.
		RequestChecksumCalculation:                aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation:                aws.ResponseChecksumValidationWhenRequired,
		DisableLogOutputChecksumValidationSkipped: true,
		ContinueHeaderThresholdBytes:              -1,
		DisableS3ExpressSessionAuth:               aws.Bool(true),
	})
	size := cfg.PartSize
	d.parts.New = func() any { b := make([]byte, size); return &b }
	return d, nil
}

// Config returns the driver's configuration with defaults applied.
func (d *Driver) Config() Config { return d.cfg }

// Stats returns the driver's counters.
func (d *Driver) Stats() Stats {
	return Stats{
		Retries:   d.stats.retries.Load(),
		Resumes:   d.stats.resumes.Load(),
		Corrupt:   d.stats.corrupt.Load(),
		Abandoned: d.stats.abandoned.Load(),
	}
}

// Close closes idle connections; calls after Close fail with ErrClosed.
// Close is idempotent.
func (d *Driver) Close() error {
	d.closed.Store(true)
	d.tr.CloseIdleConnections()
	return nil
}

// Check verifies that the endpoint answers, the credentials are accepted
// and the bucket exists, with one ListObjectsV2 under the prefix (the
// permission the driver needs anyway, and unlike HEAD its errors carry a
// code: a wrong key and a missing bucket are told apart). Tier set-up
// should also round-trip an object (Put, Open, Delete).
func (d *Driver) Check(ctx context.Context) error {
	if err := d.begin(ctx, "check", ""); err != nil {
		return err
	}
	_, err := d.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket:  aws.String(d.cfg.Bucket),
		Prefix:  aws.String(d.prefix),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return fmt.Errorf("%w (endpoint %s, region %s)", d.mapErr(ctx, "check", "", err), d.cfg.Endpoint, d.cfg.Region)
	}
	return nil
}

// key is the remote key of name.
func (d *Driver) key(name string) string { return d.prefix + name }

// where names an object in messages: s3://bucket/key.
func (d *Driver) where(name string) string {
	return "s3://" + d.cfg.Bucket + "/" + d.key(name)
}

// begin checks what every call checks first: an open driver and a live
// context. what names the call's subject in the error.
func (d *Driver) begin(ctx context.Context, op, what string) error {
	if d.closed.Load() {
		return fmt.Errorf("s3: %s %q: %w", op, what, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: %s %q: %w", op, what, err)
	}
	return nil
}

// beginName is begin for a call on one object: the name must be valid
// and its key within S3's length limit.
func (d *Driver) beginName(ctx context.Context, op, name string) error {
	if !drivers.ValidName(name) {
		return fmt.Errorf("s3: %s %q: %w", op, name, drivers.ErrInvalidName)
	}
	if len(d.key(name)) > MaxKeyLength {
		return fmt.Errorf("s3: %s %q: key of %d bytes exceeds S3's %d: %w",
			op, name, len(d.key(name)), MaxKeyLength, drivers.ErrInvalidName)
	}
	return d.begin(ctx, op, name)
}

// statusOf returns the HTTP status of an SDK error, 0 if it has none.
func statusOf(err error) int {
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		return se.HTTPStatusCode()
	}
	return 0
}

// codeOf returns the S3 error code of an SDK error, "" if it has none.
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// mapErr turns an SDK error into the driver's: the caller's context error
// when the context ended, otherwise one of the drivers sentinels (wrapping
// the SDK error too, for errors.As) or the SDK error with the object named.
func (d *Driver) mapErr(ctx context.Context, op, name string, err error) error {
	what := d.where(name)
	if name == "" {
		what = "s3://" + d.cfg.Bucket + "/" + d.prefix
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("s3: %s %s: %w", op, what, cerr)
	}
	code, status := codeOf(err), statusOf(err)
	var sentinel error
	hint := ""
	switch {
	case code == "NoSuchBucket":
		sentinel, hint = fmt.Errorf("%w (%w)", ErrNoSuchBucket, drivers.ErrUnavailable), "bucket "+d.cfg.Bucket+" does not exist"
	case code == "NoSuchKey" || (status == http.StatusNotFound && (code == "" || code == "NotFound")):
		sentinel = drivers.ErrNotFound
	case code == "QuotaExceeded":
		sentinel = drivers.ErrFull
	case code == "KeyTooLongError":
		sentinel = drivers.ErrInvalidName
	case code == "ObjectParentIsFile" || code == "ExistingObjectIsDirectory":
		// File-system gateways (versitygw's posix backend) cannot hold
		// both "a" and "a/b"; the drivers contract calls that an
		// invalid name.
		sentinel, hint = drivers.ErrInvalidName, "the remote stores keys as files and cannot hold both a name and a name below it"
	case code == "InvalidAccessKeyId":
		sentinel, hint = fmt.Errorf("%w (%w)", ErrAccessDenied, drivers.ErrUnavailable), "the access key is unknown to the remote"
	case code == "SignatureDoesNotMatch":
		sentinel, hint = fmt.Errorf("%w (%w)", ErrAccessDenied, drivers.ErrUnavailable), "the secret key does not match the access key"
	case code == "AccessDenied" || status == http.StatusForbidden:
		sentinel, hint = fmt.Errorf("%w (%w)", ErrAccessDenied, drivers.ErrUnavailable), "check the credentials and their permissions on the bucket"
	case code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || status == http.StatusMovedPermanently:
		sentinel, hint = drivers.ErrUnavailable, "the bucket is in another region or at another endpoint; check Region and Endpoint"
	case isTransient(d.retryer, err) || isMaxAttempts(err):
		sentinel = drivers.ErrUnavailable
	}
	if hint != "" {
		hint = " (" + hint + ")"
	}
	if sentinel == nil {
		return fmt.Errorf("s3: %s %s%s: %w", op, what, hint, err)
	}
	return fmt.Errorf("s3: %s %s%s: %w: %w", op, what, hint, sentinel, err)
}

func isMaxAttempts(err error) bool {
	var me *retry.MaxAttemptsError
	return errors.As(err, &me)
}

// notFound reports whether a HEAD answered 404. HEAD responses have no
// body, so a missing bucket looks like a missing key: the caller asks the
// bucket before it says ErrNotFound.
func notFound(err error) bool {
	return statusOf(err) == http.StatusNotFound && codeOf(err) != "NoSuchBucket"
}

// headObject is HeadObject with the missing-bucket case told apart.
func (d *Driver) headObject(ctx context.Context, op, name string) (*awss3.HeadObjectOutput, error) {
	out, err := d.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(d.cfg.Bucket),
		Key:    aws.String(d.key(name)),
	})
	if err == nil {
		return out, nil
	}
	if notFound(err) && ctx.Err() == nil {
		// Only a bucket known to exist makes the 404 a missing object:
		// a caller told ErrNotFound may conclude the bytes are gone.
		if cerr := d.Check(ctx); cerr != nil {
			return nil, fmt.Errorf("s3: %s %s: %w", op, d.where(name), cerr)
		}
	}
	return nil, d.mapErr(ctx, op, name, err)
}

// Stat implements drivers.Driver with one HeadObject.
func (d *Driver) Stat(ctx context.Context, name string) (drivers.Info, error) {
	if err := d.beginName(ctx, "stat", name); err != nil {
		return drivers.Info{}, err
	}
	out, err := d.headObject(ctx, "stat", name)
	if err != nil {
		return drivers.Info{}, err
	}
	return drivers.Info{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete implements drivers.Driver. S3's DeleteObject succeeds on a missing
// key, so Delete asks with HeadObject first (two requests): a delete of a
// missing name is ErrNotFound, as the contract says.
func (d *Driver) Delete(ctx context.Context, name string) error {
	if err := d.beginName(ctx, "delete", name); err != nil {
		return err
	}
	if _, err := d.headObject(ctx, "delete", name); err != nil {
		return err
	}
	_, err := d.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(d.cfg.Bucket),
		Key:    aws.String(d.key(name)),
	})
	if err != nil {
		return d.mapErr(ctx, "delete", name, err)
	}
	return nil
}

// List implements drivers.Driver with ListObjectsV2 pages of up to 1000
// keys under Prefix+prefix, in the remote's order (S3 lists keys in
// byte-wise order of their UTF-8 bytes, which is the order the contract
// asks for). Keys under the prefix that are not valid names (a "dir/"
// marker someone made, "a//b") are skipped. fn runs between pages without
// any lock, so it may call the driver.
func (d *Driver) List(ctx context.Context, prefix string, fn func(drivers.Info) error) error {
	if !drivers.ValidPrefix(prefix) {
		return fmt.Errorf("s3: list %q: %w", prefix, drivers.ErrInvalidName)
	}
	if err := d.begin(ctx, "list", prefix); err != nil {
		return err
	}
	p := awss3.NewListObjectsV2Paginator(d.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(d.cfg.Bucket),
		Prefix: aws.String(d.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return d.mapErr(ctx, "list", prefix, err)
		}
		for _, o := range page.Contents {
			name, ok := strings.CutPrefix(aws.ToString(o.Key), d.prefix)
			if !ok || !drivers.ValidName(name) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("s3: list %q: %w", prefix, err)
			}
			if err := fn(drivers.Info{Name: name, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Usage implements drivers.Driver. A remote's capacity is unknown (Total,
// Free and Used are 0); Online is the result of Check, with the failure in
// Err, so Usage is the driver's health probe (one request per call). Only
// a cancelled context is returned as an error.
func (d *Driver) Usage(ctx context.Context) (drivers.Usage, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Usage{}, fmt.Errorf("s3: usage: %w", err)
	}
	if err := d.Check(ctx); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return drivers.Usage{}, fmt.Errorf("s3: usage: %w", cerr)
		}
		return drivers.Usage{Online: false, Err: err}, nil
	}
	return drivers.Usage{Online: true}, nil
}

// AbortIncomplete aborts the multipart uploads under the driver's prefix
// that were started more than olderThan ago (uploads of Puts that crashed,
// or whose abort failed), and returns how many it aborted. Uploads of Puts
// still running are younger than any sensible olderThan (an hour or more).
func (d *Driver) AbortIncomplete(ctx context.Context, olderThan time.Duration) (int, error) {
	if err := d.begin(ctx, "abort-incomplete", ""); err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-olderThan)
	in := &awss3.ListMultipartUploadsInput{Bucket: aws.String(d.cfg.Bucket), Prefix: aws.String(d.prefix)}
	n := 0
	for {
		out, err := d.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, d.mapErr(ctx, "abort-incomplete", "", err)
		}
		for _, u := range out.Uploads {
			if u.Initiated != nil && u.Initiated.After(cutoff) {
				continue
			}
			_, err := d.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
				Bucket: aws.String(d.cfg.Bucket), Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil && codeOf(err) != "NoSuchUpload" {
				return n, d.mapErr(ctx, "abort-incomplete", strings.TrimPrefix(aws.ToString(u.Key), d.prefix), err)
			}
			n++
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
