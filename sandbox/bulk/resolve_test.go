package bulk_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

// ds is the data source the tests import into.
var ds = chartmogul.DataSource{ID: 1, UUID: "ds_test", AccountID: 9}

func at(s string) time.Time {
	t, err := chartmogul.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

func atp(s string) *time.Time { t := at(s); return &t }

func i64(n int64) *int64 { return &n }

// stored returns the rows of data source ds as the store loads them for a
// payload that names c1, c2, gold, inv_1, inv_2, li_1, tr_1 and ev_1: customer
// c1 with invoice inv_1 (a subscription item li_1 of sub_1, an id-less
// set-up fee, a payment tr_1 and an id-less refund) and event ev_1; customer
// c2 with an empty invoice inv_2.
func stored() *bulk.ExistingRecords {
	c1 := &chartmogul.Customer{ID: 7, UUID: "cus_7", AccountID: 9, DataSourceID: 1, DataSourceUUID: "ds_test", ExternalID: "c1",
		Name: "Andrew", Email: "andrew@example.com", Company: "ACME", Country: "US", State: "CA", City: "San Francisco"}
	c2 := &chartmogul.Customer{ID: 8, UUID: "cus_8", AccountID: 9, DataSourceID: 1, DataSourceUUID: "ds_test", ExternalID: "c2", Name: "Betty"}
	gold := &chartmogul.Plan{ID: 3, UUID: "pl_gold", AccountID: 9, DataSourceID: 1, ExternalID: "gold", Name: "Gold", IntervalCount: 1, IntervalUnit: "month"}
	inv1 := &chartmogul.Invoice{ID: 11, UUID: "inv_u1", CustomerID: 7, CustomerUUID: "cus_7", CustomerExternalID: "c1", ExternalID: "inv_1",
		Date: at("2023-04-02 21:37:00"), Currency: "USD",
		LineItems: []chartmogul.LineItem{
			{ID: 21, UUID: "li_u1", InvoiceID: 11, InvoiceExternalID: "inv_1", ExternalID: "li_1", Type: "subscription",
				SubscriptionID: 31, SubscriptionUUID: "sub_u1", SubscriptionExternalID: "sub_1", PlanID: 3, PlanUUID: "pl_gold",
				PlanExternalID: "gold", ServicePeriodStart: atp("2023-04-02 21:37:00"), ServicePeriodEnd: atp("2023-05-02 21:37:00"),
				AmountInCents: 1000, Quantity: 1},
			{ID: 22, UUID: "li_u2", InvoiceID: 11, InvoiceExternalID: "inv_1", Type: "one_time", AmountInCents: 500, Quantity: 1,
				Description: "Setup fee"},
		},
		Transactions: []chartmogul.Transaction{
			{ID: 41, UUID: "tr_u1", InvoiceID: 11, InvoiceExternalID: "inv_1", ExternalID: "tr_1", Type: "payment", Result: "successful",
				Date: at("2023-04-03")},
			{ID: 42, UUID: "tr_u2", InvoiceID: 11, InvoiceExternalID: "inv_1", Type: "refund", Result: "successful",
				Date: at("2023-04-04"), AmountInCents: i64(500)},
		}}
	inv2 := &chartmogul.Invoice{ID: 12, UUID: "inv_u2", CustomerID: 8, CustomerUUID: "cus_8", CustomerExternalID: "c2", ExternalID: "inv_2",
		Date: at("2023-05-01"), Currency: "EUR"}
	ev1 := &chartmogul.SubscriptionEvent{ID: 51, AccountID: 9, DataSourceID: 1, DataSourceUUID: "ds_test", CustomerID: 7,
		CustomerExternalID: "c1", ExternalID: "ev_1", EventType: "subscription_cancellation_scheduled", EventDate: at("2023-04-10"),
		EffectiveDate: at("2023-05-02 21:37:00"), SubscriptionExternalID: "sub_1"}
	return &bulk.ExistingRecords{
		Customers:    map[string]*chartmogul.Customer{"c1": c1, "c2": c2},
		Plans:        map[string]*chartmogul.Plan{"gold": gold},
		Invoices:     map[string]*chartmogul.Invoice{"inv_1": inv1, "inv_2": inv2},
		LineItems:    map[string]*chartmogul.LineItem{"li_1": &inv1.LineItems[0]},
		Transactions: map[string]*chartmogul.Transaction{"tr_1": &inv1.Transactions[0]},
		Events:       map[string]*chartmogul.SubscriptionEvent{"ev_1": ev1},
		Subscriptions: map[bulk.SubscriptionKey]*chartmogul.Subscription{
			{CustomerID: 7, ExternalID: "sub_1"}: {ID: 31, UUID: "sub_u1", AccountID: 9, DataSourceID: 1, CustomerID: 7, ExternalID: "sub_1", PlanID: 3},
		},
		EventIDs:    map[string]bool{"51": true},
		EventsByID:  map[string]*chartmogul.SubscriptionEvent{"51": ev1},
		PlansByUUID: map[string]*chartmogul.Plan{"pl_gold": gold},
	}
}

// storedWithout returns stored() as the store loads it for a payload that
// names no customer: store/apply.go loadExisting loads customers by the
// payload's keys only, and the subscriptions of those customers and of the
// customers of the invoices it loaded.
func storedWithout() *bulk.ExistingRecords {
	ex := stored()
	clear(ex.Customers)
	return ex
}

// The records of stored(), as a payload sends them again, unchanged.
const (
	sameCustomer    = `{"external_id": "c1", "name": "Andrew", "email": "andrew@example.com"}`
	samePlan        = `{"external_id": "gold", "name": "Gold", "interval_count": 1, "interval_unit": "month"}`
	sameInvoice     = `{"external_id": "inv_1", "customer_external_id": "c1", "date": "2023-04-02 21:37:00", "currency": "usd"}`
	sameLineItem    = `{"invoice_external_id": "inv_1", "external_id": "li_1", "type": "subscription", "amount_in_cents": 1000, "plan_external_id": "gold", "subscription_external_id": "sub_1", "service_period_start": "2023-04-02 21:37:00", "service_period_end": "2023-05-02T21:37:00Z"%s}`
	sameFee         = `{"invoice_external_id": "inv_1", "type": "one_time", "amount_in_cents": 500, "description": "Setup fee"}`
	sameTransaction = `{"invoice_external_id": "inv_1", "external_id": "tr_1", "type": "payment", "result": "successful", "date": "2023-04-03"}`
	sameRefund      = `{"invoice_external_id": "inv_1", "type": "refund", "result": "successful", "date": "2023-04-04", "amount_in_cents": 500}`
	sameEvent       = `{"external_id": "ev_1", "customer_external_id": "c1", "event_type": "subscription_cancellation_scheduled", "event_date": "2023-04-10", "effective_date": "2023-05-02 21:37:00", "subscription_external_id": "sub_1"}`
)

// lineItem returns sameLineItem with extra members appended.
func lineItem(extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return fmt.Sprintf(sameLineItem, extra)
}

func resolve(t *testing.T, body string, ex *bulk.ExistingRecords) *bulk.ImportChanges {
	t.Helper()
	return bulk.Resolve(decode(t, body), ds, ex)
}

// counts renders the written rows for comparison.
func written(ch *bulk.ImportChanges) string {
	return fmt.Sprintf("customers %d+%d plans %d+%d subscriptions %d invoices %d line_items %d transactions %d events %d touched %d",
		len(ch.NewCustomers), len(ch.UpdatedCustomers), len(ch.NewPlans), len(ch.UpdatedPlans), len(ch.NewSubscriptions),
		len(ch.NewInvoices), len(ch.NewLineItems), len(ch.NewTransactions), len(ch.NewEvents), len(ch.Touched))
}

// checkWritten compares what ch writes, and stops the test when it
// differs: what follows it indexes the written rows.
func checkWritten(t *testing.T, ch *bulk.ImportChanges, want string) {
	t.Helper()
	if got := written(ch); got != want {
		t.Fatalf("written:\n got %s\nwant %s", got, want)
	}
}

func showProblems(ps []chartmogul.RecordProblem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s[%d] %q field %q customer %q: %s\n", p.Type, p.Index, p.ExternalID, p.Field, p.Customer, p.Message)
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

func checkFailures(t *testing.T, ch *bulk.ImportChanges, want ...chartmogul.RecordProblem) {
	t.Helper()
	if !slices.Equal(ch.Report.Failures, want) {
		t.Errorf("failures:\n got\n%s want\n%s", showProblems(ch.Report.Failures), showProblems(want))
	}
}

func checkWarnings(t *testing.T, ch *bulk.ImportChanges, want ...chartmogul.RecordProblem) {
	t.Helper()
	if !slices.Equal(ch.Report.Warnings, want) {
		t.Errorf("warnings:\n got\n%s want\n%s", showProblems(ch.Report.Warnings), showProblems(want))
	}
}

// rp is a RecordProblem.
func rp(t chartmogul.RecordType, index int, externalID, field, customer, message string) chartmogul.RecordProblem {
	return chartmogul.RecordProblem{Type: t, Index: index, ExternalID: externalID, Field: field, Customer: customer, Message: message}
}

// cnt is TypeCounts, for short.
func cnt(received, imported, failed int) chartmogul.TypeCounts {
	return chartmogul.TypeCounts{Received: received, Imported: imported, Failed: failed}
}

// checkCounts compares the report's counts per type; types not named
// must be all zero.
func checkCounts(t *testing.T, rep *chartmogul.ImportReport, want map[chartmogul.RecordType]chartmogul.TypeCounts) {
	t.Helper()
	for _, rt := range chartmogul.RecordTypes {
		c := rep.Counts[rt]
		if c == nil {
			t.Errorf("no counts for %s", rt)
			continue
		}
		if *c != want[rt] {
			t.Errorf("%s counts = %+v, want %+v", rt, *c, want[rt])
		}
	}
	if rep.Plans != want[chartmogul.RecordPlans] {
		t.Errorf("Plans = %+v, want %+v", rep.Plans, want[chartmogul.RecordPlans])
	}
}

// customerCounts renders the per-customer report, in its order.
func customerCounts(rep *chartmogul.ImportReport) string {
	var b strings.Builder
	for _, c := range rep.Customers {
		fmt.Fprintf(&b, "%s %s:", c.ExternalID, c.Outcome())
		for _, rt := range chartmogul.RecordTypes {
			if n := c.Counts[rt]; n != nil {
				fmt.Fprintf(&b, " %s %d/%d/%d", rt, n.Received, n.Imported, n.Failed)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func checkCustomerCounts(t *testing.T, rep *chartmogul.ImportReport, want string) {
	t.Helper()
	if got := customerCounts(rep); got != want {
		t.Errorf("per customer:\n got\n%s want\n%s", got, want)
	}
}

func TestResolveSeed(t *testing.T) {
	b, err := chartmogul.Decode(readSeed(t), now)
	if err != nil {
		t.Fatal(err)
	}
	ch := bulk.Resolve(b, ds, &bulk.ExistingRecords{})
	rep := ch.Report
	checkCounts(t, rep, map[chartmogul.RecordType]chartmogul.TypeCounts{
		chartmogul.RecordCustomers: cnt(1, 1, 0), chartmogul.RecordPlans: cnt(1, 1, 0), chartmogul.RecordInvoices: cnt(3, 3, 0),
		chartmogul.RecordLineItems: cnt(3, 3, 0), chartmogul.RecordTransactions: cnt(4, 3, 1), chartmogul.RecordSubscriptionEvents: cnt(1, 1, 0),
	})
	if rep.Received() != 13 || rep.Imported() != 12 || ch.Records() != 12 {
		t.Errorf("received %d, imported %d, records %d", rep.Received(), rep.Imported(), ch.Records())
	}
	checkCustomerCounts(t, rep, "scus_0001 partially_imported: customers 1/1/0 invoices 3/3/0 line_items 3/3/0 transactions 4/3/1 subscription_events 1/1/0\n")
	if o := rep.Customers[0].Counts[chartmogul.RecordTransactions].Outcome(); o != chartmogul.OutcomePartiallyImported {
		t.Errorf("transactions outcome %s", o)
	}
	if o := rep.Customers[0].Counts[chartmogul.RecordInvoices].Outcome(); o != chartmogul.OutcomeImported {
		t.Errorf("invoices outcome %s", o)
	}
	// §12.1: the plural type fails the transaction alone.
	checkFailures(t, ch, rp(chartmogul.RecordTransactions, 0, "trans_0001", "type", "scus_0001", `type must be one of payment, refund; got "payments"`))
	// §12.7 and §12.2: warnings, not failures.
	checkWarnings(t, ch,
		rp(chartmogul.RecordCustomers, 0, "scus_0001", "email", "scus_0001", `email "[email protected]" is not a valid e-mail address; the customer was kept without it`),
		rp(chartmogul.RecordTransactions, 2, "trans_0003", "date", "scus_0001", `date 2005-05-03T21:37:00Z is before the date of invoice "inv_002" (2023-05-02T21:37:00Z); the transaction was imported as it is`))
	checkWritten(t, ch, "customers 1+0 plans 1+0 subscriptions 1 invoices 3 line_items 3 transactions 3 events 1 touched 1")

	// The links: one subscription sub_0001 for the three items, of the new
	// customer and the new plan; §12.3: the event's sub_001 is not it.
	cus, plan := ch.NewCustomers[0], ch.NewPlans[0]
	sub := ch.NewSubscriptions[0]
	if sub.Customer != cus || sub.Plan != plan || sub.Subscription.ExternalID != "sub_0001" || sub.Subscription.CustomerID != 0 {
		t.Errorf("subscription link %+v", sub)
	}
	for i, l := range ch.NewLineItems {
		if l.Invoice != ch.NewInvoices[i].Invoice || l.Plan != plan || l.Subscription != sub.Subscription {
			t.Errorf("line item %d links to %p %p %p", i, l.Invoice, l.Plan, l.Subscription)
		}
		if l.LineItem.SubscriptionUUID != sub.Subscription.UUID || l.LineItem.PlanUUID != plan.UUID {
			t.Errorf("line item %d: subscription %q, plan %q", i, l.LineItem.SubscriptionUUID, l.LineItem.PlanUUID)
		}
	}
	for _, l := range ch.NewInvoices {
		if l.Customer != cus || l.Invoice.CustomerUUID != cus.UUID || l.Invoice.DataSourceUUID != "ds_test" || l.Invoice.AccountID != 9 {
			t.Errorf("invoice %s: customer %p %q, data source %q", l.Invoice.ExternalID, l.Customer, l.Invoice.CustomerUUID, l.Invoice.DataSourceUUID)
		}
	}
	if ev := ch.NewEvents[0]; ev.Customer != cus || ev.Event.DataSourceID != 1 {
		t.Errorf("event link %+v", ev)
	}
	if ch.Touched[0] != cus {
		t.Errorf("touched %v", ch.Touched)
	}
	for _, id := range []struct{ got, prefix string }{
		{cus.UUID, "cus_"}, {plan.UUID, "pl_"}, {sub.Subscription.UUID, "sub_"}, {ch.NewInvoices[0].Invoice.UUID, "inv_"},
		{ch.NewLineItems[0].LineItem.UUID, "li_"}, {ch.NewTransactions[0].Transaction.UUID, "tr_"},
	} {
		if !strings.HasPrefix(id.got, id.prefix) || len(id.got) != len(id.prefix)+36 {
			t.Errorf("id %q, want %s and a UUID", id.got, id.prefix)
		}
	}
	if cus.DataSourceID != 1 || cus.DataSourceUUID != "ds_test" || cus.AccountID != 9 || plan.DataSourceID != 1 {
		t.Errorf("data source not set: customer %+v, plan %+v", cus, plan)
	}

	// The writer assigns ids, then Link copies them into the rows that
	// refer to them.
	cus.ID, plan.ID, sub.Subscription.ID = 100, 200, 300
	for i, l := range ch.NewInvoices {
		l.Invoice.ID = int64(400 + i)
	}
	ch.Link()
	if sub.Subscription.CustomerID != 100 || sub.Subscription.PlanID != 200 {
		t.Errorf("subscription after Link: %+v", sub.Subscription)
	}
	for i, l := range ch.NewLineItems {
		if l.LineItem.InvoiceID != int64(400+i) || l.LineItem.PlanID != 200 || l.LineItem.SubscriptionID != 300 {
			t.Errorf("line item %d after Link: invoice %d plan %d subscription %d", i, l.LineItem.InvoiceID, l.LineItem.PlanID, l.LineItem.SubscriptionID)
		}
	}
	for _, l := range ch.NewInvoices {
		if l.Invoice.CustomerID != 100 {
			t.Errorf("invoice after Link: customer %d", l.Invoice.CustomerID)
		}
	}
	for _, l := range ch.NewTransactions {
		if l.Transaction.InvoiceID < 400 {
			t.Errorf("transaction after Link: invoice %d", l.Transaction.InvoiceID)
		}
	}
	if ch.NewEvents[0].Event.CustomerID != 100 {
		t.Errorf("event after Link: customer %d", ch.NewEvents[0].Event.CustomerID)
	}
}

func TestResolveEmpty(t *testing.T) {
	for _, body := range []string{`{}`, `{"external_id": "x", "customers": null, "plans": [], "subscription_events": []}`} {
		ch := resolve(t, body, stored())
		checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0")
		checkCounts(t, ch.Report, nil)
		if ch.Records() != 0 || ch.Report.Received() != 0 || ch.Report.Imported() != 0 || len(ch.Report.Customers) != 0 ||
			len(ch.Report.Failures) != 0 || len(ch.Report.Warnings) != 0 || len(ch.Report.Counts) != 6 {
			t.Errorf("%s: report %+v", body, ch.Report)
		}
	}
}

func TestKeys(t *testing.T) {
	b := decode(t, `{
		"customers": [{"external_id": "c1"}, {"external_id": "c1"}, {}],
		"plans": [{"external_id": "gold"}, {"name": "no id"}],
		"invoices": [{"external_id": "inv_1", "customer_external_id": "c2"}, {"external_id": "inv_2", "customer_external_id": "c1"}],
		"line_items": [{"invoice_external_id": "inv_3", "plan_external_id": "silver", "external_id": "li_1"},
			{"invoice_external_id": "inv_1", "plan_uuid": "pl_x"}, {"invoice_external_id": "inv_3", "plan_uuid": "pl_x"}],
		"transactions": [{"invoice_external_id": "inv_4", "external_id": "tr_1"}, {"invoice_external_id": "inv_1"}],
		"subscription_events": [{"customer_external_id": "c3", "plan_external_id": "gold", "external_id": "ev_1", "retracted_event_id": 51},
			{"customer_external_id": "c1", "plan_external_id": "bronze", "retracted_event_id": "52"}]
	}`)
	got := bulk.Keys(b)
	want := bulk.ImportKeys{
		Customers: []string{"c1", "c2", "c3"}, Plans: []string{"gold", "silver", "bronze"},
		Invoices: []string{"inv_1", "inv_2", "inv_3", "inv_4"}, LineItems: []string{"li_1"}, Transactions: []string{"tr_1"},
		Events: []string{"ev_1"}, RetractedEventIDs: []string{"51", "52"}, PlanUUIDs: []string{"pl_x"},
	}
	for _, k := range []struct {
		name      string
		got, want []string
	}{
		{"Customers", got.Customers, want.Customers}, {"Plans", got.Plans, want.Plans}, {"Invoices", got.Invoices, want.Invoices},
		{"LineItems", got.LineItems, want.LineItems}, {"Transactions", got.Transactions, want.Transactions},
		{"Events", got.Events, want.Events}, {"RetractedEventIDs", got.RetractedEventIDs, want.RetractedEventIDs},
		{"PlanUUIDs", got.PlanUUIDs, want.PlanUUIDs},
	} {
		if !slices.Equal(k.got, k.want) {
			t.Errorf("%s = %q, want %q", k.name, k.got, k.want)
		}
	}

	seed, err := chartmogul.Decode(readSeed(t), now)
	if err != nil {
		t.Fatal(err)
	}
	k := bulk.Keys(seed)
	if !slices.Equal(k.Customers, []string{"scus_0001"}) || !slices.Equal(k.Plans, []string{"gold_biannual"}) ||
		!slices.Equal(k.Invoices, []string{"inv_001", "inv_002", "inv_003"}) || len(k.LineItems) != 0 ||
		!slices.Equal(k.Transactions, []string{"trans_0001", "trans_0002", "trans_0003", "trans_0004"}) ||
		!slices.Equal(k.Events, []string{"event_0001"}) || len(k.RetractedEventIDs) != 0 {
		t.Errorf("seed keys %+v", k)
	}
}

// TestResolveExistingReferences checks references to rows the data source
// already has: customers, plans, invoices, subscriptions, events by id.
func TestResolveExistingReferences(t *testing.T) {
	ex := stored()
	c1, gold, inv1 := ex.Customers["c1"], ex.Plans["gold"], ex.Invoices["inv_1"]
	ch := resolve(t, `{
		"invoices": [{"external_id": "inv_9", "customer_external_id": "c1", "date": "2023-06-02", "currency": "USD"}],
		"line_items": [
			{"invoice_external_id": "inv_9", "type": "subscription", "amount_in_cents": 1000, "plan_external_id": "gold", "subscription_external_id": "sub_1", "service_period_start": "2023-06-02", "service_period_end": "2023-07-02"},
			{"invoice_external_id": "inv_9", "type": "subscription", "amount_in_cents": 300, "plan_uuid": "pl_gold", "subscription_external_id": "sub_2", "subscription_set_external_id": "set_1", "service_period_start": "2023-06-02", "service_period_end": "2023-07-02"},
			{"invoice_external_id": "inv_1", "type": "one_time", "amount_in_cents": 700, "description": "Extra seat"}],
		"transactions": [{"invoice_external_id": "inv_1", "type": "payment", "result": "successful", "date": "2023-04-05"}],
		"subscription_events": [{"customer_external_id": "c1", "event_type": "subscription_event_retracted", "event_date": "2023-06-01", "effective_date": "2023-06-01", "retracted_event_id": 51}]
	}`, ex)
	checkFailures(t, ch)
	checkWarnings(t, ch)
	checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 1 invoices 1 line_items 3 transactions 1 events 1 touched 1")
	inv := ch.NewInvoices[0]
	if inv.Customer != c1 || inv.Invoice.CustomerID != 7 || inv.Invoice.CustomerUUID != "cus_7" {
		t.Errorf("invoice link %+v", inv)
	}
	// sub_1 exists: reused. sub_2 is new, of customer 7, plan gold (by uuid), set set_1.
	l0, l1, l2 := ch.NewLineItems[0], ch.NewLineItems[1], ch.NewLineItems[2]
	if l0.Plan != gold || l0.LineItem.PlanID != 3 || l0.LineItem.SubscriptionID != 31 || l0.LineItem.SubscriptionUUID != "sub_u1" || l0.Subscription != ex.Subscriptions[bulk.SubscriptionKey{CustomerID: 7, ExternalID: "sub_1"}] {
		t.Errorf("line item on existing subscription: %+v", l0.LineItem)
	}
	s := ch.NewSubscriptions[0]
	if l1.Plan != gold || l1.Subscription != s.Subscription || s.Customer != c1 || s.Plan != gold ||
		s.Subscription.CustomerID != 7 || s.Subscription.ExternalID != "sub_2" || s.Subscription.SetExternalID != "set_1" ||
		s.Subscription.PlanID != 3 || s.Subscription.DataSourceID != 1 || s.Subscription.AccountID != 9 {
		t.Errorf("new subscription %+v, line item %+v", s.Subscription, l1.LineItem)
	}
	if l2.Invoice != inv1 || l2.Plan != nil || l2.Subscription != nil || l2.LineItem.InvoiceID != 11 {
		t.Errorf("one-time item on the stored invoice: %+v", l2)
	}
	if tr := ch.NewTransactions[0]; tr.Invoice != inv1 || tr.Transaction.InvoiceID != 11 {
		t.Errorf("transaction on the stored invoice: %+v", tr)
	}
	if ev := ch.NewEvents[0]; ev.Customer != c1 || ev.Event.CustomerID != 7 || ev.Retracts != ex.Events["ev_1"] {
		t.Errorf("event %+v", ev)
	}
	if ch.Touched[0] != c1 {
		t.Errorf("touched %v, want c1 once", ch.Touched)
	}
	checkCustomerCounts(t, ch.Report, "c1 imported: invoices 1/1/0 line_items 3/3/0 transactions 1/1/0 subscription_events 1/1/0\n")
}

// TestResolveUnknownReferences checks references to nothing: the record
// fails, or warns where it can do without.
func TestResolveUnknownReferences(t *testing.T) {
	const (
		C, I, L, T, E = chartmogul.RecordCustomers, chartmogul.RecordInvoices, chartmogul.RecordLineItems, chartmogul.RecordTransactions, chartmogul.RecordSubscriptionEvents
	)
	for _, tc := range []struct {
		name, body string
		written    string
		failures   []chartmogul.RecordProblem
		warnings   []chartmogul.RecordProblem
	}{
		{name: "invoice of an unknown customer, and what hangs on it",
			body: `{"invoices": [{"external_id": "inv_9", "customer_external_id": "c9", "date": "2023-01-01", "currency": "USD"}],
				"line_items": [{"invoice_external_id": "inv_9", "external_id": "li_9", "type": "one_time", "amount_in_cents": 1}],
				"transactions": [{"invoice_external_id": "inv_9", "type": "payment", "result": "successful", "date": "2023-01-01"}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0",
			failures: []chartmogul.RecordProblem{
				rp(I, 0, "inv_9", "customer_external_id", "c9", `customer_external_id "c9" names no customer in this import or in data source ds_test`),
				// Reported under the failed invoice's customer.
				rp(L, 0, "li_9", "invoice_external_id", "c9", `invoice "inv_9" was not imported: customer_external_id "c9" names no customer in this import or in data source ds_test`),
				rp(T, 0, "", "invoice_external_id", "c9", `invoice "inv_9" was not imported: customer_external_id "c9" names no customer in this import or in data source ds_test`),
			}},
		{name: "unknown invoice",
			body: `{"line_items": [{"invoice_external_id": "inv_404", "type": "one_time", "amount_in_cents": 1}],
				"transactions": [{"invoice_external_id": "inv_404", "external_id": "tr_9", "type": "payment", "result": "successful", "date": "2023-01-01"}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0",
			failures: []chartmogul.RecordProblem{
				rp(L, 0, "", "invoice_external_id", "", `invoice_external_id "inv_404" names no invoice in this import or in data source ds_test`),
				rp(T, 0, "tr_9", "invoice_external_id", "", `invoice_external_id "inv_404" names no invoice in this import or in data source ds_test`),
			}},
		{name: "unknown plan on a subscription item",
			body:    `{"line_items": [{"invoice_external_id": "inv_2", "type": "subscription", "amount_in_cents": 1, "plan_external_id": "platinum", "subscription_external_id": "s", "service_period_start": "2023-05-01", "service_period_end": "2023-06-01"}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0",
			failures: []chartmogul.RecordProblem{
				rp(L, 0, "", "plan_external_id", "c2", `plan_external_id "platinum" names no plan in this import or in data source ds_test`),
			}},
		{name: "unknown plan uuid",
			body:    `{"line_items": [{"invoice_external_id": "inv_2", "type": "subscription", "amount_in_cents": 1, "plan_uuid": "pl_x", "subscription_external_id": "s", "service_period_start": "2023-05-01", "service_period_end": "2023-06-01"}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0",
			failures: []chartmogul.RecordProblem{
				rp(L, 0, "", "plan_uuid", "c2", `plan_uuid "pl_x" names no plan of data source ds_test`),
			}},
		{name: "unknown plan on a one-time item is a warning",
			body:    `{"line_items": [{"invoice_external_id": "inv_2", "type": "one_time", "amount_in_cents": 1, "plan_external_id": "platinum"}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 1 transactions 0 events 0 touched 1",
			warnings: []chartmogul.RecordProblem{
				rp(L, 0, "", "plan_external_id", "c2", `plan_external_id "platinum" names no plan in this import or in data source ds_test; the one-time line item was imported without a plan`),
			}},
		{name: "event of an unknown customer and plan",
			body:    `{"subscription_events": [{"external_id": "ev_9", "customer_external_id": "c9", "event_type": "subscription_start", "event_date": "2023-01-01", "effective_date": "2023-01-01", "subscription_external_id": "s", "plan_external_id": "platinum", "currency": "USD", "amount_in_cents": 1}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0",
			failures: []chartmogul.RecordProblem{
				rp(E, 0, "ev_9", "customer_external_id", "c9", `customer_external_id "c9" names no customer in this import or in data source ds_test`),
				rp(E, 0, "ev_9", "plan_external_id", "c9", `plan_external_id "platinum" names no plan in this import or in data source ds_test`),
			}},
		{name: "retraction of an unknown event",
			body:    `{"subscription_events": [{"customer_external_id": "c1", "event_type": "subscription_event_retracted", "event_date": "2023-01-01", "effective_date": "2023-01-01", "retracted_event_id": "999"}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0",
			failures: []chartmogul.RecordProblem{
				rp(E, 0, "", "retracted_event_id", "c1", `retracted_event_id "999" names no subscription event of data source ds_test, by id or by external_id; a retraction must name the event it retracts`),
			}},
		{name: "sub_001 is not sub_0001 (§12.3): an event names its own subscription",
			body:    `{"subscription_events": [{"customer_external_id": "c1", "event_type": "subscription_cancelled", "event_date": "2023-01-01", "effective_date": "2023-01-01", "subscription_external_id": "sub_01"}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 1 touched 1"},
		{name: "a customer record without id is not a reference",
			body:    `{"customers": [{"name": "nobody"}], "invoices": [{"external_id": "inv_9", "customer_external_id": "c9", "date": "2023-01-01", "currency": "USD"}]}`,
			written: "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0",
			failures: []chartmogul.RecordProblem{
				rp(C, 0, "", "external_id", "", "external_id is required"),
				rp(I, 0, "inv_9", "customer_external_id", "c9", `customer_external_id "c9" names no customer in this import or in data source ds_test`),
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := resolve(t, tc.body, stored())
			checkFailures(t, ch, tc.failures...)
			checkWarnings(t, ch, tc.warnings...)
			checkWritten(t, ch, tc.written)
		})
	}
}

// TestResolveDependentFailures checks that records that depend on a failed
// one fail too, and say why.
func TestResolveDependentFailures(t *testing.T) {
	long := strings.Repeat("n", 5000)
	ch := resolve(t, `{
		"customers": [{"external_id": "c5", "name": "`+long+`"}],
		"plans": [{"external_id": "weekly", "name": "Weekly", "interval_count": 1, "interval_unit": "week"}],
		"invoices": [{"external_id": "inv_5", "customer_external_id": "c5", "date": "2023-01-01", "currency": "ZZZ"},
			{"external_id": "inv_6", "customer_external_id": "c1", "date": "2023-01-01", "currency": "USD"}],
		"line_items": [{"invoice_external_id": "inv_5", "external_id": "li_5", "type": "one_time", "amount_in_cents": 1},
			{"invoice_external_id": "inv_6", "type": "subscription", "amount_in_cents": 1, "plan_external_id": "weekly", "subscription_external_id": "s", "service_period_start": "2023-01-01", "service_period_end": "2023-01-08"}],
		"transactions": [{"invoice_external_id": "inv_5", "type": "payment", "result": "successful", "date": "2023-01-01"}],
		"subscription_events": [{"customer_external_id": "c5", "event_type": "subscription_cancelled", "event_date": "2023-01-01", "effective_date": "2023-01-01", "subscription_external_id": "s"},
			{"customer_external_id": "c1", "event_type": "subscription_start", "event_date": "2023-01-01", "effective_date": "2023-01-01", "subscription_external_id": "s", "plan_external_id": "weekly", "currency": "USD", "amount_in_cents": 1}]
	}`, stored())
	// A customer is never lost over its contact details: the long name is a
	// warning. The invoice's unknown currency fails it and its records.
	currency := `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "ZZZ"`
	week := `interval_unit must be one of day, month, year; got "week" (a weekly plan is 7 day)`
	checkFailures(t, ch,
		rp(chartmogul.RecordPlans, 0, "weekly", "interval_unit", "", week),
		rp(chartmogul.RecordInvoices, 0, "inv_5", "currency", "c5", currency),
		rp(chartmogul.RecordLineItems, 0, "li_5", "invoice_external_id", "c5", `invoice "inv_5" was not imported: `+currency),
		rp(chartmogul.RecordLineItems, 1, "", "plan_external_id", "c1", `plan "weekly" was not imported: `+week),
		rp(chartmogul.RecordTransactions, 0, "", "invoice_external_id", "c5", `invoice "inv_5" was not imported: `+currency),
		rp(chartmogul.RecordSubscriptionEvents, 1, "", "plan_external_id", "c1", `plan "weekly" was not imported: `+week),
	)
	checkWarnings(t, ch, rp(chartmogul.RecordCustomers, 0, "c5", "name", "c5",
		"name must be at most 4096 characters long; got 5000; the customer was kept without it"))
	checkWritten(t, ch, "customers 1+0 plans 0+0 subscriptions 0 invoices 1 line_items 0 transactions 0 events 1 touched 2")
	checkCounts(t, ch.Report, map[chartmogul.RecordType]chartmogul.TypeCounts{
		chartmogul.RecordCustomers: cnt(1, 1, 0), chartmogul.RecordPlans: cnt(1, 0, 1), chartmogul.RecordInvoices: cnt(2, 1, 1),
		chartmogul.RecordLineItems: cnt(2, 0, 2), chartmogul.RecordTransactions: cnt(1, 0, 1), chartmogul.RecordSubscriptionEvents: cnt(2, 1, 1),
	})
	// Records of a failed invoice count under the invoice's customer.
	checkCustomerCounts(t, ch.Report, "c5 partially_imported: customers 1/1/0 invoices 1/0/1 line_items 1/0/1 transactions 1/0/1 subscription_events 1/1/0\n"+
		"c1 partially_imported: invoices 1/1/0 line_items 1/0/1 subscription_events 1/0/1\n")
	if ch.Report.Plans.Outcome() != chartmogul.OutcomeFailed {
		t.Errorf("plans outcome %s", ch.Report.Plans.Outcome())
	}
}

func TestResolveDuplicates(t *testing.T) {
	ch := resolve(t, `{
		"customers": [{"external_id": "c5"}, {"external_id": "c5", "name": "again"}],
		"plans": [{"external_id": "p5", "name": "P", "interval_count": 1, "interval_unit": "day"}, {"external_id": "p5", "name": "P", "interval_count": 1, "interval_unit": "day"},
			{"name": "No id", "interval_count": 1, "interval_unit": "year"}, {"name": "No id", "interval_count": 1, "interval_unit": "year"}],
		"invoices": [{"external_id": "inv_5", "customer_external_id": "c5", "date": "2023-01-01", "currency": "USD"},
			{"external_id": "inv_5", "customer_external_id": "c5", "date": "2023-01-01", "currency": "USD"}],
		"line_items": [{"invoice_external_id": "inv_5", "external_id": "li_5", "type": "one_time", "amount_in_cents": 1},
			{"invoice_external_id": "inv_5", "external_id": "li_5", "type": "one_time", "amount_in_cents": 1},
			{"invoice_external_id": "inv_5", "type": "one_time", "amount_in_cents": 2},
			{"invoice_external_id": "inv_5", "type": "one_time", "amount_in_cents": 2}],
		"transactions": [{"invoice_external_id": "inv_5", "external_id": "tr_5", "type": "payment", "result": "failed", "date": "2023-01-01"},
			{"invoice_external_id": "inv_5", "external_id": "tr_5", "type": "payment", "result": "successful", "date": "2023-01-02"}],
		"subscription_events": [{"external_id": "ev_5", "customer_external_id": "c5", "event_type": "subscription_cancelled", "event_date": "2023-01-01", "effective_date": "2023-01-01", "subscription_external_id": "s"},
			{"external_id": "ev_5", "customer_external_id": "c5", "event_type": "subscription_cancelled", "event_date": "2023-01-01", "effective_date": "2023-01-01", "subscription_external_id": "s"}]
	}`, stored())
	dup := func(id, array string) string {
		return `external_id "` + id + `" appears more than once in ` + array + ` (first at index 0); each record must appear once per import`
	}
	checkFailures(t, ch,
		rp(chartmogul.RecordCustomers, 1, "c5", "external_id", "c5", dup("c5", "customers")),
		rp(chartmogul.RecordPlans, 1, "p5", "external_id", "", dup("p5", "plans")),
		rp(chartmogul.RecordInvoices, 1, "inv_5", "external_id", "c5", dup("inv_5", "invoices")),
		rp(chartmogul.RecordLineItems, 1, "li_5", "external_id", "c5", dup("li_5", "line_items")),
		rp(chartmogul.RecordTransactions, 1, "tr_5", "external_id", "c5", dup("tr_5", "transactions")),
		rp(chartmogul.RecordSubscriptionEvents, 1, "ev_5", "external_id", "c5", dup("ev_5", "subscription_events")),
	)
	// Id-less line items are not duplicates of each other (two equal seats);
	// plans without external id are all new, each with its bare UUID as id.
	checkWritten(t, ch, "customers 1+0 plans 3+0 subscriptions 0 invoices 1 line_items 3 transactions 1 events 1 touched 1")
	for _, pl := range ch.NewPlans[1:] {
		if pl.ExternalID != strings.TrimPrefix(pl.UUID, "pl_") || pl.ExternalID == "" {
			t.Errorf("plan without external id: uuid %q, external id %q", pl.UUID, pl.ExternalID)
		}
	}
	if ch.NewCustomers[0].Name != "" {
		t.Errorf("the duplicate's fields were applied: %+v", ch.NewCustomers[0])
	}
	checkCustomerCounts(t, ch.Report, "c5 partially_imported: customers 2/1/1 invoices 2/1/1 line_items 4/3/1 transactions 2/1/1 subscription_events 2/1/1\n")

	// The first of two with bad contact details is imported without them;
	// the second is a duplicate still, and the invoice goes to the first.
	ch = resolve(t, `{"customers": [{"external_id": "c5", "email": "x", "country": "Narnia", "zip": "`+strings.Repeat("9", 300)+`"}, {"external_id": "c5"}],
		"invoices": [{"external_id": "inv_5", "customer_external_id": "c5", "date": "2023-01-01", "currency": "USD"}]}`, stored())
	checkFailures(t, ch,
		rp(chartmogul.RecordCustomers, 1, "c5", "external_id", "c5", dup("c5", "customers")),
	)
	if len(ch.Report.Warnings) != 3 || len(ch.NewInvoices) != 1 {
		t.Errorf("warnings %v, new invoices %d", ch.Report.Warnings, len(ch.NewInvoices))
	}
}

func TestResolveCustomerUpdate(t *testing.T) {
	for _, tc := range []struct {
		name, record string
		changed      []string // the fields the warning names; none: no update
		check        func(t *testing.T, c *chartmogul.Customer)
	}{
		{name: "unchanged", record: sameCustomer},
		{name: "only the id", record: `{"external_id": "c1"}`},
		{name: "country and state written differently", record: `{"external_id": "c1", "country": "United States", "state": "California"}`},
		{name: "name", record: `{"external_id": "c1", "name": "Andrew Jones"}`, changed: []string{"name"},
			check: func(t *testing.T, c *chartmogul.Customer) {
				if c.Name != "Andrew Jones" || c.Email != "andrew@example.com" || c.Company != "ACME" || c.City != "San Francisco" ||
					c.Country != "US" || c.State != "CA" || c.ID != 7 || c.UUID != "cus_7" {
					t.Errorf("updated customer %+v", c)
				}
			}},
		{name: "several", record: `{"external_id": "c1", "email": "aj@example.com", "zip": "94103", "state": "NY", "lead_created_at": "2023-01-01", "website_url": "https://acme.example"}`,
			changed: []string{"email", "state", "zip", "website_url", "lead_created_at"},
			check: func(t *testing.T, c *chartmogul.Customer) {
				if c.Email != "aj@example.com" || c.Zip != "94103" || c.State != "NY" || c.Name != "Andrew" ||
					c.LeadCreatedAt == nil || !c.LeadCreatedAt.Equal(at("2023-01-01")) || c.WebsiteURL != "https://acme.example" {
					t.Errorf("updated customer %+v", c)
				}
			}},
		{name: "null clears a field", record: `{"external_id": "c1", "company": null}`, changed: []string{"company"},
			check: func(t *testing.T, c *chartmogul.Customer) {
				if c.Company != "" || c.Name != "Andrew" {
					t.Errorf("updated customer %+v", c)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := stored()
			old := ex.Customers["c1"]
			before := *old
			ch := resolve(t, `{"customers": [`+tc.record+`], "invoices": [{"external_id": "inv_9", "customer_external_id": "c1", "date": "2023-06-01", "currency": "USD"}]}`, ex)
			checkFailures(t, ch)
			checkCounts(t, ch.Report, map[chartmogul.RecordType]chartmogul.TypeCounts{chartmogul.RecordCustomers: cnt(1, 1, 0), chartmogul.RecordInvoices: cnt(1, 1, 0)})
			if !reflect.DeepEqual(*old, before) {
				t.Errorf("the stored customer was changed in place: %+v", *old)
			}
			if len(ch.NewCustomers) != 0 {
				t.Fatalf("new customers %v", ch.NewCustomers)
			}
			if tc.changed == nil {
				checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 0 invoices 1 line_items 0 transactions 0 events 0 touched 1")
				checkWarnings(t, ch)
				if ch.NewInvoices[0].Customer != old || ch.Touched[0] != old {
					t.Errorf("the invoice is not linked to the stored customer")
				}
				return
			}
			checkWritten(t, ch, "customers 0+1 plans 0+0 subscriptions 0 invoices 1 line_items 0 transactions 0 events 0 touched 1")
			upd := ch.UpdatedCustomers[0]
			checkWarnings(t, ch, rp(chartmogul.RecordCustomers, 0, "c1", tc.changed[0], "c1",
				`customer "c1" already existed in this data source and was updated: `+strings.Join(tc.changed, ", ")))
			// Later records of the payload, and later lookups, see the update.
			if ch.NewInvoices[0].Customer != upd || ch.Touched[0] != upd || ex.Customers["c1"] != upd {
				t.Errorf("the invoice, Touched or the existing records do not hold the updated customer")
			}
			tc.check(t, upd)
		})
	}
}

// TestResolveCustomerUpdateKeepsDroppedFields shows that a re-imported
// customer whose contact details were dropped as malformed erases the
// stored, valid ones.
func TestResolveCustomerUpdateKeepsDroppedFields(t *testing.T) {
	ex := stored()
	ch := resolve(t, `{"customers": [{"external_id": "c1", "email": "[email protected]", "country": "Narnia", "state": "Bavaria"}]}`, ex)
	c := ex.Customers["c1"]
	if len(ch.UpdatedCustomers) > 0 {
		c = ch.UpdatedCustomers[0]
	}
	if c.Email != "andrew@example.com" || c.Country != "US" || c.State != "CA" {
		t.Errorf("stored contact details after the import: email %q, country %q, state %q", c.Email, c.Country, c.State)
	}
}

func TestResolvePlanUpdate(t *testing.T) {
	for _, tc := range []struct {
		name, record string
		changed      []string
	}{
		{name: "unchanged", record: samePlan},
		{name: "name", record: `{"external_id": "gold", "name": "Gold Monthly", "interval_count": 1, "interval_unit": "month"}`, changed: []string{"name"}},
		{name: "interval", record: `{"external_id": "gold", "name": "Gold", "interval_count": 12, "interval_unit": "day"}`, changed: []string{"interval_count", "interval_unit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := stored()
			old := ex.Plans["gold"]
			before := *old
			ch := resolve(t, `{"plans": [`+tc.record+`], "line_items": [`+
				`{"invoice_external_id": "inv_2", "type": "subscription", "amount_in_cents": 1, "plan_external_id": "gold", "subscription_external_id": "s", "service_period_start": "2023-05-01", "service_period_end": "2023-06-01"}]}`, ex)
			checkFailures(t, ch)
			checkCounts(t, ch.Report, map[chartmogul.RecordType]chartmogul.TypeCounts{chartmogul.RecordPlans: cnt(1, 1, 0), chartmogul.RecordLineItems: cnt(1, 1, 0)})
			if !reflect.DeepEqual(*old, before) {
				t.Errorf("the stored plan was changed in place: %+v", *old)
			}
			if tc.changed == nil {
				checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 1 invoices 0 line_items 1 transactions 0 events 0 touched 1")
				checkWarnings(t, ch)
				if ch.NewLineItems[0].Plan != old {
					t.Errorf("line item not linked to the stored plan")
				}
				return
			}
			checkWritten(t, ch, "customers 0+0 plans 0+1 subscriptions 1 invoices 0 line_items 1 transactions 0 events 0 touched 1")
			checkWarnings(t, ch, rp(chartmogul.RecordPlans, 0, "gold", tc.changed[0], "",
				`plan "gold" already existed in this data source and was updated: `+strings.Join(tc.changed, ", ")))
			upd := ch.UpdatedPlans[0]
			if upd.ID != 3 || upd.UUID != "pl_gold" || ch.NewLineItems[0].Plan != upd || ex.Plans["gold"] != upd {
				t.Errorf("updated plan %+v not linked", upd)
			}
		})
	}
}

// TestResolveReimportUnchanged checks that records imported again unchanged
// are no-ops: counted as imported, nothing written, nobody touched.
func TestResolveReimportUnchanged(t *testing.T) {
	body := `{"customers": [` + sameCustomer + `], "plans": [` + samePlan + `], "invoices": [` + sameInvoice + `],
		"line_items": [` + lineItem("") + `, ` + sameFee + `], "transactions": [` + sameTransaction + `, ` + sameRefund + `],
		"subscription_events": [` + sameEvent + `]}`
	ch := resolve(t, body, stored())
	checkFailures(t, ch)
	checkWarnings(t, ch)
	checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0")
	if ch.Records() != 0 {
		t.Errorf("Records() = %d", ch.Records())
	}
	checkCounts(t, ch.Report, map[chartmogul.RecordType]chartmogul.TypeCounts{
		chartmogul.RecordCustomers: cnt(1, 1, 0), chartmogul.RecordPlans: cnt(1, 1, 0), chartmogul.RecordInvoices: cnt(1, 1, 0),
		chartmogul.RecordLineItems: cnt(2, 2, 0), chartmogul.RecordTransactions: cnt(2, 2, 0), chartmogul.RecordSubscriptionEvents: cnt(1, 1, 0),
	})
	checkCustomerCounts(t, ch.Report, "c1 imported: customers 1/1/0 invoices 1/1/0 line_items 2/2/0 transactions 2/2/0 subscription_events 1/1/0\n")

	// Without the invoice in the payload, the stored one is found by the
	// line items and transactions themselves (its customer being loaded).
	ch = resolve(t, `{"line_items": [`+lineItem("")+`, `+sameFee+`], "transactions": [`+sameTransaction+`, `+sameRefund+`]}`, stored())
	checkFailures(t, ch)
	checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0")
}

// TestResolveIdlessByContent checks that line items and transactions
// without external id, on a stored invoice, are matched by content: the
// same content is a no-op, different content is a new record.
func TestResolveIdlessByContent(t *testing.T) {
	ex := stored()
	ch := resolve(t, `{"line_items": [
			{"invoice_external_id": "inv_1", "type": "one_time", "amount_in_cents": 500, "description": "Setup fee"},
			{"invoice_external_id": "inv_1", "type": "one_time", "amount_in_cents": 600, "description": "Setup fee"},
			{"invoice_external_id": "inv_1", "type": "one_time", "amount_in_cents": 500, "description": "Setup fee", "quantity": 2}],
		"transactions": [
			{"invoice_external_id": "inv_1", "type": "refund", "result": "successful", "date": "2023-04-04", "amount_in_cents": 500},
			{"invoice_external_id": "inv_1", "type": "refund", "result": "successful", "date": "2023-04-05", "amount_in_cents": 500},
			{"invoice_external_id": "inv_1", "type": "refund", "result": "successful", "date": "2023-04-04"}]}`, ex)
	checkFailures(t, ch)
	checkWarnings(t, ch)
	checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 2 transactions 2 events 0 touched 1")
	if a, q := ch.NewLineItems[0].LineItem.AmountInCents, ch.NewLineItems[1].LineItem.Quantity; a != 600 || q != 2 {
		t.Errorf("new line items: amount %d, quantity %d", a, q)
	}
	if d, amt := ch.NewTransactions[0].Transaction.Date, ch.NewTransactions[1].Transaction.AmountInCents; !d.Equal(at("2023-04-05")) || amt != nil {
		t.Errorf("new transactions: date %s, amount %v", d, amt)
	}
	if ch.Touched[0] != ex.Customers["c1"] {
		t.Errorf("touched %v", ch.Touched)
	}
}

// TestResolveReimportChanged checks that invoices, line items, transactions
// and events imported again with different content fail, naming the field.
func TestResolveReimportChanged(t *testing.T) {
	const (
		I, L, T, E = chartmogul.RecordInvoices, chartmogul.RecordLineItems, chartmogul.RecordTransactions, chartmogul.RecordSubscriptionEvents
	)
	invoice := func(field, was string) string {
		return `an invoice with external_id "inv_1" already exists in this data source with a different ` + field + ` (` + was +
			`); a bulk import does not change invoices: delete the invoice first, or change it with PATCH /v1/invoices/inv_u1`
	}
	li := func(field string) string {
		return `a line item with external_id "li_1" already exists in this data source with a different ` + field +
			`; a bulk import does not change line items: delete it first, or change it with PATCH /v1/line_items/li_u1`
	}
	tr := func(field string) string {
		return `a transaction with external_id "tr_1" already exists in this data source with a different ` + field +
			`; a bulk import does not change transactions: delete it first, or change it with PATCH /v1/transactions/tr_u1`
	}
	ev := func(field string) string {
		return `a subscription event with external_id "ev_1" already exists in this data source with a different ` + field +
			`; a bulk import does not change events: change it with PATCH /v1/subscription_events`
	}
	for _, tc := range []struct {
		name, body string
		failure    chartmogul.RecordProblem
	}{
		{"invoice date", `{"invoices": [{"external_id": "inv_1", "customer_external_id": "c1", "date": "2023-04-03", "currency": "USD"}]}`,
			rp(I, 0, "inv_1", "date", "c1", invoice("date", "2023-04-02T21:37:00Z"))},
		{"invoice currency", `{"invoices": [{"external_id": "inv_1", "customer_external_id": "c1", "date": "2023-04-02 21:37:00", "currency": "EUR"}]}`,
			rp(I, 0, "inv_1", "currency", "c1", invoice("currency", "USD"))},
		{"invoice due date", `{"invoices": [{"external_id": "inv_1", "customer_external_id": "c1", "date": "2023-04-02 21:37:00", "currency": "USD", "due_date": "2023-05-01"}]}`,
			rp(I, 0, "inv_1", "due_date", "c1", invoice("due_date", "none"))},
		{"invoice collection method", `{"invoices": [{"external_id": "inv_1", "customer_external_id": "c1", "date": "2023-04-02 21:37:00", "currency": "USD", "collection_method": "manual"}]}`,
			rp(I, 0, "inv_1", "collection_method", "c1", invoice("collection_method", `""`))},
		{"invoice customer", `{"invoices": [{"external_id": "inv_1", "customer_external_id": "c2", "date": "2023-04-02 21:37:00", "currency": "USD"}]}`,
			rp(I, 0, "inv_1", "customer_external_id", "c2", invoice("customer_external_id", `"c1"`))},
		{"invoice of a new customer", `{"customers": [{"external_id": "c9"}], "invoices": [{"external_id": "inv_1", "customer_external_id": "c9", "date": "2023-04-02 21:37:00", "currency": "USD"}]}`,
			rp(I, 0, "inv_1", "customer_external_id", "c9", invoice("customer_external_id", `"c1"`))},
		{"line item amount", `{"line_items": [` + strings.Replace(lineItem(""), `1000`, `2000`, 1) + `]}`,
			rp(L, 0, "li_1", "amount_in_cents", "c1", li("amount_in_cents"))},
		{"line item quantity", `{"line_items": [` + lineItem(`"quantity": 2`) + `]}`, rp(L, 0, "li_1", "quantity", "c1", li("quantity"))},
		{"line item subscription", `{"line_items": [` + strings.Replace(lineItem(""), `"sub_1"`, `"sub_2"`, 1) + `]}`,
			rp(L, 0, "li_1", "subscription_external_id", "c1", li("subscription_external_id"))},
		{"line item period", `{"line_items": [` + strings.Replace(lineItem(""), `2023-05-02T21:37:00Z`, `2023-05-03`, 1) + `]}`,
			rp(L, 0, "li_1", "service_period_end", "c1", li("service_period_end"))},
		{"line item cancelled", `{"line_items": [` + lineItem(`"cancelled_at": "2023-04-20"`) + `]}`, rp(L, 0, "li_1", "cancelled_at", "c1", li("cancelled_at"))},
		{"line item prorated", `{"line_items": [` + lineItem(`"prorated": true`) + `]}`, rp(L, 0, "li_1", "prorated", "c1", li("prorated"))},
		{"line item discount", `{"line_items": [` + lineItem(`"discount_amount_in_cents": 100`) + `]}`, rp(L, 0, "li_1", "discount_amount_in_cents", "c1", li("discount_amount_in_cents"))},
		{"line item tax", `{"line_items": [` + lineItem(`"tax_amount_in_cents": 100`) + `]}`, rp(L, 0, "li_1", "tax_amount_in_cents", "c1", li("tax_amount_in_cents"))},
		{"line item event order", `{"line_items": [` + lineItem(`"event_order": 1`) + `]}`, rp(L, 0, "li_1", "event_order", "c1", li("event_order"))},
		{"line item on another stored invoice", `{"line_items": [` + strings.Replace(lineItem(""), `"inv_1"`, `"inv_2"`, 1) + `]}`,
			rp(L, 0, "li_1", "invoice_external_id", "c2", li("invoice_external_id"))},
		{"line item on a new invoice", `{"invoices": [{"external_id": "inv_9", "customer_external_id": "c1", "date": "2023-04-02", "currency": "USD"}], "line_items": [` + strings.Replace(lineItem(""), `"inv_1"`, `"inv_9"`, 1) + `]}`,
			rp(L, 0, "li_1", "external_id", "c1", `a line item with external_id "li_1" already exists in this data source, on another invoice`)},
		{"transaction result", `{"transactions": [` + strings.Replace(sameTransaction, `"successful"`, `"failed"`, 1) + `]}`,
			rp(T, 0, "tr_1", "result", "c1", tr("result"))},
		{"transaction amount", `{"transactions": [` + strings.Replace(sameTransaction, `}`, `, "amount_in_cents": 1}`, 1) + `]}`,
			rp(T, 0, "tr_1", "amount_in_cents", "c1", tr("amount_in_cents"))},
		{"transaction date", `{"transactions": [` + strings.Replace(sameTransaction, `2023-04-03`, `2023-04-03 00:00:01`, 1) + `]}`,
			rp(T, 0, "tr_1", "date", "c1", tr("date"))},
		{"transaction on another stored invoice", `{"transactions": [` + strings.Replace(sameTransaction, `"inv_1"`, `"inv_2"`, 1) + `]}`,
			rp(T, 0, "tr_1", "invoice_external_id", "c2", tr("invoice_external_id"))},
		{"transaction on a new invoice", `{"invoices": [{"external_id": "inv_9", "customer_external_id": "c1", "date": "2023-04-02", "currency": "USD"}], "transactions": [` + strings.Replace(sameTransaction, `"inv_1"`, `"inv_9"`, 1) + `]}`,
			rp(T, 0, "tr_1", "external_id", "c1", `a transaction with external_id "tr_1" already exists in this data source, on another invoice`)},
		{"event type", `{"subscription_events": [` + strings.Replace(sameEvent, `subscription_cancellation_scheduled`, `subscription_cancelled`, 1) + `]}`,
			rp(E, 0, "ev_1", "event_type", "c1", ev("event_type"))},
		{"event effective date", `{"subscription_events": [` + strings.Replace(sameEvent, `2023-05-02 21:37:00`, `2023-06-02`, 1) + `]}`,
			rp(E, 0, "ev_1", "effective_date", "c1", ev("effective_date"))},
		{"event customer", `{"subscription_events": [` + strings.Replace(sameEvent, `"c1"`, `"c2"`, 1) + `]}`,
			rp(E, 0, "ev_1", "customer_external_id", "c2", ev("customer_external_id"))},
		{"event quantity", `{"subscription_events": [` + strings.Replace(sameEvent, `}`, `, "quantity": 2}`, 1) + `]}`,
			rp(E, 0, "ev_1", "quantity", "c1", ev("quantity"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := resolve(t, tc.body, stored())
			// Only the failing record's own failure; nothing of it written.
			var failures []chartmogul.RecordProblem
			for _, f := range ch.Report.Failures {
				if f.Type == tc.failure.Type {
					failures = append(failures, f)
				}
			}
			if !slices.Equal(failures, []chartmogul.RecordProblem{tc.failure}) {
				t.Errorf("failures:\n got\n%s want\n%s", showProblems(failures), showProblems([]chartmogul.RecordProblem{tc.failure}))
			}
			if c := ch.Report.Counts[tc.failure.Type]; *c != cnt(1, 0, 1) {
				t.Errorf("%s counts %+v", tc.failure.Type, *c)
			}
			switch tc.failure.Type {
			case I:
				if len(ch.NewInvoices) != 0 {
					t.Error("invoice written")
				}
			case L:
				if len(ch.NewLineItems) != 0 {
					t.Error("line item written")
				}
			case T:
				if len(ch.NewTransactions) != 0 {
					t.Error("transaction written")
				}
			case E:
				if len(ch.NewEvents) != 0 {
					t.Error("event written")
				}
			}
		})
	}
}

// TestResolveLineItemDiffFields shows fields whose change on a re-imported
// line item goes unnoticed.
func TestResolveLineItemDiffFields(t *testing.T) {
	for field, extra := range map[string]string{
		"discount_description":         `"discount_description": "launch offer"`,
		"subscription_set_external_id": `"subscription_set_external_id": "set_9"`,
		"balance_transfer":             `"balance_transfer": true`,
	} {
		ch := resolve(t, `{"line_items": [`+lineItem(extra)+`]}`, stored())
		if len(ch.Report.Failures) != 1 || ch.Report.Failures[0].Field != field {
			t.Errorf("%s changed: failures %v", field, ch.Report.Failures)
		}
	}
}

// TestResolveFailedInvoiceFallsBackToStored shows that the line items and
// transactions of a refused invoice are attached to the stored invoice of
// the same external id.
func TestResolveFailedInvoiceFallsBackToStored(t *testing.T) {
	ch := resolve(t, `{"invoices": [{"external_id": "inv_1", "customer_external_id": "c1", "date": "2023-04-03", "currency": "USD"}],
		"line_items": [{"invoice_external_id": "inv_1", "type": "one_time", "amount_in_cents": 700}],
		"transactions": [{"invoice_external_id": "inv_1", "type": "payment", "result": "successful", "date": "2023-04-05"}]}`, stored())
	cause := `invoice "inv_1" was not imported: an invoice with external_id "inv_1" already exists in this data source with a different date (2023-04-02T21:37:00Z); a bulk import does not change invoices: delete the invoice first, or change it with PATCH /v1/invoices/inv_u1`
	checkFailures(t, ch,
		rp(chartmogul.RecordInvoices, 0, "inv_1", "date", "c1", `an invoice with external_id "inv_1" already exists in this data source with a different date (2023-04-02T21:37:00Z); a bulk import does not change invoices: delete the invoice first, or change it with PATCH /v1/invoices/inv_u1`),
		rp(chartmogul.RecordLineItems, 0, "", "invoice_external_id", "c1", cause),
		rp(chartmogul.RecordTransactions, 0, "", "invoice_external_id", "c1", cause))
	checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0")
}

func TestResolveSubscriptions(t *testing.T) {
	item := func(invoice, customerSub string) string {
		return `{"invoice_external_id": "` + invoice + `", "type": "subscription", "amount_in_cents": 1, "plan_external_id": "gold", "subscription_external_id": "` +
			customerSub + `", "service_period_start": "2023-06-01", "service_period_end": "2023-07-01"}`
	}
	ex := stored()
	ch := resolve(t, `{"customers": [{"external_id": "c5"}, {"external_id": "c6"}],
		"invoices": [{"external_id": "inv_5", "customer_external_id": "c5", "date": "2023-06-01", "currency": "USD"},
			{"external_id": "inv_6", "customer_external_id": "c5", "date": "2023-07-01", "currency": "USD"},
			{"external_id": "inv_7", "customer_external_id": "c6", "date": "2023-06-01", "currency": "USD"},
			{"external_id": "inv_8", "customer_external_id": "c1", "date": "2023-06-01", "currency": "USD"}],
		"line_items": [`+item("inv_5", "s")+`, `+item("inv_6", "s")+`, `+item("inv_5", "t")+`, `+item("inv_7", "s")+`,
			`+item("inv_8", "sub_1")+`, `+item("inv_8", "sub_3")+`, `+item("inv_1", "sub_3")+`]}`, ex)
	checkFailures(t, ch)
	// (c5, s), (c5, t), (c6, s), (c1, sub_3); (c1, sub_1) exists.
	checkWritten(t, ch, "customers 2+0 plans 0+0 subscriptions 4 invoices 4 line_items 7 transactions 0 events 0 touched 3")
	got := map[string]int{}
	for _, s := range ch.NewSubscriptions {
		got[s.Customer.ExternalID+"/"+s.Subscription.ExternalID]++
	}
	if want := map[string]int{"c5/s": 1, "c5/t": 1, "c6/s": 1, "c1/sub_3": 1}; !maps.Equal(got, want) {
		t.Errorf("new subscriptions %v, want %v", got, want)
	}
	li := ch.NewLineItems
	if li[0].Subscription != li[1].Subscription || li[0].Subscription == li[2].Subscription || li[0].Subscription == li[3].Subscription {
		t.Error("line items of one subscription do not share it, or of two share one")
	}
	if li[4].LineItem.SubscriptionUUID != "sub_u1" || li[5].Subscription != li[6].Subscription {
		t.Errorf("c1's subscriptions: %q, %p %p", li[4].LineItem.SubscriptionUUID, li[5].Subscription, li[6].Subscription)
	}
	if ch.Touched[0].ExternalID != "c5" || ch.Touched[1].ExternalID != "c6" || ch.Touched[2] != ex.Customers["c1"] {
		t.Errorf("touched %v", ch.Touched)
	}
}

// TestResolveSubscriptionOfStoredInvoice shows that line items on a stored
// invoice whose customer the payload does not name create one subscription
// and touch the customer once per line item.
func TestResolveSubscriptionOfStoredInvoice(t *testing.T) {
	item := `{"invoice_external_id": "inv_1", "type": "subscription", "amount_in_cents": %d, "plan_external_id": "gold", "subscription_external_id": "sub_9", "service_period_start": "2023-06-01", "service_period_end": "2023-07-01"}`
	ch := resolve(t, `{"line_items": [`+fmt.Sprintf(item, 100)+`, `+fmt.Sprintf(item, 200)+`]}`, storedWithout())
	checkFailures(t, ch)
	checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 1 invoices 0 line_items 2 transactions 0 events 0 touched 1")
}

// TestResolveUnchangedLineItemOfUnloadedCustomer checks that re-importing a
// line item unchanged, in a payload that names neither its invoice's
// customer nor the invoice, writes nothing. (It wrote a duplicate
// subscription until the store began to load the subscriptions of the
// customers of loaded invoices: Resolve still picks the subscription before
// it knows the line item is a no-op, and relies on that.)
func TestResolveUnchangedLineItemOfUnloadedCustomer(t *testing.T) {
	ch := resolve(t, `{"line_items": [`+lineItem("")+`]}`, storedWithout())
	checkFailures(t, ch)
	checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0")
}

// TestResolveRefusedLineItemWritesNoSubscription shows the subscription a
// refused line item leaves behind.
func TestResolveRefusedLineItemWritesNoSubscription(t *testing.T) {
	ch := resolve(t, `{"line_items": [`+strings.Replace(lineItem(""), `"sub_1"`, `"sub_2"`, 1)+`]}`, stored())
	if len(ch.Report.Failures) != 1 {
		t.Fatalf("failures %v", ch.Report.Failures)
	}
	checkWritten(t, ch, "customers 0+0 plans 0+0 subscriptions 0 invoices 0 line_items 0 transactions 0 events 0 touched 0")
}

// TestResolveRetractions covers which event a retraction retracts; the
// rules are in bulk/retract.go.
func TestResolveRetractions(t *testing.T) {
	event := func(extID, eventType, sub, retracted string) string {
		s := `{"customer_external_id": "c1", "event_type": "` + eventType + `", "event_date": "2023-06-01", "effective_date": "2023-07-01", "subscription_external_id": "` + sub + `"`
		if extID != "" {
			s += `, "external_id": "` + extID + `"`
		}
		if retracted != "" {
			s += `, "retracted_event_id": "` + retracted + `"`
		}
		return s + "}"
	}
	for _, tc := range []struct {
		name    string
		events  []string
		retract string // the external id or "stored:<external id>" of the event the last one retracts; "" for a failure
		failure string
	}{
		{name: "stored event by id", events: []string{event("", "subscription_event_retracted", "", "51")}, retract: "stored:ev_1"},
		{name: "stored event by external id", events: []string{event("", "subscription_event_retracted", "", "ev_1")}, retract: "stored:ev_1"},
		{name: "event of the same payload by external id", events: []string{
			event("ev_a", "subscription_cancellation_scheduled", "sub_x", ""),
			event("", "subscription_event_retracted", "", "ev_a")}, retract: "ev_a"},
		{name: "type-specific retraction of a scheduled event of the payload", events: []string{
			event("ev_a", "subscription_cancellation_scheduled", "sub_x", ""),
			event("ev_b", "subscription_cancellation_scheduled", "sub_y", ""),
			event("", "scheduled_subscription_cancellation_retracted", "sub_x", "")}, retract: "ev_a"},
		{name: "type-specific retraction with nothing pending", events: []string{
			event("", "scheduled_subscription_cancellation_retracted", "sub_z", "")},
			failure: `there is no pending subscription_cancellation_scheduled event of subscription "sub_z" of customer "c1" in data source ds_test for this scheduled_subscription_cancellation_retracted to retract`},
		{name: "a retraction of a retraction", events: []string{
			event("ev_r", "subscription_event_retracted", "", "ev_1"),
			event("", "subscription_event_retracted", "", "ev_r")},
			failure: `retracted_event_id "ev_r" names a subscription_event_retracted event; to undo a retraction, delete or disable it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := stored()
			ch := resolve(t, `{"subscription_events": [`+strings.Join(tc.events, ", ")+`]}`, ex)
			last := len(tc.events) - 1
			if tc.failure != "" {
				if n := len(ch.Report.Failures); n != 1 || ch.Report.Failures[0].Index != last || ch.Report.Failures[0].Message != tc.failure {
					t.Fatalf("failures:\n%s want the last event to fail with %s", showProblems(ch.Report.Failures), tc.failure)
				}
				return
			}
			checkFailures(t, ch)
			if len(ch.NewEvents) != len(tc.events) {
				t.Fatalf("%d events written", len(ch.NewEvents))
			}
			got := ch.NewEvents[last].Retracts
			var want *chartmogul.SubscriptionEvent
			if id, ok := strings.CutPrefix(tc.retract, "stored:"); ok {
				want = ex.Events[id]
			} else {
				for _, l := range ch.NewEvents {
					if l.Event.ExternalID == tc.retract {
						want = l.Event
					}
				}
			}
			if got == nil || got != want {
				t.Errorf("retracts %+v, want %+v", got, want)
			}
		})
	}
}

func TestResolveTouched(t *testing.T) {
	ex := stored()
	ch := resolve(t, `{
		"customers": [{"external_id": "c5"}, `+sameCustomer+`, {"external_id": "c2", "name": "Betty B."}, {"external_id": "c6"}],
		"invoices": [{"external_id": "inv_6", "customer_external_id": "c6", "date": "2023-01-01", "currency": "USD"}],
		"transactions": [{"invoice_external_id": "inv_1", "type": "payment", "result": "failed", "date": "2023-04-06"},
			{"invoice_external_id": "inv_6", "type": "payment", "result": "successful", "date": "2023-01-01"}],
		"subscription_events": [{"customer_external_id": "c6", "event_type": "subscription_cancelled", "event_date": "2023-01-01", "effective_date": "2023-01-01", "subscription_external_id": "s"}]
	}`, ex)
	checkFailures(t, ch)
	// New c5; updated c2; unchanged c1 is touched by its new transaction; c6 once for all its records.
	var got []string
	for _, c := range ch.Touched {
		got = append(got, c.ExternalID)
	}
	if want := []string{"c5", "c2", "c6", "c1"}; !slices.Equal(got, want) {
		t.Errorf("touched %v, want %v", got, want)
	}
	if ch.Touched[1] != ch.UpdatedCustomers[0] || ch.Touched[3] != ex.Customers["c1"] {
		t.Error("touched holds other records than the ones written")
	}
	// Per customer, in order of first appearance.
	checkCustomerCounts(t, ch.Report, "c5 imported: customers 1/1/0\n"+
		"c1 imported: customers 1/1/0 transactions 1/1/0\n"+
		"c2 imported: customers 1/1/0\n"+
		"c6 imported: customers 1/1/0 invoices 1/1/0 transactions 1/1/0 subscription_events 1/1/0\n")
}

func TestOutcomes(t *testing.T) {
	for _, c := range []struct {
		counts chartmogul.TypeCounts
		want   chartmogul.Outcome
	}{
		{cnt(0, 0, 0), chartmogul.OutcomeImported},
		{cnt(3, 3, 0), chartmogul.OutcomeImported},
		{cnt(3, 0, 3), chartmogul.OutcomeFailed},
		{cnt(3, 2, 1), chartmogul.OutcomePartiallyImported},
	} {
		if got := c.counts.Outcome(); got != c.want {
			t.Errorf("%+v.Outcome() = %s, want %s", c.counts, got, c.want)
		}
	}
	cr := chartmogul.CustomerReport{ExternalID: "c", Counts: map[chartmogul.RecordType]*chartmogul.TypeCounts{
		chartmogul.RecordCustomers: {Received: 1, Imported: 0, Failed: 1}, chartmogul.RecordInvoices: {Received: 2, Imported: 2},
	}}
	if got := cr.Outcome(); got != chartmogul.OutcomePartiallyImported {
		t.Errorf("customer outcome %s", got)
	}
	if !chartmogul.ImportCompleted.Finished() || !chartmogul.ImportFailed.Finished() || chartmogul.ImportQueued.Finished() || chartmogul.ImportProcessing.Finished() {
		t.Error("Finished")
	}
}
