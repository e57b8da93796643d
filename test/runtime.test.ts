import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MtlsClient, loadCredentials } from '../client/connector.js';
import type { temporal } from '@temporalio/proto';
import { agentStatus } from '../workflows/agent.js';
import { workflowId } from '../workflows/ids.js';
import { openApi30 } from './fixtures/specs.js';
import { call, createTenant, pairedApplication, stagesOf, receiver, startTestApi, uniqueName, type TestApi } from './helpers.js';

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

const waitForOperation = async (token: string, id: string, timeout = 90_000) => {
  await expect.poll(async () => (await call(`${api.url}/v1/operations/${id}`, { token })).body.state, { timeout, interval: 250 }).not.toBe('IN_PROGRESS');
  return (await call(`${api.url}/v1/operations/${id}`, { token })).body;
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0;
  } catch {
    return false;
  }
};

describe('runtime provisioning with the local provider, end to end', () => {
  it('provisions, connects, notifies, propagates configuration, and deprovisions', async () => {
    const inside = await pairedApplication(api);
    const token = inside.adminToken;
    const scenario = uniqueName('S');
    await call(`${api.url}/v1/scenarios`, { token, body: { name: scenario } });
    await call(`${api.url}/v1/applications/${inside.app.id}/scenarios`, { method: 'PUT', token, body: [scenario] });
    await inside.client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${hooks.url}/inside` });
    const outsideApp = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('out') } })).body;
    await api.pool.query("INSERT INTO webhooks (tenant_id, application_id, type, url) VALUES ($1, $2, 'CONFIGURATION_CHANGED', $3)", [
      inside.tenant.id,
      outsideApp.id,
      `${hooks.url}/outside`,
    ]);

    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), scenarios: [scenario], provider: 'local', pollIntervalSeconds: 600 } });
    expect(created.status).toBe(202);
    expect(created.body.operation).toMatchObject({ type: 'PROVISIONING', state: 'IN_PROGRESS' });
    const runtimeId: string = created.body.runtime.id;

    const op = await waitForOperation(token, created.body.operation.id);
    expect(op).toMatchObject({ state: 'SUCCEEDED', stage: 'FINISHED', workflowId: `provisioning:${runtimeId}` });
    expect(await stagesOf(api.temporal.workflow.getHandle(`provisioning:${runtimeId}`))).toEqual([
      'REGISTERING',
      'ISSUING_TOKEN',
      'PROVISIONING',
      'INJECTING',
      'WAITING_FOR_AGENT',
      'NOTIFYING',
      'FINISHED',
    ]);

    const runtime = (await call(`${api.url}/v1/runtimes/${runtimeId}`, { token })).body;
    expect(runtime.status.condition).toBe('CONNECTED');
    expect(runtime.eventUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/events$/);

    // The runtime process and its gateway; its certificate names it.
    const dir = path.join(api.runtimesDir, runtimeId);
    const { pid } = JSON.parse(fs.readFileSync(path.join(dir, 'process.json'), 'utf8'));
    expect(alive(pid)).toBe(true);
    const gateway = runtime.eventUrl.replace(/\/events$/, '');
    const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'credentials', 'client.crt'), 'utf8'));
    expect(cert.subject).toContain(`CN=${runtimeId}`);
    expect(cert.subject).toContain('OU=runtimes');
    expect(fs.statSync(path.join(dir, 'credentials', 'client.key')).mode & 0o777).toBe(0o600);
    await expect.poll(async () => (await call(`${gateway}/applied`)).body?.applications?.map((a: { id: string }) => a.id), { timeout: 10_000 }).toEqual([inside.app.id]);
    expect((await call(`${gateway}/events/${inside.app.name}`, { body: { hello: 'world' } })).status).toBe(202);
    expect((await call(`${gateway}/events/${outsideApp.name}`, { body: {} })).status).toBe(404);

    // runtime.connected reached the application in the scenario, and only it.
    await expect.poll(() => hooks.requests.filter((r) => r.url === '/inside').length, { timeout: 15_000 }).toBe(1);
    const connected = JSON.parse(hooks.requests.find((r) => r.url === '/inside')!.body);
    expect(connected).toMatchObject({ type: 'runtime.connected', applicationId: inside.app.id, runtime: { id: runtimeId, eventUrl: runtime.eventUrl } });
    expect(hooks.requests.filter((r) => r.url === '/outside')).toHaveLength(0);

    // A change hints the agent (configChanged, sent on the runtime's new configVersion): applied long before the 10-minute poll.
    const agent = api.temporal.workflow.getHandle(`agent:${runtimeId}`);
    const before = (await agent.query(agentStatus)).lastAppliedVersion;
    await inside.client.request('POST', '/v1/application/apis', { name: 'orders', targetUrl: 'http://orders.example', spec: { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(openApi30) } });
    await expect.poll(async () => (await call(`${gateway}/applied`)).body.applications[0]?.apis?.map((a: { name: string }) => a.name), { timeout: 10_000 }).toEqual(['orders']);
    const status = await agent.query(agentStatus);
    expect(status.lastAppliedVersion).toBeGreaterThan(before!);
    expect(status.consecutiveErrors).toBe(0);

    // Deprovisioning: certificates revoked, process stopped, state removed, applications told.
    const credentials = loadCredentials(path.join(dir, 'credentials'));
    const removed = await call(`${api.url}/v1/runtimes/${runtimeId}`, { method: 'DELETE', token });
    expect(removed.status).toBe(202);
    expect(await waitForOperation(token, removed.body.id)).toMatchObject({ type: 'DEPROVISIONING', state: 'SUCCEEDED' });
    expect(alive(pid)).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    expect((await call(`${api.url}/v1/runtimes/${runtimeId}`, { token })).status).toBe(404);
    const mtls = new MtlsClient(credentials);
    await expect.poll(async () => (await mtls.request('GET', '/v1/runtime')).status, { timeout: 3_000 }).toBe(401);
    mtls.close();
    // The API registered after the runtime connected opened a PENDING credential slot: configuration.changed.
    await expect.poll(() => hooks.requests.filter((r) => r.url === '/inside').map((r) => JSON.parse(r.body).type), { timeout: 15_000 }).toEqual([
      'runtime.connected',
      'configuration.changed',
      'runtime.removed',
    ]);
    inside.client.close();
  }, 180_000);
});

describe('simulated runtimes', () => {
  it('provision on the runtime host with their own certificate and agent, and deprovision', async () => {
    const { token } = await pairedApplication(api).then(async (paired) => {
      paired.client.close();
      return { token: paired.adminToken };
    });
    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('sim'), provider: 'simulated', scenarios: ['DEFAULT'] } });
    expect(created.status).toBe(202);
    const runtimeId = created.body.runtime.id;
    expect(await waitForOperation(token, created.body.operation.id)).toMatchObject({ state: 'SUCCEEDED' });
    const runtime = (await call(`${api.url}/v1/runtimes/${runtimeId}`, { token })).body;
    expect(runtime).toMatchObject({ provider: 'simulated', status: { condition: 'CONNECTED' } });
    expect(runtime.eventUrl).toMatch(new RegExp(`/runtimes/${runtimeId}/events$`));
    const applied = runtime.eventUrl.replace(/\/events$/, '/applied');
    await expect.poll(async () => (await call(applied)).body.applications.length, { timeout: 10_000 }).toBe(1);
    const credentialsDir = path.join(path.dirname(api.runtimesDir), 'simulated', runtimeId, 'credentials');
    const cert = new X509Certificate(fs.readFileSync(path.join(credentialsDir, 'client.crt'), 'utf8'));
    expect(cert.subject).toContain(`CN=${runtimeId}`);

    // The runtime's own endpoints: itself, and its configuration with ETag / 304.
    const mtls = new MtlsClient(loadCredentials(credentialsDir));
    expect((await mtls.request('GET', '/v1/runtime')).body).toMatchObject({ id: runtimeId, status: { condition: 'CONNECTED' } });
    const config = await mtls.request('GET', '/v1/runtime/configuration');
    expect(config.status).toBe(200);
    expect(config.headers.etag).toBe(`"${config.body.configVersion}"`);
    expect(config.body.applications.map((a: { name: string }) => a.name)).toHaveLength(1);
    expect((await mtls.request('GET', '/v1/runtime/configuration', undefined, { 'if-none-match': String(config.headers.etag) })).status).toBe(304);
    expect((await mtls.request('GET', '/v1/application')).status).toBe(403); // a runtime is not an application
    for (const [body, field] of [
      [{ condition: 'READY', eventUrl: 'http://x.example/events' }, 'condition'],
      [{ condition: 'CONNECTED', eventUrl: 'not a url' }, 'eventUrl'],
      [{ condition: 'CONNECTED' }, 'eventUrl'],
      [{ condition: 'CONNECTED', eventUrl: 'http://x.example/events', region: 'eu' }, 'region'],
    ] as const) {
      const res = await mtls.request('PUT', '/v1/runtime/status', body);
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
    expect((await mtls.request('PUT', '/v1/runtime/status', { condition: 'CONNECTED', eventUrl: 'x'.repeat(1024 * 1024 + 10) })).status).toBe(413);
    expect((await call(`${api.url}/v1/runtime/status`, { method: 'PUT', body: { condition: 'CONNECTED', eventUrl: 'http://x.example' } })).status).toBe(401);
    expect((await mtls.request('GET', '/v1/runtime')).body.eventUrl).toBe(runtime.eventUrl); // nothing changed
    mtls.close();
    const removed = await call(`${api.url}/v1/runtimes/${runtimeId}`, { method: 'DELETE', token });
    expect(await waitForOperation(token, removed.body.id)).toMatchObject({ state: 'SUCCEEDED' });
    expect((await call(applied)).body.applications).toEqual([]);
  }, 60_000);

  it("cost Temporal one activity task to provision (the provider's): the quick steps are local activities", async () => {
    const { token } = await createTenant(api.pool);
    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('sim'), provider: 'simulated' } });
    expect(await waitForOperation(token, created.body.operation.id)).toMatchObject({ state: 'SUCCEEDED' });
    const runtimeId = created.body.runtime.id;
    const handle = api.temporal.workflow.getHandle(workflowId.provisioning(runtimeId));
    await handle.result(); // the operation is SUCCEEDED a moment before the last marker is recorded
    const provisioning = await activitiesOf(handle);
    expect(provisioning.tasks).toEqual(['provisionRuntime']);
    // markRuntime ×4, issueRuntimeToken, injectRuntime, runtimeFacts ×2, finishOperation
    expect(provisioning.local).toBe(9);
    expect((await call(`${api.url}/v1/runtimes/${runtimeId}`, { token })).body.status.condition).toBe('CONNECTED');
  }, 60_000);
});

/** The activity tasks a workflow scheduled (by type) and how many local activities it recorded. */
async function activitiesOf(handle: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> }): Promise<{ tasks: string[]; local: number }> {
  const events = (await handle.fetchHistory()).events ?? [];
  return {
    tasks: events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
    local: events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
  };
}
