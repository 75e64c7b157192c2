package analytics

import (
	"cmp"
	"slices"
	"time"
)

// classify merges the subscriptions' changes in time order, classifies
// them at customer level (metrics.md §5.2), applies set linking and Smart
// Activity Classification, and derives the subscriber spans.
func (c *computation) classify() {
	slices.SortFunc(c.changes, func(a, b subChange) int {
		if x := a.at.Compare(b.at); x != 0 {
			return x
		}
		return cmp.Compare(a.sub, b.sub)
	})
	var (
		mrr         int64
		active      int // active subscriptions other than trials
		subscriber  bool
		everPaid    bool
		spanStart   time.Time
		linkedBuf   []candidate
		changes     = c.changes
		freeIsChurn = c.s.FreeCustomerHandling == FreeIsChurn
	)
	c.cands = make([]candidate, 0, len(changes))
	for i := 0; i < len(changes); {
		j := i + 1
		for j < len(changes) && changes[j].at.Equal(changes[i].at) {
			j++
		}
		group := changes[i:j]
		at := group[0].at
		i = j

		for k := range group {
			g := &group[k]
			mrr += g.fx
			if g.fx != 0 {
				sub := c.subs[g.sub]
				c.res.FXAdjustments = append(c.res.FXAdjustments, FXAdjustment{
					At: at, DataSourceID: sub.key.ds, SubscriptionExternalID: sub.key.id,
					PlanID: g.fromPlan, Currency: g.fxCurrency, AmountInCents: g.fx,
				})
			}
			switch {
			case g.isPaying && !g.wasPaying:
				active++
			case g.wasPaying && !g.isPaying:
				active--
			}
		}
		before := mrr
		linkedBuf = c.link(group, linkedBuf[:0])
		after := before
		for _, cd := range linkedBuf {
			after += cd.move
		}

		stillSubscriber := after > 0 || (!freeIsChurn && subscriber && active > 0)
		running := before
		for _, cd := range linkedBuf {
			switch {
			case cd.move == 0:
				// A plan switch at an unchanged price: no movement.
			case before == 0 && after > 0:
				switch {
				case !everPaid:
					cd.typ = NewBusiness
				case subscriber:
					cd.typ = Expansion // back from a free plan (default handling)
				default:
					cd.typ = Reactivation
				}
			case before > 0 && after == 0:
				if stillSubscriber {
					cd.typ = Contraction // down to a free plan (default handling)
				} else {
					cd.typ = Churn
				}
			case cd.move > 0:
				cd.typ = Expansion
			default:
				cd.typ = Contraction
			}
			running += cd.move
			cd.customerMRR = running
			c.cands = append(c.cands, cd)
		}
		mrr = after
		if after > 0 {
			everPaid = true
		}
		switch {
		case !subscriber && stillSubscriber:
			spanStart = at
		case subscriber && !stillSubscriber:
			c.spans = append(c.spans, Span{Start: spanStart, End: at})
		}
		subscriber = stillSubscriber
	}
	if subscriber {
		c.spans = append(c.spans, Span{Start: spanStart})
	}
	if !c.s.DisableSmartClassification {
		c.smartClassify()
	}
}

// link turns one instant's changes into movement candidates. Within a
// subscription set, one subscription stopping while exactly one other starts
// is a plan change of the set: one candidate for the net change, attributed
// to the starting subscription (metrics.md §4, "Linked").
func (c *computation) link(group []subChange, out []candidate) []candidate {
	one := func(g *subChange) candidate {
		return candidate{at: g.at, sub: g.sub, move: g.move, moveInv: g.moveInv, before: g.before, after: g.after,
			fromPlan: g.fromPlan, toPlan: g.toPlan, currency: g.currency}
	}
	if len(group) == 1 {
		return append(out, one(&group[0]))
	}
	merged := make([]bool, len(group))
	for a := range group {
		ga := &group[a]
		if merged[a] || !(ga.wasActive && !ga.isActive) {
			continue
		}
		set := c.subs[ga.sub].setID
		stopped, started, startIdx := 0, 0, -1
		for b := range group {
			gb := &group[b]
			if c.subs[gb.sub].setID != set {
				continue
			}
			switch {
			case gb.wasActive && !gb.isActive:
				stopped++
			case !gb.wasActive && gb.isActive:
				started++
				startIdx = b
			}
		}
		if stopped != 1 || started != 1 {
			continue
		}
		gb := &group[startIdx]
		merged[a], merged[startIdx] = true, true
		c.subs[ga.sub].linkedAt = ga.at
		cd := one(gb)
		cd.move += ga.move
		cd.before = ga.before
		cd.fromPlan = ga.fromPlan
		if ga.currency == gb.currency {
			cd.moveInv += ga.moveInv
		}
		out = append(out, cd)
	}
	for k := range group {
		if !merged[k] {
			out = append(out, one(&group[k]))
		}
	}
	slices.SortFunc(out, func(a, b candidate) int { return cmp.Compare(a.sub, b.sub) })
	return out
}

// smartClassify applies Smart Activity Classification (metrics.md §5.2):
// expansions within the window after a new-business or reactivation
// movement take that type, and contractions within the window before a
// churn become churn. Only classification changes, never amounts.
func (c *computation) smartClassify() {
	var anchorAt time.Time
	var anchorType MovementType
	for i := range c.cands {
		cd := &c.cands[i]
		switch cd.typ {
		case NewBusiness, Reactivation:
			anchorAt, anchorType = cd.at, cd.typ
		case Expansion:
			if anchorType != "" && cd.at.After(anchorAt) && cd.at.Sub(anchorAt) <= c.window {
				cd.typ = anchorType
			}
		case Churn:
			anchorType = ""
			for k := i - 1; k >= 0; k-- {
				p := &c.cands[k]
				if p.typ == "" || p.at.Equal(cd.at) {
					continue
				}
				if cd.at.Sub(p.at) > c.window || p.typ != Contraction {
					break
				}
				p.typ = Churn
			}
		}
	}
}
