package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
)

// Comparison is one metric of one op in two runs.
type Comparison struct {
	Op     string
	Metric string
	A, B   float64
	// Ratio is B/A; NaN when A is 0 (an infinite or undefined ratio).
	Ratio float64
	// Latency is true for metrics in nanoseconds (lower is better).
	Latency bool
}

// compareMetrics are the metrics Compare puts side by side.
var compareMetrics = []struct {
	name    string
	latency bool
	get     func(OpReport) (float64, bool)
}{
	{"ops/s", false, func(o OpReport) (float64, bool) { return o.OpsPerSec, true }},
	{"MiB/s", false, func(o OpReport) (float64, bool) { return o.MiBPerSec, true }},
	{"p50", true, func(o OpReport) (float64, bool) { return float64(o.Latency.P50Ns), o.Count > 0 }},
	{"p90", true, func(o OpReport) (float64, bool) { return float64(o.Latency.P90Ns), o.Count > 0 }},
	{"p99", true, func(o OpReport) (float64, bool) { return float64(o.Latency.P99Ns), o.Count > 0 }},
	{"max", true, func(o OpReport) (float64, bool) { return float64(o.Latency.MaxNs), o.Count > 0 }},
	{"ttfb p50", true, func(o OpReport) (float64, bool) {
		if o.TTFB == nil {
			return 0, false
		}
		return float64(o.TTFB.P50Ns), o.Count > 0
	}},
	{"ttfb p99", true, func(o OpReport) (float64, bool) {
		if o.TTFB == nil {
			return 0, false
		}
		return float64(o.TTFB.P99Ns), o.Count > 0
	}},
	{"errors", false, func(o OpReport) (float64, bool) { return float64(o.Errors), true }},
}

// ratio is b/a, NaN when a is 0 (1 when both are 0).
func ratio(a, b float64) float64 {
	if a == 0 {
		if b == 0 {
			return 1
		}
		return math.NaN()
	}
	return b / a
}

// Compare lines up the ops both reports have (in a's order) metric by
// metric, with ratios B/A.
func Compare(a, b *Report) []Comparison {
	var out []Comparison
	for _, oa := range a.Ops {
		ob, ok := b.Op(oa.Op)
		if !ok {
			continue
		}
		for _, m := range compareMetrics {
			va, okA := m.get(oa)
			vb, okB := m.get(ob)
			if !okA || !okB {
				continue
			}
			out = append(out, Comparison{Op: oa.Op, Metric: m.name, A: va, B: vb, Ratio: ratio(va, vb), Latency: m.latency})
		}
	}
	return out
}

// WriteComparison writes the side-by-side table of Compare(a, b), naming
// the runs nameA and nameB, and lists ops only one of them has.
func WriteComparison(w io.Writer, nameA, nameB string, a, b *Report) error {
	fmt.Fprintf(w, "A: %s (%s, size %s, concurrency %d)\n", nameA, a.Setup.Workload, a.Setup.Size, a.Setup.Concurrency)
	fmt.Fprintf(w, "B: %s (%s, size %s, concurrency %d)\n\n", nameB, b.Setup.Workload, b.Setup.Size, b.Setup.Concurrency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tmetric\tA\tB\tB/A\t")
	for _, c := range Compare(a, b) {
		fa, fb := formatRate(c.A), formatRate(c.B)
		if c.Latency {
			fa, fb = FormatLatency(int64(c.A)), FormatLatency(int64(c.B))
		} else if c.Metric == "errors" {
			fa, fb = strconv.FormatFloat(c.A, 'f', 0, 64), strconv.FormatFloat(c.B, 'f', 0, 64)
		}
		r := "n/a"
		if !math.IsNaN(c.Ratio) {
			r = strconv.FormatFloat(c.Ratio, 'f', 3, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", c.Op, c.Metric, fa, fb, r)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range a.Ops {
		if _, ok := b.Op(o.Op); !ok {
			fmt.Fprintf(w, "only in A: %s\n", o.Op)
		}
	}
	for _, o := range b.Ops {
		if _, ok := a.Op(o.Op); !ok {
			fmt.Fprintf(w, "only in B: %s\n", o.Op)
		}
	}
	return nil
}
