package main

// The end-to-end harness: a real Temporal dev server (the CLI's, through
// testsuite.StartDevServer), a PostgreSQL database of the test binary's own
// (billing data, Recur's state), and workers started in this process with
// the local ChartMogul embedded, each test with its own task queue, data
// source and source schema.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/starter/demo"
	"github.com/recurhq/recur/workflows"
)

// e2eSecretPassword is put into the billing database's URL (trust auth
// ignores it) so that tests can prove it never reaches a history or a log.
const e2eSecretPassword = "e2e-db-secret-4711"

// harness is what every end-to-end test of this binary shares.
type harness struct {
	temporalAddr string
	dev          *testsuite.DevServer
	dbName       string
	dbURL        string // with e2eSecretPassword when the server URL had none
	adminURL     string
	db           *sqlx.DB
}

var (
	harnessOnce sync.Once
	shared      *harness
	harnessErr  error
	skipReason  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// tempDirs are directories that outlive one test (built binaries); TestMain
// removes them.
var tempDirs []string

func makeTempDir(prefix string) (string, error) {
	d, err := os.MkdirTemp("", prefix)
	if err == nil {
		tempDirs = append(tempDirs, d)
	}
	return d, err
}

// e2e returns the shared harness, starting it on first use. Without a
// Temporal CLI or PostgreSQL the test is skipped, unless RECUR_REQUIRE_TEMPORAL
// or RECUR_REQUIRE_POSTGRES says CI must run it.
func e2e(t *testing.T) *harness {
	t.Helper()
	harnessOnce.Do(func() { shared, harnessErr, skipReason = startHarness() })
	if skipReason != "" {
		if os.Getenv("RECUR_REQUIRE_TEMPORAL") != "" || os.Getenv("RECUR_REQUIRE_POSTGRES") != "" {
			t.Fatalf("the end-to-end tests must run here but cannot: %s", skipReason)
		}
		t.Skip(skipReason)
	}
	if harnessErr != nil {
		t.Fatal(harnessErr)
	}
	return shared
}

// testTemporalCLI finds the Temporal CLI as the worker does, without ever
// building one (`.ci/run` builds it once per run).
func testTemporalCLI() string {
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	if goCmd, err := exec.LookPath("go"); err == nil {
		if bin := goBin(context.Background(), goCmd); bin != "" && isExecutable(filepath.Join(bin, "temporal")) {
			return filepath.Join(bin, "temporal")
		}
	}
	return ""
}

func startHarness() (*harness, error, string) {
	cli := testTemporalCLI()
	if cli == "" {
		return nil, nil, "no Temporal CLI: `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`, or set TEMPORAL_CLI"
	}
	admin := cmp.Or(os.Getenv("RECUR_TEST_POSTGRES_URL"), defaultDatabase)
	adb, err := sql.Open("postgres", admin)
	if err == nil {
		err = adb.Ping()
	}
	if err != nil {
		return nil, nil, fmt.Sprintf("PostgreSQL at %s does not answer: %v", redactURL(admin), err)
	}
	defer adb.Close()
	h := &harness{adminURL: admin, dbName: "recur_e2e_" + randomHex(4)}
	if _, err := adb.Exec("CREATE DATABASE " + h.dbName); err != nil {
		return nil, fmt.Errorf("cannot create the test database: %w", err), ""
	}
	u, _ := url.Parse(admin)
	u.Path = "/" + h.dbName
	if _, has := u.User.Password(); !has && u.User != nil {
		u.User = url.UserPassword(u.User.Username(), e2eSecretPassword)
	}
	h.dbURL = u.String()
	if h.db, err = sqlx.Open("postgres", h.dbURL); err != nil {
		return nil, err, ""
	}
	h.dev, err = testsuite.StartDevServer(context.Background(), testsuite.DevServerOptions{
		ExistingPath:  cli,
		ClientOptions: &client.Options{Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))},
		LogLevel:      "error",
		SearchAttributes: temporal.NewSearchAttributes(workflows.DataSourceAttr.ValueSet(""),
			workflows.CustomerAttr.ValueSet(""), workflows.OutcomeAttr.ValueSet("")),
		ExtraArgs: devServerPragmas,
		Stdout:    io.Discard, Stderr: io.Discard,
	})
	if err != nil {
		return nil, fmt.Errorf("the Temporal dev server did not start: %w", err), ""
	}
	h.temporalAddr = h.dev.FrontendHostPort()
	return h, nil, ""
}

func (h *harness) close() {
	if h.dev != nil {
		_ = h.dev.Stop()
	}
	if h.db != nil {
		h.db.Close()
	}
	if adb, err := sql.Open("postgres", h.adminURL); err == nil {
		_, _ = adb.Exec("DROP DATABASE IF EXISTS " + h.dbName + " WITH (FORCE)")
		adb.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testWorker is a worker started in this process by a test, with its own
// task queue, local ChartMogul, data source and source schema.
type testWorker struct {
	t      *testing.T
	h      *harness
	cfg    *config
	r      *running
	out    *syncBuffer
	schema string // the billing schema
	source string // the source views' schema
	// apiURL is the local ChartMogul the test reads: the embedded one, or
	// the one the worker was pointed at.
	apiURL string
}

// syncBuffer is a bytes.Buffer safe for the worker's log and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// workerOption changes a test worker's configuration.
type workerOption func(*config)

// startWorker starts a worker for t, stopped at the end of the test.
func startWorker(t *testing.T, opts ...workerOption) *testWorker {
	t.Helper()
	h := e2e(t)
	id := randomHex(3)
	w := &testWorker{t: t, h: h, out: &syncBuffer{}, schema: "billing_" + id, source: "cm_" + id}
	w.cfg = &config{
		temporalAddress: h.temporalAddr, namespace: "default", taskQueue: "e2e-" + id,
		chartmogulURL: chartmogul.DefaultURL, sandboxAddr: "127.0.0.1:0", sandboxDB: "sqlite:" + filepath.Join(t.TempDir(), "sandbox.db"),
		billingDB: h.dbURL, stateDB: h.dbURL, sourceSchema: w.source, sourceQuery: map[string]string{},
		rateBudget: 35, packLinger: 100 * time.Millisecond, packMaxLinger: 2 * time.Second, packCustomers: 1000, partBytes: chartmogul.MaxPayload,
		pollers: 8, activities: 200,
	}
	for _, o := range opts {
		o(w.cfg)
	}
	getenv := func(string) string { return "" }
	log := slog.New(slog.NewTextHandler(w.out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := start(context.Background(), w.cfg, getenv, log, w.out)
	if err != nil {
		t.Fatalf("the worker did not start: %v\n%s", err, w.out.String())
	}
	w.r = r
	w.apiURL = w.cfg.chartmogulURL
	if r.sandbox != nil {
		w.apiURL = r.sandbox.URL
	}
	t.Cleanup(func() {
		r.close()
		if t.Failed() {
			t.Logf("worker output:\n%s", tail(w.out.String(), 4000))
		}
	})
	return w
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// demo creates the worker's billing schema with generated customers.
func (w *testWorker) demo(customers int, opts ...func(*demo.Options)) demo.Stats {
	w.t.Helper()
	o := demo.Options{Customers: customers, Schema: w.schema, SourceSchema: w.source, Seed: 7}
	for _, f := range opts {
		f(&o)
	}
	st, err := demo.Create(context.Background(), w.h.db.DB, o)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		_, _ = w.h.db.Exec("DROP SCHEMA IF EXISTS " + w.source + " CASCADE")
		_, _ = w.h.db.Exec("DROP SCHEMA IF EXISTS " + w.schema + " CASCADE")
	})
	return st
}

// exec runs SQL against the billing database.
func (w *testWorker) exec(query string, args ...any) {
	w.t.Helper()
	if _, err := w.h.db.Exec(strings.ReplaceAll(strings.ReplaceAll(query, "{billing}", w.schema), "{source}", w.source), args...); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
}

// sync runs a sync to its end and returns its summary.
func (w *testWorker) sync(in workflows.SyncInput) (*workflows.SyncSummary, error) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if in.DataSource == "" {
		in.DataSource = w.cfg.dataSource
	}
	run, err := w.r.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.SyncID(in.DataSource), TaskQueue: w.cfg.taskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.SyncWorkflowName, in)
	if err != nil {
		w.t.Fatal(err)
	}
	var sum workflows.SyncSummary
	err = run.Get(ctx, &sum)
	return &sum, err
}

// mustSync runs a sync that must complete.
func (w *testWorker) mustSync(in workflows.SyncInput) *workflows.SyncSummary {
	w.t.Helper()
	sum, err := w.sync(in)
	if err != nil {
		w.t.Fatalf("the sync failed: %v", err)
	}
	return sum
}

// api reads a path of the local ChartMogul's API into out.
func (w *testWorker) api(path string, out any) {
	w.t.Helper()
	var body []byte
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest(http.MethodGet, w.apiURL+path, nil)
		req.SetBasicAuth(w.r.chartmogul.APIKey, "")
		var err error
		if resp, err = http.DefaultClient.Do(req); err != nil {
			w.t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		// The test's own reads share the account's rate limit.
		if resp.StatusCode != http.StatusTooManyRequests || attempt == 20 {
			break
		}
		time.Sleep(time.Second)
	}
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
}

// list reads every page of a list of the local ChartMogul's API.
func (w *testWorker) list(path, member string) []map[string]any {
	w.t.Helper()
	var all []map[string]any
	cursor := ""
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for {
		var page map[string]json.RawMessage
		p := path + sep + "per_page=200"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		w.api(p, &page)
		var items []map[string]any
		if err := json.Unmarshal(page[member], &items); err != nil {
			w.t.Fatalf("%s: member %q: %v", path, member, err)
		}
		all = append(all, items...)
		var more bool
		_ = json.Unmarshal(page["has_more"], &more)
		_ = json.Unmarshal(page["cursor"], &cursor)
		if !more || cursor == "" {
			return all
		}
	}
}

// held counts what the local ChartMogul holds of the worker's data source,
// per record type, by external id: a record held twice counts twice.
type held struct {
	customers, plans, invoices, lineItems, transactions, events map[string]int
}

func (w *testWorker) held() held {
	w.t.Helper()
	ds := url.QueryEscape(w.cfg.dataSource)
	h := held{map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	for _, c := range w.list("/v1/customers?data_source_uuid="+ds, "entries") {
		h.customers[str(c, "external_id")]++
	}
	for _, p := range w.list("/v1/plans?data_source_uuid="+ds, "plans") {
		h.plans[str(p, "external_id")]++
	}
	for _, inv := range w.list("/v1/invoices?data_source_uuid="+ds, "invoices") {
		h.invoices[str(inv, "external_id")]++
		for _, key := range []string{"line_items", "transactions"} {
			items, _ := inv[key].([]any)
			for _, it := range items {
				m, _ := it.(map[string]any)
				if key == "line_items" {
					h.lineItems[str(m, "external_id")]++
				} else {
					h.transactions[str(m, "external_id")]++
				}
			}
		}
	}
	for _, e := range w.list("/v1/subscription_events?data_source_uuid="+ds, "subscription_events") {
		h.events[str(e, "external_id")]++
	}
	return h
}

// sourceIDs returns the external ids of a source relation.
func (w *testWorker) sourceIDs(relation string) map[string]int {
	w.t.Helper()
	var ids []sql.NullString
	if err := w.h.db.Select(&ids, "SELECT external_id FROM "+w.source+"."+relation); err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int{}
	for _, id := range ids {
		out[id.String]++
	}
	return out
}

// traffic is the local ChartMogul's count of the requests it received.
func (w *testWorker) traffic() (requests, peak int) {
	w.t.Helper()
	var t struct {
		Requests int `json:"requests"`
		Peak     int `json:"peak_per_second"`
	}
	w.api("/v1/recur/traffic", &t)
	return t.Requests, t.Peak
}

// customerWorkflows lists the customer workflows a sync of the worker's data
// source ran, by workflow id.
func (w *testWorker) histories(query string) []string {
	w.t.Helper()
	ctx := context.Background()
	var ids []string
	var token []byte
	for {
		resp, err := w.r.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: query, NextPageToken: token, PageSize: 1000})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId()+"\x00"+e.GetExecution().GetRunId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids
		}
	}
}

// exportHistory returns a workflow run's whole history, as `temporal
// workflow show --output json` exports it (protojson of a History).
func (w *testWorker) exportHistory(workflowID, runID string) *historypb.History {
	w.t.Helper()
	ctx := context.Background()
	iter := w.r.temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			w.t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// historyContains reports whether any byte of a history, payloads included
// (their data is kept raw in the binary encoding), holds secret.
func historyContains(h *historypb.History, secret string) bool {
	raw, _ := proto.Marshal(h)
	js, _ := protojson.Marshal(h)
	return bytes.Contains(raw, []byte(secret)) || bytes.Contains(js, []byte(secret))
}

var (
	binariesMu sync.Mutex
	binaries   = map[string]string{}
)

// binary builds one of the repository's commands (worker, starter,
// sandbox) once per test binary and returns its path: the fault tests run
// them as real processes, to kill them for real.
func binary(t *testing.T, name string) string {
	t.Helper()
	binariesMu.Lock()
	defer binariesMu.Unlock()
	if p, ok := binaries[name]; ok {
		return p
	}
	dir, err := makeTempDir("recur-" + name + "-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goCmd, "build", "-o", p, "../"+name).CombinedOutput(); err != nil {
		t.Fatalf("go build ../%s: %v\n%s", name, err, out)
	}
	binaries[name] = p
	return p
}
