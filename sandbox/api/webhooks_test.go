package api_test

// Completion webhooks through real HTTP on every engine: a data source with
// a webhook URL, imports finished by the real workers, deliveries to an
// httptest receiver that checks the signature as the documentation tells a
// receiver to, retries, and the list of attempts. Helpers carry a wh prefix
// so that they cannot collide with the other test files of the package.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/importer"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// whEnv is one running Recur, wired as `recur serve` wires it, with River
// retrying deliveries after 20 ms instead of 10 s.
type whEnv struct {
	st    *store.Store
	url   string
	key   string
	other string // a key of another account
}

func whEngines(t *testing.T, fn func(t *testing.T, e *whEnv)) {
	t.Helper()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			fn(t, whStart(t, db))
		})
	}
}

func whStart(t *testing.T, db storetest.Database) *whEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db.URL, store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", db.Engine, err)
	}
	st.AfterWrite = st.Touch
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	im := importer.New(st, log)
	im.Webhooks.Render = api.ImportJSON
	im.Webhooks.Backoff = func(int) time.Duration { return 20 * time.Millisecond }
	q, err := st.StartWorkers(ctx, im.Workers(), store.QueueConfig{PollInterval: 5 * time.Millisecond})
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
	e := &whEnv{st: st, url: srv.URL}
	for i, name := range []string{"acme", "other"} {
		a, err := st.EnsureAccount(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		key, err := st.CreateKey(ctx, a.ID, chartmogul.AccessReadWrite)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.key = key
		} else {
			e.other = key
		}
	}
	return e
}

// whResp is an answer read whole.
type whResp struct {
	status int
	body   []byte
}

func (r whResp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %s is not a JSON object: %v", r.body, err)
	}
	return m
}

func (e *whEnv) do(t testing.TB, key, method, path, body string) whResp {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(key, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	oaCheck(t, req, resp, b) // openapi_test.go
	return whResp{resp.StatusCode, b}
}

// want makes a request as the main account and checks its status.
func (e *whEnv) want(t testing.TB, status int, method, path, body string) whResp {
	t.Helper()
	r := e.do(t, e.key, method, path, body)
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body)
	}
	return r
}

// wantBody makes a request and checks its status and exact body.
func (e *whEnv) wantBody(t testing.TB, key string, status int, method, path, body, want string) {
	t.Helper()
	r := e.do(t, key, method, path, body)
	if r.status != status || string(r.body) != want {
		t.Fatalf("%s %s %s: %d %s, want %d %s", method, path, body, r.status, r.body, status, want)
	}
}

// waitImport polls an import until it finished and returns its body.
func (e *whEnv) waitImport(t testing.TB, ds, id string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := e.want(t, http.StatusOK, "GET", "/v1/data_sources/"+ds+"/json_imports/"+id, "")
		if s := r.obj(t)["status"]; s == "completed" || s == "failed" {
			return r.body
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("import %s did not finish within 30s", id)
	return nil
}

// whDeliveries lists an import's delivery attempts.
type whDeliveries struct {
	Deliveries []struct {
		ID           int64   `json:"id"`
		DeliveryID   string  `json:"delivery_id"`
		Event        string  `json:"event"`
		ImportID     string  `json:"import_id"`
		URL          string  `json:"url"`
		Attempt      int     `json:"attempt"`
		Succeeded    bool    `json:"succeeded"`
		StatusCode   *int    `json:"status_code"`
		Error        *string `json:"error"`
		ResponseBody string  `json:"response_body"`
		DurationMS   *int64  `json:"duration_ms"`
		CreatedAt    string  `json:"created_at"`
	} `json:"webhook_deliveries"`
	Cursor  *string `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

func (e *whEnv) deliveries(t testing.TB, ds, id, query string) whDeliveries {
	t.Helper()
	r := e.want(t, http.StatusOK, "GET", "/v1/data_sources/"+ds+"/json_imports/"+id+"/webhook_deliveries"+query, "")
	var out whDeliveries
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("deliveries %s: %v", r.body, err)
	}
	return out
}

// waitDeliveries waits until an import has n recorded attempts.
func (e *whEnv) waitDeliveries(t testing.TB, ds, id string, n int) whDeliveries {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if d := e.deliveries(t, ds, id, ""); len(d.Deliveries) >= n {
			return d
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("import %s has fewer than %d delivery attempts after 30s", id, n)
	return whDeliveries{}
}

// whHit is one request the receiver got.
type whHit struct {
	header http.Header
	body   []byte
	// verified says the signature checked out with the secret the
	// receiver knew then, under the documented scheme.
	verified bool
}

// whReceiver is a webhook endpoint. It verifies each request's signature
// as the documentation tells a receiver to, independently of Recur's code:
// HMAC-SHA256 keyed with the secret over "<X-Recur-Timestamp>.<body>",
// compared in constant time, with the timestamp within five minutes. It
// answers fail's status to the first failures requests (with a body), and
// 204 after.
type whReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	failures int
	fail     int
	hits     []whHit
}

func whReceive(t *testing.T, failures, fail int) *whReceiver {
	rc := &whReceiver{failures: failures, fail: fail}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.hits = append(rc.hits, whHit{header: r.Header.Clone(), body: body, verified: whVerify(rc.secret, r.Header, body, time.Now())})
		if len(rc.hits) <= rc.failures {
			w.WriteHeader(rc.fail)
			io.WriteString(w, "not yet, attempt "+strconv.Itoa(len(rc.hits)))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// whVerify is the documented check, written from the documentation.
func whVerify(secret string, h http.Header, body []byte, now time.Time) bool {
	ts := h.Get("X-Recur-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(h.Get("X-Recur-Signature")))
}

func (rc *whReceiver) setSecret(s string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = s
}

func (rc *whReceiver) got() []whHit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]whHit(nil), rc.hits...)
}

func (rc *whReceiver) waitHits(t testing.TB, n int) []whHit {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if h := rc.got(); len(h) >= n {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the receiver got %d requests in 30s, want %d", len(rc.got()), n)
	return nil
}

const whPayload = `{"external_id":"wh_1",
	"customers":[{"external_id":"cus_1","name":"Ann Example"}],
	"plans":[{"external_id":"plan_bad","name":"Bad","interval_count":1,"interval_unit":"fortnight"}]}`

func TestWebhookDeliveredSignedAndRetried(t *testing.T) {
	whEngines(t, func(t *testing.T, e *whEnv) {
		rc := whReceive(t, 2, http.StatusInternalServerError)
		hook := rc.URL + "/hooks/recur"
		created := e.want(t, http.StatusCreated, "POST", "/v1/data_sources", `{"name":"Billing","webhook_url":"`+hook+`"}`).obj(t)
		secret, _ := created["webhook_secret"].(string)
		if created["webhook_url"] != hook || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("created data source: %v", created)
		}
		rc.setSecret(secret)
		ds := created["uuid"].(string)
		// The secret is shown once; the URL always.
		shown := e.want(t, http.StatusOK, "GET", "/v1/data_sources/"+ds, "").obj(t)
		if shown["webhook_url"] != hook || shown["webhook_secret"] != nil {
			t.Fatalf("GET data source: %v", shown)
		}
		list := e.want(t, http.StatusOK, "GET", "/v1/data_sources", "").obj(t)["data_sources"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["webhook_url"] != hook {
			t.Fatalf("list: %v", list)
		}

		imp := e.want(t, http.StatusCreated, "POST", "/v1/data_sources/"+ds+"/json_imports", whPayload).obj(t)["id"].(string)
		final := e.waitImport(t, ds, imp)
		hits := rc.waitHits(t, 3)
		d := e.waitDeliveries(t, ds, imp, 3)

		// Three attempts: two 500s, then the 204 that ends it.
		time.Sleep(100 * time.Millisecond) // nothing more may come
		if hits = rc.got(); len(hits) != 3 {
			t.Fatalf("the receiver got %d requests, want 3", len(hits))
		}
		for i, h := range hits {
			if !bytes.Equal(h.body, final) {
				t.Fatalf("attempt %d body differs from GET import:\n%s\n%s", i+1, h.body, final)
			}
			if !h.verified {
				t.Fatalf("attempt %d: the signature %q over timestamp %q does not verify", i+1, h.header.Get("X-Recur-Signature"), h.header.Get("X-Recur-Timestamp"))
			}
			for name, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "recur-webhooks",
				"X-Recur-Event": "import.completed", "X-Recur-Delivery": hits[0].header.Get("X-Recur-Delivery")} {
				if got := h.header.Get(name); got != want || got == "" {
					t.Fatalf("attempt %d: %s = %q, want %q", i+1, name, got, want)
				}
			}
		}
		// A body changed in transit, or a replayed body with a fresh
		// timestamp, fails the check.
		tampered := hits[2].header.Clone()
		if whVerify(secret, tampered, append([]byte(" "), hits[2].body...), time.Now()) {
			t.Fatal("a changed body verified")
		}
		tampered.Set("X-Recur-Timestamp", strconv.FormatInt(time.Now().Unix()+1, 10))
		if whVerify(secret, tampered, hits[2].body, time.Now()) {
			t.Fatal("a changed timestamp verified")
		}
		if whVerify(secret, hits[2].header, hits[2].body, time.Now().Add(time.Hour)) {
			t.Fatal("a request an hour old verified")
		}

		// Every attempt is visible, newest first.
		if len(d.Deliveries) != 3 || d.HasMore || d.Cursor != nil {
			t.Fatalf("deliveries: %+v", d)
		}
		for i, a := range d.Deliveries {
			attempt := 3 - i
			if a.Attempt != attempt || a.URL != hook || a.Event != "import.completed" || a.ImportID != imp || a.DurationMS == nil ||
				a.DeliveryID != hits[0].header.Get("X-Recur-Delivery") || a.CreatedAt == "" {
				t.Fatalf("attempt %d listed as %+v", attempt, a)
			}
			if attempt == 3 {
				if !a.Succeeded || a.StatusCode == nil || *a.StatusCode != 204 || a.Error != nil || a.ResponseBody != "" {
					t.Fatalf("the last attempt: %+v", a)
				}
				continue
			}
			if a.Succeeded || a.StatusCode == nil || *a.StatusCode != 500 || a.Error == nil || !strings.Contains(*a.Error, "500") ||
				a.ResponseBody != "not yet, attempt "+strconv.Itoa(attempt) {
				t.Fatalf("failed attempt %d: %+v", attempt, a)
			}
		}
		// Paged like the other lists.
		p1 := e.deliveries(t, ds, imp, "?per_page=2")
		if len(p1.Deliveries) != 2 || !p1.HasMore || p1.Cursor == nil || p1.Deliveries[0].Attempt != 3 {
			t.Fatalf("page 1: %+v", p1)
		}
		p2 := e.deliveries(t, ds, imp, "?per_page=2&cursor="+*p1.Cursor)
		if len(p2.Deliveries) != 1 || p2.HasMore || p2.Cursor != nil || p2.Deliveries[0].Attempt != 1 {
			t.Fatalf("page 2: %+v", p2)
		}
		// The import's external id names it too.
		if byExt := e.deliveries(t, ds, "wh_1", ""); len(byExt.Deliveries) != 3 {
			t.Fatalf("by external id: %+v", byExt)
		}

		// Another account sees none of it; unknown imports are 404.
		path := "/v1/data_sources/" + ds + "/json_imports/" + imp + "/webhook_deliveries"
		e.wantBody(t, e.other, http.StatusNotFound, "GET", path, "", `{"error":"Data source not found"}`)
		e.wantBody(t, e.key, http.StatusNotFound, "GET", "/v1/data_sources/"+ds+"/json_imports/nope/webhook_deliveries", "", `{"error":"Import not found"}`)
		e.wantBody(t, e.key, http.StatusBadRequest, "GET", path+"?per_page=0", "",
			`{"code":400,"message":"Parameter \"per_page\" must be a whole number from 1 to 200; got \"0\".","param":"per_page"}`)
	})
}

func TestWebhookFailedImportAndRotation(t *testing.T) {
	whEngines(t, func(t *testing.T, e *whEnv) {
		rc := whReceive(t, 0, 0)
		ds := e.want(t, http.StatusCreated, "POST", "/v1/data_sources", `{"name":"Billing"}`).obj(t)["uuid"].(string)
		set := e.want(t, http.StatusOK, "PATCH", "/v1/data_sources/"+ds, `{"webhook_url":"`+rc.URL+`"}`).obj(t)
		first, _ := set["webhook_secret"].(string)
		rotated := e.want(t, http.StatusOK, "PATCH", "/v1/data_sources/"+ds, `{"rotate_webhook_secret":true}`).obj(t)
		secret, _ := rotated["webhook_secret"].(string)
		if first == "" || secret == "" || secret == first || rotated["webhook_url"] != rc.URL {
			t.Fatalf("set %v, then rotated %v", set, rotated)
		}
		rc.setSecret(secret)

		// Nothing importable: the import fails, and says so.
		imp := e.want(t, http.StatusCreated, "POST", "/v1/data_sources/"+ds+"/json_imports", `{"external_id":"empty","customers":[]}`).obj(t)["id"].(string)
		final := e.waitImport(t, ds, imp)
		hits := rc.waitHits(t, 1)
		if ev := hits[0].header.Get("X-Recur-Event"); ev != "import.failed" {
			t.Fatalf("X-Recur-Event = %q, want import.failed", ev)
		}
		if !bytes.Equal(hits[0].body, final) || !strings.Contains(string(final), `"status":"failed"`) {
			t.Fatalf("body %s, want GET's %s", hits[0].body, final)
		}
		if !hits[0].verified {
			t.Fatal("the delivery is not signed with the rotated secret")
		}
		d := e.waitDeliveries(t, ds, imp, 1)
		if a := d.Deliveries[0]; len(d.Deliveries) != 1 || !a.Succeeded || a.Event != "import.failed" || a.Attempt != 1 {
			t.Fatalf("deliveries: %+v", d)
		}

		// Cleared: the next import is announced to no one.
		cleared := e.want(t, http.StatusOK, "PATCH", "/v1/data_sources/"+ds, `{"webhook_url":null}`).obj(t)
		if _, has := cleared["webhook_url"]; has || cleared["webhook_secret"] != nil {
			t.Fatalf("cleared: %v", cleared)
		}
		imp2 := e.want(t, http.StatusCreated, "POST", "/v1/data_sources/"+ds+"/json_imports", whPayload).obj(t)["id"].(string)
		e.waitImport(t, ds, imp2)
		time.Sleep(300 * time.Millisecond)
		if n := len(rc.got()); n != 1 {
			t.Fatalf("the receiver got %d requests, want only the first import's", n)
		}
		if d := e.deliveries(t, ds, imp2, ""); len(d.Deliveries) != 0 || d.HasMore {
			t.Fatalf("deliveries of an import without a webhook: %+v", d)
		}
	})
}

func TestWebhookNotConfiguredEnqueuesNothing(t *testing.T) {
	whEngines(t, func(t *testing.T, e *whEnv) {
		rc := whReceive(t, 0, 0)
		// An empty webhook_url is no webhook; the answer keeps the
		// recorded key set.
		created := e.want(t, http.StatusCreated, "POST", "/v1/data_sources", `{"name":"Billing","webhook_url":""}`).obj(t)
		if len(created) != 5 || created["webhook_url"] != nil || created["webhook_secret"] != nil {
			t.Fatalf("created: %v", created)
		}
		ds := created["uuid"].(string)
		imp := e.want(t, http.StatusCreated, "POST", "/v1/data_sources/"+ds+"/json_imports", whPayload).obj(t)["id"].(string)
		e.waitImport(t, ds, imp)
		time.Sleep(300 * time.Millisecond)
		if n := len(rc.got()); n != 0 {
			t.Fatalf("the receiver got %d requests from a data source without a webhook", n)
		}
		if d := e.deliveries(t, ds, imp, ""); len(d.Deliveries) != 0 {
			t.Fatalf("deliveries: %+v", d)
		}
		depth, err := e.st.QueueDepth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range depth {
			if q.Queue == store.QueueWebhooks && q.Jobs != 0 {
				t.Fatalf("webhook jobs: %+v", q)
			}
		}
	})
}

func TestWebhookSettingsErrors(t *testing.T) {
	whEngines(t, func(t *testing.T, e *whEnv) {
		const want = "webhook_url must be an absolute http:// or https:// URL, such as https://example.com/hooks/recur; got "
		for _, bad := range []string{"example.com/hook", "ftp://example.com/hook", "https://", "/relative"} {
			body, _ := json.Marshal(map[string]string{"name": "Billing", "webhook_url": bad})
			msg, _ := json.Marshal(want + chartmogul.Quote(bad) + ".")
			e.wantBody(t, e.key, http.StatusUnprocessableEntity, "POST", "/v1/data_sources", string(body), `{"errors":{"webhook_url":`+string(msg)+`}}`)
		}
		// A refused URL creates no data source.
		if got := e.want(t, http.StatusOK, "GET", "/v1/data_sources", "").obj(t)["data_sources"].([]any); len(got) != 0 {
			t.Fatalf("data sources after refused creates: %v", got)
		}
		if r := e.do(t, e.key, "POST", "/v1/data_sources", `{"name":"Billing","webhook_url":5}`); r.status != http.StatusBadRequest || r.obj(t)["param"] != "webhook_url" {
			t.Fatalf("webhook_url 5: %d %s", r.status, r.body)
		}

		ds := e.want(t, http.StatusCreated, "POST", "/v1/data_sources", `{"name":"Billing"}`).obj(t)["uuid"].(string)
		path := "/v1/data_sources/" + ds
		e.wantBody(t, e.key, http.StatusUnprocessableEntity, "PATCH", path, `{"webhook_url":"hooks.example.com"}`,
			`{"errors":{"webhook_url":"`+want+`\"hooks.example.com\"."}}`)
		e.wantBody(t, e.key, http.StatusBadRequest, "PATCH", path, `{"webhook_url":123}`,
			`{"code":400,"message":"The request body has a member of the wrong type at /webhook_url: want a string (the URL) or null (no webhook); got \"123\".","param":"webhook_url"}`)
		e.wantBody(t, e.key, http.StatusUnprocessableEntity, "PATCH", path, `{"rotate_webhook_secret":true}`,
			`{"errors":{"rotate_webhook_secret":"The data source has no webhook_url to sign for; set webhook_url first (a new secret comes with it)."}}`)
		e.wantBody(t, e.key, http.StatusUnprocessableEntity, "PATCH", path, `{"webhook_url":null,"rotate_webhook_secret":true}`,
			`{"errors":{"rotate_webhook_secret":"rotate_webhook_secret cannot go with clearing webhook_url: a data source without a webhook has no secret."}}`)
		e.wantBody(t, e.other, http.StatusNotFound, "PATCH", path, `{"webhook_url":"https://example.com/h"}`, `{"error":"Data source not found"}`)
		e.wantBody(t, e.key, http.StatusNotFound, "PATCH", "/v1/data_sources/ds_00000000-0000-0000-0000-000000000000", `{}`, `{"error":"Data source not found"}`)

		// Nothing asked, nothing changed; no key set grows.
		if got := e.want(t, http.StatusOK, "PATCH", path, `{}`).obj(t); len(got) != 5 || got["uuid"] != ds {
			t.Fatalf("empty PATCH: %v", got)
		}
		set := e.want(t, http.StatusOK, "PATCH", path, `{"webhook_url":"https://example.com/a"}`).obj(t)
		if set["webhook_url"] != "https://example.com/a" || set["webhook_secret"] == nil || len(set) != 7 {
			t.Fatalf("set: %v", set)
		}
		// Another URL keeps the secret, which is not shown again.
		moved := e.want(t, http.StatusOK, "PATCH", path, `{"webhook_url":"https://example.com/b","name":"ignored"}`).obj(t)
		if moved["webhook_url"] != "https://example.com/b" || moved["webhook_secret"] != nil || moved["name"] != "Billing" {
			t.Fatalf("moved: %v", moved)
		}
		// Read-only keys may not change it.
		ctx := context.Background()
		acc, _ := e.st.EnsureAccount(ctx, "acme")
		ro, err := e.st.CreateKey(ctx, acc.ID, chartmogul.AccessReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		if r := e.do(t, ro, "PATCH", path, `{"webhook_url":null}`); r.status != http.StatusForbidden {
			t.Fatalf("read-only PATCH: %d %s", r.status, r.body)
		}
	})
}
