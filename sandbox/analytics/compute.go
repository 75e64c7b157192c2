package analytics

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Compute derives one customer's subscriptions, MRR intervals, movements,
// FX adjustments, status and metric contribution from its imported records.
//
// The result depends only on the records, not on the order of the input
// slices. Compute returns an *InputError for records it cannot derive MRR
// from (a subscription or trial item without a service period, with an end
// not after its start, without a subscription id, with an invalid plan
// interval or an unknown type or proration type, or in different
// currencies where one currency is required) and a *RateError when rates
// has no usable rate for a currency and day it needs.
func Compute(in CustomerInput, s Settings, rates Rates) (CustomerResult, error) {
	if strings.TrimSpace(s.BaseCurrency) == "" {
		return CustomerResult{}, &InputError{Field: "settings.base_currency", Reason: "is required"}
	}
	c := &computation{s: s, loc: s.Location, rates: rates}
	if c.loc == nil {
		c.loc = time.UTC
	}
	c.window = s.SmartClassificationWindow
	if c.window <= 0 {
		c.window = DefaultSmartClassificationWindow
	}
	c.res.CustomerID = in.CustomerID
	if err := c.collect(&in); err != nil {
		return CustomerResult{}, err
	}
	for i, sub := range c.subs {
		if err := c.fold(i, sub); err != nil {
			return CustomerResult{}, err
		}
	}
	c.classify()
	c.finish(&in)
	return c.res, nil
}

// subKey identifies a subscription within a customer.
type subKey struct {
	ds int64
	id string
}

func compareKeys(a, b subKey) int {
	if c := cmp.Compare(a.ds, b.ds); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// cancelStep is one cancellation of a subscription: when it was recorded
// (raw) and when it removes MRR under the churn-recognition setting (eff).
type cancelStep struct{ eff, raw time.Time }

// subscription is the working state of one subscription.
type subscription struct {
	key     subKey
	setID   string
	items   []*LineItem // sorted by processing order
	cancels []cancelStep
	// intervals is the MRR timeline built by fold: its range of
	// CustomerResult.MRRIntervals (possibly in an outgrown copy of that
	// array, which holds the same values).
	intervals []MRRInterval
	linkedAt  time.Time // last instant it was replaced within its set
}

// subChange is the net change of one subscription at one instant.
type subChange struct {
	at                  time.Time
	sub                 int
	fx, move, moveInv   int64
	before, after       int64 // base MRR just before the movement (after FX) and after
	fromPlan, toPlan    int64
	wasActive, isActive bool
	// wasPaying and isPaying exclude trials: an active trial does not keep
	// a customer a subscriber.
	wasPaying, isPaying bool
	// currency is the currency of the movement, fxCurrency the one
	// re-valued.
	currency, fxCurrency string
}

// candidate is a movement before it is published: one subscription's
// change, or a linked pair's net change. Candidates with a zero amount are
// kept when they switch plans, because plan filters need them.
type candidate struct {
	at               time.Time
	sub              int
	move, moveInv    int64
	before, after    int64
	fromPlan, toPlan int64
	typ              MovementType
	customerMRR      int64
	currency         string
}

type rateKey struct {
	cur string
	day Day
}

type cachedRate struct {
	key  rateKey
	rate float64
}

type computation struct {
	s           Settings
	loc         *time.Location
	rates       Rates
	window      time.Duration
	recentRates [4]cachedRate
	nextRate    int
	steps       []step // reused by fold

	subs    []*subscription
	changes []subChange
	cands   []candidate
	spans   []Span
	lastAt  time.Time
	asOf    time.Time

	res CustomerResult
}

// compareItems is the processing order of line items (metrics.md §2.3):
// subscription, service period start, event order (items without one
// last), creation order, then every remaining field so the order is total.
func compareItems(a, b *LineItem) int {
	if c := cmp.Compare(a.DataSourceID, b.DataSourceID); c != 0 {
		return c
	}
	if c := strings.Compare(a.SubscriptionExternalID, b.SubscriptionExternalID); c != 0 {
		return c
	}
	if c := a.ServicePeriodStart.Compare(b.ServicePeriodStart); c != 0 {
		return c
	}
	switch {
	case a.EventOrder != nil && b.EventOrder == nil:
		return -1
	case a.EventOrder == nil && b.EventOrder != nil:
		return 1
	case a.EventOrder != nil:
		if c := cmp.Compare(*a.EventOrder, *b.EventOrder); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.CreatedSeq, b.CreatedSeq); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.InvoiceID, b.InvoiceID); c != 0 {
		return c
	}
	if c := a.ServicePeriodEnd.Compare(b.ServicePeriodEnd); c != 0 {
		return c
	}
	if c := cmp.Compare(a.AmountInCents, b.AmountInCents); c != 0 {
		return c
	}
	if c := cmp.Compare(a.TaxAmountInCents, b.TaxAmountInCents); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Quantity, b.Quantity); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Plan.ID, b.Plan.ID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	if c := strings.Compare(a.Currency, b.Currency); c != 0 {
		return c
	}
	if c := strings.Compare(a.ProrationType, b.ProrationType); c != 0 {
		return c
	}
	if a.Prorated != b.Prorated {
		if a.Prorated {
			return 1
		}
		return -1
	}
	return strings.Compare(a.SubscriptionSetExternalID, b.SubscriptionSetExternalID)
}

// validate rejects a subscription or trial item MRR cannot be derived from.
func validate(it *LineItem) error {
	bad := func(field, reason string) error {
		return &InputError{LineItemID: it.ID, Field: field, Reason: reason}
	}
	switch {
	case it.Type != LineItemSubscription && it.Type != LineItemTrial:
		return bad("type", fmt.Sprintf("unknown line item type %q", it.Type))
	case it.SubscriptionExternalID == "":
		return bad("subscription_external_id", "is required on "+it.Type+" line items")
	case it.ServicePeriodStart.IsZero() || it.ServicePeriodEnd.IsZero():
		return bad("service_period", "a "+it.Type+" line item needs service_period_start and service_period_end")
	case !it.ServicePeriodEnd.After(it.ServicePeriodStart):
		return bad("service_period_end", fmt.Sprintf("must be after service_period_start (start %s, end %s)",
			it.ServicePeriodStart.UTC().Format(time.RFC3339), it.ServicePeriodEnd.UTC().Format(time.RFC3339)))
	case it.ServicePeriodEnd.Sub(it.ServicePeriodStart) < time.Second:
		return bad("service_period_end", "service period is shorter than one second")
	case it.Plan.IntervalCount < 1:
		return bad("plan.interval_count", "must be at least 1")
	case it.Plan.IntervalUnit != UnitDay && it.Plan.IntervalUnit != UnitMonth && it.Plan.IntervalUnit != UnitYear:
		return bad("plan.interval_unit", fmt.Sprintf("must be day, month or year, not %q", it.Plan.IntervalUnit))
	case it.Currency == "":
		return bad("currency", "is required")
	case it.AmountInCents > maxAbsAmount || it.AmountInCents < -maxAbsAmount ||
		it.TaxAmountInCents > maxAbsAmount || it.TaxAmountInCents < -maxAbsAmount:
		return bad("amount_in_cents", "is out of range")
	}
	if it.Prorated {
		switch it.ProrationType {
		case "", ProrationFull, ProrationDifferential, ProrationDifferentialMRR:
		default:
			return bad("proration_type", fmt.Sprintf("unknown proration type %q", it.ProrationType))
		}
	}
	return nil
}

// excluded reports whether the invoice status settings drop the item.
func (c *computation) excluded(it *LineItem) bool {
	switch it.InvoiceStatus {
	case InvoiceVoided:
		return c.s.ExcludeVoidedInvoices
	case InvoiceWrittenOff:
		return c.s.ExcludeWrittenOffInvoices
	case InvoiceRefunded:
		return c.s.ExcludeRefundedInvoices
	}
	return false
}

// collect validates and sorts the recurring items, groups them into
// subscriptions and attaches the cancellations.
func (c *computation) collect(in *CustomerInput) error {
	items := make([]*LineItem, 0, len(in.LineItems))
	for i := range in.LineItems {
		if in.LineItems[i].Type != LineItemOneTime {
			items = append(items, &in.LineItems[i])
		}
	}
	slices.SortFunc(items, compareItems)
	kept := items[:0]
	for _, it := range items {
		if err := validate(it); err != nil {
			return err
		}
		if !c.excluded(it) {
			kept = append(kept, it)
		}
	}
	items = kept

	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].DataSourceID == items[i].DataSourceID &&
			items[j].SubscriptionExternalID == items[i].SubscriptionExternalID {
			j++
		}
		sub := &subscription{key: subKey{items[i].DataSourceID, items[i].SubscriptionExternalID}, items: items[i:j:j]}
		// The set is the one named by the latest item that names one.
		for k := j - 1; k >= i; k-- {
			if items[k].SubscriptionSetExternalID != "" {
				sub.setID = items[k].SubscriptionSetExternalID
				break
			}
		}
		if sub.setID == "" {
			sub.setID = sub.key.id
		}
		c.subs = append(c.subs, sub)
		i = j
	}

	addCancel := func(key subKey, at time.Time) {
		if at.IsZero() {
			return
		}
		k, found := slices.BinarySearchFunc(c.subs, key, func(s *subscription, k subKey) int { return compareKeys(s.key, k) })
		if found { // cancellations of subscriptions without items change nothing
			c.subs[k].cancels = append(c.subs[k].cancels, cancelStep{raw: at})
		}
	}
	for _, it := range items {
		if it.CancelledAt != nil {
			addCancel(subKey{it.DataSourceID, it.SubscriptionExternalID}, *it.CancelledAt)
		}
	}
	for _, cn := range in.Cancellations {
		addCancel(subKey{cn.DataSourceID, cn.SubscriptionExternalID}, cn.CancelledAt)
	}
	if !c.s.IgnoreCancellationEvents && len(in.Events) > 0 {
		retracted := make(map[string]bool)
		for _, ev := range in.Events {
			if ev.EventType == EventRetracted && ev.RetractedEventID != "" {
				retracted[ev.RetractedEventID] = true
			}
		}
		for _, ev := range in.Events {
			if ev.EventType != EventSubscriptionCancelled ||
				retracted[strconv.FormatInt(ev.ID, 10)] || (ev.ExternalID != "" && retracted[ev.ExternalID]) {
				continue
			}
			at := ev.EffectiveDate
			if at.IsZero() {
				at = ev.EventDate
			}
			addCancel(subKey{ev.DataSourceID, ev.SubscriptionExternalID}, at)
		}
	}
	for _, sub := range c.subs {
		c.resolveCancels(sub)
	}
	return nil
}

// resolveCancels sets each cancellation's effective instant, then sorts and
// de-duplicates them.
func (c *computation) resolveCancels(sub *subscription) {
	if len(sub.cancels) == 0 {
		return
	}
	for i := range sub.cancels {
		cn := &sub.cancels[i]
		cn.eff = cn.raw
		if c.s.ChurnRecognition != ChurnAtPeriodEnd {
			continue
		}
		// End of the paid (or open) period the cancellation falls in: the
		// latest end among items that started by then.
		for _, it := range sub.items {
			if it.ServicePeriodStart.After(cn.raw) {
				break
			}
			if it.ServicePeriodEnd.After(cn.eff) {
				cn.eff = it.ServicePeriodEnd
			}
		}
	}
	slices.SortFunc(sub.cancels, func(a, b cancelStep) int {
		if c := a.eff.Compare(b.eff); c != 0 {
			return c
		}
		return a.raw.Compare(b.raw)
	})
	sub.cancels = slices.CompactFunc(sub.cancels, func(a, b cancelStep) bool {
		return a.eff.Equal(b.eff) && a.raw.Equal(b.raw)
	})
}

// rate returns the account-currency value of one unit of cur on day.
func (c *computation) rate(cur string, day Day) (float64, error) {
	if cur == c.s.BaseCurrency {
		return 1, nil
	}
	k := rateKey{cur, day}
	// Steps ask for one or two (currency, day) pairs at a time, so a few
	// recent answers are a sufficient cache.
	for _, e := range c.recentRates {
		if e.key == k {
			return e.rate, nil
		}
	}
	if c.rates == nil {
		return 0, &RateError{Currency: cur, Day: day, Err: errors.New("no rate source given")}
	}
	r, err := c.rates.Rate(cur, day)
	if err != nil {
		return 0, &RateError{Currency: cur, Day: day, Err: err}
	}
	if !(r > 0) || math.IsInf(r, 0) {
		return 0, &RateError{Currency: cur, Day: day}
	}
	c.recentRates[c.nextRate%len(c.recentRates)] = cachedRate{k, r}
	c.nextRate++
	return r, nil
}

func (c *computation) warn(id int64, format string, args ...any) {
	c.res.Warnings = append(c.res.Warnings, Warning{LineItemID: id, Message: fmt.Sprintf(format, args...)})
}

// subState is a subscription's MRR state while folding its items.
type subState struct {
	active   bool
	amount   int64 // monthly, invoice currency
	currency string
	rateDay  Day
	base     int64 // monthly, account currency
	plan     Plan
	quantity int64
	trial    bool
}

// Step ranks at one instant: a cancellation decided before the instant
// (deferred to a period end) applies before the line items starting then,
// so a renewal starting exactly there continues the subscription; a
// cancellation recorded at the instant itself applies after them.
const (
	rankDeferredCancel = iota
	rankItems
	rankImmediateCancel
)

type step struct {
	at     time.Time
	rank   int
	lo, hi int // item range for rankItems
}

// fold turns one subscription's items and cancellations into its MRR
// timeline and its per-instant changes.
func (c *computation) fold(idx int, sub *subscription) error {
	if need := len(sub.items) + len(sub.cancels); cap(c.steps) < need {
		c.steps = make([]step, 0, need)
	}
	steps := c.steps[:0]
	defer func() { c.steps = steps[:0] }()
	for i := 0; i < len(sub.items); {
		j := i + 1
		for j < len(sub.items) && sub.items[j].ServicePeriodStart.Equal(sub.items[i].ServicePeriodStart) {
			j++
		}
		steps = append(steps, step{at: sub.items[i].ServicePeriodStart, rank: rankItems, lo: i, hi: j})
		i = j
	}
	if len(sub.cancels) > 0 {
		for _, cn := range sub.cancels {
			r := rankImmediateCancel
			if cn.raw.Before(cn.eff) {
				r = rankDeferredCancel
			}
			steps = append(steps, step{at: cn.eff, rank: r})
		}
		slices.SortStableFunc(steps, func(a, b step) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return cmp.Compare(a.rank, b.rank)
		})
	}

	var st subState
	// The subscription's intervals are appended to the result directly;
	// open indexes the open one there.
	all := &c.res.MRRIntervals
	first, open := len(*all), -1
	defer func() { sub.intervals = (*all)[first:len(*all):len(*all)] }()
	for i := 0; i < len(steps); {
		at := steps[i].at
		ch := subChange{at: at, sub: idx, wasActive: st.active, wasPaying: st.active && !st.trial, fromPlan: st.plan.ID}
		startBase := st.base
		for ; i < len(steps) && steps[i].at.Equal(at); i++ {
			stp := steps[i]
			if stp.rank != rankItems {
				if st.active {
					ch.move -= st.base
					ch.moveInv -= st.amount
					ch.currency = st.currency
					st.active, st.amount, st.base, st.trial = false, 0, 0, false
				}
				continue
			}
			if err := c.applyItems(sub, &st, sub.items[stp.lo:stp.hi], at, &ch); err != nil {
				return err
			}
		}
		ch.isActive, ch.isPaying, ch.toPlan = st.active, st.active && !st.trial, st.plan.ID
		ch.before = startBase + ch.fx
		ch.after = st.base
		if ch.currency == "" {
			ch.currency = st.currency
		}
		if ch.fx != 0 || ch.move != 0 || ch.wasActive != ch.isActive || ch.wasPaying != ch.isPaying || ch.fromPlan != ch.toPlan {
			c.changes = append(c.changes, ch)
		}
		if at.After(c.lastAt) {
			c.lastAt = at
		}
		// Close the open interval and start a new one when anything shown
		// in an interval changed.
		if open >= 0 {
			iv := &(*all)[open]
			if st.active && iv.MRRInCents == st.base && iv.AmountInCents == st.amount && iv.Currency == st.currency &&
				iv.PlanID == st.plan.ID && iv.Quantity == st.quantity && iv.Trial == st.trial {
				continue
			}
			iv.End = at
			open = -1
		}
		if st.active {
			*all = append(*all, MRRInterval{
				DataSourceID: sub.key.ds, SubscriptionExternalID: sub.key.id, SetExternalID: sub.setID,
				PlanID: st.plan.ID, Quantity: st.quantity, Currency: st.currency,
				AmountInCents: st.amount, MRRInCents: st.base, Start: at,
				Free: st.amount == 0 && !st.trial, Trial: st.trial,
			})
			open = len(*all) - 1
		}
	}
	return nil
}

// applyItems applies the line items that start at one instant: the
// non-prorated and full-proration items together set the MRR (summed), the
// differential items add to it.
func (c *computation) applyItems(sub *subscription, st *subState, group []*LineItem, at time.Time, ch *subChange) error {
	var setSum, diffSum, setQty, diffQty int64
	var hasSet, hasDiff, allTrial = false, false, true
	setCur, diffCur := "", ""
	plan, planSet := st.plan, false
	for _, it := range group {
		qty := it.Quantity
		if qty == 0 {
			qty = 1
		}
		var v int64
		isSet := true
		switch {
		case it.Type == LineItemTrial:
			v = 0 // trials are free whatever they were billed
		case !it.Prorated:
			v = fullPriceMRR(it)
		case it.ProrationType == ProrationDifferential:
			v = proratedMRR(it, estimatedFullPeriod(it, sub.items, c.loc))
			isSet = false
		case it.ProrationType == ProrationDifferentialMRR:
			v = netAmount(it) // already a monthly delta
			isSet = false
		default: // full
			v = proratedMRR(it, estimatedFullPeriod(it, sub.items, c.loc))
		}
		if isSet {
			if v < 0 {
				c.warn(it.ID, "negative %s line item ignored: a credit must be a differential prorated item", it.Type)
				continue
			}
			if hasSet && it.Currency != setCur {
				return &InputError{LineItemID: it.ID, Field: "currency",
					Reason: fmt.Sprintf("line items of subscription %q starting %s are in both %s and %s",
						sub.key.id, at.UTC().Format(time.RFC3339), setCur, it.Currency)}
			}
			hasSet, setCur = true, it.Currency
			setSum += v
			setQty += qty
			if it.Type != LineItemTrial {
				allTrial = false
			}
		} else {
			if hasDiff && it.Currency != diffCur {
				return &InputError{LineItemID: it.ID, Field: "currency",
					Reason: fmt.Sprintf("differential line items of subscription %q starting %s are in both %s and %s",
						sub.key.id, at.UTC().Format(time.RFC3339), diffCur, it.Currency)}
			}
			hasDiff, diffCur = true, it.Currency
			diffSum += v
			// A credit line removes seats even when sent with a positive
			// quantity.
			if qty > 0 && v < 0 {
				qty = -qty
			}
			diffQty += qty
		}
		if isSet || v >= 0 {
			plan, planSet = it.Plan, true
		}
	}
	if !hasSet && !hasDiff {
		return nil
	}

	newAmount, newQty, newCur := diffSum, diffQty, diffCur
	switch {
	case hasSet:
		newAmount += setSum
		newQty += setQty
		newCur = setCur
	case st.active:
		newAmount += st.amount
		newQty += st.quantity
		newCur = st.currency
	}
	if hasDiff && diffCur != newCur {
		return &InputError{LineItemID: group[0].ID, Field: "currency",
			Reason: fmt.Sprintf("differential line item in %s applied to subscription %q billed in %s",
				diffCur, sub.key.id, newCur)}
	}
	if newAmount < 0 {
		c.warn(group[0].ID, "subscription %q MRR would be negative (%d); clamped to 0", sub.key.id, newAmount)
		newAmount = 0
	}

	day := DayOf(at, c.loc)
	r, err := c.rate(newCur, day)
	if err != nil {
		return err
	}
	newBase := roundMul(newAmount, r)

	if !st.active {
		ch.move += newBase
		ch.moveInv += newAmount
	} else {
		revalued := st.base
		if st.currency != newCur || st.rateDay != day {
			r2, err := c.rate(st.currency, day)
			if err != nil {
				return err
			}
			revalued = roundMul(st.amount, r2)
		}
		ch.fxCurrency = st.currency
		if c.s.FXSplit == FXAllMovement {
			if newAmount == st.amount && newCur == st.currency {
				ch.fx += newBase - st.base
			} else {
				ch.move += newBase - st.base
			}
		} else {
			ch.fx += revalued - st.base
			ch.move += newBase - revalued
		}
		ch.moveInv += newAmount - st.amount
	}
	ch.currency = newCur
	st.active = true
	st.amount, st.currency, st.rateDay, st.base = newAmount, newCur, day, newBase
	st.quantity = newQty
	if planSet {
		st.plan = plan
	}
	if hasSet {
		st.trial = allTrial
	}
	return nil
}
