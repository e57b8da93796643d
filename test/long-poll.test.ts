import { generateKeyPairSync, randomUUID } from 'node:crypto';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { MtlsClient } from '../client/connector.js';
import { MAX_WAIT_SECONDS, preferredWait } from '../api/routes/runtime.js';
import { createPool } from '../db/pool.js';
import { ConfigHints } from '../services/config-hints.js';
import { ConfigWaiters } from '../services/config-waiters.js';
import { clientSubject, issue, subjectFields } from '../trust/ca.js';
import { call, createTenant, startTestApi, uniqueName, type TestApi } from './helpers.js';

const CONFIGURATION = '/v1/runtime/configuration';

let api: TestApi;
let token: string;
let tenantId: string;
beforeAll(async () => {
  api = await startTestApi();
  const { tenant, token: adminToken } = await createTenant(api.pool);
  token = adminToken;
  tenantId = tenant.id;
});
afterAll(async () => {
  await api?.stop();
});

// One key for every runtime certificate of this file: issuing is cheap, generating keys is not.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** A runtime of the tenant (no worker: it stays where creation left it) and an mTLS client with its certificate. */
async function runtimeOf(target: TestApi = api, tenant = { id: tenantId, token }) {
  const created = await call(`${target.url}/v1/runtimes`, { token: tenant.token, body: { name: uniqueName('rt'), provider: 'simulated' } });
  expect(created.status).toBe(202);
  const id: string = created.body.runtime.id;
  const certificate = issue(target.ca, {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    subject: subjectFields(clientSubject('runtime', id, tenant.id, target.connector.subjectExtras)),
    validityDays: 1,
    usage: 'client',
  });
  const client = new MtlsClient({
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificate: certificate.pem,
    caCertificate: target.ca.certPem,
    mtlsBaseUrl: target.mtlsUrl,
  });
  const first = await client.request('GET', CONFIGURATION);
  expect(first.status).toBe(200);
  return { id, client, etag: String(first.headers.etag) };
}

/** A new configVersion for each runtime, in one transaction (one notification each, at commit). */
const bump = (ids: string[], target: TestApi = api) => target.pool.query('UPDATE runtimes SET config_version = config_version + 1 WHERE id = ANY($1)', [ids]);

/** The configuration request of a long poll. */
const held = (client: MtlsClient, etag: string, prefer: string) => client.request('GET', CONFIGURATION, undefined, { 'if-none-match': etag, prefer });

/** Resolves once the API holds `count` requests, their version read (bounded). */
const holding = (count: number, target: TestApi = api) => expect.poll(() => target.api.waiters.held, { timeout: 30_000, interval: 20 }).toBe(count);

const timed = async <T>(work: Promise<T>) => {
  const started = Date.now();
  const result = await work;
  return { result, ms: Date.now() - started };
};

describe('Prefer: wait on GET /v1/runtime/configuration', () => {
  it('reads the wait preference as RFC 7240 says: whole seconds, capped, anything invalid ignored', () => {
    expect(preferredWait(undefined)).toBe(0);
    expect(preferredWait('wait=10')).toBe(10);
    expect(preferredWait('respond-async, WAIT = "7"; x=y')).toBe(7);
    expect(preferredWait('wait=3600')).toBe(MAX_WAIT_SECONDS);
    expect(preferredWait(`wait=${'9'.repeat(40)}`)).toBe(MAX_WAIT_SECONDS);
    for (const invalid of ['wait', 'wait=', 'wait=-5', 'wait=1.5', 'wait=abc', 'wait=1=2', 'handling=lenient', 'waiting=5']) expect(preferredWait(invalid), invalid).toBe(0);
  });

  it('declares Prefer and Preference-Applied in /openapi.json', async () => {
    const operation = (await call(`${api.url}/openapi.json`)).body.paths[CONFIGURATION].get;
    expect(operation.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Prefer', in: 'header', required: false }), expect.objectContaining({ name: 'If-None-Match', in: 'header' })]),
    );
    for (const status of ['200', '304']) expect(Object.keys(operation.responses[status].headers)).toEqual(['ETag', 'Preference-Applied']);
  });

  it('answers a held request 200 with the new ETag as soon as the configuration changes', async () => {
    const runtime = await runtimeOf();
    const answer = held(runtime.client, runtime.etag, 'wait=30');
    await holding(1);
    const { result, ms } = await timed(bump([runtime.id]).then(() => answer));
    expect(result.status).toBe(200);
    expect(result.headers.etag).toBe(`"${Number(JSON.parse(runtime.etag)) + 1}"`);
    expect((result.body as { configVersion: number }).configVersion).toBe(Number(JSON.parse(runtime.etag)) + 1);
    expect(result.headers['preference-applied']).toBe('wait=30');
    expect(ms).toBeLessThan(2_000);
    expect(api.api.waiters.size).toBe(0);
    runtime.client.close();
  });

  it('answers 304 with Preference-Applied once the wait ends without a change', async () => {
    const runtime = await runtimeOf();
    const { result, ms } = await timed(held(runtime.client, runtime.etag, 'wait=1'));
    expect(result.status).toBe(304);
    expect(result.headers.etag).toBe(runtime.etag);
    expect(result.headers['preference-applied']).toBe('wait=1');
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(10_000);
    expect(api.api.waiters.size).toBe(0);
    runtime.client.close();
  });

  it('ignores an invalid or zero wait: 304 at once, without Preference-Applied', async () => {
    const runtime = await runtimeOf();
    for (const prefer of ['wait=abc', 'wait=-5', 'wait=', 'wait=1.5', 'wait=0', 'respond-async']) {
      const { result, ms } = await timed(held(runtime.client, runtime.etag, prefer));
      expect(result.status, prefer).toBe(304);
      expect(result.headers['preference-applied'], prefer).toBeUndefined();
      expect(ms, prefer).toBeLessThan(900);
    }
    runtime.client.close();
  });

  it('answers 200 at once when the ETag is not current, whatever the wait', async () => {
    const runtime = await runtimeOf();
    for (const etag of ['"0"', '"999"']) {
      const { result, ms } = await timed(held(runtime.client, etag, `wait=${MAX_WAIT_SECONDS}`));
      expect(result.status, etag).toBe(200);
      expect(result.headers.etag).toBe(runtime.etag);
      expect(result.headers['preference-applied']).toBeUndefined();
      expect(ms).toBeLessThan(5_000);
    }
    // Without If-None-Match there is nothing to wait for either.
    const plain = await timed(runtime.client.request('GET', CONFIGURATION, undefined, { prefer: 'wait=30' }));
    expect(plain.result.status).toBe(200);
    expect(plain.ms).toBeLessThan(5_000);
    expect(api.api.waiters.size).toBe(0);
    runtime.client.close();
  });

  it('forgets a held request whose client hangs up', async () => {
    const runtime = await runtimeOf();
    const answer = held(runtime.client, runtime.etag, 'wait=60').catch((error: Error) => error);
    await holding(1);
    runtime.client.close();
    expect(await answer).toBeInstanceOf(Error);
    await holding(0);
  });

  it('answers every held request of several runtimes after one change to all of them', async () => {
    const runtimes = await Promise.all(Array.from({ length: 10 }, () => runtimeOf()));
    const answers = runtimes.flatMap((runtime) => Array.from({ length: 30 }, () => held(runtime.client, runtime.etag, 'wait=60')));
    await holding(300);
    const { result, ms } = await timed(bump(runtimes.map((runtime) => runtime.id)).then(() => Promise.all(answers)));
    expect(result.map((res) => res.status)).toEqual(Array(300).fill(200));
    expect(new Set(result.map((res) => res.headers['preference-applied']))).toEqual(new Set(['wait=60']));
    expect(ms).toBeLessThan(15_000);
    expect(api.api.waiters.size).toBe(0);
    runtimes.forEach((runtime) => runtime.client.close());
  }, 90_000);
});

describe('without configuration hints, and at shutdown', () => {
  it('ends a held request at its wait when no listener wakes it, and answers held requests when the API stops', async () => {
    const quiet = await startTestApi({ configHints: false });
    let stopped = false;
    try {
      const { tenant, token: adminToken } = await createTenant(quiet.pool);
      const runtime = await runtimeOf(quiet, { id: tenant.id, token: adminToken });
      const answer = held(runtime.client, runtime.etag, 'wait=2');
      await holding(1, quiet);
      await bump([runtime.id], quiet);
      const late = await timed(answer);
      expect(late.result.status).toBe(200);
      expect(late.result.headers['preference-applied']).toBe('wait=2');
      expect(late.ms).toBeGreaterThanOrEqual(1_000);

      const lingering = held(runtime.client, String(late.result.headers.etag), 'wait=60');
      await holding(1, quiet);
      const stop = await timed(quiet.stop());
      stopped = true;
      expect(stop.ms).toBeLessThan(4_000);
      expect((await lingering).status).toBe(304);
      runtime.client.close();
    } finally {
      if (!stopped) await quiet.stop();
    }
  }, 60_000);
});

describe('ConfigHints', () => {
  it('wakes every held request once its listener reconnects, since changes meanwhile went unheard', async () => {
    const applicationName = uniqueName('hints');
    const url = new URL(inject('databaseUrl'));
    url.searchParams.set('application_name', applicationName);
    const pool = createPool(url.toString(), api.logger, 1);
    const waiters = new ConfigWaiters();
    const hints = await ConfigHints.start(pool, api.temporal, api.logger, { waiters, signalAgents: false });
    try {
      const woken = waiters.watch(randomUUID()).wait(30_000, new AbortController().signal);
      expect(waiters.size).toBe(1);
      expect(waiters.held).toBe(1);
      await api.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
      const { ms } = await timed(woken);
      expect(ms).toBeLessThan(10_000);
      expect(waiters.size).toBe(0);
    } finally {
      await hints.stop();
      await pool.end();
    }
  }, 30_000);
});
