package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/analytics"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/gen"
	"github.com/recurhq/recur/sandbox/importer"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// The analytics tests run the whole path a user runs: bulk imports over
// HTTP, the import and recompute workers, then the Metrics API, on a fresh
// SQLite file and, when RECUR_TEST_POSTGRES_URL names a server, a fresh
// PostgreSQL schema. Helpers carry an mx prefix so they cannot collide with
// the other test files of the package.

// mxEnv is one running Recur: a store with the analytics hook wired as
// `recur serve` wires it, workers, and the HTTP API.
type mxEnv struct {
	t      testing.TB
	engine string
	st     *store.Store
	srv    *httptest.Server
	http   *http.Client
}

func mxEngines(t *testing.T, fn func(t *testing.T, e *mxEnv)) {
	t.Helper()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			fn(t, mxStart(t, db))
		})
	}
}

func mxStart(t testing.TB, db storetest.Database) *mxEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db.URL, store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", db.Engine, err)
	}
	st.AfterWrite = st.Touch
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	im := importer.New(st, log)
	q, err := st.StartWorkers(ctx, im.Workers(), store.QueueConfig{ImportWorkers: 2, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(st, log).Handler())
	t.Cleanup(func() {
		srv.Close()
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(stop)
		st.Close()
	})
	return &mxEnv{t: t, engine: db.Engine, st: st, srv: srv, http: &http.Client{Timeout: time.Minute}}
}

// mxClient is one account with a key and a data source.
type mxClient struct {
	e       *mxEnv
	t       testing.TB
	key     string
	account *chartmogul.Account
	ds      string
}

func (e *mxEnv) client(t testing.TB, name string) *mxClient {
	t.Helper()
	ctx := context.Background()
	a, err := e.st.EnsureAccount(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	key := "mx-key-" + name + "-0123456789abcdef"
	if _, err := e.st.InstallKey(ctx, a.ID, key, chartmogul.AccessReadWrite); err != nil {
		t.Fatal(err)
	}
	c := &mxClient{e: e, t: t, key: key, account: a}
	c.ds = c.do("POST", "/v1/data_sources", `{"name":"Billing"}`).want(http.StatusCreated).str("uuid")
	return c
}

type mxResp struct {
	t      testing.TB
	req    string
	status int
	body   []byte
}

func (c *mxClient) do(method, path, body string) mxResp {
	c.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.key, "")
	req.Header.Set("Content-Type", "application/json")
	res, err := c.e.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	oaCheck(c.t, req, res, b) // openapi_test.go
	return mxResp{t: c.t, req: method + " " + path, status: res.StatusCode, body: b}
}

func (c *mxClient) get(path string) mxResp { c.t.Helper(); return c.do("GET", path, "") }

func (r mxResp) want(status int) mxResp {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("%s: status %d, want %d: %s", r.req, r.status, status, r.body[:min(len(r.body), 2000)])
	}
	return r
}

func (r mxResp) obj() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		r.t.Fatalf("%s: not a JSON object: %v: %s", r.req, err, r.body)
	}
	return m
}

func (r mxResp) str(key string) string {
	r.t.Helper()
	s, ok := r.obj()[key].(string)
	if !ok {
		r.t.Fatalf("%s: %s is not a string: %s", r.req, key, r.body)
	}
	return s
}

// entries returns the answer's entries.
func (r mxResp) entries() []map[string]any {
	r.t.Helper()
	var v struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal(r.body, &v, json.RejectUnknownMembers(false)); err != nil {
		r.t.Fatalf("%s: %v: %s", r.req, err, r.body)
	}
	return v.Entries
}

// keys returns the member names of a JSON object in order.
func mxKeys(t testing.TB, raw []byte) []string {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.String())
		if err := dec.SkipValue(); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// wantParam checks a 400 naming a parameter.
func (r mxResp) wantParam(param string) {
	r.t.Helper()
	r.want(http.StatusBadRequest)
	if got, _ := r.obj()["param"].(string); got != param {
		r.t.Errorf("%s: param %q, want %q: %s", r.req, got, param, r.body)
	}
	if msg, _ := r.obj()["message"].(string); !strings.Contains(msg, param) {
		r.t.Errorf("%s: message %q does not name %s", r.req, msg, param)
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// mxPayload builds a bulk import.
type mxPayload struct {
	ExternalID         string           `json:"external_id,omitempty"`
	Customers          []map[string]any `json:"customers"`
	Plans              []map[string]any `json:"plans"`
	Invoices           []map[string]any `json:"invoices"`
	LineItems          []map[string]any `json:"line_items"`
	Transactions       []map[string]any `json:"transactions"`
	SubscriptionEvents []map[string]any `json:"subscription_events"`
	n                  int
}

func mxTime(s string) string {
	if len(s) == len("2006-01-02") {
		return s + " 00:00:00"
	}
	return s + ":00"
}

func (p *mxPayload) customer(ext, country string) {
	p.Customers = append(p.Customers, map[string]any{"external_id": ext, "name": "Customer " + ext, "country": country})
}

func (p *mxPayload) plan(ext string, count int, unit string) {
	p.Plans = append(p.Plans, map[string]any{"external_id": ext, "name": "Plan " + ext, "interval_count": count, "interval_unit": unit})
}

// item adds an invoice on start with one subscription line item and
// returns the line item for adjustments.
func (p *mxPayload) item(cust, sub, plan, start, end string, amount int64) map[string]any {
	p.n++
	inv := fmt.Sprintf("inv_%s_%d", cust, p.n)
	p.Invoices = append(p.Invoices, map[string]any{"external_id": inv, "customer_external_id": cust, "date": mxTime(start), "currency": "USD"})
	li := map[string]any{"type": "subscription", "invoice_external_id": inv, "external_id": "li_" + inv, "subscription_external_id": sub,
		"plan_external_id": plan, "service_period_start": mxTime(start), "service_period_end": mxTime(end), "amount_in_cents": amount, "quantity": 1}
	p.LineItems = append(p.LineItems, li)
	return li
}

// currency sets the currency of the invoice of the last item.
func (p *mxPayload) currency(c string) { p.Invoices[len(p.Invoices)-1]["currency"] = c }

// renewals adds n consecutive periods of months months from start.
func (p *mxPayload) renewals(cust, sub, plan, start string, months, n int, amount int64) {
	layout := "2006-01-02"
	if len(start) > 10 {
		layout = "2006-01-02 15:04"
	}
	t, err := time.Parse(layout, start)
	if err != nil {
		panic(err)
	}
	for k := 0; k < n; k++ {
		s, e := t.AddDate(0, k*months, 0), t.AddDate(0, (k+1)*months, 0)
		p.item(cust, sub, plan, s.Format("2006-01-02 15:04"), e.Format("2006-01-02 15:04"), amount)
	}
}

// cancel adds a subscription_cancelled event effective at.
func (p *mxPayload) cancel(cust, sub, at string) {
	p.n++
	p.SubscriptionEvents = append(p.SubscriptionEvents, map[string]any{"external_id": fmt.Sprintf("ev_%s_%d", sub, p.n), "customer_external_id": cust,
		"subscription_external_id": sub, "event_type": "subscription_cancelled", "event_date": mxTime(at), "effective_date": mxTime(at)})
}

func (p *mxPayload) json(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// importPayload sends a bulk import, waits for it to complete with no
// failed record, then for the analytics of what it wrote.
func (c *mxClient) importPayload(body string) {
	c.t.Helper()
	id := c.do("POST", "/v1/data_sources/"+c.ds+"/json_imports", body).want(http.StatusCreated).str("id")
	deadline := time.Now().Add(time.Minute)
	for {
		r := c.get("/v1/data_sources/" + c.ds + "/json_imports/" + id).want(http.StatusOK)
		switch r.str("status") {
		case "completed":
			if failed, _ := r.obj()["failed_records"].([]any); len(failed) > 0 {
				c.t.Fatalf("import %s completed with failed records: %v", id, failed)
			}
			c.e.settle(c.t)
			return
		case "failed":
			c.t.Fatalf("import %s failed: %s", id, r.body)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("import %s did not complete in a minute", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until every queued analytics recompute has run.
func (e *mxEnv) settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := e.st.AnalyticsPending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d analytics recomputes still pending after a minute", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// customerUUID finds a customer by external id.
func (c *mxClient) customerUUID(ext string) string {
	c.t.Helper()
	es := c.get("/v1/customers?external_id=" + url.QueryEscape(ext)).want(http.StatusOK).entries()
	if len(es) != 1 {
		c.t.Fatalf("%d customers with external id %s", len(es), ext)
	}
	return es[0]["uuid"].(string)
}

// month is one month-end row of the worked examples.
type mxMonth struct {
	Date                                              string
	MRR, NewBiz, Expansion, Contraction, Churn, React int64
}

func (c *mxClient) mrrMonths(from, to string) ([]mxMonth, []map[string]any) {
	c.t.Helper()
	es := c.get("/v1/metrics/mrr?interval=month&start-date=" + from + "&end-date=" + to).want(http.StatusOK).entries()
	var out []mxMonth
	for _, e := range es {
		out = append(out, mxMonth{e["date"].(string), num(e["mrr"]), num(e["mrr-new-business"]), num(e["mrr-expansion"]),
			num(e["mrr-contraction"]), num(e["mrr-churn"]), num(e["mrr-reactivation"])})
	}
	return out, es
}

// checkIdentity asserts the MRR identity on every entry of a
// /v1/metrics/mrr answer that starts before any MRR: each entry's MRR is the
// previous one plus its movements, FX impact and segment flows.
func mxCheckIdentity(t testing.TB, entries []map[string]any) {
	t.Helper()
	var prev int64
	for _, e := range entries {
		sum := prev
		for _, k := range []string{"mrr-new-business", "mrr-expansion", "mrr-contraction", "mrr-churn", "mrr-reactivation",
			"mrr-fx-impact", "mrr-entering-segment", "mrr-leaving-segment"} {
			sum += num(e[k])
		}
		if got := num(e["mrr"]); got != sum {
			t.Errorf("%s: MRR %d, but previous %d plus movements gives %d (%v)", e["date"], got, prev, sum, e)
		}
		prev = num(e["mrr"])
	}
}

// example1 is metrics.md §10 Example 1.
func example1() *mxPayload {
	p := &mxPayload{}
	for _, c := range []string{"C1", "C2", "C3", "C4"} {
		p.customer(c, "US")
	}
	p.plan("P_Y", 1, "year")
	p.plan("P_Q", 3, "month")
	p.plan("P_W", 7, "day")
	p.plan("P_D", 1, "day")
	li := p.item("C1", "S1", "P_Y", "2024-01-01", "2025-01-01", 132000)
	li["tax_amount_in_cents"], li["discount_amount_in_cents"] = 12000, 24000
	p.LineItems = append(p.LineItems, map[string]any{"type": "one_time", "invoice_external_id": li["invoice_external_id"], "amount_in_cents": 50000, "description": "setup"})
	start := time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	for k := 0; k < 8; k++ {
		p.item("C2", "S2", "P_W", start.AddDate(0, 0, 7*k).Format("2006-01-02"), start.AddDate(0, 0, 7*k+7).Format("2006-01-02"), 1000)
	}
	p.item("C3", "S3", "P_Q", "2024-02-01", "2024-05-01", 30000)
	start = time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC)
	for k := 0; k < 20; k++ {
		p.item("C4", "S4", "P_D", start.AddDate(0, 0, k).Format("2006-01-02"), start.AddDate(0, 0, k+1).Format("2006-01-02"), 100)
	}
	return p
}

// example3 is metrics.md §10 Example 3: customers A, B, C.
func example3() *mxPayload {
	p := &mxPayload{}
	p.customer("A", "DE")
	p.customer("B", "US")
	p.customer("C", "US")
	p.plan("gold", 1, "month")
	p.plan("silver", 1, "month")
	p.plan("monthly", 1, "month")
	p.renewals("B", "S_B1", "monthly", "2023-12-01", 1, 2, 10000)
	p.renewals("B", "S_B1", "monthly", "2024-02-01", 1, 5, 15000)
	p.renewals("A", "S_A1", "gold", "2024-01-10 10:00", 1, 3, 5000)
	p.renewals("A", "S_A2", "silver", "2024-01-10 10:30", 1, 3, 3000)
	p.renewals("A", "S_A3", "gold", "2024-06-01", 1, 1, 5000)
	p.renewals("C", "S_C1", "monthly", "2024-03-05", 1, 1, 2000)
	p.cancel("A", "S_A2", "2024-03-20")
	p.cancel("C", "S_C1", "2024-03-25")
	p.cancel("A", "S_A1", "2024-04-05")
	return p
}

// TestMetricsWorkedExamples runs the five worked examples of metrics.md
// §10 end to end: bulk import, recompute, then the Metrics API, to the cent.
func TestMetricsWorkedExamples(t *testing.T) {
	mxEngines(t, func(t *testing.T, e *mxEnv) {
		t.Run("Example1Normalisation", func(t *testing.T) {
			c := e.client(t, "example1")
			c.importPayload(example1().json(t))
			all := c.get("/v1/metrics/all?interval=month&start-date=2024-01-01&end-date=2024-02-29").want(http.StatusOK).entries()
			type row struct{ MRR, ARR, Customers, ARPA, ASP int64 }
			want := []row{{14348, 172176, 2, 7174, 7174}, {27392, 328704, 4, 6848, 6522}}
			for i, w := range want {
				got := row{num(all[i]["mrr"]), num(all[i]["arr"]), num(all[i]["customers"]), num(all[i]["arpa"]), num(all[i]["asp"])}
				if got != w {
					t.Errorf("%s: got %+v, want %+v", all[i]["date"], got, w)
				}
			}
			months, entries := c.mrrMonths("2024-01-01", "2024-02-29")
			if months[0].NewBiz != 14348 || months[1].NewBiz != 13044 {
				t.Errorf("new business %d, %d; want 14348, 13044", months[0].NewBiz, months[1].NewBiz)
			}
			mxCheckIdentity(t, entries)
			for ext, mrr := range map[string]int64{"C1": 10000, "C2": 4348, "C3": 10000, "C4": 3044} {
				cus := c.get("/v1/customers/" + c.customerUUID(ext)).want(http.StatusOK).obj()
				if num(cus["mrr"]) != mrr || num(cus["arr"]) != 12*mrr {
					t.Errorf("customer %s: mrr %v arr %v, want %d", ext, cus["mrr"], cus["arr"], mrr)
				}
			}
		})

		t.Run("Example2Proration", func(t *testing.T) {
			c := e.client(t, "example2")
			p := &mxPayload{}
			p.customer("C1", "US")
			p.plan("P_M", 1, "month")
			p.renewals("C1", "S1", "P_M", "2024-01-01", 1, 3, 5000)
			seat := p.item("C1", "S1", "P_M", "2024-03-16", "2024-04-01", 2500)
			seat["prorated"], seat["proration_type"] = true, "differential"
			p.item("C1", "S1", "P_M", "2024-04-01", "2024-05-01", 10000)["quantity"] = 2
			c.importPayload(p.json(t))
			months, entries := c.mrrMonths("2024-01-01", "2024-04-30")
			want := []mxMonth{{"2024-01-31", 5000, 5000, 0, 0, 0, 0}, {"2024-02-29", 5000, 0, 0, 0, 0, 0},
				{"2024-03-31", 9844, 0, 4844, 0, 0, 0}, {"2024-04-30", 10000, 0, 156, 0, 0, 0}}
			if !reflect.DeepEqual(months, want) {
				t.Errorf("months\n got %v\nwant %v", months, want)
			}
			mxCheckIdentity(t, entries)
			subs := c.get("/v1/customers/" + c.customerUUID("C1") + "/subscriptions").want(http.StatusOK).entries()
			if len(subs) != 1 || num(subs[0]["quantity"]) != 2 || num(subs[0]["mrr"]) != 10000 || subs[0]["plan"] != "Plan P_M" ||
				subs[0]["billing-cycle"] != "month" || num(subs[0]["billing-cycle-count"]) != 1 || subs[0]["start-date"] != "2024-01-01T00:00:00+00:00" {
				t.Errorf("subscriptions %v", subs)
			}
		})

		t.Run("Example3Lifecycle", func(t *testing.T) {
			c := e.client(t, "example3")
			c.importPayload(example3().json(t))
			months, entries := c.mrrMonths("2024-01-01", "2024-06-30")
			want := []mxMonth{
				{"2024-01-31", 18000, 8000, 0, 0, 0, 0}, {"2024-02-29", 23000, 0, 5000, 0, 0, 0}, {"2024-03-31", 20000, 2000, 0, -3000, -2000, 0},
				{"2024-04-30", 15000, 0, 0, 0, -5000, 0}, {"2024-05-31", 15000, 0, 0, 0, 0, 0}, {"2024-06-30", 20000, 0, 0, 0, 0, 5000},
			}
			if !reflect.DeepEqual(months, want) {
				t.Errorf("months\n got %v\nwant %v", months, want)
			}
			all := c.get("/v1/metrics/all?interval=month&start-date=2024-01-01&end-date=2024-06-30").want(http.StatusOK).entries()
			type row struct {
				Customers, ARPA, ASP int64
				CustChurn, NetChurn  float64
			}
			wantAll := []row{{2, 9000, 8000, 0, 0}, {2, 11500, 0, 0, -27.78}, {2, 10000, 2000, 0, 21.74},
				{1, 15000, 0, 50, 25}, {1, 15000, 0, 0, 0}, {2, 10000, 0, 0, -33.33}}
			for i, w := range wantAll {
				a := all[i]
				got := row{num(a["customers"]), num(a["arpa"]), num(a["asp"]), a["customer-churn-rate"].(float64), a["mrr-churn-rate"].(float64)}
				if got != w {
					t.Errorf("%s: got %+v, want %+v", a["date"], got, w)
				}
			}
			if ltv := num(all[3]["ltv"]); ltv != 30000 {
				t.Errorf("April LTV %d, want 30000", ltv)
			}
			if num(entries[0]["percentage-change"]) != 0 || entries[1]["percentage-change"].(float64) != 27.78 {
				t.Errorf("percentage changes %v, %v; want 0, 27.78", entries[0]["percentage-change"], entries[1]["percentage-change"])
			}
			_, entries = c.mrrMonths("2023-11-01", "2024-06-30") // from before B's first MRR
			mxCheckIdentity(t, entries)
			// The rate endpoints say the same as /all.
			cr := c.get("/v1/metrics/customer-churn-rate?start-date=2024-04-01&end-date=2024-04-30").want(http.StatusOK).entries()
			if len(cr) != 1 || cr[0]["customer-churn-rate"].(float64) != 50 || cr[0]["date"] != "2024-04-30" {
				t.Errorf("customer churn rate %v", cr)
			}
			// Customer A: its movements, status and subscriptions.
			a := c.customerUUID("A")
			acts := c.get("/v1/customers/" + a + "/activities").want(http.StatusOK).entries()
			type act struct {
				Date, Type string
				Amount     int64
			}
			var gotActs []act
			for _, x := range acts {
				gotActs = append(gotActs, act{x["date"].(string), x["type"].(string), num(x["activity-mrr-movement"])})
			}
			wantActs := []act{{"2024-01-10T10:00:00+00:00", "new_biz", 5000}, {"2024-01-10T10:30:00+00:00", "new_biz", 3000},
				{"2024-03-20T00:00:00+00:00", "contraction", -3000}, {"2024-04-05T00:00:00+00:00", "churn", -5000},
				{"2024-06-01T00:00:00+00:00", "reactivation", 5000}}
			if !reflect.DeepEqual(gotActs, wantActs) {
				t.Errorf("A's activities\n got %v\nwant %v", gotActs, wantActs)
			}
			if num(acts[1]["activity-mrr"]) != 8000 || num(acts[1]["activity-arr"]) != 96000 {
				t.Errorf("activity-mrr after A's second purchase: %v", acts[1])
			}
			cus := c.get("/v1/customers/" + a).want(http.StatusOK).obj()
			if cus["customer-since"] != "2024-01-10T10:00:00+00:00" || num(cus["mrr"]) != 5000 || cus["status"] == "New Lead" {
				t.Errorf("customer A: status %v since %v mrr %v", cus["status"], cus["customer-since"], cus["mrr"])
			}
			if st := c.get("/v1/customers/" + c.customerUUID("C")).want(http.StatusOK).obj(); st["status"] != "Cancelled" || num(st["mrr"]) != 0 {
				t.Errorf("customer C: status %v mrr %v, want Cancelled 0", st["status"], st["mrr"])
			}
			subs := c.get("/v1/customers/" + a + "/subscriptions").want(http.StatusOK).entries()
			var gotSubs []string
			for _, s := range subs {
				gotSubs = append(gotSubs, fmt.Sprintf("%s %s %d", s["external_id"], s["status"], num(s["mrr"])))
			}
			if want := []string{"S_A1 inactive 5000", "S_A2 inactive 3000", "S_A3 active 5000"}; !reflect.DeepEqual(gotSubs, want) {
				t.Errorf("A's subscriptions %v, want %v", gotSubs, want)
			}
			// Geo: only A is in DE.
			de := c.get("/v1/metrics/mrr?interval=month&start-date=2024-01-01&end-date=2024-01-31&geo=DE").want(http.StatusOK).entries()
			if num(de[0]["mrr"]) != 8000 {
				t.Errorf("DE MRR %v, want 8000", de[0]["mrr"])
			}

			// Churn at the end of the final service period: a setting, and
			// changing it recomputes the account.
			if _, err := e.st.UpdateAnalyticsSettings(context.Background(), c.account.ID, func(s *store.AnalyticsSettings) error {
				s.ChurnRecognition = store.ChurnAtPeriodEnd
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			e.settle(t)
			months, _ = c.mrrMonths("2024-03-01", "2024-04-30")
			if months[0].Contraction != 0 || months[1].Churn != -10000 {
				t.Errorf("churn at period end: March contraction %d (want 0), April churn %d (want -10000)", months[0].Contraction, months[1].Churn)
			}
			inc := c.get("/v1/account?include=churn_recognition,churn_when_zero_mrr").want(http.StatusOK)
			if o := inc.obj(); o["churn_recognition"] != "churn_at_period_end" || o["churn_when_zero_mrr"] != false {
				t.Errorf("account settings: %s", inc.body)
			}
		})

		t.Run("Example4AnnualRefund", func(t *testing.T) {
			c := e.client(t, "example4")
			p := &mxPayload{}
			p.customer("C5", "US")
			p.plan("P_Y", 1, "year")
			p.item("C5", "S5", "P_Y", "2024-01-15", "2025-01-15", 120000)
			inv := p.Invoices[0]["external_id"]
			p.Transactions = append(p.Transactions,
				map[string]any{"invoice_external_id": inv, "external_id": "tr_pay", "type": "payment", "result": "successful", "date": "2024-01-15 00:00:00"},
				map[string]any{"invoice_external_id": inv, "external_id": "tr_refund", "type": "refund", "result": "successful", "date": "2024-06-10 00:00:00"})
			p.cancel("C5", "S5", "2024-06-10")
			c.importPayload(p.json(t))
			months, entries := c.mrrMonths("2024-01-01", "2025-02-28")
			var got []int64
			for _, m := range months {
				got = append(got, m.MRR)
			}
			if want := []int64{10000, 10000, 10000, 10000, 10000, 0, 0, 0, 0, 0, 0, 0, 0, 0}; !reflect.DeepEqual(got, want) {
				t.Errorf("month-end MRR %v, want %v", got, want)
			}
			if months[5].Churn != -10000 {
				t.Errorf("June churn %d, want -10000 (the refund changes nothing)", months[5].Churn)
			}
			mxCheckIdentity(t, entries)
		})

		t.Run("Example5ForeignCurrency", func(t *testing.T) {
			c := e.client(t, "example5")
			// The ECB's convention: 1 EUR bought these many USD.
			var set store.RateSet
			for d, r := range map[string]float64{"2024-01-01": 1.10, "2024-02-01": 1.08, "2024-03-01": 1.09, "2024-04-01": 1.07} {
				day, _ := analytics.ParseDay(d)
				set.Rates = append(set.Rates, store.Rate{Day: day, Base: "EUR", Currency: "USD", Rate: r})
			}
			set.Source, set.Format = "example5", "plain"
			if _, err := e.st.ImportRates(context.Background(), set); err != nil {
				t.Fatal(err)
			}
			e.settle(t)
			p := &mxPayload{}
			p.customer("C6", "NL")
			p.plan("P_M", 1, "month")
			for _, m := range []struct {
				start, end string
				amount     int64
			}{{"2024-01-01", "2024-02-01", 10000}, {"2024-02-01", "2024-03-01", 10000}, {"2024-03-01", "2024-04-01", 10000}, {"2024-04-01", "2024-05-01", 20000}} {
				p.item("C6", "S6", "P_M", m.start, m.end, m.amount)
				p.currency("EUR")
			}
			c.importPayload(p.json(t))
			months, entries := c.mrrMonths("2024-01-01", "2024-04-30")
			type row struct{ MRR, NewBiz, Expansion, FX int64 }
			want := []row{{11000, 11000, 0, 0}, {10800, 0, 0, -200}, {10900, 0, 0, 100}, {21400, 0, 10700, -200}}
			for i, w := range want {
				if got := (row{months[i].MRR, months[i].NewBiz, months[i].Expansion, num(entries[i]["mrr-fx-impact"])}); got != w {
					t.Errorf("%s: got %+v, want %+v", months[i].Date, got, w)
				}
			}
			mxCheckIdentity(t, entries)
		})
	})
}

// TestMetricsMissingRate: amounts in a currency without a rate are named,
// never valued at zero; importing the rate makes the figures whole.
func TestMetricsMissingRate(t *testing.T) {
	mxEngines(t, func(t *testing.T, e *mxEnv) {
		c := e.client(t, "rates")
		p := &mxPayload{}
		p.customer("C1", "FR")
		p.customer("C2", "US")
		p.plan("P_M", 1, "month")
		p.item("C1", "S1", "P_M", "2024-01-06", "2024-02-06", 10000) // a Saturday
		p.currency("EUR")
		p.item("C2", "S2", "P_M", "2024-01-01", "2024-02-01", 5000)
		c.importPayload(p.json(t))
		for _, path := range []string{"/v1/metrics/mrr?start-date=2024-01-01&end-date=2024-01-31&interval=month",
			"/v1/metrics/all?start-date=2024-01-01&end-date=2024-01-31", "/v1/activities",
			"/v1/customers/" + c.customerUUID("C1") + "/subscriptions"} {
			r := c.get(path).want(http.StatusUnprocessableEntity)
			if msg := string(r.body); !strings.Contains(msg, "EUR") || !strings.Contains(msg, "2024-01-06") || !strings.Contains(msg, "USD") {
				t.Errorf("%s: %s does not name EUR, USD and 2024-01-06", path, r.body)
			}
		}
		// The other customer is unaffected on its own.
		c.get("/v1/customers/" + c.customerUUID("C2") + "/subscriptions").want(http.StatusOK)

		// The ECB publishes on business days: Friday's rate serves Saturday.
		fri, _ := analytics.ParseDay("2024-01-05")
		if _, err := e.st.ImportRates(context.Background(), store.RateSet{Source: "t", Format: "ecb",
			Rates: []store.Rate{{Day: fri, Base: "EUR", Currency: "USD", Rate: 1.0956}}}); err != nil {
			t.Fatal(err)
		}
		e.settle(t)
		es := c.get("/v1/metrics/mrr?start-date=2024-01-01&end-date=2024-01-31&interval=month").want(http.StatusOK).entries()
		if got := num(es[0]["mrr"]); got != 5000+10956 {
			t.Errorf("January MRR %d, want %d", got, 5000+10956)
		}
	})
}

// TestMetricsBadInput: every parameter error is a 400 naming it.
func TestMetricsBadInput(t *testing.T) {
	mxEngines(t, func(t *testing.T, e *mxEnv) {
		c := e.client(t, "bad")
		c.importPayload(example3().json(t))
		base := "/v1/metrics/mrr?start-date=2024-01-01&end-date=2024-06-30"
		c.get("/v1/metrics/mrr?start-date=2024-06-01&end-date=2024-01-01").wantParam("end-date")
		c.get(base + "&interval=fortnight").wantParam("interval")
		c.get(base + "&plans=nope").wantParam("plans")
		c.get(base + "&geo=XX").wantParam("geo")
		c.get("/v1/metrics/all?end-date=2024-01-01").wantParam("start-date")
		c.get("/v1/metrics/arpa?start-date=2024-01-01&end-date=soon").wantParam("end-date")
		c.get("/v1/metrics/mrr?start-date=1800-01-01&end-date=2024-01-01&interval=day").wantParam("interval")
		c.get("/v1/activities?type=upgrade").wantParam("type")
		c.get("/v1/activities?order=size").wantParam("order")
		c.get("/v1/activities?per_page=0").wantParam("per_page")
		c.get("/v1/activities?cursor=bogus").wantParam("cursor")
		c.get("/v1/account?include=everything").wantParam("include")
		c.get("/v1/customers/cus_00000000-0000-0000-0000-000000000000/subscriptions").want(http.StatusNotFound)
		c.get("/v1/customers/cus_00000000-0000-0000-0000-000000000000/activities").want(http.StatusNotFound)
		// Another account sees nothing of this one.
		o := e.client(t, "bad-other")
		o.get("/v1/customers/" + c.customerUUID("A") + "/subscriptions").want(http.StatusNotFound)
		if es := o.get("/v1/activities").want(http.StatusOK).entries(); len(es) != 0 {
			t.Errorf("another account lists %d activities", len(es))
		}
		if es := o.get(base + "&interval=month").want(http.StatusOK).entries(); num(es[0]["mrr"]) != 0 {
			t.Errorf("another account's MRR %v", es[0]["mrr"])
		}
	})
}

// TestMetricsShapes compares the answers' members with ChartMogul's recorded
// ones (testdata/cassettes): ruby ChartMogul_Metrics_*, go
// retrieve_metrics.yaml and customer_subscriptions.yaml.
func TestMetricsShapes(t *testing.T) {
	mxEngines(t, func(t *testing.T, e *mxEnv) {
		c := e.client(t, "shapes")
		c.importPayload(example3().json(t))
		q := "?start-date=2024-01-01&end-date=2024-06-30&interval=month"
		all := c.get("/v1/metrics/all" + q).want(http.StatusOK)
		if got := mxKeys(t, all.body); !reflect.DeepEqual(got, []string{"entries", "summary"}) {
			t.Errorf("all: %v", got)
		}
		var v struct {
			Entries []jsontext.Value `json:"entries"`
			Summary jsontext.Value   `json:"summary"`
		}
		json.Unmarshal(all.body, &v)
		if got, want := mxKeys(t, v.Entries[0]), []string{"date", "mrr", "mrr-percentage-change", "arr", "arr-percentage-change", "customer-churn-rate",
			"customer-churn-rate-percentage-change", "mrr-churn-rate", "mrr-churn-rate-percentage-change", "ltv", "ltv-percentage-change",
			"customers", "customers-percentage-change", "asp", "asp-percentage-change", "arpa", "arpa-percentage-change"}; !reflect.DeepEqual(got, want) {
			t.Errorf("all entry keys\n got %v\nwant %v", got, want)
		}
		if got, want := mxKeys(t, v.Summary), []string{"current-mrr", "previous-mrr", "mrr-percentage-change", "current-arr", "previous-arr",
			"arr-percentage-change", "current-customer-churn-rate", "previous-customer-churn-rate", "customer-churn-rate-percentage-change",
			"current-mrr-churn-rate", "previous-mrr-churn-rate", "mrr-churn-rate-percentage-change", "current-ltv", "previous-ltv", "ltv-percentage-change",
			"current-customers", "previous-customers", "customers-percentage-change", "current-asp", "previous-asp", "asp-percentage-change",
			"current-arpa", "previous-arpa", "arpa-percentage-change"}; !reflect.DeepEqual(got, want) {
			t.Errorf("all summary keys\n got %v\nwant %v", got, want)
		}
		mrr := c.get("/v1/metrics/mrr" + q).want(http.StatusOK)
		json.Unmarshal(mrr.body, &v)
		if got, want := mxKeys(t, v.Entries[0]), []string{"date", "mrr", "percentage-change", "mrr-new-business", "mrr-expansion", "mrr-contraction",
			"mrr-churn", "mrr-reactivation", "mrr-fx-impact"}; !reflect.DeepEqual(got, want) {
			t.Errorf("mrr entry keys %v", got)
		}
		if got := mxKeys(t, v.Summary); !reflect.DeepEqual(got, []string{"current", "previous", "percentage-change"}) {
			t.Errorf("mrr summary keys %v", got)
		}
		for path, key := range map[string]string{"arr": "arr", "arpa": "arpa", "asp": "asp", "customer-count": "customers",
			"customer-churn-rate": "customer-churn-rate", "mrr-churn-rate": "mrr-churn-rate", "ltv": "ltv"} {
			r := c.get("/v1/metrics/" + path + q).want(http.StatusOK)
			json.Unmarshal(r.body, &v)
			if got := mxKeys(t, v.Entries[0]); !reflect.DeepEqual(got, []string{"date", key, "percentage-change"}) {
				t.Errorf("%s entry keys %v", path, got)
			}
		}
		// Default intervals follow the recordings: daily MRR, monthly ASP.
		if n := len(c.get("/v1/metrics/mrr?start-date=2024-01-01&end-date=2024-02-01").want(http.StatusOK).entries()); n != 32 {
			t.Errorf("mrr without interval: %d entries, want 32 days", n)
		}
		if es := c.get("/v1/metrics/asp?start-date=2024-01-01&end-date=2024-02-01").want(http.StatusOK).entries(); len(es) != 2 || es[1]["date"] != "2024-02-01" {
			t.Errorf("asp without interval: %v, want months ending 2024-01-31 and 2024-02-01", es)
		}

		acts := c.get("/v1/activities?per_page=2").want(http.StatusOK)
		if got := mxKeys(t, acts.body); !reflect.DeepEqual(got, []string{"entries", "has_more", "per_page", "cursor"}) {
			t.Errorf("activities keys %v", got)
		}
		json.Unmarshal(acts.body, &v)
		if got, want := mxKeys(t, v.Entries[0]), []string{"description", "activity-mrr-movement", "activity-mrr", "activity-arr", "date", "type",
			"currency", "subscription-external-id", "subscription-set-external-id", "plan-external-id", "customer-name", "customer-uuid",
			"customer-external-id", "billing-connector-uuid", "uuid"}; !reflect.DeepEqual(got, want) {
			t.Errorf("activity keys\n got %v\nwant %v", got, want)
		}
		a := c.customerUUID("A")
		ca := c.get("/v1/customers/" + a + "/activities").want(http.StatusOK)
		if got := mxKeys(t, ca.body); !reflect.DeepEqual(got, []string{"entries", "has_more", "per_page", "page", "cursor"}) {
			t.Errorf("customer activities keys %v", got)
		}
		json.Unmarshal(ca.body, &v)
		if got, want := mxKeys(t, v.Entries[0]), []string{"id", "description", "activity-mrr-movement", "activity-mrr", "activity-arr", "date", "type",
			"currency", "currency-sign", "subscription-external-id"}; !reflect.DeepEqual(got, want) {
			t.Errorf("customer activity keys %v", got)
		}
		cs := c.get("/v1/customers/" + a + "/subscriptions?per_page=1").want(http.StatusOK)
		json.Unmarshal(cs.body, &v)
		if got, want := mxKeys(t, v.Entries[0]), []string{"id", "external_id", "subscription_set_external_id", "quantity", "uuid", "mrr", "arr",
			"status", "plan", "billing-cycle", "billing-cycle-count", "start-date", "end-date", "currency", "currency-sign"}; !reflect.DeepEqual(got, want) {
			t.Errorf("subscription keys %v", got)
		}
		if !strings.HasPrefix(cs.obj()["entries"].([]any)[0].(map[string]any)["uuid"].(string), "sub_") {
			t.Errorf("subscription uuid is not the import-side sub_ uuid: %s", cs.body)
		}
	})
}

// TestActivitiesPaging walks the activity lists one entry at a time, both
// ways, and filters them.
func TestActivitiesPaging(t *testing.T) {
	mxEngines(t, func(t *testing.T, e *mxEnv) {
		c := e.client(t, "paging")
		c.importPayload(example3().json(t))
		whole := c.get("/v1/activities").want(http.StatusOK).entries()
		if len(whole) != 9 {
			t.Fatalf("%d activities, want 9", len(whole))
		}
		walk := func(query string) []string {
			var out []string
			path := "/v1/activities?per_page=1" + query
			for i := 0; i < 20; i++ {
				r := c.get(path).want(http.StatusOK)
				for _, x := range r.entries() {
					out = append(out, x["uuid"].(string))
				}
				if more, _ := r.obj()["has_more"].(bool); !more {
					return out
				}
				path = "/v1/activities?per_page=1" + query + "&cursor=" + url.QueryEscape(r.str("cursor"))
			}
			t.Fatal("paging does not end")
			return nil
		}
		var uuids []string
		for _, x := range whole {
			uuids = append(uuids, x["uuid"].(string))
		}
		if got := walk(""); !reflect.DeepEqual(got, uuids) {
			t.Errorf("paging one by one\n got %v\nwant %v", got, uuids)
		}
		rev := slices.Clone(uuids)
		slices.Reverse(rev)
		if got := walk("&order=-date"); !reflect.DeepEqual(got, rev) {
			t.Errorf("newest first\n got %v\nwant %v", got, rev)
		}
		churn := c.get("/v1/activities?type=churn").want(http.StatusOK).entries()
		if len(churn) != 2 {
			t.Errorf("%d churn activities, want 2", len(churn))
		}
		march := c.get("/v1/activities?start-date=2024-03-01&end-date=2024-03-31").want(http.StatusOK).entries()
		if len(march) != 3 { // C's new business and churn, A's contraction
			t.Errorf("%d activities in March, want 3", len(march))
		}
		// Pages asked for by cursor have the recorded shapes.
		second := c.get("/v1/activities?per_page=1&cursor=" + url.QueryEscape(c.get("/v1/activities?per_page=1").want(http.StatusOK).str("cursor"))).want(http.StatusOK)
		if got := mxKeys(t, second.body); !reflect.DeepEqual(got, []string{"entries", "has_more", "cursor"}) {
			t.Errorf("second page of activities: keys %v", got)
		}
		a := c.customerUUID("A")
		first := c.get("/v1/customers/" + a + "/activities?per_page=2").want(http.StatusOK)
		next := c.get("/v1/customers/" + a + "/activities?per_page=2&cursor=" + url.QueryEscape(first.str("cursor"))).want(http.StatusOK)
		if got := mxKeys(t, next.body); !reflect.DeepEqual(got, []string{"entries", "cursor", "has_more"}) {
			t.Errorf("second page of a customer's activities: keys %v", got)
		}
		// A customer's subscriptions page with ChartMogul's own cursor.
		var subs []string
		path := "/v1/customers/" + a + "/subscriptions?per_page=1"
		for i := 0; i < 5; i++ {
			r := c.get(path).want(http.StatusOK)
			for _, x := range r.entries() {
				subs = append(subs, x["external_id"].(string))
			}
			if i == 0 && r.str("cursor") != "c3Vic2NyaXB0aW9uc19uZXh0X3BhZ2U9Mg==" {
				t.Errorf("first cursor %q, want ChartMogul's subscriptions_next_page=2", r.str("cursor"))
			}
			if got := mxKeys(t, r.body); !reflect.DeepEqual(got, []string{"entries", "has_more", "per_page", "page", "cursor"}) {
				t.Errorf("subscriptions page %d: keys %v", i+1, got)
			}
			if more, _ := r.obj()["has_more"].(bool); !more {
				break
			}
			path = "/v1/customers/" + a + "/subscriptions?per_page=1&cursor=" + url.QueryEscape(r.str("cursor"))
		}
		if want := []string{"S_A1", "S_A2", "S_A3"}; !reflect.DeepEqual(subs, want) {
			t.Errorf("subscriptions page by page %v, want %v", subs, want)
		}
		c.get("/v1/customers/" + a + "/subscriptions?cursor=bm9wZQ==").wantParam("cursor")

		// Recomputing leaves activities' uuids as they were.
		if err := e.st.EnqueueRecompute(context.Background(), store.RecomputeArgs{AccountID: c.account.ID, All: true}); err != nil {
			t.Fatal(err)
		}
		e.settle(t)
		var again []string
		for _, x := range c.get("/v1/activities").want(http.StatusOK).entries() {
			again = append(again, x["uuid"].(string))
		}
		if !reflect.DeepEqual(again, uuids) {
			t.Errorf("uuids changed by a recompute")
		}
	})
}

// TestMetricsPlanFilter names plans by name, uuid and external id.
func TestMetricsPlanFilter(t *testing.T) {
	mxEngines(t, func(t *testing.T, e *mxEnv) {
		c := e.client(t, "plans")
		c.importPayload(example3().json(t))
		plans := c.get("/v1/plans?external_id=gold").want(http.StatusOK).obj()["plans"].([]any)
		gold := plans[0].(map[string]any)["uuid"].(string)
		var answers [][]byte
		for _, ref := range []string{"gold", gold, url.QueryEscape("Plan gold")} {
			r := c.get("/v1/metrics/mrr?interval=month&start-date=2023-11-01&end-date=2024-06-30&plans=" + ref).want(http.StatusOK)
			answers = append(answers, r.body)
			es := r.entries()
			mxCheckIdentity(t, es)
			if num(es[2]["mrr"]) != 5000 || num(es[len(es)-1]["mrr"]) != 5000 {
				t.Errorf("gold MRR %v … %v, want 5000 … 5000", es[2]["mrr"], es[len(es)-1]["mrr"])
			}
			if _, ok := es[0]["mrr-entering-segment"]; !ok {
				t.Errorf("a plan filter's entries lack mrr-entering-segment: %v", es[0])
			}
		}
		if !bytes.Equal(answers[0], answers[1]) || !bytes.Equal(answers[0], answers[2]) {
			t.Errorf("the same plan named three ways gives different answers")
		}
	})
}

// mxGenPayload is a realistic payload from package gen, re-encoded so it
// can be split.
type mxRecords map[string][]map[string]any

// TestAnalyticsIndependentOfImportOrder imports the same records in one
// import, and split across several imports in shuffled orders, into
// separate accounts, and checks that the movements and every metric come
// out identical. The data is the example-3 story plus foreign-currency
// customers, so rates and cancellations are part of it.
func TestAnalyticsIndependentOfImportOrder(t *testing.T) {
	mxEngines(t, func(t *testing.T, e *mxEnv) {
		// Records: example 3 plus EUR and GBP customers with prorations.
		p := example3()
		p.customer("E", "FR")
		p.customer("G", "GB")
		p.plan("annual", 1, "year")
		for k := 0; k < 6; k++ {
			s := time.Date(2024, time.Month(1+k), 3, 0, 0, 0, 0, time.UTC)
			p.item("E", "S_E1", "monthly", s.Format("2006-01-02"), s.AddDate(0, 1, 0).Format("2006-01-02"), int64(4000+500*k))
			p.currency("EUR")
		}
		seat := p.item("E", "S_E1", "monthly", "2024-02-18", "2024-03-03", 1200)
		seat["prorated"], seat["proration_type"] = true, "differential"
		p.currency("EUR")
		p.item("G", "S_G1", "annual", "2024-02-29", "2025-02-28", 99000)
		p.currency("GBP")
		p.item("G", "S_G2", "monthly", "2024-05-11", "2024-06-11", 2500)
		p.currency("GBP")
		p.cancel("G", "S_G2", "2024-06-01")
		// Two invoices for one subscription starting at the same instant
		// on different plans: which plan the subscription ends on must not
		// depend on which invoice arrived first.
		p.customer("T", "US")
		p.item("T", "S_T1", "gold", "2024-03-01", "2024-04-01", 1000)
		p.item("T", "S_T1", "silver", "2024-03-01", "2024-04-01", 2000)
		p.item("T", "S_T1", "gold", "2024-04-01", "2024-05-01", 4000)

		var rates store.RateSet
		rates.Source, rates.Format = "synthetic", "ecb"
		for d := time.Date(2023, 11, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2025; d = d.AddDate(0, 0, 1) {
			if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
				continue
			}
			day := analytics.DayOf(d, nil)
			rates.Rates = append(rates.Rates, store.Rate{Day: day, Base: "EUR", Currency: "USD", Rate: 1.05 + float64(day%37)/1000},
				store.Rate{Day: day, Base: "EUR", Currency: "GBP", Rate: 0.84 + float64(day%23)/1000})
		}
		if _, err := e.st.ImportRates(context.Background(), rates); err != nil {
			t.Fatal(err)
		}

		// Group each invoice with its line items and transactions.
		type group struct{ inv, items, txs []map[string]any }
		var groups []group
		for _, inv := range p.Invoices {
			g := group{inv: []map[string]any{inv}}
			for _, li := range p.LineItems {
				if li["invoice_external_id"] == inv["external_id"] {
					g.items = append(g.items, li)
				}
			}
			groups = append(groups, g)
		}
		// build makes imports of the groups in order, n per import, every
		// import carrying all customers and plans (re-imported unchanged),
		// and the events spread over them in their order.
		build := func(order []int, parts int) []string {
			var out []string
			per := (len(order) + parts - 1) / parts
			for k := 0; k < parts; k++ {
				q := &mxPayload{Customers: p.Customers, Plans: p.Plans}
				for _, i := range order[min(k*per, len(order)):min((k+1)*per, len(order))] {
					q.Invoices = append(q.Invoices, groups[i].inv...)
					q.LineItems = append(q.LineItems, groups[i].items...)
				}
				for j, ev := range p.SubscriptionEvents {
					if j%parts == k {
						q.SubscriptionEvents = append(q.SubscriptionEvents, ev)
					}
				}
				out = append(out, q.json(t))
			}
			return out
		}
		inOrder := make([]int, len(groups))
		for i := range inOrder {
			inOrder[i] = i
		}
		reversed := slices.Clone(inOrder)
		slices.Reverse(reversed)
		shuffled := slices.Clone(inOrder)
		rand.New(rand.NewPCG(7, 11)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		runs := []struct {
			name    string
			imports []string
		}{
			{"one import", build(inOrder, 1)},
			{"three imports, reversed", build(reversed, 3)},
			{"five imports, shuffled", build(shuffled, 5)},
		}
		var want []string
		for i, run := range runs {
			c := e.client(t, fmt.Sprintf("order-%d", i))
			for _, body := range run.imports {
				c.importPayload(body)
			}
			got := mxSnapshot(t, c)
			if i == 0 {
				want = got
				joined := strings.Join(want, "\n")
				for _, who := range []string{"activity A ", "activity E ", "activity G ", "customer G Past Due 10523"} {
					if !strings.Contains(joined, who) {
						t.Fatalf("the reference run lacks %q:\n%s", who, joined[:min(len(joined), 3000)])
					}
				}
				continue
			}
			for k := range want {
				if got[k] != want[k] {
					t.Errorf("%s differs from one import at %s", run.name, got[k][:min(len(got[k]), 300)])
					break
				}
			}
		}
	})
}

// mxSnapshot is everything the analytics answer for an account, with the
// ids that differ between accounts left out: movements per customer and
// every metric at every interval.
func mxSnapshot(t testing.TB, c *mxClient) []string {
	t.Helper()
	var out []string
	for _, x := range c.get("/v1/activities").want(http.StatusOK).entries() {
		out = append(out, fmt.Sprintf("activity %s %s %s %v %v %v %s", x["customer-external-id"], x["date"], x["type"], x["activity-mrr-movement"],
			x["activity-mrr"], x["subscription-external-id"], x["description"]))
	}
	for _, interval := range []string{"day", "week", "month", "quarter", "year"} {
		for _, m := range []string{"all", "mrr"} {
			r := c.get("/v1/metrics/" + m + "?start-date=2023-10-01&end-date=2024-12-31&interval=" + interval).want(http.StatusOK)
			if m == "mrr" {
				mxCheckIdentity(t, r.entries())
			}
			out = append(out, m+" "+interval+" "+string(r.body))
		}
	}
	for _, ext := range []string{"A", "B", "C", "E", "G", "T"} {
		cus := c.get("/v1/customers/" + c.customerUUID(ext)).want(http.StatusOK).obj()
		out = append(out, fmt.Sprintf("customer %s %v %v %v", ext, cus["status"], cus["mrr"], cus["customer-since"]))
	}
	return out
}

// mxBenchRates are synthetic reference rates for the currencies package gen
// bills in, on business days from 2019 to 2026.
func mxBenchRates() store.RateSet {
	set := store.RateSet{Source: "synthetic", Format: "ecb"}
	for d := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2027; d = d.AddDate(0, 0, 1) {
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			continue
		}
		day := analytics.DayOf(d, nil)
		set.Rates = append(set.Rates, store.Rate{Day: day, Base: "EUR", Currency: "USD", Rate: 1.05 + float64(day%41)/1000},
			store.Rate{Day: day, Base: "EUR", Currency: "GBP", Rate: 0.84 + float64(day%29)/1000})
	}
	return set
}

func mxMedian(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func mxEngineDB(b *testing.B, engine string) storetest.Database {
	if engine == "postgres" {
		return storetest.Postgres(b)
	}
	return storetest.SQLite(b)
}

// BenchmarkMetricsAll loads RECUR_BENCH_CUSTOMERS customers (default
// 100,000) of package gen's making, a year each, joining over four years
// so the history spans five, computes their analytics with a full
// recompute (printing its rate), then times GET /v1/metrics/all over the
// five years by month through HTTP and prints the median.
func BenchmarkMetricsAll(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("RECUR_BENCH_CUSTOMERS")); err == nil && v > 0 {
		n = v
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			db := mxEngineDB(b, engine)
			st, err := store.Open(ctx, db.URL, store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			im := importer.New(st, log)
			a, _ := st.EnsureAccount(ctx, "bench")
			key := "mx-bench-key-0123456789abcdef"
			st.InstallKey(ctx, a.ID, key, chartmogul.AccessReadWrite)
			ds, err := st.CreateDataSource(ctx, a.ID, "Billing", "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.ImportRates(ctx, mxBenchRates()); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			const chunk = 5000
			for first, k := 0, 0; first < n; first, k = first+chunk, k+1 {
				body, _, err := gen.Payload(gen.Options{Customers: min(chunk, n-first), FirstCustomer: first, Seed: int64(k),
					Start: time.Date(2021, time.Month(1+(k*47)%48), 1, 0, 0, 0, 0, time.UTC), Months: 12})
				if err != nil {
					b.Fatal(err)
				}
				imp, _, err := st.CreateImport(ctx, ds, "", body)
				if err != nil {
					b.Fatal(err)
				}
				if err := im.ApplyThrough(ctx, ds.ID, imp.ID); err != nil {
					b.Fatal(err)
				}
			}
			fmt.Printf("%s: imported %d customers in %s\n", engine, n, time.Since(start).Round(time.Millisecond))
			start = time.Now()
			got, err := im.Recompute(ctx, store.RecomputeArgs{AccountID: a.ID, All: true})
			if err != nil || got != n {
				b.Fatalf("recomputed %d of %d: %v", got, n, err)
			}
			took := time.Since(start)
			fmt.Printf("%s: full recompute of %d customers in %s = %.0f customers/s\n", engine, n, took.Round(time.Millisecond), float64(n)/took.Seconds())

			srv := httptest.NewServer(api.New(st, log).Handler())
			defer srv.Close()
			c := &mxClient{e: &mxEnv{t: b, st: st, srv: srv, http: &http.Client{Timeout: time.Minute}}, t: b, key: key, account: a}
			const path = "/v1/metrics/all?start-date=2021-01-01&end-date=2025-12-31&interval=month"
			start = time.Now()
			first := c.get(path).want(http.StatusOK)
			fmt.Printf("%s: first GET (loads the aggregate): %s\n", engine, time.Since(start).Round(time.Millisecond))
			if es := first.entries(); len(es) != 60 || num(es[40]["customers"]) == 0 {
				b.Fatalf("%d entries; month 40 has %v customers", len(es), es[40]["customers"])
			}
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < max(b.N, 21); i++ {
				start := time.Now()
				c.get(path).want(http.StatusOK)
				lat = append(lat, time.Since(start))
			}
			med := mxMedian(lat)
			b.ReportMetric(float64(med.Microseconds())/1000, "ms/median")
			fmt.Printf("%s: GET /v1/metrics/all, 5 years by month, %d customers: median %.1f ms over %d requests\n",
				engine, n, float64(med.Microseconds())/1000, len(lat))
		})
	}
}

// BenchmarkImportToAnalytics sends 5 MB imports (1,000 customers of
// package gen's making) to a running server with its workers and times how
// long after each import is seen completed its analytics are in place.
func BenchmarkImportToAnalytics(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			e := mxStart(b, mxEngineDB(b, engine))
			if _, err := e.st.ImportRates(ctx, mxBenchRates()); err != nil {
				b.Fatal(err)
			}
			c := e.client(b, "bench")
			e.settle(b)
			var lat []time.Duration
			runs := max(b.N, 7)
			for i := 0; i < runs; i++ {
				body, _, err := gen.Payload(gen.Options{Customers: 1000, FirstCustomer: i * 1000, Seed: int64(i)})
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					fmt.Printf("%s: payload of %.2f MB\n", engine, float64(len(body))/(1<<20))
				}
				id := c.do("POST", "/v1/data_sources/"+c.ds+"/json_imports", string(body)).want(http.StatusCreated).str("id")
				for c.get("/v1/data_sources/"+c.ds+"/json_imports/"+id).want(http.StatusOK).str("status") != "completed" {
					time.Sleep(time.Millisecond)
				}
				done := time.Now()
				// In place: the account's metrics (as GET /v1/metrics/* reads
				// them) hold every customer imported so far.
				for {
					agg, _, err := e.st.Metrics(ctx, c.account.ID)
					if err != nil {
						b.Fatal(err)
					}
					if agg.Len() >= (i+1)*1000 {
						break
					}
					time.Sleep(time.Millisecond)
				}
				lat = append(lat, time.Since(done))
			}
			med := mxMedian(lat)
			b.ReportMetric(float64(med.Microseconds())/1000, "ms/median")
			fmt.Printf("%s: analytics in place after a 5 MB import completed: median %.0f ms, max %.0f ms over %d imports\n", engine,
				float64(med.Microseconds())/1000, float64(slices.Max(lat).Microseconds())/1000, len(lat))
		})
	}
}

// TestConnectSubscriptions: a subscription that moved to a new one (a new
// billing system) is churn and reactivation until the two are connected,
// then one subscription whose MRR carries on; disconnecting undoes it.
func TestConnectSubscriptions(t *testing.T) {
	mxEngines(t, func(t *testing.T, e *mxEnv) {
		c := e.client(t, "connect")
		p := &mxPayload{}
		p.customer("X", "US")
		p.plan("monthly", 1, "month")
		p.renewals("X", "S_OLD", "monthly", "2024-01-01", 1, 3, 5000)
		p.cancel("X", "S_OLD", "2024-03-20")
		p.renewals("X", "S_NEW", "monthly", "2024-04-05", 1, 3, 5500)
		c.importPayload(p.json(t))
		x := c.customerUUID("X")
		types := func() []string {
			var out []string
			for _, a := range c.get("/v1/customers/" + x + "/activities").want(http.StatusOK).entries() {
				out = append(out, fmt.Sprintf("%s %s %d", a["date"].(string)[:10], a["type"], num(a["activity-mrr-movement"])))
			}
			return out
		}
		apart := []string{"2024-01-01 new_biz 5000", "2024-03-20 churn -5000", "2024-04-05 reactivation 5500"}
		if got := types(); !reflect.DeepEqual(got, apart) {
			t.Fatalf("before connecting: %v, want %v", got, apart)
		}
		subs := c.get("/v1/customers/" + x + "/subscriptions").want(http.StatusOK).entries()
		if len(subs) != 2 {
			t.Fatalf("%d subscriptions, want 2", len(subs))
		}
		body := fmt.Sprintf(`{"subscriptions":[{"data_source_uuid":%q,"uuid":%q},{"data_source_uuid":%q,"uuid":%q}]}`,
			c.ds, subs[0]["uuid"], c.ds, strings.TrimPrefix(subs[1]["uuid"].(string), "sub_"))
		if r := c.do("POST", "/v1/customers/"+x+"/connect_subscriptions", body).want(http.StatusAccepted); string(r.body) != "{}" {
			t.Errorf("connect answered %s, want {}", r.body)
		}
		e.settle(t)
		if got, want := types(), []string{"2024-01-01 new_biz 5000", "2024-04-05 expansion 500"}; !reflect.DeepEqual(got, want) {
			t.Errorf("connected: %v, want %v", got, want)
		}
		subs = c.get("/v1/customers/" + x + "/subscriptions").want(http.StatusOK).entries()
		if len(subs) != 1 || subs[0]["external_id"] != "S_NEW" || subs[0]["start-date"] != "2024-01-01T00:00:00+00:00" || num(subs[0]["mrr"]) != 5500 {
			t.Errorf("connected subscriptions: %v", subs)
		}
		march := c.get("/v1/metrics/mrr?interval=month&start-date=2024-03-01&end-date=2024-03-31").want(http.StatusOK).entries()
		if num(march[0]["mrr"]) != 5000 || num(march[0]["mrr-churn"]) != 0 {
			t.Errorf("connected March: %v", march[0])
		}

		// Disconnecting one of the two dissolves the group.
		c.do("POST", "/v1/customers/"+x+"/disconnect_subscriptions", fmt.Sprintf(`{"subscriptions":[{"uuid":%q}]}`, subs[0]["uuid"])).want(http.StatusAccepted)
		e.settle(t)
		if got := types(); !reflect.DeepEqual(got, apart) {
			t.Errorf("disconnected: %v, want %v", got, apart)
		}

		c.do("POST", "/v1/customers/"+x+"/connect_subscriptions", fmt.Sprintf(`{"subscriptions":[{"uuid":%q}]}`, subs[0]["uuid"])).want(http.StatusUnprocessableEntity)
		r := c.do("POST", "/v1/customers/"+x+"/connect_subscriptions", `{"subscriptions":[{"uuid":"sub_nope"},{"uuid":"sub_nada"}]}`).want(http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.body), "sub_nope") {
			t.Errorf("unknown subscription: %s", r.body)
		}
		c.do("POST", "/v1/customers/"+x+"/connect_subscriptions", `{}`).wantParam("subscriptions")
		c.do("POST", "/v1/customers/cus_00000000-0000-0000-0000-000000000000/connect_subscriptions", body).want(http.StatusNotFound)
		// Another account cannot connect this customer's subscriptions.
		e.client(t, "connect-other").do("POST", "/v1/customers/"+x+"/connect_subscriptions", body).want(http.StatusNotFound)
	})
}
