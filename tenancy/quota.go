package tenancy

import (
	"errors"
	"fmt"
)

// Quota is a tenant's (or container's) hard limits. 0 means unlimited.
type Quota struct {
	MaxBytes     int64 // stored bytes
	MaxArtifacts int64 // stored artifacts
	// MaxEgressBytesPerMonth bounds bytes served to clients in one
	// calendar month (UTC).
	MaxEgressBytesPerMonth int64
}

// Validate reports every negative limit at once.
func (q Quota) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{{"MaxBytes", q.MaxBytes}, {"MaxArtifacts", q.MaxArtifacts}, {"MaxEgressBytesPerMonth", q.MaxEgressBytesPerMonth}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s %d must be >= 0", ErrInvalidConfig, f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// Usage is stored figures. It has the fields of metastore.Usage, so node
// converts with tenancy.Usage(u) and this package imports nothing of ours.
type Usage struct {
	Bytes     int64
	Artifacts int64
}

// Resources named by QuotaError.
const (
	ResourceBytes       = "bytes"
	ResourceArtifacts   = "artifacts"
	ResourceMonthEgress = "egress bytes this month"
)

// QuotaError says which quota a request would exceed. It wraps
// ErrQuotaExceeded.
type QuotaError struct {
	Resource string // ResourceBytes, ResourceArtifacts or ResourceMonthEgress
	Limit    int64  // the quota
	Current  int64  // usage before the request
	Delta    int64  // what the request adds
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("tenancy: quota exceeded: %s: %d in use + %d requested > limit %d",
		e.Resource, e.Current, e.Delta, e.Limit)
}

// Unwrap makes errors.Is(err, ErrQuotaExceeded) true.
func (e *QuotaError) Unwrap() error { return ErrQuotaExceeded }

// CheckWrite decides whether a write changing stored usage by
// (deltaBytes, deltaArtifacts) is allowed given current usage cur. A new
// artifact passes (size, 1); an overwrite passes (newSize-oldSize, 0),
// which may be negative; a delete passes negative deltas.
//
// Per resource: a limit of 0 is unlimited; a delta <= 0 is always allowed
// (shrinking never fails, even when usage is already over a lowered
// quota); otherwise cur+delta must be <= limit. The result is a
// *QuotaError (bytes checked first) or nil.
func CheckWrite(q Quota, cur Usage, deltaBytes, deltaArtifacts int64) error {
	if err := check(ResourceBytes, q.MaxBytes, cur.Bytes, deltaBytes); err != nil {
		return err
	}
	return check(ResourceArtifacts, q.MaxArtifacts, cur.Artifacts, deltaArtifacts)
}

// CheckEgress decides whether serving n more bytes is allowed when
// monthEgress bytes were already served this calendar month, by the same
// rule as CheckWrite. A ranged GET passes the range length.
func CheckEgress(q Quota, monthEgress, n int64) error {
	return check(ResourceMonthEgress, q.MaxEgressBytesPerMonth, monthEgress, n)
}

func check(resource string, limit, cur, delta int64) error {
	if limit <= 0 || delta <= 0 {
		return nil
	}
	// cur+delta <= limit, written so it cannot overflow (delta > 0; a
	// negative usage, which the state machine never produces, counts as 0).
	if c := max(cur, 0); c <= limit && delta <= limit-c {
		return nil
	}
	return &QuotaError{Resource: resource, Limit: limit, Current: cur, Delta: delta}
}
