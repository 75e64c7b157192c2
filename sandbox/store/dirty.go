package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/riverqueue/river"
)

// RecomputeDirtyArgs is the River job that recomputes the customers marked
// in analytics_dirty. Store.Touch keeps one pending whenever a customer is
// marked; package importer works it.
type RecomputeDirtyArgs struct{}

// Kind names the job for River.
func (RecomputeDirtyArgs) Kind() string { return "recur.recompute_dirty_customers" }

// InsertOpts puts the job on the imports queue, which every worker process
// works: a recompute is short and follows the writes that asked for it.
func (RecomputeDirtyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueImports, MaxAttempts: 25}
}

// Touch marks customers for an analytics recompute in the transaction tx of a
// write that changed their records, and makes sure a recompute job is
// pending: the mark and the job commit with the write. It is the function to
// assign to Store.AfterWrite.
func (s *Store) Touch(ctx context.Context, tx Tx, customerIDs []int64) error {
	if len(customerIDs) == 0 {
		return nil
	}
	t := tx.tx
	_, err := t.exec(ctx, `INSERT INTO analytics_dirty (customer_id, account_id)
		SELECT id, account_id FROM customers WHERE `+inList(t.eng, "id", 1)+`
		ON CONFLICT (customer_id) DO UPDATE SET version = analytics_dirty.version + 1`, listArg(t.eng, customerIDs))
	if err != nil {
		return internal("mark customers for recompute", err)
	}
	pending, err := pendingJobTx(ctx, t, RecomputeDirtyArgs{}.Kind())
	if err != nil {
		return internal("look for a pending recompute", err)
	}
	if pending {
		return nil
	}
	return internal("queue the analytics recompute", s.queue.insertJobTx(ctx, t, RecomputeDirtyArgs{}, nil))
}

// DirtyMark is a customer marked for recompute, at the version read.
type DirtyMark struct {
	CustomerID int64
	Version    int64
}

// DirtyCustomers returns up to limit customers marked for recompute.
func (s *Store) DirtyCustomers(ctx context.Context, limit int) ([]DirtyMark, error) {
	var out []DirtyMark
	err := each(ctx, s.eng.read(), `SELECT customer_id, version FROM analytics_dirty ORDER BY customer_id LIMIT $1`, []any{limit}, func(r rows) error {
		var m DirtyMark
		err := r.Scan(&m.CustomerID, &m.Version)
		out = append(out, m)
		return err
	})
	return out, internal("list customers to recompute", err)
}

// ClearDirty removes the marks of recomputed customers, except those marked
// again since they were read (their version grew): those are recomputed once
// more.
func (s *Store) ClearDirty(ctx context.Context, marks []DirtyMark) error {
	if len(marks) == 0 {
		return nil
	}
	return s.eng.writeTx(ctx, func(tx *txn) error {
		var q string
		var args []any
		if tx.eng == Postgres {
			ids, versions := make([]int64, len(marks)), make([]int64, len(marks))
			for i, m := range marks {
				ids[i], versions[i] = m.CustomerID, m.Version
			}
			q = `DELETE FROM analytics_dirty d USING unnest($1::bigint[], $2::bigint[]) AS m(id, v) WHERE d.customer_id = m.id AND d.version = m.v`
			args = []any{ids, versions}
		} else {
			pairs := make([]string, len(marks))
			for i, m := range marks {
				pairs[i] = fmt.Sprintf("[%d,%d]", m.CustomerID, m.Version)
			}
			q = `DELETE FROM analytics_dirty WHERE (customer_id, version) IN
				(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1))`
			args = []any{"[" + strings.Join(pairs, ",") + "]"}
		}
		_, err := tx.exec(ctx, q, args...)
		return internal("clear recompute marks", err)
	})
}
