-- API and Event definitions of applications, with their spec and its validation result.
CREATE TABLE definitions (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL,
  application_id uuid NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('API', 'EVENT')),
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100 AND name !~ '[[:cntrl:]]'),
  description    text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  target_url     text CHECK (length(target_url) <= 2048),
  spec_type      text CHECK (spec_type IN ('OPENAPI', 'ODATA', 'ASYNCAPI')),
  spec_format    text CHECK (spec_format IN ('JSON', 'YAML', 'XML')),
  spec_fetch_url text CHECK (length(spec_fetch_url) <= 2048),
  spec_data      text,
  spec_status    text CHECK (spec_status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
  spec_message   text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (application_id, kind, name),
  FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
  CHECK ((kind = 'API') = (target_url IS NOT NULL)),
  CHECK ((spec_type IS NULL) = (spec_status IS NULL)),
  CHECK (kind = 'API' AND spec_type IN ('OPENAPI', 'ODATA') OR kind = 'EVENT' AND spec_type = 'ASYNCAPI' OR spec_type IS NULL)
);

-- What a runtime sees of an application includes its definitions.
CREATE FUNCTION bump_on_definition_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE app uuid := COALESCE(NEW.application_id, OLD.application_id);
BEGIN
  UPDATE runtimes SET config_version = config_version + 1
   WHERE id IN (SELECT r.runtime_id FROM runtime_scenarios r
                JOIN application_scenarios a ON a.tenant_id = r.tenant_id AND a.scenario = r.scenario
                WHERE a.application_id = app);
  RETURN NULL;
END $$;
CREATE TRIGGER definitions_bump AFTER INSERT OR UPDATE OR DELETE ON definitions
  FOR EACH ROW EXECUTE FUNCTION bump_on_definition_change();

-- Application webhooks; secrets are AES-256-GCM ciphertexts under the key named by secret_key_id.
CREATE TABLE webhooks (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL,
  application_id    uuid NOT NULL,
  type              text NOT NULL CHECK (type = 'CONFIGURATION_CHANGED'),
  url               text NOT NULL CHECK (length(url) <= 2048 AND url ~ '^https?://'),
  secret_ciphertext bytea,
  secret_key_id     text,
  disabled_at       timestamptz,
  disabled_reason   text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
  CHECK ((secret_ciphertext IS NULL) = (secret_key_id IS NULL))
);
CREATE INDEX webhooks_by_application ON webhooks (application_id);

-- One delivery of one event to one webhook; its id is the stable Meridian-Delivery header.
CREATE TABLE deliveries (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  application_id uuid NOT NULL,
  webhook_id     uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_id       text NOT NULL,
  event_type     text NOT NULL,
  state          text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED', 'FAILED')),
  attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_status    integer,
  last_error     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX deliveries_by_application ON deliveries (application_id, created_at DESC);
