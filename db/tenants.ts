import type pg from 'pg';
import { hashToken, newToken } from '../trust/tokens.js';
import type { Db } from './tx.js';

export const DEFAULT_TENANT = 'default';
const BOOTSTRAP_TOKEN_NAME = 'bootstrap';

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

/** The tenant a live (unrevoked) admin token belongs to, recording its use; undefined for any other token. */
export async function tenantForAdminToken(db: pg.Pool, token: string): Promise<Tenant | undefined> {
  const { rows } = await db.query<Tenant>(
    `UPDATE admin_tokens t SET last_used_at = now()
     FROM tenants n
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND n.id = t.tenant_id
     RETURNING n.id, n.name`,
    [hashToken(token)],
  );
  return rows[0];
}

/** Revokes the tenant's live admin token of that name; false when it has none. */
export async function revokeAdminToken(db: Db, tenantId: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE admin_tokens SET revoked_at = now() WHERE tenant_id = $1 AND name = $2 AND revoked_at IS NULL', [tenantId, name]);
  return !!rowCount;
}

export type BootstrapToken =
  | { source: 'generated'; token: string }
  | { source: 'environment' }
  | { source: 'existing' };

/**
 * Makes sure the default tenant has its bootstrap admin token. `fromEnv` (MERIDIAN_ADMIN_TOKEN) is
 * registered as given; otherwise one is generated the first time only, and its plaintext returned once.
 */
export async function bootstrapAdminToken(db: pg.Pool, fromEnv?: string): Promise<{ tenant: Tenant; bootstrap: BootstrapToken }> {
  const tenant = await ensureTenant(db, DEFAULT_TENANT);
  if (fromEnv) {
    await db.query(
      `INSERT INTO admin_tokens (tenant_id, name, token_hash) VALUES ($1, 'environment', $2)
       ON CONFLICT (tenant_id, name) DO UPDATE SET token_hash = EXCLUDED.token_hash, revoked_at = NULL`,
      [tenant.id, hashToken(fromEnv)],
    );
    return { tenant, bootstrap: { source: 'environment' } };
  }
  const token = newToken();
  const { rowCount } = await db.query(
    `INSERT INTO admin_tokens (tenant_id, name, token_hash) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, name) DO NOTHING`,
    [tenant.id, BOOTSTRAP_TOKEN_NAME, hashToken(token)],
  );
  return { tenant, bootstrap: rowCount ? { source: 'generated', token } : { source: 'existing' } };
}
