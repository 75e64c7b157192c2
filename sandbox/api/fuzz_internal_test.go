package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
)

// FuzzCursor feeds arbitrary cursors to the decoder: it must never panic,
// must refuse everything but a cursor of the same list and account with a
// 400 naming the parameter, and must read back every cursor it wrote.
func FuzzCursor(f *testing.F) {
	f.Add("", "customers", int64(1), int64(1))
	f.Add(encodeCursor("customers", 7, 42), "customers", int64(7), int64(42))
	f.Add(encodeCursor("plans", 7, 42), "customers", int64(7), int64(42))
	f.Add(encodeCursor("customers", 8, 42), "customers", int64(7), int64(42))
	f.Add("Y3VzdG9tZXJzOjc6LTE", "customers", int64(7), int64(0))
	f.Add("!!!", "invoices", int64(1), int64(1))
	f.Add("MjAyMy0wOC0xNlQxNjo0ODo1NS4xNjEzMjcwMDBaJmludl85NTlk==", "invoices", int64(1), int64(1))
	f.Add("aW52b2ljZXM6MTo5MjIzMzcyMDM2ODU0Nzc1ODA4", "invoices", int64(1), int64(1))
	f.Fuzz(func(t *testing.T, cursor, list string, account, last int64) {
		id, err := decodeCursor(cursor, list, account)
		if err != nil {
			var e *chartmogul.Error
			if !asError(err, &e) || e.Code != chartmogul.EBADREQUEST || e.Param != "cursor" {
				t.Fatalf("decodeCursor(%q) = %v; want a 400 naming cursor", cursor, err)
			}
		} else if id <= 0 {
			t.Fatalf("decodeCursor(%q) accepted id %d", cursor, id)
		}
		// List names are Recur's own constants, never holding the separator.
		if last > 0 && list != "" && !strings.Contains(list, ":") {
			got, err := decodeCursor(encodeCursor(list, account, last), list, account)
			if err != nil || got != last {
				t.Fatalf("round trip of (%q, %d, %d) = %d, %v", list, account, last, got, err)
			}
		}
	})
}

// FuzzPageParams feeds arbitrary query strings to the paging parameters:
// every input is answered with a page or a 400 naming the parameter, and a
// page never asks for more than 200 rows or fewer than 1.
func FuzzPageParams(f *testing.F) {
	for _, q := range []string{"", "per_page=0", "per_page=201", "per_page=abc", "per_page=-1", "per_page=99999999999999999999",
		"page=2", "cursor=abc", "per_page=50&cursor=" + encodeCursor("customers", 1, 9), "per_page=%00", "cursor=%ff%fe",
		"per_page=1e3", "per_page= 5", "per_page=200&per_page=1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := &http.Request{URL: &url.URL{Path: "/v1/customers", RawQuery: rawQuery}}
		r = r.WithContext(context.WithValue(context.Background(), accountKey, &caller{account: &chartmogul.Account{ID: 1}}))
		p, err := page(r, "customers")
		if err != nil {
			var e *chartmogul.Error
			if !asError(err, &e) || e.Code != chartmogul.EBADREQUEST || e.Param == "" || e.Message == "" {
				t.Fatalf("page(%q) = %v; want a 400 naming its parameter", rawQuery, err)
			}
			return
		}
		if p.Limit < 1 || p.Limit > maxPerPage || p.Before < 0 {
			t.Fatalf("page(%q) = %+v", rawQuery, p)
		}
	})
}

// FuzzBoolParam checks the true/false query parameters.
func FuzzBoolParam(f *testing.F) {
	for _, q := range []string{"", "dry_run=true", "dry_run=false", "dry_run=1", "dry_run=yes", "dry_run=%00"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := &http.Request{URL: &url.URL{RawQuery: rawQuery}}
		if _, err := boolParam(r, "dry_run"); err != nil {
			var e *chartmogul.Error
			if !asError(err, &e) || e.Code != chartmogul.EBADREQUEST || e.Param != "dry_run" {
				t.Fatalf("boolParam(%q) = %v", rawQuery, err)
			}
		}
	})
}

func asError(err error, target **chartmogul.Error) bool {
	e, ok := err.(*chartmogul.Error)
	if ok {
		*target = e
	}
	return ok
}

// FuzzMetricsParams feeds arbitrary query strings to the Metrics API's
// parameters (start-date, end-date, interval, geo): every input is answered
// with a query or a 400 naming its parameter, and a query never runs
// backwards.
func FuzzMetricsParams(f *testing.F) {
	for _, q := range []string{"start-date=2024-01-01&end-date=2024-12-31", "start-date=2024-12-31&end-date=2024-01-01",
		"start-date=2024-01-01&end-date=2024-12-31&interval=fortnight", "start-date=2024-02-30&end-date=2024-03-01",
		"start-date=2024-01-01T10:00:00%2B14:00&end-date=2024-01-02", "start-date=&end-date=", "geo=US,XX&start-date=2024-01-01&end-date=2024-01-02",
		"start-date=0001-01-01&end-date=9999-12-31&interval=day", "start-date=2024-01-01&end-date=2024-12-31&geo=%00"} {
		f.Add(q)
	}
	s := &Server{Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		u := &url.URL{Path: "/v1/metrics/all", RawQuery: rawQuery}
		vals := u.Query()
		vals.Del("plans") // resolved against the store, which this target has not
		u.RawQuery = vals.Encode()
		r := (&http.Request{URL: u}).WithContext(context.WithValue(context.Background(), accountKey,
			&caller{account: &chartmogul.Account{ID: 1, TimeZone: "UTC", WeekStartOn: "monday"}}))
		q, err := s.metricsQuery(r, "month")
		if err != nil {
			var e *chartmogul.Error
			if !asError(err, &e) || e.Code != chartmogul.EBADREQUEST || e.Param == "" || e.Message == "" {
				t.Fatalf("metricsQuery(%q) = %v; want a 400 naming its parameter", rawQuery, err)
			}
			return
		}
		if q.End < q.Start {
			t.Fatalf("metricsQuery(%q) runs backwards: %v to %v", rawQuery, q.Start, q.End)
		}
	})
}
