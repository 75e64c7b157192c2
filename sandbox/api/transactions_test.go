package api_test

import (
	"strings"
	"testing"
)

// TestTransactionCreateMatchesCassette replays the Ruby client's recorded
// transaction import, then the rules and duplicate message.
func TestTransactionCreateMatchesCassette(t *testing.T) {
	calls := invCassette(t, "ruby/ChartMogul_Transactions_Payment/API_Interactions/correctly_interracts_with_the_API.yml")
	createInv := invFind(t, calls, "POST", "/invoices", 0)
	create := invFind(t, calls, "POST", "/transactions", 0)
	invRun(t, func(t *testing.T, e *invEnv) {
		ir := e.call("POST", "/v1/import/customers/"+e.cus.UUID+"/invoices",
			strings.ReplaceAll(createInv.Request, "cus_a6419014-00e0-11f0-aa38-fbbbea2b6c72", e.cus.UUID)).want(createInv.Code)
		invShape(t, "invoice", invJSON(t, createInv.Response), ir.body, nil, nil)
		ir.is("invoices.0.line_items.0.description", nil)
		inv := ir.str("invoices.0.uuid")
		path := "/v1/import/invoices/" + inv + "/transactions"

		r := e.call("POST", path, strings.ReplaceAll(create.Request, "inv_d6921981-c0a7-46f6-a2d5-46367f2f97a1", inv)).want(create.Code)
		invShape(t, "transaction", invJSON(t, create.Response), r.body, nil, []string{"transaction_fees_currency"})
		r.is("external_id", "test_tr_ext_id").is("amount_in_cents", 500).is("transaction_fees_in_cents", 2).is("date", "2016-01-01T12:00:00.000Z").
			is("transaction_fees_currency", nil)
		if !strings.HasPrefix(r.str("uuid"), "tr_") {
			t.Errorf("uuid %s", r.str("uuid"))
		}
		e.call("GET", "/v1/invoices/"+inv, nil).want(200).is("transactions.0.uuid", r.str("uuid"))

		dup := e.call("POST", path, map[string]any{"type": "refund", "date": "2016-01-02", "result": "successful", "external_id": "test_tr_ext_id"}).want(422)
		dup.is("errors", map[string]any{"external_id": "has already been taken"})
		for _, c := range []struct {
			body       map[string]any
			field, msg string
		}{
			{map[string]any{"date": "2016-01-02", "result": "successful"}, "type", "type is required"},
			{map[string]any{"type": "payments", "date": "2016-01-02", "result": "successful"}, "type", "must be one of payment, refund"},
			{map[string]any{"type": "payment", "result": "successful"}, "date", "date is required"},
			{map[string]any{"type": "payment", "date": "2016-01-02"}, "result", "result is required"},
			{map[string]any{"type": "payment", "date": "2016-01-02", "result": "ok"}, "result", "successful, failed"},
			{map[string]any{"type": "payment", "date": "2999-01-02", "result": "failed"}, "date", "must not be in the future"},
			{map[string]any{"type": "payment", "date": "2016-01-02", "result": "failed", "amount_in_cents": "5"}, "amount_in_cents", "without quotes"},
			{map[string]any{"type": "payment", "date": "2016-01-02", "result": "failed", "transaction_fees_currency": "EURO"}, "transaction_fees_currency", "ISO 4217"},
		} {
			e.call("POST", path, c.body).want(422).errorIs("errors", c.field, c.msg)
		}
		e.call("POST", path, `{"type":`).want(400)
		e.call("POST", "/v1/import/invoices/inv_nope/transactions", map[string]any{"type": "payment", "date": "2016-01-02", "result": "failed"}).want(404).
			is("error", "Invoice not found")
		e.other().call("POST", path, map[string]any{"type": "payment", "date": "2016-01-02", "result": "failed"}).want(404)
		if n := e.call("GET", "/v1/invoices/"+inv, nil).want(200).len("transactions"); n != 1 {
			t.Errorf("%d transactions stored, want 1", n)
		}
	})
}

// TestTransactionReadUpdateDelete covers the transaction routes by uuid and
// by external id.
func TestTransactionReadUpdateDelete(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		imp := e.importInvoices(e.invInvoice("inv_1"), e.invInvoice("inv_2")).want(201)
		tr := imp.str("invoices.0.transactions.0.uuid")
		byExt := "/v1/transactions?data_source_uuid=" + e.ds.UUID + "&external_id=tr_inv_1"
		o := e.other()

		e.call("GET", "/v1/transactions/"+tr, nil).want(200).is("uuid", tr).is("type", "payment").is("date", "2023-04-02T00:00:00.000Z")
		e.call("GET", byExt, nil).want(200).is("transactions.0.uuid", tr)
		e.call("GET", "/v1/transactions?external_id=tr_inv_1", nil).want(400).is("param", "data_source_uuid")
		e.call("GET", "/v1/transactions/tr_nope", nil).want(404).is("error", "Transaction not found")
		o.call("GET", "/v1/transactions/"+tr, nil).want(404)

		e.call("PATCH", "/v1/transactions/"+tr, map[string]any{"result": "failed", "amount_in_cents": 100}).want(200).
			is("result", "failed").is("amount_in_cents", 100).is("type", "payment")
		e.call("PATCH", byExt, map[string]any{"type": "refund"}).want(200).is("type", "refund").is("result", "failed")
		e.call("PATCH", "/v1/transactions/"+tr, map[string]any{"amount_in_cents": nil}).want(200).is("amount_in_cents", nil)
		e.call("PATCH", "/v1/transactions/"+tr, map[string]any{"type": "payments"}).want(422).errorIs("errors", "type", "must be one of")
		e.call("PATCH", "/v1/transactions/"+tr, map[string]any{"date": "2999-01-01"}).want(422).errorIs("errors", "date", "future")
		e.call("PATCH", "/v1/transactions/"+tr, map[string]any{"external_id": "tr_inv_2"}).want(422).is("errors", map[string]any{"external_id": "has already been taken"})
		e.call("PATCH", "/v1/transactions/"+tr, map[string]any{"external_id": "tr_new"}).want(200).is("external_id", "tr_new")
		o.call("PATCH", "/v1/transactions/"+tr, map[string]any{}).want(404)

		e.call("PATCH", "/v1/transactions/"+tr+"/disabled_state", map[string]any{"disabled": true}).want(200).is("disabled", true).is("disabled_by", "acme")
		e.call("PATCH", "/v1/transactions/disabled_state?data_source_uuid="+e.ds.UUID+"&external_id=tr_new", map[string]any{"disabled": false}).want(200).
			is("disabled", false).is("disabled_by", nil)

		e.call("DELETE", "/v1/transactions/"+tr, nil).want(204)
		e.call("GET", "/v1/transactions/"+tr, nil).want(404)
		e.call("DELETE", "/v1/transactions", map[string]any{"data_source_uuid": e.ds.UUID, "external_id": "tr_inv_2"}).want(204)
		e.call("DELETE", "/v1/transactions?data_source_uuid="+e.ds.UUID+"&external_id=tr_inv_2", nil).want(404)
		if n := e.call("GET", "/v1/invoices/"+imp.str("invoices.1.uuid"), nil).want(200).len("transactions"); n != 0 {
			t.Errorf("%d transactions left on inv_2", n)
		}
	})
}
