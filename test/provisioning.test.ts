import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createActivities } from '../activities/index.js';
import { localProvider } from '../activities/providers/local.js';
import type { RuntimeProvider } from '../activities/providers/provider.js';
import { insertOperation } from '../db/operations.js';
import { createPool } from '../db/pool.js';
import { createRuntime } from '../db/runtimes.js';
import { provisioning } from '../workflows/provisioning.js';
import { call, createTenant, killRuntimes, startTestApi, tempDir, testActivityDeps, timeSkipping, uniqueName, workflowBundle, type TestApi } from './helpers.js';

const AGENT = fileURLToPath(new URL('../workflows/agent.ts', import.meta.url));

/** A provider that records what it was asked to do; `provision` can be made to fail. */
function recordingProvider(failWith?: string, agentQueue = 'nobody-polls-this') {
  const calls: string[] = [];
  const provider: RuntimeProvider = {
    taskQueue: () => agentQueue,
    provision: async () => {
      calls.push('provision');
      if (failWith) throw ApplicationFailure.nonRetryable(failWith, 'ProviderFailed');
    },
    inject: async () => void calls.push('inject'),
    status: async () => 'RUNNING',
    deprovision: async () => void calls.push('deprovision'),
  };
  return { provider, calls };
}

const tokensOf = async (pool: { query: TestApi['pool']['query'] }, runtimeId: string) =>
  (await pool.query('SELECT used_at, invalidated_at FROM one_time_tokens WHERE object_id = $1', [runtimeId])).rows;

describe('provisioning failures', () => {
  let api: TestApi;
  const failing = recordingProvider('no capacity left on this host');
  beforeAll(async () => {
    api = await startTestApi({ worker: true, activities: { providers: { local: failing.provider, simulated: failing.provider } } });
  });
  afterAll(() => api.stop());

  it('compensates a provider failure: deprovisioned, token unusable, runtime and operation FAILED with the reason', async () => {
    const { token } = await createTenant(api.pool);
    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt') } });
    expect(created.status).toBe(202);
    await expect.poll(async () => (await call(`${api.url}/v1/operations/${created.body.operation.id}`, { token })).body.state, { timeout: 30_000 }).toBe('FAILED');
    const op = (await call(`${api.url}/v1/operations/${created.body.operation.id}`, { token })).body;
    expect(op).toMatchObject({ stage: 'PROVISIONING', message: expect.stringMatching(/no capacity left on this host/) });
    const runtime = (await call(`${api.url}/v1/runtimes/${created.body.runtime.id}`, { token })).body;
    expect(runtime.status).toMatchObject({ condition: 'FAILED', message: expect.stringMatching(/no capacity left/) });
    expect(failing.calls).toEqual(['provision', 'deprovision']);
    const tokens = await tokensOf(api.pool, created.body.runtime.id);
    expect(tokens).toHaveLength(1);
    expect(tokens[0].invalidated_at).toBeInstanceOf(Date);
  });
});

describe('runtime endpoints refuse bad requests', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(); // no worker: provisioning stays in progress
  });
  afterAll(() => api.stop());

  it('answers 409 to a second operation on a busy runtime', async () => {
    const { token } = await createTenant(api.pool);
    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt') } });
    const again = await call(`${api.url}/v1/runtimes/${created.body.runtime.id}`, { method: 'DELETE', token });
    expect(again.status).toBe(409);
    expect(again.body.detail).toBe('another operation is in progress for this runtime');
    await api.temporal.workflow.getHandle(`provisioning:${created.body.runtime.id}`).terminate();
  });

  it.each([
    ['an unknown provider', { name: 'rt-a', provider: 'kubernetes' }, 400, 'provider'],
    ['a bad name', { name: 'Bad_Name' }, 400, 'name'],
    ['an unknown scenario', { name: 'rt-b', scenarios: ['Nowhere'] }, 400, 'scenarios'],
    ['a poll interval of 0', { name: 'rt-c', pollIntervalSeconds: 0 }, 400, 'pollIntervalSeconds'],
    ['providerConfig that is not an object', { name: 'rt-d', providerConfig: [1] }, 400, 'providerConfig'],
    ['an unknown field', { name: 'rt-e', region: 'eu' }, 400, 'region'],
  ])('refuses %s', async (_title, body, status, field) => {
    const { token, tenant } = await createTenant(api.pool);
    const res = await call(`${api.url}/v1/runtimes`, { token, body });
    expect(res.status).toBe(status);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect((await api.pool.query('SELECT 1 FROM runtimes WHERE tenant_id = $1', [tenant.id])).rowCount).toBe(0);
  });

  it('answers 404 for another tenant’s runtime, 409 for a duplicate name and 401 without a token', async () => {
    const a = await createTenant(api.pool);
    const b = await createTenant(api.pool);
    const runtime = await createRuntime(api.pool, a.tenant.id, { name: 'taken' });
    expect((await call(`${api.url}/v1/runtimes/${runtime.id}`, { method: 'DELETE', token: b.token })).status).toBe(404);
    expect((await call(`${api.url}/v1/runtimes`, { token: a.token, body: { name: 'taken' } })).status).toBe(409);
    expect((await call(`${api.url}/v1/runtimes`, { body: { name: 'x' } })).status).toBe(401);
    expect((await call(`${api.url}/v1/runtime/configuration`)).status).toBe(401);
  });
});

describe('the local provider', () => {
  it('is idempotent: provisioning the same runtime again adopts the running process', async () => {
    const root = tempDir('runtimes');
    const provider = localProvider({ root, temporal: { address: inject('temporalAddress'), namespace: 'default' } });
    const runtime = { runtimeId: '00000000-0000-4000-8000-00000000beef', tenantId: '00000000-0000-4000-8000-000000000000' };
    const processes = () =>
      fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && (() => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(root, runtime.runtimeId)) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('runtime/main');
        } catch {
          return false;
        }
      })());
    try {
      await Promise.all([provider.provision(runtime, () => undefined), provider.provision(runtime, () => undefined)]);
      await provider.provision(runtime, () => undefined);
      expect(processes()).toHaveLength(1);
      expect(await provider.status(runtime)).toBe('RUNNING');
      await provider.deprovision(runtime);
      expect(processes()).toHaveLength(0);
      expect(await provider.status(runtime)).toBe('STOPPED');
      expect(fs.existsSync(path.join(root, runtime.runtimeId))).toBe(false);
      await provider.deprovision(runtime); // already gone: still fine
    } finally {
      killRuntimes(root);
    }
  }, 60_000);
});

describe('agent connection timeout (time-skipping)', () => {
  const pool = createPool(inject('databaseUrl'));
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await timeSkipping();
  });
  afterAll(async () => {
    await env?.teardown();
    await pool.end();
  });

  it('fails after 15 minutes of workflow time when the agent never connects, and compensates', async () => {
    const recorded = recordingProvider(undefined, 'agent-that-cannot-connect');
    const deps = testActivityDeps(pool, env.client, { providers: { local: recorded.provider, simulated: recorded.provider } });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'provisioning-timeout', workflowBundle: await workflowBundle(), activities: createActivities(deps) });
    // The real agent workflow, whose runtime never gets a certificate: its token is refused.
    const refused = async (): Promise<never> => {
      throw ApplicationFailure.nonRetryable('the injected token is invalid or expired', 'TokenRejected');
    };
    const agentWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'agent-that-cannot-connect',
      workflowBundle: await bundleWorkflowCode({ workflowsPath: AGENT, logger: new DefaultLogger('WARN') }),
      activities: { connectRuntime: refused, reportConnected: refused, syncConfiguration: refused, renewCertificate: refused },
    });
    const agentRunning = agentWorker.run();
    const { tenant } = await createTenant(pool);
    const runtime = await createRuntime(pool, tenant.id, { name: uniqueName('rt') });
    const op = await insertOperation(pool, { tenantId: tenant.id, type: 'PROVISIONING', resourceId: runtime.id, stage: 'REGISTERING', workflowId: `provisioning:${runtime.id}` });
    const started = await env.currentTimeMs();
    const result = await worker.runUntil(
      env.client.workflow.execute(provisioning, {
        workflowId: `provisioning:${runtime.id}`,
        taskQueue: 'provisioning-timeout',
        args: [{ tenantId: tenant.id, runtimeId: runtime.id, provider: 'local', operationId: op.id, provisionTimeoutMs: 10 * 60_000, agentTimeoutMs: 15 * 60_000 }],
      }),
    );
    expect(result).toMatchObject({ stage: 'WAITING_FOR_AGENT', failed: 'the runtime agent did not connect within 15 minutes' });
    expect((await env.currentTimeMs()) - started).toBeGreaterThanOrEqual(15 * 60_000);
    expect(recorded.calls).toEqual(['provision', 'inject', 'deprovision']);
    const { rows } = await pool.query('SELECT condition, condition_message FROM runtimes WHERE id = $1', [runtime.id]);
    expect(rows[0]).toEqual({ condition: 'FAILED', condition_message: 'the runtime agent did not connect within 15 minutes' });
    expect((await pool.query('SELECT state FROM operations WHERE id = $1', [op.id])).rows[0].state).toBe('FAILED');
    const tokens = await tokensOf(pool, runtime.id);
    expect(tokens.every((t) => t.invalidated_at instanceof Date)).toBe(true);
    const agent = await env.client.workflow.getHandle(`agent:${runtime.id}`).describe();
    expect(['FAILED', 'TERMINATED']).toContain(agent.status.name);
    agentWorker.shutdown();
    await agentRunning;
  });
});

describe('provisioning steps run again late (a local activity whose workflow task timed out)', () => {
  const pool = createPool(inject('databaseUrl'));
  afterAll(() => pool.end());

  it('do not move a runtime back: PROVISIONING after CONNECTING or CONNECTED, CONNECTING after CONNECTED', async () => {
    const recorded = recordingProvider();
    const acts = createActivities(testActivityDeps(pool, undefined as never, { providers: { local: recorded.provider, simulated: recorded.provider } }));
    const { tenant } = await createTenant(pool);
    const runtime = await createRuntime(pool, tenant.id, { name: uniqueName('rt') });
    const op = await insertOperation(pool, { tenantId: tenant.id, type: 'PROVISIONING', resourceId: runtime.id, stage: 'REGISTERING', workflowId: `provisioning:${runtime.id}` });
    const condition = async () => (await pool.query('SELECT condition FROM runtimes WHERE id = $1', [runtime.id])).rows[0].condition;
    const mark = () => acts.markRuntime({ runtimeId: runtime.id, condition: 'PROVISIONING', operationId: op.id, stage: 'INJECTING' });
    const inject = async () => acts.injectRuntime({ tenantId: tenant.id, runtimeId: runtime.id, provider: 'simulated', token: await acts.issueRuntimeToken({ tenantId: tenant.id, runtimeId: runtime.id, provider: 'simulated' }) });

    await mark();
    expect(await condition()).toBe('PROVISIONING');
    await inject();
    expect(await condition()).toBe('CONNECTING');
    await mark();
    expect(await condition()).toBe('CONNECTING');
    await pool.query("UPDATE runtimes SET condition = 'CONNECTED' WHERE id = $1", [runtime.id]);
    await mark();
    await inject();
    expect(await condition()).toBe('CONNECTED');
    expect(recorded.calls).toEqual(['inject', 'inject']);
  });
});
