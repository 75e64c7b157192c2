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
	// writeStmts and readStmts keep prepared statements of the writer and
	// the readers: SQLite parses a statement on every run otherwise, which
	// was half the cost of a single-object write.
	writeStmts, readStmts *stmtCache
	river                 *river.Client[*sql.Tx]
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
	e := &sqliteEngine{path: path, writer: writer, writeStmts: newStmtCache(writer)}
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
	e.reader, e.readStmts = reader, newStmtCache(reader)
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

func (e *sqliteEngine) read() querier { return poolQuerier{e.reader, e.readStmts} }

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
	var missed []string
	t := &txn{querier: txQuerier{tx: tx, cache: e.writeStmts, missed: &missed}, eng: SQLite, sqlTx: tx}
	t.bulk = func(ctx context.Context, table string, cols []string, n int, row func(i int, dst []any) []any) error {
		return e.bulkInsert(ctx, tx, t.querier, table, cols, n, row)
	}
	t.allocate = func(ctx context.Context, table string, n int) ([]int64, error) {
		// The write transaction holds SQLite's only write lock, so the ids
		// after the largest are free until it commits.
		var max int64
		if err := t.queryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM "+table).Scan(&max); err != nil {
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
	// Statements this transaction ran unprepared are prepared now that it
	// has given the writer connection back; the next transaction reuses
	// them.
	for _, q := range missed {
		e.writeStmts.prepare(ctx, q)
	}
	return nil
}

// bulkInsert writes rows with multi-row INSERT statements, as many rows per
// statement as SQLite's parameter limit allows (up to 500), each statement
// prepared once per transaction.
func (e *sqliteEngine) bulkInsert(ctx context.Context, tx *sql.Tx, small querier, table string, cols []string, n int, row func(i int, dst []any) []any) error {
	if n == 0 {
		return nil
	}
	per := min(500, sqliteMaxVars/len(cols))
	// Sized for the rows there are: a single-object write inserts one.
	args := make([]any, 0, min(n, per)*len(cols))
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
			// The last, partial statement: a few rows, the shape of a
			// single-object write, run through the statement cache.
			_, err = small.exec(ctx, q, args...)
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

func (e *sqliteEngine) insertJobTx(ctx context.Context, tx *txn, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := e.river.InsertTx(ctx, tx.sqlTx, args, opts)
	return err
}

// stmtCache keeps the prepared statements of one pool, by their text.
// Statements are few and fixed (Recur builds its SQL from constants), but the
// cache is bounded anyway, and very long statements (bulk inserts, which
// prepare their own) are never kept.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

const (
	stmtCacheSize   = 512
	stmtCacheMaxLen = 8 << 10
)

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[q]
}

// prepare prepares q on the pool and keeps it; it returns nil when q is not
// worth keeping or cannot be prepared (the caller then runs q unprepared).
// It takes a connection of the pool: never call it for the writer while a
// transaction holds the writer's only connection.
func (c *stmtCache) prepare(ctx context.Context, q string) *sql.Stmt {
	if len(q) > stmtCacheMaxLen || strings.Contains(q, ";") {
		return nil
	}
	if st := c.get(q); st != nil {
		return st
	}
	c.mu.Lock()
	full := len(c.stmts) >= stmtCacheSize
	c.mu.Unlock()
	if full {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.stmts[q]; ok {
		st.Close()
		return old
	}
	c.stmts[q] = st
	return st
}

// poolQuerier runs statements on a pool of read-only connections, prepared.
type poolQuerier struct {
	db    *sql.DB
	cache *stmtCache
}

func (q poolQuerier) exec(ctx context.Context, s string, args ...any) (int64, error) {
	return sqlQuerier{q.db}.exec(ctx, s, args...)
}

func (q poolQuerier) query(ctx context.Context, s string, args ...any) (rows, error) {
	if st := q.cache.prepare(ctx, s); st != nil {
		r, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		return sqlRows{r}, nil
	}
	return sqlQuerier{q.db}.query(ctx, s, args...)
}

func (q poolQuerier) queryRow(ctx context.Context, s string, args ...any) row {
	if st := q.cache.prepare(ctx, s); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.db.QueryRowContext(ctx, s, args...)
}

// txQuerier runs statements in a write transaction: those already prepared
// on the writer run prepared, the others unprepared, noted in missed for
// preparing once the transaction is over.
type txQuerier struct {
	tx     *sql.Tx
	cache  *stmtCache
	missed *[]string
}

func (q txQuerier) stmt(ctx context.Context, s string) *sql.Stmt {
	if st := q.cache.get(s); st != nil {
		return q.tx.StmtContext(ctx, st)
	}
	// A prepared statement runs only the first of several statements in its
	// text: such texts always run unprepared.
	if len(s) <= stmtCacheMaxLen && !strings.Contains(s, ";") {
		*q.missed = append(*q.missed, s)
	}
	return nil
}

func (q txQuerier) exec(ctx context.Context, s string, args ...any) (int64, error) {
	if st := q.stmt(ctx, s); st != nil {
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	return sqlQuerier{q.tx}.exec(ctx, s, args...)
}

func (q txQuerier) query(ctx context.Context, s string, args ...any) (rows, error) {
	if st := q.stmt(ctx, s); st != nil {
		r, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		return sqlRows{r}, nil
	}
	return sqlQuerier{q.tx}.query(ctx, s, args...)
}

func (q txQuerier) queryRow(ctx context.Context, s string, args ...any) row {
	if st := q.stmt(ctx, s); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, s, args...)
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
