package workflows_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/recurhq/recur/workflows"
)

// The tests run the real workflows against a fake backend: a struct whose
// methods are registered under the activity names the workflows call, that
// answers from a script and records every call in order, with the workflow
// clock's time at which it answered.

const testDataSource = "ds_test"

// t0 is when every test workflow starts, on the workflow clock.
var t0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

// testSettings are what the fake Configure answers.
var testSettings = workflows.Settings{DataSource: testDataSource, PartBytes: 5 << 20}

// call is one activity call the backend answered.
type call struct {
	Activity string
	Workflow string // the id of the workflow that called it
	Customer string // "" for the plans
	Part     int    // the part's seq (1, 2, …) for Submit, Poll, WaitImport
	Import   string // the import id for Poll and WaitImport
	Input    any    // the activity's input, as received
	At       time.Time
}

// String is how call orders read in assertion failures: Submit(c1#2).
func (c call) String() string {
	switch c.Activity {
	case workflows.ActivitySubmit, workflows.ActivityPoll, workflows.ActivityWaitImport:
		return fmt.Sprintf("%s(%s#%d)", c.Activity, c.Customer, c.Part)
	}
	return fmt.Sprintf("%s(%s)", c.Activity, c.Customer)
}

// fakeCustomer scripts what the backend answers for one customer (or, under
// the key "", for the plans).
type fakeCustomer struct {
	missing    bool
	extracted  workflows.TypeCounts
	extractErr error
	// parts are the records of each part the build returns; ToSend is
	// their sum.
	parts []workflows.TypeCounts
	// build holds the rest of the build's answer (unchanged, failed
	// records, conflicts); Parts and ToSend come from parts.
	build workflows.BuildResult
	// imports names the import carrying each part (default imp-<customer>-<seq>),
	// so that two customers can share one.
	imports []string
	// polls are the answers for part seq, in order: Poll's, then each
	// WaitImport's; past the end, "completed" with every record imported.
	polls     map[int][]workflows.PollResult
	submitErr map[int]error
}

// partKey says which part a part id stands for.
type partKey struct {
	customer string
	seq      int
}

// backend is the fake: scripted answers and the record of calls.
type backend struct {
	mu       sync.Mutex
	now      func() time.Time
	calls    []call
	nextPart int64
	parts    map[int64]partKey
	answered map[partKey]int // Poll and WaitImport answers given per part

	settings  workflows.Settings
	check     workflows.CheckSetupResult
	setupErr  error
	batches   map[string]workflows.ListCustomersResult // by the After cursor
	customers map[string]*fakeCustomer
	removed   workflows.FindRemovedResult
	// waitWorkflowErr is what WaitWorkflow answers.
	waitWorkflowErr error
	// delays makes an activity take this long on the workflow clock.
	delays map[string]time.Duration
}

func newBackend() *backend {
	return &backend{
		parts:     map[int64]partKey{},
		answered:  map[partKey]int{},
		settings:  testSettings,
		batches:   map[string]workflows.ListCustomersResult{},
		customers: map[string]*fakeCustomer{"": {}},
		delays:    map[string]time.Duration{},
	}
}

// customer returns the script of customer c, creating a default one
// (one customer record in one part) when there is none.
func (b *backend) customer(c string) *fakeCustomer {
	fc, ok := b.customers[c]
	if !ok {
		fc = &fakeCustomer{
			extracted: workflows.TypeCounts{Customers: 1, Invoices: 2},
			parts:     []workflows.TypeCounts{{Customers: 1, Invoices: 2}},
		}
		b.customers[c] = fc
	}
	return fc
}

// record appends a call, stamped with the workflow clock.
func (b *backend) record(ctx context.Context, c call) {
	c.Workflow = activity.GetInfo(ctx).WorkflowExecution.ID
	c.At = b.now().UTC()
	b.calls = append(b.calls, c)
}

func (b *backend) Configure(ctx context.Context, in workflows.ConfigureInput) (workflows.Settings, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ctx, call{Activity: workflows.ActivityConfigure, Input: in})
	s := b.settings
	if in.DataSource != "" {
		s.DataSource = in.DataSource
	}
	return s, nil
}

func (b *backend) CheckSetup(ctx context.Context, in workflows.CheckSetupInput) (workflows.CheckSetupResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ctx, call{Activity: workflows.ActivityCheckSetup, Input: in})
	return b.check, b.setupErr
}

func (b *backend) ListCustomers(ctx context.Context, in workflows.ListCustomersInput) (workflows.ListCustomersResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ctx, call{Activity: workflows.ActivityListCustomers, Input: in})
	list, ok := b.batches[in.After]
	if !ok {
		return list, temporal.NewNonRetryableApplicationError("fake: no batch after "+in.After, "Fake", nil)
	}
	return list, nil
}

func (b *backend) Extract(ctx context.Context, in workflows.ExtractInput) (workflows.ExtractResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ctx, call{Activity: workflows.ActivityExtract, Customer: in.Customer, Input: in})
	fc := b.customer(in.Customer)
	if fc.extractErr != nil {
		return workflows.ExtractResult{}, fc.extractErr
	}
	return workflows.ExtractResult{ExtractID: int64(len(b.calls)), Counts: fc.extracted,
		Hash: "hash-" + in.Customer, Missing: fc.missing}, nil
}

func (b *backend) BuildPayload(ctx context.Context, in workflows.BuildInput) (workflows.BuildResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ctx, call{Activity: workflows.ActivityBuildPayload, Customer: in.Customer, Input: in})
	fc := b.customer(in.Customer)
	res := fc.build
	res.Parts = nil
	res.ToSend = workflows.TypeCounts{}
	for i, records := range fc.parts {
		b.nextPart++
		b.parts[b.nextPart] = partKey{customer: in.Customer, seq: i + 1}
		res.Parts = append(res.Parts, workflows.PartRef{ID: b.nextPart, Seq: i + 1, Bytes: 1000, Records: records})
		res.ToSend.Add(records)
	}
	return res, nil
}

// importOf names the import carrying part seq of customer c.
func (b *backend) importOf(c string, seq int) string {
	fc := b.customer(c)
	if seq <= len(fc.imports) && fc.imports[seq-1] != "" {
		return fc.imports[seq-1]
	}
	name := c
	if name == "" {
		name = "plans"
	}
	return fmt.Sprintf("imp-%s-%d", name, seq)
}

func (b *backend) Submit(ctx context.Context, in workflows.SubmitInput) (workflows.SubmitResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := b.parts[in.PartID]
	b.record(ctx, call{Activity: workflows.ActivitySubmit, Customer: key.customer, Part: key.seq, Input: in})
	if key.customer != in.Customer {
		return workflows.SubmitResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("fake: part %d belongs to %q, submitted for %q", in.PartID, key.customer, in.Customer), "Fake", nil)
	}
	if err := b.customer(key.customer).submitErr[key.seq]; err != nil {
		return workflows.SubmitResult{}, err
	}
	id := b.importOf(key.customer, key.seq)
	return workflows.SubmitResult{ImportID: id, ExternalID: "recur-" + id, Customers: 1}, nil
}

// answer is the next Poll or WaitImport answer for a part.
func (b *backend) answer(ctx context.Context, name string, in workflows.PollInput) (workflows.PollResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := b.parts[in.PartID]
	b.record(ctx, call{Activity: name, Customer: key.customer, Part: key.seq, Import: in.ImportID, Input: in})
	if want := b.importOf(key.customer, key.seq); in.ImportID != want {
		return workflows.PollResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("fake: part %d was sent in %s, polled as %s", in.PartID, want, in.ImportID), "Fake", nil)
	}
	n := b.answered[key]
	b.answered[key]++
	if script := b.customer(key.customer).polls[key.seq]; n < len(script) {
		return script[n], nil
	}
	return workflows.PollResult{Finished: true, Status: "completed",
		Imported: b.customer(key.customer).parts[key.seq-1]}, nil
}

func (b *backend) Poll(ctx context.Context, in workflows.PollInput) (workflows.PollResult, error) {
	return b.answer(ctx, workflows.ActivityPoll, in)
}

func (b *backend) WaitImport(ctx context.Context, in workflows.PollInput) (workflows.PollResult, error) {
	return b.answer(ctx, workflows.ActivityWaitImport, in)
}

func (b *backend) Finish(ctx context.Context, in workflows.FinishInput) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ctx, call{Activity: workflows.ActivityFinish, Customer: in.Customer, Input: in})
	return nil
}

func (b *backend) WaitWorkflow(ctx context.Context, in workflows.WaitWorkflowInput) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ctx, call{Activity: workflows.ActivityWaitWorkflow, Input: in})
	return b.waitWorkflowErr
}

func (b *backend) FindRemoved(ctx context.Context, in workflows.FindRemovedInput) (workflows.FindRemovedResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ctx, call{Activity: workflows.ActivityFindRemoved, Input: in})
	return b.removed, nil
}

// register registers the backend's methods under the activity names in
// env, with the delays asked for, and stamps calls with env's clock.
func (b *backend) register(env *testsuite.TestWorkflowEnvironment) {
	b.mu.Lock()
	b.now = env.Now
	b.mu.Unlock()
	fns := map[string]any{
		workflows.ActivityConfigure:     b.Configure,
		workflows.ActivityCheckSetup:    b.CheckSetup,
		workflows.ActivityListCustomers: b.ListCustomers,
		workflows.ActivityExtract:       b.Extract,
		workflows.ActivityBuildPayload:  b.BuildPayload,
		workflows.ActivitySubmit:        b.Submit,
		workflows.ActivityPoll:          b.Poll,
		workflows.ActivityWaitImport:    b.WaitImport,
		workflows.ActivityFinish:        b.Finish,
		workflows.ActivityWaitWorkflow:  b.WaitWorkflow,
		workflows.ActivityFindRemoved:   b.FindRemoved,
	}
	for name, fn := range fns {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	for name, d := range b.delays {
		// The mock waits d on the workflow clock, then runs the backend's
		// method.
		env.OnActivity(name, mock.Anything, mock.Anything).After(d).Return(fns[name])
	}
}

// callsOf returns the calls of the given activities (all when none), in
// the order they were answered.
func (b *backend) callsOf(activities ...string) []call {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []call
	for _, c := range b.calls {
		if len(activities) == 0 || contains(activities, c.Activity) {
			out = append(out, c)
		}
	}
	return out
}

// customerCalls returns the calls made for customer c, of the given
// activities (all when none).
func (b *backend) customerCalls(c string, activities ...string) []call {
	var out []call
	for _, cl := range b.callsOf(activities...) {
		if cl.Customer == c {
			out = append(out, cl)
		}
	}
	return out
}

// names renders calls as Activity(customer#part) strings.
func names(calls []call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.String()
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var quietLogger = log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// newEnv returns a test environment with both workflows registered under
// their names and the backend's activities, its clock at t0.
func newEnv(t *testing.T, b *backend) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(quietLogger)
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.SetTestTimeout(time.Minute) // wall clock, for a slow shared machine under -race
	env.RegisterWorkflowWithOptions(workflows.SyncWorkflow, workflow.RegisterOptions{Name: workflows.SyncWorkflowName})
	env.RegisterWorkflowWithOptions(workflows.CustomerImportWorkflow, workflow.RegisterOptions{Name: workflows.CustomerWorkflowName})
	b.register(env)
	return env
}

// startAs sets the id of the workflow env runs.
func startAs(env *testsuite.TestWorkflowEnvironment, id string) {
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id})
}

// appError returns the application error inside err, failing the test
// when there is none.
func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app, "want an application error, got %v", err)
	return app
}
