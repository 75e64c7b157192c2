package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	operatorpb "go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/recurhq/recur/workflows"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// syncCmd starts a sync of a data source, or attaches to the one running:
// the sync's workflow id is the data source's, so there is never a second.
func syncCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("sync", stderr)
	c := commonFlags(fs, getenv)
	var customers listFlag
	fs.Var(&customers, "customer", "sync only this customer external id (repeatable)")
	full := fs.Bool("full", false, "check every customer and send what the ledger says ChartMogul lacks, not only customers whose rows changed")
	dryRun := fs.Bool("dry-run", false, "extract, build and validate everything and report what would be sent; send nothing")
	wait := fs.Bool("wait", false, "wait for the sync to end and print its summary as JSON")
	batch := fs.Int("batch-size", 0, "customers per batch (default 500)")
	concurrency := fs.Int("concurrency", 0, "customers imported at once (default 100)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ds, tc, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()

	id := workflows.SyncID(ds)
	if running, since := isRunning(ctx, tc, id); running {
		fmt.Fprintf(stdout, "A sync of %s is already running (since %s): attaching to it instead of starting another.\n", ds, since)
	}
	in := workflows.SyncInput{DataSource: ds, Customers: customers, Full: *full, DryRun: *dryRun, BatchSize: *batch, Concurrency: *concurrency}
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                c.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            syncSummary(in),
	}
	if hasSearchAttributes(ctx, tc, c.namespace) {
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(workflows.DataSourceAttr.ValueSet(ds))
	}
	run, err := tc.ExecuteWorkflow(ctx, opts, workflows.SyncWorkflowName, in)
	if err != nil {
		return fmt.Errorf("cannot start the sync %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "Sync %s (run %s)\n%s\n", id, run.GetRunID(), c.link(id, run.GetRunID()))
	if !*wait {
		return nil
	}
	var summary workflows.SyncSummary
	if err := run.Get(ctx, &summary); err != nil {
		msg := failureMessage(err)
		fmt.Fprintf(stdout, "The sync failed: %s\n", msg)
		return failedError{msg}
	}
	out, _ := json.MarshalIndent(summary, "", "  ")
	fmt.Fprintf(stdout, "%s\n", out)
	return nil
}

// syncSummary is the one line the UI shows for a sync.
func syncSummary(in workflows.SyncInput) string {
	kind := "Incremental sync"
	switch {
	case in.DryRun:
		kind = "Dry run"
	case in.Full:
		kind = "Full sync"
	}
	s := kind + " of ChartMogul data source " + in.DataSource
	if len(in.Customers) > 0 {
		s += fmt.Sprintf(" (%d customers)", len(in.Customers))
	}
	return s
}

// isRunning reports whether a workflow with the id is running, and since
// when.
func isRunning(ctx context.Context, tc client.Client, id string) (bool, string) {
	d, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return false, ""
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return false, ""
	}
	return true, info.GetStartTime().AsTime().Format("2006-01-02 15:04:05 MST")
}

// hasSearchAttributes reports whether the namespace has Recur's search
// attributes.
func hasSearchAttributes(ctx context.Context, tc client.Client, namespace string) bool {
	resp, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorpb.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return false
	}
	for _, n := range workflows.SearchAttributeNames {
		if _, ok := resp.GetCustomAttributes()[n]; !ok {
			return false
		}
	}
	return true
}

// failureMessage is the sentence inside a workflow's failure: the
// application error an activity wrote for a person.
func failureMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "the sync was cancelled; customers that were running finished their current import"
	}
	return err.Error()
}
