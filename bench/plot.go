package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The plot is a self-contained SVG drawn here (no libraries): throughput
// over time per op (ops/s, and MiB/s when bytes moved), then each op's
// latency distribution against a "nines" axis (x = -log10(1-q), so p90,
// p99, p99.9 are equally spaced; log-scaled milliseconds on y).

const (
	svgWidth      = 960
	svgChartH     = 300
	svgMarginL    = 80
	svgMarginR    = 150 // legend
	svgMarginT    = 40
	svgMarginB    = 50
	svgTitleSpace = 50
)

var opColors = [numOps]string{"#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#7f7f7f"}

func opColor(name string) string {
	op, err := ParseOp(name)
	if err != nil {
		return "#333333"
	}
	return opColors[op]
}

type plotSeries struct {
	name, color string
	dashed      bool
	xs, ys      []float64
}

type plotTick struct {
	v     float64
	label string
}

type plotChart struct {
	title, xLabel, yLabel string
	series                []plotSeries
	xMin, xMax            float64
	xTicks                []plotTick // nil: computed
	logY                  bool
}

func svgEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// niceStep returns a 1-2-5 step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

func formatTick(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e6 || a < 1e-3:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

// linearTicks returns ticks from 0 (or lo) to at least hi.
func linearTicks(lo, hi float64) ([]plotTick, float64, float64) {
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep(hi-lo, 5)
	start := math.Floor(lo/step) * step
	end := math.Ceil(hi/step) * step
	var ticks []plotTick
	for v := start; v <= end+step/2; v += step {
		ticks = append(ticks, plotTick{v, formatTick(v)})
	}
	return ticks, start, end
}

// logTicks returns 1-2-5 ticks covering [lo, hi] (lo > 0).
func logTicks(lo, hi float64) ([]plotTick, float64, float64) {
	if lo <= 0 {
		lo = 1e-3
	}
	if hi <= lo {
		hi = lo * 10
	}
	lo10 := math.Pow(10, math.Floor(math.Log10(lo)))
	hi10 := math.Pow(10, math.Ceil(math.Log10(hi)))
	decades := math.Log10(hi10 / lo10)
	mults := []float64{1, 2, 5}
	if decades > 4 {
		mults = []float64{1}
	}
	var ticks []plotTick
	for d := lo10; d <= hi10*1.0001; d *= 10 {
		for _, m := range mults {
			v := d * m
			if v > hi10*1.0001 {
				break
			}
			ticks = append(ticks, plotTick{v, formatTick(v)})
		}
	}
	return ticks, lo10, hi10
}

// render draws the chart with its top-left corner at (0, top).
func (c plotChart) render(b *bufio.Writer, top float64) {
	x0, y0 := float64(svgMarginL), top+svgMarginT
	w := float64(svgWidth - svgMarginL - svgMarginR)
	h := float64(svgChartH - svgMarginT - svgMarginB)
	yMax, yMinPos := 0.0, math.Inf(1)
	for _, s := range c.series {
		for _, y := range s.ys {
			yMax = max(yMax, y)
			if y > 0 {
				yMinPos = min(yMinPos, y)
			}
		}
	}
	var yTicks []plotTick
	var yLo, yHi float64
	if c.logY {
		if math.IsInf(yMinPos, 1) {
			yMinPos = 1
		}
		yTicks, yLo, yHi = logTicks(yMinPos, yMax)
	} else {
		yTicks, yLo, yHi = linearTicks(0, yMax)
	}
	ty := func(v float64) float64 {
		if c.logY {
			v = math.Max(v, yLo)
			return y0 + h - (math.Log10(v)-math.Log10(yLo))/(math.Log10(yHi)-math.Log10(yLo))*h
		}
		return y0 + h - (v-yLo)/(yHi-yLo)*h
	}
	xLo, xHi := c.xMin, c.xMax
	xTicks := c.xTicks
	if xTicks == nil {
		xTicks, xLo, xHi = linearTicks(c.xMin, c.xMax)
	}
	if xHi <= xLo {
		xHi = xLo + 1
	}
	tx := func(v float64) float64 { return x0 + (v-xLo)/(xHi-xLo)*w }

	fmt.Fprintf(b, `<text x="%g" y="%g" class="title">%s</text>`+"\n", x0, top+24, svgEscape(c.title))
	fmt.Fprintf(b, `<rect x="%g" y="%g" width="%g" height="%g" class="frame"/>`+"\n", x0, y0, w, h)
	for _, t := range yTicks {
		y := ty(t.v)
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" class="grid"/>`, x0, y, x0+w, y)
		fmt.Fprintf(b, `<text x="%g" y="%.1f" class="ytick">%s</text>`+"\n", x0-6, y+4, svgEscape(t.label))
	}
	for _, t := range xTicks {
		x := tx(t.v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" class="grid"/>`, x, y0, x, y0+h)
		fmt.Fprintf(b, `<text x="%.1f" y="%g" class="xtick">%s</text>`+"\n", x, y0+h+16, svgEscape(t.label))
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" class="xlabel">%s</text>`+"\n", x0+w/2, y0+h+36, svgEscape(c.xLabel))
	fmt.Fprintf(b, `<text transform="translate(%g %g) rotate(-90)" class="ylabel">%s</text>`+"\n", x0-58, y0+h/2, svgEscape(c.yLabel))
	for i, s := range c.series {
		if len(s.xs) > 0 {
			var pts strings.Builder
			for j := range s.xs {
				fmt.Fprintf(&pts, "%.1f,%.1f ", tx(s.xs[j]), ty(s.ys[j]))
			}
			dash := ""
			if s.dashed {
				dash = ` stroke-dasharray="6 4"`
			}
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.TrimSpace(pts.String()), s.color, dash)
			if len(s.xs) <= 40 {
				for j := range s.xs {
					fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, tx(s.xs[j]), ty(s.ys[j]), s.color)
				}
				b.WriteString("\n")
			}
		}
		ly := y0 + 10 + float64(i)*20
		if s.dashed {
			fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="3" stroke-dasharray="4 3"/>`, x0+w+14, ly-2, x0+w+28, ly-2, s.color)
		} else {
			fmt.Fprintf(b, `<rect x="%g" y="%g" width="14" height="4" fill="%s"/>`, x0+w+14, ly-4, s.color)
		}
		fmt.Fprintf(b, `<text x="%g" y="%g" class="legend">%s</text>`+"\n", x0+w+34, ly+2, svgEscape(s.name))
	}
}

// nines maps a percentile (0..100) to the x of the latency chart.
func nines(q float64) float64 {
	if q >= 100 {
		return 5
	}
	return math.Min(-math.Log10(1-q/100), 4.5)
}

// charts builds the charts of a report.
func (r *Report) charts() []plotChart {
	step := float64(r.Series.IntervalNs) / 1e9
	if step <= 0 {
		step = 1
	}
	elapsed := float64(r.ElapsedNs) / 1e9
	opsChart := plotChart{title: "Throughput (operations per second)", xLabel: "seconds since start", yLabel: "ops/s", xMax: math.Max(elapsed, step)}
	mibChart := plotChart{title: "Throughput (MiB per second, MiB = 2^20 bytes)", xLabel: "seconds since start", yLabel: "MiB/s", xMax: opsChart.xMax}
	for _, s := range r.Series.Ops {
		ps := plotSeries{name: s.Op, color: opColor(s.Op)}
		pb := ps
		moved := false
		for i := range s.Ops {
			from := float64(i) * step
			width := math.Min(step, elapsed-from)
			if width < step/2 && i > 0 {
				// A short trailing interval: its rate is noise (the few
				// ops that ended after the deadline); counted, not drawn.
				continue
			}
			if width <= 0 {
				width = step
			}
			x := from + width/2
			ps.xs, ps.ys = append(ps.xs, x), append(ps.ys, float64(s.Ops[i])/width)
			pb.xs, pb.ys = append(pb.xs, x), append(pb.ys, float64(s.Bytes[i])/MiB/width)
			if s.Bytes[i] > 0 {
				moved = true
			}
		}
		opsChart.series = append(opsChart.series, ps)
		if moved {
			mibChart.series = append(mibChart.series, pb)
		}
	}
	latChart := plotChart{title: "Latency by percentile", xLabel: "percentile", yLabel: "latency (ms, log scale)", xMin: 0, xMax: 5, logY: true}
	latChart.xTicks = []plotTick{{0, "min"}, {nines(50), "p50"}, {nines(90), "p90"}, {nines(99), "p99"}, {nines(99.9), "p99.9"}, {nines(99.99), "p99.99"}, {5, "max"}}
	for _, o := range r.Ops {
		if o.Count == 0 || len(o.Latency.Percentiles) == 0 {
			continue
		}
		s := plotSeries{name: o.Op, color: opColor(o.Op)}
		for _, p := range o.Latency.Percentiles {
			s.xs = append(s.xs, nines(p.Q))
			s.ys = append(s.ys, float64(p.Ns)/1e6)
		}
		latChart.series = append(latChart.series, s)
		if o.TTFB != nil && len(o.TTFB.Percentiles) > 0 {
			t := plotSeries{name: o.Op + " ttfb", color: opColor(o.Op), dashed: true}
			for _, p := range o.TTFB.Percentiles {
				t.xs = append(t.xs, nines(p.Q))
				t.ys = append(t.ys, float64(p.Ns)/1e6)
			}
			latChart.series = append(latChart.series, t)
		}
	}
	out := []plotChart{opsChart}
	if len(mibChart.series) > 0 {
		out = append(out, mibChart)
	}
	return append(out, latChart)
}

// WriteSVG draws the report as a self-contained SVG image.
func (r *Report) WriteSVG(w io.Writer) error {
	charts := r.charts()
	height := svgTitleSpace + len(charts)*svgChartH
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", svgWidth, height, svgWidth, height)
	b.WriteString(`<style>
text { font-family: sans-serif; font-size: 12px; fill: #222; }
.title { font-size: 15px; font-weight: bold; }
.head { font-size: 17px; font-weight: bold; }
.ytick { text-anchor: end; }
.xtick, .xlabel, .ylabel { text-anchor: middle; }
.frame { fill: none; stroke: #888; }
.grid { stroke: #e4e4e4; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
`)
	s := r.Setup
	head := fmt.Sprintf("vaultaire bench: %s, size %s, concurrency %d, %s", s.Workload, s.Size, s.Concurrency,
		time.Duration(r.ElapsedNs).Round(time.Millisecond))
	sub := s.Endpoint + "  " + r.Started.Format(time.RFC3339)
	if len(s.Mix) > 0 {
		sub = "mix " + mixString(s.Mix) + "  " + sub
	}
	fmt.Fprintf(b, `<text x="%d" y="22" class="head">%s</text>`+"\n", svgMarginL, svgEscape(head))
	fmt.Fprintf(b, `<text x="%d" y="40">%s</text>`+"\n", svgMarginL, svgEscape(sub))
	for i, c := range charts {
		c.render(b, float64(svgTitleSpace+i*svgChartH))
	}
	b.WriteString("</svg>\n")
	return b.Flush()
}
