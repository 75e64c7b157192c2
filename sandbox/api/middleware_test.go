package api_test

// Tests of observability through real HTTP on every engine: /metrics,
// /healthz and /readyz, request ids, the access log, and that API keys never
// reach the logs.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/importer"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// obsLog is a log sink safe for the server's goroutines.
type obsLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *obsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *obsLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines decodes the JSON log lines.
func (l *obsLog) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// obsEnv is a server under test with its store, key and log.
type obsEnv struct {
	db      storetest.Database
	st      *store.Store
	srv     *api.Server
	url     string
	key     string
	account *chartmogul.Account
	log     *obsLog
	logger  *slog.Logger
}

// obsServer serves a fresh database over httptest with a JSON logger at
// debug level; configure may set the server's limits before it serves.
func obsServer(t *testing.T, db storetest.Database, configure func(*api.Server)) *obsEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db.URL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc, err := st.EnsureAccount(ctx, store.DefaultAccount)
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.CreateKey(ctx, acc.ID, chartmogul.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	e := &obsEnv{db: db, st: st, key: key, account: acc, log: &obsLog{}}
	e.logger = slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = api.New(st, e.logger)
	if configure != nil {
		configure(e.srv)
	}
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL
	return e
}

// startWorkers runs the import workers on the environment's store, counting
// into the server's metrics, until t ends.
func (e *obsEnv) startWorkers(t *testing.T) {
	t.Helper()
	im := importer.New(e.st, e.logger)
	im.Finished = e.srv.Metrics.ImportFinished
	q, err := e.st.StartWorkers(context.Background(), im.Workers(), store.QueueConfig{PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
}

// obsResponse is an answer read whole.
type obsResponse struct {
	status int
	header http.Header
	body   []byte
}

// send makes a request with key (none when ""), and extra headers as
// name, value pairs.
func (e *obsEnv) send(t testing.TB, method, path, key string, body []byte, headers ...string) obsResponse {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	oaCheck(t, req, resp, b) // openapi_test.go
	return obsResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect makes a request with the environment's key and checks its status.
func (e *obsEnv) expect(t testing.TB, status int, method, path string, body []byte) obsResponse {
	t.Helper()
	r := e.send(t, method, path, e.key, body)
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, status, r.body)
	}
	return r
}

func (e *obsEnv) createDataSource(t testing.TB, name string) string {
	t.Helper()
	r := e.expect(t, http.StatusCreated, "POST", "/v1/data_sources", []byte(`{"name":"`+name+`"}`))
	var ds struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(r.body, &ds); err != nil || ds.UUID == "" {
		t.Fatalf("data source answer %s: %v", r.body, err)
	}
	return ds.UUID
}

// waitImport polls an import until it finishes.
func (e *obsEnv) waitImport(t testing.TB, ds, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := e.expect(t, http.StatusOK, "GET", "/v1/data_sources/"+ds+"/json_imports/"+id, nil)
		var imp map[string]any
		json.Unmarshal(r.body, &imp)
		if s := imp["status"]; s == "completed" || s == "failed" {
			return imp
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("import %s did not finish within 30s", id)
	return nil
}

// scrape reads /metrics, without a key.
func (e *obsEnv) scrape(t testing.TB) string {
	t.Helper()
	r := e.send(t, "GET", "/metrics", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want Prometheus text", ct)
	}
	return string(r.body)
}

// metricValue returns the value of the sample name{labels} (labels as
// Prometheus prints them: sorted, quoted), and whether it is there.
func metricValue(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func wantMetric(t testing.TB, text, series string, want float64) {
	t.Helper()
	got, ok := metricValue(text, series)
	if !ok {
		t.Errorf("metrics lack %s", series)
		return
	}
	if got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

// obsPayload imports one customer and fails one plan (unknown interval
// unit).
const obsPayload = `{"external_id":"obs_1",
	"customers":[{"external_id":"cus_1","name":"Ann Example"}],
	"plans":[{"external_id":"plan_bad","name":"Bad","interval_count":1,"interval_unit":"fortnight"}]}`

func TestMetrics(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			e := obsServer(t, db, nil)
			ds := e.createDataSource(t, "metrics")
			for range 3 {
				e.expect(t, http.StatusOK, "GET", "/v1/ping", nil)
			}
			e.expect(t, http.StatusOK, "GET", "/v1/data_sources/"+ds, nil)
			e.expect(t, http.StatusNotFound, "GET", "/v1/data_sources/ds_00000000-0000-0000-0000-000000000000", nil)
			e.expect(t, http.StatusNotFound, "GET", "/nowhere/"+ds, nil)
			if r := e.send(t, "GET", "/v1/ping", "", nil); r.status != http.StatusUnauthorized {
				t.Fatalf("ping without a key: %d", r.status)
			}

			// An import waiting for a worker shows in the database gauges.
			r := e.expect(t, http.StatusCreated, "POST", "/v1/data_sources/"+ds+"/json_imports", []byte(obsPayload))
			var imp struct {
				ID string `json:"id"`
			}
			json.Unmarshal(r.body, &imp)
			m := e.scrape(t)
			wantMetric(t, m, `recur_http_requests_total{code="200",route="GET /v1/ping"}`, 3)
			wantMetric(t, m, `recur_http_requests_total{code="401",route="GET /v1/ping"}`, 1)
			wantMetric(t, m, `recur_http_requests_total{code="200",route="GET /v1/data_sources/{ds}"}`, 1)
			wantMetric(t, m, `recur_http_requests_total{code="404",route="GET /v1/data_sources/{ds}"}`, 1)
			wantMetric(t, m, `recur_http_requests_total{code="404",route="unmatched"}`, 1)
			wantMetric(t, m, `recur_http_requests_total{code="201",route="POST /v1/data_sources/{ds}/json_imports"}`, 1)
			wantMetric(t, m, `recur_http_request_duration_seconds_count{route="GET /v1/ping"}`, 4)
			wantMetric(t, m, `recur_imports_unfinished{status="queued"}`, 1)
			wantMetric(t, m, `recur_imports_unfinished{status="processing"}`, 0)
			wantMetric(t, m, `recur_queue_jobs{queue="imports",state="available"}`, 1)
			wantMetric(t, m, `recur_queue_jobs{queue="imports",state="running"}`, 0)
			wantMetric(t, m, `recur_imports_finished_total{status="completed"}`, 0)
			wantMetric(t, m, `recur_database_up`, 1)
			if strings.Contains(m, ds) {
				t.Errorf("metrics name the data source %s: routes must be patterns, not paths", ds)
			}
			if !strings.Contains(m, "go_goroutines") || !strings.Contains(m, "process_") {
				t.Errorf("metrics lack the Go runtime and process collectors")
			}

			// Once a worker applied it, the counters have it.
			e.startWorkers(t)
			got := e.waitImport(t, ds, imp.ID)
			if got["status"] != "completed" {
				t.Fatalf("import finished %v, want completed: %v", got["status"], got)
			}
			m = e.scrape(t)
			wantMetric(t, m, `recur_imports_finished_total{status="completed"}`, 1)
			wantMetric(t, m, `recur_imports_finished_total{status="failed"}`, 0)
			wantMetric(t, m, `recur_import_records_imported_total{type="customers"}`, 1)
			wantMetric(t, m, `recur_import_records_failed_total{type="customers"}`, 0)
			wantMetric(t, m, `recur_import_records_imported_total{type="plans"}`, 0)
			wantMetric(t, m, `recur_import_records_failed_total{type="plans"}`, 1)
			wantMetric(t, m, `recur_import_duration_seconds_count`, 1)
			wantMetric(t, m, `recur_imports_unfinished{status="queued"}`, 0)
			wantMetric(t, m, `recur_queue_jobs{queue="imports",state="available"}`, 0)
			if v, _ := metricValue(m, `recur_import_duration_seconds_sum`); v <= 0 || v > 30 {
				t.Errorf("recur_import_duration_seconds_sum = %v, want the seconds between acceptance and completion", v)
			}

			// An import with nothing importable counts as failed.
			r = e.expect(t, http.StatusCreated, "POST", "/v1/data_sources/"+ds+"/json_imports", []byte(`{"external_id":"obs_2","customers":[]}`))
			json.Unmarshal(r.body, &imp)
			e.waitImport(t, ds, imp.ID)
			m = e.scrape(t)
			wantMetric(t, m, `recur_imports_finished_total{status="failed"}`, 1)
			wantMetric(t, m, `recur_import_duration_seconds_count`, 2)
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			e := obsServer(t, db, nil)
			for _, path := range []string{"/healthz", "/readyz"} {
				r := e.send(t, "GET", path, "", nil)
				if r.status != http.StatusOK || string(r.body) != `{"status":"ok"}` {
					t.Errorf("GET %s without a key: %d %s, want 200 {\"status\":\"ok\"}", path, r.status, r.body)
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("GET %s: Content-Type %q", path, ct)
				}
				// A key, even a wrong one, changes nothing.
				if r := e.send(t, "GET", path, "rk_wrong", nil); r.status != http.StatusOK {
					t.Errorf("GET %s with a wrong key: %d", path, r.status)
				}
			}

			// A migration the database lacks makes the process unready.
			obsExec(t, db, `DELETE FROM recur_migrations WHERE version = (SELECT MAX(version) FROM recur_migrations)`)
			r := e.send(t, "GET", "/readyz", "", nil)
			var body map[string]string
			json.Unmarshal(r.body, &body)
			if r.status != http.StatusServiceUnavailable || body["status"] != "unavailable" || !strings.Contains(body["error"], "lacks migrations") {
				t.Errorf("/readyz with a migration missing: %d %s", r.status, r.body)
			}

			// A database that cannot be reached makes it unready, and the
			// process is still alive.
			e.st.Close()
			r = e.send(t, "GET", "/readyz", "", nil)
			body = nil
			json.Unmarshal(r.body, &body)
			if r.status != http.StatusServiceUnavailable || body["status"] != "unavailable" || !strings.Contains(body["error"], "cannot be reached") {
				t.Errorf("/readyz with the database closed: %d %s", r.status, r.body)
			}
			if r := e.send(t, "GET", "/healthz", "", nil); r.status != http.StatusOK {
				t.Errorf("/healthz with the database closed: %d %s", r.status, r.body)
			}
			m := e.scrape(t)
			wantMetric(t, m, `recur_database_up`, 0)
			if _, ok := metricValue(m, `recur_http_requests_total{code="200",route="GET /healthz"}`); !ok {
				t.Errorf("the process's own counters are gone from a scrape while the database is down")
			}
		})
	}
}

// obsExec runs a statement on a test database directly.
func obsExec(t *testing.T, db storetest.Database, q string) {
	t.Helper()
	ctx := context.Background()
	if db.Engine == "postgres" {
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		return
	}
	conn, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(db.URL, "sqlite:")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestRequestIDsAndLogs(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			e := obsServer(t, db, nil)
			ds := e.createDataSource(t, "logs")

			// Recur makes an id when the client sends none.
			r := e.send(t, "GET", "/v1/data_sources/"+ds, e.key, nil)
			made := r.header.Get(api.RequestIDHeader)
			if !uuidPattern.MatchString(made) {
				t.Fatalf("X-Request-Id %q, want a generated UUID", made)
			}
			// It keeps a sane one, and replaces one that is not.
			r = e.send(t, "GET", "/v1/ping", e.key, nil, "X-Request-Id", "trace-4bf92f3577b34da6.a3ce929d0e0e4736")
			if got := r.header.Get(api.RequestIDHeader); got != "trace-4bf92f3577b34da6.a3ce929d0e0e4736" {
				t.Errorf("a sane X-Request-Id came back as %q", got)
			}
			for _, bad := range []string{strings.Repeat("a", 129), "two words", `"quoted"`, "ünïcode"} {
				r = e.send(t, "GET", "/v1/ping", e.key, nil, "X-Request-Id", bad)
				if got := r.header.Get(api.RequestIDHeader); !uuidPattern.MatchString(got) {
					t.Errorf("X-Request-Id %q came back as %q, want a generated UUID", bad, got)
				}
			}
			// Errors carry the id too.
			r = e.send(t, "GET", "/v1/data_sources/nope", e.key, nil, "X-Request-Id", "req-404")
			if r.status != http.StatusNotFound || r.header.Get(api.RequestIDHeader) != "req-404" {
				t.Errorf("404: status %d, X-Request-Id %q", r.status, r.header.Get(api.RequestIDHeader))
			}

			// One access-log line per request, with the route pattern and
			// the request's id.
			var access map[string]any
			for _, l := range e.log.lines(t) {
				if l["msg"] == "request" && l["request_id"] == made {
					access = l
				}
			}
			if access == nil {
				t.Fatalf("no access-log line with request_id %s in:\n%s", made, e.log)
			}
			want := map[string]any{"level": "INFO", "method": "GET", "route": "GET /v1/data_sources/{ds}", "path": "/v1/data_sources/" + ds, "status": 200.0}
			for k, v := range want {
				if access[k] != v {
					t.Errorf("access log %s = %v, want %v (line %v)", k, access[k], v, access)
				}
			}
			if d, ok := access["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("access log duration_ms = %v", access["duration_ms"])
			}
			if b, ok := access["bytes"].(float64); !ok || b <= 0 {
				t.Errorf("access log bytes = %v", access["bytes"])
			}
			n := 0
			for _, l := range e.log.lines(t) {
				if l["msg"] == "request" && l["request_id"] == "req-404" {
					n++
					if l["status"] != 404.0 {
						t.Errorf("access log of the 404: %v", l)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d access-log lines for one request", n)
			}

			// A failure logged while serving a request carries its id: the
			// database goes away under an authenticated request.
			e.st.Close()
			r = e.send(t, "GET", "/v1/data_sources", e.key, nil, "X-Request-Id", "req-500")
			if r.status < 500 {
				t.Fatalf("a request with the database closed answered %d %s", r.status, r.body)
			}
			found := false
			for _, l := range e.log.lines(t) {
				if l["msg"] == "request failed" {
					found = true
					if l["request_id"] != "req-500" || l["level"] != "ERROR" {
						t.Errorf("error log line without the request's id: %v", l)
					}
				}
			}
			if !found {
				t.Errorf("the failure was not logged:\n%s", e.log)
			}
			for _, l := range e.log.lines(t) {
				if l["msg"] == "request" && l["request_id"] == nil {
					t.Errorf("access-log line without request_id: %v", l)
				}
			}
		})
	}
}

// TestKeysNeverLogged sends keys every way a client can — valid, wrong,
// in the user name and in the password, on requests that succeed, fail and
// are refused — and looks for them in everything the server logged.
func TestKeysNeverLogged(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			e := obsServer(t, db, func(s *api.Server) { s.RateLimit, s.RateBurst = 1, 2 })
			wrong := "rk_wrongkey_ZZZZ9999yyyy8888xxxx7777"
			ds := e.createDataSource(t, "keys")
			e.send(t, "GET", "/v1/data_sources/"+ds, e.key, nil)
			e.send(t, "GET", "/v1/data_sources/nope", e.key, nil)
			e.send(t, "POST", "/v1/data_sources/"+ds+"/json_imports", e.key, []byte(`{not json`))
			e.send(t, "GET", "/v1/ping", wrong, nil)
			req, _ := http.NewRequest("GET", e.url+"/v1/ping", nil)
			req.SetBasicAuth(e.key, wrong)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			for range 3 { // past the rate limit
				e.send(t, "GET", "/v1/ping", e.key, nil)
			}
			e.st.Close() // and a failure
			e.send(t, "GET", "/v1/data_sources", e.key, nil)

			logged := e.log.String()
			if !strings.Contains(logged, `"msg":"request"`) || !strings.Contains(logged, `"msg":"request failed"`) {
				t.Fatalf("the server logged less than expected:\n%s", logged)
			}
			for _, k := range []string{e.key, wrong, e.key[3:], store.HashKey(e.key)} {
				if strings.Contains(logged, k) {
					t.Errorf("the log holds a key (or its hash) %q:\n%s", k, logged)
				}
			}
		})
	}
}
