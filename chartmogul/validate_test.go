package chartmogul_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
)

// fp is a FieldProblem, for short tables.
func fp(field, message string) chartmogul.FieldProblem {
	return chartmogul.FieldProblem{Field: field, Message: message}
}

// problems lists field problems; nil and empty are the same.
type problems []chartmogul.FieldProblem

func (ps problems) String() string {
	if len(ps) == 0 {
		return "  (none)\n"
	}
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s: %s\n", p.Field, p.Message)
	}
	return b.String()
}

// checkProblems compares the errors and warnings recorded in p, in order.
func checkProblems(t *testing.T, p *chartmogul.Problems, errs, warns []chartmogul.FieldProblem) {
	t.Helper()
	if !slices.Equal(p.Errors, errs) {
		t.Errorf("errors:\n got\n%s want\n%s", problems(p.Errors), problems(errs))
	}
	if !slices.Equal(p.Warnings, warns) {
		t.Errorf("warnings:\n got\n%s want\n%s", problems(p.Warnings), problems(warns))
	}
	if p.OK() != (len(errs) == 0) {
		t.Errorf("OK() = %v with errors %v", p.OK(), p.Errors)
	}
}

func ptr[T any](v T) *T { return &v }

func TestProblems(t *testing.T) {
	var p chartmogul.Problems
	if !p.OK() || p.Has("x") {
		t.Fatal("a zero Problems is not OK or has a field")
	}
	p.Warn("w", "warned %d", 1)
	if !p.OK() {
		t.Error("a warning made Problems not OK")
	}
	p.Fail("x", "x is %s", "bad")
	p.Required("x") // already reported: not again
	p.Required("y")
	checkProblems(t, &p, []chartmogul.FieldProblem{fp("x", "x is bad"), fp("y", "y is required")}, []chartmogul.FieldProblem{fp("w", "warned 1")})
	if !p.Has("x") || !p.Has("y") || p.Has("w") {
		t.Error("Has reports the wrong fields")
	}
	p.Reset()
	checkProblems(t, &p, nil, nil)
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                       `""`,
		"abc":                    `"abc"`,
		`a"b`:                    `"a\"b"`,
		"\xff":                   `"\xff"`,
		"é":                      `"é"`,
		strings.Repeat("x", 80):  `"` + strings.Repeat("x", 80) + `"`,
		strings.Repeat("x", 81):  `"` + strings.Repeat("x", 80) + `"…`,
		strings.Repeat("€", 30):  `"` + strings.Repeat("€", 26) + `"…`, // 3-byte runes: cut at 78 bytes
		strings.Repeat("x", 500): `"` + strings.Repeat("x", 80) + `"…`,
	} {
		if got := chartmogul.Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestValidEmail(t *testing.T) {
	for _, s := range []string{
		"andrew@example.com", "ANDREW@EXAMPLE.COM", "a@b.co", "andrew.jones+billing@mail.example.co.uk",
		"o'brien@example.ie", "first_last@example-domain.com", "x@sub.sub.example.org",
	} {
		if !chartmogul.ValidEmail(s) {
			t.Errorf("ValidEmail(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"", "andrew", "andrew@", "@example.com", "andrew@localhost", "andrew@example.", "andrew@.example.com",
		"[email protected]", "Andrew <andrew@example.com>", "<andrew@example.com>", "andrew@example.com ",
		" andrew@example.com", "a,b@example.com", "a;b@example.com", "andrew@@example.com", "andrew@exa mple.com",
		"andrew@example.com (Andrew)", "\"andrew\"@example.com", "andrew@[127.0.0.1]", "andrew\n@example.com",
		strings.Repeat("a", 244) + "@example.com", // 256 characters
	} {
		if chartmogul.ValidEmail(s) {
			t.Errorf("ValidEmail(%q) = true, want false", s)
		}
	}
	if s := strings.Repeat("a", 243) + "@example.com"; !chartmogul.ValidEmail(s) {
		t.Errorf("ValidEmail of a 255-character address = false, want true")
	}
}

func TestCustomerValidate(t *testing.T) {
	past := now.Add(-time.Hour)
	future := now.Add(time.Hour)
	long := func(n int) string { return strings.Repeat("x", n) }
	badEmail := func(email string) chartmogul.FieldProblem {
		return fp("email", "email "+chartmogul.Quote(email)+" is not a valid e-mail address; the customer was kept without it")
	}
	for _, tc := range []struct {
		name  string
		in    chartmogul.Customer
		errs  []chartmogul.FieldProblem
		warns []chartmogul.FieldProblem
		// The normalised contact fields.
		email, country, state string
	}{
		{name: "minimal", in: chartmogul.Customer{ExternalID: "c1"}},
		{name: "complete", in: chartmogul.Customer{ExternalID: "scus_0001", Name: "Andrew Jones", Email: "andrew@example.com",
			Company: "CA Printing Company", Country: "US", State: "California", City: "San Francisco", Zip: "90210",
			LeadCreatedAt: &past, FreeTrialStartedAt: &past, WebsiteURL: "https://example.com"},
			email: "andrew@example.com", country: "US", state: "CA"},

		// external_id
		{name: "no external_id", in: chartmogul.Customer{}, errs: []chartmogul.FieldProblem{fp("external_id", "external_id is required")}},
		{name: "blank external_id", in: chartmogul.Customer{ExternalID: " \t"}, errs: []chartmogul.FieldProblem{fp("external_id", "external_id is required")}},
		{name: "external_id of 255", in: chartmogul.Customer{ExternalID: long(255)}},
		{name: "external_id of 256", in: chartmogul.Customer{ExternalID: long(256)},
			errs: []chartmogul.FieldProblem{fp("external_id", "external_id must be at most 255 characters long; got 256")}},

		// lengths of free text
		{name: "name of 4096", in: chartmogul.Customer{ExternalID: "c1", Name: long(4096)}},
		// Over-long contact details are warnings: the customer is kept
		// without them.
		{name: "name of 4097", in: chartmogul.Customer{ExternalID: "c1", Name: long(4097)},
			warns: []chartmogul.FieldProblem{fp("name", "name must be at most 4096 characters long; got 4097; the customer was kept without it")}},
		{name: "long texts", in: chartmogul.Customer{ExternalID: "c1", Company: long(4097), City: long(5000), Zip: long(256), WebsiteURL: long(4097)},
			warns: []chartmogul.FieldProblem{
				fp("company", "company must be at most 4096 characters long; got 4097; the customer was kept without it"),
				fp("city", "city must be at most 4096 characters long; got 5000; the customer was kept without it"),
				fp("zip", "zip must be at most 255 characters long; got 256; the customer was kept without it"),
				fp("website_url", "website_url must be at most 4096 characters long; got 4097; the customer was kept without it"),
			}},

		// e-mail: a warning, and the address is dropped
		{name: "seed e-mail", in: chartmogul.Customer{ExternalID: "c1", Email: "[email protected]"},
			warns: []chartmogul.FieldProblem{badEmail("[email protected]")}},
		{name: "e-mail without domain", in: chartmogul.Customer{ExternalID: "c1", Email: "andrew"},
			warns: []chartmogul.FieldProblem{badEmail("andrew")}},
		{name: "e-mail with name", in: chartmogul.Customer{ExternalID: "c1", Email: "Andrew <andrew@example.com>"},
			warns: []chartmogul.FieldProblem{badEmail("Andrew <andrew@example.com>")}},
		{name: "e-mail without dot", in: chartmogul.Customer{ExternalID: "c1", Email: "andrew@localhost"},
			warns: []chartmogul.FieldProblem{badEmail("andrew@localhost")}},
		{name: "long e-mail quoted short", in: chartmogul.Customer{ExternalID: "c1", Email: long(300) + "@example.com"},
			warns: []chartmogul.FieldProblem{fp("email", `email "`+long(80)+`"… is not a valid e-mail address; the customer was kept without it`)}},

		// country: codes and names become codes; unknown ones are dropped with a warning
		{name: "country code lower case", in: chartmogul.Customer{ExternalID: "c1", Country: "us"}, country: "US"},
		{name: "country name", in: chartmogul.Customer{ExternalID: "c1", Country: "Germany"}, country: "DE"},
		{name: "country name UK", in: chartmogul.Customer{ExternalID: "c1", Country: "United Kingdom"}, country: "GB"},
		{name: "country alias", in: chartmogul.Customer{ExternalID: "c1", Country: "UK"}, country: "GB"},
		{name: "country padded", in: chartmogul.Customer{ExternalID: "c1", Country: " USA "}, country: "US"},
		{name: "unknown country name", in: chartmogul.Customer{ExternalID: "c1", Country: "Narnia"},
			warns: []chartmogul.FieldProblem{fp("country", `country must be an ISO 3166-1 alpha-2 code such as US or DE; got "Narnia"; the customer was kept without it`)}},
		{name: "withdrawn country code", in: chartmogul.Customer{ExternalID: "c1", Country: "SU"},
			warns: []chartmogul.FieldProblem{fp("country", `country must be an ISO 3166-1 alpha-2 code such as US or DE; got "SU"; the customer was kept without it`)}},
		{name: "alpha-3 country code", in: chartmogul.Customer{ExternalID: "c1", Country: "DEU"},
			warns: []chartmogul.FieldProblem{fp("country", `country must be an ISO 3166-1 alpha-2 code such as US or DE; got "DEU"; the customer was kept without it`)}},

		// state: normalised to the short code where Recur knows the country's states
		{name: "seed state", in: chartmogul.Customer{ExternalID: "c1", Country: "US", State: "California"}, country: "US", state: "CA"},
		{name: "state lower case", in: chartmogul.Customer{ExternalID: "c1", Country: "US", State: "ca"}, country: "US", state: "CA"},
		{name: "state ISO 3166-2", in: chartmogul.Customer{ExternalID: "c1", Country: "US", State: "US-CA"}, country: "US", state: "CA"},
		{name: "state with country name", in: chartmogul.Customer{ExternalID: "c1", Country: "United States", State: "texas"}, country: "US", state: "TX"},
		{name: "state with country alias", in: chartmogul.Customer{ExternalID: "c1", Country: "usa", State: "us-ny"}, country: "US", state: "NY"},
		{name: "Canadian province", in: chartmogul.Customer{ExternalID: "c1", Country: "CA", State: "Ontario"}, country: "CA", state: "ON"},
		{name: "Australian state", in: chartmogul.Customer{ExternalID: "c1", Country: "Australia", State: "Victoria"}, country: "AU", state: "VIC"},
		{name: "not a US state", in: chartmogul.Customer{ExternalID: "c1", Country: "US", State: "Bavaria"}, country: "US",
			warns: []chartmogul.FieldProblem{fp("state", `state "Bavaria" is not a state of United States; the customer was kept without it`)}},
		{name: "a US state in Canada", in: chartmogul.Customer{ExternalID: "c1", Country: "CA", State: "California"}, country: "CA",
			warns: []chartmogul.FieldProblem{fp("state", `state "California" is not a state of Canada; the customer was kept without it`)}},
		{name: "blank state where states are unknown", in: chartmogul.Customer{ExternalID: "c1", Country: "DE", State: "  "}, country: "DE",
			warns: []chartmogul.FieldProblem{fp("state", `state "  " is not a state of Germany; the customer was kept without it`)}},
		{name: "state of a country without known states", in: chartmogul.Customer{ExternalID: "c1", Country: "DE", State: " Bayern "}, country: "DE", state: "Bayern"},
		{name: "state without country", in: chartmogul.Customer{ExternalID: "c1", State: " US-CA "}, state: "US-CA"},
		{name: "state of an unknown country is dropped with it", in: chartmogul.Customer{ExternalID: "c1", Country: "Narnia", State: "California"}, state: "",
			warns: []chartmogul.FieldProblem{fp("country", `country must be an ISO 3166-1 alpha-2 code such as US or DE; got "Narnia"; the customer was kept without it`),
				fp("state", `state "California" was left out with the country it belongs to`)}},
		{name: "long state that is no US state", in: chartmogul.Customer{ExternalID: "c1", Country: "US", State: long(300)}, country: "US",
			warns: []chartmogul.FieldProblem{fp("state", `state "`+long(80)+`"… is not a state of United States; the customer was kept without it`)}},

		// dates
		{name: "lead in the future", in: chartmogul.Customer{ExternalID: "c1", LeadCreatedAt: &future},
			warns: []chartmogul.FieldProblem{fp("lead_created_at", "lead_created_at should be in the past; got 2026-01-01T01:00:00Z")}},
		{name: "lead now", in: chartmogul.Customer{ExternalID: "c1", LeadCreatedAt: &now}},
		{name: "trial in the future", in: chartmogul.Customer{ExternalID: "c1", FreeTrialStartedAt: &future}},

		// errors and warnings together, each in field order
		{name: "everything wrong", in: chartmogul.Customer{Email: "nope", Country: "Narnia", LeadCreatedAt: &future, Name: long(4097)},
			errs: []chartmogul.FieldProblem{
				fp("external_id", "external_id is required"),
			},
			warns: []chartmogul.FieldProblem{
				fp("name", "name must be at most 4096 characters long; got 4097; the customer was kept without it"),
				badEmail("nope"),
				fp("country", `country must be an ISO 3166-1 alpha-2 code such as US or DE; got "Narnia"; the customer was kept without it`),
				fp("lead_created_at", "lead_created_at should be in the past; got 2026-01-01T01:00:00Z"),
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.in
			var p chartmogul.Problems
			c.Validate(&p, now)
			checkProblems(t, &p, tc.errs, tc.warns)
			if c.Email != tc.email || c.Country != tc.country || c.State != tc.state {
				t.Errorf("email, country, state = %q, %q, %q; want %q, %q, %q", c.Email, c.Country, c.State, tc.email, tc.country, tc.state)
			}
		})
	}
}

// TestCustomerStateTooLong shows that a long state fails the whole customer
// where Recur does not know the country's states, although a malformed
// state is meant to be a warning.
func TestCustomerStateTooLong(t *testing.T) {
	c := chartmogul.Customer{ExternalID: "c1", Country: "DE", State: strings.Repeat("x", 300)}
	var p chartmogul.Problems
	c.Validate(&p, now)
	if !p.OK() {
		t.Errorf("customer failed over its state: %v", p.Errors)
	}
	if c.State != "" || len(p.Warnings) != 1 || p.Warnings[0].Field != "state" {
		t.Errorf("state %q, warnings %v; want the state dropped with one warning", c.State, p.Warnings)
	}
}

func TestPlanValidate(t *testing.T) {
	valid := chartmogul.Plan{Name: "Gold Biannual", ExternalID: "gold_biannual", IntervalCount: 6, IntervalUnit: "month"}
	with := func(f func(*chartmogul.Plan)) chartmogul.Plan { p := valid; f(&p); return p }
	unit := func(got string) chartmogul.FieldProblem {
		return fp("interval_unit", "interval_unit must be one of day, month, year; got "+got)
	}
	for _, tc := range []struct {
		name string
		in   chartmogul.Plan
		// pre are problems the decoder recorded before Validate (a field of
		// the wrong JSON type), which Validate must not repeat.
		pre  []chartmogul.FieldProblem
		errs []chartmogul.FieldProblem
	}{
		{name: "valid", in: valid},
		{name: "no external id", in: with(func(p *chartmogul.Plan) { p.ExternalID = "" })},
		{name: "day", in: with(func(p *chartmogul.Plan) { p.IntervalUnit = "day"; p.IntervalCount = 7 })},
		{name: "year", in: with(func(p *chartmogul.Plan) { p.IntervalUnit = "year"; p.IntervalCount = 1 })},
		{name: "1000 months", in: with(func(p *chartmogul.Plan) { p.IntervalCount = 1000 })},
		{name: "nothing", in: chartmogul.Plan{}, errs: []chartmogul.FieldProblem{
			fp("name", "name is required"), fp("interval_count", "interval_count is required"), fp("interval_unit", "interval_unit is required")}},
		{name: "blank name", in: with(func(p *chartmogul.Plan) { p.Name = "   " }), errs: []chartmogul.FieldProblem{fp("name", "name is required")}},
		{name: "long name", in: with(func(p *chartmogul.Plan) { p.Name = strings.Repeat("n", 4097) }),
			errs: []chartmogul.FieldProblem{fp("name", "name must be at most 4096 characters long; got 4097")}},
		{name: "long external id", in: with(func(p *chartmogul.Plan) { p.ExternalID = strings.Repeat("p", 256) }),
			errs: []chartmogul.FieldProblem{fp("external_id", "external_id must be at most 255 characters long; got 256")}},
		{name: "zero interval", in: with(func(p *chartmogul.Plan) { p.IntervalCount = 0 }),
			errs: []chartmogul.FieldProblem{fp("interval_count", "interval_count is required")}},
		{name: "negative interval", in: with(func(p *chartmogul.Plan) { p.IntervalCount = -1 }),
			errs: []chartmogul.FieldProblem{fp("interval_count", "interval_count must be a whole number greater than 0; got -1")}},
		{name: "interval over 1000", in: with(func(p *chartmogul.Plan) { p.IntervalCount = 1001 }),
			errs: []chartmogul.FieldProblem{fp("interval_count", "interval_count must be at most 1000; got 1001")}},
		{name: "week", in: with(func(p *chartmogul.Plan) { p.IntervalUnit = "week" }),
			errs: []chartmogul.FieldProblem{fp("interval_unit", `interval_unit must be one of day, month, year; got "week" (a weekly plan is 7 day)`)}},
		{name: "capitalised unit", in: with(func(p *chartmogul.Plan) { p.IntervalUnit = "Month" }), errs: []chartmogul.FieldProblem{unit(`"Month"`)}},
		{name: "plural unit", in: with(func(p *chartmogul.Plan) { p.IntervalUnit = "months" }), errs: []chartmogul.FieldProblem{unit(`"months"`)}},
		{name: "capitalised week gets no hint", in: with(func(p *chartmogul.Plan) { p.IntervalUnit = "Week" }), errs: []chartmogul.FieldProblem{unit(`"Week"`)}},
		{name: "no unit", in: with(func(p *chartmogul.Plan) { p.IntervalUnit = "" }), errs: []chartmogul.FieldProblem{fp("interval_unit", "interval_unit is required")}},
		{name: "wrong JSON types are not reported twice",
			in:   with(func(p *chartmogul.Plan) { p.IntervalCount = 0; p.IntervalUnit = "" }),
			pre:  []chartmogul.FieldProblem{fp("interval_count", "decoder"), fp("interval_unit", "decoder")},
			errs: []chartmogul.FieldProblem{fp("interval_count", "decoder"), fp("interval_unit", "decoder")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := tc.in
			p := chartmogul.Problems{Errors: slices.Clone(tc.pre)}
			pl.Validate(&p)
			checkProblems(t, &p, tc.errs, nil)
		})
	}
}

func TestInvoiceValidate(t *testing.T) {
	date := time.Date(2023, 4, 2, 21, 37, 0, 0, time.UTC)
	valid := chartmogul.Invoice{ExternalID: "inv_001", Date: date, Currency: "USD"}
	with := func(f func(*chartmogul.Invoice)) chartmogul.Invoice { inv := valid; f(&inv); return inv }
	for _, tc := range []struct {
		name     string
		in       chartmogul.Invoice
		errs     []chartmogul.FieldProblem
		currency string
	}{
		{name: "valid", in: valid, currency: "USD"},
		{name: "lower-case currency", in: with(func(i *chartmogul.Invoice) { i.Currency = "eur" }), currency: "EUR"},
		{name: "automatic", in: with(func(i *chartmogul.Invoice) { i.CollectionMethod = "automatic" }), currency: "USD"},
		{name: "manual", in: with(func(i *chartmogul.Invoice) { i.CollectionMethod = "manual" }), currency: "USD"},
		{name: "nothing", in: chartmogul.Invoice{}, errs: []chartmogul.FieldProblem{
			fp("external_id", "external_id is required"), fp("date", "date is required"), fp("currency", "currency is required")}},
		{name: "long external id", in: with(func(i *chartmogul.Invoice) { i.ExternalID = strings.Repeat("i", 256) }), currency: "USD",
			errs: []chartmogul.FieldProblem{fp("external_id", "external_id must be at most 255 characters long; got 256")}},
		{name: "unknown currency", in: with(func(i *chartmogul.Invoice) { i.Currency = "XYZ" }), currency: "XYZ",
			errs: []chartmogul.FieldProblem{fp("currency", `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "XYZ"`)}},
		{name: "no-money currency", in: with(func(i *chartmogul.Invoice) { i.Currency = "XXX" }), currency: "XXX",
			errs: []chartmogul.FieldProblem{fp("currency", `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "XXX"`)}},
		{name: "gold", in: with(func(i *chartmogul.Invoice) { i.Currency = "xau" }), currency: "xau",
			errs: []chartmogul.FieldProblem{fp("currency", `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "xau"`)}},
		{name: "currency symbol", in: with(func(i *chartmogul.Invoice) { i.Currency = "$" }), currency: "$",
			errs: []chartmogul.FieldProblem{fp("currency", `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "$"`)}},
		{name: "unknown collection method", in: with(func(i *chartmogul.Invoice) { i.CollectionMethod = "auto" }), currency: "USD",
			errs: []chartmogul.FieldProblem{fp("collection_method", `collection_method must be one of automatic, manual; got "auto"`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := tc.in
			var p chartmogul.Problems
			inv.Validate(&p)
			checkProblems(t, &p, tc.errs, nil)
			if inv.Currency != tc.currency {
				t.Errorf("currency = %q, want %q", inv.Currency, tc.currency)
			}
		})
	}
}

func TestLineItemValidate(t *testing.T) {
	start := time.Date(2023, 4, 2, 21, 37, 0, 0, time.UTC)
	end := time.Date(2023, 5, 2, 21, 37, 0, 0, time.UTC)
	before := start.Add(-time.Second)
	sub := chartmogul.LineItem{Type: "subscription", AmountInCents: 1000, SubscriptionExternalID: "sub_0001",
		PlanExternalID: "gold_biannual", ServicePeriodStart: &start, ServicePeriodEnd: &end}
	oneTime := chartmogul.LineItem{Type: "one_time", AmountInCents: 500}
	with := func(base chartmogul.LineItem, f func(*chartmogul.LineItem)) chartmogul.LineItem {
		li := base
		f(&li)
		return li
	}
	for _, tc := range []struct {
		name      string
		in        chartmogul.LineItem
		planField string // "plan_external_id" unless set
		pre       []chartmogul.FieldProblem
		errs      []chartmogul.FieldProblem
		quantity  int64
		feesCur   string
	}{
		{name: "subscription", in: sub, quantity: 1},
		{name: "trial", in: with(sub, func(l *chartmogul.LineItem) { l.Type = "trial"; l.AmountInCents = 0 }), quantity: 1},
		{name: "one-time", in: oneTime, quantity: 1},
		{name: "free subscription", in: with(sub, func(l *chartmogul.LineItem) { l.AmountInCents = 0 }), quantity: 1},
		{name: "quantity kept", in: with(sub, func(l *chartmogul.LineItem) { l.Quantity = 5 }), quantity: 5},
		{name: "negative quantity kept", in: with(sub, func(l *chartmogul.LineItem) { l.Quantity = -2 }), quantity: -2},
		{name: "fees currency normalised", in: with(oneTime, func(l *chartmogul.LineItem) { l.TransactionFeesCurrency = "eur"; l.TransactionFeesInCents = 30 }),
			quantity: 1, feesCur: "EUR"},
		{name: "proration types", in: with(sub, func(l *chartmogul.LineItem) { l.Prorated = true; l.ProrationType = "differential_mrr" }), quantity: 1},
		{name: "plan by uuid", in: with(sub, func(l *chartmogul.LineItem) { l.PlanExternalID = ""; l.PlanUUID = "pl_1" }), quantity: 1},
		{name: "plan by id", in: with(sub, func(l *chartmogul.LineItem) { l.PlanExternalID = ""; l.PlanID = 3 }), quantity: 1},

		// type
		{name: "no type", in: chartmogul.LineItem{AmountInCents: 1}, quantity: 1, errs: []chartmogul.FieldProblem{fp("type", "type is required")}},
		{name: "unknown type", in: with(oneTime, func(l *chartmogul.LineItem) { l.Type = "Subscription" }), quantity: 1,
			errs: []chartmogul.FieldProblem{fp("type", `type must be one of subscription, one_time, trial; got "Subscription"`)}},
		{name: "type of the wrong JSON type", in: chartmogul.LineItem{}, pre: []chartmogul.FieldProblem{fp("type", "decoder")},
			quantity: 1, errs: []chartmogul.FieldProblem{fp("type", "decoder")}},

		// amounts
		{name: "negative discount, tax, fees", in: with(oneTime, func(l *chartmogul.LineItem) {
			l.DiscountAmountInCents, l.TaxAmountInCents, l.TransactionFeesInCents = -1, -2, -3
		}), quantity: 1, errs: []chartmogul.FieldProblem{
			fp("discount_amount_in_cents", "discount_amount_in_cents must not be negative; got -1"),
			fp("tax_amount_in_cents", "tax_amount_in_cents must not be negative; got -2"),
			fp("transaction_fees_in_cents", "transaction_fees_in_cents must not be negative; got -3"),
		}},
		{name: "negative subscription amount", in: with(sub, func(l *chartmogul.LineItem) { l.AmountInCents = -100 }), quantity: 1,
			errs: []chartmogul.FieldProblem{fp("amount_in_cents", "amount_in_cents must not be negative on a subscription line item unless it is prorated; got -100")}},
		{name: "negative trial amount", in: with(sub, func(l *chartmogul.LineItem) { l.Type = "trial"; l.AmountInCents = -1 }), quantity: 1,
			errs: []chartmogul.FieldProblem{fp("amount_in_cents", "amount_in_cents must not be negative on a trial line item unless it is prorated; got -1")}},
		{name: "negative prorated amount", in: with(sub, func(l *chartmogul.LineItem) { l.AmountInCents = -100; l.Prorated = true }), quantity: 1},
		{name: "negative one-time amount", in: with(oneTime, func(l *chartmogul.LineItem) { l.AmountInCents = -100 }), quantity: 1},
		{name: "negative amount of the wrong JSON type", in: with(sub, func(l *chartmogul.LineItem) { l.AmountInCents = -100 }),
			pre: []chartmogul.FieldProblem{fp("amount_in_cents", "decoder")}, quantity: 1, errs: []chartmogul.FieldProblem{fp("amount_in_cents", "decoder")}},
		{name: "tax equal to amount", in: with(sub, func(l *chartmogul.LineItem) { l.TaxAmountInCents = 1000 }), quantity: 1},
		{name: "tax over amount", in: with(sub, func(l *chartmogul.LineItem) { l.TaxAmountInCents = 1001 }), quantity: 1,
			errs: []chartmogul.FieldProblem{fp("tax_amount_in_cents", "tax_amount_in_cents (1001) must not exceed amount_in_cents (1000): the amount includes the tax")}},
		{name: "tax on a prorated credit", in: with(sub, func(l *chartmogul.LineItem) { l.AmountInCents = -100; l.Prorated = true; l.TaxAmountInCents = 5 }), quantity: 1},

		// codes and texts
		{name: "fees currency unknown", in: with(oneTime, func(l *chartmogul.LineItem) { l.TransactionFeesCurrency = "EURO" }), quantity: 1, feesCur: "EURO",
			errs: []chartmogul.FieldProblem{fp("transaction_fees_currency", `transaction_fees_currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "EURO"`)}},
		{name: "unknown proration type", in: with(sub, func(l *chartmogul.LineItem) { l.ProrationType = "partial" }), quantity: 1,
			errs: []chartmogul.FieldProblem{fp("proration_type", `proration_type must be one of full, differential, differential_mrr; got "partial"`)}},
		{name: "long fields", in: with(sub, func(l *chartmogul.LineItem) {
			l.ExternalID, l.DiscountCode, l.AccountCode, l.SubscriptionSetExternalID = strings.Repeat("e", 256), strings.Repeat("d", 256), strings.Repeat("a", 256), strings.Repeat("s", 256)
			l.DiscountDescription, l.Description = strings.Repeat("x", 4097), strings.Repeat("y", 4097)
			l.SubscriptionExternalID = strings.Repeat("u", 256)
		}), quantity: 1, errs: []chartmogul.FieldProblem{
			fp("external_id", "external_id must be at most 255 characters long; got 256"),
			fp("discount_code", "discount_code must be at most 255 characters long; got 256"),
			fp("discount_description", "discount_description must be at most 4096 characters long; got 4097"),
			fp("description", "description must be at most 4096 characters long; got 4097"),
			fp("account_code", "account_code must be at most 255 characters long; got 256"),
			fp("subscription_external_id", "subscription_external_id must be at most 255 characters long; got 256"),
			fp("subscription_set_external_id", "subscription_set_external_id must be at most 255 characters long; got 256"),
		}},

		// what a subscription (or trial) item must carry
		{name: "bare subscription item", in: chartmogul.LineItem{Type: "subscription", AmountInCents: 1000}, quantity: 1, errs: []chartmogul.FieldProblem{
			fp("subscription_external_id", "subscription_external_id is required"),
			fp("plan_external_id", "plan_external_id is required"),
			fp("service_period_start", "service_period_start is required"),
			fp("service_period_end", "service_period_end is required"),
		}},
		{name: "bare trial item, single-object field", in: chartmogul.LineItem{Type: "trial"}, planField: "plan_uuid", quantity: 1, errs: []chartmogul.FieldProblem{
			fp("subscription_external_id", "subscription_external_id is required"),
			fp("plan_uuid", "plan_uuid is required"),
			fp("service_period_start", "service_period_start is required"),
			fp("service_period_end", "service_period_end is required"),
		}},
		{name: "blank subscription id", in: with(sub, func(l *chartmogul.LineItem) { l.SubscriptionExternalID = " " }), quantity: 1,
			errs: []chartmogul.FieldProblem{fp("subscription_external_id", "subscription_external_id is required")}},
		{name: "period ends when it starts", in: with(sub, func(l *chartmogul.LineItem) { l.ServicePeriodEnd = &start }), quantity: 1,
			errs: []chartmogul.FieldProblem{fp("service_period_end", "service_period_end must be after service_period_start (2023-04-02T21:37:00Z); got 2023-04-02T21:37:00Z")}},
		{name: "period ends before it starts", in: with(sub, func(l *chartmogul.LineItem) { l.ServicePeriodEnd = &before }), quantity: 1,
			errs: []chartmogul.FieldProblem{fp("service_period_end", "service_period_end must be after service_period_start (2023-04-02T21:37:00Z); got 2023-04-02T21:36:59Z")}},
		{name: "one-time items need no period, plan or subscription", in: with(oneTime, func(l *chartmogul.LineItem) { l.ServicePeriodStart = &end; l.ServicePeriodEnd = &start }), quantity: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			li := tc.in
			planField := tc.planField
			if planField == "" {
				planField = "plan_external_id"
			}
			p := chartmogul.Problems{Errors: slices.Clone(tc.pre)}
			li.Validate(&p, planField)
			checkProblems(t, &p, tc.errs, nil)
			if li.Quantity != tc.quantity {
				t.Errorf("quantity = %d, want %d", li.Quantity, tc.quantity)
			}
			if li.TransactionFeesCurrency != tc.feesCur {
				t.Errorf("transaction_fees_currency = %q, want %q", li.TransactionFeesCurrency, tc.feesCur)
			}
		})
	}
}

// TestLineItemOneTimeTax shows that the rule "the amount includes the tax"
// is checked for subscription and trial items only.
func TestLineItemOneTimeTax(t *testing.T) {
	li := chartmogul.LineItem{Type: "one_time", AmountInCents: 100, TaxAmountInCents: 500}
	var p chartmogul.Problems
	li.Validate(&p, "plan_external_id")
	checkProblems(t, &p, []chartmogul.FieldProblem{
		fp("tax_amount_in_cents", "tax_amount_in_cents (500) must not exceed amount_in_cents (100): the amount includes the tax"),
	}, nil)
}

func TestTransactionValidate(t *testing.T) {
	valid := chartmogul.Transaction{Type: "payment", Result: "successful", Date: now}
	with := func(f func(*chartmogul.Transaction)) chartmogul.Transaction { tr := valid; f(&tr); return tr }
	for _, tc := range []struct {
		name    string
		in      chartmogul.Transaction
		errs    []chartmogul.FieldProblem
		feesCur string
	}{
		{name: "payment", in: valid},
		{name: "failed refund", in: with(func(tr *chartmogul.Transaction) { tr.Type, tr.Result = "refund", "failed" })},
		{name: "old", in: with(func(tr *chartmogul.Transaction) { tr.Date = time.Date(2005, 5, 3, 21, 37, 0, 0, time.UTC) })},
		{name: "partial amounts", in: with(func(tr *chartmogul.Transaction) {
			tr.AmountInCents, tr.TransactionFeesInCents = ptr[int64](0), ptr[int64](0)
		})},
		{name: "fees currency", in: with(func(tr *chartmogul.Transaction) { tr.TransactionFeesCurrency = "gbp" }), feesCur: "GBP"},
		{name: "nothing", in: chartmogul.Transaction{}, errs: []chartmogul.FieldProblem{
			fp("type", "type is required"), fp("result", "result is required"), fp("date", "date is required")}},
		{name: "seed type", in: with(func(tr *chartmogul.Transaction) { tr.Type = "payments" }),
			errs: []chartmogul.FieldProblem{fp("type", `type must be one of payment, refund; got "payments"`)}},
		{name: "unknown result", in: with(func(tr *chartmogul.Transaction) { tr.Result = "success" }),
			errs: []chartmogul.FieldProblem{fp("result", `result must be one of successful, failed; got "success"`)}},
		// A day of slack for clocks and time zones: now+24h is accepted, a
		// second later is not.
		{name: "a day ahead", in: with(func(tr *chartmogul.Transaction) { tr.Date = now.Add(24 * time.Hour) })},
		{name: "a day and a microsecond ahead", in: with(func(tr *chartmogul.Transaction) { tr.Date = now.Add(24*time.Hour + time.Microsecond) }),
			errs: []chartmogul.FieldProblem{fp("date", "date must not be in the future; got 2026-01-02T00:00:00Z")}},
		{name: "a day and a second ahead", in: with(func(tr *chartmogul.Transaction) { tr.Date = now.Add(24*time.Hour + time.Second) }),
			errs: []chartmogul.FieldProblem{fp("date", "date must not be in the future; got 2026-01-02T00:00:01Z")}},
		{name: "next year", in: with(func(tr *chartmogul.Transaction) { tr.Date = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }),
			errs: []chartmogul.FieldProblem{fp("date", "date must not be in the future; got 2027-01-01T00:00:00Z")}},
		{name: "negative amounts", in: with(func(tr *chartmogul.Transaction) {
			tr.AmountInCents, tr.TransactionFeesInCents = ptr[int64](-1), ptr[int64](-2)
		}),
			errs: []chartmogul.FieldProblem{
				fp("amount_in_cents", "amount_in_cents must not be negative; got -1"),
				fp("transaction_fees_in_cents", "transaction_fees_in_cents must not be negative; got -2"),
			}},
		{name: "unknown fees currency", in: with(func(tr *chartmogul.Transaction) { tr.TransactionFeesCurrency = "XAU" }), feesCur: "XAU",
			errs: []chartmogul.FieldProblem{fp("transaction_fees_currency", `transaction_fees_currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "XAU"`)}},
		{name: "long external id", in: with(func(tr *chartmogul.Transaction) { tr.ExternalID = strings.Repeat("t", 256) }),
			errs: []chartmogul.FieldProblem{fp("external_id", "external_id must be at most 255 characters long; got 256")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.in
			var p chartmogul.Problems
			tr.Validate(&p, now)
			checkProblems(t, &p, tc.errs, nil)
			if tr.TransactionFeesCurrency != tc.feesCur {
				t.Errorf("transaction_fees_currency = %q, want %q", tr.TransactionFeesCurrency, tc.feesCur)
			}
		})
	}
}

// validEvent returns a minimal valid event of the given type.
func validEvent(eventType string) chartmogul.SubscriptionEvent {
	d := time.Date(2023, 4, 2, 21, 37, 0, 0, time.UTC)
	ev := chartmogul.SubscriptionEvent{CustomerExternalID: "scus_0001", EventType: eventType, EventDate: d, EffectiveDate: d}
	switch {
	case eventType == chartmogul.EventSubscriptionEventRetracted:
		ev.RetractedEventID = "374277746"
	case chartmogul.EventStartsOrUpdates(eventType):
		ev.SubscriptionExternalID = "sub_0001"
		ev.PlanExternalID, ev.Currency, ev.AmountInCents = "gold_biannual", "usd", ptr[int64](150000)
	default:
		ev.SubscriptionExternalID = "sub_0001"
	}
	return ev
}

func TestEventTypes(t *testing.T) {
	want := []string{
		"subscription_start_scheduled", "subscription_start", "scheduled_subscription_start_retracted",
		"subscription_cancellation_scheduled", "subscription_cancelled", "scheduled_subscription_cancellation_retracted",
		"subscription_update_scheduled", "subscription_updated", "scheduled_subscription_update_retracted",
		"subscription_event_retracted",
	}
	if !slices.Equal(chartmogul.EventTypes, want) {
		t.Errorf("EventTypes = %v, want %v", chartmogul.EventTypes, want)
	}
	var startsOrUpdates []string
	for _, et := range chartmogul.EventTypes {
		if chartmogul.EventStartsOrUpdates(et) {
			startsOrUpdates = append(startsOrUpdates, et)
		}
	}
	if want := []string{"subscription_start_scheduled", "subscription_start", "subscription_update_scheduled", "subscription_updated"}; !slices.Equal(startsOrUpdates, want) {
		t.Errorf("EventStartsOrUpdates holds for %v, want %v", startsOrUpdates, want)
	}
}

// TestEventValidatePerType checks, for each of the ten types, that a minimal
// event is valid and what an event with nothing but its type lacks.
func TestEventValidatePerType(t *testing.T) {
	common := []chartmogul.FieldProblem{
		fp("customer_external_id", "customer_external_id is required"),
		fp("event_date", "event_date is required"),
		fp("effective_date", "effective_date is required"),
	}
	for _, et := range chartmogul.EventTypes {
		t.Run(et, func(t *testing.T) {
			ev := validEvent(et)
			var p chartmogul.Problems
			ev.Validate(&p)
			checkProblems(t, &p, nil, nil)
			if chartmogul.EventStartsOrUpdates(et) && ev.Currency != "USD" {
				t.Errorf("currency = %q, want USD", ev.Currency)
			}

			want := slices.Clone(common)
			switch {
			case et == chartmogul.EventSubscriptionEventRetracted:
				want = append(want, fp("retracted_event_id", "retracted_event_id is required"))
			case chartmogul.EventStartsOrUpdates(et):
				want = append(want,
					fp("subscription_external_id", "subscription_external_id is required"),
					fp("plan_external_id", "plan_external_id is required"),
					fp("currency", "currency is required"),
					fp("amount_in_cents", "amount_in_cents is required"))
			default:
				want = append(want, fp("subscription_external_id", "subscription_external_id is required"))
			}
			empty := chartmogul.SubscriptionEvent{EventType: et}
			p.Reset()
			empty.Validate(&p)
			checkProblems(t, &p, want, nil)
		})
	}
}

func TestEventValidate(t *testing.T) {
	allTypes := "subscription_start_scheduled, subscription_start, scheduled_subscription_start_retracted, " +
		"subscription_cancellation_scheduled, subscription_cancelled, scheduled_subscription_cancellation_retracted, " +
		"subscription_update_scheduled, subscription_updated, scheduled_subscription_update_retracted, subscription_event_retracted"
	with := func(et string, f func(*chartmogul.SubscriptionEvent)) chartmogul.SubscriptionEvent {
		ev := validEvent(et)
		f(&ev)
		return ev
	}
	for _, tc := range []struct {
		name     string
		in       chartmogul.SubscriptionEvent
		pre      []chartmogul.FieldProblem
		errs     []chartmogul.FieldProblem
		currency string
	}{
		{name: "no type", in: with("", func(*chartmogul.SubscriptionEvent) {}),
			errs: []chartmogul.FieldProblem{fp("event_type", "event_type is required")}},
		{name: "unknown type", in: with("subscription_started", func(*chartmogul.SubscriptionEvent) {}),
			errs: []chartmogul.FieldProblem{fp("event_type", "event_type must be one of "+allTypes+`; got "subscription_started"`)}},
		{name: "type of the wrong JSON type", in: with("", func(*chartmogul.SubscriptionEvent) {}),
			pre: []chartmogul.FieldProblem{fp("event_type", "decoder")}, errs: []chartmogul.FieldProblem{fp("event_type", "decoder")}},
		{name: "generic retraction may name a subscription", currency: "",
			in: with(chartmogul.EventSubscriptionEventRetracted, func(ev *chartmogul.SubscriptionEvent) { ev.SubscriptionExternalID = "sub_1" })},
		{name: "generic retraction with a long subscription id",
			in:   with(chartmogul.EventSubscriptionEventRetracted, func(ev *chartmogul.SubscriptionEvent) { ev.SubscriptionExternalID = strings.Repeat("s", 256) }),
			errs: []chartmogul.FieldProblem{fp("subscription_external_id", "subscription_external_id must be at most 255 characters long; got 256")}},
		{name: "quantity 0", currency: "USD", in: with(chartmogul.EventSubscriptionStart, func(ev *chartmogul.SubscriptionEvent) { ev.Quantity = ptr[int64](0) }),
			errs: []chartmogul.FieldProblem{fp("quantity", "quantity must not be 0; leave it out for 1")}},
		{name: "quantity -1", currency: "USD", in: with(chartmogul.EventSubscriptionStart, func(ev *chartmogul.SubscriptionEvent) { ev.Quantity = ptr[int64](-1) })},
		{name: "quantity 3", currency: "USD", in: with(chartmogul.EventSubscriptionUpdated, func(ev *chartmogul.SubscriptionEvent) { ev.Quantity = ptr[int64](3) })},
		{name: "free start", currency: "USD", in: with(chartmogul.EventSubscriptionStart, func(ev *chartmogul.SubscriptionEvent) { ev.AmountInCents = ptr[int64](0) })},
		{name: "negative tax", currency: "USD", in: with(chartmogul.EventSubscriptionStart, func(ev *chartmogul.SubscriptionEvent) { ev.TaxAmountInCents = ptr[int64](-1) }),
			errs: []chartmogul.FieldProblem{fp("tax_amount_in_cents", "tax_amount_in_cents must not be negative; got -1")}},
		{name: "currency on a cancellation", currency: "EUR",
			in: with(chartmogul.EventSubscriptionCancelled, func(ev *chartmogul.SubscriptionEvent) { ev.Currency = "eur" })},
		{name: "bad currency on a cancellation", currency: "EURO",
			in:   with(chartmogul.EventSubscriptionCancelled, func(ev *chartmogul.SubscriptionEvent) { ev.Currency = "EURO" }),
			errs: []chartmogul.FieldProblem{fp("currency", `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "EURO"`)}},
		{name: "bad currency on a start", currency: "XXX",
			in:   with(chartmogul.EventSubscriptionStartScheduled, func(ev *chartmogul.SubscriptionEvent) { ev.Currency = "XXX" }),
			errs: []chartmogul.FieldProblem{fp("currency", `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "XXX"`)}},
		{name: "blank customer", in: with(chartmogul.EventSubscriptionCancelled, func(ev *chartmogul.SubscriptionEvent) { ev.CustomerExternalID = "  " }),
			errs: []chartmogul.FieldProblem{fp("customer_external_id", "customer_external_id is required")}},
		{name: "long ids", in: with(chartmogul.EventSubscriptionCancelled, func(ev *chartmogul.SubscriptionEvent) {
			ev.ExternalID, ev.SubscriptionSetExternalID, ev.PlanExternalID = strings.Repeat("e", 256), strings.Repeat("s", 256), strings.Repeat("p", 256)
		}), errs: []chartmogul.FieldProblem{
			fp("external_id", "external_id must be at most 255 characters long; got 256"),
			fp("subscription_set_external_id", "subscription_set_external_id must be at most 255 characters long; got 256"),
			fp("plan_external_id", "plan_external_id must be at most 255 characters long; got 256"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.in
			p := chartmogul.Problems{Errors: slices.Clone(tc.pre)}
			ev.Validate(&p)
			checkProblems(t, &p, tc.errs, nil)
			if ev.Currency != tc.currency {
				t.Errorf("currency = %q, want %q", ev.Currency, tc.currency)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	e := chartmogul.Errorf(chartmogul.EBADREQUEST, "bad %s", "thing")
	if e.Code != chartmogul.EBADREQUEST || e.Error() != "bad thing" {
		t.Errorf("Errorf = %+v", e)
	}
	if got := chartmogul.ErrorCodeOf(fmt.Errorf("wrapped: %w", e)); got != chartmogul.EBADREQUEST {
		t.Errorf("ErrorCodeOf(wrapped) = %s", got)
	}
	if got := chartmogul.ErrorCodeOf(fmt.Errorf("plain")); got != chartmogul.EINTERNAL {
		t.Errorf("ErrorCodeOf(plain) = %s", got)
	}
	nf := chartmogul.NotFound("Data source")
	if nf.Error() != "Data source not found" || !chartmogul.IsNotFound(nf) || nf.Resource != "Data source" {
		t.Errorf("NotFound = %+v", nf)
	}
	inv := chartmogul.Invalid(map[string]string{"name": "is required", "email": "is invalid"})
	if inv.Code != chartmogul.EINVALID || inv.Error() != "email is invalid" {
		t.Errorf("Invalid.Error() = %q, want the first field in order", inv.Error())
	}
	cause := fmt.Errorf("disk full")
	withCause := &chartmogul.Error{Code: chartmogul.EINTERNAL, Message: "could not store", Err: cause}
	if withCause.Error() != "could not store: disk full" || withCause.Unwrap() != cause {
		t.Errorf("Error with cause = %q", withCause.Error())
	}
}
