package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

const namespace = "vaultaire"

// DefaultMaxTenants bounds the tenant label: a Prometheus series costs
// memory in the node and in every scraper for as long as it exists, and a
// store with many tenants would otherwise grow series without bound.
const DefaultMaxTenants = 1000

// maxErrorCodes guards the code label should a bug let unbounded strings
// through; the S3 error table has far fewer codes.
const maxErrorCodes = 128

// Label values for requests without a tenant and for tenants past the cap.
const (
	TenantAnonymous = "anonymous"
	TenantOther     = "other"
)

// Request latency buckets, 1ms to 60s: small reads land in the first
// buckets, multi-GiB PUTs in the last.
var requestBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Raft apply latency buckets, 0.5ms to 5s (fsync of the log dominates).
var applyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// Config configures the metrics of a node.
type Config struct {
	// MaxTenants is how many distinct tenants get their own label value;
	// later ones are reported as "other" (default DefaultMaxTenants).
	MaxTenants int
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	if c.MaxTenants < 0 {
		return errors.New("metrics: MaxTenants must be >= 0")
	}
	return nil
}

// Metrics is one node's registry and the metrics the node updates. All
// methods are safe for concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	collectors []prometheus.Collector // ours, for Names

	tenants *capped
	codes   *capped

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	bytesIn   *prometheus.CounterVec
	bytesOut  *prometheus.CounterVec
	inFlight  prometheus.Gauge
	errors    *prometheus.CounterVec
	rateLimit *prometheus.CounterVec
	quota     *prometheus.CounterVec
	apply     prometheus.Histogram
	auditDrop *prometheus.CounterVec
}

// New returns the metrics of a node with a fresh registry holding the Go
// runtime and process collectors and the request metrics. Engine, drive
// and metastore figures are added with RegisterEngine, RegisterDrives and
// RegisterMetastore.
func New(cfg Config) (*Metrics, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxTenants == 0 {
		cfg.MaxTenants = DefaultMaxTenants
	}
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		tenants: newCapped(cfg.MaxTenants),
		codes:   newCapped(maxErrorCodes),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "requests_total",
			Help: "S3 requests finished, by tenant, operation and HTTP status class.",
		}, []string{"tenant", "operation", "status_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "s3", Name: "request_duration_seconds",
			Help:    "Time from a request's arrival to its last response byte, by operation.",
			Buckets: requestBuckets,
		}, []string{"operation"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "bytes_in_total",
			Help: "Request body bytes read, by tenant.",
		}, []string{"tenant"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "bytes_out_total",
			Help: "Response body bytes written, by tenant.",
		}, []string{"tenant"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "s3", Name: "requests_in_flight",
			Help: "S3 requests being served now.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "errors_total",
			Help: "S3 error responses, by operation and S3 error code.",
		}, []string{"operation", "code"}),
		rateLimit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "rate_limit_rejections_total",
			Help: "Requests rejected by a tenant's rate limit, by tenant.",
		}, []string{"tenant"}),
		quota: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "s3", Name: "quota_rejections_total",
			Help: "Requests rejected by a tenant's quota, by tenant.",
		}, []string{"tenant"}),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "raft", Name: "apply_duration_seconds",
			Help:    "Time from proposing a metadata command on the leader to its applied result.",
			Buckets: applyBuckets,
		}),
		auditDrop: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "audit", Name: "events_dropped_total",
			Help: "Audit events dropped because a sink's queue was full, by sink.",
		}, []string{"sink"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: namespace}),
	)
	m.register(m.requests, m.duration, m.bytesIn, m.bytesOut, m.inFlight, m.errors, m.rateLimit, m.quota, m.apply, m.auditDrop)
	return m, nil
}

func (m *Metrics) register(cs ...prometheus.Collector) {
	for _, c := range cs {
		m.reg.MustRegister(c)
		m.collectors = append(m.collectors, c)
	}
}

// Registry returns the node's registry (to register more collectors or to
// gather in tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request is what the metrics need of one finished S3 request.
type Request struct {
	Tenant    string // empty: unauthenticated ("anonymous")
	Operation string
	Status    int    // HTTP status sent
	ErrorCode string // S3 error code, empty on success
	BytesIn   int64
	BytesOut  int64
	Duration  time.Duration
}

// ObserveRequest counts one finished S3 request.
func (m *Metrics) ObserveRequest(r Request) {
	tenant := m.tenant(r.Tenant)
	op := r.Operation
	if op == "" {
		op = "Unknown"
	}
	m.requests.WithLabelValues(tenant, op, statusClass(r.Status)).Inc()
	m.duration.WithLabelValues(op).Observe(r.Duration.Seconds())
	if r.BytesIn > 0 {
		m.bytesIn.WithLabelValues(tenant).Add(float64(r.BytesIn))
	}
	if r.BytesOut > 0 {
		m.bytesOut.WithLabelValues(tenant).Add(float64(r.BytesOut))
	}
	if r.ErrorCode != "" {
		m.errors.WithLabelValues(op, m.codes.value(r.ErrorCode)).Inc()
	}
}

// InFlight wraps h so the in-flight gauge counts the requests it serves.
func (m *Metrics) InFlight(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerInFlight(m.inFlight, h)
}

// RateLimited counts a request rejected by tenant's rate limit.
func (m *Metrics) RateLimited(tenant string) { m.rateLimit.WithLabelValues(m.tenant(tenant)).Inc() }

// QuotaExceeded counts a request rejected by tenant's quota.
func (m *Metrics) QuotaExceeded(tenant string) { m.quota.WithLabelValues(m.tenant(tenant)).Inc() }

// AuditDropped counts an audit event a sink dropped on overflow.
func (m *Metrics) AuditDropped(sink string) { m.auditDrop.WithLabelValues(sink).Inc() }

// ObserveApply records one metadata apply latency (metastore.Config.OnApply).
func (m *Metrics) ObserveApply(d time.Duration) { m.apply.Observe(d.Seconds()) }

func (m *Metrics) tenant(t string) string {
	if t == "" {
		return TenantAnonymous
	}
	return m.tenants.value(t)
}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "unknown"
	}
	return strconv.Itoa(status/100) + "xx"
}

// capped maps label values to themselves for the first max distinct
// values seen and to TenantOther ("other") afterwards.
type capped struct {
	max int
	mu  struct {
		sync.RWMutex
		seen map[string]struct{}
	}
}

func newCapped(max int) *capped {
	c := &capped{max: max}
	c.mu.seen = make(map[string]struct{})
	return c
}

func (c *capped) value(v string) string {
	c.mu.RLock()
	_, ok := c.mu.seen[v]
	full := len(c.mu.seen) >= c.max
	c.mu.RUnlock()
	if ok {
		return v
	}
	if full {
		return TenantOther
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.seen[v]; ok {
		return v
	}
	if len(c.mu.seen) >= c.max {
		return TenantOther
	}
	c.mu.seen[v] = struct{}{}
	return v
}

// RequestTotals are the cumulative S3 request figures of this node since
// it started, for live views that difference two of them (the console's
// request rate, errors and latency).
type RequestTotals struct {
	Requests     float64 // finished requests
	ClientErrors float64 // 4xx answers
	ServerErrors float64 // 5xx answers
	// Bounds are the latency histogram's upper bounds in seconds and
	// Counts the cumulative number of requests at or below each, over
	// every operation; Count is the total.
	Bounds []float64
	Counts []uint64
	Count  uint64
}

// Totals returns the node's cumulative request figures. It walks every
// request series, so call it every few seconds, not per request.
func (m *Metrics) Totals() RequestTotals {
	var t RequestTotals
	for _, mt := range collect(m.requests) {
		v := mt.GetCounter().GetValue()
		t.Requests += v
		for _, l := range mt.GetLabel() {
			if l.GetName() == "status_class" {
				switch l.GetValue() {
				case "4xx":
					t.ClientErrors += v
				case "5xx":
					t.ServerErrors += v
				}
			}
		}
	}
	t.Bounds = append([]float64(nil), requestBuckets...)
	t.Counts = make([]uint64, len(t.Bounds))
	for _, mt := range collect(m.duration) {
		h := mt.GetHistogram()
		t.Count += h.GetSampleCount()
		for i, b := range h.GetBucket() {
			if i < len(t.Counts) {
				t.Counts[i] += b.GetCumulativeCount()
			}
		}
	}
	return t
}

// collect returns the current samples of one collector.
func collect(c prometheus.Collector) []*dto.Metric {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	var out []*dto.Metric
	for pm := range ch {
		var d dto.Metric
		if pm.Write(&d) == nil {
			out = append(out, &d)
		}
	}
	return out
}
