// Package server runs the local ChartMogul inside a process: the Import API
// and, unless told otherwise, the import workers, on one database. It is
// what `go run ./sandbox serve` runs, and what the Recur worker starts as
// its embedded default when no ChartMogul API key is configured, so that
// the two never differ.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/importer"
	"github.com/recurhq/recur/sandbox/store"
)

// Options configure a Server. The zero value of a limit means ChartMogul's
// default where one exists (MaxPayload), and "off" otherwise.
type Options struct {
	// Addr is the address to listen on, e.g. 127.0.0.1:8080; ignored when
	// Listener is set.
	Addr     string
	Listener net.Listener
	// Database is sqlite:PATH or postgres://….
	Database string
	// MaxPayload bounds a bulk import's body (default 5 MB).
	MaxPayload int64
	// RateLimit and RateBurst limit each account's requests per second;
	// MaxQueuedImports bounds its unfinished imports.
	RateLimit        float64
	RateBurst        int
	MaxQueuedImports int
	// NoWorkers serves the API only; ImportWorkers is how many imports this
	// process applies at once (default 2); PollInterval how often idle
	// workers look for jobs (default 20ms on SQLite, 1s on PostgreSQL).
	NoWorkers     bool
	ImportWorkers int
	PollInterval  time.Duration
	// Faults are injected on purpose, for fault tests.
	Faults api.Faults
	// HTTP server limits; zero values take the defaults of `sandbox serve`.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout time.Duration
	MaxHeaderBytes                               int
	Log                                          *slog.Logger
}

// Server is a running local ChartMogul.
type Server struct {
	// URL is where it answers, e.g. http://127.0.0.1:8080.
	URL   string
	Store *store.Store
	API   *api.Server

	http   *http.Server
	ln     net.Listener
	queue  store.Queue
	log    *slog.Logger
	served chan error
}

// Start opens the database (applying its migrations), starts the import
// workers and serves the API. The caller stops it with Stop.
func Start(ctx context.Context, opt Options) (*Server, error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := store.Open(ctx, opt.Database, store.Options{})
	if err != nil {
		return nil, err
	}
	st.AfterWrite = st.Touch // every write of records queues its customers' analytics recompute
	ln := opt.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", opt.Addr); err != nil {
			st.Close()
			return nil, fmt.Errorf("the local ChartMogul cannot listen on %s: %w", opt.Addr, err)
		}
	}
	srv := api.New(st, log)
	if opt.MaxPayload > 0 {
		srv.MaxPayload = opt.MaxPayload
	}
	srv.RateLimit, srv.RateBurst, srv.MaxQueuedImports = opt.RateLimit, opt.RateBurst, opt.MaxQueuedImports
	srv.Faults = opt.Faults
	s := &Server{URL: "http://" + ln.Addr().String(), Store: st, API: srv, ln: ln, log: log, served: make(chan error, 1)}
	if !opt.NoWorkers {
		if s.queue, err = StartWorkers(ctx, st, log, opt.ImportWorkers, opt.PollInterval, srv.Metrics); err != nil {
			ln.Close()
			st.Close()
			return nil, err
		}
	}
	s.http = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: orDefault(opt.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       orDefault(opt.ReadTimeout, 2*time.Minute),
		WriteTimeout:      orDefault(opt.WriteTimeout, 2*time.Minute),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    int(orDefault(time.Duration(opt.MaxHeaderBytes), 64<<10)),
	}
	go func() { s.served <- s.http.Serve(ln) }()
	return s, nil
}

func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// Done is closed, with the error, when the HTTP server stops on its own.
func (s *Server) Done() <-chan error { return s.served }

// Stop stops taking requests, lets running imports finish until ctx ends
// (an import cut off resumes at the next start) and closes the database.
func (s *Server) Stop(ctx context.Context) {
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("requests were still running at shutdown", "error", err)
	}
	if s.queue != nil {
		StopWorkers(ctx, s.queue, s.log)
	}
	s.Store.Close()
}

// CreateKey makes a new API key for the default account, with write access.
func (s *Server) CreateKey(ctx context.Context) (string, error) {
	account, err := s.Store.EnsureAccount(ctx, store.DefaultAccount)
	if err != nil {
		return "", err
	}
	return s.Store.CreateKey(ctx, account.ID, chartmogul.AccessReadWrite)
}

// StartWorkers starts this process's import workers, which count the
// imports they finish in metrics (when not nil). The workers outlive ctx:
// on shutdown they are stopped gracefully (StopWorkers), not cut off by the
// signal.
func StartWorkers(ctx context.Context, st *store.Store, log *slog.Logger, workers int, poll time.Duration, metrics *api.Metrics) (store.Queue, error) {
	if workers <= 0 {
		workers = 2
	}
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

// StopWorkers lets running imports finish until ctx ends, then cuts them
// off; an import cut off resumes at the next start.
func StopWorkers(ctx context.Context, queue store.Queue, log *slog.Logger) {
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
