// `npm run bench -- rotation`: a CA rotation under load on the dev-server stack. Hundreds of simulated
// runtimes (watch design, in this process's instrumented runtime host) and tens of paired applications
// call Meridian throughout while `meridian ca rotate` prepares, activates and retires; prints the requests,
// the failed ones (the target is 0), each phase's duration and the applications' latency meanwhile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { rotationById, type RotationRow } from '../db/authorities.js';
import { embeddedUrl } from '../dev/embedded-postgres.js';
import { connect, MtlsClient, retryAfterMs } from '../client/connector.js';
import { runCli } from '../cli/program.js';
import { LocalStack, stackEnv } from '../dev/local-stack.js';
import { printTable } from './report.js';
import { observedHost } from './servers.js';
import { api, untilDone } from './runtimes.js';
import { latency, type Figure } from './stats.js';

const RUNTIMES = Number(process.env.BENCH_ROTATION_RUNTIMES ?? 300);
const APPLICATIONS = Number(process.env.BENCH_ROTATION_APPLICATIONS ?? 20);
/** How long a renewed certificate keeps working here (default 600 s): the retirement waits for it. */
const OVERLAP_SECONDS = Number(process.env.BENCH_ROTATION_OVERLAP_SECONDS ?? 60);
/** Provisionings in flight at once. */
const IN_FLIGHT = 40;
/** The longest a rotation may take here before the benchmark gives up. */
const ROTATION_LIMIT_MS = 10 * 60_000;

/** Counts every request of the load and keeps what failed. */
class Load {
  requests = 0;
  failures: string[] = [];
  latencies: number[] = [];
  answered(what: string, status: number): void {
    this.requests++;
    if (status !== 200 && status !== 304) this.failures.push(`${what}: HTTP ${status}`);
  }
  unanswered(what: string, error: Error): void {
    this.requests++;
    this.failures.push(`${what}: ${error.message}`);
  }
}

/** Runs `meridian <args> --json` against the stack and returns its JSON. */
async function meridian(env: Record<string, string>, args: string[]): Promise<any> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '--json'], { out: (t) => void (out += t), err: (t) => void (err += t), interactive: false }, { ...env, PATH: process.env.PATH });
  if (code !== 0) throw new Error(`meridian ${args.join(' ')}: exit ${code}: ${err}`);
  return JSON.parse(out);
}

/** An application calling its configuration every 100 ms, following the CA rotation as the reference client does. */
function callingApplication(load: Load, first: MtlsClient) {
  let client = first;
  let etag: string | undefined;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const began = performance.now();
      try {
        const res = await client.request('GET', '/v1/application/configuration', undefined, etag ? { 'if-none-match': etag } : {});
        load.latencies.push(performance.now() - began);
        load.answered('application', res.status);
        if (res.status === 200) {
          etag = String(res.headers.etag);
          client = await client.followTrust(res.body);
        }
        // Shed: counted as a failure above, and asked again only after Retry-After, as a client should.
        if (res.status === 429) await sleep(retryAfterMs(res.headers['retry-after']));
      } catch (error) {
        load.unanswered('application', error as Error);
      }
      await sleep(100);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    client.close();
  };
}

export async function caRotationUnderLoad(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-'));
  fs.chmodSync(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  const stack = new LocalStack({ ...(await stackEnv(dataDir)), MERIDIAN_RUNTIME_HOST: 'false', MERIDIAN_AGENT_DESIGN: 'watch', MERIDIAN_RENEWAL_OVERLAP_SECONDS: String(OVERLAP_SECONDS) });
  const load = new Load();
  let host: Awaited<ReturnType<typeof observedHost>> | undefined;
  const stops: Array<() => Promise<void>> = [];
  try {
    console.log(`dev server ready in ${((await stack.start()) / 1000).toFixed(1)} s`);
    const { url, adminToken } = { url: stack.url, adminToken: stack.adminToken! };
    host = await observedHost(stack.env.TEMPORAL_ADDRESS!, dataDir, {
      fetched: (_id, status) => load.answered('runtime', status),
      unanswered: (_id, error) => load.unanswered('runtime', error),
    });

    const began = Date.now();
    for (let made = 0; made < RUNTIMES; made += IN_FLIGHT) {
      await Promise.all(
        Array.from({ length: Math.min(IN_FLIGHT, RUNTIMES - made) }, async (_, i) => {
          const created = await api(url, adminToken, 'POST', '/v1/runtimes', { name: `rot-${made + i}`, provider: 'simulated', pollIntervalSeconds: 30 });
          await untilDone(url, adminToken, created.operation.id, 300_000);
        }),
      );
    }
    console.log(`${RUNTIMES} simulated runtimes CONNECTED in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    for (let i = 0; i < APPLICATIONS; i++) {
      const app = await api(url, adminToken, 'POST', '/v1/applications', { name: `rot-app-${i}` });
      const pairing = await api(url, adminToken, 'POST', `/v1/applications/${app.id}/pairing`);
      stops.push(callingApplication(load, new MtlsClient(await connect(pairing.connectorUrl, pairing.token))));
    }
    await sleep(3_000);
    const before = { requests: load.requests, failures: load.failures.length };
    // The rotation is watched through a connection of its own, patient with a busy machine: watching is not the load.
    const watcher = new pg.Pool({ connectionString: embeddedUrl(path.join(dataDir, 'postgres'), Number(stack.env.MERIDIAN_PG_PORT)), max: 1, connectionTimeoutMillis: 60_000 });
    stops.push(() => watcher.end());

    const started = await meridian(stack.env, ['ca', 'rotate']);
    const rotationId: string = started.rotation.id;
    const deadline = Date.now() + ROTATION_LIMIT_MS;
    let rotation: RotationRow | undefined;
    for (;;) {
      rotation = (await rotationById(watcher, rotationId).catch((error: Error) => void console.log(`rotation not read: ${error.message}`))) ?? rotation;
      if (rotation && rotation.state !== 'IN_PROGRESS') break;
      if (Date.now() > deadline) throw new Error(`the rotation did not finish within ${ROTATION_LIMIT_MS / 60_000} minutes: ${JSON.stringify(rotation)}`);
      await sleep(500);
    }
    // Calls go on for a while through the listener's new certificate.
    await sleep(5_000);
    for (const stop of stops.splice(0)) await stop();
    if (rotation.state !== 'SUCCEEDED') throw new Error(`the rotation ended ${rotation.state}: ${rotation.message}`);

    const finished = rotation;
    const at = (field: 'startedAt' | 'preparedAt' | 'activatedAt' | 'finishedAt') => finished[field]!.getTime();
    const figures: Figure[] = [
      { label: 'requests during the rotation (applications and agents)', value: load.requests - before.requests, unit: '' },
      { label: 'failed requests during the rotation', value: load.failures.length - before.failures, unit: '' },
      { label: 'prepare (new CA made and trusted)', value: (at('preparedAt') - at('startedAt')) / 1000, unit: 's' },
      { label: 'activate (trust propagated, new CA signing)', value: (at('activatedAt') - at('preparedAt')) / 1000, unit: 's' },
      { label: `renew and retire (every holder renewed, then the ${OVERLAP_SECONDS} s overlap)`, value: (at('finishedAt') - at('activatedAt')) / 1000, unit: 's' },
      { label: 'holders renewed under the new CA', value: finished.progress?.renewed ?? NaN, unit: '' },
      ...latency('application configuration call', load.latencies.sort((a, b) => a - b), [50, 99]),
    ];
    printTable(`CA rotation under load: ${RUNTIMES} simulated runtimes (watch), ${APPLICATIONS} applications every 100 ms, renewal overlap ${OVERLAP_SECONDS} s`, [{ header: 'dev server', figures }]);
    if (load.failures.length > before.failures) {
      const kinds = new Map<string, number>();
      for (const failure of load.failures.slice(before.failures)) kinds.set(failure, (kinds.get(failure) ?? 0) + 1);
      console.log(`failures during the rotation, by kind:\n${[...kinds].map(([kind, n]) => `  ${n} × ${kind}`).join('\n')}\n`);
      process.exitCode = 1;
    }
  } finally {
    for (const stop of stops) await stop();
    await host?.stop();
    await stack.interrupt();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
