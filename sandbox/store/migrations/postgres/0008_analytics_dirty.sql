-- Customers whose analytics must be computed again. A write marks its
-- customers here, in its own transaction, and makes sure one recompute job is
-- pending; the job recomputes the marked customers in batches. Many writes of
-- one customer before the job runs are one recompute, and a burst of
-- single-object writes is a handful of jobs, not one each. version grows with
-- each mark, so that a mark made while the customer is being recomputed is
-- not cleared with the older one.
CREATE TABLE analytics_dirty (
    customer_id BIGINT PRIMARY KEY,
    account_id  BIGINT  NOT NULL,
    version     BIGINT  NOT NULL DEFAULT 1
);
