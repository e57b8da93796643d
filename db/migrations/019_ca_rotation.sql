-- CA rotation without downtime (issue #19). Meridian's certificate authorities: the one that signs new
-- client certificates (ACTIVE, exactly one once a rotation began), a new one being introduced (PREPARED:
-- trusted, not yet signing), the one being replaced (RETIRING: trusted, signs the mTLS listener's server
-- certificate until it is retired) and those retired (trusted no more). The trust bundle every API replica
-- accepts and every holder receives is every CA that is not RETIRED. Before the first rotation this table
-- is empty and the CA of the files (MERIDIAN_CA_CERT_FILE, or the data directory) is the one CA.
CREATE TABLE certificate_authorities (
  -- Hex SHA-256 of the certificate's DER.
  fingerprint    text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  certificate    text NOT NULL,
  -- The private key (PKCS#8 PEM) sealed with the encryption keyring (AES-256-GCM, bound to this row).
  -- NULL for the CA whose key stays in its files, where every process reads it at start.
  key_ciphertext bytea,
  key_id         text,
  state          text NOT NULL CHECK (state IN ('PREPARED', 'ACTIVE', 'RETIRING', 'RETIRED')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  activated_at   timestamptz,
  retired_at     timestamptz,
  CHECK ((key_ciphertext IS NULL) = (key_id IS NULL))
);
CREATE UNIQUE INDEX certificate_authorities_one_active ON certificate_authorities ((true)) WHERE state = 'ACTIVE';

-- The CA that signed each client certificate (its fingerprint). NULL for certificates issued before
-- rotations existed: the CA of the files signed them; the first rotation fills them in.
ALTER TABLE certificates ADD COLUMN issuer text;
CREATE INDEX certificates_by_issuer ON certificates (issuer, not_after);

-- One record per rotation, kept by its workflow `ca-rotation:<id>`: stage PREPARED → ACTIVATED → RETIRED,
-- progress {renewed, remaining} (holders with a live certificate of the new CA / of the old one) and when
-- each phase began. At most one rotation is in progress.
CREATE TABLE ca_rotations (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  state               text NOT NULL DEFAULT 'IN_PROGRESS' CHECK (state IN ('IN_PROGRESS', 'SUCCEEDED', 'FAILED')),
  stage               text NOT NULL DEFAULT 'REQUESTED' CHECK (stage IN ('REQUESTED', 'PREPARED', 'ACTIVATED', 'RETIRED', 'FAILED')),
  -- 'auto': the old CA is retired as soon as no live certificate depends on it; 'manual': on `meridian ca retire`.
  retire              text NOT NULL DEFAULT 'auto' CHECK (retire IN ('auto', 'manual')),
  old_ca              text REFERENCES certificate_authorities (fingerprint),
  new_ca              text REFERENCES certificate_authorities (fingerprint),
  progress            jsonb,
  message             text,
  workflow_id         text,
  requested_by        text,
  started_at          timestamptz NOT NULL DEFAULT now(),
  prepared_at         timestamptz,
  activated_at        timestamptz,
  finished_at         timestamptz,
  CHECK ((state = 'IN_PROGRESS') = (finished_at IS NULL))
);
CREATE UNIQUE INDEX ca_rotations_one_in_progress ON ca_rotations ((true)) WHERE state = 'IN_PROGRESS';
