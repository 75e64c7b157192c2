package activities

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"
)

// State is the state database: schema recur, in the billing database unless
// configured otherwise. It holds what ChartMogul already has from Recur (the
// ledger), the claim checks of extracted rows and built payloads that
// workflow histories only name by id, every import submitted, and the
// failures and conflicts of the last imports.
type State struct {
	DB *sqlx.DB
}

// migrations are applied in order, each once, under an advisory lock, so
// that any number of workers may start at once. Never edit one that has
// shipped: add another.
var migrations = []string{
	`CREATE SCHEMA IF NOT EXISTS recur`,
	`CREATE TABLE recur.extracts (
		id          bigserial PRIMARY KEY,
		data_source text NOT NULL,
		customer    text NOT NULL,
		workflow_id text NOT NULL,
		body        bytea NOT NULL,
		hash        text NOT NULL,
		created_at  timestamptz NOT NULL DEFAULT now()
	)`,
	`CREATE TABLE recur.imports (
		id            bigserial PRIMARY KEY,
		data_source   text NOT NULL,
		external_id   text NOT NULL UNIQUE,
		chartmogul_id text,
		status        text NOT NULL DEFAULT 'packed',
		customers     text[] NOT NULL,
		records       int NOT NULL,
		bytes         int NOT NULL,
		reason        text,
		created_at    timestamptz NOT NULL DEFAULT now(),
		submitted_at  timestamptz,
		finished_at   timestamptz
	)`,
	`CREATE TABLE recur.parts (
		id          bigserial PRIMARY KEY,
		data_source text NOT NULL,
		customer    text NOT NULL,
		workflow_id text NOT NULL,
		seq         int NOT NULL,
		body        bytea NOT NULL,
		entries     bytea NOT NULL,
		counts      jsonb NOT NULL,
		records     int NOT NULL,
		bytes       int NOT NULL,
		import_id   bigint REFERENCES recur.imports (id),
		offsets     jsonb,
		created_at  timestamptz NOT NULL DEFAULT now()
	)`,
	`CREATE INDEX parts_import ON recur.parts (import_id)`,
	`CREATE INDEX parts_workflow ON recur.parts (workflow_id, customer)`,
	`CREATE TABLE recur.ledger (
		data_source text NOT NULL,
		type        text NOT NULL,
		external_id text NOT NULL,
		customer    text NOT NULL,
		hash        text NOT NULL,
		content     jsonb NOT NULL,
		import_id   text NOT NULL,
		imported_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (data_source, type, external_id)
	)`,
	`CREATE INDEX ledger_customer ON recur.ledger (data_source, customer)`,
	`CREATE TABLE recur.customer_hashes (
		data_source text NOT NULL,
		customer    text NOT NULL,
		hash        text NOT NULL,
		synced_at   timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (data_source, customer)
	)`,
	`CREATE TABLE recur.conflicts (
		data_source text NOT NULL,
		type        text NOT NULL,
		external_id text NOT NULL,
		customer    text NOT NULL,
		fields      text[] NOT NULL,
		first_seen  timestamptz NOT NULL DEFAULT now(),
		last_seen   timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (data_source, type, external_id)
	)`,
	`CREATE TABLE recur.record_failures (
		data_source text NOT NULL,
		customer    text NOT NULL,
		type        text NOT NULL,
		external_id text NOT NULL,
		field       text NOT NULL,
		message     text NOT NULL,
		import_id   text NOT NULL,
		workflow_id text NOT NULL,
		seen_at     timestamptz NOT NULL DEFAULT now()
	)`,
	`CREATE INDEX record_failures_customer ON recur.record_failures (data_source, customer)`,
	`CREATE TABLE recur.rate_budget (
		account text PRIMARY KEY,
		tat     timestamptz NOT NULL
	)`,
	`CREATE TABLE recur.workers (
		namespace   text NOT NULL,
		task_queue  text NOT NULL,
		data_source text NOT NULL,
		started_at  timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (namespace, task_queue)
	)`,
}

// RecordWorker records the data source a worker imports into by default, so
// that `starter sync` without --data-source syncs the same one.
func (s *State) RecordWorker(ctx context.Context, namespace, taskQueue, dataSource string) error {
	_, err := s.DB.ExecContext(ctx, `
INSERT INTO recur.workers (namespace, task_queue, data_source) VALUES ($1, $2, $3)
ON CONFLICT (namespace, task_queue) DO UPDATE SET data_source = EXCLUDED.data_source, started_at = now()`, namespace, taskQueue, dataSource)
	return stateError("cannot record the worker's data source", err)
}

// WorkerDataSource returns the data source the last worker of a task queue
// was configured with, or "" when none has run.
func (s *State) WorkerDataSource(ctx context.Context, namespace, taskQueue string) (string, error) {
	var ds []string
	err := s.DB.SelectContext(ctx, &ds, `SELECT data_source FROM recur.workers WHERE namespace = $1 AND task_queue = $2`, namespace, taskQueue)
	if err != nil || len(ds) == 0 {
		return "", stateError("cannot read the worker's data source", err)
	}
	return ds[0], nil
}

// Migrate brings the recur schema up to date.
func (s *State) Migrate(ctx context.Context) error {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return stateError("cannot open a transaction to migrate the state schema", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('recur-state-migrations'))`); err != nil {
		return stateError("cannot lock the state schema to migrate it", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS recur`); err != nil {
		return stateError("cannot create the schema recur in the state database", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS recur.schema_migrations (
		version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return stateError("cannot create recur.schema_migrations", err)
	}
	var applied int
	if err := tx.GetContext(ctx, &applied, `SELECT coalesce(max(version), 0) FROM recur.schema_migrations`); err != nil {
		return stateError("cannot read recur.schema_migrations", err)
	}
	for v := applied + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return stateError(fmt.Sprintf("state migration %d failed", v), err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO recur.schema_migrations (version) VALUES ($1)`, v); err != nil {
			return stateError("cannot record a state migration", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return stateError("cannot commit the state migrations", err)
	}
	return nil
}

// stateError wraps a state database failure with what was being done. It
// stays retryable: a state database that restarts comes back.
func stateError(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: not found", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
