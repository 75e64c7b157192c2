package chartmogul

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on the sizes of values, so that a hostile or broken payload cannot
// store megabytes in a name.
const (
	MaxIDLength   = 255  // external ids, codes
	MaxTextLength = 4096 // names, descriptions, free text
)

// FieldProblem is one thing wrong with one field of a record.
type FieldProblem struct {
	Field   string
	Message string
}

// Problems collects what is wrong with one record: errors, which keep the
// record out, and warnings, which do not.
type Problems struct {
	Errors   []FieldProblem
	Warnings []FieldProblem
}

// Fail records an error on field. The message should say what was expected
// and, where it helps, what was got.
func (p *Problems) Fail(field, format string, args ...any) {
	p.Errors = append(p.Errors, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Warn records a warning on field.
func (p *Problems) Warn(field, format string, args ...any) {
	p.Warnings = append(p.Warnings, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Has reports whether an error was already recorded on field, so that a
// field with the wrong JSON type is not also reported as missing.
func (p *Problems) Has(field string) bool {
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

// OK reports whether no error was recorded.
func (p *Problems) OK() bool { return len(p.Errors) == 0 }

// Reset empties p for reuse.
func (p *Problems) Reset() {
	p.Errors = p.Errors[:0]
	p.Warnings = p.Warnings[:0]
}

// Required records that field is missing, unless it was already reported.
func (p *Problems) Required(field string) {
	if !p.Has(field) {
		p.Fail(field, "%s is required", field)
	}
}

// requireID checks a required identifier: present, not blank, not too long.
func (p *Problems) requireID(field, v string) {
	if strings.TrimSpace(v) == "" {
		p.Required(field)
		return
	}
	p.checkID(field, v)
}

// checkID checks an optional identifier's length.
func (p *Problems) checkID(field, v string) {
	if len(v) > MaxIDLength {
		p.Fail(field, "%s must be at most %d characters long; got %d", field, MaxIDLength, len(v))
	}
}

func (p *Problems) checkText(field, v string) {
	if len(v) > MaxTextLength {
		p.Fail(field, "%s must be at most %d characters long; got %d", field, MaxTextLength, len(v))
	}
}

// oneOf checks that v is one of allowed, naming them all when it is not.
func (p *Problems) oneOf(field, v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	p.Fail(field, "%s must be one of %s; got %s", field, strings.Join(allowed, ", "), Quote(v))
	return false
}

// Quote renders a value a caller sent for a message: quoted, shortened when
// long, with invalid UTF-8 shown escaped.
func Quote(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

// currency normalises a required or optional currency code in place.
func (p *Problems) currency(field string, v *string, required bool) {
	if *v == "" {
		if required {
			p.Required(field)
		}
		return
	}
	code, ok := NormalizeCurrency(*v)
	if !ok {
		p.Fail(field, "%s must be an ISO 4217 currency code such as USD, EUR or GBP; got %s", field, Quote(*v))
		return
	}
	*v = code
}

// ValidEmail reports whether s looks like a deliverable address: one
// addr-spec, nothing around it, a dot in the domain.
func ValidEmail(s string) bool {
	if len(s) > MaxIDLength || strings.ContainsAny(s, " \t\r\n<>()[],;:\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// Validate checks a customer record and normalises it in place: the country
// to its ISO code, the state to its short code. Malformed contact details
// (e-mail, country, state, dates) are warnings and the field is dropped: a
// customer, and with it every invoice, is never lost over a bad address.
func (c *Customer) Validate(p *Problems, now time.Time) {
	p.requireID("external_id", c.ExternalID)
	// A dropped field is no longer given: re-importing a customer with a
	// bad address must not erase the good one stored.
	drop := func(f CustomerFields, dst *string) {
		*dst = ""
		c.Given &^= f
	}
	for _, f := range []struct {
		name  string
		field CustomerFields
		dst   *string
		max   int
	}{{"name", CustomerName, &c.Name, MaxTextLength}, {"company", CustomerCompany, &c.Company, MaxTextLength},
		{"city", CustomerCity, &c.City, MaxTextLength}, {"zip", CustomerZip, &c.Zip, MaxIDLength},
		{"website_url", CustomerWebsiteURL, &c.WebsiteURL, MaxTextLength}} {
		if len(*f.dst) > f.max {
			p.Warn(f.name, "%s must be at most %d characters long; got %d; the customer was kept without it", f.name, f.max, len(*f.dst))
			drop(f.field, f.dst)
		}
	}
	if c.Email != "" && !ValidEmail(c.Email) {
		p.Warn("email", "email %s is not a valid e-mail address; the customer was kept without it", Quote(c.Email))
		drop(CustomerEmail, &c.Email)
	}
	countryDropped := false
	if c.Country != "" {
		code, ok := LookupCountry(c.Country)
		if !ok {
			p.Warn("country", "country must be an ISO 3166-1 alpha-2 code such as US or DE; got %s; the customer was kept without it", Quote(c.Country))
			drop(CustomerCountry, &c.Country)
			countryDropped = true
		} else {
			c.Country = code
		}
	}
	if c.State != "" {
		if countryDropped {
			// A state means something only in its country.
			p.Warn("state", "state %s was left out with the country it belongs to", Quote(c.State))
			drop(CustomerState, &c.State)
		} else if c.Country == "" {
			c.State = strings.TrimSpace(c.State)
		} else if code, ok := NormalizeState(c.Country, c.State); ok {
			c.State = code
		} else {
			p.Warn("state", "state %s is not a state of %s; the customer was kept without it", Quote(c.State), CountryName(c.Country))
			drop(CustomerState, &c.State)
		}
		if len(c.State) > MaxIDLength {
			p.Warn("state", "state must be at most %d characters long; got %d; the customer was kept without it", MaxIDLength, len(c.State))
			drop(CustomerState, &c.State)
		}
	}
	if c.LeadCreatedAt != nil && c.LeadCreatedAt.After(now) {
		p.Warn("lead_created_at", "lead_created_at should be in the past; got %s", FormatSeconds(*c.LeadCreatedAt))
	}
}

// Validate checks a plan record. A plan without an external id gets the bare
// UUID as its external id, as ChartMogul does (spec §1.2); the caller assigns
// the UUID first.
func (pl *Plan) Validate(p *Problems) {
	p.checkID("external_id", pl.ExternalID)
	if strings.TrimSpace(pl.Name) == "" {
		p.Required("name")
	}
	p.checkText("name", pl.Name)
	if pl.IntervalCount <= 0 && !p.Has("interval_count") {
		if pl.IntervalCount == 0 {
			p.Required("interval_count")
		} else {
			p.Fail("interval_count", "interval_count must be a whole number greater than 0; got %d", pl.IntervalCount)
		}
	}
	if pl.IntervalCount > 1000 {
		p.Fail("interval_count", "interval_count must be at most 1000; got %d", pl.IntervalCount)
	}
	switch {
	case p.Has("interval_unit"):
	case pl.IntervalUnit == "":
		p.Required("interval_unit")
	case pl.IntervalUnit == "week":
		p.Fail("interval_unit", "interval_unit must be one of day, month, year; got \"week\" (a weekly plan is 7 day)")
	default:
		p.oneOf("interval_unit", pl.IntervalUnit, IntervalDay, IntervalMonth, IntervalYear)
	}
}

// Validate checks an invoice's own fields (not its line items or
// transactions).
func (inv *Invoice) Validate(p *Problems) {
	p.requireID("external_id", inv.ExternalID)
	if inv.Date.IsZero() {
		p.Required("date")
	}
	p.currency("currency", &inv.Currency, true)
	if inv.CollectionMethod != "" {
		p.oneOf("collection_method", inv.CollectionMethod, "automatic", "manual")
	}
}

// Validate checks a line item. A subscription or trial item must name its
// subscription, its plan (planField is "plan_external_id" in bulk payloads
// and "plan_uuid" elsewhere, and the caller resolves it) and a service period
// that ends after it starts: without one it cannot produce MRR.
func (li *LineItem) Validate(p *Problems, planField string) {
	p.checkID("external_id", li.ExternalID)
	switch {
	case p.Has("type"):
	case li.Type == "":
		p.Required("type")
	default:
		p.oneOf("type", li.Type, LineItemSubscription, LineItemOneTime, LineItemTrial)
	}
	if li.Quantity == 0 && !p.Has("quantity") {
		li.Quantity = 1
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"discount_amount_in_cents", li.DiscountAmountInCents}, {"tax_amount_in_cents", li.TaxAmountInCents}, {"transaction_fees_in_cents", li.TransactionFeesInCents}} {
		if f.v < 0 {
			p.Fail(f.name, "%s must not be negative; got %d", f.name, f.v)
		}
	}
	p.checkID("discount_code", li.DiscountCode)
	p.checkText("discount_description", li.DiscountDescription)
	p.checkText("description", li.Description)
	p.checkID("account_code", li.AccountCode)
	p.currency("transaction_fees_currency", &li.TransactionFeesCurrency, false)
	if li.ProrationType != "" {
		p.oneOf("proration_type", li.ProrationType, "full", "differential", "differential_mrr")
	}
	if li.AmountInCents >= 0 && li.TaxAmountInCents > li.AmountInCents {
		p.Fail("tax_amount_in_cents", "tax_amount_in_cents (%d) must not exceed amount_in_cents (%d): the amount includes the tax", li.TaxAmountInCents, li.AmountInCents)
	}
	if !li.IsRecurring() {
		return
	}
	p.requireID("subscription_external_id", li.SubscriptionExternalID)
	p.checkID("subscription_set_external_id", li.SubscriptionSetExternalID)
	if li.PlanID == 0 && li.PlanExternalID == "" && li.PlanUUID == "" {
		p.Required(planField)
	}
	if li.ServicePeriodStart == nil {
		p.Required("service_period_start")
	}
	if li.ServicePeriodEnd == nil {
		p.Required("service_period_end")
	}
	if li.ServicePeriodStart != nil && li.ServicePeriodEnd != nil && !li.ServicePeriodEnd.After(*li.ServicePeriodStart) {
		p.Fail("service_period_end", "service_period_end must be after service_period_start (%s); got %s",
			FormatSeconds(*li.ServicePeriodStart), FormatSeconds(*li.ServicePeriodEnd))
	}
	if li.AmountInCents < 0 && !li.Prorated && !p.Has("amount_in_cents") {
		p.Fail("amount_in_cents", "amount_in_cents must not be negative on a %s line item unless it is prorated; got %d", li.Type, li.AmountInCents)
	}
}

// Validate checks a transaction. A transaction dated more than a day ahead
// of now is refused: it has not happened yet.
func (tr *Transaction) Validate(p *Problems, now time.Time) {
	p.checkID("external_id", tr.ExternalID)
	switch {
	case p.Has("type"):
	case tr.Type == "":
		p.Required("type")
	default:
		p.oneOf("type", tr.Type, TransactionPayment, TransactionRefund)
	}
	switch {
	case p.Has("result"):
	case tr.Result == "":
		p.Required("result")
	default:
		p.oneOf("result", tr.Result, TransactionSuccessful, TransactionFailed)
	}
	if tr.Date.IsZero() {
		p.Required("date")
	} else if tr.Date.After(now.Add(24 * time.Hour)) {
		p.Fail("date", "date must not be in the future; got %s", FormatSeconds(tr.Date))
	}
	if tr.AmountInCents != nil && *tr.AmountInCents < 0 {
		p.Fail("amount_in_cents", "amount_in_cents must not be negative; got %d", *tr.AmountInCents)
	}
	if tr.TransactionFeesInCents != nil && *tr.TransactionFeesInCents < 0 {
		p.Fail("transaction_fees_in_cents", "transaction_fees_in_cents must not be negative; got %d", *tr.TransactionFeesInCents)
	}
	p.currency("transaction_fees_currency", &tr.TransactionFeesCurrency, false)
}

// Validate checks a subscription event. Start and update events must carry a
// plan, a currency and an amount; the generic retraction must name the event
// it retracts; every other event names its subscription.
func (ev *SubscriptionEvent) Validate(p *Problems) {
	p.checkID("external_id", ev.ExternalID)
	p.requireID("customer_external_id", ev.CustomerExternalID)
	switch {
	case p.Has("event_type"):
	case ev.EventType == "":
		p.Required("event_type")
	default:
		p.oneOf("event_type", ev.EventType, EventTypes...)
	}
	if ev.EventDate.IsZero() {
		p.Required("event_date")
	}
	if ev.EffectiveDate.IsZero() {
		p.Required("effective_date")
	}
	p.checkID("subscription_set_external_id", ev.SubscriptionSetExternalID)
	p.checkID("plan_external_id", ev.PlanExternalID)
	if ev.EventType == EventSubscriptionEventRetracted {
		if ev.RetractedEventID == "" {
			p.Required("retracted_event_id")
		}
		p.checkID("subscription_external_id", ev.SubscriptionExternalID)
	} else {
		p.requireID("subscription_external_id", ev.SubscriptionExternalID)
	}
	if EventStartsOrUpdates(ev.EventType) {
		if ev.PlanExternalID == "" {
			p.Required("plan_external_id")
		}
		p.currency("currency", &ev.Currency, true)
		if ev.AmountInCents == nil {
			p.Required("amount_in_cents")
		}
	} else {
		p.currency("currency", &ev.Currency, false)
	}
	if ev.Quantity != nil && *ev.Quantity == 0 {
		p.Fail("quantity", "quantity must not be 0; leave it out for 1")
	}
	if ev.TaxAmountInCents != nil && *ev.TaxAmountInCents < 0 {
		p.Fail("tax_amount_in_cents", "tax_amount_in_cents must not be negative; got %d", *ev.TaxAmountInCents)
	}
}
