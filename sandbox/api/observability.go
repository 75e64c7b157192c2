package api

// Observability: the Prometheus metrics of a Recur process, and the health
// and readiness probes. /metrics, /healthz and /readyz are served without
// authentication, beside the API (and by `recur worker --metrics-addr`),
// because the scrapers and orchestrators that call them hold no API key;
// they reveal counts and states, never records.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// Metrics are the Prometheus metrics of one Recur process, in a registry of
// their own rather than the global one, so that several servers in one test
// binary count apart.
//
// Counters count what this process did (requests it answered, imports its
// workers finished); gauges of shared state (imports waiting, River jobs
// per queue) are read from the database at scrape time, so every process
// reports the same figures for them: aggregate those with max, not sum.
//
// The metrics:
//
//	recur_http_requests_total{route,code}            requests answered, by ServeMux pattern ("unmatched" for none) and status
//	                                                 (444, as nginx logs it, for a connection closed without an answer by --inject-drop)
//	recur_http_request_duration_seconds{route}       request latency
//	recur_http_rejected_total{reason}                429s: "rate_limit" or "import_queue_full"
//	recur_injected_faults_total{fault}               faults injected on purpose (sandbox serve --inject-…): "429", "503" or "drop"
//	recur_imports_finished_total{status}             imports finished here: completed or failed
//	recur_import_records_imported_total{type}        records applied, per record type
//	recur_import_records_failed_total{type}          records rejected, per record type
//	recur_import_duration_seconds                    import latency, from acceptance (created_at) to finished
//	recur_imports_unfinished{status}                 imports queued or processing now (database)
//	recur_queue_jobs{queue,state}                    River jobs available, running, retryable, scheduled (database)
//	recur_database_up                                1 when the scrape-time queries succeeded, else 0
//
// plus the Go runtime's and the process's standard metrics.
type Metrics struct {
	// Registry holds every metric above; Handler serves it.
	Registry *prometheus.Registry

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	rejected        *prometheus.CounterVec
	injected        *prometheus.CounterVec
	importsFinished *prometheus.CounterVec
	recordsImported *prometheus.CounterVec
	recordsFailed   *prometheus.CounterVec
	importDuration  prometheus.Histogram
}

// NewMetrics returns the metrics of a process whose database is st, which
// the scrape-time gauges query.
func NewMetrics(st *store.Store) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "recur_http_request_duration_seconds",
			Help:    "Time from receiving a request's headers to the end of its answer, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_http_rejected_total",
			Help: "Requests answered 429 to protect the service: rate_limit (too many requests of an account) or import_queue_full (too many unfinished imports of an account).",
		}, []string{"reason"}),
		injected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_injected_faults_total",
			Help: "Requests given a fault on purpose (sandbox serve --inject-…): 429 or 503 (answered without doing the work), or drop (done, then the connection closed without an answer).",
		}, []string{"fault"}),
		importsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_imports_finished_total",
			Help: "Bulk imports this process's workers finished, by final status.",
		}, []string{"status"}),
		recordsImported: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_import_records_imported_total",
			Help: "Records of finished bulk imports that were applied, by record type.",
		}, []string{"type"}),
		recordsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_import_records_failed_total",
			Help: "Records of finished bulk imports that were rejected, by record type.",
		}, []string{"type"}),
		importDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "recur_import_duration_seconds",
			Help:    "Time from a bulk import's acceptance (its created_at) to its end.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}),
	}
	// Series that exist before the first event, so that rates and alerts
	// work from the first scrape rather than from the first failure.
	for _, st := range []chartmogul.ImportStatus{chartmogul.ImportCompleted, chartmogul.ImportFailed} {
		m.importsFinished.WithLabelValues(string(st))
	}
	for _, t := range chartmogul.RecordTypes {
		m.recordsImported.WithLabelValues(string(t))
		m.recordsFailed.WithLabelValues(string(t))
	}
	for _, reason := range []string{rejectRateLimit, rejectQueueFull} {
		m.rejected.WithLabelValues(reason)
	}
	for _, fault := range []string{fault429, fault503, faultDrop} {
		m.injected.WithLabelValues(fault)
	}
	m.Registry.MustRegister(m.httpRequests, m.httpDuration, m.rejected, m.injected, m.importsFinished, m.recordsImported, m.recordsFailed, m.importDuration,
		newDatabaseCollector(st),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// The reasons of recur_http_rejected_total.
const (
	rejectRateLimit = "rate_limit"
	rejectQueueFull = "import_queue_full"
)

// Handler serves the metrics in Prometheus's text format (or OpenMetrics,
// when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		Registry:          m.Registry,
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// ImportFinished counts an import that a worker of this process finished,
// with its final status and its report (nil when its payload could not be
// read at all). It is the importer's Finished hook.
func (m *Metrics) ImportFinished(imp *chartmogul.Import, status chartmogul.ImportStatus, report *chartmogul.ImportReport) {
	m.importsFinished.WithLabelValues(string(status)).Inc()
	if d := time.Since(imp.CreatedAt); d >= 0 {
		m.importDuration.Observe(d.Seconds())
	}
	if report == nil {
		return
	}
	for t, n := range report.Counts {
		if n == nil {
			continue
		}
		m.recordsImported.WithLabelValues(string(t)).Add(float64(n.Imported))
		m.recordsFailed.WithLabelValues(string(t)).Add(float64(n.Failed))
	}
}

// observeRequest counts one answered request.
func (m *Metrics) observeRequest(route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// databaseCollector reads the gauges of shared state from the database at
// scrape time. A database that does not answer within the timeout makes
// recur_database_up 0 and leaves the other gauges out of that scrape, rather
// than failing the whole scrape: the process's own counters stay visible
// precisely when something is wrong.
type databaseCollector struct {
	st                   *store.Store
	imports, queue, dbUp *prometheus.Desc
}

// scrapeTimeout bounds the scrape-time queries.
const scrapeTimeout = 5 * time.Second

func newDatabaseCollector(st *store.Store) *databaseCollector {
	return &databaseCollector{
		st:      st,
		imports: prometheus.NewDesc("recur_imports_unfinished", "Bulk imports of all accounts waiting to be applied (queued) or being applied (processing), read from the database.", []string{"status"}, nil),
		queue:   prometheus.NewDesc("recur_queue_jobs", "River jobs per queue and state (available, running, retryable, scheduled), read from the database.", []string{"queue", "state"}, nil),
		dbUp:    prometheus.NewDesc("recur_database_up", "1 when the database answered this scrape's queries, 0 when it did not.", nil, nil),
	}
}

// Describe sends the descriptors of the gauges.
func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.imports
	ch <- c.queue
	ch <- c.dbUp
}

// Collect queries the database for the gauges.
func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	up := 1.0
	if counts, err := c.st.UnfinishedImportCounts(ctx); err != nil {
		up = 0
	} else {
		for status, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.imports, prometheus.GaugeValue, float64(n), string(status))
		}
	}
	if jobs, err := c.st.QueueDepth(ctx); err != nil {
		up = 0
	} else {
		for _, j := range jobs {
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(j.Jobs), j.Queue, j.State)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.dbUp, prometheus.GaugeValue, up)
}

// healthz answers that the process is alive. It checks nothing else: a
// liveness probe that failed whenever the database did would restart every
// process at once during a database outage, which cures nothing.
func healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyTimeout bounds the readiness check, so that a probe gets an answer
// before its own timeout even when the database hangs.
const readyTimeout = 3 * time.Second

// readyz answers whether this process can serve: the database answers and
// has every migration applied. 503 takes it out of a load balancer's
// rotation until it can.
func readyz(st *store.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := st.Ready(ctx); err != nil {
			msg := err.Error()
			if e := (*chartmogul.Error)(nil); errors.As(err, &e) && e.Message != "" {
				msg = e.Message
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": msg})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// OpsHandler serves /metrics, /healthz and /readyz alone, without
// authentication: what `recur worker --metrics-addr` listens with, since a
// worker serves no API.
func OpsHandler(st *store.Store, m *Metrics) http.Handler {
	mux := http.NewServeMux()
	registerOps(mux, st, m)
	return mux
}

// registerOps adds the operator routes to mux.
func registerOps(mux *http.ServeMux, st *store.Store, m *Metrics) {
	if m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz(st))
}
