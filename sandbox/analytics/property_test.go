package analytics_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/analytics"
)

// propertyPlans is the plan pool of the random histories. Plans 1, 6, 7 and
// 8 share the monthly interval, so a subscription may switch among them.
var propertyPlans = []analytics.Plan{
	planMonthly, planQuarterly, planYearly, planWeekly, planDaily, planGold, planSilver, planBronze,
	{ID: 9, IntervalCount: 6, IntervalUnit: analytics.UnitMonth},
	{ID: 10, IntervalCount: 2, IntervalUnit: analytics.UnitYear},
	{ID: 11, IntervalCount: 14, IntervalUnit: analytics.UnitDay},
}

var monthlyPlans = []analytics.Plan{planMonthly, planGold, planSilver, planBronze}

// randomRates is a random walk of EUR and GBP rates over the years the
// histories cover.
func randomRates(r *rand.Rand) analytics.RateTable {
	rates := analytics.RateTable{}
	for cur, v := range map[string]float64{"EUR": 1.1, "GBP": 1.3} {
		for d := day("2019-01-01"); d <= day("2036-12-31"); d++ {
			v *= 1 + (r.Float64()-0.5)*0.01
			rates.Set(cur, d, v)
		}
	}
	return rates
}

// historyGen generates random valid customer histories.
type historyGen struct {
	r   *rand.Rand
	ids int64
}

func (g *historyGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *historyGen) customer(id int64) analytics.CustomerInput {
	r := g.r
	in := analytics.CustomerInput{CustomerID: id, Country: []string{"US", "DE", "fr", ""}[r.IntN(4)]}
	nsubs := 1 + r.IntN(4)
	base := at("2020-01-01").Add(time.Duration(r.IntN(1200*24)) * time.Hour).Add(time.Duration(r.IntN(4)) * 15 * time.Minute)
	together := g.chance(0.3) // subscriptions bought at (nearly) the same time
	var prevDS int64
	for k := 0; k < nsubs; k++ {
		start := base
		if !together {
			start = base.Add(time.Duration(r.IntN(700*24)) * time.Hour)
		} else if g.chance(0.5) {
			start = base.Add(time.Duration(r.IntN(90)) * time.Minute)
		}
		set := ""
		if g.chance(0.3) {
			set = "SET"
		}
		if k > 0 && g.chance(0.2) {
			// Replace the previous subscription within the set at the
			// instant the new one starts.
			set = "SET"
			in.Cancellations = append(in.Cancellations, analytics.Cancellation{DataSourceID: prevDS,
				SubscriptionExternalID: fmt.Sprintf("S%d", k-1), CancelledAt: start})
			for i := range in.LineItems {
				if in.LineItems[i].SubscriptionExternalID == fmt.Sprintf("S%d", k-1) {
					in.LineItems[i].SubscriptionSetExternalID = set
				}
			}
		}
		prevDS = g.subscription(&in, k, start, set)
	}
	return in
}

func (g *historyGen) subscription(in *analytics.CustomerInput, k int, start time.Time, set string) (ds int64) {
	r := g.r
	sub := fmt.Sprintf("S%d", k)
	ds = int64(r.IntN(2))
	plan := propertyPlans[r.IntN(len(propertyPlans))]
	periods := 1 + r.IntN(24)
	switch {
	case plan.IntervalUnit == analytics.UnitYear:
		periods = 1 + r.IntN(4)
	case plan.IntervalUnit == analytics.UnitDay && plan.IntervalCount == 1:
		periods = 1 + r.IntN(40)
	}
	currency := []string{"USD", "USD", "USD", "EUR", "GBP"}[r.IntN(5)]
	switchable := g.chance(0.1) // may change currency; then no excluded invoice statuses
	amount := int64(r.IntN(20000))
	if g.chance(0.1) {
		amount = 0
	}
	var items []analytics.LineItem
	add := func(it analytics.LineItem) {
		g.ids++
		it.ID, it.InvoiceID, it.CreatedSeq = g.ids, g.ids, int64(r.IntN(1000))
		it.DataSourceID, it.SubscriptionExternalID, it.SubscriptionSetExternalID = ds, sub, set
		it.InvoiceDate = it.ServicePeriodStart
		if it.Quantity == 0 {
			it.Quantity = int64(1 + r.IntN(5))
		}
		if g.chance(0.2) {
			it.EventOrder = ptr(int64(r.IntN(3)))
		}
		if !switchable {
			switch x := r.Float64(); {
			case x < 0.04:
				it.InvoiceStatus = analytics.InvoiceVoided
			case x < 0.07:
				it.InvoiceStatus = analytics.InvoiceWrittenOff
			case x < 0.10:
				it.InvoiceStatus = analytics.InvoiceRefunded
			}
		}
		switch x := r.Float64(); {
		case x < 0.8:
			in.Transactions = append(in.Transactions, analytics.Transaction{InvoiceID: it.InvoiceID,
				Type: analytics.TransactionPayment, Result: analytics.TransactionSuccessful, Date: it.ServicePeriodStart})
		case x < 0.9:
			in.Transactions = append(in.Transactions, analytics.Transaction{InvoiceID: it.InvoiceID,
				Type: analytics.TransactionPayment, Result: analytics.TransactionFailed, Date: it.ServicePeriodStart.Add(time.Hour)})
		}
		items = append(items, it)
	}
	for p := 0; p < periods; p++ {
		ps, pe := step(start, plan, p), step(start, plan, p+1)
		if p > 0 && g.chance(0.08) {
			continue // a gap in billing
		}
		if g.chance(0.15) {
			amount = int64(r.IntN(20000))
		}
		if plan.IntervalUnit == analytics.UnitMonth && plan.IntervalCount == 1 && g.chance(0.08) {
			plan = monthlyPlans[r.IntN(len(monthlyPlans))]
		}
		if switchable && p > 0 && g.chance(0.2) {
			currency = []string{"USD", "EUR", "GBP"}[r.IntN(3)]
		}
		it := analytics.LineItem{Type: analytics.LineItemSubscription, Currency: currency, Plan: plan,
			ServicePeriodStart: ps, ServicePeriodEnd: pe, AmountInCents: amount}
		if amount > 0 && g.chance(0.2) {
			it.TaxAmountInCents = int64(r.IntN(int(amount/10) + 1))
			it.AmountInCents += it.TaxAmountInCents
		}
		if p == 0 && g.chance(0.1) {
			it.Type = analytics.LineItemTrial
		}
		add(it)

		mid := ps.Add(time.Duration(r.Int64N(int64(pe.Sub(ps)))))
		mid = mid.Truncate(time.Minute)
		if !mid.After(ps) {
			continue
		}
		switch x := r.Float64(); {
		case x < 0.10: // seats added or removed for the rest of the period
			d := int64(r.IntN(6000)) - 2000
			add(analytics.LineItem{Type: analytics.LineItemSubscription, Currency: currency, Plan: plan,
				ServicePeriodStart: mid, ServicePeriodEnd: pe, AmountInCents: d,
				Prorated: true, ProrationType: analytics.ProrationDifferential, Quantity: int64(1 + r.IntN(2))})
		case x < 0.13:
			add(analytics.LineItem{Type: analytics.LineItemSubscription, Currency: currency, Plan: plan,
				ServicePeriodStart: mid, ServicePeriodEnd: pe, AmountInCents: int64(r.IntN(9000)),
				Prorated: true, ProrationType: []string{"", analytics.ProrationFull}[r.IntN(2)]})
		case x < 0.16:
			add(analytics.LineItem{Type: analytics.LineItemSubscription, Currency: currency, Plan: plan,
				ServicePeriodStart: mid, ServicePeriodEnd: pe, AmountInCents: int64(r.IntN(3000)) - 1000,
				Prorated: true, ProrationType: analytics.ProrationDifferentialMRR})
		case x < 0.19: // an overlapping full-price item
			add(analytics.LineItem{Type: analytics.LineItemSubscription, Currency: currency, Plan: plan,
				ServicePeriodStart: mid, ServicePeriodEnd: step(mid, plan, 1), AmountInCents: int64(r.IntN(20000))})
		case x < 0.21:
			in.LineItems = append(in.LineItems, analytics.LineItem{ID: g.ids + 100000, Type: analytics.LineItemOneTime,
				AmountInCents: 999, Currency: currency})
		}
	}
	if len(items) == 0 {
		return ds
	}
	first, last := items[0].ServicePeriodStart, items[len(items)-1].ServicePeriodEnd
	span := last.Sub(first)
	randomTime := func() time.Time {
		return first.Add(time.Duration(r.Int64N(int64(span) + int64(48*time.Hour)))).Truncate(time.Hour)
	}
	if g.chance(0.35) {
		i := r.IntN(len(items))
		c := items[i].ServicePeriodStart
		if g.chance(0.7) {
			c = randomTime()
		}
		items[i].CancelledAt = &c
	}
	if g.chance(0.2) {
		in.Cancellations = append(in.Cancellations, analytics.Cancellation{DataSourceID: ds, SubscriptionExternalID: sub, CancelledAt: randomTime()})
	}
	if g.chance(0.15) {
		g.ids++
		ev := analytics.SubscriptionEvent{ID: g.ids, ExternalID: fmt.Sprintf("ev%d", g.ids), EventType: analytics.EventSubscriptionCancelled,
			DataSourceID: ds, SubscriptionExternalID: sub, EffectiveDate: randomTime()}
		in.Events = append(in.Events, ev)
		if g.chance(0.3) {
			in.Events = append(in.Events, analytics.SubscriptionEvent{ID: g.ids + 1, EventType: analytics.EventRetracted,
				RetractedEventID: ev.ExternalID})
			g.ids++
		}
	}
	in.LineItems = append(in.LineItems, items...)
	return ds
}

// shuffled returns a copy of in with every slice in a random order.
func shuffled(r *rand.Rand, in analytics.CustomerInput) analytics.CustomerInput {
	out := in
	out.LineItems = slices.Clone(in.LineItems)
	out.Transactions = slices.Clone(in.Transactions)
	out.Events = slices.Clone(in.Events)
	out.Cancellations = slices.Clone(in.Cancellations)
	r.Shuffle(len(out.LineItems), func(i, j int) { out.LineItems[i], out.LineItems[j] = out.LineItems[j], out.LineItems[i] })
	r.Shuffle(len(out.Transactions), func(i, j int) { out.Transactions[i], out.Transactions[j] = out.Transactions[j], out.Transactions[i] })
	r.Shuffle(len(out.Events), func(i, j int) { out.Events[i], out.Events[j] = out.Events[j], out.Events[i] })
	r.Shuffle(len(out.Cancellations), func(i, j int) {
		out.Cancellations[i], out.Cancellations[j] = out.Cancellations[j], out.Cancellations[i]
	})
	return out
}

// mrrAtEndOfDay sums a customer's MRR intervals at the end of day d.
func mrrAtEndOfDay(res analytics.CustomerResult, d analytics.Day, loc *time.Location) int64 {
	y, m, dd := d.Date()
	next := time.Date(y, m, dd+1, 0, 0, 0, 0, loc)
	var sum int64
	for _, iv := range res.MRRIntervals {
		if iv.Start.Before(next) && (iv.End.IsZero() || !iv.End.Before(next)) {
			sum += iv.MRRInCents
		}
	}
	return sum
}

func subscriberAtEndOfDay(res analytics.CustomerResult, d analytics.Day, loc *time.Location) bool {
	y, m, dd := d.Date()
	next := time.Date(y, m, dd+1, 0, 0, 0, 0, loc)
	for _, sp := range res.SubscriberSpans {
		if sp.Start.Before(next) && (sp.End.IsZero() || !sp.End.Before(next)) {
			return true
		}
	}
	return false
}

func TestPropertyRandomHistories(t *testing.T) {
	variants := []analytics.Settings{
		{BaseCurrency: "USD"},
		{BaseCurrency: "USD", ChurnRecognition: analytics.ChurnAtPeriodEnd, FreeCustomerHandling: analytics.FreeIsChurn},
		{BaseCurrency: "USD", FXSplit: analytics.FXAllMovement, DisableSmartClassification: true,
			ExcludeVoidedInvoices: true, ExcludeRefundedInvoices: true, ExcludeWrittenOffInvoices: true},
		{BaseCurrency: "USD", Location: mustLoad(t, "America/New_York"), SmartClassificationWindow: 3 * time.Hour,
			ChurnRecognition: analytics.ChurnAtPeriodEnd, IgnoreCancellationEvents: true},
	}
	const perVariant = 100
	for vi, s := range variants {
		t.Run(fmt.Sprint("variant", vi), func(t *testing.T) {
			seed := uint64(20240601 + vi)
			r := rand.New(rand.NewPCG(seed, seed*7))
			rates := randomRates(rand.New(rand.NewPCG(1, 2)))
			g := &historyGen{r: r}
			s.AsOf = at("2025-06-15 12:00")
			loc := s.Location
			if loc == nil {
				loc = time.UTC
			}

			var inputs []analytics.CustomerInput
			results := map[int64]analytics.CustomerResult{}
			agg := analytics.NewAggregate()
			movements := 0
			for id := int64(1); id <= perVariant; id++ {
				in := g.customer(id)
				res := compute(t, in, s, rates)
				movements += len(res.Movements)
				// Determinism: shuffled slices give the identical result.
				for k := 0; k < 2; k++ {
					if again := compute(t, shuffled(r, in), s, rates); !reflect.DeepEqual(again, res) {
						t.Fatalf("customer %d: shuffled input changes the result\n%v\n%v", id,
							movementRows(res.Movements), movementRows(again.Movements))
					}
				}
				inputs = append(inputs, in)
				results[id] = res
				agg.Set(res.Contribution)
			}
			stats := map[string]int{}
			for _, res := range results {
				for _, m := range res.Movements {
					stats[string(m.Type)]++
				}
				stats["fx"] += len(res.FXAdjustments)
				stats["warnings"] += len(res.Warnings)
				stats["status "+string(res.Status)]++
				for _, sub := range res.Subscriptions {
					stats["sub "+string(sub.Status)]++
				}
				stats["switches"] += len(res.Contribution.PlanSwitches)
			}
			t.Logf("%d movements; %v", movements, stats)
			if movements < perVariant {
				t.Fatalf("only %d movements: the generator is too tame", movements)
			}

			q := monthly("2019-12-01", "2029-01-31")
			want := metrics(t, agg, q)

			// Split and reorder: customers added in another order, in two
			// aggregates merged through persistence, some replaced twice.
			other := analytics.NewAggregate()
			perm := r.Perm(len(inputs))
			for _, i := range perm[:len(perm)/2] {
				other.Set(results[inputs[i].CustomerID].Contribution)
			}
			data, err := other.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			merged := analytics.NewAggregate()
			if err := merged.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			for _, i := range perm[len(perm)/2:] {
				in := inputs[i]
				wrong := results[inputs[perm[0]].CustomerID].Contribution
				wrong.CustomerID = in.CustomerID
				merged.Set(wrong) // replaced below
				merged.Set(compute(t, shuffled(r, in), s, rates).Contribution)
			}
			if got := metrics(t, merged, q); !reflect.DeepEqual(got, want) {
				t.Fatalf("aggregate depends on insertion order or splitting")
			}

			// The aggregate agrees with the customers' own timelines.
			for _, e := range want.Entries {
				var mrr, customers int64
				for _, res := range results {
					mrr += mrrAtEndOfDay(res, e.Date, loc)
					if subscriberAtEndOfDay(res, e.Date, loc) {
						customers++
					}
				}
				if e.Values.MRR != mrr || e.Values.Customers != customers {
					t.Fatalf("%s: aggregate MRR %d customers %d, timelines %d %d", e.Date, e.Values.MRR, e.Values.Customers, mrr, customers)
				}
			}

			// A plan filter naming every plan is the unfiltered answer.
			qAll := q
			for _, p := range propertyPlans {
				qAll.PlanIDs = append(qAll.PlanIDs, p.ID)
			}
			if got := metrics(t, agg, qAll); !reflect.DeepEqual(got.Entries, want.Entries) {
				for i := range got.Entries {
					if got.Entries[i] != want.Entries[i] {
						t.Fatalf("all-plans filter differs at %s:\n got %+v\nwant %+v", got.Entries[i].Date, got.Entries[i], want.Entries[i])
					}
				}
			}
			// Plan segments partition MRR; geo segments partition MRR and customers.
			sumMRR := make([]int64, len(want.Entries))
			for _, p := range propertyPlans {
				qp := q
				qp.PlanIDs = []int64{p.ID}
				for i, e := range metrics(t, agg, qp).Entries {
					sumMRR[i] += e.Values.MRR
				}
			}
			sumCust := make([]int64, len(want.Entries))
			geoMRR := make([]int64, len(want.Entries))
			for _, c := range []string{"US", "DE", "FR"} {
				qg := q
				qg.Countries = []string{c}
				for i, e := range metrics(t, agg, qg).Entries {
					geoMRR[i] += e.Values.MRR
					sumCust[i] += e.Values.Customers
				}
			}
			qNone := q
			qNone.Countries = []string{}
			for i, e := range want.Entries {
				if sumMRR[i] != e.Values.MRR {
					t.Fatalf("%s: plan segments sum to %d, total %d", e.Date, sumMRR[i], e.Values.MRR)
				}
				var noCountry int64
				for _, res := range results {
					if res.Contribution.Country == "" {
						noCountry += mrrAtEndOfDay(res, e.Date, loc)
					}
				}
				if geoMRR[i]+noCountry != e.Values.MRR {
					t.Fatalf("%s: geo segments sum to %d + %d, total %d", e.Date, geoMRR[i], noCountry, e.Values.MRR)
				}
			}
			for _, e := range metrics(t, agg, qNone).Entries {
				if e.Values.MRR != 0 {
					t.Fatalf("empty geo filter matched MRR %d", e.Values.MRR)
				}
			}
			// Random plan subsets and other intervals keep the identity.
			for k := 0; k < 5; k++ {
				qs := analytics.MetricsQuery{Start: day("2020-03-15"), End: day("2027-02-10"),
					Interval:       []analytics.Interval{analytics.IntervalWeek, analytics.IntervalQuarter, analytics.IntervalYear, analytics.IntervalMonth}[k%4],
					LTVChurnWindow: k % 3 * 3, Today: day("2025-06-15")}
				for _, p := range propertyPlans {
					if r.IntN(2) == 0 {
						qs.PlanIDs = append(qs.PlanIDs, p.ID)
					}
				}
				if k%2 == 0 {
					qs.Countries = []string{"US", "fr"}
				}
				metrics(t, agg, qs)
			}
		})
	}
}
