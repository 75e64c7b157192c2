package demo

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/recurhq/recur/chartmogul"
)

const defaultTestURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// openDB connects to the test server: RECUR_TEST_POSTGRES_URL, or the local
// default. A missing server skips the test, unless RECUR_REQUIRE_POSTGRES
// is set (CI sets it) or the server was named.
func openDB(tb testing.TB) *sql.DB {
	tb.Helper()
	url, named := os.LookupEnv("RECUR_TEST_POSTGRES_URL")
	if !named {
		url = defaultTestURL
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		tb.Fatalf("cannot open %s: %v", url, err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		if named || os.Getenv("RECUR_REQUIRE_POSTGRES") != "" {
			tb.Fatalf("cannot reach PostgreSQL at %s: %v", url, err)
		}
		tb.Skipf("no PostgreSQL at %s (set RECUR_TEST_POSTGRES_URL): %v", url, err)
	}
	return db
}

// schemas returns a billing schema and a view schema of the test's own,
// dropped when it ends, so that tests can share a server.
func schemas(tb testing.TB, db *sql.DB) (billing, views string) {
	tb.Helper()
	suffix := fmt.Sprintf("%016x", rand.Uint64())
	billing, views = "demo_test_"+suffix, "demo_views_"+suffix
	tb.Cleanup(func() {
		for _, s := range []string{views, billing} {
			if _, err := db.Exec("DROP SCHEMA IF EXISTS " + pq.QuoteIdentifier(s) + " CASCADE"); err != nil {
				tb.Errorf("cannot drop schema %s: %v", s, err)
			}
		}
	})
	return billing, views
}

// view is the rows of one view as JSON records, and its columns' kinds.
type view struct {
	columns map[string]chartmogul.FieldKind
	records []map[string]any
}

// readView reads the rows query returns as records: column name to value,
// NULL left out, timestamps as RFC 3339 strings, as a bulk payload carries
// them.
func readView(tb testing.TB, db *sql.DB, query string, args ...any) view {
	tb.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		tb.Fatal(err)
	}
	v := view{columns: map[string]chartmogul.FieldKind{}}
	for _, ct := range types {
		switch ct.DatabaseTypeName() {
		case "TEXT", "VARCHAR", "BPCHAR":
			v.columns[ct.Name()] = chartmogul.KindString
		case "INT2", "INT4", "INT8":
			v.columns[ct.Name()] = chartmogul.KindInteger
		case "BOOL":
			v.columns[ct.Name()] = chartmogul.KindBoolean
		case "TIMESTAMP", "TIMESTAMPTZ", "DATE":
			v.columns[ct.Name()] = chartmogul.KindDate
		default:
			tb.Fatalf("column %s has type %s, which no ChartMogul field takes", ct.Name(), ct.DatabaseTypeName())
		}
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		rec := map[string]any{}
		for i, ct := range types {
			switch x := vals[i].(type) {
			case nil:
			case time.Time:
				rec[ct.Name()] = x.UTC().Format(time.RFC3339)
			case []byte:
				rec[ct.Name()] = string(x)
			default:
				rec[ct.Name()] = x
			}
		}
		v.records = append(v.records, rec)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestCreateValid proves that every record the views show passes Recur's
// own rules without an error or a warning, that the records refer to each
// other correctly, and that Stats counts what the views show.
func TestCreateValid(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	billing, views := schemas(t, db)
	st, err := Create(context.Background(), db, Options{Customers: 300, Seed: 42, Schema: billing, SourceSchema: views})
	if err != nil {
		t.Fatal(err)
	}

	payload := map[string][]map[string]any{}
	for _, rt := range chartmogul.RecordTypes {
		v := readView(t, db, fmt.Sprintf("SELECT * FROM %s.%s ORDER BY external_id", pq.QuoteIdentifier(views), rt))
		for col, kind := range v.columns {
			want, ok := chartmogul.Fields[rt][col]
			switch {
			case !ok:
				t.Errorf("view %s has column %s, which is not a field of %s", rt, col, rt)
			case want != kind:
				t.Errorf("view %s: column %s has kind %d; the field takes kind %d", rt, col, kind, want)
			}
		}
		payload[string(rt)] = v.records
	}
	counts := Stats{
		Customers: len(payload["customers"]), Plans: len(payload["plans"]), Invoices: len(payload["invoices"]),
		LineItems: len(payload["line_items"]), Transactions: len(payload["transactions"]),
		SubscriptionEvents: len(payload["subscription_events"]),
	}
	if st != counts {
		t.Errorf("Create returned %+v; the views show %+v", st, counts)
	}
	if perCustomer := float64(st.Records()) / 300; perCustomer < 15 || perCustomer > 30 {
		t.Errorf("%.1f records per customer; want about 20", perCustomer)
	}

	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := chartmogul.Decode(body, DefaultNow)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != st.Records() {
		t.Fatalf("decoded %d records; the views show %d", b.Len(), st.Records())
	}
	bad := 0
	for _, rt := range chartmogul.RecordTypes {
		for i, rec := range payload[string(rt)] {
			p := b.Problems(rt, i)
			if len(p.Errors)+len(p.Warnings) > 0 && bad < 10 {
				bad++
				raw, _ := json.Marshal(rec)
				t.Errorf("%s[%d] %s: errors %v, warnings %v", rt, i, raw, p.Errors, p.Warnings)
			}
		}
	}

	// Records refer to each other by external id, which must be unique
	// within a type and name a record that exists.
	ids := map[string]map[string]bool{}
	for _, rt := range chartmogul.RecordTypes {
		ids[string(rt)] = map[string]bool{}
		for _, rec := range payload[string(rt)] {
			id, _ := rec["external_id"].(string)
			if id == "" || ids[string(rt)][id] {
				t.Errorf("%s: external_id %q is empty or not unique", rt, id)
			}
			ids[string(rt)][id] = true
		}
	}
	refs := []struct{ from, field, to string }{
		{"invoices", "customer_external_id", "customers"},
		{"line_items", "invoice_external_id", "invoices"},
		{"line_items", "plan_external_id", "plans"},
		{"transactions", "invoice_external_id", "invoices"},
		{"subscription_events", "customer_external_id", "customers"},
		{"subscription_events", "plan_external_id", "plans"},
	}
	for _, ref := range refs {
		for _, rec := range payload[ref.from] {
			if id, ok := rec[ref.field].(string); ok && !ids[ref.to][id] {
				t.Errorf("%s %s: %s %q names no record of %s", ref.from, rec["external_id"], ref.field, id, ref.to)
			}
		}
	}

	// The history has the variety a demo needs: the things that happen in
	// real billing, at least once.
	has := func(typ, field string, value any) bool {
		return slices.ContainsFunc(payload[typ], func(rec map[string]any) bool { return rec[field] == value })
	}
	for _, want := range []struct {
		typ, field string
		value      any
	}{
		{"line_items", "type", "one_time"}, {"transactions", "result", "failed"}, {"transactions", "type", "refund"},
		{"subscription_events", "event_type", "subscription_cancelled"}, {"invoices", "collection_method", "manual"},
		{"customers", "country", "GB"}, {"customers", "country", "CA"},
	} {
		if !has(want.typ, want.field, want.value) {
			t.Errorf("no %s has %s %v", want.typ, want.field, want.value)
		}
	}
}

// dump returns every row of the six views as text, in a fixed order.
func dump(t *testing.T, db *sql.DB, views string) []string {
	t.Helper()
	var out []string
	for _, rt := range chartmogul.RecordTypes {
		rows, err := db.Query(fmt.Sprintf("SELECT v::text FROM %s.%s v ORDER BY external_id", pq.QuoteIdentifier(views), rt))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, string(rt)+" "+s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

func TestCreateDeterministic(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	billing, views := schemas(t, db)
	ctx := context.Background()
	create := func(seed int64) []string {
		if _, err := Create(ctx, db, Options{Customers: 80, Seed: seed, Schema: billing, SourceSchema: views}); err != nil {
			t.Fatal(err)
		}
		return dump(t, db, views)
	}
	first, again, other := create(1), create(1), create(2)
	if !slices.Equal(first, again) {
		for i := range min(len(first), len(again)) {
			if first[i] != again[i] {
				t.Fatalf("the same seed gave different rows; first difference:\n%s\n%s", first[i], again[i])
			}
		}
		t.Fatalf("the same seed gave %d rows, then %d", len(first), len(again))
	}
	if slices.Equal(first, other) {
		t.Fatal("seeds 1 and 2 gave the same rows")
	}
}

// TestCreateLargeCustomer reads the large customer's records the way the
// worker reads one customer, through the views by its external id, and
// checks that they weigh more than a 5 MiB payload may, and that the reads
// use the indexes.
func TestCreateLargeCustomer(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	billing, views := schemas(t, db)
	const invoices = 20000
	st, err := Create(context.Background(), db, Options{Customers: 20, Seed: 3, Schema: billing, SourceSchema: views, LargeCustomerInvoices: invoices})
	if err != nil {
		t.Fatal(err)
	}
	if st.Customers != 21 {
		t.Errorf("Stats.Customers = %d; want 21 with the large customer", st.Customers)
	}
	v := pq.QuoteIdentifier(views)
	queries := map[chartmogul.RecordType]string{
		chartmogul.RecordCustomers:          "SELECT * FROM %[1]s.customers WHERE external_id = $1",
		chartmogul.RecordInvoices:           "SELECT * FROM %[1]s.invoices WHERE customer_external_id = $1",
		chartmogul.RecordLineItems:          "SELECT l.* FROM %[1]s.line_items l JOIN %[1]s.invoices i ON i.external_id = l.invoice_external_id WHERE i.customer_external_id = $1",
		chartmogul.RecordTransactions:       "SELECT x.* FROM %[1]s.transactions x JOIN %[1]s.invoices i ON i.external_id = x.invoice_external_id WHERE i.customer_external_id = $1",
		chartmogul.RecordSubscriptionEvents: "SELECT * FROM %[1]s.subscription_events WHERE customer_external_id = $1",
	}
	payload := map[string][]map[string]any{}
	size := 0
	for rt, q := range queries {
		recs := readView(t, db, fmt.Sprintf(q, v), LargeCustomerID).records
		payload[string(rt)] = recs
		for _, rec := range recs {
			raw, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			size += len(raw) + 1
		}
	}
	for _, rt := range []string{"invoices", "line_items", "transactions"} {
		if n := len(payload[rt]); n != invoices {
			t.Errorf("the large customer has %d %s; want %d", n, rt, invoices)
		}
	}
	if size <= 5<<20 {
		t.Errorf("the large customer's records weigh %d bytes as JSON; want more than 5 MiB", size)
	}
	t.Logf("%s: %d bytes of records", LargeCustomerID, size)

	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := chartmogul.Decode(body, DefaultNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range chartmogul.RecordTypes {
		for i := range payload[string(rt)] {
			if p := b.Problems(rt, i); len(p.Errors)+len(p.Warnings) > 0 {
				t.Fatalf("%s[%d]: errors %v, warnings %v", rt, i, p.Errors, p.Warnings)
			}
		}
	}

	// An ordinary customer's line items are found through indexes, not by
	// reading whole tables.
	rows, err := db.Query("EXPLAIN "+fmt.Sprintf(queries[chartmogul.RecordLineItems], v), "acct_000001")
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, s)
	}
	rows.Close()
	if p := strings.Join(plan, "\n"); strings.Contains(p, "Seq Scan on invoice_lines") || strings.Contains(p, "Seq Scan on invoices") {
		t.Errorf("reading one customer's line items scans whole tables:\n%s", p)
	}
}

func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"NoCustomers", Options{}, "customers to generate must be at least 1; got 0"},
		{"NegativeLarge", Options{Customers: 1, LargeCustomerInvoices: -1}, "got -1"},
		{"SameSchemas", Options{Customers: 1, Schema: "x", SourceSchema: "x"}, "must differ"},
		{"Public", Options{Customers: 1, Schema: "public"}, "cannot be a system schema or public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The options are checked before the database is touched.
			_, err := Create(context.Background(), nil, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create(%+v) = %v; want an error saying %q", tc.opt, err, tc.want)
			}
		})
	}
}

// TestCreateKeepsOthers checks that Create replaces only what it owns: it
// refuses a view schema whose relation of a view's name is a table, and a
// billing schema holding other tables, leaving everything as it was; and
// it keeps the view schema's other objects.
func TestCreateKeepsOthers(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	billing, views := schemas(t, db)
	ctx := context.Background()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(q string) bool {
		t.Helper()
		var ok bool
		if err := db.QueryRow("SELECT to_regclass($1) IS NOT NULL", q).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	exec("CREATE SCHEMA " + views)
	exec("CREATE TABLE " + views + ".plans (id int)")
	exec("CREATE TABLE " + views + ".keep_me (id int)")
	_, err := Create(ctx, db, Options{Customers: 3, Schema: billing, SourceSchema: views})
	if err == nil || !strings.Contains(err.Error(), "plans with a view: it is a table") {
		t.Fatalf("Create over a table named plans = %v; want a refusal naming it", err)
	}
	if exists(billing + ".accounts") {
		t.Error("the failed Create left billing tables behind")
	}

	exec("DROP TABLE " + views + ".plans")
	st, err := Create(ctx, db, Options{Customers: 3, Schema: billing, SourceSchema: views})
	if err != nil {
		t.Fatal(err)
	}
	if st.Customers != 3 || st.Plans != 18 {
		t.Errorf("Stats = %+v", st)
	}
	if !exists(views + ".keep_me") {
		t.Error("Create dropped another table of the view schema")
	}

	exec("CREATE TABLE " + billing + ".notes (id int)")
	_, err = Create(ctx, db, Options{Customers: 3, Schema: billing, SourceSchema: views})
	if err == nil || !strings.Contains(err.Error(), "holds notes") {
		t.Fatalf("Create over a schema with other tables = %v; want a refusal naming one", err)
	}
	if !exists(billing+".notes") || !exists(views+".customers") {
		t.Error("the refused Create changed the schemas")
	}
}

func TestViewsQuoting(t *testing.T) {
	sql := Views("billing", "Select")
	if !strings.Contains(sql, "CREATE VIEW \"Select\".customers AS") || !strings.Contains(sql, "FROM billing.accounts a") {
		t.Errorf("Views quotes badly:\n%s", sql)
	}
	if sql := Views("billing", "order"); !strings.Contains(sql, `"order".plans`) {
		t.Errorf("Views leaves a keyword unquoted:\n%s", sql)
	}
}

// BenchmarkCreate creates RECUR_BENCH_CUSTOMERS customers (2,000 by
// default) per operation.
func BenchmarkCreate(b *testing.B) {
	customers := 2000
	if s := os.Getenv("RECUR_BENCH_CUSTOMERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("RECUR_BENCH_CUSTOMERS must be a number of customers; got %q", s)
		}
		customers = n
	}
	db := openDB(b)
	billing, views := schemas(b, db)
	ctx := context.Background()
	var st Stats
	for i := 0; i < b.N; i++ {
		var err error
		if st, err = Create(ctx, db, Options{Customers: customers, Seed: int64(i), Schema: billing, SourceSchema: views}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(customers*b.N)/b.Elapsed().Seconds(), "customers/s")
	b.ReportMetric(float64(st.Records()*b.N)/b.Elapsed().Seconds(), "records/s")
}
