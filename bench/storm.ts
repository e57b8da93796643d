// `npm run bench -- storm`: the reconnection storm after a restart of the API. BENCH_STORM_RUNTIMES
// (1000) simulated runtimes of the watch design, on a runtime host in this process, all CONNECTED and
// watching through an API process of their own (bench/storm-api.ts); that API is stopped and started
// again on the same ports, once with shedding on (BENCH_STORM_LIMIT requests in flight, the default of
// MERIDIAN_MAX_REQUESTS_IN_FLIGHT unless set) and once with it off, each time measuring until every
// runtime is fresh again or BENCH_STORM_TIMEOUT_SECONDS (300) passed. Loopback only; stops by itself.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { MtlsClient, loadCredentials } from '../client/connector.js';
import { embeddedUrl } from '../dev/embedded-postgres.js';
import { LocalStack, freePort, stackEnv } from '../dev/local-stack.js';
import { DEFAULT_MAX_REQUESTS_IN_FLIGHT } from '../lib/config.js';
import { runtimeFiles } from '../runtime/files.js';
import { printTable } from './report.js';
import { observedHost } from './servers.js';
import { provisionSimulated } from './scale.js';
import { latency, type Figure } from './stats.js';
import type { StormApiMessage, StormRestart } from './storm-api.js';

const STORM_API = fileURLToPath(new URL('./storm-api.ts', import.meta.url));
/** Clients that call the API throughout the recovery, one request at a time each, to measure its latency. */
const PROBES = 4;
const PROBE_PAUSE_MS = 20;

/** What the agents heard since the restart: each answer's status (undefined: the request got no answer) and when. */
type Heard = Array<{ at: number; status?: number }>;

/** A Prometheus value of the storm API's /metrics (never shed); NaN while it does not answer. */
async function metric(url: string, name: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then((res) => res.text(), () => '');
  const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return line ? Number(line[1]) : NaN;
}

interface StormApi {
  child: ChildProcess;
  url: string;
  /** The next stop or start it told of. */
  next(): Promise<StormApiMessage>;
  /** The latest count of runtimes fresh again it told of, and when. */
  fresh: { fresh: number; at: number };
}

/** The storm API process; resolves once it listens. */
async function startStormApi(url: string, env: Record<string, string>): Promise<StormApi> {
  const callerEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(MERIDIAN_|TEMPORAL_|DATABASE_URL$)/.test(name)));
  const child = spawn(process.execPath, ['--import', 'tsx', STORM_API], { env: { ...callerEnv, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const queue: StormApiMessage[] = [];
  let waiting: ((message: StormApiMessage) => void) | undefined;
  const api: StormApi = {
    child,
    url,
    fresh: { fresh: 0, at: NaN },
    next: () =>
      new Promise<StormApiMessage>((resolve, reject) => {
        const queued = queue.shift();
        if (queued) return resolve(queued);
        const timer = setTimeout(() => reject(new Error('the storm API did not answer within 60 s')), 60_000);
        waiting = (message) => {
          clearTimeout(timer);
          resolve(message);
        };
      }),
  };
  child.on('message', (message: StormApiMessage) => {
    if ('fresh' in message) {
      api.fresh = message;
    } else if (waiting) {
      waiting(message);
      waiting = undefined;
    } else {
      queue.push(message);
    }
  });
  const first = await api.next();
  if (!('started' in first)) throw new Error('the storm API did not start');
  return api;
}

/**
 * Restarts the API with `limit` (0: no limit) and measures until every runtime is fresh again: its
 * configuration request read its current, unchanged version on the new API (and is held there: it
 * watches again). Meanwhile {@link PROBES} clients call `GET /v1/runtime/configuration` without an ETag
 * (a full answer) one request at a time.
 */
async function restartAndRecover(
  api: StormApi,
  limit: number,
  probeCredentials: string[],
  count: number,
  heard: Heard,
  timeoutMs: number,
): Promise<Figure[]> {
  const asked = Date.now();
  api.child.send({ restart: limit, runtimes: count } satisfies StormRestart);
  const stopped = await api.next();
  heard.length = 0;
  api.fresh = { fresh: 0, at: NaN };
  const started = await api.next();
  if (!('stopped' in stopped) || !('started' in started)) throw new Error('the storm API restarted out of order');
  const back = started.started;
  let freshAt = NaN;
  const probes = { answered: [] as number[], shed: 0, failed: 0 };
  let recovering = true;
  const probing = probeCredentials.map(async (dir) => {
    const client = new MtlsClient(loadCredentials(dir));
    try {
      while (recovering) {
        const asked = performance.now();
        const res = await client.request('GET', '/v1/runtime/configuration').catch(() => undefined);
        if (!res || res.status >= 500) probes.failed++;
        else if (res.status === 429) probes.shed++;
        else probes.answered.push(performance.now() - asked);
        await sleep(PROBE_PAUSE_MS);
      }
    } finally {
      client.close();
    }
  });
  while (Date.now() - back < timeoutMs) {
    if (api.fresh.fresh >= count) {
      freshAt = api.fresh.at;
      break;
    }
    await sleep(100);
  }
  recovering = false;
  await Promise.all(probing);
  const fresh = api.fresh.fresh;
  const shedTotal = await metric(api.url, 'meridian_http_requests_shed_total');
  const afterBack = heard.filter((event) => event.at >= back);
  const failures = afterBack.filter((event) => event.status === undefined || event.status >= 500).length;
  return [
    { label: 'API restart (stop asked → listening again)', value: (back - asked) / 1000, unit: 's' },
    { label: 'every runtime fresh again, after the API was back', value: (freshAt - back) / 1000, unit: 's' },
    { label: 'runtimes fresh again', value: fresh, unit: '' },
    ...latency('API latency (answered probe requests)', probes.answered, [50, 99]),
    { label: 'probe requests answered', value: probes.answered.length, unit: '' },
    { label: '429s sent by the API (agents and probes)', value: shedTotal, unit: '' },
    { label: '429s the agents got', value: afterBack.filter((event) => event.status === 429).length, unit: '' },
    { label: 'failures after the API was back (5xx, no answer)', value: failures + probes.failed, unit: '' },
  ];
}

export async function storm(): Promise<void> {
  const count = Number(process.env.BENCH_STORM_RUNTIMES ?? 1000);
  const limit = Number(process.env.BENCH_STORM_LIMIT ?? DEFAULT_MAX_REQUESTS_IN_FLIGHT);
  const timeoutMs = Number(process.env.BENCH_STORM_TIMEOUT_SECONDS ?? 300) * 1000;
  console.log(`storm: ${count} simulated runtimes (watch design, 30 s poll interval) reconnecting after a restart of their API, shedding at ${limit} requests in flight, then without a limit`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-storm-'));
  fs.chmodSync(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  const [http, mtls] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${http}`;
  // Token holders are sent to the storm API, which then names its own mTLS listener: the runtimes talk only to it.
  const stack = new LocalStack({ ...(await stackEnv(dataDir)), MERIDIAN_RUNTIME_HOST: 'false', MERIDIAN_AGENT_DESIGN: 'watch', MERIDIAN_PUBLIC_URL: url });
  let api: StormApi | undefined;
  let host: Awaited<ReturnType<typeof observedHost>> | undefined;
  try {
    await stack.start();
    api = await startStormApi(url, {
      ...stack.env,
      DATABASE_URL: embeddedUrl(path.join(dataDir, 'postgres'), Number(stack.env.MERIDIAN_PG_PORT)),
      MERIDIAN_HTTP_PORT: String(http),
      MERIDIAN_MTLS_PORT: String(mtls),
      MERIDIAN_MAX_REQUESTS_IN_FLIGHT: '0',
    });
    const heard: Heard = [];
    host = await observedHost(stack.env.TEMPORAL_ADDRESS!, dataDir, {
      fetched: (_id, status) => void heard.push({ at: Date.now(), status }),
      unanswered: () => void heard.push({ at: Date.now() }),
    });
    const runtimeIds: string[] = [];
    const provisioning = performance.now();
    await provisionSimulated(stack.url, stack.adminToken!, runtimeIds, count, 'storm');
    console.log(`  ${count} runtimes provisioned in ${((performance.now() - provisioning) / 1000).toFixed(0)} s`);
    // Every runtime watching (a held request each), give or take the few between two long polls.
    const watching = performance.now();
    while ((await metric(url, 'meridian_config_requests_held')) < count * 0.99) {
      if (performance.now() - watching > 600_000) throw new Error(`not every runtime watches after 600 s: ${await metric(url, 'meridian_config_requests_held')}/${count}`);
      await sleep(500);
    }
    await sleep(5_000);
    const probeCredentials = runtimeIds.slice(0, PROBES).map((id) => runtimeFiles(path.join(dataDir, 'simulated'), id).credentials);
    const on = await restartAndRecover(api, limit, probeCredentials, count, heard, timeoutMs);
    const off = await restartAndRecover(api, 0, probeCredentials, count, heard, timeoutMs);
    printTable(`restart of the API with ${count} watching runtimes (fresh = its configuration request read on the new API; probes: ${PROBES} clients, one full configuration request at a time)`, [
      { header: `shedding at ${limit}`, figures: on },
      { header: 'no limit', figures: off },
    ]);
  } finally {
    const unhandled = stack.output.split('\n').filter((line) => line.includes('"unhandled error"'));
    if (unhandled.length) console.log(`  ${unhandled.length} unhandled error(s) in the plane's log; the first:\n${unhandled.slice(0, 3).join('\n')}`);
    if (api) {
      const exited = new Promise((resolve) => api!.child.once('exit', resolve));
      api.child.kill('SIGTERM');
      await exited;
    }
    await host?.stop();
    await stack.interrupt();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
