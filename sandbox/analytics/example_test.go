package analytics_test

import (
	"fmt"
	"time"

	"github.com/recurhq/recur/sandbox/analytics"
)

// A customer on a monthly plan upgrades on its third renewal; the Metrics
// API figures for the first quarter follow from its line items.
func Example() {
	plan := analytics.Plan{ID: 1, ExternalID: "pro_monthly", IntervalCount: 1, IntervalUnit: analytics.UnitMonth}
	var items []analytics.LineItem
	for m, amount := range []int64{5000, 5000, 8000} {
		start := time.Date(2024, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC)
		items = append(items, analytics.LineItem{
			ID: int64(m + 1), InvoiceID: int64(m + 1), Currency: "USD", Type: analytics.LineItemSubscription,
			SubscriptionExternalID: "sub_1", Plan: plan,
			ServicePeriodStart: start, ServicePeriodEnd: start.AddDate(0, 1, 0), AmountInCents: amount,
		})
	}
	res, err := analytics.Compute(analytics.CustomerInput{CustomerID: 42, Country: "NL", LineItems: items},
		analytics.Settings{BaseCurrency: "USD", AsOf: time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)}, nil)
	if err != nil {
		panic(err)
	}
	for _, m := range res.Movements {
		fmt.Println(m.At.Format(time.DateOnly), m.Type, m.AmountInCents)
	}
	fmt.Println(res.Status, res.MRRInCents)

	agg := analytics.NewAggregate()
	agg.Set(res.Contribution)
	start, _ := analytics.ParseDay("2024-01-01")
	end, _ := analytics.ParseDay("2024-03-31")
	out, err := agg.Metrics(analytics.MetricsQuery{Start: start, End: end, Interval: analytics.IntervalMonth})
	if err != nil {
		panic(err)
	}
	for _, e := range out.Entries {
		fmt.Println(e.Date, e.Values.MRR, e.Values.Customers, e.Breakdown.NewBusiness, e.Breakdown.Expansion, e.Change.MRR)
	}
	// Output:
	// 2024-01-01 new_biz 5000
	// 2024-03-01 expansion 3000
	// Active 8000
	// 2024-01-31 5000 1 5000 0 0
	// 2024-02-29 5000 1 0 0 0
	// 2024-03-31 8000 1 0 3000 60
}
