package recur

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
	LineItems          []LineItem
	Transactions       []Transaction
	CreatedAt          time.Time
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
	CreatedAt                 time.Time
	UpdatedAt                 time.Time
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
}
