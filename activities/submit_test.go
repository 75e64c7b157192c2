package activities

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/starter/demo"
	"github.com/recurhq/recur/workflows"
)

// syncPlans extracts, builds, submits and polls the plans: the customers'
// line items and events name them.
func syncPlans(t *testing.T, a *Activities, settings workflows.Settings) {
	t.Helper()
	plans := extractAndBuild(t, a, settings, "")
	if plans.build.ToSend.Plans == 0 || plans.build.Failed.Total() != 0 {
		t.Fatalf("plans: %+v", plans.build)
	}
	for _, res := range sendAll(t, a, settings, plans) {
		if res.Status != string(chartmogul.ImportCompleted) || res.Failed.Total() != 0 || res.Imported.Plans == 0 {
			t.Fatalf("the plans' import: %+v", res)
		}
	}
}

// submitTogether submits the first part of each built customer at once and
// returns their results, in order.
func submitTogether(a *Activities, settings workflows.Settings, bs []built) ([]workflows.SubmitResult, []error) {
	res := make([]workflows.SubmitResult, len(bs))
	errs := make([]error, len(bs))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			res[i], errs[i] = a.Submit(ctx, workflows.SubmitInput{Settings: settings, Customer: b.customer, PartID: b.build.Parts[0].ID})
		})
	}
	wg.Wait()
	return res, errs
}

// TestSubmitPacksAndPolls: the parts of customers ready at once share one
// import; each customer's poll reports its own failed records only; the
// ledger then holds exactly what ChartMogul imported, and ChartMogul holds
// every good record once.
func TestSubmitPacksAndPolls(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 4, Seed: 7})
	sb := startSandbox(t, sandboxOptions{})
	a := newActivities(db, d.views, sb.client)
	settings := settingsOf(sb.ds)
	syncPlans(t, a, settings)
	// ChartMogul now holds the plans: nothing to send.
	if again := extractAndBuild(t, a, settings, ""); len(again.build.Parts) != 0 || again.build.Unchanged.Plans != d.stats.Plans {
		t.Errorf("the plans after their import: %+v", again.build)
	}
	// The request goes when the fourth part arrives; the linger is long
	// only so that a busy machine does not split the four.
	a.Submitter.MaxCustomers = 4
	a.Submitter.Linger = 2 * time.Second
	ids := customerIDs(t, db, d.views)

	// A plan added after the plans were synced: a line item naming it
	// passes Recur's validation, and ChartMogul refuses it. The first and
	// the last customer of the request get one, so that each customer's
	// records sit between others' in the request's arrays.
	billing := d.billing
	bad := map[string]bool{ids[0]: true, ids[len(ids)-1]: true}
	exec(t, db, `INSERT INTO `+billing+`.prices (code, product_id, nickname, interval_unit, interval_count, amount_cents, currency)
		SELECT 'price_ghost', product_id, 'Ghost', interval_unit, interval_count, amount_cents, currency FROM `+billing+`.prices ORDER BY id LIMIT 1`)
	for id := range bad {
		var line int64
		if err := db.Get(&line, `SELECT l.id FROM `+billing+`.invoice_lines l JOIN `+billing+`.invoices i ON i.id = l.invoice_id
			JOIN `+billing+`.accounts c ON c.id = i.account_id WHERE c.code = $1 AND l.kind = 'subscription' ORDER BY l.id LIMIT 1`, id); err != nil {
			t.Fatalf("demo customer %s has no subscription line: %v", id, err)
		}
		exec(t, db, `UPDATE `+billing+`.invoice_lines SET price_id = (SELECT id FROM `+billing+`.prices WHERE code = 'price_ghost') WHERE id = `+itoa(line))
	}
	ghostLines := map[string]string{} // customer → its line item naming the ghost plan
	var rows []struct {
		Line     string `db:"external_id"`
		Customer string `db:"customer_external_id"`
	}
	if err := db.Select(&rows, `SELECT l.external_id, i.customer_external_id FROM `+d.views+`.line_items l
		JOIN `+d.views+`.invoices i ON i.external_id = l.invoice_external_id WHERE l.plan_external_id = 'price_ghost'`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		ghostLines[r.Customer] = r.Line
	}
	if len(ghostLines) != 2 {
		t.Fatalf("ghost lines %v", ghostLines)
	}

	var bs []built
	for _, id := range ids {
		b := extractAndBuild(t, a, settings, id)
		if len(b.build.Parts) != 1 || b.build.Failed.Total() != 0 {
			t.Fatalf("%s: %+v; want one part and no failures", id, b.build)
		}
		bs = append(bs, b)
	}
	subs, errs := submitTogether(a, settings, bs)
	for i, err := range errs {
		if err != nil {
			noSecret(t, err)
			t.Fatalf("Submit %s: %v", bs[i].customer, err)
		}
	}
	for i, s := range subs {
		if s.ImportID == "" || s.ImportID != subs[0].ImportID || s.ExternalID != subs[0].ExternalID || s.Customers != len(ids) {
			t.Errorf("%s: %+v; want the import of every customer (%+v)", bs[i].customer, s, subs[0])
		}
	}

	failed := map[string]bool{}
	for i, b := range bs {
		res := poll(t, a, settings, b.customer, b.build.Parts[0].ID, subs[i].ImportID)
		if res.Status != string(chartmogul.ImportCompleted) {
			t.Errorf("%s: status %q", b.customer, res.Status)
		}
		sent := b.build.Parts[0].Records
		got := res.Imported
		got.Add(res.Failed)
		if got != sent {
			t.Errorf("%s: imported %+v and failed %+v; sent %+v", b.customer, res.Imported, res.Failed, sent)
		}
		for _, f := range res.FailedRecords {
			if f.Customer != b.customer || f.Import != subs[i].ImportID || f.Message == "" || f.Type == "" {
				t.Errorf("%s is reported a failure of another customer, or without its import: %+v", b.customer, f)
			}
			failed[f.Type+"\x00"+f.ExternalID] = true
		}
		if len(res.FailedRecords) != res.Failed.Total() {
			t.Errorf("%s: %d failures listed, %d counted", b.customer, len(res.FailedRecords), res.Failed.Total())
		}
		if !bad[b.customer] {
			if res.Failed.Total() != 0 {
				t.Errorf("%s has failures: %+v", b.customer, res.FailedRecords)
			}
			continue
		}
		t.Logf("%s failed records: %+v (imported %+v)", b.customer, res.FailedRecords, res.Imported)
		if f, ok := failure(res.FailedRecords, workflows.TypeLineItems, ghostLines[b.customer]); !ok || f.Field != "plan_external_id" {
			t.Errorf("%s: the line item %s naming an unknown plan is not reported: %+v", b.customer, ghostLines[b.customer], res.FailedRecords)
		}
	}

	// The ledger holds exactly what was imported.
	wantInvoices, wantChildren := map[string]int{}, map[string]int{}
	for _, b := range bs {
		want := map[string]bool{}
		for typ, list := range partEntries(t, db, b.build.Parts[0].ID) {
			for _, e := range list {
				key := string(typ) + "\x00" + e.Key
				if failed[key] {
					continue
				}
				want[key] = true
				switch typ {
				case chartmogul.RecordInvoices:
					wantInvoices[e.Key] = 1
				case chartmogul.RecordLineItems, chartmogul.RecordTransactions:
					wantChildren[key] = 1
				}
			}
		}
		got := ledgerKeys(t, db, sb.ds, b.customer)
		for k := range want {
			if !got[k] {
				t.Errorf("%s: the ledger lacks %q", b.customer, k)
			}
		}
		for k := range got {
			if !want[k] {
				t.Errorf("%s: the ledger holds %q, which ChartMogul did not import", b.customer, k)
			}
		}
	}

	// Built again, only what failed is to send.
	for _, b := range bs {
		again := extractAndBuild(t, a, settings, b.customer).build
		want := workflows.TypeCounts{}
		if bad[b.customer] {
			want.LineItems = 1
		}
		if again.ToSend != want || again.Conflicts.Total() != 0 || again.Unchanged.Total() != b.build.ToSend.Total()-want.Total() {
			t.Errorf("%s built again: to send %+v (want %+v), unchanged %+v, conflicts %+v", b.customer, again.ToSend, want, again.Unchanged, again.Conflicts)
		}
	}

	// ChartMogul holds every good record once, and none of the failed.
	customers := sb.customers(t)
	for _, id := range ids {
		if customers[id] != 1 {
			t.Errorf("ChartMogul lists customer %s %d times", id, customers[id])
		}
	}
	invoices, children := sb.invoices(t)
	for id, n := range wantInvoices {
		if invoices[id] != n {
			t.Errorf("ChartMogul lists invoice %s %d times, want %d", id, invoices[id], n)
		}
	}
	for id := range invoices {
		if wantInvoices[id] == 0 {
			t.Errorf("ChartMogul lists invoice %s, which failed or was never sent", id)
		}
	}
	for k, n := range wantChildren {
		if children[k] != n {
			t.Errorf("ChartMogul lists %q %d times, want %d", k, children[k], n)
		}
	}
	for k := range children {
		if wantChildren[k] == 0 {
			t.Errorf("ChartMogul holds %q, which the ledger does not", k)
		}
	}
	for _, line := range ghostLines {
		if children["line_items\x00"+line] != 0 {
			t.Errorf("ChartMogul holds the refused line item %s", line)
		}
	}
}

// TestSubmitLostAnswer: ChartMogul imports a request carrying two
// customers whose answer is lost; the retries of both find the import by
// its external id and send nothing again.
func TestSubmitLostAnswer(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 2, Seed: 3})
	clean := startSandbox(t, sandboxOptions{})
	settings := settingsOf(clean.ds)
	syncPlans(t, newActivities(db, d.views, clean.client), settings)
	ids := customerIDs(t, db, d.views)
	var bs []built
	for _, id := range ids {
		bs = append(bs, extractAndBuild(t, newActivities(db, d.views, nil), settings, id))
	}
	clean.stop()

	// Every answer is lost, after the work is done.
	dropping := startSandbox(t, sandboxOptions{faults: api.Faults{Drop: 1}, reuse: clean})
	a := newActivities(db, d.views, dropping.client)
	a.Submitter.MaxCustomers, a.Submitter.Linger = 2, 2*time.Second
	_, errs := submitTogether(a, settings, bs)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("Submit %s succeeded without an answer", bs[i].customer)
		}
		noSecret(t, err)
		if nonRetryable(err) {
			t.Fatalf("a lost answer is not retried: %v", err)
		}
	}
	var externalIDs []string
	if err := db.Select(&externalIDs, `SELECT DISTINCT i.external_id FROM recur.imports i JOIN recur.parts p ON p.import_id = i.id WHERE p.id = ANY($1)`,
		pq.Array([]int64{bs[0].build.Parts[0].ID, bs[1].build.Parts[0].ID})); err != nil || len(externalIDs) != 1 {
		t.Fatalf("the parts are not assigned to one recorded request: %v, %v", externalIDs, err)
	}
	externalID := externalIDs[0]
	dropping.stop()

	// The retries, at once, against the same ChartMogul answering again.
	again := startSandbox(t, sandboxOptions{reuse: clean})
	a = newActivities(db, d.views, again.client)
	subs, errs := submitTogether(a, settings, bs)
	for i, err := range errs {
		if err != nil {
			noSecret(t, err)
			t.Fatalf("the retried Submit of %s: %v", bs[i].customer, err)
		}
		if subs[i].ExternalID != externalID || subs[i].ImportID == "" || subs[i].ImportID != subs[0].ImportID || subs[i].Customers != 2 {
			t.Errorf("the retry of %s answers %+v; want the import with external id %s", bs[i].customer, subs[i], externalID)
		}
	}
	imports := again.imports(t)
	n := 0
	for _, imp := range imports {
		if imp.ExternalID == externalID {
			n++
			if imp.ID != subs[0].ImportID {
				t.Errorf("the import with external id %s is %s; Submit answered %s", externalID, imp.ID, subs[0].ImportID)
			}
		}
	}
	if n != 1 || len(imports) != 2 {
		t.Errorf("ChartMogul has %d imports with external id %s, %d in all (with the plans'); want 1 and 2", n, externalID, len(imports))
	}
	var status, cmID string
	if err := db.QueryRow(`SELECT status, coalesce(chartmogul_id, '') FROM recur.imports WHERE external_id = $1`, externalID).Scan(&status, &cmID); err != nil {
		t.Fatal(err)
	}
	if status != "submitted" || cmID != subs[0].ImportID {
		t.Errorf("recur.imports says %s, %q", status, cmID)
	}

	// WaitImport, in an activity context, follows the import to its end.
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a.WaitImport)
	sentInvoices := 0
	for i, b := range bs {
		part := b.build.Parts[0]
		val, err := env.ExecuteActivity(a.WaitImport, workflows.PollInput{Settings: settings, Customer: b.customer, PartID: part.ID, ImportID: subs[i].ImportID})
		if err != nil {
			noSecret(t, err)
			t.Fatalf("WaitImport: %v", err)
		}
		var res workflows.PollResult
		if err := val.Get(&res); err != nil {
			t.Fatal(err)
		}
		if !res.Finished || res.Imported != part.Records || res.Failed.Total() != 0 {
			t.Errorf("WaitImport of %s: %+v; want every one of %+v imported", b.customer, res, part.Records)
		}
		sentInvoices += part.Records.Invoices
	}
	customers := again.customers(t)
	for _, id := range ids {
		if customers[id] != 1 {
			t.Errorf("ChartMogul lists %s %d times", id, customers[id])
		}
	}
	invoices, _ := again.invoices(t)
	if len(invoices) != sentInvoices {
		t.Errorf("ChartMogul lists %d invoices, %d were sent", len(invoices), sentInvoices)
	}
	for id, n := range invoices {
		if n != 1 {
			t.Errorf("ChartMogul lists invoice %s %d times", id, n)
		}
	}
}

// TestSubmitRefusedSharedRequest: a request ChartMogul refuses as a whole
// (413 here) is split, so that the good customers packed with the bad one
// are imported, and the bad one gets a refusal naming it.
func TestSubmitRefusedSharedRequest(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 2, Seed: 5, LargeCustomerInvoices: 100})
	ids := customerIDs(t, db, d.views)
	if len(ids) != 3 {
		t.Fatalf("customers %v", ids)
	}
	// The parts are built before ChartMogul is up, to size its limit: the
	// large customer's part is over it, every other under it.
	a := newActivities(db, d.views, nil)
	settings := settingsOf("ds_later")
	var large int
	var small []int
	var bs []built
	for _, id := range append([]string{""}, ids...) {
		b := extractAndBuild(t, a, settings, id)
		if len(b.build.Parts) != 1 {
			t.Fatalf("%q: %d parts", id, len(b.build.Parts))
		}
		if id == demo.LargeCustomerID {
			large = b.build.Parts[0].Bytes
		} else {
			small = append(small, b.build.Parts[0].Bytes)
		}
		bs = append(bs, b)
	}
	limit := large - 100
	for _, n := range small {
		if n+200 > limit {
			t.Fatalf("the small parts (%v) do not fit under %d", small, limit)
		}
	}
	sb := startSandbox(t, sandboxOptions{maxPayload: int64(limit)})
	settings = settingsOf(sb.ds)
	a = newActivities(db, d.views, sb.client)
	// The parts were built for another data source: build them again.
	syncPlans(t, a, settings)
	a.Submitter.MaxCustomers = 3
	a.Submitter.Linger = 2 * time.Second
	bs = bs[:0]
	for _, id := range ids {
		bs = append(bs, extractAndBuild(t, a, settings, id))
	}
	subs, errs := submitTogether(a, settings, bs)
	t.Logf("sizes: large %d, small %v, limit %d; subs %+v, errs %v", large, small, limit, subs, errs)
	for i, b := range bs {
		if b.customer == demo.LargeCustomerID {
			app := appError(t, errs[i])
			if app.Type() != workflows.ErrRefused || !app.NonRetryable() || !strings.Contains(app.Message(), `"`+demo.LargeCustomerID+`"`) ||
				!strings.Contains(app.Message(), "413") {
				t.Errorf("the refusal of %s: type %q, non-retryable %v: %s", b.customer, app.Type(), app.NonRetryable(), app.Message())
			}
			for _, other := range ids {
				if other != demo.LargeCustomerID && strings.Contains(app.Message(), other) {
					t.Errorf("the refusal names %s too: %s", other, app.Message())
				}
			}
			continue
		}
		if errs[i] != nil {
			noSecret(t, errs[i])
			t.Errorf("Submit %s, packed with a refused customer: %v", b.customer, errs[i])
			continue
		}
		res := poll(t, a, settings, b.customer, b.build.Parts[0].ID, subs[i].ImportID)
		if res.Imported != b.build.Parts[0].Records || res.Failed.Total() != 0 {
			t.Errorf("%s: %+v; want every one of %+v imported", b.customer, res, b.build.Parts[0].Records)
		}
	}
	customers := sb.customers(t)
	for _, id := range ids {
		want := 1
		if id == demo.LargeCustomerID {
			want = 0
		}
		if customers[id] != want {
			t.Errorf("ChartMogul lists %s %d times, want %d", id, customers[id], want)
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM recur.imports WHERE data_source = $1 AND status = 'split'`, sb.ds); n == 0 {
		t.Error("no request was split")
	}
	if got := ledgerKeys(t, db, sb.ds, demo.LargeCustomerID); len(got) != 0 {
		t.Errorf("the ledger holds %d records of the refused customer", len(got))
	}
	// A retry of the refused part is refused again, without a request.
	for _, b := range bs {
		if b.customer == demo.LargeCustomerID {
			_, err := a.Submit(testCtx(t), workflows.SubmitInput{Settings: settings, Customer: b.customer, PartID: b.build.Parts[0].ID})
			if app := appError(t, err); app.Type() != workflows.ErrRefused || !strings.Contains(app.Message(), demo.LargeCustomerID) {
				t.Errorf("the retried refusal: %s", app.Message())
			}
		}
	}
}

// TestSubmitRateLimited: a 429 is retried after its Retry-After, and holds
// back the account's budget for every worker.
func TestSubmitRateLimited(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 1, Seed: 4})
	clean := startSandbox(t, sandboxOptions{})
	settings := settingsOf(clean.ds)
	customer := customerIDs(t, db, d.views)[0]
	b := extractAndBuild(t, newActivities(db, d.views, nil), settings, customer)
	clean.stop()

	limited := startSandbox(t, sandboxOptions{faults: api.Faults{TooManyRequests: 1, RetryAfter: 2 * time.Second}, reuse: clean})
	a := newActivities(db, d.views, limited.client)
	budget := &Budget{DB: db, Account: "test-429-" + suffix(), Rate: 1000}
	a.Submitter.Budget = budget
	for attempt := 1; attempt <= 2; attempt++ {
		_, err := a.Submit(testCtx(t), workflows.SubmitInput{Settings: settings, Customer: customer, PartID: b.build.Parts[0].ID})
		app := appError(t, err)
		if app.NonRetryable() || app.NextRetryDelay() < 2*time.Second {
			t.Errorf("attempt %d: a 429 with Retry-After 2s is retried after %s (non-retryable %v): %s", attempt, app.NextRetryDelay(), app.NonRetryable(), app.Message())
		}
		if attempt == 1 {
			var ahead float64
			if err := db.Get(&ahead, `SELECT extract(epoch FROM tat - clock_timestamp()) FROM recur.rate_budget WHERE account = $1`, budget.Account); err != nil {
				t.Fatalf("the 429 did not hold back the budget: %v", err)
			}
			if ahead < 1.5 {
				t.Errorf("after a 429 with Retry-After 2s the budget's next slot is %.2fs ahead", ahead)
			}
		}
	}
}

// TestSubmitPacksUpToMaxBytes: parts that do not fit in one request
// together go in separate requests, each under MaxBytes, and every Submit
// gets the import of its own part.
func TestSubmitPacksUpToMaxBytes(t *testing.T) {
	db := testDB(t)
	d := makeDemo(t, db, demo.Options{Customers: 4, Seed: 11})
	sb := startSandbox(t, sandboxOptions{})
	a := newActivities(db, d.views, sb.client)
	settings := settingsOf(sb.ds)
	syncPlans(t, a, settings)
	ids := customerIDs(t, db, d.views)
	var bs []built
	largest := 0
	for _, id := range ids {
		b := extractAndBuild(t, a, settings, id)
		largest = max(largest, b.build.Parts[0].Bytes)
		bs = append(bs, b)
	}
	// Room for the largest part and a little more: never for every part.
	a.Submitter.MaxBytes = requestOverhead + largest + 1
	a.Submitter.Linger = 300 * time.Millisecond
	subs, errs := submitTogether(a, settings, bs)
	carried := map[string]int{}
	for i, b := range bs {
		if errs[i] != nil {
			noSecret(t, errs[i])
			t.Fatalf("Submit %s: %v", b.customer, errs[i])
		}
		carried[subs[i].ImportID]++
	}
	for i, b := range bs {
		if subs[i].Customers != carried[subs[i].ImportID] {
			t.Errorf("%s: its import carries %d customers, Submit says %d", b.customer, carried[subs[i].ImportID], subs[i].Customers)
		}
		res := poll(t, a, settings, b.customer, b.build.Parts[0].ID, subs[i].ImportID)
		if res.Imported != b.build.Parts[0].Records {
			t.Errorf("%s: imported %+v, sent %+v", b.customer, res.Imported, b.build.Parts[0].Records)
		}
	}
	if len(carried) < 2 {
		t.Errorf("%d parts went in %d import(s) of at most %d bytes", len(bs), len(carried), a.Submitter.MaxBytes)
	}
	if n := countRows(t, db, `SELECT count(*) FROM recur.imports WHERE data_source = $1 AND bytes > $2`, sb.ds, a.Submitter.MaxBytes); n != 0 {
		t.Errorf("%d requests are larger than %d bytes", n, a.Submitter.MaxBytes)
	}
	customers := sb.customers(t)
	for _, id := range ids {
		if customers[id] != 1 {
			t.Errorf("ChartMogul lists %s %d times", id, customers[id])
		}
	}
}
