package workflows

import "time"

// The inputs and results of the activities. They carry ids, counts and
// outcomes, never rows or payloads: those stay in the state database (claim
// check), so that a history stays small whatever the size of a customer.

// ConfigureInput asks the worker for its defaults.
type ConfigureInput struct {
	DataSource string `json:"data_source,omitempty"`
}

// CheckSetupInput asks the worker to check, before a sync sends anything,
// that ChartMogul accepts the key and knows the data source, and that the
// source relations are readable.
type CheckSetupInput struct {
	Settings Settings `json:"settings"`
}

// CheckSetupResult reports rows of the source that belong to no customer
// (a line item whose invoice is not in invoices, an invoice whose customer
// is not in customers, a customer without an external id): they cannot be
// sent, and are reported once per sync.
type CheckSetupResult struct {
	SourceCustomers int             `json:"source_customers"`
	Orphans         []RecordFailure `json:"orphans,omitempty"`
	OrphansTotal    int             `json:"orphans_total,omitempty"`
}

// ListCustomersInput asks for the next batch of customers after a cursor.
type ListCustomersInput struct {
	Settings Settings `json:"settings"`
	After    string   `json:"after"`
	Limit    int      `json:"limit"`
	// Only limits the listing to these external ids.
	Only []string `json:"only,omitempty"`
	// Full lists every customer; otherwise only those whose rows changed
	// since their last import.
	Full bool `json:"full,omitempty"`
}

// ListCustomersResult is one batch: the customers to import, in external id
// order, and the cursor of the next batch.
type ListCustomersResult struct {
	Customers []string `json:"customers"`
	// Hashes are the content hashes of the customers to import, taken in
	// the same statement that found them changed: their imports record
	// them, and need not compute them again.
	Hashes    map[string]string `json:"hashes,omitempty"`
	Scanned   int               `json:"scanned"`
	Unchanged int               `json:"unchanged"`
	Next      string            `json:"next"`
	Done      bool              `json:"done"`
}

// ExtractInput names the customer whose rows to read; an empty Customer
// reads the plans.
type ExtractInput struct {
	Settings Settings `json:"settings"`
	Customer string   `json:"customer_external_id"`
	Workflow string   `json:"workflow_id"`
	// Hash is the customer's content hash when the sync already has it.
	Hash string `json:"hash,omitempty"`
}

// ExtractResult names the extract stored in the state database.
type ExtractResult struct {
	ExtractID int64      `json:"extract_id"`
	Counts    TypeCounts `json:"counts"`
	// Hash is the content hash of the customer's rows, the same one a
	// sync computes for a whole batch to find changed customers.
	Hash string `json:"hash"`
	// Missing is true when the source has no such customer.
	Missing bool `json:"missing,omitempty"`
}

// BuildInput turns an extract into the parts to send.
type BuildInput struct {
	Settings  Settings `json:"settings"`
	Customer  string   `json:"customer_external_id"`
	ExtractID int64    `json:"extract_id"`
	Workflow  string   `json:"workflow_id"`
	Full      bool     `json:"full,omitempty"`
	DryRun    bool     `json:"dry_run,omitempty"`
}

// BuildResult lists the parts to send, in order, and what was kept back.
type BuildResult struct {
	Parts         []PartRef       `json:"parts"`
	ToSend        TypeCounts      `json:"to_send"`
	Unchanged     TypeCounts      `json:"unchanged"`
	Failed        TypeCounts      `json:"failed"`
	Conflicts     TypeCounts      `json:"conflicts"`
	FailedRecords []RecordFailure `json:"failed_records,omitempty"`
	FailedMore    int             `json:"failed_records_not_listed,omitempty"`
	Warnings      []RecordFailure `json:"warnings,omitempty"`
	ConflictList  []Conflict      `json:"conflict_list,omitempty"`
}

// PartRef is one part of a customer's payload, stored in the state database.
type PartRef struct {
	ID      int64      `json:"part_id"`
	Seq     int        `json:"seq"`
	Bytes   int        `json:"bytes"`
	Records TypeCounts `json:"records"`
}

// SubmitInput sends one part.
type SubmitInput struct {
	Settings Settings `json:"settings"`
	Customer string   `json:"customer_external_id"`
	PartID   int64    `json:"part_id"`
}

// SubmitResult names the import that carries the part.
type SubmitResult struct {
	ImportID   string `json:"import_id"`
	ExternalID string `json:"external_id"`
	Customers  int    `json:"customers"`
}

// PollInput asks whether the import carrying a part has finished.
type PollInput struct {
	Settings Settings `json:"settings"`
	Customer string   `json:"customer_external_id"`
	PartID   int64    `json:"part_id"`
	ImportID string   `json:"import_id"`
	// Window is how long to keep polling before answering "not yet".
	Window time.Duration `json:"window"`
}

// PollResult is the outcome of a part's import, once it finished: what
// ChartMogul imported and every failed record of this customer.
type PollResult struct {
	Finished      bool            `json:"finished"`
	Status        string          `json:"status"`
	Imported      TypeCounts      `json:"imported"`
	Failed        TypeCounts      `json:"failed"`
	FailedRecords []RecordFailure `json:"failed_records,omitempty"`
	FailedMore    int             `json:"failed_records_not_listed,omitempty"`
}

// FinishInput ends a customer's import: it records the content hash the
// next sync compares against and removes the claim checks.
type FinishInput struct {
	Settings  Settings `json:"settings"`
	Customer  string   `json:"customer_external_id"`
	ExtractID int64    `json:"extract_id"`
	Hash      string   `json:"hash"`
	Workflow  string   `json:"workflow_id"`
	// Complete is true when every part was sent and finished: only then is
	// the hash recorded, so that a cancelled import is retried next time.
	Complete bool `json:"complete"`
	DryRun   bool `json:"dry_run,omitempty"`
}

// WaitWorkflowInput names a workflow to wait for.
type WaitWorkflowInput struct {
	WorkflowID string `json:"workflow_id"`
}

// FindRemovedInput asks which customers ChartMogul holds from this data
// source that the source no longer has.
type FindRemovedInput struct {
	Settings Settings `json:"settings"`
}

// FindRemovedResult lists them, up to MaxListed.
type FindRemovedResult struct {
	Count     int      `json:"count"`
	Customers []string `json:"customers,omitempty"`
}
