package activities

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/starter/demo"
	"github.com/recurhq/recur/workflows"
)

// badSource makes the six relations as tables, in a schema of the test's
// own, with records made bad on purpose:
//
//   - customer c_good, with invoices inv_xxx (currency XXX, with a line item
//     and a transaction), inv_ok (a subscription line, a one-time line and a
//     transaction) and inv_str (a line item whose amount is the string
//     "ten" and a good one), an event of an unknown type and a good one;
//   - customer c_long, with a 300-character e-mail (a warning only);
//   - plans p_month, and p_fortnight (interval_unit fortnight).
func badSource(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	s := "bad_" + suffix()
	dropSchemas(t, db, s)
	long := strings.Repeat("a", 300-len("@example.com")) + "@example.com"
	exec(t, db,
		`CREATE SCHEMA `+s,
		`CREATE TABLE `+s+`.customers (external_id text, name text, email text, country text)`,
		`INSERT INTO `+s+`.customers VALUES ('c_good', 'Good Co', 'good@example.com', 'DE'), ('c_long', 'Long Co', '`+long+`', 'US')`,
		`CREATE TABLE `+s+`.plans (external_id text, name text, interval_count int, interval_unit text)`,
		`INSERT INTO `+s+`.plans VALUES ('p_month', 'Monthly', 1, 'month'), ('p_fortnight', 'Fortnightly', 1, 'fortnight')`,
		`CREATE TABLE `+s+`.invoices (external_id text, customer_external_id text, date timestamptz, due_date timestamptz, currency text)`,
		`INSERT INTO `+s+`.invoices VALUES
			('inv_xxx', 'c_good', '2024-01-01Z', NULL, 'XXX'),
			('inv_ok', 'c_good', '2024-02-01Z', NULL, 'USD'),
			('inv_str', 'c_good', '2024-03-01Z', NULL, 'USD'),
			('inv_long', 'c_long', '2024-02-01Z', NULL, 'USD')`,
		// amount_in_cents is text: "1000" is read as the number 1000, "ten"
		// stays a string.
		`CREATE TABLE `+s+`.line_items (invoice_external_id text, external_id text, type text, amount_in_cents text,
			subscription_external_id text, plan_external_id text, service_period_start timestamptz, service_period_end timestamptz)`,
		`INSERT INTO `+s+`.line_items VALUES
			('inv_xxx', 'li_xxx', 'one_time', '1000', NULL, NULL, NULL, NULL),
			('inv_ok', 'li_sub', 'subscription', '2000', 'sub_1', 'p_month', '2024-02-01Z', '2024-03-01Z'),
			('inv_ok', 'li_once', 'one_time', '500', NULL, NULL, NULL, NULL),
			('inv_str', 'li_str', 'one_time', 'ten', NULL, NULL, NULL, NULL),
			('inv_str', 'li_str_ok', 'one_time', '300', NULL, NULL, NULL, NULL),
			('inv_long', 'li_long', 'one_time', '100', NULL, NULL, NULL, NULL)`,
		`CREATE TABLE `+s+`.transactions (invoice_external_id text, external_id text, type text, result text, date timestamptz, amount_in_cents bigint)`,
		`INSERT INTO `+s+`.transactions VALUES
			('inv_xxx', 'tr_xxx', 'payment', 'successful', '2024-01-02Z', 1000),
			('inv_ok', 'tr_ok', 'payment', 'successful', '2024-02-02Z', 2500)`,
		`CREATE TABLE `+s+`.subscription_events (customer_external_id text, external_id text, event_type text, event_date timestamptz,
			effective_date timestamptz, subscription_external_id text, plan_external_id text, currency text, amount_in_cents bigint)`,
		`INSERT INTO `+s+`.subscription_events VALUES
			('c_good', 'ev_bad', 'subscription_exploded', '2024-02-01Z', '2024-02-01Z', 'sub_1', 'p_month', 'USD', 2000),
			('c_good', 'ev_ok', 'subscription_start', '2024-02-01Z', '2024-02-01Z', 'sub_1', 'p_month', 'USD', 2000)`,
	)
	return s
}

// failure finds a listed failure by type and external id.
func failure(list []workflows.RecordFailure, typ, id string) (workflows.RecordFailure, bool) {
	for _, f := range list {
		if f.Type == typ && f.ExternalID == id {
			return f, true
		}
	}
	return workflows.RecordFailure{}, false
}

// sentIDs lists the external ids of every record in a build's parts, as
// "type\x00id", and checks that the parts' counts are what they hold.
func sentIDs(t *testing.T, db *sqlx.DB, res workflows.BuildResult) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	var total workflows.TypeCounts
	for _, p := range res.Parts {
		var counts workflows.TypeCounts
		for typ, recs := range partBody(t, db, p.ID) {
			counts.Inc(string(typ), len(recs))
			for _, r := range recs {
				out[string(typ)+"\x00"+str(t, r["external_id"])] = true
			}
		}
		if counts != p.Records {
			t.Errorf("part %d holds %+v, its ref says %+v", p.Seq, counts, p.Records)
		}
		total.Add(counts)
	}
	if total != res.ToSend {
		t.Errorf("the parts hold %+v, ToSend says %+v", total, res.ToSend)
	}
	return out
}

// TestBuildPayloadBadRecords: every record that breaks a rule is reported
// with its customer, type, external id, field and message, and is not
// sent, nor are the records that depend on it — a refused invoice's line
// items and transactions, and a new invoice one of whose line items was
// refused (an invoice is imported once, complete); a warning is reported
// and the record sent; everything else is in the parts.
func TestBuildPayloadBadRecords(t *testing.T) {
	db := testDB(t)
	a := newActivities(db, badSource(t, db), nil)
	ds := "ds_build_" + suffix()
	settings := settingsOf(ds)

	b := extractAndBuild(t, a, settings, "c_good")
	res := b.build
	want := []struct{ typ, id, field, msg string }{
		{workflows.TypeInvoices, "inv_xxx", "currency", `"XXX"`},
		{workflows.TypeLineItems, "li_xxx", "invoice_external_id", `not sent: its invoice "inv_xxx" was refused`},
		{workflows.TypeTransactions, "tr_xxx", "invoice_external_id", `not sent: its invoice "inv_xxx" was refused`},
		{workflows.TypeLineItems, "li_str", "amount_in_cents", "amount_in_cents"},
		{workflows.TypeSubscriptionEvents, "ev_bad", "event_type", `"subscription_exploded"`},
		{workflows.TypeInvoices, "inv_str", "invoice_external_id", `invoice "inv_str" is imported once, complete, and its line_item "li_str" was refused`},
		{workflows.TypeLineItems, "li_str_ok", "invoice_external_id", `its line_item "li_str" was refused`},
	}
	for _, w := range want {
		f, ok := failure(res.FailedRecords, w.typ, w.id)
		if !ok {
			t.Errorf("%s %s is not reported: %+v", w.typ, w.id, res.FailedRecords)
			continue
		}
		if f.Customer != "c_good" || f.Field != w.field || !strings.Contains(f.Message, w.msg) || f.Import != "" {
			t.Errorf("%s %s is reported as %+v; want customer c_good, field %s, a message with %s", w.typ, w.id, f, w.field, w.msg)
		}
	}
	if len(res.FailedRecords) != len(want) || res.FailedMore != 0 {
		t.Errorf("%d failures listed, want %d: %+v", len(res.FailedRecords), len(want), res.FailedRecords)
	}
	if (res.Failed != workflows.TypeCounts{Invoices: 2, LineItems: 3, Transactions: 1, SubscriptionEvents: 1}) {
		t.Errorf("Failed %+v", res.Failed)
	}
	wantSent := workflows.TypeCounts{Customers: 1, Invoices: 1, LineItems: 2, Transactions: 1, SubscriptionEvents: 1}
	if res.ToSend != wantSent {
		t.Errorf("ToSend %+v, want %+v", res.ToSend, wantSent)
	}
	sent := sentIDs(t, db, res)
	for _, id := range []string{"customers\x00c_good", "invoices\x00inv_ok", "line_items\x00li_sub", "line_items\x00li_once",
		"transactions\x00tr_ok", "subscription_events\x00ev_ok"} {
		if !sent[id] {
			t.Errorf("%q is not in the parts", id)
		}
	}
	for _, w := range want {
		if sent[w.typ+"\x00"+w.id] {
			t.Errorf("the refused %s %s is in the parts", w.typ, w.id)
		}
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings for c_good: %+v", res.Warnings)
	}
	// The failures are in the state database, for the whole list.
	var stored []struct {
		Type  string `db:"type"`
		ID    string `db:"external_id"`
		Field string `db:"field"`
	}
	if err := db.Select(&stored, `SELECT type, external_id, field FROM recur.record_failures WHERE data_source = $1 AND customer = 'c_good' AND import_id = ''`, ds); err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(want) {
		t.Errorf("recur.record_failures holds %d rows, want %d: %+v", len(stored), len(want), stored)
	}

	// A 300-character e-mail is a warning: the customer is still sent.
	long := extractAndBuild(t, a, settings, "c_long")
	if len(long.build.FailedRecords) != 0 {
		t.Errorf("c_long: failures %+v", long.build.FailedRecords)
	}
	if len(long.build.Warnings) != 1 || long.build.Warnings[0].Field != "email" || long.build.Warnings[0].Customer != "c_long" ||
		long.build.Warnings[0].ExternalID != "c_long" || long.build.Warnings[0].Type != workflows.TypeCustomers {
		t.Errorf("c_long: warnings %+v, want one on email", long.build.Warnings)
	}
	if (long.build.ToSend != workflows.TypeCounts{Customers: 1, Invoices: 1, LineItems: 1}) {
		t.Errorf("c_long: ToSend %+v", long.build.ToSend)
	}
	if !sentIDs(t, db, long.build)["customers\x00c_long"] {
		t.Error("c_long is not sent")
	}

	// The plans: a fortnightly plan is refused, the monthly one sent.
	plans := extractAndBuild(t, a, settings, "")
	f, ok := failure(plans.build.FailedRecords, workflows.TypePlans, "p_fortnight")
	if !ok || f.Field != "interval_unit" || !strings.Contains(f.Message, `"fortnight"`) || f.Customer != "" {
		t.Errorf("p_fortnight: %+v", plans.build.FailedRecords)
	}
	if (plans.build.ToSend != workflows.TypeCounts{Plans: 1}) || !sentIDs(t, db, plans.build)["plans\x00p_month"] {
		t.Errorf("plans: ToSend %+v", plans.build.ToSend)
	}
}

// recordAllImported writes every record of a build's parts to the ledger,
// as Poll does when ChartMogul imported them all.
func recordAllImported(t *testing.T, a *Activities, ds, customer string, res workflows.BuildResult) {
	t.Helper()
	for _, p := range res.Parts {
		var entries []ledgerEntry
		for _, list := range partEntries(t, a.State.DB, p.ID) {
			entries = append(entries, list...)
		}
		if err := a.State.recordOutcome(context.Background(), ds, customer, "wf_test", "imp_test", nil, "completed", entries, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func countRows(t *testing.T, db *sqlx.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Get(&n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBuildPayloadLedger: what ChartMogul holds unchanged is not sent; a
// changed customer is sent again; a changed invoice is a conflict naming
// the changed fields, never sent; a dry run writes nothing.
func TestBuildPayloadLedger(t *testing.T) {
	db := testDB(t)
	schema := badSource(t, db)
	a := newActivities(db, schema, nil)
	ctx := context.Background()
	ds := "ds_ledger_" + suffix()
	settings := settingsOf(ds)

	// A dry run on a data source of its own stores nothing, though it has
	// failures to report.
	dryDS := "ds_dry_" + suffix()
	ex, err := a.Extract(ctx, workflows.ExtractInput{Settings: settingsOf(dryDS), Customer: "c_good", Workflow: "wf-dry"})
	if err != nil {
		t.Fatal(err)
	}
	dry, err := a.BuildPayload(ctx, workflows.BuildInput{Settings: settingsOf(dryDS), Customer: "c_good", ExtractID: ex.ExtractID, Workflow: "wf-dry", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Failed.Total() == 0 || dry.ToSend.Total() == 0 || len(dry.Parts) != 0 {
		t.Errorf("a dry run reports %+v; want failures, records to send and no parts", dry)
	}
	if n := countRows(t, db, `SELECT count(*) FROM recur.parts WHERE data_source = $1`, dryDS) +
		countRows(t, db, `SELECT count(*) FROM recur.record_failures WHERE data_source = $1`, dryDS); n != 0 {
		t.Errorf("a dry run stored %d parts or failures", n)
	}

	first := extractAndBuild(t, a, settings, "c_good")
	sent := first.build.ToSend
	recordAllImported(t, a, ds, "c_good", first.build)

	// Unchanged: nothing to send.
	again := extractAndBuild(t, a, settings, "c_good")
	if len(again.build.Parts) != 0 || again.build.ToSend.Total() != 0 || again.build.Unchanged != sent || again.build.Conflicts.Total() != 0 {
		t.Errorf("an unchanged customer: %+v; want no parts and Unchanged %+v", again.build, sent)
	}
	// The refused records are still refused, not taken for held.
	if again.build.Failed != first.build.Failed {
		t.Errorf("Failed %+v, first %+v", again.build.Failed, first.build.Failed)
	}

	// The customer's e-mail and an invoice's currency and due date change.
	exec(t, db,
		`UPDATE `+schema+`.customers SET email = 'new@example.com' WHERE external_id = 'c_good'`,
		`UPDATE `+schema+`.invoices SET currency = 'EUR', due_date = '2024-03-01Z' WHERE external_id = 'inv_ok'`)
	wantConflict := workflows.Conflict{Customer: "c_good", Type: workflows.TypeInvoices, ExternalID: "inv_ok", Fields: []string{"currency", "due_date"}}

	// A dry run reports the conflict and stores none.
	ex, err = a.Extract(ctx, workflows.ExtractInput{Settings: settings, Customer: "c_good", Workflow: "wf-dry-2"})
	if err != nil {
		t.Fatal(err)
	}
	dry, err = a.BuildPayload(ctx, workflows.BuildInput{Settings: settings, Customer: "c_good", ExtractID: ex.ExtractID, Workflow: "wf-dry-2", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Conflicts.Invoices != 1 || len(dry.Parts) != 0 {
		t.Errorf("dry run: %+v", dry)
	}
	if n := countRows(t, db, `SELECT count(*) FROM recur.conflicts WHERE data_source = $1`, ds); n != 0 {
		t.Errorf("a dry run stored %d conflicts", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM recur.parts WHERE workflow_id = 'wf-dry-2'`); n != 0 {
		t.Errorf("a dry run stored %d parts", n)
	}

	changed := extractAndBuild(t, a, settings, "c_good")
	res := changed.build
	if (res.ToSend != workflows.TypeCounts{Customers: 1}) {
		t.Errorf("ToSend %+v; want the changed customer only", res.ToSend)
	}
	ids := sentIDs(t, db, res)
	if !ids["customers\x00c_good"] || ids["invoices\x00inv_ok"] || len(ids) != 1 || len(res.Parts) != 1 {
		t.Fatalf("the parts hold %v; want c_good only", ids)
	}
	if body := partBody(t, db, res.Parts[0].ID); str(t, body[chartmogul.RecordCustomers][0]["email"]) != "new@example.com" {
		t.Errorf("the customer is sent with %s", body[chartmogul.RecordCustomers][0]["email"])
	}
	if res.Conflicts != (workflows.TypeCounts{Invoices: 1}) || len(res.ConflictList) != 1 {
		t.Fatalf("Conflicts %+v, list %+v", res.Conflicts, res.ConflictList)
	}
	if c := res.ConflictList[0]; c.Customer != wantConflict.Customer || c.Type != wantConflict.Type || c.ExternalID != wantConflict.ExternalID ||
		!slices.Equal(c.Fields, wantConflict.Fields) {
		t.Errorf("conflict %+v, want %+v", c, wantConflict)
	}
	wantUnchanged := sent
	wantUnchanged.Customers--
	wantUnchanged.Invoices--
	if res.Unchanged != wantUnchanged {
		t.Errorf("Unchanged %+v, want %+v", res.Unchanged, wantUnchanged)
	}
	var rows []struct {
		Type     string   `db:"type"`
		ID       string   `db:"external_id"`
		Customer string   `db:"customer"`
		Fields   []string `db:"-"`
		Raw      string   `db:"fields"`
	}
	if err := db.Select(&rows, `SELECT type, external_id, customer, fields::text AS fields FROM recur.conflicts WHERE data_source = $1`, ds); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Type != "invoices" || rows[0].ID != "inv_ok" || rows[0].Customer != "c_good" || rows[0].Raw != "{currency,due_date}" {
		t.Errorf("recur.conflicts: %+v", rows)
	}

	// Once the invoice is as it was, the conflict is cleared.
	exec(t, db, `UPDATE `+schema+`.invoices SET currency = 'USD', due_date = NULL WHERE external_id = 'inv_ok'`)
	extractAndBuild(t, a, settings, "c_good")
	if n := countRows(t, db, `SELECT count(*) FROM recur.conflicts WHERE data_source = $1`, ds); n != 0 {
		t.Errorf("a resolved conflict is still recorded (%d rows)", n)
	}
}

// TestBuildPayloadLargeCustomer: a customer larger than a part is split
// into parts of at most PartBytes, the customer first, each invoice with
// its line items and transactions.
func TestBuildPayloadLargeCustomer(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 1, LargeCustomerInvoices: 300})
	a := newActivities(db, d.views, nil)
	settings := settingsOf("ds_large_" + suffix())
	settings.PartBytes = 64 << 10
	b := extractAndBuild(t, a, settings, demo.LargeCustomerID)
	res := b.build
	if len(res.FailedRecords) != 0 || res.Failed.Total() != 0 {
		t.Fatalf("the demo's large customer has failures: %+v", res.FailedRecords)
	}
	if len(res.Parts) < 3 {
		t.Fatalf("%d parts of at most 64 KiB for %d records", len(res.Parts), res.ToSend.Total())
	}
	if res.ToSend != b.extract.Counts {
		t.Errorf("ToSend %+v, extracted %+v", res.ToSend, b.extract.Counts)
	}
	invoicePart := map[string]int{}
	var total workflows.TypeCounts
	for i, p := range res.Parts {
		if p.Seq != i+1 {
			t.Errorf("part %d has seq %d", i+1, p.Seq)
		}
		var size int
		if err := db.Get(&size, `SELECT length(body) FROM recur.parts WHERE id = $1`, p.ID); err != nil {
			t.Fatal(err)
		}
		if size > settings.PartBytes || p.Bytes != size {
			t.Errorf("part %d: %d bytes (ref says %d), more than %d", p.Seq, size, p.Bytes, settings.PartBytes)
		}
		body := partBody(t, db, p.ID)
		if n := len(body[chartmogul.RecordCustomers]); (i == 0) != (n == 1) || n > 1 {
			t.Errorf("part %d holds %d customer records; the customer belongs in part 1 only", p.Seq, n)
		}
		for _, inv := range body[chartmogul.RecordInvoices] {
			invoicePart[str(t, inv["external_id"])] = p.Seq
		}
		total.Add(p.Records)
	}
	for _, p := range res.Parts {
		body := partBody(t, db, p.ID)
		for _, typ := range []chartmogul.RecordType{chartmogul.RecordLineItems, chartmogul.RecordTransactions} {
			for _, r := range body[typ] {
				inv := str(t, r["invoice_external_id"])
				if invoicePart[inv] != p.Seq {
					t.Errorf("%s %s is in part %d, its invoice %s in part %d", typ, str(t, r["external_id"]), p.Seq, inv, invoicePart[inv])
				}
			}
		}
	}
	if total != res.ToSend || len(invoicePart) != res.ToSend.Invoices {
		t.Errorf("the parts carry %+v (%d invoices), ToSend %+v", total, len(invoicePart), res.ToSend)
	}
}

// TestFindRemoved: customers ChartMogul holds from Recur that the source
// no longer has are reported, never deleted.
func TestFindRemoved(t *testing.T) {
	db := testDB(t)
	schema := badSource(t, db)
	a := newActivities(db, schema, nil)
	ds := "ds_removed_" + suffix()
	settings := settingsOf(ds)
	for _, c := range []string{"c_good", "c_long"} {
		recordAllImported(t, a, ds, c, extractAndBuild(t, a, settings, c).build)
	}
	res, err := a.FindRemoved(context.Background(), workflows.FindRemovedInput{Settings: settings})
	if err != nil || res.Count != 0 {
		t.Fatalf("nothing removed yet: %+v, %v", res, err)
	}
	exec(t, db, `DELETE FROM `+schema+`.customers WHERE external_id = 'c_long'`)
	res, err = a.FindRemoved(context.Background(), workflows.FindRemovedInput{Settings: settings})
	if err != nil || res.Count != 1 || !slices.Equal(res.Customers, []string{"c_long"}) {
		t.Errorf("c_long removed: %+v, %v", res, err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM recur.ledger WHERE data_source = $1 AND customer = 'c_long'`, ds); n == 0 {
		t.Error("FindRemoved deleted the removed customer's ledger")
	}
}

// TestBuildPayloadTooLargeGroup: an invoice that, with its line items and
// transactions, cannot fit in one part is kept back with a message, and
// the rest of the customer is sent.
func TestBuildPayloadTooLargeGroup(t *testing.T) {
	db := testDB(t)
	schema := badSource(t, db)
	exec(t, db, `ALTER TABLE `+schema+`.line_items ADD COLUMN description text`,
		`UPDATE `+schema+`.line_items SET description = repeat('x', 3000) WHERE external_id = 'li_sub'`)
	a := newActivities(db, schema, nil)
	settings := settingsOf("ds_toolarge_" + suffix())
	settings.PartBytes = requestOverhead + 2500
	res := extractAndBuild(t, a, settings, "c_good").build
	for _, id := range []struct{ typ, id string }{{"invoices", "inv_ok"}, {"line_items", "li_sub"}, {"line_items", "li_once"}, {"transactions", "tr_ok"}} {
		f, ok := failure(res.FailedRecords, id.typ, id.id)
		if !ok || f.Customer != "c_good" || !strings.Contains(f.Message, "more than one request may carry") {
			t.Errorf("%s %s: %+v", id.typ, id.id, f)
		}
	}
	sent := sentIDs(t, db, res)
	if sent["invoices\x00inv_ok"] || sent["invoices\x00inv_str"] || !sent["customers\x00c_good"] || !sent["subscription_events\x00ev_ok"] {
		t.Errorf("the parts hold %v", sent)
	}
	if res.Failed.Invoices != 3 || res.Failed.LineItems != 5 || res.Failed.Transactions != 2 {
		t.Errorf("Failed %+v", res.Failed)
	}
	for _, p := range res.Parts {
		if p.Bytes > settings.PartBytes {
			t.Errorf("part %d has %d bytes, more than %d", p.Seq, p.Bytes, settings.PartBytes)
		}
	}
}
