package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

// Import-side subscriptions: the identity a customer's recurring line items
// share (customer, subscription_external_id), listed and cancelled through
// ChartMogul's legacy /v1/import/.../subscriptions endpoints.
//
// subscriptions.cancellation_dates holds the dates a subscription was
// cancelled through PATCH /v1/import/subscriptions/{uuid}: a JSON array of
// microseconds since the Unix epoch (UTC), ascending and without repeats, the
// same unit as every other stored time. decodeCancellationDates reads it.

// subscriptionViewColumns read a subscription with the public ids the API
// shows. Its plan is the plan of its latest service period, so that a plan
// change on a later invoice shows; the plan it was created with stands in
// for a subscription whose items name none.
const subscriptionViewColumns = `s.id, s.uuid, s.account_id, s.data_source_id, s.customer_id, s.external_id, s.set_external_id, s.plan_id,
	s.created_at, d.uuid, c.uuid,
	COALESCE((SELECT lp.uuid FROM line_items lli JOIN plans lp ON lp.id = lli.plan_id WHERE lli.subscription_id = s.id
		ORDER BY lli.service_period_start DESC, lli.id DESC LIMIT 1), p.uuid, ''),
	s.cancellation_dates`

const subscriptionViewJoin = `JOIN data_sources d ON d.id = s.data_source_id JOIN customers c ON c.id = s.customer_id LEFT JOIN plans p ON p.id = s.plan_id`

func scanSubscriptionView(r row) (*chartmogul.Subscription, error) {
	var sub chartmogul.Subscription
	var plan sql.NullInt64
	var created int64
	var dates string
	err := r.Scan(&sub.ID, &sub.UUID, &sub.AccountID, &sub.DataSourceID, &sub.CustomerID, &sub.ExternalID, &sub.SetExternalID, &plan,
		&created, &sub.DataSourceUUID, &sub.CustomerUUID, &sub.PlanUUID, &dates)
	if err != nil {
		return nil, err
	}
	sub.PlanID, sub.CreatedAt = plan.Int64, fromMicros(created)
	if sub.CancellationDates, err = decodeCancellationDates(dates); err != nil {
		return nil, fmt.Errorf("subscription %s: %w", sub.UUID, err)
	}
	return &sub, nil
}

// decodeCancellationDates reads subscriptions.cancellation_dates.
func decodeCancellationDates(s string) ([]time.Time, error) {
	var us []int64
	if err := json.Unmarshal([]byte(s), &us); err != nil {
		return nil, fmt.Errorf("unreadable cancellation_dates %q: %w", s, err)
	}
	out := make([]time.Time, len(us))
	for i, u := range us {
		out[i] = fromMicros(u)
	}
	return out, nil
}

// encodeCancellationDates writes subscriptions.cancellation_dates: sorted,
// each date once.
func encodeCancellationDates(dates []time.Time) string {
	us := make([]int64, len(dates))
	for i, t := range dates {
		us[i] = micros(t)
	}
	slices.Sort(us)
	us = slices.Compact(us)
	b, _ := json.Marshal(us)
	return string(b)
}

// CustomerSubscriptions returns a page of the import-side subscriptions of
// the account's customer with this uuid, oldest first as ChartMogul lists
// them, with one extra row when more follow, and the number of subscriptions
// when p asks for it. It returns ENOTFOUND ("Customer not found") when the
// account has no such customer.
func (s *Store) CustomerSubscriptions(ctx context.Context, accountID int64, customerUUID string, p Page) ([]chartmogul.Subscription, int, error) {
	q := s.eng.read()
	var customerID int64
	err := q.queryRow(ctx, `SELECT id FROM customers WHERE uuid = $1 AND account_id = $2`, customerUUID, accountID).Scan(&customerID)
	if isNoRows(err) {
		return nil, 0, chartmogul.NotFound("Customer")
	}
	if err != nil {
		return nil, 0, internal("find customer", err)
	}
	w := &where{}
	w.add("s.customer_id = $?", customerID)
	total, err := w.count(ctx, q, p, "subscriptions", "s", "")
	if err != nil {
		return nil, 0, internal("count subscriptions", err)
	}
	p.OldestFirst = true
	out := []chartmogul.Subscription{}
	err = each(ctx, q, `SELECT `+subscriptionViewColumns+` FROM subscriptions s `+subscriptionViewJoin+w.page("s", p), w.args, func(r rows) error {
		sub, err := scanSubscriptionView(r)
		if err == nil {
			out = append(out, *sub)
		}
		return err
	})
	return out, total, internal("list subscriptions", err)
}

// Subscription returns the account's import-side subscription with this
// uuid, or ENOTFOUND ("Subscription not found").
func (s *Store) Subscription(ctx context.Context, accountID int64, uuid string) (*chartmogul.Subscription, error) {
	return subscriptionByUUID(ctx, s.eng.read(), accountID, uuid)
}

func subscriptionByUUID(ctx context.Context, q querier, accountID int64, uuid string) (*chartmogul.Subscription, error) {
	sub, err := scanSubscriptionView(q.queryRow(ctx, `SELECT `+subscriptionViewColumns+` FROM subscriptions s `+subscriptionViewJoin+
		` WHERE s.uuid = $1 AND s.account_id = $2`, uuid, accountID))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Subscription")
	}
	return sub, internal("find subscription", err)
}

// SetCancellationDates changes the cancellation history of the account's
// import-side subscription with this uuid: with replace, dates becomes the
// whole history (none clears it); without, dates are added to it. Dates are
// kept sorted and each once. The customer's analytics are recomputed in the
// same transaction (AfterWrite). It returns the subscription as stored, or
// ENOTFOUND ("Subscription not found"). The caller checks the dates
// (chartmogul.ValidateCancellation).
func (s *Store) SetCancellationDates(ctx context.Context, accountID int64, uuid string, dates []time.Time, replace bool) (*chartmogul.Subscription, error) {
	var out *chartmogul.Subscription
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		sub, err := subscriptionByUUID(ctx, tx, accountID, uuid)
		if err != nil {
			return err
		}
		if _, err := lockDataSource(ctx, tx, sub.DataSourceID); err != nil {
			return err
		}
		all := dates
		if !replace {
			// Read again under the lock, so that two concurrent appends both
			// land.
			if sub, err = subscriptionByUUID(ctx, tx, accountID, uuid); err != nil {
				return err
			}
			all = append(slices.Clone(sub.CancellationDates), dates...)
		}
		if _, err := tx.exec(ctx, `UPDATE subscriptions SET cancellation_dates = $1 WHERE id = $2`, encodeCancellationDates(all), sub.ID); err != nil {
			return internal("cancel subscription", err)
		}
		if err := s.touch(ctx, tx, sub.CustomerID); err != nil {
			return err
		}
		out, err = subscriptionByUUID(ctx, tx, accountID, uuid)
		return err
	})
	return out, err
}

// loadInvoiceSubscriptions adds to ex the subscriptions of the customers of
// ex's invoices that the batch does not name itself: a line item added to an
// existing invoice continues its customer's subscription, which must be
// found rather than created again.
func loadInvoiceSubscriptions(ctx context.Context, tx *txn, ex *bulk.ExistingRecords) error {
	known := map[int64]bool{}
	for _, c := range ex.Customers {
		known[c.ID] = true
	}
	var ids []int64
	for _, inv := range ex.Invoices {
		if !known[inv.CustomerID] {
			known[inv.CustomerID] = true
			ids = append(ids, inv.CustomerID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	err := each(ctx, tx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE `+inList(tx.eng, "customer_id", 1), []any{listArg(tx.eng, ids)}, func(r rows) error {
		sub, err := scanSubscription(r)
		if err == nil {
			ex.Subscriptions[bulk.SubscriptionKey{CustomerID: sub.CustomerID, ExternalID: sub.ExternalID}] = sub
		}
		return err
	})
	return internal("load subscriptions", err)
}

// subscriptionFor returns the id of the customer's subscription with this
// external id, creating it (with the set id and plan of the line item that
// names it first) when the customer has none.
func subscriptionFor(ctx context.Context, tx *txn, accountID, dataSourceID, customerID int64, externalID, setExternalID string, planID int64, now int64) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM subscriptions WHERE customer_id = $1 AND external_id = $2`, customerID, externalID).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !isNoRows(err) {
		return 0, internal("find subscription", err)
	}
	err = tx.queryRow(ctx, `INSERT INTO subscriptions (uuid, account_id, data_source_id, customer_id, external_id, set_external_id, plan_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		chartmogul.NewID(chartmogul.PrefixSubscription), accountID, dataSourceID, customerID, externalID, setExternalID, idOrNil(planID), now).Scan(&id)
	return id, internal("create subscription", err)
}

// deleteOrphanSubscriptions deletes those of the subscriptions ids names
// that no line item refers to any more: a subscription exists through its
// line items, and one left without any has nothing to show.
func deleteOrphanSubscriptions(ctx context.Context, tx *txn, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.exec(ctx, `DELETE FROM subscriptions WHERE `+inList(tx.eng, "id", 1)+
		` AND NOT EXISTS (SELECT 1 FROM line_items li WHERE li.subscription_id = subscriptions.id)`, listArg(tx.eng, ids))
	return internal("delete subscriptions left without line items", err)
}

// touch runs the AfterWrite hook for the customers whose records a
// single-object write changed, in its transaction.
func (s *Store) touch(ctx context.Context, tx *txn, customerIDs ...int64) error {
	if s.AfterWrite == nil {
		return nil
	}
	ids := slices.Compact(slices.Sorted(slices.Values(customerIDs)))
	ids = slices.DeleteFunc(ids, func(id int64) bool { return id == 0 })
	if len(ids) == 0 {
		return nil
	}
	return s.AfterWrite(ctx, Tx{tx}, ids)
}
