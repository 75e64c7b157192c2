package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"

	"github.com/recurhq/recur/sandbox/gen"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// orderPayload renames the shared customer and adds one customer of its
// own, with an invoice.
func orderPayload(t *testing.T, n int) []byte {
	return e2eMarshal(t, map[string]any{
		"external_id": fmt.Sprintf("order-%d", n),
		"customers": []map[string]any{
			{"external_id": "cus_shared", "name": fmt.Sprintf("Name from import %d", n)},
			{"external_id": fmt.Sprintf("cus_own_%d", n), "name": fmt.Sprintf("Own customer %d", n)},
		},
		"invoices": []map[string]any{
			{"external_id": fmt.Sprintf("inv_own_%d", n), "customer_external_id": fmt.Sprintf("cus_own_%d", n), "date": "2024-05-01", "currency": "EUR"},
		},
		"line_items": []map[string]any{
			{"invoice_external_id": fmt.Sprintf("inv_own_%d", n), "type": "one_time", "amount_in_cents": 100 * n, "description": "Setup"},
		},
	})
}

// TestConcurrentImportsApplyInArrivalOrder POSTs several imports into one
// data source at once, each renaming the same customer: all complete, and
// they apply in the order the server accepted them, so the name of the last
// accepted one wins.
func TestConcurrentImportsApplyInArrivalOrder(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			c := startE2EServer(t, db.URL)
			ds := c.createDataSource(t, "Order")

			// A larger import first keeps the workers busy, so that the
			// concurrent ones queue up behind it.
			big, _, err := gen.Payload(gen.Options{Customers: 150, ExternalID: "order-big"})
			if err != nil {
				t.Fatal(err)
			}
			bigImp := c.submitImport(t, ds, big)

			const n = 6
			var wg sync.WaitGroup
			ids := make([]string, n)
			payloads := make([][]byte, n)
			for i := range n {
				payloads[i] = orderPayload(t, i)
			}
			responses := make([]*e2eResponse, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					responses[i], errs[i] = c.send(http.MethodPost, e2eImportsPath(ds), payloads[i])
				})
			}
			wg.Wait()
			byID := map[string]int{}
			for i, r := range responses {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				checkJSONContentType(t, r)
				if r.status != http.StatusCreated {
					t.Fatalf("%s, want 201", r)
				}
				ids[i] = e2eDecode[apiImport](t, r).ID
				byID[ids[i]] = i
			}

			// The server's arrival order: the list, newest first.
			list := e2eListAll[apiImport](t, c, e2eImportsPath(ds), "json_imports", 200)
			if len(list) != n+1 || list[n].ID != bigImp.ID {
				t.Fatalf("%d imports listed, the oldest %s; want %d, the oldest %s", len(list), list[len(list)-1].ID, n+1, bigImp.ID)
			}
			var arrival []int // payload numbers, oldest first
			for i := n - 1; i >= 0; i-- {
				k, ok := byID[list[i].ID]
				if !ok {
					t.Fatalf("listed import %s is none of the POSTed ones", list[i].ID)
				}
				arrival = append(arrival, k)
				if list[i].CreatedAt < list[i+1].CreatedAt {
					t.Errorf("import %s created at %s, before the older import %s created at %s", list[i].ID, list[i].CreatedAt, list[i+1].ID, list[i+1].CreatedAt)
				}
			}
			t.Logf("arrival order of the payloads: %v", arrival)

			for i, k := range arrival {
				imp := c.waitImport(t, ds, ids[k])
				if imp.Status != "completed" || len(imp.FailedRecords) != 0 {
					t.Errorf("import %d: status %s, failed records %+v; want completed without failures", k, imp.Status, imp.FailedRecords)
				}
				// The first to apply created the shared customer; every later
				// one renamed it, and says so.
				var renamed []string
				for _, w := range imp.Warnings {
					if w.ExternalID == "cus_shared" {
						renamed = append(renamed, w.Field+": "+w.Message)
					}
				}
				want := []string{`name: customer "cus_shared" already existed in this data source and was updated: name`}
				if i == 0 {
					want = nil
				}
				if fmt.Sprint(renamed) != fmt.Sprint(want) {
					t.Errorf("import %d (arrived %d of %d): warnings on cus_shared %q, want %q", k, i+1, n, renamed, want)
				}
			}
			if big := c.waitImport(t, ds, bigImp.ID); big.Status != "completed" {
				t.Errorf("the generated import: %s", big.Status)
			}

			last := arrival[n-1]
			shared := e2eGetPage[apiCustomer](t, c, "/v1/customers?data_source_uuid="+url.QueryEscape(ds)+"&external_id=cus_shared", "entries")
			if len(shared.items) != 1 {
				t.Fatalf("%d customers cus_shared, want 1", len(shared.items))
			}
			if got, want := shared.items[0].Name, fmt.Sprintf("Name from import %d", last); got != want {
				t.Errorf("cus_shared is named %q, want %q: the import accepted last applies last", got, want)
			}
			var own []string
			for _, cus := range e2eListAll[apiCustomer](t, c, "/v1/customers?data_source_uuid="+url.QueryEscape(ds), "entries", 200) {
				if len(cus.ExternalID) > 8 && cus.ExternalID[:8] == "cus_own_" {
					own = append(own, cus.ExternalID+"="+cus.Name)
				}
			}
			sort.Strings(own)
			var wantOwn []string
			for i := range n {
				wantOwn = append(wantOwn, fmt.Sprintf("cus_own_%d=Own customer %d", i, i))
			}
			if fmt.Sprint(own) != fmt.Sprint(wantOwn) {
				t.Errorf("own customers %v, want %v", own, wantOwn)
			}
		})
	}
}

// TestSequentialImportsLastWins POSTs imports one after another without
// waiting for any to finish: the last one POSTed names the customer.
func TestSequentialImportsLastWins(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			c := startE2EServer(t, db.URL)
			ds := c.createDataSource(t, "Sequential")
			// Each import after the first also bills the customer the
			// previous one created: applied out of order, it would fail.
			var ids []string
			for i := range 5 {
				var p map[string]any
				if err := json.Unmarshal(orderPayload(t, i), &p); err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					p["invoices"] = append(p["invoices"].([]any), map[string]any{"external_id": fmt.Sprintf("inv_chain_%d", i),
						"customer_external_id": fmt.Sprintf("cus_own_%d", i-1), "date": "2024-06-01", "currency": "EUR"})
				}
				ids = append(ids, c.submitImport(t, ds, e2eMarshal(t, p)).ID)
			}
			for _, id := range ids {
				if imp := c.waitImport(t, ds, id); imp.Status != "completed" || len(imp.FailedRecords) != 0 {
					t.Errorf("import %s: %s with failed records %+v; want completed without failures", id, imp.Status, imp.FailedRecords)
				}
			}
			if n := len(e2eListAll[apiInvoice](t, c, "/v1/invoices?data_source_uuid="+url.QueryEscape(ds), "invoices", 200)); n != 5+4 {
				t.Errorf("%d invoices, want 9", n)
			}
			shared := e2eGetPage[apiCustomer](t, c, "/v1/customers?data_source_uuid="+url.QueryEscape(ds)+"&external_id=cus_shared", "entries")
			if len(shared.items) != 1 || shared.items[0].Name != "Name from import 4" {
				t.Errorf("cus_shared: %+v, want one customer named \"Name from import 4\"", shared.items)
			}
		})
	}
}

// TestRetriedPOSTsLandOnOneImport sends the same import, external_id
// included, several times at once, as clients that retry do: one is
// created (201), every other answer is that import (200).
func TestRetriedPOSTsLandOnOneImport(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			c := startE2EServer(t, db.URL)
			ds := c.createDataSource(t, "Retries")
			payload := orderPayload(t, 1)
			const n = 8
			responses := make([]*e2eResponse, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { responses[i], errs[i] = c.send(http.MethodPost, e2eImportsPath(ds), payload) })
			}
			wg.Wait()
			created, id := 0, ""
			for i, r := range responses {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				checkJSONContentType(t, r)
				switch r.status {
				case http.StatusCreated:
					created++
				case http.StatusOK:
				default:
					t.Fatalf("%s, want 201 or 200", r)
				}
				imp := e2eDecode[apiImport](t, r)
				if id == "" {
					id = imp.ID
				} else if imp.ID != id {
					t.Errorf("answers name imports %s and %s, want one", id, imp.ID)
				}
			}
			if created != 1 {
				t.Errorf("%d of %d identical POSTs created an import, want exactly 1", created, n)
			}
			if list := e2eListAll[apiImport](t, c, e2eImportsPath(ds), "json_imports", 200); len(list) != 1 {
				t.Errorf("%d imports stored, want 1", len(list))
			}
			if imp := c.waitImport(t, ds, id); imp.Status != "completed" {
				t.Errorf("import %s: %s", id, imp.Status)
			}
		})
	}
}

// TestImportOrderAcrossServers runs two servers on one PostgreSQL database,
// as Recur scales out, and POSTs a chain of imports alternately to each:
// whichever process's worker picks a job, the imports apply in the order
// they arrived.
func TestImportOrderAcrossServers(t *testing.T) {
	t.Parallel()
	if storetest.PostgresURL(t) == "" {
		t.Skip("several servers share a PostgreSQL database; set RECUR_TEST_POSTGRES_URL")
	}
	dbURL := storetest.Postgres(t).URL
	servers := []*e2eClient{startE2EServer(t, dbURL), startE2EServer(t, dbURL)}
	ds := servers[0].createDataSource(t, "Scale-out")
	const n = 8
	var ids []string
	for i := range n {
		var p map[string]any
		if err := json.Unmarshal(orderPayload(t, i), &p); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			p["invoices"] = append(p["invoices"].([]any), map[string]any{"external_id": fmt.Sprintf("inv_chain_%d", i),
				"customer_external_id": fmt.Sprintf("cus_own_%d", i-1), "date": "2024-06-01", "currency": "EUR"})
		}
		ids = append(ids, servers[i%2].submitImport(t, ds, e2eMarshal(t, p)).ID)
	}
	for i, id := range ids {
		imp := servers[(i+1)%2].waitImport(t, ds, id)
		if imp.Status != "completed" || len(imp.FailedRecords) != 0 {
			t.Errorf("import %d: %s with failed records %+v; want completed without failures", i, imp.Status, imp.FailedRecords)
		}
	}
	shared := e2eGetPage[apiCustomer](t, servers[0], "/v1/customers?data_source_uuid="+url.QueryEscape(ds)+"&external_id=cus_shared", "entries")
	if want := fmt.Sprintf("Name from import %d", n-1); len(shared.items) != 1 || shared.items[0].Name != want {
		t.Errorf("cus_shared: %+v, want one customer named %q", shared.items, want)
	}
}
