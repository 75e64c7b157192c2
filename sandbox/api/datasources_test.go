package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

const cpFlags = "?with_auto_churn_subscription_setting=true&with_invoice_handling_setting=true&with_processing_status=true"

func TestDataSourcesCreateListRetrieve(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		r := e.call("POST", "/v1/data_sources", map[string]any{"name": "testing"})
		cpCompareShape(t, r, "go/customers.yaml", "POST", "/v1/data_sources")
		if m := r.obj(t); m["system"] != "Custom" || m["status"] != "idle" || m["name"] != "testing" {
			t.Fatalf("created data source: %s", r.raw)
		}
		ds := r.str(t, "uuid")
		// The Go client's CreateDataSourceWithSystem sends the read-only
		// members, empty.
		g := e.call("POST", "/v1/data_sources", `{"created_at":"","name":"x","status":"","system":"","uuid":""}`).want(t, 201)
		if g.str(t, "name") != "x" || g.str(t, "uuid") == "" || g.str(t, "created_at") == "" {
			t.Fatalf("Go client's create: %s", g.raw)
		}

		list := e.call("GET", "/v1/data_sources", nil).want(t, 200)
		if got := list.obj(t)["data_sources"].([]any); len(got) != 2 || got[0].(map[string]any)["uuid"] != ds {
			t.Fatalf("list: %s", list.raw)
		}
		plain, _ := cpCassette(t, "go/customers.yaml", "POST", "/v1/data_sources")
		cpShape(t, list.obj(t)["data_sources"].([]any)[0], plain)
		if got := e.call("GET", "/v1/data_sources?name=x", nil).want(t, 200).obj(t)["data_sources"].([]any); len(got) != 1 || got[0].(map[string]any)["name"] != "x" {
			t.Fatalf("name filter: %v", got)
		}
		if got := e.call("GET", "/v1/data_sources?system=Stripe", nil).want(t, 200).obj(t)["data_sources"].([]any); len(got) != 0 {
			t.Fatalf("system filter: %v", got)
		}

		// The opt-in members, with ChartMogul's settings and counts of the
		// source's imports.
		const cassette = "ruby/ChartMogul_DataSource/API_Interactions/correctly_interracts_with_the_API.yml"
		withFlags := e.call("GET", "/v1/data_sources"+cpFlags, nil)
		cpCompareShape(t, withFlags, cassette, "GET", "/v1/data_sources?with_")
		one := e.call("GET", "/v1/data_sources/"+ds+cpFlags, nil)
		cpCompareShape(t, one, cassette, "GET", "/v1/data_sources/ds_")
		m := one.obj(t)
		recorded, _ := cpCassette(t, cassette, "GET", "/v1/data_sources/ds_")
		if !cpEqual(m["invoice_handling_setting"], recorded.(map[string]any)["invoice_handling_setting"]) {
			t.Fatalf("invoice handling %v, want ChartMogul's defaults %v", m["invoice_handling_setting"], recorded.(map[string]any)["invoice_handling_setting"])
		}
		if !cpEqual(m["auto_churn_subscription_setting"], map[string]any{"enabled": false, "interval": nil}) ||
			!cpEqual(m["processing_status"], map[string]any{"processed": 0.0, "failed": 0.0, "pending": 0.0}) {
			t.Fatalf("settings: %s", one.raw)
		}
		// Without the flags, no extra members.
		cpShape(t, e.call("GET", "/v1/data_sources/"+ds, nil).want(t, 200).body, plain)
		e.call("GET", "/v1/data_sources/"+ds, "{}").want(t, 200)

		e.call("GET", "/v1/data_sources/"+ds+"?with_processing_status=maybe", nil).wantParam(t, "with_processing_status")
		e.call("GET", "/v1/data_sources?with_invoice_handling_setting=2", nil).wantParam(t, "with_invoice_handling_setting")
		e.call("GET", "/v1/data_sources/ds_00000000-0000-0000-0000-000000000000", nil).wantError(t, 404, `{"error":"Data source not found"}`)
		e.callAs(e.other, "GET", "/v1/data_sources/"+ds, nil).wantError(t, 404, `{"error":"Data source not found"}`)
		if got := e.callAs(e.other, "GET", "/v1/data_sources", nil).want(t, 200).obj(t)["data_sources"].([]any); len(got) != 0 {
			t.Fatalf("another account lists the data sources: %v", got)
		}
		e.callAs("", "GET", "/v1/data_sources", nil).wantError(t, 401, `{"code":401,"message":"No valid API key provided","param":null}`)

		e.call("POST", "/v1/data_sources", map[string]any{"name": nil}).wantError(t, 422, `{"errors":{"name":"A name is required for each data source."}}`)
		e.call("POST", "/v1/data_sources", map[string]any{}).wantError(t, 422, `{"errors":{"name":"A name is required for each data source."}}`)
		e.call("POST", "/v1/data_sources", map[string]any{"name": "testing"}).wantError(t, 422, `{"errors":{"name":"Has already been taken."}}`)
		e.call("POST", "/v1/data_sources", map[string]any{"name": 5}).wantParam(t, "name")
		e.call("POST", "/v1/data_sources", `{"name":`).want(t, 400)
		e.callAs("", "POST", "/v1/data_sources", map[string]any{"name": "y"}).want(t, 401)
	})
}

func TestDataSourceProcessingStatus(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ctx := context.Background()
		dsUUID := e.createDS("Billing")
		ds, err := e.store.DataSource(ctx, e.acct.ID, dsUUID)
		if err != nil {
			t.Fatal(err)
		}
		payload := []byte(`{"customers":[{"external_id":"c1","name":"One"}]}`)
		var ids []int64
		for _, ext := range []string{"done", "failed", "processing", "queued"} {
			imp, _, err := e.store.CreateImport(ctx, ds, ext, payload)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, imp.ID)
			if ext == "done" {
				b, err := chartmogul.Decode(payload, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := e.store.ApplyImport(ctx, imp, bulk.Keys(b), bulk.Resolver(b)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := e.store.FailImport(ctx, ids[1], "test", nil); err != nil {
			t.Fatal(err)
		}
		if err := e.store.MarkImportProcessing(ctx, ids[2]); err != nil {
			t.Fatal(err)
		}
		got := e.call("GET", "/v1/data_sources/"+dsUUID+"?with_processing_status=true", nil).want(t, 200).obj(t)
		if !cpEqual(got["processing_status"], map[string]any{"processed": 1.0, "failed": 1.0, "pending": 2.0}) {
			t.Fatalf("processing_status %v, want 1 processed, 1 failed, 2 pending", got["processing_status"])
		}
		if _, ok := got["invoice_handling_setting"]; ok {
			t.Fatalf("a member no flag asked for: %v", got)
		}
	})
}

func TestDataSourceEmptyAndDelete(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		for _, suffix := range []string{"/all", "/dependent"} {
			ds, keep := e.createDS("Billing"+suffix), e.createDS("Keep"+suffix)
			c := e.createCustomer(ds, "ext_customer", nil)
			e.importRecords(ds, cpInvoicePayload("ext_customer", "1"))
			kept := e.createCustomer(keep, "ext_customer", nil)
			linked := e.createCustomer(keep, "linked", nil)
			e.call("POST", "/v1/customers/merges", map[string]any{"from": map[string]any{"customer_uuid": linked["uuid"]}, "into": map[string]any{"customer_uuid": c["uuid"]}}).want(t, 202)

			e.callAs(e.other, "DELETE", "/v1/data_sources/"+ds+suffix, nil).wantError(t, 404, `{"error":"Data source not found"}`)
			e.callAs("", "DELETE", "/v1/data_sources/"+ds+suffix, nil).want(t, 401)
			r := e.call("DELETE", "/v1/data_sources/"+ds+suffix, nil)
			if suffix == "/all" {
				cpCompareShape(t, r, "go/empty_data_source.yaml", "DELETE", "/all")
			} else {
				r.want(t, 204)
			}
			// The source stays, empty; other sources keep their customers,
			// and a customer linked by a merge stands alone again.
			e.call("GET", "/v1/data_sources/"+ds, nil).want(t, 200)
			empty := e.call("GET", "/v1/customers?data_source_uuid="+ds, nil).want(t, 200)
			want, _ := cpCassette(t, "go/empty_data_source.yaml", "GET", "/v1/customers?data_source_uuid=")
			if len(empty.obj(t)["entries"].([]any)) != 0 {
				t.Fatalf("%s left customers: %s", suffix, empty.raw)
			}
			cpShape(t, empty.body, want, "cursor")
			e.call("GET", "/v1/customers/"+c["uuid"].(string), nil).want(t, 404)
			e.call("GET", "/v1/customers/"+kept["uuid"].(string), nil).want(t, 200)
			e.call("GET", "/v1/customers/"+linked["uuid"].(string), nil).want(t, 200)
			if got := e.call("GET", "/v1/plans?data_source_uuid="+ds, nil).want(t, 200).obj(t)["plans"].([]any); len(got) != 0 {
				t.Fatalf("%s left plans: %v", suffix, got)
			}
			// Everything can be imported again.
			e.createCustomer(ds, "ext_customer", nil)
			ch := e.importRecords(ds, cpInvoicePayload("ext_customer", "1"))
			if len(ch.NewPlans) != 1 || len(ch.NewInvoices) != 1 || len(ch.NewEvents) != 1 {
				t.Fatalf("re-import after %s: %+v", suffix, ch)
			}
			e.call("DELETE", "/v1/data_sources/ds_00000000-0000-0000-0000-000000000000"+suffix, nil).wantError(t, 404, `{"error":"Data source not found"}`)
		}

		ds := e.createDS("Gone")
		e.createCustomer(ds, "c", nil)
		r := e.call("DELETE", "/v1/data_sources/"+ds, nil)
		cpCompareShape(t, r, "ruby/ChartMogul_DataSource/API_Interactions/correctly_interracts_with_the_API.yml", "DELETE", "/v1/data_sources/ds_")
		e.call("GET", "/v1/data_sources/"+ds, nil).wantError(t, 404, `{"error":"Data source not found"}`)
		e.call("DELETE", "/v1/data_sources/"+ds, nil).wantError(t, 404, `{"error":"Data source not found"}`)
	})
}
