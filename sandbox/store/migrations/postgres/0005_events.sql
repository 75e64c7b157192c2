-- Retractions: a retraction event records the event it retracted, resolved
-- when it was written (bulk.retractions explains the rules). The link sits
-- on the retraction, so that deleting or disabling a retraction releases its
-- event without touching it; an event is retracted while an enabled
-- retraction names it. Deleting the retracted event clears the link.
ALTER TABLE subscription_events ADD COLUMN retracts_event_id BIGINT REFERENCES subscription_events (id) ON DELETE SET NULL;
CREATE INDEX subscription_events_retracts ON subscription_events (retracts_event_id) WHERE retracts_event_id IS NOT NULL;
-- Type-specific retractions look up the pending scheduled events of a
-- subscription.
CREATE INDEX subscription_events_subscription ON subscription_events (data_source_id, subscription_external_id);
-- Generic retractions stored before this migration name their event by id.
UPDATE subscription_events r SET retracts_event_id = t.id
FROM subscription_events t
WHERE r.event_type = 'subscription_event_retracted' AND r.retracted_event_id ~ '^[0-9]{1,18}$'
  AND t.id = r.retracted_event_id::bigint AND t.data_source_id = r.data_source_id;
