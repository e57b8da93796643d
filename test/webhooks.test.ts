import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MtlsClient } from '../client/connector.js';
import { createRuntime } from '../db/runtimes.js';
import { runtimeEventFanOut } from '../workflows/fan-out.js';
import { notifyApplication, type NotificationEvent } from '../workflows/notify.js';
import { call, historyText, pairedApplication, receiver, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
});
afterAll(() => api.stop());

const SECRET = 'webhook-secret-0123456789';
const event = (runtimeId = '00000000-0000-4000-8000-000000000001'): NotificationEvent => ({
  type: 'runtime.connected',
  runtime: { id: runtimeId, name: 'edge-1', eventUrl: 'http://127.0.0.1:9/events' },
  configVersion: 3,
  occurredAt: '2026-11-27T12:00:00.000Z',
});

async function withWebhook(client: MtlsClient, url: string, secret?: string) {
  const res = await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url, ...(secret && { secret }) });
  expect(res.status).toBe(201);
  return res.body;
}

const notify = (tenantId: string, applicationId: string, eventId = uniqueName('evt')) =>
  api.temporal.workflow.execute(notifyApplication, {
    workflowId: `notify:${applicationId}:${eventId}`,
    taskQueue: api.taskQueue,
    args: [{ tenantId, applicationId, eventId, event: event() }],
  });

describe('webhook delivery', () => {
  it('POSTs the event as docs/api.md specifies, signed with the secret, and records it DELIVERED', async () => {
    const target = await receiver();
    const { app, client, tenant, adminToken } = await pairedApplication(api);
    const webhook = await withWebhook(client, `${target.url}/hooks`, SECRET);
    expect(webhook).toMatchObject({ hasSecret: true, url: `${target.url}/hooks` });
    expect(JSON.stringify(webhook)).not.toContain(SECRET);

    const eventId = uniqueName('evt');
    const outcomes = await notify(tenant.id, app.id, eventId);
    expect(outcomes).toEqual([{ deliveryId: expect.any(String), state: 'DELIVERED' }]);
    expect(target.requests).toHaveLength(1);
    const [request] = target.requests;
    const body = JSON.parse(request!.body);
    expect(body).toEqual({ id: outcomes[0]!.deliveryId, applicationId: app.id, ...event() });
    expect(request!.headers['meridian-delivery']).toBe(outcomes[0]!.deliveryId);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['meridian-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(request!.body).digest('hex')}`);

    const deliveries = await call(`${api.url}/v1/applications/${app.id}/deliveries`, { token: adminToken });
    expect(deliveries.body.items).toEqual([
      expect.objectContaining({ id: outcomes[0]!.deliveryId, eventId, eventType: 'runtime.connected', state: 'DELIVERED', attempts: 1, lastStatus: 200 }),
    ]);
    const listed = await call(`${api.url}/v1/applications/${app.id}/webhooks`, { token: adminToken });
    expect(listed.body.items).toEqual([webhook]);
    expect(listed.text).not.toContain(SECRET);
    const history = await historyText(api.temporal.workflow.getHandle(`notify:${app.id}:${eventId}`));
    expect(history).toContain(app.id);
    expect(history).not.toContain(SECRET);
    expect(api.log.text).not.toContain(SECRET);
    client.close();
    await target.close();
  });

  it('retries a receiver that answers 500 twice: delivered on the third attempt with the same delivery id', async () => {
    let calls = 0;
    const target = await receiver(() => (++calls <= 2 ? 500 : 204));
    const { app, client, tenant, adminToken } = await pairedApplication(api);
    await withWebhook(client, target.url);
    const outcomes = await notify(tenant.id, app.id);
    expect(outcomes[0]!.state).toBe('DELIVERED');
    expect(target.requests.map((r) => r.headers['meridian-delivery'])).toEqual(Array(3).fill(outcomes[0]!.deliveryId));
    expect(target.requests[0]!.headers['meridian-signature']).toBeUndefined();
    const deliveries = await call(`${api.url}/v1/applications/${app.id}/deliveries`, { token: adminToken });
    expect(deliveries.body.items[0]).toMatchObject({ state: 'DELIVERED', attempts: 3, lastStatus: 204 });
    client.close();
    await target.close();
  });

  it('disables a webhook whose receiver answers 410 Gone', async () => {
    const target = await receiver(() => 410);
    const { app, client, tenant } = await pairedApplication(api);
    const webhook = await withWebhook(client, target.url);
    const outcomes = await notify(tenant.id, app.id);
    expect(outcomes[0]!.state).toBe('FAILED');
    expect(target.requests).toHaveLength(1);
    const after = (await client.request('GET', `/v1/application/webhooks/${webhook.id}`)).body;
    expect(after.disabled).toMatchObject({ reason: 'the receiver answered 410 Gone' });
    expect(await notify(tenant.id, app.id)).toEqual([]);
    client.close();
    await target.close();
  });

  it('does not deliver one event twice', async () => {
    const target = await receiver();
    const { client, tenant } = await pairedApplication(api);
    await withWebhook(client, target.url);
    const runtime = await createRuntime(api.pool, tenant.id, { name: uniqueName('rt'), scenarios: ['DEFAULT'] });
    const eventId = uniqueName('evt');
    const fanOut = (id: string) =>
      api.temporal.workflow.execute(runtimeEventFanOut, {
        workflowId: id,
        taskQueue: api.taskQueue,
        args: [{ tenantId: tenant.id, runtimeId: runtime.id, eventId, event: event(runtime.id) }],
      });
    await fanOut(uniqueName('fan'));
    await fanOut(uniqueName('fan'));
    await expect.poll(() => target.requests.length, { timeout: 10_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(target.requests).toHaveLength(1);
    client.close();
    await target.close();
  });
});

describe('fan-out', () => {
  it('reaches exactly the applications in shared scenarios of the same tenant', async () => {
    const target = await receiver();
    const inScenario = await pairedApplication(api);
    const token = inScenario.adminToken;
    const scenario = uniqueName('S');
    await call(`${api.url}/v1/scenarios`, { token, body: { name: scenario } });
    await call(`${api.url}/v1/applications/${inScenario.app.id}/scenarios`, { method: 'PUT', token, body: [scenario] });
    await withWebhook(inScenario.client, `${target.url}/shared`);

    const outside = await pairedApplication(api); // another tenant, DEFAULT scenario
    await withWebhook(outside.client, `${target.url}/other-tenant`);
    await call(`${api.url}/v1/scenarios`, { token: outside.adminToken, body: { name: scenario } });
    await call(`${api.url}/v1/applications/${outside.app.id}/scenarios`, { method: 'PUT', token: outside.adminToken, body: [scenario] });

    const sameTenantOtherScenario = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('app') } })).body;
    await api.pool.query("INSERT INTO webhooks (tenant_id, application_id, type, url) VALUES ($1, $2, 'CONFIGURATION_CHANGED', $3)", [
      inScenario.tenant.id,
      sameTenantOtherScenario.id,
      `${target.url}/other-scenario`,
    ]);

    const runtime = await createRuntime(api.pool, inScenario.tenant.id, { name: uniqueName('rt'), scenarios: [scenario] });
    const notified = await api.temporal.workflow.execute(runtimeEventFanOut, {
      workflowId: uniqueName('fan'),
      taskQueue: api.taskQueue,
      args: [{ tenantId: inScenario.tenant.id, runtimeId: runtime.id, eventId: uniqueName('evt'), event: event(runtime.id) }],
    });
    expect(notified).toEqual([inScenario.app.id]);
    await expect.poll(() => target.requests.map((r) => r.url), { timeout: 10_000 }).toEqual(['/shared']);
    inScenario.client.close();
    outside.client.close();
    await target.close();
  });
});

describe('webhook endpoints', () => {
  it.each([
    ['an unknown type', { type: 'RUNTIME_READY', url: 'http://x.example' }, 'type'],
    ['a missing url', { type: 'CONFIGURATION_CHANGED' }, 'url'],
    ['an ftp url', { type: 'CONFIGURATION_CHANGED', url: 'ftp://x.example' }, 'url'],
    ['a short secret', { type: 'CONFIGURATION_CHANGED', url: 'http://x.example', secret: 'short' }, 'secret'],
    ['an unknown field', { type: 'CONFIGURATION_CHANGED', url: 'http://x.example', headers: {} }, 'headers'],
  ])('refuses %s', async (_title, body, path) => {
    const { client } = await pairedApplication(api);
    const res = await client.request('POST', '/v1/application/webhooks', body);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect((await client.request('GET', '/v1/application/webhooks')).body.items).toEqual([]);
    client.close();
  });

  it('keeps webhooks and deliveries within their application and tenant', async () => {
    const a = await pairedApplication(api);
    const b = await pairedApplication(api);
    const hook = await withWebhook(a.client, 'http://127.0.0.1:9/hook');
    expect((await b.client.request('GET', `/v1/application/webhooks/${hook.id}`)).status).toBe(404);
    expect((await b.client.request('DELETE', `/v1/application/webhooks/${hook.id}`)).status).toBe(404);
    expect((await call(`${api.url}/v1/applications/${a.app.id}/webhooks`, { token: b.adminToken })).status).toBe(404);
    expect((await call(`${api.url}/v1/applications/${a.app.id}/deliveries`, { token: b.adminToken })).status).toBe(404);
    expect((await call(`${api.url}/v1/applications/${a.app.id}/deliveries?limit=0`, { token: a.adminToken })).status).toBe(400);
    expect((await a.client.request('DELETE', `/v1/application/webhooks/${hook.id}`)).status).toBe(204);
    a.client.close();
    b.client.close();
  });

  it('admin lists need a token', async () => {
    expect((await call(`${api.url}/v1/applications/00000000-0000-4000-8000-000000000000/deliveries`)).status).toBe(401);
  });
});
