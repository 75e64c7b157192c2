package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/recurhq/recur/chartmogul"
)

// Reads and single-object writes of invoices, line items and transactions.
// New records are written by ApplyChanges, through the same resolver as a
// bulk import; what is here changes, disables and deletes stored ones. Every
// write locks the record's data source (as ApplyChanges does), keeps the
// subscriptions consistent with the line items that make them — a
// subscription left without line items is deleted — and runs AfterWrite for
// the customers whose records changed, in its transaction.

// Ref names one invoice, line item or transaction of an account: by its uuid,
// or by its data source's uuid and its external id (ChartMogul's
// ?data_source_uuid=&external_id= forms).
type Ref struct {
	UUID           string
	DataSourceUUID string
	ExternalID     string
}

// cond is the WHERE condition selecting the record r names in table alias,
// with its parameters, numbered from $1.
func (r Ref) cond(alias string, accountID int64) (string, []any) {
	if r.UUID != "" {
		return alias + ".uuid = $1 AND " + alias + ".account_id = $2", []any{r.UUID, accountID}
	}
	return alias + ".external_id = $1 AND " + alias + ".data_source_id = (SELECT id FROM data_sources WHERE uuid = $2 AND account_id = $3)",
		[]any{r.ExternalID, r.DataSourceUUID, accountID}
}

// InvoiceFilter narrows ListInvoices; empty fields do not filter.
type InvoiceFilter struct {
	DataSourceUUID string
	CustomerUUID   string
	ExternalID     string
	// WithDisabled lists disabled invoices, and the disabled line items
	// and transactions of the invoices listed, which are left out
	// otherwise.
	WithDisabled bool
}

// ListInvoices returns a page of the account's invoices with their line
// items and transactions, newest first (oldest first when p says so), with
// one extra invoice when more follow, and the number of invoices the filter
// matches when p asks for it.
func (s *Store) ListInvoices(ctx context.Context, accountID int64, f InvoiceFilter, p Page) ([]chartmogul.Invoice, int, error) {
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
	if !f.WithDisabled {
		w.conds = append(w.conds, "NOT i.disabled")
	}
	q := s.eng.read()
	total, err := w.count(ctx, q, p, "invoices", "i", invoiceJoin)
	if err != nil {
		return nil, 0, internal("count invoices", err)
	}
	list, err := readInvoices(ctx, q, s.Engine(), `SELECT `+invoiceColumns+` FROM invoices i `+invoiceJoin+w.page("i", p), w.args)
	if err != nil {
		return nil, 0, err
	}
	if !f.WithDisabled {
		for i := range list {
			dropDisabled(&list[i])
		}
	}
	return list, total, nil
}

// readInvoices runs a query of invoiceColumns and attaches each invoice's
// line items and transactions, in the query's order.
func readInvoices(ctx context.Context, q querier, eng Engine, query string, args []any) ([]chartmogul.Invoice, error) {
	var list []*chartmogul.Invoice
	byID := map[int64]*chartmogul.Invoice{}
	var ids []int64
	err := each(ctx, q, query, args, func(r rows) error {
		inv, err := scanInvoice(r)
		if err == nil {
			list = append(list, inv)
			byID[inv.ID] = inv
			ids = append(ids, inv.ID)
		}
		return err
	})
	if err != nil {
		return nil, internal("list invoices", err)
	}
	if err := attachChildren(ctx, q, eng, ids, byID); err != nil {
		return nil, err
	}
	out := make([]chartmogul.Invoice, len(list))
	for i, inv := range list {
		out[i] = *inv
	}
	return out, nil
}

// dropDisabled leaves the disabled line items and transactions out of inv.
func dropDisabled(inv *chartmogul.Invoice) {
	items := inv.LineItems[:0]
	for _, li := range inv.LineItems {
		if !li.Disabled {
			items = append(items, li)
		}
	}
	inv.LineItems = items
	trs := inv.Transactions[:0]
	for _, t := range inv.Transactions {
		if !t.Disabled {
			trs = append(trs, t)
		}
	}
	inv.Transactions = trs
}

// Invoice returns the account's invoice with this uuid, with all its line
// items and transactions (disabled ones included), or ENOTFOUND ("Invoice
// not found").
func (s *Store) Invoice(ctx context.Context, accountID int64, uuid string) (*chartmogul.Invoice, error) {
	return findInvoice(ctx, s.eng.read(), s.Engine(), accountID, Ref{UUID: uuid})
}

// FindInvoice returns the account's invoice that ref names, with all its
// line items and transactions, or ENOTFOUND ("Invoice not found").
func (s *Store) FindInvoice(ctx context.Context, accountID int64, ref Ref) (*chartmogul.Invoice, error) {
	return findInvoice(ctx, s.eng.read(), s.Engine(), accountID, ref)
}

func findInvoice(ctx context.Context, q querier, eng Engine, accountID int64, ref Ref) (*chartmogul.Invoice, error) {
	cond, args := ref.cond("i", accountID)
	list, err := readInvoices(ctx, q, eng, `SELECT `+invoiceColumns+` FROM invoices i `+invoiceJoin+` WHERE `+cond, args)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, chartmogul.NotFound("Invoice")
	}
	return &list[0], nil
}

// InvoicesByUUID returns the account's invoices with these uuids, with their
// line items and transactions, in the order of uuids; uuids the account has
// no invoice for are left out.
func (s *Store) InvoicesByUUID(ctx context.Context, accountID int64, uuids []string) ([]chartmogul.Invoice, error) {
	if len(uuids) == 0 {
		return []chartmogul.Invoice{}, nil
	}
	list, err := readInvoices(ctx, s.eng.read(), s.Engine(), `SELECT `+invoiceColumns+` FROM invoices i `+invoiceJoin+
		` WHERE i.account_id = $1 AND `+inList(s.Engine(), "i.uuid", 2), []any{accountID, listArg(s.Engine(), uuids)})
	if err != nil {
		return nil, err
	}
	byUUID := make(map[string]chartmogul.Invoice, len(list))
	for _, inv := range list {
		byUUID[inv.UUID] = inv
	}
	out := make([]chartmogul.Invoice, 0, len(list))
	for _, u := range uuids {
		if inv, ok := byUUID[u]; ok {
			out = append(out, inv)
		}
	}
	return out, nil
}

// UpdateInvoice stores the changed fields of the account's invoice inv.UUID
// names: Date, DueDate, Currency, CollectionMethod and, when not empty,
// CustomerExternalID, which moves the invoice (with its line items,
// transactions and their subscriptions) to that customer of its data
// source. The caller validates the fields (chartmogul.Invoice.Validate). It
// returns the invoice as stored, ENOTFOUND ("Invoice not found"), or
// EINVALID when CustomerExternalID names no customer of the data source.
func (s *Store) UpdateInvoice(ctx context.Context, accountID int64, inv *chartmogul.Invoice) (*chartmogul.Invoice, error) {
	var out *chartmogul.Invoice
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		cur, err := findInvoice(ctx, tx, tx.eng, accountID, Ref{UUID: inv.UUID})
		if err != nil {
			return err
		}
		if _, err := lockDataSource(ctx, tx, cur.DataSourceID); err != nil {
			return err
		}
		customerID := cur.CustomerID
		if inv.CustomerExternalID != "" && inv.CustomerExternalID != cur.CustomerExternalID {
			err := tx.queryRow(ctx, `SELECT id FROM customers WHERE data_source_id = $1 AND external_id = $2`, cur.DataSourceID, inv.CustomerExternalID).Scan(&customerID)
			if isNoRows(err) {
				return chartmogul.Invalid(map[string]string{"customer_external_id": fmt.Sprintf("customer_external_id %s names no customer of data source %s",
					chartmogul.Quote(inv.CustomerExternalID), cur.DataSourceUUID)})
			}
			if err != nil {
				return internal("find customer", err)
			}
			if err := s.moveInvoice(ctx, tx, cur, customerID); err != nil {
				return err
			}
		}
		_, err = tx.exec(ctx, `UPDATE invoices SET date = $1, due_date = $2, currency = $3, collection_method = $4, customer_id = $5 WHERE id = $6`,
			micros(inv.Date), microsOrNil(inv.DueDate), inv.Currency, inv.CollectionMethod, customerID, cur.ID)
		if err != nil {
			return internal("update invoice", err)
		}
		if err := s.touch(ctx, tx, cur.CustomerID, customerID); err != nil {
			return err
		}
		out, err = findInvoice(ctx, tx, tx.eng, accountID, Ref{UUID: inv.UUID})
		return err
	})
	return out, err
}

// moveInvoice gives an invoice's line items and transactions to another
// customer of its data source. A subscription is a customer's, so each
// subscription the items continue becomes the new customer's subscription of
// the same external id (found, or created); the old one goes when no line
// item is left on it.
func (s *Store) moveInvoice(ctx context.Context, tx *txn, inv *chartmogul.Invoice, to int64) error {
	type sub struct {
		id          int64
		ext, setExt string
		plan        sql.NullInt64
	}
	var subs []sub
	err := each(ctx, tx, `SELECT DISTINCT s.id, s.external_id, s.set_external_id, s.plan_id FROM line_items li JOIN subscriptions s ON s.id = li.subscription_id
		WHERE li.invoice_id = $1`, []any{inv.ID}, func(r rows) error {
		var x sub
		err := r.Scan(&x.id, &x.ext, &x.setExt, &x.plan)
		subs = append(subs, x)
		return err
	})
	if err != nil {
		return internal("move invoice", err)
	}
	now := micros(s.now())
	old := make([]int64, 0, len(subs))
	for _, x := range subs {
		id, err := subscriptionFor(ctx, tx, inv.AccountID, inv.DataSourceID, to, x.ext, x.setExt, x.plan.Int64, now)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE line_items SET subscription_id = $1 WHERE invoice_id = $2 AND subscription_id = $3`, id, inv.ID, x.id); err != nil {
			return internal("move invoice", err)
		}
		old = append(old, x.id)
	}
	for _, table := range []string{"line_items", "transactions"} {
		if _, err := tx.exec(ctx, `UPDATE `+table+` SET customer_id = $1 WHERE invoice_id = $2`, to, inv.ID); err != nil {
			return internal("move invoice", err)
		}
	}
	return deleteOrphanSubscriptions(ctx, tx, old)
}

// DeleteInvoice deletes the account's invoice that ref names, with its line
// items and transactions, and the subscriptions left without line items. It
// returns ENOTFOUND ("Invoice not found") when there is no such invoice.
func (s *Store) DeleteInvoice(ctx context.Context, accountID int64, ref Ref) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		cond, args := ref.cond("i", accountID)
		var id, dsID, customerID int64
		err := tx.queryRow(ctx, `SELECT i.id, i.data_source_id, i.customer_id FROM invoices i WHERE `+cond, args...).Scan(&id, &dsID, &customerID)
		if isNoRows(err) {
			return chartmogul.NotFound("Invoice")
		}
		if err != nil {
			return internal("find invoice", err)
		}
		if _, err := lockDataSource(ctx, tx, dsID); err != nil {
			return err
		}
		subs, err := subscriptionsOf(ctx, tx, `invoice_id = $1`, id)
		if err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM line_items WHERE invoice_id = $1`, `DELETE FROM transactions WHERE invoice_id = $1`, `DELETE FROM invoices WHERE id = $1`} {
			if _, err := tx.exec(ctx, q, id); err != nil {
				return internal("delete invoice", err)
			}
		}
		if err := deleteOrphanSubscriptions(ctx, tx, subs); err != nil {
			return err
		}
		return s.touch(ctx, tx, customerID)
	})
}

// subscriptionsOf returns the subscriptions the line items matching cond
// (over line_items, parameters from $1) belong to.
func subscriptionsOf(ctx context.Context, tx *txn, cond string, args ...any) ([]int64, error) {
	var ids []int64
	err := each(ctx, tx, `SELECT DISTINCT subscription_id FROM line_items WHERE subscription_id IS NOT NULL AND `+cond, args, func(r rows) error {
		var id int64
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	})
	return ids, internal("find subscriptions", err)
}

// DeleteCustomerInvoices deletes every invoice of the account's customer
// customerUUID in data source dsUUID, with their line items and
// transactions, and the customer's subscriptions left without line items.
// customerExternalID, when not empty, must be the customer's external id.
// It returns ENOTFOUND ("Data source not found", "Customer not found") when
// the account has no such data source, or no such customer in it.
func (s *Store) DeleteCustomerInvoices(ctx context.Context, accountID int64, dsUUID, customerUUID, customerExternalID string) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		var dsID int64
		err := tx.queryRow(ctx, `SELECT id FROM data_sources WHERE uuid = $1 AND account_id = $2`, dsUUID, accountID).Scan(&dsID)
		if isNoRows(err) {
			return chartmogul.NotFound("Data source")
		}
		if err != nil {
			return internal("find data source", err)
		}
		var customerID, customerDS int64
		var ext string
		err = tx.queryRow(ctx, `SELECT id, data_source_id, external_id FROM customers WHERE uuid = $1 AND account_id = $2`, customerUUID, accountID).
			Scan(&customerID, &customerDS, &ext)
		if isNoRows(err) || (err == nil && (customerDS != dsID || (customerExternalID != "" && customerExternalID != ext))) {
			return chartmogul.NotFound("Customer")
		}
		if err != nil {
			return internal("find customer", err)
		}
		if _, err := lockDataSource(ctx, tx, dsID); err != nil {
			return err
		}
		for _, t := range []string{"line_items", "transactions", "invoices"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+t+` WHERE customer_id = $1 AND data_source_id = $2`, customerID, dsID); err != nil {
				return internal("delete invoices", err)
			}
		}
		_, err = tx.exec(ctx, `DELETE FROM subscriptions WHERE customer_id = $1 AND NOT EXISTS (SELECT 1 FROM line_items li WHERE li.subscription_id = subscriptions.id)`, customerID)
		if err != nil {
			return internal("delete subscriptions left without line items", err)
		}
		return s.touch(ctx, tx, customerID)
	})
}

// SetInvoiceStatus sets the status of the account's invoice that ref names
// (chartmogul.InvoiceStatusVoided or chartmogul.InvoiceStatusWrittenOff; the caller
// validates it with chartmogul.ValidateInvoiceStatus). It returns the invoice as
// stored, or ENOTFOUND ("Invoice not found").
func (s *Store) SetInvoiceStatus(ctx context.Context, accountID int64, ref Ref, status string) (*chartmogul.Invoice, error) {
	var out *chartmogul.Invoice
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		inv, err := findInvoice(ctx, tx, tx.eng, accountID, ref)
		if err != nil {
			return err
		}
		if _, err := lockDataSource(ctx, tx, inv.DataSourceID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE invoices SET status = $1 WHERE id = $2`, status, inv.ID); err != nil {
			return internal("update invoice status", err)
		}
		if err := s.touch(ctx, tx, inv.CustomerID); err != nil {
			return err
		}
		inv.Status = status
		out = inv
		return nil
	})
	return out, err
}

// disabledArgs are the values of the disabled, disabled_at and disabled_by
// columns for a record being disabled (by by) or enabled.
func (s *Store) disabledArgs(disabled bool, by string) []any {
	if !disabled {
		return []any{false, nil, ""}
	}
	return []any{true, micros(s.now()), by}
}

// SetInvoiceDisabled disables (or enables again) the account's invoice that
// ref names, and with it all its line items and transactions; by names who
// did it. A disabled invoice is left out of lists unless they ask for
// disabled records. It returns the invoice as stored, or ENOTFOUND ("Invoice
// not found").
func (s *Store) SetInvoiceDisabled(ctx context.Context, accountID int64, ref Ref, disabled bool, by string) (*chartmogul.Invoice, error) {
	var out *chartmogul.Invoice
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		inv, err := findInvoice(ctx, tx, tx.eng, accountID, ref)
		if err != nil {
			return err
		}
		if _, err := lockDataSource(ctx, tx, inv.DataSourceID); err != nil {
			return err
		}
		args := append(s.disabledArgs(disabled, by), inv.ID)
		for _, q := range []string{
			`UPDATE invoices SET disabled = $1, disabled_at = $2, disabled_by = $3 WHERE id = $4`,
			`UPDATE line_items SET disabled = $1, disabled_at = $2, disabled_by = $3 WHERE invoice_id = $4`,
			`UPDATE transactions SET disabled = $1, disabled_at = $2, disabled_by = $3 WHERE invoice_id = $4`,
		} {
			if _, err := tx.exec(ctx, q, args...); err != nil {
				return internal("disable invoice", err)
			}
		}
		if err := s.touch(ctx, tx, inv.CustomerID); err != nil {
			return err
		}
		out, err = findInvoice(ctx, tx, tx.eng, accountID, Ref{UUID: inv.UUID})
		return err
	})
	return out, err
}

// childRow is what a write of a line item or transaction needs to know of
// the stored row.
type childRow struct {
	id, accountID, dataSourceID, customerID, invoiceID int64
	subscriptionID                                     sql.NullInt64
	dataSourceUUID                                     string
}

// findChild finds the row of table (line_items or transactions) that ref
// names, or returns ENOTFOUND for resource.
func findChild(ctx context.Context, tx *txn, table, resource string, accountID int64, ref Ref) (childRow, error) {
	var c childRow
	cond, args := ref.cond("x", accountID)
	sub := "NULL"
	if table == "line_items" {
		sub = "x.subscription_id"
	}
	err := tx.queryRow(ctx, `SELECT x.id, x.account_id, x.data_source_id, x.customer_id, x.invoice_id, `+sub+`, d.uuid FROM `+table+` x
		JOIN data_sources d ON d.id = x.data_source_id WHERE `+cond, args...).
		Scan(&c.id, &c.accountID, &c.dataSourceID, &c.customerID, &c.invoiceID, &c.subscriptionID, &c.dataSourceUUID)
	if isNoRows(err) {
		return c, chartmogul.NotFound(resource)
	}
	if err != nil {
		return c, internal("find "+table, err)
	}
	_, err = lockDataSource(ctx, tx, c.dataSourceID)
	return c, err
}

// FindLineItem returns the account's line item that ref names, or ENOTFOUND
// ("Line item not found").
func (s *Store) FindLineItem(ctx context.Context, accountID int64, ref Ref) (*chartmogul.LineItem, error) {
	return findLineItem(ctx, s.eng.read(), accountID, ref)
}

func findLineItem(ctx context.Context, q querier, accountID int64, ref Ref) (*chartmogul.LineItem, error) {
	cond, args := ref.cond("li", accountID)
	li, err := scanLineItem(q.queryRow(ctx, `SELECT `+lineItemColumns+` FROM line_items li `+lineItemJoin+` WHERE `+cond, args...))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Line item")
	}
	return li, internal("find line item", err)
}

// UpdateLineItem stores the fields of the account's line item li.UUID
// names, as the caller validated them (chartmogul.LineItem.Validate): its plan
// is named by PlanUUID or PlanExternalID within the item's data source, and
// a subscription or trial item joins the customer's subscription of its
// SubscriptionExternalID (created when the customer has none). It returns
// the line item as stored, ENOTFOUND ("Line item not found"), or EINVALID
// when the plan is unknown or another line item of the data source has the
// external id.
func (s *Store) UpdateLineItem(ctx context.Context, accountID int64, li *chartmogul.LineItem) (*chartmogul.LineItem, error) {
	var out *chartmogul.LineItem
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		row, err := findChild(ctx, tx, "line_items", "Line item", accountID, Ref{UUID: li.UUID})
		if err != nil {
			return err
		}
		if li.ExternalID != "" {
			var n int64
			err := tx.queryRow(ctx, `SELECT COUNT(*) FROM line_items WHERE data_source_id = $1 AND external_id = $2 AND id <> $3`, row.dataSourceID, li.ExternalID, row.id).Scan(&n)
			if err != nil {
				return internal("check line item", err)
			}
			if n > 0 {
				return chartmogul.Invalid(map[string]string{"external_id": "The external ID for this line item already exists in our system."})
			}
		}
		planID, err := planOfItem(ctx, tx, row, li)
		if err != nil {
			return err
		}
		var subID int64
		if li.IsRecurring() {
			if subID, err = subscriptionFor(ctx, tx, row.accountID, row.dataSourceID, row.customerID, li.SubscriptionExternalID,
				li.SubscriptionSetExternalID, planID, micros(s.now())); err != nil {
				return err
			}
		}
		_, err = tx.exec(ctx, `UPDATE line_items SET external_id = $1, type = $2, subscription_id = $3, plan_id = $4, service_period_start = $5,
			service_period_end = $6, prorated = $7, proration_type = $8, cancelled_at = $9, amount_in_cents = $10, quantity = $11,
			discount_amount_in_cents = $12, discount_code = $13, discount_description = $14, tax_amount_in_cents = $15,
			transaction_fees_in_cents = $16, transaction_fees_currency = $17, account_code = $18, description = $19, event_order = $20,
			balance_transfer = $21 WHERE id = $22`,
			strOrNil(li.ExternalID), li.Type, idOrNil(subID), idOrNil(planID), microsOrNil(li.ServicePeriodStart),
			microsOrNil(li.ServicePeriodEnd), li.Prorated, li.ProrationType, microsOrNil(li.CancelledAt), li.AmountInCents, li.Quantity,
			li.DiscountAmountInCents, li.DiscountCode, li.DiscountDescription, li.TaxAmountInCents,
			li.TransactionFeesInCents, li.TransactionFeesCurrency, li.AccountCode, li.Description, intOrNil(li.EventOrder),
			li.BalanceTransfer, row.id)
		if isUniqueViolation(err) {
			return chartmogul.Invalid(map[string]string{"external_id": "The external ID for this line item already exists in our system."})
		}
		if err != nil {
			return internal("update line item", err)
		}
		if row.subscriptionID.Valid && row.subscriptionID.Int64 != subID {
			if err := deleteOrphanSubscriptions(ctx, tx, []int64{row.subscriptionID.Int64}); err != nil {
				return err
			}
		}
		if err := s.touch(ctx, tx, row.customerID); err != nil {
			return err
		}
		out, err = findLineItem(ctx, tx, accountID, Ref{UUID: li.UUID})
		return err
	})
	return out, err
}

// planOfItem resolves the plan a changed line item names, within its data
// source: by uuid, or by external id. An unknown plan fails the item, except
// a one-time item's plan_external_id, which (as in a bulk import) leaves
// the item without a plan.
func planOfItem(ctx context.Context, tx *txn, row childRow, li *chartmogul.LineItem) (int64, error) {
	field, col, v := "plan_uuid", "uuid", li.PlanUUID
	if v == "" {
		field, col, v = "plan_external_id", "external_id", li.PlanExternalID
	}
	if v == "" {
		return 0, nil
	}
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM plans WHERE data_source_id = $1 AND `+col+` = $2`, row.dataSourceID, v).Scan(&id)
	if isNoRows(err) {
		if field == "plan_external_id" && !li.IsRecurring() {
			return 0, nil
		}
		return 0, chartmogul.Invalid(map[string]string{field: fmt.Sprintf("%s %s names no plan of data source %s", field, chartmogul.Quote(v), row.dataSourceUUID)})
	}
	return id, internal("find plan", err)
}

// DeleteLineItem deletes the account's line item that ref names, and its
// subscription when no other line item is left on it. It returns ENOTFOUND
// ("Line item not found") when there is no such line item.
func (s *Store) DeleteLineItem(ctx context.Context, accountID int64, ref Ref) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		row, err := findChild(ctx, tx, "line_items", "Line item", accountID, ref)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM line_items WHERE id = $1`, row.id); err != nil {
			return internal("delete line item", err)
		}
		if row.subscriptionID.Valid {
			if err := deleteOrphanSubscriptions(ctx, tx, []int64{row.subscriptionID.Int64}); err != nil {
				return err
			}
		}
		return s.touch(ctx, tx, row.customerID)
	})
}

// SetLineItemDisabled disables (or enables again) the account's line item
// that ref names; by names who did it. It returns the line item as stored,
// or ENOTFOUND ("Line item not found").
func (s *Store) SetLineItemDisabled(ctx context.Context, accountID int64, ref Ref, disabled bool, by string) (*chartmogul.LineItem, error) {
	return setChildDisabled(ctx, s, "line_items", "Line item", accountID, ref, disabled, by, findLineItem)
}

// setChildDisabled disables (or enables again) the line item or transaction
// in table that ref names, marks its customer for recompute and returns the
// record as find reads it, or ENOTFOUND ("<name> not found").
func setChildDisabled[T any](ctx context.Context, s *Store, table, name string, accountID int64, ref Ref, disabled bool, by string,
	find func(ctx context.Context, q querier, accountID int64, ref Ref) (*T, error)) (*T, error) {
	var out *T
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		row, err := findChild(ctx, tx, table, name, accountID, ref)
		if err != nil {
			return err
		}
		args := append(s.disabledArgs(disabled, by), row.id)
		if _, err := tx.exec(ctx, `UPDATE `+table+` SET disabled = $1, disabled_at = $2, disabled_by = $3 WHERE id = $4`, args...); err != nil {
			return internal("disable "+strings.ToLower(name), err)
		}
		if err := s.touch(ctx, tx, row.customerID); err != nil {
			return err
		}
		out, err = find(ctx, tx, accountID, ref)
		return err
	})
	return out, err
}

// FindTransaction returns the account's transaction that ref names, or
// ENOTFOUND ("Transaction not found").
func (s *Store) FindTransaction(ctx context.Context, accountID int64, ref Ref) (*chartmogul.Transaction, error) {
	return findTransaction(ctx, s.eng.read(), accountID, ref)
}

func findTransaction(ctx context.Context, q querier, accountID int64, ref Ref) (*chartmogul.Transaction, error) {
	cond, args := ref.cond("t", accountID)
	t, err := scanTransaction(q.queryRow(ctx, `SELECT `+transactionColumns+` FROM transactions t WHERE `+cond, args...))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Transaction")
	}
	return t, internal("find transaction", err)
}

// UpdateTransaction stores the fields of the account's transaction t.UUID
// names, as the caller validated them (chartmogul.Transaction.Validate). It
// returns the transaction as stored, ENOTFOUND ("Transaction not found"), or
// EINVALID ("has already been taken") when another transaction of the data
// source has the external id.
func (s *Store) UpdateTransaction(ctx context.Context, accountID int64, t *chartmogul.Transaction) (*chartmogul.Transaction, error) {
	var out *chartmogul.Transaction
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		row, err := findChild(ctx, tx, "transactions", "Transaction", accountID, Ref{UUID: t.UUID})
		if err != nil {
			return err
		}
		taken := chartmogul.Invalid(map[string]string{"external_id": "has already been taken"})
		if t.ExternalID != "" {
			var n int64
			err := tx.queryRow(ctx, `SELECT COUNT(*) FROM transactions WHERE data_source_id = $1 AND external_id = $2 AND id <> $3`, row.dataSourceID, t.ExternalID, row.id).Scan(&n)
			if err != nil {
				return internal("check transaction", err)
			}
			if n > 0 {
				return taken
			}
		}
		_, err = tx.exec(ctx, `UPDATE transactions SET external_id = $1, type = $2, date = $3, result = $4, amount_in_cents = $5,
			transaction_fees_in_cents = $6, transaction_fees_currency = $7 WHERE id = $8`,
			strOrNil(t.ExternalID), t.Type, micros(t.Date), t.Result, intOrNil(t.AmountInCents), intOrNil(t.TransactionFeesInCents),
			t.TransactionFeesCurrency, row.id)
		if isUniqueViolation(err) {
			return taken
		}
		if err != nil {
			return internal("update transaction", err)
		}
		if err := s.touch(ctx, tx, row.customerID); err != nil {
			return err
		}
		out, err = findTransaction(ctx, tx, accountID, Ref{UUID: t.UUID})
		return err
	})
	return out, err
}

// DeleteTransaction deletes the account's transaction that ref names. It
// returns ENOTFOUND ("Transaction not found") when there is no such
// transaction.
func (s *Store) DeleteTransaction(ctx context.Context, accountID int64, ref Ref) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		row, err := findChild(ctx, tx, "transactions", "Transaction", accountID, ref)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM transactions WHERE id = $1`, row.id); err != nil {
			return internal("delete transaction", err)
		}
		return s.touch(ctx, tx, row.customerID)
	})
}

// SetTransactionDisabled disables (or enables again) the account's
// transaction that ref names; by names who did it. It returns the
// transaction as stored, or ENOTFOUND ("Transaction not found").
func (s *Store) SetTransactionDisabled(ctx context.Context, accountID int64, ref Ref, disabled bool, by string) (*chartmogul.Transaction, error) {
	return setChildDisabled(ctx, s, "transactions", "Transaction", accountID, ref, disabled, by, findTransaction)
}
