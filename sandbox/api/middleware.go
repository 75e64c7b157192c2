package api

// The layer every request passes through first: it gives the request an id,
// a logger that carries the id, a recovery from panics, one access-log line
// and its HTTP metrics.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/recurhq/recur/chartmogul"
)

// RequestIDHeader is the header that carries a request's id, both ways: a
// sane id the client (or a proxy in front) sends is kept, so one id follows
// the request across systems; otherwise Recur makes one. Every answer
// carries it, and so does every log line written while serving the request.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a client's request id; longer ones are replaced.
const maxRequestIDLen = 128

// logKey is the context key of a request's logger.
type logKey struct{}

// logger returns the logger of the request ctx belongs to — the server's
// logger with the request's id — or the server's logger outside a request.
func (s *Server) logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
		return l
	}
	return s.Log
}

// saneRequestID reports whether a client's request id may be kept: short,
// and made only of characters that need no quoting anywhere it is shown.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("-_.:+/=@", c):
		default:
			return false
		}
	}
	return true
}

// observe wraps the whole API. For each request it:
//   - takes or makes its request id and returns it in X-Request-Id;
//   - puts a logger carrying request_id into the context (see logger);
//   - turns a panic into a logged 500, when nothing was answered yet;
//   - counts it in the HTTP metrics by route pattern and status;
//   - writes one access-log line: method, route, path, status, duration,
//     bytes. Headers are never logged, so neither are API keys.
//
// The route is the ServeMux pattern that matched (r.Pattern), never the raw
// path: ids in paths would give every customer a series of its own.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) {
			id = chartmogul.NewUUID()
		}
		w.Header().Set(RequestIDHeader, id)
		log := s.Log.With("request_id", id)
		// The mux records the pattern it matched in this very request, which
		// is why the access log can read r.Pattern after serving it.
		r = r.WithContext(context.WithValue(r.Context(), logKey{}, log))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			abort := false
			if v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("request panicked", "method", r.Method, "route", r.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				// When part of an answer went out already, cut the connection
				// so the client cannot take a truncated body for a whole one.
				abort = sw.wrote
				if !abort {
					s.writeError(sw, r, errors.New("the handler panicked"))
				}
			}
			s.logRequest(log, r, sw, time.Since(start))
			if abort {
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// logRequest writes the access-log line and the metrics of a request.
func (s *Server) logRequest(log *slog.Logger, r *http.Request, sw *statusWriter, d time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	status := sw.status
	switch {
	case sw.hijacked:
		status = statusNoAnswer
	case !sw.wrote:
		status = http.StatusOK
	}
	if s.Metrics != nil {
		s.Metrics.observeRequest(route, status, d)
	}
	// Probes and scrapes come every few seconds; at info level they would
	// drown the requests people look for.
	level := slog.LevelInfo
	if opsRoute(r.Pattern) {
		level = slog.LevelDebug
	}
	log.LogAttrs(r.Context(), level, "request",
		slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.Int64("bytes", sw.bytes))
}

// opsRoute reports whether a pattern is one of the operator routes.
func opsRoute(pattern string) bool {
	switch pattern {
	case "GET /metrics", "GET /healthz", "GET /readyz":
		return true
	}
	return false
}

// statusNoAnswer is the status the access log and the metrics give a
// request whose connection was closed without an answer (--inject-drop):
// nginx's 444, so that such requests stand out from every status a client
// can receive.
const statusNoAnswer = 444

// statusWriter remembers the status and counts the body bytes of an answer.
type statusWriter struct {
	http.ResponseWriter
	status   int
	wrote    bool
	hijacked bool
	bytes    int64
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Hijack takes over the connection, through http.ResponseController (which
// says so when the connection cannot be taken over, as with HTTP/2), and
// remembers it so that the access log does not report an answer that was
// never sent.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
