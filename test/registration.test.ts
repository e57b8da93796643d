import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../db/runtimes.js';
import type { MtlsClient } from '../client/connector.js';
import { asyncApi26, asyncApi30Yaml, odataEdmx, openApi30, openApi30Yaml, openApi31, swagger20 } from './fixtures/specs.js';
import { call, pairedApplication, receiver, startTestApi, type TestApi } from './helpers.js';

let api: TestApi;
let client: MtlsClient;
let adminToken: string;
let tenantId: string;
let specServer: Awaited<ReturnType<typeof receiver>>;
let flaky = 0;

beforeAll(async () => {
  api = await startTestApi({ worker: true, registration: { waitMs: 10_000, fetchTimeoutMs: 500 } });
  ({ client, adminToken, tenant: { id: tenantId } } = await pairedApplication(api));
  specServer = await receiver(async (req) => {
    if (req.url === '/openapi.json') return { status: 200, body: JSON.stringify(openApi30) };
    if (req.url === '/missing') return 404;
    if (req.url === '/flaky') return ++flaky <= 1 ? 503 : { status: 200, body: JSON.stringify(openApi31) };
    if (req.url === '/slow') {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return { status: 200, body: JSON.stringify(openApi30) };
    }
    if (req.url === '/huge') return { status: 200, body: JSON.stringify({ ...openApi30, padding: 'x'.repeat(6 * 1024 * 1024) }) };
    return 500;
  });
});
afterAll(async () => {
  client.close();
  await specServer.close();
  await api.stop();
});

const register = (body: Record<string, unknown>, kind: 'apis' | 'events' = 'apis') =>
  client.request('POST', `/v1/application/${kind}`, kind === 'apis' ? { targetUrl: 'http://orders.example/api', ...body } : body);
let n = 0;
const name = () => `Orders API ${++n}`;

describe('API and Event registration', () => {
  it.each([
    ['OpenAPI 3.0 inline JSON', 'apis', { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(openApi30) }, 'OpenAPI 3.0.3'],
    ['OpenAPI 3.0 inline YAML', 'apis', { type: 'OPENAPI', format: 'YAML', data: openApi30Yaml }, 'OpenAPI 3.0.3'],
    ['OpenAPI 3.1 inline JSON', 'apis', { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(openApi31) }, 'OpenAPI 3.1.0'],
    ['Swagger 2.0', 'apis', { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(swagger20) }, 'OpenAPI 2.0'],
    ['OData EDMX', 'apis', { type: 'ODATA', format: 'XML', data: odataEdmx }, 'OData EDMX 4.0'],
    ['AsyncAPI 2.6', 'events', { type: 'ASYNCAPI', format: 'JSON', data: JSON.stringify(asyncApi26) }, 'AsyncAPI 2.6.0'],
    ['AsyncAPI 3.0', 'events', { type: 'ASYNCAPI', format: 'YAML', data: asyncApi30Yaml }, 'AsyncAPI 3.0.0'],
  ] as const)('registers %s as SUCCEEDED', async (_title, kind, spec, summary) => {
    const res = await register({ name: name(), spec }, kind);
    expect(res.status).toBe(201);
    expect(res.body.spec).toMatchObject({ type: spec.type, format: spec.format, status: 'SUCCEEDED', message: summary });
    const op = await call(`${api.url}/v1/operations/${res.body.operationId}`, { token: adminToken });
    expect(op.body).toMatchObject({ type: 'API_REGISTRATION', state: 'SUCCEEDED', resourceId: res.body.id, workflowId: `api-registration:${res.body.id}` });
  });

  it('fetches a spec from a URL', async () => {
    const res = await register({ name: name(), spec: { type: 'OPENAPI', format: 'JSON', fetchUrl: `${specServer.url}/openapi.json` } });
    expect(res.body.spec).toMatchObject({ status: 'SUCCEEDED', fetchUrl: `${specServer.url}/openapi.json` });
  });

  it('retries a fetch answered 503, then succeeds', async () => {
    const res = await register({ name: name(), spec: { type: 'OPENAPI', format: 'JSON', fetchUrl: `${specServer.url}/flaky` } });
    expect(res.body.spec).toMatchObject({ status: 'SUCCEEDED', message: 'OpenAPI 3.1.0' });
    expect(specServer.requests.filter((r) => r.url === '/flaky')).toHaveLength(2);
  });

  it.each([
    ['broken JSON', { type: 'OPENAPI', format: 'JSON', data: '{"openapi":' }, /not valid JSON/],
    ['broken YAML', { type: 'OPENAPI', format: 'YAML', data: 'openapi: [' }, /not valid YAML/],
    ['OpenAPI missing paths', { type: 'OPENAPI', format: 'JSON', data: JSON.stringify({ openapi: '3.0.3', info: { title: 'x', version: '1' } }) }, /paths/],
    ['OpenAPI missing info', { type: 'OPENAPI', format: 'JSON', data: JSON.stringify({ openapi: '3.0.3', paths: {} }) }, /info/],
    ['OPENAPI given as XML', { type: 'OPENAPI', format: 'XML', data: odataEdmx }, /comes as JSON or YAML, not XML/],
  ] as const)('stores %s as FAILED with a useful message', async (_title, spec, message) => {
    const res = await register({ name: name(), spec });
    expect(res.status).toBe(201);
    expect(res.body.spec.status).toBe('FAILED');
    expect(res.body.spec.message).toMatch(message);
    const op = await call(`${api.url}/v1/operations/${res.body.operationId}`, { token: adminToken });
    expect(op.body.state).toBe('FAILED');
    expect((await client.request('GET', `/v1/application/apis/${res.body.id}`)).body.spec.status).toBe('FAILED');
  });

  it('stores an AsyncAPI document of an unknown version as FAILED', async () => {
    const res = await register({ name: name(), spec: { type: 'ASYNCAPI', format: 'YAML', data: 'asyncapi: 9.9.9\ninfo:\n  title: x\n  version: 1.0.0\n' } }, 'events');
    expect(res.body.spec).toMatchObject({ status: 'FAILED', message: expect.stringMatching(/9\.9\.9/) });
  });

  it('does not retry a fetch answered 404', async () => {
    const res = await register({ name: name(), spec: { type: 'OPENAPI', format: 'JSON', fetchUrl: `${specServer.url}/missing` } });
    expect(res.body.spec).toMatchObject({ status: 'FAILED', message: 'fetchUrl: the server answered HTTP 404' });
    expect(specServer.requests.filter((r) => r.url === '/missing')).toHaveLength(1);
  });

  it('fails a fetch that times out, after retries', async () => {
    const res = await register({ name: name(), spec: { type: 'OPENAPI', format: 'JSON', fetchUrl: `${specServer.url}/slow` } });
    expect(res.body.spec).toMatchObject({ status: 'FAILED', message: expect.stringMatching(/no answer within 500 ms/) });
    expect(specServer.requests.filter((r) => r.url === '/slow').length).toBeGreaterThan(1);
  }, 60_000);

  it('fails a 6 MiB spec for its size', async () => {
    const res = await register({ name: name(), spec: { type: 'OPENAPI', format: 'JSON', fetchUrl: `${specServer.url}/huge` } });
    expect(res.body.spec).toMatchObject({ status: 'FAILED', message: expect.stringMatching(/larger than 5242880 bytes/) });
  });

  it.each([
    ['data and fetchUrl both', { type: 'OPENAPI', format: 'JSON', data: '{}', fetchUrl: 'http://x.example/a' }, 'spec.data'],
    ['neither data nor fetchUrl', { type: 'OPENAPI', format: 'JSON' }, 'spec.data'],
    ['a file:// URL', { type: 'OPENAPI', format: 'JSON', fetchUrl: 'file:///etc/passwd' }, 'spec.fetchUrl'],
    ['the metadata address', { type: 'OPENAPI', format: 'JSON', fetchUrl: 'http://169.254.169.254/latest/meta-data' }, 'spec.fetchUrl'],
    ['an unknown type', { type: 'RAML', format: 'YAML', data: 'x' }, 'spec.type'],
    ['an AsyncAPI type on an API', { type: 'ASYNCAPI', format: 'YAML', data: 'x' }, 'spec.type'],
  ])('refuses a spec with %s (400, nothing stored)', async (_title, spec, path) => {
    const before = (await client.request('GET', '/v1/application/apis')).body.items.length;
    const res = await register({ name: name(), spec });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect((await client.request('GET', '/v1/application/apis')).body.items.length).toBe(before);
  });

  it('allows a definition without a spec', async () => {
    const res = await register({ name: name() });
    expect(res.status).toBe(201);
    expect(res.body.spec).toBeUndefined();
  });

  it('refuses a name used twice by one application, but not by two', async () => {
    const taken = name();
    expect((await register({ name: taken })).status).toBe(201);
    expect((await register({ name: taken })).status).toBe(409);
    expect((await register({ name: taken }, 'events')).status).toBe(201);
    const other = await pairedApplication(api);
    expect((await other.client.request('POST', '/v1/application/apis', { name: taken, targetUrl: 'http://x.example' })).status).toBe(201);
    other.client.close();
  });

  it.each([
    ['no name', { targetUrl: 'http://x.example' }, 'name'],
    ['a name of 101 characters', { name: 'n'.repeat(101), targetUrl: 'http://x.example' }, 'name'],
    ['a name with a control character', { name: 'a\tb', targetUrl: 'http://x.example' }, 'name'],
    ['no targetUrl', { name: 'x' }, 'targetUrl'],
    ['a relative targetUrl', { name: 'x', targetUrl: '/orders' }, 'targetUrl'],
    ['an ftp targetUrl', { name: 'x', targetUrl: 'ftp://x.example' }, 'targetUrl'],
    ['a targetUrl over 2048 characters', { name: 'x', targetUrl: `http://x.example/${'a'.repeat(2048)}` }, 'targetUrl'],
    ['a description over 2000 characters', { name: 'x', targetUrl: 'http://x.example', description: 'd'.repeat(2001) }, 'description'],
    ['an unknown field', { name: 'x', targetUrl: 'http://x.example', owner: 'me' }, 'owner'],
  ])('refuses an API with %s', async (_title, body, path) => {
    const res = await client.request('POST', '/v1/application/apis', body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('reads, replaces and deletes definitions, and keeps other applications out (404)', async () => {
    const created = (await register({ name: name(), spec: { type: 'OPENAPI', format: 'JSON', data: '{' } })).body;
    expect(created.spec.status).toBe('FAILED');
    const fixed = await client.request('PUT', `/v1/application/apis/${created.id}`, {
      name: created.name,
      targetUrl: 'http://orders.example/v2',
      spec: { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(openApi30) },
    });
    expect(fixed.status).toBe(200);
    expect(fixed.body).toMatchObject({ targetUrl: 'http://orders.example/v2', spec: { status: 'SUCCEEDED' } });

    const other = await pairedApplication(api);
    for (const [method, body] of [['GET'], ['PUT', { name: 'x', targetUrl: 'http://x.example' }], ['DELETE']] as const) {
      expect((await other.client.request(method, `/v1/application/apis/${created.id}`, body)).status).toBe(404);
    }
    other.client.close();
    expect((await client.request('DELETE', `/v1/application/apis/${created.id}`)).status).toBe(204);
    expect((await client.request('GET', `/v1/application/apis/${created.id}`)).status).toBe(404);
  });

  it('refuses runtime certificates (403) and callers without a certificate (401)', async () => {
    expect((await call(`${api.url}/v1/application/apis`, { body: { name: 'x', targetUrl: 'http://x.example' } })).status).toBe(401);
    const runtime = await createRuntime(api.pool, tenantId, { name: `rt-${Date.now().toString(36)}` });
    const { issueToken } = await import('../db/tokens.js');
    const { token } = await issueToken(api.pool, { tenantId, objectKind: 'runtime', objectId: runtime.id, purpose: 'runtime' }, 60);
    const { connect, MtlsClient } = await import('../client/connector.js');
    const runtimeClient = new MtlsClient(await connect(`${api.api.urls.public}/connector/v1/signing-request`, token));
    const res = await runtimeClient.request('POST', '/v1/application/apis', { name: 'x', targetUrl: 'http://x.example' });
    runtimeClient.close();
    expect(res.status).toBe(403);
  });

  it('bumps configVersion of runtimes that share a scenario with the application', async () => {
    const runtime = await createRuntime(api.pool, tenantId, { name: `rt-${Date.now().toString(36)}`, scenarios: ['DEFAULT'] });
    const before = Number((await api.pool.query('SELECT config_version FROM runtimes WHERE id = $1', [runtime.id])).rows[0].config_version);
    await register({ name: name(), spec: { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(openApi30) } });
    const after = Number((await api.pool.query('SELECT config_version FROM runtimes WHERE id = $1', [runtime.id])).rows[0].config_version);
    expect(after).toBeGreaterThan(before);
  });

  it('answers 202 with the operation when validation takes longer than the wait', async () => {
    const slowApi = await startTestApi({ worker: true, registration: { waitMs: 0 } });
    const paired = await pairedApplication(slowApi);
    const res = await paired.client.request('POST', '/v1/application/apis', {
      name: 'slow',
      targetUrl: 'http://x.example',
      spec: { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(openApi30) },
    });
    expect(res.status).toBe(202);
    expect(res.body.spec.status).toBe('PENDING');
    await expect
      .poll(async () => (await call(`${slowApi.url}/v1/operations/${res.body.operationId}`, { token: paired.adminToken })).body.state, { timeout: 15_000 })
      .toBe('SUCCEEDED');
    expect((await paired.client.request('GET', `/v1/application/apis/${res.body.id}`)).body.spec.status).toBe('SUCCEEDED');
    paired.client.close();
    await slowApi.stop();
  });
});
