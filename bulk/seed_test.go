package bulk_test

import (
	"os"
	"testing"
	"time"

	"github.com/recurhq/recur"
	"github.com/recurhq/recur/bulk"
)

func TestSeedResolvesAsDocumented(t *testing.T) {
	body, err := os.ReadFile("../testdata/seed-bulk-import.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bulk.Decode(body, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	ch := b.Resolve(recur.DataSource{ID: 1, UUID: "ds_x", AccountID: 1}, &recur.ExistingRecords{})
	for _, f := range ch.Report.Failures {
		t.Logf("failure %+v", f)
	}
	for _, f := range ch.Report.Warnings {
		t.Logf("warning %+v", f)
	}
	t.Logf("%d %d %d %d %d %d", len(ch.NewCustomers), len(ch.NewPlans), len(ch.NewInvoices), len(ch.NewLineItems), len(ch.NewTransactions), len(ch.NewEvents))
}
