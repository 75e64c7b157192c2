package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur"
	"github.com/recurhq/recur/bulk"
	"github.com/recurhq/recur/store"
)

// customerRoutes registers the customer routes.
func (s *Server) customerRoutes(route router) {
	route("POST /v1/customers", s.createCustomer)
	route("GET /v1/customers", s.listCustomers)
	route("GET /v1/customers/{uuid}", s.getCustomer)
}

type customersPage struct {
	Entries []customerJSON `json:"entries"`
	HasMore bool           `json:"has_more"`
	PerPage *int           `json:"per_page,omitzero"`
	Page    *int           `json:"page,omitzero"`
	offsets
	Cursor *string `json:"cursor"`
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

// leadStatuses are the statuses a customer may be given through the API;
// the others (Active, Past Due, Cancelled) follow from its subscriptions.
var leadStatuses = []string{"New Lead", "Working Lead", "Qualified Lead", "Unqualified Lead"}

// customerMembers are the members of a customer body that are not fields of
// the bulk customer record.
var customerMembers = []string{"data_source_uuid", "attributes", "status", "owner", "primary_contact",
	"id", "uuid", "customer-since", "data_source_uuids", "external_ids", "address", "mrr", "arr",
	"billing-system-url", "chartmogul-url", "billing-system-type", "currency", "currency-sign", "errors"}

// createCustomer creates one customer: 201 with the customer, 422 with
// ChartMogul's errors map (duplicates with the message the Go client's
// IsAlreadyExists recognises).
func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) error {
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	b := bulk.NewBatch(s.Now())
	i, raw, err := b.Add(recur.RecordCustomers, body, customerMembers...)
	if err != nil {
		return err
	}
	ds, err := s.dataSourceOf(r.Context(), raw)
	if err != nil {
		return err
	}
	c := &b.Customers[i]
	if err := customerExtras(c, raw, true); err != nil {
		return err
	}
	ch, err := s.apply(r.Context(), ds, b, recur.RecordCustomers)
	if err != nil {
		return err
	}
	created, err := s.Store.Customer(r.Context(), ds.AccountID, ch.NewCustomers[0].UUID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toCustomer(created, callerOf(r.Context()).account, baseURL(r)))
	return nil
}

// customerExtras reads the members of a customer body beyond the bulk
// record's fields: status (lead statuses only), owner and attributes. On
// create, custom attributes are a list of {type, key, value}; on update a
// map of key to value; both forms are accepted on both verbs.
func customerExtras(c *recur.Customer, raw map[string]jsontext.Value, create bool) error {
	status, err := rawString(raw, "status")
	if err != nil {
		return err
	}
	if status != "" {
		if !slices.Contains(leadStatuses, status) {
			return recur.Invalid(map[string]string{"status": fmt.Sprintf("status must be one of %s; got %s", strings.Join(leadStatuses, ", "), recur.Quote(status))})
		}
		c.LeadStatus = status
	} else if create {
		c.LeadStatus = "New Lead"
	}
	if c.Owner, err = rawString(raw, "owner"); err != nil {
		return err
	}
	v, ok := raw["attributes"]
	if !ok || v.Kind() == 'n' {
		return nil
	}
	var attrs struct {
		Tags   []string       `json:"tags"`
		Custom jsontext.Value `json:"custom"`
	}
	if err := json.Unmarshal(v, &attrs, json.RejectUnknownMembers(false)); err != nil {
		return recur.Invalid(map[string]string{"attributes": "attributes must be an object with tags (a list of strings) and custom attributes: " + err.Error()})
	}
	if attrs.Tags != nil {
		c.Tags = attrs.Tags
	}
	if len(attrs.Custom) > 0 && attrs.Custom.Kind() != 'n' {
		custom, err := parseCustom(attrs.Custom)
		if err != nil {
			return err
		}
		c.Custom = custom
	}
	return nil
}

// customTypes are the types of custom attributes ChartMogul knows.
var customTypes = []string{"String", "Integer", "Decimal", "Timestamp", "Boolean"}

// parseCustom reads custom attributes in either form: a list of {type, key,
// value[, source]} or a map of key to value.
func parseCustom(v jsontext.Value) (map[string]any, error) {
	out := map[string]any{}
	if v.Kind() == '{' {
		if err := json.Unmarshal(v, &out); err != nil {
			return nil, recur.Invalid(map[string]string{"attributes.custom": "custom attributes must map keys to values: " + err.Error()})
		}
		return out, nil
	}
	var list []struct {
		Type   string `json:"type"`
		Key    string `json:"key"`
		Value  any    `json:"value"`
		Source string `json:"source"`
	}
	if err := json.Unmarshal(v, &list, json.RejectUnknownMembers(false)); err != nil {
		return nil, recur.Invalid(map[string]string{"attributes.custom": "custom attributes must be a list of {type, key, value}: " + err.Error()})
	}
	for n, a := range list {
		field := "attributes.custom." + strconv.Itoa(n)
		if a.Key == "" {
			return nil, recur.Invalid(map[string]string{field + ".key": "each custom attribute needs a key"})
		}
		if !slices.Contains(customTypes, a.Type) {
			return nil, recur.Invalid(map[string]string{field + ".type": fmt.Sprintf("type must be one of %s; got %s", strings.Join(customTypes, ", "), recur.Quote(a.Type))})
		}
		ok := true
		switch a.Type {
		case "String":
			sv, isStr := a.Value.(string)
			ok = isStr && len(sv) <= 255
		case "Integer":
			f, isNum := a.Value.(float64)
			ok = isNum && f == float64(int64(f))
		case "Decimal":
			_, ok = a.Value.(float64)
		case "Boolean":
			_, ok = a.Value.(bool)
		case "Timestamp":
			sv, isStr := a.Value.(string)
			_, err := recur.ParseTime(sv)
			ok = isStr && err == nil
		}
		if !ok && a.Value != nil {
			return nil, recur.Invalid(map[string]string{field + ".value": fmt.Sprintf("the value of custom attribute %s must be a %s", recur.Quote(a.Key), strings.ToLower(a.Type))})
		}
		out[a.Key] = a.Value
	}
	return out, nil
}
