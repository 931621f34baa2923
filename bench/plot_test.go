package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// checkWellFormed parses the whole document and returns the count of each
// element name.
func checkWellFormed(t *testing.T, doc []byte) map[string]int {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	counts := map[string]int{}
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, doc)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (e.Name.Local != "svg" || e.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element %v", e.Name)
			}
			depth++
			counts[e.Name.Local]++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 || counts["svg"] != 1 {
		t.Fatalf("unbalanced document: depth %d, %d svg elements", depth, counts["svg"])
	}
	return counts
}

func TestWriteSVG(t *testing.T) {
	r := sampleReport()
	r.Setup.Endpoint = `http://host/?a=1&b=<2>"` // must be escaped
	var buf bytes.Buffer
	if err := r.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	counts := checkWellFormed(t, buf.Bytes())
	// Throughput (4 ops), MiB/s (put and get: the others move no bytes),
	// latency (3 ops with samples + get ttfb, dashed).
	if got, want := counts["polyline"], 4+2+4; got != want {
		t.Errorf("%d polylines, want %d", got, want)
	}
	for _, want := range []string{"ops/s", "MiB/s", "p99.9", "get ttfb", "&amp;b=&lt;2&gt;", "stroke-dasharray", "mix get=45,put=15,delete=10,stat=30"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestWriteSVGEdgeCases(t *testing.T) {
	// An empty run, a run with no bytes (list) and a single-sample run
	// must all draw valid documents.
	empty := &Report{Version: ReportVersion, Series: Series{IntervalNs: 1e9}}
	list := sampleReport()
	list.Ops = []OpReport{{Op: "list", Count: 1, Latency: Latency{MinNs: 5, MaxNs: 5, P50Ns: 5, Percentiles: []Percentile{{0, 5}, {100, 5}}}}}
	list.Series.Ops = []OpSeries{{Op: "list", Ops: []int64{1}, Bytes: []int64{0}, Errors: []int64{0}}}
	list.ElapsedNs = 1
	for name, r := range map[string]*Report{"empty": empty, "list": list} {
		var buf bytes.Buffer
		if err := r.WriteSVG(&buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		counts := checkWellFormed(t, buf.Bytes())
		if strings.Contains(buf.String(), "NaN") || strings.Contains(buf.String(), "Inf") {
			t.Errorf("%s: SVG holds NaN/Inf coordinates", name)
		}
		if name == "list" && strings.Contains(buf.String(), "MiB per second") {
			t.Errorf("list run drew a MiB/s chart")
		}
		_ = counts
	}
}

func TestNiceTicks(t *testing.T) {
	for span, want := range map[float64]float64{10: 2, 100: 20, 7: 2, 1: 0.2, 0.3: 0.1, 3000: 1000} {
		if got := niceStep(span, 5); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", span, got, want)
		}
	}
	ticks, lo, hi := logTicks(0.3, 40)
	if lo != 0.1 || hi != 100 || ticks[0].v != 0.1 || ticks[len(ticks)-1].v != 100 {
		t.Errorf("logTicks(0.3, 40) = %v [%v, %v]", ticks, lo, hi)
	}
}
