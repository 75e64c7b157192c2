package gen_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/gen"
)

// The payload shape, with every field the generator may emit. Decoding
// uses DisallowUnknownFields, so a misspelt key fails the tests.
type (
	tPayload struct {
		ExternalID         *string         `json:"external_id"`
		Customers          []tCustomer     `json:"customers"`
		Plans              []tPlan         `json:"plans"`
		Invoices           []tInvoice      `json:"invoices"`
		LineItems          []tLineItem     `json:"line_items"`
		Transactions       []tTransaction  `json:"transactions"`
		SubscriptionEvents []tSubscription `json:"subscription_events"`
	}
	tCustomer struct {
		ExternalID         string `json:"external_id"`
		Name               string `json:"name"`
		Email              string `json:"email"`
		Company            string `json:"company"`
		Country            string `json:"country"`
		State              string `json:"state"`
		City               string `json:"city"`
		Zip                string `json:"zip"`
		LeadCreatedAt      string `json:"lead_created_at"`
		FreeTrialStartedAt string `json:"free_trial_started_at"`
	}
	tPlan struct {
		ExternalID    string `json:"external_id"`
		Name          string `json:"name"`
		IntervalCount int    `json:"interval_count"`
		IntervalUnit  string `json:"interval_unit"`
	}
	tInvoice struct {
		ExternalID         string `json:"external_id"`
		CustomerExternalID string `json:"customer_external_id"`
		Date               string `json:"date"`
		DueDate            string `json:"due_date"`
		Currency           string `json:"currency"`
		CollectionMethod   string `json:"collection_method"`
	}
	tLineItem struct {
		ExternalID              string `json:"external_id"`
		InvoiceExternalID       string `json:"invoice_external_id"`
		Type                    string `json:"type"`
		SubscriptionExternalID  string `json:"subscription_external_id"`
		PlanExternalID          string `json:"plan_external_id"`
		ServicePeriodStart      string `json:"service_period_start"`
		ServicePeriodEnd        string `json:"service_period_end"`
		Description             string `json:"description"`
		AmountInCents           *int64 `json:"amount_in_cents"`
		Quantity                *int64 `json:"quantity"`
		DiscountAmountInCents   int64  `json:"discount_amount_in_cents"`
		DiscountCode            string `json:"discount_code"`
		DiscountDescription     string `json:"discount_description"`
		TaxAmountInCents        int64  `json:"tax_amount_in_cents"`
		TransactionFeesInCents  int64  `json:"transaction_fees_in_cents"`
		TransactionFeesCurrency string `json:"transaction_fees_currency"`
	}
	tTransaction struct {
		ExternalID        string `json:"external_id"`
		InvoiceExternalID string `json:"invoice_external_id"`
		Type              string `json:"type"`
		Result            string `json:"result"`
		Date              string `json:"date"`
		AmountInCents     *int64 `json:"amount_in_cents"`
	}
	tSubscription struct {
		ExternalID             string `json:"external_id"`
		CustomerExternalID     string `json:"customer_external_id"`
		SubscriptionExternalID string `json:"subscription_external_id"`
		EventType              string `json:"event_type"`
		EventDate              string `json:"event_date"`
		EffectiveDate          string `json:"effective_date"`
		PlanExternalID         string `json:"plan_external_id"`
		Currency               string `json:"currency"`
		AmountInCents          *int64 `json:"amount_in_cents"`
		Quantity               *int64 `json:"quantity"`
	}
)

var horizon = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ISO 3166-1 alpha-2 codes.
var isoCountries = strings.Fields(`
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW
BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI
FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN
IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE
YT ZA ZM ZW`)

// US states plus DC.
var usStates = strings.Fields(`
AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND
OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY`)

var eventTypes = []string{
	"subscription_start_scheduled", "subscription_start", "scheduled_subscription_start_retracted",
	"subscription_cancellation_scheduled", "subscription_cancelled", "scheduled_subscription_cancellation_retracted",
	"subscription_update_scheduled", "subscription_updated", "scheduled_subscription_update_retracted",
	"subscription_event_retracted",
}

var emailRE = regexp.MustCompile(`^[a-z0-9]+([._][a-z0-9]+)*@[a-z0-9]+(-[a-z0-9]+)*(\.[a-z]{2,})+$`)

const (
	layoutSpace = "2006-01-02 15:04:05"
	layoutISO   = "2006-01-02T15:04:05Z"
)

// checker validates one payload and collects failures.
type checker struct {
	t       *testing.T
	errs    int
	layouts [2]int // dates seen per layout
}

func (c *checker) errorf(format string, args ...any) {
	c.t.Helper()
	c.errs++
	if c.errs <= 20 {
		c.t.Errorf(format, args...)
	} else if c.errs == 21 {
		c.t.Errorf("too many errors")
	}
}

// date parses one of the two generated layouts and checks it is before the horizon.
func (c *checker) date(what, s string) time.Time {
	c.t.Helper()
	var t time.Time
	var err error
	if strings.Contains(s, "T") {
		t, err = time.Parse(layoutISO, s)
		c.layouts[1]++
	} else {
		t, err = time.Parse(layoutSpace, s)
		c.layouts[0]++
	}
	if err != nil {
		c.errorf("%s: bad date %q: %v", what, s, err)
		return t
	}
	if !t.Before(horizon) {
		c.errorf("%s: date %s not before 2026-01-01", what, s)
	}
	if t.Year() < 2000 {
		c.errorf("%s: date %s before 2000", what, s)
	}
	return t
}

// unique records id in seen, reporting empty and duplicate ids.
func (c *checker) unique(kind string, seen map[string]bool, id string) {
	c.t.Helper()
	if id == "" {
		c.errorf("%s: empty external_id", kind)
	}
	if seen[id] {
		c.errorf("%s: duplicate external_id %q", kind, id)
	}
	seen[id] = true
}

// addMonths adds n months, clamping to the end of a shorter month.
func addMonths(t time.Time, n int) time.Time {
	u := t.AddDate(0, n, 0)
	if u.Day() != t.Day() {
		u = u.AddDate(0, 0, -u.Day())
	}
	return u
}

// oneInterval reports whether [start, end) is one billing interval of n
// months. Billing anchored on the 29th-31st lands on the anchor day where
// the month has it, so a period starting on the last day of a short month
// may end a few days after start + n months.
func oneInterval(start, end time.Time, n int) bool {
	want := addMonths(start, n)
	if lastDay := start.AddDate(0, 0, 1).Day() == 1; !lastDay {
		return end.Equal(want)
	}
	return end.Year() == want.Year() && end.Month() == want.Month() && !end.Before(want)
}

// decode decodes data strictly: known fields only, one JSON value, all six arrays present.
func decode(t *testing.T, data []byte) *tPayload {
	t.Helper()
	if !json.Valid(data) {
		t.Fatal("payload is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p tPayload
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("trailing data after payload: %v", err)
	}
	if p.Customers == nil || p.Plans == nil || p.Invoices == nil || p.LineItems == nil ||
		p.Transactions == nil || p.SubscriptionEvents == nil {
		t.Fatal("payload lacks one of the six arrays")
	}
	return &p
}

// check decodes and validates a payload as a strict importer would, and
// checks st against it.
func check(t *testing.T, data []byte, st gen.Stats) (*tPayload, *checker) {
	t.Helper()
	p := decode(t, data)
	c := &checker{t: t}

	counts := gen.Stats{
		Customers: len(p.Customers), Plans: len(p.Plans), Invoices: len(p.Invoices),
		LineItems: len(p.LineItems), Transactions: len(p.Transactions),
		SubscriptionEvents: len(p.SubscriptionEvents), Bytes: len(data),
	}
	if st != counts {
		c.errorf("stats %+v, payload has %+v", st, counts)
	}
	if st.Records() != counts.Customers+counts.Plans+counts.Invoices+counts.LineItems+counts.Transactions+counts.SubscriptionEvents {
		c.errorf("Records() = %d, want the sum of the counts", st.Records())
	}

	// Customers.
	type custInfo struct {
		lead, trial  time.Time
		firstInvoice time.Time
		invoices     int
	}
	customers := map[string]*custInfo{}
	seen := map[string]bool{}
	for _, cu := range p.Customers {
		c.unique("customer", seen, cu.ExternalID)
		ci := &custInfo{lead: c.date(cu.ExternalID+" lead_created_at", cu.LeadCreatedAt)}
		customers[cu.ExternalID] = ci
		if cu.FreeTrialStartedAt != "" {
			ci.trial = c.date(cu.ExternalID+" free_trial_started_at", cu.FreeTrialStartedAt)
			if ci.trial.Before(ci.lead) {
				c.errorf("%s: free trial before lead", cu.ExternalID)
			}
		}
		if cu.Name == "" || cu.Company == "" || cu.City == "" || cu.Zip == "" {
			c.errorf("%s: missing name/company/city/zip: %+v", cu.ExternalID, cu)
		}
		if a, err := mail.ParseAddress(cu.Email); err != nil || a.Address != cu.Email || !emailRE.MatchString(cu.Email) {
			c.errorf("%s: invalid email %q (%v)", cu.ExternalID, cu.Email, err)
		}
		if !slices.Contains(isoCountries, cu.Country) {
			c.errorf("%s: invalid country %q", cu.ExternalID, cu.Country)
		}
		switch {
		case cu.Country == "US" && !slices.Contains(usStates, cu.State):
			c.errorf("%s: US customer with state %q", cu.ExternalID, cu.State)
		case cu.Country != "US" && cu.State != "":
			c.errorf("%s: non-US customer with state %q", cu.ExternalID, cu.State)
		}
	}

	// Plans: all referenced, intervals valid.
	planMonths := map[string]int{}
	seen = map[string]bool{}
	for _, pl := range p.Plans {
		c.unique("plan", seen, pl.ExternalID)
		if pl.Name == "" || pl.IntervalCount <= 0 {
			c.errorf("plan %s: bad name or interval_count: %+v", pl.ExternalID, pl)
		}
		switch pl.IntervalUnit {
		case "month":
			planMonths[pl.ExternalID] = pl.IntervalCount
		case "year":
			planMonths[pl.ExternalID] = 12 * pl.IntervalCount
		default:
			c.errorf("plan %s: interval_unit %q", pl.ExternalID, pl.IntervalUnit)
		}
	}
	usedPlans := map[string]bool{}

	// Invoices.
	type invInfo struct {
		customer  string
		date      time.Time
		currency  string
		total     int64
		items     int
		paid      int
		paidAt    time.Time
		refunded  int64
		lastTried time.Time
	}
	invoices := map[string]*invInfo{}
	for _, in := range p.Invoices {
		ii := &invInfo{customer: in.CustomerExternalID, currency: in.Currency}
		if invoices[in.ExternalID] != nil || in.ExternalID == "" {
			c.errorf("invoice: empty or duplicate external_id %q", in.ExternalID)
		}
		invoices[in.ExternalID] = ii
		ii.date = c.date(in.ExternalID+" date", in.Date)
		due := c.date(in.ExternalID+" due_date", in.DueDate)
		if due.Before(ii.date) {
			c.errorf("%s: due_date before date", in.ExternalID)
		}
		if !slices.Contains([]string{"USD", "EUR", "GBP"}, in.Currency) {
			c.errorf("%s: currency %q", in.ExternalID, in.Currency)
		}
		if in.CollectionMethod != "automatic" && in.CollectionMethod != "manual" {
			c.errorf("%s: collection_method %q", in.ExternalID, in.CollectionMethod)
		}
		cu := customers[in.CustomerExternalID]
		if cu == nil {
			c.errorf("%s: unknown customer %q", in.ExternalID, in.CustomerExternalID)
			continue
		}
		if cu.invoices == 0 || ii.date.Before(cu.firstInvoice) {
			cu.firstInvoice = ii.date
		}
		cu.invoices++
	}
	for id, cu := range customers {
		if cu.invoices == 0 {
			c.errorf("%s: customer without invoices", id)
			continue
		}
		if !cu.lead.Before(cu.firstInvoice) {
			c.errorf("%s: lead_created_at %s not before first invoice %s", id, cu.lead, cu.firstInvoice)
		}
		if !cu.trial.IsZero() && !cu.trial.Before(cu.firstInvoice) {
			c.errorf("%s: free trial not before first invoice", id)
		}
	}

	// Line items, and the service periods of each subscription.
	type span struct{ start, end time.Time }
	subs := map[string][]span{}
	subCustomer := map[string]string{}
	seen = map[string]bool{}
	for _, li := range p.LineItems {
		c.unique("line item", seen, li.ExternalID)
		ii := invoices[li.InvoiceExternalID]
		if ii == nil {
			c.errorf("%s: unknown invoice %q", li.ExternalID, li.InvoiceExternalID)
			continue
		}
		ii.items++
		if li.AmountInCents == nil || *li.AmountInCents < 0 {
			c.errorf("%s: missing or negative amount_in_cents", li.ExternalID)
			continue
		}
		amount := *li.AmountInCents
		ii.total += amount
		if li.Quantity == nil || *li.Quantity < 1 {
			c.errorf("%s: quantity must be a positive integer", li.ExternalID)
		}
		if li.TaxAmountInCents < 0 || li.TaxAmountInCents > amount || li.DiscountAmountInCents < 0 {
			c.errorf("%s: tax %d / discount %d inconsistent with amount %d", li.ExternalID, li.TaxAmountInCents, li.DiscountAmountInCents, amount)
		}
		if (li.DiscountAmountInCents > 0) != (li.DiscountCode != "") {
			c.errorf("%s: discount amount and code disagree", li.ExternalID)
		}
		if li.TransactionFeesInCents < 0 || (li.TransactionFeesInCents > 0) != (li.TransactionFeesCurrency != "") ||
			(li.TransactionFeesCurrency != "" && li.TransactionFeesCurrency != ii.currency) {
			c.errorf("%s: bad transaction fees %d %q", li.ExternalID, li.TransactionFeesInCents, li.TransactionFeesCurrency)
		}
		switch li.Type {
		case "subscription":
			months, ok := planMonths[li.PlanExternalID]
			if !ok {
				c.errorf("%s: unknown plan %q", li.ExternalID, li.PlanExternalID)
			}
			usedPlans[li.PlanExternalID] = true
			if li.SubscriptionExternalID == "" {
				c.errorf("%s: no subscription_external_id", li.ExternalID)
			}
			if owner, ok := subCustomer[li.SubscriptionExternalID]; ok && owner != ii.customer {
				c.errorf("%s: subscription %s used by two customers", li.ExternalID, li.SubscriptionExternalID)
			}
			subCustomer[li.SubscriptionExternalID] = ii.customer
			s := c.date(li.ExternalID+" service_period_start", li.ServicePeriodStart)
			e := c.date(li.ExternalID+" service_period_end", li.ServicePeriodEnd)
			if !e.After(s) {
				c.errorf("%s: service_period_end %s not after start %s", li.ExternalID, e, s)
			}
			if ok && !oneInterval(s, e, months) {
				c.errorf("%s: period %s..%s is not one %d-month interval", li.ExternalID, s, e, months)
			}
			if s.Before(ii.date) {
				c.errorf("%s: service period starts before its invoice", li.ExternalID)
			}
			subs[li.SubscriptionExternalID] = append(subs[li.SubscriptionExternalID], span{s, e})
		case "one_time":
			if li.SubscriptionExternalID != "" || li.PlanExternalID != "" || li.ServicePeriodStart != "" || li.ServicePeriodEnd != "" {
				c.errorf("%s: one_time item with subscription fields", li.ExternalID)
			}
			if li.Description == "" {
				c.errorf("%s: one_time item without description", li.ExternalID)
			}
		default:
			c.errorf("%s: line item type %q", li.ExternalID, li.Type)
		}
	}
	for id, spans := range subs {
		slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
		for i := 1; i < len(spans); i++ {
			if spans[i].start.Before(spans[i-1].end) {
				c.errorf("subscription %s: overlapping periods %v and %v", id, spans[i-1], spans[i])
			}
		}
	}
	for id, ii := range invoices {
		if ii.items == 0 {
			c.errorf("%s: invoice without line items", id)
		}
	}

	// Transactions.
	seen = map[string]bool{}
	for _, tr := range p.Transactions {
		c.unique("transaction", seen, tr.ExternalID)
		ii := invoices[tr.InvoiceExternalID]
		if ii == nil {
			c.errorf("%s: unknown invoice %q", tr.ExternalID, tr.InvoiceExternalID)
			continue
		}
		d := c.date(tr.ExternalID+" date", tr.Date)
		if d.Before(ii.date) {
			c.errorf("%s: transaction before its invoice", tr.ExternalID)
		}
		if tr.AmountInCents == nil || *tr.AmountInCents <= 0 || *tr.AmountInCents > ii.total {
			c.errorf("%s: amount %v not within the invoice total %d", tr.ExternalID, tr.AmountInCents, ii.total)
			continue
		}
		switch {
		case tr.Type == "payment" && tr.Result == "failed":
			if ii.paid > 0 || d.Before(ii.lastTried) {
				c.errorf("%s: failed attempt out of order", tr.ExternalID)
			}
			ii.lastTried = d
		case tr.Type == "payment" && tr.Result == "successful":
			if *tr.AmountInCents != ii.total {
				c.errorf("%s: payment %d != invoice total %d", tr.ExternalID, *tr.AmountInCents, ii.total)
			}
			if d.Before(ii.lastTried) {
				c.errorf("%s: payment before a failed attempt", tr.ExternalID)
			}
			ii.paid++
			ii.paidAt = d
		case tr.Type == "refund" && tr.Result == "successful":
			if ii.paid == 0 || d.Before(ii.paidAt) {
				c.errorf("%s: refund before payment", tr.ExternalID)
			}
			ii.refunded += *tr.AmountInCents
		default:
			c.errorf("%s: type %q result %q", tr.ExternalID, tr.Type, tr.Result)
		}
	}
	for id, ii := range invoices {
		if ii.paid != 1 {
			c.errorf("%s: %d successful payments, want 1", id, ii.paid)
		}
		if ii.refunded > ii.total {
			c.errorf("%s: refunded %d of %d", id, ii.refunded, ii.total)
		}
	}

	// Subscription events.
	seen = map[string]bool{}
	for _, ev := range p.SubscriptionEvents {
		c.unique("subscription event", seen, ev.ExternalID)
		if customers[ev.CustomerExternalID] == nil {
			c.errorf("%s: unknown customer %q", ev.ExternalID, ev.CustomerExternalID)
		}
		if !slices.Contains(eventTypes, ev.EventType) {
			c.errorf("%s: event_type %q", ev.ExternalID, ev.EventType)
		}
		if ev.SubscriptionExternalID == "" {
			c.errorf("%s: no subscription_external_id", ev.ExternalID)
		}
		if owner, ok := subCustomer[ev.SubscriptionExternalID]; ok && owner != ev.CustomerExternalID {
			c.errorf("%s: subscription of another customer", ev.ExternalID)
		}
		ed := c.date(ev.ExternalID+" event_date", ev.EventDate)
		eff := c.date(ev.ExternalID+" effective_date", ev.EffectiveDate)
		if eff.Before(ed) {
			c.errorf("%s: effective_date before event_date", ev.ExternalID)
		}
		needsPlan := strings.HasPrefix(ev.EventType, "subscription_start") || strings.HasPrefix(ev.EventType, "subscription_update")
		if needsPlan {
			if _, ok := planMonths[ev.PlanExternalID]; !ok {
				c.errorf("%s: unknown plan %q", ev.ExternalID, ev.PlanExternalID)
			}
			usedPlans[ev.PlanExternalID] = true
			if !slices.Contains([]string{"USD", "EUR", "GBP"}, ev.Currency) || ev.AmountInCents == nil ||
				*ev.AmountInCents < 0 || ev.Quantity == nil || *ev.Quantity < 1 {
				c.errorf("%s: incomplete %s: %+v", ev.ExternalID, ev.EventType, ev)
			}
		} else if ev.PlanExternalID != "" {
			usedPlans[ev.PlanExternalID] = true
		}
	}
	for _, pl := range p.Plans {
		if !usedPlans[pl.ExternalID] {
			c.errorf("plan %s is never referenced", pl.ExternalID)
		}
	}
	return p, c
}

func mustPayload(t testing.TB, o gen.Options) ([]byte, gen.Stats) {
	t.Helper()
	data, st, err := gen.Payload(o)
	if err != nil {
		t.Fatalf("Payload(%+v): %v", o, err)
	}
	return data, st
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	o := gen.Options{Customers: 200, Seed: 42, ExternalID: "bench"}
	a, sa := mustPayload(t, o)
	b, sb := mustPayload(t, o)
	if !bytes.Equal(a, b) || sa != sb {
		t.Fatal("same options gave different payloads")
	}
	var buf bytes.Buffer
	sw, err := gen.Write(&buf, o)
	if err != nil || !bytes.Equal(buf.Bytes(), a) || sw != sa {
		t.Fatalf("Write differs from Payload (err %v)", err)
	}
	o.Seed = 43
	c, _ := mustPayload(t, o)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave identical payloads")
	}
	// The zero Start means the default, explicitly or not.
	o.Seed = 42
	o.Start, o.Months = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 12
	d, _ := mustPayload(t, o)
	if !bytes.Equal(a, d) {
		t.Fatal("explicit defaults differ from zero values")
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		o    gen.Options
	}{
		{"one customer", gen.Options{Customers: 1}},
		{"small", gen.Options{Customers: 30, Seed: 7}},
		{"offset and odd external id", gen.Options{Customers: 50, FirstCustomer: 123456, Seed: -3,
			ExternalID: "bulk \"1\" \\ ✓\n\x00\xff\u2028"}},
		{"past a million", gen.Options{Customers: 20, FirstCustomer: 999_990}},
		{"late start is truncated", gen.Options{Customers: 200, Start: time.Date(2025, 3, 15, 10, 30, 0, 0, berlin), Months: 24}},
		{"long history", gen.Options{Customers: 200, Start: time.Date(2022, 1, 31, 0, 0, 0, 0, time.UTC), Months: 48}},
		{"one month", gen.Options{Customers: 100, Months: 1}},
		{"last possible start", gen.Options{Customers: 50, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, st := mustPayload(t, tt.o)
			p, _ := check(t, data, st)
			n := tt.o.Customers
			if st.Customers != n {
				t.Errorf("%d customers, want %d", st.Customers, n)
			}
			if want := fmt.Sprintf("cus_%06d", tt.o.FirstCustomer); p.Customers[0].ExternalID != want {
				t.Errorf("first customer %s, want %s", p.Customers[0].ExternalID, want)
			}
			switch {
			case tt.o.ExternalID == "" && p.ExternalID != nil:
				t.Errorf("external_id %q present, want it omitted", *p.ExternalID)
			case tt.o.ExternalID != "" && (p.ExternalID == nil || *p.ExternalID != jsonRoundTrip(tt.o.ExternalID)):
				t.Errorf("external_id %v, want %q", p.ExternalID, tt.o.ExternalID)
			}
		})
	}
}

// jsonRoundTrip returns s as encoding/json would decode its own encoding of s.
func jsonRoundTrip(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

func TestDefaultPayload(t *testing.T) {
	t.Parallel()
	for _, seed := range []int64{0, 1, 2024} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			data, st := mustPayload(t, gen.Options{Seed: seed})
			p, c := check(t, data, st)
			t.Logf("seed %d: %d records, %d bytes: %+v", seed, st.Records(), st.Bytes, st)
			if st.Customers != 1000 {
				t.Errorf("%d customers, want the default 1000", st.Customers)
			}
			if r := st.Records(); r < 18_000 || r > 22_000 {
				t.Errorf("%d records, want 18k-22k", r)
			}
			if st.Bytes >= 5<<20 {
				t.Errorf("%d bytes, want under the 5 MiB limit (%d)", st.Bytes, 5<<20)
			}
			if c.layouts[0] == 0 || c.layouts[1] == 0 {
				t.Errorf("date layouts not mixed: %v", c.layouts)
			}
			// The content the benchmarks rely on is all there.
			count := func(f func(i int) bool, n int) int {
				k := 0
				for i := range n {
					if f(i) {
						k++
					}
				}
				return k
			}
			li, tr := p.LineItems, p.Transactions
			checks := []struct {
				what      string
				n, lo, hi int
			}{
				{"plans", len(p.Plans), 6, 10},
				{"subscription events", len(p.SubscriptionEvents), 10, 100},
				{"USD invoices", count(func(i int) bool { return p.Invoices[i].Currency == "USD" }, len(p.Invoices)), len(p.Invoices) / 2, len(p.Invoices)},
				{"EUR invoices", count(func(i int) bool { return p.Invoices[i].Currency == "EUR" }, len(p.Invoices)), 1, len(p.Invoices) / 2},
				{"GBP invoices", count(func(i int) bool { return p.Invoices[i].Currency == "GBP" }, len(p.Invoices)), 1, len(p.Invoices) / 2},
				{"US customers", count(func(i int) bool { return p.Customers[i].Country == "US" }, 1000), 350, 650},
				{"free trials", count(func(i int) bool { return p.Customers[i].FreeTrialStartedAt != "" }, 1000), 100, 600},
				{"one_time items", count(func(i int) bool { return li[i].Type == "one_time" }, len(li)), 20, 300},
				{"discounted items", count(func(i int) bool { return li[i].DiscountCode != "" }, len(li)), 100, len(li) / 4},
				{"taxed items", count(func(i int) bool { return li[i].TaxAmountInCents > 0 }, len(li)), 100, len(li)},
				{"annual items", count(func(i int) bool { return strings.HasSuffix(li[i].PlanExternalID, "_annual") }, len(li)), 20, 500},
				{"quarterly items", count(func(i int) bool { return strings.HasSuffix(li[i].PlanExternalID, "_quarterly") }, len(li)), 20, 500},
				{"failed payments", count(func(i int) bool { return tr[i].Result == "failed" }, len(tr)), 50, len(tr) / 5},
				{"refunds", count(func(i int) bool { return tr[i].Type == "refund" }, len(tr)), 5, 300},
			}
			for _, ck := range checks {
				if ck.n < ck.lo || ck.n > ck.hi {
					t.Errorf("%d %s, want %d-%d", ck.n, ck.what, ck.lo, ck.hi)
				}
			}
			// Life events: upgrades, churn and reactivations.
			var upgrades, churned, reactivated int
			bySub := map[string][]tLineItem{}
			for _, l := range li {
				if l.Type == "subscription" {
					bySub[l.SubscriptionExternalID] = append(bySub[l.SubscriptionExternalID], l)
				}
			}
			last := time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)
			for _, items := range bySub {
				for i := 1; i < len(items); i++ {
					a, b := items[i-1], items[i]
					if a.PlanExternalID != b.PlanExternalID || *a.Quantity != *b.Quantity {
						upgrades++
					}
					if a.ServicePeriodEnd != b.ServicePeriodStart {
						reactivated++
					}
				}
				if e := c.date("end", items[len(items)-1].ServicePeriodEnd); e.Before(last) {
					churned++
				}
			}
			if upgrades < 30 || churned < 50 || reactivated < 10 {
				t.Errorf("too few life events: %d plan/quantity changes, %d churned, %d reactivations", upgrades, churned, reactivated)
			}
		})
	}
}

// ids returns every customer, invoice, line item, transaction and event
// external id of a payload.
func ids(p *tPayload) []string {
	var out []string
	for _, r := range p.Customers {
		out = append(out, "customer "+r.ExternalID)
	}
	for _, r := range p.Invoices {
		out = append(out, "invoice "+r.ExternalID)
	}
	for _, r := range p.LineItems {
		out = append(out, "line item "+r.ExternalID)
		if r.SubscriptionExternalID != "" {
			out = append(out, "subscription "+r.SubscriptionExternalID)
		}
	}
	for _, r := range p.Transactions {
		out = append(out, "transaction "+r.ExternalID)
	}
	for _, r := range p.SubscriptionEvents {
		out = append(out, "event "+r.ExternalID)
	}
	return out
}

func TestDisjointPayloads(t *testing.T) {
	t.Parallel()
	da, sa := mustPayload(t, gen.Options{Customers: 1000, Seed: 5})
	db, sb := mustPayload(t, gen.Options{Customers: 1000, Seed: 5, FirstCustomer: 1000})
	a, _ := check(t, da, sa)
	b, _ := check(t, db, sb)
	inA := map[string]bool{}
	for _, id := range ids(a) {
		inA[id] = true
	}
	for _, id := range ids(b) {
		if inA[id] {
			t.Fatalf("%s is in both payloads", id)
		}
	}
	plansA := map[string]tPlan{}
	for _, pl := range a.Plans {
		plansA[pl.ExternalID] = pl
	}
	for _, pl := range b.Plans {
		if q, ok := plansA[pl.ExternalID]; ok && q != pl {
			t.Errorf("plan %s differs: %+v vs %+v", pl.ExternalID, q, pl)
		}
	}
}

// A customer's records do not depend on which payload it is in.
func TestCustomerIndependentOfPayload(t *testing.T) {
	t.Parallel()
	da, _ := mustPayload(t, gen.Options{Customers: 40, Seed: 9})
	db, _ := mustPayload(t, gen.Options{Customers: 20, Seed: 9, FirstCustomer: 20})
	a, b := decode(t, da), decode(t, db)
	keep := func(customer string) bool { return customer >= "cus_000020" }
	owner := map[string]string{}
	var invoices []tInvoice
	for _, in := range a.Invoices {
		owner[in.ExternalID] = in.CustomerExternalID
		if keep(in.CustomerExternalID) {
			invoices = append(invoices, in)
		}
	}
	var items []tLineItem
	for _, li := range a.LineItems {
		if keep(owner[li.InvoiceExternalID]) {
			items = append(items, li)
		}
	}
	var txns []tTransaction
	for _, tr := range a.Transactions {
		if keep(owner[tr.InvoiceExternalID]) {
			txns = append(txns, tr)
		}
	}
	var events []tSubscription
	for _, ev := range a.SubscriptionEvents {
		if keep(ev.CustomerExternalID) {
			events = append(events, ev)
		}
	}
	if !reflect.DeepEqual(a.Customers[20:], b.Customers) || !reflect.DeepEqual(invoices, b.Invoices) ||
		!reflect.DeepEqual(items, b.LineItems) || !reflect.DeepEqual(txns, b.Transactions) ||
		!reflect.DeepEqual(events, nonNil(b.SubscriptionEvents)) {
		t.Fatal("customers 20-39 differ between the two payloads")
	}
}

// nonNil turns an empty slice into nil, for DeepEqual against appended slices.
func nonNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []gen.Options{
		{Customers: -1},
		{Months: -1},
		{FirstCustomer: -1},
		{Start: time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{Start: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)},
		{Start: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, o := range tests {
		if _, _, err := gen.Payload(o); !errors.Is(err, gen.ErrOptions) {
			t.Errorf("Payload(%+v) error = %v, want ErrOptions", o, err)
		}
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct{ n int }

var errFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1000, 200_000} {
		st, err := gen.Write(&failWriter{n: n}, gen.Options{Customers: 500})
		if !errors.Is(err, errFull) {
			t.Errorf("after %d bytes: error %v, want %v", n, err, errFull)
		}
		if st.Bytes != n {
			t.Errorf("after %d bytes: Stats.Bytes = %d", n, st.Bytes)
		}
	}
}

func BenchmarkPayload1000(b *testing.B) {
	var st gen.Stats
	for b.Loop() {
		var err error
		_, st, err = gen.Payload(gen.Options{Customers: 1000})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(st.Bytes))
	b.ReportMetric(float64(st.Records()), "records/op")
}

func BenchmarkWrite1000(b *testing.B) {
	var st gen.Stats
	for b.Loop() {
		var err error
		st, err = gen.Write(io.Discard, gen.Options{Customers: 1000})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(st.Bytes))
}
