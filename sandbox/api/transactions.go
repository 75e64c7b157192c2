package api

import (
	"net/http"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// transactionRoutes registers the routes of transactions: created on an
// existing invoice, and read, changed, deleted and disabled by uuid or by
// ?data_source_uuid=&external_id=.
func (s *Server) transactionRoutes(route router) {
	route("POST /v1/import/invoices/{uuid}/transactions", s.createTransaction)
	route("GET /v1/transactions", s.findTransactions)
	route("GET /v1/transactions/{uuid}", s.getTransaction)
	route("PATCH /v1/transactions", s.updateTransaction)
	route("PATCH /v1/transactions/{uuid}", s.updateTransaction)
	route("DELETE /v1/transactions", s.deleteTransaction)
	route("DELETE /v1/transactions/{uuid}", s.deleteTransaction)
	for _, state := range []string{"disabled_state", "disabled_status"} {
		route("PATCH /v1/transactions/"+state, s.disableTransaction)
		route("PATCH /v1/transactions/{uuid}/"+state, s.disableTransaction)
	}
}

// createTransaction adds a payment or refund to an existing invoice, through
// a strict batch: 201 with the transaction, 422 with the errors map (a
// stored external id: {"external_id": "has already been taken"}).
func (s *Server) createTransaction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	inv, err := s.Store.Invoice(ctx, accountOf(ctx), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	if _, err := objectMembers(body); err != nil {
		return err
	}
	b := chartmogul.NewBatch(s.Now())
	i, _, err := b.Add(chartmogul.RecordTransactions, body, transactionMembers...)
	if err != nil {
		return err
	}
	b.Transactions[i].InvoiceExternalID = inv.ExternalID
	ch, err := s.apply(ctx, dataSourceOfInvoice(inv), b, chartmogul.RecordTransactions)
	if err != nil {
		return err
	}
	t, err := s.Store.FindTransaction(ctx, accountOf(ctx), store.Ref{UUID: ch.NewTransactions[0].Transaction.UUID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toTransaction(t))
	return nil
}

// getTransaction answers one transaction.
func (s *Server) getTransaction(w http.ResponseWriter, r *http.Request) error {
	t, err := s.Store.FindTransaction(r.Context(), accountOf(r.Context()), store.Ref{UUID: r.PathValue("uuid")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTransaction(t))
	return nil
}

// findTransactions answers the transaction with
// ?data_source_uuid=&external_id= as a list, {"transactions": [...]};
// empty when there is none.
func (s *Server) findTransactions(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.refOf(r, nil, false)
	if err != nil {
		return err
	}
	out := []transactionJSON{}
	t, err := s.Store.FindTransaction(r.Context(), accountOf(r.Context()), ref)
	switch {
	case err == nil:
		out = append(out, toTransaction(t))
	case !chartmogul.IsNotFound(err):
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"transactions": out})
	return nil
}

// updatableTransactionMembers are the transaction fields PATCH may change.
var updatableTransactionMembers = []string{"external_id", "type", "date", "result", "amount_in_cents",
	"transaction_fees_in_cents", "transaction_fees_currency"}

// updateTransaction changes a transaction's fields, with the rules of a new
// one: 200 with the transaction, 422 with the errors map.
func (s *Server) updateTransaction(w http.ResponseWriter, r *http.Request) error {
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
	cur, err := s.Store.FindTransaction(ctx, accountOf(ctx), ref)
	if err != nil {
		return err
	}
	rec := map[string]any{"external_id": cur.ExternalID, "type": cur.Type, "date": exactTime(cur.Date), "result": cur.Result,
		"transaction_fees_currency": cur.TransactionFeesCurrency}
	if cur.AmountInCents != nil {
		rec["amount_in_cents"] = *cur.AmountInCents
	}
	if cur.TransactionFeesInCents != nil {
		rec["transaction_fees_in_cents"] = *cur.TransactionFeesInCents
	}
	b, i, err := s.updatedRecord(chartmogul.RecordTransactions, rec, members, updatableTransactionMembers)
	if err != nil {
		return err
	}
	t := b.Transactions[i]
	t.UUID = cur.UUID
	updated, err := s.Store.UpdateTransaction(ctx, accountOf(ctx), &t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTransaction(updated))
	return nil
}

// deleteTransaction deletes a transaction: 204.
func (s *Server) deleteTransaction(w http.ResponseWriter, r *http.Request) error {
	members, err := s.optionalMembers(w, r)
	if err != nil {
		return err
	}
	ref, err := s.refOf(r, members, true)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteTransaction(r.Context(), accountOf(r.Context()), ref); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// disableTransaction disables or enables a transaction: 200 with the
// transaction and its disabled state.
func (s *Server) disableTransaction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref, disabled, err := s.disableRequest(w, r)
	if err != nil {
		return err
	}
	t, err := s.Store.SetTransactionDisabled(ctx, accountOf(ctx), ref, disabled, disabledBy(callerOf(ctx)))
	if err != nil {
		return err
	}
	j := toTransaction(t)
	j.disabledState = stateOf(t.Disabled, t.DisabledAt, t.DisabledBy, true)
	writeJSON(w, http.StatusOK, j)
	return nil
}
