package main

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/api/openapitest"
)

// e2eOpenAPICheck holds an answer received through e2eClient.send to the
// OpenAPI document the server serves (api/openapi.json): send returns its
// error, naming the method, path, status and what does not match, so that
// every caller fails its test on it. Answers the document deliberately does
// not describe (Recur's 404 for an unknown path, net/http's own 431) are
// let through by package openapitest with their reason.
func e2eOpenAPICheck(req *http.Request, res *http.Response, body []byte) error {
	v, err := openapitest.Shared()
	if err != nil {
		return err
	}
	return v.Check(openapitest.Exchange{Request: req, Status: res.StatusCode, Header: res.Header, Body: body})
}

// TestServeOpenAPI checks that `sandbox serve` serves the document at GET
// /openapi.json to anyone, key or not, as JSON: the embedded document byte
// for byte.
func TestServeOpenAPI(t *testing.T) {
	c := startE2EServer(t, e2eFreshDatabase(t, "sqlite"))
	for _, key := range []string{"", e2eKey, "rk_not_a_key_0123456789abcdefghij"} {
		r := c.as(key).expect(t, http.StatusOK, http.MethodGet, "/openapi.json", nil)
		if !bytes.Equal(r.body, api.OpenAPI()) {
			t.Errorf("GET /openapi.json with key %q answered %d bytes that are not the embedded document", key, len(r.body))
		}
	}
}
