package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/recurhq/recur/chartmogul"
)

// Customers as the API shows them.
//
// A customer may answer to more than one identity (data source and external
// id) once customers have been merged into it (spec §3.7):
//   - a merge within one data source moves the merged customer's records to
//     the survivor and deletes it; its external id stays behind in
//     customer_aliases, so that imports naming it reach the survivor;
//   - a merge across data sources links the merged customer to the survivor
//     (customers.merged_into_id) and leaves its records where they are, since
//     its own billing system goes on naming it. A linked customer is hidden:
//     lists leave it out and its uuid answers 404.
//
// The survivor lists every identity in data_source_uuids and external_ids,
// its own first.

// CustomerFilter narrows ListCustomers; empty fields do not filter. The data
// source and external id filters match any identity of a customer.
type CustomerFilter struct {
	DataSourceUUID string
	ExternalID     string
	Email          string
	// Status is a status as the API shows it: "New Lead", "Working Lead",
	// "Qualified Lead", "Unqualified Lead", "Active", "Past Due" or
	// "Cancelled".
	Status string
	// System is the billing system of the customer's data source: "Custom"
	// and ChartMogul's older "Import API" match the same sources.
	System string
}

// customSystems are the names ChartMogul has given sources fed through the
// API; filters treat them as one.
var customSystems = []string{chartmogul.DataSourceSystemCustom, "Import API"}

// system narrows to data sources (alias d) of one billing system.
func (w *where) system(system string) {
	if slices.Contains(customSystems, system) {
		w.conds = append(w.conds, `d.system IN ('Custom', 'Import API')`)
		return
	}
	w.add("d.system = $?", system)
}

// customerStatusSQL is a customer's status as the API shows it: the one the
// analytics derived from its subscriptions (customer_analytics, joined by
// customerJoin), else its lead status, else New Lead.
const customerStatusSQL = `CASE WHEN COALESCE(ca.status, '') <> '' THEN ca.status WHEN c.lead_status = '' THEN 'New Lead' ELSE c.lead_status END`

// ListCustomers returns a page of the account's customers in the order p
// asks for (ChartMogul lists customers oldest first), with one extra row
// when more follow, and the number of customers the filter matches when p
// asks for it. Customers merged into another are left out; the survivor
// matches the filters by any of its identities.
func (s *Store) ListCustomers(ctx context.Context, accountID int64, f CustomerFilter, p Page) ([]chartmogul.Customer, int, error) {
	w := &where{}
	w.add("c.account_id = $?", accountID)
	w.conds = append(w.conds, "c.merged_into_id IS NULL")
	if f.DataSourceUUID != "" {
		w.add(`(d.uuid = $? OR c.id IN (SELECT m.merged_into_id FROM customers m JOIN data_sources md ON md.id = m.data_source_id
			WHERE md.uuid = $? AND m.merged_into_id IS NOT NULL))`, f.DataSourceUUID)
	}
	if f.ExternalID != "" {
		w.add(`(c.external_id = $?
			OR c.id IN (SELECT m.merged_into_id FROM customers m WHERE m.account_id = $1 AND m.external_id = $? AND m.merged_into_id IS NOT NULL)
			OR c.id IN (SELECT a.customer_id FROM customer_aliases a WHERE a.account_id = $1 AND a.external_id = $?))`, f.ExternalID)
	}
	if f.Email != "" {
		w.add("c.email = $?", f.Email)
	}
	if f.Status != "" {
		w.add(customerStatusSQL+" = $?", f.Status)
	}
	if f.System != "" {
		w.system(f.System)
	}
	q := s.eng.read()
	total, err := w.count(ctx, q, p, "customers", "c", customerJoin)
	if err != nil {
		return nil, 0, internal("count customers", err)
	}
	out := []chartmogul.Customer{}
	err = each(ctx, q, `SELECT `+customerColumns+` FROM customers c `+customerJoin+w.page("c", p), w.args, func(r rows) error {
		c, err := scanCustomer(r)
		if err == nil {
			out = append(out, *c)
		}
		return err
	})
	if err != nil {
		return nil, 0, internal("list customers", err)
	}
	ptrs := make([]*chartmogul.Customer, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	return out, total, attachIdentities(ctx, q, s.Engine(), ptrs)
}

// Customer returns the account's customer with this uuid, with all its
// identities. It returns ENOTFOUND ("Customer not found") when the account
// has no such customer, or when the customer was merged into another.
func (s *Store) Customer(ctx context.Context, accountID int64, uuid string) (*chartmogul.Customer, error) {
	q := s.eng.read()
	c, err := scanCustomer(q.queryRow(ctx, `SELECT `+customerColumns+` FROM customers c `+customerJoin+`
		WHERE c.uuid = $1 AND c.account_id = $2 AND c.merged_into_id IS NULL`, uuid, accountID))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Customer")
	}
	if err != nil {
		return nil, internal("find customer", err)
	}
	return c, attachIdentities(ctx, q, s.Engine(), []*chartmogul.Customer{c})
}

// attachIdentities fills in the data source uuids and external ids of
// customers: their own, then those merged into them within their data
// source, then the customers linked to them from other data sources (and
// those customers' own aliases). One query serves a whole page.
func attachIdentities(ctx context.Context, q querier, eng Engine, list []*chartmogul.Customer) error {
	if len(list) == 0 {
		return nil
	}
	byID := make(map[int64]*chartmogul.Customer, len(list))
	ids := make([]int64, len(list))
	for i, c := range list {
		byID[c.ID] = c
		ids[i] = c.ID
		c.DataSourceUUIDs = []string{c.DataSourceUUID}
		c.ExternalIDs = []string{c.ExternalID}
	}
	err := each(ctx, q, `
		SELECT a.customer_id, d.uuid, a.external_id, 0, a.id FROM customer_aliases a JOIN data_sources d ON d.id = a.data_source_id
		WHERE `+inList(eng, "a.customer_id", 1)+`
		UNION ALL
		SELECT m.merged_into_id, d.uuid, m.external_id, 1, m.id FROM customers m JOIN data_sources d ON d.id = m.data_source_id
		WHERE `+inList(eng, "m.merged_into_id", 1)+`
		UNION ALL
		SELECT m.merged_into_id, d.uuid, a.external_id, 2, a.id FROM customer_aliases a JOIN customers m ON m.id = a.customer_id
		JOIN data_sources d ON d.id = a.data_source_id
		WHERE `+inList(eng, "m.merged_into_id", 1)+`
		ORDER BY 4, 5`, []any{listArg(eng, ids)}, func(r rows) error {
		var id, kind, order int64
		var ds, ext string
		if err := r.Scan(&id, &ds, &ext, &kind, &order); err != nil {
			return err
		}
		if c := byID[id]; c != nil {
			c.DataSourceUUIDs = append(c.DataSourceUUIDs, ds)
			c.ExternalIDs = append(c.ExternalIDs, ext)
		}
		return nil
	})
	return internal("load customer identities", err)
}

// loadCustomersByExternalID loads the customers a batch names by external id
// within a data source, keyed by the external id named. An external id left
// behind by a merge within the data source names the customer it was merged
// into.
func loadCustomersByExternalID(ctx context.Context, tx *txn, dsID int64, externalIDs []string) (map[string]*chartmogul.Customer, error) {
	out := make(map[string]*chartmogul.Customer, len(externalIDs))
	err := each(ctx, tx, `SELECT x.ext, `+customerColumns+` FROM (
			SELECT id, external_id AS ext FROM customers WHERE data_source_id = $1 AND `+inList(tx.eng, "external_id", 2)+`
			UNION ALL
			SELECT customer_id, external_id FROM customer_aliases WHERE data_source_id = $1 AND `+inList(tx.eng, "external_id", 2)+`
		) x JOIN customers c ON c.id = x.id `+customerJoin,
		[]any{dsID, listArg(tx.eng, externalIDs)}, func(r rows) error {
			var ext string
			c, err := scanCustomer(prefixRow{r, []any{&ext}})
			if err == nil {
				out[ext] = c
			}
			return err
		})
	return out, internal("load customers", err)
}

// prefixRow scans leading columns into pre, and the rest as the scanner it
// is handed to expects.
type prefixRow struct {
	r   row
	pre []any
}

func (p prefixRow) Scan(dest ...any) error {
	return p.r.Scan(append(slices.Clip(p.pre), dest...)...)
}

// customerForUpdate finds a visible customer of the account by uuid, locks
// its data source (which serialises the change with imports into it) and
// reads the customer again under the lock. It returns ENOTFOUND when there
// is no such customer.
func customerForUpdate(ctx context.Context, tx *txn, accountID int64, uuid string) (*chartmogul.Customer, error) {
	var dsID int64
	err := tx.queryRow(ctx, `SELECT data_source_id FROM customers WHERE uuid = $1 AND account_id = $2 AND merged_into_id IS NULL`, uuid, accountID).Scan(&dsID)
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Customer")
	}
	if err != nil {
		return nil, internal("find customer", err)
	}
	if _, err := lockDataSource(ctx, tx, dsID); err != nil {
		return nil, err
	}
	c, err := scanCustomer(tx.queryRow(ctx, `SELECT `+customerColumns+` FROM customers c `+customerJoin+` WHERE c.uuid = $1 AND c.account_id = $2 AND c.merged_into_id IS NULL`, uuid, accountID))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Customer")
	}
	return c, internal("find customer", err)
}

// UpdateCustomerAttributes changes what a customer keeps beyond its record's
// fields — tags, custom attributes, lead status and owner — through change,
// which edits the customer it is given and may refuse with an error that is
// returned as it is. It returns the customer as stored afterwards, or
// ENOTFOUND when the account has no such customer.
func (s *Store) UpdateCustomerAttributes(ctx context.Context, accountID int64, uuid string, change func(c *chartmogul.Customer) error) (*chartmogul.Customer, error) {
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		c, err := customerForUpdate(ctx, tx, accountID, uuid)
		if err != nil {
			return err
		}
		if err := change(c); err != nil {
			return err
		}
		tags, custom := attributesJSON(c)
		_, err = tx.exec(ctx, `UPDATE customers SET tags = $1, custom = $2, lead_status = $3, owner = $4, updated_at = $5 WHERE id = $6`,
			tags, custom, c.LeadStatus, c.Owner, micros(s.now()), c.ID)
		return internal("update customer attributes", err)
	})
	if err != nil {
		return nil, err
	}
	return s.Customer(ctx, accountID, uuid)
}

// DeleteCustomer deletes a customer with its invoices, line items,
// transactions, subscriptions and subscription events, and the external ids
// merged into it within its data source. Customers linked to it from other
// data sources stand on their own again, records intact. It returns
// ENOTFOUND when the account has no such customer.
func (s *Store) DeleteCustomer(ctx context.Context, accountID int64, uuid string) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		c, err := customerForUpdate(ctx, tx, accountID, uuid)
		if err != nil {
			return err
		}
		// Line items, transactions and events carry customer_id without a
		// foreign key to customers, so each table is emptied explicitly,
		// children first, one statement each.
		for _, t := range []string{"line_items", "transactions", "subscription_events", "invoices", "subscriptions", "customer_aliases"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+t+` WHERE customer_id = $1`, c.ID); err != nil {
				return internal("delete customer's "+t, err)
			}
		}
		if _, err := tx.exec(ctx, `UPDATE customers SET merged_into_id = NULL WHERE merged_into_id = $1`, c.ID); err != nil {
			return internal("unlink merged customers", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM customers WHERE id = $1`, c.ID); err != nil {
			return internal("delete customer", err)
		}
		return s.touch(ctx, tx, c.ID)
	})
}

// CustomerRef names a customer: by uuid, or by the uuid of a data source
// and an external id within it.
type CustomerRef struct {
	UUID           string
	DataSourceUUID string
	ExternalID     string
}

// String describes the reference for messages.
func (r CustomerRef) String() string {
	if r.UUID != "" {
		return r.UUID
	}
	return fmt.Sprintf("external_id %s in data source %s", chartmogul.Quote(r.ExternalID), r.DataSourceUUID)
}

// resolveCustomer finds the visible customer a reference names: a customer
// merged into another resolves to the survivor. It returns ENOTFOUND for a
// customer or data source the account does not have.
func resolveCustomer(ctx context.Context, tx *txn, accountID int64, ref CustomerRef) (int64, error) {
	var id int64
	if ref.UUID != "" {
		err := tx.queryRow(ctx, `SELECT COALESCE(merged_into_id, id) FROM customers WHERE uuid = $1 AND account_id = $2`, ref.UUID, accountID).Scan(&id)
		if isNoRows(err) {
			return 0, chartmogul.NotFound("Customer")
		}
		return id, internal("find customer", err)
	}
	var dsID int64
	err := tx.queryRow(ctx, `SELECT id FROM data_sources WHERE uuid = $1 AND account_id = $2`, ref.DataSourceUUID, accountID).Scan(&dsID)
	if isNoRows(err) {
		return 0, chartmogul.NotFound("Data source")
	}
	if err != nil {
		return 0, internal("find data source", err)
	}
	err = tx.queryRow(ctx, `SELECT COALESCE(merged_into_id, id) FROM customers WHERE data_source_id = $1 AND external_id = $2
		UNION ALL SELECT customer_id FROM customer_aliases WHERE data_source_id = $1 AND external_id = $2`, dsID, ref.ExternalID).Scan(&id)
	if isNoRows(err) {
		return 0, chartmogul.NotFound("Customer")
	}
	return id, internal("find customer", err)
}

func customerByID(ctx context.Context, tx *txn, id int64) (*chartmogul.Customer, error) {
	c, err := scanCustomer(tx.queryRow(ctx, `SELECT `+customerColumns+` FROM customers c `+customerJoin+` WHERE c.id = $1`, id))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Customer")
	}
	return c, internal("find customer", err)
}

// MergedTag is the tag a customer gets when another is merged into it, as
// ChartMogul tags it.
const MergedTag = "merged-customer"

// MergeCustomers merges the customer from names into the one into names,
// within the account (spec §3.7). The survivor gets the merged customer's
// tags, the custom attributes it lacks, and the tag "merged-customer".
//
// Within one data source the merged customer's invoices, line items,
// transactions, subscriptions and subscription events move to the survivor
// (a subscription both have becomes one), the merged customer is deleted and
// its external id becomes an alias of the survivor. Across data sources the
// merged customer is linked to the survivor and keeps its records.
//
// It returns ENOTFOUND when either customer (or a data source a reference
// names) is not the account's, and EINVALID when both name the same
// customer.
func (s *Store) MergeCustomers(ctx context.Context, accountID int64, from, into CustomerRef) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		fromID, err := resolveCustomer(ctx, tx, accountID, from)
		if err != nil {
			return err
		}
		intoID, err := resolveCustomer(ctx, tx, accountID, into)
		if err != nil {
			return err
		}
		if fromID == intoID {
			return chartmogul.Invalid(map[string]string{"from": fmt.Sprintf("from (%s) and into (%s) are the same customer; name two different customers", from, into)})
		}
		f, err := customerByID(ctx, tx, fromID)
		if err != nil {
			return err
		}
		t, err := customerByID(ctx, tx, intoID)
		if err != nil {
			return err
		}
		// Lock both data sources, in id order so that two merges never wait
		// on each other.
		for _, id := range slices.Compact(slices.Sorted(slices.Values([]int64{f.DataSourceID, t.DataSourceID}))) {
			if _, err := lockDataSource(ctx, tx, id); err != nil {
				return err
			}
		}
		for _, tag := range append(slices.Clone(f.Tags), MergedTag) {
			if !slices.Contains(t.Tags, tag) {
				t.Tags = append(t.Tags, tag)
			}
		}
		for k, v := range f.Custom {
			if _, ok := t.Custom[k]; !ok {
				if t.Custom == nil {
					t.Custom = map[string]any{}
				}
				t.Custom[k] = v
			}
		}
		tags, custom := attributesJSON(t)
		if _, err := tx.exec(ctx, `UPDATE customers SET tags = $1, custom = $2, updated_at = $3 WHERE id = $4`, tags, custom, micros(s.now()), t.ID); err != nil {
			return internal("merge customers", err)
		}
		// Customers linked to the merged one now belong to the survivor.
		if _, err := tx.exec(ctx, `UPDATE customers SET merged_into_id = $1 WHERE merged_into_id = $2`, t.ID, f.ID); err != nil {
			return internal("merge customers", err)
		}
		if f.DataSourceID != t.DataSourceID {
			if _, err := tx.exec(ctx, `UPDATE customers SET merged_into_id = $1, updated_at = $2 WHERE id = $3`, t.ID, micros(s.now()), f.ID); err != nil {
				return internal("merge customers", err)
			}
			return s.touch(ctx, tx, t.ID, f.ID)
		}
		if err := moveRecords(ctx, tx, f, t); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM customers WHERE id = $1`, f.ID); err != nil {
			return internal("merge customers", err)
		}
		_, err = tx.exec(ctx, `INSERT INTO customer_aliases (account_id, data_source_id, customer_id, external_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
			t.AccountID, t.DataSourceID, t.ID, f.ExternalID, micros(s.now()))
		if err != nil {
			return internal("merge customers", err)
		}
		return s.touch(ctx, tx, t.ID, f.ID)
	})
}

// moveRecords moves every record of customer f to customer t, both of one
// data source, with one statement per table. A subscription both have (the
// same external id) becomes t's: f's line items move onto it.
func moveRecords(ctx context.Context, tx *txn, f, t *chartmogul.Customer) error {
	stmts := []struct {
		sql  string
		args []any
	}{
		{`UPDATE line_items SET subscription_id = (
				SELECT ts.id FROM subscriptions fs JOIN subscriptions ts ON ts.external_id = fs.external_id AND ts.customer_id = $2
				WHERE fs.id = line_items.subscription_id)
			WHERE customer_id = $1 AND subscription_id IN (
				SELECT fs.id FROM subscriptions fs JOIN subscriptions ts ON ts.external_id = fs.external_id AND ts.customer_id = $2
				WHERE fs.customer_id = $1)`, []any{f.ID, t.ID}},
		{`DELETE FROM subscriptions WHERE customer_id = $1 AND external_id IN (SELECT external_id FROM subscriptions WHERE customer_id = $2)`, []any{f.ID, t.ID}},
		{`UPDATE subscriptions SET customer_id = $2 WHERE customer_id = $1`, []any{f.ID, t.ID}},
		{`UPDATE invoices SET customer_id = $2 WHERE customer_id = $1`, []any{f.ID, t.ID}},
		{`UPDATE line_items SET customer_id = $2 WHERE customer_id = $1`, []any{f.ID, t.ID}},
		{`UPDATE transactions SET customer_id = $2 WHERE customer_id = $1`, []any{f.ID, t.ID}},
		// Events keep the customer external id they were sent with: it now
		// names the survivor, and re-sending the event must match it.
		{`UPDATE subscription_events SET customer_id = $2 WHERE customer_id = $1`, []any{f.ID, t.ID}},
		{`UPDATE customer_aliases SET customer_id = $2 WHERE customer_id = $1`, []any{f.ID, t.ID}},
	}
	for _, st := range stmts {
		if _, err := tx.exec(ctx, st.sql, st.args...); err != nil {
			return internal("move records of a merged customer", err)
		}
	}
	return nil
}

// UnmergeCustomer separates from the customer with uuid customerUUID the
// customer with externalID in the data source dsUUID, which was merged into
// it across data sources: the link is removed and that customer, which kept
// its records, stands on its own again.
//
// It returns ENOTFOUND for a customer or data source the account does not
// have, and EINVALID when the identity is the customer's own, was merged
// within the customer's data source (its records were combined and cannot
// be told apart), or was never merged into the customer.
func (s *Store) UnmergeCustomer(ctx context.Context, accountID int64, customerUUID, dsUUID, externalID string) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		c, err := scanCustomer(tx.queryRow(ctx, `SELECT `+customerColumns+` FROM customers c `+customerJoin+`
			WHERE c.uuid = $1 AND c.account_id = $2 AND c.merged_into_id IS NULL`, customerUUID, accountID))
		if isNoRows(err) {
			return chartmogul.NotFound("Customer")
		}
		if err != nil {
			return internal("find customer", err)
		}
		var dsID int64
		err = tx.queryRow(ctx, `SELECT id FROM data_sources WHERE uuid = $1 AND account_id = $2`, dsUUID, accountID).Scan(&dsID)
		if isNoRows(err) {
			return chartmogul.NotFound("Data source")
		}
		if err != nil {
			return internal("find data source", err)
		}
		// Lock both data sources in id order, as merges do.
		for _, id := range slices.Compact(slices.Sorted(slices.Values([]int64{c.DataSourceID, dsID}))) {
			if _, err := lockDataSource(ctx, tx, id); err != nil {
				return err
			}
		}
		var linked int64
		err = tx.queryRow(ctx, `SELECT id FROM customers WHERE data_source_id = $1 AND external_id = $2 AND merged_into_id = $3`, dsID, externalID, c.ID).Scan(&linked)
		if err == nil {
			if _, err := tx.exec(ctx, `UPDATE customers SET merged_into_id = NULL, updated_at = $1 WHERE id = $2`, micros(s.now()), linked); err != nil {
				return internal("unmerge customer", err)
			}
			return s.touch(ctx, tx, c.ID, linked)
		}
		if !isNoRows(err) {
			return internal("find merged customer", err)
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM customer_aliases WHERE data_source_id = $1 AND external_id = $2 AND customer_id = $3`, dsID, externalID, c.ID).Scan(&n); err != nil {
			return internal("find merged customer", err)
		}
		switch {
		case n > 0:
			return chartmogul.Invalid(map[string]string{"external_id": fmt.Sprintf(
				"external_id %s was merged into %s within data source %s: its records were combined with the customer's and cannot be told apart, so it cannot be unmerged",
				chartmogul.Quote(externalID), c.UUID, dsUUID)})
		case dsID == c.DataSourceID && externalID == c.ExternalID:
			return chartmogul.Invalid(map[string]string{"external_id": fmt.Sprintf(
				"external_id %s in data source %s is customer %s's own; name the data source and external id of a customer merged into it",
				chartmogul.Quote(externalID), dsUUID, c.UUID)})
		}
		return chartmogul.Invalid(map[string]string{"external_id": fmt.Sprintf(
			"no customer with external_id %s in data source %s was merged into %s", chartmogul.Quote(externalID), dsUUID, c.UUID)})
	})
}
