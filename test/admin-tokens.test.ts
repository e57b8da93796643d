import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT, bootstrapAdminToken, createAdminToken, revokeAdminToken } from '../db/tenants.js';
import { createLogger } from '../lib/logger.js';
import { newToken } from '../trust/tokens.js';
import { CapturedLog, call, createTenant, startTestApi, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.stop());

const status = async (token: string) => (await call(`${api.url}/v1/applications`, { token })).status;

/** One start's bootstrap of the default tenant with MERIDIAN_ADMIN_TOKEN, and what it logged. */
async function start(adminToken: string) {
  const log = new CapturedLog();
  const { tenant, bootstrap } = await bootstrapAdminToken(api.pool, adminToken, createLogger('info', log));
  return { tenant, bootstrap, log };
}

describe('the configured admin token (MERIDIAN_ADMIN_TOKEN)', () => {
  it('stays revoked across restarts, with a warning that does not show the token; a new value is a new token', async () => {
    const configured = newToken();
    const first = await start(configured);
    expect(first.bootstrap).toEqual({ source: 'environment' });
    expect(await status(configured)).toBe(200);
    expect(await revokeAdminToken(api.pool, first.tenant.id, 'environment')).toBe(true);
    expect(await status(configured)).toBe(401);

    const restarted = await start(configured);
    expect(restarted.bootstrap).toEqual({ source: 'revoked' });
    expect(await status(configured)).toBe(401);
    expect(restarted.log.text).toMatch(/MERIDIAN_ADMIN_TOKEN is a revoked admin token/);
    expect(restarted.log.text).not.toContain(configured);
    expect(JSON.parse(restarted.log.lines[0]!)).toMatchObject({ level: 40, tenant: DEFAULT_TENANT });

    const replacement = newToken();
    expect((await start(replacement)).bootstrap).toEqual({ source: 'environment' });
    expect(await status(replacement)).toBe(200);
    expect(await status(configured)).toBe(401);
    // Configured again after a restart with the new value: still the one live token, nothing logged.
    const again = await start(replacement);
    expect(again.bootstrap).toEqual({ source: 'environment' });
    expect(again.log.lines).toEqual([]);
    expect(await status(replacement)).toBe(200);
  });

  it('revokes the token configured before when a new value is configured', async () => {
    const before = newToken();
    await start(before);
    const after = newToken();
    await start(after);
    expect(await status(before)).toBe(401);
    expect(await status(after)).toBe(200);
  });
});

describe('admin tokens', () => {
  it('lets a new token take the name of a revoked one, and refuses two live tokens of one name', async () => {
    const { tenant } = await createTenant(api.pool);
    const old = await createAdminToken(api.pool, tenant.id, 'ops');
    await expect(createAdminToken(api.pool, tenant.id, 'ops')).rejects.toThrow(/admin_tokens_live_name/);
    await revokeAdminToken(api.pool, tenant.id, 'ops');
    const renewed = await createAdminToken(api.pool, tenant.id, 'ops');
    expect(await status(renewed)).toBe(200);
    expect(await status(old)).toBe(401);
  });

  it('records the last use at most once a minute', async () => {
    const { tenant, token } = await createTenant(api.pool);
    const lastUsed = async () => (await api.pool.query('SELECT last_used_at FROM admin_tokens WHERE tenant_id = $1', [tenant.id])).rows[0].last_used_at as Date;
    expect(await status(token)).toBe(200);
    const recorded = await lastUsed();
    expect(recorded).toBeInstanceOf(Date);
    expect(await status(token)).toBe(200);
    expect(await lastUsed()).toEqual(recorded);

    await api.pool.query("UPDATE admin_tokens SET last_used_at = now() - interval '61 seconds' WHERE tenant_id = $1", [tenant.id]);
    const stale = await lastUsed();
    expect(await status(token)).toBe(200);
    expect((await lastUsed()).getTime()).toBeGreaterThan(stale.getTime());
  });

  it('authenticates without waiting for a transaction that holds the token row', async () => {
    const { tenant, token } = await createTenant(api.pool);
    const holder = await api.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM admin_tokens WHERE tenant_id = $1 FOR UPDATE', [tenant.id]);
      const res = await fetch(`${api.url}/v1/applications`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
      expect(res.status).toBe(200);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });
});
