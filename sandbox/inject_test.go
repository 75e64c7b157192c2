package main

// End-to-end tests of `sandbox serve --inject-…` and of the traffic record,
// GET /v1/recur/traffic: what the fault tests of the Recur worker rely on.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rateLimited is ChartMogul's body of a 429.
const rateLimited = `{"code":429,"message":"Your request rate has exceeded our rate limit.","param":null}`

// apiTraffic is the answer of GET /v1/recur/traffic.
type apiTraffic struct {
	Requests      int `json:"requests"`
	PeakPerSecond int `json:"peak_per_second"`
	Seconds       []struct {
		Second   string `json:"second"`
		Requests int    `json:"requests"`
	} `json:"seconds"`
}

// TestInjectFlagsRefused checks that bad --inject-… values are usage
// errors (exit code 2) that name the flag, before anything is opened.
func TestInjectFlagsRefused(t *testing.T) {
	db := e2eFreshDatabase(t, "sqlite")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--inject-429", "1.5"}, "--inject-429 must be a fraction between 0 and 1"},
		{[]string{"--inject-503", "-0.1"}, "--inject-503 must be a fraction between 0 and 1"},
		{[]string{"--inject-drop", "NaN"}, "--inject-drop must be a fraction between 0 and 1"},
		{[]string{"--inject-429", "0.5", "--inject-503", "0.4", "--inject-drop", "0.2"}, "together they may be at most 1"},
		{[]string{"--inject-delay", "-1s"}, "--inject-delay must not be negative"},
		{[]string{"--inject-retry-after", "1500ms"}, "--inject-retry-after must be a whole number of seconds"},
		{[]string{"--inject-retry-after", "0s"}, "--inject-retry-after must be a whole number of seconds"},
		{[]string{"--inject-429", "lots"}, `invalid value "lots" for flag -inject-429`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database", db}, tc.args...)
			err := run(context.Background(), args, e2eEnv(nil), strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
				t.Errorf("sandbox serve %s: %v (exit code %d), want a usage error saying %q", strings.Join(tc.args, " "), err, exitCode(err), tc.want)
			}
		})
	}
	// The three fractions may add up to exactly 1, in the decimal sense.
	args := []string{"serve", "--addr", "127.0.0.1:0", "--database", db, "--inject-429", "0.1", "--inject-503", "0.2", "--inject-drop", "0.7"}
	if out := serveUntilListening(t, args...); !strings.Contains(out, "Injecting faults: 10% 429 (Retry-After 1s), 20% 503, 70% dropped connections; seed ") {
		t.Errorf("sandbox serve %s printed %q, want the faults it injects", strings.Join(args[1:], " "), out)
	}
}

// serveUntilListening runs `sandbox serve` with args until it listens, then
// stops it, and returns what it printed.
func serveUntilListening(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &e2eAddrWriter{addr: make(chan string, 1)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, e2eEnv(map[string]string{"RECUR_API_KEY": e2eKey}), strings.NewReader(""), stdout, io.Discard)
	}()
	select {
	case <-stdout.addr:
	case err := <-done:
		cancel()
		t.Fatalf("sandbox serve stopped before listening: %v\n%s", err, stdout.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sandbox serve did not listen within 30s\n%s", stdout.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("sandbox serve returned %v", err)
	}
	return stdout.String()
}

// TestInjectStartLine checks the line a faulty server prints at start, and
// that --inject-seed is the seed it names.
func TestInjectStartLine(t *testing.T) {
	out := serveUntilListening(t, "serve", "--addr", "127.0.0.1:0", "--database", e2eFreshDatabase(t, "sqlite"), "--no-workers",
		"--inject-429", "0.2", "--inject-503", "0.1", "--inject-drop", "0.05", "--inject-delay", "50ms", "--inject-seed", "42")
	const want = "Injecting faults: 20% 429 (Retry-After 1s), 10% 503, 5% dropped connections, 50ms delay; seed 42\n"
	if !strings.Contains(out, want) {
		t.Errorf("sandbox serve printed %q, want the line %q", out, want)
	}
}

// TestInject429 checks --inject-429 1: every API request is answered
// ChartMogul's 429 with Retry-After and nothing is done, while the routes
// outside the API, a request without a valid key and the traffic record
// are answered as usual.
func TestInject429(t *testing.T) {
	db := e2eFreshDatabase(t, "sqlite")
	c := startE2EServer(t, db, "--no-workers", "--inject-429", "1", "--inject-retry-after", "2s")
	for _, req := range []struct {
		method, path string
		body         []byte
	}{
		{http.MethodGet, "/v1/ping", nil},
		{http.MethodGet, "/v1/account", nil},
		{http.MethodPost, "/v1/data_sources", []byte(`{"name":"never"}`)},
		{http.MethodGet, "/v1/data_sources", nil},
		{http.MethodPost, e2eImportsPath("ds_00000000-0000-0000-0000-000000000000"), e2eSeed(t)},
		{http.MethodGet, "/v1/customers", nil},
	} {
		r := c.do(t, req.method, req.path, req.body)
		e2eExpectBody(t, r, http.StatusTooManyRequests, rateLimited)
		if got := r.header.Get("Retry-After"); got != "2" {
			t.Errorf("%s %s: Retry-After %q, want 2", req.method, req.path, got)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/metrics", "/"} {
		if r, err := c.send(http.MethodGet, path, nil); err != nil || r.status != http.StatusOK {
			t.Errorf("GET %s with --inject-429 1: %v %v, want 200", path, r, err)
		}
	}
	c.as("").expect(t, http.StatusUnauthorized, http.MethodGet, "/v1/ping", nil)
	if tr := e2eGet[apiTraffic](t, c, "/v1/recur/traffic"); tr.Requests != 6 {
		t.Errorf("traffic %+v, want the 6 refused requests", tr)
	}
	if metrics := scrape(t, c); !strings.Contains(metrics, `recur_injected_faults_total{fault="429"} 6`) {
		t.Errorf("/metrics does not count the 6 injected 429s:\n%s", e2eTail(metrics, 3000))
	}

	// A server without faults on the same database finds nothing stored.
	clean := startE2EServer(t, db, "--no-workers")
	list := e2eGet[struct {
		DataSources []apiDataSource `json:"data_sources"`
	}](t, clean, "/v1/data_sources")
	if len(list.DataSources) != 0 {
		t.Errorf("the refused POST stored data sources %+v", list.DataSources)
	}
}

// TestInjectDrop checks --inject-drop 1 on bulk imports: the client gets no
// answer, but the import is stored — once, however often the client sends
// it again with the same external_id — and is applied; a later POST of the
// same payload answers 200 with that import.
func TestInjectDrop(t *testing.T) {
	db := e2eFreshDatabase(t, "sqlite")
	clean := startE2EServer(t, db)
	faulty := startE2EServer(t, db, "--no-workers", "--inject-drop", "1")
	ds := clean.createDataSource(t, "drops")
	seed := e2eSeed(t) // its external_id is ds_import_1

	for attempt := 1; attempt <= 3; attempt++ {
		r, err := faulty.send(http.MethodPost, e2eImportsPath(ds), seed)
		if err == nil {
			t.Fatalf("attempt %d: %s, want the connection closed without an answer", attempt, r)
		}
		if msg := err.Error(); !errors.Is(err, io.EOF) && !strings.Contains(msg, "EOF") && !strings.Contains(msg, "connection reset") {
			t.Fatalf("attempt %d: %v, want EOF or a connection reset", attempt, err)
		}
		t.Logf("attempt %d: %v", attempt, err)
	}

	imp := clean.getImport(t, ds, "ds_import_1")
	if imp = clean.waitImport(t, ds, imp.ID); imp.Status != "completed" {
		t.Fatalf("the dropped import is %s (%s), want completed", imp.Status, derefAny(imp.Reason))
	}
	imports := e2eListAll[apiImport](t, clean, e2eImportsPath(ds), "json_imports", 200)
	if len(imports) != 1 || imports[0].ID != imp.ID {
		t.Errorf("three dropped POSTs of one external_id stored %d imports %+v, want one", len(imports), imports)
	}
	r := clean.postImport(t, ds, seed)
	if r.status != http.StatusOK || e2eDecode[apiImport](t, r).ID != imp.ID {
		t.Errorf("POST again: %s, want 200 with import %s", r, imp.ID)
	}

	// A dropped request is counted once its handler returns, which can be
	// after its client heard the connection close: wait for the counts.
	for _, series := range []string{
		`recur_injected_faults_total{fault="drop"} 3`,
		`recur_http_requests_total{code="444",route="POST /v1/data_sources/{ds}/json_imports"} 3`,
	} {
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(scrape(t, faulty), series); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("/metrics lacks %s", series)
				break
			}
		}
	}
}

// scrape reads the server's /metrics.
func scrape(t *testing.T, c *e2eClient) string {
	t.Helper()
	r, err := c.send(http.MethodGet, "/metrics", nil)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %v %v", r, err)
	}
	return string(r.body)
}

// TestInjectDelay checks that --inject-delay holds back every API answer,
// and no other.
func TestInjectDelay(t *testing.T) {
	c := startE2EServer(t, e2eFreshDatabase(t, "sqlite"), "--no-workers", "--inject-delay", "100ms")
	start := time.Now()
	ds := c.createDataSource(t, "slow")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("POST /v1/data_sources answered in %v, want at least 100ms", d)
	}
	start = time.Now()
	e2eGet[apiDataSource](t, c, "/v1/data_sources/"+ds)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("GET /v1/data_sources/%s answered in %v, want at least 100ms", ds, d)
	}
	start = time.Now()
	c.expect(t, http.StatusOK, http.MethodGet, "/healthz", nil)
	if d := time.Since(start); d >= 100*time.Millisecond {
		t.Errorf("GET /healthz took %v; the delay is for API routes only", d)
	}
}

// TestInject503Fraction checks that --inject-503 0.5 faults about half of
// the requests.
func TestInject503Fraction(t *testing.T) {
	c := startE2EServer(t, e2eFreshDatabase(t, "sqlite"), "--no-workers", "--inject-503", "0.5", "--inject-seed", "7")
	unavailable := 0
	for range 200 {
		r := c.do(t, http.MethodGet, "/v1/ping", nil)
		switch r.status {
		case http.StatusServiceUnavailable:
			unavailable++
			if r.header.Get("Retry-After") != "1" || !strings.Contains(string(r.body), `"code":503`) {
				t.Fatalf("%s with Retry-After %q, want ChartMogul's 503 body and Retry-After 1", r, r.header.Get("Retry-After"))
			}
		case http.StatusOK:
		default:
			t.Fatalf("%s, want 200 or 503", r)
		}
	}
	if unavailable < 70 || unavailable > 130 {
		t.Errorf("%d of 200 requests answered 503 with --inject-503 0.5, want 70 to 130", unavailable)
	}
}

// TestTrafficRecord checks GET /v1/recur/traffic: it counts every request
// of the key's account, those the rate limit refuses included, and only
// that account's.
func TestTrafficRecord(t *testing.T) {
	db := e2eFreshDatabase(t, "sqlite")
	c := startE2EServer(t, db, "--no-workers", "--rate-limit", "10")
	other := c.as(createKey(t, db, "other"))

	statuses := map[int]int{}
	for range 30 {
		statuses[c.do(t, http.MethodGet, "/v1/ping", nil).status]++
	}
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Logf("no request of 30 was over --rate-limit 10 (statuses %v); the machine is slow", statuses)
	}
	for range 3 {
		other.expect(t, http.StatusOK, http.MethodGet, "/v1/ping", nil)
	}

	tr := e2eGet[apiTraffic](t, c, "/v1/recur/traffic")
	if tr.Requests != 30 || tr.PeakPerSecond < 1 || len(tr.Seconds) == 0 {
		t.Fatalf("traffic %+v, want 30 requests (statuses %v)", tr, statuses)
	}
	sum, peak := 0, 0
	for _, s := range tr.Seconds {
		if _, err := time.Parse(time.RFC3339, s.Second); err != nil || !strings.HasSuffix(s.Second, "Z") {
			t.Errorf("second %q is not an RFC 3339 UTC time", s.Second)
		}
		sum += s.Requests
		peak = max(peak, s.Requests)
	}
	if sum != tr.Requests || peak != tr.PeakPerSecond {
		t.Errorf("seconds %+v add up to %d with a peak of %d; the record says %d and %d", tr.Seconds, sum, peak, tr.Requests, tr.PeakPerSecond)
	}
	// Reading the record did not count, and the other account sees only
	// its own requests.
	if again := e2eGet[apiTraffic](t, c, "/v1/recur/traffic"); again.Requests != 30 {
		t.Errorf("after reading the record: %d requests, want still 30", again.Requests)
	}
	if tr := e2eGet[apiTraffic](t, other, "/v1/recur/traffic"); tr.Requests != 3 || tr.PeakPerSecond < 1 || tr.PeakPerSecond > 3 {
		t.Errorf("the other account's traffic %+v, want its own 3 requests", tr)
	}
	c.as("").expect(t, http.StatusUnauthorized, http.MethodGet, "/v1/recur/traffic", nil)
}
