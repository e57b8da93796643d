// Durable intent against a Temporal server that goes away: the API answers as if the workflow had
// started where the answer is an operation (the reconciler starts it later), 503 where it needs
// Temporal's answer, and one-time tokens are never used up by a call that failed. A dev server of its
// own, stopped and started again on the same port and database file.
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createActivities } from '../activities/index.js';
import { startApi, type RunningApi } from '../api/server.js';
import { MtlsClient, connect, parseSubject, requestCertificate, requestSigning } from '../client/connector.js';
import { peekToken } from '../db/tokens.js';
import { createPool } from '../db/pool.js';
import { startDevServer, type DevServer } from '../dev/devserver.js';
import { freePort } from '../dev/local-stack.js';
import { ensureTemporalTools } from '../dev/tools.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { ensureReconciler } from '../services/reconciler.js';
import { createCsr } from '../trust/ca.js';
import { workflowId } from '../workflows/ids.js';
import { openApi30 } from './fixtures/specs.js';
import { CapturedLog, call, createTenant, fullProvider, tempDir, testActivityDeps, testCa, testKeyring, testRegistration, uniqueName, workflowBundle } from './helpers.js';


const cli = ensureTemporalTools().cli!;
const dataDir = tempDir('temporal-down');
const log = new CapturedLog();
const logger = createLogger('info', log);
const pool = createPool(inject('databaseUrl'), logger, 10);
const connector = loadConfig({}).connector;
const taskQueue = uniqueName('temporal-down');
let port: number;
let server: DevServer;
let temporal: Client;
let api: RunningApi;
let stopWorker: () => Promise<void> = async () => undefined;

const startServer = () => startDevServer({ cli, port, dbFile: path.join(dataDir, 'temporal.sqlite') });

/** The management-plane worker on this file's server and task queue. */
async function startWorker(): Promise<() => Promise<void>> {
  const connection = await NativeConnection.connect({ address: server.address });
  const deps = testActivityDeps(pool, temporal, { providers: { local: fullProvider, simulated: fullProvider }, connector, publicUrl: () => api.urls.public });
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities(deps) });
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running;
    await connection.close();
  };
}

beforeAll(async () => {
  port = await freePort();
  server = await startServer();
  temporal = new Client({ connection: await Connection.connect({ address: server.address }) });
  api = await startApi(
    {
      pool,
      temporal,
      logger,
      metrics: createMetrics(),
      ca: testCa(),
      keyring: testKeyring(),
      connector,
      registration: testRegistration(),
      provisioning: loadConfig({}).provisioning,
      taskQueue,
      configHints: false,
    },
    { host: '127.0.0.1', port: 0, mtlsPort: 0, tlsHostnames: ['localhost', '127.0.0.1'] },
  );
  stopWorker = await startWorker();
});

afterAll(async () => {
  await api?.stop();
  await stopWorker();
  await temporal?.connection.close();
  await server?.stop();
  await pool.end();
});

const rsaKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const certificates = (csrToken: string, csr: string) => call(`${api.urls.public}/connector/v1/certificates`, { body: { csr }, headers: { 'connector-token': csrToken } });
const operation = async (id: string) => (await pool.query('SELECT state, stage, message FROM operations WHERE id = $1', [id])).rows[0];
const pairingOf = async (token: string, applicationId: string) => {
  const res = await call(`${api.urls.public}/v1/applications/${applicationId}/pairing`, { method: 'POST', token });
  expect(res.status).toBe(201);
  return res.body as { token: string; connectorUrl: string; operationId: string };
};
const newApplication = async (token: string) => (await call(`${api.urls.public}/v1/applications`, { token, body: { name: uniqueName('app') } })).body as { id: string };

describe('Temporal unavailable', () => {
  it('answers with the operation or 503, burns no token, and every operation finishes once Temporal is back', { timeout: 300_000 }, async () => {
    const { tenant, token } = await createTenant(pool);
    // Paired while Temporal is up: an application to register an API over mTLS later.
    const paired = await newApplication(token);
    const pairedPairing = await pairingOf(token, paired.id);
    const pairedClient = new MtlsClient(await connect(pairedPairing.connectorUrl, pairedPairing.token));
    // Halfway through pairing: the signing request gave it a CSR token.
    const halfway = await newApplication(token);
    const halfwayPairing = await pairingOf(token, halfway.id);
    const signing = await requestSigning(halfwayPairing.connectorUrl, halfwayPairing.token);
    const key = rsaKey();
    const csr = createCsr(key, parseSubject(signing.subject));

    // Pairing requested again while Temporal is down: its first run is still there, for the first request.
    const repaired = await newApplication(token);
    const firstPairing = await pairingOf(token, repaired.id);

    // Of concurrent redemptions of one CSR token exactly one wins, the redemption waiting on Temporal.
    const raced = await newApplication(token);
    const racedPairing = await pairingOf(token, raced.id);
    const racedSigning = await requestSigning(racedPairing.connectorUrl, racedPairing.token);
    const racedCsr = createCsr(rsaKey(), parseSubject(racedSigning.subject));
    const race = await Promise.all(Array.from({ length: 5 }, () => certificates(racedSigning.csrToken, racedCsr)));
    expect(race.map((r) => r.status).sort()).toEqual([201, 401, 401, 401, 401]);

    await stopWorker();
    await server.stop();

    const [certificate, runtime, registration, pairingWhileDown, inlinePairing, secondPairing] = await Promise.all([
      certificates(signing.csrToken, csr),
      call(`${api.urls.public}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated' } }),
      pairedClient.request('POST', '/v1/application/apis', {
        name: uniqueName('api'),
        targetUrl: 'http://127.0.0.1:9/api',
        spec: { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(openApi30) },
      }),
      newApplication(token).then(async (app) => ({ app, pairing: await pairingOf(token, app.id) })),
      newApplication(token).then(async (app) => ({ app, pairing: await pairingOf(token, app.id) })),
      pairingOf(token, repaired.id),
    ]);
    // Temporal's answer is needed: 503, and the CSR token is still good.
    expect(certificate.status).toBe(503);
    expect(certificate.headers.get('retry-after')).toBe('2');
    expect(await peekToken(pool, signing.csrToken, ['csr'])).toBeDefined();
    // The intent is recorded: answered as if started, the operation in progress.
    expect(runtime.status).toBe(202);
    expect(await operation(runtime.body.operation.id)).toMatchObject({ state: 'IN_PROGRESS' });
    expect(registration.status).toBe(202);
    expect(registration.body).toMatchObject({ spec: { status: 'PENDING' }, operationId: expect.any(String) });
    expect(await operation(pairingWhileDown.pairing.operationId)).toMatchObject({ state: 'IN_PROGRESS' });
    expect(log.text).toMatch(/workflow not started: Temporal is unavailable/);

    server = await startServer();
    stopWorker = await startWorker();

    // The same CSR token, with the same CSR, now gets its certificate.
    const issued = await requestCertificate(signing, key);
    expect(issued.certificate).toMatch(/BEGIN CERTIFICATE/);
    expect(await peekToken(pool, signing.csrToken, ['csr'])).toBeUndefined();
    // A pairing whose start was lost is started by its certificate request itself.
    const inline = await connect(inlinePairing.pairing.connectorUrl, inlinePairing.pairing.token);
    expect(inline.certificate).toMatch(/BEGIN CERTIFICATE/);
    await expect.poll(async () => (await operation(inlinePairing.pairing.operationId)).state, { timeout: 30_000 }).toBe('SUCCEEDED');
    // …and one whose running pairing belongs to the earlier request replaces it.
    expect((await connect(secondPairing.connectorUrl, secondPairing.token)).certificate).toMatch(/BEGIN CERTIFICATE/);
    await expect.poll(async () => (await operation(secondPairing.operationId)).state, { timeout: 30_000 }).toBe('SUCCEEDED');
    expect(await operation(firstPairing.operationId)).toMatchObject({ state: 'FAILED', message: 'superseded by a new pairing request' });

    // The reconciler starts the rest, and each finishes.
    const scope = uniqueName('scope');
    await ensureReconciler(temporal, taskQueue, { scope, tenantIds: [tenant.id], intervalSeconds: 1, graceSeconds: 1 });
    await expect.poll(async () => (await operation(registration.body.operationId)).state, { timeout: 60_000 }).toBe('SUCCEEDED');
    await expect.poll(async () => (await operation(runtime.body.operation.id)).state, { timeout: 60_000 }).toBe('FAILED');
    expect((await operation(runtime.body.operation.id)).message).toMatch(/no capacity left in this test/);
    await expect.poll(async () => (await operation(pairingWhileDown.pairing.operationId)).stage, { timeout: 60_000 }).toBe('WAITING_FOR_SIGNING_REQUEST');
    const restarted = await temporal.workflow.getHandle(workflowId.pairing(pairingWhileDown.app.id)).describe();
    expect(restarted.memo).toEqual({ operationId: pairingWhileDown.pairing.operationId });
    const late = await connect(pairingWhileDown.pairing.connectorUrl, pairingWhileDown.pairing.token);
    expect(late.certificate).toMatch(/BEGIN CERTIFICATE/);
    await temporal.workflow.getHandle(workflowId.reconciler(scope)).terminate('end of test');
  });
});
