package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// CustomerImportWorkflow imports one customer's records into ChartMogul:
// it extracts the customer's rows from the billing database, builds and
// validates the payload (what ChartMogul already holds is left out; what
// Recur's rules refuse is reported and not sent), submits it, and waits
// until ChartMogul has finished with it. A payload over the request limit
// is split into parts, each sent only after the previous one finished
// processing (ChartMogul's rule for a customer's records). Its id,
// import/<data source>/<customer>, makes two imports of one customer
// impossible at the same time, across syncs, crashes and deploys.
//
// Cancelled from the UI, it finishes the part it is sending (nothing is
// left half-sent) and stops before the next.
func CustomerImportWorkflow(ctx workflow.Context, in CustomerInput) (*CustomerResult, error) {
	if in.CustomerExternalID == "" {
		return nil, temporal.NewNonRetryableApplicationError(
			`customer_external_id is required: start the workflow with {"customer_external_id": "…"}`, ErrInvalidInput, nil)
	}
	settings, err := resolveSettings(ctx, in.Settings, in.DataSource)
	if err != nil {
		return nil, err
	}
	c := &customerImport{in: in, settings: settings, workflowID: workflow.GetInfo(ctx).WorkflowExecution.ID}
	c.result = &CustomerResult{Customer: in.CustomerExternalID, DataSource: settings.DataSource, Outcome: OutcomeRunning}
	if in.Settings == nil && settings.SearchAttributes {
		// A customer started by hand carries no search attributes yet; a
		// sync sets them when it starts the child.
		if err := workflow.UpsertTypedSearchAttributes(ctx,
			DataSourceAttr.ValueSet(settings.DataSource), CustomerAttr.ValueSet(in.CustomerExternalID),
			OutcomeAttr.ValueSet(OutcomeRunning)); err != nil {
			return nil, err
		}
	}
	return c.run(ctx)
}

// customerImport is the state of one CustomerImportWorkflow run.
type customerImport struct {
	in         CustomerInput
	settings   Settings
	workflowID string
	result     *CustomerResult
	// extractID is the claim check to remove when the workflow ends.
	extractID int64
}

// run tells the story: extract, build, send each part, finish.
func (c *customerImport) run(ctx workflow.Context) (*CustomerResult, error) {
	res := c.result
	customer := c.in.CustomerExternalID

	var ex ExtractResult
	if err := workflow.ExecuteLocalActivity(local(ctx, "Extract the rows of customer "+customer),
		ActivityExtract, ExtractInput{Settings: c.settings, Customer: customer, Workflow: c.workflowID, Hash: c.in.Hash}).Get(ctx, &ex); err != nil {
		return c.fail(ctx, err)
	}
	res.Extracted = ex.Counts
	c.extractID = ex.ExtractID
	if ex.Missing {
		res.Outcome = OutcomeRemoved
		res.Message = fmt.Sprintf("customer %q is not in the source's customers relation: nothing was sent, and ChartMogul keeps what it has", customer)
		return c.done(ctx, ex, false)
	}

	var b BuildResult
	if err := workflow.ExecuteLocalActivity(local(ctx, "Validate and build the payload"),
		ActivityBuildPayload, BuildInput{Settings: c.settings, Customer: customer, ExtractID: ex.ExtractID,
			Workflow: c.workflowID, Full: c.in.Full, DryRun: c.in.DryRun}).Get(ctx, &b); err != nil {
		return c.fail(ctx, err)
	}
	res.Unchanged, res.Failed, res.Conflicts = b.Unchanged, b.Failed, b.Conflicts
	res.FailedRecords, res.FailedRecordsMore = b.FailedRecords, b.FailedMore
	res.Warnings, res.ConflictList = b.Warnings, b.ConflictList
	if c.in.DryRun {
		// What a sync would send; nothing leaves the worker.
		res.Sent = b.ToSend
		res.Outcome = OutcomeDryRun
		return c.done(ctx, ex, false)
	}

	sent, err := sendParts(ctx, c.settings, customer, b.Parts)
	res.Imports = sent.imports
	res.Sent, res.Imported = sent.sent, sent.imported
	res.Failed.Add(sent.failed)
	res.FailedRecords = appendCapped(res.FailedRecords, &res.FailedRecordsMore, sent.failedRecords...)
	res.FailedRecordsMore += sent.failedMore
	if err != nil {
		return c.fail(ctx, err)
	}
	if sent.cancelled {
		res.Outcome = OutcomeCancelled
		res.Message = fmt.Sprintf("cancelled after %d of %d parts; the parts sent were imported, the rest is sent at the next sync", len(sent.imports), len(b.Parts))
		if _, err := c.done(ctx, ex, false); err != nil {
			return res, err
		}
		// The result rides in the cancellation's details: the sync still
		// counts what the parts sent imported.
		return res, temporal.NewCanceledError(*res)
	}
	res.Outcome = outcomeOf(res)
	return c.done(ctx, ex, true)
}

// done records the customer's content hash (only when every part was sent:
// the next sync then skips an unchanged customer), removes the claim checks
// and sets the outcome search attribute.
func (c *customerImport) done(ctx workflow.Context, ex ExtractResult, complete bool) (*CustomerResult, error) {
	// A cancelled workflow still cleans up after itself.
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if err := workflow.ExecuteLocalActivity(local(dctx, "Record the outcome and remove the claim checks"),
		ActivityFinish, FinishInput{Settings: c.settings, Customer: c.in.CustomerExternalID, ExtractID: ex.ExtractID,
			Hash: ex.Hash, Workflow: c.workflowID, Complete: complete, DryRun: c.in.DryRun}).Get(dctx, nil); err != nil {
		return c.result, err
	}
	if c.settings.SearchAttributes {
		if err := workflow.UpsertTypedSearchAttributes(dctx, OutcomeAttr.ValueSet(c.result.Outcome)); err != nil {
			return c.result, err
		}
	}
	return c.result, nil
}

// fail ends the workflow with err, the outcome search attribute set to
// failed so that the UI's query for failed customers finds it, and the
// claim checks removed (best effort: the workflow fails with err anyway).
func (c *customerImport) fail(ctx workflow.Context, err error) (*CustomerResult, error) {
	c.result.Outcome = OutcomeFailed
	c.result.Message = errorMessage(err)
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if c.extractID != 0 {
		_ = workflow.ExecuteLocalActivity(local(dctx, "Remove the claim checks"), ActivityFinish,
			FinishInput{Settings: c.settings, Customer: c.in.CustomerExternalID, ExtractID: c.extractID, Workflow: c.workflowID}).Get(dctx, nil)
	}
	if c.settings.SearchAttributes {
		_ = workflow.UpsertTypedSearchAttributes(dctx, OutcomeAttr.ValueSet(OutcomeFailed))
	}
	return nil, err
}

// outcomeOf folds a finished customer's counts into its outcome.
func outcomeOf(res *CustomerResult) string {
	failed := res.Failed.Total()
	switch {
	case failed == 0 && res.Sent.Total() == 0:
		return OutcomeUnchanged
	case failed == 0:
		return OutcomeImported
	case res.Imported.Total() == 0 && res.Unchanged.Total() == 0:
		return OutcomeFailed
	}
	return OutcomePartial
}

// resolveSettings returns the sync's settings, or the worker's defaults
// for an import started by hand.
func resolveSettings(ctx workflow.Context, given *Settings, dataSource string) (Settings, error) {
	if given != nil {
		return *given, nil
	}
	var s Settings
	err := workflow.ExecuteLocalActivity(local(ctx, "Read the worker's configuration"), ActivityConfigure,
		ConfigureInput{DataSource: dataSource}).Get(ctx, &s)
	return s, err
}

// partsSent is what sending a customer's parts came to.
type partsSent struct {
	imports       []ImportRef
	sent          TypeCounts
	imported      TypeCounts
	failed        TypeCounts
	failedRecords []RecordFailure
	failedMore    int
	cancelled     bool
}

// sendParts sends the parts one after another: each is submitted only once
// the previous one's import has finished processing at ChartMogul. When ctx
// is cancelled it finishes the part under way and stops.
func sendParts(ctx workflow.Context, settings Settings, customer string, parts []PartRef) (partsSent, error) {
	var out partsSent
	// Each part runs to its end even when the workflow is cancelled
	// meanwhile: a submitted import is always followed to its outcome.
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	for i, part := range parts {
		if ctx.Err() != nil {
			out.cancelled = true
			return out, nil
		}
		label := fmt.Sprintf("part %d of %d", i+1, len(parts))
		var sub SubmitResult
		if err := workflow.ExecuteLocalActivity(local(dctx, "Submit "+label),
			ActivitySubmit, SubmitInput{Settings: settings, Customer: customer, PartID: part.ID}).Get(dctx, &sub); err != nil {
			return out, err
		}
		out.sent.Add(part.Records)
		poll := PollInput{Settings: settings, Customer: customer, PartID: part.ID, ImportID: sub.ImportID, Window: pollWindow}
		var p PollResult
		if err := workflow.ExecuteLocalActivity(local(dctx, "Poll import "+sub.ImportID),
			ActivityPoll, poll).Get(dctx, &p); err != nil {
			return out, err
		}
		if !p.Finished {
			// ChartMogul takes its time: wait in a heartbeating activity,
			// which resumes where it was after a worker crash.
			if err := workflow.ExecuteActivity(long(dctx, "Wait for import "+sub.ImportID, waitImportBeat),
				ActivityWaitImport, poll).Get(dctx, &p); err != nil {
				return out, err
			}
		}
		out.imports = append(out.imports, ImportRef{Part: i + 1, ID: sub.ImportID, ExternalID: sub.ExternalID,
			Status: p.Status, Records: part.Records.Total(), Customers: sub.Customers})
		out.imported.Add(p.Imported)
		out.failed.Add(p.Failed)
		out.failedRecords = appendCapped(out.failedRecords, &out.failedMore, p.FailedRecords...)
		out.failedMore += p.FailedMore
	}
	return out, nil
}

// appendCapped appends to list up to MaxListed entries, counting the rest
// in more.
func appendCapped[T any](list []T, more *int, items ...T) []T {
	for _, it := range items {
		if len(list) < MaxListed {
			list = append(list, it)
		} else {
			*more++
		}
	}
	return list
}
