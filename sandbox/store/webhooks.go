package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/recurhq/recur/chartmogul"
)

// Completion webhooks. A data source may carry a webhook URL; when one of
// its imports finishes, the transaction that finishes it also inserts a
// WebhookArgs job (enqueueWebhook, called by ApplyImport and FailImport), so
// an import is announced if and only if its final status committed, whatever
// process dies. Package importer works the job: it POSTs the import, signed
// with the data source's secret, and records every attempt here
// (RecordWebhookDelivery); River retries failed attempts with backoff.
//
// The URL and secret are read when each attempt is made, not when the job is
// queued: fixing a wrong URL or rotating a leaked secret takes effect for
// deliveries still being retried, and clearing the URL stops them.

// QueueWebhooks is the River queue of webhook deliveries. Deliveries wait
// on other people's servers (up to ten seconds an attempt), so they have a
// queue of their own and never hold up the workers that apply imports.
const QueueWebhooks = "webhooks"

// WebhookWorkers is how many deliveries one process makes at once.
const WebhookWorkers = 4

// WebhookMaxAttempts is how many times one event is attempted before River
// gives up on it; with the importer's default backoff the last attempt comes
// about 85 minutes after the first.
const WebhookMaxAttempts = 10

// The events a webhook announces: the X-Recur-Event header.
const (
	WebhookImportCompleted = "import.completed"
	WebhookImportFailed    = "import.failed"
)

// WebhookArgs is the River job that delivers one event of one import.
// DeliveryID is the same on every attempt (receivers drop duplicates by
// it). Jobs are unique per import: an import finishes once, and a second
// job for it (a race between two workers failing the same unreadable
// payload) is skipped.
type WebhookArgs struct {
	ImportID     int64  `json:"import_id" river:"unique"`
	DataSourceID int64  `json:"data_source_id"`
	Event        string `json:"event"`
	DeliveryID   string `json:"delivery_id"`
}

// Kind names the job for River.
func (WebhookArgs) Kind() string { return "recur.deliver_webhook" }

// InsertOpts puts deliveries on their queue with their attempt limit.
func (WebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: WebhookMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// WebhookEvent names the event of an import that finished with status.
func WebhookEvent(status chartmogul.ImportStatus) string {
	if status == chartmogul.ImportFailed {
		return WebhookImportFailed
	}
	return WebhookImportCompleted
}

// enqueueWebhook queues, in tx, the delivery of the webhook of an import
// that tx finishes with status, when the import's data source has a
// webhook URL; otherwise it does nothing.
func (s *Store) enqueueWebhook(ctx context.Context, tx *txn, importID int64, status chartmogul.ImportStatus) error {
	var dsID int64
	var hook string
	err := tx.queryRow(ctx, `SELECT d.id, d.webhook_url FROM imports i JOIN data_sources d ON d.id = i.data_source_id WHERE i.id = $1`, importID).Scan(&dsID, &hook)
	if err != nil {
		return internal("find the import's webhook", err)
	}
	if hook == "" {
		return nil
	}
	args := WebhookArgs{ImportID: importID, DataSourceID: dsID, Event: WebhookEvent(status), DeliveryID: chartmogul.NewUUID()}
	return internal("queue the import's webhook", s.queue.insertJobTx(ctx, tx, args, nil))
}

// maxWebhookURL bounds the length of a webhook URL.
const maxWebhookURL = 2048

// ValidateWebhookURL checks that raw is a URL Recur can deliver to: an
// absolute http:// or https:// URL with a host, at most 2048 characters. It
// returns an EINVALID error for the field webhook_url saying what is wrong.
// Hosts are not restricted: Recur is self-hosted, and its receivers are
// often on the same machine or network.
func ValidateWebhookURL(raw string) error {
	bad := func(why string) error {
		return chartmogul.Invalid(map[string]string{"webhook_url": why})
	}
	const want = "webhook_url must be an absolute http:// or https:// URL, such as https://example.com/hooks/recur; got "
	if len(raw) > maxWebhookURL {
		return bad("webhook_url must be at most 2048 characters long.")
	}
	if raw == "" || strings.TrimSpace(raw) != raw {
		return bad(want + chartmogul.Quote(raw) + ".")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return bad(want + chartmogul.Quote(raw) + ".")
	}
	return nil
}

// newWebhookSecret returns a fresh signing secret: 32 random bytes, in hex,
// after a prefix that tells people what it is.
func newWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

// WebhookChange is a change to a data source's webhook. SetURL false leaves
// the URL as it is; SetURL with URL "" clears it, and with it the secret.
// RotateSecret replaces the secret.
type WebhookChange struct {
	SetURL       bool
	URL          string
	RotateSecret bool
}

// ChangeWebhook changes the webhook of the account's data source dsUUID and
// returns the data source as it is now, with the new signing secret when
// one was made: when a URL is set on a data source that had none, or when
// the secret is rotated. Changing one URL for another keeps the secret. The
// secret is returned only here; it cannot be read back, only rotated.
//
// It returns ENOTFOUND when the account has no such data source, and
// EINVALID (field webhook_url or rotate_webhook_secret) for a URL
// ValidateWebhookURL refuses or a rotation with no URL to sign for.
func (s *Store) ChangeWebhook(ctx context.Context, accountID int64, dsUUID string, ch WebhookChange) (ds *chartmogul.DataSource, secret string, err error) {
	if ch.SetURL && ch.URL != "" {
		if err := ValidateWebhookURL(ch.URL); err != nil {
			return nil, "", err
		}
	}
	err = s.eng.writeTx(ctx, func(tx *txn) error {
		var id int64
		err := tx.queryRow(ctx, `SELECT id FROM data_sources WHERE uuid = $1 AND account_id = $2`, dsUUID, accountID).Scan(&id)
		if isNoRows(err) {
			return chartmogul.NotFound("Data source")
		}
		if err != nil {
			return internal("find data source", err)
		}
		if ds, err = lockDataSource(ctx, tx, id); err != nil {
			return err
		}
		hook := ds.WebhookURL
		if ch.SetURL {
			hook = ch.URL
		}
		switch {
		case hook == "" && ch.RotateSecret:
			return chartmogul.Invalid(map[string]string{"rotate_webhook_secret": "The data source has no webhook_url to sign for; set webhook_url first (a new secret comes with it)."})
		case hook == "":
			_, err = tx.exec(ctx, `UPDATE data_sources SET webhook_url = '', webhook_secret = '' WHERE id = $1`, id)
		case ds.WebhookURL == "" || ch.RotateSecret:
			secret = newWebhookSecret()
			_, err = tx.exec(ctx, `UPDATE data_sources SET webhook_url = $1, webhook_secret = $2 WHERE id = $3`, hook, secret, id)
		default:
			_, err = tx.exec(ctx, `UPDATE data_sources SET webhook_url = $1 WHERE id = $2`, hook, id)
		}
		if err != nil {
			return internal("change the webhook", err)
		}
		ds.WebhookURL = hook
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return ds, secret, nil
}

// WebhookTarget is where and with what key a data source's webhooks go.
type WebhookTarget struct {
	URL    string // "" when the data source has no webhook
	Secret string
}

// WebhookTarget returns the webhook URL and secret a data source has now.
// It returns ENOTFOUND when the data source no longer exists.
func (s *Store) WebhookTarget(ctx context.Context, dataSourceID int64) (WebhookTarget, error) {
	var t WebhookTarget
	err := s.eng.read().queryRow(ctx, `SELECT webhook_url, webhook_secret FROM data_sources WHERE id = $1`, dataSourceID).Scan(&t.URL, &t.Secret)
	if isNoRows(err) {
		return t, chartmogul.NotFound("Data source")
	}
	return t, internal("find the webhook", err)
}

// ImportByID returns an import by its internal id, without its payload, for
// the workers, whose jobs name imports that way. It returns ENOTFOUND when
// the import no longer exists (its data source was deleted).
func (s *Store) ImportByID(ctx context.Context, id int64) (*chartmogul.Import, error) {
	imp, err := scanImport(s.eng.read().queryRow(ctx, `SELECT `+importColumns+` FROM imports i JOIN data_sources d ON d.id = i.data_source_id WHERE i.id = $1`, id), false)
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Import")
	}
	return imp, internal("find import", err)
}

// WebhookDelivery is one attempt to deliver a webhook.
type WebhookDelivery struct {
	ID           int64
	AccountID    int64
	DataSourceID int64
	ImportID     int64
	DeliveryID   string // the same on every attempt of one event
	Event        string // WebhookImportCompleted or WebhookImportFailed
	URL          string // where this attempt went
	Attempt      int    // from 1
	// StatusCode is the receiver's answer, 0 when none came; Error says why
	// the attempt failed ("" when it succeeded).
	StatusCode int
	Error      string
	// Response is the start of the receiver's answer (MaxWebhookResponse
	// bytes at most).
	Response  string
	Duration  time.Duration
	CreatedAt time.Time
}

// Succeeded reports whether the receiver took the delivery: any 2xx answer.
func (d *WebhookDelivery) Succeeded() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

// MaxWebhookResponse is how much of a receiver's answer an attempt keeps:
// enough to read an error message, not enough for a receiver to fill the
// database.
const MaxWebhookResponse = 1024

// RecordWebhookDelivery stores one delivery attempt and sets its ID and,
// when zero, its CreatedAt. Over-long responses are cut to
// MaxWebhookResponse bytes.
func (s *Store) RecordWebhookDelivery(ctx context.Context, d *WebhookDelivery) error {
	if d.CreatedAt.IsZero() {
		d.CreatedAt = s.now()
	}
	if len(d.Response) > MaxWebhookResponse {
		d.Response = d.Response[:MaxWebhookResponse]
	}
	// PostgreSQL's text holds only valid UTF-8 without NUL; a receiver may
	// answer anything.
	d.Response = strings.ReplaceAll(strings.ToValidUTF8(d.Response, ""), "\x00", "")
	d.Error = strings.ReplaceAll(strings.ToValidUTF8(d.Error, ""), "\x00", "")
	var code any
	if d.StatusCode != 0 {
		code = d.StatusCode
	}
	return s.eng.writeTx(ctx, func(tx *txn) error {
		err := tx.queryRow(ctx, `INSERT INTO webhook_deliveries (account_id, data_source_id, import_id, delivery_id, event, url, attempt, status_code, error, response, duration_us, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			d.AccountID, d.DataSourceID, d.ImportID, d.DeliveryID, d.Event, d.URL, d.Attempt, code, d.Error, d.Response,
			d.Duration.Microseconds(), micros(d.CreatedAt)).Scan(&d.ID)
		return internal("record webhook delivery", err)
	})
}

// ListWebhookDeliveries returns up to limit delivery attempts of an import,
// newest first, starting after the attempt with id beforeID (0 for the first
// page). It returns one more than limit when there are more, so the caller
// can say so.
func (s *Store) ListWebhookDeliveries(ctx context.Context, imp *chartmogul.Import, beforeID int64, limit int) ([]WebhookDelivery, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	out := []WebhookDelivery{}
	err := each(ctx, s.eng.read(), `SELECT id, account_id, data_source_id, import_id, delivery_id, event, url, attempt, status_code, error, response, duration_us, created_at
		FROM webhook_deliveries WHERE import_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, []any{imp.ID, beforeID, limit + 1}, func(r rows) error {
		var d WebhookDelivery
		var code sql.NullInt64
		var dur, created int64
		if err := r.Scan(&d.ID, &d.AccountID, &d.DataSourceID, &d.ImportID, &d.DeliveryID, &d.Event, &d.URL, &d.Attempt, &code, &d.Error, &d.Response, &dur, &created); err != nil {
			return err
		}
		d.StatusCode, d.Duration, d.CreatedAt = int(code.Int64), time.Duration(dur)*time.Microsecond, fromMicros(created)
		out = append(out, d)
		return nil
	})
	return out, internal("list webhook deliveries", err)
}
