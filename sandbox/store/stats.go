package store

import (
	"context"
	"sync"
	"time"
)

// Query plans need table statistics: without them SQLite's planner assumes an
// account holds few rows and reads a whole account's invoices to find one by
// uuid, and PostgreSQL's (where autovacuum is off, or has not run yet since a
// bulk load) guesses sizes just as badly. RefreshStats gathers them after
// writes large enough to change the picture, at most once a minute per
// process.

// statsEvery bounds how often RefreshStats runs.
const statsEvery = time.Minute

// statsRows is how many rows a write must bring before statistics are
// refreshed for it.
const statsRows = 1000

type statsState struct {
	mu   sync.Mutex
	last time.Time
	rows int
}

// RefreshStats refreshes the planner's statistics when at least statsRows
// rows were written since the last refresh and the last refresh is a minute
// old (or there was none). rows is what the caller just wrote. On SQLite it
// runs PRAGMA optimize, sampling at most 1,000 rows per index; on PostgreSQL
// ANALYZE of the record tables.
func (s *Store) RefreshStats(ctx context.Context, rows int) error {
	st := &s.stats
	st.mu.Lock()
	st.rows += rows
	due := st.rows >= statsRows && time.Since(st.last) >= statsEvery
	if due {
		st.rows, st.last = 0, time.Now()
	}
	st.mu.Unlock()
	if !due {
		return nil
	}
	return s.eng.writeTx(ctx, func(tx *txn) error {
		q := `ANALYZE customers, plans, subscriptions, invoices, line_items, transactions, subscription_events, imports`
		if tx.eng == SQLite {
			// 0x10002: analyse every table whose size changed, even on a
			// connection that has not queried it yet.
			q = `PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002`
		}
		_, err := tx.exec(ctx, q)
		return internal("refresh statistics", err)
	})
}
