package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/workflows"
)

// requestOverhead is room left in every request for what is not a record:
// braces, the arrays' names, the import's external id.
const requestOverhead = 1 << 10

// buildRecord is one extracted record on its way to a part.
type buildRecord struct {
	t    chartmogul.RecordType
	raw  jsontext.Value
	key  string
	hash string
	// invoice is the invoice external id of a line item or transaction.
	invoice string
	// fail is why the record is kept back, when it is.
	fail *workflows.RecordFailure
	send bool
}

// BuildPayload turns a customer's extracted rows into the parts to send.
// Every record is validated with the same rules the local ChartMogul
// applies (package chartmogul); a record that breaks one is reported
// (customer, type, external id, field, message) and not sent, nor are the
// records that depend on it. What the ledger says ChartMogul already holds
// unchanged is left out; a changed customer or plan is sent as an update; a
// changed invoice, line item, transaction or event is reported as a
// conflict, never re-sent. The rest is packed into parts of at most
// PartBytes, a customer's record first, each invoice with its line items
// and transactions.
func (a *Activities) BuildPayload(ctx context.Context, in workflows.BuildInput) (workflows.BuildResult, error) {
	var res workflows.BuildResult
	ds := in.Settings.DataSource
	body, err := a.State.loadExtract(ctx, in.ExtractID)
	if err != nil {
		return res, err
	}
	var extract map[chartmogul.RecordType][]jsontext.Value
	if err := json.Unmarshal(body, &extract); err != nil {
		return res, fmt.Errorf("the extract of %s in the state database is not JSON: %w", partLabel(in.Customer), err)
	}
	batch, err := chartmogul.Decode(body, a.now())
	if err != nil {
		return res, fmt.Errorf("the extract of %s cannot be decoded as a bulk payload: %w", partLabel(in.Customer), err)
	}
	ledger, err := a.State.ledger(ctx, ds, in.Customer)
	if err != nil {
		return res, err
	}

	recs := classify(in.Customer, extract, batch, &res)
	var conflicts []workflows.Conflict
	var resolved []ledgerEntry
	var failures []workflows.RecordFailure
	for _, r := range recs {
		if r.fail != nil {
			res.Failed.Inc(string(r.t), 1)
			failures = append(failures, *r.fail)
			res.FailedRecords = appendListed(res.FailedRecords, &res.FailedMore, *r.fail)
			continue
		}
		old, held := ledger[string(r.t)+"\x00"+r.key]
		switch {
		case !held:
			r.send = true
		case old.Hash == r.hash:
			res.Unchanged.Inc(string(r.t), 1)
			resolved = append(resolved, ledgerEntry{Type: string(r.t), Key: r.key})
		case r.t == chartmogul.RecordCustomers || r.t == chartmogul.RecordPlans:
			r.send = true // ChartMogul updates customers and plans in place
		default:
			c := workflows.Conflict{Customer: in.Customer, Type: string(r.t), ExternalID: r.key, Fields: changedFields(old.Content, r.raw)}
			conflicts = append(conflicts, c)
			res.Conflicts.Inc(string(r.t), 1)
			if len(res.ConflictList) < workflows.MaxListed {
				res.ConflictList = append(res.ConflictList, c)
			}
		}
	}

	// An invoice is imported once, complete: a new invoice one of whose
	// line items or transactions was refused waits, with its other records,
	// until the source is fixed.
	for _, r := range holdIncompleteInvoices(in.Customer, recs) {
		res.Failed.Inc(string(r.t), 1)
		failures = append(failures, *r.fail)
		res.FailedRecords = appendListed(res.FailedRecords, &res.FailedMore, *r.fail)
	}

	parts, tooLarge := pack(recs, in.Settings.PartBytes)
	for _, r := range tooLarge {
		r.fail.Customer = in.Customer
		res.Failed.Inc(string(r.t), 1)
		failures = append(failures, *r.fail)
		res.FailedRecords = appendListed(res.FailedRecords, &res.FailedMore, *r.fail)
	}
	for _, p := range parts {
		var counts workflows.TypeCounts
		for t, n := range p.counts {
			counts.Inc(string(t), n)
		}
		res.ToSend.Add(counts)
	}
	if in.DryRun {
		// Nothing is stored: a dry run changes nothing but the claim check
		// it reads, which Finish removes.
		return res, nil
	}
	a.Metrics.conflict(len(conflicts))
	rows := make([]partRow, len(parts))
	for i, p := range parts {
		rows[i] = p.row(i + 1)
	}
	ids, err := a.State.saveBuild(ctx, ds, in.Customer, in.Workflow, failures, conflicts, resolved, rows)
	if err != nil {
		return res, err
	}
	for i, p := range parts {
		var counts workflows.TypeCounts
		for t, n := range p.counts {
			counts.Inc(string(t), n)
		}
		res.Parts = append(res.Parts, workflows.PartRef{ID: ids[i], Seq: i + 1, Bytes: rows[i].Bytes, Records: counts})
	}
	return res, nil
}

// classify pairs every extracted record with its problems, its ledger key
// and its hash, and keeps back records that break a rule and those that
// depend on one that does.
func classify(customer string, extract map[chartmogul.RecordType][]jsontext.Value, b *chartmogul.Batch, res *workflows.BuildResult) []*buildRecord {
	var out []*buildRecord
	refused := map[string]string{} // invoice external id → why it was refused
	customerRefused := ""
	unnamed := map[string]int{} // records without an external id, per owner
	for _, t := range chartmogul.RecordTypes {
		for i, raw := range extract[t] {
			r := &buildRecord{t: t, raw: raw, hash: contentHash(raw)}
			externalID, owner := recordIDs(b, t, i)
			r.key = externalID
			if t == chartmogul.RecordLineItems || t == chartmogul.RecordTransactions {
				r.invoice = owner
			}
			if r.key == "" && t != chartmogul.RecordCustomers && t != chartmogul.RecordPlans && t != chartmogul.RecordInvoices {
				// ChartMogul does not require these to have an external id;
				// the ledger knows them by their place under their owner.
				n := unnamed[string(t)+"\x00"+owner]
				unnamed[string(t)+"\x00"+owner] = n + 1
				r.key = "~" + owner + "#" + strconv.Itoa(n)
			}
			p := b.Problems(t, i)
			for _, w := range p.Warnings {
				if len(res.Warnings) < workflows.MaxListed {
					res.Warnings = append(res.Warnings, workflows.RecordFailure{Customer: customer, Type: string(t), ExternalID: externalID, Field: w.Field, Message: w.Message})
				}
			}
			switch {
			case len(p.Errors) > 0:
				e := p.Errors[0]
				r.fail = &workflows.RecordFailure{Customer: customer, Type: string(t), ExternalID: externalID, Field: e.Field, Message: e.Message}
				switch t {
				case chartmogul.RecordCustomers:
					customerRefused = e.Field + ": " + e.Message
				case chartmogul.RecordInvoices:
					refused[externalID] = e.Field + ": " + e.Message
				}
			case customerRefused != "" && t != chartmogul.RecordPlans:
				r.fail = &workflows.RecordFailure{Customer: customer, Type: string(t), ExternalID: externalID, Field: "customer_external_id",
					Message: fmt.Sprintf("not sent: its customer %q was refused (%s)", customer, customerRefused)}
			case r.invoice != "" && refused[r.invoice] != "":
				r.fail = &workflows.RecordFailure{Customer: customer, Type: string(t), ExternalID: externalID, Field: "invoice_external_id",
					Message: fmt.Sprintf("not sent: its invoice %q was refused (%s)", r.invoice, refused[r.invoice])}
			}
			out = append(out, r)
		}
	}
	return out
}

// holdIncompleteInvoices keeps back a new invoice (one to send) whose line
// item or transaction was refused, and the invoice's other records to send,
// and returns them.
func holdIncompleteInvoices(customer string, recs []*buildRecord) []*buildRecord {
	refusedChild := map[string]*buildRecord{}
	sending := map[string]bool{}
	for _, r := range recs {
		switch {
		case r.t == chartmogul.RecordInvoices && r.send:
			sending[r.key] = true
		case (r.t == chartmogul.RecordLineItems || r.t == chartmogul.RecordTransactions) && r.fail != nil && r.fail.Field != "invoice_external_id":
			if refusedChild[r.invoice] == nil {
				refusedChild[r.invoice] = r
			}
		}
	}
	var held []*buildRecord
	for _, r := range recs {
		inv := r.invoice
		if r.t == chartmogul.RecordInvoices {
			inv = r.key
		}
		child := refusedChild[inv]
		if !r.send || child == nil || !sending[inv] {
			continue
		}
		r.send = false
		r.fail = &workflows.RecordFailure{Customer: customer, Type: string(r.t), ExternalID: r.key, Field: "invoice_external_id",
			Message: fmt.Sprintf("not sent: invoice %q is imported once, complete, and its %s %q was refused (%s: %s)",
				inv, strings.TrimSuffix(string(child.t), "s"), child.key, child.fail.Field, child.fail.Message)}
		held = append(held, r)
	}
	return held
}

// recordIDs returns a decoded record's external id and the id of what owns
// it: the invoice of a line item or transaction, the customer of an
// invoice or event.
func recordIDs(b *chartmogul.Batch, t chartmogul.RecordType, i int) (externalID, owner string) {
	switch t {
	case chartmogul.RecordCustomers:
		return b.Customers[i].ExternalID, ""
	case chartmogul.RecordPlans:
		return b.Plans[i].ExternalID, ""
	case chartmogul.RecordInvoices:
		return b.Invoices[i].ExternalID, b.Invoices[i].CustomerExternalID
	case chartmogul.RecordLineItems:
		return b.LineItems[i].ExternalID, b.LineItems[i].InvoiceExternalID
	case chartmogul.RecordTransactions:
		return b.Transactions[i].ExternalID, b.Transactions[i].InvoiceExternalID
	case chartmogul.RecordSubscriptionEvents:
		return b.Events[i].ExternalID, b.Events[i].CustomerExternalID
	}
	return "", ""
}

// contentHash is the hash of a record's content as sent.
func contentHash(raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:16])
}

// changedFields names the members that differ between two JSON objects.
func changedFields(before, after []byte) []string {
	var a, b map[string]jsontext.Value
	_ = json.Unmarshal(before, &a)
	_ = json.Unmarshal(after, &b)
	var out []string
	for k, v := range b {
		if w, ok := a[k]; !ok || !bytes.Equal(compact(v), compact(w)) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// compact returns v without insignificant white space (PostgreSQL's jsonb
// spaces its output).
func compact(v jsontext.Value) []byte {
	c := v.Clone()
	if err := c.Compact(); err != nil {
		return v
	}
	return c
}

// builtPart is one part being packed.
type builtPart struct {
	arrays  map[chartmogul.RecordType][][]byte
	entries map[chartmogul.RecordType][]ledgerEntry
	counts  map[chartmogul.RecordType]int
	size    int
}

// pack groups the records to send (a customer first, then each invoice
// with its line items and transactions, then events, plans alone) and packs
// the groups in order into parts of at most limit bytes. A group larger
// than a part can carry is kept back, with a message.
func pack(recs []*buildRecord, limit int) ([]*builtPart, []*buildRecord) {
	var groups [][]*buildRecord
	byInvoice := map[string][]*buildRecord{}
	var invoices []string
	var rest [][]*buildRecord
	for _, r := range recs {
		if !r.send {
			continue
		}
		switch r.t {
		case chartmogul.RecordCustomers:
			groups = append(groups, []*buildRecord{r})
		case chartmogul.RecordInvoices, chartmogul.RecordLineItems, chartmogul.RecordTransactions:
			inv := r.key
			if r.t != chartmogul.RecordInvoices {
				inv = r.invoice
			}
			if _, ok := byInvoice[inv]; !ok {
				invoices = append(invoices, inv)
			}
			byInvoice[inv] = append(byInvoice[inv], r)
		default:
			rest = append(rest, []*buildRecord{r})
		}
	}
	for _, inv := range invoices {
		groups = append(groups, byInvoice[inv])
	}
	groups = append(groups, rest...)

	var parts []*builtPart
	var tooLarge []*buildRecord
	cur := newBuiltPart()
	room := limit - requestOverhead
	for _, g := range groups {
		size := 0
		for _, r := range g {
			size += len(r.raw) + 1
		}
		if size > room {
			for _, r := range g {
				r.send = false
				r.fail = &workflows.RecordFailure{Type: string(r.t), ExternalID: r.key, Message: fmt.Sprintf(
					"not sent: with the records that must travel with it, it takes %d bytes, more than one request may carry (%d)", size, room)}
				tooLarge = append(tooLarge, r)
			}
			continue
		}
		if cur.size+size > room {
			parts = append(parts, cur)
			cur = newBuiltPart()
		}
		for _, r := range g {
			cur.arrays[r.t] = append(cur.arrays[r.t], r.raw)
			cur.entries[r.t] = append(cur.entries[r.t], ledgerEntry{Type: string(r.t), Key: r.key, Hash: r.hash, Content: r.raw})
			cur.counts[r.t]++
			cur.size += len(r.raw) + 1
		}
	}
	if cur.size > 0 {
		parts = append(parts, cur)
	}
	return parts, tooLarge
}

func newBuiltPart() *builtPart {
	return &builtPart{arrays: map[chartmogul.RecordType][][]byte{}, entries: map[chartmogul.RecordType][]ledgerEntry{},
		counts: map[chartmogul.RecordType]int{}}
}

// row serialises a part for the state database: its body is a bulk payload
// without an external id, its entries what the ledger gets once ChartMogul
// imported them, in the order of the body's arrays.
func (p *builtPart) row(seq int) partRow {
	var body bytes.Buffer
	body.WriteByte('{')
	first := true
	records := 0
	for _, t := range chartmogul.RecordTypes {
		arr := p.arrays[t]
		if len(arr) == 0 {
			continue
		}
		if !first {
			body.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&body, "%q:[", t)
		for i, raw := range arr {
			if i > 0 {
				body.WriteByte(',')
			}
			body.Write(raw)
		}
		body.WriteByte(']')
		records += len(arr)
	}
	body.WriteByte('}')
	entries, _ := json.Marshal(p.entries)
	counts, _ := json.Marshal(p.counts)
	return partRow{Seq: seq, Body: body.Bytes(), Entries: entries, Counts: counts, Records: records, Bytes: body.Len()}
}

// appendListed appends f to list up to MaxListed, counting the rest.
func appendListed(list []workflows.RecordFailure, more *int, f workflows.RecordFailure) []workflows.RecordFailure {
	if len(list) < workflows.MaxListed {
		return append(list, f)
	}
	*more++
	return list
}
