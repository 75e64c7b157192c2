package analytics_test

import (
	"reflect"
	"testing"

	"github.com/recurhq/recur/sandbox/analytics"
)

// The five worked examples of metrics.md §10, to the cent.

type monthWant struct {
	Month                                             string
	MRR, NewBiz, Expansion, Contraction, Churn, React int64
	Customers, ARPA, ASP, NewCustomers                int64
	CustomerChurn, NetMRRChurn, GrossMRRChurn         float64
}

func checkMonths(t *testing.T, res analytics.MetricsResult, want []monthWant, rates bool) {
	t.Helper()
	if len(res.Entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(res.Entries), len(want))
	}
	for i, w := range want {
		e := res.Entries[i]
		got := monthWant{
			Month: e.Date.String()[:7], MRR: e.Values.MRR,
			NewBiz: e.Breakdown.NewBusiness, Expansion: e.Breakdown.Expansion,
			Contraction: e.Breakdown.Contraction, Churn: e.Breakdown.Churn, React: e.Breakdown.Reactivation,
			Customers: e.Values.Customers, ARPA: e.Values.ARPA, ASP: e.Values.ASP, NewCustomers: e.Breakdown.NewCustomers,
		}
		if rates {
			got.CustomerChurn, got.NetMRRChurn, got.GrossMRRChurn = e.Values.CustomerChurnRate, e.Values.MRRChurnRate, e.Values.GrossMRRChurnRate
		}
		if got != w {
			t.Errorf("month %s:\n got %+v\nwant %+v", w.Month, got, w)
		}
	}
}

func TestExample1Normalisation(t *testing.T) {
	setup := item("S1", planYearly, at("2024-01-01"), at("2025-01-01"), 132000)
	setup.TaxAmountInCents, setup.DiscountAmountInCents = 12000, 24000
	oneTime := analytics.LineItem{ID: 9001, InvoiceID: setup.InvoiceID, Type: analytics.LineItemOneTime, AmountInCents: 50000, Currency: "USD"}
	c1 := analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{setup, oneTime}}
	c2 := analytics.CustomerInput{CustomerID: 2, LineItems: renewals("S2", planWeekly, at("2024-01-08"), 8, 1000)}
	c3 := analytics.CustomerInput{CustomerID: 3, LineItems: renewals("S3", planQuarterly, at("2024-02-01"), 1, 30000)}
	c4 := analytics.CustomerInput{CustomerID: 4, LineItems: renewals("S4", planDaily, at("2024-02-10"), 20, 100)}

	s := usd
	s.AsOf = at("2024-02-29 12:00")
	agg, results := aggregate(t, s, nil, c1, c2, c3, c4)
	for id, want := range map[int64]int64{1: 10000, 2: 4348, 3: 10000, 4: 3044} {
		if got := results[id].MRRInCents; got != want {
			t.Errorf("customer %d MRR %d, want %d", id, got, want)
		}
		if got := results[id].Status; got != analytics.StatusActive {
			t.Errorf("customer %d status %s, want Active", id, got)
		}
	}
	res := metrics(t, agg, monthly("2024-01-01", "2024-02-29"))
	checkMonths(t, res, []monthWant{
		{Month: "2024-01", MRR: 14348, NewBiz: 14348, Customers: 2, ARPA: 7174, ASP: 7174, NewCustomers: 2},
		{Month: "2024-02", MRR: 27392, NewBiz: 13044, Customers: 4, ARPA: 6848, ASP: 6522, NewCustomers: 2},
	}, false)
	if arr := []int64{res.Entries[0].Values.ARR, res.Entries[1].Values.ARR}; arr[0] != 172176 || arr[1] != 328704 {
		t.Errorf("ARR %v, want [172176 328704]", arr)
	}

	// A non-prorated item's service period length is ignored: a 7-day
	// plan billed over 31 days is still 4348 (OBS).
	long := item("S", planWeekly, at("2016-01-01 12:00"), at("2016-02-01 12:00"), 1000)
	long.Quantity = 5
	r := compute(t, analytics.CustomerInput{CustomerID: 5, LineItems: []analytics.LineItem{long}}, usd, nil)
	if r.MRRInCents != 4348 || r.Subscriptions[0].Quantity != 5 {
		t.Errorf("31-day period of a 7-day plan: MRR %d qty %d, want 4348 qty 5", r.MRRInCents, r.Subscriptions[0].Quantity)
	}
	// A customer with only one-time items stays a lead.
	lead := compute(t, analytics.CustomerInput{CustomerID: 6, LineItems: []analytics.LineItem{oneTime}}, usd, nil)
	if lead.Status != analytics.StatusLead || len(lead.Movements) != 0 || len(lead.Subscriptions) != 0 {
		t.Errorf("one-time only customer: %+v", lead)
	}
}

func TestExample2Proration(t *testing.T) {
	seat := item("S1", planMonthly, at("2024-03-16"), at("2024-04-01"), 2500)
	seat.Prorated, seat.ProrationType = true, analytics.ProrationDifferential
	renewal := item("S1", planMonthly, at("2024-04-01"), at("2024-05-01"), 10000)
	renewal.Quantity = 2
	items := append(renewals("S1", planMonthly, at("2024-01-01"), 3, 5000), seat, renewal)
	c := analytics.CustomerInput{CustomerID: 1, LineItems: items}
	agg, results := aggregate(t, usd, nil, c)
	res := results[1]
	wantMoves := []movementRow{
		{"2024-01-01 00:00", analytics.NewBusiness, 5000},
		{"2024-03-16 00:00", analytics.Expansion, 4844},
		{"2024-04-01 00:00", analytics.Expansion, 156},
	}
	if got := movementRows(res.Movements); !reflect.DeepEqual(got, wantMoves) {
		t.Errorf("movements\n got %v\nwant %v", got, wantMoves)
	}
	if q := res.Subscriptions[0].Quantity; q != 2 {
		t.Errorf("quantity %d, want 2", q)
	}
	m := metrics(t, agg, monthly("2024-01-01", "2024-04-30"))
	for i, want := range []int64{5000, 5000, 9844, 10000} {
		if got := m.Entries[i].Values.MRR; got != want {
			t.Errorf("%s MRR %d, want %d", m.Entries[i].Date, got, want)
		}
	}
	// The seat was added mid-March: the MRR interval changes then.
	var mar *analytics.MRRInterval
	for i := range res.MRRIntervals {
		if res.MRRIntervals[i].Start.Equal(at("2024-03-16")) {
			mar = &res.MRRIntervals[i]
		}
	}
	if mar == nil || mar.MRRInCents != 9844 || mar.Quantity != 2 || !mar.End.Equal(at("2024-04-01")) {
		t.Errorf("interval from 2024-03-16: %+v", mar)
	}
}

func TestExample2bCleanNumbers(t *testing.T) {
	base := item("S1", planMonthly, at("2024-04-01"), at("2024-05-01"), 5000)
	base.Quantity = 5
	add := item("S1", planMonthly, at("2024-04-16"), at("2024-05-01"), 1500)
	add.Prorated, add.ProrationType, add.Quantity = true, analytics.ProrationDifferential, 3
	renew := item("S1", planMonthly, at("2024-05-01"), at("2024-06-01"), 8000)
	renew.Quantity = 8
	res := compute(t, analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{renew, add, base}}, usd, nil)
	want := []movementRow{
		{"2024-04-01 00:00", analytics.NewBusiness, 5000},
		{"2024-04-16 00:00", analytics.Expansion, 3000},
	}
	if got := movementRows(res.Movements); !reflect.DeepEqual(got, want) {
		t.Errorf("movements\n got %v\nwant %v", got, want)
	}
	if res.MRRInCents != 8000 || res.Subscriptions[0].Quantity != 8 {
		t.Errorf("MRR %d qty %d, want 8000 qty 8", res.MRRInCents, res.Subscriptions[0].Quantity)
	}
}

func TestExample2cPlanSwitchWithCredit(t *testing.T) {
	bronze := item("S1", planBronze, at("2024-04-01"), at("2024-05-01"), 10000)
	gold := item("S1", planGold, at("2024-04-16"), at("2024-05-01"), 12500)
	gold.Prorated, gold.ProrationType = true, analytics.ProrationDifferential
	credit := item("S1", planBronze, at("2024-04-16"), at("2024-05-01"), -5000)
	credit.Prorated, credit.ProrationType = true, analytics.ProrationDifferential
	s := usd
	s.AsOf = at("2024-04-20")
	res := compute(t, analytics.CustomerInput{CustomerID: 1, LineItems: []analytics.LineItem{credit, gold, bronze}}, s, nil)
	want := []movementRow{
		{"2024-04-01 00:00", analytics.NewBusiness, 10000},
		{"2024-04-16 00:00", analytics.Expansion, 15000},
	}
	if got := movementRows(res.Movements); !reflect.DeepEqual(got, want) {
		t.Errorf("movements\n got %v\nwant %v", got, want)
	}
	sub := res.Subscriptions[0]
	if res.MRRInCents != 25000 || sub.Plan.ID != planGold.ID || sub.Quantity != 1 {
		t.Errorf("after switch: MRR %d plan %d qty %d, want 25000 gold 1", res.MRRInCents, sub.Plan.ID, sub.Quantity)
	}
	if m := res.Movements[1]; m.PreviousPlanID != planBronze.ID || m.PlanID != planGold.ID {
		t.Errorf("switch movement plans %d → %d", m.PreviousPlanID, m.PlanID)
	}
}

// example3 builds the customers of Example 3. B pre-exists; A and C follow
// the event table.
func example3() []analytics.CustomerInput {
	b := renewals("S_B1", planMonthly, at("2023-12-01"), 2, 10000)
	b = append(b, renewals("S_B1", planMonthly, at("2024-02-01"), 5, 15000)...)
	a1 := renewals("S_A1", planGold, at("2024-01-10 10:00"), 3, 5000)
	a2 := renewals("S_A2", planSilver, at("2024-01-10 10:30"), 3, 3000)
	a3 := renewals("S_A3", planGold, at("2024-06-01"), 1, 5000)
	a := append(append(a1, a2...), a3...)
	c := renewals("S_C1", planMonthly, at("2024-03-05"), 1, 2000)
	return []analytics.CustomerInput{
		{CustomerID: 1, Country: "de", LineItems: a, Cancellations: []analytics.Cancellation{
			{SubscriptionExternalID: "S_A2", CancelledAt: at("2024-03-20")},
			{SubscriptionExternalID: "S_A1", CancelledAt: at("2024-04-05")},
		}},
		{CustomerID: 2, Country: "US", LineItems: b},
		{CustomerID: 3, Country: "US", LineItems: c, Cancellations: []analytics.Cancellation{
			{SubscriptionExternalID: "S_C1", CancelledAt: at("2024-03-25")},
		}},
	}
}

func TestExample3Lifecycle(t *testing.T) {
	agg, results := aggregate(t, usd, nil, example3()...)
	wantA := []movementRow{
		{"2024-01-10 10:00", analytics.NewBusiness, 5000},
		{"2024-01-10 10:30", analytics.NewBusiness, 3000},
		{"2024-03-20 00:00", analytics.Contraction, -3000},
		{"2024-04-05 00:00", analytics.Churn, -5000},
		{"2024-06-01 00:00", analytics.Reactivation, 5000},
	}
	if got := movementRows(results[1].Movements); !reflect.DeepEqual(got, wantA) {
		t.Errorf("customer A\n got %v\nwant %v", got, wantA)
	}
	if got := movementRows(results[2].Movements); !reflect.DeepEqual(got, []movementRow{
		{"2023-12-01 00:00", analytics.NewBusiness, 10000}, {"2024-02-01 00:00", analytics.Expansion, 5000},
	}) {
		t.Errorf("customer B: %v", got)
	}
	if got := movementRows(results[3].Movements); !reflect.DeepEqual(got, []movementRow{
		{"2024-03-05 00:00", analytics.NewBusiness, 2000}, {"2024-03-25 00:00", analytics.Churn, -2000},
	}) {
		t.Errorf("customer C: %v", got)
	}

	res := metrics(t, agg, monthly("2024-01-01", "2024-06-30"))
	checkMonths(t, res, []monthWant{
		{"2024-01", 18000, 8000, 0, 0, 0, 0, 2, 9000, 8000, 1, 0, 0, 0},
		{"2024-02", 23000, 0, 5000, 0, 0, 0, 2, 11500, 0, 0, 0, -27.78, 0},
		{"2024-03", 20000, 2000, 0, -3000, -2000, 0, 2, 10000, 2000, 1, 0, 21.74, 21.74},
		{"2024-04", 15000, 0, 0, 0, -5000, 0, 1, 15000, 0, 0, 50, 25, 25},
		{"2024-05", 15000, 0, 0, 0, 0, 0, 1, 15000, 0, 0, 0, 0, 0},
		{"2024-06", 20000, 0, 0, 0, 0, 5000, 2, 10000, 0, 0, 0, -33.33, 0},
	}, true)
	if first := res.Entries[0].Breakdown; first.StartMRR != 10000 || first.StartCustomers != 1 {
		t.Errorf("January starts with MRR %d, %d customers; want 10000, 1", first.StartMRR, first.StartCustomers)
	}
	if got := res.Entries[3].Values.LTV; got != 30000 {
		t.Errorf("April LTV (same interval) %d, want 30000", got)
	}

	// Six-month trailing LTV: June uses Dec–May rates (0,0,0,0,50,0).
	q := monthly("2024-06-01", "2024-06-30")
	q.LTVChurnWindow = 6
	if got := metrics(t, agg, q).Entries[0].Values.LTV; got != 120000 {
		t.Errorf("June LTV (6-month trailing) %d, want 120000", got)
	}

	// Without Smart Activity Classification A's second purchase is expansion.
	noSAC := usd
	noSAC.DisableSmartClassification = true
	r := compute(t, example3()[0], noSAC, nil)
	if r.Movements[1].Type != analytics.Expansion {
		t.Errorf("without SAC second purchase is %s, want expansion", r.Movements[1].Type)
	}

	// Geo filter: only customer A is in DE.
	qGeo := monthly("2024-01-01", "2024-06-30")
	qGeo.Countries = []string{"DE"}
	geo := metrics(t, agg, qGeo)
	if got := geo.Entries[0].Values.MRR; got != 8000 {
		t.Errorf("DE January MRR %d, want 8000", got)
	}
	if got := geo.Entries[3].Values.CustomerChurnRate; got != 100 {
		t.Errorf("DE April churn rate %v, want 100", got)
	}
}

func TestExample3ChurnAtPeriodEnd(t *testing.T) {
	s := usd
	s.ChurnRecognition = analytics.ChurnAtPeriodEnd
	agg, results := aggregate(t, s, nil, example3()...)
	wantA := []movementRow{
		{"2024-01-10 10:00", analytics.NewBusiness, 5000},
		{"2024-01-10 10:30", analytics.NewBusiness, 3000},
		{"2024-04-10 10:00", analytics.Churn, -5000}, // contraction relabelled by SAC
		{"2024-04-10 10:30", analytics.Churn, -3000},
		{"2024-06-01 00:00", analytics.Reactivation, 5000},
	}
	if got := movementRows(results[1].Movements); !reflect.DeepEqual(got, wantA) {
		t.Errorf("customer A\n got %v\nwant %v", got, wantA)
	}
	res := metrics(t, agg, monthly("2024-03-01", "2024-04-30"))
	mar, apr := res.Entries[0].Breakdown, res.Entries[1].Breakdown
	if mar.Contraction != 0 || apr.Churn != -8000-2000 {
		t.Errorf("March contraction %d (want 0), April churn %d (want -10000: A's -8000 and C's -2000)", mar.Contraction, apr.Churn)
	}
}

func TestExample4AnnualCancellationRefund(t *testing.T) {
	annual := item("S5", planYearly, at("2024-01-15"), at("2025-01-15"), 120000)
	refund := analytics.Transaction{InvoiceID: annual.InvoiceID, Type: analytics.TransactionRefund,
		Result: analytics.TransactionSuccessful, Date: at("2024-06-10")}
	pay := analytics.Transaction{InvoiceID: annual.InvoiceID, Type: analytics.TransactionPayment,
		Result: analytics.TransactionSuccessful, Date: at("2024-01-15")}
	cancelled := annual
	cancelled.CancelledAt = ptr(at("2024-06-10"))
	in := analytics.CustomerInput{CustomerID: 5, LineItems: []analytics.LineItem{cancelled},
		Transactions: []analytics.Transaction{pay, refund}}

	months := func(t *testing.T, s analytics.Settings) []int64 {
		agg, _ := aggregate(t, s, nil, in)
		var out []int64
		for _, e := range metrics(t, agg, monthly("2024-01-01", "2025-02-28")).Entries {
			out = append(out, e.Values.MRR)
		}
		return out
	}
	t.Run("AtCancellation", func(t *testing.T) {
		r := compute(t, in, usd, nil)
		if got := movementRows(r.Movements); !reflect.DeepEqual(got, []movementRow{
			{"2024-01-15 00:00", analytics.NewBusiness, 10000}, {"2024-06-10 00:00", analytics.Churn, -10000},
		}) {
			t.Errorf("movements %v", got)
		}
		want := []int64{10000, 10000, 10000, 10000, 10000, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		if got := months(t, usd); !reflect.DeepEqual(got, want) {
			t.Errorf("month-end MRR %v, want %v", got, want)
		}
		if r.Status != analytics.StatusCancelled || r.Subscriptions[0].Status != analytics.SubscriptionCancelled ||
			r.Subscriptions[0].MRRInCents != 10000 || !r.Subscriptions[0].EndsAt.Equal(at("2024-06-10")) ||
			len(r.Subscriptions[0].CancellationDates) != 1 || !r.Subscriptions[0].CancelledAt.Equal(at("2024-06-10")) {
			t.Errorf("status %s, subscription %+v", r.Status, r.Subscriptions[0])
		}
	})
	t.Run("AtPeriodEnd", func(t *testing.T) {
		s := usd
		s.ChurnRecognition = analytics.ChurnAtPeriodEnd
		r := compute(t, in, s, nil)
		if got := movementRows(r.Movements); !reflect.DeepEqual(got, []movementRow{
			{"2024-01-15 00:00", analytics.NewBusiness, 10000}, {"2025-01-15 00:00", analytics.Churn, -10000},
		}) {
			t.Errorf("movements %v", got)
		}
		want := []int64{10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 0, 0}
		if got := months(t, s); !reflect.DeepEqual(got, want) {
			t.Errorf("month-end MRR %v, want %v", got, want)
		}
	})
	t.Run("NeverCancelledIsPastDue", func(t *testing.T) {
		s := usd
		s.AsOf = at("2025-03-01")
		r := compute(t, analytics.CustomerInput{CustomerID: 5, LineItems: []analytics.LineItem{annual},
			Transactions: []analytics.Transaction{pay, refund}}, s, nil)
		if r.MRRInCents != 10000 || r.Status != analytics.StatusPastDue || r.Subscriptions[0].Status != analytics.SubscriptionPastDue {
			t.Errorf("MRR %d status %s / %s, want 10000 Past Due", r.MRRInCents, r.Status, r.Subscriptions[0].Status)
		}
		s.AsOf = at("2024-12-01")
		if r := compute(t, analytics.CustomerInput{CustomerID: 5, LineItems: []analytics.LineItem{annual}}, s, nil); r.Status != analytics.StatusActive {
			t.Errorf("inside the paid year status %s, want Active", r.Status)
		}
	})
}

func TestExample5ForeignCurrency(t *testing.T) {
	rates := analytics.RateTable{}
	for d, r := range map[string]float64{"2024-01-01": 1.10, "2024-02-01": 1.08, "2024-03-01": 1.09, "2024-04-01": 1.07} {
		rates.Set("EUR", day(d), r)
	}
	items := renewals("S6", planMonthly, at("2024-01-01"), 3, 10000)
	items = append(items, renewals("S6", planMonthly, at("2024-04-01"), 1, 20000)...)
	for i := range items {
		items[i].Currency = "EUR"
	}
	in := analytics.CustomerInput{CustomerID: 6, LineItems: items}
	agg, results := aggregate(t, usd, rates, in)
	res := metrics(t, agg, monthly("2024-01-01", "2024-04-30"))
	type row struct{ MRR, NewBiz, Expansion, FX int64 }
	want := []row{{11000, 11000, 0, 0}, {10800, 0, 0, -200}, {10900, 0, 0, 100}, {21400, 0, 10700, -200}}
	for i, w := range want {
		e := res.Entries[i]
		if got := (row{e.Values.MRR, e.Breakdown.NewBusiness, e.Breakdown.Expansion, e.Breakdown.FXImpact}); got != w {
			t.Errorf("%s: got %+v want %+v", e.Date, got, w)
		}
	}
	if m := results[6].Movements[1]; m.AmountInInvoiceCurrency != 10000 || m.Currency != "EUR" {
		t.Errorf("April movement in invoice currency: %d %s", m.AmountInInvoiceCurrency, m.Currency)
	}

	// The alternative split books the whole April change as expansion.
	s := usd
	s.FXSplit = analytics.FXAllMovement
	agg, _ = aggregate(t, s, rates, in)
	apr := metrics(t, agg, monthly("2024-04-01", "2024-04-30")).Entries[0]
	if apr.Breakdown.Expansion != 10500 || apr.Breakdown.FXImpact != 0 || apr.Values.MRR != 21400 {
		t.Errorf("FXAllMovement April: %+v MRR %d", apr.Breakdown, apr.Values.MRR)
	}
}
