package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestCompareRatios(t *testing.T) {
	a := sampleReport()
	b := sampleReport()
	b.Ops[0].OpsPerSec = 24 // put: twice as fast
	a.Ops[0].Latency.P99Ns, b.Ops[0].Latency.P99Ns = 40e6, 20e6
	b.Ops[1].MiBPerSec = 1.0 / 6 // get: half the bandwidth
	b.Ops = b.Ops[:2]            // B lacks delete and stat
	cmp := Compare(a, b)
	find := func(op, metric string) Comparison {
		t.Helper()
		for _, c := range cmp {
			if c.Op == op && c.Metric == metric {
				return c
			}
		}
		t.Fatalf("no comparison %s %s", op, metric)
		return Comparison{}
	}
	check := func(op, metric string, want float64) {
		t.Helper()
		c := find(op, metric)
		if math.Abs(c.Ratio-want) > 1e-12 {
			t.Errorf("%s %s: ratio %v (A %v, B %v), want %v", op, metric, c.Ratio, c.A, c.B, want)
		}
	}
	check("put", "ops/s", 2)
	check("put", "p99", 0.5)
	check("put", "MiB/s", 1)
	check("get", "MiB/s", 0.5)
	check("get", "ttfb p50", 1)
	check("get", "errors", 1)
	for _, c := range cmp {
		if c.Op == "delete" || c.Op == "stat" {
			t.Errorf("op %s compared although B lacks it", c.Op)
		}
		if c.Op == "put" && strings.HasPrefix(c.Metric, "ttfb") {
			t.Errorf("put has no ttfb, yet compared %s", c.Metric)
		}
	}
	if c := find("put", "p50"); !c.Latency {
		t.Error("p50 not marked as latency")
	}
}

func TestRatioEdgeCases(t *testing.T) {
	if r := ratio(0, 0); r != 1 {
		t.Errorf("0/0 = %v, want 1", r)
	}
	if r := ratio(0, 5); !math.IsNaN(r) {
		t.Errorf("5/0 = %v, want NaN", r)
	}
	if r := ratio(4, 0); r != 0 {
		t.Errorf("0/4 = %v", r)
	}
}

func TestWriteComparison(t *testing.T) {
	a := sampleReport()
	b := sampleReport()
	b.Ops[0].OpsPerSec = 18
	a.Ops[2].Errors, b.Ops[2].Errors = 0, 4 // delete errors: 0 -> 4
	b.Ops = append(b.Ops, OpReport{Op: "list", Count: 1})
	var buf bytes.Buffer
	if err := WriteComparison(&buf, "a.json", "b.json", a, b); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"A: a.json", "B: b.json", "B/A", "only in B: list"} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
	var putOps, delErrs []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == "put" && f[1] == "ops/s" {
			putOps = f
		}
		if len(f) >= 5 && f[0] == "delete" && f[1] == "errors" {
			delErrs = f
		}
	}
	if putOps == nil || putOps[2] != "12.0" || putOps[3] != "18.0" || putOps[4] != "1.500" {
		t.Errorf("put ops/s line %v", putOps)
	}
	if delErrs == nil || delErrs[4] != "n/a" {
		t.Errorf("delete errors line %v", delErrs)
	}
}
