-- The Director's system of record: scenarios, applications, runtimes, their labels and memberships,
-- and operations. Invariants live here, not only in code.

CREATE TABLE scenarios (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name       text NOT NULL CHECK (length(name) <= 128 AND name ~ '^[A-Za-z0-9]([-_A-Za-z0-9 ]*[A-Za-z0-9])?$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);

-- DEFAULT exists in every tenant, from its creation on, and cannot be deleted.
CREATE FUNCTION create_default_scenario() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO scenarios (tenant_id, name) VALUES (NEW.id, 'DEFAULT') ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER tenants_default_scenario AFTER INSERT ON tenants FOR EACH ROW EXECUTE FUNCTION create_default_scenario();
INSERT INTO scenarios (tenant_id, name) SELECT id, 'DEFAULT' FROM tenants ON CONFLICT DO NOTHING;

CREATE FUNCTION keep_default_scenario() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.name = 'DEFAULT' AND EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
    RAISE EXCEPTION 'the DEFAULT scenario cannot be deleted' USING ERRCODE = 'check_violation', CONSTRAINT = 'scenarios_default_kept';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER scenarios_keep_default BEFORE DELETE ON scenarios FOR EACH ROW EXECUTE FUNCTION keep_default_scenario();

CREATE TABLE applications (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name                 text NOT NULL CHECK (length(name) <= 36 AND name ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$'),
  description          text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  provider_name        text CHECK (length(provider_name) <= 256),
  condition            text NOT NULL DEFAULT 'INITIAL' CHECK (condition IN ('INITIAL', 'PAIRING', 'CONNECTED', 'FAILED', 'DELETING')),
  condition_updated_at timestamptz NOT NULL DEFAULT now(),
  config_version       bigint NOT NULL DEFAULT 1 CHECK (config_version > 0),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  UNIQUE (tenant_id, id)
);
CREATE INDEX applications_page ON applications (tenant_id, created_at, id);

CREATE TABLE runtimes (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name                 text NOT NULL CHECK (length(name) <= 36 AND name ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$'),
  description          text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  provider             text NOT NULL DEFAULT 'local' CHECK (provider IN ('local', 'simulated')),
  provider_config      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(provider_config) = 'object'),
  condition            text NOT NULL DEFAULT 'INITIAL'
                       CHECK (condition IN ('INITIAL', 'PROVISIONING', 'CONNECTING', 'CONNECTED', 'FAILED', 'DEPROVISIONING')),
  condition_updated_at timestamptz NOT NULL DEFAULT now(),
  condition_message    text,
  event_url            text,
  config_version       bigint NOT NULL DEFAULT 1 CHECK (config_version > 0),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  UNIQUE (tenant_id, id)
);
CREATE INDEX runtimes_page ON runtimes (tenant_id, created_at, id);

-- Memberships reference the scenario within the same tenant: no cross-tenant membership can exist,
-- and a scenario in use cannot be deleted (RESTRICT).
CREATE TABLE application_scenarios (
  tenant_id      uuid NOT NULL,
  application_id uuid NOT NULL,
  scenario       text NOT NULL,
  PRIMARY KEY (application_id, scenario),
  FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, scenario) REFERENCES scenarios (tenant_id, name) ON DELETE RESTRICT
);
CREATE INDEX application_scenarios_by_scenario ON application_scenarios (tenant_id, scenario);

CREATE TABLE runtime_scenarios (
  tenant_id  uuid NOT NULL,
  runtime_id uuid NOT NULL,
  scenario   text NOT NULL,
  PRIMARY KEY (runtime_id, scenario),
  FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, scenario) REFERENCES scenarios (tenant_id, name) ON DELETE RESTRICT
);
CREATE INDEX runtime_scenarios_by_scenario ON runtime_scenarios (tenant_id, scenario);

CREATE TABLE application_labels (
  application_id uuid NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  key            text NOT NULL CHECK (length(key) <= 256 AND key ~ '^[a-zA-Z0-9_]+$'),
  value          jsonb NOT NULL,
  PRIMARY KEY (application_id, key)
);
CREATE INDEX application_labels_by_value ON application_labels (key, value);

CREATE TABLE runtime_labels (
  runtime_id uuid NOT NULL REFERENCES runtimes (id) ON DELETE CASCADE,
  key        text NOT NULL CHECK (length(key) <= 256 AND key ~ '^[a-zA-Z0-9_]+$'),
  value      jsonb NOT NULL,
  PRIMARY KEY (runtime_id, key)
);

-- An application keeps at least one scenario: checked at commit, so a set can be replaced in one transaction.
CREATE FUNCTION assert_application_has_scenario(app uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM applications WHERE id = app)
     AND NOT EXISTS (SELECT 1 FROM application_scenarios WHERE application_id = app) THEN
    RAISE EXCEPTION 'an application keeps at least one scenario'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'applications_have_scenario';
  END IF;
END $$;
CREATE FUNCTION check_new_application() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM assert_application_has_scenario(NEW.id); RETURN NULL; END $$;
CREATE FUNCTION check_removed_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM assert_application_has_scenario(OLD.application_id); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER applications_have_scenario AFTER INSERT ON applications
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_new_application();
CREATE CONSTRAINT TRIGGER application_scenarios_keep_one AFTER DELETE ON application_scenarios
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_removed_membership();

-- configVersion: bumped in the same transaction as every change that alters what a runtime or an
-- application should see (DESIGN.md, flow 6). Memberships change both sides of a scenario.
CREATE FUNCTION bump_on_application_membership() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE m application_scenarios := COALESCE(NEW, OLD);
BEGIN
  UPDATE applications SET config_version = config_version + 1 WHERE id = m.application_id;
  UPDATE runtimes SET config_version = config_version + 1
   WHERE id IN (SELECT runtime_id FROM runtime_scenarios WHERE tenant_id = m.tenant_id AND scenario = m.scenario);
  RETURN NULL;
END $$;
CREATE TRIGGER application_scenarios_bump AFTER INSERT OR DELETE ON application_scenarios
  FOR EACH ROW EXECUTE FUNCTION bump_on_application_membership();

CREATE FUNCTION bump_on_runtime_membership() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE m runtime_scenarios := COALESCE(NEW, OLD);
BEGIN
  UPDATE runtimes SET config_version = config_version + 1 WHERE id = m.runtime_id;
  UPDATE applications SET config_version = config_version + 1
   WHERE id IN (SELECT application_id FROM application_scenarios WHERE tenant_id = m.tenant_id AND scenario = m.scenario);
  RETURN NULL;
END $$;
CREATE TRIGGER runtime_scenarios_bump AFTER INSERT OR DELETE ON runtime_scenarios
  FOR EACH ROW EXECUTE FUNCTION bump_on_runtime_membership();

-- What a runtime sees of an application: its name and description.
CREATE FUNCTION bump_on_application_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE runtimes SET config_version = config_version + 1
   WHERE id IN (SELECT r.runtime_id FROM runtime_scenarios r
                JOIN application_scenarios a ON a.tenant_id = r.tenant_id AND a.scenario = r.scenario
                WHERE a.application_id = NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER applications_bump AFTER UPDATE OF name, description ON applications
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.description IS DISTINCT FROM NEW.description)
  EXECUTE FUNCTION bump_on_application_change();

-- Operations: one record per long-running change, mirrored from its workflow by activities.
CREATE TABLE operations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  type        text NOT NULL CHECK (type IN ('PAIRING', 'API_REGISTRATION', 'PROVISIONING', 'DEPROVISIONING', 'UNREGISTRATION')),
  state       text NOT NULL DEFAULT 'IN_PROGRESS' CHECK (state IN ('IN_PROGRESS', 'SUCCEEDED', 'FAILED')),
  stage       text NOT NULL,
  message     text,
  resource_id uuid NOT NULL,
  workflow_id text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CHECK ((state = 'IN_PROGRESS') = (finished_at IS NULL))
);
CREATE INDEX operations_by_resource ON operations (tenant_id, resource_id, started_at);
