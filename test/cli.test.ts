import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { call, startTestApi, uniqueName, type TestApi } from './helpers.js';

function meridian(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/meridian.ts', ...args], {
    env: { ...process.env, DATABASE_URL: inject('databaseUrl') },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.stop());

describe('meridian CLI', () => {
  it('creates a tenant and a token that works once printed, and revokes it', () => {
    const tenant = uniqueName('cli');
    const created = meridian('tenant', 'create', tenant);
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(new RegExp(`^tenant ${tenant} [0-9a-f-]{36}$`));
    expect(meridian('tenant', 'list').stdout).toContain(tenant);

    const issued = meridian('token', 'create', '--tenant', tenant, '--name', 'ops');
    expect(issued.status).toBe(0);
    expect(issued.stdout).toMatch(/^[\w-]{43}$/);
    return (async () => {
      expect((await call(`${api.url}/v1/applications`, { token: issued.stdout })).status).toBe(200);
      expect(meridian('token', 'revoke', '--tenant', tenant, '--name', 'ops').status).toBe(0);
      expect((await call(`${api.url}/v1/applications`, { token: issued.stdout })).status).toBe(401);
    })();
  });

  it('exits 2 with usage for wrong arguments and 1 for an unknown tenant', () => {
    expect(meridian().status).toBe(2);
    expect(meridian('tenant', 'create').stderr).toContain('usage:');
    expect(meridian('token', 'create').status).toBe(2);
    expect(meridian('tenant', 'create', 'Bad Name').status).toBe(1);
    const missing = meridian('token', 'create', '--tenant', uniqueName('nobody'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no tenant named/);
  });
});
