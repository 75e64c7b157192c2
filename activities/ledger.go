package activities

import (
	"context"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/lib/pq"

	"github.com/recurhq/recur/workflows"
)

// ledgerEntry is one record as ChartMogul holds it from Recur: its type,
// its key (the external id, or a key derived from its place when it has
// none), the hash of the content sent, and the content itself (to name the
// fields that changed when the source changes it).
type ledgerEntry struct {
	Type     string         `json:"t"`
	Key      string         `json:"k"`
	Hash     string         `json:"h"`
	Content  jsontext.Value `json:"c"`
	Customer string         `json:"-"`
}

// ledger loads what ChartMogul holds of one customer (or, with customer "",
// the plans), by type and key.
func (s *State) ledger(ctx context.Context, dataSource, customer string) (map[string]ledgerEntry, error) {
	var rows []struct {
		Type    string `db:"type"`
		Key     string `db:"external_id"`
		Hash    string `db:"hash"`
		Content []byte `db:"content"`
	}
	q := `SELECT type, external_id, hash, content FROM recur.ledger WHERE data_source = $1 AND customer = $2`
	if customer == "" {
		q = `SELECT type, external_id, hash, content FROM recur.ledger WHERE data_source = $1 AND type = 'plans' AND $2 = ''`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, dataSource, customer); err != nil {
		return nil, stateError("cannot read the ledger", err)
	}
	out := make(map[string]ledgerEntry, len(rows))
	for _, r := range rows {
		out[r.Type+"\x00"+r.Key] = ledgerEntry{Type: r.Type, Key: r.Key, Hash: r.Hash, Content: r.Content}
	}
	return out, nil
}

// recordImported writes to the ledger the records ChartMogul reported
// imported, and clears their conflicts: the ledger is written only once the
// destination confirmed.
func (s *State) recordImported(ctx context.Context, dataSource, customer, importID string, entries []ledgerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	types := make([]string, len(entries))
	keys := make([]string, len(entries))
	hashes := make([]string, len(entries))
	contents := make([]string, len(entries))
	for i, e := range entries {
		types[i], keys[i], hashes[i], contents[i] = e.Type, e.Key, e.Hash, string(e.Content)
	}
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return stateError("cannot write the ledger", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
INSERT INTO recur.ledger (data_source, type, external_id, customer, hash, content, import_id)
SELECT $1, t, k, $2, h, c::jsonb, $3 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS x(t, k, h, c)
ON CONFLICT (data_source, type, external_id) DO UPDATE
SET customer = EXCLUDED.customer, hash = EXCLUDED.hash, content = EXCLUDED.content, import_id = EXCLUDED.import_id, imported_at = now()`,
		dataSource, customer, importID, pq.Array(types), pq.Array(keys), pq.Array(hashes), pq.Array(contents)); err != nil {
		return stateError("cannot write the ledger", err)
	}
	if _, err := tx.ExecContext(ctx, `
DELETE FROM recur.conflicts c USING unnest($2::text[], $3::text[]) AS x(t, k)
WHERE c.data_source = $1 AND c.type = x.t AND c.external_id = x.k`, dataSource, pq.Array(types), pq.Array(keys)); err != nil {
		return stateError("cannot clear the conflicts", err)
	}
	if err := tx.Commit(); err != nil {
		return stateError("cannot write the ledger", err)
	}
	return nil
}

// saveConflicts records the records that changed after they were imported,
// and clears the customer's conflicts that are no more.
func (s *State) saveConflicts(ctx context.Context, dataSource, customer string, conflicts []workflows.Conflict, resolved []ledgerEntry) error {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return stateError("cannot record conflicts", err)
	}
	defer tx.Rollback()
	for _, c := range conflicts {
		if _, err := tx.ExecContext(ctx, `
INSERT INTO recur.conflicts (data_source, type, external_id, customer, fields) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (data_source, type, external_id) DO UPDATE SET fields = EXCLUDED.fields, customer = EXCLUDED.customer, last_seen = now()`,
			dataSource, c.Type, c.ExternalID, customer, pq.Array(c.Fields)); err != nil {
			return stateError("cannot record a conflict", err)
		}
	}
	if len(resolved) > 0 {
		types := make([]string, len(resolved))
		keys := make([]string, len(resolved))
		for i, e := range resolved {
			types[i], keys[i] = e.Type, e.Key
		}
		if _, err := tx.ExecContext(ctx, `
DELETE FROM recur.conflicts c USING unnest($2::text[], $3::text[]) AS x(t, k)
WHERE c.data_source = $1 AND c.type = x.t AND c.external_id = x.k`, dataSource, pq.Array(types), pq.Array(keys)); err != nil {
			return stateError("cannot clear the conflicts", err)
		}
	}
	return stateError("cannot record conflicts", tx.Commit())
}

// saveFailures replaces the failures a workflow recorded for a customer at
// one stage ("" for Recur's own validation, or an import id) with these.
func (s *State) saveFailures(ctx context.Context, dataSource, customer, workflowID, importID string, failures []workflows.RecordFailure) error {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return stateError("cannot record failed records", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM recur.record_failures WHERE data_source = $1 AND customer = $2 AND import_id = $3`,
		dataSource, customer, importID); err != nil {
		return stateError("cannot record failed records", err)
	}
	for _, f := range failures {
		if _, err := tx.ExecContext(ctx, `
INSERT INTO recur.record_failures (data_source, customer, type, external_id, field, message, import_id, workflow_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, dataSource, customer, f.Type, f.ExternalID, f.Field, f.Message, importID, workflowID); err != nil {
			return stateError("cannot record a failed record", err)
		}
	}
	return stateError("cannot record failed records", tx.Commit())
}

// customerHashes returns the content hash recorded at each customer's last
// complete import.
func (s *State) customerHashes(ctx context.Context, dataSource string, customers []string) (map[string]string, error) {
	var rows []struct {
		Customer string `db:"customer"`
		Hash     string `db:"hash"`
	}
	if err := s.DB.SelectContext(ctx, &rows, `SELECT customer, hash FROM recur.customer_hashes WHERE data_source = $1 AND customer = ANY($2)`,
		dataSource, pq.Array(customers)); err != nil {
		return nil, stateError("cannot read the customers' hashes", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Customer] = r.Hash
	}
	return out, nil
}

// saveCustomerHash records a customer's content hash after a complete
// import.
func (s *State) saveCustomerHash(ctx context.Context, dataSource, customer, hash string) error {
	_, err := s.DB.ExecContext(ctx, `
INSERT INTO recur.customer_hashes (data_source, customer, hash) VALUES ($1, $2, $3)
ON CONFLICT (data_source, customer) DO UPDATE SET hash = EXCLUDED.hash, synced_at = now()`, dataSource, customer, hash)
	return stateError("cannot record the customer's hash", err)
}

// syncedCustomers lists the customers the ledger holds records of.
func (s *State) syncedCustomers(ctx context.Context, dataSource string) ([]string, error) {
	var ids []string
	err := s.DB.SelectContext(ctx, &ids, `SELECT DISTINCT customer FROM recur.ledger WHERE data_source = $1 AND type = 'customers' ORDER BY customer`, dataSource)
	return ids, stateError("cannot read the ledger's customers", err)
}

// saveExtract stores a claim check of extracted rows.
func (s *State) saveExtract(ctx context.Context, dataSource, customer, workflowID string, body []byte, hash string) (int64, error) {
	var id int64
	err := s.DB.GetContext(ctx, &id, `INSERT INTO recur.extracts (data_source, customer, workflow_id, body, hash) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		dataSource, customer, workflowID, body, hash)
	return id, stateError("cannot store the extracted rows", err)
}

// loadExtract reads a claim check of extracted rows.
func (s *State) loadExtract(ctx context.Context, id int64) ([]byte, error) {
	var body []byte
	err := s.DB.GetContext(ctx, &body, `SELECT body FROM recur.extracts WHERE id = $1`, id)
	return body, stateError("cannot read the extracted rows", err)
}

// removeClaimChecks deletes a finished customer's extract and parts.
func (s *State) removeClaimChecks(ctx context.Context, extractID int64, workflowID, customer string) error {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM recur.extracts WHERE id = $1`, extractID); err != nil {
		return stateError("cannot remove the extracted rows", err)
	}
	_, err := s.DB.ExecContext(ctx, `DELETE FROM recur.parts WHERE workflow_id = $1 AND customer = $2`, workflowID, customer)
	return stateError("cannot remove the built parts", err)
}

// partRow is a part of a customer's payload as stored.
type partRow struct {
	ID         int64     `db:"id"`
	DataSource string    `db:"data_source"`
	Customer   string    `db:"customer"`
	Workflow   string    `db:"workflow_id"`
	Seq        int       `db:"seq"`
	Body       []byte    `db:"body"`
	Entries    []byte    `db:"entries"`
	Counts     []byte    `db:"counts"`
	Records    int       `db:"records"`
	Bytes      int       `db:"bytes"`
	ImportID   *int64    `db:"import_id"`
	Offsets    []byte    `db:"offsets"`
	CreatedAt  time.Time `db:"created_at"`
}

// replaceParts stores the parts of a customer's payload, replacing those a
// previous attempt of the same step stored and never sent.
func (s *State) replaceParts(ctx context.Context, dataSource, customer, workflowID string, parts []partRow) ([]int64, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, stateError("cannot store the parts", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM recur.parts WHERE workflow_id = $1 AND customer = $2 AND import_id IS NULL`, workflowID, customer); err != nil {
		return nil, stateError("cannot store the parts", err)
	}
	ids := make([]int64, len(parts))
	for i, p := range parts {
		if err := tx.GetContext(ctx, &ids[i], `
INSERT INTO recur.parts (data_source, customer, workflow_id, seq, body, entries, counts, records, bytes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			dataSource, customer, workflowID, p.Seq, p.Body, p.Entries, p.Counts, p.Records, p.Bytes); err != nil {
			return nil, stateError("cannot store a part", err)
		}
	}
	return ids, stateError("cannot store the parts", tx.Commit())
}

// part reads one part.
func (s *State) part(ctx context.Context, id int64) (*partRow, error) {
	var p partRow
	if err := s.DB.GetContext(ctx, &p, `SELECT * FROM recur.parts WHERE id = $1`, id); err != nil {
		return nil, stateError("cannot read part "+itoa(id), err)
	}
	return &p, nil
}
