-- Delivery replay (issue 19): a delivery can be sent again, with the same id, long after its
-- notification workflow ended. What the body needs besides the delivery id and the application is the
-- notification's event (`type`, `runtime`, `configVersion`, `occurredAt`; no secret), stored with each
-- delivery as the workflow had it. `json`, not `jsonb`: its members keep their order, so a redelivered
-- body is byte for byte the one first sent. Rows from before this migration have none and cannot be
-- redelivered.
ALTER TABLE deliveries
  ADD COLUMN event                  json,
  -- How often the delivery was redelivered, and the workflow of the latest redelivery (it moved the row
  -- back to PENDING and sends it).
  ADD COLUMN redeliveries           integer NOT NULL DEFAULT 0 CHECK (redeliveries >= 0),
  ADD COLUMN redelivery_workflow_id text;

-- "Every FAILED delivery of this application since …", oldest first.
CREATE INDEX deliveries_failed_by_application ON deliveries (application_id, created_at, id) WHERE state = 'FAILED';
