package activities

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/starter/demo"
	"github.com/recurhq/recur/workflows"
)

// viewCounts counts a customer's rows in each of the six views, as a
// person would with COUNT(*).
func viewCounts(t *testing.T, db *sqlx.DB, schema, customer string) workflows.TypeCounts {
	t.Helper()
	s := pq.QuoteIdentifier(schema)
	queries := map[string]string{
		workflows.TypeCustomers:          `SELECT count(*) FROM ` + s + `.customers WHERE external_id = $1`,
		workflows.TypeInvoices:           `SELECT count(*) FROM ` + s + `.invoices WHERE customer_external_id = $1`,
		workflows.TypeLineItems:          `SELECT count(*) FROM ` + s + `.line_items l JOIN ` + s + `.invoices i ON i.external_id = l.invoice_external_id WHERE i.customer_external_id = $1`,
		workflows.TypeTransactions:       `SELECT count(*) FROM ` + s + `.transactions x JOIN ` + s + `.invoices i ON i.external_id = x.invoice_external_id WHERE i.customer_external_id = $1`,
		workflows.TypeSubscriptionEvents: `SELECT count(*) FROM ` + s + `.subscription_events WHERE customer_external_id = $1`,
	}
	var c workflows.TypeCounts
	for typ, q := range queries {
		var n int
		if err := db.Get(&n, q, customer); err != nil {
			t.Fatal(err)
		}
		c.Inc(typ, n)
	}
	return c
}

// loadExtract reads a stored extract.
func loadExtract(t *testing.T, db *sqlx.DB, id int64) (body []byte, customer, hash string) {
	t.Helper()
	var row struct {
		Body     []byte `db:"body"`
		Customer string `db:"customer"`
		Hash     string `db:"hash"`
	}
	if err := db.Get(&row, `SELECT body, customer, hash FROM recur.extracts WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return row.Body, row.Customer, row.Hash
}

// TestExtractDemoCustomers reads demo customers and checks that the counts
// are the views' and that the stored extract is a bulk payload without a
// single problem.
func TestExtractDemoCustomers(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 12})
	a := newActivities(db, d.views, nil)
	ctx := context.Background()
	settings := settingsOf("ds_extract_" + suffix())
	ids := customerIDs(t, db, d.views)
	if len(ids) != 12 {
		t.Fatalf("the demo has %d customers, want 12", len(ids))
	}
	now := demo.DefaultNow.Add(48 * time.Hour)
	var total workflows.TypeCounts
	for _, id := range ids {
		res, err := a.Extract(ctx, workflows.ExtractInput{Settings: settings, Customer: id, Workflow: "wf-" + id})
		if err != nil {
			t.Fatalf("Extract %s: %v", id, err)
		}
		want := viewCounts(t, db, d.views, id)
		if res.Counts != want {
			t.Errorf("Extract %s counts %+v, the views hold %+v", id, res.Counts, want)
		}
		if res.Missing || res.Hash == "" || res.ExtractID == 0 {
			t.Errorf("Extract %s: %+v", id, res)
		}
		total.Add(res.Counts)

		body, customer, hash := loadExtract(t, db, res.ExtractID)
		if customer != id || hash != res.Hash {
			t.Errorf("the stored extract is of %q with hash %q, want %q and %q", customer, hash, id, res.Hash)
		}
		b, err := chartmogul.Decode(body, now)
		if err != nil {
			t.Fatalf("the extract of %s is not a bulk payload: %v", id, err)
		}
		got := workflows.TypeCounts{Customers: len(b.Customers), Invoices: len(b.Invoices), LineItems: len(b.LineItems),
			Transactions: len(b.Transactions), SubscriptionEvents: len(b.Events)}
		if got != want {
			t.Errorf("the extract of %s decodes to %+v, want %+v", id, got, want)
		}
		for _, typ := range chartmogul.RecordTypes {
			n := got.Get(string(typ))
			for i := 0; i < n; i++ {
				if p := b.Problems(typ, i); len(p.Errors)+len(p.Warnings) > 0 {
					t.Errorf("%s %s[%d]: %+v", id, typ, i, *p)
				}
			}
		}
		if b.Customers[0].ExternalID != id {
			t.Errorf("the extract of %s holds customer %q", id, b.Customers[0].ExternalID)
		}
	}
	// Every type was read at least once: the checks above are not empty.
	for _, typ := range []string{workflows.TypeCustomers, workflows.TypeInvoices, workflows.TypeLineItems, workflows.TypeTransactions, workflows.TypeSubscriptionEvents} {
		if total.Get(typ) == 0 {
			t.Errorf("no %s were extracted over 12 demo customers", typ)
		}
	}
	if total.Invoices != d.stats.Invoices || total.LineItems != d.stats.LineItems || total.Transactions != d.stats.Transactions ||
		total.SubscriptionEvents != d.stats.SubscriptionEvents {
		t.Errorf("the customers' records add up to %+v; the demo made %+v", total, d.stats)
	}

	// The plans: customer "".
	res, err := a.Extract(ctx, workflows.ExtractInput{Settings: settings, Workflow: "wf-plans"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Plans != d.stats.Plans || res.Counts.Total() != d.stats.Plans || res.Missing {
		t.Errorf("Extract of the plans: %+v, want %d plans", res, d.stats.Plans)
	}
}

// TestExtractUnknownCustomer: a customer the source does not have is
// Missing, with nothing extracted.
func TestExtractUnknownCustomer(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 2})
	a := newActivities(db, d.views, nil)
	res, err := a.Extract(context.Background(), workflows.ExtractInput{Settings: settingsOf("ds_x"), Customer: "acct_nobody", Workflow: "wf"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Missing || res.Counts.Total() != 0 {
		t.Errorf("Extract of an unknown customer: %+v, want Missing and no records", res)
	}
	known := customerIDs(t, db, d.views)[0]
	res, err = a.Extract(context.Background(), workflows.ExtractInput{Settings: settingsOf("ds_x"), Customer: known, Workflow: "wf"})
	if err != nil || res.Missing {
		t.Errorf("Extract of %s: %+v, %v", known, res, err)
	}
}

// TestListCustomersPages pages through the customers with a cursor, in the
// database's order, and says Done on the last page.
func TestListCustomersPages(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 12})
	a := newActivities(db, d.views, nil)
	want := customerIDs(t, db, d.views)
	settings := settingsOf("ds_list_" + suffix())
	for _, full := range []bool{true, false} {
		var got []string
		after, pages := "", 0
		for {
			res, err := a.ListCustomers(context.Background(), workflows.ListCustomersInput{Settings: settings, After: after, Limit: 5, Full: full})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if res.Scanned != len(res.Customers)+res.Unchanged || res.Unchanged != 0 {
				t.Errorf("page %d: %+v", pages, res)
			}
			got = append(got, res.Customers...)
			if len(res.Customers) > 0 && res.Next != res.Customers[len(res.Customers)-1] {
				t.Errorf("page %d: Next %q, want the last id %q", pages, res.Next, res.Customers[len(res.Customers)-1])
			}
			if res.Done {
				break
			}
			if pages > 10 {
				t.Fatal("ListCustomers never says Done")
			}
			after = res.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("full=%v: the pages list %v, want %v", full, got, want)
		}
		if pages != 3 {
			t.Errorf("12 customers by 5 took %d pages, want 3", pages)
		}
	}
	// Only: a subset, with an id the source does not have.
	res, err := a.ListCustomers(context.Background(), workflows.ListCustomersInput{Settings: settings, Limit: 100, Full: true,
		Only: []string{want[3], "acct_nobody", want[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Customers, []string{want[1], want[3]}) || !res.Done {
		t.Errorf("Only: %+v, want [%s %s]", res, want[1], want[3])
	}
}

// TestListCustomersChanged: after a complete import, a customer is
// unchanged until one of its rows changes.
func TestListCustomersChanged(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 4})
	a := newActivities(db, d.views, nil)
	ctx := context.Background()
	settings := settingsOf("ds_changes_" + suffix())
	ids := customerIDs(t, db, d.views)
	target := ""
	for _, id := range ids {
		if viewCounts(t, db, d.views, id).LineItems > 0 {
			target = id
			break
		}
	}
	if target == "" {
		t.Fatal("no demo customer has line items")
	}
	list := func() workflows.ListCustomersResult {
		t.Helper()
		res, err := a.ListCustomers(ctx, workflows.ListCustomersInput{Settings: settings, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	finish := func(complete, dryRun bool) {
		t.Helper()
		ex, err := a.Extract(ctx, workflows.ExtractInput{Settings: settings, Customer: target, Workflow: "wf-" + target})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Finish(ctx, workflows.FinishInput{Settings: settings, Customer: target, ExtractID: ex.ExtractID, Hash: ex.Hash,
			Workflow: "wf-" + target, Complete: complete, DryRun: dryRun}); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM recur.extracts WHERE id = $1`, ex.ExtractID); err != nil || n != 0 {
			t.Errorf("Finish left the extract behind (%d, %v)", n, err)
		}
	}
	listed := func(res workflows.ListCustomersResult) bool { return slices.Contains(res.Customers, target) }

	if res := list(); !listed(res) || res.Unchanged != 0 || len(res.Customers) != len(ids) {
		t.Fatalf("before any import every customer is listed: %+v", res)
	}
	// Neither an incomplete import nor a dry run records the hash.
	finish(false, false)
	finish(true, true)
	if res := list(); !listed(res) {
		t.Fatalf("%s is unchanged after an incomplete import or a dry run: %+v", target, res)
	}
	finish(true, false)
	if res := list(); listed(res) || res.Unchanged != 1 || len(res.Customers) != len(ids)-1 || res.Scanned != len(ids) {
		t.Fatalf("after a complete import %s should be unchanged: %+v", target, res)
	}

	// A line item's amount changes.
	exec(t, db, `UPDATE `+pq.QuoteIdentifier(d.billing)+`.invoice_lines SET amount_cents = amount_cents + 1
		WHERE id = (SELECT l.id FROM `+pq.QuoteIdentifier(d.billing)+`.invoice_lines l
			JOIN `+pq.QuoteIdentifier(d.billing)+`.invoices i ON i.id = l.invoice_id
			JOIN `+pq.QuoteIdentifier(d.billing)+`.accounts c ON c.id = i.account_id
			WHERE c.code = '`+target+`' ORDER BY l.id LIMIT 1)`)
	if res := list(); !listed(res) {
		t.Fatalf("%s is still unchanged after a line item's amount changed: %+v", target, res)
	}
	finish(true, false)
	if res := list(); listed(res) {
		t.Fatalf("%s is listed after its change was imported: %+v", target, res)
	}
	// The customer's e-mail changes.
	exec(t, db, `UPDATE `+pq.QuoteIdentifier(d.billing)+`.accounts SET email = 'changed@example.com' WHERE code = '`+target+`'`)
	if res := list(); !listed(res) {
		t.Fatalf("%s is still unchanged after its e-mail changed: %+v", target, res)
	}
	// A full listing lists it whatever the hashes say.
	finish(true, false)
	res, err := a.ListCustomers(ctx, workflows.ListCustomersInput{Settings: settings, Limit: 100, Full: true})
	if err != nil || !listed(res) {
		t.Errorf("a full listing leaves out %s: %+v, %v", target, res, err)
	}
}

// handSource makes base tables and six hand-written views over them, in
// schemas of the test's own; it returns the base and view schemas.
func handSource(t *testing.T, db *sqlx.DB) (base, views string) {
	t.Helper()
	s := suffix()
	base, views = "base_"+s, "src_"+s
	dropSchemas(t, db, views, base)
	exec(t, db,
		`CREATE SCHEMA `+base,
		`CREATE SCHEMA `+views,
		`CREATE TABLE `+base+`.acct (code text, full_name text, mail text, company text, country text, created timestamp, trial timestamptz)`,
		`INSERT INTO `+base+`.acct VALUES
			('c1', 'Ada', 'ada@example.com', NULL, 'DE', '2024-03-01 10:00:00', '2024-03-01 10:00:00+02'),
			('c2', 'Bob', 'bob@example.com', 'Bob Ltd', 'US', NULL, NULL)`,
		`CREATE TABLE `+base+`.price (code text, nickname text, n int, unit text)`,
		`INSERT INTO `+base+`.price VALUES ('p1', 'Monthly', 1, 'month')`,
		`CREATE TABLE `+base+`.inv (number text, acct text, issued timestamptz, cur text)`,
		`INSERT INTO `+base+`.inv VALUES ('i1', 'c1', '2024-03-01 00:00:00+00', 'EUR')`,
		`CREATE TABLE `+base+`.line (number text, code text, kind text, amount numeric(12,2), sub text, price text, ps timestamptz, pe timestamptz, prorated boolean)`,
		`INSERT INTO `+base+`.line VALUES ('i1', 'l1', 'subscription', 1000.00, 's1', 'p1', '2024-03-01 00:00:00+00', '2024-04-01 00:00:00+00', false)`,
		`CREATE TABLE `+base+`.pay (number text, code text, kind text, ok boolean, at timestamp, amount bigint)`,
		`INSERT INTO `+base+`.pay VALUES ('i1', 't1', 'payment', true, '2024-03-01 12:30:00', 1000)`,
		`CREATE TABLE `+base+`.ev (acct text, code text, kind text, at timestamptz, sub text, price text, cur text, amount bigint)`,
		`INSERT INTO `+base+`.ev VALUES ('c1', 'e1', 'subscription_start', '2024-03-01 00:00:00+00', 's1', 'p1', 'EUR', 1000)`,
		// customers has no zip: an optional column may be left out.
		`CREATE VIEW `+views+`.customers AS SELECT code AS external_id, full_name AS name, mail AS email, company, country,
			created AS lead_created_at, trial AS free_trial_started_at FROM `+base+`.acct`,
		`CREATE VIEW `+views+`.plans AS SELECT code AS external_id, nickname AS name, n AS interval_count, unit AS interval_unit FROM `+base+`.price`,
		`CREATE VIEW `+views+`.invoices AS SELECT number AS external_id, acct AS customer_external_id, issued AS date, cur AS currency FROM `+base+`.inv`,
		`CREATE VIEW `+views+`.line_items AS SELECT number AS invoice_external_id, code AS external_id, kind AS type, amount AS amount_in_cents,
			sub AS subscription_external_id, price AS plan_external_id, ps AS service_period_start, pe AS service_period_end, prorated FROM `+base+`.line`,
		`CREATE VIEW `+views+`.transactions AS SELECT number AS invoice_external_id, code AS external_id, kind AS type,
			CASE WHEN ok THEN 'successful' ELSE 'failed' END AS result, at AS date, amount AS amount_in_cents FROM `+base+`.pay`,
		`CREATE VIEW `+views+`.subscription_events AS SELECT acct AS customer_external_id, code AS external_id, kind AS event_type,
			at AS event_date, at AS effective_date, sub AS subscription_external_id, price AS plan_external_id, cur AS currency,
			amount AS amount_in_cents FROM `+base+`.ev`,
	)
	return base, views
}

// extractRecords extracts a customer and returns its records as JSON
// objects, by type.
func extractRecords(t *testing.T, a *Activities, customer string) map[chartmogul.RecordType][]map[string]jsontext.Value {
	t.Helper()
	res, err := a.Extract(context.Background(), workflows.ExtractInput{Settings: settingsOf("ds_hand"), Customer: customer, Workflow: "wf"})
	if err != nil {
		noSecret(t, err)
		t.Fatalf("Extract %q: %v", customer, err)
	}
	body, _, _ := loadExtract(t, a.State.DB, res.ExtractID)
	var out map[chartmogul.RecordType][]map[string]jsontext.Value
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSourceHandWrittenViews reads views a person wrote: NULLs, both kinds
// of timestamps, numeric amounts, and the configuration errors that say
// what to fix.
func TestSourceHandWrittenViews(t *testing.T) {
	db := testDB(t)
	base, views := handSource(t, db)
	// A session in another time zone: timestamptz values come back in it.
	tokyo := openWith(t, "timezone=Asia%2FTokyo")
	var tz string
	if err := tokyo.Get(&tz, "SHOW timezone"); err != nil || tz != "Asia/Tokyo" {
		t.Fatalf("the session's time zone is %q (%v), want Asia/Tokyo", tz, err)
	}

	t.Run("Values", func(t *testing.T) {
		a := newActivities(tokyo, views, nil)
		a.State = &State{DB: db}
		c1 := extractRecords(t, a, "c1")
		cus := c1[chartmogul.RecordCustomers]
		if len(cus) != 1 {
			t.Fatalf("customers: %v", cus)
		}
		if _, ok := cus[0]["company"]; ok {
			t.Errorf("a NULL company is a member: %s", cus[0]["company"])
		}
		if _, ok := cus[0]["zip"]; ok {
			t.Error("a column the view lacks is a member")
		}
		if got := string(cus[0]["lead_created_at"]); got != `"2024-03-01T10:00:00Z"` {
			t.Errorf("timestamp '2024-03-01 10:00:00' → %s, want \"2024-03-01T10:00:00Z\"", got)
		}
		if got := string(cus[0]["free_trial_started_at"]); got != `"2024-03-01T08:00:00Z"` {
			t.Errorf("timestamptz '2024-03-01 10:00:00+02' → %s, want \"2024-03-01T08:00:00Z\"", got)
		}
		li := c1[chartmogul.RecordLineItems]
		if len(li) != 1 {
			t.Fatalf("line items: %v", li)
		}
		if got := string(li[0]["amount_in_cents"]); got != "1000" {
			t.Errorf("numeric(12,2) 1000.00 → %s, want the integer 1000", got)
		}
		if got := string(li[0]["prorated"]); got != "false" {
			t.Errorf("boolean false → %s", got)
		}
		if got := string(li[0]["service_period_start"]); got != `"2024-03-01T00:00:00Z"` {
			t.Errorf("service_period_start → %s", got)
		}
		tr := c1[chartmogul.RecordTransactions]
		if len(tr) != 1 || string(tr[0]["date"]) != `"2024-03-01T12:30:00Z"` || string(tr[0]["amount_in_cents"]) != "1000" {
			t.Errorf("transactions: %v", tr)
		}
		if ev := c1[chartmogul.RecordSubscriptionEvents]; len(ev) != 1 || string(ev[0]["amount_in_cents"]) != "1000" {
			t.Errorf("events: %v", ev)
		}
		c2 := extractRecords(t, a, "c2")
		cus2 := c2[chartmogul.RecordCustomers]
		if len(cus2) != 1 || string(cus2[0]["company"]) != `"Bob Ltd"` {
			t.Errorf("c2: %v", cus2)
		}
		for _, f := range []string{"lead_created_at", "free_trial_started_at"} {
			if _, ok := cus2[0][f]; ok {
				t.Errorf("a NULL %s is a member", f)
			}
		}
		if len(c2[chartmogul.RecordInvoices]) != 0 {
			t.Errorf("c2 has another customer's invoices: %v", c2[chartmogul.RecordInvoices])
		}
	})

	t.Run("UnknownColumn", func(t *testing.T) {
		bad := "bad_" + suffix()
		dropSchemas(t, db, bad)
		exec(t, db, `CREATE SCHEMA `+bad,
			`CREATE VIEW `+bad+`.customers AS SELECT code AS external_id, mail AS email, 1 AS foo FROM `+base+`.acct`)
		a := newActivities(db, bad, nil)
		_, err := a.ListCustomers(context.Background(), workflows.ListCustomersInput{Settings: settingsOf("ds_x"), Limit: 10})
		wantConfigError(t, err, `"foo"`, bad+".customers", "external_id, ", "free_trial_started_at", "website_url")
	})

	t.Run("MissingRequiredColumn", func(t *testing.T) {
		bad := "bad_" + suffix()
		dropSchemas(t, db, bad)
		exec(t, db, `CREATE SCHEMA `+bad,
			`CREATE VIEW `+bad+`.customers AS SELECT code AS external_id FROM `+base+`.acct`,
			`CREATE VIEW `+bad+`.invoices AS SELECT number AS external_id, acct AS customer_external_id, cur AS currency FROM `+base+`.inv`)
		a := newActivities(db, bad, nil)
		_, err := a.Extract(context.Background(), workflows.ExtractInput{Settings: settingsOf("ds_x"), Customer: "c1", Workflow: "wf"})
		wantConfigError(t, err, `"date"`, bad+".invoices")
	})

	t.Run("MissingRelation", func(t *testing.T) {
		a := newActivities(db, "no_such_schema_"+suffix(), nil)
		_, err := a.ListCustomers(context.Background(), workflows.ListCustomersInput{Settings: settingsOf("ds_x"), Limit: 10})
		wantConfigError(t, err, a.Source.Schema+".customers", "--source-schema", "--source-query customers=")
		// A view missing from a schema that exists.
		partial := "partial_" + suffix()
		dropSchemas(t, db, partial)
		exec(t, db, `CREATE SCHEMA `+partial, `CREATE VIEW `+partial+`.customers AS SELECT code AS external_id FROM `+base+`.acct`)
		a = newActivities(db, partial, nil)
		_, err = a.Extract(context.Background(), workflows.ExtractInput{Settings: settingsOf("ds_x"), Customer: "c1", Workflow: "wf"})
		wantConfigError(t, err, partial+".invoices", "--source-query invoices=")
	})

	t.Run("SourceQuery", func(t *testing.T) {
		a := newActivities(db, views, nil)
		a.Source.Queries = map[string]string{
			"customers": `SELECT code AS external_id, upper(mail) AS email FROM ` + base + `.acct WHERE code = 'c1'`,
		}
		res, err := a.ListCustomers(context.Background(), workflows.ListCustomersInput{Settings: settingsOf("ds_x"), Limit: 10, Full: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Customers, []string{"c1"}) {
			t.Errorf("customers through the query: %v, want [c1]", res.Customers)
		}
		c1 := extractRecords(t, a, "c1")
		if cus := c1[chartmogul.RecordCustomers]; len(cus) != 1 || string(cus[0]["email"]) != `"ADA@EXAMPLE.COM"` || len(cus[0]) != 2 {
			t.Errorf("the customer read through the query: %v", cus)
		}
		if len(c1[chartmogul.RecordInvoices]) != 1 || len(c1[chartmogul.RecordLineItems]) != 1 {
			t.Errorf("the other relations come from the schema: %v", c1)
		}
		// A query with a column Recur does not know names the query.
		a = newActivities(db, views, nil)
		a.Source.Queries = map[string]string{"customers": `SELECT code AS external_id, 1 AS foo FROM ` + base + `.acct`}
		_, err = a.ListCustomers(context.Background(), workflows.ListCustomersInput{Settings: settingsOf("ds_x"), Limit: 10})
		wantConfigError(t, err, `"foo"`, "the query given for customers")
	})
}

// TestCheckSetup: CheckSetup reads the source only (it asks nothing of
// ChartMogul); a wrong key and an unknown data source are configuration
// errors at the first request, saying which setting to fix; rows that
// belong to no customer are listed.
func TestCheckSetup(t *testing.T) {
	db := testDB(t)
	base, views := handSource(t, db)
	sb := startSandbox(t, sandboxOptions{})
	ctx := context.Background()

	t.Run("WrongKey", func(t *testing.T) {
		wrong := "wrong-key-" + suffix() + "-secret"
		rememberKey(wrong)
		a := newActivities(db, views, chartmogul.NewClient(sb.srv.URL, wrong))
		if _, err := a.CheckSetup(ctx, workflows.CheckSetupInput{Settings: settingsOf(sb.ds)}); err != nil {
			t.Fatalf("CheckSetup: %v", err)
		}
		b := extractAndBuild(t, a, settingsOf(sb.ds), "c1")
		_, err := a.Submit(ctx, workflows.SubmitInput{Settings: settingsOf(sb.ds), Customer: "c1", PartID: b.build.Parts[0].ID})
		wantConfigError(t, err, "CHARTMOGUL_API_KEY")
	})

	t.Run("UnknownDataSource", func(t *testing.T) {
		a := newActivities(db, views, sb.client)
		unknown := "ds_" + suffix() + "-nowhere"
		if _, err := a.CheckSetup(ctx, workflows.CheckSetupInput{Settings: settingsOf(unknown)}); err != nil {
			t.Fatalf("CheckSetup: %v", err)
		}
		b := extractAndBuild(t, a, settingsOf(unknown), "c1")
		_, err := a.Submit(ctx, workflows.SubmitInput{Settings: settingsOf(unknown), Customer: "c1", PartID: b.build.Parts[0].ID})
		wantConfigError(t, err, unknown, "CHARTMOGUL_DATA_SOURCE")
	})

	t.Run("BrokenSource", func(t *testing.T) {
		a := newActivities(db, "no_such_schema_"+suffix(), sb.client)
		_, err := a.CheckSetup(ctx, workflows.CheckSetupInput{Settings: settingsOf(sb.ds)})
		wantConfigError(t, err, a.Source.Schema+".")
	})

	t.Run("Orphans", func(t *testing.T) {
		a := newActivities(db, views, sb.client)
		res, err := a.CheckSetup(ctx, workflows.CheckSetupInput{Settings: settingsOf(sb.ds)})
		if err != nil {
			t.Fatal(err)
		}
		if res.SourceCustomers != 2 || res.OrphansTotal != 0 || len(res.Orphans) != 0 {
			t.Fatalf("a clean source: %+v", res)
		}
		exec(t, db,
			`INSERT INTO `+base+`.line VALUES ('i_missing', 'l_orphan', 'one_time', 500, NULL, NULL, NULL, NULL, NULL)`,
			`INSERT INTO `+base+`.acct VALUES (NULL, 'Nameless Ltd', 'x@example.com', NULL, 'DE', NULL, NULL)`)
		res, err = a.CheckSetup(ctx, workflows.CheckSetupInput{Settings: settingsOf(sb.ds)})
		if err != nil {
			t.Fatal(err)
		}
		if res.SourceCustomers != 2 || res.OrphansTotal != 2 || len(res.Orphans) != 2 {
			t.Fatalf("want 2 orphans and 2 customers: %+v", res)
		}
		var sawLine, sawCustomer bool
		for _, o := range res.Orphans {
			switch o.Type {
			case workflows.TypeLineItems:
				sawLine = o.ExternalID == "l_orphan" && o.Field == "invoice_external_id" && strings.Contains(o.Message, `"i_missing"`) &&
					strings.Contains(o.Message, "not in the invoices relation")
			case workflows.TypeCustomers:
				sawCustomer = o.Field == "external_id" && strings.Contains(o.Message, "no external_id") && strings.Contains(o.Message, "Nameless Ltd")
			}
		}
		if !sawLine || !sawCustomer {
			t.Errorf("the orphans do not say what is wrong: %+v", res.Orphans)
		}

		// A customers relation without name and email columns.
		a = newActivities(db, views, sb.client)
		a.Source.Queries = map[string]string{"customers": `SELECT code AS external_id FROM ` + base + `.acct`}
		res, err = a.CheckSetup(ctx, workflows.CheckSetupInput{Settings: settingsOf(sb.ds)})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, o := range res.Orphans {
			if o.Type == workflows.TypeCustomers && strings.Contains(o.Message, "no external_id") {
				n++
			}
		}
		if n != 1 || res.OrphansTotal != 2 {
			t.Errorf("without name and email columns: %+v", res)
		}
	})
}
