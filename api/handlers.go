package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur"
	"github.com/recurhq/recur/store"
)

// ping answers an authenticated caller: clients ping to check their key.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"data": "pong!"})
	return nil
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) error {
	a := callerOf(r.Context()).account
	writeJSON(w, http.StatusOK, accountJSON{ID: a.UUID, Name: a.Name, Currency: a.Currency, TimeZone: a.TimeZone, WeekStartOn: a.WeekStartOn})
	return nil
}

// decodeBody reads a JSON object body into v. Members Recur does not know
// are ignored, as ChartMogul ignores them (the Go client sends read-only
// members such as uuid and created_at, empty).
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, tooLarge, err := readBody(w, r, s.MaxBody)
	if tooLarge {
		return recur.Errorf(recur.ETOOLARGE, "The request body is over the limit of %s.", megabytes(s.MaxBody))
	}
	if err != nil {
		return recur.Errorf(recur.EBADREQUEST, "The request body could not be read: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v, json.RejectUnknownMembers(false)); err != nil {
		var se *json.SemanticError
		if errors.As(err, &se) && se.JSONPointer != "" {
			return &recur.Error{Code: recur.EBADREQUEST, Param: strings.TrimPrefix(string(se.JSONPointer), "/"), Message: "The request body has a member of the wrong type at " + string(se.JSONPointer) + ": " + se.Err.Error()}
		}
		return &recur.Error{Code: recur.EBADREQUEST, Message: "The request body is not a valid JSON object: " + err.Error(), Err: err}
	}
	return nil
}

func (s *Server) createDataSource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name   *string `json:"name"`
		System string  `json:"system"`
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	ds, err := s.Store.CreateDataSource(r.Context(), callerOf(r.Context()).account.ID, name, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toDataSource(ds))
	return nil
}

func (s *Server) listDataSources(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	list, err := s.Store.ListDataSources(r.Context(), callerOf(r.Context()).account.ID, store.DataSourceFilter{Name: q.Get("name"), System: q.Get("system")})
	if err != nil {
		return err
	}
	out := make([]dataSourceJSON, len(list))
	for i := range list {
		out[i] = toDataSource(&list[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"data_sources": out})
	return nil
}

func (s *Server) getDataSource(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.Store.DataSource(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("ds"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toDataSource(ds))
	return nil
}

func (s *Server) deleteDataSource(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteDataSource(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("ds")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// offsets holds the deprecated offset keys ChartMogul still sends on the
// first page of a list and leaves out on pages asked for by cursor.
type offsets struct {
	CurrentPage *int `json:"current_page,omitzero"`
	TotalPages  *int `json:"total_pages,omitzero"`
}

func firstPage(p store.Page, total int) offsets {
	if p.Before != 0 {
		return offsets{}
	}
	one, pages := 1, (total+p.Limit-1)/p.Limit
	return offsets{CurrentPage: &one, TotalPages: &pages}
}

type customersPage struct {
	Entries []customerJSON `json:"entries"`
	HasMore bool           `json:"has_more"`
	PerPage *int           `json:"per_page,omitzero"`
	Page    *int           `json:"page,omitzero"`
	offsets
	Cursor *string `json:"cursor"`
}

type plansPage struct {
	Plans []planJSON `json:"plans"`
	offsets
	Cursor  *string `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

type invoicesPage struct {
	Invoices []invoiceJSON `json:"invoices"`
	offsets
	Cursor  *string `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	p, err := page(r, "customers")
	if err != nil {
		return err
	}
	p.Total = p.Before == 0
	q := r.URL.Query()
	list, total, err := s.Store.ListCustomers(r.Context(), c.account.ID, store.CustomerFilter{DataSourceUUID: q.Get("data_source_uuid"), ExternalID: q.Get("external_id")}, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "customers", c.account.ID, func(c *recur.Customer) int64 { return c.ID })
	entries := make([]customerJSON, len(list))
	base := baseURL(r)
	for i := range list {
		entries[i] = toCustomer(&list[i], c.account, base)
	}
	out := customersPage{Entries: entries, HasMore: more, offsets: firstPage(p, total), Cursor: optString(cursor)}
	if out.CurrentPage != nil {
		out.PerPage, out.Page = &p.Limit, out.CurrentPage
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	cus, err := s.Store.Customer(r.Context(), c.account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCustomer(cus, c.account, baseURL(r)))
	return nil
}

func (s *Server) listPlans(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	p, err := page(r, "plans")
	if err != nil {
		return err
	}
	p.Total = p.Before == 0
	q := r.URL.Query()
	list, total, err := s.Store.ListPlans(r.Context(), c.account.ID, store.PlanFilter{DataSourceUUID: q.Get("data_source_uuid"), ExternalID: q.Get("external_id")}, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "plans", c.account.ID, func(p *recur.Plan) int64 { return p.ID })
	plans := make([]planJSON, len(list))
	for i := range list {
		plans[i] = toPlan(&list[i])
	}
	writeJSON(w, http.StatusOK, plansPage{Plans: plans, offsets: firstPage(p, total), Cursor: optString(cursor), HasMore: more})
	return nil
}

func (s *Server) getPlan(w http.ResponseWriter, r *http.Request) error {
	pl, err := s.Store.Plan(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPlan(pl))
	return nil
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

type eventsMetaJSON struct {
	NextKey    *int64  `json:"next_key"`
	PrevKey    *int64  `json:"prev_key"`
	BeforeKey  *string `json:"before_key"`
	Page       int     `json:"page"`
	TotalPages int     `json:"total_pages"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	p, err := page(r, "subscription_events")
	if err != nil {
		return err
	}
	p.Total = true
	q := r.URL.Query()
	list, total, err := s.Store.ListEvents(r.Context(), c.account.ID, store.EventFilter{
		DataSourceUUID: q.Get("data_source_uuid"), ExternalID: q.Get("external_id"), CustomerExternalID: q.Get("customer_external_id"),
		CustomerUUID: q.Get("customer_uuid"), SubscriptionExternalID: q.Get("subscription_external_id"), EventType: q.Get("event_type"),
		PlanExternalID: q.Get("plan_external_id")}, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "subscription_events", c.account.ID, func(e *recur.SubscriptionEvent) int64 { return e.ID })
	events := make([]eventJSON, len(list))
	for i := range list {
		events[i] = toEvent(&list[i])
	}
	meta := eventsMetaJSON{Page: 1, TotalPages: (total + p.Limit - 1) / p.Limit}
	if len(list) > 0 {
		last := list[len(list)-1]
		meta.NextKey = &last.ID
		before := millis(last.CreatedAt)
		meta.BeforeKey = &before
	}
	writeJSON(w, http.StatusOK, struct {
		Events  []eventJSON    `json:"subscription_events"`
		Meta    eventsMetaJSON `json:"meta"`
		Cursor  *string        `json:"cursor"`
		HasMore bool           `json:"has_more"`
	}{events, meta, optString(cursor), more})
	return nil
}
