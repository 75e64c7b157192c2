package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur"
)

// The columns and joins each record type is read with, and their scanners.
// Reads join the parent rows whose public ids the API shows (a data source's
// uuid, a customer's uuid and external id), so one query answers one page.

const customerColumns = `c.id, c.uuid, c.account_id, c.data_source_id, d.uuid, c.external_id, c.name, c.email, c.company, c.country, c.state,
	c.city, c.zip, c.website_url, c.lead_created_at, c.free_trial_started_at, c.created_at, c.updated_at, c.lead_status, c.owner, c.tags, c.custom`

const customerJoin = `JOIN data_sources d ON d.id = c.data_source_id`

func scanCustomer(r row) (*recur.Customer, error) {
	var c recur.Customer
	var lead, trial sql.NullInt64
	var created, updated int64
	var tags, custom string
	err := r.Scan(&c.ID, &c.UUID, &c.AccountID, &c.DataSourceID, &c.DataSourceUUID, &c.ExternalID, &c.Name, &c.Email, &c.Company, &c.Country, &c.State,
		&c.City, &c.Zip, &c.WebsiteURL, &lead, &trial, &created, &updated, &c.LeadStatus, &c.Owner, &tags, &custom)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return nil, fmt.Errorf("customer %s has unreadable tags: %w", c.UUID, err)
	}
	if err := json.Unmarshal([]byte(custom), &c.Custom); err != nil {
		return nil, fmt.Errorf("customer %s has unreadable custom attributes: %w", c.UUID, err)
	}
	c.LeadCreatedAt, c.FreeTrialStartedAt = optTime(lead), optTime(trial)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

const planColumns = `p.id, p.uuid, p.account_id, p.data_source_id, d.uuid, p.external_id, p.name, p.interval_count, p.interval_unit, p.created_at`

const planJoin = `JOIN data_sources d ON d.id = p.data_source_id`

func scanPlan(r row) (*recur.Plan, error) {
	var p recur.Plan
	var created int64
	if err := r.Scan(&p.ID, &p.UUID, &p.AccountID, &p.DataSourceID, &p.DataSourceUUID, &p.ExternalID, &p.Name, &p.IntervalCount, &p.IntervalUnit, &created); err != nil {
		return nil, err
	}
	p.CreatedAt = fromMicros(created)
	return &p, nil
}

const subscriptionColumns = `id, uuid, account_id, data_source_id, customer_id, external_id, set_external_id, plan_id, created_at`

func scanSubscription(r row) (*recur.Subscription, error) {
	var s recur.Subscription
	var plan sql.NullInt64
	var created int64
	if err := r.Scan(&s.ID, &s.UUID, &s.AccountID, &s.DataSourceID, &s.CustomerID, &s.ExternalID, &s.SetExternalID, &plan, &created); err != nil {
		return nil, err
	}
	s.PlanID, s.CreatedAt = plan.Int64, fromMicros(created)
	return &s, nil
}

const invoiceColumns = `i.id, i.uuid, i.account_id, i.data_source_id, d.uuid, i.customer_id, c.uuid, c.external_id, i.external_id, i.date, i.due_date,
	i.currency, i.collection_method, i.status, i.disabled, i.created_at`

const invoiceJoin = `JOIN data_sources d ON d.id = i.data_source_id JOIN customers c ON c.id = i.customer_id`

func scanInvoice(r row) (*recur.Invoice, error) {
	var inv recur.Invoice
	var date, created int64
	var due sql.NullInt64
	err := r.Scan(&inv.ID, &inv.UUID, &inv.AccountID, &inv.DataSourceID, &inv.DataSourceUUID, &inv.CustomerID, &inv.CustomerUUID, &inv.CustomerExternalID,
		&inv.ExternalID, &date, &due, &inv.Currency, &inv.CollectionMethod, &inv.Status, &inv.Disabled, &created)
	if err != nil {
		return nil, err
	}
	inv.Date, inv.DueDate, inv.CreatedAt = fromMicros(date), optTime(due), fromMicros(created)
	return &inv, nil
}

const lineItemColumns = `li.id, li.uuid, li.invoice_id, li.external_id, li.type, li.subscription_id, s.uuid, s.external_id, s.set_external_id,
	li.plan_id, p.uuid, p.external_id, li.service_period_start, li.service_period_end, li.prorated, li.proration_type, li.cancelled_at,
	li.amount_in_cents, li.quantity, li.discount_amount_in_cents, li.discount_code, li.discount_description, li.tax_amount_in_cents,
	li.transaction_fees_in_cents, li.transaction_fees_currency, li.account_code, li.description, li.event_order, li.balance_transfer, li.disabled`

const lineItemJoin = `LEFT JOIN subscriptions s ON s.id = li.subscription_id LEFT JOIN plans p ON p.id = li.plan_id`

func scanLineItem(r row) (*recur.LineItem, error) {
	var li recur.LineItem
	var ext, subUUID, subExt, setExt, planUUID, planExt sql.NullString
	var sub, plan, start, end, cancelled, order sql.NullInt64
	err := r.Scan(&li.ID, &li.UUID, &li.InvoiceID, &ext, &li.Type, &sub, &subUUID, &subExt, &setExt,
		&plan, &planUUID, &planExt, &start, &end, &li.Prorated, &li.ProrationType, &cancelled,
		&li.AmountInCents, &li.Quantity, &li.DiscountAmountInCents, &li.DiscountCode, &li.DiscountDescription, &li.TaxAmountInCents,
		&li.TransactionFeesInCents, &li.TransactionFeesCurrency, &li.AccountCode, &li.Description, &order, &li.BalanceTransfer, &li.Disabled)
	if err != nil {
		return nil, err
	}
	li.ExternalID, li.SubscriptionID, li.SubscriptionUUID, li.SubscriptionExternalID = ext.String, sub.Int64, subUUID.String, subExt.String
	li.SubscriptionSetExternalID, li.PlanID, li.PlanUUID, li.PlanExternalID = setExt.String, plan.Int64, planUUID.String, planExt.String
	li.ServicePeriodStart, li.ServicePeriodEnd, li.CancelledAt, li.EventOrder = optTime(start), optTime(end), optTime(cancelled), optInt(order)
	return &li, nil
}

const transactionColumns = `t.id, t.uuid, t.invoice_id, t.external_id, t.type, t.date, t.result, t.amount_in_cents, t.transaction_fees_in_cents,
	t.transaction_fees_currency, t.disabled`

func scanTransaction(r row) (*recur.Transaction, error) {
	var t recur.Transaction
	var ext sql.NullString
	var date int64
	var amount, fees sql.NullInt64
	if err := r.Scan(&t.ID, &t.UUID, &t.InvoiceID, &ext, &t.Type, &date, &t.Result, &amount, &fees, &t.TransactionFeesCurrency, &t.Disabled); err != nil {
		return nil, err
	}
	t.ExternalID, t.Date, t.AmountInCents, t.TransactionFeesInCents = ext.String, fromMicros(date), optInt(amount), optInt(fees)
	return &t, nil
}

const eventColumns = `e.id, e.account_id, e.data_source_id, d.uuid, e.customer_id, e.customer_external_id, e.external_id, e.event_type, e.event_date,
	e.effective_date, e.subscription_external_id, e.subscription_set_external_id, e.plan_external_id, e.currency, e.amount_in_cents, e.quantity,
	e.tax_amount_in_cents, e.retracted_event_id, e.event_order, e.disabled, e.created_at, e.updated_at`

const eventJoin = `JOIN data_sources d ON d.id = e.data_source_id`

func scanEvent(r row) (*recur.SubscriptionEvent, error) {
	var e recur.SubscriptionEvent
	var ext sql.NullString
	var date, effective, created, updated int64
	var amount, qty, tax, order sql.NullInt64
	err := r.Scan(&e.ID, &e.AccountID, &e.DataSourceID, &e.DataSourceUUID, &e.CustomerID, &e.CustomerExternalID, &ext, &e.EventType, &date,
		&effective, &e.SubscriptionExternalID, &e.SubscriptionSetExternalID, &e.PlanExternalID, &e.Currency, &amount, &qty,
		&tax, &e.RetractedEventID, &order, &e.Disabled, &created, &updated)
	if err != nil {
		return nil, err
	}
	e.ExternalID, e.EventDate, e.EffectiveDate = ext.String, fromMicros(date), fromMicros(effective)
	e.AmountInCents, e.Quantity, e.TaxAmountInCents, e.EventOrder = optInt(amount), optInt(qty), optInt(tax), optInt(order)
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &e, nil
}

// Page asks for one page of a list, newest first: rows with ids below
// Before (all rows when Before is 0), at most Limit of them.
type Page struct {
	Before int64
	Limit  int
	// Total asks for the number of rows the filter matches over all pages.
	Total bool
}

// where is a growing WHERE clause with its parameters.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "$?", "$"+itoa(len(w.args))))
}

// count returns how many rows of table (aliased alias, joined by join) the
// conditions match, when p asks for it.
func (w *where) count(ctx context.Context, q querier, p Page, table, alias, join string) (int, error) {
	if !p.Total {
		return 0, nil
	}
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM `+table+` `+alias+` `+join+` WHERE `+strings.Join(w.conds, " AND "), w.args...).Scan(&n)
	return n, err
}

func (w *where) page(alias string, p Page) string {
	if p.Before > 0 {
		w.add(alias+".id < $?", p.Before)
	}
	w.args = append(w.args, p.Limit+1)
	return " WHERE " + strings.Join(w.conds, " AND ") + " ORDER BY " + alias + ".id DESC LIMIT $" + itoa(len(w.args))
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// CustomerFilter narrows ListCustomers; empty fields do not filter.
type CustomerFilter struct {
	DataSourceUUID string
	ExternalID     string
	Email          string
}

// ListCustomers returns a page of the account's customers, newest first,
// with one extra row when more follow.
func (s *Store) ListCustomers(ctx context.Context, accountID int64, f CustomerFilter, p Page) ([]recur.Customer, int, error) {
	w := &where{}
	w.add("c.account_id = $?", accountID)
	if f.DataSourceUUID != "" {
		w.add("d.uuid = $?", f.DataSourceUUID)
	}
	if f.ExternalID != "" {
		w.add("c.external_id = $?", f.ExternalID)
	}
	if f.Email != "" {
		w.add("c.email = $?", f.Email)
	}
	total, err := w.count(ctx, s.eng.read(), p, "customers", "c", customerJoin)
	if err != nil {
		return nil, 0, internal("count customers", err)
	}
	out := []recur.Customer{}
	err = each(ctx, s.eng.read(), `SELECT `+customerColumns+` FROM customers c `+customerJoin+w.page("c", p), w.args, func(r rows) error {
		c, err := scanCustomer(r)
		if err == nil {
			out = append(out, *c)
		}
		return err
	})
	return out, total, internal("list customers", err)
}

// Customer returns the account's customer with this uuid, or ENOTFOUND.
func (s *Store) Customer(ctx context.Context, accountID int64, uuid string) (*recur.Customer, error) {
	c, err := scanCustomer(s.eng.read().queryRow(ctx, `SELECT `+customerColumns+` FROM customers c `+customerJoin+` WHERE c.uuid = $1 AND c.account_id = $2`, uuid, accountID))
	if isNoRows(err) {
		return nil, recur.NotFound("Customer")
	}
	return c, internal("find customer", err)
}

// PlanFilter narrows ListPlans; empty fields do not filter.
type PlanFilter struct {
	DataSourceUUID string
	ExternalID     string
}

// ListPlans returns a page of the account's plans, newest first, with one
// extra row when more follow.
func (s *Store) ListPlans(ctx context.Context, accountID int64, f PlanFilter, p Page) ([]recur.Plan, int, error) {
	w := &where{}
	w.add("p.account_id = $?", accountID)
	if f.DataSourceUUID != "" {
		w.add("d.uuid = $?", f.DataSourceUUID)
	}
	if f.ExternalID != "" {
		w.add("p.external_id = $?", f.ExternalID)
	}
	total, err := w.count(ctx, s.eng.read(), p, "plans", "p", planJoin)
	if err != nil {
		return nil, 0, internal("count plans", err)
	}
	out := []recur.Plan{}
	err = each(ctx, s.eng.read(), `SELECT `+planColumns+` FROM plans p `+planJoin+w.page("p", p), w.args, func(r rows) error {
		pl, err := scanPlan(r)
		if err == nil {
			out = append(out, *pl)
		}
		return err
	})
	return out, total, internal("list plans", err)
}

// Plan returns the account's plan with this uuid, or ENOTFOUND.
func (s *Store) Plan(ctx context.Context, accountID int64, uuid string) (*recur.Plan, error) {
	p, err := scanPlan(s.eng.read().queryRow(ctx, `SELECT `+planColumns+` FROM plans p `+planJoin+` WHERE p.uuid = $1 AND p.account_id = $2`, uuid, accountID))
	if isNoRows(err) {
		return nil, recur.NotFound("Plan")
	}
	return p, internal("find plan", err)
}

// InvoiceFilter narrows ListInvoices; empty fields do not filter.
type InvoiceFilter struct {
	DataSourceUUID string
	CustomerUUID   string
	ExternalID     string
}

// ListInvoices returns a page of the account's invoices, newest first, with
// their line items and transactions, and one extra invoice when more follow.
func (s *Store) ListInvoices(ctx context.Context, accountID int64, f InvoiceFilter, p Page) ([]recur.Invoice, int, error) {
	w := &where{}
	w.add("i.account_id = $?", accountID)
	if f.DataSourceUUID != "" {
		w.add("d.uuid = $?", f.DataSourceUUID)
	}
	if f.CustomerUUID != "" {
		w.add("c.uuid = $?", f.CustomerUUID)
	}
	if f.ExternalID != "" {
		w.add("i.external_id = $?", f.ExternalID)
	}
	q := s.eng.read()
	total, err := w.count(ctx, q, p, "invoices", "i", invoiceJoin)
	if err != nil {
		return nil, 0, internal("count invoices", err)
	}
	var list []*recur.Invoice
	byID := map[int64]*recur.Invoice{}
	var ids []int64
	err = each(ctx, q, `SELECT `+invoiceColumns+` FROM invoices i `+invoiceJoin+w.page("i", p), w.args, func(r rows) error {
		inv, err := scanInvoice(r)
		if err == nil {
			list = append(list, inv)
			byID[inv.ID] = inv
			ids = append(ids, inv.ID)
		}
		return err
	})
	if err != nil {
		return nil, 0, internal("list invoices", err)
	}
	if err := attachChildren(ctx, q, s.Engine(), ids, byID); err != nil {
		return nil, 0, err
	}
	out := make([]recur.Invoice, len(list))
	for i, inv := range list {
		out[i] = *inv
	}
	return out, total, nil
}

// Invoice returns the account's invoice with this uuid, with its line items
// and transactions, or ENOTFOUND.
func (s *Store) Invoice(ctx context.Context, accountID int64, uuid string) (*recur.Invoice, error) {
	q := s.eng.read()
	inv, err := scanInvoice(q.queryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices i `+invoiceJoin+` WHERE i.uuid = $1 AND i.account_id = $2`, uuid, accountID))
	if isNoRows(err) {
		return nil, recur.NotFound("Invoice")
	}
	if err != nil {
		return nil, internal("find invoice", err)
	}
	return inv, attachChildren(ctx, q, s.Engine(), []int64{inv.ID}, map[int64]*recur.Invoice{inv.ID: inv})
}

// EventFilter narrows ListEvents; empty fields do not filter.
type EventFilter struct {
	DataSourceUUID         string
	ExternalID             string
	CustomerExternalID     string
	CustomerUUID           string
	SubscriptionExternalID string
	EventType              string
	PlanExternalID         string
}

// ListEvents returns a page of the account's subscription events, newest
// first, with one extra row when more follow.
func (s *Store) ListEvents(ctx context.Context, accountID int64, f EventFilter, p Page) ([]recur.SubscriptionEvent, int, error) {
	w := &where{}
	w.add("e.account_id = $?", accountID)
	for _, c := range []struct{ cond, v string }{
		{"d.uuid = $?", f.DataSourceUUID}, {"e.external_id = $?", f.ExternalID}, {"e.customer_external_id = $?", f.CustomerExternalID},
		{"e.subscription_external_id = $?", f.SubscriptionExternalID}, {"e.event_type = $?", f.EventType}, {"e.plan_external_id = $?", f.PlanExternalID},
		{"e.customer_id = (SELECT id FROM customers WHERE uuid = $?)", f.CustomerUUID},
	} {
		if c.v != "" {
			w.add(c.cond, c.v)
		}
	}
	total, err := w.count(ctx, s.eng.read(), p, "subscription_events", "e", eventJoin)
	if err != nil {
		return nil, 0, internal("count subscription events", err)
	}
	out := []recur.SubscriptionEvent{}
	err = each(ctx, s.eng.read(), `SELECT `+eventColumns+` FROM subscription_events e `+eventJoin+w.page("e", p), w.args, func(r rows) error {
		e, err := scanEvent(r)
		if err == nil {
			out = append(out, *e)
		}
		return err
	})
	return out, total, internal("list subscription events", err)
}

// attributesJSON encodes a customer's tags and custom attributes for storage.
func attributesJSON(c *recur.Customer) (tags, custom string) {
	t, _ := json.Marshal(c.Tags)
	if c.Tags == nil {
		t = []byte("[]")
	}
	m, _ := json.Marshal(c.Custom)
	if c.Custom == nil {
		m = []byte("{}")
	}
	return string(t), string(m)
}
