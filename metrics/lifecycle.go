package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LifecycleStats are the lifecycle engine's counters (node.Stats): they
// grow on the node that acted (the metadata leader), and Overdue is how
// long the oldest action that failed has been due.
type LifecycleStats struct {
	Expired, ExpiredBytes           int64
	Aborted, Failures, Locked       int64
	Transitioned, TransitionedBytes int64
	Overdue                         time.Duration
}

// RegisterLifecycle exports the lifecycle engine's counters, read on
// every scrape.
func (m *Metrics) RegisterLifecycle(stats func() LifecycleStats) {
	m.register(&lifecycleCollector{stats: stats})
}

type lifecycleCollector struct{ stats func() LifecycleStats }

var lifecycleDescs = struct {
	expired, expiredBytes, aborted, failures, locked, transitioned, transitionedBytes, overdue *prometheus.Desc
}{
	expired:           desc("lifecycle_expired_total", "Versions expired by lifecycle rules: deleted, or hidden by a delete marker (counted on the metadata leader)."),
	expiredBytes:      desc("lifecycle_expired_bytes_total", "Bytes of the versions lifecycle rules expired."),
	aborted:           desc("lifecycle_aborted_total", "Unfinished multipart uploads aborted by lifecycle rules."),
	failures:          desc("lifecycle_failures_total", "Lifecycle actions that failed (retried by the next pass)."),
	locked:            desc("lifecycle_locked_total", "Lifecycle expirations refused by object lock (the version is kept)."),
	transitioned:      desc("lifecycle_transitioned_total", "Versions moved to a tier by lifecycle rules."),
	transitionedBytes: desc("lifecycle_transitioned_bytes_total", "Bytes of the versions moved to a tier by lifecycle rules."),
	overdue:           desc("lifecycle_oldest_overdue_seconds", "How long the oldest lifecycle action that failed has been due (0: none)."),
}

func (c *lifecycleCollector) Describe(ch chan<- *prometheus.Desc) {
	d := lifecycleDescs
	for _, x := range []*prometheus.Desc{d.expired, d.expiredBytes, d.aborted, d.failures, d.locked, d.transitioned, d.transitionedBytes, d.overdue} {
		ch <- x
	}
}

func (c *lifecycleCollector) Collect(ch chan<- prometheus.Metric) {
	s, d := c.stats(), lifecycleDescs
	counter := func(dd *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(dd, prometheus.CounterValue, float64(v))
	}
	counter(d.expired, s.Expired)
	counter(d.expiredBytes, s.ExpiredBytes)
	counter(d.aborted, s.Aborted)
	counter(d.failures, s.Failures)
	counter(d.locked, s.Locked)
	counter(d.transitioned, s.Transitioned)
	counter(d.transitionedBytes, s.TransitionedBytes)
	ch <- prometheus.MustNewConstMetric(d.overdue, prometheus.GaugeValue, s.Overdue.Seconds())
}
