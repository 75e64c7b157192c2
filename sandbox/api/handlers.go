package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// ping answers an authenticated caller: clients ping to check their key.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"data": "pong!"})
	return nil
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) error {
	a := callerOf(r.Context()).account
	if r.URL.Query().Has("include") {
		return s.accountWithSettings(w, r, a) // metrics.go
	}
	writeJSON(w, http.StatusOK, accountJSON{ID: a.UUID, Name: a.Name, Currency: a.Currency, TimeZone: a.TimeZone, WeekStartOn: a.WeekStartOn})
	return nil
}

// decodeBody reads a JSON object body into v. Members Recur does not know
// are ignored, as ChartMogul ignores them (the Go client sends read-only
// members such as uuid and created_at, empty).
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v, json.RejectUnknownMembers(false)); err != nil {
		var se *json.SemanticError
		if errors.As(err, &se) && se.JSONPointer != "" {
			// A type mismatch carries no underlying error (se.Err is nil).
			why := se.Error()
			if se.Err != nil {
				why = se.Err.Error()
			}
			return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: strings.TrimPrefix(string(se.JSONPointer), "/"), Message: "The request body has a member of the wrong type at " + string(se.JSONPointer) + ": " + why}
		}
		return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Message: "The request body is not a valid JSON object: " + err.Error(), Err: err}
	}
	return nil
}

// offsets holds the deprecated offset keys ChartMogul still sends on the
// first page of a list and leaves out on pages asked for by cursor.
type offsets struct {
	CurrentPage *int `json:"current_page,omitzero"`
	TotalPages  *int `json:"total_pages,omitzero"`
}

func firstPage(p store.Page, total int) offsets {
	if p.Before != 0 {
		return offsets{}
	}
	one, pages := 1, (total+p.Limit-1)/p.Limit
	return offsets{CurrentPage: &one, TotalPages: &pages}
}
