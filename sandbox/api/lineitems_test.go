package api_test

import (
	"strings"
	"testing"
)

// TestLineItemCreate covers adding line items to an existing invoice: the
// flat body (Node, Ruby, the docs), the wrapped one (newer Go), both paths,
// and the rules of the invoice import.
func TestLineItemCreate(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		imp := e.importInvoices(e.invInvoice("inv_1")).want(201)
		inv, subUUID := imp.str("invoices.0.uuid"), imp.str("invoices.0.line_items.0.subscription_uuid")
		item := func(ext string) map[string]any {
			return map[string]any{"type": "subscription", "external_id": ext, "subscription_external_id": "sub_1", "plan_uuid": e.plan.UUID,
				"service_period_start": "2023-05-01", "service_period_end": "2023-06-01", "amount_in_cents": 5000, "invoice_uuid": inv}
		}

		r := e.call("POST", "/v1/import/invoices/"+inv+"/line_items", item("li_2")).want(201)
		r.is("external_id", "li_2").is("type", "subscription").is("plan_uuid", e.plan.UUID).is("quantity", 1).
			is("service_period_start", "2023-05-01T00:00:00.000Z")
		// The item continues the customer's stored subscription.
		r.is("subscription_uuid", subUUID)
		if !strings.HasPrefix(r.str("uuid"), "li_") {
			t.Errorf("uuid %s", r.str("uuid"))
		}
		w := e.call("POST", "/v1/invoices/"+inv+"/line_items", map[string]any{"line_items": []any{item("li_3"),
			map[string]any{"type": "one_time", "amount_in_cents": 100, "description": "Fee"}}}).want(201)
		if w.len("line_items") != 2 {
			t.Fatalf("wrapped: %s", w.raw)
		}
		w.is("line_items.0.external_id", "li_3").is("line_items.1.description", "Fee").is("line_items.1.type", "one_time")
		if n := e.call("GET", "/v1/invoices/"+inv, nil).want(200).len("line_items"); n != 5 {
			t.Errorf("the invoice has %d line items, want 5", n)
		}
		if n := e.count("subscriptions"); n != 1 {
			t.Errorf("%d subscriptions, want 1", n)
		}

		e.call("POST", "/v1/import/invoices/"+inv+"/line_items", item("li_2")).want(422).
			errorIs("errors", "external_id", "The external ID for this line item already exists in our system.")
		bad := item("li_4")
		bad["plan_uuid"] = "pl_nope"
		e.call("POST", "/v1/import/invoices/"+inv+"/line_items", bad).want(422).errorIs("errors", "plan_uuid", "names no plan")
		delete(bad, "plan_uuid")
		e.call("POST", "/v1/import/invoices/"+inv+"/line_items", bad).want(422).errorIs("errors", "plan_uuid", "plan_uuid is required")
		e.call("POST", "/v1/import/invoices/"+inv+"/line_items", map[string]any{"amount_in_cents": 1}).want(422).errorIs("errors", "type", "type is required")
		e.call("POST", "/v1/import/invoices/"+inv+"/line_items", map[string]any{"type": "one_time", "amount_in_cents": "1"}).want(422).
			errorIs("errors", "amount_in_cents", "without quotes")
		e.call("POST", "/v1/import/invoices/"+inv+"/line_items", map[string]any{"type": "refund", "amount_in_cents": 1}).want(422).
			errorIs("errors", "type", "must be one of")
		// One bad item of two stores neither.
		e.call("POST", "/v1/invoices/"+inv+"/line_items", map[string]any{"line_items": []any{item("li_5"), map[string]any{"type": "one_time"}}}).want(422).
			errorIs("errors", "amount_in_cents", "is required")
		e.call("GET", "/v1/line_items?data_source_uuid="+e.ds.UUID+"&external_id=li_5", nil).want(200).is("line_items", []any{})
		e.call("POST", "/v1/invoices/"+inv+"/line_items", map[string]any{"line_items": []any{}}).want(400)
		e.call("POST", "/v1/invoices/"+inv+"/line_items", `"x"`).want(400)

		e.call("POST", "/v1/import/invoices/inv_nope/line_items", item("li_6")).want(404).is("error", "Invoice not found")
		e.other().call("POST", "/v1/import/invoices/"+inv+"/line_items", item("li_6")).want(404)
	})
}

// TestLineItemReadUpdateDelete covers the line item routes by uuid and by
// external id.
func TestLineItemReadUpdateDelete(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		imp := e.importInvoices(e.invInvoice("inv_1"), e.invInvoice("inv_2")).want(201)
		li := imp.str("invoices.0.line_items.0.uuid")
		oneTime := imp.str("invoices.0.line_items.1.uuid")
		byExt := "/v1/line_items?data_source_uuid=" + e.ds.UUID + "&external_id=li_inv_1"

		e.call("GET", "/v1/line_items/"+li, nil).want(200).is("uuid", li).is("amount_in_cents", 5000)
		e.call("GET", "/v1/line_items/"+oneTime, nil).want(200).is("description", "Setup").is("external_id", nil)
		e.call("GET", byExt, nil).want(200).is("line_items.0.uuid", li)
		e.call("GET", "/v1/line_items", nil).want(400).is("param", "data_source_uuid")
		e.call("GET", "/v1/line_items/li_nope", nil).want(404).is("error", "Line item not found")
		o := e.other()
		o.call("GET", "/v1/line_items/"+li, nil).want(404)
		o.call("GET", "/v1/line_items?data_source_uuid="+e.ds.UUID+"&external_id=li_inv_1", nil).want(404).is("error", "Data source not found")

		r := e.call("PATCH", "/v1/line_items/"+li, map[string]any{"amount_in_cents": 20000, "quantity": 2}).want(200)
		r.is("amount_in_cents", 20000).is("quantity", 2).is("plan_uuid", e.plan.UUID).is("service_period_start", "2023-04-01T00:00:00.000Z")
		e.call("PATCH", byExt, map[string]any{"discount_code": "X", "tax_amount_in_cents": 100}).want(200).is("discount_code", "X").is("amount_in_cents", 20000)
		e.call("GET", "/v1/invoices/"+imp.str("invoices.0.uuid"), nil).want(200).is("line_items.0.amount_in_cents", 20000)

		e.call("PATCH", "/v1/line_items/"+li, map[string]any{"amount_in_cents": "5"}).want(422).errorIs("errors", "amount_in_cents", "without quotes")
		e.call("PATCH", "/v1/line_items/"+li, map[string]any{"service_period_end": "2023-01-01"}).want(422).errorIs("errors", "service_period_end", "must be after")
		e.call("PATCH", "/v1/line_items/"+li, map[string]any{"type": "gift"}).want(422).errorIs("errors", "type", "must be one of")
		e.call("PATCH", "/v1/line_items/"+li, map[string]any{"plan_uuid": "pl_nope"}).want(422).errorIs("errors", "plan_uuid", "names no plan")
		e.call("PATCH", "/v1/line_items/"+li, map[string]any{"external_id": "li_inv_2"}).want(422).
			errorIs("errors", "external_id", "The external ID for this line item already exists in our system.")
		e.call("PATCH", "/v1/line_items/"+li, map[string]any{"plan_external_id": "plan_1"}).want(200).is("plan_uuid", e.plan.UUID)
		e.call("PATCH", "/v1/line_items/li_nope", map[string]any{}).want(404)

		// Moving the item to another subscription: the old one remains for
		// inv_2's item, the new one is created.
		moved := e.call("PATCH", "/v1/line_items/"+li, map[string]any{"subscription_external_id": "sub_2"}).want(200)
		moved.is("subscription_external_id", "sub_2")
		if moved.str("subscription_uuid") == imp.str("invoices.0.line_items.0.subscription_uuid") {
			t.Errorf("the item kept its subscription")
		}
		if n := e.count("subscriptions"); n != 2 {
			t.Errorf("%d subscriptions, want 2", n)
		}
		// A one-time item has no subscription.
		e.call("PATCH", "/v1/line_items/"+li, map[string]any{"type": "one_time", "description": "Credit"}).want(200).
			is("type", "one_time").is("description", "Credit").is("subscription_uuid", nil)
		if n := e.count("subscriptions"); n != 1 {
			t.Errorf("%d subscriptions after the item left sub_2, want 1", n)
		}

		d := e.call("PATCH", "/v1/line_items/"+li+"/disabled_state", map[string]any{"disabled": true}).want(200)
		d.is("disabled", true).is("disabled_by", "acme")
		e.call("PATCH", "/v1/line_items/disabled_state?data_source_uuid="+e.ds.UUID+"&external_id=li_inv_1", map[string]any{"disabled": false}).want(200).
			is("disabled", false).is("disabled_at", nil)
		e.call("PATCH", "/v1/line_items/"+li+"/disabled_state", map[string]any{"disabled": 1}).want(422)
		o.call("PATCH", "/v1/line_items/"+li+"/disabled_state", map[string]any{"disabled": true}).want(404)

		o.call("DELETE", "/v1/line_items/"+li, nil).want(404)
		e.call("DELETE", "/v1/line_items/"+li, nil).want(204)
		e.call("GET", "/v1/line_items/"+li, nil).want(404)
		e.call("DELETE", "/v1/line_items?data_source_uuid="+e.ds.UUID+"&external_id=li_inv_2", nil).want(204)
		if n := e.count("subscriptions"); n != 0 {
			t.Errorf("a subscription without line items is left")
		}
		e.call("DELETE", "/v1/line_items", map[string]any{"data_source_uuid": e.ds.UUID, "external_id": "li_nope"}).want(404)
	})
}
