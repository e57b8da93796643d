-- The audit trail (issue #19): an append-only record of the state changes made by administrators,
-- applications, runtimes, workflows and operators: who (actor), what (action), on what (resource), in
-- which request, when. Never a secret: no request bodies, headers or tokens go in here.
--
-- Written by: the API, one entry per successful write request, after its answer (api/audit.ts); the
-- trigger below, one entry per stage or state change of an operation (the workflows' durable record of
-- what they change), in the transaction of that change; the CLI's tenant and token commands. Removed
-- only by the reconciler's retention round (MERIDIAN_AUDIT_RETENTION_DAYS, db/audit.ts).
CREATE TABLE audit_log (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- The database's clock, for every writer: entries of one transaction keep their order.
  at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- `admin:<token name>`, `application:<id>`, `runtime:<id>`, `connector-token:<id>`, `workflow:<workflow id>`, `operator:<user>`
  actor      text NOT NULL CHECK (length(actor) <= 300),
  actor_kind text NOT NULL CHECK (actor_kind IN ('admin', 'application', 'runtime', 'workflow', 'operator')),
  -- The route's operationId (`create-runtime`), or `operation-stage|succeeded|failed`, `create-token`, …
  action     text NOT NULL CHECK (length(action) <= 100),
  -- A path with its ids: `/v1/runtimes/<id>`, `/v1/operations/<id>`.
  resource   text NOT NULL CHECK (length(resource) <= 1024),
  request_id text CHECK (length(request_id) <= 64),
  -- The HTTP status of the answer (entries of requests).
  status     integer,
  -- What else identifies the change, never a secret: an operation's type, stage, state and message, a
  -- certificate caller's serial.
  detail     jsonb
);
-- Newest first, per tenant; by actor; by resource prefix (text_pattern_ops: LIKE 'prefix%' under any collation).
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, at DESC, id DESC);
CREATE INDEX audit_log_by_actor ON audit_log (tenant_id, actor, at DESC, id DESC);
CREATE INDEX audit_log_by_resource ON audit_log (tenant_id, resource text_pattern_ops);
-- The retention round: the oldest entries of every tenant.
CREATE INDEX audit_log_by_age ON audit_log (at);

-- Append-only: an entry is never changed, and removed only once older than the shortest retention (1
-- day), or together with its tenant. (The table's owner can still drop these triggers: the guard is
-- against Meridian's own code paths and mistakes, not against a database superuser.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND (OLD.at < now() - interval '1 day' OR NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_early_delete BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Who acts in this transaction: the API sets `meridian.actor`, `meridian.actor_kind` and
-- `meridian.request_id` (transaction-local) at the BEGIN of every transaction a request runs
-- (db/acting.ts); a transaction without them is a workflow's (an activity's), unless it says otherwise.
CREATE FUNCTION audit_operation_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  actor text := nullif(current_setting('meridian.actor', true), '');
BEGIN
  INSERT INTO audit_log (tenant_id, actor, actor_kind, action, resource, request_id, detail)
  VALUES (
    NEW.tenant_id,
    coalesce(actor, 'workflow:' || coalesce(NEW.workflow_id, 'none')),
    CASE WHEN actor IS NULL THEN 'workflow' ELSE coalesce(nullif(current_setting('meridian.actor_kind', true), ''), 'workflow') END,
    CASE NEW.state WHEN 'IN_PROGRESS' THEN 'operation-stage' WHEN 'SUCCEEDED' THEN 'operation-succeeded' ELSE 'operation-failed' END,
    '/v1/operations/' || NEW.id,
    CASE WHEN actor IS NULL THEN NULL ELSE nullif(current_setting('meridian.request_id', true), '') END,
    jsonb_strip_nulls(jsonb_build_object('type', NEW.type, 'resourceId', NEW.resource_id, 'stage', NEW.stage, 'state', NEW.state, 'message', left(NEW.message, 500))));
  RETURN NULL;
END $$;
-- Operations are inserted by API requests (their own entry says so); what follows is their workflow's doing.
CREATE TRIGGER operations_audit AFTER UPDATE OF stage, state ON operations
  FOR EACH ROW WHEN (OLD.stage IS DISTINCT FROM NEW.stage OR OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION audit_operation_change();
