package metrics

import (
	"context"
	"testing"
	"time"
)

func TestLifecycleMetrics(t *testing.T) {
	m, srv := newTest(t, Config{})
	m.RegisterLifecycle(func() LifecycleStats {
		return LifecycleStats{Expired: 4, ExpiredBytes: 400, Aborted: 2, Failures: 1, Locked: 3, Transitioned: 5, TransitionedBytes: 500, Overdue: 90 * time.Second}
	})
	text := scrape(t, srv.URL+"/metrics")
	for series, want := range map[string]float64{
		"vaultaire_lifecycle_expired_total":            4,
		"vaultaire_lifecycle_expired_bytes_total":      400,
		"vaultaire_lifecycle_aborted_total":            2,
		"vaultaire_lifecycle_failures_total":           1,
		"vaultaire_lifecycle_locked_total":             3,
		"vaultaire_lifecycle_transitioned_total":       5,
		"vaultaire_lifecycle_transitioned_bytes_total": 500,
		"vaultaire_lifecycle_oldest_overdue_seconds":   90,
	} {
		if got := value(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

func TestCapacityMetrics(t *testing.T) {
	m, srv := newTest(t, Config{})
	m.RegisterCapacity(func(context.Context) CapacityStats {
		return CapacityStats{Used: 900, Total: 1000, High: 0.9, Low: 0.8, Spilling: true, Moved: 3, MovedBytes: 300, Failures: 1}
	})
	text := scrape(t, srv.URL+"/metrics")
	for series, want := range map[string]float64{
		"vaultaire_capacity_used_bytes":               900,
		"vaultaire_capacity_total_bytes":              1000,
		"vaultaire_capacity_high_watermark_ratio":     0.9,
		"vaultaire_capacity_low_watermark_ratio":      0.8,
		"vaultaire_capacity_spilling":                 1,
		"vaultaire_capacity_transitioned_total":       3,
		"vaultaire_capacity_transitioned_bytes_total": 300,
		"vaultaire_capacity_failures_total":           1,
	} {
		if got := value(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}
