package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// The customer, plan and data source tests run every case through real HTTP
// against a real database: a fresh SQLite file and, when
// RECUR_TEST_POSTGRES_URL names a server, a fresh PostgreSQL schema. Shapes
// are checked against the recorded ChartMogul responses of the same routes
// in testdata/cassettes. Helpers carry a cp prefix (customers and plans) so
// that they cannot collide with other test files of the package.

// cpEnv is one server on one database, with two accounts.
type cpEnv struct {
	t      *testing.T
	url    string
	store  *store.Store
	key    string // the main account's key
	other  string // another account's key
	acct   *chartmogul.Account
	oacct  *chartmogul.Account
	client *http.Client
}

// cpEngines runs fn on every engine.
func cpEngines(t *testing.T, fn func(t *testing.T, e *cpEnv)) {
	t.Helper()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := store.Open(ctx, db.URL, store.Options{})
			if err != nil {
				t.Fatalf("open %s: %v", db.Engine, err)
			}
			t.Cleanup(func() { s.Close() })
			e := &cpEnv{t: t, store: s, client: &http.Client{Timeout: 30 * time.Second}}
			e.acct, e.key = cpAccount(t, s, "acme")
			e.oacct, e.other = cpAccount(t, s, "rival")
			srv := httptest.NewServer(api.New(s, slog.New(slog.NewTextHandler(cpLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))).Handler())
			t.Cleanup(srv.Close)
			e.url = srv.URL
			fn(t, e)
		})
	}
}

// cpLog shows the server's log (internal errors) in the test's output.
type cpLog struct{ t *testing.T }

func (l cpLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func cpAccount(t *testing.T, s *store.Store, name string) (*chartmogul.Account, string) {
	t.Helper()
	ctx := context.Background()
	a, err := s.EnsureAccount(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.CreateKey(ctx, a.ID, chartmogul.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	return a, key
}

// cpResp is an answer: status, raw body and the body decoded.
type cpResp struct {
	status int
	raw    string
	body   any
}

// obj returns the body as an object, failing the test when it is not one.
func (r cpResp) obj(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.body.(map[string]any)
	if !ok {
		t.Fatalf("body is not a JSON object: %s", r.raw)
	}
	return m
}

// str returns a string member of the body.
func (r cpResp) str(t *testing.T, key string) string {
	t.Helper()
	s, ok := r.obj(t)[key].(string)
	if !ok {
		t.Fatalf("body has no string %q: %s", key, r.raw)
	}
	return s
}

// call sends a request as the main account. body is sent as JSON unless it
// is a string, which is sent as it is.
func (e *cpEnv) call(method, path string, body any) cpResp {
	e.t.Helper()
	return e.callAs(e.key, method, path, body)
}

// callAs sends a request with key ("" sends none).
func (e *cpEnv) callAs(key, method, path string, body any) cpResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	oaCheck(e.t, req, res, raw) // openapi_test.go
	out := cpResp{status: res.StatusCode, raw: string(raw)}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s answered Content-Type %q, want JSON", method, path, ct)
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s answered a body that is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return out
}

// want fails the test unless the answer has the status.
func (r cpResp) want(t *testing.T, status int) cpResp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	return r
}

// wantError fails the test unless the answer has the status and exactly the
// body given (as JSON).
func (r cpResp) wantError(t *testing.T, status int, body string) {
	t.Helper()
	r.want(t, status)
	var want any
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatalf("bad expected body %s: %v", body, err)
	}
	if !cpEqual(r.body, want) {
		t.Fatalf("body %s, want %s", r.raw, body)
	}
}

// wantField fails the test unless the answer is a 422 whose errors map has
// a message for field containing part.
func (r cpResp) wantField(t *testing.T, field, part string) {
	t.Helper()
	r.want(t, http.StatusUnprocessableEntity)
	errs, _ := r.obj(t)["errors"].(map[string]any)
	msg, _ := errs[field].(string)
	if msg == "" || !strings.Contains(msg, part) {
		t.Fatalf("errors[%q] = %q, want it to contain %q; body %s", field, msg, part, r.raw)
	}
}

// wantParam fails the test unless the answer is a 400 naming param.
func (r cpResp) wantParam(t *testing.T, param string) {
	t.Helper()
	r.want(t, http.StatusBadRequest)
	m := r.obj(t)
	if m["param"] != param || m["code"] != float64(400) || m["message"] == "" {
		t.Fatalf("want a 400 naming %q; body %s", param, r.raw)
	}
}

func cpEqual(a, b any) bool {
	x, _ := json.Marshal(a, json.Deterministic(true))
	y, _ := json.Marshal(b, json.Deterministic(true))
	return bytes.Equal(x, y)
}

// createDS creates a data source as the main account and returns its uuid.
func (e *cpEnv) createDS(name string) string {
	e.t.Helper()
	return e.call("POST", "/v1/data_sources", map[string]any{"name": name}).want(e.t, 201).str(e.t, "uuid")
}

// createCustomer creates a customer and returns the answer's object.
func (e *cpEnv) createCustomer(ds, externalID string, extra map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"data_source_uuid": ds, "external_id": externalID, "name": "Customer " + externalID}
	for k, v := range extra {
		body[k] = v
	}
	return e.call("POST", "/v1/customers", body).want(e.t, 201).obj(e.t)
}

// importRecords writes a bulk payload into a data source of the main
// account through the store, as the import worker would.
func (e *cpEnv) importRecords(dsUUID, payload string) *bulk.ImportChanges {
	e.t.Helper()
	ctx := context.Background()
	ds, err := e.store.DataSource(ctx, e.acct.ID, dsUUID)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := chartmogul.Decode([]byte(payload), time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	ch, err := e.store.ApplyChanges(ctx, ds.ID, bulk.Keys(b), bulk.Resolver(b))
	if err != nil {
		e.t.Fatal(err)
	}
	if len(ch.Report.Failures) > 0 {
		e.t.Fatalf("import failed: %+v", ch.Report.Failures)
	}
	return ch
}

// Cassettes: the recorded ChartMogul responses, read with a reader that
// knows just enough YAML for them (single-quoted scalars, folded lines).

// cpCassette returns the decoded response body and status of the first
// interaction in a cassette file whose method matches and whose URL
// contains urlPart.
func cpCassette(t *testing.T, file, method, urlPart string) (any, int) {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/cassettes/" + file)
	if err != nil {
		t.Fatal(err)
	}
	methodRe := regexp.MustCompile(`(?m)^\s+method: (\w+)`)
	urlRe := regexp.MustCompile(`(?m)^\s+(?:url|uri): (\S+)`)
	codeRe := regexp.MustCompile(`(?m)^\s+code: (\d+)`)
	for _, chunk := range strings.Split(string(raw), "\n- request:")[1:] {
		req, res, ok := strings.Cut(chunk, "\n  response:")
		if !ok {
			continue
		}
		m, u := methodRe.FindStringSubmatch(req), urlRe.FindStringSubmatch(req)
		if m == nil || u == nil || !strings.EqualFold(m[1], method) || !strings.Contains(u[1], urlPart) {
			continue
		}
		var code int
		if c := codeRe.FindStringSubmatch(res); c != nil {
			fmt.Sscan(c[1], &code)
		}
		body := cpScalar(res)
		if strings.TrimSpace(body) == "" {
			return nil, code
		}
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("cassette %s: %s %s: body is not JSON: %v: %s", file, method, urlPart, err, body)
		}
		return v, code
	}
	t.Fatalf("cassette %s has no %s %s", file, method, urlPart)
	return nil, 0
}

// cpScalar extracts the response body: the single-quoted scalar after
// "string:" (Ruby's VCR) or after the response's "body:" (go-vcr).
func cpScalar(res string) string {
	i := strings.Index(res, "string:")
	if i < 0 {
		i = strings.Index(res, "\n    body:")
		if i < 0 {
			return ""
		}
		i += len("\n    body:")
	} else {
		i += len("string:")
	}
	for i < len(res) && (res[i] == ' ' || res[i] == '\n') {
		i++
	}
	if strings.HasPrefix(res[i:], "!binary") {
		// Base64 on the following, more indented lines.
		var b64 strings.Builder
		lines := strings.Split(res[i:], "\n")[1:]
		for _, l := range lines {
			if !strings.HasPrefix(l, "        ") {
				break
			}
			b64.WriteString(strings.TrimSpace(l))
		}
		out, _ := base64.StdEncoding.DecodeString(b64.String())
		return string(out)
	}
	if i >= len(res) || res[i] != '\'' {
		return ""
	}
	var b strings.Builder
	for i++; i < len(res); i++ {
		switch c := res[i]; {
		case c == '\'' && i+1 < len(res) && res[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\'':
			return b.String()
		case c == '\n':
			// A line break inside a flow scalar folds into a space; the
			// next line's indentation is not content.
			for i+1 < len(res) && res[i+1] == ' ' {
				i++
			}
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cpKeys lists the key paths of a JSON value: "a", "a.b", "list[].c". The
// members of free-form maps (custom attributes, Stripe and Clearbit data)
// are data, not shape, and are not listed.
func cpKeys(v any, prefix string, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = cpType(val)
			if k == "custom" || k == "stripe" || k == "clearbit" || k == "status_details" || k == "errors" {
				continue
			}
			cpKeys(val, p, out)
		}
	case []any:
		if len(x) > 0 {
			cpKeys(x[0], prefix+"[]", out)
		}
	}
}

func cpType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	}
	return "object"
}

// cpShape fails the test unless got has the keys of the recording want, with
// the same JSON types where both are non-null. Keys Recur adds on purpose
// are listed in extra; any other difference fails.
func cpShape(t *testing.T, got, want any, extra ...string) {
	t.Helper()
	g, w := map[string]string{}, map[string]string{}
	cpKeys(got, "", g)
	cpKeys(want, "", w)
	for k, wt := range w {
		gt, ok := g[k]
		switch {
		case !ok:
			t.Errorf("key %s of the recorded answer is missing", k)
		case gt != wt && gt != "null" && wt != "null":
			t.Errorf("key %s is a %s; the recorded answer has a %s", k, gt, wt)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok && !slices.ContainsFunc(extra, func(x string) bool { return k == x || strings.HasPrefix(k, x+".") }) {
			t.Errorf("key %s is not in the recorded answer", k)
		}
	}
}

// cpCompareShape checks an answer against a cassette's answer: status and
// key set.
func cpCompareShape(t *testing.T, got cpResp, file, method, urlPart string, extra ...string) {
	t.Helper()
	want, code := cpCassette(t, file, method, urlPart)
	if got.status != code {
		t.Errorf("status %d; the recording answered %d", got.status, code)
	}
	cpShape(t, got.body, want, extra...)
}

// The tests.

func TestCustomersCreateAndList(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		var uuids []string
		for i, email := range []string{"abc@123.com", "abc@123.com", "ghi@example.com"} {
			r := e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ds, "external_id": fmt.Sprintf("TestImportCustomers_0%d", i+1),
				"name": "Test customer", "email": email})
			cpCompareShape(t, r, "go/customers.yaml", "POST", "/v1/customers", "website_url")
			uuids = append(uuids, r.str(t, "uuid"))
		}

		// The first page carries the offset keys; customers come oldest first.
		first := e.call("GET", "/v1/customers?data_source_uuid="+ds+"&per_page=2", nil).want(t, 200)
		cpCompareShape(t, first, "go/customers.yaml", "GET", "per_page=2", "entries[].website_url")
		m := first.obj(t)
		if m["total_pages"] != float64(2) || m["has_more"] != true || m["per_page"] != float64(2) {
			t.Fatalf("first page: %s", first.raw)
		}
		entries := m["entries"].([]any)
		if len(entries) != 2 || entries[0].(map[string]any)["uuid"] != uuids[0] || entries[1].(map[string]any)["uuid"] != uuids[1] {
			t.Fatalf("first page holds the wrong customers, or in the wrong order: %s", first.raw)
		}
		cursor := first.str(t, "cursor")

		next := e.call("GET", "/v1/customers?data_source_uuid="+ds+"&per_page=2&cursor="+cursor, nil).want(t, 200)
		want, _ := cpCassette(t, "ruby/ChartMogul_Customer/API_Actions/with_pagination/paginates_correctly.yml", "GET", "cursor=")
		cpShape(t, next.body, want, "entries[].website_url")
		m = next.obj(t)
		entries = m["entries"].([]any)
		if len(entries) != 1 || entries[0].(map[string]any)["uuid"] != uuids[2] || m["has_more"] != false || m["cursor"] != nil {
			t.Fatalf("second page: %s", next.raw)
		}

		// An empty list is one empty page.
		empty := e.call("GET", "/v1/customers?external_id=unknown", nil).want(t, 200)
		want, _ = cpCassette(t, "ruby/ChartMogul_Customer/_find_by_external_id/returns_nil_if_customer_does_not_exist.yml", "GET", "external_id=unknown")
		cpShape(t, empty.body, want)
		if !cpEqual(empty.body, want) {
			t.Fatalf("empty list %s, want %v", empty.raw, want)
		}

		// Another account sees none of them.
		other := e.callAs(e.other, "GET", "/v1/customers", nil).want(t, 200).obj(t)
		if len(other["entries"].([]any)) != 0 {
			t.Fatalf("another account lists the customers: %v", other)
		}
	})
}

func TestCustomersListFilters(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds1, ds2 := e.createDS("One"), e.createDS("Two")
		a := e.createCustomer(ds1, "cus_a", nil)
		b := e.createCustomer(ds1, "cus_b", map[string]any{"status": "Working Lead"})
		c := e.createCustomer(ds2, "cus_a", nil)
		uuids := func(path string) []string {
			t.Helper()
			r := e.call("GET", path, nil).want(t, 200)
			var out []string
			for _, x := range r.obj(t)["entries"].([]any) {
				out = append(out, x.(map[string]any)["uuid"].(string))
			}
			return out
		}
		for _, tc := range []struct {
			path string
			want []any
		}{
			{"/v1/customers", []any{a, b, c}},
			{"/v1/customers?data_source_uuid=", []any{a, b, c}},
			{"/v1/customers?data_source_uuid=" + ds2, []any{c}},
			{"/v1/customers?external_id=cus_a", []any{a, c}},
			{"/v1/customers?external_id=cus_a&data_source_uuid=" + ds1, []any{a}},
			{"/v1/customers?status=New_Lead", []any{a, c}},
			{"/v1/customers?status=Working_Lead", []any{b}},
			{"/v1/customers?status=Active", nil},
			{"/v1/customers?system=Custom", []any{a, b, c}},
			{"/v1/customers?system=Import+API", []any{a, b, c}},
			{"/v1/customers?system=Stripe", nil},
			{"/v1/customers?data_source_uuid=ds_00000000-0000-0000-0000-000000000000", nil},
		} {
			var want []string
			for _, w := range tc.want {
				want = append(want, w.(map[string]any)["uuid"].(string))
			}
			if got := uuids(tc.path); !slices.Equal(got, want) {
				t.Errorf("%s lists %v, want %v", tc.path, got, want)
			}
		}
	})
}

func TestCustomersListRefusesBadParameters(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		e.createCustomer(ds, "x1", nil)
		e.createCustomer(ds, "x2", nil)
		e.call("GET", "/v1/customers?status=Lead", nil).wantParam(t, "status")
		e.call("GET", "/v1/customers?status=active", nil).wantParam(t, "status")
		e.call("GET", "/v1/customers?per_page=0", nil).wantParam(t, "per_page")
		e.call("GET", "/v1/customers?per_page=abc", nil).wantParam(t, "per_page")
		e.call("GET", "/v1/customers?per_page=-1", nil).wantParam(t, "per_page")
		clamped := e.call("GET", "/v1/customers?per_page=201", nil).want(t, 200).obj(t)
		if clamped["per_page"] != float64(200) {
			t.Errorf("per_page=201 answered per_page %v, want 200", clamped["per_page"])
		}
		e.call("GET", "/v1/customers?cursor=not-a-cursor", nil).wantParam(t, "cursor")
		e.call("GET", "/v1/customers?page=2", nil).wantParam(t, "page")

		// A cursor of the plans list, and a cursor of another account.
		for i := range 2 {
			e.call("POST", "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "P", "interval_count": 1, "interval_unit": "month", "external_id": fmt.Sprint("p", i)}).want(t, 201)
		}
		plansCursor := e.call("GET", "/v1/plans?per_page=1", nil).want(t, 200).str(t, "cursor")
		e.call("GET", "/v1/customers?cursor="+plansCursor, nil).wantParam(t, "cursor")
		ods := e.callAs(e.other, "POST", "/v1/data_sources", map[string]any{"name": "Theirs"}).want(t, 201).str(t, "uuid")
		for _, ext := range []string{"o1", "o2"} {
			e.callAs(e.other, "POST", "/v1/customers", map[string]any{"data_source_uuid": ods, "external_id": ext}).want(t, 201)
		}
		otherCursor := e.callAs(e.other, "GET", "/v1/customers?per_page=1", nil).want(t, 200).str(t, "cursor")
		e.call("GET", "/v1/customers?cursor="+otherCursor, nil).wantParam(t, "cursor")
	})
}

func TestCustomersSearch(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		a := e.createCustomer(ds, "a", map[string]any{"email": "abc@123.com"})
		b := e.createCustomer(ds, "b", map[string]any{"email": "abc@123.com"})
		e.createCustomer(ds, "c", map[string]any{"email": "ghi@example.com"})

		r := e.call("GET", "/v1/customers/search?email=abc%40123.com&per_page=1", nil)
		cpCompareShape(t, r, "go/customers.yaml", "GET", "/v1/customers/search", "entries[].website_url")
		m := r.obj(t)
		if got := m["entries"].([]any)[0].(map[string]any)["uuid"]; got != a["uuid"] || m["has_more"] != true {
			t.Fatalf("search first page: %s", r.raw)
		}
		next := e.call("GET", "/v1/customers/search?email=abc%40123.com&per_page=1&cursor="+r.str(t, "cursor"), nil).want(t, 200).obj(t)
		if got := next["entries"].([]any)[0].(map[string]any)["uuid"]; got != b["uuid"] || next["has_more"] != false {
			t.Fatalf("search second page: %v", next)
		}

		none := e.call("GET", "/v1/customers/search?email=no%40email.com", nil)
		want, code := cpCassette(t, "ruby/ChartMogul_Customer/API_Actions/raises_a_HTTP_404_if_searching_for_customers_does_not_find_any.yml", "GET", "search")
		if none.status != code || !cpEqual(none.body, want) {
			t.Fatalf("search without a match: %d %s, want %d %v", none.status, none.raw, code, want)
		}
		// Another account's customers are not found.
		e.callAs(e.other, "GET", "/v1/customers/search?email=abc%40123.com", nil).want(t, 404)
		e.call("GET", "/v1/customers/search", nil).wantError(t, 400, `{"code":400,"message":"Parameter \"email\" is missing","param":"email"}`)
		e.call("GET", "/v1/customers/search?email=abc%40123.com&per_page=0", nil).wantParam(t, "per_page")
		e.callAs("", "GET", "/v1/customers/search?email=abc%40123.com", nil).wantError(t, 401, `{"code":401,"message":"No valid API key provided","param":null}`)
	})
}

func TestCustomerRetrieve(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		c := e.createCustomer(ds, "TestImportCustomers_02", map[string]any{"email": "abc@123.com"})
		r := e.call("GET", "/v1/customers/"+c["uuid"].(string), nil)
		cpCompareShape(t, r, "go/customers.yaml", "GET", "/v1/customers/cus_", "website_url")
		if !cpEqual(r.body, c) {
			t.Fatalf("retrieve %s differs from create %v", r.raw, c)
		}
		// GET bodies are ignored (the Node client sends {}).
		e.call("GET", "/v1/customers/"+c["uuid"].(string), "{}").want(t, 200)
		e.call("GET", "/v1/customers/cus_00000000-0000-0000-0000-000000000000", nil).wantError(t, 404, `{"error":"Customer not found"}`)
		e.callAs(e.other, "GET", "/v1/customers/"+c["uuid"].(string), nil).wantError(t, 404, `{"error":"Customer not found"}`)
		e.callAs("", "GET", "/v1/customers/"+c["uuid"].(string), nil).want(t, 401)
		e.callAs("wrong-key", "GET", "/v1/customers/"+c["uuid"].(string), nil).want(t, 401)
	})
}

func TestCustomerCreateErrors(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		e.createCustomer(ds, "dup", nil)
		e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ds, "external_id": "dup"}).
			wantError(t, 422, `{"errors":{"external_id":"The external ID for this customer already exists in our system."}}`)
		e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ds, "name": "No id"}).
			wantError(t, 422, `{"errors":{"external_id":"external_id is required"}}`)
		e.call("POST", "/v1/customers", map[string]any{"external_id": "x"}).
			wantError(t, 400, `{"code":400,"message":"Parameter \"data_source_uuid\" is missing","param":"data_source_uuid"}`)
		// A contact field of the wrong type is left out, not fatal: the
		// customer is kept (the import rule).
		if got := e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ds, "external_id": "typed", "name": 5}).want(t, 201).obj(t); got["name"] != "" {
			t.Fatalf("a name of the wrong type was stored: %v", got["name"])
		}
		e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ds, "external_id": 5}).wantField(t, "external_id", "must be a string")
		e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": 5, "external_id": "x"}).wantParam(t, "data_source_uuid")
		e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ds, "external_id": "x", "status": "Active"}).wantField(t, "status", "must be one of")
		e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ds, "external_id": "x", "lead_created_at": 5}).want(t, 201)
		e.call("POST", "/v1/customers", `{"data_source_uuid": "`+ds+`", `).want(t, 400)
		e.call("POST", "/v1/customers", `[1]`).want(t, 400)
		ods := e.callAs(e.other, "POST", "/v1/data_sources", map[string]any{"name": "Theirs"}).want(t, 201).str(t, "uuid")
		e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ods, "external_id": "y"}).wantError(t, 404, `{"error":"Data source not found"}`)
		e.callAs("", "POST", "/v1/customers", map[string]any{"data_source_uuid": ds, "external_id": "z"}).want(t, 401)
	})
}

func TestCustomerUpdate(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds, ds2 := e.createDS("Billing"), e.createDS("Other")
		c := e.createCustomer(ds, "TestImportCustomers_02", map[string]any{"email": "abc@123.com", "city": "Berlin", "country": "DE",
			"attributes": map[string]any{"tags": []string{"a"}, "custom": []any{map[string]any{"type": "Boolean", "key": "Toggle", "value": false}}}})
		uuid := c["uuid"].(string)
		r := e.call("PATCH", "/v1/customers/"+uuid, map[string]any{"name": "Chocolate customer 2"})
		cpCompareShape(t, r, "go/customers.yaml", "PATCH", "/v1/customers/", "website_url")
		got := r.obj(t)
		if got["name"] != "Chocolate customer 2" || got["email"] != "abc@123.com" || got["city"] != "Berlin" || got["country"] != "DE" {
			t.Fatalf("PATCH name changed other fields: %s", r.raw)
		}

		// The Ruby client's update: identity members are sent and ignored,
		// custom attributes come as a map, a state that is not one of the
		// country's is dropped.
		r = e.call("PATCH", "/v1/customers/"+uuid, map[string]any{
			"attributes":  map[string]any{"tags": []string{"wurst"}, "custom": map[string]any{"Toggle": true, "Extra": 1}},
			"external_id": "something-else", "data_source_uuid": ds2, "name": "Currywurst", "email": "curry@wurst.com",
			"company": "Curry 36", "country": "US", "state": "Narnia", "city": "Berlin", "lead_created_at": "2016-01-01 14:30:00 UTC",
			"status": "Working Lead", "owner": "sales@example.com",
		}).want(t, 200)
		got = r.obj(t)
		attrs := got["attributes"].(map[string]any)
		if got["external_id"] != "TestImportCustomers_02" || got["data_source_uuid"] != ds || got["name"] != "Currywurst" ||
			got["state"] != nil || got["lead_created_at"] != "2016-01-01T14:30:00.000Z" || got["status"] != "Working Lead" ||
			got["owner"] != "sales@example.com" || !cpEqual(attrs["tags"], []any{"wurst"}) ||
			!cpEqual(attrs["custom"], map[string]any{"Toggle": true, "Extra": float64(1)}) {
			t.Fatalf("PATCH answered %s", r.raw)
		}
		if again := e.call("GET", "/v1/customers/"+uuid, nil).want(t, 200); !cpEqual(again.body, r.body) {
			t.Fatalf("GET after PATCH %s differs from the PATCH answer %s", again.raw, r.raw)
		}
		// An empty body changes nothing.
		if same := e.call("PATCH", "/v1/customers/"+uuid, nil).want(t, 200); !cpEqual(same.body, r.body) {
			t.Fatalf("empty PATCH changed the customer: %s", same.raw)
		}

		if same := e.call("PATCH", "/v1/customers/"+uuid, map[string]any{"name": 5}).want(t, 200); !cpEqual(same.body, r.body) {
			t.Fatalf("a name of the wrong type changed the customer: %s", same.raw)
		}
		e.call("PATCH", "/v1/customers/"+uuid, map[string]any{"status": "Active"}).wantField(t, "status", "must be one of")
		e.call("PATCH", "/v1/customers/"+uuid, map[string]any{"attributes": map[string]any{"tags": "x"}}).wantField(t, "attributes", "tags")
		// Over-long contact details are dropped with a warning, like ill-typed
		// ones: the customer stays as it was.
		if same := e.call("PATCH", "/v1/customers/"+uuid, map[string]any{"name": strings.Repeat("n", 5000)}).want(t, 200); !cpEqual(same.body, r.body) {
			t.Fatalf("an over-long name changed the customer: %s", same.raw)
		}
		e.call("PATCH", "/v1/customers/"+uuid, `{"name": `).want(t, 400)
		e.call("PATCH", "/v1/customers/cus_00000000-0000-0000-0000-000000000000", map[string]any{"name": "x"}).wantError(t, 404, `{"error":"Customer not found"}`)
		e.callAs(e.other, "PATCH", "/v1/customers/"+uuid, map[string]any{"name": "x"}).wantError(t, 404, `{"error":"Customer not found"}`)
		e.callAs("", "PATCH", "/v1/customers/"+uuid, map[string]any{"name": "x"}).want(t, 401)
		if after := e.call("GET", "/v1/customers/"+uuid, nil).want(t, 200); !cpEqual(after.body, r.body) {
			t.Fatalf("refused PATCHes changed the customer: %s", after.raw)
		}
	})
}

func TestCustomerDelete(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		c := e.createCustomer(ds, "cus_1", nil)
		keep := e.createCustomer(ds, "cus_2", nil)
		e.importRecords(ds, cpInvoicePayload("cus_1", "1"))
		uuid := c["uuid"].(string)
		e.callAs(e.other, "DELETE", "/v1/customers/"+uuid, nil).wantError(t, 404, `{"error":"Customer not found"}`)
		e.callAs("", "DELETE", "/v1/customers/"+uuid, nil).want(t, 401)
		r := e.call("DELETE", "/v1/customers/"+uuid, nil).want(t, 204)
		if r.raw != "" {
			t.Fatalf("204 with a body: %s", r.raw)
		}
		e.call("GET", "/v1/customers/"+uuid, nil).wantError(t, 404, `{"error":"Customer not found"}`)
		e.call("DELETE", "/v1/customers/"+uuid, nil).wantError(t, 404, `{"error":"Customer not found"}`)
		e.call("GET", "/v1/customers/"+keep["uuid"].(string), nil).want(t, 200)
		// The external id is free again, and so are the invoice's, line
		// item's, transaction's and event's: importing them again creates
		// new rows instead of matching the deleted ones.
		e.createCustomer(ds, "cus_1", nil)
		ch := e.importRecords(ds, cpInvoicePayload("cus_1", "1"))
		if len(ch.NewInvoices) != 1 || len(ch.NewLineItems) != 1 || len(ch.NewTransactions) != 1 || len(ch.NewEvents) != 1 {
			t.Fatalf("re-import after delete: %d invoices, %d line items, %d transactions, %d events are new; want 1 each",
				len(ch.NewInvoices), len(ch.NewLineItems), len(ch.NewTransactions), len(ch.NewEvents))
		}
	})
}

// cpInvoicePayload is a bulk payload with a plan, one invoice (a line item
// and a transaction) and one subscription event of a customer; n makes the
// external ids distinct.
func cpInvoicePayload(customer, n string) string {
	return `{"plans":[{"external_id":"plan_` + n + `","name":"Gold","interval_count":1,"interval_unit":"month"}],
	"invoices":[{"external_id":"inv_` + n + `","customer_external_id":"` + customer + `","date":"2024-01-01","currency":"USD"}],
	"line_items":[{"invoice_external_id":"inv_` + n + `","external_id":"li_` + n + `","type":"subscription","subscription_external_id":"sub_` + n + `",
		"plan_external_id":"plan_` + n + `","service_period_start":"2024-01-01","service_period_end":"2024-02-01","amount_in_cents":1000}],
	"transactions":[{"invoice_external_id":"inv_` + n + `","external_id":"tr_` + n + `","type":"payment","result":"successful","date":"2024-01-02"}],
	"subscription_events":[{"external_id":"ev_` + n + `","customer_external_id":"` + customer + `","event_type":"subscription_start_scheduled",
		"event_date":"2024-01-01","effective_date":"2024-03-01","subscription_external_id":"sub_x` + n + `","plan_external_id":"plan_` + n + `",
		"currency":"USD","amount_in_cents":1000,"quantity":1}]}`
}

func TestCustomerAttributes(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds := e.createDS("Billing")
		c := e.createCustomer(ds, "cus_1", map[string]any{"attributes": map[string]any{"tags": []string{"managed", "important"},
			"custom": []any{map[string]any{"type": "Integer", "key": "CAC", "value": 213}, map[string]any{"type": "String", "key": "utmCampaign", "value": "social media 1"}}}})
		base := "/v1/customers/" + c["uuid"].(string) + "/attributes"

		r := e.call("GET", base, nil).want(t, 200)
		want, _ := cpCassette(t, "ruby/ChartMogul_Customer/API_Actions/retrieves_the_customer_attributes_correctly.yml", "GET", "/attributes")
		// Recur also sends the documented wrapped form and clearbit.
		cpShape(t, r.body, want, "attributes", "clearbit")
		m := r.obj(t)
		if !cpEqual(m["tags"], []any{"managed", "important"}) || !cpEqual(m["custom"], map[string]any{"CAC": float64(213), "utmCampaign": "social media 1"}) ||
			!cpEqual(m["attributes"].(map[string]any)["tags"], m["tags"]) {
			t.Fatalf("attributes: %s", r.raw)
		}

		r = e.call("POST", base+"/tags", map[string]any{"tags": []string{"test-tag", "managed"}})
		cpCompareShape(t, r, "ruby/ChartMogul_Customer/API_Actions/adds_tags_correctly.yml", "POST", "/attributes/tags")
		if !cpEqual(r.obj(t)["tags"], []any{"managed", "important", "test-tag"}) {
			t.Fatalf("add tags: %s", r.raw)
		}
		r = e.call("DELETE", base+"/tags", map[string]any{"tags": []string{"test-tag", "unknown"}})
		cpCompareShape(t, r, "ruby/ChartMogul_Customer/API_Actions/removes_tags_correctly.yml", "DELETE", "/attributes/tags")
		if !cpEqual(r.obj(t)["tags"], []any{"managed", "important"}) {
			t.Fatalf("remove tags: %s", r.raw)
		}

		r = e.call("POST", base+"/custom", map[string]any{"custom": []any{
			map[string]any{"type": "String", "key": "StringKey", "value": "String Value"},
			map[string]any{"type": "Integer", "key": "integer_key", "value": 1234},
			map[string]any{"type": "Timestamp", "key": "timestamp_key", "value": "2016-01-31 00:00:00 UTC"},
			map[string]any{"type": "Boolean", "key": "boolean_key", "value": true}}})
		cpCompareShape(t, r, "ruby/ChartMogul_Customer/API_Actions/adds_custom_attributes_correctly.yml", "POST", "/attributes/custom")
		custom := r.obj(t)["custom"].(map[string]any)
		if custom["timestamp_key"] != "2016-01-31T00:00:00.000Z" || custom["integer_key"] != float64(1234) || custom["CAC"] != float64(213) {
			t.Fatalf("add custom: %s", r.raw)
		}
		r = e.call("PUT", base+"/custom", map[string]any{"custom": map[string]any{"StringKey": "Another String Value", "integer_key": 5678,
			"timestamp_key": "2016-02-01 00:00:00 UTC", "boolean_key": false}})
		cpCompareShape(t, r, "ruby/ChartMogul_Customer/API_Actions/updates_custom_attributes_correctly.yml", "PUT", "/attributes/custom")
		custom = r.obj(t)["custom"].(map[string]any)
		if custom["timestamp_key"] != "2016-02-01T00:00:00.000Z" || custom["StringKey"] != "Another String Value" || custom["boolean_key"] != false {
			t.Fatalf("update custom: %s", r.raw)
		}
		r = e.call("DELETE", base+"/custom", map[string]any{"custom": []string{"StringKey", "integer_key", "timestamp_key", "boolean_key"}}).want(t, 200)
		if !cpEqual(r.obj(t)["custom"], map[string]any{"CAC": float64(213), "utmCampaign": "social media 1"}) {
			t.Fatalf("remove custom: %s", r.raw)
		}
		// The customer shows the same attributes.
		cus := e.call("GET", "/v1/customers/"+c["uuid"].(string), nil).want(t, 200).obj(t)
		if !cpEqual(cus["attributes"].(map[string]any)["custom"], r.obj(t)["custom"]) {
			t.Fatalf("customer's attributes differ: %v", cus["attributes"])
		}

		// Refusals.
		e.call("POST", base+"/tags", map[string]any{}).wantError(t, 400, `{"code":400,"message":"Parameter \"tags\" is missing","param":"tags"}`)
		e.call("POST", base+"/tags", map[string]any{"tags": "x"}).wantParam(t, "tags")
		e.call("POST", base+"/tags", map[string]any{"tags": []any{""}}).wantField(t, "tags", "non-empty")
		e.call("POST", base+"/custom", map[string]any{}).wantParam(t, "custom")
		e.call("POST", base+"/custom", map[string]any{"custom": []any{map[string]any{"type": "Integer", "key": "n", "value": "x"}}}).wantField(t, "attributes.custom.0.value", "must be a integer")
		e.call("POST", base+"/custom", map[string]any{"custom": []any{map[string]any{"type": "Money", "key": "n", "value": 1}}}).wantField(t, "attributes.custom.0.type", "must be one of")
		e.call("PUT", base+"/custom", map[string]any{"custom": 5}).wantParam(t, "custom")
		e.call("DELETE", base+"/custom", map[string]any{"custom": "StringKey"}).wantParam(t, "custom")
		for _, p := range []string{"", "/tags", "/custom"} {
			method := "GET"
			if p != "" {
				method = "POST"
			}
			e.call(method, "/v1/customers/cus_00000000-0000-0000-0000-000000000000/attributes"+p, map[string]any{"tags": []string{"x"}, "custom": map[string]any{"k": 1}}).
				wantError(t, 404, `{"error":"Customer not found"}`)
			e.callAs(e.other, method, base+p, map[string]any{"tags": []string{"x"}, "custom": map[string]any{"k": 1}}).wantError(t, 404, `{"error":"Customer not found"}`)
			e.callAs("", method, base+p, nil).want(t, 401)
		}
	})
}

func TestCustomerMerges(t *testing.T) {
	cpEngines(t, func(t *testing.T, e *cpEnv) {
		ds1, ds2 := e.createDS("One"), e.createDS("Two")
		from := e.createCustomer(ds1, "ext_customer_1", map[string]any{"attributes": map[string]any{"tags": []string{"vip"}}})
		into := e.createCustomer(ds1, "ext_customer_2", nil)
		e.importRecords(ds1, cpInvoicePayload("ext_customer_1", "1"))

		// Within one data source: the records move, the merged customer is
		// gone and its external id names the survivor.
		r := e.call("POST", "/v1/customers/merges", map[string]any{"from": map[string]any{"customer_uuid": from["uuid"]}, "into": map[string]any{"customer_uuid": into["uuid"]}})
		cpCompareShape(t, r, "go/create_invoice.yaml", "POST", "/v1/customers/merges")
		e.call("GET", "/v1/customers/"+from["uuid"].(string), nil).want(t, 404)
		got := e.call("GET", "/v1/customers/"+into["uuid"].(string), nil).want(t, 200).obj(t)
		if !cpEqual(got["external_ids"], []any{"ext_customer_2", "ext_customer_1"}) || !cpEqual(got["data_source_uuids"], []any{ds1, ds1}) ||
			!cpEqual(got["attributes"].(map[string]any)["tags"], []any{"vip", "merged-customer"}) {
			t.Fatalf("survivor after merge: %v", got)
		}
		byExt := e.call("GET", "/v1/customers?external_id=ext_customer_1", nil).want(t, 200).obj(t)["entries"].([]any)
		if len(byExt) != 1 || byExt[0].(map[string]any)["uuid"] != into["uuid"] {
			t.Fatalf("the merged external id lists %v, want the survivor", byExt)
		}
		// Importing the merged customer's records again matches them, now
		// the survivor's, instead of creating new ones.
		ch := e.importRecords(ds1, cpInvoicePayload("ext_customer_1", "1"))
		if len(ch.NewInvoices)+len(ch.NewLineItems)+len(ch.NewTransactions)+len(ch.NewEvents)+len(ch.NewCustomers) != 0 {
			t.Fatalf("re-import after merge created rows: %+v", ch)
		}
		e.call("POST", "/v1/customers", map[string]any{"data_source_uuid": ds1, "external_id": "ext_customer_1"}).
			wantField(t, "external_id", "already exists")

		// Across data sources: a link; the survivor lists both identities.
		other := e.createCustomer(ds2, "ext_other", nil)
		e.call("POST", "/v1/customers/merges", map[string]any{"from": map[string]any{"data_source_uuid": ds2, "external_id": "ext_other"},
			"into": map[string]any{"data_source_uuid": ds1, "external_id": "ext_customer_2"}}).want(t, 202)
		got = e.call("GET", "/v1/customers/"+into["uuid"].(string), nil).want(t, 200).obj(t)
		if !cpEqual(got["external_ids"], []any{"ext_customer_2", "ext_customer_1", "ext_other"}) || !cpEqual(got["data_source_uuids"], []any{ds1, ds1, ds2}) {
			t.Fatalf("survivor after a merge across data sources: %v", got)
		}
		e.call("GET", "/v1/customers/"+other["uuid"].(string), nil).want(t, 404)
		list := e.call("GET", "/v1/customers?data_source_uuid="+ds2, nil).want(t, 200).obj(t)["entries"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["uuid"] != into["uuid"] {
			t.Fatalf("data source two lists %v, want the survivor", list)
		}

		// Unmerge: the linked customer stands alone again.
		r = e.call("POST", "/v1/customers/unmerges", map[string]any{"customer_uuid": into["uuid"], "data_source_uuid": ds2, "external_id": "ext_other", "move_to_new_customer": []string{}})
		cpCompareShape(t, r, "ruby/ChartMogul_Customer/API_Actions/unmerges_correctly_with_the_class_method.yml", "POST", "/unmerges")
		e.call("GET", "/v1/customers/"+other["uuid"].(string), nil).want(t, 200)
		e.call("POST", "/v1/customers/unmerges", map[string]any{"customer_uuid": into["uuid"], "data_source_uuid": ds1, "external_id": "ext_customer_1"}).
			wantField(t, "external_id", "cannot be unmerged")
		e.call("POST", "/v1/customers/unmerges", map[string]any{"customer_uuid": into["uuid"], "data_source_uuid": ds1, "external_id": "ext_customer_2"}).
			wantField(t, "external_id", "own")
		e.call("POST", "/v1/customers/unmerges", map[string]any{"customer_uuid": into["uuid"], "data_source_uuid": ds2, "external_id": "ext_other"}).
			wantField(t, "external_id", "was merged into")
		e.call("POST", "/v1/customers/unmerges", map[string]any{"customer_uuid": into["uuid"], "data_source_uuid": ds2}).
			wantError(t, 400, `{"code":400,"message":"Parameter \"external_id\" is missing","param":"external_id"}`)

		// Refusals.
		self := map[string]any{"customer_uuid": into["uuid"]}
		e.call("POST", "/v1/customers/merges", map[string]any{"from": self, "into": self}).wantField(t, "from", "same customer")
		e.call("POST", "/v1/customers/merges", map[string]any{"into": self}).wantError(t, 400, `{"code":400,"message":"Parameter \"from\" is missing","param":"from"}`)
		e.call("POST", "/v1/customers/merges", map[string]any{"from": map[string]any{"external_id": "x"}, "into": self}).wantParam(t, "from")
		e.call("POST", "/v1/customers/merges", map[string]any{"from": "cus_x", "into": self}).wantParam(t, "from")
		unknown := map[string]any{"customer_uuid": "cus_00000000-0000-0000-0000-000000000000"}
		e.call("POST", "/v1/customers/merges", map[string]any{"from": unknown, "into": self}).wantError(t, 404, `{"error":"Customer not found"}`)
		e.call("POST", "/v1/customers/merges", map[string]any{"from": map[string]any{"data_source_uuid": "ds_nope", "external_id": "x"}, "into": self}).
			wantError(t, 404, `{"error":"Data source not found"}`)
		e.callAs(e.other, "POST", "/v1/customers/merges", map[string]any{"from": map[string]any{"customer_uuid": other["uuid"]}, "into": self}).
			wantError(t, 404, `{"error":"Customer not found"}`)
		e.callAs("", "POST", "/v1/customers/merges", map[string]any{"from": self, "into": self}).want(t, 401)
	})
}
