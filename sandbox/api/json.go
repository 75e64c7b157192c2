package api

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/go-json-experiment/json"
)

// writeJSON answers with v as JSON. Every answer carries the JSON content
// type, errors included.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	encodeJSON(&buf, v)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// encodeJSON writes v to buf. Nil slices and maps are written as [] and {}:
// ChartMogul never answers null for a list.
func encodeJSON(buf *bytes.Buffer, v any) {
	if err := json.MarshalWrite(buf, v, json.Deterministic(true)); err != nil {
		// Only a programming error can make Recur's own types unencodable.
		panic(err)
	}
}

// writeNoContent answers 204 with no body, as ChartMogul does for deletes.
func writeNoContent(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads at most limit bytes of the request body. It reports
// whether the body was over the limit.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool, error) {
	if r.ContentLength > limit {
		return nil, true, nil
	}
	// Size the buffer from Content-Length when the client sent one, so that
	// a 5 MB body is read into one 5 MB allocation, not a doubling series.
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	body := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if asMaxBytes(err, &mbe) {
			return nil, true, nil
		}
		return nil, false, err
	}
	return body, false, nil
}
