package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/analytics"
)

// The Metrics API (metrics.md §6.2): GET /v1/metrics/{all, mrr, arr, arpa,
// asp, customer-count, customer-churn-rate, mrr-churn-rate, ltv}, answered
// from the account's metrics aggregate, which the store keeps up to date
// with the analytics recompute.
//
// Choices where ChartMogul's documentation is silent:
//   - interval defaults as recorded answers show: day for mrr, arr, arpa
//     and customer-count; month for asp, the churn rates, ltv and all.
//   - start-date and end-date are required; they are dates (a timestamp is
//     read as its date in the account's time zone). End before start,
//     an unknown interval, country or plan answer 400 naming the
//     parameter.
//   - plans names plans by uuid, external id or name (in any data source of
//     the account), comma-separated; geo names countries by ISO code or
//     English name.
//   - mrr entries carry two members ChartMogul does not send, so that the
//     MRR identity can be checked from the answer alone: mrr-fx-impact
//     (exchange-rate re-valuation, which is no movement) always, and with a
//     plans filter mrr-entering-segment and mrr-leaving-segment. For every
//     entry, mrr = previous mrr + the sum of its movement and impact
//     members.
//   - a customer whose analytics cannot be computed (a missing exchange
//     rate) makes every metric incomplete: the answer is 422 naming the
//     currency and day, never figures that silently leave it out.

// analyticsRoutes registers the Metrics API: metrics, activities and
// customers' subscriptions.
func (s *Server) analyticsRoutes(route router) {
	for _, m := range metricKinds {
		route("GET /v1/metrics/"+m.path, s.metricsHandler(m))
	}
	route("GET /v1/activities", s.listActivities)
	route("GET /v1/customers/{uuid}/activities", s.listCustomerActivities)
	route("GET /v1/customers/{uuid}/subscriptions", s.listCustomerSubscriptions)
	route("POST /v1/customers/{uuid}/connect_subscriptions", s.connectSubscriptions(true))
	route("POST /v1/customers/{uuid}/disconnect_subscriptions", s.connectSubscriptions(false))
}

// metricKind is one metrics endpoint: its path, its default interval, and
// how one entry and the summary look.
type metricKind struct {
	path     string
	interval analytics.Interval
	// key is the entry member of single-metric endpoints.
	key   string
	value func(v *analytics.MetricValues) number
}

// number is an integer amount or a rate, encoded as JSON numbers either
// way.
type number struct {
	i     int64
	f     float64
	float bool
}

func intNum(i int64) number     { return number{i: i} }
func floatNum(f float64) number { return number{f: f, float: true} }

func (n number) append(b []byte) []byte {
	if n.float {
		return strconv.AppendFloat(b, n.f, 'f', -1, 64)
	}
	return strconv.AppendInt(b, n.i, 10)
}

var metricKinds = []metricKind{
	{path: "all", interval: analytics.IntervalMonth},
	{path: "mrr", interval: analytics.IntervalDay},
	{path: "arr", interval: analytics.IntervalDay, key: "arr", value: func(v *analytics.MetricValues) number { return intNum(v.ARR) }},
	{path: "arpa", interval: analytics.IntervalDay, key: "arpa", value: func(v *analytics.MetricValues) number { return intNum(v.ARPA) }},
	{path: "asp", interval: analytics.IntervalMonth, key: "asp", value: func(v *analytics.MetricValues) number { return intNum(v.ASP) }},
	{path: "customer-count", interval: analytics.IntervalDay, key: "customers", value: func(v *analytics.MetricValues) number { return intNum(v.Customers) }},
	{path: "customer-churn-rate", interval: analytics.IntervalMonth, key: "customer-churn-rate", value: func(v *analytics.MetricValues) number { return floatNum(v.CustomerChurnRate) }},
	{path: "mrr-churn-rate", interval: analytics.IntervalMonth, key: "mrr-churn-rate", value: func(v *analytics.MetricValues) number { return floatNum(v.MRRChurnRate) }},
	{path: "ltv", interval: analytics.IntervalMonth, key: "ltv", value: func(v *analytics.MetricValues) number { return intNum(v.LTV) }},
}

func badParam(param, format string, args ...any) error {
	return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: param, Message: fmt.Sprintf(format, args...)}
}

// accountLocation is the account's time zone (UTC when unknown).
func accountLocation(a *chartmogul.Account) *time.Location {
	if loc, err := time.LoadLocation(a.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// dayParam reads a date parameter: YYYY-MM-DD, or a timestamp taken as its
// day in loc. required makes a missing one an error; ok is false when it
// is absent.
func dayParam(r *http.Request, name string, loc *time.Location, required bool) (d analytics.Day, ok bool, err error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		if required {
			return 0, false, badParam(name, "Parameter %q is required: a date such as 2024-01-31.", name)
		}
		return 0, false, nil
	}
	if d, err := analytics.ParseDay(v); err == nil {
		return d, true, nil
	}
	t, err := chartmogul.ParseTime(v)
	if err != nil {
		return 0, false, badParam(name, "Parameter %q must be a date such as 2024-01-31; got %s.", name, chartmogul.Quote(v))
	}
	return analytics.DayOf(t, loc), true, nil
}

// listParam splits a comma-separated parameter, dropping empty items.
func listParam(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

var intervals = []string{"day", "week", "month", "quarter", "year"}

// metricsQuery reads a metrics request's parameters.
func (s *Server) metricsQuery(r *http.Request, def analytics.Interval) (analytics.MetricsQuery, error) {
	c := callerOf(r.Context())
	loc := accountLocation(c.account)
	q := analytics.MetricsQuery{Interval: def, Today: analytics.DayOf(s.Now(), loc), WeekStart: time.Monday}
	if c.account.WeekStartOn == "sunday" {
		q.WeekStart = time.Sunday
	}
	var err error
	if q.Start, _, err = dayParam(r, "start-date", loc, true); err != nil {
		return q, err
	}
	if q.End, _, err = dayParam(r, "end-date", loc, true); err != nil {
		return q, err
	}
	if q.End < q.Start {
		return q, badParam("end-date", "Parameter \"end-date\" (%s) is before \"start-date\" (%s); the report runs from start-date to end-date.", q.End, q.Start)
	}
	if v := strings.TrimSpace(r.URL.Query().Get("interval")); v != "" {
		if !slices.Contains(intervals, v) {
			return q, badParam("interval", "Parameter \"interval\" must be one of day, week, month, quarter or year; got %s.", chartmogul.Quote(v))
		}
		q.Interval = analytics.Interval(v)
	}
	if geo := listParam(r, "geo"); len(geo) > 0 {
		q.Countries = []string{}
		for _, g := range geo {
			code, ok := chartmogul.LookupCountry(g)
			if !ok {
				return q, badParam("geo", "Parameter \"geo\" names countries by ISO 3166-1 alpha-2 code, comma-separated, such as US,GB; %s is not one.", chartmogul.Quote(g))
			}
			q.Countries = append(q.Countries, code)
		}
	}
	if plans := listParam(r, "plans"); len(plans) > 0 {
		ids, unknown, err := s.Store.ResolvePlans(r.Context(), c.account.ID, plans)
		if err != nil {
			return q, err
		}
		if len(unknown) > 0 {
			quoted := make([]string, len(unknown))
			for i, u := range unknown {
				quoted[i] = chartmogul.Quote(u)
			}
			return q, badParam("plans", "Parameter \"plans\" names plans by uuid, external id or name, comma-separated; this account has no plan %s.", strings.Join(quoted, ", "))
		}
		q.PlanIDs = ids
	}
	return q, nil
}

// metrics answers a metrics query from the account's aggregate, or 422
// when customers are missing from it.
func (s *Server) metrics(r *http.Request, q analytics.MetricsQuery) (analytics.MetricsResult, error) {
	agg, problems, err := s.Store.Metrics(r.Context(), callerOf(r.Context()).account.ID)
	if err != nil {
		return analytics.MetricsResult{}, err
	}
	if len(problems) > 0 {
		return analytics.MetricsResult{}, incomplete(problems[0].Message, len(problems))
	}
	res, err := agg.Metrics(q)
	if err != nil {
		// The parameters were checked; what is left is a range too long
		// for its interval.
		return res, badParam("interval", "The report would have too many entries (%s); choose a longer interval or a shorter range.", strings.TrimPrefix(err.Error(), "analytics: "))
	}
	return res, nil
}

// incomplete is the answer when customers' analytics could not be computed.
func incomplete(first string, n int) error {
	who := "1 customer is"
	if n > 1 {
		who = fmt.Sprintf("%d customers are", n)
	}
	return chartmogul.Invalid(map[string]string{"analytics": fmt.Sprintf("The figures would be incomplete: %s missing from them. %s", who, first)})
}

func (s *Server) metricsHandler(m metricKind) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := s.metricsQuery(r, m.interval)
		if err != nil {
			return err
		}
		res, err := s.metrics(r, q)
		if err != nil {
			return err
		}
		switch m.path {
		case "all":
			writeJSON(w, http.StatusOK, allMetricsJSON(&res))
		case "mrr":
			writeJSON(w, http.StatusOK, mrrMetricsJSON(&res, q.PlanIDs != nil))
		default:
			writeJSON(w, http.StatusOK, singleMetricJSON(m, &res))
		}
		return nil
	}
}

// object is a JSON object whose members keep their order: the metrics
// answers follow the recorded key order, which differs per endpoint.
type object []member

type member struct {
	key   string
	value any // number, string, bool, object or []object
}

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32*len(o))
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, m.key)
		b = append(b, ':')
		switch v := m.value.(type) {
		case number:
			b = v.append(b)
		case string:
			b = strconv.AppendQuote(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case object:
			inner, _ := v.MarshalJSON()
			b = append(b, inner...)
		case []object:
			b = append(b, '[')
			for k, e := range v {
				if k > 0 {
					b = append(b, ',')
				}
				inner, _ := e.MarshalJSON()
				b = append(b, inner...)
			}
			b = append(b, ']')
		default:
			return nil, fmt.Errorf("api: cannot encode %T", v)
		}
	}
	return append(b, '}'), nil
}

// allFields are the metrics of /v1/metrics/all in the recorded order.
var allFields = []struct {
	name  string
	value func(v *analytics.MetricValues) number
	delta func(c *analytics.MetricChanges) float64
}{
	{"mrr", func(v *analytics.MetricValues) number { return intNum(v.MRR) }, func(c *analytics.MetricChanges) float64 { return c.MRR }},
	{"arr", func(v *analytics.MetricValues) number { return intNum(v.ARR) }, func(c *analytics.MetricChanges) float64 { return c.ARR }},
	{"customer-churn-rate", func(v *analytics.MetricValues) number { return floatNum(v.CustomerChurnRate) }, func(c *analytics.MetricChanges) float64 { return c.CustomerChurnRate }},
	{"mrr-churn-rate", func(v *analytics.MetricValues) number { return floatNum(v.MRRChurnRate) }, func(c *analytics.MetricChanges) float64 { return c.MRRChurnRate }},
	{"ltv", func(v *analytics.MetricValues) number { return intNum(v.LTV) }, func(c *analytics.MetricChanges) float64 { return c.LTV }},
	{"customers", func(v *analytics.MetricValues) number { return intNum(v.Customers) }, func(c *analytics.MetricChanges) float64 { return c.Customers }},
	{"asp", func(v *analytics.MetricValues) number { return intNum(v.ASP) }, func(c *analytics.MetricChanges) float64 { return c.ASP }},
	{"arpa", func(v *analytics.MetricValues) number { return intNum(v.ARPA) }, func(c *analytics.MetricChanges) float64 { return c.ARPA }},
}

func allMetricsJSON(res *analytics.MetricsResult) object {
	entries := make([]object, len(res.Entries))
	for i := range res.Entries {
		e := &res.Entries[i]
		o := make(object, 0, 1+2*len(allFields))
		o = append(o, member{"date", e.Date.String()})
		for _, f := range allFields {
			o = append(o, member{f.name, f.value(&e.Values)}, member{f.name + "-percentage-change", floatNum(f.delta(&e.Change))})
		}
		entries[i] = o
	}
	sum := make(object, 0, 3*len(allFields))
	for _, f := range allFields {
		sum = append(sum, member{"current-" + f.name, f.value(&res.Summary.Current)}, member{"previous-" + f.name, f.value(&res.Summary.Previous)},
			member{f.name + "-percentage-change", floatNum(f.delta(&res.Summary.Change))})
	}
	return object{{"entries", entries}, {"summary", sum}}
}

func mrrMetricsJSON(res *analytics.MetricsResult, segments bool) object {
	entries := make([]object, len(res.Entries))
	for i := range res.Entries {
		e := &res.Entries[i]
		b := &e.Breakdown
		o := object{{"date", e.Date.String()}, {"mrr", intNum(e.Values.MRR)}, {"percentage-change", floatNum(e.Change.MRR)},
			{"mrr-new-business", intNum(b.NewBusiness)}, {"mrr-expansion", intNum(b.Expansion)}, {"mrr-contraction", intNum(b.Contraction)},
			{"mrr-churn", intNum(b.Churn)}, {"mrr-reactivation", intNum(b.Reactivation)}, {"mrr-fx-impact", intNum(b.FXImpact)}}
		if segments {
			o = append(o, member{"mrr-entering-segment", intNum(b.EnteringSegment)}, member{"mrr-leaving-segment", intNum(b.LeavingSegment)})
		}
		entries[i] = o
	}
	return object{{"entries", entries}, {"summary", summaryJSON(intNum(res.Summary.Current.MRR), intNum(res.Summary.Previous.MRR), res.Summary.Change.MRR)}}
}

func singleMetricJSON(m metricKind, res *analytics.MetricsResult) object {
	entries := make([]object, len(res.Entries))
	for i := range res.Entries {
		e := &res.Entries[i]
		entries[i] = object{{"date", e.Date.String()}, {m.key, m.value(&e.Values)}, {"percentage-change", floatNum(changeOf(m.key, &e.Change))}}
	}
	sum := &res.Summary
	return object{{"entries", entries}, {"summary", summaryJSON(m.value(&sum.Current), m.value(&sum.Previous), changeOf(m.key, &sum.Change))}}
}

func summaryJSON(current, previous number, change float64) object {
	return object{{"current", current}, {"previous", previous}, {"percentage-change", floatNum(change)}}
}

func changeOf(key string, c *analytics.MetricChanges) float64 {
	switch key {
	case "arr":
		return c.ARR
	case "arpa":
		return c.ARPA
	case "asp":
		return c.ASP
	case "customers":
		return c.Customers
	case "customer-churn-rate":
		return c.CustomerChurnRate
	case "mrr-churn-rate":
		return c.MRRChurnRate
	case "ltv":
		return c.LTV
	}
	return c.MRR
}

// LayoutOffset is the layout of the Metrics API's timestamps
// ("2016-01-01T12:00:00+00:00"), in UTC.
const LayoutOffset = "2006-01-02T15:04:05+00:00"

func offsetTime(t time.Time) string { return t.UTC().Format(LayoutOffset) }

func optOffset(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := offsetTime(*t)
	return &s
}

// accountSettingNames are the settings GET /v1/account?include= may add,
// in the order they are answered.
var accountSettingNames = []string{"churn_recognition", "churn_when_zero_mrr", "auto_churn_subscription", "refund_handling", "proximate_movement_reclassification"}

// accountWithSettings answers GET /v1/account?include=…: the account and
// the analytics settings named, with the values ChartMogul's Node client
// types (churn_recognition "churn_at_time_of_cancelation" or
// "churn_at_period_end", churn_when_zero_mrr a boolean). The settings Recur
// has no choice for answer what it does: no auto-churn, refunds ignored,
// Smart Activity Classification over one hour. 400 names an unknown one.
func (s *Server) accountWithSettings(w http.ResponseWriter, r *http.Request, a *chartmogul.Account) error {
	want := map[string]bool{}
	for _, name := range listParam(r, "include") {
		if !slices.Contains(accountSettingNames, name) {
			return badParam("include", "Parameter \"include\" lists settings among %s; %s is not one.", strings.Join(accountSettingNames, ", "), chartmogul.Quote(name))
		}
		want[name] = true
	}
	set, err := s.Store.AnalyticsSettings(r.Context(), a.ID)
	if err != nil {
		return err
	}
	o := object{{"id", a.UUID}, {"name", a.Name}, {"currency", set.Currency}, {"time_zone", set.TimeZone}, {"week_start_on", set.WeekStartOn}}
	for _, name := range accountSettingNames {
		if !want[name] {
			continue
		}
		var v any
		switch name {
		case "churn_recognition":
			v = set.ChurnRecognition
		case "churn_when_zero_mrr":
			v = set.ChurnWhenZeroMRR
		case "auto_churn_subscription":
			v = false
		case "refund_handling":
			v = "refund_ignore"
		case "proximate_movement_reclassification":
			v = "one_hour_reclassification"
		}
		o = append(o, member{name, v})
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}
