package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the billing and state databases
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	operatorpb "go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/recurhq/recur/activities"
	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/server"
	"github.com/recurhq/recur/workflows"
)

// run is the whole worker: main only supplies the process's context,
// arguments, environment and streams. Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(getenv, stderr)
	w, err := start(ctx, cfg, getenv, log, stdout)
	if err != nil {
		return err
	}
	defer w.close()
	fmt.Fprintf(stdout, "Recur is running: task queue %q, namespace %q, data source %s. Start a sync with `go run ./starter sync` or from the Web UI (workflow type %s, input {}).\n",
		cfg.taskQueue, cfg.namespace, cfg.dataSource, workflows.SyncWorkflowName)
	select {
	case <-ctx.Done():
		log.Info("stopping: running activities finish, workflows resume at the next start")
		return nil
	case err := <-w.failed:
		return err
	}
}

// running is a started worker and what it started with it.
type running struct {
	closers []func()
	failed  chan error
	// temporal, chartmogul and sandbox (when embedded) are what the worker
	// talks to; end-to-end tests look at them too.
	temporal   client.Client
	chartmogul *chartmogul.Client
	sandbox    *server.Server
}

func (r *running) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// start starts everything: the embedded dev server and local ChartMogul
// when nothing else is configured, the databases, the metrics, and the
// Temporal worker.
func start(ctx context.Context, cfg *config, getenv func(string) string, log *slog.Logger, stdout io.Writer) (_ *running, err error) {
	r := &running{failed: make(chan error, 1)}
	defer func() {
		if err != nil {
			r.close()
		}
	}()

	// Temporal: a cluster, or the CLI's dev server with its Web UI.
	embedded := cfg.temporalAddress == ""
	if embedded {
		dev, err := startDevServer(ctx, cfg, getenv, log, stdout)
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, func() { _ = dev.Stop() })
		cfg.temporalAddress = dev.FrontendHostPort()
		fmt.Fprintf(stdout, "Temporal dev server on %s, Web UI at http://127.0.0.1:%d (history in %s)\n", cfg.temporalAddress, cfg.uiPort, cfg.devDB)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)).Meter("temporal-sdk-go")
	opts := client.Options{
		HostPort:       cfg.temporalAddress,
		Namespace:      cfg.namespace,
		Logger:         sdklog.NewStructuredLogger(log),
		MetricsHandler: temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{Meter: meter}),
	}
	if err := temporalCredentials(cfg, &opts); err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (%w): check TEMPORAL_ADDRESS, or unset it to start the embedded dev server", cfg.temporalAddress, err)
	}
	r.closers = append(r.closers, c.Close)
	r.temporal = c

	// ChartMogul: the account of CHARTMOGUL_API_KEY, or the local one.
	cm, err := connectChartMogul(ctx, cfg, log, stdout, r)
	if err != nil {
		return nil, err
	}
	r.chartmogul = cm

	// The databases.
	state, err := openDatabase(ctx, cfg.stateDB, "state")
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, func() { state.Close() })
	st := &activities.State{DB: state}
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := st.RecordWorker(ctx, cfg.namespace, cfg.taskQueue, cfg.dataSource); err != nil {
		return nil, err
	}
	billing := state
	if cfg.billingDB != cfg.stateDB {
		if billing, err = openDatabase(ctx, cfg.billingDB, "billing"); err != nil {
			return nil, err
		}
		r.closers = append(r.closers, func() { billing.Close() })
	}
	if err := billing.PingContext(ctx); err != nil {
		// Not fatal: a sync says what to fix, and the worker serves the
		// workflows that do not need it meanwhile.
		log.Warn("the billing database does not answer; syncs fail until it does", "database", redactURL(cfg.billingDB), "error", err)
	}

	metrics := activities.NewMetrics(reg)
	// The budget draws on a pool of its own: however busy the state
	// database's pool, a request to ChartMogul can always reserve its slot.
	budgetDB, err := openDatabase(ctx, cfg.stateDB, "state")
	if err != nil {
		return nil, err
	}
	budgetDB.SetMaxOpenConns(4)
	r.closers = append(r.closers, func() { budgetDB.Close() })
	budget := &activities.Budget{DB: budgetDB, Account: activities.BudgetAccount(cm.BaseURL, cm.APIKey), Rate: cfg.rateBudget}
	cm.Before = func(ctx context.Context, method, path string) error { return budget.Wait(ctx) }
	cm.After = metrics.Answer
	if cfg.metricsAddr != "" {
		if err := serveMetrics(cfg.metricsAddr, reg, log, r); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "Metrics at http://%s/metrics\n", cfg.metricsAddr)
	}

	searchAttributes := embedded || hasSearchAttributes(ctx, c, cfg.namespace, log)
	submitter := &activities.Submitter{State: st, Client: cm, Log: log, Linger: cfg.packLinger, MaxLinger: cfg.packMaxLinger,
		MaxCustomers: cfg.packCustomers, MaxBytes: cfg.partBytes, Budget: budget, Metrics: metrics}
	acts := &activities.Activities{
		Config:     activities.Config{DataSource: cfg.dataSource, SearchAttributes: searchAttributes, PartBytes: cfg.partBytes},
		Source:     &activities.Source{DB: billing, Schema: cfg.sourceSchema, Queries: cfg.sourceQuery},
		State:      st,
		ChartMogul: cm,
		Submitter:  submitter,
		Poller:     &activities.Poller{Client: cm, Size: submitter.ImportSize},
		Temporal:   c,
		Log:        log,
		Metrics:    metrics,
	}
	w := worker.New(c, cfg.taskQueue, worker.Options{
		// Most of a customer's steps are local activities; enough workflow
		// task pollers keep the dev server's single shard busy.
		MaxConcurrentWorkflowTaskPollers:        cfg.pollers,
		MaxConcurrentLocalActivityExecutionSize: cfg.activities,
		MaxConcurrentActivityExecutionSize:      cfg.activities,
		WorkerStopTimeout:                       10 * time.Second,
	})
	register(w, acts)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("the Temporal worker did not start: %w", err)
	}
	r.closers = append(r.closers, w.Stop)

	if cfg.schedule != "" {
		if err := activities.EnsureSchedule(ctx, c, activities.ScheduleSpec{DataSource: cfg.dataSource, Cron: cfg.schedule,
			TimeZone: cfg.timezone, TaskQueue: cfg.taskQueue, SearchAttributes: searchAttributes}); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "Nightly schedule %s: %q (%s)\n", workflows.ScheduleID(cfg.dataSource), cfg.schedule, cfg.timezone)
	}
	return r, nil
}

// register registers Recur's workflows and activities on w, by the names the
// workflows call them.
func register(w worker.Registry, acts *activities.Activities) {
	w.RegisterWorkflowWithOptions(workflows.SyncWorkflow, workflow.RegisterOptions{Name: workflows.SyncWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CustomerImportWorkflow, workflow.RegisterOptions{Name: workflows.CustomerWorkflowName})
	// Method names are the activity names of package workflows.
	w.RegisterActivityWithOptions(acts, activity.RegisterOptions{})
}

// connectChartMogul returns the client of the configured account, or starts
// the local ChartMogul, makes a key and a data source on it, and returns
// its client.
func connectChartMogul(ctx context.Context, cfg *config, log *slog.Logger, stdout io.Writer, r *running) (*chartmogul.Client, error) {
	if cfg.apiKey != "" {
		cm := chartmogul.NewClient(cfg.chartmogulURL, cfg.apiKey)
		if cfg.dataSource == "" {
			// No data source named: use the account's data source named
			// Recur, made the first time, and say so.
			ds, err := localDataSource(ctx, cm)
			if err != nil {
				return nil, fmt.Errorf("CHARTMOGUL_DATA_SOURCE is not set and the data source %q could not be found or created at %s: %w; set CHARTMOGUL_DATA_SOURCE to a data source uuid", localDataSourceName, cfg.chartmogulURL, err)
			}
			cfg.dataSource = ds
			fmt.Fprintf(stdout, "ChartMogul at %s: importing into data source %s (%q; set CHARTMOGUL_DATA_SOURCE to choose another)\n", cfg.chartmogulURL, ds, localDataSourceName)
		}
		return cm, nil
	}
	// The local ChartMogul logs only what goes wrong: its request log
	// would drown the worker's.
	quiet := slog.New(&levelHandler{min: slog.LevelWarn, Handler: log.Handler()}).With("component", "sandbox")
	srv, err := server.Start(ctx, server.Options{Addr: cfg.sandboxAddr, Database: cfg.sandboxDB, RateLimit: 40, Log: quiet})
	if err != nil {
		return nil, fmt.Errorf("%w; stop what uses the port or set --sandbox-addr, or set CHARTMOGUL_API_KEY to use ChartMogul itself", err)
	}
	r.closers = append(r.closers, func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Stop(stopCtx)
	})
	r.sandbox = srv
	key, err := srv.CreateKey(ctx)
	if err != nil {
		return nil, err
	}
	cm := chartmogul.NewClient(srv.URL, key)
	if cfg.dataSource == "" {
		if cfg.dataSource, err = localDataSource(ctx, cm); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(stdout, "Local ChartMogul at %s (database %s): data source %s, API key %s (local only)\n", srv.URL, cfg.sandboxDB, cfg.dataSource, key)
	return cm, nil
}

// localDataSourceName is the data source the worker imports into when
// CHARTMOGUL_DATA_SOURCE names none: made the first time.
const localDataSourceName = "Recur"

// localDataSource returns the account's data source named Recur, creating
// it the first time.
func localDataSource(ctx context.Context, cm *chartmogul.Client) (string, error) {
	list, err := cm.DataSources(ctx)
	if err != nil {
		return "", err
	}
	for _, ds := range list {
		if ds.Name == localDataSourceName {
			return ds.UUID, nil
		}
	}
	ds, err := cm.CreateDataSource(ctx, localDataSourceName)
	if err != nil {
		return "", err
	}
	return ds.UUID, nil
}

// openDatabase opens a PostgreSQL database.
func openDatabase(ctx context.Context, url, what string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, usageError{fmt.Sprintf("the %s database URL %s is not usable: %v", what, redactURL(url), err)}
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	db.SetConnMaxIdleTime(time.Minute)
	if what == "state" {
		var lastErr error
		for attempt := 0; attempt < 10; attempt++ {
			if lastErr = db.PingContext(ctx); lastErr == nil {
				return db, nil
			}
			select {
			case <-ctx.Done():
				db.Close()
				return nil, ctx.Err()
			case <-time.After(time.Second):
			}
		}
		db.Close()
		return nil, fmt.Errorf("the state database at %s does not answer (%v): start PostgreSQL there, or set STATE_DATABASE_URL (default: BILLING_DATABASE_URL)", redactURL(url), lastErr)
	}
	return db, nil
}

// hasSearchAttributes reports whether the namespace has Recur's search
// attributes; without them workflows do not set any, and the worker says
// how to create them.
func hasSearchAttributes(ctx context.Context, c client.Client, namespace string, log *slog.Logger) bool {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorpb.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		log.Warn("cannot list the namespace's search attributes; workflows set none", "error", err)
		return false
	}
	for _, name := range workflows.SearchAttributeNames {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			log.Warn("the namespace lacks Recur's search attributes, so syncs cannot be searched by data source, customer or outcome; create them with: temporal operator search-attribute create --namespace "+
				namespace+" --name RecurDataSource --type Keyword --name RecurCustomer --type Keyword --name RecurOutcome --type Keyword", "missing", name)
			return false
		}
	}
	return true
}

// serveMetrics serves Prometheus metrics on addr.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger, r *running) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot serve metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the metrics server stopped", "error", err)
		}
	}()
	r.closers = append(r.closers, func() { hs.Close() })
	return nil
}

// newLogger logs text, or JSON with RECUR_LOG_FORMAT=json; the SDK adds the
// workflow and activity ids to every line it logs.
func newLogger(getenv func(string) string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if getenv("RECUR_LOG_LEVEL") == "debug" {
		opts.Level = slog.LevelDebug
	}
	if getenv("RECUR_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// levelHandler drops records below min.
type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &levelHandler{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}

// temporalCredentials sets TLS and an API key or client certificate for a
// Temporal cluster or Temporal Cloud.
func temporalCredentials(cfg *config, opts *client.Options) error {
	if cfg.temporalAPIKey == "" && cfg.tlsCert == "" && cfg.tlsCA == "" {
		return nil
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.tlsCA != "" {
		pem, err := os.ReadFile(cfg.tlsCA)
		if err != nil {
			return usageError{fmt.Sprintf("--temporal-tls-ca: %v", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return usageError{fmt.Sprintf("--temporal-tls-ca: %s holds no PEM certificate", cfg.tlsCA)}
		}
		tlsConfig.RootCAs = pool
	}
	opts.ConnectionOptions.TLS = tlsConfig
	switch {
	case cfg.tlsCert != "":
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return usageError{fmt.Sprintf("--temporal-tls-cert/--temporal-tls-key cannot be loaded: %v", err)}
		}
		opts.Credentials = client.NewMTLSCredentials(cert)
	case cfg.temporalAPIKey != "":
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.temporalAPIKey)
	}
	return nil
}
