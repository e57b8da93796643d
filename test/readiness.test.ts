import path from 'node:path';
import { Client, Connection, ServiceError } from '@temporalio/client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isUnavailable } from '../api/problems.js';
import { startApi, type RunningApi } from '../api/server.js';
import { startDevServer, type DevServer } from '../dev/devserver.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../dev/embedded-postgres.js';
import { ensureTemporalTools } from '../dev/tools.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { freePort } from '../dev/local-stack.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { CapturedLog, call, startTestApi, tempDir, testCa, testKeyring, testRegistration, uniqueName, type TestApi } from './helpers.js';

describe('readiness follows PostgreSQL', () => {
  let postgres: EmbeddedPostgres;
  let api: TestApi;
  let dir: string;
  let port: number;

  beforeAll(async () => {
    dir = path.join(tempDir('readiness'), 'pg');
    port = await freePort();
    postgres = await startEmbeddedPostgres({ dir, port });
    const pool = createPool(postgres.url);
    await migrate(pool);
    await pool.end();
    api = await startTestApi({ databaseUrl: postgres.url });
  });
  afterAll(async () => {
    await api.stop();
    await postgres.stop();
  });

  it('turns 503 naming PostgreSQL when it stops, and 200 again when it is back', async () => {
    expect((await call(`${api.url}/readyz`)).status).toBe(200);

    await postgres.stop();
    const down = await call(`${api.url}/readyz`);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unavailable');
    // A generic answer; the reason (which can name hosts and ports) only in the log.
    expect(down.body.checks).toEqual({ postgres: 'unavailable', temporal: 'ok' });
    expect(down.text).not.toContain(String(port));
    const logged = api.log.lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'not ready: a dependency is unavailable');
    expect(logged).toMatchObject({ level: 40, checks: { postgres: expect.any(String) } });
    expect(logged.checks.temporal).toBeUndefined();

    postgres = await startEmbeddedPostgres({ dir, port });
    const up = await call(`${api.url}/readyz`);
    expect(up.status).toBe(200);
    expect(up.body.checks).toEqual({ postgres: 'ok', temporal: 'ok' });
    // The SDK's retry interceptor retries a call made while the server was down on a timer; a retry that
    // fires after the connection is closed throws "Channel has been shut down" from that timer. The probe's
    // deadline ends such chains within ~3.5 s: let them end before afterAll closes the connection.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
  });
});

/** `/readyz` until it answers `status`, for at most `ms` (a gRPC channel reconnects with a backoff). */
async function readinessBecomes(url: string, status: number, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await call(`${url}/readyz`);
    if (res.status === status || Date.now() > deadline) return res;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('readiness follows Temporal', () => {
  let temporal: DevServer;
  let port: number;
  let connection: Connection;
  let pool: pg.Pool;
  let api: RunningApi;
  const log = new CapturedLog();

  beforeAll(async () => {
    const { cli } = ensureTemporalTools();
    if (!cli) throw new Error('the Temporal CLI is missing');
    port = await freePort();
    temporal = await startDevServer({ cli, port });
    connection = await Connection.connect({ address: temporal.address });
    const logger = createLogger('info', log);
    pool = createPool(inject('databaseUrl'), logger, 2);
    const config = loadConfig({});
    api = await startApi(
      {
        pool,
        temporal: new Client({ connection }),
        logger,
        metrics: createMetrics(),
        ca: testCa(),
        keyring: testKeyring(),
        connector: config.connector,
        registration: testRegistration(),
        provisioning: config.provisioning,
        taskQueue: uniqueName('readiness'),
        configHints: false,
      },
      { host: '127.0.0.1', port: 0, mtlsPort: 0, tlsHostnames: ['localhost', '127.0.0.1'] },
    );
  });
  afterAll(async () => {
    await api?.stop();
    await connection?.close();
    await pool?.end();
    await temporal?.stop();
  });

  it('turns 503 naming Temporal when it stops, and 200 again when it is back, without a restart', async () => {
    expect((await call(`${api.http.url}/readyz`)).status).toBe(200);

    await temporal.stop();
    const started = Date.now();
    const down = await call(`${api.http.url}/readyz`);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unavailable');
    expect(down.body.checks).toEqual({ postgres: 'ok', temporal: 'unavailable' });
    expect(down.text).not.toContain(String(port));
    const logged = log.lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'not ready: a dependency is unavailable');
    expect(logged).toMatchObject({ level: 40, checks: { temporal: expect.any(String) } });
    expect((await call(`${api.http.url}/healthz`)).status).toBe(200);
    // What the client throws for a call while the server is down counts as unavailable (→ 503 problems).
    const client = new Client({ connection });
    const failure = await connection
      .withDeadline(Date.now() + 1_000, () => client.workflow.start('nothing', { workflowId: uniqueName('wf'), taskQueue: 'nowhere' }))
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(isUnavailable(failure)).toBe(true);

    const { cli } = ensureTemporalTools();
    temporal = await startDevServer({ cli: cli!, port });
    const up = await readinessBecomes(api.http.url, 200, 30_000);
    expect(up.status).toBe(200);
    expect(up.body.checks).toEqual({ postgres: 'ok', temporal: 'ok' });
    // The SDK's retry interceptor retries a call made while the server was down on a timer; a retry that
    // fires after the connection is closed throws "Channel has been shut down" from that timer. The probe's
    // deadline ends such chains within ~3.5 s: let them end before afterAll closes the connection.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
  });
});

describe('a Temporal call cut by the request deadline', () => {
  it('is "unavailable" (503, retry) also when it ended CANCELLED: a workflow result still awaited at the deadline', () => {
    // The error a certificate request's `execute` ended with under load, as the client builds it.
    const cancelled = Object.assign(new Error('1 CANCELLED: Call cancelled'), { code: 1, details: 'Call cancelled', metadata: {} });
    const failure = new ServiceError('Failed to get Workflow execution history', { cause: cancelled });
    expect(isUnavailable(failure)).toBe(true);
    expect(isUnavailable(new ServiceError('Failed to start Workflow', { cause: Object.assign(new Error('3 INVALID_ARGUMENT: bad'), { code: 3, details: 'bad', metadata: {} }) }))).toBe(false);
  });
});
