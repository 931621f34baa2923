package tenancy

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// monthOf returns one Hour per hour of the calendar month of (year, mon),
// each storing bytes.
func monthOf(year int, mon time.Month, bytes int64) []Hour {
	var hs []Hour
	first := time.Date(year, mon, 1, 0, 0, 0, 0, time.UTC)
	for h := first; h.Before(first.AddDate(0, 1, 0)); h = h.Add(time.Hour) {
		hs = append(hs, Hour{Tenant: "t", Start: h, StoredBytes: bytes})
	}
	return hs
}

func TestGBMonths(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hours []Hour
		want  float64
	}{
		{"1 GB all of November (30 days)", monthOf(2026, time.November, 1e9), 1},
		{"1 GB all of December (31 days)", monthOf(2026, time.December, 1e9), 1},
		{"1 GB all of February 2026 (28 days)", monthOf(2026, time.February, 1e9), 1},
		{"1 GB all of February 2028 (29 days)", monthOf(2028, time.February, 1e9), 1},
		{"2.5 GB all of December", monthOf(2026, time.December, 2.5e9), 2.5},
		{"1 GB for two whole months", append(monthOf(2026, time.November, 1e9), monthOf(2026, time.December, 1e9)...), 2},
		{"1 GB for half of November", monthOf(2026, time.November, 1e9)[:360], 0.5},
		{"one hour of 720 GB in November", []Hour{{Start: time.Date(2026, 11, 3, 4, 0, 0, 0, time.UTC), StoredBytes: 720e9}}, 1},
		{"one hour of 744 GB in December", []Hour{{Start: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), StoredBytes: 744e9}}, 1},
		{"GiB is not GB", monthOf(2026, time.November, 1<<30), 1.073741824},
		{"nothing", nil, 0},
	} {
		if got := GBMonths(tc.hours); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: %v GB-months, want %v", tc.name, got, tc.want)
		}
	}
	// The month is the UTC month of Start, whatever its location.
	east := time.FixedZone("UTC+5", 5*3600)
	h := Hour{Start: time.Date(2026, 12, 1, 3, 0, 0, 0, east), StoredBytes: 720e9} // Nov 30 22:00 UTC
	if got := GBMonths([]Hour{h}); math.Abs(got-1) > 1e-9 {
		t.Errorf("month taken from the local time: %v, want 1 (720 GB-hours in November)", got)
	}
}

var sampleHours = []Hour{
	{Tenant: "acme", Start: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), StoredBytes: 1 << 40, Artifacts: 12345,
		IngressBytes: 5, EgressBytes: 6, ClassA: 7, ClassB: 8},
	{Tenant: "tenant, \"quoted\"", Start: time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)},
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, sampleHours); err != nil {
		t.Fatal(err)
	}
	want := "tenant,start,stored_bytes,artifacts,ingress_bytes,egress_bytes,class_a,class_b\n" +
		"acme,2026-11-22T03:00:00Z,1099511627776,12345,5,6,7,8\n" +
		"\"tenant, \"\"quoted\"\"\",2026-11-22T04:00:00Z,0,0,0,0,0,0\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
	back, err := ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, sampleHours) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, sampleHours)
	}
	// Empty: just the header, and back to an empty list.
	buf.Reset()
	if err := WriteCSV(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if back, err := ReadCSV(&buf); err != nil || len(back) != 0 {
		t.Fatalf("empty round trip: %v, %v", back, err)
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleHours[:1]); err != nil {
		t.Fatal(err)
	}
	want := `[
  {
    "tenant": "acme",
    "start": "2026-11-22T03:00:00Z",
    "stored_bytes": 1099511627776,
    "artifacts": 12345,
    "ingress_bytes": 5,
    "egress_bytes": 6,
    "class_a": 7,
    "class_b": 8
  }
]
`
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := WriteJSON(&buf, sampleHours); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, sampleHours) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, sampleHours)
	}
	buf.Reset()
	if err := WriteJSON(&buf, nil); err != nil || buf.String() != "[]\n" {
		t.Fatalf("empty: %q, %v", buf.String(), err)
	}
	// A non-UTC Start is written in UTC.
	buf.Reset()
	east := time.FixedZone("UTC+5", 5*3600)
	if err := WriteJSON(&buf, []Hour{{Start: time.Date(2026, 1, 1, 5, 0, 0, 0, east)}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"2026-01-01T00:00:00Z"`) {
		t.Fatalf("start not in UTC: %s", buf.String())
	}
}

func TestReadBadRecords(t *testing.T) {
	for _, in := range []string{
		"",
		"tenant,start\n",
		"tenant,begin,stored_bytes,artifacts,ingress_bytes,egress_bytes,class_a,class_b\n",
		"tenant,start,stored_bytes,artifacts,ingress_bytes,egress_bytes,class_a,class_b\nt,yesterday,0,0,0,0,0,0\n",
		"tenant,start,stored_bytes,artifacts,ingress_bytes,egress_bytes,class_a,class_b\nt,2026-11-22T03:00:00Z,x,0,0,0,0,0\n",
		"tenant,start,stored_bytes,artifacts,ingress_bytes,egress_bytes,class_a,class_b\nt,2026-11-22T03:00:00Z,0,0\n",
	} {
		if _, err := ReadCSV(strings.NewReader(in)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("ReadCSV(%q) = %v, want ErrBadRecord", in, err)
		}
	}
	for _, in := range []string{"", "null", "{}", `[{"tenant":1}]`, `[{"bogus":1}]`} {
		if _, err := ReadJSON(strings.NewReader(in)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("ReadJSON(%q) = %v, want ErrBadRecord", in, err)
		}
	}
}
