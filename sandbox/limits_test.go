package main

// End-to-end tests of `sandbox serve`'s protections and operator endpoints,
// through run(): slow clients are cut off, oversized headers refused, the
// rate limit and the import-queue bound follow their flags, the workers'
// imports show in /metrics, and `sandbox worker --metrics-addr` serves the
// operator endpoints.

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/store/storetest"
)

// limAddr is the host:port a test server listens on.
func limAddr(c *e2eClient) string { return strings.TrimPrefix(c.base, "http://") }

// limClosedWithin waits for the server to end a connection and reports what
// it sent before, failing t when it is still open after limit.
func limClosedWithin(t *testing.T, conn net.Conn, limit time.Duration) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(limit))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection of a slow client open for %s (got %q)", limit, b)
	}
	return string(b)
}

func TestServeCutsOffSlowHeaders(t *testing.T) {
	c := startE2EServer(t, storetest.SQLite(t).URL, "--read-header-timeout", "300ms")
	conn, err := net.Dial("tcp", limAddr(c))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "GET /v1/ping HTTP/1.1\r\nHost: %s\r\nX-Slow: ", limAddr(c))
	// Keep trickling the header, a byte every 50 ms: progress does not
	// extend the deadline.
	go func() {
		for range 100 {
			time.Sleep(50 * time.Millisecond)
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	got := limClosedWithin(t, conn, 3*time.Second)
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("the connection ended after %s, before the 300ms timeout", took)
	}
	if strings.Contains(got, "200 OK") {
		t.Errorf("a request whose headers never ended was answered: %q", got)
	}
	// Clients that send promptly are served as before.
	c.expect(t, http.StatusOK, http.MethodGet, "/v1/ping", nil)
}

func TestServeCutsOffSlowBodies(t *testing.T) {
	c := startE2EServer(t, storetest.SQLite(t).URL, "--read-timeout", "500ms")
	conn, err := net.Dial("tcp", limAddr(c))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	auth := base64.StdEncoding.EncodeToString([]byte(e2eKey + ":"))
	fmt.Fprintf(conn, "POST /v1/data_sources HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":\"sl", limAddr(c), auth)
	got := limClosedWithin(t, conn, 5*time.Second)
	// The handler's read of the body fails at the deadline: 400, and the
	// connection closes.
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("a body cut off by the read timeout was answered %q, want 400", got)
	}
	// Nothing was stored.
	list := e2eDecode[struct {
		DataSources []apiDataSource `json:"data_sources"`
	}](t, c.expect(t, http.StatusOK, http.MethodGet, "/v1/data_sources", nil))
	if len(list.DataSources) != 0 {
		t.Errorf("a request cut off mid-body stored %d data sources", len(list.DataSources))
	}
}

func TestServeRefusesOversizedHeaders(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		ok, huge int
	}{
		{nil, 32 << 10, 100 << 10},                                 // the default: 64 KB
		{[]string{"--max-header-bytes", "8KB"}, 2 << 10, 16 << 10}, // Go allows 4 KB of slack over the limit
	} {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			c := startE2EServer(t, storetest.SQLite(t).URL, tc.args...)
			r, err := c.send(http.MethodGet, "/v1/ping", nil, "X-Big", strings.Repeat("a", tc.huge))
			if err != nil {
				t.Fatal(err)
			}
			if r.status != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("a %d-byte header: %s, want 431", tc.huge, r)
			}
			c.expect(t, http.StatusOK, http.MethodGet, "/v1/ping", nil)
			if r, err := c.send(http.MethodGet, "/v1/ping", nil, "X-Big", strings.Repeat("a", tc.ok)); err != nil || r.status != http.StatusOK {
				t.Errorf("a %d-byte header: %v %v, want 200", tc.ok, r, err)
			}
		})
	}
}

func TestServeRateLimitFlags(t *testing.T) {
	// The default is ChartMogul's 40 requests per second, in bursts of 40.
	// (startE2EServer turns the limit off, hence a server of our own.)
	c := limServeDefaults(t, storetest.SQLite(t).URL)
	ok, limited := 0, 0
	for range 45 {
		r := c.do(t, http.MethodGet, "/v1/ping", nil)
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			e2eExpectBody(t, r, http.StatusTooManyRequests, `{"code":429,"message":"Your request rate has exceeded our rate limit.","param":null}`)
			if r.header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("%s", r)
		}
	}
	if ok < 40 || limited == 0 {
		t.Errorf("45 requests at once: %d answered, %d limited; want at least 40 answered and some limited", ok, limited)
	}

	c = startE2EServer(t, storetest.SQLite(t).URL, "--rate-limit", "1", "--rate-burst", "1")
	c.expect(t, http.StatusOK, http.MethodGet, "/v1/ping", nil)
	c.expect(t, http.StatusTooManyRequests, http.MethodGet, "/v1/ping", nil)

	c = startE2EServer(t, storetest.SQLite(t).URL, "--rate-limit", "0")
	for range 100 {
		c.expect(t, http.StatusOK, http.MethodGet, "/v1/ping", nil)
	}

	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"serve", "--database", storetest.SQLite(t).URL, "--rate-limit", "-1"}, e2eEnv(nil), strings.NewReader(""), &stdout, &stderr)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--rate-limit") {
		t.Errorf("--rate-limit -1: %v (exit %d), want a usage error naming the flag", err, exitCode(err))
	}
}

// limServeDefaults runs `sandbox serve` through run() with no flags but its
// address and database, so its limits are the defaults, until t ends.
func limServeDefaults(t *testing.T, dbURL string) *e2eClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &e2eAddrWriter{addr: make(chan string, 1)}
	stderr := &e2eBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--database", dbURL}, e2eEnv(map[string]string{"RECUR_API_KEY": e2eKey}), strings.NewReader(""), stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sandbox serve returned %v", err)
		}
	})
	select {
	case addr := <-stdout.addr:
		return newE2EClient("http://"+addr, e2eKey)
	case err := <-done:
		t.Fatalf("sandbox serve stopped: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sandbox serve did not start within 30s\n%s", stderr.String())
	}
	return nil
}

func TestServeImportQueueBoundFlag(t *testing.T) {
	c := startE2EServer(t, storetest.SQLite(t).URL, "--no-workers", "--max-queued-imports", "1")
	ds := c.createDataSource(t, "bounded")
	c.submitImport(t, ds, []byte(`{"external_id":"b1","customers":[]}`))
	r := c.postImport(t, ds, []byte(`{"external_id":"b2","customers":[]}`))
	e2eExpectBody(t, r, http.StatusTooManyRequests, `{"code":429,"message":"1 imports of this account are still waiting to be applied; wait for some to finish, then send this one again.","param":null}`)
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
}

// limScrape reads a /metrics page.
func limScrape(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, b)
	}
	return string(b)
}

// limMetric returns a sample's value, or -1 when the page lacks it.
func limMetric(page, series string) float64 {
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func TestServeMetricsCountItsWorkers(t *testing.T) {
	for _, engine := range e2eEngines(t) {
		t.Run(engine, func(t *testing.T) {
			c := startE2EServer(t, e2eFreshDatabase(t, engine))
			ds := c.createDataSource(t, "metrics")
			imp := c.submitImport(t, ds, e2eSeed(t))
			if got := c.waitImport(t, ds, imp.ID); got.Status != "completed" {
				t.Fatalf("the seed import finished %s", got.Status)
			}
			page := limScrape(t, c.base)
			for series, want := range map[string]float64{
				`recur_imports_finished_total{status="completed"}`:                    1,
				`recur_import_duration_seconds_count`:                                 1,
				`recur_imports_unfinished{status="queued"}`:                           0,
				`recur_http_requests_total{code="201",route="POST /v1/data_sources"}`: 1,
				`recur_database_up`: 1,
			} {
				if got := limMetric(page, series); got != want {
					t.Errorf("%s = %v, want %v", series, got, want)
				}
			}
			if limMetric(page, `recur_import_records_imported_total{type="customers"}`) < 1 {
				t.Errorf("no customer counted as imported:\n%s", page)
			}
			for _, p := range []string{"/healthz", "/readyz"} {
				r := c.as("").do(t, http.MethodGet, p, nil)
				e2eExpectBody(t, r, http.StatusOK, `{"status":"ok"}`)
			}
		})
	}
}

// limStartWorker runs `sandbox worker` in process with --metrics-addr and
// returns the base URL of its operator endpoints.
func limStartWorker(t *testing.T, dbURL string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &e2eBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"worker", "--database", dbURL, "--metrics-addr", "127.0.0.1:0"}, e2eEnv(nil), strings.NewReader(""), pw, stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sandbox worker returned %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("sandbox worker did not stop within 60s")
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", e2eTail(stderr.String(), 4000))
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := regexp.MustCompile(`metrics are at (http://\S+)/metrics`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatalf("sandbox worker stopped: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sandbox worker printed no metrics address within 30s\n%s", stderr.String())
	}
	return ""
}

func TestWorkerServesMetrics(t *testing.T) {
	for _, engine := range e2eEngines(t) {
		t.Run(engine, func(t *testing.T) {
			db := e2eFreshDatabase(t, engine)
			base := limStartWorker(t, db)
			for _, p := range []string{"/healthz", "/readyz"} {
				res, err := http.Get(base + p)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || string(b) != `{"status":"ok"}` {
					t.Errorf("worker GET %s: %d %s", p, res.StatusCode, b)
				}
			}
			if engine != "postgres" {
				// One SQLite file is served by one `sandbox serve`, which runs
				// its own workers; scale-out with workers is PostgreSQL's.
				if limMetric(limScrape(t, base), `recur_imports_finished_total{status="completed"}`) != 0 {
					t.Errorf("the worker's metrics lack recur_imports_finished_total")
				}
				return
			}
			// An API process without workers takes the import; the worker
			// process applies it and counts it.
			c := startE2EServer(t, db, "--no-workers")
			ds := c.createDataSource(t, "scaled")
			imp := c.submitImport(t, ds, e2eSeed(t))
			if got := c.waitImport(t, ds, imp.ID); got.Status != "completed" {
				t.Fatalf("the import finished %s", got.Status)
			}
			// The worker counts the import just after the commit that made
			// it completed for the API: give it a moment.
			var got float64
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if got = limMetric(limScrape(t, base), `recur_imports_finished_total{status="completed"}`); got == 1 {
					break
				}
			}
			if got != 1 {
				t.Errorf("worker recur_imports_finished_total{status=\"completed\"} = %v, want 1", got)
			}
			if got := limMetric(limScrape(t, c.base), `recur_imports_finished_total{status="completed"}`); got != 0 {
				t.Errorf("the API process without workers counted %v finished imports", got)
			}
		})
	}
}
