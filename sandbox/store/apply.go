package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

// ErrNotNext says an import cannot be applied yet: an older import of its
// data source has not finished. Imports of one data source apply in the
// order they arrived.
var ErrNotNext = errors.New("store: an older import of the data source has not finished")

// ApplyImport applies one import in a single write transaction. It takes the
// data source's lock (on PostgreSQL, a row lock other workers wait on; on
// SQLite, the one write lock), checks that the import is still unfinished and
// the oldest unfinished one of its data source, loads the rows keys names,
// asks resolve what to write, writes it with bulk statements and finishes the
// import with its report. The rows and the finished status commit together,
// so an import is applied exactly once however often its job runs.
//
// It returns applied false when the import had already finished, and
// ErrNotNext when an older import must go first.
func (s *Store) ApplyImport(ctx context.Context, imp *chartmogul.Import, keys bulk.ImportKeys, resolve func(ds chartmogul.DataSource, ex *bulk.ExistingRecords) *bulk.ImportChanges) (report *chartmogul.ImportReport, applied bool, err error) {
	err = s.eng.writeTx(ctx, func(tx *txn) error {
		ds, err := lockDataSource(ctx, tx, imp.DataSourceID)
		if err != nil {
			return err
		}
		var status string
		var oldest int64
		if err := tx.queryRow(ctx, `SELECT status FROM imports WHERE id = $1`, imp.ID).Scan(&status); err != nil {
			return internal("check import", err)
		}
		if chartmogul.ImportStatus(status).Finished() {
			return nil
		}
		if err := tx.queryRow(ctx, `SELECT MIN(id) FROM imports WHERE data_source_id = $1 AND status IN ('queued', 'processing')`, imp.DataSourceID).Scan(&oldest); err != nil {
			return internal("check import order", err)
		}
		if oldest != imp.ID {
			return ErrNotNext
		}
		ex, err := loadExisting(ctx, tx, ds.ID, keys)
		if err != nil {
			return err
		}
		ch := resolve(*ds, ex)
		if err := s.writeChanges(ctx, tx, ch); err != nil {
			return err
		}
		if err := s.afterWrite(ctx, tx, ch); err != nil {
			return err
		}
		final, reason := ch.Report.Result()
		report, applied = ch.Report, true
		if err := finishImport(ctx, tx, imp.ID, final, reason, ch.Report, s.now()); err != nil {
			return err
		}
		return s.enqueueWebhook(ctx, tx, imp.ID, final) // webhooks.go: announced with the commit that finishes it
	})
	return report, applied, err
}

func lockDataSource(ctx context.Context, tx *txn, id int64) (*chartmogul.DataSource, error) {
	q := `SELECT ` + dataSourceColumns + ` FROM data_sources WHERE id = $1`
	if tx.eng == Postgres {
		q += ` FOR UPDATE`
	}
	ds, err := scanDataSource(tx.queryRow(ctx, q, id))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Data source")
	}
	return ds, internal("lock data source", err)
}

// inList is a condition "col is one of the list in parameter $n", in each
// engine's idiom: SQLite reads a JSON array, PostgreSQL an array parameter.
func inList(eng Engine, col string, n int) string {
	if eng == Postgres {
		return fmt.Sprintf("%s = ANY($%d)", col, n)
	}
	return fmt.Sprintf("%s IN (SELECT value FROM json_each($%d))", col, n)
}

// listArg is the parameter inList expects.
func listArg[T string | int64](eng Engine, list []T) any {
	if eng == Postgres {
		return list
	}
	b, _ := json.Marshal(list)
	return string(b)
}

// loadExisting loads the data source's rows that keys name.
func loadExisting(ctx context.Context, tx *txn, dsID int64, keys bulk.ImportKeys) (*bulk.ExistingRecords, error) {
	ex := &bulk.ExistingRecords{
		Customers: map[string]*chartmogul.Customer{}, Plans: map[string]*chartmogul.Plan{}, Invoices: map[string]*chartmogul.Invoice{},
		LineItems: map[string]*chartmogul.LineItem{}, Transactions: map[string]*chartmogul.Transaction{},
		Events: map[string]*chartmogul.SubscriptionEvent{}, Subscriptions: map[bulk.SubscriptionKey]*chartmogul.Subscription{},
		EventIDs: map[string]bool{}, PlansByUUID: map[string]*chartmogul.Plan{},
	}
	byExt := func(table, alias, cols, join string) string {
		return `SELECT ` + cols + ` FROM ` + table + ` ` + alias + ` ` + join + ` WHERE ` + alias + `.data_source_id = $1 AND ` + inList(tx.eng, alias+".external_id", 2)
	}
	if len(keys.Customers) > 0 {
		// External ids left behind by merges name the surviving customer.
		customers, err := loadCustomersByExternalID(ctx, tx, dsID, keys.Customers)
		if err != nil {
			return nil, err
		}
		ex.Customers = customers
	}
	if len(keys.Plans) > 0 {
		err := each(ctx, tx, byExt("plans", "p", planColumns, planJoin), []any{dsID, listArg(tx.eng, keys.Plans)}, func(r rows) error {
			p, err := scanPlan(r)
			if err == nil {
				ex.Plans[p.ExternalID] = p
			}
			return err
		})
		if err != nil {
			return nil, internal("load plans", err)
		}
	}
	if len(keys.PlanUUIDs) > 0 {
		err := each(ctx, tx, `SELECT `+planColumns+` FROM plans p `+planJoin+` WHERE p.data_source_id = $1 AND `+inList(tx.eng, "p.uuid", 2),
			[]any{dsID, listArg(tx.eng, keys.PlanUUIDs)}, func(r rows) error {
				p, err := scanPlan(r)
				if err == nil {
					ex.PlansByUUID[p.UUID] = p
				}
				return err
			})
		if err != nil {
			return nil, internal("load plans", err)
		}
	}
	if len(ex.Customers) > 0 {
		ids := make([]int64, 0, len(ex.Customers))
		for _, c := range ex.Customers {
			ids = append(ids, c.ID)
		}
		err := each(ctx, tx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE `+inList(tx.eng, "customer_id", 1), []any{listArg(tx.eng, ids)}, func(r rows) error {
			sub, err := scanSubscription(r)
			if err == nil {
				ex.Subscriptions[bulk.SubscriptionKey{CustomerID: sub.CustomerID, ExternalID: sub.ExternalID}] = sub
			}
			return err
		})
		if err != nil {
			return nil, internal("load subscriptions", err)
		}
	}
	if len(keys.Invoices) > 0 {
		var ids []int64
		byID := map[int64]*chartmogul.Invoice{}
		err := each(ctx, tx, `SELECT `+invoiceColumns+` FROM invoices i `+invoiceJoin+` WHERE i.data_source_id = $1 AND `+inList(tx.eng, "i.external_id", 2),
			[]any{dsID, listArg(tx.eng, keys.Invoices)}, func(r rows) error {
				inv, err := scanInvoice(r)
				if err == nil {
					ex.Invoices[inv.ExternalID] = inv
					byID[inv.ID] = inv
					ids = append(ids, inv.ID)
				}
				return err
			})
		if err != nil {
			return nil, internal("load invoices", err)
		}
		if err := attachChildren(ctx, tx, tx.eng, ids, byID); err != nil {
			return nil, err
		}
		if err := loadInvoiceSubscriptions(ctx, tx, ex); err != nil {
			return nil, err
		}
	}
	if len(keys.LineItems) > 0 {
		err := each(ctx, tx, `SELECT `+lineItemColumns+` FROM line_items li `+lineItemJoin+` WHERE li.data_source_id = $1 AND `+inList(tx.eng, "li.external_id", 2),
			[]any{dsID, listArg(tx.eng, keys.LineItems)}, func(r rows) error {
				li, err := scanLineItem(r)
				if err == nil {
					ex.LineItems[li.ExternalID] = li
				}
				return err
			})
		if err != nil {
			return nil, internal("load line items", err)
		}
	}
	if len(keys.Transactions) > 0 {
		err := each(ctx, tx, `SELECT `+transactionColumns+` FROM transactions t WHERE t.data_source_id = $1 AND `+inList(tx.eng, "t.external_id", 2),
			[]any{dsID, listArg(tx.eng, keys.Transactions)}, func(r rows) error {
				t, err := scanTransaction(r)
				if err == nil {
					ex.Transactions[t.ExternalID] = t
				}
				return err
			})
		if err != nil {
			return nil, internal("load transactions", err)
		}
	}
	if len(keys.Events) > 0 {
		err := each(ctx, tx, `SELECT `+eventColumns+` FROM subscription_events e `+eventJoin+` WHERE e.data_source_id = $1 AND `+inList(tx.eng, "e.external_id", 2),
			[]any{dsID, listArg(tx.eng, keys.Events)}, func(r rows) error {
				ev, err := scanEvent(r)
				if err == nil {
					ex.Events[ev.ExternalID] = ev
				}
				return err
			})
		if err != nil {
			return nil, internal("load subscription events", err)
		}
	}
	if err := loadRetractionTargets(ctx, tx, dsID, keys, ex); err != nil {
		return nil, err
	}
	return ex, nil
}

// attachChildren loads the line items and transactions of invoices.
func attachChildren(ctx context.Context, q querier, eng Engine, ids []int64, byID map[int64]*chartmogul.Invoice) error {
	if len(ids) == 0 {
		return nil
	}
	err := each(ctx, q, `SELECT `+lineItemColumns+` FROM line_items li `+lineItemJoin+` WHERE `+inList(eng, "li.invoice_id", 1)+` ORDER BY li.id`,
		[]any{listArg(eng, ids)}, func(r rows) error {
			li, err := scanLineItem(r)
			if err == nil {
				inv := byID[li.InvoiceID]
				li.InvoiceExternalID = inv.ExternalID
				inv.LineItems = append(inv.LineItems, *li)
			}
			return err
		})
	if err != nil {
		return internal("load line items", err)
	}
	err = each(ctx, q, `SELECT `+transactionColumns+` FROM transactions t WHERE `+inList(eng, "t.invoice_id", 1)+` ORDER BY t.id`,
		[]any{listArg(eng, ids)}, func(r rows) error {
			t, err := scanTransaction(r)
			if err == nil {
				inv := byID[t.InvoiceID]
				t.InvoiceExternalID = inv.ExternalID
				inv.Transactions = append(inv.Transactions, *t)
			}
			return err
		})
	return internal("load transactions", err)
}

// each runs a query and calls fn on every row.
func each(ctx context.Context, q querier, query string, args []any, fn func(r rows) error) error {
	r, err := q.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		if err := fn(r); err != nil {
			return err
		}
	}
	return r.Err()
}

// writeChanges writes an import's changes: ids for new parent rows first,
// then every table with one bulk write.
func (s *Store) writeChanges(ctx context.Context, tx *txn, ch *bulk.ImportChanges) error {
	now := micros(s.now())
	assign := func(table string, n int, set func(i int, id int64)) error {
		if n == 0 {
			return nil
		}
		ids, err := tx.allocate(ctx, table, n)
		if err != nil {
			return internal("allocate ids for "+table, err)
		}
		for i, id := range ids {
			set(i, id)
		}
		return nil
	}
	if err := assign("customers", len(ch.NewCustomers), func(i int, id int64) { ch.NewCustomers[i].ID = id }); err != nil {
		return err
	}
	if err := assign("plans", len(ch.NewPlans), func(i int, id int64) { ch.NewPlans[i].ID = id }); err != nil {
		return err
	}
	if err := assign("subscriptions", len(ch.NewSubscriptions), func(i int, id int64) { ch.NewSubscriptions[i].Subscription.ID = id }); err != nil {
		return err
	}
	if err := assign("invoices", len(ch.NewInvoices), func(i int, id int64) { ch.NewInvoices[i].Invoice.ID = id }); err != nil {
		return err
	}
	// Events get their ids first too: a retraction names the event it
	// retracts by id, and that event may be new in the same batch.
	if err := assign("subscription_events", len(ch.NewEvents), func(i int, id int64) { ch.NewEvents[i].Event.ID = id }); err != nil {
		return err
	}
	ch.Link()

	err := tx.bulk(ctx, "customers", customerInsertColumns, len(ch.NewCustomers), func(i int, dst []any) []any {
		c := ch.NewCustomers[i]
		tags, custom := attributesJSON(c)
		return append(dst, c.ID, c.UUID, c.AccountID, c.DataSourceID, c.ExternalID, c.Name, c.Email, c.Company, c.Country, c.State,
			c.City, c.Zip, c.WebsiteURL, microsOrNil(c.LeadCreatedAt), microsOrNil(c.FreeTrialStartedAt), now, now,
			c.LeadStatus, c.Owner, tags, custom)
	})
	if err != nil {
		return internal("write customers", err)
	}
	for _, c := range ch.UpdatedCustomers {
		// Lead status, owner and attributes are written back as they are:
		// an import carries the stored values over, PATCH /v1/customers
		// may change them.
		tags, custom := attributesJSON(c)
		_, err := tx.exec(ctx, `UPDATE customers SET name = $1, email = $2, company = $3, country = $4, state = $5, city = $6, zip = $7, website_url = $8,
			lead_created_at = $9, free_trial_started_at = $10, updated_at = $11, lead_status = $12, owner = $13, tags = $14, custom = $15 WHERE id = $16`,
			c.Name, c.Email, c.Company, c.Country, c.State, c.City, c.Zip, c.WebsiteURL, microsOrNil(c.LeadCreatedAt), microsOrNil(c.FreeTrialStartedAt), now,
			c.LeadStatus, c.Owner, tags, custom, c.ID)
		if err != nil {
			return internal("update customer", err)
		}
	}

	err = tx.bulk(ctx, "plans", planInsertColumns, len(ch.NewPlans), func(i int, dst []any) []any {
		p := ch.NewPlans[i]
		return append(dst, p.ID, p.UUID, p.AccountID, p.DataSourceID, p.ExternalID, p.Name, p.IntervalCount, p.IntervalUnit, now)
	})
	if err != nil {
		return internal("write plans", err)
	}
	for _, p := range ch.UpdatedPlans {
		if _, err := tx.exec(ctx, `UPDATE plans SET name = $1, interval_count = $2, interval_unit = $3 WHERE id = $4`, p.Name, p.IntervalCount, p.IntervalUnit, p.ID); err != nil {
			return internal("update plan", err)
		}
	}

	err = tx.bulk(ctx, "subscriptions", subscriptionInsertColumns, len(ch.NewSubscriptions), func(i int, dst []any) []any {
		sub := ch.NewSubscriptions[i].Subscription
		return append(dst, sub.ID, sub.UUID, sub.AccountID, sub.DataSourceID, sub.CustomerID, sub.ExternalID, sub.SetExternalID, idOrNil(sub.PlanID), now)
	})
	if err != nil {
		return internal("write subscriptions", err)
	}

	err = tx.bulk(ctx, "invoices", invoiceInsertColumns, len(ch.NewInvoices), func(i int, dst []any) []any {
		inv := ch.NewInvoices[i].Invoice
		return append(dst, inv.ID, inv.UUID, inv.AccountID, inv.DataSourceID, inv.CustomerID, inv.ExternalID, micros(inv.Date), microsOrNil(inv.DueDate),
			inv.Currency, inv.CollectionMethod, inv.Status, false, now)
	})
	if err != nil {
		return internal("write invoices", err)
	}

	err = tx.bulk(ctx, "line_items", lineItemInsertColumns, len(ch.NewLineItems), func(i int, dst []any) []any {
		li, inv := ch.NewLineItems[i].LineItem, ch.NewLineItems[i].Invoice
		return append(dst, li.UUID, inv.AccountID, inv.DataSourceID, inv.CustomerID, inv.ID, strOrNil(li.ExternalID), li.Type,
			idOrNil(li.SubscriptionID), idOrNil(li.PlanID), microsOrNil(li.ServicePeriodStart), microsOrNil(li.ServicePeriodEnd), li.Prorated,
			li.ProrationType, microsOrNil(li.CancelledAt), li.AmountInCents, li.Quantity, li.DiscountAmountInCents, li.DiscountCode,
			li.DiscountDescription, li.TaxAmountInCents, li.TransactionFeesInCents, li.TransactionFeesCurrency, li.AccountCode,
			li.Description, intOrNil(li.EventOrder), li.BalanceTransfer, now)
	})
	if err != nil {
		return internal("write line items", err)
	}

	err = tx.bulk(ctx, "transactions", transactionInsertColumns, len(ch.NewTransactions), func(i int, dst []any) []any {
		t, inv := ch.NewTransactions[i].Transaction, ch.NewTransactions[i].Invoice
		return append(dst, t.UUID, inv.AccountID, inv.DataSourceID, inv.CustomerID, inv.ID, strOrNil(t.ExternalID), t.Type, micros(t.Date), t.Result,
			intOrNil(t.AmountInCents), intOrNil(t.TransactionFeesInCents), t.TransactionFeesCurrency, now)
	})
	if err != nil {
		return internal("write transactions", err)
	}

	err = tx.bulk(ctx, "subscription_events", eventInsertColumns, len(ch.NewEvents), func(i int, dst []any) []any {
		e := ch.NewEvents[i].Event
		return append(dst, e.ID, e.AccountID, e.DataSourceID, e.CustomerID, e.CustomerExternalID, strOrNil(e.ExternalID), e.EventType, micros(e.EventDate),
			micros(e.EffectiveDate), e.SubscriptionExternalID, e.SubscriptionSetExternalID, e.PlanExternalID, e.Currency, intOrNil(e.AmountInCents),
			intOrNil(e.Quantity), intOrNil(e.TaxAmountInCents), e.RetractedEventID, intOrNil(e.EventOrder), now, now, idOrNil(e.RetractsEventID))
	})
	if err != nil {
		return internal("write subscription events", err)
	}
	if err := updateEvents(ctx, tx, ch.UpdatedEvents, now); err != nil {
		return err
	}
	return nil
}

// idOrNil stores a zero reference as NULL.
func idOrNil(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// The columns each table's bulk write fills.
var (
	customerInsertColumns = strings.Fields(`id uuid account_id data_source_id external_id name email company country state
		city zip website_url lead_created_at free_trial_started_at created_at updated_at lead_status owner tags custom`)
	planInsertColumns         = strings.Fields(`id uuid account_id data_source_id external_id name interval_count interval_unit created_at`)
	subscriptionInsertColumns = strings.Fields(`id uuid account_id data_source_id customer_id external_id set_external_id plan_id created_at`)
	invoiceInsertColumns      = strings.Fields(`id uuid account_id data_source_id customer_id external_id date due_date
		currency collection_method status disabled created_at`)
	transactionInsertColumns = strings.Fields(`uuid account_id data_source_id customer_id invoice_id external_id type date result
		amount_in_cents transaction_fees_in_cents transaction_fees_currency created_at`)
	eventInsertColumns = strings.Fields(`id account_id data_source_id customer_id customer_external_id external_id event_type
		event_date effective_date subscription_external_id subscription_set_external_id plan_external_id currency amount_in_cents
		quantity tax_amount_in_cents retracted_event_id event_order created_at updated_at retracts_event_id`)
)

var lineItemInsertColumns = strings.Fields(`uuid account_id data_source_id customer_id invoice_id external_id type subscription_id plan_id
	service_period_start service_period_end prorated proration_type cancelled_at amount_in_cents quantity discount_amount_in_cents
	discount_code discount_description tax_amount_in_cents transaction_fees_in_cents transaction_fees_currency account_code description
	event_order balance_transfer created_at`)

// ApplyChanges is the single-object endpoints' write: in one transaction it
// locks the data source, loads the rows keys names, asks resolve what to
// write and, when resolve reports no failure, writes it. With failures it
// writes nothing and returns the changes, whose report says what is wrong:
// a request to the single-object endpoints is all or nothing.
func (s *Store) ApplyChanges(ctx context.Context, dataSourceID int64, keys bulk.ImportKeys, resolve func(ds chartmogul.DataSource, ex *bulk.ExistingRecords) *bulk.ImportChanges) (*bulk.ImportChanges, error) {
	var ch *bulk.ImportChanges
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		ds, err := lockDataSource(ctx, tx, dataSourceID)
		if err != nil {
			return err
		}
		ex, err := loadExisting(ctx, tx, ds.ID, keys)
		if err != nil {
			return err
		}
		ch = resolve(*ds, ex)
		if len(ch.Report.Failures) > 0 {
			return nil
		}
		if err := s.writeChanges(ctx, tx, ch); err != nil {
			return err
		}
		return s.afterWrite(ctx, tx, ch)
	})
	return ch, err
}

// afterWrite runs the hooks that follow every write of records, in the same
// transaction (the analytics recompute of the touched customers).
func (s *Store) afterWrite(ctx context.Context, tx *txn, ch *bulk.ImportChanges) error {
	if s.AfterWrite != nil && len(ch.UpdatedPlans) > 0 {
		// A plan's new interval changes the MRR of every customer with
		// line items on it (PATCH /v1/plans, or a re-imported plan).
		ids := make([]int64, len(ch.UpdatedPlans))
		for i, p := range ch.UpdatedPlans {
			ids[i] = p.ID
		}
		if err := s.TouchPlans(ctx, Tx{tx}, ids); err != nil {
			return err
		}
	}
	if s.AfterWrite == nil || len(ch.Touched) == 0 {
		return nil
	}
	ids := make([]int64, len(ch.Touched))
	for i, c := range ch.Touched {
		ids[i] = c.ID
	}
	return s.AfterWrite(ctx, Tx{tx}, ids)
}

// WriteChanges writes changes in one transaction without an import around
// them: no data source lock, no import bookkeeping. It exists to measure the
// floor of an import — decoding and inserting rows with nothing else — and
// for tools that build changes themselves.
func (s *Store) WriteChanges(ctx context.Context, ch *bulk.ImportChanges) error {
	return s.eng.writeTx(ctx, func(tx *txn) error { return s.writeChanges(ctx, tx, ch) })
}

// PreviewChanges resolves a batch against the data source's rows as they
// are now and returns the changes it would make, writing nothing: the
// dry run of an import. It takes no lock; an import applied meanwhile may
// make the real outcome differ.
func (s *Store) PreviewChanges(ctx context.Context, ds *chartmogul.DataSource, keys bulk.ImportKeys, resolve func(ds chartmogul.DataSource, ex *bulk.ExistingRecords) *bulk.ImportChanges) (*bulk.ImportChanges, error) {
	ex, err := loadExisting(ctx, &txn{querier: s.eng.read(), eng: s.Engine()}, ds.ID, keys)
	if err != nil {
		return nil, err
	}
	return resolve(*ds, ex), nil
}
