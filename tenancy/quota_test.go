package tenancy

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckWrite(t *testing.T) {
	q := Quota{MaxBytes: 100, MaxArtifacts: 10}
	for _, tc := range []struct {
		name     string
		q        Quota
		cur      Usage
		dB, dA   int64
		resource string // "" = allowed
	}{
		{"empty store, small write", q, Usage{}, 1, 1, ""},
		{"bytes exactly at limit", q, Usage{Bytes: 60, Artifacts: 1}, 40, 1, ""},
		{"bytes one past limit", q, Usage{Bytes: 60, Artifacts: 1}, 41, 1, ResourceBytes},
		{"single write of the whole quota", q, Usage{}, 100, 1, ""},
		{"single write one past", q, Usage{}, 101, 1, ResourceBytes},
		{"artifacts exactly at limit", q, Usage{Artifacts: 9}, 0, 1, ""},
		{"artifacts one past", q, Usage{Artifacts: 10}, 0, 1, ResourceArtifacts},
		{"both exceeded reports bytes", q, Usage{Bytes: 100, Artifacts: 10}, 1, 1, ResourceBytes},
		{"overwrite growing within", q, Usage{Bytes: 90, Artifacts: 10}, 10, 0, ""},
		{"overwrite growing past", q, Usage{Bytes: 90, Artifacts: 10}, 11, 0, ResourceBytes},
		{"overwrite shrinking", q, Usage{Bytes: 100, Artifacts: 10}, -50, 0, ""},
		{"delete", q, Usage{Bytes: 100, Artifacts: 10}, -100, -1, ""},
		{"shrink while over a lowered quota", q, Usage{Bytes: 500, Artifacts: 50}, -1, 0, ""},
		{"same-size overwrite while over", q, Usage{Bytes: 500, Artifacts: 50}, 0, 0, ""},
		{"grow while over a lowered quota", q, Usage{Bytes: 500, Artifacts: 5}, 1, 0, ResourceBytes},
		{"unlimited bytes", Quota{MaxArtifacts: 10}, Usage{Bytes: math.MaxInt64 - 1}, 1, 1, ""},
		{"unlimited artifacts", Quota{MaxBytes: 100}, Usage{Artifacts: 1 << 40}, 0, 1, ""},
		{"unlimited all", Quota{}, Usage{Bytes: 1 << 60, Artifacts: 1 << 60}, 1 << 60, 1, ""},
		{"huge delta does not overflow", q, Usage{Bytes: 50}, math.MaxInt64, 0, ResourceBytes},
		{"huge usage and limit", Quota{MaxBytes: math.MaxInt64}, Usage{Bytes: math.MaxInt64 - 1}, 1, 0, ""},
		{"huge usage and limit, one past", Quota{MaxBytes: math.MaxInt64}, Usage{Bytes: math.MaxInt64}, 1, 0, ResourceBytes},
		{"negative usage counts as 0", q, Usage{Bytes: math.MinInt64}, 100, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWrite(tc.q, tc.cur, tc.dB, tc.dA)
			if tc.resource == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrQuotaExceeded) {
				t.Fatalf("got %v, want ErrQuotaExceeded", err)
			}
			var qe *QuotaError
			if !errors.As(err, &qe) || qe.Resource != tc.resource {
				t.Fatalf("got %#v, want resource %q", err, tc.resource)
			}
			if !strings.Contains(err.Error(), tc.resource) {
				t.Fatalf("message %q does not name %q", err, tc.resource)
			}
		})
	}
}

func TestQuotaErrorMessage(t *testing.T) {
	err := CheckWrite(Quota{MaxBytes: 100}, Usage{Bytes: 60}, 41, 1)
	want := "tenancy: quota exceeded: bytes: 60 in use + 41 requested > limit 100"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestCheckEgress(t *testing.T) {
	q := Quota{MaxEgressBytesPerMonth: 1000}
	for _, tc := range []struct {
		q        Quota
		month, n int64
		ok       bool
	}{
		{q, 0, 1000, true},
		{q, 0, 1001, false},
		{q, 999, 1, true},
		{q, 1000, 1, false},
		{q, 1000, 0, true},
		{q, 5000, -1, true},
		{Quota{}, math.MaxInt64, math.MaxInt64, true},
		{q, 1, math.MaxInt64, false},
	} {
		err := CheckEgress(tc.q, tc.month, tc.n)
		if tc.ok != (err == nil) {
			t.Errorf("CheckEgress(%+v, %d, %d) = %v, want ok=%v", tc.q, tc.month, tc.n, err, tc.ok)
		}
		var qe *QuotaError
		if err != nil && (!errors.As(err, &qe) || qe.Resource != ResourceMonthEgress || !errors.Is(err, ErrQuotaExceeded)) {
			t.Errorf("error %#v is not a month-egress QuotaError", err)
		}
	}
}

func TestQuotaValidate(t *testing.T) {
	if err := (Quota{}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Quota{MaxBytes: -1, MaxArtifacts: -1, MaxEgressBytesPerMonth: -1}.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, f := range []string{"MaxBytes", "MaxArtifacts", "MaxEgressBytesPerMonth"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%v does not report %s", err, f)
		}
	}
}
