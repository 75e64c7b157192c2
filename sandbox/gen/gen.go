// Package gen generates deterministic, realistic ChartMogul bulk-import
// payloads: the JSON body of POST /v1/data_sources/{ds}/json_imports, with
// the flat arrays customers, plans, invoices, line_items, transactions and
// subscription_events linked by external ids (spec §7).
//
// The data is meant to pass a strict validator: every reference resolves
// within the payload, every external id is unique within its type, amounts
// and quantities are consistent (tax and discounts included in
// amount_in_cents), a subscription's service periods follow one another
// without overlapping, and every date is before 2026-01-01. It models a
// small SaaS business: mostly monthly subscribers plus some quarterly and
// annual ones, customers joining throughout the history, seat and plan
// upgrades, churn, a few reactivations after a gap, coupons, VAT/sales tax,
// setup fees, failed and retried payments, refunds and a few scheduled
// subscription events.
//
// Output depends only on the Options: the same options give byte-identical
// payloads. Each customer's history is drawn from a random stream seeded by
// Options.Seed and the customer's index alone, so a customer is identical in
// every payload that contains it, and payloads with disjoint customer ranges
// (Options.FirstCustomer) share no external ids except the plans'.
//
// With the defaults (1,000 customers, 12 months from 2024-01-01) a payload
// holds about 20,000 records in about 4.8 MB (4.6 MiB), safely under the
// server's 5 MiB (5,242,880-byte) limit: over 300 seeds the size stayed
// between 4.76 and 4.88 MB.
package gen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// Defaults applied to zero-valued Options fields.
const (
	DefaultCustomers = 1000
	DefaultMonths    = 12
)

// DefaultStart is the first service period used when Options.Start is zero.
var DefaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Options says what to generate. Zero values take documented defaults.
type Options struct {
	// Customers is the number of customers (default DefaultCustomers).
	Customers int
	// Seed selects the random stream: the same seed and options give
	// byte-identical output.
	Seed int64
	// FirstCustomer is the index of the first customer, so several payloads
	// can hold disjoint customers. External ids derive from the index:
	// customer 123 is "cus_000123", its invoices "inv_000123_001", ….
	FirstCustomer int
	// Start is the beginning of the first service period (default
	// DefaultStart); it is converted to UTC and truncated to the second.
	// Every generated date is before 2026-01-01: history that would reach it
	// is cut short, and Start must leave room for at least one monthly
	// period before it.
	Start time.Time
	// Months is the length of the history in months (default DefaultMonths).
	Months int
	// ExternalID is the import's top-level external_id ("" = omitted).
	ExternalID string
}

// Stats counts what was written, per record type, and the bytes.
type Stats struct {
	Customers, Plans, Invoices, LineItems, Transactions, SubscriptionEvents int
	// Bytes is the size of the payload as written.
	Bytes int
}

// Records returns the total number of records of all types.
func (s Stats) Records() int {
	return s.Customers + s.Plans + s.Invoices + s.LineItems + s.Transactions + s.SubscriptionEvents
}

// ErrOptions is wrapped by the errors Write and Payload return for invalid
// Options.
var ErrOptions = errors.New("gen: invalid options")

// normalize applies defaults and checks o. It returns the options to use
// and the number of history months that fit before Horizon.
func (o Options) normalize() (Options, int, error) {
	if o.Customers == 0 {
		o.Customers = DefaultCustomers
	}
	if o.Months == 0 {
		o.Months = DefaultMonths
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	o.Start = o.Start.UTC().Truncate(time.Second)
	switch {
	case o.Customers < 0:
		return o, 0, fmt.Errorf("%w: negative Customers %d", ErrOptions, o.Customers)
	case o.Months < 0:
		return o, 0, fmt.Errorf("%w: negative Months %d", ErrOptions, o.Months)
	case o.FirstCustomer < 0:
		return o, 0, fmt.Errorf("%w: negative FirstCustomer %d", ErrOptions, o.FirstCustomer)
	case o.Start.Year() < 2000:
		return o, 0, fmt.Errorf("%w: Start %s is before 2000", ErrOptions, o.Start.Format(time.RFC3339))
	}
	months := historyMonths(o.Start, o.Months)
	if months == 0 {
		return o, 0, fmt.Errorf("%w: Start %s leaves no room for a monthly period before %s",
			ErrOptions, o.Start.Format(time.RFC3339), horizon.Format(time.DateOnly))
	}
	return o, months, nil
}

// Payload is Write into a []byte.
func Payload(o Options) ([]byte, Stats, error) {
	// Pre-size the buffer: about 400 bytes per customer and month of
	// history, capped so that a huge request grows as it goes instead.
	n, months := o.Customers, o.Months
	if n == 0 {
		n = DefaultCustomers
	}
	if months == 0 {
		months = DefaultMonths
	}
	var buf bytes.Buffer
	if n > 0 && months > 0 {
		buf.Grow(int(min(int64(n)*int64(months)*420, 256<<20)))
	}
	st, err := Write(&buf, o)
	if err != nil {
		return nil, st, err
	}
	return buf.Bytes(), st, nil
}

// Write streams one payload as JSON to w. It never holds the payload in
// memory: each customer's history is regenerated from its seed for every
// array, so memory use does not grow with Options.Customers.
//
// It returns an error wrapping ErrOptions for invalid options (nothing is
// written then), or the first error from w; in that case the Stats count
// the records generated so far and the bytes w accepted.
func Write(w io.Writer, o Options) (Stats, error) {
	o, months, err := o.normalize()
	if err != nil {
		return Stats{}, err
	}
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	g := &writer{o: o, sim: newSim(o.Seed, o.Start, months), bw: bw}
	err = g.run()
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	g.st.Bytes = cw.n
	return g.st, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// writer emits the sections of one payload.
type writer struct {
	o     Options
	sim   *sim
	bw    *bufio.Writer
	buf   []byte
	st    Stats
	plans uint64 // bit set of referenced plans, filled by the customers pass
	n     int    // records written in the current section
}

// run writes the whole payload.
func (g *writer) run() error {
	g.buf = append(g.buf[:0], '{')
	if g.o.ExternalID != "" {
		g.buf = appendString(append(g.buf, `"external_id":`...), g.o.ExternalID)
		g.buf = append(g.buf, ",\n"...)
	}
	sections := []struct {
		name string
		fn   func(*customer)
	}{
		{"customers", g.customer},
		{"plans", nil},
		{"invoices", g.invoices},
		{"line_items", g.lineItems},
		{"transactions", g.transactions},
		{"subscription_events", g.events},
	}
	for i, sec := range sections {
		if i > 0 {
			g.buf = append(g.buf, ",\n"...)
		}
		g.buf = append(g.buf, '"')
		g.buf = append(g.buf, sec.name...)
		g.buf = append(g.buf, `":[`...)
		g.n = 0
		if sec.fn == nil {
			g.writePlans()
		} else {
			for k := 0; k < g.o.Customers; k++ {
				sec.fn(g.sim.build(g.o.FirstCustomer + k))
				if err := g.flush(); err != nil {
					return err
				}
			}
		}
		g.buf = append(g.buf, "\n]"...)
	}
	g.buf = append(g.buf, "}\n"...)
	return g.flush()
}

// flush hands the buffered records to the bufio.Writer.
func (g *writer) flush() error {
	_, err := g.bw.Write(g.buf)
	g.buf = g.buf[:0]
	return err
}

// begin starts a record: a separator and `{"external_id":`.
func (g *writer) begin() {
	if g.n > 0 {
		g.buf = append(g.buf, ',')
	}
	g.n++
	g.buf = append(g.buf, "\n{\"external_id\":"...)
}

func (g *writer) customer(c *customer) {
	g.st.Customers++
	for i := range c.periods {
		g.plans |= 1 << c.periods[i].plan
	}
	for i := range c.events {
		if c.events[i].plan >= 0 {
			g.plans |= 1 << c.events[i].plan
		}
	}
	co := &countries[c.country]
	pl := &co.places[c.place]
	first, last := &firstNames[c.first], &lastNames[c.last]
	head, tail := &companyHeads[c.head], &companyTails[c.tail]

	g.begin()
	b := appendID(g.buf, "cus_", c.idx, -1, -1)
	b = appendKey(b, "name", false)
	b = append(b, '"')
	b = append(b, first.text...)
	b = append(b, ' ')
	b = append(b, last.text...)
	b = append(b, '"')
	b = appendKey(b, "email", false)
	b = append(b, '"')
	switch c.emailStyle {
	case 0:
		b = append(b, first.slug...)
		b = append(b, '.')
		b = append(b, last.slug...)
	case 1:
		b = append(b, first.slug...)
	case 2:
		b = append(b, first.slug[0])
		b = append(b, last.slug...)
	default:
		b = append(b, first.slug...)
		b = append(b, '_')
		b = append(b, last.slug...)
	}
	b = append(b, '@')
	b = append(b, head.slug...)
	b = append(b, tail.slug...)
	b = append(b, co.tld...)
	b = append(b, '"')
	b = appendKey(b, "company", false)
	b = append(b, '"')
	b = append(b, head.text...)
	b = append(b, ' ')
	b = append(b, tail.text...)
	b = append(b, ' ')
	b = append(b, co.suffix...)
	b = append(b, '"')
	b = field(b, "country", co.code)
	if pl.state != "" {
		b = field(b, "state", pl.state)
	}
	b = textField(b, "city", pl.city)
	b = textField(b, "zip", pl.zip)
	b = timeField(b, "lead_created_at", c.lead, c.style)
	if !c.trial.IsZero() {
		b = timeField(b, "free_trial_started_at", c.trial, c.style)
	}
	g.buf = append(b, '}')
}

func (g *writer) writePlans() {
	for i := range plans {
		if g.plans&(1<<i) == 0 {
			continue
		}
		p := &plans[i]
		g.st.Plans++
		g.begin()
		b := appendString(g.buf, p.id)
		b = textField(b, "name", p.name)
		b = intField(b, "interval_count", int64(p.count))
		b = field(b, "interval_unit", p.unit)
		g.buf = append(b, '}')
	}
}

func (g *writer) invoices(c *customer) {
	cur := currencies[c.currency]
	for i := range c.periods {
		p := &c.periods[i]
		g.st.Invoices++
		g.begin()
		b := appendID(g.buf, "inv_", c.idx, i+1, -1)
		b = idField(b, "customer_external_id", "cus_", c.idx, -1, -1)
		b = timeField(b, "date", p.start, c.style)
		due, method := p.start, "automatic"
		if p.manual {
			due, method = p.start.AddDate(0, 0, 30), "manual"
		}
		b = timeField(b, "due_date", due, c.style)
		b = field(b, "currency", cur)
		b = field(b, "collection_method", method)
		g.buf = append(b, '}')
	}
}

func (g *writer) lineItems(c *customer) {
	for i := range c.periods {
		p := &c.periods[i]
		g.st.LineItems++
		g.begin()
		b := appendID(g.buf, "li_", c.idx, i+1, 1)
		b = idField(b, "invoice_external_id", "inv_", c.idx, i+1, -1)
		b = field(b, "type", "subscription")
		b = idField(b, "subscription_external_id", "sub_", c.idx, -1, p.sub)
		b = field(b, "plan_external_id", plans[p.plan].id)
		b = timeField(b, "service_period_start", p.start, c.style)
		b = timeField(b, "service_period_end", p.end, c.style)
		b = intField(b, "amount_in_cents", p.amount)
		b = intField(b, "quantity", int64(p.qty))
		if p.coupon >= 0 {
			cp := &coupons[p.coupon]
			b = intField(b, "discount_amount_in_cents", p.discount)
			b = field(b, "discount_code", cp.code)
			b = textField(b, "discount_description", cp.description)
		}
		if p.tax > 0 {
			b = intField(b, "tax_amount_in_cents", p.tax)
		}
		if !p.manual && p.amount > 0 {
			b = intField(b, "transaction_fees_in_cents", cardFee(p.amount))
			b = field(b, "transaction_fees_currency", currencies[c.currency])
		}
		g.buf = append(b, '}')
		if p.setup > 0 {
			g.st.LineItems++
			g.begin()
			b := appendID(g.buf, "li_", c.idx, i+1, 2)
			b = idField(b, "invoice_external_id", "inv_", c.idx, i+1, -1)
			b = field(b, "type", "one_time")
			b = textField(b, "description", "Onboarding and setup")
			b = intField(b, "amount_in_cents", p.setup)
			b = intField(b, "quantity", 1)
			if p.setupTax > 0 {
				b = intField(b, "tax_amount_in_cents", p.setupTax)
			}
			g.buf = append(b, '}')
		}
	}
}

func (g *writer) transactions(c *customer) {
	for i := range c.periods {
		p := &c.periods[i]
		n := 0
		for k := 0; k <= p.fails; k++ {
			result := "failed"
			if k == p.fails {
				result = "successful"
			}
			n++
			g.transaction(c, i, n, "payment", result, p.attempts[k], p.total())
		}
		if p.refund > 0 {
			n++
			g.transaction(c, i, n, "refund", "successful", p.refundDate, p.refund)
		}
	}
}

func (g *writer) transaction(c *customer, inv, n int, typ, result string, date time.Time, amount int64) {
	g.st.Transactions++
	g.begin()
	b := appendID(g.buf, "tr_", c.idx, inv+1, n)
	b = idField(b, "invoice_external_id", "inv_", c.idx, inv+1, -1)
	b = field(b, "type", typ)
	b = field(b, "result", result)
	b = timeField(b, "date", date, c.style)
	b = intField(b, "amount_in_cents", amount)
	g.buf = append(b, '}')
}

func (g *writer) events(c *customer) {
	for i := range c.events {
		e := &c.events[i]
		g.st.SubscriptionEvents++
		g.begin()
		b := appendID(g.buf, "evt_", c.idx, -1, i+1)
		b = idField(b, "customer_external_id", "cus_", c.idx, -1, -1)
		b = idField(b, "subscription_external_id", "sub_", c.idx, -1, e.sub)
		b = field(b, "event_type", e.kind)
		b = timeField(b, "event_date", e.eventDate, c.style)
		b = timeField(b, "effective_date", e.effectiveDate, c.style)
		if e.plan >= 0 {
			b = field(b, "plan_external_id", plans[e.plan].id)
			b = field(b, "currency", currencies[c.currency])
			b = intField(b, "amount_in_cents", e.amount)
			b = intField(b, "quantity", int64(e.qty))
		}
		g.buf = append(b, '}')
	}
}

// cardFee is the processor fee for a card payment of amount: 2.9% + 30¢.
func cardFee(amount int64) int64 { return amount*29/1000 + 30 }
