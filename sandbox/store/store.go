// Package store keeps Recur's data in SQLite (the embedded default) or
// PostgreSQL (for many processes on many machines).
//
// One Store type serves both engines. Most statements are written once in
// the SQL both engines understand ($1-style parameters, ON CONFLICT,
// RETURNING, partial unique indexes); where the engines differ — opening and
// tuning the connection, migrations, bulk writes (multi-row INSERT on SQLite,
// COPY on PostgreSQL), id allocation, list parameters, locking — the
// engine's own SQL sits in sqlite.go and postgres.go behind the small engine
// interface. The conformance suite (store_test.go) runs every behaviour on
// both engines.
//
// Times are stored as microseconds since the Unix epoch (UTC) in a BIGINT on
// both engines, so rows compare and copy identically and no driver's time
// handling leaks into the data.
//
// SQLite has one writer connection, which River shares (River's SQLite driver
// needs a single connection, or writers collide with SQLITE_BUSY), and a
// pool of read-only connections that WAL lets run beside the writer.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/recurhq/recur/chartmogul"
)

// Engine names a database engine.
type Engine string

// The engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Store is Recur's persistence. Its methods are safe for concurrent use.
type Store struct {
	eng engine
	// Now is the clock; tests replace it.
	Now func() time.Time
	// queue inserts River jobs inside the store's transactions.
	queue jobInserter
	// stats paces RefreshStats.
	stats statsState
	// AfterWrite, when set, runs in every transaction that writes records,
	// with the ids of the customers whose records changed: the hook through
	// which their analytics are recomputed, atomically with the write.
	AfterWrite func(ctx context.Context, tx Tx, customerIDs []int64) error
	// analytics caches each account's metrics aggregate (analytics.go).
	analytics analyticsCache
}

// Tx is a store transaction handed to hooks, which may enqueue jobs in it.
type Tx struct{ tx *txn }

// InsertJob enqueues a River job in the transaction.
func (s *Store) InsertJob(ctx context.Context, tx Tx, args river.JobArgs, opts *river.InsertOpts) error {
	return s.queue.insertJobTx(ctx, tx.tx, args, opts)
}

// engine is what differs between SQLite and PostgreSQL.
type engine interface {
	kind() Engine
	// read returns a querier for reads that need no transaction.
	read() querier
	// writeTx runs fn in a write transaction and commits when it returns nil.
	writeTx(ctx context.Context, fn func(tx *txn) error) error
	close() error
}

// querier runs statements; transactions and pools of both engines are
// queriers.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) row
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface {
	Scan(dest ...any) error
}

// txn is a write transaction on either engine.
type txn struct {
	querier
	eng Engine
	// sqlTx is set on SQLite, pgTx on PostgreSQL.
	sqlTx *sql.Tx
	pgTx  pgx.Tx
	// bulk writes n rows into a table with the engine's fastest means; row
	// appends the values of row i to dst. Rows are produced as they are
	// written, so a large import never holds all its rows as arguments.
	bulk func(ctx context.Context, table string, cols []string, n int, row func(i int, dst []any) []any) error
	// allocate reserves n consecutive-or-not ids of a table.
	allocate func(ctx context.Context, table string, n int) ([]int64, error)
}

// Options tune Open.
type Options struct {
	// Queue configures how jobs are inserted; see jobInserter.
	ReadConns int // SQLite read-only connections; 0 means 4
}

// Open opens the database a URL names and applies pending migrations.
// "sqlite:PATH", "file:PATH" or a bare path open (or create) a SQLite file;
// "postgres://…" or "postgresql://…" connect to PostgreSQL.
//
// It returns an error naming the URL's problem when the scheme is unknown or
// the database cannot be opened or migrated.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	s := &Store{Now: time.Now}
	var err error
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s.eng, s.queue, err = openPostgres(ctx, url)
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("database URL %q has an unknown scheme; use sqlite:PATH or postgres://user@host/db", url)
	default:
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "file:")
		if path == "" {
			return nil, errors.New("the SQLite database path is empty; use sqlite:PATH, e.g. sqlite:recur.db")
		}
		s.eng, s.queue, err = openSQLite(ctx, path, opts)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Engine returns the engine the store runs on.
func (s *Store) Engine() Engine { return s.eng.kind() }

// Close closes the database connections.
func (s *Store) Close() error { return s.eng.close() }

func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// micros converts a time to what the database stores.
func micros(t time.Time) int64 { return t.UnixMicro() }

// microsOrNil converts an optional time to a nullable column value.
func microsOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros converts a stored time back.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// optTime converts a nullable stored time back.
func optTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

// optInt converts a nullable stored integer back.
func optInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// intOrNil converts an optional integer to a nullable column value.
func intOrNil(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

// strOrNil stores "" as NULL, for external ids, which are unique only when
// present.
func strOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isNoRows reports whether err says a query found no row, on either engine.
func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}

// internal wraps an unexpected database error for the caller's logs; the user
// sees a generic message.
func internal(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *chartmogul.Error
	if errors.As(err, &e) {
		return err
	}
	if unavailable(err) {
		return &chartmogul.Error{Code: chartmogul.EUNAVAILABLE, Message: "The database cannot be reached right now, so nothing was stored; try again in a moment.", Err: err}
	}
	return &chartmogul.Error{Code: chartmogul.EINTERNAL, Message: "store: " + what, Err: err}
}

// unavailable reports whether err says the database could not be reached or
// is busy, rather than that a statement is wrong: the caller may try again.
func unavailable(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ne), errors.As(err, &ce), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 is connection exceptions; 57P01–57P03 are the server
		// shutting down or not accepting connections yet.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return sqliteBusy(err) || strings.Contains(err.Error(), "conn closed")
}
