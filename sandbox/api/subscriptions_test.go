package api_test

import (
	"strings"
	"testing"
)

// TestImportSubscriptionsMatchCassettes replays the Go client's recorded
// subscription list, paged by cursor, and the Ruby client's cancellation.
func TestImportSubscriptionsMatchCassettes(t *testing.T) {
	goCalls := invCassette(t, "go/subscriptions.yaml")
	post := invFind(t, goCalls, "POST", "/invoices", 0)
	page1 := invFind(t, goCalls, "GET", "/subscriptions?per_page=1", 0)
	page2 := invFind(t, goCalls, "GET", "/subscriptions?cursor=", 0)
	rubyCalls := invCassette(t, "ruby/ChartMogul_Subscription/API_Interactions/correctly_interracts_with_the_API.yml")
	cancel := invFind(t, rubyCalls, "PATCH", "/v1/import/subscriptions/", 0)
	invRun(t, func(t *testing.T, e *invEnv) {
		e.cus = e.addCustomer("ext_customer")
		body := strings.NewReplacer("pl_33bbe542-4338-11ee-b38c-e3255fe0313f", e.plan.UUID,
			"cus_33d3943a-4338-11ee-b38d-072d018d871f", e.cus.UUID).Replace(post.Request)
		e.call("POST", "/v1/import/customers/"+e.cus.UUID+"/invoices", body).want(201)

		path := "/v1/import/customers/" + e.cus.UUID + "/subscriptions"
		p1 := e.call("GET", path+"?per_page=1", nil).want(page1.Code)
		invShape(t, "page 1", invJSON(t, page1.Response), p1.body, nil, nil)
		p1.is("customer_uuid", e.cus.UUID).is("subscriptions.0.external_id", "ext_subscription").
			is("subscriptions.0.subscription_set_external_id", "ext_subscription_set").is("subscriptions.0.plan_uuid", e.plan.UUID).
			is("subscriptions.0.data_source_uuid", e.ds.UUID).is("subscriptions.0.cancellation_dates", []any{}).
			is("has_more", true).is("total_pages", 2)
		p2 := e.call("GET", path+"?per_page=1&cursor="+p1.str("cursor"), nil).want(page2.Code)
		// The recording still shows offsets on the cursor page; Recur
		// leaves them out there, as on every list.
		invShape(t, "page 2", invJSON(t, page2.Response), p2.body, []string{"current_page", "total_pages", "cursor"}, nil)
		p2.is("subscriptions.0.external_id", "ext_subscription1").is("has_more", false)

		sub := p1.str("subscriptions.0.uuid")
		r := e.call("PATCH", "/v1/import/subscriptions/"+sub, cancel.Request).want(cancel.Code)
		invShape(t, "cancel", invJSON(t, cancel.Response), r.body, nil, nil)
		r.is("uuid", sub).is("customer_uuid", e.cus.UUID).is("cancellation_dates", []any{"2016-01-15T12:00:00.000Z"})
		e.call("GET", path, nil).want(200).is("subscriptions.0.cancellation_dates", []any{"2016-01-15T12:00:00.000Z"})
	})
}

// TestCancelSubscription covers adding, replacing and clearing cancellation
// dates, and the requests refused.
func TestCancelSubscription(t *testing.T) {
	calls := invCassette(t, "ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_includes_valid_entries/is_setting_the_cancellation_dates_of_the_subscription.yml")
	replace := invFind(t, calls, "PATCH", "/v1/import/subscriptions/", 0)
	invRun(t, func(t *testing.T, e *invEnv) {
		e.importInvoices(e.invInvoice("inv_1")).want(201)
		list := e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions", nil).want(200)
		sub := list.str("subscriptions.0.uuid")
		path := "/v1/import/subscriptions/" + sub

		e.call("PATCH", path, map[string]any{"cancelled_at": "2023-05-01"}).want(202).is("cancellation_dates", []any{"2023-05-01T00:00:00.000Z"})
		e.call("PATCH", path, map[string]any{"cancelled_at": "2023-04-20T10:00:00Z"}).want(202).
			is("cancellation_dates", []any{"2023-04-20T10:00:00.000Z", "2023-05-01T00:00:00.000Z"})
		// Adding a date already there changes nothing.
		e.call("PATCH", path, map[string]any{"cancelled_at": "2023-05-01 00:00:00"}).want(202).
			is("cancellation_dates", []any{"2023-04-20T10:00:00.000Z", "2023-05-01T00:00:00.000Z"})

		r := e.call("PATCH", path, replace.Request).want(replace.Code)
		invShape(t, "replace", invJSON(t, replace.Response), r.body, nil, nil)
		r.is("cancellation_dates", []any{"1999-12-31T22:00:00.000Z"})
		e.call("PATCH", path, map[string]any{"cancellation_dates": []any{}}).want(202).is("cancellation_dates", []any{})
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions", nil).want(200).is("subscriptions.0.cancellation_dates", []any{})

		e.call("PATCH", path, map[string]any{"cancelled_at": "2999-01-01"}).want(422).errorIs("errors", "cancelled_at", "must be in the past")
		e.call("PATCH", path, map[string]any{"cancelled_at": "soon"}).want(422).errorIs("errors", "cancelled_at", "must be a date")
		e.call("PATCH", path, map[string]any{"cancelled_at": 17}).want(422).errorIs("errors", "cancelled_at", "must be a date string")
		e.call("PATCH", path, map[string]any{"cancellation_dates": []any{"2020-01-01", "nope"}}).want(422).
			errorIs("errors", "cancellation_dates[1]", "must be a date")
		e.call("PATCH", path, map[string]any{"cancellation_dates": "2020-01-01"}).want(422).errorIs("errors", "cancellation_dates", "must be an array")
		e.call("PATCH", path, map[string]any{"cancelled_at": "2020-01-01", "cancellation_dates": []any{}}).want(422).
			errorIs("errors", "cancellation_dates", "not both")
		e.call("PATCH", path, map[string]any{}).want(400).is("param", "cancelled_at")
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions", nil).want(200).is("subscriptions.0.cancellation_dates", []any{})

		e.call("PATCH", "/v1/import/subscriptions/sub_nope", map[string]any{"cancelled_at": "2020-01-01"}).want(404).is("error", "Subscription not found")
		o := e.other()
		o.call("PATCH", path, map[string]any{"cancelled_at": "2020-01-01"}).want(404)
		o.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions", nil).want(404).is("error", "Customer not found")
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions?per_page=0", nil).want(400)
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions?cursor=bad", nil).want(400)
	})
}
