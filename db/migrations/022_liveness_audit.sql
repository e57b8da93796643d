-- Liveness transitions in the audit trail (issue #19): every transition recorded in the outbox
-- (migration 018) is also an audit entry, in the same transaction. UNREACHABLE is the reconciler's doing
-- (its liveness sweep); CONNECTED again is the runtime's (its call).
CREATE FUNCTION audit_liveness_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_log (tenant_id, actor, actor_kind, action, resource, detail)
  VALUES (
    NEW.tenant_id,
    CASE NEW.type WHEN 'runtime.unreachable' THEN 'workflow:reconciler' ELSE 'runtime:' || NEW.runtime_id END,
    CASE NEW.type WHEN 'runtime.unreachable' THEN 'workflow' ELSE 'runtime' END,
    CASE NEW.type WHEN 'runtime.unreachable' THEN 'runtime-unreachable' ELSE 'runtime-reachable' END,
    '/v1/runtimes/' || NEW.runtime_id,
    jsonb_build_object('transition', NEW.transition, 'condition', CASE NEW.type WHEN 'runtime.unreachable' THEN 'UNREACHABLE' ELSE 'CONNECTED' END));
  RETURN NULL;
END $$;
CREATE TRIGGER runtime_liveness_audit AFTER INSERT ON runtime_liveness_events FOR EACH ROW EXECUTE FUNCTION audit_liveness_transition();
