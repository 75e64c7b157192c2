package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteEngine is the embedded engine: one writer connection, shared with
// River, and a pool of read-only connections.
type sqliteEngine struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	river  *river.Client[*sql.Tx]
	// batches caches the text of multi-row INSERT statements by table,
	// columns and row count.
	batches sync.Map
}

// sqliteMaxVars is SQLite's limit on bound parameters per statement
// (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const sqliteMaxVars = 32766

func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	// WAL lets readers run beside the writer. synchronous=NORMAL in WAL
	// mode writes every commit to the log before it returns, so a committed
	// import survives any crash of Recur's process; only a power loss can
	// take the last commits with it, and FULL, which also fsyncs each one,
	// costs a third of the single-object write rate. Foreign keys enforce the
	// cascades the schema declares; the busy timeout covers the rare moment a
	// reader checkpoints while the writer commits.
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)", "busy_timeout(10000)", "cache_size(-65536)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, path string, opts Options) (*sqliteEngine, jobInserter, error) {
	writer, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	e := &sqliteEngine{path: path, writer: writer}
	if err := e.migrate(ctx); err != nil {
		writer.Close()
		return nil, nil, err
	}
	reader, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("open SQLite database %s for reading: %w", path, err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = 4
	}
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	e.reader = reader
	// An insert-only client: it enqueues jobs inside the store's
	// transactions. Workers run on a client of their own (StartWorkers).
	e.river, err = river.NewClient(riversqlite.New(writer), &river.Config{})
	if err != nil {
		e.close()
		return nil, nil, fmt.Errorf("set up the job queue: %w", err)
	}
	return e, e, nil
}

func (e *sqliteEngine) kind() Engine { return SQLite }

func (e *sqliteEngine) read() querier { return sqlQuerier{e.reader} }

func (e *sqliteEngine) close() error {
	var errs []error
	if e.reader != nil {
		errs = append(errs, e.reader.Close())
	}
	errs = append(errs, e.writer.Close())
	return errors.Join(errs...)
}

func (e *sqliteEngine) writeTx(ctx context.Context, fn func(tx *txn) error) error {
	tx, err := e.writer.BeginTx(ctx, nil)
	if err != nil {
		return internal("begin a transaction", err)
	}
	defer tx.Rollback()
	t := &txn{querier: sqlQuerier{tx}, eng: SQLite, sqlTx: tx}
	t.bulk = func(ctx context.Context, table string, cols []string, n int, row func(i int, dst []any) []any) error {
		return e.bulkInsert(ctx, tx, table, cols, n, row)
	}
	t.allocate = func(ctx context.Context, table string, n int) ([]int64, error) {
		// The write transaction holds SQLite's only write lock, so the ids
		// after the largest are free until it commits.
		var max int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM "+table).Scan(&max); err != nil {
			return nil, err
		}
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = max + int64(i) + 1
		}
		return ids, nil
	}
	if err := fn(t); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return internal("commit", err)
	}
	return nil
}

// bulkInsert writes rows with multi-row INSERT statements, as many rows per
// statement as SQLite's parameter limit allows (up to 500), each statement
// prepared once per transaction.
func (e *sqliteEngine) bulkInsert(ctx context.Context, tx *sql.Tx, table string, cols []string, n int, row func(i int, dst []any) []any) error {
	if n == 0 {
		return nil
	}
	per := min(500, sqliteMaxVars/len(cols))
	args := make([]any, 0, per*len(cols))
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = row(i, args)
		}
		q := e.insertSQL(table, cols, end-start)
		var err error
		if end-start == per {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, q); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, q, args...)
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

func (e *sqliteEngine) insertSQL(table string, cols []string, n int) string {
	key := fmt.Sprintf("%s|%s|%d", table, strings.Join(cols, ","), n)
	if q, ok := e.batches.Load(key); ok {
		return q.(string)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
	// Anonymous "?" parameters: SQLite looks named ones ("$1") up in a
	// list, which makes binding thousands of them quadratic.
	row := "(" + strings.Repeat("?,", len(cols)-1) + "?)"
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	q := b.String()
	e.batches.Store(key, q)
	return q
}

func (e *sqliteEngine) pendingJobTx(ctx context.Context, tx *txn, kind string) (bool, error) {
	res, err := e.river.JobListTx(ctx, tx.sqlTx, pendingParams(kind))
	if err != nil {
		return false, err
	}
	return len(res.Jobs) > 0, nil
}

func (e *sqliteEngine) insertJobTx(ctx context.Context, tx *txn, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := e.river.InsertTx(ctx, tx.sqlTx, args, opts)
	return err
}

// sqlQuerier adapts database/sql's DB and Tx.
type sqlQuerier struct {
	db interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q sqlQuerier) exec(ctx context.Context, s string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, s, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) query(ctx context.Context, s string, args ...any) (rows, error) {
	r, err := q.db.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (q sqlQuerier) queryRow(ctx context.Context, s string, args ...any) row {
	return q.db.QueryRowContext(ctx, s, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// isUniqueViolation reports whether err is a unique-constraint violation, on
// either engine.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return isPgUniqueViolation(err)
}

// sqliteBusy reports whether err is SQLite saying the database is locked by
// another connection for longer than the busy timeout.
func sqliteBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}
