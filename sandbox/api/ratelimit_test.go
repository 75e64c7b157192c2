package api_test

// Tests of the request rate limit per account and of the bound on each
// account's unfinished imports, through real HTTP on every engine.

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

const rlTooFast = `{"code":429,"message":"Your request rate has exceeded our rate limit.","param":null}`

// rlOtherKey makes a second account with a key of its own.
func rlOtherKey(t *testing.T, e *obsEnv) string {
	t.Helper()
	acc, err := e.st.EnsureAccount(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.st.CreateKey(context.Background(), acc.ID, chartmogul.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// rlRetryAfter returns the Retry-After seconds of a 429, failing t unless
// it is a whole number within [lo, hi].
func rlRetryAfter(t *testing.T, r obsResponse, lo, hi int) int {
	t.Helper()
	s := r.header.Get("Retry-After")
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		t.Errorf("Retry-After %q, want whole seconds in [%d, %d]", s, lo, hi)
	}
	return n
}

func TestRateLimit(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			// Two requests at once, then one every two seconds: the test
			// ends long before a token comes back.
			e := obsServer(t, db, func(s *api.Server) { s.RateLimit, s.RateBurst = 0.5, 2 })
			other := rlOtherKey(t, e)

			// A wrong key is refused for what it is, and spends nothing.
			for range 5 {
				if r := e.send(t, "GET", "/v1/ping", "rk_not_a_key", nil); r.status != http.StatusUnauthorized {
					t.Fatalf("wrong key: %d %s, want 401", r.status, r.body)
				}
			}
			e.expect(t, http.StatusOK, "GET", "/v1/ping", nil)
			e.expect(t, http.StatusOK, "GET", "/v1/ping", nil)
			r := e.send(t, "GET", "/v1/ping", e.key, nil)
			if r.status != http.StatusTooManyRequests || string(r.body) != rlTooFast {
				t.Fatalf("third request: %d %s, want 429 %s", r.status, r.body, rlTooFast)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("429 Content-Type %q", ct)
			}
			rlRetryAfter(t, r, 1, 2)

			// A refused write did nothing.
			r = e.send(t, "POST", "/v1/data_sources", e.key, []byte(`{"name":"refused"}`))
			if r.status != http.StatusTooManyRequests || string(r.body) != rlTooFast {
				t.Fatalf("write over the limit: %d %s", r.status, r.body)
			}
			list, err := e.st.ListDataSources(context.Background(), e.account.ID, store.DataSourceFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 0 {
				t.Errorf("a write answered 429 stored %d data sources", len(list))
			}

			// The limit is the account's: another account is not slowed.
			for range 2 {
				if r := e.send(t, "GET", "/v1/ping", other, nil); r.status != http.StatusOK {
					t.Errorf("another account's request: %d %s", r.status, r.body)
				}
			}
			// Probes and scrapes are never limited.
			for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
				if r := e.send(t, "GET", p, "", nil); r.status != http.StatusOK {
					t.Errorf("GET %s while the account is limited: %d", p, r.status)
				}
			}
			m := e.scrape(t)
			wantMetric(t, m, `recur_http_rejected_total{reason="rate_limit"}`, 2)
			wantMetric(t, m, `recur_http_requests_total{code="429",route="GET /v1/ping"}`, 1)
			wantMetric(t, m, `recur_http_requests_total{code="429",route="POST /v1/data_sources"}`, 1)
			wantMetric(t, m, `recur_http_requests_total{code="401",route="GET /v1/ping"}`, 5)
		})
	}
}

func TestRateLimitRefills(t *testing.T) {
	e := obsServer(t, storetest.SQLite(t), func(s *api.Server) { s.RateLimit, s.RateBurst = 20, 1 })
	e.expect(t, http.StatusOK, "GET", "/v1/ping", nil)
	r := e.send(t, "GET", "/v1/ping", e.key, nil)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("second request at once: %d, want 429", r.status)
	}
	rlRetryAfter(t, r, 1, 1)
	// Refused requests spend no tokens, so hammering does not starve the
	// client: the token is back 50 ms after the first request.
	for range 5 {
		e.send(t, "GET", "/v1/ping", e.key, nil)
	}
	time.Sleep(60 * time.Millisecond)
	e.expect(t, http.StatusOK, "GET", "/v1/ping", nil)
}

func TestRateLimitOff(t *testing.T) {
	e := obsServer(t, storetest.SQLite(t), nil) // api.New: no limit
	for i := range 100 {
		if r := e.send(t, "GET", "/v1/ping", e.key, nil); r.status != http.StatusOK {
			t.Fatalf("request %d without a limit: %d %s", i, r.status, r.body)
		}
	}
}

func TestImportQueueBound(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			e := obsServer(t, db, func(s *api.Server) { s.MaxQueuedImports = 2 })
			ds := e.createDataSource(t, "queue")
			path := "/v1/data_sources/" + ds + "/json_imports"
			payload := func(ext string) []byte {
				return []byte(`{"external_id":"` + ext + `","customers":[{"external_id":"cus_` + ext + `","name":"Customer ` + ext + `"}]}`)
			}
			// No workers run yet: imports stay queued.
			first := e.expect(t, http.StatusCreated, "POST", path, payload("q1"))
			e.expect(t, http.StatusCreated, "POST", path, payload("q2"))

			const full = `{"code":429,"message":"2 imports of this account are still waiting to be applied; wait for some to finish, then send this one again.","param":null}`
			for _, body := range [][]byte{payload("q3"), []byte(`{"customers":[]}`)} {
				r := e.send(t, "POST", path, e.key, body)
				if r.status != http.StatusTooManyRequests || string(r.body) != full {
					t.Fatalf("import past the bound: %d %s, want 429 %s", r.status, r.body, full)
				}
				rlRetryAfter(t, r, 5, 5)
			}

			// A retry of a stored import lands on it, full or not.
			again := e.expect(t, http.StatusOK, "POST", path, payload("q1"))
			var a, b struct {
				ID string `json:"id"`
			}
			json.Unmarshal(first.body, &a)
			json.Unmarshal(again.body, &b)
			if a.ID == "" || a.ID != b.ID {
				t.Errorf("the retry answered import %q, want %q", b.ID, a.ID)
			}
			// Requests that store nothing get their own answers.
			e.expect(t, http.StatusOK, "POST", path+"?dry_run=true", payload("q3"))
			e.expect(t, http.StatusBadRequest, "POST", path, []byte(`{"customers": [`))
			e.expect(t, http.StatusNotFound, "POST", "/v1/data_sources/ds_00000000-0000-0000-0000-000000000000/json_imports", payload("q3"))

			// Nothing refused was stored.
			r := e.expect(t, http.StatusOK, "GET", path, nil)
			var list struct {
				Imports []struct {
					ExternalID string `json:"external_id"`
				} `json:"json_imports"`
			}
			json.Unmarshal(r.body, &list)
			if len(list.Imports) != 2 {
				t.Fatalf("the data source has %d imports, want the 2 accepted: %s", len(list.Imports), r.body)
			}

			// The bound is per account.
			other := rlOtherKey(t, e)
			r = e.send(t, "POST", "/v1/data_sources", other, []byte(`{"name":"other"}`))
			var ods struct {
				UUID string `json:"uuid"`
			}
			json.Unmarshal(r.body, &ods)
			if r := e.send(t, "POST", "/v1/data_sources/"+ods.UUID+"/json_imports", other, payload("o1")); r.status != http.StatusCreated {
				t.Errorf("another account's import: %d %s", r.status, r.body)
			}

			// Once the queue drains, the refused import goes through.
			e.startWorkers(t)
			e.waitImport(t, ds, a.ID)
			deadline := time.Now().Add(30 * time.Second)
			for {
				r := e.send(t, "POST", path, e.key, payload("q3"))
				if r.status == http.StatusCreated {
					break
				}
				if r.status != http.StatusTooManyRequests || time.Now().After(deadline) {
					t.Fatalf("import after the queue drained: %d %s", r.status, r.body)
				}
				time.Sleep(20 * time.Millisecond)
			}
			m := e.scrape(t)
			if v, _ := metricValue(m, `recur_http_rejected_total{reason="import_queue_full"}`); v < 2 {
				t.Errorf(`recur_http_rejected_total{reason="import_queue_full"} = %v, want at least 2`, v)
			}
		})
	}
}
