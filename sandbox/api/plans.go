package api

import (
	"net/http"
	"slices"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
)

// planRoutes registers the plan routes. ChartMogul's documentation posts
// new plans to the legacy /v1/import/plans as well; both are served.
func (s *Server) planRoutes(route router) {
	route("POST /v1/plans", s.createPlan)
	route("POST /v1/import/plans", s.createPlan)
	route("GET /v1/plans", s.listPlans)
	route("GET /v1/plans/{uuid}", s.getPlan)
	route("PATCH /v1/plans/{uuid}", s.updatePlan)
	route("DELETE /v1/plans/{uuid}", s.deletePlan)
}

// planMembers are the members of a plan body that are not fields of the bulk
// plan record: the data source, and read-only members clients send back.
var planMembers = []string{"data_source_uuid", "uuid", "errors"}

// createPlan creates one plan: 201 with the plan, 422 with ChartMogul's
// errors map (a duplicate external_id with the message the Go client's
// IsAlreadyExists recognises). A plan without external_id gets its bare
// uuid as external_id, as ChartMogul does.
func (s *Server) createPlan(w http.ResponseWriter, r *http.Request) error {
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	b := chartmogul.NewBatch(s.Now())
	_, raw, err := b.Add(chartmogul.RecordPlans, body, planMembers...)
	if err != nil {
		return err
	}
	ds, err := s.dataSourceOf(r.Context(), raw)
	if err != nil {
		return err
	}
	ch, err := s.apply(r.Context(), ds, b, chartmogul.RecordPlans)
	if err != nil {
		return err
	}
	created, err := s.Store.Plan(r.Context(), ds.AccountID, ch.NewPlans[0].UUID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toPlan(created))
	return nil
}

type plansPage struct {
	Plans []planJSON `json:"plans"`
	offsets
	Cursor  *string `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

// listPlans lists the account's plans, newest first. An empty
// data_source_uuid= does not filter: the Go client always sends one.
func (s *Server) listPlans(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	p, err := page(r, "plans")
	if err != nil {
		return err
	}
	p.Total = p.Before == 0
	q := r.URL.Query()
	list, total, err := s.Store.ListPlans(r.Context(), c.account.ID, store.PlanFilter{DataSourceUUID: q.Get("data_source_uuid"),
		ExternalID: q.Get("external_id"), System: q.Get("system")}, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "plans", c.account.ID, func(p *chartmogul.Plan) int64 { return p.ID })
	plans := make([]planJSON, len(list))
	for i := range list {
		plans[i] = toPlan(&list[i])
	}
	writeJSON(w, http.StatusOK, plansPage{Plans: plans, offsets: firstPage(p, total), Cursor: optString(cursor), HasMore: more})
	return nil
}

func (s *Server) getPlan(w http.ResponseWriter, r *http.Request) error {
	pl, err := s.Store.Plan(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPlan(pl))
	return nil
}

// planFields are the plan fields an update may change.
var planFields = []string{"name", "interval_count", "interval_unit"}

// updatePlan changes a plan's name, interval_count and interval_unit, those
// the body carries; external_id and data_source_uuid may be sent (the
// clients resend them) but do not change. The stored plan with the body's
// fields over it is validated and written as a re-imported plan would be,
// with the same rules and messages. It answers 202 with the plan, as
// ChartMogul's recordings do.
func (s *Server) updatePlan(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := callerOf(ctx)
	pl, err := s.Store.Plan(ctx, c.account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	// Read which fields the body gives (and check it is one JSON object).
	_, given, err := chartmogul.NewBatch(s.Now()).Add(chartmogul.RecordPlans, body, slices.Concat(planMembers, []string{"external_id", "name", "interval_count", "interval_unit"})...)
	if err != nil {
		return err
	}
	rec := map[string]any{"external_id": pl.ExternalID, "name": pl.Name, "interval_count": pl.IntervalCount, "interval_unit": pl.IntervalUnit}
	for _, f := range planFields {
		if v, ok := given[f]; ok {
			rec[f] = v
		}
	}
	merged, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b := chartmogul.NewBatch(s.Now())
	// The plan exists: it is matched by external id and updated in place.
	b.Strict = false
	if _, _, err := b.Add(chartmogul.RecordPlans, merged); err != nil {
		return err
	}
	b.Validate()
	gone := false
	ch, err := s.Store.ApplyChanges(ctx, pl.DataSourceID, bulk.Keys(b), func(ds chartmogul.DataSource, ex *bulk.ExistingRecords) *bulk.ImportChanges {
		if old := ex.Plans[pl.ExternalID]; old == nil || old.ID != pl.ID {
			gone = true
			return &bulk.ImportChanges{Report: &chartmogul.ImportReport{Failures: []chartmogul.RecordProblem{{Type: chartmogul.RecordPlans, Message: "gone"}}}}
		}
		return bulk.Resolve(b, ds, ex)
	})
	if gone {
		return chartmogul.NotFound("Plan")
	}
	if err != nil {
		return err
	}
	if len(ch.Report.Failures) > 0 {
		return chartmogul.Invalid(recordErrors(ch.Report, chartmogul.RecordPlans))
	}
	updated, err := s.Store.Plan(ctx, c.account.ID, pl.UUID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toPlan(updated))
	return nil
}

// deletePlan deletes a plan nothing names: 204, or 422 saying what still
// names it.
func (s *Server) deletePlan(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeletePlan(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("uuid")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}
