package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/server"
	"github.com/recurhq/recur/sandbox/store"
)

// worker runs import workers without the API: the worker processes of a
// scaled-out installation, beside `sandbox serve --no-workers` processes, all
// on one PostgreSQL database.
func worker(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flags("worker", stderr)
	dbURL := fs.String("database", databaseURL(getenv), "database: postgres://… (RECUR_DATABASE_URL); SQLite works, but one `sandbox serve` already runs its workers")
	workers := fs.Int("import-workers", 2, "imports applied at once by this process")
	poll := fs.Duration("poll-interval", 0, "how often idle workers look for jobs (default 20ms on SQLite, 1s on PostgreSQL, which is notified)")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long running imports may take to finish at shutdown")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:9090 (default: not served)")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := newLogger(getenv, stderr)
	st, err := store.Open(ctx, *dbURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	st.AfterWrite = st.Touch // every write of records queues its customers' analytics recompute
	var metrics *api.Metrics
	var ops *http.Server
	if *metricsAddr != "" {
		metrics = api.NewMetrics(st)
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s for metrics: %w", *metricsAddr, err)
		}
		defer ln.Close()
		ops = &http.Server{Handler: api.OpsHandler(st, metrics), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
		go ops.Serve(ln)
		fmt.Fprintf(stdout, "Recur worker metrics are at http://%s/metrics\n", ln.Addr())
	}
	queue, err := server.StartWorkers(ctx, st, log, *workers, *poll, metrics)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Recur worker is running (database %s)\n", redactURL(*dbURL))
	<-ctx.Done()
	log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	server.StopWorkers(stopCtx, queue, log)
	if ops != nil {
		// After the workers, so that a last scrape sees their final counts.
		ops.Shutdown(stopCtx)
	}
	return nil
}
