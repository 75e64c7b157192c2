package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// Subscription events (spec §6). Writes go through the bulk rules like
// every single-object endpoint: a create is one record Added to a strict
// batch, a change is the stored event with the request's members decoded
// onto it (Batch.AddEvent), and either is validated and resolved as a bulk
// import would be, retractions included.
//
// Where the spec leaves room, Recur decides:
//   - Bodies may be wrapped ({"subscription_event": {…}}, as every client
//     but older Python sends) or not.
//   - amount_in_cents, quantity and tax_amount_in_cents are numbers. A
//     string holding a number ("1000", as ChartMogul's docs show) is refused
//     with the bulk import's message, on both paths; an empty string means
//     absent, because the official Ruby client sends "" for each of them it
//     was not given.
//   - Read-only members a client echoes back (id on create, errors,
//     created_at, updated_at, disabled, disabled_at, retracted) are ignored.
//   - The list's event_date and effective_date filters match a whole UTC day
//     when given a date ("2022-02-28") and the second when given a time
//     ("2022-02-28 10:00:00"), since event times are shown to the second.
//   - The list leaves disabled events out unless with_disabled=true.
//   - A PATCH changes only the members it carries; null leaves a member as
//     it is, as it does in the bulk decoder.

// eventRoutes registers the subscription event routes.
func (s *Server) eventRoutes(route router) {
	route("POST /v1/subscription_events", s.createEvent)
	route("GET /v1/subscription_events", s.listEvents)
	route("PATCH /v1/subscription_events", s.updateEvent)
	route("DELETE /v1/subscription_events", s.deleteEvent)
	// ChartMogul's docs spell the path disabled_status in one header; the
	// clients use disabled_state. Both are served.
	for _, state := range []string{"disabled_state", "disabled_status"} {
		route("PATCH /v1/subscription_events/{id}/"+state, s.setEventDisabled)
		route("PATCH /v1/subscription_events/"+state, s.setEventDisabledByExternalID)
	}
}

// eventMembers are the members of an event body that are not fields of the
// bulk event record: the data source, the identity a change is addressed
// by, and read-only members that clients send back.
var eventMembers = []string{"data_source_uuid", "id", "errors", "created_at", "updated_at", "disabled", "disabled_at",
	"disabled_by", "retracted", "handle_as_user_edit"}

// members reads a JSON object's members. A body that is not one JSON
// object is refused with a 400 naming what it is; syntax errors name their
// byte offset.
func eventBodyMembers(body []byte, what string) (map[string]jsontext.Value, error) {
	var m map[string]jsontext.Value
	err := json.Unmarshal(body, &m)
	var se *jsontext.SyntacticError
	switch {
	case errors.As(err, &se):
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Err: err, Message: fmt.Sprintf(
			"The request body is not valid JSON: %s at byte offset %d.", se.Err, se.ByteOffset)}
	case err != nil || m == nil:
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Err: err, Message: fmt.Sprintf(
			"The request body must be one JSON object with %s; got %s.", what, eventKindOf(jsontext.Value(bytes.TrimSpace(body))))}
	}
	return m, nil
}

// kindOf names the kind of a JSON value for messages.
func eventKindOf(v jsontext.Value) string {
	switch v.Kind() {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '[':
		return "an array"
	case '{':
		return "an object"
	}
	return "something else"
}

// eventRequest is the body of a request about one stored event.
type eventRequest struct {
	obj   []byte                    // the event object, unwrapped from "subscription_event"
	top   map[string]jsontext.Value // the body's top-level members
	inner map[string]jsontext.Value // the event object's members
}

// readEventRequest reads the body of a request about one stored event,
// described in errors as what. It returns the errors of s.body, eventObject
// and eventBodyMembers.
func (s *Server) readEventRequest(w http.ResponseWriter, r *http.Request, what string) (eventRequest, error) {
	body, err := s.body(w, r)
	if err != nil {
		return eventRequest{}, err
	}
	obj, top, err := eventObject(body)
	if err != nil {
		return eventRequest{}, err
	}
	inner, err := eventBodyMembers(obj, what)
	if err != nil {
		return eventRequest{}, err
	}
	return eventRequest{obj: obj, top: top, inner: inner}, nil
}

// eventObject returns the event object of a body: the value of its
// subscription_event member when it has one, else the body itself, and the
// body's top-level members.
func eventObject(body []byte) ([]byte, map[string]jsontext.Value, error) {
	top, err := eventBodyMembers(body, "the subscription event")
	if err != nil {
		return nil, nil, err
	}
	v, ok := top["subscription_event"]
	switch {
	case !ok || v.Kind() == 'n':
		return body, top, nil
	case v.Kind() != '{':
		return nil, nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "subscription_event", Message: `Parameter "subscription_event" must be an object with the event's fields.`}
	}
	return v, top, nil
}

// createEvent creates one subscription event: 201 with the event; 400 when
// data_source_uuid is missing; 404 when it names no data source of the
// account; 422 with ChartMogul's errors map when the event breaks a rule
// (duplicates: {"external_id": "has already been taken"}).
func (s *Server) createEvent(w http.ResponseWriter, r *http.Request) error {
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	obj, top, err := eventObject(body)
	if err != nil {
		return err
	}
	b := chartmogul.NewBatch(s.Now())
	_, raw, err := b.Add(chartmogul.RecordSubscriptionEvents, obj, eventMembers...)
	if err != nil {
		return err
	}
	if v, ok := top["data_source_uuid"]; ok && raw["data_source_uuid"] == nil {
		// Tolerate the data source beside the wrapper.
		raw["data_source_uuid"] = v
	}
	ds, err := s.dataSourceOf(r.Context(), raw)
	if err != nil {
		return err
	}
	ch, err := s.apply(r.Context(), ds, b, chartmogul.RecordSubscriptionEvents)
	if err != nil {
		return err
	}
	ev, err := s.Store.Event(r.Context(), ds.AccountID, ch.NewEvents[0].Event.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toEvent(ev))
	return nil
}

// eventRef is how a request names a stored event: by id, or by its data
// source and external id.
type eventRef struct {
	id         int64
	dataSource string
	externalID string
}

// refMember reads one member of an event reference: id as a number or a
// string of digits, the others as strings.
func eventRefMember(ref *eventRef, key string, v jsontext.Value) error {
	if v.Kind() == 'n' {
		return nil
	}
	if key == "id" {
		var s string
		switch v.Kind() {
		case '0':
			s = string(v)
		case '"':
			if err := jsontextUnquote(v, &s); err != nil {
				return badEventID(string(v))
			}
		default:
			return badEventID(string(v))
		}
		id, err := eventID(s)
		if err != nil {
			return err
		}
		ref.id = id
		return nil
	}
	s, err := rawString(map[string]jsontext.Value{key: v}, key)
	if err != nil {
		return err
	}
	if key == "data_source_uuid" {
		ref.dataSource = s
	} else {
		ref.externalID = s
	}
	return nil
}

func eventID(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, badEventID(chartmogul.Quote(s))
	}
	return id, nil
}

func badEventID(got string) error {
	return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "id", Message: fmt.Sprintf(
		`Parameter "id" must be the id of a subscription event, a whole number such as 374277746; got %s.`, got)}
}

// refFrom reads an event reference from the members of an object; members
// already set in ref are kept.
func eventRefFrom(ref *eventRef, m map[string]jsontext.Value) error {
	for _, key := range []string{"id", "data_source_uuid", "external_id"} {
		v, ok := m[key]
		if !ok {
			continue
		}
		var got eventRef
		if err := eventRefMember(&got, key, v); err != nil {
			return err
		}
		if ref.id == 0 {
			ref.id = got.id
		}
		if ref.dataSource == "" {
			ref.dataSource = got.dataSource
		}
		if ref.externalID == "" {
			ref.externalID = got.externalID
		}
	}
	return nil
}

// refFromQuery reads an event reference from query parameters, in the
// Ruby client's bracketed form (subscription_event[id]=…) or plain.
func eventRefFromQuery(ref *eventRef, q url.Values) error {
	for _, key := range []string{"id", "data_source_uuid", "external_id"} {
		v := q.Get("subscription_event[" + key + "]")
		if v == "" {
			v = q.Get(key)
		}
		if v == "" {
			continue
		}
		switch key {
		case "id":
			if ref.id == 0 {
				id, err := eventID(v)
				if err != nil {
					return err
				}
				ref.id = id
			}
		case "data_source_uuid":
			if ref.dataSource == "" {
				ref.dataSource = v
			}
		default:
			if ref.externalID == "" {
				ref.externalID = v
			}
		}
	}
	return nil
}

// eventByRef returns the account's event a reference names. It answers 400 when
// the reference is incomplete, and 404 when the account has no such event
// (another account's events included) or no such data source.
func (s *Server) eventByRef(ctx context.Context, ref eventRef) (*chartmogul.SubscriptionEvent, error) {
	account := callerOf(ctx).account.ID
	switch {
	case ref.id != 0:
		return s.Store.Event(ctx, account, ref.id)
	case ref.dataSource == "" && ref.externalID == "":
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "id", Message: `Identify the subscription event by "id", or by "data_source_uuid" and "external_id".`}
	case ref.dataSource == "":
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "data_source_uuid", Message: `Parameter "data_source_uuid" is missing: an event is identified by "id", or by "data_source_uuid" and "external_id".`}
	case ref.externalID == "":
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "external_id", Message: `Parameter "external_id" is missing: an event is identified by "id", or by "data_source_uuid" and "external_id".`}
	}
	return s.Store.EventByExternalID(ctx, account, ref.dataSource, ref.externalID)
}

// updateEvent changes one stored event, named by id or by data source and
// external id inside the (wrapped) body; the other members are the
// changes, checked with the same rules as a new event. 200 with the event;
// 400 when the event is not identified; 404 when there is no such event;
// 422 with ChartMogul's errors map when the changed event breaks a rule.
func (s *Server) updateEvent(w http.ResponseWriter, r *http.Request) error {
	req, err := s.readEventRequest(w, r, "the subscription event")
	if err != nil {
		return err
	}
	var ref eventRef
	if err := eventRefFrom(&ref, req.inner); err != nil {
		return err
	}
	stored, err := s.eventByRef(r.Context(), ref)
	if err != nil {
		return err
	}
	if ref.dataSource != "" && ref.dataSource != stored.DataSourceUUID {
		return chartmogul.Invalid(map[string]string{"data_source_uuid": fmt.Sprintf(
			"data_source_uuid cannot change: subscription event %d belongs to data source %s", stored.ID, stored.DataSourceUUID)})
	}
	now := s.Now()
	b := chartmogul.NewBatch(now)
	i, raw, err := b.AddEvent(*stored, req.obj, eventMembers...)
	if err != nil {
		return err
	}
	// The Python client disables and enables events through this route.
	if v, ok := raw["disabled"]; ok && v.Kind() != 'n' {
		disabled, err := eventBool(v, "disabled")
		if err != nil {
			return err
		}
		ev := &b.Events[i]
		switch {
		case !disabled:
			ev.Disabled, ev.DisabledAt = false, nil
		case !ev.Disabled:
			at := now.UTC().Truncate(time.Microsecond)
			ev.Disabled, ev.DisabledAt = true, &at
		}
	}
	ds := &chartmogul.DataSource{ID: stored.DataSourceID, UUID: stored.DataSourceUUID, AccountID: stored.AccountID}
	if _, err := s.apply(r.Context(), ds, b, chartmogul.RecordSubscriptionEvents); err != nil {
		return err
	}
	ev, err := s.Store.Event(r.Context(), stored.AccountID, stored.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEvent(ev))
	return nil
}

func eventBool(v jsontext.Value, key string) (bool, error) {
	switch v.Kind() {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return false, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: key, Message: fmt.Sprintf(`Parameter %q must be true or false; got %s.`, key, string(v))}
}

// deleteEvent deletes one event, named in a JSON body
// ({"subscription_event": {"id": …}} or by data_source_uuid and
// external_id, as the Node, Go, PHP and Python clients send it) or in query
// parameters (?subscription_event[id]=…, as the Ruby client sends it): 204;
// 400 when the event is not identified; 404 when there is no such event.
func (s *Server) deleteEvent(w http.ResponseWriter, r *http.Request) error {
	req, err := s.readEventRequest(w, r, "the subscription event to delete")
	if err != nil {
		return err
	}
	var ref eventRef
	if err := eventRefFrom(&ref, req.inner); err != nil {
		return err
	}
	if err := eventRefFromQuery(&ref, r.URL.Query()); err != nil {
		return err
	}
	ev, err := s.eventByRef(r.Context(), ref)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteEvent(r.Context(), ev.AccountID, ev.ID); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// eventDisabledOf reads the disabled member, from the top level of the body or
// from inside its subscription_event object.
func eventDisabledOf(top, inner map[string]jsontext.Value) (bool, error) {
	for _, m := range []map[string]jsontext.Value{top, inner} {
		if v, ok := m["disabled"]; ok && v.Kind() != 'n' {
			return eventBool(v, "disabled")
		}
	}
	return false, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "disabled", Message: `Parameter "disabled" is missing: send {"disabled": true} to disable the event, or false to enable it.`}
}

// setEventDisabled disables or enables the event named by the path:
// {"disabled": bool} → 200 with the event; 400 without a boolean
// "disabled"; 404 when there is no such event.
func (s *Server) setEventDisabled(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return chartmogul.NotFound("Subscription event")
	}
	req, err := s.readEventRequest(w, r, "the subscription event")
	if err != nil {
		return err
	}
	disabled, err := eventDisabledOf(req.top, req.inner)
	if err != nil {
		return err
	}
	ev, err := s.Store.SetEventDisabled(r.Context(), callerOf(r.Context()).account.ID, id, disabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEvent(ev))
	return nil
}

// setEventDisabledByExternalID disables or enables an event named by data
// source and external id: in the Ruby client's body
// {"subscription_event": {"data_source_uuid", "external_id"}, "disabled"},
// the Python client's flat {"data_source_uuid", "external_id", "disabled"},
// or query parameters. 200 with the event; 400 when the event or the state
// is missing; 404 when there is no such event.
func (s *Server) setEventDisabledByExternalID(w http.ResponseWriter, r *http.Request) error {
	req, err := s.readEventRequest(w, r, "the subscription event")
	if err != nil {
		return err
	}
	var ref eventRef
	if err := eventRefFrom(&ref, req.inner); err != nil {
		return err
	}
	if err := eventRefFrom(&ref, req.top); err != nil {
		return err
	}
	if err := eventRefFromQuery(&ref, r.URL.Query()); err != nil {
		return err
	}
	disabled, err := eventDisabledOf(req.top, req.inner)
	if err != nil {
		return err
	}
	ev, err := s.eventByRef(r.Context(), ref)
	if err != nil {
		return err
	}
	ev, err = s.Store.SetEventDisabled(r.Context(), ev.AccountID, ev.ID, disabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEvent(ev))
	return nil
}

type eventsMetaJSON struct {
	NextKey    *int64  `json:"next_key"`
	PrevKey    *int64  `json:"prev_key"`
	BeforeKey  *string `json:"before_key"`
	Page       int     `json:"page"`
	TotalPages int     `json:"total_pages"`
}

type eventsPage struct {
	Events []eventJSON `json:"subscription_events"`
	// Meta is ChartMogul's legacy paging object: on the first page only,
	// as recorded (pages asked for by cursor leave it out).
	Meta    *eventsMetaJSON `json:"meta,omitzero"`
	Cursor  *string         `json:"cursor"`
	HasMore bool            `json:"has_more"`
}

// listEvents lists the account's subscription events, newest first, with
// every filter of spec §6.4; 400 naming the parameter for a filter value
// that cannot match anything (an unknown event_type, a malformed date, a
// with_disabled that is not a boolean) and for bad per_page or cursor.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	p, err := page(r, "subscription_events")
	if err != nil {
		return err
	}
	p.Total = p.Before == 0
	q := r.URL.Query()
	f := store.EventFilter{
		DataSourceUUID: q.Get("data_source_uuid"), ExternalID: q.Get("external_id"), CustomerExternalID: q.Get("customer_external_id"),
		CustomerUUID: q.Get("customer_uuid"), SubscriptionExternalID: q.Get("subscription_external_id"), EventType: q.Get("event_type"),
		PlanExternalID: q.Get("plan_external_id")}
	if f.EventType != "" && !slices.Contains(chartmogul.EventTypes, f.EventType) {
		return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "event_type", Message: fmt.Sprintf(
			`Parameter "event_type" must be one of %s; got %s.`, strings.Join(chartmogul.EventTypes, ", "), chartmogul.Quote(f.EventType))}
	}
	if f.EventDate, err = eventDayOrSecond(q, "event_date"); err != nil {
		return err
	}
	if f.EffectiveDate, err = eventDayOrSecond(q, "effective_date"); err != nil {
		return err
	}
	if v := q.Get("with_disabled"); v != "" {
		if f.WithDisabled, err = strconv.ParseBool(v); err != nil {
			return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "with_disabled", Message: fmt.Sprintf(`Parameter "with_disabled" must be true or false; got %s.`, chartmogul.Quote(v))}
		}
	}
	// include_edit_histories is accepted: Recur keeps no edit histories.
	list, total, err := s.Store.ListEvents(r.Context(), c.account.ID, f, p)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "subscription_events", c.account.ID, func(e *chartmogul.SubscriptionEvent) int64 { return e.ID })
	out := eventsPage{Events: make([]eventJSON, len(list)), Cursor: optString(cursor), HasMore: more}
	for i := range list {
		out.Events[i] = toEvent(&list[i])
	}
	if p.Before == 0 {
		before := millis(s.Now())
		meta := &eventsMetaJSON{BeforeKey: &before, TotalPages: (total + p.Limit - 1) / p.Limit}
		if total > 0 {
			meta.Page = 1
		}
		if more {
			meta.NextKey = &list[len(list)-1].ID
		}
		out.Meta = meta
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// dayOrSecond reads a date filter: a date alone matches that whole UTC day,
// a date with a time matches that second.
func eventDayOrSecond(q url.Values, param string) (*store.TimeRange, error) {
	v := q.Get(param)
	if v == "" {
		return nil, nil
	}
	t, err := chartmogul.ParseTime(v)
	if err != nil {
		return nil, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: param, Message: fmt.Sprintf("Parameter %q %s.", param, err.Error())}
	}
	if len(strings.TrimSpace(v)) == len(chartmogul.LayoutDate) {
		return &store.TimeRange{From: t, To: t.AddDate(0, 0, 1)}, nil
	}
	t = t.Truncate(time.Second)
	return &store.TimeRange{From: t, To: t.Add(time.Second)}, nil
}
