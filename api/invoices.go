package api

import (
	"net/http"

	"github.com/recurhq/recur"
	"github.com/recurhq/recur/store"
)

// invoiceRoutes registers the routes of invoices, line items and
// transactions.
func (s *Server) invoiceRoutes(route router) {
	route("GET /v1/invoices", s.listInvoices)
	route("GET /v1/invoices/{uuid}", s.getInvoice)
}

type invoicesPage struct {
	Invoices []invoiceJSON `json:"invoices"`
	offsets
	Cursor  *string `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	p, err := page(r, "invoices")
	if err != nil {
		return err
	}
	p.Total = p.Before == 0
	q := r.URL.Query()
	list, total, err := s.Store.ListInvoices(r.Context(), c.account.ID, store.InvoiceFilter{DataSourceUUID: q.Get("data_source_uuid"),
		CustomerUUID: q.Get("customer_uuid"), ExternalID: q.Get("external_id")}, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "invoices", c.account.ID, func(i *recur.Invoice) int64 { return i.ID })
	invoices := make([]invoiceJSON, len(list))
	for i := range list {
		invoices[i] = toInvoice(&list[i], true)
	}
	writeJSON(w, http.StatusOK, invoicesPage{Invoices: invoices, offsets: firstPage(p, total), Cursor: optString(cursor), HasMore: more})
	return nil
}

func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request) error {
	inv, err := s.Store.Invoice(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toInvoice(inv, true))
	return nil
}
