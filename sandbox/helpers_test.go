package main

// Helpers of the end-to-end tests: servers started in process through run()
// or as a real process from the built binary, an HTTP client that speaks to
// them the way curl and the official clients do, and readers of the API's
// objects. The tests themselves are in the other *_test.go files.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/store/storetest"
)

// e2eKey is the API key every test server installs for the default account
// through RECUR_API_KEY.
const e2eKey = "rk_e2e_0123456789abcdefghijklmnopq"

// e2eImportDeadline bounds the wait for an import to finish.
const e2eImportDeadline = 30 * time.Second

// e2eBinDir holds the binary the process tests build; TestMain removes it.
var e2eBinDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eBinDir != "" {
		os.RemoveAll(e2eBinDir)
	}
	os.Exit(code)
}

var (
	e2eBuildOnce sync.Once
	e2eBinPath   string
	e2eBuildErr  error
)

// e2eBinary builds cmd/recur once per test binary and returns its path.
func e2eBinary(t *testing.T) string {
	t.Helper()
	e2eBuildOnce.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		e2eBinDir, e2eBuildErr = os.MkdirTemp("", "recur-e2e-")
		if e2eBuildErr != nil {
			return
		}
		e2eBinPath = filepath.Join(e2eBinDir, "recur")
		cmd := exec.Command(goCmd, "build", "-o", e2eBinPath, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			e2eBuildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if e2eBuildErr != nil {
		t.Fatal(e2eBuildErr)
	}
	return e2eBinPath
}

// e2eBuffer is a bytes.Buffer safe for the concurrent writes of a
// server's logger.
type e2eBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *e2eBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *e2eBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// e2eListening matches the line `sandbox serve` prints once it accepts requests.
var e2eListening = regexp.MustCompile(`Recur is listening on http://(\S+) `)

// e2eAddrWriter is the standard output of an in-process server: it keeps what
// is written and hands over the address from the "listening" line.
type e2eAddrWriter struct {
	e2eBuffer
	once sync.Once
	addr chan string
}

func (w *e2eAddrWriter) Write(p []byte) (int, error) {
	n, err := w.e2eBuffer.Write(p)
	if m := e2eListening.FindStringSubmatch(w.String()); m != nil {
		w.once.Do(func() { w.addr <- m[1] })
	}
	return n, err
}

// e2eEnv is the environment of an in-process command.
func e2eEnv(m map[string]string) env {
	return func(k string) string { return m[k] }
}

// startE2EServer runs `sandbox serve` in process through run() on the database
// dbURL, with the test key installed, on a free loopback port, and stops it
// (cancelling its context and waiting for run to return) when t ends.
func startE2EServer(t *testing.T, dbURL string, extraArgs ...string) *e2eClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &e2eAddrWriter{addr: make(chan string, 1)}
	stderr := &e2eBuffer{}
	// Test clients poll as fast as they like: no request rate limit unless
	// a test asks for one in extraArgs (the later flag wins).
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database", dbURL, "--rate-limit", "0"}, extraArgs...)
	getenv := e2eEnv(map[string]string{"RECUR_API_KEY": e2eKey})
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, strings.NewReader(""), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sandbox serve returned %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("sandbox serve did not stop within 60s of its context's end")
		}
		// E2E_LOG=1 shows the log of every server, not only of failed tests.
		if t.Failed() || os.Getenv("E2E_LOG") != "" {
			t.Logf("server log:\n%s", e2eTail(stderr.String(), 4000))
		}
	})
	select {
	case addr := <-stdout.addr:
		return newE2EClient("http://"+addr, e2eKey)
	case err := <-done:
		t.Fatalf("sandbox serve stopped before listening: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sandbox serve did not print its address within 30s\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	}
	return nil
}

func e2eTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// process is `sandbox serve` running as a real process from the built binary.
type e2eProcess struct {
	*e2eClient
	cmd    *exec.Cmd
	stderr *e2eBuffer
	exited chan struct{}
}

// startE2EProcess starts the built binary as `sandbox serve` on dbURL with the
// test key in RECUR_API_KEY, and waits until it listens. The process is
// killed when t ends, if it still runs.
func startE2EProcess(t *testing.T, dbURL string, extraArgs ...string) *e2eProcess {
	t.Helper()
	bin := e2eBinary(t)
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--database", dbURL, "--rate-limit", "0"}, extraArgs...)...)
	cmd.Env = append(e2eEnviron(), "RECUR_API_KEY="+e2eKey)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &e2eProcess{cmd: cmd, stderr: &e2eBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if m := e2eListening.FindStringSubmatch(sc.Text() + " "); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("log of process %d:\n%s", cmd.Process.Pid, e2eTail(p.stderr.String(), 4000))
		}
	})
	select {
	case a := <-addr:
		p.e2eClient = newE2EClient("http://"+a, e2eKey)
		return p
	case <-p.exited:
		t.Fatalf("sandbox serve exited before e2eListening: %v\n%s", cmd.ProcessState, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sandbox serve did not print its address within 30s\n%s", p.stderr.String())
	}
	return nil
}

// e2eEnviron is the test's environment without Recur's own variables,
// so that a developer's settings do not leak into the server under test.
func e2eEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RECUR_") {
			out = append(out, kv)
		}
	}
	return out
}

// kill sends SIGKILL to the process, as a crash would, and waits for it to
// be gone. It does nothing to a process that already exited.
func (p *e2eProcess) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill process %d: %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("process %d still runs 30s after SIGKILL", p.cmd.Process.Pid)
	}
}

// e2eClient calls the API over HTTP with one API key.
type e2eClient struct {
	base string
	key  string
	hc   *http.Client
}

func newE2EClient(base, key string) *e2eClient {
	return &e2eClient{base: base, key: key, hc: &http.Client{Timeout: 60 * time.Second}}
}

// as returns a client of the same server with another key; "" sends no
// Authorization header at all.
func (c *e2eClient) as(key string) *e2eClient {
	return &e2eClient{base: c.base, key: key, hc: c.hc}
}

// response is a finished HTTP exchange.
type e2eResponse struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (r *e2eResponse) String() string {
	return fmt.Sprintf("%s %s: %d %s", r.method, r.path, r.status, e2eTail(string(r.body), 2000))
}

// send sends a request with Basic authentication (the key as user name, an
// empty password, as curl -u KEY: sends it) and reads the whole answer. It
// does not touch t, so that other goroutines may call it.
func (c *e2eClient) send(method, path string, body []byte, headers ...string) (*e2eResponse, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if c.key != "" {
		req.SetBasicAuth(c.key, "")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	// Every answer must match the OpenAPI document (openapi_test.go).
	return &e2eResponse{method: method, path: path, status: res.StatusCode, header: res.Header, body: b}, e2eOpenAPICheck(req, res, b)
}

// do is send for the test's goroutine. Every answer of the API must be
// JSON: do fails t when one is not.
func (c *e2eClient) do(t testing.TB, method, path string, body []byte, headers ...string) *e2eResponse {
	t.Helper()
	r, err := c.send(method, path, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	checkJSONContentType(t, r)
	return r
}

func checkJSONContentType(t testing.TB, r *e2eResponse) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s answered %d with Content-Type %q, want application/json", r.method, r.path, r.status, ct)
	}
}

// expect calls the API and fails t unless the answer has the status.
func (c *e2eClient) expect(t testing.TB, status int, method, path string, body []byte) *e2eResponse {
	t.Helper()
	r := c.do(t, method, path, body)
	if r.status != status {
		t.Fatalf("%s, want status %d", r, status)
	}
	return r
}

// e2eGet GETs path, expects 200 and decodes the body into a T.
func e2eGet[T any](t testing.TB, c *e2eClient, path string) T {
	t.Helper()
	return e2eDecode[T](t, c.expect(t, http.StatusOK, http.MethodGet, path, nil))
}

func e2eDecode[T any](t testing.TB, r *e2eResponse) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: cannot decode into %T: %v", r, v, err)
	}
	return v
}

// e2eExpectBody fails t unless r has the status and a body equal, as JSON, to
// want.
func e2eExpectBody(t testing.TB, r *e2eResponse, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s, want status %d", r, status)
		return
	}
	var got, exp any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Errorf("%s: body is not JSON: %v", r, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expected body %s: %v", want, err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("%s %s: body\n got %s\nwant %s", r.method, r.path, r.body, want)
	}
}

// apiDataSource is the API's data source object.
type apiDataSource struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	System    string `json:"system"`
	CreatedAt string `json:"created_at"`
	Status    string `json:"status"`
}

// createDataSource creates a data source and returns its uuid.
func (c *e2eClient) createDataSource(t testing.TB, name string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	ds := e2eDecode[apiDataSource](t, c.expect(t, http.StatusCreated, http.MethodPost, "/v1/data_sources", body))
	if !strings.HasPrefix(ds.UUID, "ds_") || ds.Name != name {
		t.Fatalf("created data source %+v, want a ds_ uuid and name %q", ds, name)
	}
	return ds.UUID
}

// apiImport is the API's bulk import object, Recur's extension included.
type apiImport struct {
	ID             string               `json:"id"`
	DataSourceUUID string               `json:"data_source_uuid"`
	Status         string               `json:"status"`
	ExternalID     *string              `json:"external_id"`
	StatusDetails  json.RawMessage      `json:"status_details"`
	CreatedAt      string               `json:"created_at"`
	UpdatedAt      string               `json:"updated_at"`
	Reason         *string              `json:"reason"`
	Counts         map[string]apiCounts `json:"counts"`
	FailedRecords  []apiProblem         `json:"failed_records"`
	Warnings       []apiProblem         `json:"warnings"`
}

type apiCounts struct {
	Received int `json:"received"`
	Imported int `json:"imported"`
	Failed   int `json:"failed"`
}

// problem is one failed record or warning of an import.
type apiProblem struct {
	Type       string `json:"type"`
	Index      int    `json:"index"`
	ExternalID string `json:"external_id"`
	Field      string `json:"field"`
	Message    string `json:"message"`
	Customer   string `json:"customer_external_id"`
}

func e2eImportsPath(ds string) string { return "/v1/data_sources/" + ds + "/json_imports" }

// postImport POSTs a bulk payload the way curl -u KEY: -H 'Content-Type:
// application/json' --data-binary @file does, and returns the answer.
func (c *e2eClient) postImport(t testing.TB, ds string, payload []byte) *e2eResponse {
	t.Helper()
	return c.do(t, http.MethodPost, e2eImportsPath(ds), payload, "Accept", "*/*", "User-Agent", "curl/8.5.0")
}

// submitImport POSTs a payload, expects 201 with a queued import, and
// returns it.
func (c *e2eClient) submitImport(t testing.TB, ds string, payload []byte) apiImport {
	t.Helper()
	r := c.postImport(t, ds, payload)
	if r.status != http.StatusCreated {
		t.Fatalf("%s, want 201", r)
	}
	imp := e2eDecode[apiImport](t, r)
	if imp.ID == "" || imp.DataSourceUUID != ds || imp.Status != "queued" {
		t.Fatalf("POST answered %s, want a queued import of %s", r.body, ds)
	}
	return imp
}

// getImport reads an import by its id or external id.
func (c *e2eClient) getImport(t testing.TB, ds, id string) apiImport {
	t.Helper()
	return e2eGet[apiImport](t, c, e2eImportsPath(ds)+"/"+url.PathEscape(id))
}

// waitImport polls an import until it finished (completed or failed) and
// returns it; it fails t after e2eImportDeadline.
func (c *e2eClient) waitImport(t testing.TB, ds, id string) apiImport {
	t.Helper()
	return c.waitImportFor(t, ds, id, e2eImportDeadline)
}

func (c *e2eClient) waitImportFor(t testing.TB, ds, id string, deadline time.Duration) apiImport {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		imp := c.getImport(t, ds, id)
		switch imp.Status {
		case "completed", "failed":
			return imp
		case "queued", "processing":
		default:
			t.Fatalf("import %s has status %q, want queued, processing, completed or failed", id, imp.Status)
		}
		if time.Now().After(end) {
			t.Fatalf("import %s is still %s after %s", id, imp.Status, deadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// e2ePage is one page of any list of the API: the records under their key,
// and the cursor members.
type e2ePage[T any] struct {
	items   []T
	cursor  *string
	hasMore bool
}

func e2eGetPage[T any](t testing.TB, c *e2eClient, path, key string) e2ePage[T] {
	t.Helper()
	raw := e2eGet[map[string]json.RawMessage](t, c, path)
	var p e2ePage[T]
	items, ok := raw[key]
	if !ok {
		t.Fatalf("GET %s: no member %q in %v", path, key, mapKeys(raw))
	}
	if err := json.Unmarshal(items, &p.items); err != nil {
		t.Fatalf("GET %s: member %q: %v", path, key, err)
	}
	if p.items == nil {
		t.Errorf("GET %s: member %q is null, want a list", path, key)
	}
	if err := json.Unmarshal(raw["cursor"], &p.cursor); err != nil {
		t.Fatalf("GET %s: cursor: %v", path, err)
	}
	if err := json.Unmarshal(raw["has_more"], &p.hasMore); err != nil {
		t.Fatalf("GET %s: has_more: %v", path, err)
	}
	if p.hasMore != (p.cursor != nil) {
		t.Errorf("GET %s: has_more is %v but cursor is %v", path, p.hasMore, p.cursor)
	}
	return p
}

func mapKeys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// e2eListAll reads every page of a list, following cursors, at perPage records
// a page.
func e2eListAll[T any](t testing.TB, c *e2eClient, path, key string, perPage int) []T {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var all []T
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("GET %s: more than 10000 pages; the cursor does not advance", path)
		}
		q := fmt.Sprintf("%s%sper_page=%d", path, sep, perPage)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := e2eGetPage[T](t, c, q, key)
		if len(p.items) > perPage {
			t.Fatalf("GET %s: %d records on a page of %d", q, len(p.items), perPage)
		}
		all = append(all, p.items...)
		if !p.hasMore {
			return all
		}
		if len(p.items) == 0 {
			t.Fatalf("GET %s: an empty page says has_more", q)
		}
		cursor = *p.cursor
	}
}

// apiCustomer, apiPlan, apiInvoice, apiLineItem, apiTransaction and
// apiEvent are the API's objects, with the members the tests read.
type apiCustomer struct {
	ID                 int64    `json:"id"`
	UUID               string   `json:"uuid"`
	ExternalID         string   `json:"external_id"`
	Name               string   `json:"name"`
	Email              string   `json:"email"`
	Company            string   `json:"company"`
	Country            *string  `json:"country"`
	State              *string  `json:"state"`
	City               string   `json:"city"`
	Zip                *string  `json:"zip"`
	LeadCreatedAt      *string  `json:"lead_created_at"`
	FreeTrialStartedAt *string  `json:"free_trial_started_at"`
	DataSourceUUID     string   `json:"data_source_uuid"`
	DataSourceUUIDs    []string `json:"data_source_uuids"`
	ExternalIDs        []string `json:"external_ids"`
	Address            struct {
		Country    *string `json:"country"`
		State      *string `json:"state"`
		City       string  `json:"city"`
		AddressZip *string `json:"address_zip"`
	} `json:"address"`
}

type apiPlan struct {
	UUID           string `json:"uuid"`
	DataSourceUUID string `json:"data_source_uuid"`
	Name           string `json:"name"`
	IntervalCount  int64  `json:"interval_count"`
	IntervalUnit   string `json:"interval_unit"`
	ExternalID     string `json:"external_id"`
}

type apiLineItem struct {
	UUID                   string  `json:"uuid"`
	ExternalID             *string `json:"external_id"`
	Type                   string  `json:"type"`
	SubscriptionUUID       string  `json:"subscription_uuid"`
	SubscriptionExternalID string  `json:"subscription_external_id"`
	PlanUUID               string  `json:"plan_uuid"`
	ServicePeriodStart     *string `json:"service_period_start"`
	ServicePeriodEnd       *string `json:"service_period_end"`
	AmountInCents          int64   `json:"amount_in_cents"`
	Quantity               int64   `json:"quantity"`
}

type apiTransaction struct {
	UUID          string  `json:"uuid"`
	ExternalID    *string `json:"external_id"`
	AmountInCents *int64  `json:"amount_in_cents"`
	Type          string  `json:"type"`
	Date          string  `json:"date"`
	Result        string  `json:"result"`
}

type apiInvoice struct {
	UUID         string           `json:"uuid"`
	CustomerUUID string           `json:"customer_uuid"`
	Date         string           `json:"date"`
	DueDate      *string          `json:"due_date"`
	ExternalID   string           `json:"external_id"`
	Currency     string           `json:"currency"`
	LineItems    []apiLineItem    `json:"line_items"`
	Transactions []apiTransaction `json:"transactions"`
}

type apiEvent struct {
	ID                        int64   `json:"id"`
	DataSourceUUID            string  `json:"data_source_uuid"`
	CustomerExternalID        string  `json:"customer_external_id"`
	SubscriptionSetExternalID *string `json:"subscription_set_external_id"`
	SubscriptionExternalID    *string `json:"subscription_external_id"`
	PlanExternalID            *string `json:"plan_external_id"`
	EventDate                 string  `json:"event_date"`
	EffectiveDate             string  `json:"effective_date"`
	EventType                 string  `json:"event_type"`
	ExternalID                *string `json:"external_id"`
	Currency                  *string `json:"currency"`
	AmountInCents             *int64  `json:"amount_in_cents"`
	Quantity                  *int64  `json:"quantity"`
}

// memberNames returns the member names of a JSON object in the order they
// appear.
func memberNames(t testing.TB, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not a JSON object", raw)
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		out = append(out, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	return out
}

// e2eJSONEqual reports whether two JSON texts hold the same value.
func e2eJSONEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// strp makes an optional expected value.
func strp(s string) *string { return &s }

// derefAny shows an optional value in messages.
func derefAny[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// e2eEngines names the engines the tests run on: SQLite always, PostgreSQL
// when RECUR_TEST_POSTGRES_URL names a server.
func e2eEngines(t testing.TB) []string {
	if storetest.PostgresURL(t) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// e2eFreshDatabase returns the URL of a new, empty database of the engine,
// removed when t ends.
func e2eFreshDatabase(t testing.TB, engine string) string {
	if engine == "postgres" {
		return storetest.Postgres(t).URL
	}
	return storetest.SQLite(t).URL
}

// e2eSeed reads ChartMogul's documented bulk-import example.
func e2eSeed(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "seed-bulk-import.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// e2eMarshal encodes v.
func e2eMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
