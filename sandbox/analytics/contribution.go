package analytics

import (
	"cmp"
	"slices"
)

// FlowKind is what a daily amount in a Contribution is: one of the five
// movement types or FX impact.
type FlowKind uint8

// Flow kinds. FlowNone marks a plan switch at an unchanged price, which is
// no movement but moves MRR between plan segments.
const (
	FlowNewBusiness FlowKind = iota
	FlowExpansion
	FlowContraction
	FlowChurn
	FlowReactivation
	FlowFX
	numFlowKinds
	FlowNone FlowKind = 255
)

func flowKindOf(t MovementType) FlowKind {
	switch t {
	case NewBusiness:
		return FlowNewBusiness
	case Expansion:
		return FlowExpansion
	case Contraction:
		return FlowContraction
	case Churn:
		return FlowChurn
	case Reactivation:
		return FlowReactivation
	}
	return FlowNone
}

// Contribution is one customer's share of the metric aggregate: its MRR
// movements and FX impact summed per day and kind, and the days on which it
// counted as a customer, overall and per plan. It is what Compute derives
// for the metrics and what an Aggregate stores per customer; the store can
// persist it as is (all fields are plain values) and rebuild an Aggregate
// from it without recomputing the customer.
type Contribution struct {
	CustomerID int64
	// Country is the upper-case ISO 3166-1 alpha-2 code geo filters match.
	Country string
	// Flows are the signed daily amounts by kind, ordered by day then kind.
	// The sum of all flows up to a day is the customer's MRR that day.
	Flows []DayFlow
	// Spans are the subscriber spans in days: the customer counts on days
	// Start ≤ d < End (End is OpenEnd while it is a subscriber).
	Spans []DaySpan
	// PlanFlows are Flows split by plan, except movements that move a
	// paying subscription from one plan to another, which are PlanSwitches.
	PlanFlows    []PlanFlow
	PlanSwitches []PlanSwitch
	// PlanSpans are the days the customer counts in a plan's segment,
	// ordered by plan then start, non-overlapping per plan.
	PlanSpans []PlanSpan
}

// DayFlow is an amount of one kind on one day.
type DayFlow struct {
	Day           Day
	Kind          FlowKind
	AmountInCents int64
}

// DaySpan is a half-open range of days [Start, End).
type DaySpan struct {
	Start, End Day
}

// PlanFlow is an amount of one kind on one day for one plan.
type PlanFlow struct {
	Day           Day
	PlanID        int64
	Kind          FlowKind
	AmountInCents int64
}

// PlanSwitch is a paying subscription (or linked pair) moving from one plan
// to another. A plan filter containing both plans sees a movement of Kind
// for ToMRR − FromMRR; one containing only the old plan sees FromMRR leave
// the segment; one containing only the new plan sees ToMRR enter it.
type PlanSwitch struct {
	Day                          Day
	Kind                         FlowKind
	FromPlanID, ToPlanID         int64
	FromMRRInCents, ToMRRInCents int64
}

// PlanSpan is a range of days [Start, End) on which the customer counts in
// the segment of one plan.
type PlanSpan struct {
	PlanID     int64
	Start, End Day
}

func mergeDayFlows(f []DayFlow) []DayFlow {
	slices.SortFunc(f, func(a, b DayFlow) int {
		if x := cmp.Compare(a.Day, b.Day); x != 0 {
			return x
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	out := f[:0]
	for _, x := range f {
		if n := len(out); n > 0 && out[n-1].Day == x.Day && out[n-1].Kind == x.Kind {
			out[n-1].AmountInCents += x.AmountInCents
			continue
		}
		out = append(out, x)
	}
	return out
}

func mergePlanFlows(f []PlanFlow) []PlanFlow {
	slices.SortFunc(f, func(a, b PlanFlow) int {
		if x := cmp.Compare(a.Day, b.Day); x != 0 {
			return x
		}
		if x := cmp.Compare(a.PlanID, b.PlanID); x != 0 {
			return x
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	out := f[:0]
	for _, x := range f {
		if n := len(out); n > 0 && out[n-1].Day == x.Day && out[n-1].PlanID == x.PlanID && out[n-1].Kind == x.Kind {
			out[n-1].AmountInCents += x.AmountInCents
			continue
		}
		out = append(out, x)
	}
	return out
}
