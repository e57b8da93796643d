// What the console reads beyond the objects themselves, on the real API, worker and runtime host: the
// overview's counts, when runtimes were last seen, operations with their Temporal UI page, an
// application's definitions and credential slots, and what a runtime's agent reports — with bad input.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { untilFinished } from '../client/admin.js';
import { createLogger } from '../lib/logger.js';
import { markSeen } from '../db/runtimes.js';
import { LastSeen } from '../services/last-seen.js';
import { CapturedLog, call, createTenant, pairedApplication, receiver, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ worker: true, lastSeenFlushMs: 200 });
});
afterAll(async () => {
  await api?.stop();
});

const get = (path: string, token: string) => call(`${api.url}${path}`, { token });

/** A simulated runtime of the tenant, once provisioning finished; with its operation. */
async function connectedRuntime(token: string, scenarios = ['DEFAULT']) {
  const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated', pollIntervalSeconds: 600, scenarios } });
  expect(created.status).toBe(202);
  expect(await untilFinished(api.url, token, created.body.operation.id, { timeoutMs: 90_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });
  return { runtime: created.body.runtime as { id: string; name: string }, operation: created.body.operation as { id: string } };
}

describe('an application, its runtime and what the console reads of them', () => {
  let paired: Awaited<ReturnType<typeof pairedApplication>>;
  let token: string;
  let runtime: { id: string; name: string };
  let provisioning: { id: string };
  let apiId: string;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  afterAll(() => hooks?.close());

  beforeAll(async () => {
    paired = await pairedApplication(api);
    token = paired.adminToken;
    hooks = await receiver();
    expect((await paired.client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${hooks.url}/hook` })).status).toBe(201);
    ({ runtime, operation: provisioning } = await connectedRuntime(token));
    const registered = await paired.client.request('POST', '/v1/application/apis', {
      name: 'orders',
      targetUrl: 'http://127.0.0.1:9/orders',
      spec: { type: 'OPENAPI', format: 'JSON', data: JSON.stringify({ openapi: '3.0.3', info: { title: 'o', version: '1' }, paths: {} }) },
    });
    // 202 when validating outlasts the registration's wait on a busy machine; it finishes in the background.
    expect([201, 202]).toContain(registered.status);
    apiId = registered.body.id;
    expect((await paired.client.request('POST', '/v1/application/events', { name: 'order-created' })).status).toBe(201);
  }, 180_000);

  it('lists the application’s API and event definitions with their spec status', async () => {
    await expect
      .poll(async () => (await get(`/v1/applications/${paired.app.id}/apis`, token)).body.items, { timeout: 30_000 })
      .toEqual([expect.objectContaining({ id: apiId, name: 'orders', spec: expect.objectContaining({ type: 'OPENAPI', status: 'SUCCEEDED' }) })]);
    const events = await get(`/v1/applications/${paired.app.id}/events`, token);
    expect(events.body.items.map((e: { name: string }) => e.name)).toEqual(['order-created']);
  });

  it('lists the application’s deliveries, each linked to its notification workflow in the Temporal UI', async () => {
    await expect
      .poll(async () => (await get(`/v1/applications/${paired.app.id}/deliveries`, token)).body.items.find((d: { eventType: string }) => d.eventType === 'runtime.connected'), { timeout: 30_000 })
      .toMatchObject({ state: 'DELIVERED', attempts: 1 });
    const delivery = (await get(`/v1/applications/${paired.app.id}/deliveries`, token)).body.items.find((d: { eventType: string }) => d.eventType === 'runtime.connected');
    expect(delivery.temporalUiUrl).toBe(`${inject('temporalUiUrl')}/namespaces/default/workflows/${encodeURIComponent(`notify:${paired.app.id}:${delivery.eventId}`)}`);
    expect((await fetch(delivery.temporalUiUrl)).status).toBe(200);
  });

  it('lists the application’s credential slots by runtime and status, never a secret', async () => {
    const pending = await get(`/v1/applications/${paired.app.id}/credentials?status=PENDING`, token);
    expect(pending.status).toBe(200);
    expect(pending.body.items).toEqual([expect.objectContaining({ apiId, runtimeId: runtime.id, runtimeName: runtime.name, status: 'PENDING' })]);
    const secret = 'a-password-nobody-reads-back';
    expect((await paired.client.request('PUT', `/v1/application/apis/${apiId}/credentials/${runtime.id}`, { basic: { username: 'u', password: secret } })).status).toBe(200);
    const all = await get(`/v1/applications/${paired.app.id}/credentials`, token);
    expect(all.body.items).toEqual([expect.objectContaining({ runtimeId: runtime.id, status: 'SUCCEEDED' })]);
    expect(all.text).not.toContain(secret);
    expect((await get(`/v1/applications/${paired.app.id}/credentials?status=PENDING`, token)).body.items).toEqual([]);
  });

  it('lists operations newest first, by resource and state, each linked to its workflow in the Temporal UI', async () => {
    const ofRuntime = await get(`/v1/operations?resourceId=${runtime.id}`, token);
    expect(ofRuntime.status).toBe(200);
    expect(ofRuntime.body.items).toEqual([expect.objectContaining({ id: provisioning.id, type: 'PROVISIONING', state: 'SUCCEEDED' })]);
    const link = ofRuntime.body.items[0].temporalUiUrl as string;
    expect(link).toBe(`${inject('temporalUiUrl')}/namespaces/default/workflows/${encodeURIComponent(`provisioning:${runtime.id}`)}`);
    expect((await fetch(link)).status).toBe(200);
    expect((await get(`/v1/operations/${provisioning.id}`, token)).body.temporalUiUrl).toBe(link);
    const stages = (await get(`/v1/operations/${provisioning.id}/stages`, token)).body.items;
    expect(stages.map((s: { stage: string }) => s.stage)).toEqual(['REGISTERING', 'ISSUING_TOKEN', 'PROVISIONING', 'INJECTING', 'WAITING_FOR_AGENT', 'NOTIFYING', 'FINISHED']);
    const times = stages.map((s: { at: string }) => Date.parse(s.at));
    expect(times).toEqual([...times].sort((x, y) => x - y));

    const all = await get('/v1/operations', token);
    const types = all.body.items.map((o: { type: string }) => o.type);
    // The registration came last, then the provisioning, then the pairing.
    expect(types.indexOf('API_REGISTRATION')).toBeLessThan(types.indexOf('PROVISIONING'));
    expect(types.indexOf('PROVISIONING')).toBeLessThan(types.indexOf('PAIRING'));
    const first = await get('/v1/operations?limit=1', token);
    const second = await get(`/v1/operations?limit=1&cursor=${first.body.nextCursor}`, token);
    expect([first.body.items[0].id, second.body.items[0].id]).toEqual(all.body.items.slice(0, 2).map((o: { id: string }) => o.id));
    expect((await get('/v1/operations?state=IN_PROGRESS', token)).body.items.every((o: { state: string }) => o.state === 'IN_PROGRESS')).toBe(true);
  });

  it('tells what the runtime’s agent applied, when it last fetched and when its certificate expires', async () => {
    const config = await get(`/v1/runtimes/${runtime.id}`, token);
    await expect
      .poll(async () => (await get(`/v1/runtimes/${runtime.id}/agent`, token)).body, { timeout: 30_000, interval: 250 })
      .toMatchObject({ state: 'RUNNING', connected: true, design: 'watch', appliedVersion: expect.any(Number) });
    const agent = (await get(`/v1/runtimes/${runtime.id}/agent`, token)).body;
    expect(agent.workflowId).toBe(`agent:${runtime.id}`);
    expect(agent.appliedVersion).toBeLessThanOrEqual(config.body.configVersion + 1);
    expect(Date.parse(agent.certificateNotAfter)).toBeGreaterThan(Date.now() + 80 * 86_400_000);
    expect(Date.parse(agent.lastFetchAt)).toBeLessThanOrEqual(Date.now());
    expect((await fetch(agent.temporalUiUrl)).status).toBe(200);
  });

  it('records when a runtime last called, without a write per call, and counts runtimes that went quiet as stale', async () => {
    await expect.poll(async () => (await get(`/v1/runtimes/${runtime.id}`, token)).body.lastSeenAt, { timeout: 10_000 }).not.toBeNull();
    const overview = async () => (await get('/v1/overview', token)).body;
    expect(await overview()).toMatchObject({
      applications: { CONNECTED: 1 },
      runtimes: { CONNECTED: 1 },
      freshness: { fresh: 1, stale: 0, never: 0 },
      staleAfterSeconds: 180,
      credentialSlots: { SUCCEEDED: 1 },
      failedDeliveries24h: 0,
      operations: { inProgress: 0, failed24h: 0 },
    });
    // The runtime's agent holds a long poll: as if it had stopped calling an hour ago.
    await api.pool.query(`UPDATE runtime_last_seen SET seen_at = now() - interval '1 hour' WHERE runtime_id = $1`, [runtime.id]);
    expect((await overview()).freshness).toEqual({ fresh: 0, stale: 1, never: 0 });
  });
});

describe('workflows that moved on or do not answer', () => {
  it('shows a superseded operation no stages of the later one that reused its workflow id', async () => {
    const { token } = await createTenant(api.pool);
    const app = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('app') } })).body;
    const first = (await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token })).body;
    const second = (await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token })).body;
    await expect.poll(async () => (await get(`/v1/operations/${second.operationId}/stages`, token)).body.items.length, { timeout: 30_000 }).toBeGreaterThan(0);
    expect((await get(`/v1/operations/${first.operationId}/stages`, token)).body.items).toEqual([]);
  });

  it('says an agent workflow that runs but that no worker answers is NOT_ANSWERING, and a closed one how it closed', async () => {
    const { tenant, token } = await createTenant(api.pool);
    const runtimeId = (await api.pool.query<{ id: string }>(`INSERT INTO runtimes (tenant_id, name, provider) VALUES ($1, $2, 'simulated') RETURNING id`, [tenant.id, uniqueName('silent')])).rows[0]!.id;
    const handle = await api.temporal.workflow.start('agentWorkflow', { taskQueue: uniqueName('nobody-polls'), workflowId: `agent:${runtimeId}`, args: [{ runtimeId }] });
    const silent = await get(`/v1/runtimes/${runtimeId}/agent`, token);
    expect([silent.status, silent.body.state, silent.body.workflowId]).toEqual([200, 'NOT_ANSWERING', `agent:${runtimeId}`]);
    await handle.terminate('test');
    expect((await get(`/v1/runtimes/${runtimeId}/agent`, token)).body.state).toBe('TERMINATED');
  });
});

describe('bad input to what the console reads', () => {
  let token: string;
  let other: string;
  let foreignRuntime: string;
  let foreignApplication: string;
  let own: string;
  beforeAll(async () => {
    token = (await createTenant(api.pool)).token;
    own = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('app') } })).body.id;
    other = (await createTenant(api.pool)).token;
    foreignApplication = (await call(`${api.url}/v1/applications`, { token: other, body: { name: uniqueName('app') } })).body.id;
    const created = await call(`${api.url}/v1/runtimes`, { token: other, body: { name: uniqueName('rt'), provider: 'simulated' } });
    foreignRuntime = created.body.runtime.id;
  });

  it.each([
    ['/v1/operations?state=DONE', 'query.state'],
    ['/v1/operations?resourceId=nope', 'query.resourceId'],
    ['/v1/operations?limit=0', 'query.limit'],
    ['/v1/operations?cursor=bogus', 'query.cursor'],
    ['/v1/operations?extra=1', 'query'],
    ['/v1/applications/not-a-uuid/apis', 'params.id'],
    ['/v1/applications/not-a-uuid/credentials', 'params.id'],
    ['/v1/applications/{own}/credentials?status=LOST', 'query.status'],
    ['/v1/applications/{own}/credentials?cursor=bogus', 'query.cursor'],
    ['/v1/operations/not-a-uuid/stages', 'params.id'],
    ['/v1/runtimes/not-a-uuid/agent', 'params.id'],
  ])('answers %s 400 naming %s', async (path, field) => {
    const res = await get(path.replace('{own}', own), token);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(res.body.errors ?? res.body.detail)).toContain(field.split('.').at(-1));
  });

  it('answers another tenant’s application and runtime 404, and shows none of its operations or counts', async () => {
    for (const path of ['apis', 'events', 'credentials', 'webhooks', 'deliveries']) {
      expect((await get(`/v1/applications/${foreignApplication}/${path}`, token)).status).toBe(404);
    }
    expect((await get(`/v1/runtimes/${foreignRuntime}/agent`, token)).status).toBe(404);
    const foreignOperation = (await get(`/v1/operations?resourceId=${foreignRuntime}`, other)).body.items[0].id;
    expect((await get(`/v1/operations/${foreignOperation}/stages`, token)).status).toBe(404);
    expect((await get(`/v1/operations?resourceId=${foreignRuntime}`, token)).body.items).toEqual([]);
    expect((await get('/v1/overview', token)).body).toMatchObject({ applications: {}, runtimes: {}, operations: { inProgress: 0, failed24h: 0 } });
  });

  it('refuses every read without an admin token', async () => {
    for (const path of ['/v1/overview', '/v1/operations', `/v1/runtimes/${foreignRuntime}/agent`, `/v1/applications/${foreignApplication}/apis`]) {
      expect((await call(`${api.url}${path}`)).status).toBe(401);
    }
  });
});

describe('LastSeen', () => {
  it('keeps the time of each call while PostgreSQL is away and writes them once it is back', async () => {
    const writes: Array<Map<string, Date>> = [];
    let down = true;
    const pool = {
      query: async (_sql: string, [ids, times]: [string[], Date[]]) => {
        if (down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        writes.push(new Map(ids.map((id, i) => [id, times[i]!])));
        return { rows: [], rowCount: ids.length };
      },
    };
    const log = new CapturedLog();
    const seen = new LastSeen(pool as never, createLogger('info', log), 3_600_000);
    seen.seen('r1');
    const r1At = Date.now();
    await seen.flush();
    expect(writes).toEqual([]);
    expect(log.text).toContain('kept for the next flush');
    await new Promise((resolve) => setTimeout(resolve, 20));
    down = false;
    seen.seen('r2');
    await seen.stop();
    expect(writes).toHaveLength(1);
    const [written] = writes;
    expect([...written!.keys()].sort()).toEqual(['r1', 'r2']);
    // r1 keeps the time it called, not the time PostgreSQL came back.
    expect(written!.get('r1')!.getTime()).toBeLessThanOrEqual(r1At);
    expect(written!.get('r2')!.getTime()).toBeGreaterThan(written!.get('r1')!.getTime());
  });

  it('writes in id order and never moves a time back', async () => {
    const { tenant } = await createTenant(api.pool);
    const ids = await Promise.all([1, 2, 3].map(async () => (await api.pool.query<{ id: string }>(
      `INSERT INTO runtimes (tenant_id, name, provider) VALUES ($1, $2, 'simulated') RETURNING id`, [tenant.id, uniqueName('seen')])).rows[0]!.id));
    const later = new Date();
    const earlier = new Date(later.getTime() - 60_000);
    await markSeen(api.pool, new Map([[ids[0]!, later], [ids[1]!, earlier], [crypto.randomUUID(), later]]));
    await markSeen(api.pool, new Map([[ids[0]!, earlier], [ids[1]!, later]]));
    const { rows } = await api.pool.query<{ runtime_id: string; seen_at: Date }>('SELECT runtime_id, seen_at FROM runtime_last_seen WHERE runtime_id = ANY($1)', [ids]);
    expect(Object.fromEntries(rows.map((r) => [r.runtime_id, r.seen_at.getTime()]))).toEqual({ [ids[0]!]: later.getTime(), [ids[1]!]: later.getTime() });
  });
});
