package store

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

// Subscription events: reads, the single-object endpoints' changes
// (delete, disabled state), and the rows a batch's retractions need.
//
// A retraction records the event it retracted in retracts_event_id (resolved
// by bulk's resolver when it is written); an event's RetractedBy is derived
// from that when it is read — the lowest id of an enabled retraction naming
// it — so that disabling or deleting a retraction releases its event
// without a write to the event itself.

const eventColumns = `e.id, e.account_id, e.data_source_id, d.uuid, e.customer_id, e.customer_external_id, e.external_id, e.event_type, e.event_date,
	e.effective_date, e.subscription_external_id, e.subscription_set_external_id, e.plan_external_id, e.currency, e.amount_in_cents, e.quantity,
	e.tax_amount_in_cents, e.retracted_event_id, e.event_order, e.disabled, e.disabled_at, e.retracts_event_id,
	(SELECT MIN(r.id) FROM subscription_events r WHERE r.retracts_event_id = e.id AND NOT r.disabled), e.created_at, e.updated_at`

const eventJoin = `JOIN data_sources d ON d.id = e.data_source_id`

func scanEvent(r row) (*chartmogul.SubscriptionEvent, error) {
	var e chartmogul.SubscriptionEvent
	var ext sql.NullString
	var date, effective, created, updated int64
	var amount, qty, tax, order, disabledAt, retracts, retractedBy sql.NullInt64
	err := r.Scan(&e.ID, &e.AccountID, &e.DataSourceID, &e.DataSourceUUID, &e.CustomerID, &e.CustomerExternalID, &ext, &e.EventType, &date,
		&effective, &e.SubscriptionExternalID, &e.SubscriptionSetExternalID, &e.PlanExternalID, &e.Currency, &amount, &qty,
		&tax, &e.RetractedEventID, &order, &e.Disabled, &disabledAt, &retracts, &retractedBy, &created, &updated)
	if err != nil {
		return nil, err
	}
	e.ExternalID, e.EventDate, e.EffectiveDate = ext.String, fromMicros(date), fromMicros(effective)
	e.AmountInCents, e.Quantity, e.TaxAmountInCents, e.EventOrder = optInt(amount), optInt(qty), optInt(tax), optInt(order)
	e.DisabledAt, e.RetractsEventID, e.RetractedBy = optTime(disabledAt), retracts.Int64, retractedBy.Int64
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &e, nil
}

// TimeRange is a half-open interval of time, [From, To).
type TimeRange struct {
	From, To time.Time
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
	// EventDate and EffectiveDate keep the events whose date falls in the
	// range.
	EventDate, EffectiveDate *TimeRange
	// WithDisabled includes disabled events, which lists leave out unless
	// asked: a disabled event no longer counts.
	WithDisabled bool
}

// ListEvents returns a page of the account's subscription events, newest
// first, with one extra row when more follow, and the number of events the
// filter matches when p asks for it.
func (s *Store) ListEvents(ctx context.Context, accountID int64, f EventFilter, p Page) ([]chartmogul.SubscriptionEvent, int, error) {
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
	for _, c := range []struct {
		col string
		r   *TimeRange
	}{{"e.event_date", f.EventDate}, {"e.effective_date", f.EffectiveDate}} {
		if c.r != nil {
			w.add(c.col+" >= $?", micros(c.r.From))
			w.add(c.col+" < $?", micros(c.r.To))
		}
	}
	if !f.WithDisabled {
		w.conds = append(w.conds, "NOT e.disabled")
	}
	total, err := w.count(ctx, s.eng.read(), p, "subscription_events", "e", eventJoin)
	if err != nil {
		return nil, 0, internal("count subscription events", err)
	}
	out := []chartmogul.SubscriptionEvent{}
	err = each(ctx, s.eng.read(), `SELECT `+eventColumns+` FROM subscription_events e `+eventJoin+w.page("e", p), w.args, func(r rows) error {
		e, err := scanEvent(r)
		if err == nil {
			out = append(out, *e)
		}
		return err
	})
	return out, total, internal("list subscription events", err)
}

// Event returns the account's subscription event with this id, disabled or
// not, or ENOTFOUND.
func (s *Store) Event(ctx context.Context, accountID, id int64) (*chartmogul.SubscriptionEvent, error) {
	return findEvent(ctx, s.eng.read(), `e.id = $1 AND e.account_id = $2`, id, accountID)
}

// EventByExternalID returns the subscription event with this external id in
// the account's data source with this uuid. It returns ENOTFOUND naming the
// data source when the account has no such data source, and naming the
// event when the data source has no such event.
func (s *Store) EventByExternalID(ctx context.Context, accountID int64, dataSourceUUID, externalID string) (*chartmogul.SubscriptionEvent, error) {
	ds, err := s.DataSource(ctx, accountID, dataSourceUUID)
	if err != nil {
		return nil, err
	}
	return findEvent(ctx, s.eng.read(), `e.data_source_id = $1 AND e.external_id = $2`, ds.ID, externalID)
}

func findEvent(ctx context.Context, q querier, cond string, args ...any) (*chartmogul.SubscriptionEvent, error) {
	e, err := scanEvent(q.queryRow(ctx, `SELECT `+eventColumns+` FROM subscription_events e `+eventJoin+` WHERE `+cond, args...))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Subscription event")
	}
	return e, internal("find subscription event", err)
}

// eventTx runs fn on the account's event with this id in a write
// transaction that holds its data source's lock, as every write of events
// does, so that a retraction being resolved never races a change to the
// event it retracts. Then the customer's analytics hook runs in the same
// transaction. It returns ENOTFOUND when the account has no such event.
func (s *Store) eventTx(ctx context.Context, accountID, id int64, fn func(tx *txn, e *chartmogul.SubscriptionEvent) error) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		var dsID int64
		err := tx.queryRow(ctx, `SELECT data_source_id FROM subscription_events WHERE id = $1 AND account_id = $2`, id, accountID).Scan(&dsID)
		if isNoRows(err) {
			return chartmogul.NotFound("Subscription event")
		}
		if err != nil {
			return internal("find subscription event", err)
		}
		if _, err := lockDataSource(ctx, tx, dsID); err != nil {
			return err
		}
		e, err := findEvent(ctx, tx, `e.id = $1`, id)
		if err != nil {
			return err
		}
		if err := fn(tx, e); err != nil {
			return err
		}
		if s.AfterWrite == nil {
			return nil
		}
		return s.AfterWrite(ctx, Tx{tx}, []int64{e.CustomerID})
	})
}

// DeleteEvent deletes the account's subscription event with this id, for
// good. A retraction it was retracted by stays, retracting nothing; when it
// is itself a retraction, the event it retracted counts again. It returns
// ENOTFOUND when the account has no such event.
func (s *Store) DeleteEvent(ctx context.Context, accountID, id int64) error {
	return s.eventTx(ctx, accountID, id, func(tx *txn, e *chartmogul.SubscriptionEvent) error {
		_, err := tx.exec(ctx, `DELETE FROM subscription_events WHERE id = $1`, e.ID)
		return internal("delete subscription event", err)
	})
}

// SetEventDisabled disables or enables the account's subscription event
// with this id and returns it. A disabled event keeps its row but no longer
// counts: lists leave it out unless asked, and a disabled retraction
// retracts nothing. disabled_at keeps the time it was first disabled until
// it is enabled again. It returns ENOTFOUND when the account has no such
// event.
func (s *Store) SetEventDisabled(ctx context.Context, accountID, id int64, disabled bool) (*chartmogul.SubscriptionEvent, error) {
	var out *chartmogul.SubscriptionEvent
	err := s.eventTx(ctx, accountID, id, func(tx *txn, e *chartmogul.SubscriptionEvent) error {
		now := s.now()
		at := e.DisabledAt
		switch {
		case !disabled:
			at = nil
		case at == nil:
			at = &now
		}
		_, err := tx.exec(ctx, `UPDATE subscription_events SET disabled = $1, disabled_at = $2, updated_at = $3 WHERE id = $4`,
			disabled, microsOrNil(at), micros(now), e.ID)
		if err != nil {
			return internal("disable subscription event", err)
		}
		out, err = findEvent(ctx, tx, `e.id = $1`, e.ID)
		return err
	})
	return out, err
}

// loadRetractionTargets loads what a batch's retractions may retract: the
// events named by id (into EventsByID, and EventIDs), and the pending
// scheduled events of the subscriptions that type-specific retractions
// name (into ScheduledEvents, oldest first).
func loadRetractionTargets(ctx context.Context, tx *txn, dsID int64, keys bulk.ImportKeys, ex *bulk.ExistingRecords) error {
	if ex.EventsByID == nil {
		ex.EventsByID = map[string]*chartmogul.SubscriptionEvent{}
	}
	if ex.ScheduledEvents == nil {
		ex.ScheduledEvents = map[string][]*chartmogul.SubscriptionEvent{}
	}
	if ex.EventIDs == nil {
		ex.EventIDs = map[string]bool{}
	}
	var ids []int64
	for _, s := range keys.RetractedEventIDs {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			ids = append(ids, n)
		}
	}
	if len(ids) > 0 {
		err := each(ctx, tx, `SELECT `+eventColumns+` FROM subscription_events e `+eventJoin+` WHERE e.data_source_id = $1 AND `+inList(tx.eng, "e.id", 2),
			[]any{dsID, listArg(tx.eng, ids)}, func(r rows) error {
				e, err := scanEvent(r)
				if err == nil {
					id := strconv.FormatInt(e.ID, 10)
					ex.EventsByID[id], ex.EventIDs[id] = e, true
				}
				return err
			})
		if err != nil {
			return internal("load retracted subscription events", err)
		}
	}
	if len(keys.RetractionSubscriptions) > 0 {
		err := each(ctx, tx, `SELECT `+eventColumns+` FROM subscription_events e `+eventJoin+` WHERE e.data_source_id = $1 AND `+
			inList(tx.eng, "e.subscription_external_id", 2)+` AND e.event_type IN ('subscription_start_scheduled', 'subscription_cancellation_scheduled', 'subscription_update_scheduled')
			AND NOT e.disabled AND NOT EXISTS (SELECT 1 FROM subscription_events r WHERE r.retracts_event_id = e.id AND NOT r.disabled)
			ORDER BY e.event_date, e.id`,
			[]any{dsID, listArg(tx.eng, keys.RetractionSubscriptions)}, func(r rows) error {
				e, err := scanEvent(r)
				if err == nil {
					ex.ScheduledEvents[e.SubscriptionExternalID] = append(ex.ScheduledEvents[e.SubscriptionExternalID], e)
				}
				return err
			})
		if err != nil {
			return internal("load scheduled subscription events", err)
		}
	}
	return nil
}

// updateEvents writes events changed in place. Only the single-object PATCH
// produces them, one per request, so a statement per row costs nothing.
func updateEvents(ctx context.Context, tx *txn, links []bulk.EventLink, now int64) error {
	for _, l := range links {
		e := l.Event
		_, err := tx.exec(ctx, `UPDATE subscription_events SET customer_id = $1, customer_external_id = $2, external_id = $3, event_type = $4,
			event_date = $5, effective_date = $6, subscription_external_id = $7, subscription_set_external_id = $8, plan_external_id = $9,
			currency = $10, amount_in_cents = $11, quantity = $12, tax_amount_in_cents = $13, retracted_event_id = $14, event_order = $15,
			disabled = $16, disabled_at = $17, retracts_event_id = $18, updated_at = $19 WHERE id = $20`,
			e.CustomerID, e.CustomerExternalID, strOrNil(e.ExternalID), e.EventType, micros(e.EventDate), micros(e.EffectiveDate),
			e.SubscriptionExternalID, e.SubscriptionSetExternalID, e.PlanExternalID, e.Currency, intOrNil(e.AmountInCents), intOrNil(e.Quantity),
			intOrNil(e.TaxAmountInCents), e.RetractedEventID, intOrNil(e.EventOrder), e.Disabled, microsOrNil(e.DisabledAt), idOrNil(e.RetractsEventID),
			now, e.ID)
		if isUniqueViolation(err) {
			return chartmogul.Invalid(map[string]string{"external_id": "has already been taken"})
		}
		if err != nil {
			return internal("update subscription event", err)
		}
	}
	return nil
}
