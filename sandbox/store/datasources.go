package store

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/recurhq/recur/chartmogul"
)

const dataSourceColumns = `id, uuid, account_id, name, system, created_at, webhook_url`

func scanDataSource(r row) (*chartmogul.DataSource, error) {
	var d chartmogul.DataSource
	var created int64
	if err := r.Scan(&d.ID, &d.UUID, &d.AccountID, &d.Name, &d.System, &created, &d.WebhookURL); err != nil {
		return nil, err
	}
	d.CreatedAt = fromMicros(created)
	return &d, nil
}

// CreateDataSource creates a data source in the account. It returns an
// EINVALID error with ChartMogul's messages when the name is missing or the
// account already has a data source of that name.
func (s *Store) CreateDataSource(ctx context.Context, accountID int64, name, system string) (*chartmogul.DataSource, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, chartmogul.Invalid(map[string]string{"name": "A name is required for each data source."})
	}
	if strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name) {
		return nil, chartmogul.Invalid(map[string]string{"name": "name must be valid text without the NUL character"})
	}
	if len(name) > chartmogul.MaxIDLength {
		return nil, chartmogul.Invalid(map[string]string{"name": "name must be at most 255 characters long"})
	}
	if system == "" {
		system = chartmogul.DataSourceSystemCustom
	}
	d := &chartmogul.DataSource{UUID: chartmogul.NewID(chartmogul.PrefixDataSource), AccountID: accountID, Name: name, System: system, CreatedAt: s.now()}
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		return tx.queryRow(ctx, `INSERT INTO data_sources (uuid, account_id, name, system, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			d.UUID, d.AccountID, d.Name, d.System, micros(d.CreatedAt)).Scan(&d.ID)
	})
	if isUniqueViolation(err) {
		return nil, &chartmogul.Error{Code: chartmogul.EINVALID, Fields: map[string]string{"name": "Has already been taken."}, Err: err}
	}
	if err != nil {
		return nil, internal("create data source", err)
	}
	return d, nil
}

// DataSource returns the account's data source with this uuid. It returns
// ENOTFOUND ("Data source not found") when the account has none, which is
// also the answer for another account's data source.
func (s *Store) DataSource(ctx context.Context, accountID int64, uuid string) (*chartmogul.DataSource, error) {
	d, err := scanDataSource(s.eng.read().queryRow(ctx, `SELECT `+dataSourceColumns+` FROM data_sources WHERE uuid = $1 AND account_id = $2`, uuid, accountID))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Data source")
	}
	return d, internal("find data source", err)
}

// DataSourceFilter narrows ListDataSources; empty fields do not filter.
type DataSourceFilter struct {
	Name   string
	System string
}

// ListDataSources lists the account's data sources, oldest first. The
// system filter treats "Custom" and the older "Import API" as one.
func (s *Store) ListDataSources(ctx context.Context, accountID int64, f DataSourceFilter) ([]chartmogul.DataSource, error) {
	q := `SELECT ` + dataSourceColumns + ` FROM data_sources WHERE account_id = $1`
	args := []any{accountID}
	if f.Name != "" {
		args = append(args, f.Name)
		q += ` AND name = $2`
	}
	if f.System != "" && f.System != chartmogul.DataSourceSystemCustom && f.System != "Import API" {
		// Recur's data sources are all custom; no other system matches.
		return []chartmogul.DataSource{}, nil
	}
	r, err := s.eng.read().query(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, internal("list data sources", err)
	}
	defer r.Close()
	out := []chartmogul.DataSource{}
	for r.Next() {
		d, err := scanDataSource(r)
		if err != nil {
			return nil, internal("list data sources", err)
		}
		out = append(out, *d)
	}
	return out, internal("list data sources", r.Err())
}

// DeleteDataSource deletes a data source and everything in it. It returns
// ENOTFOUND when the account has no such data source.
func (s *Store) DeleteDataSource(ctx context.Context, accountID int64, uuid string) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		var id int64
		err := tx.queryRow(ctx, `SELECT id FROM data_sources WHERE uuid = $1 AND account_id = $2`, uuid, accountID).Scan(&id)
		if isNoRows(err) {
			return chartmogul.NotFound("Data source")
		}
		if err != nil {
			return internal("delete data source", err)
		}
		// Rows that do not reference the data source by foreign key go
		// first; the rest follow by cascade.
		for _, t := range []string{"subscription_events", "transactions", "line_items", "invoices", "subscriptions", "customers", "plans", "imports"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+t+` WHERE data_source_id = $1`, id); err != nil {
				return internal("delete data source", err)
			}
		}
		_, err = tx.exec(ctx, `DELETE FROM data_sources WHERE id = $1`, id)
		return internal("delete data source", err)
	})
}
