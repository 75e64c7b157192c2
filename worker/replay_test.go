package main

// The determinism guard: histories recorded from real runs of every
// workflow type are kept in testdata/histories and replayed against the
// current workflow code. A change that would break running workflows fails
// here; put it behind workflow.GetVersion (README).

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/recurhq/recur/starter/demo"
	"github.com/recurhq/recur/workflows"
)

// historiesDir holds the recorded histories, one JSON file per workflow run
// as `temporal workflow show --output json` exports it.
var historiesDir = filepath.Join("..", "testdata", "histories")

// replay replays one history file with the current workflow code.
func replay(t *testing.T, file string) {
	t.Helper()
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.SyncWorkflow, workflow.RegisterOptions{Name: workflows.SyncWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.CustomerImportWorkflow, workflow.RegisterOptions{Name: workflows.CustomerWorkflowName})
	if err := r.ReplayWorkflowHistoryFromJSONFile(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), file); err != nil {
		t.Errorf("%s no longer replays with the current workflow code (put the change behind workflow.GetVersion): %v", filepath.Base(file), err)
	}
}

// TestRecordedHistoriesReplay replays every recorded history.
func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, f := range files {
		kind, _, _ := strings.Cut(filepath.Base(f), ".")
		kinds[kind] = true
		replay(t, f)
	}
	// Every kind of run the guard promises must be there.
	for _, want := range []string{"sync-continued-as-new", "sync-last-run", "customer-split", "customer-packed", "customer-failed-records"} {
		if !kinds[want] {
			t.Errorf("testdata/histories has no %s history; record them with RECUR_RECORD_HISTORIES=1 go test -run TestHistoriesOfEveryKindReplay ./worker", want)
		}
	}
}

// TestHistoriesOfEveryKindReplay runs a sync that continues as new, with a
// customer split into parts, customers packed into shared requests and a
// customer with failed records, and replays every run it made. With
// RECUR_RECORD_HISTORIES=1 it writes them to testdata/histories.
func TestHistoriesOfEveryKindReplay(t *testing.T) {
	w := startWorker(t)
	w.demo(25, func(o *demo.Options) { o.LargeCustomerInvoices = 20000 })
	_, badCustomer := badRows(w)
	sum := w.mustSync(workflows.SyncInput{BatchSize: 10})
	if sum.Batches < 3 {
		t.Fatalf("the sync ran %d batches; want at least 3 to record continue-as-new", sum.Batches)
	}
	ctx := context.Background()
	dir := t.TempDir()
	if os.Getenv("RECUR_RECORD_HISTORIES") != "" {
		dir = historiesDir
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range old {
			os.Remove(f)
		}
	}
	write := func(name string, h *historypb.History) {
		t.Helper()
		b, err := protojson.MarshalOptions{Indent: " "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		replay(t, f)
	}

	// The sync's runs, in order: all but the last continued as new.
	runs := w.histories("WorkflowId = '" + workflows.SyncID(w.cfg.dataSource) + "'")
	var histories []*historypb.History
	for _, r := range runs {
		id, run, _ := strings.Cut(r, "\x00")
		histories = append(histories, w.exportHistory(id, run))
	}
	slices.SortFunc(histories, func(a, b *historypb.History) int {
		return a.Events[0].GetEventTime().AsTime().Compare(b.Events[0].GetEventTime().AsTime())
	})
	for i, h := range histories {
		last := h.Events[len(h.Events)-1]
		if i < len(histories)-1 {
			if last.GetWorkflowExecutionContinuedAsNewEventAttributes() == nil {
				t.Fatalf("run %d of the sync did not continue as new", i+1)
			}
			if i == 0 {
				write("sync-continued-as-new.first", h)
			}
			continue
		}
		write("sync-last-run.third", h)
	}

	customer := func(id string) (*historypb.History, workflows.CustomerResult) {
		t.Helper()
		var res workflows.CustomerResult
		if err := w.r.temporal.GetWorkflow(ctx, workflows.CustomerID(w.cfg.dataSource, id), "").Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		return w.exportHistory(workflows.CustomerID(w.cfg.dataSource, id), ""), res
	}
	h, res := customer(demo.LargeCustomerID)
	if len(res.Imports) < 3 {
		t.Fatalf("the large customer went in %d parts", len(res.Imports))
	}
	write("customer-split.cus_large", h)
	h, res = customer(badCustomer)
	if res.Failed.Total() == 0 {
		t.Fatalf("customer %s has no failed records", badCustomer)
	}
	write("customer-failed-records."+badCustomer, h)
	for _, c := range customersOf(w, 0, 25) {
		if c == badCustomer || c == demo.LargeCustomerID {
			continue
		}
		if h, res := customer(c); len(res.Imports) == 1 && res.Imports[0].Customers > 1 {
			write("customer-packed."+c, h)
			return
		}
	}
	t.Fatal("no customer shared its request with others: packing did not happen")
}
