package audit

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatekeep-dev/gatekeep/engine"
)

// Metrics are the audit's Prometheus series, for the webhook's /metrics.
type Metrics struct {
	findings *prometheus.GaugeVec
	lastRun  prometheus.Gauge
	duration prometheus.Histogram
	objects  prometheus.Gauge
}

// NewMetrics makes the series; register Collectors where /metrics reads.
func NewMetrics() *Metrics {
	return &Metrics{
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatekeep_audit_findings",
			Help: "Findings of the last audit, by check and action.",
		}, []string{"check", "action"}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatekeep_audit_last_run_timestamp_seconds",
			Help: "When the last audit that completed started (Unix time).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatekeep_audit_duration_seconds",
			Help:    "Time an audit took, listing and judging every object.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 s to about an hour
		}),
		objects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatekeep_audit_objects",
			Help: "Objects the last audit judged.",
		}),
	}
}

// Collectors are the series to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.findings, m.lastRun, m.duration, m.objects}
}

// Observe records a completed run that started at start: its findings
// replace the last run's.
func (m *Metrics) Observe(res *engine.Result, start time.Time, took time.Duration) {
	m.findings.Reset()
	for _, f := range res.Findings() {
		m.findings.WithLabelValues(f.Check, string(f.Action)).Inc()
	}
	m.lastRun.Set(float64(start.Unix()))
	m.duration.Observe(took.Seconds())
	m.objects.Set(float64(res.Audited))
}
