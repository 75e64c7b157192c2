package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/recurhq/recur/sandbox/store/storetest"
)

// sizedPayload returns a valid payload of exactly n bytes.
func sizedPayload(t *testing.T, n int) []byte {
	t.Helper()
	const frame = `{"customers":[{"external_id":"sized","name":""}]}`
	if n < len(frame) {
		t.Fatalf("a payload cannot be smaller than %d bytes", len(frame))
	}
	p := strings.Replace(frame, `"name":""`, `"name":"`+strings.Repeat("n", n-len(frame))+`"`, 1)
	if len(p) != n {
		t.Fatalf("sized payload has %d bytes, want %d", len(p), n)
	}
	return []byte(p)
}

// TestHTTPErrors checks the answers to requests Recur refuses: their
// statuses and bodies, in ChartMogul's shapes, always as JSON.
func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			c := startE2EServer(t, db.URL, "--max-payload", "1KB")
			ds := c.createDataSource(t, "Errors")
			other := c.as(createKey(t, db.URL, "other"))
			otherDS := other.createDataSource(t, "Theirs")
			post := func(t *testing.T, body string) *e2eResponse { return c.postImport(t, ds, []byte(body)) }
			badRequest := func(t *testing.T, r *e2eResponse, message, param string) {
				t.Helper()
				p := "null"
				if param != "" {
					p = fmt.Sprintf("%q", param)
				}
				e2eExpectBody(t, r, http.StatusBadRequest, fmt.Sprintf(`{"code":400,"message":%q,"param":%s}`, message, p))
			}

			t.Run("malformed JSON names the byte offset", func(t *testing.T) {
				// The trailing comma at byte 34 is the mistake.
				//              0         1         2         3
				//              0123456789012345678901234567890123456
				body := `{"customers": [{"external_id": "a",}]}`
				r := post(t, body)
				if r.status != http.StatusBadRequest {
					t.Errorf("%s, want 400", r)
				}
				msg := e2eDecode[struct {
					Code    int     `json:"code"`
					Message string  `json:"message"`
					Param   *string `json:"param"`
				}](t, r)
				if msg.Code != 400 || msg.Param != nil || !strings.HasPrefix(msg.Message, "the body is not valid JSON: ") || !strings.HasSuffix(msg.Message, " at byte offset 34") {
					t.Errorf("%s; want code 400, param null and a message naming byte offset 34, where the stray comma is", r)
				}
				r = post(t, `{"customers": [`)
				if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "byte offset") {
					t.Errorf("%s; want 400 naming the byte offset where the JSON ends", r)
				}
				// What follows the object starts at byte 18 (after the space).
				badRequest(t, post(t, `{"customers": []} {}`), "the body must hold one JSON object and nothing after it; more follows at byte offset 18", "")
				badRequest(t, post(t, `{"customers": []}garbage`), "the body must hold one JSON object and nothing after it; more follows at byte offset 17", "")
				badRequest(t, post(t, `[]`), "the body must be one JSON object with the records to import; got an array", "")
				badRequest(t, post(t, ``), "the body is empty; send one JSON object with the records to import", "")
				badRequest(t, post(t, `{"customers": {}}`), "customers must be an array of records; got an object", "customers")
				badRequest(t, post(t, `{"external_id": 7}`), "external_id must be a string naming the import; got the number 7", "external_id")
			})

			t.Run("unknown top-level member", func(t *testing.T) {
				badRequest(t, post(t, `{"customers": [], "invoice": []}`),
					`the payload has an unknown top-level member "invoice"; a bulk import may hold external_id, customers, plans, invoices, line_items, transactions and subscription_events`,
					"invoice")
			})

			t.Run("payload over --max-payload", func(t *testing.T) {
				e2eExpectBody(t, c.postImport(t, ds, sizedPayload(t, 1025)), http.StatusRequestEntityTooLarge,
					`{"code":413,"message":"The payload is over the limit of 1024 bytes; split it into several imports, keeping all records of a customer in one.","param":null}`)
				e2eExpectBody(t, c.postImport(t, ds, sizedPayload(t, 4096)), http.StatusRequestEntityTooLarge,
					`{"code":413,"message":"The payload is over the limit of 1024 bytes; split it into several imports, keeping all records of a customer in one.","param":null}`)
				// A body of unknown length (chunked) is cut off at the limit too.
				req, err := http.NewRequest(http.MethodPost, c.base+e2eImportsPath(ds), io.MultiReader(bytes.NewReader(sizedPayload(t, 3000))))
				if err != nil {
					t.Fatal(err)
				}
				req.SetBasicAuth(c.key, "")
				res, err := c.hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r := &e2eResponse{method: "POST (chunked)", path: req.URL.Path, status: res.StatusCode, header: res.Header, body: body}
				checkJSONContentType(t, r)
				e2eExpectBody(t, r, http.StatusRequestEntityTooLarge,
					`{"code":413,"message":"The payload is over the limit of 1024 bytes; split it into several imports, keeping all records of a customer in one.","param":null}`)
				// The limit itself is allowed.
				imp := c.submitImport(t, ds, sizedPayload(t, 1024))
				if done := c.waitImport(t, ds, imp.ID); done.Status != "completed" {
					t.Errorf("a payload of exactly the limit: %s, want completed", done.Status)
				}
			})

			t.Run("API keys", func(t *testing.T) {
				const unauthorized = `{"code":401,"message":"No valid API key provided","param":null}`
				for _, who := range []struct {
					name string
					c    *e2eClient
				}{{"no key", c.as("")}, {"wrong key", c.as("rk_wrong_0123456789abcdefghij")}} {
					for _, req := range []struct{ method, path, body string }{
						{http.MethodPost, e2eImportsPath(ds), `{"customers":[]}`},
						{http.MethodGet, e2eImportsPath(ds), ""},
						{http.MethodGet, "/v1/ping", ""},
						{http.MethodGet, "/v1/customers", ""},
						{http.MethodGet, e2eImportsPath("ds_nope"), ""},
					} {
						var body []byte
						if req.body != "" {
							body = []byte(req.body)
						}
						r := who.c.do(t, req.method, req.path, body)
						e2eExpectBody(t, r, http.StatusUnauthorized, unauthorized)
						if r.header.Get("WWW-Authenticate") == "" {
							t.Errorf("%s %s with %s: no WWW-Authenticate header", req.method, req.path, who.name)
						}
					}
				}
				// The key as password too is fine; another password is not.
				r := c.do(t, http.MethodGet, "/v1/ping", nil, "Authorization", basic(e2eKey, "something-else"))
				e2eExpectBody(t, r, http.StatusUnauthorized, unauthorized)
				r = c.do(t, http.MethodGet, "/v1/ping", nil, "Authorization", basic(e2eKey, e2eKey))
				e2eExpectBody(t, r, http.StatusOK, `{"data":"pong!"}`)
			})

			t.Run("unknown data source", func(t *testing.T) {
				const notFound = `{"error":"Data source not found"}`
				for _, d := range []string{"ds_00000000-0000-0000-0000-000000000000", "nonsense", otherDS} {
					e2eExpectBody(t, c.postImport(t, d, []byte(`{"customers":[]}`)), http.StatusNotFound, notFound)
					e2eExpectBody(t, c.do(t, http.MethodGet, e2eImportsPath(d), nil), http.StatusNotFound, notFound)
					e2eExpectBody(t, c.do(t, http.MethodGet, e2eImportsPath(d)+"/some-import", nil), http.StatusNotFound, notFound)
				}
				// A too-large body for a data source that does not exist is
				// still a 404: the data source is looked up first.
				e2eExpectBody(t, c.postImport(t, otherDS, sizedPayload(t, 2048)), http.StatusNotFound, notFound)
				e2eExpectBody(t, c.do(t, http.MethodGet, e2eImportsPath(ds)+"/no-such-import", nil), http.StatusNotFound, `{"error":"Import not found"}`)
			})

			t.Run("bad paging parameters", func(t *testing.T) {
				for _, path := range []string{e2eImportsPath(ds), "/v1/customers", "/v1/invoices"} {
					badRequest(t, c.do(t, http.MethodGet, path+"?per_page=0", nil), `Parameter "per_page" must be a whole number from 1 to 200; got "0".`, "per_page")
					badRequest(t, c.do(t, http.MethodGet, path+"?page=2", nil), `Parameter "page" is deprecated; use the cursor from the previous page.`, "page")
					badRequest(t, c.do(t, http.MethodGet, path+"?cursor=bm9wZQ", nil),
						`Parameter "cursor" is not a cursor of this list; pass the cursor value of the previous page unchanged, or leave it out for the first page.`, "cursor")
				}
			})

			t.Run("wrong method", func(t *testing.T) {
				for _, req := range []struct{ method, path string }{
					{http.MethodPut, e2eImportsPath(ds)},
					{http.MethodDelete, e2eImportsPath(ds)},
					{http.MethodPatch, "/v1/ping"},
					{http.MethodPost, "/v1/customers/cus_x/nothing"},
				} {
					r := c.do(t, req.method, req.path, []byte(`{}`))
					want := http.StatusMethodNotAllowed
					if strings.HasSuffix(req.path, "/nothing") {
						want = http.StatusNotFound
					}
					if r.status != want {
						t.Errorf("%s, want %d", r, want)
						continue
					}
					body := e2eDecode[map[string]any](t, r)
					if body["code"] != float64(want) || body["param"] != nil || !strings.Contains(fmt.Sprint(body["message"]), req.path) {
						t.Errorf("%s: want a JSON body with code %d and a message naming the route", r, want)
					}
					if want == http.StatusMethodNotAllowed && !strings.Contains(fmt.Sprint(body["message"]), req.method) {
						t.Errorf("%s: the message does not name the method", r)
					}
				}
			})

			// Nothing refused above was stored.
			list := e2eListAll[apiImport](t, c, e2eImportsPath(ds), "json_imports", 200)
			if len(list) != 1 {
				t.Errorf("%d imports stored, want only the one of exactly the limit", len(list))
			}
			if n := len(e2eListAll[apiImport](t, other, e2eImportsPath(otherDS), "json_imports", 200)); n != 0 {
				t.Errorf("%d imports in the other account's data source, want none", n)
			}
		})
	}
}

// basic is an Authorization header value of HTTP Basic authentication.
func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}
