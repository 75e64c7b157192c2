package store

import (
	"context"

	"github.com/recurhq/recur/chartmogul"
)

// ProcessingStatus counts a data source's bulk imports by how far they got,
// in ChartMogul's terms: completed imports are processed, failed ones
// failed, queued and processing ones pending.
type ProcessingStatus struct {
	Processed int
	Failed    int
	Pending   int
}

// ProcessingStatuses returns the processing status of each data source
// named, with one query for all of them. Data sources without imports get
// zero counts.
func (s *Store) ProcessingStatuses(ctx context.Context, dataSourceIDs []int64) (map[int64]ProcessingStatus, error) {
	out := make(map[int64]ProcessingStatus, len(dataSourceIDs))
	if len(dataSourceIDs) == 0 {
		return out, nil
	}
	eng := s.Engine()
	err := each(ctx, s.eng.read(), `SELECT data_source_id, status, COUNT(*) FROM imports WHERE `+inList(eng, "data_source_id", 1)+` GROUP BY data_source_id, status`,
		[]any{listArg(eng, dataSourceIDs)}, func(r rows) error {
			var id int64
			var status string
			var n int
			if err := r.Scan(&id, &status, &n); err != nil {
				return err
			}
			ps := out[id]
			switch chartmogul.ImportStatus(status) {
			case chartmogul.ImportCompleted:
				ps.Processed += n
			case chartmogul.ImportFailed:
				ps.Failed += n
			default:
				ps.Pending += n
			}
			out[id] = ps
			return nil
		})
	return out, internal("count imports", err)
}

// EmptyDataSource deletes every record of a data source — customers,
// plans, invoices with their line items and transactions, subscriptions and
// subscription events — and keeps the data source itself, its uuid and its
// import history. Customers of other data sources linked to its customers by
// merges stand on their own again. It returns ENOTFOUND ("Data source not
// found") when the account has no such data source.
func (s *Store) EmptyDataSource(ctx context.Context, accountID int64, uuid string) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		var dsID int64
		err := tx.queryRow(ctx, `SELECT id FROM data_sources WHERE uuid = $1 AND account_id = $2`, uuid, accountID).Scan(&dsID)
		if isNoRows(err) {
			return chartmogul.NotFound("Data source")
		}
		if err != nil {
			return internal("find data source", err)
		}
		ds, err := lockDataSource(ctx, tx, dsID)
		if err != nil {
			return err
		}
		var ids []int64
		err = each(ctx, tx, `SELECT id FROM customers WHERE data_source_id = $1`, []any{ds.ID}, func(r rows) error {
			var id int64
			err := r.Scan(&id)
			ids = append(ids, id)
			return err
		})
		if err != nil {
			return internal("empty data source", err)
		}
		// Children first, one set-based statement per table.
		for _, t := range []string{"subscription_events", "transactions", "line_items", "invoices", "subscriptions", "customer_aliases"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+t+` WHERE data_source_id = $1`, ds.ID); err != nil {
				return internal("empty data source: "+t, err)
			}
		}
		// Customers of other data sources linked to these by merges keep
		// their records and stand on their own again.
		if _, err := tx.exec(ctx, `UPDATE customers SET merged_into_id = NULL WHERE merged_into_id IN (SELECT id FROM customers WHERE data_source_id = $1)`, ds.ID); err != nil {
			return internal("empty data source: unlink customers", err)
		}
		for _, t := range []string{"customers", "plans"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+t+` WHERE data_source_id = $1`, ds.ID); err != nil {
				return internal("empty data source: "+t, err)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		return s.touch(ctx, tx, ids...)
	})
}
