import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES, stageTimeline } from '../lib/temporal.js';
import { DefaultLogger, NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import type { RuntimeProvider } from '../activities/providers/provider.js';
import { expect, inject } from 'vitest';
import { untilFinished } from '../client/admin.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { MtlsClient, connect, loadCredentials } from '../client/connector.js';
import { startApi, type RunningApi } from '../api/server.js';
import { startRuntimeHost } from '../runtime/host.js';
import { createPool } from '../db/pool.js';
import { createAdminToken, ensureTenant, type Tenant } from '../db/tenants.js';
import { loadOrCreateCa, type Ca } from '../trust/ca.js';
import { loadConfig, type ConnectorConfig, type OutboundConfig, type ProvisioningConfig, type RegistrationConfig } from '../lib/config.js';
import { createProviders } from '../worker/deps.js';
import { loadKeyring, type Keyring } from '../trust/encryption.js';
import type { AgentObserver } from '../runtime/activities.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { createMetrics, type Metrics } from '../lib/metrics.js';
import { WORKFLOWS_PATH } from '../worker/worker.js';

/** A unique lowercase name, valid as a DNS-1123 label. */
export const uniqueName = (prefix = 't') => `${prefix}-${randomBytes(5).toString('hex')}`;

/** A folder of this run's temp root, removed at the end of the run. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(inject('tmpRoot'), `${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Log lines captured in memory, so tests can assert on them (and on what they must never contain). */
export class CapturedLog extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text() {
    return this.lines.join('\n');
  }
}

export interface TestApi {
  /** Public listener. */
  url: string;
  /** mTLS listener. */
  mtlsUrl: string;
  pool: pg.Pool;
  temporal: Client;
  log: CapturedLog;
  logger: Logger;
  metrics: Metrics;
  api: RunningApi;
  ca: Ca;
  keyring: Keyring;
  connector: ConnectorConfig;
  taskQueue: string;
  /** Where local runtimes of this API's worker live. */
  runtimesDir: string;
  /** Where the simulated runtimes of this API's runtime host live. */
  simulatedDir: string;
  stop(): Promise<void>;
}

export interface TestApiOptions {
  databaseUrl?: string;
  /** Also run a management-plane worker (real activities) on a task queue of this API's own. */
  worker?: boolean;
  connector?: Partial<ConnectorConfig>;
  registration?: Partial<RegistrationConfig>;
  provisioning?: Partial<ProvisioningConfig>;
  /** Replaces activity dependencies of the worker (e.g. a failing provider). */
  activities?: Partial<ActivityDeps>;
  /** The API's (and worker's) keyring. @default the run's */
  keyring?: Keyring;
  /** Hint runtime agents on configuration changes. @default true */
  configHints?: boolean;
  /** PostgreSQL connections of the API and its worker. @default 5 */
  poolSize?: number;
  /** What the worker's and runtimes' outbound calls may reach. @default {@link testOutbound} (loopback allowed) */
  outbound?: OutboundConfig;
  /** How often the API writes when runtimes were last seen. @default 1000 */
  lastSeenFlushMs?: number;
  /** Requests the API admits at once before answering 429. @default every request */
  maxRequestsInFlight?: number;
  /** Hears the simulated runtimes' agents: every configuration answer, every applied version. */
  agentObserver?: AgentObserver;
}

/** The run's CA. */
export const testCa = (): Ca => loadOrCreateCa({ dataDir: inject('caDir') });
/** The run's encryption keyring. */
export const testKeyring = (): Keyring => loadKeyring(inject('caDir'));
/** Registration settings for tests: fetches time out fast. */
export const testRegistration = (overrides: Partial<RegistrationConfig> = {}): RegistrationConfig => ({
  ...loadConfig({}).registration,
  fetchTimeoutMs: 1_000,
  ...overrides,
});
/**
 * The test stack's outbound setting: MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true, because its spec servers,
 * webhook receivers and APIs listen on 127.0.0.1. Tests of the refusal pass `{ allowPrivate: false }`.
 */
export const testOutbound: OutboundConfig = { allowPrivate: true };

/** Activity dependencies for tests: the run's CA and keyring, local runtimes under a fresh folder. */
export function testActivityDeps(pool: pg.Pool, temporal: Client, overrides: Partial<ActivityDeps> = {}): ActivityDeps & { runtimesDir: string; simulatedDir: string; hostQueue: string } {
  const dataDir = tempDir('data');
  const hostQueue = uniqueName('runtime-host');
  return {
    pool,
    temporal,
    ca: testCa(),
    keyring: testKeyring(),
    connector: loadConfig({}).connector,
    registration: testRegistration(),
    credentialSlots: loadConfig({}).credentialSlots,
    outbound: overrides.outbound ?? testOutbound,
    providers: createProviders(dataDir, { address: inject('temporalAddress'), namespace: 'default' }, { hostQueue, outbound: overrides.outbound ?? testOutbound }),
    hostQueue,
    publicUrl: () => 'http://127.0.0.1:9',
    runtimesDir: path.join(dataDir, 'runtimes'),
    simulatedDir: path.join(dataDir, 'simulated'),
    ...overrides,
  };
}

/** Kills what local runtimes a test left running under `dir`. */
export function killRuntimes(dir: string): void {
  spawnSync('pkill', ['-KILL', '-f', dir]);
}

/** The real API (both listeners, ephemeral ports) against the run's PostgreSQL and Temporal, optionally with a worker. */
export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const log = new CapturedLog();
  const logger = createLogger('info', log);
  const pool = createPool(options.databaseUrl ?? inject('databaseUrl'), logger, options.poolSize ?? 5);
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const temporal = new Client({ connection });
  const metrics = createMetrics();
  const ca = testCa();
 const connector = { ...loadConfig({}).connector, ...options.connector };
  const registration = testRegistration(options.registration);
  const keyring = options.keyring ?? testKeyring();
  const taskQueue = uniqueName('meridian-test');
  const provisioning = { ...loadConfig({}).provisioning, ...options.provisioning };
  const api = await startApi({ pool, temporal, logger, metrics, ca, keyring, connector, registration, provisioning, taskQueue, configHints: options.configHints, configSignals: provisioning.agentDesign === 'poll', consoleDir: inject('consoleDir'), temporalUiUrl: inject('temporalUiUrl'), lastSeenFlushMs: options.lastSeenFlushMs ?? 1_000, maxRequestsInFlight: options.maxRequestsInFlight }, { host: '127.0.0.1', port: 0, mtlsPort: 0, tlsHostnames: ['localhost', '127.0.0.1'] });
  let stopWorker = async () => undefined as void;
  const outbound = options.outbound ?? testOutbound;
  const deps = testActivityDeps(pool, temporal, { connector, registration, keyring, outbound, publicUrl: () => api.urls.public, ...options.activities });
  if (options.worker) {
    const nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities(deps),
    });
    const running = worker.run();
    const host = await startRuntimeHost({ connection: nativeConnection, namespace: 'default', root: deps.simulatedDir, taskQueue: deps.hostQueue, outbound, observer: options.agentObserver });
    stopWorker = async () => {
      worker.shutdown();
      await running;
      await host.stop();
      await nativeConnection.close().catch(() => undefined);
    };
  }
  return {
    url: api.http.url,
    mtlsUrl: api.mtls.url,
    pool,
    temporal,
    log,
    logger,
    metrics,
    api,
    ca,
    keyring,
    connector,
    taskQueue,
    runtimesDir: deps.runtimesDir,
    simulatedDir: deps.simulatedDir,
    async stop() {
      await api.stop();
      await stopWorker();
      killRuntimes(deps.runtimesDir);
      await connection.close();
      await pool.end();
    },
  };
}

/** A fresh tenant and an admin token for it, so no two tests share data. */
export async function createTenant(pool: pg.Pool): Promise<{ tenant: Tenant; token: string }> {
  const tenant = await ensureTenant(pool, uniqueName('tenant'));
  const token = await createAdminToken(pool, tenant.id, 'test');
  return { tenant, token };
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per test file. */
export function workflowBundle(workflowsPath = WORKFLOWS_PATH): Promise<WorkflowBundleWithSourceMap> {
  return (bundle ??= bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') }));
}

/**
 * A time-skipping test environment on the installed test server binary (or the SDK's download
 * without one), with Meridian's search attributes registered.
 */
export async function timeSkipping(): Promise<TestWorkflowEnvironment> {
  const path = inject('testServerPath');
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: path ? { type: 'existing-path', path } : { type: 'cached-download' } },
  });
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
  return env;
}

/** Fetches JSON with an admin token; returns status, parsed body and headers. */
export async function call(
  url: string,
  init: { method?: string; token?: string; body?: unknown; rawBody?: string; contentType?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json as any, text, headers: res.headers };
}

/** Every string and payload of a workflow history as text (payload bytes decoded), to search for secrets. */
export async function historyText(handle: { fetchHistory(): Promise<unknown> }): Promise<string> {
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('utf8'));
    else if (typeof value === 'string') parts.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(await handle.fetchHistory());
  return parts.join('\n');
}

/** Creates a runtime of the tenant (`fields` as POST /v1/runtimes takes them) and waits until its provisioning SUCCEEDED; the runtime then. */
export async function connectedRuntimeOf(api: TestApi, token: string, fields: Record<string, unknown>) {
  const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), pollIntervalSeconds: 600, ...fields } });
  expect(created.status).toBe(202);
  expect(await untilFinished(api.url, token, created.body.operation.id, { timeoutMs: 90_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });
  return (await call(`${api.url}/v1/runtimes/${created.body.runtime.id}`, { token })).body;
}

/** What a simulated runtime of this API sees: its configuration, fetched with its own certificate. */
export async function configurationOfRuntime(api: TestApi, runtimeId: string) {
  const client = new MtlsClient(loadCredentials(path.join(api.simulatedDir, runtimeId, 'credentials')));
  try {
    const res = await client.request('GET', '/v1/runtime/configuration');
    expect(res.status).toBe(200);
    return res.body as { configVersion: number; applications: Array<{ id: string; name: string; apis: Array<{ id: string; name: string; credentials?: any }> }> };
  } finally {
    client.close();
  }
}

/** A new tenant with an application paired through the real Connector flow, and its mTLS client. */
export async function pairedApplication(api: TestApi, fields: Record<string, unknown> = {}, existing?: { tenant: Tenant; token: string }) {
  const { tenant, token } = existing ?? (await createTenant(api.pool));
  const app = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('app'), ...fields } })).body;
  const pairing = (await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token })).body;
  const client = new MtlsClient(await connect(pairing.connectorUrl, pairing.token));
  return { tenant, adminToken: token, app, client };
}

/** A local HTTP server whose answers a test scripts; it records every request with its raw body. */
type Answer = number | { status: number; body: string };
export async function receiver(answer: (req: http.IncomingMessage, body: string) => Answer | Promise<Answer> = () => 200) {
  const requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      void Promise.resolve(answer(req, body)).then((result) => {
        const { status, body: text } = typeof result === 'number' ? { status: result, body: '' } : result;
        res.writeHead(status).end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The MeridianStage values a workflow upserted, in order: its stages as the Temporal UI shows them. */
export async function stagesOf(handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> }): Promise<string[]> {
  return stageTimeline(await handle.fetchHistory(), { upsertsOnly: true }).map((entry) => entry.stage);
}

/**
 * A time-skipping environment with a worker on `taskQueue` running every management-plane workflow
 * and the real activities (against the run's PostgreSQL), replaceable through `overrides`.
 */
export async function timeSkippingWorker(taskQueue: string, pool: pg.Pool, overrides: (env: TestWorkflowEnvironment) => Partial<ActivityDeps> = () => ({})) {
  const env = await timeSkipping();
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(testActivityDeps(pool, env.client, overrides(env))),
  });
  const running = worker.run();
  return {
    env,
    async stop() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

/** A new, empty database on the run's server, so migrations start from nothing. */
export async function emptyDatabase(): Promise<string> {
  const name = uniqueName('db').replace('-', '_');
  const admin = new pg.Client({ connectionString: inject('databaseUrl') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(inject('databaseUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

/** Every log entry of this test process's Temporal workers so far, as text (see setup/runtime.ts). */
export function workerLog(): string {
  const entries = (globalThis as { __meridianWorkerLog?: Array<{ level: string; message: string; meta?: unknown }> }).__meridianWorkerLog ?? [];
  return entries.map((e) => `${e.level} ${e.message} ${JSON.stringify(e.meta ?? {}, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`).join('\n');
}

/** A provider without capacity: a provisioning that runs fails (and is compensated), deprovisioning succeeds. */
export const fullProvider: RuntimeProvider = {
  taskQueue: () => 'nobody-polls-this',
  provision: async () => {
    throw ApplicationFailure.nonRetryable('no capacity left in this test', 'ProviderFailed');
  },
  inject: async () => undefined,
  status: async () => 'RUNNING',
  deprovision: async () => undefined,
};
