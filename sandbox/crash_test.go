package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/gen"
)

// TestCrashLosesNothing kills `sandbox serve` with SIGKILL while an accepted
// import is queued or being applied, restarts it on the same database, and
// checks that the import completes with every record present exactly once.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and imports 20,000 records twice")
	}
	t.Parallel()
	payload, stats, err := gen.Payload(gen.Options{Customers: 1000, ExternalID: "crash"})
	if err != nil {
		t.Fatal(err)
	}
	e2eBinary(t) // build before the clocks start
	for _, engine := range e2eEngines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			t.Run("killed after 201", func(t *testing.T) {
				crashAndRecover(t, e2eFreshDatabase(t, engine), payload, stats, false)
			})
			t.Run("killed while processing", func(t *testing.T) {
				crashAndRecover(t, e2eFreshDatabase(t, engine), payload, stats, true)
			})
		})
	}
}

func crashAndRecover(t *testing.T, dbURL string, payload []byte, stats gen.Stats, waitProcessing bool) {
	p := startE2EProcess(t, dbURL)
	ds := p.createDataSource(t, "Crash")
	imp := p.submitImport(t, ds, payload)
	if waitProcessing {
		caught := false
		end := time.Now().Add(e2eImportDeadline)
		for time.Now().Before(end) {
			cur := p.getImport(t, ds, imp.ID)
			if cur.Status == "processing" {
				caught = true
				break
			}
			if cur.Status == "completed" || cur.Status == "failed" {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if !caught {
			t.Logf("the import finished before it could be seen processing; killing the server after it")
		}
	}
	p.kill(t)

	p2 := startE2EProcess(t, dbURL)
	first := p2.getImport(t, ds, imp.ID)
	done := p2.waitImport(t, ds, imp.ID)
	resumed := strings.Contains(p2.stderr.String(), "resuming unfinished imports")
	t.Logf("after the restart the import was %s at first sight; the server resumed unfinished imports: %v", first.Status, resumed)
	if done.Status != "completed" {
		t.Fatalf("after the restart the import is %s (reason %v), want completed", done.Status, derefAny(done.Reason))
	}
	want := map[string]apiCounts{
		"customers":           {stats.Customers, stats.Customers, 0},
		"plans":               {stats.Plans, stats.Plans, 0},
		"invoices":            {stats.Invoices, stats.Invoices, 0},
		"line_items":          {stats.LineItems, stats.LineItems, 0},
		"transactions":        {stats.Transactions, stats.Transactions, 0},
		"subscription_events": {stats.SubscriptionEvents, stats.SubscriptionEvents, 0},
	}
	for typ, w := range want {
		if done.Counts[typ] != w {
			t.Errorf("counts of %s: %+v, want %+v", typ, done.Counts[typ], w)
		}
	}
	if len(done.FailedRecords) != 0 {
		t.Errorf("%d failed records, the first %+v", len(done.FailedRecords), done.FailedRecords[0])
	}
	if list := e2eListAll[apiImport](t, p2.e2eClient, e2eImportsPath(ds), "json_imports", 200); len(list) != 1 || list[0].ID != imp.ID {
		t.Errorf("the data source lists %d imports, want the one", len(list))
	}
	checkEveryRecordOnce(t, p2.e2eClient, ds, stats)
}

// checkEveryRecordOnce reads every record of the data source through the
// list endpoints, page by page, and checks each is there exactly once.
func checkEveryRecordOnce(t *testing.T, c *e2eClient, ds string, stats gen.Stats) {
	t.Helper()
	q := "?data_source_uuid=" + url.QueryEscape(ds)
	once := func(what string, ids []string, want int) {
		t.Helper()
		seen := make(map[string]bool, len(ids))
		dups := 0
		for _, id := range ids {
			if seen[id] {
				dups++
			}
			seen[id] = true
		}
		if len(ids) != want || dups != 0 {
			t.Errorf("%s: %d listed, %d of them repeats; want %d, each once", what, len(ids), dups, want)
		}
	}
	var ids []string
	for _, c := range e2eListAll[apiCustomer](t, c, "/v1/customers"+q, "entries", 200) {
		ids = append(ids, c.ExternalID)
	}
	once("customers", ids, stats.Customers)

	ids = nil
	for _, p := range e2eListAll[apiPlan](t, c, "/v1/plans"+q, "plans", 200) {
		ids = append(ids, p.ExternalID)
	}
	once("plans", ids, stats.Plans)

	var invoices, items, transactions []string
	for _, inv := range e2eListAll[apiInvoice](t, c, "/v1/invoices"+q, "invoices", 200) {
		invoices = append(invoices, inv.ExternalID)
		for _, li := range inv.LineItems {
			items = append(items, derefString(li.ExternalID))
		}
		for _, tr := range inv.Transactions {
			transactions = append(transactions, derefString(tr.ExternalID))
		}
	}
	once("invoices", invoices, stats.Invoices)
	once("line items", items, stats.LineItems)
	once("transactions", transactions, stats.Transactions)

	ids = nil
	for _, e := range e2eListAll[apiEvent](t, c, "/v1/subscription_events"+q, "subscription_events", 200) {
		ids = append(ids, derefString(e.ExternalID))
	}
	once("subscription events", ids, stats.SubscriptionEvents)
}
