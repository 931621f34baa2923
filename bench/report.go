package bench

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportVersion is the version of the result.json format this package
// writes; ReadReport refuses other versions.
const ReportVersion = 1

// MiB is 2^20 bytes: every MiB/s figure is bytes / 2^20 / seconds.
const MiB = 1 << 20

// Report is the result of one run, as written to result.json.
type Report struct {
	Version int       `json:"version"`
	Tool    string    `json:"tool"`
	Started time.Time `json:"started"`
	Setup   Setup     `json:"setup"`
	// ElapsedNs is the measured wall time: from the first operation's
	// start to the last operation's end.
	ElapsedNs int64 `json:"elapsed_ns"`
	// PrepareNs is how long writing the prepared artifacts took.
	PrepareNs   int64      `json:"prepare_ns,omitempty"`
	Interrupted bool       `json:"interrupted,omitempty"`
	Ops         []OpReport `json:"ops"`
	Series      Series     `json:"series"`
	Warnings    []string   `json:"warnings,omitempty"`
}

// Setup records what was measured and how.
type Setup struct {
	Endpoint        string         `json:"endpoint"`
	Endpoints       []string       `json:"endpoints,omitempty"` // all of them, when requests were spread over several
	Bucket          string         `json:"bucket"`
	Prefix          string         `json:"prefix"`
	Workload        string         `json:"workload"`
	Mix             map[string]int `json:"mix,omitempty"`
	Size            string         `json:"size"`
	SizeMin         int64          `json:"size_min"`
	SizeMax         int64          `json:"size_max"`
	Concurrency     int            `json:"concurrency"`
	DurationNs      int64          `json:"duration_ns,omitempty"`
	OpsLimit        int64          `json:"ops_limit,omitempty"`
	Keys            int            `json:"keys,omitempty"`
	PartSize        int64          `json:"part_size,omitempty"`
	PartConcurrency int            `json:"part_concurrency,omitempty"`
	ListPageSize    int            `json:"list_page_size,omitempty"`
	Seed            uint64         `json:"seed"`
	SignPayload     bool           `json:"sign_payload"`
	Checksums       bool           `json:"checksums"`
}

// OpReport is the summary of one operation kind.
type OpReport struct {
	Op string `json:"op"`
	// Count is the number of successful operations; Errors the failed ones
	// (by kind in ErrorKinds, see ErrorKind).
	Count  int64 `json:"count"`
	Errors int64 `json:"errors"`
	// Bytes is the artifact bytes moved by successful operations.
	Bytes int64 `json:"bytes"`
	// OpsPerSec is Count / elapsed seconds; MiBPerSec is Bytes / 2^20 /
	// elapsed seconds, over the whole run's elapsed time.
	OpsPerSec  float64          `json:"ops_per_sec"`
	MiBPerSec  float64          `json:"mib_per_sec"`
	Latency    Latency          `json:"latency"`
	TTFB       *Latency         `json:"ttfb,omitempty"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
}

// VerifyErrors counts the operation's verification failures.
func (o OpReport) VerifyErrors() int64 {
	var n int64
	for k, v := range o.ErrorKinds {
		if isVerifyKind(k) {
			n += v
		}
	}
	return n
}

// Latency summarises the latencies of successful operations, in
// nanoseconds: from just before the request is sent to the last byte of
// the response body (GET) or the response (others). Quantiles are
// nearest-rank quantiles from a Histogram (within 0.4%); min, max and mean
// are exact.
type Latency struct {
	MinNs  int64 `json:"min_ns"`
	MeanNs int64 `json:"mean_ns"`
	P50Ns  int64 `json:"p50_ns"`
	P90Ns  int64 `json:"p90_ns"`
	P99Ns  int64 `json:"p99_ns"`
	P999Ns int64 `json:"p999_ns"`
	MaxNs  int64 `json:"max_ns"`
	// Percentiles is the latency at each of plotPercentiles, for plots.
	Percentiles []Percentile `json:"percentiles,omitempty"`
}

// Percentile is one point of a latency distribution: Q in percent.
type Percentile struct {
	Q  float64 `json:"q"`
	Ns int64   `json:"ns"`
}

// plotPercentiles are the quantiles (in percent) a Latency lists.
var plotPercentiles = []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100}

func latencyOf(h *Histogram) Latency {
	l := Latency{
		MinNs:  h.Min(),
		MeanNs: int64(math.Round(h.Mean())),
		P50Ns:  h.Quantile(0.50),
		P90Ns:  h.Quantile(0.90),
		P99Ns:  h.Quantile(0.99),
		P999Ns: h.Quantile(0.999),
		MaxNs:  h.Max(),
	}
	if h.Count() > 0 {
		for _, q := range plotPercentiles {
			l.Percentiles = append(l.Percentiles, Percentile{Q: q, Ns: h.Quantile(q / 100)})
		}
	}
	return l
}

// Series is the per-interval time series of a run: for each op, the
// operations completed, bytes moved and errors in each interval, by the
// time each operation ended. Interval i covers [i, i+1)·IntervalNs after
// the start; the last interval may be partial (see Report.ElapsedNs).
type Series struct {
	IntervalNs int64      `json:"interval_ns"`
	Ops        []OpSeries `json:"ops"`
}

// OpSeries is the time series of one op.
type OpSeries struct {
	Op     string  `json:"op"`
	Ops    []int64 `json:"ops"`
	Bytes  []int64 `json:"bytes"`
	Errors []int64 `json:"errors"`
}

// Op returns the summary of the named op, if the run has it.
func (r *Report) Op(name string) (OpReport, bool) {
	for _, o := range r.Ops {
		if o.Op == name {
			return o, true
		}
	}
	return OpReport{}, false
}

// SeriesOf returns the time series of the named op, if the run has it.
func (r *Report) SeriesOf(name string) (OpSeries, bool) {
	for _, s := range r.Series.Ops {
		if s.Op == name {
			return s, true
		}
	}
	return OpSeries{}, false
}

// VerifyErrors counts the run's verification failures over every op.
func (r *Report) VerifyErrors() int64 {
	var n int64
	for _, o := range r.Ops {
		n += o.VerifyErrors()
	}
	return n
}

// Elapsed is the measured wall time.
func (r *Report) Elapsed() time.Duration { return time.Duration(r.ElapsedNs) }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReport, err)
	}
	if r.Version != ReportVersion {
		return nil, fmt.Errorf("%w: version %d (this tool reads %d)", ErrBadReport, r.Version, ReportVersion)
	}
	return &r, nil
}

// LoadReport reads a result.json file.
func LoadReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadReport(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// CSVColumns is the header of result.csv: one row per op.
var CSVColumns = []string{
	"op", "count", "errors", "verify_errors", "bytes", "ops_per_sec", "mib_per_sec",
	"lat_min_ns", "lat_mean_ns", "lat_p50_ns", "lat_p90_ns", "lat_p99_ns", "lat_p999_ns", "lat_max_ns",
	"ttfb_min_ns", "ttfb_mean_ns", "ttfb_p50_ns", "ttfb_p90_ns", "ttfb_p99_ns", "ttfb_p999_ns", "ttfb_max_ns",
	"error_kinds",
}

func latencyCells(l *Latency) []string {
	if l == nil {
		return make([]string, 7)
	}
	out := make([]string, 0, 7)
	for _, v := range []int64{l.MinNs, l.MeanNs, l.P50Ns, l.P90Ns, l.P99Ns, l.P999Ns, l.MaxNs} {
		out = append(out, strconv.FormatInt(v, 10))
	}
	return out
}

// formatKinds renders error kinds as "Kind=n;Kind=n", sorted by kind.
func formatKinds(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.FormatInt(m[k], 10)
	}
	return strings.Join(parts, ";")
}

// WriteCSV writes one row per op under CSVColumns. Floats are written in
// the shortest form that reads back exactly.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for _, o := range r.Ops {
		row := []string{
			o.Op,
			strconv.FormatInt(o.Count, 10),
			strconv.FormatInt(o.Errors, 10),
			strconv.FormatInt(o.VerifyErrors(), 10),
			strconv.FormatInt(o.Bytes, 10),
			strconv.FormatFloat(o.OpsPerSec, 'g', -1, 64),
			strconv.FormatFloat(o.MiBPerSec, 'g', -1, 64),
		}
		row = append(row, latencyCells(&o.Latency)...)
		row = append(row, latencyCells(o.TTFB)...)
		row = append(row, formatKinds(o.ErrorKinds))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads the rows WriteCSV wrote back into OpReports (without the
// Percentiles lists, which result.csv does not carry).
func ReadCSV(rd io.Reader) ([]OpReport, error) {
	cr := csv.NewReader(rd)
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReport, err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], CSVColumns) {
		return nil, fmt.Errorf("%w: unexpected CSV header", ErrBadReport)
	}
	var out []OpReport
	for n, row := range rows[1:] {
		o, err := parseCSVRow(row)
		if err != nil {
			return nil, fmt.Errorf("%w: row %d: %v", ErrBadReport, n+2, err)
		}
		out = append(out, o)
	}
	return out, nil
}

func parseCSVRow(row []string) (OpReport, error) {
	var firstErr error
	i64 := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	}
	f64 := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	}
	lat := func(cells []string) *Latency {
		if cells[0] == "" {
			return nil
		}
		return &Latency{
			MinNs: i64(cells[0]), MeanNs: i64(cells[1]), P50Ns: i64(cells[2]), P90Ns: i64(cells[3]),
			P99Ns: i64(cells[4]), P999Ns: i64(cells[5]), MaxNs: i64(cells[6]),
		}
	}
	o := OpReport{
		Op:        row[0],
		Count:     i64(row[1]),
		Errors:    i64(row[2]),
		Bytes:     i64(row[4]),
		OpsPerSec: f64(row[5]),
		MiBPerSec: f64(row[6]),
	}
	if l := lat(row[7:14]); l != nil {
		o.Latency = *l
	}
	o.TTFB = lat(row[14:21])
	if row[21] != "" {
		o.ErrorKinds = map[string]int64{}
		for kv := range strings.SplitSeq(row[21], ";") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return OpReport{}, fmt.Errorf("error kinds %q", row[21])
			}
			o.ErrorKinds[k] = i64(v)
		}
	}
	if firstErr != nil {
		return OpReport{}, firstErr
	}
	return o, nil
}

// SeriesCSVColumns is the header of series.csv: one row per op and interval.
var SeriesCSVColumns = []string{"second", "op", "ops", "bytes", "errors"}

// WriteSeriesCSV writes the time series, one row per op and interval.
func (r *Report) WriteSeriesCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(SeriesCSVColumns); err != nil {
		return err
	}
	step := float64(r.Series.IntervalNs) / 1e9
	for _, s := range r.Series.Ops {
		for i := range s.Ops {
			row := []string{
				strconv.FormatFloat(float64(i)*step, 'g', -1, 64), s.Op,
				strconv.FormatInt(s.Ops[i], 10), strconv.FormatInt(s.Bytes[i], 10), strconv.FormatInt(s.Errors[i], 10),
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// Output file names in an --out directory.
const (
	FileJSON      = "result.json"
	FileCSV       = "result.csv"
	FileSeriesCSV = "series.csv"
	FileSVG       = "result.svg"
)

// WriteFiles writes result.json, result.csv, series.csv and result.svg
// into dir, creating it if needed.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fn func(io.Writer) error) error {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
		return f.Close()
	}
	return errors.Join(
		write(FileJSON, r.WriteJSON),
		write(FileCSV, r.WriteCSV),
		write(FileSeriesCSV, r.WriteSeriesCSV),
		write(FileSVG, r.WriteSVG),
	)
}

// FormatLatency renders a duration in ns with three significant digits
// and a unit a reader takes in at a glance ("850µs", "12.3ms", "1.20s").
func FormatLatency(ns int64) string {
	d := float64(ns)
	switch {
	case ns < 1000:
		return strconv.FormatInt(ns, 10) + "ns"
	case d < 1e6:
		return sig3(d/1e3) + "µs"
	case d < 1e9:
		return sig3(d/1e6) + "ms"
	default:
		return sig3(d/1e9) + "s"
	}
}

// sig3 formats v (>= 1) with three significant digits.
func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func formatRate(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// WriteTable writes the human summary: the setup, one line per op, and
// the errors by kind.
func (r *Report) WriteTable(w io.Writer) error {
	s := r.Setup
	fmt.Fprintf(w, "workload %s", s.Workload)
	if len(s.Mix) > 0 {
		fmt.Fprintf(w, " (%s)", mixString(s.Mix))
	}
	fmt.Fprintf(w, ", size %s, concurrency %d", s.Size, s.Concurrency)
	if s.Keys > 0 {
		fmt.Fprintf(w, ", %d keys", s.Keys)
	}
	fmt.Fprintf(w, ", %s elapsed", time.Duration(r.ElapsedNs).Round(time.Millisecond))
	if r.Interrupted {
		fmt.Fprint(w, " (interrupted)")
	}
	if len(s.Endpoints) > 1 {
		fmt.Fprintf(w, "\nendpoints %s (round-robin), bucket %s\n\n", strings.Join(s.Endpoints, " "), s.Bucket)
	} else {
		fmt.Fprintf(w, "\nendpoint %s, bucket %s\n\n", s.Endpoint, s.Bucket)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tops\tops/s\tMiB/s\tp50\tp90\tp99\tmax\tttfb p50\tttfb p99\terrors\t")
	for _, o := range r.Ops {
		ttfb50, ttfb99 := "-", "-"
		if o.TTFB != nil {
			ttfb50, ttfb99 = FormatLatency(o.TTFB.P50Ns), FormatLatency(o.TTFB.P99Ns)
		}
		lat := []string{"-", "-", "-", "-"}
		if o.Count > 0 {
			lat = []string{FormatLatency(o.Latency.P50Ns), FormatLatency(o.Latency.P90Ns), FormatLatency(o.Latency.P99Ns), FormatLatency(o.Latency.MaxNs)}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", o.Op, o.Count,
			formatRate(o.OpsPerSec), formatRate(o.MiBPerSec), lat[0], lat[1], lat[2], lat[3], ttfb50, ttfb99, o.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range r.Ops {
		if len(o.ErrorKinds) > 0 {
			fmt.Fprintf(w, "%s errors: %s\n", o.Op, strings.ReplaceAll(formatKinds(o.ErrorKinds), ";", ", "))
		}
	}
	if n := r.VerifyErrors(); n > 0 {
		fmt.Fprintf(w, "VERIFICATION FAILED: %d operations returned wrong data\n", n)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

func mixString(m map[string]int) string {
	var parts []string
	for _, op := range mixable {
		if w, ok := m[op.String()]; ok {
			parts = append(parts, op.String()+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}
