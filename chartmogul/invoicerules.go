package chartmogul

import "time"

// The rules below belong to the single-object endpoints of invoices and
// import-side subscriptions, which have fields a bulk payload does not
// carry: an invoice's nested line items, its settable status, and a
// subscription's cancellation history.

// The invoice statuses that can be set through the API (PUT
// /v1/data_sources/{ds}/invoices/{external_id}/status). The others — open,
// paid, refunded — follow from the invoice's transactions and cannot be set.
const (
	InvoiceStatusVoided     = "voided"
	InvoiceStatusWrittenOff = "written_off"
)

// ValidateInvoiceStatus checks a status set through the API.
func ValidateInvoiceStatus(p *Problems, status string) {
	switch status {
	case InvoiceStatusVoided, InvoiceStatusWrittenOff:
	case "":
		p.Required("status")
	case "open", "paid", "refunded":
		p.Fail("status", "status must be voided or written_off; got %s, which follows from the invoice's transactions and cannot be set", Quote(status))
	default:
		p.Fail("status", "status must be voided or written_off; got %s", Quote(status))
	}
}

// ValidateLineItemCount checks that an invoice imported with its line items
// nested (POST /v1/import/customers/{cus}/invoices) has at least one: an
// invoice without line items bills nothing, and ChartMogul requires them.
func (inv *Invoice) ValidateLineItemCount(p *Problems, n int) {
	if n == 0 && !p.Has("line_items") {
		p.Fail("line_items", "line_items is required: an invoice needs at least one line item")
	}
}

// ValidateCancellation checks one cancellation date of an import-side
// subscription (PATCH /v1/import/subscriptions/{uuid}). A cancellation must
// already have happened: future cancellations are scheduled with
// subscription events instead. field names the date in messages.
func ValidateCancellation(p *Problems, field string, t, now time.Time) {
	if t.After(now) {
		p.Fail(field, "%s must be in the past; got %s (cancellations to come are sent as subscription_cancellation_scheduled events)", field, FormatSeconds(t))
	}
}
