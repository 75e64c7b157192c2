package chartmogul_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
)

// now is the time "in the future" is measured against.
var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func readSeed(tb testing.TB) []byte {
	tb.Helper()
	body, err := os.ReadFile("../testdata/seed-bulk-import.json")
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

func decode(t *testing.T, body string) *chartmogul.Batch {
	t.Helper()
	b, err := chartmogul.Decode([]byte(body), now)
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	return b
}

// badRequest checks that both Inspect and Decode refuse body with an
// EBADREQUEST *chartmogul.Error carrying message and param.
func badRequest(t *testing.T, body, message, param string) {
	t.Helper()
	_, ierr := chartmogul.Inspect([]byte(body))
	b, derr := chartmogul.Decode([]byte(body), now)
	if b != nil {
		t.Errorf("Decode returned a batch with its error")
	}
	for name, err := range map[string]error{"Inspect": ierr, "Decode": derr} {
		var e *chartmogul.Error
		if !errors.As(err, &e) {
			t.Errorf("%s(%q) = %v (%T), want a *chartmogul.Error", name, body, err, err)
			continue
		}
		if e.Code != chartmogul.EBADREQUEST {
			t.Errorf("%s(%q) code = %s, want %s", name, body, e.Code, chartmogul.EBADREQUEST)
		}
		if e.Message != message {
			t.Errorf("%s(%q) message\n got %s\nwant %s", name, body, e.Message, message)
		}
		if e.Param != param {
			t.Errorf("%s(%q) param = %q, want %q", name, body, e.Param, param)
		}
	}
}

func TestPayloadErrors(t *testing.T) {
	const invalid = "the body is not valid JSON: "
	const empty = "the body is empty; send one JSON object with the records to import"
	const notObject = "the body must be one JSON object with the records to import; got "
	const unknown = "; a bulk import may hold external_id, customers, plans, invoices, line_items, transactions and subscription_events"
	for _, tc := range []struct {
		name, body, message, param string
	}{
		// empty bodies
		{"empty", "", empty, ""},
		{"whitespace", " \r\n\t ", empty, ""},

		// bodies that are not one object
		{"array", `[]`, notObject + "an array", ""},
		{"array of records", `[{"external_id":"c1"}]`, notObject + "an array", ""},
		{"string", `"customers"`, notObject + "a string", ""},
		{"number", `12`, notObject + "a number", ""},
		{"null", `null`, notObject + "null", ""},
		{"true", `true`, notObject + "a boolean", ""},
		{"false", ` false`, notObject + "a boolean", ""},

		// syntax errors, with the byte offset of the fault
		{"garbage", `x`, invalid + "invalid character 'x' at start of value at byte offset 0", ""},
		{"byte order mark", "\ufeff{}", invalid + "invalid character '\\ufeff' at start of value at byte offset 0", ""},
		{"single quotes", `{'a':1}`, invalid + "invalid character '\\'' at start of value at byte offset 1", ""},
		{"missing colon", `{"customers" [1]}`, invalid + "invalid character '[' after object name (expecting ':') at byte offset 13", ""},
		{"missing comma", `{"customers": [1 2]}`, invalid + "invalid character '2' after array element (expecting ',' or ']') at byte offset 17", ""},
		{"trailing comma in array", `{"customers": [1,]}`, invalid + "invalid character ',' at start of value at byte offset 16", ""},
		{"trailing comma in object", `{"customers": [], }`, invalid + "invalid character ',' at start of value at byte offset 16", ""},
		{"trailing comma in record", "{\"customers\": [\n  {\"external_id\": \"a\",}\n]}", invalid + "invalid character ',' at start of value at byte offset 37", ""},
		{"wrong closer", `{"customers": [{"external_id": "a"}}`, invalid + "invalid character '}' after array element (expecting ',' or ']') at byte offset 35", ""},
		{"extra closer", `{"customers": [{"external_id": "a"}]]`, invalid + "invalid character ']' after object value (expecting ',' or '}') at byte offset 36", ""},
		{"bad literal", `{"customers": tru}`, invalid + "invalid character '}' in literal true (expecting 'e') at byte offset 17", ""},
		{"invalid UTF-8", "{\"customers\": [{\"external_id\": \"\xff\"}]}", invalid + "invalid UTF-8 at byte offset 32", ""},
		{"control character", "{\"customers\": [{\"external_id\": \"a\tb\"}]}", invalid + "invalid character '\\t' in string (expecting non-control character) at byte offset 33", ""},
		{"bad escape", `{"customers": [{"name": "\x"}]}`, invalid + "invalid escape sequence `\\x` in string at byte offset 25", ""},
		{"lone surrogate", `{"customers": [{"external_id": "\ud800"}]}`, invalid + "invalid surrogate pair `\\ud800\"}]}` in string at byte offset 32", ""},

		// truncated bodies
		{"only an opening brace", `{`, invalid + "the JSON ends before it is complete at byte offset 1", ""},
		{"cut in an array", `{"customers": [`, invalid + "the JSON ends before it is complete at byte offset 15", ""},
		{"cut in a record", `{"customers": [{"external_id": "a"`, invalid + "the JSON ends before it is complete at byte offset 34", ""},
		{"cut in a string", `{"customers": [{"external_id": "a`, invalid + "the JSON ends before it is complete at byte offset 33", ""},
		{"cut after a name", `{"external_id"`, invalid + "the JSON ends before it is complete at byte offset 14", ""},
		{"cut before the end", `{"customers": []`, invalid + "the JSON ends before it is complete at byte offset 16", ""},

		// more after the object
		{"garbage after", `{}x`, "the body must hold one JSON object and nothing after it; more follows at byte offset 2", ""},
		{"bracket after", `{}]`, "the body must hold one JSON object and nothing after it; more follows at byte offset 2", ""},

		// duplicate member names: jsontext refuses them
		{"duplicate array", `{"customers": [], "customers": []}`, invalid + "duplicate object member name at byte offset 18", ""},
		{"duplicate external_id", `{"external_id": "a", "external_id": "a"}`, invalid + "duplicate object member name at byte offset 21", ""},
		{"duplicate record member", `{"customers": [{"external_id":"a","external_id":"b"}]}`, invalid + "duplicate object member name at byte offset 34", ""},

		// unknown top-level members, named
		{"unknown member", `{"foo": 1}`, `the payload has an unknown top-level member "foo"` + unknown, "foo"},
		{"misspelt array", `{"customers": [], "line_item": []}`, `the payload has an unknown top-level member "line_item"` + unknown, "line_item"},
		{"capitalised array", `{"Customers": []}`, `the payload has an unknown top-level member "Customers"` + unknown, "Customers"},
		{"data source in the body", `{"data_source_uuid": "ds_1", "customers": []}`, `the payload has an unknown top-level member "data_source_uuid"` + unknown, "data_source_uuid"},
		{"unknown before a syntax error", `{"a":1,}`, `the payload has an unknown top-level member "a"` + unknown, "a"},

		// record arrays that are not arrays
		{"object for array", `{"customers": {}}`, "customers must be an array of records; got an object", "customers"},
		{"record for array", `{"plans": {"name": "Gold"}}`, "plans must be an array of records; got an object", "plans"},
		{"string for array", `{"invoices": "inv_1"}`, `invoices must be an array of records; got the string "inv_1"`, "invoices"},
		{"number for array", `{"line_items": 5}`, "line_items must be an array of records; got the number 5", "line_items"},
		{"bool for array", `{"transactions": true}`, "transactions must be an array of records; got true", "transactions"},
		{"after a good array", `{"customers": [], "subscription_events": false}`, "subscription_events must be an array of records; got false", "subscription_events"},

		// the import's external_id
		{"number external_id", `{"external_id": 5}`, "external_id must be a string naming the import; got the number 5", "external_id"},
		{"bool external_id", `{"external_id": true}`, "external_id must be a string naming the import; got true", "external_id"},
		{"object external_id", `{"external_id": {"a": 1}}`, "external_id must be a string naming the import; got an object", "external_id"},
		{"array external_id", `{"external_id": ["a"]}`, "external_id must be a string naming the import; got an array", "external_id"},
		{"long external_id", `{"external_id": "` + strings.Repeat("i", 256) + `"}`, "external_id must be at most 255 characters long; got 256", "external_id"},
		{"long escaped external_id", `{"external_id": "` + strings.Repeat(`\u00e9`, 128) + `"}`, "external_id must be at most 255 characters long; got 256", "external_id"},
	} {
		t.Run(tc.name, func(t *testing.T) { badRequest(t, tc.body, tc.message, tc.param) })
	}
}

// TestTrailingDataOffset checks that the offset named for data after the
// object is where that data starts. (Until a concurrent fix of expectEnd it
// was where the trailing value ended: 4 for "{}{}".)
func TestTrailingDataOffset(t *testing.T) {
	for body, offset := range map[string]string{
		`{}{}`:                             "2",
		`{} {}`:                            "3",
		`{"customers": []} {"plans": []}`:  "18",
		`{} x`:                             "3",
		"{}\n\n{\"customers\": [1, 2, 3]}": "4",
	} {
		badRequest(t, body, "the body must hold one JSON object and nothing after it; more follows at byte offset "+offset, "")
	}
}

// TestEscapedMemberNames shows that member names written with JSON escapes
// are compared in their escaped form.
func TestEscapedMemberNames(t *testing.T) {
	s, err := chartmogul.Inspect([]byte(`{"\u0063ustomers": [{"external\u005fid": "c1"}]}`))
	if err != nil || s.Records[chartmogul.RecordCustomers] != 1 {
		t.Errorf("Inspect = %+v, %v", s, err)
	}
	b, err := chartmogul.Decode([]byte(`{"\u0063ustomers": [{"external\u005fid": "c1"}]}`), now)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(b.Customers) != 1 || b.Customers[0].ExternalID != "c1" {
		t.Errorf("customers = %+v", b.Customers)
	}
	checkProblems(t, b.Problems(chartmogul.RecordCustomers, 0), nil, nil)
}

func TestImportExternalID(t *testing.T) {
	for body, want := range map[string]string{
		`{}`:                                       "",
		`{"external_id": null}`:                    "",
		`{"external_id": ""}`:                      "",
		`{"external_id": "ds_import_1"}`:           "ds_import_1",
		`{"external_id": "caf\u00e9"}`:             "café",
		`{"customers": [], "external_id": "last"}`: "last",
		`{"external_id": "` + strings.Repeat("i", 255) + `"}`:      strings.Repeat("i", 255),
		`{"external_id": "` + strings.Repeat(`\u00e9`, 127) + `"}`: strings.Repeat("é", 127), // 254 bytes
	} {
		s, err := chartmogul.Inspect([]byte(body))
		if err != nil || s.ExternalID != want {
			t.Errorf("Inspect(%.40s) = %q, %v; want %q", body, s.ExternalID, err, want)
		}
		b, err := chartmogul.Decode([]byte(body), now)
		if err != nil || b.ExternalID != want {
			t.Errorf("Decode(%.40s) = %v; want %q", body, err, want)
		}
	}
}

func TestInspectSummary(t *testing.T) {
	for _, tc := range []struct {
		body string
		want map[chartmogul.RecordType]int
	}{
		{`{}`, map[chartmogul.RecordType]int{}},
		{` { } `, map[chartmogul.RecordType]int{}},
		{`{"external_id": "x"}`, map[chartmogul.RecordType]int{}},
		{`{"customers": null}`, map[chartmogul.RecordType]int{chartmogul.RecordCustomers: 0}},
		{`{"customers": []}`, map[chartmogul.RecordType]int{chartmogul.RecordCustomers: 0}},
		// Elements are counted whatever they are: Decode judges them.
		{`{"customers": [1, "x", null, [], {}, {"a": {"b": [1, 2]}}]}`, map[chartmogul.RecordType]int{chartmogul.RecordCustomers: 6}},
		{`{"subscription_events": [{}], "plans": [{}, {}], "line_items": [{}, {}, {}], "transactions": null, "invoices": [{}]}`,
			map[chartmogul.RecordType]int{chartmogul.RecordSubscriptionEvents: 1, chartmogul.RecordPlans: 2, chartmogul.RecordLineItems: 3, chartmogul.RecordTransactions: 0, chartmogul.RecordInvoices: 1}},
	} {
		s, err := chartmogul.Inspect([]byte(tc.body))
		if err != nil {
			t.Errorf("Inspect(%s): %v", tc.body, err)
			continue
		}
		if !maps.Equal(s.Records, tc.want) {
			t.Errorf("Inspect(%s).Records = %v, want %v", tc.body, s.Records, tc.want)
		}
	}
}

func TestDecodeSeed(t *testing.T) {
	body := readSeed(t)
	s, err := chartmogul.Inspect(body)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[chartmogul.RecordType]int{
		chartmogul.RecordCustomers: 1, chartmogul.RecordPlans: 1, chartmogul.RecordInvoices: 3,
		chartmogul.RecordLineItems: 3, chartmogul.RecordTransactions: 4, chartmogul.RecordSubscriptionEvents: 1,
	}
	if s.ExternalID != "ds_import_1" || !maps.Equal(s.Records, wantCounts) {
		t.Errorf("Inspect = %+v", s)
	}
	b, err := chartmogul.Decode(body, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[chartmogul.RecordType]int{
		chartmogul.RecordCustomers: len(b.Customers), chartmogul.RecordPlans: len(b.Plans), chartmogul.RecordInvoices: len(b.Invoices),
		chartmogul.RecordLineItems: len(b.LineItems), chartmogul.RecordTransactions: len(b.Transactions), chartmogul.RecordSubscriptionEvents: len(b.Events),
	}
	if b.ExternalID != "ds_import_1" || !maps.Equal(got, wantCounts) || b.Len() != 13 {
		t.Errorf("Decode: external id %q, counts %v, Len %d", b.ExternalID, got, b.Len())
	}

	// §12.4 and §12.7: the state is normalised, the obfuscated e-mail is a warning.
	c := b.Customers[0]
	lead := time.Date(2023, 5, 14, 0, 0, 0, 0, time.UTC)
	trial := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	wantCustomer := chartmogul.Customer{ExternalID: "scus_0001", Name: "Andrew Jones", Country: "US", State: "CA", City: "San Francisco",
		Zip: "90210", Company: "CA Printing Company", LeadCreatedAt: &lead, FreeTrialStartedAt: &trial,
		Given: chartmogul.CustomerName | chartmogul.CustomerCountry | chartmogul.CustomerState | chartmogul.CustomerCity |
			chartmogul.CustomerZip | chartmogul.CustomerCompany | chartmogul.CustomerLeadCreatedAt | chartmogul.CustomerFreeTrialStartedAt}
	if !reflect.DeepEqual(c, wantCustomer) {
		t.Errorf("customer\n got %+v\nwant %+v", c, wantCustomer)
	}
	checkProblems(t, b.Problems(chartmogul.RecordCustomers, 0), nil, []chartmogul.FieldProblem{
		fp("email", `email "[email protected]" is not a valid e-mail address; the customer was kept without it`)})

	// §12.6: dates without a zone are UTC.
	if d := b.Invoices[1].Date; !d.Equal(time.Date(2023, 5, 2, 21, 37, 0, 0, time.UTC)) {
		t.Errorf("inv_002 date = %s", d)
	}
	// §12.1: "payments" fails the transaction alone.
	checkProblems(t, b.Problems(chartmogul.RecordTransactions, 0), []chartmogul.FieldProblem{
		fp("type", `type must be one of payment, refund; got "payments"`)}, nil)
	for i := 1; i < 4; i++ {
		checkProblems(t, b.Problems(chartmogul.RecordTransactions, i), nil, nil)
	}
	for i := range b.Invoices {
		checkProblems(t, b.Problems(chartmogul.RecordInvoices, i), nil, nil)
		checkProblems(t, b.Problems(chartmogul.RecordLineItems, i), nil, nil)
	}
	checkProblems(t, b.Problems(chartmogul.RecordPlans, 0), nil, nil)
	checkProblems(t, b.Problems(chartmogul.RecordSubscriptionEvents, 0), nil, nil)
	if ev := b.Events[0]; ev.SubscriptionExternalID != "sub_001" || *ev.AmountInCents != 150000 || *ev.Quantity != 1 || ev.Currency != "USD" {
		t.Errorf("event = %+v", ev)
	}
}

// TestDecodeAllFields decodes one record of each type carrying every member,
// to check that each member lands in its field.
func TestDecodeAllFields(t *testing.T) {
	b := decode(t, `{
		"customers": [{"external_id": "c1", "name": "Andr\u00e9", "email": "andre@example.com", "company": "ACME",
			"country": "de", "state": "Bayern", "city": "Munich", "zip": "80331", "website_url": "https://acme.example",
			"lead_created_at": "2023-01-01", "free_trial_started_at": "2023-01-02T10:00:00+01:00"}],
		"plans": [{"external_id": "gold", "name": "Gold", "interval_count": 3, "interval_unit": "month"}],
		"invoices": [{"external_id": "inv_1", "customer_external_id": "c1", "date": "2023-04-02 21:37:00",
			"due_date": "2023-05-02", "currency": "eur", "collection_method": "manual"}],
		"line_items": [{"invoice_external_id": "inv_1", "external_id": "li_1", "type": "subscription", "amount_in_cents": 1000,
			"quantity": 2, "subscription_external_id": "sub_1", "subscription_set_external_id": "set_1", "plan_external_id": "gold",
			"service_period_start": "2023-04-02", "service_period_end": "2023-07-02", "cancelled_at": "2023-06-01",
			"prorated": true, "proration_type": "differential", "discount_amount_in_cents": 100, "discount_code": "TEN",
			"discount_description": "ten off", "tax_amount_in_cents": 190, "transaction_fees_in_cents": 30,
			"transaction_fees_currency": "usd", "account_code": "4000", "description": "Gold plan", "event_order": 2,
			"balance_transfer": false}],
		"transactions": [{"invoice_external_id": "inv_1", "external_id": "tr_1", "type": "refund", "result": "failed",
			"date": "2023-04-03", "amount_in_cents": 500, "transaction_fees_in_cents": 10, "transaction_fees_currency": "GBP"}],
		"subscription_events": [{"customer_external_id": "c1", "external_id": "ev_1", "event_type": "subscription_update_scheduled",
			"event_date": "2023-04-02", "effective_date": "2023-05-02", "subscription_external_id": "sub_1",
			"subscription_set_external_id": "set_1", "plan_external_id": "gold", "currency": "jpy", "amount_in_cents": 2000,
			"quantity": 3, "tax_amount_in_cents": 50, "retracted_event_id": null, "event_order": 1}]
	}`)
	d := func(y int, m time.Month, day, h int) *time.Time {
		t := time.Date(y, m, day, h, 0, 0, 0, time.UTC)
		return &t
	}
	i64 := func(n int64) *int64 { return &n }
	wantCustomer := chartmogul.Customer{ExternalID: "c1", Name: "André", Email: "andre@example.com", Company: "ACME", Country: "DE",
		State: "Bayern", City: "Munich", Zip: "80331", WebsiteURL: "https://acme.example", LeadCreatedAt: d(2023, 1, 1, 0),
		FreeTrialStartedAt: d(2023, 1, 2, 9), Given: chartmogul.CustomerName | chartmogul.CustomerEmail | chartmogul.CustomerCompany |
			chartmogul.CustomerCountry | chartmogul.CustomerState | chartmogul.CustomerCity | chartmogul.CustomerZip | chartmogul.CustomerWebsiteURL |
			chartmogul.CustomerLeadCreatedAt | chartmogul.CustomerFreeTrialStartedAt}
	wantPlan := chartmogul.Plan{ExternalID: "gold", Name: "Gold", IntervalCount: 3, IntervalUnit: "month"}
	wantInvoice := chartmogul.Invoice{ExternalID: "inv_1", CustomerExternalID: "c1", Date: time.Date(2023, 4, 2, 21, 37, 0, 0, time.UTC),
		DueDate: d(2023, 5, 2, 0), Currency: "EUR", CollectionMethod: "manual"}
	wantLineItem := chartmogul.LineItem{InvoiceExternalID: "inv_1", ExternalID: "li_1", Type: "subscription", AmountInCents: 1000,
		Quantity: 2, SubscriptionExternalID: "sub_1", SubscriptionSetExternalID: "set_1", PlanExternalID: "gold",
		ServicePeriodStart: d(2023, 4, 2, 0), ServicePeriodEnd: d(2023, 7, 2, 0), CancelledAt: d(2023, 6, 1, 0),
		Prorated: true, ProrationType: "differential", DiscountAmountInCents: 100, DiscountCode: "TEN",
		DiscountDescription: "ten off", TaxAmountInCents: 190, TransactionFeesInCents: 30, TransactionFeesCurrency: "USD",
		AccountCode: "4000", Description: "Gold plan", EventOrder: i64(2)}
	wantTransaction := chartmogul.Transaction{InvoiceExternalID: "inv_1", ExternalID: "tr_1", Type: "refund", Result: "failed",
		Date: time.Date(2023, 4, 3, 0, 0, 0, 0, time.UTC), AmountInCents: i64(500), TransactionFeesInCents: i64(10),
		TransactionFeesCurrency: "GBP"}
	wantEvent := chartmogul.SubscriptionEvent{CustomerExternalID: "c1", ExternalID: "ev_1", EventType: "subscription_update_scheduled",
		EventDate: time.Date(2023, 4, 2, 0, 0, 0, 0, time.UTC), EffectiveDate: time.Date(2023, 5, 2, 0, 0, 0, 0, time.UTC),
		SubscriptionExternalID: "sub_1", SubscriptionSetExternalID: "set_1", PlanExternalID: "gold", Currency: "JPY",
		AmountInCents: i64(2000), Quantity: i64(3), TaxAmountInCents: i64(50), EventOrder: i64(1)}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"customer", b.Customers[0], wantCustomer}, {"plan", b.Plans[0], wantPlan}, {"invoice", b.Invoices[0], wantInvoice},
		{"line item", b.LineItems[0], wantLineItem}, {"transaction", b.Transactions[0], wantTransaction}, {"event", b.Events[0], wantEvent},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s\n got %+v\nwant %+v", c.name, c.got, c.want)
		}
	}
	for _, rt := range chartmogul.RecordTypes {
		checkProblems(t, b.Problems(rt, 0), nil, nil)
	}
	// balance_transfer and the generic retraction's numeric id.
	b = decode(t, `{"line_items": [{"invoice_external_id": "i", "type": "one_time", "amount_in_cents": -500, "balance_transfer": true}],
		"subscription_events": [{"customer_external_id": "c1", "event_type": "subscription_event_retracted", "event_date": "2023-04-02",
		"effective_date": "2023-04-02", "retracted_event_id": 374277746}]}`)
	if !b.LineItems[0].BalanceTransfer || b.LineItems[0].AmountInCents != -500 || b.Events[0].RetractedEventID != "374277746" {
		t.Errorf("line item %+v, event %+v", b.LineItems[0], b.Events[0])
	}
}

// baseRecords are valid records of each type, as JSON members.
var baseRecords = map[chartmogul.RecordType]map[string]string{
	chartmogul.RecordCustomers: {"external_id": `"c1"`},
	chartmogul.RecordPlans:     {"external_id": `"gold"`, "name": `"Gold"`, "interval_count": `1`, "interval_unit": `"month"`},
	chartmogul.RecordInvoices: {"external_id": `"inv_1"`, "customer_external_id": `"c1"`, "date": `"2023-04-02 21:37:00"`,
		"currency": `"USD"`},
	chartmogul.RecordLineItems: {"invoice_external_id": `"inv_1"`, "type": `"subscription"`, "amount_in_cents": `1000`,
		"plan_external_id": `"gold"`, "subscription_external_id": `"sub_1"`, "service_period_start": `"2023-04-02"`,
		"service_period_end": `"2023-05-02"`},
	chartmogul.RecordTransactions: {"invoice_external_id": `"inv_1"`, "type": `"payment"`, "result": `"successful"`, "date": `"2023-04-02"`},
	chartmogul.RecordSubscriptionEvents: {"customer_external_id": `"c1"`, "event_type": `"subscription_start"`, "event_date": `"2023-04-02"`,
		"effective_date": `"2023-04-02"`, "subscription_external_id": `"sub_1"`, "plan_external_id": `"gold"`,
		"currency": `"USD"`, "amount_in_cents": `1000`},
}

// record renders the base record of type rt with members changed: a value
// is raw JSON, and "-" removes the member. Members are in name order.
func record(rt chartmogul.RecordType, set map[string]string) string {
	m := maps.Clone(baseRecords[rt])
	for k, v := range set {
		if v == "-" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	var b strings.Builder
	b.WriteString("{")
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteString(": ")
		b.WriteString(m[k])
	}
	b.WriteString("}")
	return b.String()
}

// TestRecordProblems decodes one record with one member changed and checks
// what is wrong with it: JSON types per kind of field, then the record rules.
func TestRecordProblems(t *testing.T) {
	const (
		C  = chartmogul.RecordCustomers
		P  = chartmogul.RecordPlans
		I  = chartmogul.RecordInvoices
		L  = chartmogul.RecordLineItems
		T  = chartmogul.RecordTransactions
		E  = chartmogul.RecordSubscriptionEvents
		ts = `must be a date or timestamp such as "2023-04-02", "2023-04-02 21:37:00" or "2023-04-02T21:37:00Z"; got `
	)
	type fps = []chartmogul.FieldProblem
	for _, tc := range []struct {
		name  string
		rt    chartmogul.RecordType
		set   map[string]string
		errs  fps
		warns fps
	}{
		// the base records are valid
		{name: "customer", rt: C}, {name: "plan", rt: P}, {name: "invoice", rt: I},
		{name: "line item", rt: L}, {name: "transaction", rt: T}, {name: "event", rt: E},

		// integers
		{name: "amount as string", rt: L, set: map[string]string{"amount_in_cents": `"1000"`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a number, not a string: write 1000 without quotes")}},
		{name: "negative amount as string", rt: L, set: map[string]string{"amount_in_cents": `"-5"`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a number, not a string: write -5 without quotes")}},
		{name: "amount as non-numeric string", rt: L, set: map[string]string{"amount_in_cents": `"10 USD"`},
			errs: fps{fp("amount_in_cents", `amount_in_cents must be a whole number; got the string "10 USD"`)}},
		{name: "amount as empty string", rt: L, set: map[string]string{"amount_in_cents": `""`},
			errs: fps{fp("amount_in_cents", `amount_in_cents must be a whole number; got the string ""`)}},
		{name: "float amount", rt: L, set: map[string]string{"amount_in_cents": `10.5`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a whole number; got 10.5")}},
		{name: "float amount with zero fraction", rt: L, set: map[string]string{"amount_in_cents": `1000.0`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a whole number; got 1000.0")}},
		{name: "exponent amount", rt: L, set: map[string]string{"amount_in_cents": `1e3`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a whole number; got 1e3")}},
		{name: "largest amount", rt: L, set: map[string]string{"amount_in_cents": `9223372036854775807`}},
		{name: "overflowing amount", rt: L, set: map[string]string{"amount_in_cents": `9223372036854775808`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a whole number between -9223372036854775808 and 9223372036854775807; got 9223372036854775808")}},
		{name: "underflowing tax", rt: L, set: map[string]string{"tax_amount_in_cents": `-9223372036854775809`},
			errs: fps{fp("tax_amount_in_cents", "tax_amount_in_cents must be a whole number between -9223372036854775808 and 9223372036854775807; got -9223372036854775809")}},
		{name: "amount true", rt: L, set: map[string]string{"amount_in_cents": `true`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a whole number; got true")}},
		{name: "amount object", rt: L, set: map[string]string{"amount_in_cents": `{"value": 1}`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a whole number; got an object")}},
		{name: "amount array", rt: L, set: map[string]string{"amount_in_cents": `[1000]`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a whole number; got an array")}},
		{name: "amount null", rt: L, set: map[string]string{"amount_in_cents": `null`},
			errs: fps{fp("amount_in_cents", "amount_in_cents is required")}},
		{name: "amount missing", rt: L, set: map[string]string{"amount_in_cents": `-`},
			errs: fps{fp("amount_in_cents", "amount_in_cents is required")}},
		{name: "free item", rt: L, set: map[string]string{"amount_in_cents": `0`}},
		{name: "quantity as string", rt: L, set: map[string]string{"quantity": `"2"`},
			errs: fps{fp("quantity", "quantity must be a number, not a string: write 2 without quotes")}},
		{name: "quantity null", rt: L, set: map[string]string{"quantity": `null`}},
		{name: "event order as string", rt: L, set: map[string]string{"event_order": `"1"`},
			errs: fps{fp("event_order", "event_order must be a number, not a string: write 1 without quotes")}},
		{name: "interval as string", rt: P, set: map[string]string{"interval_count": `"6"`},
			errs: fps{fp("interval_count", "interval_count must be a number, not a string: write 6 without quotes")}},
		{name: "fractional interval", rt: P, set: map[string]string{"interval_count": `1.5`},
			errs: fps{fp("interval_count", "interval_count must be a whole number; got 1.5")}},
		{name: "interval missing", rt: P, set: map[string]string{"interval_count": `-`},
			errs: fps{fp("interval_count", "interval_count is required")}},
		{name: "transaction amount as string", rt: T, set: map[string]string{"amount_in_cents": `"100"`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a number, not a string: write 100 without quotes")}},
		{name: "event amount as string, as in ChartMogul's docs", rt: E, set: map[string]string{"amount_in_cents": `"1000"`},
			errs: fps{fp("amount_in_cents", "amount_in_cents must be a number, not a string: write 1000 without quotes")}},
		// The Ruby client sends "" for every event amount it was not given.
		{name: "event quantity blank", rt: E, set: map[string]string{"quantity": `""`, "tax_amount_in_cents": `""`}},
		{name: "event amount blank on a start", rt: E, set: map[string]string{"amount_in_cents": `""`},
			errs: fps{fp("amount_in_cents", "amount_in_cents is required")}},
		{name: "event amount blank on a cancellation", rt: E, set: map[string]string{"event_type": `"subscription_cancelled"`, "amount_in_cents": `""`}},
		{name: "event quantity as text", rt: E, set: map[string]string{"quantity": `"two"`},
			errs: fps{fp("quantity", `quantity must be a whole number; got the string "two"`)}},
		{name: "event quantity 0", rt: E, set: map[string]string{"quantity": `0`},
			errs: fps{fp("quantity", "quantity must not be 0; leave it out for 1")}},

		// strings
		{name: "bool for string", rt: C, set: map[string]string{"name": `true`},
			warns: fps{fp("name", "name must be a string; got true; the customer was kept without it")}},
		{name: "number for external id", rt: C, set: map[string]string{"external_id": `12`},
			errs: fps{fp("external_id", "external_id must be a string; got the number 12")}},
		{name: "long number described short", rt: C, set: map[string]string{"city": strings.Repeat("9", 41)},
			warns: fps{fp("city", "city must be a string; got a number; the customer was kept without it")}},
		{name: "object for string", rt: I, set: map[string]string{"currency": `{"code": "USD"}`},
			errs: fps{fp("currency", "currency must be a string; got an object")}},
		{name: "number for currency", rt: I, set: map[string]string{"currency": `840`},
			errs: fps{fp("currency", "currency must be a string; got the number 840")}},
		{name: "null customer reference", rt: I, set: map[string]string{"customer_external_id": `null`},
			errs: fps{fp("customer_external_id", "customer_external_id is required")}},
		{name: "empty invoice reference", rt: T, set: map[string]string{"invoice_external_id": `""`},
			errs: fps{fp("invoice_external_id", "invoice_external_id is required")}},
		{name: "number for type", rt: L, set: map[string]string{"type": `5`},
			errs: fps{fp("type", "type must be a string; got the number 5")}},
		{name: "retracted event id as bool", rt: E, set: map[string]string{"event_type": `"subscription_event_retracted"`, "retracted_event_id": `true`},
			errs: fps{fp("retracted_event_id", "retracted_event_id must be a string or a number; got true")}},
		{name: "escaped string", rt: I, set: map[string]string{"currency": `"\u0055SD"`}},

		// booleans
		{name: "string for bool", rt: L, set: map[string]string{"prorated": `"yes"`},
			errs: fps{fp("prorated", `prorated must be true or false; got the string "yes"`)}},
		{name: "number for bool", rt: L, set: map[string]string{"balance_transfer": `1`},
			errs: fps{fp("balance_transfer", "balance_transfer must be true or false; got the number 1")}},
		{name: "null bool", rt: L, set: map[string]string{"prorated": `null`}},

		// dates
		{name: "number for date", rt: I, set: map[string]string{"date": `20230402`},
			errs: fps{fp("date", `date must be a date string such as "2023-04-02 21:37:00"; got the number 20230402`)}},
		{name: "unix time for date", rt: T, set: map[string]string{"date": `1680471420`},
			errs: fps{fp("date", `date must be a date string such as "2023-04-02 21:37:00"; got the number 1680471420`)}},
		{name: "impossible date", rt: I, set: map[string]string{"date": `"2023-02-30"`},
			errs: fps{fp("date", `date `+ts+`"2023-02-30"`)}},
		{name: "empty date", rt: I, set: map[string]string{"date": `""`},
			errs: fps{fp("date", "date is required")}},
		{name: "null date", rt: I, set: map[string]string{"date": `null`},
			errs: fps{fp("date", "date is required")}},
		{name: "bad due date", rt: I, set: map[string]string{"due_date": `"soon"`},
			errs: fps{fp("due_date", `due_date `+ts+`"soon"`)}},
		{name: "bad service period", rt: L, set: map[string]string{"service_period_start": `"yesterday"`},
			errs: fps{fp("service_period_start", `service_period_start `+ts+`"yesterday"`)}},
		{name: "service period as number", rt: L, set: map[string]string{"service_period_end": `20230502`},
			errs: fps{fp("service_period_end", `service_period_end must be a date string such as "2023-04-02 21:37:00"; got the number 20230502`)}},
		{name: "period ends first", rt: L, set: map[string]string{"service_period_end": `"2023-04-02T01:00:00+02:00"`},
			errs: fps{fp("service_period_end", "service_period_end must be after service_period_start (2023-04-02T00:00:00Z); got 2023-04-01T23:00:00Z")}},
		{name: "service period end missing", rt: L, set: map[string]string{"service_period_end": `-`},
			errs: fps{fp("service_period_end", "service_period_end is required")}},
		{name: "future transaction", rt: T, set: map[string]string{"date": `"2026-01-02T00:00:01Z"`},
			errs: fps{fp("date", "date must not be in the future; got 2026-01-02T00:00:01Z")}},
		{name: "transaction a day ahead", rt: T, set: map[string]string{"date": `"2026-01-02T00:00:00Z"`}},
		{name: "bad event date", rt: E, set: map[string]string{"effective_date": `"2023-13-01"`},
			errs: fps{fp("effective_date", `effective_date `+ts+`"2023-13-01"`)}},

		// customers: bad contact details and dates are warnings
		{name: "bad lead date", rt: C, set: map[string]string{"lead_created_at": `"soon"`},
			warns: fps{fp("lead_created_at", `lead_created_at `+ts+`"soon"; the customer was kept without it`)}},
		{name: "lead date as number", rt: C, set: map[string]string{"free_trial_started_at": `5`},
			warns: fps{fp("free_trial_started_at", `free_trial_started_at must be a date string such as "2023-04-02 21:37:00"; got the number 5; the customer was kept without it`)}},
		{name: "future lead date", rt: C, set: map[string]string{"lead_created_at": `"2027-01-01"`},
			warns: fps{fp("lead_created_at", "lead_created_at should be in the past; got 2027-01-01T00:00:00Z")}},
		{name: "bad email", rt: C, set: map[string]string{"email": `"andrew at example.com"`},
			warns: fps{fp("email", `email "andrew at example.com" is not a valid e-mail address; the customer was kept without it`)}},
		{name: "unknown country", rt: C, set: map[string]string{"country": `"Narnia"`},
			warns: fps{fp("country", `country must be an ISO 3166-1 alpha-2 code such as US or DE; got "Narnia"; the customer was kept without it`)}},
		{name: "bad state", rt: C, set: map[string]string{"country": `"US"`, "state": `"Bavaria"`},
			warns: fps{fp("state", `state "Bavaria" is not a state of United States; the customer was kept without it`)}},

		// unknown members are warnings
		{name: "unknown member", rt: L, set: map[string]string{"amount": `{"nested": [1, {"deep": null}]}`},
			warns: fps{fp("amount", `"amount" is not a field of this record and was ignored`)}},
		{name: "read-only member", rt: C, set: map[string]string{"uuid": `"cus_1"`, "data_source_uuid": `"ds_1"`},
			warns: fps{
				fp("data_source_uuid", `"data_source_uuid" is not a field of this record and was ignored`),
				fp("uuid", `"uuid" is not a field of this record and was ignored`)}},
		// plan_uuid (the single-object endpoints' field) is accepted too; Resolve looks it up.
		{name: "plan_uuid instead of plan_external_id", rt: L, set: map[string]string{"plan_external_id": `-`, "plan_uuid": `"pl_1"`}},
		{name: "no plan at all", rt: L, set: map[string]string{"plan_external_id": `-`},
			errs: fps{fp("plan_external_id", "plan_external_id is required")}},

		// the record rules, through the decoder
		{name: "everything missing from a line item", rt: L, set: map[string]string{"invoice_external_id": `-`, "type": `-`, "amount_in_cents": `-`},
			errs: fps{fp("invoice_external_id", "invoice_external_id is required"), fp("amount_in_cents", "amount_in_cents is required"), fp("type", "type is required")}},
		{name: "everything missing from an invoice", rt: I, set: map[string]string{"external_id": `-`, "customer_external_id": `-`, "date": `-`, "currency": `-`},
			errs: fps{fp("customer_external_id", "customer_external_id is required"), fp("external_id", "external_id is required"),
				fp("date", "date is required"), fp("currency", "currency is required")}},
		{name: "everything missing from a transaction", rt: T, set: map[string]string{"invoice_external_id": `-`, "type": `-`, "result": `-`, "date": `-`},
			errs: fps{fp("invoice_external_id", "invoice_external_id is required"), fp("type", "type is required"),
				fp("result", "result is required"), fp("date", "date is required")}},
		{name: "seed transaction type", rt: T, set: map[string]string{"type": `"payments"`},
			errs: fps{fp("type", `type must be one of payment, refund; got "payments"`)}},
		{name: "weekly plan", rt: P, set: map[string]string{"interval_unit": `"week"`},
			errs: fps{fp("interval_unit", `interval_unit must be one of day, month, year; got "week" (a weekly plan is 7 day)`)}},
		{name: "cancellation without plan", rt: E, set: map[string]string{"event_type": `"subscription_cancelled"`, "plan_external_id": `-`, "currency": `-`, "amount_in_cents": `-`}},
		{name: "start without plan", rt: E, set: map[string]string{"plan_external_id": `-`},
			errs: fps{fp("plan_external_id", "plan_external_id is required")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"` + string(tc.rt) + `": [` + record(tc.rt, tc.set) + `]}`
			b := decode(t, body)
			if b.Len() != 1 {
				t.Fatalf("Len = %d", b.Len())
			}
			checkProblems(t, b.Problems(tc.rt, 0), tc.errs, tc.warns)
		})
	}
}

// TestNonObjectElements checks that an element that is not an object fails
// that record alone, with field "".
func TestNonObjectElements(t *testing.T) {
	for _, tc := range []struct{ value, got string }{
		{`1`, "the number 1"}, {`"c1"`, `the string "c1"`}, {`null`, "null"}, {`[]`, "an array"}, {`true`, "true"},
	} {
		for _, rt := range chartmogul.RecordTypes {
			b := decode(t, `{"`+string(rt)+`": [`+tc.value+`, `+record(rt, nil)+`]}`)
			if b.Len() != 2 {
				t.Fatalf("%s: Len = %d", rt, b.Len())
			}
			p := b.Problems(rt, 0)
			want := fp("", "each element of "+string(rt)+" must be a JSON object; got "+tc.got)
			if len(p.Errors) == 0 || p.Errors[0] != want {
				t.Errorf("%s [%s]: errors %v, want first %v", rt, tc.value, p.Errors, want)
			}
			checkProblems(t, b.Problems(rt, 1), nil, nil)
		}
	}
}

// TestNonObjectElementsOneMessage shows the noise that follows the one
// message an element that is not an object deserves.
func TestNonObjectElementsOneMessage(t *testing.T) {
	for _, rt := range chartmogul.RecordTypes {
		b := decode(t, `{"`+string(rt)+`": [5]}`)
		checkProblems(t, b.Problems(rt, 0), []chartmogul.FieldProblem{fp("", "each element of "+string(rt)+" must be a JSON object; got the number 5")}, nil)
	}
}

// TestCustomerContactOfWrongType shows that a contact field of the wrong
// JSON type fails the customer, although a malformed contact field is meant
// to be a warning that keeps it.
func TestCustomerContactOfWrongType(t *testing.T) {
	for member, value := range map[string]string{"email": `12345`, "country": `840`, "state": `6`} {
		b := decode(t, `{"customers": [`+record(chartmogul.RecordCustomers, map[string]string{member: value})+`]}`)
		p := b.Problems(chartmogul.RecordCustomers, 0)
		if !p.OK() {
			t.Errorf("%s %s: the customer failed: %v", member, value, p.Errors)
		}
		if len(p.Warnings) != 1 || p.Warnings[0].Field != member {
			t.Errorf("%s %s: warnings %v, want one on %s", member, value, p.Warnings, member)
		}
	}
}

// TestPlanIntervalCountZero shows the message a plan sent with
// "interval_count": 0 gets.
func TestPlanIntervalCountZero(t *testing.T) {
	b := decode(t, `{"plans": [`+record(chartmogul.RecordPlans, map[string]string{"interval_count": `0`})+`]}`)
	checkProblems(t, b.Problems(chartmogul.RecordPlans, 0), []chartmogul.FieldProblem{
		fp("interval_count", "interval_count must be a whole number greater than 0; got 0")}, nil)
}

// TestLineItemQuantityZero shows that a line item sent with "quantity": 0
// is imported with quantity 1, while an event with quantity 0 fails.
func TestLineItemQuantityZero(t *testing.T) {
	b := decode(t, `{"line_items": [`+record(chartmogul.RecordLineItems, map[string]string{"quantity": `0`})+`]}`)
	checkProblems(t, b.Problems(chartmogul.RecordLineItems, 0), []chartmogul.FieldProblem{
		fp("quantity", "quantity must not be 0; leave it out for 1")}, nil)
}

// TestDecodeOrder checks that records keep payload order and problems stay
// with their record, whatever the order of the arrays.
func TestDecodeOrder(t *testing.T) {
	b := decode(t, `{"subscription_events": [], "line_items": [
		{"invoice_external_id": "i1", "type": "one_time", "amount_in_cents": 1},
		{"invoice_external_id": "i2", "type": "one_time"},
		{"invoice_external_id": "i3", "type": "one_time", "amount_in_cents": 3}],
		"customers": [{"external_id": "a"}, {}, {"external_id": "c"}]}`)
	if len(b.LineItems) != 3 || b.LineItems[2].InvoiceExternalID != "i3" || len(b.Customers) != 3 || b.Customers[2].ExternalID != "c" {
		t.Fatalf("records out of order: %+v %+v", b.LineItems, b.Customers)
	}
	checkProblems(t, b.Problems(chartmogul.RecordLineItems, 0), nil, nil)
	checkProblems(t, b.Problems(chartmogul.RecordLineItems, 1), []chartmogul.FieldProblem{fp("amount_in_cents", "amount_in_cents is required")}, nil)
	checkProblems(t, b.Problems(chartmogul.RecordLineItems, 2), nil, nil)
	checkProblems(t, b.Problems(chartmogul.RecordCustomers, 1), []chartmogul.FieldProblem{fp("external_id", "external_id is required")}, nil)
}
