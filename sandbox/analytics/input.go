package analytics

import (
	"errors"
	"time"
)

// IntervalUnit is the unit of a plan's billing interval.
type IntervalUnit string

// Plan interval units accepted by the Import API. A weekly plan is 7 days.
const (
	UnitDay   IntervalUnit = "day"
	UnitMonth IntervalUnit = "month"
	UnitYear  IntervalUnit = "year"
)

// Plan is the billing interval of a line item's plan: IntervalCount units of
// IntervalUnit (quarterly = 3 month, weekly = 7 day).
type Plan struct {
	// ID identifies the plan in the store; metrics filter on it.
	ID int64
	// ExternalID is echoed into subscriptions and movements for display.
	ExternalID    string
	IntervalCount int
	IntervalUnit  IntervalUnit
}

// Line item types (import-api.md §5.1).
const (
	LineItemSubscription = "subscription"
	LineItemOneTime      = "one_time"
	LineItemTrial        = "trial"
)

// Proration types of prorated line items. An empty ProrationType on a
// prorated item means ProrationFull, the Import API default.
const (
	ProrationFull            = "full"
	ProrationDifferential    = "differential"
	ProrationDifferentialMRR = "differential_mrr"
)

// Invoice statuses. Open, paid and refunded are derived from transactions by
// the importer; voided and written_off are set explicitly.
const (
	InvoiceOpen       = "open"
	InvoicePaid       = "paid"
	InvoiceRefunded   = "refunded"
	InvoiceWrittenOff = "written_off"
	InvoiceVoided     = "voided"
)

// LineItem is one invoice line as the importer stored it, flattened with the
// invoice fields MRR needs. Only subscription and trial items are used;
// one-time items may be passed and are ignored.
type LineItem struct {
	// ID identifies the item in errors and warnings and breaks ties.
	ID          int64
	InvoiceID   int64
	InvoiceDate time.Time
	// InvoiceStatus is one of the Invoice* constants ("" means open).
	InvoiceStatus string
	// Currency is the invoice's ISO 4217 currency.
	Currency string
	// Type is LineItemSubscription, LineItemOneTime or LineItemTrial.
	Type string
	// DataSourceID scopes SubscriptionExternalID: a subscription is the pair
	// (DataSourceID, SubscriptionExternalID) within one customer.
	DataSourceID              int64
	SubscriptionExternalID    string
	SubscriptionSetExternalID string
	Plan                      Plan
	ServicePeriodStart        time.Time
	ServicePeriodEnd          time.Time
	// AmountInCents is the charged amount for the whole quantity and service
	// period, after discounts and including tax.
	AmountInCents    int64
	TaxAmountInCents int64
	// DiscountAmountInCents is informational: the discount is already
	// deducted from AmountInCents.
	DiscountAmountInCents int64
	// Quantity is the seat count; 0 is read as 1, the API default.
	Quantity int64
	// Prorated marks a charge for part of a billing interval; ProrationType
	// then says whether it replaces (full) or changes (differential) MRR.
	Prorated      bool
	ProrationType string
	// CancelledAt, when set, cancels the subscription at that instant.
	CancelledAt *time.Time
	// EventOrder orders items with the same service period start (lower
	// first); items without one come after items with one.
	EventOrder *int64
	// CreatedSeq is the creation order, the last tie-break before ID.
	CreatedSeq int64
}

// Transaction types and results.
const (
	TransactionPayment    = "payment"
	TransactionRefund     = "refund"
	TransactionSuccessful = "successful"
	TransactionFailed     = "failed"
)

// Transaction is a payment or refund attempt on an invoice. Transactions
// never change MRR for API sources; failed payments make a subscription
// past due.
type Transaction struct {
	InvoiceID int64
	Type      string
	Result    string
	Date      time.Time
	// AmountInCents is nil when the transaction covers the whole invoice.
	AmountInCents *int64
}

// Subscription event types that Compute reads; the other types only drive
// committed MRR, which this package does not compute.
const (
	EventSubscriptionCancelled = "subscription_cancelled"
	EventRetracted             = "subscription_event_retracted"
)

// SubscriptionEvent is an imported subscription event. Compute uses
// subscription_cancelled events as cancellations at EffectiveDate (unless
// Settings.IgnoreCancellationEvents) and honours generic retractions of them.
type SubscriptionEvent struct {
	ID                        int64
	ExternalID                string
	EventType                 string
	EventDate                 time.Time
	EffectiveDate             time.Time
	DataSourceID              int64
	SubscriptionExternalID    string
	SubscriptionSetExternalID string
	PlanExternalID            string
	Currency                  string
	AmountInCents             int64
	TaxAmountInCents          int64
	Quantity                  int64
	// RetractedEventID names the retracted event by its ID (decimal) or
	// its ExternalID.
	RetractedEventID string
}

// Cancellation is one entry of a subscription's cancellation_dates, set
// through the (deprecated) import subscriptions endpoint.
type Cancellation struct {
	DataSourceID           int64
	SubscriptionExternalID string
	CancelledAt            time.Time
}

// CustomerInput is everything recorded about one customer. The order of the
// slices does not matter.
type CustomerInput struct {
	CustomerID int64
	// Country is the ISO 3166-1 alpha-2 code used by geo filters.
	Country       string
	LineItems     []LineItem
	Transactions  []Transaction
	Events        []SubscriptionEvent
	Cancellations []Cancellation
}

// ChurnRecognition decides when a cancellation removes MRR.
type ChurnRecognition int

const (
	// ChurnAtCancellation removes MRR at the cancellation instant (default).
	ChurnAtCancellation ChurnRecognition = iota
	// ChurnAtPeriodEnd removes MRR at the end of the service period that
	// contains the cancellation, or at the cancellation if that is later.
	ChurnAtPeriodEnd
)

// FreeCustomerHandling decides what a paying customer dropping to zero MRR
// without cancelling (a $0 plan, a 100 % discount) is.
type FreeCustomerHandling int

const (
	// FreeIsContraction keeps the customer active: the drop is a
	// contraction and paying again is an expansion (default).
	FreeIsContraction FreeCustomerHandling = iota
	// FreeIsChurn treats the drop as churn and paying again as reactivation.
	FreeIsChurn
)

// FXSplit decides how a change that moves both the amount and the exchange
// rate is split between the MRR movement and the FX impact.
type FXSplit int

const (
	// FXRevalueFirst re-values the old MRR at the new rate (FX impact) and
	// books the change of amount at the new rate as the movement (default).
	FXRevalueFirst FXSplit = iota
	// FXAllMovement books the whole change as the movement whenever the
	// amount or currency changed; only pure rate changes are FX impact.
	FXAllMovement
)

// DefaultSmartClassificationWindow is ChartMogul's default window for Smart
// Activity Classification.
const DefaultSmartClassificationWindow = 60 * time.Minute

// Settings are the account and data-source settings that change how
// subscriptions become MRR. The zero value plus a BaseCurrency is
// ChartMogul's default behaviour for API sources.
type Settings struct {
	// BaseCurrency is the account currency every amount is converted to.
	BaseCurrency string
	// Location is the account time zone (UTC when nil). It decides the day
	// a movement belongs to and the day whose exchange rate applies.
	Location *time.Location
	// AsOf is the instant statuses and current MRR are reported for,
	// normally now. When zero, the last instant at which anything in the
	// input takes effect is used.
	AsOf time.Time
	// ChurnRecognition: when cancellations remove MRR.
	ChurnRecognition ChurnRecognition
	// FreeCustomerHandling: whether dropping to a free plan is churn.
	FreeCustomerHandling FreeCustomerHandling
	// FXSplit: how amount and rate changes are split.
	FXSplit FXSplit
	// SmartClassificationWindow is the Smart Activity Classification
	// window; zero means DefaultSmartClassificationWindow.
	SmartClassificationWindow time.Duration
	// DisableSmartClassification turns Smart Activity Classification off.
	DisableSmartClassification bool
	// IgnoreCancellationEvents stops subscription_cancelled events from
	// cancelling subscriptions.
	IgnoreCancellationEvents bool
	// Exclude*Invoices drop the subscription line items of invoices with
	// that status from MRR. All are included by default.
	ExcludeVoidedInvoices     bool
	ExcludeWrittenOffInvoices bool
	ExcludeRefundedInvoices   bool
}

// Rates converts invoice currencies into the account currency.
type Rates interface {
	// Rate returns how many units of the account currency one unit of
	// currency was worth at the close of day. Compute never asks for the
	// account currency itself. An error (or a rate that is not a positive
	// finite number) makes Compute fail with a *RateError.
	Rate(currency string, day Day) (float64, error)
}

// ErrNoRate is returned by RateTable for a currency and day it has no rate for.
var ErrNoRate = errors.New("no exchange rate")

// RateTable is an in-memory Rates: currency → day → rate. It answers only
// days it holds.
type RateTable map[string]map[Day]float64

// Set records the rate of currency on day.
func (t RateTable) Set(currency string, day Day, rate float64) {
	m := t[currency]
	if m == nil {
		m = make(map[Day]float64)
		t[currency] = m
	}
	m[day] = rate
}

// Rate implements Rates.
func (t RateTable) Rate(currency string, day Day) (float64, error) {
	if r, ok := t[currency][day]; ok {
		return r, nil
	}
	return 0, ErrNoRate
}
