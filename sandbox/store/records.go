package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur/chartmogul"
)

// The columns and joins each record type is read with, and their scanners.
// Reads join the parent rows whose public ids the API shows (a data source's
// uuid, a customer's uuid and external id), so one query answers one page.

const customerColumns = `c.id, c.uuid, c.account_id, c.data_source_id, d.uuid, c.external_id, c.name, c.email, c.company, c.country, c.state,
	c.city, c.zip, c.website_url, c.lead_created_at, c.free_trial_started_at, c.created_at, c.updated_at, c.lead_status, c.owner, c.tags, c.custom,
	COALESCE(ca.status, ''), COALESCE(ca.mrr, 0), ca.customer_since`

// customerJoin also reads the customer's derived status and MRR (analytics.go).
const customerJoin = `JOIN data_sources d ON d.id = c.data_source_id LEFT JOIN customer_analytics ca ON ca.customer_id = c.id`

func scanCustomer(r row) (*chartmogul.Customer, error) {
	var c chartmogul.Customer
	var lead, trial, since sql.NullInt64
	var created, updated int64
	var tags, custom string
	err := r.Scan(&c.ID, &c.UUID, &c.AccountID, &c.DataSourceID, &c.DataSourceUUID, &c.ExternalID, &c.Name, &c.Email, &c.Company, &c.Country, &c.State,
		&c.City, &c.Zip, &c.WebsiteURL, &lead, &trial, &created, &updated, &c.LeadStatus, &c.Owner, &tags, &custom,
		&c.Status, &c.MRR, &since)
	if err != nil {
		return nil, err
	}
	c.ARR, c.CustomerSince = 12*c.MRR, optTime(since)
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

func scanPlan(r row) (*chartmogul.Plan, error) {
	var p chartmogul.Plan
	var created int64
	if err := r.Scan(&p.ID, &p.UUID, &p.AccountID, &p.DataSourceID, &p.DataSourceUUID, &p.ExternalID, &p.Name, &p.IntervalCount, &p.IntervalUnit, &created); err != nil {
		return nil, err
	}
	p.CreatedAt = fromMicros(created)
	return &p, nil
}

const subscriptionColumns = `id, uuid, account_id, data_source_id, customer_id, external_id, set_external_id, plan_id, created_at`

func scanSubscription(r row) (*chartmogul.Subscription, error) {
	var s chartmogul.Subscription
	var plan sql.NullInt64
	var created int64
	if err := r.Scan(&s.ID, &s.UUID, &s.AccountID, &s.DataSourceID, &s.CustomerID, &s.ExternalID, &s.SetExternalID, &plan, &created); err != nil {
		return nil, err
	}
	s.PlanID, s.CreatedAt = plan.Int64, fromMicros(created)
	return &s, nil
}

const invoiceColumns = `i.id, i.uuid, i.account_id, i.data_source_id, d.uuid, i.customer_id, c.uuid, c.external_id, i.external_id, i.date, i.due_date,
	i.currency, i.collection_method, i.status, i.disabled, i.created_at, i.disabled_at, i.disabled_by`

const invoiceJoin = `JOIN data_sources d ON d.id = i.data_source_id JOIN customers c ON c.id = i.customer_id`

func scanInvoice(r row) (*chartmogul.Invoice, error) {
	var inv chartmogul.Invoice
	var date, created int64
	var due, disabledAt sql.NullInt64
	err := r.Scan(&inv.ID, &inv.UUID, &inv.AccountID, &inv.DataSourceID, &inv.DataSourceUUID, &inv.CustomerID, &inv.CustomerUUID, &inv.CustomerExternalID,
		&inv.ExternalID, &date, &due, &inv.Currency, &inv.CollectionMethod, &inv.Status, &inv.Disabled, &created, &disabledAt, &inv.DisabledBy)
	if err != nil {
		return nil, err
	}
	inv.Date, inv.DueDate, inv.CreatedAt, inv.DisabledAt = fromMicros(date), optTime(due), fromMicros(created), optTime(disabledAt)
	return &inv, nil
}

const lineItemColumns = `li.id, li.uuid, li.invoice_id, li.external_id, li.type, li.subscription_id, s.uuid, s.external_id, s.set_external_id,
	li.plan_id, p.uuid, p.external_id, li.service_period_start, li.service_period_end, li.prorated, li.proration_type, li.cancelled_at,
	li.amount_in_cents, li.quantity, li.discount_amount_in_cents, li.discount_code, li.discount_description, li.tax_amount_in_cents,
	li.transaction_fees_in_cents, li.transaction_fees_currency, li.account_code, li.description, li.event_order, li.balance_transfer, li.disabled,
	li.disabled_at, li.disabled_by`

const lineItemJoin = `LEFT JOIN subscriptions s ON s.id = li.subscription_id LEFT JOIN plans p ON p.id = li.plan_id`

func scanLineItem(r row) (*chartmogul.LineItem, error) {
	var li chartmogul.LineItem
	var ext, subUUID, subExt, setExt, planUUID, planExt sql.NullString
	var sub, plan, start, end, cancelled, order, disabledAt sql.NullInt64
	err := r.Scan(&li.ID, &li.UUID, &li.InvoiceID, &ext, &li.Type, &sub, &subUUID, &subExt, &setExt,
		&plan, &planUUID, &planExt, &start, &end, &li.Prorated, &li.ProrationType, &cancelled,
		&li.AmountInCents, &li.Quantity, &li.DiscountAmountInCents, &li.DiscountCode, &li.DiscountDescription, &li.TaxAmountInCents,
		&li.TransactionFeesInCents, &li.TransactionFeesCurrency, &li.AccountCode, &li.Description, &order, &li.BalanceTransfer, &li.Disabled,
		&disabledAt, &li.DisabledBy)
	if err != nil {
		return nil, err
	}
	li.ExternalID, li.SubscriptionID, li.SubscriptionUUID, li.SubscriptionExternalID = ext.String, sub.Int64, subUUID.String, subExt.String
	li.SubscriptionSetExternalID, li.PlanID, li.PlanUUID, li.PlanExternalID = setExt.String, plan.Int64, planUUID.String, planExt.String
	li.ServicePeriodStart, li.ServicePeriodEnd, li.CancelledAt, li.EventOrder = optTime(start), optTime(end), optTime(cancelled), optInt(order)
	li.DisabledAt = optTime(disabledAt)
	return &li, nil
}

const transactionColumns = `t.id, t.uuid, t.invoice_id, t.external_id, t.type, t.date, t.result, t.amount_in_cents, t.transaction_fees_in_cents,
	t.transaction_fees_currency, t.disabled, t.disabled_at, t.disabled_by`

func scanTransaction(r row) (*chartmogul.Transaction, error) {
	var t chartmogul.Transaction
	var ext sql.NullString
	var date int64
	var amount, fees, disabledAt sql.NullInt64
	if err := r.Scan(&t.ID, &t.UUID, &t.InvoiceID, &ext, &t.Type, &date, &t.Result, &amount, &fees, &t.TransactionFeesCurrency, &t.Disabled,
		&disabledAt, &t.DisabledBy); err != nil {
		return nil, err
	}
	t.ExternalID, t.Date, t.AmountInCents, t.TransactionFeesInCents = ext.String, fromMicros(date), optInt(amount), optInt(fees)
	t.DisabledAt = optTime(disabledAt)
	return &t, nil
}

// Page asks for one page of a list, newest first: rows with ids below
// Before (all rows when Before is 0), at most Limit of them.
type Page struct {
	Before int64
	// OldestFirst asks for the list oldest first instead, for the lists
	// ChartMogul shows in that order (a customer's invoices and import-side
	// subscriptions): rows with ids above After.
	OldestFirst bool
	After       int64
	Limit       int
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
	order := " DESC"
	if p.OldestFirst {
		order = " ASC"
		if p.After > 0 {
			w.add(alias+".id > $?", p.After)
		}
	} else if p.Before > 0 {
		w.add(alias+".id < $?", p.Before)
	}
	w.args = append(w.args, p.Limit+1)
	return " WHERE " + strings.Join(w.conds, " AND ") + " ORDER BY " + alias + ".id" + order + " LIMIT $" + itoa(len(w.args))
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// The customer and plan reads are in customers.go and plans.go.

// attributesJSON encodes a customer's tags and custom attributes for storage.
func attributesJSON(c *chartmogul.Customer) (tags, custom string) {
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
