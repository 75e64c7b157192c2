package activities

// The tests of this package run against a real PostgreSQL (the billing
// views and the state database, in one database of the package's own) and
// the local ChartMogul over real HTTP. TestMain creates a fresh database
// per run, so that the fixed schema recur does not collide with other
// packages' tests on the same server, and drops it at the end.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/sdk/temporal"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/server"
	"github.com/recurhq/recur/starter/demo"
	"github.com/recurhq/recur/workflows"
)

const defaultTestURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	// testURL is the package's own database; pgUnavailable says why there
	// is none.
	testURL       string
	pgUnavailable error
	pgNamed       bool
	sharedDB      *sqlx.DB
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	admin, named := os.LookupEnv("RECUR_TEST_POSTGRES_URL")
	if !named {
		admin = defaultTestURL
	}
	pgNamed = named
	adb, err := sql.Open("postgres", admin)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = adb.PingContext(ctx)
		cancel()
	}
	if err != nil {
		pgUnavailable = fmt.Errorf("no PostgreSQL at %s: %w", admin, err)
		return m.Run()
	}
	defer adb.Close()
	name := fmt.Sprintf("recur_act_%d_%08x", os.Getpid(), rand.Uint32())
	if _, err := adb.Exec("CREATE DATABASE " + pq.QuoteIdentifier(name)); err != nil {
		fmt.Fprintf(os.Stderr, "cannot create the test database %s: %v\n", name, err)
		return 1
	}
	defer func() {
		if sharedDB != nil {
			sharedDB.Close()
		}
		if _, err := adb.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "cannot drop the test database %s: %v\n", name, err)
		}
	}()
	u, err := url.Parse(admin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "RECUR_TEST_POSTGRES_URL must be a postgres:// URL: %v\n", err)
		return 1
	}
	u.Path = "/" + name
	testURL = u.String()
	sharedDB, err = sqlx.Open("postgres", testURL)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot open %s: %v\n", name, err)
		return 1
	}
	if err := (&State{DB: sharedDB}).Migrate(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "cannot migrate the state schema: %v\n", err)
		return 1
	}
	return m.Run()
}

// testDB returns the package's database, migrated. Without PostgreSQL the
// test is skipped, unless RECUR_REQUIRE_POSTGRES is set (CI sets it) or the
// server was named.
func testDB(t testing.TB) *sqlx.DB {
	t.Helper()
	if pgUnavailable != nil {
		if pgNamed || os.Getenv("RECUR_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL is required: %v", pgUnavailable)
		}
		t.Skipf("%v (set RECUR_TEST_POSTGRES_URL, or RECUR_REQUIRE_POSTGRES to fail instead)", pgUnavailable)
	}
	return sharedDB
}

// openWith opens another pool on the package's database with extra
// connection parameters (e.g. a session time zone).
func openWith(t testing.TB, params string) *sqlx.DB {
	t.Helper()
	testDB(t)
	sep := "?"
	if strings.Contains(testURL, "?") {
		sep = "&"
	}
	db, err := sqlx.Open("postgres", testURL+sep+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func suffix() string { return fmt.Sprintf("%08x", rand.Uint32()) }

// exec runs statements, failing the test on the first error.
func exec(t testing.TB, db *sqlx.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// dropSchemas drops schemas when the test ends.
func dropSchemas(t testing.TB, db *sqlx.DB, schemas ...string) {
	t.Cleanup(func() {
		for _, s := range schemas {
			if _, err := db.Exec("DROP SCHEMA IF EXISTS " + pq.QuoteIdentifier(s) + " CASCADE"); err != nil {
				t.Errorf("cannot drop schema %s: %v", s, err)
			}
		}
	})
}

// demoData is a demo billing schema and its six views, of the test's own.
type demoData struct {
	billing, views string
	stats          demo.Stats
}

func makeDemo(t testing.TB, db *sqlx.DB, opt demo.Options) demoData {
	t.Helper()
	s := suffix()
	d := demoData{billing: "billing_" + s, views: "cm_" + s}
	dropSchemas(t, db, d.views, d.billing)
	opt.Schema, opt.SourceSchema = d.billing, d.views
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	var err error
	if d.stats, err = demo.Create(context.Background(), db.DB, opt); err != nil {
		t.Fatalf("demo.Create: %v", err)
	}
	return d
}

// customerIDs lists a source schema's customer external ids as PostgreSQL
// orders them.
func customerIDs(t testing.TB, db *sqlx.DB, schema string) []string {
	t.Helper()
	var ids []string
	if err := db.Select(&ids, "SELECT external_id FROM "+pq.QuoteIdentifier(schema)+".customers WHERE external_id IS NOT NULL ORDER BY external_id"); err != nil {
		t.Fatal(err)
	}
	return ids
}

var discard = slog.New(slog.DiscardHandler)

// newActivities returns the activities over a source schema, talking to
// client (which may be nil for tests that do not reach ChartMogul).
func newActivities(db *sqlx.DB, schema string, client *chartmogul.Client) *Activities {
	st := &State{DB: db}
	return &Activities{
		Source:     &Source{DB: db, Schema: schema},
		State:      st,
		ChartMogul: client,
		Submitter:  &Submitter{State: st, Client: client, Log: discard, Linger: 50 * time.Millisecond},
		Poller:     &Poller{Client: client},
		Log:        discard,
	}
}

// knownKeys are every API key the tests made: none may appear in an error.
var (
	keysMu    sync.Mutex
	knownKeys []string
)

func rememberKey(k string) {
	keysMu.Lock()
	defer keysMu.Unlock()
	knownKeys = append(knownKeys, k)
}

// noSecret fails the test when err's message (or its application error's)
// contains an API key.
func noSecret(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msgs := []string{err.Error()}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msgs = append(msgs, app.Message())
	}
	keysMu.Lock()
	defer keysMu.Unlock()
	for _, k := range knownKeys {
		for _, m := range msgs {
			if strings.Contains(m, k) {
				t.Errorf("an error carries the API key %q: %s", k, m)
			}
		}
	}
}

// appError returns err's application error, failing the test when there is
// none.
func appError(t testing.TB, err error) *temporal.ApplicationError {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got none")
	}
	noSecret(t, err)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("want a temporal.ApplicationError, got %T: %v", err, err)
	}
	return app
}

// wantConfigError checks that err is a non-retryable configuration error
// whose message holds every one of parts.
func wantConfigError(t testing.TB, err error, parts ...string) {
	t.Helper()
	app := appError(t, err)
	if app.Type() != workflows.ErrConfiguration || !app.NonRetryable() {
		t.Errorf("want a non-retryable %s error, got type %q (non-retryable %v): %s", workflows.ErrConfiguration, app.Type(), app.NonRetryable(), app.Message())
	}
	for _, p := range parts {
		if !strings.Contains(app.Message(), p) {
			t.Errorf("the message does not say %q: %s", p, app.Message())
		}
	}
}

// sandbox is a local ChartMogul of the test's own, on a SQLite file.
type sandbox struct {
	srv    *server.Server
	path   string
	key    string
	ds     string
	client *chartmogul.Client
}

type sandboxOptions struct {
	faults     api.Faults
	maxPayload int64
	// reuse serves another sandbox's database (with its key and data
	// source).
	reuse *sandbox
}

// startSandbox starts a local ChartMogul, with a key and a data source
// unless it reuses another's database; it is stopped when the test ends
// (or earlier, with stop).
func startSandbox(t testing.TB, o sandboxOptions) *sandbox {
	t.Helper()
	ctx := context.Background()
	sb := &sandbox{path: filepath.Join(t.TempDir(), "sb.db")}
	if o.reuse != nil {
		sb.path, sb.key, sb.ds = o.reuse.path, o.reuse.key, o.reuse.ds
	}
	srv, err := server.Start(ctx, server.Options{Addr: "127.0.0.1:0", Database: "sqlite:" + sb.path, Faults: o.faults, MaxPayload: o.maxPayload})
	if err != nil {
		t.Fatalf("cannot start the local ChartMogul: %v", err)
	}
	sb.srv = srv
	t.Cleanup(sb.stop)
	if sb.key == "" {
		if sb.key, err = srv.CreateKey(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rememberKey(sb.key)
	sb.client = chartmogul.NewClient(srv.URL, sb.key)
	if sb.ds == "" {
		// A faulty sandbox reuses the data source of one without faults.
		if o.faults.Enabled() {
			t.Fatal("create the data source on a sandbox without faults, then reuse it")
		}
		ds, err := sb.client.CreateDataSource(ctx, "recur-test")
		if err != nil {
			t.Fatal(err)
		}
		sb.ds = ds.UUID
	}
	return sb
}

func (sb *sandbox) stop() {
	if sb.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sb.srv.Stop(ctx)
	sb.srv = nil
}

// get reads one of the sandbox's API answers, as a user would.
func (sb *sandbox) get(t testing.TB, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, sb.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(sb.key, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out, json.RejectUnknownMembers(false)); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// customers returns how many times each customer external id is listed in
// the sandbox's data source.
func (sb *sandbox) customers(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	cursor := ""
	for {
		var page struct {
			Entries []struct {
				ExternalID string `json:"external_id"`
			} `json:"entries"`
			Cursor  *string `json:"cursor"`
			HasMore bool    `json:"has_more"`
		}
		path := "/v1/customers?per_page=200&data_source_uuid=" + url.QueryEscape(sb.ds)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		sb.get(t, path, &page)
		for _, e := range page.Entries {
			out[e.ExternalID]++
		}
		if !page.HasMore || page.Cursor == nil {
			return out
		}
		cursor = *page.Cursor
	}
}

// invoices returns how many times each invoice external id is listed in
// the sandbox's data source, and each invoice's line items and
// transactions by external id.
func (sb *sandbox) invoices(t testing.TB) (map[string]int, map[string]int) {
	t.Helper()
	out, children := map[string]int{}, map[string]int{}
	cursor := ""
	for {
		var page struct {
			Invoices []struct {
				ExternalID string `json:"external_id"`
				LineItems  []struct {
					ExternalID string `json:"external_id"`
				} `json:"line_items"`
				Transactions []struct {
					ExternalID string `json:"external_id"`
				} `json:"transactions"`
			} `json:"invoices"`
			Cursor  *string `json:"cursor"`
			HasMore bool    `json:"has_more"`
		}
		path := "/v1/invoices?per_page=200&data_source_uuid=" + url.QueryEscape(sb.ds)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		sb.get(t, path, &page)
		for _, inv := range page.Invoices {
			out[inv.ExternalID]++
			for _, li := range inv.LineItems {
				children["line_items\x00"+li.ExternalID]++
			}
			for _, tr := range inv.Transactions {
				children["transactions\x00"+tr.ExternalID]++
			}
		}
		if !page.HasMore || page.Cursor == nil {
			return out, children
		}
		cursor = *page.Cursor
	}
}

// imports lists the sandbox's imports of its data source.
func (sb *sandbox) imports(t testing.TB) []chartmogul.ImportState {
	t.Helper()
	var out []chartmogul.ImportState
	cursor := ""
	for {
		var page struct {
			Imports []chartmogul.ImportState `json:"json_imports"`
			Cursor  *string                  `json:"cursor"`
			HasMore bool                     `json:"has_more"`
		}
		path := "/v1/data_sources/" + url.PathEscape(sb.ds) + "/json_imports?per_page=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		sb.get(t, path, &page)
		out = append(out, page.Imports...)
		if !page.HasMore || page.Cursor == nil {
			return out
		}
		cursor = *page.Cursor
	}
}

// testCtx bounds a call that would hang forever if a bug kept a request
// from being sent.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func settingsOf(ds string) workflows.Settings {
	return workflows.Settings{DataSource: ds, PartBytes: chartmogul.MaxPayload}
}

// built is a customer (or the plans) extracted and built.
type built struct {
	customer string
	workflow string
	extract  workflows.ExtractResult
	build    workflows.BuildResult
}

// extractAndBuild runs Extract and BuildPayload for a customer ("" for the
// plans).
func extractAndBuild(t testing.TB, a *Activities, settings workflows.Settings, customer string) built {
	t.Helper()
	ctx := context.Background()
	b := built{customer: customer, workflow: "test/" + settings.DataSource + "/" + customer + "/" + suffix()}
	var err error
	b.extract, err = a.Extract(ctx, workflows.ExtractInput{Settings: settings, Customer: customer, Workflow: b.workflow})
	if err != nil {
		noSecret(t, err)
		t.Fatalf("Extract %q: %v", customer, err)
	}
	b.build, err = a.BuildPayload(ctx, workflows.BuildInput{Settings: settings, Customer: customer, ExtractID: b.extract.ExtractID, Workflow: b.workflow})
	if err != nil {
		noSecret(t, err)
		t.Fatalf("BuildPayload %q: %v", customer, err)
	}
	return b
}

// sendAll submits and polls every part of a built customer, one after
// another, and returns the poll results.
func sendAll(t testing.TB, a *Activities, settings workflows.Settings, b built) []workflows.PollResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []workflows.PollResult
	for _, p := range b.build.Parts {
		sub, err := a.Submit(ctx, workflows.SubmitInput{Settings: settings, Customer: b.customer, PartID: p.ID})
		if err != nil {
			noSecret(t, err)
			t.Fatalf("Submit %q part %d: %v", b.customer, p.Seq, err)
		}
		out = append(out, poll(t, a, settings, b.customer, p.ID, sub.ImportID))
	}
	return out
}

func poll(t testing.TB, a *Activities, settings workflows.Settings, customer string, partID int64, importID string) workflows.PollResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := a.Poll(ctx, workflows.PollInput{Settings: settings, Customer: customer, PartID: partID, ImportID: importID, Window: time.Minute})
	if err != nil {
		noSecret(t, err)
		t.Fatalf("Poll %q: %v", customer, err)
	}
	if !res.Finished {
		t.Fatalf("Poll %q: import %s not finished after a minute: %+v", customer, importID, res)
	}
	return res
}

// partBody reads a part's body from the state database, by record type.
func partBody(t testing.TB, db *sqlx.DB, id int64) map[chartmogul.RecordType][]map[string]jsontext.Value {
	t.Helper()
	var body []byte
	if err := db.Get(&body, `SELECT body FROM recur.parts WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var out map[chartmogul.RecordType][]map[string]jsontext.Value
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("part %d: %v", id, err)
	}
	return out
}

// partEntries reads the ledger entries a part carries.
func partEntries(t testing.TB, db *sqlx.DB, id int64) map[chartmogul.RecordType][]ledgerEntry {
	t.Helper()
	var raw []byte
	if err := db.Get(&raw, `SELECT entries FROM recur.parts WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var out map[chartmogul.RecordType][]ledgerEntry
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// str reads a JSON string member.
func str(t testing.TB, v jsontext.Value) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("%s is not a string: %v", v, err)
	}
	return s
}

// ledgerKeys returns the ledger's records of a customer, as "type\x00key".
func ledgerKeys(t testing.TB, db *sqlx.DB, ds, customer string) map[string]bool {
	t.Helper()
	var rows []struct {
		Type string `db:"type"`
		Key  string `db:"external_id"`
	}
	if err := db.Select(&rows, `SELECT type, external_id FROM recur.ledger WHERE data_source = $1 AND customer = $2`, ds, customer); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range rows {
		out[r.Type+"\x00"+r.Key] = true
	}
	return out
}

// nonRetryable reports whether err is an application error that is not
// retried.
func nonRetryable(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable()
}
