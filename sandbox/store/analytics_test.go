package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/analytics"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// The analytics persistence: the recompute transaction, what it stores, the
// metrics cache, exchange rates and settings, on both engines.

// anPayload is a bulk import of monthly subscriptions: each entry of subs
// is customer/subscription/currency/amount, billed from 2024-01-01 for
// months months.
func anPayload(months int, subs ...string) string {
	var customers, invoices, items []string
	seen := map[string]bool{}
	for _, s := range subs {
		var cus, sub, cur string
		var amount int
		fmt.Sscanf(strings.ReplaceAll(s, "/", " "), "%s %s %s %d", &cus, &sub, &cur, &amount)
		if !seen[cus] {
			seen[cus] = true
			customers = append(customers, fmt.Sprintf(`{"external_id":%q,"name":%q,"country":"US"}`, cus, cus))
		}
		for m := 0; m < months; m++ {
			start := time.Date(2024, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC)
			inv := fmt.Sprintf("inv_%s_%d", sub, m)
			invoices = append(invoices, fmt.Sprintf(`{"external_id":%q,"customer_external_id":%q,"date":%q,"currency":%q}`, inv, cus, start.Format(time.DateOnly), cur))
			items = append(items, fmt.Sprintf(`{"type":"subscription","invoice_external_id":%q,"subscription_external_id":%q,"plan_external_id":"monthly",`+
				`"service_period_start":%q,"service_period_end":%q,"amount_in_cents":%d}`, inv, sub, start.Format(time.DateOnly), start.AddDate(0, 1, 0).Format(time.DateOnly), amount))
		}
	}
	return `{"customers":[` + strings.Join(customers, ",") + `],"plans":[{"external_id":"monthly","name":"Monthly","interval_count":1,"interval_unit":"month"}],` +
		`"invoices":[` + strings.Join(invoices, ",") + `],"line_items":[` + strings.Join(items, ",") + `],"transactions":[],"subscription_events":[]}`
}

func anImport(t *testing.T, s *store.Store, f fixture, payload string) {
	t.Helper()
	if _, _, err := s.CreateImport(context.Background(), f.ds, "", []byte(payload)); err != nil {
		t.Fatal(err)
	}
	if rep := applyAll(t, s, f); len(rep.Failures) > 0 {
		t.Fatalf("import failures: %+v", rep.Failures)
	}
}

func anCustomer(t *testing.T, s *store.Store, f fixture, ext string) *chartmogul.Customer {
	t.Helper()
	list, _, err := s.ListCustomers(context.Background(), f.account.ID, store.CustomerFilter{ExternalID: ext}, store.Page{Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("customer %s: %v, %v", ext, list, err)
	}
	return &list[0]
}

var anNow = time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)

// anCompute is what the importer's compute does, on one core.
func anCompute(b *store.RecomputeBatch) []store.CustomerOutcome {
	out := make([]store.CustomerOutcome, len(b.Inputs))
	for i, in := range b.Inputs {
		res, err := analytics.Compute(in, b.Settings, b.Rates)
		if err != nil {
			out[i].Problem = err.Error()
			continue
		}
		out[i].Result = res
	}
	return out
}

func anRecompute(t *testing.T, s *store.Store, ids ...int64) {
	t.Helper()
	if _, err := s.RecomputeCustomers(context.Background(), ids, anNow, &store.RateBooks{}, anCompute); err != nil {
		t.Fatal(err)
	}
}

// TestRecomputeStoresDerivedRows: a recompute fills the customer's status,
// MRR and first paying day, its subscriptions and activities, and its
// contribution to the metrics; recomputing again replaces, not adds.
func TestRecomputeStoresDerivedRows(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		anImport(t, s, f, anPayload(3, "c1/s1/USD/5000", "c1/s2/USD/3000", "c2/s3/USD/1000"))
		c1, c2 := anCustomer(t, s, f, "c1"), anCustomer(t, s, f, "c2")
		if c1.Status != "" || c1.MRR != 0 {
			t.Fatalf("before any recompute: status %q mrr %d", c1.Status, c1.MRR)
		}
		for range 2 {
			anRecompute(t, s, c1.ID, c2.ID)
		}
		c1 = anCustomer(t, s, f, "c1")
		if c1.Status != "Active" || c1.MRR != 8000 || c1.ARR != 96000 || c1.CustomerSince == nil || !c1.CustomerSince.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("c1: status %q mrr %d arr %d since %v", c1.Status, c1.MRR, c1.ARR, c1.CustomerSince)
		}
		subs, err := s.DerivedSubscriptions(ctx, c1.ID, -1, 10)
		if err != nil || len(subs) != 2 || subs[0].ExternalID != "s1" || subs[0].MRRInCents != 5000 || subs[0].PlanName != "Monthly" ||
			!strings.HasPrefix(subs[0].UUID, "sub_") || subs[0].IntervalUnit != "month" {
			t.Fatalf("subscriptions %+v, %v", subs, err)
		}
		if page, _ := s.DerivedSubscriptions(ctx, c1.ID, subs[0].Position, 10); len(page) != 1 || page[0].ExternalID != "s2" {
			t.Errorf("second page %+v", page)
		}
		acts, err := s.ListActivities(ctx, f.account.ID, store.ActivityFilter{Limit: 100})
		if err != nil || len(acts) != 3 {
			t.Fatalf("activities %+v, %v", acts, err)
		}
		// Ordered by time, customer, position: c1's two purchases, then c2's.
		if a := acts[1]; a.Type != "new_biz" || a.CustomerMRRInCents != 8000 || a.CustomerExternalID != "c1" || a.PlanName != "Monthly" {
			t.Errorf("activity %+v", a)
		}
		if a := acts[2]; a.Type != "new_biz" || a.CustomerMRRInCents != 1000 || a.CustomerExternalID != "c2" || a.CustomerUUID != c2.UUID {
			t.Errorf("activity %+v", a)
		}
		agg, problems, err := s.Metrics(ctx, f.account.ID)
		if err != nil || len(problems) != 0 || agg.Len() != 2 {
			t.Fatalf("metrics: %d customers, problems %v, %v", agg.Len(), problems, err)
		}
		res, err := agg.Metrics(analytics.MetricsQuery{Start: analytics.DateDay(2024, 1, 1), End: analytics.DateDay(2024, 1, 31), Interval: analytics.IntervalMonth})
		if err != nil || res.Entries[0].Values.MRR != 9000 || res.Entries[0].Values.Customers != 2 {
			t.Errorf("January: %+v, %v", res.Entries, err)
		}
		// Another account sees none of it.
		o := newFixture(t, s, "other")
		if agg, _, _ := s.Metrics(ctx, o.account.ID); agg.Len() != 0 {
			t.Errorf("another account's aggregate holds %d customers", agg.Len())
		}
		if acts, _ := s.ListActivities(ctx, o.account.ID, store.ActivityFilter{Limit: 100}); len(acts) != 0 {
			t.Errorf("another account lists %d activities", len(acts))
		}
	})
}

// TestMetricsCacheFollowsChanges: the in-memory aggregate catches up with
// later recomputes, with recomputes done by another Store on the same
// database (another process), and with customers deleted by cascade.
func TestMetricsCacheFollowsChanges(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			anCacheFollowsChanges(t, db.URL)
		})
	}
}

func anCacheFollowsChanges(t *testing.T, url string) {
	ctx := context.Background()
	s, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	{
		f := newFixture(t, s, "acme")
		anImport(t, s, f, anPayload(2, "c1/s1/USD/5000", "c2/s2/USD/1000"))
		c1, c2 := anCustomer(t, s, f, "c1"), anCustomer(t, s, f, "c2")
		anRecompute(t, s, c1.ID, c2.ID)
		mrr := func() int64 {
			t.Helper()
			agg, _, err := s.Metrics(ctx, f.account.ID)
			if err != nil {
				t.Fatal(err)
			}
			res, err := agg.Metrics(analytics.MetricsQuery{Start: analytics.DateDay(2024, 1, 1), End: analytics.DateDay(2024, 1, 31), Interval: analytics.IntervalMonth})
			if err != nil {
				t.Fatal(err)
			}
			return res.Entries[0].Values.MRR
		}
		if got := mrr(); got != 6000 {
			t.Fatalf("MRR %d, want 6000", got)
		}
		// Raise c2's price in a second import; the recompute runs on a
		// second store, as another process would.
		anImport(t, s, f, strings.Replace(anPayload(1, "c2/s2b/USD/4000"), "inv_s2b_0", "inv_s2b_x", -1))
		other, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := other.RecomputeCustomers(ctx, []int64{c2.ID}, anNow, &store.RateBooks{}, anCompute); err != nil {
			t.Fatal(err)
		}
		if got := mrr(); got != 10000 {
			t.Errorf("after c2's second subscription: MRR %d, want 10000", got)
		}
		if err := s.DeleteCustomer(ctx, f.account.ID, c1.UUID); err != nil {
			t.Fatal(err)
		}
		if got := mrr(); got != 4000+1000 {
			t.Errorf("after deleting c1: MRR %d, want 5000", got)
		}
	}
}

// TestContributionRoundTrip stores a contribution with every kind of
// record, including open spans and negative amounts, and reads it back.
func TestContributionRoundTrip(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		anImport(t, s, f, anPayload(1, "c1/s1/USD/5000"))
		c1 := anCustomer(t, s, f, "c1")
		want := analytics.Contribution{CustomerID: c1.ID, Country: "DE",
			Flows:        []analytics.DayFlow{{Day: -400, Kind: analytics.FlowNewBusiness, AmountInCents: 5000}, {Day: 19800, Kind: analytics.FlowChurn, AmountInCents: -5000}, {Day: 19800, Kind: analytics.FlowFX, AmountInCents: math.MaxInt64 / 2}},
			Spans:        []analytics.DaySpan{{Start: -400, End: 19800}, {Start: 19900, End: analytics.OpenEnd}},
			PlanFlows:    []analytics.PlanFlow{{Day: -400, PlanID: 7, Kind: analytics.FlowNewBusiness, AmountInCents: 5000}},
			PlanSwitches: []analytics.PlanSwitch{{Day: 19000, Kind: analytics.FlowExpansion, FromPlanID: 7, ToPlanID: 1 << 40, FromMRRInCents: 5000, ToMRRInCents: 7000}},
			PlanSpans:    []analytics.PlanSpan{{PlanID: 7, Start: -400, End: 19000}, {PlanID: 1 << 40, Start: 19000, End: analytics.OpenEnd}},
		}
		_, err := s.RecomputeCustomers(ctx, []int64{c1.ID}, anNow, &store.RateBooks{}, func(b *store.RecomputeBatch) []store.CustomerOutcome {
			return []store.CustomerOutcome{{Result: analytics.CustomerResult{CustomerID: c1.ID, Contribution: want}}}
		})
		if err != nil {
			t.Fatal(err)
		}
		agg, _, err := s.Metrics(ctx, f.account.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := agg.Contribution(c1.ID)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("read back\n got %+v\nwant %+v", got, want)
		}
	})
}

// TestExchangeRates: conversions direct, inverse, across a common base and
// from the last business day; a missing rate is named; new rates replace
// old ones and reach a book already in use.
func TestExchangeRates(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		anImport(t, s, f, anPayload(1, "c1/s1/EUR/5000", "c2/s2/GBP/5000", "c3/s3/JPY/5000"))
		fri := analytics.DateDay(2024, 1, 5)
		set := store.RateSet{Source: "ecb.csv", Format: "ecb", Rates: []store.Rate{
			{Day: fri, Base: "EUR", Currency: "USD", Rate: 1.10}, {Day: fri, Base: "EUR", Currency: "GBP", Rate: 0.86},
			{Day: fri, Base: "USD", Currency: "JPY", Rate: 150}}}
		sum, err := s.ImportRates(ctx, set)
		if err != nil || sum.Rates != 3 || sum.Base != "EUR,USD" || !reflect.DeepEqual(sum.Currencies, []string{"GBP", "JPY", "USD"}) || sum.Accounts != 1 {
			t.Fatalf("ImportRates = %+v, %v", sum, err)
		}
		if n, _ := s.AnalyticsPending(ctx); n != 1 {
			t.Errorf("%d recomputes queued by the rates, want 1", n)
		}
		ids := []int64{anCustomer(t, s, f, "c1").ID, anCustomer(t, s, f, "c2").ID, anCustomer(t, s, f, "c3").ID}
		books := &store.RateBooks{}
		rate := func(cur string, d analytics.Day) (float64, error) {
			var r float64
			var rerr error
			_, err := s.RecomputeCustomers(ctx, ids, anNow, books, func(b *store.RecomputeBatch) []store.CustomerOutcome {
				r, rerr = b.Rates.Rate(cur, d)
				return make([]store.CustomerOutcome, len(b.Inputs))
			})
			if err != nil {
				t.Fatal(err)
			}
			return r, rerr
		}
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
		if r, err := rate("EUR", fri); err != nil || !near(r, 1.10) {
			t.Errorf("EUR→USD on Friday = %v, %v; want 1.10", r, err)
		}
		if r, err := rate("GBP", fri+2); err != nil || !near(r, 1.10/0.86) {
			t.Errorf("GBP→USD on Sunday (Friday's cross rate) = %v, %v; want %v", r, err, 1.10/0.86)
		}
		if r, err := rate("JPY", fri); err != nil || !near(r, 1.0/150) {
			t.Errorf("JPY→USD = %v, %v; want 1/150", r, err)
		}
		_, err = rate("EUR", fri+store.MaxRateAge+1)
		var missing *store.MissingRateError
		if !errors.As(err, &missing) || missing.Currency != "EUR" || missing.Base != "USD" || missing.Day != fri+store.MaxRateAge+1 ||
			!strings.Contains(err.Error(), "EUR") || !strings.Contains(err.Error(), "2024-01-13") {
			t.Errorf("a rate 8 days old: %v", err)
		}
		if _, err := rate("EUR", fri-1); err == nil {
			t.Error("a day before any rate converted")
		}
		// New rates replace the old ones; the same book sees them.
		if _, err := s.ImportRates(ctx, store.RateSet{Source: "fix.csv", Format: "plain", Rates: []store.Rate{{Day: fri, Base: "EUR", Currency: "USD", Rate: 1.20}}}); err != nil {
			t.Fatal(err)
		}
		if r, _ := rate("EUR", fri); !near(r, 1.20) {
			t.Errorf("after re-import EUR→USD = %v, want 1.20", r)
		}
		list, err := s.RateImports(ctx)
		if err != nil || len(list) != 2 || list[1].Source != "fix.csv" {
			t.Errorf("RateImports = %+v, %v", list, err)
		}
		for _, bad := range []store.Rate{{Day: fri, Base: "EUR", Currency: "USD", Rate: -1}, {Day: fri, Base: "EUR", Currency: "ZZZ", Rate: 1}, {Day: fri, Base: "EUR", Currency: "EUR", Rate: 1}} {
			if _, err := s.ImportRates(ctx, store.RateSet{Source: "bad", Rates: []store.Rate{bad}}); chartmogul.ErrorCodeOf(err) != chartmogul.EINVALID {
				t.Errorf("ImportRates(%+v) = %v, want invalid", bad, err)
			}
		}
	})
}

// TestRecomputeReportsMissingRates: a customer needing a missing rate is
// stored with the reason and left out of the metrics, which say so.
func TestRecomputeReportsMissingRates(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		anImport(t, s, f, anPayload(1, "c1/s1/EUR/5000", "c2/s2/USD/5000"))
		c1, c2 := anCustomer(t, s, f, "c1"), anCustomer(t, s, f, "c2")
		anRecompute(t, s, c1.ID, c2.ID)
		agg, problems, err := s.Metrics(ctx, f.account.ID)
		if err != nil || len(problems) != 1 || problems[0].CustomerID != c1.ID || !strings.Contains(problems[0].Message, "EUR") ||
			!strings.Contains(problems[0].Message, "2024-01-01") {
			t.Fatalf("problems %+v, %v", problems, err)
		}
		if _, ok := agg.Contribution(c1.ID); ok {
			t.Error("a customer without rates contributes")
		}
		if _, problem, err := s.CustomerAnalytics(ctx, f.account.ID, c1.UUID); err != nil || !strings.Contains(problem, "EUR") {
			t.Errorf("CustomerAnalytics = %q, %v", problem, err)
		}
		if _, _, err := s.CustomerAnalytics(ctx, f.account.ID, "cus_unknown"); !chartmogul.IsNotFound(err) {
			t.Errorf("unknown customer: %v", err)
		}
		if _, err := s.ImportRates(ctx, store.RateSet{Source: "r", Rates: []store.Rate{{Day: analytics.DateDay(2024, 1, 1), Base: "EUR", Currency: "USD", Rate: 1.1}}}); err != nil {
			t.Fatal(err)
		}
		anRecompute(t, s, c1.ID)
		if _, problems, _ := s.Metrics(ctx, f.account.ID); len(problems) != 0 {
			t.Errorf("problems after the rate arrived: %+v", problems)
		}
		if c := anCustomer(t, s, f, "c1"); c.MRR != 5500 {
			t.Errorf("c1 MRR %d, want 5500", c.MRR)
		}
	})
}

// TestAnalyticsSettings: settings are checked, stored, and a change queues
// the account's recompute.
func TestAnalyticsSettings(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		a, err := s.AnalyticsSettings(ctx, f.account.ID)
		if err != nil || a.Currency != "USD" || a.ChurnRecognition != store.ChurnAtCancellation || a.ChurnWhenZeroMRR {
			t.Fatalf("defaults %+v, %v", a, err)
		}
		for field, change := range map[string]func(a *store.AnalyticsSettings){
			"currency":          func(a *store.AnalyticsSettings) { a.Currency = "EURO" },
			"time zone":         func(a *store.AnalyticsSettings) { a.TimeZone = "Mars/Olympus" },
			"week start":        func(a *store.AnalyticsSettings) { a.WeekStartOn = "friday" },
			"churn recognition": func(a *store.AnalyticsSettings) { a.ChurnRecognition = "never" },
		} {
			_, err := s.UpdateAnalyticsSettings(ctx, f.account.ID, func(a *store.AnalyticsSettings) error { change(a); return nil })
			if chartmogul.ErrorCodeOf(err) != chartmogul.EINVALID || !strings.Contains(err.Error(), field) {
				t.Errorf("bad %s: %v", field, err)
			}
		}
		got, err := s.UpdateAnalyticsSettings(ctx, f.account.ID, func(a *store.AnalyticsSettings) error {
			a.Currency, a.ChurnWhenZeroMRR = "eur", true
			return nil
		})
		if err != nil || got.Currency != "EUR" || !got.ChurnWhenZeroMRR {
			t.Fatalf("update = %+v, %v", got, err)
		}
		if n, _ := s.AnalyticsPending(ctx); n != 1 {
			t.Errorf("%d recomputes queued, want 1", n)
		}
		if acc, _ := s.Account(ctx, f.account.ID); acc.Currency != "EUR" {
			t.Errorf("account currency %s, want EUR", acc.Currency)
		}
	})
}

// TestRecomputeMergedCustomers: a customer merged into another across data
// sources is computed as one customer with it.
func TestRecomputeMergedCustomers(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		ds2, err := s.CreateDataSource(ctx, f.account.ID, "Other billing", "")
		if err != nil {
			t.Fatal(err)
		}
		f2 := fixture{account: f.account, ds: ds2}
		anImport(t, s, f, anPayload(2, "x/s1/USD/5000"))
		anImport(t, s, f2, anPayload(2, "y/s1/USD/3000"))
		x, y := anCustomer(t, s, f, "x"), anCustomer(t, s, f2, "y")
		if err := s.MergeCustomers(ctx, f.account.ID, store.CustomerRef{UUID: y.UUID}, store.CustomerRef{UUID: x.UUID}); err != nil {
			t.Fatal(err)
		}
		anRecompute(t, s, y.ID)
		agg, _, err := s.Metrics(ctx, f.account.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, _ := agg.Metrics(analytics.MetricsQuery{Start: analytics.DateDay(2024, 1, 1), End: analytics.DateDay(2024, 1, 31), Interval: analytics.IntervalMonth})
		if v := res.Entries[0].Values; v.MRR != 8000 || v.Customers != 1 {
			t.Errorf("merged: MRR %d customers %d, want 8000 and 1", v.MRR, v.Customers)
		}
		if subs, _ := s.DerivedSubscriptions(ctx, x.ID, -1, 10); len(subs) != 2 {
			t.Errorf("the survivor lists %d subscriptions, want 2", len(subs))
		}
	})
}
