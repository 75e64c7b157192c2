package main

// Fault tests with real processes: the sandbox and the worker run as the
// programs a user runs, and are killed for real. Each test counts, at the
// end, what the local ChartMogul holds: every record exactly once, and no
// customer ever in two unfinished imports at once.

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"go.temporal.io/sdk/client"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/workflows"
)

// sandboxKey is the key the sandbox processes of these tests install.
const sandboxKey = "rk_fault_tests_key_0123456789"

// sandboxProcess is `sandbox serve` running as its own process.
type sandboxProcess struct {
	url, db, dataSource string
	cmd                 *exec.Cmd
}

// startSandbox runs `sandbox serve` on a free port with the given extra
// flags (faults), on a SQLite file of the test. The data source is made
// before any fault is injected.
func startSandbox(t *testing.T, flags ...string) *sandboxProcess {
	t.Helper()
	s := &sandboxProcess{db: filepath.Join(t.TempDir(), "sandbox.db")}
	s.launch(t)
	ds, err := chartmogul.NewClient(s.url, sandboxKey).CreateDataSource(context.Background(), "fault tests")
	if err != nil {
		t.Fatal(err)
	}
	s.dataSource = ds.UUID
	if len(flags) > 0 {
		s.restart(t, flags...)
	}
	return s
}

// restart stops the sandbox and starts it again on the same database, with
// these flags.
func (s *sandboxProcess) restart(t *testing.T, flags ...string) {
	t.Helper()
	s.stop()
	s.launch(t, flags...)
}

// launch starts the process and reads where it listens.
func (s *sandboxProcess) launch(t *testing.T, flags ...string) {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database", "sqlite:" + s.db}, flags...)
	s.cmd = exec.Command(binary(t, "sandbox"), args...)
	s.cmd.Env = append(os.Environ(), "RECUR_API_KEY="+sandboxKey)
	s.cmd.Stderr = io.Discard
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := s.cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil && cmd.Process != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	})
	s.url = ""
	listening := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			s.url = m[1]
			break
		}
	}
	go io.Copy(io.Discard, out)
	if s.url == "" {
		t.Fatal("the sandbox did not say where it listens")
	}
}

// stop ends the sandbox gracefully, so that its database can be read.
func (s *sandboxProcess) stop() {
	if s.cmd.ProcessState != nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// viewer is a testWorker that reads this sandbox's API for w's source.
func (s *sandboxProcess) viewer(t *testing.T, w *testWorker) *testWorker {
	return &testWorker{t: t, h: w.h, source: w.source, cfg: &config{dataSource: s.dataSource}, apiURL: s.url,
		r: &running{chartmogul: chartmogul.NewClient(s.url, sandboxKey)}}
}

// imports counts the imports the sandbox has received (up to 200).
func (s *sandboxProcess) imports(t *testing.T) int {
	t.Helper()
	var list struct {
		Imports []struct{} `json:"json_imports"`
	}
	v := &testWorker{t: t, apiURL: s.url, r: &running{chartmogul: chartmogul.NewClient(s.url, sandboxKey)}}
	v.api(fmt.Sprintf("/v1/data_sources/%s/json_imports?per_page=200", s.dataSource), &list)
	return len(list.Imports)
}

// noOverlap checks, in the sandbox's own records (read from its database
// once it stopped), that no customer was ever in two unfinished imports:
// each import of a customer arrived after the previous one had finished.
func (s *sandboxProcess) noOverlap(t *testing.T) (imports int) {
	t.Helper()
	s.stop()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+s.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	account, _, err := st.Authenticate(ctx, sandboxKey)
	if err != nil {
		t.Fatalf("the sandbox's account: %v", err)
	}
	ds, err := st.DataSource(ctx, account.ID, s.dataSource)
	if err != nil {
		t.Fatal(err)
	}
	var all []chartmogul.Import
	before := int64(0)
	for {
		page, err := st.ListImports(ctx, ds, before, 500)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 500 {
			break
		}
		before = page[len(page)-1].ID
	}
	byCustomer := map[string][]chartmogul.Import{}
	for _, imp := range all {
		if imp.Report == nil || imp.FinishedAt == nil {
			t.Errorf("import %s never finished", imp.UUID)
			continue
		}
		for _, c := range imp.Report.Customers {
			byCustomer[c.ExternalID] = append(byCustomer[c.ExternalID], imp)
		}
	}
	for customer, imps := range byCustomer {
		slices.SortFunc(imps, func(a, b chartmogul.Import) int { return a.CreatedAt.Compare(b.CreatedAt) })
		for i := 1; i < len(imps); i++ {
			if imps[i].CreatedAt.Before(*imps[i-1].FinishedAt) {
				t.Errorf("customer %s was in two unfinished imports: %s arrived at %s, before %s finished at %s",
					customer, imps[i].UUID, imps[i].CreatedAt.Format(time.RFC3339Nano), imps[i-1].UUID, imps[i-1].FinishedAt.Format(time.RFC3339Nano))
			}
		}
	}
	return len(all)
}

// workerProcess is `worker` running as its own process group (with the
// dev server it starts, when it starts one).
type workerProcess struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startWorkerProcess runs the worker binary with env and args and waits
// until it says it runs.
func startWorkerProcess(t *testing.T, env []string, args ...string) *workerProcess {
	t.Helper()
	p := &workerProcess{out: &syncBuffer{}}
	p.cmd = exec.Command(binary(t, "worker"), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Dir = t.TempDir()
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(p.out.String(), "Recur is running") {
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("the worker did not start:\n%s", p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *workerProcess) exited() bool {
	return p.cmd.ProcessState != nil
}

// kill SIGKILLs the worker's whole process group: the worker, and the dev
// server it started.
func (p *workerProcess) kill() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// faultWorkerEnv is the environment of a worker process that imports into
// a sandbox process and reads the test's billing schema.
func faultWorkerEnv(w *testWorker, sb *sandboxProcess) []string {
	return []string{
		"CHARTMOGUL_API_KEY=" + sandboxKey, "CHARTMOGUL_URL=" + sb.url, "CHARTMOGUL_DATA_SOURCE=" + sb.dataSource,
		"BILLING_DATABASE_URL=" + w.h.dbURL, "RECUR_SOURCE_SCHEMA=" + w.source, "RECUR_TASK_QUEUE=" + w.cfg.taskQueue,
		"RECUR_LOG_FORMAT=json",
	}
}

// checkHeldOnce checks that the sandbox holds every source record once.
func checkHeldOnce(t *testing.T, w *testWorker, sb *sandboxProcess) {
	t.Helper()
	held := sb.viewer(t, w).held()
	for _, c := range []struct {
		what string
		got  map[string]int
		rel  string
	}{{"customers", held.customers, "customers"}, {"plans", held.plans, "plans"}, {"invoices", held.invoices, "invoices"},
		{"line items", held.lineItems, "line_items"}, {"transactions", held.transactions, "transactions"}, {"events", held.events, "subscription_events"}} {
		want := w.sourceIDs(c.rel)
		for id, n := range c.got {
			if n != 1 {
				t.Errorf("%s %s is held %d times", c.what, id, n)
			}
		}
		lost := 0
		for id := range want {
			if c.got[id] == 0 {
				lost++
				if lost <= 10 {
					t.Errorf("%s %s was lost: the sandbox does not hold it", c.what, id)
				}
			}
		}
		if lost > 0 {
			t.Errorf("%d %s lost in all", lost, c.what)
		}
	}
	if t.Failed() {
		// What the sandbox and Recur's state say of the requests, to tell
		// a lost import from one still being applied.
		var imps struct {
			Imports []struct {
				ID, ExternalID, Status string
				Counts                 map[string]map[string]int
			} `json:"json_imports"`
		}
		sb.viewer(t, w).api(fmt.Sprintf("/v1/data_sources/%s/json_imports?per_page=200", sb.dataSource), &imps)
		for _, imp := range imps.Imports {
			t.Logf("sandbox import %s %s %s customers=%v", imp.ID, imp.ExternalID, imp.Status, imp.Counts["customers"])
		}
		var rows []struct {
			ExternalID string         `db:"external_id"`
			ID         sql.NullString `db:"chartmogul_id"`
			Status     string         `db:"status"`
			Customers  int            `db:"n"`
		}
		_ = w.h.db.Select(&rows, `SELECT external_id, chartmogul_id, status, cardinality(customers) AS n FROM recur.imports WHERE data_source = $1 ORDER BY id`, sb.dataSource)
		for _, r := range rows {
			t.Logf("recur.imports %s %s %s customers=%d", r.ExternalID, r.ID.String, r.Status, r.Customers)
		}
	}
}

// TestWorkerKilledMidSync SIGKILLs the worker twice in the middle of a sync
// of a few hundred customers — once while requests to ChartMogul are under
// way, once while imports are being polled — and starts it again each time:
// the sync completes, every record is imported exactly once, and no
// customer was ever in two unfinished imports.
func TestWorkerKilledMidSync(t *testing.T) {
	w := startWorker(t, func(c *config) { c.taskQueue += "-unused" })
	w.cfg.taskQueue = strings.TrimSuffix(w.cfg.taskQueue, "-unused") + "-proc"
	w.demo(300)
	// Slow answers keep requests in flight when the kill comes: a submit
	// applied by the sandbox whose answer the worker never read, polls
	// waiting.
	sb := startSandbox(t, "--inject-delay", "150ms")
	env := append(faultWorkerEnv(w, sb), "TEMPORAL_ADDRESS="+w.h.temporalAddr)
	// Requests of at most half a second's customers: enough of them that
	// both kills land mid-sync on a quiet machine as on a busy one.
	args := []string{"--pack-linger", "100ms", "--pack-max-linger", "500ms"}
	p := startWorkerProcess(t, env, args...)

	ctx := context.Background()
	tc, err := client.Dial(client.Options{HostPort: w.h.temporalAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.SyncID(sb.dataSource), TaskQueue: w.cfg.taskQueue},
		workflows.SyncWorkflowName, workflows.SyncInput{DataSource: sb.dataSource})
	if err != nil {
		t.Fatal(err)
	}
	// Packing puts a few dozen customers in a request: the kills come
	// after the third and the sixth request, while others are on their way.
	for i, at := range []int{3, 6} {
		waitFor(t, fmt.Sprintf("%d imports", at), 3*time.Minute, func() bool { return sb.imports(t) >= at || syncClosed(tc, sb.dataSource) })
		if syncClosed(tc, sb.dataSource) {
			t.Fatalf("the sync ended before kill %d: make it bigger or slower", i+1)
		}
		p.kill()
		t.Logf("kill %d: the worker was SIGKILLed with %d imports at the sandbox", i+1, sb.imports(t))
		p = startWorkerProcess(t, env, args...)
		proc := p
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("the restarted worker's output:\n%s", tail(proc.out.String(), 6000))
			}
		})
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var sum workflows.SyncSummary
	if err := run.Get(wctx, &sum); err != nil {
		t.Fatalf("the sync did not complete after the kills: %v\n%s", err, tail(p.out.String(), 3000))
	}
	if sum.Customers != 300 || sum.RecordsFailed != 0 {
		t.Errorf("the sync imported %d customers with %d failed records; want 300 and none", sum.Customers, sum.RecordsFailed)
	}
	checkHeldOnce(t, w, sb)
	n := sb.noOverlap(t)
	t.Logf("%d imports at the sandbox, none overlapping for a customer", n)
	if strings.Contains(p.out.String(), sandboxKey) {
		t.Error("the worker's log holds the API key")
	}
}

// TestDevServerKilledWithWorker kills the worker together with the
// embedded dev server it started, mid-sync, and starts it again on the same
// --dev-db: the sync completes with the same guarantees.
func TestDevServerKilledWithWorker(t *testing.T) {
	w := startWorker(t)
	w.cfg.taskQueue += "-dev"
	w.demo(150)
	sb := startSandbox(t, "--inject-delay", "100ms")
	devPort, uiPort := freePort(t), freePort(t)
	devDB := filepath.Join(t.TempDir(), "temporal.db")
	args := []string{"--dev-db", devDB, "--dev-port", strconv.Itoa(devPort), "--ui-port", strconv.Itoa(uiPort),
		"--pack-linger", "100ms", "--pack-max-linger", "500ms"}
	env := append(faultWorkerEnv(w, sb), "TEMPORAL_CLI="+testTemporalCLI())
	p := startWorkerProcess(t, env, args...)
	addr := "127.0.0.1:" + strconv.Itoa(devPort)

	ctx := context.Background()
	tc, err := client.Dial(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.SyncID(sb.dataSource), TaskQueue: w.cfg.taskQueue},
		workflows.SyncWorkflowName, workflows.SyncInput{DataSource: sb.dataSource}); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	waitFor(t, "4 imports", 3*time.Minute, func() bool { return sb.imports(t) >= 4 })
	p.kill()
	t.Logf("the worker and its dev server were SIGKILLed with %d imports at the sandbox", sb.imports(t))
	p = startWorkerProcess(t, env, args...)

	tc, err = client.Dial(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var sum workflows.SyncSummary
	if err := tc.GetWorkflow(wctx, workflows.SyncID(sb.dataSource), "").Get(wctx, &sum); err != nil {
		t.Fatalf("the sync did not complete after the restart: %v\n%s", err, tail(p.out.String(), 3000))
	}
	if sum.Customers != 150 || sum.RecordsFailed != 0 {
		t.Errorf("the sync imported %d customers with %d failed records; want 150 and none", sum.Customers, sum.RecordsFailed)
	}
	checkHeldOnce(t, w, sb)
	sb.noOverlap(t)
}

// TestSyncThroughChartMogulFaults syncs against a sandbox that answers 20%
// of requests 429, 10% 503, drops 5% of connections after applying them,
// and delays every answer by 50 ms: the sync completes, every record is
// imported exactly once, and the sandbox never saw more requests in a
// second than the worker's rate budget.
func TestSyncThroughChartMogulFaults(t *testing.T) {
	sb := startSandbox(t, "--inject-429", "0.2", "--inject-503", "0.1", "--inject-drop", "0.05", "--inject-delay", "50ms", "--inject-seed", "42")
	w := startWorker(t, func(c *config) {
		c.apiKey, c.chartmogulURL, c.dataSource = sandboxKey, sb.url, sb.dataSource
		c.rateBudget = 20
		// One request per customer: hundreds of requests, so that the
		// faults and the budget are put to the test.
		c.packLinger = 0
	})
	w.demo(120)
	sum := w.mustSync(workflows.SyncInput{})
	if sum.Customers != 120 || sum.RecordsFailed != 0 {
		t.Errorf("the sync imported %d customers with %d failed records; want 120 and none", sum.Customers, sum.RecordsFailed)
	}
	requests, peak := w.traffic()
	t.Logf("%d requests, at most %d in one second (budget 20)", requests, peak)
	if peak > 20 {
		t.Errorf("the sandbox saw %d requests in one second; the budget is 20", peak)
	}
	sb.restart(t) // without faults, to read what it holds
	checkHeldOnce(t, w, sb)
	sb.noOverlap(t)
	for _, run := range w.histories(fmt.Sprintf("TaskQueue = %q", w.cfg.taskQueue)) {
		id, runID, _ := strings.Cut(run, "\x00")
		if historyContains(w.exportHistory(id, runID), sandboxKey) {
			t.Errorf("the history of %s holds the API key", id)
		}
	}
}

// TestBillingDatabaseOutageMidSync cuts every connection to the billing
// database through a proxy in the middle of a sync, and lets them back
// after a few seconds: the sync completes, every record once.
func TestBillingDatabaseOutageMidSync(t *testing.T) {
	h := e2e(t)
	proxy := newTCPProxy(t, strings.Split(strings.Split(h.dbURL, "@")[1], "/")[0])
	billing := strings.Replace(h.dbURL, "@"+proxy.target+"/", "@"+proxy.addr+"/", 1)
	w := startWorker(t, func(c *config) { c.billingDB = billing })
	w.demo(200)
	done := make(chan struct{})
	var sum *workflows.SyncSummary
	var err error
	go func() {
		defer close(done)
		sum, err = w.sync(workflows.SyncInput{})
	}()
	waitFor(t, "customers imported", 2*time.Minute, func() bool {
		var n int
		_ = w.h.db.Get(&n, "SELECT count(*) FROM recur.customer_hashes WHERE data_source = $1", w.cfg.dataSource)
		return n >= 20
	})
	proxy.cut(true)
	t.Log("the billing database's connections are cut")
	time.Sleep(5 * time.Second)
	proxy.cut(false)
	t.Log("the billing database is back")
	<-done
	if err != nil {
		t.Fatalf("the sync did not complete after the outage: %v", err)
	}
	if sum.Customers != 200 || sum.RecordsFailed != 0 {
		t.Errorf("the sync imported %d customers with %d failed records; want 200 and none", sum.Customers, sum.RecordsFailed)
	}
	held := w.held()
	if len(held.customers) != 200 {
		t.Errorf("the local ChartMogul holds %d customers, want 200", len(held.customers))
	}
	for id, n := range held.invoices {
		if n != 1 {
			t.Errorf("invoice %s held %d times", id, n)
		}
	}
}

// TestBillingDatabaseRefusedSaysWhatToFix points the worker at a billing
// database that refuses connections: the sync fails after a bounded number
// of tries, with a message that says what to fix, in the workflow's failure
// and in `starter sync --wait`'s output.
func TestBillingDatabaseRefusedSaysWhatToFix(t *testing.T) {
	h := e2e(t)
	closed := freePort(t)
	billing := strings.Replace(h.dbURL, "@"+strings.Split(strings.Split(h.dbURL, "@")[1], "/")[0]+"/", "@127.0.0.1:"+strconv.Itoa(closed)+"/", 1)
	w := startWorker(t, func(c *config) { c.billingDB = billing })
	began := time.Now()
	out, err := w.starter("sync", "--wait")
	if err == nil {
		t.Fatalf("starter sync --wait succeeded against a billing database that refuses connections:\n%s", out)
	}
	for _, want := range []string{"The sync failed", "BILLING_DATABASE_URL", "connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("starter's output does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, e2eSecretPassword) || strings.Contains(w.out.String(), e2eSecretPassword) {
		t.Error("the database password appears in starter's output or the worker's log")
	}
	if !strings.Contains(w.out.String(), "BILLING_DATABASE_URL") {
		t.Error("the worker's log does not say what to fix")
	}
	if d := time.Since(began); d > 2*time.Minute {
		t.Errorf("the sync took %s to fail; it must give up after a few tries", d)
	}
}

// syncClosed reports whether the sync of a data source has ended.
func syncClosed(tc client.Client, dataSource string) bool {
	d, err := tc.DescribeWorkflowExecution(context.Background(), workflows.SyncID(dataSource), "")
	return err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// freePort returns a TCP port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// tcpProxy forwards connections to target, and can cut them all.
type tcpProxy struct {
	addr, target string
	ln           net.Listener
	mu           sync.Mutex
	down         bool
	conns        []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: ln.Addr().String(), target: target, ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	go p.serve()
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// cut closes every connection and refuses new ones (true), or lets them
// through again (false).
func (p *tcpProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}
