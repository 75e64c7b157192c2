package activities

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"go.temporal.io/sdk/temporal"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/workflows"
)

// TestPartFailuresStatusDetails reads ChartMogul's own answer, which has
// no failed_records: a record type counts as imported only when the
// customer's entry says so, and a customer without an entry is never taken
// for imported.
func TestPartFailuresStatusDetails(t *testing.T) {
	entries := map[chartmogul.RecordType][]ledgerEntry{
		chartmogul.RecordCustomers: {{Type: "customers", Key: "c1"}},
		chartmogul.RecordInvoices:  {{Type: "invoices", Key: "i1"}, {Type: "invoices", Key: "i2"}},
		chartmogul.RecordLineItems: {{Type: "line_items", Key: "l1"}},
	}
	details := func(s string) *chartmogul.ImportState {
		return &chartmogul.ImportState{ID: "imp_1", Status: chartmogul.ImportCompleted, StatusDetails: jsontext.Value(s)}
	}
	count := func(failed map[chartmogul.RecordType]map[int]bool) int {
		n := 0
		for _, m := range failed {
			n += len(m)
		}
		return n
	}

	failed, failures, err := partFailures("c1", details(`{"plans":{"status":"imported"},"c1":{"status":"imported",
		"customers":{"status":"imported"},"invoices":{"status":"imported"},"line_items":{"status":"imported"}}}`), entries, nil)
	if err != nil || count(failed) != 0 || len(failures) != 0 {
		t.Errorf("every type imported: %v, %+v, %v", failed, failures, err)
	}

	failed, failures, err = partFailures("c1", details(`{"c1":{"status":"partially_imported",
		"customers":{"status":"imported"},"invoices":{"status":"failed"},"line_items":{"status":"imported"}}}`), entries, nil)
	if err != nil || count(failed) != 2 || !failed[chartmogul.RecordInvoices][0] || !failed[chartmogul.RecordInvoices][1] {
		t.Fatalf("invoices failed: %v, %v", failed, err)
	}
	for _, f := range failures {
		if f.Customer != "c1" || f.Type != "invoices" || f.Import != "imp_1" || !strings.Contains(f.Message, `"failed"`) {
			t.Errorf("failure %+v", f)
		}
	}

	// Another customer's entry says nothing of c1.
	failed, failures, err = partFailures("c1", details(`{"c2":{"status":"imported","customers":{"status":"imported"}}}`), entries, nil)
	if err != nil || count(failed) != 4 || len(failures) != 4 {
		t.Fatalf("no entry for c1: %v, %+v, %v", failed, failures, err)
	}
	if !strings.Contains(failures[0].Message, "no entry") {
		t.Errorf("the message does not say the entry is missing: %s", failures[0].Message)
	}
	// No status_details at all.
	failed, _, err = partFailures("c1", &chartmogul.ImportState{ID: "imp_1", Status: chartmogul.ImportCompleted}, entries, nil)
	if err != nil || count(failed) != 4 {
		t.Errorf("no status_details: %v, %v", failed, err)
	}

	// The plans are under "plans".
	plans := map[chartmogul.RecordType][]ledgerEntry{chartmogul.RecordPlans: {{Type: "plans", Key: "p1"}}}
	failed, _, err = partFailures("", details(`{"plans":{"status":"imported"}}`), plans, nil)
	if err != nil || count(failed) != 0 {
		t.Errorf("plans imported: %v, %v", failed, err)
	}
	failed, _, err = partFailures("", details(`{"plans":{"status":"failed"}}`), plans, nil)
	if err != nil || count(failed) != 1 {
		t.Errorf("plans failed: %v, %v", failed, err)
	}

	// The local ChartMogul's failed_records name records by their index in
	// the request: only this part's are its.
	st := &chartmogul.ImportState{ID: "imp_2", Status: chartmogul.ImportCompleted, Counts: map[string]chartmogul.TypeCounts{},
		FailedRecords: []chartmogul.RecordProblem{
			{Type: chartmogul.RecordInvoices, Index: 0, ExternalID: "other", Message: "another customer's"},
			{Type: chartmogul.RecordInvoices, Index: 4, ExternalID: "i2", Field: "currency", Message: "bad currency"},
			{Type: chartmogul.RecordInvoices, Index: 5, ExternalID: "next", Message: "the next customer's"},
		}}
	failed, failures, err = partFailures("c1", st, entries, map[chartmogul.RecordType]int{chartmogul.RecordInvoices: 3, chartmogul.RecordCustomers: 1, chartmogul.RecordLineItems: 2})
	if err != nil || count(failed) != 1 || !failed[chartmogul.RecordInvoices][1] || len(failures) != 1 ||
		failures[0].ExternalID != "i2" || failures[0].Field != "currency" || failures[0].Customer != "c1" || failures[0].Import != "imp_2" {
		t.Errorf("failed_records: %v, %+v, %v", failed, failures, err)
	}
}

// TestChartMogulErrors: each of ChartMogul's answers becomes the error a
// person can act on, retried or not, and none carries the key.
func TestChartMogulErrors(t *testing.T) {
	cases := []struct {
		err       *chartmogul.Error
		typ       string
		retry     bool
		delay     time.Duration
		mentioned []string
	}{
		{&chartmogul.Error{Code: chartmogul.EUNAUTHORIZED, Status: 401, Message: "No valid API key provided"}, workflows.ErrConfiguration, false, 0, []string{"CHARTMOGUL_API_KEY"}},
		{&chartmogul.Error{Code: chartmogul.EFORBIDDEN, Status: 403, Message: "read-only"}, workflows.ErrConfiguration, false, 0, []string{"write access"}},
		{&chartmogul.Error{Code: chartmogul.ENOTFOUND, Status: 404, Message: "Data source not found"}, workflows.ErrConfiguration, false, 0, []string{"ds_test", "CHARTMOGUL_DATA_SOURCE"}},
		{&chartmogul.Error{Code: chartmogul.EINVALID, Status: 422, Message: "bad"}, workflows.ErrRefused, false, 0, []string{"422"}},
		{&chartmogul.Error{Code: chartmogul.EBADREQUEST, Status: 400, Message: "bad"}, workflows.ErrRefused, false, 0, []string{"400"}},
		{&chartmogul.Error{Code: chartmogul.ETOOLARGE, Status: 413, Message: "big"}, workflows.ErrRefused, false, 0, []string{"--part-bytes"}},
		{&chartmogul.Error{Code: chartmogul.ERATELIMIT, Status: 429, Message: "slow down", RetryAfter: 3 * time.Second}, "", true, 3 * time.Second, nil},
		{&chartmogul.Error{Code: chartmogul.ERATELIMIT, Status: 429, Message: "slow down"}, "", true, time.Second, nil},
		{&chartmogul.Error{Code: chartmogul.EUNAVAILABLE, Status: 503, Message: "busy", RetryAfter: 5 * time.Second}, "", true, 5 * time.Second, nil},
	}
	for _, c := range cases {
		err := chartMogulError(c.err, "doing something", "ds_test")
		var app *temporal.ApplicationError
		if !errors.As(err, &app) {
			t.Errorf("%d: %T %v", c.err.Status, err, err)
			continue
		}
		if c.typ != "" && app.Type() != c.typ {
			t.Errorf("%d: type %q, want %q", c.err.Status, app.Type(), c.typ)
		}
		if app.NonRetryable() == c.retry {
			t.Errorf("%d: non-retryable %v", c.err.Status, app.NonRetryable())
		}
		if app.NextRetryDelay() != c.delay {
			t.Errorf("%d: next retry after %s, want %s", c.err.Status, app.NextRetryDelay(), c.delay)
		}
		for _, m := range c.mentioned {
			if !strings.Contains(app.Message(), m) {
				t.Errorf("%d: the message does not say %q: %s", c.err.Status, m, app.Message())
			}
		}
	}
	// No answer at all is retried with the SDK's backoff.
	err := chartMogulError(&chartmogul.Error{Code: chartmogul.EUNAVAILABLE, Message: "connection refused"}, "doing something", "ds_test")
	if err == nil || nonRetryable(err) {
		t.Errorf("no answer: %v", err)
	}
	if err := chartMogulError(context.Canceled, "x", "ds"); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v", err)
	}
}

// TestConfigure: the worker's data source unless the input names one; none
// at all is a configuration error that says what to set.
func TestConfigure(t *testing.T) {
	a := &Activities{Config: Config{DataSource: "ds_worker"}}
	s, err := a.Configure(context.Background(), workflows.ConfigureInput{})
	if err != nil || s.DataSource != "ds_worker" || s.PartBytes != chartmogul.MaxPayload {
		t.Errorf("defaults: %+v, %v", s, err)
	}
	s, err = a.Configure(context.Background(), workflows.ConfigureInput{DataSource: "ds_given"})
	if err != nil || s.DataSource != "ds_given" {
		t.Errorf("given: %+v, %v", s, err)
	}
	_, err = (&Activities{}).Configure(context.Background(), workflows.ConfigureInput{})
	wantConfigError(t, err, "CHARTMOGUL_DATA_SOURCE")
}
