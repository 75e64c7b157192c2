package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/recurhq/recur/sandbox/store/storetest"
)

// createKey runs `sandbox keys create --account NAME [flags]` against the
// database and returns the key it prints.
func createKey(t *testing.T, dbURL, account string, flags ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"keys", "create", "--account", account, "--database", dbURL}, flags...),
		e2eEnv(nil), strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("sandbox keys create: %v\n%s", err, stderr.String())
	}
	key := strings.TrimSpace(stdout.String())
	if key == "" || strings.ContainsAny(key, " \n") {
		t.Fatalf("sandbox keys create printed %q, want the key alone", stdout.String())
	}
	if !strings.Contains(stderr.String(), `account "`+account+`"`) {
		t.Errorf("sandbox keys create said %q, want it to name account %q", stderr.String(), account)
	}
	return key
}

// TestAccountsAreIsolated gives a second account a key with `sandbox keys
// create --account other` and checks that neither account sees anything of
// the other's: data sources, imports, customers, plans, invoices, events.
func TestAccountsAreIsolated(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			a := startE2EServer(t, db.URL)
			b := a.as(createKey(t, db.URL, "other"))

			// Both accounts import the same payload into a data source of the
			// same name: external ids are per data source, so nothing clashes.
			seed := e2eSeed(t)
			dsA, dsB := a.createDataSource(t, "Billing"), b.createDataSource(t, "Billing")
			impA, impB := a.submitImport(t, dsA, seed), b.submitImport(t, dsB, seed)
			if impA.ID == impB.ID {
				t.Fatalf("both accounts got import %s", impA.ID)
			}
			impA, impB = a.waitImport(t, dsA, impA.ID), b.waitImport(t, dsB, impB.ID)
			if impA.Status != "completed" || impB.Status != "completed" {
				t.Fatalf("imports %s and %s, want both completed", impA.Status, impB.Status)
			}

			type view struct {
				c          *e2eClient
				ds         string
				imp        apiImport
				customer   apiCustomer
				plan       apiPlan
				invoice    apiInvoice
				dataSource apiDataSource
			}
			look := func(c *e2eClient, ds string, imp apiImport) view {
				v := view{c: c, ds: ds, imp: imp}
				dss := e2eGet[map[string][]apiDataSource](t, c, "/v1/data_sources")["data_sources"]
				if len(dss) != 1 || dss[0].UUID != ds {
					t.Errorf("GET /v1/data_sources lists %+v, want %s alone", dss, ds)
				} else {
					v.dataSource = dss[0]
				}
				customers := e2eListAll[apiCustomer](t, c, "/v1/customers", "entries", 200)
				if len(customers) != 1 || customers[0].DataSourceUUID != ds {
					t.Fatalf("GET /v1/customers lists %d customers, want the one of %s", len(customers), ds)
				}
				v.customer = customers[0]
				plans := e2eListAll[apiPlan](t, c, "/v1/plans", "plans", 200)
				if len(plans) != 1 || plans[0].DataSourceUUID != ds {
					t.Fatalf("GET /v1/plans lists %+v, want the plan of %s", plans, ds)
				}
				v.plan = plans[0]
				invoices := e2eListAll[apiInvoice](t, c, "/v1/invoices", "invoices", 200)
				if len(invoices) != 3 {
					t.Fatalf("GET /v1/invoices lists %d invoices, want 3", len(invoices))
				}
				for _, inv := range invoices {
					if inv.CustomerUUID != v.customer.UUID {
						t.Errorf("invoice %s belongs to %s, not to the account's customer %s", inv.ExternalID, inv.CustomerUUID, v.customer.UUID)
					}
				}
				v.invoice = invoices[0]
				if events := e2eListAll[apiEvent](t, c, "/v1/subscription_events", "subscription_events", 200); len(events) != 1 || events[0].DataSourceUUID != ds {
					t.Errorf("GET /v1/subscription_events lists %d events, want the one of %s", len(events), ds)
				}
				return v
			}
			va, vb := look(a, dsA, impA), look(b, dsB, impB)
			if va.customer.UUID == vb.customer.UUID || va.invoice.UUID == vb.invoice.UUID || va.plan.UUID == vb.plan.UUID {
				t.Errorf("the accounts share records: customers %s/%s, invoices %s/%s, plans %s/%s",
					va.customer.UUID, vb.customer.UUID, va.invoice.UUID, vb.invoice.UUID, va.plan.UUID, vb.plan.UUID)
			}

			for _, pair := range []struct {
				name       string
				me, theirs view
			}{{"default sees other", va, vb}, {"other sees default", vb, va}} {
				t.Run(pair.name, func(t *testing.T) {
					c, o := pair.me.c, pair.theirs
					notFound := func(path, resource string) {
						t.Helper()
						e2eExpectBody(t, c.do(t, http.MethodGet, path, nil), http.StatusNotFound, `{"error":"`+resource+` not found"}`)
					}
					notFound("/v1/data_sources/"+o.ds, "Data source")
					notFound(e2eImportsPath(o.ds), "Data source")
					notFound(e2eImportsPath(o.ds)+"/"+o.imp.ID, "Data source")
					notFound(e2eImportsPath(o.ds)+"/ds_import_1", "Data source")
					notFound("/v1/customers/"+o.customer.UUID, "Customer")
					notFound("/v1/plans/"+o.plan.UUID, "Plan")
					notFound("/v1/invoices/"+o.invoice.UUID, "Invoice")
					e2eExpectBody(t, c.do(t, http.MethodPost, e2eImportsPath(o.ds), e2eSeed(t)), http.StatusNotFound, `{"error":"Data source not found"}`)
					e2eExpectBody(t, c.do(t, http.MethodDelete, "/v1/data_sources/"+o.ds, nil), http.StatusNotFound, `{"error":"Data source not found"}`)
					// Their import id in my data source names nothing either.
					e2eExpectBody(t, c.do(t, http.MethodGet, e2eImportsPath(pair.me.ds)+"/"+o.imp.ID, nil), http.StatusNotFound, `{"error":"Import not found"}`)

					// Filters naming the other account's objects find nothing.
					q := url.QueryEscape(o.ds)
					if n := len(e2eListAll[apiCustomer](t, c, "/v1/customers?data_source_uuid="+q, "entries", 200)); n != 0 {
						t.Errorf("%d customers in the other account's data source, want none", n)
					}
					if n := len(e2eListAll[apiPlan](t, c, "/v1/plans?data_source_uuid="+q, "plans", 200)); n != 0 {
						t.Errorf("%d plans in the other account's data source, want none", n)
					}
					if n := len(e2eListAll[apiInvoice](t, c, "/v1/invoices?data_source_uuid="+q, "invoices", 200)); n != 0 {
						t.Errorf("%d invoices in the other account's data source, want none", n)
					}
					if n := len(e2eListAll[apiInvoice](t, c, "/v1/invoices?customer_uuid="+url.QueryEscape(o.customer.UUID), "invoices", 200)); n != 0 {
						t.Errorf("%d invoices of the other account's customer, want none", n)
					}
					if n := len(e2eListAll[apiEvent](t, c, "/v1/subscription_events?data_source_uuid="+q, "subscription_events", 200)); n != 0 {
						t.Errorf("%d events in the other account's data source, want none", n)
					}
					if n := len(e2eListAll[apiEvent](t, c, "/v1/subscription_events?customer_uuid="+url.QueryEscape(o.customer.UUID), "subscription_events", 200)); n != 0 {
						t.Errorf("%d events of the other account's customer, want none", n)
					}
					// A cursor of the other account's list pages nothing here.
					their := e2eGetPage[apiInvoice](t, o.c, "/v1/invoices?per_page=1", "invoices")
					if their.cursor == nil {
						t.Fatalf("the other account's first page of one invoice has no cursor")
					}
					e2eExpectBody(t, c.do(t, http.MethodGet, "/v1/invoices?per_page=1&cursor="+url.QueryEscape(*their.cursor), nil), http.StatusBadRequest,
						`{"code":400,"message":"Parameter \"cursor\" is not a cursor of this list; pass the cursor value of the previous page unchanged, or leave it out for the first page.","param":"cursor"}`)
					if dss := e2eGet[map[string][]apiDataSource](t, c, "/v1/data_sources?name=Billing")["data_sources"]; len(dss) != 1 || dss[0].UUID != pair.me.ds {
						t.Errorf("data sources named Billing: %+v, want %s alone", dss, pair.me.ds)
					}
				})
			}

			// The other account's imports are still there, untouched.
			if got := b.getImport(t, dsB, impB.ID); got.Status != "completed" {
				t.Errorf("the other account's import is %s after the attempts, want completed", got.Status)
			}
			b.expect(t, http.StatusOK, http.MethodGet, "/v1/data_sources/"+dsB, nil)
		})
	}
}

// keyCommand runs another `sandbox keys` subcommand and returns its output.
func keyCommand(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"keys", args[0], "--database", dbURL}, args[1:]...)
	if err := run(context.Background(), args, e2eEnv(nil), strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("recur %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// TestReadOnlyAndRevokedKeys checks keys made with --read-only (they read,
// and get 403 on writes) and keys revoked with `sandbox keys revoke` (401).
func TestReadOnlyAndRevokedKeys(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			c := startE2EServer(t, db.URL)
			ds := c.createDataSource(t, "Keys")
			ro := c.as(createKey(t, db.URL, "default", "--read-only"))
			if got := e2eGet[map[string][]apiDataSource](t, ro, "/v1/data_sources")["data_sources"]; len(got) != 1 || got[0].UUID != ds {
				t.Errorf("the read-only key lists %+v, want %s", got, ds)
			}
			e2eExpectBody(t, ro.postImport(t, ds, []byte(`{"customers":[]}`)), http.StatusForbidden,
				`{"code":403,"message":"This API key is read-only; POST needs a key with read and write access.","param":null}`)
			if n := len(e2eListAll[apiImport](t, c, e2eImportsPath(ds), "json_imports", 200)); n != 0 {
				t.Errorf("%d imports after a read-only key's POST, want none", n)
			}

			doomed := createKey(t, db.URL, "default")
			c.as(doomed).expect(t, http.StatusOK, http.MethodGet, "/v1/ping", nil)
			id := ""
			for _, line := range strings.Split(keyCommand(t, db.URL, "list"), "\n") {
				f := strings.Fields(line)
				if len(f) > 2 && strings.HasPrefix(doomed, strings.TrimSuffix(f[2], "…")) {
					id = f[0]
				}
			}
			if id == "" {
				t.Fatalf("sandbox keys list does not show the key %s…", doomed[:7])
			}
			keyCommand(t, db.URL, "revoke", id)
			e2eExpectBody(t, c.as(doomed).do(t, http.MethodGet, "/v1/ping", nil), http.StatusUnauthorized,
				`{"code":401,"message":"No valid API key provided","param":null}`)
			c.expect(t, http.StatusOK, http.MethodGet, "/v1/ping", nil)
		})
	}
}
