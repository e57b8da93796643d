// Agents that heal themselves (docs/architecture.md, "Recovery"): a runtime whose certificates all expired
// or were revoked while its agent was stopped gets a fresh one-time token through its provider and is
// CONNECTED again without an operator, with the recovery in the audit trail; a deprovisioned runtime is
// never recovered; an application in the same situation is DISCONNECTED with the one command that pairs
// it again.
//
// What time skipping can carry is time-skipped: the agent's recovery (scripted Meridian) and the recovery
// workflow's token re-injection and limit (real activities and PostgreSQL, a recording provider). The path
// end to end cannot be: a certificate's expiry is judged by the wall clock (TLS, PostgreSQL's now()), so
// it runs on the dev server with certificates valid for one minute and bounded waits.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RuntimeProvider } from '../activities/providers/provider.js';
import { createActivities } from '../activities/index.js';
import { repairCommand } from '../activities/recovery.js';
import { runCli } from '../cli/program.js';
import { untilFinished } from '../client/admin.js';
import { insertOperation } from '../db/operations.js';
import { createPool } from '../db/pool.js';
import { runtimesToRecover } from '../db/recovery.js';
import { createRuntime } from '../db/runtimes.js';
import { peekToken } from '../db/tokens.js';
import type { Injection } from '../runtime/files.js';
import type { AgentActivities } from '../runtime/activities.js';
import { startRuntimeHost } from '../runtime/host.js';
import { ensureReconciler } from '../services/reconciler.js';
import { agentStatus, runtimeAgent } from '../workflows/agent.js';
import { runtimeAttributes, workflowId } from '../workflows/ids.js';
import { recoveryStatus, runtimeReconnected, runtimeRecovery } from '../workflows/recovery.js';
import {
  call,
  createTenant,
  historyText,
  pairedApplication,
  startTestApi,
  tempDir,
  testActivityDeps,
  testOutbound,
  timeSkipping,
  timeSkippingWorker,
  uniqueName,
  workflowBundle,
  type TestApi,
} from './helpers.js';

const MINUTE = 60_000;
/** A made-up certificate's fingerprint (rows written straight into `certificates`). */
const fingerprintOf = (serial: string) => createHash('sha256').update(serial).digest('hex');

describe('a runtime agent whose certificate is refused (time-skipping)', () => {
  const AGENT = fileURLToPath(new URL('../workflows/agent.ts', import.meta.url));
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await timeSkipping();
  });
  afterAll(() => env?.teardown());

  /** A scripted Meridian: certificates of `lifeMs`; the first renewal is refused (it expired while the agent was stopped). */
  function refusingMeridian(lifeMs: number, tokenAfterMs: number) {
    const calls = { renewals: 0, reconnects: 0, reconnectedAt: 0, reports: 0, watches: 0 };
    let injectedAt = 0;
    const now = () => env.currentTimeMs();
    const life = (from: number) => ({ notBefore: new Date(from).toISOString(), notAfter: new Date(from + lifeMs).toISOString() });
    const activities: AgentActivities = {
      connectRuntime: async () => life(await now()),
      reconnectRuntime: async () => {
        calls.reconnects++;
        // No token until the plane's recovery injected one (`tokenAfterMs` after the refusal).
        if (!injectedAt || (await now()) < injectedAt) throw ApplicationFailure.retryable('no fresh connector token was injected yet', 'NotInjected');
        calls.reconnectedAt = await now();
        return life(calls.reconnectedAt);
      },
      reportConnected: async () => {
        calls.reports++;
        return { eventUrl: 'http://127.0.0.1:9/events' };
      },
      syncConfiguration: async () => ({ changed: false }),
      watchConfiguration: async ({ etag }) => {
        calls.watches++;
        return { changed: etag === undefined, etag: '"1"', configVersion: 1, digest: 'd1', applications: 0 };
      },
      renewCertificate: async () => {
        calls.renewals++;
        injectedAt = (await now()) + tokenAfterMs;
        throw ApplicationFailure.nonRetryable('the runtime certificate was refused: renewal: HTTP 401', 'CertificateRefused');
      },
    };
    return { calls, activities };
  }

  it('waits for the injected token, reconnects with it and reports CONNECTED again, after its certificate expired while it was stopped', async () => {
    // A certificate of 10 minutes, renewed at 7: the agent was "stopped" past its end, so the renewal is refused.
    const meridian = refusingMeridian(10 * MINUTE, 3 * MINUTE);
    const taskQueue = uniqueName('agent');
    // Its own bundle: workflowBundle() keeps one per file, the management plane's (the suites below).
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath: AGENT, activities: meridian.activities });
    const handle = await env.client.workflow.start(runtimeAgent, {
      workflowId: uniqueName('agent'),
      taskQueue,
      args: [{ runtimeId: 'rt', design: 'watch', pollIntervalMs: 30_000, connected: false, consecutiveErrors: 0, applies: 0, renewals: 0 }],
    });
    await worker.runUntil(async () => {
      const began = await env.currentTimeMs();
      await env.sleep('15 minutes');
      const status = await handle.query(agentStatus);
      expect(meridian.calls.renewals).toBe(1);
      // Recovered once the token was there (3 minutes after the refusal), not before; reported CONNECTED twice in all.
      expect(meridian.calls.reconnects).toBeGreaterThan(1);
      expect(meridian.calls.reconnectedAt - began).toBeGreaterThanOrEqual(10 * MINUTE);
      expect(meridian.calls.reports).toBe(2);
      expect(status).toMatchObject({ recoveries: 1, renewals: 0, connected: true });
      expect(status.recovering).toBeUndefined();
      expect(Date.parse(status.certificate!.notBefore)).toBe(meridian.calls.reconnectedAt);
      // It went on watching with the new certificate.
      const watchesThen = meridian.calls.watches;
      await env.sleep('2 minutes');
      expect(meridian.calls.watches).toBeGreaterThan(watchesThen);
      await handle.terminate();
    });
  });
});

describe('the recovery workflow (time-skipping, real activities)', () => {
  const TASK_QUEUE = 'recovery-time-skipping';
  const pool = createPool(inject('databaseUrl'));
  const injected: Array<{ runtimeId: string; token: string }> = [];
  /** A provider that records what it is handed. */
  const recording: RuntimeProvider = {
    taskQueue: () => 'nobody-polls-this',
    provision: async () => undefined,
    inject: async ({ runtimeId }, injection: Injection) => {
      injected.push({ runtimeId, token: injection.token! });
    },
    status: async () => 'RUNNING',
    deprovision: async () => undefined,
  };
  let env: TestWorkflowEnvironment;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    ({ env, stop } = await timeSkippingWorker(TASK_QUEUE, pool, () => ({ providers: { local: recording, simulated: recording } })));
  });
  afterAll(async () => {
    await stop();
    await pool.end();
  });

  const tokensOf = (runtimeId: string) => injected.filter((i) => i.runtimeId === runtimeId).map((i) => i.token);

  /** An UNREACHABLE runtime whose only certificate expired, its RECOVERY operation, and the start of its recovery. */
  async function lostRuntime(limitMs?: number) {
    // One look at the runtime every 20 minutes (the signal wakes it sooner): hours pass in few activities.
    const checkMs = 20 * MINUTE;
    const { tenant } = await createTenant(pool);
    const runtime = await createRuntime(pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated' });
    await pool.query(`UPDATE runtimes SET condition = 'UNREACHABLE' WHERE id = $1`, [runtime.id]);
    const serial = randomBytes(16).toString('hex');
    await pool.query(
      `INSERT INTO certificates (serial, tenant_id, object_kind, object_id, subject, fingerprint, not_before, not_after)
       VALUES ($1, $2, 'runtime', $3, 'CN=x', $4, now() - interval '2 days', now() - interval '1 day')`,
      [serial, tenant.id, runtime.id, fingerprintOf(serial)],
    );
    const [found] = await runtimesToRecover(pool, { tenantIds: [tenant.id], limit: 10 });
    expect(found).toMatchObject({ id: runtime.id, reason: expect.stringMatching(/^its certificate expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    const id = workflowId.recovery(runtime.id as string, 1);
    const op = await insertOperation(pool, { tenantId: tenant.id, type: 'RECOVERY', resourceId: runtime.id as string, stage: 'INJECTING', workflowId: id });
    const handle = await env.client.workflow.start(runtimeRecovery, {
      workflowId: id,
      taskQueue: TASK_QUEUE,
      args: [{ tenantId: tenant.id, runtimeId: runtime.id as string, provider: 'simulated', operationId: op.id, reason: found!.reason, limitMs, checkMs }],
      typedSearchAttributes: runtimeAttributes(tenant.id, runtime.id as string, 'INJECTING'),
    });
    // Its first token is injected at once.
    await expect.poll(() => tokensOf(runtime.id as string).length, { timeout: 10_000, interval: 50 }).toBe(1);
    return { tenant, runtimeId: runtime.id as string, op, handle };
  }



  it('injects a fresh token each time the previous one expired, and succeeds once the runtime is CONNECTED with a new certificate', async () => {
    const { tenant, runtimeId, op, handle } = await lostRuntime();
    await env.sleep('150 minutes');
    expect(await handle.query(recoveryStatus)).toMatchObject({ stage: 'WAITING_FOR_AGENT', injections: 3 });
    const tokens = tokensOf(runtimeId);
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens).size).toBe(3);
    // Only the last one is live: injecting a new one invalidates the one before.
    expect(await peekToken(pool, tokens[2]!, ['runtime'])).toMatchObject({ objectId: runtimeId, purpose: 'runtime' });
    expect(await peekToken(pool, tokens[0]!, ['runtime'])).toBeUndefined();
    const waiting = await pool.query('SELECT condition, condition_message FROM runtimes WHERE id = $1', [runtimeId]);
    expect(waiting.rows[0].condition_message).toMatch(new RegExp(`^its certificate expired at .*; recovering \\(operation ${op.id}\\)$`));

    // The agent exchanged the token: a new certificate, and its CONNECTED report (the API's signal).
    const serial = randomBytes(16).toString('hex');
    await pool.query(
      `INSERT INTO certificates (serial, tenant_id, object_kind, object_id, subject, fingerprint, not_before, not_after)
       VALUES ($1, $2, 'runtime', $3, 'CN=x', $4, now(), now() + interval '90 days')`,
      [serial, tenant.id, runtimeId, fingerprintOf(serial)],
    );
    await pool.query(`UPDATE runtimes SET condition = 'CONNECTED', condition_message = NULL WHERE id = $1`, [runtimeId]);
    await handle.signal(runtimeReconnected);
    expect(await handle.result()).toMatchObject({ stage: 'RECOVERED', injections: 3 });
    const operation = await pool.query('SELECT state, stage FROM operations WHERE id = $1', [op.id]);
    expect(operation.rows[0]).toEqual({ state: 'SUCCEEDED', stage: 'RECOVERED' });
    // No token in the workflow's history.
    const history = await historyText(handle);
    for (const token of tokens) expect(history).not.toContain(token);
  });

  it('gives up after its limit: the operation FAILED with why, the runtime says so, its tokens unusable', async () => {
    const { runtimeId, op, handle } = await lostRuntime(2 * 60 * MINUTE);
    const began = await env.currentTimeMs();
    expect(await handle.result()).toMatchObject({ stage: 'WAITING_FOR_AGENT', injections: 2 });
    expect((await env.currentTimeMs()) - began).toBeGreaterThanOrEqual(2 * 60 * MINUTE);
    const operation = await pool.query('SELECT state, message FROM operations WHERE id = $1', [op.id]);
    expect(operation.rows[0].state).toBe('FAILED');
    expect(operation.rows[0].message).toBe('the runtime did not connect again within 2 hours (2 one-time tokens injected through its provider)');
    const runtime = await pool.query('SELECT condition, condition_message FROM runtimes WHERE id = $1', [runtimeId]);
    expect(runtime.rows[0].condition).toBe('UNREACHABLE');
    expect(runtime.rows[0].condition_message).toMatch(/; recovery failed \(operation .*\): the runtime did not connect again within 2 hours/);
    for (const token of tokensOf(runtimeId)) expect(await peekToken(pool, token, ['runtime'])).toBeUndefined();
  });

  it('stops without injecting into a runtime that is being deprovisioned', async () => {
    const { runtimeId, handle } = await lostRuntime();
    await env.sleep('2 minutes');
    const before = tokensOf(runtimeId).length;
    await pool.query(`UPDATE runtimes SET condition = 'DEPROVISIONING' WHERE id = $1`, [runtimeId]);
    expect(await handle.result()).toMatchObject({ failed: 'nothing to recover: the runtime is DEPROVISIONING' });
    expect(tokensOf(runtimeId)).toHaveLength(before);
  });
});

/**
 * End to end on the dev server: certificates valid for {@link VALIDITY_SECONDS} (renewed at 70 % of their
 * life, counted from a minute before issuance: 24 s after it), agents of the poll design every
 * {@link POLL_SECONDS} s on a runtime host the test stops and starts, and a reconciler of the test's
 * tenants every second.
 */
const VALIDITY_SECONDS = 60;
const POLL_SECONDS = 2;

describe('recovery end to end (dev server, one-minute certificates)', () => {
  let api: TestApi;
  let connection: NativeConnection;
  let deps: ReturnType<typeof testActivityDeps>;
  let stopWorker: () => Promise<void>;
  let host: Awaited<ReturnType<typeof startRuntimeHost>> | undefined;
  const startHost = async () => {
    host = await startRuntimeHost({ connection, namespace: 'default', root: deps.simulatedDir, taskQueue: deps.hostQueue, outbound: testOutbound, agentDesign: 'poll' });
  };
  const stopHost = async () => {
    await host?.stop();
    host = undefined;
  };

  beforeAll(async () => {
    api = await startTestApi({ connector: { validityDays: VALIDITY_SECONDS / 86_400 }, provisioning: { agentDesign: 'poll' } });
    connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    deps = testActivityDeps(api.pool, api.temporal, { connector: api.connector, keyring: api.keyring, publicUrl: () => api.url });
    const worker = await Worker.create({ connection, taskQueue: api.taskQueue, workflowBundle: await workflowBundle(), activities: createActivities(deps) });
    const running = worker.run();
    stopWorker = async () => {
      worker.shutdown();
      await running;
    };
    await startHost();
  });
  afterAll(async () => {
    await stopHost();
    await stopWorker?.();
    await connection?.close().catch(() => undefined);
    await api?.stop();
  });

  /** A simulated runtime of the tenant, CONNECTED. */
  async function connectedRuntime(token: string) {
    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated', pollIntervalSeconds: POLL_SECONDS } });
    expect(created.status).toBe(202);
    expect(await untilFinished(api.url, token, created.body.operation.id, { timeoutMs: 90_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });
    return created.body.runtime as { id: string; name: string };
  }
  const runtimeOf = async (token: string, id: string) => (await call(`${api.url}/v1/runtimes/${id}`, { token })).body;
  const recoveriesOf = async (token: string, id: string) =>
    ((await call(`${api.url}/v1/operations?resourceId=${id}&limit=100`, { token })).body.items as Array<{ id: string; type: string; state: string; stage: string; workflowId: string; message?: string }>).filter((o) => o.type === 'RECOVERY');
  const reconcile = async (tenantIds: string[]) => {
    const scope = uniqueName('recovery');
    expect(await ensureReconciler(api.temporal, api.taskQueue, { scope, tenantIds, intervalSeconds: 1 })).toBe('started');
    return () => api.temporal.workflow.getHandle(workflowId.reconciler(scope)).terminate('test done');
  };

  it('recovers a runtime whose certificate expired while its agent was stopped: CONNECTED again, with a new certificate, audited', { timeout: 240_000 }, async () => {
    const { tenant, token } = await createTenant(api.pool);
    const runtime = await connectedRuntime(token);
    const first = (await call(`${api.url}/v1/runtimes/${runtime.id}/certificates`, { token })).body.items[0];
    // The runtime stops (its host is down) before its first renewal, and stays down past its certificate's end.
    await stopHost();
    const endReconciler = await reconcile([tenant.id]);
    try {
      const notAfter = Date.parse(first.notAfter);
      expect(notAfter - Date.now()).toBeGreaterThan(0);
      await expect.poll(async () => (await recoveriesOf(token, runtime.id)).length, { timeout: notAfter - Date.now() + 30_000, interval: 500 }).toBe(1);
      expect(Date.now()).toBeGreaterThanOrEqual(notAfter);
      const [recovery] = await recoveriesOf(token, runtime.id);
      expect(recovery).toMatchObject({ state: 'IN_PROGRESS', workflowId: workflowId.recovery(runtime.id, 1) });
      // While it recovers, the runtime says what happened (it also missed its polls: UNREACHABLE).
      await expect.poll(async () => (await runtimeOf(token, runtime.id)).status, { timeout: 20_000, interval: 250 }).toMatchObject({
        condition: 'UNREACHABLE',
        message: expect.stringMatching(new RegExp(`^its certificate expired at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ; recovering \\(operation ${recovery!.id}\\)$`)),
      });

      // The runtime comes back: its agent finds its certificate refused, takes the injected token, reports CONNECTED.
      await startHost();
      expect(await untilFinished(api.url, token, recovery!.id, { timeoutMs: 90_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED', stage: 'RECOVERED' });
      const back = await runtimeOf(token, runtime.id);
      expect(back.status.condition).toBe('CONNECTED');
      expect(back.status.message).toBeUndefined();
      const certificates = (await call(`${api.url}/v1/runtimes/${runtime.id}/certificates`, { token })).body.items as Array<{ serial: string; notAfter: string; revokedAt: string | null }>;
      expect(certificates.some((c) => c.serial !== first.serial && Date.parse(c.notAfter) > Date.now())).toBe(true);
      const agent = await api.temporal.workflow.getHandle(workflowId.agent(runtime.id)).query(agentStatus);
      expect(agent).toMatchObject({ recoveries: 1 });
      // …and it works: a configuration fetch with the new certificate after the recovery.
      await expect.poll(async () => Date.parse((await api.temporal.workflow.getHandle(workflowId.agent(runtime.id)).query(agentStatus)).lastFetchAt ?? '0'), { timeout: 20_000 }).toBeGreaterThan(Date.parse(certificates[0]!.notAfter) - VALIDITY_SECONDS * 1000);

      // The audit trail: the reconciler started it, the workflow's stages, its success; never the token.
      const audit = (await call(`${api.url}/v1/audit?resource=${encodeURIComponent(`/v1/runtimes/${runtime.id}`)}&limit=100`, { token })).body.items as Array<{ action: string; actor: string; detail?: Record<string, unknown> }>;
      expect(audit.find((e) => e.action === 'start-recovery')).toMatchObject({ actor: expect.stringMatching(/^workflow:reconciler:/), detail: { operationId: recovery!.id, reason: expect.stringMatching(/^its certificate expired at /) } });
      const trail = (await call(`${api.url}/v1/audit?resource=${encodeURIComponent(`/v1/operations/${recovery!.id}`)}&limit=100`, { token })).body.items as Array<{ action: string; actor: string; detail: { stage: string; state: string; type: string } }>;
      expect(trail.map((e) => e.action)).toContain('operation-succeeded');
      expect(trail.every((e) => e.actor === `workflow:${recovery!.workflowId}` && e.detail.type === 'RECOVERY')).toBe(true);
      const history = await historyText(api.temporal.workflow.getHandle(recovery!.workflowId));
      expect(history).not.toMatch(/"token"\s*:/);
    } finally {
      await endReconciler();
      if (!host) await startHost();
    }
  });

  it('recovers a runtime whose certificates were revoked while it was unreachable', { timeout: 180_000 }, async () => {
    const { tenant, token } = await createTenant(api.pool);
    const runtime = await connectedRuntime(token);
    await stopHost();
    const endReconciler = await reconcile([tenant.id]);
    try {
      await expect.poll(async () => (await runtimeOf(token, runtime.id)).status.condition, { timeout: 60_000, interval: 250 }).toBe('UNREACHABLE');
      for (const certificate of (await call(`${api.url}/v1/runtimes/${runtime.id}/certificates`, { token })).body.items as Array<{ serial: string }>) {
        const revoked = await call(`${api.url}/v1/runtimes/${runtime.id}/certificates/${certificate.serial}/revocation`, { token, body: { reason: 'key compromised' } });
        expect(revoked.status).toBeLessThan(300);
      }
      await expect.poll(async () => (await recoveriesOf(token, runtime.id)).length, { timeout: 20_000, interval: 250 }).toBe(1);
      const [recovery] = await recoveriesOf(token, runtime.id);
      expect((await runtimeOf(token, runtime.id)).status.message).toMatch(/^its certificate was revoked at .* \(key compromised\); recovering \(operation /);
      await startHost();
      expect(await untilFinished(api.url, token, recovery!.id, { timeoutMs: 90_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });
      expect((await runtimeOf(token, runtime.id)).status).toMatchObject({ condition: 'CONNECTED' });
    } finally {
      await endReconciler();
      if (!host) await startHost();
    }
  });

  it('never recovers a deprovisioned runtime (nor one deprovisioning, or FAILED)', { timeout: 120_000 }, async () => {
    const { tenant, token } = await createTenant(api.pool);
    const runtime = await connectedRuntime(token);
    const endReconciler = await reconcile([tenant.id]);
    try {
      const deleted = await call(`${api.url}/v1/runtimes/${runtime.id}`, { method: 'DELETE', token });
      expect(deleted.status).toBe(202);
      expect(await untilFinished(api.url, token, deleted.body.id, { timeoutMs: 60_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });
      // Several rounds later: no recovery of it, ever.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      const { rows } = await api.pool.query(`SELECT count(*)::int AS n FROM operations WHERE resource_id = $1 AND type = 'RECOVERY'`, [runtime.id]);
      expect(rows[0].n).toBe(0);
      // Runtimes DEPROVISIONING or FAILED whose certificates are all revoked are not candidates either.
      for (const condition of ['DEPROVISIONING', 'FAILED']) {
        const other = await createRuntime(api.pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated' });
        await api.pool.query(`UPDATE runtimes SET condition = $2 WHERE id = $1`, [other.id, condition]);
        const serial = randomBytes(16).toString('hex');
        await api.pool.query(
          `INSERT INTO certificates (serial, tenant_id, object_kind, object_id, subject, fingerprint, not_before, not_after, revoked_at)
           VALUES ($1, $2, 'runtime', $3, 'CN=x', $4, now() - interval '1 hour', now() + interval '1 day', now())`,
          [serial, tenant.id, other.id, fingerprintOf(serial)],
        );
      }
      expect(await runtimesToRecover(api.pool, { tenantIds: [tenant.id], limit: 10 })).toEqual([]);
    } finally {
      await endReconciler();
    }
  });

  it('marks an application whose certificate was revoked DISCONNECTED with the one command that pairs it again; that command makes it CONNECTED', { timeout: 120_000 }, async () => {
    const { tenant, adminToken, app, client } = await pairedApplication(api);
    client.close();
    const endReconciler = await reconcile([tenant.id]);
    try {
      for (const certificate of (await call(`${api.url}/v1/applications/${app.id}/certificates`, { token: adminToken })).body.items as Array<{ serial: string }>) {
        expect((await call(`${api.url}/v1/applications/${app.id}/certificates/${certificate.serial}/revocation`, { token: adminToken, body: { reason: 'test' } })).status).toBeLessThan(300);
      }
      await expect.poll(async () => (await call(`${api.url}/v1/applications/${app.id}`, { token: adminToken })).body.status.condition, { timeout: 20_000, interval: 250 }).toBe('DISCONNECTED');
      const disconnected = (await call(`${api.url}/v1/applications/${app.id}`, { token: adminToken })).body;
      expect(disconnected.status.message).toMatch(new RegExp(`^its client certificate was revoked at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\(test\\); pair it again: ${repairCommand(app.name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
      expect(disconnected.status.message).toContain(`meridian app pair ${app.name} --connect --dir <dir>`);
      const audit = (await call(`${api.url}/v1/audit?resource=${encodeURIComponent(`/v1/applications/${app.id}`)}&action=mark-application-disconnected`, { token: adminToken })).body.items;
      expect(audit).toHaveLength(1);

      // The one command, as the message gives it.
      const dir = path.join(tempDir('recovery-app'), 'certs');
      let stdout = '';
      let stderr = '';
      const code = await runCli(['app', 'pair', app.name, '--connect', '--dir', dir], { out: (t) => (stdout += t), err: (t) => (stderr += t), interactive: false }, { MERIDIAN_URL: api.url, MERIDIAN_TOKEN: adminToken });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(stdout).toContain(`connected as ${app.name} (${app.id}); key and certificate in ${dir}`);
      expect(fs.existsSync(path.join(dir, 'client.crt'))).toBe(true);
      const again = (await call(`${api.url}/v1/applications/${app.id}`, { token: adminToken })).body;
      expect(again.status.condition).toBe('CONNECTED');
      expect(again.status.message).toBeUndefined();
      // Rounds later it stays CONNECTED: it holds a live certificate again.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect((await call(`${api.url}/v1/applications/${app.id}`, { token: adminToken })).body.status.condition).toBe('CONNECTED');
    } finally {
      await endReconciler();
    }
  });
});
