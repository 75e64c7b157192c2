package api

// The traffic record: how many requests each account sent, second by
// second. A client's fault tests read it (GET /v1/recur/traffic) to prove
// the client kept to its request budget — 40 requests a second on
// ChartMogul — while the server pushed back with faults. It counts what the
// client sent, not what the server let through: requests are counted
// before the rate limit and the injected faults decide.

import (
	"net/http"
	"sync"
	"time"
)

// trafficWindow is how many of the latest seconds the record lists: an
// hour covers any one test run, and bounds the record's memory.
const trafficWindow = 3600

// trafficRoute is the route of the traffic record.
const trafficRoute = "GET /v1/recur/traffic"

// trafficRecord counts the requests of every account per wall-clock
// second. Accounts exist only once a key authenticated, so the map is
// bounded by the accounts in the database, not by what callers send.
type trafficRecord struct {
	mu       sync.Mutex
	accounts map[int64]*accountTraffic
}

// accountTraffic is the traffic of one account.
type accountTraffic struct {
	requests int64
	peak     int64
	// seconds are the seconds that had requests, oldest first, none older
	// than trafficWindow seconds before the latest.
	seconds []secondCount
}

// secondCount is the requests of one second, a Unix time.
type secondCount struct {
	second   int64
	requests int64
}

func newTrafficRecord() *trafficRecord {
	return &trafficRecord{accounts: map[int64]*accountTraffic{}}
}

// count adds one request of account at now.
func (t *trafficRecord) count(account int64, now time.Time) {
	sec := now.Unix()
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.accounts[account]
	if a == nil {
		a = &accountTraffic{}
		t.accounts[account] = a
	}
	a.requests++
	n := len(a.seconds)
	switch {
	case n > 0 && sec <= a.seconds[n-1].second:
		// The same second; or a request whose clock reading lost the race
		// for the lock to a later one, or a clock stepped back: counted in
		// the latest second, which keeps the list in order.
		a.seconds[n-1].requests++
	default:
		a.seconds = append(a.seconds, secondCount{second: sec, requests: 1})
		a.seconds = a.seconds[firstInWindow(a.seconds, sec):]
	}
	a.peak = max(a.peak, a.seconds[len(a.seconds)-1].requests)
}

// firstInWindow returns the index of the first of seconds within
// trafficWindow seconds of latest.
func firstInWindow(seconds []secondCount, latest int64) int {
	i := 0
	for i < len(seconds) && seconds[i].second <= latest-trafficWindow {
		i++
	}
	return i
}

// trafficJSON is the answer of GET /v1/recur/traffic.
type trafficJSON struct {
	// Requests is every request of the account since the server started.
	Requests int64 `json:"requests"`
	// PeakPerSecond is the most requests of the account in one second
	// since the server started.
	PeakPerSecond int64 `json:"peak_per_second"`
	// Seconds are the seconds of the last hour that had requests, oldest
	// first.
	Seconds []trafficSecondJSON `json:"seconds"`
}

type trafficSecondJSON struct {
	Second   string `json:"second"`
	Requests int64  `json:"requests"`
}

// report returns account's traffic as of now.
func (t *trafficRecord) report(account int64, now time.Time) trafficJSON {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := trafficJSON{Seconds: []trafficSecondJSON{}}
	a := t.accounts[account]
	if a == nil {
		return out
	}
	out.Requests, out.PeakPerSecond = a.requests, a.peak
	for _, c := range a.seconds[firstInWindow(a.seconds, now.Unix()):] {
		out.Seconds = append(out.Seconds, trafficSecondJSON{
			Second:   time.Unix(c.second, 0).UTC().Format(time.RFC3339),
			Requests: c.requests,
		})
	}
	return out
}

// recorded counts each request in the traffic record before h runs. It
// runs inside authentication, which names the account, and before the
// faults and the rate limit, so that refused requests count too.
func (s *Server) recorded(h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	rec := s.traffic
	return func(w http.ResponseWriter, r *http.Request) error {
		rec.count(callerOf(r.Context()).account.ID, s.Now())
		return h(w, r)
	}
}

// getTraffic answers GET /v1/recur/traffic: the traffic of the key's
// account (Recur's extension).
func (s *Server) getTraffic(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.traffic.report(callerOf(r.Context()).account.ID, s.Now()))
	return nil
}
