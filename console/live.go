package console

import (
	"context"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/metrics"
)

// liveInterval is how often the live view samples this node's request
// totals; liveWindow how much history it keeps (5 minutes).
const (
	liveInterval = 2 * time.Second
	liveSamples  = 150
)

// liveStats keeps recent samples of this node's cumulative request
// totals, so the operator's live view shows rates and latency over the
// last seconds and minutes without scraping the metrics endpoint.
type liveStats struct {
	totals func() metrics.RequestTotals
	mu     struct {
		sync.Mutex
		samples []liveSample // oldest first, at most liveSamples
	}
}

type liveSample struct {
	at time.Time
	t  metrics.RequestTotals
}

func newLiveStats(totals func() metrics.RequestTotals) *liveStats {
	l := &liveStats{totals: totals}
	l.sample(time.Now())
	return l
}

func (l *liveStats) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.sample(now)
		}
	}
}

func (l *liveStats) sample(now time.Time) {
	t := l.totals()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.samples = append(l.mu.samples, liveSample{at: now, t: t})
	if n := len(l.mu.samples); n > liveSamples {
		l.mu.samples = append(l.mu.samples[:0], l.mu.samples[n-liveSamples:]...)
	}
}

// LiveFigures are rates and latency over one window.
type LiveFigures struct {
	Window       time.Duration
	RequestsPerS float64
	ClientErrPS  float64
	ServerErrPS  float64
	P50, P99     time.Duration // 0 when no request finished in the window
	Requests     float64
}

// figures returns the figures over the last window (from the newest
// sample back to the oldest one within window), and the request rate of
// every interval for a sparkline.
func (l *liveStats) figures(window time.Duration) (LiveFigures, []float64) {
	l.mu.Lock()
	samples := append([]liveSample(nil), l.mu.samples...)
	l.mu.Unlock()
	var f LiveFigures
	if len(samples) < 2 {
		return f, nil
	}
	last := samples[len(samples)-1]
	first := samples[0]
	for _, s := range samples {
		if last.at.Sub(s.at) <= window {
			first = s
			break
		}
	}
	dt := last.at.Sub(first.at).Seconds()
	if dt > 0 {
		f.Window = last.at.Sub(first.at).Round(time.Second)
		f.Requests = last.t.Requests - first.t.Requests
		f.RequestsPerS = f.Requests / dt
		f.ClientErrPS = (last.t.ClientErrors - first.t.ClientErrors) / dt
		f.ServerErrPS = (last.t.ServerErrors - first.t.ServerErrors) / dt
		f.P50 = quantile(first.t, last.t, 0.50)
		f.P99 = quantile(first.t, last.t, 0.99)
	}
	rates := make([]float64, 0, len(samples)-1)
	for i := 1; i < len(samples); i++ {
		d := samples[i].at.Sub(samples[i-1].at).Seconds()
		if d > 0 {
			rates = append(rates, (samples[i].t.Requests-samples[i-1].t.Requests)/d)
		}
	}
	return f, rates
}

// quantile estimates the q-quantile of the latencies observed between two
// totals from their histogram buckets, interpolating linearly within the
// bucket that holds it (as Prometheus' histogram_quantile does).
func quantile(a, b metrics.RequestTotals, q float64) time.Duration {
	n := float64(b.Count) - float64(a.Count)
	if n <= 0 || len(a.Counts) != len(b.Counts) || len(b.Counts) != len(b.Bounds) {
		return 0
	}
	rank := q * n
	prevCount, prevBound := 0.0, 0.0
	for i, bound := range b.Bounds {
		c := float64(b.Counts[i]) - float64(a.Counts[i])
		if c >= rank {
			frac := 1.0
			if c > prevCount {
				frac = (rank - prevCount) / (c - prevCount)
			}
			return time.Duration((prevBound + (bound-prevBound)*frac) * float64(time.Second))
		}
		prevCount, prevBound = c, bound
	}
	// Beyond the last bound: report the last bound (a lower bound).
	return time.Duration(prevBound * float64(time.Second))
}
