-- Certificates that can be seen, limited and revoked, and issuance that re-checks what it is told.

-- Why a certificate was revoked (an administrator's reason, a renewal, a new pairing, its holder, its
-- object's removal). `revoked_at` may lie in the future: a scheduled revocation, as for the certificate
-- a renewal replaced, which keeps working until then; revocation reads take only what is due.
ALTER TABLE certificates ADD COLUMN revocation_reason text;

-- What the API authorised before it asked Temporal for a certificate: the issuance activity signs a
-- CSR only when a live row under the request's issuance key names the same tenant, object and public
-- key (SHA-256 of its SPKI DER). `renews_serial` is the calling certificate of a renewal, revoked after
-- an overlap once the new one is issued; NULL for a one-time token exchange, whose certificate
-- supersedes the object's earlier ones.
CREATE TABLE certificate_requests (
  issuance_key      text PRIMARY KEY,
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  object_kind       text NOT NULL CHECK (object_kind IN ('application', 'runtime')),
  object_id         uuid NOT NULL,
  public_key_sha256 text NOT NULL CHECK (public_key_sha256 ~ '^[0-9a-f]{64}$'),
  renews_serial     text CHECK (renews_serial ~ '^[0-9a-f]+$'),
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  CHECK (expires_at > created_at)
);
