package bulk

import (
	"fmt"
	"strconv"

	"github.com/recurhq/recur/chartmogul"
)

// Retractions (spec §6.2). A retraction event withdraws another event, and
// Recur records which one when the retraction is written (the event's
// RetractsEventID), so that the analytics, the list and the event's
// "retracted" flag all agree on it:
//
//   - subscription_event_retracted withdraws the event its
//     retracted_event_id names: the id of an event of the data source, or
//     the external_id of one (stored, or earlier in the same import: a bulk
//     payload cannot know the ids its events will get). An id wins over an
//     external id that happens to read the same.
//   - the type-specific retractions (scheduled_subscription_*_retracted)
//     withdraw the latest pending scheduled event of their kind (a start,
//     a cancellation or an update) of the same customer and
//     subscription_external_id: enabled, not yet retracted, the latest by
//     event_date, then by the order it was recorded in. When they name an
//     event by retracted_event_id, it must be such an event.
//
// A retraction that would retract nothing fails, in a bulk import as on the
// single-object endpoint: it would change no metric and nobody would learn
// why. So does one that names a retraction (delete or disable a retraction
// to undo it), an event of another customer, or an event that is already
// retracted. Disabling or deleting a retraction releases its event.

// retractions resolves the targets of one batch's retraction events.
type retractions struct {
	r *resolver
	// byExternalID and scheduled are the batch's events that will be
	// written: by external id, and the scheduled ones in payload order.
	byExternalID map[string]*chartmogul.SubscriptionEvent
	scheduled    []*chartmogul.SubscriptionEvent
	// taken marks the events retractions of this batch already retract:
	// stored ones by id, new ones by record.
	taken    map[int64]bool
	takenNew map[*chartmogul.SubscriptionEvent]bool
}

func newRetractions(r *resolver) *retractions {
	return &retractions{r: r, byExternalID: map[string]*chartmogul.SubscriptionEvent{},
		taken: map[int64]bool{}, takenNew: map[*chartmogul.SubscriptionEvent]bool{}}
}

// written records an event of the batch that will be written, which later
// retractions of the batch may retract.
func (x *retractions) written(ev *chartmogul.SubscriptionEvent) {
	if ev.ExternalID != "" {
		x.byExternalID[ev.ExternalID] = ev
	}
	switch ev.EventType {
	case chartmogul.EventSubscriptionStartScheduled, chartmogul.EventSubscriptionCancellationScheduled, chartmogul.EventSubscriptionUpdateScheduled:
		x.scheduled = append(x.scheduled, ev)
	}
}

func (x *retractions) isTaken(t *chartmogul.SubscriptionEvent) bool {
	return (t.ID != 0 && x.taken[t.ID]) || x.takenNew[t]
}

func (x *retractions) take(t *chartmogul.SubscriptionEvent) *chartmogul.SubscriptionEvent {
	if t.ID != 0 {
		x.taken[t.ID] = true
	} else {
		x.takenNew[t] = true
	}
	return t
}

// target returns the event that ev retracts: nil for events that are not
// retractions, and nil with a failure recorded on p when a retraction has
// nothing it may retract.
func (x *retractions) target(ev *chartmogul.SubscriptionEvent, p *chartmogul.Problems) *chartmogul.SubscriptionEvent {
	kind := chartmogul.RetractedKind(ev.EventType)
	if ev.EventType != chartmogul.EventSubscriptionEventRetracted && kind == "" {
		if ev.RetractedEventID != "" {
			p.Warn("retracted_event_id", "retracted_event_id is read only on retraction events; it was stored, and ignored, on this %s event", ev.EventType)
		}
		return nil
	}
	// A retraction changed in place (PATCH) keeps the event it retracts
	// while that event still fits it.
	if ev.ID != 0 && ev.RetractsEventID != 0 {
		cur := x.r.ex.EventsByID[strconv.FormatInt(ev.RetractsEventID, 10)]
		if cur != nil && !x.isTaken(cur) && x.misfit(ev, kind, cur) == "" &&
			(ev.RetractedEventID == "" && kind != "" || names(cur, ev.RetractedEventID)) {
			return x.take(cur)
		}
	}
	if ev.RetractedEventID != "" {
		t := x.named(ev.RetractedEventID)
		if t == nil {
			p.Fail("retracted_event_id", "retracted_event_id %s names no subscription event of data source %s, by id or by external_id; a retraction must name the event it retracts",
				chartmogul.Quote(ev.RetractedEventID), x.r.ds.UUID)
			return nil
		}
		if why := x.misfit(ev, kind, t); why != "" {
			p.Fail("retracted_event_id", "retracted_event_id %s %s", chartmogul.Quote(ev.RetractedEventID), why)
			return nil
		}
		return x.take(t)
	}
	if t := x.latest(ev, kind); t != nil {
		return x.take(t)
	}
	p.Fail("subscription_external_id", "there is no pending %s event of subscription %s of customer %s in data source %s for this %s to retract",
		kind, chartmogul.Quote(ev.SubscriptionExternalID), chartmogul.Quote(ev.CustomerExternalID), x.r.ds.UUID, ev.EventType)
	return nil
}

// names reports whether id names t, by id or by external id.
func names(t *chartmogul.SubscriptionEvent, id string) bool {
	return (t.ID != 0 && strconv.FormatInt(t.ID, 10) == id) || (t.ExternalID != "" && t.ExternalID == id)
}

// named finds the event a retracted_event_id names: a stored event by id,
// else an event of the batch or a stored one by external id.
func (x *retractions) named(id string) *chartmogul.SubscriptionEvent {
	if t := x.r.ex.EventsByID[id]; t != nil {
		return t
	}
	if t := x.byExternalID[id]; t != nil {
		return t
	}
	return x.r.ex.Events[id]
}

// misfit says why retraction ev may not retract t, or "" when it may.
func (x *retractions) misfit(ev *chartmogul.SubscriptionEvent, kind string, t *chartmogul.SubscriptionEvent) string {
	switch {
	case t == ev || (ev.ID != 0 && t.ID == ev.ID):
		return "names this event itself; a retraction retracts another event"
	case chartmogul.IsRetraction(t.EventType):
		return fmt.Sprintf("names a %s event; to undo a retraction, delete or disable it", t.EventType)
	case kind != "" && t.EventType != kind:
		return fmt.Sprintf("names a %s event; a %s retracts a %s event", t.EventType, ev.EventType, kind)
	case t.CustomerExternalID != ev.CustomerExternalID:
		return fmt.Sprintf("names an event of customer %s, not of customer %s", chartmogul.Quote(t.CustomerExternalID), chartmogul.Quote(ev.CustomerExternalID))
	case kind != "" && t.SubscriptionExternalID != ev.SubscriptionExternalID:
		return fmt.Sprintf("names an event of subscription %s, not of subscription %s", chartmogul.Quote(t.SubscriptionExternalID), chartmogul.Quote(ev.SubscriptionExternalID))
	case t.RetractedBy != 0 && t.RetractedBy != ev.ID:
		return fmt.Sprintf("names an event that subscription event %d already retracts", t.RetractedBy)
	case x.isTaken(t):
		return "names an event that an earlier retraction of this request already retracts"
	}
	return ""
}

// latest finds the latest pending scheduled event that a type-specific
// retraction withdraws: stored candidates come oldest first, the batch's
// after them, and the latest event_date wins, the later recorded on a tie.
func (x *retractions) latest(ev *chartmogul.SubscriptionEvent, kind string) *chartmogul.SubscriptionEvent {
	var best *chartmogul.SubscriptionEvent
	consider := func(t *chartmogul.SubscriptionEvent) {
		if t.EventType != kind || t.CustomerExternalID != ev.CustomerExternalID || t.SubscriptionExternalID != ev.SubscriptionExternalID ||
			t.Disabled || t.RetractedBy != 0 || x.isTaken(t) || t == ev || (ev.ID != 0 && t.ID == ev.ID) {
			return
		}
		if best == nil || !t.EventDate.Before(best.EventDate) {
			best = t
		}
	}
	for _, t := range x.r.ex.ScheduledEvents[ev.SubscriptionExternalID] {
		consider(t)
	}
	for _, t := range x.scheduled {
		consider(t)
	}
	return best
}
