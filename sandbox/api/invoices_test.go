package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// The invoice, line item, transaction and import-subscription tests run
// through real HTTP against a real database: a fresh SQLite file, and a
// fresh PostgreSQL schema when RECUR_TEST_POSTGRES_URL names a server. Their
// helpers are prefixed inv so they cannot collide with other test files of
// the package.

// invEnv is one account with an API key, a data source, a customer
// (external id cus_1) and a monthly plan (external id plan_1), behind a
// running server.
type invEnv struct {
	t       *testing.T
	srv     *httptest.Server
	st      *store.Store
	key     string
	account *chartmogul.Account
	ds      *chartmogul.DataSource
	cus     *chartmogul.Customer
	plan    *chartmogul.Plan
}

// invRun runs fn on every engine, each with a fresh database and server.
func invRun(t *testing.T, fn func(t *testing.T, e *invEnv)) {
	t.Helper()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(context.Background(), db.URL, store.Options{})
			if err != nil {
				t.Fatalf("open %s: %v", db.Engine, err)
			}
			t.Cleanup(func() { st.Close() })
			srv := httptest.NewServer(api.New(st, slog.New(slog.NewTextHandler(invLogWriter{t}, nil))).Handler())
			t.Cleanup(srv.Close)
			fn(t, invNewEnv(t, st, srv, "acme", "cus_1"))
		})
	}
}

// invLogWriter sends the server's log to the test's, where a failing test
// shows it.
type invLogWriter struct{ t *testing.T }

func (w invLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// with returns a copy of e that reports to t, for subtests.
func (e *invEnv) with(t *testing.T) *invEnv {
	c := *e
	c.t = t
	return &c
}

// invNewEnv sets up an account named name in st, with a customer of
// external id cusExt.
func invNewEnv(t *testing.T, st *store.Store, srv *httptest.Server, name, cusExt string) *invEnv {
	t.Helper()
	ctx := context.Background()
	a, err := st.EnsureAccount(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	key := "rk_test_" + name + "_0123456789abcdef"
	if _, err := st.InstallKey(ctx, a.ID, key, chartmogul.AccessReadWrite); err != nil {
		t.Fatal(err)
	}
	ds, err := st.CreateDataSource(ctx, a.ID, "Billing", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &invEnv{t: t, srv: srv, st: st, key: key, account: a, ds: ds}
	e.cus = e.addCustomer(cusExt)
	b := chartmogul.NewBatch(e.now())
	if _, _, err := b.Add(chartmogul.RecordPlans, []byte(`{"external_id":"plan_1","name":"Gold","interval_count":1,"interval_unit":"month"}`)); err != nil {
		t.Fatal(err)
	}
	b.Validate()
	ch, err := st.ApplyChanges(ctx, ds.ID, bulk.Keys(b), bulk.Resolver(b))
	if err != nil || len(ch.Report.Failures) > 0 {
		t.Fatalf("create plan: %v %+v", err, ch.Report.Failures)
	}
	if e.plan, err = st.Plan(ctx, a.ID, ch.NewPlans[0].UUID); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *invEnv) now() time.Time { return time.Now() }

// addCustomer stores a customer of the env's data source.
func (e *invEnv) addCustomer(ext string) *chartmogul.Customer {
	e.t.Helper()
	ctx := context.Background()
	b := chartmogul.NewBatch(e.now())
	if _, _, err := b.Add(chartmogul.RecordCustomers, []byte(fmt.Sprintf(`{"external_id":%q,"name":"Customer %s"}`, ext, ext))); err != nil {
		e.t.Fatal(err)
	}
	b.Validate()
	ch, err := e.st.ApplyChanges(ctx, e.ds.ID, bulk.Keys(b), bulk.Resolver(b))
	if err != nil || len(ch.Report.Failures) > 0 {
		e.t.Fatalf("create customer: %v %+v", err, ch.Report.Failures)
	}
	c, err := e.st.Customer(ctx, e.account.ID, ch.NewCustomers[0].UUID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// other returns a second account on the same server, to check that one
// account cannot reach another's records.
func (e *invEnv) other() *invEnv {
	return invNewEnv(e.t, e.st, e.srv, "other", "cus_1")
}

// invResp is an answer: its status, raw body and decoded JSON.
type invResp struct {
	t      *testing.T
	method string
	path   string
	status int
	header http.Header
	raw    []byte
	body   any
}

// call sends a request; body is sent as is when it is a string, as JSON
// otherwise, and not at all when nil.
func (e *invEnv) call(method, path string, body any) *invResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(e.key, "")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	oaCheck(e.t, req, res, raw) // openapi_test.go
	r := &invResp{t: e.t, method: method, path: path, status: res.StatusCode, header: res.Header, raw: raw}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Errorf("%s %s: answer is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return r
}

// want checks the status, and returns r for chaining.
func (r *invResp) want(status int) *invResp {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, r.status, status, r.raw)
	}
	return r
}

// get returns the value at a dotted path ("invoices.0.uuid") of the body.
func (r *invResp) get(path string) any {
	r.t.Helper()
	return invGet(r.t, r.body, path)
}

// str returns the string at a dotted path.
func (r *invResp) str(path string) string {
	r.t.Helper()
	s, ok := r.get(path).(string)
	if !ok {
		r.t.Fatalf("%s %s: %s is %v, not a string: %s", r.method, r.path, path, r.get(path), r.raw)
	}
	return s
}

// len returns the length of the array at a dotted path.
func (r *invResp) len(path string) int {
	r.t.Helper()
	a, ok := r.get(path).([]any)
	if !ok {
		r.t.Fatalf("%s %s: %s is not an array: %s", r.method, r.path, path, r.raw)
	}
	return len(a)
}

// is checks the value at a dotted path; numbers compare as float64.
func (r *invResp) is(path string, want any) *invResp {
	r.t.Helper()
	got := r.get(path)
	if n, ok := want.(int); ok {
		want = float64(n)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || (got == nil) != (want == nil) {
		r.t.Errorf("%s %s: %s = %#v, want %#v", r.method, r.path, path, got, want)
	}
	return r
}

// errorIs checks one message of a 422 errors map at path ("errors" for
// single-object errors, "invoices.1.errors" for invoice imports).
func (r *invResp) errorIs(path, field, want string) *invResp {
	r.t.Helper()
	m, ok := r.get(path).(map[string]any)
	if !ok {
		r.t.Fatalf("%s %s: %s is not an errors map: %s", r.method, r.path, path, r.raw)
	}
	got, ok := m[field].(string)
	if !ok {
		r.t.Errorf("%s %s: %s has no message for %q: %s", r.method, r.path, path, field, r.raw)
		return r
	}
	if !strings.Contains(got, want) {
		r.t.Errorf("%s %s: %s[%q] = %q, want it to contain %q", r.method, r.path, path, field, got, want)
	}
	return r
}

func invGet(t *testing.T, v any, path string) any {
	t.Helper()
	if path == "" {
		return v
	}
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(x) {
				t.Fatalf("path %s: no element %s", path, part)
			}
			v = x[i]
		default:
			t.Fatalf("path %s: cannot index %v with %s", path, v, part)
		}
	}
	return v
}

// invInvoice is an invoice body with a subscription line item of plan_1 and
// a one-time item and a payment.
func (e *invEnv) invInvoice(ext string) map[string]any {
	return map[string]any{
		"external_id": ext, "date": "2023-04-01 00:00:00", "currency": "USD", "due_date": "2023-04-15",
		"line_items": []any{
			map[string]any{"type": "subscription", "external_id": "li_" + ext, "subscription_external_id": "sub_1", "plan_uuid": e.plan.UUID,
				"service_period_start": "2023-04-01", "service_period_end": "2023-05-01", "amount_in_cents": 5000, "quantity": 1},
			map[string]any{"type": "one_time", "description": "Setup", "amount_in_cents": 2500},
		},
		"transactions": []any{map[string]any{"type": "payment", "date": "2023-04-02", "result": "successful", "external_id": "tr_" + ext}},
	}
}

// importInvoices posts invoices for the env's customer.
func (e *invEnv) importInvoices(invoices ...any) *invResp {
	e.t.Helper()
	return e.call("POST", "/v1/import/customers/"+e.cus.UUID+"/invoices", map[string]any{"invoices": invoices})
}

// count returns the number of rows of a table in the env's data source.
func (e *invEnv) count(what string) int {
	e.t.Helper()
	ctx := context.Background()
	switch what {
	case "invoices":
		list, _, err := e.st.ListInvoices(ctx, e.account.ID, store.InvoiceFilter{WithDisabled: true}, store.Page{Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		return len(list)
	case "subscriptions":
		n := 0
		for _, c := range []string{e.cus.UUID} {
			list, _, err := e.st.CustomerSubscriptions(ctx, e.account.ID, c, store.Page{Limit: 1000})
			if err != nil {
				e.t.Fatal(err)
			}
			n += len(list)
		}
		return n
	}
	e.t.Fatalf("count %s: unknown", what)
	return 0
}

// ---- cassettes

// invCall is one recorded interaction of a cassette.
type invCall struct {
	Method, URL, Request string
	Code                 int
	Response             string
}

var invKeyLine = regexp.MustCompile(`^(\s*)(body|string|url|uri|method|code):\s?(.*)$`)

// invCassette reads the interactions of a recorded cassette (go-vcr v1 or
// Ruby VCR YAML), enough of YAML for these files: single-quoted and binary
// scalars.
func invCassette(t *testing.T, name string) []invCall {
	t.Helper()
	f, err := os.Open("../../testdata/cassettes/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var calls []invCall
	inResponse := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "- request:"):
			calls = append(calls, invCall{})
			inResponse = false
			continue
		case strings.TrimSpace(line) == "response:":
			inResponse = true
			continue
		}
		m := invKeyLine.FindStringSubmatch(line)
		if m == nil || len(calls) == 0 {
			continue
		}
		indent, key, val := len(m[1]), m[2], m[3]
		c := &calls[len(calls)-1]
		var text string
		switch {
		case strings.HasPrefix(val, "'"):
			text, i = invQuoted(lines, i, val)
		case strings.HasPrefix(val, "!binary"):
			var b strings.Builder
			for i+1 < len(lines) && len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent {
				i++
				b.WriteString(strings.TrimSpace(lines[i]))
			}
			dec, err := base64.StdEncoding.DecodeString(b.String())
			if err != nil {
				t.Fatalf("%s: binary body: %v", name, err)
			}
			text = string(dec)
		default:
			text = strings.Trim(val, `"`)
		}
		switch key {
		case "method":
			c.Method = strings.ToUpper(text)
		case "url", "uri":
			c.URL = text
		case "code":
			if inResponse {
				c.Code, _ = strconv.Atoi(text)
			}
		case "body", "string":
			if inResponse {
				c.Response = text
			} else {
				c.Request = text
			}
		}
	}
	return calls
}

// invQuoted reads a YAML single-quoted scalar that starts on lines[i] with
// val, folding line breaks into spaces.
func invQuoted(lines []string, i int, val string) (string, int) {
	var b strings.Builder
	s := val[1:]
	for {
		for j := 0; j < len(s); j++ {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				return b.String(), i
			}
			b.WriteByte(s[j])
		}
		i++
		if i >= len(lines) {
			return b.String(), i
		}
		next := strings.TrimSpace(lines[i])
		if next == "" {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
		s = next
	}
}

// invFind returns the recorded interaction of a method whose URL contains
// part, the nth (from 0) of them.
func invFind(t *testing.T, calls []invCall, method, part string, nth int) invCall {
	t.Helper()
	for _, c := range calls {
		if c.Method == method && strings.Contains(c.URL, part) {
			if nth == 0 {
				return c
			}
			nth--
		}
	}
	t.Fatalf("no recorded %s %s", method, part)
	return invCall{}
}

// invShape checks that got has the shape of the recorded answer want: the
// same keys at every level and the same JSON types where both are non-null.
// missingOK names keys the recording has that Recur leaves out, extraOK keys
// Recur adds. Arrays of objects with a "type" are matched element by type.
func invShape(t *testing.T, where string, want, got any, missingOK, extraOK []string) {
	t.Helper()
	if want == nil || got == nil {
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, recorded an object", where, got)
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				if !invContains(missingOK, k) {
					t.Errorf("%s: key %q missing (recorded %v)", where, k, wv)
				}
				continue
			}
			invShape(t, where+"."+k, wv, gv, missingOK, extraOK)
		}
		for k := range g {
			if _, ok := w[k]; !ok && !invContains(extraOK, k) {
				t.Errorf("%s: key %q is not in the recording", where, k)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: got %T, recorded an array", where, got)
			return
		}
		for i, wv := range w {
			match := -1
			if wm, ok := wv.(map[string]any); ok && wm["type"] != nil {
				for j, gv := range g {
					if gm, ok := gv.(map[string]any); ok && gm["type"] == wm["type"] {
						match = j
						break
					}
				}
			} else if i < len(g) {
				match = i
			}
			if match >= 0 {
				invShape(t, fmt.Sprintf("%s[%d]", where, i), wv, g[match], missingOK, extraOK)
			}
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			t.Errorf("%s: got %T %v, recorded %T %v", where, got, got, want, want)
		}
	}
}

func invContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func invJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("recorded body is not JSON: %v: %s", err, s)
	}
	return v
}

// ---- tests

// TestInvoiceImportMatchesGoCassette replays the Go client's recorded import
// of two invoices and its paged customer invoice list.
func TestInvoiceImportMatchesGoCassette(t *testing.T) {
	calls := invCassette(t, "go/invoices.yaml")
	post := invFind(t, calls, "POST", "/invoices", 0)
	page1 := invFind(t, calls, "GET", "per_page=1", 0)
	page2 := invFind(t, calls, "GET", "per_page=2", 0)
	invRun(t, func(t *testing.T, e *invEnv) {
		body := strings.ReplaceAll(post.Request, "pl_c92869ec-3c54-11ee-9275-73c5d5e48dff", e.plan.UUID)
		r := e.call("POST", "/v1/import/customers/"+e.cus.UUID+"/invoices", body).want(post.Code)
		invShape(t, "create", invJSON(t, post.Response), r.body, nil, nil)
		r.is("invoices.0.external_id", "INV_to_be_retrieved").is("invoices.0.date", "2023-08-16T16:48:54.000Z").
			is("invoices.0.due_date", nil).is("invoices.0.currency", "EUR").is("invoices.1.external_id", "INV_to_be_retrieved1")
		// Line items come back in the order they were sent.
		r.is("invoices.0.line_items.0.type", "one_time").is("invoices.0.line_items.0.description", "fake_item").
			is("invoices.0.line_items.0.external_id", nil).is("invoices.0.line_items.0.transaction_fees_currency", nil)
		r.is("invoices.0.line_items.1.plan_uuid", e.plan.UUID).is("invoices.0.line_items.1.subscription_set_external_id", "ext_subscription_set").
			is("invoices.0.line_items.1.service_period_end", "2017-05-31T00:00:00.000Z").is("invoices.0.line_items.1.quantity", 10).
			is("invoices.0.line_items.1.proration_type", nil).is("invoices.0.line_items.1.prorated", false)
		r.is("invoices.0.transactions.0.date", "2023-08-16T19:48:54.000Z").is("invoices.0.transactions.0.amount_in_cents", nil)
		if !strings.HasPrefix(r.str("invoices.0.uuid"), "inv_") || !strings.HasPrefix(r.str("invoices.0.line_items.1.subscription_uuid"), "sub_") ||
			!strings.HasPrefix(r.str("invoices.0.line_items.0.uuid"), "li_") || !strings.HasPrefix(r.str("invoices.0.transactions.0.uuid"), "tr_") {
			t.Errorf("ids lack ChartMogul's prefixes: %s", r.raw)
		}

		// A customer's invoices are listed oldest first.
		l1 := e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/invoices?per_page=1", nil).want(page1.Code)
		invShape(t, "list per_page=1", invJSON(t, page1.Response), l1.body, nil, nil)
		l1.is("customer_uuid", e.cus.UUID).is("invoices.0.external_id", "INV_to_be_retrieved").is("has_more", true).
			is("current_page", 1).is("total_pages", 2)
		l2 := e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/invoices?per_page=1&cursor="+l1.str("cursor"), nil).want(200)
		l2.is("invoices.0.external_id", "INV_to_be_retrieved1").is("has_more", false).is("cursor", nil)
		if l2.get("current_page") != nil || l2.get("total_pages") != nil {
			t.Errorf("a page asked for by cursor carries offsets: %s", l2.raw)
		}
		all := e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/invoices?per_page=2", nil).want(page2.Code)
		invShape(t, "list per_page=2", invJSON(t, page2.Response), all.body, nil, nil)
		all.is("total_pages", 1).is("has_more", false)
	})
}

// TestInvoiceImportMatchesRubyCassettes replays the Ruby client's recorded
// import (with the customer_external_id and data_source_uuid it sends), the
// retrieve, the list of all invoices, and the delete.
func TestInvoiceImportMatchesRubyCassettes(t *testing.T) {
	create := invFind(t, invCassette(t, "ruby/ChartMogul_CustomerInvoices/API_Actions/creates_the_customer_invoice_correctly.yml"), "POST", "/invoices", 0)
	emptyList := invFind(t, invCassette(t, "ruby/ChartMogul_CustomerInvoices/API_Actions/creates_the_customer_invoice_correctly.yml"), "GET", "/invoices", 0)
	retrieve := invFind(t, invCassette(t, "ruby/ChartMogul_Invoice/API_Actions/retrieves_the_invoice_correctly.yml"), "GET", "/v1/invoices/", 0)
	list := invFind(t, invCassette(t, "ruby/ChartMogul_Invoice/API_Actions/with_pagination/paginates_correctly.yml"), "GET", "per_page=1", 0)
	del := invFind(t, invCassette(t, "ruby/ChartMogul_Invoice/API_Actions/destroys_the_invoice_correctly.yml"), "DELETE", "/v1/invoices/", 0)
	invRun(t, func(t *testing.T, e *invEnv) {
		e.cus = e.addCustomer("cus_001")
		path := "/v1/import/customers/" + e.cus.UUID + "/invoices"
		empty := e.call("GET", path, nil).want(emptyList.Code)
		invShape(t, "empty list", invJSON(t, emptyList.Response), empty.body, nil, nil)
		empty.is("total_pages", 0).is("cursor", nil).is("has_more", false).is("current_page", 1)

		body := strings.NewReplacer("pl_de9e281e-76cb-11ee-b63f-b727630ce4d4", e.plan.UUID,
			"ds_03cfd2c4-2c7e-11ee-ab23-cb0f008cff46", e.ds.UUID, "cus_23551596-2c7e-11ee-9ea1-2bfe193640c0", e.cus.UUID).Replace(create.Request)
		r := e.call("POST", path, body).want(create.Code)
		invShape(t, "create", invJSON(t, create.Response), r.body, nil, []string{"cancelled_at"})
		r.is("invoices.0.date", "2016-01-01T12:00:00.000Z").is("invoices.0.due_date", "2016-01-07T12:00:00.000Z").
			is("invoices.0.line_items.0.cancelled_at", "2016-01-15T12:00:00.000Z").is("invoices.0.line_items.0.discount_code", "DISCCODE").
			is("invoices.0.line_items.0.tax_amount_in_cents", 200).is("invoices.0.transactions.0.external_id", "test_cus_tr_ext_id")
		uuid := r.str("invoices.0.uuid")

		got := e.call("GET", "/v1/invoices/"+uuid, nil).want(retrieve.Code)
		invShape(t, "retrieve", invJSON(t, retrieve.Response), got.body, nil, []string{"cancelled_at"})
		got.is("customer_uuid", e.cus.UUID).is("external_id", "test_cus_inv_ext_id_1")

		l := e.call("GET", "/v1/invoices?per_page=1", nil).want(list.Code)
		// balance_transfer appeared on listed line items in late 2023 only;
		// Recur does not show it.
		invShape(t, "list", invJSON(t, list.Response), l.body, []string{"balance_transfer"}, []string{"cancelled_at"})
		l.is("invoices.0.uuid", uuid).is("has_more", false)

		e.call("DELETE", "/v1/invoices/"+uuid, nil).want(del.Code)
		e.call("GET", "/v1/invoices/"+uuid, nil).want(404).is("error", "Invoice not found")
	})
}

// TestInvoiceImportValidation sends invoices that break one rule each: the
// answer is 422 with the submitted invoice echoed with an errors map keyed
// by field path, and nothing is stored.
func TestInvoiceImportValidation(t *testing.T) {
	type edit func(e *invEnv, inv map[string]any)
	item := func(inv map[string]any, i int) map[string]any { return inv["line_items"].([]any)[i].(map[string]any) }
	tr := func(inv map[string]any) map[string]any { return inv["transactions"].([]any)[0].(map[string]any) }
	cases := []struct {
		name, field, msg string
		edit             edit
	}{
		{"no external_id", "external_id", "external_id is required", func(e *invEnv, inv map[string]any) { delete(inv, "external_id") }},
		{"no date", "date", "date is required", func(e *invEnv, inv map[string]any) { delete(inv, "date") }},
		{"no currency", "currency", "currency is required", func(e *invEnv, inv map[string]any) { delete(inv, "currency") }},
		{"unknown currency", "currency", "ISO 4217", func(e *invEnv, inv map[string]any) { inv["currency"] = "XYZ" }},
		{"bad date", "date", "must be a date", func(e *invEnv, inv map[string]any) { inv["date"] = "yesterday" }},
		{"date of wrong type", "date", "date must be a date string", func(e *invEnv, inv map[string]any) { inv["date"] = 20230401 }},
		{"unknown collection_method", "collection_method", "must be one of automatic, manual", func(e *invEnv, inv map[string]any) { inv["collection_method"] = "cash" }},
		{"no line_items", "line_items", "at least one line item", func(e *invEnv, inv map[string]any) { delete(inv, "line_items") }},
		{"null line_items", "line_items", "at least one line item", func(e *invEnv, inv map[string]any) { inv["line_items"] = nil }},
		{"empty line_items", "line_items", "at least one line item", func(e *invEnv, inv map[string]any) { inv["line_items"] = []any{} }},
		{"line_items not an array", "line_items", "must be an array", func(e *invEnv, inv map[string]any) { inv["line_items"] = map[string]any{} }},
		{"line item not an object", "line_items", "must be a JSON object", func(e *invEnv, inv map[string]any) { inv["line_items"] = []any{"x"} }},
		{"line item without type", "line_items.type", "type is required", func(e *invEnv, inv map[string]any) { delete(item(inv, 1), "type") }},
		{"unknown line item type", "line_items.type", "must be one of subscription, one_time, trial", func(e *invEnv, inv map[string]any) { item(inv, 1)["type"] = "setup" }},
		{"line item without amount", "line_items.amount_in_cents", "amount_in_cents is required", func(e *invEnv, inv map[string]any) { delete(item(inv, 1), "amount_in_cents") }},
		{"amount as a string", "line_items.amount_in_cents", "without quotes", func(e *invEnv, inv map[string]any) { item(inv, 1)["amount_in_cents"] = "2500" }},
		{"quantity of wrong type", "line_items.quantity", "whole number", func(e *invEnv, inv map[string]any) { item(inv, 0)["quantity"] = 1.5 }},
		{"subscription without plan_uuid", "line_items.plan_uuid", "plan_uuid is required", func(e *invEnv, inv map[string]any) { delete(item(inv, 0), "plan_uuid") }},
		{"unknown plan_uuid", "line_items.plan_uuid", "names no plan of data source", func(e *invEnv, inv map[string]any) {
			item(inv, 0)["plan_uuid"] = "pl_00000000-0000-0000-0000-000000000000"
		}},
		{"subscription without subscription_external_id", "line_items.subscription_external_id", "is required", func(e *invEnv, inv map[string]any) { delete(item(inv, 0), "subscription_external_id") }},
		{"subscription without service period", "line_items.service_period_start", "is required", func(e *invEnv, inv map[string]any) { delete(item(inv, 0), "service_period_start") }},
		{"period ending before it starts", "line_items.service_period_end", "must be after service_period_start", func(e *invEnv, inv map[string]any) { item(inv, 0)["service_period_end"] = "2023-03-01" }},
		{"unknown proration_type", "line_items.proration_type", "must be one of full", func(e *invEnv, inv map[string]any) { item(inv, 0)["proration_type"] = "partial" }},
		{"transaction without type", "transactions.type", "type is required", func(e *invEnv, inv map[string]any) { delete(tr(inv), "type") }},
		{"transaction type payments", "transactions.type", "must be one of payment, refund", func(e *invEnv, inv map[string]any) { tr(inv)["type"] = "payments" }},
		{"transaction without result", "transactions.result", "result is required", func(e *invEnv, inv map[string]any) { delete(tr(inv), "result") }},
		{"transaction in the future", "transactions.date", "must not be in the future", func(e *invEnv, inv map[string]any) { tr(inv)["date"] = "2999-01-01" }},
		{"transactions not an array", "transactions", "must be an array", func(e *invEnv, inv map[string]any) { inv["transactions"] = "x" }},
		{"another customer's external id", "customer_external_id", "is not an external id of customer", func(e *invEnv, inv map[string]any) { inv["customer_external_id"] = "cus_2" }},
		{"another data source", "data_source_uuid", "is not a data source of customer", func(e *invEnv, inv map[string]any) { inv["data_source_uuid"] = "ds_other" }},
		{"customer_external_id of wrong type", "customer_external_id", "must be a string", func(e *invEnv, inv map[string]any) { inv["customer_external_id"] = 7 }},
	}
	invRun(t, func(t *testing.T, e *invEnv) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := e.with(t)
				inv := e.invInvoice("inv_bad")
				c.edit(e, inv)
				r := e.importInvoices(inv).want(422)
				r.errorIs("invoices.0.errors", c.field, c.msg)
				if r.len("invoices") != 1 {
					t.Errorf("the answer does not echo the one invoice: %s", r.raw)
				}
				if _, ok := inv["currency"]; ok {
					r.is("invoices.0.currency", inv["currency"])
				}
			})
		}
		if n := e.count("invoices"); n != 0 {
			t.Errorf("%d invoices stored by failed requests", n)
		}
		if n := e.count("subscriptions"); n != 0 {
			t.Errorf("%d subscriptions stored by failed requests", n)
		}
	})
}

// TestInvoiceImportDuplicates checks ChartMogul's duplicate messages, which
// the Go client's IsAlreadyExists and IsInvoiceAndItsEntitiesAlreadyExist
// recognise.
func TestInvoiceImportDuplicates(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		e.importInvoices(e.invInvoice("inv_1")).want(201)

		// A re-sent invoice names each stored external id it repeats, as the
		// Go client's IsInvoiceAndItsEntitiesAlreadyExist expects.
		e.importInvoices(e.invInvoice("inv_1")).want(422).is("invoices.0.errors", map[string]any{
			"external_id":              "The external ID for this invoice already exists in our system.",
			"line_items.external_id":   "The external ID for this line item already exists in our system.",
			"transactions.external_id": "has already been taken",
		})

		inv := e.invInvoice("inv_2")
		inv["line_items"].([]any)[0].(map[string]any)["external_id"] = "li_inv_1"
		e.importInvoices(inv).want(422).
			errorIs("invoices.0.errors", "line_items.external_id", "The external ID for this line item already exists in our system.")

		inv = e.invInvoice("inv_2")
		inv["transactions"].([]any)[0].(map[string]any)["external_id"] = "tr_inv_1"
		r := e.importInvoices(inv).want(422)
		r.errorIs("invoices.0.errors", "transactions.external_id", "has already been taken")
		if m := r.get("invoices.0.errors").(map[string]any); len(m) != 1 {
			t.Errorf("a duplicate transaction reports more than its own error: %v", m)
		}

		// The same external id twice in one request.
		r = e.importInvoices(e.invInvoice("inv_3"), e.invInvoice("inv_3")).want(422)
		r.errorIs("invoices.1.errors", "external_id", "appears more than once")
		if n := e.count("invoices"); n != 1 {
			t.Errorf("%d invoices stored, want 1", n)
		}
	})
}

// TestInvoiceImportAllOrNothing sends three invoices of which the second is
// invalid: 422, each invoice echoed (the valid ones with empty errors), and
// none stored.
func TestInvoiceImportAllOrNothing(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		bad := e.invInvoice("inv_2")
		bad["currency"] = "dollars"
		bad["errors"] = map[string]any{"stale": "x"}
		r := e.importInvoices(e.invInvoice("inv_1"), bad, e.invInvoice("inv_3")).want(422)
		if r.len("invoices") != 3 {
			t.Fatalf("want the three invoices echoed: %s", r.raw)
		}
		r.is("invoices.0.external_id", "inv_1").is("invoices.1.external_id", "inv_2").is("invoices.2.external_id", "inv_3")
		r.errorIs("invoices.1.errors", "currency", "ISO 4217")
		for _, i := range []string{"0", "2"} {
			if m := r.get("invoices." + i + ".errors").(map[string]any); len(m) != 0 {
				t.Errorf("valid invoice %s has errors %v", i, m)
			}
		}
		if r.get("invoices.1.errors.stale") != nil {
			t.Errorf("the errors the caller sent were echoed: %s", r.raw)
		}
		if n := e.count("invoices"); n != 0 {
			t.Errorf("%d invoices stored, want none", n)
		}
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions", nil).want(200).is("subscriptions", []any{})
	})
}

// TestInvoiceImportRequests covers what is wrong with a request as a whole,
// and customers that are not the caller's.
func TestInvoiceImportRequests(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		path := "/v1/import/customers/" + e.cus.UUID + "/invoices"
		e.call("POST", path, `{"invoices": [`).want(400)
		e.call("POST", path, `[]`).want(400)
		e.call("POST", path, `{}`).want(400).is("param", "invoices")
		e.call("POST", path, `{"invoices": null}`).want(400).is("param", "invoices")
		e.call("POST", path, `{"invoices": {}}`).want(400).is("param", "invoices")
		e.call("POST", path, `{"invoices": []}`).want(400).is("param", "invoices")
		e.call("POST", path, `{"invoices": [7]}`).want(422).errorIs("invoices.0.errors", "base", "must be a JSON object")

		e.call("POST", "/v1/import/customers/cus_00000000-0000-0000-0000-000000000000/invoices", map[string]any{"invoices": []any{e.invInvoice("x")}}).
			want(404).is("error", "Customer not found")
		o := e.other()
		o.call("POST", path, map[string]any{"invoices": []any{o.invInvoice("x")}}).want(404).is("error", "Customer not found")
		o.call("GET", path, nil).want(404)

		// The Ruby client also sends the customer's uuid at the top level
		// and in each invoice.
		inv := e.invInvoice("inv_1")
		inv["customer_uuid"] = e.cus.UUID
		inv["customer_external_id"] = e.cus.ExternalID
		e.call("POST", path, map[string]any{"customer_uuid": e.cus.UUID, "invoices": []any{inv}}).want(201)
	})
}

// TestInvoiceLists covers the filters and paging of GET /v1/invoices and
// the customer's list.
func TestInvoiceLists(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		cus2 := e.addCustomer("cus_2")
		e.importInvoices(e.invInvoice("inv_1"), e.invInvoice("inv_2")).want(201)
		e.call("POST", "/v1/import/customers/"+cus2.UUID+"/invoices", map[string]any{"invoices": []any{e.invInvoice("inv_3")}}).want(201)
		o := e.other()
		o.importInvoices(o.invInvoice("inv_1")).want(201)

		all := e.call("GET", "/v1/invoices", nil).want(200)
		if all.len("invoices") != 3 {
			t.Fatalf("want the account's 3 invoices: %s", all.raw)
		}
		all.is("invoices.0.external_id", "inv_3").is("invoices.0.customer_uuid", cus2.UUID).is("total_pages", 1).is("current_page", 1)

		e.call("GET", "/v1/invoices?customer_uuid="+cus2.UUID, nil).want(200).is("invoices.0.external_id", "inv_3")
		if n := e.call("GET", "/v1/invoices?customer_uuid="+e.cus.UUID, nil).want(200).len("invoices"); n != 2 {
			t.Errorf("customer filter: %d invoices, want 2", n)
		}
		r := e.call("GET", "/v1/invoices?data_source_uuid="+e.ds.UUID+"&external_id=inv_2", nil).want(200)
		if r.len("invoices") != 1 {
			t.Fatalf("external id filter: %s", r.raw)
		}
		r.is("invoices.0.external_id", "inv_2")
		e.call("GET", "/v1/invoices?data_source_uuid="+o.ds.UUID, nil).want(200).is("invoices", []any{})
		e.call("GET", "/v1/invoices?validation_type=invalid", nil).want(200).is("invoices", []any{}).is("has_more", false)
		if n := e.call("GET", "/v1/invoices?validation_type=all&include_edit_histories=true", nil).want(200).len("invoices"); n != 3 {
			t.Errorf("validation_type=all: %d invoices, want 3", n)
		}
		e.call("GET", "/v1/invoices?validation_type=broken", nil).want(400).is("param", "validation_type")
		e.call("GET", "/v1/invoices?with_disabled=maybe", nil).want(400).is("param", "with_disabled")

		// Paging newest first, by cursor.
		p1 := e.call("GET", "/v1/invoices?per_page=2", nil).want(200).is("has_more", true).is("total_pages", 2)
		p2 := e.call("GET", "/v1/invoices?per_page=2&cursor="+p1.str("cursor"), nil).want(200).is("has_more", false)
		if p2.len("invoices") != 1 || p2.str("invoices.0.external_id") != "inv_1" {
			t.Errorf("second page: %s", p2.raw)
		}
		for _, q := range []string{"per_page=0", "per_page=-1", "per_page=abc", "cursor=garbage", "page=2"} {
			e.call("GET", "/v1/invoices?"+q, nil).want(400)
			e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/invoices?"+q, nil).want(400)
		}
		// A cursor of one list or account does not page another.
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/invoices?cursor="+p1.str("cursor"), nil).want(400).is("param", "cursor")
		o.call("GET", "/v1/invoices?cursor="+p1.str("cursor"), nil).want(400).is("param", "cursor")
		if n := e.call("GET", "/v1/invoices?per_page=500", nil).want(200).len("invoices"); n != 3 {
			t.Errorf("per_page over 200 is clamped, not refused: %d invoices", n)
		}
		// GET bodies, as the Node client sends them, are ignored.
		e.call("GET", "/v1/invoices", `{}`).want(200)
	})
}

// TestInvoiceRetrieve covers unknown and foreign invoices.
func TestInvoiceRetrieve(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		uuid := e.importInvoices(e.invInvoice("inv_1")).want(201).str("invoices.0.uuid")
		e.call("GET", "/v1/invoices/"+uuid, nil).want(200).is("uuid", uuid).is("line_items.0.external_id", "li_inv_1")
		e.call("GET", "/v1/invoices/inv_00000000-0000-0000-0000-000000000000", nil).want(404).is("error", "Invoice not found")
		e.call("GET", "/v1/invoices/not-a-uuid", nil).want(404)
		e.other().call("GET", "/v1/invoices/"+uuid, nil).want(404).is("error", "Invoice not found")
		e.call("GET", "/v1/invoices/"+uuid+"?validation_type=invalid", nil).want(404)
	})
}

// TestInvoiceUpdate covers PATCH by uuid and by external id.
func TestInvoiceUpdate(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		uuid := e.importInvoices(e.invInvoice("inv_1")).want(201).str("invoices.0.uuid")
		path := "/v1/invoices/" + uuid
		r := e.call("PATCH", path, map[string]any{"date": "2023-04-03T10:00:00+02:00", "currency": "eur", "collection_method": "manual"}).want(200)
		r.is("date", "2023-04-03T08:00:00.000Z").is("currency", "EUR").is("due_date", "2023-04-15T00:00:00.000Z").is("line_items.0.external_id", "li_inv_1")
		e.call("GET", path, nil).want(200).is("date", "2023-04-03T08:00:00.000Z").is("currency", "EUR")
		// null clears an optional field; clients resend read-only members.
		e.call("PATCH", path, map[string]any{"due_date": nil, "uuid": uuid, "external_id": "inv_1", "line_items": []any{}}).want(200).
			is("due_date", nil).is("date", "2023-04-03T08:00:00.000Z")

		e.call("PATCH", "/v1/invoices?data_source_uuid="+e.ds.UUID+"&external_id=inv_1", map[string]any{"due_date": "2023-05-01"}).want(200).
			is("uuid", uuid).is("due_date", "2023-05-01T00:00:00.000Z")

		e.call("PATCH", path, map[string]any{"currency": "XYZ"}).want(422).errorIs("errors", "currency", "ISO 4217")
		e.call("PATCH", path, map[string]any{"date": nil}).want(422).errorIs("errors", "date", "date is required")
		e.call("PATCH", path, map[string]any{"date": 5}).want(422).errorIs("errors", "date", "date must be a date string")
		e.call("PATCH", path, map[string]any{"collection_method": "cash"}).want(422).errorIs("errors", "collection_method", "automatic, manual")
		e.call("PATCH", path, map[string]any{"external_id": "inv_9"}).want(422).errorIs("errors", "external_id", "cannot be changed")
		e.call("PATCH", path, map[string]any{"customer_external_id": "nobody"}).want(422).errorIs("errors", "customer_external_id", "names no customer")
		e.call("GET", path, nil).want(200).is("currency", "EUR").is("due_date", "2023-05-01T00:00:00.000Z")

		// Moving the invoice to another customer moves its subscription.
		cus2 := e.addCustomer("cus_2")
		e.call("PATCH", path, map[string]any{"customer_external_id": "cus_2"}).want(200).is("customer_uuid", cus2.UUID)
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions", nil).want(200).is("subscriptions", []any{})
		e.call("GET", "/v1/import/customers/"+cus2.UUID+"/subscriptions", nil).want(200).is("subscriptions.0.external_id", "sub_1")
		e.call("GET", "/v1/import/customers/"+cus2.UUID+"/invoices", nil).want(200).is("invoices.0.uuid", uuid)

		e.call("PATCH", "/v1/invoices", map[string]any{"currency": "USD"}).want(400).is("param", "data_source_uuid")
		e.call("PATCH", "/v1/invoices?data_source_uuid="+e.ds.UUID, map[string]any{"currency": "USD"}).want(400).is("param", "external_id")
		e.call("PATCH", "/v1/invoices?data_source_uuid="+e.ds.UUID+"&external_id=nope", map[string]any{}).want(404).is("error", "Invoice not found")
		e.call("PATCH", "/v1/invoices?data_source_uuid=ds_nope&external_id=inv_1", map[string]any{}).want(404).is("error", "Data source not found")
		e.call("PATCH", path, `[1]`).want(400)
		e.other().call("PATCH", path, map[string]any{"currency": "USD"}).want(404)
	})
}

// TestInvoiceDelete covers DELETE by uuid, by external id in the query and
// in a JSON body, and the cleanup of subscriptions.
func TestInvoiceDelete(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		r := e.importInvoices(e.invInvoice("inv_1"), e.invInvoice("inv_2"), e.invInvoice("inv_3")).want(201)
		e.other().call("DELETE", "/v1/invoices/"+r.str("invoices.0.uuid"), nil).want(404)

		d := e.call("DELETE", "/v1/invoices/"+r.str("invoices.0.uuid"), nil).want(204)
		if len(d.raw) != 0 {
			t.Errorf("204 with a body: %s", d.raw)
		}
		e.call("GET", "/v1/invoices/"+r.str("invoices.0.uuid"), nil).want(404)
		e.call("DELETE", "/v1/invoices/"+r.str("invoices.0.uuid"), nil).want(404).is("error", "Invoice not found")
		// sub_1 still has the other invoices' line items.
		if n := e.count("subscriptions"); n != 1 {
			t.Errorf("%d subscriptions, want 1", n)
		}
		e.call("DELETE", "/v1/invoices?data_source_uuid="+e.ds.UUID+"&external_id=inv_2", nil).want(204)
		e.call("DELETE", "/v1/invoices", map[string]any{"data_source_uuid": e.ds.UUID, "external_id": "inv_3"}).want(204)
		e.call("DELETE", "/v1/invoices", nil).want(400).is("param", "data_source_uuid")
		if n := e.count("invoices"); n != 0 {
			t.Errorf("%d invoices left", n)
		}
		if n := e.count("subscriptions"); n != 0 {
			t.Errorf("a subscription without line items is left")
		}
		// The line items and transactions went with their invoice.
		e.call("GET", "/v1/line_items?data_source_uuid="+e.ds.UUID+"&external_id=li_inv_1", nil).want(200).is("line_items", []any{})
		e.call("GET", "/v1/transactions?data_source_uuid="+e.ds.UUID+"&external_id=tr_inv_1", nil).want(200).is("transactions", []any{})
		// Their external ids are free again.
		e.importInvoices(e.invInvoice("inv_1")).want(201)
	})
}

// TestDeleteCustomerInvoices covers DELETE
// /v1/data_sources/{ds}/customers/{cus}/invoices.
func TestDeleteCustomerInvoices(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		cus2 := e.addCustomer("cus_2")
		e.importInvoices(e.invInvoice("inv_1"), e.invInvoice("inv_2")).want(201)
		e.call("POST", "/v1/import/customers/"+cus2.UUID+"/invoices", map[string]any{"invoices": []any{e.invInvoice("inv_3")}}).want(201)
		base := "/v1/data_sources/" + e.ds.UUID + "/customers/" + e.cus.UUID + "/invoices"
		o := e.other()
		o.call("DELETE", base, nil).want(404)
		e.call("DELETE", "/v1/data_sources/"+o.ds.UUID+"/customers/"+e.cus.UUID+"/invoices", nil).want(404)
		e.call("DELETE", "/v1/data_sources/"+e.ds.UUID+"/customers/cus_nope/invoices", nil).want(404).is("error", "Customer not found")
		e.call("DELETE", base+"?customer_external_id=cus_2", nil).want(404)

		e.call("DELETE", base+"?customer_external_id=cus_1", nil).want(204)
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/invoices", nil).want(200).is("invoices", []any{}).is("total_pages", 0)
		e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/subscriptions", nil).want(200).is("subscriptions", []any{})
		e.call("GET", "/v1/import/customers/"+cus2.UUID+"/invoices", nil).want(200).is("invoices.0.external_id", "inv_3")
	})
}

// TestInvoiceStatus covers PUT /v1/data_sources/{ds}/invoices/{ext}/status.
func TestInvoiceStatus(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		e.importInvoices(e.invInvoice("inv_1")).want(201)
		path := "/v1/data_sources/" + e.ds.UUID + "/invoices/inv_1/status"
		r := e.call("PUT", path, map[string]any{"status": "voided"}).want(200)
		r.is("message", "Invoice updated").is("external_id", "inv_1").is("status", "voided")
		e.call("PUT", path, map[string]any{"status": "written_off"}).want(200).is("status", "written_off")
		e.call("PUT", path, map[string]any{"status": "paid"}).want(422).errorIs("errors", "status", "follows from the invoice's transactions")
		e.call("PUT", path, map[string]any{"status": "lost"}).want(422).errorIs("errors", "status", "voided or written_off")
		e.call("PUT", path, map[string]any{}).want(422).errorIs("errors", "status", "status is required")
		e.call("PUT", path, map[string]any{"status": 1}).want(422).errorIs("errors", "status", "must be a string")
		e.call("PUT", "/v1/data_sources/"+e.ds.UUID+"/invoices/nope/status", map[string]any{"status": "voided"}).want(404).is("error", "Invoice not found")
		e.call("PUT", "/v1/data_sources/ds_nope/invoices/inv_1/status", map[string]any{"status": "voided"}).want(404).is("error", "Data source not found")
		e.other().call("PUT", path, map[string]any{"status": "voided"}).want(404)
	})
}

// TestInvoiceDisabledState covers disabling and enabling an invoice, by
// uuid and by external id, and what lists show of disabled records.
func TestInvoiceDisabledState(t *testing.T) {
	invRun(t, func(t *testing.T, e *invEnv) {
		r := e.importInvoices(e.invInvoice("inv_1"), e.invInvoice("inv_2")).want(201)
		if r.get("invoices.0.disabled") != nil {
			t.Errorf("an enabled invoice shows its disabled state outside the disabled_state routes: %s", r.raw)
		}
		uuid := r.str("invoices.0.uuid")
		d := e.call("PATCH", "/v1/invoices/"+uuid+"/disabled_state", map[string]any{"disabled": true}).want(200)
		d.is("uuid", uuid).is("disabled", true).is("disabled_by", "acme").is("line_items.0.disabled", true).is("transactions.0.disabled", true)
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", d.str("disabled_at")); err != nil {
			t.Errorf("disabled_at: %v", err)
		}
		if n := e.call("GET", "/v1/invoices", nil).want(200).len("invoices"); n != 1 {
			t.Errorf("a disabled invoice is listed: %d invoices", n)
		}
		if n := e.call("GET", "/v1/import/customers/"+e.cus.UUID+"/invoices", nil).want(200).len("invoices"); n != 1 {
			t.Errorf("a disabled invoice is in the customer's list")
		}
		w := e.call("GET", "/v1/invoices?with_disabled=true", nil).want(200)
		if w.len("invoices") != 2 {
			t.Errorf("with_disabled=true: %s", w.raw)
		}
		w.is("invoices.1.disabled", true).is("invoices.1.uuid", uuid)
		e.call("GET", "/v1/invoices/"+uuid, nil).want(200).is("disabled", true).is("line_items.0.disabled", true)

		en := e.call("PATCH", "/v1/invoices/"+uuid+"/disabled_state", map[string]any{"disabled": false}).want(200)
		en.is("disabled", false).is("disabled_at", nil).is("disabled_by", nil).is("line_items.0.disabled", false)
		if n := e.call("GET", "/v1/invoices", nil).want(200).len("invoices"); n != 2 {
			t.Errorf("an enabled invoice is not listed")
		}

		byExt := "/v1/invoices/disabled_state?data_source_uuid=" + e.ds.UUID + "&external_id=inv_2"
		e.call("PATCH", byExt, map[string]any{"disabled": true}).want(200).is("external_id", "inv_2").is("disabled", true)
		e.call("PATCH", "/v1/invoices/disabled_status?data_source_uuid="+e.ds.UUID+"&external_id=inv_2", map[string]any{"disabled": false}).want(200).is("disabled", false)
		e.call("PATCH", "/v1/invoices/disabled_state", map[string]any{"data_source_uuid": e.ds.UUID, "external_id": "inv_2", "disabled": true}).want(200).is("disabled", true)
		e.call("PATCH", "/v1/invoices/"+uuid+"/disabled_state", map[string]any{"disabled": "yes"}).want(422).errorIs("errors", "disabled", "true or false")
		e.call("PATCH", "/v1/invoices/disabled_state", map[string]any{"disabled": true}).want(400).is("param", "data_source_uuid")
		e.call("PATCH", "/v1/invoices/inv_nope/disabled_state", map[string]any{"disabled": true}).want(404)
		e.other().call("PATCH", "/v1/invoices/"+uuid+"/disabled_state", map[string]any{"disabled": true}).want(404)
	})
}
