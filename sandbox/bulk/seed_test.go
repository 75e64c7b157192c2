package bulk_test

import (
	"os"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

func TestSeedResolvesAsDocumented(t *testing.T) {
	body, err := os.ReadFile("../../testdata/seed-bulk-import.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := chartmogul.Decode(body, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	ch := bulk.Resolve(b, chartmogul.DataSource{ID: 1, UUID: "ds_x", AccountID: 1}, &bulk.ExistingRecords{})
	for _, f := range ch.Report.Failures {
		t.Logf("failure %+v", f)
	}
	for _, f := range ch.Report.Warnings {
		t.Logf("warning %+v", f)
	}
	t.Logf("%d %d %d %d %d %d", len(ch.NewCustomers), len(ch.NewPlans), len(ch.NewInvoices), len(ch.NewLineItems), len(ch.NewTransactions), len(ch.NewEvents))
}
