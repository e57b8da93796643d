-- One-time tokens, stored only as SHA-256 hashes, bound to one object and one purpose.
CREATE TABLE one_time_tokens (
  token_hash     bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  purpose        text NOT NULL CHECK (purpose IN ('application', 'runtime', 'csr')),
  object_kind    text NOT NULL CHECK (object_kind IN ('application', 'runtime')),
  object_id      uuid NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz,
  invalidated_at timestamptz,
  CHECK (expires_at > created_at),
  CHECK (purpose = 'csr' OR purpose = object_kind)
);
CREATE INDEX one_time_tokens_live ON one_time_tokens (object_id) WHERE used_at IS NULL AND invalidated_at IS NULL;

-- Every certificate the CA issued. Revocation is checked on every mTLS request.
CREATE TABLE certificates (
  serial      text PRIMARY KEY CHECK (serial ~ '^[0-9a-f]+$'),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  object_kind text NOT NULL CHECK (object_kind IN ('application', 'runtime')),
  object_id   uuid NOT NULL,
  subject     text NOT NULL,
  fingerprint text NOT NULL UNIQUE CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  not_before  timestamptz NOT NULL,
  not_after   timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  CHECK (not_after > not_before)
);
CREATE INDEX certificates_by_object ON certificates (object_id);
CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;
