package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
)

// cusApply writes a bulk payload into a data source through ApplyChanges and
// fails the test on any failed record.
func cusApply(t *testing.T, s *store.Store, ds *chartmogul.DataSource, payload string) *bulk.ImportChanges {
	t.Helper()
	b, err := chartmogul.Decode([]byte(payload), testNow)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.ApplyChanges(context.Background(), ds.ID, bulk.Keys(b), bulk.Resolver(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Report.Failures) > 0 {
		t.Fatalf("records failed: %+v", ch.Report.Failures)
	}
	return ch
}

// cusPayload gives each customer named a plan-backed invoice (line item
// and transaction) on subscription sub, and an event; n keeps the invoice's
// records' external ids apart.
func cusPayload(customer, n, sub string) string {
	return `{"customers":[{"external_id":"` + customer + `","name":"` + customer + `"}],
	"plans":[{"external_id":"gold","name":"Gold","interval_count":1,"interval_unit":"month"}],
	"invoices":[{"external_id":"inv_` + n + `","customer_external_id":"` + customer + `","date":"2025-01-01","currency":"USD"}],
	"line_items":[{"invoice_external_id":"inv_` + n + `","external_id":"li_` + n + `","type":"subscription","subscription_external_id":"` + sub + `",
		"plan_external_id":"gold","service_period_start":"2025-01-01","service_period_end":"2025-02-01","amount_in_cents":1000}],
	"transactions":[{"invoice_external_id":"inv_` + n + `","external_id":"tr_` + n + `","type":"payment","result":"successful","date":"2025-01-02"}],
	"subscription_events":[{"external_id":"ev_` + n + `","customer_external_id":"` + customer + `","event_type":"subscription_start_scheduled",
		"event_date":"2025-01-01","effective_date":"2025-03-01","subscription_external_id":"later_` + n + `","plan_external_id":"gold",
		"currency":"USD","amount_in_cents":1000,"quantity":1}]}`
}

// cusNew counts the rows changes create.
func cusNew(ch *bulk.ImportChanges) int {
	return len(ch.NewCustomers) + len(ch.NewPlans) + len(ch.NewSubscriptions) + len(ch.NewInvoices) + len(ch.NewLineItems) +
		len(ch.NewTransactions) + len(ch.NewEvents)
}

func cusByExternalID(t *testing.T, s *store.Store, f fixture, externalID string) *chartmogul.Customer {
	t.Helper()
	list, _, err := s.ListCustomers(context.Background(), f.account.ID, store.CustomerFilter{ExternalID: externalID}, store.Page{Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("customers with external id %s: %v, %v", externalID, list, err)
	}
	return &list[0]
}

func TestDeleteCustomerDeletesItsRecords(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		other := newFixture(t, s, "rival")
		cusApply(t, s, f.ds, cusPayload("c1", "1", "sub"))
		cusApply(t, s, f.ds, cusPayload("c2", "2", "sub"))
		c1 := cusByExternalID(t, s, f, "c1")
		if err := s.DeleteCustomer(ctx, other.account.ID, c1.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("another account deleted the customer: %v", err)
		}
		if err := s.DeleteCustomer(ctx, f.account.ID, c1.UUID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Customer(ctx, f.account.ID, c1.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("deleted customer found: %v", err)
		}
		if err := s.DeleteCustomer(ctx, f.account.ID, c1.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("deleting twice: %v, want not found", err)
		}
		// Every record of c1 is gone: importing them again creates each
		// anew (the plan, shared, stays). c2's records are untouched.
		ch := cusApply(t, s, f.ds, cusPayload("c1", "1", "sub"))
		if len(ch.NewCustomers) != 1 || len(ch.NewSubscriptions) != 1 || len(ch.NewInvoices) != 1 || len(ch.NewLineItems) != 1 ||
			len(ch.NewTransactions) != 1 || len(ch.NewEvents) != 1 || len(ch.NewPlans) != 0 {
			t.Fatalf("re-import after delete: %d customers, %d subscriptions, %d invoices, %d line items, %d transactions, %d events, %d plans are new",
				len(ch.NewCustomers), len(ch.NewSubscriptions), len(ch.NewInvoices), len(ch.NewLineItems), len(ch.NewTransactions), len(ch.NewEvents), len(ch.NewPlans))
		}
		if ch := cusApply(t, s, f.ds, cusPayload("c2", "2", "sub")); cusNew(ch) != 0 {
			t.Fatalf("c2's records changed: %d new rows", cusNew(ch))
		}
	})
}

func TestMergeCustomersWithinDataSource(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		a := cusApply(t, s, f.ds, cusPayload("a", "1", "shared"))
		b := cusApply(t, s, f.ds, cusPayload("b", "2", "shared"))
		from, into := a.NewCustomers[0], b.NewCustomers[0]
		if err := s.MergeCustomers(ctx, f.account.ID, store.CustomerRef{UUID: from.UUID}, store.CustomerRef{DataSourceUUID: f.ds.UUID, ExternalID: "b"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Customer(ctx, f.account.ID, from.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("merged customer still found: %v", err)
		}
		got, err := s.Customer(ctx, f.account.ID, into.UUID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.ExternalIDs, []string{"b", "a"}) || !slices.Equal(got.DataSourceUUIDs, []string{f.ds.UUID, f.ds.UUID}) ||
			!slices.Contains(got.Tags, store.MergedTag) {
			t.Fatalf("survivor: identities %v %v, tags %v", got.ExternalIDs, got.DataSourceUUIDs, got.Tags)
		}
		// Both invoices are the survivor's, and the subscription both had is
		// one: the merged customer's line item moved onto the survivor's.
		for _, uuid := range []string{a.NewInvoices[0].Invoice.UUID, b.NewInvoices[0].Invoice.UUID} {
			inv, err := s.Invoice(ctx, f.account.ID, uuid)
			if err != nil {
				t.Fatal(err)
			}
			if inv.CustomerUUID != into.UUID || inv.LineItems[0].SubscriptionUUID != b.NewSubscriptions[0].Subscription.UUID {
				t.Fatalf("invoice %s: customer %s, subscription %s; want %s, %s", inv.ExternalID, inv.CustomerUUID,
					inv.LineItems[0].SubscriptionUUID, into.UUID, b.NewSubscriptions[0].Subscription.UUID)
			}
		}
		// The merged external id names the survivor: re-importing the
		// merged customer's records matches them all.
		if ch := cusApply(t, s, f.ds, cusPayload("a", "1", "shared")); cusNew(ch) != 0 {
			t.Fatalf("re-import after merge created %d rows", cusNew(ch))
		}
		// Named by its old identity, the merged customer is the survivor.
		err = s.MergeCustomers(ctx, f.account.ID, store.CustomerRef{DataSourceUUID: f.ds.UUID, ExternalID: "a"}, store.CustomerRef{UUID: into.UUID})
		if chartmogul.ErrorCodeOf(err) != chartmogul.EINVALID {
			t.Fatalf("merging a customer into itself: %v, want invalid", err)
		}
		err = s.UnmergeCustomer(ctx, f.account.ID, into.UUID, f.ds.UUID, "a")
		if chartmogul.ErrorCodeOf(err) != chartmogul.EINVALID || !strings.Contains(err.Error(), "cannot be unmerged") {
			t.Fatalf("unmerging within a data source: %v, want invalid", err)
		}
		// Deleting the survivor deletes the alias with it.
		if err := s.DeleteCustomer(ctx, f.account.ID, into.UUID); err != nil {
			t.Fatal(err)
		}
		if ch := cusApply(t, s, f.ds, cusPayload("a", "1", "shared")); len(ch.NewCustomers) != 1 || len(ch.NewInvoices) != 1 {
			t.Fatalf("after deleting the survivor, %d customers and %d invoices are new; want 1 each", len(ch.NewCustomers), len(ch.NewInvoices))
		}
	})
}

func TestMergeCustomersAcrossDataSources(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		ds2, err := s.CreateDataSource(ctx, f.account.ID, "Second", "")
		if err != nil {
			t.Fatal(err)
		}
		other := newFixture(t, s, "rival")
		into := cusApply(t, s, f.ds, cusPayload("main", "1", "s")).NewCustomers[0]
		linked := cusApply(t, s, ds2, cusPayload("second", "2", "s"))
		from := linked.NewCustomers[0]

		if err := s.MergeCustomers(ctx, other.account.ID, store.CustomerRef{UUID: from.UUID}, store.CustomerRef{UUID: into.UUID}); !chartmogul.IsNotFound(err) {
			t.Fatalf("another account merged the customers: %v", err)
		}
		if err := s.MergeCustomers(ctx, f.account.ID, store.CustomerRef{UUID: from.UUID}, store.CustomerRef{UUID: into.UUID}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Customer(ctx, f.account.ID, into.UUID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.ExternalIDs, []string{"main", "second"}) || !slices.Equal(got.DataSourceUUIDs, []string{f.ds.UUID, ds2.UUID}) {
			t.Fatalf("survivor's identities: %v %v", got.ExternalIDs, got.DataSourceUUIDs)
		}
		if _, err := s.Customer(ctx, f.account.ID, from.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("linked customer still shown: %v", err)
		}
		list, total, err := s.ListCustomers(ctx, f.account.ID, store.CustomerFilter{DataSourceUUID: ds2.UUID}, store.Page{Limit: 10, Total: true})
		if err != nil || total != 1 || len(list) != 1 || list[0].UUID != into.UUID {
			t.Fatalf("data source two lists %v (%d), %v; want the survivor", list, total, err)
		}
		// The linked customer keeps its records: its billing system goes on
		// naming it, and re-sending them matches them.
		if ch := cusApply(t, s, ds2, cusPayload("second", "2", "s")); cusNew(ch) != 0 {
			t.Fatalf("re-import into the linked customer's data source created %d rows", cusNew(ch))
		}
		inv, err := s.Invoice(ctx, f.account.ID, linked.NewInvoices[0].Invoice.UUID)
		if err != nil || inv.CustomerUUID != from.UUID {
			t.Fatalf("linked customer's invoice: %v, %v", inv, err)
		}

		// Deleting the survivor leaves the linked customer on its own.
		if err := s.DeleteCustomer(ctx, f.account.ID, into.UUID); err != nil {
			t.Fatal(err)
		}
		back, err := s.Customer(ctx, f.account.ID, from.UUID)
		if err != nil || !slices.Equal(back.ExternalIDs, []string{"second"}) {
			t.Fatalf("linked customer after the survivor's deletion: %v, %v", back, err)
		}
		if _, err := s.Invoice(ctx, f.account.ID, linked.NewInvoices[0].Invoice.UUID); err != nil {
			t.Fatalf("linked customer's invoice after the survivor's deletion: %v", err)
		}
	})
}

func TestDeletePlan(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		other := newFixture(t, s, "rival")
		used := cusApply(t, s, f.ds, cusPayload("c", "1", "s")).NewPlans[0]
		free := cusApply(t, s, f.ds, `{"plans":[{"external_id":"free","name":"Free","interval_count":1,"interval_unit":"year"}]}`).NewPlans[0]
		err := s.DeletePlan(ctx, f.account.ID, used.UUID)
		if chartmogul.ErrorCodeOf(err) != chartmogul.EINVALID || !strings.Contains(err.Error(), "line items") {
			t.Fatalf("deleting a plan line items name: %v, want invalid", err)
		}
		if err := s.DeletePlan(ctx, other.account.ID, free.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("another account deleted the plan: %v", err)
		}
		if err := s.DeletePlan(ctx, f.account.ID, free.UUID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Plan(ctx, f.account.ID, free.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("deleted plan found: %v", err)
		}
		if _, err := s.Plan(ctx, f.account.ID, used.UUID); err != nil {
			t.Fatalf("refused deletion deleted the plan: %v", err)
		}
	})
}

func TestEmptyDataSource(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		other := newFixture(t, s, "rival")
		cusApply(t, s, f.ds, cusPayload("c", "1", "s"))
		if err := s.EmptyDataSource(ctx, other.account.ID, f.ds.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("another account emptied the data source: %v", err)
		}
		if err := s.EmptyDataSource(ctx, f.account.ID, f.ds.UUID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DataSource(ctx, f.account.ID, f.ds.UUID); err != nil {
			t.Fatalf("emptied data source is gone: %v", err)
		}
		ch := cusApply(t, s, f.ds, cusPayload("c", "1", "s"))
		if len(ch.NewCustomers) != 1 || len(ch.NewPlans) != 1 || len(ch.NewInvoices) != 1 || len(ch.NewEvents) != 1 {
			t.Fatalf("re-import after emptying: %d new rows, want all", cusNew(ch))
		}
	})
}
