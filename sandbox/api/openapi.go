package api

import (
	_ "embed"
	"net/http"
	"slices"
	"strconv"
)

// The OpenAPI 3.1 document of the whole API lives beside the code that
// answers it, in openapi.json, and is compiled into the binary: the
// document a server serves is always the one of its own version. It is
// written by hand from the route registrations, the handlers and wire.go;
// TestOpenAPIDocument (openapi_test.go) checks that it is a valid 3.1
// document and that every route Handler registers has an operation in it,
// and the end-to-end tests validate every answer they receive against it
// (package api/openapitest).

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document of the API, as served at GET
// /openapi.json. The slice is shared: callers must not modify it.
func OpenAPI() []byte { return openAPIDocument }

// serveOpenAPI answers GET /openapi.json with the document, without
// authentication: describing the API reveals nothing of any account.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.WriteHeader(http.StatusOK)
	w.Write(openAPIDocument)
}

// directPatterns are the patterns Handler registers on its ServeMux without
// the route helper, which records the others: the operator routes
// (registerOps; /metrics only when the server has Metrics), the dashboard
// (web.Register) and this document.
func (s *Server) directPatterns() []string {
	var out []string
	if s.Metrics != nil {
		out = append(out, "GET /metrics")
	}
	return append(out, "GET /healthz", "GET /readyz", "GET /{$}", "GET /assets/{name...}", "GET /openapi.json")
}

// Routes returns every ServeMux pattern Handler registers ("GET
// /v1/customers/{uuid}", …), in the order of registration, so that a test
// can hold the OpenAPI document to the routes actually served.
func (s *Server) Routes() []string {
	s.Handler()
	return slices.Concat(s.routes, s.directPatterns())
}
