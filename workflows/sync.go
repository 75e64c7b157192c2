package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Defaults of a sync's input.
const (
	DefaultBatchSize   = 500
	DefaultConcurrency = 100
	// maxStartAttempts bounds how often a customer whose previous import is
	// still running is waited for and started again.
	maxStartAttempts = 5
)

// SyncWorkflow syncs one data source: the plans first (customers' line
// items and events refer to them), then the customers of the source in
// batches, each customer in a CustomerImportWorkflow of its own, at most
// Concurrency at once. Between batches it continues as new, carrying the
// running summary, so that its history stays small whatever the number of
// customers. Its id is sync/<data source>.
//
// Incremental by default: a customer whose rows have not changed since its
// last import starts no workflow and sends nothing. The progress query and
// the UI's current details say where it is; the pause and resume signals
// hold it between customers; cancelling it lets the running customers
// finish their current import.
func SyncWorkflow(ctx workflow.Context, in SyncInput) (*SyncSummary, error) {
	s := &syncRun{in: in, imports: map[string]bool{}}
	if err := s.setup(ctx); err != nil {
		return nil, err
	}
	return s.run(ctx)
}

// syncRun is the state of one run of SyncWorkflow.
type syncRun struct {
	in      SyncInput
	state   SyncState
	check   CheckSetupResult
	paused  bool
	running int
	phase   string
	// imports holds the import ids seen in this run, to count requests
	// shared by several customers once.
	imports map[string]bool
}

// setup registers the progress query and the pause/resume signals.
func (s *syncRun) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryProgress, func() (SyncProgress, error) {
		return s.progress(ctx), nil
	}, workflow.QueryHandlerOptions{Description: "Where the sync is: batches and customers done, records sent, an estimate of the time left"}); err != nil {
		return err
	}
	pause := workflow.GetSignalChannel(ctx, SignalPause)
	resume := workflow.GetSignalChannel(ctx, SignalResume)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(pause, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				s.paused = true
				s.report(ctx)
			})
			sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				s.paused = false
				s.report(ctx)
			})
			sel.Select(ctx)
			if ctx.Err() != nil {
				return
			}
		}
	})
	return nil
}

// run tells the story of a sync.
func (s *syncRun) run(ctx workflow.Context) (*SyncSummary, error) {
	if s.in.Carried != nil {
		s.state = *s.in.Carried
	} else {
		if err := s.begin(ctx); err != nil {
			return nil, err
		}
	}
	sum := &s.state.Summary

	s.phase = "customers"
	list, err := s.listCustomers(ctx)
	if err != nil {
		return s.stopped(ctx, err)
	}
	sum.CustomersScanned += list.Scanned
	sum.CustomersUnchanged += list.Unchanged
	if err := s.importBatch(ctx, list.Customers, list.Hashes); err != nil {
		return s.stopped(ctx, err)
	}
	sum.Batches++
	s.state.Cursor = list.Next
	s.report(ctx)
	if !list.Done {
		// Children do not carry over a continue-as-new: every child of the
		// batch has finished by now.
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return s.stopped(ctx, err)
		}
		next := s.in
		next.Carried = &s.state
		return nil, workflow.NewContinueAsNewError(ctx, SyncWorkflowName, next)
	}

	s.phase = "finishing"
	if len(s.in.Customers) == 0 {
		var removed FindRemovedResult
		if err := workflow.ExecuteLocalActivity(local(ctx, "Find customers no longer in the source"), ActivityFindRemoved,
			FindRemovedInput{Settings: s.state.Settings}).Get(ctx, &removed); err != nil {
			return s.stopped(ctx, err)
		}
		sum.CustomersRemoved, sum.RemovedList = removed.Count, removed.Customers
	}
	sum.FinishedAt = workflow.Now(ctx)
	sum.Outcome = syncOutcome(sum)
	sum.Message = syncMessage(sum)
	s.phase = "done"
	s.report(ctx)
	if s.state.Settings.SearchAttributes {
		if err := workflow.UpsertTypedSearchAttributes(ctx, OutcomeAttr.ValueSet(sum.Outcome)); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// begin resolves the settings, checks the setup and syncs the plans: the
// first run of a sync only.
func (s *syncRun) begin(ctx workflow.Context) error {
	s.phase = "checking"
	var settings Settings
	if err := workflow.ExecuteLocalActivity(local(ctx, "Read the worker's configuration"), ActivityConfigure,
		ConfigureInput{DataSource: s.in.DataSource}).Get(ctx, &settings); err != nil {
		return err
	}
	s.state = SyncState{Settings: settings, Summary: SyncSummary{
		DataSource: settings.DataSource, Full: s.in.Full, DryRun: s.in.DryRun, StartedAt: workflow.Now(ctx)}}
	if settings.SearchAttributes {
		if err := workflow.UpsertTypedSearchAttributes(ctx, DataSourceAttr.ValueSet(settings.DataSource),
			OutcomeAttr.ValueSet(OutcomeRunning)); err != nil {
			return err
		}
	}
	// A wrong key, an unknown data source or a malformed source fails the
	// sync here, before anything is sent, with what to fix.
	if err := workflow.ExecuteActivity(setup(ctx, "Check the source relations and find rows that belong to no customer"),
		ActivityCheckSetup, CheckSetupInput{Settings: settings}).Get(ctx, &s.check); err != nil {
		return s.failSetup(ctx, err)
	}
	s.state.SourceCustomers = s.check.SourceCustomers
	sum := &s.state.Summary
	for _, o := range s.check.Orphans {
		sum.Failed.Inc(o.Type, 1)
	}
	sum.RecordsFailed += s.check.OrphansTotal
	sum.FailedRecords = appendCapped(sum.FailedRecords, new(int), s.check.Orphans...)

	s.phase = "plans"
	s.report(ctx)
	plans, err := s.syncPlans(ctx)
	if err != nil {
		return s.failSetup(ctx, err)
	}
	s.fold(plans, "")
	return nil
}

// syncPlans extracts, builds and sends the data source's plans, in the
// sync's own history: they belong to no customer.
func (s *syncRun) syncPlans(ctx workflow.Context) (*CustomerResult, error) {
	settings := s.state.Settings
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	res := &CustomerResult{DataSource: settings.DataSource}
	var ex ExtractResult
	if err := workflow.ExecuteLocalActivity(local(ctx, "Extract the plans"), ActivityExtract,
		ExtractInput{Settings: settings, Workflow: id}).Get(ctx, &ex); err != nil {
		return nil, err
	}
	res.Extracted = ex.Counts
	var b BuildResult
	if err := workflow.ExecuteLocalActivity(local(ctx, "Validate and build the plans' payload"), ActivityBuildPayload,
		BuildInput{Settings: settings, ExtractID: ex.ExtractID, Workflow: id, Full: s.in.Full, DryRun: s.in.DryRun}).Get(ctx, &b); err != nil {
		return nil, err
	}
	res.Unchanged, res.Failed, res.Conflicts = b.Unchanged, b.Failed, b.Conflicts
	res.FailedRecords, res.FailedRecordsMore, res.ConflictList = b.FailedRecords, b.FailedMore, b.ConflictList
	complete := false
	if s.in.DryRun {
		res.Sent = b.ToSend
		res.Outcome = OutcomeDryRun
	} else {
		sent, err := sendParts(ctx, settings, "", b.Parts)
		if err != nil {
			return nil, err
		}
		res.Imports, res.Sent, res.Imported = sent.imports, sent.sent, sent.imported
		res.Failed.Add(sent.failed)
		res.FailedRecords = appendCapped(res.FailedRecords, &res.FailedRecordsMore, sent.failedRecords...)
		res.FailedRecordsMore += sent.failedMore
		res.Outcome = outcomeOf(res)
		complete = !sent.cancelled
	}
	if err := workflow.ExecuteLocalActivity(local(ctx, "Record the plans' outcome"), ActivityFinish,
		FinishInput{Settings: settings, ExtractID: ex.ExtractID, Hash: ex.Hash, Workflow: id,
			Complete: complete, DryRun: s.in.DryRun}).Get(ctx, nil); err != nil {
		return nil, err
	}
	return res, nil
}

// listCustomers reads the next batch of customers to import.
func (s *syncRun) listCustomers(ctx workflow.Context) (ListCustomersResult, error) {
	var list ListCustomersResult
	summary := "Find the customers whose rows changed"
	if s.in.Full {
		summary = "Read the next customers"
	}
	err := workflow.ExecuteLocalActivity(local(ctx, summary), ActivityListCustomers, ListCustomersInput{
		Settings: s.state.Settings, After: s.state.Cursor, Limit: positive(s.in.BatchSize, DefaultBatchSize),
		Only: s.in.Customers, Full: s.in.Full,
	}).Get(ctx, &list)
	return list, err
}

// importBatch runs a CustomerImportWorkflow for each customer, at most
// Concurrency at once, and folds their results into the summary. When the
// sync is cancelled it starts no more and waits for those running.
func (s *syncRun) importBatch(ctx workflow.Context, customers []string, hashes map[string]string) error {
	limit := positive(s.in.Concurrency, DefaultConcurrency)
	var fatal error
	for _, customer := range customers {
		if err := workflow.Await(ctx, func() bool { return fatal != nil || (!s.paused && s.running < limit) }); err != nil {
			break // cancelled: start no more
		}
		if fatal != nil {
			break
		}
		s.running++
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { s.running-- }()
			res, err := s.importCustomer(gctx, customer, hashes[customer])
			if err != nil && errorType(err) == ErrConfiguration && fatal == nil {
				fatal = err
			}
			s.foldChild(customer, res, err)
			s.report(gctx)
		})
	}
	// Children finish their current import even when the sync is
	// cancelled; wait for every one with a context that ignores it.
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	_ = workflow.Await(dctx, func() bool { return s.running == 0 })
	if fatal != nil {
		return fatal
	}
	return ctx.Err()
}

// importCustomer runs one customer's workflow to its end. When the
// customer's previous import is still running (started by an earlier sync
// or by hand), it waits for that one and starts again: never two at once,
// never skipped.
func (s *syncRun) importCustomer(ctx workflow.Context, customer, hash string) (*CustomerResult, error) {
	settings := s.state.Settings
	id := CustomerID(settings.DataSource, customer)
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Cancelling the sync cancels its customers, which finish the
		// import under way first.
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
		StaticSummary:       fmt.Sprintf("Import customer %s into ChartMogul data source %s", customer, settings.DataSource),
	}
	if settings.SearchAttributes {
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(DataSourceAttr.ValueSet(settings.DataSource),
			CustomerAttr.ValueSet(customer), OutcomeAttr.ValueSet(OutcomeRunning))
	}
	in := CustomerInput{CustomerExternalID: customer, DataSource: settings.DataSource, Full: s.in.Full,
		DryRun: s.in.DryRun, SyncID: workflow.GetInfo(ctx).WorkflowExecution.ID, Settings: &settings, Hash: hash}
	for attempt := 1; ; attempt++ {
		cctx := workflow.WithChildOptions(ctx, opts)
		fut := workflow.ExecuteChildWorkflow(cctx, CustomerWorkflowName, in)
		var started workflow.Execution
		err := fut.GetChildWorkflowExecution().Get(ctx, &started)
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) && attempt < maxStartAttempts {
			if err := workflow.ExecuteActivity(long(ctx, "Wait for the running import of customer "+customer, waitWorkflowBeat),
				ActivityWaitWorkflow, WaitWorkflowInput{WorkflowID: id}).Get(ctx, nil); err != nil {
				return nil, err
			}
			continue
		}
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			return nil, temporal.NewApplicationError(fmt.Sprintf(
				"the earlier import of customer %s (%s) was still running after %d waits; it is synced next time", customer, id, maxStartAttempts-1), "RecurCustomerBusy")
		}
		if err != nil {
			return nil, err
		}
		var res CustomerResult
		err = fut.Get(ctx, &res)
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) && canceled.HasDetails() {
			// A cancelled customer says what its sent parts imported.
			_ = canceled.Details(&res)
		}
		return &res, err
	}
}

// foldChild adds one customer's outcome to the summary.
func (s *syncRun) foldChild(customer string, res *CustomerResult, err error) {
	sum := &s.state.Summary
	sum.Customers++
	if err != nil {
		outcome := OutcomeFailed
		if temporal.IsCanceledError(err) {
			outcome = OutcomeCancelled
		}
		if res != nil && res.Outcome != "" && res.Outcome != OutcomeRunning {
			outcome = res.Outcome
		}
		if outcome == OutcomeFailed {
			sum.CustomersFailed++
		}
		if res != nil {
			s.fold(res, customer)
		}
		sum.FailedCustomers = appendCapped(sum.FailedCustomers, new(int), CustomerFailure{
			Customer: customer, Outcome: outcome, Reason: errorMessage(err),
			Workflow: CustomerID(s.state.Settings.DataSource, customer)})
		return
	}
	switch res.Outcome {
	case OutcomeImported, OutcomeUnchanged, OutcomeDryRun:
		sum.CustomersImported++
	case OutcomePartial:
		sum.CustomersPartial++
	case OutcomeFailed:
		sum.CustomersFailed++
	case OutcomeRemoved:
		sum.CustomersRemoved++
		sum.RemovedList = appendCapped(sum.RemovedList, new(int), customer)
	}
	if res.Outcome == OutcomePartial || res.Outcome == OutcomeFailed {
		reason := ""
		if len(res.FailedRecords) > 0 {
			f := res.FailedRecords[0]
			reason = fmt.Sprintf("%d record(s) failed; first: %s %s: %s", res.Failed.Total(), f.Type, f.ExternalID, f.Message)
		}
		sum.FailedCustomers = appendCapped(sum.FailedCustomers, new(int), CustomerFailure{
			Customer: customer, Outcome: res.Outcome, Reason: reason,
			Workflow: CustomerID(s.state.Settings.DataSource, customer)})
	}
	s.fold(res, customer)
}

// fold adds a customer's (or the plans') record counts to the summary.
func (s *syncRun) fold(res *CustomerResult, customer string) {
	sum := &s.state.Summary
	sum.RecordsSent += res.Sent.Total()
	sum.RecordsImported += res.Imported.Total()
	sum.RecordsFailed += res.Failed.Total()
	sum.RecordsUnchanged += res.Unchanged.Total()
	sum.Conflicts += res.Conflicts.Total()
	sum.Sent.Add(res.Sent)
	sum.Failed.Add(res.Failed)
	for _, imp := range res.Imports {
		if !s.imports[imp.ID] {
			s.imports[imp.ID] = true
			sum.Imports++
		}
	}
	more := 0
	sum.FailedRecords = appendCapped(sum.FailedRecords, &more, res.FailedRecords...)
	sum.ConflictList = appendCapped(sum.ConflictList, &more, res.ConflictList...)
}

// failSetup ends a sync whose setup failed, outcome failed.
func (s *syncRun) failSetup(ctx workflow.Context, err error) error {
	if s.state.Settings.SearchAttributes {
		_ = workflow.UpsertTypedSearchAttributes(ctx, OutcomeAttr.ValueSet(OutcomeFailed))
	}
	return err
}

// stopped ends a sync that was cancelled or hit a configuration error,
// with the summary so far in the error's details.
func (s *syncRun) stopped(ctx workflow.Context, err error) (*SyncSummary, error) {
	sum := &s.state.Summary
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	sum.FinishedAt = workflow.Now(dctx)
	if temporal.IsCanceledError(err) || ctx.Err() != nil {
		sum.Outcome = OutcomeCancelled
		sum.Message = fmt.Sprintf("cancelled after %d customers; customers that were running finished their current import, the others are synced next time", sum.Customers)
		if s.state.Settings.SearchAttributes {
			_ = workflow.UpsertTypedSearchAttributes(dctx, OutcomeAttr.ValueSet(OutcomeCancelled))
		}
		return sum, temporal.NewCanceledError(sum)
	}
	sum.Outcome = OutcomeFailed
	if s.state.Settings.SearchAttributes {
		_ = workflow.UpsertTypedSearchAttributes(dctx, OutcomeAttr.ValueSet(OutcomeFailed))
	}
	return nil, err
}

// report updates the UI's current details of the sync.
func (s *syncRun) report(ctx workflow.Context) {
	p := s.progress(ctx)
	// Sprintf rather than Fprintf into a builder: workflowcheck takes any
	// io.Writer for I/O.
	details := "**" + p.Phase + "**"
	if p.Paused {
		details += " (paused: signal `resume` to go on)"
	}
	details += fmt.Sprintf("\n\nbatches done: %d · customers done: %d (failed %d, running %d, unchanged %d) · records sent: %d (failed %d)",
		p.Batches, p.CustomersDone, p.CustomersFailed, p.CustomersRunning, p.CustomersUnchanged, p.RecordsSent, p.RecordsFailed)
	if p.CustomersPerSecond > 0 {
		details += fmt.Sprintf(" · %.1f customers/s", p.CustomersPerSecond)
	}
	if p.ETA != "" {
		details += " · about " + p.ETA + " left"
	}
	workflow.SetCurrentDetails(ctx, details)
}

// progress is the answer of the progress query.
func (s *syncRun) progress(ctx workflow.Context) SyncProgress {
	sum := s.state.Summary
	p := SyncProgress{Phase: s.phase, Paused: s.paused, Batches: sum.Batches, CustomersScanned: sum.CustomersScanned,
		CustomersDone: sum.Customers, CustomersFailed: sum.CustomersFailed, CustomersRunning: s.running,
		CustomersUnchanged: sum.CustomersUnchanged, RecordsSent: sum.RecordsSent, RecordsFailed: sum.RecordsFailed,
		StartedAt: sum.StartedAt, SourceCustomers: s.state.SourceCustomers}
	elapsed := workflow.Now(ctx).Sub(sum.StartedAt).Seconds()
	handled := sum.Customers + sum.CustomersUnchanged
	if elapsed > 0 && handled > 0 {
		p.CustomersPerSecond = float64(sum.Customers) / elapsed
		if total := s.state.Summary.CustomersScanned; p.SourceCustomers > total {
			rate := float64(handled) / elapsed
			left := time.Duration(float64(p.SourceCustomers-handled)/rate) * time.Second
			p.ETA = left.Round(time.Second).String()
		}
	}
	return p
}

// syncOutcome folds a finished sync's counts into its outcome.
func syncOutcome(sum *SyncSummary) string {
	switch {
	case sum.DryRun:
		return OutcomeDryRun
	case sum.CustomersFailed > 0 && sum.CustomersFailed == sum.Customers:
		return OutcomeFailed
	case sum.RecordsFailed > 0 || sum.CustomersFailed > 0 || sum.CustomersPartial > 0:
		return OutcomePartial
	case sum.RecordsSent == 0:
		return OutcomeUnchanged
	}
	return OutcomeImported
}

// syncMessage says what to do about a finished sync, when anything.
func syncMessage(sum *SyncSummary) string {
	var parts []string
	if sum.RecordsFailed > 0 {
		parts = append(parts, fmt.Sprintf("%d records failed: fix them in the source (failed_records says which and why; recur.record_failures lists all) and the next sync sends them", sum.RecordsFailed))
	}
	if sum.Conflicts > 0 {
		parts = append(parts, fmt.Sprintf("%d records changed after ChartMogul imported them and were not sent (conflict_list; recur.conflicts lists all): ChartMogul keeps invoices, line items, transactions and events as first imported; change them in ChartMogul, or delete them there and run a full sync", sum.Conflicts))
	}
	if sum.CustomersRemoved > 0 {
		parts = append(parts, fmt.Sprintf("%d customers ChartMogul holds are no longer in the source (removed_customers): Recur never deletes; remove them in ChartMogul if they should go", sum.CustomersRemoved))
	}
	return strings.Join(parts, "; ")
}

// positive returns v, or def when v is not positive.
func positive(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
