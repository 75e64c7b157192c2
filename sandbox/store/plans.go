package store

import (
	"context"
	"fmt"

	"github.com/recurhq/recur/chartmogul"
)

// PlanFilter narrows ListPlans; empty fields do not filter.
type PlanFilter struct {
	DataSourceUUID string
	ExternalID     string
	// System is the billing system of the plan's data source: "Custom" and
	// ChartMogul's older "Import API" match the same sources.
	System string
}

// ListPlans returns a page of the account's plans, newest first, with one
// extra row when more follow, and the number of plans the filter matches
// when p asks for it.
func (s *Store) ListPlans(ctx context.Context, accountID int64, f PlanFilter, p Page) ([]chartmogul.Plan, int, error) {
	w := &where{}
	w.add("p.account_id = $?", accountID)
	if f.DataSourceUUID != "" {
		w.add("d.uuid = $?", f.DataSourceUUID)
	}
	if f.ExternalID != "" {
		w.add("p.external_id = $?", f.ExternalID)
	}
	if f.System != "" {
		w.system(f.System)
	}
	total, err := w.count(ctx, s.eng.read(), p, "plans", "p", planJoin)
	if err != nil {
		return nil, 0, internal("count plans", err)
	}
	out := []chartmogul.Plan{}
	err = each(ctx, s.eng.read(), `SELECT `+planColumns+` FROM plans p `+planJoin+w.page("p", p), w.args, func(r rows) error {
		pl, err := scanPlan(r)
		if err == nil {
			out = append(out, *pl)
		}
		return err
	})
	return out, total, internal("list plans", err)
}

// Plan returns the account's plan with this uuid, or ENOTFOUND ("Plan not
// found"), which is also the answer for another account's plan.
func (s *Store) Plan(ctx context.Context, accountID int64, uuid string) (*chartmogul.Plan, error) {
	p, err := scanPlan(s.eng.read().queryRow(ctx, `SELECT `+planColumns+` FROM plans p `+planJoin+` WHERE p.uuid = $1 AND p.account_id = $2`, uuid, accountID))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Plan")
	}
	return p, internal("find plan", err)
}

// DeletePlan deletes a plan that nothing names. It returns ENOTFOUND when
// the account has no such plan, and EINVALID (field "plan") when line items
// or subscription events of its data source still name it: deleting it would
// leave subscriptions without an interval, so those records must go first.
func (s *Store) DeletePlan(ctx context.Context, accountID int64, uuid string) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		var id, dsID int64
		var ext string
		err := tx.queryRow(ctx, `SELECT id, data_source_id, external_id FROM plans WHERE uuid = $1 AND account_id = $2`, uuid, accountID).Scan(&id, &dsID, &ext)
		if isNoRows(err) {
			return chartmogul.NotFound("Plan")
		}
		if err != nil {
			return internal("find plan", err)
		}
		// The data source's lock keeps an import from naming the plan
		// between the check and the delete.
		if _, err := lockDataSource(ctx, tx, dsID); err != nil {
			return err
		}
		var items, events int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM line_items WHERE plan_id = $1`, id).Scan(&items); err != nil {
			return internal("count the plan's line items", err)
		}
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM subscription_events WHERE data_source_id = $1 AND plan_external_id = $2`, dsID, ext).Scan(&events); err != nil {
			return internal("count the plan's subscription events", err)
		}
		if items > 0 || events > 0 {
			return chartmogul.Invalid(map[string]string{"plan": fmt.Sprintf(
				"plan %s cannot be deleted: %d line items and %d subscription events name it; delete those invoices and events first",
				uuid, items, events)})
		}
		if _, err := tx.exec(ctx, `UPDATE subscriptions SET plan_id = NULL WHERE plan_id = $1`, id); err != nil {
			return internal("delete plan", err)
		}
		_, err = tx.exec(ctx, `DELETE FROM plans WHERE id = $1`, id)
		return internal("delete plan", err)
	})
}
