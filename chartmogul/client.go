package chartmogul

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// DefaultURL is ChartMogul's API.
const DefaultURL = "https://api.chartmogul.com"

// MaxPayload is the largest bulk import body ChartMogul accepts: 5 MB.
const MaxPayload = 5 << 20

// Client talks to one ChartMogul account (or the local ChartMogul) with one
// API key. It is safe for concurrent use. Every error it returns for an
// answer of the server is an *Error whose Code says what happened and whether
// a retry can help (Retryable); the API key never appears in one.
type Client struct {
	BaseURL string // e.g. https://api.chartmogul.com or http://127.0.0.1:8080
	APIKey  string
	HTTP    *http.Client
	// Before, when set, is called before every request is sent, with the
	// request's method and path; an error stops the request. The worker
	// waits for its share of the account's request budget here.
	Before func(ctx context.Context, method, path string) error
	// After, when set, is called with the status of every answer (0 when
	// none came), for metrics.
	After func(method, path string, status int)
}

// NewClient returns a client of the API at baseURL.
func NewClient(baseURL, apiKey string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), APIKey: apiKey, HTTP: &http.Client{Timeout: 2 * time.Minute}}
}

// DataSourceState is a data source as the API shows it.
type DataSourceState struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	System    string `json:"system"`
	CreatedAt string `json:"created_at"`
	Status    string `json:"status"`
}

// ImportState is a bulk import as the API shows it: ChartMogul's members,
// and the local ChartMogul's extension (counts, failed_records, warnings,
// reason), which ChartMogul itself does not send.
type ImportState struct {
	ID             string                `json:"id"`
	DataSourceUUID string                `json:"data_source_uuid"`
	Status         ImportStatus          `json:"status"`
	ExternalID     string                `json:"external_id"`
	StatusDetails  jsontext.Value        `json:"status_details"`
	CreatedAt      string                `json:"created_at"`
	UpdatedAt      string                `json:"updated_at"`
	Reason         string                `json:"reason"`
	Counts         map[string]TypeCounts `json:"counts"`
	FailedRecords  []RecordProblem       `json:"failed_records"`
	Warnings       []RecordProblem       `json:"warnings"`
	DryRun         bool                  `json:"dry_run"`
}

// Records returns the number of records the import received, and how many
// failed, over all types (from the local ChartMogul's counts).
func (imp *ImportState) Records() (received, failed int) {
	for _, c := range imp.Counts {
		received += c.Received
		failed += c.Failed
	}
	return received, failed
}

// StatusDetail is what status_details says of one customer (or, under the
// key "plans", of the plans): its status, and the status of each record type
// it had in the import.
type StatusDetail struct {
	Status string
	Types  map[RecordType]string
}

// Details parses status_details: one entry per customer external id, and
// one under "plans". It returns an error when the member is not an object
// of objects, which ChartMogul never sends.
func (imp *ImportState) Details() (map[string]StatusDetail, error) {
	if len(imp.StatusDetails) == 0 || imp.StatusDetails.Kind() == 'n' {
		return map[string]StatusDetail{}, nil
	}
	var raw map[string]map[string]jsontext.Value
	if err := json.Unmarshal(imp.StatusDetails, &raw); err != nil {
		return nil, fmt.Errorf("status_details of import %s is not an object of objects: %w", imp.ID, err)
	}
	out := make(map[string]StatusDetail, len(raw))
	for key, members := range raw {
		d := StatusDetail{Types: map[RecordType]string{}}
		for name, v := range members {
			if name == "status" {
				_ = json.Unmarshal(v, &d.Status)
				continue
			}
			var typ struct {
				Status string `json:"status"`
			}
			if json.Unmarshal(v, &typ, json.RejectUnknownMembers(false)) == nil {
				d.Types[RecordType(name)] = typ.Status
			}
		}
		out[key] = d
	}
	return out, nil
}

// do sends a request and decodes a JSON answer into out (when not nil). It
// returns the status code, and an *Error for any status other than 2xx, or
// an EUNAVAILABLE one when the server cannot be reached.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	if c.Before != nil {
		if err := c.Before(ctx, method, path); err != nil {
			return 0, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%s is not a usable ChartMogul URL: %w", c.BaseURL, err)
	}
	// net/http silently sends a GET again when a reused connection turns
	// out closed; a request sent twice costs two of the account's requests
	// but passes the caller's rate budget once. A body it cannot rewind
	// (empty: nothing is sent) makes every request go out once, and the
	// caller decides about retries.
	req.GetBody = nil
	if len(body) == 0 {
		req.Body = io.NopCloser(bytes.NewReader(nil))
	}
	req.SetBasicAuth(c.APIKey, "")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "recur")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if c.After != nil {
			c.After(method, path, 0)
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, &Error{Code: EUNAVAILABLE, Message: fmt.Sprintf("%s %s at %s got no answer: %v", method, path, c.BaseURL, unwrapURL(err)), Err: unwrapURL(err)}
	}
	defer resp.Body.Close()
	if c.After != nil {
		c.After(method, path, resp.StatusCode)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, &Error{Code: EUNAVAILABLE, Status: resp.StatusCode, Message: fmt.Sprintf("the answer to %s %s at %s was cut off: %v", method, path, c.BaseURL, err), Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := errorOf(resp.StatusCode, data)
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
		if e.Message == "" && len(e.Fields) == 0 {
			e.Message = fmt.Sprintf("%s %s at %s answered %d %s", method, path, c.BaseURL, resp.StatusCode, http.StatusText(resp.StatusCode))
		}
		return resp.StatusCode, e
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out, json.RejectUnknownMembers(false)); err != nil {
			return resp.StatusCode, &Error{Code: EINTERNAL, Status: resp.StatusCode, Message: fmt.Sprintf("the answer to %s %s at %s is not what ChartMogul sends: %v", method, path, c.BaseURL, err), Err: err}
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

// retryAfter reads a Retry-After header: whole seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// errorOf maps an error answer to the code its status stands for, with the
// server's message. ChartMogul has no single error envelope (spec §8.2):
// {"code","message","param"}, {"error"} and {"errors": {field: message}}
// all occur.
func errorOf(status int, body []byte) *Error {
	var b struct {
		Message string            `json:"message"`
		Param   *string           `json:"param"`
		Error   string            `json:"error"`
		Errors  map[string]string `json:"errors"`
	}
	_ = json.Unmarshal(body, &b, json.RejectUnknownMembers(false))
	e := &Error{Message: b.Message, Fields: b.Errors, Status: status}
	if e.Message == "" {
		e.Message = b.Error
	}
	if b.Param != nil {
		e.Param = *b.Param
	}
	e.Code = CodeOfStatus(status)
	return e
}

// CodeOfStatus is the error code an HTTP status of ChartMogul's stands for:
// the inverse of the local ChartMogul's mapping of codes to statuses.
func CodeOfStatus(status int) ErrorCode {
	switch status {
	case http.StatusBadRequest:
		return EBADREQUEST
	case http.StatusUnauthorized:
		return EUNAUTHORIZED
	case http.StatusForbidden, http.StatusPaymentRequired:
		return EFORBIDDEN
	case http.StatusNotFound:
		return ENOTFOUND
	case http.StatusRequestEntityTooLarge:
		return ETOOLARGE
	case http.StatusUnprocessableEntity:
		return EINVALID
	case http.StatusTooManyRequests:
		return ERATELIMIT
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return EUNAVAILABLE
	}
	return EINTERNAL
}

// Retryable reports whether err is worth trying again unchanged: a rate
// limit (429), a server error (5xx) or no answer at all. A refused payload
// (400, 413, 422), a refused key (401, 403) and an unknown data source (404)
// are not: the same request would be refused again.
func Retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		var ne net.Error
		return errors.As(err, &ne)
	}
	switch e.Code {
	case ERATELIMIT, EUNAVAILABLE, EINTERNAL:
		return true
	}
	return false
}

// RetryAfter returns how long the server asked to wait before the next
// request (its Retry-After header), or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Ping checks that the server answers and accepts the key.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/v1/ping", nil, nil)
	return err
}

// DataSources lists the account's data sources.
func (c *Client) DataSources(ctx context.Context) ([]DataSourceState, error) {
	var out struct {
		DataSources []DataSourceState `json:"data_sources"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/data_sources", nil, &out)
	return out.DataSources, err
}

// DataSource returns one data source by its uuid.
func (c *Client) DataSource(ctx context.Context, uuid string) (*DataSourceState, error) {
	var ds DataSourceState
	_, err := c.do(ctx, http.MethodGet, "/v1/data_sources/"+url.PathEscape(uuid), nil, &ds)
	return &ds, err
}

// CreateDataSource creates a data source.
func (c *Client) CreateDataSource(ctx context.Context, name string) (*DataSourceState, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	var ds DataSourceState
	_, err := c.do(ctx, http.MethodPost, "/v1/data_sources", body, &ds)
	return &ds, err
}

// CreateImport sends a bulk payload to a data source. existing is true when
// the data source already had an import with the payload's external id,
// which the local ChartMogul then returns instead of storing the payload
// again (ChartMogul does not document what it does).
func (c *Client) CreateImport(ctx context.Context, dataSource string, payload []byte) (imp *ImportState, existing bool, err error) {
	imp = &ImportState{}
	status, err := c.do(ctx, http.MethodPost, "/v1/data_sources/"+url.PathEscape(dataSource)+"/json_imports", payload, imp)
	return imp, status == http.StatusOK, err
}

// DryRun validates a bulk payload against a data source of the local
// ChartMogul without writing, and returns the full report.
func (c *Client) DryRun(ctx context.Context, dataSource string, payload []byte) (*ImportState, error) {
	imp := &ImportState{}
	_, err := c.do(ctx, http.MethodPost, "/v1/data_sources/"+url.PathEscape(dataSource)+"/json_imports?dry_run=true", payload, imp)
	return imp, err
}

// Import returns an import by its id or by its external id (ChartMogul's
// documentation names the import by the caller's external id).
func (c *Client) Import(ctx context.Context, dataSource, id string) (*ImportState, error) {
	imp := &ImportState{}
	_, err := c.do(ctx, http.MethodGet, "/v1/data_sources/"+url.PathEscape(dataSource)+"/json_imports/"+url.PathEscape(id), nil, imp)
	return imp, err
}

// WaitImport polls an import until it has finished, ctx ends, or the server
// fails. It polls every interval.
func (c *Client) WaitImport(ctx context.Context, dataSource, id string, interval time.Duration) (*ImportState, error) {
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
