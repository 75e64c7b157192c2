package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/recurhq/recur/starter/demo"
	"github.com/recurhq/recur/workflows"
)

// badRows makes rows bad on purpose, the way a billing database gets them:
// an invoice in currency XXX (refused with its line items and
// transactions), an event of an unknown type, a 300-character e-mail (a
// warning: the customer is imported without it), a customer without an
// external id and a line item whose invoice does not exist (rows that
// belong to no customer). It returns the invoice made bad and its customer.
func badRows(w *testWorker) (badInvoice, badCustomer string) {
	w.t.Helper()
	if err := w.h.db.Get(&badInvoice, "SELECT external_id FROM "+w.source+".invoices ORDER BY external_id LIMIT 1 OFFSET 10"); err != nil {
		w.t.Fatal(err)
	}
	if err := w.h.db.Get(&badCustomer, "SELECT customer_external_id FROM "+w.source+".invoices WHERE external_id = $1", badInvoice); err != nil {
		w.t.Fatal(err)
	}
	w.exec("UPDATE {billing}.invoices SET currency = 'XXX' WHERE number = $1", badInvoice)
	w.exec("UPDATE {billing}.accounts SET email = repeat('a', 290) || '@example.com' WHERE code = (SELECT code FROM {billing}.accounts ORDER BY code LIMIT 1 OFFSET 3)")
	// Rows no billing table would hold: views over the demo's views.
	w.exec("ALTER VIEW {source}.subscription_events RENAME TO subscription_events_base")
	w.exec(`CREATE VIEW {source}.subscription_events AS SELECT * FROM {source}.subscription_events_base
		UNION ALL SELECT customer_external_id, 'evt_bad_type', 'subscription_exploded', event_date, effective_date,
		subscription_external_id, plan_external_id, currency, amount_in_cents, quantity
		FROM {source}.subscription_events_base WHERE customer_external_id = (SELECT min(customer_external_id) FROM {source}.subscription_events_base) AND event_type = 'subscription_start'`)
	w.exec("ALTER VIEW {source}.customers RENAME TO customers_base")
	w.exec(`CREATE VIEW {source}.customers AS SELECT * FROM {source}.customers_base
		UNION ALL SELECT NULL, 'Nameless Ltd', 'billing@nameless.example', NULL, 'US', 'CA', NULL, NULL, NULL, NULL, NULL`)
	w.exec("ALTER VIEW {source}.line_items RENAME TO line_items_base")
	w.exec(`CREATE VIEW {source}.line_items AS SELECT * FROM {source}.line_items_base
		UNION ALL (SELECT 'inv_missing', 'li_orphan', type, amount_in_cents, quantity, subscription_external_id, plan_external_id,
		service_period_start, service_period_end, discount_amount_in_cents, discount_code, tax_amount_in_cents, description
		FROM {source}.line_items_base WHERE type = 'subscription' LIMIT 1)`)
	return badInvoice, badCustomer
}

// TestSyncImportsEveryRecord syncs a few hundred demo customers, some of
// their rows made bad on purpose, and checks through the local ChartMogul's
// API that every good customer, plan, invoice, line item, transaction and
// event arrived exactly once, and that each bad row is reported with its
// customer, type, external id and message.
func TestSyncImportsEveryRecord(t *testing.T) {
	w := startWorker(t)
	st := w.demo(300)
	badInvoice, badCustomer := badRows(w)
	var badLines, badTx []string
	if err := w.h.db.Select(&badLines, "SELECT external_id FROM "+w.source+".line_items WHERE invoice_external_id = $1", badInvoice); err != nil {
		t.Fatal(err)
	}
	if err := w.h.db.Select(&badTx, "SELECT external_id FROM "+w.source+".transactions WHERE invoice_external_id = $1", badInvoice); err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	sum := w.mustSync(workflows.SyncInput{})
	t.Logf("%d customers in %s", sum.Customers, time.Since(began).Round(time.Millisecond))

	if sum.Customers != st.Customers || sum.CustomersFailed != 0 {
		t.Errorf("customers %d (failed %d), want %d (none failed)", sum.Customers, sum.CustomersFailed, st.Customers)
	}
	wantFailed := 1 + len(badLines) + len(badTx) + 1 + 2 // invoice and its children, the event, two orphans
	if sum.RecordsFailed != wantFailed {
		t.Errorf("records_failed = %d, want %d; failed_records: %+v", sum.RecordsFailed, wantFailed, sum.FailedRecords)
	}
	if sum.Outcome != workflows.OutcomePartial {
		t.Errorf("outcome %q, want %q", sum.Outcome, workflows.OutcomePartial)
	}
	failed := map[string]workflows.RecordFailure{}
	for _, f := range sum.FailedRecords {
		failed[f.Type+"/"+f.ExternalID] = f
	}
	for key, want := range map[string]string{
		"invoices/" + badInvoice:           "currency",
		"subscription_events/evt_bad_type": "event_type",
		"line_items/li_orphan":             "invoice",
		"customers/":                       "external_id",
	} {
		f, ok := failed[key]
		if !ok {
			t.Errorf("%s is not among the failed records: %+v", key, sum.FailedRecords)
			continue
		}
		if !strings.Contains(f.Field+" "+f.Message, want) || f.Message == "" {
			t.Errorf("%s failed with %q %q, want a message about %s", key, f.Field, f.Message, want)
		}
	}
	if f := failed["invoices/"+badInvoice]; f.Customer != badCustomer {
		t.Errorf("the bad invoice is reported for customer %q, want %q", f.Customer, badCustomer)
	}
	if len(badLines) > 0 {
		if f := failed["line_items/"+badLines[0]]; !strings.Contains(f.Message, badInvoice) {
			t.Errorf("a line item of the refused invoice says %q, want a message naming invoice %s", f.Message, badInvoice)
		}
	}

	// What the local ChartMogul holds: every good record, once.
	held := w.held()
	check := func(what string, got, want map[string]int, except ...string) {
		t.Helper()
		for _, e := range except {
			delete(want, e)
		}
		delete(want, "") // the customer without an external id
		for id, n := range got {
			if n != 1 {
				t.Errorf("%s %s is held %d times", what, id, n)
			}
			if want[id] == 0 {
				t.Errorf("%s %s is held but should not be", what, id)
			}
		}
		for id := range want {
			if got[id] == 0 {
				t.Errorf("%s %s is not held", what, id)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d %s held, want %d", len(got), what, len(want))
		}
	}
	check("customers", held.customers, w.sourceIDs("customers"))
	check("plans", held.plans, w.sourceIDs("plans"))
	check("invoices", held.invoices, w.sourceIDs("invoices"), badInvoice)
	check("line items", held.lineItems, w.sourceIDs("line_items"), append(badLines, "li_orphan")...)
	check("transactions", held.transactions, w.sourceIDs("transactions"), badTx...)
	check("subscription events", held.events, w.sourceIDs("subscription_events"), "evt_bad_type")

	// The customer with the 300-character e-mail is imported, the e-mail
	// reported as a warning by its workflow.
	var longEmail string
	if err := w.h.db.Get(&longEmail, "SELECT external_id FROM "+w.source+".customers WHERE length(email) > 255"); err != nil {
		t.Fatal(err)
	}
	var res workflows.CustomerResult
	if err := w.r.temporal.GetWorkflow(context.Background(), workflows.CustomerID(w.cfg.dataSource, longEmail), "").Get(context.Background(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.OutcomeImported || len(res.Warnings) == 0 || res.Warnings[0].Field != "email" {
		t.Errorf("customer %s with a 300-character e-mail: outcome %q, warnings %+v; want imported with a warning on email", longEmail, res.Outcome, res.Warnings)
	}
}

// TestLargeCustomerArrivesInOrderedParts syncs a customer whose records
// take more than one 5 MB request: they arrive in parts, each submitted
// only after the previous one finished processing, and every record once.
func TestLargeCustomerArrivesInOrderedParts(t *testing.T) {
	w := startWorker(t)
	w.demo(10, func(o *demo.Options) { o.LargeCustomerInvoices = 20000 })
	sum := w.mustSync(workflows.SyncInput{})
	if sum.RecordsFailed != 0 {
		t.Fatalf("%d records failed: %+v", sum.RecordsFailed, sum.FailedRecords)
	}
	ctx := context.Background()
	var res workflows.CustomerResult
	if err := w.r.temporal.GetWorkflow(ctx, workflows.CustomerID(w.cfg.dataSource, demo.LargeCustomerID), "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Imports) < 3 {
		t.Fatalf("the large customer went in %d requests, want at least 3 (about 16 MB in 5 MB parts)", len(res.Imports))
	}
	for i, imp := range res.Imports {
		if imp.Part != i+1 || imp.Status != "completed" {
			t.Errorf("part %d: %+v, want part %d completed", i, imp, i+1)
		}
	}
	// Recur's own record of the requests: each part was submitted after
	// the previous one had finished.
	var rows []struct {
		ExternalID string    `db:"external_id"`
		Submitted  time.Time `db:"submitted_at"`
		Finished   time.Time `db:"finished_at"`
	}
	if err := w.h.db.Select(&rows, `SELECT external_id, submitted_at, finished_at FROM recur.imports
		WHERE data_source = $1 AND $2 = ANY(customers) AND chartmogul_id IS NOT NULL ORDER BY submitted_at`, w.cfg.dataSource, demo.LargeCustomerID); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(res.Imports) {
		t.Fatalf("recur.imports has %d requests of the large customer, the result %d", len(rows), len(res.Imports))
	}
	for i := 1; i < len(rows); i++ {
		if !rows[i].Submitted.After(rows[i-1].Finished) {
			t.Errorf("part %d was submitted at %s, before part %d finished at %s", i+1, rows[i].Submitted, i, rows[i-1].Finished)
		}
	}
	var largeInvoices []string
	if err := w.h.db.Select(&largeInvoices, "SELECT external_id FROM "+w.source+".invoices WHERE customer_external_id = $1", demo.LargeCustomerID); err != nil {
		t.Fatal(err)
	}
	held := w.held()
	large := 0
	for id, n := range held.invoices {
		if n != 1 {
			t.Errorf("invoice %s held %d times", id, n)
		}
	}
	for _, id := range largeInvoices {
		if held.invoices[id] == 1 {
			large++
		}
	}
	if large != 20000 || len(largeInvoices) != 20000 {
		t.Errorf("the local ChartMogul holds %d of the large customer's 20000 invoices", large)
	}
}

// TestNoSecretInHistories exports every history a sync made and searches it
// for the ChartMogul API key and the billing database's password, as well as
// the worker's log.
func TestNoSecretInHistories(t *testing.T) {
	w := startWorker(t)
	w.demo(20)
	badRows(w)
	w.mustSync(workflows.SyncInput{})
	runs := w.histories(fmt.Sprintf("TaskQueue = %q", w.cfg.taskQueue))
	if len(runs) < 21 {
		t.Fatalf("found %d workflow runs of the sync, want the sync and its 20 customers", len(runs))
	}
	secrets := []string{w.r.chartmogul.APIKey, e2eSecretPassword}
	for _, run := range runs {
		id, runID, _ := strings.Cut(run, "\x00")
		h := w.exportHistory(id, runID)
		for _, s := range secrets {
			if historyContains(h, s) {
				t.Errorf("the history of %s holds a secret (%.6s…)", id, s)
			}
		}
	}
	for _, s := range secrets[1:] {
		if strings.Contains(w.out.String(), s) {
			t.Errorf("the worker's output holds a secret (%.6s…)", s)
		}
	}
}

// TestConfigurationErrorsFailFast checks that what a person must fix ends a
// sync at once, with a message that says what to fix, instead of being
// retried for hours.
func TestConfigurationErrorsFailFast(t *testing.T) {
	w := startWorker(t)
	w.demo(5)
	for _, tc := range []struct {
		name   string
		break_ func()
		want   []string
	}{
		{"missing relation", func() { w.exec("ALTER VIEW {source}.plans RENAME TO plans_gone") }, []string{w.source + ".plans", "create it"}},
		{"unknown column", func() {
			w.exec("ALTER VIEW {source}.plans_gone RENAME TO plans")
			w.exec("ALTER VIEW {source}.customers RENAME TO customers_base")
			w.exec("CREATE VIEW {source}.customers AS SELECT *, 'x' AS favourite_colour FROM {source}.customers_base")
		}, []string{`"favourite_colour"`, "external_id", "Rename or drop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.break_()
			began := time.Now()
			_, err := w.sync(workflows.SyncInput{})
			if err == nil {
				t.Fatal("the sync completed")
			}
			var app *temporal.ApplicationError
			msg := err.Error()
			if errors.As(err, &app) {
				msg = app.Message()
			}
			for _, s := range tc.want {
				if !strings.Contains(msg, s) {
					t.Errorf("the sync failed with %q, want it to say %q", msg, s)
				}
			}
			if d := time.Since(began); d > 30*time.Second {
				t.Errorf("the sync took %s to fail; a configuration error must fail at once", d)
			}
		})
	}
}

// TestMetricsAndJSONLogs serves the worker's metrics on --metrics-addr (the
// SDK's and Recur's own) and logs JSON lines that carry workflow ids.
func TestMetricsAndJSONLogs(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	w := startWorker(t, func(c *config) { c.metricsAddr = addr })
	w.demo(5)
	w.mustSync(workflows.SyncInput{})
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"temporal_workflow_completed", "temporal_local_activity_execution_latency_seconds", "recur_records_total{outcome=\"imported\"}", "recur_imports_total",
		"recur_chartmogul_answers_total{method=\"POST\",status=\"201\"}"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	var buf bytes.Buffer
	log := newLogger(func(k string) string {
		if k == "RECUR_LOG_FORMAT" {
			return "json"
		}
		return ""
	}, &buf)
	log.Info("probe", "WorkflowID", "sync/x")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["WorkflowID"] != "sync/x" {
		t.Errorf("RECUR_LOG_FORMAT=json logs %q, want a JSON object carrying the workflow id", buf.String())
	}
}
