import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../dev/local-stack.js';
import { call, startTestApi, tempDir, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.stop());

describe('operational endpoints', () => {
  it('answers /healthz while the process is up', async () => {
    const res = await call(`${api.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('reports ready when PostgreSQL and Temporal are reachable', async () => {
    const res = await call(`${api.url}/readyz`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  it('serves Prometheus metrics with the HTTP duration histogram by route and status', async () => {
    await call(`${api.url}/healthz`);
    const res = await call(`${api.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/meridian_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} [1-9]/);
    expect(res.text).toContain('meridian_process_cpu_seconds_total');
  });

  it('serves an OpenAPI 3.1 document listing its own endpoints', async () => {
    const res = await call(`${api.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics', '/openapi.json']));
    expect(res.body.paths['/readyz'].get.responses['503']).toBeDefined();
  });

  it('states the limits it enforces and marks refusals of requests the schemas allow', async () => {
    const { paths } = (await call(`${api.url}/openapi.json`)).body;
    const setLabel = paths['/v1/applications/{id}/labels/{key}'].put;
    expect(setLabel.responses['409']['x-meridian-refusal']).toEqual([expect.stringContaining('64 labels')]);
    const create = paths['/v1/applications'].post;
    expect(create.requestBody.content['application/json'].schema.properties.labels.maxProperties).toBe(64);
    expect(create.responses['400']['x-meridian-refusal']).toEqual([expect.stringContaining('scenario name that does not exist'), expect.stringContaining("breaks its key's definition")]);
    expect(paths['/v1/applications/{id}/scenarios'].put.requestBody.content['application/json'].schema.minItems).toBe(1);
    expect(paths['/v1/runtimes/{id}/scenarios'].put.requestBody.content['application/json'].schema.minItems).toBeUndefined();
    expect(paths['/v1/applications'].get.responses['400']['x-meridian-refusal']).toEqual([expect.stringContaining('cursor')]);
    expect(paths['/v1/applications'].get.responses.default).toBeUndefined();
  });

  it('answers a method a path does not declare with 405 and Allow, OPTIONS with 204 and Allow', async () => {
    const refused = await call(`${api.url}/v1/scenarios`, { method: 'PATCH' });
    expect(refused.status).toBe(405);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.headers.get('allow')).toBe('POST, GET, HEAD, OPTIONS');
    const options = await call(`${api.url}/v1/applications/${crypto.randomUUID()}`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, PATCH, DELETE, HEAD, OPTIONS');
    expect((await call(`${api.url}/healthz`, { method: 'HEAD' })).status).toBe(200);
    expect((await call(`${api.url}/v1/scenarios/x`, { method: 'HEAD' })).status).toBe(405);
    expect((await call(`${api.url}/v1/nothing-here`, { method: 'PATCH' })).status).toBe(404);
  });

  it('echoes a request id and logs every request as JSON with it', async () => {
    const res = await call(`${api.url}/healthz`, { headers: { 'x-request-id': 'req-12345' } });
    expect(res.headers.get('x-request-id')).toBe('req-12345');
    const line = api.log.lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'req-12345');
    expect(line).toMatchObject({ msg: 'request', route: '/healthz', status: 200, method: 'GET' });
  });

  it('replaces a request id that is not a safe token', async () => {
    const res = await call(`${api.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('errors are problem+json', () => {
  const expectProblem = (res: Awaited<ReturnType<typeof call>>, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String), type: expect.any(String) });
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
  };

  it('answers 404 for an unknown route', async () => {
    expectProblem(await call(`${api.url}/v1/nothing-here`), 404);
  });

  it('answers 400 for malformed JSON', async () => {
    const res = await call(`${api.url}/v1/anything`, { rawBody: '{"name": ' });
    expectProblem(res, 400);
    expect(res.body.detail).toBe('the request body is not valid JSON');
  });

  it('answers 415 for a body that is not JSON', async () => {
    expectProblem(await call(`${api.url}/v1/anything`, { rawBody: 'name=x', contentType: 'application/x-www-form-urlencoded' }), 415);
    expectProblem(await call(`${api.url}/v1/anything`, { rawBody: '<a/>', contentType: 'text/xml' }), 415);
  });

  it('answers 413 for a JSON body over 1 MiB', async () => {
    const res = await call(`${api.url}/v1/anything`, { body: { blob: 'x'.repeat(1024 * 1024 + 1) } });
    expectProblem(res, 413);
  });

  it('redacts secrets from log lines', () => {
    api.logger.info({ token: 'tok-secret-value', headers: { authorization: 'Bearer abc-secret' }, nested: { password: 'pw-secret' } }, 'probe');
    expect(api.log.text).not.toMatch(/tok-secret-value|abc-secret|pw-secret/);
    expect(api.log.text).toContain('[redacted]');
  });
});

/** Whether a TCP connection to host:port is accepted. */
const accepts = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port, timeout: 2_000 });
    const done = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });

/** An IPv4 address of this machine that is not loopback, if it has one. */
const externalAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe('the standalone worker', () => {
  it.skipIf(!externalAddress)('serves its metrics on MERIDIAN_HOST only, not on every interface', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const worker = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        MERIDIAN_DATA_DIR: tempDir('worker'),
        MERIDIAN_TASK_QUEUE: uniqueName('metrics-only'),
        MERIDIAN_RECONCILER: 'false',
        MERIDIAN_WORKER_METRICS_PORT: String(port),
        MERIDIAN_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      worker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      worker.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      await expect.poll(() => output, { timeout: 170_000, interval: 250 }).toContain('worker metrics listening');
      const metrics = await fetch(`http://127.0.0.1:${port}/`);
      expect(metrics.status).toBe(200);
      expect(await accepts(externalAddress!, port)).toBe(false);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker.once('exit', resolve));
    }
  });
});
