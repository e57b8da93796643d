-- The console (issue #17): when each runtime last called Meridian, written coalesced (one statement per
-- flush interval per API process, not per request) into a table of its own, so those writes never lock
-- runtime rows that configuration changes update; and the tenant-wide lists and counts it shows.
CREATE TABLE runtime_last_seen (
  runtime_id uuid PRIMARY KEY REFERENCES runtimes (id) ON DELETE CASCADE,
  seen_at    timestamptz NOT NULL
);
CREATE INDEX operations_by_tenant ON operations (tenant_id, started_at DESC, id DESC);
CREATE INDEX deliveries_failed ON deliveries (tenant_id, updated_at) WHERE state = 'FAILED';
