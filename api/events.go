package api

import (
	"net/http"

	"github.com/recurhq/recur"
	"github.com/recurhq/recur/store"
)

// eventRoutes registers the subscription event routes.
func (s *Server) eventRoutes(route router) {
	route("GET /v1/subscription_events", s.listEvents)
}

type eventsMetaJSON struct {
	NextKey    *int64  `json:"next_key"`
	PrevKey    *int64  `json:"prev_key"`
	BeforeKey  *string `json:"before_key"`
	Page       int     `json:"page"`
	TotalPages int     `json:"total_pages"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	p, err := page(r, "subscription_events")
	if err != nil {
		return err
	}
	p.Total = true
	q := r.URL.Query()
	list, total, err := s.Store.ListEvents(r.Context(), c.account.ID, store.EventFilter{
		DataSourceUUID: q.Get("data_source_uuid"), ExternalID: q.Get("external_id"), CustomerExternalID: q.Get("customer_external_id"),
		CustomerUUID: q.Get("customer_uuid"), SubscriptionExternalID: q.Get("subscription_external_id"), EventType: q.Get("event_type"),
		PlanExternalID: q.Get("plan_external_id")}, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "subscription_events", c.account.ID, func(e *recur.SubscriptionEvent) int64 { return e.ID })
	events := make([]eventJSON, len(list))
	for i := range list {
		events[i] = toEvent(&list[i])
	}
	meta := eventsMetaJSON{Page: 1, TotalPages: (total + p.Limit - 1) / p.Limit}
	if len(list) > 0 {
		last := list[len(list)-1]
		meta.NextKey = &last.ID
		before := millis(last.CreatedAt)
		meta.BeforeKey = &before
	}
	writeJSON(w, http.StatusOK, struct {
		Events  []eventJSON    `json:"subscription_events"`
		Meta    eventsMetaJSON `json:"meta"`
		Cursor  *string        `json:"cursor"`
		HasMore bool           `json:"has_more"`
	}{events, meta, optString(cursor), more})
	return nil
}
