package api

import (
	"bytes"
	"net/http"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// Completion webhooks: Recur's extension of ChartMogul's data source object.
//
// A data source may carry a "webhook_url". When one of its imports finishes
// (completed or failed), Recur POSTs the import object — byte for byte the
// body of GET /v1/data_sources/{ds}/json_imports/{id} at that moment — to
// that URL with these headers:
//
//	Content-Type: application/json
//	User-Agent: recur-webhooks
//	X-Recur-Event: import.completed | import.failed
//	X-Recur-Delivery: <id, the same on every attempt of one event>
//	X-Recur-Timestamp: <Unix seconds when this attempt was made>
//	X-Recur-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// The key of the HMAC is the data source's webhook secret ("whsec_…", as
// shown, all of it); the message is the decimal timestamp exactly as sent
// in X-Recur-Timestamp, a full stop, then the raw body bytes. A receiver
// recomputes it over the bytes it read, compares in constant time, and
// refuses timestamps far from its clock (five minutes is usual): binding
// the timestamp into the signature means a captured request cannot be
// replayed later, since changing its timestamp breaks its signature. Each
// attempt is signed afresh with its own timestamp.
//
// Any 2xx answer within 10 seconds ends the delivery. Anything else —
// another status, a redirect (never followed), a timeout, a refused
// connection — is retried by the job queue with exponential backoff (10 s,
// 20 s, 40 s, … capped at an hour), ten attempts in all. Delivery is at
// least once: receivers drop repeats by X-Recur-Delivery. Every attempt is
// listed at GET …/json_imports/{id}/webhook_deliveries.
//
// Routes:
//   - POST /v1/data_sources accepts "webhook_url" beside "name";
//   - PATCH /v1/data_sources/{ds} sets ({"webhook_url": "https://…"}),
//     clears ({"webhook_url": null}) or rotates the secret
//     ({"rotate_webhook_secret": true}); 200 with the data source;
//   - GET /v1/data_sources/{ds}/json_imports/{id}/webhook_deliveries.
//
// The data source object shows "webhook_url" only when one is set, so that
// its recorded key set is unchanged otherwise. The secret is shown once, as
// "webhook_secret", in the answer that made it (a URL set where there was
// none, or a rotation); it cannot be read back, only rotated. Changing one
// URL for another keeps the secret; clearing the URL discards it.
//
// Why the import renders here: the body must be exactly what GET answers,
// and the wire shapes live in this package; package importer, which
// delivers, must not import api. So api exports ImportJSON and the binary
// (cmd/recur) hands it to the importer (importer.Webhooks.Render):
// dependencies still point inward, and the two bodies come from one
// function, so they cannot drift apart.

// webhookRoutes registers the webhook routes.
func (s *Server) webhookRoutes(route router) {
	route("PATCH /v1/data_sources/{ds}", s.patchDataSource)
	route("GET /v1/data_sources/{ds}/json_imports/{id}/webhook_deliveries", s.listWebhookDeliveries)
}

// ImportJSON renders an import exactly as GET
// /v1/data_sources/{ds}/json_imports/{id} answers it: the body of the
// import's completion webhook.
func ImportJSON(imp *chartmogul.Import) []byte {
	var buf bytes.Buffer
	encodeJSON(&buf, toImport(imp))
	return buf.Bytes()
}

// dataSourceWithSecretJSON is the data source in the answer that made a new
// webhook secret, the one place the secret is shown.
type dataSourceWithSecretJSON struct {
	dataSourceJSON
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// checkWebhookURL checks an optional webhook_url member of a data source
// create: absent, null or "" mean none.
func checkWebhookURL(u *string) error {
	if u == nil || *u == "" {
		return nil
	}
	return store.ValidateWebhookURL(*u)
}

// createdWithWebhook sets the webhook of a data source just created with
// one and answers 201 with it and its secret. The URL was checked before
// the data source was created, so only a database failure can leave the
// data source without it.
func (s *Server) createdWithWebhook(w http.ResponseWriter, r *http.Request, ds *chartmogul.DataSource, hook string) error {
	ds, secret, err := s.Store.ChangeWebhook(r.Context(), ds.AccountID, ds.UUID, store.WebhookChange{SetURL: true, URL: hook})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, dataSourceWithSecretJSON{toDataSource(ds), secret})
	return nil
}

// patchDataSource changes a data source's webhook: {"webhook_url": URL}
// sets it, {"webhook_url": null} (or "") clears it, and
// {"rotate_webhook_secret": true} replaces its secret; members absent change
// nothing, other members are ignored. It answers 200 with the data source,
// and its new secret when one was made.
func (s *Server) patchDataSource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		WebhookURL jsontext.Value `json:"webhook_url"`
		Rotate     bool           `json:"rotate_webhook_secret"`
	}
	if err := s.decodeBody(w, r, &in); err != nil {
		return err
	}
	ch := store.WebhookChange{RotateSecret: in.Rotate}
	if len(in.WebhookURL) > 0 {
		ch.SetURL = true
		if in.WebhookURL.Kind() != 'n' {
			if in.WebhookURL.Kind() != '"' || json.Unmarshal(in.WebhookURL, &ch.URL) != nil {
				return &chartmogul.Error{Code: chartmogul.EBADREQUEST, Param: "webhook_url",
					Message: "The request body has a member of the wrong type at /webhook_url: want a string (the URL) or null (no webhook); got " + chartmogul.Quote(string(in.WebhookURL)) + "."}
			}
		}
		if ch.URL == "" && ch.RotateSecret {
			return chartmogul.Invalid(map[string]string{"rotate_webhook_secret": "rotate_webhook_secret cannot go with clearing webhook_url: a data source without a webhook has no secret."})
		}
	}
	account := callerOf(r.Context()).account.ID
	if !ch.SetURL && !ch.RotateSecret {
		ds, err := s.Store.DataSource(r.Context(), account, r.PathValue("ds"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toDataSource(ds))
		return nil
	}
	ds, secret, err := s.Store.ChangeWebhook(r.Context(), account, r.PathValue("ds"), ch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dataSourceWithSecretJSON{toDataSource(ds), secret})
	return nil
}

// webhookDeliveryJSON is one delivery attempt. status_code is null when no
// answer came, error is null when the attempt succeeded, and response_body
// is the start of the receiver's answer (1024 bytes at most).
type webhookDeliveryJSON struct {
	ID           int64   `json:"id"`
	DeliveryID   string  `json:"delivery_id"`
	Event        string  `json:"event"`
	ImportID     string  `json:"import_id"`
	URL          string  `json:"url"`
	Attempt      int     `json:"attempt"`
	Succeeded    bool    `json:"succeeded"`
	StatusCode   *int    `json:"status_code"`
	Error        *string `json:"error"`
	ResponseBody string  `json:"response_body"`
	DurationMS   int64   `json:"duration_ms"`
	CreatedAt    string  `json:"created_at"`
}

// listWebhookDeliveries lists the delivery attempts of an import's webhook,
// newest first, paged by cursor like the other lists.
func (s *Server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r.Context())
	ds, err := s.Store.DataSource(r.Context(), c.account.ID, r.PathValue("ds"))
	if err != nil {
		return err
	}
	imp, err := s.Store.Import(r.Context(), ds, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, err := page(r, "webhook_deliveries")
	if err != nil {
		return err
	}
	list, err := s.Store.ListWebhookDeliveries(r.Context(), imp, p.Before, p.Limit)
	if err != nil {
		return err
	}
	list, cursor, more := pageResult(list, p, "webhook_deliveries", c.account.ID, func(d *store.WebhookDelivery) int64 { return d.ID })
	out := make([]webhookDeliveryJSON, len(list))
	for i := range list {
		d := &list[i]
		j := webhookDeliveryJSON{ID: d.ID, DeliveryID: d.DeliveryID, Event: d.Event, ImportID: imp.UUID, URL: d.URL, Attempt: d.Attempt,
			Succeeded: d.Succeeded(), Error: optString(d.Error), ResponseBody: d.Response, DurationMS: d.Duration.Milliseconds(), CreatedAt: millis(d.CreatedAt)}
		if d.StatusCode != 0 {
			code := d.StatusCode
			j.StatusCode = &code
		}
		out[i] = j
	}
	writeJSON(w, http.StatusOK, struct {
		Deliveries []webhookDeliveryJSON `json:"webhook_deliveries"`
		Cursor     *string               `json:"cursor"`
		HasMore    bool                  `json:"has_more"`
	}{out, optString(cursor), more})
	return nil
}
