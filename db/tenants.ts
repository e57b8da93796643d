import type pg from 'pg';
import { hashToken, newToken } from '../trust/tokens.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { withTransaction, type Db } from './tx.js';

export const DEFAULT_TENANT = 'default';
const BOOTSTRAP_TOKEN_NAME = 'bootstrap';
/** The name of the token configured by MERIDIAN_ADMIN_TOKEN. */
const ENVIRONMENT_TOKEN_NAME = 'environment';

export interface Tenant {
  id: string;
  name: string;
}

/** Creates a tenant, or returns the existing one of that name. */
export async function ensureTenant(db: Db, name: string): Promise<Tenant> {
  const { rows } = await db.query<Tenant>(
    `INSERT INTO tenants (name) VALUES ($1)
     ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
     RETURNING id, name`,
    [name],
  );
  return rows[0]!;
}

/** Every tenant, by name. */
export async function listTenants(db: Db): Promise<Tenant[]> {
  const { rows } = await db.query<Tenant>('SELECT id, name FROM tenants ORDER BY name');
  return rows;
}

/** The tenant of that name; undefined when there is none. */
export async function tenantByName(db: Db, name: string): Promise<Tenant | undefined> {
  const { rows } = await db.query<Tenant>('SELECT id, name FROM tenants WHERE name = $1', [name]);
  return rows[0];
}

/** Stores a token for the tenant under `name`; with no `token` given a new one is generated. Returns the plaintext. */
export async function createAdminToken(db: pg.Pool, tenantId: string, name: string, token = newToken()): Promise<string> {
  await db.query('INSERT INTO admin_tokens (tenant_id, name, token_hash) VALUES ($1, $2, $3)', [tenantId, name, hashToken(token)]);
  return token;
}

/** A live admin token: its id and name, its tenant, and whether its use is due to be recorded (see {@link recordAdminTokenUse}). */
export interface LiveAdminToken {
  id: string;
  name: string;
  tenant: Tenant;
  useDue: boolean;
}

/** How often an admin token's `last_used_at` is written at most. */
const USE_RECORDED_EVERY = "interval '1 minute'";

/** The live (unrevoked) admin token with this plaintext; undefined for any other token. A plain read: it writes nothing. */
export async function findAdminToken(db: Db, token: string): Promise<LiveAdminToken | undefined> {
  const { rows } = await db.query<{ token_id: string; token_name: string; id: string; name: string; use_due: boolean }>(
    `SELECT t.id AS token_id, t.name AS token_name, n.id, n.name, (t.last_used_at IS NULL OR t.last_used_at < now() - ${USE_RECORDED_EVERY}) AS use_due
     FROM admin_tokens t JOIN tenants n ON n.id = t.tenant_id
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
    [hashToken(token)],
  );
  const row = rows[0];
  return row && { id: row.token_id, name: row.token_name, tenant: { id: row.id, name: row.name }, useDue: row.use_due };
}

/**
 * Sets the token's `last_used_at` unless it was set less than a minute ago. A row another request is
 * writing (or revoking) is skipped, not waited for: requests with one token never queue on its row.
 */
export async function recordAdminTokenUse(db: Db, tokenId: string): Promise<void> {
  await db.query(
    `UPDATE admin_tokens SET last_used_at = now()
     WHERE id = (SELECT id FROM admin_tokens WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - ${USE_RECORDED_EVERY})
                 FOR UPDATE SKIP LOCKED)`,
    [tokenId],
  );
}

/** Revokes the tenant's live admin token of that name; false when it has none. */
export async function revokeAdminToken(db: Db, tenantId: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE admin_tokens SET revoked_at = now() WHERE tenant_id = $1 AND name = $2 AND revoked_at IS NULL', [tenantId, name]);
  return !!rowCount;
}

export type BootstrapToken =
  | { source: 'generated'; token: string }
  | { source: 'environment' }
  /** MERIDIAN_ADMIN_TOKEN is a token that was revoked: it stays revoked (a warning was logged). */
  | { source: 'revoked' }
  | { source: 'existing' };

/** Thrown by {@link registerConfiguredAdminToken} when the configured token is another tenant's. */
export class AdminTokenOfAnotherTenant extends Error {
  override name = 'AdminTokenOfAnotherTenant';
}

/**
 * Registers a configured admin token (MERIDIAN_ADMIN_TOKEN) as the tenant's `environment` token. A new
 * value is a new token and replaces (revokes) the one configured before; a value that was revoked stays
 * revoked (`'revoked'`); a value already live is left as it is.
 */
export async function registerConfiguredAdminToken(pool: pg.Pool, tenantId: string, token: string): Promise<'registered' | 'live' | 'revoked'> {
  const hash = hashToken(token);
  return withTransaction(pool, async (client) => {
    // One registration per tenant at a time: concurrent starts see each other's token.
    await client.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
    const { rows } = await client.query<{ tenant_id: string; revoked: boolean }>(
      'SELECT tenant_id, revoked_at IS NOT NULL AS revoked FROM admin_tokens WHERE token_hash = $1',
      [hash],
    );
    const known = rows[0];
    if (known && known.tenant_id !== tenantId) throw new AdminTokenOfAnotherTenant('MERIDIAN_ADMIN_TOKEN: is an admin token of another tenant');
    if (known) return known.revoked ? 'revoked' : 'live';
    await client.query(`UPDATE admin_tokens SET revoked_at = now() WHERE tenant_id = $1 AND name = '${ENVIRONMENT_TOKEN_NAME}' AND revoked_at IS NULL`, [tenantId]);
    await client.query(`INSERT INTO admin_tokens (tenant_id, name, token_hash) VALUES ($1, '${ENVIRONMENT_TOKEN_NAME}', $2)`, [tenantId, hash]);
    return 'registered';
  });
}

/**
 * Makes sure the default tenant has its bootstrap admin token. `fromEnv` (MERIDIAN_ADMIN_TOKEN) is
 * registered by {@link registerConfiguredAdminToken} (a revoked one is logged as a warning, never
 * the token itself); otherwise one is generated the first time only, and its plaintext returned once.
 */
export async function bootstrapAdminToken(
  db: pg.Pool,
  fromEnv?: string,
  logger: Pick<Logger, 'warn'> = createLogger('info'),
): Promise<{ tenant: Tenant; bootstrap: BootstrapToken }> {
  const tenant = await ensureTenant(db, DEFAULT_TENANT);
  if (fromEnv) {
    if ((await registerConfiguredAdminToken(db, tenant.id, fromEnv)) !== 'revoked') return { tenant, bootstrap: { source: 'environment' } };
    logger.warn({ tenant: tenant.name }, 'MERIDIAN_ADMIN_TOKEN is a revoked admin token: it stays revoked and authenticates nothing; configure a new token');
    return { tenant, bootstrap: { source: 'revoked' } };
  }
  const token = newToken();
  // Generated once: a bootstrap token that was revoked is not replaced by a new one.
  const { rowCount } = await db.query(
    `INSERT INTO admin_tokens (tenant_id, name, token_hash)
     SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM admin_tokens WHERE tenant_id = $1 AND name = $2)
     ON CONFLICT DO NOTHING`,
    [tenant.id, BOOTSTRAP_TOKEN_NAME, hashToken(token)],
  );
  return { tenant, bootstrap: rowCount ? { source: 'generated', token } : { source: 'existing' } };
}
