-- Recur's schema on SQLite. Times are microseconds since the Unix epoch, UTC.
-- Rows carry account_id and data_source_id beside their parents' ids so that
-- every read is one indexed lookup scoped to the caller's account.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL UNIQUE,
    currency      TEXT    NOT NULL DEFAULT 'USD',
    time_zone     TEXT    NOT NULL DEFAULT 'UTC',
    week_start_on TEXT    NOT NULL DEFAULT 'monday',
    created_at    INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    access     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE data_sources (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT    NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    system     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE customers (
    id                    INTEGER PRIMARY KEY,
    uuid                  TEXT    NOT NULL UNIQUE,
    account_id            INTEGER NOT NULL,
    data_source_id        INTEGER NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    external_id           TEXT    NOT NULL,
    name                  TEXT    NOT NULL DEFAULT '',
    email                 TEXT    NOT NULL DEFAULT '',
    company               TEXT    NOT NULL DEFAULT '',
    country               TEXT    NOT NULL DEFAULT '',
    state                 TEXT    NOT NULL DEFAULT '',
    city                  TEXT    NOT NULL DEFAULT '',
    zip                   TEXT    NOT NULL DEFAULT '',
    website_url           TEXT    NOT NULL DEFAULT '',
    lead_created_at       INTEGER,
    free_trial_started_at INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    UNIQUE (data_source_id, external_id)
);
CREATE INDEX customers_account ON customers (account_id, id);
CREATE INDEX customers_external_id ON customers (account_id, external_id);

CREATE TABLE plans (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT    NOT NULL UNIQUE,
    account_id     INTEGER NOT NULL,
    data_source_id INTEGER NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    external_id    TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    interval_count INTEGER NOT NULL,
    interval_unit  TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (data_source_id, external_id)
);
CREATE INDEX plans_account ON plans (account_id, id);

CREATE TABLE subscriptions (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT    NOT NULL UNIQUE,
    account_id      INTEGER NOT NULL,
    data_source_id  INTEGER NOT NULL,
    customer_id     INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    external_id     TEXT    NOT NULL,
    set_external_id TEXT    NOT NULL DEFAULT '',
    plan_id         INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (customer_id, external_id)
);

CREATE TABLE invoices (
    id                INTEGER PRIMARY KEY,
    uuid              TEXT    NOT NULL UNIQUE,
    account_id        INTEGER NOT NULL,
    data_source_id    INTEGER NOT NULL,
    customer_id       INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    external_id       TEXT    NOT NULL,
    date              INTEGER NOT NULL,
    due_date          INTEGER,
    currency          TEXT    NOT NULL,
    collection_method TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL DEFAULT '',
    disabled          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    UNIQUE (data_source_id, external_id)
);
CREATE INDEX invoices_customer ON invoices (customer_id, id);
CREATE INDEX invoices_account ON invoices (account_id, id);

CREATE TABLE line_items (
    id                           INTEGER PRIMARY KEY,
    uuid                         TEXT    NOT NULL UNIQUE,
    account_id                   INTEGER NOT NULL,
    data_source_id               INTEGER NOT NULL,
    customer_id                  INTEGER NOT NULL,
    invoice_id                   INTEGER NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    external_id                  TEXT,
    type                         TEXT    NOT NULL,
    subscription_id              INTEGER,
    plan_id                      INTEGER,
    service_period_start         INTEGER,
    service_period_end           INTEGER,
    prorated                     INTEGER NOT NULL DEFAULT 0,
    proration_type               TEXT    NOT NULL DEFAULT '',
    cancelled_at                 INTEGER,
    amount_in_cents              INTEGER NOT NULL,
    quantity                     INTEGER NOT NULL DEFAULT 1,
    discount_amount_in_cents     INTEGER NOT NULL DEFAULT 0,
    discount_code                TEXT    NOT NULL DEFAULT '',
    discount_description         TEXT    NOT NULL DEFAULT '',
    tax_amount_in_cents          INTEGER NOT NULL DEFAULT 0,
    transaction_fees_in_cents    INTEGER NOT NULL DEFAULT 0,
    transaction_fees_currency    TEXT    NOT NULL DEFAULT '',
    account_code                 TEXT    NOT NULL DEFAULT '',
    description                  TEXT    NOT NULL DEFAULT '',
    event_order                  INTEGER,
    balance_transfer             INTEGER NOT NULL DEFAULT 0,
    disabled                     INTEGER NOT NULL DEFAULT 0,
    created_at                   INTEGER NOT NULL
);
CREATE UNIQUE INDEX line_items_external_id ON line_items (data_source_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX line_items_invoice ON line_items (invoice_id);
CREATE INDEX line_items_customer ON line_items (customer_id);

CREATE TABLE transactions (
    id                        INTEGER PRIMARY KEY,
    uuid                      TEXT    NOT NULL UNIQUE,
    account_id                INTEGER NOT NULL,
    data_source_id            INTEGER NOT NULL,
    customer_id               INTEGER NOT NULL,
    invoice_id                INTEGER NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    external_id               TEXT,
    type                      TEXT    NOT NULL,
    date                      INTEGER NOT NULL,
    result                    TEXT    NOT NULL,
    amount_in_cents           INTEGER,
    transaction_fees_in_cents INTEGER,
    transaction_fees_currency TEXT    NOT NULL DEFAULT '',
    disabled                  INTEGER NOT NULL DEFAULT 0,
    created_at                INTEGER NOT NULL
);
CREATE UNIQUE INDEX transactions_external_id ON transactions (data_source_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX transactions_invoice ON transactions (invoice_id);

CREATE TABLE subscription_events (
    id                           INTEGER PRIMARY KEY,
    account_id                   INTEGER NOT NULL,
    data_source_id               INTEGER NOT NULL,
    customer_id                  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    customer_external_id         TEXT    NOT NULL,
    external_id                  TEXT,
    event_type                   TEXT    NOT NULL,
    event_date                   INTEGER NOT NULL,
    effective_date               INTEGER NOT NULL,
    subscription_external_id     TEXT    NOT NULL DEFAULT '',
    subscription_set_external_id TEXT    NOT NULL DEFAULT '',
    plan_external_id             TEXT    NOT NULL DEFAULT '',
    currency                     TEXT    NOT NULL DEFAULT '',
    amount_in_cents              INTEGER,
    quantity                     INTEGER,
    tax_amount_in_cents          INTEGER,
    retracted_event_id           TEXT    NOT NULL DEFAULT '',
    event_order                  INTEGER,
    disabled                     INTEGER NOT NULL DEFAULT 0,
    created_at                   INTEGER NOT NULL,
    updated_at                   INTEGER NOT NULL
);
CREATE UNIQUE INDEX subscription_events_external_id ON subscription_events (data_source_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX subscription_events_account ON subscription_events (account_id, id);
CREATE INDEX subscription_events_customer ON subscription_events (customer_id);

CREATE TABLE imports (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT    NOT NULL UNIQUE,
    account_id     INTEGER NOT NULL,
    data_source_id INTEGER NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    external_id    TEXT,
    status         TEXT    NOT NULL,
    payload        BLOB    NOT NULL,
    payload_size   INTEGER NOT NULL,
    report         TEXT,
    reason         TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    finished_at    INTEGER
);
CREATE UNIQUE INDEX imports_external_id ON imports (data_source_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX imports_data_source ON imports (data_source_id, id);
CREATE INDEX imports_unfinished ON imports (status, id) WHERE status IN ('queued', 'processing');
