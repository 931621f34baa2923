package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleReport builds a report like a mixed run's, with awkward floats.
func sampleReport() *Report {
	lat := func(base int64) Latency {
		h := NewHistogram()
		for i := range int64(1000) {
			h.Record(base + i*i*37)
		}
		return latencyOf(h)
	}
	ttfb := lat(90_000)
	return &Report{
		Version:   ReportVersion,
		Tool:      "vaultaire bench",
		Started:   time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC),
		ElapsedNs: int64(2500 * time.Millisecond),
		PrepareNs: int64(time.Second),
		Setup: Setup{
			Endpoint: "http://127.0.0.1:9000", Bucket: "vaultaire-bench-0a1b2c3d", Prefix: "bench-0a1b2c3d/",
			Workload: "mixed", Mix: map[string]int{"get": 45, "put": 15, "delete": 10, "stat": 30},
			Size: "1MiB..64MiB", SizeMin: 1 << 20, SizeMax: 64 << 20, Concurrency: 8,
			DurationNs: int64(2 * time.Second), Keys: 100, Seed: 0xfedcba9876543211,
		},
		Ops: []OpReport{
			{Op: "put", Count: 30, Errors: 1, Bytes: 30 << 20, OpsPerSec: 12, MiBPerSec: 12.000000000000002, Latency: lat(1_000_000),
				ErrorKinds: map[string]int64{"SlowDown": 1}},
			{Op: "get", Count: 91, Errors: 3, Bytes: 91 << 20, OpsPerSec: 36.4, MiBPerSec: 1.0 / 3, Latency: lat(200_000), TTFB: &ttfb,
				ErrorKinds: map[string]int64{"VerifyMismatch": 2, "net:reset": 1}},
			{Op: "delete", Count: 0, OpsPerSec: 0, Latency: latencyOf(NewHistogram())},
			{Op: "stat", Count: 60, OpsPerSec: 24, Latency: lat(50_000)},
		},
		Series: Series{IntervalNs: int64(time.Second), Ops: []OpSeries{
			{Op: "put", Ops: []int64{10, 15, 5}, Bytes: []int64{10 << 20, 15 << 20, 5 << 20}, Errors: []int64{0, 1, 0}},
			{Op: "get", Ops: []int64{40, 41, 10}, Bytes: []int64{40 << 20, 41 << 20, 10 << 20}, Errors: []int64{1, 1, 1}},
			{Op: "delete", Ops: []int64{0, 0, 0}, Bytes: []int64{0, 0, 0}, Errors: []int64{0, 0, 0}},
			{Op: "stat", Ops: []int64{20, 20, 20}, Bytes: []int64{0, 0, 0}, Errors: []int64{0, 0, 0}},
		}},
		Warnings: []string{"cleanup: something"},
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, back) {
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(back)
		t.Fatalf("round trip differs:\n%s\n%s", a, b)
	}
	if back.VerifyErrors() != 2 {
		t.Errorf("VerifyErrors = %d, want 2", back.VerifyErrors())
	}
}

func TestReportJSONFieldNames(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "tool", "started", "setup", "elapsed_ns", "ops", "series"} {
		if _, ok := m[k]; !ok {
			t.Errorf("result.json lacks %q", k)
		}
	}
	op := m["ops"].([]any)[1].(map[string]any)
	for _, k := range []string{"op", "count", "errors", "bytes", "ops_per_sec", "mib_per_sec", "latency", "ttfb", "error_kinds"} {
		if _, ok := op[k]; !ok {
			t.Errorf("op entry lacks %q", k)
		}
	}
	lat := op["latency"].(map[string]any)
	for _, k := range []string{"min_ns", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "percentiles"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency lacks %q", k)
		}
	}
}

func TestReadReportRejects(t *testing.T) {
	for name, in := range map[string]string{
		"garbage":       "not json",
		"empty":         "",
		"wrong version": `{"version": 2, "ops": []}`,
		"no version":    `{"ops": []}`,
	} {
		if _, err := ReadReport(strings.NewReader(in)); !errors.Is(err, ErrBadReport) {
			t.Errorf("%s: %v, want ErrBadReport", name, err)
		}
	}
}

func TestReportCSVRoundTrip(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], CSVColumns) {
		t.Fatalf("header %v", rows[0])
	}
	if len(rows) != 1+len(r.Ops) {
		t.Fatalf("%d rows for %d ops", len(rows), len(r.Ops))
	}
	for _, row := range rows {
		if len(row) != len(CSVColumns) {
			t.Fatalf("row %v has %d cells", row, len(row))
		}
	}
	if rows[2][3] != "2" {
		t.Errorf("get verify_errors cell %q, want 2", rows[2][3])
	}
	back, err := ReadCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(r.Ops)
	for i := range want {
		want[i].Latency.Percentiles = nil
		if want[i].TTFB != nil {
			l := *want[i].TTFB
			l.Percentiles = nil
			want[i].TTFB = &l
		}
	}
	if !reflect.DeepEqual(want, back) {
		t.Fatalf("CSV round trip differs:\n%+v\n%+v", want, back)
	}
}

func TestReadCSVRejects(t *testing.T) {
	hdr := strings.Join(CSVColumns, ",")
	row := func(mod func([]string)) string {
		cells := make([]string, len(CSVColumns))
		for i := range cells {
			cells[i] = "1"
		}
		cells[0], cells[21] = "get", ""
		mod(cells)
		return hdr + "\n" + strings.Join(cells, ",") + "\n"
	}
	if _, err := ReadCSV(strings.NewReader(row(func([]string) {}))); err != nil {
		t.Fatalf("valid row rejected: %v", err)
	}
	for name, in := range map[string]string{
		"empty":       "",
		"bad header":  "op,count\nget,1\n",
		"bad int":     row(func(c []string) { c[1] = "x" }),
		"bad float":   row(func(c []string) { c[5] = "fast" }),
		"bad kinds":   row(func(c []string) { c[21] = "NoSuchKey" }),
		"short row":   hdr + "\nget,1\n",
		"bad latency": row(func(c []string) { c[9] = "1.5" }),
	} {
		if _, err := ReadCSV(strings.NewReader(in)); !errors.Is(err, ErrBadReport) {
			t.Errorf("%s: %v, want ErrBadReport", name, err)
		}
	}
}

func TestSeriesCSV(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := r.WriteSeriesCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], SeriesCSVColumns) {
		t.Fatalf("header %v", rows[0])
	}
	if len(rows) != 1+4*3 {
		t.Fatalf("%d rows", len(rows))
	}
	if !slices.Equal(rows[5], []string{"1", "get", "41", "42991616", "1"}) {
		t.Fatalf("row 5 = %v", rows[5])
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"workload mixed (get=45,put=15,delete=10,stat=30)", "size 1MiB..64MiB", "ops/s", "MiB/s", "p99", "ttfb p50",
		"get errors: VerifyMismatch=2, net:reset=1", "VERIFICATION FAILED: 2", "warning: cleanup: something"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	found := false
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 2 && f[0] == "stat" && f[1] == "60" && f[2] == "24.0" {
			found = true
		}
	}
	if !found {
		t.Errorf("no stat row with 60 ops at 24.0 ops/s:\n%s", out)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := sampleReport()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FileJSON, FileCSV, FileSeriesCSV, FileSVG} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	back, err := LoadReport(filepath.Join(dir, FileJSON))
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("LoadReport: %v", err)
	}
	if _, err := LoadReport(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing file loaded")
	}
}

func TestFormatLatency(t *testing.T) {
	for ns, want := range map[int64]string{0: "0ns", 999: "999ns", 1000: "1.00µs", 12_345: "12.3µs", 850_000: "850µs",
		1_234_567: "1.23ms", 12_340_000: "12.3ms", 999_400_000: "999ms", 1_200_000_000: "1.20s", 75e9: "75.0s"} {
		if got := FormatLatency(ns); got != want {
			t.Errorf("FormatLatency(%d) = %q, want %q", ns, got, want)
		}
	}
	if math.IsNaN(sampleReport().Ops[0].MiBPerSec) {
		t.Fatal("NaN")
	}
}
