package activities

import (
	"context"
	"strings"
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

// finishCustomer removes a customer's extract and parts and, when hash is
// not empty, records the content hash the next sync compares against: one
// statement, one commit.
func (s *State) finishCustomer(ctx context.Context, dataSource string, extractID int64, workflowID, customer, hash string) error {
	_, err := s.DB.ExecContext(ctx, `
WITH extract AS (
	DELETE FROM recur.extracts WHERE id = $1
), parts AS (
	DELETE FROM recur.parts WHERE workflow_id = $2 AND customer = $3
)
INSERT INTO recur.customer_hashes (data_source, customer, hash) SELECT $4, $3, $5 WHERE $5 <> ''
ON CONFLICT (data_source, customer) DO UPDATE SET hash = EXCLUDED.hash, synced_at = now()`,
		extractID, workflowID, customer, dataSource, hash)
	return stateError("cannot record the customer's outcome and remove its claim checks", err)
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

// part reads one part, without its body (the request carries it; Submit
// and Poll need only what describes it).
func (s *State) part(ctx context.Context, id int64) (*partRow, error) {
	var p partRow
	if err := s.DB.GetContext(ctx, &p, `SELECT id, data_source, customer, workflow_id, seq, ''::bytea AS body, entries, counts,
		records, bytes, import_id, offsets, created_at FROM recur.parts WHERE id = $1`, id); err != nil {
		return nil, stateError("cannot read part "+itoa(id), err)
	}
	return &p, nil
}

// recordOutcome writes, in one statement, what became of a part: the
// records ChartMogul imported go into the ledger (the ledger is written
// only once the destination confirmed) and out of the conflicts, the
// failures ChartMogul reported replace those it reported before for the
// same import, and the import is marked finished.
func (s *State) recordOutcome(ctx context.Context, dataSource, customer, workflowID, importID string, importRow *int64, status string,
	imported []ledgerEntry, failures []workflows.RecordFailure) error {
	types := make([]string, len(imported))
	keys := make([]string, len(imported))
	hashes := make([]string, len(imported))
	contents := make([]string, len(imported))
	for i, e := range imported {
		types[i], keys[i], hashes[i], contents[i] = e.Type, e.Key, e.Hash, string(e.Content)
	}
	fTypes := make([]string, len(failures))
	fIDs := make([]string, len(failures))
	fFields := make([]string, len(failures))
	fMessages := make([]string, len(failures))
	for i, f := range failures {
		fTypes[i], fIDs[i], fFields[i], fMessages[i] = f.Type, f.ExternalID, f.Field, f.Message
	}
	_, err := s.DB.ExecContext(ctx, `
WITH ledger AS (
	INSERT INTO recur.ledger (data_source, type, external_id, customer, hash, content, import_id)
	SELECT $1, t, k, $2, h, c::jsonb, $3 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS x(t, k, h, c)
	ON CONFLICT (data_source, type, external_id) DO UPDATE
	SET customer = EXCLUDED.customer, hash = EXCLUDED.hash, content = EXCLUDED.content, import_id = EXCLUDED.import_id, imported_at = now()
), resolved AS (
	DELETE FROM recur.conflicts c USING unnest($4::text[], $5::text[]) AS x(t, k)
	WHERE c.data_source = $1 AND c.type = x.t AND c.external_id = x.k
), finished AS (
	UPDATE recur.imports SET status = $9, finished_at = coalesce(finished_at, now()) WHERE id = $8
), forgotten AS (
	DELETE FROM recur.record_failures WHERE data_source = $1 AND customer = $2 AND import_id = $3
)
INSERT INTO recur.record_failures (data_source, customer, type, external_id, field, message, import_id, workflow_id)
SELECT $1, $2, t, e, f, m, $3, $10 FROM unnest($11::text[], $12::text[], $13::text[], $14::text[]) AS y(t, e, f, m)`,
		dataSource, customer, importID, pq.Array(types), pq.Array(keys), pq.Array(hashes), pq.Array(contents),
		importRow, status, workflowID, pq.Array(fTypes), pq.Array(fIDs), pq.Array(fFields), pq.Array(fMessages))
	return stateError("cannot record what ChartMogul imported", err)
}

// saveBuild stores what BuildPayload found, in one transaction: the
// customer's failed records (replacing those of its last build), its
// conflicts (and clears those that are no more), and the parts to send
// (replacing those a previous attempt of the same step stored and never
// sent). It returns the parts' ids, in order.
func (s *State) saveBuild(ctx context.Context, dataSource, customer, workflowID string, failures []workflows.RecordFailure,
	conflicts []workflows.Conflict, resolved []ledgerEntry, parts []partRow) ([]int64, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, stateError("cannot store the built payload", err)
	}
	defer tx.Rollback()
	fTypes, fIDs, fFields, fMessages := make([]string, len(failures)), make([]string, len(failures)), make([]string, len(failures)), make([]string, len(failures))
	for i, f := range failures {
		fTypes[i], fIDs[i], fFields[i], fMessages[i] = f.Type, f.ExternalID, f.Field, f.Message
	}
	if _, err := tx.ExecContext(ctx, `
WITH forgotten AS (
	DELETE FROM recur.record_failures WHERE data_source = $1 AND customer = $2 AND import_id = ''
)
INSERT INTO recur.record_failures (data_source, customer, type, external_id, field, message, import_id, workflow_id)
SELECT $1, $2, t, e, f, m, '', $3 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS y(t, e, f, m)`,
		dataSource, customer, workflowID, pq.Array(fTypes), pq.Array(fIDs), pq.Array(fFields), pq.Array(fMessages)); err != nil {
		return nil, stateError("cannot record the failed records", err)
	}
	if len(conflicts) > 0 || len(resolved) > 0 {
		cTypes, cIDs, cFields := make([]string, len(conflicts)), make([]string, len(conflicts)), make([]string, len(conflicts))
		for i, c := range conflicts {
			// Field names hold no commas: one text per conflict carries them.
			cTypes[i], cIDs[i], cFields[i] = c.Type, c.ExternalID, strings.Join(c.Fields, ",")
		}
		rTypes, rKeys := make([]string, len(resolved)), make([]string, len(resolved))
		for i, e := range resolved {
			rTypes[i], rKeys[i] = e.Type, e.Key
		}
		if _, err := tx.ExecContext(ctx, `
WITH resolved AS (
	DELETE FROM recur.conflicts c USING unnest($6::text[], $7::text[]) AS x(t, k)
	WHERE c.data_source = $1 AND c.type = x.t AND c.external_id = x.k
)
INSERT INTO recur.conflicts (data_source, type, external_id, customer, fields)
SELECT $1, t, k, $2, string_to_array(f, ',') FROM unnest($3::text[], $4::text[], $5::text[]) AS x(t, k, f)
ON CONFLICT (data_source, type, external_id) DO UPDATE SET fields = EXCLUDED.fields, customer = EXCLUDED.customer, last_seen = now()`,
			dataSource, customer, pq.Array(cTypes), pq.Array(cIDs), pq.Array(cFields), pq.Array(rTypes), pq.Array(rKeys)); err != nil {
			return nil, stateError("cannot record the conflicts", err)
		}
	}
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
	return ids, stateError("cannot store the built payload", tx.Commit())
}
