package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"testing"

	"github.com/recurhq/recur/sandbox/store/storetest"
)

// TestSeedImport POSTs ChartMogul's documented bulk-import example, quirks
// included, and checks what became of every record: through the import
// object and through the read endpoints.
func TestSeedImport(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			c := startE2EServer(t, db.URL)
			ds := c.createDataSource(t, "Seed")
			seed := e2eSeed(t)

			// The answer to the POST: 201, queued, nothing known yet.
			r := c.postImport(t, ds, seed)
			if r.status != http.StatusCreated {
				t.Fatalf("%s, want 201", r)
			}
			if got, want := memberNames(t, r.body), []string{"id", "data_source_uuid", "status", "external_id", "status_details",
				"created_at", "updated_at", "reason", "counts", "failed_records", "warnings"}; !reflect.DeepEqual(got, want) {
				t.Errorf("import object members %v, want %v", got, want)
			}
			queued := e2eDecode[apiImport](t, r)
			checkQueued(t, queued, ds, "ds_import_1")

			// A retry of the POST (both official clients retry) lands on
			// the same import, whatever its status.
			again := c.postImport(t, ds, seed)
			if again.status != http.StatusOK {
				t.Errorf("%s, want 200 for a repeated external_id", again)
			} else if id := e2eDecode[apiImport](t, again).ID; id != queued.ID {
				t.Errorf("repeated POST answered import %s, want %s", id, queued.ID)
			}

			imp := c.waitImport(t, ds, queued.ID)
			checkSeedReport(t, imp, queued)

			// By id and by external id: the same import.
			byExt := c.getImport(t, ds, "ds_import_1")
			if !reflect.DeepEqual(byExt, imp) {
				t.Errorf("GET by external_id gave\n%+v\nGET by id gave\n%+v", byExt, imp)
			}
			again = c.postImport(t, ds, seed)
			if again.status != http.StatusOK {
				t.Errorf("%s, want 200 for a repeated external_id after completion", again)
			} else if got := e2eDecode[apiImport](t, again); got.ID != imp.ID || got.Status != "completed" {
				t.Errorf("repeated POST after completion answered %s/%s, want %s/completed", got.ID, got.Status, imp.ID)
			}

			checkSeedRecords(t, c, ds)
			checkImportList(t, c, ds, imp)
			checkSeedReimport(t, c, ds, seed)

			// External ids of imports are unique per data source: the same
			// payload into another data source is another import.
			ds2 := c.createDataSource(t, "Seed again")
			other := c.submitImport(t, ds2, seed)
			if other.ID == imp.ID {
				t.Errorf("the seed POSTed to a second data source answered the first data source's import %s", imp.ID)
			}
			if other = c.waitImport(t, ds2, other.ID); other.Status != "completed" || !reflect.DeepEqual(other.Counts, imp.Counts) {
				t.Errorf("the seed in a second data source: %s with counts %+v; want completed with %+v", other.Status, other.Counts, imp.Counts)
			}
		})
	}
}

var e2eSecondsLayout = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func checkQueued(t *testing.T, imp apiImport, ds, externalID string) {
	t.Helper()
	if imp.ID == "" || imp.DataSourceUUID != ds || imp.Status != "queued" || derefAny(imp.ExternalID) != any(externalID) {
		t.Errorf("POST answered id %q, data source %q, status %q, external_id %v; want an id, %s, queued, %s",
			imp.ID, imp.DataSourceUUID, imp.Status, derefAny(imp.ExternalID), ds, externalID)
	}
	if string(imp.StatusDetails) != "{}" {
		t.Errorf("status_details of a queued import is %s, want {}", imp.StatusDetails)
	}
	if imp.Counts != nil || imp.Reason != nil || imp.FailedRecords == nil || len(imp.FailedRecords) != 0 || imp.Warnings == nil || len(imp.Warnings) != 0 {
		t.Errorf("a queued import has counts %v, reason %v, failed_records %v, warnings %v; want null, null, [], []",
			imp.Counts, derefAny(imp.Reason), imp.FailedRecords, imp.Warnings)
	}
	if !e2eSecondsLayout.MatchString(imp.CreatedAt) || !e2eSecondsLayout.MatchString(imp.UpdatedAt) {
		t.Errorf("created_at %q, updated_at %q; want UTC timestamps without fractions", imp.CreatedAt, imp.UpdatedAt)
	}
}

const (
	msgPaymentsType = `type must be one of payment, refund; got "payments"`
	msgSeedEmail    = `email "[email protected]" is not a valid e-mail address; the customer was kept without it`
	msgTrans0003    = `date 2005-05-03T21:37:00Z is before the date of invoice "inv_002" (2023-05-02T21:37:00Z); the transaction was imported as it is`
)

func checkSeedReport(t *testing.T, imp, queued apiImport) {
	t.Helper()
	if imp.ID != queued.ID || imp.Status != "completed" || imp.Reason != nil || imp.CreatedAt != queued.CreatedAt {
		t.Errorf("finished import: id %s, status %s, reason %v, created_at %s; want %s, completed, null, %s",
			imp.ID, imp.Status, derefAny(imp.Reason), imp.CreatedAt, queued.ID, queued.CreatedAt)
	}
	if imp.UpdatedAt < imp.CreatedAt {
		t.Errorf("updated_at %s is before created_at %s", imp.UpdatedAt, imp.CreatedAt)
	}
	if got, want := memberNames(t, imp.StatusDetails), []string{"plans", "scus_0001"}; !reflect.DeepEqual(got, want) {
		t.Errorf("status_details members %v, want %v", got, want)
	}
	var details map[string]json.RawMessage
	json.Unmarshal(imp.StatusDetails, &details)
	if got, want := memberNames(t, details["scus_0001"]), []string{"status", "customers", "invoices", "line_items", "transactions", "subscription_events"}; !reflect.DeepEqual(got, want) {
		t.Errorf("status_details.scus_0001 members %v, want %v", got, want)
	}
	wantDetails := `{
		"plans": {"status": "imported"},
		"scus_0001": {
			"status": "partially_imported",
			"customers": {"status": "imported"},
			"invoices": {"status": "imported"},
			"line_items": {"status": "imported"},
			"transactions": {"status": "partially_imported", "errors": [
				{"external_id": "trans_0001", "field": "type", "message": "type must be one of payment, refund; got \"payments\"", "index": 0}
			]},
			"subscription_events": {"status": "imported"}
		}
	}`
	if !e2eJSONEqual(t, imp.StatusDetails, []byte(wantDetails)) {
		t.Errorf("status_details\n got %s\nwant %s", imp.StatusDetails, wantDetails)
	}
	wantCounts := map[string]apiCounts{
		"customers": {1, 1, 0}, "plans": {1, 1, 0}, "invoices": {3, 3, 0}, "line_items": {3, 3, 0},
		"transactions": {4, 3, 1}, "subscription_events": {1, 1, 0},
	}
	if !reflect.DeepEqual(imp.Counts, wantCounts) {
		t.Errorf("counts %+v, want %+v", imp.Counts, wantCounts)
	}
	wantFailed := []apiProblem{
		{Type: "transactions", Index: 0, ExternalID: "trans_0001", Field: "type", Message: msgPaymentsType, Customer: "scus_0001"},
	}
	if !reflect.DeepEqual(imp.FailedRecords, wantFailed) {
		t.Errorf("failed_records\n got %+v\nwant %+v", imp.FailedRecords, wantFailed)
	}
	wantWarnings := []apiProblem{
		{Type: "customers", Index: 0, ExternalID: "scus_0001", Field: "email", Message: msgSeedEmail, Customer: "scus_0001"},
		{Type: "transactions", Index: 2, ExternalID: "trans_0003", Field: "date", Message: msgTrans0003, Customer: "scus_0001"},
	}
	if !reflect.DeepEqual(imp.Warnings, wantWarnings) {
		t.Errorf("warnings\n got %+v\nwant %+v", imp.Warnings, wantWarnings)
	}
}

// checkSeedRecords reads the seed's records back through the read
// endpoints.
func checkSeedRecords(t *testing.T, c *e2eClient, ds string) {
	t.Helper()
	q := "?data_source_uuid=" + url.QueryEscape(ds)

	// The customer: kept without its malformed e-mail, its state normalised.
	page := e2eGetPage[apiCustomer](t, c, "/v1/customers"+q+"&external_id=scus_0001", "entries")
	if len(page.items) != 1 || page.hasMore {
		t.Fatalf("GET /v1/customers for scus_0001: %d entries, has_more %v; want 1, false", len(page.items), page.hasMore)
	}
	cus := page.items[0]
	checkSeedCustomer(t, cus, ds)
	checkSeedCustomer(t, e2eGet[apiCustomer](t, c, "/v1/customers/"+cus.UUID), ds)
	if all := e2eListAll[apiCustomer](t, c, "/v1/customers"+q, "entries", 200); len(all) != 1 {
		t.Errorf("the data source has %d customers, want 1", len(all))
	}
	if other := e2eGetPage[apiCustomer](t, c, "/v1/customers"+q+"&external_id=scus_0002", "entries"); len(other.items) != 0 {
		t.Errorf("filter external_id=scus_0002 found %d customers, want none", len(other.items))
	}

	plans := e2eListAll[apiPlan](t, c, "/v1/plans"+q, "plans", 200)
	if len(plans) != 1 {
		t.Fatalf("GET /v1/plans: %d plans, want 1: %+v", len(plans), plans)
	}
	pl := plans[0]
	if want := (apiPlan{UUID: pl.UUID, DataSourceUUID: ds, Name: "Gold Biannual", IntervalCount: 6, IntervalUnit: "month", ExternalID: "gold_biannual"}); pl != want || pl.UUID == "" {
		t.Errorf("plan %+v, want %+v", pl, want)
	}

	// The invoices, newest first, with their line items and transactions.
	invoices := e2eListAll[apiInvoice](t, c, "/v1/invoices"+q, "invoices", 200)
	if len(invoices) != 3 {
		t.Fatalf("GET /v1/invoices: %d invoices, want 3", len(invoices))
	}
	type wantInvoice struct {
		ext, date, due string
		amount         int64
		start, end     string
		trans          []apiTransaction
	}
	wants := []wantInvoice{
		{"inv_003", "2023-06-02T21:37:00.000Z", "2023-07-02T21:37:00.000Z", 1500, "2023-06-02T21:37:00.000Z", "2023-07-02T21:37:00.000Z",
			[]apiTransaction{{ExternalID: strp("trans_0004"), Type: "payment", Result: "successful", Date: "2023-06-03T21:37:00.000Z"}}},
		{"inv_002", "2023-05-02T21:37:00.000Z", "2023-06-02T21:37:00.000Z", 1000, "2023-05-02T21:37:00.000Z", "2023-06-02T21:37:00.000Z",
			[]apiTransaction{
				{ExternalID: strp("trans_0002"), Type: "payment", Result: "failed", Date: "2023-05-02T21:37:00.000Z"},
				{ExternalID: strp("trans_0003"), Type: "payment", Result: "successful", Date: "2005-05-03T21:37:00.000Z"},
			}},
		{"inv_001", "2023-04-02T21:37:00.000Z", "2023-05-02T21:37:00.000Z", 1000, "2023-04-02T21:37:00.000Z", "2023-05-02T21:37:00.000Z", nil},
	}
	subscription := ""
	for i, w := range wants {
		inv := invoices[i]
		if inv.ExternalID != w.ext || inv.Date != w.date || derefAny(inv.DueDate) != any(w.due) || inv.Currency != "USD" || inv.CustomerUUID != cus.UUID {
			t.Errorf("invoice %d: %s dated %s due %v in %s of %s; want %s dated %s due %s in USD of %s",
				i, inv.ExternalID, inv.Date, derefAny(inv.DueDate), inv.Currency, inv.CustomerUUID, w.ext, w.date, w.due, cus.UUID)
		}
		if len(inv.LineItems) != 1 {
			t.Errorf("invoice %s has %d line items, want 1", inv.ExternalID, len(inv.LineItems))
		} else {
			li := inv.LineItems[0]
			if li.Type != "subscription" || li.AmountInCents != w.amount || li.Quantity != 1 || li.SubscriptionExternalID != "sub_0001" ||
				li.PlanUUID != pl.UUID || derefAny(li.ServicePeriodStart) != any(w.start) || derefAny(li.ServicePeriodEnd) != any(w.end) || li.UUID == "" {
				t.Errorf("invoice %s: line item %+v (period %v–%v); want a subscription item of %d cents, quantity 1, sub_0001, plan %s, %s–%s",
					inv.ExternalID, li, derefAny(li.ServicePeriodStart), derefAny(li.ServicePeriodEnd), w.amount, pl.UUID, w.start, w.end)
			}
			if subscription == "" {
				subscription = li.SubscriptionUUID
			} else if li.SubscriptionUUID != subscription {
				t.Errorf("invoice %s: subscription_uuid %s, want %s as on the other invoices: all three bill sub_0001", inv.ExternalID, li.SubscriptionUUID, subscription)
			}
		}
		if len(inv.Transactions) != len(w.trans) {
			t.Errorf("invoice %s has %d transactions, want %d: %+v", inv.ExternalID, len(inv.Transactions), len(w.trans), inv.Transactions)
			continue
		}
		for k, tr := range inv.Transactions {
			wt := w.trans[k]
			if derefAny(tr.ExternalID) != derefAny(wt.ExternalID) || tr.Type != wt.Type || tr.Result != wt.Result || tr.Date != wt.Date || tr.UUID == "" || tr.AmountInCents != nil {
				t.Errorf("invoice %s: transaction %d is %v %s %s %s (amount %v); want %v %s %s %s (amount null)", inv.ExternalID, k,
					derefAny(tr.ExternalID), tr.Type, tr.Result, tr.Date, derefAny(tr.AmountInCents), derefAny(wt.ExternalID), wt.Type, wt.Result, wt.Date)
			}
		}
	}
	if one := e2eGet[apiInvoice](t, c, "/v1/invoices/"+invoices[2].UUID); one.ExternalID != "inv_001" || len(one.LineItems) != 1 || len(one.Transactions) != 0 {
		t.Errorf("GET /v1/invoices/{uuid} of inv_001: %+v", one)
	}

	// The event keeps its own subscription: sub_001 is not sub_0001.
	events := e2eListAll[apiEvent](t, c, "/v1/subscription_events"+q, "subscription_events", 200)
	if len(events) != 1 {
		t.Fatalf("GET /v1/subscription_events: %d events, want 1", len(events))
	}
	ev := events[0]
	if derefAny(ev.ExternalID) != any("event_0001") || derefAny(ev.SubscriptionExternalID) != any("sub_001") || derefAny(ev.SubscriptionSetExternalID) != any("set_0001") ||
		ev.CustomerExternalID != "scus_0001" || derefAny(ev.PlanExternalID) != any("gold_biannual") || ev.EventType != "subscription_start" ||
		ev.EventDate != "2023-04-02T21:37:00Z" || ev.EffectiveDate != "2023-04-02T21:37:00Z" || derefAny(ev.Currency) != any("USD") ||
		derefAny(ev.AmountInCents) != any(int64(150000)) || derefAny(ev.Quantity) != any(int64(1)) || ev.DataSourceUUID != ds {
		t.Errorf("event %+v (external_id %v, subscription %v, set %v, plan %v, currency %v, amount %v, quantity %v)", ev, derefAny(ev.ExternalID),
			derefAny(ev.SubscriptionExternalID), derefAny(ev.SubscriptionSetExternalID), derefAny(ev.PlanExternalID), derefAny(ev.Currency), derefAny(ev.AmountInCents), derefAny(ev.Quantity))
	}
	if n := len(e2eListAll[apiEvent](t, c, "/v1/subscription_events"+q+"&subscription_external_id=sub_0001", "subscription_events", 200)); n != 0 {
		t.Errorf("%d events of sub_0001, want none: the event names sub_001", n)
	}
	if n := len(e2eListAll[apiEvent](t, c, "/v1/subscription_events"+q+"&subscription_external_id=sub_001", "subscription_events", 200)); n != 1 {
		t.Errorf("%d events of sub_001, want 1", n)
	}
}

func checkSeedCustomer(t *testing.T, cus apiCustomer, ds string) {
	t.Helper()
	ok := cus.UUID != "" && cus.ID > 0 && cus.ExternalID == "scus_0001" && cus.Name == "Andrew Jones" && cus.Email == "" &&
		cus.Company == "CA Printing Company" && derefAny(cus.Country) == any("US") && derefAny(cus.State) == any("CA") &&
		cus.City == "San Francisco" && derefAny(cus.Zip) == any("90210") &&
		derefAny(cus.LeadCreatedAt) == any("2023-05-14T00:00:00.000Z") && derefAny(cus.FreeTrialStartedAt) == any("2023-06-01T00:00:00.000Z") &&
		cus.DataSourceUUID == ds && reflect.DeepEqual(cus.DataSourceUUIDs, []string{ds}) && reflect.DeepEqual(cus.ExternalIDs, []string{"scus_0001"}) &&
		derefAny(cus.Address.Country) == any("United States") && derefAny(cus.Address.State) == any("California") &&
		cus.Address.City == "San Francisco" && derefAny(cus.Address.AddressZip) == any("90210")
	if !ok {
		b, _ := json.Marshal(cus)
		t.Errorf("customer %s; want scus_0001 Andrew Jones without e-mail, CA Printing Company, US/CA (California), San Francisco 90210, "+
			"lead 2023-05-14, trial 2023-06-01, in %s", b, ds)
	}
}

// checkImportList adds a second import and pages through the list of
// imports, newest first, one at a time.
func checkImportList(t *testing.T, c *e2eClient, ds string, first apiImport) {
	t.Helper()
	payload := []byte(`{"external_id":"ds_import_2","plans":[{"name":"Gold Biannual","external_id":"gold_biannual","interval_count":6,"interval_unit":"month"}]}`)
	second := c.submitImport(t, ds, payload)
	done := c.waitImport(t, ds, second.ID)
	if done.Status != "completed" || !reflect.DeepEqual(done.Counts["plans"], apiCounts{1, 1, 0}) || len(done.Warnings) != 0 {
		t.Errorf("re-importing an unchanged plan: status %s, plan counts %+v, warnings %+v; want completed, 1/1/0, none",
			done.Status, done.Counts["plans"], done.Warnings)
	}
	if n := len(e2eListAll[apiPlan](t, c, "/v1/plans?data_source_uuid="+ds, "plans", 200)); n != 1 {
		t.Errorf("%d plans after re-importing the plan, want 1", n)
	}

	all := e2eGetPage[apiImport](t, c, e2eImportsPath(ds), "json_imports")
	if len(all.items) != 2 || all.items[0].ID != second.ID || all.items[1].ID != first.ID || all.hasMore {
		t.Errorf("GET json_imports: %d imports (has_more %v), want %s then %s", len(all.items), all.hasMore, second.ID, first.ID)
	}
	p1 := e2eGetPage[apiImport](t, c, e2eImportsPath(ds)+"?per_page=1", "json_imports")
	if len(p1.items) != 1 || p1.items[0].ID != second.ID || !p1.hasMore || p1.cursor == nil {
		t.Fatalf("first page of one: %d imports, has_more %v, cursor %v; want %s, true, a cursor", len(p1.items), p1.hasMore, derefAny(p1.cursor), second.ID)
	}
	p2 := e2eGetPage[apiImport](t, c, e2eImportsPath(ds)+"?per_page=1&cursor="+url.QueryEscape(*p1.cursor), "json_imports")
	if len(p2.items) != 1 || p2.items[0].ID != first.ID || p2.hasMore || p2.cursor != nil {
		t.Errorf("second page of one: %d imports, has_more %v, cursor %v; want %s, false, null", len(p2.items), p2.hasMore, derefAny(p2.cursor), first.ID)
	}
	if len(p2.items) == 1 && !reflect.DeepEqual(p2.items[0], first) {
		t.Errorf("the listed import\n%+v\ndiffers from GET by id\n%+v", p2.items[0], first)
	}
}

// checkSeedReimport imports the seed once more under another external id:
// re-importing records unchanged is a no-op, not an error, and nothing is
// stored twice.
func checkSeedReimport(t *testing.T, c *e2eClient, ds string, seed []byte) {
	t.Helper()
	var payload map[string]any
	if err := json.Unmarshal(seed, &payload); err != nil {
		t.Fatal(err)
	}
	payload["external_id"] = "ds_import_3"
	imp := c.submitImport(t, ds, e2eMarshal(t, payload))
	imp = c.waitImport(t, ds, imp.ID)
	wantCounts := map[string]apiCounts{
		"customers": {1, 1, 0}, "plans": {1, 1, 0}, "invoices": {3, 3, 0}, "line_items": {3, 3, 0},
		"transactions": {4, 3, 1}, "subscription_events": {1, 1, 0},
	}
	if imp.Status != "completed" || !reflect.DeepEqual(imp.Counts, wantCounts) {
		t.Errorf("re-import of the seed: status %s, counts %+v; want completed, %+v", imp.Status, imp.Counts, wantCounts)
	}
	checkProblems(t, "failed_records of the re-import", imp.FailedRecords, []apiProblem{
		{Type: "transactions", Index: 0, ExternalID: "trans_0001", Field: "type", Message: msgPaymentsType, Customer: "scus_0001"},
	})
	checkProblems(t, "warnings of the re-import", imp.Warnings, []apiProblem{
		{Type: "customers", Index: 0, ExternalID: "scus_0001", Field: "email", Message: msgSeedEmail, Customer: "scus_0001"},
		{Type: "transactions", Index: 2, ExternalID: "trans_0003", Field: "date", Message: msgTrans0003, Customer: "scus_0001"},
	})
	q := "?data_source_uuid=" + url.QueryEscape(ds)
	if n := len(e2eListAll[apiCustomer](t, c, "/v1/customers"+q, "entries", 200)); n != 1 {
		t.Errorf("%d customers after the re-import, want 1", n)
	}
	invoices := e2eListAll[apiInvoice](t, c, "/v1/invoices"+q, "invoices", 200)
	items, transactions := 0, 0
	for _, inv := range invoices {
		items += len(inv.LineItems)
		transactions += len(inv.Transactions)
	}
	if len(invoices) != 3 || items != 3 || transactions != 3 {
		t.Errorf("after the re-import: %d invoices, %d line items, %d transactions; want 3, 3, 3", len(invoices), items, transactions)
	}
	if n := len(e2eListAll[apiEvent](t, c, "/v1/subscription_events"+q, "subscription_events", 200)); n != 1 {
		t.Errorf("%d subscription events after the re-import, want 1", n)
	}
}
