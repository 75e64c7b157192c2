package analytics_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/analytics"
)

// realisticCustomer is a customer with five years of billing: usually one
// monthly subscription (sometimes two, or an annual one), price changes,
// a prorated seat now and then, a fifth billed in EUR, a tenth cancelled.
func realisticCustomer(r *rand.Rand, id int64) analytics.CustomerInput {
	in := analytics.CustomerInput{CustomerID: id, Country: []string{"US", "DE", "GB", "FR", "NL"}[r.IntN(5)]}
	nsubs := 1
	if r.IntN(5) == 0 {
		nsubs = 2
	}
	var seq int64
	for k := 0; k < nsubs; k++ {
		plan, periods := planMonthly, 60
		if r.IntN(4) == 0 {
			plan, periods = planYearly, 5
		}
		currency := "USD"
		if r.IntN(5) == 0 {
			currency = "EUR"
		}
		sub := fmt.Sprintf("sub-%d-%d", id, k)
		start := at("2020-01-01").AddDate(0, 0, r.IntN(28)).Add(time.Duration(r.IntN(24)) * time.Hour)
		amount := int64(1000 + r.IntN(50000))
		for p := 0; p < periods; p++ {
			if r.IntN(12) == 0 {
				amount += int64(r.IntN(5000)) - 1500
				amount = max(amount, 500)
			}
			seq++
			ps, pe := step(start, plan, p), step(start, plan, p+1)
			in.LineItems = append(in.LineItems, analytics.LineItem{
				ID: id*1000 + seq, InvoiceID: id*1000 + seq, InvoiceDate: ps, Currency: currency,
				Type: analytics.LineItemSubscription, SubscriptionExternalID: sub, Plan: plan,
				ServicePeriodStart: ps, ServicePeriodEnd: pe, AmountInCents: amount, Quantity: 1, CreatedSeq: seq,
			})
			in.Transactions = append(in.Transactions, analytics.Transaction{InvoiceID: id*1000 + seq,
				Type: analytics.TransactionPayment, Result: analytics.TransactionSuccessful, Date: ps})
			if plan == planMonthly && r.IntN(20) == 0 {
				seq++
				mid := ps.AddDate(0, 0, 10)
				in.LineItems = append(in.LineItems, analytics.LineItem{
					ID: id*1000 + seq, InvoiceID: id*1000 + seq, InvoiceDate: mid, Currency: currency,
					Type: analytics.LineItemSubscription, SubscriptionExternalID: sub, Plan: plan,
					ServicePeriodStart: mid, ServicePeriodEnd: pe, AmountInCents: amount / 3, Quantity: 1,
					Prorated: true, ProrationType: analytics.ProrationDifferential, CreatedSeq: seq,
				})
				amount += amount / 2
			}
		}
		if r.IntN(10) == 0 {
			in.Cancellations = append(in.Cancellations, analytics.Cancellation{SubscriptionExternalID: sub,
				CancelledAt: start.AddDate(0, r.IntN(60), 3)})
		}
	}
	return in
}

func dailyRates(from, to string) analytics.RateTable {
	rates := analytics.RateTable{}
	v := 1.1
	for d := day(from); d <= day(to); d++ {
		v *= 1.0001
		rates.Set("EUR", d, v)
	}
	return rates
}

// BenchmarkCompute measures Compute over customers with five years of
// monthly or annual subscriptions (target: ≥ 20,000 customers/s).
func BenchmarkCompute(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	customers := make([]analytics.CustomerInput, 1000)
	items := 0
	for i := range customers {
		customers[i] = realisticCustomer(r, int64(i+1))
		items += len(customers[i].LineItems)
	}
	rates := dailyRates("2019-12-01", "2026-12-31")
	s := analytics.Settings{BaseCurrency: "USD", AsOf: at("2025-01-15")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := analytics.Compute(customers[i%len(customers)], s, rates); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "customers/s")
	b.ReportMetric(float64(items)/float64(len(customers)), "items/customer")
}

// syntheticAggregate builds an aggregate of n customers by computing a few
// thousand realistic customers and replicating their contributions with
// shifted dates, new ids and countries.
func syntheticAggregate(b *testing.B, n int) *analytics.Aggregate {
	b.Helper()
	r := rand.New(rand.NewPCG(2, 2))
	rates := dailyRates("2019-12-01", "2026-12-31")
	s := analytics.Settings{BaseCurrency: "USD", AsOf: at("2025-01-15")}
	var templates []analytics.Contribution
	for i := 0; i < 2000; i++ {
		res, err := analytics.Compute(realisticCustomer(r, int64(i+1)), s, rates)
		if err != nil {
			b.Fatal(err)
		}
		templates = append(templates, res.Contribution)
	}
	countries := []string{"US", "DE", "GB", "FR", "NL", "ES", "IT", "CA", "AU", "JP"}
	agg := analytics.NewAggregate()
	for i := 0; i < n; i++ {
		c := templates[i%len(templates)]
		shift := analytics.Day(r.IntN(366)) - 183
		c.CustomerID = int64(i + 1)
		c.Country = countries[r.IntN(len(countries))]
		c.Flows = append([]analytics.DayFlow(nil), c.Flows...)
		for k := range c.Flows {
			c.Flows[k].Day += shift
		}
		c.Spans = append([]analytics.DaySpan(nil), c.Spans...)
		for k := range c.Spans {
			c.Spans[k].Start += shift
			if c.Spans[k].End != analytics.OpenEnd {
				c.Spans[k].End += shift
			}
		}
		c.PlanFlows = append([]analytics.PlanFlow(nil), c.PlanFlows...)
		for k := range c.PlanFlows {
			c.PlanFlows[k].Day += shift
		}
		c.PlanSwitches = append([]analytics.PlanSwitch(nil), c.PlanSwitches...)
		for k := range c.PlanSwitches {
			c.PlanSwitches[k].Day += shift
		}
		c.PlanSpans = append([]analytics.PlanSpan(nil), c.PlanSpans...)
		for k := range c.PlanSpans {
			c.PlanSpans[k].Start += shift
			if c.PlanSpans[k].End != analytics.OpenEnd {
				c.PlanSpans[k].End += shift
			}
		}
		agg.Set(c)
	}
	return agg
}

// BenchmarkMetrics measures a 5-year-by-month Metrics query over 100,000
// customers (target: well under 100 ms).
func BenchmarkMetrics(b *testing.B) {
	agg := syntheticAggregate(b, 100_000)
	base := analytics.MetricsQuery{Start: day("2020-01-01"), End: day("2024-12-31"), Interval: analytics.IntervalMonth}
	if _, err := agg.Metrics(base); err != nil { // builds the flattened index once
		b.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(*analytics.MetricsQuery)
	}{
		{"all", func(*analytics.MetricsQuery) {}},
		{"trailingLTV", func(q *analytics.MetricsQuery) { q.LTVChurnWindow = 6 }},
		{"geo", func(q *analytics.MetricsQuery) { q.Countries = []string{"US", "DE", "GB"} }},
		{"plan", func(q *analytics.MetricsQuery) { q.PlanIDs = []int64{planYearly.ID} }},
		{"day", func(q *analytics.MetricsQuery) { q.Interval = analytics.IntervalDay }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			q := base
			tc.mutate(&q)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := agg.Metrics(q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/query")
			b.ReportMetric(100_000, "customers")
		})
	}
	// A customer recomputed, then a query: the daily totals and churn
	// records are updated in place; a plan filter also rebuilds the
	// flattened plan records.
	for _, tc := range cases[:4:4] {
		if tc.name == "trailingLTV" {
			continue
		}
		b.Run("afterUpdate/"+tc.name, func(b *testing.B) {
			q := base
			tc.mutate(&q)
			c, _ := agg.Contribution(1)
			for i := 0; i < b.N; i++ {
				agg.Set(c)
				if _, err := agg.Metrics(q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/query")
		})
	}
}
