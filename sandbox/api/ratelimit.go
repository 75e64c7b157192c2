package api

// Protection against too much of a good thing: a request rate limit per
// account, and a bound on each account's unfinished imports. Both answer
// 429 with Retry-After, which both official clients retry (with their own
// backoff; they ignore Retry-After, which is there for other clients). Both
// run before the handler does anything, so neither can turn a write that was
// committed into an error: a 429 always means "nothing was done, send it
// again".

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/recurhq/recur/chartmogul"
)

// DefaultRateLimit is the request rate `recur serve` allows each account,
// per second: 40, as ChartMogul documents for its API.
const DefaultRateLimit = 40

// DefaultMaxQueuedImports is how many unfinished imports `recur serve` lets
// an account have before it answers 429 to the next one.
const DefaultMaxQueuedImports = 100

// rateLimitMessage is ChartMogul's documented message for a 429.
const rateLimitMessage = "Your request rate has exceeded our rate limit."

// queueFullRetryAfter is the Retry-After of a 429 for a full import queue:
// imports take seconds, not milliseconds, to drain.
const queueFullRetryAfter = 5 * time.Second

// rateLimiter holds a token bucket per account. Accounts are few and exist
// only once a key authenticated, so the map is bounded by the accounts in
// the database, not by what callers send.
type rateLimiter struct {
	perSecond rate.Limit
	burst     int

	mu       sync.Mutex
	accounts map[int64]*rate.Limiter
}

// newRateLimiter returns a limiter of perSecond requests per account with
// bursts of burst (one second's worth when burst is 0), or nil when
// perSecond is 0 or less: no limit.
func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &rateLimiter{perSecond: rate.Limit(perSecond), burst: burst, accounts: map[int64]*rate.Limiter{}}
}

// take spends one token of an account's bucket. When the bucket is empty it
// spends nothing and returns how long until a token is there.
func (l *rateLimiter) take(account int64, now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	lim := l.accounts[account]
	if lim == nil {
		lim = rate.NewLimiter(l.perSecond, l.burst)
		l.accounts[account] = lim
	}
	l.mu.Unlock()
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if wait = res.DelayFrom(now); wait > 0 {
		// A refused request must not use up the token the caller's next
		// one is due, or a client that hammers would never get through.
		res.CancelAt(now)
		return false, wait
	}
	return true, 0
}

// retryAfter formats a wait as Retry-After's whole seconds, at least one.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// limited applies the account's request rate limit before h. It runs
// inside authentication, so requests are counted against the account they
// act as, and a caller without a valid key never spends an account's
// tokens.
func (s *Server) limited(h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	if s.limiter == nil {
		s.limiter = newRateLimiter(s.RateLimit, s.RateBurst)
	}
	lim := s.limiter
	if lim == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		if ok, wait := lim.take(callerOf(r.Context()).account.ID, time.Now()); !ok {
			s.reject(w, rejectRateLimit, wait)
			return &chartmogul.Error{Code: chartmogul.ERATELIMIT, Message: rateLimitMessage}
		}
		return h(w, r)
	}
}

// reject prepares a 429: its Retry-After and its count.
func (s *Server) reject(w http.ResponseWriter, reason string, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(wait))
	if s.Metrics != nil {
		s.Metrics.rejected.WithLabelValues(reason).Inc()
	}
}

// admitImport bounds the unfinished imports of an account: when it already
// has MaxQueuedImports queued or processing, a new import is answered 429
// before anything is stored. Dry runs store nothing and always pass.
//
// A retry of an import that was stored — its 201 lost on the way — must
// not be refused, or a client whose retries outlast its patience would
// report as failed an import that was accepted. So when the bound is
// reached, admitImport reads the body, and lets through a payload whose
// external id the data source already has (the handler answers 200 with
// that import), as well as any request the handler refuses without storing
// anything (unknown data source, body too large or malformed), so that its
// answer names the real problem.
//
// The count and the insert are not one transaction: requests racing past a
// nearly full bound can overshoot it by as many as run at once. The bound
// protects the queue from floods, not an exact number.
func (s *Server) admitImport(h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.MaxQueuedImports <= 0 {
			return h(w, r)
		}
		if dry, err := boolParam(r, "dry_run"); err != nil || dry {
			return h(w, r)
		}
		ctx := r.Context()
		account := callerOf(ctx).account.ID
		n, err := s.Store.AccountUnfinishedImports(ctx, account, s.MaxQueuedImports)
		if err != nil {
			return err
		}
		if n < s.MaxQueuedImports {
			return h(w, r)
		}
		ds, err := s.Store.DataSource(ctx, account, r.PathValue("ds"))
		if err != nil {
			return h(w, r)
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, s.MaxPayload+1))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err != nil || int64(len(body)) > s.MaxPayload {
			return h(w, r)
		}
		sum, err := chartmogul.Inspect(body)
		if err != nil {
			return h(w, r)
		}
		if sum.ExternalID != "" {
			if _, err := s.Store.Import(ctx, ds, sum.ExternalID); err == nil {
				return h(w, r)
			}
		}
		s.reject(w, rejectQueueFull, queueFullRetryAfter)
		return chartmogul.Errorf(chartmogul.ERATELIMIT, "%d imports of this account are still waiting to be applied; wait for some to finish, then send this one again.", n)
	}
}
