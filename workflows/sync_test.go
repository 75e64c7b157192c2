package workflows_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/recurhq/recur/workflows"
)

// syncRun is one run of SyncWorkflow in a test environment.
type syncRun struct {
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	children []string // ids of the child workflows started, in order
}

// startedChildren returns the ids of the children started so far.
func (r *syncRun) startedChildren() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.children...)
}

// newSync prepares a run of SyncWorkflow against b; setup (delayed
// callbacks, interceptors) goes between it and execute.
func newSync(t *testing.T, b *backend) *syncRun {
	t.Helper()
	r := &syncRun{env: newEnv(t, b)}
	startAs(r.env, workflows.SyncID(testDataSource))
	r.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.children = append(r.children, info.WorkflowExecution.ID)
	})
	return r
}

// execute runs the sync with in to its end.
func (r *syncRun) execute(t *testing.T, in workflows.SyncInput) {
	t.Helper()
	r.env.ExecuteWorkflow(workflows.SyncWorkflowName, in)
	require.True(t, r.env.IsWorkflowCompleted())
}

// summary returns the summary of a sync that completed.
func (r *syncRun) summary(t *testing.T) workflows.SyncSummary {
	t.Helper()
	require.NoError(t, r.env.GetWorkflowError())
	var sum workflows.SyncSummary
	require.NoError(t, r.env.GetWorkflowResult(&sum))
	return sum
}

// progress asks the running sync where it is.
func (r *syncRun) progress(t *testing.T) workflows.SyncProgress {
	t.Helper()
	v, err := r.env.QueryWorkflow(workflows.QueryProgress)
	require.NoError(t, err)
	var p workflows.SyncProgress
	require.NoError(t, v.Get(&p))
	return p
}

// oneBatch scripts the source as one batch of these customers.
func oneBatch(b *backend, customers ...string) {
	b.batches[""] = workflows.ListCustomersResult{Customers: customers, Scanned: len(customers),
		Next: customers[len(customers)-1], Done: true}
}

func childID(customer string) string { return workflows.CustomerID(testDataSource, customer) }

func TestSync_BatchesContinueAsNewCarryingTheSummary(t *testing.T) {
	b := newBackend()
	b.check = workflows.CheckSetupResult{SourceCustomers: 7}
	b.customers[""] = &fakeCustomer{extracted: workflows.TypeCounts{Plans: 3}, parts: []workflows.TypeCounts{{Plans: 3}}}
	b.batches[""] = workflows.ListCustomersResult{Customers: []string{"c1", "c2"}, Scanned: 3, Unchanged: 1, Next: "c2"}
	b.batches["c2"] = workflows.ListCustomersResult{Customers: []string{"c4"}, Scanned: 2, Unchanged: 1, Next: "c4"}
	b.batches["c4"] = workflows.ListCustomersResult{Customers: []string{"c5", "c6"}, Scanned: 2, Next: "c6", Done: true}
	// c1 and c2 were packed in one request, so were c5 and c6; c4 needs two.
	b.customer("c1").imports = []string{"imp-shared-1"}
	b.customer("c2").imports = []string{"imp-shared-1"}
	b.customer("c4").parts = []workflows.TypeCounts{{Customers: 1, Invoices: 2}, {Invoices: 3}}
	b.customer("c5").imports = []string{"imp-shared-3"}
	b.customer("c6").imports = []string{"imp-shared-3"}
	b.removed = workflows.FindRemovedResult{Count: 1, Customers: []string{"old"}}

	in := workflows.SyncInput{BatchSize: 2, Concurrency: 2}
	var runs []*syncRun
	var carried []workflows.SyncState
	for run := 1; ; run++ {
		require.LessOrEqual(t, run, 3, "the sync should end after its third batch")
		r := newSync(t, b)
		runs = append(runs, r)
		r.execute(t, in)
		err := r.env.GetWorkflowError()
		if err == nil {
			break
		}
		var next *workflow.ContinueAsNewError
		require.ErrorAs(t, err, &next, "run %d", run)
		require.Equal(t, workflows.SyncWorkflowName, next.WorkflowType.Name)
		in = workflows.SyncInput{}
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(next.Input, &in))
		require.NotNil(t, in.Carried)
		carried = append(carried, *in.Carried)
		require.Equal(t, 2, in.BatchSize, "the person's input goes on")
		require.Equal(t, 2, in.Concurrency)
	}
	require.Len(t, runs, 3)

	// What the first run hands the second.
	first := carried[0]
	require.Equal(t, "c2", first.Cursor)
	require.Equal(t, testSettings, first.Settings)
	require.Equal(t, 7, first.SourceCustomers)
	require.Equal(t, 1, first.Summary.Batches)
	require.Equal(t, 2, first.Summary.Customers)
	require.Equal(t, 3, first.Summary.CustomersScanned)
	require.Equal(t, 1, first.Summary.CustomersUnchanged)
	require.Equal(t, 3+3+3, first.Summary.RecordsSent, "the plans and c1, c2")
	require.Equal(t, 2, first.Summary.Imports, "the plans' import and the one c1 and c2 shared")
	require.Equal(t, t0, first.Summary.StartedAt.UTC())
	second := carried[1]
	require.Equal(t, "c4", second.Cursor)
	require.Equal(t, 2, second.Summary.Batches)
	require.Equal(t, 3, second.Summary.Customers)

	// Each run reads from where the previous one stopped.
	var afters []string
	for _, c := range b.callsOf(workflows.ActivityListCustomers) {
		li := c.Input.(workflows.ListCustomersInput)
		require.Equal(t, 2, li.Limit)
		afters = append(afters, li.After)
	}
	require.Equal(t, []string{"", "c2", "c4"}, afters)
	require.Equal(t, []string{childID("c1"), childID("c2")}, sortedCopy(runs[0].startedChildren()))
	require.Equal(t, []string{childID("c4")}, runs[1].startedChildren())
	require.Equal(t, []string{childID("c5"), childID("c6")}, sortedCopy(runs[2].startedChildren()))

	// The setup and the plans belong to the first run only.
	require.Len(t, b.callsOf(workflows.ActivityConfigure), 1)
	require.Len(t, b.callsOf(workflows.ActivityCheckSetup), 1)
	require.Equal(t, []string{"Extract()", "BuildPayload()", "Submit(#1)", "Poll(#1)", "Finish()"}, names(b.customerCalls("",
		workflows.ActivityExtract, workflows.ActivityBuildPayload, workflows.ActivitySubmit, workflows.ActivityPoll, workflows.ActivityFinish)))
	require.Equal(t, workflows.SyncID(testDataSource), b.customerCalls("")[0].Workflow)
	require.Len(t, b.callsOf(workflows.ActivityFindRemoved), 1, "removed customers are looked for once, at the end")

	sum := runs[2].summary(t)
	require.Equal(t, workflows.OutcomeImported, sum.Outcome)
	require.Equal(t, testDataSource, sum.DataSource)
	require.Equal(t, 3, sum.Batches)
	require.Equal(t, 5, sum.Customers)
	require.Equal(t, 5, sum.CustomersImported)
	require.Equal(t, 7, sum.CustomersScanned)
	require.Equal(t, 2, sum.CustomersUnchanged)
	require.Zero(t, sum.CustomersFailed)
	require.Equal(t, 3+3*4+6, sum.RecordsSent)
	require.Equal(t, sum.RecordsSent, sum.RecordsImported)
	require.Equal(t, workflows.TypeCounts{Customers: 5, Plans: 3, Invoices: 13}, sum.Sent)
	require.Equal(t, 5, sum.Imports, "imp-plans-1, imp-shared-1, imp-c4-1, imp-c4-2, imp-shared-3")
	require.Equal(t, 1, sum.CustomersRemoved)
	require.Equal(t, []string{"old"}, sum.RemovedList)
	require.Contains(t, sum.Message, "1 customers ChartMogul holds are no longer in the source")
	require.Equal(t, t0, sum.StartedAt.UTC())
	require.False(t, sum.FinishedAt.IsZero())
}

func TestSync_IncrementalWithNothingChangedStartsNoCustomer(t *testing.T) {
	b := newBackend()
	b.customers[""] = &fakeCustomer{extracted: workflows.TypeCounts{Plans: 2},
		build: workflows.BuildResult{Unchanged: workflows.TypeCounts{Plans: 2}}}
	b.batches[""] = workflows.ListCustomersResult{Scanned: 4, Unchanged: 4, Next: "c4", Done: true}

	r := newSync(t, b)
	r.execute(t, workflows.SyncInput{})
	sum := r.summary(t)

	require.Empty(t, r.startedChildren())
	require.Empty(t, b.callsOf(workflows.ActivitySubmit, workflows.ActivityPoll))
	require.Equal(t, workflows.OutcomeUnchanged, sum.Outcome)
	require.Equal(t, 4, sum.CustomersUnchanged)
	require.Equal(t, 4, sum.CustomersScanned)
	require.Zero(t, sum.Customers)
	require.Zero(t, sum.RecordsSent)
	require.Equal(t, 2, sum.RecordsUnchanged)
	require.Equal(t, 1, sum.Batches)
	require.Empty(t, sum.Message)
	li := b.callsOf(workflows.ActivityListCustomers)[0].Input.(workflows.ListCustomersInput)
	require.False(t, li.Full, "incremental by default")
	require.Equal(t, workflows.DefaultBatchSize, li.Limit)
}

func TestSync_FailedRecordsAreSurfacedAndTheSyncCompletes(t *testing.T) {
	b := newBackend()
	oneBatch(b, "c1", "c2")
	failed := workflows.RecordFailure{Customer: "c1", Type: workflows.TypeInvoices, ExternalID: "inv-2",
		Message: "The plan with uuid pl_gone could not be found", Import: "imp-c1-1"}
	b.customer("c1").polls = map[int][]workflows.PollResult{1: {{
		Finished: true, Status: "completed",
		Imported: workflows.TypeCounts{Customers: 1, Invoices: 1},
		Failed:   workflows.TypeCounts{Invoices: 1}, FailedRecords: []workflows.RecordFailure{failed},
	}}}

	r := newSync(t, b)
	r.execute(t, workflows.SyncInput{})
	sum := r.summary(t)

	require.Equal(t, workflows.OutcomePartial, sum.Outcome)
	require.Equal(t, 2, sum.Customers)
	require.Equal(t, 1, sum.CustomersPartial)
	require.Equal(t, 1, sum.CustomersImported)
	require.Zero(t, sum.CustomersFailed)
	require.Equal(t, 1, sum.RecordsFailed)
	require.Equal(t, 5, sum.RecordsImported)
	require.Equal(t, workflows.TypeCounts{Invoices: 1}, sum.Failed)
	require.Equal(t, []workflows.RecordFailure{failed}, sum.FailedRecords)
	require.Equal(t, []workflows.CustomerFailure{{
		Customer: "c1", Outcome: workflows.OutcomePartial, Workflow: childID("c1"),
		Reason: "1 record(s) failed; first: invoices inv-2: The plan with uuid pl_gone could not be found",
	}}, sum.FailedCustomers)
	require.Contains(t, sum.Message, "1 records failed: fix them in the source")
}

func TestSync_RefusedCustomerFailsAloneWithChartMogulsMessage(t *testing.T) {
	b := newBackend()
	oneBatch(b, "c1", "c2", "c3")
	const msg = "ChartMogul refused the request (422): customers[0].country: is not a valid country code"
	b.customer("c2").submitErr = map[int]error{1: temporal.NewNonRetryableApplicationError(msg, workflows.ErrRefused, nil)}

	r := newSync(t, b)
	r.execute(t, workflows.SyncInput{Concurrency: 1})
	sum := r.summary(t)

	require.Equal(t, workflows.OutcomePartial, sum.Outcome)
	require.Equal(t, 3, sum.Customers)
	require.Equal(t, 1, sum.CustomersFailed)
	require.Equal(t, 2, sum.CustomersImported)
	require.Equal(t, []workflows.CustomerFailure{{
		Customer: "c2", Outcome: workflows.OutcomeFailed, Reason: msg, Workflow: childID("c2"),
	}}, sum.FailedCustomers)
	require.Len(t, b.customerCalls("c3", workflows.ActivityFinish), 1, "the customer after the refused one is imported")
	require.Equal(t, 6, sum.RecordsSent, "c1 and c3")
}

func TestSync_ConfigurationErrorInACustomerStopsTheSync(t *testing.T) {
	b := newBackend()
	oneBatch(b, "c1", "c2", "c3", "c4")
	const msg = `the source relation chartmogul.invoices has no column "customer_external_id"; known columns: external_id, date, currency`
	b.customer("c2").extractErr = temporal.NewNonRetryableApplicationError(msg, workflows.ErrConfiguration, nil)

	r := newSync(t, b)
	r.execute(t, workflows.SyncInput{Concurrency: 1})

	app := appError(t, r.env.GetWorkflowError())
	require.Equal(t, msg, app.Message())
	require.Equal(t, workflows.ErrConfiguration, app.Type())
	require.Equal(t, []string{childID("c1"), childID("c2")}, r.startedChildren(), "no customer starts after it")
	require.Empty(t, b.customerCalls("c3"))
	require.Empty(t, b.callsOf(workflows.ActivityFindRemoved))
}

func TestSync_SetupErrorFailsBeforeAnyCustomer(t *testing.T) {
	b := newBackend()
	oneBatch(b, "c1")
	const msg = "ChartMogul refused the API key (401): check CHARTMOGUL_API_KEY"
	b.setupErr = temporal.NewNonRetryableApplicationError(msg, workflows.ErrConfiguration, nil)

	r := newSync(t, b)
	r.execute(t, workflows.SyncInput{})

	app := appError(t, r.env.GetWorkflowError())
	require.Equal(t, msg, app.Message())
	require.Equal(t, []string{"Configure()", "CheckSetup()"}, names(b.callsOf()), "nothing read, nothing sent")
	require.Empty(t, r.startedChildren())
}

func TestSync_DryRunBuildsEverythingAndSendsNothing(t *testing.T) {
	b := newBackend()
	b.customers[""] = &fakeCustomer{extracted: workflows.TypeCounts{Plans: 2}, parts: []workflows.TypeCounts{{Plans: 2}}}
	oneBatch(b, "c1", "c2")
	b.customer("c2").parts = []workflows.TypeCounts{{Customers: 1, Invoices: 4}, {Invoices: 6}}

	r := newSync(t, b)
	r.execute(t, workflows.SyncInput{DryRun: true})
	sum := r.summary(t)

	require.Empty(t, b.callsOf(workflows.ActivitySubmit, workflows.ActivityPoll, workflows.ActivityWaitImport))
	builds := b.callsOf(workflows.ActivityBuildPayload)
	require.Len(t, builds, 3, "the plans and two customers")
	for _, c := range builds {
		require.True(t, c.Input.(workflows.BuildInput).DryRun, "%s", c)
	}
	for _, c := range b.callsOf(workflows.ActivityFinish) {
		fin := c.Input.(workflows.FinishInput)
		require.True(t, fin.DryRun, "%s", c)
		require.False(t, fin.Complete, "%s records no hash", c)
	}
	require.Equal(t, workflows.OutcomeDryRun, sum.Outcome)
	require.True(t, sum.DryRun)
	require.Equal(t, 2+3+11, sum.RecordsSent, "what would be sent: the builds' ToSend")
	require.Equal(t, workflows.TypeCounts{Customers: 2, Plans: 2, Invoices: 12}, sum.Sent)
	require.Zero(t, sum.Imports)
	require.Zero(t, sum.RecordsImported)
}

func TestSync_CustomerMissingFromTheSourceIsReportedRemoved(t *testing.T) {
	b := newBackend()
	b.batches[""] = workflows.ListCustomersResult{Customers: []string{"c1", "gone"}, Scanned: 2, Next: "gone", Done: true}
	b.customer("gone").missing = true

	r := newSync(t, b)
	r.execute(t, workflows.SyncInput{Customers: []string{"c1", "gone"}})
	sum := r.summary(t)

	require.Equal(t, []string{"c1", "gone"}, b.callsOf(workflows.ActivityListCustomers)[0].Input.(workflows.ListCustomersInput).Only)
	require.Empty(t, b.customerCalls("gone", workflows.ActivityBuildPayload, workflows.ActivitySubmit))
	require.Empty(t, b.callsOf(workflows.ActivityFindRemoved), "a sync of chosen customers does not look for others")
	require.Equal(t, 2, sum.Customers)
	require.Equal(t, 1, sum.CustomersImported)
	require.Equal(t, 1, sum.CustomersRemoved)
	require.Equal(t, []string{"gone"}, sum.RemovedList)
	require.Contains(t, sum.Message, "1 customers ChartMogul holds are no longer in the source (removed_customers)")
}

func TestSync_ProgressQueryWhileCustomersRun(t *testing.T) {
	b := newBackend()
	b.check = workflows.CheckSetupResult{SourceCustomers: 10}
	oneBatch(b, "c1", "c2", "c3")
	b.delays[workflows.ActivityPoll] = 64 * time.Second

	r := newSync(t, b)
	var at30s, at100s workflows.SyncProgress
	r.env.RegisterDelayedCallback(func() { at30s = r.progress(t) }, 30*time.Second)
	r.env.RegisterDelayedCallback(func() { at100s = r.progress(t) }, 100*time.Second)
	r.execute(t, workflows.SyncInput{Concurrency: 2})
	sum := r.summary(t)

	// c1 and c2 run from 0 to 64 s, c3 from 64 s to 128 s.
	require.Equal(t, workflows.SyncProgress{
		Phase: "customers", CustomersScanned: 3, CustomersRunning: 2, SourceCustomers: 10, StartedAt: t0,
	}, normalized(at30s))
	require.Equal(t, workflows.SyncProgress{
		Phase: "customers", CustomersScanned: 3, CustomersDone: 2, CustomersRunning: 1, RecordsSent: 6,
		SourceCustomers: 10, StartedAt: t0, CustomersPerSecond: 2.0 / 100, ETA: "6m40s",
	}, normalized(at100s))

	done := r.progress(t)
	require.Equal(t, "done", done.Phase)
	require.Equal(t, 1, done.Batches)
	require.Equal(t, 3, done.CustomersDone)
	require.Zero(t, done.CustomersRunning)
	require.Equal(t, t0.Add(128*time.Second), sum.FinishedAt.UTC())
}

// normalized puts a progress's time in UTC, for comparisons.
func normalized(p workflows.SyncProgress) workflows.SyncProgress {
	p.StartedAt = p.StartedAt.UTC()
	return p
}

func TestSync_PauseHoldsCustomersUntilResume(t *testing.T) {
	b := newBackend()
	oneBatch(b, "c1", "c2")
	b.delays[workflows.ActivityListCustomers] = time.Minute // the batch arrives after the pause
	b.delays[workflows.ActivityPoll] = time.Minute

	r := newSync(t, b)
	var beforeAny, betweenCustomers workflows.SyncProgress
	var startedBeforeAny, startedBetween []string
	// Paused before the first customer starts.
	r.env.RegisterDelayedCallback(func() { r.env.SignalWorkflow(workflows.SignalPause, nil) }, 10*time.Second)
	r.env.RegisterDelayedCallback(func() {
		beforeAny, startedBeforeAny = r.progress(t), r.startedChildren()
	}, 5*time.Minute)
	r.env.RegisterDelayedCallback(func() { r.env.SignalWorkflow(workflows.SignalResume, nil) }, 10*time.Minute)
	// Paused again while c1 runs: c1 finishes, c2 waits.
	r.env.RegisterDelayedCallback(func() { r.env.SignalWorkflow(workflows.SignalPause, nil) }, 10*time.Minute+30*time.Second)
	r.env.RegisterDelayedCallback(func() {
		betweenCustomers, startedBetween = r.progress(t), r.startedChildren()
	}, 15*time.Minute)
	r.env.RegisterDelayedCallback(func() { r.env.SignalWorkflow(workflows.SignalResume, nil) }, 20*time.Minute)
	r.execute(t, workflows.SyncInput{Concurrency: 1})
	sum := r.summary(t)

	require.True(t, beforeAny.Paused)
	require.Zero(t, beforeAny.CustomersRunning)
	require.Equal(t, 2, beforeAny.CustomersScanned, "the batch was read")
	require.Empty(t, startedBeforeAny, "no customer starts while paused")

	require.True(t, betweenCustomers.Paused)
	require.Equal(t, 1, betweenCustomers.CustomersDone, "the running customer finished")
	require.Zero(t, betweenCustomers.CustomersRunning)
	require.Equal(t, []string{childID("c1")}, startedBetween)

	require.Equal(t, t0.Add(10*time.Minute), b.customerCalls("c1", workflows.ActivityExtract)[0].At, "c1 starts at the first resume")
	require.Equal(t, t0.Add(20*time.Minute), b.customerCalls("c2", workflows.ActivityExtract)[0].At, "c2 starts at the second resume")
	require.Equal(t, workflows.OutcomeImported, sum.Outcome)
	require.Equal(t, 2, sum.CustomersImported)
}

func TestSync_CancelledWhileACustomerPollsFinishesThePartAndEndsCancelled(t *testing.T) {
	b := newBackend()
	oneBatch(b, "c1", "c2", "c3")
	threeParts(b)
	b.delays[workflows.ActivityPoll] = 30 * time.Second

	r := newSync(t, b)
	// c1's part 1 is submitted at 0, its poll answers at 30 s.
	r.env.RegisterDelayedCallback(r.env.CancelWorkflow, 10*time.Second)
	r.execute(t, workflows.SyncInput{Concurrency: 1})

	err := r.env.GetWorkflowError()
	require.Error(t, err)
	require.True(t, temporal.IsCanceledError(err), "want cancelled, got %v", err)

	require.Equal(t, []string{"Submit(c1#1)", "Poll(c1#1)", "Finish(c1)"},
		names(b.customerCalls("c1", workflows.ActivitySubmit, workflows.ActivityPoll, workflows.ActivityFinish)),
		"the part in flight gets its poll, no further part is sent")
	require.Equal(t, t0.Add(30*time.Second), b.customerCalls("c1", workflows.ActivityPoll)[0].At)
	require.Equal(t, []string{childID("c1")}, r.startedChildren(), "no customer starts after the cancel")

	var cancelled *temporal.CanceledError
	require.True(t, errors.As(err, &cancelled))
	var sum *workflows.SyncSummary
	require.NoError(t, cancelled.Details(&sum), "the summary so far travels with the cancellation")
	require.NotNil(t, sum)
	require.Equal(t, workflows.OutcomeCancelled, sum.Outcome)
	require.Equal(t, 1, sum.Customers)
	require.Zero(t, sum.CustomersFailed, "a cancelled customer did not fail")
	require.Len(t, sum.FailedCustomers, 1)
	require.Equal(t, "c1", sum.FailedCustomers[0].Customer)
	require.Equal(t, workflows.OutcomeCancelled, sum.FailedCustomers[0].Outcome)
	require.Contains(t, sum.Message, "cancelled after 1 customers")
}

// alreadyRunning makes the start of a customer's workflow fail the way a
// Temporal server answers when a workflow with that id is still running
// (ChildWorkflowExecutionAlreadyStartedError), a given number of times.
// The test environment cannot produce it otherwise: a mocked child
// (env.OnWorkflow) that returns testsuite.ErrMockStartChildWorkflowFailed
// fails to start with that plain error, and a duplicate id within the
// environment fails with serviceerror.WorkflowExecutionAlreadyStarted.
type alreadyRunning struct {
	interceptor.WorkerInterceptorBase
	mu    sync.Mutex
	times map[string]int // workflow id → starts still to refuse
}

func (a *alreadyRunning) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &alreadyRunningInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, a: a}
}

type alreadyRunningInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	a *alreadyRunning
}

func (i *alreadyRunningInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&alreadyRunningOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, a: i.a})
}

type alreadyRunningOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	a *alreadyRunning
}

func (o *alreadyRunningOutbound) ExecuteChildWorkflow(ctx workflow.Context, childType string, args ...any) workflow.ChildWorkflowFuture {
	id := workflow.GetChildWorkflowOptions(ctx).WorkflowID
	o.a.mu.Lock()
	refuse := o.a.times[id] > 0
	if refuse {
		o.a.times[id]--
	}
	o.a.mu.Unlock()
	if !refuse {
		return o.Next.ExecuteChildWorkflow(ctx, childType, args...)
	}
	f, set := workflow.NewFuture(ctx)
	set.SetError(&temporal.ChildWorkflowExecutionAlreadyStartedError{})
	return notStarted{f: f}
}

// notStarted is the future of a child workflow that could not start.
type notStarted struct {
	workflow.ChildWorkflowFuture // nil: only the start and the result are asked for
	f                            workflow.Future
}

func (n notStarted) Get(ctx workflow.Context, v any) error      { return n.f.Get(ctx, v) }
func (n notStarted) IsReady() bool                              { return n.f.IsReady() }
func (n notStarted) GetChildWorkflowExecution() workflow.Future { return n.f }

func TestSync_CustomerStillRunningIsAwaitedThenStartedAgain(t *testing.T) {
	b := newBackend()
	oneBatch(b, "c1", "c2")
	r := newSync(t, b)
	r.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{
		&alreadyRunning{times: map[string]int{childID("c1"): 2}},
	}})
	r.execute(t, workflows.SyncInput{Concurrency: 1})
	sum := r.summary(t)

	require.Equal(t, []workflows.WaitWorkflowInput{{WorkflowID: childID("c1")}, {WorkflowID: childID("c1")}},
		inputsOf[workflows.WaitWorkflowInput](b.callsOf(workflows.ActivityWaitWorkflow)))
	require.Equal(t, []string{childID("c1"), childID("c2")}, r.startedChildren())
	require.Len(t, b.customerCalls("c1", workflows.ActivityExtract), 1, "c1 is imported once, after the wait")
	require.Equal(t, 2, sum.CustomersImported)
	require.Empty(t, sum.FailedCustomers)
}

func TestSync_CustomerThatNeverStopsRunningFailsAfterFiveAttempts(t *testing.T) {
	b := newBackend()
	oneBatch(b, "c1", "c2")
	r := newSync(t, b)
	r.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{
		&alreadyRunning{times: map[string]int{childID("c1"): 100}},
	}})
	r.execute(t, workflows.SyncInput{Concurrency: 1})
	sum := r.summary(t)

	require.Len(t, b.callsOf(workflows.ActivityWaitWorkflow), 4, "waited between five attempts")
	require.Equal(t, []string{childID("c2")}, r.startedChildren())
	require.Equal(t, 1, sum.CustomersFailed)
	require.Equal(t, 1, sum.CustomersImported)
	require.Len(t, sum.FailedCustomers, 1)
	require.Equal(t, "c1", sum.FailedCustomers[0].Customer)
	require.NotEmpty(t, sum.FailedCustomers[0].Reason)
}

// inputsOf returns the calls' inputs, as T.
func inputsOf[T any](calls []call) []T {
	out := make([]T, len(calls))
	for i, c := range calls {
		out[i] = c.Input.(T)
	}
	return out
}

// sortedCopy returns s sorted: the test environment may report children
// that start in one workflow task in either order.
func sortedCopy(s []string) []string {
	return slices.Sorted(slices.Values(s))
}
