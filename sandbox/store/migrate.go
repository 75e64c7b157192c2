package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// migrations holds each engine's schema changes as numbered SQL files,
// applied in order at start, each in its own transaction, and recorded in
// recur_migrations. River's own tables are migrated after Recur's by River's
// migrator.
//
//go:embed migrations
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(engine Engine) ([]migration, error) {
	dir := path.Join("migrations", string(engine))
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s must be named NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// applyMigrations applies the pending migrations of engine through q, which
// runs each migration in a transaction of its own (begin/commit around it).
func applyMigrations(ctx context.Context, engine Engine, inTx func(ctx context.Context, fn func(q querier) error) error) error {
	ms, err := loadMigrations(engine)
	if err != nil {
		return err
	}
	err = inTx(ctx, func(q querier) error {
		_, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS recur_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create the migrations table: %w", err)
	}
	for _, m := range ms {
		err := inTx(ctx, func(q querier) error {
			var n int64
			if err := q.queryRow(ctx, `SELECT COUNT(*) FROM recur_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := q.exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := q.exec(ctx, `INSERT INTO recur_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.version, m.name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
	}
	return nil
}

func (e *sqliteEngine) migrate(ctx context.Context) error {
	err := applyMigrations(ctx, SQLite, func(ctx context.Context, fn func(q querier) error) error {
		tx, err := e.writer.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := fn(sqlQuerier{tx}); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("migrate SQLite database %s: %w", e.path, err)
	}
	m, err := rivermigrate.New(riversqlite.New(e.writer), nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate the job queue's tables: %w", err)
	}
	return nil
}

// migrationLockKey is the advisory lock that serialises migrations when
// several processes start at once against one PostgreSQL database.
const migrationLockKey = 0x72656375 // "recu"

func (e *postgresEngine) migrate(ctx context.Context) error {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate PostgreSQL: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("migrate PostgreSQL: take the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
	err = applyMigrations(ctx, Postgres, func(ctx context.Context, fn func(q querier) error) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := fn(pgQuerier{tx}); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return fmt.Errorf("migrate PostgreSQL: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(e.pool), nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate the job queue's tables: %w", err)
	}
	return nil
}
