-- Retractions: a retraction event records the event it retracted, resolved
-- when it was written (bulk.retractions explains the rules). The link sits
-- on the retraction, so that deleting or disabling a retraction releases its
-- event without touching it; an event is retracted while an enabled
-- retraction names it. Deleting the retracted event clears the link.
ALTER TABLE subscription_events ADD COLUMN retracts_event_id INTEGER REFERENCES subscription_events (id) ON DELETE SET NULL;
CREATE INDEX subscription_events_retracts ON subscription_events (retracts_event_id) WHERE retracts_event_id IS NOT NULL;
-- Type-specific retractions look up the pending scheduled events of a
-- subscription.
CREATE INDEX subscription_events_subscription ON subscription_events (data_source_id, subscription_external_id);
-- Generic retractions stored before this migration name their event by id.
UPDATE subscription_events SET retracts_event_id = CAST(retracted_event_id AS INTEGER)
WHERE event_type = 'subscription_event_retracted' AND retracted_event_id <> '' AND retracted_event_id NOT GLOB '*[^0-9]*'
  AND length(retracted_event_id) < 19
  AND EXISTS (SELECT 1 FROM subscription_events t
              WHERE t.id = CAST(subscription_events.retracted_event_id AS INTEGER) AND t.data_source_id = subscription_events.data_source_id);
