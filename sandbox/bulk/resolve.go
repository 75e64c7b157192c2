package bulk

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/recurhq/recur/chartmogul"
)

// Keys returns the external ids the batch defines or refers to.
func Keys(b *chartmogul.Batch) ImportKeys {
	var k ImportKeys
	sets := [9]map[string]struct{}{}
	for i := range sets {
		sets[i] = map[string]struct{}{}
	}
	add := func(i int, dst *[]string, id string) {
		if id == "" {
			return
		}
		if _, ok := sets[i][id]; ok {
			return
		}
		sets[i][id] = struct{}{}
		*dst = append(*dst, id)
	}
	for i := range b.Customers {
		add(0, &k.Customers, b.Customers[i].ExternalID)
	}
	for i := range b.Plans {
		add(1, &k.Plans, b.Plans[i].ExternalID)
	}
	for i := range b.Invoices {
		add(2, &k.Invoices, b.Invoices[i].ExternalID)
		add(0, &k.Customers, b.Invoices[i].CustomerExternalID)
	}
	for i := range b.LineItems {
		li := &b.LineItems[i]
		add(3, &k.LineItems, li.ExternalID)
		add(2, &k.Invoices, li.InvoiceExternalID)
		add(1, &k.Plans, li.PlanExternalID)
		add(7, &k.PlanUUIDs, li.PlanUUID)
	}
	for i := range b.Transactions {
		add(4, &k.Transactions, b.Transactions[i].ExternalID)
		add(2, &k.Invoices, b.Transactions[i].InvoiceExternalID)
	}
	for i := range b.Events {
		ev := &b.Events[i]
		add(5, &k.Events, ev.ExternalID)
		add(0, &k.Customers, ev.CustomerExternalID)
		add(1, &k.Plans, ev.PlanExternalID)
		add(6, &k.RetractedEventIDs, ev.RetractedEventID)
		if chartmogul.IsRetraction(ev.EventType) {
			// The retracted event may be named by external id, and a
			// retraction changed in place may keep the event it retracts.
			add(5, &k.Events, ev.RetractedEventID)
			if ev.RetractsEventID != 0 {
				add(6, &k.RetractedEventIDs, strconv.FormatInt(ev.RetractsEventID, 10))
			}
			if chartmogul.RetractedKind(ev.EventType) != "" {
				add(8, &k.RetractionSubscriptions, ev.SubscriptionExternalID)
			}
		}
	}
	return k
}

// Resolver returns Resolve bound to b, in the shape the store's ApplyImport
// and ApplyChanges take.
func Resolver(b *chartmogul.Batch) func(chartmogul.DataSource, *ExistingRecords) *ImportChanges {
	return func(ds chartmogul.DataSource, ex *ExistingRecords) *ImportChanges { return Resolve(b, ds, ex) }
}

// resolver carries the state of one Resolve call.
type resolver struct {
	b   *chartmogul.Batch
	ex  *ExistingRecords
	ch  *ImportChanges
	rep *chartmogul.ImportReport
	// customerReports indexes rep.Customers by external id.
	customerReports map[string]int
	touched         map[*chartmogul.Customer]bool
	ds              chartmogul.DataSource
}

// resolved is what an external id of the payload came to: the record it
// names (new or existing), or why there is none.
type resolved[T any] struct {
	rec    *T
	index  int    // index of the defining record in the payload, -1 for existing rows
	reason string // why the payload's record failed, when rec is nil
}

// Resolve decides what becomes of every record of the batch against the data
// source's existing rows, and returns the changes to write with the report.
// A record fails alone, with a message naming the field; a record that
// depends on a failed one (a line item of a rejected invoice) fails with a
// message naming the cause. Re-importing a record unchanged is a no-op;
// customers and plans that changed are updated in place; other records that
// changed are refused, since a bulk import never rewrites billing history.
func Resolve(b *chartmogul.Batch, ds chartmogul.DataSource, ex *ExistingRecords) *ImportChanges {
	rep := &chartmogul.ImportReport{Counts: map[chartmogul.RecordType]*chartmogul.TypeCounts{}}
	for _, t := range chartmogul.RecordTypes {
		rep.Counts[t] = &chartmogul.TypeCounts{}
	}
	r := &resolver{b: b, ex: ex, ch: &ImportChanges{Report: rep}, rep: rep,
		customerReports: map[string]int{}, touched: map[*chartmogul.Customer]bool{}, ds: ds}
	customers := r.customers()
	plans := r.plans()
	invoices := r.invoices(customers)
	subs := map[payloadSubscription]*chartmogul.Subscription{}
	r.lineItems(invoices, plans, subs)
	r.transactions(invoices)
	r.events(customers, plans)
	return r.ch
}

// count records the outcome of one record, under its customer when it has
// one, and files its problems.
func (r *resolver) count(t chartmogul.RecordType, index int, externalID, customer string, ok bool) {
	c := r.rep.Counts[t]
	c.Received++
	if ok {
		c.Imported++
	} else {
		c.Failed++
	}
	if t == chartmogul.RecordPlans {
		r.rep.Plans = *c
	} else if customer != "" {
		cr := r.customerReport(customer)
		tc := cr.Counts[t]
		if tc == nil {
			tc = &chartmogul.TypeCounts{}
			cr.Counts[t] = tc
		}
		tc.Received++
		if ok {
			tc.Imported++
		} else {
			tc.Failed++
		}
	}
	p := r.b.Problems(t, index)
	for _, e := range p.Errors {
		r.rep.Failures = append(r.rep.Failures, chartmogul.RecordProblem{Type: t, Index: index, ExternalID: externalID, Field: e.Field, Message: e.Message, Customer: customer})
	}
	for _, w := range p.Warnings {
		r.rep.Warnings = append(r.rep.Warnings, chartmogul.RecordProblem{Type: t, Index: index, ExternalID: externalID, Field: w.Field, Message: w.Message, Customer: customer})
	}
}

func (r *resolver) customerReport(externalID string) *chartmogul.CustomerReport {
	i, ok := r.customerReports[externalID]
	if !ok {
		i = len(r.rep.Customers)
		r.customerReports[externalID] = i
		r.rep.Customers = append(r.rep.Customers, chartmogul.CustomerReport{ExternalID: externalID, Counts: map[chartmogul.RecordType]*chartmogul.TypeCounts{}})
	}
	return &r.rep.Customers[i]
}

func (r *resolver) touch(c *chartmogul.Customer) {
	if c != nil && !r.touched[c] {
		r.touched[c] = true
		r.ch.Touched = append(r.ch.Touched, c)
	}
}

// firstError is the reason a failed record gives to the records that depend
// on it.
func firstError(p *chartmogul.Problems) string {
	if len(p.Errors) == 0 {
		return "it was not imported"
	}
	return p.Errors[0].Message
}

// duplicate fails a record whose external id an earlier record of the same
// payload already used.
func duplicate(p *chartmogul.Problems, t chartmogul.RecordType, id string, first int) {
	p.Fail("external_id", "external_id %s appears more than once in %s (first at index %d); each record must appear once per import", chartmogul.Quote(id), t, first)
}

func (r *resolver) customers() map[string]resolved[chartmogul.Customer] {
	out := make(map[string]resolved[chartmogul.Customer], len(r.b.Customers))
	for i := range r.b.Customers {
		c := &r.b.Customers[i]
		p := r.b.Problems(chartmogul.RecordCustomers, i)
		if prev, dup := out[c.ExternalID]; dup && c.ExternalID != "" {
			duplicate(p, chartmogul.RecordCustomers, c.ExternalID, prev.index)
		}
		if !p.OK() {
			if _, dup := out[c.ExternalID]; !dup && c.ExternalID != "" {
				out[c.ExternalID] = resolved[chartmogul.Customer]{index: i, reason: firstError(p)}
			}
			r.count(chartmogul.RecordCustomers, i, c.ExternalID, c.ExternalID, false)
			continue
		}
		c.DataSourceID, c.DataSourceUUID, c.AccountID = r.ds.ID, r.ds.UUID, r.ds.AccountID
		if _, ok := r.ex.Customers[c.ExternalID]; ok && r.b.Strict {
			p.Fail("external_id", "The external ID for this customer already exists in our system.")
			r.count(chartmogul.RecordCustomers, i, c.ExternalID, c.ExternalID, false)
			continue
		}
		if old, ok := r.ex.Customers[c.ExternalID]; ok {
			merged, changed := mergeCustomer(old, c)
			if len(changed) > 0 {
				r.ch.UpdatedCustomers = append(r.ch.UpdatedCustomers, merged)
				p.Warn(changed[0], "customer %s already existed in this data source and was updated: %s", chartmogul.Quote(c.ExternalID), strings.Join(changed, ", "))
				r.touch(merged)
				r.ex.Customers[c.ExternalID] = merged
				old = merged
			}
			out[c.ExternalID] = resolved[chartmogul.Customer]{rec: old, index: i}
		} else {
			c.UUID = chartmogul.NewID(chartmogul.PrefixCustomer)
			r.ch.NewCustomers = append(r.ch.NewCustomers, c)
			r.touch(c)
			out[c.ExternalID] = resolved[chartmogul.Customer]{rec: c, index: i}
		}
		r.count(chartmogul.RecordCustomers, i, c.ExternalID, c.ExternalID, true)
	}
	return out
}

// mergeCustomer applies the fields a record carried to a copy of an existing
// customer, and names the fields whose value changed.
func mergeCustomer(old, rec *chartmogul.Customer) (*chartmogul.Customer, []string) {
	m := *old
	var changed []string
	setStr := func(f chartmogul.CustomerFields, name string, dst *string, v string) {
		if rec.Given&f != 0 && *dst != v {
			*dst = v
			changed = append(changed, name)
		}
	}
	setTime := func(f chartmogul.CustomerFields, name string, dst **time.Time, v *time.Time) {
		if rec.Given&f != 0 && !sameTime(*dst, v) {
			*dst = v
			changed = append(changed, name)
		}
	}
	setStr(chartmogul.CustomerName, "name", &m.Name, rec.Name)
	setStr(chartmogul.CustomerEmail, "email", &m.Email, rec.Email)
	setStr(chartmogul.CustomerCompany, "company", &m.Company, rec.Company)
	setStr(chartmogul.CustomerCountry, "country", &m.Country, rec.Country)
	setStr(chartmogul.CustomerState, "state", &m.State, rec.State)
	setStr(chartmogul.CustomerCity, "city", &m.City, rec.City)
	setStr(chartmogul.CustomerZip, "zip", &m.Zip, rec.Zip)
	setStr(chartmogul.CustomerWebsiteURL, "website_url", &m.WebsiteURL, rec.WebsiteURL)
	setTime(chartmogul.CustomerLeadCreatedAt, "lead_created_at", &m.LeadCreatedAt, rec.LeadCreatedAt)
	setTime(chartmogul.CustomerFreeTrialStartedAt, "free_trial_started_at", &m.FreeTrialStartedAt, rec.FreeTrialStartedAt)
	return &m, changed
}

func (r *resolver) plans() map[string]resolved[chartmogul.Plan] {
	out := make(map[string]resolved[chartmogul.Plan], len(r.b.Plans))
	for i := range r.b.Plans {
		pl := &r.b.Plans[i]
		p := r.b.Problems(chartmogul.RecordPlans, i)
		if prev, dup := out[pl.ExternalID]; dup && pl.ExternalID != "" {
			duplicate(p, chartmogul.RecordPlans, pl.ExternalID, prev.index)
		}
		if !p.OK() {
			if _, dup := out[pl.ExternalID]; !dup && pl.ExternalID != "" {
				out[pl.ExternalID] = resolved[chartmogul.Plan]{index: i, reason: firstError(p)}
			}
			r.count(chartmogul.RecordPlans, i, pl.ExternalID, "", false)
			continue
		}
		pl.DataSourceID, pl.DataSourceUUID, pl.AccountID = r.ds.ID, r.ds.UUID, r.ds.AccountID
		if _, ok := r.ex.Plans[pl.ExternalID]; ok && pl.ExternalID != "" && r.b.Strict {
			p.Fail("external_id", "A plan with this identifier already exists in our system.")
			r.count(chartmogul.RecordPlans, i, pl.ExternalID, "", false)
			continue
		}
		if old, ok := r.ex.Plans[pl.ExternalID]; ok && pl.ExternalID != "" {
			var changed []string
			if old.Name != pl.Name {
				changed = append(changed, "name")
			}
			if old.IntervalCount != pl.IntervalCount {
				changed = append(changed, "interval_count")
			}
			if old.IntervalUnit != pl.IntervalUnit {
				changed = append(changed, "interval_unit")
			}
			if len(changed) > 0 {
				m := *old
				m.Name, m.IntervalCount, m.IntervalUnit = pl.Name, pl.IntervalCount, pl.IntervalUnit
				r.ch.UpdatedPlans = append(r.ch.UpdatedPlans, &m)
				p.Warn(changed[0], "plan %s already existed in this data source and was updated: %s", chartmogul.Quote(pl.ExternalID), strings.Join(changed, ", "))
				old = &m
				r.ex.Plans[pl.ExternalID] = &m
			}
			out[pl.ExternalID] = resolved[chartmogul.Plan]{rec: old, index: i}
		} else {
			pl.UUID = chartmogul.NewID(chartmogul.PrefixPlan)
			if pl.ExternalID == "" {
				// ChartMogul gives a plan without external id the bare UUID.
				pl.ExternalID = strings.TrimPrefix(pl.UUID, chartmogul.PrefixPlan)
			}
			r.ch.NewPlans = append(r.ch.NewPlans, pl)
			out[pl.ExternalID] = resolved[chartmogul.Plan]{rec: pl, index: i}
		}
		r.count(chartmogul.RecordPlans, i, pl.ExternalID, "", true)
	}
	return out
}

// customerOf resolves a customer external id: the payload's record if it was
// imported, else an existing customer, else the reason there is none.
func (r *resolver) customerOf(customers map[string]resolved[chartmogul.Customer], id string) (*chartmogul.Customer, string) {
	// The payload's own record decides: when it failed, the records that
	// travel with it fail too, rather than attach to the stored customer
	// the payload meant to change.
	if c, ok := customers[id]; ok {
		if c.rec != nil {
			return c.rec, ""
		}
		return nil, fmt.Sprintf("customer %s was not imported: %s", chartmogul.Quote(id), c.reason)
	}
	if c, ok := r.ex.Customers[id]; ok {
		return c, ""
	}
	return nil, fmt.Sprintf("customer_external_id %s names no customer in this import or in data source %s", chartmogul.Quote(id), r.ds.UUID)
}

func (r *resolver) planOf(plans map[string]resolved[chartmogul.Plan], field, id string) (*chartmogul.Plan, string) {
	if pl, ok := plans[id]; ok && pl.rec != nil {
		return pl.rec, ""
	}
	if pl, ok := r.ex.Plans[id]; ok {
		return pl, ""
	}
	if pl, ok := plans[id]; ok {
		return nil, fmt.Sprintf("plan %s was not imported: %s", chartmogul.Quote(id), pl.reason)
	}
	return nil, fmt.Sprintf("%s %s names no plan in this import or in data source %s", field, chartmogul.Quote(id), r.ds.UUID)
}

// invoiceRef is a resolved invoice: the row and its customer.
type invoiceRef struct {
	invoice  *chartmogul.Invoice
	customer *chartmogul.Customer
	existing bool
}

func (r *resolver) invoices(customers map[string]resolved[chartmogul.Customer]) map[string]resolved[invoiceRef] {
	out := make(map[string]resolved[invoiceRef], len(r.b.Invoices))
	for i := range r.b.Invoices {
		inv := &r.b.Invoices[i]
		p := r.b.Problems(chartmogul.RecordInvoices, i)
		if prev, dup := out[inv.ExternalID]; dup && inv.ExternalID != "" {
			duplicate(p, chartmogul.RecordInvoices, inv.ExternalID, prev.index)
		}
		var cus *chartmogul.Customer
		if p.OK() {
			var why string
			if cus, why = r.customerOf(customers, inv.CustomerExternalID); cus == nil {
				p.Fail("customer_external_id", "%s", why)
			}
		}
		if p.OK() {
			inv.DataSourceID, inv.DataSourceUUID, inv.AccountID = r.ds.ID, r.ds.UUID, r.ds.AccountID
			if _, ok := r.ex.Invoices[inv.ExternalID]; ok && r.b.Strict {
				p.Fail("external_id", "The external ID for this invoice already exists in our system.")
			} else if old, ok := r.ex.Invoices[inv.ExternalID]; ok {
				if field, was := invoiceDiff(old, inv, cus); field != "" {
					p.Fail(field, "an invoice with external_id %s already exists in this data source with a different %s (%s); a bulk import does not change invoices: delete the invoice first, or change it with PATCH /v1/invoices/%s",
						chartmogul.Quote(inv.ExternalID), field, was, old.UUID)
				} else {
					out[inv.ExternalID] = resolved[invoiceRef]{rec: &invoiceRef{invoice: old, customer: cus, existing: true}, index: i}
				}
			} else {
				inv.UUID = chartmogul.NewID(chartmogul.PrefixInvoice)
				inv.CustomerID, inv.CustomerUUID = cus.ID, cus.UUID
				r.ch.NewInvoices = append(r.ch.NewInvoices, InvoiceLink{Invoice: inv, Customer: cus})
				r.touch(cus)
				out[inv.ExternalID] = resolved[invoiceRef]{rec: &invoiceRef{invoice: inv, customer: cus}, index: i}
			}
		}
		if !p.OK() {
			if _, dup := out[inv.ExternalID]; !dup && inv.ExternalID != "" {
				out[inv.ExternalID] = resolved[invoiceRef]{index: i, reason: firstError(p)}
			}
		}
		r.count(chartmogul.RecordInvoices, i, inv.ExternalID, inv.CustomerExternalID, p.OK())
	}
	return out
}

// invoiceDiff names the first field in which a re-imported invoice differs
// from the stored one, with the stored value.
func invoiceDiff(old, inv *chartmogul.Invoice, cus *chartmogul.Customer) (field, was string) {
	switch {
	case old.CustomerID != cus.ID:
		return "customer_external_id", chartmogul.Quote(old.CustomerExternalID)
	case !old.Date.Equal(inv.Date):
		return "date", chartmogul.FormatSeconds(old.Date)
	case old.Currency != inv.Currency:
		return "currency", old.Currency
	case !sameTime(old.DueDate, inv.DueDate):
		return "due_date", formatOptional(old.DueDate)
	case old.CollectionMethod != inv.CollectionMethod:
		return "collection_method", chartmogul.Quote(old.CollectionMethod)
	}
	return "", ""
}

func (r *resolver) invoiceOf(invoices map[string]resolved[invoiceRef], id string) (*invoiceRef, string) {
	if ref, ok := invoices[id]; ok {
		if ref.rec != nil {
			return ref.rec, ""
		}
		return nil, fmt.Sprintf("invoice %s was not imported: %s", chartmogul.Quote(id), ref.reason)
	}
	if inv, ok := r.ex.Invoices[id]; ok {
		return &invoiceRef{invoice: inv, customer: r.customerByID(inv), existing: true}, ""
	}
	return nil, fmt.Sprintf("invoice_external_id %s names no invoice in this import or in data source %s", chartmogul.Quote(id), r.ds.UUID)
}

// customerOfInvoice is the customer external id a record that names invoice
// id is reported under: the invoice's customer, also when the invoice itself
// failed.
func (r *resolver) customerOfInvoice(invoices map[string]resolved[invoiceRef], ref *invoiceRef, id string) string {
	if ref != nil {
		return ref.customer.ExternalID
	}
	if res, ok := invoices[id]; ok {
		return r.b.Invoices[res.index].CustomerExternalID
	}
	return ""
}

// customerByID finds the loaded customer of an existing invoice that the
// payload did not import again.
func (r *resolver) customerByID(inv *chartmogul.Invoice) *chartmogul.Customer {
	if c, ok := r.ex.Customers[inv.CustomerExternalID]; ok {
		return c
	}
	// One record per customer: subscriptions and touched customers are
	// keyed by the record.
	if r.ex.Customers == nil {
		r.ex.Customers = map[string]*chartmogul.Customer{}
	}
	c := &chartmogul.Customer{ID: inv.CustomerID, UUID: inv.CustomerUUID, ExternalID: inv.CustomerExternalID}
	r.ex.Customers[inv.CustomerExternalID] = c
	return c
}

// invoiceChild does what line items and transactions share: it fails a
// record whose external id an earlier one of the payload used, resolves its
// invoice (failing it, naming why, when there is none), and returns the
// invoice and the customer the record counts under. A single-object request
// names every stored external id it repeats (stored), also on the records of
// an invoice that failed (a re-sent invoice), with dupMessage, as ChartMogul
// does and the Go client's IsInvoiceAndItsEntitiesAlreadyExist expects.
func (r *resolver) invoiceChild(invoices map[string]resolved[invoiceRef], seen map[string]int, p *chartmogul.Problems, t chartmogul.RecordType, i int,
	externalID, invoiceExternalID string, stored bool, dupMessage string) (*invoiceRef, string) {
	if first, dup := seen[externalID]; dup && externalID != "" {
		duplicate(p, t, externalID, first)
	} else if externalID != "" {
		seen[externalID] = i
	}
	if invoiceExternalID == "" {
		return nil, ""
	}
	ref, why := r.invoiceOf(invoices, invoiceExternalID)
	if ref == nil && !p.Has("invoice_external_id") {
		p.Fail("invoice_external_id", "%s", why)
	}
	if stored && ref == nil && r.b.Strict && externalID != "" && !p.Has("external_id") {
		p.Fail("external_id", "%s", dupMessage)
	}
	return ref, r.customerOfInvoice(invoices, ref, invoiceExternalID)
}

func (r *resolver) lineItems(invoices map[string]resolved[invoiceRef], plans map[string]resolved[chartmogul.Plan], subs map[payloadSubscription]*chartmogul.Subscription) {
	seen := map[string]int{}
	for i := range r.b.LineItems {
		li := &r.b.LineItems[i]
		p := r.b.Problems(chartmogul.RecordLineItems, i)
		_, stored := r.ex.LineItems[li.ExternalID]
		ref, customer := r.invoiceChild(invoices, seen, p, chartmogul.RecordLineItems, i, li.ExternalID, li.InvoiceExternalID, stored,
			"The external ID for this line item already exists in our system.")
		var plan *chartmogul.Plan
		if li.PlanUUID != "" && li.PlanExternalID == "" && !p.Has("plan_uuid") {
			if plan = r.ex.PlansByUUID[li.PlanUUID]; plan == nil {
				p.Fail("plan_uuid", "plan_uuid %s names no plan of data source %s", chartmogul.Quote(li.PlanUUID), r.ds.UUID)
			}
		} else if li.PlanExternalID != "" && !p.Has("plan_external_id") {
			var why string
			if plan, why = r.planOf(plans, "plan_external_id", li.PlanExternalID); plan == nil {
				if li.IsRecurring() {
					p.Fail("plan_external_id", "%s", why)
				} else {
					p.Warn("plan_external_id", "%s; the one-time line item was imported without a plan", why)
				}
			}
		}
		if p.OK() {
			r.lineItem(li, p, ref, plan, subs)
		}
		r.count(chartmogul.RecordLineItems, i, li.ExternalID, customer, p.OK())
	}
}

func (r *resolver) lineItem(li *chartmogul.LineItem, p *chartmogul.Problems, ref *invoiceRef, plan *chartmogul.Plan, subs map[payloadSubscription]*chartmogul.Subscription) {
	li.InvoiceID = ref.invoice.ID
	if plan != nil {
		li.PlanID, li.PlanUUID = plan.ID, plan.UUID
	}
	if _, ok := r.ex.LineItems[li.ExternalID]; ok && li.ExternalID != "" && r.b.Strict {
		p.Fail("external_id", "The external ID for this line item already exists in our system.")
		return
	}
	if ref.existing && !r.b.Strict {
		if old := r.storedLineItem(li, ref.invoice); old != nil {
			if field := lineItemDiff(old, li); field != "" {
				p.Fail(field, "a line item with external_id %s already exists in this data source with a different %s; a bulk import does not change line items: delete it first, or change it with PATCH /v1/line_items/%s",
					chartmogul.Quote(li.ExternalID), field, old.UUID)
			}
			return
		}
	} else if _, ok := r.ex.LineItems[li.ExternalID]; ok && li.ExternalID != "" {
		p.Fail("external_id", "a line item with external_id %s already exists in this data source, on another invoice", chartmogul.Quote(li.ExternalID))
		return
	}
	// Only a line item that is written makes its subscription.
	var sub *chartmogul.Subscription
	if li.IsRecurring() {
		sub = r.subscription(ref.customer, li, plan, subs)
		li.SubscriptionID, li.SubscriptionUUID = sub.ID, sub.UUID
	}
	li.UUID = chartmogul.NewID(chartmogul.PrefixLineItem)
	r.ch.NewLineItems = append(r.ch.NewLineItems, LineItemLink{LineItem: li, Invoice: ref.invoice, Plan: plan, Subscription: sub})
	r.touch(ref.customer)
}

// payloadSubscription identifies a subscription within one payload: its
// customer record (new customers have no id yet) and its external id.
type payloadSubscription struct {
	customer   *chartmogul.Customer
	externalID string
}

// subscription returns the subscription a recurring line item belongs to:
// one the payload already named, an existing one, or a new one.
func (r *resolver) subscription(cus *chartmogul.Customer, li *chartmogul.LineItem, plan *chartmogul.Plan, subs map[payloadSubscription]*chartmogul.Subscription) *chartmogul.Subscription {
	key := payloadSubscription{customer: cus, externalID: li.SubscriptionExternalID}
	if s, ok := subs[key]; ok {
		return s
	}
	if cus.ID != 0 {
		if s, ok := r.ex.Subscriptions[SubscriptionKey{CustomerID: cus.ID, ExternalID: li.SubscriptionExternalID}]; ok {
			subs[key] = s
			return s
		}
	}
	s := &chartmogul.Subscription{UUID: chartmogul.NewID(chartmogul.PrefixSubscription), AccountID: r.ds.AccountID, DataSourceID: r.ds.ID,
		CustomerID: cus.ID, ExternalID: li.SubscriptionExternalID, SetExternalID: li.SubscriptionSetExternalID, PlanID: li.PlanID}
	subs[key] = s
	r.ch.NewSubscriptions = append(r.ch.NewSubscriptions, SubscriptionLink{Subscription: s, Customer: cus, Plan: plan})
	return s
}

// storedLineItem finds the stored twin of a line item re-imported onto an
// existing invoice: by external id when it has one, by content when not.
func (r *resolver) storedLineItem(li *chartmogul.LineItem, inv *chartmogul.Invoice) *chartmogul.LineItem {
	if li.ExternalID != "" {
		if old, ok := r.ex.LineItems[li.ExternalID]; ok {
			return old
		}
		return nil
	}
	for k := range inv.LineItems {
		old := &inv.LineItems[k]
		if old.ExternalID == "" && lineItemDiff(old, li) == "" {
			return old
		}
	}
	return nil
}

// lineItemDiff names the first field in which two line items differ.
func lineItemDiff(a, b *chartmogul.LineItem) string {
	switch {
	case a.InvoiceID != b.InvoiceID:
		return "invoice_external_id"
	case a.Type != b.Type:
		return "type"
	case a.AmountInCents != b.AmountInCents:
		return "amount_in_cents"
	case a.Quantity != b.Quantity:
		return "quantity"
	case a.SubscriptionExternalID != b.SubscriptionExternalID:
		return "subscription_external_id"
	case a.SubscriptionSetExternalID != b.SubscriptionSetExternalID && b.SubscriptionSetExternalID != "":
		return "subscription_set_external_id"
	case a.PlanID != b.PlanID:
		return "plan_external_id"
	case !sameTime(a.ServicePeriodStart, b.ServicePeriodStart):
		return "service_period_start"
	case !sameTime(a.ServicePeriodEnd, b.ServicePeriodEnd):
		return "service_period_end"
	case !sameTime(a.CancelledAt, b.CancelledAt):
		return "cancelled_at"
	case a.Prorated != b.Prorated:
		return "prorated"
	case a.ProrationType != b.ProrationType:
		return "proration_type"
	case a.DiscountAmountInCents != b.DiscountAmountInCents:
		return "discount_amount_in_cents"
	case a.DiscountCode != b.DiscountCode:
		return "discount_code"
	case a.TaxAmountInCents != b.TaxAmountInCents:
		return "tax_amount_in_cents"
	case a.TransactionFeesInCents != b.TransactionFeesInCents:
		return "transaction_fees_in_cents"
	case a.TransactionFeesCurrency != b.TransactionFeesCurrency:
		return "transaction_fees_currency"
	case a.Description != b.Description:
		return "description"
	case a.DiscountDescription != b.DiscountDescription:
		return "discount_description"
	case a.BalanceTransfer != b.BalanceTransfer:
		return "balance_transfer"
	case a.AccountCode != b.AccountCode:
		return "account_code"
	case !sameInt(a.EventOrder, b.EventOrder):
		return "event_order"
	}
	return ""
}

func (r *resolver) transactions(invoices map[string]resolved[invoiceRef]) {
	seen := map[string]int{}
	for i := range r.b.Transactions {
		tr := &r.b.Transactions[i]
		p := r.b.Problems(chartmogul.RecordTransactions, i)
		_, stored := r.ex.Transactions[tr.ExternalID]
		ref, customer := r.invoiceChild(invoices, seen, p, chartmogul.RecordTransactions, i, tr.ExternalID, tr.InvoiceExternalID, stored, "has already been taken")
		if p.OK() {
			r.transaction(tr, p, ref)
		}
		r.count(chartmogul.RecordTransactions, i, tr.ExternalID, customer, p.OK())
	}
}

func (r *resolver) transaction(tr *chartmogul.Transaction, p *chartmogul.Problems, ref *invoiceRef) {
	tr.InvoiceID = ref.invoice.ID
	if tr.Date.Before(ref.invoice.Date) {
		p.Warn("date", "date %s is before the date of invoice %s (%s); the transaction was imported as it is",
			chartmogul.FormatSeconds(tr.Date), chartmogul.Quote(ref.invoice.ExternalID), chartmogul.FormatSeconds(ref.invoice.Date))
	}
	if _, ok := r.ex.Transactions[tr.ExternalID]; ok && tr.ExternalID != "" && r.b.Strict {
		p.Fail("external_id", "has already been taken")
		return
	}
	if ref.existing && !r.b.Strict {
		var old *chartmogul.Transaction
		if tr.ExternalID != "" {
			old = r.ex.Transactions[tr.ExternalID]
		} else {
			for k := range ref.invoice.Transactions {
				if t := &ref.invoice.Transactions[k]; t.ExternalID == "" && transactionDiff(t, tr) == "" {
					old = t
					break
				}
			}
		}
		if old != nil {
			if field := transactionDiff(old, tr); field != "" {
				p.Fail(field, "a transaction with external_id %s already exists in this data source with a different %s; a bulk import does not change transactions: delete it first, or change it with PATCH /v1/transactions/%s",
					chartmogul.Quote(tr.ExternalID), field, old.UUID)
			}
			return
		}
	} else if _, ok := r.ex.Transactions[tr.ExternalID]; ok && tr.ExternalID != "" {
		p.Fail("external_id", "a transaction with external_id %s already exists in this data source, on another invoice", chartmogul.Quote(tr.ExternalID))
		return
	}
	tr.UUID = chartmogul.NewID(chartmogul.PrefixTransaction)
	r.ch.NewTransactions = append(r.ch.NewTransactions, TransactionLink{Transaction: tr, Invoice: ref.invoice})
	r.touch(ref.customer)
}

func transactionDiff(a, b *chartmogul.Transaction) string {
	switch {
	case a.InvoiceID != b.InvoiceID:
		return "invoice_external_id"
	case a.Type != b.Type:
		return "type"
	case a.Result != b.Result:
		return "result"
	case !a.Date.Equal(b.Date):
		return "date"
	case !sameInt(a.AmountInCents, b.AmountInCents):
		return "amount_in_cents"
	case !sameInt(a.TransactionFeesInCents, b.TransactionFeesInCents):
		return "transaction_fees_in_cents"
	case a.TransactionFeesCurrency != b.TransactionFeesCurrency:
		return "transaction_fees_currency"
	}
	return ""
}

func (r *resolver) events(customers map[string]resolved[chartmogul.Customer], plans map[string]resolved[chartmogul.Plan]) {
	seen := map[string]int{}
	retract := newRetractions(r)
	for i := range r.b.Events {
		ev := &r.b.Events[i]
		p := r.b.Problems(chartmogul.RecordSubscriptionEvents, i)
		if first, dup := seen[ev.ExternalID]; dup && ev.ExternalID != "" {
			duplicate(p, chartmogul.RecordSubscriptionEvents, ev.ExternalID, first)
		} else if ev.ExternalID != "" {
			seen[ev.ExternalID] = i
		}
		var cus *chartmogul.Customer
		if ev.CustomerExternalID != "" && !p.Has("customer_external_id") {
			var why string
			if cus, why = r.customerOf(customers, ev.CustomerExternalID); cus == nil {
				p.Fail("customer_external_id", "%s", why)
			}
		}
		if ev.PlanExternalID != "" && !p.Has("plan_external_id") {
			if pl, why := r.planOf(plans, "plan_external_id", ev.PlanExternalID); pl == nil {
				p.Fail("plan_external_id", "%s", why)
			}
		}
		if p.OK() {
			ev.DataSourceID, ev.DataSourceUUID, ev.AccountID = r.ds.ID, r.ds.UUID, r.ds.AccountID
			before := ev.CustomerID
			ev.CustomerID = cus.ID
			old, exists := r.ex.Events[ev.ExternalID]
			exists = exists && ev.ExternalID != ""
			switch {
			case ev.ID != 0:
				// A stored event changed in place (AddEvent): its external
				// id must stay its own.
				if exists && old.ID != ev.ID {
					p.Fail("external_id", "has already been taken")
				} else if target := retract.target(ev, p); p.OK() {
					r.ch.UpdatedEvents = append(r.ch.UpdatedEvents, EventLink{Event: ev, Customer: cus, Retracts: target})
					r.touch(cus)
					if before != 0 && before != cus.ID {
						r.touch(&chartmogul.Customer{ID: before})
					}
				}
			case exists && r.b.Strict:
				p.Fail("external_id", "has already been taken")
			case exists:
				if field := eventDiff(old, ev); field != "" {
					p.Fail(field, "a subscription event with external_id %s already exists in this data source with a different %s; a bulk import does not change events: change it with PATCH /v1/subscription_events",
						chartmogul.Quote(ev.ExternalID), field)
				}
			default:
				if target := retract.target(ev, p); p.OK() {
					r.ch.NewEvents = append(r.ch.NewEvents, EventLink{Event: ev, Customer: cus, Retracts: target})
					retract.written(ev)
					r.touch(cus)
				}
			}
		}
		r.count(chartmogul.RecordSubscriptionEvents, i, ev.ExternalID, ev.CustomerExternalID, p.OK())
	}
}

func eventDiff(a, b *chartmogul.SubscriptionEvent) string {
	switch {
	case a.CustomerExternalID != b.CustomerExternalID:
		return "customer_external_id"
	case a.EventType != b.EventType:
		return "event_type"
	case !a.EventDate.Equal(b.EventDate):
		return "event_date"
	case !a.EffectiveDate.Equal(b.EffectiveDate):
		return "effective_date"
	case a.SubscriptionExternalID != b.SubscriptionExternalID:
		return "subscription_external_id"
	case a.SubscriptionSetExternalID != b.SubscriptionSetExternalID:
		return "subscription_set_external_id"
	case a.PlanExternalID != b.PlanExternalID:
		return "plan_external_id"
	case a.Currency != b.Currency:
		return "currency"
	case !sameInt(a.AmountInCents, b.AmountInCents):
		return "amount_in_cents"
	case !sameInt(a.Quantity, b.Quantity):
		return "quantity"
	case !sameInt(a.TaxAmountInCents, b.TaxAmountInCents):
		return "tax_amount_in_cents"
	case a.RetractedEventID != b.RetractedEventID:
		return "retracted_event_id"
	case !sameInt(a.EventOrder, b.EventOrder):
		return "event_order"
	}
	return ""
}

func sameInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func formatOptional(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return chartmogul.FormatSeconds(*t)
}
