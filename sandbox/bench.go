package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/gen"
	"github.com/recurhq/recur/sandbox/store"
)

// bench measures bulk imports end to end on a fresh database: one import
// from POST to completed (several runs, median), a batch of imports back to
// back (sustained records per second), the floor of the same work (decoding
// the payload and inserting its rows, nothing else), and the peak heap of one
// import. It serves the API in this process over real HTTP on loopback.
func bench(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flags("bench", stderr)
	customers := fs.Int("customers", 1000, "customers per import (about 20 records each; 1,000 ≈ 5 MB)")
	runs := fs.Int("runs", 7, "single imports to time; the median is reported")
	imports := fs.Int("imports", 20, "imports sent back to back for the sustained figure")
	dbURL := fs.String("database", "", "database to use (default: a fresh SQLite file in a temporary directory)")
	single := fs.Bool("single-object", false, "also import one payload record by record through the single-object endpoints, and compare")
	clients := fs.Int("clients", 8, "concurrent keep-alive clients of the single-object comparison")
	cliMB := fs.Int("cli-import", 0, "also send a generated file of about this many MB (e.g. 50) with `sandbox import`, and as requests split beforehand, and compare")
	workerProcs := fs.Int("worker-processes", 0, "apply imports in this many `sandbox worker` processes instead of the server process (PostgreSQL)")
	sources := fs.Int("data-sources", 1, "spread the back-to-back imports round-robin over this many data sources (imports of one source apply one after another; of several, side by side)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *sources < 1 {
		return usageError{fmt.Sprintf("--data-sources must be at least 1; got %d", *sources)}
	}
	dir, err := os.MkdirTemp("", "recur-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	floorURL := *dbURL
	if *dbURL == "" {
		*dbURL = "sqlite:" + filepath.Join(dir, "recur.db")
		floorURL = "sqlite:" + filepath.Join(dir, "floor.db")
	}

	// The payloads: disjoint customers, so every import inserts.
	total := *runs + *imports + 1
	payloads := make([][]byte, total)
	records := make([]int, total)
	for i := range payloads {
		b, st, err := gen.Payload(gen.Options{Customers: *customers, FirstCustomer: i * *customers, Seed: int64(i)})
		if err != nil {
			return err
		}
		payloads[i], records[i] = b, st.Records()
	}
	fmt.Fprintf(stdout, "payload: %d customers, %d records, %.2f MB\n", *customers, records[0], float64(len(payloads[0]))/(1<<20))

	floor, err := benchFloor(ctx, floorURL, payloads[total-1])
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}

	key := "bench-key-0123456789abcdef"
	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	// The benchmark measures throughput: the per-account request limit and
	// import-queue bound that protect a shared server would only measure
	// themselves.
	serveArgs := []string{"serve", "--addr", "127.0.0.1:0", "--database", *dbURL, "--rate-limit", "0", "--max-queued-imports", "0"}
	if *workerProcs > 0 {
		serveArgs = append(serveArgs, "--no-workers")
		stopWorkers, err := startWorkerProcesses(*workerProcs, *dbURL, stderr)
		if err != nil {
			return err
		}
		defer stopWorkers()
	}
	addr, done, err := startServer(srvCtx, serveArgs,
		func(k string) string {
			if k == "RECUR_API_KEY" {
				return key
			}
			return getenv(k)
		}, io.Discard)
	if err != nil {
		return err
	}
	c := &benchClient{base: "http://" + addr, key: key, http: &http.Client{Timeout: time.Minute}}
	ds, err := c.createDataSource("bench")
	if err != nil {
		return err
	}

	// One import at a time, POST to completed. The heap is measured above
	// what the process held before the POST (the benchmark's own payloads
	// among it): what one import costs.
	var latencies []time.Duration
	var peak uint64
	for i := 0; i < *runs; i++ {
		runtime.GC()
		runtime.GC()
		sampler := startHeapSampler()
		start := time.Now()
		id, err := c.postImport(ds, payloads[i])
		if err != nil {
			return err
		}
		if err := c.waitCompleted(ds, id); err != nil {
			return err
		}
		latencies = append(latencies, time.Since(start))
		peak = max(peak, sampler.stop())
	}
	slices.Sort(latencies)
	median := latencies[len(latencies)/2]

	// Imports back to back: all POSTed, then all waited for.
	dss := []string{ds}
	for i := 1; i < *sources; i++ {
		extra, err := c.createDataSource(fmt.Sprintf("bench %d", i+1))
		if err != nil {
			return err
		}
		dss = append(dss, extra)
	}
	type posted struct{ ds, id string }
	start := time.Now()
	var sentImports []posted
	sent := 0
	for i := *runs; i < *runs+*imports; i++ {
		to := dss[(i-*runs)%len(dss)]
		id, err := c.postImport(to, payloads[i])
		if err != nil {
			return err
		}
		sentImports = append(sentImports, posted{to, id})
		sent += records[i]
	}
	for _, p := range sentImports {
		if err := c.waitCompleted(p.ds, p.id); err != nil {
			return err
		}
	}
	sustained := time.Since(start)
	var singleRun *singleObjectRun
	if *single {
		if singleRun, err = importRecordByRecord(c, payloads[total-1], *clients); err != nil {
			return fmt.Errorf("single-object comparison: %w", err)
		}
	}
	var cliRun *cliImportRun
	if *cliMB > 0 {
		if cliRun, err = importFileWithCLI(ctx, c, dir, *cliMB); err != nil {
			return fmt.Errorf("sandbox import comparison: %w", err)
		}
	}
	stop()
	<-done

	rate := float64(sent) / sustained.Seconds()
	fmt.Fprintf(stdout, "single import, POST to completed: median %s (min %s, max %s, %d runs)\n", ms(median), ms(latencies[0]), ms(latencies[len(latencies)-1]), *runs)
	where := "in the server process"
	if *workerProcs > 0 {
		where = fmt.Sprintf("in %d worker processes", *workerProcs)
	}
	fmt.Fprintf(stdout, "database: %s; imports applied %s\n", strings.SplitN(*dbURL, ":", 2)[0], where)
	fmt.Fprintf(stdout, "sustained: %d imports into %d data source(s), %d records in %s = %.0f records/s\n", *imports, len(dss), sent, ms(sustained), rate)
	fmt.Fprintf(stdout, "floor (decode + insert rows, no validation): %s; end to end / floor = %.2f\n", ms(floor), median.Seconds()/floor.Seconds())
	if singleRun != nil {
		fmt.Fprintf(stdout, "single-object endpoints, record by record: %d requests (%d records) in %s with %d keep-alive clients = %.0f requests/s; bulk is %.0f× faster (%s vs %s)\n",
			singleRun.requests, singleRun.records, ms(singleRun.took), *clients, float64(singleRun.requests)/singleRun.took.Seconds(),
			singleRun.took.Seconds()/median.Seconds(), ms(median), ms(singleRun.took))
	}
	if cliRun != nil {
		fmt.Fprintf(stdout, "sandbox import of a %.1f MB file (%d records): %s to all completed; the same records split beforehand into %d requests and sent by the benchmark: %s; ratio %.2f\n",
			float64(cliRun.bytes)/(1<<20), cliRun.records, ms(cliRun.cli), cliRun.requests, ms(cliRun.presplit), cliRun.cli.Seconds()/cliRun.presplit.Seconds())
	}
	fmt.Fprintf(stdout, "peak heap of one import (above the heap before it): %.1f MB\n", float64(peak)/(1<<20))
	return nil
}

// cliImportRun is what importFileWithCLI measured.
type cliImportRun struct {
	bytes, records, requests int
	cli, presplit            time.Duration
}

// importFileWithCLI writes a generated payload of about mb megabytes to a
// file and imports it twice, each time into a new data source: first split
// beforehand (untimed) into requests under the server's payload limit that
// the benchmark posts back to back and waits for, then with `sandbox import`
// from the file, run in this process as the binary runs it. Both are timed
// to the last import's completed. The pre-split run goes first, so that
// the CLI's run meets the larger database.
func importFileWithCLI(ctx context.Context, c *benchClient, dir string, mb int) (*cliImportRun, error) {
	// The generator writes about 4,800 bytes per customer.
	payload, st, err := gen.Payload(gen.Options{Customers: max(1, mb<<20/4800), Seed: 50})
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "cli-import.json")
	if err := os.WriteFile(file, payload, 0o600); err != nil {
		return nil, err
	}
	out := &cliImportRun{bytes: len(payload), records: st.Records()}

	sp := chartmogul.NewSplitter()
	if err := sp.ReadJSON(bytes.NewReader(payload)); err != nil {
		return nil, err
	}
	chunks, err := sp.Pack(5 << 20) // sandbox serve's default --max-payload
	if err != nil {
		return nil, err
	}
	out.requests = len(chunks)
	ds, err := c.createDataSource("bench pre-split")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	// The first request carries the plans that the others name.
	id, err := c.postImport(ds, chunks[0].Body)
	if err != nil {
		return nil, err
	}
	if err := c.waitCompleted(ds, id); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(chunks)-1)
	for _, ch := range chunks[1:] {
		id, err := c.postImport(ds, ch.Body)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if err := c.waitCompleted(ds, id); err != nil {
			return nil, err
		}
	}
	out.presplit = time.Since(start)

	start = time.Now()
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"import", "--url", c.base, "--api-key", c.key, "--data-source", "bench sandbox import", "--progress", "never", file},
		func(string) string { return "" }, nil, &stdout, &stderr)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s%s", err, stdout.String(), stderr.String())
	}
	out.cli = time.Since(start)
	return out, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// startServer runs `sandbox serve` in this process and returns the address it
// listens on, and a channel closed when it has stopped.
func startServer(ctx context.Context, args []string, getenv env, stderr io.Writer) (string, <-chan struct{}, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		err := run(ctx, args, getenv, nil, pw, stderr)
		pw.CloseWithError(cmpErr(err, io.EOF))
		errc <- err
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Recur is listening on http://"); ok {
			addr, _, _ := strings.Cut(rest, " ")
			go io.Copy(io.Discard, pr)
			return addr, done, nil
		}
	}
	err := <-errc
	return "", done, fmt.Errorf("the server did not start: %v", err)
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// heapSampler records the largest live heap seen until stopped.
type heapSampler struct {
	base uint64
	peak atomic.Uint64
	quit chan struct{}
	done chan struct{}
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{quit: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	h.base = sample[0].Value.Uint64()
	go func() {
		defer close(h.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.quit:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// stop returns the peak above the heap at the start.
func (h *heapSampler) stop() uint64 {
	close(h.quit)
	<-h.done
	return h.peak.Load() - min(h.base, h.peak.Load())
}

// benchClient is the HTTP client of the benchmark.
type benchClient struct {
	base, key string
	http      *http.Client
}

func (c *benchClient) do(method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.key, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (c *benchClient) createDataSource(name string) (string, error) {
	var ds struct {
		UUID string `json:"uuid"`
	}
	err := c.do("POST", "/v1/data_sources", []byte(`{"name":"`+name+`"}`), http.StatusCreated, &ds)
	return ds.UUID, err
}

func (c *benchClient) postImport(ds string, payload []byte) (string, error) {
	var imp struct {
		ID string `json:"id"`
	}
	err := c.do("POST", "/v1/data_sources/"+ds+"/json_imports", payload, http.StatusCreated, &imp)
	return imp.ID, err
}

func (c *benchClient) waitCompleted(ds, id string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var imp struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
			Counts struct {
				LineItems struct {
					Failed int `json:"failed"`
				} `json:"line_items"`
			} `json:"counts"`
		}
		if err := c.do("GET", "/v1/data_sources/"+ds+"/json_imports/"+id, nil, http.StatusOK, &imp); err != nil {
			return err
		}
		switch chartmogul.ImportStatus(imp.Status) {
		case chartmogul.ImportCompleted:
			if imp.Counts.LineItems.Failed > 0 {
				return fmt.Errorf("import %s completed with %d failed line items; the generated payload should import whole", id, imp.Counts.LineItems.Failed)
			}
			return nil
		case chartmogul.ImportFailed:
			return fmt.Errorf("import %s failed: %s", id, imp.Reason)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return errors.New("import " + id + " did not complete within 5 minutes")
}

// startWorkerProcesses starts n `sandbox worker` processes of this binary on
// the database and returns the function that stops them.
func startWorkerProcesses(n int, dbURL string, stderr io.Writer) (func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var procs []*exec.Cmd
	stop := func() {
		for _, p := range procs {
			p.Process.Signal(os.Interrupt)
		}
		for _, p := range procs {
			p.Wait()
		}
	}
	for range n {
		cmd := exec.Command(self, "worker", "--database", dbURL)
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			stop()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			stop()
			return nil, err
		}
		procs = append(procs, cmd)
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "Recur worker is running") {
			stop()
			return nil, fmt.Errorf("a worker process did not start: %q %v", line, err)
		}
	}
	return stop, nil
}

// benchFloor decodes a payload into plain structs, with no validation, turns
// its records into rows linked by external id, and inserts them on a fresh
// SQLite database with the store's own bulk writer: the least work an import
// of this payload can be.
func benchFloor(ctx context.Context, url string, payload []byte) (time.Duration, error) {
	st, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	account, err := st.EnsureAccount(ctx, "floor")
	if err != nil {
		return 0, err
	}
	ds, err := st.CreateDataSource(ctx, account.ID, fmt.Sprintf("floor %d", time.Now().UnixNano()), "")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	ch, err := naiveChanges(payload, ds)
	if err != nil {
		return 0, err
	}
	if err := st.WriteChanges(ctx, ch); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// naivePayload is the payload decoded with nothing checked: plain structs,
// dates as strings.
type naivePayload struct {
	Customers []struct {
		ExternalID         string `json:"external_id"`
		Name               string `json:"name"`
		Email              string `json:"email"`
		Company            string `json:"company"`
		Country            string `json:"country"`
		State              string `json:"state"`
		City               string `json:"city"`
		Zip                string `json:"zip"`
		LeadCreatedAt      string `json:"lead_created_at"`
		FreeTrialStartedAt string `json:"free_trial_started_at"`
	} `json:"customers"`
	Plans []struct {
		ExternalID    string `json:"external_id"`
		Name          string `json:"name"`
		IntervalCount int64  `json:"interval_count"`
		IntervalUnit  string `json:"interval_unit"`
	} `json:"plans"`
	Invoices []struct {
		ExternalID         string `json:"external_id"`
		CustomerExternalID string `json:"customer_external_id"`
		Date               string `json:"date"`
		DueDate            string `json:"due_date"`
		Currency           string `json:"currency"`
	} `json:"invoices"`
	LineItems []struct {
		InvoiceExternalID      string `json:"invoice_external_id"`
		ExternalID             string `json:"external_id"`
		Type                   string `json:"type"`
		AmountInCents          int64  `json:"amount_in_cents"`
		Quantity               int64  `json:"quantity"`
		SubscriptionExternalID string `json:"subscription_external_id"`
		PlanExternalID         string `json:"plan_external_id"`
		Start                  string `json:"service_period_start"`
		End                    string `json:"service_period_end"`
		Tax                    int64  `json:"tax_amount_in_cents"`
		Discount               int64  `json:"discount_amount_in_cents"`
		DiscountCode           string `json:"discount_code"`
		Fees                   int64  `json:"transaction_fees_in_cents"`
		Description            string `json:"description"`
	} `json:"line_items"`
	Transactions []struct {
		InvoiceExternalID string `json:"invoice_external_id"`
		ExternalID        string `json:"external_id"`
		Type              string `json:"type"`
		Result            string `json:"result"`
		Date              string `json:"date"`
		AmountInCents     *int64 `json:"amount_in_cents"`
	} `json:"transactions"`
	Events []struct {
		ExternalID             string `json:"external_id"`
		CustomerExternalID     string `json:"customer_external_id"`
		EventType              string `json:"event_type"`
		EventDate              string `json:"event_date"`
		EffectiveDate          string `json:"effective_date"`
		SubscriptionExternalID string `json:"subscription_external_id"`
		PlanExternalID         string `json:"plan_external_id"`
		Currency               string `json:"currency"`
		AmountInCents          *int64 `json:"amount_in_cents"`
		Quantity               *int64 `json:"quantity"`
		RetractedEventID       string `json:"retracted_event_id"`
	} `json:"subscription_events"`
}

func optParse(s string) *time.Time {
	t, err := chartmogul.ParseTime(s)
	if err != nil {
		return nil
	}
	return &t
}

func mustParse(s string) time.Time {
	t, _ := chartmogul.ParseTime(s)
	return t
}

func naiveChanges(payload []byte, ds *chartmogul.DataSource) (*bulk.ImportChanges, error) {
	var p naivePayload
	if err := json.Unmarshal(payload, &p, json.RejectUnknownMembers(false)); err != nil {
		return nil, err
	}
	ch := &bulk.ImportChanges{Report: &chartmogul.ImportReport{}}
	customers := map[string]*chartmogul.Customer{}
	for _, r := range p.Customers {
		c := &chartmogul.Customer{UUID: chartmogul.NewID(chartmogul.PrefixCustomer), AccountID: ds.AccountID, DataSourceID: ds.ID, ExternalID: r.ExternalID,
			Name: r.Name, Email: r.Email, Company: r.Company, Country: r.Country, State: r.State, City: r.City, Zip: r.Zip,
			LeadCreatedAt: optParse(r.LeadCreatedAt), FreeTrialStartedAt: optParse(r.FreeTrialStartedAt)}
		customers[c.ExternalID] = c
		ch.NewCustomers = append(ch.NewCustomers, c)
	}
	plans := map[string]*chartmogul.Plan{}
	for _, r := range p.Plans {
		pl := &chartmogul.Plan{UUID: chartmogul.NewID(chartmogul.PrefixPlan), AccountID: ds.AccountID, DataSourceID: ds.ID, ExternalID: r.ExternalID,
			Name: r.Name, IntervalCount: r.IntervalCount, IntervalUnit: r.IntervalUnit}
		plans[pl.ExternalID] = pl
		ch.NewPlans = append(ch.NewPlans, pl)
	}
	invoices := map[string]*chartmogul.Invoice{}
	for _, r := range p.Invoices {
		inv := &chartmogul.Invoice{UUID: chartmogul.NewID(chartmogul.PrefixInvoice), AccountID: ds.AccountID, DataSourceID: ds.ID, ExternalID: r.ExternalID,
			CustomerExternalID: r.CustomerExternalID, Date: mustParse(r.Date), DueDate: optParse(r.DueDate), Currency: r.Currency}
		invoices[inv.ExternalID] = inv
		ch.NewInvoices = append(ch.NewInvoices, bulk.InvoiceLink{Invoice: inv, Customer: customers[inv.CustomerExternalID]})
	}
	subs := map[string]*chartmogul.Subscription{}
	for _, r := range p.LineItems {
		li := &chartmogul.LineItem{UUID: chartmogul.NewID(chartmogul.PrefixLineItem), ExternalID: r.ExternalID, Type: r.Type, AmountInCents: r.AmountInCents,
			Quantity: max(r.Quantity, 1), SubscriptionExternalID: r.SubscriptionExternalID, ServicePeriodStart: optParse(r.Start), ServicePeriodEnd: optParse(r.End),
			TaxAmountInCents: r.Tax, DiscountAmountInCents: r.Discount, DiscountCode: r.DiscountCode, TransactionFeesInCents: r.Fees, Description: r.Description}
		inv := invoices[r.InvoiceExternalID]
		l := bulk.LineItemLink{LineItem: li, Invoice: inv, Plan: plans[r.PlanExternalID]}
		if li.SubscriptionExternalID != "" {
			key := inv.CustomerExternalID + "\x00" + li.SubscriptionExternalID
			sub := subs[key]
			if sub == nil {
				sub = &chartmogul.Subscription{UUID: chartmogul.NewID(chartmogul.PrefixSubscription), AccountID: ds.AccountID, DataSourceID: ds.ID, ExternalID: li.SubscriptionExternalID}
				subs[key] = sub
				ch.NewSubscriptions = append(ch.NewSubscriptions, bulk.SubscriptionLink{Subscription: sub, Customer: customers[inv.CustomerExternalID], Plan: l.Plan})
			}
			l.Subscription = sub
		}
		ch.NewLineItems = append(ch.NewLineItems, l)
	}
	for _, r := range p.Transactions {
		t := &chartmogul.Transaction{UUID: chartmogul.NewID(chartmogul.PrefixTransaction), ExternalID: r.ExternalID, Type: r.Type, Result: r.Result,
			Date: mustParse(r.Date), AmountInCents: r.AmountInCents}
		ch.NewTransactions = append(ch.NewTransactions, bulk.TransactionLink{Transaction: t, Invoice: invoices[r.InvoiceExternalID]})
	}
	for _, r := range p.Events {
		e := &chartmogul.SubscriptionEvent{AccountID: ds.AccountID, DataSourceID: ds.ID, ExternalID: r.ExternalID, CustomerExternalID: r.CustomerExternalID,
			EventType: r.EventType, EventDate: mustParse(r.EventDate), EffectiveDate: mustParse(r.EffectiveDate), SubscriptionExternalID: r.SubscriptionExternalID,
			PlanExternalID: r.PlanExternalID, Currency: r.Currency, AmountInCents: r.AmountInCents, Quantity: r.Quantity, RetractedEventID: r.RetractedEventID}
		ch.NewEvents = append(ch.NewEvents, bulk.EventLink{Event: e, Customer: customers[e.CustomerExternalID]})
	}
	return ch, nil
}

// singleObjectRun is what importing one payload record by record took.
type singleObjectRun struct {
	requests, records int
	took              time.Duration
}

// importRecordByRecord imports a bulk payload's records one request each
// through the single-object endpoints, into a data source of its own, with
// clients concurrent keep-alive connections: plans first, then each
// customer with its invoices (an invoice carries its first line item, which
// ChartMogul requires), each further line item and transaction, and its
// subscription events. Customers are spread over the clients.
func importRecordByRecord(c *benchClient, payload []byte, clients int) (*singleObjectRun, error) {
	var p struct {
		Customers    []map[string]any `json:"customers"`
		Plans        []map[string]any `json:"plans"`
		Invoices     []map[string]any `json:"invoices"`
		LineItems    []map[string]any `json:"line_items"`
		Transactions []map[string]any `json:"transactions"`
		Events       []map[string]any `json:"subscription_events"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	ds, err := c.createDataSource(fmt.Sprintf("single-object %d", time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	itemsOf := map[string][]map[string]any{}
	for _, li := range p.LineItems {
		itemsOf[str(li, "invoice_external_id")] = append(itemsOf[str(li, "invoice_external_id")], li)
	}
	txOf := map[string][]map[string]any{}
	for _, tr := range p.Transactions {
		txOf[str(tr, "invoice_external_id")] = append(txOf[str(tr, "invoice_external_id")], tr)
	}
	invoicesOf := map[string][]map[string]any{}
	for _, inv := range p.Invoices {
		invoicesOf[str(inv, "customer_external_id")] = append(invoicesOf[str(inv, "customer_external_id")], inv)
	}
	eventsOf := map[string][]map[string]any{}
	for _, ev := range p.Events {
		eventsOf[str(ev, "customer_external_id")] = append(eventsOf[str(ev, "customer_external_id")], ev)
	}

	hc := &benchClient{base: c.base, key: c.key, http: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}}
	var requests atomic.Int64
	post := func(path string, body any, out any) error {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		requests.Add(1)
		return hc.do("POST", path, b, http.StatusCreated, out)
	}
	start := time.Now()
	planUUID := map[string]string{}
	for _, pl := range p.Plans {
		pl["data_source_uuid"] = ds
		var out struct {
			UUID string `json:"uuid"`
		}
		if err := post("/v1/plans", pl, &out); err != nil {
			return nil, err
		}
		planUUID[str(pl, "external_id")] = out.UUID
	}
	item := func(li map[string]any) map[string]any {
		m := maps.Clone(li)
		delete(m, "invoice_external_id")
		if pl := str(m, "plan_external_id"); pl != "" {
			m["plan_uuid"] = planUUID[pl]
			delete(m, "plan_external_id")
		}
		return m
	}
	work := make(chan map[string]any)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cus := range work {
				if err := importCustomer(post, ds, cus, invoicesOf[str(cus, "external_id")], itemsOf, txOf, eventsOf[str(cus, "external_id")], item, str); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, cus := range p.Customers {
		work <- cus
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return &singleObjectRun{requests: int(requests.Load()), took: time.Since(start),
		records: len(p.Customers) + len(p.Plans) + len(p.Invoices) + len(p.LineItems) + len(p.Transactions) + len(p.Events)}, nil
}

// importCustomer sends one customer's records, one request each.
func importCustomer(post func(string, any, any) error, ds string, cus map[string]any, invoices []map[string]any,
	itemsOf, txOf map[string][]map[string]any, events []map[string]any, item func(map[string]any) map[string]any,
	str func(map[string]any, string) string) error {
	cus["data_source_uuid"] = ds
	var created struct {
		UUID string `json:"uuid"`
	}
	if err := post("/v1/customers", cus, &created); err != nil {
		return err
	}
	for _, inv := range invoices {
		ext := str(inv, "external_id")
		items := itemsOf[ext]
		body := maps.Clone(inv)
		delete(body, "customer_external_id")
		body["line_items"] = []map[string]any{item(items[0])}
		var out struct {
			Invoices []struct {
				UUID string `json:"uuid"`
			} `json:"invoices"`
		}
		if err := post("/v1/import/customers/"+created.UUID+"/invoices", map[string]any{"invoices": []any{body}}, &out); err != nil {
			return err
		}
		inv := out.Invoices[0].UUID
		for _, li := range items[1:] {
			if err := post("/v1/import/invoices/"+inv+"/line_items", item(li), nil); err != nil {
				return err
			}
		}
		for _, tr := range txOf[ext] {
			t := maps.Clone(tr)
			delete(t, "invoice_external_id")
			if err := post("/v1/import/invoices/"+inv+"/transactions", t, nil); err != nil {
				return err
			}
		}
	}
	for _, ev := range events {
		e := maps.Clone(ev)
		e["data_source_uuid"] = ds
		if err := post("/v1/subscription_events", e, nil); err != nil {
			return err
		}
	}
	return nil
}
