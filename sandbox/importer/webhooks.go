package importer

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// Completion webhooks: the store queues a store.WebhookArgs job in the
// transaction that finishes an import of a data source with a webhook URL;
// the worker here POSTs the import to the URL, signed, and records the
// attempt. A 2xx answer ends the job; anything else returns an error, and
// River retries it after Webhooks.Backoff, up to store.WebhookMaxAttempts
// attempts. The wire format and signature scheme are documented in package
// api (api/webhooks.go), which serves the routes that configure and list
// them.

// WebhookTimeout bounds one delivery attempt: the receiver has this long to
// answer.
const WebhookTimeout = 10 * time.Second

// webhookJobTimeout bounds one attempt's job: the request, reading the start
// of the answer, and recording the attempt.
const webhookJobTimeout = 30 * time.Second

// Webhooks configures the delivery of completion webhooks.
type Webhooks struct {
	// Render renders an import as the API answers GET
	// /v1/data_sources/{ds}/json_imports/{id}: the body of its webhook.
	// `recur serve` and `recur worker` set api.ImportJSON; package importer
	// cannot import api, which is why it is handed in. While it is nil,
	// deliveries fail, saying so in their attempts.
	Render func(imp *chartmogul.Import) []byte
	// Client makes the requests; nil means a client with WebhookTimeout
	// that does not follow redirects (a 3xx is an answer, not a success).
	Client *http.Client
	// Backoff is how long to wait after failed attempt n (from 1) before the
	// next; nil means DefaultWebhookBackoff. Tests shorten it.
	Backoff func(attempt int) time.Duration
	// Now is the clock of the signatures' timestamps; nil means time.Now.
	Now func() time.Time
}

// DefaultWebhookBackoff waits 10 s after the first failed attempt and twice
// as long after each further one, at most an hour: 10 s, 20 s, 40 s, … The
// ten attempts of one event span about 85 minutes, long enough to ride out
// a receiver's deploy or restart.
func DefaultWebhookBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 12 {
		return time.Hour
	}
	return min(10*time.Second<<(attempt-1), time.Hour)
}

// defaultWebhookClient is the client of deliveries when Webhooks.Client is
// nil.
var defaultWebhookClient = &http.Client{
	Timeout:       WebhookTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// SignWebhook returns the X-Recur-Signature of a delivery: "sha256=" and
// the hex HMAC-SHA256, keyed with the data source's secret, of the
// timestamp (Unix seconds, in decimal, as sent in X-Recur-Timestamp), a
// full stop, and the body.
func SignWebhook(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

type webhookWorker struct {
	river.WorkerDefaults[store.WebhookArgs]
	im *Importer
}

// Timeout bounds one attempt.
func (w *webhookWorker) Timeout(*river.Job[store.WebhookArgs]) time.Duration {
	return webhookJobTimeout
}

// NextRetry schedules the next attempt after Webhooks.Backoff.
func (w *webhookWorker) NextRetry(job *river.Job[store.WebhookArgs]) time.Time {
	backoff := w.im.Webhooks.Backoff
	if backoff == nil {
		backoff = DefaultWebhookBackoff
	}
	// At least a millisecond: River refuses a retry time not after now.
	return time.Now().Add(max(backoff(job.Attempt), time.Millisecond))
}

// Work makes one delivery attempt. An import or webhook that no longer
// exists (the data source was deleted, or its webhook cleared) cancels the
// job: there is nothing left to deliver, or nowhere to.
func (w *webhookWorker) Work(ctx context.Context, job *river.Job[store.WebhookArgs]) error {
	err := w.im.DeliverWebhook(ctx, job.Args, job.Attempt)
	if errors.Is(err, errNoWebhook) || chartmogul.IsNotFound(err) {
		w.im.Log.Info("webhook dropped", "import_id", job.Args.ImportID, "delivery", job.Args.DeliveryID, "reason", err.Error())
		return river.JobCancel(err)
	}
	return err
}

// errNoWebhook says the data source's webhook was cleared after the
// delivery was queued.
var errNoWebhook = errors.New("the data source no longer has a webhook URL")

// DeliverWebhook makes attempt number attempt of the delivery args names:
// it loads the import and its data source's webhook as they are now, POSTs
// the rendered import with its signature, and records the attempt. It
// returns nil when the receiver answered 2xx, and otherwise an error saying
// what went wrong, for River to retry. ENOTFOUND means the import is gone.
func (im *Importer) DeliverWebhook(ctx context.Context, args store.WebhookArgs, attempt int) error {
	imp, err := im.Store.ImportByID(ctx, args.ImportID)
	if err != nil {
		return err
	}
	target, err := im.Store.WebhookTarget(ctx, imp.DataSourceID)
	if err != nil {
		return err
	}
	if target.URL == "" {
		return errNoWebhook
	}
	d := &store.WebhookDelivery{AccountID: imp.AccountID, DataSourceID: imp.DataSourceID, ImportID: imp.ID,
		DeliveryID: args.DeliveryID, Event: args.Event, URL: target.URL, Attempt: attempt}
	start := time.Now()
	sendErr := im.sendWebhook(ctx, imp, args, target, d)
	d.Duration = time.Since(start)
	if sendErr != nil {
		d.Error = sendErr.Error()
	}
	// Record the attempt even when the job's context ended (a timeout is
	// an attempt too), within a bound of its own.
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := im.Store.RecordWebhookDelivery(recCtx, d); err != nil {
		return errors.Join(sendErr, err)
	}
	if sendErr != nil {
		return fmt.Errorf("webhook delivery %s, attempt %d, to %s: %w", args.DeliveryID, attempt, target.URL, sendErr)
	}
	return nil
}

// sendWebhook makes the request and fills in the answer's status code and
// start; it returns an error unless the answer was 2xx.
func (im *Importer) sendWebhook(ctx context.Context, imp *chartmogul.Import, args store.WebhookArgs, target store.WebhookTarget, d *store.WebhookDelivery) error {
	if im.Webhooks.Render == nil {
		return errors.New("this Recur worker cannot render imports: its importer.Webhooks.Render is not set (a fault of Recur's set-up, not the receiver's)")
	}
	body := im.Webhooks.Render(imp)
	now := time.Now
	if im.Webhooks.Now != nil {
		now = im.Webhooks.Now
	}
	ts := now().Unix()
	ctx, cancel := context.WithTimeout(ctx, WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("the request cannot be made: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "recur-webhooks")
	h.Set("X-Recur-Event", args.Event)
	h.Set("X-Recur-Delivery", args.DeliveryID)
	h.Set("X-Recur-Timestamp", strconv.FormatInt(ts, 10))
	h.Set("X-Recur-Signature", SignWebhook(target.Secret, ts, body))
	client := im.Webhooks.Client
	if client == nil {
		client = defaultWebhookClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	d.StatusCode = resp.StatusCode
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, store.MaxWebhookResponse))
	d.Response = string(excerpt)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s; only a 2xx answer ends the delivery", resp.Status)
	}
	return nil
}
