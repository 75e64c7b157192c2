package analytics_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/analytics"
)

func TestNormalisationFactors(t *testing.T) {
	plan := func(n int, u analytics.IntervalUnit) analytics.Plan {
		return analytics.Plan{ID: 1, IntervalCount: n, IntervalUnit: u}
	}
	tests := []struct {
		name   string
		plan   analytics.Plan
		amount int64
		tax    int64
		want   int64
	}{
		{"monthly", plan(1, "month"), 5000, 0, 5000},
		{"quarterly", plan(3, "month"), 9000, 0, 3000},
		{"semiannual rounds half away from zero", plan(6, "month"), 1003, 0, 167}, // 167.17
		{"annual", plan(1, "year"), 200000, 0, 16667},                             // 16666.67
		{"two-year", plan(2, "year"), 240000, 0, 10000},
		{"weekly", plan(7, "day"), 1000, 0, 4348},
		{"daily", plan(1, "day"), 100, 0, 3044},
		{"30-day", plan(30, "day"), 3000, 0, 3044}, // 3043.75
		{"tax excluded", plan(1, "month"), 12000, 2000, 10000},
		{"half cent up", plan(2, "month"), 5, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := item("S", tt.plan, at("2024-01-01"), at("2024-02-01"), tt.amount)
			it.TaxAmountInCents = tt.tax
			r := compute(t, analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{it}}, usd, nil)
			if r.MRRInCents != tt.want {
				t.Errorf("MRR %d, want %d", r.MRRInCents, tt.want)
			}
		})
	}
}

func TestProrationTypes(t *testing.T) {
	base := func() analytics.LineItem { return item("S", planMonthly, at("2024-04-01"), at("2024-05-01"), 3000) }
	mid := func(amount int64, typ string) analytics.LineItem {
		it := item("S", planMonthly, at("2024-04-16"), at("2024-05-01"), amount)
		it.Prorated, it.ProrationType = true, typ
		return it
	}
	tests := []struct {
		name  string
		items []analytics.LineItem
		want  int64
	}{
		{"full replaces", []analytics.LineItem{base(), mid(2500, analytics.ProrationFull)}, 5000},
		{"empty type is full", []analytics.LineItem{base(), mid(2500, "")}, 5000},
		{"differential adds", []analytics.LineItem{base(), mid(2500, analytics.ProrationDifferential)}, 8000},
		{"differential_mrr adds as monthly", []analytics.LineItem{base(), mid(2500, analytics.ProrationDifferentialMRR)}, 5500},
		{"credit below zero clamps", []analytics.LineItem{base(), mid(-5000, analytics.ProrationDifferential)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := usd
			s.AsOf = at("2024-04-20")
			r := compute(t, analytics.CustomerInput{CustomerID: 1, LineItems: tt.items}, s, nil)
			if r.MRRInCents != tt.want {
				t.Errorf("MRR %d, want %d", r.MRRInCents, tt.want)
			}
		})
	}

	// Without a covering item, a prorated item ending where a renewal
	// starts steps one plan interval back from its end (March: 29 days in
	// 2024 → Feb 1..Mar 1 = 29 days; charged 14 days).
	seat := item("S", planMonthly, at("2024-02-16"), at("2024-03-01"), 1400)
	seat.Prorated, seat.ProrationType = true, analytics.ProrationDifferential
	renew := item("S", planMonthly, at("2024-03-01"), at("2024-04-01"), 9000)
	r := compute(t, analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{seat, renew}}, usd, nil)
	if got := r.Movements[0].AmountInCents; got != 2900 {
		t.Errorf("boundary estimate: %d, want 1400 × 29/14 = 2900", got)
	}
	// Otherwise one interval forward from its start (Feb 10 → Mar 10 = 29 days, charged 29 days).
	lone := item("S", planMonthly, at("2024-02-10"), at("2024-03-10"), 1000)
	lone.Prorated = true
	r = compute(t, analytics.CustomerInput{CustomerID: 2, LineItems: []analytics.LineItem{lone}}, usd, nil)
	if r.MRRInCents != 1000 {
		t.Errorf("forward estimate: %d, want 1000", r.MRRInCents)
	}
}

func TestOutOfOrderAndOverlap(t *testing.T) {
	jan := item("S", planMonthly, at("2024-01-01"), at("2024-02-01"), 1000)
	overlap := item("S", planMonthly, at("2024-01-15"), at("2024-02-15"), 3000) // later start wins
	feb := item("S", planMonthly, at("2024-02-15"), at("2024-03-15"), 2000)
	r := compute(t, analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{feb, overlap, jan}}, usd, nil)
	want := []movementRow{
		{"2024-01-01 00:00", analytics.NewBusiness, 1000},
		{"2024-01-15 00:00", analytics.Expansion, 2000},
		{"2024-02-15 00:00", analytics.Contraction, -1000},
	}
	if got := movementRows(r.Movements); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	// Two non-prorated items with the same start are summed; event_order
	// and creation order do not change that.
	a := item("S", planMonthly, at("2024-01-01"), at("2024-02-01"), 1000)
	b := item("S", planMonthly, at("2024-01-01"), at("2024-02-01"), 500)
	b.EventOrder = ptr(int64(1))
	r = compute(t, analytics.CustomerInput{CustomerID: 2, LineItems: []analytics.LineItem{a, b}}, usd, nil)
	if r.MRRInCents != 1500 || len(r.Movements) != 1 {
		t.Errorf("same-start items: MRR %d, %d movements", r.MRRInCents, len(r.Movements))
	}
	// A gap between periods does not end the subscription.
	gap := append(renewals("S", planMonthly, at("2024-01-01"), 1, 1000), renewals("S", planMonthly, at("2024-05-01"), 1, 1000)...)
	r = compute(t, analytics.CustomerInput{CustomerID: 3, LineItems: gap}, usd, nil)
	if len(r.Movements) != 1 {
		t.Errorf("gap produced movements %v", movementRows(r.Movements))
	}
}

func TestFreeAndTrial(t *testing.T) {
	trial := item("S", planMonthly, at("2024-01-01"), at("2024-01-15"), 0)
	trial.Type = analytics.LineItemTrial
	paid := renewals("S", planMonthly, at("2024-01-15"), 2, 4000)
	s := usd
	s.AsOf = at("2024-01-10")
	r := compute(t, analytics.CustomerInput{CustomerID: 1, LineItems: append([]analytics.LineItem{trial}, paid...)}, s, nil)
	if r.Status != analytics.StatusLead || !r.Subscriptions[0].Trial || r.MRRInCents != 0 {
		t.Errorf("during trial: status %s, sub %+v", r.Status, r.Subscriptions[0])
	}
	if got := movementRows(r.Movements); !reflect.DeepEqual(got, []movementRow{{"2024-01-15 00:00", analytics.NewBusiness, 4000}}) {
		t.Errorf("trial then paid: %v", got)
	}

	// An ongoing trial of another product does not keep a customer that
	// cancels its paid subscription a subscriber; a free plan does.
	other := item("T", planSilver, at("2024-02-01"), at("2024-03-01"), 0)
	other.Type = analytics.LineItemTrial
	paidOnly := renewals("S", planMonthly, at("2024-01-01"), 2, 4000)
	cancelS := []analytics.Cancellation{{SubscriptionExternalID: "S", CancelledAt: at("2024-02-10")}}
	r = compute(t, analytics.CustomerInput{CustomerID: 7, LineItems: append(paidOnly, other), Cancellations: cancelS}, s, nil)
	if last := r.Movements[len(r.Movements)-1]; last.Type != analytics.Churn {
		t.Errorf("cancel with a trial running: %s, want churn", last.Type)
	}
	freeOther := other
	freeOther.Type = analytics.LineItemSubscription
	r = compute(t, analytics.CustomerInput{CustomerID: 8, LineItems: append(paidOnly, freeOther), Cancellations: cancelS}, s, nil)
	if last := r.Movements[len(r.Movements)-1]; last.Type != analytics.Contraction {
		t.Errorf("cancel with a free plan running: %s, want contraction", last.Type)
	}

	// Free from the start: a lead with a free subscription.
	free := renewals("F", planMonthly, at("2024-01-01"), 3, 0)
	r = compute(t, analytics.CustomerInput{CustomerID: 2, LineItems: free}, usd, nil)
	if r.Status != analytics.StatusLead || !r.Subscriptions[0].Free || len(r.Movements) != 0 || len(r.SubscriberSpans) != 0 {
		t.Errorf("free only: %s %+v", r.Status, r.Subscriptions)
	}

	// Paid → free → paid, then the free subscription is cancelled.
	history := append(renewals("S", planMonthly, at("2024-01-01"), 1, 5000), renewals("S", planMonthly, at("2024-02-01"), 1, 0)...)
	history = append(history, renewals("S", planMonthly, at("2024-03-01"), 1, 5000)...)
	history = append(history, renewals("S", planMonthly, at("2024-04-01"), 1, 0)...)
	cancel := []analytics.Cancellation{{SubscriptionExternalID: "S", CancelledAt: at("2024-04-20")}}
	in := analytics.CustomerInput{CustomerID: 3, LineItems: history, Cancellations: cancel}

	r = compute(t, in, usd, nil)
	want := []movementRow{
		{"2024-01-01 00:00", analytics.NewBusiness, 5000},
		{"2024-02-01 00:00", analytics.Contraction, -5000},
		{"2024-03-01 00:00", analytics.Expansion, 5000},
		{"2024-04-01 00:00", analytics.Contraction, -5000},
	}
	if got := movementRows(r.Movements); !reflect.DeepEqual(got, want) {
		t.Errorf("default free handling\n got %v\nwant %v", got, want)
	}
	if len(r.SubscriberSpans) != 1 || !r.SubscriberSpans[0].End.Equal(at("2024-04-20")) || r.Status != analytics.StatusCancelled {
		t.Errorf("spans %v status %s: want one span ending at the cancellation", r.SubscriberSpans, r.Status)
	}
	agg, _ := aggregate(t, usd, nil, in)
	m := metrics(t, agg, monthly("2024-01-01", "2024-04-30"))
	for i, want := range []int64{1, 1, 1, 0} {
		if got := m.Entries[i].Values.Customers; got != want {
			t.Errorf("%s customers %d, want %d", m.Entries[i].Date, got, want)
		}
	}
	if got := m.Entries[3].Values.CustomerChurnRate; got != 100 {
		t.Errorf("April churn rate %v, want 100 (cancelled while free)", got)
	}

	s = usd
	s.FreeCustomerHandling = analytics.FreeIsChurn
	r = compute(t, in, s, nil)
	want = []movementRow{
		{"2024-01-01 00:00", analytics.NewBusiness, 5000},
		{"2024-02-01 00:00", analytics.Churn, -5000},
		{"2024-03-01 00:00", analytics.Reactivation, 5000},
		{"2024-04-01 00:00", analytics.Churn, -5000},
	}
	if got := movementRows(r.Movements); !reflect.DeepEqual(got, want) {
		t.Errorf("free is churn\n got %v\nwant %v", got, want)
	}
	if len(r.SubscriberSpans) != 2 {
		t.Errorf("free is churn: spans %v", r.SubscriberSpans)
	}
}

func TestSubscriptionSets(t *testing.T) {
	// Base + two add-ons bought together: three new_biz movements, one set.
	base := item("B", planGold, at("2024-01-01"), at("2024-02-01"), 10000)
	add1 := item("A1", planSilver, at("2024-01-01"), at("2024-02-01"), 5000)
	add2 := item("A2", planBronze, at("2024-01-01"), at("2024-02-01"), 6000)
	for _, it := range []*analytics.LineItem{&base, &add1, &add2} {
		it.SubscriptionSetExternalID = "SET"
	}
	r := compute(t, analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{add2, base, add1}}, usd, nil)
	if len(r.Movements) != 3 || r.MRRInCents != 21000 {
		t.Fatalf("movements %v MRR %d", movementRows(r.Movements), r.MRRInCents)
	}
	for _, m := range r.Movements {
		if m.Type != analytics.NewBusiness || m.SetExternalID != "SET" {
			t.Errorf("movement %+v", m)
		}
	}

	// Replacing a subscription by another of the same set at the same
	// instant is one expansion, and the old one is Linked.
	old := item("OLD", planBronze, at("2024-01-01"), at("2024-02-01"), 10000)
	old.SubscriptionSetExternalID = "SET"
	old.CancelledAt = ptr(at("2024-02-01"))
	nw := item("NEW", planGold, at("2024-02-01"), at("2024-03-01"), 25000)
	nw.SubscriptionSetExternalID = "SET"
	in := analytics.CustomerInput{CustomerID: 2, LineItems: []analytics.LineItem{nw, old}}
	r = compute(t, in, usd, nil)
	want := []movementRow{{"2024-01-01 00:00", analytics.NewBusiness, 10000}, {"2024-02-01 00:00", analytics.Expansion, 15000}}
	if got := movementRows(r.Movements); !reflect.DeepEqual(got, want) {
		t.Errorf("linked\n got %v\nwant %v", got, want)
	}
	if r.Subscriptions[1].ExternalID != "OLD" || r.Subscriptions[1].Status != analytics.SubscriptionLinked {
		t.Errorf("old subscription %+v", r.Subscriptions[1])
	}
	if m := r.Movements[1]; m.SubscriptionExternalID != "NEW" || m.PreviousPlanID != planBronze.ID || m.PlanID != planGold.ID {
		t.Errorf("linked movement %+v", m)
	}

	// The plan filter sees the switch as leaving / entering.
	agg, _ := aggregate(t, usd, nil, in)
	q := monthly("2024-01-01", "2024-02-29")
	q.PlanIDs = []int64{planBronze.ID}
	bronze := metrics(t, agg, q)
	if e := bronze.Entries[1]; e.Breakdown.LeavingSegment != -10000 || e.Values.MRR != 0 || e.Values.Customers != 0 || e.Breakdown.Expansion != 0 {
		t.Errorf("bronze February %+v %+v", e.Values, e.Breakdown)
	}
	q.PlanIDs = []int64{planGold.ID}
	gold := metrics(t, agg, q)
	if e := gold.Entries[1]; e.Breakdown.EnteringSegment != 25000 || e.Values.MRR != 25000 || e.Values.Customers != 1 {
		t.Errorf("gold February %+v %+v", e.Values, e.Breakdown)
	}
	q.PlanIDs = []int64{planGold.ID, planBronze.ID}
	both := metrics(t, agg, q)
	if e := both.Entries[1]; e.Breakdown.Expansion != 15000 || e.Breakdown.EnteringSegment != 0 || e.Values.MRR != 25000 {
		t.Errorf("both February %+v %+v", e.Values, e.Breakdown)
	}

	// Without a set id the set defaults to the subscription's own id.
	r = compute(t, analytics.CustomerInput{CustomerID: 3, LineItems: renewals("X", planGold, at("2024-01-01"), 1, 100)}, usd, nil)
	if r.Subscriptions[0].SetExternalID != "X" {
		t.Errorf("default set id %q", r.Subscriptions[0].SetExternalID)
	}
}

func TestCancellationSources(t *testing.T) {
	items := renewals("S", planMonthly, at("2024-01-01"), 6, 1000)
	cancelEvent := analytics.SubscriptionEvent{ID: 77, ExternalID: "ev-1", EventType: analytics.EventSubscriptionCancelled,
		SubscriptionExternalID: "S", EventDate: at("2024-02-20"), EffectiveDate: at("2024-03-10")}
	in := analytics.CustomerInput{CustomerID: 1, LineItems: items, Events: []analytics.SubscriptionEvent{cancelEvent}}

	r := compute(t, in, usd, nil)
	if got := movementRows(r.Movements); len(got) != 3 || got[1] != (movementRow{"2024-03-10 00:00", analytics.Churn, -1000}) ||
		got[2] != (movementRow{"2024-04-01 00:00", analytics.Reactivation, 1000}) {
		t.Errorf("event cancellation, later renewal reactivates: %v", got)
	}

	ignore := usd
	ignore.IgnoreCancellationEvents = true
	if r := compute(t, in, ignore, nil); len(r.Movements) != 1 {
		t.Errorf("ignored event still cancels: %v", movementRows(r.Movements))
	}
	for _, ref := range []string{"77", "ev-1"} {
		retract := analytics.SubscriptionEvent{ID: 78, EventType: analytics.EventRetracted, RetractedEventID: ref}
		in2 := in
		in2.Events = []analytics.SubscriptionEvent{cancelEvent, retract}
		if r := compute(t, in2, usd, nil); len(r.Movements) != 1 {
			t.Errorf("retracted by %s still cancels: %v", ref, movementRows(r.Movements))
		}
	}

	// Churn at period end: a renewal starting exactly at the deferred
	// cancellation continues the subscription.
	s := usd
	s.ChurnRecognition = analytics.ChurnAtPeriodEnd
	in3 := analytics.CustomerInput{CustomerID: 2, LineItems: items,
		Cancellations: []analytics.Cancellation{{SubscriptionExternalID: "S", CancelledAt: at("2024-06-15")}}}
	r = compute(t, in3, s, nil)
	if got := movementRows(r.Movements); len(got) != 2 || got[1] != (movementRow{"2024-07-01 00:00", analytics.Churn, -1000}) {
		t.Errorf("period-end churn: %v", got)
	}
	in3.Cancellations[0].CancelledAt = at("2024-03-15")
	if r := compute(t, in3, s, nil); len(r.Movements) != 1 {
		t.Errorf("renewal after deferred cancellation should continue: %v", movementRows(r.Movements))
	}

	// An item cancelled at its own start never counts.
	it := item("Z", planMonthly, at("2024-01-01"), at("2024-02-01"), 1000)
	it.CancelledAt = ptr(at("2024-01-01"))
	if r := compute(t, analytics.CustomerInput{CustomerID: 3, LineItems: []analytics.LineItem{it}}, usd, nil); len(r.Movements) != 0 || r.Status != analytics.StatusLead {
		t.Errorf("cancelled at start: %v %s", movementRows(r.Movements), r.Status)
	}
}

func TestInvoiceStatusesAndPastDue(t *testing.T) {
	items := renewals("S", planMonthly, at("2024-01-01"), 2, 1000)
	items[1].InvoiceStatus = analytics.InvoiceVoided
	items[1].AmountInCents = 3000
	in := analytics.CustomerInput{CustomerID: 1, LineItems: items}
	if r := compute(t, in, usd, nil); r.MRRInCents != 3000 {
		t.Errorf("voided included by default: MRR %d", r.MRRInCents)
	}
	s := usd
	s.ExcludeVoidedInvoices = true
	if r := compute(t, in, s, nil); r.MRRInCents != 1000 || len(r.Movements) != 1 {
		t.Errorf("voided excluded: MRR %d", r.MRRInCents)
	}

	failed := analytics.Transaction{InvoiceID: items[1].InvoiceID, Type: analytics.TransactionPayment,
		Result: analytics.TransactionFailed, Date: at("2024-02-02")}
	s = usd
	s.AsOf = at("2024-02-10")
	in.Transactions = []analytics.Transaction{failed}
	r := compute(t, in, s, nil)
	if r.Status != analytics.StatusPastDue || r.MRRInCents != 3000 {
		t.Errorf("failed payment: %s MRR %d", r.Status, r.MRRInCents)
	}
	ok := failed
	ok.Result, ok.Date = analytics.TransactionSuccessful, at("2024-02-05")
	in.Transactions = append(in.Transactions, ok)
	if r := compute(t, in, s, nil); r.Status != analytics.StatusActive {
		t.Errorf("retried payment: %s", r.Status)
	}
	s.AsOf = at("2024-02-04")
	if r := compute(t, in, s, nil); r.Status != analytics.StatusPastDue {
		t.Errorf("before the retry: %s", r.Status)
	}
}

func TestErrors(t *testing.T) {
	eur := item("S", planMonthly, at("2024-01-01"), at("2024-02-01"), 1000)
	eur.Currency = "EUR"
	_, err := analytics.Compute(analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{eur}}, usd, analytics.RateTable{})
	var rateErr *analytics.RateError
	if !errors.As(err, &rateErr) || rateErr.Currency != "EUR" || rateErr.Day != day("2024-01-01") ||
		!errors.Is(err, analytics.ErrNoRate) || !strings.Contains(err.Error(), "EUR on 2024-01-01") {
		t.Errorf("missing rate: %v", err)
	}
	_, err = analytics.Compute(analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{eur}}, usd, nil)
	if !errors.As(err, &rateErr) {
		t.Errorf("no rates at all: %v", err)
	}
	bad := analytics.RateTable{}
	bad.Set("EUR", day("2024-01-01"), 0)
	if _, err = analytics.Compute(analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{eur}}, usd, bad); !errors.As(err, &rateErr) {
		t.Errorf("zero rate: %v", err)
	}
	// In a non-UTC account the rate day is the local day.
	tokyo := usd
	tokyo.Location = mustLoad(t, "Asia/Tokyo")
	eurLate := eur
	eurLate.ServicePeriodStart, eurLate.ServicePeriodEnd = at("2024-01-01 20:00"), at("2024-02-01 20:00")
	_, err = analytics.Compute(analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{eurLate}}, tokyo, analytics.RateTable{})
	if !errors.As(err, &rateErr) || rateErr.Day != day("2024-01-02") {
		t.Errorf("Tokyo rate day: %v", err)
	}

	mk := func(f func(*analytics.LineItem)) analytics.CustomerInput {
		it := item("S", planMonthly, at("2024-01-01"), at("2024-02-01"), 1000)
		f(&it)
		return analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{it}}
	}
	cases := []struct {
		name  string
		in    analytics.CustomerInput
		field string
	}{
		{"no service period", mk(func(it *analytics.LineItem) {
			it.ServicePeriodStart, it.ServicePeriodEnd = at("0001-01-01"), at("0001-01-01")
		}), "service_period"},
		{"no end", mk(func(it *analytics.LineItem) { it.ServicePeriodEnd = at("0001-01-01") }), "service_period"},
		{"end equals start", mk(func(it *analytics.LineItem) { it.ServicePeriodEnd = it.ServicePeriodStart }), "service_period_end"},
		{"end before start", mk(func(it *analytics.LineItem) { it.ServicePeriodEnd = at("2023-12-01") }), "service_period_end"},
		{"trial without period", mk(func(it *analytics.LineItem) {
			it.Type, it.ServicePeriodEnd = analytics.LineItemTrial, at("0001-01-01")
		}), "service_period"},
		{"no subscription id", mk(func(it *analytics.LineItem) { it.SubscriptionExternalID = "" }), "subscription_external_id"},
		{"bad interval", mk(func(it *analytics.LineItem) { it.Plan.IntervalUnit = "week" }), "plan.interval_unit"},
		{"zero interval count", mk(func(it *analytics.LineItem) { it.Plan.IntervalCount = 0 }), "plan.interval_count"},
		{"unknown type", mk(func(it *analytics.LineItem) { it.Type = "usage" }), "type"},
		{"unknown proration", mk(func(it *analytics.LineItem) { it.Prorated, it.ProrationType = true, "partial" }), "proration_type"},
		{"no currency", mk(func(it *analytics.LineItem) { it.Currency = "" }), "currency"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := analytics.Compute(tc.in, usd, nil)
			var inErr *analytics.InputError
			if !errors.As(err, &inErr) || inErr.Field != tc.field || inErr.LineItemID != tc.in.LineItems[0].ID {
				t.Errorf("got %v, want an InputError on %s of item %d", err, tc.field, tc.in.LineItems[0].ID)
			}
		})
	}
	// Mixed currencies at one instant of one subscription.
	a := item("S", planMonthly, at("2024-01-01"), at("2024-02-01"), 1000)
	b := item("S", planMonthly, at("2024-01-01"), at("2024-02-01"), 1000)
	b.Currency = "EUR"
	var inErr *analytics.InputError
	if _, err := analytics.Compute(analytics.CustomerInput{LineItems: []analytics.LineItem{a, b}}, usd, nil); !errors.As(err, &inErr) || inErr.Field != "currency" {
		t.Errorf("mixed currencies: %v", err)
	}
	if _, err := analytics.Compute(analytics.CustomerInput{}, analytics.Settings{}, nil); !errors.As(err, &inErr) {
		t.Errorf("missing base currency: %v", err)
	}
	// Negative non-prorated items are ignored with a warning.
	neg := mk(func(it *analytics.LineItem) { it.AmountInCents = -1000 })
	r := compute(t, neg, usd, nil)
	if len(r.Warnings) != 1 || len(r.Movements) != 0 {
		t.Errorf("negative item: warnings %v movements %v", r.Warnings, r.Movements)
	}
}

func TestSmartClassificationWindow(t *testing.T) {
	a := renewals("A", planGold, at("2024-01-10 10:00"), 1, 5000)
	b := renewals("B", planSilver, at("2024-01-10 11:01"), 1, 3000) // 61 minutes later
	in := analytics.CustomerInput{CustomerID: 1, LineItems: append(a, b...)}
	if r := compute(t, in, usd, nil); r.Movements[1].Type != analytics.Expansion {
		t.Errorf("61 minutes after: %s, want expansion", r.Movements[1].Type)
	}
	wide := usd
	wide.SmartClassificationWindow = 2 * time.Hour
	if r := compute(t, in, wide, nil); r.Movements[1].Type != analytics.NewBusiness {
		t.Errorf("inside a 2h window: %s, want new_biz", r.Movements[1].Type)
	}
	// Exactly at the window's end still counts.
	b[0].ServicePeriodStart = at("2024-01-10 11:00")
	in.LineItems = append(a, b...)
	if r := compute(t, in, usd, nil); r.Movements[1].Type != analytics.NewBusiness {
		t.Errorf("60 minutes after: %s, want new_biz", r.Movements[1].Type)
	}
}
