package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// postgresEngine runs on a pgx pool; any number of processes may share the
// database.
type postgresEngine struct {
	pool  *pgxpool.Pool
	river *river.Client[pgx.Tx]
}

func openPostgres(ctx context.Context, url string) (*postgresEngine, jobInserter, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("the PostgreSQL URL is not valid: %w", err)
	}
	// pgxpool's default of max(4, CPUs) connections queues an API process's
	// requests behind each other under any real concurrency; pool_max_conns
	// in the URL still decides when given.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	e := &postgresEngine{pool: pool}
	if err := e.migrate(ctx); err != nil {
		pool.Close()
		return nil, nil, err
	}
	e.river, err = river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("set up the job queue: %w", err)
	}
	return e, e, nil
}

func (e *postgresEngine) kind() Engine { return Postgres }

func (e *postgresEngine) read() querier { return pgQuerier{e.pool} }

func (e *postgresEngine) close() error {
	e.pool.Close()
	return nil
}

func (e *postgresEngine) writeTx(ctx context.Context, fn func(tx *txn) error) error {
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		return internal("begin a transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	t := &txn{querier: pgQuerier{tx}, eng: Postgres, pgTx: tx}
	t.bulk = func(ctx context.Context, table string, cols []string, n int, row func(i int, dst []any) []any) error {
		if n == 0 {
			return nil
		}
		i := 0
		buf := make([]any, 0, len(cols))
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			buf = row(i, buf[:0])
			i++
			return buf, nil
		}))
		if err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		return nil
	}
	t.allocate = func(ctx context.Context, table string, n int) ([]int64, error) {
		r, err := tx.Query(ctx, "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)", table, n)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(r, pgx.RowTo[int64])
	}
	if err := fn(t); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return internal("commit", err)
	}
	return nil
}

func (e *postgresEngine) insertJobTx(ctx context.Context, tx *txn, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := e.river.InsertTx(ctx, tx.pgTx, args, opts)
	return err
}

// pgQuerier adapts a pgx pool or transaction.
type pgQuerier struct {
	db interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q pgQuerier) exec(ctx context.Context, s string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, s, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) query(ctx context.Context, s string, args ...any) (rows, error) {
	r, err := q.db.Query(ctx, s, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (q pgQuerier) queryRow(ctx context.Context, s string, args ...any) row {
	return q.db.QueryRow(ctx, s, args...)
}

func isPgUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
