// Bounded inputs (issue #14): definitions and webhooks per application, deliveries of one notification
// in flight, spec validation time, and how long UNUSED credential slots are kept.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApplication } from '../db/applications.js';
import { deleteDefinition, insertDefinition } from '../db/definitions.js';
import { createRuntime } from '../db/runtimes.js';
import { insertWebhook } from '../db/webhooks.js';
import { ensureReconciler } from '../services/reconciler.js';
import { workflowId } from '../workflows/ids.js';
import type { NotifyInput } from '../workflows/notify.js';
import { reconcilerStatus } from '../workflows/reconciler.js';
import { odataEdmx } from './fixtures/specs.js';
import { call, createTenant, pairedApplication, receiver, startTestApi, uniqueName, type TestApi } from './helpers.js';

const MAX_DEFINITIONS = 3;
const MAX_WEBHOOKS = 3;
const VALIDATION_TIMEOUT_MS = 1_500;

let api: TestApi;
let server: Awaited<ReturnType<typeof receiver>>;

/**
 * An AsyncAPI document of 20,000 channels (about 2.3 MB): AsyncAPI validation costs about a millisecond
 * per channel here, so tens of seconds, far over the test's limit on any machine (an OpenAPI document of
 * the fetch limit's size validates in under a second on a quiet one).
 */
function hugeAsyncApi(): string {
  const channels: Record<string, unknown> = {};
  for (let i = 0; i < 20_000; i++) channels[`orders/${i}/created`] = { subscribe: { message: { payload: { type: 'object', properties: { id: { type: 'string' } } } } } };
  return JSON.stringify({ asyncapi: '2.6.0', info: { title: 'Order events', version: '1.0.0' }, channels });
}

beforeAll(async () => {
  api = await startTestApi({
    worker: true,
    registration: { maxDefinitionsPerApplication: MAX_DEFINITIONS, maxWebhooksPerApplication: MAX_WEBHOOKS, validationTimeoutMs: VALIDATION_TIMEOUT_MS, waitMs: 20_000 },
  });
  const huge = hugeAsyncApi();
  server = await receiver((req) => (req.url === '/huge.json' ? { status: 200, body: huge } : 200));
});
afterAll(async () => {
  await server.close();
  await api.stop();
});

const api$ = (name: string) => ({ name, targetUrl: 'http://orders.example/api' });

describe('definitions per application', () => {
  it('refuses one more API or event than MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION with a 409 problem naming the limit', async () => {
    const { client } = await pairedApplication(api);
    expect((await client.request('POST', '/v1/application/apis', api$('orders'))).status).toBe(201);
    expect((await client.request('POST', '/v1/application/apis', api$('invoices'))).status).toBe(201);
    const event = await client.request('POST', '/v1/application/events', { name: 'order-created' });
    expect(event.status).toBe(201);

    const refused = await client.request('POST', '/v1/application/events', { name: 'order-shipped' });
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body.detail).toContain(`MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION = ${MAX_DEFINITIONS}`);
    expect((await client.request('POST', '/v1/application/apis', api$('payments'))).status).toBe(409);

    // Replacing one adds nothing; deleting one makes room.
    expect((await client.request('PUT', `/v1/application/events/${event.body.id}`, { name: 'order-created', description: 'v2' })).status).toBe(200);
    expect((await client.request('DELETE', `/v1/application/events/${event.body.id}`)).status).toBe(204);
    expect((await client.request('POST', '/v1/application/events', { name: 'order-shipped' })).status).toBe(201);
    client.close();
  });

  it('lets no burst of concurrent registrations overshoot the limit', async () => {
    const { client } = await pairedApplication(api);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => client.request('POST', '/v1/application/apis', api$(`api-${i}`))));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(MAX_DEFINITIONS);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(10 - MAX_DEFINITIONS);
    expect((await client.request('GET', '/v1/application/apis')).body.items).toHaveLength(MAX_DEFINITIONS);
    client.close();
  });
});

describe('webhooks per application', () => {
  it('refuses one more webhook than MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION with a 409 problem naming the limit', async () => {
    const { client } = await pairedApplication(api);
    const add = () => client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: server.url });
    const added = [await add(), await add(), await add()];
    expect(added.map((a) => a.status)).toEqual([201, 201, 201]);

    const refused = await add();
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body.detail).toContain(`MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION = ${MAX_WEBHOOKS}`);

    expect((await client.request('DELETE', `/v1/application/webhooks/${added[0]!.body.id}`)).status).toBe(204);
    expect((await add()).status).toBe(201);
    client.close();
  });

  it('lets no burst of concurrent additions overshoot the limit', async () => {
    const { client } = await pairedApplication(api);
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: server.url })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(MAX_WEBHOOKS);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(10 - MAX_WEBHOOKS);
    expect((await client.request('GET', '/v1/application/webhooks')).body.items).toHaveLength(MAX_WEBHOOKS);
    client.close();
  });
});

describe('notification fan-out', () => {
  it('delivers one notification to many webhooks, at most 5 at a time', async () => {
    const { tenant } = await createTenant(api.pool);
    const app = await createApplication(api.pool, tenant.id, { name: uniqueName('app') });
    let inFlight = 0;
    let most = 0;
    const slow = await receiver(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 300));
      inFlight--;
      return 200;
    });
    // Twelve webhooks, written directly: more than this API's limit allows through the API.
    for (let i = 0; i < 12; i++) await insertWebhook(api.pool, { id: randomUUID(), tenantId: tenant.id, applicationId: app.id, type: 'CONFIGURATION_CHANGED', url: `${slow.url}/hook${i}` });
    const input: NotifyInput = {
      tenantId: tenant.id,
      applicationId: app.id,
      eventId: uniqueName('event'),
      event: { type: 'configuration.changed', runtime: { id: app.id, name: 'rt', eventUrl: null }, configVersion: 1, occurredAt: new Date().toISOString() },
    };

    const outcomes = await api.temporal.workflow.execute('notifyApplication', { taskQueue: api.taskQueue, workflowId: uniqueName('notify'), args: [input] });

    expect(outcomes).toHaveLength(12);
    expect(outcomes.every((o: { state: string }) => o.state === 'DELIVERED')).toBe(true);
    expect(new Set(slow.requests.map((r) => r.url)).size).toBe(12);
    expect(most).toBeLessThanOrEqual(5);
    expect(most).toBeGreaterThan(1);
    await slow.close();
  });
});

describe('spec validation', () => {
  it('ends FAILED when validation takes longer than the time limit, while the worker stays responsive', async () => {
    const { client, adminToken } = await pairedApplication(api);
    const registering = client.request('POST', '/v1/application/events', { name: 'huge', spec: { type: 'ASYNCAPI', format: 'JSON', fetchUrl: `${server.url}/huge.json` } });
    // The API and the worker share this process: its event loop answers while the spec is validated.
    const latencies: number[] = [];
    let done = false;
    void registering.finally(() => (done = true));
    while (!done) {
      const started = Date.now();
      expect((await call(`${api.url}/healthz`)).status).toBe(200);
      latencies.push(Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const res = await registering;

    expect(res.status).toBe(201);
    expect(res.body.spec).toMatchObject({ status: 'FAILED', message: `spec validation took longer than ${VALIDATION_TIMEOUT_MS / 1000} s` });
    const op = await call(`${api.url}/v1/operations/${res.body.operationId}`, { token: adminToken });
    expect(op.body).toMatchObject({ state: 'FAILED', message: `spec validation took longer than ${VALIDATION_TIMEOUT_MS / 1000} s` });
    expect(Math.max(...latencies)).toBeLessThan(1_000);

    // The terminated thread is replaced: the next spec validates.
    const next = await client.request('POST', '/v1/application/apis', { ...api$('odata'), spec: { type: 'ODATA', format: 'XML', data: odataEdmx } });
    expect(next.body.spec).toMatchObject({ status: 'SUCCEEDED', message: 'OData EDMX 4.0' });
    client.close();
  });
});

describe('UNUSED credential slots', () => {
  it('are removed by the reconciler once MERIDIAN_UNUSED_SLOT_RETENTION_DAYS (30) have passed, and no other slot is', async () => {
    const { tenant } = await createTenant(api.pool);
    const app = await createApplication(api.pool, tenant.id, { name: uniqueName('app') });
    const runtime = await createRuntime(api.pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated', scenarios: ['DEFAULT'] });
    const owner = { tenantId: tenant.id, applicationId: app.id, kind: 'API' as const };
    const [expired, recent, kept] = [
      await insertDefinition(api.pool, owner, api$('expired')),
      await insertDefinition(api.pool, owner, api$('recent')),
      await insertDefinition(api.pool, owner, api$('kept')),
    ];
    // Deleting an API leaves its slots UNUSED; the third API's slot stays PENDING.
    await deleteDefinition(api.pool, owner, expired!.id);
    await deleteDefinition(api.pool, owner, recent!.id);
    const age = (apiId: string, days: number) =>
      api.pool.query(`UPDATE credential_slots SET updated_at = now() - make_interval(days => $2) WHERE api_id = $1`, [apiId, days]);
    await age(expired!.id, 31);
    await age(recent!.id, 29);
    await age(kept!.id, 31);
    const slots = async () =>
      Object.fromEntries(
        (await api.pool.query<{ api_id: string; status: string }>('SELECT api_id, status FROM credential_slots WHERE runtime_id = $1', [runtime.id])).rows.map((r) => [r.api_id, r.status]),
      );
    expect(await slots()).toEqual({ [expired!.id]: 'UNUSED', [recent!.id]: 'UNUSED', [kept!.id]: 'PENDING' });

    const scope = uniqueName('scope');
    expect(await ensureReconciler(api.temporal, api.taskQueue, { scope, tenantIds: [tenant.id], intervalSeconds: 1 })).toBe('started');
    const reconciler = api.temporal.workflow.getHandle(workflowId.reconciler(scope));
    try {
      await expect.poll(async () => (await reconciler.query(reconcilerStatus)).totals.unusedSlotsRemoved, { timeout: 30_000 }).toBe(1);
      expect(await slots()).toEqual({ [recent!.id]: 'UNUSED', [kept!.id]: 'PENDING' });
    } finally {
      await reconciler.terminate('test finished');
    }
  });
});
