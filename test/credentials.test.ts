import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MtlsClient, loadCredentials } from '../client/connector.js';
import { call, configurationOfRuntime, connectedRuntimeOf, createTenant, historyText, pairedApplication, receiver, startTestApi, uniqueName, workerLog, type TestApi } from './helpers.js';

let api: TestApi;
let hooks: Awaited<ReturnType<typeof receiver>>;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
  hooks = await receiver();
});
afterAll(async () => {
  await hooks.close();
  await api.stop();
});

type Paired = Awaited<ReturnType<typeof pairedApplication>>;


const connectedRuntime = (token: string, fields: Record<string, unknown>) => connectedRuntimeOf(api, token, fields);
const configurationOf = (runtimeId: string) => configurationOfRuntime(api, runtimeId);

/** API name → the credentials a runtime's configuration carries for it. */
const apisOfConfig = (config: Awaited<ReturnType<typeof configurationOf>>) => Object.fromEntries(config.applications.flatMap((app) => app.apis.map((x) => [x.name, x.credentials])));

const deliveriesTo = (pathname: string, type: string, runtimeId: string) =>
  hooks.requests.filter((r) => r.url === pathname).map((r) => JSON.parse(r.body)).filter((b) => b.type === type && b.runtime.id === runtimeId);

async function newScenario(token: string) {
  const name = uniqueName('S');
  expect((await call(`${api.url}/v1/scenarios`, { token, body: { name } })).status).toBe(201);
  return name;
}

async function registerApi(app: Paired, fields: Record<string, unknown>) {
  const res = await app.client.request('POST', '/v1/application/apis', { name: uniqueName('api'), targetUrl: 'http://127.0.0.1:9/api', ...fields });
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string; hasDefaultCredentials: boolean };
}

describe('credential slots, isolation and bad input (simulated runtimes)', () => {
  let a: Paired;
  let b: Paired;
  let c: Paired;
  let scenario: string;
  let r1: { id: string };
  let r2: { id: string };
  let r3: { id: string };
  let r4: { id: string };
  let aApi: { id: string; name: string };
  let bApi: { id: string; name: string };

  beforeAll(async () => {
    a = await pairedApplication(api);
    b = await pairedApplication(api, {}, { tenant: a.tenant, token: a.adminToken });
    c = await pairedApplication(api);
    const token = a.adminToken;
    scenario = await newScenario(token);
    const other = await newScenario(token);
    for (const app of [a, b]) await call(`${api.url}/v1/applications/${app.app.id}/scenarios`, { method: 'PUT', token, body: [scenario] });
    await a.client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${hooks.url}/a-${a.app.id}` });
    [r1, r2, r3, r4] = await Promise.all([
      connectedRuntime(token, { provider: 'simulated', scenarios: [scenario] }),
      connectedRuntime(token, { provider: 'simulated', scenarios: [scenario] }),
      connectedRuntime(token, { provider: 'simulated', scenarios: [other] }),
      connectedRuntime(c.adminToken, { provider: 'simulated', scenarios: ['DEFAULT'] }),
    ]);
    // Registered after the runtimes connected: its slots open as PENDING and A is told.
    aApi = await registerApi(a, {});
    bApi = await registerApi(b, {});
    await registerApi(c, {});
  });

  const put = (app: Paired, apiId: string, runtimeId: string, body: unknown) => app.client.request('PUT', `/v1/application/apis/${apiId}/credentials/${runtimeId}`, body);
  const slots = async (app: Paired, query = '') => (await app.client.request('GET', `/v1/application/credentials${query}`)).body;

  it('opens one PENDING slot per (API, runtime) pair of a shared scenario, and tells the application', async () => {
    const page = await slots(a);
    expect(page.items.map((s: { runtimeId: string }) => s.runtimeId).sort()).toEqual([r1.id, r2.id].sort());
    expect(page.items.every((s: { apiId: string; status: string }) => s.apiId === aApi.id && s.status === 'PENDING')).toBe(true);
    expect(page.items[0]).toMatchObject({ apiName: aApi.name, updatedAt: expect.any(String) });
    // One notification workflow per runtime: each arrives in its own time.
    await expect.poll(() => deliveriesTo(`/a-${a.app.id}`, 'configuration.changed', r1.id).length, { timeout: 15_000 }).toBe(1);
    await expect.poll(() => deliveriesTo(`/a-${a.app.id}`, 'configuration.changed', r2.id).length, { timeout: 15_000 }).toBe(1);
    expect(deliveriesTo(`/a-${a.app.id}`, 'configuration.changed', r3.id)).toHaveLength(0);
  });

  it('pages through slots with a cursor', async () => {
    const first = await slots(a, '?limit=1');
    expect(first.items).toHaveLength(1);
    const second = await slots(a, `?limit=1&cursor=${first.nextCursor}`);
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    expect(second.items[0].runtimeId).not.toBe(first.items[0].runtimeId);
  });

  it('gives a runtime only the credentials set for it, only of applications it shares a scenario with', async () => {
    expect((await put(a, aApi.id, r1.id, { basic: { username: 'a-user', password: 'a-secret-for-r1' } })).status).toBe(200);
    expect((await put(b, bApi.id, r2.id, { bearer: { token: 'b-token-for-r2' } })).status).toBe(200);

    const seen1 = await configurationOf(r1.id);
    const apisOf = apisOfConfig;
    expect(apisOf(seen1)).toEqual({ [aApi.name]: { basic: { username: 'a-user', password: 'a-secret-for-r1' } }, [bApi.name]: undefined });
    expect(apisOf(await configurationOf(r2.id))).toEqual({ [aApi.name]: undefined, [bApi.name]: { bearer: { token: 'b-token-for-r2' } } });
    expect((await configurationOf(r3.id)).applications).toEqual([]);
    expect((await configurationOf(r4.id)).applications.map((app) => app.id)).toEqual([c.app.id]);
    expect(JSON.stringify(await configurationOf(r4.id))).not.toMatch(/a-secret|b-token/);
    expect((await slots(a, '?status=SUCCEEDED')).items.map((s: { runtimeId: string }) => s.runtimeId)).toEqual([r1.id]);
  });

  it('refuses credentials for runtimes outside its scenarios, of another tenant, or for an API not its own (404)', async () => {
    const body = { bearer: { token: 'never-stored' } };
    const outside = await put(a, aApi.id, r3.id, body);
    expect(outside.status).toBe(404);
    expect(outside.body.detail).toBe('no such runtime sharing a scenario with this application');
    expect((await put(a, aApi.id, r4.id, body)).status).toBe(404);
    const foreignApi = await put(a, bApi.id, r1.id, body);
    expect(foreignApi.status).toBe(404);
    expect(foreignApi.body.detail).toBe('no such API');
    expect((await a.client.request('DELETE', `/v1/application/apis/${bApi.id}/credentials/${r1.id}`)).status).toBe(404);
    const { rows } = await api.pool.query('SELECT count(*)::int AS n FROM credential_slots WHERE runtime_id = ANY($1) AND status = $2', [[r3.id, r4.id], 'SUCCEEDED']);
    expect(rows[0].n).toBe(0);
  });

  it('refuses bad credentials with 400 problem+json naming the field, echoes no value, and changes nothing', async () => {
    await put(a, aApi.id, r2.id, { bearer: { token: 'kept-token' } });
    const before = await api.pool.query('SELECT status, secret_ciphertext, updated_at FROM credential_slots WHERE api_id = $1 AND runtime_id = $2', [aApi.id, r2.id]);
    const version = (await configurationOf(r2.id)).configVersion;
    const cases: Array<[unknown, string]> = [
      [{ basic: { username: 'u', password: 'bad-secret-1' }, bearer: { token: 'bad-secret-2' } }, 'basic'],
      [{}, 'basic'],
      [{ basic: { username: 'u' } }, 'basic.password'],
      [{ basic: { username: '', password: 'bad-secret-3' } }, 'basic.username'],
      [{ oauth: { clientId: 'id', clientSecret: 'bad-secret-4', tokenUrl: 'not a url' } }, 'oauth.tokenUrl'],
      [{ oauth: { clientId: 'id', clientSecret: 'bad-secret-5' } }, 'oauth.tokenUrl'],
      [{ bearer: { token: 'x'.repeat(4097) } }, 'bearer.token'],
      [{ basic: { username: 'u', password: 'p'.repeat(1025) } }, 'basic.password'],
      [{ bearer: { token: 't' }, headers: { 'bad header': 'v' } }, 'headers'],
      [{ bearer: { token: 't' }, headers: { Authorization: 'Basic bad-secret-6' } }, 'headers'],
      [{ bearer: { token: 't' }, headers: { 'X-Ok': 'line\r\nbreak' } }, 'headers.X-Ok'],
      [{ bearer: { token: 't' }, queryParams: { q: 'v'.repeat(4097) } }, 'queryParams.q'],
      [{ bearer: { token: 't', extra: 1 } }, 'bearer.extra'],
      [{ bearer: { token: 'bad-secret-7' }, kind: 'bearer' }, 'kind'],
      [['bearer'], 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await put(a, aApi.id, r2.id, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.errors.map((e: { path: string }) => e.path).join(' '), JSON.stringify(body).slice(0, 80)).toContain(field);
      expect(JSON.stringify(res.body)).not.toMatch(/bad-secret/);
    }
    const badParams = await a.client.request('PUT', `/v1/application/apis/not-a-uuid/credentials/${r2.id}`, { bearer: { token: 't' } });
    expect(badParams.status).toBe(400);
    expect(badParams.body.errors[0].path).toBe('path.apiId');
    for (const query of ['?status=BOGUS', '?limit=0', '?limit=101', '?cursor=garbage', '?other=1']) {
      const res = await a.client.request('GET', `/v1/application/credentials${query}`);
      expect(res.status, query).toBe(400);
    }
    const after = await api.pool.query('SELECT status, secret_ciphertext, updated_at FROM credential_slots WHERE api_id = $1 AND runtime_id = $2', [aApi.id, r2.id]);
    expect(after.rows).toEqual(before.rows);
    expect((await configurationOf(r2.id)).configVersion).toBe(version);
    expect(api.log.text).not.toMatch(/bad-secret|kept-token/);
  });

  it('refuses callers without a certificate (401), runtime certificates (403) and oversized bodies (413)', async () => {
    const endpoints: Array<[string, string, unknown?]> = [
      ['GET', '/v1/application/credentials'],
      ['PUT', `/v1/application/apis/${aApi.id}/credentials/${r1.id}`, { bearer: { token: 'never-stored' } }],
      ['DELETE', `/v1/application/apis/${aApi.id}/credentials/${r1.id}`],
      ['GET', '/v1/application/configuration'],
    ];
    const runtimeClient = new MtlsClient(loadCredentials(path.join(api.simulatedDir, r1.id, 'credentials')));
    try {
      for (const [method, url, body] of endpoints) {
        const anonymous = await call(`${api.url}${url}`, { method, body, token: a.adminToken });
        expect(anonymous.status, `${method} ${url}`).toBe(401);
        expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
        const asRuntime = await runtimeClient.request(method, url, body);
        expect(asRuntime.status, `${method} ${url}`).toBe(403);
      }
    } finally {
      runtimeClient.close();
    }
    const huge = await put(a, aApi.id, r1.id, { bearer: { token: 't' }, headers: { 'X-Big': 'x'.repeat(2 * 2 ** 20) } });
    expect(huge.status).toBe(413);
    expect(apisOfConfig(await configurationOf(r1.id))[aApi.name]).toEqual({ basic: { username: 'a-user', password: 'a-secret-for-r1' } });
  });

  it('clears credentials back to PENDING, and the runtime no longer gets them', async () => {
    await put(a, aApi.id, r2.id, { bearer: { token: 'to-be-cleared' } });
    expect((await a.client.request('DELETE', `/v1/application/apis/${aApi.id}/credentials/${r2.id}`)).status).toBe(204);
    expect((await slots(a, '?status=PENDING')).items.map((s: { runtimeId: string }) => s.runtimeId)).toEqual([r2.id]);
    const seen = await configurationOf(r2.id);
    expect(seen.applications.find((app) => app.id === a.app.id)!.apis[0]!.credentials).toBeUndefined();
    const { rows } = await api.pool.query('SELECT secret_ciphertext FROM credential_slots WHERE api_id = $1 AND runtime_id = $2', [aApi.id, r2.id]);
    expect(rows[0].secret_ciphertext).toBeNull();
  });

  it("fills new slots with an API's default credentials", async () => {
    const withDefaults = await registerApi(a, { defaultCredentials: { bearer: { token: 'default-token' } } });
    expect(withDefaults.hasDefaultCredentials).toBe(true);
    expect(JSON.stringify(withDefaults)).not.toContain('default-token');
    const own = (await slots(a, '?status=SUCCEEDED')).items.filter((s: { apiId: string }) => s.apiId === withDefaults.id);
    expect(own.map((s: { runtimeId: string }) => s.runtimeId).sort()).toEqual([r1.id, r2.id].sort());
    const seen = await configurationOf(r2.id);
    expect(seen.applications.find((app) => app.id === a.app.id)!.apis.find((x) => x.id === withDefaults.id)!.credentials).toEqual({ bearer: { token: 'default-token' } });
  });

  it('lets the application pull its configuration: runtimes of shared scenarios with status and eventUrl, ETag and 304', async () => {
    const res = await a.client.request('GET', '/v1/application/configuration');
    expect(res.status).toBe(200);
    expect(res.body.applicationId).toBe(a.app.id);
    expect(res.body.runtimes.map((r: { id: string }) => r.id).sort()).toEqual([r1.id, r2.id].sort());
    expect(res.body.runtimes[0]).toMatchObject({ status: 'CONNECTED', eventUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/runtimes\/.+\/events$/), scenarios: [scenario] });
    const etag = String(res.headers.etag);
    expect(etag).toBe(`"${res.body.configVersion}"`);
    expect((await a.client.request('GET', '/v1/application/configuration', undefined, { 'if-none-match': etag })).status).toBe(304);
    const other = await createTenant(api.pool);
    expect((await call(`${api.url}/v1/runtimes/${r2.id}/scenarios`, { method: 'PUT', token: other.token, body: [] })).status).toBe(404);
    expect((await call(`${api.url}/v1/runtimes/${r2.id}/scenarios`, { method: 'PUT', token: a.adminToken, body: [] })).status).toBe(200);
    const changed = await a.client.request('GET', '/v1/application/configuration', undefined, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.body.runtimes.map((r: { id: string }) => r.id)).toEqual([r1.id]);
    // R2 left: its slots are UNUSED, their secrets erased, and A was told.
    const unused = (await slots(a, '?status=UNUSED')).items.map((s: { runtimeId: string }) => s.runtimeId);
    expect(unused.every((id: string) => id === r2.id) && unused.length).toBe(2);
    const { rows } = await api.pool.query('SELECT count(*)::int AS n FROM credential_slots WHERE runtime_id = $1 AND secret_ciphertext IS NOT NULL', [r2.id]);
    expect(rows[0].n).toBe(0);
    await expect.poll(() => deliveriesTo(`/a-${a.app.id}`, 'configuration.changed', r2.id).length, { timeout: 15_000 }).toBe(2);
  });
});

/** A test API that demands the credentials a test expects, and a token endpoint that counts its tokens. */
async function protectedApi() {
  const state = { expected: '', rejected: new Set<string>() };
  const server = await receiver((req) => {
    const auth = req.headers.authorization ?? '';
    return auth === state.expected && !state.rejected.has(auth) ? { status: 200, body: JSON.stringify({ ok: true, path: req.url }) } : 401;
  });
  let issued = 0;
  const tokens = await receiver(() => ({ status: 200, body: JSON.stringify({ access_token: `tok-${++issued}`, token_type: 'Bearer', expires_in: 3600 }) }));
  return { server, tokens, state };
}

describe('credentials propagate to a local runtime and its gateway calls the API with them', () => {
  it('basic, then bearer, then OAuth; removal from the scenario ends it; no secret is stored anywhere it should not be', async () => {
    const secrets = { password: `pw-${uniqueName()}`, bearer: `bearer-${uniqueName()}`, clientSecret: `cs-${uniqueName()}`, header: `hdr-${uniqueName()}` };
    const { server, tokens, state } = await protectedApi();
    try {
      const app = await pairedApplication(api);
      const token = app.adminToken;
      const scenario = await newScenario(token);
      await call(`${api.url}/v1/applications/${app.app.id}/scenarios`, { method: 'PUT', token, body: [scenario] });
      await app.client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${hooks.url}/chain-${app.app.id}` });
      const orders = await registerApi(app, { name: 'orders', targetUrl: `${server.url}/base/` });

      // A poll interval of 10 minutes: whatever arrives within seconds came with the hint.
      const runtime = await connectedRuntime(token, { provider: 'local', scenarios: [scenario] });
      await expect.poll(() => deliveriesTo(`/chain-${app.app.id}`, 'runtime.connected', runtime.id).length, { timeout: 20_000 }).toBe(1);
      const pending = (await app.client.request('GET', '/v1/application/credentials?status=PENDING')).body.items;
      expect(pending).toMatchObject([{ apiId: orders.id, runtimeId: runtime.id, status: 'PENDING' }]);

      const gateway = `${runtime.eventUrl.replace(/\/events$/, '')}/gateway/${app.app.name}/orders`;
      const untilAccepted = async () => {
        const started = Date.now();
        await expect.poll(async () => (await call(`${gateway}/items/7?q=1`)).status, { timeout: 15_000, interval: 100 }).toBe(200);
        return Date.now() - started;
      };
      const set = (body: unknown) => app.client.request('PUT', `/v1/application/apis/${orders.id}/credentials/${runtime.id}`, body);

      state.expected = `Basic ${Buffer.from(`alice:${secrets.password}`).toString('base64')}`;
      expect((await set({ basic: { username: 'alice', password: secrets.password }, headers: { 'X-Api-Key': secrets.header }, queryParams: { 'api-version': '2' } })).body.status).toBe('SUCCEEDED');
      expect(await untilAccepted()).toBeLessThan(15_000);
      const reached = server.requests.at(-1)!;
      expect(reached.url).toBe('/base/items/7?q=1&api-version=2');
      expect(reached.headers['x-api-key']).toBe(secrets.header);

      state.expected = `Bearer ${secrets.bearer}`;
      await set({ bearer: { token: secrets.bearer } });
      await untilAccepted();
      expect(server.requests.at(-1)!.headers['x-api-key']).toBeUndefined();

      state.expected = 'Bearer tok-1';
      await set({ oauth: { clientId: 'runtime-client', clientSecret: secrets.clientSecret, tokenUrl: `${tokens.url}/oauth/token` } });
      await untilAccepted();
      expect((await call(`${gateway}/again`)).status).toBe(200);
      expect(tokens.requests).toHaveLength(1);
      expect(tokens.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`runtime-client:${secrets.clientSecret}`).toString('base64')}`);
      expect(tokens.requests[0]!.body).toBe('grant_type=client_credentials');
      // The API stops accepting the token: the gateway fetches a new one once and repeats the call.
      state.rejected.add('Bearer tok-1');
      state.expected = 'Bearer tok-2';
      expect((await call(`${gateway}/refreshed`, { method: 'POST', body: { n: 1 } })).status).toBe(200);
      expect(tokens.requests).toHaveLength(2);
      expect(server.requests.at(-1)).toMatchObject({ method: 'POST', url: '/base/refreshed', body: '{"n":1}' });

      const unknown = await call(`${runtime.eventUrl.replace(/\/events$/, '')}/gateway/${app.app.name}/no-such-api/x`);
      expect(unknown.status).toBe(404);

      // Out of the scenario: the slot is UNUSED, its secret erased, the gateway refuses, the application is told.
      await call(`${api.url}/v1/runtimes/${runtime.id}/scenarios`, { method: 'PUT', token, body: [] });
      expect((await app.client.request('GET', '/v1/application/credentials?status=UNUSED')).body.items).toMatchObject([{ apiId: orders.id, runtimeId: runtime.id }]);
      const { rows } = await api.pool.query('SELECT secret_ciphertext FROM credential_slots WHERE runtime_id = $1', [runtime.id]);
      expect(rows).toEqual([{ secret_ciphertext: null }]);
      await expect.poll(async () => (await call(`${gateway}/items/7`)).status, { timeout: 15_000 }).toBe(404);
      await expect.poll(() => deliveriesTo(`/chain-${app.app.id}`, 'configuration.changed', runtime.id).length, { timeout: 15_000 }).toBe(1);

      // Nowhere else: workflow histories of everything that happened in this tenant, logs, admin answers.
      const leaks = (text: string) => Object.values(secrets).filter((s) => text.includes(s));
      const ids = new Set([`agent:${runtime.id}`, `provisioning:${runtime.id}`]);
      for await (const wf of api.temporal.workflow.list({ query: `MeridianTenant="${app.tenant.id}"` })) ids.add(wf.workflowId);
      expect(ids.size).toBeGreaterThan(4);
      for (const id of ids) expect(leaks(await historyText(api.temporal.workflow.getHandle(id))), id).toEqual([]);
      expect(leaks(api.log.text)).toEqual([]);
      expect(leaks(workerLog())).toEqual([]);
      expect(leaks(fs.readFileSync(path.join(api.runtimesDir, runtime.id, 'runtime.log'), 'utf8'))).toEqual([]);
      for (const url of [`/v1/applications/${app.app.id}`, `/v1/applications/${app.app.id}/webhooks`, `/v1/applications/${app.app.id}/deliveries`, `/v1/runtimes/${runtime.id}`, '/v1/applications', '/v1/runtimes']) {
        expect(leaks((await call(`${api.url}${url}`, { token })).text), url).toEqual([]);
      }
      expect(leaks(JSON.stringify((await app.client.request('GET', '/v1/application/credentials')).body))).toEqual([]);
      expect(leaks(JSON.stringify((await app.client.request('GET', '/v1/application/apis')).body))).toEqual([]);
      const stored = await api.pool.query("SELECT string_agg(encode(secret_ciphertext, 'escape'), '') AS all FROM credential_slots");
      expect(leaks(stored.rows[0].all ?? '')).toEqual([]);
    } finally {
      await server.close();
      await tokens.close();
    }
  });
});
