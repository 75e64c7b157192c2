-- Completion webhooks (issue 6, item 3): a data source may name a URL that
-- hears of every import of it that finishes (store/webhooks.go).
--
-- webhook_url is '' when the data source has none. webhook_secret is the key
-- of the deliveries' HMAC-SHA256 signatures: generated when a URL is set,
-- replaced when rotated, '' when the URL is cleared. It is kept as it is
-- (not hashed), since Recur must sign with it.
ALTER TABLE data_sources ADD COLUMN webhook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE data_sources ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';

-- One row per delivery attempt. delivery_id is the same on every attempt of
-- one event (the X-Recur-Delivery header, by which receivers drop
-- duplicates); attempt counts from 1. status_code is NULL when no answer
-- came (error says why); response is the start of the receiver's answer.
-- Rows go with their import by cascade, and with it with the data source.
CREATE TABLE webhook_deliveries (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL,
    data_source_id INTEGER NOT NULL,
    import_id      INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    delivery_id    TEXT    NOT NULL,
    event          TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    attempt        INTEGER NOT NULL,
    status_code    INTEGER,
    error          TEXT    NOT NULL DEFAULT '',
    response       TEXT    NOT NULL DEFAULT '',
    duration_us    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_import ON webhook_deliveries (import_id, id);
