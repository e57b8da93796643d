// Automatic scenario assignment: runtimes whose label matches join the scenario, now (a durable pass,
// tracked by an operation) and when they are created or relabelled; the same path as a change by hand
// (configVersion, credential slots, configuration.changed). Real API, worker, Temporal and PostgreSQL.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilFinished } from '../client/admin.js';
import { call, configurationOfRuntime, connectedRuntimeOf, createTenant, pairedApplication, receiver, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
let hooks: Awaited<ReturnType<typeof receiver>>;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
  hooks = await receiver();
});
afterAll(async () => {
  await hooks?.close();
  await api?.stop();
});

const finished = (token: string, id: string) => untilFinished(api.url, token, id, { timeoutMs: 90_000, intervalMs: 200 });

/** A simulated runtime of the tenant, CONNECTED. */
const connectedRuntime = (token: string, fields: Record<string, unknown>) => connectedRuntimeOf(api, token, { provider: 'simulated', ...fields }) as Promise<{ id: string }>;
const configurationOf = (runtimeId: string) => configurationOfRuntime(api, runtimeId);

const deliveries = (pathname: string, type: string, runtimeId: string) =>
  hooks.requests.filter((r) => r.url === pathname).map((r) => JSON.parse(r.body)).filter((b) => b.type === type && b.runtime.id === runtimeId);

describe('automatic scenario assignment', () => {
  let token: string;
  let app: Awaited<ReturnType<typeof pairedApplication>>;
  let scenario: string;
  const req = (method: string, url: string, body?: unknown) => call(`${api.url}${url}`, { method, token, body });
  const runtime = async (id: string) => (await req('GET', `/v1/runtimes/${id}`)).body;
  const slotsOf = async (runtimeId: string) => (await app.client.request('GET', '/v1/application/credentials')).body.items.filter((s: { runtimeId: string }) => s.runtimeId === runtimeId);

  beforeAll(async () => {
    app = await pairedApplication(api);
    token = app.adminToken;
    scenario = uniqueName('S');
    await req('POST', '/v1/scenarios', { name: scenario });
    expect((await req('PUT', `/v1/applications/${app.app.id}/scenarios`, [scenario])).status).toBe(200);
    await app.client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${hooks.url}/${app.app.id}` });
    expect((await app.client.request('POST', '/v1/application/apis', { name: uniqueName('api'), targetUrl: 'http://127.0.0.1:9/api' })).status).toBe(201);
  });

  it('brings existing matching runtimes in through a pass tracked by one operation: configuration, credential slot, configuration.changed', async () => {
    const prod = await connectedRuntime(token, { labels: { env: 'prod' } });
    const dev = await connectedRuntime(token, { labels: { env: 'dev' } });
    const before = await configurationOf(prod.id);
    expect(before.applications).toEqual([]);

    const created = await req('POST', `/v1/scenarios/${scenario}/assignments`, { selector: { key: 'env', value: 'prod' } });
    expect(created.status).toBe(202);
    expect(created.body.assignment).toEqual({ id: expect.any(String), scenario, selector: { key: 'env', value: 'prod' }, createdAt: expect.any(String) });
    expect(created.body.operation).toMatchObject({ type: 'SCENARIO_ASSIGNMENT', state: 'IN_PROGRESS', workflowId: expect.stringMatching(/^scenario-assignment:/) });
    const done = await finished(token, created.body.operation.id);
    expect(done).toMatchObject({ state: 'SUCCEEDED', stage: 'FINISHED', progress: { examined: 2, total: 2, joined: 1, left: 0 } });

    expect(await runtime(prod.id)).toMatchObject({ scenarios: [scenario], assignedScenarios: [scenario] });
    expect(await runtime(dev.id)).toMatchObject({ scenarios: [], assignedScenarios: [] });
    const after = await configurationOf(prod.id);
    expect(after.applications.map((a) => a.id)).toEqual([app.app.id]);
    expect(after.configVersion).toBeGreaterThan(before.configVersion);
    expect(await slotsOf(prod.id)).toEqual([expect.objectContaining({ status: 'PENDING' })]);
    await expect.poll(() => deliveries(`/${app.app.id}`, 'configuration.changed', prod.id).length, { timeout: 15_000 }).toBe(1);
    expect((await req('GET', `/v1/scenarios/${scenario}/assignments`)).body.items).toEqual([created.body.assignment]);
    // The list of scenarios carries each one's assignments (one request for the console's matrix).
    expect((await req('GET', '/v1/scenarios')).body.items.find((s: { name: string }) => s.name === scenario).assignments).toEqual([created.body.assignment]);
  });

  it('takes in a matching runtime created afterwards, whose applications are told it connected; relabelling takes it out', async () => {
    const later = await connectedRuntime(token, { labels: { env: 'prod' } });
    expect(await runtime(later.id)).toMatchObject({ scenarios: [scenario], assignedScenarios: [scenario] });
    await expect.poll(() => deliveries(`/${app.app.id}`, 'runtime.connected', later.id).length, { timeout: 15_000 }).toBe(1);
    expect((await configurationOf(later.id)).applications.map((a) => a.id)).toEqual([app.app.id]);
    expect(await slotsOf(later.id)).toEqual([expect.objectContaining({ status: 'PENDING' })]);

    expect((await req('PUT', `/v1/runtimes/${later.id}/labels/env`, 'dev')).body).toMatchObject({ scenarios: [], assignedScenarios: [] });
    expect((await configurationOf(later.id)).applications).toEqual([]);
    expect(await slotsOf(later.id)).toEqual([expect.objectContaining({ status: 'UNUSED' })]);
    expect((await req('PUT', `/v1/runtimes/${later.id}/labels/env`, 'prod')).body).toMatchObject({ scenarios: [scenario] });
    expect((await req('DELETE', `/v1/runtimes/${later.id}/labels/env`)).status).toBe(204);
    expect(await runtime(later.id)).toMatchObject({ scenarios: [] });
  });

  it('keeps a scenario set by hand when the label stops matching, and an assigned one when the hand-set list omits it', async () => {
    const both = await connectedRuntime(token, { labels: { env: 'prod' }, scenarios: [scenario] });
    expect(await runtime(both.id)).toMatchObject({ scenarios: [scenario], assignedScenarios: [scenario], scenariosByHand: [scenario] });
    // The label goes: the membership by hand stays.
    await req('DELETE', `/v1/runtimes/${both.id}/labels/env`);
    expect(await runtime(both.id)).toMatchObject({ scenarios: [scenario], assignedScenarios: [] });
    // By assignment again, then not by hand: the assignment keeps it.
    await req('PUT', `/v1/runtimes/${both.id}/labels/env`, 'prod');
    expect((await req('PUT', `/v1/runtimes/${both.id}/scenarios`, [])).body).toMatchObject({ scenarios: [scenario], assignedScenarios: [scenario], scenariosByHand: [] });
    // Neither reason is left: it leaves.
    expect((await req('PUT', `/v1/runtimes/${both.id}/labels/env`, 'dev')).body).toMatchObject({ scenarios: [] });
    expect((await configurationOf(both.id)).applications).toEqual([]);
  });

  it('removing an assignment takes out the runtimes that were members only through it; another assignment or a hand keeps the rest', async () => {
    const byHand = await connectedRuntime(token, { labels: { env: 'prod' }, scenarios: [scenario] });
    const byEnv = await connectedRuntime(token, { labels: { env: 'prod' } });
    const byBoth = await connectedRuntime(token, { labels: { env: 'prod', tier: 1 } });
    const [envAssignment] = (await req('GET', `/v1/scenarios/${scenario}/assignments`)).body.items;
    const tier = await req('POST', `/v1/scenarios/${scenario}/assignments`, { selector: { key: 'tier', value: 1 } });
    expect(await finished(token, tier.body.operation.id)).toMatchObject({ state: 'SUCCEEDED', progress: { joined: 0 } });

    const removed = await req('DELETE', `/v1/scenarios/${scenario}/assignments/${envAssignment.id}`);
    expect(removed.status).toBe(202);
    expect(await finished(token, removed.body.id)).toMatchObject({ type: 'SCENARIO_ASSIGNMENT', state: 'SUCCEEDED', progress: { left: expect.any(Number) } });
    expect(await runtime(byHand.id)).toMatchObject({ scenarios: [scenario], assignedScenarios: [] });
    expect(await runtime(byEnv.id)).toMatchObject({ scenarios: [], assignedScenarios: [] });
    expect(await runtime(byBoth.id)).toMatchObject({ scenarios: [scenario], assignedScenarios: [scenario] });
    expect((await req('GET', `/v1/scenarios/${scenario}/assignments`)).body.items.map((a: { id: string }) => a.id)).toEqual([tier.body.assignment.id]);
    expect((await req('DELETE', `/v1/scenarios/${scenario}/assignments/${envAssignment.id}`)).status).toBe(404);

    const all = await req('DELETE', `/v1/scenarios/${scenario}/assignments`);
    expect(await finished(token, all.body.id)).toMatchObject({ state: 'SUCCEEDED' });
    expect(await runtime(byBoth.id)).toMatchObject({ scenarios: [], assignedScenarios: [] });
    expect(await runtime(byHand.id)).toMatchObject({ scenarios: [scenario] });
    expect((await req('GET', `/v1/scenarios/${scenario}/assignments`)).body.items).toEqual([]);
    expect((await req('DELETE', `/v1/scenarios/${scenario}/assignments`)).status).toBe(404);
  });
});

describe('assignments and runtimes created meanwhile', () => {
  it('a runtime created while an assignment changes waits for it, and joins', async () => {
    const { tenant, token } = await createTenant(api.pool);
    const scenario = uniqueName('S');
    await call(`${api.url}/v1/scenarios`, { token, body: { name: scenario } });
    const client = await api.pool.connect();
    try {
      // What POST …/assignments holds between recording the assignment and committing.
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('scenario-assignments:' || $1, 0))`, [tenant.id]);
      await client.query(`INSERT INTO scenario_assignments (tenant_id, scenario, key, value) VALUES ($1, $2, 'pool', '"a"')`, [tenant.id, scenario]);
      let answered = false;
      const created = call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated', labels: { pool: 'a' } } }).then((res) => ((answered = true), res));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(answered).toBe(false);
      await client.query('COMMIT');
      expect((await created).body.runtime).toMatchObject({ scenarios: [scenario], assignedScenarios: [scenario], scenariosByHand: [] });
    } finally {
      client.release();
    }
  });
});

describe('a large assignment', () => {
  it('matches 1,000 simulated-runtime rows in one operation, and its removal (superseding nothing left over) takes them out again', async () => {
    const { tenant, token } = await createTenant(api.pool);
    const scenario = uniqueName('bulk');
    await call(`${api.url}/v1/scenarios`, { token, body: { name: scenario } });
    // Simulated-runtime rows, as provisioning leaves them; 1,000 match, 50 do not.
    await api.pool.query(
      `WITH r AS (
         INSERT INTO runtimes (tenant_id, name, provider, condition) SELECT $1, 'bulk-' || i, 'simulated', 'CONNECTED' FROM generate_series(1, 1050) i RETURNING id, name)
       INSERT INTO runtime_labels (runtime_id, key, value) SELECT id, 'fleet', CASE WHEN substring(name from 6)::int <= 1000 THEN '"blue"' ELSE '"green"' END::jsonb FROM r`,
      [tenant.id],
    );
    const started = Date.now();
    const created = await call(`${api.url}/v1/scenarios/${scenario}/assignments`, { token, body: { selector: { key: 'fleet', value: 'blue' } } });
    expect(created.status).toBe(202);
    const done = await untilFinished(api.url, token, created.body.operation.id, { timeoutMs: 120_000, intervalMs: 250 });
    console.log(`1,000 of 1,050 runtimes assigned in one operation in ${Date.now() - started} ms`);
    expect(done).toMatchObject({ state: 'SUCCEEDED', progress: { examined: 1050, total: 1050, joined: 1000, left: 0 } });
    const members = await api.pool.query('SELECT count(*)::int AS n FROM runtime_scenarios WHERE tenant_id = $1 AND scenario = $2 AND by_assignment', [tenant.id, scenario]);
    expect(members.rows[0].n).toBe(1000);
    const operations = (await call(`${api.url}/v1/operations?resourceId=${created.body.operation.resourceId}`, { token })).body.items;
    expect(operations).toHaveLength(1);

    // A second change while a pass may still run: the newer one wins, and the end state is the newer one's.
    await call(`${api.url}/v1/scenarios/${scenario}/assignments`, { method: 'DELETE', token });
    const again = await call(`${api.url}/v1/scenarios/${scenario}/assignments`, { token, body: { selector: { key: 'fleet', value: 'green' } } });
    await call(`${api.url}/v1/scenarios/${scenario}/assignments`, { method: 'DELETE', token });
    const last = (await call(`${api.url}/v1/operations?resourceId=${again.body.operation.resourceId}`, { token })).body.items[0];
    expect(await untilFinished(api.url, token, last.id, { timeoutMs: 120_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });
    const left = await api.pool.query('SELECT count(*)::int AS n FROM runtime_scenarios WHERE tenant_id = $1 AND scenario = $2', [tenant.id, scenario]);
    expect(left.rows[0].n).toBe(0);
  });
});

describe('assignment bad input and tenants', () => {
  it('refuses bad selectors, unknown scenarios, a second assignment and foreign tenants, changing nothing', async () => {
    const a = await createTenant(api.pool);
    const b = await createTenant(api.pool);
    const scenario = uniqueName('S');
    const as = (who: { token: string }) => (method: string, url: string, body?: unknown) => call(`${api.url}${url}`, { method, token: who.token, body });
    const reqA = as(a);
    const reqB = as(b);
    await reqA('POST', '/v1/scenarios', { name: scenario });
    await reqA('PUT', '/v1/label-definitions/env', { schema: { enum: ['dev', 'prod'] } });
    const url = `/v1/scenarios/${scenario}/assignments`;
    const cases: Array<[unknown, string]> = [
      [{}, 'selector'],
      [{ selector: { key: 'env' } }, 'selector.value'],
      [{ selector: { key: 'bad-key', value: 'x' } }, 'selector.key'],
      [{ selector: { key: 'env', value: 'x'.repeat(1025) } }, 'selector.value'],
      [{ selector: { key: 'env', value: 'prod', other: 1 } }, 'selector'],
      [{ selector: { key: 'env', value: 'prod' }, extra: true }, 'extra'],
      [{ selector: { key: 'env', value: 'qa' } }, 'labels.env'],
      [[], 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await reqA('POST', url, body);
      expect([JSON.stringify(body).slice(0, 60), res.status]).toEqual([JSON.stringify(body).slice(0, 60), 400]);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
      expect(JSON.stringify(res.body.errors)).toContain(field);
    }
    expect((await reqA('POST', '/v1/scenarios/no-such/assignments', { selector: { key: 'env', value: 'prod' } })).status).toBe(404);
    expect((await reqA('POST', '/v1/scenarios/bad%2Fname/assignments', { selector: { key: 'env', value: 'prod' } })).status).toBe(400);
    expect((await reqA('GET', '/v1/scenarios/no-such/assignments')).status).toBe(404);
    expect((await reqA('DELETE', url)).status).toBe(404);
    expect((await reqA('GET', url)).body.items).toEqual([]);
    expect((await call(`${api.url}${url}`)).status).toBe(401);

    const created = await reqA('POST', url, { selector: { key: 'env', value: 'prod' } });
    expect(created.status).toBe(202);
    expect((await reqA('POST', url, { selector: { key: 'env', value: 'prod' } })).status).toBe(409);
    expect((await reqA('DELETE', `${url}/not-a-uuid`)).status).toBe(400);
    expect((await reqA('DELETE', `${url}/${crypto.randomUUID()}`)).status).toBe(404);
    // The scenario is in use by its assignment.
    const busy = await reqA('DELETE', `/v1/scenarios/${scenario}`);
    expect([busy.status, busy.body.detail]).toEqual([409, expect.stringContaining('its assignment env="prod"')]);

    // Tenant B: the same name is not its scenario, and its runtimes never join A's.
    expect((await reqB('GET', url)).status).toBe(404);
    expect((await reqB('DELETE', url)).status).toBe(404);
    expect((await reqB('DELETE', `${url}/${created.body.assignment.id}`)).status).toBe(404);
    const bRuntime = (await reqB('POST', '/v1/runtimes', { name: uniqueName('rt'), provider: 'simulated', labels: { env: 'prod' } })).body.runtime;
    expect(bRuntime).toMatchObject({ scenarios: [], assignedScenarios: [] });
    await reqB('POST', '/v1/scenarios', { name: scenario });
    expect((await reqB('GET', url)).body.items).toEqual([]);
    expect((await reqB('DELETE', `${url}/${created.body.assignment.id}`)).status).toBe(404);
    await untilFinished(api.url, a.token, created.body.operation.id, { timeoutMs: 60_000, intervalMs: 200 });
    expect((await reqA('GET', url)).body.items).toHaveLength(1);
    expect((await reqB('GET', `/v1/runtimes/${bRuntime.id}`)).body.scenarios).toEqual([]);
  });
});
