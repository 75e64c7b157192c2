package bulk_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/gen"
)

// TestSplitterPacksCustomersWhole splits a generated payload into requests
// far below its size and checks that every request is under the limit,
// decodes, carries each customer's records whole (every reference resolves
// inside its own request, apart from plans, which the first request
// carries), and that nothing is lost or repeated.
func TestSplitterPacksCustomersWhole(t *testing.T) {
	payload, st, err := gen.Payload(gen.Options{Customers: 300})
	if err != nil {
		t.Fatal(err)
	}
	sp := chartmogul.NewSplitter()
	if err := sp.ReadJSON(bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	if sp.Records() != st.Records() {
		t.Fatalf("read %d records, the payload has %d", sp.Records(), st.Records())
	}
	const limit = 200_000
	chunks, err := sp.Pack(limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 5 {
		t.Fatalf("%d chunks for a %d-byte payload under a %d-byte limit", len(chunks), len(payload), limit)
	}
	seenCustomers := map[string]bool{}
	total := 0
	ids := map[string]bool{}
	for i, c := range chunks {
		if len(c.Body) > limit {
			t.Errorf("chunk %d is %d bytes, over the limit", i, len(c.Body))
		}
		if ids[c.ExternalID] {
			t.Errorf("chunk %d repeats external id %s", i, c.ExternalID)
		}
		ids[c.ExternalID] = true
		b, err := chartmogul.Decode(c.Body, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("chunk %d does not decode: %v", i, err)
		}
		if b.ExternalID != c.ExternalID || b.Len() != c.Records {
			t.Errorf("chunk %d: external id %q, %d records; want %q, %d", i, b.ExternalID, b.Len(), c.ExternalID, c.Records)
		}
		total += b.Len()
		if i > 0 && len(b.Plans) > 0 {
			t.Errorf("chunk %d carries plans; only the first one should", i)
		}
		if i == 0 && len(b.Plans) != st.Plans {
			t.Errorf("the first chunk carries %d plans, want %d", len(b.Plans), st.Plans)
		}
		// Resolved against nothing but the plans, every record must be
		// imported: its customer and invoice travel with it.
		ex := &bulk.ExistingRecords{Plans: map[string]*chartmogul.Plan{}}
		first, _ := chartmogul.Decode(chunks[0].Body, time.Now())
		for k := range first.Plans {
			ex.Plans[first.Plans[k].ExternalID] = &first.Plans[k]
		}
		ch := bulk.Resolve(b, chartmogul.DataSource{ID: 1, UUID: "ds_x", AccountID: 1}, ex)
		if len(ch.Report.Failures) > 0 {
			t.Errorf("chunk %d: %d failures, first %+v", i, len(ch.Report.Failures), ch.Report.Failures[0])
		}
		for _, cus := range b.Customers {
			if seenCustomers[cus.ExternalID] {
				t.Errorf("customer %s travels in two chunks", cus.ExternalID)
			}
			seenCustomers[cus.ExternalID] = true
		}
	}
	if total != st.Records() || len(seenCustomers) != st.Customers {
		t.Errorf("chunks hold %d records and %d customers; want %d and %d", total, len(seenCustomers), st.Records(), st.Customers)
	}
	again, _ := sp.Pack(limit)
	if len(again) != len(chunks) || again[0].ExternalID != chunks[0].ExternalID {
		t.Errorf("packing twice gives other chunks: the external ids must follow the content")
	}
}

func TestSplitterRefusesACustomerOverTheLimit(t *testing.T) {
	payload, _, _ := gen.Payload(gen.Options{Customers: 3})
	sp := chartmogul.NewSplitter()
	if err := sp.ReadJSON(bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	_, err := sp.Pack(2000)
	if err == nil || !strings.Contains(err.Error(), "must travel in one request") {
		t.Fatalf("Pack(2000) = %v; want an error naming the customer too large for one request", err)
	}
}

func TestSplitterReadsCSV(t *testing.T) {
	sp := chartmogul.NewSplitter()
	customers := "external_id,name,country\nc1,Acme,US\nc2,\"Beta, Inc.\",DE\n"
	invoices := "external_id,customer_external_id,date,currency\ni1,c1,2024-01-01,USD\n"
	items := "invoice_external_id,type,amount_in_cents,quantity,prorated\ni1,one_time,1500,2,false\n"
	for _, f := range []struct {
		t    chartmogul.RecordType
		body string
	}{{chartmogul.RecordCustomers, customers}, {chartmogul.RecordInvoices, invoices}, {chartmogul.RecordLineItems, items}} {
		if err := sp.ReadCSV(f.t, strings.NewReader(f.body), string(f.t)+".csv"); err != nil {
			t.Fatal(err)
		}
	}
	chunks, err := sp.Pack(5 << 20)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("Pack = %d chunks, %v", len(chunks), err)
	}
	var p struct {
		Customers []map[string]any `json:"customers"`
		LineItems []map[string]any `json:"line_items"`
	}
	if err := json.Unmarshal(chunks[0].Body, &p, json.RejectUnknownMembers(false)); err != nil {
		t.Fatal(err)
	}
	if len(p.Customers) != 2 || p.Customers[1]["name"] != "Beta, Inc." {
		t.Errorf("customers %v", p.Customers)
	}
	if li := p.LineItems[0]; li["amount_in_cents"] != float64(1500) || li["quantity"] != float64(2) || li["prorated"] != false {
		t.Errorf("line item %v: numbers and booleans must become JSON numbers and booleans", li)
	}
	err = sp.ReadCSV(chartmogul.RecordCustomers, strings.NewReader("external_id,nickname\nc3,x\n"), "customers.csv")
	if err == nil || !strings.Contains(err.Error(), `customers.csv: column "nickname" is not a field of customers`) {
		t.Errorf("unknown column: %v", err)
	}
}

// TestFieldsMatchTheDecoder checks that every field the CSV reader knows is
// one the decoder accepts without calling it unknown.
func TestFieldsMatchTheDecoder(t *testing.T) {
	for rt, fields := range chartmogul.Fields {
		for name, kind := range fields {
			v := `"x"`
			switch kind {
			case chartmogul.KindInteger:
				v = "1"
			case chartmogul.KindBoolean:
				v = "true"
			case chartmogul.KindDate:
				v = `"2024-01-01"`
			}
			b, err := chartmogul.Decode([]byte(`{"`+string(rt)+`":[{"`+name+`":`+v+`}]}`), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range b.Problems(rt, 0).Warnings {
				if strings.Contains(w.Message, "is not a field") {
					t.Errorf("%s.%s: the decoder does not know it: %s", rt, name, w.Message)
				}
			}
		}
	}
}
