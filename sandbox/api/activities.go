package api

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/analytics"
	"github.com/recurhq/recur/sandbox/store"
)

// Activities (MRR movements) and customers' subscriptions, as the
// analytics derive them: GET /v1/activities, GET
// /v1/customers/{uuid}/activities and GET /v1/customers/{uuid}/subscriptions.
//
// Lists page with opaque cursors, per_page up to 200 (default 200), in time
// order (order=-date for the newest first). An activity's uuid is derived
// from the movement itself, so it stays the same across recomputes that do
// not change the movement; its integer id (customer activities) is the
// customer's id and the movement's position, stable while the customer's
// history does not change. start-date and end-date bound activities
// by day (a timestamp bounds by instant). Descriptions are Recur's own
// wording of ChartMogul's ("purchased the Gold plan").

var movementTypes = []string{"new_biz", "expansion", "contraction", "churn", "reactivation"}

// activityParams reads the filters and the page of an activities list.
func (s *Server) activityParams(r *http.Request, list string) (store.ActivityFilter, error) {
	c := callerOf(r.Context())
	loc := accountLocation(c.account)
	f := store.ActivityFilter{Limit: defaultPerPage}
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		end  bool
	}{{"start-date", false}, {"end-date", true}} {
		v := strings.TrimSpace(q.Get(p.name))
		if v == "" {
			continue
		}
		if d, err := analytics.ParseDay(v); err == nil {
			// A date bounds by whole days in the account's time zone.
			y, m, dd := d.Date()
			if p.end {
				dd++
			}
			t := timeIn(y, m, dd, loc)
			if p.end {
				f.Until = t
			} else {
				f.From = t
			}
			continue
		}
		t, err := chartmogul.ParseTime(v)
		if err != nil {
			return f, badParam(p.name, "Parameter %q must be a date such as 2024-01-31 or a timestamp; got %s.", p.name, chartmogul.Quote(v))
		}
		if p.end {
			f.Until = t.Add(1) // inclusive
		} else {
			f.From = t
		}
	}
	if !f.From.IsZero() && !f.Until.IsZero() && !f.Until.After(f.From) {
		return f, badParam("end-date", "Parameter \"end-date\" is before \"start-date\".")
	}
	if v := q.Get("type"); v != "" {
		if !slices.Contains(movementTypes, v) {
			return f, badParam("type", "Parameter \"type\" must be one of %s; got %s.", strings.Join(movementTypes, ", "), chartmogul.Quote(v))
		}
		f.Type = v
	}
	switch v := q.Get("order"); v {
	case "", "date":
	case "-date":
		f.Descending = true
	default:
		return f, badParam("order", "Parameter \"order\" must be date (oldest first) or -date (newest first); got %s.", chartmogul.Quote(v))
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, badParam("per_page", "Parameter \"per_page\" must be a whole number from 1 to %d; got %s.", maxPerPage, chartmogul.Quote(v))
		}
		f.Limit = min(n, maxPerPage)
	}
	if v := q.Get("cursor"); v != "" {
		parts, err := decodeListCursor(v, list, c.account.ID, 3)
		if err != nil {
			return f, err
		}
		f.After = &store.ActivityCursor{At: parts[0], CustomerID: parts[1], Position: int(parts[2])}
	}
	return f, nil
}

// timeIn is midnight starting a date in loc; day overflow rolls into the
// next month, as time.Date does.
func timeIn(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// encodeListCursor makes the opaque cursor of the analytics lists: the
// list's name, the account and the position of the last entry shown.
func encodeListCursor(list string, accountID int64, pos ...int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d", list, accountID)
	for _, p := range pos {
		fmt.Fprintf(&b, ":%d", p)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(b.String()))
}

func decodeListCursor(c, list string, accountID int64, n int) ([]int64, error) {
	bad := &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "cursor", Message: `Parameter "cursor" is not a cursor of this list; pass the cursor value of the previous page unchanged, or leave it out for the first page.`}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != n+2 || parts[0] != list || parts[1] != strconv.FormatInt(accountID, 10) {
		return nil, bad
	}
	out := make([]int64, n)
	for i := range out {
		if out[i], err = strconv.ParseInt(parts[i+2], 10, 64); err != nil {
			return nil, bad
		}
	}
	return out, nil
}

// activityPage lists one page and the cursor of the next.
func (s *Server) activityPage(r *http.Request, f store.ActivityFilter, list string) ([]store.Activity, string, bool, error) {
	limit := f.Limit
	f.Limit++
	acts, err := s.Store.ListActivities(r.Context(), callerOf(r.Context()).account.ID, f)
	if err != nil {
		return nil, "", false, err
	}
	if len(acts) <= limit {
		return acts, "", false, nil
	}
	acts = acts[:limit]
	last := acts[len(acts)-1]
	return acts, encodeListCursor(list, callerOf(r.Context()).account.ID, last.At.UnixMicro(), last.CustomerID, int64(last.Position)), true, nil
}

// describe words a movement as ChartMogul's activity lists do.
func describe(a *store.Activity) string {
	plan := "a"
	if a.PlanName != "" {
		plan = "the " + a.PlanName
	}
	switched := a.PreviousPlanName != "" && a.PreviousPlanName != a.PlanName
	switch a.Type {
	case "new_biz":
		return "purchased " + plan + " plan"
	case "reactivation":
		return "reactivated with " + plan + " plan"
	case "expansion":
		if switched {
			return "upgraded from the " + a.PreviousPlanName + " plan to " + plan + " plan"
		}
		return "expanded " + strings.Replace(plan, "the ", "their ", 1) + " plan"
	case "contraction":
		if switched {
			return "downgraded from the " + a.PreviousPlanName + " plan to " + plan + " plan"
		}
		return "contracted " + strings.Replace(plan, "the ", "their ", 1) + " plan"
	case "churn":
		return "cancelled " + strings.Replace(plan, "the ", "their ", 1) + " plan"
	}
	return a.Type
}

// activityUUID derives an activity's uuid from the movement: the same
// movement keeps its uuid when its customer is recomputed.
func activityUUID(a *store.Activity) string {
	h := sha1.Sum([]byte(fmt.Sprintf("%d/%d/%d/%s/%d/%s", a.CustomerID, a.Position, a.At.UnixMicro(), a.Type, a.AmountInCents, a.SubscriptionExternalID)))
	h[6] = h[6]&0x0f | 0x50 // version 5 (name-based, SHA-1)
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

type activityJSON struct {
	Description               string `json:"description"`
	ActivityMRRMovement       int64  `json:"activity-mrr-movement"`
	ActivityMRR               int64  `json:"activity-mrr"`
	ActivityARR               int64  `json:"activity-arr"`
	Date                      string `json:"date"`
	Type                      string `json:"type"`
	Currency                  string `json:"currency"`
	SubscriptionExternalID    string `json:"subscription-external-id"`
	SubscriptionSetExternalID string `json:"subscription-set-external-id"`
	PlanExternalID            string `json:"plan-external-id"`
	CustomerName              string `json:"customer-name"`
	CustomerUUID              string `json:"customer-uuid"`
	CustomerExternalID        string `json:"customer-external-id"`
	BillingConnectorUUID      string `json:"billing-connector-uuid"`
	UUID                      string `json:"uuid"`
}

// activitiesPage is the account's activity list. As recorded, per_page
// is on the first page only.
type activitiesPage struct {
	Entries []activityJSON `json:"entries"`
	HasMore bool           `json:"has_more"`
	PerPage *int           `json:"per_page,omitzero"`
	Cursor  *string        `json:"cursor"`
}

// listActivities answers GET /v1/activities: 200 with a page of the
// account's activities; 400 for bad parameters; 422 when customers'
// analytics could not be computed (the list would miss their movements).
func (s *Server) listActivities(w http.ResponseWriter, r *http.Request) error {
	f, err := s.activityParams(r, "activities")
	if err != nil {
		return err
	}
	if err := s.checkComplete(r); err != nil {
		return err
	}
	acts, cursor, more, err := s.activityPage(r, f, "activities")
	if err != nil {
		return err
	}
	cur := callerOf(r.Context()).account.Currency
	out := activitiesPage{Entries: make([]activityJSON, len(acts)), HasMore: more, Cursor: optString(cursor)}
	if f.After == nil {
		out.PerPage = &f.Limit
	}
	for i := range acts {
		a := &acts[i]
		out.Entries[i] = activityJSON{Description: describe(a), ActivityMRRMovement: a.AmountInCents, ActivityMRR: a.CustomerMRRInCents,
			ActivityARR: 12 * a.CustomerMRRInCents, Date: offsetTime(a.At), Type: a.Type, Currency: cur,
			SubscriptionExternalID: a.SubscriptionExternalID, SubscriptionSetExternalID: a.SetExternalID, PlanExternalID: a.PlanExternalID,
			CustomerName: a.CustomerName, CustomerUUID: a.CustomerUUID, CustomerExternalID: a.CustomerExternalID,
			BillingConnectorUUID: a.DataSourceUUID, UUID: activityUUID(a)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkComplete answers 422 when customers of the account are missing from
// its analytics.
func (s *Server) checkComplete(r *http.Request) error {
	_, problems, err := s.Store.Metrics(r.Context(), callerOf(r.Context()).account.ID)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return incomplete(problems[0].Message, len(problems))
	}
	return nil
}

type customerActivityJSON struct {
	ID                     int64  `json:"id"`
	Description            string `json:"description"`
	ActivityMRRMovement    int64  `json:"activity-mrr-movement"`
	ActivityMRR            int64  `json:"activity-mrr"`
	ActivityARR            int64  `json:"activity-arr"`
	Date                   string `json:"date"`
	Type                   string `json:"type"`
	Currency               string `json:"currency"`
	CurrencySign           string `json:"currency-sign"`
	SubscriptionExternalID string `json:"subscription-external-id"`
}

// customerList writes a page of a per-customer list in the recorded
// shapes: the first page is {entries, has_more, per_page, page, cursor},
// a page asked for by cursor {entries, cursor, has_more}. The cursor is
// null on the last page, as on every list of Recur's (ChartMogul's
// recordings show one there too, leading to an empty page).
func customerList[T any](w http.ResponseWriter, entries []T, more bool, perPage int, cursor string, first bool) {
	if first {
		writeJSON(w, http.StatusOK, struct {
			Entries []T     `json:"entries"`
			HasMore bool    `json:"has_more"`
			PerPage int     `json:"per_page"`
			Page    int     `json:"page"`
			Cursor  *string `json:"cursor"`
		}{entries, more, perPage, 1, optString(cursor)})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Entries []T     `json:"entries"`
		Cursor  *string `json:"cursor"`
		HasMore bool    `json:"has_more"`
	}{entries, optString(cursor), more})
}

// customerForAnalytics finds the path's customer: 404 when the account has
// none with this uuid, 422 when its analytics could not be computed.
func (s *Server) customerForAnalytics(r *http.Request) (int64, error) {
	id, problem, err := s.Store.CustomerAnalytics(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("uuid"))
	if err != nil {
		return 0, err
	}
	if problem != "" {
		return 0, incomplete(problem, 1)
	}
	return id, nil
}

// listCustomerActivities answers GET /v1/customers/{uuid}/activities: 200
// with a page of the customer's activities, 404 for an unknown customer,
// 400 for bad parameters, 422 when its analytics could not be computed.
func (s *Server) listCustomerActivities(w http.ResponseWriter, r *http.Request) error {
	id, err := s.customerForAnalytics(r)
	if err != nil {
		return err
	}
	f, err := s.activityParams(r, "customer_activities")
	if err != nil {
		return err
	}
	f.CustomerID = id
	acts, cursor, more, err := s.activityPage(r, f, "customer_activities")
	if err != nil {
		return err
	}
	cur := callerOf(r.Context()).account.Currency
	entries := make([]customerActivityJSON, len(acts))
	for i := range acts {
		a := &acts[i]
		entries[i] = customerActivityJSON{ID: a.ID, Description: describe(a), ActivityMRRMovement: a.AmountInCents, ActivityMRR: a.CustomerMRRInCents,
			ActivityARR: 12 * a.CustomerMRRInCents, Date: offsetTime(a.At), Type: a.Type, Currency: cur, CurrencySign: chartmogul.CurrencySign(cur),
			SubscriptionExternalID: a.SubscriptionExternalID}
	}
	customerList(w, entries, more, f.Limit, cursor, f.After == nil)
	return nil
}

type customerSubscriptionJSON struct {
	ID                        int64  `json:"id"`
	ExternalID                string `json:"external_id"`
	SubscriptionSetExternalID string `json:"subscription_set_external_id"`
	Quantity                  int64  `json:"quantity"`
	UUID                      string `json:"uuid"`
	MRR                       int64  `json:"mrr"`
	ARR                       int64  `json:"arr"`
	Status                    string `json:"status"`
	Plan                      string `json:"plan"`
	BillingCycle              string `json:"billing-cycle"`
	BillingCycleCount         int64  `json:"billing-cycle-count"`
	StartDate                 string `json:"start-date"`
	EndDate                   string `json:"end-date"`
	Currency                  string `json:"currency"`
	CurrencySign              string `json:"currency-sign"`
}

// listCustomerSubscriptions answers GET /v1/customers/{uuid}/subscriptions:
// 200 with a page of the customer's subscriptions (status active while
// active or past due, inactive once cancelled; mrr in the account
// currency, a cancelled subscription's last), 404 for an unknown customer,
// 422 when its analytics could not be computed.
func (s *Server) listCustomerSubscriptions(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	id, err := s.customerForAnalytics(r)
	if err != nil {
		return err
	}
	limit, pageNo := defaultPerPage, 1
	q := r.URL.Query()
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badParam("per_page", "Parameter \"per_page\" must be a whole number from 1 to %d; got %s.", maxPerPage, chartmogul.Quote(v))
		}
		limit = min(n, maxPerPage)
	}
	if v := q.Get("cursor"); v != "" {
		n, ok := decodeSubscriptionsCursor(v)
		if !ok {
			return badParam("cursor", `Parameter "cursor" is not a cursor of this list; pass the cursor value of the previous page unchanged, or leave it out for the first page.`)
		}
		pageNo = n
	}
	subs, err := s.Store.DerivedSubscriptions(r.Context(), id, (pageNo-1)*limit-1, limit+1)
	if err != nil {
		return err
	}
	more := len(subs) > limit
	if more {
		subs = subs[:limit]
	}
	cur := c.account.Currency
	entries := make([]customerSubscriptionJSON, len(subs))
	for i := range subs {
		d := &subs[i]
		status := "inactive"
		if d.Status == string(analytics.SubscriptionActive) || d.Status == string(analytics.SubscriptionPastDue) {
			status = "active"
		}
		entries[i] = customerSubscriptionJSON{ID: d.ID, ExternalID: d.ExternalID, SubscriptionSetExternalID: d.SetExternalID, Quantity: d.Quantity,
			UUID: d.UUID, MRR: d.MRRInCents, ARR: 12 * d.MRRInCents, Status: status, Plan: d.PlanName, BillingCycle: d.IntervalUnit,
			BillingCycleCount: d.IntervalCount, StartDate: offsetTime(d.StartedAt), EndDate: offsetTime(d.EndsAt), Currency: cur,
			CurrencySign: chartmogul.CurrencySign(cur)}
	}
	var cursor string
	if more {
		cursor = encodeSubscriptionsCursor(pageNo + 1)
	}
	// ChartMogul's recordings of this list's later pages disagree (with and
	// without per_page and page); every page carries them here, which
	// every client reads.
	customerList(w, entries, more, limit, cursor, true)
	return nil
}

// A customer's subscriptions page by number, with ChartMogul's own cursor:
// the base64 of "subscriptions_next_page=N", as recorded.
// A list of one customer's subscriptions needs nothing more: the path
// names the customer, and the cursor carries nothing of another account's.
const subscriptionsCursorPrefix = "subscriptions_next_page="

func encodeSubscriptionsCursor(page int) string {
	return base64.StdEncoding.EncodeToString([]byte(subscriptionsCursorPrefix + strconv.Itoa(page)))
}

func decodeSubscriptionsCursor(c string) (int, bool) {
	raw, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), subscriptionsCursorPrefix))
	if err != nil || !strings.HasPrefix(string(raw), subscriptionsCursorPrefix) || n < 1 || n > 1<<20 {
		return 0, false
	}
	return n, true
}

// connectSubscriptions answers POST /v1/customers/{uuid}/connect_subscriptions
// (connect) and .../disconnect_subscriptions: 202 with an empty object, as
// recorded, once the connection is stored and the customer's recompute
// queued; 404 for an unknown customer; 400 for a body without a
// subscriptions list; 422 naming a subscription that is not the customer's
// (or fewer than two to connect). Subscriptions are named by the uuid their
// list shows (with or without "sub_"), or by external_id (and
// data_source_uuid), as older clients do.
func (s *Server) connectSubscriptions(connect bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Subscriptions []struct {
				UUID           string `json:"uuid"`
				DataSourceUUID string `json:"data_source_uuid"`
				ExternalID     string `json:"external_id"`
			} `json:"subscriptions"`
		}
		if err := s.decodeBody(w, r, &in); err != nil {
			return err
		}
		if in.Subscriptions == nil {
			return badParam("subscriptions", `The body needs "subscriptions": a list of {"uuid", "data_source_uuid"} of the customer's subscriptions.`)
		}
		refs := make([]store.SubscriptionRef, len(in.Subscriptions))
		for i, sub := range in.Subscriptions {
			refs[i] = store.SubscriptionRef{UUID: sub.UUID, DataSourceUUID: sub.DataSourceUUID, ExternalID: sub.ExternalID}
		}
		c := callerOf(r.Context())
		op := s.Store.DisconnectSubscriptions
		if connect {
			op = s.Store.ConnectSubscriptions
		}
		if err := op(r.Context(), c.account.ID, r.PathValue("uuid"), refs); err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, struct{}{})
		return nil
	}
}
