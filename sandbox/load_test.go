package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/gen"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// TestLoad puts Recur under load on loopback: 50 concurrent clients mixing
// bulk imports, single-object writes and reads for RECUR_LOAD_SECONDS (60 by
// default), on SQLite and on PostgreSQL. It asserts that no request got a
// 5xx and that exactly the records the clients were told were accepted are
// stored — none lost, none twice — and prints what it served with the p99
// latency of reads.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the load test runs for a minute per engine; -short skips it")
	}
	seconds := 60
	if v := os.Getenv("RECUR_LOAD_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("RECUR_LOAD_SECONDS=%q is not a number of seconds", v)
		}
		seconds = n
	}
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			loadRun(t, db.Engine, db.URL, time.Duration(seconds)*time.Second)
		})
	}
}

// loadLedger is what the clients were told was accepted.
type loadLedger struct {
	mu        sync.Mutex
	customers map[string]bool // external ids
	invoices  map[string]bool
	events    map[string]bool
	imports   []loadImport
}

type loadImport struct {
	ds, id string
	stats  gen.Stats
}

func (l *loadLedger) add(m map[string]bool, id string) {
	l.mu.Lock()
	m[id] = true
	l.mu.Unlock()
}

// loadStats counts what the clients did.
type loadStats struct {
	requests, fiveXX, imports, writes, reads atomic.Int64
	mu                                       sync.Mutex
	readLatencies                            []time.Duration
	failures                                 []string
}

func (s *loadStats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 20 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

func loadRun(t *testing.T, engine, dbURL string, duration time.Duration) {
	c := startE2EServer(t, dbURL, "--rate-limit", "0", "--max-queued-imports", "0")
	dss := []string{c.createDataSource(t, "load one"), c.createDataSource(t, "load two")}
	for _, ds := range dss {
		c.expect(t, http.StatusCreated, http.MethodPost, "/v1/plans",
			[]byte(`{"data_source_uuid":"`+ds+`","external_id":"load_plan","name":"Load","interval_count":1,"interval_unit":"month"}`))
	}
	ledger := &loadLedger{customers: map[string]bool{}, invoices: map[string]bool{}, events: map[string]bool{}}
	stats := &loadStats{}
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for client := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadClient(c, client, dss, deadline, ledger, stats)
		}()
	}
	wg.Wait()
	for _, f := range stats.failures {
		t.Error(f)
	}
	if n := stats.fiveXX.Load(); n > 0 {
		t.Errorf("%d requests were answered 5xx", n)
	}

	// Every accepted import finishes; then the stored records are exactly
	// the accepted ones.
	wantCustomers := len(ledger.customers)
	wantInvoices := len(ledger.invoices)
	wantEvents := len(ledger.events)
	for _, imp := range ledger.imports {
		got := c.waitImportFor(t, imp.ds, imp.id, 5*time.Minute)
		if got.Status != "completed" || len(got.FailedRecords) > 0 {
			t.Errorf("import %s: %s, failures %+v", imp.id, got.Status, got.FailedRecords)
		}
		wantCustomers += imp.stats.Customers
		wantInvoices += imp.stats.Invoices
		wantEvents += imp.stats.SubscriptionEvents
	}
	type extID struct {
		ExternalID string `json:"external_id"`
	}
	count := func(path, key string, accepted map[string]bool, want int) (lost, twice int) {
		seen := map[string]int{}
		for _, r := range e2eListAll[extID](t, c, path, key, 200) {
			seen[r.ExternalID]++
		}
		for id := range accepted {
			if seen[id] == 0 {
				lost++
			}
		}
		total := 0
		for _, n := range seen {
			total += n
			if n > 1 {
				twice += n - 1
			}
		}
		if total != want {
			t.Errorf("%s: %d stored, %d accepted", key, total, want)
		}
		return lost, twice
	}
	lostC, twiceC := count("/v1/customers", "entries", ledger.customers, wantCustomers)
	lostI, twiceI := count("/v1/invoices", "invoices", ledger.invoices, wantInvoices)
	lostE, twiceE := count("/v1/subscription_events", "subscription_events", ledger.events, wantEvents)
	lost, twice := lostC+lostI+lostE, twiceC+twiceI+twiceE
	if lost > 0 || twice > 0 {
		t.Errorf("%d accepted records lost, %d stored twice", lost, twice)
	}

	lat := stats.readLatencies
	slices.Sort(lat)
	p := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(q*float64(len(lat))))]
	}
	t.Logf("load on %s for %s: %d requests (%d bulk imports, %d single-object writes, %d reads), %d 5xx; "+
		"reads p50 %s, p99 %s; records accepted and stored: %d customers, %d invoices, %d subscription events; lost %d, duplicated %d",
		engine, duration, stats.requests.Load(), stats.imports.Load(), stats.writes.Load(), stats.reads.Load(), stats.fiveXX.Load(),
		p(0.5).Round(time.Microsecond), p(0.99).Round(time.Microsecond), wantCustomers, wantInvoices, wantEvents, lost, twice)
}

// loadClient is one client: until deadline it picks an action — 10% bulk
// imports, 30% single-object writes, 60% reads — and records what it was
// told.
func loadClient(c *e2eClient, n int, dss []string, deadline time.Time, ledger *loadLedger, stats *loadStats) {
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	type mine struct{ ds, uuid, ext string }
	var customers []mine
	send := func(method, path string, body []byte) *e2eResponse {
		stats.requests.Add(1)
		r, err := c.send(method, path, body)
		if err != nil {
			stats.fail("client %d: %v", n, err)
			return nil
		}
		if r.status >= 500 {
			stats.fiveXX.Add(1)
			stats.fail("client %d: %s", n, r)
		}
		return r
	}
	for i := 0; time.Now().Before(deadline); i++ {
		ds := dss[rng.IntN(len(dss))]
		switch x := rng.IntN(100); {
		case x < 10:
			first := 1_000_000 + (n*100_000 + i*10)
			payload, st, err := gen.Payload(gen.Options{Customers: 5, FirstCustomer: first, Seed: int64(first)})
			if err != nil {
				stats.fail("gen: %v", err)
				return
			}
			stats.imports.Add(1)
			if r := send(http.MethodPost, e2eImportsPath(ds), payload); r != nil && r.status == http.StatusCreated {
				var imp apiImport
				json.Unmarshal(r.body, &imp)
				ledger.mu.Lock()
				ledger.imports = append(ledger.imports, loadImport{ds: ds, id: imp.ID, stats: st})
				ledger.mu.Unlock()
			} else if r != nil {
				stats.fail("client %d: bulk import: %s", n, r)
			}
		case x < 40:
			stats.writes.Add(1)
			switch {
			case len(customers) == 0 || x < 20:
				ext := fmt.Sprintf("load-%d-%d", n, i)
				r := send(http.MethodPost, "/v1/customers", []byte(`{"data_source_uuid":"`+ds+`","external_id":"`+ext+`","name":"Load `+ext+`"}`))
				if r != nil && r.status == http.StatusCreated {
					var cus struct {
						UUID string `json:"uuid"`
					}
					json.Unmarshal(r.body, &cus)
					customers = append(customers, mine{ds, cus.UUID, ext})
					ledger.add(ledger.customers, ext)
				} else if r != nil {
					stats.fail("client %d: create customer: %s", n, r)
				}
			case x < 32:
				cus := customers[rng.IntN(len(customers))]
				inv := fmt.Sprintf("load-inv-%d-%d", n, i)
				body := fmt.Sprintf(`{"invoices":[{"external_id":%q,"date":"2025-01-01","currency":"USD","line_items":[{"type":"one_time","amount_in_cents":%d,"description":"load"}]}]}`,
					inv, 100+rng.IntN(10000))
				if r := send(http.MethodPost, "/v1/import/customers/"+cus.uuid+"/invoices", []byte(body)); r != nil && r.status == http.StatusCreated {
					ledger.add(ledger.invoices, inv)
				} else if r != nil {
					stats.fail("client %d: import invoice: %s", n, r)
				}
			default:
				cus := customers[rng.IntN(len(customers))]
				ev := fmt.Sprintf("load-ev-%d-%d", n, i)
				body := fmt.Sprintf(`{"subscription_event":{"data_source_uuid":%q,"customer_external_id":%q,"event_type":"subscription_start_scheduled","event_date":"2025-01-01","effective_date":"2025-02-01","subscription_external_id":"sub-%d","plan_external_id":"load_plan","currency":"USD","amount_in_cents":1000,"external_id":%q}}`,
					cus.ds, cus.ext, i, ev)
				if r := send(http.MethodPost, "/v1/subscription_events", []byte(body)); r != nil && r.status == http.StatusCreated {
					ledger.add(ledger.events, ev)
				} else if r != nil {
					stats.fail("client %d: create event: %s", n, r)
				}
			}
		default:
			stats.reads.Add(1)
			paths := []string{"/v1/customers?per_page=20", "/v1/invoices?per_page=10", "/v1/plans", "/v1/subscription_events?per_page=20",
				e2eImportsPath(ds) + "?per_page=5", "/v1/data_sources/" + ds}
			start := time.Now()
			r := send(http.MethodGet, paths[rng.IntN(len(paths))], nil)
			if r != nil && r.status != http.StatusOK {
				stats.fail("client %d: read: %s", n, r)
			}
			stats.mu.Lock()
			stats.readLatencies = append(stats.readLatencies, time.Since(start))
			stats.mu.Unlock()
		}
	}
}
