package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

// The single-object endpoints write through the same code as the bulk
// import: the request's records go into a strict chartmogul.Batch (Add decodes
// them with the bulk decoder's field rules, Validate applies the same record
// rules), and the store resolves and writes it all or nothing
// (Store.ApplyChanges). A record valid in one path is valid in the other,
// with the same messages; only duplicates differ, failing with ChartMogul's
// own duplicate messages where a bulk import would match the stored row.

// body reads a request body of at most MaxBody bytes; an empty body reads as
// an empty object.
func (s *Server) body(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, tooLarge, err := readBody(w, r, s.MaxBody)
	if tooLarge {
		return nil, chartmogul.Errorf(chartmogul.ETOOLARGE, "The request body is over the limit of %s.", megabytes(s.MaxBody))
	}
	if err != nil {
		return nil, bodyReadError(err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return []byte("{}"), nil
	}
	// No column of Recur's may hold the NUL character; refuse it here rather
	// than let the database refuse the write.
	if bytes.Contains(body, []byte(`\u0000`)) {
		return nil, chartmogul.Errorf(chartmogul.EBADREQUEST, `The request body must not contain the NUL character (\u0000).`)
	}
	return body, nil
}

// bodyReadError says why a request body could not be read, without the
// network addresses the reader's error carries.
func bodyReadError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return chartmogul.Errorf(chartmogul.EBADREQUEST, "The request body did not arrive in time; send the request again.")
	}
	return chartmogul.Errorf(chartmogul.EBADREQUEST, "The request body could not be read in full; send the request again.")
}

// missing is ChartMogul's 400 for a required parameter that is absent.
func missing(param string) error {
	return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: param, Message: fmt.Sprintf("Parameter %q is missing", param)}
}

// rawString reads an optional string member that Add left to the caller.
// null and absence both give "".
func rawString(raw map[string]jsontext.Value, key string) (string, error) {
	v, ok := raw[key]
	if !ok || v.Kind() == 'n' {
		return "", nil
	}
	if v.Kind() != '"' {
		return "", &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: key, Message: fmt.Sprintf("Parameter %q must be a string.", key)}
	}
	var s string
	if err := jsontextUnquote(v, &s); err != nil {
		return "", &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: key, Message: fmt.Sprintf("Parameter %q must be a string.", key)}
	}
	return s, nil
}

func jsontextUnquote(v jsontext.Value, dst *string) error {
	b, err := jsontext.AppendUnquote(nil, v)
	*dst = string(b)
	return err
}

// dataSourceOf finds the caller's data source named by a body member; it is
// required.
func (s *Server) dataSourceOf(ctx context.Context, raw map[string]jsontext.Value) (*chartmogul.DataSource, error) {
	uuid, err := rawString(raw, "data_source_uuid")
	if err != nil {
		return nil, err
	}
	if uuid == "" {
		return nil, missing("data_source_uuid")
	}
	return s.Store.DataSource(ctx, callerOf(ctx).account.ID, uuid)
}

// recordErrors collects the failures of a strict batch into ChartMogul's
// errors map, one message per field (the first). Failures of records of
// type nested are keyed "<type>.<field>", as ChartMogul keys the errors of
// an invoice's line items and transactions.
func recordErrors(rep *chartmogul.ImportReport, main chartmogul.RecordType) map[string]string {
	out := map[string]string{}
	for _, f := range rep.Failures {
		key := f.Field
		if key == "" {
			key = "base"
		}
		if f.Type != main {
			key = string(f.Type) + "." + key
		}
		if _, ok := out[key]; !ok {
			out[key] = f.Message
		}
	}
	return out
}

// apply validates a strict batch and writes it through the store, all or
// nothing. It returns an EINVALID error with ChartMogul's errors map when a
// record fails.
func (s *Server) apply(ctx context.Context, ds *chartmogul.DataSource, b *chartmogul.Batch, main chartmogul.RecordType) (*bulk.ImportChanges, error) {
	b.Validate()
	ch, err := s.Store.ApplyChanges(ctx, ds.ID, bulk.Keys(b), bulk.Resolver(b))
	if err != nil {
		return nil, err
	}
	if len(ch.Report.Failures) > 0 {
		return ch, chartmogul.Invalid(recordErrors(ch.Report, main))
	}
	return ch, nil
}
