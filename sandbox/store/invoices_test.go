package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
)

// The single-object writes of invoices, line items, transactions and
// import-side subscriptions, on both engines: what they leave in the
// database, and which customers they hand to AfterWrite.

// invPayload is a bulk payload with two customers, a plan and one invoice of
// cus_a with two periods of sub_1, a one-time item and a payment.
const invPayload = `{
 "customers": [{"external_id": "cus_a", "name": "A"}, {"external_id": "cus_b", "name": "B"}],
 "plans": [{"external_id": "gold", "name": "Gold", "interval_count": 1, "interval_unit": "month"}],
 "invoices": [{"external_id": "inv_1", "customer_external_id": "cus_a", "date": "2023-01-01", "currency": "USD"}],
 "line_items": [
  {"invoice_external_id": "inv_1", "external_id": "li_1", "type": "subscription", "subscription_external_id": "sub_1",
   "plan_external_id": "gold", "service_period_start": "2023-01-01", "service_period_end": "2023-02-01", "amount_in_cents": 1000},
  {"invoice_external_id": "inv_1", "external_id": "li_2", "type": "subscription", "subscription_external_id": "sub_1",
   "plan_external_id": "gold", "service_period_start": "2023-02-01", "service_period_end": "2023-03-01", "amount_in_cents": 1000},
  {"invoice_external_id": "inv_1", "type": "one_time", "amount_in_cents": 50}],
 "transactions": [{"invoice_external_id": "inv_1", "external_id": "tr_1", "type": "payment", "result": "successful", "date": "2023-01-02"}]
}`

// invApply writes a batch as the single-object endpoints do, and fails t
// when a record fails.
func invApply(t *testing.T, s *store.Store, f fixture, b *chartmogul.Batch) *bulk.ImportChanges {
	t.Helper()
	b.Validate()
	ch, err := s.ApplyChanges(context.Background(), f.ds.ID, bulk.Keys(b), bulk.Resolver(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Report.Failures) > 0 {
		t.Fatalf("failures: %+v", ch.Report.Failures)
	}
	return ch
}

// invSetup imports invPayload and returns the invoice.
func invSetup(t *testing.T, s *store.Store, f fixture) *chartmogul.Invoice {
	t.Helper()
	b, err := chartmogul.Decode([]byte(invPayload), testNow)
	if err != nil {
		t.Fatal(err)
	}
	ch := invApply(t, s, f, b)
	inv, err := s.Invoice(context.Background(), f.account.ID, ch.NewInvoices[0].Invoice.UUID)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// invTouched records the customers AfterWrite is called with.
type invTouched struct {
	mu  sync.Mutex
	ids []int64
}

func (r *invTouched) hook(s *store.Store) {
	s.AfterWrite = func(ctx context.Context, tx store.Tx, ids []int64) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ids = append(r.ids, ids...)
		return nil
	}
}

// take returns the ids recorded since the last call, sorted.
func (r *invTouched) take() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Sorted(slices.Values(r.ids))
	r.ids = nil
	return out
}

func invSubs(t *testing.T, s *store.Store, f fixture, customerUUID string) []chartmogul.Subscription {
	t.Helper()
	list, _, err := s.CustomerSubscriptions(context.Background(), f.account.ID, customerUUID, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func invCustomer(t *testing.T, s *store.Store, f fixture, ext string) *chartmogul.Customer {
	t.Helper()
	list, _, err := s.ListCustomers(context.Background(), f.account.ID, store.CustomerFilter{ExternalID: ext}, store.Page{Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("customer %s: %v %v", ext, list, err)
	}
	return &list[0]
}

func TestInvoiceStoreMoveAndDelete(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		inv := invSetup(t, s, f)
		a, b := invCustomer(t, s, f, "cus_a"), invCustomer(t, s, f, "cus_b")
		var touched invTouched
		touched.hook(s)

		// Moving the invoice to cus_b moves sub_1 with it.
		changed := *inv
		changed.CustomerExternalID, changed.Currency = "cus_b", "EUR"
		got, err := s.UpdateInvoice(ctx, f.account.ID, &changed)
		if err != nil {
			t.Fatal(err)
		}
		if got.CustomerUUID != b.UUID || got.Currency != "EUR" || len(got.LineItems) != 3 || len(got.Transactions) != 1 {
			t.Fatalf("moved invoice: %+v", got)
		}
		if subs := invSubs(t, s, f, a.UUID); len(subs) != 0 {
			t.Errorf("cus_a keeps %d subscriptions", len(subs))
		}
		subs := invSubs(t, s, f, b.UUID)
		if len(subs) != 1 || subs[0].ExternalID != "sub_1" || got.LineItems[0].SubscriptionUUID != subs[0].UUID || got.LineItems[1].SubscriptionUUID != subs[0].UUID {
			t.Fatalf("cus_b's subscriptions: %+v, items %+v", subs, got.LineItems)
		}
		if ids := touched.take(); !slices.Equal(ids, []int64{a.ID, b.ID}) {
			t.Errorf("AfterWrite got %v, want both customers %v", ids, []int64{a.ID, b.ID})
		}
		changed.CustomerExternalID = "nobody"
		if _, err := s.UpdateInvoice(ctx, f.account.ID, &changed); chartmogul.ErrorCodeOf(err) != chartmogul.EINVALID {
			t.Errorf("unknown customer: %v, want EINVALID", err)
		}

		// Deleting one period keeps the subscription; deleting the last
		// removes it.
		if err := s.DeleteLineItem(ctx, f.account.ID, store.Ref{DataSourceUUID: f.ds.UUID, ExternalID: "li_1"}); err != nil {
			t.Fatal(err)
		}
		if n := len(invSubs(t, s, f, b.UUID)); n != 1 {
			t.Errorf("%d subscriptions after deleting one of two periods, want 1", n)
		}
		if err := s.DeleteLineItem(ctx, f.account.ID, store.Ref{UUID: got.LineItems[1].UUID}); err != nil {
			t.Fatal(err)
		}
		if n := len(invSubs(t, s, f, b.UUID)); n != 0 {
			t.Errorf("a subscription without line items is left")
		}
		if err := s.DeleteLineItem(ctx, f.account.ID, store.Ref{UUID: got.LineItems[1].UUID}); !chartmogul.IsNotFound(err) {
			t.Errorf("deleting again: %v, want ENOTFOUND", err)
		}

		other := newFixture(t, s, "other")
		if err := s.DeleteInvoice(ctx, other.account.ID, store.Ref{UUID: inv.UUID}); !chartmogul.IsNotFound(err) {
			t.Errorf("another account deleted the invoice: %v", err)
		}
		if err := s.DeleteInvoice(ctx, f.account.ID, store.Ref{DataSourceUUID: f.ds.UUID, ExternalID: "inv_1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Invoice(ctx, f.account.ID, inv.UUID); !chartmogul.IsNotFound(err) {
			t.Errorf("deleted invoice found: %v", err)
		}
		if _, err := s.FindTransaction(ctx, f.account.ID, store.Ref{DataSourceUUID: f.ds.UUID, ExternalID: "tr_1"}); !chartmogul.IsNotFound(err) {
			t.Errorf("the invoice's transaction is left: %v", err)
		}
	})
}

func TestInvoiceStoreNewItemContinuesSubscription(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s, "acme")
		inv := invSetup(t, s, f)
		// A strict batch of one line item on the stored invoice, as POST
		// /v1/import/invoices/{uuid}/line_items builds it: the customer is
		// not in the batch, its subscription must still be found.
		b := chartmogul.NewBatch(testNow)
		i, _, err := b.Add(chartmogul.RecordLineItems, []byte(fmt.Sprintf(`{"type":"subscription","subscription_external_id":"sub_1","plan_uuid":%q,
			"service_period_start":"2023-03-01","service_period_end":"2023-04-01","amount_in_cents":1000}`, inv.LineItems[0].PlanUUID)))
		if err != nil {
			t.Fatal(err)
		}
		b.LineItems[i].InvoiceExternalID = inv.ExternalID
		ch := invApply(t, s, f, b)
		if len(ch.NewSubscriptions) != 0 {
			t.Errorf("a second sub_1 was created")
		}
		li, err := s.FindLineItem(context.Background(), f.account.ID, store.Ref{UUID: ch.NewLineItems[0].LineItem.UUID})
		if err != nil {
			t.Fatal(err)
		}
		if li.SubscriptionUUID != inv.LineItems[0].SubscriptionUUID {
			t.Errorf("the new period belongs to %s, want %s", li.SubscriptionUUID, inv.LineItems[0].SubscriptionUUID)
		}
	})
}

func TestInvoiceStoreDisableAndLists(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		inv := invSetup(t, s, f)
		got, err := s.SetInvoiceDisabled(ctx, f.account.ID, store.Ref{UUID: inv.UUID}, true, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Disabled || got.DisabledAt == nil || got.DisabledBy != "acme" || !got.LineItems[2].Disabled || !got.Transactions[0].Disabled {
			t.Fatalf("disabled invoice: %+v", got)
		}
		list, total, err := s.ListInvoices(ctx, f.account.ID, store.InvoiceFilter{}, store.Page{Limit: 10, Total: true})
		if err != nil || len(list) != 0 || total != 0 {
			t.Errorf("a disabled invoice is listed: %d (%d) %v", len(list), total, err)
		}
		list, _, err = s.ListInvoices(ctx, f.account.ID, store.InvoiceFilter{WithDisabled: true}, store.Page{Limit: 10})
		if err != nil || len(list) != 1 || len(list[0].LineItems) != 3 {
			t.Fatalf("with disabled: %+v %v", list, err)
		}
		if _, err := s.SetInvoiceDisabled(ctx, f.account.ID, store.Ref{UUID: inv.UUID}, false, "acme"); err != nil {
			t.Fatal(err)
		}
		// A disabled line item is left out of the invoices listed.
		if _, err := s.SetLineItemDisabled(ctx, f.account.ID, store.Ref{DataSourceUUID: f.ds.UUID, ExternalID: "li_1"}, true, "acme"); err != nil {
			t.Fatal(err)
		}
		list, _, err = s.ListInvoices(ctx, f.account.ID, store.InvoiceFilter{}, store.Page{Limit: 10})
		if err != nil || len(list) != 1 || len(list[0].LineItems) != 2 || list[0].Disabled {
			t.Fatalf("enabled invoice with a disabled item: %+v %v", list, err)
		}
		st, err := s.SetInvoiceStatus(ctx, f.account.ID, store.Ref{DataSourceUUID: f.ds.UUID, ExternalID: "inv_1"}, chartmogul.InvoiceStatusVoided)
		if err != nil || st.Status != chartmogul.InvoiceStatusVoided {
			t.Fatalf("status: %+v %v", st, err)
		}
		if again, _ := s.Invoice(ctx, f.account.ID, inv.UUID); again.Status != chartmogul.InvoiceStatusVoided {
			t.Errorf("status not stored: %q", again.Status)
		}
	})
}

func TestInvoiceStoreOldestFirstPages(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		b, err := chartmogul.Decode([]byte(`{"customers":[{"external_id":"c"}],"invoices":[
			{"external_id":"i1","customer_external_id":"c","date":"2023-01-01","currency":"USD"},
			{"external_id":"i2","customer_external_id":"c","date":"2023-02-01","currency":"USD"},
			{"external_id":"i3","customer_external_id":"c","date":"2023-03-01","currency":"USD"}]}`), testNow)
		if err != nil {
			t.Fatal(err)
		}
		invApply(t, s, f, b)
		var seen []string
		p := store.Page{Limit: 2, OldestFirst: true, Total: true}
		for range 3 {
			list, total, err := s.ListInvoices(ctx, f.account.ID, store.InvoiceFilter{}, p)
			if err != nil {
				t.Fatal(err)
			}
			if p.After == 0 && total != 3 {
				t.Errorf("total %d, want 3", total)
			}
			more := len(list) > p.Limit
			if more {
				list = list[:p.Limit]
			}
			for _, inv := range list {
				seen = append(seen, inv.ExternalID)
			}
			if !more {
				break
			}
			p.After, p.Total = list[len(list)-1].ID, false
		}
		if !slices.Equal(seen, []string{"i1", "i2", "i3"}) {
			t.Errorf("pages oldest first: %v", seen)
		}
	})
}

func TestInvoiceStoreCancellationDates(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		invSetup(t, s, f)
		a := invCustomer(t, s, f, "cus_a")
		sub := invSubs(t, s, f, a.UUID)[0]
		var touched invTouched
		touched.hook(s)
		d1, d2 := time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2023, 2, 15, 12, 30, 0, 123456000, time.UTC)
		if _, err := s.SetCancellationDates(ctx, f.account.ID, sub.UUID, []time.Time{d1}, false); err != nil {
			t.Fatal(err)
		}
		got, err := s.SetCancellationDates(ctx, f.account.ID, sub.UUID, []time.Time{d2, d1}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got.CancellationDates, []time.Time{d2, d1}, time.Time.Equal) {
			t.Errorf("appended dates: %v, want %v sorted and once each", got.CancellationDates, []time.Time{d2, d1})
		}
		if got.CustomerUUID != a.UUID || got.PlanUUID == "" || got.DataSourceUUID != f.ds.UUID {
			t.Errorf("subscription ids: %+v", got)
		}
		if got, err = s.SetCancellationDates(ctx, f.account.ID, sub.UUID, nil, true); err != nil || len(got.CancellationDates) != 0 {
			t.Errorf("cleared: %v %v", got.CancellationDates, err)
		}
		if ids := touched.take(); len(ids) != 3 || ids[0] != a.ID {
			t.Errorf("AfterWrite got %v, want cus_a each time", ids)
		}
		other := newFixture(t, s, "other")
		if _, err := s.SetCancellationDates(ctx, other.account.ID, sub.UUID, nil, true); !chartmogul.IsNotFound(err) {
			t.Errorf("another account's subscription: %v", err)
		}
		if _, _, err := s.CustomerSubscriptions(ctx, other.account.ID, a.UUID, store.Page{Limit: 10}); !chartmogul.IsNotFound(err) {
			t.Errorf("another account's customer: %v", err)
		}
	})
}
