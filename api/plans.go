package api

import (
	"net/http"

	"github.com/recurhq/recur"
	"github.com/recurhq/recur/store"
)

// planRoutes registers the plan routes.
func (s *Server) planRoutes(route router) {
	route("GET /v1/plans", s.listPlans)
	route("GET /v1/plans/{uuid}", s.getPlan)
}

type plansPage struct {
	Plans []planJSON `json:"plans"`
	offsets
	Cursor  *string `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

func (s *Server) listPlans(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	p, err := page(r, "plans")
	if err != nil {
		return err
	}
	p.Total = p.Before == 0
	q := r.URL.Query()
	list, total, err := s.Store.ListPlans(r.Context(), c.account.ID, store.PlanFilter{DataSourceUUID: q.Get("data_source_uuid"), ExternalID: q.Get("external_id")}, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "plans", c.account.ID, func(p *recur.Plan) int64 { return p.ID })
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
