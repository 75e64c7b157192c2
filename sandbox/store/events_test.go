package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
)

// evImport applies a bulk payload to the fixture's data source through
// ApplyChanges, as the importer's resolver sees it, and returns the changes.
func evImport(t *testing.T, s *store.Store, f fixture, payload string) *bulk.ImportChanges {
	t.Helper()
	b, err := chartmogul.Decode([]byte(payload), testNow)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.ApplyChanges(context.Background(), f.ds.ID, bulk.Keys(b), bulk.Resolver(b))
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// evBulk imports a payload through a real bulk import (CreateImport, then
// ApplyImport as the worker runs it) and returns its report: valid records
// are written beside failed ones.
func evBulk(t *testing.T, s *store.Store, f fixture, payload string) *chartmogul.ImportReport {
	t.Helper()
	if _, _, err := s.CreateImport(context.Background(), f.ds, "", []byte(payload)); err != nil {
		t.Fatal(err)
	}
	return applyAll(t, s, f)
}

const evSeed = `{"customers": [{"external_id": "c1"}, {"external_id": "c2"}],
	"plans": [{"external_id": "gold", "name": "Gold", "interval_count": 1, "interval_unit": "month"}]}`

// evByExternalID finds an event of the fixture's data source.
func evByExternalID(t *testing.T, s *store.Store, f fixture, ext string) *chartmogul.SubscriptionEvent {
	t.Helper()
	ev, err := s.EventByExternalID(context.Background(), f.account.ID, f.ds.UUID, ext)
	if err != nil {
		t.Fatalf("event %s: %v", ext, err)
	}
	return ev
}

// TestEventRetractionsInBulk checks that a bulk import records which event
// each retraction retracts — by id, by external id earlier in the same
// payload, and the latest pending scheduled event for type-specific
// retractions — and that a retraction with nothing to retract fails as a
// record while the rest is imported.
func TestEventRetractionsInBulk(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		if ch := evImport(t, s, f, evSeed); len(ch.Report.Failures) > 0 {
			t.Fatalf("seed failed: %+v", ch.Report.Failures)
		}
		rep := evBulk(t, s, f, `{"subscription_events": [
			{"external_id": "cancel_a", "customer_external_id": "c1", "event_type": "subscription_cancellation_scheduled", "subscription_external_id": "s1", "event_date": "2024-01-01", "effective_date": "2024-03-01"},
			{"external_id": "cancel_b", "customer_external_id": "c1", "event_type": "subscription_cancellation_scheduled", "subscription_external_id": "s1", "event_date": "2024-02-01", "effective_date": "2024-04-01"},
			{"external_id": "start", "customer_external_id": "c1", "event_type": "subscription_start_scheduled", "subscription_external_id": "s2", "event_date": "2024-01-01", "effective_date": "2024-05-01", "plan_external_id": "gold", "currency": "USD", "amount_in_cents": 1000},
			{"external_id": "undo_b", "customer_external_id": "c1", "event_type": "scheduled_subscription_cancellation_retracted", "subscription_external_id": "s1", "event_date": "2024-02-10", "effective_date": "2024-02-10"},
			{"external_id": "undo_start", "customer_external_id": "c1", "event_type": "subscription_event_retracted", "retracted_event_id": "start", "event_date": "2024-02-10", "effective_date": "2024-02-10"},
			{"external_id": "undo_nothing", "customer_external_id": "c1", "event_type": "subscription_event_retracted", "retracted_event_id": "999999", "event_date": "2024-02-10", "effective_date": "2024-02-10"},
			{"external_id": "undo_start_again", "customer_external_id": "c1", "event_type": "scheduled_subscription_start_retracted", "subscription_external_id": "s2", "event_date": "2024-02-10", "effective_date": "2024-02-10"}
		]}`)
		// undo_nothing names no event; undo_start_again finds no pending
		// start (undo_start took it): both fail, the rest is imported.
		fails := map[string]chartmogul.RecordProblem{}
		for _, p := range rep.Failures {
			fails[p.ExternalID] = p
		}
		if len(fails) != 2 || fails["undo_nothing"].Field != "retracted_event_id" || fails["undo_start_again"].Field != "subscription_external_id" {
			t.Fatalf("failures = %+v", rep.Failures)
		}
		if !strings.Contains(fails["undo_nothing"].Message, `"999999" names no subscription event of data source`) {
			t.Errorf("message = %q", fails["undo_nothing"].Message)
		}
		if !strings.Contains(fails["undo_start_again"].Message, "there is no pending subscription_start_scheduled event of subscription \"s2\"") {
			t.Errorf("message = %q", fails["undo_start_again"].Message)
		}
		a, b, start := evByExternalID(t, s, f, "cancel_a"), evByExternalID(t, s, f, "cancel_b"), evByExternalID(t, s, f, "start")
		undoB, undoStart := evByExternalID(t, s, f, "undo_b"), evByExternalID(t, s, f, "undo_start")
		if a.RetractedBy != 0 || b.RetractedBy != undoB.ID || undoB.RetractsEventID != b.ID {
			t.Errorf("the latest scheduled cancellation must be retracted: a.by=%d b.by=%d undo_b.retracts=%d (b=%d)", a.RetractedBy, b.RetractedBy, undoB.RetractsEventID, b.ID)
		}
		if start.RetractedBy != undoStart.ID || undoStart.RetractsEventID != start.ID {
			t.Errorf("retraction by external id in the same payload: start.by=%d undo.retracts=%d", start.RetractedBy, undoStart.RetractsEventID)
		}

		// A second type-specific retraction takes the remaining pending
		// cancellation; a third finds none.
		ch := evImport(t, s, f, `{"subscription_events": [
			{"external_id": "undo_a", "customer_external_id": "c1", "event_type": "scheduled_subscription_cancellation_retracted", "subscription_external_id": "s1", "event_date": "2024-02-11", "effective_date": "2024-02-11"}]}`)
		if len(ch.Report.Failures) > 0 {
			t.Fatalf("failures = %+v", ch.Report.Failures)
		}
		if a = evByExternalID(t, s, f, "cancel_a"); a.RetractedBy != evByExternalID(t, s, f, "undo_a").ID {
			t.Errorf("cancel_a.RetractedBy = %d", a.RetractedBy)
		}
		ch = evImport(t, s, f, `{"subscription_events": [
			{"external_id": "undo_more", "customer_external_id": "c1", "event_type": "scheduled_subscription_cancellation_retracted", "subscription_external_id": "s1", "event_date": "2024-02-12", "effective_date": "2024-02-12"}]}`)
		if len(ch.Report.Failures) != 1 || ch.Report.Failures[0].Field != "subscription_external_id" {
			t.Fatalf("failures = %+v", ch.Report.Failures)
		}

		// Disabling a retraction releases its event; deleting one too.
		if _, err := s.SetEventDisabled(ctx, f.account.ID, undoB.ID, true); err != nil {
			t.Fatal(err)
		}
		if b = evByExternalID(t, s, f, "cancel_b"); b.RetractedBy != 0 {
			t.Errorf("a disabled retraction still retracts: %d", b.RetractedBy)
		}
		if err := s.DeleteEvent(ctx, f.account.ID, undoStart.ID); err != nil {
			t.Fatal(err)
		}
		if start = evByExternalID(t, s, f, "start"); start.RetractedBy != 0 {
			t.Errorf("a deleted retraction still retracts: %d", start.RetractedBy)
		}
		// Re-importing the same retraction unchanged is a no-op, not a
		// second retraction.
		ch = evImport(t, s, f, `{"subscription_events": [
			{"external_id": "undo_a", "customer_external_id": "c1", "event_type": "scheduled_subscription_cancellation_retracted", "subscription_external_id": "s1", "event_date": "2024-02-11", "effective_date": "2024-02-11"}]}`)
		if len(ch.Report.Failures) > 0 || len(ch.NewEvents) > 0 {
			t.Fatalf("re-import: failures %+v, new %d", ch.Report.Failures, len(ch.NewEvents))
		}
		// Events that retract each other go with their data source.
		if err := s.DeleteDataSource(ctx, f.account.ID, f.ds.UUID); err != nil {
			t.Fatalf("delete the data source: %v", err)
		}
	})
}

// TestEventStore checks the event reads and single-object writes: lookups
// by id and external id scoped to the account, the list's filters, the
// disabled state and deletes.
func TestEventStore(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		other := newFixture(t, s, "other")
		evImport(t, s, f, evSeed)
		ch := evImport(t, s, f, `{"subscription_events": [
			{"external_id": "e1", "customer_external_id": "c1", "event_type": "subscription_cancelled", "subscription_external_id": "s1", "event_date": "2024-01-01 10:00:00", "effective_date": "2024-02-01"},
			{"external_id": "e2", "customer_external_id": "c2", "event_type": "subscription_cancelled", "subscription_external_id": "s2", "event_date": "2024-01-01 11:00:00", "effective_date": "2024-02-02"},
			{"external_id": "e3", "customer_external_id": "c2", "event_type": "subscription_start_scheduled", "subscription_external_id": "s3", "event_date": "2024-01-02", "effective_date": "2024-03-01", "plan_external_id": "gold", "currency": "EUR", "amount_in_cents": 500, "quantity": 2}
		]}`)
		if len(ch.Report.Failures) > 0 {
			t.Fatalf("failures = %+v", ch.Report.Failures)
		}
		e1 := evByExternalID(t, s, f, "e1")
		if _, err := s.Event(ctx, other.account.ID, e1.ID); !chartmogul.IsNotFound(err) {
			t.Errorf("another account's event: %v, want ENOTFOUND", err)
		}
		if _, err := s.EventByExternalID(ctx, f.account.ID, f.ds.UUID, "nope"); !chartmogul.IsNotFound(err) {
			t.Errorf("unknown external id: %v", err)
		}
		if _, err := s.EventByExternalID(ctx, other.account.ID, f.ds.UUID, "e1"); !chartmogul.IsNotFound(err) {
			t.Errorf("another account's data source: %v", err)
		}

		list := func(fl store.EventFilter) []string {
			t.Helper()
			evs, _, err := s.ListEvents(ctx, f.account.ID, fl, store.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range evs {
				out = append(out, e.ExternalID)
			}
			return out
		}
		day := func(s string) *store.TimeRange {
			d, _ := time.Parse("2006-01-02", s)
			return &store.TimeRange{From: d, To: d.AddDate(0, 0, 1)}
		}
		for name, c := range map[string]struct {
			f    store.EventFilter
			want string
		}{
			"all, newest first":  {store.EventFilter{}, "e3 e2 e1"},
			"customer":           {store.EventFilter{CustomerExternalID: "c2"}, "e3 e2"},
			"event type":         {store.EventFilter{EventType: chartmogul.EventSubscriptionCancelled}, "e2 e1"},
			"event date day":     {store.EventFilter{EventDate: day("2024-01-01")}, "e2 e1"},
			"effective date day": {store.EventFilter{EffectiveDate: day("2024-02-02")}, "e2"},
			"event date second": {store.EventFilter{EventDate: &store.TimeRange{From: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC),
				To: time.Date(2024, 1, 1, 10, 0, 1, 0, time.UTC)}}, "e1"},
			"plan":           {store.EventFilter{PlanExternalID: "gold"}, "e3"},
			"subscription":   {store.EventFilter{SubscriptionExternalID: "s1"}, "e1"},
			"external id":    {store.EventFilter{ExternalID: "e2"}, "e2"},
			"data source":    {store.EventFilter{DataSourceUUID: other.ds.UUID}, ""},
			"other customer": {store.EventFilter{CustomerUUID: "cus_nope"}, ""},
		} {
			if got := strings.Join(list(c.f), " "); got != c.want {
				t.Errorf("%s: got %q, want %q", name, got, c.want)
			}
		}

		// Disabled events leave the list unless asked for; disabled_at
		// keeps the first time; enabling clears it.
		s.Now = func() time.Time { return testNow }
		d, err := s.SetEventDisabled(ctx, f.account.ID, e1.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Disabled || d.DisabledAt == nil || !d.DisabledAt.Equal(testNow) {
			t.Errorf("disabled: %v at %v", d.Disabled, d.DisabledAt)
		}
		s.Now = func() time.Time { return testNow.Add(time.Hour) }
		if d, _ = s.SetEventDisabled(ctx, f.account.ID, e1.ID, true); !d.DisabledAt.Equal(testNow) {
			t.Errorf("disabling again moved disabled_at to %v", d.DisabledAt)
		}
		if got := strings.Join(list(store.EventFilter{}), " "); got != "e3 e2" {
			t.Errorf("list without disabled: %q", got)
		}
		if got := strings.Join(list(store.EventFilter{WithDisabled: true}), " "); got != "e3 e2 e1" {
			t.Errorf("list with disabled: %q", got)
		}
		if d, _ = s.SetEventDisabled(ctx, f.account.ID, e1.ID, false); d.Disabled || d.DisabledAt != nil {
			t.Errorf("enabled: %v at %v", d.Disabled, d.DisabledAt)
		}
		if _, err := s.SetEventDisabled(ctx, other.account.ID, e1.ID, true); !chartmogul.IsNotFound(err) {
			t.Errorf("another account's event: %v", err)
		}

		if err := s.DeleteEvent(ctx, other.account.ID, e1.ID); !chartmogul.IsNotFound(err) {
			t.Errorf("delete another account's event: %v", err)
		}
		if err := s.DeleteEvent(ctx, f.account.ID, e1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Event(ctx, f.account.ID, e1.ID); !chartmogul.IsNotFound(err) {
			t.Errorf("deleted event: %v", err)
		}
		if err := s.DeleteEvent(ctx, f.account.ID, e1.ID); !chartmogul.IsNotFound(err) {
			t.Errorf("delete twice: %v", err)
		}
		// Event ids stay unique after a delete (the writer allocates them).
		ch = evImport(t, s, f, `{"subscription_events": [{"external_id": "e4", "customer_external_id": "c1", "event_type": "subscription_cancelled", "subscription_external_id": "s1", "event_date": "2024-01-05", "effective_date": "2024-02-05"}]}`)
		if len(ch.Report.Failures) > 0 {
			t.Fatal(ch.Report.Failures)
		}
		if e4 := evByExternalID(t, s, f, "e4"); e4.ID <= evByExternalID(t, s, f, "e3").ID {
			t.Errorf("e4 got id %d, not above e3's", e4.ID)
		}
	})
}
