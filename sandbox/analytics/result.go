package analytics

import (
	"fmt"
	"time"
)

// MovementType classifies an MRR movement; the values are the Activities
// API's `type` values.
type MovementType string

// The five MRR movement types (metrics.md §5.1).
const (
	NewBusiness  MovementType = "new_biz"
	Expansion    MovementType = "expansion"
	Contraction  MovementType = "contraction"
	Churn        MovementType = "churn"
	Reactivation MovementType = "reactivation"
)

// CustomerStatus is a customer's state at Settings.AsOf.
type CustomerStatus string

// Customer statuses (metrics.md §2.4).
const (
	// StatusLead: never had a paid subscription (free and trial
	// subscriptions alone keep a customer a lead).
	StatusLead CustomerStatus = "Lead"
	// StatusActive: a subscriber with no past-due subscription.
	StatusActive CustomerStatus = "Active"
	// StatusPastDue: a subscriber with at least one past-due subscription.
	StatusPastDue CustomerStatus = "Past Due"
	// StatusCancelled: was a subscriber, is no longer.
	StatusCancelled CustomerStatus = "Cancelled"
)

// SubscriptionStatus is a subscription's state at Settings.AsOf.
type SubscriptionStatus string

// Subscription statuses (metrics.md §2.4).
const (
	SubscriptionActive    SubscriptionStatus = "Active"
	SubscriptionPastDue   SubscriptionStatus = "Past Due"
	SubscriptionCancelled SubscriptionStatus = "Cancelled"
	// SubscriptionLinked: cancelled at the instant another subscription of
	// the same set started, which is reported as a plan change.
	SubscriptionLinked SubscriptionStatus = "Linked"
)

// CustomerResult is everything Compute derives for one customer. Money is in
// cents of Settings.BaseCurrency unless a field says otherwise.
type CustomerResult struct {
	CustomerID int64
	Status     CustomerStatus
	// CustomerSince is when the customer first became a paying
	// subscriber; zero for leads.
	CustomerSince time.Time
	// MRRInCents is the customer's MRR at Settings.AsOf.
	MRRInCents    int64
	Subscriptions []Subscription
	// MRRIntervals is the MRR timeline of every subscription, ordered by
	// subscription then start.
	MRRIntervals []MRRInterval
	// Movements are the customer's MRR movements in time order.
	Movements []Movement
	// FXAdjustments are MRR changes caused only by exchange rates.
	FXAdjustments []FXAdjustment
	// SubscriberSpans are the periods in which the customer counted as a
	// subscriber (customer count), in time order; the last may be open.
	SubscriberSpans []Span
	// Warnings report input that was ignored or clamped rather than
	// rejected.
	Warnings []Warning
	// Contribution is the customer's share of the metric aggregate.
	Contribution Contribution
}

// Subscription is the derived state of one subscription at Settings.AsOf.
type Subscription struct {
	DataSourceID int64
	ExternalID   string
	// SetExternalID defaults to ExternalID when no line item names a set.
	SetExternalID string
	// Plan is the plan in force at AsOf: that of the latest line item,
	// except that a prorated credit line on the old plan does not change
	// it.
	Plan     Plan
	Quantity int64
	Status   SubscriptionStatus
	// MRRInCents is the MRR at AsOf; a cancelled subscription reports its
	// last non-zero MRR, as ChartMogul's subscription list does.
	MRRInCents int64
	Currency   string
	// StartedAt is the first service period start.
	StartedAt time.Time
	// EndsAt is the end of the latest service period, or the effective
	// cancellation for a cancelled subscription.
	EndsAt time.Time
	// CancelledAt is the latest effective cancellation by AsOf; zero if
	// none.
	CancelledAt time.Time
	// CancellationDates are all effective cancellation instants, in order,
	// including those after AsOf.
	CancellationDates []time.Time
	Free              bool
	Trial             bool
}

// MRRInterval is a period during which a subscription's MRR, plan and
// quantity were constant (ChartMogul's "MRR intervals" export).
type MRRInterval struct {
	DataSourceID           int64
	SubscriptionExternalID string
	SetExternalID          string
	PlanID                 int64
	Quantity               int64
	Currency               string
	// AmountInCents is the monthly amount in the invoice currency.
	AmountInCents int64
	MRRInCents    int64
	Start         time.Time
	// End is zero while the interval is open.
	End   time.Time
	Free  bool
	Trial bool
}

// Movement is one MRR movement (an "activity"). Contraction and churn
// amounts are negative.
type Movement struct {
	At            time.Time
	Type          MovementType
	AmountInCents int64
	// CustomerMRRInCents is the customer's total MRR after this movement
	// (the Activities API's activity-mrr).
	CustomerMRRInCents     int64
	DataSourceID           int64
	SubscriptionExternalID string
	SetExternalID          string
	// PlanID is the subscription's plan after the movement (the cancelled
	// plan for a cancellation); PreviousPlanID the plan before it.
	PlanID         int64
	PreviousPlanID int64
	// SubscriptionMRRBeforeInCents is the MRR of the subscription (or of
	// the linked pair) just before the movement, after FX re-valuation.
	SubscriptionMRRBeforeInCents int64
	// Currency and AmountInInvoiceCurrency give the movement in the
	// invoice currency.
	Currency                string
	AmountInInvoiceCurrency int64
}

// FXAdjustment is a change of a subscription's MRR caused by a new exchange
// rate alone. It is not a movement; metrics report it as FX impact.
type FXAdjustment struct {
	At                     time.Time
	DataSourceID           int64
	SubscriptionExternalID string
	PlanID                 int64
	// Currency is the invoice currency that was re-valued.
	Currency      string
	AmountInCents int64
}

// Span is a half-open period [Start, End); End is zero while it is open.
type Span struct {
	Start time.Time
	End   time.Time
}

// Warning reports input Compute ignored or adjusted instead of rejecting.
type Warning struct {
	LineItemID int64
	Message    string
}

// InputError reports input Compute cannot derive MRR from.
type InputError struct {
	// LineItemID is the offending item; 0 for errors not about one item.
	LineItemID int64
	Field      string
	Reason     string
}

// Error describes the offending item and field.
func (e *InputError) Error() string {
	if e.LineItemID == 0 {
		return fmt.Sprintf("analytics: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("analytics: line item %d: %s: %s", e.LineItemID, e.Field, e.Reason)
}

// RateError reports a missing or unusable exchange rate.
type RateError struct {
	Currency string
	Day      Day
	// Err is the error of the Rates implementation, or nil when it
	// returned a rate that is not a positive finite number.
	Err error
}

// Error names the currency and the day.
func (e *RateError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("analytics: unusable exchange rate for %s on %s", e.Currency, e.Day)
	}
	return fmt.Sprintf("analytics: no exchange rate for %s on %s: %v", e.Currency, e.Day, e.Err)
}

// Unwrap returns the Rates implementation's error.
func (e *RateError) Unwrap() error { return e.Err }
