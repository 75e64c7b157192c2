package analytics_test

import (
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/analytics"
)

// Plans used by the worked examples of metrics.md §10.
var (
	planMonthly   = analytics.Plan{ID: 1, ExternalID: "P_M", IntervalCount: 1, IntervalUnit: analytics.UnitMonth}
	planQuarterly = analytics.Plan{ID: 2, ExternalID: "P_Q", IntervalCount: 3, IntervalUnit: analytics.UnitMonth}
	planYearly    = analytics.Plan{ID: 3, ExternalID: "P_Y", IntervalCount: 1, IntervalUnit: analytics.UnitYear}
	planWeekly    = analytics.Plan{ID: 4, ExternalID: "P_W", IntervalCount: 7, IntervalUnit: analytics.UnitDay}
	planDaily     = analytics.Plan{ID: 5, ExternalID: "P_D", IntervalCount: 1, IntervalUnit: analytics.UnitDay}
	planGold      = analytics.Plan{ID: 6, ExternalID: "gold", IntervalCount: 1, IntervalUnit: analytics.UnitMonth}
	planSilver    = analytics.Plan{ID: 7, ExternalID: "silver", IntervalCount: 1, IntervalUnit: analytics.UnitMonth}
	planBronze    = analytics.Plan{ID: 8, ExternalID: "bronze", IntervalCount: 1, IntervalUnit: analytics.UnitMonth}
)

var usd = analytics.Settings{BaseCurrency: "USD"}

// at parses "2006-01-02" or "2006-01-02 15:04" as UTC.
func at(s string) time.Time {
	layout := time.DateOnly
	if len(s) > len(layout) {
		layout = "2006-01-02 15:04"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func day(s string) analytics.Day {
	d, err := analytics.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// itemIDs hands out unique line item ids.
var itemIDs int64

// item returns a non-prorated USD subscription line item.
func item(sub string, plan analytics.Plan, start, end time.Time, amount int64) analytics.LineItem {
	itemIDs++
	return analytics.LineItem{
		ID: itemIDs, InvoiceID: itemIDs, InvoiceDate: start, Currency: "USD",
		Type: analytics.LineItemSubscription, SubscriptionExternalID: sub, Plan: plan,
		ServicePeriodStart: start, ServicePeriodEnd: end, AmountInCents: amount, Quantity: 1,
		CreatedSeq: itemIDs,
	}
}

// renewals returns n consecutive billing periods of plan starting at start.
func renewals(sub string, plan analytics.Plan, start time.Time, n int, amount int64) []analytics.LineItem {
	var out []analytics.LineItem
	for k := 0; k < n; k++ {
		s := step(start, plan, k)
		out = append(out, item(sub, plan, s, step(start, plan, k+1), amount))
	}
	return out
}

// step moves t by k plan intervals (calendar months for month/year plans).
func step(t time.Time, p analytics.Plan, k int) time.Time {
	switch p.IntervalUnit {
	case analytics.UnitDay:
		return t.AddDate(0, 0, k*p.IntervalCount)
	case analytics.UnitMonth:
		return t.AddDate(0, k*p.IntervalCount, 0)
	default:
		return t.AddDate(k*p.IntervalCount, 0, 0)
	}
}

// compute runs Compute and fails the test on error.
func compute(t testing.TB, in analytics.CustomerInput, s analytics.Settings, r analytics.Rates) analytics.CustomerResult {
	t.Helper()
	res, err := analytics.Compute(in, s, r)
	if err != nil {
		t.Fatalf("Compute(customer %d): %v", in.CustomerID, err)
	}
	checkCustomer(t, res)
	return res
}

// checkCustomer asserts the per-customer identities: movements plus FX
// adjustments add up to the MRR timeline, activity-mrr is the running
// total, and the contribution's flows carry the same amounts.
func checkCustomer(t testing.TB, res analytics.CustomerResult) {
	t.Helper()
	var total int64
	mi, fi := 0, 0
	for mi < len(res.Movements) || fi < len(res.FXAdjustments) {
		// FX re-valuation at an instant applies before that instant's movements.
		if fi < len(res.FXAdjustments) && (mi == len(res.Movements) || !res.FXAdjustments[fi].At.After(res.Movements[mi].At)) {
			total += res.FXAdjustments[fi].AmountInCents
			fi++
			continue
		}
		m := res.Movements[mi]
		total += m.AmountInCents
		if m.CustomerMRRInCents != total {
			t.Errorf("customer %d movement %d at %s: activity-mrr %d, running total %d", res.CustomerID, mi, m.At, m.CustomerMRRInCents, total)
		}
		if m.AmountInCents == 0 {
			t.Errorf("customer %d: zero movement at %s", res.CustomerID, m.At)
		}
		mi++
	}
	// The timeline's final MRR equals the sum of all movements and FX.
	var final int64
	for _, iv := range res.MRRIntervals {
		if iv.End.IsZero() {
			final += iv.MRRInCents
		}
	}
	if final != total {
		t.Errorf("customer %d: open intervals sum to %d, movements+FX to %d", res.CustomerID, final, total)
	}
	var flows int64
	for _, f := range res.Contribution.Flows {
		flows += f.AmountInCents
	}
	if flows != total {
		t.Errorf("customer %d: contribution flows sum to %d, want %d", res.CustomerID, flows, total)
	}
	var planTotal int64
	for _, f := range res.Contribution.PlanFlows {
		planTotal += f.AmountInCents
	}
	for _, s := range res.Contribution.PlanSwitches {
		planTotal += s.ToMRRInCents - s.FromMRRInCents
	}
	if planTotal != total {
		t.Errorf("customer %d: plan flows sum to %d, want %d", res.CustomerID, planTotal, total)
	}
}

// aggregate computes the customers and builds an Aggregate.
func aggregate(t testing.TB, s analytics.Settings, r analytics.Rates, customers ...analytics.CustomerInput) (*analytics.Aggregate, map[int64]analytics.CustomerResult) {
	t.Helper()
	agg := analytics.NewAggregate()
	results := make(map[int64]analytics.CustomerResult)
	for _, in := range customers {
		res := compute(t, in, s, r)
		results[in.CustomerID] = res
		agg.Set(res.Contribution)
	}
	return agg, results
}

// metrics runs a query and asserts the MRR identity on every entry.
func metrics(t testing.TB, agg *analytics.Aggregate, q analytics.MetricsQuery) analytics.MetricsResult {
	t.Helper()
	res, err := agg.Metrics(q)
	if err != nil {
		t.Fatalf("Metrics(%+v): %v", q, err)
	}
	checkIdentity(t, res)
	return res
}

// checkIdentity asserts MRR(end) = MRR(start) + new + expansion +
// reactivation + contraction + churn + FX (+ segment entering/leaving),
// with contraction and churn negative, and that intervals chain.
func checkIdentity(t testing.TB, res analytics.MetricsResult) {
	t.Helper()
	for i, e := range res.Entries {
		b := e.Breakdown
		want := b.StartMRR + b.NewBusiness + b.Expansion + b.Contraction + b.Churn + b.Reactivation +
			b.FXImpact + b.EnteringSegment + b.LeavingSegment
		if e.Values.MRR != want {
			t.Errorf("entry %s: MRR %d, identity gives %d (%+v)", e.Date, e.Values.MRR, want, b)
		}
		if b.Contraction > 0 || b.Churn > 0 || b.LeavingSegment > 0 || b.NewBusiness < 0 || b.Expansion < 0 || b.Reactivation < 0 || b.EnteringSegment < 0 {
			t.Errorf("entry %s: breakdown signs wrong: %+v", e.Date, b)
		}
		if i > 0 && b.StartMRR != res.Entries[i-1].Values.MRR {
			t.Errorf("entry %s: start MRR %d, previous entry ended at %d", e.Date, b.StartMRR, res.Entries[i-1].Values.MRR)
		}
		if i > 0 && b.StartCustomers != res.Entries[i-1].Values.Customers {
			t.Errorf("entry %s: start customers %d, previous entry ended with %d", e.Date, b.StartCustomers, res.Entries[i-1].Values.Customers)
		}
		if e.Values.ARR != 12*e.Values.MRR {
			t.Errorf("entry %s: ARR %d != 12 × MRR %d", e.Date, e.Values.ARR, e.Values.MRR)
		}
	}
}

// monthly is a monthly query over [from, to].
func monthly(from, to string) analytics.MetricsQuery {
	return analytics.MetricsQuery{Start: day(from), End: day(to), Interval: analytics.IntervalMonth}
}

type movementRow struct {
	At     string
	Type   analytics.MovementType
	Amount int64
}

func movementRows(ms []analytics.Movement) []movementRow {
	var out []movementRow
	for _, m := range ms {
		layout := "2006-01-02 15:04"
		out = append(out, movementRow{m.At.UTC().Format(layout), m.Type, m.AmountInCents})
	}
	return out
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s: %v", name, err)
	}
	return loc
}
