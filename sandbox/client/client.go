// Package client is a Go client of Recur's API: data sources and bulk
// imports, the calls `recur import` makes. Errors the server answers come
// back as *chartmogul.Error with the code its status maps to and the server's
// message, so callers handle remote failures the same way as local ones.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
)

// Client talks to one Recur server with one API key.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	APIKey  string
	HTTP    *http.Client
}

// New returns a client of the server at baseURL.
func New(baseURL, apiKey string) *Client {
	return &Client{BaseURL: baseURL, APIKey: apiKey, HTTP: &http.Client{Timeout: 2 * time.Minute}}
}

// DataSource is a data source as the API shows it.
type DataSource struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	System    string `json:"system"`
	CreatedAt string `json:"created_at"`
	Status    string `json:"status"`
}

// Import is a bulk import as the API shows it, Recur's extension included.
type Import struct {
	ID             string                           `json:"id"`
	DataSourceUUID string                           `json:"data_source_uuid"`
	Status         chartmogul.ImportStatus          `json:"status"`
	ExternalID     string                           `json:"external_id"`
	StatusDetails  jsontext.Value                   `json:"status_details"`
	CreatedAt      string                           `json:"created_at"`
	UpdatedAt      string                           `json:"updated_at"`
	Reason         string                           `json:"reason"`
	Counts         map[string]chartmogul.TypeCounts `json:"counts"`
	FailedRecords  []chartmogul.RecordProblem       `json:"failed_records"`
	Warnings       []chartmogul.RecordProblem       `json:"warnings"`
	DryRun         bool                             `json:"dry_run"`
}

// Records returns the number of records the import received, and how many
// failed, over all types.
func (imp *Import) Records() (received, failed int) {
	for _, c := range imp.Counts {
		received += c.Received
		failed += c.Failed
	}
	return received, failed
}

// do sends a request and decodes a JSON answer into out (when not nil). It
// returns the status code, and a *chartmogul.Error for any status other than
// 2xx, or an EUNAVAILABLE one when the server cannot be reached.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(c.APIKey, "")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "recur-client")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var ne net.Error
		var ue *url.Error
		if errors.As(err, &ne) || errors.As(err, &ue) {
			return 0, &chartmogul.Error{Code: chartmogul.EUNAVAILABLE, Message: fmt.Sprintf("Recur at %s cannot be reached: %v", c.BaseURL, unwrapURL(err))}
		}
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, &chartmogul.Error{Code: chartmogul.EUNAVAILABLE, Message: fmt.Sprintf("the answer of Recur at %s was cut off: %v", c.BaseURL, err), Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, errorOf(resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out, json.RejectUnknownMembers(false)); err != nil {
			return resp.StatusCode, fmt.Errorf("the answer to %s %s is not what Recur sends: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorOf maps an error answer back to the error code its status stands for,
// with the server's message.
func errorOf(status int, body []byte) error {
	var b struct {
		Message string            `json:"message"`
		Param   *string           `json:"param"`
		Error   string            `json:"error"`
		Errors  map[string]string `json:"errors"`
	}
	_ = json.Unmarshal(body, &b, json.RejectUnknownMembers(false))
	e := &chartmogul.Error{Message: b.Message, Fields: b.Errors}
	if e.Message == "" {
		e.Message = b.Error
	}
	if b.Param != nil {
		e.Param = *b.Param
	}
	switch status {
	case http.StatusBadRequest:
		e.Code = chartmogul.EBADREQUEST
	case http.StatusUnauthorized:
		e.Code = chartmogul.EUNAUTHORIZED
	case http.StatusForbidden:
		e.Code = chartmogul.EFORBIDDEN
	case http.StatusNotFound:
		e.Code = chartmogul.ENOTFOUND
	case http.StatusRequestEntityTooLarge:
		e.Code = chartmogul.ETOOLARGE
	case http.StatusUnprocessableEntity:
		e.Code = chartmogul.EINVALID
	case http.StatusTooManyRequests:
		e.Code = chartmogul.ERATELIMIT
	case http.StatusServiceUnavailable:
		e.Code = chartmogul.EUNAVAILABLE
	default:
		e.Code = chartmogul.EINTERNAL
	}
	if e.Message == "" && len(e.Fields) == 0 {
		e.Message = fmt.Sprintf("Recur answered %d %s", status, http.StatusText(status))
	}
	return e
}

// Ping checks that the server answers and accepts the key.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/v1/ping", nil, nil)
	return err
}

// DataSources lists the account's data sources.
func (c *Client) DataSources(ctx context.Context) ([]DataSource, error) {
	var out struct {
		DataSources []DataSource `json:"data_sources"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/data_sources", nil, &out)
	return out.DataSources, err
}

// CreateDataSource creates a data source.
func (c *Client) CreateDataSource(ctx context.Context, name string) (*DataSource, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	var ds DataSource
	_, err := c.do(ctx, http.MethodPost, "/v1/data_sources", body, &ds)
	return &ds, err
}

// CreateImport sends a bulk payload to a data source. existing is true when
// the data source already had an import with the payload's external id, which
// the server then returned instead of storing the payload again.
func (c *Client) CreateImport(ctx context.Context, dataSource string, payload []byte) (imp *Import, existing bool, err error) {
	imp = &Import{}
	status, err := c.do(ctx, http.MethodPost, "/v1/data_sources/"+url.PathEscape(dataSource)+"/json_imports", payload, imp)
	return imp, status == http.StatusOK, err
}

// DryRun validates a bulk payload against a data source without writing and
// returns the full report.
func (c *Client) DryRun(ctx context.Context, dataSource string, payload []byte) (*Import, error) {
	imp := &Import{}
	_, err := c.do(ctx, http.MethodPost, "/v1/data_sources/"+url.PathEscape(dataSource)+"/json_imports?dry_run=true", payload, imp)
	return imp, err
}

// Import returns an import by its id or external id.
func (c *Client) Import(ctx context.Context, dataSource, id string) (*Import, error) {
	imp := &Import{}
	_, err := c.do(ctx, http.MethodGet, "/v1/data_sources/"+url.PathEscape(dataSource)+"/json_imports/"+url.PathEscape(id), nil, imp)
	return imp, err
}

// WaitImport polls an import until it has finished, ctx ends, or the server
// fails. It polls every interval.
func (c *Client) WaitImport(ctx context.Context, dataSource, id string, interval time.Duration) (*Import, error) {
	for {
		imp, err := c.Import(ctx, dataSource, id)
		if err != nil || imp.Status.Finished() {
			return imp, err
		}
		select {
		case <-ctx.Done():
			return imp, ctx.Err()
		case <-time.After(interval):
		}
	}
}
