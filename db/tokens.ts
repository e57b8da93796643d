import { hashToken, newToken } from '../trust/tokens.js';
import type { ObjectKind } from './objects.js';
import type { Db } from './tx.js';

export type TokenPurpose = 'application' | 'runtime' | 'csr';

export interface TokenGrant {
  tenantId: string;
  objectKind: ObjectKind;
  objectId: string;
  purpose: TokenPurpose;
  expiresAt: Date;
}

/** Stores a new one-time token's hash; returns the plaintext, which only the caller ever sees. */
export async function issueToken(db: Db, grant: Omit<TokenGrant, 'expiresAt'>, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
  const token = newToken();
  const { rows } = await db.query<{ expires_at: Date }>(
    `INSERT INTO one_time_tokens (token_hash, tenant_id, purpose, object_kind, object_id, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING expires_at`,
    [hashToken(token), grant.tenantId, grant.purpose, grant.objectKind, grant.objectId, ttlSeconds],
  );
  return { token, expiresAt: rows[0]!.expires_at };
}

const LIVE = 'used_at IS NULL AND invalidated_at IS NULL AND expires_at > now()';
const grantColumns = 'tenant_id AS "tenantId", object_kind AS "objectKind", object_id AS "objectId", purpose, expires_at AS "expiresAt"';

/** What a live token of one of `purposes` grants, without using it up; undefined for any other token. */
export async function peekToken(db: Db, token: string, purposes: TokenPurpose[]): Promise<TokenGrant | undefined> {
  const { rows } = await db.query<TokenGrant>(
    `SELECT ${grantColumns} FROM one_time_tokens WHERE token_hash = $1 AND purpose = ANY($2) AND ${LIVE}`,
    [hashToken(token), purposes],
  );
  return rows[0];
}

/**
 * Uses a token up in one atomic statement: of any number of concurrent redemptions exactly one
 * gets the grant; used, expired, invalidated, unknown and wrong-purpose tokens all get undefined.
 */
export async function redeemToken(db: Db, token: string, purposes: TokenPurpose[]): Promise<TokenGrant | undefined> {
  const { rows } = await db.query<TokenGrant>(
    `UPDATE one_time_tokens SET used_at = now() WHERE token_hash = $1 AND purpose = ANY($2) AND ${LIVE} RETURNING ${grantColumns}`,
    [hashToken(token), purposes],
  );
  return rows[0];
}

/** Makes every unused token of an object unusable at once (supersession, expiry, deletion). */
export async function invalidateTokens(db: Db, objectId: string): Promise<number> {
  const { rowCount } = await db.query(
    'UPDATE one_time_tokens SET invalidated_at = now() WHERE object_id = $1 AND used_at IS NULL AND invalidated_at IS NULL',
    [objectId],
  );
  return rowCount ?? 0;
}
