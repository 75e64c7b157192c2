package chartmogul

import (
	"fmt"
	"time"
)

// ImportStatus is where a bulk import is in its life.
type ImportStatus string

// The statuses of a bulk import. queued → processing → completed is
// ChartMogul's documented lifecycle; failed is Recur's extension for an import
// of which nothing could be applied.
const (
	ImportQueued     ImportStatus = "queued"
	ImportProcessing ImportStatus = "processing"
	ImportCompleted  ImportStatus = "completed"
	ImportFailed     ImportStatus = "failed"
)

// Finished reports whether the import has reached a terminal status.
func (s ImportStatus) Finished() bool { return s == ImportCompleted || s == ImportFailed }

// Import is one bulk import: a payload accepted by
// POST /v1/data_sources/{ds}/json_imports and what became of it.
type Import struct {
	ID             int64  // internal; also the arrival order within the database
	UUID           string // the public "id"
	AccountID      int64
	DataSourceID   int64
	DataSourceUUID string
	ExternalID     string // the caller's id for the import, "" when none
	Status         ImportStatus
	// Payload is the request body, compressed; PayloadSize is its size before
	// compression. Keeping it means nothing accepted is ever lost, whatever
	// becomes of the records.
	Payload     []byte
	PayloadSize int64
	// Report is what the worker found; nil until the import finished.
	Report *ImportReport
	// Reason says why an import failed.
	Reason     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

// RecordType names the kind of a record by its array in the bulk payload.
type RecordType string

// The record types of a bulk payload, in the order ChartMogul lists them.
const (
	RecordCustomers          RecordType = "customers"
	RecordPlans              RecordType = "plans"
	RecordInvoices           RecordType = "invoices"
	RecordLineItems          RecordType = "line_items"
	RecordTransactions       RecordType = "transactions"
	RecordSubscriptionEvents RecordType = "subscription_events"
)

// RecordTypes lists the record types in payload order.
var RecordTypes = []RecordType{
	RecordCustomers, RecordPlans, RecordInvoices, RecordLineItems, RecordTransactions, RecordSubscriptionEvents,
}

// RecordProblem is one failure or warning about one record of a payload.
// Problems are data: an import with failed records still completes.
type RecordProblem struct {
	Type       RecordType `json:"type"`
	Index      int        `json:"index"` // position in the record's array, from 0
	ExternalID string     `json:"external_id"`
	Field      string     `json:"field"`
	Message    string     `json:"message"`
	// Customer is the external id of the customer the record belongs to,
	// when it could be told.
	Customer string `json:"customer_external_id,omitempty"`
}

// Outcome is what became of a record, or of a group of records.
type Outcome string

// The outcomes of records. ChartMogul documents only "imported"; the others
// are Recur's extension in the same place.
const (
	OutcomeImported          Outcome = "imported"
	OutcomeFailed            Outcome = "failed"
	OutcomePartiallyImported Outcome = "partially_imported"
)

// TypeCounts counts the records of one type.
type TypeCounts struct {
	Received int `json:"received"`
	Imported int `json:"imported"`
	Failed   int `json:"failed"`
}

// Outcome folds the counts into one outcome.
func (c TypeCounts) Outcome() Outcome {
	switch {
	case c.Failed == 0:
		return OutcomeImported
	case c.Imported == 0:
		return OutcomeFailed
	}
	return OutcomePartiallyImported
}

// ImportReport is what the worker found in an import's payload: counts per
// record type, ChartMogul's per-customer status details, and every failed
// record and warning.
type ImportReport struct {
	Counts map[RecordType]*TypeCounts
	// Plans counts the plans; they belong to the data source, not to one
	// customer, so status_details shows them under the key "plans".
	Plans TypeCounts
	// Customers lists, in order of first appearance in the payload, each
	// customer external id the payload touched and the counts of its records.
	Customers []CustomerReport
	Failures  []RecordProblem
	Warnings  []RecordProblem
}

// CustomerReport counts the records of one customer in one import, per type.
type CustomerReport struct {
	ExternalID string
	Counts     map[RecordType]*TypeCounts
}

// Outcome folds a customer's counts into one outcome.
func (c *CustomerReport) Outcome() Outcome {
	var total TypeCounts
	for _, n := range c.Counts {
		total.Received += n.Received
		total.Imported += n.Imported
		total.Failed += n.Failed
	}
	return total.Outcome()
}

// Imported returns the number of records applied, over all types.
func (r *ImportReport) Imported() int {
	n := 0
	for _, c := range r.Counts {
		n += c.Imported
	}
	return n
}

// Received returns the number of records in the payload, over all types.
func (r *ImportReport) Received() int {
	n := 0
	for _, c := range r.Counts {
		n += c.Received
	}
	return n
}

// Result is the status an import with this report finishes in, and the
// reason when it failed: an import fails only when nothing could be applied.
func (r *ImportReport) Result() (ImportStatus, string) {
	switch n := r.Received(); {
	case n == 0:
		return ImportFailed, "the import holds no records"
	case r.Imported() == 0:
		return ImportFailed, fmt.Sprintf("none of the %d records could be imported; failed_records says why", n)
	}
	return ImportCompleted, ""
}
