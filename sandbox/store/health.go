package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/recurhq/recur/chartmogul"
)

// This file holds what operators and the API's admission checks ask of the
// database: is it there (Ready), how much work is waiting (QueueDepth,
// UnfinishedImportCounts), and how many imports an account has waiting
// (AccountUnfinishedImports). Every query here is a read on the read pool,
// so none of them waits behind an import being written on SQLite's one
// writer connection.

// Ready reports whether the database answers and has every migration this
// build knows applied. It returns an EUNAVAILABLE error saying which, so
// that a readiness probe takes the process out of rotation while the
// database is down or being migrated by a newer version.
func (s *Store) Ready(ctx context.Context) error {
	want, err := loadMigrations(s.Engine())
	if err != nil {
		return internal("load migrations", err)
	}
	applied := map[int]bool{}
	err = each(ctx, s.eng.read(), `SELECT version FROM recur_migrations`, nil, func(r rows) error {
		var v int64
		err := r.Scan(&v)
		applied[int(v)] = true
		return err
	})
	if err != nil {
		return &chartmogul.Error{Code: chartmogul.EUNAVAILABLE, Message: fmt.Sprintf("The %s database cannot be reached: %v", s.Engine(), err), Err: err}
	}
	var missing []string
	for _, m := range want {
		if !applied[m.version] {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return &chartmogul.Error{Code: chartmogul.EUNAVAILABLE, Message: "The database lacks migrations " + strings.Join(missing, ", ") + "; restart Recur to apply them."}
	}
	return nil
}

// QueueJobs counts the River jobs of one queue in one state.
type QueueJobs struct {
	Queue string
	State string // River's job state: "available", "running", "retryable" or "scheduled"
	Jobs  int64
}

// QueueDepth counts the River jobs waiting or running, per queue and state:
// jobs available to a worker, running, waiting to be retried after an error,
// and scheduled for later. Finished, cancelled and discarded jobs are not
// counted. The imports queue is always listed, with zero counts when empty,
// so that a dashboard's series exist from the first scrape.
func (s *Store) QueueDepth(ctx context.Context) ([]QueueJobs, error) {
	states := []string{"available", "running", "retryable", "scheduled"}
	counts := map[[2]string]int64{}
	for _, st := range states[:2] {
		counts[[2]string{QueueImports, st}] = 0
	}
	// CAST: River's state is an enum on PostgreSQL and text on SQLite.
	err := each(ctx, s.eng.read(), `SELECT queue, CAST(state AS TEXT), COUNT(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled') GROUP BY queue, state`, nil, func(r rows) error {
		var q, st string
		var n int64
		err := r.Scan(&q, &st, &n)
		counts[[2]string{q, st}] = n
		return err
	})
	if err != nil {
		return nil, internal("count queued jobs", err)
	}
	out := make([]QueueJobs, 0, len(counts))
	for k, n := range counts {
		out = append(out, QueueJobs{Queue: k[0], State: k[1], Jobs: n})
	}
	return out, nil
}

// UnfinishedImportCounts counts the imports of every account that are queued or
// processing, by status; both statuses are always present.
func (s *Store) UnfinishedImportCounts(ctx context.Context) (map[chartmogul.ImportStatus]int64, error) {
	out := map[chartmogul.ImportStatus]int64{chartmogul.ImportQueued: 0, chartmogul.ImportProcessing: 0}
	err := each(ctx, s.eng.read(), `SELECT status, COUNT(*) FROM imports WHERE status IN ('queued', 'processing') GROUP BY status`, nil, func(r rows) error {
		var st string
		var n int64
		err := r.Scan(&st, &n)
		out[chartmogul.ImportStatus(st)] = n
		return err
	})
	return out, internal("count unfinished imports", err)
}

// AccountUnfinishedImports counts an account's imports that are queued or
// processing, counting no further than limit: the API's admission check
// only needs to know whether the account reached its bound, and stopping
// there keeps the check cheap however far behind the workers are.
func (s *Store) AccountUnfinishedImports(ctx context.Context, accountID int64, limit int) (int, error) {
	var n int
	err := s.eng.read().queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM imports
		WHERE status IN ('queued', 'processing') AND account_id = $1 LIMIT $2) AS waiting`, accountID, limit).Scan(&n)
	return n, internal("count the account's unfinished imports", err)
}
