package metastore

import (
	"errors"
	"testing"
	"time"
)

// TestPruneUsageHours keeps the hours within the retention and deletes the
// older ones of every tenant, in batches when asked, deciding from the
// time in the command (not the replica's clock).
func TestPruneUsageHours(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	now := time.Date(2027, 3, 10, 15, 30, 0, 0, time.UTC)
	// Hours 0..9 before now's hour, for two tenants.
	for _, tenant := range []string{"acme", "zeta"} {
		var deltas []UsageDelta
		for h := 0; h < 10; h++ {
			deltas = append(deltas, UsageDelta{Tenant: tenant, Start: now.Truncate(time.Hour).Add(-time.Duration(h) * time.Hour), ClassA: 1})
		}
		mustNoErr(t, s.RecordUsage(ctx, [16]byte{}, now, deltas))
	}
	hours := func(tenant string) int {
		hs, err := s.UsageHours(ctx, tenant, time.Unix(0, 0), now.Add(time.Hour))
		mustNoErr(t, err)
		return len(hs)
	}
	// Keep 4 hours: hours 0..4 before now's hour stay (the cutoff is
	// inclusive of the hour 4h before now's), 5..9 go: 10 records, in
	// batches of 3.
	var total, rounds int
	for {
		n, more, err := s.PruneUsageHours(ctx, now, 4*time.Hour, 3)
		mustNoErr(t, err)
		total += n
		rounds++
		if !more {
			break
		}
		if rounds > 10 {
			t.Fatal("prune never finishes")
		}
	}
	if total != 10 || rounds != 4 {
		t.Fatalf("pruned %d records in %d commands, want 10 in 4", total, rounds)
	}
	for _, tenant := range []string{"acme", "zeta"} {
		if n := hours(tenant); n != 5 {
			t.Fatalf("%s keeps %d hours, want 5", tenant, n)
		}
	}
	// Nothing more is due; a retention below an hour is refused.
	if n, more, err := s.PruneUsageHours(ctx, now, 4*time.Hour, 0); err != nil || n != 0 || more {
		t.Fatalf("second prune: %d %v %v", n, more, err)
	}
	if _, _, err := s.PruneUsageHours(ctx, now, time.Minute, 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("retention of a minute: %v", err)
	}
}

// TestPruneUsageHoursNeedsVersion2: the command is refused before the log
// on a cluster still at version 1.
func TestPruneUsageHoursNeedsVersion2(t *testing.T) {
	s := openAtV1(t)
	before := s.fsm.applied.Load()
	_, _, err := s.PruneUsageHours(ctxT(t), time.Now(), time.Hour, 0)
	if !errors.Is(err, ErrUpgradeRequired) {
		t.Fatalf("prune at cluster version 1: %v", err)
	}
	if s.fsm.applied.Load() != before {
		t.Fatal("a refused prune reached the log")
	}
}
