// The watch design of the runtime agent (workflows/agent.ts) against the real API, Temporal and
// runtime host: what a poll costs Temporal, how fast a change arrives, and many runtimes converging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentStatus } from '../workflows/agent.js';
import { workflowId } from '../workflows/ids.js';
import { call, createTenant, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  // Hundreds of runtimes' requests and ten provisionings at a time share the API's and worker's pool.
  api = await startTestApi({ worker: true, poolSize: 20 });
});
afterAll(() => api.stop());

async function provision(token: string, pollIntervalSeconds: number): Promise<{ id: string; applied: string }> {
  const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('watch'), provider: 'simulated', scenarios: ['DEFAULT'], pollIntervalSeconds } });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  // A client asks again after a 503 (the test API's pool is small, and many runtimes hold requests).
  await expect.poll(async () => (await call(`${api.url}/v1/operations/${created.body.operation.id}`, { token })).body?.state, { timeout: 120_000, interval: 250 }).toBe('SUCCEEDED');
  let runtime: { id: string; eventUrl?: string } = { id: created.body.runtime.id };
  await expect.poll(async () => (runtime = (await call(`${api.url}/v1/runtimes/${runtime.id}`, { token })).body ?? runtime).eventUrl, { timeout: 30_000 }).toBeDefined();
  return { id: runtime.id, applied: runtime.eventUrl!.replace(/\/events$/, '/applied') };
}

const appliedVersion = async (applied: string): Promise<number> => (await call(applied)).body?.configVersion ?? 0;
const agent = (runtimeId: string) => api.temporal.workflow.getHandle(workflowId.agent(runtimeId));
const historyLength = async (runtimeId: string) => (await agent(runtimeId).describe()).historyLength;

/** Configuration answers 304 the API gave so far (its request histogram). */
async function notModifiedAnswers(): Promise<number> {
  const { values } = await api.metrics.httpDuration.get();
  return values
    .filter((v) => v.metricName === 'meridian_http_request_duration_seconds_count' && v.labels.route === '/v1/runtime/configuration' && String(v.labels.status) === '304')
    .reduce((sum, v) => sum + v.value, 0);
}

/** Runtimes in the convergence test. */
const HUNDREDS = 200;

describe('the watch design of the runtime agent', () => {
  it('polls without adding to its workflow history, and applies a change in one watch', async () => {
    const { token } = await createTenant(api.pool);
    const runtime = await provision(token, 1);
    await expect.poll(() => appliedVersion(runtime.applied), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(async () => (await agent(runtime.id).query(agentStatus)).applies, { timeout: 10_000 }).toBe(1);

    const events = await historyLength(runtime.id);
    const answered = await notModifiedAnswers();
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    // About six long polls of one second each were answered 304, and Temporal heard nothing of them.
    expect((await notModifiedAnswers()) - answered).toBeGreaterThanOrEqual(3);
    expect(await historyLength(runtime.id)).toBe(events);

    const before = await appliedVersion(runtime.applied);
    expect((await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('seen') } })).status).toBe(201);
    await expect.poll(() => appliedVersion(runtime.applied), { timeout: 10_000 }).toBeGreaterThan(before);
    await expect.poll(async () => (await agent(runtime.id).query(agentStatus)).applies, { timeout: 10_000 }).toBe(2);
    // The watch ended with the change (activity completed, a workflow task, the next watch scheduled).
    expect((await historyLength(runtime.id)) - events).toBeLessThanOrEqual(8);
    expect(await agent(runtime.id).query(agentStatus)).toMatchObject({ design: 'watch', consecutiveErrors: 0, lastAppliedVersion: await appliedVersion(runtime.applied) });
  }, 180_000);

  it('gets a change within 2 s although it polls only every 60 s: the held request is answered at the change', async () => {
    const { token } = await createTenant(api.pool);
    const runtime = await provision(token, 60);
    await expect.poll(() => appliedVersion(runtime.applied), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => api.api.waiters.held, { timeout: 10_000 }).toBeGreaterThan(0);
    const before = await appliedVersion(runtime.applied);
    const changed = Date.now();
    expect((await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('seen') } })).status).toBe(201);
    await expect.poll(() => appliedVersion(runtime.applied), { timeout: 10_000, interval: 50 }).toBeGreaterThan(before);
    expect(Date.now() - changed).toBeLessThan(2_000);
  }, 180_000);

  it(`brings ${HUNDREDS} runtimes of one runtime host to a change that affects all of them`, async () => {
    const { token } = await createTenant(api.pool);
    const runtimes: Array<{ id: string; applied: string }> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < HUNDREDS) {
          next++;
          runtimes.push(await provision(token, 30));
        }
      }),
    );
    const versions = async () => Promise.all(runtimes.map((r) => appliedVersion(r.applied)));
    await expect.poll(async () => (await versions()).every((v) => v > 0), { timeout: 30_000 }).toBe(true);
    const before = await versions();
    // A new application in DEFAULT, the scenario every runtime of the tenant is in.
    expect((await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('everyone') } })).status).toBe(201);
    const changed = Date.now();
    await expect.poll(async () => (await versions()).every((v, i) => v > before[i]!), { timeout: 60_000, interval: 200 }).toBe(true);
    console.log(`[agent-watch] ${HUNDREDS} runtimes applied one change in ${Date.now() - changed} ms`);
  }, 600_000);
});
