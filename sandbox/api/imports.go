package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
)

// importJSON is a bulk import as ChartMogul answers it (id, data_source_uuid,
// status, external_id, status_details, created_at, updated_at) plus Recur's
// extension: the reason of a failed import, counts per record type, and
// every failed record and warning.
type importJSON struct {
	ID             string                     `json:"id"`
	DataSourceUUID string                     `json:"data_source_uuid"`
	Status         string                     `json:"status"`
	ExternalID     *string                    `json:"external_id"`
	StatusDetails  jsontext.Value             `json:"status_details"`
	CreatedAt      string                     `json:"created_at"`
	UpdatedAt      string                     `json:"updated_at"`
	Reason         *string                    `json:"reason"`
	Counts         *countsJSON                `json:"counts"`
	FailedRecords  []chartmogul.RecordProblem `json:"failed_records"`
	Warnings       []chartmogul.RecordProblem `json:"warnings"`
}

type countsJSON struct {
	Customers          chartmogul.TypeCounts `json:"customers"`
	Plans              chartmogul.TypeCounts `json:"plans"`
	Invoices           chartmogul.TypeCounts `json:"invoices"`
	LineItems          chartmogul.TypeCounts `json:"line_items"`
	Transactions       chartmogul.TypeCounts `json:"transactions"`
	SubscriptionEvents chartmogul.TypeCounts `json:"subscription_events"`
}

func toImport(imp *chartmogul.Import) importJSON {
	j := importJSON{ID: imp.UUID, DataSourceUUID: imp.DataSourceUUID, Status: string(imp.Status), ExternalID: optString(imp.ExternalID),
		StatusDetails: jsontext.Value("{}"), CreatedAt: chartmogul.FormatSeconds(imp.CreatedAt), UpdatedAt: chartmogul.FormatSeconds(imp.UpdatedAt),
		Reason: optString(imp.Reason), FailedRecords: []chartmogul.RecordProblem{}, Warnings: []chartmogul.RecordProblem{}}
	if rep := imp.Report; rep != nil {
		j.StatusDetails = statusDetails(rep)
		c := func(t chartmogul.RecordType) chartmogul.TypeCounts {
			if n := rep.Counts[t]; n != nil {
				return *n
			}
			return chartmogul.TypeCounts{}
		}
		j.Counts = &countsJSON{Customers: c(chartmogul.RecordCustomers), Plans: c(chartmogul.RecordPlans), Invoices: c(chartmogul.RecordInvoices),
			LineItems: c(chartmogul.RecordLineItems), Transactions: c(chartmogul.RecordTransactions), SubscriptionEvents: c(chartmogul.RecordSubscriptionEvents)}
		j.FailedRecords = append(j.FailedRecords, rep.Failures...)
		j.Warnings = append(j.Warnings, rep.Warnings...)
	}
	return j
}

// statusDetails renders ChartMogul's status_details: "plans" first, then one
// member per customer external id in the order the payload named them, each
// with its own status and one member per record type it had. Types with
// failures list them, so that a customer's problems sit under its key.
func statusDetails(rep *chartmogul.ImportReport) jsontext.Value {
	var buf bytes.Buffer
	enc := jsontext.NewEncoder(&buf)
	failures := map[string][]chartmogul.RecordProblem{}
	for _, f := range rep.Failures {
		key := string(f.Type) + "\x00" + f.Customer
		failures[key] = append(failures[key], f)
	}
	enc.WriteToken(jsontext.BeginObject)
	enc.WriteToken(jsontext.String("plans"))
	writeTypeStatus(enc, rep.Plans.Outcome(), failures[string(chartmogul.RecordPlans)+"\x00"])
	for i := range rep.Customers {
		cr := &rep.Customers[i]
		enc.WriteToken(jsontext.String(cr.ExternalID))
		enc.WriteToken(jsontext.BeginObject)
		enc.WriteToken(jsontext.String("status"))
		enc.WriteToken(jsontext.String(string(cr.Outcome())))
		for _, t := range chartmogul.RecordTypes {
			n, ok := cr.Counts[t]
			if !ok || t == chartmogul.RecordPlans {
				continue
			}
			enc.WriteToken(jsontext.String(string(t)))
			writeTypeStatus(enc, n.Outcome(), failures[string(t)+"\x00"+cr.ExternalID])
		}
		enc.WriteToken(jsontext.EndObject)
	}
	enc.WriteToken(jsontext.EndObject)
	return jsontext.Value(bytes.TrimSpace(buf.Bytes()))
}

func writeTypeStatus(enc *jsontext.Encoder, o chartmogul.Outcome, errs []chartmogul.RecordProblem) {
	enc.WriteToken(jsontext.BeginObject)
	enc.WriteToken(jsontext.String("status"))
	enc.WriteToken(jsontext.String(string(o)))
	if len(errs) > 0 {
		enc.WriteToken(jsontext.String("errors"))
		enc.WriteToken(jsontext.BeginArray)
		for _, e := range errs {
			enc.WriteToken(jsontext.BeginObject)
			for _, kv := range [][2]string{{"external_id", e.ExternalID}, {"field", e.Field}, {"message", e.Message}} {
				enc.WriteToken(jsontext.String(kv[0]))
				enc.WriteToken(jsontext.String(kv[1]))
			}
			enc.WriteToken(jsontext.String("index"))
			enc.WriteToken(jsontext.Int(int64(e.Index)))
			enc.WriteToken(jsontext.EndObject)
		}
		enc.WriteToken(jsontext.EndArray)
	}
	enc.WriteToken(jsontext.EndObject)
}

// createImport accepts a bulk import: it checks the body (size, syntax,
// top-level members), stores it with its job, and answers 201 with the
// import, or 200 with the existing import when the data source already has
// one with this external id.
func (s *Server) createImport(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	ds, err := s.Store.DataSource(r.Context(), c.account.ID, r.PathValue("ds"))
	if err != nil {
		return err
	}
	body, tooLarge, err := readBody(w, r, s.MaxPayload)
	if tooLarge {
		return chartmogul.Errorf(chartmogul.ETOOLARGE, "The payload is over the limit of %s; split it into several imports, keeping all records of a customer in one.", megabytes(s.MaxPayload))
	}
	if err != nil {
		return bodyReadError(err)
	}
	if dry, err := boolParam(r, "dry_run"); err != nil {
		return err
	} else if dry {
		return s.dryRun(w, r, ds, body)
	}
	sum, err := chartmogul.Inspect(body)
	if err != nil {
		return err
	}
	imp, existing, err := s.Store.CreateImport(r.Context(), ds, sum.ExternalID, body)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if existing {
		status = http.StatusOK
	}
	writeJSON(w, status, toImport(imp))
	return nil
}

func megabytes(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func (s *Server) getImport(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	ds, err := s.Store.DataSource(r.Context(), c.account.ID, r.PathValue("ds"))
	if err != nil {
		return err
	}
	imp, err := s.Store.Import(r.Context(), ds, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toImport(imp))
	return nil
}

func (s *Server) listImports(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	ds, err := s.Store.DataSource(r.Context(), c.account.ID, r.PathValue("ds"))
	if err != nil {
		return err
	}
	p, err := page(r, "json_imports")
	if err != nil {
		return err
	}
	imps, err := s.Store.ListImports(r.Context(), ds, p.Before, p.Limit)
	if err != nil {
		return err
	}
	imps, cursor, more := pageResult(imps, p, "json_imports", c.account.ID, func(i *chartmogul.Import) int64 { return i.ID })
	out := make([]importJSON, len(imps))
	for i := range imps {
		out[i] = toImport(&imps[i])
	}
	writeJSON(w, http.StatusOK, struct {
		Imports []importJSON `json:"json_imports"`
		Cursor  *string      `json:"cursor"`
		HasMore bool         `json:"has_more"`
	}{out, optString(cursor), more})
	return nil
}

// dryRun answers ?dry_run=true: the payload is decoded, validated and
// resolved against the data source as it is now, and the full per-record
// report is returned at once. Nothing is stored.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request, ds *chartmogul.DataSource, body []byte) error {
	b, err := chartmogul.Decode(body, s.Now())
	if err != nil {
		return err
	}
	ch, err := s.Store.PreviewChanges(r.Context(), ds, bulk.Keys(b), bulk.Resolver(b))
	if err != nil {
		return err
	}
	now := s.Now()
	imp := &chartmogul.Import{DataSourceUUID: ds.UUID, ExternalID: b.ExternalID, Report: ch.Report, CreatedAt: now, UpdatedAt: now}
	imp.Status, imp.Reason = ch.Report.Result()
	out := toImport(imp)
	writeJSON(w, http.StatusOK, struct {
		DryRun bool `json:"dry_run"`
		importJSON
	}{true, out})
	return nil
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	switch strings.ToLower(v) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: name, Message: fmt.Sprintf("Parameter %q must be true or false; got %s.", name, chartmogul.Quote(v))}
}
