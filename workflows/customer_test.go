package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurhq/recur/workflows"
)

const customerWorkflowID = "import/" + testDataSource + "/c1"

// runCustomer runs CustomerImportWorkflow for in against b, with the id a
// sync would give it, and returns its result and error.
func runCustomer(t *testing.T, b *backend, in workflows.CustomerInput, during ...func(*testsuite.TestWorkflowEnvironment)) (*workflows.CustomerResult, error) {
	t.Helper()
	env := newEnv(t, b)
	startAs(env, workflows.CustomerID(testDataSource, in.CustomerExternalID))
	for _, f := range during {
		f(env)
	}
	env.ExecuteWorkflow(workflows.CustomerWorkflowName, in)
	require.True(t, env.IsWorkflowCompleted())
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res workflows.CustomerResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return &res, nil
}

// fromSync is the input a sync gives a customer's workflow.
func fromSync(customer string) workflows.CustomerInput {
	s := testSettings
	return workflows.CustomerInput{CustomerExternalID: customer, DataSource: testDataSource,
		SyncID: workflows.SyncID(testDataSource), Settings: &s}
}

// threeParts scripts customer c1 as a payload split in three parts.
func threeParts(b *backend) *fakeCustomer {
	fc := b.customer("c1")
	fc.extracted = workflows.TypeCounts{Customers: 1, Invoices: 5, LineItems: 5, Transactions: 5}
	fc.parts = []workflows.TypeCounts{
		{Customers: 1, Invoices: 2, LineItems: 2},
		{Invoices: 2, LineItems: 2, Transactions: 3},
		{Invoices: 1, LineItems: 1, Transactions: 2},
	}
	return fc
}

func TestCustomerImport_SplitPayloadSendsEachPartAfterThePreviousFinished(t *testing.T) {
	b := newBackend()
	threeParts(b)
	b.delays[workflows.ActivityPoll] = 30 * time.Second // ChartMogul takes its time with each part

	res, err := runCustomer(t, b, fromSync("c1"))
	require.NoError(t, err)

	require.Equal(t, []string{
		"Extract(c1)", "BuildPayload(c1)",
		"Submit(c1#1)", "Poll(c1#1)",
		"Submit(c1#2)", "Poll(c1#2)",
		"Submit(c1#3)", "Poll(c1#3)",
		"Finish(c1)",
	}, names(b.callsOf()))

	// Each part is submitted only once the previous one's poll answered
	// "finished", 30 s later on the workflow clock.
	sends := b.customerCalls("c1", workflows.ActivitySubmit, workflows.ActivityPoll)
	for i, want := range []time.Duration{0, 30 * time.Second, 30 * time.Second, 60 * time.Second, 60 * time.Second, 90 * time.Second} {
		require.Equal(t, t0.Add(want), sends[i].At, "%s answered at", sends[i])
	}
	for _, c := range sends {
		require.Equal(t, customerWorkflowID, c.Workflow)
	}

	require.Equal(t, workflows.OutcomeImported, res.Outcome)
	require.Equal(t, workflows.TypeCounts{Customers: 1, Invoices: 5, LineItems: 5, Transactions: 5}, res.Sent)
	require.Equal(t, res.Sent, res.Imported)
	require.Equal(t, []workflows.ImportRef{
		{Part: 1, ID: "imp-c1-1", ExternalID: "recur-imp-c1-1", Status: "completed", Records: 5, Customers: 1},
		{Part: 2, ID: "imp-c1-2", ExternalID: "recur-imp-c1-2", Status: "completed", Records: 7, Customers: 1},
		{Part: 3, ID: "imp-c1-3", ExternalID: "recur-imp-c1-3", Status: "completed", Records: 4, Customers: 1},
	}, res.Imports)

	// Only a complete import records the hash that lets the next sync
	// skip the customer.
	fin := b.customerCalls("c1", workflows.ActivityFinish)[0].Input.(workflows.FinishInput)
	require.True(t, fin.Complete)
	require.Equal(t, "hash-c1", fin.Hash)
}

func TestCustomerImport_UnfinishedImportIsAwaitedBeforeTheNextPart(t *testing.T) {
	b := newBackend()
	fc := threeParts(b)
	fc.polls = map[int][]workflows.PollResult{
		1: {
			{Finished: false, Status: "processing"},
			{Finished: true, Status: "completed", Imported: fc.parts[0]},
		},
	}
	b.delays[workflows.ActivityWaitImport] = 5 * time.Minute

	res, err := runCustomer(t, b, fromSync("c1"))
	require.NoError(t, err)

	require.Equal(t, []string{
		"Submit(c1#1)", "Poll(c1#1)", "WaitImport(c1#1)",
		"Submit(c1#2)", "Poll(c1#2)",
		"Submit(c1#3)", "Poll(c1#3)",
	}, names(b.customerCalls("c1", workflows.ActivitySubmit, workflows.ActivityPoll, workflows.ActivityWaitImport)))

	wait := b.customerCalls("c1", workflows.ActivityWaitImport)[0]
	poll := b.customerCalls("c1", workflows.ActivityPoll)[0]
	require.Equal(t, "imp-c1-1", wait.Import)
	require.Equal(t, poll.Input, wait.Input, "WaitImport goes on with what Poll was asked")
	second := b.customerCalls("c1", workflows.ActivitySubmit)[1]
	require.Equal(t, t0.Add(5*time.Minute), second.At, "part 2 waits for the import of part 1")

	require.Equal(t, workflows.OutcomeImported, res.Outcome)
	require.Equal(t, "completed", res.Imports[0].Status)
	require.Equal(t, 16, res.Imported.Total())
}

func TestCustomerImport_FailedRecordsAreListed(t *testing.T) {
	b := newBackend()
	fc := threeParts(b)
	refusedByRecur := workflows.RecordFailure{Customer: "c1", Type: workflows.TypeTransactions, ExternalID: "tr-9",
		Field: "amount_in_cents", Message: "amount_in_cents must be a whole number"}
	fc.build = workflows.BuildResult{
		Failed:        workflows.TypeCounts{Transactions: 1},
		FailedRecords: []workflows.RecordFailure{refusedByRecur},
	}
	refusedByChartMogul := workflows.RecordFailure{Customer: "c1", Type: workflows.TypeInvoices, ExternalID: "inv-2",
		Message: "The plan with uuid pl_gone could not be found", Import: "imp-c1-1"}
	fc.polls = map[int][]workflows.PollResult{1: {{
		Finished: true, Status: "completed",
		Imported: workflows.TypeCounts{Customers: 1, Invoices: 1, LineItems: 2},
		Failed:   workflows.TypeCounts{Invoices: 1}, FailedRecords: []workflows.RecordFailure{refusedByChartMogul},
	}}}

	res, err := runCustomer(t, b, fromSync("c1"))
	require.NoError(t, err)

	require.Equal(t, workflows.OutcomePartial, res.Outcome)
	require.Equal(t, []workflows.RecordFailure{refusedByRecur, refusedByChartMogul}, res.FailedRecords)
	require.Equal(t, workflows.TypeCounts{Invoices: 1, Transactions: 1}, res.Failed)
	require.Equal(t, 15, res.Imported.Total())
	require.Equal(t, 0, res.FailedRecordsMore)
}

func TestCustomerImport_RefusedPayloadFailsWithChartMogulsMessage(t *testing.T) {
	b := newBackend()
	fc := threeParts(b)
	const msg = "ChartMogul refused the request (422): invoices[0].currency: is not a valid currency"
	fc.submitErr = map[int]error{2: temporal.NewNonRetryableApplicationError(msg, workflows.ErrRefused, nil)}

	_, err := runCustomer(t, b, fromSync("c1"))

	app := appError(t, err)
	require.Equal(t, msg, app.Message())
	require.Equal(t, workflows.ErrRefused, app.Type())
	// Not retried, nothing sent after it, and the claim checks removed
	// without recording the customer as synced.
	require.Equal(t, []string{"Submit(c1#1)", "Poll(c1#1)", "Submit(c1#2)", "Finish(c1)"},
		names(b.customerCalls("c1", workflows.ActivitySubmit, workflows.ActivityPoll, workflows.ActivityFinish)))
	require.False(t, b.customerCalls("c1", workflows.ActivityFinish)[0].Input.(workflows.FinishInput).Complete)
}

func TestCustomerImport_DryRunSendsNothing(t *testing.T) {
	b := newBackend()
	fc := threeParts(b)
	fc.build = workflows.BuildResult{Unchanged: workflows.TypeCounts{Customers: 1}}
	in := fromSync("c1")
	in.DryRun = true

	res, err := runCustomer(t, b, in)
	require.NoError(t, err)

	require.Equal(t, []string{"Extract(c1)", "BuildPayload(c1)", "Finish(c1)"}, names(b.callsOf()))
	require.True(t, b.customerCalls("c1", workflows.ActivityBuildPayload)[0].Input.(workflows.BuildInput).DryRun)
	fin := b.customerCalls("c1", workflows.ActivityFinish)[0].Input.(workflows.FinishInput)
	require.True(t, fin.DryRun)
	require.False(t, fin.Complete, "a dry run records no hash")

	require.Equal(t, workflows.OutcomeDryRun, res.Outcome)
	require.Equal(t, workflows.TypeCounts{Customers: 1, Invoices: 5, LineItems: 5, Transactions: 5}, res.Sent,
		"a dry run reports what it would send")
	require.Equal(t, workflows.TypeCounts{Customers: 1}, res.Unchanged)
	require.Empty(t, res.Imports)
}

func TestCustomerImport_MissingCustomerIsReportedRemoved(t *testing.T) {
	b := newBackend()
	b.customer("c1").missing = true

	res, err := runCustomer(t, b, fromSync("c1"))
	require.NoError(t, err)

	require.Equal(t, []string{"Extract(c1)", "Finish(c1)"}, names(b.callsOf()))
	require.False(t, b.customerCalls("c1", workflows.ActivityFinish)[0].Input.(workflows.FinishInput).Complete)
	require.Equal(t, workflows.OutcomeRemoved, res.Outcome)
	require.Contains(t, res.Message, `customer "c1" is not in the source`)
	require.Zero(t, res.Sent.Total())
}

func TestCustomerImport_RequiresCustomerExternalID(t *testing.T) {
	b := newBackend()

	_, err := runCustomer(t, b, workflows.CustomerInput{})

	app := appError(t, err)
	require.Equal(t, workflows.ErrInvalidInput, app.Type())
	require.True(t, app.NonRetryable())
	require.Contains(t, app.Message(), `{"customer_external_id": "…"}`)
	require.Empty(t, b.callsOf(), "nothing runs without a customer")
}

func TestCustomerImport_StartedByHandReadsTheWorkersConfiguration(t *testing.T) {
	b := newBackend()
	b.settings.SearchAttributes = true

	res, err := runCustomer(t, b, workflows.CustomerInput{CustomerExternalID: "c1", DataSource: "ds_other"})
	require.NoError(t, err)

	require.Equal(t, []string{"Configure()", "Extract(c1)", "BuildPayload(c1)", "Submit(c1#1)", "Poll(c1#1)", "Finish(c1)"},
		names(b.callsOf()))
	require.Equal(t, workflows.ConfigureInput{DataSource: "ds_other"}, b.callsOf(workflows.ActivityConfigure)[0].Input)
	ex := b.callsOf(workflows.ActivityExtract)[0].Input.(workflows.ExtractInput)
	require.Equal(t, "ds_other", ex.Settings.DataSource)
	require.Equal(t, "import/ds_test/c1", ex.Workflow, "the workflow's own id names the claim checks")
	require.Equal(t, "ds_other", res.DataSource)
	require.Equal(t, workflows.OutcomeImported, res.Outcome)
}

func TestCustomerImport_CancelledWhilePollingFinishesThePartAndStops(t *testing.T) {
	b := newBackend()
	threeParts(b)
	b.delays[workflows.ActivityPoll] = 30 * time.Second

	_, err := runCustomer(t, b, fromSync("c1"), func(e *testsuite.TestWorkflowEnvironment) {
		// Part 1 is submitted at 0 and its poll answers at 30 s.
		e.RegisterDelayedCallback(e.CancelWorkflow, 10*time.Second)
	})

	require.Error(t, err)
	require.True(t, temporal.IsCanceledError(err), "want cancelled, got %v", err)
	var cancelled *temporal.CanceledError
	require.True(t, errors.As(err, &cancelled))
	var res workflows.CustomerResult
	require.NoError(t, cancelled.Details(&res))
	require.Equal(t, "cancelled after 1 of 3 parts; the parts sent were imported, the rest is sent at the next sync", res.Message)
	require.Equal(t, workflows.OutcomeCancelled, res.Outcome)
	require.Len(t, res.Imports, 1, "the cancelled customer's result names the part it sent")

	require.Equal(t, []string{"Submit(c1#1)", "Poll(c1#1)", "Finish(c1)"},
		names(b.customerCalls("c1", workflows.ActivitySubmit, workflows.ActivityPoll, workflows.ActivityFinish)))
	require.Equal(t, t0.Add(30*time.Second), b.customerCalls("c1", workflows.ActivityPoll)[0].At,
		"the part in flight is followed to its end")
	require.False(t, b.customerCalls("c1", workflows.ActivityFinish)[0].Input.(workflows.FinishInput).Complete,
		"a cancelled import records no hash: the next sync sends the rest")
}
