package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/importer"
	"github.com/recurhq/recur/sandbox/store"
)

// serve runs the API and, unless --no-workers, the import workers, until ctx
// is cancelled; then it stops taking requests, lets running imports finish
// (or cuts them off after the grace period, to be resumed at the next start)
// and closes the database.
func serve(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flags("serve", stderr)
	addr := fs.String("addr", cmp.Or(getenv("RECUR_ADDR"), "127.0.0.1:8080"), "address to listen on (RECUR_ADDR)")
	dbURL := fs.String("database", databaseURL(getenv), "database: sqlite:PATH or postgres://… (RECUR_DATABASE_URL)")
	maxPayload := fs.String("max-payload", cmp.Or(getenv("RECUR_MAX_PAYLOAD"), "5MB"), "largest bulk import body, e.g. 5MB (RECUR_MAX_PAYLOAD)")
	noWorkers := fs.Bool("no-workers", false, "serve the API only; imports are applied by `sandbox worker` processes")
	workers := fs.Int("import-workers", 2, "imports applied at once by this process")
	poll := fs.Duration("poll-interval", 0, "how often idle workers look for jobs (default 20ms on SQLite, 1s on PostgreSQL, which is notified)")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long running imports may take to finish at shutdown")
	rateLimit := fs.Float64("rate-limit", api.DefaultRateLimit, "requests per second each account may make; 0 disables the limit")
	rateBurst := fs.Int("rate-burst", 0, "requests an account may make at once above --rate-limit (default one second's worth)")
	maxQueued := fs.Int("max-queued-imports", api.DefaultMaxQueuedImports, "unfinished imports an account may have before new ones are answered 429; 0 disables the bound")
	readHeaderTimeout := fs.Duration("read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	readTimeout := fs.Duration("read-timeout", 2*time.Minute, "how long a client may take to send a whole request, body included")
	writeTimeout := fs.Duration("write-timeout", 2*time.Minute, "how long answering a request may take, from the end of its headers")
	maxHeader := fs.String("max-header-bytes", "64KB", "largest request header block; larger ones are answered 431")
	readFaults := faultFlags(fs) // inject.go
	if err := parse(fs, args); err != nil {
		return err
	}
	limit, err := parseSize(*maxPayload)
	if err != nil {
		return usageError{"--max-payload: " + err.Error()}
	}
	headerLimit, err := parseSize(*maxHeader)
	if err != nil {
		return usageError{"--max-header-bytes: " + err.Error()}
	}
	if *rateLimit < 0 || *rateBurst < 0 || *maxQueued < 0 {
		return usageError{"--rate-limit, --rate-burst and --max-queued-imports must not be negative; 0 turns the limit off"}
	}
	faults, err := readFaults()
	if err != nil {
		return err
	}
	log := newLogger(getenv, stderr)

	st, err := store.Open(ctx, *dbURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	st.AfterWrite = st.Touch // every write of records queues its customers' analytics recompute
	if err := installKeys(ctx, st, getenv, stdout); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", *addr, err)
	}
	defer ln.Close()

	srv := api.New(st, log)
	srv.MaxPayload = limit
	srv.RateLimit, srv.RateBurst, srv.MaxQueuedImports = *rateLimit, *rateBurst, *maxQueued
	srv.Faults = faults

	var queue store.Queue
	if !*noWorkers {
		if queue, err = startWorkers(ctx, st, log, *workers, *poll, srv.Metrics); err != nil {
			return err
		}
	}

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: *readHeaderTimeout,
		ReadTimeout:       *readTimeout,
		WriteTimeout:      *writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    int(headerLimit),
		ErrorLog:          nil,
	}
	if faults.Enabled() {
		fmt.Fprintln(stdout, faultsLine(faults))
	}
	fmt.Fprintf(stdout, "Recur is listening on http://%s (database %s)\n", ln.Addr(), redactURL(*dbURL))
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("the HTTP server stopped: %w", err)
	}
	log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := hs.Shutdown(stopCtx); err != nil {
		log.Warn("requests were still running at shutdown", "error", err)
	}
	if queue != nil {
		stopWorkers(stopCtx, queue, log)
	}
	return nil
}

// startWorkers starts this process's import workers, which count the
// imports they finish in metrics (when not nil). The workers outlive ctx:
// on shutdown they are stopped gracefully (stopWorkers), not cut off by the
// signal.
func startWorkers(ctx context.Context, st *store.Store, log *slog.Logger, workers int, poll time.Duration, metrics *api.Metrics) (store.Queue, error) {
	im := importer.New(st, log)
	im.Webhooks.Render = api.ImportJSON // webhook bodies are exactly GET's (api/webhooks.go)
	if metrics != nil {
		im.Finished = metrics.ImportFinished
	}
	if poll == 0 && st.Engine() == store.SQLite {
		// SQLite cannot notify workers of new jobs; poll often, so that an
		// import waits a few milliseconds, not River's default second.
		poll = 20 * time.Millisecond
	}
	queue, err := st.StartWorkers(context.WithoutCancel(ctx), im.Workers(), store.QueueConfig{
		ImportWorkers: workers, PollInterval: poll, JobTimeout: 10 * time.Minute, RescueAfter: 15 * time.Minute,
		PeriodicJobs: im.PeriodicJobs(),
		Logger:       log.With("component", "river"),
		ErrorHandler: &jobErrors{log: log},
	})
	if err != nil {
		return nil, err
	}
	// The start-up work below is short and must not be cut off half-done by
	// a signal arriving meanwhile: the workers are stopped properly after.
	startCtx := context.WithoutCancel(ctx)
	// Imports cut off by a crash or a hard stop resume now rather than when
	// River rescues their jobs.
	if n, err := im.Resume(startCtx); err != nil {
		queue.StopAndCancel(startCtx)
		return nil, err
	} else if n > 0 {
		log.Info("resuming unfinished imports", "imports", n)
	}
	// Customers whose analytics were never computed (imported before
	// analytics existed) get them now.
	if n, err := st.QueueMissingAnalytics(startCtx); err != nil {
		queue.StopAndCancel(startCtx)
		return nil, err
	} else if n > 0 {
		log.Info("computing missing analytics", "accounts", n)
	}
	return queue, nil
}

// stopWorkers lets running imports finish until ctx ends, then cuts them
// off; an import cut off resumes at the next start.
func stopWorkers(ctx context.Context, queue store.Queue, log *slog.Logger) {
	if err := queue.Stop(ctx); err != nil {
		log.Warn("imports were still running at shutdown; they resume at the next start", "error", err)
		cutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		queue.StopAndCancel(cutCtx)
	}
}

// jobErrors logs the errors and panics of jobs; River retries them.
type jobErrors struct{ log *slog.Logger }

func (h *jobErrors) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.Error("job failed; it will be retried", "kind", job.Kind, "attempt", job.Attempt, "error", err)
	return nil
}

func (h *jobErrors) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.Error("job panicked; it will be retried", "kind", job.Kind, "attempt", job.Attempt, "panic", panicVal, "trace", trace)
	return nil
}

// installKeys gives the default account its first key: RECUR_API_KEY when
// set, otherwise a generated key printed once.
func installKeys(ctx context.Context, st *store.Store, getenv env, stdout io.Writer) error {
	account, err := st.EnsureAccount(ctx, store.DefaultAccount)
	if err != nil {
		return err
	}
	if key := getenv("RECUR_API_KEY"); key != "" {
		_, err := st.InstallKey(ctx, account.ID, key, chartmogul.AccessReadWrite)
		if err != nil {
			return fmt.Errorf("RECUR_API_KEY cannot be installed: %w", err)
		}
		return nil
	}
	has, err := st.HasKeys(ctx, account.ID)
	if err != nil || has {
		return err
	}
	key, err := st.CreateKey(ctx, account.ID, chartmogul.AccessReadWrite)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created an API key for account %q:\n\n    %s\n\nIt is shown only this once: keep it somewhere safe. `sandbox keys create` makes more.\n\n", account.Name, key)
	return nil
}

// parseSize reads a byte count such as 5242880, 5MB, 512KB or 5MiB. MB means
// 2^20 bytes, as ChartMogul's "5 MB" limit does.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"MIB", 1 << 20}, {"KIB", 1 << 10}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size such as 5MB or 5242880; got " + strconv.Quote(s))
	}
	return n * mult, nil
}
