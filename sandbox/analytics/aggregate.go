package analytics

import (
	"bytes"
	"cmp"
	"encoding/gob"
	"fmt"
	"slices"
	"sync"
)

// Aggregate is the metric store of an account: every customer's
// Contribution plus dense per-day totals (overall and per country) that the
// Metrics API folds over. Replacing a customer's contribution updates the
// totals incrementally, so recomputing one customer after an import costs
// that customer only.
//
// The zero Aggregate is empty and ready to use; an Aggregate is safe for
// concurrent use and must not be copied after first use. Persist it with
// MarshalBinary
// (or persist the contributions and Set them into a new Aggregate).
type Aggregate struct {
	mu        sync.Mutex
	customers map[int64]*customerEntry
	total     dailySeries
	countries map[string]*dailySeries
	// countryIDs interns country codes for the per-customer records.
	countryIDs map[string]int32
	// churns holds one record per closed subscriber span of any customer,
	// in no particular order; the customer churn rate scans it.
	churns []churnRecord
	// list holds the entries densely (in no particular order) so plan
	// filters can scan them quickly.
	list []*customerEntry
}

// customerEntry is a stored contribution, its country id, its position in
// list and the positions of its churn records.
type customerEntry struct {
	c        *Contribution
	country  int32
	slot     int
	churnPos []int32
}

// NewAggregate returns an empty Aggregate.
func NewAggregate() *Aggregate {
	return &Aggregate{customers: make(map[int64]*customerEntry), countries: make(map[string]*dailySeries),
		countryIDs: make(map[string]int32)}
}

// Set stores c as the contribution of customer c.CustomerID, replacing the
// previous one. The Aggregate keeps c's slices; do not modify them later.
func (a *Aggregate) Set(c Contribution) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.customers == nil { // the zero Aggregate is usable
		a.customers, a.countries, a.countryIDs = make(map[int64]*customerEntry), make(map[string]*dailySeries), make(map[string]int32)
	}
	a.remove(c.CustomerID)
	e := &customerEntry{c: &c, slot: len(a.list)}
	a.customers[c.CustomerID] = e
	a.list = append(a.list, e)
	a.total.add(e.c, 1)
	cs := a.countries[c.Country]
	if cs == nil {
		cs = &dailySeries{}
		a.countries[c.Country] = cs
		a.countryIDs[c.Country] = int32(len(a.countryIDs))
	}
	cs.add(e.c, 1)
	country := a.countryIDs[c.Country]
	e.country = country
	for k, sp := range c.Spans {
		if sp.End == OpenEnd {
			continue
		}
		next := OpenEnd
		if k+1 < len(c.Spans) {
			next = c.Spans[k+1].Start
		}
		e.churnPos = append(e.churnPos, int32(len(a.churns)))
		a.churns = append(a.churns, churnRecord{cust: c.CustomerID, country: country, start: sp.Start, end: sp.End, next: next})
	}
}

// Delete removes a customer's contribution (a deleted customer, or one
// whose records no longer produce anything).
func (a *Aggregate) Delete(customerID int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.remove(customerID)
}

func (a *Aggregate) remove(id int64) {
	e := a.customers[id]
	if e == nil {
		return
	}
	a.total.add(e.c, -1)
	a.countries[e.c.Country].add(e.c, -1)
	// Swap-delete the churn records, last position first, so the record
	// moved into a hole always belongs to another customer.
	slices.Sort(e.churnPos)
	for k := len(e.churnPos) - 1; k >= 0; k-- {
		p, last := e.churnPos[k], int32(len(a.churns)-1)
		if p != last {
			moved := a.churns[last]
			a.churns[p] = moved
			pos := a.customers[moved.cust].churnPos
			for i := range pos {
				if pos[i] == last {
					pos[i] = p
				}
			}
		}
		a.churns = a.churns[:last]
	}
	last := len(a.list) - 1
	a.list[e.slot] = a.list[last]
	a.list[e.slot].slot = e.slot
	a.list[last] = nil
	a.list = a.list[:last]
	delete(a.customers, id)
}

// Len returns the number of customers with a contribution.
func (a *Aggregate) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.customers)
}

// Contribution returns the stored contribution of a customer.
func (a *Aggregate) Contribution(customerID int64) (Contribution, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.customers[customerID]
	if e == nil {
		return Contribution{}, false
	}
	return *e.c, true
}

// aggregateFormat is the persisted form: a version and the contributions
// ordered by customer. The daily totals are rebuilt on load; they are a
// pure function of the contributions.
type aggregateFormat struct {
	Version       int
	Contributions []Contribution
}

const aggregateFormatVersion = 1

// MarshalBinary encodes the aggregate (gob). The encoding is deterministic.
func (a *Aggregate) MarshalBinary() ([]byte, error) {
	a.mu.Lock()
	f := aggregateFormat{Version: aggregateFormatVersion, Contributions: make([]Contribution, 0, len(a.customers))}
	for _, e := range a.customers {
		f.Contributions = append(f.Contributions, *e.c)
	}
	a.mu.Unlock()
	slices.SortFunc(f.Contributions, func(x, y Contribution) int { return cmp.Compare(x.CustomerID, y.CustomerID) })
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&f); err != nil {
		return nil, fmt.Errorf("analytics: encode aggregate: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary replaces the aggregate's content with data from
// MarshalBinary.
func (a *Aggregate) UnmarshalBinary(data []byte) error {
	var f aggregateFormat
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&f); err != nil {
		return fmt.Errorf("analytics: decode aggregate: %w", err)
	}
	if f.Version != aggregateFormatVersion {
		return fmt.Errorf("analytics: aggregate format version %d, want %d", f.Version, aggregateFormatVersion)
	}
	fresh := NewAggregate()
	for _, c := range f.Contributions {
		fresh.Set(c)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.customers, a.total, a.countries, a.countryIDs = fresh.customers, fresh.total, fresh.countries, fresh.countryIDs
	a.churns, a.list = fresh.churns, fresh.list
	return nil
}

// dailySeries holds additive per-day totals over a range of days. Index i
// is day first+i. Arrays carry zero padding so that extending the range is
// amortised.
type dailySeries struct {
	first Day
	flows [numFlowKinds][]int64
	// net is customers joining minus customers leaving per day.
	net []int64
	// firstJoins counts customers becoming subscribers for the first time.
	firstJoins []int64
}

func (s *dailySeries) len() int { return len(s.net) }

// ensure makes the series cover days lo..hi.
func (s *dailySeries) ensure(lo, hi Day) {
	const pad = 366
	if s.len() == 0 {
		s.first = lo
		s.resize(lo, int(hi-lo)+1+pad, 0)
		return
	}
	last := s.first + Day(s.len()) - 1
	if lo >= s.first && hi <= last {
		return
	}
	newFirst, newLast := s.first, last
	if lo < s.first {
		newFirst = lo - pad
	}
	if hi > last {
		newLast = hi + pad
	}
	s.resize(newFirst, int(newLast-newFirst)+1, int(s.first-newFirst))
}

// resize reallocates to n days starting at first, copying the old data at
// offset shift.
func (s *dailySeries) resize(first Day, n, shift int) {
	grow := func(old []int64) []int64 {
		nw := make([]int64, n)
		copy(nw[shift:], old)
		return nw
	}
	for k := range s.flows {
		s.flows[k] = grow(s.flows[k])
	}
	s.net = grow(s.net)
	s.firstJoins = grow(s.firstJoins)
	s.first = first
}

// add adds (sign 1) or subtracts (sign -1) a contribution.
func (s *dailySeries) add(c *Contribution, sign int64) {
	lo, hi, ok := c.dayRange()
	if !ok {
		return
	}
	s.ensure(lo, hi)
	for _, f := range c.Flows {
		if f.Kind < numFlowKinds {
			s.flows[f.Kind][f.Day-s.first] += sign * f.AmountInCents
		}
	}
	for _, sp := range c.Spans {
		s.net[sp.Start-s.first] += sign
		if sp.End != OpenEnd {
			s.net[sp.End-s.first] -= sign
		}
	}
	if len(c.Spans) > 0 {
		s.firstJoins[c.Spans[0].Start-s.first] += sign
	}
}

// dayRange returns the first and last day the contribution's daily
// totals touch.
func (c *Contribution) dayRange() (lo, hi Day, ok bool) {
	lo, hi = OpenEnd, -OpenEnd
	see := func(d Day) {
		lo, hi = min(lo, d), max(hi, d)
	}
	for _, f := range c.Flows {
		see(f.Day)
	}
	for _, sp := range c.Spans {
		see(sp.Start)
		if sp.End != OpenEnd {
			see(sp.End)
		}
	}
	return lo, hi, lo <= hi
}

// churnRecord is a closed subscriber span with the start of the next one:
// the customer churned on end, was a subscriber since start, and came back
// on next (OpenEnd if never).
type churnRecord struct {
	cust             int64
	country          int32
	start, end, next Day
}

// appendChurns appends a churn record for every closed span of a sorted,
// non-overlapping span list.
func appendChurns(dst []churnRecord, country int32, spans []DaySpan) []churnRecord {
	for k, sp := range spans {
		if sp.End == OpenEnd {
			continue
		}
		next := OpenEnd
		if k+1 < len(spans) {
			next = spans[k+1].Start
		}
		dst = append(dst, churnRecord{country: country, start: sp.Start, end: sp.End, next: next})
	}
	return dst
}
