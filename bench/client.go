package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// newHTTPTransport builds the transport of a run: keep-alive connections
// for every worker (and every part of every worker's multipart upload) so
// connection setup does not count against the server, no transparent
// compression (content is incompressible and must arrive as sent),
// HTTP/1.1 like every S3 SDK. Over TLS a session cache makes a reconnect
// (after a refusal closed the connection, say) an abbreviated handshake,
// as the SDKs' own TLS stacks do, rather than a full one.
func newHTTPTransport(cfg Config) (*http.Transport, error) {
	conns := cfg.Concurrency*max(cfg.PartConcurrency, 1) + 8
	tlsCfg := &tls.Config{ //nolint:gosec // InsecureSkipVerify only when asked for with --insecure
		InsecureSkipVerify: cfg.Insecure,
		ClientSessionCache: tls.NewLRUClientSessionCache(conns),
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA file: %v", ErrBadConfig, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrBadConfig, cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	protos := new(http.Protocols)
	protos.SetHTTP1(true) // over TLS too: no HTTP/2, whatever the defaults
	return &http.Transport{
		Protocols:             protos,
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}, nil
}

// newS3Client builds the SDK client of a run. Retries are off unless asked
// for, checksums are computed only when an operation requires one, and
// bodies are sent as UNSIGNED-PAYLOAD unless cfg.SignPayload: the client's
// own SHA-256 and CRC work would otherwise be measured as server latency.
// With cfg.ExtraEndpoints, requests go round-robin over all endpoints.
func newS3Client(cfg Config, hc *http.Client) *s3.Client {
	opts := s3.Options{
		Region:                     cfg.Region,
		Credentials:                credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		BaseEndpoint:               aws.String(cfg.Endpoint),
		UsePathStyle:               cfg.PathStyle,
		HTTPClient:                 hc,
		Logger:                     logging.Nop{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Checksums {
		opts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
		opts.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
	}
	if cfg.Retries > 0 {
		opts.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), cfg.Retries+1)
	} else {
		opts.Retryer = aws.NopRetryer{}
	}
	if !cfg.SignPayload {
		opts.APIOptions = append(opts.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
	if all := cfg.endpoints(); len(all) > 1 {
		opts.EndpointResolverV2 = &roundRobinResolver{endpoints: all, inner: s3.NewDefaultEndpointResolverV2()}
	}
	return s3.New(opts)
}

// roundRobinResolver resolves each request to the next of several
// endpoints of one store in turn. The request is signed after it is
// resolved, so each is signed for the host it goes to.
type roundRobinResolver struct {
	endpoints []string
	inner     s3.EndpointResolverV2
	next      atomic.Uint64
}

func (r *roundRobinResolver) ResolveEndpoint(ctx context.Context, p s3.EndpointParameters) (smithyendpoints.Endpoint, error) {
	i := (r.next.Add(1) - 1) % uint64(len(r.endpoints))
	p.Endpoint = aws.String(r.endpoints[i])
	return r.inner.ResolveEndpoint(ctx, p)
}

// Error kinds that are not S3 error codes.
const (
	kindVerifyMismatch = "VerifyMismatch"
	kindVerifySize     = "VerifySize"
	kindVerifyList     = "VerifyList"
	kindNotRefused     = "NotRefused"
	kindTimeout        = "Timeout"
	kindCanceled       = "Canceled"
)

// isVerifyKind reports whether an error kind is a verification failure.
func isVerifyKind(kind string) bool {
	return kind == kindVerifyMismatch || kind == kindVerifySize || kind == kindVerifyList
}

// ErrorKind classifies an operation's error for the report: a
// verification failure (VerifyMismatch, VerifySize, VerifyList), Timeout
// (the op timeout), Canceled, the S3 error code the server answered
// (NoSuchKey, SlowDown, InternalError, ...), HTTP<status> when the answer
// had no code, or a network error class (net:refused, net:reset,
// net:timeout, net:eof, net:tls, net:dns, net:<op>), or "other".
func ErrorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrVerifyMismatch):
		return kindVerifyMismatch
	case errors.Is(err, ErrVerifySize):
		return kindVerifySize
	case errors.Is(err, ErrVerifyList):
		return kindVerifyList
	case errors.Is(err, ErrNotRefused):
		return kindNotRefused
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" {
		return apiErr.ErrorCode()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return kindTimeout
	case errors.Is(err, context.Canceled):
		return kindCanceled
	case errors.Is(err, syscall.ECONNREFUSED):
		return "net:refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "net:reset"
	case errors.Is(err, syscall.EPIPE):
		return "net:broken-pipe"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "net:eof"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "net:dns"
	}
	var (
		certErr  *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		unkAuth  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		alertErr tls.AlertError
	)
	if errors.As(err, &certErr) || errors.As(err, &recErr) || errors.As(err, &unkAuth) ||
		errors.As(err, &hostErr) || errors.As(err, &alertErr) {
		return "net:tls"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "net:timeout"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "net:" + opErr.Op
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.Response != nil && respErr.HTTPStatusCode() > 0 {
		return "HTTP" + strconv.Itoa(respErr.HTTPStatusCode())
	}
	return "other"
}
