-- The console (issue #17): when each runtime last called Meridian (written coalesced, once per flush
-- interval per API replica, not per request), and the tenant-wide lists and counts it shows.
ALTER TABLE runtimes ADD COLUMN last_seen_at timestamptz;
CREATE INDEX operations_by_tenant ON operations (tenant_id, started_at DESC, id DESC);
CREATE INDEX deliveries_failed ON deliveries (tenant_id, updated_at) WHERE state = 'FAILED';
