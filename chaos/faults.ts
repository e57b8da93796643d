// The faults of issue #13, each against a running stack: traffic starts, the fault is injected, the
// injection ends, and the row says what happened to every flow and every process.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import pg from 'pg';
import { adminRequest, untilFinished } from '../client/admin.js';
import { MtlsClient, connect, newKey } from '../client/connector.js';
import { embeddedUrl } from '../dev/embedded-postgres.js';
import { LocalStack, stackEnv } from '../dev/local-stack.js';
import { readJson, runtimeFiles, type GatewayFile } from '../runtime/files.js';
import { MALFORMED, PLAIN_TO_TLS, ZERO, foreignClientCertificate, send, type Listener, type Result } from './malformed.js';
import { evidenceOf, processesUsing, reap, withDb, type Exit, type Stack, type Target } from './stack.js';
import type { Row } from './table.js';
import { Traffic, createApplication, pairApplication, provisionRuntime, registerApi, type Outcome } from './traffic.js';

/** How long acknowledged work may take to finish once the injection ended. */
export const RECOVERY_MS = Number(process.env.CHAOS_RECOVERY_SECONDS ?? 120) * 1000;

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** "3× line (a, b, c)" for each distinct line (ids blanked), most frequent first, with up to 3 examples. */
function grouped(items: Array<{ line: string; example?: string }>, limit = 6): string[] {
  const groups = new Map<string, { n: number; examples: string[] }>();
  for (const { line, example } of items) {
    const key = line.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>');
    const group = groups.get(key) ?? groups.set(key, { n: 0, examples: [] }).get(key)!;
    group.n++;
    if (example) group.examples.push(example);
  }
  const examples = (list: string[]) => (list.length ? ` (${list.slice(0, 3).join(', ')}${list.length > 3 ? ', …' : ''})` : '');
  return [...groups]
    .sort((a, b) => b[1].n - a[1].n)
    .slice(0, limit)
    .map(([line, group]) => `${group.n}× ${line}${examples(group.examples)}`);
}

const exitEvidence = (exits: Exit[]) => exits.flatMap((e) => [`${e.name} exited (${e.how})`, ...e.evidence.map((line) => `    ${line}`)]);

/** "at the injection: 12 operations IN_PROGRESS": evidence that the fault met work in flight. */
async function inFlight(target: Target, since: number): Promise<string> {
  const n = await withDb(target.databaseUrl, async (db) => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM operations WHERE state = 'IN_PROGRESS' AND started_at >= $1", [new Date(since)])).rows[0]!.n);
  return `at the injection: ${n} operations of this fault IN_PROGRESS`;
}

/**
 * Operations started since `since` that are IN_PROGRESS with no running workflow to finish them: stuck
 * (a pairing waiting for its client is not: its workflow runs until the token expires). Asked again
 * until there are none or the deadline passed, so that a reconciler gets its chance.
 */
async function stuckOperations(target: Target, since: number, deadline: number): Promise<string[]> {
  const connection = await Connection.connect({ address: target.temporalAddress });
  const client = new Client({ connection });
  try {
    for (;;) {
      const inProgress = await withDb(target.databaseUrl, async (db) =>
        (
          await db.query<{ id: string; type: string; stage: string; workflow_id: string | null }>(
            "SELECT id, type, stage, workflow_id FROM operations WHERE state = 'IN_PROGRESS' AND started_at >= $1",
            [new Date(since)],
          )
        ).rows,
      );
      const stuck: string[] = [];
      for (const op of inProgress) {
        const status = op.workflow_id
          ? await client.workflow
              .getHandle(op.workflow_id)
              .describe()
              .then((d) => d.status.name, (error: Error) => (error instanceof WorkflowNotFoundError ? 'NOT FOUND' : `unknown (${error.message})`))
          : 'no workflow id';
        if (status !== 'RUNNING') stuck.push(`stuck: ${op.type} operation at ${op.stage}, workflow ${status}`);
      }
      if (stuck.length === 0 || Date.now() > deadline) return stuck;
      await sleep(2_000);
    }
  } finally {
    await connection.close();
  }
}

/** Ends the injection, heals what died, waits for readiness and for every flow, and makes the row. */
async function finish(stack: Stack, traffic: Traffic, head: Pick<Row, 'fault' | 'injected' | 'what'>, since: number, injectionEnd: number, note?: string): Promise<Row> {
  traffic.deadline = injectionEnd + RECOVERY_MS;
  await stack.heal();
  const readyAt = await stack.untilReady(traffic.deadline);
  await traffic.settled();
  await traffic.verify();
  const stuck = await stuckOperations(stack, since, traffic.deadline);
  const row = rowOf(traffic, head, stack.takeExits(), injectionEnd, stuck, readyAt);
  if (note) row.evidence.push(note);
  return row;
}

function rowOf(traffic: Traffic, head: Pick<Row, 'fault' | 'injected' | 'what'>, exits: Exit[] | undefined, injectionEnd: number, stuck: string[], readyAt?: number): Row {
  const of = (outcome: Outcome) => traffic.flows.filter((f) => f.outcome === outcome).map((f) => ({ line: `${outcome}: ${f.detail}`, example: f.name }));
  const lost = traffic.count('lost');
  const lastFinish = Math.max(injectionEnd, ...traffic.flows.map((f) => f.finishedAt));
  return {
    ...head,
    tried: traffic.flows.length,
    completed: traffic.count('completed'),
    refused: traffic.count('refused'),
    unclean: traffic.count('unclean'),
    lost,
    duplicated: traffic.flows.filter((f) => f.duplicated).length,
    stuck: stuck.length,
    exits: exits?.length,
    recoverySeconds: readyAt !== undefined && lost === 0 && stuck.length === 0 ? (Math.max(readyAt, lastFinish) - injectionEnd) / 1000 : undefined,
    evidence: [
      ...exitEvidence(exits ?? []),
      ...grouped(of('lost')),
      ...grouped(of('unclean')),
      ...grouped(traffic.flows.filter((f) => f.duplicated).map((f) => ({ line: `duplicated: ${f.duplicated}`, example: f.name }))),
      ...grouped(stuck.map((line) => ({ line }))),
      ...grouped(of('refused'), 3),
    ],
  };
}

/** A paired application for registrations over mTLS, created before any fault. */
export async function registrar(stack: Stack): Promise<MtlsClient> {
  const app = await adminRequest(stack.url, stack.adminToken, 'POST', '/v1/applications', { name: 'chaos-registrar' });
  if (app.status !== 201) throw new Error(`setup: create application: HTTP ${app.status}`);
  const pairing = await adminRequest(stack.url, stack.adminToken, 'POST', `/v1/applications/${app.body.id}/pairing`);
  if (pairing.status !== 201) throw new Error(`setup: pairing: HTTP ${pairing.status}`);
  return new MtlsClient(await connect(pairing.body.connectorUrl, pairing.body.token));
}

export async function f1(stack: Stack, client: MtlsClient): Promise<Row> {
  const since = Date.now();
  const traffic = new Traffic(stack);
  const maintenance = new URL(stack.databaseUrl);
  maintenance.pathname = '/postgres';
  let terminated = 0;
  const killer = new pg.Client({ connectionString: maintenance.toString() });
  killer.on('error', () => undefined);
  await killer.connect();
  const timer = setInterval(() => {
    killer
      .query<{ n: number }>("SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = 'meridian' AND pid <> pg_backend_pid()")
      .then((r) => (terminated += r.rows[0]?.n ?? 0), () => undefined);
  }, 500);
  const end = Date.now() + 10_000;
  const injection = sleep(10_000).then(() => {
    clearInterval(timer);
    traffic.deadline = Date.now() + RECOVERY_MS; // flows still running must finish by then
  });
  await Promise.all(
    range(8).map(async (w) => {
      for (let i = 0; Date.now() < end; i++) {
        const name = `f1-w${w}-${i}`;
        const kind = (w + i) % 3;
        await traffic.start(name, async (f) => {
          if (kind === 0) await createApplication(f, stack, name);
          else if (kind === 1) await pairApplication(f, stack, await createApplication(f, stack, name));
          else await registerApi(f, client, name);
        });
        if (traffic.flows.find((flow) => flow.name === name)?.outcome !== 'completed') await sleep(250); // a client backs off
      }
    }),
  );
  await injection;
  await killer.end();
  const injected = `every PostgreSQL connection terminated every 0.5 s for 10 s (${terminated} connections)`;
  return finish(stack, traffic, { fault: 'F1', injected, what: 'flows of 8 writers: applications, pairings, registrations' }, since, end);
}

export async function f2(stack: Stack): Promise<Row> {
  const since = Date.now();
  const traffic = new Traffic(stack);
  const provision = (i: number) => void traffic.start(`f2-rt-${i}`, async (f) => void (await provisionRuntime(f, stack, `f2-rt-${i}`)));
  range(20).forEach(provision);
  await sleep(2_000); // acknowledged and in flight
  const note = await inFlight(stack, since);
  await stack.process('postgres').stop();
  const down = Date.now();
  for (const i of range(10, 20)) {
    provision(i);
    await sleep(2_000);
  }
  await sleep(Math.max(0, down + 20_000 - Date.now()));
  const injectionEnd = Date.now();
  await stack.process('postgres').start();
  return finish(stack, traffic, { fault: 'F2', injected: 'PostgreSQL stopped for 20 s, then started', what: 'provisionings (20 in flight, 10 asked for during the outage)' }, since, injectionEnd, note);
}

export async function f3(stack: Stack): Promise<Row> {
  const apps = await Promise.all(range(20).map((i) => adminRequest(stack.url, stack.adminToken, 'POST', '/v1/applications', { name: `f3-app-${i}` })));
  if (apps.some((a) => a.status !== 201)) throw new Error(`setup: create applications: HTTP ${apps.map((a) => a.status).join(',')}`);
  const keys = await Promise.all(range(20).map(() => newKey()));
  const since = Date.now();
  const traffic = new Traffic(stack);
  for (const i of range(20)) {
    void traffic.start(`f3-rt-${i}`, async (f) => void (await provisionRuntime(f, stack, `f3-rt-${i}`)));
    void traffic.start(`f3-pair-${i}`, (f) => pairApplication(f, stack, apps[i]!.body.id, keys[i]));
  }
  await sleep(2_000);
  const note = await inFlight(stack, since);
  stack.process('worker').kill();
  await sleep(5_000);
  const injectionEnd = Date.now();
  await stack.process('worker').start(); // a failed start is recorded as an exit
  return finish(stack, traffic, { fault: 'F3', injected: 'worker killed (SIGKILL), started again 5 s later', what: 'flows: 20 provisionings, 20 pairings' }, since, injectionEnd, note);
}

export async function f4(stack: Stack, client: MtlsClient): Promise<Row> {
  const since = Date.now();
  const traffic = new Traffic(stack);
  const both = (i: number) => {
    void traffic.start(`f4-rt-${i}`, async (f) => void (await provisionRuntime(f, stack, `f4-rt-${i}`)));
    void traffic.start(`f4-api-${i}`, (f) => registerApi(f, client, `f4-api-${i}`));
  };
  range(5).forEach(both);
  await sleep(1_500);
  const note = await inFlight(stack, since);
  await stack.process('temporal').stop();
  const down = Date.now();
  for (const i of range(10, 5)) {
    both(i);
    await sleep(2_000);
  }
  await sleep(Math.max(0, down + 20_000 - Date.now()));
  const injectionEnd = Date.now();
  await stack.process('temporal').start();
  return finish(
    stack,
    traffic,
    { fault: 'F4', injected: 'Temporal server stopped for 20 s, then started', what: 'flows: 15 provisionings, 15 registrations (5 each before, 10 during the outage)' },
    since,
    injectionEnd,
    note,
  );
}

/** F5 on a stack of its own: `npm start`, killed with SIGKILL while provisionings run, then `npm start` again. */
export async function f5(dir: string): Promise<Row> {
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755); // PostgreSQL runs as the postgres user when this runs as root
  const adminToken = `chaos-${'x'.repeat(40)}`;
  const env: Record<string, string> = { ...(await stackEnv(dataDir)), MERIDIAN_ADMIN_TOKEN: adminToken };
  const stack = new LocalStack(env);
  const head = { fault: 'F5', injected: '`npm start` killed (SIGKILL), then `npm start` again', what: 'provisionings in flight' };
  const output = () => evidenceOf(stack.output.split('\n'), 8);
  const empty = { ...head, tried: 0, completed: 0, refused: 0, unclean: 0, lost: 0, duplicated: 0, stuck: 0, evidence: [] as string[] };
  try {
    try {
      await stack.start();
    } catch {
      return { ...empty, broken: '`npm start` did not become ready (before any fault)', evidence: output() };
    }
    const databaseUrl = embeddedUrl(path.join(dataDir, 'postgres'), Number(env.MERIDIAN_PG_PORT));
    const target: Target = { url: stack.url, adminToken, databaseUrl, temporalAddress: env.TEMPORAL_ADDRESS! };
    const traffic = new Traffic(target);
    const since = Date.now();
    for (const i of range(6)) void traffic.start(`f5-rt-${i}`, async (f) => void (await provisionRuntime(f, target, `f5-rt-${i}`)));
    await sleep(2_000); // acknowledged and in flight
    const note = await inFlight(target, since);
    traffic.targetDown = true;
    const child = stack.child!;
    const killed = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await killed;
    const injectionEnd = Date.now();
    traffic.deadline = injectionEnd + RECOVERY_MS;
    let broken: string | undefined;
    let readyAt: number | undefined;
    try {
      await stack.start();
      readyAt = Date.now();
    } catch {
      broken = '`npm start` after kill -9 did not become ready without a manual step';
      traffic.deadline = Date.now();
    }
    traffic.targetDown = false;
    await traffic.settled();
    await traffic.verify().catch((error: Error) => (broken ??= `could not verify in PostgreSQL: ${error.message}`));
    const stuck = broken ? [] : await stuckOperations(target, since, traffic.deadline);
    const row = rowOf(traffic, head, undefined, injectionEnd, stuck, readyAt);
    if (broken) row.evidence.unshift(...output());
    row.evidence.push(note);
    return { ...row, broken };
  } finally {
    const child = stack.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const stopped = await Promise.race([stack.interrupt().then(() => true), sleep(30_000).then(() => false)]);
      if (!stopped) {
        console.error('chaos: F5: `npm start` did not stop within 30 s of Ctrl-C; killing it');
        child.kill('SIGKILL');
      }
    }
    const left = processesUsing(dataDir).length;
    if (left > 0) console.error(`chaos: F5: ${left} process(es) of the stack still ran after it stopped; stopping them`);
    await reap(dir);
  }
}

/** F6: malformed requests against every listener; afterwards each must still answer. */
export async function f6(stack: Stack, total = 1_000): Promise<Row> {
  // A local runtime, for a gateway of its own (a process the worker starts, not this run).
  const created = await adminRequest(stack.url, stack.adminToken, 'POST', '/v1/runtimes', { name: 'f6-local', provider: 'local', pollIntervalSeconds: 600 });
  if (created.status !== 202) throw new Error(`setup: local runtime: HTTP ${created.status}`);
  const op = await untilFinished(stack.url, stack.adminToken, created.body.operation.id, { timeoutMs: 180_000, intervalMs: 500 });
  if (op.state !== 'SUCCEEDED') throw new Error(`setup: local runtime: ${op.state} ${op.message ?? ''}`);
  const files = runtimeFiles(path.join(stack.dataDir, 'runtimes'), created.body.runtime.id);
  const local = readJson<GatewayFile>(files.gateway)!;
  const tenantId = await withDb(stack.databaseUrl, async (db) => (await db.query<{ id: string }>("SELECT id FROM tenants WHERE name = 'default'")).rows[0]!.id);
  const foreign = foreignClientCertificate(ZERO, tenantId);

  const apiRoutes = ['/v1/applications', `/v1/operations/${ZERO}`, '/connector/v1/signing-request', '/connector/v1/certificates', '/v1/application/apis', '/v1/runtime/status'];
  const port = (url: string) => Number(new URL(url).port);
  const listeners: Listener[] = [
    { name: 'public API', port: stack.ports.http, routes: apiRoutes, auth: { Authorization: `Bearer ${stack.adminToken}` } },
    { name: 'mTLS API, no client certificate', port: stack.ports.mtls, tls: {}, routes: apiRoutes },
    { name: 'mTLS API, foreign client certificate', port: stack.ports.mtls, tls: foreign, routes: apiRoutes },
    { name: 'runtime host gateway', port: port(stack.hostGateway), routes: [`/runtimes/${ZERO}/events/x`, `/runtimes/${ZERO}/gateway/a/b/c`, `/runtimes/${ZERO}/applied`] },
    { name: 'local runtime gateway', port: port(local.url), routes: ['/events/x', '/gateway/a/b/c', '/applied'] },
  ];
  const jobs = range(total).map((i) => {
    const listener = listeners[i % listeners.length]!;
    const kinds = listener.tls && !listener.tls.cert ? [...MALFORMED, PLAIN_TO_TLS] : MALFORMED;
    const kind = kinds[Math.floor(i / listeners.length) % kinds.length]!;
    const route = listener.routes[Math.floor(i / (listeners.length * kinds.length)) % listener.routes.length]!;
    return { listener, kind, route };
  });

  const results: Array<{ job: (typeof jobs)[number]; result: Result }> = [];
  let next = 0;
  await Promise.all(
    range(8).map(async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        results.push({ job, result: await send(job.listener, job.kind.build(job.route, job.listener), job.kind === PLAIN_TO_TLS) });
      }
    }),
  );
  const barrageEnd = Date.now();

  const localAlive = (() => {
    try {
      process.kill(local.pid, 0);
      return true;
    } catch {
      return false;
    }
  })();
  const exits = stack.takeExits();
  if (!localAlive) exits.push({ name: 'local runtime', at: Date.now(), how: 'gone', evidence: evidenceOf(fs.readFileSync(files.log, 'utf8').split('\n')) });
  await stack.heal();
  const readyAt = await stack.untilReady(barrageEnd + RECOVERY_MS);
  const gatewaysAnswer = await Promise.all(
    [`${stack.hostGateway}/runtimes/${ZERO}/applied`, `${local.url}/applied`].map((url) => fetch(url).then((r) => r.status === 200, () => false)),
  );

  const unclean = results.filter(({ job, result }) => ('status' in result ? result.status >= 500 && result.status !== 503 : 'error' in result || !job.kind.mayClose));
  const describe = ({ job, result }: (typeof results)[number]) =>
    `${job.listener.name}: ${job.kind.label} (${job.route}): ${'status' in result ? `HTTP ${result.status}` : 'error' in result ? result.error : 'closed without an answer'}`;
  const evidence = [...exitEvidence(exits), ...grouped(unclean.map((r) => ({ line: `unclean: ${describe(r)}` })), 12)];
  if (!gatewaysAnswer.every(Boolean)) evidence.push(`after the barrage a gateway does not answer: runtime host ${gatewaysAnswer[0]}, local runtime ${gatewaysAnswer[1]}`);
  const refusedOrClosed = results.filter(({ result }) => ('status' in result ? result.status >= 400 && (result.status < 500 || result.status === 503) : false)).length;
  const closed = results.filter(({ job, result }) => 'closed' in result && job.kind.mayClose).length;
  return {
    fault: 'F6',
    injected: 'malformed requests against 5 listeners (public, mTLS none/foreign, runtime host and local runtime gateways)',
    what: `requests of ${MALFORMED.length + 1} kinds`,
    tried: results.length,
    completed: results.filter(({ result }) => 'status' in result && result.status < 400).length,
    refused: refusedOrClosed + closed,
    unclean: unclean.length,
    lost: 0,
    duplicated: 0,
    stuck: 0,
    exits: exits.length,
    recoverySeconds: readyAt !== undefined && gatewaysAnswer.every(Boolean) ? (Math.max(readyAt, barrageEnd) - barrageEnd) / 1000 : undefined,
    evidence,
  };
}
