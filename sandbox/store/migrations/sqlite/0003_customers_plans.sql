-- Merged customers (POST /v1/customers/merges).
--
-- A merge within one data source moves the merged customer's records to the
-- surviving customer and deletes it; its external id lives on as an alias,
-- so that later imports naming it reach the survivor, as ChartMogul's do.
--
-- A merge across data sources only records a link: the merged customer keeps
-- its records (its billing system goes on naming it), disappears from lists
-- and answers 404, and the survivor lists its data source and external id.
-- When the survivor is deleted the link is cleared and the linked customer
-- stands on its own again, records intact.
CREATE TABLE customer_aliases (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL,
    data_source_id INTEGER NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    customer_id    INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    external_id    TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (data_source_id, external_id)
);
CREATE INDEX customer_aliases_customer ON customer_aliases (customer_id);
CREATE INDEX customer_aliases_external_id ON customer_aliases (account_id, external_id);

ALTER TABLE customers ADD COLUMN merged_into_id INTEGER REFERENCES customers (id) ON DELETE SET NULL;
CREATE INDEX customers_merged_into ON customers (merged_into_id) WHERE merged_into_id IS NOT NULL;

-- Plans are looked up by the line items that name them before a plan is
-- deleted.
CREATE INDEX line_items_plan ON line_items (plan_id) WHERE plan_id IS NOT NULL;
