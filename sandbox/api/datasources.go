package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// dataSourceRoutes registers the data source routes. /all ("empty") and
// /dependent ("purge") are the Go client's maintenance calls: both remove
// every record of the source and keep the source.
func (s *Server) dataSourceRoutes(route router) {
	route("POST /v1/data_sources", s.createDataSource)
	route("GET /v1/data_sources", s.listDataSources)
	route("GET /v1/data_sources/{ds}", s.getDataSource)
	route("DELETE /v1/data_sources/{ds}", s.deleteDataSource)
	route("DELETE /v1/data_sources/{ds}/all", s.emptyDataSource)
	route("DELETE /v1/data_sources/{ds}/dependent", s.emptyDataSource)
}

// dataSourceDetailJSON is a data source with the members the opt-in query
// flags add (with_processing_status, with_auto_churn_subscription_setting,
// with_invoice_handling_setting).
type dataSourceDetailJSON struct {
	dataSourceJSON
	ProcessingStatus *processingStatusJSON `json:"processing_status,omitzero"`
	AutoChurn        *autoChurnJSON        `json:"auto_churn_subscription_setting,omitzero"`
	InvoiceHandling  *invoiceHandlingJSON  `json:"invoice_handling_setting,omitzero"`
}

type processingStatusJSON struct {
	Processed int `json:"processed"`
	Failed    int `json:"failed"`
	Pending   int `json:"pending"`
}

// autoChurnJSON is the auto-churn setting. Recur keeps no such setting, so
// it is off: {"enabled": false, "interval": null}.
type autoChurnJSON struct {
	Enabled  bool `json:"enabled"`
	Interval *int `json:"interval"`
}

type invoiceHandlingJSON struct {
	Manual    invoiceHandlingRuleJSON `json:"manual"`
	Automatic invoiceHandlingRuleJSON `json:"automatic"`
}

type invoiceHandlingRuleJSON struct {
	CreateSubscriptionWhenInvoiceIs         string `json:"create_subscription_when_invoice_is"`
	UpdateSubscriptionWhenInvoiceIs         string `json:"update_subscription_when_invoice_is"`
	PreventSubscriptionForInvoiceVoided     bool   `json:"prevent_subscription_for_invoice_voided"`
	PreventSubscriptionForInvoiceRefunded   bool   `json:"prevent_subscription_for_invoice_refunded"`
	PreventSubscriptionForInvoiceWrittenOff bool   `json:"prevent_subscription_for_invoice_written_off"`
}

// defaultInvoiceHandling is ChartMogul's default invoice handling, the same
// for manually and automatically collected invoices: subscriptions start and
// change when an invoice is issued (open); voided and written-off invoices
// create none, refunded ones do.
var defaultInvoiceHandling = invoiceHandlingRuleJSON{
	CreateSubscriptionWhenInvoiceIs: "open", UpdateSubscriptionWhenInvoiceIs: "open",
	PreventSubscriptionForInvoiceVoided: true, PreventSubscriptionForInvoiceRefunded: false, PreventSubscriptionForInvoiceWrittenOff: true,
}

// dataSourceFlags are the opt-in query flags of the data source reads.
type dataSourceFlags struct {
	processingStatus, autoChurn, invoiceHandling bool
}

// readDataSourceFlags reads the opt-in flags: true or false (also 1 or 0);
// absent or empty means false.
func readDataSourceFlags(r *http.Request) (dataSourceFlags, error) {
	q := r.URL.Query()
	var f dataSourceFlags
	for _, fl := range []struct {
		name string
		dst  *bool
	}{
		{"with_processing_status", &f.processingStatus},
		{"with_auto_churn_subscription_setting", &f.autoChurn},
		{"with_invoice_handling_setting", &f.invoiceHandling},
	} {
		v := q.Get(fl.name)
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: fl.name, Message: fmt.Sprintf("Parameter %q must be true or false; got %s.", fl.name, chartmogul.Quote(v))}
		}
		*fl.dst = b
	}
	return f, nil
}

// dataSourcesJSON renders data sources with the members the flags ask for,
// counting the imports of all of them in one query.
func (s *Server) dataSourcesJSON(r *http.Request, list []chartmogul.DataSource, f dataSourceFlags) ([]dataSourceDetailJSON, error) {
	var statuses map[int64]store.ProcessingStatus
	if f.processingStatus {
		ids := make([]int64, len(list))
		for i := range list {
			ids[i] = list[i].ID
		}
		var err error
		if statuses, err = s.Store.ProcessingStatuses(r.Context(), ids); err != nil {
			return nil, err
		}
	}
	out := make([]dataSourceDetailJSON, len(list))
	for i := range list {
		d := dataSourceDetailJSON{dataSourceJSON: toDataSource(&list[i])}
		if f.processingStatus {
			ps := statuses[list[i].ID]
			d.ProcessingStatus = &processingStatusJSON{Processed: ps.Processed, Failed: ps.Failed, Pending: ps.Pending}
		}
		if f.autoChurn {
			d.AutoChurn = &autoChurnJSON{}
		}
		if f.invoiceHandling {
			d.InvoiceHandling = &invoiceHandlingJSON{Manual: defaultInvoiceHandling, Automatic: defaultInvoiceHandling}
		}
		out[i] = d
	}
	return out, nil
}

// createDataSource creates a data source from {"name": …}: 201. Other
// members are ignored, among them the empty read-only ones the Go client
// sends (uuid, created_at, status, system).
func (s *Server) createDataSource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name       *string `json:"name"`
		WebhookURL *string `json:"webhook_url"` // Recur's extension: api/webhooks.go
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	if err := checkWebhookURL(in.WebhookURL); err != nil {
		return err
	}
	ds, err := s.Store.CreateDataSource(r.Context(), callerOf(r.Context()).account.ID, name, "")
	if err != nil {
		return err
	}
	if in.WebhookURL != nil && *in.WebhookURL != "" {
		return s.createdWithWebhook(w, r, ds, *in.WebhookURL)
	}
	writeJSON(w, http.StatusCreated, toDataSource(ds))
	return nil
}

// listDataSources lists the account's data sources, not paginated, as
// ChartMogul lists them; name and system filter.
func (s *Server) listDataSources(w http.ResponseWriter, r *http.Request) error {
	flags, err := readDataSourceFlags(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	list, err := s.Store.ListDataSources(r.Context(), callerOf(r.Context()).account.ID, store.DataSourceFilter{Name: q.Get("name"), System: q.Get("system")})
	if err != nil {
		return err
	}
	out, err := s.dataSourcesJSON(r, list, flags)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		DataSources []dataSourceDetailJSON `json:"data_sources"`
	}{out})
	return nil
}

func (s *Server) getDataSource(w http.ResponseWriter, r *http.Request) error {
	flags, err := readDataSourceFlags(r)
	if err != nil {
		return err
	}
	ds, err := s.Store.DataSource(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("ds"))
	if err != nil {
		return err
	}
	out, err := s.dataSourcesJSON(r, []chartmogul.DataSource{*ds}, flags)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out[0])
	return nil
}

func (s *Server) deleteDataSource(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteDataSource(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("ds")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// emptyDataSource removes every record of a data source and keeps the
// source: 204.
func (s *Server) emptyDataSource(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.EmptyDataSource(r.Context(), callerOf(r.Context()).account.ID, r.PathValue("ds")); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}
