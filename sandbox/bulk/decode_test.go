package bulk_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

// now is the time "in the future" is measured against.
var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func readSeed(tb testing.TB) []byte {
	tb.Helper()
	body, err := os.ReadFile("../../testdata/seed-bulk-import.json")
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

func decode(t *testing.T, body string) *chartmogul.Batch {
	t.Helper()
	b, err := chartmogul.Decode([]byte(body), now)
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	return b
}

// FuzzDecode checks that no payload panics Inspect, Decode or Resolve, that
// every payload is either decoded or refused with an EBADREQUEST
// *chartmogul.Error, that Inspect and Decode agree, and that the report accounts
// for every record.
func FuzzDecode(f *testing.F) {
	f.Add(readSeed(f))
	for _, s := range []string{
		``, `{}`, `{`, `[]`, `null`, `{} {}`, `{"customers": [1]}`, `{"customers": {}}`, `{"foo": 1}`,
		`{"external_id": 5}`, `{"customers": [], "customers": []}`, `{"\u0063ustomers": []}`,
		`{"line_items": [{"amount_in_cents": "1000", "quantity": 1e3, "tax_amount_in_cents": 9223372036854775808}]}`,
		`{"customers": [{"external_id": "c1"}, {"external_id": "c1"}], "invoices": [{"external_id": "i", "customer_external_id": "c1", "date": "2023-01-01", "currency": "usd"}]}`,
		"{\"customers\": [{\"external_id\": \"\xff\"}]}",
		`{"subscription_events": [{"customer_external_id": "c1", "event_type": "subscription_event_retracted", "retracted_event_id": 5}]}`,
		`{"customers":[{{`, // found by fuzzing: Inspect and Decode word this one differently
		// The hostile inputs of cmd/recur's TestHostileInput.
		`{"customers": [{"external_id": "c\u0000", "name": "nul"}]}`,
		`{"customers": [{"external_id": "'; DROP TABLE customers; --", "name": "x' OR '1'='1", "email": "a@b.c\"--"}]}`,
		`{"customers": [{"external_id": "c1", "external_id": "c2"}]}`,
		`{"transactions": [{"invoice_external_id": "i", "external_id": "t", "type": "payments", "date": "2023-02-30", "result": "successful"}]}`,
		`{"invoices": [{"external_id": "i", "customer_external_id": "c", "date": "9999-99-99", "currency": "XXX", "due_date": 17}]}`,
		`{"plans": [{"external_id": "p", "name": "", "interval_count": -1, "interval_unit": "fortnight"}]}`,
		`{"customers": [{"external_id": "` + strings.Repeat("x", 70_000) + `"}]}`,
		`{"customers": [` + strings.Repeat(`[`, 20_000) + strings.Repeat(`]`, 20_000) + `]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, ierr := chartmogul.Inspect(body)
		b, derr := chartmogul.Decode(body, now)
		for name, err := range map[string]error{"Inspect": ierr, "Decode": derr} {
			if err == nil {
				continue
			}
			var e *chartmogul.Error
			if !errors.As(err, &e) || e.Code != chartmogul.EBADREQUEST || e.Message == "" {
				t.Fatalf("%s: %v (%T), want an EBADREQUEST *chartmogul.Error", name, err, err)
			}
		}
		if (ierr == nil) != (derr == nil) {
			t.Fatalf("Inspect says %v, Decode says %v", ierr, derr)
		}
		if derr != nil {
			if b != nil {
				t.Fatal("Decode returned a batch with its error")
			}
			// The messages may differ on truncated input: for
			// {"customers":[{{ Inspect says "object member name must be a
			// string at byte offset 15", Decode "the JSON ends before it is
			// complete at byte offset 16". Both are 400s.
			return
		}
		if s.ExternalID != b.ExternalID {
			t.Fatalf("external id: Inspect %q, Decode %q", s.ExternalID, b.ExternalID)
		}
		lens := map[chartmogul.RecordType]int{
			chartmogul.RecordCustomers: len(b.Customers), chartmogul.RecordPlans: len(b.Plans), chartmogul.RecordInvoices: len(b.Invoices),
			chartmogul.RecordLineItems: len(b.LineItems), chartmogul.RecordTransactions: len(b.Transactions), chartmogul.RecordSubscriptionEvents: len(b.Events),
		}
		for _, rt := range chartmogul.RecordTypes {
			if s.Records[rt] != lens[rt] {
				t.Fatalf("%s: Inspect counts %d, Decode %d", rt, s.Records[rt], lens[rt])
			}
			for i := 0; i < lens[rt]; i++ {
				p := b.Problems(rt, i)
				for _, e := range slices.Concat(p.Errors, p.Warnings) {
					if e.Message == "" {
						t.Fatalf("%s[%d]: empty message on %q", rt, i, e.Field)
					}
				}
			}
		}
		ch := bulk.Resolve(b, chartmogul.DataSource{ID: 1, UUID: "ds_fuzz", AccountID: 1}, &bulk.ExistingRecords{})
		rep := ch.Report
		if rep.Received() != b.Len() {
			t.Fatalf("report received %d of %d records", rep.Received(), b.Len())
		}
		failed := map[chartmogul.RecordType]map[int]bool{}
		for _, f := range rep.Failures {
			if failed[f.Type] == nil {
				failed[f.Type] = map[int]bool{}
			}
			failed[f.Type][f.Index] = true
		}
		written := map[chartmogul.RecordType]int{
			chartmogul.RecordCustomers: len(ch.NewCustomers), chartmogul.RecordPlans: len(ch.NewPlans), chartmogul.RecordInvoices: len(ch.NewInvoices),
			chartmogul.RecordLineItems: len(ch.NewLineItems), chartmogul.RecordTransactions: len(ch.NewTransactions), chartmogul.RecordSubscriptionEvents: len(ch.NewEvents),
		}
		for _, rt := range chartmogul.RecordTypes {
			c := rep.Counts[rt]
			if c.Received != lens[rt] || c.Imported+c.Failed != c.Received {
				t.Fatalf("%s: counts %+v for %d records", rt, *c, lens[rt])
			}
			if len(failed[rt]) != c.Failed {
				t.Fatalf("%s: %d failed, but failures name %d records", rt, c.Failed, len(failed[rt]))
			}
			// Nothing exists yet: every imported record is a new row.
			if written[rt] != c.Imported {
				t.Fatalf("%s: %d imported, %d new rows", rt, c.Imported, written[rt])
			}
		}
		if rep.Plans != *rep.Counts[chartmogul.RecordPlans] {
			t.Fatalf("plans %+v, counts %+v", rep.Plans, *rep.Counts[chartmogul.RecordPlans])
		}
		if len(ch.UpdatedCustomers)+len(ch.UpdatedPlans) != 0 {
			t.Fatal("updates without existing rows")
		}
	})
}
