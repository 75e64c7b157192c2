package gen

import (
	"math/rand/v2"
	"time"
)

// A customer's whole history is decided up front by build, from a random
// stream seeded by (Options.Seed, customer index) alone, plus three
// stratified numbers (see strata) derived from the same pair. The writer then
// rebuilds the same story once per output section (customers, invoices,
// line items, …) instead of keeping every customer in memory: building is
// cheap next to formatting, and memory stays constant in the number of
// customers. Because the stream depends only on the seed and the index, a
// customer looks the same whichever payload (FirstCustomer) it lands in.

// Date styles; each customer's records use one of them.
const (
	styleSpace = iota // 2024-01-01 00:00:00
	styleISO          // 2024-01-01T00:00:00Z
)

// period is one billed service period, i.e. one invoice with its
// subscription line item, optional setup fee and transactions.
type period struct {
	start, end time.Time
	plan       int
	qty        int
	sub        int   // subscription number within the customer
	list       int64 // price × quantity before discount
	discount   int64
	coupon     int // index into coupons, -1 = none
	amount     int64
	tax        int64
	setup      int64 // one-time setup fee (0 = none), tax included
	setupTax   int64
	manual     bool         // collection_method manual (due in 30 days)
	fails      int          // failed payment attempts before the successful one
	attempts   [3]time.Time // failed attempts, then the successful payment
	refund     int64        // refunded amount (0 = none)
	refundDate time.Time
}

// total is the invoice total: what the successful payment collects.
func (p *period) total() int64 { return p.amount + p.setup }

// event is one subscription event.
type event struct {
	kind          string
	sub           int
	plan          int // -1 = none (no plan/currency/amount fields)
	qty           int
	amount        int64
	eventDate     time.Time
	effectiveDate time.Time
}

// customer is one customer's generated story. It is reused between
// customers to avoid allocation; build resets it.
type customer struct {
	idx        int
	first      int // index into firstNames
	last       int // index into lastNames
	emailStyle int
	head, tail int // company name parts
	country    int
	place      int
	currency   int
	taxBP      int
	style      int
	lead       time.Time
	trial      time.Time // zero = no free trial
	periods    []period
	events     []event
}

// sim holds the normalized options and the reusable random source.
type sim struct {
	seed   uint64
	start  time.Time // Options.Start, UTC, truncated to the second
	months int       // months of history that fit before the horizon
	pcg    *rand.PCG
	rng    *rand.Rand
	c      customer
}

// horizon is the exclusive upper bound of every generated date.
var horizon = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// maxTail is how far after a period's start its due date, payments and
// refunds may fall; a period is only billed if start+maxTail is before the
// horizon.
const maxTail = 40 * 24 * time.Hour

func newSim(seed int64, start time.Time, months int) *sim {
	s := &sim{seed: uint64(seed), start: start, months: months}
	s.pcg = rand.NewPCG(0, 0)
	s.rng = rand.New(s.pcg)
	return s
}

// fits reports whether a period [start, end) and its tail end before the horizon.
func fits(start, end time.Time) bool {
	return end.Before(horizon) && start.Add(maxTail).Before(horizon)
}

// addMonths adds n calendar months to t, clamping the day to the length of
// the target month (Jan 31 + 1 month = Feb 28/29), so that consecutive
// periods computed from one anchor are contiguous and never skip a month.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	total := int(m) - 1 + n
	y += total / 12
	mi := total % 12
	if mi < 0 {
		mi += 12
		y--
	}
	month := time.Month(mi + 1)
	if dim := daysIn(y, month); d > dim {
		d = dim
	}
	return time.Date(y, month, d, hh, mm, ss, 0, time.UTC)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// historyMonths returns how many of the requested months can hold a
// monthly period starting as late as possible in the month (day offset 27,
// 23:59) without any date reaching the horizon.
func historyMonths(start time.Time, months int) int {
	n := 0
	for n < months {
		s := addMonths(start, n).Add(27*24*time.Hour + 23*time.Hour + 59*time.Minute)
		if !fits(s, addMonths(s, 1)) {
			break
		}
		n++
	}
	return n
}

// splitmix64 scrambles x; used to derive per-customer seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// strata returns three numbers in [0, 1) for customer idx that drive the
// decisions with the largest effect on a customer's record count (signup
// month, billing interval, churn). They come from additive recurrences
// (Weyl sequences) offset by the seed rather than from the random stream:
// any run of consecutive customers covers [0, 1) almost evenly, so payload
// sizes vary little between seeds (the default payload has to stay under the
// server's 5 MiB limit for every seed) while each customer still looks random.
func (s *sim) strata(idx int) [3]float64 {
	// Fractional parts of the golden ratio, √2 and √3, times 2^64.
	steps := [3]uint64{0x9e3779b97f4a7c15, 0x6a09e667f3bcc908, 0xbb67ae8584caa73b}
	var u [3]float64
	for i, step := range steps {
		x := splitmix64(s.seed+uint64(i)*0x632be59bd9b4e019) + uint64(idx)*step
		u[i] = float64(x>>11) / (1 << 53)
	}
	return u
}

// chance returns true with probability p.
func (s *sim) chance(p float64) bool { return s.rng.Float64() < p }

// between returns a uniform int in [lo, hi].
func (s *sim) between(lo, hi int) int { return lo + s.rng.IntN(hi-lo+1) }

// build generates the story of customer idx into s.c and returns it.
func (s *sim) build(idx int) *customer {
	s.pcg.Seed(splitmix64(s.seed), splitmix64(uint64(idx)^0x5851f42d4c957f2d))
	r := s.rng
	c := &s.c
	c.idx = idx
	c.periods = c.periods[:0]
	c.events = c.events[:0]

	// Profile.
	w := r.IntN(countryWeight)
	for i := range countries {
		if w < countries[i].weight {
			c.country = i
			break
		}
		w -= countries[i].weight
	}
	co := &countries[c.country]
	c.place = r.IntN(len(co.places))
	c.currency = co.currency
	c.taxBP = co.taxBP
	if co.code == "US" && s.chance(0.4) {
		st := co.places[c.place].state
		for _, t := range usSalesTaxBP {
			if t.state == st {
				c.taxBP = t.bp
			}
		}
	}
	if co.taxBP > 0 && s.chance(0.25) {
		c.taxBP = 0 // tax-exempt or reverse-charged business
	}
	c.first = r.IntN(len(firstNames))
	c.last = r.IntN(len(lastNames))
	c.head = r.IntN(len(companyHeads))
	c.tail = r.IntN(len(companyTails))
	c.emailStyle = r.IntN(4)
	c.style = r.IntN(2)

	// Plan family, tier and seats.
	u := s.strata(idx)
	fam := monthlyPlans
	switch x := u[1]; {
	case x < 0.09:
		fam = annualPlans
	case x < 0.15:
		fam = quarterlyPlans
	}
	tier := 0
	switch x := r.Float64(); {
	case x < 0.5:
	case x < 0.85:
		tier = 1
	default:
		tier = 2
	}
	qty := 1
	switch tier {
	case 1:
		qty = s.between(1, 5)
		if s.chance(0.15) {
			qty += s.between(5, 20)
		}
	case 2:
		qty = s.between(3, 25)
	}

	// Signup: 20% were customers already when the history starts, the
	// rest join at an evenly spread month.
	m := 0
	if u[0] >= 0.2 {
		m = min(int((u[0]-0.2)/0.8*float64(s.months)), s.months-1)
	}
	anchor := addMonths(s.start, m).Add(time.Duration(r.IntN(28))*24*time.Hour +
		time.Duration(r.IntN(24))*time.Hour + time.Duration(r.IntN(12)*5)*time.Minute)

	// Fall back to a shorter interval when the first period would cross the horizon.
	for len(fam) > 0 && fam[0] != monthlyPlans[0] {
		if fits(anchor, addMonths(anchor, plans[fam[0]].months)) {
			break
		}
		if len(fam) == 3 {
			fam = quarterlyPlans
		} else {
			fam = monthlyPlans
		}
	}
	if tier >= len(fam) {
		tier = len(fam) - 1 // the quarterly family has only Pro
	}
	pl := fam[tier]
	interval := plans[pl].months

	// Lifecycle decisions, in periods.
	maxPeriods := (s.months - m + interval - 1) / interval
	churnAt := -1 // number of periods before churning
	reactivate := 0
	if maxPeriods > 1 {
		p := 0.25
		if interval == 12 {
			p = 0.15
		}
		if u[2] < p {
			churnAt = 1 + min(int(u[2]/p*float64(maxPeriods-1)), maxPeriods-2)
			if interval == 1 && s.chance(0.3) {
				reactivate = s.between(1, 3) // months of gap
			}
		}
	}
	changeAt, changeKind := -1, 0
	if maxPeriods > 2 && s.chance(0.2) {
		changeAt = s.between(1, maxPeriods-1)
		changeKind = r.IntN(10) // 0-5 seats up, 6-8 tier up, 9 seats down
	}
	cp := -1
	if s.chance(0.14) {
		switch interval {
		case 1:
			cp = []int{0, 0, 2, 3}[r.IntN(4)]
		case 3:
			cp = 2
		default:
			cp = []int{1, 1, 2}[r.IntN(3)]
		}
	}
	setup := s.chance(0.1)
	manual := tier == 2 && interval == 12 || s.chance(0.05)

	// Periods.
	offset := 0 // months since anchor
	billed := 0 // periods billed so far (drives coupon/churn)
	resumed := false
	for m+offset < s.months {
		if churnAt >= 0 && billed == churnAt && !resumed {
			if reactivate == 0 {
				break
			}
			resumed = true
			offset += reactivate
			if m+offset >= s.months {
				break
			}
		}
		if billed == changeAt {
			switch {
			case changeKind <= 5:
				qty += s.between(1, 3)
			case changeKind <= 8 && tier < len(fam)-1:
				tier++
				pl = fam[tier]
			case qty > 1:
				qty--
			default:
				qty++
			}
		}
		st := addMonths(anchor, offset)
		en := addMonths(anchor, offset+interval)
		if !fits(st, en) {
			break
		}
		p := period{start: st, end: en, plan: pl, qty: qty, sub: 1, coupon: -1, manual: manual}
		p.list = price(pl, c.currency) * int64(qty)
		if cp >= 0 && (coupons[cp].periods == 0 || billed < coupons[cp].periods) {
			p.coupon = cp
			p.discount = p.list * int64(coupons[cp].percent) / 100
		}
		p.amount = p.list - p.discount
		p.tax = taxOf(p.amount, c.taxBP)
		if billed == 0 && setup {
			p.setup = setupFee(plans[pl].tier)
			p.setupTax = taxOf(p.setup, c.taxBP)
		}
		// Payment: automatic collection charges within minutes, manual
		// invoices are paid by transfer within the 30-day term.
		pay := st.Add(time.Duration(s.between(1, 30)) * time.Minute)
		if manual {
			pay = st.Add(time.Duration(s.between(2, 25))*24*time.Hour + time.Duration(r.IntN(600))*time.Minute)
		} else {
			switch x := r.Float64(); {
			case x < 0.015:
				p.fails = 2
			case x < 0.09:
				p.fails = 1
			}
		}
		for i := 0; i < p.fails; i++ {
			p.attempts[i] = pay
			pay = pay.Add(time.Duration(s.between(1, 4)) * 24 * time.Hour)
		}
		p.attempts[p.fails] = pay
		if s.chance(0.012) {
			p.refund = p.total()
			if s.chance(0.4) {
				p.refund /= 2
			}
			p.refundDate = pay.Add(time.Duration(s.between(1, 10))*24*time.Hour + time.Duration(r.IntN(600))*time.Minute)
		}
		c.periods = append(c.periods, p)
		billed++
		offset += interval
	}

	// Lead and trial precede the first invoice.
	first := anchor
	if len(c.periods) > 0 {
		first = c.periods[0].start
	}
	c.trial = time.Time{}
	if s.chance(0.35) {
		c.trial = first.Add(-time.Duration([]int{7, 14, 14, 30}[r.IntN(4)]) * 24 * time.Hour)
		c.lead = c.trial.Add(-time.Duration(r.IntN(30*24*60)) * time.Minute)
	} else {
		c.lead = first.Add(-time.Duration(60+r.IntN(90*24*60)) * time.Minute)
	}
	c.lead = c.lead.Truncate(time.Minute)

	s.events(c)
	return c
}

// events adds the few subscription events a customer may have: a scheduled
// cancellation before churn, a scheduled start of an add-on subscription or
// a scheduled upgrade after the last invoice, or a scheduled cancellation
// that was later retracted.
func (s *sim) events(c *customer) {
	n := len(c.periods)
	if n == 0 {
		return
	}
	r := s.rng
	last := &c.periods[n-1]
	// Active customers have a period running past the end of the history.
	active := !last.end.Before(addMonths(s.start, s.months))
	x := r.Float64()
	switch {
	case !active && x < 0.08:
		// Cancellation announced during the last period, effective at its end.
		ev := last.start.Add(time.Duration(s.between(1, 10))*24*time.Hour + time.Duration(r.IntN(600))*time.Minute)
		if ev.Before(last.end) {
			c.events = append(c.events, event{kind: evCancellationScheduled, sub: last.sub, plan: -1,
				eventDate: ev, effectiveDate: last.end})
		}
	case active && x < 0.012:
		// An add-on subscription scheduled to start with the next period.
		pl := monthlyPlans[0]
		if plans[last.plan].months == 12 {
			pl = annualPlans[0]
		}
		qty := s.between(1, 3)
		s.schedule(c, last, event{kind: evStartScheduled, sub: 2, plan: pl, qty: qty,
			amount: price(pl, c.currency) * int64(qty)})
	case active && x < 0.024:
		// An upgrade (one more seat) scheduled for the next period.
		qty := last.qty + 1
		s.schedule(c, last, event{kind: evUpdateScheduled, sub: last.sub, plan: last.plan, qty: qty,
			amount: price(last.plan, c.currency) * int64(qty)})
	case active && x < 0.036:
		// A cancellation scheduled for the end of the period, then withdrawn.
		if s.schedule(c, last, event{kind: evCancellationScheduled, sub: last.sub, plan: -1}) {
			e := c.events[len(c.events)-1]
			e.kind = evCancellationRetracted
			e.eventDate = e.eventDate.Add(time.Duration(s.between(1, 3)) * 24 * time.Hour)
			if e.eventDate.Before(e.effectiveDate) {
				c.events = append(c.events, e)
			}
		}
	}
}

// schedule appends e, raised during period last and effective at its end,
// if both dates are before the horizon. It reports whether e was added.
func (s *sim) schedule(c *customer, last *period, e event) bool {
	e.eventDate = last.start.Add(time.Duration(s.between(1, 7))*24*time.Hour + time.Duration(s.rng.IntN(600))*time.Minute)
	e.effectiveDate = last.end
	if !e.eventDate.Before(e.effectiveDate) || !e.effectiveDate.Before(horizon) {
		return false
	}
	c.events = append(c.events, e)
	return true
}

// taxOf returns the tax contained in a tax-inclusive amount at rate bp
// (basis points), rounded to the nearest cent.
func taxOf(amount int64, bp int) int64 {
	if bp == 0 {
		return 0
	}
	return (amount*int64(bp) + (10000+int64(bp))/2) / (10000 + int64(bp))
}
