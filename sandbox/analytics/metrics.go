package analytics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Interval is the length of one Metrics API entry.
type Interval string

// Metrics API intervals.
const (
	IntervalDay     Interval = "day"
	IntervalWeek    Interval = "week"
	IntervalMonth   Interval = "month"
	IntervalQuarter Interval = "quarter"
	IntervalYear    Interval = "year"
)

// maxEntries bounds the size of one answer.
const maxEntries = 50_000

// MetricsQuery is a Metrics API request.
type MetricsQuery struct {
	// Start and End are the start-date and end-date, inclusive.
	Start, End Day
	// Interval defaults to IntervalMonth.
	Interval Interval
	// WeekStart is the first day of a week (Sunday by default).
	WeekStart time.Weekday
	// Countries restricts to customers of these ISO country codes (geo);
	// nil means all customers.
	Countries []string
	// PlanIDs restricts to subscriptions on these plans; nil means all.
	PlanIDs []int64
	// Today is the day summaries are reported for when it is before End
	// (zero: End).
	Today Day
	// LTVChurnWindow is the number of previous intervals whose customer
	// churn rates are averaged for LTV; 0 uses the entry's own interval.
	LTVChurnWindow int
}

// MetricValues are the metrics of one interval. Money is in cents of the
// account currency; rates are percentages rounded to two decimals.
type MetricValues struct {
	// MRR and Customers are measured at the end of the interval's last day.
	MRR, ARR  int64
	Customers int64
	// ARPA is MRR ÷ Customers, truncated.
	ARPA int64
	// ASP is new-business MRR ÷ customers who became subscribers for the
	// first time in the interval, truncated; 0 without new customers.
	ASP int64
	// CustomerChurnRate is churned customers ÷ customers at the start.
	CustomerChurnRate float64
	// MRRChurnRate is the net MRR churn rate: (churn + contraction −
	// expansion − reactivation) ÷ MRR at the start; it can be negative.
	MRRChurnRate float64
	// GrossMRRChurnRate is (churn + contraction) ÷ MRR at the start.
	GrossMRRChurnRate float64
	// LTV is ARPA ÷ customer churn rate (see MetricsQuery.LTVChurnWindow);
	// 0 when the churn rate is 0.
	LTV int64
}

// MetricChanges are percentage changes of each metric against the previous
// value (see PercentageChange).
type MetricChanges struct {
	MRR, ARR, Customers, ARPA, ASP                     float64
	CustomerChurnRate, MRRChurnRate, GrossMRRChurnRate float64
	LTV                                                float64
}

// MRRBreakdown explains an interval's MRR change. Contraction, Churn and
// LeavingSegment are negative; the identity
//
//	MRR = StartMRR + NewBusiness + Expansion + Contraction + Churn +
//	      Reactivation + FXImpact + EnteringSegment + LeavingSegment
//
// holds exactly for every interval.
type MRRBreakdown struct {
	StartMRR                                       int64
	NewBusiness, Expansion, Contraction, Churn     int64
	Reactivation                                   int64
	FXImpact                                       int64
	EnteringSegment, LeavingSegment                int64
	StartCustomers, NewCustomers, ChurnedCustomers int64
}

// MetricsEntry is one interval of a Metrics API answer.
type MetricsEntry struct {
	// Date is the interval's last day (End for a partial last interval).
	Date Day
	// Start is the interval's first day (Start for a partial first one).
	Start     Day
	Values    MetricValues
	Change    MetricChanges
	Breakdown MRRBreakdown
}

// MetricsSummary is the Metrics API `summary` block: the interval ending
// on min(End, Today) and the interval before it.
type MetricsSummary struct {
	Current, Previous MetricValues
	Change            MetricChanges
}

// MetricsResult is a Metrics API answer.
type MetricsResult struct {
	Entries []MetricsEntry
	Summary MetricsSummary
}

// PercentageChange is the Metrics API's percentage-change: (current −
// previous) ÷ |previous| × 100, rounded to two decimals; 0 when previous is
// 0. The absolute value reproduces recorded answers for negative rates
// (−0.17 → −74.52 is reported as −43735.29).
func PercentageChange(current, previous float64) float64 {
	if previous == 0 {
		return 0
	}
	return round2((current - previous) / math.Abs(previous) * 100)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// window is a range of days [a, b].
type window struct{ a, b Day }

// Metrics answers a Metrics API query. It returns an error for an invalid
// query (End before Start, an unknown interval, too many entries).
func (a *Aggregate) Metrics(q MetricsQuery) (MetricsResult, error) {
	if q.Interval == "" {
		q.Interval = IntervalMonth
	}
	switch q.Interval {
	case IntervalDay, IntervalWeek, IntervalMonth, IntervalQuarter, IntervalYear:
	default:
		return MetricsResult{}, fmt.Errorf("analytics: unknown interval %q: want day, week, month, quarter or year", q.Interval)
	}
	if q.End < q.Start {
		return MetricsResult{}, fmt.Errorf("analytics: end-date %s is before start-date %s", q.End, q.Start)
	}
	if q.WeekStart < time.Sunday || q.WeekStart > time.Saturday {
		return MetricsResult{}, fmt.Errorf("analytics: invalid week start %d", q.WeekStart)
	}
	if q.LTVChurnWindow < 0 || q.LTVChurnWindow > 120 {
		return MetricsResult{}, fmt.Errorf("analytics: LTV churn window %d out of range 0..120", q.LTVChurnWindow)
	}
	n := q.LTVChurnWindow

	// Entries, preceded by n whole intervals for trailing LTV.
	wins := make([]window, n)
	for k, d := n-1, q.intervalStart(q.Start); k >= 0; k-- {
		d = q.intervalStart(d - 1)
		wins[k] = window{d, q.intervalEnd(d)}
	}
	for d := q.Start; d <= q.End; {
		end := min(q.intervalEnd(d), q.End)
		wins = append(wins, window{d, end})
		if len(wins) > maxEntries {
			return MetricsResult{}, fmt.Errorf("analytics: more than %d entries; use a longer interval", maxEntries)
		}
		d = end + 1
	}
	// Summary: n+2 consecutive intervals ending on the reference day.
	ref := q.End
	if q.Today != 0 && q.Today < ref {
		ref = q.Today
	}
	sum := make([]window, n+2)
	for k := range sum {
		back := n + 1 - k // oldest first
		sum[k] = window{q.shiftBack(ref, back+1) + 1, q.shiftBack(ref, back)}
	}

	// The view may share the aggregate's churn records, so evaluate it
	// under the lock too; both steps are linear and short.
	a.mu.Lock()
	v := a.view(min(wins[0].a, sum[0].a), max(wins[len(wins)-1].b, ref), q)
	stats := v.eval(wins)
	sumStats := v.eval(sum)
	a.mu.Unlock()

	res := MetricsResult{Entries: make([]MetricsEntry, 0, len(wins)-n)}
	all := make([]MetricValues, len(wins))
	for i := range wins {
		all[i] = stats[i].values()
		all[i].LTV = ltv(all, i, n)
	}
	for i := n; i < len(wins); i++ {
		e := MetricsEntry{Date: wins[i].b, Start: wins[i].a, Values: all[i], Breakdown: stats[i].breakdown()}
		if i > n {
			e.Change = changes(all[i], all[i-1])
		}
		res.Entries = append(res.Entries, e)
	}
	sv := make([]MetricValues, len(sum))
	for i := range sum {
		sv[i] = sumStats[i].values()
		sv[i].LTV = ltv(sv, i, n)
	}
	res.Summary = MetricsSummary{Current: sv[n+1], Previous: sv[n], Change: changes(sv[n+1], sv[n])}
	return res, nil
}

// ltv computes LTV of vals[i] from its own churn rate (n = 0) or the
// average of the n rates before it, as reported (rounded), so that the
// answer reproduces ARPA ÷ rate from the printed figures.
func ltv(vals []MetricValues, i, n int) int64 {
	arpa := float64(vals[i].ARPA)
	if n == 0 {
		r := vals[i].CustomerChurnRate
		if r <= 0 {
			return 0
		}
		return int64(math.Round(arpa * 100 / r))
	}
	if i < n {
		return 0
	}
	var sum float64
	for k := i - n; k < i; k++ {
		sum += vals[k].CustomerChurnRate
	}
	if sum <= 0 {
		return 0
	}
	return int64(math.Round(arpa * 100 * float64(n) / sum))
}

func changes(cur, prev MetricValues) MetricChanges {
	f := func(c, p int64) float64 { return PercentageChange(float64(c), float64(p)) }
	return MetricChanges{
		MRR: f(cur.MRR, prev.MRR), ARR: f(cur.ARR, prev.ARR), Customers: f(cur.Customers, prev.Customers),
		ARPA: f(cur.ARPA, prev.ARPA), ASP: f(cur.ASP, prev.ASP), LTV: f(cur.LTV, prev.LTV),
		CustomerChurnRate: PercentageChange(cur.CustomerChurnRate, prev.CustomerChurnRate),
		MRRChurnRate:      PercentageChange(cur.MRRChurnRate, prev.MRRChurnRate),
		GrossMRRChurnRate: PercentageChange(cur.GrossMRRChurnRate, prev.GrossMRRChurnRate),
	}
}

// weekday of a Day (Sunday = 0); 1970-01-01 was a Thursday.
func weekday(d Day) time.Weekday {
	w := (int(d) + 4) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

// intervalStart returns the first day of the calendar interval holding d.
func (q *MetricsQuery) intervalStart(d Day) Day {
	y, m, _ := d.Date()
	switch q.Interval {
	case IntervalDay:
		return d
	case IntervalWeek:
		return d - Day((weekday(d)-q.WeekStart+7)%7)
	case IntervalMonth:
		return DateDay(y, m, 1)
	case IntervalQuarter:
		return DateDay(y, (m-1)/3*3+1, 1)
	default:
		return DateDay(y, 1, 1)
	}
}

// intervalEnd returns the last day of the calendar interval holding d.
func (q *MetricsQuery) intervalEnd(d Day) Day {
	s := q.intervalStart(d)
	switch q.Interval {
	case IntervalDay:
		return d
	case IntervalWeek:
		return s + 6
	case IntervalMonth:
		return s.addMonths(1) - 1
	case IntervalQuarter:
		return s.addMonths(3) - 1
	default:
		return s.addMonths(12) - 1
	}
}

// shiftBack moves d back by k intervals (months clamp to month ends).
func (q *MetricsQuery) shiftBack(d Day, k int) Day {
	switch q.Interval {
	case IntervalDay:
		return d - Day(k)
	case IntervalWeek:
		return d - Day(7*k)
	case IntervalMonth:
		return d.addMonths(-k)
	case IntervalQuarter:
		return d.addMonths(-3 * k)
	default:
		return d.addMonths(-12 * k)
	}
}

// Flow kinds of a view beyond the stored ones.
const (
	flowEntering = numFlowKinds + iota
	flowLeaving
	numViewKinds
)

// view is the filtered daily data of one query over days lo..lo+n-1.
type view struct {
	lo       Day
	n        int
	flows    [numViewKinds][]int64
	net      []int64 // customers joining minus leaving
	first    []int64 // first-time subscribers
	mrrBase  int64   // MRR at the end of day lo-1
	custBase int64   // customers at the end of day lo-1
	churns   []churnRecord
}

func newView(lo, hi Day) *view {
	v := &view{lo: lo, n: int(hi-lo) + 1}
	for k := range v.flows {
		v.flows[k] = make([]int64, v.n)
	}
	v.net = make([]int64, v.n)
	v.first = make([]int64, v.n)
	return v
}

func (v *view) addFlow(kind FlowKind, d Day, amount int64) {
	switch {
	case d < v.lo:
		v.mrrBase += amount
	case int(d-v.lo) < v.n:
		v.flows[kind][d-v.lo] += amount
	}
}

func (v *view) addNet(d Day, delta int64) {
	switch {
	case d == OpenEnd:
	case d < v.lo:
		v.custBase += delta
	case int(d-v.lo) < v.n:
		v.net[d-v.lo] += delta
	}
}

func (v *view) addFirst(d Day) {
	if d >= v.lo && int(d-v.lo) < v.n {
		v.first[d-v.lo]++
	}
}

// addSeries adds a stored daily series.
func (v *view) addSeries(s *dailySeries) {
	for i := 0; i < s.len(); i++ {
		d := s.first + Day(i)
		if d < v.lo {
			for k := range s.flows {
				v.mrrBase += s.flows[k][i]
			}
			v.custBase += s.net[i]
			continue
		}
		j := int(d - v.lo)
		if j >= v.n {
			break
		}
		for k := range s.flows {
			v.flows[k][j] += s.flows[k][i]
		}
		v.net[j] += s.net[i]
		v.first[j] += s.firstJoins[i]
	}
}

// view builds the data of a query over lo..hi. The caller holds a.mu.
func (a *Aggregate) view(lo, hi Day, q MetricsQuery) *view {
	v := newView(lo, hi)
	var countryOK []bool // by interned id; nil = all
	if q.Countries != nil {
		countryOK = make([]bool, len(a.countryIDs))
		for _, c := range q.Countries {
			if id, ok := a.countryIDs[strings.ToUpper(strings.TrimSpace(c))]; ok {
				countryOK[id] = true
			}
		}
	}
	inCountry := func(id int32) bool { return countryOK == nil || countryOK[id] }

	if q.PlanIDs == nil {
		if countryOK == nil {
			v.addSeries(&a.total)
			v.churns = a.churns
			return v
		}
		for name, id := range a.countryIDs {
			if countryOK[id] {
				v.addSeries(a.countries[name])
			}
		}
		for _, r := range a.churns {
			if countryOK[r.country] {
				v.churns = append(v.churns, r)
			}
		}
		return v
	}

	plans := newPlanSet(q.PlanIDs)
	var spans []DaySpan
	for _, e := range a.list {
		if !inCountry(e.country) {
			continue
		}
		c := e.c
		// Movements and FX on the filtered plans; the customer is new
		// business on the day of its first new-business movement on one.
		newBiz := false
		for _, f := range c.PlanFlows {
			if !plans.has(f.PlanID) {
				continue
			}
			v.addFlow(f.Kind, f.Day, f.AmountInCents)
			if f.Kind == FlowNewBusiness && !newBiz {
				newBiz = true
				v.addFirst(f.Day)
			}
		}
		for _, s := range c.PlanSwitches {
			from, to := plans.has(s.FromPlanID), plans.has(s.ToPlanID)
			switch {
			case from && to:
				if s.Kind < numFlowKinds {
					v.addFlow(s.Kind, s.Day, s.ToMRRInCents-s.FromMRRInCents)
				}
			case from:
				v.addFlow(flowLeaving, s.Day, -s.FromMRRInCents)
			case to:
				v.addFlow(flowEntering, s.Day, s.ToMRRInCents)
			}
		}
		// Customers: the union of its spans on the filtered plans.
		spans = spans[:0]
		for _, s := range c.PlanSpans {
			if plans.has(s.PlanID) {
				spans = append(spans, DaySpan{s.Start, s.End})
			}
		}
		if len(spans) == 0 {
			continue
		}
		slices.SortFunc(spans, func(a, b DaySpan) int { return cmp.Compare(a.Start, b.Start) })
		u := spans[:1]
		for _, s := range spans[1:] {
			if last := &u[len(u)-1]; s.Start <= last.End {
				last.End = max(last.End, s.End)
				continue
			}
			u = append(u, s)
		}
		for _, s := range u {
			v.addNet(s.Start, 1)
			v.addNet(s.End, -1)
		}
		v.churns = appendChurns(v.churns, e.country, u)
	}
	return v
}

// windowStats are the raw figures of one window.
type windowStats struct {
	startMRR, endMRR   int64
	flows              [numViewKinds]int64
	startCust, endCust int64
	newCust, churned   int64
}

// eval computes the figures of disjoint, ascending windows inside the view.
func (v *view) eval(ws []window) []windowStats {
	// Prefix sums: pre[k][i] is the total of days lo..lo+i-1.
	var pre [numViewKinds][]int64
	for k := range pre {
		p := make([]int64, v.n+1)
		for i, x := range v.flows[k] {
			p[i+1] = p[i] + x
		}
		pre[k] = p
	}
	mrr := make([]int64, v.n+1) // MRR at end of day lo+i-1
	cust := make([]int64, v.n+1)
	first := make([]int64, v.n+1)
	mrr[0], cust[0] = v.mrrBase, v.custBase
	for i := 0; i < v.n; i++ {
		var day int64
		for k := range pre {
			day += v.flows[k][i]
		}
		mrr[i+1] = mrr[i] + day
		cust[i+1] = cust[i] + v.net[i]
		first[i+1] = first[i] + v.first[i]
	}
	out := make([]windowStats, len(ws))
	winOf := make([]int32, v.n)
	for i := range winOf {
		winOf[i] = -1
	}
	for w, win := range ws {
		a, b := int(win.a-v.lo), int(win.b-v.lo)+1
		st := &out[w]
		st.startMRR, st.endMRR = mrr[a], mrr[b]
		st.startCust, st.endCust = cust[a], cust[b]
		st.newCust = first[b] - first[a]
		for k := range pre {
			st.flows[k] = pre[k][b] - pre[k][a]
		}
		for d := a; d < b; d++ {
			winOf[d] = int32(w)
		}
	}
	// Churned customers: subscribers at the window's start whose span ended
	// in it and who did not come back within it (metrics.md §6.1: churned −
	// joined-and-churned − churned-and-reactivated).
	for _, r := range v.churns {
		if r.end < v.lo || int(r.end-v.lo) >= v.n {
			continue
		}
		w := winOf[r.end-v.lo]
		if w < 0 {
			continue
		}
		if r.start < ws[w].a && r.next > ws[w].b {
			out[w].churned++
		}
	}
	return out
}

func (st *windowStats) values() MetricValues {
	m := MetricValues{MRR: st.endMRR, ARR: st.endMRR * 12, Customers: st.endCust}
	if st.endCust > 0 {
		m.ARPA = st.endMRR / st.endCust
	}
	if st.newCust > 0 {
		m.ASP = st.flows[FlowNewBusiness] / st.newCust
	}
	if st.startCust > 0 {
		m.CustomerChurnRate = round2(float64(st.churned) * 100 / float64(st.startCust))
	}
	if st.startMRR > 0 {
		lost := -(st.flows[FlowChurn] + st.flows[FlowContraction])
		won := st.flows[FlowExpansion] + st.flows[FlowReactivation]
		m.MRRChurnRate = round2(float64(lost-won) * 100 / float64(st.startMRR))
		m.GrossMRRChurnRate = round2(float64(lost) * 100 / float64(st.startMRR))
	}
	return m
}

func (st *windowStats) breakdown() MRRBreakdown {
	return MRRBreakdown{
		StartMRR:    st.startMRR,
		NewBusiness: st.flows[FlowNewBusiness], Expansion: st.flows[FlowExpansion],
		Contraction: st.flows[FlowContraction], Churn: st.flows[FlowChurn],
		Reactivation: st.flows[FlowReactivation], FXImpact: st.flows[FlowFX],
		EnteringSegment: st.flows[flowEntering], LeavingSegment: st.flows[flowLeaving],
		StartCustomers: st.startCust, NewCustomers: st.newCust, ChurnedCustomers: st.churned,
	}
}

// planSet is a plan filter: a short list is scanned (faster than a map
// for the few plans a filter usually names), a long one hashed.
type planSet struct {
	few  []int64
	many map[int64]bool
}

func newPlanSet(ids []int64) planSet {
	if len(ids) <= 8 {
		return planSet{few: ids}
	}
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return planSet{many: m}
}

func (p planSet) has(id int64) bool {
	if p.many != nil {
		return p.many[id]
	}
	for _, x := range p.few {
		if x == id {
			return true
		}
	}
	return false
}
