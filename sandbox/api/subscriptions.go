package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
)

// Import-side subscriptions are ChartMogul's legacy view of the
// subscriptions a customer's line items make: listed per customer, and
// cancelled (or given a corrected cancellation history) by uuid.

// subscriptionRoutes registers the import-side subscription routes.
func (s *Server) subscriptionRoutes(route router) {
	route("GET /v1/import/customers/{uuid}/subscriptions", s.listImportSubscriptions)
	route("PATCH /v1/import/subscriptions/{uuid}", s.cancelSubscription)
}

// importSubscriptionJSON is an import-side subscription. As in ChartMogul's
// recorded answers, lists show subscription_set_external_id (when set) and
// the answer to PATCH shows customer_uuid instead.
type importSubscriptionJSON struct {
	UUID                      string   `json:"uuid"`
	ExternalID                string   `json:"external_id"`
	CancellationDates         []string `json:"cancellation_dates"`
	SubscriptionSetExternalID string   `json:"subscription_set_external_id,omitempty"`
	CustomerUUID              string   `json:"customer_uuid,omitempty"`
	PlanUUID                  *string  `json:"plan_uuid"`
	DataSourceUUID            string   `json:"data_source_uuid"`
}

func toImportSubscription(sub *chartmogul.Subscription, withCustomer bool) importSubscriptionJSON {
	j := importSubscriptionJSON{UUID: sub.UUID, ExternalID: sub.ExternalID, CancellationDates: make([]string, len(sub.CancellationDates)),
		SubscriptionSetExternalID: sub.SetExternalID, PlanUUID: optString(sub.PlanUUID), DataSourceUUID: sub.DataSourceUUID}
	for i, t := range sub.CancellationDates {
		j.CancellationDates[i] = millis(t)
	}
	if withCustomer {
		j.CustomerUUID, j.SubscriptionSetExternalID = sub.CustomerUUID, ""
	}
	return j
}

// listImportSubscriptions lists a customer's subscriptions oldest first, as
// ChartMogul does.
func (s *Server) listImportSubscriptions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := callerOf(ctx)
	p, err := oldestFirstPage(r, "import_subscriptions")
	if err != nil {
		return err
	}

	cusUUID := r.PathValue("uuid")
	list, total, err := s.Store.CustomerSubscriptions(ctx, c.account.ID, cusUUID, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "import_subscriptions", c.account.ID, func(s *chartmogul.Subscription) int64 { return s.ID })
	subs := make([]importSubscriptionJSON, len(list))
	for i := range list {
		subs[i] = toImportSubscription(&list[i], false)
	}
	out := struct {
		CustomerUUID  string                   `json:"customer_uuid"`
		Subscriptions []importSubscriptionJSON `json:"subscriptions"`
		offsets
		Cursor  *string `json:"cursor"`
		HasMore bool    `json:"has_more"`
	}{CustomerUUID: cusUUID, Subscriptions: subs, Cursor: optString(cursor), HasMore: more}
	if p.After == 0 {
		out.offsets = firstPage(p, total)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cancelSubscription records a subscription's cancellation: {"cancelled_at":
// date} adds one, {"cancellation_dates": [dates]} replaces the whole history
// ([] clears it). Cancellations must be in the past. 202 with the
// subscription, 422 with the errors map.
func (s *Server) cancelSubscription(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := callerOf(ctx)
	sub, err := s.Store.Subscription(ctx, c.account.ID, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	members, err := objectMembers(body)
	if err != nil {
		return err
	}
	at, hasAt := members["cancelled_at"]
	list, hasList := members["cancellation_dates"]
	hasAt = hasAt && at.Kind() != 'n'
	hasList = hasList && list.Kind() != 'n'
	switch {
	case hasAt && hasList:
		return chartmogul.Invalid(map[string]string{"cancellation_dates": "send either cancelled_at (a cancellation to add) or cancellation_dates (the whole history), not both"})
	case !hasAt && !hasList:
		return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "cancelled_at", Message: `Parameter "cancelled_at" is missing; send cancelled_at (a cancellation to add) or cancellation_dates (the whole history, [] to clear it).`}
	}
	var p chartmogul.Problems
	now := s.Now()
	var dates []time.Time
	if hasAt {
		if t, ok := cancellationDate(&p, "cancelled_at", at); ok {
			chartmogul.ValidateCancellation(&p, "cancelled_at", t, now)
			dates = append(dates, t)
		}
	} else {
		var elems []jsontext.Value
		if list.Kind() != '[' || json.Unmarshal(list, &elems) != nil {
			p.Fail("cancellation_dates", "cancellation_dates must be an array of dates; got %s", describeValue(list))
		}
		for i, e := range elems {
			field := fmt.Sprintf("cancellation_dates[%d]", i)
			if t, ok := cancellationDate(&p, field, e); ok {
				chartmogul.ValidateCancellation(&p, field, t, now)
				dates = append(dates, t)
			}
		}
	}
	if !p.OK() {
		return chartmogul.Invalid(problemFields(&p))
	}
	sub, err = s.Store.SetCancellationDates(ctx, c.account.ID, sub.UUID, dates, hasList)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toImportSubscription(sub, true))
	return nil
}

// cancellationDate reads one date of a cancellation request, in any format
// chartmogul.ParseTime accepts.
func cancellationDate(p *chartmogul.Problems, field string, v jsontext.Value) (time.Time, bool) {
	var s string
	if v.Kind() != '"' || json.Unmarshal(v, &s) != nil {
		p.Fail(field, "%s must be a date string such as \"2023-04-02 21:37:00\"; got %s", field, describeValue(v))
		return time.Time{}, false
	}
	t, err := chartmogul.ParseTime(s)
	if err != nil {
		p.Fail(field, "%s %s", field, err.Error())
		return time.Time{}, false
	}
	return t, true
}
