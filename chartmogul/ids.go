package chartmogul

import "github.com/google/uuid"

// Prefixes of public identifiers, as ChartMogul spells them (spec §1.2).
const (
	PrefixDataSource   = "ds_"
	PrefixCustomer     = "cus_"
	PrefixPlan         = "pl_"
	PrefixInvoice      = "inv_"
	PrefixLineItem     = "li_"
	PrefixTransaction  = "tr_"
	PrefixSubscription = "sub_"
	PrefixAccount      = "acc_"
)

// NewUUID returns a new time-ordered (version 7) UUID string. Time order keeps
// the unique indexes on public identifiers appending at their right edge.
func NewUUID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// NewID returns prefix followed by a new UUID, e.g. NewID(PrefixCustomer).
func NewID(prefix string) string { return prefix + NewUUID() }
