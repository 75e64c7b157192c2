-- Analytics (issue 5): account settings that change how MRR is derived,
-- exchange rates, and what the recompute job derives per customer.
--
-- Derived rows are replaced as a whole, per customer, by the recompute job
-- (store/analytics.go), and go with their customer by cascade. They are a
-- pure function of the stored records, the settings and the rates: dropping
-- them all and recomputing gives the same rows.

-- churn_recognition: churn_at_time_of_cancelation (default) or
-- churn_at_period_end; churn_when_zero_mrr: a paying customer dropping to
-- zero MRR without cancelling churns (true) or contracts (false, default).
-- analytics_seq numbers the recompute transactions of the account: every
-- customer_analytics row a transaction writes carries its number, and
-- transactions take it under the account row's lock, so they commit in seq
-- order and a reader that has seen seq N has seen everything before it.
ALTER TABLE accounts ADD COLUMN churn_recognition TEXT NOT NULL DEFAULT 'churn_at_time_of_cancelation';
ALTER TABLE accounts ADD COLUMN churn_when_zero_mrr BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE accounts ADD COLUMN analytics_seq BIGINT NOT NULL DEFAULT 0;

-- One row per computed customer: its status, MRR and first paying day, the
-- reason it could not be computed (a missing exchange rate, named), its
-- contribution to the account's metrics (store/analytics.go encodes it),
-- and a digest of all its derived rows, so that a recompute that changes
-- nothing writes nothing.
-- status is '' while the customer has no subscription (its lead status
-- shows instead).
CREATE TABLE customer_analytics (
    customer_id    BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    account_id     BIGINT NOT NULL,
    seq            BIGINT NOT NULL,
    status         TEXT    NOT NULL DEFAULT '',
    mrr            BIGINT NOT NULL DEFAULT 0,
    customer_since BIGINT,
    error          TEXT    NOT NULL DEFAULT '',
    digest         BIGINT  NOT NULL DEFAULT 0,
    contribution   BYTEA
);
CREATE INDEX customer_analytics_seq ON customer_analytics (account_id, seq);

-- The derived subscriptions and activities of a customer carry no foreign
-- key: checking one per inserted row would cost more than the rest of the
-- write. The recompute replaces them by customer, deletes those of
-- customers that are gone, and every read reaches them through an existing
-- customer; customer_analytics, one row per customer, keeps the cascade.
--
-- The derived subscriptions of a customer (GET /v1/customers/{uuid}/subscriptions),
-- in the analytics' order. mrr is in the account currency, currency is the
-- invoices' currency.
CREATE TABLE analytics_subscriptions (
    customer_id     BIGINT NOT NULL,
    position        BIGINT NOT NULL,
    account_id      BIGINT NOT NULL,
    subscription_id BIGINT,
    data_source_id  BIGINT NOT NULL,
    external_id     TEXT    NOT NULL,
    set_external_id TEXT    NOT NULL,
    plan_id         BIGINT,
    quantity        BIGINT NOT NULL,
    status          TEXT    NOT NULL,
    mrr             BIGINT NOT NULL,
    currency        TEXT    NOT NULL,
    started_at      BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    cancelled_at    BIGINT,
    free            BOOLEAN NOT NULL,
    trial           BOOLEAN NOT NULL,
    PRIMARY KEY (customer_id, position)
);

-- MRR movements (activities). position orders a customer's movements; the
-- account-wide list pages by (at, customer_id, position). An activity's
-- public integer id is customer_id × 2^20 + position, stable while the
-- customer's history does not change.
CREATE TABLE analytics_activities (
    account_id               BIGINT NOT NULL,
    customer_id              BIGINT NOT NULL,
    position                 BIGINT NOT NULL,
    at                       BIGINT NOT NULL,
    type                     TEXT    NOT NULL,
    amount                   BIGINT NOT NULL,
    customer_mrr             BIGINT NOT NULL,
    data_source_id           BIGINT NOT NULL,
    subscription_external_id TEXT    NOT NULL,
    set_external_id          TEXT    NOT NULL,
    plan_id                  BIGINT,
    previous_plan_id         BIGINT,
    PRIMARY KEY (customer_id, position)
);
CREATE INDEX analytics_activities_account ON analytics_activities (account_id, at, customer_id, position);

-- Connected subscriptions (POST /v1/customers/{uuid}/connect_subscriptions):
-- subscriptions of a customer (or of customers merged into it) that are one
-- subscription moved between billing systems, by group. The analytics
-- compute a group as one subscription: the one that started last carries
-- on the others' MRR, and only its cancellations end it.
CREATE TABLE subscription_connections (
    subscription_id BIGINT PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    group_id        BIGINT NOT NULL
);
CREATE INDEX subscription_connections_group ON subscription_connections (group_id);

-- Exchange rates from `recur rates import`: rate is how many units of
-- currency one unit of base bought at the close of day (days since
-- 1970-01-01). The ECB's file has base EUR.
CREATE TABLE exchange_rates (
    base     TEXT    NOT NULL,
    currency TEXT    NOT NULL,
    day      BIGINT NOT NULL,
    rate     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (base, currency, day)
);
CREATE INDEX exchange_rates_currency ON exchange_rates (currency, base, day);

-- One row per `recur rates import`; the largest id versions the rates, so
-- that a recompute knows when its cached rates went stale.
CREATE TABLE exchange_rate_sets (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source      TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    base        TEXT    NOT NULL,
    currencies  TEXT    NOT NULL,
    rates       BIGINT NOT NULL,
    first_day   BIGINT NOT NULL,
    last_day    BIGINT NOT NULL,
    imported_at BIGINT NOT NULL
);

-- The recompute reads the payments of invoices with a failed payment (the
-- only ones past-due status depends on), finding them by customer.
CREATE INDEX transactions_failed ON transactions (customer_id, invoice_id) WHERE result = 'failed';
