-- Only one operation at a time per runtime: a second concurrent one is refused by the database.
CREATE UNIQUE INDEX operations_one_in_progress_per_runtime ON operations (resource_id)
  WHERE state = 'IN_PROGRESS' AND type IN ('PROVISIONING', 'DEPROVISIONING');

-- How often the runtime's agent polls its configuration.
ALTER TABLE runtimes ADD COLUMN poll_interval_seconds integer NOT NULL DEFAULT 30 CHECK (poll_interval_seconds BETWEEN 1 AND 3600);
