package analytics_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/analytics"
)

func TestPercentageChangeRecorded(t *testing.T) {
	tests := []struct{ cur, prev, want float64 }{
		{670280904, 383859969, 74.62}, // mrr
		{602, 585, 2.91},              // customers
		{1.71, 0.56, 205.36},          // customer churn rate
		{-74.52, -0.17, -43735.29},    // mrr churn rate (negative previous)
		{0.91, -0.67, 235.82},         // go cassette mrr churn rate
		{65112456, 117173214, -44.43}, // ltv
		{22035, 46107, -52.21},        // asp
		{1113423, 656170, 69.69},      // arpa
		{670566870, 670252256, 0.05},  // summary mrr
		{5, 0, 0},                     // no previous value
	}
	for _, tt := range tests {
		if got := analytics.PercentageChange(tt.cur, tt.prev); got != tt.want {
			t.Errorf("PercentageChange(%v, %v) = %v, want %v", tt.cur, tt.prev, got, tt.want)
		}
	}
}

func dates(res analytics.MetricsResult) []string {
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.Date.String())
	}
	return out
}

func TestIntervalsAndDates(t *testing.T) {
	agg, _ := aggregate(t, usd, nil, example3()...)
	tests := []struct {
		name string
		q    analytics.MetricsQuery
		want []string
	}{
		{"partial last month", analytics.MetricsQuery{Start: day("2015-01-01"), End: day("2015-02-01")},
			[]string{"2015-01-31", "2015-02-01"}},
		{"weeks end on Saturday", analytics.MetricsQuery{Start: day("2024-01-01"), End: day("2024-01-20"), Interval: analytics.IntervalWeek},
			[]string{"2024-01-06", "2024-01-13", "2024-01-20"}},
		{"Monday weeks end on Sunday", analytics.MetricsQuery{Start: day("2024-01-01"), End: day("2024-01-21"), Interval: analytics.IntervalWeek, WeekStart: time.Monday},
			[]string{"2024-01-07", "2024-01-14", "2024-01-21"}},
		{"quarters", analytics.MetricsQuery{Start: day("2024-02-15"), End: day("2024-12-31"), Interval: analytics.IntervalQuarter},
			[]string{"2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"}},
		{"years", analytics.MetricsQuery{Start: day("2023-06-01"), End: day("2024-06-30"), Interval: analytics.IntervalYear},
			[]string{"2023-12-31", "2024-06-30"}},
		{"days", analytics.MetricsQuery{Start: day("2024-02-28"), End: day("2024-03-01"), Interval: analytics.IntervalDay},
			[]string{"2024-02-28", "2024-02-29", "2024-03-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dates(metrics(t, agg, tt.q)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("dates %v, want %v", got, tt.want)
			}
		})
	}

	// Daily customer counts in March: C joins on the 5th, leaves on the 25th.
	q := analytics.MetricsQuery{Start: day("2024-03-04"), End: day("2024-03-26"), Interval: analytics.IntervalDay}
	res := metrics(t, agg, q)
	counts := map[string]int64{}
	for _, e := range res.Entries {
		counts[e.Date.String()] = e.Values.Customers
	}
	if counts["2024-03-04"] != 2 || counts["2024-03-05"] != 3 || counts["2024-03-24"] != 3 || counts["2024-03-25"] != 2 {
		t.Errorf("daily customers %v", counts)
	}

	for _, bad := range []analytics.MetricsQuery{
		{Start: day("2024-02-01"), End: day("2024-01-01")},
		{Start: day("2024-01-01"), End: day("2024-02-01"), Interval: "fortnight"},
		{Start: day("1900-01-01"), End: day("2100-01-01"), Interval: analytics.IntervalDay},
		{Start: day("2024-01-01"), End: day("2024-02-01"), LTVChurnWindow: -1},
	} {
		if _, err := agg.Metrics(bad); err == nil {
			t.Errorf("query %+v: want an error", bad)
		}
	}
}

func TestSummary(t *testing.T) {
	agg, _ := aggregate(t, usd, nil, example3()...)
	q := monthly("2024-01-01", "2024-06-30")
	res := metrics(t, agg, q)
	last, prev := res.Entries[5].Values, res.Entries[4].Values
	if res.Summary.Current != last || res.Summary.Previous != prev {
		t.Errorf("summary %+v, want the last two entries %+v %+v", res.Summary, last, prev)
	}
	if res.Summary.Change != res.Entries[5].Change {
		t.Errorf("summary change %+v, entry change %+v", res.Summary.Change, res.Entries[5].Change)
	}
	// Today inside the range: the interval ending today and the one before.
	q.Today = day("2024-03-22")
	res = metrics(t, agg, q)
	if cur, p := res.Summary.Current, res.Summary.Previous; cur.MRR != 22000 || p.MRR != 23000 || cur.Customers != 3 || p.Customers != 2 {
		t.Errorf("summary on 2024-03-22: current %+v previous %+v", cur, p)
	}
	if got := res.Summary.Change.MRR; got != -4.35 {
		t.Errorf("summary MRR change %v, want -4.35", got)
	}
}

func TestAggregateMaintenance(t *testing.T) {
	customers := example3()
	agg, results := aggregate(t, usd, nil, customers...)
	q := monthly("2023-12-01", "2024-06-30")
	want := metrics(t, agg, q)

	// Persist and reload.
	data, err := agg.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := agg.MarshalBinary()
	if !reflect.DeepEqual(data, again) {
		t.Error("MarshalBinary is not deterministic")
	}
	loaded := analytics.NewAggregate()
	if err := loaded.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if got := metrics(t, loaded, q); !reflect.DeepEqual(got, want) {
		t.Error("reloaded aggregate answers differently")
	}
	if err := loaded.UnmarshalBinary([]byte("garbage")); err == nil {
		t.Error("garbage accepted")
	}

	// Replacing a customer with a changed history, then restoring it.
	changed := customers[1]
	changed.LineItems = renewals("S_B1", planMonthly, at("2023-12-01"), 7, 99999)
	agg.Set(compute(t, changed, usd, nil).Contribution)
	if got := metrics(t, agg, q); reflect.DeepEqual(got, want) {
		t.Error("replacement had no effect")
	}
	agg.Set(results[2].Contribution)
	if got := metrics(t, agg, q); !reflect.DeepEqual(got, want) {
		t.Error("restoring the contribution does not restore the answer")
	}

	// Deleting every customer empties the answer.
	for id := range results {
		agg.Delete(id)
	}
	agg.Delete(12345)
	if agg.Len() != 0 {
		t.Errorf("Len %d after deleting all", agg.Len())
	}
	for _, e := range metrics(t, agg, q).Entries {
		if e.Values != (analytics.MetricValues{}) || e.Breakdown != (analytics.MRRBreakdown{}) {
			t.Errorf("empty aggregate entry %+v", e)
		}
	}
}

func TestAggregateConcurrentUse(t *testing.T) {
	agg, results := aggregate(t, usd, nil, example3()...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			for _, res := range results {
				agg.Set(res.Contribution)
			}
		}
	}()
	q := monthly("2024-01-01", "2024-06-30")
	q.PlanIDs = []int64{planGold.ID}
	for i := 0; i < 200; i++ {
		metrics(t, agg, monthly("2024-01-01", "2024-06-30"))
		metrics(t, agg, q)
	}
	<-done
}
