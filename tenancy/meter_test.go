package tenancy

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

func TestClassOf(t *testing.T) {
	// Every operation the s3 package serves (s3.Operation.String()).
	want := map[string]Class{
		"Unknown":                 ClassB,
		"ListBuckets":             ClassA,
		"CreateBucket":            ClassA,
		"HeadBucket":              ClassB,
		"DeleteBucket":            ClassB,
		"GetBucketLocation":       ClassB,
		"ListObjects":             ClassA,
		"ListObjectsV2":           ClassA,
		"ListMultipartUploads":    ClassA,
		"DeleteObjects":           ClassA,
		"PutObject":               ClassA,
		"CopyObject":              ClassA,
		"GetObject":               ClassB,
		"HeadObject":              ClassB,
		"DeleteObject":            ClassB,
		"CreateMultipartUpload":   ClassA,
		"UploadPart":              ClassA,
		"UploadPartCopy":          ClassA,
		"CompleteMultipartUpload": ClassA,
		"AbortMultipartUpload":    ClassB,
		"ListParts":               ClassA,
		"GetBucketVersioning":     ClassB,
		// Not served yet; the prefix rule decides.
		"PutBucketVersioning": ClassA,
		"ListObjectVersions":  ClassA,
		"GetObjectTagging":    ClassB,
		"":                    ClassB,
	}
	for op, c := range want {
		if got := ClassOf(op); got != c {
			t.Errorf("ClassOf(%q) = %v, want %v", op, got, c)
		}
	}
}

func TestMeterHours(t *testing.T) {
	c := newClock(time.Date(2026, 11, 22, 9, 59, 59, 999_999_999, time.UTC))
	m := NewMeter(c.Now)
	m.Record("a", "PutObject", 100, 0) // 09:00 hour
	c.Advance(time.Nanosecond)         // exactly 10:00: the next hour
	m.Record("a", "GetObject", 0, 40)
	m.Record("b", "ListObjectsV2", 0, 0)
	c.Advance(time.Hour - time.Nanosecond) // 10:59:59.999999999
	m.Record("a", "HeadObject", 0, 0)

	// At 10:59:59.999 only the 09:00 hour is complete.
	got := m.Flush(c.Now(), nil)
	h9 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	h10 := h9.Add(time.Hour)
	want := []Hour{{Tenant: "a", Start: h9, IngressBytes: 100, ClassA: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first flush:\n got %+v\nwant %+v", got, want)
	}
	if got := m.Flush(c.Now(), nil); len(got) != 0 {
		t.Fatalf("second flush in the same hour returned %+v", got)
	}
	// At 11:00 exactly the 10:00 hour is complete.
	got = m.Flush(h10.Add(time.Hour), nil)
	want = []Hour{
		{Tenant: "a", Start: h10, EgressBytes: 40, ClassB: 2},
		{Tenant: "b", Start: h10, ClassA: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("second flush:\n got %+v\nwant %+v", got, want)
	}
	// A request timed in a flushed hour (a clock step back) counts in the
	// oldest unflushed hour, never lost.
	c.Set(h9.Add(30 * time.Minute))
	m.Record("a", "GetObject", 0, 1)
	got = m.Flush(h10.Add(2*time.Hour), nil)
	want = []Hour{{Tenant: "a", Start: h10.Add(time.Hour), EgressBytes: 1, ClassB: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("late record:\n got %+v\nwant %+v", got, want)
	}
}

func TestMeterLateFlushAndStorage(t *testing.T) {
	h0 := time.Date(2026, 1, 31, 22, 0, 0, 0, time.UTC)
	c := newClock(h0.Add(5 * time.Minute))
	m := NewMeter(c.Now)
	m.Track("idle")
	m.Track("empty")
	m.Record("busy", "PutObject", 10, 0)
	c.Advance(2 * time.Hour) // 00:05 on Feb 1: hours 22:00 and 23:00 complete
	m.Record("busy", "GetObject", 0, 10)
	calls := map[string]int{}
	stored := func(tenant string) (int64, int64) {
		calls[tenant]++
		switch tenant {
		case "idle":
			return 5e9, 3
		case "busy":
			return 1e9, 1
		}
		return 0, 0
	}
	got := m.Flush(c.Now(), stored)
	h1 := h0.Add(time.Hour)
	want := []Hour{
		{Tenant: "busy", Start: h0, StoredBytes: 1e9, Artifacts: 1, IngressBytes: 10, ClassA: 1},
		{Tenant: "idle", Start: h0, StoredBytes: 5e9, Artifacts: 3},
		{Tenant: "idle", Start: h1, StoredBytes: 5e9, Artifacts: 3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("flush:\n got %+v\nwant %+v", got, want)
	}
	for tn, n := range calls {
		if n != 1 {
			t.Errorf("stored(%q) called %d times, want once", tn, n)
		}
	}
	// Without stored, tracked tenants are not emitted; busy's 00:00 hour is.
	m.Forget("idle")
	got = m.Flush(c.Now().Add(time.Hour), nil)
	want = []Hour{{Tenant: "busy", Start: h0.Add(2 * time.Hour), EgressBytes: 10, ClassB: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("second flush:\n got %+v\nwant %+v", got, want)
	}
}

func TestMeterConcurrent(t *testing.T) {
	c := newClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	m := NewMeter(c.Now)
	const goroutines, perG = 16, 1000
	var wg sync.WaitGroup
	var flushed []Hour
	var fmu sync.Mutex
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				op := "GetObject"
				if i%2 == 0 {
					op = "PutObject"
				}
				m.Record(fmt.Sprintf("t%d", g%4), op, 1, 2)
				if i%250 == 0 {
					c.Advance(20 * time.Minute)
					hs := m.Flush(c.Now(), nil)
					fmu.Lock()
					flushed = append(flushed, hs...)
					fmu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	flushed = append(flushed, m.Flush(c.Now().Add(time.Hour), nil)...)
	var a, b, in, out int64
	seen := map[string]bool{}
	for _, h := range flushed {
		key := h.Tenant + h.Start.String()
		if seen[key] {
			t.Fatalf("hour %s of %s emitted twice", h.Start, h.Tenant)
		}
		seen[key] = true
		a, b, in, out = a+h.ClassA, b+h.ClassB, in+h.IngressBytes, out+h.EgressBytes
	}
	const n = goroutines * perG
	if a != n/2 || b != n/2 || in != n || out != 2*n {
		t.Fatalf("totals A %d B %d in %d out %d, want %d %d %d %d", a, b, in, out, n/2, n/2, n, 2*n)
	}
}

func TestMeterDrain(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 59, 0, 0, time.UTC)
	m := NewMeter(func() time.Time { return now })
	m.Record("b", "PutObject", 10, 0)
	m.Record("a", "GetObject", 0, 7)
	now = now.Add(2 * time.Minute) // next hour
	m.Record("a", "GetObject", 0, 3)
	got := m.Drain()
	h10 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	want := []Hour{
		{Tenant: "a", Start: h10, EgressBytes: 7, ClassB: 1},
		{Tenant: "b", Start: h10, IngressBytes: 10, ClassA: 1},
		{Tenant: "a", Start: h10.Add(time.Hour), EgressBytes: 3, ClassB: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Drain = %+v, want %+v", got, want)
	}
	if got := m.Drain(); len(got) != 0 {
		t.Fatalf("second Drain = %+v", got)
	}
	// Counting goes on after a drain; the drained parts add up.
	m.Record("a", "GetObject", 0, 1)
	if got := m.Drain(); len(got) != 1 || got[0].EgressBytes != 1 {
		t.Fatalf("Drain after more = %+v", got)
	}
}
