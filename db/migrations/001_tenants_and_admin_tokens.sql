-- Tenants own every resource; admin tokens map a bearer token to exactly one tenant.
CREATE TABLE tenants (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL UNIQUE
             CHECK (length(name) <= 36 AND name ~ '^[a-z]([-a-z0-9]*[a-z0-9])?$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Tokens are stored only as SHA-256 hashes.
CREATE TABLE admin_tokens (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz,
  UNIQUE (tenant_id, name)
);
