package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// ApplyImportArgs is the River job that applies the bulk imports of a data
// source, in arrival order, up to and including ImportID. The store enqueues
// it in the transaction that stores the import; package importer works it.
type ApplyImportArgs struct {
	ImportID     int64 `json:"import_id"`
	DataSourceID int64 `json:"data_source_id"`
}

// Kind names the job for River.
func (ApplyImportArgs) Kind() string { return "recur.apply_import" }

// QueueImports is the River queue of import jobs.
const QueueImports = "imports"

// InsertOpts puts import jobs on their queue.
func (ApplyImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueImports, MaxAttempts: 25}
}

// jobInserter inserts River jobs inside a store transaction, on either
// engine.
type jobInserter interface {
	insertJobTx(ctx context.Context, tx *txn, args river.JobArgs, opts *river.InsertOpts) error
}

// pendingJobTx reports whether a job of this kind waits to run (not one that
// is running: it may have read its work already). It reads River's job table
// directly, with one small prepared statement, rather than through River's
// general job listing, which costs a single-object write a sixth of its time
// on SQLite.
func pendingJobTx(ctx context.Context, tx *txn, kind string) (bool, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM river_job WHERE kind = $1
		AND state IN ('available', 'scheduled', 'retryable', 'pending') LIMIT 1) p`, kind).Scan(&n)
	return n > 0, err
}

// QueueConfig tunes the workers of one process.
type QueueConfig struct {
	// ImportWorkers is how many imports this process applies at once.
	ImportWorkers int
	// PollInterval is how often an idle worker looks for jobs. SQLite has no
	// LISTEN/NOTIFY, so it bounds how long an import waits to be picked up.
	PollInterval time.Duration
	// JobTimeout bounds one job's run.
	JobTimeout time.Duration
	// RescueAfter is how long a job may run before River hands it to another
	// worker, assuming its process died.
	RescueAfter time.Duration
	// ErrorHandler sees job errors, for logs.
	ErrorHandler river.ErrorHandler
	// Logger receives River's own log lines (connection trouble, retries).
	Logger *slog.Logger
	// PeriodicJobs run on the elected leader among all workers.
	PeriodicJobs []*river.PeriodicJob
}

// Queue is a running set of River workers.
type Queue interface {
	// Stop waits for running jobs to finish, then stops.
	Stop(ctx context.Context) error
	// StopAndCancel cancels running jobs, then stops.
	StopAndCancel(ctx context.Context) error
}

// StartWorkers starts River workers on the store's database, working the
// jobs registered in workers. It returns once the workers run.
func (s *Store) StartWorkers(ctx context.Context, workers *river.Workers, cfg QueueConfig) (Queue, error) {
	if cfg.ImportWorkers <= 0 {
		cfg.ImportWorkers = 2
	}
	rc := &river.Config{
		Queues:               map[string]river.QueueConfig{QueueImports: {MaxWorkers: cfg.ImportWorkers}, QueueWebhooks: {MaxWorkers: WebhookWorkers}},
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		ErrorHandler:         cfg.ErrorHandler,
		PeriodicJobs:         cfg.PeriodicJobs,
		Logger:               cfg.Logger,
	}
	if cfg.PollInterval > 0 {
		rc.FetchPollInterval = cfg.PollInterval
		rc.FetchCooldown = min(cfg.PollInterval, 10*time.Millisecond)
	}
	switch e := s.eng.(type) {
	case *sqliteEngine:
		c, err := river.NewClient(riversqlite.New(e.writer), rc)
		if err != nil {
			return nil, fmt.Errorf("set up the workers: %w", err)
		}
		if err := c.Start(ctx); err != nil {
			return nil, fmt.Errorf("start the workers: %w", err)
		}
		return c, nil
	case *postgresEngine:
		c, err := river.NewClient(riverpgxv5.New(e.pool), rc)
		if err != nil {
			return nil, fmt.Errorf("set up the workers: %w", err)
		}
		if err := c.Start(ctx); err != nil {
			return nil, fmt.Errorf("start the workers: %w", err)
		}
		return c, nil
	}
	return nil, errors.New("store: unknown engine")
}

var (
	_ Queue = (*river.Client[*sql.Tx])(nil)
	_ Queue = (*river.Client[pgx.Tx])(nil)
)
