-- Label definitions (issue #18): per tenant, a JSON Schema (draft 2020-12) that every label with this
-- key, on applications and runtimes, must satisfy. The API validates with it; `scenarios` is built in.
CREATE TABLE label_definitions (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key        text NOT NULL CHECK (length(key) <= 256 AND key ~ '^[a-zA-Z0-9_]+$'),
  schema     json NOT NULL,  -- json, not jsonb: kept as the administrator wrote it
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);
