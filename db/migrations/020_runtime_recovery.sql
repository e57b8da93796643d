-- Agents that heal themselves (issue #19; docs/architecture.md, "Recovery"): a runtime whose certificates
-- all expired or were revoked while it was CONNECTED or UNREACHABLE is recovered by the workflow
-- recovery:<runtimeId>:<n>, tracked by a RECOVERY operation (its stages audited by the operations trigger
-- of 017_audit). An application in the same situation becomes DISCONNECTED with a message that says why
-- and how to pair it again.
ALTER TABLE operations DROP CONSTRAINT operations_type_check;
ALTER TABLE operations ADD CONSTRAINT operations_type_check
  CHECK (type IN ('PAIRING', 'API_REGISTRATION', 'PROVISIONING', 'DEPROVISIONING', 'UNREGISTRATION', 'SCENARIO_ASSIGNMENT', 'RECOVERY'));
-- One recovery at a time per runtime: a second concurrent start is refused by the database.
CREATE UNIQUE INDEX operations_one_recovery_per_runtime ON operations (resource_id)
  WHERE state = 'IN_PROGRESS' AND type = 'RECOVERY';

ALTER TABLE applications DROP CONSTRAINT applications_condition_check;
ALTER TABLE applications ADD CONSTRAINT applications_condition_check
  CHECK (condition IN ('INITIAL', 'PAIRING', 'CONNECTED', 'DISCONNECTED', 'FAILED', 'DELETING'));
-- Why an application is DISCONNECTED (its certificates expired or were revoked) and how to pair it again.
ALTER TABLE applications ADD COLUMN condition_message text CHECK (length(condition_message) <= 2000);

-- An application that is CONNECTED again (paired anew) has nothing left to explain.
CREATE FUNCTION applications_connected_clears_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.condition = 'CONNECTED' THEN
    NEW.condition_message := NULL;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER applications_connected_clears_message BEFORE UPDATE OF condition ON applications
  FOR EACH ROW WHEN (NEW.condition = 'CONNECTED' AND NEW.condition_message IS NOT NULL)
  EXECUTE FUNCTION applications_connected_clears_message();
