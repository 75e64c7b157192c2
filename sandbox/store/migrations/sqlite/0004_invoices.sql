-- What the invoice, line item, transaction and import-subscription endpoints
-- keep beyond 0002: who disabled a record (disabled_at is in 0002), and the
-- indexes their reads and cleanups use: line items by subscription (is a
-- subscription left without line items?), subscriptions by customer in
-- creation order (the customer's import-side subscription list).
ALTER TABLE invoices ADD COLUMN disabled_by TEXT NOT NULL DEFAULT '';
ALTER TABLE line_items ADD COLUMN disabled_by TEXT NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN disabled_by TEXT NOT NULL DEFAULT '';
CREATE INDEX line_items_subscription ON line_items (subscription_id);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id, id);
