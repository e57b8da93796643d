-- Admin tokens: a revoked token keeps its row, so it stays revoked when it is configured again
-- (MERIDIAN_ADMIN_TOKEN); a name is unique among live tokens only, so a new token can take the name of
-- a revoked one.
ALTER TABLE admin_tokens DROP CONSTRAINT admin_tokens_tenant_id_name_key;
CREATE UNIQUE INDEX admin_tokens_live_name ON admin_tokens (tenant_id, name) WHERE revoked_at IS NULL;

-- Sealed credentials are bound to their row and tenant (AES-GCM associated data, trust/encryption.ts);
-- the binding is computed from the row's key, so it needs no column. Ciphertexts written before carry
-- no binding and are still read; they are sealed again with one when next written or re-encrypted.
COMMENT ON COLUMN credential_slots.secret_ciphertext IS
  'AES-256-GCM; bound to (credential_slots, api_id/runtime_id, tenant_id), or to the API''s definitions row when filled from its default credentials';
COMMENT ON COLUMN definitions.default_credentials_ciphertext IS
  'AES-256-GCM; bound to (definitions, id, tenant_id)';
