// A provider that keeps failing does not keep an operation in progress for ever: deprovisioning (and a
// provisioning's compensation) retry it for MERIDIAN_DEPROVISION_TIMEOUT_SECONDS, then end FAILED with
// the reason, and DELETE can be called again.
import type { RuntimeProvider } from '../activities/providers/provider.js';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { MeridianStage } from '../workflows/ids.js';
import { call, createTenant, startTestApi, uniqueName, type TestApi } from './helpers.js';

/** Provisioning always fails (no capacity); deprovisioning fails while `broken`. */
function flakyProvider() {
  const state = { broken: true, deprovisions: 0 };
  const provider: RuntimeProvider = {
    taskQueue: () => 'nobody-polls-this',
    provision: async () => {
      throw ApplicationFailure.nonRetryable('no capacity left on this host', 'ProviderFailed');
    },
    inject: async () => undefined,
    status: async () => 'RUNNING',
    deprovision: async () => {
      state.deprovisions++;
      if (state.broken) throw new Error('the cloud API answers 500');
    },
  };
  return { provider, state };
}

describe('bounded deprovisioning', () => {
  let api: TestApi;
  const flaky = flakyProvider();
  const provisioning = { ...loadConfig({}).provisioning, deprovisionTimeoutMs: 3_000 };
  beforeAll(async () => {
    api = await startTestApi({ worker: true, provisioning, activities: { provisioning, providers: { local: flaky.provider, simulated: flaky.provider } } });
  });
  afterAll(() => api.stop());

  const operation = async (token: string, id: string) => (await call(`${api.url}/v1/operations/${id}`, { token })).body;
  const runtimeOf = async (token: string, id: string) => call(`${api.url}/v1/runtimes/${id}`, { token });

  it('ends FAILED with the reason after the bound, and DELETE can be called again', { timeout: 120_000 }, async () => {
    const { token } = await createTenant(api.pool);
    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt') } });
    expect(created.status).toBe(202);
    const runtimeId = created.body.runtime.id;

    // The compensation of the failed provisioning gives up on the provider too, and says so.
    await expect.poll(async () => (await operation(token, created.body.operation.id)).state, { timeout: 30_000 }).toBe('FAILED');
    expect((await operation(token, created.body.operation.id)).message).toBe(
      'no capacity left on this host; the runtime could not be deprovisioned within 3 s: the cloud API answers 500',
    );

    const first = await call(`${api.url}/v1/runtimes/${runtimeId}`, { method: 'DELETE', token });
    expect(first.status).toBe(202);
    await expect.poll(async () => (await operation(token, first.body.id)).state, { timeout: 30_000 }).toBe('FAILED');
    const reason = 'the provider could not deprovision the runtime within 3 s: the cloud API answers 500';
    expect(await operation(token, first.body.id)).toMatchObject({ stage: 'DEPROVISIONING', message: reason });
    const failed = (await runtimeOf(token, runtimeId)).body;
    expect(failed.status).toMatchObject({ condition: 'FAILED', message: `deprovisioning failed: ${reason}` });
    const attempts = flaky.state.deprovisions;
    expect(attempts).toBeGreaterThanOrEqual(2);
    // The workflow completed (a new DELETE starts a new run) and shows FAILED.
    // (Its last activity writes the operation FAILED; the workflow completes a moment later.)
    const handle = api.temporal.workflow.getHandle(`deprovisioning:${runtimeId}`);
    await expect.poll(async () => (await handle.describe()).status.name, { timeout: 10_000 }).toBe('COMPLETED');
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(MeridianStage)).toBe('FAILED');

    // The provider works again: a second DELETE, a new operation, removes the runtime.
    flaky.state.broken = false;
    const second = await call(`${api.url}/v1/runtimes/${runtimeId}`, { method: 'DELETE', token });
    expect(second.status).toBe(202);
    expect(second.body.id).not.toBe(first.body.id);
    await expect.poll(async () => (await operation(token, second.body.id)).state, { timeout: 30_000 }).toBe('SUCCEEDED');
    expect((await runtimeOf(token, runtimeId)).status).toBe(404);
    expect(flaky.state.deprovisions).toBeGreaterThan(attempts);
  });
});
