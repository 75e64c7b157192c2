package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/recurhq/recur/sandbox/store/storetest"
)

// TestHostileInput sends what a careless or hostile client might: deeply
// nested JSON, duplicate keys, numbers beyond 64 bits, invalid UTF-8, NUL
// characters, very long strings and SQL in every filter and external id.
// Each gets a clear 4xx or a per-record failure naming the field, and none
// of it corrupts what is stored.
func TestHostileInput(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			c := startE2EServer(t, db.URL)
			ds := c.createDataSource(t, "hostile")
			seed := c.submitImport(t, ds, []byte(`{"customers":[{"external_id":"keep","name":"Keep Me"}]}`))
			c.waitImport(t, ds, seed.ID)

			badRequest := func(name string, body []byte, contains string) {
				t.Helper()
				r := c.do(t, http.MethodPost, e2eImportsPath(ds), body)
				if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), contains) {
					t.Errorf("%s: %s; want 400 containing %q", name, r, contains)
				}
			}
			badRequest("deep nesting", []byte(`{"customers":[`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`]}`), "byte offset")
			badRequest("duplicate keys", []byte(`{"customers":[],"customers":[]}`), "duplicate")
			badRequest("invalid UTF-8", []byte("{\"customers\":[{\"external_id\":\"a\xff\"}]}"), "UTF-8")
			badRequest("NUL in the import's id", []byte(`{"external_id":"a\u0000b","customers":[]}`), "NUL")

			// Per record: the rest of the payload is imported.
			long := strings.Repeat("x", 10_000)
			payload := `{"customers":[
				{"external_id":"nul","name":"a\u0000b"},
				{"external_id":"` + long + `"},
				{"external_id":"big-name","name":"` + strings.Repeat("n", 5000) + `"},
				{"external_id":"x'); DROP TABLE customers; --","name":"Robert'); DROP TABLE customers;--"},
				{"external_id":"ok","name":"Fine"}],
			"plans":[{"external_id":"p","name":"P","interval_count":99999999999999999999999,"interval_unit":"month"}]}`
			imp := c.waitImport(t, ds, c.submitImport(t, ds, []byte(payload)).ID)
			want := map[string]string{
				"customers/1/external_id": "at most 255 characters",
				"plans/0/interval_count":  "whole number between",
			}
			got := map[string]string{}
			for _, f := range imp.FailedRecords {
				got[f.Type+"/"+strconv.Itoa(f.Index)+"/"+f.Field] = f.Message
			}
			for k, msg := range want {
				if !strings.Contains(got[k], msg) {
					t.Errorf("failure %s = %q, want it to contain %q (failures %v)", k, got[k], msg, got)
				}
			}
			for _, w := range imp.Warnings {
				got[w.Type+"/"+strconv.Itoa(w.Index)+"/"+w.Field] = w.Message
			}
			// A customer's contact details are warnings: the customer is kept.
			if !strings.Contains(got["customers/2/name"], "at most 4096 characters") {
				t.Errorf("a 5000-character name: %q, want a warning", got["customers/2/name"])
			}
			if !strings.Contains(got["customers/0/name"], "must not contain the NUL character") {
				t.Errorf("a name with NUL: %q, want a warning", got["customers/0/name"])
			}

			// SQL in filters is a value like any other.
			find := func(ext string) int {
				return len(e2eGetPage[json.RawMessage](t, c, "/v1/customers?external_id="+url.QueryEscape(ext), "entries").items)
			}
			if n := find("x'); DROP TABLE customers; --"); n != 1 {
				t.Errorf("the customer whose external id is SQL: found %d, want 1", n)
			}
			if n := find("' OR '1'='1"); n != 0 {
				t.Errorf("external_id=' OR '1'='1 found %d customers, want 0", n)
			}
			for _, q := range []string{"/v1/customers?data_source_uuid=%27%3B--", "/v1/plans?external_id=%25", "/v1/invoices?customer_uuid=%27+OR+1%3D1",
				"/v1/subscription_events?event_type=subscription_start%27--"} {
				if r := c.do(t, http.MethodGet, q, nil); r.status >= 500 {
					t.Errorf("GET %s: %s", q, r)
				}
			}
			// Bytes no stored value can hold are refused before any query.
			for _, q := range []string{"/v1/customers?external_id=a%00b", "/v1/customers?external_id=%ff", "/v1/customers/cus_%00"} {
				if r := c.do(t, http.MethodGet, q, nil); r.status != http.StatusBadRequest {
					t.Errorf("GET %s: %s, want 400", q, r)
				}
			}
			r := c.do(t, http.MethodPost, "/v1/customers", []byte(`{"data_source_uuid":"`+ds+`","external_id":"n","name":"a\u0000"}`))
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "NUL") {
				t.Errorf("NUL in a single-object body: %s, want 400", r)
			}

			// Nothing stored was harmed.
			if n := find("keep"); n != 1 {
				t.Errorf("the customer imported first is gone: %d", n)
			}
			all := e2eListAll[json.RawMessage](t, c, "/v1/customers?data_source_uuid="+ds, "entries", 200)
			if len(all) != 5 { // keep, nul and big-name (their names dropped), the SQL one, ok
				t.Errorf("%d customers stored, want 5", len(all))
			}
		})
	}
}
