-- The billing database of a small SaaS company, shaped as its own
-- application keeps it rather than as ChartMogul names things: accounts, a
-- price list, subscriptions, invoices with their lines, and payments. Recur
-- never reads these tables: the six views Views returns map them to
-- ChartMogul's record types.
--
-- Create runs this file with search_path set to the billing schema. The
-- part before the "keys" marker runs before the rows are copied in, the part
-- after it once they are: building an index in one go over the copied rows
-- is several times faster than growing it row by row.

CREATE TABLE accounts (
    id               bigserial,
    code             text        NOT NULL,  -- the account number customers see
    name             text        NOT NULL,  -- the billing contact
    email            text        NOT NULL,
    company          text,                  -- NULL for individuals
    website          text,
    country          text        NOT NULL CHECK (country ~ '^[A-Z]{2}$'),  -- ISO 3166-1 alpha-2
    state            text,                  -- for US, CA and AU accounts only
    city             text        NOT NULL,
    zip              text        NOT NULL,
    created_at       timestamptz NOT NULL,  -- sign-up
    trial_started_at timestamptz            -- NULL when the account signed up without a trial
);

CREATE TABLE products (
    id   bigserial,
    code text NOT NULL,
    name text NOT NULL
);

-- A price is one product billed at one interval in one currency, as in
-- Stripe: a product sold in three currencies has three prices per interval.
CREATE TABLE prices (
    id             bigserial,
    code           text    NOT NULL,
    product_id     bigint  NOT NULL,
    nickname       text    NOT NULL,
    interval_unit  text    NOT NULL CHECK (interval_unit IN ('month', 'year')),
    interval_count integer NOT NULL CHECK (interval_count > 0),
    amount_cents   bigint  NOT NULL CHECK (amount_cents >= 0),  -- per seat and interval
    currency       text    NOT NULL CHECK (currency ~ '^[A-Z]{3}$')
);

CREATE TABLE subscriptions (
    id           bigserial,
    code         text        NOT NULL,
    account_id   bigint      NOT NULL,
    price_id     bigint      NOT NULL,
    quantity     integer     NOT NULL CHECK (quantity > 0),  -- seats
    started_at   timestamptz NOT NULL,
    cancelled_at timestamptz,            -- when the cancellation took effect
    CHECK (cancelled_at > started_at)
);

CREATE TABLE invoices (
    id                bigserial,
    number            text        NOT NULL,
    account_id        bigint      NOT NULL,
    issued_at         timestamptz NOT NULL,
    due_at            timestamptz,           -- set for manually paid invoices only
    currency          text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    collection_method text        NOT NULL CHECK (collection_method IN ('automatic', 'manual'))
);

CREATE TABLE invoice_lines (
    id              bigserial,
    code            text    NOT NULL,
    invoice_id      bigint  NOT NULL,
    subscription_id bigint,             -- NULL on one-time charges
    price_id        bigint,             -- NULL on one-time charges
    kind            text    NOT NULL CHECK (kind IN ('subscription', 'one_time')),
    amount_cents    bigint  NOT NULL CHECK (amount_cents >= 0),  -- charged: after the discount, tax included
    quantity        integer NOT NULL CHECK (quantity > 0),
    period_start    timestamptz,
    period_end      timestamptz,
    discount_cents  bigint  NOT NULL DEFAULT 0 CHECK (discount_cents >= 0),
    discount_code   text,
    tax_cents       bigint  NOT NULL DEFAULT 0 CHECK (tax_cents >= 0 AND tax_cents <= amount_cents),
    description     text    NOT NULL,
    CHECK (kind = 'one_time' OR (subscription_id IS NOT NULL AND price_id IS NOT NULL AND period_end > period_start))
);

-- Payments are the payment processor's record of charges and refunds.
-- paid_at is a timestamp without time zone in UTC, as many processors'
-- exports are: Recur reads both kinds of timestamps.
CREATE TABLE payments (
    id           bigserial,
    code         text      NOT NULL,
    invoice_id   bigint    NOT NULL,
    kind         text      NOT NULL CHECK (kind IN ('payment', 'refund')),
    succeeded    boolean   NOT NULL,
    paid_at      timestamp NOT NULL,  -- when the charge or refund was attempted, UTC
    amount_cents bigint    NOT NULL CHECK (amount_cents >= 0),
    fee_cents    bigint               -- the processor's fee; NULL for bank transfers and failed charges
);

-- keys

ALTER TABLE accounts ADD PRIMARY KEY (id), ADD UNIQUE (code);
ALTER TABLE products ADD PRIMARY KEY (id), ADD UNIQUE (code);
ALTER TABLE prices ADD PRIMARY KEY (id), ADD UNIQUE (code),
    ADD FOREIGN KEY (product_id) REFERENCES products;
ALTER TABLE subscriptions ADD PRIMARY KEY (id), ADD UNIQUE (code),
    ADD FOREIGN KEY (account_id) REFERENCES accounts,
    ADD FOREIGN KEY (price_id) REFERENCES prices;
ALTER TABLE invoices ADD PRIMARY KEY (id), ADD UNIQUE (number),
    ADD FOREIGN KEY (account_id) REFERENCES accounts;
ALTER TABLE invoice_lines ADD PRIMARY KEY (id), ADD UNIQUE (code),
    ADD FOREIGN KEY (invoice_id) REFERENCES invoices,
    ADD FOREIGN KEY (subscription_id) REFERENCES subscriptions,
    ADD FOREIGN KEY (price_id) REFERENCES prices;
ALTER TABLE payments ADD PRIMARY KEY (id), ADD UNIQUE (code),
    ADD FOREIGN KEY (invoice_id) REFERENCES invoices;

-- Reading one customer's records through the views goes from the account's
-- code to its subscriptions and invoices, and from an invoice to its lines
-- and payments: every foreign key is indexed so that each step is an index
-- scan.
CREATE INDEX ON prices (product_id);
CREATE INDEX ON subscriptions (account_id);
CREATE INDEX ON subscriptions (price_id);
CREATE INDEX ON invoices (account_id);
CREATE INDEX ON invoice_lines (invoice_id);
CREATE INDEX ON invoice_lines (subscription_id);
CREATE INDEX ON invoice_lines (price_id);
CREATE INDEX ON payments (invoice_id);

-- The ids were copied in: the sequences continue after them, so that rows
-- added later by hand get fresh ids.
SELECT setval(pg_get_serial_sequence('accounts', 'id'), coalesce(max(id), 0) + 1, false) FROM accounts;
SELECT setval(pg_get_serial_sequence('products', 'id'), coalesce(max(id), 0) + 1, false) FROM products;
SELECT setval(pg_get_serial_sequence('prices', 'id'), coalesce(max(id), 0) + 1, false) FROM prices;
SELECT setval(pg_get_serial_sequence('subscriptions', 'id'), coalesce(max(id), 0) + 1, false) FROM subscriptions;
SELECT setval(pg_get_serial_sequence('invoices', 'id'), coalesce(max(id), 0) + 1, false) FROM invoices;
SELECT setval(pg_get_serial_sequence('invoice_lines', 'id'), coalesce(max(id), 0) + 1, false) FROM invoice_lines;
SELECT setval(pg_get_serial_sequence('payments', 'id'), coalesce(max(id), 0) + 1, false) FROM payments;

-- Fresh statistics let the planner choose the index scans above for the
-- first reads, before autovacuum has looked at the new tables.
ANALYZE accounts, products, prices, subscriptions, invoices, invoice_lines, payments;
