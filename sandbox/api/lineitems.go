package api

import (
	"net/http"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// lineItemRoutes registers the routes of line items: created on an existing
// invoice (both of ChartMogul's paths, a flat line item or {"line_items":
// [...]}), and read, changed, deleted and disabled by uuid or by
// ?data_source_uuid=&external_id=.
func (s *Server) lineItemRoutes(route router) {
	route("POST /v1/import/invoices/{uuid}/line_items", s.createLineItems)
	route("POST /v1/invoices/{uuid}/line_items", s.createLineItems)
	route("GET /v1/line_items", s.findLineItems)
	route("GET /v1/line_items/{uuid}", s.getLineItem)
	route("PATCH /v1/line_items", s.updateLineItem)
	route("PATCH /v1/line_items/{uuid}", s.updateLineItem)
	route("DELETE /v1/line_items", s.deleteLineItem)
	route("DELETE /v1/line_items/{uuid}", s.deleteLineItem)
	for _, state := range []string{"disabled_state", "disabled_status"} {
		route("PATCH /v1/line_items/"+state, s.disableLineItem)
		route("PATCH /v1/line_items/{uuid}/"+state, s.disableLineItem)
	}
}

// createLineItems adds line items to an existing invoice, through a strict
// batch like every single-object write: 201 with the line item (or
// {"line_items": [...]} when the request was wrapped so), 422 with the
// errors map, in which case none is stored.
func (s *Server) createLineItems(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	inv, err := s.Store.Invoice(ctx, accountOf(ctx), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	members, err := objectMembers(body)
	if err != nil {
		return err
	}
	elems, wrapped := []jsontext.Value{jsontext.Value(body)}, false
	if v, ok := members["line_items"]; ok && v.Kind() == '[' {
		if elems, err = requiredArray(members, "line_items", "line item"); err != nil {
			return err
		}
		wrapped = true
	}
	b := chartmogul.NewBatch(s.Now())
	for _, e := range elems {
		if e.Kind() != '{' {
			return chartmogul.Invalid(map[string]string{"line_items": "each element of line_items must be a JSON object; got " + describeValue(e)})
		}
		i, _, err := b.Add(chartmogul.RecordLineItems, e, lineItemMembers...)
		if err != nil {
			return err
		}
		b.LineItems[i].InvoiceExternalID = inv.ExternalID
	}
	ch, err := s.apply(ctx, dataSourceOfInvoice(inv), b, chartmogul.RecordLineItems)
	if err != nil {
		return err
	}
	out := make([]any, len(ch.NewLineItems))
	for i, l := range ch.NewLineItems {
		li, err := s.Store.FindLineItem(ctx, accountOf(ctx), store.Ref{UUID: l.LineItem.UUID})
		if err != nil {
			return err
		}
		out[i] = toLineItem(li)
	}
	if wrapped {
		writeJSON(w, http.StatusCreated, map[string]any{"line_items": out})
	} else {
		writeJSON(w, http.StatusCreated, out[0])
	}
	return nil
}

// getLineItem answers one line item.
func (s *Server) getLineItem(w http.ResponseWriter, r *http.Request) error {
	li, err := s.Store.FindLineItem(r.Context(), accountOf(r.Context()), store.Ref{UUID: r.PathValue("uuid")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toLineItem(li))
	return nil
}

// findLineItems answers the line item with ?data_source_uuid=&external_id=
// as a list, {"line_items": [...]}, as the Node client's LineItem.all reads
// it; empty when there is none.
func (s *Server) findLineItems(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.refOf(r, nil, false)
	if err != nil {
		return err
	}
	out := []any{}
	li, err := s.Store.FindLineItem(r.Context(), accountOf(r.Context()), ref)
	switch {
	case err == nil:
		out = append(out, toLineItem(li))
	case !chartmogul.IsNotFound(err):
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"line_items": out})
	return nil
}

// updatableLineItemMembers are the line item fields PATCH may change.
var updatableLineItemMembers = []string{"external_id", "type", "amount_in_cents", "quantity", "subscription_external_id",
	"subscription_set_external_id", "plan_uuid", "plan_external_id", "service_period_start", "service_period_end", "cancelled_at",
	"prorated", "proration_type", "discount_amount_in_cents", "discount_code", "discount_description", "tax_amount_in_cents",
	"transaction_fees_in_cents", "transaction_fees_currency", "account_code", "description", "event_order", "balance_transfer"}

// lineItemRecord is a stored line item as the fields of a line item record.
func lineItemRecord(li *chartmogul.LineItem) map[string]any {
	rec := map[string]any{"type": li.Type, "amount_in_cents": li.AmountInCents, "quantity": li.Quantity, "prorated": li.Prorated,
		"discount_amount_in_cents": li.DiscountAmountInCents, "discount_code": li.DiscountCode, "discount_description": li.DiscountDescription,
		"tax_amount_in_cents": li.TaxAmountInCents, "transaction_fees_in_cents": li.TransactionFeesInCents,
		"transaction_fees_currency": li.TransactionFeesCurrency, "account_code": li.AccountCode, "description": li.Description,
		"balance_transfer": li.BalanceTransfer, "external_id": li.ExternalID, "subscription_external_id": li.SubscriptionExternalID,
		"subscription_set_external_id": li.SubscriptionSetExternalID, "plan_uuid": li.PlanUUID, "proration_type": li.ProrationType}
	for k, t := range map[string]*time.Time{"service_period_start": li.ServicePeriodStart, "service_period_end": li.ServicePeriodEnd,
		"cancelled_at": li.CancelledAt} {
		if t != nil {
			rec[k] = exactTime(*t)
		}
	}
	if li.EventOrder != nil {
		rec["event_order"] = *li.EventOrder
	}
	return rec
}

// updateLineItem changes a line item's fields, with the rules of a new one:
// 200 with the line item, 422 with the errors map.
func (s *Server) updateLineItem(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	members, err := objectMembers(body)
	if err != nil {
		return err
	}
	ref, err := s.refOf(r, members, false)
	if err != nil {
		return err
	}
	cur, err := s.Store.FindLineItem(ctx, accountOf(ctx), ref)
	if err != nil {
		return err
	}
	rec := lineItemRecord(cur)
	if v, ok := members["plan_external_id"]; ok && v.Kind() != 'n' {
		if _, byUUID := members["plan_uuid"]; !byUUID {
			delete(rec, "plan_uuid")
		}
	}
	b, i, err := s.updatedRecord(chartmogul.RecordLineItems, rec, members, updatableLineItemMembers)
	if err != nil {
		return err
	}
	li := b.LineItems[i]
	li.UUID = cur.UUID
	updated, err := s.Store.UpdateLineItem(ctx, accountOf(ctx), &li)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toLineItem(updated))
	return nil
}

// deleteLineItem deletes a line item (and its subscription, when no other
// line item is left on it): 204.
func (s *Server) deleteLineItem(w http.ResponseWriter, r *http.Request) error {
	members, err := s.optionalMembers(w, r)
	if err != nil {
		return err
	}
	ref, err := s.refOf(r, members, true)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteLineItem(r.Context(), accountOf(r.Context()), ref); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// disableLineItem disables or enables a line item: 200 with the line item
// and its disabled state.
func (s *Server) disableLineItem(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref, disabled, err := s.disableRequest(w, r)
	if err != nil {
		return err
	}
	li, err := s.Store.SetLineItemDisabled(ctx, accountOf(ctx), ref, disabled, disabledBy(callerOf(ctx)))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, lineItemWithState(li))
	return nil
}
