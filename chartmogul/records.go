package chartmogul

import "time"

// Account is a tenant: every data source, and through it every record,
// belongs to exactly one account. API keys authenticate as an account.
type Account struct {
	ID       int64
	UUID     string // "acc_…"
	Name     string
	Currency string // base currency of MRR and metrics, ISO 4217; USD unless set
	TimeZone string // IANA name; metrics' days are this zone's days
	// WeekStartOn is the day weekly metrics start on: "sunday" or "monday".
	WeekStartOn string
	CreatedAt   time.Time
}

// APIKey is a stored key. The key itself is never stored: only its SHA-256
// hash, and a short prefix that lets people tell their keys apart.
type APIKey struct {
	ID        int64
	AccountID int64
	Account   string // the account's name, for listings
	Prefix    string // the first characters of the key
	Access    KeyAccess
	CreatedAt time.Time
	RevokedAt *time.Time
}

// KeyAccess is what an API key may do.
type KeyAccess string

// The access levels of keys. A read-only key that writes gets 403.
const (
	AccessReadWrite KeyAccess = "read_write"
	AccessReadOnly  KeyAccess = "read_only"
)

// DataSource is a container for one billing system's records. External ids
// are unique within one data source.
type DataSource struct {
	ID        int64
	UUID      string // "ds_…"
	AccountID int64
	Name      string
	System    string // "Custom" for sources created through the API
	CreatedAt time.Time
	// WebhookURL hears of every import of the data source that finishes;
	// "" when none (store/webhooks.go). Its signing secret is not kept
	// here, so that it cannot leak into logs or answers by accident.
	WebhookURL string
}

// DataSourceSystemCustom is the system of data sources created through the
// API. ChartMogul's older recordings say "Import API"; filters accept both.
const DataSourceSystemCustom = "Custom"

// Customer is a customer of the billing system, within one data source.
type Customer struct {
	ID                 int64 // also the public integer "id"
	UUID               string
	AccountID          int64
	DataSourceID       int64
	DataSourceUUID     string
	ExternalID         string
	Name               string
	Email              string
	Company            string
	Country            string // ISO 3166-1 alpha-2, or ""
	State              string // short code, or ""
	City               string
	Zip                string
	LeadCreatedAt      *time.Time
	FreeTrialStartedAt *time.Time
	WebsiteURL         string
	// LeadStatus is the status a lead was given through the API ("New
	// Lead", "Working Lead", …); customers with subscriptions take theirs
	// from the analytics.
	LeadStatus string
	// Owner is the e-mail of the account user who owns the customer.
	Owner string
	// Tags and Custom are the customer's attributes. Custom maps keys to
	// values of the types ChartMogul allows (string, number, bool, time).
	Tags   []string
	Custom map[string]any
	// Given records which fields a bulk record carried, so that re-importing
	// a customer updates only what the new record says.
	Given     CustomerFields
	CreatedAt time.Time
	UpdatedAt time.Time
	// DataSourceUUIDs and ExternalIDs are every identity the customer
	// answers to, pairwise, its own first: customers merged into it add
	// theirs. The store fills them in where it reads customers for the
	// API; empty means only the customer's own.
	DataSourceUUIDs []string
	ExternalIDs     []string
	// Status, MRR, ARR and CustomerSince are derived by the analytics
	// (store/analytics.go) when the customer's records are recomputed.
	// Status is "Active", "Past Due" or "Cancelled" once the customer has
	// subscriptions, "" before (its LeadStatus shows then). MRR and ARR are
	// in cents of the account currency; CustomerSince is when it first paid.
	Status        string
	MRR, ARR      int64
	CustomerSince *time.Time
}

// CustomerFields is a set of customer fields, one bit each.
type CustomerFields uint16

// The customer fields a record may carry.
const (
	CustomerName CustomerFields = 1 << iota
	CustomerEmail
	CustomerCompany
	CustomerCountry
	CustomerState
	CustomerCity
	CustomerZip
	CustomerLeadCreatedAt
	CustomerFreeTrialStartedAt
	CustomerWebsiteURL
)

// Plan is a billing plan of a data source: a name and a billing interval.
type Plan struct {
	ID             int64
	UUID           string
	AccountID      int64
	DataSourceID   int64
	DataSourceUUID string
	ExternalID     string
	Name           string
	IntervalCount  int64
	IntervalUnit   string // day, month or year
	CreatedAt      time.Time
}

// Plan interval units.
const (
	IntervalDay   = "day"
	IntervalMonth = "month"
	IntervalYear  = "year"
)

// Invoice is one invoice of a customer, with its line items and transactions.
type Invoice struct {
	ID                 int64
	UUID               string
	AccountID          int64
	DataSourceID       int64
	DataSourceUUID     string
	CustomerID         int64
	CustomerUUID       string
	CustomerExternalID string
	ExternalID         string
	Date               time.Time
	DueDate            *time.Time
	Currency           string
	CollectionMethod   string // "", automatic or manual
	Status             string // "" (derived from transactions), voided or written_off
	Disabled           bool
	// DisabledAt and DisabledBy say when and by whom the invoice was
	// disabled; they are empty while it is enabled.
	DisabledAt   *time.Time
	DisabledBy   string
	LineItems    []LineItem
	Transactions []Transaction
	CreatedAt    time.Time
}

// Line item types.
const (
	LineItemSubscription = "subscription"
	LineItemOneTime      = "one_time"
	LineItemTrial        = "trial"
)

// LineItem is one charge on an invoice. Subscription and trial items are one
// billed service period of a subscription; one-time items are not recurring.
type LineItem struct {
	ID                        int64
	UUID                      string
	InvoiceID                 int64
	InvoiceExternalID         string
	ExternalID                string // "" when the record had none
	Type                      string
	SubscriptionID            int64
	SubscriptionUUID          string
	SubscriptionExternalID    string
	SubscriptionSetExternalID string
	PlanID                    int64
	PlanUUID                  string
	PlanExternalID            string
	ServicePeriodStart        *time.Time
	ServicePeriodEnd          *time.Time
	Prorated                  bool
	ProrationType             string // "", full, differential or differential_mrr
	CancelledAt               *time.Time
	AmountInCents             int64
	Quantity                  int64
	DiscountAmountInCents     int64
	DiscountCode              string
	DiscountDescription       string
	TaxAmountInCents          int64
	TransactionFeesInCents    int64
	TransactionFeesCurrency   string
	AccountCode               string
	Description               string
	EventOrder                *int64
	BalanceTransfer           bool
	Disabled                  bool
	DisabledAt                *time.Time
	DisabledBy                string
}

// IsRecurring reports whether the item is one period of a subscription.
func (li *LineItem) IsRecurring() bool {
	return li.Type == LineItemSubscription || li.Type == LineItemTrial
}

// Transaction types and results.
const (
	TransactionPayment    = "payment"
	TransactionRefund     = "refund"
	TransactionSuccessful = "successful"
	TransactionFailed     = "failed"
)

// Transaction is a payment or refund attempt on an invoice.
type Transaction struct {
	ID                      int64
	UUID                    string
	InvoiceID               int64
	InvoiceExternalID       string
	ExternalID              string
	Type                    string
	Date                    time.Time
	Result                  string
	AmountInCents           *int64 // nil: the whole invoice
	TransactionFeesInCents  *int64
	TransactionFeesCurrency string
	Disabled                bool
	DisabledAt              *time.Time
	DisabledBy              string
}

// The ten subscription event types (spec §6.2).
const (
	EventSubscriptionStartScheduled               = "subscription_start_scheduled"
	EventSubscriptionStart                        = "subscription_start"
	EventScheduledSubscriptionStartRetracted      = "scheduled_subscription_start_retracted"
	EventSubscriptionCancellationScheduled        = "subscription_cancellation_scheduled"
	EventSubscriptionCancelled                    = "subscription_cancelled"
	EventScheduledSubscriptionCancellationRetract = "scheduled_subscription_cancellation_retracted"
	EventSubscriptionUpdateScheduled              = "subscription_update_scheduled"
	EventSubscriptionUpdated                      = "subscription_updated"
	EventScheduledSubscriptionUpdateRetracted     = "scheduled_subscription_update_retracted"
	EventSubscriptionEventRetracted               = "subscription_event_retracted"
)

// EventTypes lists the subscription event types in ChartMogul's order.
var EventTypes = []string{
	EventSubscriptionStartScheduled, EventSubscriptionStart, EventScheduledSubscriptionStartRetracted,
	EventSubscriptionCancellationScheduled, EventSubscriptionCancelled, EventScheduledSubscriptionCancellationRetract,
	EventSubscriptionUpdateScheduled, EventSubscriptionUpdated, EventScheduledSubscriptionUpdateRetracted,
	EventSubscriptionEventRetracted,
}

// EventStartsOrUpdates reports whether events of this type describe a plan,
// a price and a quantity, which they must then carry.
func EventStartsOrUpdates(eventType string) bool {
	switch eventType {
	case EventSubscriptionStartScheduled, EventSubscriptionStart,
		EventSubscriptionUpdateScheduled, EventSubscriptionUpdated:
		return true
	}
	return false
}

// SubscriptionEvent describes a change of a subscription directly, without an
// invoice: mainly scheduled changes, which feed committed MRR.
type SubscriptionEvent struct {
	ID                        int64 // the public integer id
	AccountID                 int64
	DataSourceID              int64
	DataSourceUUID            string
	CustomerID                int64
	CustomerExternalID        string
	ExternalID                string
	EventType                 string
	EventDate                 time.Time
	EffectiveDate             time.Time
	SubscriptionExternalID    string
	SubscriptionSetExternalID string
	PlanExternalID            string
	Currency                  string
	AmountInCents             *int64
	Quantity                  *int64
	TaxAmountInCents          *int64
	RetractedEventID          string
	EventOrder                *int64
	Disabled                  bool
	// DisabledAt is when the event was disabled; nil while it is enabled.
	DisabledAt *time.Time
	// RetractsEventID is, on a retraction event, the id of the event it
	// retracted (resolved when the retraction was recorded: the event
	// retracted_event_id names, or the latest pending scheduled event of
	// the kind a type-specific retraction withdraws); 0 otherwise.
	RetractsEventID int64
	// RetractedBy is the id of the enabled retraction event that retracts
	// this event, 0 when none does. It is derived from the retractions'
	// RetractsEventID when the event is read, and never written: a
	// retraction that is disabled or deleted stops retracting. Analytics
	// ignore events whose RetractedBy is set.
	RetractedBy int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RetractedKind returns the type of the scheduled events that a
// type-specific retraction withdraws, and "" for every other type.
func RetractedKind(eventType string) string {
	switch eventType {
	case EventScheduledSubscriptionStartRetracted:
		return EventSubscriptionStartScheduled
	case EventScheduledSubscriptionCancellationRetract:
		return EventSubscriptionCancellationScheduled
	case EventScheduledSubscriptionUpdateRetracted:
		return EventSubscriptionUpdateScheduled
	}
	return ""
}

// IsRetraction reports whether events of this type retract another event:
// the generic retraction and the three type-specific ones.
func IsRetraction(eventType string) bool {
	return eventType == EventSubscriptionEventRetracted || RetractedKind(eventType) != ""
}

// Subscription is the import-side identity of a subscription: the
// subscription_external_id of a customer within a data source. Line items
// name it; the analytics derive its MRR from them.
type Subscription struct {
	ID            int64
	UUID          string // "sub_…"
	AccountID     int64
	DataSourceID  int64
	CustomerID    int64
	ExternalID    string
	SetExternalID string
	PlanID        int64 // the plan of its most recent line item
	CreatedAt     time.Time
	// The public ids of its data source, customer and plan, filled by reads
	// that show the subscription.
	DataSourceUUID string
	CustomerUUID   string
	PlanUUID       string
	// CancellationDates are the times the subscription was cancelled
	// through the import API, oldest first.
	CancellationDates []time.Time
}
