package bulk

import "github.com/recurhq/recur/chartmogul"

// ImportKeys are the external ids a batch names, per type, each once: the rows of
// the data source the caller must load into an ExistingRecords before resolving.
type ImportKeys struct {
	Customers    []string
	Plans        []string
	Invoices     []string
	LineItems    []string
	Transactions []string
	Events       []string
	// RetractedEventIDs are the public ids of events that retraction events
	// name.
	RetractedEventIDs []string
	// RetractionSubscriptions are the subscription external ids of
	// type-specific retractions: their pending scheduled events must be
	// loaded into ExistingRecords.ScheduledEvents.
	RetractionSubscriptions []string
	// PlanUUIDs are the plans line items name by uuid (the single-object
	// endpoints' way).
	PlanUUIDs []string
}

// SubscriptionKey identifies a subscription: a customer (by row id) and the
// subscription's external id.
type SubscriptionKey struct {
	CustomerID int64
	ExternalID string
}

// ExistingRecords holds the data source's rows that a batch's Keys name. Invoices
// carry their line items and transactions, so that records without an
// external id can be recognised when they are imported again.
type ExistingRecords struct {
	Customers     map[string]*chartmogul.Customer
	Plans         map[string]*chartmogul.Plan
	Invoices      map[string]*chartmogul.Invoice
	LineItems     map[string]*chartmogul.LineItem
	Transactions  map[string]*chartmogul.Transaction
	Events        map[string]*chartmogul.SubscriptionEvent
	Subscriptions map[SubscriptionKey]*chartmogul.Subscription
	// EventIDs holds the public ids of the retracted events that exist.
	EventIDs map[string]bool
	// EventsByID holds the events that RetractedEventIDs name, by public id
	// (decimal).
	EventsByID map[string]*chartmogul.SubscriptionEvent
	// ScheduledEvents holds, by subscription external id, the pending
	// scheduled events of the subscriptions RetractionSubscriptions names:
	// enabled, not retracted, oldest first by event_date then id.
	ScheduledEvents map[string][]*chartmogul.SubscriptionEvent
	// PlansByUUID holds the plans that PlanUUIDs name.
	PlansByUUID map[string]*chartmogul.Plan
}

// ImportChanges is what an import writes: new rows, rows updated in place, and the
// links between them. Links point at records, new or existing; the writer
// assigns ids to new records, then calls Link to copy them into the rows that
// refer to them.
type ImportChanges struct {
	NewCustomers     []*chartmogul.Customer
	UpdatedCustomers []*chartmogul.Customer
	NewPlans         []*chartmogul.Plan
	UpdatedPlans     []*chartmogul.Plan
	NewSubscriptions []SubscriptionLink
	NewInvoices      []InvoiceLink
	NewLineItems     []LineItemLink
	NewTransactions  []TransactionLink
	NewEvents        []EventLink
	// UpdatedEvents are stored events changed in place (the single-object
	// PATCH); their ID is the stored row's.
	UpdatedEvents []EventLink
	// Touched lists the customers whose records changed, once each: their
	// analytics must be computed again.
	Touched []*chartmogul.Customer
	Report  *chartmogul.ImportReport
}

// SubscriptionLink is a new subscription and the rows it belongs to.
type SubscriptionLink struct {
	Subscription *chartmogul.Subscription
	Customer     *chartmogul.Customer
	Plan         *chartmogul.Plan
}

// InvoiceLink is a new invoice and its customer.
type InvoiceLink struct {
	Invoice  *chartmogul.Invoice
	Customer *chartmogul.Customer
}

// LineItemLink is a new line item and the rows it refers to. Plan and
// Subscription are nil for one-time items.
type LineItemLink struct {
	LineItem     *chartmogul.LineItem
	Invoice      *chartmogul.Invoice
	Plan         *chartmogul.Plan
	Subscription *chartmogul.Subscription
}

// TransactionLink is a new transaction and its invoice.
type TransactionLink struct {
	Transaction *chartmogul.Transaction
	Invoice     *chartmogul.Invoice
}

// EventLink is a new subscription event and its customer, and for a
// retraction the event it retracts (new or stored; nil when none).
type EventLink struct {
	Event    *chartmogul.SubscriptionEvent
	Customer *chartmogul.Customer
	Retracts *chartmogul.SubscriptionEvent
}

// Records returns the number of rows the changes write.
func (c *ImportChanges) Records() int {
	return len(c.NewCustomers) + len(c.UpdatedCustomers) + len(c.NewPlans) + len(c.UpdatedPlans) +
		len(c.NewInvoices) + len(c.NewLineItems) + len(c.NewTransactions) + len(c.NewEvents) + len(c.UpdatedEvents)
}

// Link copies the ids of linked records into the rows that refer to them.
// Call it once every new customer, plan, subscription and invoice has its id.
func (c *ImportChanges) Link() {
	for _, s := range c.NewSubscriptions {
		s.Subscription.CustomerID = s.Customer.ID
		if s.Plan != nil {
			s.Subscription.PlanID = s.Plan.ID
		}
	}
	for _, l := range c.NewInvoices {
		l.Invoice.CustomerID = l.Customer.ID
		l.Invoice.CustomerUUID = l.Customer.UUID
	}
	for _, l := range c.NewLineItems {
		l.LineItem.InvoiceID = l.Invoice.ID
		if l.Plan != nil {
			l.LineItem.PlanID = l.Plan.ID
			l.LineItem.PlanUUID = l.Plan.UUID
		}
		if l.Subscription != nil {
			l.LineItem.SubscriptionID = l.Subscription.ID
			l.LineItem.SubscriptionUUID = l.Subscription.UUID
		}
	}
	for _, l := range c.NewTransactions {
		l.Transaction.InvoiceID = l.Invoice.ID
	}
	for _, links := range [][]EventLink{c.NewEvents, c.UpdatedEvents} {
		for _, l := range links {
			l.Event.CustomerID = l.Customer.ID
			l.Event.RetractsEventID = 0
			if l.Retracts != nil {
				l.Event.RetractsEventID = l.Retracts.ID
			}
		}
	}
}
