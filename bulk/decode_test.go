package bulk_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/recurhq/recur"
	"github.com/recurhq/recur/bulk"
)

func TestScratch(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, in := range []string{
		"{\"customers\": [{\"external_id\": \"\xff\"}]}", "{\"customers\": [{\"external_id\": \"a\tb\"}]}", `{"customers": [1 2]}`, `{"customers": [1,]}`,
		`{"customers" [1]}`, `{"customers": [], }`, `{"external_id": "` + string(make([]byte, 0)) + `"}`, `{"customers": []} {"plans": []}`, `{"customers": [{"external_id": "\ud800"}]}`,
		`{"customers": [{"external_id": "a"}]]`, `{"customers": [{"external_id": "a"}}`, "\ufeff{}", `{"customers": tru}`, `{"customers": [{"name": 1e400}]}`,
	} {
		_, ierr := bulk.Inspect([]byte(in))
		_, err := bulk.Decode([]byte(in), now)
		fmt.Printf("IN %q\n  inspect: %v\n", in, ierr)
		if e, ok := err.(*recur.Error); ok {
			fmt.Printf("  decode err: code=%s param=%q msg=%q\n", e.Code, e.Param, e.Message)
		} else {
			fmt.Printf("  decode: %v\n", err)
		}
	}
}
