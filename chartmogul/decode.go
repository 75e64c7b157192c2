// The bulk payload codec: the body of a bulk import (POST
// /v1/data_sources/{ds}/json_imports) decoded into records, every record
// validated with this package's rules. Resolving the records against a data
// source's stored rows is the sandbox's business (package sandbox/bulk).
//
// Records are decoded field by field from the token stream rather than
// through struct tags, so that a field of the wrong JSON type ("1000" for an
// amount) fails that one record with a message naming the field, instead of
// failing the whole payload. Syntax errors do fail the whole payload: the
// request is answered 400 with the byte offset before anything is stored.

package chartmogul

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Batch is a decoded payload: the records of each type in payload order, and
// what is wrong with each record.
type Batch struct {
	ExternalID   string
	Customers    []Customer
	Plans        []Plan
	Invoices     []Invoice
	LineItems    []LineItem
	Transactions []Transaction
	Events       []SubscriptionEvent

	// problems holds each record's problems, by type and index.
	problems [6][]Problems
	// lineItemAmounts says which line items carried an amount, which they
	// must: a missing amount is not a zero amount.
	lineItemAmounts []bool
	now             time.Time

	// Strict is the single-object endpoints' mode: a record whose external
	// id the data source already has fails with ChartMogul's duplicate
	// message, instead of being matched (a no-op when unchanged, an update
	// in place for customers and plans) as in a bulk import.
	Strict bool
	// single marks a batch built record by record, whose records refer to
	// each other by the caller's links rather than by external ids in the
	// records.
	single bool
	// validated counts the records of each type already validated.
	validated [6]int
}

// NewBatch returns an empty batch to which the single-object endpoints add
// records one by one (Add), in strict mode. Line items name their plan by
// plan_uuid there; the caller links line items and transactions to their
// invoice, and invoices to their customer, before Validate.
func NewBatch(now time.Time) *Batch {
	return &Batch{now: now, Strict: true, single: true}
}

// Add decodes one JSON object as a record of type t and appends it to the
// batch, with the same field rules as a bulk payload's records. Members named
// in extra are not the record's: their raw values are returned for the
// caller to handle (data_source_uuid, nested arrays, attributes). It returns
// the record's index, and an EBADREQUEST error when obj is not one JSON
// object.
func (b *Batch) Add(t RecordType, obj []byte, extra ...string) (int, map[string]jsontext.Value, error) {
	return b.add(t, obj, nil, extra)
}

// AddEvent is Add for a change to a stored subscription event (the
// single-object PATCH): the record starts as a copy of stored, obj's members
// change it with the same field rules, and it keeps stored's ID, by which
// Resolve recognises an update of that row rather than a new event. A
// member that is null or absent leaves the stored value as it is.
func (b *Batch) AddEvent(stored SubscriptionEvent, obj []byte, extra ...string) (int, map[string]jsontext.Value, error) {
	return b.add(RecordSubscriptionEvents, obj, func(i int) { b.Events[i] = stored }, extra)
}

// add appends a record of type t, set up by init when one is given, and
// decodes obj's members onto it.
func (b *Batch) add(t RecordType, obj []byte, init func(i int), extra []string) (int, map[string]jsontext.Value, error) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(obj))
	if err := expectObject(dec); err != nil {
		return 0, nil, err
	}
	ti := typeIndex(t)
	i := b.grow(t)
	if init != nil {
		init(i)
	}
	b.problems[ti] = append(b.problems[ti], Problems{})
	r := &recordReader{dec: dec, p: &b.problems[ti][i]}
	raw := map[string]jsontext.Value{}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return 0, nil, syntaxError(err)
		}
		key := memberName(name)
		if slices.Contains(extra, key) {
			v, err := dec.ReadValue()
			if err != nil {
				return 0, nil, syntaxError(err)
			}
			raw[key] = v.Clone()
			continue
		}
		if err := b.decodeMember(r, t, i, name); err != nil {
			return 0, nil, err
		}
	}
	if err := expectEnd(dec); err != nil {
		return 0, nil, err
	}
	if t == RecordLineItems {
		b.lineItemAmounts = append(b.lineItemAmounts, r.amount)
	}
	return i, raw, nil
}

// Validate applies the record rules to the records added since the last
// call. Decode calls it; callers of Add call it once their links are set.
func (b *Batch) Validate() { b.validate() }

// typeIndex gives each record type its slot in Batch.problems.
func typeIndex(t RecordType) int {
	switch t {
	case RecordCustomers:
		return 0
	case RecordPlans:
		return 1
	case RecordInvoices:
		return 2
	case RecordLineItems:
		return 3
	case RecordTransactions:
		return 4
	}
	return 5
}

// Problems returns the problems of one record.
func (b *Batch) Problems(t RecordType, index int) *Problems {
	return &b.problems[typeIndex(t)][index]
}

// Len returns the number of records of all types.
func (b *Batch) Len() int {
	return len(b.Customers) + len(b.Plans) + len(b.Invoices) + len(b.LineItems) + len(b.Transactions) + len(b.Events)
}

// topLevelKeys are the members a payload may have, in ChartMogul's order.
const topLevelKeys = "external_id, customers, plans, invoices, line_items, transactions and subscription_events"

// Summary is what Inspect learns from a payload without decoding its records.
type Summary struct {
	ExternalID string
	// Records counts the elements of each record array.
	Records map[RecordType]int
}

// Inspect checks that body is one JSON object whose members are the
// documented ones, each record array an array, and returns the import's
// external id and the number of records of each type. It is what the API
// checks before it accepts a payload; records themselves are checked by the
// worker.
//
// It returns an EBADREQUEST error naming the byte offset of a syntax error, or
// the member at fault.
func Inspect(body []byte) (Summary, error) {
	s := Summary{Records: map[RecordType]int{}}
	err := walkPayload(jsontext.NewDecoder(bytes.NewBuffer(body)), &s.ExternalID, func(dec *jsontext.Decoder, t RecordType) error {
		n, err := countArray(dec, string(t))
		s.Records[t] += n
		return err
	})
	return s, err
}

// Decode decodes a payload into a Batch and validates every record; now is
// the time that "in the future" is measured against. It returns an
// EBADREQUEST error only when the payload as a whole is unusable (a syntax
// error, an unknown top-level member); problems of single records are in the
// Batch.
func Decode(body []byte, now time.Time) (*Batch, error) {
	// A first, cheap pass counts the records, so that each slice of records
	// is allocated once at its size: appending 20,000 records of a few
	// hundred bytes each would otherwise copy them over and over, the
	// largest part of an import's memory.
	sum, err := Inspect(body)
	if err != nil {
		return nil, err
	}
	b := &Batch{now: now}
	b.reserve(sum.Records)
	dec := jsontext.NewDecoder(bytes.NewBuffer(body))
	r := &recordReader{dec: dec}
	err = walkPayload(dec, &b.ExternalID, func(_ *jsontext.Decoder, t RecordType) error {
		return b.decodeArray(r, t)
	})
	if err != nil {
		return nil, err
	}
	b.validate()
	return b, nil
}

// walkPayload reads the top level of a payload: one object of the
// documented members and nothing after it. It stores the import's external
// id in externalID and hands each record array to array, positioned at the
// array's value.
func walkPayload(dec *jsontext.Decoder, externalID *string, array func(dec *jsontext.Decoder, t RecordType) error) error {
	if err := expectObject(dec); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return syntaxError(err)
		}
		key := memberName(name)
		if key == "external_id" {
			if *externalID, err = readImportExternalID(dec); err != nil {
				return err
			}
			continue
		}
		t, ok := recordType(key)
		if !ok {
			return unknownMember(name)
		}
		if err := array(dec, t); err != nil {
			return err
		}
	}
	return expectEnd(dec)
}

func recordType(key string) (RecordType, bool) {
	for _, t := range RecordTypes {
		if string(t) == key {
			return t, true
		}
	}
	return "", false
}

func unknownMember(name jsontext.Value) error {
	key := memberName(name)
	return &Error{Code: EBADREQUEST, Param: key, Message: fmt.Sprintf(
		"the payload has an unknown top-level member %s; a bulk import may hold %s", Quote(key), topLevelKeys)}
}

// memberName returns an object member's name, unescaped: "\u0063ustomers"
// is "customers".
func memberName(name jsontext.Value) string {
	s, err := unquote(name)
	if err != nil {
		return string(name[1 : len(name)-1])
	}
	return s
}

func expectObject(dec *jsontext.Decoder) error {
	switch k := dec.PeekKind(); k {
	case '{':
		_, err := dec.ReadToken()
		return syntaxError(err)
	case 0:
		_, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			return Errorf(EBADREQUEST, "the body is empty; send one JSON object with the records to import")
		}
		return syntaxError(err)
	default:
		return Errorf(EBADREQUEST, "the body must be one JSON object with the records to import; got %s", kindName(k))
	}
}

func expectEnd(dec *jsontext.Decoder) error {
	if _, err := dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	// The extra value starts after the whitespace that follows the object.
	at := dec.InputOffset() + int64(len(dec.UnreadBuffer())-len(bytes.TrimLeft(dec.UnreadBuffer(), " \t\r\n")))
	if err := dec.SkipValue(); !errors.Is(err, io.EOF) {
		return Errorf(EBADREQUEST, "the body must hold one JSON object and nothing after it; more follows at byte offset %d", at)
	}
	return nil
}

// syntaxError turns a jsontext error into the 400 a user sees, with the byte
// offset where the JSON went wrong.
func syntaxError(err error) error {
	if err == nil {
		return nil
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		msg := se.Err.Error()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "the JSON ends before it is complete"
		}
		return &Error{Code: EBADREQUEST, Message: fmt.Sprintf(
			"the body is not valid JSON: %s at byte offset %d", msg, se.ByteOffset), Err: err}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return Errorf(EBADREQUEST, "the body is not valid JSON: it ends before the object is complete")
	}
	return &Error{Code: EBADREQUEST, Message: "the body is not valid JSON: " + err.Error(), Err: err}
}

func readImportExternalID(dec *jsontext.Decoder) (string, error) {
	v, err := dec.ReadValue()
	if err != nil {
		return "", syntaxError(err)
	}
	switch v.Kind() {
	case 'n':
		return "", nil
	case '"':
		s, err := unquote(v)
		if err != nil {
			return "", syntaxError(err)
		}
		if len(s) > MaxIDLength {
			return "", &Error{Code: EBADREQUEST, Param: "external_id", Message: fmt.Sprintf(
				"external_id must be at most %d characters long; got %d", MaxIDLength, len(s))}
		}
		if strings.IndexByte(s, 0) >= 0 {
			return "", &Error{Code: EBADREQUEST, Param: "external_id", Message: "external_id must not contain the NUL character (\\u0000)"}
		}
		return s, nil
	}
	return "", &Error{Code: EBADREQUEST, Param: "external_id", Message: fmt.Sprintf(
		"external_id must be a string naming the import; got %s", describe(v))}
}

func countArray(dec *jsontext.Decoder, key string) (int, error) {
	switch k := dec.PeekKind(); k {
	case 'n':
		_, err := dec.ReadValue()
		return 0, syntaxError(err)
	case '[':
	default:
		v, err := dec.ReadValue()
		if err != nil {
			return 0, syntaxError(err)
		}
		return 0, &Error{Code: EBADREQUEST, Param: key, Message: fmt.Sprintf("%s must be an array of records; got %s", key, describe(v))}
	}
	if _, err := dec.ReadToken(); err != nil {
		return 0, syntaxError(err)
	}
	n := 0
	for dec.PeekKind() != ']' {
		if err := dec.SkipValue(); err != nil {
			return 0, syntaxError(err)
		}
		n++
	}
	_, err := dec.ReadToken()
	return n, syntaxError(err)
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "nothing"
}

// describe says what a value is, for messages: the value itself when short.
func describe(v jsontext.Value) string {
	switch v.Kind() {
	case '"':
		s, err := unquote(v)
		if err != nil {
			return "a string"
		}
		return "the string " + Quote(s)
	case '0':
		if len(v) > 40 {
			return "a number"
		}
		return "the number " + string(v)
	case 't', 'f':
		return string(v)
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "nothing"
}

// unquote returns the Go string of a JSON string value. Most strings have no
// escapes, and are copied out of the buffer without going through the
// unquoting machinery.
func unquote(v jsontext.Value) (string, error) {
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), nil
	}
	b, err := jsontext.AppendUnquote(nil, v)
	return string(b), err
}

// recordReader reads the members of one record and records a problem for
// each member of the wrong type. Its methods return an error only for
// syntax errors, which abort the whole decode.
type recordReader struct {
	dec *jsontext.Decoder
	p   *Problems
	// amount says whether the current record carried amount_in_cents.
	amount bool
}

func (r *recordReader) read() (jsontext.Value, error) {
	v, err := r.dec.ReadValue()
	return v, syntaxError(err)
}

func (r *recordReader) wrongType(field, want string, v jsontext.Value) {
	r.p.Fail(field, "%s must be %s; got %s", field, want, describe(v))
}

// str reads a string member; null leaves dst as it is.
func (r *recordReader) str(field string, dst *string) error {
	v, err := r.read()
	if err != nil {
		return err
	}
	return r.strValue(field, v, dst, "a string")
}

// id reads a string member that may also be sent as a number, as ChartMogul's
// ids sometimes are (retracted_event_id).
func (r *recordReader) id(field string, dst *string) error {
	v, err := r.read()
	if err != nil {
		return err
	}
	if v.Kind() == '0' {
		*dst = string(v)
		return nil
	}
	return r.strValue(field, v, dst, "a string or a number")
}

// strValue is str for a value already read; want names what the member must
// be, for the message when it is anything else.
func (r *recordReader) strValue(field string, v jsontext.Value, dst *string, want string) error {
	switch v.Kind() {
	case 'n':
	case '"':
		s, err := unquote(v)
		if err != nil {
			return syntaxError(err)
		}
		if strings.IndexByte(s, 0) >= 0 {
			r.nul(field)
			return nil
		}
		*dst = s
	default:
		r.wrongType(field, want, v)
	}
	return nil
}

// nul records that a string member holds the NUL character, which no
// database column of Recur's may store.
func (r *recordReader) nul(field string) {
	r.p.Fail(field, "%s must not contain the NUL character (\\u0000)", field)
}

// integer reads a whole-number member. It reports whether a number was
// present. A string holding a number is refused with a message saying to
// drop the quotes: ChartMogul's clients decode these fields as numbers.
func (r *recordReader) integer(field string, dst *int64) (bool, error) {
	v, err := r.read()
	if err != nil {
		return false, err
	}
	return r.integerValue(field, v, dst), nil
}

// integerValue is integer for a value already read.
func (r *recordReader) integerValue(field string, v jsontext.Value, dst *int64) bool {
	switch v.Kind() {
	case 'n':
		return false
	case '0':
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
				r.p.Fail(field, "%s must be a whole number between %d and %d; got %s", field, int64(-1<<63), int64(1<<63-1), string(v))
			} else {
				r.p.Fail(field, "%s must be a whole number; got %s", field, string(v))
			}
			return false
		}
		*dst = n
		return true
	case '"':
		s, _ := unquote(v)
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			r.p.Fail(field, "%s must be a number, not a string: write %s without quotes", field, s)
			return false
		}
	}
	r.wrongType(field, "a whole number", v)
	return false
}

func (r *recordReader) optInteger(field string, dst **int64) error {
	var n int64
	ok, err := r.integer(field, &n)
	if ok {
		*dst = &n
	}
	return err
}

// blankInteger is optInteger for a subscription event's amounts and
// quantity, where an empty string means absent: the official Ruby client
// sends "" for every one of them it was not given, and ChartMogul accepts
// it. A string holding a number is still refused, as everywhere.
func (r *recordReader) blankInteger(field string, dst **int64) error {
	v, err := r.read()
	if err != nil || string(v) == `""` {
		return err
	}
	var n int64
	if r.integerValue(field, v, &n) {
		*dst = &n
	}
	return nil
}

func (r *recordReader) boolean(field string, dst *bool) error {
	v, err := r.read()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
	case 't':
		*dst = true
	case 'f':
		*dst = false
	default:
		r.wrongType(field, "true or false", v)
	}
	return nil
}

// time reads a timestamp member in any format ParseTime accepts.
func (r *recordReader) time(field string, dst *time.Time) error {
	v, err := r.read()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
	case '"':
		s, err := unquote(v)
		if err != nil {
			return syntaxError(err)
		}
		if s == "" {
			return nil
		}
		t, err := ParseTime(s)
		if err != nil {
			r.p.Fail(field, "%s %s", field, err.Error())
			return nil
		}
		*dst = t
	default:
		r.wrongType(field, "a date string such as \"2023-04-02 21:37:00\"", v)
	}
	return nil
}

func (r *recordReader) optTime(field string, dst **time.Time) error {
	var t time.Time
	if err := r.time(field, &t); err != nil {
		return err
	}
	if !t.IsZero() {
		*dst = &t
	}
	return nil
}

// unknown skips a member Recur does not know and warns about it: ChartMogul
// ignores unknown members, and so does Recur, but a misspelt field name
// should not pass unnoticed.
func (r *recordReader) unknown(name jsontext.Value) error {
	if err := r.dec.SkipValue(); err != nil {
		return syntaxError(err)
	}
	n, _ := unquote(name)
	r.p.Warn(n, "%s is not a field of this record and was ignored", Quote(n))
	return nil
}

// decodeArray decodes one record array into b.
func (b *Batch) decodeArray(r *recordReader, t RecordType) error {
	dec := r.dec
	switch k := dec.PeekKind(); k {
	case 'n':
		_, err := dec.ReadValue()
		return syntaxError(err)
	case '[':
	default:
		v, err := dec.ReadValue()
		if err != nil {
			return syntaxError(err)
		}
		return &Error{Code: EBADREQUEST, Param: string(t), Message: fmt.Sprintf("%s must be an array of records; got %s", t, describe(v))}
	}
	if _, err := dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	ti := typeIndex(t)
	for dec.PeekKind() != ']' {
		i := b.grow(t)
		b.problems[ti] = append(b.problems[ti], Problems{})
		r.p = &b.problems[ti][i]
		r.amount = false
		if k := dec.PeekKind(); k != '{' {
			v, err := dec.ReadValue()
			if err != nil {
				return syntaxError(err)
			}
			r.p.Fail("", "each element of %s must be a JSON object; got %s", t, describe(v))
			if t == RecordLineItems {
				b.lineItemAmounts = append(b.lineItemAmounts, true)
			}
			continue
		}
		if _, err := dec.ReadToken(); err != nil {
			return syntaxError(err)
		}
		for dec.PeekKind() != '}' {
			name, err := dec.ReadValue()
			if err != nil {
				return syntaxError(err)
			}
			if err := b.decodeMember(r, t, i, name); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return syntaxError(err)
		}
		if t == RecordLineItems {
			b.lineItemAmounts = append(b.lineItemAmounts, r.amount)
		}
	}
	_, err := dec.ReadToken()
	return syntaxError(err)
}

// reserve makes room for the records Inspect counted.
func (b *Batch) reserve(n map[RecordType]int) {
	b.Customers = make([]Customer, 0, n[RecordCustomers])
	b.Plans = make([]Plan, 0, n[RecordPlans])
	b.Invoices = make([]Invoice, 0, n[RecordInvoices])
	b.LineItems = make([]LineItem, 0, n[RecordLineItems])
	b.Transactions = make([]Transaction, 0, n[RecordTransactions])
	b.Events = make([]SubscriptionEvent, 0, n[RecordSubscriptionEvents])
	b.lineItemAmounts = make([]bool, 0, n[RecordLineItems])
	for _, t := range RecordTypes {
		b.problems[typeIndex(t)] = make([]Problems, 0, n[t])
	}
}

// grow appends a zero record of type t and returns its index.
func (b *Batch) grow(t RecordType) int {
	switch t {
	case RecordCustomers:
		b.Customers = append(b.Customers, Customer{})
		return len(b.Customers) - 1
	case RecordPlans:
		b.Plans = append(b.Plans, Plan{})
		return len(b.Plans) - 1
	case RecordInvoices:
		b.Invoices = append(b.Invoices, Invoice{})
		return len(b.Invoices) - 1
	case RecordLineItems:
		b.LineItems = append(b.LineItems, LineItem{})
		return len(b.LineItems) - 1
	case RecordTransactions:
		b.Transactions = append(b.Transactions, Transaction{})
		return len(b.Transactions) - 1
	}
	b.Events = append(b.Events, SubscriptionEvent{})
	return len(b.Events) - 1
}

func (b *Batch) decodeMember(r *recordReader, t RecordType, i int, name jsontext.Value) error {
	key := memberName(name)
	switch t {
	case RecordCustomers:
		return decodeCustomerMember(r, &b.Customers[i], key, name)
	case RecordPlans:
		return decodePlanMember(r, &b.Plans[i], key, name)
	case RecordInvoices:
		return decodeInvoiceMember(r, &b.Invoices[i], key, name)
	case RecordLineItems:
		return decodeLineItemMember(r, &b.LineItems[i], key, name)
	case RecordTransactions:
		return decodeTransactionMember(r, &b.Transactions[i], key, name)
	}
	return decodeEventMember(r, &b.Events[i], key, name)
}

func decodeCustomerMember(r *recordReader, c *Customer, key string, name jsontext.Value) error {
	// Every field but the external id is contact detail: a value of the
	// wrong type is a warning and the field is left out, so that a customer,
	// and with it every invoice, is never lost over it.
	set := func(f CustomerFields, dst *string) error {
		before := len(r.p.Errors)
		if err := r.str(key, dst); err != nil {
			return err
		}
		if r.softenErrors(before) {
			return nil
		}
		c.Given |= f
		return nil
	}
	switch key {
	case "external_id":
		return r.str(key, &c.ExternalID)
	case "name":
		return set(CustomerName, &c.Name)
	case "email":
		return set(CustomerEmail, &c.Email)
	case "company":
		return set(CustomerCompany, &c.Company)
	case "country":
		return set(CustomerCountry, &c.Country)
	case "state":
		return set(CustomerState, &c.State)
	case "city":
		return set(CustomerCity, &c.City)
	case "zip":
		return set(CustomerZip, &c.Zip)
	case "website_url":
		return set(CustomerWebsiteURL, &c.WebsiteURL)
	case "lead_created_at":
		before := len(r.p.Warnings)
		err := r.customerTime(key, &c.LeadCreatedAt)
		if len(r.p.Warnings) == before {
			c.Given |= CustomerLeadCreatedAt
		}
		return err
	case "free_trial_started_at":
		before := len(r.p.Warnings)
		err := r.customerTime(key, &c.FreeTrialStartedAt)
		if len(r.p.Warnings) == before {
			c.Given |= CustomerFreeTrialStartedAt
		}
		return err
	}
	return r.unknown(name)
}

// customerTime reads a customer's optional date. A malformed one is a
// warning, not a failure: the customer is kept without it.
func (r *recordReader) customerTime(field string, dst **time.Time) error {
	before := len(r.p.Errors)
	if err := r.optTime(field, dst); err != nil {
		return err
	}
	r.softenErrors(before)
	return nil
}

// softenErrors turns the errors recorded since before into warnings saying
// the customer was kept without the field. It reports whether there were
// any.
func (r *recordReader) softenErrors(before int) bool {
	if len(r.p.Errors) == before {
		return false
	}
	for _, e := range r.p.Errors[before:] {
		r.p.Warn(e.Field, "%s; the customer was kept without it", e.Message)
	}
	r.p.Errors = r.p.Errors[:before]
	return true
}

func decodePlanMember(r *recordReader, pl *Plan, key string, name jsontext.Value) error {
	switch key {
	case "external_id":
		return r.str(key, &pl.ExternalID)
	case "name":
		return r.str(key, &pl.Name)
	case "interval_count":
		ok, err := r.integer(key, &pl.IntervalCount)
		if ok && pl.IntervalCount <= 0 {
			r.p.Fail(key, "interval_count must be a whole number greater than 0; got %d", pl.IntervalCount)
		}
		return err
	case "interval_unit":
		return r.str(key, &pl.IntervalUnit)
	}
	return r.unknown(name)
}

func decodeInvoiceMember(r *recordReader, inv *Invoice, key string, name jsontext.Value) error {
	switch key {
	case "external_id":
		return r.str(key, &inv.ExternalID)
	case "customer_external_id":
		return r.str(key, &inv.CustomerExternalID)
	case "date":
		return r.time(key, &inv.Date)
	case "due_date":
		return r.optTime(key, &inv.DueDate)
	case "currency":
		return r.str(key, &inv.Currency)
	case "collection_method":
		return r.str(key, &inv.CollectionMethod)
	}
	return r.unknown(name)
}

func decodeLineItemMember(r *recordReader, li *LineItem, key string, name jsontext.Value) error {
	var err error
	switch key {
	case "invoice_external_id":
		return r.str(key, &li.InvoiceExternalID)
	case "external_id":
		return r.str(key, &li.ExternalID)
	case "type":
		return r.str(key, &li.Type)
	case "amount_in_cents":
		r.amount = true
		var ok bool
		ok, err = r.integer(key, &li.AmountInCents)
		if !ok && err == nil && !r.p.Has(key) {
			r.p.Required(key)
		}
	case "quantity":
		var ok bool
		if ok, err = r.integer(key, &li.Quantity); ok && li.Quantity == 0 {
			r.p.Fail(key, "quantity must not be 0; leave it out for 1")
		}
	case "subscription_external_id":
		return r.str(key, &li.SubscriptionExternalID)
	case "subscription_set_external_id":
		return r.str(key, &li.SubscriptionSetExternalID)
	case "plan_external_id":
		return r.str(key, &li.PlanExternalID)
	case "plan_uuid":
		return r.str(key, &li.PlanUUID)
	case "service_period_start":
		return r.optTime(key, &li.ServicePeriodStart)
	case "service_period_end":
		return r.optTime(key, &li.ServicePeriodEnd)
	case "cancelled_at":
		return r.optTime(key, &li.CancelledAt)
	case "prorated":
		return r.boolean(key, &li.Prorated)
	case "proration_type":
		return r.str(key, &li.ProrationType)
	case "discount_amount_in_cents":
		_, err = r.integer(key, &li.DiscountAmountInCents)
	case "discount_code":
		return r.str(key, &li.DiscountCode)
	case "discount_description":
		return r.str(key, &li.DiscountDescription)
	case "tax_amount_in_cents":
		_, err = r.integer(key, &li.TaxAmountInCents)
	case "transaction_fees_in_cents":
		_, err = r.integer(key, &li.TransactionFeesInCents)
	case "transaction_fees_currency":
		return r.str(key, &li.TransactionFeesCurrency)
	case "account_code":
		return r.str(key, &li.AccountCode)
	case "description":
		return r.str(key, &li.Description)
	case "event_order":
		return r.optInteger(key, &li.EventOrder)
	case "balance_transfer":
		return r.boolean(key, &li.BalanceTransfer)
	default:
		return r.unknown(name)
	}
	return err
}

func decodeTransactionMember(r *recordReader, tr *Transaction, key string, name jsontext.Value) error {
	switch key {
	case "invoice_external_id":
		return r.str(key, &tr.InvoiceExternalID)
	case "external_id":
		return r.str(key, &tr.ExternalID)
	case "type":
		return r.str(key, &tr.Type)
	case "result":
		return r.str(key, &tr.Result)
	case "date":
		return r.time(key, &tr.Date)
	case "amount_in_cents":
		return r.optInteger(key, &tr.AmountInCents)
	case "transaction_fees_in_cents":
		return r.optInteger(key, &tr.TransactionFeesInCents)
	case "transaction_fees_currency":
		return r.str(key, &tr.TransactionFeesCurrency)
	}
	return r.unknown(name)
}

func decodeEventMember(r *recordReader, ev *SubscriptionEvent, key string, name jsontext.Value) error {
	switch key {
	case "customer_external_id":
		return r.str(key, &ev.CustomerExternalID)
	case "external_id":
		return r.str(key, &ev.ExternalID)
	case "event_type":
		return r.str(key, &ev.EventType)
	case "event_date":
		return r.time(key, &ev.EventDate)
	case "effective_date":
		return r.time(key, &ev.EffectiveDate)
	case "subscription_external_id":
		return r.str(key, &ev.SubscriptionExternalID)
	case "subscription_set_external_id":
		return r.str(key, &ev.SubscriptionSetExternalID)
	case "plan_external_id":
		return r.str(key, &ev.PlanExternalID)
	case "currency":
		return r.str(key, &ev.Currency)
	case "amount_in_cents":
		return r.blankInteger(key, &ev.AmountInCents)
	case "quantity":
		return r.blankInteger(key, &ev.Quantity)
	case "tax_amount_in_cents":
		return r.blankInteger(key, &ev.TaxAmountInCents)
	case "retracted_event_id":
		return r.id(key, &ev.RetractedEventID)
	case "event_order":
		return r.optInteger(key, &ev.EventOrder)
	}
	return r.unknown(name)
}

// validate applies the record rules of package recur to every record, and
// the bulk-only rules: records refer to each other by external id, so those
// references are required here.
func (b *Batch) validate() {
	planField := "plan_external_id"
	if b.single {
		planField = "plan_uuid"
	}
	// An element that is not an object has one failure, which says so; the
	// record rules would only add noise about its missing fields.
	decoded := func(t, i int) bool { return !b.problems[t][i].Has("") }
	for i := b.validated[0]; i < len(b.Customers); i++ {
		if decoded(0, i) {
			b.Customers[i].Validate(&b.problems[0][i], b.now)
		}
	}
	for i := b.validated[1]; i < len(b.Plans); i++ {
		if decoded(1, i) {
			b.Plans[i].Validate(&b.problems[1][i])
		}
	}
	for i := b.validated[2]; i < len(b.Invoices); i++ {
		p := &b.problems[2][i]
		inv := &b.Invoices[i]
		if !decoded(2, i) {
			continue
		}
		if inv.CustomerExternalID == "" && !b.single {
			p.Required("customer_external_id")
		}
		inv.Validate(p)
	}
	for i := b.validated[3]; i < len(b.LineItems); i++ {
		p := &b.problems[3][i]
		li := &b.LineItems[i]
		if !decoded(3, i) {
			continue
		}
		if li.InvoiceExternalID == "" && !b.single {
			p.Required("invoice_external_id")
		}
		if !b.lineItemAmounts[i] {
			p.Required("amount_in_cents")
		}
		li.Validate(p, planField)
	}
	for i := b.validated[4]; i < len(b.Transactions); i++ {
		p := &b.problems[4][i]
		tr := &b.Transactions[i]
		if !decoded(4, i) {
			continue
		}
		if tr.InvoiceExternalID == "" && !b.single {
			p.Required("invoice_external_id")
		}
		tr.Validate(p, b.now)
	}
	for i := b.validated[5]; i < len(b.Events); i++ {
		if decoded(5, i) {
			b.Events[i].Validate(&b.problems[5][i])
		}
	}
	b.validated = [6]int{len(b.Customers), len(b.Plans), len(b.Invoices), len(b.LineItems), len(b.Transactions), len(b.Events)}
}
