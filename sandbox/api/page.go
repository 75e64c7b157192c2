package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// Lists are paged by opaque keyset cursors, newest first (spec §1.5): a
// cursor is the base64 of the list's name, the account's id and the last id
// shown, so a cursor from another list or another account is refused rather
// than silently paging through something else.

const (
	defaultPerPage = 200
	maxPerPage     = 200
)

// page reads per_page and cursor. per_page defaults to 200, and larger
// values are clamped to 200, as ChartMogul documents; zero, negative or
// non-numeric values are refused. The deprecated page parameter is refused
// with ChartMogul's message.
func page(r *http.Request, list string) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Limit: defaultPerPage}
	if q.Has("page") {
		return p, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "page", Message: `Parameter "page" is deprecated; use the cursor from the previous page.`}
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "per_page", Message: fmt.Sprintf(
				`Parameter "per_page" must be a whole number from 1 to %d; got %s.`, maxPerPage, chartmogul.Quote(v))}
		}
		p.Limit = min(n, maxPerPage)
	}
	if c := q.Get("cursor"); c != "" {
		before, err := decodeCursor(c, list, callerOf(r.Context()).account.ID)
		if err != nil {
			return p, err
		}
		p.Before = before
	}
	return p, nil
}

func encodeCursor(list string, accountID, lastID int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%d:%d", list, accountID, lastID)))
}

func decodeCursor(c, list string, accountID int64) (int64, error) {
	bad := &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "cursor", Message: `Parameter "cursor" is not a cursor of this list; pass the cursor value of the previous page unchanged, or leave it out for the first page.`}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil {
		return 0, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != list || parts[1] != strconv.FormatInt(accountID, 10) {
		return 0, bad
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}

// pageResult trims the extra row the store returns to tell whether more
// follow, and returns the cursor of the next page ("" when none).
func pageResult[T any](items []T, p store.Page, list string, accountID int64, idOf func(*T) int64) ([]T, string, bool) {
	if len(items) <= p.Limit {
		return items, "", false
	}
	items = items[:p.Limit]
	return items, encodeCursor(list, accountID, idOf(&items[len(items)-1])), true
}

// optString renders "" as null.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
