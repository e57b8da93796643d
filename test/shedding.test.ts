// Load shedding (api/shedding.ts): an API process admits MERIDIAN_MAX_REQUESTS_IN_FLIGHT requests at
// once and answers the excess 429 with Retry-After at once; held long polls do not count; agents and the
// reference client come back after Retry-After and reach a fresh configuration.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, retryAfterMs } from '../client/connector.js';
import { SHED_RETRY_AFTER_SECONDS, spreadRetryAfter } from '../api/shedding.js';
import { watchRetryMs } from '../runtime/activities.js';
import { agentStatus } from '../workflows/agent.js';
import { workflowId } from '../workflows/ids.js';
import { call, createTenant, startTestApi, uniqueName, type TestApi } from './helpers.js';

/** The limit of the API under test: small, so a handful of requests fills it. */
const LIMIT = 4;
/** Watching runtimes: more than the limit, so their held long polls would fill it if they counted. */
const WATCHING = LIMIT + 2;

let api: TestApi;
let token: string;
beforeAll(async () => {
  api = await startTestApi({ worker: true, poolSize: 12, maxRequestsInFlight: LIMIT });
  ({ token } = await createTenant(api.pool));
});
afterAll(() => api?.stop());

/** An admin call that, like every client should, asks again after Retry-After while it is shed. */
async function admitted(path: string, init: Parameters<typeof call>[1] = {}) {
  for (;;) {
    const res = await call(`${api.url}${path}`, { token, ...init });
    if (res.status !== 429) return res;
    await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get('retry-after')) * 1000));
  }
}

/** `meridian_http_requests_shed_total` of the API under test. */
const shedSoFar = async () => (await api.metrics.httpShed.get()).values[0]?.value ?? 0;
/** Requests the API works on now: admitted, not answered, not held for a configuration change. */
const working = async () => ((await api.metrics.httpInFlight.get()).values[0]?.value ?? 0) - api.api.waiters.held;

/**
 * Fills the limit with requests that stay in flight: `LIMIT` reads of the label definitions while a
 * transaction of the test holds that table locked (no request of an agent reads it). `release` ends the
 * lock and resolves with their answers.
 */
async function fillTheLimit() {
  const locker = new pg.Client({ connectionString: inject('databaseUrl') });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE label_definitions IN ACCESS EXCLUSIVE MODE');
  const blocked = Array.from({ length: LIMIT }, () => call(`${api.url}/v1/label-definitions`, { token }));
  await expect.poll(working, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(LIMIT);
  return {
    async release() {
      await locker.query('ROLLBACK');
      await locker.end();
      return Promise.all(blocked);
    },
  };
}

async function provisionWatching(): Promise<{ id: string; applied: string }> {
  const created = await admitted('/v1/runtimes', { body: { name: uniqueName('shed'), provider: 'simulated', scenarios: ['DEFAULT'], pollIntervalSeconds: 60 } });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  await expect.poll(async () => (await admitted(`/v1/operations/${created.body.operation.id}`)).body?.state, { timeout: 120_000, interval: 250 }).toBe('SUCCEEDED');
  let eventUrl: string | undefined;
  await expect.poll(async () => (eventUrl = (await admitted(`/v1/runtimes/${created.body.runtime.id}`)).body?.eventUrl), { timeout: 30_000 }).toBeDefined();
  return { id: created.body.runtime.id, applied: eventUrl!.replace(/\/events$/, '/applied') };
}

const appliedVersion = async (applied: string): Promise<number> => (await call(applied)).body?.configVersion ?? 0;
const configVersion = async (runtimeId: string): Promise<number> =>
  Number((await api.pool.query<{ config_version: string }>('SELECT config_version FROM runtimes WHERE id = $1', [runtimeId])).rows[0]!.config_version);
/** A new configVersion for the runtime, as a change of what it sees would give it. */
const bump = (runtimeId: string) => api.pool.query('UPDATE runtimes SET config_version = config_version + 1 WHERE id = $1', [runtimeId]);

describe('waits after a shed request', () => {
  it('spreads the Retry-After it sends over whole seconds of a small range', () => {
    const { min, max } = SHED_RETRY_AFTER_SECONDS;
    expect(spreadRetryAfter(() => 0)).toBe(min);
    expect(spreadRetryAfter(() => 0.999)).toBe(max);
    expect(new Set(Array.from({ length: 200 }, () => spreadRetryAfter())).size).toBeGreaterThan(1);
  });

  it('has clients wait the Retry-After plus up to a second, and watches retry a failure at a spread delay', () => {
    expect(retryAfterMs('3', () => 0)).toBe(3000);
    expect(retryAfterMs(['3'], () => 0.5)).toBe(3500);
    expect(retryAfterMs(undefined, () => 0)).toBe(2000);
    expect(retryAfterMs('3600', () => 0)).toBe(10_000);
    expect([watchRetryMs(1, () => 0), watchRetryMs(1, () => 0.999), watchRetryMs(2, () => 0)]).toEqual([500, 1499, 1000]);
  });
});

describe('load shedding', () => {
  it('answers requests beyond the limit at once with 429, Retry-After and a problem; the admitted ones 2xx, never a 5xx', async () => {
    const shedBefore = await shedSoFar();
    const limit = await fillTheLimit();
    // The limit is full: a burst is answered while those requests still wait, so it was not queued behind them.
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => call(`${api.url}${i % 2 ? '/v1/scenarios' : '/v1/runtimes'}`, { token })));
    for (const res of burst) {
      expect(res.status).toBe(429);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter >= SHED_RETRY_AFTER_SECONDS.min && retryAfter <= SHED_RETRY_AFTER_SECONDS.max).toBe(true);
    }
    // Probes and metrics are never shed.
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await call(`${api.url}${path}`)).status, path).toBe(200);
    const metrics = (await call(`${api.url}/metrics`)).text;
    expect(metrics).toMatch(/^meridian_http_requests_shed_total \d+/m);
    expect((await shedSoFar()) - shedBefore).toBe(12);

    const answers = await limit.release();
    expect(answers.map((res) => res.status)).toEqual(Array(LIMIT).fill(200));
    // Room again.
    expect((await call(`${api.url}/v1/runtimes`, { token })).status).toBe(200);
  });

  it('states the 429 in /openapi.json wherever it can be answered', async () => {
    const { paths } = (await call(`${api.url}/openapi.json`)).body;
    expect(paths['/v1/runtimes'].get.responses[429]).toMatchObject({ headers: { 'Retry-After': expect.anything() } });
    expect(paths['/v1/runtime/configuration'].get.responses[429]).toBeDefined();
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(paths[path].get.responses[429], path).toBeUndefined();
  });

  it('does not count held configuration long polls against the limit, and an agent or client shed comes back to a fresh configuration', async () => {
    const runtimes = await Promise.all(Array.from({ length: WATCHING }, () => provisionWatching()));
    // Every agent watches: more long polls are held than the limit admits.
    await expect.poll(() => api.api.waiters.held, { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(WATCHING);
    const shedBefore = await shedSoFar();
    const reads = await Promise.all(Array.from({ length: LIMIT - 1 }, () => call(`${api.url}/v1/runtimes`, { token })));
    expect(reads.map((res) => res.status)).toEqual(Array(LIMIT - 1).fill(200));
    expect(await shedSoFar()).toBe(shedBefore);

    // A pairing whose client starts while the limit is full.
    const app = (await admitted('/v1/applications', { body: { name: uniqueName('shed-app') } })).body;
    const pairing = (await admitted(`/v1/applications/${app.id}/pairing`, { method: 'POST' })).body;

    const [runtime] = runtimes as [{ id: string; applied: string }];
    const limit = await fillTheLimit();
    const shedAtFull = await shedSoFar();
    // The reference client is shed and waits; the agent's held request answers the change, and its next watch is shed.
    const paired = connect(pairing.connectorUrl, pairing.token);
    await bump(runtime.id);
    await expect.poll(shedSoFar, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(shedAtFull + 2);

    expect((await limit.release()).map((res) => res.status)).toEqual(Array(LIMIT).fill(200));
    await expect(paired).resolves.toMatchObject({ certificate: expect.stringContaining('BEGIN CERTIFICATE') });
    // After the 429s the agent watches again: a change reaches it, and it counted no failure.
    await bump(runtime.id);
    const latest = await configVersion(runtime.id);
    await expect.poll(() => appliedVersion(runtime.applied), { timeout: 30_000, interval: 100 }).toBe(latest);
    await expect
      .poll(() => api.temporal.workflow.getHandle(workflowId.agent(runtime.id)).query(agentStatus), { timeout: 10_000 })
      .toMatchObject({ consecutiveErrors: 0, lastAppliedVersion: latest });
  });
});
