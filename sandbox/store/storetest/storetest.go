// Package storetest gives tests fresh, isolated databases on every engine
// Recur runs on: a new SQLite file always, and a new schema on the
// PostgreSQL server that RECUR_TEST_POSTGRES_URL names, when it names one.
// Set RECUR_REQUIRE_POSTGRES=1 (CI does) to fail instead of skipping the
// PostgreSQL runs when no server is reachable.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database is one fresh database: its engine's name and the URL that opens
// it.
type Database struct {
	Engine string // "sqlite" or "postgres"
	URL    string
}

// PostgresURL returns the server tests may use, or "" when none is
// configured. It fails t when RECUR_REQUIRE_POSTGRES is set and none is.
func PostgresURL(t testing.TB) string {
	u := os.Getenv("RECUR_TEST_POSTGRES_URL")
	if u == "" && os.Getenv("RECUR_REQUIRE_POSTGRES") != "" {
		t.Fatal("RECUR_REQUIRE_POSTGRES is set but RECUR_TEST_POSTGRES_URL names no server")
	}
	return u
}

// Databases returns a fresh SQLite database and, when a PostgreSQL server is
// configured, a fresh schema on it. Each is removed when t ends.
func Databases(t testing.TB) []Database {
	dbs := []Database{SQLite(t)}
	if PostgresURL(t) != "" {
		dbs = append(dbs, Postgres(t))
	}
	return dbs
}

// SQLite returns a fresh SQLite database file in t's temporary directory.
func SQLite(t testing.TB) Database {
	return Database{Engine: "sqlite", URL: "sqlite:" + filepath.Join(t.TempDir(), "recur.db")}
}

// Postgres returns a fresh schema on the configured server, dropped when t
// ends. It skips t when no server is configured (or fails it, when one is
// required).
func Postgres(t testing.TB) Database {
	base := PostgresURL(t)
	if base == "" {
		t.Skip("no PostgreSQL server: set RECUR_TEST_POSTGRES_URL to run this test on PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the PostgreSQL server RECUR_TEST_POSTGRES_URL names: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "recur_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("RECUR_TEST_POSTGRES_URL is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return Database{Engine: "postgres", URL: u.String()}
}
