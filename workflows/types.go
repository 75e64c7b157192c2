package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// Workflow type names, as the Web UI's "Start workflow" form and the starter
// name them.
const (
	SyncWorkflowName     = "SyncWorkflow"
	CustomerWorkflowName = "CustomerImportWorkflow"
)

// The activities the workflows run, by the names the worker registers them
// under (package activities implements them; this package never imports it,
// so that workflow code stays free of I/O).
const (
	ActivityConfigure     = "Configure"
	ActivityCheckSetup    = "CheckSetup"
	ActivityListCustomers = "ListCustomers"
	ActivityExtract       = "Extract"
	ActivityBuildPayload  = "BuildPayload"
	ActivitySubmit        = "Submit"
	ActivityPoll          = "Poll"
	ActivityWaitImport    = "WaitImport"
	ActivityFinish        = "Finish"
	ActivityWaitWorkflow  = "WaitWorkflow"
	ActivityFindRemoved   = "FindRemoved"
)

// Query and signal names of SyncWorkflow.
const (
	// QueryProgress answers a SyncProgress: where a running sync is.
	QueryProgress = "progress"
	// SignalPause stops a sync from starting further customers until
	// SignalResume; customers already running finish.
	SignalPause  = "pause"
	SignalResume = "resume"
)

// Search attributes (Keyword) that make syncs and customers findable in the
// Web UI: `RecurDataSource = "ds_…" AND RecurOutcome = "failed"` lists last
// night's failed customers. The embedded dev server registers them; on a
// cluster, `temporal operator search-attribute create` does (README).
var (
	DataSourceAttr = temporal.NewSearchAttributeKeyKeyword("RecurDataSource")
	CustomerAttr   = temporal.NewSearchAttributeKeyKeyword("RecurCustomer")
	OutcomeAttr    = temporal.NewSearchAttributeKeyKeyword("RecurOutcome")
)

// SearchAttributeNames lists the names of the search attributes above.
var SearchAttributeNames = []string{"RecurDataSource", "RecurCustomer", "RecurOutcome"}

// The record types of ChartMogul's bulk import, by their array's name.
const (
	TypeCustomers          = "customers"
	TypePlans              = "plans"
	TypeInvoices           = "invoices"
	TypeLineItems          = "line_items"
	TypeTransactions       = "transactions"
	TypeSubscriptionEvents = "subscription_events"
)

// Outcomes of a customer (the RecurOutcome search attribute) and of a sync.
const (
	OutcomeImported  = "imported"           // every record ChartMogul holds or now imported
	OutcomePartial   = "partially_imported" // some records failed, the others imported
	OutcomeFailed    = "failed"             // nothing could be imported, or the customer's workflow failed
	OutcomeUnchanged = "unchanged"          // nothing new to send
	OutcomeDryRun    = "dry_run"            // validated, nothing sent
	OutcomeRemoved   = "removed"            // no longer in the source: reported, never deleted
	OutcomeCancelled = "cancelled"          // stopped by a person before every part was sent
	OutcomeRunning   = "running"
)

// Workflow id prefixes: `sync/<data source>`, `import/<data source>/<customer>`,
// and the nightly schedule `nightly/<data source>`.
const (
	SyncIDPrefix     = "sync/"
	CustomerIDPrefix = "import/"
	ScheduleIDPrefix = "nightly/"
)

// SyncID is the workflow id of the sync of a data source.
func SyncID(dataSource string) string { return SyncIDPrefix + dataSource }

// CustomerID is the workflow id of a customer's import.
func CustomerID(dataSource, customer string) string {
	return CustomerIDPrefix + dataSource + "/" + customer
}

// ScheduleID is the id of the nightly schedule of a data source.
func ScheduleID(dataSource string) string { return ScheduleIDPrefix + dataSource }

// SyncInput is what starts a sync. Every member may be left out: `{}` syncs
// the worker's configured data source, incrementally.
type SyncInput struct {
	// DataSource is the ChartMogul data source uuid ("ds_…"); default: the
	// worker's.
	DataSource string `json:"data_source,omitempty"`
	// Customers limits the sync to these customer external ids.
	Customers []string `json:"customers,omitempty"`
	// Full sends every record the ledger says ChartMogul lacks, for every
	// customer, instead of only customers whose source rows changed.
	Full bool `json:"full,omitempty"`
	// DryRun extracts, builds and validates everything and reports what a
	// sync would send, sending nothing and changing nothing in the ledger.
	DryRun bool `json:"dry_run,omitempty"`
	// BatchSize is how many customers one run of the workflow reads from
	// the source before it continues as new (default 500).
	BatchSize int `json:"batch_size,omitempty"`
	// Concurrency is how many customers' workflows run at once (default 100).
	Concurrency int `json:"concurrency,omitempty"`
	// Carried is the state a run hands to the next when it continues as
	// new; a person starting a sync leaves it out.
	Carried *SyncState `json:"carried,omitempty"`
}

// SyncState is what a sync carries from one run to the next.
type SyncState struct {
	Settings Settings    `json:"settings"`
	Cursor   string      `json:"cursor"` // the last customer external id read
	Summary  SyncSummary `json:"summary"`
	// SourceCustomers is the number of customers in the source when the
	// sync began, for the progress estimate.
	SourceCustomers int `json:"source_customers"`
}

// Settings are the resolved defaults of a sync or a customer's import: what
// the worker was configured with when the sync began, recorded in history so
// that every customer of one sync uses the same.
type Settings struct {
	DataSource string `json:"data_source"`
	// SearchAttributes is true when the namespace has the Recur search
	// attributes, which are then set on every workflow.
	SearchAttributes bool `json:"search_attributes"`
	// PartBytes is the largest request body: a customer's payload above it
	// is split into parts sent one after another.
	PartBytes int `json:"part_bytes"`
}

// CustomerInput starts the import of one customer. From the UI,
// `{"customer_external_id": "…"}` syncs that customer incrementally.
type CustomerInput struct {
	CustomerExternalID string `json:"customer_external_id"`
	DataSource         string `json:"data_source,omitempty"`
	Full               bool   `json:"full,omitempty"`
	DryRun             bool   `json:"dry_run,omitempty"`
	// SyncID is the sync that started this import, when one did.
	SyncID string `json:"sync_id,omitempty"`
	// Hash is the customer's content hash as the sync found it.
	Hash string `json:"hash,omitempty"`
	// Settings are the sync's; nil when a person started the import.
	Settings *Settings `json:"settings,omitempty"`
}

// TypeCounts counts records per record type.
type TypeCounts struct {
	Customers          int `json:"customers,omitempty"`
	Plans              int `json:"plans,omitempty"`
	Invoices           int `json:"invoices,omitempty"`
	LineItems          int `json:"line_items,omitempty"`
	Transactions       int `json:"transactions,omitempty"`
	SubscriptionEvents int `json:"subscription_events,omitempty"`
}

// Total is the sum over every type.
func (c TypeCounts) Total() int {
	return c.Customers + c.Plans + c.Invoices + c.LineItems + c.Transactions + c.SubscriptionEvents
}

// Add adds o to c.
func (c *TypeCounts) Add(o TypeCounts) {
	c.Customers += o.Customers
	c.Plans += o.Plans
	c.Invoices += o.Invoices
	c.LineItems += o.LineItems
	c.Transactions += o.Transactions
	c.SubscriptionEvents += o.SubscriptionEvents
}

// Inc adds n records of type t.
func (c *TypeCounts) Inc(t string, n int) {
	switch t {
	case TypeCustomers:
		c.Customers += n
	case TypePlans:
		c.Plans += n
	case TypeInvoices:
		c.Invoices += n
	case TypeLineItems:
		c.LineItems += n
	case TypeTransactions:
		c.Transactions += n
	case TypeSubscriptionEvents:
		c.SubscriptionEvents += n
	}
}

// Get returns the count of type t.
func (c TypeCounts) Get(t string) int {
	switch t {
	case TypeCustomers:
		return c.Customers
	case TypePlans:
		return c.Plans
	case TypeInvoices:
		return c.Invoices
	case TypeLineItems:
		return c.LineItems
	case TypeTransactions:
		return c.Transactions
	case TypeSubscriptionEvents:
		return c.SubscriptionEvents
	}
	return 0
}

// RecordFailure is one record that was not imported, and why: refused by
// Recur's own validation before anything was sent, or reported failed by
// ChartMogul. Problems of records are data, never errors that stop a sync.
type RecordFailure struct {
	Customer   string `json:"customer_external_id,omitempty"`
	Type       string `json:"type"`
	ExternalID string `json:"external_id,omitempty"`
	Field      string `json:"field,omitempty"`
	Message    string `json:"message"`
	// Import is ChartMogul's id of the import that reported the failure;
	// empty when Recur refused the record before sending it.
	Import string `json:"import_id,omitempty"`
}

// Conflict is a record ChartMogul already holds that changed in the source
// since it was sent. Invoices, line items, transactions and subscription
// events are imported once and never rewritten by a bulk import, so Recur
// does not send them again: it reports them, with what to do.
type Conflict struct {
	Customer   string   `json:"customer_external_id,omitempty"`
	Type       string   `json:"type"`
	ExternalID string   `json:"external_id"`
	Fields     []string `json:"fields"`
}

// ImportRef is one request that carried records of a customer.
type ImportRef struct {
	Part       int    `json:"part"`        // 1, 2, … in the order they were sent
	ID         string `json:"import_id"`   // ChartMogul's id of the import
	ExternalID string `json:"external_id"` // Recur's external id of the import
	Status     string `json:"status"`      // ChartMogul's final status of the import
	Records    int    `json:"records"`     // this customer's records in it
	// Customers is how many customers the request carried (packing).
	Customers int `json:"customers"`
}

// CustomerResult is what became of one customer.
type CustomerResult struct {
	Customer   string `json:"customer_external_id"`
	DataSource string `json:"data_source"`
	Outcome    string `json:"outcome"`
	// Extracted counts the source rows read; Sent, the records sent to
	// ChartMogul; Imported, those it reported imported; Unchanged, those
	// it already held as they are; Failed, those refused (by Recur's
	// validation or by ChartMogul); Conflicts, those changed since they
	// were imported, not sent.
	Extracted TypeCounts  `json:"extracted"`
	Sent      TypeCounts  `json:"sent"`
	Imported  TypeCounts  `json:"imported"`
	Unchanged TypeCounts  `json:"unchanged"`
	Failed    TypeCounts  `json:"failed"`
	Conflicts TypeCounts  `json:"conflicts"`
	Imports   []ImportRef `json:"imports,omitempty"`
	// FailedRecords lists every failed record, up to MaxListed; the rest
	// are in the state database (recur.record_failures).
	FailedRecords     []RecordFailure `json:"failed_records,omitempty"`
	FailedRecordsMore int             `json:"failed_records_not_listed,omitempty"`
	Warnings          []RecordFailure `json:"warnings,omitempty"`
	ConflictList      []Conflict      `json:"conflict_list,omitempty"`
	// Message says what happened when the outcome needs a sentence (a
	// customer no longer in the source, a cancelled import).
	Message string `json:"message,omitempty"`
}

// MaxListed bounds the records listed in one result, so that a customer
// with thousands of bad rows does not blow up a workflow's history: the
// complete list is in the state database.
const MaxListed = 100

// SyncSummary is the result of a sync.
type SyncSummary struct {
	DataSource string `json:"data_source"`
	Full       bool   `json:"full,omitempty"`
	DryRun     bool   `json:"dry_run,omitempty"`
	Outcome    string `json:"outcome"`
	// Customers counts the customers whose workflow ran; Scanned, every
	// customer read from the source; Unchanged, those skipped because
	// their rows had not changed since the last sync.
	Customers          int `json:"customers"`
	CustomersScanned   int `json:"customers_scanned"`
	CustomersUnchanged int `json:"customers_unchanged"`
	CustomersImported  int `json:"customers_imported"`
	CustomersPartial   int `json:"customers_partially_imported"`
	CustomersFailed    int `json:"customers_failed"`
	CustomersRemoved   int `json:"customers_removed,omitempty"`
	// RecordsSent counts the records sent; RecordsFailed, those refused by
	// validation or by ChartMogul; RecordsUnchanged, those ChartMogul
	// already held; Conflicts, those changed since imported, not sent.
	RecordsSent      int `json:"records_sent"`
	RecordsImported  int `json:"records_imported"`
	RecordsFailed    int `json:"records_failed"`
	RecordsUnchanged int `json:"records_unchanged"`
	Conflicts        int `json:"conflicts"`
	// Imports counts the bulk import requests that carried records.
	Imports int `json:"imports"`
	Batches int `json:"batches"`
	// Sent and Failed count records per type.
	Sent   TypeCounts `json:"sent"`
	Failed TypeCounts `json:"failed"`
	// FailedCustomers lists the customers whose import failed or partly
	// failed, with the first reason; FailedRecords, failed records; both up
	// to MaxListed.
	FailedCustomers []CustomerFailure `json:"failed_customers,omitempty"`
	FailedRecords   []RecordFailure   `json:"failed_records,omitempty"`
	ConflictList    []Conflict        `json:"conflict_list,omitempty"`
	RemovedList     []string          `json:"removed_customers,omitempty"`
	StartedAt       time.Time         `json:"started_at"`
	FinishedAt      time.Time         `json:"finished_at,omitzero"`
	// Message says what to do about what the sync found, when there is
	// something to do.
	Message string `json:"message,omitempty"`
}

// CustomerFailure is a customer whose import did not fully succeed.
type CustomerFailure struct {
	Customer string `json:"customer_external_id"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	Workflow string `json:"workflow_id"`
}

// SyncProgress is what the progress query answers, and what the UI shows
// as a running sync's current details.
type SyncProgress struct {
	Phase              string    `json:"phase"`
	Paused             bool      `json:"paused"`
	Batches            int       `json:"batches_done"`
	CustomersScanned   int       `json:"customers_scanned"`
	CustomersDone      int       `json:"customers_done"`
	CustomersFailed    int       `json:"customers_failed"`
	CustomersRunning   int       `json:"customers_running"`
	CustomersUnchanged int       `json:"customers_unchanged"`
	RecordsSent        int       `json:"records_sent"`
	RecordsFailed      int       `json:"records_failed"`
	StartedAt          time.Time `json:"started_at"`
	// CustomersPerSecond and ETA are estimates from the customers done so
	// far; ETA is empty until the source's size is known.
	CustomersPerSecond float64 `json:"customers_per_second"`
	SourceCustomers    int     `json:"source_customers,omitempty"`
	ETA                string  `json:"eta,omitempty"`
}
