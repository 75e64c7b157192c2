package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/recurhq/recur/chartmogul"
)

type ctxKey int

const accountKey ctxKey = iota

// caller is who a request acts as.
type caller struct {
	account *chartmogul.Account
	access  chartmogul.KeyAccess
}

func callerOf(ctx context.Context) *caller {
	c, _ := ctx.Value(accountKey).(*caller)
	return c
}

// handle adapts a handler that returns an error.
func (s *Server) handle(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// authenticated checks the request's API key — HTTP Basic with the key as
// user name and an empty password or the key again — before h runs.
// Read-only keys may only read.
func (s *Server) authenticated(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := checkText(r); err != nil {
			return err
		}
		key, pass, ok := r.BasicAuth()
		if !ok || key == "" || (pass != "" && pass != key) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Recur"`)
			return &chartmogul.Error{Code: chartmogul.EUNAUTHORIZED, Message: "No valid API key provided"}
		}
		account, access, err := s.Store.Authenticate(r.Context(), key)
		if err != nil {
			if chartmogul.ErrorCodeOf(err) == chartmogul.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Basic realm="Recur"`)
			}
			return err
		}
		if access == chartmogul.AccessReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
			return chartmogul.Errorf(chartmogul.EFORBIDDEN, "This API key is read-only; %s needs a key with read and write access.", r.Method)
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), accountKey, &caller{account: account, access: access})))
	})
}

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }

// baseURL is the scheme and host the client reached Recur at, for the links
// Recur's objects carry.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// checkText refuses a path or query parameter that no stored value can
// match and that the databases refuse to compare: invalid UTF-8, or the NUL
// character.
func checkText(r *http.Request) error {
	bad := func(v string) bool { return !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 }
	if bad(r.URL.Path) {
		return chartmogul.Errorf(chartmogul.EBADREQUEST, "The path must be valid UTF-8 without the NUL character.")
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if bad(k) || bad(v) {
				return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "?"),
					Message: fmt.Sprintf("Parameter %s must be valid UTF-8 without the NUL character.", chartmogul.Quote(strings.ToValidUTF8(k, "?")))}
			}
		}
	}
	return nil
}
