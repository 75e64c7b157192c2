-- What the single-object endpoints keep beyond the bulk import's fields:
-- customers' lead status and attributes, disabled states' times, and the
-- cancellation history of import-side subscriptions.
ALTER TABLE customers ADD COLUMN lead_status TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE customers ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE invoices ADD COLUMN disabled_at BIGINT;
ALTER TABLE line_items ADD COLUMN disabled_at BIGINT;
ALTER TABLE transactions ADD COLUMN disabled_at BIGINT;
ALTER TABLE subscription_events ADD COLUMN disabled_at BIGINT;
ALTER TABLE subscriptions ADD COLUMN cancellation_dates TEXT NOT NULL DEFAULT '[]';
CREATE INDEX customers_email ON customers (account_id, email);
