package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/api/openapitest"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// oaCheck holds an answer a test of this package received to the OpenAPI
// document (api/openapi.json): a mismatch fails t with the method, path,
// status and what does not match. The HTTP helpers of the package's tests
// call it on every answer.
func oaCheck(t testing.TB, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	v, err := openapitest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(openapitest.Exchange{Request: req, Status: res.StatusCode, Header: res.Header, Body: body}); err != nil {
		t.Error(err)
	}
}

// oaServer serves the API on a fresh SQLite database.
func oaServer(t *testing.T) (*api.Server, *httptest.Server, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.SQLite(t).URL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := api.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv, st
}

// oaParam matches a path parameter of a ServeMux pattern or of the document.
var oaParam = regexp.MustCompile(`\{[^}]*\}`)

// oaOperation turns a ServeMux pattern ("GET /v1/plans/{uuid}", "GET /{$}",
// "GET /assets/{name...}") into the document's method and path, with every
// parameter written {} so that names need not agree.
func oaOperation(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	return strings.ToLower(method), oaParam.ReplaceAllString(path, "{}")
}

// TestOpenAPIDocument checks that api/openapi.json is a valid OpenAPI 3.1
// document (JSON Schema 2020-12 included), that every route the server
// registers has an operation in it, and that it documents no operation the
// server does not serve.
func TestOpenAPIDocument(t *testing.T) {
	v, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.Doc.OpenAPI, "3.1.") {
		t.Errorf("openapi is %q, want 3.1.x", v.Doc.OpenAPI)
	}
	s, _, _ := oaServer(t)
	routes := s.Routes()
	if len(routes) < 90 {
		t.Fatalf("Routes() lists %d patterns; the route helper records too few", len(routes))
	}
	served := map[string]bool{}
	for _, p := range routes {
		m, path := oaOperation(p)
		served[m+" "+path] = true
	}
	documented := map[string]bool{}
	for path, item := range v.Doc.Paths.Map() {
		for m, op := range item.Operations() {
			key := strings.ToLower(m) + " " + oaParam.ReplaceAllString(path, "{}")
			documented[key] = true
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", m, path)
			}
			if len(op.Responses.Map()) == 0 {
				t.Errorf("%s %s lists no responses", m, path)
			}
		}
	}
	for _, p := range routes {
		m, path := oaOperation(p)
		if !documented[m+" "+path] {
			t.Errorf("the server registers %q, but api/openapi.json has no operation %s %s", p, strings.ToUpper(m), path)
		}
	}
	var extra []string
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		t.Errorf("api/openapi.json documents %s, which the server does not register", k)
	}
	t.Logf("%d routes, %d operations", len(routes), len(documented))
}

// TestOpenAPIDirectRoutesServed checks the patterns Routes lists beside the
// route helper's — those Handler registers on its mux directly — against
// the server: each must be answered by its handler, not by the mux's 404
// for an unknown path.
func TestOpenAPIDirectRoutesServed(t *testing.T) {
	_, srv, _ := oaServer(t)
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/", "/assets/app.js", "/openapi.json"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s, want 200", path, res.StatusCode, body)
		}
		oaCheck(t, req, res, body)
	}
}

// TestOpenAPIServed checks GET /openapi.json: no key needed, JSON, the
// embedded document byte for byte.
func TestOpenAPIServed(t *testing.T) {
	_, srv, _ := oaServer(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(method, srv.URL+"/openapi.json", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s /openapi.json without a key: %d %s, want 200", method, res.StatusCode, body)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s /openapi.json: Content-Type %q, want application/json", method, ct)
		}
		if method == http.MethodGet && !bytes.Equal(body, api.OpenAPI()) {
			t.Errorf("GET /openapi.json answered %d bytes that are not the embedded document (%d bytes)", len(body), len(api.OpenAPI()))
		}
		oaCheck(t, req, res, body)
	}
}

// TestOpenAPIValidatorCatchesMismatches checks that the validator the
// tests rely on fails what it should: a member of the wrong type, a member
// outside the object's shape, a missing member, a status the operation does
// not list, a route the document lacks; and that it lets through, with its
// reason, only the deliberate exceptions.
func TestOpenAPIValidatorCatchesMismatches(t *testing.T) {
	v, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	jsonCT := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	check := func(method, path string, status int, header http.Header, body string) error {
		req := httptest.NewRequest(method, "http://recur.test"+path, nil)
		return v.Check(openapitest.Exchange{Request: req, Status: status, Header: header, Body: []byte(body)})
	}
	plan := `{"uuid":"pl_1","data_source_uuid":"ds_1","name":"Gold","interval_count":1,"interval_unit":"month","external_id":"gold"}`
	for _, tc := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		want               string // "" when the answer must pass
	}{
		{"valid plan", "GET", "/v1/plans/pl_1", 200, jsonCT, plan, ""},
		{"valid 404", "GET", "/v1/plans/pl_1", 404, jsonCT, `{"error":"Plan not found"}`, ""},
		{"a number where a string is due", "GET", "/v1/plans/pl_1", 200, jsonCT, strings.Replace(plan, `"Gold"`, `7`, 1), "name"},
		{"null where a number is due", "GET", "/v1/plans/pl_1", 200, jsonCT, strings.Replace(plan, `"interval_count":1`, `"interval_count":null`, 1), "interval_count"},
		{"a member outside the shape", "GET", "/v1/plans/pl_1", 200, jsonCT, strings.Replace(plan, `}`, `,"colour":"red"}`, 1), "colour"},
		{"a missing member", "GET", "/v1/plans/pl_1", 200, jsonCT, strings.Replace(plan, `,"external_id":"gold"`, ``, 1), "external_id"},
		{"a status the operation does not list", "GET", "/v1/plans/pl_1", 201, jsonCT, plan, "status"},
		{"a 404 in the wrong shape", "GET", "/v1/plans/pl_1", 404, jsonCT, `{"message":"nope"}`, "error"},
		{"not JSON", "GET", "/v1/plans/pl_1", 200, http.Header{"Content-Type": {"text/plain"}}, "ok", "text/plain"},
		{"a time in the wrong layout", "GET", "/v1/data_sources/ds_1", 200, jsonCT,
			`{"uuid":"ds_1","name":"a","system":"Custom","created_at":"2024-01-01T00:00:00Z","status":"idle"}`, "created_at"},
		{"an undocumented route", "GET", "/v1/secret", 200, jsonCT, `{}`, "no operation"},
		{"Recur's 404 for an unknown path", "GET", "/v1/secret", 404, jsonCT,
			`{"code":404,"message":"There is no route /v1/secret; the API is served under /v1, e.g. GET /v1/ping.","param":null}`, ""},
		{"Recur's 405", "PUT", "/v1/ping", 405, jsonCT, `{"code":405,"message":"The route /v1/ping does not accept PUT; it accepts GET, HEAD.","param":null}`, ""},
		{"a 404 for an unknown path in the wrong shape", "GET", "/v1/secret", 404, jsonCT, `{"code":"404","message":"There is no route /v1/secret","param":null}`, "code"},
		{"net/http's own 431", "GET", "/v1/ping", 431, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "431 Request Header Fields Too Large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.method, tc.path, tc.status, tc.header, tc.body)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("want it to pass, got %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("want a failure mentioning %q, got none", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("want a failure mentioning %q, got %v", tc.want, err)
			}
		})
	}
	skipped := v.Skipped()
	if len(skipped) != 3 {
		t.Errorf("skipped %v, want the 404, the 405 and the 431 each under its reason", skipped)
	}
}
