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
	reloads   *prometheus.CounterVec
	waits     prometheus.Counter
	inUse     prometheus.Gauge
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
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatekeep_bundle_reloads_total",
		Help: "Loads of the policy bundle attempted, by result (ok, failed).",
	}, []string{"result"})
	m.waits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatekeep_admission_decode_budget_waits_total",
		Help: "Admission requests that waited for decode budget (--max-decode-bytes) before being read.",
	})
	m.inUse = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gatekeep_admission_decode_budget_bytes",
		Help: "Bytes of decode budget held by admission requests being read, decoded and decided.",
	})
	m.registry.MustRegister(m.requests, m.latency, m.decisions, m.bundle, m.failures, m.reloads, m.waits, m.inUse,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// operationLabel is the operation label of a request: the operations
// admission.k8s.io/v1 defines, else "other". Labels are never taken from a
// request unchecked: each distinct value is a series kept for ever.
func operationLabel(op string) string {
	switch op {
	case "CREATE", "UPDATE", "DELETE", "CONNECT":
		return op
	}
	return "other"
}

// actionLabel is the action label of a finding: the engine's actions, else
// "other".
func actionLabel(a string) string {
	switch a {
	case "deny", "warn", "dryrun":
		return a
	}
	return "other"
}

// observe counts a request. operation may come from the request: it is
// bounded by operationLabel ("" is a request whose operation was not read).
func (m *metrics) observe(webhook, operation, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	if operation != "" {
		operation = operationLabel(operation)
	}
	m.requests.WithLabelValues(webhook, operation, outcome).Inc()
	if d > 0 {
		m.latency.WithLabelValues(webhook).Observe(d.Seconds())
	}
}

func (m *metrics) decision(check, action string) {
	if m != nil {
		m.decisions.WithLabelValues(check, actionLabel(action)).Inc()
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

func (m *metrics) bundleReloaded(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("failed").Inc()
	}
}

func (m *metrics) budgetWait() {
	if m != nil {
		m.waits.Inc()
	}
}

func (m *metrics) budgetInUse(delta int64) {
	if m != nil {
		m.inUse.Add(float64(delta))
	}
}
