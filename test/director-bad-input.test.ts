import { validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../db/runtimes.js';
import { call, createTenant, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
let token: string;
let tenantId: string;
let appId: string;
let runtimeId: string;

beforeAll(async () => {
  api = await startTestApi();
  const t = await createTenant(api.pool);
  token = t.token;
  tenantId = t.tenant.id;
  const app = await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('app'), labels: { keep: 'me' } } });
  appId = app.body.id;
  runtimeId = (await createRuntime(api.pool, tenantId, { name: uniqueName('rt') })).id;
});
afterAll(() => api.stop());

/** Everything of the tenant, to prove a refused request changed nothing. */
async function snapshot(): Promise<unknown> {
  const { rows } = await api.pool.query(
    `SELECT
       (SELECT jsonb_agg(to_jsonb(a) - 'updated_at' ORDER BY a.id) FROM applications a WHERE a.tenant_id = $1) AS applications,
       (SELECT jsonb_agg(to_jsonb(r) ORDER BY r.id) FROM runtimes r WHERE r.tenant_id = $1) AS runtimes,
       (SELECT jsonb_agg(s.name ORDER BY s.name) FROM scenarios s WHERE s.tenant_id = $1) AS scenarios,
       (SELECT jsonb_agg(l ORDER BY l.key) FROM application_labels l JOIN applications a ON a.id = l.application_id WHERE a.tenant_id = $1) AS labels,
       (SELECT jsonb_agg(m ORDER BY m.scenario) FROM application_scenarios m WHERE m.tenant_id = $1) AS memberships,
       (SELECT count(*) FROM operations o WHERE o.tenant_id = $1) AS operations`,
    [tenantId],
  );
  return rows[0];
}

const long = (n: number) => 'a'.repeat(n);

type Case = [title: string, method: string, path: () => string, init: { body?: unknown; rawBody?: string; contentType?: string }, status: number, errorPath?: string];

const cases: Case[] = [
  ['empty body object', 'POST', () => '/v1/applications', { body: {} }, 400, 'name'],
  ['empty name', 'POST', () => '/v1/applications', { body: { name: '' } }, 400, 'name'],
  ['name too long', 'POST', () => '/v1/applications', { body: { name: long(37) } }, 400, 'name'],
  ['name with uppercase', 'POST', () => '/v1/applications', { body: { name: 'Orders' } }, 400, 'name'],
  ['name starting with a digit', 'POST', () => '/v1/applications', { body: { name: '1orders' } }, 400, 'name'],
  ['name ending with a hyphen', 'POST', () => '/v1/applications', { body: { name: 'orders-' } }, 400, 'name'],
  ['name with SQL metacharacters', 'POST', () => '/v1/applications', { body: { name: "x'; drop table tenants;--" } }, 400, 'name'],
  ['name with unicode', 'POST', () => '/v1/applications', { body: { name: 'zürich' } }, 400, 'name'],
  ['name of the wrong type', 'POST', () => '/v1/applications', { body: { name: 42 } }, 400, 'name'],
  ['description too long', 'POST', () => '/v1/applications', { body: { name: 'ok', description: long(2001) } }, 400, 'description'],
  ['description of the wrong type', 'POST', () => '/v1/applications', { body: { name: 'ok', description: ['x'] } }, 400, 'description'],
  ['unknown field', 'POST', () => '/v1/applications', { body: { name: 'ok', color: 'red' } }, 400, 'color'],
  ['invalid label key', 'POST', () => '/v1/applications', { body: { name: 'ok', labels: { 'bad-key': 1 } } }, 400, 'labels.bad-key'],
  ['label key too long', 'POST', () => '/v1/applications', { body: { name: 'ok', labels: { [long(257)]: 1 } } }, 400, `labels.${long(257)}`],
  ['unicode label key', 'POST', () => '/v1/applications', { body: { name: 'ok', labels: { 'clé': 1 } } }, 400, 'labels.clé'],
  ['labels not an object', 'POST', () => '/v1/applications', { body: { name: 'ok', labels: ['a'] } }, 400, 'labels'],
  ['scenarios not an array', 'POST', () => '/v1/applications', { body: { name: 'ok', scenarios: 'DEFAULT' } }, 400, 'scenarios'],
  ['invalid scenario name', 'POST', () => '/v1/applications', { body: { name: 'ok', scenarios: ['-bad'] } }, 400, 'scenarios.0'],
  ['unknown scenario', 'POST', () => '/v1/applications', { body: { name: 'ok', scenarios: ['Missing'] } }, 400, 'scenarios'],
  ['NUL in a description', 'POST', () => '/v1/applications', { body: { name: 'ok', description: 'a\u0000b' } }, 400, 'description'],
  ['NUL in a label value', 'PUT', () => `/v1/applications/${appId}/labels/k`, { body: { v: 'a\u0000' } }, 400, 'v'],
  ['body is an array', 'POST', () => '/v1/applications', { body: ['name'] }, 400],
  ['body is null', 'POST', () => '/v1/applications', { rawBody: 'null' }, 400],
  ['malformed JSON', 'POST', () => '/v1/applications', { rawBody: '{"name": "ok",' }, 400],
  ['wrong content type', 'POST', () => '/v1/applications', { rawBody: 'name=ok', contentType: 'application/x-www-form-urlencoded' }, 415],
  ['text/plain JSON', 'POST', () => '/v1/applications', { rawBody: '{"name":"ok"}', contentType: 'text/plain' }, 415],
  ['body over 1 MiB', 'POST', () => '/v1/applications', { body: { name: 'ok', description: long(1024 * 1024) } }, 413],
  ['patch with unknown field', 'PATCH', () => `/v1/applications/${appId}`, { body: { name: 'rename' } }, 400, 'name'],
  ['patch with bad labels', 'PATCH', () => `/v1/applications/${appId}`, { body: { labels: { 'a b': 1 } } }, 400, 'labels.a b'],
  ['patch with long providerName', 'PATCH', () => `/v1/applications/${appId}`, { body: { providerName: long(257) } }, 400, 'providerName'],
  ['id that is not a UUID', 'GET', () => '/v1/applications/not-a-uuid', {}, 400, 'path.id'],
  ['unknown id', 'GET', () => '/v1/applications/00000000-0000-4000-8000-000000000000', {}, 404],
  ['unknown runtime', 'GET', () => '/v1/runtimes/00000000-0000-4000-8000-000000000000', {}, 404],
  ['limit 0', 'GET', () => '/v1/applications?limit=0', {}, 400, 'query.limit'],
  ['limit 101', 'GET', () => '/v1/applications?limit=101', {}, 400, 'query.limit'],
  ['limit not a number', 'GET', () => '/v1/applications?limit=ten', {}, 400, 'query.limit'],
  ['forged cursor', 'GET', () => '/v1/applications?cursor=bm9wZQ', {}, 400, 'query.cursor'],
  ['unknown query parameter', 'GET', () => '/v1/applications?sort=name', {}, 400, 'query.sort'],
  ['bad label filter', 'GET', () => '/v1/applications?label=a%20b=1', {}, 400, 'query.label'],
  ['scenarios body not an array', 'PUT', () => `/v1/applications/${appId}/scenarios`, { body: { names: ['DEFAULT'] } }, 400],
  ['empty scenarios for an application', 'PUT', () => `/v1/applications/${appId}/scenarios`, { body: [] }, 400, 'body'],
  ['unknown scenarios for a runtime', 'PUT', () => `/v1/runtimes/${runtimeId}/scenarios`, { body: ['Ghost'] }, 400, 'scenarios'],
  ['invalid label key in the path', 'PUT', () => `/v1/runtimes/${runtimeId}/labels/bad-key`, { body: 1 }, 400, 'path.key'],
  ['label without a body', 'PUT', () => `/v1/runtimes/${runtimeId}/labels/k`, {}, 400],
  ['scenario name too long', 'POST', () => '/v1/scenarios', { body: { name: long(129) } }, 400, 'name'],
  ['scenario name with a leading space', 'POST', () => '/v1/scenarios', { body: { name: ' S' } }, 400, 'name'],
  ['duplicate DEFAULT scenario', 'POST', () => '/v1/scenarios', { body: { name: 'DEFAULT' } }, 409],
  ['delete DEFAULT', 'DELETE', () => '/v1/scenarios/DEFAULT', {}, 409],
  ['delete an invalid scenario name', 'DELETE', () => '/v1/scenarios/%27%3B--', {}, 400, 'path.name'],
  ['operation id not a UUID', 'GET', () => '/v1/operations/1', {}, 400, 'path.id'],
];

describe('bad input is refused with problem+json and changes nothing', () => {
  it.each(cases)('%s → %s %s', async (_title, method, path, init, status, errorPath) => {
    const before = await snapshot();
    const res = await call(`${api.url}${path()}`, { method, token, ...init });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
    if (errorPath) expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(errorPath);
    for (const error of res.body.errors ?? []) expect(error.message).toMatch(/\w/);
    expect(await snapshot()).toEqual(before);
  });

  it('names the field and the rule in messages', async () => {
    const res = await call(`${api.url}/v1/applications`, { token, body: { name: '9lives' } });
    expect(res.body.errors).toContainEqual({ path: 'name', message: 'must start with a lowercase letter' });
  });
});

describe('OpenAPI document', () => {
  it('validates as OpenAPI 3.1 and lists every administrator endpoint', async () => {
    const res = await call(`${api.url}/openapi.json`);
    const result = await validate(structuredClone(res.body));
    expect(result.valid ? [] : result.errors).toEqual([]);
    const operations = Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /v1/applications',
        'GET /v1/applications',
        'GET /v1/applications/{id}',
        'PATCH /v1/applications/{id}',
        'DELETE /v1/applications/{id}',
        'PUT /v1/applications/{id}/scenarios',
        'PUT /v1/applications/{id}/labels/{key}',
        'DELETE /v1/applications/{id}/labels/{key}',
        'GET /v1/runtimes',
        'GET /v1/runtimes/{id}',
        'PUT /v1/runtimes/{id}/scenarios',
        'PUT /v1/runtimes/{id}/labels/{key}',
        'DELETE /v1/runtimes/{id}/labels/{key}',
        'POST /v1/scenarios',
        'GET /v1/scenarios',
        'DELETE /v1/scenarios/{name}',
        'GET /v1/operations/{id}',
      ]),
    );
    expect(res.body.paths['/v1/applications'].post.security).toEqual([{ adminToken: [] }]);
    expect(res.body.paths['/v1/applications'].post.requestBody.content['application/json'].schema.properties.name.maxLength).toBe(36);
  });
});
