package analytics

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// finish publishes movements, intervals, subscriptions, statuses and the
// metric contribution.
func (c *computation) finish(in *CustomerInput) {
	c.asOf = c.s.AsOf
	if c.asOf.IsZero() {
		c.asOf = c.lastAt
	}
	res := &c.res

	res.Movements = make([]Movement, 0, len(c.cands))
	for _, cd := range c.cands {
		if cd.typ == "" {
			continue
		}
		sub := c.subs[cd.sub]
		res.Movements = append(res.Movements, Movement{
			At: cd.at, Type: cd.typ, AmountInCents: cd.move, CustomerMRRInCents: cd.customerMRR,
			DataSourceID: sub.key.ds, SubscriptionExternalID: sub.key.id, SetExternalID: sub.setID,
			PlanID: cd.toPlan, PreviousPlanID: cd.fromPlan, SubscriptionMRRBeforeInCents: cd.before,
			Currency: cd.currency, AmountInInvoiceCurrency: cd.moveInv,
		})
	}
	res.SubscriberSpans = c.spans

	payments := c.paymentState(in)
	pastDue := false
	res.Subscriptions = make([]Subscription, 0, len(c.subs))
	for _, sub := range c.subs {
		s, due := c.subscriptionAt(sub, payments)
		pastDue = pastDue || due
		res.Subscriptions = append(res.Subscriptions, s)
		if s.Status == SubscriptionActive || s.Status == SubscriptionPastDue {
			res.MRRInCents += s.MRRInCents
		}
	}

	res.Status = StatusLead
	for _, sp := range c.spans {
		if sp.Start.After(c.asOf) {
			break
		}
		if res.CustomerSince.IsZero() {
			res.CustomerSince = sp.Start
		}
		res.Status = StatusCancelled
		if sp.End.IsZero() || sp.End.After(c.asOf) {
			res.Status = StatusActive
			if pastDue {
				res.Status = StatusPastDue
			}
		}
	}
	slices.SortFunc(res.Warnings, func(a, b Warning) int {
		if x := cmp.Compare(a.LineItemID, b.LineItemID); x != 0 {
			return x
		}
		return strings.Compare(a.Message, b.Message)
	})
	res.Contribution = c.contribution(in.Country)
}

// invoicePayment is what an invoice's transactions up to AsOf say.
type invoicePayment struct{ paid, failed bool }

// paymentState reads the payments of the invoices that past-due status
// depends on: those of each subscription's latest item by AsOf.
func (c *computation) paymentState(in *CustomerInput) map[int64]invoicePayment {
	if len(in.Transactions) == 0 {
		return nil
	}
	m := make(map[int64]invoicePayment, len(c.subs))
	for _, sub := range c.subs {
		if it := c.latestItem(sub); it != nil {
			m[it.InvoiceID] = invoicePayment{}
		}
	}
	for _, t := range in.Transactions {
		if t.Type != TransactionPayment || t.Date.After(c.asOf) {
			continue
		}
		p, ok := m[t.InvoiceID]
		if !ok {
			continue
		}
		switch t.Result {
		case TransactionSuccessful:
			p.paid = true
		case TransactionFailed:
			p.failed = true
		}
		m[t.InvoiceID] = p
	}
	return m
}

// latestItem returns the subscription's last item (in processing order)
// that started by AsOf, or nil.
func (c *computation) latestItem(sub *subscription) *LineItem {
	for k := len(sub.items) - 1; k >= 0; k-- {
		if !sub.items[k].ServicePeriodStart.After(c.asOf) {
			return sub.items[k]
		}
	}
	return nil
}

// subscriptionAt reports a subscription as of AsOf, and whether it is past
// due: active with MRR, and either its latest service period has ended
// without a renewal or the invoice of its latest item has a failed payment
// and no successful one.
func (c *computation) subscriptionAt(sub *subscription, payments map[int64]invoicePayment) (Subscription, bool) {
	s := Subscription{
		DataSourceID: sub.key.ds, ExternalID: sub.key.id, SetExternalID: sub.setID,
		StartedAt: sub.items[0].ServicePeriodStart,
	}
	// The interval in force at AsOf, else the latest one before it, else
	// the first one.
	var cur, last *MRRInterval
	for k := range sub.intervals {
		iv := &sub.intervals[k]
		if iv.Start.After(c.asOf) {
			break
		}
		last = iv
		if iv.End.IsZero() || iv.End.After(c.asOf) {
			cur = iv
		}
	}
	show := cur
	if show == nil {
		show = last
	}
	if show == nil && len(sub.intervals) > 0 {
		show = &sub.intervals[0]
	}
	var latest *LineItem
	for _, it := range sub.items {
		if it.ServicePeriodStart.After(c.asOf) {
			break
		}
		latest = it
		if it.ServicePeriodEnd.After(s.EndsAt) {
			s.EndsAt = it.ServicePeriodEnd
		}
	}
	if latest == nil {
		latest = sub.items[0]
		s.EndsAt = latest.ServicePeriodEnd
	}
	s.Plan = latest.Plan
	if show != nil {
		s.Quantity, s.Currency, s.Free, s.Trial = show.Quantity, show.Currency, show.Free, show.Trial
		// The plan in force, which a credit line on the old plan does not
		// change.
		for k := len(sub.items) - 1; k >= 0; k-- {
			if sub.items[k].Plan.ID == show.PlanID {
				s.Plan = sub.items[k].Plan
				break
			}
		}
	} else {
		s.Currency = latest.Currency
	}
	for _, cn := range sub.cancels {
		if !cn.eff.After(c.asOf) {
			s.CancelledAt = cn.eff
		}
		if n := len(s.CancellationDates); n == 0 || !s.CancellationDates[n-1].Equal(cn.eff) {
			s.CancellationDates = append(s.CancellationDates, cn.eff)
		}
	}

	switch {
	case cur != nil:
		s.MRRInCents = cur.MRRInCents
		s.Status = SubscriptionActive
		// Nothing is due on a free or trial subscription.
		lapsed := !c.asOf.Before(s.EndsAt)
		p := payments[latest.InvoiceID]
		if cur.MRRInCents > 0 && (lapsed || (p.failed && !p.paid)) {
			s.Status = SubscriptionPastDue
			return s, true
		}
	case last != nil: // started, then cancelled by AsOf
		s.Status = SubscriptionCancelled
		if !sub.linkedAt.IsZero() && sub.linkedAt.Equal(last.End) {
			s.Status = SubscriptionLinked
		}
		s.EndsAt = last.End
		for k := len(sub.intervals) - 1; k >= 0; k-- {
			iv := &sub.intervals[k]
			if !iv.Start.After(c.asOf) && iv.MRRInCents != 0 {
				s.MRRInCents = iv.MRRInCents
				break
			}
		}
	default: // starts after AsOf
		s.Status = SubscriptionActive
	}
	return s, false
}

// contribution summarises the customer by day for the metric aggregate.
func (c *computation) contribution(country string) Contribution {
	loc := c.loc
	con := Contribution{CustomerID: c.res.CustomerID, Country: strings.ToUpper(strings.TrimSpace(country))}

	flows := make([]DayFlow, 0, len(c.cands)+len(c.res.FXAdjustments))
	var planFlows []PlanFlow
	for _, cd := range c.cands {
		day := DayOf(cd.at, loc)
		kind := flowKindOf(cd.typ)
		if cd.typ != "" {
			flows = append(flows, DayFlow{Day: day, Kind: kind, AmountInCents: cd.move})
		}
		switch {
		case cd.before > 0 && cd.after > 0 && cd.fromPlan != cd.toPlan:
			con.PlanSwitches = append(con.PlanSwitches, PlanSwitch{Day: day, Kind: kind,
				FromPlanID: cd.fromPlan, ToPlanID: cd.toPlan, FromMRRInCents: cd.before, ToMRRInCents: cd.after})
		case cd.move != 0:
			plan := cd.toPlan
			if cd.after == 0 {
				plan = cd.fromPlan
			}
			planFlows = append(planFlows, PlanFlow{Day: day, PlanID: plan, Kind: kind, AmountInCents: cd.move})
		}
	}
	for _, fx := range c.res.FXAdjustments {
		day := DayOf(fx.At, loc)
		flows = append(flows, DayFlow{Day: day, Kind: FlowFX, AmountInCents: fx.AmountInCents})
		planFlows = append(planFlows, PlanFlow{Day: day, PlanID: fx.PlanID, Kind: FlowFX, AmountInCents: fx.AmountInCents})
	}
	con.Flows = mergeDayFlows(flows)
	con.PlanFlows = mergePlanFlows(planFlows)

	con.Spans = make([]DaySpan, len(c.spans))
	for k, sp := range c.spans {
		con.Spans[k] = DaySpan{Start: DayOf(sp.Start, loc), End: OpenEnd}
		if !sp.End.IsZero() {
			con.Spans[k].End = DayOf(sp.End, loc)
		}
	}
	con.PlanSpans = c.planSpans()
	return con
}

// planSpans intersects each subscription's active intervals (trials
// excluded) with the customer's subscriber spans, per plan, in days: the
// customer counts in a plan segment on the days it ends as a subscriber
// with an active subscription on that plan.
func (c *computation) planSpans() []PlanSpan {
	if len(c.spans) == 0 {
		return nil
	}
	var out []PlanSpan
	for _, sub := range c.subs {
		for _, iv := range sub.intervals {
			if iv.Trial {
				continue // a trial does not make a customer count on its plan
			}
			for _, sp := range c.spans {
				start := later(iv.Start, sp.Start)
				end := earlierEnd(iv.End, sp.End)
				if !end.IsZero() && !end.After(start) {
					continue
				}
				ps := PlanSpan{PlanID: iv.PlanID, Start: DayOf(start, c.loc), End: OpenEnd}
				if !end.IsZero() {
					ps.End = DayOf(end, c.loc)
				}
				if ps.End > ps.Start {
					out = append(out, ps)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b PlanSpan) int {
		if x := cmp.Compare(a.PlanID, b.PlanID); x != 0 {
			return x
		}
		return cmp.Compare(a.Start, b.Start)
	})
	merged := out[:0]
	for _, ps := range out {
		if n := len(merged); n > 0 && merged[n-1].PlanID == ps.PlanID && ps.Start <= merged[n-1].End {
			merged[n-1].End = max(merged[n-1].End, ps.End)
			continue
		}
		merged = append(merged, ps)
	}
	return merged
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// earlierEnd returns the earlier of two ends where zero means open.
func earlierEnd(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case a.Before(b):
		return a
	}
	return b
}
