// Delivery replay: deliveries sent again, long after their notification gave up, with the same id.
// The API runs against the time-skipping environment, so a delivery really fails for 24 hours first.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApi, type RunningApi } from '../api/server.js';
import { runCli } from '../cli/program.js';
import { pointInTime } from '../cli/commands/deliveries.js';
import { MtlsClient, saveCredentials } from '../client/connector.js';
import { createPool } from '../db/pool.js';
import { disableWebhook } from '../db/webhooks.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { clientSubject, issue, subjectFields } from '../trust/ca.js';
import { notifyApplication, type NotificationEvent, type NotifyInput } from '../workflows/notify.js';
import { CapturedLog, call, createTenant, receiver, tempDir, testCa, testKeyring, testRegistration, timeSkippingWorker, uniqueName } from './helpers.js';

const TASK_QUEUE = 'delivery-replay';
const HOUR = 3_600_000;
const SECRET = 'replay-secret-0123456789';
const connector = loadConfig({}).connector;
const ca = testCa();
const pool = createPool(inject('databaseUrl'));
let env: TestWorkflowEnvironment;
let stopWorker: () => Promise<void>;
let api: RunningApi;

beforeAll(async () => {
  ({ env, stop: stopWorker } = await timeSkippingWorker(TASK_QUEUE, pool));
  api = await startApi(
    {
      pool,
      temporal: env.client,
      logger: createLogger('info', new CapturedLog()),
      metrics: createMetrics(),
      ca,
      keyring: testKeyring(),
      connector,
      registration: testRegistration(),
      provisioning: loadConfig({}).provisioning,
      taskQueue: TASK_QUEUE,
      configHints: false,
    },
    { host: '127.0.0.1', port: 0, mtlsPort: 0, tlsHostnames: ['localhost', '127.0.0.1'] },
  );
});
afterAll(async () => {
  await api?.stop();
  await stopWorker?.();
  await pool.end();
});

// One key for every application certificate of this file: issuing is cheap, generating keys is not.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** A new tenant's application, its admin token and an mTLS client with its certificate (issued by the run's CA, as pairing would). */
async function application() {
  const { tenant, token } = await createTenant(pool);
  const created = await call(`${api.urls.public}/v1/applications`, { token, body: { name: uniqueName('app') } });
  expect(created.status).toBe(201);
  const app: { id: string } = created.body;
  const certificate = issue(ca, {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    subject: subjectFields(clientSubject('application', app.id, tenant.id, connector.subjectExtras)),
    validityDays: 1,
    usage: 'client',
  });
  const credentials = { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificate: certificate.pem, caCertificate: ca.certPem, mtlsBaseUrl: api.urls.mtls };
  const client = new MtlsClient(credentials);
  const admin = (method: string, urlPath: string, body?: unknown) => call(`${api.urls.public}${urlPath}`, { method, token, body });
  return { tenant, token, app, client, credentials, admin };
}

/** A receiver that answers 500 until `up()`, then 200; and the caller's webhook to it, signed with SECRET. */
async function webhookTo(client: MtlsClient) {
  let healthy = false;
  const target = await receiver(() => (healthy ? 200 : 500));
  const added = await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: target.url, secret: SECRET });
  expect(added.status).toBe(201);
  return { target, webhookId: added.body.id as string, up: () => (healthy = true), down: () => (healthy = false) };
}

const event = (configVersion: number): NotificationEvent => ({
  type: 'configuration.changed',
  runtime: { id: '00000000-0000-4000-8000-000000000001', name: 'edge-1', eventUrl: 'http://127.0.0.1:9/events' },
  configVersion,
  occurredAt: '2026-11-27T12:00:00.000Z',
});

const notifyOptions = (tenantId: string, applicationId: string, configVersion = 1) => {
  const eventId = uniqueName('evt');
  return { workflowId: `notify:${applicationId}:${eventId}`, taskQueue: TASK_QUEUE, args: [{ tenantId, applicationId, eventId, event: event(configVersion) }] as [NotifyInput] };
};

/** Runs one notification of the application to its end (24 hours of workflow time when the receiver stays down). */
const notify = async (tenantId: string, applicationId: string, configVersion = 1) => {
  const [outcome] = await env.client.workflow.execute(notifyApplication, notifyOptions(tenantId, applicationId, configVersion));
  return outcome!;
};

/** The result of a redelivery workflow (time skips while it is awaited). */
const redelivered = (workflowId: string) => env.client.workflow.getHandle(workflowId).result() as Promise<Array<{ deliveryId: string; state: string }>>;

const deliveryRow = async (id: string) => (await pool.query('SELECT state, attempts, redeliveries, redelivery_workflow_id FROM deliveries WHERE id = $1', [id])).rows[0];

const signatureOf = (raw: string) => `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;

describe('delivery replay', () => {
  it('redelivers a delivery that failed for 24 hours, with the same id in header and body, the same body, signed', async () => {
    const { tenant, app, client, admin } = await application();
    const { target, up } = await webhookTo(client);
    const began = await env.currentTimeMs();

    const failed = await notify(tenant.id, app.id);
    expect(failed.state).toBe('FAILED');
    expect((await env.currentTimeMs()) - began).toBeGreaterThanOrEqual(24 * HOUR - 11 * 60_000);
    const before = (await admin('GET', `/v1/applications/${app.id}/deliveries`)).body.items[0];
    expect(before).toMatchObject({ id: failed.deliveryId, state: 'FAILED', lastStatus: 500, attempts: target.requests.length, redeliveries: 0, redeliveryWorkflowId: null });
    const original = target.requests[0]!;

    up();
    const res = await admin('POST', `/v1/applications/${app.id}/deliveries/${failed.deliveryId}/redelivery`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ delivery: { id: failed.deliveryId, state: 'PENDING', redeliveries: 1 }, workflowId: `redelivery:${failed.deliveryId}:1` });
    expect(await redelivered(res.body.workflowId)).toEqual([{ deliveryId: failed.deliveryId, state: 'DELIVERED' }]);

    const replay = target.requests[target.requests.length - 1]!;
    expect(target.requests).toHaveLength(before.attempts + 1);
    expect(replay.headers['meridian-delivery']).toBe(original.headers['meridian-delivery']);
    expect(replay.headers['meridian-delivery']).toBe(failed.deliveryId);
    expect(JSON.parse(replay.body).id).toBe(failed.deliveryId);
    expect(replay.body).toBe(original.body);
    expect(replay.headers['meridian-signature']).toBe(signatureOf(replay.body));
    const after = (await admin('GET', `/v1/applications/${app.id}/deliveries`)).body.items[0];
    expect(after).toMatchObject({ state: 'DELIVERED', lastStatus: 200, attempts: before.attempts + 1, redeliveries: 1, redeliveryWorkflowId: res.body.workflowId });
    await target.close();
  });

  it('redelivers every FAILED delivery since a time, a page at most, and says where to continue', async () => {
    const { tenant, app, client, admin } = await application();
    const { target, up } = await webhookTo(client);
    const earlier = await notify(tenant.id, app.id, 1);
    const since: Date = (await pool.query('SELECT now() AS now')).rows[0].now;
    const [first, second] = [await notify(tenant.id, app.id, 2), await notify(tenant.id, app.id, 3)];
    expect([earlier.state, first.state, second.state]).toEqual(['FAILED', 'FAILED', 'FAILED']);
    up();
    const sent = target.requests.length;

    const page = await admin('POST', `/v1/applications/${app.id}/redeliveries`, { since: since.toISOString(), limit: 1 });
    expect(page.status).toBe(202);
    expect(page.body).toMatchObject({ scheduled: 1, deliveryIds: [first.deliveryId], more: true, skipped: { withoutEvent: 0, webhookDisabled: 0 } });
    expect(page.body.workflowId).toBe(`redeliveries:${app.id}:${first.deliveryId}:1`);
    expect(await redelivered(page.body.workflowId)).toEqual([{ deliveryId: first.deliveryId, state: 'DELIVERED' }]);

    const rest = await admin('POST', `/v1/applications/${app.id}/redeliveries`, { since: page.body.nextSince });
    expect(rest.status).toBe(202);
    expect(rest.body).toMatchObject({ scheduled: 1, deliveryIds: [second.deliveryId], more: false, nextSince: null });
    expect(await redelivered(rest.body.workflowId)).toEqual([{ deliveryId: second.deliveryId, state: 'DELIVERED' }]);

    const none = await admin('POST', `/v1/applications/${app.id}/redeliveries`, { since: since.toISOString() });
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ scheduled: 0, deliveryIds: [], workflowId: null, more: false });
    expect(target.requests.slice(sent).map((r) => r.headers['meridian-delivery'])).toEqual([first.deliveryId, second.deliveryId]);
    expect(await deliveryRow(earlier.deliveryId)).toMatchObject({ state: 'FAILED', redeliveries: 0 });
    await target.close();
  });

  it('lets the application redeliver its own deliveries over mTLS: the FAILED ones since a time, then a DELIVERED one again', async () => {
    const { tenant, app, client } = await application();
    const { target, up } = await webhookTo(client);
    const failed = await notify(tenant.id, app.id);
    expect(failed.state).toBe('FAILED');
    up();

    const batch = await client.request('POST', '/v1/application/redeliveries', { since: new Date(Date.now() - HOUR).toISOString(), until: new Date(Date.now() + HOUR).toISOString() });
    expect(batch.status).toBe(202);
    expect(batch.body).toMatchObject({ scheduled: 1, deliveryIds: [failed.deliveryId] });
    expect(batch.body.temporalUiUrl).toBeUndefined();
    expect(await redelivered(batch.body.workflowId)).toEqual([{ deliveryId: failed.deliveryId, state: 'DELIVERED' }]);

    const again = await client.request('POST', `/v1/application/deliveries/${failed.deliveryId}/redelivery`);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ delivery: { id: failed.deliveryId, state: 'PENDING', redeliveries: 2 }, workflowId: `redelivery:${failed.deliveryId}:2` });
    expect(await redelivered(again.body.workflowId)).toEqual([{ deliveryId: failed.deliveryId, state: 'DELIVERED' }]);
    const ids = target.requests.slice(-2).map((r) => [r.headers['meridian-delivery'], JSON.parse(r.body).id]);
    expect(ids).toEqual([
      [failed.deliveryId, failed.deliveryId],
      [failed.deliveryId, failed.deliveryId],
    ]);
    expect(await deliveryRow(failed.deliveryId)).toMatchObject({ state: 'DELIVERED', redeliveries: 2, attempts: target.requests.length });
    client.close();
    await target.close();
  });

  it("answers 404 for another tenant's delivery or application, and another application's delivery, changing nothing", async () => {
    const owner = await application();
    const { target, up } = await webhookTo(owner.client);
    up();
    const delivered = await notify(owner.tenant.id, owner.app.id);
    const stranger = await application();

    const viaOwnApp = await stranger.admin('POST', `/v1/applications/${stranger.app.id}/deliveries/${delivered.deliveryId}/redelivery`);
    const viaForeignApp = await stranger.admin('POST', `/v1/applications/${owner.app.id}/deliveries/${delivered.deliveryId}/redelivery`);
    const foreignBatch = await stranger.admin('POST', `/v1/applications/${owner.app.id}/redeliveries`, { since: '2020-01-01T00:00:00Z' });
    const viaCertificate = await stranger.client.request('POST', `/v1/application/deliveries/${delivered.deliveryId}/redelivery`);
    expect([viaOwnApp.status, viaForeignApp.status, foreignBatch.status, viaCertificate.status]).toEqual([404, 404, 404, 404]);
    expect(viaOwnApp.body.detail).toBe('no such delivery');
    expect(viaForeignApp.body.detail).toBe('no such application');
    expect(viaCertificate.body).toMatchObject({ status: 404, detail: 'no such delivery' });
    // Another application of the same tenant cannot reach it either.
    const sibling = await owner.admin('POST', '/v1/applications', { name: uniqueName('app') });
    const viaSibling = await owner.admin('POST', `/v1/applications/${sibling.body.id}/deliveries/${delivered.deliveryId}/redelivery`);
    expect(viaSibling.status).toBe(404);
    expect(await deliveryRow(delivered.deliveryId)).toMatchObject({ state: 'DELIVERED', redeliveries: 0, redelivery_workflow_id: null });
    owner.client.close();
    stranger.client.close();
    await target.close();
  });

  it('refuses with 409 a delivery still PENDING, one made before deliveries kept their event, and one to a disabled webhook', async () => {
    const { tenant, app, client, admin } = await application();
    const { target, webhookId } = await webhookTo(client);
    // A notification still retrying (not awaited: no time skips), its delivery PENDING.
    const running = await env.client.workflow.start(notifyApplication, notifyOptions(tenant.id, app.id));
    let pending: string | undefined;
    await expect.poll(async () => (pending = (await pool.query("SELECT id FROM deliveries WHERE application_id = $1 AND state = 'PENDING'", [app.id])).rows[0]?.id), { timeout: 10_000 }).toBeDefined();
    const stillPending = await admin('POST', `/v1/applications/${app.id}/deliveries/${pending}/redelivery`);
    expect(stillPending.status).toBe(409);
    expect(stillPending.headers.get('content-type')).toContain('application/problem+json');
    expect(stillPending.body.detail).toMatch(/still being delivered \(PENDING\)/);
    expect((await client.request('POST', `/v1/application/deliveries/${pending}/redelivery`)).status).toBe(409);
    await running.terminate('the test is done with it');

    // A delivery from before 016_delivery_replay: no event stored.
    const old = await pool.query(
      "INSERT INTO deliveries (tenant_id, application_id, webhook_id, event_id, event_type, state, attempts) VALUES ($1, $2, $3, $4, 'runtime.connected', 'FAILED', 150) RETURNING id",
      [tenant.id, app.id, webhookId, uniqueName('evt')],
    );
    const withoutEvent = await admin('POST', `/v1/applications/${app.id}/deliveries/${old.rows[0].id}/redelivery`);
    expect(withoutEvent.status).toBe(409);
    expect(withoutEvent.body.detail).toMatch(/before Meridian kept what it sent \(migration 016_delivery_replay\)/);

    // A FAILED delivery whose webhook was disabled since (the receiver answered 410).
    const kept = await pool.query(
      `INSERT INTO deliveries (tenant_id, application_id, webhook_id, event_id, event_type, event, state, attempts)
       VALUES ($1, $2, $3, $4, 'configuration.changed', $5::json, 'FAILED', 150) RETURNING id`,
      [tenant.id, app.id, webhookId, uniqueName('evt'), JSON.stringify(event(1))],
    );
    await disableWebhook(pool, webhookId, 'the receiver answered 410 Gone');
    const disabled = await admin('POST', `/v1/applications/${app.id}/deliveries/${kept.rows[0].id}/redelivery`);
    expect(disabled.status).toBe(409);
    expect(disabled.body.detail).toMatch(/webhook is disabled \(the receiver answered 410 Gone\)/);

    // Every FAILED one since: neither can be sent, both are counted.
    const batch = await admin('POST', `/v1/applications/${app.id}/redeliveries`, { since: '2020-01-01T00:00:00Z' });
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ scheduled: 0, workflowId: null, skipped: { withoutEvent: 1, webhookDisabled: 1 } });
    client.close();
    await target.close();
  });

  it('refuses a second redelivery while the first is under way', async () => {
    const { tenant, app, client, admin } = await application();
    const { target } = await webhookTo(client);
    const failed = await notify(tenant.id, app.id);
    // The receiver is still down: the redelivery retries (in real time: nothing awaits it).
    const first = await admin('POST', `/v1/applications/${app.id}/deliveries/${failed.deliveryId}/redelivery`);
    expect(first.status).toBe(202);
    const second = await admin('POST', `/v1/applications/${app.id}/deliveries/${failed.deliveryId}/redelivery`);
    expect(second.status).toBe(409);
    expect(second.body.detail).toMatch(/PENDING/);
    await env.client.workflow.getHandle(first.body.workflowId).terminate('the test is done with it');
    client.close();
    await target.close();
  });
});

describe('delivery replay: bad input', () => {
  it('answers 400 problem+json naming the field for every new endpoint, 401 without credentials', async () => {
    const { app, client, admin } = await application();
    const deliveryId = '00000000-0000-4000-8000-000000000009';
    const expectProblem = (res: { status: number; body: { errors?: Array<{ path: string }> } }, status: number, field?: string) => {
      expect(res.status).toBe(status);
      if (field) expect(res.body.errors?.map((e) => e.path)).toContain(field);
    };
    expectProblem(await admin('POST', `/v1/applications/not-a-uuid/deliveries/${deliveryId}/redelivery`), 400, 'path.id');
    expectProblem(await admin('POST', `/v1/applications/${app.id}/deliveries/not-a-uuid/redelivery`), 400, 'path.deliveryId');
    expectProblem(await admin('POST', `/v1/applications/${app.id}/deliveries/${deliveryId}/redelivery`), 404);
    const batch = (body: unknown) => admin('POST', `/v1/applications/${app.id}/redeliveries`, body);
    expectProblem(await batch({}), 400, 'since');
    expectProblem(await batch({ since: 'yesterday' }), 400, 'since');
    expectProblem(await batch({ since: '2026-05-01' }), 400, 'since');
    expectProblem(await batch({ since: '2026-05-02T00:00:00Z', until: '2026-05-01T00:00:00Z' }), 400, 'until');
    expectProblem(await batch({ since: '2026-05-01T00:00:00Z', until: '2026-05-01T00:00:00Z' }), 400, 'until');
    expectProblem(await batch({ since: '2026-05-01T00:00:00Z', limit: 0 }), 400, 'limit');
    expectProblem(await batch({ since: '2026-05-01T00:00:00Z', limit: 1001 }), 400, 'limit');
    expectProblem(await batch({ since: '2026-05-01T00:00:00Z', state: 'DELIVERED' }), 400, 'state');
    expectProblem(await batch([]), 400);
    const text = await call(`${api.urls.public}/v1/applications/${app.id}/redeliveries`, { token: 'x', rawBody: 'since=now', contentType: 'text/plain' });
    expect(text.status).toBe(415);
    const anonymous = await call(`${api.urls.public}/v1/applications/${app.id}/redeliveries`, { body: { since: '2026-05-01T00:00:00Z' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
    // An offset is RFC 3339 too.
    expect((await batch({ since: '2026-05-01T02:00:00+02:00' })).status).toBe(200);

    expectProblem(await client.request('POST', '/v1/application/deliveries/not-a-uuid/redelivery'), 400, 'path.deliveryId');
    expectProblem(await client.request('POST', '/v1/application/redeliveries', {}), 400, 'since');
    expectProblem(await client.request('POST', '/v1/application/redeliveries', { since: 42 }), 400, 'since');
    expectProblem(await client.request('POST', '/v1/application/redeliveries', { since: '2026-05-02T00:00:00Z', until: '2026-05-01T00:00:00Z' }), 400, 'until');
    const withoutCertificate = await call(`${api.urls.public}/v1/application/redeliveries`, { body: { since: '2026-05-01T00:00:00Z' } });
    expect(withoutCertificate.status).toBe(401);
    client.close();
  });
});

describe('meridian app|webhook redeliver', () => {
  const run = async (env: NodeJS.ProcessEnv, ...args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), interactive: false }, env);
    return { code, stdout, stderr, json: () => JSON.parse(stdout) };
  };

  it('redelivers as the administrator and as the application, with examples in --help and usage errors for what is not a request', async () => {
    const { tenant, token, app, client, credentials } = await application();
    const { target, up } = await webhookTo(client);
    up();
    const delivered = await notify(tenant.id, app.id);
    const dir = path.join(tempDir('replay-cli'), 'certs');
    saveCredentials(dir, credentials);
    const cliEnv = { MERIDIAN_URL: api.urls.public, MERIDIAN_TOKEN: token, MERIDIAN_APP_DIR: dir, MERIDIAN_TEMPORAL_UI: 'http://ui.test' };

    const listed = await run(cliEnv, 'app', 'deliveries', app.id);
    expect(listed.stdout).toContain(delivered.deliveryId);
    const asAdmin = await run(cliEnv, 'app', 'redeliver', app.id, delivered.deliveryId, '--json');
    expect(asAdmin.code).toBe(0);
    expect(asAdmin.json()).toMatchObject({ delivery: { id: delivered.deliveryId }, workflowId: `redelivery:${delivered.deliveryId}:1` });
    await redelivered(asAdmin.json().workflowId);
    const asApplication = await run(cliEnv, 'webhook', 'redeliver', delivered.deliveryId);
    expect(asApplication.code).toBe(0);
    expect(asApplication.stdout).toMatch(new RegExp(`workflow\\s+redelivery:${delivered.deliveryId}:2`));
    await redelivered(`redelivery:${delivered.deliveryId}:2`);
    const nothingFailed = await run(cliEnv, 'webhook', 'redeliver', '--failed-since', '24h');
    expect(nothingFailed.stdout).toMatch(/scheduled\s+0/);
    expect(target.requests.map((r) => r.headers['meridian-delivery'])).toEqual(Array(3).fill(delivered.deliveryId));

    expect((await run(cliEnv, 'app', 'redeliver', '--help')).stdout).toContain('meridian app redeliver billing --failed-since 24h');
    expect((await run(cliEnv, 'webhook', 'redeliver', '--help')).stdout).toContain('Examples:');
    const neither = await run(cliEnv, 'app', 'redeliver', app.id);
    expect([neither.code, neither.stderr]).toEqual([2, expect.stringContaining('give a <deliveryId>, or --failed-since')]);
    const both = await run(cliEnv, 'webhook', 'redeliver', delivered.deliveryId, '--failed-since', '1h');
    expect(both.code).toBe(2);
    const badTime = await run(cliEnv, 'webhook', 'redeliver', '--failed-since', 'yesterday');
    expect([badTime.code, badTime.stderr]).toEqual([2, expect.stringContaining('--failed-since must be an RFC 3339 time')]);
    expect(pointInTime('24h', '--failed-since', Date.parse('2026-05-02T00:00:00Z'))).toBe('2026-05-01T00:00:00.000Z');
    client.close();
    await target.close();
  });
});
