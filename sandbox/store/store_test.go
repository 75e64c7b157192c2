package store_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// The conformance suite: every test runs on a fresh SQLite file and, when a
// PostgreSQL server is configured, on a fresh PostgreSQL schema. Engine
// differences are the store's business; the behaviour must be the same.

func engines(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := store.Open(ctx, db.URL, store.Options{})
			if err != nil {
				t.Fatalf("open %s: %v", db.Engine, err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

// fixture is an account with a data source.
type fixture struct {
	account *chartmogul.Account
	ds      *chartmogul.DataSource
}

func newFixture(t *testing.T, s *store.Store, account string) fixture {
	t.Helper()
	ctx := context.Background()
	a, err := s.EnsureAccount(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.CreateDataSource(ctx, a.ID, "Billing", "")
	if err != nil {
		t.Fatal(err)
	}
	return fixture{account: a, ds: ds}
}

func seed(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/seed-bulk-import.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// applyAll applies every unfinished import of the fixture's data source, as
// the importer does, and returns the last report.
func applyAll(t *testing.T, s *store.Store, f fixture) *chartmogul.ImportReport {
	t.Helper()
	ctx := context.Background()
	var last *chartmogul.ImportReport
	for {
		imp, err := s.NextImport(ctx, f.ds.ID, 1<<62)
		if chartmogul.IsNotFound(err) {
			return last
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := store.Payload(imp)
		if err != nil {
			t.Fatal(err)
		}
		b, err := chartmogul.Decode(body, testNow)
		if err != nil {
			t.Fatal(err)
		}
		rep, applied, err := s.ApplyImport(ctx, imp, bulk.Keys(b), bulk.Resolver(b))
		if err != nil {
			t.Fatal(err)
		}
		if !applied {
			t.Fatalf("import %s was not applied", imp.UUID)
		}
		last = rep
	}
}

func TestKeys(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, err := s.EnsureAccount(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		key, err := s.CreateKey(ctx, a.ID, chartmogul.AccessReadWrite)
		if err != nil {
			t.Fatal(err)
		}
		got, access, err := s.Authenticate(ctx, key)
		if err != nil || got.ID != a.ID || access != chartmogul.AccessReadWrite {
			t.Fatalf("Authenticate(new key) = %v, %v, %v", got, access, err)
		}
		if _, _, err := s.Authenticate(ctx, key+"x"); chartmogul.ErrorCodeOf(err) != chartmogul.EUNAUTHORIZED {
			t.Fatalf("unknown key: err = %v, want unauthorized", err)
		}
		list, err := s.Keys(ctx)
		if err != nil || len(list) != 1 || list[0].Prefix != key[:7] {
			t.Fatalf("Keys = %+v, %v", list, err)
		}
		if err := s.RevokeKey(ctx, list[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Authenticate(ctx, key); chartmogul.ErrorCodeOf(err) != chartmogul.EUNAUTHORIZED {
			t.Fatalf("revoked key: err = %v, want unauthorized", err)
		}
		// Installing a revoked key again must not bring it back.
		if created, err := s.InstallKey(ctx, a.ID, key, chartmogul.AccessReadWrite); err != nil || created {
			t.Fatalf("InstallKey(revoked) = %v, %v; want false, nil", created, err)
		}
		if _, _, err := s.Authenticate(ctx, key); chartmogul.ErrorCodeOf(err) != chartmogul.EUNAUTHORIZED {
			t.Fatalf("re-installed revoked key authenticates: %v", err)
		}
		if err := s.RevokeKey(ctx, 999); !chartmogul.IsNotFound(err) {
			t.Fatalf("RevokeKey(unknown) = %v, want not found", err)
		}
	})
}

func TestDataSources(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		other := newFixture(t, s, "other")
		_, err := s.CreateDataSource(ctx, f.account.ID, "Billing", "")
		var e *chartmogul.Error
		if !errors.As(err, &e) || e.Code != chartmogul.EINVALID || e.Fields["name"] != "Has already been taken." {
			t.Fatalf("duplicate name: err = %v", err)
		}
		if _, err := s.CreateDataSource(ctx, f.account.ID, " ", ""); !errors.As(err, &e) || e.Fields["name"] != "A name is required for each data source." {
			t.Fatalf("blank name: err = %v", err)
		}
		if _, err := s.DataSource(ctx, f.account.ID, other.ds.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("another account's data source: err = %v, want not found", err)
		}
		list, err := s.ListDataSources(ctx, f.account.ID, store.DataSourceFilter{})
		if err != nil || len(list) != 1 || list[0].UUID != f.ds.UUID || list[0].System != "Custom" {
			t.Fatalf("ListDataSources = %+v, %v", list, err)
		}
		if err := s.DeleteDataSource(ctx, f.account.ID, f.ds.UUID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DataSource(ctx, f.account.ID, f.ds.UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("deleted data source: err = %v", err)
		}
	})
}

func TestImportSeed(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		imp, existing, err := s.CreateImport(ctx, f.ds, "ds_import_1", seed(t))
		if err != nil || existing || imp.Status != chartmogul.ImportQueued {
			t.Fatalf("CreateImport = %+v, %v, %v", imp, existing, err)
		}
		again, existing, err := s.CreateImport(ctx, f.ds, "ds_import_1", seed(t))
		if err != nil || !existing || again.UUID != imp.UUID {
			t.Fatalf("repeated CreateImport = %+v, %v, %v; want the first import", again, existing, err)
		}
		rep := applyAll(t, s, f)
		if len(rep.Failures) != 1 || rep.Failures[0].ExternalID != "trans_0001" {
			t.Fatalf("failures = %+v", rep.Failures)
		}
		got, err := s.Import(ctx, f.ds, "ds_import_1")
		if err != nil || got.Status != chartmogul.ImportCompleted || got.Report == nil || got.Report.Counts[chartmogul.RecordTransactions].Imported != 3 {
			t.Fatalf("Import = %+v, %v", got, err)
		}
		customers, _, err := s.ListCustomers(ctx, f.account.ID, store.CustomerFilter{}, store.Page{Limit: 10})
		if err != nil || len(customers) != 1 || customers[0].State != "CA" || customers[0].Email != "" {
			t.Fatalf("customers = %+v, %v", customers, err)
		}
		invoices, _, err := s.ListInvoices(ctx, f.account.ID, store.InvoiceFilter{}, store.Page{Limit: 10})
		if err != nil || len(invoices) != 3 {
			t.Fatalf("invoices = %d, %v", len(invoices), err)
		}
		var items, txs int
		for _, inv := range invoices {
			items += len(inv.LineItems)
			txs += len(inv.Transactions)
			for _, li := range inv.LineItems {
				if li.SubscriptionExternalID != "sub_0001" || li.PlanUUID == "" || li.SubscriptionUUID == "" {
					t.Errorf("line item %+v lost its subscription or plan", li)
				}
			}
		}
		if items != 3 || txs != 3 {
			t.Fatalf("line items %d, transactions %d; want 3 and 3", items, txs)
		}
		events, _, err := s.ListEvents(ctx, f.account.ID, store.EventFilter{}, store.Page{Limit: 10})
		if err != nil || len(events) != 1 || events[0].SubscriptionExternalID != "sub_001" {
			t.Fatalf("events = %+v, %v", events, err)
		}

		// The same payload again, under another import id: a no-op.
		if _, _, err := s.CreateImport(ctx, f.ds, "ds_import_2", seed(t)); err != nil {
			t.Fatal(err)
		}
		rep = applyAll(t, s, f)
		if rep.Imported() != 12 || len(rep.Failures) != 1 {
			t.Fatalf("re-import: imported %d, failures %+v", rep.Imported(), rep.Failures)
		}
		invoices, _, _ = s.ListInvoices(ctx, f.account.ID, store.InvoiceFilter{}, store.Page{Limit: 10})
		items, txs = 0, 0
		for _, inv := range invoices {
			items += len(inv.LineItems)
			txs += len(inv.Transactions)
		}
		if len(invoices) != 3 || items != 3 || txs != 3 {
			t.Fatalf("after re-import: %d invoices, %d line items, %d transactions; want 3, 3, 3", len(invoices), items, txs)
		}
	})
}

func TestImportOrder(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		first, _, err := s.CreateImport(ctx, f.ds, "", []byte(`{"customers":[{"external_id":"c1","name":"First"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		second, _, err := s.CreateImport(ctx, f.ds, "", []byte(`{"customers":[{"external_id":"c1","name":"Second"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		// The second import's job runs first: the store refuses until the
		// first has finished.
		imp, err := s.NextImport(ctx, f.ds.ID, second.ID)
		if err != nil || imp.ID != first.ID {
			t.Fatalf("NextImport = %+v, %v; want the first import", imp, err)
		}
		b, _ := chartmogul.Decode([]byte(`{"customers":[{"external_id":"c1","name":"Second"}]}`), testNow)
		secondFull := *second
		if _, _, err := s.ApplyImport(ctx, &secondFull, bulk.Keys(b), bulk.Resolver(b)); !errors.Is(err, store.ErrNotNext) {
			t.Fatalf("applying the second import first: err = %v, want ErrNotNext", err)
		}
		applyAll(t, s, f)
		c, _, err := s.ListCustomers(ctx, f.account.ID, store.CustomerFilter{ExternalID: "c1"}, store.Page{Limit: 10})
		if err != nil || len(c) != 1 || c[0].Name != "Second" {
			t.Fatalf("customer = %+v, %v; want the later import's name", c, err)
		}
	})
}

func TestAccountsAreIsolated(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		other := newFixture(t, s, "other")
		if _, _, err := s.CreateImport(ctx, f.ds, "", seed(t)); err != nil {
			t.Fatal(err)
		}
		applyAll(t, s, f)
		c, _, err := s.ListCustomers(ctx, other.account.ID, store.CustomerFilter{}, store.Page{Limit: 10})
		if err != nil || len(c) != 0 {
			t.Fatalf("other account sees %d customers", len(c))
		}
		mine, _, _ := s.ListCustomers(ctx, f.account.ID, store.CustomerFilter{}, store.Page{Limit: 10})
		if _, err := s.Customer(ctx, other.account.ID, mine[0].UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("other account reads my customer: %v", err)
		}
		inv, _, _ := s.ListInvoices(ctx, f.account.ID, store.InvoiceFilter{}, store.Page{Limit: 1})
		if _, err := s.Invoice(ctx, other.account.ID, inv[0].UUID); !chartmogul.IsNotFound(err) {
			t.Fatalf("other account reads my invoice: %v", err)
		}
		if _, err := s.Import(ctx, other.ds, "ds_import_1"); !chartmogul.IsNotFound(err) {
			t.Fatalf("other data source finds my import: %v", err)
		}
	})
}
