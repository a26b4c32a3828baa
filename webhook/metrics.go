package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the webhook's Prometheus series.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	bundle    *prometheus.GaugeVec
	failures  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatekeep_admission_requests_total",
			Help: "Admission requests by webhook, operation and outcome (allowed, denied, patched, error, bad-request).",
		}, []string{"webhook", "operation", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatekeep_admission_duration_seconds",
			Help: "Time to answer an admission request, from its arrival to the response written.",
			// Fine below 10 ms, where an admission webhook should answer.
			Buckets: []float64{.00025, .0005, .00075, .001, .0015, .002, .003, .004, .005, .0075, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"webhook"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatekeep_decisions_total",
			Help: "Findings by check and action.",
		}, []string{"check", "action"}),
		bundle: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatekeep_bundle_info",
			Help: "The policy bundle in force (value 1), by name and digest.",
		}, []string{"name", "digest"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatekeep_bundle_load_failures_total",
			Help: "Loads of the policy bundle that failed (the last good bundle, if any, stays in force).",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.decisions, m.bundle, m.failures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(webhook, operation, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(webhook, operation, outcome).Inc()
	if d > 0 {
		m.latency.WithLabelValues(webhook).Observe(d.Seconds())
	}
}

func (m *metrics) decision(check, action string) {
	if m != nil {
		m.decisions.WithLabelValues(check, action).Inc()
	}
}

func (m *metrics) bundleInForce(name, digest string) {
	if m != nil {
		m.bundle.Reset()
		m.bundle.WithLabelValues(name, digest).Set(1)
	}
}

func (m *metrics) bundleFailed() {
	if m != nil {
		m.failures.Inc()
	}
}
