package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/proto"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/server"
	"github.com/recurhq/recur/starter/demo"
	"github.com/recurhq/recur/workflows"
)

// benchCmd measures a full sync, a no-change sync and a 1%-changed sync of
// fresh demo data on worker processes (the first with its embedded dev
// server), against the local ChartMogul in this process; and, in the same
// run, the floor: the same records read in one SQL pass per type and posted
// straight to the same local ChartMogul as bulk imports of up to 5 MB, each
// waited for, with no Temporal.
func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("bench", stderr)
	c := commonFlags(fs, getenv)
	customers := fs.Int("customers", 10000, "customers of the demo data")
	workers := fs.Int("workers", 1, "worker processes against one Temporal dev server")
	seed := fs.Int64("seed", 1, "seed of the demo data")
	workerBin := fs.String("worker-binary", "", "the worker to run (default: built from ./worker with the Go toolchain)")
	workerArgs := fs.String("worker-args", "", "extra flags for every worker, e.g. \"--pack-linger 50ms\"")
	batch := fs.Int("batch-size", 0, "the syncs' batch size (default: the sync's default)")
	concurrency := fs.Int("concurrency", 0, "the syncs' concurrency (default: the sync's default)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *customers < 100 || *workers < 1 {
		return usageError{"starter bench needs --customers of at least 100 and --workers of at least 1"}
	}
	dir, err := os.MkdirTemp("", "recur-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *workerBin == "" {
		*workerBin = filepath.Join(dir, "worker")
		fmt.Fprintln(stdout, "building ./worker …")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", *workerBin, "./worker").CombinedOutput(); err != nil {
			return fmt.Errorf("cannot build ./worker (run starter bench from the repository, or pass --worker-binary): %v\n%s", err, out)
		}
	}

	// Fresh demo data in a schema of the bench's own.
	db, err := sql.Open("postgres", c.billingDB)
	if err != nil {
		return usageError{fmt.Sprintf("the billing database URL is not usable: %v", err)}
	}
	defer db.Close()
	const schema, source = "recur_bench_billing", "recur_bench_source"
	began := time.Now()
	st, err := demo.Create(ctx, db, demo.Options{Customers: *customers, Schema: schema, SourceSchema: source, Seed: *seed})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo data: %d customers, %d records in %s\n", st.Customers, st.Records(), time.Since(began).Round(time.Millisecond))

	// The local ChartMogul, with a data source for the sync and one for the
	// floor, so that neither sees the other's records.
	sb, err := server.Start(ctx, server.Options{Addr: "127.0.0.1:0", Database: "sqlite:" + filepath.Join(dir, "sandbox.db"), RateLimit: 40,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sb.Stop(stopCtx)
	}()
	key, err := sb.CreateKey(ctx)
	if err != nil {
		return err
	}
	cm := chartmogul.NewClient(sb.URL, key)
	stamp := time.Now().Format("150405")
	syncDS, err := cm.CreateDataSource(ctx, "bench sync "+stamp)
	if err != nil {
		return err
	}
	floorDS, err := cm.CreateDataSource(ctx, "bench floor "+stamp)
	if err != nil {
		return err
	}

	// The workers: the first starts the dev server.
	devPort, uiPort, err := freePorts()
	if err != nil {
		return err
	}
	env := []string{"CHARTMOGUL_API_KEY=" + key, "CHARTMOGUL_URL=" + sb.URL, "CHARTMOGUL_DATA_SOURCE=" + syncDS.UUID,
		"BILLING_DATABASE_URL=" + c.billingDB, "RECUR_SOURCE_SCHEMA=" + source, "RECUR_TASK_QUEUE=recur-bench"}
	if c.stateDB != "" {
		env = append(env, "STATE_DATABASE_URL="+c.stateDB)
	}
	extra := strings.Fields(*workerArgs)
	var procs []*benchWorker
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for i := 0; i < *workers; i++ {
		args := append([]string{}, extra...)
		wenv := env
		if i == 0 {
			args = append(args, "--dev-db", filepath.Join(dir, "temporal.db"), "--dev-port", strconv.Itoa(devPort), "--ui-port", strconv.Itoa(uiPort))
		} else {
			wenv = append(wenv, "TEMPORAL_ADDRESS=127.0.0.1:"+strconv.Itoa(devPort))
		}
		p, err := startBenchWorker(ctx, *workerBin, dir, wenv, args)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	tc, err := client.DialContext(ctx, client.Options{HostPort: "127.0.0.1:" + strconv.Itoa(devPort),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return err
	}
	defer tc.Close()

	traffic := func() int {
		var t struct {
			Requests int `json:"requests"`
		}
		_ = getJSON(ctx, sb.URL+"/v1/recur/traffic", key, &t)
		return t.Requests
	}
	runSync := func(label string) (benchRun, error) {
		r := benchRun{label: label}
		before := traffic()
		t0 := time.Now()
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.SyncID(syncDS.UUID), TaskQueue: "recur-bench"},
			workflows.SyncWorkflowName, workflows.SyncInput{DataSource: syncDS.UUID, BatchSize: *batch, Concurrency: *concurrency})
		if err != nil {
			return r, err
		}
		if err := run.Get(ctx, &r.sum); err != nil {
			return r, fmt.Errorf("the %s sync failed: %w", label, err)
		}
		r.elapsed = time.Since(t0)
		r.requests = traffic() - before
		fmt.Fprintf(stdout, "%s sync: %d customers synced (%d unchanged), %d records sent in %s\n", label, r.sum.Customers, r.sum.CustomersUnchanged,
			r.sum.RecordsSent, r.elapsed.Round(time.Millisecond))
		return r, nil
	}

	cpuBefore := cpuSeconds(procs)
	full, err := runSync("full")
	if err != nil {
		return err
	}
	cpu := cpuSeconds(procs).minus(cpuBefore)
	if full.sum.RecordsFailed > 0 {
		return fmt.Errorf("the full sync failed %d records: %+v", full.sum.RecordsFailed, full.sum.FailedRecords)
	}
	runLength, largest, identities, err := historyFigures(ctx, tc, syncDS.UUID)
	if err != nil {
		return err
	}
	quiet, err := runSync("no-change")
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `UPDATE `+schema+`.accounts SET email = 'changed-' || code || '@example.com' WHERE id % 100 = 0`); err != nil {
		return err
	}
	changed, err := runSync("1%-changed")
	if err != nil {
		return err
	}
	var rss []int64
	for _, p := range procs {
		rss = append(rss, p.peakRSS())
	}

	floor, records, err := benchFloor(ctx, db, source, cm, floorDS.UUID)
	if err != nil {
		return fmt.Errorf("the floor: %w", err)
	}

	n := float64(*customers)
	fmt.Fprintf(stdout, "\nstarter bench: %d customers (%d records), %d worker process(es), dev server on SQLite (WAL)\n", *customers, st.Records(), *workers)
	fmt.Fprintf(stdout, "full sync:            %8.1f s  %7.1f customers/s  %8.0f records/s\n", full.elapsed.Seconds(), n/full.elapsed.Seconds(), float64(st.Records())/full.elapsed.Seconds())
	fmt.Fprintf(stdout, "ChartMogul requests:  %8d      %7.1f per 1,000 customers (%d imports)\n", full.requests, float64(full.requests)*1000/n, full.sum.Imports)
	fmt.Fprintf(stdout, "floor (no Temporal):  %8.1f s  %7.1f customers/s  %8.0f records/s\n", floor.Seconds(), n/floor.Seconds(), float64(records)/floor.Seconds())
	fmt.Fprintf(stdout, "sync ÷ floor:         %8.2f\n", full.elapsed.Seconds()/floor.Seconds())
	fmt.Fprintf(stdout, "no-change sync:       %8.1f s  %d customer workflows, %d requests\n", quiet.elapsed.Seconds(), quiet.sum.Customers, quiet.requests)
	fmt.Fprintf(stdout, "1%%-changed sync:      %8.1f s  %d customer workflows, %d records sent, %d requests\n", changed.elapsed.Seconds(), changed.sum.Customers, changed.sum.RecordsSent, changed.requests)
	for i, r := range rss {
		fmt.Fprintf(stdout, "worker %d peak RSS:    %8.1f MB\n", i+1, float64(r)/(1<<20))
	}
	fmt.Fprintf(stdout, "CPU per customer:     %8.1f ms Temporal dev server, %.1f ms worker(s), %.1f ms local ChartMogul and this program, %.1f ms PostgreSQL (of %.1f ms of wall time on %d cores)\n",
		cpu.server*1000/n, cpu.workers*1000/n, cpu.self*1000/n, cpu.postgres*1000/n, full.elapsed.Seconds()*1000/n, runtime.NumCPU())
	fmt.Fprintf(stdout, "parent run length:    %8d events (longest run of the full sync)\n", runLength)
	fmt.Fprintf(stdout, "largest history event:%8.1f KB\n", float64(largest)/1024)
	if *workers > 1 {
		for i, p := range procs {
			n := 0
			for id, tasks := range identities {
				if strings.HasPrefix(id, strconv.Itoa(p.cmd.Process.Pid)+"@") {
					n += tasks
				}
			}
			fmt.Fprintf(stdout, "worker %d took part:   %d of the workflow tasks of 100 customers sampled\n", i+1, n)
		}
	}
	return nil
}

// benchRun is one measured sync.
type benchRun struct {
	label    string
	sum      workflows.SyncSummary
	elapsed  time.Duration
	requests int
}

// historyFigures returns the length in events of the full sync's longest
// run, and the size of the largest event in the sync's runs and a sample of
// its customers' histories.
func historyFigures(ctx context.Context, tc client.Client, dataSource string) (int64, int, map[string]int, error) {
	resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", PageSize: 1000,
		Query: fmt.Sprintf("WorkflowId = %q", workflows.SyncID(dataSource))})
	if err != nil {
		return 0, 0, nil, err
	}
	var longest int64
	largest := 0
	// Which worker ran a customer's workflow tasks: its identity (pid@host)
	// is on every WorkflowTaskStarted event.
	identities := map[string]int{}
	sizes := func(id, run string) error {
		it := tc.GetWorkflowHistory(ctx, id, run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return err
			}
			largest = max(largest, proto.Size(ev))
			if a := ev.GetWorkflowTaskStartedEventAttributes(); a != nil && strings.HasPrefix(id, workflows.CustomerIDPrefix) {
				identities[a.GetIdentity()]++
			}
		}
		return nil
	}
	for _, e := range resp.GetExecutions() {
		longest = max(longest, e.GetHistoryLength())
		if err := sizes(e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()); err != nil {
			return 0, 0, nil, err
		}
	}
	children, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", PageSize: 100,
		Query: fmt.Sprintf("WorkflowType = %q AND WorkflowId STARTS_WITH %q", workflows.CustomerWorkflowName, workflows.CustomerIDPrefix+dataSource)})
	if err != nil {
		return 0, 0, nil, err
	}
	for _, e := range children.GetExecutions() {
		if err := sizes(e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()); err != nil {
			return 0, 0, nil, err
		}
	}
	return longest, largest, identities, nil
}

// benchFloor reads the source in one SQL pass per relation, packs the
// records by customer into bulk imports of at most 5 MB, posts each and
// waits for it: what a sync costs without Temporal.
func benchFloor(ctx context.Context, db *sql.DB, source string, cm *chartmogul.Client, dataSource string) (time.Duration, int, error) {
	t0 := time.Now()
	sp := chartmogul.NewSplitter()
	for _, t := range chartmogul.RecordTypes {
		rows, err := db.QueryContext(ctx, "SELECT json_strip_nulls(row_to_json(r))::text FROM "+source+"."+string(t)+" AS r")
		if err != nil {
			return 0, 0, err
		}
		for rows.Next() {
			var raw []byte
			if err := rows.Scan(&raw); err != nil {
				rows.Close()
				return 0, 0, err
			}
			if err := sp.Add(t, raw); err != nil {
				rows.Close()
				return 0, 0, err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, 0, err
		}
	}
	chunks, err := sp.Pack(chartmogul.MaxPayload)
	if err != nil {
		return 0, 0, err
	}
	for _, ch := range chunks {
		var imp *chartmogul.ImportState
		if err := retryLimited(ctx, func() (err error) { imp, _, err = cm.CreateImport(ctx, dataSource, ch.Body); return err }); err != nil {
			return 0, 0, err
		}
		// Polled every 50 ms: the floor stays under the account's 40
		// requests/s, as a sync must.
		var done *chartmogul.ImportState
		if err := retryLimited(ctx, func() (err error) {
			done, err = cm.WaitImport(ctx, dataSource, imp.ID, 50*time.Millisecond)
			return err
		}); err != nil {
			return 0, 0, err
		}
		if _, failed := done.Records(); failed > 0 {
			return 0, 0, fmt.Errorf("import %s failed %d records: %+v", done.ID, failed, done.FailedRecords[0])
		}
	}
	return time.Since(t0), sp.Records(), nil
}

// benchWorker is a worker process of the benchmark.
type benchWorker struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	log bytes.Buffer
}

func startBenchWorker(ctx context.Context, bin, dir string, env, args []string) (*benchWorker, error) {
	p := &benchWorker{cmd: exec.Command(bin, args...)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Dir = dir
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if strings.Contains(line, "Recur is running") {
				once.Do(func() { close(started) })
			}
		}
	}()
	select {
	case <-started:
		return p, nil
	case <-time.After(3 * time.Minute):
	case <-ctx.Done():
	}
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	return nil, fmt.Errorf("a worker did not start:\n%s", p.log.String())
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func (p *benchWorker) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// stop interrupts the worker and waits for it (and its dev server).
func (p *benchWorker) stop() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// freePorts returns two TCP ports nothing listens on.
func freePorts() (int, int, error) {
	var ports []int
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

// getJSON reads a JSON answer of the local ChartMogul.
func getJSON(ctx context.Context, url, key string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(key, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// cpuUse is CPU time, in seconds, by what spent it.
type cpuUse struct{ server, workers, self, postgres float64 }

func (a cpuUse) minus(b cpuUse) cpuUse {
	return cpuUse{a.server - b.server, a.workers - b.workers, a.self - b.self, a.postgres - b.postgres}
}

// cpuSeconds reads from /proc the CPU time of the worker processes, of
// their children (the dev server), of this process (the local ChartMogul
// runs in it) and of every PostgreSQL process.
func cpuSeconds(procs []*benchWorker) cpuUse {
	var u cpuUse
	workers := map[int]bool{}
	for _, p := range procs {
		workers[p.cmd.Process.Pid] = true
	}
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// comm is in parentheses and may hold spaces: the fields start
		// after the last ')'.
		line := string(b)
		name := line[strings.IndexByte(line, '(')+1 : strings.LastIndexByte(line, ')')]
		f := strings.Fields(line[strings.LastIndexByte(line, ')')+2:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		utime, _ := strconv.ParseFloat(f[11], 64)
		stime, _ := strconv.ParseFloat(f[12], 64)
		secs := (utime + stime) / 100 // USER_HZ
		switch {
		case workers[pid]:
			u.workers += secs
		case workers[ppid]:
			u.server += secs
		case pid == self:
			u.self += secs
		case name == "postgres":
			u.postgres += secs
		}
	}
	return u
}

// retryLimited runs f again after a 429's Retry-After, as any client of
// ChartMogul must.
func retryLimited(ctx context.Context, f func() error) error {
	for {
		err := f()
		var e *chartmogul.Error
		if !errors.As(err, &e) || e.Code != chartmogul.ERATELIMIT {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(max(e.RetryAfter, time.Second)):
		}
	}
}
