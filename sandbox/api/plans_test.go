package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// createPlan creates a plan and returns the answer's object.
func (e *cpEnv) createPlan(ds, externalID string) map[string]any {
	e.t.Helper()
	return e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "external_id": externalID, "name": "Plan " + externalID,
		"interval_count": 1, "interval_unit": "month"}).want(e.t, 201).obj(e.t)
}

func TestPlansCreate(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		r := e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "external_id": "plan_0001", "interval_count": 1, "interval_unit": "month", "name": "Bronze Plan"})
		cpCompareShape(t, r, "go/plans.yaml", "POST", "/v1/plans")
		m := r.obj(t)
		if m["external_id"] != "plan_0001" || m["name"] != "Bronze Plan" || m["interval_count"] != float64(1) || m["interval_unit"] != "month" || m["data_source_uuid"] != ds {
			t.Fatalf("created plan: %s", r.raw)
		}

		// The legacy path, and a plan without external_id: it gets its
		// bare uuid, as ChartMogul gives it.
		r = e.call("POST", "/v1/import/plans", map[string]any{"name": "Another Test Plan", "interval_count": 1, "interval_unit": "month", "data_source_uuid": ds})
		cpCompareShape(t, r, "ruby/ChartMogul_Plan/API_Actions/creates_the_plan_correctly.yml", "POST", "/v1/plans")
		if uuid := r.str(t, "uuid"); r.str(t, "external_id") != strings.TrimPrefix(uuid, "pl_") {
			t.Fatalf("plan without external_id: %s", r.raw)
		}
		// The Go client sends the read-only members back, empty.
		e.call("POST", "/v1/plans", map[string]any{"uuid": "", "data_source_uuid": ds, "external_id": "go", "name": "Go", "interval_count": 3, "interval_unit": "month"}).want(t, 201)

		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "external_id": "plan_0001", "name": "Again", "interval_count": 1, "interval_unit": "month"}).
			wantError(t, 422, `{"errors":{"external_id":"A plan with this identifier already exists in our system."}}`)
		e.call("POST", "/v1/plans", map[string]any{"external_id": "p", "name": "P", "interval_count": 1, "interval_unit": "month"}).
			wantError(t, 400, `{"code":400,"message":"Parameter \"data_source_uuid\" is missing","param":"data_source_uuid"}`)
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "interval_count": 1, "interval_unit": "month"}).
			wantError(t, 422, `{"errors":{"name":"name is required"}}`)
		// Zero values are what the Go client omits: a missing count is 0,
		// which is refused as missing.
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_unit": "month"}).
			wantError(t, 422, `{"errors":{"interval_count":"interval_count is required"}}`)
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": 1}).
			wantError(t, 422, `{"errors":{"interval_unit":"interval_unit is required"}}`)
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": "1", "interval_unit": "month"}).
			wantField(t, "interval_count", "not a string")
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": 1.5, "interval_unit": "month"}).
			wantField(t, "interval_count", "whole number")
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": -1, "interval_unit": "month"}).
			wantField(t, "interval_count", "greater than 0")
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": 1, "interval_unit": "week"}).
			wantField(t, "interval_unit", "7 day")
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": 5, "interval_count": 1, "interval_unit": "month"}).
			wantField(t, "name", "must be a string")
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": 1, "interval_unit": "month", "external_id": []int{1}}).
			wantField(t, "external_id", "must be a string")
		e.call("POST", "/v1/plans", `{"data_source_uuid":`).want(t, 400)
		e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": "ds_00000000-0000-0000-0000-000000000000", "name": "P", "interval_count": 1, "interval_unit": "month"}).
			wantError(t, 404, `{"error":"Data source not found"}`)
		e.callAs(e.other, "POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": 1, "interval_unit": "month"}).
			wantError(t, 404, `{"error":"Data source not found"}`)
		e.callAs("", "POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": 1, "interval_unit": "month"}).want(t, 401)
	})
}

func TestPlansList(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds1, ds2 := e.createDS("One"), e.createDS("Two")
		p1, p2, p3 := e.createPlan(ds1, "plan_0001"), e.createPlan(ds1, "plan_0002"), e.createPlan(ds2, "plan_0001")
		ods := e.callAs(e.other, "POST", "/v1/data_sources", map[string]any{"name": "Theirs"}).want(t, 201).str(t, "uuid")
		e.callAs(e.other, "POST", "/v1/plans", map[string]any{"data_source_uuid": ods, "name": "Theirs", "interval_count": 1, "interval_unit": "day"}).want(t, 201)

		// Newest first, as ChartMogul lists plans.
		r := e.call("GET", "/v1/plans?data_source_uuid="+ds1+"&per_page=1", nil)
		cpCompareShape(t, r, "go/plans.yaml", "GET", "per_page=2")
		m := r.obj(t)
		if got := m["plans"].([]any); len(got) != 1 || got[0].(map[string]any)["uuid"] != p2["uuid"] || m["has_more"] != true || m["total_pages"] != float64(2) {
			t.Fatalf("first page: %s", r.raw)
		}
		next := e.call("GET", "/v1/plans?data_source_uuid="+ds1+"&per_page=1&cursor="+r.str(t, "cursor"), nil).want(t, 200)
		want, _ := cpCassette(t, "ruby/ChartMogul_Plan/API_Actions/with_pagination/paginates_correctly.yml", "GET", "cursor=")
		cpShape(t, next.body, want)
		if got := next.obj(t)["plans"].([]any); len(got) != 1 || got[0].(map[string]any)["uuid"] != p1["uuid"] || next.obj(t)["has_more"] != false {
			t.Fatalf("second page: %s", next.raw)
		}

		list := func(path string) []any {
			t.Helper()
			var out []any
			for _, p := range e.call("GET", path, nil).want(t, 200).obj(t)["plans"].([]any) {
				out = append(out, p.(map[string]any)["uuid"])
			}
			return out
		}
		for _, tc := range []struct {
			path string
			want []any
		}{
			// The Go client always sends data_source_uuid, empty when unset.
			{"/v1/plans?data_source_uuid=", []any{p3["uuid"], p2["uuid"], p1["uuid"]}},
			{"/v1/plans?data_source_uuid=" + ds2, []any{p3["uuid"]}},
			{"/v1/plans?data_source_uuid=&external_id=plan_0001", []any{p3["uuid"], p1["uuid"]}},
			{"/v1/plans?system=Import+API", []any{p3["uuid"], p2["uuid"], p1["uuid"]}},
			{"/v1/plans?system=Stripe", nil},
			{"/v1/plans?data_source_uuid=" + ods, nil},
		} {
			if got := list(tc.path); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s lists %v, want %v", tc.path, got, tc.want)
			}
		}

		e.call("GET", "/v1/plans?per_page=0", nil).wantParam(t, "per_page")
		e.call("GET", "/v1/plans?per_page=abc", nil).wantParam(t, "per_page")
		if got := len(e.call("GET", "/v1/plans?per_page=201", nil).want(t, 200).obj(t)["plans"].([]any)); got != 3 {
			t.Errorf("per_page=201 lists %d plans, want all 3", got)
		}
		e.call("GET", "/v1/plans?cursor=abc", nil).wantParam(t, "cursor")
		e.createCustomer(ds1, "c1", nil)
		e.createCustomer(ds1, "c2", nil)
		customersCursor := e.call("GET", "/v1/customers?per_page=1", nil).want(t, 200).str(t, "cursor")
		e.call("GET", "/v1/plans?cursor="+customersCursor, nil).wantParam(t, "cursor")
		e.callAs(e.other, "POST", "/v1/plans", map[string]any{"data_source_uuid": ods, "name": "Theirs 2", "interval_count": 1, "interval_unit": "day"}).want(t, 201)
		otherCursor := e.callAs(e.other, "GET", "/v1/plans?per_page=1", nil).want(t, 200).str(t, "cursor")
		e.call("GET", "/v1/plans?cursor="+otherCursor, nil).wantParam(t, "cursor")
		e.callAs("", "GET", "/v1/plans", nil).want(t, 401)
	})
}

func TestPlanRetrieveUpdate(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		p := e.createPlan(ds, "plan_0002")
		path := "/v1/plans/" + p["uuid"].(string)
		r := e.call("GET", path, nil)
		cpCompareShape(t, r, "go/plans.yaml", "GET", "/v1/plans/pl_")
		if !cpEqual(r.body, p) {
			t.Fatalf("retrieve %s differs from create %v", r.raw, p)
		}

		r = e.call("PATCH", path, map[string]any{"name": "Chocolate Plan 2"})
		cpCompareShape(t, r, "go/plans.yaml", "PATCH", "/v1/plans/pl_")
		if m := r.obj(t); m["name"] != "Chocolate Plan 2" || m["interval_count"] != float64(1) || m["interval_unit"] != "month" || m["external_id"] != "plan_0002" {
			t.Fatalf("PATCH name: %s", r.raw)
		}
		// The clients resend external_id and data_source_uuid; they do not
		// change.
		r = e.call("PATCH", path, map[string]any{"name": "Another Test Plan 123", "interval_count": 2, "interval_unit": "year", "external_id": "other",
			"data_source_uuid": e.createDS("Elsewhere")}).want(t, 202)
		if m := r.obj(t); m["name"] != "Another Test Plan 123" || m["interval_count"] != float64(2) || m["interval_unit"] != "year" ||
			m["external_id"] != "plan_0002" || m["data_source_uuid"] != ds {
			t.Fatalf("PATCH: %s", r.raw)
		}
		if again := e.call("GET", path, nil).want(t, 200); !cpEqual(again.body, r.body) {
			t.Fatalf("GET after PATCH %s, want %s", again.raw, r.raw)
		}

		e.call("PATCH", path, map[string]any{"interval_unit": "week"}).wantField(t, "interval_unit", "must be one of")
		e.call("PATCH", path, map[string]any{"interval_count": "3"}).wantField(t, "interval_count", "not a string")
		e.call("PATCH", path, map[string]any{"interval_count": 0}).wantField(t, "interval_count", "greater than 0")
		e.call("PATCH", path, map[string]any{"name": nil}).wantField(t, "name", "required")
		e.call("PATCH", path, map[string]any{"name": ""}).wantField(t, "name", "required")
		e.call("PATCH", path, `{"name":`).want(t, 400)
		if after := e.call("GET", path, nil).want(t, 200); !cpEqual(after.body, r.body) {
			t.Fatalf("refused PATCHes changed the plan: %s", after.raw)
		}
		e.call("GET", "/v1/plans/pl_00000000-0000-0000-0000-000000000000", nil).wantError(t, 404, `{"error":"Plan not found"}`)
		e.call("PATCH", "/v1/plans/pl_00000000-0000-0000-0000-000000000000", map[string]any{"name": "x"}).wantError(t, 404, `{"error":"Plan not found"}`)
		e.callAs(e.other, "GET", path, nil).wantError(t, 404, `{"error":"Plan not found"}`)
		e.callAs(e.other, "PATCH", path, map[string]any{"name": "x"}).wantError(t, 404, `{"error":"Plan not found"}`)
		e.callAs("", "PATCH", path, map[string]any{"name": "x"}).want(t, 401)
	})
}

func TestPlanDelete(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		p := e.createPlan(ds, "free")
		path := "/v1/plans/" + p["uuid"].(string)
		e.callAs(e.other, "DELETE", path, nil).wantError(t, 404, `{"error":"Plan not found"}`)
		e.callAs("", "DELETE", path, nil).want(t, 401)
		r := e.call("DELETE", path, nil)
		cpCompareShape(t, r, "ruby/ChartMogul_Plan/API_Actions/destroys_the_plan_correctly.yml", "DELETE", "/v1/plans/")
		e.call("GET", path, nil).wantError(t, 404, `{"error":"Plan not found"}`)
		e.call("DELETE", path, nil).wantError(t, 404, `{"error":"Plan not found"}`)
		// The external id is free again.
		e.createPlan(ds, "free")

		// A plan line items name is kept, with a reason.
		e.createCustomer(ds, "cus_1", nil)
		ch := e.importRecords(ds, cpInvoicePayload("cus_1", "1"))
		used := "/v1/plans/" + ch.NewPlans[0].UUID
		e.call("DELETE", used, nil).wantField(t, "plan", "line items")
		e.call("GET", used, nil).want(t, 200)
	})
}
