// Package openapitest holds Recur's answers to its OpenAPI document: the
// tests of package api and the end-to-end tests of cmd/recur hand every
// request they make and the answer they got to a Validator, which fails
// them when the answer does not match the document (api/openapi.json).
//
// Only tests import this package: it pulls in kin-openapi, which the
// binary does not need.
//
// The document describes Recur's routes. A few answers come from outside
// them, and tests provoke them on purpose; each such case is a Skip with
// its reason (see skips), never a silent pass:
//   - a path or method the API does not serve: Recur answers its own JSON
//     404 or 405, which is checked against the CodeError schema instead of
//     an operation (a request the document does not describe cannot be
//     held to an operation, but its body still must be ChartMogul's);
//   - answers net/http writes itself before any handler runs (431 for
//     oversized headers), which are plain text.
//
// Any other request the document's router cannot place is a failure: the
// server answered a route the document does not describe.
//
// RECUR_OPENAPI_COVERAGE=FILE makes every Validator append to FILE one line
// per answer it checked, "<operationId> <status>" (or "skipped: <reason>"),
// so that a run of the tests shows which operations and statuses they
// exercise, which parts of the document no answer ever held to, and what
// was let through (sort FILE | uniq -c).
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/recurhq/recur/sandbox/api"
)

// Validator checks answers against the document.
type Validator struct {
	// Doc is the loaded document.
	Doc    *openapi3.T
	router routers.Router
	// codeError is the schema of the no-route 404 and 405 bodies.
	codeError *openapi3.Schema

	mu      sync.Mutex
	skipped map[string]int
}

// Load reads api.OpenAPI(), checks it is a valid OpenAPI document (with
// JSON Schema 2020-12, as 3.1 documents are checked), and makes its router.
func Load() (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("openapi.json does not load: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.IsOpenAPI31OrLater()); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI 3.1 document: %w", err)
	}
	// The router matches paths only: the document's one server ("/") names
	// whatever host serves it, and tests serve on random ports.
	servers := doc.Servers
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	doc.Servers = servers
	if err != nil {
		return nil, fmt.Errorf("openapi.json: router: %w", err)
	}
	ce := doc.Components.Schemas["CodeError"]
	if ce == nil || ce.Value == nil {
		return nil, errors.New("openapi.json has no CodeError schema")
	}
	return &Validator{Doc: doc, router: router, codeError: ce.Value, skipped: map[string]int{}}, nil
}

// Shared is the process's Validator, loaded once.
var Shared = sync.OnceValues(Load)

// Exchange is one request and the answer to it.
type Exchange struct {
	// Request is the request as sent: its method, URL (the path and
	// query are used) and headers.
	Request *http.Request
	Status  int
	Header  http.Header
	Body    []byte
}

// skip is an answer the document deliberately does not describe.
type skip struct {
	reason string
	match  func(x *Exchange) bool
}

// skips are the answers of net/http itself, which no document of Recur's
// routes can describe.
var skips = []skip{
	{
		reason: "431 from net/http: headers over the server's MaxHeaderBytes are refused before any handler runs, with a plain-text body",
		match: func(x *Exchange) bool {
			return x.Status == http.StatusRequestHeaderFieldsTooLarge && strings.HasPrefix(x.Header.Get("Content-Type"), "text/plain")
		},
	},
}

// Skipped returns how many answers were skipped, by reason.
func (v *Validator) Skipped() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.skipped))
	for k, n := range v.skipped {
		out[k] = n
	}
	return out
}

func (v *Validator) skip(reason string) {
	v.mu.Lock()
	v.skipped[reason]++
	v.mu.Unlock()
	coverage("skipped:", reason)
}

// Check validates one answer against the document: its status must be one
// the operation lists, its Content-Type one the response lists, and its
// body must match the response's schema. It returns nil when the answer
// matches or is one of the deliberate exceptions (counted in Skipped), and
// otherwise an error naming the method, path, status and mismatch.
func (v *Validator) Check(x Exchange) error {
	for _, s := range skips {
		if s.match(&x) {
			v.skip(s.reason)
			return nil
		}
	}
	req := x.Request
	// HEAD is GET without a body: route it as GET, check its status.
	lookup := req
	if req.Method == http.MethodHead {
		lookup = req.Clone(context.Background())
		lookup.Method = http.MethodGet
	}
	route, params, err := v.router.FindRoute(lookup)
	if err != nil {
		return v.unrouted(x, err)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: lookup, PathParams: params, Route: route},
		Status:                 x.Status,
		Header:                 x.Header,
		Body:                   io.NopCloser(bytes.NewReader(x.Body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			ExcludeResponseBody:   req.Method == http.MethodHead,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return v.fail(x, route.Operation.OperationID, err)
	}
	coverage(route.Operation.OperationID, x.Status)
	return nil
}

// coverage records a checked answer in RECUR_OPENAPI_COVERAGE's file.
func coverage(operation string, status any) {
	name := os.Getenv("RECUR_OPENAPI_COVERAGE")
	if name == "" {
		return
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %v\n", operation, status)
}

// unrouted handles an answer to a request the document's router cannot
// place. Recur answers an unknown path with its JSON 404 and a known path
// with another method with its JSON 405 (api/errors.go, jsonErrors): those
// bodies are checked against CodeError. Anything else means the server
// serves a route the document lacks.
func (v *Validator) unrouted(x Exchange, routeErr error) error {
	var body struct {
		Message string `json:"message"`
	}
	json.Unmarshal(x.Body, &body)
	var reason string
	switch {
	case errors.Is(routeErr, routers.ErrPathNotFound) && x.Status == http.StatusNotFound && strings.HasPrefix(body.Message, "There is no route "):
		reason = "a path the API does not serve: Recur's 404, checked against CodeError"
	case x.Status == http.StatusMethodNotAllowed && strings.HasPrefix(body.Message, "The route "):
		reason = "a method the path does not accept: Recur's 405, checked against CodeError"
	default:
		return fmt.Errorf("OpenAPI: %s %s answered %d, but the document has no operation for it (%v): document the route, or the server serves one it should not. Body: %s",
			x.Request.Method, x.Request.URL.RequestURI(), x.Status, routeErr, excerpt(x.Body))
	}
	if ct := x.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("OpenAPI: %s %s answered %d with Content-Type %q; Recur's own 404 and 405 are JSON", x.Request.Method, x.Request.URL.RequestURI(), x.Status, ct)
	}
	var value any
	if err := json.Unmarshal(x.Body, &value); err != nil {
		return fmt.Errorf("OpenAPI: %s %s answered %d with a body that is not JSON: %v", x.Request.Method, x.Request.URL.RequestURI(), x.Status, err)
	}
	if err := v.codeError.VisitJSON(value, openapi3.EnableJSONSchema2020()); err != nil {
		return v.fail(x, "(no route)", err)
	}
	v.skip(reason)
	return nil
}

// fail words a mismatch: the exchange, the operation, the first lines of
// kin-openapi's reason (without its dumps of the whole schema and value)
// and the start of the body.
func (v *Validator) fail(x Exchange, operation string, err error) error {
	return fmt.Errorf("OpenAPI: %s %s answered %d (Content-Type %q), which does not match operation %s of api/openapi.json: %s\nbody: %s",
		x.Request.Method, x.Request.URL.RequestURI(), x.Status, x.Header.Get("Content-Type"), operation, reason(err), excerpt(x.Body))
}

// reason trims kin-openapi's error: it appends the whole schema and value
// after "Schema:" and "Value:" lines, which drown the one line that says
// what is wrong.
func reason(err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		t := strings.TrimSpace(l)
		if t == "Schema:" || t == "Value:" {
			break
		}
		if t != "" {
			lines = append(lines, t)
		}
	}
	return strings.Join(lines, " | ")
}

func excerpt(b []byte) string {
	const max = 1500
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
