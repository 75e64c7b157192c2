package api

import (
	"bytes"
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

// Invoices, with their line items and transactions, come in through POST
// /v1/import/customers/{uuid}/invoices: every invoice of the request, and
// every line item and transaction nested in it, goes into one strict
// chartmogul.Batch, so the rules and messages are the bulk import's, and the store
// writes the whole request or nothing. Changes to stored invoices (PATCH)
// are validated the same way: the stored record with the request's changes
// laid over it is decoded and validated as a record, and only then stored.

// invoiceRoutes registers the routes of invoices, line items, transactions
// and import-side subscriptions.
func (s *Server) invoiceRoutes(route router) {
	route("POST /v1/import/customers/{uuid}/invoices", s.importInvoices)
	route("GET /v1/import/customers/{uuid}/invoices", s.listCustomerInvoices)
	route("GET /v1/invoices", s.listInvoices)
	route("GET /v1/invoices/{uuid}", s.getInvoice)
	route("PATCH /v1/invoices", s.updateInvoice)
	route("PATCH /v1/invoices/{uuid}", s.updateInvoice)
	route("DELETE /v1/invoices", s.deleteInvoice)
	route("DELETE /v1/invoices/{uuid}", s.deleteInvoice)
	// ChartMogul's docs spell the path disabled_status in one place; the
	// clients send disabled_state. Both are served.
	for _, state := range []string{"disabled_state", "disabled_status"} {
		route("PATCH /v1/invoices/"+state, s.disableInvoice)
		route("PATCH /v1/invoices/{uuid}/"+state, s.disableInvoice)
	}
	route("DELETE /v1/data_sources/{ds}/customers/{uuid}/invoices", s.deleteCustomerInvoices)
	route("PUT /v1/data_sources/{ds}/invoices/{external_id}/status", s.setInvoiceStatus)
	s.lineItemRoutes(route)
	s.transactionRoutes(route)
	s.subscriptionRoutes(route)
}

// disabledState is the disabled, disabled_at and disabled_by members of
// invoices, line items and transactions. They are shown on records that are
// disabled, and on every answer of the disabled_state routes; other answers
// leave them out, as ChartMogul's recorded answers do.
type disabledState struct {
	Disabled   jsontext.Value `json:"disabled,omitzero"`
	DisabledAt jsontext.Value `json:"disabled_at,omitzero"`
	DisabledBy jsontext.Value `json:"disabled_by,omitzero"`
}

// stateOf renders a record's disabled state; always shows it even when the
// record is enabled.
func stateOf(disabled bool, at *time.Time, by string, always bool) disabledState {
	if !disabled && !always {
		return disabledState{}
	}
	st := disabledState{Disabled: jsontext.Value("false"), DisabledAt: jsontext.Value("null"), DisabledBy: jsontext.Value("null")}
	if disabled {
		st.Disabled = jsontext.Value("true")
		if at != nil {
			st.DisabledAt = jsontext.Value(strconv.Quote(millis(*at)))
		}
		if by != "" {
			b, _ := jsontext.AppendQuote(nil, by)
			st.DisabledBy = b
		}
	}
	return st
}

// lineItemWithState renders a line item with its disabled state shown.
func lineItemWithState(li *chartmogul.LineItem) any {
	st := stateOf(li.Disabled, li.DisabledAt, li.DisabledBy, true)
	switch j := toLineItem(li).(type) {
	case oneTimeItemJSON:
		j.disabledState = st
		return j
	case subscriptionItemJSON:
		j.disabledState = st
		return j
	default:
		return j
	}
}

// invoiceWithState renders an invoice, its line items and its transactions
// with their disabled states shown.
func invoiceWithState(inv *chartmogul.Invoice) invoiceJSON {
	j := toInvoice(inv, true)
	j.disabledState = stateOf(inv.Disabled, inv.DisabledAt, inv.DisabledBy, true)
	for i := range inv.LineItems {
		j.LineItems[i] = lineItemWithState(&inv.LineItems[i])
	}
	for i := range inv.Transactions {
		t := &inv.Transactions[i]
		j.Transactions[i].disabledState = stateOf(t.Disabled, t.DisabledAt, t.DisabledBy, true)
	}
	return j
}

// The members of request bodies that are not fields of the bulk records:
// nested records, links the path already gives, and read-only members that
// clients send back (uuid, errors, …). Members named here are not reported
// as unknown.
var (
	invoiceMembers = []string{"line_items", "transactions", "customer_external_id", "data_source_uuid", "customer_uuid",
		"uuid", "errors", "status", "disabled", "disabled_at", "disabled_by", "user_created", "edit_history_summary"}
	lineItemMembers = []string{"uuid", "errors", "invoice_uuid", "invoice_external_id", "subscription_uuid", "data_source_uuid",
		"disabled", "disabled_at", "disabled_by", "user_created", "handle_as_user_edit"}
	transactionMembers = []string{"uuid", "errors", "invoice_uuid", "invoice_external_id", "data_source_uuid",
		"disabled", "disabled_at", "disabled_by", "user_created", "handle_as_user_edit"}
)

// invoiceEntry is one element of an invoice import request: where its
// records went, and what is wrong with it.
type invoiceEntry struct {
	raw    jsontext.Value
	index  int // in the batch; -1 when the element is not an object
	errors map[string]string
}

func (e *invoiceEntry) fail(field, msg string) {
	if _, ok := e.errors[field]; !ok {
		e.errors[field] = msg
	}
}

// nestedRef says which invoice a nested line item or transaction belongs
// to, and which batch holds it.
type nestedRef struct {
	entry int
	batch *chartmogul.Batch
	index int
}

// importInvoices imports a customer's invoices with their line items and
// transactions: 201 {"invoices": [...]} with each invoice as stored, or 422
// with every submitted invoice echoed back with an "errors" map (field path
// → message; ChartMogul's duplicate messages for stored external ids), in
// which case nothing is stored.
func (s *Server) importInvoices(w http.ResponseWriter, r *http.Request) error {
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
	top, err := objectMembers(body)
	if err != nil {
		return err
	}
	list, err := requiredArray(top, "invoices", "invoice")
	if err != nil {
		return err
	}
	b := chartmogul.NewBatch(s.Now())
	// side validates the line items and transactions of invoices without an
	// external id: nothing can link them to their invoice, which fails
	// anyway, but their own problems are still worth reporting.
	side := chartmogul.NewBatch(s.Now())
	entries := make([]invoiceEntry, len(list))
	var items, trs []nestedRef
	for i, elem := range list {
		e := &entries[i]
		e.raw, e.index, e.errors = elem, -1, map[string]string{}
		if elem.Kind() != '{' {
			e.fail("base", "each element of invoices must be a JSON object; got "+describeValue(elem))
			continue
		}
		k, raw, err := b.Add(chartmogul.RecordInvoices, elem, invoiceMembers...)
		if err != nil {
			return err
		}
		e.index = k
		inv := &b.Invoices[k]
		p := b.Problems(chartmogul.RecordInvoices, k)
		inv.CustomerExternalID = cus.ExternalID
		// A merged customer answers to each of its external ids and data
		// sources; the invoice belongs to the customer of the path.
		checkLink(p, raw, "customer_external_id", append([]string{cus.ExternalID}, cus.ExternalIDs...), "an external id of customer "+cus.UUID)
		checkLink(p, raw, "customer_uuid", []string{cus.UUID}, "the customer of the path")
		checkLink(p, raw, "data_source_uuid", append([]string{cus.DataSourceUUID}, cus.DataSourceUUIDs...), "a data source of customer "+cus.UUID)
		target := b
		if inv.ExternalID == "" {
			target = side
		}
		n := 0
		for _, v := range nestedArray(p, raw, "line_items", "line item") {
			j, _, err := target.Add(chartmogul.RecordLineItems, v, lineItemMembers...)
			if err != nil {
				return err
			}
			target.LineItems[j].InvoiceExternalID = inv.ExternalID
			items = append(items, nestedRef{entry: i, batch: target, index: j})
			n++
		}
		inv.ValidateLineItemCount(p, n)
		for _, v := range nestedArray(p, raw, "transactions", "transaction") {
			j, _, err := target.Add(chartmogul.RecordTransactions, v, transactionMembers...)
			if err != nil {
				return err
			}
			target.Transactions[j].InvoiceExternalID = inv.ExternalID
			trs = append(trs, nestedRef{entry: i, batch: target, index: j})
		}
	}
	b.Validate()
	side.Validate()
	ch, err := s.Store.ApplyChanges(ctx, cus.DataSourceID, bulk.Keys(b), bulk.Resolver(b))
	if err != nil {
		return err
	}
	if failed := invoiceErrors(entries, b, ch.Report, items, trs); failed {
		out := make([]jsontext.Value, len(entries))
		for i := range entries {
			out[i] = echoWithErrors(entries[i].raw, entries[i].errors)
		}
		// Not an error body but the request's invoices with their
		// errors, which the Go client decodes into its result.
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"invoices": out})
		return nil
	}
	uuids := make([]string, len(ch.NewInvoices))
	for i, l := range ch.NewInvoices {
		uuids[i] = l.Invoice.UUID
	}
	created, err := s.Store.InvoicesByUUID(ctx, c.account.ID, uuids)
	if err != nil {
		return err
	}
	out := make([]invoiceJSON, len(created))
	for i := range created {
		out[i] = toInvoice(&created[i], false)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"invoices": out})
	return nil
}

// invoiceErrors files the failures of an invoice import under the invoice
// each belongs to, nested records' fields as "line_items.<field>" and
// "transactions.<field>", and reports whether anything failed. A nested
// record that failed only because its invoice did (its invoice_external_id,
// which Recur itself set) adds nothing to its invoice's own errors.
func invoiceErrors(entries []invoiceEntry, b *chartmogul.Batch, rep *chartmogul.ImportReport, items, trs []nestedRef) bool {
	failed := false
	byIndex := map[int]int{}
	for i, e := range entries {
		if e.index >= 0 {
			byIndex[e.index] = i
		}
		failed = failed || len(e.errors) > 0
	}
	// The invoice each nested record of the batch belongs to, by type and
	// index in the batch.
	owners := map[chartmogul.RecordType]map[int]int{chartmogul.RecordLineItems: {}, chartmogul.RecordTransactions: {}}
	for _, r := range items {
		if r.batch == b {
			owners[chartmogul.RecordLineItems][r.index] = r.entry
		}
	}
	for _, r := range trs {
		if r.batch == b {
			owners[chartmogul.RecordTransactions][r.index] = r.entry
		}
	}
	for _, f := range rep.Failures {
		failed = true
		field := cmpOr(f.Field, "base")
		switch f.Type {
		case chartmogul.RecordInvoices:
			entries[byIndex[f.Index]].fail(field, f.Message)
		case chartmogul.RecordLineItems, chartmogul.RecordTransactions:
			if e, ok := owners[f.Type][f.Index]; ok && f.Field != "invoice_external_id" {
				entries[e].fail(string(f.Type)+"."+field, f.Message)
			}
		}
	}
	// The records of invoices without an external id, validated aside.
	for _, set := range []struct {
		t    chartmogul.RecordType
		refs []nestedRef
	}{{chartmogul.RecordLineItems, items}, {chartmogul.RecordTransactions, trs}} {
		for _, r := range set.refs {
			if r.batch == b {
				continue
			}
			for _, e := range r.batch.Problems(set.t, r.index).Errors {
				failed = true
				entries[r.entry].fail(string(set.t)+"."+cmpOr(e.Field, "base"), e.Message)
			}
		}
	}
	return failed
}

// checkLink checks an optional member of a nested record that must, when
// given, repeat what the path already says (the customer's external id, its
// data source): a different value means the caller meant another record.
func checkLink(p *chartmogul.Problems, raw map[string]jsontext.Value, key string, wants []string, what string) {
	v, ok := raw[key]
	if !ok || v.Kind() == 'n' {
		return
	}
	var got string
	if v.Kind() != '"' || json.Unmarshal(v, &got) != nil {
		p.Fail(key, "%s must be a string; got %s", key, describeValue(v))
		return
	}
	if got != "" && !slices.Contains(wants, got) {
		p.Fail(key, "%s %s is not %s, %s; leave it out or send %s", key, chartmogul.Quote(got), what, chartmogul.Quote(wants[0]), chartmogul.Quote(wants[0]))
	}
}

// nestedArray returns the elements of an invoice's nested array member that
// are objects; a member of another type, and elements that are not objects,
// are recorded as problems of the invoice.
func nestedArray(p *chartmogul.Problems, raw map[string]jsontext.Value, key, what string) []jsontext.Value {
	v, ok := raw[key]
	if !ok || v.Kind() == 'n' {
		return nil
	}
	if v.Kind() != '[' {
		p.Fail(key, "%s must be an array of %ss; got %s", key, what, describeValue(v))
		return nil
	}
	var elems []jsontext.Value
	if err := json.Unmarshal(v, &elems); err != nil {
		p.Fail(key, "%s must be an array of %ss: %v", key, what, err)
		return nil
	}
	out := elems[:0]
	for i, e := range elems {
		if e.Kind() != '{' {
			p.Fail(key, "each element of %s must be a JSON object; element %d is %s", key, i, describeValue(e))
			continue
		}
		out = append(out, e)
	}
	return out
}

// echoWithErrors returns a submitted invoice with an "errors" member holding
// errs (replacing any the caller sent); an element that is not an object
// becomes {"errors": errs}.
func echoWithErrors(raw jsontext.Value, errs map[string]string) jsontext.Value {
	var buf bytes.Buffer
	enc := jsontext.NewEncoder(&buf)
	enc.WriteToken(jsontext.BeginObject)
	if raw.Kind() == '{' {
		dec := jsontext.NewDecoder(bytes.NewReader(raw))
		dec.ReadToken()
		for dec.PeekKind() != '}' {
			name, err := dec.ReadValue()
			if err != nil {
				break
			}
			name = name.Clone()
			v, err := dec.ReadValue()
			if err != nil {
				break
			}
			var key string
			if json.Unmarshal(name, &key) == nil && key == "errors" {
				continue
			}
			enc.WriteValue(name)
			enc.WriteValue(v)
		}
	}
	enc.WriteToken(jsontext.String("errors"))
	b, _ := json.Marshal(errs, json.Deterministic(true))
	enc.WriteValue(b)
	enc.WriteToken(jsontext.EndObject)
	return bytes.TrimSpace(buf.Bytes())
}

// customerInvoicesPage is the list of a customer's invoices.
type customerInvoicesPage struct {
	CustomerUUID string        `json:"customer_uuid"`
	Invoices     []invoiceJSON `json:"invoices"`
	offsets
	Cursor  *string `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

// listCustomerInvoices lists a customer's invoices oldest first, as
// ChartMogul does.
func (s *Server) listCustomerInvoices(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := callerOf(ctx)
	cus, err := s.Store.Customer(ctx, c.account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	f, invalidOnly, err := invoiceListFilter(r)
	if err != nil {
		return err
	}
	f.CustomerUUID = cus.UUID
	p, err := oldestFirstPage(r, "customer_invoices")
	if err != nil {
		return err
	}
	list, total := []chartmogul.Invoice{}, 0
	if !invalidOnly {
		if list, total, err = s.Store.ListInvoices(ctx, c.account.ID, f, p); err != nil {
			return err
		}
	}
	list, cursor, more := pageResult(list, p, "customer_invoices", c.account.ID, func(i *chartmogul.Invoice) int64 { return i.ID })
	out := customerInvoicesPage{CustomerUUID: cus.UUID, Invoices: make([]invoiceJSON, len(list)), Cursor: optString(cursor), HasMore: more}
	for i := range list {
		out.Invoices[i] = toInvoice(&list[i], false)
	}
	if p.After == 0 {
		out.offsets = firstPage(p, total)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// oldestFirstPage reads per_page and cursor for a list shown oldest first.
func oldestFirstPage(r *http.Request, list string) (store.Page, error) {
	p, err := page(r, list)
	if err != nil {
		return p, err
	}
	p.OldestFirst, p.After, p.Before = true, p.Before, 0
	p.Total = p.After == 0
	return p, nil
}

type invoicesPage struct {
	Invoices []invoiceJSON `json:"invoices"`
	offsets
	Cursor  *string `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

// invoiceListFilter reads the query parameters the invoice lists share. It
// reports whether the caller asked for invalid invoices only: Recur keeps no
// invalid invoices (a request with an invalid one stores nothing), so that
// list is always empty, and "all" lists the valid ones.
func invoiceListFilter(r *http.Request) (store.InvoiceFilter, bool, error) {
	q := r.URL.Query()
	f := store.InvoiceFilter{DataSourceUUID: q.Get("data_source_uuid"), CustomerUUID: q.Get("customer_uuid"), ExternalID: q.Get("external_id")}
	var err error
	if f.WithDisabled, err = queryBool(r, "with_disabled"); err != nil {
		return f, false, err
	}
	switch v := q.Get("validation_type"); v {
	case "", "valid", "all":
		return f, false, nil
	case "invalid":
		return f, true, nil
	default:
		return f, false, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "validation_type", Message: fmt.Sprintf(
			`Parameter "validation_type" must be valid, invalid or all; got %s.`, chartmogul.Quote(v))}
	}
}

// queryBool reads a boolean query parameter; absent means false.
func queryBool(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); strings.ToLower(v) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: name, Message: fmt.Sprintf(`Parameter %q must be true or false; got %s.`, name, chartmogul.Quote(v))}
	}
}

// listInvoices lists the account's invoices, newest first, filtered by
// customer_uuid, data_source_uuid and external_id. Disabled invoices (and
// the disabled records of the invoices shown) are left out unless
// with_disabled=true; include_edit_histories is accepted and ignored, since
// Recur keeps no edit histories.
func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	f, invalidOnly, err := invoiceListFilter(r)
	if err != nil {
		return err
	}
	p, err := page(r, "invoices")
	if err != nil {
		return err
	}
	p.Total = p.Before == 0
	list, total := []chartmogul.Invoice{}, 0
	if !invalidOnly {
		if list, total, err = s.Store.ListInvoices(r.Context(), c.account.ID, f, p); err != nil {
			return err
		}
	}
	list, cursor, more := pageResult(list, p, "invoices", c.account.ID, func(i *chartmogul.Invoice) int64 { return i.ID })
	invoices := make([]invoiceJSON, len(list))
	for i := range list {
		invoices[i] = toInvoice(&list[i], true)
		withBalanceTransfer(&invoices[i], &list[i])
	}
	writeJSON(w, http.StatusOK, invoicesPage{Invoices: invoices, offsets: firstPage(p, total), Cursor: optString(cursor), HasMore: more})
	return nil
}

// getInvoice answers one invoice with all its line items and transactions.
func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request) error {
	_, invalidOnly, err := invoiceListFilter(r)
	if err != nil {
		return err
	}
	if invalidOnly {
		return chartmogul.NotFound("Invoice")
	}
	inv, err := s.Store.Invoice(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toInvoice(inv, true))
	return nil
}

// refOf reads which record a request names: the {uuid} path value, or the
// data_source_uuid and external_id query parameters. With fromBody, a request
// without them in the query may send them as body members, as the Node
// client's destroyByExternalId does. The data source must be the caller's.
func (s *Server) refOf(r *http.Request, members map[string]jsontext.Value, fromBody bool) (store.Ref, error) {
	if uuid := r.PathValue("uuid"); uuid != "" {
		return store.Ref{UUID: uuid}, nil
	}
	q := r.URL.Query()
	ref := store.Ref{DataSourceUUID: q.Get("data_source_uuid"), ExternalID: q.Get("external_id")}
	if fromBody && ref.DataSourceUUID == "" && ref.ExternalID == "" {
		var err error
		if ref.DataSourceUUID, err = rawString(members, "data_source_uuid"); err != nil {
			return ref, err
		}
		if ref.ExternalID, err = rawString(members, "external_id"); err != nil {
			return ref, err
		}
	}
	if ref.DataSourceUUID == "" {
		return ref, missing("data_source_uuid")
	}
	if ref.ExternalID == "" {
		return ref, missing("external_id")
	}
	if _, err := s.Store.DataSource(r.Context(), callerOf(r.Context()).account.ID, ref.DataSourceUUID); err != nil {
		return ref, err
	}
	return ref, nil
}

// updatableInvoiceMembers are the invoice fields PATCH may change.
var updatableInvoiceMembers = []string{"date", "due_date", "currency", "collection_method", "customer_external_id"}

// updateInvoice changes an invoice's date, due_date, currency,
// collection_method or customer (customer_external_id, within its data
// source): 200 with the invoice, 422 with the errors map.
func (s *Server) updateInvoice(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := callerOf(ctx)
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
	cur, err := s.Store.FindInvoice(ctx, c.account.ID, ref)
	if err != nil {
		return err
	}
	if v, ok := members["external_id"]; ok && v.Kind() != 'n' {
		var ext string
		if json.Unmarshal(v, &ext) != nil || ext != cur.ExternalID {
			return chartmogul.Invalid(map[string]string{"external_id": fmt.Sprintf(
				"external_id of an invoice cannot be changed (it is %s); delete the invoice and import it again to change it", chartmogul.Quote(cur.ExternalID))})
		}
	}
	rec := map[string]any{"external_id": cur.ExternalID, "date": exactTime(cur.Date), "currency": cur.Currency,
		"collection_method": cur.CollectionMethod}
	if cur.DueDate != nil {
		rec["due_date"] = exactTime(*cur.DueDate)
	}
	b, i, err := s.updatedRecord(chartmogul.RecordInvoices, rec, members, updatableInvoiceMembers)
	if err != nil {
		return err
	}
	inv := b.Invoices[i]
	inv.UUID = cur.UUID
	updated, err := s.Store.UpdateInvoice(ctx, c.account.ID, &inv)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toInvoice(updated, true))
	return nil
}

// exactTime renders a stored time for re-decoding, to the microsecond.
func exactTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00") }

// updatedRecord lays the request members named in keys over rec, the
// stored record of type t as JSON values, and validates the result as an
// import would: it returns the batch holding the one record and its index,
// or an EINVALID error naming the first problem of each field at fault.
func (s *Server) updatedRecord(t chartmogul.RecordType, rec map[string]any, members map[string]jsontext.Value, keys []string) (*chartmogul.Batch, int, error) {
	merged, err := overlay(rec, members, keys)
	if err != nil {
		return nil, 0, err
	}
	b := chartmogul.NewBatch(s.Now())
	i, _, err := b.Add(t, merged)
	if err != nil {
		return nil, 0, err
	}
	b.Validate()
	if p := b.Problems(t, i); !p.OK() {
		return nil, 0, chartmogul.Invalid(problemFields(p))
	}
	return b, i, nil
}

// overlay returns the JSON object of rec with the request members named in
// keys laid over it (null included, which clears an optional field).
func overlay(rec map[string]any, members map[string]jsontext.Value, keys []string) ([]byte, error) {
	out := make(map[string]jsontext.Value, len(rec)+len(keys))
	for k, v := range rec {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	for _, k := range keys {
		if v, ok := members[k]; ok {
			out[k] = v
		}
	}
	return json.Marshal(out, json.Deterministic(true))
}

// problemFields is ChartMogul's errors map of one record's problems: the
// first message of each field.
func problemFields(p *chartmogul.Problems) map[string]string {
	out := map[string]string{}
	for _, e := range p.Errors {
		k := cmpOr(e.Field, "base")
		if _, ok := out[k]; !ok {
			out[k] = e.Message
		}
	}
	return out
}

// deleteInvoice deletes an invoice with its line items and transactions:
// 204.
func (s *Server) deleteInvoice(w http.ResponseWriter, r *http.Request) error {
	members, err := s.optionalMembers(w, r)
	if err != nil {
		return err
	}
	ref, err := s.refOf(r, members, true)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteInvoice(r.Context(), callerOf(r.Context()).account.ID, ref); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// optionalMembers reads a body that routes without a required body may
// carry (DELETE by external id); an unreadable one is ignored.
func (s *Server) optionalMembers(w http.ResponseWriter, r *http.Request) (map[string]jsontext.Value, error) {
	body, err := s.body(w, r)
	if err != nil {
		return nil, err
	}
	members, err := objectMembers(body)
	if err != nil {
		return map[string]jsontext.Value{}, nil
	}
	return members, nil
}

// disableRequest reads a disabled_state request: the record it names (by
// uuid in the path, or data_source_uuid and external_id in the body) and the
// disabled member, where absent means false (enable), as for every missing
// boolean. It returns the body's error, or EINVALID naming disabled when
// that is not a boolean.
func (s *Server) disableRequest(w http.ResponseWriter, r *http.Request) (store.Ref, bool, error) {
	body, err := s.body(w, r)
	if err != nil {
		return store.Ref{}, false, err
	}
	members, err := objectMembers(body)
	if err != nil {
		return store.Ref{}, false, err
	}
	var disabled bool
	switch v, ok := members["disabled"]; {
	case !ok, v.Kind() == 'n', v.Kind() == 'f':
	case v.Kind() == 't':
		disabled = true
	default:
		return store.Ref{}, false, chartmogul.Invalid(map[string]string{"disabled": "disabled must be true or false; got " + describeValue(v)})
	}
	ref, err := s.refOf(r, members, true)
	return ref, disabled, err
}

// disableInvoice disables or enables an invoice with its line items and
// transactions: 200 with the invoice and its records' disabled states.
func (s *Server) disableInvoice(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := callerOf(ctx)
	ref, disabled, err := s.disableRequest(w, r)
	if err != nil {
		return err
	}
	inv, err := s.Store.SetInvoiceDisabled(ctx, c.account.ID, ref, disabled, disabledBy(c))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, invoiceWithState(inv))
	return nil
}

// disabledBy is who disabled a record: Recur has API keys, not users, so the
// key's account.
func disabledBy(c *caller) string { return c.account.Name }

// deleteCustomerInvoices deletes all of a customer's invoices in a data
// source (customer_external_id, optional, must be the customer's): 204.
func (s *Server) deleteCustomerInvoices(w http.ResponseWriter, r *http.Request) error {
	err := s.Store.DeleteCustomerInvoices(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("ds"), r.PathValue("uuid"),
		r.URL.Query().Get("customer_external_id"))
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// setInvoiceStatus marks an invoice voided or written off: 200 {"message":
// "Invoice updated", "external_id", "status"}; other statuses follow from
// transactions and are refused with 422.
func (s *Server) setInvoiceStatus(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := callerOf(ctx)
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	members, err := objectMembers(body)
	if err != nil {
		return err
	}
	var status string
	if v, ok := members["status"]; ok && v.Kind() != 'n' {
		if v.Kind() != '"' || json.Unmarshal(v, &status) != nil {
			return chartmogul.Invalid(map[string]string{"status": "status must be a string, voided or written_off; got " + describeValue(v)})
		}
	}
	var p chartmogul.Problems
	chartmogul.ValidateInvoiceStatus(&p, status)
	if !p.OK() {
		return chartmogul.Invalid(problemFields(&p))
	}
	if _, err := s.Store.DataSource(ctx, c.account.ID, r.PathValue("ds")); err != nil {
		return err
	}
	inv, err := s.Store.SetInvoiceStatus(ctx, c.account.ID, store.Ref{DataSourceUUID: r.PathValue("ds"), ExternalID: r.PathValue("external_id")}, status)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Message    string `json:"message"`
		ExternalID string `json:"external_id"`
		Status     string `json:"status"`
	}{"Invoice updated", inv.ExternalID, inv.Status})
	return nil
}

// objectMembers reads a body that must be one JSON object into its members.
func objectMembers(body []byte) (map[string]jsontext.Value, error) {
	v := jsontext.Value(bytes.TrimSpace(body))
	var check jsontext.Value
	if err := json.Unmarshal(v, &check); err != nil {
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Message: "The request body is not valid JSON: " + err.Error() + "; send one JSON object.", Err: err}
	}
	if v.Kind() != '{' {
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Message: "The request body must be one JSON object; got " + describeValue(v) + "."}
	}
	var members map[string]jsontext.Value
	if err := json.Unmarshal(v, &members); err != nil {
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Message: "The request body is not a valid JSON object: " + err.Error(), Err: err}
	}
	return members, nil
}

// requiredArray reads a required, non-empty array member of a request body.
func requiredArray(members map[string]jsontext.Value, key, what string) ([]jsontext.Value, error) {
	v, ok := members[key]
	if !ok || v.Kind() == 'n' {
		return nil, missing(key)
	}
	var elems []jsontext.Value
	if v.Kind() != '[' || json.Unmarshal(v, &elems) != nil {
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: key, Message: fmt.Sprintf("Parameter %q must be an array of %ss; got %s.", key, what, describeValue(v))}
	}
	if len(elems) == 0 {
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: key, Message: fmt.Sprintf("Parameter %q must hold at least one %s; got an empty array.", key, what)}
	}
	return elems, nil
}

// describeValue says what a JSON value is, for messages: the value itself
// when short.
func describeValue(v jsontext.Value) string {
	switch v.Kind() {
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return "the string " + chartmogul.Quote(s)
		}
		return "a string"
	case '0':
		if len(v) <= 40 {
			return "the number " + string(v)
		}
		return "a number"
	case 't', 'f':
		return string(v)
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "nothing"
}

// dataSourceOfInvoice is the data source an existing invoice's new records
// are written to.
func dataSourceOfInvoice(inv *chartmogul.Invoice) *chartmogul.DataSource {
	return &chartmogul.DataSource{ID: inv.DataSourceID, UUID: inv.DataSourceUUID, AccountID: inv.AccountID}
}

// accountOf is the caller's account id.
func accountOf(ctx context.Context) int64 { return callerOf(ctx).account.ID }
