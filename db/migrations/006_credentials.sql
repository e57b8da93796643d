-- API credentials (DESIGN.md, flow 5): one slot per (API, runtime) pair that shares a scenario, kept in
-- step with memberships and definitions by triggers, in the same transaction as the change.

-- Credentials an application gives an API for every new runtime; AES-256-GCM like every secret here.
ALTER TABLE definitions
  ADD COLUMN default_credentials_ciphertext bytea,
  ADD COLUMN default_credentials_key_id     text,
  ADD CONSTRAINT definitions_default_credentials_sealed
    CHECK ((default_credentials_ciphertext IS NULL) = (default_credentials_key_id IS NULL)),
  ADD CONSTRAINT definitions_default_credentials_api CHECK (kind = 'API' OR default_credentials_ciphertext IS NULL);

-- A slot outlives its pair as UNUSED (secret erased), so the application sees what went away;
-- api_id and runtime_id therefore reference nothing. announce_txid marks a slot that became PENDING or
-- UNUSED for a CONNECTED runtime, whose application has not been told yet (configuration.changed); the
-- transaction id makes the event's id.
CREATE TABLE credential_slots (
  tenant_id         uuid NOT NULL,
  application_id    uuid NOT NULL,
  api_id            uuid NOT NULL,
  runtime_id        uuid NOT NULL,
  status            text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'UNUSED')),
  secret_ciphertext bytea,
  secret_key_id     text,
  announce_txid     bigint,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (api_id, runtime_id),
  FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
  CHECK ((secret_ciphertext IS NULL) = (secret_key_id IS NULL)),
  CHECK ((status = 'SUCCEEDED') = (secret_ciphertext IS NOT NULL))
);
CREATE INDEX credential_slots_by_application ON credential_slots (application_id, api_id, runtime_id);
CREATE INDEX credential_slots_by_runtime ON credential_slots (runtime_id);
CREATE INDEX credential_slots_to_announce ON credential_slots (tenant_id) WHERE announce_txid IS NOT NULL;

-- Pairs that share a scenario get a slot (an UNUSED one is reopened), filled from the API's defaults.
CREATE FUNCTION open_credential_slots(only_runtime uuid, only_application uuid, only_api uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO credential_slots AS s (tenant_id, application_id, api_id, runtime_id, status, secret_ciphertext, secret_key_id, announce_txid)
  SELECT DISTINCT d.tenant_id, d.application_id, d.id, rm.runtime_id,
         CASE WHEN d.default_credentials_ciphertext IS NULL THEN 'PENDING' ELSE 'SUCCEEDED' END,
         d.default_credentials_ciphertext, d.default_credentials_key_id,
         CASE WHEN d.default_credentials_ciphertext IS NULL AND r.condition = 'CONNECTED' THEN txid_current() END
    FROM runtime_scenarios rm
    JOIN application_scenarios am ON am.tenant_id = rm.tenant_id AND am.scenario = rm.scenario
    JOIN definitions d ON d.application_id = am.application_id AND d.kind = 'API'
    JOIN runtimes r ON r.id = rm.runtime_id
   WHERE (only_runtime IS NULL OR rm.runtime_id = only_runtime)
     AND (only_application IS NULL OR am.application_id = only_application)
     AND (only_api IS NULL OR d.id = only_api)
  ON CONFLICT (api_id, runtime_id) DO UPDATE
    SET status = EXCLUDED.status, secret_ciphertext = EXCLUDED.secret_ciphertext, secret_key_id = EXCLUDED.secret_key_id,
        announce_txid = EXCLUDED.announce_txid, updated_at = now()
    WHERE s.status = 'UNUSED';
END $$;

-- Slots whose pair no longer shares a scenario (or whose API is gone) become UNUSED; the secret is erased.
-- (A deleted runtime is announced as runtime.removed by its deprovisioning workflow instead.)
CREATE FUNCTION close_credential_slots(only_runtime uuid, only_application uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE credential_slots s
     SET status = 'UNUSED', secret_ciphertext = NULL, secret_key_id = NULL, updated_at = now(),
         announce_txid = CASE WHEN EXISTS (SELECT 1 FROM runtimes r WHERE r.id = s.runtime_id AND r.condition = 'CONNECTED') THEN txid_current() END
   WHERE s.status <> 'UNUSED'
     AND (only_runtime IS NULL OR s.runtime_id = only_runtime)
     AND (only_application IS NULL OR s.application_id = only_application)
     AND NOT EXISTS (SELECT 1 FROM runtime_scenarios rm
                       JOIN application_scenarios am ON am.tenant_id = rm.tenant_id AND am.scenario = rm.scenario
                       JOIN definitions d ON d.application_id = am.application_id AND d.id = s.api_id AND d.kind = 'API'
                      WHERE rm.runtime_id = s.runtime_id);
END $$;

-- A new membership can only add pairs, a removed one can only end pairs.
CREATE FUNCTION slots_on_application_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN PERFORM open_credential_slots(NULL, NEW.application_id, NULL);
  ELSE PERFORM close_credential_slots(NULL, OLD.application_id); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER application_scenarios_slots AFTER INSERT OR DELETE ON application_scenarios
  FOR EACH ROW EXECUTE FUNCTION slots_on_application_membership();

CREATE FUNCTION slots_on_runtime_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN PERFORM open_credential_slots(NEW.runtime_id, NULL, NULL);
  ELSE PERFORM close_credential_slots(OLD.runtime_id, NULL); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER runtime_scenarios_slots AFTER INSERT OR DELETE ON runtime_scenarios
  FOR EACH ROW EXECUTE FUNCTION slots_on_runtime_membership();

CREATE FUNCTION slots_on_definition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' AND NEW.kind = 'API' THEN PERFORM open_credential_slots(NULL, NEW.application_id, NEW.id);
  ELSIF TG_OP = 'DELETE' AND OLD.kind = 'API' THEN PERFORM close_credential_slots(NULL, OLD.application_id); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER definitions_slots AFTER INSERT OR DELETE ON definitions
  FOR EACH ROW EXECUTE FUNCTION slots_on_definition();

SELECT open_credential_slots(NULL, NULL, NULL);

-- What an application sees of a runtime (GET /v1/application/configuration): its name, condition, eventUrl.
CREATE FUNCTION bump_applications_of_runtime() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE applications SET config_version = config_version + 1
   WHERE id IN (SELECT am.application_id FROM application_scenarios am
                JOIN runtime_scenarios rm ON rm.tenant_id = am.tenant_id AND rm.scenario = am.scenario
                WHERE rm.runtime_id = NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER runtimes_bump_applications AFTER UPDATE OF name, condition, event_url ON runtimes
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.condition IS DISTINCT FROM NEW.condition OR OLD.event_url IS DISTINCT FROM NEW.event_url)
  EXECUTE FUNCTION bump_applications_of_runtime();

-- Every new configVersion of a runtime is announced at commit, so its agent can be hinted at once.
CREATE FUNCTION announce_runtime_config() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('meridian_runtime_config', NEW.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER runtimes_announce_config AFTER UPDATE OF config_version ON runtimes
  FOR EACH ROW WHEN (OLD.config_version IS DISTINCT FROM NEW.config_version)
  EXECUTE FUNCTION announce_runtime_config();
