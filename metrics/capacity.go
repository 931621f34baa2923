package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// CapacityStats is the capacity fallback as a node sees it (node.CapacityStatus):
// the cluster's raw drive usage, the watermarks (fractions), whether it is
// spilling to the default tier, and the moves this node made.
type CapacityStats struct {
	Used, Total                 int64
	High, Low                   float64
	Spilling                    bool
	Moved, MovedBytes, Failures int64
}

// RegisterCapacity exports the capacity fallback, measured on every scrape
// (a statfs per local drive; peers' drives as gossiped).
func (m *Metrics) RegisterCapacity(stats func(ctx context.Context) CapacityStats) {
	m.register(&capacityCollector{stats: stats})
}

type capacityCollector struct {
	stats func(ctx context.Context) CapacityStats
}

var capacityDescs = struct {
	used, total, high, low, spilling, moved, movedBytes, failures *prometheus.Desc
}{
	used:       desc("capacity_used_bytes", "Raw bytes in use on the cluster's online drives (drives on one file system counted once), as this node sees them."),
	total:      desc("capacity_total_bytes", "Raw capacity of the cluster's online drives, as this node sees them."),
	high:       desc("capacity_high_watermark_ratio", "Fraction of the capacity in use at which the capacity fallback starts moving versions to the default tier."),
	low:        desc("capacity_low_watermark_ratio", "Fraction of the capacity in use the capacity fallback moves versions until."),
	spilling:   desc("capacity_spilling", "1 while usage is past the high watermark and not yet below the low one (the leader moves versions to the default tier)."),
	moved:      desc("capacity_transitioned_total", "Versions the capacity fallback moved to the default tier (counted on the metadata leader)."),
	movedBytes: desc("capacity_transitioned_bytes_total", "Bytes of the versions the capacity fallback moved to the default tier."),
	failures:   desc("capacity_failures_total", "Moves of the capacity fallback that failed (retried by the next round)."),
}

func (c *capacityCollector) Describe(ch chan<- *prometheus.Desc) {
	d := capacityDescs
	for _, x := range []*prometheus.Desc{d.used, d.total, d.high, d.low, d.spilling, d.moved, d.movedBytes, d.failures} {
		ch <- x
	}
}

func (c *capacityCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	s, d := c.stats(ctx), capacityDescs
	gauge := func(dd *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(dd, prometheus.GaugeValue, v)
	}
	counter := func(dd *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(dd, prometheus.CounterValue, float64(v))
	}
	gauge(d.used, float64(s.Used))
	gauge(d.total, float64(s.Total))
	gauge(d.high, s.High)
	gauge(d.low, s.Low)
	spilling := 0.0
	if s.Spilling {
		spilling = 1
	}
	gauge(d.spilling, spilling)
	counter(d.moved, s.Moved)
	counter(d.movedBytes, s.MovedBytes)
	counter(d.failures, s.Failures)
}
