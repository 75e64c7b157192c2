package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/gen"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// e2eWorker is `sandbox worker` running as a real process.
type e2eWorker struct {
	cmd    *exec.Cmd
	stderr *e2eBuffer
	exited chan struct{}
}

// startE2EWorker starts the built binary as `sandbox worker` on dbURL and
// waits until it runs. It is stopped when t ends.
func startE2EWorker(t *testing.T, dbURL string) *e2eWorker {
	t.Helper()
	cmd := exec.Command(e2eBinary(t), "worker", "--database", dbURL)
	cmd.Env = e2eEnviron()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &e2eWorker{cmd: cmd, stderr: &e2eBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Recur worker is running") {
				close(running)
			}
		}
		cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-w.exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-w.exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("log of worker %d:\n%s", cmd.Process.Pid, e2eTail(w.stderr.String(), 3000))
		}
	})
	select {
	case <-running:
		return w
	case <-w.exited:
		t.Fatalf("sandbox worker exited: %s", w.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sandbox worker did not start within 30s: %s", w.stderr.String())
	}
	return nil
}

// TestScaleOut runs Recur as it runs at scale: two API processes and three
// worker processes on one PostgreSQL database. Ten concurrent clients submit
// thirty bulk imports into three data sources through both API processes,
// and one worker is killed with SIGKILL mid-run. Every import must complete
// exactly once, every record must be present once, and in each data source
// the imports must apply in the order they arrived: the last import's name
// for the customer all of them rename wins.
func TestScaleOut(t *testing.T) {
	db := storetest.Postgres(t)
	apis := []*e2eProcess{startE2EProcess(t, db.URL, "--no-workers"), startE2EProcess(t, db.URL, "--no-workers")}
	workers := []*e2eWorker{startE2EWorker(t, db.URL), startE2EWorker(t, db.URL), startE2EWorker(t, db.URL)}

	const sources, perSource, customersPerImport = 3, 10, 40
	dss := make([]string, sources)
	for i := range dss {
		dss[i] = apis[0].createDataSource(t, fmt.Sprintf("source %d", i))
	}

	// Each import brings customersPerImport customers of its own and renames
	// the data source's shared customer.
	type job struct{ ds, n int }
	payloads := map[job][]byte{}
	want := gen.Stats{}
	for d := range sources {
		for n := range perSource {
			first := (d*perSource + n) * customersPerImport
			payload, st, err := gen.Payload(gen.Options{Customers: customersPerImport, FirstCustomer: first, Seed: int64(first),
				ExternalID: fmt.Sprintf("import-%d-%d", d, n)})
			if err != nil {
				t.Fatal(err)
			}
			payloads[job{d, n}] = withSharedCustomer(t, payload, fmt.Sprintf("name %d", n))
			want.Customers += st.Customers
			want.Invoices += st.Invoices
			want.LineItems += st.LineItems
			want.Transactions += st.Transactions
			want.SubscriptionEvents += st.SubscriptionEvents
		}
	}
	want.Customers += sources // the shared customers

	jobs := make(chan job, sources*perSource)
	for n := range perSource {
		for d := range sources {
			jobs <- job{d, n}
		}
	}
	close(jobs)
	var mu sync.Mutex
	ids := map[job]string{}
	var posted sync.WaitGroup
	posted.Add(sources * perSource)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for c := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := apis[c%2]
			for j := range jobs {
				r, err := api.send(http.MethodPost, e2eImportsPath(dss[j.ds]), payloads[j])
				if err != nil || r.status != http.StatusCreated {
					errs <- fmt.Errorf("POST import %v: %v %v", j, err, r)
					posted.Done()
					continue
				}
				var imp apiImport
				json.Unmarshal(r.body, &imp)
				mu.Lock()
				ids[j] = imp.ID
				mu.Unlock()
				posted.Done()
			}
		}()
	}
	// Kill a worker once the work is under way.
	time.Sleep(300 * time.Millisecond)
	workers[1].cmd.Process.Signal(syscall.SIGKILL)
	<-workers[1].exited
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	for j, id := range ids {
		imp := apis[j.ds%2].waitImportFor(t, dss[j.ds], id, 3*time.Minute)
		if imp.Status != "completed" || len(imp.FailedRecords) > 0 {
			t.Errorf("import %v is %s with failures %+v", j, imp.Status, imp.FailedRecords)
		}
		if c := imp.Counts["customers"]; c.Imported != c.Received || c.Received != customersPerImport+1 {
			t.Errorf("import %v counts %+v", j, imp.Counts)
		}
	}

	// Every record once.
	c := apis[1].e2eClient
	countOf := func(path, key string) int { return len(e2eListAll[json.RawMessage](t, c, path, key, 200)) }
	if got := countOf("/v1/customers", "entries"); got != want.Customers {
		t.Errorf("%d customers, want %d", got, want.Customers)
	}
	invoices := e2eListAll[struct {
		LineItems    []json.RawMessage `json:"line_items"`
		Transactions []json.RawMessage `json:"transactions"`
	}](t, c, "/v1/invoices", "invoices", 200)
	items, txs := 0, 0
	for _, inv := range invoices {
		items += len(inv.LineItems)
		txs += len(inv.Transactions)
	}
	if len(invoices) != want.Invoices || items != want.LineItems || txs != want.Transactions {
		t.Errorf("%d invoices, %d line items, %d transactions; want %d, %d, %d", len(invoices), items, txs, want.Invoices, want.LineItems, want.Transactions)
	}
	if got := countOf("/v1/subscription_events", "subscription_events"); got != want.SubscriptionEvents {
		t.Errorf("%d subscription events, want %d", got, want.SubscriptionEvents)
	}

	// Arrival order: the newest import of each data source set the shared
	// customer's name last.
	for d, ds := range dss {
		newest := e2eGetPage[apiImport](t, c, e2eImportsPath(ds)+"?per_page=1", "json_imports").items[0]
		var n int
		fmt.Sscanf(*newest.ExternalID, fmt.Sprintf("import-%d-%%d", d), &n)
		shared := e2eGetPage[struct {
			Name string `json:"name"`
		}](t, c, "/v1/customers?data_source_uuid="+ds+"&external_id=shared", "entries").items
		if len(shared) != 1 || shared[0].Name != fmt.Sprintf("name %d", n) {
			t.Errorf("data source %d: shared customer %+v, want the name of the last import to arrive, %q", d, shared, fmt.Sprintf("name %d", n))
		}
	}
}

// withSharedCustomer adds to a generated payload the customer "shared", named
// name.
func withSharedCustomer(t *testing.T, payload []byte, name string) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatal(err)
	}
	p["customers"] = append(p["customers"].([]any), map[string]any{"external_id": "shared", "name": name})
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
