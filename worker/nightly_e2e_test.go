package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/recurhq/recur/workflows"
)

// addInvoice gives a customer of the demo schema a new invoice with one
// line item and one payment, as the billing system would the next month.
func addInvoice(w *testWorker, customer, number string) {
	w.t.Helper()
	w.exec(`INSERT INTO {billing}.invoices (number, account_id, issued_at, currency, collection_method)
		SELECT $2, a.id, timestamptz '2026-11-20 10:00:00+00', 'USD', 'automatic' FROM {billing}.accounts a WHERE a.code = $1`, customer, number)
	w.exec(`INSERT INTO {billing}.invoice_lines (code, invoice_id, kind, amount_cents, quantity, description)
		SELECT $1 || '-L1', i.id, 'one_time', 12500, 1, 'Onboarding workshop' FROM {billing}.invoices i WHERE i.number = $1`, number)
	w.exec(`INSERT INTO {billing}.payments (code, invoice_id, kind, succeeded, paid_at, amount_cents)
		SELECT $1 || '-P1', i.id, 'payment', true, timestamp '2026-11-20 10:05:00', 12500 FROM {billing}.invoices i WHERE i.number = $1`, number)
}

// customersOf returns n customer external ids of the demo schema, skipping
// the first skip.
func customersOf(w *testWorker, skip, n int) []string {
	w.t.Helper()
	var ids []string
	if err := w.h.db.Select(&ids, "SELECT external_id FROM "+w.source+".customers ORDER BY external_id OFFSET $1 LIMIT $2", skip, n); err != nil {
		w.t.Fatal(err)
	}
	return ids
}

// TestNightlySyncSendsOnlyWhatChanged runs the nights of a data source: a
// first sync; one with nothing changed (no customer workflow, no request);
// one after five customers changed their e-mail and a sixth got an invoice
// (exactly those six, sending five updates and one invoice with its line
// item and transaction, as the dry run before it said); one after an
// imported invoice changed (a conflict, nothing sent); and one after a
// refused record was fixed (sent then).
func TestNightlySyncSendsOnlyWhatChanged(t *testing.T) {
	w := startWorker(t)
	w.demo(100)
	var badInvoice string
	if err := w.h.db.Get(&badInvoice, "SELECT external_id FROM "+w.source+".invoices ORDER BY external_id LIMIT 1 OFFSET 5"); err != nil {
		t.Fatal(err)
	}
	w.exec("UPDATE {billing}.invoices SET currency = 'XXX' WHERE number = $1", badInvoice)

	first := w.mustSync(workflows.SyncInput{})
	if first.Customers != 100 || first.Failed.Invoices != 1 {
		t.Fatalf("first sync: %d customers, %d invoices failed; want 100 customers and the XXX invoice failed", first.Customers, first.Failed.Invoices)
	}

	// Nothing changed: nothing happens.
	before, _ := w.traffic()
	began := time.Now()
	quiet := w.mustSync(workflows.SyncInput{})
	after, _ := w.traffic()
	if quiet.Customers != 0 || quiet.RecordsSent != 0 || quiet.CustomersUnchanged != 100 || after != before {
		t.Errorf("a sync with nothing changed ran %d customer workflows, sent %d records and %d requests (%d customers unchanged); want 0, 0, 0 (100)",
			quiet.Customers, quiet.RecordsSent, after-before, quiet.CustomersUnchanged)
	}
	if n := len(w.histories(fmt.Sprintf("WorkflowType = %q AND TaskQueue = %q AND StartTime > %q",
		workflows.CustomerWorkflowName, w.cfg.taskQueue, began.UTC().Format(time.RFC3339Nano)))); n != 0 {
		t.Errorf("a sync with nothing changed started %d customer workflows", n)
	}

	// Five new e-mails and one new invoice.
	changed := customersOf(w, 10, 5)
	for i, c := range changed {
		w.exec("UPDATE {billing}.accounts SET email = $2 WHERE code = $1", c, fmt.Sprintf("new-%d@example.com", i))
	}
	sixth := customersOf(w, 20, 1)[0]
	addInvoice(w, sixth, "INV-NIGHT-2")

	before, _ = w.traffic()
	dry := w.mustSync(workflows.SyncInput{DryRun: true})
	after, _ = w.traffic()
	if after != before {
		t.Errorf("the dry run sent %d requests to ChartMogul", after-before)
	}
	night := w.mustSync(workflows.SyncInput{})
	want := workflows.TypeCounts{Customers: 5, Invoices: 1, LineItems: 1, Transactions: 1}
	if night.Customers != 6 || night.Sent != want {
		t.Errorf("after 5 e-mails and 1 invoice changed: %d customer workflows sent %+v; want 6 sending %+v", night.Customers, night.Sent, want)
	}
	if dry.Sent != night.Sent || dry.Customers != night.Customers {
		t.Errorf("the dry run said %d customers would send %+v; the sync then sent %+v for %d", dry.Customers, dry.Sent, night.Sent, night.Customers)
	}
	var emails []string
	for _, c := range w.list("/v1/customers?data_source_uuid="+w.cfg.dataSource, "entries") {
		if slices.Contains(changed, fmt.Sprint(c["external_id"])) {
			emails = append(emails, fmt.Sprint(c["email"]))
		}
	}
	slices.Sort(emails)
	if strings.Join(emails, ",") != "new-0@example.com,new-1@example.com,new-2@example.com,new-3@example.com,new-4@example.com" {
		t.Errorf("the local ChartMogul shows the changed customers' e-mails as %v", emails)
	}

	// An invoice ChartMogul holds changes: a conflict, nothing sent.
	var line string
	if err := w.h.db.Get(&line, "SELECT external_id FROM "+w.source+".line_items WHERE invoice_external_id <> $1 ORDER BY external_id LIMIT 1", badInvoice); err != nil {
		t.Fatal(err)
	}
	w.exec("UPDATE {billing}.invoice_lines SET amount_cents = amount_cents + 100 WHERE code = $1", line)
	conflict := w.mustSync(workflows.SyncInput{})
	if conflict.RecordsSent != 0 || conflict.Conflicts != 1 || len(conflict.ConflictList) != 1 {
		t.Fatalf("after an imported line item changed: sent %d, conflicts %d %+v; want nothing sent and one conflict", conflict.RecordsSent, conflict.Conflicts, conflict.ConflictList)
	}
	if c := conflict.ConflictList[0]; c.Type != workflows.TypeLineItems || c.ExternalID != line || !slices.Contains(c.Fields, "amount_in_cents") {
		t.Errorf("the conflict is %+v; want line item %s with amount_in_cents changed", c, line)
	}
	if !strings.Contains(conflict.Message, "conflict") {
		t.Errorf("the summary's message %q does not say what to do about the conflict", conflict.Message)
	}
	var rows int
	if err := w.h.db.Get(&rows, "SELECT count(*) FROM recur.conflicts WHERE data_source = $1 AND external_id = $2", w.cfg.dataSource, line); err != nil || rows != 1 {
		t.Errorf("recur.conflicts has %d rows for %s (%v), want 1", rows, line, err)
	}

	// The refused invoice is fixed: it is sent now, with its line items
	// and transactions.
	w.exec("UPDATE {billing}.invoices SET currency = 'USD' WHERE number = $1", badInvoice)
	fixed := w.mustSync(workflows.SyncInput{})
	if fixed.Sent.Invoices != 1 || fixed.RecordsFailed != 0 {
		t.Errorf("after the refused invoice was fixed: sent %+v, failed %d; want the invoice sent", fixed.Sent, fixed.RecordsFailed)
	}
	if w.held().invoices[badInvoice] != 1 {
		t.Errorf("the fixed invoice %s is not held by the local ChartMogul", badInvoice)
	}
}

// TestSyncWaitsForARunningCustomerImport starts a customer's import by hand
// where no worker takes it, then a sync of that customer: the sync waits
// for it (never two imports of a customer at once), and once it ended
// syncs the customer (never skipped).
func TestSyncWaitsForARunningCustomerImport(t *testing.T) {
	w := startWorker(t)
	w.demo(5)
	customer := customersOf(w, 2, 1)[0]
	ctx := context.Background()
	id := workflows.CustomerID(w.cfg.dataSource, customer)
	stuck, err := w.r.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: w.cfg.taskQueue + "-nobody"},
		workflows.CustomerWorkflowName, workflows.CustomerInput{CustomerExternalID: customer})
	if err != nil {
		t.Fatal(err)
	}
	run, err := w.r.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.SyncID(w.cfg.dataSource), TaskQueue: w.cfg.taskQueue},
		workflows.SyncWorkflowName, workflows.SyncInput{Customers: []string{customer}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	d, err := w.r.temporal.DescribeWorkflowExecution(ctx, run.GetID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("the sync is %s while the customer's earlier import still runs; it must wait", d.GetWorkflowExecutionInfo().GetStatus())
	}
	if w.held().customers[customer] != 0 {
		t.Fatalf("customer %s was imported while its earlier import was still running", customer)
	}
	if err := w.r.temporal.TerminateWorkflow(ctx, id, stuck.GetRunID(), "test: the earlier import ends"); err != nil {
		t.Fatal(err)
	}
	var sum workflows.SyncSummary
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := run.Get(wctx, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Customers != 1 || sum.CustomersImported != 1 || w.held().customers[customer] != 1 {
		t.Errorf("after the earlier import ended, the sync imported %d customers (%d held); want the customer imported once", sum.CustomersImported, w.held().customers[customer])
	}
}

// TestResyncOneCustomerByHand starts CustomerImportWorkflow as a person
// would from the UI, with only the customer's external id.
func TestResyncOneCustomerByHand(t *testing.T) {
	w := startWorker(t)
	w.demo(3)
	w.mustSync(workflows.SyncInput{})
	customer := customersOf(w, 1, 1)[0]
	addInvoice(w, customer, "INV-BY-HAND")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := w.r.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.CustomerID(w.cfg.dataSource, customer), TaskQueue: w.cfg.taskQueue},
		workflows.CustomerWorkflowName, map[string]string{"customer_external_id": customer})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.CustomerResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.OutcomeImported || res.Sent.Invoices != 1 || res.Sent.Customers != 0 {
		t.Errorf("the customer's resync: %+v; want only the new invoice sent", res)
	}
}

// starter runs the starter with the worker's connection flags.
func (w *testWorker) starter(args ...string) (string, error) {
	w.t.Helper()
	base := []string{"--temporal-address", w.cfg.temporalAddress, "--task-queue", w.cfg.taskQueue,
		"--billing-database", w.cfg.billingDB, "--data-source", w.cfg.dataSource}
	cmd := exec.Command(binary(w.t, "starter"), append(args[:1:1], append(base, args[1:]...)...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestScheduleAndStarter checks the starter as a person uses it: two syncs
// started at once are one sync; a schedule created by `starter schedule`
// and fired with --trigger runs a sync; `starter status` shows both.
func TestScheduleAndStarter(t *testing.T) {
	w := startWorker(t)
	w.demo(30)

	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := w.starter("sync", "--wait")
			if err != nil {
				t.Errorf("starter sync --wait: %v\n%s", err, out)
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	runID := regexp.MustCompile(`\(run ([0-9a-f-]+)\)`)
	a, b := runID.FindStringSubmatch(outs[0]), runID.FindStringSubmatch(outs[1])
	if a == nil || b == nil || a[1] != b[1] {
		t.Fatalf("two `starter sync` at once printed different runs; want one sync:\n%s\n---\n%s", outs[0], outs[1])
	}
	if !strings.Contains(outs[0]+outs[1], `"customers": 30`) {
		t.Errorf("starter sync --wait did not print the summary with 30 customers:\n%s", outs[0])
	}

	out, err := w.starter("schedule", "--cron", "0 2 * * *", "--timezone", "Europe/Berlin")
	if err != nil || !strings.Contains(out, workflows.ScheduleID(w.cfg.dataSource)) {
		t.Fatalf("starter schedule: %v\n%s", err, out)
	}
	t.Cleanup(func() { w.starter("schedule", "--delete") })
	addInvoice(w, customersOf(w, 3, 1)[0], "INV-SCHEDULED")
	began := time.Now()
	if out, err := w.starter("schedule", "--trigger"); err != nil {
		t.Fatalf("starter schedule --trigger: %v\n%s", err, out)
	}
	// The schedule starts sync/<data source>-<time>: wait for it to end.
	ctx := context.Background()
	var scheduled []string
	for time.Since(began) < 2*time.Minute {
		scheduled = w.histories(fmt.Sprintf("WorkflowType = %q AND TaskQueue = %q AND StartTime > %q AND ExecutionStatus = 'Completed'",
			workflows.SyncWorkflowName, w.cfg.taskQueue, began.UTC().Format(time.RFC3339Nano)))
		if len(scheduled) > 0 {
			break
		}
		time.Sleep(time.Second)
	}
	if len(scheduled) == 0 {
		t.Fatal("the triggered schedule ran no sync within two minutes")
	}
	id, run, _ := strings.Cut(scheduled[0], "\x00")
	var sum workflows.SyncSummary
	if err := w.r.temporal.GetWorkflow(ctx, id, run).Get(ctx, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Sent.Invoices != 1 || sum.Customers != 1 {
		t.Errorf("the scheduled sync sent %+v for %d customers; want the one new invoice", sum.Sent, sum.Customers)
	}
	status, err := w.starter("status")
	if err != nil || !strings.Contains(status, "Europe/Berlin") || !strings.Contains(status, `"records_sent"`) {
		t.Errorf("starter status: %v\n%s", err, status)
	}
}
