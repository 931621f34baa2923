package tenancy

import "errors"

// Errors returned by this package. Wrapped errors keep these as their
// cause; test with errors.Is.
var (
	// ErrQuotaExceeded means a write or a read would take a tenant past
	// one of its quotas. The returned error is a *QuotaError naming the
	// limit; the s3 edge's error table picks the S3 code for it.
	ErrQuotaExceeded = errors.New("tenancy: quota exceeded")

	// ErrRateLimited means a tenant is over its request or bandwidth
	// limit and the caller cannot wait (for example the context deadline
	// is sooner than the next free token). The s3 edge maps it to
	// 503 SlowDown.
	ErrRateLimited = errors.New("tenancy: rate limit exceeded")

	// ErrInvalidConfig means a LimiterConfig, Limit or Quota holds a value
	// that cannot be meant (negative, NaN, infinite).
	ErrInvalidConfig = errors.New("tenancy: invalid configuration")

	// ErrBadRecord means a usage export (CSV or JSON) could not be parsed
	// back into Hour records.
	ErrBadRecord = errors.New("tenancy: bad usage record")
)
