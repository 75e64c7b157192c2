package activities

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are Recur's own measures of a worker, beside the Temporal SDK's:
// records imported and failed, requests sent and the customers they
// carried, conflicts, and ChartMogul's answers by status. A nil *Metrics
// measures nothing.
type Metrics struct {
	records   *prometheus.CounterVec
	requests  prometheus.Counter
	packed    prometheus.Histogram
	conflicts prometheus.Counter
	answers   *prometheus.CounterVec
}

// NewMetrics registers Recur's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "recur_records_total",
			Help: "Records ChartMogul reported on, by outcome (imported, failed)."}, []string{"outcome"}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "recur_imports_total",
			Help: "Bulk import requests ChartMogul accepted."}),
		packed: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "recur_import_customers",
			Help: "Customers carried by one bulk import request.", Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "recur_conflicts_total",
			Help: "Records found changed after ChartMogul imported them, not sent."}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "recur_chartmogul_answers_total",
			Help: "ChartMogul's answers by method and status (0: no answer)."}, []string{"method", "status"}),
	}
	reg.MustRegister(m.records, m.requests, m.packed, m.conflicts, m.answers)
	return m
}

func (m *Metrics) imports(customers int) {
	if m == nil {
		return
	}
	m.requests.Inc()
	m.packed.Observe(float64(customers))
}

func (m *Metrics) outcome(imported, failed int) {
	if m == nil {
		return
	}
	m.records.WithLabelValues("imported").Add(float64(imported))
	m.records.WithLabelValues("failed").Add(float64(failed))
}

func (m *Metrics) conflict(n int) {
	if m == nil {
		return
	}
	m.conflicts.Add(float64(n))
}

// Answer counts one of ChartMogul's answers: the chartmogul.Client's After
// hook.
func (m *Metrics) Answer(method, path string, status int) {
	if m == nil {
		return
	}
	m.answers.WithLabelValues(method, strconv.Itoa(status)).Inc()
}
