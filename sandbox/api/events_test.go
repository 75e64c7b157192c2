package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// The subscription event routes, through real HTTP on a real database of
// every engine. Helpers are prefixed ev so that they do not collide with
// other files of this package.

const (
	evKey      = "evtest-key-acme-0123456789"
	evOtherKey = "evtest-key-other-0123456789"
	evReadKey  = "evtest-key-readonly-0123456789"
)

// evEnv is one server on one fresh database: an account with two data
// sources (customers c1 and c2 and plan gold in the first, c1 in the
// second) and another account with a data source, customer c1, plan gold.
type evEnv struct {
	t       *testing.T
	st      *store.Store
	url     string
	ds, ds2 string
	otherDS string
}

func evEngines(t *testing.T, fn func(t *testing.T, e *evEnv)) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			fn(t, evSetup(t, db.URL))
		})
	}
}

func evSetup(t *testing.T, dbURL string) *evEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(api.New(st, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	t.Cleanup(srv.Close)
	e := &evEnv{t: t, st: st, url: srv.URL}
	account := func(name, key string) *chartmogul.Account {
		a, err := st.EnsureAccount(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.InstallKey(ctx, a.ID, key, chartmogul.AccessReadWrite); err != nil {
			t.Fatal(err)
		}
		return a
	}
	seed := func(a *chartmogul.Account, name, payload string) string {
		ds, err := st.CreateDataSource(ctx, a.ID, name, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := chartmogul.Decode([]byte(payload), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ch, err := st.ApplyChanges(ctx, ds.ID, bulk.Keys(b), bulk.Resolver(b))
		if err != nil || len(ch.Report.Failures) > 0 {
			t.Fatalf("seed: %v %+v", err, ch.Report.Failures)
		}
		return ds.UUID
	}
	const both = `{"customers": [{"external_id": "c1", "name": "One"}, {"external_id": "c2", "name": "Two"}],
		"plans": [{"external_id": "gold", "name": "Gold", "interval_count": 1, "interval_unit": "month"}]}`
	acme := account("acme", evKey)
	e.ds = seed(acme, "Billing", both)
	e.ds2 = seed(acme, "Other billing", `{"customers": [{"external_id": "c1"}]}`)
	if _, err := st.InstallKey(ctx, acme.ID, evReadKey, chartmogul.AccessReadOnly); err != nil {
		t.Fatal(err)
	}
	e.otherDS = seed(account("other", evOtherKey), "Billing", both)
	return e
}

// evResp is an answer: its status, body and the body decoded (numbers as
// json.Number, so that integers can be told from strings).
type evResp struct {
	status int
	raw    []byte
	body   map[string]any
	ctype  string
}

func (e *evEnv) doAs(key, method, path, body string) evResp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	oaCheck(e.t, req, res, raw) // openapi_test.go
	out := evResp{status: res.StatusCode, raw: raw, ctype: res.Header.Get("Content-Type")}
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	return out
}

func (e *evEnv) do(method, path, body string) evResp {
	e.t.Helper()
	return e.doAs(evKey, method, path, body)
}

// want checks the status, and that every answer is JSON.
func (r evResp) want(t *testing.T, status int) evResp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if !strings.HasPrefix(r.ctype, "application/json") {
		t.Fatalf("content type %q", r.ctype)
	}
	return r
}

// errs returns the 422 errors map.
func (r evResp) errs(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.body["errors"].(map[string]any)
	if !ok {
		t.Fatalf("no errors map: %s", r.raw)
	}
	return m
}

// wantBadRequest checks a 400 in ChartMogul's code body, naming param.
func (r evResp) wantBadRequest(t *testing.T, param string) {
	t.Helper()
	r.want(t, http.StatusBadRequest)
	if r.body["code"] != json.Number("400") || r.body["param"] != param || r.body["message"] == "" {
		t.Fatalf("400 body %s, want code 400 and param %q", r.raw, param)
	}
}

func (r evResp) id(t *testing.T) int64 {
	t.Helper()
	n, ok := r.body["id"].(json.Number)
	if !ok {
		t.Fatalf("id is not a number: %s", r.raw)
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("id %s is not an integer", n)
	}
	return v
}

// evWrap wraps fields as the clients send them, with the data source.
func (e *evEnv) evWrap(fields map[string]any) string {
	f := map[string]any{"data_source_uuid": e.ds}
	for k, v := range fields {
		if v == nil {
			delete(f, k)
			continue
		}
		f[k] = v
	}
	b, _ := json.Marshal(map[string]any{"subscription_event": f})
	return string(b)
}

// evFields returns a valid event of type t with every field it may need.
func evFields(eventType, ext string) map[string]any {
	f := map[string]any{"customer_external_id": "c1", "event_type": eventType, "event_date": "2022-02-16",
		"effective_date": "2022-02-28", "subscription_external_id": "sub1", "external_id": ext}
	if chartmogul.EventStartsOrUpdates(eventType) {
		f["plan_external_id"], f["currency"], f["amount_in_cents"], f["quantity"] = "gold", "USD", 1000, 1
	}
	return f
}

func with(f map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range f {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// create posts an event and returns its id.
func (e *evEnv) create(t *testing.T, fields map[string]any) int64 {
	t.Helper()
	return e.do("POST", "/v1/subscription_events", e.evWrap(fields)).want(t, http.StatusCreated).id(t)
}

// keysOf returns the member names of a JSON object in order.
func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.ReadToken(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.PeekKind() != '}' {
		k, err := dec.ReadToken()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.String())
		if err := dec.SkipValue(); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// evKeys are the keys of an event in the recorded order, then Recur's.
var evKeys = []string{"id", "data_source_uuid", "customer_external_id", "subscription_set_external_id", "subscription_external_id",
	"plan_external_id", "event_date", "effective_date", "event_type", "external_id", "errors", "created_at", "updated_at", "quantity",
	"currency", "amount_in_cents", "tax_amount_in_cents", "retracted_event_id", "event_order", "disabled", "disabled_at", "retracted"}

var secondsLayout = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func TestEventCreate(t *testing.T) {
	evEngines(t, func(t *testing.T, e *evEnv) {
		t.Run("Go client's body, as recorded", func(t *testing.T) {
			body := `{"subscription_event":{"amount_in_cents":1000,"currency":"USD","customer_external_id":"c1","data_source_uuid":"` + e.ds +
				`","effective_date":"2022-02-28","event_date":"2022-02-16","event_type":"subscription_start_scheduled","external_id":"TestSubEventsSubEvent02","plan_external_id":"gold","quantity":1,"subscription_external_id":"TestSubEventsSubscription01"}}`
			r := e.do("POST", "/v1/subscription_events", body).want(t, http.StatusCreated)
			if got := keysOf(t, r.raw); !slices.Equal(got, evKeys) {
				t.Errorf("keys %v\nwant %v", got, evKeys)
			}
			r.id(t)
			b := r.body
			for k, want := range map[string]any{"data_source_uuid": e.ds, "customer_external_id": "c1", "subscription_set_external_id": nil,
				"subscription_external_id": "TestSubEventsSubscription01", "plan_external_id": "gold", "event_date": "2022-02-16T00:00:00Z",
				"effective_date": "2022-02-28T00:00:00Z", "event_type": "subscription_start_scheduled", "external_id": "TestSubEventsSubEvent02",
				"quantity": json.Number("1"), "currency": "USD", "amount_in_cents": json.Number("1000"), "tax_amount_in_cents": nil,
				"retracted_event_id": nil, "event_order": nil, "disabled": false, "disabled_at": nil, "retracted": false} {
				if b[k] != want {
					t.Errorf("%s = %#v, want %#v", k, b[k], want)
				}
			}
			if errs, ok := b["errors"].(map[string]any); !ok || len(errs) != 0 {
				t.Errorf("errors = %#v, want {}", b["errors"])
			}
			for _, k := range []string{"created_at", "updated_at"} {
				if s, _ := b[k].(string); !secondsLayout.MatchString(s) {
					t.Errorf("%s = %q, want seconds without millis", k, s)
				}
			}
		})
		t.Run("Ruby client's body: read-only members and empty strings", func(t *testing.T) {
			body := `{"subscription_event":{"id":null,"data_source_uuid":"` + e.ds + `","customer_external_id":"c1","subscription_set_external_id":"","subscription_external_id":"test_cus_sub_ext_id1","plan_external_id":"","event_date":"2022-05-18T09:48:34Z","effective_date":"2021-12-30T00:01:00Z","event_type":"subscription_cancelled","external_id":"test_ev_id_create_1","errors":null,"created_at":null,"updated_at":null,"quantity":"","currency":"","amount_in_cents":"","tax_amount_in_cents":null,"retracted_event_id":null}}`
			r := e.do("POST", "/v1/subscription_events", body).want(t, http.StatusCreated)
			for k, want := range map[string]any{"event_date": "2022-05-18T09:48:34Z", "effective_date": "2021-12-30T00:01:00Z",
				"quantity": nil, "amount_in_cents": nil, "currency": nil, "plan_external_id": nil, "external_id": "test_ev_id_create_1"} {
				if r.body[k] != want {
					t.Errorf("%s = %#v, want %#v", k, r.body[k], want)
				}
			}
		})
		t.Run("unwrapped body", func(t *testing.T) {
			f := with(evFields("subscription_cancelled", "flat"), "data_source_uuid", e.ds)
			b, _ := json.Marshal(f)
			r := e.do("POST", "/v1/subscription_events", string(b)).want(t, http.StatusCreated)
			if r.body["external_id"] != "flat" {
				t.Errorf("body %s", r.raw)
			}
		})
		t.Run("every type with every field", func(t *testing.T) {
			target := e.create(t, evFields("subscription_cancelled", "target"))
			for _, typ := range chartmogul.EventTypes {
				f := evFields(typ, "all_"+typ)
				switch {
				case typ == chartmogul.EventSubscriptionEventRetracted:
					f["retracted_event_id"] = fmt.Sprint(target)
				case chartmogul.RetractedKind(typ) != "":
					e.create(t, evFields(chartmogul.RetractedKind(typ), "pending_"+typ))
				}
				e.create(t, f)
			}
		})
	})
}

func TestEventCreateErrors(t *testing.T) {
	evEngines(t, func(t *testing.T, e *evEnv) {
		post := func(body string) evResp { return e.do("POST", "/v1/subscription_events", body) }
		t.Run("data source", func(t *testing.T) {
			f := evFields("subscription_cancelled", "x")
			post(e.evWrap(with(f, "data_source_uuid", nil))).wantBadRequest(t, "data_source_uuid")
			post(e.evWrap(with(f, "data_source_uuid", ""))).wantBadRequest(t, "data_source_uuid")
			post(e.evWrap(with(f, "data_source_uuid", 5))).wantBadRequest(t, "data_source_uuid")
			r := post(e.evWrap(with(f, "data_source_uuid", "ds_nope"))).want(t, http.StatusNotFound)
			if r.body["error"] != "Data source not found" {
				t.Errorf("body %s", r.raw)
			}
			post(e.evWrap(with(f, "data_source_uuid", e.otherDS))).want(t, http.StatusNotFound)
		})
		t.Run("required fields per type", func(t *testing.T) {
			for _, typ := range chartmogul.EventTypes {
				required := []string{"customer_external_id", "event_type", "event_date", "effective_date"}
				if typ != chartmogul.EventSubscriptionEventRetracted {
					required = append(required, "subscription_external_id")
				} else {
					required = append(required, "retracted_event_id")
				}
				if chartmogul.EventStartsOrUpdates(typ) {
					required = append(required, "plan_external_id", "currency", "amount_in_cents")
				}
				for _, field := range required {
					f := with(evFields(typ, "req"), "retracted_event_id", "1")
					delete(f, field)
					errs := post(e.evWrap(f)).want(t, http.StatusUnprocessableEntity).errs(t)
					if errs[field] != field+" is required" {
						t.Errorf("%s without %s: errors %v", typ, field, errs)
					}
				}
			}
		})
		t.Run("wrong JSON types and values", func(t *testing.T) {
			base := evFields(chartmogul.EventSubscriptionStartScheduled, "bad")
			for _, c := range []struct {
				field string
				value any
				msg   string
			}{
				{"amount_in_cents", "1000", "amount_in_cents must be a number, not a string: write 1000 without quotes"},
				{"quantity", "2", "quantity must be a number, not a string: write 2 without quotes"},
				{"quantity", true, "quantity must be a whole number; got true"},
				{"quantity", 0, "quantity must not be 0; leave it out for 1"},
				{"amount_in_cents", 10.5, "amount_in_cents must be a whole number; got 10.5"},
				{"tax_amount_in_cents", -1, "tax_amount_in_cents must not be negative; got -1"},
				{"event_order", "1", "event_order must be a number, not a string: write 1 without quotes"},
				{"event_date", 20220216, "event_date must be a date string such as \"2023-04-02 21:37:00\"; got the number 20220216"},
				{"effective_date", "yesterday", `effective_date must be a date or timestamp such as "2023-04-02", "2023-04-02 21:37:00" or "2023-04-02T21:37:00Z"; got "yesterday"`},
				{"customer_external_id", 5, "customer_external_id must be a string; got the number 5"},
				{"external_id", []any{}, "external_id must be a string; got an array"},
				{"currency", "dollars", `currency must be an ISO 4217 currency code such as USD, EUR or GBP; got "dollars"`},
				{"event_type", "subscription_paused", "event_type must be one of " + strings.Join(chartmogul.EventTypes, ", ") + `; got "subscription_paused"`},
				{"customer_external_id", "nobody", `customer_external_id "nobody" names no customer`},
				{"plan_external_id", "platinum", `plan_external_id "platinum" names no plan`},
			} {
				errs := post(e.evWrap(with(base, c.field, c.value))).want(t, http.StatusUnprocessableEntity).errs(t)
				if msg, _ := errs[c.field].(string); !strings.HasPrefix(msg, c.msg) {
					t.Errorf("%s = %#v: errors %v, want %q", c.field, c.value, errs, c.msg)
				}
			}
			// A customer or plan of another data source does not count.
			errs := post(e.evWrap(with(base, "data_source_uuid", e.ds2, "customer_external_id", "c1"))).want(t, http.StatusUnprocessableEntity).errs(t)
			if _, ok := errs["plan_external_id"]; !ok {
				t.Errorf("plan of another data source: %v", errs)
			}
		})
		t.Run("duplicate external id", func(t *testing.T) {
			e.create(t, evFields("subscription_cancelled", "dup"))
			r := post(e.evWrap(evFields("subscription_cancelled", "dup"))).want(t, http.StatusUnprocessableEntity)
			if string(bytes.TrimSpace(r.raw)) != `{"errors":{"external_id":"has already been taken"}}` {
				t.Errorf("body %s", r.raw)
			}
			// The same external id in another data source is another event.
			e.create(t, with(evFields("subscription_cancelled", "dup"), "data_source_uuid", e.ds2))
		})
		t.Run("malformed bodies", func(t *testing.T) {
			for _, body := range []string{`{"subscription_event":`, `[1]`, `"x"`, `{"subscription_event": "x"}`, `{"subscription_event": {"a": 1}} {}`} {
				r := post(body).want(t, http.StatusBadRequest)
				if r.body["message"] == "" {
					t.Errorf("%s: %s", body, r.raw)
				}
			}
		})
		// Nothing of the failed requests was stored.
		r := e.do("GET", "/v1/subscription_events?data_source_uuid="+e.ds, "").want(t, http.StatusOK)
		if n := len(r.body["subscription_events"].([]any)); n != 1 {
			t.Errorf("%d events stored, want 1", n)
		}
	})
}

// evList lists events with a query and returns their external ids.
func (e *evEnv) evList(t *testing.T, query string) ([]string, evResp) {
	t.Helper()
	r := e.do("GET", "/v1/subscription_events?"+query, "").want(t, http.StatusOK)
	var out []string
	for _, ev := range r.body["subscription_events"].([]any) {
		x, _ := ev.(map[string]any)["external_id"].(string)
		out = append(out, x)
	}
	return out, r
}

func TestEventList(t *testing.T) {
	evEngines(t, func(t *testing.T, e *evEnv) {
		e.create(t, with(evFields("subscription_cancelled", "e1"), "event_date", "2024-01-01 10:00:00", "effective_date", "2024-02-01"))
		e.create(t, with(evFields("subscription_cancelled", "e2"), "customer_external_id", "c2", "subscription_external_id", "sub2",
			"event_date", "2024-01-01 11:00:00", "effective_date", "2024-02-02 12:30:00"))
		e.create(t, with(evFields("subscription_start_scheduled", "e3"), "customer_external_id", "c2", "event_date", "2024-01-02", "effective_date", "2024-03-01"))
		e.create(t, with(evFields("subscription_cancelled", "e4"), "data_source_uuid", e.ds2))
		e.doAs(evOtherKey, "POST", "/v1/subscription_events", strings.Replace(e.evWrap(evFields("subscription_cancelled", "theirs")), e.ds, e.otherDS, 1)).want(t, http.StatusCreated)

		var c2 string
		for _, c := range e.do("GET", "/v1/customers?data_source_uuid="+e.ds+"&external_id=c2", "").want(t, http.StatusOK).body["entries"].([]any) {
			c2, _ = c.(map[string]any)["uuid"].(string)
		}
		for query, want := range map[string]string{
			"":                                     "e4 e3 e2 e1",
			"data_source_uuid=" + e.ds:             "e3 e2 e1",
			"data_source_uuid=" + e.ds2:            "e4",
			"data_source_uuid=" + e.otherDS:        "",
			"external_id=e2":                       "e2",
			"customer_external_id=c2":              "e3 e2",
			"customer_uuid=" + c2:                  "e3 e2",
			"subscription_external_id=sub2":        "e2",
			"event_type=subscription_cancelled":    "e4 e2 e1",
			"plan_external_id=gold":                "e3",
			"event_date=2024-01-01":                "e2 e1",
			"event_date=2024-01-01T10:00:00Z":      "e1",
			"event_date=2024-01-01+12:00:00+%2B02": "e1",
			"effective_date=2024-02-02":            "e2",
			"effective_date=2024-02-02 12:30:00":   "e2",
			"effective_date=2024-02-02 12:30:01":   "",
			"include_edit_histories=true":          "e4 e3 e2 e1",
			"customer_external_id=c2&event_type=subscription_start_scheduled": "e3",
		} {
			q, _ := url.ParseQuery(query)
			if got, _ := e.evList(t, q.Encode()); strings.Join(got, " ") != want {
				t.Errorf("?%s: got %v, want %q", query, got, want)
			}
		}

		t.Run("pages", func(t *testing.T) {
			got, r := e.evList(t, "per_page=3")
			if strings.Join(got, " ") != "e4 e3 e2" || r.body["has_more"] != true {
				t.Fatalf("first page %v: %s", got, r.raw)
			}
			meta := r.body["meta"].(map[string]any)
			if meta["page"] != json.Number("1") || meta["total_pages"] != json.Number("2") || meta["prev_key"] != nil {
				t.Errorf("meta %v", meta)
			}
			if before, _ := meta["before_key"].(string); !strings.HasSuffix(before, "Z") || len(before) != len("2023-12-14T15:33:56.095Z") {
				t.Errorf("before_key %v", meta["before_key"])
			}
			if nk, _ := meta["next_key"].(json.Number); nk.String() != r.body["subscription_events"].([]any)[2].(map[string]any)["id"].(json.Number).String() {
				t.Errorf("next_key %v is not the last id", meta["next_key"])
			}
			cursor, _ := r.body["cursor"].(string)
			got, r = e.evList(t, "per_page=3&cursor="+url.QueryEscape(cursor))
			if strings.Join(got, " ") != "e1" || r.body["has_more"] != false || r.body["cursor"] != nil {
				t.Errorf("second page %v: %s", got, r.raw)
			}
			if _, ok := r.body["meta"]; ok {
				t.Errorf("a page asked for by cursor carries meta, which ChartMogul leaves out: %s", r.raw)
			}
			if got := keysOf(t, r.raw); !slices.Equal(got, []string{"subscription_events", "cursor", "has_more"}) {
				t.Errorf("keys %v", got)
			}
			_, r = e.evList(t, "external_id=nothing")
			if string(bytes.TrimSpace(r.raw)) != `{"subscription_events":[],"meta":{"next_key":null,"prev_key":null,"before_key":"`+r.body["meta"].(map[string]any)["before_key"].(string)+`","page":0,"total_pages":0},"cursor":null,"has_more":false}` {
				t.Errorf("empty list %s", r.raw)
			}
			// Another account's cursor is refused.
			other := e.doAs(evOtherKey, "GET", "/v1/subscription_events?per_page=3&cursor="+url.QueryEscape(cursor), "")
			other.wantBadRequest(t, "cursor")
		})
		t.Run("bad parameters", func(t *testing.T) {
			for query, param := range map[string]string{
				"event_type=subscription_paused":            "event_type",
				"event_date=2024-13-01":                     "event_date",
				"effective_date=tomorrow":                   "effective_date",
				"with_disabled=maybe":                       "with_disabled",
				"per_page=0":                                "per_page",
				"per_page=-1":                               "per_page",
				"per_page=ten":                              "per_page",
				"cursor=garbage":                            "cursor",
				"cursor=" + url.QueryEscape("cGxhbnM6MTox"): "cursor",
				"page=2": "page",
			} {
				e.do("GET", "/v1/subscription_events?"+query, "").wantBadRequest(t, param)
			}
			// per_page above 200 is clamped, as ChartMogul documents.
			e.do("GET", "/v1/subscription_events?per_page=500", "").want(t, http.StatusOK)
		})
		t.Run("GET body is ignored", func(t *testing.T) {
			if got, _ := e.evList(t, "external_id=e1"); len(got) != 1 {
				t.Errorf("got %v", got)
			}
			e.do("GET", "/v1/subscription_events", "{}").want(t, http.StatusOK)
		})
	})
}

func TestEventUpdate(t *testing.T) {
	evEngines(t, func(t *testing.T, e *evEnv) {
		id := e.create(t, evFields("subscription_start_scheduled", "u1"))
		e.create(t, evFields("subscription_cancelled", "u2"))
		patch := func(body string) evResp { return e.do("PATCH", "/v1/subscription_events", body) }

		t.Run("by id, as the Ruby client sends it", func(t *testing.T) {
			r := patch(fmt.Sprintf(`{"subscription_event":{"external_id":"u1b","id":%d}}`, id)).want(t, http.StatusOK)
			if r.body["external_id"] != "u1b" || r.id(t) != id || r.body["amount_in_cents"] != json.Number("1000") {
				t.Errorf("body %s", r.raw)
			}
			if got := keysOf(t, r.raw); !slices.Equal(got, evKeys) {
				t.Errorf("keys %v", got)
			}
		})
		t.Run("by data source and external id", func(t *testing.T) {
			r := patch(`{"subscription_event":{"data_source_uuid":"`+e.ds+`","external_id":"u1b","amount_in_cents":2500,"effective_date":"2022-03-15","quantity":3}}`).want(t, http.StatusOK)
			if r.body["amount_in_cents"] != json.Number("2500") || r.body["effective_date"] != "2022-03-15T00:00:00Z" || r.body["quantity"] != json.Number("3") ||
				r.body["plan_external_id"] != "gold" {
				t.Errorf("body %s", r.raw)
			}
			// id given as a string, unwrapped
			patch(fmt.Sprintf(`{"id":"%d","currency":"EUR"}`, id)).want(t, http.StatusOK)
			if got, _ := e.evList(t, "currency=x&external_id=u1b"); len(got) != 1 {
				t.Errorf("list after update: %v", got)
			}
		})
		t.Run("validated with the record rules", func(t *testing.T) {
			for body, field := range map[string]string{
				fmt.Sprintf(`{"subscription_event":{"id":%d,"event_type":"subscription_paused"}}`, id):          "event_type",
				fmt.Sprintf(`{"subscription_event":{"id":%d,"amount_in_cents":"5"}}`, id):                       "amount_in_cents",
				fmt.Sprintf(`{"subscription_event":{"id":%d,"customer_external_id":"nobody"}}`, id):             "customer_external_id",
				fmt.Sprintf(`{"subscription_event":{"id":%d,"plan_external_id":"platinum"}}`, id):               "plan_external_id",
				fmt.Sprintf(`{"subscription_event":{"id":%d,"external_id":"u2"}}`, id):                          "external_id",
				fmt.Sprintf(`{"subscription_event":{"id":%d,"currency":"dollars"}}`, id):                        "currency",
				fmt.Sprintf(`{"subscription_event":{"id":%d,"data_source_uuid":"%s"}}`, id, e.ds2):              "data_source_uuid",
				fmt.Sprintf(`{"subscription_event":{"id":%d,"event_type":"subscription_event_retracted"}}`, id): "retracted_event_id",
			} {
				errs := patch(body).want(t, http.StatusUnprocessableEntity).errs(t)
				if _, ok := errs[field]; !ok {
					t.Errorf("%s: errors %v, want %s", body, errs, field)
				}
			}
			dup := patch(fmt.Sprintf(`{"subscription_event":{"id":%d,"external_id":"u2"}}`, id)).want(t, http.StatusUnprocessableEntity)
			if string(bytes.TrimSpace(dup.raw)) != `{"errors":{"external_id":"has already been taken"}}` {
				t.Errorf("duplicate: %s", dup.raw)
			}
			// A refused change changes nothing.
			if got, r := e.evList(t, "external_id=u1b"); len(got) != 1 || r.body["subscription_events"].([]any)[0].(map[string]any)["amount_in_cents"] != json.Number("2500") {
				t.Errorf("after refused changes: %s", r.raw)
			}
		})
		t.Run("identity", func(t *testing.T) {
			patch(`{"subscription_event":{"amount_in_cents":5}}`).wantBadRequest(t, "id")
			patch(`{"subscription_event":{"external_id":"u1b"}}`).wantBadRequest(t, "data_source_uuid")
			patch(`{"subscription_event":{"data_source_uuid":"`+e.ds+`"}}`).wantBadRequest(t, "external_id")
			patch(`{"subscription_event":{"id":"abc"}}`).wantBadRequest(t, "id")
			patch(`{"subscription_event":{"id":true}}`).wantBadRequest(t, "id")
			patch(`{"subscription_event":{"id":999999999}}`).want(t, http.StatusNotFound)
			patch(`{"subscription_event":{"data_source_uuid":"`+e.ds+`","external_id":"nope"}}`).want(t, http.StatusNotFound)
			patch(`{"subscription_event":{"data_source_uuid":"ds_nope","external_id":"u1b"}}`).want(t, http.StatusNotFound)
			// Another account's event is not found.
			e.doAs(evOtherKey, "PATCH", "/v1/subscription_events", fmt.Sprintf(`{"subscription_event":{"id":%d,"amount_in_cents":1}}`, id)).want(t, http.StatusNotFound)
		})
		t.Run("disabled through PATCH, as the Python client does", func(t *testing.T) {
			r := patch(fmt.Sprintf(`{"subscription_event":{"id":%d,"disabled":true}}`, id)).want(t, http.StatusOK)
			if r.body["disabled"] != true || r.body["disabled_at"] == nil {
				t.Errorf("body %s", r.raw)
			}
			r = patch(fmt.Sprintf(`{"subscription_event":{"id":%d,"disabled":false}}`, id)).want(t, http.StatusOK)
			if r.body["disabled"] != false || r.body["disabled_at"] != nil {
				t.Errorf("body %s", r.raw)
			}
			patch(fmt.Sprintf(`{"subscription_event":{"id":%d,"disabled":"yes"}}`, id)).wantBadRequest(t, "disabled")
		})
	})
}

func TestEventDelete(t *testing.T) {
	evEngines(t, func(t *testing.T, e *evEnv) {
		del := func(path, body string) evResp { return e.do("DELETE", "/v1/subscription_events"+path, body) }
		gone := func(t *testing.T, ext string) {
			t.Helper()
			if got, _ := e.evList(t, "with_disabled=true&external_id="+ext); len(got) != 0 {
				t.Errorf("%s is still listed", ext)
			}
		}
		wantNoContent := func(t *testing.T, r evResp) {
			t.Helper()
			if r.status != http.StatusNoContent || len(r.raw) != 0 {
				t.Fatalf("status %d body %s, want 204 and no body", r.status, r.raw)
			}
		}
		t.Run("JSON body by id (Node, Go, PHP, Python)", func(t *testing.T) {
			id := e.create(t, evFields("subscription_cancelled", "d1"))
			wantNoContent(t, del("", fmt.Sprintf(`{"subscription_event":{"id":%d}}`, id)))
			gone(t, "d1")
		})
		t.Run("JSON body by data source and external id", func(t *testing.T) {
			e.create(t, evFields("subscription_cancelled", "d2"))
			wantNoContent(t, del("", `{"subscription_event":{"data_source_uuid":"`+e.ds+`","external_id":"d2"}}`))
			gone(t, "d2")
		})
		t.Run("bracketed query parameters (Ruby)", func(t *testing.T) {
			id := e.create(t, evFields("subscription_cancelled", "d3"))
			wantNoContent(t, del(fmt.Sprintf("?subscription_event%%5Bid%%5D=%d", id), ""))
			gone(t, "d3")
			e.create(t, evFields("subscription_cancelled", "d4"))
			wantNoContent(t, del("?"+url.Values{"subscription_event[data_source_uuid]": {e.ds}, "subscription_event[external_id]": {"d4"}}.Encode(), ""))
			gone(t, "d4")
		})
		t.Run("errors", func(t *testing.T) {
			id := e.create(t, evFields("subscription_cancelled", "d5"))
			del("", `{"subscription_event":{"id":999999999}}`).want(t, http.StatusNotFound)
			del("?subscription_event%5Bid%5D=999999999", "").want(t, http.StatusNotFound)
			del("", "").wantBadRequest(t, "id")
			del("", `{"subscription_event":{}}`).wantBadRequest(t, "id")
			del("?subscription_event%5Bid%5D=x", "").wantBadRequest(t, "id")
			del("", `{"subscription_event":{"data_source_uuid":"`+e.ds+`","external_id":"nope"}}`).want(t, http.StatusNotFound)
			del("", `{"subscription_event":`).want(t, http.StatusBadRequest)
			r := e.doAs(evOtherKey, "DELETE", "/v1/subscription_events", fmt.Sprintf(`{"subscription_event":{"id":%d}}`, id)).want(t, http.StatusNotFound)
			if r.body["error"] != "Subscription event not found" {
				t.Errorf("body %s", r.raw)
			}
			if got, _ := e.evList(t, "external_id=d5"); len(got) != 1 {
				t.Errorf("d5 was deleted by another account")
			}
			wantNoContent(t, del("", fmt.Sprintf(`{"subscription_event":{"id":%d}}`, id)))
			del("", fmt.Sprintf(`{"subscription_event":{"id":%d}}`, id)).want(t, http.StatusNotFound)
		})
	})
}

func TestEventDisabledState(t *testing.T) {
	evEngines(t, func(t *testing.T, e *evEnv) {
		id := e.create(t, evFields("subscription_cancelled", "x1"))
		listed := func(t *testing.T, query string) bool {
			t.Helper()
			got, _ := e.evList(t, query+"external_id=x1")
			return len(got) == 1
		}
		check := func(t *testing.T, r evResp, disabled bool) {
			t.Helper()
			r.want(t, http.StatusOK)
			if r.body["disabled"] != disabled || (r.body["disabled_at"] != nil) != disabled || r.id(t) != id {
				t.Fatalf("disabled %v: body %s", disabled, r.raw)
			}
			if at, _ := r.body["disabled_at"].(string); disabled && !secondsLayout.MatchString(at) {
				t.Errorf("disabled_at %q", at)
			}
			if got := keysOf(t, r.raw); !slices.Equal(got, evKeys) {
				t.Errorf("keys %v", got)
			}
			if listed(t, "") == disabled || !listed(t, "with_disabled=true&") {
				t.Errorf("disabled %v: listed %v, with_disabled %v", disabled, listed(t, ""), listed(t, "with_disabled=true&"))
			}
		}
		path := fmt.Sprintf("/v1/subscription_events/%d/disabled_state", id)
		t.Run("by id", func(t *testing.T) {
			check(t, e.do("PATCH", path, `{"disabled":true}`), true)
			check(t, e.do("PATCH", path, `{"disabled":false}`), false)
			check(t, e.do("PATCH", fmt.Sprintf("/v1/subscription_events/%d/disabled_status", id), `{"disabled":true}`), true)
			check(t, e.do("PATCH", path, `{"disabled":false}`), false)
		})
		t.Run("Ruby body", func(t *testing.T) {
			check(t, e.do("PATCH", "/v1/subscription_events/disabled_state", `{"subscription_event":{"data_source_uuid":"`+e.ds+`","external_id":"x1"},"disabled":true}`), true)
			check(t, e.do("PATCH", "/v1/subscription_events/disabled_state", `{"subscription_event":{"data_source_uuid":"`+e.ds+`","external_id":"x1"},"disabled":false}`), false)
		})
		t.Run("Python body", func(t *testing.T) {
			check(t, e.do("PATCH", "/v1/subscription_events/disabled_state", `{"data_source_uuid":"`+e.ds+`","external_id":"x1","disabled":true}`), true)
			check(t, e.do("PATCH", "/v1/subscription_events/disabled_state", `{"data_source_uuid":"`+e.ds+`","external_id":"x1","disabled":false}`), false)
		})
		t.Run("errors", func(t *testing.T) {
			e.do("PATCH", path, `{}`).wantBadRequest(t, "disabled")
			e.do("PATCH", path, ``).wantBadRequest(t, "disabled")
			e.do("PATCH", path, `{"disabled":"true"}`).wantBadRequest(t, "disabled")
			e.do("PATCH", path, `{"disabled":`).want(t, http.StatusBadRequest)
			e.do("PATCH", "/v1/subscription_events/999999999/disabled_state", `{"disabled":true}`).want(t, http.StatusNotFound)
			e.do("PATCH", "/v1/subscription_events/abc/disabled_state", `{"disabled":true}`).want(t, http.StatusNotFound)
			e.doAs(evOtherKey, "PATCH", path, `{"disabled":true}`).want(t, http.StatusNotFound)
			e.do("PATCH", "/v1/subscription_events/disabled_state", `{"data_source_uuid":"`+e.ds+`","external_id":"nope","disabled":true}`).want(t, http.StatusNotFound)
			e.do("PATCH", "/v1/subscription_events/disabled_state", `{"external_id":"x1","disabled":true}`).wantBadRequest(t, "data_source_uuid")
			e.do("PATCH", "/v1/subscription_events/disabled_state", `{"subscription_event":{"data_source_uuid":"`+e.ds+`","external_id":"x1"}}`).wantBadRequest(t, "disabled")
			e.doAs(evOtherKey, "PATCH", "/v1/subscription_events/disabled_state", `{"data_source_uuid":"`+e.ds+`","external_id":"x1","disabled":true}`).want(t, http.StatusNotFound)
			if !listed(t, "") {
				t.Error("a refused request changed the event")
			}
		})
	})
}

func TestEventRetractions(t *testing.T) {
	evEngines(t, func(t *testing.T, e *evEnv) {
		retracted := func(t *testing.T, ext string) bool {
			t.Helper()
			got, r := e.evList(t, "with_disabled=true&external_id="+ext)
			if len(got) != 1 {
				t.Fatalf("%s: %s", ext, r.raw)
			}
			return r.body["subscription_events"].([]any)[0].(map[string]any)["retracted"] == true
		}
		post := func(f map[string]any) evResp { return e.do("POST", "/v1/subscription_events", e.evWrap(f)) }
		generic := func(ext string, target any) map[string]any {
			f := evFields(chartmogul.EventSubscriptionEventRetracted, ext)
			delete(f, "subscription_external_id")
			f["retracted_event_id"] = target
			return f
		}

		t.Run("generic, by id and by external id", func(t *testing.T) {
			id := e.create(t, evFields("subscription_cancelled", "g1"))
			r := post(generic("g1_undo", fmt.Sprint(id))).want(t, http.StatusCreated)
			if r.body["retracted_event_id"] != fmt.Sprint(id) || r.body["retracted"] != false {
				t.Errorf("retraction %s", r.raw)
			}
			if !retracted(t, "g1") {
				t.Error("g1 is not retracted")
			}
			// A numeric id is accepted too, and answered as a string.
			e.create(t, evFields("subscription_cancelled", "g2"))
			if r := post(generic("g2_undo", "g2")).want(t, http.StatusCreated); r.body["retracted_event_id"] != "g2" || !retracted(t, "g2") {
				t.Errorf("by external id: %s", r.raw)
			}
			id3 := e.create(t, evFields("subscription_cancelled", "g3"))
			if r := post(generic("g3_undo", id3)).want(t, http.StatusCreated); r.body["retracted_event_id"] != fmt.Sprint(id3) {
				t.Errorf("numeric id: %s", r.raw)
			}
		})
		t.Run("generic, refused", func(t *testing.T) {
			theirs := e.doAs(evOtherKey, "POST", "/v1/subscription_events", strings.Replace(e.evWrap(evFields("subscription_cancelled", "t1")), e.ds, e.otherDS, 1)).want(t, http.StatusCreated).id(t)
			inDS2 := e.create(t, with(evFields("subscription_cancelled", "ds2ev"), "data_source_uuid", e.ds2))
			c2 := e.create(t, with(evFields("subscription_cancelled", "c2ev"), "customer_external_id", "c2"))
			var undoID string
			for _, ev := range e.do("GET", "/v1/subscription_events?external_id=g1_undo", "").body["subscription_events"].([]any) {
				undoID = ev.(map[string]any)["id"].(json.Number).String()
			}
			var g1 string
			for _, ev := range e.do("GET", "/v1/subscription_events?external_id=g1", "").body["subscription_events"].([]any) {
				g1 = ev.(map[string]any)["id"].(json.Number).String()
			}
			for target, msg := range map[string]string{
				"999999999":        "names no subscription event of data source",
				fmt.Sprint(theirs): "names no subscription event of data source",
				fmt.Sprint(inDS2):  "names no subscription event of data source",
				"nope":             "names no subscription event of data source",
				undoID:             "names a subscription_event_retracted event; to undo a retraction, delete or disable it",
				g1:                 "names an event that subscription event " + undoID + " already retracts",
				fmt.Sprint(c2):     `names an event of customer "c2", not of customer "c1"`,
			} {
				errs := post(generic("refused", target)).want(t, http.StatusUnprocessableEntity).errs(t)
				if msg2, _ := errs["retracted_event_id"].(string); !strings.Contains(msg2, msg) {
					t.Errorf("retracting %s: %v, want %q", target, errs, msg)
				}
			}
		})
		t.Run("type-specific retract the latest pending scheduled event", func(t *testing.T) {
			sched := func(ext, date string) {
				e.create(t, with(evFields(chartmogul.EventSubscriptionCancellationScheduled, ext), "subscription_external_id", "subX", "event_date", date))
			}
			undo := func(ext string) evResp {
				return post(with(evFields(chartmogul.EventScheduledSubscriptionCancellationRetract, ext), "subscription_external_id", "subX"))
			}
			sched("cs_late", "2024-02-01")
			sched("cs_early", "2024-01-01")
			// another subscription's and another customer's do not count
			e.create(t, with(evFields(chartmogul.EventSubscriptionCancellationScheduled, "cs_other_sub"), "subscription_external_id", "subY"))
			e.create(t, with(evFields(chartmogul.EventSubscriptionCancellationScheduled, "cs_other_cus"), "subscription_external_id", "subX", "customer_external_id", "c2"))
			undo("cr1").want(t, http.StatusCreated)
			if !retracted(t, "cs_late") || retracted(t, "cs_early") {
				t.Fatalf("the latest by event_date must go first: late %v early %v", retracted(t, "cs_late"), retracted(t, "cs_early"))
			}
			undo("cr2").want(t, http.StatusCreated)
			if !retracted(t, "cs_early") {
				t.Fatal("the second retraction must take the remaining one")
			}
			errs := undo("cr3").want(t, http.StatusUnprocessableEntity).errs(t)
			if msg, _ := errs["subscription_external_id"].(string); !strings.Contains(msg, `there is no pending subscription_cancellation_scheduled event of subscription "subX" of customer "c1"`) {
				t.Errorf("errors %v", errs)
			}
			if retracted(t, "cs_other_sub") || retracted(t, "cs_other_cus") {
				t.Error("another subscription's or customer's event was retracted")
			}
			// Starts and updates are their own kinds.
			errs = post(with(evFields(chartmogul.EventScheduledSubscriptionStartRetracted, "sr"), "subscription_external_id", "subX")).want(t, http.StatusUnprocessableEntity).errs(t)
			if _, ok := errs["subscription_external_id"]; !ok {
				t.Errorf("start retraction without a pending start: %v", errs)
			}
			// Naming an event of the wrong kind is refused.
			var early string
			for _, ev := range e.do("GET", "/v1/subscription_events?external_id=cs_other_sub", "").body["subscription_events"].([]any) {
				early = ev.(map[string]any)["id"].(json.Number).String()
			}
			errs = post(with(evFields(chartmogul.EventScheduledSubscriptionUpdateRetracted, "ur"), "subscription_external_id", "subY", "retracted_event_id", early)).want(t, http.StatusUnprocessableEntity).errs(t)
			if msg, _ := errs["retracted_event_id"].(string); !strings.Contains(msg, "a scheduled_subscription_update_retracted retracts a subscription_update_scheduled event") {
				t.Errorf("errors %v", errs)
			}
			// Disabling a retraction releases its event, which the next
			// retraction may then take; deleting one does too.
			e.do("PATCH", "/v1/subscription_events/disabled_state", `{"data_source_uuid":"`+e.ds+`","external_id":"cr2","disabled":true}`).want(t, http.StatusOK)
			if retracted(t, "cs_early") {
				t.Error("a disabled retraction still retracts")
			}
			undo("cr4").want(t, http.StatusCreated)
			if !retracted(t, "cs_early") {
				t.Error("the released event was not retracted again")
			}
			e.do("DELETE", "/v1/subscription_events", `{"subscription_event":{"data_source_uuid":"`+e.ds+`","external_id":"cr4"}}`)
			if retracted(t, "cs_early") {
				t.Error("a deleted retraction still retracts")
			}
		})
		t.Run("a retraction changed in place keeps or re-resolves its event", func(t *testing.T) {
			a := e.create(t, evFields("subscription_cancelled", "pa"))
			b := e.create(t, evFields("subscription_cancelled", "pb"))
			r := post(generic("pundo", fmt.Sprint(a))).want(t, http.StatusCreated)
			undo := r.id(t)
			e.do("PATCH", "/v1/subscription_events", fmt.Sprintf(`{"subscription_event":{"id":%d,"effective_date":"2022-03-01"}}`, undo)).want(t, http.StatusOK)
			if !retracted(t, "pa") {
				t.Error("an unrelated change released the event")
			}
			e.do("PATCH", "/v1/subscription_events", fmt.Sprintf(`{"subscription_event":{"id":%d,"retracted_event_id":"%d"}}`, undo, b)).want(t, http.StatusOK)
			if retracted(t, "pa") || !retracted(t, "pb") {
				t.Errorf("after retargeting: pa %v pb %v", retracted(t, "pa"), retracted(t, "pb"))
			}
			errs := e.do("PATCH", "/v1/subscription_events", fmt.Sprintf(`{"subscription_event":{"id":%d,"retracted_event_id":"%d"}}`, undo, undo)).want(t, http.StatusUnprocessableEntity).errs(t)
			if msg, _ := errs["retracted_event_id"].(string); !strings.Contains(msg, "names this event itself") {
				t.Errorf("retracting itself: %v", errs)
			}
		})
	})
}

func TestEventAuth(t *testing.T) {
	evEngines(t, func(t *testing.T, e *evEnv) {
		id := e.create(t, evFields("subscription_cancelled", "a1"))
		routes := []struct{ method, path, body string }{
			{"POST", "/v1/subscription_events", e.evWrap(evFields("subscription_cancelled", "a2"))},
			{"GET", "/v1/subscription_events", ""},
			{"PATCH", "/v1/subscription_events", fmt.Sprintf(`{"subscription_event":{"id":%d}}`, id)},
			{"DELETE", "/v1/subscription_events", fmt.Sprintf(`{"subscription_event":{"id":%d}}`, id)},
			{"PATCH", fmt.Sprintf("/v1/subscription_events/%d/disabled_state", id), `{"disabled":true}`},
			{"PATCH", "/v1/subscription_events/disabled_state", `{"data_source_uuid":"` + e.ds + `","external_id":"a1","disabled":true}`},
		}
		for _, rt := range routes {
			r := e.doAs("", rt.method, rt.path, rt.body).want(t, http.StatusUnauthorized)
			if r.body["message"] != "No valid API key provided" {
				t.Errorf("%s %s: %s", rt.method, rt.path, r.raw)
			}
			e.doAs("evtest-key-unknown-0123456789", rt.method, rt.path, rt.body).want(t, http.StatusUnauthorized)
			if rt.method != "GET" {
				e.doAs(evReadKey, rt.method, rt.path, rt.body).want(t, http.StatusForbidden)
			} else {
				e.doAs(evReadKey, rt.method, rt.path, rt.body).want(t, http.StatusOK)
			}
		}
		if got, _ := e.evList(t, "external_id=a1"); len(got) != 1 {
			t.Error("an unauthenticated request changed the event")
		}
	})
}
