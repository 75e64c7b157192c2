package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/recurhq/recur/chartmogul"
)

// statusOf maps an error code to its HTTP status. This and writeError are the
// one place where Recur's errors become HTTP.
func statusOf(code chartmogul.ErrorCode) int {
	switch code {
	case chartmogul.EINVALID, chartmogul.ECONFLICT:
		return http.StatusUnprocessableEntity
	case chartmogul.EBADREQUEST:
		return http.StatusBadRequest
	case chartmogul.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case chartmogul.EFORBIDDEN:
		return http.StatusForbidden
	case chartmogul.ENOTFOUND:
		return http.StatusNotFound
	case chartmogul.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case chartmogul.ERATELIMIT:
		return http.StatusTooManyRequests
	case chartmogul.EMETHOD:
		return http.StatusMethodNotAllowed
	case chartmogul.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// codeBody is ChartMogul's body for 400, 401, 403, 413, 429 and 5xx answers,
// and for 404s that name a parameter.
type codeBody struct {
	Code    int     `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

// writeError answers with err in ChartMogul's shapes:
//   - validation errors: 422 {"errors": {field: message}};
//   - not found: 404 {"error": "<Resource> not found"}, or the code body
//     when the error names a parameter (search by e-mail);
//   - everything else: {"code": status, "message": …, "param": …}.
//
// Internal errors are logged with their cause and answered with a generic
// message; the cause is never shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *chartmogul.Error
	if !errors.As(err, &e) {
		e = &chartmogul.Error{Code: chartmogul.EINTERNAL, Err: err}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			e.Code = chartmogul.EUNAVAILABLE
		}
	}
	status := statusOf(e.Code)
	if status >= 500 {
		s.logger(r.Context()).Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		if e.Code == chartmogul.EINTERNAL {
			e = &chartmogul.Error{Code: e.Code, Message: "Recur could not complete this request because of an internal error; it has been logged. Try again, and report it if it persists."}
		} else if e.Message == "" {
			e = &chartmogul.Error{Code: e.Code, Message: "Recur cannot answer right now; try again in a moment."}
		}
	}
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	switch {
	case len(e.Fields) > 0:
		writeJSON(w, status, map[string]any{"errors": e.Fields})
	case status == http.StatusUnprocessableEntity:
		writeJSON(w, status, map[string]any{"errors": map[string]string{cmpOr(e.Param, "base"): e.Message}})
	case status == http.StatusNotFound && e.Param == "":
		writeJSON(w, status, map[string]string{"error": e.Message})
	default:
		body := codeBody{Code: status, Message: e.Message}
		if e.Param != "" {
			body.Param = &e.Param
		}
		writeJSON(w, status, body)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// jsonErrors turns the answers ServeMux writes itself — 404 for an unknown
// path and 405 for a known path with the wrong method, both plain text —
// into JSON bodies, since the Node client silently drops any non-JSON body.
func jsonErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&muxErrorWriter{ResponseWriter: w, r: r}, r)
	})
}

type muxErrorWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(m.Header().Get("Content-Type"), "text/plain") {
		m.replaced = true
		m.Header().Del("X-Content-Type-Options")
		msg := "There is no route " + m.r.URL.Path + "; the API is served under /v1, e.g. GET /v1/ping."
		if code == http.StatusMethodNotAllowed {
			msg = "The route " + m.r.URL.Path + " does not accept " + m.r.Method + "; it accepts " + m.Header().Get("Allow") + "."
		}
		var buf bytes.Buffer
		body := codeBody{Code: code, Message: msg}
		encodeJSON(&buf, body)
		m.Header().Set("Content-Type", "application/json; charset=utf-8")
		m.Header().Del("Content-Length")
		m.ResponseWriter.WriteHeader(code)
		m.ResponseWriter.Write(buf.Bytes())
		return
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (m *muxErrorWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }
