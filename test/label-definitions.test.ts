// Label definitions: a JSON Schema (2020-12) per label key and tenant, checked on every label write of
// applications and runtimes; a schema that existing labels break is refused. Real API and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTenant, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.stop();
});

/** A tenant of its own, with helpers bound to its token. */
async function tenant() {
  const { token } = await createTenant(api.pool);
  const req = (method: string, path: string, body?: unknown) => call(`${api.url}${path}`, { method, token, body });
  return { token, req };
}

const ENV = { type: 'string', enum: ['dev', 'staging', 'prod'] };

describe('label definitions', () => {
  it('stores a schema per key, lists it, and removes it', async () => {
    const { req } = await tenant();
    const put = await req('PUT', '/v1/label-definitions/env', { schema: ENV });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ key: 'env', schema: ENV, createdAt: expect.any(String) });
    expect((await req('GET', '/v1/label-definitions/env')).body.schema).toEqual(ENV);
    expect((await req('GET', '/v1/label-definitions')).body.items.map((d: { key: string }) => d.key)).toEqual(['env']);
    expect((await req('DELETE', '/v1/label-definitions/env')).status).toBe(204);
    expect((await req('GET', '/v1/label-definitions/env')).status).toBe(404);
    expect((await req('DELETE', '/v1/label-definitions/env')).status).toBe(404);
  });

  it('refuses a label that breaks its definition on every write, naming the path, and changes nothing', async () => {
    const { req } = await tenant();
    await req('PUT', '/v1/label-definitions/env', { schema: ENV });
    await req('PUT', '/v1/label-definitions/owner', { schema: { type: 'object', properties: { team: { type: 'string' }, size: { type: 'integer', minimum: 1 } }, required: ['team'] } });

    const app = (await req('POST', '/v1/applications', { name: uniqueName('app'), labels: { env: 'prod', owner: { team: 'a', size: 3 }, free: 'anything' } })).body;
    expect(app.labels).toEqual({ env: 'prod', owner: { team: 'a', size: 3 }, free: 'anything' });

    const refusals = [
      await req('POST', '/v1/applications', { name: uniqueName('app'), labels: { env: 'qa' } }),
      await req('POST', '/v1/runtimes', { name: uniqueName('rt'), provider: 'simulated', labels: { env: 'qa' } }),
      await req('PATCH', `/v1/applications/${app.id}`, { labels: { env: 'qa' } }),
      await req('PUT', `/v1/applications/${app.id}/labels/env`, 'qa'),
    ];
    for (const refused of refusals) {
      expect(refused.status).toBe(400);
      expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
      expect(refused.body.errors).toEqual([{ path: 'labels.env', message: 'must be equal to one of the allowed values' }]);
    }
    const nested = await req('PUT', `/v1/applications/${app.id}/labels/owner`, { team: 'a', size: 0 });
    expect([nested.status, nested.body.errors]).toEqual([400, [{ path: 'labels.owner/size', message: 'must be >= 1' }]]);

    expect((await req('GET', `/v1/applications/${app.id}`)).body.labels).toEqual(app.labels);
    expect((await req('GET', '/v1/applications')).body.items).toHaveLength(1);
    expect((await req('GET', '/v1/runtimes')).body.items).toHaveLength(0);
    expect((await req('PUT', `/v1/applications/${app.id}/labels/env`, 'dev')).body.labels.env).toBe('dev');
  });

  it('refuses a schema that existing labels break with 409 naming a few, and keeps the old one', async () => {
    const { req } = await tenant();
    const names = [uniqueName('a'), uniqueName('b')];
    for (const name of names) await req('POST', '/v1/applications', { name, labels: { tier: name === names[0] ? 1 : 7 } });
    await req('PUT', '/v1/label-definitions/tier', { schema: { type: 'integer' } });
    const narrowed = await req('PUT', '/v1/label-definitions/tier', { schema: { type: 'integer', maximum: 5 } });
    expect(narrowed.status).toBe(409);
    expect(narrowed.body.detail).toMatch(/^1 existing label\(s\) tier break this schema/);
    expect(narrowed.body.errors).toEqual([{ path: expect.stringContaining(`(${names[1]}): labels.tier`), message: 'must be <= 5' }]);
    expect((await req('GET', '/v1/label-definitions/tier')).body.schema).toEqual({ type: 'integer' });
  });

  it('refuses what is not a JSON Schema 2020-12, a remote $ref, the built-in scenarios key and malformed requests', async () => {
    const { req } = await tenant();
    const cases: Array<[string, unknown, string]> = [
      ['/v1/label-definitions/env', { schema: { type: 'nonsense' } }, 'schema'],
      ['/v1/label-definitions/env', { schema: { unknownKeyword: 1 } }, 'schema'],
      ['/v1/label-definitions/env', { schema: { $ref: 'https://example.com/schema.json' } }, 'schema'],
      // Self-reference: a chain of anyOf over $refs doubles the work per level, a cycle never ends.
      ['/v1/label-definitions/env', { schema: { $ref: '#/$defs/x', $defs: { x: { anyOf: [{ $ref: '#/$defs/x' }] } } } }, 'schema'],
      ['/v1/label-definitions/env', { schema: { anyOf: [{ $defs: { y: {} } }] } }, 'schema'],
      ['/v1/label-definitions/env', { schema: { enum: Array.from({ length: 2000 }, (_, i) => `value-${i}`) } }, 'schema'],
      ['/v1/label-definitions/env', { schema: 'a string' }, 'schema'],
      ['/v1/label-definitions/env', {}, 'schema'],
      ['/v1/label-definitions/env', { schema: {}, extra: 1 }, 'extra'],
      ['/v1/label-definitions/scenarios', { schema: {} }, 'key'],
      ['/v1/label-definitions/bad-key', { schema: {} }, 'key'],
    ];
    for (const [path, body, field] of cases) {
      const res = await req('PUT', path, body);
      expect([path, JSON.stringify(body), res.status]).toEqual([path, JSON.stringify(body), 400]);
      expect(JSON.stringify(res.body.errors)).toContain(field);
    }
    expect((await req('GET', '/v1/label-definitions')).body.items).toEqual([]);
    expect((await call(`${api.url}/v1/label-definitions`)).status).toBe(401);
  });

  it('runs patterns in linear time: a backtracking pattern judges at once, lookaround and backreferences are refused', async () => {
    const { req } = await tenant();
    expect((await req('PUT', '/v1/label-definitions/code', { schema: { type: 'string', pattern: '^(a+)+$' } })).status).toBe(200);
    const started = Date.now();
    const refused = await req('POST', '/v1/applications', { name: uniqueName('app'), labels: { code: `${'a'.repeat(1000)}!` } });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ path: 'labels.code', message: 'must match pattern "^(a+)+$"' }]);
    // A backtracking engine takes longer than the universe has on this input; the bound only catches that.
    expect(Date.now() - started).toBeLessThan(10_000);
    for (const pattern of ['^(?=a)a$', '^(a)\\1$']) {
      const res = await req('PUT', '/v1/label-definitions/code', { schema: { type: 'string', pattern } });
      expect([pattern, res.status]).toEqual([pattern, 400]);
      expect(res.body.detail).toContain('cannot be executed in linear time');
    }
    expect((await req('GET', '/v1/label-definitions/code')).body.schema.pattern).toBe('^(a+)+$');
  });

  it('serializes a label write with a change of its definition: the write waits, then is judged by the new one', async () => {
    const { req } = await tenant();
    const app = (await req('POST', '/v1/applications', { name: uniqueName('app') })).body;
    const client = await api.pool.connect();
    try {
      // What PUT /v1/label-definitions/tier holds between judging the labels in place and committing.
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('label:' || $1 || ':tier', 0))`, [app.tenantId]);
      let answered = false;
      const write = req('PUT', `/v1/applications/${app.id}/labels/tier`, 9).then((res) => ((answered = true), res));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(answered).toBe(false);
      await client.query(`INSERT INTO label_definitions (tenant_id, key, schema) VALUES ($1, 'tier', '{"maximum": 5}')`, [app.tenantId]);
      await client.query('COMMIT');
      const res = await write;
      expect([res.status, res.body.errors]).toEqual([400, [{ path: 'labels.tier', message: 'must be <= 5' }]]);
    } finally {
      client.release();
    }
  });

  it('is the tenant’s own: another tenant neither sees it nor is checked by it, and its labels do not block it', async () => {
    const a = await tenant();
    const b = await tenant();
    await b.req('POST', '/v1/applications', { name: uniqueName('b'), labels: { env: 'qa' } });
    expect((await a.req('PUT', '/v1/label-definitions/env', { schema: ENV })).status).toBe(200);
    expect((await b.req('GET', '/v1/label-definitions/env')).status).toBe(404);
    expect((await b.req('DELETE', '/v1/label-definitions/env')).status).toBe(404);
    expect((await b.req('POST', '/v1/applications', { name: uniqueName('b'), labels: { env: 'qa' } })).status).toBe(201);
    expect((await a.req('GET', '/v1/label-definitions/env')).status).toBe(200);
  });
});
