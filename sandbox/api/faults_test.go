package api_test

// Tests of the injected faults and of the traffic record that the flags of
// `sandbox serve` cannot reach: the random choice's seed, a dropped write
// on any route, the access log of a dropped request, the traffic record's
// one-hour window. The flags themselves are tested end to end in package
// main (inject_test.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

func TestFaultsString(t *testing.T) {
	for _, tc := range []struct {
		f    api.Faults
		want string
	}{
		{api.Faults{}, "none"},
		{api.Faults{RetryAfter: 5 * time.Second, Seed: 3}, "none"},
		{api.Faults{Unavailable: 0.1, RetryAfter: 2 * time.Second}, "10% 503 (Retry-After 2s)"},
		{api.Faults{TooManyRequests: 0.07, Drop: 0.005}, "7% 429 (Retry-After 1s), 0.5% dropped connections"},
		{api.Faults{Delay: 250 * time.Millisecond}, "250ms delay"},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.f, got, tc.want)
		}
		if got, want := tc.f.Enabled(), tc.want != "none"; got != want {
			t.Errorf("%+v.Enabled() = %v, want %v", tc.f, got, want)
		}
	}
}

// TestFaultsSeeded checks that the seed decides which requests get which
// fault: the same seed gives the same sequence, another seed another one.
func TestFaultsSeeded(t *testing.T) {
	statuses := func(seed uint64) []int {
		e := obsServer(t, storetest.SQLite(t), func(s *api.Server) {
			s.Faults = api.Faults{TooManyRequests: 0.3, Unavailable: 0.3, Seed: seed}
		})
		var out []int
		for range 40 {
			out = append(out, e.send(t, "GET", "/v1/ping", e.key, nil).status)
		}
		return out
	}
	a, b, c := statuses(5), statuses(5), statuses(6)
	if !slices.Equal(a, b) {
		t.Errorf("seed 5 twice gave\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 5 and 6 both gave %v", a)
	}
	for _, want := range []int{http.StatusOK, http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		if !slices.Contains(a, want) {
			t.Errorf("40 requests at 30%% 429 and 30%% 503 never answered %d: %v", want, a)
		}
	}
}

// TestFaultsDropAppliesWrites checks a dropped request on a route other
// than imports: the data source is created though the client hears
// nothing, and the access log gives the request status 444.
func TestFaultsDropAppliesWrites(t *testing.T) {
	e := obsServer(t, storetest.SQLite(t), func(s *api.Server) { s.Faults = api.Faults{Drop: 1} })
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/data_sources", bytes.NewReader([]byte(`{"name":"unheard"}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(e.key, "")
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("POST /v1/data_sources with Drop 1: status %d, want no answer", res.StatusCode)
	}
	list, err := e.st.ListDataSources(context.Background(), e.account.ID, store.DataSourceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "unheard" {
		t.Errorf("after the dropped POST: data sources %+v, want the one it created", list)
	}
	// The client hears the connection close before the handler returns
	// and the access log is written: wait for the line.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		i := slices.IndexFunc(e.log.lines(t), func(l map[string]any) bool {
			return l["msg"] == "request" && l["route"] == "POST /v1/data_sources"
		})
		if i >= 0 {
			if l := e.log.lines(t)[i]; l["status"] != float64(444) || l["bytes"] != float64(0) {
				t.Errorf("access log of the dropped request: %v, want status 444 and 0 bytes", l)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access-log line for the dropped request:\n%s", e.log.String())
		}
	}
}

// TestTrafficWindow checks the traffic record's counts and its one-hour
// window on a clock the test moves.
func TestTrafficWindow(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 8, 0, 0, 500e6, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := obsServer(t, storetest.SQLite(t), func(s *api.Server) { s.Now = clock })

	type second struct {
		Second   string `json:"second"`
		Requests int    `json:"requests"`
	}
	type traffic struct {
		Requests      int      `json:"requests"`
		PeakPerSecond int      `json:"peak_per_second"`
		Seconds       []second `json:"seconds"`
	}
	read := func() traffic {
		t.Helper()
		var tr traffic
		if err := json.Unmarshal(e.expect(t, http.StatusOK, "GET", "/v1/recur/traffic", nil).body, &tr); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	ping := func(n int) {
		t.Helper()
		for range n {
			e.expect(t, http.StatusOK, "GET", "/v1/ping", nil)
		}
	}
	check := func(got traffic, want traffic) {
		t.Helper()
		if got.Requests != want.Requests || got.PeakPerSecond != want.PeakPerSecond || !slices.Equal(got.Seconds, want.Seconds) {
			t.Errorf("traffic %+v, want %+v", got, want)
		}
	}

	check(read(), traffic{Seconds: []second{}})
	ping(3)
	advance(400 * time.Millisecond) // 08:00:00.9: the same second
	ping(1)
	advance(time.Second) // 08:00:01.9
	ping(2)
	check(read(), traffic{Requests: 6, PeakPerSecond: 4, Seconds: []second{{"2026-12-03T08:00:00Z", 4}, {"2026-12-03T08:00:01Z", 2}}})

	// An hour after the first second, the first second has left the
	// window; the totals have not.
	advance(3599 * time.Second) // 09:00:00.9
	ping(1)
	check(read(), traffic{Requests: 7, PeakPerSecond: 4, Seconds: []second{{"2026-12-03T08:00:01Z", 2}, {"2026-12-03T09:00:00Z", 1}}})
	advance(2 * time.Hour)
	check(read(), traffic{Requests: 7, PeakPerSecond: 4, Seconds: []second{}})
}
