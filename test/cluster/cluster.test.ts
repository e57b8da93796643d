// `npm run test:cluster`: Meridian in its production shape (`npm run cluster`: a Temporal server on
// PostgreSQL, two API replicas, two workers, the runtime host) and what it must survive there.
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest, untilFinished } from '../../client/admin.js';
import { MtlsClient, connect } from '../../client/connector.js';
import { playStory } from '../../demo/story.js';
import { ensureTemporalTools } from '../../dev/tools.js';
import { temporalAdminEnv } from '../../dev/cluster.js';
import { ClusterStack } from '../../dev/cluster-stack.js';

const cluster = new ClusterStack();
let publicProxy: RoundRobin;

beforeAll(async () => {
  publicProxy = await RoundRobin.start();
  const ms = await cluster.start({ MERIDIAN_PUBLIC_URL: publicProxy.url });
  publicProxy.targets = [cluster.api(1), cluster.api(2)];
  console.log(`[cluster] ready in ${(ms / 1000).toFixed(1)} s`);
}, 900_000);

afterAll(async () => {
  const code = await cluster.stop();
  await publicProxy?.close();
  expect(code).toBe(0);
}, 120_000);

const admin = (replica: 1 | 2, method: string, path: string, body?: unknown) => adminRequest(cluster.api(replica), cluster.adminToken, method, path, body);
const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

/** An application created and paired through `replica`; its mTLS client talks to `mtlsReplica`. */
async function pairedApplication(replica: 1 | 2, mtlsReplica: 1 | 2 = replica): Promise<{ id: string; client: MtlsClient }> {
  const app = await admin(replica, 'POST', '/v1/applications', { name: unique('app') });
  expect(app.status).toBe(201);
  const pairing = await admin(replica, 'POST', `/v1/applications/${app.body.id}/pairing`);
  expect(pairing.status).toBe(201);
  const credentials = await connect(pairing.body.connectorUrl, pairing.body.token);
  const done = await untilFinished(cluster.api(replica), cluster.adminToken, pairing.body.operationId, { timeoutMs: 120_000 });
  expect(done.state).toBe('SUCCEEDED');
  return { id: app.body.id, client: new MtlsClient({ ...credentials, mtlsBaseUrl: cluster.mtls(mtlsReplica) }) };
}

/** A simulated runtime requested through `replica`; resolves with its id and operation id. */
async function requestRuntime(replica: 1 | 2): Promise<{ runtimeId: string; operationId: string }> {
  const created = await admin(replica, 'POST', '/v1/runtimes', { name: unique('rt'), provider: 'simulated', pollIntervalSeconds: 600 });
  expect(created.status).toBe(202);
  return { runtimeId: created.body.runtime.id, operationId: created.body.operation.id };
}

describe('npm run cluster', () => {
  it('plays the demo story end to end with every admin request alternating between replica 1 and replica 2', async () => {
    const steps = await playStory({ url: publicProxy.url, adminToken: cluster.adminToken, ui: `http://localhost:${cluster.ports.ui}`, print: () => undefined });
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(publicProxy.served[0]).toBeGreaterThan(10);
    expect(publicProxy.served[1]).toBeGreaterThan(10);
    expect(Math.abs(publicProxy.served[0]! - publicProxy.served[1]!)).toBeLessThanOrEqual(1);
  }, 300_000);

  it('refuses on replica 2 within 1 s a certificate revoked through replica 1', async () => {
    const { id, client } = await pairedApplication(1, 2);
    try {
      expect((await client.request('GET', '/v1/application')).status).toBe(200);
      const certificates = await admin(1, 'GET', `/v1/applications/${id}/certificates`);
      const serial = certificates.body.items[0].serial as string;
      const revoked = await admin(1, 'POST', `/v1/applications/${id}/certificates/${serial}/revocation`, { reason: 'cluster test' });
      expect(revoked.status).toBe(204);
      const at = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - at < 5_000) {
        status = (await client.request('GET', '/v1/application')).status;
        if (status === 200) await sleep(20);
      }
      const took = Date.now() - at;
      expect(status).toBe(401);
      expect(took).toBeLessThanOrEqual(1_000);
    } finally {
      client.close();
    }
  });

  it('finishes 10 provisionings and 10 pairings on the other worker when one worker is killed with SIGKILL', async () => {
    const runtimes = await Promise.all(Array.from({ length: 10 }, (_, i) => requestRuntime(((i % 2) + 1) as 1 | 2)));
    // Settled at once, so that a failure waits for the assertion below instead of going unhandled.
    const pairings = Promise.all(Array.from({ length: 10 }, (_, i) => pairedApplication(((i % 2) + 1) as 1 | 2))).then(
      (apps) => ({ apps }),
      (error: unknown) => ({ error }),
    );
    await sleep(500);
    const killed = await cluster.kill('worker-1');
    const paired = await pairings;
    if ('error' in paired) throw paired.error;
    const { apps } = paired;
    const finished = await Promise.all(runtimes.map((r) => untilFinished(cluster.api(2), cluster.adminToken, r.operationId, { timeoutMs: 240_000 })));
    expect(finished.map((op) => op.state)).toEqual(Array(10).fill('SUCCEEDED'));
    for (const { id } of apps) expect((await admin(2, 'GET', `/v1/applications/${id}`)).body.status.condition).toBe('CONNECTED');
    for (const { client } of apps) client.close();
    // The cluster starts the killed worker again, as compose's restart policy does.
    await cluster.restarted('worker-1', killed);
  }, 300_000);

  it('keeps serving on replica 2 while replica 1 is killed with SIGKILL, and brings replica 1 back', async () => {
    const killed = await cluster.kill('api-1');
    const refused = await fetch(`${cluster.api(1)}/readyz`).then(() => false, () => true);
    expect(refused).toBe(true);
    for (let i = 0; i < 20; i++) expect((await admin(2, 'GET', '/v1/applications?limit=5')).status).toBe(200);
    const created = await admin(2, 'POST', '/v1/applications', { name: unique('while-down') });
    expect(created.status).toBe(201);
    await cluster.restarted('api-1', killed);
    await expect.poll(async () => (await admin(1, 'GET', `/v1/applications/${created.body.id}`)).status, { timeout: 60_000 }).toBe(200);
  }, 180_000);

  it('finishes in-flight flows when the Temporal server is stopped and started', async () => {
    const runtimes = await Promise.all(Array.from({ length: 5 }, (_, i) => requestRuntime(((i % 2) + 1) as 1 | 2)));
    const killed = await cluster.kill('temporal');
    const states = await Promise.all(runtimes.map(async (r) => (await admin(1, 'GET', `/v1/operations/${r.operationId}`)).body.state));
    expect(states).toContain('IN_PROGRESS');
    // While Temporal is down the API answers 503 with Retry-After for what needs it, and stays up.
    const down = await admin(1, 'POST', '/v1/runtimes', { name: unique('rt'), provider: 'simulated' });
    expect([503, 202]).toContain(down.status);
    await cluster.restarted('temporal', killed);
    const finished = await Promise.all(runtimes.map((r) => untilFinished(cluster.api(1), cluster.adminToken, r.operationId, { timeoutMs: 240_000 })));
    expect(finished.map((op) => op.state)).toEqual(Array(5).fill('SUCCEEDED'));
  }, 360_000);

  it('answers workflow list queries by MeridianRuntimeId from the SQL visibility store', async () => {
    const { runtimeId, operationId } = await requestRuntime(2);
    expect((await untilFinished(cluster.api(2), cluster.adminToken, operationId, { timeoutMs: 120_000 })).state).toBe('SUCCEEDED');
    const cli = ensureTemporalTools().cli!;
    const list = () => {
      const result = spawnSync(cli, ['workflow', 'list', '--namespace', 'default', '--query', `MeridianRuntimeId="${runtimeId}"`, '--output', 'json'], {
        env: { ...process.env, ...temporalAdminEnv(cluster.layout, cluster.ports) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as Array<{ execution: { workflowId: string } }>).map((w) => w.execution.workflowId);
    };
    await expect.poll(list, { timeout: 30_000 }).toEqual(expect.arrayContaining([`provisioning:${runtimeId}`, `agent:${runtimeId}`]));
    // The rows the answer came from: Temporal's visibility database on PostgreSQL.
    const db = new pg.Client({ connectionString: cluster.databaseUrl('temporal_visibility') });
    await db.connect();
    try {
      const { rows } = await db.query<{ workflow_id: string }>('SELECT workflow_id FROM executions_visibility WHERE workflow_id = ANY($1)', [
        [`provisioning:${runtimeId}`, `agent:${runtimeId}`],
      ]);
      expect(rows.map((r) => r.workflow_id).sort()).toEqual([`agent:${runtimeId}`, `provisioning:${runtimeId}`]);
    } finally {
      await db.end();
    }
  });
});

/** A load balancer in front of the API replicas: each request goes to the next replica in turn. */
class RoundRobin {
  targets: string[] = [];
  readonly served: number[] = [0, 0];
  private next = 0;
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<RoundRobin> {
    const server = http.createServer((req, res) => {
      const i = proxy.next++ % proxy.targets.length;
      proxy.served[i] = (proxy.served[i] ?? 0) + 1;
      const target = new URL(req.url ?? '/', proxy.targets[i]);
      const upstream = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const proxy = new RoundRobin(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
