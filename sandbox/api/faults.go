package api

// Fault injection, for the fault tests of clients. A client that sends bulk
// imports must survive what ChartMogul does on a bad day: 429s, 503s, slow
// answers, and connections cut after the work was done. `sandbox serve
// --inject-…` makes the sandbox do those things on purpose, at chosen rates
// and reproducibly, so that a client's retries — and the idempotency of its
// imports — are tested against the same server as the rest of its tests.
//
// Faults apply to the authenticated API routes only: a request without a
// valid key is refused as usual, and the operator routes, the dashboard and
// the OpenAPI document are never faulted, so that the tooling around a
// fault test keeps working.

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are the faults a Server injects into its API's answers. The zero
// value injects none.
//
// Each request gets at most one of the three faults that replace or cut an
// answer, so TooManyRequests, Unavailable and Drop must add up to at most 1;
// Delay applies to every answer, faulted or not.
type Faults struct {
	// TooManyRequests is the fraction of requests (0 to 1) answered 429
	// with ChartMogul's rate-limit body, without their work being done.
	TooManyRequests float64
	// Unavailable is the fraction answered 503, ChartMogul's status for
	// too many parallel connections, without their work being done.
	Unavailable float64
	// Drop is the fraction whose work is done in full — an import is
	// stored and committed — and whose connection is then closed without
	// an answer: the case where a client must not import twice when it
	// sends the same request again.
	Drop float64
	// RetryAfter is the Retry-After of injected 429s and 503s, rounded up
	// to whole seconds; 0 means one second.
	RetryAfter time.Duration
	// Delay holds back every answer by this long after its work is done,
	// as a slow network would.
	Delay time.Duration
	// Seed seeds the random choice of which requests get a fault: the same
	// seed and the same sequence of requests get the same faults.
	Seed uint64
}

// Enabled reports whether f injects anything.
func (f Faults) Enabled() bool {
	return f.TooManyRequests > 0 || f.Unavailable > 0 || f.Drop > 0 || f.Delay > 0
}

// String describes the faults for a person, e.g. "20% 429 (Retry-After
// 1s), 10% 503, 5% dropped connections, 50ms delay", or "none".
func (f Faults) String() string {
	var parts []string
	retry := " (Retry-After " + f.retryAfter().String() + ")"
	if f.TooManyRequests > 0 {
		parts = append(parts, percent(f.TooManyRequests)+" 429"+retry)
		retry = "" // said once is enough: the 503s share it
	}
	if f.Unavailable > 0 {
		parts = append(parts, percent(f.Unavailable)+" 503"+retry)
	}
	if f.Drop > 0 {
		parts = append(parts, percent(f.Drop)+" dropped connections")
	}
	if f.Delay > 0 {
		parts = append(parts, f.Delay.String()+" delay")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// percent writes a fraction as a percentage without float noise: 0.07 is
// "7%", not "7.000000000000001%".
func percent(p float64) string {
	return strconv.FormatFloat(p*100, 'g', 4, 64) + "%"
}

// retryAfter is the Retry-After of injected 429s and 503s.
func (f Faults) retryAfter() time.Duration {
	if f.RetryAfter <= 0 {
		return time.Second
	}
	return f.RetryAfter
}

// The faults a request can get, as recur_injected_faults_total labels them.
const (
	fault429  = "429"
	fault503  = "503"
	faultDrop = "drop"
)

// unavailableMessage is the message of an injected 503.
const unavailableMessage = "Too many parallel connections to the API; wait for your other requests to finish, then try again."

// injector draws the faults of requests. Draws go through one generator
// under a lock, so that with a fixed seed the n-th request the server
// handles always gets the same fault.
type injector struct {
	faults Faults
	mu     sync.Mutex
	rng    *rand.Rand
}

// newInjector returns an injector of f, or nil when f injects nothing.
func newInjector(f Faults) *injector {
	if !f.Enabled() {
		return nil
	}
	return &injector{faults: f, rng: rand.New(rand.NewPCG(f.Seed, f.Seed))}
}

// draw picks the fault of one request: fault429, fault503, faultDrop, or ""
// for none. One number in [0, 1) decides, split into ranges of the three
// fractions, which is why they may add up to at most 1.
func (in *injector) draw() string {
	f := in.faults
	if f.TooManyRequests+f.Unavailable+f.Drop <= 0 {
		return ""
	}
	in.mu.Lock()
	u := in.rng.Float64()
	in.mu.Unlock()
	switch {
	case u < f.TooManyRequests:
		return fault429
	case u < f.TooManyRequests+f.Unavailable:
		return fault503
	case u < f.TooManyRequests+f.Unavailable+f.Drop:
		return faultDrop
	}
	return ""
}

// injected applies the server's faults to h. It runs after authentication
// (faults are for API clients, and the traffic record counts faulted
// requests against their account) and before the rate limit, so that an
// injected 429 spends none of the account's tokens.
func (s *Server) injected(h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	in := s.injector
	if in == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		fault := in.draw()
		if fault != "" {
			if s.Metrics != nil {
				s.Metrics.injected.WithLabelValues(fault).Inc()
			}
			s.logger(r.Context()).Debug("injecting a fault", "fault", fault)
		}
		// The answer is held back when it must wait (delay) or never go
		// out (drop): what the handler writes cannot be taken back once
		// it is on the connection.
		answer := w
		var held *heldAnswer
		if fault == faultDrop || in.faults.Delay > 0 {
			held = &heldAnswer{ResponseWriter: w}
			answer = held
		}
		switch fault {
		case fault429:
			answer.Header().Set("Retry-After", retryAfter(in.faults.retryAfter()))
			writeJSON(answer, http.StatusTooManyRequests, codeBody{Code: http.StatusTooManyRequests, Message: rateLimitMessage})
		case fault503:
			answer.Header().Set("Retry-After", retryAfter(in.faults.retryAfter()))
			writeJSON(answer, http.StatusServiceUnavailable, codeBody{Code: http.StatusServiceUnavailable, Message: unavailableMessage})
		default:
			if held == nil {
				return h(w, r)
			}
			if err := h(held, r); err != nil {
				s.writeError(held, r, err)
			}
		}
		if held == nil {
			return nil
		}
		if !sleep(r.Context(), in.faults.Delay) {
			return nil // the client left: there is no one to answer
		}
		if fault == faultDrop {
			dropConnection(w)
			return nil
		}
		held.send()
		return nil
	}
}

// sleep waits for d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the request's connection without an answer. The
// connection is taken over (hijacked) first, so that net/http writes
// nothing either. An HTTP/2 connection cannot be taken over, and closing it
// would cut every other request on it: there the handler aborts instead,
// which resets this request's stream only — to its client, the same
// missing answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// heldAnswer keeps a handler's answer in memory instead of sending it, so
// that it can be sent late (send) or never. Its headers are the real
// answer's, which net/http sends only with the status, in send.
type heldAnswer struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

// WriteHeader keeps the status. Informational (1xx) statuses are not kept:
// a held answer has nothing to say before its end.
func (a *heldAnswer) WriteHeader(code int) {
	if a.status == 0 && code >= 200 {
		a.status = code
	}
}

// Write keeps the bytes.
func (a *heldAnswer) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(b)
}

// FlushError does nothing: flushing would send the status and headers
// early, which holding the answer is there to prevent. It stops
// http.ResponseController before it reaches the real writer.
func (a *heldAnswer) FlushError() error { return nil }

// Unwrap lets http.ResponseController reach the real writer, for read and
// write deadlines.
func (a *heldAnswer) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// send writes the held answer to the real writer.
func (a *heldAnswer) send() {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	a.ResponseWriter.WriteHeader(a.status)
	if a.body.Len() > 0 {
		a.ResponseWriter.Write(a.body.Bytes())
	}
}
