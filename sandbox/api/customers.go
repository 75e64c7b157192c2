package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
)

// customerRoutes registers the customer routes.
func (s *Server) customerRoutes(route router) {
	route("POST /v1/customers", s.createCustomer)
	route("GET /v1/customers", s.listCustomers)
	route("GET /v1/customers/search", s.searchCustomers)
	route("GET /v1/customers/{uuid}", s.getCustomer)
	route("PATCH /v1/customers/{uuid}", s.updateCustomer)
	route("DELETE /v1/customers/{uuid}", s.deleteCustomer)

	route("GET /v1/customers/{uuid}/attributes", s.getCustomerAttributes)
	route("POST /v1/customers/{uuid}/attributes/tags", s.addCustomerTags)
	route("DELETE /v1/customers/{uuid}/attributes/tags", s.removeCustomerTags)
	route("POST /v1/customers/{uuid}/attributes/custom", s.addCustomAttributes)
	route("PUT /v1/customers/{uuid}/attributes/custom", s.updateCustomAttributes)
	route("DELETE /v1/customers/{uuid}/attributes/custom", s.removeCustomAttributes)

	route("POST /v1/customers/attributes/tags", s.tagCustomersByEmail)
	route("POST /v1/customers/attributes/custom", s.setCustomByEmail)
	route("POST /v1/customers/merges", s.mergeCustomers)
	route("POST /v1/customers/unmerges", s.unmergeCustomers)
}

// dataSourceUUIDsOf and externalIDsOf are the identities a customer lists:
// its own, then those of customers merged into it.
func dataSourceUUIDsOf(c *chartmogul.Customer) []string {
	if len(c.DataSourceUUIDs) == 0 {
		return []string{c.DataSourceUUID}
	}
	return c.DataSourceUUIDs
}

func externalIDsOf(c *chartmogul.Customer) []string {
	if len(c.ExternalIDs) == 0 {
		return []string{c.ExternalID}
	}
	return c.ExternalIDs
}

// customersFirstPage is the first page of a customer list, with the offset
// keys ChartMogul still sends there; customersNextPage is a page asked for by
// cursor, which has none. Key order follows the recordings.
type customersFirstPage struct {
	Entries     []customerJSON `json:"entries"`
	CurrentPage int            `json:"current_page"`
	TotalPages  int            `json:"total_pages"`
	HasMore     bool           `json:"has_more"`
	PerPage     int            `json:"per_page"`
	Page        int            `json:"page"`
	Cursor      *string        `json:"cursor"`
}

type customersNextPage struct {
	Entries []customerJSON `json:"entries"`
	Cursor  *string        `json:"cursor"`
	HasMore bool           `json:"has_more"`
}

// customerStatuses maps the status filter's values, in the underscored form
// the clients send, to the statuses customers show.
var customerStatuses = []string{"New Lead", "Working Lead", "Qualified Lead", "Unqualified Lead", "Active", "Past Due", "Cancelled"}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.CustomerFilter{DataSourceUUID: q.Get("data_source_uuid"), ExternalID: q.Get("external_id"), System: q.Get("system")}
	if v := q.Get("status"); v != "" {
		st := strings.ReplaceAll(v, "_", " ")
		if !slices.Contains(customerStatuses, st) {
			names := make([]string, len(customerStatuses))
			for i, s := range customerStatuses {
				names[i] = strings.ReplaceAll(s, " ", "_")
			}
			return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "status", Message: fmt.Sprintf(
				"Parameter \"status\" must be one of %s; got %s.", strings.Join(names, ", "), chartmogul.Quote(v))}
		}
		f.Status = st
	}
	_, err := s.writeCustomers(w, r, f, true)
	return err
}

// searchCustomers finds customers by e-mail address (exact match). When
// none has it, the answer is ChartMogul's 404 naming the parameter.
func (s *Server) searchCustomers(w http.ResponseWriter, r *http.Request) error {
	email := r.URL.Query().Get("email")
	if email == "" {
		return missing("email")
	}
	found, err := s.writeCustomers(w, r, store.CustomerFilter{Email: email}, false)
	if err != nil {
		return err
	}
	if !found {
		return &chartmogul.Error{Code: chartmogul.ENOTFOUND, Param: "email", Message: fmt.Sprintf("Can't find any customers with email: %q", email)}
	}
	return nil
}

// writeCustomers answers one page of the customers f matches, oldest first
// as ChartMogul lists them. It reports whether the filter matched any
// customer; when it matched none and emptyOK is false it writes nothing, so
// that the caller can answer otherwise.
func (s *Server) writeCustomers(w http.ResponseWriter, r *http.Request, f store.CustomerFilter, emptyOK bool) (bool, error) {
	c := callerOf(r.Context())
	p, err := page(r, "customers")
	if err != nil {
		return false, err
	}
	first := p.Before == 0
	p.Total = first
	// The cursor holds the last id shown; customers follow in ascending order.
	p.OldestFirst, p.After, p.Before = true, p.Before, 0
	list, total, err := s.Store.ListCustomers(r.Context(), c.account.ID, f, p)
	if err != nil {
		return false, err
	}
	if first && total == 0 && !emptyOK {
		return false, nil
	}
	list, cursor, more := pageResult(list, p, "customers", c.account.ID, func(c *chartmogul.Customer) int64 { return c.ID })
	entries := make([]customerJSON, len(list))
	base := baseURL(r)
	for i := range list {
		entries[i] = toCustomer(&list[i], c.account, base)
	}
	if !first {
		writeJSON(w, http.StatusOK, customersNextPage{Entries: entries, Cursor: optString(cursor), HasMore: more})
		return true, nil
	}
	// ChartMogul counts an empty list as one (empty) page.
	pages := max(1, (total+p.Limit-1)/p.Limit)
	writeJSON(w, http.StatusOK, customersFirstPage{Entries: entries, CurrentPage: 1, TotalPages: pages, HasMore: more,
		PerPage: p.Limit, Page: 1, Cursor: optString(cursor)})
	return total > 0, nil
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
	b := chartmogul.NewBatch(s.Now())
	i, raw, err := b.Add(chartmogul.RecordCustomers, body, customerMembers...)
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
	ch, err := s.apply(r.Context(), ds, b, chartmogul.RecordCustomers)
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

// updateCustomer changes the fields a PATCH body carries and leaves the
// others alone. The body is decoded as a bulk customer record (the same
// field rules and messages as an import), matched to the stored customer and
// merged by the fields it gave, exactly as re-importing the customer would;
// external_id and data_source_uuid may be sent but do not change. Beyond the
// record: status (lead statuses only) and owner replace the stored ones,
// attributes.tags replaces the tags, attributes.custom (map or list form)
// updates the keys it names. It answers 200 with the whole customer.
func (s *Server) updateCustomer(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := callerOf(ctx)
	cus, err := s.Store.Customer(ctx, c.account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	b := chartmogul.NewBatch(s.Now())
	// The customer exists: its record is matched and updated in place, as
	// in a bulk import, rather than refused as a duplicate.
	b.Strict = false
	i, raw, err := b.Add(chartmogul.RecordCustomers, body, slices.Concat(customerMembers, []string{"external_id"})...)
	if err != nil {
		return err
	}
	rec := &b.Customers[i]
	rec.ExternalID = cus.ExternalID
	// Clients that send a retrieved customer back (the Go client's
	// UpdateCustomer) send its derived status with it, Active say: the
	// status it already has changes nothing and is not refused.
	if st, err := rawString(raw, "status"); err == nil && st == cmpOr(cus.Status, cmpOr(cus.LeadStatus, "New Lead")) && !slices.Contains(leadStatuses, st) {
		delete(raw, "status")
	}
	if err := customerExtras(rec, raw, false); err != nil {
		return err
	}
	_, ownerGiven := raw["owner"]
	b.Validate()
	gone := false
	ch, err := s.Store.ApplyChanges(ctx, cus.DataSourceID, bulk.Keys(b), func(ds chartmogul.DataSource, ex *bulk.ExistingRecords) *bulk.ImportChanges {
		if old := ex.Customers[cus.ExternalID]; old == nil || old.ID != cus.ID {
			// Deleted or merged since it was read: nothing to update.
			gone = true
			return &bulk.ImportChanges{Report: &chartmogul.ImportReport{Failures: []chartmogul.RecordProblem{{Type: chartmogul.RecordCustomers, Message: "gone"}}}}
		}
		ch := bulk.Resolve(b, ds, ex)
		if len(ch.Report.Failures) > 0 {
			return ch
		}
		var target *chartmogul.Customer
		for _, u := range ch.UpdatedCustomers {
			if u.ID == cus.ID {
				target = u
			}
		}
		if target == nil {
			m := *ex.Customers[cus.ExternalID]
			target = &m
			ch.UpdatedCustomers = append(ch.UpdatedCustomers, target)
		}
		if rec.LeadStatus != "" {
			target.LeadStatus = rec.LeadStatus
		}
		if ownerGiven {
			target.Owner = rec.Owner
		}
		if rec.Tags != nil {
			target.Tags = rec.Tags
		}
		if rec.Custom != nil {
			target.Custom = mergeCustom(target.Custom, rec.Custom)
		}
		return ch
	})
	if gone {
		return chartmogul.NotFound("Customer")
	}
	if err != nil {
		return err
	}
	if len(ch.Report.Failures) > 0 {
		return chartmogul.Invalid(recordErrors(ch.Report, chartmogul.RecordCustomers))
	}
	updated, err := s.Store.Customer(ctx, c.account.ID, cus.UUID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCustomer(updated, c.account, baseURL(r)))
	return nil
}

// deleteCustomer deletes a customer and its records: 204.
func (s *Server) deleteCustomer(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteCustomer(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("uuid")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// customerExtras reads the members of a customer body beyond the bulk
// record's fields: status (lead statuses only), owner and attributes. On
// create, custom attributes are a list of {type, key, value}; on update a
// map of key to value; both forms are accepted on both verbs.
func customerExtras(c *chartmogul.Customer, raw map[string]jsontext.Value, create bool) error {
	status, err := rawString(raw, "status")
	if err != nil {
		return err
	}
	if status != "" {
		if !slices.Contains(leadStatuses, status) {
			return chartmogul.Invalid(map[string]string{"status": fmt.Sprintf("status must be one of %s; got %s", strings.Join(leadStatuses, ", "), chartmogul.Quote(status))})
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
		return chartmogul.Invalid(map[string]string{"attributes": "attributes must be an object with tags (a list of strings) and custom attributes: " + err.Error()})
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
// value[, source]} or a map of key to value. Timestamps of the list form are
// stored in ChartMogul's layout (2016-01-31T00:00:00.000Z).
func parseCustom(v jsontext.Value) (map[string]any, error) {
	out := map[string]any{}
	if v.Kind() == '{' {
		if err := json.Unmarshal(v, &out); err != nil {
			return nil, chartmogul.Invalid(map[string]string{"attributes.custom": "custom attributes must map keys to values: " + err.Error()})
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
		return nil, chartmogul.Invalid(map[string]string{"attributes.custom": "custom attributes must be a list of {type, key, value}: " + err.Error()})
	}
	for n, a := range list {
		field := "attributes.custom." + strconv.Itoa(n)
		if a.Key == "" {
			return nil, chartmogul.Invalid(map[string]string{field + ".key": "each custom attribute needs a key"})
		}
		if !slices.Contains(customTypes, a.Type) {
			return nil, chartmogul.Invalid(map[string]string{field + ".type": fmt.Sprintf("type must be one of %s; got %s", strings.Join(customTypes, ", "), chartmogul.Quote(a.Type))})
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
			t, err := chartmogul.ParseTime(sv)
			ok = isStr && err == nil
			if ok {
				a.Value = chartmogul.FormatMillis(t)
			}
		}
		if !ok && a.Value != nil {
			return nil, chartmogul.Invalid(map[string]string{field + ".value": fmt.Sprintf("the value of custom attribute %s must be a %s", chartmogul.Quote(a.Key), strings.ToLower(a.Type))})
		}
		out[a.Key] = a.Value
	}
	return out, nil
}

// mergeCustom sets the keys of update in old and returns the result. A key
// that held a timestamp keeps holding one: a new value that reads as a time
// is stored in ChartMogul's layout, as ChartMogul does for attributes it
// knows to be timestamps.
func mergeCustom(old, update map[string]any) map[string]any {
	out := make(map[string]any, len(old)+len(update))
	for k, v := range old {
		out[k] = v
	}
	for k, v := range update {
		if prev, ok := old[k].(string); ok && isStoredTime(prev) {
			if s, ok := v.(string); ok {
				if t, err := chartmogul.ParseTime(s); err == nil {
					v = chartmogul.FormatMillis(t)
				}
			}
		}
		out[k] = v
	}
	return out
}

// isStoredTime reports whether s is a time in the layout timestamps are
// stored in.
func isStoredTime(s string) bool {
	_, err := time.Parse(chartmogul.LayoutMillis, s)
	return err == nil
}

// Customer attributes: tags and custom attributes, read and changed on
// their own (spec §3.7).

// attributesBody is the answer of GET /v1/customers/{uuid}/attributes.
// ChartMogul's documented form wraps the attributes in "attributes" (and
// older Go clients decode that), while current recordings and newer clients
// read them at the top level; the answer carries both, so every client finds
// them.
type attributesBody struct {
	Attributes attributesJSON `json:"attributes"`
	Tags       []string       `json:"tags"`
	Stripe     map[string]any `json:"stripe"`
	Clearbit   map[string]any `json:"clearbit"`
	Custom     map[string]any `json:"custom"`
}

func (s *Server) getCustomerAttributes(w http.ResponseWriter, r *http.Request) error {
	cus, err := s.Store.Customer(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	a := attributesJSON{Custom: orEmpty(cus.Custom), Clearbit: map[string]any{}, Stripe: map[string]any{}, Tags: append([]string{}, cus.Tags...)}
	writeJSON(w, http.StatusOK, attributesBody{Attributes: a, Tags: a.Tags, Stripe: a.Stripe, Clearbit: a.Clearbit, Custom: a.Custom})
	return nil
}

// tagsBody reads {"tags": [...]}: present, a list of non-empty strings.
func (s *Server) tagsBody(w http.ResponseWriter, r *http.Request) ([]string, error) {
	var in struct {
		Tags *[]string `json:"tags"`
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return nil, err
	}
	return checkTags(in.Tags)
}

// checkTags checks a body's tags: present, a list of non-empty strings.
func checkTags(tags *[]string) ([]string, error) {
	if tags == nil {
		return nil, missing("tags")
	}
	for i, t := range *tags {
		if strings.TrimSpace(t) == "" || len(t) > chartmogul.MaxIDLength {
			return nil, chartmogul.Invalid(map[string]string{"tags": fmt.Sprintf("tags[%d] must be a non-empty string of at most %d characters; got %s", i, chartmogul.MaxIDLength, chartmogul.Quote(t))})
		}
	}
	return *tags, nil
}

// addTags adds the tags a customer lacks.
func addTags(c *chartmogul.Customer, tags []string) {
	for _, t := range tags {
		if !slices.Contains(c.Tags, t) {
			c.Tags = append(c.Tags, t)
		}
	}
}

// tagCustomersByEmail adds tags to every customer with an e-mail address
// (POST /v1/customers/attributes/tags {"email", "tags"}) and answers those
// customers.
func (s *Server) tagCustomersByEmail(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string    `json:"email"`
		Tags  *[]string `json:"tags"`
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return err
	}
	return s.changeByEmail(w, r, in.Email, func(c *chartmogul.Customer) error {
		addTags(c, tags)
		return nil
	})
}

// setCustomByEmail adds or changes custom attributes of every customer with
// an e-mail address (POST /v1/customers/attributes/custom {"email",
// "custom"}) and answers those customers.
func (s *Server) setCustomByEmail(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email  string         `json:"email"`
		Custom jsontext.Value `json:"custom"`
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	if len(in.Custom) == 0 || in.Custom.Kind() == 'n' {
		return missing("custom")
	}
	custom, err := parseCustom(in.Custom)
	if err != nil {
		return err
	}
	return s.changeByEmail(w, r, in.Email, func(c *chartmogul.Customer) error {
		c.Custom = mergeCustom(c.Custom, custom)
		return nil
	})
}

// changeByEmail applies change to the attributes of every customer of the
// account with this e-mail address and answers {"entries": [customers]}, or
// 404 when none has it.
func (s *Server) changeByEmail(w http.ResponseWriter, r *http.Request, email string, change func(c *chartmogul.Customer) error) error {
	if email == "" {
		return missing("email")
	}
	ctx := r.Context()
	c := callerOf(ctx)
	list, _, err := s.Store.ListCustomers(ctx, c.account.ID, store.CustomerFilter{Email: email}, store.Page{Limit: maxPerPage, OldestFirst: true})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return &chartmogul.Error{Code: chartmogul.ENOTFOUND, Param: "email", Message: fmt.Sprintf("Can't find any customers with email: %q", email)}
	}
	// ChartMogul answers these routes with a short form of each customer.
	type brief struct {
		ID            int64   `json:"id"`
		UUID          string  `json:"uuid"`
		ExternalID    string  `json:"external_id"`
		Name          string  `json:"name"`
		Email         string  `json:"email"`
		Status        string  `json:"status"`
		CustomerSince *string `json:"customer-since"`
		Attributes    struct {
			Tags   []string       `json:"tags"`
			Stripe map[string]any `json:"stripe"`
			Custom map[string]any `json:"custom"`
		} `json:"attributes"`
	}
	entries := make([]brief, 0, len(list))
	for _, cus := range list {
		changed, err := s.changeAttributes(ctx, cus.UUID, change)
		if err != nil {
			return err
		}
		full := toCustomer(changed, c.account, baseURL(r))
		b := brief{ID: full.ID, UUID: full.UUID, ExternalID: full.ExternalID, Name: full.Name, Email: full.Email, Status: full.Status, CustomerSince: full.CustomerSince}
		b.Attributes.Tags, b.Attributes.Stripe, b.Attributes.Custom = full.Attributes.Tags, full.Attributes.Stripe, full.Attributes.Custom
		entries = append(entries, b)
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}

// changeAttributes applies change to the customer's attributes and returns
// the customer as stored afterwards.
func (s *Server) changeAttributes(ctx context.Context, uuid string, change func(c *chartmogul.Customer) error) (*chartmogul.Customer, error) {
	return s.Store.UpdateCustomerAttributes(ctx, callerOf(ctx).account.ID, uuid, change)
}

// addCustomerTags adds tags the customer lacks and answers all its tags.
func (s *Server) addCustomerTags(w http.ResponseWriter, r *http.Request) error {
	tags, err := s.tagsBody(w, r)
	if err != nil {
		return err
	}
	cus, err := s.changeAttributes(r.Context(), r.PathValue("uuid"), func(c *chartmogul.Customer) error {
		addTags(c, tags)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string][]string{"tags": append([]string{}, cus.Tags...)})
	return nil
}

// removeCustomerTags removes tags and answers the ones left.
func (s *Server) removeCustomerTags(w http.ResponseWriter, r *http.Request) error {
	tags, err := s.tagsBody(w, r)
	if err != nil {
		return err
	}
	cus, err := s.changeAttributes(r.Context(), r.PathValue("uuid"), func(c *chartmogul.Customer) error {
		c.Tags = slices.DeleteFunc(c.Tags, func(t string) bool { return slices.Contains(tags, t) })
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string][]string{"tags": append([]string{}, cus.Tags...)})
	return nil
}

// customBody reads the "custom" member of a body, which must be present.
func (s *Server) customBody(w http.ResponseWriter, r *http.Request) (jsontext.Value, error) {
	var in struct {
		Custom jsontext.Value `json:"custom"`
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return nil, err
	}
	if len(in.Custom) == 0 || in.Custom.Kind() == 'n' {
		return nil, missing("custom")
	}
	return in.Custom, nil
}

// addCustomAttributes adds custom attributes given as a list of {type, key,
// value} (or a map) and answers all the customer's custom attributes.
func (s *Server) addCustomAttributes(w http.ResponseWriter, r *http.Request) error {
	return s.setCustomAttributes(w, r, '[')
}

// updateCustomAttributes sets custom attributes given as a map of key to
// value (or a list) and answers all the customer's custom attributes.
func (s *Server) updateCustomAttributes(w http.ResponseWriter, r *http.Request) error {
	return s.setCustomAttributes(w, r, '{')
}

func (s *Server) setCustomAttributes(w http.ResponseWriter, r *http.Request, form jsontext.Kind) error {
	v, err := s.customBody(w, r)
	if err != nil {
		return err
	}
	if k := v.Kind(); k != '[' && k != '{' {
		want := "a list of {type, key, value}"
		if form == '{' {
			want = "an object mapping keys to values"
		}
		return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "custom", Message: fmt.Sprintf("Parameter \"custom\" must be %s.", want)}
	}
	custom, err := parseCustom(v)
	if err != nil {
		return err
	}
	cus, err := s.changeAttributes(r.Context(), r.PathValue("uuid"), func(c *chartmogul.Customer) error {
		c.Custom = mergeCustom(c.Custom, custom)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]map[string]any{"custom": orEmpty(cus.Custom)})
	return nil
}

// removeCustomAttributes removes the custom attributes a list of keys names
// and answers the ones left. ChartMogul's recording answers 204, but the Go
// client decodes a body here, and every client accepts 200 with one.
func (s *Server) removeCustomAttributes(w http.ResponseWriter, r *http.Request) error {
	v, err := s.customBody(w, r)
	if err != nil {
		return err
	}
	var keys []string
	if err := json.Unmarshal(v, &keys); err != nil {
		return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "custom", Message: "Parameter \"custom\" must be a list of the keys to remove."}
	}
	cus, err := s.changeAttributes(r.Context(), r.PathValue("uuid"), func(c *chartmogul.Customer) error {
		for _, k := range keys {
			delete(c.Custom, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]map[string]any{"custom": orEmpty(cus.Custom)})
	return nil
}

// Merges (spec §3.7).

// customerRefJSON names a customer in a merge: by customer_uuid, or by
// data_source_uuid and external_id.
type customerRefJSON struct {
	CustomerUUID   string `json:"customer_uuid"`
	DataSourceUUID string `json:"data_source_uuid"`
	ExternalID     string `json:"external_id"`
}

func customerRef(param string, r *customerRefJSON) (store.CustomerRef, error) {
	if r == nil {
		return store.CustomerRef{}, missing(param)
	}
	if r.CustomerUUID != "" {
		return store.CustomerRef{UUID: r.CustomerUUID}, nil
	}
	if r.DataSourceUUID == "" || r.ExternalID == "" {
		return store.CustomerRef{}, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: param, Message: fmt.Sprintf(
			"Parameter %q must name a customer by customer_uuid, or by data_source_uuid and external_id.", param)}
	}
	return store.CustomerRef{DataSourceUUID: r.DataSourceUUID, ExternalID: r.ExternalID}, nil
}

// mergeCustomers merges the customer "from" names into the one "into"
// names and answers 202 {}, as ChartMogul does. Within one data source the
// records move; across data sources the customers are linked (see
// store.MergeCustomers).
func (s *Server) mergeCustomers(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		From *customerRefJSON `json:"from"`
		Into *customerRefJSON `json:"into"`
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	from, err := customerRef("from", in.From)
	if err != nil {
		return err
	}
	into, err := customerRef("into", in.Into)
	if err != nil {
		return err
	}
	if err := s.Store.MergeCustomers(r.Context(), callerOf(r.Context()).account.ID, from, into); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
	return nil
}

// unmergeCustomers separates a customer merged in from another data source
// and answers 202 {}. move_to_new_customer names CRM records (contacts,
// notes, tasks) Recur does not keep; it is accepted and ignored.
func (s *Server) unmergeCustomers(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		CustomerUUID   string   `json:"customer_uuid"`
		DataSourceUUID string   `json:"data_source_uuid"`
		ExternalID     string   `json:"external_id"`
		MoveToNew      []string `json:"move_to_new_customer"`
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	for _, p := range []struct{ name, v string }{{"customer_uuid", in.CustomerUUID}, {"data_source_uuid", in.DataSourceUUID}, {"external_id", in.ExternalID}} {
		if p.v == "" {
			return missing(p.name)
		}
	}
	if err := s.Store.UnmergeCustomer(r.Context(), callerOf(r.Context()).account.ID, in.CustomerUUID, in.DataSourceUUID, in.ExternalID); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
	return nil
}
