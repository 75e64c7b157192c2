package main

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/recurhq/recur/sandbox/store/storetest"
)

// reportPayload holds one error of each kind among valid records.
const reportPayload = `{
  "external_id": "every-error",
  "customers": [
    {"external_id": "cus_ok", "name": "Kept Customer", "country": "Narnia", "city": "Paris"},
    {"name": "Nameless", "email": "nameless@example.com"}
  ],
  "plans": [
    {"external_id": "pl_ok", "name": "Monthly", "interval_count": 1, "interval_unit": "month"},
    {"external_id": "pl_bad", "name": "Fortnightly", "interval_count": 2, "interval_unit": "fortnight"}
  ],
  "invoices": [
    {"external_id": "inv_ok", "customer_external_id": "cus_ok", "date": "2024-01-01", "currency": "USD"},
    {"external_id": "inv_cur", "customer_external_id": "cus_ok", "date": "2024-02-01", "currency": "ZZZ"},
    {"external_id": "inv_date", "customer_external_id": "cus_ok", "date": "2024-02-30", "currency": "EUR"},
    {"external_id": "inv_ok", "customer_external_id": "cus_ok", "date": "2024-03-01", "currency": "USD"},
    {"external_id": "inv_ok2", "customer_external_id": "cus_ok", "date": "2024-03-01 10:00:00", "currency": "usd"}
  ],
  "line_items": [
    {"external_id": "li_ok", "invoice_external_id": "inv_ok", "type": "subscription", "amount_in_cents": 1000,
     "subscription_external_id": "sub_1", "plan_external_id": "pl_ok", "service_period_start": "2024-01-01", "service_period_end": "2024-02-01"},
    {"external_id": "li_str", "invoice_external_id": "inv_ok", "type": "one_time", "amount_in_cents": "1000", "description": "Setup"},
    {"external_id": "li_dep", "invoice_external_id": "inv_cur", "type": "one_time", "amount_in_cents": 500, "description": "Onboarding"},
    {"external_id": "li_plan", "invoice_external_id": "inv_ok2", "type": "subscription", "amount_in_cents": 700,
     "subscription_external_id": "sub_2", "plan_external_id": "pl_bad", "service_period_start": "2024-03-01", "service_period_end": "2024-04-01"},
    {"external_id": "li_ok2", "invoice_external_id": "inv_ok2", "type": "one_time", "amount_in_cents": 250, "description": "Extra seat"}
  ],
  "transactions": [
    {"external_id": "tr_ok", "invoice_external_id": "inv_ok", "type": "payment", "result": "successful", "date": "2024-01-02"},
    {"external_id": "tr_ref", "invoice_external_id": "inv_nothing", "type": "payment", "result": "successful", "date": "2024-01-02"},
    {"external_id": "tr_enum", "invoice_external_id": "inv_ok", "type": "chargeback", "result": "successful", "date": "2024-01-03"},
    {"external_id": "tr_ok", "invoice_external_id": "inv_ok", "type": "refund", "result": "successful", "date": "2024-01-05"},
    {"external_id": "tr_noresult", "invoice_external_id": "inv_ok", "type": "payment", "date": "2024-01-04"},
    {"external_id": "tr_dep", "invoice_external_id": "inv_date", "type": "payment", "result": "successful", "date": "2024-03-02"}
  ],
  "subscription_events": [
    {"external_id": "ev_ok", "customer_external_id": "cus_ok", "subscription_external_id": "sub_1", "event_type": "subscription_cancelled",
     "event_date": "2024-02-01", "effective_date": "2024-02-01"},
    {"external_id": "ev_ghost", "customer_external_id": "cus_ghost", "subscription_external_id": "sub_9", "event_type": "subscription_cancelled",
     "event_date": "2024-02-01", "effective_date": "2024-02-01"}
  ]
}`

// The messages Recur gives, read from validate.go, bulk/decode.go and
// bulk/resolve.go.
const (
	msgCurrencyZZZ = `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "ZZZ"`
	msgBadDate     = `date must be a date or timestamp such as "2023-04-02", "2023-04-02 21:37:00" or "2023-04-02T21:37:00Z"; got "2024-02-30"`
	msgFortnight   = `interval_unit must be one of day, month, year; got "fortnight"`
)

// TestImportReportsEveryKindOfError imports a payload with one error of
// each kind and checks the report record by record, and that the valid
// records around the failed ones were imported.
func TestImportReportsEveryKindOfError(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			c := startE2EServer(t, db.URL)
			ds := c.createDataSource(t, "Every error")
			queued := c.submitImport(t, ds, []byte(reportPayload))
			imp := c.waitImport(t, ds, queued.ID)
			if imp.Status != "completed" || imp.Reason != nil {
				t.Errorf("status %s, reason %v; want completed, null: valid records were imported", imp.Status, derefAny(imp.Reason))
			}

			wantFailed := []apiProblem{
				{Type: "customers", Index: 1, ExternalID: "", Field: "external_id", Message: "external_id is required"},
				{Type: "plans", Index: 1, ExternalID: "pl_bad", Field: "interval_unit", Message: msgFortnight},
				{Type: "invoices", Index: 1, ExternalID: "inv_cur", Field: "currency", Message: msgCurrencyZZZ, Customer: "cus_ok"},
				{Type: "invoices", Index: 2, ExternalID: "inv_date", Field: "date", Message: msgBadDate, Customer: "cus_ok"},
				{Type: "invoices", Index: 3, ExternalID: "inv_ok", Field: "external_id", Customer: "cus_ok",
					Message: `external_id "inv_ok" appears more than once in invoices (first at index 0); each record must appear once per import`},
				{Type: "line_items", Index: 1, ExternalID: "li_str", Field: "amount_in_cents", Customer: "cus_ok",
					Message: `amount_in_cents must be a number, not a string: write 1000 without quotes`},
				// A line item of a rejected invoice fails naming the cause; it
				// belongs to the customer the invoice names.
				{Type: "line_items", Index: 2, ExternalID: "li_dep", Field: "invoice_external_id", Customer: "cus_ok",
					Message: `invoice "inv_cur" was not imported: ` + msgCurrencyZZZ},
				{Type: "line_items", Index: 3, ExternalID: "li_plan", Field: "plan_external_id", Customer: "cus_ok",
					Message: `plan "pl_bad" was not imported: ` + msgFortnight},
				{Type: "transactions", Index: 1, ExternalID: "tr_ref", Field: "invoice_external_id",
					Message: `invoice_external_id "inv_nothing" names no invoice in this import or in data source ` + ds},
				{Type: "transactions", Index: 2, ExternalID: "tr_enum", Field: "type", Customer: "cus_ok",
					Message: `type must be one of payment, refund; got "chargeback"`},
				{Type: "transactions", Index: 3, ExternalID: "tr_ok", Field: "external_id", Customer: "cus_ok",
					Message: `external_id "tr_ok" appears more than once in transactions (first at index 0); each record must appear once per import`},
				{Type: "transactions", Index: 4, ExternalID: "tr_noresult", Field: "result", Customer: "cus_ok", Message: "result is required"},
				{Type: "transactions", Index: 5, ExternalID: "tr_dep", Field: "invoice_external_id", Customer: "cus_ok",
					Message: `invoice "inv_date" was not imported: ` + msgBadDate},
				{Type: "subscription_events", Index: 1, ExternalID: "ev_ghost", Field: "customer_external_id", Customer: "cus_ghost",
					Message: `customer_external_id "cus_ghost" names no customer in this import or in data source ` + ds},
			}
			checkProblems(t, "failed_records", imp.FailedRecords, wantFailed)
			wantWarnings := []apiProblem{
				{Type: "customers", Index: 0, ExternalID: "cus_ok", Field: "country", Customer: "cus_ok",
					Message: `country must be an ISO 3166-1 alpha-2 code such as US or DE; got "Narnia"; the customer was kept without it`},
			}
			checkProblems(t, "warnings", imp.Warnings, wantWarnings)

			wantCounts := map[string]apiCounts{
				"customers": {2, 1, 1}, "plans": {2, 1, 1}, "invoices": {5, 2, 3}, "line_items": {5, 2, 3},
				"transactions": {6, 1, 5}, "subscription_events": {2, 1, 1},
			}
			if !reflect.DeepEqual(imp.Counts, wantCounts) {
				t.Errorf("counts\n got %+v\nwant %+v", imp.Counts, wantCounts)
			}
			checkReportDetails(t, imp, wantFailed)
			checkReportRecords(t, c, ds)
		})
	}
}

// checkProblems compares problems one by one, so that a difference names
// the record.
func checkProblems(t *testing.T, what string, got, want []apiProblem) {
	t.Helper()
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			t.Errorf("%s[%d] missing; want %+v", what, i, want[i])
		case i >= len(want):
			t.Errorf("%s[%d] = %+v; want no more", what, i, got[i])
		case got[i] != want[i]:
			t.Errorf("%s[%d]\n got %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}

// checkReportDetails checks ChartMogul's status_details: plans first, then
// each customer of the payload with a status per record type, failures
// listed under the customer they belong to.
func checkReportDetails(t *testing.T, imp apiImport, failed []apiProblem) {
	t.Helper()
	if got, want := memberNames(t, imp.StatusDetails), []string{"plans", "cus_ok", "cus_ghost"}; !reflect.DeepEqual(got, want) {
		t.Errorf("status_details members %v, want %v", got, want)
	}
	type detailError struct {
		ExternalID string `json:"external_id"`
		Field      string `json:"field"`
		Message    string `json:"message"`
		Index      int    `json:"index"`
	}
	type typeStatus struct {
		Status string        `json:"status"`
		Errors []detailError `json:"errors,omitempty"`
	}
	errorsOf := func(typ, customer string) []detailError {
		var out []detailError
		for _, f := range failed {
			if f.Type == typ && f.Customer == customer {
				out = append(out, detailError{f.ExternalID, f.Field, f.Message, f.Index})
			}
		}
		return out
	}
	want := map[string]map[string]any{
		"plans": {"status": "partially_imported", "errors": errorsOf("plans", "")},
		"cus_ok": {
			"status":              "partially_imported",
			"customers":           typeStatus{Status: "imported"},
			"invoices":            typeStatus{"partially_imported", errorsOf("invoices", "cus_ok")},
			"line_items":          typeStatus{"partially_imported", errorsOf("line_items", "cus_ok")},
			"transactions":        typeStatus{"partially_imported", errorsOf("transactions", "cus_ok")},
			"subscription_events": typeStatus{Status: "imported"},
		},
		"cus_ghost": {
			"status":              "failed",
			"subscription_events": typeStatus{"failed", errorsOf("subscription_events", "cus_ghost")},
		},
	}
	wantJSON, _ := json.Marshal(want)
	if !e2eJSONEqual(t, imp.StatusDetails, wantJSON) {
		t.Errorf("status_details\n got %s\nwant %s", imp.StatusDetails, wantJSON)
	}
}

// checkReportRecords reads back the records that were valid.
func checkReportRecords(t *testing.T, c *e2eClient, ds string) {
	t.Helper()
	q := "?data_source_uuid=" + url.QueryEscape(ds)
	customers := e2eListAll[apiCustomer](t, c, "/v1/customers"+q, "entries", 200)
	if len(customers) != 1 {
		t.Fatalf("%d customers, want cus_ok alone: %+v", len(customers), customers)
	}
	cus := customers[0]
	if cus.ExternalID != "cus_ok" || cus.Name != "Kept Customer" || cus.Country != nil || cus.City != "Paris" || cus.Address.Country != nil {
		t.Errorf("customer %s %q country %v (address %v) city %q; want cus_ok \"Kept Customer\" without a country, in Paris",
			cus.ExternalID, cus.Name, derefAny(cus.Country), derefAny(cus.Address.Country), cus.City)
	}

	plans := e2eListAll[apiPlan](t, c, "/v1/plans"+q, "plans", 200)
	if len(plans) != 1 || plans[0].ExternalID != "pl_ok" {
		t.Errorf("plans %+v, want pl_ok alone", plans)
	}

	invoices := e2eListAll[apiInvoice](t, c, "/v1/invoices"+q, "invoices", 200)
	var got []string
	for _, inv := range invoices {
		s := inv.ExternalID + "/" + inv.Currency + "/" + inv.Date + ":"
		for _, li := range inv.LineItems {
			s += " " + derefString(li.ExternalID) + "=" + li.Type
		}
		s += " |"
		for _, tr := range inv.Transactions {
			s += " " + derefString(tr.ExternalID) + "=" + tr.Type + "/" + tr.Result
		}
		got = append(got, s)
	}
	want := []string{
		"inv_ok2/USD/2024-03-01T10:00:00.000Z: li_ok2=one_time |",
		"inv_ok/USD/2024-01-01T00:00:00.000Z: li_ok=subscription | tr_ok=payment/successful",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("invoices (newest first)\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}

	events := e2eListAll[apiEvent](t, c, "/v1/subscription_events"+q, "subscription_events", 200)
	if len(events) != 1 || derefString(events[0].ExternalID) != "ev_ok" {
		t.Errorf("%d events, want ev_ok alone", len(events))
	}
}

func derefString(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// TestImportOfNothingValidFails checks Recur's extension: an import none of
// whose records could be applied finishes as failed, with the reason.
func TestImportOfNothingValidFails(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			c := startE2EServer(t, db.URL)
			ds := c.createDataSource(t, "Nothing valid")
			imp := c.submitImport(t, ds, []byte(`{"plans":[{"external_id":"p","name":"P","interval_count":1,"interval_unit":"week"}]}`))
			imp = c.waitImport(t, ds, imp.ID)
			if imp.Status != "failed" || derefAny(imp.Reason) != any("none of the 1 records could be imported; failed_records says why") {
				t.Errorf("status %s, reason %v; want failed with a reason", imp.Status, derefAny(imp.Reason))
			}
			want := []apiProblem{{Type: "plans", Index: 0, ExternalID: "p", Field: "interval_unit",
				Message: `interval_unit must be one of day, month, year; got "week" (a weekly plan is 7 day)`}}
			checkProblems(t, "failed_records", imp.FailedRecords, want)

			empty := c.submitImport(t, ds, []byte(`{"external_id":"empty"}`))
			empty = c.waitImport(t, ds, empty.ID)
			if empty.Status != "failed" || derefAny(empty.Reason) != any("the import holds no records") {
				t.Errorf("empty import: status %s, reason %v; want failed, \"the import holds no records\"", empty.Status, derefAny(empty.Reason))
			}
		})
	}
}
