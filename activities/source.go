package activities

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/workflows"
)

// DefaultSourceSchema is the schema of the six source relations.
const DefaultSourceSchema = "chartmogul"

// Source reads the billing database through the six relations of the source
// contract (tables or, usually, views in one schema): customers, plans,
// invoices, line_items, transactions and subscription_events, whose columns
// are named as ChartMogul's JSON fields. Line items and transactions reach
// their customer through invoices. Any relation may be replaced by a query
// of the user's own (Queries).
type Source struct {
	DB     *sqlx.DB
	Schema string
	// Queries replaces a relation, by its name, with a SELECT of the
	// user's own, read as a subquery.
	Queries map[string]string

	mu      sync.Mutex
	columns map[chartmogul.RecordType][]sourceColumn
}

// sourceColumn is one column of a relation and the JSON kind of its field.
type sourceColumn struct {
	name string
	kind chartmogul.FieldKind
}

// relationNames are the source contract's relations, by record type.
var relationNames = map[chartmogul.RecordType]string{
	chartmogul.RecordCustomers:          "customers",
	chartmogul.RecordPlans:              "plans",
	chartmogul.RecordInvoices:           "invoices",
	chartmogul.RecordLineItems:          "line_items",
	chartmogul.RecordTransactions:       "transactions",
	chartmogul.RecordSubscriptionEvents: "subscription_events",
}

// requiredColumns are the columns without which a relation cannot be read:
// the ids that link records, and what ChartMogul requires of every record.
var requiredColumns = map[chartmogul.RecordType][]string{
	chartmogul.RecordCustomers:          {"external_id"},
	chartmogul.RecordPlans:              {"external_id", "name", "interval_count", "interval_unit"},
	chartmogul.RecordInvoices:           {"external_id", "customer_external_id", "date"},
	chartmogul.RecordLineItems:          {"invoice_external_id", "type", "amount_in_cents"},
	chartmogul.RecordTransactions:       {"invoice_external_id", "type", "result", "date"},
	chartmogul.RecordSubscriptionEvents: {"customer_external_id", "event_type", "event_date", "effective_date"},
}

// relation returns the FROM item of a record type's relation.
func (s *Source) relation(t chartmogul.RecordType) string {
	name := relationNames[t]
	if q, ok := s.Queries[name]; ok {
		return "(" + q + ")"
	}
	return pq.QuoteIdentifier(s.schema()) + "." + pq.QuoteIdentifier(name)
}

// describe names a relation for messages.
func (s *Source) describe(t chartmogul.RecordType) string {
	name := relationNames[t]
	if _, ok := s.Queries[name]; ok {
		return "the query given for " + name
	}
	return "the relation " + s.schema() + "." + name
}

func (s *Source) schema() string {
	if s.Schema == "" {
		return DefaultSourceSchema
	}
	return s.Schema
}

// Columns returns a relation's columns, checked against the source
// contract: a column Recur does not know, a missing required column or a
// missing relation is a configuration error that says what to fix.
func (s *Source) Columns(ctx context.Context, t chartmogul.RecordType) ([]sourceColumn, error) {
	s.mu.Lock()
	cols, ok := s.columns[t]
	s.mu.Unlock()
	if ok {
		return cols, nil
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT * FROM "+s.relation(t)+" AS src LIMIT 0")
	if err != nil {
		return nil, s.readError(t, err)
	}
	names, err := rows.Columns()
	rows.Close()
	if err != nil {
		return nil, s.readError(t, err)
	}
	fields := chartmogul.Fields[t]
	for _, n := range names {
		if _, ok := fields[n]; !ok {
			return nil, configError("%s has a column %q that Recur does not know; its columns must be named as ChartMogul's %s fields: %s. Rename or drop the column in the view",
				s.describe(t), n, t, strings.Join(sortedFieldNames(t), ", "))
		}
		cols = append(cols, sourceColumn{name: n, kind: fields[n]})
	}
	for _, req := range requiredColumns[t] {
		if !slices.Contains(names, req) {
			return nil, configError("%s has no column %q, which Recur needs for every %s record; add it to the view", s.describe(t), req, t)
		}
	}
	s.mu.Lock()
	if s.columns == nil {
		s.columns = map[chartmogul.RecordType][]sourceColumn{}
	}
	s.columns[t] = cols
	s.mu.Unlock()
	return cols, nil
}

// sortedFieldNames lists ChartMogul's fields of a record type.
func sortedFieldNames(t chartmogul.RecordType) []string {
	var out []string
	for n := range chartmogul.Fields[t] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// readError explains a failed read of a relation: a missing relation or
// column, a refused login or a missing database is a configuration error;
// anything else (a connection refused, a server restarting) is retried.
func (s *Source) readError(t chartmogul.RecordType, err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "42P01" && s.Queries[relationNames[t]] != "":
			return configError("%s refers to a relation that does not exist: %s. Fix the query given with --source-query %s=…", s.describe(t), pe.Message, relationNames[t])
		case pe.Code == "42P01":
			return configError("the billing database has no relation %s.%s: create it (the README shows the six views of the source contract), set --source-schema, or give a query of your own with --source-query %s=…", s.schema(), relationNames[t], relationNames[t])
		case pe.Code.Class() == "42":
			return configError("%s cannot be read: %s. Fix the view or query", s.describe(t), pe.Message)
		case pe.Code.Class() == "28":
			return configError("the billing database refused the login: %s. Check the user and password in BILLING_DATABASE_URL", pe.Message)
		case pe.Code == "3D000":
			return configError("the billing database does not exist: %s. Check the database name in BILLING_DATABASE_URL", pe.Message)
		}
	}
	return fmt.Errorf("cannot read %s from the billing database (check BILLING_DATABASE_URL and that PostgreSQL is running; Recur retries): %w", s.describe(t), err)
}

// Check reads the columns of every relation afresh: a sync begins with it,
// so that a view changed since the last sync is read as it is now.
func (s *Source) Check(ctx context.Context) error {
	s.mu.Lock()
	s.columns = nil
	s.mu.Unlock()
	for _, t := range chartmogul.RecordTypes {
		if _, err := s.Columns(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// selectList returns the relation's columns, qualified by alias.
func selectList(alias string, cols []sourceColumn) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(alias + "." + pq.QuoteIdentifier(c.name))
	}
	return b.String()
}

// extractQueries returns the statements that read one customer's records,
// each taking the customer's external id as $1, and the plans' statement.
func (s *Source) extractQuery(ctx context.Context, t chartmogul.RecordType) (string, []sourceColumn, error) {
	cols, err := s.Columns(ctx, t)
	if err != nil {
		return "", nil, err
	}
	inv := s.relation(chartmogul.RecordInvoices)
	rel := s.relation(t)
	var q string
	switch t {
	case chartmogul.RecordCustomers:
		q = "SELECT " + selectList("r", cols) + " FROM " + rel + " AS r WHERE r.external_id = $1"
	case chartmogul.RecordPlans:
		q = "SELECT " + selectList("r", cols) + " FROM " + rel + " AS r ORDER BY r.external_id"
	case chartmogul.RecordInvoices:
		q = "SELECT " + selectList("r", cols) + " FROM " + rel + " AS r WHERE r.customer_external_id = $1 ORDER BY r.date, r.external_id"
	case chartmogul.RecordLineItems, chartmogul.RecordTransactions:
		// They reach their customer through their invoice.
		order := "i.date, i.external_id"
		if slices.ContainsFunc(cols, func(c sourceColumn) bool { return c.name == "external_id" }) {
			order += ", r.external_id"
		}
		q = "SELECT " + selectList("r", cols) + " FROM " + rel + " AS r JOIN " + inv + " AS i ON i.external_id = r.invoice_external_id" +
			" WHERE i.customer_external_id = $1 ORDER BY " + order
	case chartmogul.RecordSubscriptionEvents:
		order := "r.effective_date, r.event_date"
		if slices.ContainsFunc(cols, func(c sourceColumn) bool { return c.name == "external_id" }) {
			order += ", r.external_id"
		}
		q = "SELECT " + selectList("r", cols) + " FROM " + rel + " AS r WHERE r.customer_external_id = $1 ORDER BY " + order
	}
	return q, cols, nil
}

// customerTypes are the record types that belong to a customer, in payload
// order.
var customerTypes = []chartmogul.RecordType{chartmogul.RecordCustomers, chartmogul.RecordInvoices,
	chartmogul.RecordLineItems, chartmogul.RecordTransactions, chartmogul.RecordSubscriptionEvents}

// extracted is one customer's records (or the plans) as JSON objects, by
// type, in source order.
type extracted struct {
	Records map[chartmogul.RecordType][]jsontext.Value
}

// Extract reads the records of one customer (or, with customer "", the
// plans) in one read-only snapshot, with the customer's content hash taken
// from the same snapshot when withHash.
func (s *Source) Extract(ctx context.Context, customer string, withHash bool) (*extracted, string, error) {
	tx, err := s.DB.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, "", s.readError(chartmogul.RecordCustomers, err)
	}
	defer tx.Rollback()
	out := &extracted{Records: map[chartmogul.RecordType][]jsontext.Value{}}
	types := customerTypes
	if customer == "" {
		types = []chartmogul.RecordType{chartmogul.RecordPlans}
	}
	for _, t := range types {
		q, cols, err := s.extractQuery(ctx, t)
		if err != nil {
			return nil, "", err
		}
		var args []any
		if customer != "" {
			args = []any{customer}
		}
		recs, err := s.readRecords(ctx, tx, t, q, cols, args...)
		if err != nil {
			return nil, "", err
		}
		out.Records[t] = recs
	}
	hash := ""
	if customer != "" && withHash {
		hashes, err := s.hashes(ctx, tx, []string{customer})
		if err != nil {
			return nil, "", err
		}
		hash = hashes[customer]
	}
	return out, hash, nil
}

// readRecords runs q and turns each row into a JSON object.
func (s *Source) readRecords(ctx context.Context, tx *sqlx.Tx, t chartmogul.RecordType, q string, cols []sourceColumn, args ...any) ([]jsontext.Value, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.readError(t, err)
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	// The members are written in name order, so that the same row always
	// gives the same bytes, whatever the order of the view's columns.
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(cols[a].name, cols[b].name) })
	var out []jsontext.Value
	var buf bytes.Buffer
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, s.readError(t, err)
		}
		buf.Reset()
		enc := jsontext.NewEncoder(&buf)
		enc.WriteToken(jsontext.BeginObject)
		for _, i := range order {
			if vals[i] == nil {
				continue // NULL: the member is left out
			}
			enc.WriteToken(jsontext.String(cols[i].name))
			enc.WriteToken(jsonToken(cols[i].kind, vals[i]))
		}
		enc.WriteToken(jsontext.EndObject)
		out = append(out, jsontext.Value(bytes.Clone(bytes.TrimSpace(buf.Bytes()))))
	}
	if err := rows.Err(); err != nil {
		return nil, s.readError(t, err)
	}
	return out, nil
}

// jsonToken turns a column's value into the JSON the field takes. A value
// that does not fit its field's kind (an amount of 12.5) travels as a string,
// so that validation names the field and the value.
func jsonToken(kind chartmogul.FieldKind, v any) jsontext.Token {
	switch kind {
	case chartmogul.KindInteger:
		switch x := v.(type) {
		case int64:
			return jsontext.Int(x)
		case float64:
			if x == float64(int64(x)) {
				return jsontext.Int(int64(x))
			}
		case []byte:
			if n, ok := integral(string(x)); ok {
				return jsontext.Int(n)
			}
		case string:
			if n, ok := integral(x); ok {
				return jsontext.Int(n)
			}
		}
	case chartmogul.KindBoolean:
		switch x := v.(type) {
		case bool:
			return jsontext.Bool(x)
		case []byte, string:
			if b, err := strconv.ParseBool(fmt.Sprint(asString(x))); err == nil {
				return jsontext.Bool(b)
			}
		}
	}
	return jsontext.String(asString(v))
}

// integral reads "12" or "12.00" (a numeric column) as 12.
func integral(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s[i+1:], "0") == "" {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		return n, err == nil
	}
	return 0, false
}

// asString renders a column value as ChartMogul's JSON string: timestamps
// in UTC RFC 3339 (a timestamp without time zone is taken as UTC).
func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		if x.Nanosecond() == 0 {
			return x.UTC().Format(time.RFC3339)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// hashQuery returns the statement that computes, for an array of customer
// external ids ($1), one content hash per customer over every row of every
// relation that belongs to it. The same hash for the same rows, whoever
// computes it: a sync for a whole batch, Extract for one customer.
func (s *Source) hashQuery(ctx context.Context) (string, error) {
	for _, t := range customerTypes {
		if _, err := s.Columns(ctx, t); err != nil {
			return "", err
		}
	}
	cus, inv := s.relation(chartmogul.RecordCustomers), s.relation(chartmogul.RecordInvoices)
	return `WITH rows AS (
	SELECT r.external_id AS id, 'c' || md5(row_to_json(r)::text) AS h FROM ` + cus + ` AS r WHERE r.external_id = ANY($1)
	UNION ALL
	SELECT r.customer_external_id, 'i' || md5(row_to_json(r)::text) FROM ` + inv + ` AS r WHERE r.customer_external_id = ANY($1)
	UNION ALL
	SELECT i.customer_external_id, 'l' || md5(row_to_json(r)::text) FROM ` + s.relation(chartmogul.RecordLineItems) + ` AS r
		JOIN ` + inv + ` AS i ON i.external_id = r.invoice_external_id WHERE i.customer_external_id = ANY($1)
	UNION ALL
	SELECT i.customer_external_id, 't' || md5(row_to_json(r)::text) FROM ` + s.relation(chartmogul.RecordTransactions) + ` AS r
		JOIN ` + inv + ` AS i ON i.external_id = r.invoice_external_id WHERE i.customer_external_id = ANY($1)
	UNION ALL
	SELECT r.customer_external_id, 'e' || md5(row_to_json(r)::text) FROM ` + s.relation(chartmogul.RecordSubscriptionEvents) + ` AS r
		WHERE r.customer_external_id = ANY($1)
)
SELECT id, md5(string_agg(h, ',' ORDER BY h)) FROM rows GROUP BY id`, nil
}

// Hashes returns the content hash of each customer that has rows.
func (s *Source) Hashes(ctx context.Context, customers []string) (map[string]string, error) {
	tx, err := s.DB.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.readError(chartmogul.RecordCustomers, err)
	}
	defer tx.Rollback()
	return s.hashes(ctx, tx, customers)
}

// hashes returns the content hash of each customer that has rows, within
// tx. row_to_json writes timestamps in the session's time zone: the
// transaction's is set to UTC, so that every worker computes the same hash
// whatever its connection's settings.
func (s *Source) hashes(ctx context.Context, tx *sqlx.Tx, customers []string) (map[string]string, error) {
	stmt, err := s.hashQuery(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL TIME ZONE 'UTC'"); err != nil {
		return nil, s.readError(chartmogul.RecordCustomers, err)
	}
	rows, err := tx.QueryxContext(ctx, stmt, pq.Array(customers))
	if err != nil {
		return nil, s.readError(chartmogul.RecordCustomers, err)
	}
	defer rows.Close()
	out := make(map[string]string, len(customers))
	for rows.Next() {
		var id, h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, s.readError(chartmogul.RecordCustomers, err)
		}
		out[id] = h
	}
	return out, rows.Err()
}

// CustomerIDs returns up to limit customer external ids after the given
// one, in order (or, with only, those of only that the source has).
func (s *Source) CustomerIDs(ctx context.Context, after string, limit int, only []string) ([]string, error) {
	if _, err := s.Columns(ctx, chartmogul.RecordCustomers); err != nil {
		return nil, err
	}
	q := "SELECT r.external_id FROM " + s.relation(chartmogul.RecordCustomers) + " AS r WHERE r.external_id > $1"
	args := []any{after, limit}
	if only != nil {
		q += " AND r.external_id = ANY($3)"
		args = append(args, pq.Array(only))
	}
	q += " ORDER BY r.external_id LIMIT $2"
	var ids []string
	if err := s.DB.SelectContext(ctx, &ids, q, args...); err != nil {
		return nil, s.readError(chartmogul.RecordCustomers, err)
	}
	return ids, nil
}

// CountCustomers returns the number of customers in the source.
func (s *Source) CountCustomers(ctx context.Context) (int, error) {
	var n int
	if err := s.DB.GetContext(ctx, &n, "SELECT count(*) FROM "+s.relation(chartmogul.RecordCustomers)+" AS r WHERE r.external_id IS NOT NULL AND r.external_id <> ''"); err != nil {
		return 0, s.readError(chartmogul.RecordCustomers, err)
	}
	return n, nil
}

// orphanQueries find rows that belong to no customer: they can never be
// sent, since a customer's records travel with it.
func (s *Source) orphanQueries() []struct {
	t       chartmogul.RecordType
	q, what string
} {
	cus, inv := s.relation(chartmogul.RecordCustomers), s.relation(chartmogul.RecordInvoices)
	return []struct {
		t       chartmogul.RecordType
		q, what string
	}{
		{chartmogul.RecordCustomers, "SELECT '' AS external_id, coalesce(r.name, r.email, '') AS ref FROM " + cus + " AS r WHERE r.external_id IS NULL OR r.external_id = ''",
			"a customer row has no external_id (%s): give every customer an external id"},
		{chartmogul.RecordInvoices, "SELECT coalesce(r.external_id, '') AS external_id, coalesce(r.customer_external_id, '') AS ref FROM " + inv + " AS r WHERE NOT EXISTS (SELECT 1 FROM " + cus + " AS c WHERE c.external_id = r.customer_external_id)",
			"the invoice names customer %q, which is not in the customers relation"},
		{chartmogul.RecordLineItems, "SELECT coalesce(r.external_id, '') AS external_id, coalesce(r.invoice_external_id, '') AS ref FROM " + s.relation(chartmogul.RecordLineItems) + " AS r WHERE NOT EXISTS (SELECT 1 FROM " + inv + " AS i WHERE i.external_id = r.invoice_external_id)",
			"the line item names invoice %q, which is not in the invoices relation"},
		{chartmogul.RecordTransactions, "SELECT coalesce(r.external_id, '') AS external_id, coalesce(r.invoice_external_id, '') AS ref FROM " + s.relation(chartmogul.RecordTransactions) + " AS r WHERE NOT EXISTS (SELECT 1 FROM " + inv + " AS i WHERE i.external_id = r.invoice_external_id)",
			"the transaction names invoice %q, which is not in the invoices relation"},
		{chartmogul.RecordSubscriptionEvents, "SELECT coalesce(r.external_id, '') AS external_id, coalesce(r.customer_external_id, '') AS ref FROM " + s.relation(chartmogul.RecordSubscriptionEvents) + " AS r WHERE NOT EXISTS (SELECT 1 FROM " + cus + " AS c WHERE c.external_id = r.customer_external_id)",
			"the subscription event names customer %q, which is not in the customers relation"},
	}
}

// Orphans lists the rows that belong to no customer, up to limit, and
// counts them all.
func (s *Source) Orphans(ctx context.Context, limit int) ([]workflows.RecordFailure, int, error) {
	var out []workflows.RecordFailure
	total := 0
	for _, o := range s.orphanQueries() {
		var rows []struct {
			ExternalID string `db:"external_id"`
			Ref        string `db:"ref"`
		}
		if err := s.DB.SelectContext(ctx, &rows, o.q); err != nil {
			if o.t == chartmogul.RecordCustomers {
				// A customers view without name or email columns: ask again
				// without them.
				var ids []string
				q := "SELECT '' FROM " + s.relation(chartmogul.RecordCustomers) + " AS r WHERE r.external_id IS NULL OR r.external_id = ''"
				if err2 := s.DB.SelectContext(ctx, &ids, q); err2 != nil {
					return nil, 0, s.readError(o.t, err2)
				}
				for range ids {
					rows = append(rows, struct {
						ExternalID string `db:"external_id"`
						Ref        string `db:"ref"`
					}{})
				}
			} else {
				return nil, 0, s.readError(o.t, err)
			}
		}
		total += len(rows)
		for _, r := range rows {
			if len(out) >= limit {
				break
			}
			out = append(out, workflows.RecordFailure{Type: string(o.t), ExternalID: r.ExternalID, Field: orphanField(o.t), Message: fmt.Sprintf(o.what, r.Ref)})
		}
	}
	return out, total, nil
}

// orphanField names the field that links a record to its owner.
func orphanField(t chartmogul.RecordType) string {
	switch t {
	case chartmogul.RecordCustomers:
		return "external_id"
	case chartmogul.RecordLineItems, chartmogul.RecordTransactions:
		return "invoice_external_id"
	}
	return "customer_external_id"
}
