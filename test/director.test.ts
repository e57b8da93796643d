import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../db/runtimes.js';
import { call, createTenant, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.stop());

/** A tenant with helpers bound to its admin token. */
async function tenantClient() {
  const { tenant, token } = await createTenant(api.pool);
  const req = (method: string, path: string, body?: unknown) => call(`${api.url}${path}`, { method, token, body });
  return {
    tenant,
    token,
    req,
    createApp: async (fields: Record<string, unknown> = {}) => {
      const res = await req('POST', '/v1/applications', { name: uniqueName('app'), ...fields });
      expect(res.status).toBe(201);
      return res.body;
    },
    createScenario: async (name = uniqueName('S')) => {
      expect((await req('POST', '/v1/scenarios', { name })).status).toBe(201);
      return name;
    },
    runtime: (fields: { scenarios?: string[]; labels?: Record<string, unknown> } = {}) =>
      createRuntime(api.pool, tenant.id, { name: uniqueName('rt'), ...fields }),
  };
}

describe('admin authentication', () => {
  it('rejects missing, malformed, unknown and revoked tokens with 401 problem+json', async () => {
    const { tenant, token } = await createTenant(api.pool);
    await api.pool.query("UPDATE admin_tokens SET revoked_at = now() WHERE tenant_id = $1", [tenant.id]);
    for (const authorization of [undefined, 'Basic abc', 'Bearer short', `Bearer ${'x'.repeat(43)}`, `Bearer ${token}`]) {
      const res = await call(`${api.url}/v1/applications`, { headers: authorization ? { authorization } : {} });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    }
  });

  it('records when a token was last used', async () => {
    const t = await tenantClient();
    await t.req('GET', '/v1/applications');
    const { rows } = await api.pool.query('SELECT last_used_at FROM admin_tokens WHERE tenant_id = $1', [t.tenant.id]);
    expect(rows[0].last_used_at).toBeInstanceOf(Date);
  });
});

describe('applications', () => {
  it('creates an application in DEFAULT when no scenario is given, and reads it back', async () => {
    const t = await tenantClient();
    const created = await t.createApp({ description: 'orders', providerName: 'ACME', labels: { env: 'prod', tier: 1 } });
    expect(created).toMatchObject({
      tenantId: t.tenant.id,
      description: 'orders',
      providerName: 'ACME',
      labels: { env: 'prod', tier: 1 },
      scenarios: ['DEFAULT'],
      status: { condition: 'INITIAL' },
    });
    const got = await t.req('GET', `/v1/applications/${created.id}`);
    expect(got.body).toEqual(created);
  });

  it('keeps names unique within a tenant, sequentially and under 10 concurrent creates', async () => {
    const t = await tenantClient();
    const name = uniqueName('dup');
    expect((await t.req('POST', '/v1/applications', { name })).status).toBe(201);
    const again = await t.req('POST', '/v1/applications', { name });
    expect(again.status).toBe(409);
    expect(again.body.detail).toContain(name);

    const raced = uniqueName('race');
    const results = await Promise.all(Array.from({ length: 10 }, () => t.req('POST', '/v1/applications', { name: raced })));
    expect(results.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(409)]);
    const { rowCount } = await api.pool.query('SELECT 1 FROM applications WHERE tenant_id = $1 AND name = $2', [t.tenant.id, raced]);
    expect(rowCount).toBe(1);
  });

  it('allows the same name in two tenants', async () => {
    const [a, b] = await Promise.all([tenantClient(), tenantClient()]);
    const name = uniqueName('shared');
    expect((await a.req('POST', '/v1/applications', { name })).status).toBe(201);
    expect((await b.req('POST', '/v1/applications', { name })).status).toBe(201);
  });

  it('patches description, providerName and labels', async () => {
    const t = await tenantClient();
    const app = await t.createApp({ labels: { a: 1 } });
    const res = await t.req('PATCH', `/v1/applications/${app.id}`, { description: 'new', providerName: null, labels: { b: [1, 2] } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ description: 'new', providerName: null, labels: { b: [1, 2] }, name: app.name });
  });

  it('deletes an application with its labels and memberships and returns the operation', async () => {
    const t = await tenantClient();
    const app = await t.createApp({ labels: { x: 'y' } });
    const res = await t.req('DELETE', `/v1/applications/${app.id}`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ type: 'UNREGISTRATION', state: 'SUCCEEDED', resourceId: app.id });
    expect((await t.req('GET', `/v1/applications/${app.id}`)).status).toBe(404);
    expect((await t.req('GET', `/v1/operations/${res.body.id}`)).body).toEqual(res.body);
    const left = await api.pool.query(
      'SELECT (SELECT count(*) FROM application_labels WHERE application_id = $1) + (SELECT count(*) FROM application_scenarios WHERE application_id = $1) AS n',
      [app.id],
    );
    expect(Number(left.rows[0].n)).toBe(0);
    expect((await t.req('DELETE', `/v1/applications/${app.id}`)).status).toBe(404);
  });

  it('keeps at most 64 labels: more in a body is a 400, a 65th key set alone a 409', async () => {
    const t = await tenantClient();
    const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i]));
    expect((await t.req('POST', '/v1/applications', { name: uniqueName('app'), labels: { ...labels, k64: 1 } })).status).toBe(400);
    const app = await t.createApp({ labels });
    expect((await t.req('PUT', `/v1/applications/${app.id}/labels/k0`, 'changed')).status).toBe(200);
    const full = await t.req('PUT', `/v1/applications/${app.id}/labels/k64`, 1);
    expect(full.status).toBe(409);
    expect(full.body.detail).toMatch(/64 labels/);
    expect((await t.req('PUT', `/v1/applications/${app.id}/labels/long`, 'x'.repeat(1025))).status).toBe(400);
  });

  it('sets and removes single labels, storing SQL metacharacters and unicode verbatim', async () => {
    const t = await tenantClient();
    const app = await t.createApp();
    const value = { q: "'; DROP TABLE applications; --", u: 'Zürich 東京 🚀', n: null };
    const set = await t.req('PUT', `/v1/applications/${app.id}/labels/weird_1`, value);
    expect(set.status).toBe(200);
    expect(set.body.labels.weird_1).toEqual(value);
    expect((await t.req('DELETE', `/v1/applications/${app.id}/labels/weird_1`)).status).toBe(204);
    expect((await t.req('DELETE', `/v1/applications/${app.id}/labels/weird_1`)).status).toBe(404);
  });
});

describe('scenarios', () => {
  it('puts a runtime created without scenarios in none', async () => {
    const t = await tenantClient();
    const rt = await t.runtime();
    const res = await t.req('GET', `/v1/runtimes/${rt.id}`);
    expect(res.body).toMatchObject({ scenarios: [], provider: 'local', status: { condition: 'INITIAL' } });
  });

  it('enforces the scenario rules', async () => {
    const t = await tenantClient();
    const s = await t.createScenario();
    const app = await t.createApp({ scenarios: [s] });
    const rt = await t.runtime({ scenarios: [s] });

    const unknown = await t.req('PUT', `/v1/applications/${app.id}/scenarios`, [s, 'Nope1', 'Nope2']);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0]).toEqual({ path: 'scenarios', message: 'unknown: Nope1, Nope2' });
    expect((await t.req('POST', '/v1/applications', { name: uniqueName(), scenarios: ['Nope'] })).status).toBe(400);

    const empty = await t.req('PUT', `/v1/applications/${app.id}/scenarios`, []);
    expect(empty.status).toBe(400);
    // The schema says it (minItems: 1): the body is the list, so the error names the body.
    expect(empty.body.errors[0]).toEqual({ path: 'body', message: 'must not be empty' });

    expect((await t.req('DELETE', '/v1/scenarios/DEFAULT')).status).toBe(409);
    const used = await t.req('DELETE', `/v1/scenarios/${encodeURIComponent(s)}`);
    expect(used.status).toBe(409);
    expect(used.body.detail).toContain(`application ${app.name}`);
    expect(used.body.detail).toContain(`runtime ${rt.name}`);

    expect((await t.req('PUT', `/v1/applications/${app.id}/scenarios`, ['DEFAULT'])).body.scenarios).toEqual(['DEFAULT']);
    expect((await t.req('PUT', `/v1/runtimes/${rt.id}/scenarios`, [])).body.scenarios).toEqual([]);
    expect((await t.req('DELETE', `/v1/scenarios/${encodeURIComponent(s)}`)).status).toBe(204);
    expect((await t.req('DELETE', `/v1/scenarios/${encodeURIComponent(s)}`)).status).toBe(404);
  });

  it('lists scenarios by name with DEFAULT always present, and refuses duplicates', async () => {
    const t = await tenantClient();
    await t.createScenario('B scenario');
    await t.createScenario('A-scenario');
    expect((await t.req('POST', '/v1/scenarios', { name: 'A-scenario' })).status).toBe(409);
    const first = await t.req('GET', '/v1/scenarios?limit=2');
    expect(first.body.items.map((s: { name: string }) => s.name)).toEqual(['A-scenario', 'B scenario']);
    const rest = await t.req('GET', `/v1/scenarios?limit=2&cursor=${first.body.nextCursor}`);
    expect(rest.body).toMatchObject({ items: [{ name: 'DEFAULT' }], nextCursor: null });
  });
});

describe('configVersion', () => {
  it('changes for a runtime when an application joins or leaves one of its scenarios, and not for unrelated edits', async () => {
    const t = await tenantClient();
    const [s, other] = [await t.createScenario(), await t.createScenario()];
    const rt = await t.runtime({ scenarios: [s] });
    const version = async () => (await t.req('GET', `/v1/runtimes/${rt.id}`)).body.configVersion as number;

    const v0 = await version();
    const app = await t.createApp({ scenarios: [other] });
    expect(await version()).toBe(v0);

    await t.req('PUT', `/v1/applications/${app.id}/scenarios`, [other, s]);
    const v1 = await version();
    expect(v1).toBeGreaterThan(v0);

    await t.req('PUT', `/v1/applications/${app.id}/labels/env`, 'dev');
    await t.req('PUT', `/v1/runtimes/${rt.id}/labels/env`, 'dev');
    await t.req('PATCH', `/v1/applications/${app.id}`, { labels: { team: 'x' } });
    const outsider = await t.createApp({ scenarios: [other] });
    await t.req('PATCH', `/v1/applications/${outsider.id}`, { description: 'not seen by this runtime' });
    expect(await version()).toBe(v1);

    await t.req('PATCH', `/v1/applications/${app.id}`, { description: 'seen by the runtime' });
    const v2 = await version();
    expect(v2).toBeGreaterThan(v1);

    await t.req('PUT', `/v1/applications/${app.id}/scenarios`, [other]);
    const v3 = await version();
    expect(v3).toBeGreaterThan(v2);

    const joined = await t.createApp({ scenarios: [s] });
    const v4 = await version();
    expect(v4).toBeGreaterThan(v3);
    await t.req('DELETE', `/v1/applications/${joined.id}`);
    expect(await version()).toBeGreaterThan(v4);
  });
});

describe('pagination and filters', () => {
  it('walks a 250-item list with no duplicates or gaps', async () => {
    const t = await tenantClient();
    const values = Array.from({ length: 250 }, (_, i) => `('${t.tenant.id}', 'p${String(i).padStart(3, '0')}')`);
    await api.pool.query(`WITH a AS (INSERT INTO applications (tenant_id, name) VALUES ${values.join(',')} RETURNING tenant_id, id)
      INSERT INTO application_scenarios (tenant_id, application_id, scenario) SELECT tenant_id, id, 'DEFAULT' FROM a`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Awaited<ReturnType<typeof call>> = await t.req('GET', `/v1/applications?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((a: { name: string }) => a.name));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    const defaultPage = await t.req('GET', '/v1/applications');
    expect(defaultPage.body.items).toHaveLength(50);
  });

  it('combines scenario and label filters', async () => {
    const t = await tenantClient();
    const s = await t.createScenario();
    const match = await t.createApp({ scenarios: [s], labels: { env: 'prod', tier: 1 } });
    await t.createApp({ scenarios: [s], labels: { env: 'dev', tier: 1 } });
    await t.createApp({ labels: { env: 'prod', tier: 1 } });
    const names = async (query: string) => (await t.req('GET', `/v1/applications?${query}`)).body.items.map((a: { name: string }) => a.name);
    expect(await names(`scenario=${encodeURIComponent(s)}&label=env=prod`)).toEqual([match.name]);
    expect(await names(`scenario=${encodeURIComponent(s)}&label=env=prod&label=tier=1`)).toEqual([match.name]);
    expect(await names(`scenario=${encodeURIComponent(s)}&label=tier=2`)).toEqual([]);
    expect(await names(`label=env=prod`)).toHaveLength(2);
    expect(await names(`scenario=${encodeURIComponent(s)}&label=tier`)).toHaveLength(2);

    const rt = await t.runtime({ scenarios: [s], labels: { zone: 'eu' } });
    expect((await t.req('GET', `/v1/runtimes?label=zone=eu`)).body.items.map((r: { id: string }) => r.id)).toEqual([rt.id]);
  });
});

describe('tenant isolation', () => {
  it('answers 404 to every endpoint called with another tenant’s token, and lists never leak', async () => {
    const a = await tenantClient();
    const b = await tenantClient();
    const s = await a.createScenario();
    const app = await a.createApp({ scenarios: [s] });
    const rt = await a.runtime({ scenarios: [s] });
    const op = (await a.req('DELETE', `/v1/applications/${(await a.createApp()).id}`)).body;

    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/v1/applications/${app.id}`],
      ['PATCH', `/v1/applications/${app.id}`, { description: 'hijack' }],
      ['DELETE', `/v1/applications/${app.id}`],
      ['PUT', `/v1/applications/${app.id}/scenarios`, ['DEFAULT']],
      ['PUT', `/v1/applications/${app.id}/labels/x`, 1],
      ['DELETE', `/v1/applications/${app.id}/labels/x`],
      ['GET', `/v1/runtimes/${rt.id}`],
      ['PUT', `/v1/runtimes/${rt.id}/scenarios`, []],
      ['PUT', `/v1/runtimes/${rt.id}/labels/x`, 1],
      ['DELETE', `/v1/runtimes/${rt.id}/labels/x`],
      ['GET', `/v1/operations/${op.id}`],
      ['DELETE', `/v1/scenarios/${encodeURIComponent(s)}`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await b.req(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    // B cannot put its own application into A's scenario either.
    const own = await b.createApp();
    expect((await b.req('PUT', `/v1/applications/${own.id}/scenarios`, [s])).status).toBe(400);

    expect((await b.req('GET', '/v1/applications')).body.items.map((x: { id: string }) => x.id)).toEqual([own.id]);
    expect((await b.req('GET', '/v1/runtimes')).body.items).toEqual([]);
    expect((await b.req('GET', '/v1/scenarios')).body.items.map((x: { name: string }) => x.name)).toEqual(['DEFAULT']);
    expect((await a.req('GET', `/v1/applications/${app.id}`)).body).toMatchObject({ description: '', scenarios: [s] });
  });
});
