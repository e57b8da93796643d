// F3 (issue #13): the standalone management-plane worker killed with SIGKILL while pairings and
// provisionings run; a new worker process, started while Temporal is still out of its reach, waits for
// it, then finishes every one of them, and nothing is done twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { connect, type Credentials } from '../client/connector.js';
import { freePort } from '../dev/local-stack.js';
import { keyFile } from '../trust/encryption.js';
import { startRuntimeHost } from '../runtime/host.js';
import { workflowId } from '../workflows/ids.js';
import { call, createTenant, startTestApi, tempDir, testKeyring, uniqueName, type TestApi } from './helpers.js';

const WORKER_MAIN = fileURLToPath(new URL('../worker/main.ts', import.meta.url));
const PAIRINGS = 4;
const PROVISIONINGS = 4;

/** A `node worker/main.ts` process on the test API's task queue, with the run's CA and keyring. */
class WorkerProcess {
  readonly child: ChildProcess;
  output = '';
  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once the worker polls its task queue ("worker running"); fails when it exits first. */
  async ready(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes('"msg":"worker running"')) {
      if (!this.running) throw new Error(`worker exited early:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`worker not running after ${timeoutMs} ms:\n${this.output}`);
      await sleep(200);
    }
  }

  /** Sends `signal` and waits (bounded) for the exit; SIGKILL when it does not go. */
  async stop(signal: NodeJS.Signals, timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    if (await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)])) return;
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** A TCP relay to the run's Temporal frontend that can be cut (connections dropped, port refusing) and restored. */
class Relay {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => (socket === client ? upstream : client).destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('a standalone worker killed with SIGKILL', () => {
  let api: TestApi;
  let connection: NativeConnection;
  let host: Awaited<ReturnType<typeof startRuntimeHost>>;
  const workers: WorkerProcess[] = [];
  const runtimeIds: string[] = [];
  const dataDir = tempDir('worker-kill');
  let env: Record<string, string>;
  let relay: Relay;

  beforeAll(async () => {
    api = await startTestApi(); // no in-process worker: the API starts workflows on api.taskQueue for ours
    const caDir = inject('caDir');
    testKeyring(); // makes sure the run's key file exists
    fs.copyFileSync(keyFile(caDir), keyFile(dataDir));
    const [temporalHost, temporalPort] = inject('temporalAddress').split(':');
    relay = new Relay(await freePort(), { host: temporalHost!, port: Number(temporalPort) });
    await relay.open();
    env = {
      DATABASE_URL: inject('databaseUrl'),
      // The workers reach Temporal through the relay, so the test can take it out of their reach.
      TEMPORAL_ADDRESS: relay.address,
      MERIDIAN_TASK_QUEUE: api.taskQueue,
      MERIDIAN_DATA_DIR: dataDir,
      MERIDIAN_WORKER_METRICS_PORT: '0',
      // The run's database and Temporal are shared by every test file: no namespace-wide reconciler here.
      MERIDIAN_RECONCILER: 'false',
      MERIDIAN_CA_CERT_FILE: path.join(caDir, 'ca.crt'),
      MERIDIAN_CA_KEY_FILE: path.join(caDir, 'ca.key'),
      MERIDIAN_PUBLIC_URL: api.url,
      LOG_LEVEL: 'info',
    };
    // The simulated runtimes' agents: a runtime host on the simulated provider's queue, in this process,
    // over the same folder the worker's provider writes to. It is not the target of the kill.
    connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    host = await startRuntimeHost({ connection, namespace: 'default', root: path.join(dataDir, 'simulated') });
  }, 120_000);

  afterAll(async () => {
    for (const worker of workers) await worker.stop('SIGINT');
    for (const id of runtimeIds) await api.temporal.workflow.getHandle(workflowId.agent(id)).terminate('test over').catch(() => undefined);
    await host?.stop();
    await connection?.close();
    await api?.stop();
    await relay?.cut();
  }, 120_000);

  it('lets a new worker process finish every pairing and provisioning it was running, each once', async () => {
    onTestFailed(() => workers.forEach((worker, i) => console.log(`worker ${i + 1} output (last 6000 characters):\n${worker.output.slice(-6000)}`)));
    const first = new WorkerProcess(env);
    workers.push(first);
    await first.ready();

    const { token } = await createTenant(api.pool);
    const apps = await Promise.all(
      Array.from({ length: PAIRINGS }, async () => (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('app') } })).body.id as string),
    );
    const pairings = await Promise.all(
      apps.map(async (id) => {
        const res = await call(`${api.url}/v1/applications/${id}/pairing`, { method: 'POST', token });
        expect(res.status, res.text).toBe(201);
        return res.body as { token: string; connectorUrl: string; operationId: string };
      }),
    );
    const runtimes = await Promise.all(
      Array.from({ length: PROVISIONINGS }, async () => {
        const res = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated' } });
        expect(res.status, res.text).toBe(202);
        runtimeIds.push(res.body.runtime.id);
        return { id: res.body.runtime.id as string, operationId: res.body.operation.id as string };
      }),
    );
    // The applications' side of the pairings, under way while the worker dies.
    const connecting = pairings.map((p) => connect(p.connectorUrl, p.token).then((credentials): Credentials | Error => credentials, (error: Error) => error));
    const operationIds = [...pairings.map((p) => p.operationId), ...runtimes.map((r) => r.operationId)];
    const states = async () =>
      Promise.all(operationIds.map(async (id) => (await call(`${api.url}/v1/operations/${id}`, { token })).body.state as string));

    // Mid-way: the worker has begun (the pairings left MARKING_PAIRING) but not finished.
    await expect
      .poll(async () => (await call(`${api.url}/v1/operations/${pairings[0]!.operationId}`, { token })).body.stage, { timeout: 30_000, interval: 100 })
      .not.toBe('MARKING_PAIRING');
    await first.stop('SIGKILL');
    expect(first.child.signalCode).toBe('SIGKILL');
    const atKill = await states();
    expect(atKill.filter((state) => state === 'IN_PROGRESS').length, `states at the kill: ${atKill}`).toBeGreaterThan(0);

    // Its replacement starts while Temporal is out of reach (as when both restart together): it waits.
    await relay.cut();
    const second = new WorkerProcess(env);
    workers.push(second);
    const deadline = Date.now() + 60_000;
    while (!/not reachable; retrying/.test(second.output)) {
      expect(second.running, `the new worker exited while Temporal was out of reach:\n${second.output}`).toBe(true);
      expect(Date.now(), `the new worker did not say it waits for Temporal:\n${second.output}`).toBeLessThan(deadline);
      await sleep(200);
    }
    await sleep(2_000);
    expect(second.running, second.output).toBe(true);
    await relay.open();
    await second.ready();

    const credentials = await Promise.race([Promise.all(connecting), sleep(120_000).then(() => 'timed out' as const)]);
    expect(credentials).not.toBe('timed out');
    for (const result of credentials as Array<Credentials | Error>) expect(result, String(result)).not.toBeInstanceOf(Error);
    await expect.poll(states, { timeout: 120_000, interval: 1_000 }).toEqual(operationIds.map(() => 'SUCCEEDED'));

    // Nothing twice: one operation per object, each object CONNECTED, one certificate per application
    // (the one its client holds) and per runtime.
    const { rows: operations } = await api.pool.query('SELECT resource_id, type, state FROM operations WHERE resource_id = ANY($1) ORDER BY resource_id', [[...apps, ...runtimeIds]]);
    expect(operations).toHaveLength(PAIRINGS + PROVISIONINGS);
    for (const id of apps) expect((await call(`${api.url}/v1/applications/${id}`, { token })).body.status.condition).toBe('CONNECTED');
    for (const { id } of runtimes) expect((await call(`${api.url}/v1/runtimes/${id}`, { token })).body.status.condition).toBe('CONNECTED');
    const { rows: certificates } = await api.pool.query('SELECT object_id, count(*)::int AS n FROM certificates WHERE object_id = ANY($1) GROUP BY object_id', [[...apps, ...runtimeIds]]);
    expect(Object.fromEntries(certificates.map((row) => [row.object_id, row.n]))).toEqual(Object.fromEntries([...apps, ...runtimeIds].map((id) => [id, 1])));
    const serial = (hex: string) => hex.toLowerCase().replace(/^0+/, '');
    for (const [i, id] of apps.entries()) {
      const { rows } = await api.pool.query('SELECT serial FROM certificates WHERE object_id = $1', [id]);
      expect(serial(rows[0].serial)).toBe(serial(new X509Certificate((credentials as Credentials[])[i]!.certificate).serialNumber));
    }
    for (const id of runtimeIds) {
      expect((await api.temporal.workflow.getHandle(workflowId.agent(id)).describe()).status.name).toBe('RUNNING');
    }
  }, 300_000);
});
