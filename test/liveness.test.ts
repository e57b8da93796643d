// Honest liveness (docs/architecture.md, "When a runtime last called"): a runtime whose agent stops
// calling becomes UNREACHABLE after the configured missed poll intervals, and CONNECTED again at its next
// call; applications sharing a scenario hear each transition once, with an event of its own.
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilFinished } from '../client/admin.js';
import { MtlsClient, loadCredentials } from '../client/connector.js';
import { markReachable, markUnreachable } from '../db/liveness.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { markSeen } from '../db/runtimes.js';
import { ensureTenant } from '../db/tenants.js';
import { ensureReconciler } from '../services/reconciler.js';
import { workflowId } from '../workflows/ids.js';
import { call, emptyDatabase, pairedApplication, receiver, startTestApi, uniqueName, type TestApi } from './helpers.js';

/**
 * Short settings, for this file's worker only: its API records calls every second (the test default),
 * so a runtime polling every 2 s is UNREACHABLE 3 × 2 + 1 = 7 s after its last call. The rest of the
 * suite's workers keep the default, and its reconcilers are scoped to their own tenants.
 */
const LIVENESS = { unreachableAfterIntervals: 3, recordingLagSeconds: 1 };
const POLL_SECONDS = 2;

let api: TestApi;
let hooks: Awaited<ReturnType<typeof receiver>>;
beforeAll(async () => {
  // Agents of the poll design: one that is terminated stops calling at once (a watching agent's
  // long-running activity would go on until its next heartbeat, minutes later).
  api = await startTestApi({ worker: true, provisioning: { agentDesign: 'poll' }, activities: { liveness: LIVENESS } });
  hooks = await receiver();
});
afterAll(async () => {
  await hooks.close();
  await api.stop();
});

type Paired = Awaited<ReturnType<typeof pairedApplication>>;

/** An application of a new tenant with a webhook on the receiver, under `/<prefix>-<applicationId>`. */
async function applicationWithWebhook(prefix: string): Promise<Paired & { hookPath: string }> {
  const paired = await pairedApplication(api);
  const hookPath = `/${prefix}-${paired.app.id}`;
  expect((await paired.client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${hooks.url}${hookPath}` })).status).toBe(201);
  return { ...paired, hookPath };
}

/** A simulated runtime of the tenant, polling every {@link POLL_SECONDS}, once CONNECTED. */
async function connectedRuntime(token: string, scenarios: string[]): Promise<{ id: string; eventUrl: string }> {
  const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated', scenarios, pollIntervalSeconds: POLL_SECONDS } });
  expect(created.status).toBe(202);
  expect(await untilFinished(api.url, token, created.body.operation.id, { timeoutMs: 90_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });
  return (await call(`${api.url}/v1/runtimes/${created.body.runtime.id}`, { token })).body;
}

/** The runtime's own mTLS client: its key and certificate as the runtime host keeps them. */
const runtimeClient = (runtimeId: string) => new MtlsClient(loadCredentials(path.join(api.simulatedDir, runtimeId, 'credentials')));

/** Webhook bodies the receiver got under `hookPath`, in arrival order. */
const bodiesAt = (hookPath: string) => hooks.requests.filter((r) => r.url === hookPath).map((r) => JSON.parse(r.body) as { id: string; type: string; runtime: { id: string }; occurredAt: string });
const typesAt = (hookPath: string, runtimeId: string) => bodiesAt(hookPath).filter((b) => b.runtime.id === runtimeId).map((b) => b.type);
/** The first `n` event types the receiver got for the runtime, once it got `n`. */
async function firstTypes(hookPath: string, runtimeId: string, n: number): Promise<string[]> {
  await expect.poll(() => typesAt(hookPath, runtimeId).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(n);
  return typesAt(hookPath, runtimeId).slice(0, n);
}

const runtimeOf = async (token: string, id: string) => (await call(`${api.url}/v1/runtimes/${id}`, { token })).body;
const conditionOf = async (token: string, id: string) => (await runtimeOf(token, id)).status.condition as string;

describe('liveness transitions and their webhooks', () => {
  it('makes a runtime that stopped calling UNREACHABLE, tells the applications sharing a scenario, and makes it CONNECTED again at its next call', async () => {
    const a = await applicationWithWebhook('a');
    const scenario = uniqueName('S');
    expect((await call(`${api.url}/v1/scenarios`, { token: a.adminToken, body: { name: scenario } })).status).toBe(201);
    expect((await call(`${api.url}/v1/applications/${a.app.id}/scenarios`, { method: 'PUT', token: a.adminToken, body: [scenario] })).status).toBe(200);
    const b = await applicationWithWebhook('b');
    const [runtime, other] = await Promise.all([connectedRuntime(a.adminToken, [scenario]), connectedRuntime(b.adminToken, ['DEFAULT'])]);
    await expect.poll(() => typesAt(a.hookPath, runtime.id), { timeout: 30_000 }).toEqual(['runtime.connected']);

    const scope = uniqueName('liveness');
    expect(await ensureReconciler(api.temporal, api.taskQueue, { scope, tenantIds: [a.tenant.id, b.tenant.id], intervalSeconds: 1 })).toBe('started');
    try {
      // The runtime's agent stops: no more calls.
      await api.temporal.workflow.getHandle(workflowId.agent(runtime.id)).terminate('test: the runtime stops calling');
      const stopped = Date.now();
      await expect.poll(() => conditionOf(a.adminToken, runtime.id), { timeout: 30_000, interval: 250 }).toBe('UNREACHABLE');
      // Not before it missed its intervals: 3 × 2 s after its last call, which was at most one interval before the stop.
      expect(Date.now() - stopped).toBeGreaterThanOrEqual((LIVENESS.unreachableAfterIntervals - 1) * POLL_SECONDS * 1000);
      const unreachable = await runtimeOf(a.adminToken, runtime.id);
      expect(unreachable.status.message).toMatch(/^no call since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: missed 3 poll intervals of 2 s$/);
      expect(await firstTypes(a.hookPath, runtime.id, 2)).toEqual(['runtime.connected', 'runtime.unreachable']);
      // The application's configuration shows it, under a new configVersion; the overview counts it.
      const configuration = (await a.client.request('GET', '/v1/application/configuration')).body as { runtimes: Array<{ id: string; status: string }> };
      expect(configuration.runtimes.find((r) => r.id === runtime.id)?.status).toBe('UNREACHABLE');
      expect((await call(`${api.url}/v1/overview`, { token: a.adminToken })).body.runtimes).toEqual({ UNREACHABLE: 1 });

      // It calls again (a configuration request with its certificate): CONNECTED at once, and told.
      const client = runtimeClient(runtime.id);
      try {
        expect((await client.request('GET', '/v1/runtime/configuration')).status).toBe(200);
      } finally {
        client.close();
      }
      const back = await runtimeOf(a.adminToken, runtime.id);
      expect([back.status.condition, back.status.message]).toEqual(['CONNECTED', undefined]);
      expect((await call(`${api.url}/v1/overview`, { token: a.adminToken })).body.runtimes).toEqual({ CONNECTED: 1 });
      expect(await firstTypes(a.hookPath, runtime.id, 3)).toEqual(['runtime.connected', 'runtime.unreachable', 'runtime.reachable']);

      // Silent again: a second transition, a second event; a CONNECTED status report brings it back.
      await expect.poll(() => conditionOf(a.adminToken, runtime.id), { timeout: 30_000, interval: 250 }).toBe('UNREACHABLE');
      const reporter = runtimeClient(runtime.id);
      try {
        expect((await reporter.request('PUT', '/v1/runtime/status', { condition: 'CONNECTED', eventUrl: runtime.eventUrl })).status).toBe(200);
      } finally {
        reporter.close();
      }
      expect(await conditionOf(a.adminToken, runtime.id)).toBe('CONNECTED');
      // No more rounds: the runtime, still silent, would go on coming and going.
      await api.temporal.workflow.getHandle(workflowId.reconciler(scope)).terminate('test: no more rounds');
      // Each transition is an event of its own, delivered once. Deliveries of two events may cross (the
      // second comeback was announced at once, the second absence by a round): occurredAt orders them.
      await expect.poll(() => typesAt(a.hookPath, runtime.id).length, { timeout: 30_000 }).toBe(5);
      const bodies = bodiesAt(a.hookPath).filter((body) => body.runtime.id === runtime.id);
      expect(bodies.sort((x, y) => Date.parse(x.occurredAt) - Date.parse(y.occurredAt)).map((body) => body.type)).toEqual([
        'runtime.connected',
        'runtime.unreachable',
        'runtime.reachable',
        'runtime.unreachable',
        'runtime.reachable',
      ]);
      expect(new Set(bodies.map((body) => body.id)).size).toBe(bodies.length);
      for (const [n, type] of [[1, 'unreachable'], [2, 'reachable'], [3, 'unreachable'], [4, 'reachable']] as const) {
        expect((await api.temporal.workflow.getHandle(workflowId.fanOut(`runtime.${type}:${runtime.id}:${n}`)).describe()).status.name).toBe('COMPLETED');
      }
      expect((await api.pool.query('SELECT count(*)::int AS n FROM runtime_liveness_events WHERE runtime_id = $1', [runtime.id])).rows[0].n).toBe(0);
      // Each transition is in the tenant's audit trail: the reconciler's and the runtime's doing.
      const audit = await call(`${api.url}/v1/audit?resource=${encodeURIComponent(`/v1/runtimes/${runtime.id}`)}&limit=100`, { token: a.adminToken });
      const transitions = audit.body.items.filter((e: { action: string }) => e.action.startsWith('runtime-'));
      expect(transitions.map((e: { action: string; actor: string }) => `${e.action} ${e.actor}`).reverse()).toEqual([
        'runtime-unreachable workflow:reconciler',
        `runtime-reachable runtime:${runtime.id}`,
        'runtime-unreachable workflow:reconciler',
        `runtime-reachable runtime:${runtime.id}`,
      ]);

      // The other tenant's runtime kept calling: still CONNECTED, and its application heard of nothing else.
      expect(await conditionOf(b.adminToken, other.id)).toBe('CONNECTED');
      expect(typesAt(b.hookPath, other.id)).toEqual(['runtime.connected']);
      expect(bodiesAt(b.hookPath).every((body) => body.runtime.id === other.id)).toBe(true);
    } finally {
      await api.temporal.workflow
        .getHandle(workflowId.reconciler(scope))
        .terminate('test finished')
        .catch(() => undefined);
    }
  }, 180_000);
});

describe('liveness statements', () => {
  // A database of its own: the one row that says since when calls are recorded is this test's to set.
  let db: pg.Pool;
  let tenantId: string;
  beforeAll(async () => {
    db = createPool(await emptyDatabase());
    await migrate(db);
    tenantId = (await ensureTenant(db, uniqueName('tenant'))).id;
  });
  afterAll(() => db.end());

  const RULE = { afterIntervals: 3, lagSeconds: 1, limit: 100 };
  /** A runtime CONNECTED an hour ago, polling every second, never heard from since. */
  const silentRuntime = async () =>
    (
      await db.query<{ id: string }>(
        `INSERT INTO runtimes (tenant_id, name, provider, condition, condition_updated_at, poll_interval_seconds)
         VALUES ($1, $2, 'simulated', 'CONNECTED', now() - interval '1 hour', 1) RETURNING id`,
        [tenantId, uniqueName('rt')],
      )
    ).rows[0]!.id;
  const condition = async (id: string) => (await db.query<{ condition: string }>('SELECT condition FROM runtimes WHERE id = $1', [id])).rows[0]!.condition;

  it('marks nobody UNREACHABLE for calls missed while no API process was recording them', async () => {
    const id = await silentRuntime();
    // No API process ever flushed.
    expect(await markUnreachable(db, { ...RULE, tenantIds: [tenantId] })).toEqual([]);
    // One flushes now, after the plane was away: calls are counted from now.
    await markSeen(db, new Map());
    expect(await markUnreachable(db, { ...RULE, tenantIds: [tenantId] })).toEqual([]);
    // Recording for an hour, and flushed lately: the runtime missed its polls.
    await db.query(`UPDATE runtime_call_recording SET since = now() - interval '1 hour'`);
    expect(await markUnreachable(db, { ...RULE, tenantIds: [tenantId] })).toEqual([{ id, tenantId }]);
    // The last flush long ago: the plane is not listening now, so nobody else is marked.
    const other = await silentRuntime();
    await db.query(`UPDATE runtime_call_recording SET flushed_at = now() - interval '1 minute'`);
    expect(await markUnreachable(db, { ...RULE, tenantIds: [tenantId] })).toEqual([]);
    // The next flush starts recording again from now: still nobody.
    await markSeen(db, new Map(), 45);
    expect(await markUnreachable(db, { ...RULE, tenantIds: [tenantId] })).toEqual([]);
    expect(await condition(other)).toBe('CONNECTED');
  });

  it('makes each transition once when several processes try it at the same time', async () => {
    await db.query(`UPDATE runtime_call_recording SET since = now() - interval '1 hour', flushed_at = now()`);
    await db.query(`UPDATE runtimes SET condition = 'FAILED' WHERE tenant_id = $1`, [tenantId]);
    const id = await silentRuntime();
    const sweeps = await Promise.all([1, 2, 3].map(() => markUnreachable(db, { ...RULE, tenantIds: [tenantId] })));
    expect(sweeps.flat()).toEqual([{ id, tenantId }]);
    const calls = await Promise.all([1, 2, 3].map(() => markReachable(db, id)));
    expect(calls.filter(Boolean)).toHaveLength(1);
    expect(await condition(id)).toBe('CONNECTED');
    const { rows } = await db.query('SELECT transition, type FROM runtime_liveness_events WHERE runtime_id = $1 ORDER BY transition', [id]);
    expect(rows).toEqual([
      { transition: 1, type: 'runtime.unreachable' },
      { transition: 2, type: 'runtime.reachable' },
    ]);
  });
});
