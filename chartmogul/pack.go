package chartmogul

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// FieldKind is the JSON type a record field takes.
type FieldKind byte

// The kinds of record fields.
const (
	KindString FieldKind = iota
	KindInteger
	KindBoolean
	KindDate
)

// Fields lists, per record type, the fields a bulk record may carry and
// their kinds: what CSV columns may be named, and how their cells become
// JSON. The decoder (decodeMember) accepts exactly these.
var Fields = map[RecordType]map[string]FieldKind{
	RecordCustomers: {"external_id": KindString, "name": KindString, "email": KindString, "company": KindString,
		"country": KindString, "state": KindString, "city": KindString, "zip": KindString, "website_url": KindString,
		"lead_created_at": KindDate, "free_trial_started_at": KindDate},
	RecordPlans: {"external_id": KindString, "name": KindString, "interval_count": KindInteger, "interval_unit": KindString},
	RecordInvoices: {"external_id": KindString, "customer_external_id": KindString, "date": KindDate, "due_date": KindDate,
		"currency": KindString, "collection_method": KindString},
	RecordLineItems: {"invoice_external_id": KindString, "external_id": KindString, "type": KindString, "amount_in_cents": KindInteger,
		"quantity": KindInteger, "subscription_external_id": KindString, "subscription_set_external_id": KindString,
		"plan_external_id": KindString, "plan_uuid": KindString, "service_period_start": KindDate, "service_period_end": KindDate,
		"cancelled_at": KindDate, "prorated": KindBoolean, "proration_type": KindString, "discount_amount_in_cents": KindInteger,
		"discount_code": KindString, "discount_description": KindString, "tax_amount_in_cents": KindInteger,
		"transaction_fees_in_cents": KindInteger, "transaction_fees_currency": KindString, "account_code": KindString,
		"description": KindString, "event_order": KindInteger, "balance_transfer": KindBoolean},
	RecordTransactions: {"invoice_external_id": KindString, "external_id": KindString, "type": KindString, "result": KindString,
		"date": KindDate, "amount_in_cents": KindInteger, "transaction_fees_in_cents": KindInteger, "transaction_fees_currency": KindString},
	RecordSubscriptionEvents: {"customer_external_id": KindString, "external_id": KindString, "event_type": KindString,
		"event_date": KindDate, "effective_date": KindDate, "subscription_external_id": KindString,
		"subscription_set_external_id": KindString, "plan_external_id": KindString, "currency": KindString,
		"amount_in_cents": KindInteger, "quantity": KindInteger, "tax_amount_in_cents": KindInteger,
		"retracted_event_id": KindString, "event_order": KindInteger},
}

// Splitter gathers the records of bulk payloads and CSV files and packs them
// into payloads under a size limit, with every record of a customer in the
// same payload: ChartMogul asks that a customer's records travel together,
// and Recur applies each payload atomically. Plans belong to no customer and
// travel in the first payload, which is sent before the others.
type Splitter struct {
	plans     [][]byte
	customers map[string]*customerGroup
	order     []string // customer external ids, in order of first appearance
	// byInvoice holds line items and transactions by the invoice they name,
	// until Pack finds the invoice's customer.
	byInvoice map[string][]typedRecord
	// invoiceOwner maps invoice external ids to customer external ids.
	invoiceOwner map[string]string
	// Counts counts the records read, per type.
	Counts map[RecordType]int
}

type typedRecord struct {
	t   RecordType
	raw []byte
}

type customerGroup struct {
	records []typedRecord
	size    int
}

// NewSplitter returns an empty Splitter.
func NewSplitter() *Splitter {
	return &Splitter{customers: map[string]*customerGroup{}, byInvoice: map[string][]typedRecord{},
		invoiceOwner: map[string]string{}, Counts: map[RecordType]int{}}
}

// Records returns the number of records read, over all types.
func (s *Splitter) Records() int {
	n := 0
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// ReadJSON reads one bulk payload from r, record by record. The top-level
// external_id is not kept: each packed payload gets its own. It returns an
// EBADREQUEST error naming the byte offset of a syntax error or the unknown
// member.
func (s *Splitter) ReadJSON(r io.Reader) error {
	var externalID string
	return walkPayload(jsontext.NewDecoder(r), &externalID, func(dec *jsontext.Decoder, t RecordType) error {
		switch k := dec.PeekKind(); k {
		case 'n':
			return syntaxError(dec.SkipValue())
		case '[':
		default:
			return Errorf(EBADREQUEST, "%s must be an array of records; got %s", t, kindName(k))
		}
		if _, err := dec.ReadToken(); err != nil {
			return syntaxError(err)
		}
		for dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil {
				return syntaxError(err)
			}
			if err := s.Add(t, bytes.Clone(v)); err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		return syntaxError(err)
	})
}

// Add files one record (a JSON value, normally an object) under its
// customer.
func (s *Splitter) Add(t RecordType, raw []byte) error {
	s.Counts[t]++
	var keys struct {
		ExternalID         string `json:"external_id"`
		CustomerExternalID string `json:"customer_external_id"`
		InvoiceExternalID  string `json:"invoice_external_id"`
	}
	// A record that is not an object, or whose ids are of the wrong type,
	// still travels: the server reports it.
	_ = json.Unmarshal(raw, &keys, json.RejectUnknownMembers(false))
	rec := typedRecord{t: t, raw: raw}
	switch t {
	case RecordPlans:
		s.plans = append(s.plans, raw)
	case RecordCustomers:
		s.file(keys.ExternalID, rec)
	case RecordInvoices, RecordSubscriptionEvents:
		if t == RecordInvoices && keys.ExternalID != "" {
			if _, seen := s.invoiceOwner[keys.ExternalID]; !seen {
				s.invoiceOwner[keys.ExternalID] = keys.CustomerExternalID
			}
		}
		s.file(keys.CustomerExternalID, rec)
	default:
		s.byInvoice[keys.InvoiceExternalID] = append(s.byInvoice[keys.InvoiceExternalID], rec)
	}
	return nil
}

func (s *Splitter) file(customer string, rec typedRecord) {
	g, ok := s.customers[customer]
	if !ok {
		g = &customerGroup{}
		s.customers[customer] = g
		s.order = append(s.order, customer)
	}
	g.records = append(g.records, rec)
	g.size += len(rec.raw) + 1
}

// ReadCSV reads one CSV file of records of type t whose header row names
// record fields (the JSON names). Empty cells are left out; integer and
// boolean cells become JSON numbers and booleans when they parse as such
// (otherwise they travel as strings, and the server names the bad value).
// It returns an error naming the file and the column for a column that is
// not a field of t.
func (s *Splitter) ReadCSV(t RecordType, r io.Reader, name string) error {
	fields := Fields[t]
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for i, col := range header {
		col = strings.TrimSpace(strings.TrimPrefix(col, "\ufeff"))
		header[i] = col
		if _, ok := fields[col]; !ok {
			known := make([]string, 0, len(fields))
			for f := range fields {
				known = append(known, f)
			}
			slices.Sort(known)
			return fmt.Errorf("%s: column %q is not a field of %s; the columns may be %s", name, col, t, strings.Join(known, ", "))
		}
	}
	line := 1
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line++
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(row) > len(header) {
			return fmt.Errorf("%s: line %d has %d cells but the header names %d columns", name, line, len(row), len(header))
		}
		var b bytes.Buffer
		enc := jsontext.NewEncoder(&b)
		enc.WriteToken(jsontext.BeginObject)
		for i, cell := range row {
			if cell == "" {
				continue
			}
			enc.WriteToken(jsontext.String(header[i]))
			enc.WriteToken(cellToken(fields[header[i]], cell))
		}
		enc.WriteToken(jsontext.EndObject)
		if err := s.Add(t, bytes.TrimSpace(b.Bytes())); err != nil {
			return err
		}
	}
}

func cellToken(kind FieldKind, cell string) jsontext.Token {
	switch kind {
	case KindInteger:
		if n, err := strconv.ParseInt(strings.TrimSpace(cell), 10, 64); err == nil {
			return jsontext.Int(n)
		}
	case KindBoolean:
		if v, err := strconv.ParseBool(strings.TrimSpace(cell)); err == nil {
			return jsontext.Bool(v)
		}
	}
	return jsontext.String(cell)
}

// Chunk is one packed payload.
type Chunk struct {
	ExternalID string
	Body       []byte
	Records    int
	Customers  int
}

// Pack packs the records read into payloads of at most maxBytes each. Each
// payload's external id is derived from its content, so that sending the
// same records again lands on the same import. It returns an error naming
// the customer whose records alone exceed maxBytes.
func (s *Splitter) Pack(maxBytes int) ([]Chunk, error) {
	// Line items and transactions join the group of their invoice's
	// customer; those naming no known invoice travel with the first
	// payload, and the server reports them.
	var orphans []typedRecord
	for _, inv := range sortedKeys(s.byInvoice) {
		recs := s.byInvoice[inv]
		owner, ok := s.invoiceOwner[inv]
		if !ok {
			orphans = append(orphans, recs...)
			continue
		}
		g := s.customers[owner]
		for _, r := range recs {
			g.records = append(g.records, r)
			g.size += len(r.raw) + 1
		}
	}
	s.byInvoice = map[string][]typedRecord{}

	const overhead = 256 // braces, member names, the external id
	var chunks []Chunk
	cur := &chunkBuilder{}
	for _, p := range s.plans {
		cur.add(typedRecord{t: RecordPlans, raw: p})
	}
	for _, o := range orphans {
		cur.add(o)
	}
	if cur.size+overhead > maxBytes {
		return nil, fmt.Errorf("the plans alone take %d bytes, more than the %d bytes one request may carry", cur.size, maxBytes)
	}
	for _, customer := range s.order {
		g := s.customers[customer]
		if g.size+overhead > maxBytes {
			return nil, fmt.Errorf("the records of customer %q take %d bytes, more than the %d bytes one request may carry; a customer's records must travel in one request", customer, g.size, maxBytes)
		}
		if cur.size+g.size+overhead > maxBytes {
			chunks = append(chunks, cur.build())
			cur = &chunkBuilder{}
		}
		for _, r := range g.records {
			cur.add(r)
		}
		cur.customers++
	}
	if cur.records > 0 || len(chunks) == 0 {
		chunks = append(chunks, cur.build())
	}
	return chunks, nil
}

type chunkBuilder struct {
	byType    [6][][]byte
	size      int
	records   int
	customers int
}

func (c *chunkBuilder) add(r typedRecord) {
	i := typeIndex(r.t)
	c.byType[i] = append(c.byType[i], r.raw)
	c.size += len(r.raw) + 1
	c.records++
}

func (c *chunkBuilder) build() Chunk {
	var body bytes.Buffer
	h := sha256.New()
	for i, t := range []RecordType{RecordCustomers, RecordPlans, RecordInvoices, RecordLineItems, RecordTransactions, RecordSubscriptionEvents} {
		if len(c.byType[i]) == 0 {
			continue
		}
		fmt.Fprintf(&body, ",%q:[", t)
		h.Write([]byte(t))
		for k, raw := range c.byType[i] {
			if k > 0 {
				body.WriteByte(',') // one byte: the size accounting counts one
			}
			body.Write(raw)
			h.Write(raw)
		}
		body.WriteByte(']')
	}
	id := "recur-import-" + hex.EncodeToString(h.Sum(nil))[:24]
	out := []byte(`{"external_id":"` + id + `"`)
	out = append(out, body.Bytes()...)
	out = append(out, '}')
	return Chunk{ExternalID: id, Body: out, Records: c.records, Customers: c.customers}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
